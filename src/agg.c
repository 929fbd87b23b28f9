/* agg — aggregate metrics of verify responses (see agg.h for the rules).
 *
 * How it works. agg_add_value reads a response in two phases: first it
 * checks everything and allocates all it may need (new columns, room for one
 * more row, side-table texts), then it commits the row, which cannot fail —
 * so a refused response leaves the aggregate as it was.
 *
 * Storage is columnar, in the order responses arrive: a row holds the two
 * indices, the reward as given (for rollout_infos) and where its usage
 * entries start in a shared list of (column, kind) pairs; each column holds
 * one double per row (NaN where the row lacks it). The few integers a double
 * cannot hold exactly (beyond 2^53, or beyond 64 bits) are kept as text in a
 * side table ordered by row, and an integer column that meets one keeps an
 * exact int64 copy so its max and min stay exact. Duplicate index pairs are
 * caught by an open-addressing set of row numbers.
 *
 * agg_finish sorts the rows by (task, rollout) — the order NeMo Gym's
 * profiler builds its data frame in — and computes each frame's statistics
 * the way pandas' nanops do: the mean is numpy's pairwise sum (missing values
 * as 0) over the count; the std is the two-pass sample variance with the same
 * sums; the median averages the two middle values (for an odd count numpy's
 * masked-array path, used for blocks of several float columns shorter than
 * MA_MEDIAN_ROWS rows, adds the middle value to itself before halving, which
 * only matters when that overflows); max and min skip missing values.
 */
#include "agg.h"

#include <inttypes.h>
#include <stdarg.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util.h"

/* Rows one aggregate accepts (row numbers are 32-bit). */
#define AGG_MAX_ROWS ((size_t)INT32_MAX)
/* Integers of larger magnitude may not survive a trip through a double. */
#define EXACT_LIMIT (INT64_C(1) << 53)
/* np.nanmedian takes its masked-array path below this many rows. */
#define MA_MEDIAN_ROWS 600
/* numpy's pairwise summation: 8 accumulators, blocks of 128. */
#define PW_UNROLL 8
#define PW_BLOCKSIZE 128
/* Row number of the side-table entry holding a reward. */
#define BIG_REWARD UINT32_MAX
/* First row capacity. */
#define FIRST_ROWS 64
/* agg_write hands the text over in pieces of about this size. */
#define FLUSH_BYTES (1u << 20)

enum { RW_ABSENT, RW_NULL, RW_FALSE, RW_TRUE, RW_INT, RW_FLOAT, RW_TEXT };
enum { UK_INT, UK_FLOAT, UK_TEXT };
enum { ST_MEAN, ST_MAX, ST_MIN, ST_MEDIAN, ST_STD, NSTATS };
static const char *const STAT_NAME[NSTATS] = {"mean", "max", "min", "median", "std"};

typedef struct agg_col {
    char *name;          /* WTF-8, owned */
    size_t len;
    uint32_t hash;       /* pj_key_hash */
    double *v;           /* [row capacity]; NaN where absent */
    int64_t *exact;      /* NULL, or exact values while the column holds only ints */
    bool floaty;         /* holds a float (NaN included) or a beyond-64-bit int */
    size_t present;      /* rows holding the column */
} agg_col;

typedef struct agg_row {
    int64_t task, rollout;
    union { double f; int64_t i; } reward;
    size_t usage_at;     /* first entry in agg.usage */
    size_t cols_at;      /* first entry in agg.cellcols */
    uint8_t usage_n, ncols;
    uint8_t reward_kind; /* RW_* */
} agg_row;

typedef struct agg_usage { uint8_t col, kind; } agg_usage;   /* kind: UK_* */

typedef struct agg_text {
    uint32_t row, col;   /* col BIG_REWARD for the reward */
    char *text;          /* owned decimal digits */
} agg_text;

struct agg {
    agg_row *rows;
    size_t n, cap;
    agg_col cols[AGG_MAX_COLUMNS];
    size_t ncols;
    agg_usage *usage;
    size_t nusage, usage_cap;
    uint8_t *cellcols;   /* each row's columns in its own key order */
    size_t ncellcols, cellcols_cap;
    agg_text *texts;
    size_t ntexts, texts_cap;
    uint32_t *slots;     /* row + 1, 0 when free; a power of two of them */
    size_t nslots;
};

agg *agg_new(void)
{
    return calloc(1, sizeof(agg));
}

size_t agg_count(const agg *a)
{
    return a->n;
}

void agg_free(agg *a)
{
    if (!a)
        return;
    for (size_t c = 0; c < a->ncols; c++) {
        free(a->cols[c].name);
        free(a->cols[c].v);
        free(a->cols[c].exact);
    }
    for (size_t i = 0; i < a->ntexts; i++)
        free(a->texts[i].text);
    free(a->rows);
    free(a->usage);
    free(a->cellcols);
    free(a->texts);
    free(a->slots);
    free(a);
}

