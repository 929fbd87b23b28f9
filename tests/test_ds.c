/* Tests of the dataset layer (ds, dsval): validation rules one fixture each,
 * file handling (BOM, blank lines, CRLF, compressed inputs, truncation, long
 * rows), splits and ids, the task cache, and the real rows in ../shared. */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "ds.h"
#include "dsval.h"
#include "jtext.h"
#include "prompt.h"
#include "pubtask.h"
#include "testutil.h"

/* ---- helpers ------------------------------------------------------------ */

typedef struct issues {
    size_t n, errors, warnings;
    size_t line[64];
    ds_severity sev[64];
    const char *kind[64];
    char msg[64][400];
    size_t last_line;
    bool ordered;
} issues;

static void collect(const ds_issue *is, void *ctx)
{
    issues *c = ctx;
    if (c->n && is->line < c->last_line)
        c->ordered = false;
    c->last_line = is->line;
    if (is->severity == DS_SEV_ERROR)
        c->errors++;
    else
        c->warnings++;
    if (c->n < 64) {
        c->line[c->n] = is->line;
        c->sev[c->n] = is->severity;
        c->kind[c->n] = is->kind;
        snprintf(c->msg[c->n], sizeof c->msg[0], "%s", is->message);
    }
    c->n++;
}

/* Opens text (written to a temp file) as split "train"; returns rc. */
static int open_text(const char *text, size_t len, bool validate, bool skip, unsigned threads,
                     issues *found, ds_dataset **ds, char **path_out)
{
    char *path = tu_write_temp(text, len, ".jsonl");
    cr_assert(path);
    if (found) {
        memset(found, 0, sizeof *found);
        found->ordered = true;
    }
    ds_split_spec sp = {"train", path};
    ds_open_options o = {.validate = validate, .skip_invalid = skip, .threads = threads,
                         .on_issue = found ? collect : NULL, .ctx = found};
    char err[600];
    int rc = ds_open(ds, &sp, 1, &o, err, sizeof err);
    if (path_out)
        *path_out = path;
    else {
        unlink(path);
        free(path);
    }
    return rc;
}

/* A valid row with one tool "get_weather" and the given expected action. */
#define TOOL_W "{\"type\":\"function\",\"name\":\"get_weather\",\"description\":\"d\"," \
               "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}},\"strict\":true}"
#define INPUT "[{\"role\":\"user\",\"content\":\"weather in Paris?\"}]"
#define CALL_W "{\"type\":\"function_call\",\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\": \\\"Paris\\\"}\"}"
#define ROW(tools, ea) "{\"responses_create_params\":{\"input\":" INPUT ",\"tools\":" tools "},\"expected_action\":" ea "}"
#define GOOD ROW("[" TOOL_W "]", CALL_W)

/* Validates one row; returns the result. */
static dsval_result check_row(const char *row)
{
    dsval_ctx *c = dsval_ctx_new();
    dsval_result r;
    dsval_row(c, row, strlen(row), &r);
    dsval_ctx_free(c);
    return r;
}

/* The row is invalid with a reason containing want, and the on-demand parser
 * (ds_task_acquire without validation) refuses it too. */
static void expect_error(const char *row, const char *want)
{
    dsval_result r = check_row(row);
    cr_assert(r.error, "row should be invalid (%s): %s", want, row);
    cr_assert(strstr(r.error_msg, want), "reason '%s' lacks '%s'", r.error_msg, want);
    ds_dataset *ds;
    cr_assert_eq(open_text(row, strlen(row), false, false, 1, NULL, &ds, NULL), 0);
    char err[400] = "";
    const ds_task *t = ds_task_acquire(ds, 0, 0, err, sizeof err);
    cr_assert_null(t, "acquire accepted an invalid row: %s", row);
    cr_assert(err[0]);
    ds_close(ds);
}

/* The row loads, with a warning of kind among its findings. */
static void expect_warning(const char *row, const char *kind)
{
    dsval_result r = check_row(row);
    cr_assert(!r.error, "row should load, got '%s': %s", r.error_msg, row);
    bool found = false;
    for (unsigned i = 0; i < r.nwarnings; i++)
        found |= !strcmp(r.warnings[i].kind, kind);
    cr_assert(found, "no %s warning (%u others, first '%s'): %s", kind, r.nwarnings,
              r.nwarnings ? r.warnings[0].msg : "", row);
    ds_dataset *ds;
    cr_assert_eq(open_text(row, strlen(row), false, false, 1, NULL, &ds, NULL), 0);
    char err[400] = "";
    const ds_task *t = ds_task_acquire(ds, 0, 0, err, sizeof err);
    cr_assert_not_null(t, "acquire refused a row that loads: %s", err);
    ds_task_release(ds, t);
    ds_close(ds);
}

static void expect_valid(const char *row)
{
    dsval_result r = check_row(row);
    cr_assert(!r.error, "row should be valid, got '%s': %s", r.error_msg, row);
    ds_dataset *ds;
    cr_assert_eq(open_text(row, strlen(row), false, false, 1, NULL, &ds, NULL), 0);
    char err[400] = "";
    const ds_task *t = ds_task_acquire(ds, 0, 0, err, sizeof err);
    cr_assert_not_null(t, "acquire refused a valid row: %s", err);
    ds_task_release(ds, t);
    ds_close(ds);
}

/* ---- one fixture per validation rule ----------------------------------------- */

Test(ds_rules, a_complete_row_is_valid)
{
    expect_valid(GOOD);
    dsval_result r = check_row(GOOD);
    cr_assert_eq(r.kind, GRADE_ACTION_CALL);
    cr_assert_eq(r.n_input, 1);
    cr_assert_eq(r.n_tools, 1);
    cr_assert(!r.warning);
}

Test(ds_rules, invalid_json)
{
    expect_error("{\"responses_create_params\": {\"input\": [}", "invalid JSON");
    expect_error("{\"a\": 1,}", "invalid JSON");
    expect_error("{'a': 1}", "invalid JSON");
    expect_error(GOOD " x", "extra data");
}

