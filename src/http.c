/* http — the HTTP/1.1 adapter over GNU libmicrohttpd (see http.h).
 *
 * How a request flows: libmicrohttpd (epoll, a pool of internal threads)
 * reports the raw request-target through the URI-log callback, where the
 * per-request state (req_state) is created; the access handler is then called
 * once when the headers are in (Content-Length is checked against the limit
 * here, so an oversize body is refused before a byte of it is read), once per
 * piece of body (appended to a util_buf sized once from Content-Length, or
 * growing without one; discarded once over the limit when there was no
 * Content-Length), and once more at the end, when the
 * filter, the router and the handler run and the reply is queued. A body
 * that comes whole in its first piece (the usual case up to ~32 KB: see
 * HTTP_CONNECTION_MEMORY) is not copied: the filter, router and handler run
 * on it where libmicrohttpd read it, and the reply waits for the final call.
 * The completion callback reports the finished request to the observer and
 * frees the state.
 *
 * Replies: JSON and other bodies are handed to libmicrohttpd as buffers it
 * frees; text/event-stream bodies (complete, finite streams) are sent with a
 * content-reader callback over the buffer, i.e. with chunked transfer coding,
 * and Cache-Control: no-cache. Nothing ever waits or polls.
 *
 * The listening socket is created here (so bind errors have a reason and port
 * 0 can be read back) and served by an accept thread of ours that hands each
 * connection to libmicrohttpd (see accept_main for why). That thread also
 * keeps the connection count: past max_connections it answers a connection
 * itself with a fixed 503 + Retry-After and lingers briefly reading what the
 * client sends before closing it (a bounded set of such connections), so no
 * connection ever waits unanswered in the listen backlog. Shutdown: quiesce
 * (the accept thread exits, the socket is closed), mark replies
 * "Connection: close", wait for the in-flight count to reach zero (bounded),
 * then stop the daemon.
 */
#include "http.h"
#include "dynlib.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------ libmicrohttpd */
/* fcpivot is not linked with libmicrohttpd: it brings GnuTLS and seven more
 * libraries with it, ~1.7 ms of every command's start-up, and only `serve`
 * needs it. The first http_server_start loads it (dynlib_load of
 * HTTP_MHD_SONAME, each function of MHD_FUNCTIONS into mhd), and every MHD_name
 * below is redefined as mhd's entry, so the calls read as libmicrohttpd's.
 * The table is the process's one (like the library's own global state):
 * written once under pthread_once, read-only after. */
#define HTTP_MHD_SONAME "libmicrohttpd.so.12"

#define MHD_FUNCTIONS(X)                                                                       \
    X(const char *, MHD_lookup_connection_value,                                               \
      (struct MHD_Connection *, enum MHD_ValueKind, const char *))                             \
    X(int, MHD_get_connection_values,                                                          \
      (struct MHD_Connection *, enum MHD_ValueKind, MHD_KeyValueIterator, void *))             \
    X(struct MHD_Response *, MHD_create_response_from_callback,                                \
      (uint64_t, size_t, MHD_ContentReaderCallback, void *, MHD_ContentReaderFreeCallback))    \
    X(struct MHD_Response *, MHD_create_response_from_buffer,                                  \
      (size_t, void *, enum MHD_ResponseMemoryMode))                                           \
    X(enum MHD_Result, MHD_add_response_header, (struct MHD_Response *, const char *,          \
                                                 const char *))                                \
    X(enum MHD_Result, MHD_queue_response,                                                     \
      (struct MHD_Connection *, unsigned int, struct MHD_Response *))                          \
    X(void, MHD_destroy_response, (struct MHD_Response *))                                     \
    X(enum MHD_Result, MHD_add_connection,                                                     \
      (struct MHD_Daemon *, MHD_socket, const struct sockaddr *, socklen_t))                   \
    X(struct MHD_Daemon *, MHD_start_daemon,                                                   \
      (unsigned int, uint16_t, MHD_AcceptPolicyCallback, void *, MHD_AccessHandlerCallback,    \
       void *, ...))                                                                           \
    X(void, MHD_stop_daemon, (struct MHD_Daemon *))

typedef struct mhd_api {
#define MHD_FIELD(ret, name, params) ret(*name) params;
    MHD_FUNCTIONS(MHD_FIELD)
#undef MHD_FIELD
} mhd_api;

static mhd_api mhd;
static char mhd_error[160];   /* why loading failed; "" when it did not */
static pthread_once_t mhd_once = PTHREAD_ONCE_INIT;

#define MHD_NAME(ret, name, params) #name,
static const char *const MHD_NAMES[] = {MHD_FUNCTIONS(MHD_NAME)};
#undef MHD_NAME
enum { MHD_COUNT = sizeof MHD_NAMES / sizeof MHD_NAMES[0] };

static void mhd_load_once(void)
{
    void *fns[MHD_COUNT];
    if (dynlib_load(HTTP_MHD_SONAME, "", MHD_NAMES, fns, MHD_COUNT, mhd_error, sizeof mhd_error))
        return;
    size_t i = 0;
#define MHD_SET(ret, name, params) memcpy(&mhd.name, &fns[i++], sizeof fns[0]);
    MHD_FUNCTIONS(MHD_SET)
#undef MHD_SET
}

