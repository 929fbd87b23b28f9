/* Integration tests of `fcpivot serve` as a process: options and usage
 * errors, dataset validation at start-up, the built-in sample, the start-up
 * line, clean shutdown on SIGTERM/SIGINT, also in the middle of load, and the
 * connection cap (every connection past it refused at once, on raw sockets). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <jansson.h>
#include "serveutil.h"
#include "testutil.h"

#define ENV "nemotron-fc-pivot"

static int run_serve(const char *const *args, char **out, char **err)
{
    const char *argv[32] = {tu_bin(), "serve"};
    size_t n = 2;
    for (size_t i = 0; args[i]; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    return tu_run((char *const *)argv, NULL, 0, out, NULL, err);
}

Test(serve_ops, help_lists_every_option)
{
    const char *args[] = {"--help", NULL};
    char *out, *err;
    cr_assert_eq(run_serve(args, &out, &err), 0);
    const char *opts[] = {"--data", "--split", "--skip-invalid", "--host", "--port", "--threads",
                          "--env-name", "--session-ttl", "--max-body", "--max-connections",
                          "--idle-timeout", "--log-format", "--quiet", "--word-similarity-threshold",
                          "--float-tolerance", "--parallel-rewarding", "--allow-subset",
                          "--allow-superset", "--reward-mode", "--max-sessions", "--allow-empty"};
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        cr_assert(strstr(out, opts[i]), "help lacks %s", opts[i]);
    free(out);
    free(err);
}

Test(serve_ops, invalid_options_exit_2)
{
    const char *bad[][4] = {
        {"--port", "http", NULL}, {"--port", "70000", NULL}, {"--threads", "0", NULL},
        {"--reward-mode", "lenient", NULL}, {"--log-format", "xml", NULL},
        {"--session-ttl", "-1", NULL}, {"--max-body", "lots", NULL},
        {"--float-tolerance", "x", NULL}, {"--word-similarity-threshold", "abc", NULL},
        {"--split", "noequals", NULL}, {"--no-such-option", NULL}, {"--port", NULL},
        {"stray", NULL}, {"--env-name", "a/b", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *out, *err;
        cr_assert_eq(run_serve(bad[i], &out, &err), 2, "%s %s", bad[i][0], bad[i][1] ? bad[i][1] : "");
        cr_assert_gt(strlen(err), 0);
        cr_assert_eq(strlen(out), 0);
        free(out);
        free(err);
    }
}

Test(serve_ops, missing_or_invalid_dataset_refuses_to_start)
{
    const char *missing[] = {"--port", "0", "--data", "/nonexistent/file.jsonl", NULL};
    char *out, *err;
    cr_assert_eq(run_serve(missing, &out, &err), 1);
    cr_assert(strstr(err, "/nonexistent/file.jsonl"), "%s", err);
    free(out);
    free(err);
    /* Two valid rows and one invalid one. */
    char *sample = tu_read_file(tu_path("data/sample.jsonl"), NULL);
    char *l2 = strchr(sample, '\n') + 1;
    char *l3 = strchr(l2, '\n') + 1;
    *l3 = '\0';
    size_t cap = strlen(sample) + 64;
    char *data = malloc(cap);
    snprintf(data, cap, "%s{\"not\":\"a row\"}\n", sample);
    char *path = tu_write_temp(data, strlen(data), ".jsonl");
    const char *strict[] = {"--port", "0", "--data", path, NULL};
    cr_assert_eq(run_serve(strict, &out, &err), 1);
    cr_assert(strstr(err, ":3:"), "no line number in: %s", err);
    free(out);
    free(err);
    /* With --skip-invalid it serves the two valid rows and says so. */
    const char *skip[] = {"--quiet", "--data", path, "--skip-invalid", NULL};
    su_server s;
    cr_assert_eq(su_start(&s, skip), 0);
    cr_assert(strstr(s.startup, "train=2"), "%s", s.startup);
    cr_assert(strstr(s.startup, "1 invalid rows skipped"), "%s", s.startup);
    long st;
    json_t *j = su_json(s.port, "POST", "/" ENV "/num_tasks", NULL, "{\"split\":\"train\"}", &st);
    cr_assert_eq(json_integer_value(json_object_get(j, "num_tasks")), 2);
    json_decref(j);
    su_client_reset();
    cr_assert_eq(su_stop(&s), 0);
    unlink(path);
    free(path);
    free(data);
    free(sample);
}

