/* Tests of the HTTP adapter (src/http.c) on its own: the router, the
 * framing decision, and an in-process server on an ephemeral loopback port
 * with small handlers —
 * keep-alive, body limits, SSE chunking, the layer's own JSON errors, the
 * filter and observer hooks, idle timeout and shutdown. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "http.h"
#include "serveutil.h"
#include "testutil.h"

/* ---------------------------------------------------------------- framing */

typedef struct framing_case {
    http_header h[3];
    size_t n;
    int status;
    const char *detail;
} framing_case;

#define CL "Content-Length"
#define TE "Transfer-Encoding"

Test(http_framing, check_follows_the_rules_in_order)
{
    const char *both = "Content-Length and Transfer-Encoding must not be combined";
    const char *differ = "conflicting Content-Length values";
    const char *coding = "Transfer-Encoding other than chunked is not supported";
    const framing_case cases[] = {
        {{{"Host", "x"}}, 1, 0, NULL},
        {{{CL, "17"}, {"content-length", "17"}}, 2, 0, NULL},
        {{{"transfer-encoding", "Chunked"}}, 1, 0, NULL},
        {{{CL, "2"}, {CL, "3"}}, 2, 400, differ},
        {{{CL, "2"}, {CL, "02"}}, 2, 400, differ},
        {{{TE, "chunked"}, {CL, "5"}}, 2, 400, both},
        {{{CL, "2"}, {CL, "3"}, {TE, "gzip"}}, 3, 400, both},
        {{{TE, "identity"}}, 1, 501, coding},
        {{{TE, "chunked, chunked"}}, 1, 501, coding},
        {{{TE, "chunked"}, {TE, "chunked"}}, 2, 501, coding},
        {{{TE, "chunked "}}, 1, 501, coding},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *why = "unset";
        int st = http_framing_check(cases[i].h, cases[i].n, &why);
        cr_assert_eq(st, cases[i].status, "case %zu: %d", i, st);
        if (cases[i].detail)
            cr_assert_str_eq(why, cases[i].detail, "case %zu", i);
        else
            cr_assert_null(why, "case %zu: %s", i, why);
    }
}

/* ---------------------------------------------------------------- router */

static void h_a(void *ctx, const wire_request *req, wire_reply *out)
{
    (void)ctx; (void)req; (void)out;
}
static void h_b(void *ctx, const wire_request *req, wire_reply *out)
{
    (void)ctx; (void)req; (void)out;
}

Test(http_router, literal_param_and_method)
{
    http_router *r = http_router_new();
    cr_assert_eq(http_router_add(r, "GET", "/health", h_a, NULL), 0);
    cr_assert_eq(http_router_add(r, "POST", "/{env}/call", h_b, NULL), 0);
    cr_assert_eq(http_router_add(r, "GET", "/{env}/tools", h_a, NULL), 0);
    cr_assert_eq(http_router_add(r, "POST", "/create", h_a, NULL), 0);
    http_match m;
    cr_assert_eq(http_router_match(r, "GET", "/health", &m), HTTP_MATCH_FOUND);
    cr_assert_eq(m.fn, h_a);
    cr_assert_str_eq(m.label, "/health");
    cr_assert_null(m.param);
    cr_assert_eq(http_router_match(r, "POST", "/my-env/call", &m), HTTP_MATCH_FOUND);
    cr_assert_eq(m.fn, h_b);
    cr_assert_str_eq(m.label, "/{env}/call");
    cr_assert_eq(m.param_len, 6);
    cr_assert_eq(strncmp(m.param, "my-env", 6), 0);
    cr_assert_eq(http_router_match(r, "GET", "/my-env/call", &m), HTTP_MATCH_BAD_METHOD);
    cr_assert_str_eq(m.allow, "POST");
    cr_assert_eq(http_router_match(r, "GET", "/create", &m), HTTP_MATCH_BAD_METHOD);
    cr_assert_eq(http_router_match(r, "GET", "/nothing", &m), HTTP_MATCH_NO_PATH);
    cr_assert_eq(http_router_match(r, "GET", "/a/b/c", &m), HTTP_MATCH_NO_PATH);
    cr_assert_eq(http_router_match(r, "GET", "//tools", &m), HTTP_MATCH_NO_PATH);
    cr_assert_eq(http_router_match(r, "GET", "/health/", &m), HTTP_MATCH_FOUND);
    cr_assert(http_router_has_root(r, "health", 6));
    cr_assert(http_router_has_root(r, "create", 6));
    cr_assert_not(http_router_has_root(r, "call", 4));
    cr_assert_not(http_router_has_root(r, "my-env", 6));
    http_router_free(r);
}

