/* ds — pivot datasets: open, index, validate and read rows as tasks.
 *
 * How it works:
 * - Loading: a plain file is mmap'ed read-only; a gzip or zstd file (detected
 *   by its magic bytes, whatever its name) is decompressed once into memory.
 *   One memchr pass builds the row index: for every non-blank line its byte
 *   offset, length (without "\r\n") and 1-based line number, 16 bytes a row.
 *   A UTF-8 BOM at the start is skipped; blank lines are not rows but still
 *   count as lines. Nothing else is kept per row, so memory is the file (mapped
 *   pages) plus the index.
 * - Validation (optional, at open): rows go in batches of up to 64 MiB; each
 *   batch is cut into one byte-balanced part per thread and checked by dsval
 *   (no JSON tree is built). Findings are buffered per part and reported in
 *   line order once the batch is done, so reports are ordered and memory is
 *   bounded. With skip_invalid the invalid rows are then dropped from the
 *   index, so served indices are contiguous over the valid rows.
 * - Reading rows: every read of a mapped file's row bytes is guarded (see
 *   "reading mapped rows safely"): a file truncated or rewritten in place
 *   makes its rows fail with a reason, never the process.
 * - Other modules read row bytes through ds_rows_visit: the same guard and
 *   in-place check around a callback that reads the rows where they are
 *   (the ORS task listings, pubtask.h, are written that way without a copy).
 * - Lifetime: a dataset is reference-counted (ds_retain / ds_close), so a
 *   server can swap in a reloaded one while sessions finish on the old.
 * - Tasks: a row is parsed only when a task is acquired, from one guarded
 *   copy of its bytes (jtext_build, into jansson values; its expected action
 *   into a reference-counted grade_action). The task keeps that copy, since
 *   numbers such as 2^64 or NaN only survive as text (prompt writes its
 *   replies from it). Shapes are not checked again: the rows were validated
 *   at open, or dsval checks the row first (and its parse of the expected
 *   action is the one kept). Each acquired row has a slot in a per-split
 *   table, under one mutex: the shared ds_task with its holder count, and
 *   the row's expected action, which stays while the task or a holder of the
 *   action alone (a session: ds_expected_hold) needs it, so the action of a
 *   row is parsed once however often its task is built again. The last
 *   release frees the task (the parsed row); the slot goes with the last
 *   hold. Parsing happens outside the lock; if two threads race on the same
 *   row the loser frees its copy.
 */
#include "ds.h"
#include "dsval.h"
#include "jtext.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>
#include "util.h"

#define BATCH_BYTES ((size_t)64 << 20)
#define BATCH_ROWS  ((size_t)1 << 18)
#define MAX_THREADS 64
/* Digits of a task id's index at most: below 10^18, so it fits a size_t. */
#define TASK_INDEX_DIGITS_MAX 18
#define FIRST_FOUND 64       /* a part's findings start with room for these */
#define ROW_GUESS_BYTES 512  /* the index starts with room for a row per this many bytes */

typedef struct ds_row {
    size_t off;
    uint32_t len;
    uint32_t line;
} ds_row;

/* A row's slot, made when its task is first acquired: the task while anyone
 * holds it (refs) and the row's expected action while the task or a holder
 * that outlives it (holds, ds_expected_hold) needs it. The slot owns one
 * reference to the action; a task built again while the action is held
 * shares it instead of parsing it again. A slot with neither is freed. */
typedef struct row_slot {
    ds_task *task;           /* NULL while only the action is held */
    grade_action *expected;
    unsigned refs, holds;
} row_slot;

static void slot_free(row_slot *slot);

typedef struct sfile {
    char *name, *path;
    const char *data;        /* file contents */
    size_t size;
    bool mapped, compressed;
    int fd;                  /* a mapped file stays open (to notice in-place changes); else -1 */
    struct timespec mtime;   /* of a mapped file, when mapped */
    ds_row *rows;
    size_t nrows;            /* served rows */
    size_t lines, total_rows, errors, warnings;
    size_t kinds[GRADE_ACTION_KIND_COUNT];
    row_slot **slots;        /* per served row, allocated on first acquire */
} sfile;

struct ds_dataset {
    atomic_uint refs;        /* ds_open's reference + ds_retain's */
    bool validated;          /* every served row passed dsval at open */
    sfile *splits;
    size_t nsplits;
    pthread_mutex_t mu;      /* guards every split's slots and refcounts */
};

/* ---- reading files ------------------------------------------------------ */

#define READ_CHUNK ((size_t)1 << 20)   /* room made before each read / inflate */
#define ZLIB_STEP_MAX ((size_t)1 << 30) /* bytes per inflate call: zlib counts in uInt */

/* The free bytes of b after util_buf_reserve (its last byte is kept for the
 * NUL util_buf promises). */
static size_t room(const util_buf *b)
{
    return b->cap - b->len - 1;
}

/* gzip data in[0..n) (one or more members; anything after a member that is
 * not another member is ignored, as gzread does) appended to b. */
