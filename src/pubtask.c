/* pubtask — public task descriptions written from the row bytes (see
 * pubtask.h).
 *
 * How it works: a public task is a fixed head ({"id":"<split>-<i>",
 * "split":..,"index":i) and at most two members copied from the row. The
 * members' value spans are found by one walk of the row's top-level object
 * (jtext_object_trusted when the dataset was validated at open, else the
 * checking jtext_object; the last of duplicate keys wins, as when the row is
 * parsed) and copied compacted, byte for byte otherwise. All reads of row
 * bytes happen inside a ds_rows_visit callback, which runs under ds's SIGBUS
 * guard: the callbacks allocate only through the caller's util_buf (a fault
 * leaves it whole) or the table, which is published only once complete.
 * The table: per split an array of spans (offsets from the row start,
 * length 0 for absent or null), built under the table's mutex by the first
 * listing of the whole split and then read lock-free (an atomic pointer).
 */
#include "pubtask.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "jtext.h"

/* Where a row's public members' values are (offsets from the row start;
 * length 0: absent or null). */
typedef struct pub_span {
    uint32_t tid_off, tid_len, info_off, info_len;
} pub_span;

struct pubtask_table {
    pthread_mutex_t mu;            /* builds each split's spans once */
    size_t nsplits;
    _Atomic(pub_span *) spans[];   /* per split; NULL until built */
};

/* Room for the head of one public task: the split name twice
 * (DS_SPLIT_NAME_MAX), an index twice (at most 20 digits) and the punctuation. */
#define HEAD_MAX (2 * DS_SPLIT_NAME_MAX + 128)
#define INDEX_DIGITS 24
/* A typical public task without trajectory_id or info, in bytes. */
#define TASK_BYTES 64

pubtask_table *pubtask_table_new(const ds_dataset *ds)
{
    size_t n = ds_split_count(ds);
    pubtask_table *t = malloc(sizeof *t + n * sizeof t->spans[0]);
    if (!t)
        return NULL;
    pthread_mutex_init(&t->mu, NULL);
    t->nsplits = n;
    for (size_t i = 0; i < n; i++)
        atomic_init(&t->spans[i], NULL);
    return t;
}

void pubtask_table_free(pubtask_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nsplits; i++)
        free(atomic_load(&t->spans[i]));
    pthread_mutex_destroy(&t->mu);
    free(t);
}

static const pub_span *table_spans(pubtask_table *t, size_t split)
{
    return t && split < t->nsplits ? atomic_load(&t->spans[split]) : NULL;
}

/* ---- finding the members -------------------------------------------------- */

typedef struct member_spans {
    const char *tid, *tid_end, *info, *info_end;
} member_spans;

static int note_member(void *ctx, const jtext_member *m)
{
    member_spans *ms = ctx;
    if (jtext_member_is(m, "trajectory_id")) {
        ms->tid = m->v;
        ms->tid_end = m->end;
    } else if (jtext_member_is(m, "info")) {
        ms->info = m->v;
        ms->info_end = m->end;
    }
    return 0;
}

static bool is_null(const char *v, const char *end)
{
    return end - v == 4 && !memcmp(v, "null", 4);
}

/* The spans of the row p[0..len) (index of split): trusted when the rows were
 * validated at open, checked otherwise. -1 with a reason naming the line. */
static int find_spans(const ds_dataset *ds, size_t split, size_t index, const char *p,
                      size_t len, pub_span *out, char *err, size_t errsz)
{
    member_spans ms = {0};
    char why[200] = "";
    if ((!ds_validated(ds) || jtext_object_trusted(p, len, note_member, &ms) != 0) &&
        jtext_object(p, len, JTEXT_PY, note_member, &ms, why, sizeof why) != 0) {
        ds_split_report r;
        size_t line = 0;
        ds_split_report_get(ds, split, &r);
        ds_row_text(ds, split, index, NULL, &line);
        util_set_err(err, errsz, "%s:%zu: %s", r.path, line, why);
        return -1;
    }
    memset(out, 0, sizeof *out);
    if (ms.tid && !is_null(ms.tid, ms.tid_end)) {
        out->tid_off = (uint32_t)(ms.tid - p);
        out->tid_len = (uint32_t)(ms.tid_end - ms.tid);
    }
    if (ms.info && !is_null(ms.info, ms.info_end)) {
        out->info_off = (uint32_t)(ms.info - p);
        out->info_len = (uint32_t)(ms.info_end - ms.info);
    }
    return 0;
}

/* ---- writing ------------------------------------------------------------------ */

/* Appends ,"key":<the len bytes at v, compacted> unless len is 0: numbers
 * and strings byte for byte, so a trajectory_id of 2^63 stays exact. */
static int put_member(util_buf *out, const char *key, const char *v, uint32_t len)
{
    if (!len)
        return 0;
    return util_buf_putc(out, ',') || util_buf_putc(out, '"') || util_buf_puts(out, key) ||
           util_buf_puts(out, "\":") || jtext_compact(v, len, out) ? -1 : 0;
}

/* The head {"id":"<name>-<i>","split":"<name>","index":<i> (a comma first
 * unless first) into head; its length. */
static size_t put_head(char head[HEAD_MAX], const char *name, size_t i, bool first)
{
    char num[INDEX_DIGITS];
    size_t nl = 0, n = 0, nlen = strlen(name);
    for (size_t v = i; nl == 0 || v; v /= 10)     /* decimal, reversed */
        num[nl++] = (char)('0' + v % 10);
    if (!first)
        head[n++] = ',';
    memcpy(head + n, "{\"id\":\"", 7), n += 7;
    memcpy(head + n, name, nlen), n += nlen;
    head[n++] = '-';
    for (size_t k = nl; k > 0; k--)
        head[n++] = num[k - 1];
    memcpy(head + n, "\",\"split\":\"", 11), n += 11;
    memcpy(head + n, name, nlen), n += nlen;
    memcpy(head + n, "\",\"index\":", 10), n += 10;
    for (size_t k = nl; k > 0; k--)
        head[n++] = num[k - 1];
    return n;
}

