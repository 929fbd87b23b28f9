/* gym — NeMo Gym resources-server handlers (see gym.h).
 *
 * /verify grades a whole verify request (expected_action against the actual
 * action found in response) and echoes the request with "reward" and
 * "category" added (see the /verify section below). /aggregate_metrics
 * summarises verify responses: per task index (ascending; a response without
 * one counts as task 0, as NeMo Gym groups it) the mean, max, min, median and
 * population standard deviation of the reward and the number of rollouts;
 * overall the mean reward and a count per category. The handlers share
 * nothing mutable, so they run concurrently.
 */
#include "gym.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jtext.h"
#include "jspan.h"

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

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- /verify --------------------------------------------------------------
 * The request is validated in one pass over its bytes (jtext_valid, as strict
 * as jansson), then a light scan of its top level finds the members, and
 * only "response" and "expected_action" are built as JSON: the
 * conversation in responses_create_params, usually the bulk, is never
 * materialised. The reply is the request text itself with "reward" and
 * "category" appended before its closing brace, so every field comes back
 * byte for byte. */

enum { M_RCP, M_RESPONSE, M_EXPECTED, M_REWARD, M_CATEGORY, M_COUNT };
static const char *const MEMBER_NAMES[M_COUNT] = {
    "responses_create_params", "response", "expected_action", "reward", "category"};

/* The response as the grader needs it: {"output": <response.output>} (the
 * rest of a response, often its whole tool list, is never read). */
static json_t *response_outputs(jspan response)
{
    static const char *const output_name[1] = {"output"};
    jspan output;
    jspan_members(response.v, response.end, output_name, 1, &output);
    json_t *r = json_object();
    json_t *o = jspan_json(output);
    if (r && o && json_object_set_new(r, "output", o) != 0) {
        json_decref(r);
        return NULL;
    }
    return r;   /* without "output" when absent: the grader reports it */
}

/* The request's members (spans in m) and its response and expected_action as
 * {"response":…, "expected_action":…}, or NULL after a 422 reply. The body
 * is validated as a whole first (as strictly as jansson), then only what the
 * grader reads is built. */
static json_t *verify_fields(const wire_request *req, wire_reply *out, jspan m[M_COUNT])
{
    const char *p = req->body;
    size_t len = req->body_len;
    char err[256];
    if (!p || len == 0) {
        wire_reply_detail(out, 422, "request body: a JSON object is required");
        return NULL;
    }
    if (!jtext_valid(p, len, 0, err, sizeof err)) {
        wire_reply_detail(out, 422, "request body is not valid JSON: %s", err);
        return NULL;
    }
    if (!jspan_is_object(p, p + len)) {
        wire_reply_detail(out, 422, "request body must be a JSON object");
        return NULL;
    }
    jspan_members(p, p + len, MEMBER_NAMES, M_COUNT, m);
    char rcp = m[M_RCP].v ? *m[M_RCP].v : 0, resp = m[M_RESPONSE].v ? *m[M_RESPONSE].v : 0;
    char ea = m[M_EXPECTED].v ? *m[M_EXPECTED].v : 0;
    const char *field = !rcp ? "responses_create_params: field required"
                        : rcp != '{' ? "responses_create_params: must be an object"
                        : !resp ? "response: field required"
                        : resp != '{' ? "response: must be an object"
                        : !ea ? "expected_action: field required"
                        : ea != '{' ? "expected_action: must be an object"
                                    : NULL;
    if (field) {
        wire_reply_detail(out, 422, "%s", field);
        return NULL;
    }
    json_t *fields = json_pack("{s:o, s:o}", "response", response_outputs(m[M_RESPONSE]),
                               "expected_action", jspan_json(m[M_EXPECTED]));
    if (!fields)
        wire_reply_detail(out, 500, "out of memory");
    return fields;
}

/* Grades the picked fields: 0 and *v, or -1 after a 422 reply. */
static int grade_fields(gym_env *env, const json_t *fields, wire_reply *out, grade_verdict *v)
{
    char err[256];
    grade_action *expected =
        grade_expected_from_json(json_object_get(fields, "expected_action"), err, sizeof err);
    if (!expected) {
        wire_reply_detail(out, 422, "expected_action: %s", err);
        return -1;
    }
    grade_action *actual =
        grade_actual_from_response(json_object_get(fields, "response"), err, sizeof err);
    if (!actual) {
        grade_action_free(expected);
        wire_reply_detail(out, 422, "response: %s", err);
        return -1;
    }
    *v = grade_judge(&env->cfg, expected, actual);
    grade_action_free(expected);
    grade_action_free(actual);
    return 0;
}

