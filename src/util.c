/* util — bump arena, growable byte buffer, Python float repr (see util.h). */
#include "util.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

int util_buf_vprintf(util_buf *b, const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    int rc = -1;
    if (n >= 0 && (size_t)n < sizeof small)
        rc = util_buf_append(b, small, (size_t)n);
    else if (n >= 0 && util_buf_reserve(b, (size_t)n) == 0) {
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, again);
        b->len += (size_t)n;
        rc = 0;
    }
    va_end(again);
    return rc;
}

int util_buf_printf(util_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = util_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

/* The JSON escape of an ASCII byte that cannot stand as itself in a string
 * (a control character, '"' or '\\') into esc; returns its length. */
static size_t json_escape_byte(unsigned char c, char esc[7])
{
    static const char hex[] = "0123456789abcdef";
    esc[0] = '\\';
    switch (c) {
    case '"': esc[1] = '"'; return 2;
    case '\\': esc[1] = '\\'; return 2;
    case '\n': esc[1] = 'n'; return 2;
    case '\r': esc[1] = 'r'; return 2;
    case '\t': esc[1] = 't'; return 2;
    case '\b': esc[1] = 'b'; return 2;
    case '\f': esc[1] = 'f'; return 2;
    default:
        esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
        esc[4] = hex[c >> 4]; esc[5] = hex[c & 15];
        return 6;
    }
}

int util_buf_json_string(util_buf *b, const char *s, size_t n)
{
    if (util_buf_reserve(b, n + 2))
        return -1;
    b->data[b->len++] = '"';
    size_t start = 0;
    for (size_t i; (i = start + util_json_plain_run(s + start, n - start)) < n; start = i + 1) {
        char esc[7];
        if (util_buf_append(b, s + start, i - start) ||
            util_buf_append(b, esc, json_escape_byte((unsigned char)s[i], esc)))
            return -1;
    }
    if (util_buf_append(b, s + start, n - start))
        return -1;
    return util_buf_putc(b, '"');
}

uint32_t util_utf8_get(const unsigned char *s, size_t n, size_t *len)
{
    unsigned c = s[0];
    size_t need = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 && c < 0xF0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
    *len = 1;
    if (need == 0 || need > n)
        return 0xFFFD;
    uint32_t cp = c & (0x7Fu >> need);
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0xFFFD;
        cp = cp << 6 | (s[i] & 0x3Fu);
    }
    static const uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < least[need] || cp > 0x10FFFF)
        return 0xFFFD;
    *len = need;
    return cp;
}