/* ---- reading one response ------------------------------------------------ */

static bool is_number(const pj_value *v)
{
    return v->type == PJ_BOOL || v->type == PJ_INT || v->type == PJ_FLOAT || v->type == PJ_BIGINT;
}

static bool key_is(const char *k, size_t n, const char *name)
{
    return n == strlen(name) && memcmp(k, name, n) == 0;
}

/* Keys that are never columns: the two indices and NeMo Gym's grouping column. */
static bool excluded_key(const char *k, size_t n)
{
    return key_is(k, n, "_ng_task_index") || key_is(k, n, "_ng_rollout_index") ||
           key_is(k, n, "agent_name");
}

/* Whether a usage entry goes into rollout_infos. */
static bool usage_listed(const pj_member *m)
{
    return !excluded_key(m->key, m->klen) && is_number(&m->value) &&
           !key_is(m->key, m->klen, "reward") && !key_is(m->key, m->klen, "rollout_id");
}

/* One numeric value of the merged response, as it will be stored. */
typedef struct cell {
    const pj_member *key;
    const pj_value *val;
    long col;            /* column index, or -1 for a new column */
} cell;

/* What agg_add_value gathered in its checking phase. */
typedef struct pending {
    int64_t task, rollout;
    const pj_value *reward;   /* NULL when absent */
    const pj_value *usage;    /* an object, or NULL */
    cell cells[AGG_MAX_COLUMNS];
    size_t ncells;
    size_t nusage;            /* numeric usage entries */
    size_t ntexts;            /* side-table texts needed */
    size_t nnew;              /* new columns */
} pending;

static long find_col(const agg *a, const char *k, size_t n, uint32_t h)
{
    for (size_t c = 0; c < a->ncols; c++)
        if (a->cols[c].hash == h && a->cols[c].len == n && memcmp(a->cols[c].name, k, n) == 0)
            return (long)c;
    return -1;
}

static int read_index(const pj_value *obj, const char *key, int64_t *out, char *err, size_t errsz)
{
    const pj_value *v = pj_object_get(obj, key, strlen(key));
    *out = 0;
    if (!v)
        return 0;
    if (v->type == PJ_INT) {
        *out = v->u.i;
        return 0;
    }
    util_set_err(err, errsz, "%s: must be an integer%s", key,
                 v->type == PJ_BIGINT ? " of at most 64 bits" : "");
    return AGG_INVALID;
}

/* response.usage as an object, or NULL when there is none. */
static int read_usage(const pj_value *vr, const pj_value **usage, char *err, size_t errsz)
{
    *usage = NULL;
    const pj_value *resp = pj_object_get(vr, "response", 8);
    if (!resp || resp->type == PJ_NULL)
        return 0;
    if (resp->type != PJ_OBJECT) {
        util_set_err(err, errsz, "response: must be an object");
        return AGG_INVALID;
    }
    const pj_value *u = pj_object_get(resp, "usage", 5);
    if (!u || u->type == PJ_NULL)
        return 0;
    if (u->type != PJ_OBJECT) {
        util_set_err(err, errsz, "response.usage: must be an object");
        return AGG_INVALID;
    }
    *usage = u;
    return 0;
}

static bool needs_text(const pj_value *v)
{
    return v->type == PJ_BIGINT ||
           (v->type == PJ_INT && (v->u.i > EXACT_LIMIT || v->u.i < -EXACT_LIMIT));
}

static int add_cell(const agg *a, pending *p, const pj_member *key, const pj_value *val,
                    char *err, size_t errsz)
{
    if (p->ncells == AGG_MAX_COLUMNS) {
        util_set_err(err, errsz, "more than %d numeric fields", AGG_MAX_COLUMNS);
        return AGG_INVALID;
    }
    long col = find_col(a, key->key, key->klen, key->khash);
    if (col < 0) {
        /* a new column unless an earlier cell of this response created it:
           keys are unique within the merged response, so it did not */
        if (a->ncols + p->nnew == AGG_MAX_COLUMNS) {
            util_set_err(err, errsz, "more than %d distinct numeric fields", AGG_MAX_COLUMNS);
            return AGG_INVALID;
        }
        p->nnew++;
    }
    p->cells[p->ncells++] = (cell){key, val, col};
    return 0;
}

/* The merged response (response | usage): the response's keys in order, each
 * with usage's value when usage has it, then usage's other keys. */
