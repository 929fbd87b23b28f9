/* Tests of the aggregate metrics (agg.h): NeMo Gym's compute_aggregate_metrics
 * on hand-computed sets — repeats, single rollouts, usage tokens, boolean and
 * missing rewards, duplicates, overflow, numpy's pairwise summation, empty
 * input. Replies are read back with pyjson, which reads Infinity and NaN. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agg.h"
#include "pyjson.h"
#include "testutil.h"

typedef struct result {
    util_buf text;
    util_arena arena;
    pj_value v;
} result;

/* Aggregates responses[0..n) (each must be accepted) into r. */
static void run(result *r, const char *const *responses, size_t n)
{
    agg *a = agg_new();
    cr_assert(a);
    char err[256];
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(agg_add(a, responses[i], strlen(responses[i]), err, sizeof err), 0, "%s: %s",
                     responses[i], err);
    cr_assert_eq(agg_count(a), n);
    r->text = (util_buf)UTIL_BUF_INIT;
    cr_assert_eq(agg_finish(a, &r->text, err, sizeof err), 0, "%s", err);
    agg_free(a);
    util_arena_init(&r->arena, NULL, 0);
    cr_assert_eq(pj_parse(&r->arena, r->text.data, r->text.len, &r->v, err, sizeof err), 0,
                 "reply is not JSON (%s): %s", err, r->text.data);
}

static void done(result *r)
{
    util_buf_free(&r->text);
    util_arena_free(&r->arena);
}

static const pj_value *member(const pj_value *o, const char *key)
{
    cr_assert_eq(o->type, PJ_OBJECT);
    return pj_object_get(o, key, strlen(key));
}

static const pj_value *agent(const result *r)
{
    return member(&r->v, "agent_metrics");
}

/* The i-th task object of group_level_metrics. */
static const pj_value *group(const result *r, size_t i)
{
    const pj_value *g = member(&r->v, "group_level_metrics");
    cr_assert(g && g->type == PJ_ARRAY && i < g->u.arr.n, "no group %zu", i);
    return &g->u.arr.items[i];
}

static size_t ngroups(const result *r)
{
    return member(&r->v, "group_level_metrics")->u.arr.n;
}

/* A float member (Python float: written with '.', 'e', or Infinity). */
static double flt(const pj_value *o, const char *key)
{
    const pj_value *v = member(o, key);
    cr_assert(v, "%s missing", key);
    cr_assert_eq(v->type, PJ_FLOAT, "%s is not a float", key);
    return v->u.f;
}

static long long integer(const pj_value *o, const char *key)
{
    const pj_value *v = member(o, key);
    cr_assert(v, "%s missing", key);
    cr_assert_eq(v->type, PJ_INT, "%s is not an int", key);
    return (long long)v->u.i;
}

static void absent(const pj_value *o, const char *key)
{
    cr_assert_null(member(o, key), "%s should be left out", key);
}

/* Sample standard deviation of x[0..n), by its definition. */
static double sample_std(const double *x, size_t n)
{
    double m = 0, s = 0;
    for (size_t i = 0; i < n; i++)
        m += x[i];
    m /= (double)n;
    for (size_t i = 0; i < n; i++)
        s += (x[i] - m) * (x[i] - m);
    return sqrt(s / (double)(n - 1));
}

#define NEAR(got, want) cr_assert_float_eq(got, want, 1e-15 * fmax(1, fabs(want)), "%.17g vs %.17g", got, want)

Test(agg, empty_input)
{
    result r;
    run(&r, NULL, 0);
    cr_assert_str_eq(r.text.data, "{\"group_level_metrics\":[],\"agent_metrics\":{},\"key_metrics\":{}}");
    done(&r);
}

