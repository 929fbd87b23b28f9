/* cli_eval_out — the files of `fcpivot eval` (see cli_eval_out.h).
 *
 * How it works: line files are opened O_APPEND and every line goes out in
 * one write() loop, so a reader (or a kill -9) sees whole lines except
 * possibly the last one; a failed write is undone with ftruncate. Whole
 * files (manifest, aggregate, summary, materialized inputs, the sorted
 * rollouts) are written to "<path>.tmp", fsync'ed and renamed over the old
 * one, then the directory is fsync'ed, so each is either the old or the new
 * version. The resume scan reads with getline and truncates the file after
 * its last usable line.
 */
#include "cli_eval_out.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "util.h"

#define REORDER_BUF (1u << 20)

static char *with_suffix(const char *stem, const char *suffix)
{
    util_buf b = UTIL_BUF_INIT;
    if (util_buf_puts(&b, stem) || util_buf_puts(&b, suffix)) {
        util_buf_free(&b);
        return NULL;
    }
    return b.data;
}

int evout_paths_init(evout_paths *p, const char *out)
{
    memset(p, 0, sizeof *p);
    size_t n = strlen(out);
    char *stem = strndup(out, n > 6 && !strcmp(out + n - 6, ".jsonl") ? n - 6 : n);
    if (!stem)
        return -1;
    p->rollouts = strdup(out);
    p->inputs = with_suffix(stem, "_materialized_inputs.jsonl");
    p->failures = with_suffix(stem, "_failures.jsonl");
    p->aggregate = with_suffix(stem, "_aggregate_metrics.json");
    p->summary = with_suffix(stem, "_summary.json");
    p->manifest = with_suffix(stem, "_run.json");
    free(stem);
    bool ok = p->rollouts && p->inputs && p->failures && p->aggregate && p->summary && p->manifest;
    if (!ok)
        evout_paths_free(p);
    return ok ? 0 : -1;
}

void evout_paths_free(evout_paths *p)
{
    free(p->rollouts);
    free(p->inputs);
    free(p->failures);
    free(p->aggregate);
    free(p->summary);
    free(p->manifest);
    memset(p, 0, sizeof *p);
}

/* ---- line files ------------------------------------------------------------------ */

int evout_open(evout_file *f, const char *path, bool truncate, char *err, size_t errsz)
{
    f->path = strdup(path);
    f->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0), 0644);
    struct stat st;
    if (!f->path || f->fd < 0 || fstat(f->fd, &st)) {
        snprintf(err, errsz, "cannot open '%s': %s", path, strerror(errno));
        evout_close(f);
        return -1;
    }
    f->size = (uint64_t)st.st_size;
    return 0;
}

int evout_append(evout_file *f, const char *p, size_t n, uint64_t *offset, char *err,
                 size_t errsz)
{
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(f->fd, p + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(err, errsz, "cannot write '%s': %s", f->path,
                     w < 0 ? strerror(errno) : "no space");
            if (done && ftruncate(f->fd, (off_t)f->size) != 0)
                snprintf(err, errsz, "cannot write '%s' (and a partial line remains): %s",
                         f->path, strerror(errno));
            return -1;
        }
        done += (size_t)w;
    }
    if (offset)
        *offset = f->size;
    f->size += n;
    return 0;
}

int evout_sync(evout_file *f, char *err, size_t errsz)
{
    if (f->fd >= 0 && fsync(f->fd) != 0) {
        snprintf(err, errsz, "cannot sync '%s': %s", f->path, strerror(errno));
        return -1;
    }
    return 0;
}

void evout_close(evout_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    free(f->path);
    f->path = NULL;
}

bool evout_nonempty(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && st.st_size > 0;
}

/* ---- resume scan --------------------------------------------------------------------- */