static int gather_cells(const agg *a, const pj_value *vr, pending *p, char *err, size_t errsz)
{
    for (size_t i = 0; i < vr->u.obj.n; i++) {
        const pj_member *m = &vr->u.obj.items[i];
        if (excluded_key(m->key, m->klen))
            continue;
        const pj_value *u = p->usage ? pj_object_get(p->usage, m->key, m->klen) : NULL;
        const pj_value *val = u ? u : &m->value;
        if (is_number(val) && add_cell(a, p, m, val, err, errsz))
            return AGG_INVALID;
    }
    if (!p->usage)
        return 0;
    for (size_t i = 0; i < p->usage->u.obj.n; i++) {
        const pj_member *m = &p->usage->u.obj.items[i];
        if (excluded_key(m->key, m->klen) || !is_number(&m->value))
            continue;
        if (usage_listed(m)) {
            p->nusage++;
            p->ntexts += needs_text(&m->value);
        }
        if (!pj_object_get(vr, m->key, m->klen) && add_cell(a, p, m, &m->value, err, errsz))
            return AGG_INVALID;
    }
    return 0;
}

static uint64_t pair_hash(int64_t task, int64_t rollout)
{
    uint64_t h = (uint64_t)task * 0x9E3779B97F4A7C15u ^ ((uint64_t)rollout + 0x632BE59BD9B4E019u);
    h ^= h >> 31;
    h *= 0xBF58476D1CE4E5B9u;
    return h ^ (h >> 29);
}

/* The row holding (task, rollout), or -1. */
static long find_pair(const agg *a, int64_t task, int64_t rollout)
{
    if (a->nslots == 0)
        return -1;
    size_t mask = a->nslots - 1;
    for (size_t i = pair_hash(task, rollout) & mask;; i = (i + 1) & mask) {
        uint32_t s = a->slots[i];
        if (s == 0)
            return -1;
        const agg_row *r = &a->rows[s - 1];
        if (r->task == task && r->rollout == rollout)
            return (long)(s - 1);
    }
}

static void insert_pair(agg *a, uint32_t row)
{
    size_t mask = a->nslots - 1;
    size_t i = pair_hash(a->rows[row].task, a->rows[row].rollout) & mask;
    while (a->slots[i])
        i = (i + 1) & mask;
    a->slots[i] = row + 1;
}

/* Checking phase: everything about the response, nothing changed. */
static int check_response(const agg *a, const pj_value *vr, pending *p, char *err, size_t errsz)
{
    memset(p, 0, offsetof(pending, cells));
    p->ncells = p->nusage = p->ntexts = p->nnew = 0;
    if (vr->type != PJ_OBJECT) {
        util_set_err(err, errsz, "must be an object, not %s", pj_type_name(vr));
        return AGG_INVALID;
    }
    if (a->n == AGG_MAX_ROWS) {
        util_set_err(err, errsz, "more than %zu verify responses", AGG_MAX_ROWS);
        return AGG_INVALID;
    }
    if (read_index(vr, "_ng_task_index", &p->task, err, errsz) ||
        read_index(vr, "_ng_rollout_index", &p->rollout, err, errsz) ||
        read_usage(vr, &p->usage, err, errsz))
        return AGG_INVALID;
    p->reward = pj_object_get(vr, "reward", 6);
    if (p->reward && !is_number(p->reward) && p->reward->type != PJ_NULL) {
        util_set_err(err, errsz, "reward: must be a number, a boolean or null, not %s",
                     pj_type_name(p->reward));
        return AGG_INVALID;
    }
    if (find_pair(a, p->task, p->rollout) >= 0) {
        util_set_err(err, errsz, "duplicate (_ng_task_index, _ng_rollout_index) pair (%" PRId64
                     ", %" PRId64 ")", p->task, p->rollout);
        return AGG_INVALID;
    }
    if (p->reward && needs_text(p->reward))
        p->ntexts++;
    return gather_cells(a, vr, p, err, errsz);
}

/* ---- growing ------------------------------------------------------------- */

static int grow(void *array, size_t *cap, size_t need, size_t size)
{
    return util_grow(array, cap, need, size, FIRST_ROWS);
}

/* Room for one more row in the rows, every column and the pair set. */
static int reserve_row(agg *a)
{
    if (a->n < a->cap) {
        /* the set is kept at most half full */
    } else {
        /* the rows and every column grow to the same capacity */
        size_t cap = a->cap;
        for (size_t c = 0; c < a->ncols; c++) {
            size_t cv = a->cap, ce = a->cap;
            if (grow(&a->cols[c].v, &cv, a->n + 1, sizeof *a->cols[c].v) ||
                (a->cols[c].exact && grow(&a->cols[c].exact, &ce, a->n + 1, sizeof *a->cols[c].exact)))
                return -1;
        }
        if (grow(&a->rows, &cap, a->n + 1, sizeof *a->rows))
            return -1;
        a->cap = cap;
    }
    if ((a->n + 1) * 2 <= a->nslots)
        return 0;
    size_t ns = a->nslots ? a->nslots * 2 : FIRST_ROWS * 2;
    uint32_t *s = calloc(ns, sizeof *s);
    if (!s)
        return -1;
    free(a->slots);
    a->slots = s;
    a->nslots = ns;
    for (size_t i = 0; i < a->n; i++)
        insert_pair(a, (uint32_t)i);
    return 0;
}

