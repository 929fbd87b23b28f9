/* dsval — fast validation of one dataset row without building a JSON tree.
 *
 * How it works: a recursive-descent scanner ("sc") walks the row's bytes once.
 * Generic values are only checked (strings are skipped eight bytes at a time
 * while they hold plain ASCII); at the few places the row-shape rules care
 * about (the row object, responses_create_params, its input and tools, each
 * tool) the keys are decoded and compared, and tool names are decoded into a
 * per-thread arena. expected_action's byte span is remembered and, once the
 * whole row is known to be well-formed, parsed with jansson and given to the
 * grader, which checks its type, names and (Python-dialect) arguments.
 *
 * Strictness mirrors jansson 2.14's decoder (rows become jansson values):
 * RFC 8259 grammar, UTF-8 without overlongs or surrogates, \u escapes with
 * proper surrogate pairs (\u0000 allowed in strings, as with JSON_ALLOW_NUL,
 * but not in keys), integers that fit int64, reals that do not overflow, depth
 * <= 2048. Duplicate keys: the last one wins, as in Python and jansson. A raw
 * NUL byte between tokens is an error (jansson's stream skips some of them).
 */
#include "dsval.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

struct dsval_ctx {
    sbuf key;       /* the key being compared */
    sbuf names;     /* decoded tool names, each NUL-terminated */
    size_t *name_off;
    size_t nnames, name_cap;
    const char **sorted;
    size_t sorted_cap;
    sbuf tmp;       /* number text for strtod */
    sbuf text;      /* decoded message text, when measuring */
    bool measure;   /* count user turns and words */
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
    free(ctx->key.p);
    free(ctx->names.p);
    free(ctx->name_off);
    free(ctx->sorted);
    free(ctx->tmp.p);
    free(ctx->text.p);
    grade_action_free(ctx->expected);
    free(ctx);
}

void dsval_ctx_measure(dsval_ctx *ctx, bool on)
{
    ctx->measure = on;
}

static bool sbuf_reserve(sbuf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *np = realloc(b->p, cap);
    if (!np)
        return false;
    b->p = np;
    b->cap = cap;
    return true;
}

static bool sbuf_add(sbuf *b, const void *data, size_t n)
{
    if (!sbuf_reserve(b, n))
        return false;
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return true;
}

/* ---- the scanner -------------------------------------------------------- */

typedef struct sc {
    const unsigned char *base, *p, *end;
    unsigned depth;
    const char *err;        /* first syntax error (static text), NULL if none */
    bool saw_nul;           /* a \u0000 escape was decoded */
    size_t err_col;         /* its 1-based byte column */
    sbuf *tmp;
} sc;

static bool sc_fail_at(sc *s, const unsigned char *at, const char *why)
{
    if (!s->err) {
        s->err = why;
        s->err_col = (size_t)(at - s->base) + 1;
    }
    return false;
}

static bool sc_fail(sc *s, const char *why)
{
    return sc_fail_at(s, s->p, why);
}

static void sc_ws(sc *s)
{
    const unsigned char *p = s->p, *end = s->end;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    s->p = p;
}

#define ONES  0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Bit 7 of each byte of the result is set when that byte is '"', '\\',
 * < 0x20 or >= 0x80. Only the lowest set bit is exact (borrows may set bits
 * above it), which is all first_special needs. */
static inline uint64_t special8(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    uint64_t q = v ^ (ONES * '"'), b = v ^ (ONES * '\\');
    uint64_t zq = (q - ONES) & ~q, zb = (b - ONES) & ~b;
    uint64_t lt = (v - ONES * 0x20) & ~v;
    return (zq | zb | lt | v) & HIGHS;
}

static inline bool plain(unsigned c)
{
    return c != '"' && c != '\\' && c >= 0x20 && c < 0x80;
}

/* The first byte at or after p that is not plain string ASCII, or end. */
static inline const unsigned char *first_special(const unsigned char *p, const unsigned char *end)
{
    while (end - p >= 8) {
        uint64_t m = special8(p);
        if (m) {
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            return p + (__builtin_ctzll(m) >> 3);
#else
            while (plain(*p))
                p++;
            return p;
#endif
        }
        p += 8;
    }
    while (p < end && plain(*p))
        p++;
    return p;
}