static int gunzip_mem(const unsigned char *in, size_t n, const char *path, util_buf *b,
                      char *err, size_t errsz)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 16) != Z_OK) {
        util_set_err(err, errsz, "%s: cannot start gzip decoder", path);
        return -1;
    }
    size_t pos = 0;
    int zr = Z_OK;
    for (;;) {
        if (util_buf_reserve(b, READ_CHUNK)) {
            zr = Z_MEM_ERROR;
            break;
        }
        size_t in_chunk = n - pos > ZLIB_STEP_MAX ? ZLIB_STEP_MAX : n - pos;
        size_t out_room = room(b) > ZLIB_STEP_MAX ? ZLIB_STEP_MAX : room(b);
        z.next_in = (unsigned char *)in + pos;
        z.avail_in = (uInt)in_chunk;
        z.next_out = (unsigned char *)b->data + b->len;
        z.avail_out = (uInt)out_room;
        zr = inflate(&z, Z_NO_FLUSH);
        pos += in_chunk - z.avail_in;
        b->len += out_room - z.avail_out;
        b->data[b->len] = '\0';
        if (zr == Z_STREAM_END) {
            if (n - pos < 2 || in[pos] != 0x1f || in[pos + 1] != 0x8b)
                break;                 /* no further member */
            inflateReset(&z);
            continue;
        }
        if (zr != Z_OK && zr != Z_BUF_ERROR)
            break;                     /* corrupt data or out of memory */
        if (pos == n && z.avail_out != 0)
            break;                     /* input used up mid-stream: truncated */
    }
    inflateEnd(&z);
    if (zr == Z_STREAM_END)
        return 0;
    util_set_err(err, errsz, "%s: %s gzip data", path, zr == Z_MEM_ERROR ? "out of memory decompressing"
                 : zr == Z_OK || zr == Z_BUF_ERROR ? "truncated" : "corrupt");
    return -1;
}

/* zstd data in[0..n) (one or more frames) appended to b. */
static int unzstd_mem(const unsigned char *in, size_t n, const char *path, util_buf *b,
                      char *err, size_t errsz)
{
    ZSTD_DStream *z = ZSTD_createDStream();
    if (!z) {
        util_set_err(err, errsz, "%s: out of memory", path);
        return -1;
    }
    ZSTD_initDStream(z);
    ZSTD_inBuffer ib = {in, n, 0};
    size_t last = 1;
    int rc = 0;
    for (;;) {
        if (util_buf_reserve(b, ZSTD_DStreamOutSize())) {
            util_set_err(err, errsz, "%s: out of memory decompressing", path);
            rc = -1;
            break;
        }
        ZSTD_outBuffer ob = {b->data + b->len, room(b), 0};
        last = ZSTD_decompressStream(z, &ob, &ib);
        if (ZSTD_isError(last)) {
            util_set_err(err, errsz, "%s: corrupt zstd data (%s)", path, ZSTD_getErrorName(last));
            rc = -1;
            break;
        }
        b->len += ob.pos;
        b->data[b->len] = '\0';
        if (ib.pos == ib.size && ob.pos < ob.size)
            break;                     /* input used up and output flushed */
    }
    if (rc == 0 && last != 0) {
        util_set_err(err, errsz, "%s: truncated zstd data", path);
        rc = -1;
    }
    ZSTD_freeDStream(z);
    return rc;
}

static int read_all(int fd, const char *path, util_buf *b, char *err, size_t errsz)
{
    for (;;) {
        if (util_buf_reserve(b, READ_CHUNK)) {
            util_set_err(err, errsz, "%s: out of memory", path);
            return -1;
        }
        ssize_t got = read(fd, b->data + b->len, room(b));
        if (got < 0) {
            if (errno == EINTR)
                continue;
            util_set_err(err, errsz, "%s: read error: %s", path, strerror(errno));
            return -1;
        }
        if (got == 0)
            return 0;
        b->len += (size_t)got;
        b->data[b->len] = '\0';
    }
}

static bool is_gzip(const unsigned char *p, size_t n)
{
    return n >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

static bool is_zstd(const unsigned char *p, size_t n)
{
    return n >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd;
}

/* ---- reading mapped rows safely ------------------------------------------
 *
 * A mapped file that is truncated in place raises SIGBUS on the next read of a
 * page past its new end; one rewritten in place changes under the mapping.
 * Neither may crash the server or serve rows that were never validated, so
 * row bytes are read only under a SIGBUS guard (a per-thread jump buffer the
 * handler returns to): copied by guarded_copy when a task is built, or read
 * in place by ds_rows_visit's callback; the file's size and modification
 * time are then checked against those it was loaded with (file_changed). A
 * fault outside a guarded read keeps its default action. */

/* volatile: the stores around a copy must not be optimised away. */
static _Thread_local sigjmp_buf *volatile guard_jump;

static void on_sigbus(int sig, siginfo_t *info, void *uctx)
{
    (void)info;
    (void)uctx;
    sigjmp_buf *jb = guard_jump;
    if (jb)
        siglongjmp(*jb, 1);
    signal(sig, SIG_DFL);               /* not ours: fault again, by default */
}

static void guard_install_once(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;   /* no mask to restore after the jump */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, NULL);
}

static void guard_install(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, guard_install_once);
}

/* Copies len bytes at src (inside a mapping) to dst; false when the pages
 * are gone (the file shrank under the mapping). */