static int new_column(agg *a, const pj_member *key)
{
    agg_col *c = &a->cols[a->ncols];
    memset(c, 0, sizeof *c);
    c->name = malloc(key->klen + 1);
    c->v = malloc(a->cap * sizeof *c->v);
    if (!c->name || !c->v) {
        free(c->name);
        free(c->v);
        return -1;
    }
    memcpy(c->name, key->key, key->klen);
    c->name[key->klen] = '\0';
    c->len = key->klen;
    c->hash = key->khash;
    for (size_t i = 0; i < a->n; i++)
        c->v[i] = NAN;
    a->ncols++;
    return 0;
}

/* An exact copy for an int column that meets an int a double cannot hold. */
static int reserve_exact(agg *a, agg_col *c, const pj_value *val)
{
    if (c->exact || c->floaty || val->type != PJ_INT || !needs_text(val))
        return 0;
    c->exact = malloc(a->cap * sizeof *c->exact);
    if (!c->exact)
        return -1;
    for (size_t i = 0; i < a->n; i++)
        c->exact[i] = isnan(c->v[i]) ? 0 : (int64_t)c->v[i];
    return 0;
}

static char *number_text(const pj_value *v)
{
    char small[24];
    const char *s = small;
    size_t n;
    if (v->type == PJ_BIGINT) {
        s = v->u.str.s;
        n = v->u.str.len;
    } else {
        n = (size_t)snprintf(small, sizeof small, "%" PRId64, v->u.i);
    }
    char *t = malloc(n + 1);
    if (t) {
        memcpy(t, s, n);
        t[n] = '\0';
    }
    return t;
}

/* Allocation phase: after it, committing cannot fail. */
static int reserve(agg *a, pending *p)
{
    if (reserve_row(a) ||
        grow(&a->usage, &a->usage_cap, a->nusage + p->nusage, sizeof *a->usage) ||
        grow(&a->cellcols, &a->cellcols_cap, a->ncellcols + p->ncells, 1) ||
        grow(&a->texts, &a->texts_cap, a->ntexts + p->ntexts, sizeof *a->texts))
        return -1;
    for (size_t i = 0; i < p->ncells; i++) {
        cell *ce = &p->cells[i];
        if (ce->col < 0) {
            if (new_column(a, ce->key))
                return -1;
            ce->col = (long)a->ncols - 1;
        }
        if (reserve_exact(a, &a->cols[ce->col], ce->val))
            return -1;
    }
    return 0;
}

/* ---- committing ---------------------------------------------------------- */

static double as_double(const pj_value *v)
{
    switch (v->type) {
    case PJ_BOOL: return v->u.b ? 1.0 : 0.0;
    case PJ_INT: return (double)v->u.i;
    case PJ_FLOAT: return v->u.f;
    default: return strtod(v->u.str.s, NULL);   /* PJ_BIGINT: "-?digits" */
    }
}

static void put_cell(agg_col *c, size_t row, const pj_value *val)
{
    c->v[row] = as_double(val);
    c->present++;
    if (val->type == PJ_FLOAT || val->type == PJ_BIGINT)
        c->floaty = true;
    else if (c->exact)
        c->exact[row] = val->type == PJ_BOOL ? val->u.b : val->u.i;
}

/* The texts prepared for one response, handed out in order. */
typedef struct text_list {
    char *t[AGG_MAX_COLUMNS + 1];
    size_t n, next;
} text_list;

static void put_text(agg *a, uint32_t col, text_list *tl)
{
    a->texts[a->ntexts++] = (agg_text){(uint32_t)a->n, col, tl->t[tl->next++]};
}

static void commit_reward(agg *a, agg_row *r, const pj_value *v, text_list *tl)
{
    if (!v) {
        r->reward_kind = RW_ABSENT;
    } else if (v->type == PJ_NULL) {
        r->reward_kind = RW_NULL;
    } else if (v->type == PJ_BOOL) {
        r->reward_kind = v->u.b ? RW_TRUE : RW_FALSE;
    } else if (v->type == PJ_FLOAT) {
        r->reward_kind = RW_FLOAT;
        r->reward.f = v->u.f;
    } else if (needs_text(v)) {
        r->reward_kind = RW_TEXT;
        put_text(a, BIG_REWARD, tl);
    } else {
        r->reward_kind = RW_INT;
        r->reward.i = v->u.i;
    }
}

