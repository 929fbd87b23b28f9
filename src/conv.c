/* conv — Responses ⇄ Chat Completions conversion over JSON text spans.
 *
 * How it works. The input text is validated once by jtext (lenient about
 * lone surrogate escapes, as Python is); from then on the module only holds
 * spans (pointer, length) of values inside it: jtext_object hands out the
 * members of an object, a small array iterator (arr_it) its elements. Output
 * is written straight into the caller's util_buf by copying spans; only the
 * few words the module makes itself (keys, "assistant", ids) are new text.
 *
 * Strings are handled in their raw (escaped) form: a text part's value is
 * the bytes between its quotes. Gluing two texts is concatenating raw forms,
 * which is exact because a JSON escape never spans two strings. Looking for
 * "<think>" uses raw_unit, which reads one character (a byte or one escape)
 * at a time, so an escaped "\u003cthink>" is found as well, and cutting at
 * unit boundaries leaves every other byte as written.
 *
 * A request is built in one pass over `input` (struct req): messages are
 * appended to the output as they are complete, the pending assistant message
 * lives in two side buffers (its text and its tool calls) until it is
 * flushed. Replies are converted likewise in one pass over choices[0].
 */
#include "conv.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "jtext.h"
#include "util.h"

#define CONV_JFLAGS (JTEXT_BIG_INTS | JTEXT_SURROGATES)
#define THINK_OPEN "<think>"
#define THINK_CLOSE "</think>"
/* How much of a name from the input an error message quotes. */
#define ERR_QUOTE_MAX 40

/* ---- spans -------------------------------------------------------------- */

/* The bytes of one JSON value inside a validated text; p NULL when absent. */
typedef struct span {
    const char *p;
    size_t n;
} span;

static bool sp_has(span v) { return v.p != NULL; }
static bool sp_null(span v) { return v.p && v.n == 4 && !memcmp(v.p, "null", 4); }
static bool sp_set(span v) { return v.p && !sp_null(v); }
static bool sp_str(span v) { return v.p && v.n >= 2 && v.p[0] == '"'; }
static bool sp_obj(span v) { return v.p && v.n >= 2 && v.p[0] == '{'; }
static bool sp_arr(span v) { return v.p && v.n >= 2 && v.p[0] == '['; }
/* The raw text between a string's quotes. */
static span sp_inner(span v) { return (span){v.p + 1, v.n - 2}; }

/* One character of raw string text at p (< end): its length in bytes and in
 * *ch its value when it is ASCII (-1 otherwise: a UTF-8 byte, a non-ASCII
 * escape). */
static size_t raw_unit(const char *p, const char *end, int *ch)
{
    unsigned char c = (unsigned char)*p;
    if (c != '\\' || end - p < 2) {
        *ch = c < 0x80 ? c : -1;
        return 1;
    }
    switch (p[1]) {
    case 'b': *ch = '\b'; return 2;
    case 'f': *ch = '\f'; return 2;
    case 'n': *ch = '\n'; return 2;
    case 'r': *ch = '\r'; return 2;
    case 't': *ch = '\t'; return 2;
    case 'u': {
        if (end - p < 6) { *ch = -1; return (size_t)(end - p); }
        long v = util_hex4(p + 2, 4);
        *ch = v >= 0 && v < 0x80 ? (int)v : -1;
        return 6;
    }
    default: *ch = (unsigned char)p[1]; return 2;   /* \" \\ \/ */
    }
}

/* Bytes of raw text at p that spell the ASCII literal lit, or 0. */
static size_t raw_match(const char *p, const char *end, const char *lit)
{
    const char *q = p;
    for (; *lit; lit++) {
        if (q >= end)
            return 0;
        int ch;
        size_t n = raw_unit(q, end, &ch);
        if (ch != (unsigned char)*lit)
            return 0;
        q += n;
    }
    return (size_t)(q - p);
}

/* The first place at or after p where raw text spells lit (its length in
 * *mlen), or NULL. */
static const char *raw_find(const char *p, const char *end, const char *lit, size_t *mlen)
{
    while (p < end) {
        size_t m = raw_match(p, end, lit);
        if (m) {
            *mlen = m;
            return p;
        }
        int ch;
        p += raw_unit(p, end, &ch);
    }
    return NULL;
}

/* Whether the string value v spells lit exactly. */
static bool sp_is(span v, const char *lit)
{
    if (!sp_str(v))
        return false;
    span in = sp_inner(v);
    if (!*lit)
        return in.n == 0;
    return raw_match(in.p, in.p + in.n, lit) == in.n && in.n > 0;
}

/* The next complete <think>…</think> span of raw text [p, end): true with
 * its start, inner text and end; false when there is none. */
typedef struct think_span {
    const char *start, *inner, *inner_end, *end;
} think_span;

static bool think_next(const char *p, const char *end, think_span *t)
{
    size_t ol, cl;
    const char *o = raw_find(p, end, THINK_OPEN, &ol);
    if (!o)
        return false;
    const char *c = raw_find(o + ol, end, THINK_CLOSE, &cl);
    if (!c)
        return false;
    *t = (think_span){o, o + ol, c, c + cl};
    return true;
}

/* Cuts every complete think span out of raw text in: the rest goes to rest;
 * fn (when given) sees each span's inner text. Returns the span count, or
 * -1 on allocation failure; *unclosed says whether a <think> is left. */
typedef int (*think_fn)(void *ctx, span inner);

static long think_cut(span in, util_buf *rest, think_fn fn, void *ctx, bool *unclosed)
{
    const char *p = in.p, *end = in.p + in.n;
    long count = 0;
    think_span t;
    while (think_next(p, end, &t)) {
        if (util_buf_append(rest, p, (size_t)(t.start - p)))
            return -1;
        if (fn && fn(ctx, (span){t.inner, (size_t)(t.inner_end - t.inner)}))
            return -1;
        count++;
        p = t.end;
    }
    if (util_buf_append(rest, p, (size_t)(end - p)))
        return -1;
    size_t ol;
    if (unclosed)
        *unclosed = raw_find(p, end, THINK_OPEN, &ol) != NULL;
    return count;
}

/* ---- object members and array elements ---------------------------------- */

typedef struct picker {
    const char *const *names;
    span *vals;
    size_t n;
} picker;

static int pick_cb(void *ctx, const jtext_member *m)
{
    picker *pk = ctx;
    for (size_t i = 0; i < pk->n; i++)
        if (jtext_member_is(m, pk->names[i]))
            pk->vals[i] = (span){m->v, (size_t)(m->end - m->v)};
    return 0;
}

/* The members named names[0..n) of object obj into vals (absent: p NULL;
 * duplicates: the last). 0, or -1 when obj is not a valid object. */
static int pick(span obj, const char *const *names, span *vals, size_t n)
{
    memset(vals, 0, n * sizeof *vals);
    if (!sp_obj(obj))
        return -1;
    picker pk = {names, vals, n};
    return jtext_object(obj.p, obj.n, CONV_JFLAGS, pick_cb, &pk, NULL, 0) ? -1 : 0;
}

/* The raw key of a member: the string literal just before its value's ':'. */
static span raw_key(const jtext_member *m)
{
    const char *q = m->v;
    while (*--q != ':')
        ;
    while (*--q != '"')
        ;
    const char *close = q;
    for (;;) {
        q--;
        if (*q != '"')
            continue;
        size_t bs = 0;
        for (const char *b = q - 1; *b == '\\'; b--)
            bs++;
        if (bs % 2 == 0)
            break;
    }
    return (span){q, (size_t)(close - q + 1)};
}

typedef struct arr_it {
    jtext_scan s;
    util_buf tmp;
    bool first;
} arr_it;

/* Iterates the elements of the (validated) array v. */
static void arr_init(arr_it *it, span v)
{
    it->tmp = (util_buf)UTIL_BUF_INIT;
    jtext_scan_init(&it->s, v.p, v.n, CONV_JFLAGS, &it->tmp);
    jtext_open(&it->s);
    it->first = true;
}

/* 1 with the next element in *e, 0 at the end, -1 on error. */
static int arr_next(arr_it *it, span *e)
{
    int r = jtext_arr_next(&it->s, &it->first);
    if (r != 1)
        return r;
    const char *b = (const char *)it->s.p;
    if (!jtext_value(&it->s))
        return -1;
    *e = (span){b, (size_t)((const char *)it->s.p - b)};
    return 1;
}

static void arr_done(arr_it *it) { util_buf_free(&it->tmp); }

/* Calls fn(ctx, element, index) on each element of the (validated) array v
 * until one returns non-zero. Returns that value, 0, or CONV_NOMEM when the
 * scan itself fails (allocation). */
