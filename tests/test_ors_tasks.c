/* Tests of the public task descriptions listed by /tasks (pubtask, read from the row
 * text without parsing the conversation) and of ds_rows_visit, the guarded
 * read they use. Member spans: tests/test_jtext.c. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "pubtask.h"
#include "test_ors_fixture.h"

/* The public tasks listed by /tasks equal pubtask_json for every row. */
static void public_tasks_match(ds_dataset *ds, ors_env *env, size_t split)
{
    char body[64];
    snprintf(body, sizeof body, "{\"split\":\"%s\"}", ds_split_name(ds, split));
    wire_request req = {.method = "POST", .path = "/x/tasks", .body = body, .body_len = strlen(body)};
    wire_reply r = {0};
    ors_tasks(env, &req, &r);
    cr_assert_eq(r.status, 200);
    json_t *j = json_loadb(r.body, r.body_len, 0, NULL);
    json_t *tasks = json_object_get(j, "tasks");
    cr_assert_eq(json_array_size(tasks), ds_split_size(ds, split));
    for (size_t i = 0; i < ds_split_size(ds, split); i++) {
        json_t *want = pubtask_json(ds, split, i);
        cr_assert(json_equal(json_array_get(tasks, i), want), "row %zu", i);
        char *a = json_dumps(json_array_get(tasks, i), JSON_COMPACT), *b = json_dumps(want, JSON_COMPACT);
        cr_assert_str_eq(a, b, "same key order");
        free(a);
        free(b);
        json_decref(want);
    }
    json_decref(j);
    wire_reply_free(&r);
}

Test(ors_tasks, public_tasks_equal_the_dataset_layer)
{
    fx f;
    fx_open(&f, NULL);
    /* twice: the first listing walks the rows, the second copies the spans
     * the first kept */
    for (int pass = 0; pass < 2; pass++)
        for (size_t s = 0; s < ds_split_count(f.ds); s++)
            public_tasks_match(f.ds, f.env, s);
    fx_close(&f);
    ds_split_spec spec = {"train", tu_path("data/sample.jsonl")};
    ds_open_options opts = {0};
    ds_dataset *ds;
    char err[256];
    cr_assert_eq(ds_open(&ds, &spec, 1, &opts, err, sizeof err), 0, "%s", err);
    ors_env *env = ors_env_new(ds, NULL, NULL, err, sizeof err);
    public_tasks_match(ds, env, 0);
    public_tasks_match(ds, env, 0);
    ors_env_free(env);
    ds_close(ds);
}

/* pubtask directly: a listing walked row by row (no table) and one copied
 * from the table are the same bytes, a single task is its element, and a
 * range out of bounds is refused with a reason. */
Test(ors_tasks, pubtask_list_is_the_same_with_or_without_its_table)
{
    ds_split_spec spec = {"train", tu_path("data/sample.jsonl")};
    for (int validate = 0; validate < 2; validate++) {
        ds_open_options opts = {.validate = validate == 1};
        ds_dataset *ds;
        char err[256];
        cr_assert_eq(ds_open(&ds, &spec, 1, &opts, err, sizeof err), 0, "%s", err);
        pubtask_table *t = pubtask_table_new(ds);
        cr_assert_not_null(t);
        size_t n = ds_split_size(ds, 0);
        util_buf walked = UTIL_BUF_INIT, built = UTIL_BUF_INIT, copied = UTIL_BUF_INIT;
        cr_assert_eq(pubtask_list(ds, NULL, 0, 0, n, &walked, err, sizeof err), 0, "%s", err);
        cr_assert_eq(pubtask_list(ds, t, 0, 0, n, &built, err, sizeof err), 0, "%s", err);
        cr_assert_eq(pubtask_list(ds, t, 0, 0, n, &copied, err, sizeof err), 0, "%s", err);
        cr_assert_str_eq(walked.data, built.data);
        cr_assert_str_eq(walked.data, copied.data);
        json_t *all = json_loadb(walked.data, walked.len, 0, NULL);
        cr_assert_eq(json_array_size(all), n);
        util_buf one = UTIL_BUF_INIT;
        cr_assert_eq(pubtask_text(ds, t, 0, 7, &one, err, sizeof err), 0, "%s", err);
        json_t *seven = json_loadb(one.data, one.len, 0, NULL);
        cr_assert(json_equal(seven, json_array_get(all, 7)), "%s", one.data);
        cr_assert_eq(pubtask_list(ds, t, 0, 3, n + 1, &one, err, sizeof err), -1);
        cr_assert(strstr(err, "no rows"), "%s", err);
        cr_assert_eq(pubtask_text(ds, NULL, 0, n, &one, err, sizeof err), -1);
        json_decref(seven);
        json_decref(all);
        util_buf_free(&one);
        util_buf_free(&walked);
        util_buf_free(&built);
        util_buf_free(&copied);
        pubtask_table_free(t);
        ds_close(ds);
    }
}

typedef struct visited {
    size_t calls, first, last, bytes;
    size_t stop_at;      /* index whose call returns 7, or SIZE_MAX */
} visited;

static int note_row(void *ctx, size_t index, const char *row, size_t len)
{
    visited *v = ctx;
    if (!v->calls)
        v->first = index;
    v->calls++;
    v->last = index;
    v->bytes += len;
    cr_assert_eq(row[0], '{');
    return index == v->stop_at ? 7 : 0;
}

/* ds_rows_visit calls back in order with each row's own bytes, stops at a
 * nonzero return and hands it back, and refuses a range out of bounds. */
Test(ors_tasks, rows_visit_reads_rows_in_order_and_stops_on_request)
{
    ds_split_spec spec = {"train", tu_path("data/sample.jsonl")};
    ds_open_options opts = {.validate = true};
    ds_dataset *ds;
    char err[256];
    cr_assert_eq(ds_open(&ds, &spec, 1, &opts, err, sizeof err), 0, "%s", err);
    cr_assert(ds_validated(ds));
    visited v = {.stop_at = SIZE_MAX};
    cr_assert_eq(ds_rows_visit(ds, 0, 10, 20, note_row, &v, err, sizeof err), 0, "%s", err);
    size_t want = 0, len;
    for (size_t i = 10; i < 20; i++) {
        ds_row_text(ds, 0, i, &len, NULL);
        want += len;
    }
    cr_assert(v.calls == 10 && v.first == 10 && v.last == 19 && v.bytes == want);
    v = (visited){.stop_at = 12};
    cr_assert_eq(ds_rows_visit(ds, 0, 10, 20, note_row, &v, err, sizeof err), 7);
    cr_assert_eq(v.calls, 3);
    cr_assert_eq(ds_rows_visit(ds, 0, 5, ds_split_size(ds, 0) + 1, note_row, &v, err, sizeof err), -1);
    cr_assert(strstr(err, "no rows"), "%s", err);
    ds_close(ds);
}