size_t util_utf8_put(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
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

static int hexval(unsigned c)
{
    if (c >= '0' && c <= '9') return (int)(c - '0');
    if (c >= 'a' && c <= 'f') return (int)(c - 'a' + 10);
    if (c >= 'A' && c <= 'F') return (int)(c - 'A' + 10);
    return -1;
}

long util_hex4(const char *p, size_t n)
{
    if (n < 4)
        return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval((unsigned char)p[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

int util_buf_json_ascii(util_buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    int rc = util_buf_putc(b, '"');
    size_t i = 0;
    while (i < n && rc == 0) {
        size_t j = i;
        while (j < n && p[j] >= 0x20 && p[j] < 0x7F && p[j] != '"' && p[j] != '\\')
            j++;
        rc = util_buf_append(b, s + i, j - i);
        if ((i = j) == n || rc)
            break;
        char esc[16];
        size_t len = 1, elen;
        if (p[i] < 0x7F) {
            elen = json_escape_byte(p[i], esc);
        } else {
            unsigned long cp = p[i] == 0x7F ? 0x7F : util_utf8_get(p + i, n - i, &len);
            if (cp > 0xFFFF)
                elen = (size_t)snprintf(esc, sizeof esc, "\\u%04lx\\u%04lx",
                                        0xD800 + ((cp - 0x10000) >> 10), 0xDC00 + ((cp - 0x10000) & 0x3FF));
            else
                elen = (size_t)snprintf(esc, sizeof esc, "\\u%04lx", cp);
        }
        rc = util_buf_append(b, esc, elen);
        i += len;
    }
    return rc ? -1 : util_buf_putc(b, '"');
}

int util_buf_escaped(util_buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0;) {
        size_t j = i;
        while (j < n && p[j] >= 0x20 && p[j] < 0x7F)
            j++;
        rc = util_buf_append(b, s + i, j - i);
        if ((i = j) == n || rc)
            break;
        size_t len = 1;
        unsigned long cp = p[i] < 0x80 ? p[i] : util_utf8_get(p + i, n - i, &len);
        if (p[i] < 0x80 || (cp >= 0x80 && cp < 0xA0))
            rc = util_buf_printf(b, cp < 0x80 ? "\\x%02lx" : "\\u%04lx", cp);
        else if (cp == 0xFFFD && len == 1)
            rc = util_buf_printf(b, "\\x%02x", p[i]);   /* not UTF-8 */
        else
            rc = util_buf_append(b, s + i, len);
        i += len;
    }
    return rc;
}

void util_buf_free(util_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *util_buf_take(util_buf *b, size_t *len)
{
    char *d = b->data ? b->data : calloc(1, 1);
    if (len)
        *len = d ? b->len : 0;
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}

void util_buf_consume(util_buf *b, size_t n)
{
    if (n > b->len)
        n = b->len;
    if (!n)
        return;
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

int util_grow(void *array, size_t *cap, size_t need, size_t elem, size_t first)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : first ? first : 1;
    while (c < need) {
        if (c > SIZE_MAX / 2)
            return -1;
        c *= 2;
    }
    if (elem && c > SIZE_MAX / elem)
        return -1;
    void *old;
    memcpy(&old, array, sizeof old);     /* array is a T **: any object pointer */
    void *q = realloc(old, c * elem);
    if (!q)
        return -1;
    memcpy(array, &q, sizeof q);
    *cap = c;
    return 0;
}

void util_vset_err(char *err, size_t errsz, const char *fmt, va_list ap)
{
    if (err && errsz)
        vsnprintf(err, errsz, fmt, ap);
}

void util_set_err(char *err, size_t errsz, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    util_vset_err(err, errsz, fmt, ap);
    va_end(ap);
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

/* ---- SHA-256 ---------------------------------------------------------------
 * The compression function of FIPS 180-4 §6.2 on 64-byte blocks; the message
 * is padded with 0x80, zeros and its bit length (big-endian). */

static const uint32_t SHA256_K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror32(uint32_t x, unsigned n)
{
    return x >> n | x << (32 - n);
}

static void sha256_block(util_sha256 *s, const unsigned char *p)
{
    uint32_t w[64], v[8];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ror32(w[i - 15], 7) ^ ror32(w[i - 15], 18) ^ w[i - 15] >> 3;
        uint32_t s1 = ror32(w[i - 2], 17) ^ ror32(w[i - 2], 19) ^ w[i - 2] >> 10;
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    for (int i = 0; i < 8; i++)
        v[i] = s->h[i];
    for (int i = 0; i < 64; i++) {
        uint32_t e = v[4], a = v[0];
        uint32_t t1 = v[7] + (ror32(e, 6) ^ ror32(e, 11) ^ ror32(e, 25)) + ((e & v[5]) ^ (~e & v[6])) +
                      SHA256_K[i] + w[i];
        uint32_t t2 = (ror32(a, 2) ^ ror32(a, 13) ^ ror32(a, 22)) + ((a & v[1]) ^ (a & v[2]) ^ (v[1] & v[2]));
        memmove(v + 1, v, 7 * sizeof v[0]);
        v[4] += t1;
        v[0] = t1 + t2;
    }
    for (int i = 0; i < 8; i++)
        s->h[i] += v[i];
}

void util_sha256_init(util_sha256 *s)
{
    static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    for (int i = 0; i < 8; i++)
        s->h[i] = h0[i];
    s->fill = 0;
    s->total = 0;
}

void util_sha256_update(util_sha256 *s, const void *data, size_t n)
{
    const unsigned char *p = data;
    s->total += n;
    while (n > 0) {
        size_t take = 64 - s->fill < n ? 64 - s->fill : n;
        memcpy(s->block + s->fill, p, take);
        s->fill += take;
        p += take;
        n -= take;
        if (s->fill == 64) {
            sha256_block(s, s->block);
            s->fill = 0;
        }
    }
}

void util_sha256_final(util_sha256 *s, unsigned char digest[32])
{
    unsigned long long bits = s->total * 8;
    unsigned char pad[72] = {0x80};
    size_t padlen = (s->fill < 56 ? 56 : 120) - s->fill;
    for (int i = 0; i < 8; i++)
        pad[padlen + (size_t)i] = (unsigned char)(bits >> (56 - 8 * i));
    util_sha256_update(s, pad, padlen + 8);
    for (int i = 0; i < 32; i++)
        digest[i] = (unsigned char)(s->h[i / 4] >> (24 - 8 * (i % 4)));
}

/* ---- clocks ------------------------------------------------------------------ */

static double clock_seconds(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double util_now_mono(void)
{
    return clock_seconds(CLOCK_MONOTONIC);
}

double util_now_real(void)
{
    return clock_seconds(CLOCK_REALTIME);
}

#define NS_PER_SECOND 1000000000LL

struct timespec util_deadline_mono(double seconds)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    long long ns = t.tv_nsec + (long long)(seconds * 1e9);
    t.tv_sec += (time_t)(ns / NS_PER_SECOND);
    t.tv_nsec = (long)(ns % NS_PER_SECOND);
    return t;
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
