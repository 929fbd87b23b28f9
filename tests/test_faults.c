/* Fault and abuse tests against `fcpivot serve` as a process on loopback:
 * slow and half-open clients, a 100 MB body, invalid UTF-8 and NUL bytes in
 * every field, an SSE stream cut by the client and resumed by task_id, and a
 * dataset truncated mid-line. Each test is bounded by its own deadlines. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "serveutil.h"
#include "testutil.h"

#define ENV "nemotron-fc-pivot"

/* ---- helpers ------------------------------------------------------------ */

static void start(su_server *s, const char *const *extra)
{
    const char *args[24] = {"--quiet", "--threads", "2"};
    size_t n = 3;
    for (size_t i = 0; extra && extra[i] && n < 23; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    cr_assert_eq(su_start(s, args), 0, "server did not start");
}

static void assert_healthy(unsigned port)
{
    su_resp r;
    cr_assert_eq(su_request(port, "GET", "/health", NULL, NULL, 0, &r), 0, "server is gone");
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body, "\"ok\""));
    su_resp_free(&r);
}

/* A fresh session on task index (split train); sid written into sid[37]. */
static void new_session(unsigned port, long index, char *sid)
{
    su_resp r;
    cr_assert_eq(su_request(port, "POST", "/create_session", NULL, "", 0, &r), 0);
    const char *d = strstr(r.body, "data: ");
    cr_assert(d, "%s", r.body);
    snprintf(sid, 37, "%.36s", d + 6);
    su_resp_free(&r);
    char body[128];
    int n = snprintf(body, sizeof body, "{\"split\": \"train\", \"index\": %ld}", index);
    cr_assert_eq(su_request(port, "POST", "/create", sid, body, (size_t)n, &r), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    su_resp_free(&r);
}

/* Status of a raw HTTP reply ("HTTP/1.1 NNN"), 0 if none. */
static int raw_status(const char *reply)
{
    return reply && !strncmp(reply, "HTTP/1.", 7) ? atoi(reply + 9) : 0;
}

/* ---- slow and half-open clients ---------------------------------------- */

/* Slowloris connections (headers dripping a byte at a time), requests with a
 * body that never completes, half-open connections (request sent, write side
 * shut, reply never read) and idle connections must not keep the server
 * from answering everyone else. */
Test(faults, slow_and_half_open_clients_do_not_block_others)
{
    su_server s;
    const char *extra[] = {"--idle-timeout", "60", NULL};
    start(&s, extra);
    enum { SLOW = 60, PARTIAL = 30, HALF = 30, IDLE = 30, NBAD = SLOW + PARTIAL + HALF + IDLE };
    int fds[NBAD];
    for (int i = 0; i < NBAD; i++) {
        fds[i] = su_connect(s.port);
        cr_assert(fds[i] >= 0);
        if (i < SLOW) {
            tu_send_all(fds[i], "POST /verify HTTP/1.1\r\nHost: x\r\nX-Slow: ", 40);
        } else if (i < SLOW + PARTIAL) {
            const char *h = "POST /verify HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n"
                            "Content-Type: application/json\r\n\r\n{\"responses_create_params\":";
            tu_send_all(fds[i], h, strlen(h));
        } else if (i < SLOW + PARTIAL + HALF) {
            const char *h = "GET /" ENV "/tools HTTP/1.1\r\nHost: x\r\n\r\n";
            for (int k = 0; k < 20; k++)   /* pipelined: replies pile up unread */
                tu_send_all(fds[i], h, strlen(h));
            shutdown(fds[i], SHUT_WR);
        }
    }
    /* Everyone else is served while those connections hang around. */
    for (int round = 0; round < 40; round++) {
        for (int i = 0; i < SLOW; i++)
            tu_send_all(fds[i], "a", 1);
        su_resp r;
        cr_assert_eq(su_request(s.port, "GET", "/health", NULL, NULL, 0, &r), 0,
                     "a request failed in round %d", round);
        cr_assert_eq(r.status, 200);
        su_resp_free(&r);
        char sid[37];
        new_session(s.port, round % 5, sid);
        const char *call = "{\"name\": \"submit_message\", \"input\": {\"content\": \"hi\"}}";
        cr_assert_eq(su_request(s.port, "POST", "/" ENV "/call", sid, call, strlen(call), &r), 0);
        cr_assert_eq(r.status, 200);
        cr_assert(strstr(r.body, "\"reward\""), "%s", r.body);
        su_resp_free(&r);
    }
    for (int i = 0; i < NBAD; i++)
        close(fds[i]);
    assert_healthy(s.port);
    cr_assert_eq(su_stop(&s), 0);
}

/* ---- a 100 MB body ------------------------------------------------------ */

/* Announced with Content-Length: refused with 413 (JSON detail) right after
 * the headers, before a single body byte is sent. */
Test(faults, body_of_100_mb_announced_is_refused_before_reading)
{
    su_server s;
    start(&s, NULL);
    const char *h = "POST /verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    "Content-Length: 104857600\r\n\r\n";
    size_t len;
    char *reply = su_raw(s.port, h, strlen(h), 20, &len);
    cr_assert_eq(raw_status(reply), 413, "%s", reply);
    cr_assert(strstr(reply, "{\"detail\":"), "%s", reply);
    free(reply);
    assert_healthy(s.port);
    cr_assert_eq(su_stop(&s), 0);
}

/* Streamed without a length (chunked): the server counts the body as it
 * arrives and keeps none of it past the limit; a body somewhat over it is
 * read to the end and answered 413 (libmicrohttpd 0.9.75 cannot answer in
 * mid-upload), one far over it (100 MB against 1 MiB) gets the connection
 * closed after a few MB. Either way the server's memory does not grow by
 * anything like the body, and it goes on serving. */
Test(faults, body_of_100_mb_streamed_is_refused_without_buffering)
{
    su_server s;
    const char *extra[] = {"--max-body", "1M", NULL};
    start(&s, extra);
    long rss0 = su_rss_kb(s.pid);
    int fd = su_connect(s.port);
    cr_assert(fd >= 0);
    const char *h = "POST /verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    cr_assert(tu_send_all(fd, h, strlen(h)));
    static char chunk[65536 + 16];
    int hl = snprintf(chunk, sizeof chunk, "10000\r\n");
    memset(chunk + hl, ' ', 65536);
    memcpy(chunk + hl + 65536, "\r\n", 2);
    size_t chunk_len = (size_t)hl + 65536 + 2, nchunks = 1600;   /* 100 MiB */
    size_t sent = 0;
    bool cut = false;
    for (size_t i = 0; i < nchunks && !cut; i++) {
        if (tu_send_all(fd, chunk, chunk_len))
            sent += 65536;
        else
            cut = true;
    }
    if (!cut)
        cut = !tu_send_all(fd, "0\r\n\r\n", 5);
    char reply[4096] = "";
    size_t rlen = 0;
    double deadline = su_now() + 30;
    while (su_now() < deadline && rlen < sizeof reply - 1) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 200) <= 0)
            continue;
        ssize_t r = recv(fd, reply + rlen, sizeof reply - 1 - rlen, 0);
        if (r <= 0)
            break;
        rlen += (size_t)r;
        reply[rlen] = '\0';
    }
    close(fd);
    long rss1 = su_rss_kb(s.pid);
    if (cut) {
        /* Closed early: whatever came back is a 413 or nothing. */
        cr_assert(sent < (size_t)24 << 20, "connection cut only after %zu bytes", sent);
        cr_assert(rlen == 0 || raw_status(reply) == 413, "reply: '%s'", reply);
    } else {
        cr_assert_eq(raw_status(reply), 413, "reply: '%s'", reply);
        cr_assert(strstr(reply, "Request body too large"), "%s", reply);
    }
    cr_assert(rss1 - rss0 < 48 * 1024, "server RSS grew by %ld KiB for a refused body",
              rss1 - rss0);
    assert_healthy(s.port);
    cr_assert_eq(su_stop(&s), 0);
}