/* 0 when libmicrohttpd is loaded; -1 with the reason in err. */
static int mhd_load(char *err, size_t errsz)
{
    pthread_once(&mhd_once, mhd_load_once);
    if (!mhd_error[0])
        return 0;
    snprintf(err, errsz, "%s", mhd_error);
    return -1;
}

#define MHD_lookup_connection_value (mhd.MHD_lookup_connection_value)
#define MHD_get_connection_values (mhd.MHD_get_connection_values)
#define MHD_create_response_from_callback (mhd.MHD_create_response_from_callback)
#define MHD_create_response_from_buffer (mhd.MHD_create_response_from_buffer)
#define MHD_add_response_header (mhd.MHD_add_response_header)
#define MHD_queue_response (mhd.MHD_queue_response)
#define MHD_destroy_response (mhd.MHD_destroy_response)
#define MHD_add_connection (mhd.MHD_add_connection)
#define MHD_start_daemon (mhd.MHD_start_daemon)
#define MHD_stop_daemon (mhd.MHD_stop_daemon)

/* ---------------------------------------------------------------- router */

#define HTTP_MAX_SEGMENTS 8

typedef struct route {
    char *method;
    char *pattern;
    char *segs[HTTP_MAX_SEGMENTS];   /* point into seg_buf; "" never occurs */
    size_t nsegs;
    int param_seg;                   /* index of the {param} segment or -1 */
    char *seg_buf;
    http_handler_fn fn;
    void *ctx;
} route;

struct http_router {
    route *routes;
    size_t n, cap;
};

http_router *http_router_new(void)
{
    return calloc(1, sizeof(http_router));
}

void http_router_free(http_router *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->routes[i].method);
        free(r->routes[i].pattern);
        free(r->routes[i].seg_buf);
    }
    free(r->routes);
    free(r);
}

/* Splits pattern (after its leading '/') into rt's segments. */
static int split_pattern(route *rt)
{
    rt->seg_buf = strdup(rt->pattern + 1);
    if (!rt->seg_buf)
        return -1;
    rt->param_seg = -1;
    char *p = rt->seg_buf;
    if (!*p)
        return 0;                    /* "/" has no segments */
    for (;;) {
        if (rt->nsegs == HTTP_MAX_SEGMENTS)
            return -1;
        char *slash = strchr(p, '/');
        if (slash)
            *slash = '\0';
        if (!*p)
            return -1;               /* empty segment: "//" or trailing '/' */
        size_t len = strlen(p);
        if (p[0] == '{') {
            if (len < 3 || p[len - 1] != '}' || rt->param_seg >= 0)
                return -1;           /* one parameter per route */
            rt->param_seg = (int)rt->nsegs;
        }
        rt->segs[rt->nsegs++] = p;
        if (!slash)
            return 0;
        p = slash + 1;
    }
}

int http_router_add(http_router *r, const char *method, const char *pattern,
                    http_handler_fn fn, void *ctx)
{
    if (!r || !method || !pattern || pattern[0] != '/' || !fn)
        return -1;
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 16;
        route *nr = realloc(r->routes, cap * sizeof *nr);
        if (!nr)
            return -1;
        r->routes = nr;
        r->cap = cap;
    }
    route *rt = &r->routes[r->n];
    memset(rt, 0, sizeof *rt);
    rt->method = strdup(method);
    rt->pattern = strdup(pattern);
    rt->fn = fn;
    rt->ctx = ctx;
    if (!rt->method || !rt->pattern || split_pattern(rt) != 0) {
        free(rt->method);
        free(rt->pattern);
        free(rt->seg_buf);
        return -1;
    }
    r->n++;
    return 0;
}

typedef struct path_segs {
    const char *start[HTTP_MAX_SEGMENTS];
    size_t len[HTTP_MAX_SEGMENTS];
    size_t n;
    bool too_many;
} path_segs;

/* Splits a request path into segments (ignoring a trailing '/'; empty
 * segments in the middle make a path that matches nothing). */
static bool split_path(const char *path, path_segs *ps)
{
    memset(ps, 0, sizeof *ps);
    if (!path || path[0] != '/')
        return false;
    const char *p = path + 1;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 0)
            return false;
        if (ps->n == HTTP_MAX_SEGMENTS)
            return false;
        ps->start[ps->n] = p;
        ps->len[ps->n] = len;
        ps->n++;
        if (!slash)
            break;
        p = slash + 1;
    }
    return true;
}

/* 0 = no match, 1 = matched via the parameter, 2 = matched literally. */
static int route_matches(const route *rt, const path_segs *ps)
{
    if (rt->nsegs != ps->n)
        return 0;
    for (size_t i = 0; i < ps->n; i++) {
        if ((int)i == rt->param_seg)
            continue;
        if (strlen(rt->segs[i]) != ps->len[i] || memcmp(rt->segs[i], ps->start[i], ps->len[i]))
            return 0;
    }
    return rt->param_seg >= 0 ? 1 : 2;
}

static void add_allowed(http_match *m, const char *method)
{
    if (strstr(m->allow, method))
        return;
    size_t used = strlen(m->allow);
    snprintf(m->allow + used, sizeof m->allow - used, "%s%s", used ? ", " : "", method);
}