Test(ds_rules, row_not_an_object)
{
    expect_error("[1, 2]", "not a JSON object");
    expect_error("\"text\"", "not a JSON object");
}

Test(ds_rules, responses_create_params_missing_or_wrong)
{
    expect_error("{\"expected_action\":" CALL_W "}", "missing responses_create_params");
    expect_error("{\"responses_create_params\":[],\"expected_action\":" CALL_W "}",
                 "responses_create_params must be an object");
}

Test(ds_rules, input_missing_or_not_a_list)
{
    expect_error("{\"responses_create_params\":{\"tools\":[]},\"expected_action\":" CALL_W "}",
                 "missing responses_create_params.input");
    expect_error("{\"responses_create_params\":{\"input\":\"hi\"},\"expected_action\":" CALL_W "}",
                 "input must be a list");
}

Test(ds_rules, tools_not_a_list)
{
    expect_error(ROW("{}", CALL_W), "tools must be a list");
}

Test(ds_rules, tool_not_an_object_or_not_a_function)
{
    expect_error(ROW("[\"get_weather\"]", CALL_W), "tools[0] must be an object");
    /* docs/dataset.md §4: another kind of tool is a warning */
    expect_warning(ROW("[{\"type\":\"web_search\"}," TOOL_W "]", CALL_W), "non_function_tool");
    expect_error(ROW("[{\"name\":\"get_weather\"}]", CALL_W), "has no \"type\"");
}

Test(ds_rules, tool_name_missing_or_not_a_string)
{
    expect_error(ROW("[{\"type\":\"function\",\"description\":\"x\"}]", CALL_W), "tools[0] has no name");
    expect_error(ROW("[{\"type\":\"function\",\"name\":7}]", CALL_W), "name must be a string");
    expect_error(ROW("[{\"type\":\"function\",\"function\":{\"description\":\"x\"}}]", CALL_W),
                 "has no function.name");
    expect_error(ROW("[{\"type\":\"function\",\"name\":\"a\\u0000b\"}]", CALL_W), "NUL");
}

Test(ds_rules, duplicate_tool_names)
{
    /* a warning (docs/dataset.md §4): the first one is the task's */
    expect_warning(ROW("[" TOOL_W "," TOOL_W "]", CALL_W), "duplicate_tool");
    /* Chat-Completions and Responses shapes share one namespace. */
    expect_warning(ROW("[" TOOL_W ",{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}]", CALL_W),
                   "duplicate_tool");
}

Test(ds_rules, expected_action_missing_or_not_an_object)
{
    expect_error("{\"responses_create_params\":{\"input\":[]}}", "missing expected_action");
    expect_error("{\"responses_create_params\":{\"input\":[]},\"expected_action\":\"call\"}",
                 "expected_action must be an object");
}

Test(ds_rules, expected_action_unknown_type)
{
    expect_error(ROW("[]", "{\"type\":\"tool_use\",\"name\":\"x\"}"), "expected_action");
    expect_error(ROW("[]", "{\"content\":\"no type\"}"), "expected_action");
}

Test(ds_rules, function_call_name_not_a_string)
{
    expect_error(ROW("[]", "{\"type\":\"function_call\",\"name\":3,\"arguments\":\"{}\"}"), "name");
    expect_error(ROW("[]", "{\"type\":\"function_call\",\"arguments\":\"{}\"}"), "name");
}

Test(ds_rules, function_call_arguments_do_not_parse)
{
    expect_error(ROW("[" TOOL_W "]", "{\"type\":\"function_call\",\"name\":\"get_weather\",\"arguments\":\"{city: 1}\"}"),
                 "arguments");
}

Test(ds_rules, empty_batch)
{
    expect_error(ROW("[" TOOL_W "]", "{\"type\":\"function_call_batch\",\"calls\":[]}"), "calls");
}

Test(ds_rules, json_strictness_matches_the_row_loader)
{
    expect_error("{\"a\":\"\xff\"}", "invalid UTF-8");
    expect_error("{\"a\":\"\xc0\xaf\"}", "invalid UTF-8");            /* overlong */
    expect_error("{\"a\":\"\xed\xa0\x80\"}", "invalid UTF-8");        /* surrogate */
    expect_error("{\"a\":\"\\ud800\"}", "lone high surrogate");
    expect_error("{\"a\":\"\\udc00x\"}", "lone low surrogate");
    expect_error("{\"a\":\"tab\there\"}", "control character");
    /* Python's numbers are no syntax errors (docs/dataset.md §4) */
    expect_error("{\"a\":99999999999999999999}", "missing responses_create_params");
    expect_error("{\"a\":1e999}", "missing responses_create_params");
    expect_error("{\"a\":NaN}", "missing responses_create_params");
    expect_error("{\"a\":nan}", "invalid JSON");
    expect_error("{\"a\":-NaN}", "invalid JSON");
    expect_error("{\"a\":infinity}", "invalid JSON");
    expect_error("{\"a\":01}", "invalid JSON");
    expect_error("{\"a\":\"\\x41\"}", "invalid escape");
    expect_error("{\"a\\u0000b\":1}", "NUL character in object key");
    expect_valid("{\"responses_create_params\":{\"input\":[\"\\u0000\"]},\"expected_action\":{\"type\":\"message\",\"content\":\"\"}}");
}

/* {"x": [[...]]} nested depth levels in all. */
static char *make_deep(size_t depth, size_t *len)
{
    char *deep = malloc(2 * depth + 16);
    size_t n = (size_t)sprintf(deep, "{\"x\":");
    for (size_t i = 0; i < depth - 1; i++)
        deep[n++] = '[';
    for (size_t i = 0; i < depth - 1; i++)
        deep[n++] = ']';
    deep[n++] = '}';
    deep[n] = '\0';
    *len = n;
    return deep;
}

Test(ds_rules, raw_nul_bytes_are_refused)
{
    char err[200];
    cr_assert(!jtext_valid("{\"a\":false\0}", 12, 0, err, sizeof err));   /* jansson would skip it */
    cr_assert(!jtext_valid("{\"a\":\"x\0y\"}", 11, 0, err, sizeof err));
    cr_assert(strstr(err, "control character"), "%s", err);
    cr_assert(jtext_valid("{\"a\":false}", 11, 0, err, sizeof err), "%s", err);
}