/* Just over the limit without a length: read to the end and answered 413. */
Test(faults, chunked_body_just_over_the_limit_gets_413)
{
    su_server s;
    const char *extra[] = {"--max-body", "1M", NULL};
    start(&s, extra);
    int fd = su_connect(s.port);
    cr_assert(fd >= 0);
    const char *h = "POST /verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    cr_assert(tu_send_all(fd, h, strlen(h)));
    static char chunk[65536 + 16];
    int hl = snprintf(chunk, sizeof chunk, "10000\r\n");
    memset(chunk + hl, ' ', 65536);
    memcpy(chunk + hl + 65536, "\r\n", 2);
    for (int i = 0; i < 20; i++)   /* 1.25 MiB */
        cr_assert(tu_send_all(fd, chunk, (size_t)hl + 65536 + 2));
    cr_assert(tu_send_all(fd, "0\r\n\r\n", 5));
    char reply[4096] = "";
    size_t rlen = 0;
    double deadline = su_now() + 30;
    while (su_now() < deadline && rlen < sizeof reply - 1) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 200) <= 0)
            continue;
        ssize_t r = recv(fd, reply + rlen, sizeof reply - 1 - rlen, 0);
        if (r <= 0)
            break;
        rlen += (size_t)r;
        reply[rlen] = '\0';
    }
    close(fd);
    cr_assert_eq(raw_status(reply), 413, "reply: '%s'", reply);
    cr_assert(strstr(reply, "{\"detail\":"), "%s", reply);
    assert_healthy(s.port);
    cr_assert_eq(su_stop(&s), 0);
}

