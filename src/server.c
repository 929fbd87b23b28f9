/* server — the route table and operations around the HTTP adapter
 * (see server.h; docs/http-api.md).
 *
 * Routes: root routes (/health, /create_session, /verify, /metrics, ...) and
 * environment routes (/{env}/tools, /{env}/call, ...) map to the ors_ and
 * gym_ handlers through small wrappers that recover the environments from the
 * route context. Before routing, a filter answers 308 to any request whose
 * first path segment is neither a root route nor a name of this environment,
 * pointing it at /ENV<original path and query>. After each request an
 * observer counts it in the metrics (by route pattern, so label cardinality
 * stays bounded) and writes one access-log line to stderr, in text or JSON,
 * with a single write so lines from the pool's threads never interleave.
 *
 * A reaper thread calls ors_reap every reap_interval seconds, sleeping on a
 * condition variable that server_stop signals, so shutdown never waits for
 * it. Shutdown itself is driven by the main thread: server_wait_signal
 * returns on SIGINT/SIGTERM (or SIGHUP, which the caller turns into a
 * dataset reload), then server_stop quiesces the HTTP server, lets in-flight
 * requests finish and frees everything.
 */
#include "server.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "http.h"
#include "util.h"

struct server {
    server_options opts;
    ors_env *ors;
    gym_env *gym;
    metrics *m;
    http_router *router;
    http_server *http;
    pthread_t reaper;
    bool reaper_running;
    bool stopping;                 /* guarded by lock */
    pthread_mutex_t lock;
    pthread_cond_t wake;
};

/* The defaults of server_options (fcpivot serve --help prints them from here). */
#define SERVER_DEFAULT_PORT 8080u
#define SERVER_DEFAULT_IDLE_TIMEOUT 120u        /* seconds */
#define SERVER_DEFAULT_REAP_INTERVAL 5.0        /* seconds */
#define SERVER_DEFAULT_SHUTDOWN_GRACE 10.0      /* seconds */

void server_options_default(server_options *o)
{
    memset(o, 0, sizeof *o);
    o->host = HTTP_DEFAULT_HOST;
    o->port = SERVER_DEFAULT_PORT;
    o->max_body = HTTP_DEFAULT_MAX_BODY;
    o->max_connections = HTTP_DEFAULT_MAX_CONNECTIONS;
    o->idle_timeout = SERVER_DEFAULT_IDLE_TIMEOUT;
    o->reap_interval = SERVER_DEFAULT_REAP_INTERVAL;
    o->shutdown_grace = SERVER_DEFAULT_SHUTDOWN_GRACE;
    o->log_format = SERVER_LOG_TEXT;
}

/* ---------------------------------------------------------------- routes */

#define ORS_ROUTE(name)                                                            \
    static void route_ors_##name(void *ctx, const wire_request *req, wire_reply *out) \
    {                                                                              \
        ors_##name(((server *)ctx)->ors, req, out);                                \
    }
#define GYM_ROUTE(name)                                                            \
    static void route_gym_##name(void *ctx, const wire_request *req, wire_reply *out) \
    {                                                                              \
        gym_##name(((server *)ctx)->gym, req, out);                                \
    }

ORS_ROUTE(health)
ORS_ROUTE(list_environments)
ORS_ROUTE(tools)
ORS_ROUTE(splits)
ORS_ROUTE(tasks)
ORS_ROUTE(num_tasks)
ORS_ROUTE(task)
ORS_ROUTE(task_range)
ORS_ROUTE(create_session)
ORS_ROUTE(create)
ORS_ROUTE(ping)
ORS_ROUTE(task_tools)
ORS_ROUTE(prompt)
ORS_ROUTE(call)
ORS_ROUTE(delete)
ORS_ROUTE(delete_session)
GYM_ROUTE(verify)
GYM_ROUTE(seed_session)
GYM_ROUTE(aggregate_metrics)
GYM_ROUTE(reverify_mode)

static void route_metrics(void *ctx, const wire_request *req, wire_reply *out)
{
    (void)req;
    server *s = ctx;
    size_t len = 0;
    metrics_set_refused_connections(s->m, http_server_refused(s->http));
    char *text = metrics_render(s->m, &len);
    if (!text)
        return;                                   /* status 0: the adapter answers 500 */
    out->status = 200;
    out->content_type = "text/plain; version=0.0.4; charset=utf-8";
    out->body = text;
    out->body_len = len;
}

typedef struct route_def {
    const char *method, *pattern;
    http_handler_fn fn;
} route_def;

