/* gym — NeMo Gym resources-server handlers (see gym.h).
 *
 * /verify grades a whole verify request (expected_action against the actual
 * action found in response) and echoes the request with "reward" and
 * "category" added (see the /verify section below). /aggregate_metrics
 * returns NeMo Gym's aggregate of verify responses, computed by agg (per task
 * and overall statistics of every numeric column; see agg.h). The handlers
 * share nothing mutable, so they run concurrently.
 */
#include "gym.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agg.h"
#include "pyjson.h"
#include "util.h"
#include "verify.h"

struct gym_env {
    grade_config cfg;
    metrics *m;
};

gym_env *gym_env_new(const grade_config *cfg, metrics *m)
{
    gym_env *env = calloc(1, sizeof *env);
    if (!env)
        return NULL;
    if (cfg)
        env->cfg = *cfg;
    else
        grade_config_default(&env->cfg);
    env->m = m;
    return env;
}

void gym_env_free(gym_env *env)
{
    free(env);
}

/* ---- /verify --------------------------------------------------------------
 * verify_text validates the whole body (as strictly as jansson), builds only
 * response.output and expected_action (the conversation in
 * responses_create_params, usually the bulk, is never materialised), grades
 * them and replies with the request text itself with "reward" and
 * "category" set, so every other field comes back byte for byte. */

void gym_verify(gym_env *env, const wire_request *req, wire_reply *out)
{
    if (!req->body || req->body_len == 0) {
        wire_reply_detail(out, 422, "request body: a JSON object is required");
        return;
    }
    double t0 = util_now_mono();
    util_buf text = {0};
    grade_verdict v;
    char err[512];
    /* the reply is the body and the verdict: sized once, taken without a copy */
    int rc = util_buf_reserve(&text, req->body_len + VERIFY_VERDICT_ROOM) ? VERIFY_NOMEM
             : verify_text(&env->cfg, req->body, req->body_len, VERIFY_COMPACT, &text, &v, err,
                           sizeof err);
    if (rc == VERIFY_OK) {
        metrics_observe_submission(env->m, v.reward, util_now_mono() - t0);
        wire_reply_take(out, 200, WIRE_JSON, text.data, text.len);
        return;
    }
    util_buf_free(&text);
    if (rc == VERIFY_INVALID)
        wire_reply_detail(out, 422, "%s", err);
    else
        wire_reply_detail(out, 500, "out of memory");
}

void gym_seed_session(gym_env *env, const wire_request *req, wire_reply *out)
{
    (void)env;
    if (req->body_len > 0) {    /* a body is optional, but must be an object */
        json_t *body = wire_body_object(req, out);
        if (!body)
            return;
        json_decref(body);
    }
    wire_reply_json(out, 200, json_object());
}

void gym_reverify_mode(gym_env *env, const wire_request *req, wire_reply *out)
{
    (void)env;
    (void)req;
    wire_reply_json(out, 200, json_string("stateless"));
}

/* ---- /aggregate_metrics --------------------------------------------------
 * The body is read with the Python json dialect (pyjson: NeMo Gym's clients
 * write it with json.dumps) and each verify response is handed to agg, which
 * computes what NeMo Gym's compute_aggregate_metrics returns. */

/* Adds the body's verify_responses to ag; -1 after a 422 or 500 reply. */
static int add_responses(agg *ag, const wire_request *req, wire_reply *out)
{
    char first[8192], err[512];
    util_arena arena;
    util_arena_init(&arena, first, sizeof first);
    pj_value body;
    int rc = -1;
    if (!req->body || req->body_len == 0)
        wire_reply_detail(out, 422, "request body: a JSON object is required");
    else if (pj_parse(&arena, req->body, req->body_len, &body, err, sizeof err) != 0)
        wire_reply_detail(out, strstr(err, "out of memory") ? 500 : 422,
                          "request body is not valid JSON: %s", err);
    else if (body.type != PJ_OBJECT)
        wire_reply_detail(out, 422, "request body must be a JSON object");
    else {
        const pj_value *list = pj_object_get(&body, "verify_responses", 16);
        if (!list || list->type != PJ_ARRAY)
            wire_reply_detail(out, 422, list ? "verify_responses: must be a list"
                                             : "verify_responses: field required");
        else
            rc = 0;
        for (size_t i = 0; rc == 0 && i < list->u.arr.n; i++) {
            int arc = agg_add_value(ag, &list->u.arr.items[i], err, sizeof err);
            if (arc != 0) {
                wire_reply_detail(out, arc == AGG_NOMEM ? 500 : 422, "verify_responses[%zu]: %s", i,
                                  err);
                rc = -1;
            }
        }
    }
    util_arena_free(&arena);
    return rc;
}

void gym_aggregate_metrics(gym_env *env, const wire_request *req, wire_reply *out)
{
    (void)env;
    agg *ag = agg_new();
    if (!ag) {
        wire_reply_detail(out, 500, "out of memory");
        return;
    }
    if (add_responses(ag, req, out) == 0) {
        util_buf text = UTIL_BUF_INIT;
        char err[128];
        if (agg_finish(ag, &text, err, sizeof err) == 0) {
            wire_reply_take(out, 200, WIRE_JSON, text.data, text.len);
        } else {
            util_buf_free(&text);
            wire_reply_detail(out, 500, "%s", err);
        }
    }
    agg_free(ag);
}
