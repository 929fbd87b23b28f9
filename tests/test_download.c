/* Tests of `fcpivot download`: file:// URLs and a loopback HTTP server written
 * here (one thread on 127.0.0.1, ephemeral port) that serves a body, honours
 * or ignores Range and If-Range, sends an ETag and an X-Linked-Etag, redirects,
 * cuts bodies short, and fails with a chosen status. The server records every
 * request so tests can assert what the client sent (HF_TOKEN to whom). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "testutil.h"
#include "util.h"

/* ---- a tiny HTTP/1.1 server (one request per connection) ---------------- */

typedef struct mini_srv {
    int lfd, port;
    pthread_t thread;
    atomic_bool stop;
    const char *body;
    size_t len;
    int fail_status;        /* 0: serve the body; else reply with this status */
    bool ignore_range;      /* reply 200 with the whole body even to a Range */
    const char *etag;       /* sent with the body; an If-Range naming another gets 200 */
    const char *linked;     /* X-Linked-Etag value sent with every reply, or NULL */
    const char *location;   /* where /redirect points (default /data/train.jsonl) */
    bool no_length;         /* no Content-Length: the body ends when the connection closes */
    size_t cut_at;          /* send only this many body bytes (0: all) */
    pthread_mutex_t mu;
    char requests[16384];   /* every request head received, concatenated */
    int nrequests;
} mini_srv;

static void reply(mini_srv *s, int fd, int status, const char *reason, const char *extra,
                  const char *body, size_t len)
{
    char head[1024], length[64] = "", tags[512] = "";
    if (!s->no_length || status != 200)
        snprintf(length, sizeof length, "Content-Length: %zu\r\n", len);
    int t = 0;
    if (s->etag && status < 300)
        t = snprintf(tags, sizeof tags, "ETag: %s\r\n", s->etag);
    if (s->linked)
        snprintf(tags + t, sizeof tags - (size_t)t, "X-Linked-Etag: %s\r\n", s->linked);
    int n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\n%sConnection: close\r\n%s%s\r\n",
                     status, reason, length, tags, extra ? extra : "");
    (void)tu_send_all(fd, head, (size_t)n);
    (void)tu_send_all(fd, body, s->cut_at && s->cut_at < len ? s->cut_at : len);
}

/* The value of header name in req (up to CRLF) into buf; false if absent. */
static bool header_value(const char *req, const char *name, char *buf, size_t bufsz)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\r\n%s: ", name);
    const char *p = strcasestr(req, pat);
    if (!p)
        return false;
    p += strlen(pat);
    size_t n = strcspn(p, "\r\n");
    snprintf(buf, bufsz, "%.*s", (int)n, p);
    return true;
}

/* Returns the start of "Range: bytes=N-", or -1 if absent. */
static long range_start(const char *req)
{
    const char *p = strcasestr(req, "\r\nRange: bytes=");
    return p ? strtol(p + 15, NULL, 10) : -1;
}

static void serve_one(mini_srv *s, int fd)
{
    char req[4096];
    size_t n = 0;
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (n < sizeof req - 1) {
        ssize_t r = recv(fd, req + n, sizeof req - 1 - n, 0);
        if (r <= 0)
            return;
        n += (size_t)r;
        req[n] = '\0';
        if (strstr(req, "\r\n\r\n"))
            break;
    }
    pthread_mutex_lock(&s->mu);
    size_t used = strlen(s->requests);
    snprintf(s->requests + used, sizeof s->requests - used, "%s", req);
    s->nrequests++;
    pthread_mutex_unlock(&s->mu);

    if (!strncmp(req, "GET /redirect ", 14) || (s->location && !strncmp(req, "GET /datasets/", 14))) {
        char loc[512];
        snprintf(loc, sizeof loc, "Location: %s\r\n", s->location ? s->location : "/data/train.jsonl");
        reply(s, fd, 302, "Found", loc, "", 0);
        return;
    }
    if (s->fail_status) {
        const char *msg = "{\"error\":\"no\"}";
        reply(s, fd, s->fail_status, "Error", "Content-Type: application/json\r\n", msg,
              strlen(msg));
        return;
    }
    long from = range_start(req);
    char if_range[256];
    bool changed = header_value(req, "If-Range", if_range, sizeof if_range) &&
                   (!s->etag || strcmp(if_range, s->etag) != 0);
    if (from >= 0 && !s->ignore_range && !changed) {
        char extra[128];
        if ((size_t)from >= s->len) {
            snprintf(extra, sizeof extra, "Content-Range: bytes */%zu\r\n", s->len);
            reply(s, fd, 416, "Range Not Satisfiable", extra, "", 0);
            return;
        }
        snprintf(extra, sizeof extra, "Content-Range: bytes %ld-%zu/%zu\r\n", from,
                 s->len - 1, s->len);
        reply(s, fd, 206, "Partial Content", extra, s->body + from, s->len - (size_t)from);
        return;
    }
    reply(s, fd, 200, "OK", "Content-Type: application/octet-stream\r\n", s->body, s->len);
}

