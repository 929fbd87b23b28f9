/* Tests of `fcpivot validate` and `fcpivot stats`: reports, JSON output and
 * exit statuses, on data/sample.jsonl and on small fixtures written here. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "testutil.h"

#define TOOL "{\"type\":\"function\",\"name\":\"lookup\",\"parameters\":{\"type\":\"object\",\"properties\":{}},\"strict\":true}"
#define IN "[{\"role\":\"system\",\"content\":\"sys\"},{\"role\":\"user\",\"content\":\"find it now\"}]"
#define OK_CALL "{\"responses_create_params\":{\"input\":" IN ",\"tools\":[" TOOL "]},\"expected_action\":" \
                "{\"type\":\"function_call\",\"name\":\"lookup\",\"arguments\":\"{\\\"q\\\": 1}\"}}"
#define OK_MSG "{\"responses_create_params\":{\"input\":" IN ",\"tools\":[" TOOL "]},\"expected_action\":" \
               "{\"type\":\"message\",\"content\":\"done\"}}"
#define UNLISTED "{\"responses_create_params\":{\"input\":" IN ",\"tools\":[" TOOL "]},\"expected_action\":" \
                 "{\"type\":\"function_call\",\"name\":\"other\",\"arguments\":\"{}\"}}"
#define BAD_INPUT "{\"responses_create_params\":{\"input\":null},\"expected_action\":{\"type\":\"message\",\"content\":\"x\"}}"

static int run(const char *const *args, char **out, char **err)
{
    char *argv[16];
    size_t n = 0;
    argv[n++] = (char *)tu_bin();
    for (; args[n - 1]; n++)
        argv[n] = (char *)args[n - 1];
    argv[n] = NULL;
    return tu_run(argv, NULL, 0, out, NULL, err);
}

static char *fixture(const char *text)
{
    char *p = tu_write_temp(text, strlen(text), ".jsonl");
    cr_assert(p);
    return p;
}

Test(cli_validate, sample_is_clean)
{
    char *out, *err;
    const char *args[] = {"validate", tu_path("data/sample.jsonl"), NULL};
    cr_assert_eq(run(args, &out, &err), 0, "stderr: %s", err);
    cr_assert(strstr(out, "sample.jsonl: 200 rows, 200 valid, 0 errors, 0 warnings"), "%s", out);
    free(out); free(err);
}

Test(cli_validate, errors_and_warnings_with_file_and_line)
{
    char *path = fixture(OK_CALL "\n\n" BAD_INPUT "\n" UNLISTED "\nnot json\n");
    char *out, *err;
    const char *args[] = {"validate", path, NULL};
    cr_assert_eq(run(args, &out, &err), 1);
    char want[512];
    snprintf(want, sizeof want, "%s:3: error: responses_create_params.input must be a list, not null", path);
    cr_assert(strstr(out, want), "missing '%s' in:\n%s", want, out);
    snprintf(want, sizeof want, "%s:4: warning: expected call names a tool not listed in tools: 'other'", path);
    cr_assert(strstr(out, want), "missing '%s' in:\n%s", want, out);
    snprintf(want, sizeof want, "%s:5: error: invalid JSON", path);
    cr_assert(strstr(out, want), "missing '%s' in:\n%s", want, out);
    cr_assert(strstr(out, "4 rows, 2 valid, 2 errors, 1 warning"), "%s", out);
    cr_assert(strstr(out, "by rule: input 1, unlisted_tool 1, json 1"), "%s", out);
    /* The findings come in line order. */
    cr_assert_lt(strstr(out, ":3:"), strstr(out, ":4:"));
    cr_assert_lt(strstr(out, ":4:"), strstr(out, ":5:"));
    free(out); free(err);
    unlink(path);
    free(path);
}

Test(cli_validate, warnings_alone_exit_zero)
{
    char *path = fixture(UNLISTED "\n" OK_MSG "\n");
    char *out, *err;
    const char *args[] = {"validate", path, NULL};
    cr_assert_eq(run(args, &out, &err), 0);
    cr_assert(strstr(out, "2 rows, 2 valid, 0 errors, 1 warning"), "%s", out);
    free(out); free(err);
    unlink(path);
    free(path);
}

