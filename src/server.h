/* server — binds the protocol handlers (ors, gym, metrics) to HTTP routes and
 * runs them: the route table, the 308 redirect of unknown first path
 * segments to the default environment, per-request metrics and access log,
 * the idle-session reaper thread, and the signal-driven clean shutdown.
 */
#ifndef FCPIVOT_SERVER_H
#define FCPIVOT_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include "gym.h"
#include "metrics.h"
#include "ors.h"

typedef enum { SERVER_LOG_TEXT, SERVER_LOG_JSON } server_log_format;

typedef struct server_options {
    /* defaults: server_options_default (NULL / 0 below mean what http.h says) */
    const char *host;          /* NULL = HTTP_DEFAULT_HOST */
    unsigned port;             /* 0 = any free port */
    unsigned threads;          /* 0 = HTTP_THREADS_PER_CORE per core */
    size_t max_body;           /* 0 = HTTP_DEFAULT_MAX_BODY */
    unsigned max_connections;  /* 0 = HTTP_DEFAULT_MAX_CONNECTIONS; more are answered 503 */
    unsigned idle_timeout;     /* seconds; 0 = never */
    double reap_interval;      /* seconds between ors_reap calls; 0 = 5 */
    double shutdown_grace;     /* seconds in-flight requests get at stop; 0 = 10 */
    server_log_format log_format;
    bool quiet;                /* no access log */
} server_options;

void server_options_default(server_options *o);

typedef struct server server;

/* Blocks SIGINT, SIGTERM, SIGHUP (and ignores SIGPIPE) in the calling
 * thread; call it in the main thread before any thread is started, so that
 * every thread inherits the mask and server_wait_signal alone receives them. */
void server_block_signals(void);

/* Starts serving. ors, gym and m are borrowed and must outlive the server.
 * Returns NULL with a reason on failure. Stop and free with server_stop. */
server *server_start(const server_options *o, ors_env *ors, gym_env *gym, metrics *m,
                     char *err, size_t errsz);
unsigned server_port(const server *s);

/* Waits up to timeout seconds for SIGINT, SIGTERM or SIGHUP (blocked by
 * server_block_signals) and returns the signal number, or 0 when none came. */
int server_wait_signal(double timeout);

/* Stops accepting, lets in-flight requests finish (bounded by the grace
 * period), stops the reaper and frees the server. */
void server_stop(server *s);

#endif