int evout_scan(const char *path, evout_line_fn fn, void *ctx, uint64_t *cut, char *err,
               size_t errsz)
{
    *cut = 0;
    FILE *in = fopen(path, "r");
    if (!in) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errsz, "cannot read '%s': %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    uint64_t off = 0, good_end = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, in)) > 0) {
        bool complete = line[n - 1] == '\n';
        size_t len = (size_t)n - (complete ? 1 : 0);
        int r = complete ? fn(ctx, line, len, off) : 1;
        off += (uint64_t)n;
        if (r == 0)
            good_end = off;
        else if (!complete)
            break;
        else
            good_end = off;   /* an unusable line in the middle stays (not counted) */
    }
    /* The last line, if unusable, is cut: re-check it. */
    bool failed = ferror(in);
    fclose(in);
    free(line);
    if (failed) {
        snprintf(err, errsz, "cannot read '%s'", path);
        return -1;
    }
    if (good_end < off) {
        if (truncate(path, (off_t)good_end) != 0) {
            snprintf(err, errsz, "cannot truncate '%s': %s", path, strerror(errno));
            return -1;
        }
        *cut = off - good_end;
    }
    return 0;
}

/* ---- atomic replacement ------------------------------------------------------------------ */

static void sync_dir_of(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

int evout_tmp_open(evout_tmp *t, const char *path, char *err, size_t errsz)
{
    t->final = strdup(path);
    char *tmp = with_suffix(path, ".tmp");
    int rc = t->final && tmp ? evout_open(&t->f, tmp, true, err, errsz) : -1;
    if (!t->final || !tmp)
        snprintf(err, errsz, "out of memory");
    free(tmp);
    if (rc) {
        free(t->final);
        t->final = NULL;
    }
    return rc;
}

int evout_tmp_commit(evout_tmp *t, char *err, size_t errsz)
{
    int rc = evout_sync(&t->f, err, errsz);
    if (!rc && rename(t->f.path, t->final) != 0) {
        snprintf(err, errsz, "cannot rename '%s': %s", t->f.path, strerror(errno));
        rc = -1;
    }
    if (rc)
        unlink(t->f.path);
    else
        sync_dir_of(t->final);
    evout_close(&t->f);
    free(t->final);
    t->final = NULL;
    return rc;
}

void evout_tmp_abort(evout_tmp *t)
{
    if (t->f.path)
        unlink(t->f.path);
    evout_close(&t->f);
    free(t->final);
    t->final = NULL;
}

int evout_replace(const char *path, const char *data, size_t len, char *err, size_t errsz)
{
    evout_tmp t;
    if (evout_tmp_open(&t, path, err, errsz))
        return -1;
    if (evout_append(&t.f, data, len, NULL, err, errsz)) {
        evout_tmp_abort(&t);
        return -1;
    }
    return evout_tmp_commit(&t, err, errsz);
}

static int pread_all(int fd, char *buf, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

int evout_reorder(const char *path, const uint64_t *off, const uint32_t *len, size_t n,
                  char *err, size_t errsz)
{
    int in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        snprintf(err, errsz, "cannot read '%s': %s", path, strerror(errno));
        return -1;
    }
    evout_tmp t;
    if (evout_tmp_open(&t, path, err, errsz)) {
        close(in);
        return -1;
    }
    util_buf b = UTIL_BUF_INIT;
    int rc = util_buf_reserve(&b, REORDER_BUF);
    for (size_t i = 0; i < n && !rc; i++) {
        if (!len[i])
            continue;
        size_t need = (size_t)len[i] + 1;
        if (b.len + need > REORDER_BUF && b.len) {
            rc = evout_append(&t.f, b.data, b.len, NULL, err, errsz);
            b.len = 0;
        }
        if (rc || util_buf_reserve(&b, need) || pread_all(in, b.data + b.len, need, off[i])) {
            if (!rc)
                snprintf(err, errsz, "cannot read '%s'", path);
            rc = -1;
            break;
        }
        b.len += need;
    }
    if (!rc && b.len)
        rc = evout_append(&t.f, b.data, b.len, NULL, err, errsz);
    util_buf_free(&b);
    close(in);
    if (rc) {
        evout_tmp_abort(&t);
        return -1;
    }
    return evout_tmp_commit(&t, err, errsz);
}
