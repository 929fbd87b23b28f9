/* Integration test of the multi-replica deployment (deploy/run-local,
 * deploy/haproxy.cfg.in): 3 fcpivot replicas behind HAProxy on loopback.
 *
 * 1. >= 1,000 complete ORS episodes run concurrently through HAProxy (libcurl
 *    multi): create_session -> create -> task_tools -> call -> delete, half of
 *    them submitting the expected action and half a wrong one; every reward
 *    must equal what the grader library gives locally. The same episodes are
 *    then run against one replica directly, for the figures printed.
 * 2. 150 episodes are opened (up to /create) and paused. Asking each replica
 *    directly shows every session lives in exactly one replica and that all
 *    three hold some. One replica is SIGKILLed; once HAProxy reports it DOWN
 *    the paused episodes resume: exactly the dead replica's sessions fail
 *    (404 "Active environment not found", a 503 or a connection error), all
 *    others finish with the right reward, and new episodes keep succeeding.
 * 3. SIGTERM to run-local stops HAProxy and every replica; it exits 0.
 *
 * Skips visibly when haproxy is not installed. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "grade.h"
#include "serveutil.h"
#include "testutil.h"

#define ENV "nemotron-fc-pivot"
#define NROWS 48
#define NREPLICAS 3

/* ---- the dataset: calls with nested/numeric arguments, messages, batches */

typedef struct row_info {
    json_t *row;          /* the whole row */
    json_t *expected;     /* borrowed: expected_action */
    size_t ntools;
} row_info;

static json_t *tool(const char *name, const char *prop, const char *type)
{
    return json_pack("{s:s, s:s, s:s, s:{s:s, s:{s:{s:s}}, s:[s]}, s:b}", "type", "function",
                     "name", name, "description", "A tool of the test.", "parameters", "type",
                     "object", "properties", prop, "type", type, "required", prop, "strict", 1);
}

static json_t *call(const char *name, json_t *args)
{
    char *text = json_dumps(args, JSON_COMPACT);
    json_t *c = json_pack("{s:s, s:s, s:s}", "type", "function_call", "name", name,
                          "arguments", text);
    free(text);
    json_decref(args);
    return c;
}

static void make_rows(row_info *rows, const char *path)
{
    FILE *f = fopen(path, "w");
    cr_assert(f);
    for (size_t i = 0; i < NROWS; i++) {
        json_t *tools = json_array();
        json_array_append_new(tools, tool("get_weather", "city", "string"));
        json_array_append_new(tools, tool("book_flight", "passengers", "integer"));
        json_t *expected;
        switch (i % 4) {
        case 0:
            expected = call("get_weather", json_pack("{s:s, s:i}", "city", "Paris", "days",
                                                     (json_int_t)(i % 7 + 1)));
            break;
        case 1:
            expected = call("book_flight",
                            json_pack("{s:i, s:{s:s, s:s}, s:f, s:[s,s]}", "passengers",
                                      (json_int_t)(i % 5 + 1), "route", "from", "Oslo", "to",
                                      "Lima", "budget", 1250.5, "meals", "vegan", "none"));
            break;
        case 2:
            expected = json_pack("{s:s, s:s}", "type", "message", "content",
                                 "Which city do you mean?");
            break;
        default: {
            json_t *calls = json_array();
            json_array_append_new(calls, call("get_weather", json_pack("{s:s}", "city", "Rome")));
            json_array_append_new(calls, call("get_weather", json_pack("{s:s}", "city", "Oslo")));
            expected = json_pack("{s:s, s:o}", "type", "function_call_batch", "calls", calls);
        }
        }
        json_t *row = json_pack(
            "{s:{s:[{s:s, s:s, s:s}], s:o}, s:o, s:i, s:{s:i}}", "responses_create_params",
            "input", "role", "user", "content", "Help me with my trip, please.", "type",
            "message", "tools", tools, "expected_action", expected, "trajectory_id",
            (json_int_t)i, "info", "turn", (json_int_t)1);
        cr_assert(row);
        char *line = json_dumps(row, JSON_COMPACT);
        fprintf(f, "%s\n", line);
        free(line);
        rows[i].row = row;
        rows[i].expected = json_object_get(row, "expected_action");
        rows[i].ntools = 2;
    }
    fclose(f);
}