/* Three tasks: 3 rollouts, 2 rollouts, 1 rollout, given out of order. */
Test(agg, repeats_give_sample_statistics_per_task_and_overall)
{
    const char *in[] = {
        "{\"_ng_task_index\":1,\"_ng_rollout_index\":1,\"reward\":0.5}",
        "{\"_ng_task_index\":0,\"_ng_rollout_index\":2,\"reward\":1.0}",
        "{\"_ng_task_index\":2,\"reward\":1.0}",
        "{\"_ng_task_index\":0,\"_ng_rollout_index\":0,\"reward\":1.0,\"category\":\"x\"}",
        "{\"_ng_task_index\":1,\"_ng_rollout_index\":0,\"reward\":0.0}",
        "{\"_ng_rollout_index\":1,\"reward\":0.0}",
    };
    result r;
    run(&r, in, 6);
    cr_assert_eq(ngroups(&r), 3);
    const pj_value *g0 = group(&r, 0), *g1 = group(&r, 1), *g2 = group(&r, 2);
    cr_assert_eq(integer(g0, "_ng_task_index"), 0);
    cr_assert_eq(integer(g1, "_ng_task_index"), 1);
    cr_assert_eq(integer(g2, "_ng_task_index"), 2);
    /* task 0: 1, 0, 1 */
    NEAR(flt(g0, "mean/reward"), 2.0 / 3);
    cr_assert_eq(flt(g0, "median/reward"), 1.0);
    cr_assert_eq(flt(g0, "max/reward"), 1.0);
    cr_assert_eq(flt(g0, "min/reward"), 0.0);
    NEAR(flt(g0, "std/reward"), sqrt(1.0 / 3));   /* (1/9 + 4/9 + 1/9) / 2 */
    /* task 1: 0, 0.5 */
    cr_assert_eq(flt(g1, "mean/reward"), 0.25);
    cr_assert_eq(flt(g1, "median/reward"), 0.25);
    NEAR(flt(g1, "std/reward"), sqrt(0.125));
    /* task 2: one rollout; its std is 0 (every std of the frame undefined) */
    cr_assert_eq(flt(g2, "mean/reward"), 1.0);
    cr_assert_eq(flt(g2, "std/reward"), 0.0);
    cr_assert_eq(integer(g0, "num_rollouts"), 3);
    cr_assert_eq(integer(g0, "expected_num_rollouts"), 3);
    cr_assert_eq(integer(g0, "missing_num_rollouts"), 0);
    cr_assert_eq(flt(g0, "reward_profile_completion_pct"), 100.0);
    cr_assert_eq(integer(g2, "num_rollouts"), 1);
    /* overall: 1, 0, 1, 0, 0.5, 1 */
    double all[] = {1, 0, 1, 0, 0.5, 1};
    NEAR(flt(agent(&r), "mean/reward"), 3.5 / 6);
    cr_assert_eq(flt(agent(&r), "median/reward"), 0.75);
    NEAR(flt(agent(&r), "std/reward"), sample_std(all, 6));
    NEAR(flt(agent(&r), "std/reward"), sqrt(174.0 / 144 / 5));
    cr_assert_eq(flt(agent(&r), "max/reward"), 1.0);
    cr_assert_eq(flt(agent(&r), "min/reward"), 0.0);
    const pj_value *key = member(&r.v, "key_metrics");
    cr_assert_eq(key->u.obj.n, 1, "key_metrics holds the mean/* entries only");
    NEAR(flt(key, "mean/reward"), 3.5 / 6);
    absent(agent(&r), "count/x");
    /* the task object's extra fields, rollouts by rollout index */
    const char *want = "\"sample\":{\"agent_ref\":{\"name\":\"agent\"}},\"num_rollouts\":3,"
                       "\"expected_num_rollouts\":3,\"missing_num_rollouts\":0,"
                       "\"reward_profile_completion_pct\":100.0,\"rollout_infos\":["
                       "{\"rollout_id\":\"0:0\",\"_ng_task_index\":0,\"_ng_rollout_index\":0,\"reward\":1.0},"
                       "{\"rollout_id\":\"0:1\",\"_ng_task_index\":0,\"_ng_rollout_index\":1,\"reward\":0.0},"
                       "{\"rollout_id\":\"0:2\",\"_ng_task_index\":0,\"_ng_rollout_index\":2,\"reward\":1.0}]}";
    cr_assert(strstr(r.text.data, want), "%s", r.text.data);
    done(&r);
}