static bool guarded_copy(char *dst, const char *src, size_t len)
{
    sigjmp_buf jb;
    if (sigsetjmp(jb, 0)) {
        guard_jump = NULL;
        return false;
    }
    guard_jump = &jb;
    memcpy(dst, src, len);
    guard_jump = NULL;
    return true;
}

/* True when a mapped file no longer has the size and modification time it
 * was loaded with (or cannot be checked). */
static bool file_changed(const sfile *sp)
{
    if (!sp->mapped)
        return false;
    struct stat st;
    return fstat(sp->fd, &st) != 0 || (size_t)st.st_size != sp->size ||
           st.st_mtim.tv_sec != sp->mtime.tv_sec || st.st_mtim.tv_nsec != sp->mtime.tv_nsec;
}

static void set_changed_err(const sfile *sp, char *err, size_t errsz)
{
    util_set_err(err, errsz, "%s was truncated or rewritten in place after it was loaded, so its "
                 "rows can no longer be read; replace dataset files by rename and send SIGHUP "
                 "to reload", sp->path);
}

/* The file's bytes: mapped (regular files) or read into memory (pipes). */
static int raw_contents(int fd, const struct stat *st, sfile *sp, char *err, size_t errsz)
{
    if (!S_ISREG(st->st_mode)) {
        util_buf b = UTIL_BUF_INIT;
        if (read_all(fd, sp->path, &b, err, errsz)) {
            util_buf_free(&b);
            return -1;
        }
        sp->data = util_buf_take(&b, &sp->size);
        return 0;
    }
    sp->size = (size_t)st->st_size;
    if (sp->size == 0)
        return 0;
    void *m = mmap(NULL, sp->size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (m == MAP_FAILED) {
        util_set_err(err, errsz, "%s: mmap: %s", sp->path, strerror(errno));
        return -1;
    }
    madvise(m, sp->size, MADV_SEQUENTIAL);
    sp->data = m;
    sp->mapped = true;
    sp->mtime = st->st_mtim;
    guard_install();
    return 0;
}

static void release_contents(sfile *sp)
{
    if (sp->mapped && sp->data)
        munmap((void *)sp->data, sp->size);
    else
        free((void *)sp->data);
    if (sp->fd >= 0)
        close(sp->fd);
    sp->fd = -1;
    sp->data = NULL;
    sp->size = 0;
    sp->mapped = false;
}

/* Loads sp->path into sp->data/size: a plain regular file stays mapped; gzip
 * or zstd data (recognised by magic bytes) is decompressed into memory, as is
 * anything read from a pipe. */
static int load_file(sfile *sp, char *err, size_t errsz)
{
    int fd = open(sp->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        util_set_err(err, errsz, "%s: %s", sp->path, strerror(errno));
        return -1;
    }
    struct stat st;
    int e = fstat(fd, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
    if (e) {
        util_set_err(err, errsz, "%s: %s", sp->path, strerror(e));
        close(fd);
        return -1;
    }
    int rc = raw_contents(fd, &st, sp, err, errsz);
    if (sp->mapped)
        sp->fd = fd;
    else
        close(fd);
    const unsigned char *raw = (const unsigned char *)sp->data;
    if (rc || !(is_gzip(raw, sp->size) || is_zstd(raw, sp->size)))
        return rc;
    util_buf b = UTIL_BUF_INIT;
    rc = is_gzip(raw, sp->size) ? gunzip_mem(raw, sp->size, sp->path, &b, err, errsz)
                                : unzstd_mem(raw, sp->size, sp->path, &b, err, errsz);
    release_contents(sp);
    sp->compressed = true;
    if (rc || !b.len) {
        util_buf_free(&b);
        return rc;
    }
    char *all = util_buf_take(&b, &sp->size);
    char *shrunk = realloc(all, sp->size + 1);   /* give back the spare room */
    sp->data = shrunk ? shrunk : all;
    return 0;
}

/* ---- indexing ----------------------------------------------------------- */

static bool is_blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return false;
    return true;
}

static int index_split(sfile *sp, char *err, size_t errsz)
{
    /* An empty file has no data at all (NULL): NULL + 0 is undefined in C. */
    const char *p = sp->data, *end = sp->size ? sp->data + sp->size : sp->data;
    if (sp->size >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3))
        p += 3;
    size_t cap = sp->size / ROW_GUESS_BYTES + 16, n = 0, line = 0;
    ds_row *rows = malloc(cap * sizeof *rows);
    if (!rows)
        goto oom;
    while (p < end) {
        line++;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        size_t len = (size_t)(le - p);
        if (len && le[-1] == '\r')
            len--;
        if (len && !((*p == ' ' || *p == '\t' || *p == '\r') && is_blank(p, len))) {
            if (len > UINT32_MAX || line > UINT32_MAX) {
                free(rows);
                util_set_err(err, errsz, "%s:%zu: line too long (or too many lines)", sp->path, line);
                return -1;
            }
            if (util_grow(&rows, &cap, n + 1, sizeof *rows, cap))
                goto oom;
            rows[n++] = (ds_row){(size_t)(p - sp->data), (uint32_t)len, (uint32_t)line};
        }
        p = nl ? nl + 1 : end;
    }
    sp->rows = rows;
    sp->nrows = sp->total_rows = n;
    sp->lines = line;
    return 0;
oom:
    free(rows);
    util_set_err(err, errsz, "%s: out of memory indexing", sp->path);
    return -1;
}

