/* Integration tests of `fcpivot serve` over real HTTP (libcurl), part 1:
 * complete ORS episodes on every row of the project's sample dataset and of
 * ../shared/data (right action → reward 1, wrong action → reward 0), SSE
 * framing byte for byte, reconnect by task_id, single submission, and NeMo
 * Gym's /verify reproducing recorded rewards, with the same reply whether its
 * body is read whole, in pieces or chunked. The expected actions are read
 * from the dataset files here: the server never reveals them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <jansson.h>
#include "util.h"
#include "serveutil.h"
#include "testutil.h"

#define ENV "nemotron-fc-pivot"

/* The expected_action of every row of a JSONL file (non-blank lines). */
static json_t *load_expected(const char *path)
{
    size_t len;
    char *text = tu_read_file(path, &len);
    cr_assert_not_null(text, "cannot read %s", path);
    json_t *all = json_array();
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (strspn(line, " \t\r") != strlen(line)) {
            json_error_t e;
            json_t *row = json_loads(line, JSON_ALLOW_NUL, &e);
            cr_assert_not_null(row, "%s: %s", path, e.text);
            json_array_append(all, json_object_get(row, "expected_action"));
            json_decref(row);
        }
        line = nl ? nl + 1 : NULL;
    }
    free(text);
    return all;
}

/* The data of every event after task_id, concatenated (owned). */
static char *stream_text(const char *raw)
{
    size_t n;
    su_event *ev = su_sse_parse(raw, strlen(raw), &n);
    cr_assert_not_null(ev, "malformed SSE stream: %s", raw);
    size_t total = 1;
    for (size_t i = 1; i < n; i++)
        total += strlen(ev[i].data);
    char *t = calloc(1, total);
    for (size_t i = 1; i < n; i++)
        strcat(t, ev[i].data);
    su_sse_free(ev, n);
    return t;
}

/* Checks a /call stream byte for byte against the framing rules. */
static void assert_call_framing(const char *raw, const char *call_id)
{
    char *text = stream_text(raw);
    char *expect = su_sse_call_stream(call_id, text);
    cr_assert_str_eq(raw, expect, "SSE framing differs");
    free(expect);
    free(text);
}

static void post_create(unsigned port, const char *sid, const char *body, long want)
{
    long st;
    json_t *j = su_json(port, "POST", "/create", sid, body, &st);
    cr_assert_eq(st, want, "/create %s -> %ld", body, st);
    if (want == 200)
        cr_assert_str_eq(json_string_value(json_object_get(j, "sid")), sid);
    json_decref(j);
}

/* The names of the session's task tools; checks submit_message comes first. */
static json_t *task_tool_names(unsigned port, const char *sid)
{
    long st;
    json_t *j = su_json(port, "GET", "/" ENV "/task_tools", sid, NULL, &st);
    cr_assert_eq(st, 200);
    json_t *tools = json_object_get(j, "tools");
    cr_assert(json_is_array(tools) && json_array_size(tools) >= 1);
    json_t *names = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t) {
        cr_assert(json_is_string(json_object_get(t, "name")));
        cr_assert(json_object_get(t, "description") != NULL);
        cr_assert(json_object_get(t, "input_schema") != NULL);
        json_array_append(names, json_object_get(t, "name"));
    }
    cr_assert_str_eq(json_string_value(json_array_get(names, 0)), "submit_message");
    json_decref(j);
    return names;
}

static void check_prompt(unsigned port, const char *sid)
{
    long st;
    json_t *j = su_json(port, "GET", "/" ENV "/prompt", sid, NULL, &st);
    cr_assert_eq(st, 200);
    cr_assert(json_is_array(j) && json_array_size(j) == 1);
    json_t *b = json_array_get(j, 0);
    cr_assert_str_eq(json_string_value(json_object_get(b, "type")), "text");
    cr_assert_gt(json_string_length(json_object_get(b, "text")), 0);
    cr_assert(json_is_array(json_object_get(json_object_get(b, "detail"), "input")));
    json_decref(j);
}

static bool has_name(const json_t *names, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(names, i, v)
        if (!strcmp(json_string_value(v), name))
            return true;
    return false;
}

