/* gymstats — NeMo Gym's dataset statistics (see gymstats.h).
 *
 * How it works: a row's responses_create_params is built (jtext_pick with
 * JTEXT_PY: duplicate keys collapse as in a Python dict; numbers jansson
 * cannot hold become placeholders, which json.dumps would write without
 * spaces too, so the word count is unaffected). The word count walks the
 * tree as json.dumps would write it, tracking only whether each character
 * written is a space: with ensure_ascii every other white-space character
 * is escaped, so the spaces are the separators' and those inside strings.
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

void gymstats_init(gymstats *g)
{
    memset(g, 0, sizeof *g);
    for (int k = 0; k < GYMSTATS_COUNT; k++) {
        g->m[k].min = INFINITY;
        g->m[k].max = -INFINITY;
    }
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
    return 0;
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

static int put_acc(util_buf *b, const char *title, const gymstats_acc *a, bool last)
{
    bool any = a->total > 0;
    double mean = any ? a->mean : 0.0;
    double sd = a->total > 1 ? sqrt(a->m2 / (double)(a->total - 1)) : 0.0;
    return util_buf_puts(b, "    ") || util_buf_json_string(b, title, strlen(title)) ||
           util_buf_printf(b, ": {\n        \"Total # non-null values\": %zu,\n        \"Average\": ",
                           a->total) ||
           put_float(b, mean) || util_buf_puts(b, ",\n        \"Min\": ") ||
           put_float(b, any ? a->min : 0.0) || util_buf_puts(b, ",\n        \"Max\": ") ||
           put_float(b, any ? a->max : 0.0) ||
           util_buf_puts(b, ",\n        \"Standard deviation\": ") || put_float(b, sd) ||
           util_buf_puts(b, last ? "\n    }\n" : "\n    },\n");
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
        rc = put_acc(out, titles[k], &g->m[k], k == GYMSTATS_COUNT - 1);
    return rc || util_buf_puts(out, "}\n") ? -1 : 0;
}
