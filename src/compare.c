/* compare — two rollouts files paired row by row (see compare.h).
 *
 * How it works: compare_add reduces each line to a record (rollout.h does
 * the reading); the expected function names of a record are appended,
 * NUL-separated, to one names buffer of its side. compare_json sorts both
 * sides by key and walks them together; matched pairs feed the score, the
 * McNemar table, the category transitions and the depth buckets, and one
 * (function, a, b) triple per distinct expected function, which are then
 * sorted by name and grouped. Nothing here needs a hash table.
 */
#include "compare.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "grade.h"
#include "rollout.h"
#include "stats.h"
#include "util.h"

#define SCHEMA "fcpivot.report.compare/1"
#define FIRST_RECORDS 1024   /* a side's records start with room for these */
#define FIRST_PAIRS 256      /* function pairs likewise */

typedef struct record {
    int64_t task, repeat, line;
    double reward;
    size_t names, nnames;   /* offset into the side's names buffer, count */
    unsigned char category, bucket;
} record;

typedef struct side {
    record *r;
    size_t n, cap;
    util_buf names;
    bool all_indexed;
    stats_acc reward;
    char *model;
} side;

struct compare {
    side s[2];
};

typedef struct fnpair {
    const char *name;
    double a, b;
} fnpair;

compare *compare_new(void)
{
    compare *c = calloc(1, sizeof *c);
    if (c)
        c->s[0].all_indexed = c->s[1].all_indexed = true;
    return c;
}

void compare_free(compare *c)
{
    if (!c)
        return;
    for (int i = 0; i < 2; i++) {
        free(c->s[i].r);
        util_buf_free(&c->s[i].names);
        free(c->s[i].model);
    }
    free(c);
}

/* The distinct expected function names of r, appended to the names buffer. */
static int add_names(side *sd, const rollout *r, record *rec)
{
    rec->names = sd->names.len;
    size_t n = grade_action_ncalls(r->expected);
    for (size_t i = 0; i < n; i++) {
        const char *name = grade_action_call_name(r->expected, i);
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = !strcmp(name, grade_action_call_name(r->expected, j));
        if (seen)
            continue;
        if (util_buf_append(&sd->names, name, strlen(name) + 1))
            return -1;
        rec->nnames++;
    }
    return 0;
}

int compare_add(compare *c, int side_no, const char *line, size_t len, char *err, size_t errsz)
{
    side *sd = &c->s[side_no ? 1 : 0];
    rollout r;
    if (rollout_parse(line, len, &r, err, errsz))
        return -1;
    int rc = -1;
    if (util_grow(&sd->r, &sd->cap, sd->n + 1, sizeof *sd->r, FIRST_RECORDS))
        goto nomem;
    record *rec = &sd->r[sd->n];
    *rec = (record){.task = r.task, .repeat = r.repeat, .line = (int64_t)sd->n,
                    .reward = r.reward, .category = (unsigned char)r.category,
                    .bucket = (unsigned char)rollout_depth_bucket(r.depth)};
    if (add_names(sd, &r, rec))
        goto nomem;
    if (r.model && !sd->model && !(sd->model = strdup(r.model)))
        goto nomem;
    sd->all_indexed &= r.has_index;
    stats_acc_add(&sd->reward, r.reward);
    sd->n++;
    rc = 0;
    goto done;
nomem:
    snprintf(err, errsz, "out of memory");
done:
    rollout_clear(&r);
    return rc;
}

/* ---- pairing ------------------------------------------------------------- */

static int cmp_index(const void *x, const void *y)
{
    const record *a = x, *b = y;
    if (a->task != b->task)
        return a->task < b->task ? -1 : 1;
    if (a->repeat != b->repeat)
        return a->repeat < b->repeat ? -1 : 1;
    return (a->line > b->line) - (a->line < b->line);
}

static int cmp_line(const void *x, const void *y)
{
    const record *a = x, *b = y;
    return (a->line > b->line) - (a->line < b->line);
}

/* −1, 0, 1: how the keys of a and b compare under the pairing mode. */
static int key_cmp(const record *a, const record *b, bool by_index)
{
    if (!by_index)
        return (a->line > b->line) - (a->line < b->line);
    if (a->task != b->task)
        return a->task < b->task ? -1 : 1;
    return (a->repeat > b->repeat) - (a->repeat < b->repeat);
}

typedef struct tally {
    size_t matched, only[2];
    stats_acc a, b, diff;
    bool binary;
    size_t mc[2][2];                     /* [a pass][b pass] */
    size_t trans[GRADE_CATEGORY_COUNT][GRADE_CATEGORY_COUNT];
    stats_acc da[ROLLOUT_DEPTH_BUCKETS + 1], db[ROLLOUT_DEPTH_BUCKETS + 1];
    fnpair *fn;
    size_t nfn, capfn;
} tally;