Test(agg, usage_tokens_are_columns_and_rollout_infos)
{
    const char *in[] = {
        "{\"_ng_task_index\":0,\"_ng_rollout_index\":0,\"reward\":1.0,\"input_tokens\":999,"
        "\"response\":{\"output\":[],\"usage\":{\"input_tokens\":100,\"output_tokens\":20,"
        "\"total_tokens\":120,\"input_tokens_details\":{\"cached_tokens\":0}}}}",
        "{\"_ng_task_index\":0,\"_ng_rollout_index\":1,\"reward\":0.0,\"response\":{\"usage\":"
        "{\"input_tokens\":110,\"output_tokens\":30,\"total_tokens\":140,"
        "\"output_tokens_details\":{\"reasoning_tokens\":5}}}}",
        "{\"_ng_task_index\":1,\"reward\":1.0,\"response\":{\"usage\":{\"input_tokens\":90,"
        "\"output_tokens\":10,\"total_tokens\":100}}}",
    };
    result r;
    run(&r, in, 3);
    const pj_value *a = agent(&r);
    /* usage wins over the top-level input_tokens: 100, 110, 90 */
    cr_assert_eq(flt(a, "mean/input_tokens"), 100.0);
    cr_assert_eq(flt(a, "median/input_tokens"), 100.0);
    cr_assert_eq(flt(a, "std/input_tokens"), 10.0);
    cr_assert_eq(flt(a, "mean/output_tokens"), 20.0);
    cr_assert_eq(flt(a, "std/output_tokens"), 10.0);
    cr_assert_eq(flt(a, "mean/total_tokens"), 120.0);
    cr_assert_eq(flt(a, "std/total_tokens"), 20.0);
    /* the reward column is float, so max and min of every column are floats */
    cr_assert_eq(flt(a, "max/input_tokens"), 110.0);
    cr_assert_eq(flt(a, "min/total_tokens"), 100.0);
    absent(a, "mean/input_tokens_details");
    absent(a, "mean/cached_tokens");
    cr_assert_eq(member(&r.v, "key_metrics")->u.obj.n, 4);
    const pj_value *g0 = group(&r, 0), *g1 = group(&r, 1);
    cr_assert_eq(flt(g0, "mean/input_tokens"), 105.0);
    NEAR(flt(g0, "std/input_tokens"), sqrt(50.0));
    cr_assert_eq(flt(g1, "std/input_tokens"), 0.0);
    cr_assert_eq(flt(g1, "std/reward"), 0.0);
    const char *info = "{\"rollout_id\":\"0:0\",\"_ng_task_index\":0,\"_ng_rollout_index\":0,"
                       "\"reward\":1.0,\"input_tokens\":100,\"output_tokens\":20,\"total_tokens\":120}";
    cr_assert(strstr(r.text.data, info), "%s", r.text.data);
    done(&r);
}

Test(agg, boolean_rewards_make_an_int_frame)
{
    const char *in[] = {
        "{\"_ng_task_index\":0,\"_ng_rollout_index\":0,\"reward\":true}",
        "{\"_ng_task_index\":0,\"_ng_rollout_index\":1,\"reward\":false}",
        "{\"_ng_task_index\":1,\"_ng_rollout_index\":0,\"reward\":true}",
        "{\"_ng_task_index\":1,\"_ng_rollout_index\":1,\"reward\":1}",
    };
    result r;
    run(&r, in, 4);
    const pj_value *a = agent(&r);
    cr_assert_eq(flt(a, "mean/reward"), 0.75);
    cr_assert_eq(flt(a, "median/reward"), 1.0);
    cr_assert_eq(flt(a, "std/reward"), 0.5);   /* (3 * 1/16 + 9/16) / 3 = 1/4 */
    cr_assert_eq(integer(a, "max/reward"), 1, "an int column's max stays an int");
    cr_assert_eq(integer(a, "min/reward"), 0);
    const pj_value *g0 = group(&r, 0), *g1 = group(&r, 1);
    NEAR(flt(g0, "std/reward"), sqrt(0.5));
    cr_assert_eq(flt(g1, "std/reward"), 0.0);
    cr_assert_eq(integer(g1, "min/reward"), 1);
    /* rollout_infos keep the reward as given */
    cr_assert(strstr(r.text.data, "\"_ng_rollout_index\":0,\"reward\":true}"), "%s", r.text.data);
    cr_assert(strstr(r.text.data, "\"_ng_rollout_index\":1,\"reward\":false}"), "%s", r.text.data);
    done(&r);
}

