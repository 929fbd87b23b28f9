/* summary — a run's summary, accumulated line by line (see summary.h).
 *
 * How it works: each rollout line is reduced to its facts (rollout.h) and
 * folded into fixed counters (categories, expected types, confusion, depth
 * buckets, tokens, retries) and into keyed tables: one small open-addressing
 * hash table type (keys are bytes copied into the summary's arena) serves
 * functions, turns, finish reasons, anomalies, failure classes and the rows
 * of pass@k. Latencies are kept in one array so that percentiles are exact.
 * summary_json sorts copies of what it orders and never changes the summary.
 */
#include "summary.h"

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "grade.h"
#include "jtext.h"
#include "rollout.h"
#include "stats.h"
#include "util.h"

#define TABLE_MIN_SLOTS 16
#define SCHEMA "fcpivot.eval.summary/1"
#define FIRST_LATENCIES 1024 /* latencies kept start with room for these */
enum { NKINDS = 4 };   /* grade_action_kind values: NONE, MESSAGE, CALL, BATCH */

/* ---- keyed tables ------------------------------------------------------ */

typedef struct entry {
    uint64_t hash;
    const char *key;     /* in the summary's arena */
    size_t klen;
    stats_acc acc;       /* rewards (or just a count in acc.n) */
    size_t pass, zero;   /* rewards ≥ 1, rewards ≤ 0 */
} entry;

typedef struct table {
    entry *e;
    size_t n, cap;
    size_t *slot;        /* 0 empty, else entry index + 1 */
    size_t nslots;       /* a power of two, at least 2n */
} table;

static int table_rehash(table *t, size_t nslots)
{
    size_t *slot = calloc(nslots, sizeof *slot);
    if (!slot)
        return -1;
    for (size_t i = 0; i < t->n; i++) {
        size_t j = (size_t)t->e[i].hash & (nslots - 1);
        while (slot[j])
            j = (j + 1) & (nslots - 1);
        slot[j] = i + 1;
    }
    free(t->slot);
    t->slot = slot;
    t->nslots = nslots;
    return 0;
}

/* The entry of key[0..klen), created (zeroed) when new; NULL out of memory. */
static entry *table_get(table *t, util_arena *a, const void *key, size_t klen)
{
    uint64_t h = util_hash(key, klen);
    if (t->nslots) {
        for (size_t j = (size_t)h & (t->nslots - 1); t->slot[j]; j = (j + 1) & (t->nslots - 1)) {
            entry *e = &t->e[t->slot[j] - 1];
            if (e->hash == h && e->klen == klen && !memcmp(e->key, key, klen))
                return e;
        }
    }
    if (2 * (t->n + 1) > t->nslots &&
        table_rehash(t, t->nslots ? 2 * t->nslots : TABLE_MIN_SLOTS))
        return NULL;
    if (util_grow(&t->e, &t->cap, t->n + 1, sizeof *t->e, TABLE_MIN_SLOTS))
        return NULL;
    char *copy = util_arena_alloc(a, klen + 1);
    if (!copy)
        return NULL;
    memcpy(copy, key, klen);
    copy[klen] = '\0';
    entry *e = &t->e[t->n];
    memset(e, 0, sizeof *e);
    *e = (entry){.hash = h, .key = copy, .klen = klen};
    size_t j = (size_t)h & (t->nslots - 1);
    while (t->slot[j])
        j = (j + 1) & (t->nslots - 1);
    t->slot[j] = ++t->n;
    return e;
}

static void table_free(table *t)
{
    free(t->e);
    free(t->slot);
}

static void entry_add(entry *e, double reward)
{
    stats_acc_add(&e->acc, reward);
    e->pass += reward >= 1.0;
    e->zero += reward <= 0.0;
}

/* ---- the summary --------------------------------------------------------- */

struct summary {
    summary_options o;
    util_arena arena;
    size_t graded, failed, passed, lines;
    bool nonbinary;
    stats_acc reward;
    size_t category[GRADE_CATEGORY_COUNT];
    stats_acc expected[NKINDS];
    size_t confusion[NKINDS][NKINDS];
    stats_acc depth[ROLLOUT_DEPTH_BUCKETS + 1];
    stats_acc turn_unknown;
    table turns, functions, finish, anomalies, failures, rows;
    stats_acc *repeat;       /* per _ng_rollout_index */
    size_t nrepeat;
    size_t with_usage;
    int64_t tokens[4];       /* input, cached, output, reasoning */
    double *latency;
    size_t nlatency, caplatency;
    size_t with_attempts, retried;
    int64_t attempts;
    char *model;             /* in the arena */
};