http_match_kind http_router_match(const http_router *r, const char *method,
                                  const char *path, http_match *m)
{
    memset(m, 0, sizeof *m);
    m->kind = HTTP_MATCH_NO_PATH;
    path_segs ps;
    if (!r || !method || !split_path(path, &ps))
        return m->kind;
    int best = 0;
    for (size_t i = 0; i < r->n; i++) {
        const route *rt = &r->routes[i];
        int how = route_matches(rt, &ps);
        if (!how)
            continue;
        if (strcmp(rt->method, method) != 0) {
            add_allowed(m, rt->method);
            continue;
        }
        if (how > best) {
            best = how;
            m->kind = HTTP_MATCH_FOUND;
            m->fn = rt->fn;
            m->ctx = rt->ctx;
            m->label = rt->pattern;
            m->param = rt->param_seg >= 0 ? ps.start[rt->param_seg] : NULL;
            m->param_len = rt->param_seg >= 0 ? ps.len[rt->param_seg] : 0;
        }
    }
    if (m->kind != HTTP_MATCH_FOUND && m->allow[0])
        m->kind = HTTP_MATCH_BAD_METHOD;
    return m->kind;
}

bool http_router_has_root(const http_router *r, const char *seg, size_t len)
{
    for (size_t i = 0; r && i < r->n; i++) {
        const route *rt = &r->routes[i];
        if (rt->nsegs > 0 && rt->param_seg != 0 && strlen(rt->segs[0]) == len &&
            memcmp(rt->segs[0], seg, len) == 0)
            return true;
    }
    return false;
}

/* ---------------------------------------------------------------- server */

/* Seconds without any request in flight after which a stopping server
 * closes its connections. */
#define HTTP_QUIET_PERIOD 0.1
/* Connections accepted per wake-up of the accept thread, and its longest
 * wait for a closing connection once descriptors ran out (milliseconds). */
#define HTTP_ACCEPT_BATCH 64
#define HTTP_PAUSE_MS 100
/* A connection refused at the cap: the refusal is written at once, then
 * whatever the client sends is read and dropped (so that closing does not
 * reset the connection under the client before it read the refusal) for at
 * most HTTP_LINGER_MS milliseconds or HTTP_LINGER_BYTES bytes, HTTP_LINGER_SLOTS
 * connections at a time (the oldest is closed to make room). */
#define HTTP_LINGER_MS 2000
#define HTTP_LINGER_BYTES ((size_t)64 << 10)
#define HTTP_LINGER_SLOTS 256
#define HTTP_BUSY_DETAIL "Too many connections, retry later"
/* The memory pool libmicrohttpd gives each connection (its default is 32
 * KiB). Half of it is the read buffer a request's head and body are read
 * into, so with 64 KiB a request of up to ~32 KB (a /verify body of a real
 * rollout: 27 KB and up) is read by one recv and handed over in one piece,
 * which answer_in_place grades where it lies; with 32 KiB the same body takes
 * two reads and a copy. The largest header block libmicrohttpd takes grows
 * with it, from ~32 KB to ~64 KB (its 431 past that). */
#define HTTP_CONNECTION_MEMORY ((size_t)64 << 10)

/* A refused connection being drained before its close. */
typedef struct lingering {
    int fd;
    double until;                   /* util_now_mono() deadline */
    size_t drained;
} lingering;

struct http_server {
    struct MHD_Daemon *daemon;
    const http_router *router;
    http_options opts;
    char *host;
    unsigned port;
    int listen_fd;                  /* ours; -1 once quiesced and closed */
    int wake[2];                    /* pipe waking the accept thread */
    pthread_t acceptor;
    bool acceptor_running;
    atomic_bool accepting;          /* false: the accept thread is to exit */
    atomic_bool paused;             /* the accept thread waits for a close */
    atomic_uint in_flight;
    atomic_uint connections;        /* handed to libmicrohttpd and not yet closed */
    atomic_ullong refused;          /* connections refused at the cap (send_busy) */
    char busy[256];                 /* the whole 503 reply of a refused connection */
    size_t busy_len;
    lingering linger[HTTP_LINGER_SLOTS];   /* the accept thread's own */
    size_t nlinger;
    int reserve_fd;                 /* spare descriptor for refusals at EMFILE */
    atomic_bool closing;
    pthread_mutex_t lock;           /* with drained: wakes http_server_stop */
    pthread_cond_t drained;
};

/* One request, from its request line to its completion. */
typedef struct req_state {
    http_server *srv;
    char *raw_uri;                  /* the request-target as received */
    const char *method, *url;       /* libmicrohttpd's, valid until completion */
    double t0;                      /* util_now_mono() at the start */
    bool started;
    bool too_large;                 /* body over the limit: answer 413 */
    bool queued;
    bool close;                     /* the reply closes the connection */
    util_buf body;                  /* the body kept so far */
    size_t kept;                    /* its length for the log: frozen once over the limit */
    size_t received;                /* body bytes received, kept or not */
    bool has_length;                /* a Content-Length was given: declared */
    size_t declared;
    bool answered;                  /* answered in place: reply waits for the final call */
    wire_reply reply;               /* that reply */
    char allow[sizeof ((http_match *)0)->allow];   /* a 405's Allow header, "" for none */
    int status;
    size_t reply_len;
    const char *label;
} req_state;

/* The path of a request-target: origin-form as it is, absolute-form
 * ("http://host/p", RFC 9112 section 3.2.2) from the first '/' after the
 * authority, "" when it has none. */
static const char *target_path(const char *target)
{
    size_t scheme = !strncasecmp(target, "http://", 7) ? 7 : !strncasecmp(target, "https://", 8) ? 8 : 0;
    if (!scheme)
        return target;
    const char *slash = strchr(target + scheme, '/');
    return slash ? slash : "";
}

