/* dsval — fast validation of one dataset row without building a JSON tree.
 *
 * How it works: jtext's scanning cursor walks the row's bytes once. Generic
 * values are only checked (jtext_value); at the few places the row-shape
 * rules care about (the row object, responses_create_params, its input and
 * tools, each tool) the walkers below descend with jtext_open/obj_next, the
 * keys are decoded and compared, and tool names are decoded into a
 * per-thread arena. expected_action's byte span is remembered and, once the
 * whole row is known to be well-formed, built (jtext_build) and given to the
 * grader, which checks its type, names and (Python-dialect) arguments.
 * Strictness is jtext's: exactly jansson's (rows become jansson values).
 */
#include "dsval.h"
#include "jtext.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dsval_ctx {
    util_buf key;       /* the key being compared */
    util_buf names;     /* decoded tool names, each NUL-terminated */
    size_t *name_off;
    size_t nnames, name_cap;
    const char **sorted;
    size_t sorted_cap;
    util_buf tmp;       /* number text for strtod */
    util_buf text;      /* decoded message text, when measuring */
    bool measure;        /* count user turns and words */
    grade_action *expected;   /* the last row's, see dsval_result.expected */
};

dsval_ctx *dsval_ctx_new(void)
{
    return calloc(1, sizeof(dsval_ctx));
}

void dsval_ctx_free(dsval_ctx *ctx)
{
    if (!ctx)
        return;
    free(ctx->key.data);
    free(ctx->names.data);
    free(ctx->name_off);
    free(ctx->sorted);
    free(ctx->tmp.data);
    free(ctx->text.data);
    grade_action_free(ctx->expected);
    free(ctx);
}

void dsval_ctx_measure(dsval_ctx *ctx, bool on)
{
    ctx->measure = on;
}

/* ---- row shape ---------------------------------------------------------- */

typedef struct row_state {
    dsval_ctx *ctx;
    unsigned char rcp_type;     /* first byte of responses_create_params, 0 absent */
    unsigned char input_type, tools_type;
    uint32_t n_input, n_tools, n_user, n_words;
    char tool_err[256];         /* first problem with a tool */
    const unsigned char *ea, *ea_end;
} row_state;

static const char *type_name(unsigned char c)
{
    switch (c) {
    case '{': return "an object";
    case '[': return "a list";
    case '"': return "a string";
    case 't': case 'f': return "a boolean";
    case 'n': return "null";
    default: return "a number";
    }
}

static bool key_is(const util_buf *k, const char *lit)
{
    size_t n = strlen(lit);
    return k->len == n && !memcmp(k->data, lit, n);
}

/* Decodes a string value into the name arena; *off gets its offset, *has_nul
 * whether it held a NUL character. */
static bool take_name(jtext_scan *s, row_state *st, size_t *off, bool *has_nul)
{
    util_buf *names = &st->ctx->names;
    size_t start = names->len;
    if (!jtext_string(s, names))
        return false;
    *has_nul = memchr(names->data + start, '\0', names->len - start) != NULL;
    if (util_buf_append(names, "", 1))
        return jtext_fail(s, "out of memory");
    *off = start;
    return true;
}

typedef struct tool_fields {
    int type;            /* 0 absent, 1 "function", 2 other string, 3 not a string */
    char type_text[40];
    int name;            /* 0 absent, 1 string, 3 not a string */
    size_t name_off;
    bool name_nul;
    int fn;              /* 0 absent, 1 object, 2 other */
    int fn_name;
    size_t fn_name_off;
    bool fn_name_nul;
} tool_fields;

static bool walk_function(jtext_scan *s, row_state *st, tool_fields *tf)
{
    if (!jtext_open(s))
        return false;
    bool first = true;
    int r;
    tf->fn = 1;
    tf->fn_name = 0;
    while ((r = jtext_obj_next(s, &first, &st->ctx->key)) == 1) {
        if (key_is(&st->ctx->key, "name")) {
            if (*s->p == '"') {
                if (!take_name(s, st, &tf->fn_name_off, &tf->fn_name_nul))
                    return false;
                tf->fn_name = 1;
                continue;
            }
            tf->fn_name = 3;
        }
        if (!jtext_value(s))
            return false;
    }
    return r == 0;
}

static bool walk_tool_type(jtext_scan *s, row_state *st, tool_fields *tf)
{
    if (*s->p != '"') {
        tf->type = 3;
        return jtext_value(s);
    }
    util_buf *k = &st->ctx->key;
    k->len = 0;
    if (!jtext_string(s, k))
        return false;
    tf->type = key_is(k, "function") ? 1 : 2;
    /* for messages: escaped, so a NUL or ESC in the data neither cuts nor drives them */
    util_buf esc = UTIL_BUF_INIT;
    util_buf_escaped(&esc, k->data, k->len < 32 ? k->len : 32);
    snprintf(tf->type_text, sizeof tf->type_text, "%s", esc.data ? esc.data : "");
    util_buf_free(&esc);
    return true;
}