summary *summary_new(const summary_options *o)
{
    summary *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->o = *o;
    util_arena_init(&s->arena, NULL, 0);
    return s;
}

void summary_free(summary *s)
{
    if (!s)
        return;
    table *t[] = {&s->turns, &s->functions, &s->finish, &s->anomalies, &s->failures, &s->rows};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        table_free(t[i]);
    free(s->repeat);
    free(s->latency);
    util_arena_free(&s->arena);
    free(s);
}

static int count_key(summary *s, table *t, const char *key, double reward)
{
    entry *e = table_get(t, &s->arena, key, strlen(key));
    if (!e)
        return -1;
    entry_add(e, reward);
    return 0;
}

/* The table key of an anomaly entry (see summary.h). */
static const char *anomaly_key(const json_t *a)
{
    static const char *const FIELDS[] = {"kind", "type", "name", "code"};
    if (json_is_string(a))
        return json_string_value(a);
    for (size_t i = 0; i < sizeof FIELDS / sizeof FIELDS[0]; i++) {
        const char *v = json_string_value(json_object_get(a, FIELDS[i]));
        if (v)
            return v;
    }
    return "other";
}

static int add_repeat(summary *s, int64_t repeat, double reward)
{
    size_t r = (size_t)repeat;
    if (r >= s->nrepeat) {
        stats_acc *p = realloc(s->repeat, (r + 1) * sizeof *p);
        if (!p)
            return -1;
        memset(p + s->nrepeat, 0, (r + 1 - s->nrepeat) * sizeof *p);
        s->repeat = p;
        s->nrepeat = r + 1;
    }
    stats_acc_add(&s->repeat[r], reward);
    return 0;
}

static int add_latency(summary *s, double ms)
{
    if (util_grow(&s->latency, &s->caplatency, s->nlatency + 1, sizeof *s->latency,
                  FIRST_LATENCIES))
        return -1;
    s->latency[s->nlatency++] = ms;
    return 0;
}

/* The tables and arrays a rollout goes into (all that can fail). */
static int add_keyed(summary *s, const rollout *r)
{
    double x = r->reward;
    int64_t turn = r->turn, task = r->has_index ? r->task : (int64_t)s->lines;
    entry *e = NULL;
    if (turn >= 0 && !(e = table_get(&s->turns, &s->arena, &turn, sizeof turn)))
        return -1;
    if (turn >= 0)
        entry_add(e, x);
    if (!(e = table_get(&s->rows, &s->arena, &task, sizeof task)))
        return -1;
    entry_add(e, x);
    if (add_repeat(s, r->has_index ? r->repeat : 0, x))
        return -1;
    size_t ncalls = grade_action_ncalls(r->expected);
    for (size_t i = 0; i < ncalls; i++) {
        const char *name = grade_action_call_name(r->expected, i);
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = !strcmp(name, grade_action_call_name(r->expected, j));
        if (!seen && count_key(s, &s->functions, name, x))
            return -1;
    }
    if (count_key(s, &s->finish, r->finish_reason ? r->finish_reason : "unknown", x))
        return -1;
    for (size_t i = 0; i < json_array_size(r->anomalies); i++)
        if (count_key(s, &s->anomalies, anomaly_key(json_array_get(r->anomalies, i)), x))
            return -1;
    if (!isnan(r->latency_ms) && add_latency(s, r->latency_ms))
        return -1;
    if (r->model && !s->model) {
        size_t n = strlen(r->model);
        if (!(s->model = util_arena_alloc(&s->arena, n + 1)))
            return -1;
        memcpy(s->model, r->model, n + 1);
    }
    return 0;
}