Test(agg, missing_rewards_are_skipped)
{
    const char *in[] = {
        "{\"_ng_task_index\":0,\"_ng_rollout_index\":0,\"reward\":1.0,\"turns\":2}",
        "{\"_ng_task_index\":0,\"_ng_rollout_index\":1,\"turns\":3}",
        "{\"_ng_task_index\":1,\"_ng_rollout_index\":0,\"reward\":null,\"turns\":4}",
        "{\"_ng_task_index\":1,\"_ng_rollout_index\":1,\"reward\":0.5,\"turns\":5}",
        "{\"_ng_task_index\":2,\"turns\":6}",
        "{\"_ng_task_index\":3,\"reward\":NaN,\"turns\":7}",
    };
    result r;
    run(&r, in, 6);
    const pj_value *a = agent(&r);
    cr_assert_eq(flt(a, "mean/reward"), 0.75);   /* 1.0 and 0.5 */
    cr_assert_eq(flt(a, "median/reward"), 0.75);
    NEAR(flt(a, "std/reward"), sqrt(0.125));
    cr_assert_eq(flt(a, "min/reward"), 0.5);
    cr_assert_eq(flt(a, "mean/turns"), 4.5);
    cr_assert_eq(flt(a, "max/turns"), 7.0, "a column with missing values makes every max a float");
    /* task 0: one reward and two turns: the std of turns is defined, so the
       reward's (undefined) is left out */
    const pj_value *g0 = group(&r, 0);
    cr_assert_eq(flt(g0, "mean/reward"), 1.0);
    absent(g0, "std/reward");
    NEAR(flt(g0, "std/turns"), sqrt(0.5));
    /* task 2: no reward at all, one turn: no reward statistic, std of turns 0 */
    const pj_value *g2 = group(&r, 2);
    absent(g2, "mean/reward");
    absent(g2, "max/reward");
    cr_assert_eq(flt(g2, "std/turns"), 0.0);
    /* task 3: a NaN reward counts as missing too */
    absent(group(&r, 3), "mean/reward");
    cr_assert(strstr(r.text.data, "\"_ng_rollout_index\":1}"), "no reward key when absent");
    cr_assert(strstr(r.text.data, "\"_ng_rollout_index\":0,\"reward\":null}"), "%s", r.text.data);
    cr_assert(strstr(r.text.data, "\"reward\":NaN}"), "%s", r.text.data);
    done(&r);
}

Test(agg, overflow_is_written_as_infinity)
{
    const char *in[] = {
        "{\"_ng_rollout_index\":0,\"reward\":1e308}",
        "{\"_ng_rollout_index\":1,\"reward\":1e308}",
        "{\"_ng_rollout_index\":2,\"reward\":1e308}",
        "{\"_ng_task_index\":1,\"_ng_rollout_index\":0,\"reward\":Infinity}",
        "{\"_ng_task_index\":1,\"_ng_rollout_index\":1,\"reward\":-Infinity}",
    };
    result r;
    run(&r, in, 5);
    const pj_value *g0 = group(&r, 0), *g1 = group(&r, 1);
    cr_assert(isinf(flt(g0, "mean/reward")) && flt(g0, "mean/reward") > 0);
    cr_assert(isinf(flt(g0, "std/reward")));
    cr_assert_eq(flt(g0, "median/reward"), 1e308);
    cr_assert_eq(flt(g0, "max/reward"), 1e308);
    cr_assert(strstr(r.text.data, "\"mean/reward\":Infinity,"), "%s", r.text.data);
    cr_assert(strstr(r.text.data, "\"max/reward\":1e+308,"), "%s", r.text.data);
    /* inf and -inf: mean and median are NaN (left out); the std is NaN for
       every column, and the column has no missing value, so it is 0 */
    absent(g1, "mean/reward");
    absent(g1, "median/reward");
    cr_assert(isinf(flt(g1, "max/reward")));
    cr_assert(strstr(r.text.data, "\"min/reward\":-Infinity,"), "%s", r.text.data);
    cr_assert_eq(flt(g1, "std/reward"), 0.0);
    done(&r);
}

/* numpy sums with 8 accumulators (pairwise summation), not left to right:
 * 1e16 followed by fifteen 1.0 sums to 1e16 + 14 (r0 = 1e16 absorbs the one
 * 1.0 added to it — a tie, rounded to even — and r1..r7 hold 2.0 each); a
 * left-to-right sum gives 1e16, the exact sum 1e16 + 15. Over 200 values numpy
 * splits 96 + 104: r0 absorbs its 11 ones, r1..r7 hold 12 each (1e16 + 84),
 * the second half is 104. The rows are summed in (task, rollout) order
 * whatever order they come in. */
