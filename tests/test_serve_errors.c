/* Integration tests of `fcpivot serve` over real HTTP, part 2: every error
 * path of docs/http-api.md (missing header, unknown/deleted sessions, unknown or forged
 * task specs, malformed JSON, bad indices and splits), task listing with
 * Python index/slice semantics, the 308 redirect, body limits, keep-alive,
 * the idle-session reaper, metrics and the access log. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include "serveutil.h"
#include "testutil.h"

#define ENV "nemotron-fc-pivot"

static unsigned start_sample(su_server *s, const char *const *extra)
{
    const char *args[32] = {"--quiet"};
    size_t n = 1;
    for (size_t i = 0; extra && extra[i]; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    cr_assert_eq(su_start(s, args), 0);
    return s->port;
}

static void stop(su_server *s)
{
    su_client_reset();
    cr_assert_eq(su_stop(s), 0);
}

/* Asserts a JSON error reply {"detail": detail} (detail NULL: any string). */
static void expect_detail(unsigned port, const char *method, const char *path, const char *sid,
                          const char *body, long status, const char *detail)
{
    long st;
    json_t *j = su_json(port, method, path, sid, body, &st);
    cr_assert_eq(st, status, "%s %s: status %ld, wanted %ld", method, path, st, status);
    cr_assert(json_is_object(j), "%s %s: reply is not a JSON object", method, path);
    const char *d = json_string_value(json_object_get(j, "detail"));
    cr_assert_not_null(d, "%s %s: no detail", method, path);
    if (detail)
        cr_assert_str_eq(d, detail, "%s %s", method, path);
    json_decref(j);
}

/* Rows in the sample dataset (non-blank lines). */
static size_t sample_rows(void)
{
    char *t = tu_read_file(tu_path("data/sample.jsonl"), NULL);
    cr_assert_not_null(t);
    size_t n = 0;
    for (char *p = t; *p;) {
        char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len > 0)
            n++;
        if (!nl)
            break;
        p = nl + 1;
    }
    free(t);
    return n;
}

static char *session_on(unsigned port, const char *create_body)
{
    char *sid = su_new_session(port);
    cr_assert_not_null(sid);
    long st;
    json_t *j = su_json(port, "POST", "/create", sid, create_body, &st);
    cr_assert_eq(st, 200, "create %s", create_body);
    json_decref(j);
    return sid;
}

