/* pyjson — a strict recursive-descent parser reproducing CPython 3.11's
 * json.loads (see pyjson.h for the dialect).
 *
 * How it works: one pass over the text. Container members are parsed in
 * place into two scratch stacks (values for arrays, members for objects;
 * small inline arrays first, malloc'd when they grow; slots are named by
 * index because the stacks may move) and copied into the arena when the
 * container closes, so each value is allocated exactly once. Recursion depth
 * is bounded by PJ_MAX_DEPTH. Strings without escapes are not copied.
 * Floats with at most 19 significant digits and a small decimal exponent are
 * converted exactly (Clinger's fast path); the rest go through strtod, which
 * glibc rounds correctly, as CPython's float() does.
 */
#include "pyjson.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util.h"

#define INLINE_VALUES 32
#define INLINE_MEMBERS 16
/* Objects up to this size find duplicate keys by direct comparison. */
#define DEDUPE_LINEAR_MAX 16

typedef struct parser {
    const char *start, *p, *end;
    util_arena *a;
    pj_value *vals;       /* scratch stack for array items */
    size_t nvals, capvals;
    pj_member *mems;      /* scratch stack for object members */
    size_t nmems, capmems;
    int depth;
    char *err;
    size_t errsz;
    pj_value vinline[INLINE_VALUES];
    pj_member minline[INLINE_MEMBERS];
} parser;

static int fail_at(parser *ps, const char *msg, const char *at)
{
    if (ps->err && ps->errsz)
        snprintf(ps->err, ps->errsz, "%s at byte %zu", msg, (size_t)(at - ps->start));
    return -1;
}

static int fail_oom(parser *ps)
{
    if (ps->err && ps->errsz)
        snprintf(ps->err, ps->errsz, "out of memory");
    return -1;
}

static void skip_ws(parser *ps)
{
    const char *p = ps->p, *end = ps->end;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    ps->p = p;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Decodes the escapes of a string body q..r (r at the closing quote) into o.
 * Returns the end of the output, or NULL after reporting an error. */
static char *decode_escapes(parser *ps, const char *q, const char *r, char *o)
{
    while (q < r) {
        if (*q != '\\') {
            *o++ = *q++;
            continue;
        }
        char e = q[1];
        switch (e) {
        case '"': *o++ = '"'; q += 2; continue;
        case '\\': *o++ = '\\'; q += 2; continue;
        case '/': *o++ = '/'; q += 2; continue;
        case 'b': *o++ = '\b'; q += 2; continue;
        case 'f': *o++ = '\f'; q += 2; continue;
        case 'n': *o++ = '\n'; q += 2; continue;
        case 'r': *o++ = '\r'; q += 2; continue;
        case 't': *o++ = '\t'; q += 2; continue;
        case 'u': break;
        default:
            fail_at(ps, "Invalid \\escape", q);
            return NULL;
        }
        long cp = util_hex4(q + 2, (size_t)(ps->end - (q + 2)));
        if (cp < 0) {
            fail_at(ps, "Invalid \\uXXXX escape", q);
            return NULL;
        }
        q += 6;
        if (cp >= 0xD800 && cp <= 0xDBFF && r - q >= 6 && q[0] == '\\' && q[1] == 'u') {
            long lo = util_hex4(q + 2, (size_t)(ps->end - (q + 2)));
            if (lo < 0) {
                fail_at(ps, "Invalid \\uXXXX escape", q);
                return NULL;
            }
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                q += 6;
            }
        }
        o += util_utf8_put((uint32_t)cp, o);   /* WTF-8: surrogates kept */
    }
    return o;
}