/* The request text with the verdict in it: the values of its own "reward"
 * and "category" members replaced in place (keys keep their position, as
 * when Python updates a dict), the missing ones appended before the final
 * brace. NULL on allocation failure. */
typedef struct replacement {
    const char *at, *end, *with;
} replacement;

static char *splice_verdict(const char *body, size_t len, const jspan m[M_COUNT],
                            grade_verdict v, size_t *out_len)
{
    char reward[40], category[400];
    grade_reward_repr(v.reward, reward, sizeof reward);
    snprintf(category, sizeof category, "\"%s\"", grade_category_text(v.category));
    size_t close = len;              /* just past the final '}' */
    while (close > 0 && body[close - 1] != '}')
        close--;
    size_t cap = len + strlen(reward) + strlen(category) + 32;
    char *text = malloc(cap);
    if (!text)
        return NULL;
    /* replacements in text order */
    bool swap = m[M_REWARD].v && m[M_CATEGORY].v && m[M_CATEGORY].v < m[M_REWARD].v;
    replacement rep[2] = {{m[M_REWARD].v, m[M_REWARD].end, reward},
                          {m[M_CATEGORY].v, m[M_CATEGORY].end, category}};
    if (swap) {
        replacement t = rep[0];
        rep[0] = rep[1];
        rep[1] = t;
    }
    size_t n = 0;
    const char *from = body;
    for (int i = 0; i < 2; i++) {
        if (!rep[i].at)
            continue;
        memcpy(text + n, from, (size_t)(rep[i].at - from));
        n += (size_t)(rep[i].at - from);
        n += (size_t)snprintf(text + n, cap - n, "%s", rep[i].with);
        from = rep[i].end;
    }
    size_t upto = close ? close - 1 : 0;  /* the final '}' itself */
    memcpy(text + n, from, (size_t)(body + upto - from));
    n += (size_t)(body + upto - from);
    if (!m[M_REWARD].v)
        n += (size_t)snprintf(text + n, cap - n, ",\"reward\":%s", reward);
    if (!m[M_CATEGORY].v)
        n += (size_t)snprintf(text + n, cap - n, ",\"category\":%s", category);
    text[n++] = '}';
    *out_len = n;
    return text;
}