/* ---- invalid UTF-8 and NUL bytes --------------------------------------- */

/* Sends one request on a new connection; returns the reply (owned). */
static char *raw_request(unsigned port, const char *method, const char *path, const char *sid,
                         const char *body, size_t blen)
{
    char head[1024];
    int n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s%s%s"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                     method, path, sid ? "X-Session-ID: " : "", sid ? sid : "",
                     sid ? "\r\n" : "", blen);
    size_t total = (size_t)n + blen, len;
    char *req = malloc(total);
    memcpy(req, head, (size_t)n);
    memcpy(req + n, body, blen);
    char *reply = su_raw(port, req, total, 20, &len);
    free(req);
    return reply;
}

/* The reply is a proper answer: a status below 500, and a JSON body that
 * parses when the reply is JSON. */
static void assert_handled(const char *reply, const char *what)
{
    int st = raw_status(reply);
    cr_assert(st >= 200 && st < 500, "%s: status %d: %.300s", what, st, reply ? reply : "");
    const char *body = strstr(reply, "\r\n\r\n");
    if (strstr(reply, "Content-Type: application/json") && body && body[4] &&
        !strstr(reply, "Transfer-Encoding: chunked")) {
        json_error_t e;
        json_t *j = json_loads(body + 4, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
        cr_assert(j, "%s: body is not JSON (%s): %.200s", what, e.text, body + 4);
        json_decref(j);
    }
}

/* Bad strings, spliced into JSON bodies where a string value goes. */
static const struct { const char *text; size_t len; const char *name; } BAD[] = {
    {"\"a\\u0000b\"", 10, "escaped NUL"},
    {"\"a\xff\xfe" "b\"", 6, "invalid UTF-8"},
    {"\"\xc3\x28\"", 4, "bad UTF-8 sequence"},
    {"\"\xed\xa0\x80\"", 5, "UTF-8-encoded surrogate"},
    {"\"\\ud800\"", 8, "lone surrogate escape"},
    {"\"a\0b\"", 5, "raw NUL"},
};

/* Body templates: %s is where the bad string goes. */
static const struct { const char *method, *path; bool session; const char *tmpl; } FIELDS[] = {
    {"POST", "/create", true, "{\"split\": %s, \"index\": 0}"},
    {"POST", "/create", true, "{\"env_name\": %s, \"split\": \"train\", \"index\": 0}"},
    {"POST", "/create", true, "{\"task_spec\": {\"id\": %s}}"},
    {"POST", "/create", true, "{\"task_spec\": {\"split\": %s, \"index\": 0}}"},
    {"POST", "/create", true, "{\"split\": \"train\", \"index\": %s}"},
    {"POST", "/" ENV "/tasks", false, "{\"split\": %s}"},
    {"POST", "/" ENV "/num_tasks", false, "{\"split\": %s}"},
    {"POST", "/" ENV "/task", false, "{\"split\": %s, \"index\": 0}"},
    {"POST", "/" ENV "/task_range", false, "{\"split\": %s, \"start\": 0}"},
    {"POST", "/" ENV "/call", true, "{\"name\": %s, \"input\": {}}"},
    {"POST", "/" ENV "/call", true, "{\"name\": \"submit_message\", \"input\": {\"content\": %s}}"},
    {"POST", "/" ENV "/call", true, "{\"name\": \"submit_message\", \"input\": {%s: 1}}"},
    {"POST", "/" ENV "/call", true, "{\"name\": \"submit_message\", \"input\": {\"content\": \"x\"}, \"task_id\": %s}"},
    {"POST", "/verify", false, "{\"responses_create_params\": {\"input\": []}, \"response\": {\"output\": [{\"type\": \"message\", \"role\": \"assistant\", \"content\": [{\"type\": \"output_text\", \"text\": %s}]}]}, \"expected_action\": {\"type\": \"message\", \"content\": \"x\"}}"},
    {"POST", "/verify", false, "{\"responses_create_params\": {\"input\": []}, \"response\": {\"output\": [{\"type\": \"function_call\", \"name\": %s, \"arguments\": \"{}\"}]}, \"expected_action\": {\"type\": \"function_call\", \"name\": \"f\", \"arguments\": \"{}\"}}"},
    {"POST", "/verify", false, "{\"responses_create_params\": {\"input\": []}, \"response\": {\"output\": [{\"type\": \"function_call\", \"name\": \"f\", \"arguments\": %s}]}, \"expected_action\": {\"type\": \"function_call\", \"name\": \"f\", \"arguments\": \"{}\"}}"},
    {"POST", "/verify", false, "{\"responses_create_params\": {\"input\": []}, \"response\": {\"output\": []}, \"expected_action\": {\"type\": \"function_call\", \"name\": \"f\", \"arguments\": %s}}"},
    {"POST", "/verify", false, "{\"responses_create_params\": {\"input\": []}, \"response\": {\"output\": []}, \"expected_action\": {\"type\": %s}}"},
    {"POST", "/verify", false, "{\"extra\": %s, \"responses_create_params\": {\"input\": []}, \"response\": {\"output\": []}, \"expected_action\": {\"type\": \"message\", \"content\": \"x\"}}"},
    {"POST", "/aggregate_metrics", false, "{\"verify_responses\": [{\"reward\": 1.0, \"category\": %s}]}"},
    {"POST", "/seed_session", false, "{\"x\": %s}"},
};

Test(faults, invalid_utf8_and_nul_in_every_field)
{
    su_server s;
    start(&s, NULL);
    char body[2048];
    size_t checked = 0;
    for (size_t f = 0; f < sizeof FIELDS / sizeof FIELDS[0]; f++) {
        for (size_t b = 0; b < sizeof BAD / sizeof BAD[0]; b++) {
            const char *at = strstr(FIELDS[f].tmpl, "%s");
            size_t pre = (size_t)(at - FIELDS[f].tmpl), post = strlen(at + 2);
            memcpy(body, FIELDS[f].tmpl, pre);
            memcpy(body + pre, BAD[b].text, BAD[b].len);
            memcpy(body + pre + BAD[b].len, at + 2, post);
            size_t blen = pre + BAD[b].len + post;
            char sid[37] = "";
            if (FIELDS[f].session) {
                if (!strcmp(FIELDS[f].path, "/create")) {
                    su_resp r;
                    su_request(s.port, "POST", "/create_session", NULL, "", 0, &r);
                    snprintf(sid, sizeof sid, "%.36s", strstr(r.body, "data: ") + 6);
                    su_resp_free(&r);
                } else {
                    new_session(s.port, (long)(f % 5), sid);
                }
            }
            char what[256];
            snprintf(what, sizeof what, "%s %s with %s in field %zu", FIELDS[f].method,
                     FIELDS[f].path, BAD[b].name, f);
            char *reply = raw_request(s.port, FIELDS[f].method, FIELDS[f].path,
                                      sid[0] ? sid : NULL, body, blen);
            assert_handled(reply, what);
            free(reply);
            checked++;
        }
    }
    /* Headers and paths: bad bytes in X-Session-ID, in the path, NUL escapes. */
    const char *heads[] = {
        "POST /ping HTTP/1.1\r\nHost: x\r\nX-Session-ID: \xff\xfe\x80\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        "GET /" ENV "/prompt HTTP/1.1\r\nHost: x\r\nX-Session-ID: %00%ff\r\nConnection: close\r\n\r\n",
        "GET /" ENV "%00/tools HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "GET /%ff%fe/tools?x=%00 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "GET /\xff\xfe/tools HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "POST /delete HTTP/1.1\r\nHost: x\r\nX-Session-ID: \xc3\x28\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
        size_t len;
        char *reply = su_raw(s.port, heads[i], strlen(heads[i]), 20, &len);
        int st = raw_status(reply);
        /* 400 from the HTTP layer for an unparsable request line is fine. */
        cr_assert(st >= 200 && st < 500, "header/path case %zu: %d %.200s", i, st, reply);
        free(reply);
    }
    /* Found here: /create and /delete with a sid that is not UTF-8 acted, then
     * failed to write {"sid": ...} (500). Now refused up front, and no
     * session is created. */
    const char *bad_create = "POST /create HTTP/1.1\r\nHost: x\r\nX-Session-ID: \xc3\x28\r\n"
                             "Content-Type: application/json\r\nContent-Length: 30\r\n"
                             "Connection: close\r\n\r\n{\"split\": \"train\", \"index\": 0}";
    for (int k = 0; k < 2; k++) {   /* twice: the first must not have created it */
        size_t len;
        char *reply = su_raw(s.port, bad_create, strlen(bad_create), 20, &len);
        cr_assert_eq(raw_status(reply), 400, "%s", reply);
        cr_assert(strstr(reply, "not valid UTF-8"), "%s", reply);
        free(reply);
    }
    /* A NUL (escaped) in an unknown /verify field is kept verbatim. */
    const char *v = "{\"note\": \"a\\u0000b\", \"responses_create_params\": {\"input\": []}, "
                    "\"response\": {\"output\": []}, \"expected_action\": {\"type\": \"message\", "
                    "\"content\": \"x\"}}";
    su_resp r;
    cr_assert_eq(su_request(s.port, "POST", "/verify", NULL, v, strlen(v), &r), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(strstr(r.body, "a\\u0000b"), "NUL lost: %s", r.body);
    su_resp_free(&r);
    assert_healthy(s.port);
    cr_assert(checked >= 120);
    cr_assert_eq(su_stop(&s), 0, "server did not stop cleanly after the abuse");
}

/* ---- SSE cut short, then resumed by task_id ----------------------------- */

Test(faults, sse_disconnect_then_reconnect_with_task_id)
{
    su_server s;
    start(&s, NULL);
    /* Find a message task of the sample dataset: submitting a message scores 1. */
    long idx = -1;
    char sid[37];
    su_resp r;
    for (long i = 0; i < 40 && idx < 0; i++) {
        new_session(s.port, i, sid);
        const char *call = "{\"name\": \"submit_message\", \"input\": {\"content\": \"ok\"}}";
        cr_assert_eq(su_request(s.port, "POST", "/" ENV "/call", sid, call, strlen(call), &r), 0);
        if (strstr(r.body, "\"reward\":1.0"))
            idx = i;
        su_resp_free(&r);
    }
    cr_assert(idx >= 0, "no message task among the first 40 rows of the sample");

    /* The client reads the task_id event, then drops the connection. */
    new_session(s.port, idx, sid);
    const char *call = "{\"name\": \"submit_message\", \"input\": {\"content\": \"Sure.\"}}";
    char head[512];
    int n = snprintf(head, sizeof head,
                     "POST /" ENV "/call HTTP/1.1\r\nHost: x\r\nX-Session-ID: %s\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     sid, strlen(call), call);
    int fd = su_connect(s.port);
    cr_assert(fd >= 0);
    tu_send_all(fd, head, (size_t)n);
    char got[8192];
    size_t len = 0;
    char task_id[128] = "";
    double deadline = su_now() + 20;
    while (!task_id[0] && su_now() < deadline) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 200) <= 0)
            continue;
        ssize_t rd = recv(fd, got + len, 1, 0);   /* byte by byte: stop right after it */
        cr_assert(rd > 0, "stream ended before the task_id event");
        len += (size_t)rd;
        got[len] = '\0';
        const char *ev = strstr(got, "event: task_id\ndata: ");
        if (ev && strchr(ev + 21, '\n'))
            snprintf(task_id, sizeof task_id, "%.*s", (int)strcspn(ev + 21, "\n"), ev + 21);
    }
    cr_assert(task_id[0], "no task_id event: %s", got);
    cr_assert(!strstr(got, "event: end"), "the whole stream arrived before the cut");
    close(fd);

    /* Reconnect: the same POST with task_id replays the result. */
    char again[512];
    n = snprintf(again, sizeof again,
                 "{\"name\": \"submit_message\", \"input\": {\"content\": \"Sure.\"}, \"task_id\": \"%s\"}",
                 task_id);
    cr_assert_eq(su_request(s.port, "POST", "/" ENV "/call", sid, again, (size_t)n, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body, "event: end"), "%s", r.body);
    cr_assert(strstr(r.body, "\"reward\":1.0"), "%s", r.body);
    su_resp_free(&r);
    /* It was graded once: the submission is spent (the same call again
     * replays the graded result, docs/http-api.md §5.5; another one is refused). */
    cr_assert_eq(su_request(s.port, "POST", "/" ENV "/call", sid, call, strlen(call), &r), 0);
    cr_assert(strstr(r.body, "\"reward\":1.0") && !strstr(r.body, task_id), "%s", r.body);
    su_resp_free(&r);
    const char *other = "{\"name\": \"submit_message\", \"input\": {\"content\": \"No.\"}}";
    cr_assert_eq(su_request(s.port, "POST", "/" ENV "/call", sid, other, strlen(other), &r), 0);
    cr_assert(strstr(r.body, "task already submitted"), "%s", r.body);
    su_resp_free(&r);
    cr_assert_eq(su_stop(&s), 0);
}