Test(cli_validate, json_report)
{
    char *bad = fixture(BAD_INPUT "\n" OK_MSG "\n" BAD_INPUT "\n");
    char *out, *err;
    const char *args[] = {"validate", "--json", "--max-issues", "1", bad, tu_path("data/sample.jsonl"), NULL};
    cr_assert_eq(run(args, &out, &err), 1);
    json_error_t je;
    json_t *doc = json_loads(out, 0, &je);
    cr_assert_not_null(doc, "not JSON (%s): %s", je.text, out);
    cr_assert(json_is_false(json_object_get(doc, "ok")));
    cr_assert_eq(json_integer_value(json_object_get(doc, "rows")), 203);
    cr_assert_eq(json_integer_value(json_object_get(doc, "errors")), 2);
    json_t *f0 = json_array_get(json_object_get(doc, "files"), 0);
    cr_assert_eq(json_integer_value(json_object_get(f0, "valid")), 1);
    json_t *issues = json_object_get(f0, "issues");
    cr_assert_eq(json_array_size(issues), 1);
    cr_assert_eq(json_integer_value(json_object_get(f0, "issues_omitted")), 1);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(f0, "by_rule"), "input")), 2);
    json_t *i0 = json_array_get(issues, 0);
    cr_assert_eq(json_integer_value(json_object_get(i0, "line")), 1);
    cr_assert_str_eq(json_string_value(json_object_get(i0, "severity")), "error");
    cr_assert_str_eq(json_string_value(json_object_get(i0, "rule")), "input");
    json_t *f1 = json_array_get(json_object_get(doc, "files"), 1);
    cr_assert_eq(json_integer_value(json_object_get(f1, "errors")), 0);
    json_decref(doc);
    free(out); free(err);
    unlink(bad);
    free(bad);
}

Test(cli_validate, usage_and_unreadable_files)
{
    char *out, *err;
    const char *none[] = {"validate", NULL};
    cr_assert_eq(run(none, &out, &err), 2);
    cr_assert(strstr(err, "no FILE"), "%s", err);
    free(out); free(err);
    const char *unknown[] = {"validate", "--frobnicate", "x.jsonl", NULL};
    cr_assert_eq(run(unknown, &out, &err), 2);
    free(out); free(err);
    const char *badthreads[] = {"stats", "--threads", "zero", "x.jsonl", NULL};
    cr_assert_eq(run(badthreads, &out, &err), 2);
    free(out); free(err);
    const char *missing[] = {"validate", "/nonexistent/data.jsonl", NULL};
    cr_assert_eq(run(missing, &out, &err), 1);
    cr_assert(strstr(err, "/nonexistent/data.jsonl"), "%s", err);
    free(out); free(err);
    const char *help[] = {"stats", "--help", NULL};
    cr_assert_eq(run(help, &out, &err), 0);
    cr_assert(strstr(out, "usage: fcpivot stats"));
    free(out); free(err);
}

Test(cli_stats, text_table_on_a_fixture)
{
    char *path = fixture(OK_CALL "\n" OK_CALL "\n" OK_MSG "\n" UNLISTED "\n" BAD_INPUT "\n");
    char *out, *err;
    const char *args[] = {"stats", path, NULL};
    cr_assert_eq(run(args, &out, &err), 0, "%s", err);
    cr_assert(strstr(out, "rows              4 (1 invalid, left out)"), "%s", out);
    cr_assert(strstr(out, "message 1 (25.0%), function_call 3 (75.0%), function_call_batch 0 (0.0%)"), "%s", out);
    cr_assert(strstr(out, "unlisted tool     1 rows (25.0%)"), "%s", out);
    cr_assert(strstr(out, "   2   66.7%  lookup"), "%s", out);
    cr_assert(strstr(out, "   1   33.3%  other"), "%s", out);
    /* words per row: "sys" + "find it now" = 4 for every row */
    cr_assert(strstr(out, "words                     4          4       4.00        4.0       0.00"), "%s", out);
    free(out); free(err);
    unlink(path);
    free(path);
}

