/* Integration tests of `fcpivot serve` under hostile or careless use
 * (docs/http-api.md §9-§11):
 * the session cap answers 503 with Retry-After; a refused call stays small
 * however large the echoed input, so resident memory stays bounded under an
 * echo attack; request framing follows RFC 9112 (checked on raw sockets);
 * HEAD and absolute-form targets; SIGHUP reloads the dataset while open
 * sessions finish on their rows; a served file truncated in place never
 * brings the server down. (The connection cap and empty splits are in
 * test_serve_ops.c.) */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include "serveutil.h"
#include "testutil.h"

#define ENV "nemotron-fc-pivot"
#define CREATE0 "{\"split\":\"train\",\"index\":0}"

/* Bounded wait for a condition polled every 50 ms. */
#define WAIT_UNTIL(cond, seconds)                                          \
    do {                                                                   \
        double wait_deadline_ = su_now() + (seconds);                      \
        while (!(cond) && su_now() < wait_deadline_)                       \
            usleep(50 * 1000);                                             \
    } while (0)

/* ------------------------------------------------------------ limits */

static long post_status(unsigned port, const char *path, const char *sid, const char *body,
                        char *retry_after, size_t rasz)
{
    su_resp r;
    su_request(port, "POST", path, sid, body, strlen(body), &r);
    long st = r.status;
    if (retry_after && !su_header(&r, "Retry-After", retry_after, rasz))
        retry_after[0] = '\0';
    if (st == 503) {
        json_t *j = json_loadb(r.body, r.len, 0, NULL);
        cr_assert(json_is_string(json_object_get(j, "detail")), "503 body: %s", r.body);
        json_decref(j);
    }
    su_resp_free(&r);
    return st;
}

Test(serve_limits, create_beyond_max_sessions_is_503_with_retry_after)
{
    su_server s;
    const char *args[] = {"--quiet", "--max-sessions", "3", NULL};
    cr_assert_eq(su_start(&s, args), 0);
    char ra[32];
    const char *sids[] = {"s0", "s1", "s2", "s3"};
    for (int i = 0; i < 3; i++)
        cr_assert_eq(post_status(s.port, "/create", sids[i], CREATE0, NULL, 0), 200);
    cr_assert_eq(post_status(s.port, "/create", "s3", CREATE0, ra, sizeof ra), 503);
    cr_assert_str_eq(ra, "1", "Retry-After: %s", ra);
    /* never 429; a slot freed by /delete is usable again */
    cr_assert_eq(post_status(s.port, "/delete", "s0", "{}", NULL, 0), 200);
    cr_assert_eq(post_status(s.port, "/create", "s3", CREATE0, NULL, 0), 200);
    su_client_reset();
    cr_assert_eq(su_stop(&s), 0);
}

/* Unknown tool names of 400,000 "é" (800 KB as sent, 2.4 MB once escaped as
 * \u00e9 in a result) in 16 calls on each of 4 sessions: a server that keeps
 * the echo in every stored result holds ~150 MB; a bounded one, nothing. */
Test(serve_limits, echo_attack_keeps_resident_memory_bounded)
{
#if defined(__SANITIZE_ADDRESS__)
    /* ASan keeps freed blocks (here the requests' bodies) in a quarantine of
     * up to 256 MB that would count as growth: keep it small. */
    char opts[1024];
    const char *was = getenv("ASAN_OPTIONS");
    snprintf(opts, sizeof opts, "%s%squarantine_size_mb=8", was ? was : "", was ? ":" : "");
    setenv("ASAN_OPTIONS", opts, 1);
#endif
    su_server s;
    const char *args[] = {"--quiet", "--max-body", "4M", NULL};
    cr_assert_eq(su_start(&s, args), 0);
    size_t n = 400000;
    char *body = malloc(2 * n + 64);
    char *p = body + sprintf(body, "{\"name\":\"");
    for (size_t i = 0; i < n; i++, p += 2)
        memcpy(p, "\xc3\xa9", 2);
    strcpy(p, "\",\"input\":{}}");
    const char *sids[] = {"e0", "e1", "e2", "e3"};
    for (int i = 0; i < 4; i++)
        cr_assert_eq(post_status(s.port, "/create", sids[i], CREATE0, NULL, 0), 200);
    long before = su_rss_kb(s.pid);
    size_t longest = 0;
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 16; k++) {
            char *raw = NULL;
            json_t *res = su_call(s.port, ENV, sids[i], body, NULL, &raw, NULL);
            cr_assert(json_is_string(json_object_get(res, "error")), "no error result: %.200s", raw);
            longest = strlen(raw) > longest ? strlen(raw) : longest;
            json_decref(res);
            free(raw);
        }
    long after = su_rss_kb(s.pid);
    cr_assert_gt(before, 0);
    cr_assert_lt(after - before, 100 * 1024, "resident memory grew by %ld kB", after - before);
    cr_assert_leq(longest, 2048, "a refused call's reply of %zu bytes", longest);
    free(body);
    su_client_reset();
    cr_assert_eq(su_stop(&s), 0);
}

