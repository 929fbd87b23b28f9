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

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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
    double t0 = seconds_now();
    util_buf text = {0};
    grade_verdict v;
    char err[512];
    /* the reply is the body and the verdict: sized once, taken without a copy */
    int rc = util_buf_reserve(&text, req->body_len + VERIFY_VERDICT_ROOM) ? VERIFY_NOMEM
             : verify_text(&env->cfg, req->body, req->body_len, VERIFY_COMPACT, &text, &v, err,
                           sizeof err);
    if (rc == VERIFY_OK) {
        metrics_observe_submission(env->m, v.reward, seconds_now() - t0);
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