Test(ds_rules, nesting_limit_is_the_loaders)
{
    size_t n;
    char err[200];
    json_error_t je;
    char *deep = make_deep(JTEXT_MAX_DEPTH + 1, &n);
    cr_assert(!jtext_valid(deep, n, 0, err, sizeof err));
    cr_assert(strstr(err, "nesting too deep"), "%s", err);
    cr_assert_null(json_loadb(deep, n, 0, &je));
    free(deep);
    deep = make_deep(JTEXT_MAX_DEPTH, &n);     /* the limit itself is fine for both */
    cr_assert(jtext_valid(deep, n, 0, err, sizeof err), "%s", err);
    json_t *v = json_loadb(deep, n, 0, &je);
    cr_assert_not_null(v, "%s", je.text);
    json_decref(v);
    free(deep);
}

Test(ds_rules, accepted_variants)
{
    /* tools may be null or absent; Chat-Completions tools; unknown fields;
     * escaped keys; Python-dialect arguments; duplicate keys (last wins). */
    expect_valid(ROW("null", "{\"type\":\"message\",\"content\":\"hi\"}"));
    expect_valid("{\"responses_create_params\":{\"input\":[]},\"expected_action\":{\"type\":\"message\",\"content\":\"\"}}");
    expect_valid(ROW("[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":{}}}]", CALL_W));
    expect_valid("{\"x_unknown\":{\"deep\":[1,2.5e3,true,null]},\"responses_create_params\":{\"inp\\u0075t\":[],"
                 "\"tools\":[" TOOL_W "]},\"expected_action\":" CALL_W ",\"trajectory_id\":-9223372036854775808}");
    expect_valid(ROW("[" TOOL_W "]", "{\"type\":\"function_call\",\"name\":\"get_weather\","
                     "\"arguments\":\"{\\\"n\\\": NaN, \\\"big\\\": 123456789012345678901234567890}\"}"));
    expect_valid("{\"responses_create_params\":\"bad\",\"responses_create_params\":{\"input\":[]},"
                 "\"expected_action\":{\"type\":\"message\",\"content\":\"x\"}}");
    expect_error("{\"responses_create_params\":{\"input\":[]},\"responses_create_params\":7,"
                 "\"expected_action\":{\"type\":\"message\",\"content\":\"x\"}}", "must be an object");
    expect_valid("{\"responses_create_params\":{\"input\":[{\"content\":\"caf\xc3\xa9 \xf0\x9f\x98\x80 \\ud83d\\ude00\"}]},"
                 "\"expected_action\":{\"type\":\"message\",\"content\":\"x\"}}");
}

Test(ds_rules, unlisted_tool_is_a_counted_warning)
{
    const char *text =
        ROW("[" TOOL_W "]", "{\"type\":\"function_call\",\"name\":\"get_time\",\"arguments\":\"{}\"}") "\n"
        GOOD "\n"
        ROW("[" TOOL_W "]", "{\"type\":\"function_call_batch\",\"calls\":[" CALL_W ",{\"type\":\"function_call\","
            "\"name\":\"book\",\"arguments\":\"{}\"}]}") "\n";
    issues f;
    ds_dataset *ds;
    cr_assert_eq(open_text(text, strlen(text), true, false, 1, &f, &ds, NULL), 0);
    cr_assert_eq(f.errors, 0);
    cr_assert_eq(f.warnings, 2);
    cr_assert_eq(f.line[0], 1);
    cr_assert_eq(f.line[1], 3);
    cr_assert(strstr(f.msg[0], "'get_time'"), "%s", f.msg[0]);
    cr_assert_str_eq(f.kind[0], "unlisted_tool");
    cr_assert(strstr(f.msg[1], "'book'") && !strstr(f.msg[1], "get_weather"), "%s", f.msg[1]);
    cr_assert_eq(ds_warning_count(ds), 2);
    cr_assert_eq(ds_split_size(ds, 0), 3);   /* warnings never drop rows */
    ds_close(ds);
}

/* ---- file handling --------------------------------------------------------------- */

Test(ds_files, bom_blank_lines_crlf_and_no_final_newline)
{
    const char *text = "\xEF\xBB\xBF" GOOD "\r\n\r\n   \n" GOOD "\r\n\n\t\n" GOOD;
    issues f;
    ds_dataset *ds;
    cr_assert_eq(open_text(text, strlen(text), true, false, 2, &f, &ds, NULL), 0);
    cr_assert_eq(f.n, 0, "unexpected issue: %s", f.msg[0]);
    cr_assert_eq(ds_split_size(ds, 0), 3);
    size_t want_lines[] = {1, 4, 7};
    for (size_t i = 0; i < 3; i++) {
        const ds_task *t = ds_task_acquire(ds, 0, i, NULL, 0);
        cr_assert_not_null(t);
        cr_assert_eq(t->line, want_lines[i], "row %zu on line %zu", i, t->line);
        ds_task_release(ds, t);
    }
    ds_split_report r;
    ds_split_report_get(ds, 0, &r);
    cr_assert_eq(r.lines, 7);
    cr_assert_eq(r.rows, 3);
    ds_close(ds);
}

Test(ds_files, errors_report_their_line_numbers)
{
    const char *text = GOOD "\n\n{\"responses_create_params\":{\"input\":{}},\"expected_action\":" CALL_W "}\n" GOOD "\n[]\n";
    issues f;
    ds_dataset *ds;
    cr_assert_eq(open_text(text, strlen(text), true, false, 1, &f, &ds, NULL), -1);
    cr_assert_eq(f.errors, 2);
    cr_assert_eq(f.line[0], 3);
    cr_assert_eq(f.line[1], 5);
    cr_assert(strstr(f.msg[0], "input must be a list"));
    cr_assert_str_eq(f.kind[0], "input");
    cr_assert_str_eq(f.kind[1], "row");
}