static void *srv_main(void *arg)
{
    mini_srv *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {s->lfd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        serve_one(s, fd);
        close(fd);
    }
    return NULL;
}

static void srv_start_at(mini_srv *s, const char *body, size_t len, const char *addr)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    s->body = body;
    s->len = len;
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(s->lfd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    cr_assert_eq(inet_pton(AF_INET, addr, &a.sin_addr), 1);
    cr_assert_eq(bind(s->lfd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(s->lfd, 16), 0);
    socklen_t al = sizeof a;
    getsockname(s->lfd, (struct sockaddr *)&a, &al);
    s->port = ntohs(a.sin_port);
    pthread_create(&s->thread, NULL, srv_main, s);
}

static void srv_start(mini_srv *s, const char *body, size_t len)
{
    srv_start_at(s, body, len, "127.0.0.1");
}

static void srv_stop(mini_srv *s)
{
    atomic_store(&s->stop, true);
    pthread_join(s->thread, NULL);
    close(s->lfd);
    pthread_mutex_destroy(&s->mu);
}

/* ---- fixtures ----------------------------------------------------------- */

/* A small valid dataset, large enough (~300 KB) that resuming matters. */
static char *make_dataset(size_t rows, size_t *len)
{
    size_t cap = rows * 600 + 1, n = 0;
    char *buf = malloc(cap);
    for (size_t i = 0; i < rows; i++)
        n += (size_t)snprintf(buf + n, cap - n,
            "{\"responses_create_params\": {\"input\": [{\"role\": \"user\", \"content\": "
            "\"What is the weather in city number %zu?\", \"type\": \"message\"}], \"tools\": "
            "[{\"type\": \"function\", \"name\": \"get_weather\", \"description\": \"Weather "
            "for a city.\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": "
            "{\"type\": \"string\"}}, \"required\": [\"city\"]}, \"strict\": true}]}, "
            "\"expected_action\": {\"type\": \"function_call\", \"name\": \"get_weather\", "
            "\"arguments\": \"{\\\"city\\\": \\\"City %zu\\\"}\"}}\n", i, i);
    *len = n;
    return buf;
}

static char *make_tmpdir(void)
{
    char tmpl[] = "/tmp/fcpivot-dl-XXXXXX";
    cr_assert(mkdtemp(tmpl));
    return strdup(tmpl);
}

static void rm_tree(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

static bool exists(const char *dir, const char *name)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat st;
    return stat(p, &st) == 0;
}

static void write_at(const char *dir, const char *name, const char *data, size_t len)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    cr_assert(f);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void assert_file_is(const char *dir, const char *name, const char *data, size_t len)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    size_t got_len = 0;
    char *got = tu_read_file(p, &got_len);
    cr_assert(got, "%s missing", p);
    cr_assert_eq(got_len, len, "%s has %zu bytes, want %zu", p, got_len, len);
    cr_assert(memcmp(got, data, len) == 0, "%s differs from the source", p);
    free(got);
}

/* Runs fcpivot download --url URL --out DIR [extra]; captures stderr. */
static int run_download(const char *url, const char *dir, const char *extra, char **err)
{
    char *argv[8] = {(char *)tu_bin(), "download", "--url", (char *)url, "--out",
                     (char *)dir, NULL, NULL};
    if (extra)
        argv[6] = (char *)extra;
    char *out = NULL;
    int rc = tu_run(argv, NULL, 0, &out, NULL, err);
    free(out);
    return rc;
}

/* Runs fcpivot download with args (NULL-terminated, after "download"). */
static int run_args(const char *const *args, char **err)
{
    char *argv[24] = {(char *)tu_bin(), "download"};
    size_t n = 2;
    for (; args[n - 2] && n < 23; n++)
        argv[n] = (char *)args[n - 2];
    argv[n] = NULL;
    char *out = NULL;
    int rc = tu_run(argv, NULL, 0, &out, NULL, err);
    free(out);
    return rc;
}