static void add_counters(summary *s, const rollout *r)
{
    double x = r->reward;
    s->graded++;
    s->passed += x == 1.0;
    s->nonbinary |= x != 0.0 && x != 1.0;
    stats_acc_add(&s->reward, x);
    s->category[r->category]++;
    grade_action_kind ek = grade_action_kind_of(r->expected);
    stats_acc_add(&s->expected[ek], x);
    s->confusion[ek][r->actual_kind]++;
    stats_acc_add(&s->depth[rollout_depth_bucket(r->depth)], x);
    if (r->turn < 0)
        stats_acc_add(&s->turn_unknown, x);
    if (r->has_usage) {
        s->with_usage++;
        s->tokens[0] += r->tokens_input;
        s->tokens[1] += r->tokens_cached;
        s->tokens[2] += r->tokens_output;
        s->tokens[3] += r->tokens_reasoning;
    }
    if (r->attempts >= 0) {
        s->with_attempts++;
        s->attempts += r->attempts;
        s->retried += r->attempts > 1;
    }
}

int summary_add_rollout(summary *s, const char *line, size_t len, char *err, size_t errsz)
{
    rollout r;
    if (rollout_parse(line, len, &r, err, errsz))
        return -1;
    int rc = 0;
    if (r.has_index && r.repeat > SUMMARY_MAX_REPEAT) {
        snprintf(err, errsz, "_ng_rollout_index: %" PRId64 " is beyond %d", r.repeat,
                 SUMMARY_MAX_REPEAT);
        rc = -1;
    } else if (add_keyed(s, &r)) {
        snprintf(err, errsz, "out of memory");
        rc = -1;
    } else {
        add_counters(s, &r);
        s->lines++;
    }
    rollout_clear(&r);
    return rc;
}

int summary_add_failure(summary *s, const char *line, size_t len, char *err, size_t errsz)
{
    static const char *const KEYS[] = {"fcpivot", "_ng_failure_class"};
    json_t *j = jtext_pick(line, len, ROLLOUT_JTEXT_FLAGS, KEYS, 2);
    if (!j) {
        if (jtext_object(line, len, ROLLOUT_JTEXT_FLAGS, NULL, NULL, err, errsz) == 0)
            snprintf(err, errsz, "out of memory");
        return -1;
    }
    const char *cls = json_string_value(json_object_get(json_object_get(j, "fcpivot"), "error"));
    if (!cls)
        cls = json_string_value(json_object_get(j, "_ng_failure_class"));
    int rc = count_key(s, &s->failures, cls ? cls : "unknown", 0.0);
    json_decref(j);
    if (rc) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    s->failed++;
    return 0;
}

/* ---- JSON ------------------------------------------------------------------ */

static int put_num(util_buf *b, double v)
{
    char t[32];
    if (!isfinite(v))
        return util_buf_puts(b, "null");
    return util_buf_append(b, t, util_float_repr(v, t, sizeof t));
}

static int put_str(util_buf *b, const char *s)
{
    return s ? util_buf_json_string(b, s, strlen(s)) : util_buf_puts(b, "null");
}

/* `"n":N,"mean":M` of an accumulator. */
static int put_n_mean(util_buf *b, const stats_acc *a)
{
    return util_buf_printf(b, "\"n\":%zu,\"mean\":", a->n) | put_num(b, stats_acc_mean(a));
}

static double ratio(double num, size_t den)
{
    return den ? num / (double)den : NAN;
}

static int put_score(util_buf *b, const summary *s)
{
    int rc = util_buf_puts(b, ",\"score\":{\"mean\":") | put_num(b, stats_acc_mean(&s->reward));
    rc |= util_buf_puts(b, ",\"stderr\":") | put_num(b, stats_acc_stderr(&s->reward));
    bool binary = s->graded && !s->nonbinary;
    rc |= util_buf_printf(b, ",\"binary\":%s,\"passed\":%zu,\"wilson95\":",
                          binary ? "true" : "false", s->passed);
    if (binary) {
        double lo, hi;
        stats_wilson(s->passed, s->graded, STATS_Z95, &lo, &hi);
        rc |= util_buf_putc(b, '[') | put_num(b, lo) | util_buf_putc(b, ',') | put_num(b, hi) |
              util_buf_putc(b, ']');
    } else {
        rc |= util_buf_puts(b, "null");
    }
    rc |= util_buf_puts(b, ",\"mean_failures_as_zero\":") |
          put_num(b, ratio(s->reward.sum, s->graded + s->failed));
    return rc | util_buf_putc(b, '}');
}

