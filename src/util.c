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

uint64_t util_fnv1a64(const void *p, size_t n, uint64_t h)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3u;   /* the FNV-1a prime */
    return h;
}

uint64_t util_hash(const void *p, size_t n)
{
    return util_fnv1a64(p, n, UTIL_FNV_OFFSET);
}
