/* cli_eval — `fcpivot eval`: run a model on the dataset through an
 * OpenAI-compatible endpoint and write NeMo Gym's files (docs/eval.md).
 *
 * How it works: the options are parsed by cli_eval_opts; the dataset is opened and validated (ds), the rows are
 * selected (--rows, --sample, --limit) and every (row, repeat) pair gets a
 * plan position p (row = selection[p / K], repeat = p % K, so positions are
 * in (_ng_task_index, _ng_rollout_index) order). With --resume the manifest
 * (m_run.json) must match, the rollouts file is scanned (a torn last line
 * cut off) and its positions marked done, and failures that may be retried
 * are dropped from the failures file. The materialized inputs are written,
 * the endpoint is checked (GET /models), then cli_eval_run sends one request
 * per open position: the row's responses_create_params with the overrides
 * applied (cli_eval_roll), converted for the API (conv). Each reply is
 * converted back to a Responses object, graded in-process by verify_text
 * (cli_eval_roll) and appended as one line; failures go to the failures
 * file. At a complete end the rollouts file is rewritten in plan order.
 * Aggregate metrics (agg) and the summary (summary) are computed from the files, the
 * manifest is rewritten with the final status, and the exit status says
 * what happened (§5).
 *
 * Only signal handling uses global state (the count of SIGINT/SIGTERM).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "cli_common.h"
#include "cli_eval_opts.h"
#include "cli_eval_out.h"
#include "cli_eval_roll.h"
#include "cli_eval_run.h"
#include "agg.h"
#include "conv.h"
#include "ds.h"
#include "jtext.h"
#include "summary.h"
#include "util.h"

#define PROGRESS_LINE_S 10.0   /* without a terminal: one line this often */
#define PROGRESS_BAR_S 0.25
#define ISSUES_SHOWN 20
#define FIRST_FAILS 64         /* failure records start with room for these */

/* ---- signals ----------------------------------------------------------------------------------- */

static volatile sig_atomic_t g_signals;
static volatile sig_atomic_t g_first_signal;

