/* cli_grade — `fcpivot grade`: grade NeMo Gym verify requests (JSONL) the
 * way NeMo Gym's single_step_tool_use_with_argument_comparison does.
 *
 * How it works: input lines are read in batches (up to BATCH_LINES lines or
 * BATCH_BYTES bytes; a single line may be arbitrarily long). With --jobs 1 a
 * batch is graded and written in turn. With --jobs N the main thread reads
 * batches into a ring of slots, N workers grade them, and a writer thread
 * emits them strictly in input order, so output order never depends on
 * scheduling. Each output line is built in the batch's own buffer.
 *
 * Copies are avoided where they can be: a regular file is mapped into memory
 * whole, and a batch then just points at its lines there; so does a batch
 * graded with --jobs 1, whose lines stay put in the read buffer until the
 * next batch is read (only a batch's first line may make the reader read).
 * With --jobs 1 a mapped file's lines are not even searched for first: each
 * is graded where it lies by verify_line, which finds its end as it checks
 * it, so a line's bytes are read from memory once.
 * A batch of a pipe read by --jobs N copies its lines, as the reader moves
 * on while it is graded. (A mapped file must not shrink while it is graded:
 * another process truncating it then would fault the reads of its tail.)
 *
 * Each line is graded by verify_text: validated completely, but only its
 * response's output and expected_action are built, since the rest of a
 * request (conversation, tool definitions) is usually most of its bytes.
 *
 * Output per input line: by default the input object itself with "reward"
 * and "category" set, spliced into the original text by verify_text (every
 * other byte kept). With --verdict-only just the verdict. Invalid lines
 * become {"line": N, "error": "..."} plus a stderr message.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli.h"
#include "cli_common.h"
#include "grade.h"
#include "util.h"
#include "verify.h"

#define BATCH_LINES 512
#define BATCH_FIRST_LINES 64            /* a batch's line arrays start with room for these */
#define BATCH_BYTES (1u << 20)
#define READ_ROOM (1u << 16)            /* free room made before each read of a pipe */
#define MAX_JOBS 256
#define DEFAULT_JOBS 1
#define MAP_POPULATE_MAX (256u << 20)   /* input files up to this are prefaulted */

typedef struct grade_opts {
    grade_config cfg;
    bool verdict_only, summary;
    int jobs;
    const char *path;   /* NULL or "-" = stdin */
} grade_opts;

typedef struct stats {
    size_t rows, invalid;
    double reward_sum;
    size_t count[GRADE_CATEGORY_COUNT];
    int write_errno;        /* why writing the verdicts failed, or 0 */
} stats;

/* ---- options ------------------------------------------------------------ */

static void usage(FILE *out)
{
    fprintf(out,
        "usage: fcpivot grade [options] [FILE]\n"
        "\n"
        "Grades NeMo Gym verify requests, one JSON object per line, from FILE or stdin\n"
        "({\"responses_create_params\": ..., \"response\": ..., \"expected_action\": ...}),\n"
        "exactly as NeMo Gym's single_step_tool_use_with_argument_comparison does.\n"
        "Writes one line per input line, in order: the input object with \"reward\" and\n"
        "\"category\" set, or {\"reward\": ..., \"category\": ...} with --verdict-only. An\n"
        "invalid line gives {\"line\": N, \"error\": \"...\"} and a message on stderr.\n"
        "Blank lines are skipped.\n"
        "\n"
        "options:\n"
        "%s"
        "  --verdict-only                  print only {\"reward\", \"category\"}\n"
        "  --summary                       print rows, mean reward and categories to stderr\n"
        "  --jobs N                        grade with N threads, order kept (default %d)\n"
        "  -h, --help                      this help\n"
        "\n"
        "exit status: 0 all lines graded, 1 some line invalid, 2 usage error.\n",
        CLI_GRADING_HELP, DEFAULT_JOBS);
}