typedef int (*elem_fn)(void *ctx, span e, size_t i);

static int each_elem(span v, elem_fn fn, void *ctx)
{
    arr_it it;
    arr_init(&it, v);
    span e;
    int k, rc = 0;
    size_t i = 0;
    while (rc == 0 && (k = arr_next(&it, &e)) == 1)
        rc = fn(ctx, e, i++);
    arr_done(&it);
    return rc ? rc : k < 0 ? CONV_NOMEM : 0;
}

/* ---- output helpers ----------------------------------------------------- */

static int put(util_buf *b, span v) { return util_buf_append(b, v.p, v.n); }

/* The ',' before a new member of the object being written (none right after
 * its '{'). */
static int put_comma(util_buf *b)
{
    return b->len && b->data[b->len - 1] == '{' ? 0 : util_buf_putc(b, ',');
}

/* One member "KEY":v (the key as written in its object), after a ',' unless
 * it is the first. */
static int put_member(util_buf *b, bool *first, const jtext_member *m, span v)
{
    if ((!*first && util_buf_putc(b, ',')) || put(b, raw_key(m)) || util_buf_putc(b, ':') ||
        put(b, v))
        return -1;
    *first = false;
    return 0;
}

/* v's raw string text inside new quotes. */
static int put_quoted(util_buf *b, span inner)
{
    return util_buf_putc(b, '"') || put(b, inner) || util_buf_putc(b, '"');
}

/* The value text v without white space outside strings. */
static int put_compact(util_buf *b, span v)
{
    bool in_str = false;
    for (size_t i = 0; i < v.n; i++) {
        char c = v.p[i];
        if (in_str) {
            if (c == '\\') {
                if (util_buf_append(b, v.p + i, 2))
                    return -1;
                i++;
                continue;
            }
            in_str = c != '"';
        } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
            continue;
        } else {
            in_str = c == '"';
        }
        if (util_buf_putc(b, c))
            return -1;
    }
    return 0;
}

/* A short printable quote of a string value's raw text for error messages. */
static void quote_for_err(span v, char *q, size_t qsz)
{
    size_t k = 0;
    if (sp_str(v)) {
        span in = sp_inner(v);
        for (size_t i = 0; i < in.n && k + 1 < qsz && i < ERR_QUOTE_MAX; i++) {
            unsigned char c = (unsigned char)in.p[i];
            q[k++] = (char)(c >= 0x20 && c < 0x7f ? c : '?');
        }
    } else {
        const char *what = !v.p ? "absent" : sp_null(v) ? "null" : "not a string";
        k = (size_t)snprintf(q, qsz, "(%s)", what);
        if (k >= qsz)
            k = qsz - 1;
    }
    q[k] = 0;
}