/* The /call body for the expected action (first call of a batch). */
static char *right_call(const json_t *expected, const json_t *names)
{
    const char *type = json_string_value(json_object_get(expected, "type"));
    json_t *body;
    if (!strcmp(type, "message")) {
        body = json_pack("{s:s, s:{s:O}}", "name", "submit_message", "input", "content",
                         json_object_get(expected, "content"));
    } else {
        const json_t *call = !strcmp(type, "function_call_batch")
            ? json_array_get(json_object_get(expected, "calls"), 0) : expected;
        const char *name = json_string_value(json_object_get(call, "name"));
        cr_assert(has_name(names, name), "expected tool %s is not a task tool", name);
        json_t *args = json_loads(json_string_value(json_object_get(call, "arguments")),
                                  JSON_DECODE_ANY, NULL);
        cr_assert(json_is_object(args), "arguments of %s are not an object", name);
        body = json_pack("{s:s, s:o}", "name", name, "input", args);
    }
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    return s;
}

/* A /call body that is certainly wrong: a message where a call is expected,
 * a call where a message is. NULL when the task has no tool of its own. */
static char *wrong_call(const json_t *expected, const json_t *names)
{
    const char *type = json_string_value(json_object_get(expected, "type"));
    if (strcmp(type, "message") != 0)
        return strdup("{\"name\":\"submit_message\",\"input\":{\"content\":\"I cannot help.\"}}");
    if (json_array_size(names) < 2)
        return NULL;
    json_t *body = json_pack("{s:O, s:{}}", "name", json_array_get(names, 1), "input");
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    return s;
}

typedef struct outcome {
    double reward;
    const char *category;   /* NULL: don't check */
} outcome;

/* One complete episode on task index: create_session, create, task_tools,
 * prompt, call, its identical retry (replayed), a refused other call, delete. */
static void episode(unsigned port, size_t index, const json_t *expected, bool right,
                    outcome want)
{
    char *sid = su_new_session(port);
    cr_assert_not_null(sid, "create_session failed or was framed wrongly");
    char body[128];
    snprintf(body, sizeof body, "{\"env_name\":\"" ENV "\",\"split\":\"train\",\"index\":%zu}", index);
    post_create(port, sid, body, 200);
    json_t *names = task_tool_names(port, sid);
    check_prompt(port, sid);
    char *call = right ? right_call(expected, names) : wrong_call(expected, names);
    if (call) {
        char *call_id, *raw;
        json_t *res = su_call(port, ENV, sid, call, &call_id, &raw, NULL);
        cr_assert_not_null(res, "row %zu: no result: %s", index, raw);
        assert_call_framing(raw, call_id);
        cr_assert(json_is_true(json_object_get(res, "ok")), "row %zu: %s", index, raw);
        json_t *out = json_object_get(res, "output");
        double reward = json_number_value(json_object_get(out, "reward"));
        cr_assert_eq(reward, want.reward, "row %zu (%s call): reward %g: %s", index,
                     right ? "right" : "wrong", reward, raw);
        cr_assert(json_is_true(json_object_get(out, "finished")));
        json_t *meta = json_object_get(out, "metadata");
        if (want.category)
            cr_assert_str_eq(json_string_value(json_object_get(meta, "category")), want.category,
                             "row %zu: %s", index, raw);
        const char *text = json_string_value(json_object_get(json_array_get(
            json_object_get(out, "blocks"), 0), "text"));
        cr_assert(reward == 1.0 ? !strcmp(text, "Correct.") : !strncmp(text, "Incorrect: ", 11));
        free(call_id);
        free(raw);
        /* The same call again (a client that lost the reply) gets the graded
         * result back; the submission is consumed: another call is refused. */
        char *err;
        json_t *again = su_call(port, ENV, sid, call, NULL, &raw, &err);
        cr_assert_not_null(again, "%s", raw);
        cr_assert(json_equal(again, res), "row %zu: the retry is not the graded result: %s", index, raw);
        json_decref(again);
        json_decref(res);
        free(raw);
        const char *other = "{\"name\":\"submit_message\",\"input\":{\"content\":\"Another reply entirely.\"}}";
        res = su_call(port, ENV, sid, other, NULL, &raw, &err);
        cr_assert_not_null(res, "%s", raw);
        cr_assert(json_is_false(json_object_get(res, "ok")));
        cr_assert_str_eq(json_string_value(json_object_get(res, "error")), "task already submitted");
        json_decref(res);
        free(raw);
        free(call);
    }
    json_decref(names);
    long st;
    json_t *j = su_json(port, "POST", "/delete", sid, NULL, &st);
    cr_assert_eq(st, 200);
    cr_assert_str_eq(json_string_value(json_object_get(j, "sid")), sid);
    json_decref(j);
    free(sid);
}