enum { OPT_VERDICT_ONLY = 256, OPT_SUMMARY, OPT_JOBS };

static const struct option LONG_OPTS[] = {
    {"verdict-only", no_argument, NULL, OPT_VERDICT_ONLY},
    {"summary", no_argument, NULL, OPT_SUMMARY},
    {"jobs", required_argument, NULL, OPT_JOBS},
    {"help", no_argument, NULL, 'h'},
    CLI_GRADING_OPTIONS,
    {NULL, 0, NULL, 0},
};

/* Applies option opt (a LONG_OPTS value) with its value. */
static int apply_option(int opt, const char *val, grade_opts *o)
{
    char why[256];
    unsigned long n;
    switch (opt) {
    case 'h':
        usage(stdout);
        return CLI_ARGS_HELP;
    case OPT_VERDICT_ONLY: o->verdict_only = true; return CLI_ARGS_OK;
    case OPT_SUMMARY: o->summary = true; return CLI_ARGS_OK;
    case OPT_JOBS:
        if (cli_parse_uint(val, MAX_JOBS, &n) || n < 1)
            return cli_usage_error("grade", "bad --jobs '%s' (1 to %d)", val, MAX_JOBS);
        o->jobs = (int)n;
        return CLI_ARGS_OK;
    default:
        if (cli_grading_option_apply(opt, val, &o->cfg, why, sizeof why))
            return cli_usage_error("grade", "%s", why);
        return CLI_ARGS_OK;
    }
}

/* The options of argv, then at most one FILE (cli_common.h's convention). */
static int parse_options(int argc, char **argv, grade_opts *o)
{
    grade_config_default(&o->cfg);
    o->verdict_only = o->summary = false;
    o->jobs = DEFAULT_JOBS;
    o->path = NULL;
    optind = 0;   /* a fresh scan (glibc) */
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":h", LONG_OPTS, NULL)) != -1) {
        char why[256];
        if (opt == '?' || opt == ':') {
            cli_getopt_why(opt, argv, why, sizeof why);
            return cli_usage_error("grade", "%s", why);
        }
        int rc = apply_option(opt, optarg, o);
        if (rc != CLI_ARGS_OK)
            return rc;
    }
    if (optind < argc)
        o->path = argv[optind];
    if (optind + 1 < argc)
        return cli_usage_error("grade", "more than one input file ('%s')", argv[optind + 1]);
    return CLI_ARGS_OK;
}

/* ---- grading one line ---------------------------------------------------- */

static void line_error(util_buf *out, util_buf *err, size_t lineno, const char *why)
{
    util_buf_printf(out, "{\"line\": %zu, \"error\": ", lineno);
    util_buf_json_string(out, why, strlen(why));
    util_buf_puts(out, "}\n");
    util_buf_printf(err, "fcpivot grade: line %zu: %s\n", lineno, why);
}

static size_t skip_ws(const char *s, size_t i, size_t n)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

static bool is_blank(const char *s, size_t n)
{
    return skip_ws(s, 0, n) == n;
}

/* Puts the verdict of a line graded by verify (rc, *v, why) into out after
 * mark, or its error in place of whatever verify left there. */
static void put_verdict(const grade_opts *o, int rc, const grade_verdict *v, const char *why,
                        size_t mark, size_t lineno, util_buf *out, util_buf *err, stats *st)
{
    if (rc == VERIFY_OK && o->verdict_only) {
        char rtext[32];
        size_t rlen = grade_reward_repr(v->reward, rtext, sizeof rtext);
        const char *cat = grade_category_text(v->category);
        if (util_buf_puts(out, "{\"reward\": ") || util_buf_append(out, rtext, rlen) ||
            util_buf_puts(out, ", \"category\": ") ||
            util_buf_json_string(out, cat, strlen(cat)) || util_buf_putc(out, '}'))
            rc = VERIFY_NOMEM;
    }
    if (rc == VERIFY_OK && util_buf_putc(out, '\n'))
        rc = VERIFY_NOMEM;
    if (rc != VERIFY_OK) {
        out->len = mark;
        st->invalid++;
        line_error(out, err, lineno, rc == VERIFY_INVALID ? why : "out of memory");
        return;
    }
    st->rows++;
    st->reward_sum += v->reward;
    st->count[v->category]++;
}

