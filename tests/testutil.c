/* testutil — helpers shared by the Criterion test files: paths, temporary
 * files and running the fcpivot binary as a child process. */
#include "testutil.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define READ_ROOM 65536   /* free room made before each read */

const char *tu_root(void)
{
    const char *r = getenv("FCPIVOT_ROOT");
    return r ? r : ".";
}

const char *tu_bin(void)
{
    const char *b = getenv("FCPIVOT_BIN");
    return b ? b : "build/fcpivot";
}

const char *tu_path(const char *rel)
{
    static _Thread_local char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", tu_root(), rel);
    return buf;
}

const char *tu_shared(const char *rel)
{
    static _Thread_local char buf[4096];
    snprintf(buf, sizeof buf, "%s/../shared/%s", tu_root(), rel);
    struct stat st;
    return stat(buf, &st) == 0 ? buf : NULL;
}

char *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    util_buf b = UTIL_BUF_INIT;
    size_t got = 0;
    bool ok = true;
    while ((ok = util_buf_reserve(&b, READ_ROOM) == 0) &&
           (got = fread(b.data + b.len, 1, b.cap - b.len - 1, f)) > 0)
        b.len += got;
    fclose(f);
    if (!ok) {
        util_buf_free(&b);
        return NULL;
    }
    b.data[b.len] = '\0';
    return util_buf_take(&b, len);
}

char *tu_write_temp(const char *data, size_t len, const char *suffix)
{
    char tmpl[256];
    snprintf(tmpl, sizeof tmpl, "/tmp/fcpivot-test-XXXXXX%s", suffix ? suffix : "");
    int fd = mkstemps(tmpl, suffix ? (int)strlen(suffix) : 0);
    if (fd < 0)
        return NULL;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w <= 0) { close(fd); return NULL; }
        off += (size_t)w;
    }
    close(fd);
    return strdup(tmpl);
}

/* Appends what fd has to b; returns 0 at EOF (or out of memory), 1 if more
 * may come. */
static int drain(int fd, util_buf *b)
{
    if (util_buf_reserve(b, READ_ROOM) != 0)
        return 0;
    ssize_t r = read(fd, b->data + b->len, b->cap - b->len - 1);
    if (r > 0) {
        b->len += (size_t)r;
        b->data[b->len] = '\0';
        return 1;
    }
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) return 1;
    return 0;
}

int tu_run(char *const argv[], const char *in_data, size_t in_len,
           char **out, size_t *out_len, char **err)
{
    int pin[2], pout[2], perr[2];
    if (pipe(pin) || pipe(pout) || pipe(perr))
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(pin[0], 0); dup2(pout[1], 1); dup2(perr[1], 2);
        close(pin[0]); close(pin[1]); close(pout[0]); close(pout[1]);
        close(perr[0]); close(perr[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(pin[0]); close(pout[1]); close(perr[1]);
    signal(SIGPIPE, SIG_IGN);
    fcntl(pin[1], F_SETFL, O_NONBLOCK);
    size_t in_off = 0;
    if (!in_data || in_len == 0) { close(pin[1]); pin[1] = -1; }
    util_buf ob = UTIL_BUF_INIT, eb = UTIL_BUF_INIT;
    int out_open = 1, err_open = 1;
    while (out_open || err_open) {
        struct pollfd p[3] = {{pout[0], POLLIN, 0}, {perr[0], POLLIN, 0}, {pin[1], POLLOUT, 0}};
        p[0].fd = out_open ? pout[0] : -1;
        p[1].fd = err_open ? perr[0] : -1;
        if (poll(p, 3, -1) < 0 && errno != EINTR)
            break;
        if (p[0].revents) out_open = drain(pout[0], &ob);
        if (p[1].revents) err_open = drain(perr[0], &eb);
        if (pin[1] >= 0 && p[2].revents) {
            ssize_t w = write(pin[1], in_data + in_off, in_len - in_off);
            if (w > 0) in_off += (size_t)w;
            if (w < 0 && errno != EAGAIN && errno != EINTR) in_off = in_len;
            if (in_off >= in_len) { close(pin[1]); pin[1] = -1; }
        }
    }
    if (pin[1] >= 0) close(pin[1]);
    close(pout[0]); close(perr[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    char *o = util_buf_take(&ob, out_len), *e = util_buf_take(&eb, NULL);
    if (out) *out = o; else free(o);
    if (err) *err = e; else free(e);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Criterion prints skipped tests only in verbose mode; a test skipped for a
 * missing ../shared must be visible in every run, so say so on stderr (tests
 * left out by --filter are "disabled", not skipped, and stay quiet). */
ReportHook(POST_TEST)(struct criterion_test_stats *stats)
{
    if (stats->test_status != CR_STATUS_SKIPPED || stats->test->data->disabled)
        return;
    fprintf(stderr, "[SKIP] %s::%s: %s\n", stats->test->category, stats->test->name,
            stats->message ? stats->message : "skipped");
}

bool tu_send_all(int fd, const void *p, size_t n)
{
    const char *at = p;
    while (n) {
        ssize_t w = send(fd, at, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        at += w;
        n -= (size_t)w;
    }
    return true;
}