Test(ds_files, truncated_file_errors_on_its_last_line)
{
    char text[4096];
    int n = snprintf(text, sizeof text, "%s\n%s\n%s", GOOD, GOOD, GOOD);
    for (size_t cut = 1; cut < strlen(GOOD); cut += 7) {
        issues f;
        ds_dataset *ds;
        int rc = open_text(text, (size_t)n - cut, true, true, 1, &f, &ds, NULL);
        cr_assert_eq(rc, 0);
        cr_assert_eq(f.errors, 1, "cut %zu: %zu errors", cut, f.errors);
        cr_assert_eq(f.line[0], 3);
        cr_assert_eq(ds_split_size(ds, 0), 2);
        cr_assert_eq(ds_skipped_rows(ds), 1);
        ds_close(ds);
    }
}

Test(ds_files, empty_and_missing_files)
{
    ds_dataset *ds;
    issues f;
    cr_assert_eq(open_text("", 0, true, false, 1, &f, &ds, NULL), 0);
    cr_assert_eq(ds_split_size(ds, 0), 0);
    cr_assert_null(ds_task_acquire(ds, 0, 0, NULL, 0));
    ds_close(ds);
    cr_assert_eq(open_text("\n\n  \n", 4, true, false, 1, &f, &ds, NULL), 0);
    cr_assert_eq(ds_split_size(ds, 0), 0);
    ds_close(ds);
    ds_split_spec sp = {"train", "/nonexistent/dir/x.jsonl"};
    char err[300] = "";
    cr_assert_eq(ds_open(&ds, &sp, 1, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "/nonexistent/dir/x.jsonl"), "%s", err);
    cr_assert_null(ds);
}

Test(ds_files, two_megabyte_row)
{
    size_t big = 2u << 20;
    char *text = malloc(big + 512);
    size_t n = (size_t)sprintf(text, "{\"responses_create_params\":{\"input\":[{\"role\":\"user\",\"content\":\"");
    for (size_t i = 0; i < big; i++)
        text[n++] = "abc defgh"[i % 9];
    n += (size_t)sprintf(text + n, "\"}],\"tools\":[" TOOL_W "]},\"expected_action\":" CALL_W "}\n");
    issues f;
    ds_dataset *ds;
    char *path;
    cr_assert_eq(open_text(text, n, true, false, 2, &f, &ds, &path), 0);
    cr_assert_eq(f.n, 0);
    const ds_task *t = ds_task_acquire(ds, 0, 0, NULL, 0);
    cr_assert_not_null(t);
    const char *content = json_string_value(json_object_get(json_array_get(t->input, 0), "content"));
    cr_assert_eq(strlen(content), big);
    ds_task_release(ds, t);
    ds_close(ds);
    unlink(path);
    free(path);
    free(text);
}

static char *write_gzip(const char *data, size_t len)
{
    char *path = tu_write_temp("", 0, ".jsonl.gz");
    gzFile gz = gzopen(path, "wb");
    cr_assert(gz);
    cr_assert_eq(gzwrite(gz, data, (unsigned)len), (int)len);
    gzclose(gz);
    return path;
}

static char *write_zstd(const char *data, size_t len, size_t keep_less)
{
    size_t cap = ZSTD_compressBound(len);
    char *buf = malloc(cap);
    size_t n = ZSTD_compress(buf, cap, data, len, 3);
    cr_assert(!ZSTD_isError(n));
    char *path = tu_write_temp(buf, n - keep_less, ".jsonl.zst");
    free(buf);
    return path;
}

static void expect_three_good_rows(const char *path)
{
    ds_dataset *ds;
    ds_split_spec sp = {"train", path};
    ds_open_options o = {.validate = true};
    char err[300];
    cr_assert_eq(ds_open(&ds, &sp, 1, &o, err, sizeof err), 0, "%s", err);
    cr_assert_eq(ds_split_size(ds, 0), 3);
    ds_split_report r;
    ds_split_report_get(ds, 0, &r);
    cr_assert(r.compressed);
    const ds_task *t = ds_task_acquire(ds, 0, 2, err, sizeof err);
    cr_assert_not_null(t, "%s", err);
    cr_assert_str_eq(t->id, "train-2");
    cr_assert_eq(t->line, 4);
    ds_task_release(ds, t);
    ds_close(ds);
}

Test(ds_files, gzip_and_zstd_inputs)
{
    const char *text = GOOD "\n" GOOD "\n\n" GOOD "\n";
    char *gz = write_gzip(text, strlen(text));
    char *zst = write_zstd(text, strlen(text), 0);
    expect_three_good_rows(gz);
    expect_three_good_rows(zst);
    unlink(gz);
    unlink(zst);
    free(gz);
    free(zst);
}