static void commit_usage(agg *a, const pending *p, agg_row *r, text_list *tl)
{
    r->usage_at = a->nusage;
    r->usage_n = 0;
    if (!p->usage)
        return;
    for (size_t i = 0; i < p->usage->u.obj.n; i++) {
        const pj_member *m = &p->usage->u.obj.items[i];
        if (!usage_listed(m))
            continue;
        long col = find_col(a, m->key, m->klen, m->khash);
        uint8_t kind = m->value.type == PJ_FLOAT ? UK_FLOAT : needs_text(&m->value) ? UK_TEXT : UK_INT;
        if (kind == UK_TEXT)
            put_text(a, (uint32_t)col, tl);
        a->usage[a->nusage++] = (agg_usage){(uint8_t)col, kind};
        r->usage_n++;
    }
}

/* The side-table texts of one response: the reward's, then usage's in order. */
static int prepare_texts(const pending *p, text_list *tl)
{
    tl->n = tl->next = 0;
    if (p->reward && needs_text(p->reward) && !(tl->t[tl->n++] = number_text(p->reward)))
        return -1;
    for (size_t i = 0; p->usage && i < p->usage->u.obj.n; i++) {
        const pj_member *m = &p->usage->u.obj.items[i];
        if (usage_listed(m) && needs_text(&m->value) && !(tl->t[tl->n++] = number_text(&m->value)))
            return -1;
    }
    return 0;
}

int agg_add_value(agg *a, const pj_value *vr, char *err, size_t errsz)
{
    pending p;
    if (check_response(a, vr, &p, err, errsz))
        return AGG_INVALID;
    text_list tl = {.n = 0};
    if (reserve(a, &p) || prepare_texts(&p, &tl)) {
        for (size_t i = 0; i < tl.n; i++)
            free(tl.t[i]);
        util_set_err(err, errsz, "out of memory");
        return AGG_NOMEM;
    }
    size_t row = a->n;
    agg_row *r = &a->rows[row];
    r->task = p.task;
    r->rollout = p.rollout;
    commit_reward(a, r, p.reward, &tl);
    commit_usage(a, &p, r, &tl);
    for (size_t c = 0; c < a->ncols; c++)
        a->cols[c].v[row] = NAN;
    r->cols_at = a->ncellcols;
    r->ncols = (uint8_t)p.ncells;
    for (size_t i = 0; i < p.ncells; i++) {
        put_cell(&a->cols[p.cells[i].col], row, p.cells[i].val);
        a->cellcols[a->ncellcols++] = (uint8_t)p.cells[i].col;
    }
    a->n++;
    insert_pair(a, (uint32_t)row);
    return 0;
}

int agg_add(agg *a, const char *text, size_t len, char *err, size_t errsz)
{
    char first[4096];
    util_arena arena;
    util_arena_init(&arena, first, sizeof first);
    pj_value v;
    char why[256];
    int rc;
    if (pj_parse(&arena, text, len, &v, why, sizeof why) == 0)
        rc = agg_add_value(a, &v, err, errsz);
    else if (strstr(why, "memory")) {
        util_set_err(err, errsz, "out of memory");
        rc = AGG_NOMEM;
    } else {
        util_set_err(err, errsz, "not valid JSON: %s", why);
        rc = AGG_INVALID;
    }
    util_arena_free(&arena);
    return rc;
}

/* ---- statistics ---------------------------------------------------------- */

/* numpy's pairwise summation (pairwise_sum in loops_utils.h). */
static double pairwise_sum(const double *x, size_t n)
{
    if (n < PW_UNROLL) {
        double res = -0.0;
        for (size_t i = 0; i < n; i++)
            res += x[i];
        return res;
    }
    if (n <= PW_BLOCKSIZE) {
        double r[PW_UNROLL];
        for (size_t k = 0; k < PW_UNROLL; k++)
            r[k] = x[k];
        size_t i;
        for (i = PW_UNROLL; i < n - n % PW_UNROLL; i += PW_UNROLL)
            for (size_t k = 0; k < PW_UNROLL; k++)
                r[k] += x[i + k];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++)
            res += x[i];
        return res;
    }
    size_t n2 = n / 2;
    n2 -= n2 % PW_UNROLL;
    return pairwise_sum(x, n2) + pairwise_sum(x + n2, n - n2);
}

/* np.add.reduce: the identity 0.0 plus the pairwise sum. */
static double np_sum(const double *x, size_t n)
{
    return 0.0 + pairwise_sum(x, n);
}

static int double_cmp(const void *pa, const void *pb)
{
    double x = *(const double *)pa, y = *(const double *)pb;
    return (x > y) - (x < y);
}