/* ---- one episode as a little state machine over libcurl multi ----------- */

typedef enum { ST_CREATE_SESSION, ST_CREATE, ST_TOOLS, ST_CALL, ST_DELETE, ST_DONE } ep_step;
typedef enum { EP_RUNNING, EP_PAUSED, EP_OK, EP_FAILED } ep_state;

typedef struct episode {
    size_t row;
    bool correct;            /* submit the expected action, or a wrong one */
    bool pause_after_create;
    ep_step step;
    ep_state state;
    char sid[64];
    char *resp;
    size_t resp_len;
    char *post;              /* the request body (owned) */
    struct curl_slist *hdrs;
    double want_reward;
    double got_reward;
    long fail_status;        /* status of the failing request (0: transport) */
    char fail[256];
    int holder;              /* replica index holding the session, -1 unknown */
} episode;

static size_t on_data(char *p, size_t sz, size_t n, void *ctx)
{
    episode *e = ctx;
    size_t len = sz * n;
    char *nb = realloc(e->resp, e->resp_len + len + 1);
    if (!nb)
        return 0;
    memcpy(nb + e->resp_len, p, len);
    e->resp = nb;
    e->resp_len += len;
    e->resp[e->resp_len] = '\0';
    return len;
}

/* The data of an SSE stream's events: "task_id" into id (if not NULL), the
 * concatenated "chunk"/"end" data into a new string (owned). */
static char *sse_payload(const char *s, char *id, size_t idsz)
{
    size_t cap = strlen(s) + 1, len = 0;
    char *out = calloc(1, cap);
    char event[32] = "";
    for (const char *line = s; line && *line;) {
        const char *eol = strchr(line, '\n');
        size_t n = eol ? (size_t)(eol - line) : strlen(line);
        if (n >= 7 && !strncmp(line, "event: ", 7))
            snprintf(event, sizeof event, "%.*s", (int)(n - 7), line + 7);
        else if (n >= 6 && !strncmp(line, "data: ", 6)) {
            if (!strcmp(event, "task_id") && id)
                snprintf(id, idsz, "%.*s", (int)(n - 6), line + 6);
            else if (!strcmp(event, "chunk") || !strcmp(event, "end")) {
                memcpy(out + len, line + 6, n - 6);
                len += n - 6;
            }
        }
        line = eol ? eol + 1 : NULL;
    }
    out[len] = '\0';
    return out;
}

/* What the episode submits, and the reward the grader gives it locally. */
static json_t *action_for(const row_info *r, bool correct, double *want)
{
    grade_config cfg;
    grade_config_default(&cfg);
    char err[256];
    grade_action *exp = grade_expected_from_json(r->expected, err, sizeof err);
    cr_assert(exp, "%s", err);
    const char *type = json_string_value(json_object_get(r->expected, "type"));
    const json_t *first = !strcmp(type, "function_call_batch")
                              ? json_array_get(json_object_get(r->expected, "calls"), 0)
                              : r->expected;
    json_t *body;
    grade_action *act;
    bool as_message = !strcmp(type, "message") ? correct : !correct;
    if (as_message) {
        const char *text = "I would rather ask a question first.";
        body = json_pack("{s:s, s:{s:s}}", "name", "submit_message", "input", "content", text);
        act = grade_action_message(text, strlen(text));
    } else {
        const char *name = strcmp(type, "message") ? json_string_value(json_object_get(first, "name"))
                                                   : "get_weather";
        json_t *input = strcmp(type, "message")
            ? json_loads(json_string_value(json_object_get(first, "arguments")), 0, NULL)
            : json_pack("{s:s}", "city", "Paris");
        char *args = json_dumps(input, JSON_COMPACT);
        act = grade_action_call(name, args, strlen(args));
        free(args);
        body = json_pack("{s:s, s:o}", "name", name, "input", input);
    }
    *want = grade_judge(&cfg, exp, act).reward;
    grade_action_free(exp);
    grade_action_free(act);
    return body;
}