static int fail_to(char *err, size_t errsz, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail_to(char *err, size_t errsz, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    util_vset_err(err, errsz, fmt, ap);
    va_end(ap);
    return rc;
}

/* ---- anomalies ---------------------------------------------------------- */

static const char *const anomaly_names[CONV_ANOMALY_COUNT] = {
    "output_text_outside_assistant", "tool_without_strict", "chat_shaped_tool",
    "assistant_part_lenient", "tool_call_id_synthesised", "arguments_not_string",
    "unclosed_think", "extra_choices", "tool_call_without_name",
};

const char *conv_anomaly_name(unsigned bit)
{
    for (unsigned i = 0; i < CONV_ANOMALY_COUNT; i++)
        if (bit == 1u << i)
            return anomaly_names[i];
    return NULL;
}

int conv_anomalies_json(unsigned set, util_buf *out)
{
    if (util_buf_putc(out, '['))
        return CONV_NOMEM;
    bool first = true;
    for (unsigned i = 0; i < CONV_ANOMALY_COUNT; i++) {
        if (!(set & (1u << i)))
            continue;
        if ((!first && util_buf_putc(out, ',')) || util_buf_putc(out, '"') ||
            util_buf_puts(out, anomaly_names[i]) || util_buf_putc(out, '"'))
            return CONV_NOMEM;
        first = false;
    }
    return util_buf_putc(out, ']') ? CONV_NOMEM : CONV_OK;
}

/* ---- request state ------------------------------------------------------ */

typedef struct req {
    const conv_request_opts *o;
    util_buf *out;
    bool first_msg;         /* no message written yet */
    util_buf ptext;         /* the pending assistant message's raw text */
    util_buf pcalls;        /* and its tool calls, comma-separated */
    bool folding;           /* instructions still take leading system messages */
    util_buf fold;          /* the folded system text (raw) */
    util_buf taken;         /* body keys so far, each NUL-terminated */
    unsigned anomalies;
    char *err;
    size_t errsz;
} req;

/* Records a failure of a request or reply conversion (r: a req or a reply). */
#define rfail(r, rc, ...) fail_to((r)->err, (r)->errsz, (rc), __VA_ARGS__)
#define NOMEM(r) rfail((r), CONV_NOMEM, "out of memory")

static bool taken_has(const util_buf *t, const char *k, size_t n)
{
    for (size_t i = 0; i < t->len;) {
        size_t l = strlen(t->data + i);
        if (l == n && !memcmp(t->data + i, k, n))
            return true;
        i += l + 1;
    }
    return false;
}

static int taken_add(util_buf *t, const char *k, size_t n)
{
    if (memchr(k, 0, n))   /* a key with NUL cannot be told apart: keep it out */
        return 0;
    return util_buf_append(t, k, n) || util_buf_putc(t, 0);
}

static int msg_begin(req *r)
{
    if (!r->first_msg && util_buf_putc(r->out, ','))
        return -1;
    r->first_msg = false;
    return 0;
}

static int emit_fold(req *r)
{
    if (!r->folding)
        return 0;
    r->folding = false;
    if (msg_begin(r) || util_buf_puts(r->out, "{\"role\":\"system\",\"content\":\"") ||
        util_buf_append(r->out, r->fold.data, r->fold.len) || util_buf_puts(r->out, "\"}"))
        return NOMEM(r);
    return 0;
}

/* Field mode: the first span's text goes to reasoning_content/reasoning. */
typedef struct first_span {
    span s;
    bool seen;
} first_span;

static int first_span_cb(void *ctx, span inner)
{
    first_span *f = ctx;
    if (!f->seen)
        f->s = inner, f->seen = true;
    return 0;
}

static int flush(req *r)
{
    if (!r->ptext.len && !r->pcalls.len)   /* nothing pending (Gym writes no empty message) */
        return 0;
    util_buf *o = r->out;
    span text = {r->ptext.data ? r->ptext.data : "", r->ptext.len};
    util_buf cut = UTIL_BUF_INIT;
    first_span fs = {{NULL, 0}, false};
    int rc = CONV_NOMEM;
    if (r->o->reasoning == CONV_REASONING_FIELD) {
        if (think_cut(text, &cut, first_span_cb, &fs, NULL) < 0)
            goto done;
        text = (span){cut.data ? cut.data : "", cut.len};
    }
    if (msg_begin(r) || util_buf_puts(o, "{\"role\":\"assistant\",\"content\":"))
        goto done;
    /* null when empty; but cutting spans leaves a string, "" included (Gym) */
    if (text.n || fs.seen ? put_quoted(o, text) : util_buf_puts(o, "null"))
        goto done;
    if (fs.seen && (util_buf_puts(o, ",\"reasoning_content\":") || put_quoted(o, fs.s) ||
                    util_buf_puts(o, ",\"reasoning\":") || put_quoted(o, fs.s)))
        goto done;
    if (r->pcalls.len && (util_buf_puts(o, ",\"tool_calls\":[") ||
                          util_buf_append(o, r->pcalls.data, r->pcalls.len) ||
                          util_buf_putc(o, ']')))
        goto done;
    if (util_buf_putc(o, '}'))
        goto done;
    r->ptext.len = 0;
    r->pcalls.len = 0;
    rc = CONV_OK;
done:
    util_buf_free(&cut);
    return rc == CONV_OK ? rc : NOMEM(r);
}

/* ---- content parts ------------------------------------------------------ */

/* What the element callbacks of a request need. */
typedef struct list_ctx {
    req *r;
    const char *where;   /* "input[3]" for messages */
    util_buf *b;         /* content_text: where the text goes */
    bool assistant;      /* content_text: an assistant message */
} list_ctx;

/* each_elem's result, with the message of a scan failure. */
static int list_rc(req *r, int rc)
{
    return rc == CONV_NOMEM ? NOMEM(r) : rc;
}

static const char *const part_keys[] = {"type", "text", "image_url", "detail", "annotations",
                                        "refusal"};
enum { PK_TYPE, PK_TEXT, PK_IMAGE, PK_DETAIL, PK_ANNOT, PK_REFUSAL, PK_N };

/* A user/system/developer/tool content part → its Chat form. */
static int put_part(req *r, span part, const char *where, size_t j)
{
    span f[PK_N];
    if (pick(part, part_keys, f, PK_N))
        return rfail(r, CONV_INVALID, "%s.content[%zu] is not an object", where, j);
    util_buf *o = r->out;
    bool out_text = sp_is(f[PK_TYPE], "output_text");
    if (sp_is(f[PK_TYPE], "input_text") || out_text) {
        if (!sp_str(f[PK_TEXT]))
            return rfail(r, CONV_INVALID, "%s.content[%zu]: text part without a string text",
                         where, j);
        if (out_text)
            r->anomalies |= CONV_A_OUTPUT_TEXT_OUTSIDE_ASSISTANT;
        if (util_buf_puts(o, "{\"type\":\"text\",\"text\":") || put(o, f[PK_TEXT]) ||
            util_buf_putc(o, '}'))
            return NOMEM(r);
        return 0;
    }
    if (sp_is(f[PK_TYPE], "input_image")) {
        if (!sp_str(f[PK_IMAGE]))
            return rfail(r, CONV_INVALID,
                         "%s.content[%zu]: input_image without an image_url string", where, j);
        bool detail = sp_str(f[PK_DETAIL]);
        if (util_buf_puts(o, "{\"type\":\"image_url\",\"image_url\":{\"url\":") ||
            put(o, f[PK_IMAGE]) || util_buf_puts(o, ",\"detail\":") ||
            (detail ? put(o, f[PK_DETAIL]) : util_buf_puts(o, "\"auto\"")) ||
            util_buf_puts(o, "}}"))
            return NOMEM(r);
        return 0;
    }
    char q[64];
    quote_for_err(f[PK_TYPE], q, sizeof q);
    return rfail(r, CONV_INVALID, "%s.content[%zu]: content part type \"%s\" cannot be converted",
                 where, j, q);
}

static int put_part_cb(void *ctx, span e, size_t j)
{
    list_ctx *lc = ctx;
    if (j && util_buf_putc(lc->r->out, ','))
        return NOMEM(lc->r);
    return put_part(lc->r, e, lc->where, j);
}

/* A string or a list of parts → Chat content. */
static int put_content(req *r, span c, const char *where)
{
    if (sp_str(c))
        return put(r->out, c) ? NOMEM(r) : 0;
    if (!sp_arr(c))
        return rfail(r, CONV_INVALID, "%s: content is neither a string nor a list", where);
    if (util_buf_putc(r->out, '['))
        return NOMEM(r);
    list_ctx lc = {.r = r, .where = where};
    int rc = list_rc(r, each_elem(c, put_part_cb, &lc));
    if (rc)
        return rc;
    return util_buf_putc(r->out, ']') ? NOMEM(r) : 0;
}

/* One part of a content read as text (content_text). */
static int text_part_cb(void *ctx, span e, size_t j)
{
    list_ctx *lc = ctx;
    req *r = lc->r;
    span f[PK_N];
    if (pick(e, part_keys, f, PK_N))
        return rfail(r, CONV_INVALID, "%s.content[%zu] is not an object", lc->where, j);
    bool out_text = sp_is(f[PK_TYPE], "output_text");
    bool textual = out_text || sp_is(f[PK_TYPE], "input_text");
    span t = f[PK_TEXT];
    if (lc->assistant && sp_is(f[PK_TYPE], "refusal"))
        textual = true, t = f[PK_REFUSAL];
    if (!textual) {
        char q[64];
        quote_for_err(f[PK_TYPE], q, sizeof q);
        return rfail(r, CONV_INVALID, "%s.content[%zu]: content part type \"%s\" cannot be %s",
                     lc->where, j, q, lc->assistant ? "converted" : "folded into instructions");
    }
    if (!sp_str(t))
        return rfail(r, CONV_INVALID, "%s.content[%zu]: text part without a string text",
                     lc->where, j);
    if (lc->assistant && out_text && !sp_has(f[PK_ANNOT]))
        r->anomalies |= CONV_A_ASSISTANT_PART_LENIENT;
    if (!lc->assistant && out_text)
        r->anomalies |= CONV_A_OUTPUT_TEXT_OUTSIDE_ASSISTANT;
    return put(lc->b, sp_inner(t)) ? NOMEM(r) : 0;
}

/* The raw text of a content (string, or the text parts of a list) appended
 * to b. assistant: output_text/input_text/refusal parts; otherwise only text
 * parts (for instructions folding). */
static int content_text(req *r, span c, bool assistant, util_buf *b, const char *where)
{
    if (sp_null(c) || !sp_has(c))
        return assistant ? 0 : rfail(r, CONV_INVALID, "%s: message without content", where);
    if (sp_str(c))
        return put(b, sp_inner(c)) ? NOMEM(r) : 0;
    if (!sp_arr(c))
        return rfail(r, CONV_INVALID, "%s: content is neither a string nor a list", where);
    list_ctx lc = {r, where, b, assistant};
    return list_rc(r, each_elem(c, text_part_cb, &lc));
}

/* ---- input items -------------------------------------------------------- */

static const char *const item_keys[] = {"type", "role", "content", "summary", "call_id",
                                        "name", "arguments", "output"};
enum { IK_TYPE, IK_ROLE, IK_CONTENT, IK_SUMMARY, IK_CALL_ID, IK_NAME, IK_ARGS, IK_OUTPUT, IK_N };

static int item_message(req *r, span *f, const char *where)
{
    span role = f[IK_ROLE];
    if (sp_is(role, "assistant")) {
        if (emit_fold(r))
            return CONV_NOMEM;
        return content_text(r, f[IK_CONTENT], true, &r->ptext, where);
    }
    bool dev = sp_is(role, "developer");
    bool sys = sp_is(role, "system");
    if (!dev && !sys && !sp_is(role, "user")) {
        char q[64];
        quote_for_err(role, q, sizeof q);
        return rfail(r, CONV_INVALID, "%s: message role \"%s\" cannot be converted", where, q);
    }
    int rc = flush(r);
    if (rc)
        return rc;
    if (r->folding && (dev || sys)) {
        if (util_buf_puts(&r->fold, "\\n\\n"))
            return NOMEM(r);
        return content_text(r, f[IK_CONTENT], false, &r->fold, where);
    }
    if (emit_fold(r))
        return CONV_NOMEM;
    if (!sp_set(f[IK_CONTENT]))
        return rfail(r, CONV_INVALID, "%s: message without content", where);
    const char *as = dev && !r->o->developer_as_system ? "developer"
                     : sys || dev                      ? "system"
                                                       : "user";
    if (msg_begin(r) || util_buf_printf(r->out, "{\"role\":\"%s\",\"content\":", as))
        return NOMEM(r);
    if ((rc = put_content(r, f[IK_CONTENT], where)))
        return rc;
    return util_buf_putc(r->out, '}') ? NOMEM(r) : 0;
}

/* One summary of a reasoning item: "<think>TEXT</think>" (empty texts are
 * skipped, as in Gym). */
static int summary_cb(void *ctx, span e, size_t j)
{
    static const char *const keys[] = {"text"};
    list_ctx *lc = ctx;
    req *r = lc->r;
    span t;
    if (pick(e, keys, &t, 1) || !sp_str(t))
        return rfail(r, CONV_INVALID, "%s.summary[%zu] has no string text", lc->where, j);
    if (t.n > 2 && (util_buf_puts(&r->ptext, THINK_OPEN) || put(&r->ptext, sp_inner(t)) ||
                    util_buf_puts(&r->ptext, THINK_CLOSE)))
        return NOMEM(r);
    return 0;
}

static int item_reasoning(req *r, span *f, const char *where)
{
    if (r->o->reasoning == CONV_REASONING_DROP)
        return 0;
    if (emit_fold(r))
        return CONV_NOMEM;
    span s = f[IK_SUMMARY];
    if (!sp_set(s))
        return 0;
    if (!sp_arr(s))
        return rfail(r, CONV_INVALID, "%s: reasoning summary is not a list", where);
    list_ctx lc = {.r = r, .where = where};
    return list_rc(r, each_elem(s, summary_cb, &lc));
}

static int item_call(req *r, span *f, const char *where)
{
    if (!sp_str(f[IK_CALL_ID]) || !sp_str(f[IK_NAME]) || !sp_str(f[IK_ARGS]))
        return rfail(r, CONV_INVALID, "%s: function_call needs string call_id, name and arguments",
                     where);
    if (emit_fold(r))
        return CONV_NOMEM;
    util_buf *b = &r->pcalls;
    if ((b->len && util_buf_putc(b, ',')) || util_buf_puts(b, "{\"id\":") ||
        put(b, f[IK_CALL_ID]) ||
        util_buf_puts(b, ",\"type\":\"function\",\"function\":{\"name\":") ||
        put(b, f[IK_NAME]) || util_buf_puts(b, ",\"arguments\":") || put(b, f[IK_ARGS]) ||
        util_buf_puts(b, "}}"))
        return NOMEM(r);
    return 0;
}

static int item_output(req *r, span *f, const char *where)
{
    if (!sp_str(f[IK_CALL_ID]))
        return rfail(r, CONV_INVALID, "%s: function_call_output needs a string call_id", where);
    if (!sp_set(f[IK_OUTPUT]))
        return rfail(r, CONV_INVALID, "%s: function_call_output without output", where);
    int rc = flush(r);
    if (rc || (rc = emit_fold(r)))
        return rc;
    if (msg_begin(r) || util_buf_puts(r->out, "{\"role\":\"tool\",\"tool_call_id\":") ||
        put(r->out, f[IK_CALL_ID]) || util_buf_puts(r->out, ",\"content\":"))
        return NOMEM(r);
    if ((rc = put_content(r, f[IK_OUTPUT], where)))
        return rc;
    return util_buf_putc(r->out, '}') ? NOMEM(r) : 0;
}

static int item(req *r, span it, size_t i)
{
    char where[40];
    snprintf(where, sizeof where, "input[%zu]", i);
    span f[IK_N];
    if (pick(it, item_keys, f, IK_N))
        return rfail(r, CONV_INVALID, "%s is not an object", where);
    span type = f[IK_TYPE];
    if (!sp_set(type)) {
        if (!sp_set(f[IK_ROLE]))
            return rfail(r, CONV_INVALID, "%s has neither type nor role", where);
        return item_message(r, f, where);
    }
    if (sp_is(type, "message"))
        return item_message(r, f, where);
    if (sp_is(type, "reasoning"))
        return item_reasoning(r, f, where);
    if (sp_is(type, "function_call"))
        return item_call(r, f, where);
    if (sp_is(type, "function_call_output"))
        return item_output(r, f, where);
    char q[64];
    quote_for_err(type, q, sizeof q);
    return rfail(r, CONV_INVALID, "%s: item type \"%s\" cannot be converted", where, q);
}

static int item_cb(void *ctx, span e, size_t i) { return item(ctx, e, i); }

static int put_messages(req *r, span input, span instructions)
{
    if (sp_set(instructions)) {
        if (!sp_str(instructions))
            return rfail(r, CONV_INVALID, "instructions is not a string");
        span in = sp_inner(instructions);
        r->folding = in.n > 0;
        if (put(&r->fold, in))
            return NOMEM(r);
    }
    if (put_comma(r->out) || util_buf_puts(r->out, "\"messages\":["))
        return NOMEM(r);
    int rc = 0;
    if (sp_str(input)) {
        if (emit_fold(r) || msg_begin(r) ||
            util_buf_puts(r->out, "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":") ||
            put(r->out, input) || util_buf_puts(r->out, "}]}"))
            return NOMEM(r);
    } else if (sp_arr(input)) {
        rc = list_rc(r, each_elem(input, item_cb, r));
        if (rc == 0)
            rc = flush(r);
        if (rc == 0 && emit_fold(r))
            rc = CONV_NOMEM;
    } else {
        return rfail(r, CONV_INVALID, "input is %s", sp_has(input) ? "neither a string nor a list"
                                                                   : "missing");
    }
    if (rc)
        return rc;
    return util_buf_putc(r->out, ']') ? NOMEM(r) : 0;
}

/* ---- tools -------------------------------------------------------------- */

/* Copies the members of a Responses function tool but type, strict and
 * nulls into the function object. */
typedef struct tool_copy {
    util_buf *out;
    bool first, strict, fail;
} tool_copy;

static int tool_member_cb(void *ctx, const jtext_member *m)
{
    tool_copy *tc = ctx;
    if (jtext_member_is(m, "strict")) {
        tc->strict = true;
        return 0;
    }
    span v = {m->v, (size_t)(m->end - m->v)};
    if (jtext_member_is(m, "type") || sp_null(v))
        return 0;
    if (put_member(tc->out, &tc->first, m, v)) {
        tc->fail = true;
        return 1;
    }
    return 0;
}

static int put_tool(req *r, span tool, size_t i)
{
    static const char *const keys[] = {"type", "function", "name"};
    span f[3];
    if (pick(tool, keys, f, 3))
        return rfail(r, CONV_INVALID, "tools[%zu] is not an object", i);
    if (!sp_is(f[0], "function")) {
        char q[64];
        quote_for_err(f[0], q, sizeof q);
        return rfail(r, CONV_INVALID, "tools[%zu]: tool type \"%s\" cannot be converted", i, q);
    }
    util_buf *o = r->out;
    if (util_buf_puts(o, "{\"type\":\"function\",\"function\":"))
        return NOMEM(r);
    if (sp_obj(f[1])) {
        r->anomalies |= CONV_A_CHAT_SHAPED_TOOL;
        if (put(o, f[1]))
            return NOMEM(r);
    } else {
        if (!sp_str(f[2]))
            return rfail(r, CONV_INVALID, "tools[%zu]: function tool without a string name", i);
        tool_copy tc = {o, true, false, false};
        if (util_buf_putc(o, '{') ||
            jtext_object(tool.p, tool.n, CONV_JFLAGS, tool_member_cb, &tc, NULL, 0) || tc.fail ||
            util_buf_putc(o, '}'))
            return NOMEM(r);
        if (!tc.strict)
            r->anomalies |= CONV_A_TOOL_WITHOUT_STRICT;
    }
    return util_buf_putc(o, '}') ? NOMEM(r) : 0;
}

static int put_tool_cb(void *ctx, span e, size_t i)
{
    req *r = ctx;
    if (i && util_buf_putc(r->out, ','))
        return NOMEM(r);
    return put_tool(r, e, i);
}

/* "tools":[…] when there are tools; *n whether there are. */
static int put_tools(req *r, span tools, size_t *n)
{
    *n = 0;
    if (!sp_set(tools))
        return 0;
    if (!sp_arr(tools))
        return rfail(r, CONV_INVALID, "tools is not a list");
    size_t mark = r->out->len;
    if (util_buf_puts(r->out, ",\"tools\":["))
        return NOMEM(r);
    size_t before = r->out->len;
    int rc = list_rc(r, each_elem(tools, put_tool_cb, r));
    if (rc)
        return rc;
    *n = r->out->len > before;
    if (!*n) {
        r->out->len = mark;
        r->out->data[mark] = 0;
        return 0;
    }
    return util_buf_putc(r->out, ']') ? NOMEM(r) : 0;
}

static int put_tool_choice(req *r, span tc)
{
    util_buf *o = r->out;
    if (util_buf_puts(o, ",\"tool_choice\":"))
        return NOMEM(r);
    if (sp_str(tc))
        return put(o, tc) ? NOMEM(r) : 0;
    static const char *const keys[] = {"type", "name", "function"};
    span f[3];
    if (pick(tc, keys, f, 3) || !sp_is(f[0], "function"))
        return rfail(r, CONV_INVALID, "tool_choice is neither a mode nor a function choice");
    if (sp_obj(f[2]))
        return put(o, tc) ? NOMEM(r) : 0;
    if (!sp_str(f[1]))
        return rfail(r, CONV_INVALID, "tool_choice names no function");
    if (util_buf_puts(o, "{\"type\":\"function\",\"function\":{\"name\":") || put(o, f[1]) ||
        util_buf_puts(o, "}}"))
        return NOMEM(r);
    return 0;
}

/* ---- parameters --------------------------------------------------------- */

/* The top-level parameters conv reads; everything else is not sent. */
static const char *const param_keys[] = {
    "model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls",
    "max_output_tokens", "temperature", "top_p", "reasoning", "metadata", "user",
    "service_tier", "store", "top_logprobs",
};
enum {
    P_MODEL, P_INPUT, P_INSTR, P_TOOLS, P_TOOL_CHOICE, P_PARALLEL, P_MAX_OUT, P_TEMP, P_TOP_P,
    P_REASONING, P_METADATA, P_USER, P_TIER, P_STORE, P_TOP_LOGPROBS, P_N
};

typedef struct params_scan {
    span f[P_N];
    util_buf *taken;
    bool fail;
} params_scan;

static int params_cb(void *ctx, const jtext_member *m)
{
    params_scan *ps = ctx;
    for (size_t i = 0; i < P_N; i++)
        if (jtext_member_is(m, param_keys[i]))
            ps->f[i] = (span){m->v, (size_t)(m->end - m->v)};
    if (ps->taken && !taken_has(ps->taken, m->key, m->key_len) &&
        taken_add(ps->taken, m->key, m->key_len)) {
        ps->fail = true;
        return 1;
    }
    return 0;
}

/* A simple parameter passed through as "name":value when set. */
static int put_param(req *r, const char *name, span v)
{
    if (!sp_set(v))
        return 0;
    if (put_comma(r->out) || util_buf_printf(r->out, "\"%s\":", name) || put(r->out, v))
        return NOMEM(r);
    return 0;
}

/* An engine-parameter object (extra body, chat template kwargs) from an
 * option text or a row's metadata member (an object, or a string holding
 * one, decoded into hold). */
static int engine_object(req *r, span v, util_buf *hold, const char *what, span *obj)
{
    *obj = (span){NULL, 0};
    if (!sp_set(v))
        return 0;
    if (sp_str(v)) {
        util_buf tmp = UTIL_BUF_INIT;
        jtext_scan s;
        jtext_scan_init(&s, v.p, v.n, CONV_JFLAGS, &tmp);
        hold->len = 0;
        bool ok = jtext_string(&s, hold);
        util_buf_free(&tmp);
        if (!ok)
            return NOMEM(r);
        v = (span){hold->data ? hold->data : "", hold->len};
    }
    const char *p = v.p;
    size_t n = v.n;
    while (n && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++, n--;
    char why[96];
    if (jtext_object(p, n, CONV_JFLAGS, NULL, NULL, why, sizeof why))
        return rfail(r, CONV_INVALID, "%s is not a JSON object: %s", what, why);
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == '\t'))
        n--;
    *obj = (span){p, n};
    return 0;
}

typedef struct extra_merge {
    req *r;
    bool fail;
} extra_merge;

static int extra_cb(void *ctx, const jtext_member *m)
{
    extra_merge *em = ctx;
    req *r = em->r;
    if (taken_has(&r->taken, m->key, m->key_len) || memchr(m->key, 0, m->key_len))
        return 0;
    if (put_comma(r->out) || put(r->out, raw_key(m)) || util_buf_putc(r->out, ':') ||
        util_buf_append(r->out, m->v, (size_t)(m->end - m->v)) ||
        taken_add(&r->taken, m->key, m->key_len)) {
        em->fail = true;
        return 1;
    }
    return 0;
}

static int merge_extra(req *r, span obj)
{
    if (!obj.p)
        return 0;
    extra_merge em = {r, false};
    if (jtext_object(obj.p, obj.n, CONV_JFLAGS, extra_cb, &em, NULL, 0) || em.fail)
        return NOMEM(r);
    return 0;
}

/* The value of the last member named k of object obj, or an absent span. */
typedef struct find_ctx {
    const char *k;
    size_t n;
    span v;
} find_ctx;

static int find_cb(void *ctx, const jtext_member *m)
{
    find_ctx *f = ctx;
    if (m->key_len == f->n && !memcmp(m->key, f->k, f->n))
        f->v = (span){m->v, (size_t)(m->end - m->v)};
    return 0;
}

static span find_member(span obj, const char *k, size_t n)
{
    find_ctx f = {k, n, {NULL, 0}};
    if (obj.p)
        jtext_object(obj.p, obj.n, CONV_JFLAGS, find_cb, &f, NULL, 0);
    return f.v;
}

/* Writes the members of `base` (with the value `over` gives a key, when it
 * has it), then those of `over` that base lacks: Python's
 * base.update(over). */
typedef struct merge_ctx {
    util_buf *out;
    span other;
    bool skip_shared;   /* second pass: only keys `other` lacks */
    bool first, fail;
} merge_ctx;

static int merge_cb(void *ctx, const jtext_member *m)
{
    merge_ctx *mc = ctx;
    span v = {m->v, (size_t)(m->end - m->v)}, o = find_member(mc->other, m->key, m->key_len);
    if (mc->skip_shared && o.p)
        return 0;
    if (!mc->skip_shared && o.p)
        v = o;
    if (put_member(mc->out, &mc->first, m, v)) {
        mc->fail = true;
        return 1;
    }
    return 0;
}

static int put_merged(util_buf *out, span base, span over)
{
    merge_ctx a = {out, over, false, true, false}, b = {out, base, true, true, false};
    if (util_buf_putc(out, '{'))
        return -1;
    if (base.p && (jtext_object(base.p, base.n, CONV_JFLAGS, merge_cb, &a, NULL, 0) || a.fail))
        return -1;
    b.first = a.first;
    if (over.p && (jtext_object(over.p, over.n, CONV_JFLAGS, merge_cb, &b, NULL, 0) || b.fail))
        return -1;
    return util_buf_putc(out, '}');
}

/* seed, chat_template_kwargs and the extra bodies, shared by both APIs. */
static int put_engine(req *r, span meta_ckw, span meta_extra)
{
    util_buf h1 = UTIL_BUF_INIT, h2 = UTIL_BUF_INIT, h3 = UTIL_BUF_INIT, h4 = UTIL_BUF_INIT;
    const conv_request_opts *o = r->o;
    span ckw, ckw_row, extra, extra_row;
    const char *ock = o->chat_template_kwargs;
    span opt_ckw = {ock, ock ? strlen(ock) : 0};
    span opt_extra = {o->extra_body, o->extra_body ? strlen(o->extra_body) : 0};
    int rc = engine_object(r, opt_ckw, &h1, "--chat-template-kwargs", &ckw);
    if (!rc)
        rc = engine_object(r, meta_ckw, &h2, "metadata.chat_template_kwargs", &ckw_row);
    if (!rc)
        rc = engine_object(r, opt_extra, &h3, "--extra-body", &extra);
    if (!rc)
        rc = engine_object(r, meta_extra, &h4, "metadata.extra_body", &extra_row);
    if (!rc && o->has_seed && !taken_has(&r->taken, "seed", 4)) {
        if (put_comma(r->out) || util_buf_printf(r->out, "\"seed\":%lld", o->seed) ||
            taken_add(&r->taken, "seed", 4))
            rc = NOMEM(r);
    }
    if (!rc && (ckw.p || ckw_row.p) && !taken_has(&r->taken, "chat_template_kwargs", 20)) {
        if (put_comma(r->out) || util_buf_puts(r->out, "\"chat_template_kwargs\":") ||
            put_merged(r->out, ckw, ckw_row) || taken_add(&r->taken, "chat_template_kwargs", 20))
            rc = NOMEM(r);
    }
    if (!rc && !taken_has(&r->taken, "stream", 6) && taken_add(&r->taken, "stream", 6))
        rc = NOMEM(r);
    if (!rc)   /* the row's extra body over the option's, both under the body */
        rc = merge_extra(r, extra_row);
    if (!rc)
        rc = merge_extra(r, extra);
    util_buf_free(&h1);
    util_buf_free(&h2);
    util_buf_free(&h3);
    util_buf_free(&h4);
    return rc;
}

static int put_model(req *r, span row_model)
{
    if (r->o->model) {
        if (util_buf_puts(r->out, "\"model\":") ||
            util_buf_json_string(r->out, r->o->model, strlen(r->o->model)))
            return NOMEM(r);
        return 0;
    }
    if (sp_set(row_model) && (util_buf_puts(r->out, "\"model\":") || put(r->out, row_model)))
        return NOMEM(r);
    return 0;
}

/* tool_choice and parallel_tool_calls, which need tools (Gym refuses any
 * choice but "auto"/"none" without them). */
static int put_tool_params(req *r, span *f, size_t ntools)
{
    span tc = f[P_TOOL_CHOICE];
    if (ntools) {
        int rc = sp_set(tc) ? put_tool_choice(r, tc) : 0;
        return rc ? rc : put_param(r, "parallel_tool_calls", f[P_PARALLEL]);
    }
    if (!sp_set(tc) || sp_is(tc, "auto") || sp_is(tc, "none"))
        return 0;
    char qt[64] = "(a named choice)";
    if (sp_str(tc)) {
        qt[0] = '"';
        quote_for_err(tc, qt + 1, sizeof qt - 2);
        strcat(qt, "\"");
    }
    return rfail(r, CONV_INVALID, "tool_choice %s but the row has no tools", qt);
}

/* The parameters passed through under their own name or renamed. */
static int put_sampling(req *r, span *f)
{
    static const struct { int k; const char *name; } plain[] = {
        {P_MAX_OUT, "max_tokens"}, {P_TEMP, "temperature"}, {P_TOP_P, "top_p"},
        {P_REASONING, "reasoning_effort"}, {P_METADATA, "metadata"}, {P_USER, "user"},
        {P_TIER, "service_tier"}, {P_STORE, "store"}, {P_TOP_LOGPROBS, "top_logprobs"},
    };
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        span v = f[plain[i].k];
        if (plain[i].k == P_REASONING && sp_set(v)) {   /* reasoning.effort */
            static const char *const keys[] = {"effort"};
            if (pick(v, keys, &v, 1))
                return rfail(r, CONV_INVALID, "reasoning is not an object");
        }
        int rc = put_param(r, plain[i].name, v);
        if (rc)
            return rc;
    }
    return 0;
}