/* What is common to every frame (the data frame's column dtypes). */
typedef struct frame {
    const agg *a;
    bool int_frame;                    /* no float column: max and min are ints */
    bool col_float[AGG_MAX_COLUMNS];   /* float64 column (else int64) */
    size_t nfloat;
    uint8_t order[AGG_MAX_COLUMNS];    /* columns by first appearance in sorted rows */
    double *x, *y;                     /* scratch of a->n each */
} frame;

/* The statistics of one frame (all rows, or one task's). */
typedef struct stats {
    double s[NSTATS][AGG_MAX_COLUMNS];     /* NaN when undefined */
    int64_t imax[AGG_MAX_COLUMNS], imin[AGG_MAX_COLUMNS];
    size_t count[AGG_MAX_COLUMNS];         /* values present */
} stats;

static int64_t exact_value(const agg_col *c, uint32_t row)
{
    return c->exact ? c->exact[row] : (int64_t)c->v[row];
}

static double median_of(double *y, size_t cnt, bool masked_path)
{
    if (cnt == 0)
        return NAN;
    qsort(y, cnt, sizeof *y, double_cmp);
    size_t h = cnt / 2;
    if (cnt % 2 == 0)
        return (y[h - 1] + y[h]) / 2;
    return masked_path ? (y[h] + y[h]) / 2 : y[h];
}

/* Column c over rows[0..m), as pandas' nanops compute it. */
static void column_stats(const frame *f, const uint32_t *rows, size_t m, size_t c, stats *st)
{
    const agg_col *col = &f->a->cols[c];
    double *x = f->x, *y = f->y;
    size_t cnt = 0;
    for (size_t k = 0; k < m; k++) {
        double v = col->v[rows[k]];
        x[k] = isnan(v) ? 0.0 : v;
        if (!isnan(v))
            y[cnt++] = v;
    }
    st->count[c] = cnt;
    double count = (double)cnt, mean = cnt ? np_sum(x, m) / count : NAN;
    st->s[ST_MEAN][c] = mean;
    double mx = NAN, mn = NAN;
    for (size_t k = 0; k < cnt; k++) {
        if (k == 0 || y[k] > mx)
            mx = y[k];
        if (k == 0 || y[k] < mn)
            mn = y[k];
    }
    st->s[ST_MAX][c] = mx;
    st->s[ST_MIN][c] = mn;
    if (f->int_frame) {
        for (size_t k = 0; k < m; k++) {
            int64_t v = exact_value(col, rows[k]);
            if (k == 0 || v > st->imax[c])
                st->imax[c] = v;
            if (k == 0 || v < st->imin[c])
                st->imin[c] = v;
        }
    }
    double sd = NAN;
    if (cnt > 1) {
        for (size_t k = 0; k < m; k++) {
            double v = col->v[rows[k]];
            x[k] = isnan(v) ? 0.0 : (mean - v) * (mean - v);
        }
        sd = sqrt(np_sum(x, m) / (count - 1));
    }
    st->s[ST_STD][c] = sd;
    bool masked = f->col_float[c] && f->nfloat > 1 && m < MA_MEDIAN_ROWS;
    st->s[ST_MEDIAN][c] = median_of(y, cnt, masked);
}

/* Every column over rows[0..m), with the single-value rule for the std. */
static void frame_stats(const frame *f, const uint32_t *rows, size_t m, stats *st)
{
    bool all_undefined = true;
    for (size_t c = 0; c < f->a->ncols; c++) {
        column_stats(f, rows, m, c, st);
        if (!isnan(st->s[ST_STD][c]))
            all_undefined = false;
    }
    if (!all_undefined)
        return;
    for (size_t c = 0; c < f->a->ncols; c++)
        if (st->count[c] == m)
            st->s[ST_STD][c] = 0.0;
}

/* ---- writing ------------------------------------------------------------- */

/* A float as Python's json writes it. */
static int put_float(util_buf *b, double v)
{
    if (isnan(v))
        return util_buf_puts(b, "NaN");
    if (isinf(v))
        return util_buf_puts(b, v > 0 ? "Infinity" : "-Infinity");
    char num[32];
    return util_buf_append(b, num, util_float_repr(v, num, sizeof num));
}

static int put_int(util_buf *b, int64_t v)
{
    return util_buf_printf(b, "%" PRId64, v);
}