static void grade_line(const grade_opts *o, const char *s, size_t n, size_t lineno,
                       util_buf *out, util_buf *err, stats *st)
{
    char why[512];
    grade_verdict v;
    size_t mark = out->len;
    int rc = verify_text(&o->cfg, s, n, VERIFY_SPACED, o->verdict_only ? NULL : out, &v, why,
                         sizeof why);
    put_verdict(o, rc, &v, why, mark, lineno, out, err, st);
}

/* ---- batches and the line reader ------------------------------------------ */

typedef struct batch {
    bool borrow;                 /* lines point into the reader's buffer */
    util_buf in;                 /* the batch's lines, concatenated (not borrow) */
    const char **at;             /* per line: where it is (borrow) */
    size_t *off, *len, *lineno;  /* per line: offset in in (not borrow) */
    size_t n, cap, bytes;
    util_buf out, err;
    stats st;
    int state;                   /* pipeline: FREE, READY, DONE */
} batch;

enum { FREE, READY, DONE };

typedef struct reader {
    int fd;
    util_buf win;                /* the read window (not mapped) */
    const char *buf;             /* the bytes: win.data, or the mapped file */
    size_t start, end;           /* buf[start..end) is not yet returned */
    size_t map_len;              /* bytes mapped (mapped) */
    size_t lineno;
    bool eof, failed, mapped;
    int err_no;             /* why reading failed */
} reader;

enum { LINE_OK, LINE_EOF, LINE_WOULD_READ };

/* The next line (without its newline) in *line and *len, valid until the next
 * call. LINE_EOF at the end of input; LINE_WOULD_READ when no complete line
 * is buffered and block is false (so a slow producer's lines are graded as
 * they come instead of waiting for a full batch). */
static int read_line(reader *r, const char **line, size_t *len, bool block)
{
    size_t scan = r->start;
    for (;;) {
        char *nl = r->buf ? memchr(r->buf + scan, '\n', r->end - scan) : NULL;
        if (nl) {
            *line = r->buf + r->start;
            *len = (size_t)(nl - (r->buf + r->start));
            r->start = (size_t)(nl - r->buf) + 1;
            r->lineno++;
            return LINE_OK;
        }
        if (r->eof) {
            if (r->start == r->end)
                return LINE_EOF;
            *line = r->buf + r->start;
            *len = r->end - r->start;
            r->start = r->end;
            r->lineno++;
            return LINE_OK;
        }
        if (!block)
            return LINE_WOULD_READ;
        /* Compact, grow if needed, read more. */
        scan = r->end - r->start;
        util_buf_consume(&r->win, r->start);
        r->start = 0;
        r->end = r->win.len;             /* the window moved: keep buf[start..end) its bytes */
        r->buf = r->win.data;
        if (util_buf_reserve(&r->win, READ_ROOM) != 0) {
            r->failed = r->eof = true;
            r->err_no = ENOMEM;
            continue;
        }
        util_buf *w = &r->win;
        ssize_t got = read(r->fd, w->data + w->len, w->cap - w->len - 1);   /* room for the NUL */
        if (got > 0) {
            w->len += (size_t)got;
            w->data[w->len] = '\0';
        } else if (got < 0 && errno != EINTR) {
            r->failed = true;
            r->err_no = errno;
        }
        r->eof = got == 0 || (got < 0 && errno != EINTR);
        r->buf = w->data;
        r->end = w->len;
    }
}