/* ---- validation ---------------------------------------------------------- */

enum { ROW_VALID = 0, ROW_INVALID = 1 };   /* a part's status bytes (calloc: valid) */

typedef struct found {
    uint32_t line;
    ds_severity sev;
    const char *kind;        /* static */
    char *msg;
} found;

typedef struct part {
    const sfile *sp;
    size_t split;
    unsigned worker;
    const ds_open_options *o;
    size_t from, to;          /* row range */
    uint8_t *status;          /* per row of the split: ROW_VALID or ROW_INVALID */
    dsval_ctx *ctx;
    found *found;
    size_t nfound, capfound;
    size_t errors, warnings, kinds[GRADE_ACTION_KIND_COUNT];
    bool oom;
} part;

static void part_note(part *pt, uint32_t line, ds_severity sev, const char *kind, const char *msg)
{
    if (util_grow(&pt->found, &pt->capfound, pt->nfound + 1, sizeof *pt->found, FIRST_FOUND)) {
        pt->oom = true;
        return;
    }
    char *m = strdup(msg);
    if (!m) {
        pt->oom = true;
        return;
    }
    pt->found[pt->nfound++] = (found){line, sev, kind, m};
}

static void *part_run(void *arg)
{
    part *pt = arg;
    dsval_result r;
    for (size_t i = pt->from; i < pt->to; i++) {
        const ds_row *row = &pt->sp->rows[i];
        dsval_row(pt->ctx, pt->sp->data + row->off, row->len, &r);
        if (pt->o->on_row) {
            bool unlisted = false;
            for (unsigned w = 0; w < r.nwarnings; w++)
                unlisted |= !strcmp(r.warnings[w].kind, "unlisted_tool");
            ds_row_info ri = {pt->split, i, row->line, pt->worker, !r.error, r.warning, unlisted,
                              r.kind, r.expected, r.n_input, r.n_tools, r.n_user, r.n_words};
            pt->o->on_row(&ri, pt->o->ctx);
        }
        if (r.error) {
            pt->status[i] = ROW_INVALID;
            pt->errors++;
            part_note(pt, row->line, DS_SEV_ERROR, r.kind_name ? r.kind_name : "row", r.error_msg);
            continue;
        }
        if ((unsigned)r.kind < GRADE_ACTION_KIND_COUNT)
            pt->kinds[r.kind]++;
        if (r.warning)
            pt->warnings++;
        for (unsigned w = 0; w < r.nwarnings; w++)
            part_note(pt, row->line, DS_SEV_WARNING, r.warnings[w].kind, r.warnings[w].msg);
    }
    return NULL;
}

/* Reports a part's findings in order and folds its counts into the split. */
static void part_flush(part *pt, sfile *sp, const ds_open_options *o)
{
    for (size_t i = 0; i < pt->nfound; i++) {
        if (o->on_issue) {
            ds_issue is = {sp->name, sp->path, pt->found[i].line, pt->found[i].sev, pt->found[i].msg,
                           pt->found[i].kind};
            o->on_issue(&is, o->ctx);
        }
        free(pt->found[i].msg);
    }
    pt->nfound = 0;
    sp->errors += pt->errors;
    sp->warnings += pt->warnings;
    for (int k = 0; k < GRADE_ACTION_KIND_COUNT; k++)
        sp->kinds[k] += pt->kinds[k];
    pt->errors = pt->warnings = 0;
    memset(pt->kinds, 0, sizeof pt->kinds);
}

/* Cuts rows [from, to) into nt byte-balanced parts. */
static void cut_batch(const sfile *sp, size_t from, size_t to, size_t bytes, part *parts, unsigned nt)
{
    size_t i = from, acc = 0;
    for (unsigned t = 0; t < nt; t++) {
        parts[t].from = i;
        size_t goal = bytes * (t + 1) / nt;
        while (i < to && (t == nt - 1 || acc < goal))
            acc += sp->rows[i++].len + 1u;
        parts[t].to = i;
    }
}