static const char *const CAT_MSG_OK = "A chat message was found as expected";
static const char *const CAT_CALL_OK = "A tool call that matches the expected tool call was found";
static const char *const CAT_NO_CALL = "No tool call was found when one was expected";
static const char *const CAT_NO_MSG = "A tool call was executed when a chat message was expected";
static const char *const CAT_BATCH_OK = "A tool-call batch that matches the expected tool calls was found";
static const char *const CAT_BATCH_LEN = "The number of tool calls in a batch is different than expected";

/* Every row of file, right and wrong, on a server started with args. With
 * subset, a batch-expected task is satisfied by its first call. */
static void all_episodes(const char *file, bool subset)
{
    const char *args_subset[] = {"--quiet", "--data", file, "--parallel-rewarding",
                                 "--allow-subset", NULL};
    const char *args_plain[] = {"--quiet", "--data", file, NULL};
    su_server s;
    cr_assert_eq(su_start(&s, subset ? args_subset : args_plain), 0);
    json_t *rows = load_expected(file);
    cr_assert_gt(json_array_size(rows), 0);
    size_t i;
    json_t *ex;
    json_array_foreach(rows, i, ex) {
        const char *type = json_string_value(json_object_get(ex, "type"));
        bool msg = !strcmp(type, "message"), batch = !strcmp(type, "function_call_batch");
        size_t ncalls = batch ? json_array_size(json_object_get(ex, "calls")) : 1;
        outcome right = {1.0, msg ? CAT_MSG_OK : CAT_CALL_OK};
        if (batch && ncalls > 1 && !subset)
            right = (outcome){0.0, CAT_BATCH_LEN};
        else if (batch && ncalls > 1)
            right = (outcome){1.0, CAT_BATCH_OK};
        episode(s.port, i, ex, true, right);
        episode(s.port, i, ex, false, (outcome){0.0, msg ? CAT_NO_MSG : CAT_NO_CALL});
    }
    json_decref(rows);
    su_client_reset();
    cr_assert_eq(su_stop(&s), 0);
}

Test(serve, episodes_on_every_sample_row)
{
    all_episodes(tu_path("data/sample.jsonl"), true);
}

Test(serve, episodes_on_every_shared_example_row)
{
    TU_REQUIRE_SHARED(file, "data/example.jsonl");
    all_episodes(file, false);
}

Test(serve, episodes_on_every_shared_parallel_row)
{
    TU_REQUIRE_SHARED(file, "data/parallel_example.jsonl");
    char *copy = strdup(file);
    all_episodes(copy, false);   /* one call for a batch: length differs, 0 */
    all_episodes(copy, true);    /* allowed as a subset: 1 */
    free(copy);
}

/* ------------------------------------------------------------ SSE + calls */

typedef struct fixture {
    su_server s;
    char *sid;
} fixture;

