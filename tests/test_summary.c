/* Tests of summary.h (and rollout.h beneath it): rollouts built here, their
 * summary JSON checked member by member against counts worked out by hand. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "summary.h"
#include "testutil.h"

static const char CALL_A[] = "{\"type\":\"function_call\",\"name\":\"get_a\",\"arguments\":\"{\\\"x\\\": 1}\"}";
static const char MSG[] = "{\"type\":\"message\",\"content\":\"hello there\"}";
static const char OUT_CALL_A[] =
    "[{\"type\":\"function_call\",\"call_id\":\"c1\",\"name\":\"get_a\",\"arguments\":\"{\\\"x\\\": 1}\"}]";
static const char OUT_MSG[] =
    "[{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"hi\"}]}]";

/* One fcpivot-style rollout line (caller frees). */
static char *rollout_line(int task, int rep, const char *expected, const char *output,
                          double reward, const char *category, int depth, double latency,
                          int attempts, const char *anomalies)
{
    char *s = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&s, &n);
    fprintf(f,
            "{\"responses_create_params\":{\"input\":[{\"role\":\"user\",\"content\":\"q\"}]},"
            "\"response\":{\"id\":\"r\",\"model\":\"m-1\",\"status\":\"completed\",\"output\":%s,"
            "\"usage\":{\"input_tokens\":100,\"input_tokens_details\":{\"cached_tokens\":40},"
            "\"output_tokens\":10,\"output_tokens_details\":{\"reasoning_tokens\":3}}},"
            "\"reward\":%.1f,\"expected_action\":%s,\"category\":\"%s\","
            "\"_ng_task_index\":%d,\"_ng_rollout_index\":%d,"
            "\"fcpivot\":{\"row\":%d,\"info\":{\"turn\":%d,\"depth\":%d},\"attempts\":%d,"
            "\"latency_ms\":%.1f,\"finish_reason\":\"stop\",\"anomalies\":%s}}",
            output, reward, expected, category, task, rep, task, depth / 2, depth, attempts,
            latency, anomalies);
    fclose(f);
    return s;
}

static json_t *summarise(char **lines, size_t n, const char **failures, size_t nf, size_t planned)
{
    summary_options o = {.planned = planned, .complete = true};
    summary *s = summary_new(&o);
    cr_assert(s);
    char err[256];
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(summary_add_rollout(s, lines[i], strlen(lines[i]), err, sizeof err), 0,
                     "line %zu: %s", i, err);
    for (size_t i = 0; i < nf; i++)
        cr_assert_eq(summary_add_failure(s, failures[i], strlen(failures[i]), err, sizeof err), 0,
                     "%s", err);
    util_buf b = UTIL_BUF_INIT;
    cr_assert_eq(summary_json(s, &b, err, sizeof err), 0);
    summary_free(s);
    json_error_t je;
    json_t *j = json_loadb(b.data, b.len, 0, &je);
    cr_assert(j, "summary is not JSON: %s", je.text);
    util_buf_free(&b);
    return j;
}

static double num(const json_t *j, const char *path)
{
    const json_t *v = json_object_get(j, path);
    cr_assert(json_is_number(v), "%s is not a number", path);
    return json_number_value(v);
}

#define EQ(x, y) cr_assert(fabs((double)(x) - (double)(y)) < 1e-12, "%s = %.17g, not %.17g", #x, (double)(x), (double)(y))