/* ---- a dataset truncated mid-line --------------------------------------- */

Test(faults, dataset_truncated_mid_line)
{
    size_t len;
    char *sample = tu_read_file(tu_path("data/sample.jsonl"), &len);
    cr_assert(sample && len > 1000);
    size_t rows = 0;
    for (size_t i = 0; i < len; i++)
        rows += sample[i] == '\n';
    /* Cut in the middle of the last row. */
    size_t last_start = len - 1;
    while (last_start > 0 && sample[last_start - 1] != '\n')
        last_start--;
    size_t cut = last_start + (len - last_start) / 2;
    char *path = tu_write_temp(sample, cut, ".jsonl");

    char *argv[] = {(char *)tu_bin(), "validate", path, NULL};
    char *out, *err;
    int rc = tu_run(argv, NULL, 0, &out, NULL, &err);
    cr_assert_eq(rc, 1, "validate of a truncated file: %s %s", out, err);
    char want[32];
    snprintf(want, sizeof want, ":%zu:", rows);
    cr_assert(strstr(out, want) || strstr(err, want), "line %zu not reported: %s %s", rows, out,
              err);
    free(out); free(err);

    /* serve refuses it, and with --skip-invalid serves every other row. */
    su_server s;
    const char *refuse[] = {"--quiet", "--data", path, NULL};
    cr_assert_neq(su_start(&s, refuse), 0, "serve started on a truncated file");
    const char *skip[] = {"--quiet", "--data", path, "--skip-invalid", NULL};
    cr_assert_eq(su_start(&s, skip), 0);
    su_resp r;
    cr_assert_eq(su_request(s.port, "POST", "/" ENV "/num_tasks", NULL, "{\"split\": \"train\"}",
                            18, &r), 0);
    char num[64];
    snprintf(num, sizeof num, "{\"num_tasks\":%zu}", rows - 1);
    cr_assert(strstr(r.body, num), "%s (want %zu)", r.body, rows - 1);
    su_resp_free(&r);
    cr_assert_eq(su_stop(&s), 0);
    unlink(path);
    free(path);
    free(sample);
}

