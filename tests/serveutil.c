/* serveutil — HTTP test helpers (see serveutil.h). */
#include "serveutil.h"
#include "testutil.h"
#include "util.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

double su_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Slower limits when the suite runs under valgrind. */
static double slow(void)
{
    return getenv("FCPIVOT_VALGRIND") ? 10.0 : 1.0;
}

/* ------------------------------------------------------------ HTTP client */

/* Response bytes collect in a util_buf (NUL-terminated): on_data is also
 * libcurl's write and header callback. */
static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    size_t n = size * nmemb;
    return util_buf_append(ud, ptr, n) == 0 ? n : 0;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static _Thread_local CURL *tl_curl;

void su_client_reset(void)
{
    if (tl_curl)
        curl_easy_cleanup(tl_curl);
    tl_curl = NULL;
}

int su_request_h(unsigned port, const char *method, const char *path, const char *sid,
                 const char *body, size_t len, const char *const *headers, su_resp *out)
{
    memset(out, 0, sizeof *out);
    pthread_once(&curl_once, curl_init_once);
    if (!tl_curl)
        tl_curl = curl_easy_init();
    CURL *c = tl_curl;
    curl_easy_reset(c);
    char url[8192];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, path);
    util_buf b = UTIL_BUF_INIT, h = UTIL_BUF_INIT;
    struct curl_slist *hl = NULL;
    char sidh[512];
    if (sid) {
        snprintf(sidh, sizeof sidh, "X-Session-ID: %s", sid);
        hl = curl_slist_append(hl, sidh);
    }
    hl = curl_slist_append(hl, "Expect:");
    for (size_t i = 0; headers && headers[i]; i++)
        hl = curl_slist_append(hl, headers[i]);
    if (body)
        hl = curl_slist_append(hl, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else if (!strcmp(method, "POST")) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(30000 * slow()));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(hl);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
        curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &out->connects);
    }
    out->body = util_buf_take(&b, &out->len);
    out->headers = util_buf_take(&h, NULL);
    return rc == CURLE_OK ? 0 : -1;
}

int su_request(unsigned port, const char *method, const char *path, const char *sid,
               const char *body, size_t len, su_resp *out)
{
    return su_request_h(port, method, path, sid, body, len, NULL, out);
}

const char *su_header(const su_resp *r, const char *name, char *out, size_t outsz)
{
    size_t nlen = strlen(name);
    for (const char *line = r->headers; line && *line;) {
        const char *eol = strstr(line, "\r\n");
        size_t llen = eol ? (size_t)(eol - line) : strlen(line);
        if (llen > nlen && line[nlen] == ':' && !strncasecmp(line, name, nlen)) {
            const char *v = line + nlen + 1;
            while (*v == ' ')
                v++;
            size_t vlen = llen - (size_t)(v - line);
            if (vlen >= outsz)
                vlen = outsz - 1;
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            return out;
        }
        if (!eol)
            break;
        line = eol + 2;
    }
    return NULL;
}

void su_resp_free(su_resp *r)
{
    free(r->body);
    free(r->headers);
    memset(r, 0, sizeof *r);
}

int su_connect(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

long su_rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6))
            kb = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

char *su_raw(unsigned port, const char *data, size_t len, double timeout_s, size_t *out_len)
{
    bool closed;
    return su_raw_closed(port, data, len, timeout_s, out_len, &closed);
}

/* Waits until fd can be read or the monotonic deadline (su_now) passes:
 * true when it can. */
static bool readable_by(int fd, double deadline)
{
    for (;;) {
        double left = deadline - su_now();
        if (left <= 0)
            return false;
        struct pollfd p = {fd, POLLIN, 0};
        int pr = poll(&p, 1, (int)(left * 1000) + 1);
        if (pr < 0 && errno == EINTR)
            continue;
        return pr > 0;
    }
}

char *su_raw_closed(unsigned port, const char *data, size_t len, double timeout_s,
                    size_t *out_len, bool *closed)
{
    *closed = false;
    int fd = su_connect(port);
    if (fd < 0)
        return NULL;
    signal(SIGPIPE, SIG_IGN);
    (void)tu_send_all(fd, data, len);   /* the server may answer and close early */
    util_buf b = UTIL_BUF_INIT;
    double deadline = su_now() + timeout_s * slow();
    while (readable_by(fd, deadline)) {
        char tmp[65536];
        ssize_t r = recv(fd, tmp, sizeof tmp, 0);
        if (r <= 0) {
            *closed = true;          /* EOF, or a reset: the server is done with it */
            break;
        }
        on_data(tmp, 1, (size_t)r, &b);
    }
    close(fd);
    return util_buf_take(&b, out_len);
}