static int chat_body(req *r, span *f)
{
    /* keys the body has or the row sets under another name */
    if (taken_add(&r->taken, "model", 5) || taken_add(&r->taken, "messages", 8) ||
        (sp_has(f[P_MAX_OUT]) && taken_add(&r->taken, "max_tokens", 10)) ||
        (sp_has(f[P_REASONING]) && taken_add(&r->taken, "reasoning_effort", 16)))
        return NOMEM(r);
    if (util_buf_putc(r->out, '{'))
        return NOMEM(r);
    size_t ntools;
    int rc;
    if ((rc = put_model(r, f[P_MODEL])) || (rc = put_messages(r, f[P_INPUT], f[P_INSTR])) ||
        (rc = put_tools(r, f[P_TOOLS], &ntools)) || (rc = put_tool_params(r, f, ntools)) ||
        (rc = put_sampling(r, f)))
        return rc;
    static const char *const mkeys[] = {"chat_template_kwargs", "extra_body"};
    span m[2] = {{NULL, 0}, {NULL, 0}};
    if (sp_obj(f[P_METADATA]) && pick(f[P_METADATA], mkeys, m, 2))
        return NOMEM(r);
    if ((rc = put_engine(r, m[0], m[1])))
        return rc;
    return util_buf_putc(r->out, '}') ? NOMEM(r) : 0;
}