/* Length of the valid UTF-8 sequence at p (2..4), or 0. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t n;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) { n = 2; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { n = 3; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 4; cp = c & 0x07; }
    else return 0;
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

static int hexval(unsigned c)
{
    if (c >= '0' && c <= '9') return (int)(c - '0');
    if (c >= 'a' && c <= 'f') return (int)(c - 'a' + 10);
    if (c >= 'A' && c <= 'F') return (int)(c - 'A' + 10);
    return -1;
}

/* Reads "XXXX" at p (4 hex digits) into *cp. */
static bool hex4(const unsigned char *p, const unsigned char *end, uint32_t *cp)
{
    if (end - p < 4)
        return false;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0)
            return false;
        v = (v << 4) | (uint32_t)h;
    }
    *cp = v;
    return true;
}

static size_t utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* One escape after a backslash at *pp; advances *pp past it and, when out is
 * given, appends the decoded bytes. */
static bool sc_escape(sc *s, const unsigned char **pp, sbuf *out)
{
    const unsigned char *p = *pp + 1, *end = s->end;
    if (p >= end)
        return sc_fail_at(s, *pp, "unterminated string");
    char one;
    switch (*p) {
    case '"': one = '"'; break;
    case '\\': one = '\\'; break;
    case '/': one = '/'; break;
    case 'b': one = '\b'; break;
    case 'f': one = '\f'; break;
    case 'n': one = '\n'; break;
    case 'r': one = '\r'; break;
    case 't': one = '\t'; break;
    case 'u': {
        uint32_t cp, lo;
        if (!hex4(p + 1, end, &cp))
            return sc_fail_at(s, *pp, "invalid \\u escape");
        p += 5;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            return sc_fail_at(s, *pp, "invalid Unicode escape (lone low surrogate)");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || !hex4(p + 2, end, &lo) ||
                lo < 0xDC00 || lo > 0xDFFF)
                return sc_fail_at(s, *pp, "invalid Unicode escape (lone high surrogate)");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            p += 6;
        }
        s->saw_nul |= cp == 0;
        if (out) {
            char u[4];
            if (!sbuf_add(out, u, utf8_encode(cp, u)))
                return sc_fail_at(s, *pp, "out of memory");
        }
        *pp = p;
        return true;
    }
    default:
        return sc_fail_at(s, *pp, "invalid escape in string");
    }
    if (out && !sbuf_add(out, &one, 1))
        return sc_fail_at(s, *pp, "out of memory");
    *pp = p + 1;
    return true;
}

/* A string at s->p (which is '"'); appends its decoded text to out if given. */
static bool sc_string(sc *s, sbuf *out)
{
    const unsigned char *p = s->p + 1, *end = s->end, *run = p;
    for (;;) {
        p = first_special(p, end);
        if (p >= end)
            return sc_fail_at(s, s->p, "unterminated string");
        unsigned c = *p;
        if (c == '"')
            break;
        if (c < 0x20)
            return sc_fail_at(s, p, "control character in string");
        if (c == '\\') {
            if (out && !sbuf_add(out, run, (size_t)(p - run)))
                return sc_fail_at(s, p, "out of memory");
            if (!sc_escape(s, &p, out))
                return false;
            run = p;
            continue;
        }
        size_t n = utf8_len(p, end);
        if (!n)
            return sc_fail_at(s, p, "invalid UTF-8 in string");
        p += n;
    }
    if (out && !sbuf_add(out, run, (size_t)(p - run)))
        return sc_fail_at(s, p, "out of memory");
    s->p = p + 1;
    return true;
}

static bool is_digit(const unsigned char *p, const unsigned char *end)
{
    return p < end && *p >= '0' && *p <= '9';
}

/* jansson rejects reals that overflow a double: check with strtod only when
 * overflow is possible at all (an exponent or a very long mantissa). */
static bool real_overflows(sc *s, const unsigned char *start, size_t n)
{
    s->tmp->len = 0;
    if (!sbuf_add(s->tmp, start, n))
        return false;
    errno = 0;
    double v = strtod(s->tmp->p, NULL);
    return errno == ERANGE && isinf(v);
}

static bool int_overflows(const unsigned char *digits, size_t n, bool neg)
{
    if (n != 19)
        return n > 19;
    const char *lim = neg ? "9223372036854775808" : "9223372036854775807";
    return memcmp(digits, lim, 19) > 0;
}