Test(cli_stats, json_on_the_sample)
{
    char *out, *err;
    const char *args[] = {"stats", "--json", tu_path("data/sample.jsonl"), NULL};
    cr_assert_eq(run(args, &out, &err), 0, "%s", err);
    json_t *doc = json_loads(out, 0, NULL);
    cr_assert_not_null(doc, "%s", out);
    json_t *f = json_array_get(json_object_get(doc, "files"), 0);
    cr_assert_eq(json_integer_value(json_object_get(f, "rows")), 200);
    json_t *mix = json_object_get(f, "expected_action_mix");
    json_int_t calls = json_integer_value(json_object_get(json_object_get(mix, "function_call"), "count"));
    json_int_t msgs = json_integer_value(json_object_get(json_object_get(mix, "message"), "count"));
    json_int_t batches = json_integer_value(json_object_get(json_object_get(mix, "function_call_batch"), "count"));
    cr_assert_eq(calls + msgs + batches, 200);
    cr_assert_eq(calls, 140);
    json_t *names = json_object_get(f, "top_function_names");
    cr_assert(json_array_size(names) > 0 && json_array_size(names) <= 20);
    json_int_t prev = INT32_MAX, sum = 0;
    for (size_t i = 0; i < json_array_size(names); i++) {
        json_int_t c = json_integer_value(json_object_get(json_array_get(names, i), "count"));
        cr_assert_leq(c, prev, "names not sorted by count");
        prev = c;
        sum += c;
    }
    cr_assert_leq(sum, json_integer_value(json_object_get(f, "expected_calls")));
    json_t *per = json_object_get(f, "per_row");
    json_t *tools = json_object_get(per, "tools");
    cr_assert_geq(json_real_value(json_object_get(tools, "min")), 1.0);
    cr_assert_leq(json_real_value(json_object_get(tools, "min")), json_real_value(json_object_get(tools, "median")));
    cr_assert_leq(json_real_value(json_object_get(tools, "median")), json_real_value(json_object_get(tools, "max")));
    cr_assert_eq(json_integer_value(json_object_get(f, "unlisted_tool_rows")), 0);
    json_decref(doc);
    free(out); free(err);
}

Test(cli_stats, shared_examples)
{
    TU_REQUIRE_SHARED(par, "data/parallel_example.jsonl");
    char *out, *err;
    const char *args[] = {"stats", "--json", par, NULL};
    cr_assert_eq(run(args, &out, &err), 0, "%s", err);
    json_t *doc = json_loads(out, 0, NULL);
    json_t *f = json_array_get(json_object_get(doc, "files"), 0);
    json_t *mix = json_object_get(f, "expected_action_mix");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(mix, "function_call_batch"), "count")), 3);
    cr_assert_eq(json_integer_value(json_object_get(f, "rows")), 5);
    json_decref(doc);
    free(out); free(err);
}

Test(gen_sample, committed_sample_is_the_generators_output)
{
    char script[4096], *out_path = tu_write_temp("", 0, ".jsonl");
    snprintf(script, sizeof script, "%s", tu_path("scripts/gen-sample"));
    char *argv[] = {script, "--out", out_path, NULL};
    char *out, *err;
    cr_assert_eq(tu_run(argv, NULL, 0, &out, NULL, &err), 0, "gen-sample failed: %s", err);
    size_t a_len, b_len;
    char *a = tu_read_file(out_path, &a_len);
    char *b = tu_read_file(tu_path("data/sample.jsonl"), &b_len);
    cr_assert(a && b);
    cr_assert_eq(a_len, b_len, "regenerate data/sample.jsonl with scripts/gen-sample");
    cr_assert(!memcmp(a, b, a_len), "regenerate data/sample.jsonl with scripts/gen-sample");
    free(a); free(b); free(out); free(err);
    unlink(out_path);
    free(out_path);
}

Test(gen_sample, bulk_rows_have_the_requested_size)
{
    char script[4096], *out_path = tu_write_temp("", 0, ".jsonl");
    snprintf(script, sizeof script, "%s", tu_path("scripts/gen-sample"));
    char *argv[] = {script, "--rows", "40", "--row-kb", "10-12", "--out", out_path, NULL};
    char *out, *err;
    cr_assert_eq(tu_run(argv, NULL, 0, &out, NULL, &err), 0, "gen-sample failed: %s", err);
    size_t len;
    char *text = tu_read_file(out_path, &len);
    size_t rows = 0;
    for (char *p = text, *nl; p < text + len; p = nl + 1, rows++) {
        nl = memchr(p, '\n', (size_t)(text + len - p));
        size_t n = (size_t)(nl - p);
        cr_assert(n >= 10 * 1024 - 64 && n <= 12 * 1024 + 256, "row of %zu bytes", n);
    }
    cr_assert_eq(rows, 40);
    free(text); free(out); free(err);
    const char *vargs[] = {"validate", out_path, NULL};
    cr_assert_eq(run(vargs, &out, &err), 0, "%s", out);
    free(out); free(err);
    unlink(out_path);
    free(out_path);
}