static int put_categories(util_buf *b, const summary *s)
{
    int rc = util_buf_puts(b, ",\"categories\":[");
    for (int c = 0; c < GRADE_CATEGORY_COUNT; c++) {
        rc |= util_buf_puts(b, c ? ",{\"name\":" : "{\"name\":") |
              put_str(b, grade_category_name((grade_category)c)) |
              util_buf_puts(b, ",\"text\":") | put_str(b, grade_category_text((grade_category)c)) |
              util_buf_printf(b, ",\"count\":%zu,\"share\":", s->category[c]) |
              put_num(b, ratio((double)s->category[c], s->graded)) | util_buf_putc(b, '}');
    }
    return rc | util_buf_putc(b, ']');
}

static const grade_action_kind EXPECTED_KINDS[] = {GRADE_ACTION_MESSAGE, GRADE_ACTION_CALL,
                                                   GRADE_ACTION_BATCH};
static const grade_action_kind ACTUAL_KINDS[] = {GRADE_ACTION_MESSAGE, GRADE_ACTION_CALL,
                                                 GRADE_ACTION_BATCH, GRADE_ACTION_NONE};
#define NEXPECTED (sizeof EXPECTED_KINDS / sizeof EXPECTED_KINDS[0])
#define NACTUAL (sizeof ACTUAL_KINDS / sizeof ACTUAL_KINDS[0])

static int put_types(util_buf *b, const summary *s)
{
    int rc = util_buf_puts(b, ",\"expected_types\":[");
    for (size_t i = 0; i < NEXPECTED; i++)
        rc |= util_buf_puts(b, i ? ",{\"type\":" : "{\"type\":") |
              put_str(b, grade_kind_name(EXPECTED_KINDS[i])) | util_buf_putc(b, ',') |
              put_n_mean(b, &s->expected[EXPECTED_KINDS[i]]) | util_buf_putc(b, '}');
    rc |= util_buf_puts(b, "],\"confusion\":{\"actual_types\":[");
    for (size_t j = 0; j < NACTUAL; j++)
        rc |= util_buf_puts(b, j ? "," : "") | put_str(b, grade_kind_name(ACTUAL_KINDS[j]));
    rc |= util_buf_puts(b, "],\"rows\":[");
    for (size_t i = 0; i < NEXPECTED; i++) {
        rc |= util_buf_puts(b, i ? ",{\"expected\":" : "{\"expected\":") |
              put_str(b, grade_kind_name(EXPECTED_KINDS[i])) | util_buf_puts(b, ",\"counts\":[");
        for (size_t j = 0; j < NACTUAL; j++)
            rc |= util_buf_printf(b, "%s%zu", j ? "," : "",
                                  s->confusion[EXPECTED_KINDS[i]][ACTUAL_KINDS[j]]);
        rc |= util_buf_puts(b, "]}");
    }
    return rc | util_buf_puts(b, "]}");
}

/* By integer key (turns, rows). */
static int cmp_int_key(const void *a, const void *b)
{
    int64_t x, y;
    memcpy(&x, ((const entry *)a)->key, sizeof x);
    memcpy(&y, ((const entry *)b)->key, sizeof y);
    return (x > y) - (x < y);
}

/* Most frequent first, then by key. */
static int cmp_count(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    if (x->acc.n != y->acc.n)
        return x->acc.n < y->acc.n ? 1 : -1;
    return strcmp(x->key, y->key);
}

/* A sorted copy of a table's entries (caller frees); NULL when empty or out
 * of memory (*nomem tells which). */
static entry *sorted(const table *t, int (*cmp)(const void *, const void *), bool *nomem)
{
    if (!t->n)
        return NULL;
    entry *e = malloc(t->n * sizeof *e);
    if (!e) {
        *nomem = true;
        return NULL;
    }
    memcpy(e, t->e, t->n * sizeof *e);
    qsort(e, t->n, sizeof *e, cmp);
    return e;
}