typedef struct driver {
    CURLM *multi;
    unsigned port;
    const row_info *rows;
    size_t active;
} driver;

static void fail(episode *e, long status, const char *fmt, const char *detail)
{
    e->state = EP_FAILED;
    e->fail_status = status;
    snprintf(e->fail, sizeof e->fail, fmt, detail ? detail : "");
}

static void start_request(driver *d, episode *e)
{
    static const char *paths[] = {"/create_session", "/create", "/" ENV "/task_tools",
                                  "/" ENV "/call", "/delete"};
    char url[128], hdr[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", d->port, paths[e->step]);
    free(e->resp);
    e->resp = NULL;
    e->resp_len = 0;
    free(e->post);
    e->post = NULL;
    curl_slist_free_all(e->hdrs);
    e->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    if (e->step != ST_CREATE_SESSION) {
        snprintf(hdr, sizeof hdr, "X-Session-ID: %s", e->sid);
        e->hdrs = curl_slist_append(e->hdrs, hdr);
    }
    if (e->step == ST_CREATE) {
        json_t *b = json_pack("{s:s, s:s, s:i}", "env_name", ENV, "split", "train", "index",
                              (json_int_t)e->row);
        e->post = json_dumps(b, JSON_COMPACT);
        json_decref(b);
    } else if (e->step == ST_CALL) {
        json_t *b = action_for(&d->rows[e->row], e->correct, &e->want_reward);
        e->post = json_dumps(b, JSON_COMPACT);
        json_decref(b);
    }
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, e->hdrs);
    if (e->step != ST_TOOLS)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, e->post ? e->post : "");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, e);
    curl_easy_setopt(c, CURLOPT_PRIVATE, e);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_multi_add_handle(d->multi, c);
    d->active++;
}

/* Handles a finished request; returns true if the episode goes on. */
static bool finish_request(driver *d, episode *e, CURLcode cc, long status)
{
    if (cc != CURLE_OK) {
        fail(e, 0, "transport error: %s", curl_easy_strerror(cc));
        return false;
    }
    if (status != 200) {
        e->state = EP_FAILED;
        e->fail_status = status;
        snprintf(e->fail, sizeof e->fail, "step %d: HTTP %ld %.180s", (int)e->step, status,
                 e->resp ? e->resp : "");
        return false;
    }
    const char *body = e->resp ? e->resp : "";
    switch (e->step) {
    case ST_CREATE_SESSION: {
        char *rest = sse_payload(body, e->sid, sizeof e->sid);
        free(rest);
        if (strlen(e->sid) != 36) {
            fail(e, status, "no session id in: %.200s", body);
            return false;
        }
        break;
    }
    case ST_CREATE:
        if (!strstr(body, e->sid)) {
            fail(e, status, "create: %.200s", body);
            return false;
        }
        if (e->pause_after_create) {
            e->step = ST_TOOLS;
            e->state = EP_PAUSED;
            return false;
        }
        break;
    case ST_TOOLS: {
        json_t *j = json_loads(body, 0, NULL);
        size_t n = json_array_size(json_object_get(j, "tools"));
        json_decref(j);
        if (n != d->rows[e->row].ntools + 1) {
            fail(e, status, "task_tools: %.200s", body);
            return false;
        }
        break;
    }
    case ST_CALL: {
        char *payload = sse_payload(body, NULL, 0);
        json_t *j = json_loads(payload, 0, NULL);
        json_t *reward = json_object_get(json_object_get(j, "output"), "reward");
        bool ok = json_is_true(json_object_get(j, "ok")) && json_is_number(reward);
        e->got_reward = ok ? json_number_value(reward) : -1;
        json_decref(j);
        free(payload);
        if (!ok) {
            fail(e, status, "call: %.200s", body);
            return false;
        }
        break;
    }
    case ST_DELETE:
        e->state = EP_OK;
        e->step = ST_DONE;
        return false;
    default:
        break;
    }
    e->step++;
    return true;
}

/* Runs every RUNNING episode of eps until it ends or pauses, concurrency at
 * a time, through 127.0.0.1:port. */