/* Called by libmicrohttpd with the raw request-target: its result becomes
 * the request's context (*con_cls). */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)c;
    http_server *srv = cls;
    req_state *rs = calloc(1, sizeof *rs);
    if (!rs)
        return NULL;
    rs->srv = srv;
    const char *path = target_path(uri ? uri : "");
    rs->raw_uri = strdup(*path ? path : "/");
    rs->t0 = util_now_mono();
    atomic_fetch_add(&srv->in_flight, 1);
    return rs;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    http_server *srv = cls;
    req_state *rs = *con_cls;
    if (!rs)
        return;
    *con_cls = NULL;
    if (srv->opts.observer && rs->method) {
        http_observation obs = {
            .method = rs->method,
            .path = rs->url ? rs->url : "",
            .label = rs->label ? rs->label : "(none)",
            .session_id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Session-ID"),
            .status = rs->status,
            .seconds = util_now_mono() - rs->t0,
            .body_len = rs->kept,
            .reply_len = rs->reply_len,
            .completed = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK,
        };
        srv->opts.observer(srv->opts.ctx, &obs);
    }
    free(rs->raw_uri);
    util_buf_free(&rs->body);
    wire_reply_free(&rs->reply);
    free(rs);
    if (atomic_fetch_sub(&srv->in_flight, 1) == 1 && atomic_load(&srv->closing)) {
        pthread_mutex_lock(&srv->lock);
        pthread_cond_broadcast(&srv->drained);
        pthread_mutex_unlock(&srv->lock);
    }
}

static void wake_acceptor(http_server *srv)
{
    ssize_t w = write(srv->wake[1], "w", 1);
    (void)w;                         /* a full pipe wakes it as well */
}

/* Counts the connections libmicrohttpd closes (the accept thread counts
 * them in), and wakes the accept thread if it waits for a descriptor. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    (void)c;
    (void)socket_context;
    http_server *srv = cls;
    if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        atomic_fetch_sub(&srv->connections, 1);
        if (atomic_exchange(&srv->paused, false))
            wake_acceptor(srv);
    }
}

/* An SSE body being sent: the content reader copies it out piece by piece. */
typedef struct sse_body {
    char *data;
    size_t len;
} sse_body;

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    sse_body *b = cls;
    if (pos >= b->len)
        return MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = b->len - (size_t)pos;
    if (n > max)
        n = max;
    memcpy(buf, b->data + pos, n);
    return (ssize_t)n;
}

static void sse_free(void *cls)
{
    sse_body *b = cls;
    free(b->data);
    free(b);
}

/* Builds the libmicrohttpd response for reply, taking its body. */
static struct MHD_Response *make_response(wire_reply *reply)
{
    struct MHD_Response *resp = NULL;
    bool sse = reply->content_type && !strcmp(reply->content_type, WIRE_SSE);
    if (sse) {
        sse_body *b = malloc(sizeof *b);
        if (!b)
            return NULL;
        b->data = reply->body;
        b->len = reply->body_len;
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, sse_read, b, sse_free);
        if (!resp) {
            free(b);
            return NULL;
        }
        reply->body = NULL;
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    } else if (reply->body_len > 0) {
        resp = MHD_create_response_from_buffer(reply->body_len, reply->body, MHD_RESPMEM_MUST_FREE);
        if (!resp)
            return NULL;
        reply->body = NULL;
    } else {
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        if (!resp)
            return NULL;
    }
    if (reply->content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, reply->content_type);
    if (reply->location)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, reply->location);
    if (reply->retry_after) {
        char secs[16];
        snprintf(secs, sizeof secs, "%u", reply->retry_after);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, secs);
    }
    return resp;
}

/* The adapter's own {"detail": ...} replies; detail must need no escaping. */
static void set_detail(wire_reply *r, int status, const char *detail)
{
    free(r->body);
    free(r->location);
    memset(r, 0, sizeof *r);
    r->status = status;
    r->content_type = WIRE_JSON;
    size_t cap = strlen(detail) + 16;
    r->body = malloc(cap);
    if (r->body)
        r->body_len = (size_t)snprintf(r->body, cap, "{\"detail\":\"%s\"}", detail);
}

static enum MHD_Result queue_reply(struct MHD_Connection *c, req_state *rs, wire_reply *reply,
                                   const char *allow)
{
    if (reply->status < 100 || reply->status > 599)
        set_detail(reply, 500, "Internal Server Error");
    rs->status = reply->status;
    rs->reply_len = reply->body_len;
    rs->queued = true;
    struct MHD_Response *resp = make_response(reply);
    wire_reply_free(reply);
    if (!resp)
        return MHD_NO;
    if (allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    if (rs->close || atomic_load(&rs->srv->closing))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)rs->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void reply_too_large(http_server *srv, wire_reply *reply)
{
    char msg[96];
    snprintf(msg, sizeof msg, "Request body too large (limit %zu bytes)", srv->opts.max_body);
    set_detail(reply, 413, msg);
}

/* Answers at once and closes the connection: used before the body is read,
 * so libmicrohttpd discards whatever body follows instead of reading it. */
static enum MHD_Result refuse(struct MHD_Connection *c, req_state *rs, int status,
                              const char *detail)
{
    wire_reply reply = {0};
    set_detail(&reply, status, detail);
    rs->close = true;
    return queue_reply(c, rs, &reply, NULL);
}

/* What a request's framing headers say (RFC 9112 section 6). */
typedef struct framing {
    unsigned n_length, n_encoding;
    const char *length;             /* the first Content-Length value */
    bool lengths_differ;
    const char *encoding;           /* the first Transfer-Encoding value */
} framing;

static void framing_note(framing *f, const char *key, const char *value)
{
    if (!key || !value)
        return;
    if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
        if (f->n_length++ == 0)
            f->length = value;
        else if (strcmp(f->length, value) != 0)
            f->lengths_differ = true;
    } else if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) && f->n_encoding++ == 0) {
        f->encoding = value;
    }
}