Test(cli_validate, standard_input)
{
    const char *text = OK_MSG "\n" BAD_INPUT "\n";
    char *argv[] = {(char *)tu_bin(), "validate", "-", NULL};
    char *out, *err;
    cr_assert_eq(tu_run(argv, text, strlen(text), &out, NULL, &err), 1, "%s", err);
    cr_assert(strstr(out, "/dev/stdin:2: error: responses_create_params.input must be a list"), "%s", out);
    free(out); free(err);
}

Test(cli_validate, compressed_standard_input)
{
    char *path = tu_write_temp("", 0, ".gz");
    gzFile gz = gzopen(path, "wb");
    const char *text = OK_MSG "\n" OK_CALL "\n" BAD_INPUT "\n";
    gzwrite(gz, text, (unsigned)strlen(text));
    gzclose(gz);
    size_t len;
    char *bytes = tu_read_file(path, &len);
    char *argv[] = {(char *)tu_bin(), "validate", "-", NULL};
    char *out, *err;
    cr_assert_eq(tu_run(argv, bytes, len, &out, NULL, &err), 1, "%s", err);
    cr_assert(strstr(out, "/dev/stdin:3: error:"), "%s", out);
    cr_assert(strstr(out, "3 rows, 2 valid, 1 error"), "%s", out);
    free(out); free(err);
    /* Cut short: a clear error, not a partial dataset. */
    cr_assert_eq(tu_run(argv, bytes, len - 10, &out, NULL, &err), 1);
    cr_assert(strstr(err, "truncated gzip data"), "%s", err);
    free(out); free(err);
    free(bytes);
    unlink(path);
    free(path);
}

/* ---- stats --gym-metrics ------------------------------------------------- */

/* NeMo Gym's statistics of path computed independently by CPython (its own
 * json.dumps and str.split; Gym's running mean and M2 — the mean of
 * [1,2,...] so computed can differ from statistics.mean in the last bit,
 * which rounding to 2 decimals can show — and its rounding rule), as a JSON
 * object {title: [total, average, min, max, std]}. */
static json_t *python_gym_metrics(const char *path)
{
    static const char script[] =
        "import json, statistics, sys\n"
        "def r(x): return round(x, 2) if x >= 1 or x <= -1 else round(x, 3)\n"
        "cols = {'Number of tools': [], 'Json-dumped number of words (proxy for token count)': [],\n"
        "        'Number of turns': [], 'Temperature': []}\n"
        "n = 0\n"
        "strs = {}\n"
        "for line in open(sys.argv[1]):\n"
        "    if not line.strip(): continue\n"
        "    p = json.loads(line)['responses_create_params']; n += 1\n"
        "    if p.get('tools') is not None: cols['Number of tools'].append(len(p['tools']))\n"
        "    u = sum(1 for i in p['input'] if i.get('role') == 'user')\n"
        "    if u: cols['Number of turns'].append(u)\n"
        "    if p.get('temperature') is not None: cols['Temperature'].append(p['temperature'])\n"
        "    cols['Json-dumped number of words (proxy for token count)'].append(len(json.dumps(p).split()))\n"
        "    for k, v in json.loads(line).items():\n"
        "        if k in ('responses_create_params', 'response'): continue\n"
        "        for x in (v if isinstance(v, list) else [v]):\n"
        "            if isinstance(x, bool): x = int(x)\n"
        "            if isinstance(x, (int, float)): cols.setdefault(k, []).append(x)\n"
        "            elif isinstance(x, str): strs.setdefault(k, []).append(x)\n"
        "def running(v):\n"
        "    mean = m2 = 0.0\n"
        "    for i, x in enumerate(v, 1):\n"
        "        d = x - mean; mean += d / i; m2 += d * (x - mean)\n"
        "    return mean, (m2 / (len(v) - 1)) ** 0.5 if len(v) > 1 else 0.0\n"
        "out = {'Number of examples': n}\n"
        "for k, v in cols.items():\n"
        "    mean, sd = running(v)\n"
        "    assert abs(sd - (statistics.stdev(v) if len(v) > 1 else 0.0)) < 1e-9 * (1 + sd)\n"
        "    out[k] = [len(v), r(mean) if v else 0.0, r(float(min(v))) if v else 0.0,\n"
        "              r(float(max(v))) if v else 0.0, r(sd)]\n"
        "for k, v in strs.items():\n"
        "    out[k] = {'unique_count': len(set(v)), 'total_count': len(v)}\n"
        "print(json.dumps(out))\n";
    char *argv[] = {"/usr/bin/python3", "-c", (char *)script, (char *)path, NULL};
    char *out, *err;
    cr_assert_eq(tu_run(argv, NULL, 0, &out, NULL, &err), 0, "python3: %s", err);
    json_t *j = json_loads(out, 0, NULL);
    cr_assert(j, "%s", out);
    free(out);
    free(err);
    return j;
}