Test(ds_files, truncated_compressed_inputs_are_refused)
{
    char text[8192];
    size_t n = 0;
    for (int i = 0; i < 20; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%s\n", GOOD);
    char *zst = write_zstd(text, n, 9);
    ds_dataset *ds;
    ds_split_spec sp = {"train", zst};
    char err[300] = "";
    cr_assert_eq(ds_open(&ds, &sp, 1, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "zstd"), "%s", err);
    char *gzp = write_gzip(text, n);
    size_t glen;
    char *g = tu_read_file(gzp, &glen);
    char *cut = tu_write_temp(g, glen - 12, ".gz");
    sp.path = cut;
    cr_assert_eq(ds_open(&ds, &sp, 1, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "gzip"), "%s", err);
    unlink(zst); unlink(gzp); unlink(cut);
    free(zst); free(gzp); free(cut); free(g);
}

/* ---- skip_invalid, ordering, splits, ids ----------------------------------------- */

Test(ds_open, invalid_rows_fail_or_are_skipped)
{
    const char *bad = "{\"responses_create_params\":{\"input\":[]}}";
    char text[4096];
    int n = snprintf(text, sizeof text, "%s\n%s\n%s\n%s\n%s\n",
                     GOOD, bad, ROW("[" TOOL_W "]", "{\"type\":\"message\",\"content\":\"ok\"}"), bad, GOOD);
    ds_dataset *ds;
    issues f;
    cr_assert_eq(open_text(text, (size_t)n, true, false, 1, &f, &ds, NULL), -1);
    cr_assert_null(ds);
    cr_assert_eq(open_text(text, (size_t)n, true, true, 1, &f, &ds, NULL), 0);
    cr_assert_eq(f.errors, 2);
    cr_assert_eq(ds_split_size(ds, 0), 3);
    cr_assert_eq(ds_skipped_rows(ds), 2);
    cr_assert_eq(ds_error_count(ds), 2);
    size_t lines[] = {1, 3, 5};
    for (size_t i = 0; i < 3; i++) {
        const ds_task *t = ds_task_acquire(ds, 0, i, NULL, 0);
        cr_assert_not_null(t);
        cr_assert_eq(t->line, lines[i]);
        cr_assert_eq(t->index, i);
        ds_task_release(ds, t);
    }
    const ds_task *t = ds_task_acquire(ds, 0, 1, NULL, 0);
    cr_assert_eq(grade_action_kind_of(t->expected), GRADE_ACTION_MESSAGE);
    ds_task_release(ds, t);
    ds_close(ds);
}

Test(ds_open, issues_arrive_in_line_order_with_two_threads)
{
    size_t rows = 6000, n = 0;
    char *text = malloc(rows * 400);
    for (size_t i = 0; i < rows; i++)
        n += (size_t)sprintf(text + n, "%s\n", i % 7 == 3 ? "{\"responses_create_params\":{}}" : GOOD);
    issues f;
    ds_dataset *ds;
    cr_assert_eq(open_text(text, n, true, true, 2, &f, &ds, NULL), 0);
    cr_assert(f.ordered);
    size_t bad = 0;
    for (size_t i = 0; i < rows; i++)
        bad += i % 7 == 3;
    cr_assert_eq(f.errors, bad);
    cr_assert_eq(f.line[0], 4);
    cr_assert_eq(f.line[1], 11);
    cr_assert_eq(ds_split_size(ds, 0), rows - bad);
    ds_close(ds);
    free(text);
}

typedef struct rowcount {
    size_t valid[64], invalid[64], user[64], words[64];
} rowcount;

static void count_rows(const ds_row_info *ri, void *ctx)
{
    rowcount *c = ctx;
    if (ri->valid) {
        c->valid[ri->worker]++;
        c->user[ri->worker] += ri->n_user;
        c->words[ri->worker] += ri->n_words;
    } else {
        c->invalid[ri->worker]++;
    }
}

Test(ds_open, on_row_sees_every_row_with_measures)
{
    const char *row = "{\"responses_create_params\":{\"input\":[{\"role\":\"system\",\"content\":\"be brief\"},"
                      "{\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"one two\\nthree\"}],\"type\":\"message\"},"
                      "{\"type\":\"reasoning\",\"summary\":[{\"text\":\"not counted\"}]},"
                      "{\"role\":\"user\",\"type\":\"message\",\"content\":\"four\"}]},"
                      "\"expected_action\":{\"type\":\"message\",\"content\":\"x\"}}";
    size_t rows = 3000, n = 0;
    char *text = malloc(rows * 600);
    for (size_t i = 0; i < rows; i++)
        n += (size_t)sprintf(text + n, "%s\n", i % 10 == 0 ? "nope" : row);
    char *path = tu_write_temp(text, n, ".jsonl");
    rowcount c = {0};
    ds_split_spec sp = {"train", path};
    ds_open_options o = {.validate = true, .skip_invalid = true, .threads = 2, .on_row = count_rows,
                         .ctx = &c, .measure = true};
    ds_dataset *ds;
    cr_assert_eq(ds_open(&ds, &sp, 1, &o, NULL, 0), 0);
    size_t valid = 0, invalid = 0, user = 0, words = 0;
    for (int t = 0; t < 64; t++) {
        valid += c.valid[t];
        invalid += c.invalid[t];
        user += c.user[t];
        words += c.words[t];
    }
    cr_assert_eq(valid, rows - rows / 10);
    cr_assert_eq(invalid, rows / 10);
    cr_assert_eq(user, 2 * valid);
    cr_assert_eq(words, 6 * valid);
    ds_close(ds);
    unlink(path);
    free(path);
    free(text);
}

Test(ds_splits, several_splits_and_ids)
{
    char *a = tu_write_temp(GOOD "\n" GOOD "\n", strlen(GOOD) * 2 + 2, ".jsonl");
    char *b = tu_write_temp(GOOD "\n" GOOD "\n" GOOD "\n", strlen(GOOD) * 3 + 3, ".jsonl");
    ds_split_spec sp[2] = {{"train", a}, {"dev-v1", b}};
    ds_dataset *ds;
    char err[300];
    ds_open_options o = {.validate = true};
    cr_assert_eq(ds_open(&ds, sp, 2, &o, err, sizeof err), 0, "%s", err);
    cr_assert_eq(ds_split_count(ds), 2);
    cr_assert_str_eq(ds_split_name(ds, 1), "dev-v1");
    cr_assert_eq(ds_split_find(ds, "dev-v1"), 1);
    cr_assert_eq(ds_split_find(ds, "dev"), -1);
    cr_assert_eq(ds_split_size(ds, 1), 3);
    size_t s, i;
    cr_assert_eq(ds_task_find(ds, "dev-v1-2", &s, &i), 0);
    cr_assert_eq(s, 1);
    cr_assert_eq(i, 2);
    cr_assert_eq(ds_task_find(ds, "train-1", &s, &i), 0);
    cr_assert_eq(s, 0);
    cr_assert_eq(i, 1);
    const char *bad[] = {"train-2", "dev-v1-3", "train-01", "train-", "train", "dev-1", "nope-0",
                         "train-1x", "-1", "train--1", "dev-v1-99999999999999999999", ""};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++)
        cr_assert_eq(ds_task_find(ds, bad[k], &s, &i), -1, "accepted '%s'", bad[k]);
    const ds_task *t = ds_task_acquire(ds, 1, 2, NULL, 0);
    cr_assert_str_eq(t->id, "dev-v1-2");
    cr_assert_str_eq(t->split, "dev-v1");
    cr_assert_eq(t->split_index, 1);
    ds_task_release(ds, t);
    ds_close(ds);

    ds_split_spec dup[2] = {{"train", a}, {"train", b}};
    cr_assert_eq(ds_open(&ds, dup, 2, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "duplicate split"));
    ds_split_spec badname = {"tr ain", a};
    cr_assert_eq(ds_open(&ds, &badname, 1, NULL, err, sizeof err), -1);
    unlink(a); unlink(b);
    free(a); free(b);
}