Test(serve_errors, listing_endpoints)
{
    su_server s;
    unsigned port = start_sample(&s, NULL);
    size_t n = sample_rows();
    long st;
    json_t *j = su_json(port, "GET", "/health", NULL, NULL, &st);
    cr_assert_eq(st, 200);
    cr_assert_str_eq(json_string_value(json_object_get(j, "status")), "ok");
    json_decref(j);
    j = su_json(port, "GET", "/list_environments", NULL, NULL, &st);
    cr_assert(json_is_array(j) && json_array_size(j) == 1);
    cr_assert_str_eq(json_string_value(json_array_get(j, 0)), ENV);
    json_decref(j);
    j = su_json(port, "GET", "/" ENV "/tools", NULL, NULL, &st);
    json_t *tools = json_object_get(j, "tools");
    cr_assert_eq(json_array_size(tools), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(tools, 0), "name")), "submit_message");
    json_decref(j);
    j = su_json(port, "GET", "/" ENV "/splits", "ignored-sid", NULL, &st);
    cr_assert_eq(st, 200);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(j, 0), "name")), "train");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(j, 0), "type")), "train");
    json_decref(j);
    j = su_json(port, "POST", "/" ENV "/num_tasks", NULL, "{\"split\":\"train\"}", &st);
    cr_assert_eq(json_integer_value(json_object_get(j, "num_tasks")), (json_int_t)n);
    json_decref(j);
    /* /tasks lists every task and never an expected action. */
    su_resp r;
    su_request(port, "POST", "/" ENV "/tasks", NULL, "{\"split\":\"train\"}", 17, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_null(strstr(r.body, "expected_action"));
    j = json_loads(r.body, 0, NULL);
    cr_assert_eq(json_array_size(json_object_get(j, "tasks")), n);
    cr_assert_str_eq(json_string_value(json_object_get(j, "env_name")), ENV);
    json_t *t0 = json_array_get(json_object_get(j, "tasks"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(t0, "split")), "train");
    cr_assert_eq(json_integer_value(json_object_get(t0, "index")), 0);
    json_decref(j);
    su_resp_free(&r);
    /* Python indexing: -1 is the last task; N and -N-1 are out of range. */
    j = su_json(port, "POST", "/" ENV "/task", NULL, "{\"split\":\"train\",\"index\":-1}", &st);
    cr_assert_eq(st, 200);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(j, "task"), "index")),
                 (json_int_t)n - 1);
    json_decref(j);
    char body[128];
    snprintf(body, sizeof body, "{\"split\":\"train\",\"index\":%zu}", n);
    expect_detail(port, "POST", "/" ENV "/task", NULL, body, 400, "Invalid index");
    snprintf(body, sizeof body, "{\"split\":\"train\",\"index\":-%zu}", n + 1);
    expect_detail(port, "POST", "/" ENV "/task", NULL, body, 400, "Invalid index");
    expect_detail(port, "POST", "/" ENV "/tasks", NULL, "{\"split\":\"nope\"}", 400, "Invalid split");
    expect_detail(port, "POST", "/" ENV "/num_tasks", NULL, "{\"split\":\"nope\"}", 400, "Invalid split");
    /* task_range: range(start, stop) after clamping. */
    struct { const char *body; size_t count; long first; } cases[] = {
        {"{\"split\":\"train\",\"start\":2,\"stop\":5}", 3, 2},
        {"{\"split\":\"train\",\"start\":-3}", 3, (long)n - 3},
        {"{\"split\":\"train\",\"stop\":-198}", n > 198 ? n - 198 : 0, 0},
        {"{\"split\":\"train\",\"start\":5,\"stop\":2}", 0, -1},
        {"{\"split\":\"train\",\"start\":-100000,\"stop\":100000}", n, 0},
        {"{\"split\":\"train\"}", n, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        j = su_json(port, "POST", "/" ENV "/task_range", NULL, cases[i].body, &st);
        cr_assert_eq(st, 200, "%s", cases[i].body);
        json_t *ts = json_object_get(j, "tasks");
        cr_assert_eq(json_array_size(ts), cases[i].count, "%s", cases[i].body);
        if (cases[i].first >= 0 && cases[i].count)
            cr_assert_eq(json_integer_value(json_object_get(json_array_get(ts, 0), "index")),
                         cases[i].first, "%s", cases[i].body);
        json_decref(j);
    }
    stop(&s);
}

Test(serve_errors, session_header_and_lifecycle)
{
    su_server s;
    unsigned port = start_sample(&s, NULL);
    const char *need = "X-Session-ID header is required";
    expect_detail(port, "POST", "/create", NULL, "{\"split\":\"train\",\"index\":0}", 400, need);
    expect_detail(port, "POST", "/ping", NULL, NULL, 400, need);
    expect_detail(port, "GET", "/" ENV "/task_tools", NULL, NULL, 400, need);
    expect_detail(port, "GET", "/" ENV "/prompt", NULL, NULL, 400, need);
    expect_detail(port, "POST", "/" ENV "/call", NULL, "{\"name\":\"x\",\"input\":{}}", 400, need);
    const char *gone = "Active environment not found";
    const char *ghost = "00000000-0000-4000-8000-000000000000";
    expect_detail(port, "POST", "/ping", ghost, NULL, 404, gone);
    expect_detail(port, "GET", "/" ENV "/task_tools", ghost, NULL, 404, gone);
    expect_detail(port, "GET", "/" ENV "/prompt", ghost, NULL, 404, gone);
    expect_detail(port, "POST", "/" ENV "/call", ghost, "{\"name\":\"x\",\"input\":{}}", 404, gone);

    char *sid = session_on(port, "{\"split\":\"train\",\"index\":0}");
    long st;
    json_t *j = su_json(port, "POST", "/ping", sid, NULL, &st);
    cr_assert_eq(st, 200);
    cr_assert_str_eq(json_string_value(json_object_get(j, "status")), "ok");
    json_decref(j);
    expect_detail(port, "POST", "/create", sid, "{\"split\":\"train\",\"index\":1}", 400,
                  "Session already exists");
    for (int i = 0; i < 2; i++) {                      /* delete is idempotent */
        j = su_json(port, "POST", "/delete", sid, NULL, &st);
        cr_assert_eq(st, 200);
        cr_assert_str_eq(json_string_value(json_object_get(j, "sid")), sid);
        json_decref(j);
    }
    j = su_json(port, "POST", "/ping", sid, NULL, &st);
    cr_assert(st == 410 || st == 404, "ping after delete: %ld", st);
    json_decref(j);
    j = su_json(port, "POST", "/delete_session", sid, NULL, &st);
    cr_assert_eq(st, 200);
    cr_assert_str_eq(json_string_value(json_object_get(j, "sid")), sid);
    json_decref(j);
    free(sid);
    stop(&s);
}