static void expect_gym_metrics(const char *path)
{
    if (access("/usr/bin/python3", X_OK) != 0)
        cr_skip_test("python3 not installed: stats --gym-metrics comparison skipped");
    char *out, *err;
    const char *args[] = {"stats", "--gym-metrics", path, NULL};
    cr_assert_eq(run(args, &out, &err), 0, "stderr: %s", err);
    json_t *mine = json_loads(out, 0, NULL);
    cr_assert(mine, "not JSON: %s", out);
    json_t *want = python_gym_metrics(path);
    cr_assert_eq(json_integer_value(json_object_get(mine, "Number of examples")),
                 json_integer_value(json_object_get(want, "Number of examples")));
    static const char *const fields[] = {"Total # non-null values", "Average", "Min", "Max",
                                         "Standard deviation"};
    const char *title;
    json_t *v;
    json_object_foreach(want, title, v) {
        if (json_is_object(v)) {   /* another top-level field's strings */
            cr_assert(json_equal(json_object_get(mine, title), v), "%s: %s", title, out);
            continue;
        }
        if (!json_is_array(v))
            continue;
        json_t *m = json_object_get(mine, title);
        cr_assert(json_is_object(m), "%s missing: %s", title, out);
        cr_assert(json_is_integer(json_object_get(m, fields[0])));
        for (size_t k = 0; k < 5; k++)
            cr_assert_eq(json_number_value(json_object_get(m, fields[k])),
                         json_number_value(json_array_get(v, k)), "%s / %s: %s", title, fields[k], out);
        for (size_t k = 1; k < 5; k++)
            cr_assert(json_is_real(json_object_get(m, fields[k])), "%s / %s is a float", title, fields[k]);
    }
    json_object_foreach(mine, title, v)
        cr_assert(!strcmp(title, "name") || !strcmp(title, "jsonl_fpath") || json_object_get(want, title),
                  "unexpected member %s: %s", title, out);
    json_decref(mine);
    json_decref(want);
    free(out);
    free(err);
}

/* Other top-level fields: numbers (booleans as 0/1, list items one by one)
 * and strings, as Gym's validator summarises them. */
Test(cli_stats, gym_metrics_of_other_fields)
{
    char *path = fixture(
        "{\"responses_create_params\":{\"input\":[]},\"expected_action\":{\"type\":\"message\",\"content\":\"x\"},"
        "\"trajectory_id\":3,\"tag\":\"a\",\"flags\":[true,false,2.5],\"info\":{\"turn\":1}}\n"
        "{\"responses_create_params\":{\"input\":[]},\"expected_action\":{\"type\":\"message\",\"content\":\"x\"},"
        "\"tag\":\"b\",\"trajectory_id\":10,\"tag\":\"a\",\"flags\":[]}\n"
        "{\"responses_create_params\":{\"input\":[]},\"expected_action\":{\"type\":\"message\",\"content\":\"x\"},"
        "\"tag\":\"c\",\"trajectory_id\":-4}\n");
    expect_gym_metrics(path);
    unlink(path);
    free(path);
}