/* The verdict on what framing_note saw (see http_framing_check). A request
 * with both framings, or with two lengths, could be read differently by a
 * proxy in front (request smuggling); a transfer coding other than chunked
 * cannot be delimited at all. A length that is not a number needs no rule
 * here: libmicrohttpd 0.9.75 refuses it itself (its HTML 400, README "What
 * stays HTML") before any callback of ours runs, unless a Transfer-Encoding
 * is present too, which the first rule refuses; with two lengths it parses
 * the first, so a bad one never gets here and a good one differs from the
 * bad second. (on_headers' strtoull relies on that check.) */
static int framing_verdict(const framing *f, const char **why)
{
    *why = NULL;
    if (f->n_length && f->n_encoding) {
        *why = "Content-Length and Transfer-Encoding must not be combined";
        return 400;
    }
    if (f->lengths_differ) {
        *why = "conflicting Content-Length values";
        return 400;
    }
    if (f->n_encoding && (f->n_encoding > 1 || strcasecmp(f->encoding, "chunked") != 0)) {
        *why = "Transfer-Encoding other than chunked is not supported";
        return 501;
    }
    return 0;
}

int http_framing_check(const http_header *headers, size_t n, const char **why)
{
    framing f = {0};
    for (size_t i = 0; i < n; i++)
        framing_note(&f, headers[i].name, headers[i].value);
    return framing_verdict(&f, why);
}

static enum MHD_Result note_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (void)kind;
    framing_note(cls, key, value);
    return MHD_YES;
}

/* http_framing_check over the request's headers as libmicrohttpd holds them. */
static int check_framing(struct MHD_Connection *c, const char **why)
{
    framing f = {0};
    MHD_get_connection_values(c, MHD_HEADER_KIND, note_framing, &f);
    return framing_verdict(&f, why);
}

/* Appends a piece of body, or notes that the limit is exceeded (or memory
 * ran out: answered as too large, as before). With a declared length
 * (already checked against the limit) the buffer is sized once, at the
 * first piece, so that the pieces are copied in without regrowing; without
 * memory for that it grows as they come. */
static void take_body(req_state *rs, const char *data, size_t len)
{
    rs->received += len;
    if (rs->too_large)
        return;
    if (rs->has_length && !rs->body.cap)
        util_buf_reserve(&rs->body, rs->declared);
    if (len > rs->srv->opts.max_body - rs->body.len || util_buf_append(&rs->body, data, len)) {
        rs->too_large = true;
        util_buf_free(&rs->body);
        return;
    }
    rs->kept = rs->body.len;
}

/* Runs filter, router and handler for a complete request body (len bytes
 * at body), filling reply; a 405 leaves its Allow header in rs->allow. */
static void answer(struct MHD_Connection *c, req_state *rs, const char *body, size_t len,
                   wire_reply *reply)
{
    http_server *srv = rs->srv;
    const char *q = strchr(rs->raw_uri, '?');
    wire_request req = {
        .method = rs->method,
        .path = rs->url,
        .query = q ? q + 1 : NULL,
        .session_id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Session-ID"),
        .body = body,
        .body_len = len,
    };
    if (srv->opts.filter) {
        const char *label = NULL;
        if (srv->opts.filter(srv->opts.ctx, &req, rs->raw_uri, reply, &label)) {
            rs->label = label;
            return;
        }
    }
    /* HEAD is GET without the body (libmicrohttpd leaves the body out). */
    bool head = !strcmp(rs->method, MHD_HTTP_METHOD_HEAD);
    http_match m;
    switch (http_router_match(srv->router, head ? MHD_HTTP_METHOD_GET : rs->method, rs->url, &m)) {
    case HTTP_MATCH_NO_PATH:
        set_detail(reply, 404, "Not Found");
        return;
    case HTTP_MATCH_BAD_METHOD:
        set_detail(reply, 405, "Method Not Allowed");
        if (strstr(m.allow, MHD_HTTP_METHOD_GET))
            add_allowed(&m, MHD_HTTP_METHOD_HEAD);
        memcpy(rs->allow, m.allow, sizeof rs->allow);
        return;
    case HTTP_MATCH_FOUND:
        break;
    }
    rs->label = m.label;
    char param[256];
    if (m.param) {
        if (m.param_len >= sizeof param) {
            set_detail(reply, 404, "Not Found");
            return;
        }
        memcpy(param, m.param, m.param_len);
        param[m.param_len] = '\0';
        req.param = param;
    }
    m.fn(m.ctx, &req, reply);
}

/* Queues the reply to a fully received request: the one answered in place,
 * or the 413, or the answer to the body kept. */