static int validate_split(const sfile *ds_splits_base, sfile *sp, part *parts, unsigned nt,
                          const ds_open_options *o,
                          size_t *done, size_t total, char *err, size_t errsz)
{
    uint8_t *status = calloc(sp->nrows ? sp->nrows : 1, 1);
    if (!status) {
        util_set_err(err, errsz, "%s: out of memory", sp->path);
        return -1;
    }
    int rc = 0;
    for (size_t from = 0; from < sp->nrows && rc == 0;) {
        size_t to = from, bytes = 0;
        while (to < sp->nrows && bytes < BATCH_BYTES && to - from < BATCH_ROWS)
            bytes += sp->rows[to++].len + 1u;
        unsigned use = bytes < ((size_t)1 << 16) || to - from < 2 ? 1 : nt;
        cut_batch(sp, from, to, bytes, parts, use);
        pthread_t tid[MAX_THREADS];
        bool started[MAX_THREADS] = {false};
        for (unsigned t = 0; t < use; t++) {
            parts[t].sp = sp;
            parts[t].split = (size_t)(sp - ds_splits_base);
            parts[t].worker = t;
            parts[t].o = o;
            parts[t].status = status;
            if (t > 0)
                started[t] = pthread_create(&tid[t], NULL, part_run, &parts[t]) == 0;
        }
        part_run(&parts[0]);
        for (unsigned t = 1; t < use; t++) {
            if (started[t])
                pthread_join(tid[t], NULL);
            else
                part_run(&parts[t]);   /* no thread: do it here */
        }
        for (unsigned t = 0; t < use; t++) {
            part_flush(&parts[t], sp, o);
            if (parts[t].oom)
                rc = -1;
        }
        *done += bytes;
        if (o->on_progress)
            o->on_progress(*done, total, o->ctx);
        from = to;
    }
    if (rc)
        util_set_err(err, errsz, "%s: out of memory validating", sp->path);
    if (rc == 0 && sp->errors && o->skip_invalid) {
        size_t k = 0;
        for (size_t i = 0; i < sp->nrows; i++)
            if (status[i] == ROW_VALID)
                sp->rows[k++] = sp->rows[i];
        sp->nrows = k;
    }
    if (rc == 0 && sp->errors && !o->skip_invalid) {
        size_t first = 0;
        while (status[first] == ROW_VALID)
            first++;
        util_set_err(err, errsz, "%s: %zu invalid row%s (first at line %u); fix them or skip them "
                     "(--skip-invalid)", sp->path, sp->errors, sp->errors == 1 ? "" : "s",
                     (unsigned)sp->rows[first].line);
        rc = -1;
    }
    free(status);
    return rc;
}

unsigned ds_thread_count(unsigned requested)
{
    long n = requested ? (long)requested : sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    return n > MAX_THREADS ? MAX_THREADS : (unsigned)n;
}

static int validate_all(ds_dataset *ds, const ds_open_options *o, char *err, size_t errsz)
{
    unsigned nt = ds_thread_count(o->threads);
    part parts[MAX_THREADS];
    memset(parts, 0, sizeof parts);
    int rc = 0;
    for (unsigned t = 0; t < nt && rc == 0; t++)
        if (!(parts[t].ctx = dsval_ctx_new()))
            rc = -1;
        else
            dsval_ctx_measure(parts[t].ctx, o->measure && o->on_row);
    if (rc)
        util_set_err(err, errsz, "out of memory");
    size_t total = 0, done = 0;
    for (size_t i = 0; i < ds->nsplits; i++)
        total += ds->splits[i].size;
    for (size_t i = 0; i < ds->nsplits && rc == 0; i++)
        rc = validate_split(ds->splits, &ds->splits[i], parts, nt, o, &done, total, err, errsz);
    for (unsigned t = 0; t < nt; t++) {
        dsval_ctx_free(parts[t].ctx);
        free(parts[t].found);
    }
    return rc;
}

/* ---- open/close ---------------------------------------------------------- */

bool ds_split_name_valid(const char *name)
{
    if (!name || !*name || strlen(name) > DS_SPLIT_NAME_MAX)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '.' || *p == '-'))
            return false;
    return true;
}

static void split_free(sfile *sp)
{
    release_contents(sp);
    free(sp->rows);
    if (sp->slots) {
        for (size_t i = 0; i < sp->nrows; i++)
            slot_free(sp->slots[i]);   /* still held: a caller forgot to release */
        free(sp->slots);
    }
    free(sp->name);
    free(sp->path);
}

ds_dataset *ds_retain(ds_dataset *ds)
{
    if (ds)
        atomic_fetch_add(&ds->refs, 1);
    return ds;
}

void ds_close(ds_dataset *ds)
{
    if (!ds || atomic_fetch_sub(&ds->refs, 1) != 1)
        return;
    for (size_t i = 0; i < ds->nsplits; i++)
        split_free(&ds->splits[i]);
    free(ds->splits);
    pthread_mutex_destroy(&ds->mu);
    free(ds);
}

static int check_specs(const ds_split_spec *specs, size_t n, char *err, size_t errsz)
{
    if (n == 0) {
        util_set_err(err, errsz, "no dataset split given");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!ds_split_name_valid(specs[i].name)) {
            util_set_err(err, errsz, "invalid split name '%s'", specs[i].name ? specs[i].name : "");
            return -1;
        }
        if (!specs[i].path || !*specs[i].path) {
            util_set_err(err, errsz, "split '%s' has no file", specs[i].name);
            return -1;
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(specs[i].name, specs[j].name)) {
                util_set_err(err, errsz, "duplicate split name '%s'", specs[i].name);
                return -1;
            }
    }
    return 0;
}