static bool batch_push(batch *b, const char *line, size_t len, size_t lineno)
{
    if (b->n == b->cap) {
        /* four arrays of one capacity: each grows to the same new size */
        size_t cap = b->cap, c1 = cap, c2 = cap, c3 = cap, need = b->n + 1;
        if (util_grow(&b->off, &cap, need, sizeof *b->off, BATCH_FIRST_LINES) ||
            util_grow(&b->len, &c1, need, sizeof *b->len, BATCH_FIRST_LINES) ||
            util_grow(&b->lineno, &c2, need, sizeof *b->lineno, BATCH_FIRST_LINES) ||
            util_grow(&b->at, &c3, need, sizeof *b->at, BATCH_FIRST_LINES))
            return false;
        b->cap = cap;
    }
    b->off[b->n] = b->in.len;
    b->at[b->n] = line;
    b->len[b->n] = len;
    b->lineno[b->n] = lineno;
    if (!b->borrow && util_buf_append(&b->in, line, len))
        return false;
    b->bytes += len;
    b->n++;
    return true;
}

/* Fills b with the next lines (blank lines skipped); false when there are
 * none left. */
static bool batch_fill(batch *b, reader *r)
{
    b->n = b->bytes = 0;
    b->in.len = 0;
    const char *line;
    size_t len;
    while (b->n < BATCH_LINES && b->bytes < BATCH_BYTES &&
           read_line(r, &line, &len, b->n == 0) == LINE_OK) {
        if (is_blank(line, len))
            continue;
        if (!batch_push(b, line, len, r->lineno)) {
            r->failed = r->eof = true;
            r->err_no = ENOMEM;
            break;
        }
    }
    return b->n > 0;
}

static void batch_reset_output(batch *b)
{
    b->out.len = 0;
    b->err.len = 0;
    memset(&b->st, 0, sizeof b->st);
}

static void batch_grade(const grade_opts *o, batch *b)
{
    batch_reset_output(b);
    for (size_t i = 0; i < b->n; i++)
        grade_line(o, b->borrow ? b->at[i] : b->in.data + b->off[i], b->len[i], b->lineno[i],
                   &b->out, &b->err, &b->st);
}

/* The next line of a mapped file, graded where it lies by verify_line: a
 * valid line's bytes are read once, as they are checked, with no search for
 * its end first. A blank line is skipped. */
static void grade_mapped_line(const grade_opts *o, reader *r, batch *b)
{
    const char *s = r->buf + r->start;
    size_t avail = r->end - r->start, n, mark = b->out.len;
    char why[512];
    grade_verdict v;
    int rc = verify_line(&o->cfg, s, avail, VERIFY_SPACED, o->verdict_only ? NULL : &b->out, &v,
                         &n, why, sizeof why);
    r->start += n < avail ? n + 1 : n;   /* past its '\n' */
    r->lineno++;
    if (rc != VERIFY_OK && is_blank(s, n)) {
        b->out.len = mark;
        return;
    }
    put_verdict(o, rc, &v, why, mark, r->lineno, &b->out, &b->err, &b->st);
    b->n++;
    b->bytes += n;
}

/* batch_fill and batch_grade in one go for a mapped file (grade_mapped_line);
 * false when no lines are left. */
static bool batch_grade_mapped(const grade_opts *o, batch *b, reader *r)
{
    batch_reset_output(b);
    b->n = b->bytes = 0;
    while (b->n < BATCH_LINES && b->bytes < BATCH_BYTES && r->start < r->end)
        grade_mapped_line(o, r, b);
    return b->n > 0;
}

/* The next batch of lines, graded: false when none are left. */
static bool batch_next(const grade_opts *o, batch *b, reader *r)
{
    if (r->mapped)
        return batch_grade_mapped(o, b, r);
    if (!batch_fill(b, r))
        return false;
    batch_grade(o, b);
    return true;
}