static void run_episodes(episode *eps, size_t n, size_t concurrency, unsigned port,
                         const row_info *rows)
{
    driver d = {curl_multi_init(), port, rows, 0};
    curl_multi_setopt(d.multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)concurrency);
    size_t next = 0;
    double deadline = su_now() + 90;
    for (;;) {
        while (d.active < concurrency && next < n) {
            episode *e = &eps[next++];
            if (e->state == EP_RUNNING)
                start_request(&d, e);
        }
        if (d.active == 0 && next >= n)
            break;
        cr_assert(su_now() < deadline, "episodes did not finish in time");
        int running;
        curl_multi_perform(d.multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(d.multi, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            CURL *c = msg->easy_handle;
            episode *e;
            long status = 0;
            curl_easy_getinfo(c, CURLINFO_PRIVATE, (char **)&e);
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
            CURLcode cc = msg->data.result;
            curl_multi_remove_handle(d.multi, c);
            curl_easy_cleanup(c);
            d.active--;
            if (finish_request(&d, e, cc, status))
                start_request(&d, e);
        }
        curl_multi_poll(d.multi, NULL, 0, 100, NULL);
    }
    curl_multi_cleanup(d.multi);
}

static void init_episodes(episode *eps, size_t n, size_t first_row, bool pause)
{
    for (size_t i = 0; i < n; i++) {
        memset(&eps[i], 0, sizeof eps[i]);
        eps[i].row = (first_row + i) % NROWS;
        eps[i].correct = (i % 2) == 0;
        eps[i].pause_after_create = pause;
        eps[i].state = EP_RUNNING;
        eps[i].holder = -1;
    }
}

static void free_episodes(episode *eps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(eps[i].resp);
        free(eps[i].post);
        curl_slist_free_all(eps[i].hdrs);
    }
}

/* Every episode finished with the reward the grader gives locally. */
static void assert_all_ok(const episode *eps, size_t n, const char *phase)
{
    size_t ones = 0;
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(eps[i].state, EP_OK, "%s: episode %zu failed: %s", phase, i, eps[i].fail);
        cr_assert(eps[i].got_reward == eps[i].want_reward,
                  "%s: episode %zu (row %zu): reward %g, grader says %g", phase, i,
                  eps[i].row, eps[i].got_reward, eps[i].want_reward);
        ones += eps[i].got_reward == 1.0;
    }
    cr_assert(ones > 0 && ones < n, "%s: rewards not mixed (%zu of %zu are 1)", phase, ones, n);
}

/* ---- run-local --------------------------------------------------------- */

typedef struct deployment {
    pid_t pid;                    /* run-local */
    int out_fd;
    unsigned front;
    pid_t replica_pid[NREPLICAS];
    unsigned replica_port[NREPLICAS];
    size_t nreplicas;
} deployment;

static bool haproxy_installed(void)
{
    const char *dirs[] = {"/usr/sbin", "/usr/bin", "/sbin", "/usr/local/sbin", "/usr/local/bin"};
    char p[128];
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(p, sizeof p, "%s/haproxy", dirs[i]);
        if (access(p, X_OK) == 0)
            return true;
    }
    return false;
}

/* Reads run-local's stdout up to "ready", recording replicas and the front end. */
static void read_banner(deployment *d)
{
    char buf[8192];
    size_t len = 0;
    double deadline = su_now() + 60;
    while (!strstr(buf, "\nready\n")) {
        struct pollfd p = {d->out_fd, POLLIN, 0};
        cr_assert(su_now() < deadline, "run-local not ready: %.*s", (int)len, buf);
        if (poll(&p, 1, 200) <= 0)
            continue;
        ssize_t r = read(d->out_fd, buf + len, sizeof buf - 1 - len);
        cr_assert(r > 0, "run-local exited early: %.*s", (int)len, buf);
        len += (size_t)r;
        buf[len] = '\0';
    }
    for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        unsigned idx, port;
        int pid;
        if (sscanf(line, "front-end http://127.0.0.1:%u", &port) == 1)
            d->front = port;
        if (sscanf(line, "replica %u pid %d http://127.0.0.1:%u", &idx, &pid, &port) == 3 &&
            idx >= 1 && idx <= NREPLICAS) {
            d->replica_pid[idx - 1] = pid;
            d->replica_port[idx - 1] = port;
            d->nreplicas++;
        }
    }
    cr_assert_eq(d->nreplicas, NREPLICAS, "%s", buf);
    cr_assert(d->front > 0, "no front-end line: %s", buf);
}