int ds_open(ds_dataset **out, const ds_split_spec *specs, size_t nsplits,
            const ds_open_options *opts, char *err, size_t errsz)
{
    *out = NULL;
    ds_open_options none = {0};
    const ds_open_options *o = opts ? opts : &none;
    if (check_specs(specs, nsplits, err, errsz))
        return -1;
    ds_dataset *ds = calloc(1, sizeof *ds);
    if (!ds || !(ds->splits = calloc(nsplits, sizeof *ds->splits))) {
        free(ds);
        util_set_err(err, errsz, "out of memory");
        return -1;
    }
    pthread_mutex_init(&ds->mu, NULL);
    atomic_init(&ds->refs, 1);
    for (size_t i = 0; i < nsplits; i++)
        ds->splits[i].fd = -1;
    int rc = 0;
    for (size_t i = 0; i < nsplits && rc == 0; i++) {
        sfile *sp = &ds->splits[ds->nsplits++];
        sp->name = strdup(specs[i].name);
        sp->path = strdup(specs[i].path);
        if (!sp->name || !sp->path) {
            util_set_err(err, errsz, "out of memory");
            rc = -1;
        } else {
            rc = load_file(sp, err, errsz);
            if (rc == 0)
                rc = index_split(sp, err, errsz);
        }
    }
    if (rc == 0 && o->validate)
        rc = validate_all(ds, o, err, errsz);
    ds->validated = o->validate;
    if (rc) {
        ds_close(ds);
        return -1;
    }
    *out = ds;
    return 0;
}

/* ---- accessors ------------------------------------------------------------ */

size_t ds_split_count(const ds_dataset *ds) { return ds->nsplits; }

const char *ds_split_name(const ds_dataset *ds, size_t split)
{
    return split < ds->nsplits ? ds->splits[split].name : NULL;
}

size_t ds_split_size(const ds_dataset *ds, size_t split)
{
    return split < ds->nsplits ? ds->splits[split].nrows : 0;
}

long ds_split_find(const ds_dataset *ds, const char *name)
{
    for (size_t i = 0; name && i < ds->nsplits; i++)
        if (!strcmp(ds->splits[i].name, name))
            return (long)i;
    return -1;
}

size_t ds_skipped_rows(const ds_dataset *ds)
{
    size_t n = 0;
    for (size_t i = 0; i < ds->nsplits; i++)
        n += ds->splits[i].total_rows - ds->splits[i].nrows;
    return n;
}

size_t ds_warning_count(const ds_dataset *ds)
{
    size_t n = 0;
    for (size_t i = 0; i < ds->nsplits; i++)
        n += ds->splits[i].warnings;
    return n;
}

size_t ds_error_count(const ds_dataset *ds)
{
    size_t n = 0;
    for (size_t i = 0; i < ds->nsplits; i++)
        n += ds->splits[i].errors;
    return n;
}

void ds_split_report_get(const ds_dataset *ds, size_t split, ds_split_report *out)
{
    memset(out, 0, sizeof *out);
    if (split >= ds->nsplits)
        return;
    const struct sfile *sp = &ds->splits[split];
    out->name = sp->name;
    out->path = sp->path;
    out->compressed = sp->compressed;
    out->bytes = sp->size;
    out->lines = sp->lines;
    out->rows = sp->total_rows;
    out->served = sp->nrows;
    out->errors = sp->errors;
    out->warnings = sp->warnings;
    memcpy(out->kinds, sp->kinds, sizeof out->kinds);
}

const char *ds_row_text(const ds_dataset *ds, size_t split, size_t index, size_t *len, size_t *line)
{
    if (split >= ds->nsplits || index >= ds->splits[split].nrows)
        return NULL;
    const struct sfile *sp = &ds->splits[split];
    const ds_row *r = &sp->rows[index];
    if (len)
        *len = r->len;
    if (line)
        *line = r->line;
    return sp->data + r->off;
}

/* ---- tasks --------------------------------------------------------------- */

/* The task tools of a valid row (its tools a list, each function tool an
 * object with a string name: dsval's rules): its function tools' function
 * objects — the tool itself, or its "function" member in the
 * Chat-Completions shape — as references to the row's own values (nothing
 * is filled in: how a tool is shown is prompt's), the first of each name
 * (docs/dataset.md §4: a duplicate is a warning, the first one is the
 * task's). from[k] gets the row index of task tool k (from has room for
 * every row tool). NULL when out of memory. */