/* ---- 10,000 concurrent sessions ---------------------------------------- */

/* Sends n requests (POST path with X-Session-ID = sid i and body, or GET
 * path when sids is NULL), conc at a time over keep-alive connections;
 * returns how many answered 200. */
static size_t bulk_post(unsigned port, const char *path, char (*sids)[37], size_t n,
                        const char *body, size_t conc)
{
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)conc);
    struct curl_slist **hdrs = calloc(n, sizeof *hdrs);
    char url[128], h[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, path);
    size_t next = 0, active = 0, ok = 0;
    double deadline = su_now() + 120;
    FILE *devnull = fopen("/dev/null", "w");
    while ((next < n || active > 0) && su_now() < deadline) {
        while (active < conc && next < n) {
            CURL *c = curl_easy_init();
            curl_easy_setopt(c, CURLOPT_URL, url);
            if (sids) {
                snprintf(h, sizeof h, "X-Session-ID: %s", sids[next]);
                hdrs[next] = curl_slist_append(curl_slist_append(NULL, h),
                                               "Content-Type: application/json");
                curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs[next]);
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
            }
            curl_easy_setopt(c, CURLOPT_WRITEDATA, devnull);
            curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
            curl_multi_add_handle(m, c);
            next++;
            active++;
        }
        int running, left;
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            long status = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
            ok += msg->data.result == CURLE_OK && status == 200;
            curl_multi_remove_handle(m, msg->easy_handle);
            curl_easy_cleanup(msg->easy_handle);
            active--;
        }
        curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    fclose(devnull);
    for (size_t i = 0; i < n; i++)
        curl_slist_free_all(hdrs[i]);
    free(hdrs);
    curl_multi_cleanup(m);
    return ok;
}

