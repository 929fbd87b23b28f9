/* gymstats — NeMo Gym's dataset statistics (see gymstats.h).
 *
 * How it works: a row's responses_create_params is built (jtext_pick with
 * JTEXT_PY: duplicate keys collapse as in a Python dict; numbers jansson
 * cannot hold become placeholders, which json.dumps would write without
 * spaces too, so the word count is unaffected). The word count walks the
 * tree as json.dumps would write it, tracking only whether each character
 * written is a space: with ensure_ascii every other white-space character
 * is escaped, so the spaces are the separators' and those inside strings.
 * The row's other top-level fields are read from its text (jtext_object),
 * strings counted by 128-bit fingerprints of the distinct values.
 * Measures follow Welford's running mean and M2; the summary is rounded
 * with printf's correctly rounded conversion (ties to even on the exact
 * binary value, as Python's round) and written as Python's float repr.
 */
#include "gymstats.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "jtext.h"
#include "util.h"

#define FIRST_FIELDS 8       /* metric fields start with room for these */
#define FIRST_MEMBERS 16     /* a row's numeric members likewise */

void gymstats_init(gymstats *g)
{
    memset(g, 0, sizeof *g);
    for (int k = 0; k < GYMSTATS_COUNT; k++) {
        g->m[k].min = INFINITY;
        g->m[k].max = -INFINITY;
    }
}

void gymstats_free(gymstats *g)
{
    for (size_t i = 0; i < g->nfields; i++) {
        free(g->fields[i].key);
        free(g->fields[i].seen);
    }
    free(g->fields);
    g->fields = NULL;
    g->nfields = g->capfields = 0;
}

void gymstats_observe(gymstats_acc *a, double x)
{
    if (x < a->min)
        a->min = x;
    if (x > a->max)
        a->max = x;
    a->total++;
    double delta = x - a->mean;
    a->mean += delta / (double)a->total;
    a->m2 += delta * (x - a->mean);
}

/* ---- words of json.dumps ------------------------------------------------- */

typedef struct words {
    size_t n;
    bool in;          /* the last character written was not a space */
} words;

static void w_char(words *w, bool space)
{
    if (!space && !w->in)
        w->n++;
    w->in = !space;
}

static void w_string(words *w, const char *s, size_t n)
{
    w_char(w, false);
    for (size_t i = 0; i < n; i++)
        w_char(w, s[i] == ' ');
    w_char(w, false);
}

/* ", " or ": " */
static void w_sep(words *w)
{
    w_char(w, false);
    w_char(w, true);
}

static void w_value(words *w, const json_t *v)
{
    if (json_is_string(v)) {
        w_string(w, json_string_value(v), json_string_length(v));
    } else if (json_is_array(v)) {
        w_char(w, false);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                w_sep(w);
            w_value(w, json_array_get(v, i));
        }
        w_char(w, false);
    } else if (json_is_object(v)) {
        w_char(w, false);
        const char *key;
        size_t klen;
        json_t *x;
        bool first = true;
        json_object_keylen_foreach((json_t *)v, key, klen, x) {
            if (!first)
                w_sep(w);
            first = false;
            w_string(w, key, klen);
            w_sep(w);
            w_value(w, x);
        }
        w_char(w, false);
    } else {
        w_char(w, false);   /* numbers, true, false, null, NaN: no spaces */
    }
}

static size_t tree_words(const json_t *v)
{
    words w = {0, false};
    w_value(&w, v);
    return w.n;
}

size_t gymstats_dumps_words(const char *p, size_t len)
{
    json_t *v = jtext_build(p, len, JTEXT_PY);
    size_t n = v ? tree_words(v) : 0;
    json_decref(v);
    return n;
}

/* ---- rows ------------------------------------------------------------------ */

static size_t user_turns(const json_t *input)
{
    if (json_is_string(input))
        return 1;   /* Gym reads a string input as one user message */
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(input); i++) {
        const char *role = json_string_value(json_object_get(json_array_get(input, i), "role"));
        n += role && !strcmp(role, "user");
    }
    return n;
}

/* ---- other top-level fields ----------------------------------------------- */

/* The field called key (created at the end when new and create); NULL when
 * out of memory or not there. */
static gymstats_field *field_of(gymstats *g, const char *key, size_t klen, bool is_string)
{
    for (size_t i = 0; i < g->nfields; i++)
        if (strlen(g->fields[i].key) == klen && !memcmp(g->fields[i].key, key, klen))
            return &g->fields[i];
    if (util_grow(&g->fields, &g->capfields, g->nfields + 1, sizeof *g->fields, FIRST_FIELDS))
        return NULL;
    gymstats_field *f = &g->fields[g->nfields];
    memset(f, 0, sizeof *f);
    f->key = strndup(key, klen);
    if (!f->key)
        return NULL;
    f->is_string = is_string;
    f->acc.min = INFINITY;
    f->acc.max = -INFINITY;
    g->nfields++;
    return f;
}