Test(http_router, literal_beats_parameter_and_bad_patterns_refused)
{
    http_router *r = http_router_new();
    cr_assert_eq(http_router_add(r, "GET", "/{env}/x", h_a, NULL), 0);
    cr_assert_eq(http_router_add(r, "GET", "/special/x", h_b, NULL), 0);
    http_match m;
    cr_assert_eq(http_router_match(r, "GET", "/special/x", &m), HTTP_MATCH_FOUND);
    cr_assert_eq(m.fn, h_b);
    cr_assert_eq(http_router_match(r, "GET", "/other/x", &m), HTTP_MATCH_FOUND);
    cr_assert_eq(m.fn, h_a);
    cr_assert_eq(http_router_add(r, "GET", "no-slash", h_a, NULL), -1);
    cr_assert_eq(http_router_add(r, "GET", "/a//b", h_a, NULL), -1);
    cr_assert_eq(http_router_add(r, "GET", "/{a}/{b}", h_a, NULL), -1);
    cr_assert_eq(http_router_add(r, "GET", "/{}", h_a, NULL), -1);
    http_router_free(r);
}

/* ---------------------------------------------------------------- server */

static void reply_text(wire_reply *out, int status, const char *type, const char *text, size_t len)
{
    out->status = status;
    out->content_type = type;
    out->body = malloc(len + 1);
    memcpy(out->body, text, len);
    out->body_len = len;
}

static void h_hello(void *ctx, const wire_request *req, wire_reply *out)
{
    (void)ctx; (void)req;
    const char *t = "{\"hello\":\"world\"}";
    reply_text(out, 200, WIRE_JSON, t, strlen(t));
}

/* Echoes the body, and the session id / param / query in headers-free JSON. */
static void h_echo(void *ctx, const wire_request *req, wire_reply *out)
{
    (void)ctx;
    char meta[1024];
    int n = snprintf(meta, sizeof meta, "{\"sid\":\"%s\",\"param\":\"%s\",\"query\":\"%s\",\"len\":%zu}",
                     req->session_id ? req->session_id : "", req->param ? req->param : "",
                     req->query ? req->query : "", req->body_len);
    if (req->body_len && req->body[0] != '{') {
        reply_text(out, 200, "application/octet-stream", req->body, req->body_len);
        return;
    }
    reply_text(out, 200, WIRE_JSON, meta, (size_t)n);
}

/* An SSE stream of 3 events whose middle one is `size` bytes long. */
static void h_sse(void *ctx, const wire_request *req, wire_reply *out)
{
    (void)ctx; (void)req;
    size_t size = 20000;
    size_t cap = size + 256;
    char *b = malloc(cap);
    size_t n = (size_t)sprintf(b, "event: task_id\ndata: abc\n\nevent: chunk\ndata: ");
    memset(b + n, 'x', size);
    n += size;
    n += (size_t)sprintf(b + n, "\n\nevent: end\ndata: \n\n");
    out->status = 200;
    out->content_type = WIRE_SSE;
    out->body = b;
    out->body_len = n;
}

static void h_nothing(void *ctx, const wire_request *req, wire_reply *out)
{
    (void)ctx; (void)req; (void)out;    /* status 0: the adapter answers 500 */
}

static void h_slow(void *ctx, const wire_request *req, wire_reply *out)
{
    (void)ctx; (void)req;
    usleep(300 * 1000);
    reply_text(out, 200, WIRE_JSON, "{}", 2);
}

static bool redirect_old(void *ctx, const wire_request *req, const char *raw_uri,
                         wire_reply *out, const char **label)
{
    (void)ctx;
    if (strncmp(req->path, "/old/", 5) != 0)
        return false;
    out->status = 308;
    out->location = malloc(strlen(raw_uri) + 8);
    sprintf(out->location, "/new%s", raw_uri + 4);
    *label = "(redirect)";
    return true;
}

typedef struct observed {
    atomic_int count;
    atomic_int last_status;
    char last_label[64];
    pthread_mutex_t lock;
} observed;

static void observe(void *ctx, const http_observation *o)
{
    observed *ob = ctx;
    pthread_mutex_lock(&ob->lock);
    snprintf(ob->last_label, sizeof ob->last_label, "%s", o->label);
    pthread_mutex_unlock(&ob->lock);
    atomic_store(&ob->last_status, o->status);
    atomic_fetch_add(&ob->count, 1);
}