/* What a visit of rows needs: a listing (out set) or a table build (out
 * NULL: spans filled). */
typedef struct visit {
    const ds_dataset *ds;
    size_t split, first;           /* the first index listed: no comma before it */
    const char *name;
    const pub_span *table;         /* built spans, or NULL: walk each row */
    pub_span *fill;                /* a table being built (out NULL) */
    util_buf *out;
    char *err;
    size_t errsz;
} visit;

static int visit_row(void *ctx, size_t i, const char *row, size_t len)
{
    visit *v = ctx;
    if (!v->out)
        return find_spans(v->ds, v->split, i, row, len, &v->fill[i], v->err, v->errsz);
    pub_span ps;
    if (v->table)
        ps = v->table[i];
    else if (find_spans(v->ds, v->split, i, row, len, &ps, v->err, v->errsz) != 0)
        return -1;
    char head[HEAD_MAX];
    size_t n = put_head(head, v->name, i, i == v->first);
    if (util_buf_append(v->out, head, n) != 0 ||
        put_member(v->out, "trajectory_id", row + ps.tid_off, ps.tid_len) != 0 ||
        put_member(v->out, "info", row + ps.info_off, ps.info_len) != 0 ||
        util_buf_putc(v->out, '}') != 0) {
        util_set_err(v->err, v->errsz, "out of memory");
        return -1;
    }
    return 0;
}

/* Builds the spans of a whole split once (the first full listing pays the
 * walk; later ones copy). A failure leaves no table: listings walk. */
static void build_spans(const ds_dataset *ds, pubtask_table *t, size_t split)
{
    size_t n = ds_split_size(ds, split);
    pthread_mutex_lock(&t->mu);
    if (!atomic_load(&t->spans[split]) && n) {
        visit v = {.ds = ds, .split = split, .fill = malloc(n * sizeof(pub_span))};
        if (v.fill && ds_rows_visit(ds, split, 0, n, visit_row, &v, NULL, 0) == 0)
            atomic_store(&t->spans[split], v.fill);
        else
            free(v.fill);
    }
    pthread_mutex_unlock(&t->mu);
}

/* Public tasks [start, stop) of split appended to out, without brackets. */
static int put_range(const ds_dataset *ds, pubtask_table *table, size_t split, size_t start,
                     size_t stop, util_buf *out, char *err, size_t errsz)
{
    visit v = {ds, split, start, ds_split_name(ds, split), table_spans(table, split), NULL, out,
               err, errsz};
    if (!v.name) {
        util_set_err(err, errsz, "no split %zu", split);
        return -1;
    }
    return ds_rows_visit(ds, split, start, stop, visit_row, &v, err, errsz);
}

int pubtask_list(const ds_dataset *ds, pubtask_table *table, size_t split, size_t start,
                 size_t stop, util_buf *out, char *err, size_t errsz)
{
    if (split >= ds_split_count(ds) || start > stop || stop > ds_split_size(ds, split)) {
        util_set_err(err, errsz, "no rows %zu-%zu in split %zu", start, stop, split);
        return -1;
    }
    if (table && start == 0 && stop == ds_split_size(ds, split))
        build_spans(ds, table, split);
    /* About TASK_BYTES a task without members: one reservation for most replies. */
    if (util_buf_reserve(out, (stop - start) * TASK_BYTES) != 0 || util_buf_putc(out, '[') != 0) {
        util_set_err(err, errsz, "out of memory");
        return -1;
    }
    if (put_range(ds, table, split, start, stop, out, err, errsz) != 0)
        return -1;
    if (util_buf_putc(out, ']') != 0) {
        util_set_err(err, errsz, "out of memory");
        return -1;
    }
    return 0;
}

int pubtask_text(const ds_dataset *ds, pubtask_table *table, size_t split, size_t index,
                 util_buf *out, char *err, size_t errsz)
{
    if (index >= ds_split_size(ds, split)) {
        util_set_err(err, errsz, "no task %zu in split %zu", index, split);
        return -1;
    }
    return put_range(ds, table, split, index, index + 1, out, err, errsz);
}

/* ---- as a JSON value ------------------------------------------------------------ */

static int copy_row(void *ctx, size_t i, const char *row, size_t len)
{
    (void)i;
    return util_buf_append(ctx, row, len);
}

json_t *pubtask_json(const ds_dataset *ds, size_t split, size_t index)
{
    /* Only two members are needed: pick them from a copy of the row text
     * rather than parsing a whole (possibly 40 KB) row. */
    static const char *const keys[] = {"trajectory_id", "info"};
    util_buf row = UTIL_BUF_INIT;
    const char *name = ds_split_name(ds, split);
    json_t *picked = NULL;
    if (name && index < ds_split_size(ds, split) &&
        ds_rows_visit(ds, split, index, index + 1, copy_row, &row, NULL, 0) == 0)
        picked = jtext_pick(row.data, row.len, JTEXT_PY, keys, 2);
    util_buf_free(&row);
    if (!picked)
        return NULL;
    char id[DS_TASK_ID_SIZE];
    snprintf(id, sizeof id, "%s-%zu", name, index);
    json_t *out = json_pack("{s:s,s:s,s:I}", "id", id, "split", name, "index", (json_int_t)index);
    for (size_t k = 0; out && k < 2; k++) {
        json_t *v = json_object_get(picked, keys[k]);
        if (v && !json_is_null(v))
            json_object_set(out, keys[k], v);
    }
    json_decref(picked);
    return out;
}