/* ------------------------------------------------------------ the server */

/* Reads one line from fd within timeout_s; returns it (owned) or NULL. */
static char *read_line(int fd, double timeout_s)
{
    util_buf b = UTIL_BUF_INIT;
    double deadline = su_now() + timeout_s;
    while (readable_by(fd, deadline)) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r <= 0)
            break;
        if (c == '\n')
            return util_buf_take(&b, NULL);
        on_data(&c, 1, 1, &b);
    }
    free(b.data);
    return NULL;
}

char *su_stderr(const su_server *s)
{
    char *e = s->err_path ? tu_read_file(s->err_path, NULL) : NULL;
    return e ? e : calloc(1, 1);
}

int su_start(su_server *s, const char *const *args)
{
    memset(s, 0, sizeof *s);
    s->out_fd = -1;
    char tmpl[] = "/tmp/fcpivot-serve-err-XXXXXX";
    int efd = mkstemp(tmpl);
    if (efd < 0)
        return -1;
    s->err_path = strdup(tmpl);
    int pout[2];
    if (pipe(pout) != 0) {
        close(efd);
        return -1;
    }
    const char *argv[64];
    size_t n = 0;
    argv[n++] = tu_bin();
    argv[n++] = "serve";
    argv[n++] = "--host";
    argv[n++] = "127.0.0.1";
    argv[n++] = "--port";
    argv[n++] = "0";
    for (size_t i = 0; args && args[i] && n < 63; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        /* a test that fails before su_stop must not leave its server running */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, 0);
        dup2(pout[1], 1);
        dup2(efd, 2);
        close(pout[0]);
        close(pout[1]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(pout[1]);
    close(efd);
    s->pid = pid;
    s->out_fd = pout[0];
    s->startup = read_line(s->out_fd, 30.0 * slow());
    const char *p = s->startup ? strstr(s->startup, "http://127.0.0.1:") : NULL;
    if (p)
        s->port = (unsigned)strtoul(p + strlen("http://127.0.0.1:"), NULL, 10);
    if (!s->port) {
        char *e = su_stderr(s);
        fprintf(stderr, "serveutil: server did not start; line: %s\nstderr: %s\n",
                s->startup ? s->startup : "(none)", e);
        free(e);
        su_stop(s);
        return -1;
    }
    return 0;
}

int su_stop(su_server *s)
{
    int result = -1;
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        double deadline = su_now() + 20.0 * slow();
        int st = 0;
        pid_t w = 0;
        while ((w = waitpid(s->pid, &st, WNOHANG)) == 0 && su_now() < deadline) {
            struct timespec pause = {0, 10 * 1000 * 1000};
            nanosleep(&pause, NULL);
        }
        if (w == s->pid) {
            result = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        } else {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &st, 0);
        }
    }
    if (s->out_fd >= 0)
        close(s->out_fd);
    if (s->pid > 0 && result != 0 && s->err_path) {
        char *e = su_stderr(s);
        fprintf(stderr, "serveutil: server exit status %d; its stderr:\n%s\n", result, e);
        free(e);
    }
    if (s->err_path) {
        unlink(s->err_path);
        free(s->err_path);
    }
    free(s->startup);
    memset(s, 0, sizeof *s);
    s->out_fd = -1;
    return result;
}

/* ------------------------------------------------------------ ORS helpers */

json_t *su_json(unsigned port, const char *method, const char *path, const char *sid,
                const char *body, long *status)
{
    su_resp r;
    su_request(port, method, path, sid, body, body ? strlen(body) : 0, &r);
    if (status)
        *status = r.status;
    json_t *j = json_loadb(r.body, r.len, JSON_DECODE_ANY, NULL);
    su_resp_free(&r);
    return j;
}

void su_sse_free(su_event *ev, size_t n)
{
    for (size_t i = 0; ev && i < n; i++) {
        free(ev[i].event);
        free(ev[i].data);
    }
    free(ev);
}