static bool batch_write(batch *b, stats *total)
{
    if (b->err.len)
        fwrite(b->err.data, 1, b->err.len, stderr);
    /* Flushed per batch: a streaming consumer sees verdicts as they come. */
    if ((b->out.len && fwrite(b->out.data, 1, b->out.len, stdout) != b->out.len) ||
        fflush(stdout) != 0) {
        total->write_errno = errno ? errno : EIO;
        return false;
    }
    total->rows += b->st.rows;
    total->invalid += b->st.invalid;
    total->reward_sum += b->st.reward_sum;
    for (int c = 0; c < GRADE_CATEGORY_COUNT; c++)
        total->count[c] += b->st.count[c];
    return true;
}

static void batch_free(batch *b)
{
    util_buf_free(&b->in);
    util_buf_free(&b->out);
    util_buf_free(&b->err);
    free(b->off);
    free(b->at);
    free(b->len);
    free(b->lineno);
}

/* ---- sequential and parallel drivers -------------------------------------- */

static bool run_sequential(const grade_opts *o, reader *r, stats *total)
{
    batch b;
    memset(&b, 0, sizeof b);
    b.borrow = true;   /* graded before the reader moves */
    bool ok = true;
    while (ok && batch_next(o, &b, r))
        ok = batch_write(&b, total);
    batch_free(&b);
    return ok;
}

typedef struct pipeline {
    const grade_opts *o;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    batch *slots;
    size_t nslots;
    size_t filled, taken, written;   /* batch sequence counters */
    bool eof, write_failed;
    stats *total;
} pipeline;

static void *worker_main(void *arg)
{
    pipeline *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->taken == p->filled && !p->eof)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->taken == p->filled)
            break;
        batch *b = &p->slots[p->taken++ % p->nslots];
        pthread_mutex_unlock(&p->mu);
        batch_grade(p->o, b);
        pthread_mutex_lock(&p->mu);
        b->state = DONE;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void *writer_main(void *arg)
{
    pipeline *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        batch *b = &p->slots[p->written % p->nslots];
        while (!(p->written < p->filled && b->state == DONE) &&
               !(p->eof && p->written == p->filled))
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->written == p->filled)
            break;
        pthread_mutex_unlock(&p->mu);
        bool ok = p->write_failed ? false : batch_write(b, p->total);
        pthread_mutex_lock(&p->mu);
        if (!ok)
            p->write_failed = true;
        b->state = FREE;
        p->written++;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Marks the input read and waits for the started workers and the writer
 * (NULL: none started). */
static void pipeline_end(pipeline *p, pthread_t *workers, int started, pthread_t *writer)
{
    pthread_mutex_lock(&p->mu);
    p->eof = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < started; i++)
        pthread_join(workers[i], NULL);
    if (writer)
        pthread_join(*writer, NULL);
}

static bool run_parallel(const grade_opts *o, reader *r, stats *total)
{
    pipeline p;
    memset(&p, 0, sizeof p);
    p.o = o;
    p.total = total;
    p.nslots = (size_t)o->jobs * 2 + 2;
    p.slots = calloc(p.nslots, sizeof *p.slots);
    pthread_t *workers = calloc((size_t)o->jobs, sizeof *workers);
    pthread_t writer;
    for (size_t i = 0; p.slots && i < p.nslots; i++)
        p.slots[i].borrow = r->mapped;   /* a mapped file never moves */
    if (!p.slots || !workers) {
        free(p.slots);
        free(workers);
        return run_sequential(o, r, total);
    }
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    int started = 0;
    for (; started < o->jobs; started++)
        if (pthread_create(&workers[started], NULL, worker_main, &p))
            break;
    bool have_writer = pthread_create(&writer, NULL, writer_main, &p) == 0;
    if (!started || !have_writer) {
        /* No threads: finish in this thread. */
        pipeline_end(&p, workers, started, have_writer ? &writer : NULL);
        free(workers);
        free(p.slots);
        return run_sequential(o, r, total);
    }
    for (;;) {
        pthread_mutex_lock(&p.mu);
        batch *b = &p.slots[p.filled % p.nslots];
        while (b->state != FREE && !p.write_failed)
            pthread_cond_wait(&p.cv, &p.mu);
        bool stop = p.write_failed;
        pthread_mutex_unlock(&p.mu);
        if (stop || !batch_fill(b, r))
            break;
        pthread_mutex_lock(&p.mu);
        b->state = READY;
        p.filled++;
        pthread_cond_broadcast(&p.cv);
        pthread_mutex_unlock(&p.mu);
    }
    pipeline_end(&p, workers, started, &writer);
    bool ok = !p.write_failed;
    for (size_t i = 0; i < p.nslots; i++)
        batch_free(&p.slots[i]);
    free(p.slots);
    free(workers);
    pthread_cond_destroy(&p.cv);
    pthread_mutex_destroy(&p.mu);
    return ok;
}