/* ------------------------------------------------------------ framing */

/* Raw request on a new connection; the reply (owned) and whether the
 * server closed the connection within the wait (it must never wait for the
 * idle timeout, 120 s by default). */
static char *raw_exchange(unsigned port, const char *req, bool *closed)
{
    char *r = su_raw_closed(port, req, strlen(req), 20.0, NULL, closed);
    cr_assert(r, "no connection");
    return r;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* One response of status, JSON {"detail"} body, then the connection closed. */
static void assert_refused(unsigned port, const char *req, const char *status)
{
    bool closed;
    char *r = raw_exchange(port, req, &closed);
    cr_assert(!strncmp(r, status, strlen(status)), "for %s got: %s", req, r);
    cr_assert_eq(count(r, "HTTP/1.1 "), 1, "several responses: %s", r);
    cr_assert(strstr(r, "Connection: close"), "%s", r);
    const char *body = strstr(r, "\r\n\r\n");
    json_t *j = body ? json_loads(body + 4, 0, NULL) : NULL;
    cr_assert(json_is_string(json_object_get(j, "detail")), "%s", r);
    cr_assert(closed, "the connection stayed open: %s", r);
    json_decref(j);
    free(r);
}

/* POST /ENV/num_tasks with the given framing headers and body is answered. */
static void assert_num_tasks(unsigned port, const char *framing, const char *body)
{
    char req[512];
    snprintf(req, sizeof req, "POST /" ENV "/num_tasks HTTP/1.1\r\nHost: x\r\n%s"
             "Connection: close\r\n\r\n%s", framing, body);
    bool closed;
    char *r = raw_exchange(port, req, &closed);
    cr_assert(!strncmp(r, "HTTP/1.1 200", 12) && strstr(r, "num_tasks"), "%s", r);
    free(r);
}

Test(serve_framing, content_length_with_transfer_encoding_is_400_and_closes)
{
    su_server s;
    const char *args[] = {"--quiet", NULL};
    cr_assert_eq(su_start(&s, args), 0);
    /* the smuggled GET after the chunked body must never be answered */
    assert_refused(s.port,
                   "POST /verify HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n",
                   "HTTP/1.1 400");
    assert_refused(s.port,
                   "POST /verify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                   "Content-Length: 5\r\n\r\n0\r\n\r\n", "HTTP/1.1 400");
    cr_assert_eq(su_stop(&s), 0);
}

Test(serve_framing, two_different_content_lengths_are_400_and_close)
{
    su_server s;
    const char *args[] = {"--quiet", NULL};
    cr_assert_eq(su_start(&s, args), 0);
    assert_refused(s.port,
                   "POST /verify HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n"
                   "\r\n{}}GET /health HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 400");
    /* the same length twice is one length (RFC 9110 8.6) */
    assert_num_tasks(s.port, "Content-Length: 17\r\nContent-Length: 17\r\n", "{\"split\":\"train\"}");
    cr_assert_eq(su_stop(&s), 0);
}

Test(serve_framing, transfer_encoding_other_than_chunked_is_501_at_once)
{
    su_server s;
    const char *args[] = {"--quiet", NULL};
    cr_assert_eq(su_start(&s, args), 0);
    const char *codings[] = {"identity", "gzip", "gzip, chunked", "chunked, chunked"};
    for (size_t i = 0; i < sizeof codings / sizeof codings[0]; i++) {
        char req[256];
        snprintf(req, sizeof req, "POST /verify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: %s\r\n"
                 "\r\n{}", codings[i]);
        assert_refused(s.port, req, "HTTP/1.1 501");
    }
    /* chunked itself (any case) is read as usual */
    assert_num_tasks(s.port, "Transfer-Encoding: Chunked\r\n", "11\r\n{\"split\":\"train\"}\r\n0\r\n\r\n");
    cr_assert_eq(su_stop(&s), 0);
}

/* libmicrohttpd rejects a Content-Length that is not a number itself, before
 * fcpivot sees the request (README: what stays HTML): the reply is a 400 and
 * the connection is closed at once. */
Test(serve_framing, invalid_content_length_is_400_and_closes)
{
    su_server s;
    const char *args[] = {"--quiet", NULL};
    cr_assert_eq(su_start(&s, args), 0);
    const char *values[] = {"abc", "-1", "2, 2", ""};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char req[256];
        snprintf(req, sizeof req, "POST /verify HTTP/1.1\r\nHost: x\r\nContent-Length: %s\r\n"
                 "\r\n{}GET /health HTTP/1.1\r\nHost: x\r\n\r\n", values[i]);
        bool closed;
        char *r = raw_exchange(s.port, req, &closed);
        cr_assert(!strncmp(r, "HTTP/1.1 400", 12), "Content-Length '%s': %s", values[i], r);
        cr_assert_null(strstr(r, "HTTP/1.1 200"), "the request after it was answered: %s", r);
        cr_assert(closed, "the connection stayed open: %s", r);
        free(r);
    }
    cr_assert_eq(su_stop(&s), 0);
}

/* What a client reads when libmicrohttpd answers a bad Content-Length itself
 * (README "What stays HTML"): version 0.9.75 writes its reply head twice,
 * then the HTML body. A client that follows the framing reads one response
 * with the right status and Connection: close whose Content-Length bytes of
 * body are the repeated head and the start of the HTML; the rest is excess
 * before the close, and nothing after the request is answered. (After a
 * libmicrohttpd upgrade that sends one head, this test and the README change
 * together.) */
Test(serve_framing, bad_content_length_reply_is_what_the_readme_says)
{
    su_server s;
    const char *args[] = {"--quiet", NULL};
    cr_assert_eq(su_start(&s, args), 0);
    const char *values[] = {"abc", "99999999999999999999999"};
    const char *status[] = {"HTTP/1.1 400 Bad Request\r\n", "HTTP/1.1 413 Content Too Large\r\n"};
    for (size_t i = 0; i < 2; i++) {
        char req[256];
        snprintf(req, sizeof req, "POST /verify HTTP/1.1\r\nHost: x\r\nContent-Length: %s\r\n"
                 "\r\n{}GET /health HTTP/1.1\r\nHost: x\r\n\r\n", values[i]);
        bool closed;
        char *r = raw_exchange(s.port, req, &closed);
        cr_assert(closed, "the connection stayed open: %s", r);
        cr_assert(!strncmp(r, status[i], strlen(status[i])), "%s", r);
        char *eoh = strstr(r, "\r\n\r\n");
        cr_assert(eoh, "%s", r);
        size_t head = (size_t)(eoh + 4 - r), total = strlen(r);
        const char *conn = strcasestr(r, "\r\nConnection: close\r\n");
        cr_assert(conn && conn < eoh, "%s", r);
        const char *cl = strcasestr(r, "\r\nContent-Length: ");
        cr_assert(cl && cl < eoh, "%s", r);
        size_t body = strtoul(cl + 18, NULL, 10);
        /* the head twice, then the HTML body: one head's worth of excess */
        cr_assert(!memcmp(r + head, r, head), "the head is not repeated: %s", r);
        cr_assert_eq(total, 2 * head + body, "%zu bytes: %s", total, r);
        cr_assert(!strncmp(r + 2 * head, "<html>", 6), "%s", r);
        cr_assert_null(strstr(r, "\"status\""), "the request after it was answered: %s", r);
        free(r);
    }
    cr_assert_eq(su_stop(&s), 0);
}

/* The status line and the named header's value of a raw reply. */
static void status_and_header(const char *r, const char *name, char *status, char *value,
                              size_t sz)
{
    const char *eol = strstr(r, "\r\n");
    snprintf(status, sz, "%.*s", eol ? (int)(eol - r) : 0, r);
    value[0] = '\0';
    char key[64];
    snprintf(key, sizeof key, "\r\n%s: ", name);
    const char *h = strstr(r, key);
    if (h) {
        h += strlen(key);
        snprintf(value, sz, "%.*s", (int)strcspn(h, "\r"), h);
    }
}

Test(serve_framing, head_answers_every_get_route_without_body)
{
    su_server s;
    const char *args[] = {"--quiet", NULL};
    cr_assert_eq(su_start(&s, args), 0);
    cr_assert_eq(post_status(s.port, "/create", "h1", CREATE0, NULL, 0), 200);
    const char *paths[] = {"/health", "/list_environments", "/" ENV "/tools", "/" ENV "/splits",
                           "/reverify_mode", "/" ENV "/task_tools", "/" ENV "/prompt", "/metrics"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        char req[512], st_get[128], st_head[128], ct_get[128], ct_head[128], cl_get[32], cl_head[32];
        bool closed;
        snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nX-Session-ID: h1\r\n"
                 "Connection: close\r\n\r\n", paths[i]);
        char *g = raw_exchange(s.port, req, &closed);
        req[0] = 'H', req[1] = 'E', req[2] = 'A';
        memmove(req + 4, req + 3, strlen(req + 3) + 1);
        req[3] = 'D';
        char *h = raw_exchange(s.port, req, &closed);
        status_and_header(g, "Content-Type", st_get, ct_get, sizeof st_get);
        status_and_header(h, "Content-Type", st_head, ct_head, sizeof st_head);
        cr_assert_str_eq(st_head, st_get, "%s", paths[i]);
        cr_assert_str_eq(st_get, "HTTP/1.1 200 OK", "%s", paths[i]);
        cr_assert_str_eq(ct_head, ct_get, "%s", paths[i]);
        status_and_header(g, "Content-Length", st_get, cl_get, sizeof cl_get);
        status_and_header(h, "Content-Length", st_head, cl_head, sizeof cl_head);
        if (strcmp(paths[i], "/metrics") != 0)     /* metrics change between the two */
            cr_assert_str_eq(cl_head, cl_get, "%s", paths[i]);
        const char *end = strstr(h, "\r\n\r\n");
        cr_assert(end && end[4] == '\0', "HEAD %s sent a body: %s", paths[i], h);
        free(g);
        free(h);
    }
    /* HEAD is not a POST route's method; GET routes allow it */
    bool closed;
    char *r = raw_exchange(s.port, "HEAD /verify HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                           &closed);
    cr_assert(!strncmp(r, "HTTP/1.1 405", 12), "%s", r);
    free(r);
    r = raw_exchange(s.port, "POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                     "Connection: close\r\n\r\n", &closed);
    cr_assert(strstr(r, "Allow: GET, HEAD"), "%s", r);
    free(r);
    su_client_reset();
    cr_assert_eq(su_stop(&s), 0);
}

Test(serve_framing, absolute_form_targets_are_routed_by_path)
{
    su_server s;
    const char *args[] = {"--quiet", NULL};
    cr_assert_eq(su_start(&s, args), 0);
    char req[512];
    bool closed;
    snprintf(req, sizeof req, "GET http://127.0.0.1:%u/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             "Connection: close\r\n\r\n", s.port);
    char *r = raw_exchange(s.port, req, &closed);
    cr_assert(!strncmp(r, "HTTP/1.1 200", 12) && strstr(r, "{\"status\":\"ok\"}"), "%s", r);
    free(r);
    r = raw_exchange(s.port, "POST HTTP://example.org/" ENV "/num_tasks HTTP/1.1\r\nHost: x\r\n"
                     "Content-Length: 17\r\nConnection: close\r\n\r\n{\"split\":\"train\"}", &closed);
    cr_assert(!strncmp(r, "HTTP/1.1 200", 12) && strstr(r, "num_tasks"), "%s", r);
    free(r);
    /* an unknown first segment is still redirected, by its path */
    r = raw_exchange(s.port, "GET http://x/tools?a=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                     &closed);
    cr_assert(!strncmp(r, "HTTP/1.1 308", 12) && strstr(r, "Location: /" ENV "/tools?a=1\r\n"),
              "%s", r);
    free(r);
    cr_assert_eq(su_stop(&s), 0);
}

/* ------------------------------------------------------------ lifecycle */

/* The sample's lines [from, to), newline-terminated (owned). */
static char *sample_rows(size_t from, size_t to)
{
    char *all = tu_read_file(tu_path("data/sample.jsonl"), NULL);
    cr_assert(all);
    char *start = all, *p = all;
    for (size_t line = 0; *p && line < to; line++) {
        if (line == from)
            start = p;
        p = strchr(p, '\n');
        cr_assert(p, "the sample has fewer than %zu lines", to);
        p++;
    }
    char *rows = strndup(start, (size_t)(p - start));
    free(all);
    return rows;
}

/* Replaces path by a new file holding data, the way operators must: write a
 * temporary file, then rename it over. */
static void replace_by_rename(const char *path, const char *data)
{
    char *tmp = tu_write_temp(data, strlen(data), ".jsonl");
    cr_assert(tmp);
    cr_assert_eq(rename(tmp, path), 0);
    free(tmp);
}

static long num_tasks(unsigned port)
{
    long st;
    json_t *j = su_json(port, "POST", "/" ENV "/num_tasks", NULL, "{\"split\":\"train\"}", &st);
    long n = st == 200 ? (long)json_integer_value(json_object_get(j, "num_tasks")) : -1;
    json_decref(j);
    return n;
}

static char *prompt_of(unsigned port, const char *sid)
{
    su_resp r;
    su_request(port, "GET", "/" ENV "/prompt", sid, NULL, 0, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    char *text = strdup(r.body);
    su_resp_free(&r);
    return text;
}

static bool stderr_has(const su_server *s, const char *what)
{
    char *e = su_stderr(s);
    bool has = strstr(e, what) != NULL;
    free(e);
    return has;
}

/* The message content row 0 of the sample expects (owned). */
static char *row0_expected_message(void)
{
    char *row = sample_rows(0, 1);
    json_t *j = json_loads(row, 0, NULL);
    json_t *ea = json_object_get(j, "expected_action");
    cr_assert_str_eq(json_string_value(json_object_get(ea, "type")), "message",
                     "the sample's first row is expected to want a message");
    char *content = strdup(json_string_value(json_object_get(ea, "content")));
    json_decref(j);
    free(row);
    return content;
}

Test(serve_reload, sighup_after_a_rename_serves_new_rows_while_open_sessions_finish)
{
    char *old_rows = sample_rows(0, 2), *new_rows = sample_rows(2, 5);
    char *path = tu_write_temp(old_rows, strlen(old_rows), ".jsonl");
    su_server s;
    const char *args[] = {"--quiet", "--data", path, NULL};
    cr_assert_eq(su_start(&s, args), 0);
    cr_assert_eq(num_tasks(s.port), 2);
    cr_assert_eq(post_status(s.port, "/create", "old", CREATE0, NULL, 0), 200);
    char *old_prompt = prompt_of(s.port, "old");

    replace_by_rename(path, new_rows);
    kill(s.pid, SIGHUP);
    WAIT_UNTIL(num_tasks(s.port) == 3, 30);
    cr_assert_eq(num_tasks(s.port), 3, "the reload did not happen");
    cr_assert(stderr_has(&s, "reloaded"));

    /* new sessions get the new rows; the open one keeps its own */
    cr_assert_eq(post_status(s.port, "/create", "new", CREATE0, NULL, 0), 200);
    char *new_prompt = prompt_of(s.port, "new"), *still = prompt_of(s.port, "old");
    cr_assert_str_neq(new_prompt, old_prompt);
    cr_assert_str_eq(still, old_prompt);
    char *content = row0_expected_message();
    json_t *in = json_pack("{s:s, s:{s:s}}", "name", "submit_message", "input", "content", content);
    char *call = json_dumps(in, JSON_COMPACT);
    json_t *res = su_call(s.port, ENV, "old", call, NULL, NULL, NULL);
    cr_assert(json_is_true(json_object_get(res, "ok")));
    cr_assert_eq(json_real_value(json_object_get(json_object_get(res, "output"), "reward")), 1.0,
                 "the open session was not graded on its own row");
    json_decref(res);

    /* a reload that fails validation keeps the rows served */
    replace_by_rename(path, "{\"not\":\"a row\"}\n");
    kill(s.pid, SIGHUP);
    WAIT_UNTIL(stderr_has(&s, "reload failed"), 30);
    cr_assert(stderr_has(&s, "reload failed, still serving the previous rows"));
    cr_assert_eq(num_tasks(s.port), 3);
    cr_assert_eq(post_status(s.port, "/create", "after", CREATE0, NULL, 0), 200);
    su_client_reset();
    cr_assert_eq(su_stop(&s), 0);
    unlink(path);
    free(call);
    json_decref(in);
    free(content);
    free(new_prompt);
    free(still);
    free(old_prompt);
    free(path);
    free(old_rows);
    free(new_rows);
}

Test(serve_reload, file_truncated_in_place_never_crashes_the_server)
{
    char *rows = tu_read_file(tu_path("data/sample.jsonl"), NULL);
    char *path = tu_write_temp(rows, strlen(rows), ".jsonl");
    su_server s;
    const char *args[] = {"--quiet", "--data", path, NULL};
    cr_assert_eq(su_start(&s, args), 0);
    cr_assert_eq(post_status(s.port, "/create", "before", CREATE0, NULL, 0), 200);
    cr_assert_eq(truncate(path, 1000), 0);
    /* asked right away, /ENV/task says why, and points at the log... */
    long tst;
    json_t *tj = su_json(s.port, "POST", "/" ENV "/task", "early",
                         "{\"split\":\"train\",\"index\":150}", &tst);
    cr_assert_eq(tst, 500);
    const char *tdetail = json_string_value(json_object_get(tj, "detail"));
    cr_assert(tdetail && strstr(tdetail, "truncated or rewritten in place") &&
              strstr(tdetail, "see the server log"), "%s", tdetail);
    json_decref(tj);
    /* ...which names the split, the file and what changed, once */
    WAIT_UNTIL(stderr_has(&s, "send SIGHUP"), 30);
    cr_assert(stderr_has(&s, "by rename"), "no advice in the log");
    char line[1024];
    snprintf(line, sizeof line, "split 'train': %s changed in place since it was loaded: "
             "size %zu -> 1000 bytes (truncated)", path, strlen(rows));
    cr_assert(stderr_has(&s, line), "the log does not say '%s'", line);
    /* rows that can no longer be read answer clear JSON errors */
    const char *reqs[][2] = {{"/" ENV "/tasks", "{\"split\":\"train\"}"},
                             {"/" ENV "/task", "{\"split\":\"train\",\"index\":150}"},
                             {"/" ENV "/task_range", "{\"split\":\"train\",\"start\":100}"},
                             {"/create", "{\"split\":\"train\",\"index\":150}"}};
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        long st;
        json_t *j = su_json(s.port, "POST", reqs[i][0], "after", reqs[i][1], &st);
        cr_assert_eq(st, 500, "%s: %ld", reqs[i][0], st);
        cr_assert(json_is_string(json_object_get(j, "detail")), "%s", reqs[i][0]);
        json_decref(j);
    }
    long st;
    json_t *j = su_json(s.port, "GET", "/health", NULL, NULL, &st);
    cr_assert_eq(st, 200);
    json_decref(j);
    char *log = su_stderr(&s);
    char *first = strstr(log, "changed in place since");
    cr_assert(first && !strstr(first + 1, "changed in place since"), "not logged once: %s", log);
    free(log);
    su_client_reset();
    cr_assert_eq(su_stop(&s), 0, "the server died");
    unlink(path);
    free(path);
    free(rows);
}