su_event *su_sse_parse(const char *body, size_t len, size_t *n)
{
    *n = 0;
    size_t cap = 8;
    su_event *ev = calloc(cap, sizeof *ev);
    size_t pos = 0;
    while (pos < len) {
        /* "event: NAME\n" */
        const char *nl = memchr(body + pos, '\n', len - pos);
        if (!nl || strncmp(body + pos, "event: ", 7) != 0)
            goto bad;
        if (*n == cap) {
            cap *= 2;
            ev = realloc(ev, cap * sizeof *ev);
        }
        su_event *e = &ev[(*n)++];
        e->event = strndup(body + pos + 7, (size_t)(nl - body) - pos - 7);
        e->data = NULL;
        pos = (size_t)(nl - body) + 1;
        /* "data: ...\n" lines until the blank line */
        util_buf d = UTIL_BUF_INIT;
        bool any = false;
        while (pos < len && body[pos] != '\n') {
            nl = memchr(body + pos, '\n', len - pos);
            if (!nl || strncmp(body + pos, "data: ", 6) != 0) {
                free(d.data);
                goto bad;
            }
            if (any)
                on_data("\n", 1, 1, &d);
            on_data((char *)body + pos + 6, 1, (size_t)(nl - body) - pos - 6, &d);
            any = true;
            pos = (size_t)(nl - body) + 1;
        }
        if (pos >= len || !any) {
            free(d.data);
            goto bad;
        }
        pos++;                        /* the blank line */
        e->data = util_buf_take(&d, NULL);
    }
    return ev;
bad:
    su_sse_free(ev, *n);
    *n = 0;
    return NULL;
}

char *su_sse_call_stream(const char *call_id, const char *text)
{
    size_t len = strlen(text);
    util_buf b = UTIL_BUF_INIT;
    const char *p = "event: task_id\ndata: ";
    on_data((char *)p, 1, strlen(p), &b);
    on_data((char *)call_id, 1, strlen(call_id), &b);
    on_data("\n\n", 1, 2, &b);
    size_t pos = 0;
    do {
        size_t n = len - pos > 4096 ? 4096 : len - pos;
        p = pos + n < len ? "event: chunk\ndata: " : "event: end\ndata: ";
        on_data((char *)p, 1, strlen(p), &b);
        on_data((char *)text + pos, 1, n, &b);
        on_data("\n\n", 1, 2, &b);
        pos += n;
    } while (pos < len);
    return b.data;
}

char *su_new_session(unsigned port)
{
    su_resp r;
    if (su_request(port, "POST", "/create_session", NULL, NULL, 0, &r) != 0 || r.status != 200) {
        su_resp_free(&r);
        return NULL;
    }
    size_t n;
    su_event *ev = su_sse_parse(r.body, r.len, &n);
    char *sid = NULL;
    if (ev && n == 2 && !strcmp(ev[0].event, "task_id") && !strcmp(ev[1].event, "end") &&
        ev[1].data[0] == '\0' && strlen(ev[0].data) == 36) {
        char expect[128];
        snprintf(expect, sizeof expect, "event: task_id\ndata: %s\n\nevent: end\ndata: \n\n", ev[0].data);
        if (r.len == strlen(expect) && !memcmp(r.body, expect, r.len))
            sid = strdup(ev[0].data);
    }
    su_sse_free(ev, n);
    su_resp_free(&r);
    return sid;
}

json_t *su_call(unsigned port, const char *env, const char *sid, const char *body,
                char **call_id, char **raw, char **error)
{
    char path[512];
    snprintf(path, sizeof path, "/%s/call", env);
    su_resp r;
    su_request(port, "POST", path, sid, body, strlen(body), &r);
    if (call_id)
        *call_id = NULL;
    if (error)
        *error = NULL;
    size_t n = 0;
    su_event *ev = r.status == 200 ? su_sse_parse(r.body, r.len, &n) : NULL;
    json_t *result = NULL;
    if (ev && n >= 1 && !strcmp(ev[n - 1].event, "error")) {
        if (error)
            *error = strdup(ev[n - 1].data);
    } else if (ev && n >= 2 && !strcmp(ev[0].event, "task_id") && !strcmp(ev[n - 1].event, "end")) {
        util_buf text = UTIL_BUF_INIT;
        bool ok = true;
        for (size_t i = 1; i < n; i++) {
            ok = ok && (i == n - 1 || !strcmp(ev[i].event, "chunk"));
            on_data(ev[i].data, 1, strlen(ev[i].data), &text);
        }
        if (ok && text.data)
            result = json_loads(text.data, 0, NULL);
        free(text.data);
        if (call_id)
            *call_id = strdup(ev[0].data);
    }
    su_sse_free(ev, n);
    if (raw)
        *raw = strdup(r.body);
    su_resp_free(&r);
    return result;
}