/* ---- tasks -------------------------------------------------------------------------- */

Test(ds_tasks, tools_are_normalised_and_public_view_hides_the_answer)
{
    const char *row = "{\"responses_create_params\":{\"input\":" INPUT ",\"tools\":["
                      "{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"W\","
                      "\"parameters\":{\"type\":\"object\",\"properties\":{}},\"strict\":true}},"
                      "{\"type\":\"function\",\"name\":\"get_time\"}],"
                      "\"tool_choice\":\"auto\",\"parallel_tool_calls\":false},"
                      "\"expected_action\":" CALL_W ",\"trajectory_id\":77,\"info\":{\"turn\":2,\"step\":1,\"depth\":5},"
                      "\"agent_ref\":{\"type\":\"responses_api_agents\",\"name\":\"a\"},\"extra\":1}";
    ds_dataset *ds;
    cr_assert_eq(open_text(row, strlen(row), true, false, 1, NULL, &ds, NULL), 0);
    const ds_task *t = ds_task_acquire(ds, 0, 0, NULL, 0);
    cr_assert_not_null(t);
    json_t *want = json_loads("[{\"type\":\"function\",\"name\":\"get_weather\",\"description\":\"W\","
                              "\"parameters\":{\"type\":\"object\",\"properties\":{}},\"strict\":true},"
                              "{\"type\":\"function\",\"name\":\"get_time\",\"description\":\"\","
                              "\"parameters\":{\"type\":\"object\",\"properties\":{}}}]", 0, NULL);
    /* ds keeps the row's function objects; prompt shows them normalised */
    cr_assert_eq(json_array_size(t->tools), 2);
    cr_assert_str_eq(prompt_tool_name(json_array_get(t->tools, 1)), "get_time");
    util_buf blocks = UTIL_BUF_INIT;
    cr_assert_eq(prompt_blocks_text(t, &blocks), 0);
    json_t *shown = json_loadb(blocks.data, blocks.len, 0, NULL);
    json_t *tools = json_object_get(json_object_get(json_array_get(shown, 0), "detail"), "tools");
    cr_assert(json_equal(tools, want), "tools: %.*s", (int)blocks.len, blocks.data);
    /* the ORS-side members are read from the row where they are needed */
    const json_t *detail = json_object_get(json_array_get(shown, 0), "detail");
    cr_assert_str_eq(json_string_value(json_object_get(detail, "tool_choice")), "auto");
    cr_assert(json_is_false(json_object_get(detail, "parallel_tool_calls")));
    json_decref(shown);
    util_buf_free(&blocks);
    json_decref(want);
    cr_assert_not_null(json_object_get(t->row, "agent_ref"));                 /* kept */
    cr_assert_eq(json_integer_value(json_object_get(t->row, "extra")), 1);   /* kept */
    cr_assert_eq(grade_action_kind_of(t->expected), GRADE_ACTION_CALL);
    cr_assert_str_eq(grade_action_call_name(t->expected, 0), "get_weather");
    ds_task_release(ds, t);

    json_t *pub = pubtask_json(ds, 0, 0);
    cr_assert_not_null(pub);
    cr_assert_str_eq(json_string_value(json_object_get(pub, "id")), "train-0");
    cr_assert_str_eq(json_string_value(json_object_get(pub, "split")), "train");
    cr_assert_eq(json_integer_value(json_object_get(pub, "index")), 0);
    cr_assert_eq(json_integer_value(json_object_get(pub, "trajectory_id")), 77);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(pub, "info"), "turn")), 2);
    char *s = json_dumps(pub, 0);
    cr_assert_null(strstr(s, "expected"), "public view leaks: %s", s);
    cr_assert_null(strstr(s, "Paris"), "public view leaks: %s", s);
    free(s);
    json_decref(pub);
    cr_assert_null(pubtask_json(ds, 0, 1));
    ds_close(ds);
}

/* A session keeps the expected action after the task goes back
 * (ds_expected_hold): the task built again for the row shares that action,
 * it is not parsed a second time; the row forgets it with the last hold. */
static void held_action_is_shared(bool validate)
{
    const char *text = GOOD "\n";
    ds_dataset *ds;
    cr_assert_eq(open_text(text, strlen(text), validate, false, 1, NULL, &ds, NULL), 0);
    const ds_task *a = ds_task_acquire(ds, 0, 0, NULL, 0);
    cr_assert_not_null(a);
    const grade_action *held = ds_expected_hold(ds, a);
    cr_assert_eq(held, a->expected);
    ds_task_release(ds, a);                  /* the row's tree goes; the action stays */
    cr_assert_eq(grade_action_kind_of(held), GRADE_ACTION_CALL);
    const ds_task *b = ds_task_acquire(ds, 0, 0, NULL, 0);
    cr_assert_not_null(b);
    cr_assert_eq(b->expected, held, "the task built again must share the held action");
    cr_assert_not_null(b->row);
    cr_assert_gt(json_array_size(b->tools), 0);
    const grade_action *again = ds_expected_hold(ds, b);
    ds_expected_release(ds, 0, 0);
    ds_task_release(ds, b);
    cr_assert_eq(again, held);
    ds_expected_release(ds, 0, 0);           /* the last hold: the row forgets the action */
    const ds_task *c = ds_task_acquire(ds, 0, 0, NULL, 0);
    cr_assert_not_null(c);
    cr_assert_eq(grade_action_kind_of(c->expected), GRADE_ACTION_CALL);
    ds_task_release(ds, c);
    ds_close(ds);   /* ASan/valgrind: nothing leaks, nothing is freed twice */
}

Test(ds_tasks, a_held_expected_action_is_shared_when_the_task_is_built_again)
{
    held_action_is_shared(true);
    held_action_is_shared(false);           /* dsval's parse is the one kept */
}