static void sha256_hex(const char *data, size_t len, char hex[65])
{
    util_sha256 sh;
    unsigned char d[32];
    util_sha256_init(&sh);
    util_sha256_update(&sh, data, len);
    util_sha256_final(&sh, d);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

/* The request heads the server received after the first n of them. */
static const char *request_after(const mini_srv *s, int n)
{
    const char *p = s->requests;
    for (int i = 0; i < n && p; i++) {
        p = strstr(p + 1, "GET /");
    }
    return p ? p : "";
}

/* ---- tests ---------------------------------------------------------------- */

Test(download, help_exits_zero)
{
    char *argv[] = {(char *)tu_bin(), "download", "--help", NULL};
    char *out, *err;
    cr_assert_eq(tu_run(argv, NULL, 0, &out, NULL, &err), 0);
    cr_assert(strstr(out, "--repo") && strstr(out, "--no-validate") && strstr(out, "HF_TOKEN"));
    free(out); free(err);
}

Test(download, unknown_option_is_usage_error)
{
    char *argv[] = {(char *)tu_bin(), "download", "--frob", NULL};
    char *err;
    cr_assert_eq(tu_run(argv, NULL, 0, NULL, NULL, &err), 2);
    cr_assert(strstr(err, "unknown option '--frob'"));
    free(err);
}

Test(download, file_url_full_and_resumed)
{
    size_t len;
    char *body = make_dataset(500, &len);
    char *src = tu_write_temp(body, len, ".jsonl");
    char *dir = make_tmpdir();
    char url[512], *err;
    snprintf(url, sizeof url, "file://%s", src);
    const char *name = strrchr(src, '/') + 1;

    cr_assert_eq(run_download(url, dir, "--no-validate", &err), 0, "stderr: %s", err);
    assert_file_is(dir, name, body, len);
    free(err);

    /* A partial file whose validator (the source's size and mtime) still
       matches is completed from where it stopped. */
    char part[256], validator[300], v[128];
    snprintf(part, sizeof part, "%s.part", name);
    snprintf(validator, sizeof validator, "%s.validator", part);
    struct stat st;
    cr_assert_eq(stat(src, &st), 0);
    int vn = snprintf(v, sizeof v, "file %lld %lld.%09ld\n", (long long)st.st_size,
                      (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    write_at(dir, part, body, len / 3);
    write_at(dir, validator, v, (size_t)vn);
    cr_assert_eq(run_download(url, dir, "--no-validate", &err), 0, "stderr: %s", err);
    cr_assert(strstr(err, "resuming"), "stderr: %s", err);
    assert_file_is(dir, name, body, len);
    cr_assert(!exists(dir, part));
    cr_assert(!exists(dir, validator), "the validator outlived its .part");
    free(err);

    /* The source changed since: the stale part is not spliced onto it. */
    write_at(dir, part, "stale bytes", 11);
    write_at(dir, validator, "file 1 1.000000000\n", 19);
    cr_assert_eq(run_download(url, dir, "--no-validate", &err), 0, "stderr: %s", err);
    cr_assert(strstr(err, "source changed"), "stderr: %s", err);
    assert_file_is(dir, name, body, len);
    free(err);

    rm_tree(dir);
    unlink(src);
    free(src); free(dir); free(body);
}

Test(download, http_full_download)
{
    size_t len;
    char *body = make_dataset(500, &len);
    mini_srv s;
    srv_start(&s, body, len);
    char *dir = make_tmpdir(), url[128], *err;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/data/train.jsonl", s.port);
    int rc = run_download(url, dir, NULL, &err);
    srv_stop(&s);
    cr_assert_eq(rc, 0, "stderr: %s", err);
    assert_file_is(dir, "train.jsonl", body, len);
    cr_assert(!exists(dir, "train.jsonl.part"));
    cr_assert(strstr(err, "validated: 500 rows, 0 warnings"), "stderr: %s", err);
    cr_assert(strstr(s.requests, "GET /data/train.jsonl HTTP/1.1"), "%s", s.requests);
    cr_assert(!strcasestr(s.requests, "\r\nRange:"), "a fresh download sent a Range");
    cr_assert(strstr(err, "100%"), "no final progress line: %s", err);
    free(err);
    rm_tree(dir);
    free(dir); free(body);
}

Test(download, http_resume_sends_range_and_if_range_and_appends)
{
    size_t len;
    char *body = make_dataset(500, &len);
    mini_srv s;
    srv_start(&s, body, len);
    s.etag = "\"v1\"";
    char *dir = make_tmpdir(), url[128], *err, want[64];
    write_at(dir, "train.jsonl.part", body, 12345);
    write_at(dir, "train.jsonl.part.validator", "\"v1\"\n", 5);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/data/train.jsonl", s.port);
    int rc = run_download(url, dir, "--no-validate", &err);
    srv_stop(&s);
    cr_assert_eq(rc, 0, "stderr: %s", err);
    snprintf(want, sizeof want, "\r\nRange: bytes=12345-\r\n");
    cr_assert(strcasestr(s.requests, want), "no Range header in: %s", s.requests);
    cr_assert(strcasestr(s.requests, "\r\nIf-Range: \"v1\"\r\n"), "no If-Range in: %s", s.requests);
    cr_assert_eq(s.nrequests, 1);
    assert_file_is(dir, "train.jsonl", body, len);
    cr_assert(!exists(dir, "train.jsonl.part"));
    cr_assert(!exists(dir, "train.jsonl.part.validator"));
    free(err);
    rm_tree(dir);
    free(dir); free(body);
}

/* The remote file changed since the .part was written (another ETag): the
 * server answers If-Range with the whole new file, which restarts from zero. */
Test(download, changed_etag_restarts_from_zero)
{
    size_t len, oldlen;
    char *body = make_dataset(300, &len), *old = make_dataset(400, &oldlen);
    mini_srv s;
    srv_start(&s, body, len);
    s.etag = "\"v2\"";
    char *dir = make_tmpdir(), url[128], *err;
    write_at(dir, "train.jsonl.part", old, oldlen / 2);
    write_at(dir, "train.jsonl.part.validator", "\"v1\"\n", 5);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/data/train.jsonl", s.port);
    int rc = run_download(url, dir, NULL, &err);
    srv_stop(&s);
    cr_assert_eq(rc, 0, "stderr: %s", err);
    cr_assert(strcasestr(s.requests, "\r\nIf-Range: \"v1\"\r\n"), "%s", s.requests);
    cr_assert(strstr(err, "starting over"), "%s", err);
    assert_file_is(dir, "train.jsonl", body, len);
    cr_assert(strstr(err, "validated: 300 rows"), "%s", err);
    free(err);
    rm_tree(dir);
    free(dir); free(body); free(old);
}

/* A .part without a saved validator (an older run, or a server without
 * ETag/Last-Modified) cannot be checked against the remote: no Range. */
Test(download, stale_part_without_validator_is_not_resumed)
{
    size_t len;
    char *body = make_dataset(200, &len);
    mini_srv s;
    srv_start(&s, body, len);
    s.etag = "\"v1\"";
    char *dir = make_tmpdir(), url[128], *err;
    write_at(dir, "train.jsonl.part", "{\"stale\": \"prefix of an older file\"", 35);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/data/train.jsonl", s.port);
    int rc = run_download(url, dir, NULL, &err);
    srv_stop(&s);
    cr_assert_eq(rc, 0, "stderr: %s", err);
    cr_assert(!strcasestr(s.requests, "\r\nRange:"), "a stale part was resumed: %s", s.requests);
    cr_assert(strstr(err, "no validator"), "%s", err);
    assert_file_is(dir, "train.jsonl", body, len);
    free(err);
    rm_tree(dir);
    free(dir); free(body);
}

/* A body cut short (Content-Length not reached) fails, keeps its .part and
 * validator, and the next run resumes it. */
Test(download, short_body_fails_and_the_next_run_resumes)
{
    size_t len;
    char *body = make_dataset(300, &len);
    mini_srv s;
    srv_start(&s, body, len);
    s.etag = "\"v7\"";
    s.cut_at = len / 2;
    char *dir = make_tmpdir(), url[128], *err, want[64];
    write_at(dir, "train.jsonl", "the good old file\n", 18);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/data/train.jsonl", s.port);
    int rc = run_download(url, dir, NULL, &err);
    cr_assert_eq(rc, 1, "a cut body was accepted: %s", err);
    cr_assert(strstr(err, "run again to resume"), "%s", err);
    assert_file_is(dir, "train.jsonl.part", body, len / 2);
    assert_file_is(dir, "train.jsonl.part.validator", "\"v7\"\n", 5);
    assert_file_is(dir, "train.jsonl", "the good old file\n", 18);
    free(err);
    s.cut_at = 0;
    rc = run_download(url, dir, NULL, &err);
    srv_stop(&s);
    cr_assert_eq(rc, 0, "stderr: %s", err);
    snprintf(want, sizeof want, "\r\nRange: bytes=%zu-\r\n", len / 2);
    cr_assert(strcasestr(request_after(&s, 1), want), "%s", s.requests);
    assert_file_is(dir, "train.jsonl", body, len);
    free(err);
    rm_tree(dir);
    free(dir); free(body);
}

/* Without Content-Length (and not chunked) the end of the body is only the
 * connection closing: refused unless --allow-unknown-length. */
Test(download, close_delimited_body_needs_allow_unknown_length)
{
    size_t len;
    char *body = make_dataset(200, &len);
    mini_srv s;
    srv_start(&s, body, len);
    s.no_length = true;
    s.cut_at = len * 96 / 200;
    char *dir = make_tmpdir(), url[128], *err;
    write_at(dir, "train.jsonl", "the good old file\n", 18);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/data/train.jsonl", s.port);
    int rc = run_download(url, dir, NULL, &err);
    cr_assert_eq(rc, 1, "a body of unknown length was accepted: %s", err);
    cr_assert(strstr(err, "--allow-unknown-length"), "%s", err);
    cr_assert(!strstr(err, "validated"), "%s", err);
    assert_file_is(dir, "train.jsonl", "the good old file\n", 18);
    free(err);
    s.cut_at = 0;
    rm_tree(dir);
    free(dir);
    dir = make_tmpdir();
    const char *args[] = {"--url", url, "--out", dir, "--allow-unknown-length", NULL};
    rc = run_args(args, &err);
    srv_stop(&s);
    cr_assert_eq(rc, 0, "stderr: %s", err);
    assert_file_is(dir, "train.jsonl", body, len);
    free(err);
    rm_tree(dir);
    free(dir); free(body);
}

/* The hub's X-Linked-Etag (the LFS file's SHA-256) or --sha256 is checked
 * before anything is replaced. */
Test(download, sha256_is_checked_before_the_rename)
{
    size_t len;
    char *body = make_dataset(100, &len);
    char good[65], quoted[80];
    sha256_hex(body, len, good);
    snprintf(quoted, sizeof quoted, "\"%s\"", good);
    mini_srv s;
    srv_start(&s, body, len);
    s.linked = quoted;
    char *dir = make_tmpdir(), url[128], *err;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/data/train.jsonl", s.port);
    cr_assert_eq(run_download(url, dir, NULL, &err), 0, "stderr: %s", err);
    cr_assert(strstr(err, "verified"), "%s", err);
    assert_file_is(dir, "train.jsonl", body, len);
    free(err);
    /* a mismatch (the hub's or the user's) keeps the good file */
    s.linked = "\"0000000000000000000000000000000000000000000000000000000000000000\"";
    write_at(dir, "train.jsonl", "the good old file\n", 18);
    cr_assert_eq(run_download(url, dir, NULL, &err), 1, "stderr: %s", err);
    cr_assert(strstr(err, "SHA-256 mismatch"), "%s", err);
    cr_assert(strstr(err, "X-Linked-Etag"), "%s", err);
    assert_file_is(dir, "train.jsonl", "the good old file\n", 18);
    cr_assert(!exists(dir, "train.jsonl.part"), "a corrupt part would be resumed forever");
    free(err);
    s.linked = NULL;
    const char *bad[] = {"--url", url, "--out", dir, "--sha256",
                         "1111111111111111111111111111111111111111111111111111111111111111", NULL};
    cr_assert_eq(run_args(bad, &err), 1, "stderr: %s", err);
    cr_assert(strstr(err, "--sha256"), "%s", err);
    assert_file_is(dir, "train.jsonl", "the good old file\n", 18);
    free(err);
    const char *right[] = {"--url", url, "--out", dir, "--sha256", good, NULL};
    cr_assert_eq(run_args(right, &err), 0, "stderr: %s", err);
    assert_file_is(dir, "train.jsonl", body, len);
    free(err);
    const char *junk[] = {"--url", url, "--out", dir, "--sha256", "xyz", NULL};
    cr_assert_eq(run_args(junk, &err), 2);
    free(err);
    srv_stop(&s);
    rm_tree(dir);
    free(dir); free(body);
}

Test(download, http_200_to_a_range_restarts)
{
    size_t len;
    char *body = make_dataset(300, &len);
    mini_srv s;
    srv_start(&s, body, len);
    s.ignore_range = true;
    s.etag = "\"v1\"";
    char *dir = make_tmpdir(), url[128], *err;
    write_at(dir, "train.jsonl.part", "garbage that is not a prefix", 28);
    write_at(dir, "train.jsonl.part.validator", "\"v1\"\n", 5);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/data/train.jsonl", s.port);
    int rc = run_download(url, dir, "--no-validate", &err);
    srv_stop(&s);
    cr_assert_eq(rc, 0, "stderr: %s", err);
    cr_assert(strcasestr(s.requests, "\r\nRange: bytes=28-"), "%s", s.requests);
    assert_file_is(dir, "train.jsonl", body, len);
    free(err);
    rm_tree(dir);
    free(dir); free(body);
}

Test(download, http_416_discards_partial_and_restarts)
{
    size_t len;
    char *body = make_dataset(100, &len);
    mini_srv s;
    srv_start(&s, body, len);
    s.etag = "\"v1\"";
    char *dir = make_tmpdir(), url[128], *err;
    char *longer = calloc(1, len + 100);
    memset(longer, 'x', len + 100);
    write_at(dir, "train.jsonl.part", longer, len + 100);
    write_at(dir, "train.jsonl.part.validator", "\"v1\"\n", 5);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/data/train.jsonl", s.port);
    int rc = run_download(url, dir, "--no-validate", &err);
    srv_stop(&s);
    cr_assert_eq(rc, 0, "stderr: %s", err);
    cr_assert_eq(s.nrequests, 2, "want a refused range then a full request");
    assert_file_is(dir, "train.jsonl", body, len);
    free(err); free(longer);
    rm_tree(dir);
    free(dir); free(body);
}

Test(download, http_redirect_followed)
{
    size_t len;
    char *body = make_dataset(50, &len);
    mini_srv s;
    srv_start(&s, body, len);
    char *dir = make_tmpdir(), url[128], *err;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/redirect", s.port);
    char *argv[] = {(char *)tu_bin(), "download", "--url", url, "--out", dir,
                    "--file", "train.jsonl", "--no-validate", NULL};
    int rc = tu_run(argv, NULL, 0, NULL, NULL, &err);
    srv_stop(&s);
    cr_assert_eq(rc, 0, "stderr: %s", err);
    cr_assert_eq(s.nrequests, 2);
    assert_file_is(dir, "train.jsonl", body, len);
    free(err);
    rm_tree(dir);
    free(dir); free(body);
}

static void check_http_error(int status)
{
    size_t len;
    char *body = make_dataset(10, &len);
    mini_srv s;
    srv_start(&s, body, len);
    s.fail_status = status;
    char *dir = make_tmpdir(), url[128], *err, want[160];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/data/train.jsonl", s.port);
    int rc = run_download(url, dir, "--no-validate", &err);
    srv_stop(&s);
    cr_assert_eq(rc, 1, "stderr: %s", err);
    snprintf(want, sizeof want, "HTTP %d from %s", status, url);
    cr_assert(strstr(err, want), "want '%s' in: %s", want, err);
    cr_assert(!exists(dir, "train.jsonl"), "an error left a final file");
    cr_assert(!exists(dir, "train.jsonl.part"), "an error body was written to .part");
    free(err);
    rm_tree(dir);
    free(dir); free(body);
}

Test(download, http_404_fails_cleanly) { check_http_error(404); }
Test(download, http_500_fails_cleanly) { check_http_error(500); }

Test(download, http_error_keeps_partial_intact)
{
    size_t len;
    char *body = make_dataset(100, &len);
    mini_srv s;
    srv_start(&s, body, len);
    s.fail_status = 503;
    char *dir = make_tmpdir(), url[128], *err;
    write_at(dir, "train.jsonl.part", body, 777);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/data/train.jsonl", s.port);
    int rc = run_download(url, dir, "--no-validate", &err);
    srv_stop(&s);
    cr_assert_eq(rc, 1);
    cr_assert(strstr(err, "HTTP 503"), "%s", err);
    cr_assert(strstr(err, "run again to resume"), "%s", err);
    assert_file_is(dir, "train.jsonl.part", body, 777);
    cr_assert(!exists(dir, "train.jsonl"));
    free(err);
    rm_tree(dir);
    free(dir); free(body);
}

/* HF_TOKEN goes to the hub (HF_ENDPOINT here: the loopback host, the one
 * plain-http exception) and to same-host redirects, never elsewhere. */
Test(download, hf_token_goes_to_the_hub_only)
{
    size_t len;
    char *body = make_dataset(20, &len);
    mini_srv s;
    srv_start(&s, body, len);
    char *dir = make_tmpdir(), ep[64], url[128], *err;
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d", s.port);
    setenv("HF_TOKEN", "hf_test_token_123", 1);
    setenv("HF_ENDPOINT", ep, 1);
    const char *hub[] = {"--repo", "own/data", "--out", dir, "--no-validate", NULL};
    int rc = run_args(hub, &err);
    cr_assert_eq(rc, 0, "stderr: %s", err);
    cr_assert(strstr(s.requests, "GET /datasets/own/data/resolve/main/train.jsonl HTTP/1.1"), "%s",
              s.requests);
    cr_assert(strcasestr(s.requests, "\r\nAuthorization: Bearer hf_test_token_123\r\n"),
              "%s", s.requests);
    cr_assert(!strstr(err, "hf_test_token_123"), "the token leaked into the log");
    free(err);
    /* a redirect to the same host keeps it, one to another host drops it */
    s.location = "/data/train.jsonl";
    s.requests[0] = '\0';
    rm_tree(dir);
    free(dir);
    dir = make_tmpdir();
    hub[3] = dir;
    cr_assert_eq(run_args(hub, &err), 0, "stderr: %s", err);
    cr_assert(strcasestr(request_after(&s, 1), "\r\nAuthorization: Bearer"), "%s", s.requests);
    free(err);
    char other[128];
    snprintf(other, sizeof other, "http://localhost:%d/data/train.jsonl", s.port);
    s.location = other;
    s.requests[0] = '\0';
    rm_tree(dir);
    free(dir);
    dir = make_tmpdir();
    hub[3] = dir;
    cr_assert_eq(run_args(hub, &err), 0, "stderr: %s", err);
    cr_assert(strcasestr(s.requests, "\r\nAuthorization: Bearer"), "%s", s.requests);
    cr_assert(strstr(request_after(&s, 1), "GET /data/train.jsonl"), "%s", s.requests);
    cr_assert(!strcasestr(request_after(&s, 1), "Authorization:"), "sent to another host: %s",
              s.requests);
    free(err);
    /* --url hosts never get it */
    s.location = NULL;
    s.requests[0] = '\0';
    snprintf(url, sizeof url, "http://127.0.0.1:%d/data/train.jsonl", s.port);
    rm_tree(dir);
    free(dir);
    dir = make_tmpdir();
    cr_assert_eq(run_download(url, dir, "--no-validate", &err), 0, "stderr: %s", err);
    cr_assert(!strcasestr(s.requests, "Authorization:"), "sent to a --url host: %s", s.requests);
    cr_assert(strstr(err, "not sent to --url hosts"), "%s", err);
    free(err);
    unsetenv("HF_TOKEN");
    unsetenv("HF_ENDPOINT");
    srv_stop(&s);
    rm_tree(dir);
    free(dir); free(body);
}

/* Plain http to a host other than the loopback exception: no token. */
Test(download, hf_token_never_over_plain_http)
{
    size_t len;
    char *body = make_dataset(20, &len);
    mini_srv s;
    srv_start_at(&s, body, len, "127.0.0.2");
    char *dir = make_tmpdir(), ep[64], *err;
    snprintf(ep, sizeof ep, "http://127.0.0.2:%d", s.port);
    setenv("HF_TOKEN", "hf_test_token_123", 1);
    setenv("HF_ENDPOINT", ep, 1);
    const char *hub[] = {"--repo", "own/data", "--out", dir, "--no-validate", NULL};
    int rc = run_args(hub, &err);
    unsetenv("HF_TOKEN");
    unsetenv("HF_ENDPOINT");
    srv_stop(&s);
    cr_assert_eq(rc, 0, "stderr: %s", err);
    cr_assert(s.nrequests == 1, "%s", s.requests);
    cr_assert(!strcasestr(s.requests, "Authorization:"), "sent over http: %s", s.requests);
    cr_assert(strstr(err, "https only"), "%s", err);
    free(err);
    rm_tree(dir);
    free(dir); free(body);
}

Test(download, no_token_no_authorization_header)
{
    size_t len;
    char *body = make_dataset(20, &len);
    mini_srv s;
    srv_start(&s, body, len);
    unsetenv("HF_TOKEN");
    char *dir = make_tmpdir(), url[128], *err;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/data/train.jsonl", s.port);
    int rc = run_download(url, dir, "--no-validate", &err);
    srv_stop(&s);
    cr_assert_eq(rc, 0, "stderr: %s", err);
    cr_assert(!strcasestr(s.requests, "Authorization:"), "%s", s.requests);
    free(err);
    rm_tree(dir);
    free(dir); free(body);
}

/* On a terminal the progress is a redrawn bar with rate and ETA. */
Test(download, progress_bar_on_a_tty)
{
    size_t len;
    char *body = make_dataset(200, &len);
    char *src = tu_write_temp(body, len, ".jsonl");
    char *dir = make_tmpdir(), url[512];
    snprintf(url, sizeof url, "file://%s", src);
    int master;
    pid_t pid = forkpty(&master, NULL, NULL, NULL);
    cr_assert(pid >= 0);
    if (pid == 0) {
        execl(tu_bin(), tu_bin(), "download", "--url", url, "--out", dir, "--no-validate",
              (char *)NULL);
        _exit(127);
    }
    char out[65536];
    size_t n = 0;
    for (;;) {
        ssize_t r = read(master, out + n, sizeof out - 1 - n);
        if (r <= 0)
            break;   /* EIO once the child has exited */
        n += (size_t)r;
    }
    out[n] = '\0';
    int st;
    waitpid(pid, &st, 0);
    close(master);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", out);
    cr_assert(strstr(out, "\r["), "no redrawn bar: %s", out);
    cr_assert(strstr(out, "100%") && strstr(out, "/s") && strstr(out, "ETA"), "%s", out);
    assert_file_is(dir, strrchr(src, '/') + 1, body, len);
    rm_tree(dir);
    unlink(src);
    free(src); free(dir); free(body);
}

/* The downloaded file is validated before it replaces anything; a bad one
 * fails the command, the good file stays, the download is kept as .invalid
 * (never lose data) and the reasons name the lines. */
Test(download, invalid_dataset_fails_validation_but_is_kept)
{
    size_t len;
    char *good = make_dataset(3, &len);
    size_t blen = len + 64;
    char *body = malloc(blen);
    int n = snprintf(body, blen, "%s{\"responses_create_params\": 7}\n", good);
    mini_srv s;
    srv_start(&s, body, (size_t)n);
    char *dir = make_tmpdir(), url[128], *err;
    write_at(dir, "train.jsonl", good, len);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/data/train.jsonl", s.port);
    int rc = run_download(url, dir, NULL, &err);
    srv_stop(&s);
    cr_assert_eq(rc, 1, "stderr: %s", err);
    cr_assert(strstr(err, "train.jsonl.part:4: error:"), "no line number: %s", err);
    cr_assert(strstr(err, "does not validate"), "%s", err);
    assert_file_is(dir, "train.jsonl", good, len);
    assert_file_is(dir, "train.jsonl.invalid", body, (size_t)n);
    cr_assert(!exists(dir, "train.jsonl.part"));
    free(err);
    rm_tree(dir);
    free(dir); free(body); free(good);
}

Test(download, resume_then_validate_via_file_url)
{
    size_t len;
    char *body = make_dataset(40, &len);
    char *src = tu_write_temp(body, len, ".jsonl");
    char *dir = make_tmpdir(), url[512], part[256], *err;
    snprintf(url, sizeof url, "file://%s", src);
    snprintf(part, sizeof part, "%s.part", strrchr(src, '/') + 1);
    write_at(dir, part, body, len / 2);
    cr_assert_eq(run_download(url, dir, NULL, &err), 0, "stderr: %s", err);
    cr_assert(strstr(err, "validated: 40 rows"), "%s", err);
    assert_file_is(dir, strrchr(src, '/') + 1, body, len);
    free(err);
    rm_tree(dir);
    unlink(src);
    free(src); free(dir); free(body);
}