static bool sc_number(sc *s)
{
    const unsigned char *start = s->p, *p = start, *end = s->end;
    bool neg = *p == '-', real = false, exp = false;
    if (neg)
        p++;
    if (!is_digit(p, end))
        return sc_fail_at(s, start, "invalid number");
    const unsigned char *digits = p;
    if (*p == '0')
        p++;
    else
        while (is_digit(p, end))
            p++;
    size_t ndigits = (size_t)(p - digits);
    if (p < end && *p == '.') {
        p++;
        if (!is_digit(p, end))
            return sc_fail_at(s, start, "invalid number");
        while (is_digit(p, end))
            p++;
        real = true;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (!is_digit(p, end))
            return sc_fail_at(s, start, "invalid number");
        while (is_digit(p, end))
            p++;
        real = exp = true;
    }
    if (!real && int_overflows(digits, ndigits, neg))
        return sc_fail_at(s, start, "integer too big for the row loader (int64)");
    if (real && (exp || p - start > 300) && real_overflows(s, start, (size_t)(p - start)))
        return sc_fail_at(s, start, "real number overflow");
    s->p = p;
    return true;
}

static bool sc_literal(sc *s)
{
    static const char *const words[] = {"true", "false", "null"};
    const unsigned char *p = s->p;
    size_t n = 0;
    while (p + n < s->end && p[n] >= 'a' && p[n] <= 'z')
        n++;
    for (size_t i = 0; i < 3; i++)
        if (strlen(words[i]) == n && !memcmp(p, words[i], n)) {
            s->p = p + n;
            return true;
        }
    return sc_fail(s, "invalid token");
}

static bool sc_value(sc *s);

/* Object iteration: sc_obj_open at '{', then sc_obj_next until it returns 0
 * (end, past '}') or -1 (error). On 1, *key holds the decoded key (when key is
 * given) and s->p is at the member's value. */
static bool sc_open(sc *s)
{
    if (++s->depth > DSVAL_MAX_DEPTH)
        return sc_fail(s, "nesting too deep (maximum 2048)");
    s->p++;
    return true;
}

static int sc_obj_next(sc *s, bool *first, sbuf *key)
{
    sc_ws(s);
    if (s->p >= s->end)
        return sc_fail(s, "unterminated object"), -1;
    if (*s->p == '}' && *first) {
        s->p++;
        s->depth--;
        return 0;
    }
    if (!*first) {
        if (*s->p == '}') {
            s->p++;
            s->depth--;
            return 0;
        }
        if (*s->p != ',')
            return sc_fail(s, "expected ',' or '}' in object"), -1;
        s->p++;
        sc_ws(s);
    }
    *first = false;
    if (s->p >= s->end || *s->p != '"')
        return sc_fail(s, "expected a string key in object"), -1;
    if (key)
        key->len = 0;
    const unsigned char *kp = s->p;
    s->saw_nul = false;
    if (!sc_string(s, key))
        return -1;
    if (s->saw_nul)   /* jansson cannot hold such a key */
        return sc_fail_at(s, kp, "NUL character in object key"), -1;
    sc_ws(s);
    if (s->p >= s->end || *s->p != ':')
        return sc_fail(s, "expected ':' after key"), -1;
    s->p++;
    sc_ws(s);
    if (s->p >= s->end)
        return sc_fail(s, "unexpected end of row"), -1;
    return 1;
}

static int sc_arr_next(sc *s, bool *first)
{
    sc_ws(s);
    if (s->p >= s->end)
        return sc_fail(s, "unterminated list"), -1;
    if (*s->p == ']' && *first) {
        s->p++;
        s->depth--;
        return 0;
    }
    if (!*first) {
        if (*s->p == ']') {
            s->p++;
            s->depth--;
            return 0;
        }
        if (*s->p != ',')
            return sc_fail(s, "expected ',' or ']' in list"), -1;
        s->p++;
        sc_ws(s);
    }
    *first = false;
    if (s->p >= s->end)
        return sc_fail(s, "unexpected end of row"), -1;
    return 1;
}

static bool sc_object(sc *s)
{
    if (!sc_open(s))
        return false;
    bool first = true;
    int r;
    while ((r = sc_obj_next(s, &first, NULL)) == 1)
        if (!sc_value(s))
            return false;
    return r == 0;
}

