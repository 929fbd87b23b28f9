/* bench_episodes — an ORS load driver against a running `fcpivot serve`.
 *
 * Phase 1 (episodes): C concurrent clients (libcurl multi, one event loop)
 * each run complete episodes back to back — create_session → create →
 * task_tools → prompt → call → delete — for S seconds; prints episodes/s,
 * requests/s and errors.
 * Phase 2 (idle, with --idle N): opens N sessions (create_session + create)
 * and holds them, pings each once, reads the server's resident memory from
 * /proc/PID/status (--pid), then deletes them; prints RSS and errors.
 *
 *   bench_episodes --port P [--pid PID] [--seconds 10] [--concurrency 256]
 *                  [--idle 10000] [--env nemotron-fc-pivot]
 */
#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef enum { S_CREATE_SESSION, S_CREATE, S_TOOLS, S_PROMPT, S_CALL, S_DELETE, S_PING } step;

typedef struct client {
    CURL *h;
    step st;
    char sid[64];
    char *resp;
    size_t len, cap;
    struct curl_slist *hdr;
    long task;
    long slot;        /* idle phase: index in the sid table */
} client;

typedef struct run {
    CURLM *multi;
    unsigned port;
    const char *env;
    long ntasks;
    long episodes, requests, errors;
    bool stopping;    /* no new work once set */
    /* idle phase */
    char (*sids)[64];
    long nidle, next_slot;
    int phase;        /* 1 episodes, 2 open, 3 ping, 4 delete */
} run;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    client *c = ud;
    size_t add = size * n;
    if (c->len + add + 1 > c->cap) {
        size_t cap = c->cap ? c->cap : 4096;
        while (cap < c->len + add + 1)
            cap *= 2;
        char *np = realloc(c->resp, cap);
        if (!np)
            return 0;
        c->resp = np;
        c->cap = cap;
    }
    memcpy(c->resp + c->len, p, add);
    c->len += add;
    c->resp[c->len] = '\0';
    return add;
}

/* Issues client c's current step. */
static void issue(run *r, client *c)
{
    char url[256], body[256];
    const char *method = "POST", *path = NULL, *data = "";
    switch (c->st) {
    case S_CREATE_SESSION: path = "/create_session"; break;
    case S_CREATE:
        path = "/create";
        snprintf(body, sizeof body, "{\"split\":\"train\",\"index\":%ld}", c->task);
        data = body;
        break;
    case S_TOOLS: method = "GET"; path = "task_tools"; break;
    case S_PROMPT: method = "GET"; path = "prompt"; break;
    case S_CALL:
        path = "call";
        data = "{\"name\":\"submit_message\",\"input\":{\"content\":\"Could you tell me more?\"}}";
        break;
    case S_DELETE: path = "/delete"; break;
    case S_PING: path = "/ping"; break;
    }
    if (path[0] == '/')
        snprintf(url, sizeof url, "http://127.0.0.1:%u%s", r->port, path);
    else
        snprintf(url, sizeof url, "http://127.0.0.1:%u/%s/%s", r->port, r->env, path);
    curl_slist_free_all(c->hdr);
    c->hdr = curl_slist_append(NULL, "Expect:");
    c->hdr = curl_slist_append(c->hdr, "Content-Type: application/json");
    if (c->st != S_CREATE_SESSION) {
        char h[96];
        snprintf(h, sizeof h, "X-Session-ID: %s", c->sid);
        c->hdr = curl_slist_append(c->hdr, h);
    }
    c->len = 0;
    curl_easy_setopt(c->h, CURLOPT_URL, url);
    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, c->hdr);
    if (!strcmp(method, "GET")) {
        curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(c->h, CURLOPT_POST, 1L);
        curl_easy_setopt(c->h, CURLOPT_COPYPOSTFIELDS, data);
    }
    curl_multi_add_handle(r->multi, c->h);
}

/* The next piece of work for an idle client; false when there is none. */
static bool next_work(run *r, client *c)
{
    if (r->stopping)
        return false;
    if (r->phase == 1) {
        c->st = S_CREATE_SESSION;
        c->task = (c->task + 7) % r->ntasks;
        return true;
    }
    if (r->next_slot >= r->nidle)
        return false;
    c->slot = r->next_slot++;
    c->task = c->slot % r->ntasks;
    if (r->phase == 2) {
        c->st = S_CREATE_SESSION;
    } else {
        memcpy(c->sid, r->sids[c->slot], sizeof c->sid);
        c->st = r->phase == 3 ? S_PING : S_DELETE;
        if (!c->sid[0])
            return next_work(r, c);              /* that session never opened */
    }
    return true;
}

/* Handles a finished request of c; returns true when c has more to do. */
static bool finished(run *r, client *c, CURLcode res)
{
    long status = 0;
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
    r->requests++;
    bool ok = res == CURLE_OK && status == 200;
    if (ok && c->st == S_CREATE_SESSION) {
        const char *d = c->resp ? strstr(c->resp, "data: ") : NULL;
        ok = d && strlen(d) > 6 + 36;
        if (ok) {
            memcpy(c->sid, d + 6, 36);
            c->sid[36] = '\0';
        }
    }
    if (ok && c->st == S_CALL)
        ok = c->resp && strstr(c->resp, "event: end\n") != NULL;
    if (!ok) {
        if (r->errors++ < 5)
            fprintf(stderr, "bench_episodes: step %d failed: curl %d, HTTP %ld: %.200s\n",
                    (int)c->st, (int)res, status, c->resp ? c->resp : "");
        if (r->phase == 2)
            r->sids[c->slot][0] = '\0';
        return next_work(r, c);
    }
    switch (c->st) {
    case S_CREATE_SESSION: c->st = S_CREATE; return true;
    case S_CREATE:
        if (r->phase == 2) {
            memcpy(r->sids[c->slot], c->sid, sizeof c->sid);
            return next_work(r, c);
        }
        c->st = S_TOOLS;
        return true;
    case S_TOOLS: c->st = S_PROMPT; return true;
    case S_PROMPT: c->st = S_CALL; return true;
    case S_CALL: c->st = S_DELETE; return true;
    case S_DELETE:
        if (r->phase == 1)
            r->episodes++;
        return next_work(r, c);
    case S_PING: return next_work(r, c);
    }
    return false;
}