void gym_verify(gym_env *env, const wire_request *req, wire_reply *out)
{
    jspan m[M_COUNT];
    json_t *fields = verify_fields(req, out, m);
    if (!fields)
        return;
    double t0 = seconds_now();
    grade_verdict v;
    int rc = grade_fields(env, fields, out, &v);
    json_decref(fields);
    if (rc != 0)
        return;
    metrics_observe_submission(env->m, v.reward, seconds_now() - t0);
    size_t len;
    char *text = splice_verdict(req->body, req->body_len, m, v, &len);
    if (text)
        wire_reply_take(out, 200, WIRE_JSON, text, len);
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

/* ---- /aggregate_metrics -------------------------------------------------- */

typedef struct rollout {
    double reward;
    const json_t *reward_json;    /* as given, so max/min keep int vs float */
    json_int_t index;             /* _ng_task_index; 0 when absent, as in NeMo Gym */
    const char *category;         /* NULL when absent */
} rollout;

/* Reads verify_responses into rows (caller frees). -1 after a 422 reply. */
static int read_rollouts(const json_t *body, wire_reply *out, rollout **rows, size_t *n)
{
    const json_t *list = json_object_get(body, "verify_responses");
    if (!json_is_array(list)) {
        wire_reply_detail(out, 422, list ? "verify_responses: must be a list"
                                         : "verify_responses: field required");
        return -1;
    }
    *n = json_array_size(list);
    *rows = calloc(*n ? *n : 1, sizeof **rows);
    if (!*rows) {
        wire_reply_detail(out, 500, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < *n; i++) {
        const json_t *item = json_array_get(list, i);
        const json_t *r = json_object_get(item, "reward"), *ix = json_object_get(item, "_ng_task_index");
        const json_t *cat = json_object_get(item, "category");
        const char *why = !json_is_object(item) ? "must be an object"
                          : !r                  ? "reward: field required"
                          : !json_is_number(r)  ? "reward: must be a number"
                          : (ix && !json_is_null(ix) && !json_is_integer(ix))
                              ? "_ng_task_index: must be an integer"
                          : (cat && !json_is_null(cat) && !json_is_string(cat))
                              ? "category: must be a string"
                              : NULL;
        if (why) {
            wire_reply_detail(out, 422, "verify_responses[%zu]: %s", i, why);
            free(*rows);
            return -1;
        }
        rollout *row = &(*rows)[i];
        row->reward = json_number_value(r);
        row->reward_json = r;
        row->index = json_integer_value(ix);   /* 0 when absent or null */
        row->category = json_string_value(cat);
    }
    return 0;
}

/* Groups in ascending task index. */
static int rollout_cmp(const void *pa, const void *pb)
{
    const rollout *a = pa, *b = pb;
    return (a->index > b->index) - (a->index < b->index);
}

static int double_cmp(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

/* Adds mean/max/min/median/std of the rewards of rows[0..n) to obj (numpy
 * semantics: population std, median averaging the middle pair). */
static int add_reward_stats(json_t *obj, const rollout *rows, size_t n)
{
    double *v = malloc(n * sizeof *v);
    if (!v)
        return -1;
    double sum = 0;
    size_t imax = 0, imin = 0;
    for (size_t i = 0; i < n; i++) {
        v[i] = rows[i].reward;
        sum += v[i];
        if (rows[i].reward > rows[imax].reward)
            imax = i;
        if (rows[i].reward < rows[imin].reward)
            imin = i;
    }
    double mean = sum / (double)n, sq = 0;
    for (size_t i = 0; i < n; i++)
        sq += (v[i] - mean) * (v[i] - mean);
    qsort(v, n, sizeof *v, double_cmp);
    double median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    free(v);
    int rc = json_object_set_new(obj, "mean/reward", json_real(mean));
    rc |= json_object_set_new(obj, "max/reward", json_deep_copy(rows[imax].reward_json));
    rc |= json_object_set_new(obj, "min/reward", json_deep_copy(rows[imin].reward_json));
    rc |= json_object_set_new(obj, "median/reward", json_real(median));
    rc |= json_object_set_new(obj, "std/reward", json_real(sqrt(sq / (double)n)));
    return rc ? -1 : 0;
}

/* The group_level_metrics list of sorted rows. NULL on allocation failure. */
static json_t *group_metrics(const rollout *rows, size_t n)
{
    json_t *groups = json_array();
    for (size_t start = 0, end; groups && start < n; start = end) {
        end = start + 1;
        while (end < n && rollout_cmp(&rows[start], &rows[end]) == 0)
            end++;
        json_t *g = json_object();
        int rc = g ? 0 : -1;
        if (g)
            rc |= json_object_set_new(g, "_ng_task_index", json_integer(rows[start].index));
        if (g)
            rc |= json_object_set_new(g, "num_rollouts", json_integer((json_int_t)(end - start)));
        if (g && rc == 0)
            rc = add_reward_stats(g, rows + start, end - start);
        if (rc != 0 || json_array_append_new(groups, g) != 0) {
            json_decref(groups);
            groups = NULL;
        }
    }
    return groups;
}

/* {"mean/reward": m, "count/<category>": k, ...}; NULL on allocation failure. */
static json_t *agent_metrics(const rollout *rows, size_t n, double mean)
{
    json_t *m = json_object();
    if (!m || json_object_set_new(m, "mean/reward", json_real(mean)) != 0)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        if (!rows[i].category)
            continue;
        char key[600];
        snprintf(key, sizeof key, "count/%s", rows[i].category);
        json_t *c = json_object_get(m, key);
        json_int_t k = c ? json_integer_value(c) + 1 : 1;
        if (json_object_set_new(m, key, json_integer(k)) != 0)
            goto fail;
    }
    return m;
fail:
    json_decref(m);
    return NULL;
}

static json_t *aggregate(rollout *rows, size_t n)
{
    if (n == 0)
        return json_pack("{s:[], s:{}, s:{}}", "group_level_metrics", "agent_metrics",
                         "key_metrics");
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += rows[i].reward;
    double mean = sum / (double)n;
    json_t *agent = agent_metrics(rows, n, mean);   /* in input order */
    qsort(rows, n, sizeof *rows, rollout_cmp);
    json_t *groups = group_metrics(rows, n);
    if (!agent || !groups) {
        json_decref(agent);
        json_decref(groups);
        return NULL;
    }
    return json_pack("{s:o, s:o, s:{s:f}}", "group_level_metrics", groups, "agent_metrics",
                     agent, "key_metrics", "mean/reward", mean);
}

void gym_aggregate_metrics(gym_env *env, const wire_request *req, wire_reply *out)
{
    (void)env;
    json_t *body = wire_body_object(req, out);
    rollout *rows;
    size_t n;
    if (!body || read_rollouts(body, out, &rows, &n) != 0) {
        json_decref(body);
        return;
    }
    json_t *result = aggregate(rows, n);
    free(rows);
    json_decref(body);
    if (result)
        wire_reply_json(out, 200, result);
    else
        wire_reply_detail(out, 500, "out of memory");
}