static enum MHD_Result dispatch(struct MHD_Connection *c, req_state *rs)
{
    wire_reply reply = {0};
    if (rs->answered)
        reply = rs->reply;
    else if (rs->too_large)
        reply_too_large(rs->srv, &reply);
    else
        answer(c, rs, rs->body.data, rs->body.len, &reply);
    memset(&rs->reply, 0, sizeof rs->reply);     /* queue_reply takes it */
    return queue_reply(c, rs, &reply, rs->allow[0] ? rs->allow : NULL);
}

/* A body that comes whole in its first piece (its declared length, read at
 * once into libmicrohttpd's buffer: see HTTP_CONNECTION_MEMORY) is answered
 * where it lies, without a copy; the reply is queued at the final call,
 * the only one where libmicrohttpd takes it. */
static bool answer_in_place(struct MHD_Connection *c, req_state *rs, const char *data, size_t len)
{
    if (!rs->has_length || rs->received > 0 || len != rs->declared || rs->too_large)
        return false;
    rs->received = rs->kept = len;
    answer(c, rs, data, len, &rs->reply);
    rs->answered = true;
    return true;
}

/* The first call, headers in and no body read yet: refusals that must not
 * read the body (framing, declared size) answer here. */
static enum MHD_Result on_headers(struct MHD_Connection *c, req_state *rs, const char *url,
                                  const char *method)
{
    rs->started = true;
    rs->method = method;
    rs->url = target_path(url);
    if (!rs->url[0])
        rs->url = "/";
    const char *why = NULL;
    int status = check_framing(c, &why);
    if (status)
        return refuse(c, rs, status, why);
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        errno = 0;
        unsigned long long n = strtoull(cl, NULL, 10);
        if (errno || n > rs->srv->opts.max_body) {
            /* Refused before the body is read: libmicrohttpd then closes
             * the connection instead of reading the rest. */
            rs->too_large = true;
            return dispatch(c, rs);
        }
        rs->has_length = true;
        rs->declared = (size_t)n;
    }
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)cls;
    (void)version;
    req_state *rs = *con_cls;
    if (!rs || !rs->raw_uri)
        return MHD_NO;                       /* out of memory at on_uri */
    if (!rs->started)
        return on_headers(c, rs, url, method);
    if (rs->queued) {                        /* answered early; drop the body */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (answer_in_place(c, rs, upload_data, *upload_data_size)) {
            *upload_data_size = 0;
            return MHD_YES;
        }
        take_body(rs, upload_data, *upload_data_size);
        *upload_data_size = 0;
        /* Without Content-Length the excess is read and dropped so that the
         * client gets its 413 (libmicrohttpd cannot answer mid-upload); past
         * twice the limit the connection is closed instead. */
        if (rs->too_large && rs->received / 2 > rs->srv->opts.max_body) {
            rs->status = 413;                /* for the log: 413, aborted */
            return MHD_NO;
        }
        return MHD_YES;
    }
    return dispatch(c, rs);
}

static unsigned cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

/* Writes the refusal of a connection past the cap (busy), the whole reply
 * in one send on a fresh socket, and ends the sending side. */
static void send_busy(http_server *srv, int fd)
{
    atomic_fetch_add(&srv->refused, 1);
    ssize_t n = send(fd, srv->busy, srv->busy_len, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)n;                         /* a client gone already needs nothing */
    shutdown(fd, SHUT_WR);
}

static void linger_drop(http_server *srv, size_t i)
{
    close(srv->linger[i].fd);
    srv->linger[i] = srv->linger[--srv->nlinger];
}

/* Refuses a connection past the cap: 503 with Retry-After at once, then
 * lingers (HTTP_LINGER_MS) reading what the client sends. */
static void refuse_busy(http_server *srv, int fd)
{
    send_busy(srv, fd);
    if (srv->nlinger == HTTP_LINGER_SLOTS) {          /* make room: the oldest goes */
        size_t oldest = 0;
        for (size_t i = 1; i < srv->nlinger; i++)
            if (srv->linger[i].until < srv->linger[oldest].until)
                oldest = i;
        linger_drop(srv, oldest);
    }
    srv->linger[srv->nlinger++] =
        (lingering){.fd = fd, .until = util_now_mono() + HTTP_LINGER_MS / 1000.0};
}

/* Out of descriptors: the spare one is given up for a moment so that one
 * waiting connection can still be accepted and told to retry. */
static void refuse_with_reserve(http_server *srv)
{
    if (srv->reserve_fd < 0)
        return;
    close(srv->reserve_fd);
    int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
        send_busy(srv, fd);
        close(fd);
    }
    srv->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* Reads and drops what a refused connection sends; closes it at its end,
 * its deadline or its byte budget. */