/* 10,000 sessions open at once (each bound to a task), all alive and
 * answering a ping, counted by /metrics, then all deleted. */
Test(faults, ten_thousand_concurrent_sessions)
{
    size_t n = getenv("FCPIVOT_VALGRIND") ? 1000 : 10000;
    su_server s;
    start(&s, NULL);
    char (*sids)[37] = calloc(n, sizeof *sids);
    for (size_t i = 0; i < n; i++)
        snprintf(sids[i], sizeof sids[i], "00000000-0000-4000-8000-%012zx", i);
    cr_assert_eq(bulk_post(s.port, "/create", sids, n,
                           "{\"split\": \"train\", \"index\": -1}", 64), n,
                 "not every session was created");
    long rss = su_rss_kb(s.pid);
    su_resp r;
    cr_assert_eq(su_request(s.port, "GET", "/metrics", NULL, NULL, 0, &r), 0);
    char want[64];
    snprintf(want, sizeof want, "\nfcpivot_active_sessions %zu\n", n);
    bool counted = strstr(r.body, want) != NULL;
    cr_assert(counted, "no sessions gauge at %zu in /metrics:\n%s", n, r.body);
    su_resp_free(&r);
    cr_assert_eq(bulk_post(s.port, "/ping", sids, n, "", 64), n, "a session was lost");
    cr_assert_eq(bulk_post(s.port, "/delete", sids, n, "", 64), n);
    fprintf(stderr, "faults: %zu concurrent sessions held, server RSS %ld KiB\n", n, rss);
    free(sids);
    assert_healthy(s.port);
    cr_assert_eq(su_stop(&s), 0);
}

/* Found by bench/40-haproxy.sh: with --threads 1 (no thread pool) the
 * epoll loop of libmicrohttpd 0.9.75 stalled once ~128 connections were open
 * (requests timed out). 256 concurrent keep-alive clients on one thread must
 * all be served. */
Test(faults, one_thread_serves_256_concurrent_connections)
{
    su_server s;
    const char *args[] = {"--quiet", "--threads", "1", NULL};
    cr_assert_eq(su_start(&s, args), 0);
    size_t n = getenv("FCPIVOT_VALGRIND") ? 1024 : 8192;
    cr_assert_eq(bulk_post(s.port, "/health", NULL, n, NULL, 256), n,
                 "requests failed or timed out with 256 connections on one thread");
    cr_assert_eq(su_stop(&s), 0);
}