/* A server on the sample data and a session on task 0. */
static void open_fixture(fixture *f, const char *const *extra)
{
    const char *args[32] = {"--quiet"};
    size_t n = 1;
    for (size_t i = 0; extra && extra[i]; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    cr_assert_eq(su_start(&f->s, args), 0);
    f->sid = su_new_session(f->s.port);
    cr_assert_not_null(f->sid);
    post_create(f->s.port, f->sid, "{\"split\":\"train\",\"index\":0}", 200);
}

static void close_fixture(fixture *f)
{
    free(f->sid);
    su_client_reset();
    cr_assert_eq(su_stop(&f->s), 0);
}

Test(serve, refused_calls_are_small_and_not_consumed)
{
    fixture f;
    open_fixture(&f, NULL);
    /* An invalid tool name of 10,000 characters is echoed cut to its first
     * 256: the error result stays one small end event. */
    size_t len = 10000;
    char *name = malloc(len + 1);
    memset(name, 'z', len);
    name[len] = '\0';
    char *body = malloc(len + 64);
    sprintf(body, "{\"name\":\"%s\",\"input\":{}}", name);
    char *call_id, *raw;
    json_t *res = su_call(f.s.port, ENV, f.sid, body, &call_id, &raw, NULL);
    cr_assert_not_null(res, "%.200s", raw);
    assert_call_framing(raw, call_id);
    size_t nev;
    su_event *ev = su_sse_parse(raw, strlen(raw), &nev);
    cr_assert_eq(nev, 2, "task_id + end, got %zu events", nev);
    cr_assert_str_eq(ev[1].event, "end");
    su_sse_free(ev, nev);
    cr_assert(json_is_false(json_object_get(res, "ok")));
    char *want = malloc(len + 64);
    sprintf(want, "'%.256s' is not a valid tool", name);
    cr_assert_str_eq(json_string_value(json_object_get(res, "error")), want);
    json_decref(res);
    free(raw);
    free(call_id);
    /* submit_message without a string content is refused the same way. */
    res = su_call(f.s.port, ENV, f.sid, "{\"name\":\"submit_message\",\"input\":{\"content\":5}}",
                  NULL, &raw, NULL);
    cr_assert(json_is_false(json_object_get(res, "ok")), "%s", raw);
    json_decref(res);
    free(raw);
    /* Neither consumed the submission. */
    res = su_call(f.s.port, ENV, f.sid, "{\"name\":\"submit_message\",\"input\":{\"content\":\"hi\"}}",
                  NULL, &raw, NULL);
    cr_assert(json_is_true(json_object_get(res, "ok")), "%s", raw);
    json_decref(res);
    free(raw);
    free(want);
    free(body);
    free(name);
    close_fixture(&f);
}

/* The submissions counter from /metrics (the metric whose name contains
 * "submissions_total"), or -1. */
static double submissions(unsigned port)
{
    su_resp r;
    su_request(port, "GET", "/metrics", NULL, NULL, 0, &r);
    cr_assert_eq(r.status, 200);
    double v = -1;
    for (char *line = r.body; line && *line;) {
        char *nl = strchr(line, '\n');
        if (line[0] != '#' && strstr(line, "submissions_total")) {
            char *sp = strrchr(line, ' ');
            v = strtod(sp + 1, NULL);
            break;
        }
        line = nl ? nl + 1 : NULL;
    }
    su_resp_free(&r);
    return v;
}

Test(serve, reconnect_replays_without_grading_twice)
{
    fixture f;
    open_fixture(&f, NULL);
    double before = submissions(f.s.port);
    cr_assert_geq(before, 0, "no submissions_total metric");
    const char *call = "{\"name\":\"submit_message\",\"input\":{\"content\":\"hello\"}}";
    char *id1, *raw1;
    json_t *r1 = su_call(f.s.port, ENV, f.sid, call, &id1, &raw1, NULL);
    cr_assert_not_null(r1, "%s", raw1);
    cr_assert(json_is_true(json_object_get(r1, "ok")));
    /* The same POST with task_id: the stored result, byte for byte. */
    char body[256];
    snprintf(body, sizeof body, "{\"name\":\"submit_message\",\"input\":{\"content\":\"hello\"},"
                                "\"task_id\":\"%s\"}", id1);
    for (int i = 0; i < 3; i++) {
        char *id2, *raw2;
        json_t *r2 = su_call(f.s.port, ENV, f.sid, body, &id2, &raw2, NULL);
        cr_assert_not_null(r2, "%s", raw2);
        cr_assert_str_eq(id2, id1);
        cr_assert_str_eq(raw2, raw1);
        json_decref(r2);
        free(id2);
        free(raw2);
    }
    cr_assert_eq(submissions(f.s.port), before + 1, "graded more than once");
    /* An unknown task_id is an error event. */
    char *err, *raw3;
    json_t *r3 = su_call(f.s.port, ENV, f.sid,
                         "{\"name\":\"x\",\"input\":{},\"task_id\":\"no-such-id\"}", NULL, &raw3, &err);
    cr_assert_null(r3);
    cr_assert_str_eq(err, "unknown task_id");
    cr_assert_str_eq(raw3, "event: error\ndata: unknown task_id\n\n");
    free(err);
    free(raw3);
    json_decref(r1);
    free(id1);
    free(raw1);
    close_fixture(&f);
}

/* ------------------------------------------------------------ NeMo Gym */

Test(serve, verify_reproduces_recorded_rollouts)
{
    TU_REQUIRE_SHARED(file, "data/example_rollouts.jsonl");
    char *text = tu_read_file(file, NULL);
    cr_assert_not_null(text);
    su_server s;
    const char *args[] = {"--quiet", NULL};
    cr_assert_eq(su_start(&s, args), 0);
    size_t n = 0;
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        json_t *rec = json_loads(line, 0, NULL);
        cr_assert_not_null(rec);
        double reward = json_number_value(json_object_get(rec, "reward"));
        char *category = strdup(json_string_value(json_object_get(rec, "category")));
        json_object_del(rec, "reward");
        json_object_del(rec, "category");
        char *body = json_dumps(rec, JSON_COMPACT);
        long st;
        json_t *got = su_json(s.port, "POST", "/verify", NULL, body, &st);
        cr_assert_eq(st, 200);
        cr_assert_eq(json_number_value(json_object_get(got, "reward")), reward, "rollout %zu", n);
        cr_assert_str_eq(json_string_value(json_object_get(got, "category")), category);
        /* Every field of the request is kept. */
        const char *key;
        json_t *v;
        json_object_foreach(rec, key, v)
            cr_assert(json_equal(v, json_object_get(got, key)), "field %s changed", key);
        json_decref(got);
        free(body);
        free(category);
        json_decref(rec);
        n++;
        line = nl ? nl + 1 : NULL;
    }
    cr_assert_eq(n, 5);
    free(text);
    su_client_reset();
    cr_assert_eq(su_stop(&s), 0);
}