static void start_deployment(deployment *d, const char *data_path)
{
    memset(d, 0, sizeof *d);
    char script[4096];
    snprintf(script, sizeof script, "%s/deploy/run-local", tu_root());
    int p[2];
    cr_assert_eq(pipe(p), 0);
    d->pid = fork();
    cr_assert(d->pid >= 0);
    if (d->pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        int devnull = open("/dev/null", O_WRONLY);
        if (!getenv("FCPIVOT_TEST_VERBOSE"))
            dup2(devnull, 2);
        execl(script, script, "3", "--port", "0", "--bin", tu_bin(), "--check-inter", "250",
              "--", "--data", data_path, "--threads", "2", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    d->out_fd = p[0];
    read_banner(d);
}

static int stop_deployment(deployment *d)
{
    kill(d->pid, SIGTERM);
    int st = 0;
    double deadline = su_now() + 30;
    while (waitpid(d->pid, &st, WNOHANG) == 0) {
        if (su_now() > deadline) {
            kill(d->pid, SIGKILL);
            waitpid(d->pid, &st, 0);
            return -1;
        }
        usleep(50000);
    }
    close(d->out_fd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool process_gone(pid_t pid)
{
    for (int i = 0; i < 100; i++) {
        if (kill(pid, 0) != 0 && errno == ESRCH)
            return true;
        usleep(50000);
    }
    return false;
}

/* HAProxy's status of server rN in the session backend ("UP", "DOWN", ...). */
static void server_status(unsigned front, size_t n, char *out, size_t outsz)
{
    su_resp r;
    out[0] = '\0';
    if (su_request(front, "GET", "/haproxy-stats;csv", NULL, NULL, 0, &r) != 0)
        return;
    char key[64];
    snprintf(key, sizeof key, "\nfcpivot_sessions,r%zu,", n);
    const char *line = strstr(r.body, key);
    if (line) {
        /* status is the 18th column */
        const char *p = line + 1;
        for (int col = 0; col < 17 && p; col++)
            p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL;
        if (p)
            snprintf(out, outsz, "%.*s", (int)strcspn(p, ","), p);
    }
    su_resp_free(&r);
}

/* ---- the test ----------------------------------------------------------- */

Test(haproxy, three_replicas_episodes_and_a_killed_replica)
{
    if (!haproxy_installed())
        cr_skip_test("haproxy is not installed: multi-replica test skipped");
    bool valgrind = getenv("FCPIVOT_VALGRIND") != NULL;
    size_t n_main = valgrind ? 60 : 1200, n_open = valgrind ? 30 : 150,
           n_new = valgrind ? 30 : 300, conc = valgrind ? 8 : 64;

    row_info rows[NROWS];
    char *data_path = tu_write_temp("", 0, ".jsonl");
    make_rows(rows, data_path);
    deployment d;
    start_deployment(&d, data_path);

    /* 1. Episodes through HAProxy, then the same against one replica. */
    episode *eps = calloc(n_main, sizeof *eps);
    init_episodes(eps, n_main, 0, false);
    double t0 = su_now();
    run_episodes(eps, n_main, conc, d.front, rows);
    double t_front = su_now() - t0;
    assert_all_ok(eps, n_main, "through haproxy");
    free_episodes(eps, n_main);
    init_episodes(eps, n_main, 0, false);
    t0 = su_now();
    run_episodes(eps, n_main, conc, d.replica_port[0], rows);
    double t_one = su_now() - t0;
    assert_all_ok(eps, n_main, "one replica");
    free_episodes(eps, n_main);
    free(eps);
    fprintf(stderr, "haproxy test: %zu episodes, %zu concurrent: %.0f episodes/s through "
                    "HAProxy to 3 replicas, %.0f episodes/s against one replica directly\n",
            n_main, conc, (double)n_main / t_front, (double)n_main / t_one);

    /* 2. Open sessions, find their replicas, kill one replica. */
    episode *open = calloc(n_open, sizeof *open);
    init_episodes(open, n_open, 7, true);
    run_episodes(open, n_open, conc, d.front, rows);
    size_t per_replica[NREPLICAS] = {0};
    for (size_t i = 0; i < n_open; i++) {
        cr_assert_eq(open[i].state, EP_PAUSED, "episode %zu: %s", i, open[i].fail);
        for (int k = 0; k < NREPLICAS; k++) {
            su_resp r;
            cr_assert_eq(su_request(d.replica_port[k], "POST", "/ping", open[i].sid, "", 0, &r), 0);
            if (r.status == 200) {
                cr_assert_eq(open[i].holder, -1, "session %s on two replicas", open[i].sid);
                open[i].holder = k;
            } else {
                cr_assert_eq(r.status, 404, "ping on replica %d: %ld %s", k + 1, r.status, r.body);
            }
            su_resp_free(&r);
        }
        cr_assert(open[i].holder >= 0, "session %s is on no replica", open[i].sid);
        per_replica[open[i].holder]++;
    }
    for (int k = 0; k < NREPLICAS; k++)
        cr_assert(per_replica[k] > 0, "replica %d holds none of %zu sessions", k + 1, n_open);
    su_client_reset();

    const int victim = 1;   /* replica 2 */
    cr_assert_eq(kill(d.replica_pid[victim], SIGKILL), 0);
    char status[32] = "";
    double deadline = su_now() + 30;
    do {
        usleep(100000);
        server_status(d.front, victim + 1, status, sizeof status);
        cr_assert(su_now() < deadline, "haproxy never marked r%d down (status '%s')",
                  victim + 1, status);
    } while (strncmp(status, "DOWN", 4) != 0);

    for (size_t i = 0; i < n_open; i++)
        open[i].state = EP_RUNNING, open[i].pause_after_create = false;
    run_episodes(open, n_open, conc, d.front, rows);
    size_t lost = 0;
    for (size_t i = 0; i < n_open; i++) {
        episode *e = &open[i];
        if (e->holder == victim) {
            lost++;
            cr_assert_eq(e->state, EP_FAILED, "session %s of the dead replica went on", e->sid);
            bool clear = e->fail_status == 0 || e->fail_status == 503 ||
                         (e->fail_status == 404 && strstr(e->fail, "Active environment not found"));
            cr_assert(clear, "unclear failure for a lost session: %s", e->fail);
        } else {
            cr_assert_eq(e->state, EP_OK, "session %s on live replica %d failed: %s", e->sid,
                         e->holder + 1, e->fail);
            cr_assert(e->got_reward == e->want_reward, "reward %g, want %g", e->got_reward,
                      e->want_reward);
        }
    }
    cr_assert_eq(lost, per_replica[victim]);
    free_episodes(open, n_open);
    free(open);

    /* New sessions keep succeeding on the two replicas left. */
    episode *fresh = calloc(n_new, sizeof *fresh);
    init_episodes(fresh, n_new, 3, false);
    run_episodes(fresh, n_new, conc, d.front, rows);
    assert_all_ok(fresh, n_new, "after the kill");
    free_episodes(fresh, n_new);
    free(fresh);
    fprintf(stderr, "haproxy test: killed replica 2 holding %zu of %zu open sessions: those "
                    "failed cleanly, the rest and %zu new episodes succeeded\n",
            lost, n_open, n_new);

    /* 3. SIGTERM stops everything. */
    cr_assert_eq(stop_deployment(&d), 0, "run-local did not exit cleanly");
    for (int k = 0; k < NREPLICAS; k++)
        cr_assert(process_gone(d.replica_pid[k]), "replica %d still running", k + 1);
    for (size_t i = 0; i < NROWS; i++)
        json_decref(rows[i].row);
    unlink(data_path);
    free(data_path);
    su_client_reset();
}