Test(serve_ops, empty_split_refuses_to_start_unless_allowed)
{
    char *empty = tu_write_temp("\n  \n", 4, ".jsonl");      /* blank lines are no rows */
    char spec[4200], *out, *err;
    snprintf(spec, sizeof spec, "holdout=%s", empty);
    const char *args[] = {"--port", "0", "--data", tu_path("data/sample.jsonl"), "--split", spec, NULL};
    cr_assert_eq(run_serve(args, &out, &err), 1);
    cr_assert(strstr(err, "'holdout'") && strstr(err, empty) && strstr(err, "no rows"), "%s", err);
    cr_assert(strstr(err, "--allow-empty"), "%s", err);
    cr_assert_eq(strlen(out), 0, "it started: %s", out);
    free(out);
    free(err);
    const char *allowed[] = {"--quiet", "--split", spec, "--allow-empty", NULL};
    su_server s;
    cr_assert_eq(su_start(&s, allowed), 0);
    cr_assert(strstr(s.startup, "holdout=0"), "%s", s.startup);
    cr_assert_eq(su_stop(&s), 0);
    unlink(empty);
    free(empty);
}

Test(serve_ops, default_is_the_sample_and_splits_are_named)
{
    su_server s;
    const char *none[] = {"--quiet", NULL};
    cr_assert_eq(su_start(&s, none), 0);
    cr_assert(strstr(s.startup, ENV), "%s", s.startup);
    cr_assert(strstr(s.startup, "train="), "%s", s.startup);
    long st;
    json_t *j = su_json(s.port, "POST", "/" ENV "/num_tasks", NULL, "{\"split\":\"train\"}", &st);
    cr_assert_eq(st, 200);
    cr_assert_gt(json_integer_value(json_object_get(j, "num_tasks")), 0);
    json_decref(j);
    su_client_reset();
    cr_assert_eq(su_stop(&s), 0);
    /* Several splits; names other than train/validation/test are "validation". */
    const char *sample = tu_path("data/sample.jsonl");
    char a[4200], b[4200], c[4200];
    snprintf(a, sizeof a, "train=%s", sample);
    snprintf(b, sizeof b, "test=%s", sample);
    snprintf(c, sizeof c, "holdout=%s", sample);
    const char *many[] = {"--quiet", "--split", a, "--split", b, "--split", c, NULL};
    cr_assert_eq(su_start(&s, many), 0);
    cr_assert(strstr(s.startup, "holdout="), "%s", s.startup);
    j = su_json(s.port, "GET", "/" ENV "/splits", NULL, NULL, &st);
    cr_assert_eq(json_array_size(j), 3);
    size_t i;
    json_t *sp;
    json_array_foreach(j, i, sp) {
        const char *name = json_string_value(json_object_get(sp, "name"));
        const char *type = json_string_value(json_object_get(sp, "type"));
        cr_assert_str_eq(type, !strcmp(name, "holdout") ? "validation" : name);
    }
    json_decref(j);
    su_client_reset();
    cr_assert_eq(su_stop(&s), 0);
}

Test(serve_ops, sigint_also_stops_cleanly)
{
    su_server s;
    const char *args[] = {"--quiet", NULL};
    cr_assert_eq(su_start(&s, args), 0);
    kill(s.pid, SIGINT);
    int st = 0;
    double deadline = su_now() + 30;
    pid_t w;
    while ((w = waitpid(s.pid, &st, WNOHANG)) == 0 && su_now() < deadline)
        usleep(10 * 1000);
    cr_assert_eq(w, s.pid, "no exit after SIGINT");
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    s.pid = 0;
    su_stop(&s);
}

/* ------------------------------------------------------------ under load */

typedef struct load {
    unsigned port;
    atomic_bool stop;
    atomic_long done, failed_mid;
    pthread_mutex_t lock;
    char first_failure[512];
} load;

/* Complete episodes until told to stop. After SIGTERM, requests may fail
 * to connect; a reply, when there is one, must be whole. */