static const route_def ROUTES[] = {
    {"GET", "/health", route_ors_health},
    {"GET", "/list_environments", route_ors_list_environments},
    {"POST", "/create_session", route_ors_create_session},
    {"POST", "/create", route_ors_create},
    {"POST", "/ping", route_ors_ping},
    {"POST", "/delete", route_ors_delete},
    {"POST", "/delete_session", route_ors_delete_session},
    {"GET", "/{env}/tools", route_ors_tools},
    {"GET", "/{env}/splits", route_ors_splits},
    {"POST", "/{env}/tasks", route_ors_tasks},
    {"POST", "/{env}/num_tasks", route_ors_num_tasks},
    {"POST", "/{env}/task", route_ors_task},
    {"POST", "/{env}/task_range", route_ors_task_range},
    {"GET", "/{env}/task_tools", route_ors_task_tools},
    {"GET", "/{env}/prompt", route_ors_prompt},
    {"POST", "/{env}/call", route_ors_call},
    {"POST", "/verify", route_gym_verify},
    {"POST", "/seed_session", route_gym_seed_session},
    {"POST", "/aggregate_metrics", route_gym_aggregate_metrics},
    {"GET", "/reverify_mode", route_gym_reverify_mode},
    {"GET", "/metrics", route_metrics},
};

/* The 308 rule: a first segment that is neither a root route nor this
 * environment is redirected to the default environment. */
static bool redirect_filter(void *ctx, const wire_request *req, const char *raw_uri,
                            wire_reply *out, const char **label)
{
    server *s = ctx;
    const char *seg = req->path[0] == '/' ? req->path + 1 : req->path;
    size_t len = strcspn(seg, "/");
    if (http_router_has_root(s->router, seg, len))
        return false;
    char name[256];
    if (len > 0 && len < sizeof name) {
        memcpy(name, seg, len);
        name[len] = '\0';
        if (ors_env_matches(s->ors, name))
            return false;
    }
    const char *env = ors_env_name(s->ors);
    size_t cap = strlen(env) + strlen(raw_uri) + 3;
    out->location = malloc(cap);
    if (!out->location)
        return false;
    snprintf(out->location, cap, "/%s%s%s", env, raw_uri[0] == '/' ? "" : "/", raw_uri);
    out->status = 308;
    out->content_type = WIRE_JSON;
    static const char body[] = "{\"detail\":\"Permanent Redirect\"}";
    out->body = malloc(sizeof body);
    if (out->body) {
        memcpy(out->body, body, sizeof body - 1);
        out->body_len = sizeof body - 1;
    }
    *label = "(redirect)";
    return true;
}

/* ---------------------------------------------------------------- access log */

typedef struct logbuf {
    char p[4096];
    size_t n;
} logbuf;

static void lb_puts(logbuf *b, const char *s, size_t len)
{
    if (len > sizeof b->p - 1 - b->n)
        len = sizeof b->p - 1 - b->n;
    memcpy(b->p + b->n, s, len);
    b->n += len;
}

static void lb_printf(logbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void lb_printf(logbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->n, sizeof b->p - b->n, fmt, ap);
    va_end(ap);
    if (n > 0)
        b->n += (size_t)n < sizeof b->p - b->n ? (size_t)n : sizeof b->p - 1 - b->n;
}

/* Length of the valid UTF-8 sequence at s (at most left bytes), or 0
 * (util_utf8_get's rules). */
static size_t utf8_seq(const unsigned char *s, size_t left)
{
    if (s[0] < 0x80)
        return 1;
    size_t n;
    util_utf8_get(s, left, &n);
    return n > 1 ? n : 0;
}

/* Appends s escaped: as a JSON string body (json) or with \xNN for
 * non-printable bytes (text). Invalid UTF-8 bytes are always escaped. */
static void lb_escaped(logbuf *b, const char *s, bool json)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t left = strlen(s);
    while (left > 0) {
        size_t n = utf8_seq(p, left);
        if (n > 1) {
            lb_puts(b, (const char *)p, n);
        } else if (n == 1 && p[0] >= 0x20 && p[0] != 0x7f && p[0] != '"' && p[0] != '\\') {
            lb_puts(b, (const char *)p, 1);
        } else if (json) {
            if (p[0] == '"' || p[0] == '\\')
                lb_printf(b, "\\%c", p[0]);
            else
                lb_printf(b, "\\u%04x", p[0]);
        } else if (p[0] == '"' || p[0] == '\\') {
            lb_printf(b, "%c", p[0]);
        } else {
            lb_printf(b, "\\x%02x", p[0]);
        }
        n = n ? n : 1;
        p += n;
        left -= n;
    }
}

