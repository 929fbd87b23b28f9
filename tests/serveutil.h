/* serveutil — helpers for the HTTP tests: a libcurl request helper, a raw
 * socket helper for byte-level checks, and running `fcpivot serve` as a child
 * process on an ephemeral loopback port. */
#ifndef FCPIVOT_SERVEUTIL_H
#define FCPIVOT_SERVEUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* ------------------------------------------------------------ HTTP client */

typedef struct su_resp {
    long status;
    char *body;          /* NUL-terminated, owned */
    size_t len;
    char *headers;       /* the raw header block, owned */
    long connects;       /* new connections curl opened for this request */
} su_resp;

/* One request to http://127.0.0.1:port<path>. sid (X-Session-ID) and body may
 * be NULL. Uses a per-thread curl handle so that keep-alive is exercised.
 * Returns 0, or -1 on a transport error (out->status 0). */
int su_request(unsigned port, const char *method, const char *path, const char *sid,
               const char *body, size_t len, su_resp *out);
/* Same, with extra request headers ("Name: value"), NULL-terminated. */
int su_request_h(unsigned port, const char *method, const char *path, const char *sid,
                 const char *body, size_t len, const char *const *headers, su_resp *out);
/* A header's value from out->headers (case-insensitive name), copied into
 * buf; NULL if absent. */
const char *su_header(const su_resp *r, const char *name, char *buf, size_t bufsz);
void su_resp_free(su_resp *r);
/* Drops this thread's cached curl handle (its connections close). */
void su_client_reset(void);

/* Sends raw bytes on a new loopback connection and reads the reply until the
 * server closes or timeout_s passes. Returns the bytes read (owned), or NULL
 * when the connection failed. */
char *su_raw(unsigned port, const char *data, size_t len, double timeout_s, size_t *out_len);
/* su_raw, saying in *closed whether the server closed the connection (as
 * opposed to the timeout passing). */
char *su_raw_closed(unsigned port, const char *data, size_t len, double timeout_s,
                    size_t *out_len, bool *closed);
/* A connected socket to 127.0.0.1:port, or -1. */
int su_connect(unsigned port);
/* Resident memory of process pid in kB (VmRSS), or -1. */
long su_rss_kb(pid_t pid);

/* ------------------------------------------------------------ the server */

typedef struct su_server {
    pid_t pid;
    unsigned port;
    int out_fd;          /* the server's stdout (read end) */
    char *startup;       /* the start-up line */
    char *err_path;      /* the server's stderr, a temporary file (owned) */
} su_server;

/* Starts FCPIVOT_BIN serve --host 127.0.0.1 --port 0 <args...> (NULL-terminated)
 * and reads the port from its start-up line. Returns 0, or -1 (with the
 * server's stderr printed) when it did not start within the deadline. */
int su_start(su_server *s, const char *const *args);
/* Sends SIGTERM, waits (bounded) and returns the exit status, or -1 if it had
 * to be killed or died from a signal. Frees what s holds. */
int su_stop(su_server *s);
/* The server's stderr so far (owned). */
char *su_stderr(const su_server *s);

/* ------------------------------------------------------------ ORS helpers */

#include <jansson.h>

/* A request whose reply body is parsed as JSON (NULL when it is not JSON);
 * *status gets the HTTP status (0 on transport errors). body may be NULL. */
json_t *su_json(unsigned port, const char *method, const char *path, const char *sid,
                const char *body, long *status);

/* One SSE event. */
typedef struct su_event {
    char *event, *data;
} su_event;
/* Parses a complete SSE stream into events (owned array, *n of them); NULL
 * when the stream is not well-formed: every event "event: X\ndata: Y\n" lines
 * closed by a blank line, nothing else. */
su_event *su_sse_parse(const char *body, size_t len, size_t *n);
void su_sse_free(su_event *ev, size_t n);
/* The exact bytes docs/http-api.md §4.2 prescribes for a /call result: task_id event, then
 * text in 4,096-byte pieces, "chunk" events and a final "end" (owned). */
char *su_sse_call_stream(const char *call_id, const char *text);

/* POST /create_session, checking its framing; the new sid (owned) or NULL. */
char *su_new_session(unsigned port);
/* POST /ENV/call with body; returns the concatenated result parsed (new
 * reference), or NULL when the stream carried an error event (its data goes
 * to *error, owned, if error is not NULL). *raw (owned, optional) gets the
 * whole stream and *call_id (owned, optional) the task_id event's data. */
json_t *su_call(unsigned port, const char *env, const char *sid, const char *body,
                char **call_id, char **raw, char **error);

/* Seconds on the monotonic clock. */
double su_now(void);

#endif
