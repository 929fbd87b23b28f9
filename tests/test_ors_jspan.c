/* Tests of jspan (member spans of JSON object text) and of the public task
 * descriptions built with it. */
#include <stdlib.h>
#include <string.h>
#include "test_ors_fixture.h"
#include "jspan.h"

/* The text of member name in json, "" when absent (static buffer). */
static const char *member(const char *json, const char *name)
{
    static char buf[256];
    /* an exact-size copy so that ASan catches any read past the end */
    size_t len = strlen(json);
    char *copy = malloc(len ? len : 1);
    memcpy(copy, json, len);
    const char *names[1] = {name};
    jspan s;
    jspan_members(copy, copy + len, names, 1, &s);
    buf[0] = '\0';
    if (s.v)
        snprintf(buf, sizeof buf, "%.*s", (int)(s.end - s.v), s.v);
    free(copy);
    return buf;
}

Test(jspan, finds_top_level_members_only)
{
    const char *j = "{\"a\":{\"b\":[1,{\"c\":\"}\"}],\"x\":\"]\\\"\"},\"b\" : 2 , \"c\":[[],{}],\"d\":\"s\\\\\"}";
    cr_assert_str_eq(member(j, "a"), "{\"b\":[1,{\"c\":\"}\"}],\"x\":\"]\\\"\"}");
    cr_assert_str_eq(member(j, "b"), "2");
    cr_assert_str_eq(member(j, "c"), "[[],{}]");
    cr_assert_str_eq(member(j, "d"), "\"s\\\\\"");
    cr_assert_str_eq(member(j, "x"), "", "nested keys are not top-level members");
}

Test(jspan, duplicates_escapes_bom_and_literals)
{
    cr_assert_str_eq(member("{\"k\":1,\"k\":[2]}", "k"), "[2]");
    cr_assert_str_eq(member("{\"\\u006b\":true}", "k"), "true");
    cr_assert_str_eq(member("\xEF\xBB\xBF{\"k\":null}", "k"), "null");
    cr_assert_str_eq(member(" \n{\"k\":-1.5e3}", "k"), "-1.5e3");
    cr_assert_str_eq(member("[{\"k\":1}]", "k"), "", "not an object");
    cr_assert(jspan_is_object(" {}", " {}" + 3));
    cr_assert_not(jspan_is_object(" []", " []" + 3));
    cr_assert_not(jspan_is_object("", ""));
}

Test(jspan, never_reads_past_broken_text)
{
    const char *broken[] = {"{", "{\"", "{\"k", "{\"k\"", "{\"k\":", "{\"k\":\"", "{\"k\":\"\\",
                            "{\"k\":[", "{\"k\":[\"", "{\"k\":{\"a\":[1,", "{\"k\":1,", "{\"k\":tru",
                            "{\"k\"::::", "{,,,\"k\":1"};
    for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++)
        (void)member(broken[i], "k");   /* ASan checks the bounds */
    cr_assert_str_eq(member("{\"k\":[1,2", "k"), "[1,2");
}

Test(jspan, json_of_a_span)
{
    const char *j = "{\"k\":{\"a\":\"\\u0000\"}}";
    const char *names[1] = {"k"};
    jspan s;
    jspan_members(j, j + strlen(j), names, 1, &s);
    json_t *v = jspan_json(s);
    cr_assert(json_is_object(v));
    cr_assert_eq(json_string_length(json_object_get(v, "a")), 1);
    json_decref(v);
    cr_assert_null(jspan_json((jspan){NULL, NULL}));
}

/* The public tasks listed by /tasks equal ds_task_public for every row. */
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
        json_t *want = ds_task_public(ds, split, i);
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

Test(jspan, public_tasks_equal_the_dataset_layer)
{
    fx f;
    fx_open(&f, NULL);
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
    ors_env_free(env);
    ds_close(ds);
}