typedef struct fixture {
    http_router *router;
    http_server *srv;
    observed ob;
} fixture;

static void start(fixture *f, size_t max_body, unsigned idle)
{
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->ob.lock, NULL);
    f->router = http_router_new();
    http_router_add(f->router, "GET", "/hello", h_hello, NULL);
    http_router_add(f->router, "POST", "/echo", h_echo, NULL);
    http_router_add(f->router, "POST", "/{env}/echo", h_echo, NULL);
    http_router_add(f->router, "POST", "/{env}/sse", h_sse, NULL);
    http_router_add(f->router, "GET", "/nothing", h_nothing, NULL);
    http_router_add(f->router, "GET", "/slow", h_slow, NULL);
    http_options o = {.host = "127.0.0.1", .port = 0, .threads = 2, .max_body = max_body,
                      .idle_timeout = idle, .filter = redirect_old, .observer = observe,
                      .ctx = &f->ob};
    char err[256] = "";
    f->srv = http_server_start(&o, f->router, err, sizeof err);
    cr_assert_not_null(f->srv, "start: %s", err);
    cr_assert_gt(http_server_port(f->srv), 0);
}

static void stop(fixture *f)
{
    su_client_reset();
    http_server_stop(f->srv, 5.0);
    http_router_free(f->router);
    pthread_mutex_destroy(&f->ob.lock);
}