/* ../shared/data/example.jsonl reproduces NeMo Gym's example_metrics.json
 * (there: tools 14.0 each, words 3727.6 average, 2029-7754, std 2342.79;
 * turns 2.2, 1-3, std 0.837; no temperature). */
Test(cli_stats, gym_metrics_of_the_example_file)
{
    TU_REQUIRE_SHARED(ex, "data/example.jsonl");
    expect_gym_metrics(ex);
    char *out, *err;
    const char *args[] = {"stats", "--gym-metrics", ex, NULL};
    cr_assert_eq(run(args, &out, &err), 0);
    cr_assert(strstr(out, "\"name\": \"example\""), "%s", out);
    cr_assert(strstr(out, "\"Average\": 3727.6,\n        \"Min\": 2029.0,\n        \"Max\": 7754.0,\n"
                          "        \"Standard deviation\": 2342.79"), "%s", out);
    cr_assert(strstr(out, "\"Standard deviation\": 0.837"), "%s", out);
    free(out);
    free(err);
}

/* Rows with and without tools, user turns and temperature; words inside
 * strings and non-ASCII text (escaped by json.dumps: no extra spaces). */
#define GYM_ROWS \
    "{\"responses_create_params\":{\"input\":[{\"role\":\"system\",\"content\":\"a  b\\tc\"}]," \
    "\"temperature\":0.25},\"expected_action\":{\"type\":\"message\",\"content\":\"x\"}}\n" \
    "{\"responses_create_params\":{\"input\":[{\"role\":\"user\",\"content\":\"caf\xc3\xa9 \\u00a0 ok\"}," \
    "{\"role\":\"user\",\"content\":\"two\"}],\"tools\":null,\"temperature\":1}," \
    "\"expected_action\":{\"type\":\"message\",\"content\":\"x\"}}\n" \
    "{\"responses_create_params\":{\"input\":[{\"role\":\"user\",\"content\":\"hi\"}],\"tools\":[" TOOL "]," \
    "\"temperature\":null},\"expected_action\":{\"type\":\"message\",\"content\":\"x\"}}\n"

Test(cli_stats, gym_metrics_count_only_present_values)
{
    const char *rows = GYM_ROWS BAD_INPUT "\n";
    char *path = fixture(rows);
    if (access("/usr/bin/python3", X_OK) == 0) {
        /* the invalid row is left out of both */
        char *valid = fixture(
            GYM_ROWS);
        json_t *want = python_gym_metrics(valid);
        char *out, *err;
        const char *args[] = {"stats", "--gym-metrics", path, NULL};
        cr_assert_eq(run(args, &out, &err), 0, "%s", err);
        json_t *mine = json_loads(out, 0, NULL);
        cr_assert_eq(json_integer_value(json_object_get(mine, "Number of examples")), 3);
        json_t *words = json_object_get(mine, "Json-dumped number of words (proxy for token count)");
        json_t *pw = json_object_get(want, "Json-dumped number of words (proxy for token count)");
        for (size_t k = 1; k < 5; k++) {
            static const char *const f[] = {"", "Average", "Min", "Max", "Standard deviation"};
            cr_assert_eq(json_number_value(json_object_get(words, f[k])), json_number_value(json_array_get(pw, k)),
                         "%s: %s", f[k], out);
        }
        cr_assert_eq(json_integer_value(json_object_get(json_object_get(mine, "Number of tools"),
                                                        "Total # non-null values")), 1);
        cr_assert_eq(json_integer_value(json_object_get(json_object_get(mine, "Number of turns"),
                                                        "Total # non-null values")), 2);
        json_t *temp = json_object_get(mine, "Temperature");
        cr_assert_eq(json_integer_value(json_object_get(temp, "Total # non-null values")), 2);
        cr_assert_eq(json_real_value(json_object_get(temp, "Average")), 0.625);
        cr_assert_eq(json_real_value(json_object_get(temp, "Standard deviation")), 0.53);
        json_decref(mine);
        json_decref(want);
        free(out);
        free(err);
        unlink(valid);
        free(valid);
    }
    char *out, *err;
    const char *bad[] = {"stats", "--gym-metrics", "--json", path, NULL};
    cr_assert_eq(run(bad, &out, &err), 2);
    free(out);
    free(err);
    unlink(path);
    free(path);
}