/* Parses the string whose opening quote is at ps->p. */
static int parse_string(parser *ps, const char **s, size_t *len)
{
    const char *open = ps->p;
    const char *body = open + 1, *end = ps->end;
    const char *q = body + util_json_plain_run(body, (size_t)(end - body));
    if (q < end && *q == '"') {
        *s = body;
        *len = (size_t)(q - body);
        ps->p = q + 1;
        return 0;
    }
    /* Slow path: find the closing quote, then decode into the arena. */
    const char *r = q;
    while (r < end && *r != '"') {
        if ((unsigned char)*r < 0x20)
            return fail_at(ps, "Invalid control character", r);
        r += (*r == '\\') ? 2 : 1;
    }
    if (r >= end)
        return fail_at(ps, "Unterminated string starting", open);
    char *buf = util_arena_alloc(ps->a, (size_t)(r - body));
    if (!buf)
        return fail_oom(ps);
    memcpy(buf, body, (size_t)(q - body));
    char *o = decode_escapes(ps, q, r, buf + (q - body));
    if (!o)
        return -1;
    *s = buf;
    *len = (size_t)(o - buf);
    ps->p = r + 1;
    return 0;
}

static const double POW10[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* The float lexeme s..e: exact fast path when possible, else strtod. */
static int parse_float_lexeme(parser *ps, const char *s, const char *e, double *out)
{
    const char *p = s;
    bool neg = *p == '-';
    if (neg)
        p++;
    uint64_t w = 0;
    int sig = 0, fracdigits = 0;
    bool fast = true, in_frac = false;
    for (; p < e && (is_digit(*p) || *p == '.'); p++) {
        if (*p == '.') {
            in_frac = true;
            continue;
        }
        if (in_frac)
            fracdigits++;
        if (w == 0 && *p == '0')
            continue;
        if (++sig > 19) {
            fast = false;
            break;
        }
        w = w * 10 + (uint64_t)(*p - '0');
    }
    int exp10 = -fracdigits;
    if (fast && p < e && (*p == 'e' || *p == 'E')) {
        p++;
        bool eneg = *p == '-';
        if (*p == '-' || *p == '+')
            p++;
        int x = 0, nd = 0;
        for (; p < e && nd < 7; p++, nd++)
            x = x * 10 + (*p - '0');
        if (p < e || nd > 6)
            fast = false;
        exp10 += eneg ? -x : x;
    }
    if (fast && w == 0) {
        *out = neg ? -0.0 : 0.0;
        return 0;
    }
    if (fast && w <= ((uint64_t)1 << 53) && exp10 >= -22 && exp10 <= 22) {
        double d = (double)w;
        d = exp10 < 0 ? d / POW10[-exp10] : d * POW10[exp10];
        *out = neg ? -d : d;
        return 0;
    }
    size_t n = (size_t)(e - s);
    char small[128];
    char *buf = n < sizeof small ? small : malloc(n + 1);
    if (!buf)
        return fail_oom(ps);
    memcpy(buf, s, n);
    buf[n] = '\0';
    *out = strtod(buf, NULL);
    if (buf != small)
        free(buf);
    return 0;
}

static int parse_number(parser *ps, pj_value *out)
{
    const char *s = ps->p, *p = s, *end = ps->end;
    bool neg = false;
    if (*p == '-') {
        neg = true;
        p++;
    }
    if (p >= end || !is_digit(*p))
        return fail_at(ps, "Expecting value", s);
    if (*p == '0')
        p++;
    else
        while (p < end && is_digit(*p))
            p++;
    const char *int_end = p;
    bool is_float = false;
    if (end - p >= 2 && *p == '.' && is_digit(p[1])) {
        p += 2;
        while (p < end && is_digit(*p))
            p++;
        is_float = true;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        const char *q = p + 1;
        if (q < end && (*q == '+' || *q == '-'))
            q++;
        if (q < end && is_digit(*q)) {
            while (q < end && is_digit(*q))
                q++;
            p = q;
            is_float = true;
        }
    }
    ps->p = p;
    if (is_float) {
        out->type = PJ_FLOAT;
        return parse_float_lexeme(ps, s, p, &out->u.f);
    }
    const char *digits = neg ? s + 1 : s;
    size_t ndig = (size_t)(int_end - digits);
    if (ndig > PJ_MAX_INT_DIGITS)
        return fail_at(ps, "Exceeds the limit (4300 digits) for integer string conversion", s);
    if (ndig <= 19) {
        uint64_t v = 0;
        for (const char *d = digits; d < int_end; d++)
            v = v * 10 + (uint64_t)(*d - '0');
        if (!neg && v <= (uint64_t)INT64_MAX) {
            out->type = PJ_INT;
            out->u.i = (int64_t)v;
            return 0;
        }
        if (neg && v <= (uint64_t)INT64_MAX + 1) {
            out->type = PJ_INT;
            out->u.i = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
            return 0;
        }
    }
    out->type = PJ_BIGINT;
    out->u.str.s = s;
    out->u.str.len = (size_t)(int_end - s);
    return 0;
}

static bool take_literal(parser *ps, const char *lit, size_t n)
{
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, lit, n) != 0)
        return false;
    ps->p += n;
    return true;
}