/* Adds a fingerprint (two words, not both 0) to the field's set. */
static int seen_add(gymstats_field *f, uint64_t a, uint64_t b)
{
    if (2 * (f->nseen + 1) > f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 64;
        uint64_t *t = calloc(2 * cap, sizeof *t);
        if (!t)
            return -1;
        for (size_t i = 0; i < f->cap; i++) {
            uint64_t x = f->seen[2 * i], y = f->seen[2 * i + 1];
            if (!x && !y)
                continue;
            size_t k = x % cap;
            while (t[2 * k] || t[2 * k + 1])
                k = (k + 1) % cap;
            t[2 * k] = x;
            t[2 * k + 1] = y;
        }
        free(f->seen);
        f->seen = t;
        f->cap = cap;
    }
    size_t k = a % f->cap;
    for (; f->seen[2 * k] || f->seen[2 * k + 1]; k = (k + 1) % f->cap)
        if (f->seen[2 * k] == a && f->seen[2 * k + 1] == b)
            return 0;
    f->seen[2 * k] = a;
    f->seen[2 * k + 1] = b;
    f->nseen++;
    return 0;
}

/* One value of field key: a number, boolean or string is counted; anything
 * else (objects, null, nested lists) is not, as in Gym. */
static int field_value(gymstats *g, const char *key, size_t klen, jtext_span v, util_buf *tmp)
{
    char c = *v.p;
    bool is_string = c == '"', is_bool = c == 't' || c == 'f';
    bool is_number = c == '-' || c == 'N' || c == 'I' || (c >= '0' && c <= '9');
    if (!is_string && !is_bool && !is_number)
        return 0;
    gymstats_field *f = field_of(g, key, klen, is_string);
    if (!f)
        return -1;
    if (f->is_string != is_string)
        return 0;   /* Gym fails on a field of mixed kinds; leave the odd one out */
    if (is_string) {
        tmp->len = 0;
        if (jtext_string_value(v, JTEXT_PY, tmp))
            return -1;
        uint64_t a = util_fnv1a64(tmp->data, tmp->len, UTIL_FNV_OFFSET);
        uint64_t b = util_fnv1a64(tmp->data, tmp->len, ~UTIL_FNV_OFFSET) | 1;
        f->strings++;
        return seen_add(f, a, b);
    }
    double x = c == 't' ? 1.0 : c == 'f' ? 0.0 : 0.0;
    if (is_number) {
        tmp->len = 0;
        if (util_buf_append(tmp, v.p, v.len))
            return -1;
        x = strtod(tmp->data, NULL);   /* NaN, Infinity and 1e400 as Python reads them */
    }
    gymstats_observe(&f->acc, x);
    return 0;
}

/* The row's top-level members, the last value of each key at the key's
 * first position (a Python dict). */
typedef struct members {
    struct { size_t koff, klen; jtext_span v; } *m;   /* koff: the key's offset in keys */
    size_t n, cap;
    util_buf keys;          /* decoded keys, back to back */
    bool nomem;
} members;

static int take_member(void *ctx, const jtext_member *m)
{
    members *ms = ctx;
    jtext_span v = {m->v, (size_t)(m->end - m->v)};
    for (size_t i = 0; i < ms->n; i++)
        if (ms->m[i].klen == m->key_len && !memcmp(ms->keys.data + ms->m[i].koff, m->key, m->key_len)) {
            ms->m[i].v = v;
            return 0;
        }
    if (util_grow(&ms->m, &ms->cap, ms->n + 1, sizeof *ms->m, FIRST_MEMBERS)) {
        ms->nomem = true;
        return 1;
    }
    size_t off = ms->keys.len;
    if (util_buf_append(&ms->keys, m->key, m->key_len)) {
        ms->nomem = true;
        return 1;
    }
    ms->m[ms->n].koff = off;
    ms->m[ms->n].klen = m->key_len;
    ms->m[ms->n].v = v;
    ms->n++;
    return 0;
}

static int other_fields(gymstats *g, const char *p, size_t len)
{
    members ms = {0};
    util_buf tmp = {0};
    int rc = jtext_object(p, len, JTEXT_PY, take_member, &ms, NULL, 0) != 0 || ms.nomem ? -1 : 0;
    for (size_t i = 0; i < ms.n && !rc; i++) {
        const char *key = ms.keys.data + ms.m[i].koff;
        size_t klen = ms.m[i].klen;
        if ((klen == 23 && !memcmp(key, "responses_create_params", 23)) ||
            (klen == 8 && !memcmp(key, "response", 8)) || memchr(key, '\0', klen))
            continue;
        jtext_span v = ms.m[i].v;
        if (*v.p != '[') {
            rc = field_value(g, key, klen, v, &tmp);
            continue;
        }
        size_t n = jtext_elements(v, JTEXT_PY, NULL, 0);
        jtext_span *items = calloc(n ? n : 1, sizeof *items);
        rc = items ? 0 : -1;
        if (items)
            jtext_elements(v, JTEXT_PY, items, n);
        for (size_t k = 0; k < n && !rc; k++)
            rc = field_value(g, key, klen, items[k], &tmp);
        free(items);
    }
    free(ms.m);
    free(ms.keys.data);
    free(tmp.data);
    return rc;
}

