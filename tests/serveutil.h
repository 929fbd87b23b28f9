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
/* A connected socket to 127.0.0.1:port, or -1. */
int su_connect(unsigned port);

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

/* Seconds on the monotonic clock. */
double su_now(void);

#endif