Test(summary, counts_score_breakdowns_and_repeats)
{
    /* row 0: call expected, both repeats right; row 1: message expected, one
     * repeat answers with a call (NO_EXPECTED_CHAT_MESSAGE). */
    char *l[4] = {
        rollout_line(0, 0, CALL_A, OUT_CALL_A, 1, "EXPECTED_TOOL_CALL", 2, 100, 1, "[]"),
        rollout_line(0, 1, CALL_A, OUT_CALL_A, 1, "EXPECTED_TOOL_CALL", 2, 300, 2, "[\"x\"]"),
        rollout_line(1, 0, MSG, OUT_MSG, 1, "A chat message was found as expected", 7, 200, 1, "[]"),
        rollout_line(1, 1, MSG, OUT_CALL_A, 0, "NO_EXPECTED_CHAT_MESSAGE", 7, 400, 3,
                     "[{\"kind\":\"x\"},\"y\"]"),
    };
    const char *fail[] = {"{\"_ng_task_index\":2,\"_ng_rollout_index\":0,"
                          "\"_ng_failure_class\":\"agent_request_failed\","
                          "\"fcpivot\":{\"error\":\"timeout\"}}"};
    json_t *j = summarise(l, 4, fail, 1, 6);
    cr_assert_str_eq(json_string_value(json_object_get(j, "schema")), "fcpivot.eval.summary/1");
    cr_assert_str_eq(json_string_value(json_object_get(j, "model")), "m-1");
    json_t *c = json_object_get(j, "counts");
    EQ(num(c, "planned"), 6);
    EQ(num(c, "graded"), 4);
    EQ(num(c, "failed"), 1);
    EQ(num(c, "not_run"), 1);
    json_t *sc = json_object_get(j, "score");
    EQ(num(sc, "mean"), 0.75);
    EQ(num(sc, "stderr"), 0.25);                 /* sample std 0.5 / √4 */
    EQ(num(sc, "mean_failures_as_zero"), 0.6);   /* 3 / 5 */
    cr_assert(json_is_true(json_object_get(sc, "binary")));
    json_t *w = json_object_get(sc, "wilson95");
    cr_assert(json_number_value(json_array_get(w, 0)) < 0.75 &&
              json_number_value(json_array_get(w, 1)) > 0.75);
    /* categories: all 13, in enum order, with shares */
    json_t *cats = json_object_get(j, "categories");
    cr_assert_eq(json_array_size(cats), 13);
    json_t *etc = json_array_get(cats, 10);
    cr_assert_str_eq(json_string_value(json_object_get(etc, "name")), "EXPECTED_TOOL_CALL");
    EQ(num(etc, "count"), 2);
    EQ(num(etc, "share"), 0.5);
    EQ(num(json_array_get(cats, 3), "count"), 1);   /* NO_EXPECTED_CHAT_MESSAGE */
    /* expected types and confusion: message row -> [message 1, call 1] */
    json_t *types = json_object_get(j, "expected_types");
    EQ(num(json_array_get(types, 0), "n"), 2);
    EQ(num(json_array_get(types, 0), "mean"), 0.5);
    EQ(num(json_array_get(types, 1), "mean"), 1.0);
    json_t *rows = json_object_get(json_object_get(j, "confusion"), "rows");
    json_t *mrow = json_object_get(json_array_get(rows, 0), "counts");
    EQ(json_integer_value(json_array_get(mrow, 0)), 1);
    EQ(json_integer_value(json_array_get(mrow, 1)), 1);
    /* depth 2 -> "1-2", depth 7 -> "6-10"; turns 1 and 3 */
    json_t *depth = json_object_get(j, "depth");
    EQ(num(json_array_get(depth, 0), "n"), 2);
    EQ(num(json_array_get(depth, 2), "mean"), 0.5);
    EQ(num(json_array_get(depth, 4), "n"), 0);
    json_t *turns = json_object_get(j, "turns");
    cr_assert_eq(json_array_size(turns), 2);
    EQ(num(json_array_get(turns, 0), "turn"), 1);
    EQ(num(json_array_get(turns, 1), "turn"), 3);
    /* functions: only get_a is expected */
    json_t *fn = json_object_get(j, "functions");
    EQ(num(fn, "distinct"), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(fn, "top"), 0), "name")), "get_a");
    /* anomalies: x twice (string and object kind), y once */
    json_t *an = json_object_get(j, "anomalies");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(an, 0), "anomaly")), "x");
    EQ(num(json_array_get(an, 0), "n"), 2);
    EQ(num(json_array_get(an, 1), "n"), 1);
    /* tokens, latency (nearest rank of 100 200 300 400), retries */
    json_t *tok = json_object_get(j, "tokens");
    EQ(num(tok, "input"), 400);
    EQ(num(tok, "cached"), 160);
    EQ(num(tok, "reasoning"), 12);
    EQ(num(json_object_get(tok, "per_rollout"), "output"), 10);
    json_t *lat = json_object_get(j, "latency_ms");
    EQ(num(lat, "p50"), 200);
    EQ(num(lat, "p90"), 400);
    EQ(num(lat, "max"), 400);
    json_t *ret = json_object_get(j, "retries");
    EQ(num(ret, "attempts"), 7);
    EQ(num(ret, "retried"), 2);
    json_t *fl = json_object_get(j, "failures");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(fl, "by_class"), 0), "class")), "timeout");
    /* repeats: row 0 c=2/2, row 1 c=1/2: pass@1 = (1 + 1/2)/2, pass@2 = (1 + 1)/2 */
    json_t *rep = json_object_get(j, "repeats");
    EQ(num(rep, "k"), 2);
    json_t *pk = json_object_get(rep, "pass_at_k");
    EQ(num(json_array_get(pk, 0), "value"), 0.75);
    EQ(num(json_array_get(pk, 1), "value"), 1.0);
    EQ(num(rep, "all_pass"), 1);
    EQ(num(rep, "all_fail"), 0);
    EQ(num(rep, "mixed"), 1);
    /* repeat means 1.0 and 0.5: sample std √(0.125) */
    EQ(num(rep, "std_across_repeats"), sqrt(0.125));
    EQ(num(rep, "mean_row_std"), sqrt(0.5) / 2);
    json_decref(j);
    for (int i = 0; i < 4; i++)
        free(l[i]);
}