Test(http_server, json_reply_and_keep_alive)
{
    fixture f;
    start(&f, 0, 0);
    unsigned port = http_server_port(f.srv);
    su_resp r;
    cr_assert_eq(su_request(port, "GET", "/hello", NULL, NULL, 0, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "{\"hello\":\"world\"}");
    char h[128];
    cr_assert_str_eq(su_header(&r, "Content-Type", h, sizeof h), "application/json");
    cr_assert_eq(r.connects, 1);
    su_resp_free(&r);
    for (int i = 0; i < 5; i++) {               /* the same connection is reused */
        cr_assert_eq(su_request(port, "POST", "/echo", "s-1", "{\"a\":1}", 7, &r), 0);
        cr_assert_eq(r.status, 200);
        cr_assert_eq(r.connects, 0, "request %d opened a new connection", i);
        cr_assert_str_eq(r.body, "{\"sid\":\"s-1\",\"param\":\"\",\"query\":\"\",\"len\":7}");
        su_resp_free(&r);
    }
    stop(&f);
}

Test(http_server, param_query_and_body_pass_through)
{
    fixture f;
    start(&f, 0, 0);
    unsigned port = http_server_port(f.srv);
    su_resp r;
    cr_assert_eq(su_request(port, "POST", "/my-env/echo?x=1&y=%20", NULL, "{}", 2, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "{\"sid\":\"\",\"param\":\"my-env\",\"query\":\"x=1&y=%20\",\"len\":2}");
    su_resp_free(&r);
    /* A binary body with NUL bytes arrives intact. */
    char bin[3000];
    for (size_t i = 0; i < sizeof bin; i++)
        bin[i] = (char)(i % 251);
    bin[0] = 'B';
    cr_assert_eq(su_request(port, "POST", "/echo", NULL, bin, sizeof bin, &r), 0);
    cr_assert_eq(r.len, sizeof bin);
    cr_assert_eq(memcmp(r.body, bin, sizeof bin), 0);
    su_resp_free(&r);
    stop(&f);
}

Test(http_server, own_errors_are_json)
{
    fixture f;
    start(&f, 0, 0);
    unsigned port = http_server_port(f.srv);
    su_resp r;
    char h[128];
    cr_assert_eq(su_request(port, "GET", "/missing", NULL, NULL, 0, &r), 0);
    cr_assert_eq(r.status, 404);
    cr_assert_str_eq(r.body, "{\"detail\":\"Not Found\"}");
    cr_assert_str_eq(su_header(&r, "Content-Type", h, sizeof h), "application/json");
    su_resp_free(&r);
    cr_assert_eq(su_request(port, "GET", "/echo", NULL, NULL, 0, &r), 0);
    cr_assert_eq(r.status, 405);
    cr_assert_str_eq(r.body, "{\"detail\":\"Method Not Allowed\"}");
    cr_assert_str_eq(su_header(&r, "Allow", h, sizeof h), "POST");
    su_resp_free(&r);
    cr_assert_eq(su_request(port, "GET", "/nothing", NULL, NULL, 0, &r), 0);
    cr_assert_eq(r.status, 500);
    cr_assert_str_eq(r.body, "{\"detail\":\"Internal Server Error\"}");
    su_resp_free(&r);
    stop(&f);
}

Test(http_server, body_limit_from_content_length_before_reading)
{
    fixture f;
    start(&f, 1000, 0);
    unsigned port = http_server_port(f.srv);
    su_resp r;
    char big[1001];
    memset(big, 'x', sizeof big);
    cr_assert_eq(su_request(port, "POST", "/echo", NULL, big, 1000, &r), 0);
    cr_assert_eq(r.status, 200);
    su_resp_free(&r);
    cr_assert_eq(su_request(port, "POST", "/echo", NULL, big, 1001, &r), 0);
    cr_assert_eq(r.status, 413);
    cr_assert_str_eq(r.body, "{\"detail\":\"Request body too large (limit 1000 bytes)\"}");
    su_resp_free(&r);
    /* A 100 MB declared body: the reply comes at once, without sending it. */
    const char *req = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n"
                      "Content-Type: application/json\r\n\r\n{\"partial\":";
    size_t n;
    char *raw = su_raw(port, req, strlen(req), 10.0, &n);
    cr_assert_not_null(raw);
    cr_assert(strstr(raw, "HTTP/1.1 413") == raw, "got: %s", raw);
    cr_assert(strstr(raw, "{\"detail\":\"Request body too large (limit 1000 bytes)\"}"));
    free(raw);
    stop(&f);
}

Test(http_server, body_limit_without_content_length)
{
    fixture f;
    start(&f, 1000, 0);
    unsigned port = http_server_port(f.srv);
    /* Chunked bodies have no Content-Length: counted as they arrive. */
    char req[8192];
    int n = snprintf(req, sizeof req,
                     "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                     "Connection: close\r\n\r\n");
    for (int i = 0; i < 3; i++) {
        n += snprintf(req + n, sizeof req - (size_t)n, "190\r\n");
        memset(req + n, 'y', 400);
        n += 400;
        n += snprintf(req + n, sizeof req - (size_t)n, "\r\n");
    }
    n += snprintf(req + n, sizeof req - (size_t)n, "0\r\n\r\n");
    char *raw = su_raw(port, req, (size_t)n, 10.0, NULL);
    cr_assert(strstr(raw, "HTTP/1.1 413") == raw, "got: %s", raw);
    free(raw);
    /* Far over the limit (more than twice it), the connection is dropped
     * rather than read to the end; the server carries on. */
    n = snprintf(req, sizeof req,
                 "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 8; i++) {
        n += snprintf(req + n, sizeof req - (size_t)n, "190\r\n");
        memset(req + n, 'y', 400);
        n += 400;
        n += snprintf(req + n, sizeof req - (size_t)n, "\r\n");
    }
    n += snprintf(req + n, sizeof req - (size_t)n, "0\r\n\r\n");
    raw = su_raw(port, req, (size_t)n, 10.0, NULL);
    cr_assert_not_null(raw);
    cr_assert_null(strstr(raw, "HTTP/1.1"), "got a reply: %s", raw);
    free(raw);
    /* Under the limit, chunked works. */
    n = snprintf(req, sizeof req,
                 "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                 "Connection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
    raw = su_raw(port, req, (size_t)n, 10.0, NULL);
    cr_assert(strstr(raw, "HTTP/1.1 200") == raw, "got: %s", raw);
    cr_assert(strstr(raw, "\r\n\r\nhello"));
    free(raw);
    stop(&f);
}

Test(http_server, sse_is_chunked_and_byte_exact)
{
    fixture f;
    start(&f, 0, 0);
    unsigned port = http_server_port(f.srv);
    su_resp r;
    cr_assert_eq(su_request(port, "POST", "/e/sse", NULL, NULL, 0, &r), 0);
    cr_assert_eq(r.status, 200);
    char h[128];
    cr_assert_str_eq(su_header(&r, "Content-Type", h, sizeof h), "text/event-stream");
    cr_assert_str_eq(su_header(&r, "Cache-Control", h, sizeof h), "no-cache");
    cr_assert_str_eq(su_header(&r, "Transfer-Encoding", h, sizeof h), "chunked");
    cr_assert_null(su_header(&r, "Content-Length", h, sizeof h));
    const char *head = "event: task_id\ndata: abc\n\nevent: chunk\ndata: ";
    const char *tail = "\n\nevent: end\ndata: \n\n";
    cr_assert_eq(r.len, strlen(head) + 20000 + strlen(tail));
    cr_assert_eq(memcmp(r.body, head, strlen(head)), 0);
    for (size_t i = 0; i < 20000; i++)
        cr_assert_eq(r.body[strlen(head) + i], 'x');
    cr_assert_str_eq(r.body + strlen(head) + 20000, tail);
    su_resp_free(&r);
    /* The connection stays usable after a chunked reply. */
    cr_assert_eq(su_request(port, "GET", "/hello", NULL, NULL, 0, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.connects, 0);
    su_resp_free(&r);
    stop(&f);
}

Test(http_server, filter_redirect_keeps_raw_query_and_observer_sees_all)
{
    fixture f;
    start(&f, 0, 0);
    unsigned port = http_server_port(f.srv);
    su_resp r;
    char h[256];
    cr_assert_eq(su_request(port, "GET", "/old/a%20b?q=1&r=%2F", NULL, NULL, 0, &r), 0);
    cr_assert_eq(r.status, 308);
    cr_assert_str_eq(su_header(&r, "Location", h, sizeof h), "/new/a%20b?q=1&r=%2F");
    su_resp_free(&r);
    /* Completion is reported after the reply; poll with a deadline. */
    double deadline = su_now() + 10;
    while (atomic_load(&f.ob.count) < 1 && su_now() < deadline)
        usleep(1000);
    cr_assert_eq(atomic_load(&f.ob.count), 1);
    cr_assert_eq(atomic_load(&f.ob.last_status), 308);
    pthread_mutex_lock(&f.ob.lock);
    cr_assert_str_eq(f.ob.last_label, "(redirect)");
    pthread_mutex_unlock(&f.ob.lock);
    cr_assert_eq(su_request(port, "POST", "/x/echo", NULL, "{}", 2, &r), 0);
    su_resp_free(&r);
    while (atomic_load(&f.ob.count) < 2 && su_now() < deadline)
        usleep(1000);
    pthread_mutex_lock(&f.ob.lock);
    cr_assert_str_eq(f.ob.last_label, "/{env}/echo");
    pthread_mutex_unlock(&f.ob.lock);
    stop(&f);
}

Test(http_server, idle_connections_are_closed)
{
    fixture f;
    start(&f, 0, 1);
    unsigned port = http_server_port(f.srv);
    /* Send nothing: the server closes the connection after ~1 s. */
    double t0 = su_now();
    size_t n = 0;
    char *raw = su_raw(port, "", 0, 30.0, &n);
    cr_assert_not_null(raw);
    cr_assert_eq(n, 0);
    cr_assert_lt(su_now() - t0, 25.0, "idle connection was not closed");
    free(raw);
    stop(&f);
}

typedef struct slow_arg {
    unsigned port;
    long status;
} slow_arg;

static void *slow_client(void *p)
{
    slow_arg *a = p;
    su_resp r;
    su_request(a->port, "GET", "/slow", NULL, NULL, 0, &r);
    a->status = r.status;
    su_resp_free(&r);
    su_client_reset();
    return NULL;
}

Test(http_server, stop_lets_in_flight_requests_finish)
{
    fixture f;
    start(&f, 0, 0);
    slow_arg a = {http_server_port(f.srv), 0};
    pthread_t t;
    pthread_create(&t, NULL, slow_client, &a);
    double deadline = su_now() + 10;
    while (http_server_in_flight(f.srv) == 0 && su_now() < deadline)
        usleep(1000);
    cr_assert_eq(http_server_in_flight(f.srv), 1);
    stop(&f);                                   /* waits for /slow to answer */
    pthread_join(t, NULL);
    cr_assert_eq(a.status, 200);
}

Test(http_server, bind_errors_have_a_reason)
{
    fixture f;
    start(&f, 0, 0);
    http_options o = {.host = "127.0.0.1", .port = http_server_port(f.srv)};
    char err[256] = "";
    http_router *r = http_router_new();
    cr_assert_null(http_server_start(&o, r, err, sizeof err));
    cr_assert(strstr(err, "Address already in use"), "err: %s", err);
    o.host = "no-such-host.invalid";
    o.port = 0;
    cr_assert_null(http_server_start(&o, r, err, sizeof err));
    cr_assert(strstr(err, "cannot resolve host"), "err: %s", err);
    http_router_free(r);
    stop(&f);
}
