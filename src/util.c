/* util — bump arena, growable byte buffer, Python float repr (see util.h). */
#include "util.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct util_chunk {
    util_chunk *next;
    size_t size;
    _Alignas(16) char data[];
};

#define ARENA_ALIGN 16
#define ARENA_FIRST_CHUNK 4096

static char *align_up(char *p)
{
    uintptr_t u = (uintptr_t)p;
    return (char *)((u + (ARENA_ALIGN - 1)) & ~(uintptr_t)(ARENA_ALIGN - 1));
}

void util_arena_init(util_arena *a, void *buf, size_t size)
{
    a->chunks = NULL;
    a->next_size = ARENA_FIRST_CHUNK;
    if (buf && size) {
        a->cur = align_up(buf);
        a->end = (char *)buf + size;
        if (a->cur > a->end)
            a->cur = a->end;
    } else {
        a->cur = a->end = NULL;
    }
}

void util_arena_set_chunk(util_arena *a, size_t size)
{
    a->next_size = size < 64 ? 64 : size;
}

/* Opens a heap chunk that holds at least n bytes; false when malloc fails. */
static bool arena_grow(util_arena *a, size_t n)
{
    size_t size = a->next_size;
    while (size < n)
        size *= 2;
    util_chunk *c = malloc(sizeof *c + size);
    if (!c)
        return false;
    c->next = a->chunks;
    c->size = size;
    a->chunks = c;
    a->cur = c->data;
    a->end = c->data + size;
    if (a->next_size < (size_t)1 << 24)
        a->next_size *= 2;
    return true;
}

void *util_arena_alloc(util_arena *a, size_t n)
{
    if (n == 0)
        n = 1;
    if (n > SIZE_MAX / 2)
        return NULL;
    if (!a->cur || (size_t)(a->end - a->cur) < n) {
        if (!arena_grow(a, n))
            return NULL;
    }
    void *p = a->cur;
    size_t rounded = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    a->cur = (size_t)(a->end - a->cur) < rounded ? a->end : a->cur + rounded;
    return p;
}

void util_arena_free(util_arena *a)
{
    util_chunk *c = a->chunks;
    while (c) {
        util_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->chunks = NULL;
    a->cur = a->end = NULL;
}

int util_buf_reserve(util_buf *b, size_t n)
{
    if (b->cap - b->len > n && b->data)
        return 0;
    if (n > SIZE_MAX / 4 - b->len)
        return -1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len <= n)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d)
        return -1;
    b->data = d;
    b->cap = cap;
    b->data[b->len] = '\0';
    return 0;
}

int util_buf_append(util_buf *b, const void *data, size_t n)
{
    if (util_buf_reserve(b, n))
        return -1;
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int util_buf_puts(util_buf *b, const char *s)
{
    return util_buf_append(b, s, strlen(s));
}

int util_buf_putc(util_buf *b, char c)
{
    return util_buf_append(b, &c, 1);
}

int util_buf_printf(util_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if ((size_t)n < sizeof small)
        return util_buf_append(b, small, (size_t)n);
    if (util_buf_reserve(b, (size_t)n))
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int util_buf_json_string(util_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (util_buf_reserve(b, n + 2))
        return -1;
    b->data[b->len++] = '"';
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if (util_buf_append(b, s + start, i - start))
            return -1;
        char esc[7] = {'\\', 0, 0, 0, 0, 0, 0};
        size_t elen = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
            esc[4] = hex[c >> 4]; esc[5] = hex[c & 15];
            elen = 6;
        }
        if (util_buf_append(b, esc, elen))
            return -1;
        start = i + 1;
    }
    if (util_buf_append(b, s + start, n - start))
        return -1;
    return util_buf_putc(b, '"');
}