static void linger_service(http_server *srv, size_t i, bool readable, double now)
{
    lingering *l = &srv->linger[i];
    bool done = now >= l->until;
    while (readable && !done) {
        char drop[4096];
        ssize_t n = recv(l->fd, drop, sizeof drop, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        l->drained += n > 0 ? (size_t)n : 0;
        done = n <= 0 || l->drained > HTTP_LINGER_BYTES;
    }
    if (done)
        linger_drop(srv, i);
}

/* Accepts what is pending (up to a batch): below the cap each connection is
 * counted and handed to libmicrohttpd, past it refused at once (refuse_busy).
 * False when accepting must pause because descriptors ran out (until a
 * connection closes). */
static bool accept_pending(http_server *srv)
{
    for (int i = 0; i < HTTP_ACCEPT_BATCH; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd = accept4(srv->listen_fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
            refuse_with_reserve(srv);
            return false;
        }
        if (fd < 0)
            return !(errno == ENOBUFS || errno == ENOMEM);
        if (atomic_load(&srv->connections) >= srv->opts.max_connections) {
            refuse_busy(srv, fd);
            continue;
        }
        /* Only this thread adds to the count, so the check above holds. */
        atomic_fetch_add(&srv->connections, 1);
        if (MHD_add_connection(srv->daemon, fd, (struct sockaddr *)&ss, len) != MHD_YES)
            atomic_fetch_sub(&srv->connections, 1);   /* closed by libmicrohttpd */
    }
    return true;
}

/* Milliseconds until the first lingering connection's deadline, or wait
 * (-1: none) when there is none sooner. */
static int linger_timeout(const http_server *srv, int wait, double now)
{
    for (size_t i = 0; i < srv->nlinger; i++) {
        double ms = (srv->linger[i].until - now) * 1000.0 + 1;
        int t = ms < 0 ? 0 : (int)ms;
        if (wait < 0 || t < wait)
            wait = t;
    }
    return wait;
}

/* The accept thread. libmicrohttpd runs without a listening socket of its
 * own (MHD_USE_NO_LISTEN_SOCKET): to stop accepting, this thread exits and
 * the socket is closed, with no call to MHD_quiesce_daemon, whose epoll
 * thread-pool path races with its own workers over the listening socket and
 * can abort the process (libmicrohttpd 0.9.75). It also keeps the connection
 * count, so that every connection past the cap is refused here, at once,
 * however many come (libmicrohttpd's own limit would close them without a
 * word); it polls the refused connections that linger. When descriptors run
 * out it waits for a connection to close (on_connection wakes it;
 * HTTP_PAUSE_MS at most), refusing one waiting connection per wait. */
static void *accept_main(void *arg)
{
    http_server *srv = arg;
    bool paused = false;
    struct pollfd p[2 + HTTP_LINGER_SLOTS];
    while (atomic_load(&srv->accepting)) {
        if (paused)
            atomic_store(&srv->paused, true);
        p[0] = (struct pollfd){srv->wake[0], POLLIN, 0};
        p[1] = (struct pollfd){srv->listen_fd, paused ? 0 : POLLIN, 0};
        for (size_t i = 0; i < srv->nlinger; i++)
            p[2 + i] = (struct pollfd){srv->linger[i].fd, POLLIN, 0};
        nfds_t nfds = (nfds_t)(2 + srv->nlinger);
        int n = poll(p, nfds, linger_timeout(srv, paused ? HTTP_PAUSE_MS : -1, util_now_mono()));
        if (n < 0 && errno != EINTR)
            break;
        if (p[0].revents & POLLIN) {
            char drain[64];
            while (read(srv->wake[0], drain, sizeof drain) > 0)
                ;
        }
        double now = util_now_mono();
        for (size_t i = nfds - 2; i-- > 0;)          /* backwards: drops move the last */
            linger_service(srv, i, n > 0 && p[2 + i].revents, now);
        if ((p[1].revents & POLLIN) || paused)
            paused = !accept_pending(srv);
    }
    while (srv->nlinger > 0)
        linger_drop(srv, srv->nlinger - 1);
    return NULL;
}

/* Creates, binds and listens on a socket for host:port. */
static int open_listener(const char *host, unsigned port, char *err, size_t errsz)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%u", port);
    int gai = getaddrinfo(host, portstr, &hints, &res);
    if (gai != 0) {
        snprintf(err, errsz, "cannot resolve host '%s': %s", host, gai_strerror(gai));
        return -1;
    }
    int fd = -1, saved = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 4096) == 0)
            break;
        saved = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        snprintf(err, errsz, "cannot listen on %s:%u: %s", host, port, strerror(saved));
    return fd;
}

static unsigned bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

/* The refusal of a connection past the cap, in the shape of the adapter's
 * own replies (set_detail): JSON detail, plus Retry-After and
 * Connection: close. */
static void format_busy(http_server *srv)
{
    const char *body = "{\"detail\":\"" HTTP_BUSY_DETAIL "\"}";
    int n = snprintf(srv->busy, sizeof srv->busy,
                     "HTTP/1.1 503 Service Unavailable\r\nContent-Type: %s\r\n"
                     "Content-Length: %zu\r\nRetry-After: %u\r\nConnection: close\r\n\r\n%s",
                     WIRE_JSON, strlen(body), WIRE_RETRY_AFTER, body);
    srv->busy_len = n > 0 && (size_t)n < sizeof srv->busy ? (size_t)n : 0;
}

/* libmicrohttpd's own limit, which closes connections past it without a
 * reply, must never be what refuses one: the accept thread admits at most
 * max_connections, and libmicrohttpd splits its limit evenly between the
 * pool's threads, any of which may get all of them, plus those it has closed
 * but not yet cleaned up. So each thread gets twice the cap. */
static unsigned mhd_connection_limit(const http_options *o)
{
    unsigned long long limit = 2ull * o->max_connections * (o->threads > 1 ? o->threads : 1);
    return limit > UINT_MAX / 2 ? UINT_MAX / 2 : (unsigned)limit;
}