static void req_free(req *r)
{
    util_buf_free(&r->ptext);
    util_buf_free(&r->pcalls);
    util_buf_free(&r->fold);
    util_buf_free(&r->taken);
}

static void out_reset(util_buf *out, size_t mark)
{
    out->len = mark;
    if (out->data)
        out->data[mark] = 0;
}

int conv_chat_request(const char *params, size_t len, const conv_request_opts *o,
                      util_buf *out, unsigned *anomalies, char *err, size_t errsz)
{
    static const conv_request_opts defaults = {0};
    req r = {.o = o ? o : &defaults, .out = out, .first_msg = true, .err = err, .errsz = errsz};
    if (anomalies)
        *anomalies = 0;
    params_scan ps = {.taken = &r.taken};
    char why[96];
    int rc = jtext_object(params, len, CONV_JFLAGS, params_cb, &ps, why, sizeof why);
    size_t mark = out->len;
    if (rc || ps.fail)
        rc = ps.fail ? NOMEM(&r) : rfail(&r, CONV_INVALID, "responses_create_params: %s", why);
    else
        rc = chat_body(&r, ps.f);
    if (rc)
        out_reset(out, mark);
    else if (anomalies)
        *anomalies = r.anomalies;
    req_free(&r);
    return rc;
}

/* ---- --api responses ---------------------------------------------------- */