/* Runs the multi loop until every client is out of work. With deadline > 0
 * no new episode starts after it; episodes in flight run to their delete. */
static void drive(run *r, client *cl, long n, double deadline)
{
    long active = 0;
    r->stopping = false;
    for (long i = 0; i < n; i++)
        if (next_work(r, &cl[i])) {
            issue(r, &cl[i]);
            active++;
        }
    while (active > 0) {
        int running;
        curl_multi_perform(r->multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(r->multi, &left))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            client *c;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&c);
            CURLcode res = m->data.result;
            curl_multi_remove_handle(r->multi, c->h);
            if (deadline > 0 && now() >= deadline)
                r->stopping = true;
            /* An episode in progress is finished even after the deadline. */
            bool more = finished(r, c, res);
            if (more)
                issue(r, c);
            else
                active--;
        }
        if (active > 0)
            curl_multi_poll(r->multi, NULL, 0, 100, NULL);
    }
}

/* The resident set of process pid in KiB, or -1. */
static long rss_kib(long pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6))
            kib = strtol(line + 6, NULL, 10);
    fclose(f);
    return kib;
}

/* The number of tasks in split train (GET via a blocking easy handle). */
static long num_tasks(unsigned port, const char *env)
{
    client c = {0};
    c.h = curl_easy_init();
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/%s/num_tasks", port, env);
    curl_easy_setopt(c.h, CURLOPT_URL, url);
    curl_easy_setopt(c.h, CURLOPT_POSTFIELDS, "{\"split\":\"train\"}");
    curl_easy_setopt(c.h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c.h, CURLOPT_WRITEDATA, &c);
    long n = -1;
    if (curl_easy_perform(c.h) == CURLE_OK && c.resp) {
        const char *p = strstr(c.resp, "\"num_tasks\":");
        if (p)
            n = strtol(p + 12, NULL, 10);
    }
    curl_easy_cleanup(c.h);
    free(c.resp);
    return n;
}

int main(int argc, char **argv)
{
    unsigned port = 0;
    long pid = 0, conc = 256, idle = 0;
    double seconds = 10;
    const char *env = "nemotron-fc-pivot";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port")) port = (unsigned)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--pid")) pid = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds")) seconds = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--concurrency")) conc = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--idle")) idle = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--env")) env = argv[i + 1];
    }
    if (!port || conc < 1) {
        fprintf(stderr, "usage: bench_episodes --port P [--pid PID] [--seconds S] "
                        "[--concurrency C] [--idle N] [--env NAME]\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    run r = {.port = port, .env = env};
    r.ntasks = num_tasks(port, env);
    if (r.ntasks <= 0) {
        fprintf(stderr, "bench_episodes: cannot read num_tasks from port %u\n", port);
        return 1;
    }
    r.multi = curl_multi_init();
    curl_multi_setopt(r.multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, conc);
    curl_multi_setopt(r.multi, CURLMOPT_MAXCONNECTS, conc);
    client *cl = calloc((size_t)conc, sizeof *cl);
    for (long i = 0; i < conc; i++) {
        cl[i].h = curl_easy_init();
        cl[i].task = i % r.ntasks;
        curl_easy_setopt(cl[i].h, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(cl[i].h, CURLOPT_WRITEDATA, &cl[i]);
        curl_easy_setopt(cl[i].h, CURLOPT_PRIVATE, &cl[i]);
        curl_easy_setopt(cl[i].h, CURLOPT_TIMEOUT, 30L);
        curl_easy_setopt(cl[i].h, CURLOPT_NOSIGNAL, 1L);
    }

    r.phase = 1;
    double t0 = now();
    drive(&r, cl, conc, t0 + seconds);
    double el = now() - t0;
    printf("episodes: %ld in %.1f s = %.0f episodes/s (%.0f requests/s), %ld concurrent, %ld errors\n",
           r.episodes, el, (double)r.episodes / el, (double)r.requests / el, conc, r.errors);
    if (pid)
        printf("server RSS after episodes: %.1f MB\n", (double)rss_kib(pid) / 1024);

    if (idle > 0) {
        r.sids = calloc((size_t)idle, sizeof *r.sids);
        r.nidle = idle;
        long before = r.errors;
        long rss0 = pid ? rss_kib(pid) : -1;
        r.phase = 2;
        r.next_slot = 0;
        t0 = now();
        drive(&r, cl, conc, 0);
        double open_s = now() - t0;
        r.phase = 3;
        r.next_slot = 0;
        drive(&r, cl, conc, 0);                  /* every held session answers */
        long rss1 = pid ? rss_kib(pid) : -1;
        printf("idle sessions: %ld opened in %.1f s and held; server RSS %.1f MB "
               "(%.1f MB before); %ld errors\n", idle, open_s, (double)rss1 / 1024,
               (double)rss0 / 1024, r.errors - before);
        r.phase = 4;
        r.next_slot = 0;
        drive(&r, cl, conc, 0);
        free(r.sids);
    }
    for (long i = 0; i < conc; i++) {
        curl_easy_cleanup(cl[i].h);
        curl_slist_free_all(cl[i].hdr);
        free(cl[i].resp);
    }
    free(cl);
    curl_multi_cleanup(r.multi);
    curl_global_cleanup();
    return 0;
}