static void on_signal(int sig)
{
    if (!g_first_signal)
        g_first_signal = sig;
    if (g_signals < 2)
        g_signals++;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* ---- the plan ------------------------------------------------------------------------------------ */

enum { ST_TODO, ST_GRADED, ST_FAILED_KEPT, ST_FAILED };

typedef struct fail_rec {
    size_t pos;
    uint64_t off;
    uint32_t len;
} fail_rec;

typedef struct ev_run {
    evopt *o;
    ds_dataset *ds;
    evout_paths paths;
    size_t nrows;            /* rows served by the dataset */
    size_t *sel;             /* selected row indices, ascending */
    size_t nsel;
    long *pos_of_row;        /* selection position of a row, -1 if not selected */
    size_t planned;          /* nsel × repeats */
    uint8_t *state;          /* per plan position */
    uint8_t *prior;          /* attempts in earlier runs (failures retried) */
    uint64_t *off;           /* at a complete end: rollouts file offset per position */
    uint32_t *len;           /* and line length (0: none) */
    fail_rec *fails;
    size_t nfails, capfails; /* failures on record: kept from earlier runs + this run's */
    size_t cursor;           /* next plan position to look at */
    size_t graded, failed, overflowed;
    double reward_sum;
    size_t fail_limit;
    evout_file rollouts, failures;
    bool io_error;
    char io_msg[512];
    const char *model;
    char *model_owned;
    char sha256[65];
    uint64_t data_bytes;
    char started_at[32];
    /* progress */
    bool tty;
    double t0, last_print;
    size_t done_at_start;    /* graded or kept failed by earlier runs */
    size_t graded_at_start;  /* graded by earlier runs (their rewards are in reward_sum) */
    util_buf line, scratch;
} ev_run;

static size_t slice_bound(const char *s, size_t dflt, size_t n, bool *ok)
{
    while (*s == ' ')
        s++;
    if (!*s)
        return dflt;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    while (*end == ' ')
        end++;
    if (*end || errno) {
        *ok = false;
        return 0;
    }
    long long len = (long long)n;
    if (v < 0)
        v = v + len < 0 ? 0 : v + len;
    return v > len ? n : (size_t)v;
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* --rows, then --sample, then --limit. */
static int select_rows(ev_run *r, char *err, size_t errsz)
{
    size_t start = 0, stop = r->nrows;
    if (r->o->rows) {
        bool ok = true;
        const char *colon = strchr(r->o->rows, ':');
        char a[64];
        size_t alen = (size_t)(colon - r->o->rows);
        if (alen >= sizeof a)
            ok = false;
        else {
            memcpy(a, r->o->rows, alen);
            a[alen] = '\0';
            start = slice_bound(a, 0, r->nrows, &ok);
            stop = slice_bound(colon + 1, r->nrows, r->nrows, &ok);
        }
        if (!ok || strchr(colon + 1, ':')) {
            snprintf(err, errsz, "bad --rows '%s' (A:B, Python slice)", r->o->rows);
            return -1;
        }
    }
    size_t n = stop > start ? stop - start : 0;
    r->sel = malloc((n ? n : 1) * sizeof *r->sel);
    r->pos_of_row = malloc((r->nrows ? r->nrows : 1) * sizeof *r->pos_of_row);
    if (!r->sel || !r->pos_of_row) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        r->sel[i] = start + i;
    if (r->o->sample >= 0 && (size_t)r->o->sample < n) {
        uint64_t x = r->o->seed;
        size_t k = (size_t)r->o->sample;
        for (size_t i = 0; i < k; i++) {   /* partial Fisher-Yates */
            size_t j = i + (size_t)(splitmix64(&x) % (n - i));
            size_t t = r->sel[i];
            r->sel[i] = r->sel[j];
            r->sel[j] = t;
        }
        n = k;
        qsort(r->sel, n, sizeof *r->sel, cmp_size);
    }
    if (r->o->limit >= 0 && (size_t)r->o->limit < n)
        n = (size_t)r->o->limit;
    r->nsel = n;
    for (size_t i = 0; i < r->nrows; i++)
        r->pos_of_row[i] = -1;
    for (size_t i = 0; i < n; i++)
        r->pos_of_row[r->sel[i]] = (long)i;
    r->planned = n * (size_t)r->o->repeats;
    r->state = calloc(r->planned ? r->planned : 1, 1);
    r->prior = calloc(r->planned ? r->planned : 1, 1);
    if (!r->state || !r->prior) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    r->fail_limit = r->o->max_failures_pct
                        ? (size_t)ceil(r->o->max_failures * (double)r->planned / 100.0)
                        : (size_t)r->o->max_failures;
    if (r->fail_limit < 1)
        r->fail_limit = 1;
    return 0;
}

static size_t pos_task(const ev_run *r, size_t pos)
{
    return r->sel[pos / (size_t)r->o->repeats];
}

static long pos_repeat(const ev_run *r, size_t pos)
{
    return (long)(pos % (size_t)r->o->repeats);
}

/* The plan position of (task, repeat), or -1. */
static long pos_of(const ev_run *r, long long task, long long repeat)
{
    if (task < 0 || (size_t)task >= r->nrows || repeat < 0 || repeat >= r->o->repeats)
        return -1;
    long s = r->pos_of_row[task];
    return s < 0 ? -1 : s * r->o->repeats + (long)repeat;
}

/* Positions graded and failed (this run or kept from earlier ones); the
 * rest were not run. */
typedef struct tally {
    size_t graded, failed, not_run;
} tally;

static tally count_states(const ev_run *r)
{
    tally t = {0, 0, 0};
    for (size_t p = 0; p < r->planned; p++) {
        t.graded += r->state[p] == ST_GRADED;
        t.failed += r->state[p] == ST_FAILED || r->state[p] == ST_FAILED_KEPT;
    }
    t.not_run = r->planned - t.graded - t.failed;
    return t;
}

/* ---- per-rollout text ------------------------------------------------------------------------------ */

typedef struct rowtext {
    const char *text;
    size_t len, line;
    evroll_row row;
} rowtext;

static int get_row(ev_run *r, size_t pos, rowtext *rt, char *err, size_t errsz)
{
    rt->text = ds_row_text(r->ds, 0, pos_task(r, pos), &rt->len, &rt->line);
    if (!rt->text) {
        snprintf(err, errsz, "row %zu is out of range", pos_task(r, pos));
        return -1;
    }
    return evroll_row_parse(rt->text, rt->len, &rt->row, err, errsz);
}

/* The overridden params of the row at pos into out (cleared first). */
static int row_params(ev_run *r, const rowtext *rt, util_buf *out, char *err, size_t errsz)
{
    out->len = 0;
    return evroll_apply(&r->o->ov, rt->row.params.p, rt->row.params.len, out, err, errsz);
}

static uint64_t rollout_seed(size_t task, long repeat)
{
    uint64_t x = (uint64_t)task * 0x100000001B3ull ^ ((uint64_t)repeat << 40) ^ 0xFC01D0Aull;
    return splitmix64(&x);
}

static void request_opts(const ev_run *r, long repeat, conv_request_opts *c)
{
    memset(c, 0, sizeof *c);
    c->model = r->model;
    c->reasoning = r->o->reasoning;
    c->developer_as_system = r->o->developer_as_system;
    c->extra_body = r->o->extra_body;
    c->chat_template_kwargs = r->o->chat_template_kwargs;
    c->has_seed = r->o->seed_per_repeat;
    c->seed = repeat;
}

static int build_body(ev_run *r, size_t pos, util_buf *body, char *err, size_t errsz)
{
    rowtext rt;
    if (get_row(r, pos, &rt, err, errsz) || row_params(r, &rt, &r->scratch, err, errsz))
        return CONV_INVALID;
    conv_request_opts c;
    request_opts(r, pos_repeat(r, pos), &c);
    if (r->o->api == EVOPT_API_CHAT)
        return conv_chat_request(r->scratch.data, r->scratch.len, &c, body, NULL, err, errsz);
    return conv_responses_request(r->scratch.data, r->scratch.len, &c, body, err, errsz);
}

/* ---- recording outcomes ---------------------------------------------------------------------------- */

static void io_fail(ev_run *r, const char *why)
{
    if (!r->io_error)
        snprintf(r->io_msg, sizeof r->io_msg, "%s", why);
    r->io_error = true;
}

/* Appends a failure record; -1 when out of memory. */
static int add_fail(ev_run *r, fail_rec f)
{
    if (util_grow(&r->fails, &r->capfails, r->nfails + 1, sizeof *r->fails, FIRST_FAILS))
        return -1;
    r->fails[r->nfails++] = f;
    return 0;
}

static void record_failure(ev_run *r, size_t pos, const rowtext *rt, const evroll_failure *f)
{
    r->line.len = 0;
    char why[512];
    uint64_t off;
    if (evroll_failure_line(rt ? &rt->row : NULL, f, &r->line)) {
        io_fail(r, "out of memory");
        return;
    }
    if (evout_append(&r->failures, r->line.data, r->line.len, &off, why, sizeof why)) {
        io_fail(r, why);
        return;
    }
    if (add_fail(r, (fail_rec){pos, off, (uint32_t)(r->line.len - 1)})) {
        io_fail(r, "out of memory");
        return;
    }
    r->state[pos] = ST_FAILED;
    r->failed++;
}

static void fail_pos(ev_run *r, size_t pos, const char *error, long status, const char *message,
                     const char *body, size_t blen, unsigned attempts, double ms)
{
    rowtext rt;
    char why[256];
    bool have_row = get_row(r, pos, &rt, why, sizeof why) == 0;
    evroll_failure f = {(long)pos_task(r, pos), pos_repeat(r, pos), error, status, message,
                        body, blen, attempts, ms};
    record_failure(r, pos, have_row ? &rt : NULL, &f);
}

static void anomalies_json(unsigned bits, util_buf *out)
{
    util_buf_putc(out, '[');
    bool first = true;
    for (unsigned i = 0; i < 32; i++) {
        const char *name = (bits >> i) & 1 ? conv_anomaly_name(1u << i) : NULL;
        if (!name)
            continue;
        if (!first)
            util_buf_putc(out, ',');
        first = false;
        util_buf_json_string(out, name, strlen(name));
    }
    util_buf_putc(out, ']');
}

/* Converts (chat) or checks (responses) the reply, grades and writes it.
 * EVRUN_ACCEPT, or EVRUN_BAD_RESPONSE when it cannot be graded. */
static int record_reply(ev_run *r, size_t pos, const char *reply, size_t len,
                        const evrun_attempt *a, const char *forced_finish, int api)
{
    rowtext rt;
    char why[512];
    if (get_row(r, pos, &rt, why, sizeof why) || row_params(r, &rt, &r->scratch, why, sizeof why))
        return EVRUN_BAD_RESPONSE;
    util_buf resp = UTIL_BUF_INIT, anom = UTIL_BUF_INIT;
    conv_reply_info info;
    memset(&info, 0, sizeof info);
    const char *rtext = reply;
    size_t rlen = len;
    int rc;
    if (api == EVOPT_API_CHAT) {
        rc = conv_chat_reply(reply, len, r->scratch.data, r->scratch.len, r->model,
                             rollout_seed(pos_task(r, pos), pos_repeat(r, pos)),
                             (long long)util_now_real(), &resp, &info, why, sizeof why);
        rtext = resp.data;
        rlen = resp.len;
    } else {
        rc = conv_responses_reply(reply, len, &info, why, sizeof why);
    }
    if (rc == CONV_OK) {
        anomalies_json(info.anomalies, &anom);
        evroll_meta m = {(long)pos_task(r, pos), pos_repeat(r, pos), rt.line, a->attempts,
                         a->latency_ms, forced_finish ? forced_finish
                                       : info.finish_reason[0] ? info.finish_reason : NULL,
                         anom.data, anom.len};
        grade_verdict v;
        r->line.len = 0;
        rc = evroll_line(&r->o->cfg, &rt.row, r->scratch.data, r->scratch.len, rtext, rlen, &m,
                         &r->line, &v, why, sizeof why);
        if (rc == 0) {
            if (evout_append(&r->rollouts, r->line.data, r->line.len, NULL, why, sizeof why)) {
                io_fail(r, why);
            } else {
                r->state[pos] = ST_GRADED;
                r->graded++;
                r->reward_sum += v.reward;
            }
        }
    }
    util_buf_free(&resp);
    util_buf_free(&anom);
    return rc == 0 ? EVRUN_ACCEPT : EVRUN_BAD_RESPONSE;
}

/* ---- the engine's callbacks ------------------------------------------------------------------------- */

static long cb_next(void *ctx, util_buf *body, unsigned *prior)
{
    ev_run *r = ctx;
    while (r->cursor < r->planned) {
        size_t pos = r->cursor++;
        if (r->state[pos] != ST_TODO)
            continue;
        char why[512];
        int rc = build_body(r, pos, body, why, sizeof why);
        if (rc == CONV_OK) {
            *prior = r->prior[pos];
            return (long)pos;
        }
        body->len = 0;
        fail_pos(r, pos, "conversion", 0, rc == CONV_NOMEM ? "out of memory" : why, NULL, 0,
                 r->prior[pos], 0);
        if (r->io_error || r->nfails >= r->fail_limit)
            return -1;
    }
    return -1;
}

static int cb_reply(void *ctx, long id, const char *body, size_t len, const evrun_attempt *a)
{
    ev_run *r = ctx;
    return record_reply(r, (size_t)id, body, len, a, NULL, r->o->api);
}

static void cb_overflow(void *ctx, long id, const char *body, size_t len, const evrun_attempt *a)
{
    ev_run *r = ctx;
    size_t pos = (size_t)id;
    if (r->o->on_overflow == EVOPT_OVERFLOW_FAIL) {
        fail_pos(r, pos, "context_overflow", 400, "the prompt is longer than the model's context",
                 body, len, a->attempts, a->elapsed_ms);
        return;
    }
    /* As Gym does: an empty completion, graded. */
    static const char EMPTY_CHAT[] =
        "{\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":"
        "{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":\"stop\"}]}";
    int rc = record_reply(r, pos, EMPTY_CHAT, sizeof EMPTY_CHAT - 1, a, "context_overflow",
                          EVOPT_API_CHAT);
    if (rc == EVRUN_ACCEPT)
        r->overflowed++;
    else
        fail_pos(r, pos, "context_overflow", 400, "the prompt is longer than the model's context",
                 body, len, a->attempts, a->elapsed_ms);
}

static void cb_fail(void *ctx, long id, const evrun_failure *f)
{
    fail_pos(ctx, (size_t)id, f->error, f->http_status, f->message, f->body, f->body_len,
             f->attempts, f->elapsed_ms);
}

static bool cb_stop(void *ctx)
{
    ev_run *r = ctx;
    return r->io_error || r->nfails >= r->fail_limit;
}

static void print_progress(ev_run *r, const evrun_stats *st, bool final)
{
    double now = util_now_mono();
    if (r->o->quiet || (!final && now - r->last_print < (r->tty ? PROGRESS_BAR_S : PROGRESS_LINE_S)))
        return;
    if (final && !r->tty && r->last_print == 0)
        return;
    r->last_print = now;
    size_t done = r->graded + r->failed + r->done_at_start;
    double el = now - r->t0;
    double rate = el > 0 ? (double)(r->graded + r->failed) / el : 0;
    double eta = rate > 0 ? (double)(r->planned - done) / rate : 0;
    size_t graded = r->graded + r->graded_at_start;
    double mean = graded ? r->reward_sum / (double)graded : 0;
    if (r->tty) {
        int width = 24, fill = r->planned ? (int)((double)width * (double)done / (double)r->planned) : width;
        char bar[32];
        for (int i = 0; i < width; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[width] = '\0';
        fprintf(stderr, "\r[%s] %zu/%zu %.0f/s ETA %.0fs mean %.3f failed %zu in flight %zu\033[K",
                bar, done, r->planned, rate, eta, mean, r->failed, st->in_flight);
        if (final)
            fputc('\n', stderr);
    } else {
        fprintf(stderr, "fcpivot eval: %zu/%zu done, %.0f/s, ETA %.0fs, mean reward %.4f, %zu failed, %zu in flight\n",
                done, r->planned, rate, eta, mean, r->failed, st->in_flight);
    }
    fflush(stderr);
}

static void cb_progress(void *ctx, const evrun_stats *st)
{
    print_progress(ctx, st, false);
}

/* ---- the manifest (m_run.json) ------------------------------------------------------------------------ */

static const char *const HIST_NAMES[] = {"field", "think", "drop"};

static bool is_secret_header(const char *h)
{
    static const char *const WORDS[] = {"auth", "key", "token", "cookie", "secret"};
    size_t n = strcspn(h, ":");
    for (size_t i = 0; i < sizeof WORDS / sizeof WORDS[0]; i++)
        for (size_t k = 0; k + strlen(WORDS[i]) <= n; k++)
            if (!strncasecmp(h + k, WORDS[i], strlen(WORDS[i])))
                return true;
    return false;
}

/* argv with the key and secret header values replaced by "***". */
static void put_argv(util_buf *b, const evopt *o)
{
    util_buf_puts(b, "[\"fcpivot\"");
    for (int i = 0; i < o->argc; i++) {
        const char *a = o->argv[i];
        util_buf v = UTIL_BUF_INIT;
        const char *prev = i > 0 ? o->argv[i - 1] : "";
        if (!strcmp(prev, "--api-key"))
            util_buf_puts(&v, "***");
        else if (!strncmp(a, "--api-key=", 10))
            util_buf_puts(&v, "--api-key=***");
        else if (!strcmp(prev, "--header") && is_secret_header(a))
            util_buf_printf(&v, "%.*s: ***", (int)strcspn(a, ":"), a);
        else if (!strncmp(a, "--header=", 9) && is_secret_header(a + 9))
            util_buf_printf(&v, "--header=%.*s: ***", (int)strcspn(a + 9, ":"), a + 9);
        else
            util_buf_puts(&v, a);
        evrun_redact(&v, o->api_key);
        util_buf_putc(b, ',');
        util_buf_json_string(b, v.data ? v.data : "", v.len);
        util_buf_free(&v);
    }
    util_buf_putc(b, ']');
}

static void put_str_or_null(util_buf *b, const char *s)
{
    if (s)
        util_buf_json_string(b, s, strlen(s));
    else
        util_buf_puts(b, "null");
}

static void put_raw_or_null(util_buf *b, const char *s)
{
    util_buf_puts(b, s ? s : "null");
}

static void put_double(util_buf *b, double v)
{
    char t[32];
    util_float_repr(v, t, sizeof t);
    util_buf_puts(b, t);
}

static void put_long_or_null(util_buf *b, long v)
{
    if (v >= 0)
        util_buf_printf(b, "%ld", v);
    else
        util_buf_puts(b, "null");
}

static void iso_time(double t, char *buf, size_t n)
{
    time_t s = (time_t)t;
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void put_identity(util_buf *b, const ev_run *r)
{
    const evopt *o = r->o;
    util_buf_puts(b, ",\"selection\":{\"rows\":");
    put_str_or_null(b, o->rows);
    util_buf_puts(b, ",\"sample\":");
    put_long_or_null(b, o->sample);
    util_buf_printf(b, ",\"seed\":%llu,\"limit\":", o->seed);
    put_long_or_null(b, o->limit);
    util_buf_printf(b, ",\"num_repeats\":%ld,\"skip_invalid\":%s},\"overrides\":{\"params\":{",
                    o->repeats, o->skip_invalid ? "true" : "false");
    for (size_t i = 0; i < o->ov.n; i++) {
        if (i)
            util_buf_putc(b, ',');
        util_buf_json_string(b, o->ov.keys[i], strlen(o->ov.keys[i]));
        util_buf_putc(b, ':');
        util_buf_puts(b, o->ov.vals[i]);
    }
    util_buf_puts(b, "},\"reasoning_effort\":");
    put_str_or_null(b, o->ov.reasoning_effort);
    util_buf_puts(b, ",\"extra_body\":");
    put_raw_or_null(b, o->extra_body);
    util_buf_puts(b, ",\"chat_template_kwargs\":");
    put_raw_or_null(b, o->chat_template_kwargs);
    util_buf_printf(b, ",\"seed_per_repeat\":%s,\"reasoning_history\":\"%s\","
                       "\"developer_role\":\"%s\",\"on_context_overflow\":\"%s\"}",
                    o->seed_per_repeat ? "true" : "false", HIST_NAMES[o->reasoning],
                    o->developer_as_system ? "system" : "keep",
                    o->on_overflow == EVOPT_OVERFLOW_GYM ? "gym" : "fail");
    util_buf_printf(b, ",\"api\":\"%s\",\"model\":", o->api == EVOPT_API_CHAT ? "chat" : "responses");
    put_str_or_null(b, r->model);
    util_buf_puts(b, ",\"grading\":{\"word_similarity_threshold\":");
    put_double(b, o->cfg.word_similarity_threshold);
    util_buf_puts(b, ",\"float_tolerance\":");
    put_double(b, o->cfg.float_tolerance);
    util_buf_printf(b, ",\"parallel_rewarding\":%s,\"allow_subset\":%s,\"allow_superset\":%s,"
                       "\"reward_mode\":\"%s\"}",
                    o->cfg.parallel_rewarding ? "true" : "false",
                    o->cfg.allow_subset ? "true" : "false",
                    o->cfg.allow_superset ? "true" : "false", grade_mode_name(o->cfg.mode));
}

static int manifest_text(const ev_run *r, const char *status, bool ended, util_buf *b)
{
    b->len = 0;
    util_buf_printf(b, "{\"schema\":\"fcpivot.eval.run/1\",\"fcpivot_version\":\"%s\",\"argv\":",
                    FCPIVOT_VERSION);
    put_argv(b, r->o);
    util_buf_puts(b, ",\"dataset\":{\"path\":");
    put_str_or_null(b, r->o->data);
    util_buf_printf(b, ",\"bytes\":%llu,\"sha256\":\"%s\"}", (unsigned long long)r->data_bytes,
                    r->sha256);
    put_identity(b, r);
    util_buf_puts(b, ",\"urls\":[");
    for (size_t i = 0; i < r->o->nurls; i++) {
        if (i)
            util_buf_putc(b, ',');
        util_buf_json_string(b, r->o->urls[i], strlen(r->o->urls[i]));
    }
    tally t = count_states(r);
    util_buf_printf(b, "],\"planned\":%zu,\"status\":\"%s\",\"counts\":{\"graded\":%zu,"
                       "\"failed\":%zu,\"not_run\":%zu},\"started_at\":\"%s\",\"ended_at\":",
                    r->planned, status, t.graded, t.failed, t.not_run, r->started_at);
    char end[32];
    iso_time(util_now_real(), end, sizeof end);
    if (ended)
        util_buf_printf(b, "\"%s\"", end);
    else
        util_buf_puts(b, "null");
    util_buf_puts(b, "}\n");
    evrun_redact(b, r->o->api_key);
    return b->data ? 0 : -1;
}

static int write_manifest(ev_run *r, const char *status, bool ended)
{
    util_buf b = UTIL_BUF_INIT;
    char why[512];
    int rc = manifest_text(r, status, ended, &b);
    if (!rc)
        rc = evout_replace(r->paths.manifest, b.data, b.len, why, sizeof why);
    else
        snprintf(why, sizeof why, "out of memory");
    util_buf_free(&b);
    if (rc) {
        fprintf(stderr, "fcpivot eval: %s\n", why);
        io_fail(r, why);
    }
    return rc;
}

/* The identity fields that differ between the old manifest and this run. */
static void diff_field(const json_t *a, const json_t *b, const char *name, util_buf *out)
{
    if (json_equal(a, b))
        return;
    if (json_is_object(a) && json_is_object(b)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)a, k, v)
            if (!json_equal(v, json_object_get(b, k)))
                util_buf_printf(out, "%s%s.%s", out->len ? ", " : "", name, k);
        json_object_foreach((json_t *)b, k, v)
            if (!json_object_get(a, k))
                util_buf_printf(out, "%s%s.%s", out->len ? ", " : "", name, k);
        return;
    }
    util_buf_printf(out, "%s%s", out->len ? ", " : "", name);
}

static int check_manifest(ev_run *r)
{
    size_t len;
    char *old = NULL;
    FILE *f = fopen(r->paths.manifest, "r");
    if (f) {
        util_buf b = UTIL_BUF_INIT;
        char chunk[65536];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
            util_buf_append(&b, chunk, n);
        fclose(f);
        old = b.data;
        len = b.len;
    }
    if (!old) {
        fprintf(stderr, "fcpivot eval: --resume needs %s (the manifest of the run)\n", r->paths.manifest);
        return EVOPT_EXIT_USAGE;
    }
    json_t *a = jtext_build(old, len, JTEXT_BIG_INTS);
    util_buf now = UTIL_BUF_INIT, diff = UTIL_BUF_INIT;
    manifest_text(r, "running", false, &now);
    json_t *b = jtext_build(now.data, now.len, JTEXT_BIG_INTS);
    int rc = -1;
    if (!a || !json_is_object(a)) {
        fprintf(stderr, "fcpivot eval: %s is not a manifest\n", r->paths.manifest);
        rc = EVOPT_EXIT_USAGE;
    } else if (b) {
        static const char *const FIELDS[] = {"selection", "overrides", "api", "model", "grading"};
        diff_field(json_object_get(json_object_get(a, "dataset"), "sha256"),
                   json_object_get(json_object_get(b, "dataset"), "sha256"), "dataset.sha256", &diff);
        for (size_t i = 0; i < sizeof FIELDS / sizeof FIELDS[0]; i++)
            diff_field(json_object_get(a, FIELDS[i]), json_object_get(b, FIELDS[i]), FIELDS[i], &diff);
        if (diff.len) {
            fprintf(stderr, "fcpivot eval: cannot resume %s: this run differs in %s\n",
                    r->paths.rollouts, diff.data);
            rc = EVOPT_EXIT_USAGE;
        }
    }
    json_decref(a);
    json_decref(b);
    free(old);
    util_buf_free(&now);
    util_buf_free(&diff);
    return rc;
}

/* ---- resume: what is done already ----------------------------------------------------------------------- */

typedef struct scan_ctx {
    ev_run *r;
    bool failures;
    size_t kept, retried;
} scan_ctx;

static long long member_int(const json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

static int on_rollout_line(void *ctx, const char *line, size_t len, uint64_t off)
{
    (void)off;
    scan_ctx *s = ctx;
    ev_run *r = s->r;
    static const char *const KEYS[] = {"_ng_task_index", "_ng_rollout_index", "reward", "fcpivot"};
    json_t *o = jtext_pick(line, len, JTEXT_BIG_INTS, KEYS, 4);
    if (!o)
        return 1;
    long pos = pos_of(r, member_int(o, "_ng_task_index"), member_int(o, "_ng_rollout_index"));
    json_t *fc = json_object_get(o, "fcpivot");
    bool graded = json_is_number(json_object_get(o, "reward"));
    if (pos >= 0 && graded && r->state[pos] == ST_TODO) {
        r->state[pos] = ST_GRADED;
        r->reward_sum += json_number_value(json_object_get(o, "reward"));
        s->kept++;
    }
    (void)fc;
    json_decref(o);
    return 0;
}

/* Failures that a resume does not retry: deterministic ones and those
 * already tried --max-attempts times. */
static bool failure_final(const evopt *o, const json_t *fc)
{
    const char *err = json_string_value(json_object_get(fc, "error"));
    long long attempts = member_int(fc, "attempts");
    if (err && (!strcmp(err, "http_4xx") || !strcmp(err, "conversion") ||
                !strcmp(err, "context_overflow")))
        return true;
    return attempts >= o->max_attempts;
}

static int on_failure_line(void *ctx, const char *line, size_t len, uint64_t off)
{
    scan_ctx *s = ctx;
    ev_run *r = s->r;
    static const char *const KEYS[] = {"_ng_task_index", "_ng_rollout_index", "fcpivot"};
    json_t *o = jtext_pick(line, len, JTEXT_BIG_INTS, KEYS, 3);
    if (!o)
        return 1;
    long pos = pos_of(r, member_int(o, "_ng_task_index"), member_int(o, "_ng_rollout_index"));
    json_t *fc = json_object_get(o, "fcpivot");
    if (pos >= 0 && r->state[pos] == ST_TODO) {
        if (failure_final(r->o, fc)) {
            r->state[pos] = ST_FAILED_KEPT;
            if (add_fail(r, (fail_rec){(size_t)pos, off, (uint32_t)len})) {
                json_decref(o);
                return 1;
            }
            s->kept++;
        } else {
            long long a = member_int(fc, "attempts");
            r->prior[pos] = (uint8_t)(a > 0 ? (a > 255 ? 255 : a) : 0);
            s->retried++;
        }
    }
    json_decref(o);
    return 0;
}

static int cmp_fail(const void *a, const void *b)
{
    const fail_rec *x = a, *y = b;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Rewrites the failures file with its kept lines, in plan order. */
static int rewrite_failures(ev_run *r, char *why, size_t whysz)
{
    if (r->nfails)
        qsort(r->fails, r->nfails, sizeof *r->fails, cmp_fail);
    uint64_t *off = malloc((r->nfails + 1) * sizeof *off);
    uint32_t *len = malloc((r->nfails + 1) * sizeof *len);
    int rc = -1;
    if (off && len) {
        for (size_t i = 0; i < r->nfails; i++) {
            off[i] = r->fails[i].off;
            len[i] = r->fails[i].len;
        }
        rc = evout_nonempty(r->paths.failures)
                 ? evout_reorder(r->paths.failures, off, len, r->nfails, why, whysz)
                 : 0;
    } else {
        snprintf(why, whysz, "out of memory");
    }
    free(off);
    free(len);
    return rc;
}

static int scan_previous(ev_run *r)
{
    char why[512];
    uint64_t cut = 0, cut_f = 0;
    scan_ctx s = {r, false, 0, 0}, f = {r, true, 0, 0};
    if (evout_scan(r->paths.rollouts, on_rollout_line, &s, &cut, why, sizeof why) ||
        evout_scan(r->paths.failures, on_failure_line, &f, &cut_f, why, sizeof why) ||
        rewrite_failures(r, why, sizeof why)) {
        fprintf(stderr, "fcpivot eval: %s\n", why);
        return EVOPT_EXIT_IO;
    }
    /* After the rewrite the kept failures sit in plan order: re-index them. */
    r->nfails = 0;
    for (size_t p = 0; p < r->planned; p++)
        if (r->state[p] == ST_FAILED_KEPT)
            r->state[p] = ST_TODO;
    f.kept = f.retried = 0;
    if (evout_scan(r->paths.failures, on_failure_line, &f, &cut_f, why, sizeof why)) {
        fprintf(stderr, "fcpivot eval: %s\n", why);
        return EVOPT_EXIT_IO;
    }
    r->done_at_start = s.kept + f.kept;
    r->graded_at_start = s.kept;
    if (!r->o->quiet)
        fprintf(stderr, "fcpivot eval: resuming: %zu rollouts graded, %zu failures kept, %zu to retry%s\n",
                s.kept, f.kept, f.retried, cut ? " (a torn last line was cut off)" : "");
    return -1;
}

/* ---- the dataset ---------------------------------------------------------------------------------------- */

static void on_issue(const ds_issue *is, void *ctx)
{
    size_t *shown = ctx;
    if (is->severity != DS_SEV_ERROR || (*shown)++ >= ISSUES_SHOWN)
        return;
    fprintf(stderr, "%s:%zu: error: %s\n", is->path, is->line, is->message);
}

static int hash_file(ev_run *r)
{
    int fd = open(r->o->data, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    util_sha256 h;
    util_sha256_init(&h);
    char buf[1 << 16];
    ssize_t n;
    r->data_bytes = 0;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        util_sha256_update(&h, buf, (size_t)n);
        r->data_bytes += (uint64_t)n;
    }
    close(fd);
    if (n < 0)
        return -1;
    unsigned char digest[32];
    util_sha256_final(&h, digest);
    for (int i = 0; i < 32; i++)
        snprintf(r->sha256 + 2 * i, 3, "%02x", digest[i]);
    return 0;
}

static int open_dataset(ev_run *r)
{
    size_t shown = 0;
    ds_split_spec spec = {"train", r->o->data};
    ds_open_options dso = {.validate = true, .skip_invalid = r->o->skip_invalid,
                           .on_issue = on_issue, .ctx = &shown};
    char why[512];
    if (ds_open(&r->ds, &spec, 1, &dso, why, sizeof why)) {
        fprintf(stderr, "fcpivot eval: %s\n", why);
        return EVOPT_EXIT_USAGE;
    }
    if (hash_file(r)) {
        fprintf(stderr, "fcpivot eval: cannot read '%s': %s\n", r->o->data, strerror(errno));
        return EVOPT_EXIT_USAGE;
    }
    r->nrows = ds_split_size(r->ds, 0);
    if (select_rows(r, why, sizeof why)) {
        fprintf(stderr, "fcpivot eval: %s\n", why);
        return EVOPT_EXIT_USAGE;
    }
    return -1;
}

/* ---- the endpoint -------------------------------------------------------------------------------------- */

static void config_engine(const ev_run *r, evrun_config *c)
{
    const evopt *o = r->o;
    memset(c, 0, sizeof *c);
    c->urls = o->urls;
    c->nurls = o->nurls;
    c->path = o->api == EVOPT_API_CHAT ? "/chat/completions" : "/responses";
    c->api_key = o->api_key;
    c->headers = o->headers;
    c->nheaders = o->nheaders;
    c->concurrency = (unsigned)o->concurrency;
    c->connect_timeout = o->connect_timeout;
    c->request_timeout = o->request_timeout;
    c->max_attempts = (unsigned)o->max_attempts;
    c->retry_deadline = o->retry_deadline;
    c->signals = &g_signals;
}

/* The ids of GET /models ({"data":[{"id":…}…]}) as a JSON array, or NULL. */
static json_t *model_ids(const util_buf *body)
{
    json_t *doc = body->len ? jtext_build(body->data, body->len, JTEXT_BIG_INTS) : NULL;
    json_t *data = json_object_get(doc, "data"), *ids = NULL;
    if (json_is_array(data)) {
        ids = json_array();
        size_t i;
        json_t *m;
        json_array_foreach(data, i, m)
            if (json_is_string(json_object_get(m, "id")))
                json_array_append(ids, json_object_get(m, "id"));
    }
    json_decref(doc);
    return ids;
}

static bool ids_have(const json_t *ids, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
        if (!strcmp(json_string_value(v), name))
            return true;
    return false;
}

static char *ids_list(const json_t *ids)
{
    util_buf b = UTIL_BUF_INIT;
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
        util_buf_printf(&b, "%s%s", i ? ", " : "", json_string_value(v));
    if (!b.data)
        util_buf_puts(&b, "none");
    return b.data;
}

/* GET {url}/models on every URL: the server answers, accepts the key and
 * lists the model (picked when --model is absent). */
static int preflight(ev_run *r)
{
    evrun_config c;
    config_engine(r, &c);
    if (c.request_timeout == 0 || c.request_timeout > 60)
        c.request_timeout = 60;
    for (size_t u = 0; u < r->o->nurls; u++) {
        util_buf body = UTIL_BUF_INIT;
        char why[512] = "";
        long st = evrun_get(&c, r->o->urls[u], "/models", &body, why, sizeof why);
        int rc = -1;
        json_t *ids = st >= 200 && st < 300 ? model_ids(&body) : NULL;
        if (st == 0) {
            fprintf(stderr, "fcpivot eval: the model server does not answer: %s\n", why);
            rc = EVOPT_EXIT_ENDPOINT;
        } else if (st < 200 || st >= 300) {
            fprintf(stderr, "fcpivot eval: GET %s/models: HTTP %ld%s%.*s\n", r->o->urls[u], st,
                    body.len ? ": " : "", (int)(body.len < 1000 ? body.len : 1000),
                    body.data ? body.data : "");
            rc = EVOPT_EXIT_ENDPOINT;
        } else if (!ids) {
            fprintf(stderr, "fcpivot eval: GET %s/models: not a model list\n", r->o->urls[u]);
            rc = EVOPT_EXIT_ENDPOINT;
        } else if (!r->model && json_array_size(ids) != 1) {
            char *list = ids_list(ids);
            fprintf(stderr, "fcpivot eval: %s lists %zu models (%s): choose one with --model\n",
                    r->o->urls[u], json_array_size(ids), list);
            free(list);
            rc = EVOPT_EXIT_USAGE;
        } else if (!r->model) {
            r->model_owned = strdup(json_string_value(json_array_get(ids, 0)));
            r->model = r->model_owned;
        } else if (!ids_have(ids, r->model)) {
            char *list = ids_list(ids);
            fprintf(stderr, "fcpivot eval: model '%s' is not listed by %s (it lists: %s)\n",
                    r->model, r->o->urls[u], list);
            free(list);
            rc = EVOPT_EXIT_ENDPOINT;
        }
        json_decref(ids);
        util_buf_free(&body);
        if (rc >= 0)
            return rc;
    }
    return -1;
}

static int dry_run(ev_run *r)
{
    util_buf body = UTIL_BUF_INIT;
    char why[512];
    if (!r->model)
        r->model = "MODEL";
    int rc = r->planned ? build_body(r, 0, &body, why, sizeof why) : CONV_INVALID;
    if (!r->planned)
        snprintf(why, sizeof why, "no rows selected");
    if (rc != CONV_OK) {
        fprintf(stderr, "fcpivot eval: the first request cannot be built: %s\n", why);
        util_buf_free(&body);
        return EVOPT_EXIT_FAILED;
    }
    printf("POST %s%s\n", r->o->urls[0], r->o->api == EVOPT_API_CHAT ? "/chat/completions" : "/responses");
    if (r->o->api_key && *r->o->api_key)
        printf("Authorization: Bearer ***\n");
    for (size_t i = 0; i < r->o->nheaders; i++) {
        const char *h = r->o->headers[i];
        if (is_secret_header(h))
            printf("%.*s: ***\n", (int)strcspn(h, ":"), h);
        else
            printf("%s\n", h);
    }
    evrun_redact(&body, r->o->api_key);
    printf("\n%s\n", body.data);
    util_buf_free(&body);
    return EVOPT_EXIT_OK;
}

/* ---- files before and after ------------------------------------------------------------------------------ */

static int write_inputs(ev_run *r)
{
    evout_tmp t;
    char why[512];
    if (evout_tmp_open(&t, r->paths.inputs, why, sizeof why)) {
        fprintf(stderr, "fcpivot eval: %s\n", why);
        return EVOPT_EXIT_IO;
    }
    util_buf line = UTIL_BUF_INIT;
    int rc = 0;
    for (size_t p = 0; p < r->planned && !rc; p++) {
        rowtext rt;
        line.len = 0;
        rc = get_row(r, p, &rt, why, sizeof why) || row_params(r, &rt, &r->scratch, why, sizeof why) ||
             evroll_input_line(rt.text, rt.len, &rt.row, r->scratch.data, r->scratch.len,
                               (long)pos_task(r, p), pos_repeat(r, p), &line, why, sizeof why) ||
             evout_append(&t.f, line.data, line.len, NULL, why, sizeof why);
    }
    util_buf_free(&line);
    if (rc) {
        evout_tmp_abort(&t);
        fprintf(stderr, "fcpivot eval: %s: %s\n", r->paths.inputs, why);
        return EVOPT_EXIT_IO;
    }
    if (evout_tmp_commit(&t, why, sizeof why)) {
        fprintf(stderr, "fcpivot eval: %s\n", why);
        return EVOPT_EXIT_IO;
    }
    return -1;
}

static int open_outputs(ev_run *r)
{
    char why[512];
    bool fresh = !r->o->resume;
    if (evout_open(&r->rollouts, r->paths.rollouts, fresh, why, sizeof why) ||
        evout_open(&r->failures, r->paths.failures, fresh, why, sizeof why)) {
        fprintf(stderr, "fcpivot eval: %s\n", why);
        return EVOPT_EXIT_IO;
    }
    return -1;
}

/* The end of a run: one pass over the files feeds the summary (rollouts and
 * failures) and NeMo Gym's aggregate metrics (graded rollouts) and, for a
 * complete run, indexes the rollouts by plan position for the sorted
 * rewrite. The index (12 bytes a rollout) exists only then: during the run
 * memory stays flat. */
typedef struct reports {
    ev_run *r;
    summary *sum;
    agg *agg;
    bool rollouts;     /* feeding the rollouts file (else the failures) */
    bool index;        /* record r->off / r->len */
    bool agg_failed;
    bool abandoned;    /* a second signal came: reports dropped */
    char agg_err[256];
    util_buf scratch;  /* agg_text */
} reports;

/* The members of a rollout line the aggregate and the index need. */
typedef struct line_facts {
    jtext_span task, repeat, reward, response;
} line_facts;

static int on_fact(void *ctx, const jtext_member *m)
{
    line_facts *f = ctx;
    jtext_span v = {m->v, (size_t)(m->end - m->v)};
    if (jtext_member_is(m, "_ng_task_index"))
        f->task = v;
    else if (jtext_member_is(m, "_ng_rollout_index"))
        f->repeat = v;
    else if (jtext_member_is(m, "reward"))
        f->reward = v;
    else if (jtext_member_is(m, "response"))
        f->response = v;
    return 0;
}

static long long span_int(jtext_span s)
{
    if (!s.p || !s.len || s.len > 18)
        return -1;
    long long v = 0;
    for (size_t i = 0; i < s.len; i++) {
        if (s.p[i] < '0' || s.p[i] > '9')
            return -1;
        v = v * 10 + (s.p[i] - '0');
    }
    return v;
}

/* What NeMo Gym's aggregate reads of a line (its top-level numbers — in a
 * rollout line the reward and the two indices — and response.usage), as a
 * small object text: agg then parses ~200 bytes, not the whole rollout. */
static int agg_text(const line_facts *f, util_buf *out)
{
    jtext_span usage = jtext_get(f->response, JTEXT_PY, "usage");
    out->len = 0;
    return util_buf_puts(out, "{\"_ng_task_index\":") ||
           util_buf_append(out, f->task.p, f->task.len) ||
           util_buf_puts(out, ",\"_ng_rollout_index\":") ||
           util_buf_append(out, f->repeat.p, f->repeat.len) ||
           util_buf_puts(out, ",\"reward\":") ||
           util_buf_append(out, f->reward.p, f->reward.len) ||
           util_buf_puts(out, ",\"response\":{\"usage\":") ||
           (usage.p ? util_buf_append(out, usage.p, usage.len) : util_buf_puts(out, "null")) ||
           util_buf_puts(out, "}}");
}

static void feed_rollout(reports *rp, const char *line, size_t len, uint64_t off)
{
    line_facts f;
    memset(&f, 0, sizeof f);
    bool ok = jtext_object(line, len, JTEXT_PY, on_fact, &f, NULL, 0) == 0 && f.task.p &&
              f.repeat.p && f.reward.p;
    if (!rp->agg_failed) {
        int rc = ok && !agg_text(&f, &rp->scratch)
                     ? agg_add(rp->agg, rp->scratch.data, rp->scratch.len, rp->agg_err, sizeof rp->agg_err)
                     : agg_add(rp->agg, line, len, rp->agg_err, sizeof rp->agg_err);
        rp->agg_failed = rc != 0;
    }
    long pos = ok ? pos_of(rp->r, span_int(f.task), span_int(f.repeat)) : -1;
    if (rp->index && pos >= 0 && !rp->r->len[pos]) {
        rp->r->off[pos] = off;
        rp->r->len[pos] = (uint32_t)len;
    }
}

static void feed_line(reports *rp, const char *line, size_t len, uint64_t off)
{
    char why[256];
    if (!rp->rollouts) {
        summary_add_failure(rp->sum, line, len, why, sizeof why);
        return;
    }
    summary_add_rollout(rp->sum, line, len, why, sizeof why);
    feed_rollout(rp, line, len, off);
}

static void feed_file(const char *path, reports *rp)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    uint64_t off = 0;
    while (!rp->abandoned && (n = getline(&line, &cap, f)) > 0) {
        size_t len = (size_t)n - (line[n - 1] == '\n');
        if (len)
            feed_line(rp, line, len, off);
        off += (uint64_t)n;
        rp->abandoned = g_signals >= 2;
    }
    free(line);
    fclose(f);
}

static int write_json_file(ev_run *r, const char *path, util_buf *text)
{
    char why[512];
    if (util_buf_putc(text, '\n') || evout_replace(path, text->data, text->len, why, sizeof why)) {
        fprintf(stderr, "fcpivot eval: %s\n", text->data ? why : "out of memory");
        io_fail(r, why);
        return -1;
    }
    return 0;
}

/* agg_write's sink: the pieces go to a temporary file. */
typedef struct agg_sink {
    evout_tmp t;
    char err[512];
} agg_sink;

static int to_tmp(void *ctx, const char *data, size_t len)
{
    agg_sink *s = ctx;
    return evout_append(&s->t.f, data, len, NULL, s->err, sizeof s->err);
}

/* Writes the aggregate metrics (streamed: a million rollouts' rollout_infos
 * are a few hundred megabytes of text). */
static void write_aggregate(ev_run *r, const agg *a)
{
    agg_sink s;
    char why[512];
    s.err[0] = '\0';
    if (evout_tmp_open(&s.t, r->paths.aggregate, s.err, sizeof s.err)) {
        io_fail(r, s.err);
        return;
    }
    int rc = agg_write(a, to_tmp, &s, why, sizeof why);
    if (rc == 0 && to_tmp(&s, "\n", 1) == 0 && evout_tmp_commit(&s.t, s.err, sizeof s.err) == 0)
        return;
    if (rc == 0)
        snprintf(why, sizeof why, "%s", s.err);
    else if (s.err[0])
        snprintf(why, sizeof why, "%s", s.err);
    if (s.t.final)
        evout_tmp_abort(&s.t);
    fprintf(stderr, "fcpivot eval: %s: %s\n", r->paths.aggregate, why);
    io_fail(r, why);
}

/* Sorts the files of a complete run (r->off / r->len filled). */
static void sort_files(ev_run *r)
{
    char why[512];
    if (evout_reorder(r->paths.rollouts, r->off, r->len, r->planned, why, sizeof why) ||
        rewrite_failures(r, why, sizeof why))
        io_fail(r, why);
}

/* Feeds the reports, sorts a complete run, writes summary (its text also
 * left in summary_text) and aggregate. */
static void write_reports(ev_run *r, bool complete, util_buf *summary_text)
{
    summary_options so = {r->planned, complete};
    reports rp = {r, summary_new(&so), agg_new(), true, complete, false, false, "", UTIL_BUF_INIT};
    char why[512];
    if (complete) {
        r->off = calloc(r->planned ? r->planned : 1, sizeof *r->off);
        r->len = calloc(r->planned ? r->planned : 1, sizeof *r->len);
    }
    if (!rp.sum || !rp.agg || (complete && (!r->off || !r->len))) {
        io_fail(r, "out of memory");
    } else {
        feed_file(r->paths.rollouts, &rp);
        rp.rollouts = false;
        feed_file(r->paths.failures, &rp);
        if (rp.abandoned) {
            summary_free(rp.sum);
            agg_free(rp.agg);
            util_buf_free(&rp.scratch);
            return;
        }
        if (complete)
            sort_files(r);
        if (summary_json(rp.sum, summary_text, why, sizeof why) == 0)
            write_json_file(r, r->paths.summary, summary_text);
        if (rp.agg_failed)
            fprintf(stderr, "fcpivot eval: no aggregate metrics: %s\n", rp.agg_err);
        else
            write_aggregate(r, rp.agg);
    }
    summary_free(rp.sum);
    agg_free(rp.agg);
    util_buf_free(&rp.scratch);
}

static void finish_files(ev_run *r, bool complete, util_buf *summary_json_out)
{
    char why[512];
    if (evout_sync(&r->rollouts, why, sizeof why) || evout_sync(&r->failures, why, sizeof why))
        io_fail(r, why);
    if (!r->io_error)
        write_reports(r, complete, summary_json_out);
}

/* ---- the command ------------------------------------------------------------------------------------------ */

static void print_result(const ev_run *r, const util_buf *summary_text)
{
    if (r->o->json) {
        if (summary_text->len)
            fwrite(summary_text->data, 1, summary_text->len, stdout);
        return;
    }
    tally t = count_states(r);
    printf("fcpivot eval: %zu planned, %zu graded, %zu failed, %zu not run; mean reward %.4f%s\n",
           r->planned, t.graded, t.failed, t.not_run,
           t.graded ? r->reward_sum / (double)t.graded : 0.0,
           r->overflowed ? " (context overflows graded as empty)" : "");
}

static int exit_status(const ev_run *r, const evrun_result *res)
{
    if (res->end == EVRUN_INTERRUPTED || res->end == EVRUN_ABANDONED)
        return g_first_signal == SIGTERM ? 143 : 130;
    if (r->io_error || res->end == EVRUN_NOMEM)
        return EVOPT_EXIT_IO;
    if (res->end == EVRUN_FATAL)
        return EVOPT_EXIT_ENDPOINT;
    tally t = count_states(r);
    if (t.graded < r->planned)
        return EVOPT_EXIT_FAILED;
    if (r->o->has_fail_under && t.graded && r->reward_sum / (double)t.graded < r->o->fail_under)
        return EVOPT_EXIT_BELOW;
    return EVOPT_EXIT_OK;
}

static void start_line(const ev_run *r)
{
    if (r->o->quiet)
        return;
    const evopt *o = r->o;
    util_buf b = UTIL_BUF_INIT;
    static const char *const NAMES[] = {"temperature", "top_p", "max_output_tokens"};
    for (int i = 0; i < 3; i++) {
        bool set = false;
        for (size_t k = 0; k < o->ov.n; k++)
            set |= !strcmp(o->ov.keys[k], NAMES[i]);
        if (!set)
            util_buf_printf(&b, "%s%s", b.len ? ", " : "", NAMES[i]);
    }
    fprintf(stderr, "fcpivot eval: %zu rows x %ld repeats = %zu rollouts, model %s via %s%s (%zu URL%s), -c %ld%s%s%s\n",
            r->nsel, o->repeats, r->planned, r->model, o->urls[0],
            o->api == EVOPT_API_CHAT ? "/chat/completions" : "/responses", o->nurls,
            o->nurls == 1 ? "" : "s", o->concurrency, b.len ? "; not set (the row's value or the server's default): " : "",
            b.len ? b.data : "", "");
    util_buf_free(&b);
}

static void run_free(ev_run *r)
{
    evout_close(&r->rollouts);
    evout_close(&r->failures);
    evout_paths_free(&r->paths);
    if (r->ds)
        ds_close(r->ds);
    free(r->sel);
    free(r->pos_of_row);
    free(r->state);
    free(r->prior);
    free(r->off);
    free(r->len);
    free(r->fails);
    free(r->model_owned);
    util_buf_free(&r->line);
    util_buf_free(&r->scratch);
}

/* Everything up to the first request; -1 to go on, else an exit status. */
static int prepare(ev_run *r)
{
    int rc = open_dataset(r);
    if (rc >= 0)
        return rc;
    r->model = r->o->model;
    if (r->o->dry_run)
        return dry_run(r);
    if (evout_paths_init(&r->paths, r->o->out))
        return EVOPT_EXIT_IO;
    char why[512], *dir = strdup(r->o->out);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash && slash != dir) {
        *slash = '\0';
        if (cli_make_dirs(dir, why, sizeof why)) {
            fprintf(stderr, "fcpivot eval: %s\n", why);
            free(dir);
            return EVOPT_EXIT_IO;
        }
    }
    free(dir);
    if (!r->o->resume && !r->o->overwrite && evout_nonempty(r->paths.rollouts)) {
        fprintf(stderr, "fcpivot eval: %s exists: use --resume to continue it or --overwrite to replace it\n",
                r->paths.rollouts);
        return EVOPT_EXIT_USAGE;
    }
    if ((rc = preflight(r)) >= 0)
        return rc;
    if (r->o->resume && (rc = check_manifest(r)) >= 0)
        return rc;
    if (r->o->resume && (rc = scan_previous(r)) >= 0)
        return rc;
    if ((rc = open_outputs(r)) >= 0 || (rc = write_inputs(r)) >= 0)
        return rc;
    return write_manifest(r, "running", false) ? EVOPT_EXIT_IO : -1;
}

static int run(evopt *o)
{
    ev_run r;
    memset(&r, 0, sizeof r);
    r.o = o;
    r.rollouts.fd = r.failures.fd = -1;
    iso_time(util_now_real(), r.started_at, sizeof r.started_at);
    int rc = prepare(&r);
    if (rc >= 0) {
        run_free(&r);
        return rc;
    }
    FILE *rlog = NULL;
    if (o->request_log && !(rlog = fopen(o->request_log, o->resume ? "a" : "w"))) {
        fprintf(stderr, "fcpivot eval: cannot open '%s': %s\n", o->request_log, strerror(errno));
        run_free(&r);
        return EVOPT_EXIT_IO;
    }
    start_line(&r);
    evrun_config c;
    config_engine(&r, &c);
    c.request_log = rlog;
    evrun_ops ops = {cb_next, cb_reply, cb_overflow, cb_fail, cb_stop, cb_progress};
    r.tty = isatty(STDERR_FILENO) == 1;
    r.t0 = util_now_mono();
    evrun_result res;
    evrun_run(&c, &ops, &r, &res);
    print_progress(&r, &res.stats, true);
    if (rlog)
        fclose(rlog);
    if (res.end == EVRUN_FATAL)
        fprintf(stderr, "fcpivot eval: stopped: %s\n", res.message);
    if (r.io_error)
        fprintf(stderr, "fcpivot eval: stopped: %s\n", r.io_msg);
    else if (r.nfails >= r.fail_limit && res.end == EVRUN_STOPPED)
        fprintf(stderr, "fcpivot eval: stopped: %zu failures reach --max-failures\n", r.nfails);
    bool complete = count_states(&r).not_run == 0 && (res.end == EVRUN_DONE || res.end == EVRUN_STOPPED);
    util_buf sj = UTIL_BUF_INIT;
    finish_files(&r, complete, &sj);
    const char *status = r.io_error ? "failed"
                         : res.end == EVRUN_INTERRUPTED || res.end == EVRUN_ABANDONED ? "interrupted"
                         : complete ? "complete" : "failed";
    write_manifest(&r, status, true);
    print_result(&r, &sj);
    util_buf_free(&sj);
    rc = exit_status(&r, &res);
    run_free(&r);
    return rc;
}

int cli_eval(int argc, char **argv)
{
    evopt o;
    int rc = evopt_parse(argc, argv, &o);
    if (rc != CLI_ARGS_OK) {
        evopt_free(&o);
        return cli_args_exit(rc);
    }
    install_signals();
    char err[256];
    if (evrun_global(true, err, sizeof err) != 0) {
        fprintf(stderr, "fcpivot eval: %s\n", err);
        evopt_free(&o);
        return 1;
    }
    rc = run(&o);
    evrun_global(false, NULL, 0);
    evopt_free(&o);
    return rc;
}