/* Maps a regular, non-empty input file whole as the reader's buffer (at its
 * end already); otherwise leaves the reader to read(). */
static void reader_map(reader *r)
{
    struct stat st;
    if (fstat(r->fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0)
        return;
    /* prefaulted in one go when small enough to be sure to fit in memory */
    int populate = (uint64_t)st.st_size <= MAP_POPULATE_MAX ? MAP_POPULATE : 0;
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | populate, r->fd, 0);
    if (m == MAP_FAILED)
        return;
    madvise(m, (size_t)st.st_size, MADV_SEQUENTIAL);
    r->buf = m;
    r->end = r->map_len = (size_t)st.st_size;
    r->eof = r->mapped = true;
}

static void reader_free(reader *r)
{
    if (r->mapped)
        munmap((void *)r->buf, r->map_len);
    util_buf_free(&r->win);
}

static void print_summary(const stats *t)
{
    fprintf(stderr, "fcpivot grade: %zu rows graded, %zu invalid lines, mean reward %.6f\n",
            t->rows, t->invalid, t->rows ? t->reward_sum / (double)t->rows : 0.0);
    for (int c = 0; c < GRADE_CATEGORY_COUNT; c++)
        if (t->count[c])
            fprintf(stderr, "  %8zu  %-38s %s\n", t->count[c],
                    grade_category_name((grade_category)c),
                    grade_category_text((grade_category)c));
}

/* How messages name the input. */
static const char *input_name(const char *path)
{
    return path && strcmp(path, "-") ? path : "standard input";
}

int cli_grade(int argc, char **argv)
{
    grade_opts o;
    int rc = parse_options(argc, argv, &o);
    if (rc != CLI_ARGS_OK)
        return cli_args_exit(rc);
    reader r;
    memset(&r, 0, sizeof r);
    r.fd = 0;
    if (o.path && strcmp(o.path, "-")) {
        r.fd = open(o.path, O_RDONLY);
        if (r.fd < 0) {
            fprintf(stderr, "fcpivot grade: cannot open %s: %s\n", o.path, strerror(errno));
            return 2;
        }
    }
    reader_map(&r);
    stats total;
    memset(&total, 0, sizeof total);
    bool ok = o.jobs > 1 ? run_parallel(&o, &r, &total) : run_sequential(&o, &r, &total);
    if (ok && fflush(stdout) != 0) {
        total.write_errno = errno ? errno : EIO;
        ok = false;
    }
    if (r.fd != 0)
        close(r.fd);
    reader_free(&r);
    if (r.failed)
        fprintf(stderr, "fcpivot grade: cannot read %s: %s\n", input_name(o.path),
                strerror(r.err_no ? r.err_no : EIO));
    if (!ok && total.write_errno) {
        fprintf(stderr, "fcpivot grade: cannot write standard output: %s\n",
                strerror(total.write_errno));
        clearerr(stdout);   /* reported: main need not say it again */
    }
    if (o.summary)
        print_summary(&total);
    return ok && !r.failed && total.invalid == 0 ? 0 : 1;
}