void util_buf_free(util_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

size_t util_float_repr(double v, char *buf, size_t bufsz)
{
    int n;
    if (isnan(v))
        n = snprintf(buf, bufsz, "nan");
    else if (isinf(v))
        n = snprintf(buf, bufsz, v > 0 ? "inf" : "-inf");
    else {
        /* Python's repr: shortest round-trip digits; fixed notation for
         * exponents in [-4, 16), scientific otherwise. */
        char digits[40];
        int prec;
        for (prec = 1; prec <= 17; prec++) {
            snprintf(digits, sizeof digits, "%.*e", prec - 1, v);
            if (strtod(digits, NULL) == v)
                break;
        }
        if (prec > 17)
            prec = 17;
        /* digits looks like "-d.ddde+XX"; read the decimal exponent. */
        char *e = strchr(digits, 'e');
        int exp10 = atoi(e + 1);
        if (exp10 >= -4 && exp10 < 16) {
            int frac = prec - 1 - exp10;
            if (frac < 1)
                frac = 1;
            n = snprintf(buf, bufsz, "%.*f", frac, v);
            /* Drop the zeros the fixed format may add beyond prec digits. */
            size_t len = (size_t)n;
            while (len > 2 && buf[len - 1] == '0' && buf[len - 2] != '.')
                len--;
            buf[len] = '\0';
            n = (int)len;
        } else {
            *e = '\0';
            size_t mlen = strlen(digits);
            /* Mantissa "d.000" -> "d"; "d.ddd" keeps its significant digits. */
            while (mlen > 1 && digits[mlen - 1] == '0')
                digits[--mlen] = '\0';
            if (mlen > 0 && digits[mlen - 1] == '.')
                digits[--mlen] = '\0';
            n = snprintf(buf, bufsz, "%se%c%02d", digits, exp10 < 0 ? '-' : '+',
                         exp10 < 0 ? -exp10 : exp10);
        }
    }
    if (n < 0)
        n = 0;
    return (size_t)n < bufsz ? (size_t)n : bufsz - 1;
}

/* ---- validating JSON scanner -------------------------------------------- */

typedef struct scanner {
    const char *s;
    size_t n;
    const char *why;   /* reason of the first error */
    size_t at;         /* its byte offset */
} scanner;

static size_t scan_fail(scanner *sc, size_t at, const char *why)
{
    sc->why = why;
    sc->at = at;
    return SIZE_MAX;
}

static size_t scan_ws(const scanner *sc, size_t i)
{
    while (i < sc->n && (sc->s[i] == ' ' || sc->s[i] == '\n' || sc->s[i] == '\r' ||
                         sc->s[i] == '\t'))
        i++;
    return i;
}

static long scan_hex4(const scanner *sc, size_t i)
{
    if (sc->n - i < 4 || i > sc->n)
        return -1;
    long v = 0;
    for (size_t k = i; k < i + 4; k++) {
        char c = sc->s[k];
        int h = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Length of the valid UTF-8 sequence (not ASCII) at s[i], or 0. */
static size_t utf8_len(const scanner *sc, size_t i)
{
    const unsigned char *u = (const unsigned char *)sc->s + i;
    size_t left = sc->n - i;
    if (u[0] >= 0xC2 && u[0] <= 0xDF)
        return left >= 2 && (u[1] & 0xC0) == 0x80 ? 2 : 0;
    if (u[0] >= 0xE0 && u[0] <= 0xEF) {
        if (left < 3 || (u[1] & 0xC0) != 0x80 || (u[2] & 0xC0) != 0x80)
            return 0;
        if (u[0] == 0xE0 && u[1] < 0xA0)
            return 0;   /* overlong */
        if (u[0] == 0xED && u[1] >= 0xA0)
            return 0;   /* surrogate */
        return 3;
    }
    if (u[0] >= 0xF0 && u[0] <= 0xF4) {
        if (left < 4 || (u[1] & 0xC0) != 0x80 || (u[2] & 0xC0) != 0x80 ||
            (u[3] & 0xC0) != 0x80)
            return 0;
        if ((u[0] == 0xF0 && u[1] < 0x90) || (u[0] == 0xF4 && u[1] >= 0x90))
            return 0;   /* overlong or beyond U+10FFFF */
        return 4;
    }
    return 0;
}

/* High bits of the bytes of w that need a closer look inside a string:
 * '"', '\\', controls and non-ASCII. */
static inline uint64_t scan_stops(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
    return (((q - ones) & ~q) | ((b - ones) & ~b) | ((w - ones * 0x20) & ~w) | w) & high;
}

/* s[i] is '"': the index past the closing quote, or SIZE_MAX. */
static size_t scan_string(scanner *sc, size_t i)
{
    size_t open = i++;
    const char *s = sc->s;
    for (;;) {
        while (sc->n - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (scan_stops(w))
                break;
            i += 8;
        }
        if (i >= sc->n)
            return scan_fail(sc, open, "unterminated string");
        unsigned char c = (unsigned char)s[i];
        if (c == '"')
            return i + 1;
        if (c < 0x20)
            return scan_fail(sc, i, "control character in string");
        if (c >= 0x80) {
            size_t k = utf8_len(sc, i);
            if (!k)
                return scan_fail(sc, i, "invalid UTF-8");
            i += k;
            continue;
        }
        if (c != '\\') {
            i++;
            continue;
        }
        char e = i + 1 < sc->n ? s[i + 1] : '\0';
        if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' ||
            e == 't') {
            i += 2;
            continue;
        }
        if (e != 'u')
            return scan_fail(sc, i, "invalid escape");
        long cp = scan_hex4(sc, i + 2);
        if (cp < 0)
            return scan_fail(sc, i, "invalid \\u escape");
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            return scan_fail(sc, i, "lone surrogate escape");
        i += 6;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            long lo = i + 1 < sc->n && s[i] == '\\' && s[i + 1] == 'u' ? scan_hex4(sc, i + 2) : -1;
            if (lo < 0xDC00 || lo > 0xDFFF)
                return scan_fail(sc, i - 6, "lone surrogate escape");
            i += 6;
        }
    }
}

static bool scan_digit(const scanner *sc, size_t i)
{
    return i < sc->n && sc->s[i] >= '0' && sc->s[i] <= '9';
}

/* Whether the number text s[0..n) overflows a double (jansson refuses
 * those, integers included when read as reals). */
static bool number_overflows(const char *s, size_t n)
{
    char small[64];
    char *buf = n < sizeof small ? small : malloc(n + 1);
    if (!buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    double v = strtod(buf, NULL);
    if (buf != small)
        free(buf);
    return isinf(v);
}

static size_t scan_number(scanner *sc, size_t i)
{
    size_t start = i, int_digits = 0, exp_digits = 0;
    if (sc->s[i] == '-')
        i++;
    if (!scan_digit(sc, i))
        return scan_fail(sc, start, "invalid number");
    if (sc->s[i] == '0')
        i++, int_digits++;
    else
        while (scan_digit(sc, i))
            i++, int_digits++;
    if (i < sc->n && sc->s[i] == '.') {
        if (!scan_digit(sc, ++i))
            return scan_fail(sc, start, "invalid number");
        while (scan_digit(sc, i))
            i++;
    }
    if (i < sc->n && (sc->s[i] == 'e' || sc->s[i] == 'E')) {
        i++;
        if (i < sc->n && (sc->s[i] == '+' || sc->s[i] == '-'))
            i++;
        if (!scan_digit(sc, i))
            return scan_fail(sc, start, "invalid number");
        while (scan_digit(sc, i))
            i++, exp_digits++;
    }
    /* Only long integer parts or 3+ digit exponents can reach DBL_MAX. */
    if ((int_digits > 300 || exp_digits >= 3) && number_overflows(sc->s + start, i - start))
        return scan_fail(sc, start, "real number overflow");
    return i;
}

/* After '{' or ',' inside an object: the key, ':' and the index where the
 * member's value starts; SIZE_MAX on error. */
static size_t scan_member_key(scanner *sc, size_t i)
{
    i = scan_ws(sc, i);
    if (i >= sc->n || sc->s[i] != '"')
        return scan_fail(sc, i, "member name expected");
    i = scan_string(sc, i);
    if (i == SIZE_MAX)
        return i;
    i = scan_ws(sc, i);
    if (i >= sc->n || sc->s[i] != ':')
        return scan_fail(sc, i, "':' expected");
    return i + 1;
}

static bool is_object(const unsigned char *stack, size_t level)
{
    return stack[level / 8] & (1u << (level % 8));
}

/* The index past the value starting at or after i, or SIZE_MAX. Iterative,
 * with one bit per open container (1 = object). */
static size_t scan_value(scanner *sc, size_t i)
{
    unsigned char stack[UTIL_JSON_MAX_DEPTH / 8];
    size_t depth = 0;
    for (;;) {
        /* Read one value at i. Like jansson, count every value's depth: the
         * top-level object, the open containers, the value itself. */
        i = scan_ws(sc, i);
        if (i >= sc->n)
            return scan_fail(sc, i, "value expected");
        if (depth + 2 > UTIL_JSON_MAX_DEPTH)
            return scan_fail(sc, i, "maximum parsing depth reached");
        char c = sc->s[i];
        if (c == '{' || c == '[') {
            unsigned char bit = (unsigned char)(1u << (depth % 8));
            stack[depth / 8] = c == '{' ? (unsigned char)(stack[depth / 8] | bit)
                                        : (unsigned char)(stack[depth / 8] & ~bit);
            depth++;
            i = scan_ws(sc, i + 1);
            if (i < sc->n && sc->s[i] == (c == '{' ? '}' : ']')) {
                depth--;
                i++;
            } else {
                if (c == '{' && (i = scan_member_key(sc, i)) == SIZE_MAX)
                    return i;
                continue;   /* the first value of the container */
            }
        } else if (c == '"') {
            i = scan_string(sc, i);
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            i = scan_number(sc, i);
        } else if (sc->n - i >= 4 && !memcmp(sc->s + i, "true", 4)) {
            i += 4;
        } else if (sc->n - i >= 5 && !memcmp(sc->s + i, "false", 5)) {
            i += 5;
        } else if (sc->n - i >= 4 && !memcmp(sc->s + i, "null", 4)) {
            i += 4;
        } else {
            return scan_fail(sc, i, "value expected");
        }
        if (i == SIZE_MAX)
            return i;
        /* A value is complete: close containers until one expects more. */
        for (;;) {
            if (depth == 0)
                return i;
            bool object = is_object(stack, depth - 1);
            i = scan_ws(sc, i);
            if (i >= sc->n)
                return scan_fail(sc, i, "unterminated container");
            char d = sc->s[i];
            if (d == (object ? '}' : ']')) {
                depth--;
                i++;
                continue;
            }
            if (d != ',')
                return scan_fail(sc, i, object ? "',' or '}' expected" : "',' or ']' expected");
            i++;
            if (object && (i = scan_member_key(sc, i)) == SIZE_MAX)
                return i;
            break;
        }
    }
}

int util_json_scan_object(const char *text, size_t n, util_json_member_fn fn, void *ctx,
                          char *err, size_t errsz)
{
    scanner sc = {text, n, NULL, 0};
    size_t i = scan_ws(&sc, 0);
    if (i >= n || text[i] != '{') {
        scan_fail(&sc, i, "not a JSON object");
        goto fail;
    }
    i = scan_ws(&sc, i + 1);
    if (i < n && text[i] == '}') {
        i++;
    } else {
        for (;;) {
            util_json_member m;
            i = scan_ws(&sc, i);
            m.key_from = i + 1;
            size_t v = scan_member_key(&sc, i);
            if (v == SIZE_MAX)
                goto fail;
            /* The key's closing quote is the last '"' before ':'. */
            size_t k = v - 1;
            while (text[k] != '"')
                k--;
            m.key_to = k;
            m.value_from = scan_ws(&sc, v);
            i = scan_value(&sc, m.value_from);
            if (i == SIZE_MAX)
                goto fail;
            m.value_to = i;
            if (fn) {
                int rc = fn(ctx, text, &m);
                if (rc)
                    return rc;
            }
            i = scan_ws(&sc, i);
            if (i < n && text[i] == ',') {
                i++;
                continue;
            }
            if (i < n && text[i] == '}') {
                i++;
                break;
            }
            scan_fail(&sc, i, "',' or '}' expected");
            goto fail;
        }
    }
    i = scan_ws(&sc, i);
    if (i == n)
        return 0;
    scan_fail(&sc, i, "end of text expected");
fail:
    if (err && errsz)
        snprintf(err, errsz, "%s at byte %zu", sc.why, sc.at);
    return -1;
}