/* ,"<stat>/<column>":value for each defined statistic (means only when asked). */
static int put_stats(util_buf *b, util_buf *key, const frame *f, const stats *st, bool means_only,
                     bool first)
{
    int rc = 0;
    for (int s = 0; s < NSTATS && rc == 0; s++) {
        if (means_only && s != ST_MEAN)
            break;
        for (size_t k = 0; k < f->a->ncols && rc == 0; k++) {
            size_t c = f->order[k];
            double v = st->s[s][c];
            if (isnan(v))
                continue;
            const agg_col *col = &f->a->cols[c];
            key->len = 0;
            rc |= util_buf_puts(key, STAT_NAME[s]) | util_buf_putc(key, '/') |
                  util_buf_append(key, col->name, col->len);
            if (!first)
                rc |= util_buf_putc(b, ',');
            first = false;
            rc |= util_buf_json_ascii(b, key->data, key->len) | util_buf_putc(b, ':');
            if (f->int_frame && (s == ST_MAX || s == ST_MIN))
                rc |= put_int(b, s == ST_MAX ? st->imax[c] : st->imin[c]);
            else
                rc |= put_float(b, v);
        }
    }
    return rc ? -1 : 0;
}

/* The side-table text of (row, col). Texts are in row order. */
static const char *text_of(const agg *a, uint32_t row, uint32_t col)
{
    size_t lo = 0, hi = a->ntexts;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a->texts[mid].row < row)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < a->ntexts && a->texts[i].row == row; i++)
        if (a->texts[i].col == col)
            return a->texts[i].text;
    return "null";   /* unreachable: every text was recorded */
}

static int put_reward(util_buf *b, const agg *a, uint32_t row)
{
    const agg_row *r = &a->rows[row];
    switch (r->reward_kind) {
    case RW_NULL: return util_buf_puts(b, "null");
    case RW_FALSE: return util_buf_puts(b, "false");
    case RW_TRUE: return util_buf_puts(b, "true");
    case RW_INT: return put_int(b, r->reward.i);
    case RW_FLOAT: return put_float(b, r->reward.f);
    default: return util_buf_puts(b, text_of(a, row, BIG_REWARD));
    }
}

static int put_rollout_info(util_buf *b, const agg *a, uint32_t row)
{
    const agg_row *r = &a->rows[row];
    int rc = util_buf_printf(b, "{\"rollout_id\":\"%" PRId64 ":%" PRId64 "\",\"_ng_task_index\":%"
                             PRId64 ",\"_ng_rollout_index\":%" PRId64, r->task, r->rollout,
                             r->task, r->rollout);
    if (r->reward_kind != RW_ABSENT)
        rc |= util_buf_puts(b, ",\"reward\":") | put_reward(b, a, row);
    for (size_t i = 0; i < r->usage_n; i++) {
        agg_usage u = a->usage[r->usage_at + i];
        const agg_col *col = &a->cols[u.col];
        rc |= util_buf_putc(b, ',') | util_buf_json_ascii(b, col->name, col->len) |
              util_buf_putc(b, ':');
        if (u.kind == UK_FLOAT)
            rc |= put_float(b, col->v[row]);
        else if (u.kind == UK_INT)
            rc |= put_int(b, (int64_t)col->v[row]);
        else
            rc |= util_buf_puts(b, text_of(a, row, u.col));
    }
    return rc | util_buf_putc(b, '}');
}

static int put_group(util_buf *b, util_buf *key, const frame *f, const uint32_t *rows, size_t m,
                     stats *st)
{
    frame_stats(f, rows, m, st);
    int rc = util_buf_puts(b, "{\"_ng_task_index\":") | put_int(b, f->a->rows[rows[0]].task);
    rc |= put_stats(b, key, f, st, false, false);
    rc |= util_buf_printf(b, ",\"sample\":{\"agent_ref\":{\"name\":\"agent\"}},\"num_rollouts\":%zu,"
                          "\"expected_num_rollouts\":%zu,\"missing_num_rollouts\":0,"
                          "\"reward_profile_completion_pct\":100.0,\"rollout_infos\":[", m, m);
    for (size_t k = 0; k < m; k++)
        rc |= (k ? util_buf_putc(b, ',') : 0) | put_rollout_info(b, f->a, rows[k]);
    return rc | util_buf_puts(b, "]}");
}

typedef struct sort_key {
    int64_t task, rollout;
    uint32_t row;
} sort_key;

static int key_cmp(const void *pa, const void *pb)
{
    const sort_key *x = pa, *y = pb;
    if (x->task != y->task)
        return (x->task > y->task) - (x->task < y->task);
    return (x->rollout > y->rollout) - (x->rollout < y->rollout);
}

/* The rows ordered by (task, rollout); caller frees. NULL on OOM. */
static uint32_t *sorted_rows(const agg *a)
{
    sort_key *keys = malloc(a->n * sizeof *keys);
    uint32_t *perm = malloc(a->n * sizeof *perm);
    if (keys && perm) {
        for (size_t i = 0; i < a->n; i++)
            keys[i] = (sort_key){a->rows[i].task, a->rows[i].rollout, (uint32_t)i};
        qsort(keys, a->n, sizeof *keys, key_cmp);
        for (size_t i = 0; i < a->n; i++)
            perm[i] = keys[i].row;
    } else {
        free(perm);
        perm = NULL;
    }
    free(keys);
    return perm;
}