static int put_depth(util_buf *b, const summary *s)
{
    int rc = util_buf_puts(b, ",\"depth\":[");
    for (int i = 0; i <= ROLLOUT_DEPTH_BUCKETS; i++)
        rc |= util_buf_puts(b, i ? ",{\"bucket\":" : "{\"bucket\":") |
              put_str(b, rollout_depth_label(i)) | util_buf_putc(b, ',') |
              put_n_mean(b, &s->depth[i]) | util_buf_putc(b, '}');
    bool nomem = false;
    entry *e = sorted(&s->turns, cmp_int_key, &nomem);
    rc |= util_buf_puts(b, "],\"turns\":[");
    for (size_t i = 0; i < s->turns.n && e; i++) {
        int64_t turn;
        memcpy(&turn, e[i].key, sizeof turn);
        rc |= util_buf_printf(b, "%s{\"turn\":%" PRId64 ",", i ? "," : "", turn) |
              put_n_mean(b, &e[i].acc) | util_buf_putc(b, '}');
    }
    if (s->turn_unknown.n)
        rc |= util_buf_puts(b, s->turns.n ? ",{\"turn\":null," : "{\"turn\":null,") |
              put_n_mean(b, &s->turn_unknown) | util_buf_putc(b, '}');
    free(e);
    return rc | util_buf_putc(b, ']') | -nomem;
}

static int put_functions(util_buf *b, const summary *s)
{
    bool nomem = false;
    entry *e = sorted(&s->functions, cmp_count, &nomem);
    int rc = util_buf_printf(b, ",\"functions\":{\"distinct\":%zu,\"top\":[", s->functions.n);
    for (size_t i = 0; i < s->functions.n && i < SUMMARY_TOP_FUNCTIONS && e; i++)
        rc |= util_buf_puts(b, i ? ",{\"name\":" : "{\"name\":") | put_str(b, e[i].key) |
              util_buf_putc(b, ',') | put_n_mean(b, &e[i].acc) | util_buf_putc(b, '}');
    free(e);
    return rc | util_buf_puts(b, "]}") | -nomem;
}

/* ,"NAME":[{"FIELD":key,"n":count}…] sorted by count. */
static int put_counts(util_buf *b, const table *t, const char *name, const char *field)
{
    bool nomem = false;
    entry *e = sorted(t, cmp_count, &nomem);
    int rc = util_buf_printf(b, ",\"%s\":[", name);
    for (size_t i = 0; i < t->n && e; i++)
        rc |= util_buf_printf(b, "%s{\"%s\":", i ? "," : "", field) | put_str(b, e[i].key) |
              util_buf_printf(b, ",\"n\":%zu}", e[i].acc.n);
    free(e);
    return rc | util_buf_putc(b, ']') | -nomem;
}

