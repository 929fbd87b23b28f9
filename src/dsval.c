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
 * Strictness is jtext's with JTEXT_PY: jansson's grammar with Python's
 * numbers (big integers, NaN, Infinity, 1e400), which are warnings, as are
 * the other shapes NeMo Gym loads but flags (duplicate or non-function tools,
 * earlier calls whose arguments are no JSON object, ...): each warning kind
 * is noted once per row, with the first place it was seen.
 */
#include "dsval.h"
#include "jtext.h"
#include "pyjson.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util.h"

#define FIRST_NAMES 32       /* a row's tool names start with room for these */

struct dsval_ctx {
    util_buf key;       /* the key being compared */
    util_buf names;     /* decoded tool names, each NUL-terminated */
    size_t *name_off;
    size_t nnames, name_cap;
    const char **sorted;
    size_t sorted_cap;
    util_buf tmp;       /* number text for strtod */
    util_buf text;      /* decoded message text, when measuring */
    util_buf args;      /* an input function_call's decoded arguments */
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
    free(ctx->args.data);
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
    dsval_result *out;          /* where warnings go */
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

/* Notes a warning of kind (static) unless the row has one of that kind. */
static void add_warning(dsval_result *out, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add_warning(dsval_result *out, const char *kind, const char *fmt, ...)
{
    for (unsigned i = 0; i < out->nwarnings; i++)
        if (!strcmp(out->warnings[i].kind, kind))
            return;
    if (out->nwarnings == DSVAL_MAX_WARNINGS)
        return;
    dsval_warning *w = &out->warnings[out->nwarnings++];
    w->kind = kind;
    va_list ap;
    va_start(ap, fmt);
    util_vset_err(w->msg, sizeof w->msg, fmt, ap);
    va_end(ap);
    out->warning = true;
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
    bool parameters, strict;   /* present at the top level */
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
    util_vset_err(st->tool_err, sizeof st->tool_err, fmt, ap);
    va_end(ap);
}

static bool add_name(row_state *st, size_t off)
{
    dsval_ctx *c = st->ctx;
    if (util_grow(&c->name_off, &c->name_cap, c->nnames + 1, sizeof *c->name_off, FIRST_NAMES))
        return false;
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
            tf.parameters |= key_is(k, "parameters");
            tf.strict |= key_is(k, "strict");
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
    if (tf.type == 2) {   /* web_search, ...: loads, but is no task tool */
        add_warning(st->out, "non_function_tool",
                    "responses_create_params.tools[%u] is not a function tool (type \"%s\"): "
                    "not offered as a task tool", i, tf.type_text);
        return true;
    }
    if (tf.type == 1 && tf.fn != 1 && (!tf.parameters || !tf.strict))
        add_warning(st->out, "tool_fields", "responses_create_params.tools[%u] has no \"%s\"", i,
                    tf.parameters ? "strict" : "parameters");
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

/* A list member: each element walked by each (with its index, counted in
 * *count); any other value is only scanned (its type was noted). */
static bool walk_list(jtext_scan *s, row_state *st,
                      bool (*each)(jtext_scan *, row_state *, uint32_t), uint32_t *count)
{
    if (*s->p != '[')
        return jtext_value(s);
    if (!jtext_open(s))
        return false;
    bool first = true;
    int r;
    while ((r = jtext_arr_next(s, &first)) == 1)
        if (!each(s, st, (*count)++))
            return false;
    return r == 0;
}

static bool walk_tools(jtext_scan *s, row_state *st)
{
    st->tools_type = *s->p;
    st->ctx->nnames = 0;
    st->ctx->names.len = 0;
    st->tool_err[0] = '\0';
    st->n_tools = 0;
    return walk_list(s, st, walk_tool, &st->n_tools);
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

/* A string value: its word count (decoding it) when measuring. */
static bool string_words(jtext_scan *s, row_state *st, uint32_t *words)
{
    if (!st->ctx->measure)
        return jtext_string(s, NULL);
    util_buf *t = &st->ctx->text;
    t->len = 0;
    if (!jtext_string(s, t))
        return false;
    *words += count_words(t->data, t->len);
    return true;
}

/* A message's content: a string, or a list of parts with "text" (words
 * counted when measuring); *output_text tells whether a part is of type
 * output_text. */
static bool content_words(jtext_scan *s, row_state *st, uint32_t *words, bool *output_text)
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
        util_buf *k = &st->ctx->key;
        while ((pr = jtext_obj_next(s, &pfirst, k)) == 1) {
            bool ok;
            if (key_is(k, "text") && *s->p == '"' && st->ctx->measure) {
                ok = string_words(s, st, words);
            } else if (key_is(k, "type") && *s->p == '"') {
                k->len = 0;
                ok = jtext_string(s, k);
                *output_text |= key_is(k, "output_text");
            } else {
                ok = jtext_value(s);
            }
            if (!ok)
                return false;
        }
        if (pr != 0)
            return false;
    }
    return r == 0;
}

/* Whether the decoded arguments text is a JSON object (Python dialect). */
static bool args_are_object(const util_buf *b)
{
    _Alignas(16) char scratch[4096];
    util_arena a;
    util_arena_init(&a, scratch, sizeof scratch);
    pj_value v;
    bool ok = pj_parse(&a, b->data ? b->data : "", b->len, &v, NULL, 0) == 0 && v.type == PJ_OBJECT;
    util_arena_free(&a);
    return ok;
}

/* One input item: a message (type absent or "message", with a role) adds
 * its words when measuring, and a turn when the role is "user"; the shapes
 * NeMo Gym warns about are noted (an earlier call whose arguments are no
 * JSON object, output_text parts in a message that is not the assistant's). */
static bool walk_item(jtext_scan *s, row_state *st, uint32_t i)
{
    if (*s->p != '{')
        return jtext_value(s);
    if (!jtext_open(s))
        return false;
    int role = 0;            /* 0 none, 1 user, 2 assistant, 3 other */
    bool message = true, call = false, has_args = false, output_text = false;
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
                role = key_is(k, "user") ? 1 : key_is(k, "assistant") ? 2 : 3;
            else {
                message = key_is(k, "message");
                call = key_is(k, "function_call");
            }
        } else if (key_is(k, "content")) {
            words = 0;
            ok = content_words(s, st, &words, &output_text);
        } else if (key_is(k, "arguments") && *s->p == '"') {
            st->ctx->args.len = 0;
            ok = jtext_string(s, &st->ctx->args);
            has_args = true;
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
    if (call && has_args && !args_are_object(&st->ctx->args))
        add_warning(st->out, "input_arguments", "responses_create_params.input[%u].arguments is "
                    "not a JSON object (vLLM refuses every request of this row)", i);
    if (role && role != 2 && output_text)
        add_warning(st->out, "output_text_role", "responses_create_params.input[%u] has an "
                    "output_text part in a message that is not the assistant's", i);
    return true;
}

static bool walk_input(jtext_scan *s, row_state *st)
{
    st->input_type = *s->p;
    st->n_input = st->n_user = st->n_words = 0;
    return walk_list(s, st, walk_item, &st->n_input);
}

/* tool_choice: null or "auto" is fine; anything else is a warning. */
static bool walk_tool_choice(jtext_scan *s, row_state *st)
{
    if (*s->p == 'n')
        return jtext_value(s);
    util_buf *k = &st->ctx->key;
    bool is_auto = false;
    if (*s->p == '"') {
        k->len = 0;
        if (!jtext_string(s, k))
            return false;
        is_auto = key_is(k, "auto");
    } else if (!jtext_value(s)) {
        return false;
    }
    if (!is_auto)
        add_warning(st->out, "tool_choice", "responses_create_params.tool_choice is not \"auto\"");
    return true;
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
        else if (key_is(k, "tool_choice"))
            ok = walk_tool_choice(s, st);
        else {
            if (key_is(k, "metadata") && *s->p == 'n')
                add_warning(st->out, "metadata_null", "responses_create_params.metadata is null "
                            "(NeMo Gym's vLLM model server fails on it)");
            ok = jtext_value(s);
        }
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
    util_vset_err(out->error_msg, sizeof out->error_msg, fmt, ap);
    va_end(ap);
    out->error = true;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorts the tool names (for duplicates and look-ups); a duplicate is a
 * warning (the first tool of a name is the task's). False when out of memory. */
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
            add_warning(out, "duplicate_tool", "duplicate tool name '%.80s' (the first one is the "
                        "task's tool)", c->sorted[i]);
            break;
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
    char w[sizeof out->warnings[0].msg];
    for (size_t i = 0; i < n; i++) {
        const char *name = grade_action_call_name(a, i);
        if (!name || name_listed(c, name))
            continue;
        int k = used ? snprintf(w + used, sizeof w - used, ", '%.80s'", name)
                     : snprintf(w, sizeof w, "expected call names a tool not listed in tools: '%.80s'", name);
        used += k > 0 ? (size_t)k : 0;
        if (used >= sizeof w)
            break;
    }
    if (used)
        add_warning(out, "unlisted_tool", "%s", w);
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
    json_t *ea = jtext_build((const char *)st->ea, (size_t)(st->ea_end - st->ea), JTEXT_PY);
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
    out->nwarnings = 0;
    out->kind_name = NULL;
    out->error_msg[0] = '\0';
    out->kind = GRADE_ACTION_NONE;
    out->n_input = out->n_tools = out->n_user = out->n_words = 0;
    out->expected = NULL;
    grade_action_free(ctx->expected);
    ctx->expected = NULL;
    ctx->nnames = 0;
    ctx->names.len = 0;

    jtext_scan s;
    jtext_scan_init(&s, p, len, JTEXT_PY, &ctx->tmp);
    row_state st = {.ctx = ctx, .out = out};
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
    if (s.seen & JTEXT_SEEN_BIG_INT)
        add_warning(out, "big_int", "an integer beyond 64 bits (kept exactly as written)");
    if (s.seen & JTEXT_SEEN_NONFINITE)
        add_warning(out, "non_finite_number", "NaN, Infinity or a number too large for a double "
                    "(kept exactly as written)");
    out->n_input = st.n_input;
    out->n_tools = st.n_tools;
    out->n_user = st.n_user;
    out->n_words = st.n_words;
    check_shape(ctx, &st, out);
}