Test(serve_errors, create_validates_task_specs)
{
    su_server s;
    unsigned port = start_sample(&s, NULL);
    char *sid = su_new_session(port);
    /* Exactly one of task_spec or split+index. */
    expect_detail(port, "POST", "/create", sid, "{}", 422, NULL);
    expect_detail(port, "POST", "/create", sid, "{\"split\":\"train\"}", 422, NULL);
    expect_detail(port, "POST", "/create", sid,
                  "{\"split\":\"train\",\"index\":0,\"task_spec\":{\"id\":\"train-0\"}}", 422, NULL);
    expect_detail(port, "POST", "/create", sid, "{\"env_name\":\"other\",\"split\":\"train\",\"index\":0}",
                  404, "unknown environment 'other'");
    expect_detail(port, "POST", "/create", sid, "{\"task_spec\":{\"id\":\"train-999999\"}}", 400,
                  "Unknown task");
    expect_detail(port, "POST", "/create", sid, "{\"task_spec\":{\"id\":\"forged\"}}", 400,
                  "Unknown task");
    /* A task spec exactly as listed works, with env_name in any case. */
    long st;
    json_t *task = su_json(port, "POST", "/" ENV "/task", NULL, "{\"split\":\"train\",\"index\":0}", &st);
    json_t *req = json_pack("{s:s, s:O}", "env_name", "NEMOTRON-FC-PIVOT", "task_spec",
                            json_object_get(task, "task"));
    char *body = json_dumps(req, JSON_COMPACT);
    json_t *j = su_json(port, "POST", "/create", sid, body, &st);
    cr_assert_eq(st, 200, "%s", body);
    json_decref(j);
    free(body);
    /* Secrets (header or field) are accepted and ignored. */
    char *sid2 = su_new_session(port);
    const char *secrets = "{\"split\":\"train\",\"index\":1,\"secrets\":{\"api_key\":\"x\"}}";
    const char *hdrs[] = {"X-Secrets: {\"api_key\":\"y\"}", NULL};
    su_resp r;
    su_request_h(port, "POST", "/create", sid2, secrets, strlen(secrets), hdrs, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    su_resp_free(&r);
    free(sid2);
    json_decref(req);
    json_decref(task);
    free(sid);
    stop(&s);
}

Test(serve_errors, forged_expected_action_is_ignored)
{
    /* Task 0's real expected action is read from the file; the client's
     * task_spec claims another one, which must not count. */
    char *text = tu_read_file(tu_path("data/sample.jsonl"), NULL);
    char *nl = strchr(text, '\n');
    *nl = '\0';
    json_t *row = json_loads(text, 0, NULL);
    free(text);
    const char *type = json_string_value(json_object_get(json_object_get(row, "expected_action"), "type"));
    bool expects_message = !strcmp(type, "message");
    json_decref(row);
    su_server s;
    unsigned port = start_sample(&s, NULL);
    char *sid = su_new_session(port);
    const char *forged = expects_message
        ? "{\"task_spec\":{\"id\":\"train-0\",\"split\":\"train\",\"index\":0,\"expected_action\":"
          "{\"type\":\"function_call\",\"name\":\"forged_tool\",\"arguments\":\"{}\"}}}"
        : "{\"task_spec\":{\"id\":\"train-0\",\"split\":\"train\",\"index\":0,\"expected_action\":"
          "{\"type\":\"message\",\"content\":\"forged\"}}}";
    long st;
    json_t *j = su_json(port, "POST", "/create", sid, forged, &st);
    cr_assert_eq(st, 200);
    json_decref(j);
    /* Submit what the forged spec claims: graded against the real one. */
    const char *call = expects_message
        ? "{\"name\":\"forged_tool\",\"input\":{}}"
        : "{\"name\":\"submit_message\",\"input\":{\"content\":\"forged\"}}";
    char *raw;
    json_t *res = su_call(port, ENV, sid, call, NULL, &raw, NULL);
    cr_assert_not_null(res, "%s", raw);
    if (expects_message)                     /* forged_tool is not even a task tool */
        cr_assert(json_is_false(json_object_get(res, "ok")), "%s", raw);
    else
        cr_assert_eq(json_number_value(json_object_get(json_object_get(res, "output"), "reward")), 0.0,
                     "%s", raw);
    json_decref(res);
    free(raw);
    free(sid);
    stop(&s);
}

Test(serve_errors, malformed_bodies_are_422)
{
    su_server s;
    unsigned port = start_sample(&s, NULL);
    char *sid = su_new_session(port);
    expect_detail(port, "POST", "/create", sid, "{bad json", 422, NULL);
    expect_detail(port, "POST", "/create", sid, "[1,2]", 422, NULL);
    expect_detail(port, "POST", "/" ENV "/tasks", NULL, "nope", 422, NULL);
    expect_detail(port, "POST", "/" ENV "/task", NULL, "{\"split\":\"train\",\"index\":\"0\"}", 422, NULL);
    expect_detail(port, "POST", "/verify", NULL, "{\"response\":1", 422, NULL);
    expect_detail(port, "POST", "/aggregate_metrics", NULL, "{", 422, NULL);
    free(sid);
    sid = session_on(port, "{\"split\":\"train\",\"index\":0}");
    expect_detail(port, "POST", "/" ENV "/call", sid, "{\"name\":", 422, NULL);
    expect_detail(port, "POST", "/" ENV "/call", sid, "{\"name\":\"x\",\"input\":[]}", 422, NULL);
    expect_detail(port, "POST", "/" ENV "/call", sid, "{\"input\":{}}", 422, NULL);
    /* Invalid UTF-8 and NUL bytes don't bring anything down. */
    const char bad[] = "{\"name\":\"\xff\xfe\",\"input\":{\"a\":\"\0\"}}";
    su_resp r;
    char path[] = "/" ENV "/call";
    su_request(port, "POST", path, sid, bad, sizeof bad - 1, &r);
    cr_assert(r.status == 422 || r.status == 200, "status %ld", r.status);
    su_resp_free(&r);
    json_t *j = su_json(port, "GET", "/health", NULL, NULL, NULL);
    cr_assert_not_null(j);
    json_decref(j);
    free(sid);
    stop(&s);
}

Test(serve_errors, layer_errors_are_json)
{
    su_server s;
    unsigned port = start_sample(&s, NULL);
    expect_detail(port, "GET", "/" ENV "/nothing-here", NULL, NULL, 404, "Not Found");
    expect_detail(port, "GET", "/" ENV, NULL, NULL, 404, "Not Found");
    expect_detail(port, "GET", "/" ENV "/call", NULL, NULL, 405, "Method Not Allowed");
    expect_detail(port, "POST", "/health", NULL, NULL, 405, "Method Not Allowed");
    expect_detail(port, "GET", "/verify", NULL, NULL, 405, "Method Not Allowed");
    su_resp r;
    su_request(port, "DELETE", "/create", NULL, NULL, 0, &r);
    char h[64];
    cr_assert_eq(r.status, 405);
    cr_assert_str_eq(su_header(&r, "Allow", h, sizeof h), "POST");
    su_resp_free(&r);
    stop(&s);
}

Test(serve_errors, unknown_first_segment_redirects_308)
{
    su_server s;
    unsigned port = start_sample(&s, NULL);
    struct { const char *method, *path, *location; } cases[] = {
        {"GET", "/tools", "/" ENV "/tools"},
        {"GET", "/splits?x=1&y=%2F", "/" ENV "/splits?x=1&y=%2F"},
        {"POST", "/other-env/call", "/" ENV "/other-env/call"},
        {"GET", "/", "/" ENV "/"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        su_resp r;
        su_request(port, cases[i].method, cases[i].path, NULL, NULL, 0, &r);
        cr_assert_eq(r.status, 308, "%s", cases[i].path);
        char h[256];
        cr_assert_str_eq(su_header(&r, "Location", h, sizeof h), cases[i].location);
        su_resp_free(&r);
    }
    /* Following the redirect reaches the environment; its name matches in
     * any case. */
    long st;
    json_t *j = su_json(port, "GET", "/Nemotron-FC-Pivot/tools", NULL, NULL, &st);
    cr_assert_eq(st, 200);
    json_decref(j);
    stop(&s);
    /* With --env-name, that name is the default. */
    const char *args[] = {"--env-name", "my-env", NULL};
    port = start_sample(&s, args);
    cr_assert(strstr(s.startup, "my-env"));
    su_resp r;
    su_request(port, "GET", "/tools", NULL, NULL, 0, &r);
    char h[256];
    cr_assert_str_eq(su_header(&r, "Location", h, sizeof h), "/my-env/tools");
    su_resp_free(&r);
    j = su_json(port, "GET", "/list_environments", NULL, NULL, &st);
    cr_assert_str_eq(json_string_value(json_array_get(j, 0)), "my-env");
    json_decref(j);
    stop(&s);
}

Test(serve_errors, oversize_body_is_413)
{
    su_server s;
    const char *args[] = {"--max-body", "1K", NULL};
    unsigned port = start_sample(&s, args);
    char big[2048];
    memset(big, ' ', sizeof big);
    big[0] = '{';
    big[sizeof big - 1] = '}';
    su_resp r;
    su_request(port, "POST", "/verify", NULL, big, sizeof big, &r);
    cr_assert_eq(r.status, 413);
    cr_assert_str_eq(r.body, "{\"detail\":\"Request body too large (limit 1024 bytes)\"}");
    su_resp_free(&r);
    stop(&s);
    /* Default limit 16 MiB: a declared 100 MB body is refused at once,
     * without being sent. */
    port = start_sample(&s, NULL);
    const char *req = "POST /verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      "Content-Length: 100000000\r\n\r\n{";
    char *raw = su_raw(port, req, strlen(req), 10.0, NULL);
    cr_assert(strstr(raw, "HTTP/1.1 413") == raw, "%s", raw);
    cr_assert(strstr(raw, "{\"detail\":\"Request body too large (limit 16777216 bytes)\"}"));
    free(raw);
    long st;
    json_t *j = su_json(port, "GET", "/health", NULL, NULL, &st);
    cr_assert_eq(st, 200);
    json_decref(j);
    stop(&s);
}

Test(serve_errors, keep_alive_reuses_the_connection)
{
    su_server s;
    unsigned port = start_sample(&s, NULL);
    su_client_reset();
    long connects = 0;
    for (int i = 0; i < 20; i++) {
        su_resp r;
        su_request(port, i % 2 ? "POST" : "GET", i % 2 ? "/create_session" : "/health", NULL, NULL, 0, &r);
        cr_assert_eq(r.status, 200);
        connects += r.connects;
        su_resp_free(&r);
    }
    cr_assert_eq(connects, 1, "%ld connections for 20 requests", connects);
    stop(&s);
}

Test(serve_errors, reaper_deletes_idle_sessions)
{
    su_server s;
    const char *args[] = {"--session-ttl", "2", NULL};
    unsigned port = start_sample(&s, args);
    char *idle = session_on(port, "{\"split\":\"train\",\"index\":0}");
    char *busy = session_on(port, "{\"split\":\"train\",\"index\":1}");
    /* The busy session is pinged every 0.1 s (activity refreshes it); the
     * idle one is looked at every 3 s, longer than its TTL, until it is gone
     * or the deadline passes. */
    double deadline = su_now() + 60;
    long st = 200;
    while (st == 200 && su_now() < deadline) {
        double next = su_now() + 3;
        while (su_now() < next) {
            long bst;
            json_t *j = su_json(port, "POST", "/ping", busy, NULL, &bst);
            json_decref(j);
            cr_assert_eq(bst, 200, "the busy session was reaped");
            usleep(100 * 1000);
        }
        json_t *j = su_json(port, "POST", "/ping", idle, NULL, &st);
        json_decref(j);
    }
    cr_assert(st == 404 || st == 410, "the idle session was not reaped (status %ld)", st);
    free(idle);
    free(busy);
    stop(&s);
}

Test(serve_errors, metrics_and_json_access_log)
{
    su_server s;
    const char *args[] = {"--log-format", "json", NULL};
    cr_assert_eq(su_start(&s, args), 0);     /* not quiet */
    unsigned port = s.port;
    json_t *j = su_json(port, "GET", "/health", NULL, NULL, NULL);
    json_decref(j);
    j = su_json(port, "GET", "/" ENV "/splits", "log-sid", NULL, NULL);
    json_decref(j);
    su_resp r;
    su_request(port, "GET", "/metrics", NULL, NULL, 0, &r);
    cr_assert_eq(r.status, 200);
    char h[128];
    cr_assert(strncmp(su_header(&r, "Content-Type", h, sizeof h), "text/plain", 10) == 0);
    cr_assert(strstr(r.body, "route=\"/health\""), "%s", r.body);
    cr_assert(strstr(r.body, "route=\"/{env}/splits\""), "%s", r.body);
    su_resp_free(&r);
    /* Log lines are written after each reply: poll for them. */
    double deadline = su_now() + 20;
    char *err = NULL;
    for (;;) {
        free(err);
        err = su_stderr(&s);
        if (strstr(err, "/metrics") || su_now() > deadline)
            break;
        usleep(20 * 1000);
    }
    size_t lines = 0;
    bool saw_splits = false;
    for (char *line = err; *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        json_t *o = json_loads(line, 0, NULL);
        cr_assert(json_is_object(o), "not a JSON log line: %s", line);
        cr_assert(json_is_integer(json_object_get(o, "status")));
        cr_assert(json_is_string(json_object_get(o, "route")));
        if (!strcmp(json_string_value(json_object_get(o, "path")), "/" ENV "/splits")) {
            saw_splits = true;
            cr_assert_str_eq(json_string_value(json_object_get(o, "session")), "log-sid");
            cr_assert_eq(json_integer_value(json_object_get(o, "status")), 200);
        }
        json_decref(o);
        lines++;
        if (!nl)
            break;
        line = nl + 1;
    }
    cr_assert_geq(lines, 3);
    cr_assert(saw_splits);
    free(err);
    stop(&s);
}

/* The value of the sample `name{labels}` in a Prometheus text, or -1. */
static double metric(const char *text, const char *name_and_labels)
{
    const char *p = text;
    size_t n = strlen(name_and_labels);
    while ((p = strstr(p, name_and_labels))) {
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            return strtod(p + n + 1, NULL);
        p += n;
    }
    return -1;
}

Test(serve_errors, metrics_count_requests_by_route_and_status)
{
    su_server s;
    unsigned port = start_sample(&s, NULL);
    su_client_reset();                 /* one connection: completions are in order */
    for (int i = 0; i < 3; i++) {
        json_t *j = su_json(port, "GET", "/health", NULL, NULL, NULL);
        json_decref(j);
    }
    json_t *j = su_json(port, "GET", "/" ENV "/nope", NULL, NULL, NULL);
    json_decref(j);
    j = su_json(port, "POST", "/ping", NULL, NULL, NULL);                /* 400 */
    json_decref(j);
    j = su_json(port, "GET", "/elsewhere", NULL, NULL, NULL);            /* 308 */
    json_decref(j);
    su_resp r;
    su_request(port, "GET", "/metrics", NULL, NULL, 0, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(metric(r.body, "fcpivot_http_requests_total{route=\"/health\",status=\"200\"}"), 3,
                 "%s", r.body);
    cr_assert_eq(metric(r.body, "fcpivot_http_requests_total{route=\"/ping\",status=\"400\"}"), 1);
    cr_assert_eq(metric(r.body, "fcpivot_http_requests_total{route=\"(none)\",status=\"404\"}"), 1);
    cr_assert_eq(metric(r.body, "fcpivot_http_requests_total{route=\"(redirect)\",status=\"308\"}"), 1);
    su_resp_free(&r);
    stop(&s);
}

Test(serve_errors, text_access_log_and_quiet)
{
    su_server s;
    const char *args[] = {NULL};
    cr_assert_eq(su_start(&s, args), 0);     /* default: text log */
    json_t *j = su_json(s.port, "GET", "/" ENV "/splits?x=1", "sid-7", NULL, NULL);
    json_decref(j);
    double deadline = su_now() + 20;
    char *err = NULL;
    for (;;) {
        free(err);
        err = su_stderr(&s);
        if (strstr(err, "/splits") || su_now() > deadline)
            break;
        usleep(20 * 1000);
    }
    cr_assert(strstr(err, " GET /" ENV "/splits 200 "), "%s", err);
    cr_assert(strstr(err, "route=/{env}/splits"), "%s", err);
    cr_assert(strstr(err, "sid=sid-7"), "%s", err);
    free(err);
    su_client_reset();
    cr_assert_eq(su_stop(&s), 0);
    const char *quiet[] = {"--quiet", NULL};
    cr_assert_eq(su_start(&s, quiet), 0);
    for (int i = 0; i < 5; i++) {
        j = su_json(s.port, "GET", "/health", NULL, NULL, NULL);
        json_decref(j);
    }
    su_client_reset();
    err = su_stderr(&s);
    cr_assert_str_eq(err, "", "--quiet still logged: %s", err);
    free(err);
    cr_assert_eq(su_stop(&s), 0);
}