static int put_tokens(util_buf *b, const summary *s)
{
    static const char *const NAME[4] = {"input", "cached", "output", "reasoning"};
    int rc = util_buf_printf(b, ",\"tokens\":{\"rollouts_with_usage\":%zu", s->with_usage);
    for (int i = 0; i < 4; i++)
        rc |= util_buf_printf(b, ",\"%s\":%" PRId64, NAME[i], s->tokens[i]);
    rc |= util_buf_puts(b, ",\"per_rollout\":");
    if (!s->with_usage)
        return rc | util_buf_puts(b, "null}");
    for (int i = 0; i < 4; i++)
        rc |= util_buf_printf(b, "%s\"%s\":", i ? "," : "{", NAME[i]) |
              put_num(b, ratio((double)s->tokens[i], s->with_usage));
    return rc | util_buf_puts(b, "}}");
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int put_latency(util_buf *b, const summary *s)
{
    double *v = NULL;
    if (s->nlatency && !(v = malloc(s->nlatency * sizeof *v)))
        return -1;
    if (v) {
        memcpy(v, s->latency, s->nlatency * sizeof *v);
        qsort(v, s->nlatency, sizeof *v, cmp_double);
    }
    int rc = util_buf_printf(b, ",\"latency_ms\":{\"n\":%zu", s->nlatency);
    static const struct { const char *name; double p; } P[] = {{"p50", 50}, {"p90", 90},
                                                               {"p99", 99}, {"max", 100}};
    for (size_t i = 0; i < sizeof P / sizeof P[0]; i++)
        rc |= util_buf_printf(b, ",\"%s\":", P[i].name) |
              put_num(b, stats_percentile(v, s->nlatency, P[i].p));
    free(v);
    rc |= util_buf_printf(b, "},\"retries\":{\"rollouts_with_attempts\":%zu,\"attempts\":%" PRId64
                             ",\"retried\":%zu}",
                          s->with_attempts, s->attempts, s->retried);
    return rc;
}

/* K: the most rollouts of any row. */
static size_t max_repeats(const summary *s)
{
    size_t k = 0;
    for (size_t i = 0; i < s->rows.n; i++)
        if (s->rows.e[i].acc.n > k)
            k = s->rows.e[i].acc.n;
    return k;
}

static int put_pass_at_k(util_buf *b, const entry *rows, size_t nrows, size_t k)
{
    stats_acc est = {0};
    for (size_t i = 0; i < nrows; i++)
        if (rows[i].acc.n >= k)
            stats_acc_add(&est, stats_pass_at_k(rows[i].acc.n, rows[i].pass, k));
    return util_buf_printf(b, "%s{\"k\":%zu,\"rows\":%zu,\"value\":", k > 1 ? "," : "", k,
                           est.n) |
           put_num(b, stats_acc_mean(&est)) | util_buf_putc(b, '}');
}

/* Rows are visited in key order, so that sums over them do not depend on
 * the order the rollouts came in. */
static int put_repeats(util_buf *b, const summary *s)
{
    size_t k = max_repeats(s);
    if (k < 2)
        return util_buf_puts(b, ",\"repeats\":null");
    bool nomem = false;
    entry *rows = sorted(&s->rows, cmp_int_key, &nomem);
    if (!rows)
        return -1;
    size_t nrows = s->rows.n;
    int rc = util_buf_printf(b, ",\"repeats\":{\"k\":%zu,\"rows\":%zu,\"pass_at_k\":[", k, nrows);
    for (size_t j = 1; j <= k; j++)
        rc |= put_pass_at_k(b, rows, nrows, j);
    stats_acc means = {0}, row_std = {0};
    rc |= util_buf_puts(b, "],\"repeat_means\":[");
    for (size_t r = 0; r < s->nrepeat; r++) {
        rc |= util_buf_puts(b, r ? "," : "") | put_num(b, stats_acc_mean(&s->repeat[r]));
        if (s->repeat[r].n)
            stats_acc_add(&means, stats_acc_mean(&s->repeat[r]));
    }
    size_t all_pass = 0, all_fail = 0;
    for (size_t i = 0; i < nrows; i++) {
        all_pass += rows[i].pass == rows[i].acc.n;
        all_fail += rows[i].zero == rows[i].acc.n;
        if (rows[i].acc.n >= 2)
            stats_acc_add(&row_std, stats_acc_std(&rows[i].acc));
    }
    free(rows);
    rc |= util_buf_puts(b, "],\"std_across_repeats\":") | put_num(b, stats_acc_std(&means)) |
          util_buf_puts(b, ",\"mean_row_std\":") | put_num(b, stats_acc_mean(&row_std));
    return rc | util_buf_printf(b, ",\"all_pass\":%zu,\"all_fail\":%zu,\"mixed\":%zu}", all_pass,
                                all_fail, nrows - all_pass - all_fail);
}

int summary_json(const summary *s, util_buf *out, char *err, size_t errsz)
{
    size_t done = s->graded + s->failed;
    size_t planned = s->o.planned ? s->o.planned : done;
    int rc = util_buf_printf(out, "{\"schema\":\"" SCHEMA "\",\"complete\":%s,\"model\":",
                             s->o.complete ? "true" : "false") |
             put_str(out, s->model) |
             util_buf_printf(out, ",\"counts\":{\"planned\":%zu,\"graded\":%zu,\"failed\":%zu,"
                                  "\"not_run\":%zu}",
                             planned, s->graded, s->failed, planned > done ? planned - done : 0);
    rc |= put_score(out, s) | put_categories(out, s) | put_types(out, s) | put_depth(out, s) |
          put_functions(out, s) | put_counts(out, &s->finish, "finish_reasons", "reason") |
          put_counts(out, &s->anomalies, "anomalies", "anomaly") | put_tokens(out, s) |
          put_latency(out, s);
    rc |= util_buf_printf(out, ",\"failures\":{\"total\":%zu", s->failed) |
          put_counts(out, &s->failures, "by_class", "class");
    rc |= util_buf_putc(out, '}') | put_repeats(out, s) | util_buf_putc(out, '}');
    if (rc) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    return 0;
}
