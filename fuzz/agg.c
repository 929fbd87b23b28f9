/* Fuzz target: the aggregate metrics of verify responses (src/agg.h).
 *
 * The input is cut at newlines; each piece is one verify response given to
 * agg_add. Each call returns 0 or AGG_INVALID with a reason, and only an
 * accepted response is counted. agg_finish then succeeds and writes one JSON
 * object (read back with pyjson, the dialect that holds Infinity and NaN)
 * with exactly group_level_metrics, agent_metrics and key_metrics, whose task
 * objects are in ascending task order, each rollout once (the num_rollouts
 * add up to the count), and key_metrics holds exactly agent_metrics' mean/*
 * entries. A second agg_finish writes the same text. */
#include <stdbool.h>
#include <string.h>
#include "agg.h"
#include "fuzzutil.h"
#include "pyjson.h"

static const pj_value *get(const pj_value *o, const char *k)
{
    FUZZ_CHECK(o->type == PJ_OBJECT, "not an object");
    return pj_object_get(o, k, strlen(k));
}

static void check_groups(const pj_value *groups, size_t count)
{
    FUZZ_CHECK(groups && groups->type == PJ_ARRAY, "group_level_metrics is not a list");
    size_t rollouts = 0;
    for (size_t i = 0; i < groups->u.arr.n; i++) {
        const pj_value *g = &groups->u.arr.items[i], *t = get(g, "_ng_task_index");
        const pj_value *n = get(g, "num_rollouts"), *infos = get(g, "rollout_infos");
        FUZZ_CHECK(t && t->type == PJ_INT && n && n->type == PJ_INT, "group %zu lacks its ints", i);
        if (i > 0)
            FUZZ_CHECK(get(&groups->u.arr.items[i - 1], "_ng_task_index")->u.i < t->u.i,
                       "groups not ascending at %zu", i);
        FUZZ_CHECK(infos && infos->type == PJ_ARRAY && (int64_t)infos->u.arr.n == n->u.i,
                   "group %zu: rollout_infos and num_rollouts differ", i);
        rollouts += infos->u.arr.n;
    }
    FUZZ_CHECK(rollouts == count, "%zu rollouts for %zu responses", rollouts, count);
}

static void check_output(const util_buf *out, size_t count)
{
    util_arena arena;
    util_arena_init(&arena, NULL, 0);
    pj_value v;
    char err[256];
    FUZZ_CHECK(pj_parse(&arena, out->data, out->len, &v, err, sizeof err) == 0,
               "output does not parse (%s): %.200s", err, out->data);
    FUZZ_CHECK(v.type == PJ_OBJECT && v.u.obj.n == 3, "not the three-key object");
    check_groups(get(&v, "group_level_metrics"), count);
    const pj_value *agent = get(&v, "agent_metrics"), *key = get(&v, "key_metrics");
    FUZZ_CHECK(agent && agent->type == PJ_OBJECT && key && key->type == PJ_OBJECT, "metrics objects");
    size_t means = 0;
    for (size_t i = 0; i < agent->u.obj.n; i++) {
        const pj_member *m = &agent->u.obj.items[i];
        if (m->klen >= 5 && !memcmp(m->key, "mean/", 5)) {
            means++;
            FUZZ_CHECK(pj_object_get(key, m->key, m->klen), "key_metrics lacks a mean");
        }
    }
    FUZZ_CHECK(key->u.obj.n == means, "key_metrics holds more than the means");
    util_arena_free(&arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    agg *a = agg_new();
    if (!a)
        return 0;
    const char *p = (const char *)data, *end = p + size;
    size_t count = 0;
    char err[256];
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        err[0] = '\0';
        int rc = agg_add(a, p, (size_t)(e - p), err, sizeof err);
        FUZZ_CHECK(rc == 0 || rc == AGG_INVALID, "agg_add returned %d", rc);
        FUZZ_CHECK(rc == 0 || err[0], "refused without a reason");
        count += rc == 0;
        FUZZ_CHECK(agg_count(a) == count, "count %zu, want %zu", agg_count(a), count);
        p = e + 1;
    }
    util_buf o1 = UTIL_BUF_INIT, o2 = UTIL_BUF_INIT;
    FUZZ_CHECK(agg_finish(a, &o1, err, sizeof err) == 0, "finish failed: %s", err);
    FUZZ_CHECK(agg_finish(a, &o2, err, sizeof err) == 0, "second finish failed: %s", err);
    FUZZ_CHECK(o1.len == o2.len && !memcmp(o1.data, o2.data, o1.len), "finish is not repeatable");
    check_output(&o1, count);
    util_buf_free(&o1);
    util_buf_free(&o2);
    agg_free(a);
    return 0;
}
