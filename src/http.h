/* http — the HTTP/1.1 server adapter: the only module that knows
 * libmicrohttpd.
 *
 * An http_router maps method + path patterns (literal segments and one
 * "{name}" parameter segment, e.g. "/{env}/call") to handlers that answer
 * transport-neutral wire_requests with wire_replies. An http_server runs
 * libmicrohttpd in epoll mode with a pool of threads, keeps connections
 * alive, accumulates request bodies up to a limit (refusing larger ones with
 * 413 from Content-Length before reading them; a chunked body over the limit
 * is read and dropped for its 413, or the connection closed once past twice
 * the limit), sends text/event-stream
 * replies chunked, and answers what it produces itself (404, 405, 413, 500)
 * with JSON {"detail": ...} bodies. Before any body is read it refuses, and
 * closes, ambiguous or unsupported framing (RFC 9112: Content-Length with
 * Transfer-Encoding or two different lengths 400, a coding other than
 * chunked 501). Every connection past max_connections is refused at once
 * by the accept thread (a 503 with Retry-After written before its request is
 * read, then the connection drained and closed), however many come. HEAD is served by the GET route, an absolute-form target by
 * its path. The layer above (server) adds a filter run before routing and an
 * observer run after each request.
 */
#ifndef FCPIVOT_HTTP_H
#define FCPIVOT_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include "wire.h"

/* A route handler; must be thread-safe (it runs in the pool's threads). It
 * fills out (status 0 on return means "internal error": the adapter answers
 * 500). */
typedef void (*http_handler_fn)(void *ctx, const wire_request *req, wire_reply *out);

typedef struct http_router http_router;

/* An empty router; caller frees with http_router_free. NULL on allocation
 * failure. */
http_router *http_router_new(void);
void http_router_free(http_router *r);

/* Adds a route. pattern starts with '/', its segments are literals or one
 * "{name}" parameter matching any non-empty segment; pattern and method are
 * copied. The route's label (for metrics and logs) is the pattern itself.
 * Returns 0, or -1 for an invalid pattern or allocation failure. */
int http_router_add(http_router *r, const char *method, const char *pattern,
                    http_handler_fn fn, void *ctx);

typedef enum {
    HTTP_MATCH_FOUND,        /* route found: handler, label, param set */
    HTTP_MATCH_NO_PATH,      /* no route has this path: 404 */
    HTTP_MATCH_BAD_METHOD    /* the path exists with other methods: 405 */
} http_match_kind;

typedef struct http_match {
    http_match_kind kind;
    http_handler_fn fn;
    void *ctx;
    const char *label;       /* the matched pattern (owned by the router) */
    const char *param;       /* points into the path given to the match */
    size_t param_len;
    char allow[64];          /* for BAD_METHOD: the methods allowed, "GET, POST" */
} http_match;

/* Matches method and path (no query). Literal segments beat a parameter. */
http_match_kind http_router_match(const http_router *r, const char *method,
                                  const char *path, http_match *m);

/* True when some route's first segment is the literal seg (len bytes): the
 * server's "root routes", as opposed to /{env}/... ones. */
bool http_router_has_root(const http_router *r, const char *seg, size_t len);

/* A filter run before routing, after the body is read. Returning true means
 * it answered the request in out (e.g. a redirect) and routing is skipped;
 * label then names it for the observer. */
typedef bool (*http_filter_fn)(void *ctx, const wire_request *req, const char *raw_uri,
                               wire_reply *out, const char **label);

/* Everything about one finished request, for metrics and the access log.
 * Strings are valid only during the call. */
typedef struct http_observation {
    const char *method;
    const char *path;          /* decoded path */
    const char *label;         /* route pattern, or "(none)" */
    const char *session_id;    /* or NULL */
    int status;
    double seconds;            /* from headers received to reply sent */
    size_t body_len;           /* request body bytes received */
    size_t reply_len;          /* reply body bytes */
    bool completed;            /* false when the client went away mid-reply */
} http_observation;

typedef void (*http_observer_fn)(void *ctx, const http_observation *obs);

typedef struct http_options {
    const char *host;          /* address or name to bind; NULL = HTTP_DEFAULT_HOST */
    unsigned port;             /* 0 = any free port */
    unsigned threads;          /* pool size; 0 = HTTP_THREADS_PER_CORE per core */
    size_t max_body;           /* request body limit in bytes; 0 = 16 MiB */
    unsigned max_connections;  /* 0 = HTTP_DEFAULT_MAX_CONNECTIONS; more are answered 503 and closed */
    unsigned idle_timeout;     /* seconds a connection may idle; 0 = never */
    http_filter_fn filter;     /* optional */
    http_observer_fn observer; /* optional */
    void *ctx;                 /* for filter and observer */
} http_options;

#define HTTP_DEFAULT_HOST "127.0.0.1"
#define HTTP_DEFAULT_MAX_BODY ((size_t)16 << 20)
#define HTTP_DEFAULT_MAX_CONNECTIONS 10000u
/* Worker threads per core by default. Two, so that a worker preempted in
 * the middle of its connections (the cores shared with other processes: a
 * co-located client, the trainer, a benchmark's load generator) does not
 * hold them up while the core serves someone else: measured on 2 cores
 * shared with wrk (-t2 -c64, /verify of 27 KB), 4 threads instead of 2 cut
 * involuntary context switches from 0.39 to 0.08 per request and the CPU
 * per request by 7%, and raise requests/s by 20%; 6 or 8 gain nothing more. */
#define HTTP_THREADS_PER_CORE 2u

typedef struct http_server http_server;

/* One request header as received (name and value borrowed). */
typedef struct http_header {
    const char *name;
    const char *value;
} http_header;

/* The framing decision the server makes when a request's headers are in
 * (docs/http-api.md §10), over its n headers in order: 0 when the body
 * framing is unambiguous and supported (*why NULL), else the status to
 * refuse it with, 400 (Content-Length with Transfer-Encoding, or two
 * different Content-Length values) or 501 (a Transfer-Encoding other than
 * one "chunked", any case), and *why the reply's detail (static). Names
 * match case-insensitively; values as libmicrohttpd keeps them (leading
 * blanks dropped). Pure: no I/O, no state. */
int http_framing_check(const http_header *headers, size_t n, const char **why);

/* Starts serving with router (borrowed: it must outlive the server). Returns
 * the server, or NULL with a reason (address in use, bad host...). */
http_server *http_server_start(const http_options *opts, const http_router *router,
                               char *err, size_t errsz);
/* The port actually bound (useful with port 0). */
unsigned http_server_port(const http_server *s);
/* Connections refused so far because --max-connections were open (each
 * answered 503 by the accept thread, never seen by the observer). */
unsigned long long http_server_refused(const http_server *s);
/* Requests received and not yet answered. */
unsigned http_server_in_flight(http_server *s);
/* Stops accepting new connections; connections already open are served on. */
void http_server_quiesce(http_server *s);
/* Stops: waits up to grace seconds for in-flight requests to finish, then
 * closes every connection, joins the threads and frees the server. */
void http_server_stop(http_server *s, double grace);

#endif