/* Sends the pieces on one connection, pausing between them so that the
 * server reads them apart, and reads the reply until the server closes. */
static char *exchange_in_pieces(unsigned port, const char *const *pieces, const size_t *lens,
                                size_t n, size_t *out_len)
{
    int fd = su_connect(port);
    cr_assert_geq(fd, 0);
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            usleep(50 * 1000);
        cr_assert(tu_send_all(fd, pieces[i], lens[i]));
    }
    util_buf b = UTIL_BUF_INIT;
    char tmp[65536];
    ssize_t r;
    while ((r = recv(fd, tmp, sizeof tmp, 0)) > 0)
        cr_assert_eq(util_buf_append(&b, tmp, (size_t)r), 0);
    close(fd);
    return util_buf_take(&b, out_len);
}

/* The reply's status line and body (its head's Date may differ). */
static void split_reply(const char *raw, size_t len, char *status, size_t statsz,
                        const char **body, size_t *body_len)
{
    const char *eol = strstr(raw, "\r\n");
    const char *end = strstr(raw, "\r\n\r\n");
    cr_assert(eol && end && (size_t)(eol - raw) < statsz);
    memcpy(status, raw, (size_t)(eol - raw));
    status[eol - raw] = '\0';
    *body = end + 4;
    *body_len = len - (size_t)(end + 4 - raw);
}

/* A /verify body read whole at once (graded where it lies when it fits the
 * connection's read buffer), in two pieces, or chunked gets the same reply,
 * for bodies of 27 to 64 KB. */
