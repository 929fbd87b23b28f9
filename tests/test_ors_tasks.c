/* Tests of the public task descriptions listed by /tasks (read from the row
 * text without parsing the conversation). Member spans: tests/test_jtext.c. */
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