/* Where a value is written: the caller's root, or a slot of one of the
 * scratch stacks named by index (the stacks may move while nested
 * containers are parsed, so a pointer is re-derived at each write). */
typedef struct slot {
    pj_value *root;   /* non-NULL: the root value */
    bool member;      /* else: mems[idx].value, or vals[idx] */
    size_t idx;
} slot;

static pj_value *slot_ptr(parser *ps, slot s)
{
    if (s.root)
        return s.root;
    return s.member ? &ps->mems[s.idx].value : &ps->vals[s.idx];
}

static int parse_value(parser *ps, slot out);

/* Index of a new slot on the value stack. */
static int reserve_value(parser *ps, size_t *idx)
{
    if (ps->nvals == ps->capvals) {
        size_t cap = ps->capvals * 2;
        pj_value *n = ps->vals == ps->vinline ? malloc(cap * sizeof *n)
                                              : realloc(ps->vals, cap * sizeof *n);
        if (!n)
            return fail_oom(ps);
        if (ps->vals == ps->vinline)
            memcpy(n, ps->vinline, sizeof ps->vinline);
        ps->vals = n;
        ps->capvals = cap;
    }
    *idx = ps->nvals++;
    return 0;
}

/* Index of a new slot on the member stack. */
static int reserve_member(parser *ps, size_t *idx)
{
    if (ps->nmems == ps->capmems) {
        size_t cap = ps->capmems * 2;
        pj_member *n = ps->mems == ps->minline ? malloc(cap * sizeof *n)
                                               : realloc(ps->mems, cap * sizeof *n);
        if (!n)
            return fail_oom(ps);
        if (ps->mems == ps->minline)
            memcpy(n, ps->minline, sizeof ps->minline);
        ps->mems = n;
        ps->capmems = cap;
    }
    *idx = ps->nmems++;
    return 0;
}

static int enter(parser *ps)
{
    if (++ps->depth > PJ_MAX_DEPTH)
        return fail_at(ps, "Nesting deeper than 1000 containers (recursion limit)", ps->p);
    return 0;
}

static int parse_array(parser *ps, slot out)
{
    if (enter(ps))
        return -1;
    ps->p++;
    size_t base = ps->nvals;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
    } else {
        for (;;) {
            size_t idx = 0;
            if (reserve_value(ps, &idx) || parse_value(ps, (slot){NULL, false, idx}))
                return -1;
            skip_ws(ps);
            if (ps->p < ps->end && *ps->p == ',') {
                ps->p++;
                continue;
            }
            if (ps->p < ps->end && *ps->p == ']') {
                ps->p++;
                break;
            }
            return fail_at(ps, "Expecting ',' delimiter", ps->p);
        }
    }
    size_t n = ps->nvals - base;
    pj_value *items = NULL;
    if (n) {
        items = util_arena_alloc(ps->a, n * sizeof(pj_value));
        if (!items)
            return fail_oom(ps);
        memcpy(items, ps->vals + base, n * sizeof(pj_value));
    }
    ps->nvals = base;
    ps->depth--;
    pj_value *v = slot_ptr(ps, out);
    v->type = PJ_ARRAY;
    v->u.arr.items = items;
    v->u.arr.n = n;
    return 0;
}