Test(agg, sums_are_numpy_pairwise_in_rollout_order)
{
    char *in[200];
    for (int i = 0; i < 200; i++) {
        in[i] = malloc(96);
        int rollout = 199 - i;
        snprintf(in[i], 96, "{\"_ng_task_index\":%d,\"_ng_rollout_index\":%d,\"reward\":%s}",
                 rollout < 16 ? 0 : 1, rollout, rollout == 0 ? "1e16" : "1.0");
    }
    result r;
    run(&r, (const char *const *)in, 200);
    cr_assert_eq(flt(group(&r, 0), "mean/reward"), (1e16 + 14) / 16);
    cr_assert_eq(flt(group(&r, 1), "mean/reward"), 1.0);
    cr_assert_eq(flt(agent(&r), "mean/reward"), (1e16 + 84 + 104) / 200);
    for (int i = 0; i < 200; i++)
        free(in[i]);
    done(&r);
}

Test(agg, duplicates_and_bad_responses_are_refused_and_change_nothing)
{
    agg *a = agg_new();
    char err[256];
    const char *ok = "{\"reward\":1.0}";
    cr_assert_eq(agg_add(a, ok, strlen(ok), err, sizeof err), 0);
    struct { const char *text, *why; } bad[] = {
        {"{\"_ng_task_index\":0,\"_ng_rollout_index\":0,\"reward\":0.0}",
         "duplicate (_ng_task_index, _ng_rollout_index) pair (0, 0)"},
        {"{\"reward\":0.5}", "duplicate"},
        {"[1]", "must be an object, not list"},
        {"{\"reward\":", "not valid JSON"},
        {"{\"_ng_task_index\":\"1\"}", "_ng_task_index: must be an integer"},
        {"{\"_ng_rollout_index\":1.0}", "_ng_rollout_index: must be an integer"},
        {"{\"_ng_task_index\":123456789012345678901234567890}", "at most 64 bits"},
        {"{\"_ng_task_index\":5,\"reward\":\"1\"}", "reward: must be a number, a boolean or null"},
        {"{\"_ng_task_index\":5,\"response\":[]}", "response: must be an object"},
        {"{\"_ng_task_index\":5,\"response\":{\"usage\":3}}", "response.usage: must be an object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(agg_add(a, bad[i].text, strlen(bad[i].text), err, sizeof err), AGG_INVALID,
                     "%s accepted", bad[i].text);
        cr_assert(strstr(err, bad[i].why), "%s: '%s' lacks '%s'", bad[i].text, err, bad[i].why);
    }
    cr_assert_eq(agg_count(a), 1);
    /* too many distinct columns: refused before anything is stored */
    util_buf many = UTIL_BUF_INIT;
    util_buf_puts(&many, "{\"_ng_task_index\":9");
    for (int i = 0; i <= AGG_MAX_COLUMNS; i++)
        util_buf_printf(&many, ",\"c%d\":%d", i, i);
    util_buf_putc(&many, '}');
    cr_assert_eq(agg_add(a, many.data, many.len, err, sizeof err), AGG_INVALID);
    cr_assert(strstr(err, "numeric fields"), "%s", err);
    util_buf_free(&many);
    util_buf out = UTIL_BUF_INIT;
    cr_assert_eq(agg_finish(a, &out, err, sizeof err), 0);
    cr_assert(strstr(out.data, "\"agent_metrics\":{\"mean/reward\":1.0,\"max/reward\":1.0,"
                               "\"min/reward\":1.0,\"median/reward\":1.0,\"std/reward\":0.0}"),
              "%s", out.data);
    util_buf_free(&out);
    agg_free(a);
}

