/* Full ORS episodes over real datasets, handler level (no HTTP): for every
 * row, one session submits the expected action (reward 1) and another a wrong
 * one (reward 0). Runs on the project's data/sample.jsonl and, when present,
 * on ../shared/data/example.jsonl and parallel_example.jsonl. Batch rows are
 * graded under a configuration that rewards a subset (one ORS call can only
 * carry one function call). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "testutil.h"
#include "ors.h"

typedef struct world {
    ds_dataset *ds;
    ors_env *env;
} world;

static void world_open(world *w, const char *path, bool subset)
{
    ds_split_spec spec = {"train", path};
    ds_open_options opts = {.validate = true, .threads = 1};
    char err[512];
    cr_assert_eq(ds_open(&w->ds, &spec, 1, &opts, err, sizeof err), 0, "%s: %s", path, err);
    ors_config cfg;
    ors_config_default(&cfg);
    if (subset) {
        cfg.grading.parallel_rewarding = true;
        cfg.grading.allow_subset = true;
    }
    w->env = ors_env_new(w->ds, &cfg, NULL, err, sizeof err);
    cr_assert(w->env, "%s", err);
}

static void world_close(world *w)
{
    ors_env_free(w->env);
    ds_close(w->ds);
}

static wire_reply req(world *w, void (*h)(ors_env *, const wire_request *, wire_reply *),
                      const char *sid, const char *body)
{
    wire_request rq = {.method = "POST", .path = "/", .session_id = sid, .body = body,
                       .body_len = body ? strlen(body) : 0, .param = ors_env_name(w->env)};
    wire_reply r = {0};
    h(w->env, &rq, &r);
    return r;
}

/* The reassembled result of an SSE call reply. */
static json_t *sse_result(const wire_reply *r)
{
    cr_assert_str_eq(r->content_type, WIRE_SSE);
    char *joined = calloc(1, r->body_len + 1);
    size_t n = 0;
    const char *p = strstr(r->body, "\n\n") + 2;   /* skip the task_id event */
    while (p < r->body + r->body_len) {
        const char *data = strstr(p, "\ndata: ") + 7, *end = strchr(data, '\n');
        memcpy(joined + n, data, (size_t)(end - data));
        n += (size_t)(end - data);
        p = end + 2;
    }
    json_t *j = json_loadb(joined, n, 0, NULL);
    cr_assert(j, "bad result: %s", joined);
    free(joined);
    return j;
}

/* A /call body performing action (a dataset expected_action or one call). */
static char *call_body(const json_t *action)
{
    const char *type = json_string_value(json_object_get(action, "type"));
    json_t *body;
    if (strcmp(type, "message") == 0) {
        body = json_pack("{s:s, s:{s:O}}", "name", "submit_message", "input", "content",
                         json_object_get(action, "content"));
    } else {
        if (strcmp(type, "function_call_batch") == 0)
            action = json_array_get(json_object_get(action, "calls"), 0);
        json_t *args = json_loads(json_string_value(json_object_get(action, "arguments")), 0, NULL);
        cr_assert(json_is_object(args));
        body = json_pack("{s:O, s:o}", "name", json_object_get(action, "name"), "input", args);
    }
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    return text;
}

/* A wrong action for the row: a message when a call is expected, else a call
 * of the first row tool that is not submit_message (NULL when there is none). */
static char *wrong_body(const json_t *row)
{
    const json_t *action = json_object_get(row, "expected_action");
    if (strcmp(json_string_value(json_object_get(action, "type")), "message") != 0)
        return strdup("{\"name\":\"submit_message\",\"input\":{\"content\":\"I cannot help.\"}}");
    size_t i;
    json_t *tool;
    json_array_foreach(json_object_get(json_object_get(row, "responses_create_params"), "tools"), i, tool) {
        const char *name = json_string_value(json_object_get(tool, "name"));
        if (!name)
            name = json_string_value(json_object_get(json_object_get(tool, "function"), "name"));
        if (name && strcmp(name, "submit_message") != 0) {
            json_t *b = json_pack("{s:s, s:{}}", "name", name, "input");
            char *text = json_dumps(b, JSON_COMPACT);
            json_decref(b);
            return text;
        }
    }
    return NULL;
}

/* One episode on row index; returns the reward. */
static double episode(world *w, size_t index, const char *call)
{
    char sid[64], create[96];
    snprintf(sid, sizeof sid, "ep-%zu-%p", index, (const void *)call);
    snprintf(create, sizeof create, "{\"split\":\"train\",\"index\":%zu}", index);
    wire_reply r = req(w, ors_create, sid, create);
    cr_assert_eq(r.status, 200, "create %zu: %.*s", index, (int)r.body_len, r.body);
    wire_reply_free(&r);
    r = req(w, ors_task_tools, sid, NULL);
    cr_assert_eq(r.status, 200);
    wire_reply_free(&r);
    r = req(w, ors_prompt, sid, NULL);
    cr_assert_eq(r.status, 200);
    wire_reply_free(&r);
    r = req(w, ors_call, sid, call);
    json_t *res = sse_result(&r);
    wire_reply_free(&r);
    json_t *out = json_object_get(res, "output");
    cr_assert(json_is_true(json_object_get(res, "ok")), "row %zu: %s", index,
              json_string_value(json_object_get(res, "error")));
    cr_assert(json_is_true(json_object_get(out, "finished")));
    double reward = json_real_value(json_object_get(out, "reward"));
    json_decref(res);
    r = req(w, ors_delete, sid, "");
    wire_reply_free(&r);
    return reward;
}

static void run_file(const char *path, bool subset, size_t want_rows)
{
    world w;
    world_open(&w, path, subset);
    size_t len;
    char *text = tu_read_file(path, &len);
    cr_assert(text);
    size_t index = 0, wrong = 0;
    for (char *line = text, *nl; line < text + len; line = nl + 1, index++) {
        nl = memchr(line, '\n', (size_t)(text + len - line));
        if (!nl)
            nl = text + len;
        json_t *row = json_loadb(line, (size_t)(nl - line), 0, NULL);
        cr_assert(row, "row %zu", index);
        char *right = call_body(json_object_get(row, "expected_action"));
        cr_assert_eq(episode(&w, index, right), 1.0, "row %zu: expected action not rewarded", index);
        char *bad = wrong_body(row);
        if (bad) {
            cr_assert_eq(episode(&w, index, bad), 0.0, "row %zu: wrong action rewarded", index);
            wrong++;
        }
        free(right);
        free(bad);
        json_decref(row);
    }
    cr_assert_eq(index, want_rows);
    cr_assert(wrong > 0);
    cr_assert_eq(ors_session_count(w.env), 0);
    free(text);
    world_close(&w);
}

Test(ors_episodes, project_sample_every_row, .timeout = 60)
{
    run_file(tu_path("data/sample.jsonl"), true, 200);
}

Test(ors_episodes, shared_example_every_row, .timeout = 60)
{
    TU_REQUIRE_SHARED(path, "data/example.jsonl");
    run_file(path, false, 5);
}

Test(ors_episodes, shared_parallel_example_every_row, .timeout = 60)
{
    TU_REQUIRE_SHARED(path, "data/parallel_example.jsonl");
    run_file(path, true, 5);
}