static bool same_key(const pj_member *x, const pj_member *y)
{
    return x->khash == y->khash && x->klen == y->klen && memcmp(x->key, y->key, x->klen) == 0;
}

/* Removes duplicate keys from m[0..n) in place, the first occurrence keeping
 * its position and taking the last occurrence's value. Returns the new n.
 * A 64-bit filter of the hashes seen so far skips the search for keys that
 * cannot be duplicates (nearly all of them). */
static size_t dedupe_linear(pj_member *m, size_t n)
{
    uint64_t seen = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t bit = (uint64_t)1 << (m[i].khash >> 26);
        size_t j = k;
        if (seen & bit) {
            j = 0;
            while (j < k && !same_key(&m[j], &m[i]))
                j++;
        }
        seen |= bit;
        if (j < k)
            m[j].value = m[i].value;
        else if (k++ != i)
            m[k - 1] = m[i];
    }
    return k;
}

typedef struct { const pj_member *m; size_t idx; } keyed;

static int cmp_keyed(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    size_t n = x->m->klen < y->m->klen ? x->m->klen : y->m->klen;
    int c = memcmp(x->m->key, y->m->key, n);
    if (c)
        return c;
    if (x->m->klen != y->m->klen)
        return x->m->klen < y->m->klen ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Same as dedupe_linear for large objects: sorts (key, position) pairs. */
static long dedupe_sorted(pj_member *m, size_t n)
{
    keyed *k = malloc(n * sizeof *k);
    bool *dead = calloc(n, sizeof *dead);
    if (!k || !dead) {
        free(k);
        free(dead);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        k[i].m = &m[i];
        k[i].idx = i;
    }
    qsort(k, n, sizeof *k, cmp_keyed);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && same_key(k[i].m, k[j].m))
            j++;
        if (j - i > 1) {
            m[k[i].idx].value = m[k[j - 1].idx].value;
            for (size_t t = i + 1; t < j; t++)
                dead[k[t].idx] = true;
        }
        i = j;
    }
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        if (!dead[i])
            m[w++] = m[i];
    free(k);
    free(dead);
    return (long)w;
}

static int parse_object(parser *ps, slot out)
{
    if (enter(ps))
        return -1;
    ps->p++;
    size_t base = ps->nmems;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
    } else {
        for (;;) {
            if (ps->p >= ps->end || *ps->p != '"')
                return fail_at(ps, "Expecting property name enclosed in double quotes", ps->p);
            size_t idx = 0;
            if (reserve_member(ps, &idx))
                return -1;
            pj_member *m = &ps->mems[idx];
            if (parse_string(ps, &m->key, &m->klen))
                return -1;
            m->khash = pj_key_hash(m->key, m->klen);
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':')
                return fail_at(ps, "Expecting ':' delimiter", ps->p);
            ps->p++;
            if (parse_value(ps, (slot){NULL, true, idx}))
                return -1;
            skip_ws(ps);
            if (ps->p < ps->end && *ps->p == ',') {
                ps->p++;
                skip_ws(ps);
                continue;
            }
            if (ps->p < ps->end && *ps->p == '}') {
                ps->p++;
                break;
            }
            return fail_at(ps, "Expecting ',' delimiter", ps->p);
        }
    }
    size_t n = ps->nmems - base;
    pj_member *m = ps->mems + base;
    if (n > DEDUPE_LINEAR_MAX) {
        long k = dedupe_sorted(m, n);
        if (k < 0)
            return fail_oom(ps);
        n = (size_t)k;
    } else if (n > 1) {
        n = dedupe_linear(m, n);
    }
    pj_member *items = NULL;
    if (n) {
        items = util_arena_alloc(ps->a, n * sizeof(pj_member));
        if (!items)
            return fail_oom(ps);
        memcpy(items, m, n * sizeof(pj_member));
    }
    ps->nmems = base;
    ps->depth--;
    pj_value *v = slot_ptr(ps, out);
    v->type = PJ_OBJECT;
    v->u.obj.items = items;
    v->u.obj.n = n;
    return 0;
}