static int add_pair(tally *t, const side *sa, const record *a, const record *b)
{
    t->matched++;
    stats_acc_add(&t->a, a->reward);
    stats_acc_add(&t->b, b->reward);
    stats_acc_add(&t->diff, b->reward - a->reward);
    bool bin = (a->reward == 0.0 || a->reward == 1.0) && (b->reward == 0.0 || b->reward == 1.0);
    t->binary &= bin;
    if (bin)
        t->mc[a->reward == 1.0][b->reward == 1.0]++;
    t->trans[a->category][b->category]++;
    stats_acc_add(&t->da[a->bucket], a->reward);
    stats_acc_add(&t->db[a->bucket], b->reward);
    const char *name = sa->names.data ? sa->names.data + a->names : NULL;
    for (size_t i = 0; i < a->nnames; i++, name += strlen(name) + 1) {
        if (util_grow(&t->fn, &t->capfn, t->nfn + 1, sizeof *t->fn, FIRST_PAIRS))
            return -1;
        t->fn[t->nfn++] = (fnpair){name, a->reward, b->reward};
    }
    return 0;
}

static int pair_all(compare *c, tally *t, bool by_index)
{
    side *sa = &c->s[0], *sb = &c->s[1];
    int (*cmp)(const void *, const void *) = by_index ? cmp_index : cmp_line;
    if (sa->n)
        qsort(sa->r, sa->n, sizeof *sa->r, cmp);
    if (sb->n)
        qsort(sb->r, sb->n, sizeof *sb->r, cmp);
    size_t i = 0, j = 0;
    while (i < sa->n && j < sb->n) {
        int k = key_cmp(&sa->r[i], &sb->r[j], by_index);
        if (k < 0) {
            t->only[0]++, i++;
        } else if (k > 0) {
            t->only[1]++, j++;
        } else if (add_pair(t, sa, &sa->r[i++], &sb->r[j++])) {
            return -1;
        }
    }
    t->only[0] += sa->n - i;
    t->only[1] += sb->n - j;
    return 0;
}

/* ---- JSON ---------------------------------------------------------------- */

static int put_num(util_buf *b, double v)
{
    char s[32];
    return isfinite(v) ? util_buf_append(b, s, util_float_repr(v, s, sizeof s))
                       : util_buf_puts(b, "null");
}

static int put_abm(util_buf *b, const stats_acc *a, const stats_acc *bb)
{
    double ma = stats_acc_mean(a), mb = stats_acc_mean(bb);
    return util_buf_printf(b, "\"n\":%zu,\"a\":", a->n) | put_num(b, ma) |
           util_buf_puts(b, ",\"b\":") | put_num(b, mb) | util_buf_puts(b, ",\"delta\":") |
           put_num(b, mb - ma);
}

static int put_side(util_buf *b, const char *name, const side *s)
{
    int rc = util_buf_printf(b, ",\"%s\":{\"rollouts\":%zu,\"mean\":", name, s->n) |
             put_num(b, stats_acc_mean(&s->reward)) | util_buf_puts(b, ",\"model\":");
    rc |= s->model ? util_buf_json_string(b, s->model, strlen(s->model)) : util_buf_puts(b, "null");
    return rc | util_buf_putc(b, '}');
}

static int put_score(util_buf *b, const tally *t)
{
    double se = stats_acc_stderr(&t->diff), d = stats_acc_mean(&t->diff);
    int rc = util_buf_puts(b, ",\"score\":{\"a\":") | put_num(b, stats_acc_mean(&t->a)) |
             util_buf_puts(b, ",\"b\":") | put_num(b, stats_acc_mean(&t->b)) |
             util_buf_puts(b, ",\"difference\":") | put_num(b, d) |
             util_buf_puts(b, ",\"stderr\":") | put_num(b, se) | util_buf_puts(b, ",\"ci95\":");
    if (isfinite(se))
        rc |= util_buf_putc(b, '[') | put_num(b, d - STATS_Z95 * se) | util_buf_putc(b, ',') |
              put_num(b, d + STATS_Z95 * se) | util_buf_putc(b, ']');
    else
        rc |= util_buf_puts(b, "null");
    rc |= util_buf_puts(b, "},\"mcnemar\":");
    if (!t->binary || !t->matched)
        return rc | util_buf_puts(b, "null");
    return rc | util_buf_printf(b, "{\"both_pass\":%zu,\"a_only\":%zu,\"b_only\":%zu,"
                                   "\"neither\":%zu,\"p_value\":",
                                t->mc[1][1], t->mc[1][0], t->mc[0][1], t->mc[0][0]) |
           put_num(b, stats_mcnemar_exact(t->mc[1][0], t->mc[0][1])) | util_buf_putc(b, '}');
}

typedef struct cell {
    size_t n;
    int from, to;
} cell;

static int cmp_cell(const void *x, const void *y)
{
    const cell *a = x, *b = y;
    if (a->n != b->n)
        return a->n < b->n ? 1 : -1;
    return a->from != b->from ? a->from - b->from : a->to - b->to;
}