static void tool_error(row_state *st, const char *fmt, ...)
{
    if (st->tool_err[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->tool_err, sizeof st->tool_err, fmt, ap);
    va_end(ap);
}

static bool add_name(row_state *st, size_t off)
{
    dsval_ctx *c = st->ctx;
    if (c->nnames == c->name_cap) {
        size_t cap = c->name_cap ? 2 * c->name_cap : 32;
        size_t *n = realloc(c->name_off, cap * sizeof *n);
        if (!n)
            return false;
        c->name_off = n;
        c->name_cap = cap;
    }
    c->name_off[c->nnames++] = off;
    return true;
}

static bool walk_tool(jtext_scan *s, row_state *st, uint32_t i)
{
    if (*s->p != '{') {
        tool_error(st, "tools[%u] must be an object, not %s", i, type_name(*s->p));
        return jtext_value(s);
    }
    if (!jtext_open(s))
        return false;
    tool_fields tf = {0};
    bool first = true;
    int r;
    util_buf *k = &st->ctx->key;
    while ((r = jtext_obj_next(s, &first, k)) == 1) {
        bool ok;
        if (key_is(k, "type"))
            ok = walk_tool_type(s, st, &tf);
        else if (key_is(k, "name") && *s->p == '"') {
            ok = take_name(s, st, &tf.name_off, &tf.name_nul);
            tf.name = 1;
        } else if (key_is(k, "name")) {
            tf.name = 3;
            ok = jtext_value(s);
        } else if (key_is(k, "function") && *s->p == '{') {
            ok = walk_function(s, st, &tf);
        } else {
            if (key_is(k, "function"))
                tf.fn = 2;
            ok = jtext_value(s);
        }
        if (!ok)
            return false;
    }
    if (r != 0)
        return false;
    if (tf.type == 0)
        tool_error(st, "tools[%u] has no \"type\" (a function tool has \"type\": \"function\")", i);
    else if (tf.type == 3)
        tool_error(st, "tools[%u] \"type\" must be the string \"function\"", i);
    else if (tf.type == 2)
        tool_error(st, "tools[%u] is not a function tool (type \"%s\")", i, tf.type_text);
    int name = tf.fn == 1 ? tf.fn_name : tf.name;
    size_t off = tf.fn == 1 ? tf.fn_name_off : tf.name_off;
    bool nul = tf.fn == 1 ? tf.fn_name_nul : tf.name_nul;
    const char *where = tf.fn == 1 ? "function.name" : "name";
    if (name == 0)
        tool_error(st, "tools[%u] has no %s", i, where);
    else if (name == 3)
        tool_error(st, "tools[%u] %s must be a string", i, where);
    else if (nul)
        tool_error(st, "tools[%u] %s contains a NUL character", i, where);
    else if (!add_name(st, off))
        return jtext_fail(s, "out of memory");
    return true;
}

static bool walk_tools(jtext_scan *s, row_state *st)
{
    st->tools_type = *s->p;
    st->ctx->nnames = 0;
    st->ctx->names.len = 0;
    st->tool_err[0] = '\0';
    st->n_tools = 0;
    if (*s->p != '[')
        return jtext_value(s);
    if (!jtext_open(s))
        return false;
    bool first = true;
    int r;
    while ((r = jtext_arr_next(s, &first)) == 1)
        if (!walk_tool(s, st, st->n_tools++))
            return false;
    return r == 0;
}

/* Words of decoded text: runs of non-blanks between ASCII whitespace. */
static uint32_t count_words(const char *p, size_t n)
{
    uint32_t w = 0;
    bool in = false;
    for (size_t i = 0; i < n; i++) {
        bool space = p[i] == ' ' || (p[i] >= '\t' && p[i] <= '\r');
        w += !space && !in;
        in = !space;
    }
    return w;
}

/* A string value: its word count (decoding it). */
static bool string_words(jtext_scan *s, row_state *st, uint32_t *words)
{
    util_buf *t = &st->ctx->text;
    t->len = 0;
    if (!jtext_string(s, t))
        return false;
    *words += count_words(t->data, t->len);
    return true;
}

/* A message's content: a string, or a list of parts with "text". */
static bool content_words(jtext_scan *s, row_state *st, uint32_t *words)
{
    if (*s->p == '"')
        return string_words(s, st, words);
    if (*s->p != '[')
        return jtext_value(s);
    if (!jtext_open(s))
        return false;
    bool first = true;
    int r;
    while ((r = jtext_arr_next(s, &first)) == 1) {
        if (*s->p != '{') {
            if (!jtext_value(s))
                return false;
            continue;
        }
        if (!jtext_open(s))
            return false;
        bool pfirst = true;
        int pr;
        while ((pr = jtext_obj_next(s, &pfirst, &st->ctx->key)) == 1) {
            bool ok = key_is(&st->ctx->key, "text") && *s->p == '"' ? string_words(s, st, words) : jtext_value(s);
            if (!ok)
                return false;
        }
        if (pr != 0)
            return false;
    }
    return r == 0;
}

/* One input item when measuring: a message (type absent or "message", with a
 * role) adds its words, and a turn when the role is "user". */
static bool measure_item(jtext_scan *s, row_state *st)
{
    if (*s->p != '{')
        return jtext_value(s);
    if (!jtext_open(s))
        return false;
    int role = 0;            /* 0 none, 1 user, 2 other */
    bool message = true;
    uint32_t words = 0;
    bool first = true;
    int r;
    util_buf *k = &st->ctx->key;
    while ((r = jtext_obj_next(s, &first, k)) == 1) {
        bool ok;
        if ((key_is(k, "role") || key_is(k, "type")) && *s->p == '"') {
            bool is_role = k->len == 4 && k->data[0] == 'r';
            k->len = 0;
            ok = jtext_string(s, k);
            if (is_role)
                role = key_is(k, "user") ? 1 : 2;
            else
                message = key_is(k, "message");
        } else if (key_is(k, "content")) {
            words = 0;
            ok = content_words(s, st, &words);
        } else {
            ok = jtext_value(s);
        }
        if (!ok)
            return false;
    }
    if (r != 0)
        return false;
    if (role && message) {
        st->n_user += role == 1;
        st->n_words += words;
    }
    return true;
}

static bool walk_input(jtext_scan *s, row_state *st)
{
    st->input_type = *s->p;
    st->n_input = st->n_user = st->n_words = 0;
    if (*s->p != '[')
        return jtext_value(s);
    if (!jtext_open(s))
        return false;
    bool first = true;
    int r;
    while ((r = jtext_arr_next(s, &first)) == 1) {
        st->n_input++;
        if (!(st->ctx->measure ? measure_item(s, st) : jtext_value(s)))
            return false;
    }
    return r == 0;
}

static bool walk_rcp(jtext_scan *s, row_state *st)
{
    st->rcp_type = *s->p;
    st->input_type = st->tools_type = 0;
    st->ctx->nnames = 0;
    st->tool_err[0] = '\0';
    st->n_input = st->n_tools = st->n_user = st->n_words = 0;
    if (*s->p != '{')
        return jtext_value(s);
    if (!jtext_open(s))
        return false;
    bool first = true;
    int r;
    util_buf *k = &st->ctx->key;
    while ((r = jtext_obj_next(s, &first, k)) == 1) {
        bool ok;
        if (key_is(k, "input"))
            ok = walk_input(s, st);
        else if (key_is(k, "tools"))
            ok = walk_tools(s, st);
        else
            ok = jtext_value(s);
        if (!ok)
            return false;
    }
    return r == 0;
}

static bool walk_row(jtext_scan *s, row_state *st)
{
    if (!jtext_open(s))
        return false;
    bool first = true;
    int r;
    util_buf *k = &st->ctx->key;
    while ((r = jtext_obj_next(s, &first, k)) == 1) {
        bool ok;
        if (key_is(k, "responses_create_params"))
            ok = walk_rcp(s, st);
        else if (key_is(k, "expected_action")) {
            st->ea = s->p;
            ok = jtext_value(s);
            st->ea_end = s->p;
        } else
            ok = jtext_value(s);
        if (!ok)
            return false;
    }
    return r == 0;
}

/* ---- verdict ------------------------------------------------------------- */

static void set_error(dsval_result *out, const char *kind, const char *fmt, ...)
{
    out->kind_name = kind;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->error_msg, sizeof out->error_msg, fmt, ap);
    va_end(ap);
    out->error = true;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorts the tool names (for duplicates and look-ups); false on a duplicate. */
static bool sort_names(dsval_ctx *c, dsval_result *out)
{
    if (c->sorted_cap < c->nnames) {
        const char **n = realloc(c->sorted, c->nnames * sizeof *n);
        if (!n) {
            set_error(out, "memory", "out of memory");
            return false;
        }
        c->sorted = n;
        c->sorted_cap = c->nnames;
    }
    for (size_t i = 0; i < c->nnames; i++)
        c->sorted[i] = c->names.data + c->name_off[i];
    if (c->nnames > 1)
        qsort(c->sorted, c->nnames, sizeof *c->sorted, cmp_str);
    for (size_t i = 1; i < c->nnames; i++)
        if (!strcmp(c->sorted[i - 1], c->sorted[i])) {
            set_error(out, "tools", "duplicate tool name '%.80s'", c->sorted[i]);
            return false;
        }
    return true;
}

static bool name_listed(const dsval_ctx *c, const char *name)
{
    return c->nnames && bsearch(&name, c->sorted, c->nnames, sizeof *c->sorted, cmp_str);
}

/* Names of expected calls that are not listed tools, for the warning. */
static void check_listed(const dsval_ctx *c, const grade_action *a, dsval_result *out)
{
    size_t n = grade_action_ncalls(a), used = 0;
    char *w = out->warning_msg;
    size_t cap = sizeof out->warning_msg;
    for (size_t i = 0; i < n; i++) {
        const char *name = grade_action_call_name(a, i);
        if (!name || name_listed(c, name))
            continue;
        if (!out->warning) {
            int k = snprintf(w, cap, "expected call names a tool not listed in tools: '%.80s'", name);
            used = k > 0 ? (size_t)k : 0;
            out->warning = true;
        } else if (used + 1 < cap) {
            int k = snprintf(w + used, cap - used, ", '%.80s'", name);
            used += k > 0 ? (size_t)k : 0;
        }
    }
}

static void check_expected(dsval_ctx *c, const row_state *st, dsval_result *out)
{
    if (!st->ea) {
        set_error(out, "expected_action", "missing expected_action");
        return;
    }
    if (*st->ea != '{') {
        set_error(out, "expected_action", "expected_action must be an object, not %s", type_name(*st->ea));
        return;
    }
    json_t *ea = jtext_build((const char *)st->ea, (size_t)(st->ea_end - st->ea), 0);
    if (!ea) {
        set_error(out, "memory", "out of memory");
        return;
    }
    char err[256];
    grade_action *a = grade_expected_from_json(ea, err, sizeof err);
    json_decref(ea);
    if (!a) {
        /* The grader's reasons usually name expected_action already. */
        set_error(out, "expected_action", "%s%s", strncmp(err, "expected_action", 15) ? "expected_action: " : "", err);
        return;
    }
    out->kind = grade_action_kind_of(a);
    check_listed(c, a, out);
    c->expected = a;
    out->expected = a;
}

static void check_shape(dsval_ctx *c, const row_state *st, dsval_result *out)
{
    if (!st->rcp_type) {
        set_error(out, "responses_create_params", "missing responses_create_params");
    } else if (st->rcp_type != '{') {
        set_error(out, "responses_create_params", "responses_create_params must be an object, not %s", type_name(st->rcp_type));
    } else if (!st->input_type) {
        set_error(out, "input", "missing responses_create_params.input");
    } else if (st->input_type != '[') {
        set_error(out, "input", "responses_create_params.input must be a list, not %s",
                  type_name(st->input_type));
    } else if (st->tools_type && st->tools_type != '[' && st->tools_type != 'n') {
        set_error(out, "tools", "responses_create_params.tools must be a list, not %s",
                  type_name(st->tools_type));
    } else if (st->tool_err[0]) {
        set_error(out, "tools", "responses_create_params.%s", st->tool_err);
    } else if (sort_names(c, out)) {
        check_expected(c, st, out);
    }
}

void dsval_row(dsval_ctx *ctx, const char *p, size_t len, dsval_result *out)
{
    out->error = out->warning = false;
    out->kind_name = NULL;
    out->error_msg[0] = out->warning_msg[0] = '\0';
    out->kind = GRADE_ACTION_NONE;
    out->n_input = out->n_tools = out->n_user = out->n_words = 0;
    out->expected = NULL;
    grade_action_free(ctx->expected);
    ctx->expected = NULL;
    ctx->nnames = 0;
    ctx->names.len = 0;

    jtext_scan s;
    jtext_scan_init(&s, p, len, 0, &ctx->tmp);
    row_state st = {.ctx = ctx};
    jtext_ws(&s);
    unsigned char first = s.p < s.end ? *s.p : 0;
    bool is_object = first == '{';
    bool ok = is_object ? walk_row(&s, &st) : jtext_value(&s);
    if (ok) {
        jtext_ws(&s);
        if (s.p < s.end)
            ok = jtext_fail(&s, "extra data after the JSON value");
    }
    if (!ok) {
        set_error(out, "json", "invalid JSON at column %zu: %s", s.err_col, s.err ? s.err : "?");
        return;
    }
    if (!is_object) {
        set_error(out, "row", "row is not a JSON object (it is %s)", type_name(first));
        return;
    }
    out->n_input = st.n_input;
    out->n_tools = st.n_tools;
    out->n_user = st.n_user;
    out->n_words = st.n_words;
    check_shape(ctx, &st, out);
}