typedef struct pass {
    req *r;
    int rc;
} pass;

/* input without its reasoning items. */
static int put_input_without_reasoning(req *r, span input)
{
    static const char *const keys[] = {"type"};
    if (util_buf_putc(r->out, '['))
        return NOMEM(r);
    arr_it it;
    arr_init(&it, input);
    span e, t;
    int k;
    bool first = true;
    while ((k = arr_next(&it, &e)) == 1) {
        if (sp_obj(e) && !pick(e, keys, &t, 1) && sp_is(t, "reasoning"))
            continue;
        if ((!first && util_buf_putc(r->out, ',')) || put(r->out, e)) {
            k = -1;
            break;
        }
        first = false;
    }
    arr_done(&it);
    if (k < 0 || util_buf_putc(r->out, ']'))
        return NOMEM(r);
    return 0;
}

static int pass_cb(void *ctx, const jtext_member *m)
{
    pass *ps = ctx;
    req *r = ps->r;
    span v = {m->v, (size_t)(m->end - m->v)};
    if (!taken_has(&r->taken, m->key, m->key_len) && taken_add(&r->taken, m->key, m->key_len))
        return ps->rc = NOMEM(r), 1;
    if (sp_null(v) || (r->o->model && jtext_member_is(m, "model")) || jtext_member_is(m, "stream"))
        return 0;
    if (put_comma(r->out) || put(r->out, raw_key(m)) || util_buf_putc(r->out, ':'))
        return ps->rc = NOMEM(r), 1;
    if (r->o->reasoning == CONV_REASONING_DROP && jtext_member_is(m, "input") && sp_arr(v)) {
        if ((ps->rc = put_input_without_reasoning(r, v)))
            return 1;
        return 0;
    }
    if (put(r->out, v))
        return ps->rc = NOMEM(r), 1;
    return 0;
}

int conv_responses_request(const char *params, size_t len, const conv_request_opts *o,
                           util_buf *out, char *err, size_t errsz)
{
    static const conv_request_opts defaults = {0};
    req r = {.o = o ? o : &defaults, .out = out, .err = err, .errsz = errsz};
    size_t mark = out->len;
    char why[96];
    int rc = jtext_object(params, len, CONV_JFLAGS, NULL, NULL, why, sizeof why);
    if (rc) {
        rc = rfail(&r, CONV_INVALID, "responses_create_params: %s", why);
    } else if (util_buf_putc(out, '{') || (r.o->model && (put_model(&r, (span){NULL, 0}) ||
                                                          taken_add(&r.taken, "model", 5)))) {
        rc = NOMEM(&r);
    } else {
        pass ps = {&r, 0};
        if (jtext_object(params, len, CONV_JFLAGS, pass_cb, &ps, NULL, 0) && !ps.rc)
            ps.rc = NOMEM(&r);
        rc = ps.rc;
        if (!rc)
            rc = put_engine(&r, (span){NULL, 0}, (span){NULL, 0});
        if (!rc && util_buf_putc(out, '}'))
            rc = NOMEM(&r);
    }
    if (rc)
        out_reset(out, mark);
    req_free(&r);
    return rc;
}

/* ---- replies ------------------------------------------------------------ */