static void free_server(http_server *s)
{
    for (int i = 0; i < 2; i++)
        if (s->wake[i] >= 0)
            close(s->wake[i]);
    if (s->reserve_fd >= 0)
        close(s->reserve_fd);
    pthread_cond_destroy(&s->drained);
    pthread_mutex_destroy(&s->lock);
    free(s->host);
    free(s);
}

http_server *http_server_start(const http_options *opts, const http_router *router,
                               char *err, size_t errsz)
{
    if (mhd_load(err, errsz))
        return NULL;
    http_server *srv = calloc(1, sizeof *srv);
    if (!srv) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    srv->opts = *opts;
    srv->router = router;
    srv->wake[0] = srv->wake[1] = -1;
    srv->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    pthread_mutex_init(&srv->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&srv->drained, &ca);
    pthread_condattr_destroy(&ca);
    srv->host = strdup(opts->host ? opts->host : HTTP_DEFAULT_HOST);
    if (!srv->opts.threads)
        srv->opts.threads = HTTP_THREADS_PER_CORE * cores();
    if (!srv->opts.max_body)
        srv->opts.max_body = HTTP_DEFAULT_MAX_BODY;
    if (!srv->opts.max_connections)
        srv->opts.max_connections = HTTP_DEFAULT_MAX_CONNECTIONS;
    if (!srv->host)
        snprintf(err, errsz, "out of memory");
    srv->listen_fd = srv->host ? open_listener(srv->host, opts->port, err, errsz) : -1;
    if (srv->listen_fd < 0) {
        free_server(srv);
        return NULL;
    }
    if (pipe2(srv->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
        snprintf(err, errsz, "cannot create a pipe: %s", strerror(errno));
        close(srv->listen_fd);
        free_server(srv);
        return NULL;
    }
    srv->port = bound_port(srv->listen_fd);
    format_busy(srv);
    /* One thread means no pool, and libmicrohttpd 0.9.75's epoll loop without
     * a pool stalls once ~128 connections are open (measured with wrk on
     * GET /health: 65,000 req/s at 64 connections, 60-600 req/s at 128-256).
     * Its poll loop does not; a pool (2+ threads, epoll per worker) is fine. */
    unsigned flags = (srv->opts.threads > 1 ? MHD_USE_EPOLL_INTERNAL_THREAD
                                            : MHD_USE_POLL_INTERNAL_THREAD) |
                     MHD_USE_ITC | MHD_USE_TURBO | MHD_USE_NO_LISTEN_SOCKET;
    srv->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, srv,
        MHD_OPTION_THREAD_POOL_SIZE, srv->opts.threads > 1 ? srv->opts.threads : 0u,
        MHD_OPTION_CONNECTION_LIMIT, mhd_connection_limit(&srv->opts),
        MHD_OPTION_CONNECTION_TIMEOUT, srv->opts.idle_timeout,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, HTTP_CONNECTION_MEMORY,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
        MHD_OPTION_END);
    if (!srv->daemon) {
        snprintf(err, errsz, "cannot start the HTTP server on %s:%u", srv->host, srv->port);
        close(srv->listen_fd);
        free_server(srv);
        return NULL;
    }
    atomic_store(&srv->accepting, true);
    srv->acceptor_running = pthread_create(&srv->acceptor, NULL, accept_main, srv) == 0;
    if (!srv->acceptor_running) {
        snprintf(err, errsz, "cannot start the accept thread");
        MHD_stop_daemon(srv->daemon);
        close(srv->listen_fd);
        free_server(srv);
        return NULL;
    }
    return srv;
}

unsigned long long http_server_refused(const http_server *s)
{
    return atomic_load(&s->refused);
}

unsigned http_server_port(const http_server *s)
{
    return s->port;
}

unsigned http_server_in_flight(http_server *s)
{
    return atomic_load(&s->in_flight);
}

void http_server_quiesce(http_server *s)
{
    if (s->listen_fd < 0)
        return;
    atomic_store(&s->closing, true);
    atomic_store(&s->accepting, false);
    wake_acceptor(s);
    if (s->acceptor_running)
        pthread_join(s->acceptor, NULL);
    s->acceptor_running = false;
    close(s->listen_fd);
    s->listen_fd = -1;
}


void http_server_stop(http_server *s, double grace)
{
    if (!s)
        return;
    http_server_quiesce(s);
    /* Drain: wait until no request has been in flight for a short quiet
     * period. A keep-alive connection whose last reply went out just before
     * quiescing may still bring one more request (answered with
     * "Connection: close"); the quiet period lets it arrive and finish
     * instead of being cut by the stop. Bounded by the grace period. */
    double end = util_now_mono() + grace;
    struct timespec deadline = util_deadline_mono(grace);
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (atomic_load(&s->in_flight) > 0)
            if (pthread_cond_timedwait(&s->drained, &s->lock, &deadline) == ETIMEDOUT)
                goto out;
        double left = end - util_now_mono();
        struct timespec quiet = left > HTTP_QUIET_PERIOD ? util_deadline_mono(HTTP_QUIET_PERIOD) : deadline;
        int rc = pthread_cond_timedwait(&s->drained, &s->lock, &quiet);
        if (rc == ETIMEDOUT && atomic_load(&s->in_flight) == 0)
            break;
        if (util_now_mono() >= end)
            break;
    }
out:
    pthread_mutex_unlock(&s->lock);
    MHD_stop_daemon(s->daemon);
    free_server(s);
}