static json_t *task_tools(const json_t *tools, size_t *from)
{
    json_t *out = json_array(), *seen = json_object();
    bool ok = out && seen;
    size_t i;
    const json_t *tool;
    json_array_foreach(tools, i, tool) {
        const char *type = json_string_value(json_object_get(tool, "type"));
        if (!ok || !type || strcmp(type, "function"))
            continue;                   /* web_search, ...: not a task tool */
        const json_t *fn = json_object_get(tool, "function");
        json_t *src = (json_t *)(json_is_object(fn) ? fn : tool);
        const char *name = json_string_value(json_object_get(src, "name"));
        if (!name || json_object_get(seen, name))
            continue;
        from[json_array_size(out)] = i;
        ok = json_object_set_new(seen, name, json_true()) == 0 && json_array_append(out, src) == 0;
    }
    json_decref(seen);
    if (!ok) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* Frees a task: its row's tree, tools and copy (the expected action is the
 * slot's). */
static void task_free(ds_task *t)
{
    if (!t)
        return;
    json_decref(t->row);
    json_decref(t->tools);
    free(t->text);
    free(t->tool_rows);
    free(t);
}

static void slot_free(row_slot *slot)
{
    if (!slot)
        return;
    task_free(slot->task);
    grade_action_release(slot->expected);
    free(slot);
}

/* The expected action of a row of a dataset not validated at open: dsval
 * checks the row first (the same rules as at open, so the shapes task_parse
 * relies on hold) and its parse of expected_action becomes the task's.
 * NULL with dsval's reason in why. */
static grade_action *task_check(const ds_task *t, char *why, size_t whysz)
{
    dsval_ctx *c = dsval_ctx_new();
    if (!c) {
        snprintf(why, whysz, "out of memory");
        return NULL;
    }
    dsval_result r;
    dsval_row(c, t->text, t->text_len, &r);
    grade_action *expected = r.error ? NULL : grade_action_retain(r.expected);
    if (r.error)
        snprintf(why, whysz, "%s", r.error_msg);
    dsval_ctx_free(c);
    return expected;
}

/* Builds the task's values from its copy of a valid row (validated at open,
 * or by task_check): no shape is checked again. The expected action is
 * t->expected when the row's is still held (a session outlived the task),
 * else parsed now (or task_check's). false with a reason in why. */
static bool task_parse(const ds_dataset *ds, ds_task *t, char *why, size_t whysz)
{
    if (!ds->validated && !t->expected && !(t->expected = task_check(t, why, whysz)))
        return false;
    t->row = jtext_build(t->text, t->text_len, JTEXT_PY);
    const json_t *rcp = json_object_get(t->row, "responses_create_params");
    const json_t *row_tools = json_object_get(rcp, "tools");
    t->input = json_object_get(rcp, "input");
    t->tool_rows = malloc((json_array_size(row_tools) + 1) * sizeof *t->tool_rows);
    bool ok = t->row && t->tool_rows && (t->tools = task_tools(row_tools, t->tool_rows));
    if (ok && !t->expected) {
        char gerr[256];
        t->expected = grade_expected_from_json(json_object_get(t->row, "expected_action"), gerr, sizeof gerr);
        if (!t->expected)
            snprintf(why, whysz, "expected_action: %s", gerr);
        ok = t->expected != NULL;
    }
    if (!ok && !why[0])
        snprintf(why, whysz, "out of memory");
    return ok;
}

/* Copies row index of split under the guard and parses the copy into a
 * fresh task that owns a reference to its expected action: kept (which it
 * takes over) when given, else parsed now. */
static ds_task *task_build(ds_dataset *ds, size_t si, size_t index, grade_action *kept,
                           char *err, size_t errsz)
{
    const sfile *sp = &ds->splits[si];
    size_t line = sp->rows[index].line;
    char why[400] = "";
    ds_task *t = calloc(1, sizeof *t);
    if (!t) {
        grade_action_release(kept);
        util_set_err(err, errsz, "out of memory");
        return NULL;
    }
    snprintf(t->id, sizeof t->id, "%s-%zu", sp->name, index);
    t->split = sp->name;
    t->split_index = si;
    t->index = index;
    t->line = line;
    t->expected = kept;
    size_t len = 0;
    const char *text = ds_row_text(ds, si, index, &len, NULL);
    bool ok = false;
    if (!(t->text = malloc(len + 1)))
        snprintf(why, sizeof why, "out of memory");
    else if (!guarded_copy(t->text, text, len) || file_changed(sp))
        set_changed_err(sp, why, sizeof why);
    else {
        t->text[len] = '\0';
        t->text_len = len;
        ok = task_parse(ds, t, why, sizeof why);
    }
    if (!ok) {
        util_set_err(err, errsz, "%s:%zu: %s", sp->path, line, why);
        grade_action_release(t->expected);
        task_free(t);
        return NULL;
    }
    return t;
}

/* Under ds->mu: the slot table of sp, allocated on first use. */
static row_slot **slots_of(sfile *sp)
{
    if (!sp->slots)
        sp->slots = calloc(sp->nrows, sizeof *sp->slots);
    return sp->slots;
}

/* Under ds->mu: puts fresh (with its own reference to its action) in *at,
 * unless a task is there already (then it is shared). The task to return,
 * or NULL when out of memory; *loser is the task the caller frees (with the
 * action reference it still owns), or NULL. */
static ds_task *slot_install(row_slot **at, ds_task *fresh, ds_task **loser)
{
    row_slot *slot = *at;
    *loser = fresh;
    if (!slot && !(slot = *at = calloc(1, sizeof *slot)))
        return NULL;
    if (slot->task) {
        slot->refs++;                   /* another thread won the race: use its task */
        return slot->task;
    }
    if (slot->expected) {               /* the row's action is held: that one stays */
        grade_action_release(fresh->expected);
        fresh->expected = slot->expected;
    } else {
        slot->expected = fresh->expected;   /* the task's reference becomes the slot's */
    }
    *loser = NULL;
    slot->task = fresh;
    slot->refs = 1;
    return fresh;
}

const ds_task *ds_task_acquire(ds_dataset *ds, size_t si, size_t index, char *err, size_t errsz)
{
    if (!ds || si >= ds->nsplits || index >= ds->splits[si].nrows) {
        util_set_err(err, errsz, "no task %zu in split %zu", index, si);
        return NULL;
    }
    sfile *sp = &ds->splits[si];
    pthread_mutex_lock(&ds->mu);
    row_slot **slots = slots_of(sp), *slot = slots ? slots[index] : NULL;
    ds_task *t = slot ? slot->task : NULL;
    if (t)
        slot->refs++;
    /* only the action is held: the task is built again around it */
    grade_action *kept = slot && !t ? grade_action_retain(slot->expected) : NULL;
    pthread_mutex_unlock(&ds->mu);
    if (!slots)
        util_set_err(err, errsz, "out of memory");
    if (t || !slots)
        return t;

    ds_task *fresh = task_build(ds, si, index, kept, err, errsz), *loser = NULL;
    if (!fresh)
        return NULL;
    pthread_mutex_lock(&ds->mu);
    t = slot_install(&slots[index], fresh, &loser);
    pthread_mutex_unlock(&ds->mu);
    if (loser) {
        grade_action_release(loser->expected);
        task_free(loser);
    }
    if (!t)
        util_set_err(err, errsz, "out of memory");
    return t;
}

void ds_task_release(ds_dataset *ds, const ds_task *task)
{
    if (!ds || !task)
        return;
    sfile *sp = &ds->splits[task->split_index];
    row_slot *slot = NULL;
    pthread_mutex_lock(&ds->mu);
    row_slot **at = &sp->slots[task->index];
    ds_task *gone = --(*at)->refs == 0 ? (*at)->task : NULL;
    if (gone)
        (*at)->task = NULL;
    if (gone && !(*at)->holds) {
        slot = *at;
        *at = NULL;
    }
    pthread_mutex_unlock(&ds->mu);
    task_free(gone);                    /* the row's tree; the action is the slot's */
    slot_free(slot);
}

const grade_action *ds_expected_hold(ds_dataset *ds, const ds_task *task)
{
    pthread_mutex_lock(&ds->mu);
    ds->splits[task->split_index].slots[task->index]->holds++;
    pthread_mutex_unlock(&ds->mu);
    return task->expected;
}

void ds_expected_release(ds_dataset *ds, size_t split, size_t index)
{
    if (!ds || split >= ds->nsplits || index >= ds->splits[split].nrows)
        return;
    row_slot *slot = NULL;
    pthread_mutex_lock(&ds->mu);
    row_slot **slots = ds->splits[split].slots;
    if (slots && slots[index] && --slots[index]->holds == 0 && !slots[index]->refs) {
        slot = slots[index];
        slots[index] = NULL;
    }
    pthread_mutex_unlock(&ds->mu);
    slot_free(slot);
}

/* ---- guarded reads for other modules ------------------------------------- */

int ds_rows_visit(const ds_dataset *ds, size_t split, size_t start, size_t stop,
                  ds_row_visit_fn fn, void *ctx, char *err, size_t errsz)
{
    if (split >= ds->nsplits || start > stop || stop > ds->splits[split].nrows) {
        util_set_err(err, errsz, "no rows %zu-%zu in split %zu", start, stop, split);
        return -1;
    }
    const sfile *sp = &ds->splits[split];
    if (file_changed(sp)) {
        set_changed_err(sp, err, errsz);
        return -1;
    }
    sigjmp_buf jb;
    if (sigsetjmp(jb, 0)) {
        guard_jump = NULL;
        set_changed_err(sp, err, errsz);
        return -1;
    }
    guard_jump = &jb;
    int rc = 0;
    for (size_t i = start; rc == 0 && i < stop; i++)
        rc = fn(ctx, i, sp->data + sp->rows[i].off, sp->rows[i].len);
    guard_jump = NULL;
    if (rc == 0 && file_changed(sp)) {     /* rewritten while being read */
        set_changed_err(sp, err, errsz);
        rc = -1;
    }
    return rc;
}

bool ds_validated(const ds_dataset *ds)
{
    return ds->validated;
}

bool ds_split_changed(const ds_dataset *ds, size_t split, char *what, size_t whatsz)
{
    if (split >= ds->nsplits || !file_changed(&ds->splits[split]))
        return false;
    const sfile *sp = &ds->splits[split];
    struct stat st;
    if (!what || !whatsz)
        return true;
    if (fstat(sp->fd, &st) != 0)
        util_set_err(what, whatsz, "cannot be checked: %s", strerror(errno));
    else if ((size_t)st.st_size != sp->size)
        util_set_err(what, whatsz, "size %zu -> %zu bytes (%s)", sp->size, (size_t)st.st_size,
                     (size_t)st.st_size < sp->size ? "truncated" : "grown");
    else
        util_set_err(what, whatsz, "modification time changed, size %zu bytes (rewritten)",
                     sp->size);
    return true;
}

int ds_task_find(const ds_dataset *ds, const char *id, size_t *split, size_t *index)
{
    const char *dash = id ? strrchr(id, '-') : NULL;
    if (!dash || dash == id || !dash[1])
        return -1;
    const char *d = dash + 1;
    if (strspn(d, "0123456789") != strlen(d) || (d[0] == '0' && d[1]) ||
        strlen(d) > TASK_INDEX_DIGITS_MAX)
        return -1;
    size_t n = (size_t)(dash - id);
    for (size_t i = 0; i < ds->nsplits; i++) {
        const char *name = ds->splits[i].name;
        if (strlen(name) != n || memcmp(name, id, n))
            continue;
        size_t ix = (size_t)strtoull(d, NULL, 10);
        if (ix >= ds->splits[i].nrows)
            return -1;
        *split = i;
        *index = ix;
        return 0;
    }
    return -1;
}