Test(cli_stats, gym_metrics_of_the_sample)
{
    expect_gym_metrics(tu_path("data/sample.jsonl"));
}

/* docs/dataset.md §4: what NeMo Gym accepts but flags is a warning
 * of its own kind, counted by rule; such rows pass. */
Test(cli_validate, nemo_gym_warnings_by_kind)
{
    const char *rows =
        /* 1: duplicate tool names, a non-function tool */
        "{\"responses_create_params\":{\"input\":" IN ",\"tools\":[" TOOL "," TOOL ",{\"type\":\"web_search\"}]},"
        "\"expected_action\":{\"type\":\"message\",\"content\":\"x\"}}\n"
        /* 2: integers beyond 64 bits and NaN outside the arguments */
        "{\"responses_create_params\":{\"input\":" IN ",\"tools\":[" TOOL "],\"temperature\":NaN},"
        "\"expected_action\":{\"type\":\"message\",\"content\":\"x\"},\"trajectory_id\":9223372036854775808}\n"
        /* 3: an earlier call with list arguments, output_text from the user */
        "{\"responses_create_params\":{\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"output_text\","
        "\"text\":\"hi\"}]},{\"type\":\"function_call\",\"name\":\"lookup\",\"arguments\":\"[1]\",\"call_id\":\"c\"}],"
        "\"tools\":[" TOOL "]},\"expected_action\":{\"type\":\"message\",\"content\":\"x\"}}\n"
        /* 4: a tool without strict, tool_choice "none", metadata null */
        "{\"responses_create_params\":{\"input\":" IN ",\"tools\":[{\"type\":\"function\",\"name\":\"lookup\","
        "\"parameters\":{}}],\"tool_choice\":\"none\",\"metadata\":null},"
        "\"expected_action\":{\"type\":\"message\",\"content\":\"x\"}}\n"
        /* 5: none of these: tool_choice auto or null, a function_call with object arguments */
        "{\"responses_create_params\":{\"input\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\","
        "\"text\":\"hi\"}]},{\"type\":\"function_call\",\"name\":\"lookup\",\"arguments\":\"{}\"}],"
        "\"tools\":[" TOOL "],\"tool_choice\":\"auto\",\"metadata\":{}},"
        "\"expected_action\":{\"type\":\"message\",\"content\":\"x\"}}\n";
    char *path = fixture(rows);
    char *out, *err;
    const char *args[] = {"validate", path, NULL};
    cr_assert_eq(run(args, &out, &err), 0, "warnings only: %s", out);
    cr_assert(strstr(out, "5 rows, 5 valid, 0 errors, 4 warnings"), "%s", out);
    static const char *const kinds[] = {"duplicate_tool 1", "non_function_tool 1", "big_int 1",
                                        "non_finite_number 1", "input_arguments 1", "output_text_role 1",
                                        "tool_fields 1", "tool_choice 1", "metadata_null 1"};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        cr_assert(strstr(out, kinds[i]), "no '%s' in:\n%s", kinds[i], out);
    cr_assert(!strstr(out, ":5: warning"), "%s", out);
    free(out);
    free(err);
    unlink(path);
    free(path);
}

/* Rows with other warnings are not counted as rows with unlisted tools. */
Test(cli_stats, unlisted_tool_rows_are_only_those)
{
    char *path = fixture(UNLISTED "\n"
                         "{\"responses_create_params\":{\"input\":" IN ",\"tools\":[" TOOL "],\"metadata\":null},"
                         "\"expected_action\":{\"type\":\"message\",\"content\":\"done\"}}\n" OK_MSG "\n");
    char *out, *err;
    const char *args[] = {"stats", "--json", path, NULL};
    cr_assert_eq(run(args, &out, &err), 0, "%s", err);
    json_t *j = json_loads(out, 0, NULL);
    json_t *f = json_array_get(json_object_get(j, "files"), 0);
    cr_assert_eq(json_integer_value(json_object_get(f, "unlisted_tool_rows")), 1, "%s", out);
    json_decref(j);
    free(out);
    free(err);
    unlink(path);
    free(path);
}