static int parse_value(parser *ps, slot at)
{
    skip_ws(ps);
    if (ps->p >= ps->end)
        return fail_at(ps, "Expecting value", ps->p);
    char c = *ps->p;
    if (c == '{')
        return parse_object(ps, at);
    if (c == '[')
        return parse_array(ps, at);
    /* Scalars never touch the scratch stacks: write in place. */
    pj_value *out = slot_ptr(ps, at);
    switch (c) {
    case '"':
        out->type = PJ_STRING;
        return parse_string(ps, &out->u.str.s, &out->u.str.len);
    case 'n':
        if (!take_literal(ps, "null", 4))
            break;
        out->type = PJ_NULL;
        return 0;
    case 't':
        if (!take_literal(ps, "true", 4))
            break;
        out->type = PJ_BOOL;
        out->u.b = true;
        return 0;
    case 'f':
        if (!take_literal(ps, "false", 5))
            break;
        out->type = PJ_BOOL;
        out->u.b = false;
        return 0;
    case 'N':
        if (!take_literal(ps, "NaN", 3))
            break;
        out->type = PJ_FLOAT;
        out->u.f = NAN;
        return 0;
    case 'I':
        if (!take_literal(ps, "Infinity", 8))
            break;
        out->type = PJ_FLOAT;
        out->u.f = INFINITY;
        return 0;
    case '-':
        if (take_literal(ps, "-Infinity", 9)) {
            out->type = PJ_FLOAT;
            out->u.f = -INFINITY;
            return 0;
        }
        return parse_number(ps, out);
    default:
        if (is_digit(c))
            return parse_number(ps, out);
        break;
    }
    return fail_at(ps, "Expecting value", ps->p);
}

int pj_parse(util_arena *a, const char *text, size_t len, pj_value *out,
             char *err, size_t errsz)
{
    parser ps;
    ps.start = ps.p = text;
    ps.end = text + len;
    ps.a = a;
    ps.vals = ps.vinline;
    ps.nvals = 0;
    ps.capvals = INLINE_VALUES;
    ps.mems = ps.minline;
    ps.nmems = 0;
    ps.capmems = INLINE_MEMBERS;
    ps.depth = 0;
    ps.err = err;
    ps.errsz = errsz;
    int rc;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        rc = fail_at(&ps, "Unexpected UTF-8 BOM (decode using utf-8-sig)", text);
    } else {
        rc = parse_value(&ps, (slot){out, false, 0});
        if (rc == 0) {
            skip_ws(&ps);
            if (ps.p != ps.end)
                rc = fail_at(&ps, "Extra data", ps.p);
        }
    }
    if (ps.vals != ps.vinline)
        free(ps.vals);
    if (ps.mems != ps.minline)
        free(ps.mems);
    return rc;
}

const pj_value *pj_object_get(const pj_value *o, const char *k, size_t klen)
{
    for (size_t i = 0; i < o->u.obj.n; i++) {
        const pj_member *m = &o->u.obj.items[i];
        if (m->klen == klen && memcmp(m->key, k, klen) == 0)
            return &m->value;
    }
    return NULL;
}

const char *pj_type_name(const pj_value *v)
{
    switch (v->type) {
    case PJ_NULL: return "NoneType";
    case PJ_BOOL: return "bool";
    case PJ_INT:
    case PJ_BIGINT: return "int";
    case PJ_FLOAT: return "float";
    case PJ_STRING: return "str";
    case PJ_ARRAY: return "list";
    case PJ_OBJECT: return "dict";
    }
    return "?";
}