static void log_request(const server *s, const http_observation *o)
{
    double now = util_now_real();
    time_t secs = (time_t)now;
    long ms = (long)((now - (double)secs) * 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char ts[40];
    size_t tl = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + tl, sizeof ts - tl, ".%03ldZ", ms > 999 ? 999 : ms);
    bool json = s->opts.log_format == SERVER_LOG_JSON;
    logbuf b;
    b.n = 0;
    if (json) {
        lb_printf(&b, "{\"time\":\"%s\",\"method\":\"", ts);
        lb_escaped(&b, o->method, true);
        lb_puts(&b, "\",\"path\":\"", 10);
        lb_escaped(&b, o->path, true);
        lb_printf(&b, "\",\"route\":\"%s\",\"status\":%d,\"duration_ms\":%.3f,"
                      "\"bytes_in\":%zu,\"bytes_out\":%zu,\"completed\":%s,\"session\":",
                  o->label, o->status, o->seconds * 1e3, o->body_len, o->reply_len,
                  o->completed ? "true" : "false");
        if (o->session_id) {
            lb_puts(&b, "\"", 1);
            lb_escaped(&b, o->session_id, true);
            lb_puts(&b, "\"", 1);
        } else {
            lb_puts(&b, "null", 4);
        }
        lb_puts(&b, "}", 1);
    } else {
        lb_printf(&b, "%s ", ts);
        lb_escaped(&b, o->method, false);
        lb_puts(&b, " ", 1);
        lb_escaped(&b, o->path, false);
        lb_printf(&b, " %d %.3fms route=%s in=%zu out=%zu", o->status, o->seconds * 1e3,
                  o->label, o->body_len, o->reply_len);
        if (o->session_id) {
            lb_puts(&b, " sid=", 5);
            lb_escaped(&b, o->session_id, false);
        }
        if (!o->completed)
            lb_puts(&b, " aborted", 8);
    }
    if (b.n > sizeof b.p - 2)
        b.n = sizeof b.p - 2;
    b.p[b.n++] = '\n';
    ssize_t w = write(STDERR_FILENO, b.p, b.n);
    (void)w;                                       /* a lost log line is not an error */
}

static void observe(void *ctx, const http_observation *o)
{
    server *s = ctx;
    metrics_observe_request(s->m, o->label, o->status, o->seconds);
    if (!s->opts.quiet)
        log_request(s, o);
}

/* ---------------------------------------------------------------- reaper */

static void *reaper_main(void *arg)
{
    server *s = arg;
    double iv = s->opts.reap_interval > 0 ? s->opts.reap_interval : SERVER_DEFAULT_REAP_INTERVAL;
    pthread_mutex_lock(&s->lock);
    while (!s->stopping) {
        struct timespec dl = util_deadline_mono(iv);
        while (!s->stopping && pthread_cond_timedwait(&s->wake, &s->lock, &dl) != ETIMEDOUT)
            ;
        if (s->stopping)
            break;
        pthread_mutex_unlock(&s->lock);
        ors_reap(s->ors);
        metrics_set_active_sessions(s->m, (long)ors_session_count(s->ors));
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* ---------------------------------------------------------------- life cycle */

static void lifecycle_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
}

void server_block_signals(void)
{
    sigset_t set;
    lifecycle_signals(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int server_wait_signal(double timeout)
{
    sigset_t set;
    lifecycle_signals(&set);
    struct timespec ts = {(time_t)timeout, (long)((timeout - (double)(time_t)timeout) * 1e9)};
    for (;;) {
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig > 0)
            return sig;
        if (errno == EAGAIN)
            return 0;
        /* EINTR: another signal was handled; wait again (a little longer at worst) */
    }
}

static void free_server(server *s)
{
    http_router_free(s->router);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

server *server_start(const server_options *o, ors_env *ors, gym_env *gym, metrics *m,
                     char *err, size_t errsz)
{
    server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    s->opts = *o;
    s->ors = ors;
    s->gym = gym;
    s->m = m;
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->wake, &ca);
    pthread_condattr_destroy(&ca);
    s->router = http_router_new();
    for (size_t i = 0; s->router && i < sizeof ROUTES / sizeof ROUTES[0]; i++)
        if (http_router_add(s->router, ROUTES[i].method, ROUTES[i].pattern, ROUTES[i].fn, s) != 0) {
            snprintf(err, errsz, "cannot add route %s", ROUTES[i].pattern);
            free_server(s);
            return NULL;
        }
    if (!s->router) {
        snprintf(err, errsz, "out of memory");
        free_server(s);
        return NULL;
    }
    http_options ho = {
        .host = o->host, .port = o->port, .threads = o->threads, .max_body = o->max_body,
        .max_connections = o->max_connections, .idle_timeout = o->idle_timeout,
        .filter = redirect_filter, .observer = observe, .ctx = s,
    };
    s->http = http_server_start(&ho, s->router, err, errsz);
    if (!s->http) {
        free_server(s);
        return NULL;
    }
    if (pthread_create(&s->reaper, NULL, reaper_main, s) != 0) {
        snprintf(err, errsz, "cannot start the reaper thread");
        http_server_stop(s->http, 0);
        free_server(s);
        return NULL;
    }
    s->reaper_running = true;
    return s;
}

unsigned server_port(const server *s)
{
    return http_server_port(s->http);
}

void server_stop(server *s)
{
    if (!s)
        return;
    http_server_stop(s->http, s->opts.shutdown_grace > 0 ? s->opts.shutdown_grace : SERVER_DEFAULT_SHUTDOWN_GRACE);
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    pthread_cond_broadcast(&s->wake);
    pthread_mutex_unlock(&s->lock);
    if (s->reaper_running)
        pthread_join(s->reaper, NULL);
    free_server(s);
}