Test(serve, verify_same_reply_however_the_body_comes)
{
    TU_REQUIRE_SHARED(file, "data/example_rollouts.jsonl");
    char *text = tu_read_file(file, NULL);
    cr_assert_not_null(text);
    su_server s;
    const char *args[] = {"--quiet", NULL};
    cr_assert_eq(su_start(&s, args), 0);
    size_t n = 0;
    for (char *line = text; line && *line; n++) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        json_t *rec = json_loads(line, 0, NULL);
        cr_assert_not_null(rec);
        json_object_del(rec, "reward");
        json_object_del(rec, "category");
        char *body = json_dumps(rec, JSON_COMPACT);
        size_t len = strlen(body), half = len / 2;
        char head[256], chunk1[32], chunk2[64];
        int hl = snprintf(head, sizeof head,
                          "POST /verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          "Connection: close\r\nContent-Length: %zu\r\n\r\n", len);
        char *one = malloc((size_t)hl + len);
        cr_assert_not_null(one);
        memcpy(one, head, (size_t)hl);
        memcpy(one + hl, body, len);
        const char *whole[] = {one};
        size_t whole_len[] = {(size_t)hl + len};
        const char *two[] = {head, body, body + half};
        size_t two_len[] = {(size_t)hl, half, len - half};
        char chead[] = "POST /verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       "Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n";
        int c1 = snprintf(chunk1, sizeof chunk1, "%zx\r\n", half);
        int c2 = snprintf(chunk2, sizeof chunk2, "\r\n%zx\r\n", len - half);
        const char *chunked[] = {chead, chunk1, body, chunk2, body + half, "\r\n0\r\n\r\n"};
        size_t chunked_len[] = {sizeof chead - 1, (size_t)c1, half, (size_t)c2, len - half, 7};
        size_t rl[3];
        char *raw[3] = {
            exchange_in_pieces(s.port, whole, whole_len, 1, &rl[0]),
            exchange_in_pieces(s.port, two, two_len, 3, &rl[1]),
            exchange_in_pieces(s.port, chunked, chunked_len, 6, &rl[2]),
        };
        char status[3][64];
        const char *rb[3];
        size_t rbl[3];
        for (int k = 0; k < 3; k++) {
            cr_assert_not_null(raw[k]);
            split_reply(raw[k], rl[k], status[k], sizeof status[k], &rb[k], &rbl[k]);
            cr_assert_str_eq(status[k], "HTTP/1.1 200 OK", "rollout %zu, way %d", n, k);
            cr_assert_eq(rbl[k], rbl[0], "rollout %zu, way %d", n, k);
            cr_assert_eq(memcmp(rb[k], rb[0], rbl[0]), 0, "rollout %zu, way %d", n, k);
        }
        /* the reply is the request with the verdict added */
        cr_assert_eq(memcmp(rb[0], body, len - 1), 0);
        for (int k = 0; k < 3; k++)
            free(raw[k]);
        free(one);
        free(body);
        json_decref(rec);
        line = nl ? nl + 1 : NULL;
    }
    cr_assert_eq(n, 5);
    free(text);
    cr_assert_eq(su_stop(&s), 0);
}

Test(serve, gym_endpoints)
{
    su_server s;
    const char *args[] = {"--quiet", NULL};
    cr_assert_eq(su_start(&s, args), 0);
    long st;
    json_t *j = su_json(s.port, "POST", "/seed_session", NULL, "{}", &st);
    cr_assert_eq(st, 200);
    cr_assert(json_is_object(j) && json_object_size(j) == 0);
    json_decref(j);
    j = su_json(s.port, "GET", "/reverify_mode", NULL, NULL, &st);
    cr_assert_eq(st, 200);
    cr_assert_str_eq(json_string_value(j), "stateless");
    json_decref(j);
    j = su_json(s.port, "POST", "/aggregate_metrics", NULL,
                "{\"verify_responses\":[{\"reward\":1.0,\"_ng_task_index\":0},"
                "{\"reward\":0.0,\"_ng_task_index\":0,\"_ng_rollout_index\":1},"
                "{\"reward\":1.0,\"_ng_task_index\":1}]}", &st);
    cr_assert_eq(st, 200);
    json_t *mean = json_object_get(json_object_get(j, "key_metrics"), "mean/reward");
    cr_assert_float_eq(json_number_value(mean), 2.0 / 3.0, 1e-9);
    cr_assert(json_is_array(json_object_get(j, "group_level_metrics")));
    json_decref(j);
    j = su_json(s.port, "POST", "/verify", NULL, "{\"response\":", &st);
    cr_assert_eq(st, 422);
    cr_assert(json_is_string(json_object_get(j, "detail")));
    json_decref(j);
    su_client_reset();
    cr_assert_eq(su_stop(&s), 0);
}