Test(summary, rejects_bad_lines_and_leaves_the_summary_as_it_was)
{
    summary_options o = {0};
    summary *s = summary_new(&o);
    char err[256];
    const char *bad[] = {"[1]", "{\"response\":{\"output\":[]}}", "{\"response\":{\"output\":[]},"
                         "\"reward\":1.0,\"category\":\"nonsense\"}", "{\"response\":{\"output\":[]},"
                         "\"reward\":1.0,\"category\":\"NO_ACTION_FOUND\"}"};
    const char *why[] = {"not a JSON object", "reward: field required", "unknown category",
                         "expected_action: field required"};
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(summary_add_rollout(s, bad[i], strlen(bad[i]), err, sizeof err), -1);
        cr_assert(strstr(err, why[i]), "%s", err);
    }
    cr_assert_eq(summary_add_failure(s, "{\"a\":", 5, err, sizeof err), -1);
    util_buf b = UTIL_BUF_INIT;
    cr_assert_eq(summary_json(s, &b, err, sizeof err), 0);
    cr_assert(strstr(b.data, "\"counts\":{\"planned\":0,\"graded\":0,\"failed\":0,\"not_run\":0}"), "%s", b.data);
    cr_assert(strstr(b.data, "\"repeats\":null"));
    util_buf_free(&b);
    summary_free(s);
}

/* The summary of the lines of a file fed in the order given by idx. */
static char *summary_in_order(char **lines, const size_t *idx, size_t n)
{
    summary_options o = {.planned = 0, .complete = true};
    summary *s = summary_new(&o);
    char err[256];
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(summary_add_rollout(s, lines[idx[i]], strlen(lines[idx[i]]), err, sizeof err), 0,
                     "%s", err);
    util_buf b = UTIL_BUF_INIT;
    cr_assert_eq(summary_json(s, &b, err, sizeof err), 0);
    summary_free(s);
    return b.data;
}

Test(summary, same_figures_whatever_the_order_of_the_lines)
{
    /* eval adds lines as rollouts complete, and rewrites the file sorted at
     * the end: report reading the sorted file must print the same object. */
    char *text = tu_read_file(tu_path("tests/data/report/run_b.jsonl"), NULL);
    cr_assert(text);
    char *lines[16];
    size_t n = 0;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l && n < 16; l = strtok_r(NULL, "\n", &save))
        lines[n++] = l;
    cr_assert_eq(n, 8);
    size_t fwd[8], rev[8], odd[8] = {3, 7, 0, 5, 1, 6, 2, 4};
    for (size_t i = 0; i < n; i++) {
        fwd[i] = i;
        rev[i] = n - 1 - i;
    }
    char *a = summary_in_order(lines, fwd, n), *b = summary_in_order(lines, rev, n),
         *c = summary_in_order(lines, odd, n);
    cr_assert_str_eq(a, b);
    cr_assert_str_eq(a, c);
    free(a);
    free(b);
    free(c);
    free(text);
}

/* A line that /verify and fcpivot grade accept is summarised too: Python's
 * numbers in the conversation, and expected arguments that do not parse
 * (the verdict stood because no comparison reached them). */
Test(summary, reads_lines_in_the_python_dialect_of_verify)
{
    const char *line =
        "{\"responses_create_params\":{\"input\":[{\"role\":\"user\",\"content\":\"q\"}],"
        "\"tools\":[{\"type\":\"function\",\"name\":\"f\",\"parameters\":{\"maximum\":"
        "18446744073709551615,\"x\":NaN,\"y\":-Infinity}}]},"
        "\"response\":{\"output\":[{\"type\":\"message\",\"role\":\"assistant\",\"content\":"
        "[{\"type\":\"output_text\",\"text\":\"hi \\ud800\"}]}]},"
        "\"reward\":0.0,\"expected_action\":{\"type\":\"function_call\",\"name\":\"f\","
        "\"arguments\":\"{not json\"},\"category\":\"NO_EXPECTED_TOOL_CALL\"}";
    summary_options o = {0};
    summary *s = summary_new(&o);
    char err[256] = "";
    cr_assert_eq(summary_add_rollout(s, line, strlen(line), err, sizeof err), 0, "%s", err);
    util_buf b = UTIL_BUF_INIT;
    cr_assert_eq(summary_json(s, &b, err, sizeof err), 0);
    cr_assert(strstr(b.data, "\"graded\":1"), "%s", b.data);
    cr_assert(strstr(b.data, "NO_EXPECTED_TOOL_CALL"), "%s", b.data);
    util_buf_free(&b);
    summary_free(s);
}