static bool sc_array(sc *s)
{
    if (!sc_open(s))
        return false;
    bool first = true;
    int r;
    while ((r = sc_arr_next(s, &first)) == 1)
        if (!sc_value(s))
            return false;
    return r == 0;
}

/* A value at s->p (not whitespace). */
static bool sc_value(sc *s)
{
    if (s->p >= s->end)
        return sc_fail(s, "unexpected end of row");
    switch (*s->p) {
    case '{': return sc_object(s);
    case '[': return sc_array(s);
    case '"': return sc_string(s, NULL);
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        return sc_number(s);
    default:
        if (*s->p >= 'a' && *s->p <= 'z')
            return sc_literal(s);
        return sc_fail(s, "unexpected character");
    }
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

static bool key_is(const sbuf *k, const char *lit)
{
    size_t n = strlen(lit);
    return k->len == n && !memcmp(k->p, lit, n);
}

/* Decodes a string value into the name arena; *off gets its offset, *has_nul
 * whether it held a NUL character. */
static bool take_name(sc *s, row_state *st, size_t *off, bool *has_nul)
{
    sbuf *names = &st->ctx->names;
    size_t start = names->len;
    if (!sc_string(s, names))
        return false;
    *has_nul = memchr(names->p + start, '\0', names->len - start) != NULL;
    if (!sbuf_add(names, "", 1))
        return sc_fail(s, "out of memory");
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

static bool walk_function(sc *s, row_state *st, tool_fields *tf)
{
    if (!sc_open(s))
        return false;
    bool first = true;
    int r;
    tf->fn = 1;
    tf->fn_name = 0;
    while ((r = sc_obj_next(s, &first, &st->ctx->key)) == 1) {
        if (key_is(&st->ctx->key, "name")) {
            if (*s->p == '"') {
                if (!take_name(s, st, &tf->fn_name_off, &tf->fn_name_nul))
                    return false;
                tf->fn_name = 1;
                continue;
            }
            tf->fn_name = 3;
        }
        if (!sc_value(s))
            return false;
    }
    return r == 0;
}

static bool walk_tool_type(sc *s, row_state *st, tool_fields *tf)
{
    if (*s->p != '"') {
        tf->type = 3;
        return sc_value(s);
    }
    sbuf *k = &st->ctx->key;
    k->len = 0;
    if (!sc_string(s, k))
        return false;
    tf->type = key_is(k, "function") ? 1 : 2;
    snprintf(tf->type_text, sizeof tf->type_text, "%.*s", (int)(k->len < 32 ? k->len : 32), k->p);
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

static bool walk_tool(sc *s, row_state *st, uint32_t i)
{
    if (*s->p != '{') {
        tool_error(st, "tools[%u] must be an object, not %s", i, type_name(*s->p));
        return sc_value(s);
    }
    if (!sc_open(s))
        return false;
    tool_fields tf = {0};
    bool first = true;
    int r;
    sbuf *k = &st->ctx->key;
    while ((r = sc_obj_next(s, &first, k)) == 1) {
        bool ok;
        if (key_is(k, "type"))
            ok = walk_tool_type(s, st, &tf);
        else if (key_is(k, "name") && *s->p == '"') {
            ok = take_name(s, st, &tf.name_off, &tf.name_nul);
            tf.name = 1;
        } else if (key_is(k, "name")) {
            tf.name = 3;
            ok = sc_value(s);
        } else if (key_is(k, "function") && *s->p == '{') {
            ok = walk_function(s, st, &tf);
        } else {
            if (key_is(k, "function"))
                tf.fn = 2;
            ok = sc_value(s);
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
        return sc_fail(s, "out of memory");
    return true;
}

static bool walk_tools(sc *s, row_state *st)
{
    st->tools_type = *s->p;
    st->ctx->nnames = 0;
    st->ctx->names.len = 0;
    st->tool_err[0] = '\0';
    st->n_tools = 0;
    if (*s->p != '[')
        return sc_value(s);
    if (!sc_open(s))
        return false;
    bool first = true;
    int r;
    while ((r = sc_arr_next(s, &first)) == 1)
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
static bool string_words(sc *s, row_state *st, uint32_t *words)
{
    sbuf *t = &st->ctx->text;
    t->len = 0;
    if (!sc_string(s, t))
        return false;
    *words += count_words(t->p, t->len);
    return true;
}

/* A message's content: a string, or a list of parts with "text". */
static bool content_words(sc *s, row_state *st, uint32_t *words)
{
    if (*s->p == '"')
        return string_words(s, st, words);
    if (*s->p != '[')
        return sc_value(s);
    if (!sc_open(s))
        return false;
    bool first = true;
    int r;
    while ((r = sc_arr_next(s, &first)) == 1) {
        if (*s->p != '{') {
            if (!sc_value(s))
                return false;
            continue;
        }
        if (!sc_open(s))
            return false;
        bool pfirst = true;
        int pr;
        while ((pr = sc_obj_next(s, &pfirst, &st->ctx->key)) == 1) {
            bool ok = key_is(&st->ctx->key, "text") && *s->p == '"' ? string_words(s, st, words) : sc_value(s);
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
static bool measure_item(sc *s, row_state *st)
{
    if (*s->p != '{')
        return sc_value(s);
    if (!sc_open(s))
        return false;
    int role = 0;            /* 0 none, 1 user, 2 other */
    bool message = true;
    uint32_t words = 0;
    bool first = true;
    int r;
    sbuf *k = &st->ctx->key;
    while ((r = sc_obj_next(s, &first, k)) == 1) {
        bool ok;
        if ((key_is(k, "role") || key_is(k, "type")) && *s->p == '"') {
            bool is_role = k->len == 4 && k->p[0] == 'r';
            k->len = 0;
            ok = sc_string(s, k);
            if (is_role)
                role = key_is(k, "user") ? 1 : 2;
            else
                message = key_is(k, "message");
        } else if (key_is(k, "content")) {
            words = 0;
            ok = content_words(s, st, &words);
        } else {
            ok = sc_value(s);
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

static bool walk_input(sc *s, row_state *st)
{
    st->input_type = *s->p;
    st->n_input = st->n_user = st->n_words = 0;
    if (*s->p != '[')
        return sc_value(s);
    if (!sc_open(s))
        return false;
    bool first = true;
    int r;
    while ((r = sc_arr_next(s, &first)) == 1) {
        st->n_input++;
        if (!(st->ctx->measure ? measure_item(s, st) : sc_value(s)))
            return false;
    }
    return r == 0;
}

static bool walk_rcp(sc *s, row_state *st)
{
    st->rcp_type = *s->p;
    st->input_type = st->tools_type = 0;
    st->ctx->nnames = 0;
    st->tool_err[0] = '\0';
    st->n_input = st->n_tools = st->n_user = st->n_words = 0;
    if (*s->p != '{')
        return sc_value(s);
    if (!sc_open(s))
        return false;
    bool first = true;
    int r;
    sbuf *k = &st->ctx->key;
    while ((r = sc_obj_next(s, &first, k)) == 1) {
        bool ok;
        if (key_is(k, "input"))
            ok = walk_input(s, st);
        else if (key_is(k, "tools"))
            ok = walk_tools(s, st);
        else
            ok = sc_value(s);
        if (!ok)
            return false;
    }
    return r == 0;
}

static bool walk_row(sc *s, row_state *st)
{
    if (!sc_open(s))
        return false;
    bool first = true;
    int r;
    sbuf *k = &st->ctx->key;
    while ((r = sc_obj_next(s, &first, k)) == 1) {
        bool ok;
        if (key_is(k, "responses_create_params"))
            ok = walk_rcp(s, st);
        else if (key_is(k, "expected_action")) {
            st->ea = s->p;
            ok = sc_value(s);
            st->ea_end = s->p;
        } else
            ok = sc_value(s);
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
        c->sorted[i] = c->names.p + c->name_off[i];
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

/* ---- building a JSON value from an already validated span ------------------ */

/* Builds the jansson value of the (valid) JSON at s->p, as json_loadb would
 * with JSON_ALLOW_NUL, but without its slower lexer: expected actions are
 * built once per row at validation. NULL on allocation failure. */
static json_t *build_value(sc *s, sbuf *buf)
{
    sc_ws(s);
    const unsigned char *p = s->p;
    switch (*p) {
    case '{': {
        json_t *obj = json_object();
        bool first = true;
        int r;
        s->p++;
        sbuf key = {0};
        while (obj && (r = sc_obj_next(s, &first, &key)) == 1) {
            json_t *v = build_value(s, buf);
            if (!v || json_object_setn_new_nocheck(obj, key.p ? key.p : "", key.len, v)) {
                json_decref(obj);
                obj = NULL;
            }
        }
        free(key.p);
        return obj;
    }
    case '[': {
        json_t *arr = json_array();
        bool first = true;
        s->p++;
        while (arr && sc_arr_next(s, &first) == 1)
            if (json_array_append_new(arr, build_value(s, buf))) {
                json_decref(arr);
                arr = NULL;
            }
        return arr;
    }
    case '"':
        buf->len = 0;
        if (!sc_string(s, buf))
            return NULL;
        return json_stringn_nocheck(buf->p ? buf->p : "", buf->len);
    case 't': s->p += 4; return json_true();
    case 'f': s->p += 5; return json_false();
    case 'n': s->p += 4; return json_null();
    default: {
        if (!sc_number(s))
            return NULL;
        size_t n = (size_t)(s->p - p);
        buf->len = 0;
        if (!sbuf_add(buf, p, n))
            return NULL;
        if (strcspn(buf->p, ".eE") == n)
            return json_integer((json_int_t)strtoll(buf->p, NULL, 10));
        return json_real(strtod(buf->p, NULL));
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
    sc s = {.base = st->ea, .p = st->ea, .end = st->ea_end, .tmp = &c->tmp};
    json_t *ea = build_value(&s, &c->text);
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

    sc s = {.base = (const unsigned char *)p, .p = (const unsigned char *)p,
            .end = (const unsigned char *)p + len, .tmp = &ctx->tmp};
    row_state st = {.ctx = ctx};
    sc_ws(&s);
    unsigned char first = s.p < s.end ? *s.p : 0;
    bool is_object = first == '{';
    bool ok = is_object ? walk_row(&s, &st) : sc_value(&s);
    if (ok) {
        sc_ws(&s);
        if (s.p < s.end)
            ok = sc_fail(&s, "extra data after the JSON value");
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

json_t *dsval_build(const char *p, size_t len)
{
    if (!dsval_json(p, len, NULL, 0))
        return NULL;
    sbuf tmp = {0}, buf = {0};
    sc s = {.base = (const unsigned char *)p, .p = (const unsigned char *)p,
            .end = (const unsigned char *)p + len, .tmp = &tmp};
    json_t *v = build_value(&s, &buf);
    free(tmp.p);
    free(buf.p);
    return v;
}

json_t *dsval_pick(const char *p, size_t len, const char *const *keys, size_t nkeys)
{
    if (!dsval_json(p, len, NULL, 0))
        return NULL;
    sbuf tmp = {0}, buf = {0}, key = {0};
    sc s = {.base = (const unsigned char *)p, .p = (const unsigned char *)p,
            .end = (const unsigned char *)p + len, .tmp = &tmp};
    sc_ws(&s);
    json_t *out = *s.p == '{' ? json_object() : NULL;
    bool first = true;
    if (out && sc_open(&s)) {
        while (out && sc_obj_next(&s, &first, &key) == 1) {
            size_t k = 0;
            while (k < nkeys && !key_is(&key, keys[k]))
                k++;
            json_t *v = k < nkeys ? build_value(&s, &buf) : NULL;
            if (k < nkeys && (!v || json_object_set_new(out, keys[k], v))) {
                json_decref(out);
                out = NULL;
            } else if (k == nkeys && !sc_value(&s)) {
                json_decref(out);
                out = NULL;
            }
        }
    }
    free(tmp.p);
    free(buf.p);
    free(key.p);
    return out;
}

bool dsval_json(const char *p, size_t len, char *err, size_t errsz)
{
    sbuf tmp = {0};
    sc s = {.base = (const unsigned char *)p, .p = (const unsigned char *)p,
            .end = (const unsigned char *)p + len, .tmp = &tmp};
    sc_ws(&s);
    bool ok = sc_value(&s);
    if (ok) {
        sc_ws(&s);
        if (s.p < s.end)
            ok = sc_fail(&s, "extra data after the JSON value");
    }
    free(tmp.p);
    if (!ok && err)
        snprintf(err, errsz, "invalid JSON at column %zu: %s", s.err_col, s.err ? s.err : "?");
    return ok;
}