Test(ds_tasks, acquire_shares_and_release_frees)
{
    const char *text = GOOD "\n" GOOD "\n";
    ds_dataset *ds;
    cr_assert_eq(open_text(text, strlen(text), true, false, 1, NULL, &ds, NULL), 0);
    const ds_task *a = ds_task_acquire(ds, 0, 0, NULL, 0);
    const ds_task *b = ds_task_acquire(ds, 0, 0, NULL, 0);
    const ds_task *c = ds_task_acquire(ds, 0, 1, NULL, 0);
    cr_assert_eq(a, b, "the same row must give the same shared task");
    cr_assert_neq(a, c);
    ds_task_release(ds, a);
    cr_assert_str_eq(b->id, "train-0");            /* still held by b */
    const ds_task *d = ds_task_acquire(ds, 0, 0, NULL, 0);
    cr_assert_eq(d, b);
    ds_task_release(ds, b);
    ds_task_release(ds, d);
    ds_task_release(ds, c);
    char err[100] = "";
    cr_assert_null(ds_task_acquire(ds, 0, 2, err, sizeof err));
    cr_assert(err[0]);
    cr_assert_null(ds_task_acquire(ds, 3, 0, NULL, 0));
    ds_close(ds);   /* valgrind/ASan prove the released tasks were freed */
}

typedef struct hammer {
    ds_dataset *ds;
    unsigned seed;
    size_t ok;
} hammer;

static void *hammer_run(void *arg)
{
    hammer *h = arg;
    const ds_task *held[16] = {0};
    for (int i = 0; i < 20000; i++) {
        h->seed = h->seed * 1103515245u + 12345u;
        unsigned slot = (h->seed >> 8) % 16, row = (h->seed >> 16) % 3;
        if (held[slot]) {
            ds_task_release(h->ds, held[slot]);
            held[slot] = NULL;
        } else if ((held[slot] = ds_task_acquire(h->ds, 0, row, NULL, 0))) {
            h->ok += held[slot]->index == row && !strncmp(held[slot]->id, "train-", 6);
        }
    }
    for (int s = 0; s < 16; s++)
        ds_task_release(h->ds, held[s]);
    return NULL;
}

Test(ds_tasks, concurrent_acquire_release)
{
    const char *text = GOOD "\n" GOOD "\n" GOOD "\n";
    ds_dataset *ds;
    cr_assert_eq(open_text(text, strlen(text), true, false, 1, NULL, &ds, NULL), 0);
    hammer h[4];
    pthread_t tid[4];
    for (int i = 0; i < 4; i++) {
        h[i] = (hammer){ds, (unsigned)i * 7919u + 1u, 0};
        pthread_create(&tid[i], NULL, hammer_run, &h[i]);
    }
    size_t ok = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(tid[i], NULL);
        ok += h[i].ok;
    }
    cr_assert_gt(ok, 10000);
    ds_close(ds);
}

/* ---- garbage ---------------------------------------------------------------------- */