Test(agg, finish_is_repeatable_and_adding_may_go_on)
{
    agg *a = agg_new();
    char err[128];
    const char *x = "{\"reward\":0.25}", *y = "{\"_ng_rollout_index\":1,\"reward\":0.75}";
    cr_assert_eq(agg_add(a, x, strlen(x), err, sizeof err), 0);
    util_buf o1 = UTIL_BUF_INIT, o2 = UTIL_BUF_INIT, o3 = UTIL_BUF_INIT;
    cr_assert_eq(agg_finish(a, &o1, err, sizeof err), 0);
    cr_assert_eq(agg_finish(a, &o2, err, sizeof err), 0);
    cr_assert_str_eq(o1.data, o2.data);
    cr_assert_eq(agg_add(a, y, strlen(y), err, sizeof err), 0);
    cr_assert_eq(agg_finish(a, &o3, err, sizeof err), 0);
    cr_assert(strstr(o3.data, "\"key_metrics\":{\"mean/reward\":0.5}"), "%s", o3.data);
    util_buf_free(&o1);
    util_buf_free(&o2);
    util_buf_free(&o3);
    agg_free(a);
}

/* Integers a double cannot hold: exact max/min in an int frame, exact digits
 * in rollout_infos; beyond 64 bits the column counts as float. */
Test(agg, big_integers)
{
    const char *in[] = {
        "{\"_ng_rollout_index\":0,\"reward\":1,\"response\":{\"usage\":{\"n\":9007199254740993}}}",
        "{\"_ng_rollout_index\":1,\"reward\":0,\"response\":{\"usage\":{\"n\":3}}}",
    };
    result r;
    run(&r, in, 2);
    cr_assert_eq(integer(agent(&r), "max/n"), 9007199254740993LL);
    cr_assert(strstr(r.text.data, "\"reward\":1,\"n\":9007199254740993}"), "%s", r.text.data);
    done(&r);
    const char *big[] = {
        "{\"_ng_rollout_index\":0,\"reward\":1,\"response\":{\"usage\":{\"n\":18446744073709551616}}}",
        "{\"_ng_rollout_index\":1,\"reward\":123456789012345678901234567890}",
    };
    run(&r, big, 2);
    cr_assert_eq(flt(agent(&r), "max/n"), 18446744073709551616.0);
    cr_assert(strstr(r.text.data, "\"n\":18446744073709551616}"), "%s", r.text.data);
    cr_assert(strstr(r.text.data, "\"reward\":123456789012345678901234567890}"), "%s", r.text.data);
    done(&r);
}

Test(agg, column_names_are_escaped_as_python_writes_them)
{
    const char *in[] = {"{\"r\\u00e9\\\"\\n\\ud800\\ud83d\\ude00\":1.5}"};
    result r;
    run(&r, in, 1);
    cr_assert(strstr(r.text.data, "\"mean/r\\u00e9\\\"\\n\\ud800\\ud83d\\ude00\":1.5"), "%s",
              r.text.data);
    done(&r);
}

typedef struct pieces {
    util_buf all;
    size_t calls, fail_at;
} pieces;

static int collect(void *ctx, const char *data, size_t len)
{
    pieces *p = ctx;
    if (++p->calls == p->fail_at)
        return -1;
    return util_buf_append(&p->all, data, len);
}

/* agg_write hands over the same text as agg_finish, in pieces. */
Test(agg, write_streams_the_same_text_in_pieces)
{
    agg *a = agg_new();
    char line[160], err[128];
    for (int i = 0; i < 20000; i++) {
        int n = snprintf(line, sizeof line, "{\"_ng_task_index\":%d,\"_ng_rollout_index\":%d,"
                         "\"reward\":%s,\"response\":{\"usage\":{\"input_tokens\":%d}}}",
                         i / 4, i % 4, i % 3 ? "1.0" : "0.0", i);
        cr_assert_eq(agg_add(a, line, (size_t)n, err, sizeof err), 0, "%s", err);
    }
    util_buf whole = UTIL_BUF_INIT;
    cr_assert_eq(agg_finish(a, &whole, err, sizeof err), 0);
    pieces p = {UTIL_BUF_INIT, 0, 0};
    cr_assert_eq(agg_write(a, collect, &p, err, sizeof err), 0);
    cr_assert(p.calls > 1, "%zu bytes in one piece", whole.len);
    cr_assert_eq(p.all.len, whole.len);
    cr_assert(!memcmp(p.all.data, whole.data, whole.len));
    pieces q = {UTIL_BUF_INIT, 0, 2};
    cr_assert_eq(agg_write(a, collect, &q, err, sizeof err), AGG_SINK);
    cr_assert_eq(q.calls, 2, "no piece after the writer failed");
    util_buf_free(&whole);
    util_buf_free(&p.all);
    util_buf_free(&q.all);
    agg_free(a);
}