/* The data frame's dtypes, and its column order: pandas' from_records takes
 * the keys in order of first appearance over the sorted rows. */
static void frame_init(frame *f, const agg *a, const uint32_t *perm)
{
    f->a = a;
    f->int_frame = true;
    f->nfloat = 0;
    bool seen[AGG_MAX_COLUMNS] = {false};
    size_t nseen = 0;
    for (size_t k = 0; k < a->n && nseen < a->ncols; k++) {
        const agg_row *r = &a->rows[perm[k]];
        for (size_t i = 0; i < r->ncols; i++) {
            uint8_t c = a->cellcols[r->cols_at + i];
            if (!seen[c]) {
                seen[c] = true;
                f->order[nseen++] = c;
            }
        }
    }
    for (size_t c = 0; c < a->ncols; c++) {
        if (!seen[c])   /* only a refused response's leftover (after AGG_NOMEM) */
            f->order[nseen++] = (uint8_t)c;
        f->col_float[c] = a->cols[c].floaty || a->cols[c].present < a->n;
        f->nfloat += f->col_float[c];
        if (f->col_float[c])
            f->int_frame = false;
    }
}

/* Where the text goes: out only (fn NULL), or out as a buffer that fn drains
 * whenever it holds FLUSH_BYTES, and at the end. */
typedef struct sink {
    util_buf *out;
    agg_sink_fn fn;
    void *ctx;
    bool failed;         /* fn failed */
} sink;

static int drain(sink *k, bool at_end)
{
    if (!k->fn || k->failed || (!at_end && k->out->len < FLUSH_BYTES))
        return k->failed ? -1 : 0;
    if (k->out->len && k->fn(k->ctx, k->out->data, k->out->len) != 0)
        k->failed = true;
    k->out->len = 0;
    return k->failed ? -1 : 0;
}

static int put_all(sink *k, const frame *f, const uint32_t *perm, stats *agent, stats *st)
{
    const agg *a = f->a;
    util_buf *out = k->out, key = UTIL_BUF_INIT;
    frame_stats(f, perm, a->n, agent);
    int rc = util_buf_puts(out, "{\"group_level_metrics\":[");
    for (size_t s = 0, e; s < a->n && rc == 0; s = e) {
        for (e = s + 1; e < a->n && a->rows[perm[e]].task == a->rows[perm[s]].task; e++)
            ;
        rc |= (s ? util_buf_putc(out, ',') : 0) | put_group(out, &key, f, perm + s, e - s, st);
        rc |= drain(k, false);
    }
    rc |= util_buf_puts(out, "],\"agent_metrics\":{") | put_stats(out, &key, f, agent, false, true);
    rc |= util_buf_puts(out, "},\"key_metrics\":{") | put_stats(out, &key, f, agent, true, true);
    rc |= util_buf_puts(out, "}}") | drain(k, true);
    util_buf_free(&key);
    return rc ? -1 : 0;
}

static int emit(const agg *a, sink *k, char *err, size_t errsz)
{
    int rc;
    if (a->n == 0) {
        rc = util_buf_puts(k->out, "{\"group_level_metrics\":[],\"agent_metrics\":{},\"key_metrics\":{}}") |
             drain(k, true);
    } else {
        frame f;
        uint32_t *perm = sorted_rows(a);
        if (perm)
            frame_init(&f, a, perm);
        f.x = malloc(a->n * sizeof *f.x);
        f.y = malloc(a->n * sizeof *f.y);
        stats *st = malloc(2 * sizeof *st);
        rc = f.x && f.y && perm && st ? put_all(k, &f, perm, &st[0], &st[1]) : -1;
        free(f.x);
        free(f.y);
        free(perm);
        free(st);
    }
    if (rc == 0)
        return 0;
    if (k->failed) {
        util_set_err(err, errsz, "the writer failed");
        return AGG_SINK;
    }
    util_set_err(err, errsz, "out of memory");
    return AGG_NOMEM;
}

int agg_finish(const agg *a, util_buf *out, char *err, size_t errsz)
{
    sink k = {out, NULL, NULL, false};
    return emit(a, &k, err, errsz);
}

int agg_write(const agg *a, agg_sink_fn fn, void *ctx, char *err, size_t errsz)
{
    util_buf buf = UTIL_BUF_INIT;
    sink k = {&buf, fn, ctx, false};
    int rc = emit(a, &k, err, errsz);
    util_buf_free(&buf);
    return rc;
}