static unsigned long long rng_next(unsigned long long *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* A garbage line: random bytes, or a valid row with a few bytes mutated or
 * cut off. Never contains '\n'. */
static size_t garbage_line(unsigned long long *s, char *out, size_t cap)
{
    static const char alphabet[] = "{}[]\":,\\ 0123456789.eE-+tfnulrsa\xc3\xa9\xff\x01ux";
    size_t n;
    if (rng_next(s) % 3 == 0) {
        n = 1 + rng_next(s) % 200;
        for (size_t i = 0; i < n; i++)
            out[i] = alphabet[rng_next(s) % (sizeof alphabet - 1)];
    } else {
        n = strlen(GOOD);
        memcpy(out, GOOD, n);
        int muts = 1 + (int)(rng_next(s) % 3);
        for (int m = 0; m < muts; m++)
            out[rng_next(s) % n] = alphabet[rng_next(s) % (sizeof alphabet - 1)];
        if (rng_next(s) % 4 == 0)
            n = 1 + rng_next(s) % n;
    }
    (void)cap;
    for (size_t i = 0; i < n; i++)
        if (out[i] == '\n')
            out[i] = ' ';
    return n;
}

/* jtext_build gives exactly json_loadb's value: same text when dumped. */
static void expect_same_build(const char *p, size_t len, const json_t *want)
{
    json_t *got = jtext_build(p, len, 0);
    cr_assert_not_null(got, "jtext_build refused %.*s", (int)len, p);
    char *a = json_dumps(want, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
    char *b = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
    cr_assert_str_eq(b, a, "built value differs for %.*s", (int)len, p);
    free(a);
    free(b);
    json_decref(got);
}

Test(ds_rules, built_values_equal_the_loaders)
{
    const char *cases[] = {
        "{\"b\":1,\"a\":[true,false,null,-0,1.5e-3,-9223372036854775808,\"\\u00e9\\ud83d\\ude00\\n\"],\"b\":{\"\":{}}}",
        "[]", "\"x\\u0000y\"", "  3.25 ", "{\"k\\u0001\":[[[{}]]]}", GOOD,
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *v = json_loadb(cases[i], strlen(cases[i]), JSON_ALLOW_NUL | JSON_DECODE_ANY, NULL);
        cr_assert_not_null(v, "%s", cases[i]);
        expect_same_build(cases[i], strlen(cases[i]), v);
        json_decref(v);
    }
    size_t len;
    char *sample = tu_read_file(tu_path("data/sample.jsonl"), &len);
    cr_assert_not_null(sample);
    for (char *p = sample, *nl; p < sample + len; p = nl + 1) {
        nl = memchr(p, '\n', (size_t)(sample + len - p));
        json_t *v = json_loadb(p, (size_t)(nl - p), 0, NULL);
        expect_same_build(p, (size_t)(nl - p), v);
        json_decref(v);
    }
    free(sample);
    cr_assert_null(jtext_build("{", 1, 0));
}

Test(ds_rules, pick_builds_only_the_named_members)
{
    static const char *const keys[] = {"info", "trajectory_id"};
    const char *row = "{\"info\":1,\"x\":[{\"info\":9}],\"info\":{\"turn\":[2]},\"tr\\u0061jectory_id\":5}";
    json_t *got = jtext_pick(row, strlen(row), 0, keys, 2);
    json_t *want = json_loads("{\"info\":{\"turn\":[2]},\"trajectory_id\":5}", 0, NULL);
    cr_assert(json_equal(got, want));
    json_decref(got);
    json_decref(want);
    got = jtext_pick("{\"a\":1}", 7, 0, keys, 2);
    cr_assert_eq(json_object_size(got), 0);
    json_decref(got);
    cr_assert_null(jtext_pick("[1]", 3, 0, keys, 2));
    cr_assert_null(jtext_pick("{\"info\":", 8, 0, keys, 2));
}

Test(ds_garbage, ten_thousand_garbage_lines)
{
    size_t lines = 10000, n = 0;
    char *text = malloc(lines * 600);
    unsigned long long seed = 0x5eed1234abcdULL;
    size_t syntax_disagree = 0;
    for (size_t i = 0; i < lines; i++) {
        size_t len = garbage_line(&seed, text + n, 600);
        /* The scanner and the row loader accept exactly the same JSON. */
        json_error_t je;
        json_t *v = json_loadb(text + n, len, JSON_ALLOW_NUL | JSON_DECODE_ANY, &je);
        bool ok = jtext_valid(text + n, len, 0, NULL, 0);
        if (ok != (v != NULL))
            syntax_disagree++;
        if (v)
            expect_same_build(text + n, len, v);
        json_decref(v);
        n += len;
        text[n++] = '\n';
    }
    cr_assert_eq(syntax_disagree, 0);
    issues f;
    ds_dataset *ds;
    cr_assert_eq(open_text(text, n, true, true, 2, &f, &ds, NULL), 0);
    cr_assert(f.ordered);
    ds_split_report r;
    ds_split_report_get(ds, 0, &r);
    cr_assert_gt(f.errors, lines / 2, "only %zu errors", f.errors);
    cr_assert_eq(r.errors, f.errors);
    cr_assert_eq(r.served + r.errors, r.rows);
    /* Whatever survived validation must be usable. */
    for (size_t i = 0; i < r.served; i++) {
        char err[300];
        const ds_task *t = ds_task_acquire(ds, 0, i, err, sizeof err);
        cr_assert_not_null(t, "validated row %zu refused: %s", i, err);
        ds_task_release(ds, t);
    }
    /* Without validation, acquire refuses bad rows one by one, no crash. */
    ds_dataset *raw;
    cr_assert_eq(open_text(text, n, false, false, 1, NULL, &raw, NULL), 0);
    size_t refused = 0;
    for (size_t i = 0; i < ds_split_size(raw, 0); i++) {
        const ds_task *t = ds_task_acquire(raw, 0, i, NULL, 0);
        refused += t == NULL;
        ds_task_release(raw, t);
    }
    cr_assert_eq(refused, r.errors);
    ds_close(raw);
    ds_close(ds);
    free(text);
}

/* ---- real and sample data --------------------------------------------------------- */

/* The file loads with no finding but warnings of kind allowed (or none). */
static void expect_clean_but(const char *path, size_t rows, const char *allowed)
{
    ds_split_spec sp = {"train", path};
    issues f = {.ordered = true};
    ds_open_options o = {.validate = true, .on_issue = collect, .ctx = &f};
    ds_dataset *ds;
    char err[400];
    cr_assert_eq(ds_open(&ds, &sp, 1, &o, err, sizeof err), 0, "%s", err);
    cr_assert_eq(f.errors, 0, "%s:%zu: %s", path, f.line[0], f.msg[0]);
    for (size_t i = 0; i < f.n && i < 64; i++)
        cr_assert(allowed && !strcmp(f.kind[i], allowed), "%s:%zu: %s", path, f.line[i], f.msg[i]);
    cr_assert_eq(ds_split_size(ds, 0), rows);
    for (size_t i = 0; i < rows; i++) {
        const ds_task *t = ds_task_acquire(ds, 0, i, err, sizeof err);
        cr_assert_not_null(t, "%s", err);
        cr_assert_gt(json_array_size(t->input), 0);
        ds_task_release(ds, t);
    }
    ds_close(ds);
}

Test(ds_shared, example_files_load_and_validate_clean)
{
    /* their rows carry "metadata": null, which NeMo Gym's validator flags */
    TU_REQUIRE_SHARED(ex, "data/example.jsonl");
    expect_clean_but(ex, 5, "metadata_null");
    TU_REQUIRE_SHARED(par, "data/parallel_example.jsonl");
    expect_clean_but(par, 5, NULL);
    TU_REQUIRE_SHARED(roll, "data/example_rollouts.jsonl");
    expect_clean_but(roll, 5, "metadata_null");
}

Test(ds_sample, builtin_sample_is_clean_and_complete)
{
    const char *path = tu_path("data/sample.jsonl");
    expect_clean_but(path, 200, NULL);
    ds_split_spec sp = {"train", path};
    ds_open_options o = {.validate = true};
    ds_dataset *ds;
    cr_assert_eq(ds_open(&ds, &sp, 1, &o, NULL, 0), 0);
    ds_split_report r;
    ds_split_report_get(ds, 0, &r);
    cr_assert_eq(r.kinds[GRADE_ACTION_CALL], 140);
    cr_assert_eq(r.kinds[GRADE_ACTION_MESSAGE], 50);
    cr_assert_eq(r.kinds[GRADE_ACTION_BATCH], 10);
    cr_assert_eq(r.warnings, 0);
    for (size_t i = 0; i < 200; i++) {
        const ds_task *t = ds_task_acquire(ds, 0, i, NULL, 0);
        const json_t *info = json_object_get(t->row, "info");
        cr_assert(json_is_integer(json_object_get(t->row, "trajectory_id")));
        cr_assert(json_is_object(info) && json_object_get(info, "depth"));
        cr_assert(json_is_object(json_object_get(t->row, "agent_ref")));
        cr_assert_gt(json_array_size(t->tools), 0);
        ds_task_release(ds, t);
    }
    ds_close(ds);
}