/* splitmix64: the id sequence. */
static uint64_t next_rand(uint64_t *st)
{
    uint64_t z = (*st += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* "PREFIX" + 32 hex digits, quoted. */
static int put_id(util_buf *b, uint64_t *st, const char *prefix)
{
    uint64_t a = next_rand(st), c = next_rand(st);
    return util_buf_printf(b, "\"%s%016llx%016llx\"", prefix, (unsigned long long)a,
                           (unsigned long long)c);
}

static bool sp_num(span v)
{
    return v.p && v.n && (v.p[0] == '-' || (v.p[0] >= '0' && v.p[0] <= '9'));
}

/* An integer count from a number value, or -1. */
static long long sp_count(span v)
{
    if (!sp_num(v))
        return -1;
    char tmp[32];
    size_t n = v.n < sizeof tmp - 1 ? v.n : sizeof tmp - 1;
    memcpy(tmp, v.p, n);
    tmp[n] = 0;
    return strtoll(tmp, NULL, 10);
}

/* A value's string text as printable ASCII into dst[0..dstsz). */
static void copy_word(span v, char *dst, size_t dstsz)
{
    size_t k = 0;
    if (sp_str(v)) {
        span in = sp_inner(v);
        for (size_t i = 0; i < in.n && k + 1 < dstsz; i++) {
            unsigned char c = (unsigned char)in.p[i];
            dst[k++] = (char)(c > 0x20 && c < 0x7f && c != '"' && c != '\\' ? c : '?');
        }
    }
    dst[k] = 0;
}

typedef struct reply {
    util_buf *out;
    uint64_t st;
    conv_reply_info *info;
    char *err;
    size_t errsz;
    util_buf sums;     /* summary objects, comma-separated */
    unsigned nsum;
    util_buf text;     /* message text left (raw) */
    util_buf calls;    /* function_call items, comma-separated */
} reply;



static int add_summary(void *ctx, span inner)
{
    reply *y = ctx;
    if ((y->nsum && util_buf_putc(&y->sums, ',')) ||
        util_buf_puts(&y->sums, "{\"type\":\"summary_text\",\"text\":") ||
        put_quoted(&y->sums, inner) ||
        util_buf_putc(&y->sums, '}'))
        return -1;
    y->nsum++;
    return 0;
}

/* A text part of a reply's content list appended to the raw text ctx. */
static int reply_part_cb(void *ctx, span e, size_t i)
{
    static const char *const keys[] = {"type", "text"};
    span f[2];
    (void)i;
    if (!pick(e, keys, f, 2) && sp_str(f[1]) && put(ctx, sp_inner(f[1])))
        return CONV_NOMEM;
    return 0;
}

/* The message content's raw text (a string, or the text parts of a list). */
static int reply_content(reply *y, span c, util_buf *raw)
{
    if (!sp_set(c))
        return 0;
    if (sp_str(c))
        return put(raw, sp_inner(c)) ? NOMEM(y) : 0;
    if (!sp_arr(c))
        return rfail(y, CONV_INVALID, "choices[0].message.content is neither a string nor a list");
    return each_elem(c, reply_part_cb, raw) ? NOMEM(y) : 0;
}

static int reply_call(void *ctx, span call, size_t i)
{
    reply *y = ctx;
    static const char *const keys[] = {"id", "function"};
    static const char *const fkeys[] = {"name", "arguments"};
    span f[2], g[2];
    if (pick(call, keys, f, 2) || pick(f[1], fkeys, g, 2))
        return rfail(y, CONV_INVALID, "choices[0].message.tool_calls[%zu] is not a function call",
                     i);
    util_buf *b = &y->calls;
    if ((b->len && util_buf_putc(b, ',')) ||
        util_buf_puts(b, "{\"type\":\"function_call\",\"id\":") ||
        put_id(b, &y->st, "fc_") || util_buf_puts(b, ",\"call_id\":"))
        return NOMEM(y);
    if (sp_str(f[0]) && f[0].n > 2) {
        if (put(b, f[0]))
            return NOMEM(y);
    } else {
        y->info->anomalies |= CONV_A_TOOL_CALL_ID_SYNTHESISED;
        if (put_id(b, &y->st, "call_"))
            return NOMEM(y);
    }
    if (util_buf_puts(b, ",\"name\":"))
        return NOMEM(y);
    int rc;
    if (sp_str(g[0])) {
        rc = put(b, g[0]);
    } else {
        y->info->anomalies |= CONV_A_TOOL_CALL_WITHOUT_NAME;
        rc = util_buf_puts(b, "\"\"");
    }
    if (rc || util_buf_puts(b, ",\"arguments\":"))
        return NOMEM(y);
    if (sp_str(g[1])) {
        rc = put(b, g[1]);
    } else if (sp_set(g[1])) {
        y->info->anomalies |= CONV_A_ARGUMENTS_NOT_STRING;
        util_buf c = UTIL_BUF_INIT;
        rc = put_compact(&c, g[1]) || util_buf_json_string(b, c.data ? c.data : "", c.len);
        util_buf_free(&c);
    } else {
        y->info->anomalies |= CONV_A_ARGUMENTS_NOT_STRING;
        rc = util_buf_puts(b, "\"\"");
    }
    if (rc || util_buf_puts(b, ",\"status\":\"completed\"}"))
        return NOMEM(y);
    y->info->n_tool_calls++;
    return 0;
}

static int reply_calls(reply *y, span calls)
{
    if (!sp_set(calls))
        return 0;
    if (!sp_arr(calls))
        return rfail(y, CONV_INVALID, "choices[0].message.tool_calls is not a list");
    int rc = each_elem(calls, reply_call, y);
    return rc == CONV_NOMEM ? NOMEM(y) : rc;
}

/* choices[0] → the output items into y's buffers. */
static int reply_choice(reply *y, span choice)
{
    static const char *const ckeys[] = {"message", "finish_reason"};
    static const char *const mkeys[] = {"content", "reasoning_content", "reasoning", "tool_calls"};
    span c[2], m[4];
    if (pick(choice, ckeys, c, 2) || pick(c[0], mkeys, m, 4))
        return rfail(y, CONV_INVALID, "choices[0] has no message object");
    copy_word(c[1], y->info->finish_reason, sizeof y->info->finish_reason);
    /* as Gym: a reasoning field is put in front of the content as a think
     * span, then every span of the whole text is cut out */
    span field = sp_str(m[1]) && m[1].n > 2 ? m[1] : m[2];
    util_buf raw = UTIL_BUF_INIT;
    int rc = 0;
    if (sp_str(field) && field.n > 2 &&
        (util_buf_puts(&raw, THINK_OPEN) || put(&raw, sp_inner(field)) ||
         util_buf_puts(&raw, THINK_CLOSE)))
        rc = NOMEM(y);
    if (!rc)
        rc = reply_content(y, m[0], &raw);
    bool unclosed = false;
    if (!rc && think_cut((span){raw.data ? raw.data : "", raw.len}, &y->text, add_summary, y,
                         &unclosed) < 0)
        rc = NOMEM(y);
    util_buf_free(&raw);
    if (unclosed)
        y->info->anomalies |= CONV_A_UNCLOSED_THINK;
    return rc ? rc : reply_calls(y, m[3]);
}

static int put_usage_num(util_buf *b, const char *name, span v, long long *count)
{
    *count = sp_count(v);
    if (util_buf_printf(b, "\"%s\":", name))
        return -1;
    return sp_num(v) ? put(b, v) : util_buf_putc(b, '0');
}

static int reply_usage(reply *y, span u)
{
    util_buf *b = y->out;
    conv_reply_info *in = y->info;
    static const char *const keys[] = {"prompt_tokens", "completion_tokens", "total_tokens",
                                       "prompt_tokens_details", "completion_tokens_details"};
    static const char *const ck[] = {"cached_tokens"};
    static const char *const rk[] = {"reasoning_tokens"};
    span f[5], cached = {NULL, 0}, reasoning = {NULL, 0};
    if (pick(u, keys, f, 5))
        return util_buf_puts(b, ",\"usage\":null") ? NOMEM(y) : 0;
    if (sp_obj(f[3]))
        pick(f[3], ck, &cached, 1);
    if (sp_obj(f[4]))
        pick(f[4], rk, &reasoning, 1);
    long long total, in_n = sp_count(f[0]), out_n = sp_count(f[1]);
    if (__builtin_add_overflow(in_n > 0 ? in_n : 0, out_n > 0 ? out_n : 0, &total))
        total = LLONG_MAX;
    if (util_buf_puts(b, ",\"usage\":{") ||
        put_usage_num(b, "input_tokens", f[0], &in->input_tokens) ||
        util_buf_puts(b, ",\"input_tokens_details\":{") ||
        put_usage_num(b, "cached_tokens", cached, &in->cached_tokens) ||
        util_buf_puts(b, "},") || put_usage_num(b, "output_tokens", f[1], &in->output_tokens) ||
        util_buf_puts(b, ",\"output_tokens_details\":{") ||
        put_usage_num(b, "reasoning_tokens", reasoning, &in->reasoning_tokens) ||
        util_buf_puts(b, "},"))
        return NOMEM(y);
    if (sp_num(f[2]) ? put_usage_num(b, "total_tokens", f[2], &total)
                     : util_buf_printf(b, "\"total_tokens\":%lld", total))
        return NOMEM(y);
    return util_buf_putc(b, '}') ? NOMEM(y) : 0;
}

/* The output list from y's buffers. */
static int reply_output(reply *y, bool has_choice)
{
    util_buf *b = y->out;
    bool msg = has_choice && (y->text.len || (!y->nsum && !y->calls.len));
    bool sep = false;
    if (util_buf_puts(b, ",\"output\":["))
        return NOMEM(y);
    if (y->nsum) {
        if (util_buf_puts(b, "{\"type\":\"reasoning\",\"id\":") || put_id(b, &y->st, "rs_") ||
            util_buf_puts(b, ",\"summary\":[") || util_buf_append(b, y->sums.data, y->sums.len) ||
            util_buf_puts(b, "]}"))
            return NOMEM(y);
        sep = true;
    }
    if (msg) {
        if ((sep && util_buf_putc(b, ',')) || util_buf_puts(b, "{\"type\":\"message\",\"id\":") ||
            put_id(b, &y->st, "msg_") ||
            util_buf_puts(b, ",\"role\":\"assistant\",\"status\":\"completed\",\"content\":"
                             "[{\"type\":\"output_text\",\"text\":") ||
            put_quoted(b, (span){y->text.data ? y->text.data : "", y->text.len}) ||
            util_buf_puts(b, ",\"annotations\":[]}]}"))
            return NOMEM(y);
        sep = true;
    }
    if (y->calls.len && ((sep && util_buf_putc(b, ',')) ||
                         util_buf_append(b, y->calls.data, y->calls.len)))
        return NOMEM(y);
    y->info->has_action = y->calls.len || y->text.len;
    return util_buf_putc(b, ']') ? NOMEM(y) : 0;
}

/* The request parameters echoed in the object. */
static int reply_params(reply *y, const char *params, size_t params_len)
{
    static const char *const keys[] = {"tools", "tool_choice", "parallel_tool_calls",
                                       "temperature", "top_p", "max_output_tokens"};
    static const char *const dflt[] = {"[]", "\"auto\"", "true", "null", "null", "null"};
    span f[6];
    memset(f, 0, sizeof f);
    if (params && params_len && pick((span){params, params_len}, keys, f, 6))
        return rfail(y, CONV_INVALID, "responses_create_params is not a JSON object");
    for (size_t i = 0; i < 6; i++) {
        if (util_buf_printf(y->out, ",\"%s\":", keys[i]) ||
            (sp_set(f[i]) ? put(y->out, f[i]) : util_buf_puts(y->out, dflt[i])))
            return NOMEM(y);
    }
    return 0;
}

static int chat_reply(reply *y, const char *completion, size_t len, const char *params,
                      size_t params_len, const char *model, long long created_at)
{
    static const char *const keys[] = {"choices", "usage", "error"};
    span f[3];
    char why[96];
    picker pk = {keys, f, 3};
    memset(f, 0, sizeof f);
    if (jtext_object(completion, len, CONV_JFLAGS, pick_cb, &pk, why, sizeof why))
        return rfail(y, CONV_INVALID, "reply is not a chat completion: %s", why);
    if (!sp_arr(f[0]))
        return rfail(y, CONV_INVALID, "reply is not a chat completion: %s",
                          sp_set(f[2]) ? "it is an error object" : "no choices list");
    arr_it it;
    arr_init(&it, f[0]);
    span choice = {NULL, 0}, e;
    int k;
    size_t n = 0;
    while ((k = arr_next(&it, &e)) == 1)
        if (!n++)
            choice = e;
    arr_done(&it);
    if (k < 0)
        return NOMEM(y);
    if (n > 1)
        y->info->anomalies |= CONV_A_EXTRA_CHOICES;
    util_buf *b = y->out;
    if (util_buf_puts(b, "{\"id\":") || put_id(b, &y->st, "resp_"))
        return NOMEM(y);
    int rc = choice.p ? reply_choice(y, choice) : 0;
    if (rc)
        return rc;
    const char *fr = y->info->finish_reason;
    const char *reason = !strcmp(fr, "length") ? "max_output_tokens"
                         : !strcmp(fr, "content_filter") ? "content_filter" : NULL;
    y->info->incomplete = reason != NULL;
    if (util_buf_printf(b, ",\"object\":\"response\",\"created_at\":%lld,\"status\":\"%s\","
                           "\"incomplete_details\":",
                        created_at, reason ? "incomplete" : "completed") ||
        (reason ? util_buf_printf(b, "{\"reason\":\"%s\"}", reason) : util_buf_puts(b, "null")) ||
        util_buf_puts(b, ",\"model\":") ||
        util_buf_json_string(b, model ? model : "", model ? strlen(model) : 0))
        return NOMEM(y);
    if ((rc = reply_output(y, choice.p != NULL)) || (rc = reply_params(y, params, params_len)) ||
        (rc = sp_set(f[1]) ? reply_usage(y, f[1])
                           : (util_buf_puts(b, ",\"usage\":null") ? NOMEM(y) : 0)))
        return rc;
    return util_buf_puts(b, ",\"error\":null}") ? NOMEM(y) : 0;
}

static void info_init(conv_reply_info *info)
{
    memset(info, 0, sizeof *info);
    info->input_tokens = info->cached_tokens = info->output_tokens = info->reasoning_tokens = -1;
}

int conv_chat_reply(const char *completion, size_t len, const char *params, size_t params_len,
                    const char *model, uint64_t id_seed, long long created_at, util_buf *out,
                    conv_reply_info *info, char *err, size_t errsz)
{
    conv_reply_info local;
    reply y = {.out = out, .st = id_seed, .info = info ? info : &local, .err = err, .errsz = errsz};
    info_init(y.info);
    size_t mark = out->len;
    int rc = chat_reply(&y, completion, len, params, params_len, model, created_at);
    if (rc) {
        out_reset(out, mark);
        info_init(y.info);
    }
    util_buf_free(&y.sums);
    util_buf_free(&y.text);
    util_buf_free(&y.calls);
    return rc;
}

/* ---- Responses replies -------------------------------------------------- */

/* Whether an output item is an action: a function call, or a message with
 * a non-empty output_text. */
static bool output_action(span item, bool *is_call)
{
    static const char *const keys[] = {"type", "content"};
    static const char *const pkeys[] = {"type", "text"};
    span f[2], g[2], e;
    *is_call = false;
    if (pick(item, keys, f, 2))
        return false;
    if (sp_is(f[0], "function_call"))
        return *is_call = true;
    if (!sp_is(f[0], "message") || !sp_arr(f[1]))
        return false;
    arr_it it;
    arr_init(&it, f[1]);
    bool found = false;
    while (!found && arr_next(&it, &e) == 1)
        found = !pick(e, pkeys, g, 2) && sp_is(g[0], "output_text") && sp_str(g[1]) && g[1].n > 2;
    arr_done(&it);
    return found;
}

static void responses_usage(conv_reply_info *info, span u)
{
    static const char *const keys[] = {"input_tokens", "output_tokens", "input_tokens_details",
                                       "output_tokens_details"};
    static const char *const ck[] = {"cached_tokens"};
    static const char *const rk[] = {"reasoning_tokens"};
    span f[4], c = {NULL, 0}, r = {NULL, 0};
    if (pick(u, keys, f, 4))
        return;
    info->input_tokens = sp_count(f[0]);
    info->output_tokens = sp_count(f[1]);
    if (sp_obj(f[2]))
        pick(f[2], ck, &c, 1);
    if (sp_obj(f[3]))
        pick(f[3], rk, &r, 1);
    info->cached_tokens = sp_count(c);
    info->reasoning_tokens = sp_count(r);
}

int conv_responses_reply(const char *reply_text, size_t len, conv_reply_info *info, char *err,
                         size_t errsz)
{
    conv_reply_info local;
    if (!info)
        info = &local;
    info_init(info);
    static const char *const keys[] = {"object", "output", "status", "incomplete_details", "usage"};
    span f[5];
    char why[96];
    picker pk = {keys, f, 5};
    memset(f, 0, sizeof f);
    if (jtext_object(reply_text, len, CONV_JFLAGS, pick_cb, &pk, why, sizeof why))
        return fail_to(err, errsz, CONV_INVALID, "reply is not a Responses object: %s", why);
    if ((sp_has(f[0]) && !sp_is(f[0], "response")) || !sp_arr(f[1]))
        return fail_to(err, errsz, CONV_INVALID, "reply is not a Responses object: %s",
                       sp_arr(f[1]) ? "object is not \"response\"" : "no output list");
    arr_it it;
    arr_init(&it, f[1]);
    span e;
    while (arr_next(&it, &e) == 1) {
        bool call;
        if (output_action(e, &call))
            info->has_action = true;
        info->n_tool_calls += call;
    }
    arr_done(&it);
    responses_usage(info, f[4]);
    if (sp_is(f[2], "incomplete")) {
        static const char *const rk[] = {"reason"};
        span reason = {NULL, 0};
        if (sp_obj(f[3]))
            pick(f[3], rk, &reason, 1);
        info->incomplete = true;
        if (sp_is(reason, "max_output_tokens"))
            strcpy(info->finish_reason, "length");
        else
            copy_word(reason, info->finish_reason, sizeof info->finish_reason);
    } else if (!sp_set(f[2]) || sp_is(f[2], "completed")) {
        strcpy(info->finish_reason, info->n_tool_calls ? "tool_calls" : "stop");
    } else {
        copy_word(f[2], info->finish_reason, sizeof info->finish_reason);
    }
    return CONV_OK;
}