static void *load_main(void *p)
{
    load *l = p;
    while (!atomic_load(&l->stop)) {
        char *sid = su_new_session(l->port);
        if (!sid)
            break;
        long st;
        json_t *j = su_json(l->port, "POST", "/create", sid, "{\"split\":\"train\",\"index\":0}", &st);
        json_decref(j);
        if (st == 200) {
            char *raw;
            json_t *res = su_call(l->port, ENV, sid,
                                  "{\"name\":\"submit_message\",\"input\":{\"content\":\"x\"}}",
                                  NULL, &raw, NULL);
            if (!res && raw[0]) {                      /* a truncated stream */
                pthread_mutex_lock(&l->lock);
                if (atomic_fetch_add(&l->failed_mid, 1) == 0)
                    snprintf(l->first_failure, sizeof l->first_failure, "%s", raw);
                pthread_mutex_unlock(&l->lock);
            }
            json_decref(res);
            free(raw);
            atomic_fetch_add(&l->done, 1);
        }
        free(sid);
    }
    su_client_reset();
    return NULL;
}

Test(serve_ops, sigterm_under_load_exits_0)
{
    su_server s;
    const char *args[] = {"--quiet", NULL};
    cr_assert_eq(su_start(&s, args), 0);
    load l = {.port = s.port, .lock = PTHREAD_MUTEX_INITIALIZER};
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, load_main, &l);
    double deadline = su_now() + 30;
    while (atomic_load(&l.done) < 50 && su_now() < deadline)
        usleep(10 * 1000);
    cr_assert_geq(atomic_load(&l.done), 50, "no load reached the server");
    int rc = su_stop(&s);              /* SIGTERM while the clients run */
    atomic_store(&l.stop, true);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(rc, 0, "exit status %d after SIGTERM under load", rc);
    cr_assert_eq(atomic_load(&l.failed_mid), 0, "%ld replies cut off, the first: %s",
                 atomic_load(&l.failed_mid), l.first_failure);
}

/* ------------------------------------------------------------ connections */

/* Sends one keep-alive request on fd and reads its reply (a short one). */
/* Sends GET path on a kept-alive connection and reads until the reply
 * holds want (true) or the connection ends or buf fills (false). */