static int put_transitions(util_buf *b, const tally *t)
{
    cell cells[GRADE_CATEGORY_COUNT * GRADE_CATEGORY_COUNT];
    size_t n = 0;
    for (int i = 0; i < GRADE_CATEGORY_COUNT; i++)
        for (int j = 0; j < GRADE_CATEGORY_COUNT; j++)
            if (t->trans[i][j])
                cells[n++] = (cell){t->trans[i][j], i, j};
    qsort(cells, n, sizeof cells[0], cmp_cell);
    int rc = util_buf_puts(b, ",\"transitions\":[");
    for (size_t k = 0; k < n; k++)
        rc |= util_buf_printf(b, "%s{\"from\":\"%s\",\"to\":\"%s\",\"n\":%zu}", k ? "," : "",
                              grade_category_name((grade_category)cells[k].from),
                              grade_category_name((grade_category)cells[k].to), cells[k].n);
    rc |= util_buf_puts(b, "],\"categories\":[");
    for (int c = 0; c < GRADE_CATEGORY_COUNT; c++) {
        size_t na = 0, nb = 0;
        for (int k = 0; k < GRADE_CATEGORY_COUNT; k++) {
            na += t->trans[c][k];
            nb += t->trans[k][c];
        }
        const char *text = grade_category_text((grade_category)c);
        rc |= util_buf_printf(b, "%s{\"name\":\"%s\",\"text\":", c ? "," : "",
                              grade_category_name((grade_category)c)) |
              util_buf_json_string(b, text, strlen(text)) |
              util_buf_printf(b, ",\"a\":%zu,\"b\":%zu,\"delta\":%lld}", na, nb,
                              (long long)nb - (long long)na);
    }
    return rc | util_buf_putc(b, ']');
}

static int put_depth(util_buf *b, const tally *t)
{
    int rc = util_buf_puts(b, ",\"depth\":[");
    for (int i = 0; i <= ROLLOUT_DEPTH_BUCKETS; i++)
        rc |= util_buf_printf(b, "%s{\"bucket\":\"%s\",", i ? "," : "", rollout_depth_label(i)) |
              put_abm(b, &t->da[i], &t->db[i]) | util_buf_putc(b, '}');
    return rc | util_buf_putc(b, ']');
}

static int cmp_fn(const void *x, const void *y)
{
    return strcmp(((const fnpair *)x)->name, ((const fnpair *)y)->name);
}

typedef struct fngroup {
    const char *name;
    stats_acc a, b;
} fngroup;

static int cmp_group(const void *x, const void *y)
{
    const fngroup *a = x, *b = y;
    if (a->a.n != b->a.n)
        return a->a.n < b->a.n ? 1 : -1;
    return strcmp(a->name, b->name);
}

static int put_functions(util_buf *b, tally *t)
{
    if (t->nfn)
        qsort(t->fn, t->nfn, sizeof *t->fn, cmp_fn);
    fngroup *g = t->nfn ? malloc(t->nfn * sizeof *g) : NULL;
    if (t->nfn && !g)
        return -1;
    size_t ng = 0;
    for (size_t i = 0; i < t->nfn; i++) {
        if (!ng || strcmp(g[ng - 1].name, t->fn[i].name))
            g[ng++] = (fngroup){.name = t->fn[i].name};
        stats_acc_add(&g[ng - 1].a, t->fn[i].a);
        stats_acc_add(&g[ng - 1].b, t->fn[i].b);
    }
    if (ng)
        qsort(g, ng, sizeof *g, cmp_group);
    int rc = util_buf_printf(b, ",\"functions\":{\"distinct\":%zu,\"top\":[", ng);
    for (size_t i = 0; i < ng && i < COMPARE_TOP_FUNCTIONS; i++)
        rc |= util_buf_puts(b, i ? ",{\"name\":" : "{\"name\":") |
              util_buf_json_string(b, g[i].name, strlen(g[i].name)) | util_buf_putc(b, ',') |
              put_abm(b, &g[i].a, &g[i].b) | util_buf_putc(b, '}');
    free(g);
    return rc | util_buf_puts(b, "]}");
}

int compare_json(compare *c, util_buf *out, char *err, size_t errsz)
{
    tally *t = calloc(1, sizeof *t);
    int rc = -1;
    if (!t)
        goto done;
    t->binary = true;
    bool by_index = c->s[0].all_indexed && c->s[1].all_indexed;
    if (pair_all(c, t, by_index))
        goto done;
    rc = util_buf_puts(out, "{\"schema\":\"" SCHEMA "\"") | put_side(out, "a", &c->s[0]) |
         put_side(out, "b", &c->s[1]) |
         util_buf_printf(out, ",\"pairs\":{\"by\":\"%s\",\"matched\":%zu,\"only_a\":%zu,"
                              "\"only_b\":%zu}",
                         by_index ? "index" : "line", t->matched, t->only[0], t->only[1]) |
         put_score(out, t) | put_transitions(out, t) | put_depth(out, t) | put_functions(out, t) |
         util_buf_putc(out, '}');
done:
    if (t)
        free(t->fn);
    free(t);
    if (rc)
        snprintf(err, errsz, "out of memory");
    return rc ? -1 : 0;
}