int gymstats_row(gymstats *g, const char *p, size_t len)
{
    static const char *const keys[1] = {"responses_create_params"};
    json_t *row = jtext_pick(p, len, JTEXT_PY, keys, 1);
    json_t *rcp = json_object_get(row, "responses_create_params");
    if (!json_is_object(rcp)) {
        json_decref(row);
        return -1;
    }
    g->examples++;
    const json_t *tools = json_object_get(rcp, "tools");
    if (tools && !json_is_null(tools))
        gymstats_observe(&g->m[GYMSTATS_TOOLS], (double)json_array_size(tools));
    size_t turns = user_turns(json_object_get(rcp, "input"));
    if (turns)
        gymstats_observe(&g->m[GYMSTATS_TURNS], (double)turns);
    const json_t *t = json_object_get(rcp, "temperature");
    if (json_is_number(t))
        gymstats_observe(&g->m[GYMSTATS_TEMPERATURE], json_number_value(t));
    gymstats_observe(&g->m[GYMSTATS_WORDS], (double)tree_words(rcp));
    json_decref(row);
    return other_fields(g, p, len);
}

/* ---- the file ---------------------------------------------------------------- */

double gymstats_round(double x)
{
    if (!isfinite(x))
        return x;
    char buf[400];
    snprintf(buf, sizeof buf, "%.*f", x >= 1 || x <= -1 ? 2 : 3, x);
    return strtod(buf, NULL);
}

static int put_float(util_buf *b, double x)
{
    char buf[40];
    size_t n = util_float_repr(gymstats_round(x), buf, sizeof buf);
    return util_buf_append(b, buf, n);
}

/* ": {...}" of a measure, without the closing brace. */
static int put_acc_body(util_buf *b, const gymstats_acc *a, double mean, double sd)
{
    bool any = a->total > 0;
    return util_buf_printf(b, ": {\n        \"Total # non-null values\": %zu,\n        \"Average\": ",
                           a->total) ||
           put_float(b, mean) || util_buf_puts(b, ",\n        \"Min\": ") ||
           put_float(b, any ? a->min : 0.0) || util_buf_puts(b, ",\n        \"Max\": ") ||
           put_float(b, any ? a->max : 0.0) ||
           util_buf_puts(b, ",\n        \"Standard deviation\": ") || put_float(b, sd);
}

static int put_acc(util_buf *b, const char *title, const gymstats_acc *a, bool last)
{
    double mean = a->total > 0 ? a->mean : 0.0;
    double sd = a->total > 1 ? sqrt(a->m2 / (double)(a->total - 1)) : 0.0;
    return util_buf_puts(b, "    ") || util_buf_json_string(b, title, strlen(title)) ||
           put_acc_body(b, a, mean, sd) || util_buf_puts(b, last ? "\n    }\n" : "\n    },\n");
}

static int put_field(util_buf *b, const gymstats_field *f, bool last)
{
    if (!f->is_string)
        return put_acc(b, f->key, &f->acc, last);
    return util_buf_puts(b, "    ") || util_buf_json_string(b, f->key, strlen(f->key)) ||
           util_buf_printf(b, ": {\n        \"unique_count\": %zu,\n        \"total_count\": %zu\n    }%s\n",
                           f->nseen, f->strings, last ? "" : ",");
}

int gymstats_json(const gymstats *g, const char *name, const char *path, util_buf *out)
{
    static const char *const titles[GYMSTATS_COUNT] = {
        [GYMSTATS_TOOLS] = "Number of tools",
        [GYMSTATS_WORDS] = "Json-dumped number of words (proxy for token count)",
        [GYMSTATS_TURNS] = "Number of turns",
        [GYMSTATS_TEMPERATURE] = "Temperature",
    };
    int rc = util_buf_puts(out, "{\n    \"name\": ") || util_buf_json_string(out, name, strlen(name)) ||
             util_buf_puts(out, ",\n    \"jsonl_fpath\": ") ||
             util_buf_json_string(out, path, strlen(path)) ||
             util_buf_printf(out, ",\n    \"Number of examples\": %zu,\n", g->examples);
    for (int k = 0; k < GYMSTATS_COUNT && !rc; k++)
        rc = put_acc(out, titles[k], &g->m[k], k == GYMSTATS_COUNT - 1 && !g->nfields);
    for (size_t i = 0; i < g->nfields && !rc; i++)
        rc = put_field(out, &g->fields[i], i + 1 == g->nfields);
    return rc || util_buf_puts(out, "}\n") ? -1 : 0;
}
