/* wire — transport-neutral requests and replies.
 *
 * The protocol layers (ors, gym) answer wire_requests with wire_replies and
 * never see the HTTP library; the HTTP adapter (http, server) converts between
 * these and libmicrohttpd. Replies are complete buffers: SSE streams of this
 * environment are finite and ready at once, so a reply of content type
 * text/event-stream is the whole stream, which the adapter may send chunked.
 */
#ifndef FCPIVOT_WIRE_H
#define FCPIVOT_WIRE_H

#include <stddef.h>
#include <jansson.h>
#include "jtext.h"

typedef struct wire_request {
    const char *method;      /* "GET", "POST", ... */
    const char *path;        /* URL path, no query */
    const char *query;       /* raw query string without '?', or NULL */
    const char *session_id;  /* X-Session-ID header value, or NULL */
    const char *body;        /* request body (not NUL-terminated), may be NULL */
    size_t body_len;
    const char *param;       /* the path parameter captured by the router
                                (the environment name for /{env}/...), or NULL */
} wire_request;

typedef struct wire_reply {
    int status;              /* HTTP status */
    const char *content_type;/* static string: "application/json", "text/event-stream", ... */
    char *body;              /* owned (malloc), may be NULL when body_len == 0 */
    size_t body_len;
    char *location;          /* owned; Location header for redirects, or NULL */
    unsigned retry_after;    /* seconds for a Retry-After header (503s); 0 = none */
} wire_reply;

/* Seconds a refused client is told to wait (Retry-After of every 503). */
#define WIRE_RETRY_AFTER 1u

#define WIRE_JSON "application/json"
#define WIRE_SSE  "text/event-stream"

/* json_dumps(v, flags) writing reals the way Python's json does (shortest
 * repr: 0.1, 0.6666666666666666, 100000.0). Caller frees. NULL on failure. */
char *wire_dumps(const json_t *v, size_t flags);
/* Sets a JSON reply; takes ownership of body (a jansson reference). */
void wire_reply_json(wire_reply *r, int status, json_t *body);
/* Sets a reply whose body (malloc'ed, len bytes) the reply takes over. */
void wire_reply_take(wire_reply *r, int status, const char *content_type, char *body, size_t len);
/* Sets {"detail": <message>} with status; printf-style. */
void wire_reply_detail(wire_reply *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Appends one SSE event ("event: NAME\ndata: ...\n\n"; multi-line data is
 * split into several data: lines) and sets status 200 and the SSE type. */
void wire_reply_sse_event(wire_reply *r, const char *event, const char *data, size_t len);
/* Parses the request body as a JSON object (numbers only Python's json
 * reads — big integers, NaN, Infinity — are accepted as jtext's JTEXT_PY
 * placeholders). Returns a new reference, or NULL after setting a 422 reply
 * that says why. */
json_t *wire_body_object(const wire_request *req, wire_reply *r);
/* Python's json dialect for request bodies: integers of any size, NaN,
 * Infinity, -Infinity and lone surrogate escapes, all of which json.dumps
 * (the ORS client's serialiser) writes. */
#define WIRE_PY_JSON (JTEXT_PY | JTEXT_SURROGATES)
/* Reads the request body as a JSON object in that dialect and gives the
 * span of the last member named keys[k] in out[k] (p NULL when absent;
 * spans point into the body). 0, or -1 after setting a 422 reply that says
 * why. */
int wire_body_members(const wire_request *req, wire_reply *r, const char *const *keys, size_t n,
                      jtext_span *out);
/* A JSON string from len bytes that may not be valid UTF-8 (invalid
 * sequences become U+FFFD). New reference; NULL on allocation failure. */
json_t *wire_string(const char *s, size_t len);
/* Releases what the reply owns and zeroes it. */
void wire_reply_free(wire_reply *r);

#endif