static bool ask(int fd, const char *path, const char *want, char *buf, size_t bufsz)
{
    char get[256];
    int len = snprintf(get, sizeof get, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
    if (send(fd, get, (size_t)len, MSG_NOSIGNAL) != (ssize_t)len)
        return false;
    size_t got = 0;
    while (got < bufsz - 1) {
        ssize_t n = recv(fd, buf + got, bufsz - 1 - got, 0);
        if (n <= 0)
            return false;
        got += (size_t)n;
        buf[got] = '\0';
        if (strstr(buf, want))
            return true;
    }
    return false;
}

static bool exchange(int fd)
{
    char buf[1024];
    return ask(fd, "/health", "{\"status\":\"ok\"}", buf, sizeof buf);
}

Test(serve_ops, connection_cap)
{
    su_server s;
    const char *args[] = {"--quiet", "--threads", "1", "--max-connections", "2",
                          "--idle-timeout", "0", NULL};
    cr_assert_eq(su_start(&s, args), 0);
    /* Two open keep-alive connections (each answered once, so both are
     * surely accepted) fill the cap. */
    int a = su_connect(s.port), b = su_connect(s.port);
    cr_assert(exchange(a) && exchange(b));
    /* A third connection is refused at once with a 503 to retry (never left
     * waiting in the backlog, never a 429)... */
    const char *get = "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    bool closed;
    char *raw = su_raw_closed(s.port, get, strlen(get), 20.0, NULL, &closed);
    cr_assert(raw && !strncmp(raw, "HTTP/1.1 503", 12), "a third connection got: %s", raw);
    cr_assert(strstr(raw, "Retry-After: 1\r\n") && strstr(raw, "{\"detail\":"), "%s", raw);
    cr_assert(closed, "the refused connection stayed open");
    free(raw);
    /* ...and served once a slot is free (once the server has seen the close:
     * until then it answers 503, which the client retries). */
    close(a);
    double deadline = su_now() + 20;
    while ((raw = su_raw(s.port, get, strlen(get), 20.0, NULL)) && !strncmp(raw, "HTTP/1.1 503", 12) &&
           su_now() < deadline) {
        free(raw);
        usleep(50 * 1000);
    }
    cr_assert(raw && strstr(raw, "{\"status\":\"ok\"}"), "not served after a close: %s", raw);
    free(raw);
    cr_assert(exchange(b), "the held connection stopped working");
    close(b);
    cr_assert_eq(su_stop(&s), 0);
}

/* ---- every connection past the cap is refused at once -------------------- */

#define CAP_HELD 4
#define CAP_EXTRA 200

typedef struct refused {
    int fd;
    char buf[512];
    size_t got;
    bool closed;
} refused;

/* Reads what the server sends on each connection until every one is closed
 * or the deadline passes. */
static void read_until_closed(refused *r, size_t n, double deadline)
{
    size_t open = n;
    struct pollfd p[CAP_EXTRA];
    while (open > 0 && su_now() < deadline) {
        for (size_t i = 0; i < n; i++)
            p[i] = (struct pollfd){r[i].closed ? -1 : r[i].fd, POLLIN, 0};
        if (poll(p, (nfds_t)n, 200) <= 0)
            continue;
        for (size_t i = 0; i < n; i++) {
            if (r[i].closed || !p[i].revents)
                continue;
            ssize_t got = recv(r[i].fd, r[i].buf + r[i].got, sizeof r[i].buf - 1 - r[i].got,
                               MSG_DONTWAIT);
            if (got > 0) {
                r[i].got += (size_t)got;
                r[i].buf[r[i].got] = '\0';
            }
            if (got == 0 || (got < 0 && errno != EAGAIN) || r[i].got == sizeof r[i].buf - 1) {
                r[i].closed = true;
                open--;
            }
        }
    }
}

Test(serve_ops, every_connection_past_the_cap_is_refused_at_once)
{
    su_server s;
    const char *args[] = {"--quiet", "--max-connections", "4", "--idle-timeout", "0", NULL};
    cr_assert_eq(su_start(&s, args), 0);
    int held[CAP_HELD];
    for (int i = 0; i < CAP_HELD; i++) {
        held[i] = su_connect(s.port);
        cr_assert(held[i] >= 0 && exchange(held[i]), "held connection %d", i);
    }
    /* far more than libmicrohttpd would ever be given: each one gets its 503
     * and is closed, none waits in the listen backlog */
    static refused r[CAP_EXTRA];
    const char *get = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    for (int i = 0; i < CAP_EXTRA; i++) {
        r[i] = (refused){.fd = su_connect(s.port)};
        cr_assert(r[i].fd >= 0, "connect %d", i);
        cr_assert_eq(send(r[i].fd, get, strlen(get), MSG_NOSIGNAL), (ssize_t)strlen(get));
    }
    read_until_closed(r, CAP_EXTRA, su_now() + 60);
    for (int i = 0; i < CAP_EXTRA; i++) {
        cr_assert(r[i].closed, "connection %d past the cap left waiting: got '%s'", i, r[i].buf);
        cr_assert(!strncmp(r[i].buf, "HTTP/1.1 503", 12), "connection %d: '%s'", i, r[i].buf);
        cr_assert(strstr(r[i].buf, "\r\nRetry-After: 1\r\n"), "connection %d: %s", i, r[i].buf);
        cr_assert(strstr(r[i].buf, "{\"detail\":\"Too many connections, retry later\"}"),
                  "connection %d: %s", i, r[i].buf);
        close(r[i].fd);
    }
    for (int i = 0; i < CAP_HELD; i++)
        cr_assert(exchange(held[i]), "held connection %d stopped working", i);
    /* the refusals are counted where the observer never sees them */
    static char metrics[65536];
    char want[96];
    snprintf(want, sizeof want, "\nfcpivot_connections_refused_total %d\n", CAP_EXTRA);
    cr_assert(ask(held[0], "/metrics", want, metrics, sizeof metrics),
              "no '%s' in: %s", want + 1, metrics);
    for (int i = 0; i < CAP_HELD; i++)
        close(held[i]);
    cr_assert_eq(su_stop(&s), 0);
}

Test(serve_ops, idle_connections_time_out)
{
    su_server s;
    const char *args[] = {"--quiet", "--idle-timeout", "1", NULL};
    cr_assert_eq(su_start(&s, args), 0);
    int c = su_connect(s.port);
    cr_assert(exchange(c));
    char byte;
    ssize_t n = recv(c, &byte, 1, 0);            /* returns when the server closes */
    cr_assert_eq(n, 0, "the idle connection was not closed");
    close(c);
    cr_assert_eq(su_stop(&s), 0);
}
