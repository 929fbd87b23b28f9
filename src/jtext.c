/* jtext — JSON text without a tree (see jtext.h).
 *
 * How it works: one scanner walks the bytes once. String bodies and runs of
 * white space are skipped by blocks (16 bytes per step with SSE2, else 8
 * with a SWAR word test; see "block scanning" below): a block search stops
 * only at what needs a look — '"', '\\', a control byte, a non-ASCII byte —
 * and a plain string is checked inline, its first block alone, a longer
 * body two or four blocks a step (one mask test for 32 or 64 bytes).
 * UTF-8 sequences and escapes are then checked one by one (one-letter
 * escapes skipped from each block's masks, escapes_block), and numbers are
 * checked for int64 / double overflow only when that is possible at all
 * (strtod on long mantissas or exponents). A container and all that is
 * nested in it are checked by one loop (sc_nested) with the cursor in a
 * local and the open levels on a stack of bytes, no call per value: the
 * separators JSON writers produce, short plain keys (with the start of
 * their string value, from the same masks), string values and true / false /
 * null are taken there while enough bytes are left (FAST_ROOM); anything
 * else goes the general way (obj_next, arr_next, jtext_value, string_rest)
 * from the same place, so errors and columns are theirs. JTEXT_SCALAR swaps
 * the block routines for the reference byte loops and walks containers by
 * recursion (sc_object, sc_array) taking none of these short paths, so
 * tests can compare the two.
 * Builders (jtext_build, jtext_pick) first validate the whole text, then walk
 * it again creating jansson values directly, skipping jansson's slower lexer;
 * their _valid forms skip the first pass for spans already validated, and
 * skip members they do not build without checking them again. Valid text is
 * also read without a tree: members found by one unchecked walk
 * (jtext_get_valid, jtext_next_valid), strings decoded by block copies
 * (jtext_string_decode).
 */
#include "jtext.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include "util.h"

/* ---- the scanner -------------------------------------------------------- */


bool jtext_fail_at(jtext_scan *s, const unsigned char *at, const char *why)
{
    if (!s->err) {
        s->err = why;
        s->err_col = (size_t)(at - s->base) + 1;
    }
    return false;
}

bool jtext_fail(jtext_scan *s, const char *why)
{
    return jtext_fail_at(s, s->p, why);
}

/* ---- block scanning --------------------------------------------------------
 * Two runs dominate JSON text: the plain bytes of a string body and white
 * space. Each is skipped by a block routine — 16 bytes per step with SSE2
 * (the x86-64 baseline), else 8 bytes as one 64-bit word (SWAR) for strings
 * and byte by byte for white space — or, under JTEXT_SCALAR, by the
 * reference byte loop, which the differential tests compare it with. A block
 * is loaded only while a whole one lies before end, so nothing at or past
 * end is ever read; the last bytes go one at a time. */

#if defined(__SSE2__) && defined(__GNUC__)
#define JTEXT_SSE2 1
#include <emmintrin.h>
enum { SSE_BLOCK = 16 };
enum { ALL16 = 0xFFFF };   /* a block's movemask with every byte's bit set */
#endif

enum { SWAR_BLOCK = 8 };
#define ONES  0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

static inline bool plain(unsigned c)
{
    return c != '"' && c != '\\' && c >= 0x20 && c < 0x80;
}

/* Bit 7 of each byte of the result is set when that byte is '"', '\\',
 * < 0x20 or >= 0x80. Only the lowest set bit is exact (borrows may set bits
 * above it), which is all special_block needs. */
static inline uint64_t special8(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, SWAR_BLOCK);
    uint64_t q = v ^ (ONES * '"'), b = v ^ (ONES * '\\');
    uint64_t zq = (q - ONES) & ~q, zb = (b - ONES) & ~b;
    uint64_t lt = (v - ONES * 0x20) & ~v;
    return (zq | zb | lt | v) & HIGHS;
}

#ifdef JTEXT_SSE2
/* The bytes of the block at p that are plain string ASCII — not '"',
 * '\\', < 0x20 or >= 0x80 — as a vector of 0xFF bytes. Signed, bytes >=
 * 0x80 are negative, so one compare "> ' ' - 1" leaves out both ranges (and,
 * written this way round, compiles to one instruction). */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline __m128i plain_v(const unsigned char *p)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i qb = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                              _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
    return _mm_andnot_si128(qb, _mm_cmpgt_epi8(v, _mm_set1_epi8(' ' - 1)));
}

/* Bit i set when byte i of the block at p is not plain string ASCII; the
 * bits from 16 up are all set, so the lowest set bit is 16 when none is. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline unsigned special_bits(const unsigned char *p)
{
    return ~(unsigned)_mm_movemask_epi8(plain_v(p));
}

/* The same, bits 16 up clear. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline unsigned special16(const unsigned char *p)
{
    return special_bits(p) & ALL16;
}

/* The special bits of the 32 bytes at p whose plain_v are a and b: 0 when
 * all are plain. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline unsigned special32(__m128i a, __m128i b)
{
    return ~((unsigned)_mm_movemask_epi8(a) | (unsigned)_mm_movemask_epi8(b) << SSE_BLOCK);
}

/* Whether one of the 32 bytes whose plain_v are a and b is not plain. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline bool any_special32(__m128i a, __m128i b)
{
    return _mm_movemask_epi8(_mm_and_si128(a, b)) != ALL16;
}
#endif

/* The first byte at or after p that is not plain string ASCII, or end: by
 * blocks. */
static inline const unsigned char *special_block(const unsigned char *p, const unsigned char *end)
{
#ifdef JTEXT_SSE2
    while (end - p >= SSE_BLOCK) {
        unsigned bits = special16(p);
        if (bits)
            return p + __builtin_ctz(bits);
        p += SSE_BLOCK;
    }
#endif
    while (end - p >= SWAR_BLOCK) {
        uint64_t m = special8(p);
        if (m) {
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            return p + (__builtin_ctzll(m) >> 3);
#else
            break;   /* the byte loop below finds it within these 8 */
#endif
        }
        p += SWAR_BLOCK;
    }
    while (p < end && plain(*p))
        p++;
    return p;
}

/* The same, one byte at a time: the reference. */
static const unsigned char *special_scalar(const unsigned char *p, const unsigned char *end)
{
    while (p < end && plain(*p))
        p++;
    return p;
}

static inline const unsigned char *first_special(const jtext_scan *s, const unsigned char *p)
{
    return s->flags & JTEXT_SCALAR ? special_scalar(p, s->end) : special_block(p, s->end);
}

/* The first '"' or '\\' at or after p, or end: all that matters inside the
 * strings of valid text. By blocks as special_block (bytes by the byte loop
 * with JTEXT_SCALAR). */
static const unsigned char *quote_block(const unsigned char *p, const unsigned char *end,
                                        unsigned flags)
{
    if (!(flags & JTEXT_SCALAR)) {
#ifdef JTEXT_SSE2
        const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
        while (end - p >= SSE_BLOCK) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
            unsigned bits = (unsigned)_mm_movemask_epi8(
                _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)));
            if (bits)
                return p + __builtin_ctz(bits);
            p += SSE_BLOCK;
        }
#endif
        while (end - p >= SWAR_BLOCK) {
            uint64_t v;
            memcpy(&v, p, SWAR_BLOCK);
            uint64_t q = v ^ (ONES * '"'), b = v ^ (ONES * '\\');
            if (((q - ONES) & ~q & HIGHS) | ((b - ONES) & ~b & HIGHS))
                break;   /* the byte loop finds it within these 8 */
            p += SWAR_BLOCK;
        }
    }
    while (p < end && *p != '"' && *p != '\\')
        p++;
    return p;
}

/* The white space of a scan with flags: JTEXT_WS_BITS, '\n' left out under
 * JTEXT_LINE. */
static inline uint64_t ws_bits(unsigned flags)
{
    return flags & JTEXT_LINE ? JTEXT_WS_BITS & ~(1ULL << '\n') : JTEXT_WS_BITS;
}

const unsigned char *jtext_ws_run(const unsigned char *p, const unsigned char *end, unsigned flags)
{
#ifdef JTEXT_SSE2
    if (!(flags & JTEXT_SCALAR)) {
        /* under JTEXT_LINE the line-feed lane looks for a second space */
        const __m128i sp = _mm_set1_epi8(' ');
        const __m128i nl = _mm_set1_epi8(flags & JTEXT_LINE ? ' ' : '\n');
        const __m128i cr = _mm_set1_epi8('\r'), tab = _mm_set1_epi8('\t');
        while (end - p >= SSE_BLOCK) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
            __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, sp), _mm_cmpeq_epi8(v, nl)),
                                     _mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, tab)));
            unsigned other = ~(unsigned)_mm_movemask_epi8(m) & 0xFFFFu;
            if (other)
                return p + __builtin_ctz(other);
            p += SSE_BLOCK;
        }
    }
#endif
    uint64_t ws = ws_bits(flags);
    while (p < end && *p <= ' ' && (ws >> *p) & 1)
        p++;
    return p;
}

/* Length of the valid UTF-8 sequence at p (2..4; p[0] >= 0x80), or 0 (not
 * UTF-8, or a surrogate's WTF-8 form). */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
    size_t n;
    uint32_t cp = util_utf8_get(p, (size_t)(end - p), &n);
    return n == 1 || (cp >= 0xD800 && cp <= 0xDFFF) ? 0 : n;
}

/* Reads "XXXX" at p (4 hex digits) into *cp. */
static bool hex4(const unsigned char *p, const unsigned char *end, uint32_t *cp)
{
    long v = util_hex4((const char *)p, (size_t)(end - p));
    if (v < 0)
        return false;
    *cp = (uint32_t)v;
    return true;
}

static size_t utf8_encode(uint32_t cp, char out[4])
{
    return util_utf8_put(cp, out);
}

/* util_buf_append for decoded string bytes, with the common case — room
 * left — inline: a string full of escapes appends a few bytes at a time. */
static inline int out_add(util_buf *out, const void *d, size_t n)
{
    if (!out->data || out->cap - out->len <= n)
        return util_buf_append(out, d, n);
    memcpy(out->data + out->len, d, n);
    out->len += n;
    out->data[out->len] = '\0';
    return 0;
}

/* One escape after a backslash at *pp; advances *pp past it and, when out is
 * given, appends the decoded bytes. */
static bool sc_escape(jtext_scan *s, const unsigned char **pp, util_buf *out)
{
    const unsigned char *p = *pp + 1, *end = s->end;
    if (p >= end)
        return jtext_fail_at(s, *pp, "unterminated string");
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
            return jtext_fail_at(s, *pp, "invalid \\u escape");
        p += 5;
        bool lone = s->flags & JTEXT_SURROGATES;   /* kept alone, as WTF-8 */
        if (cp >= 0xDC00 && cp <= 0xDFFF && !lone)
            return jtext_fail_at(s, *pp, "invalid Unicode escape (lone low surrogate)");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            bool pair = end - p >= 6 && p[0] == '\\' && p[1] == 'u' && hex4(p + 2, end, &lo) &&
                        lo >= 0xDC00 && lo <= 0xDFFF;
            if (pair) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            } else if (!lone)
                return jtext_fail_at(s, *pp, "invalid Unicode escape (lone high surrogate)");
        }
        if (cp >= 0xD800 && cp <= 0xDFFF)
            s->seen |= JTEXT_SEEN_SURROGATE;
        s->saw_nul |= cp == 0;
        if (out) {
            char u[4];
            if (out_add(out, u, utf8_encode(cp, u)))
                return jtext_fail_at(s, *pp, "out of memory");
        }
        *pp = p;
        return true;
    }
    default:
        return jtext_fail_at(s, *pp, "invalid escape in string");
    }
    if (out && out_add(out, &one, 1))
        return jtext_fail_at(s, *pp, "out of memory");
    *pp = p + 1;
    return true;
}

/* A one-letter escape after a backslash: \" \\ \/ \b \f \n \r \t. */
static inline bool simple_escape(unsigned c)
{
    return c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' ||
           c == 't';
}

#ifdef JTEXT_SSE2
/* From p, past plain bytes and one-letter escapes (all of one step handled
 * from its masks, escaped bytes dropped from them): the first byte where
 * string_rest's byte loop has something else to do, or end. Two blocks a
 * step (their masks joined in one 32-bit word), then one. A step whose
 * escapes are all \\" or \\n, with no backslash after a backslash and no
 * other special byte, is taken from its masks at once: its closing quote is
 * the first quote no backslash escapes (a two-block step ending in a
 * backslash goes on past the byte it escapes, when that is one). */
static const unsigned char *escapes_block(const unsigned char *p, const unsigned char *end)
{
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(' '), letter_n = _mm_set1_epi8('n');
    const __m128i below = _mm_set1_epi8(' ' - 1);
    while (end - p >= 2 * SSE_BLOCK) {   /* two blocks a step, their masks joined */
        __m128i v0 = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i v1 = _mm_loadu_si128((const __m128i *)(const void *)(p + SSE_BLOCK));
        uint64_t q = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v0, quote)) |
                     (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v1, quote)) << SSE_BLOCK;
        uint64_t b = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v0, bslash)) |
                     (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v1, bslash)) << SSE_BLOCK;
        /* no control or non-ASCII byte: all "> ' ' - 1" (signed) */
        __m128i g0 = _mm_cmpgt_epi8(v0, below), g1 = _mm_cmpgt_epi8(v1, below);
        bool other = _mm_movemask_epi8(_mm_and_si128(g0, g1)) != ALL16;
        if (!other && !(b & (b << 1))) {
            uint64_t e = b << 1;   /* the escaped bytes; bit 32: the byte after these */
            uint64_t x = e & ~q & ~(1ULL << 2 * SSE_BLOCK);   /* those not quotes */
            if (!x || !(x & ~((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v0, letter_n)) |
                              (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v1, letter_n))
                                  << SSE_BLOCK))) {
                uint64_t close = q & ~e;
                if (close)
                    return p + __builtin_ctzll(close);
                if (!(e >> 2 * SSE_BLOCK)) {
                    p += 2 * SSE_BLOCK;
                    continue;
                }
                /* the last byte is a backslash: its escape ends after them */
                if (end - p > 2 * SSE_BLOCK && simple_escape(p[2 * SSE_BLOCK])) {
                    p += 2 * SSE_BLOCK + 1;
                    continue;
                }
                return p + 2 * SSE_BLOCK - 1;
            }
        }
        uint64_t bits = q | b;
        if (other)
            bits |= ~((unsigned)_mm_movemask_epi8(g0) |
                      (uint64_t)(unsigned)_mm_movemask_epi8(g1) << SSE_BLOCK) &
                    ((1ULL << 2 * SSE_BLOCK) - 1);
        while (bits) {
            unsigned i = (unsigned)__builtin_ctzll(bits);
            if (p[i] != '\\' || i + 1 >= 2 * SSE_BLOCK || !simple_escape(p[i + 1]))
                return p + i;
            bits &= ~0ULL << (i + 2);   /* the escape and its escaped byte */
        }
        p += 2 * SSE_BLOCK;
    }
    while (end - p >= SSE_BLOCK) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i qv = _mm_cmpeq_epi8(v, quote), bv = _mm_cmpeq_epi8(v, bslash);
        unsigned bits = (unsigned)_mm_movemask_epi8(
            _mm_or_si128(_mm_or_si128(qv, bv), _mm_cmplt_epi8(v, space)));
        if (!bits) {
            p += SSE_BLOCK;
            continue;
        }
        unsigned q = (unsigned)_mm_movemask_epi8(qv), b = (unsigned)_mm_movemask_epi8(bv);
        if (bits == (q | b) && !(b & (b << 1)) && !(b >> (SSE_BLOCK - 1))) {
            unsigned e = b << 1;   /* the escaped bytes */
            unsigned n = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('n')));
            if (!(e & ~(q | n))) {
                unsigned close = q & ~e;
                if (close)
                    return p + __builtin_ctz(close);
                p += SSE_BLOCK;
                continue;
            }
        }
        while (bits) {
            unsigned i = (unsigned)__builtin_ctz(bits);
            if (p[i] != '\\' || i + 1 >= SSE_BLOCK || !simple_escape(p[i + 1]))
                return p + i;
            bits &= ~0u << (i + 2);   /* the escape and its escaped byte */
        }
        p += SSE_BLOCK;
    }
    return special_block(p, end);
}
#endif

/* The rest of the string whose body starts at run (s->p is its quote), from
 * p, the first byte of the body that is not plain ASCII. When only checking,
 * one-letter escapes are skipped by blocks (escapes_block). */
static bool string_rest(jtext_scan *s, const unsigned char *run, const unsigned char *p,
                        util_buf *out)
{
    const unsigned char *end = s->end;
    for (;; p = first_special(s, p)) {
#ifdef JTEXT_SSE2
        if (!out && !(s->flags & JTEXT_SCALAR))
            p = escapes_block(p, end);
#endif
        if (p >= end)
            return jtext_fail_at(s, s->p, "unterminated string");
        unsigned c = *p;
        if (c == '"')
            break;
        if (c < 0x20)
            return jtext_fail_at(s, p, "control character in string");
        if (c == '\\' && !out && end - p >= 2 && simple_escape(p[1])) {
            p += 2;   /* checking only: nothing to decode */
            continue;
        }
        if (c == '\\') {
            if (out && out_add(out, run, (size_t)(p - run)))
                return jtext_fail_at(s, p, "out of memory");
            if (!sc_escape(s, &p, out))
                return false;
            run = p;
            continue;
        }
        size_t n = utf8_len(p, end);
        if (!n)
            return jtext_fail_at(s, p, "invalid UTF-8 in string");
        p += n;
    }
    if (out && out_add(out, run, (size_t)(p - run)))
        return jtext_fail_at(s, p, "out of memory");
    s->p = p + 1;
    return true;
}

/* A string at s->p (which is '"'); appends its decoded text to out if given.
 * Inline for the common case, a body of plain ASCII: its closing quote is
 * the first special byte found by blocks. Anything else goes on in
 * string_rest. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline bool scan_string(jtext_scan *s, util_buf *out)
{
    const unsigned char *run = s->p + 1;
#ifdef JTEXT_SSE2
    if (!out && !(s->flags & JTEXT_SCALAR)) {
        const unsigned char *p = run, *end = s->end;
        unsigned bits = 0;
        if (end - p >= 2 * SSE_BLOCK && !(bits = special16(p)) &&
            !(bits = special16(p + SSE_BLOCK) << SSE_BLOCK)) {
            /* a long body: two blocks a step, one mask test for both */
            for (p += 2 * SSE_BLOCK; end - p >= 2 * SSE_BLOCK; p += 2 * SSE_BLOCK) {
                __m128i a = plain_v(p), b = plain_v(p + SSE_BLOCK);
                if (any_special32(a, b)) {
                    bits = special32(a, b);
                    break;
                }
            }
            while (!bits && end - p >= SSE_BLOCK && !(bits = special16(p)))
                p += SSE_BLOCK;
        }
        if (!bits)
            return string_rest(s, run, first_special(s, p), out);
        p += __builtin_ctz(bits);
        if (*p == '"') {
            s->p = p + 1;
            return true;
        }
        return string_rest(s, run, p, out);
    }
#endif
    return string_rest(s, run, first_special(s, run), out);
}

bool jtext_string(jtext_scan *s, util_buf *out)
{
    return scan_string(s, out);
}

static bool is_digit(const unsigned char *p, const unsigned char *end)
{
    return p < end && *p >= '0' && *p <= '9';
}

/* jansson rejects reals that overflow a double: check with strtod only when
 * overflow is possible at all (an exponent or a very long mantissa). */
static bool real_overflows(jtext_scan *s, const unsigned char *start, size_t n)
{
    s->tmp->len = 0;
    if (util_buf_append(s->tmp, start, n))
        return false;
    errno = 0;
    double v = strtod(s->tmp->data, NULL);
    return errno == ERANGE && isinf(v);
}

static bool int_overflows(const unsigned char *digits, size_t n, bool neg)
{
    if (n != 19)
        return n > 19;
    const char *lim = neg ? "9223372036854775808" : "9223372036854775807";
    return memcmp(digits, lim, 19) > 0;
}

/* NaN, Infinity or -Infinity at s->p (JTEXT_PY); false when not there. */
static bool sc_nonfinite(jtext_scan *s)
{
    static const char *const words[] = {"NaN", "Infinity", "-Infinity"};
    size_t left = (size_t)(s->end - s->p);
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);
        if (left >= n && !memcmp(s->p, words[i], n)) {
            s->p += n;
            s->seen |= JTEXT_SEEN_NONFINITE;
            return true;
        }
    }
    return false;
}

static bool sc_number(jtext_scan *s)
{
    const unsigned char *start = s->p, *p = start, *end = s->end;
    bool neg = *p == '-', real = false, exp = false;
    if (neg && (s->flags & JTEXT_PY) && p + 1 < end && p[1] == 'I')
        return sc_nonfinite(s) || jtext_fail_at(s, start, "invalid number");
    if (neg)
        p++;
    if (!is_digit(p, end))
        return jtext_fail_at(s, start, "invalid number");
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
            return jtext_fail_at(s, start, "invalid number");
        while (is_digit(p, end))
            p++;
        real = true;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (!is_digit(p, end))
            return jtext_fail_at(s, start, "invalid number");
        while (is_digit(p, end))
            p++;
        real = exp = true;
    }
    if (!real && int_overflows(digits, ndigits, neg)) {
        s->seen |= JTEXT_SEEN_BIG_INT;
        if (s->flags & JTEXT_PY) {
            s->p = p;     /* any size, as in Python */
            return true;
        }
        if (!(s->flags & JTEXT_BIG_INTS))
            return jtext_fail_at(s, start, "integer too big for int64");
        real = true;   /* read as a real, like JSON_DECODE_INT_AS_REAL */
    }
    if (real && (exp || p - start > 300) && real_overflows(s, start, (size_t)(p - start))) {
        if (!(s->flags & JTEXT_PY))
            return jtext_fail_at(s, start, "real number overflow");
        s->seen |= JTEXT_SEEN_NONFINITE;   /* 1e400: inf for Python */
    }
    s->p = p;
    return true;
}

static bool sc_literal(jtext_scan *s)
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
    return jtext_fail(s, "invalid token");
}


/* Object iteration: sc_obj_open at '{', then jtext_obj_next until it returns 0
 * (end, past '}') or -1 (error). On 1, *key holds the decoded key (when key is
 * given) and s->p is at the member's value. */
bool jtext_open(jtext_scan *s)
{
    if (++s->depth > JTEXT_MAX_DEPTH)
        return jtext_fail(s, "nesting too deep (maximum 2048)");
    s->p++;
    return true;
}

/* jtext_obj_next and jtext_arr_next, inline in the scanner's own loops. */
#if defined(__GNUC__)
#define ALWAYS_INLINE __attribute__((always_inline)) inline
#else
#define ALWAYS_INLINE inline
#endif

/* The step to a container's next member or element: 0 past its closing
 * bracket close, 1 past the ',' before the next one (or at the first), -1 on
 * an error (unterminated or expected, the messages). */
static ALWAYS_INLINE int next_item(jtext_scan *s, bool *first, unsigned char close,
                                   const char *unterminated, const char *expected)
{
    jtext_ws(s);
    if (s->p >= s->end)
        return jtext_fail(s, unterminated), -1;
    if (*s->p == close) {
        s->p++;
        s->depth--;
        return 0;
    }
    if (!*first) {
        if (*s->p != ',')
            return jtext_fail(s, expected), -1;
        s->p++;
        jtext_ws(s);
    }
    *first = false;
    return 1;
}

static ALWAYS_INLINE int obj_next(jtext_scan *s, bool *first, util_buf *key)
{
    int r = next_item(s, first, '}', "unterminated object", "expected ',' or '}' in object");
    if (r != 1)
        return r;
    if (s->p >= s->end || *s->p != '"')
        return jtext_fail(s, "expected a string key in object"), -1;
    if (key)
        key->len = 0;
    const unsigned char *kp = s->p;
    s->saw_nul = false;
    if (!scan_string(s, key))
        return -1;
    if (s->saw_nul)   /* jansson cannot hold such a key */
        return jtext_fail_at(s, kp, "NUL character in object key"), -1;
    jtext_ws(s);
    if (s->p >= s->end || *s->p != ':')
        return jtext_fail(s, "expected ':' after key"), -1;
    s->p++;
    jtext_ws(s);
    if (s->p >= s->end)
        return jtext_fail(s, "unexpected end of text"), -1;
    return 1;
}

static ALWAYS_INLINE int arr_next(jtext_scan *s, bool *first)
{
    int r = next_item(s, first, ']', "unterminated list", "expected ',' or ']' in list");
    if (r == 1 && s->p >= s->end)
        return jtext_fail(s, "unexpected end of text"), -1;
    return r;
}

int jtext_obj_next(jtext_scan *s, bool *first, util_buf *key)
{
    return obj_next(s, first, key);
}

int jtext_arr_next(jtext_scan *s, bool *first)
{
    return arr_next(s, first);
}

/* ---- the reference walk of containers --------------------------------------
 * Recursion through jtext_value, each separator by obj_next / arr_next: the
 * walk of JTEXT_SCALAR, which the differential tests compare sc_nested with. */

static bool sc_object(jtext_scan *s)
{
    if (!jtext_open(s))
        return false;
    bool first = true;
    int r;
    while ((r = obj_next(s, &first, NULL)) == 1)
        if (!jtext_value(s))
            return false;
    return r == 0;
}

static bool sc_array(jtext_scan *s)
{
    if (!jtext_open(s))
        return false;
    bool first = true;
    int r;
    while ((r = arr_next(s, &first)) == 1)
        if (!jtext_value(s))
            return false;
    return r == 0;
}

/* ---- the walk of containers by one loop ------------------------------------
 * sc_nested checks a container and all that is nested in it in one loop: the
 * cursor p is a local (kept in a register: the short paths return it, see
 * step), the open containers a stack of bytes (object or list), no call per
 * value. The common tokens are taken there by short paths while FAST_ROOM
 * bytes are left (p <= lim):
 *  - `, "key": ` (Python's separators) or `,"key":` (compact text) with a
 *    short plain key (key_member), a ',' (and one space) before an element,
 *    a closing bracket — white space other than one space, an escape or
 *    UTF-8 in the key, anything odd is left to obj_next / arr_next;
 *  - a string value whose body is plain ASCII, by blocks (plain_run; after a
 *    key, its first bytes from the key's own masks), the rest of any other
 *    from its first special byte by string_rest;
 *  - true, false and null, each by one compare of its bytes (and the next
 *    byte no letter, as sc_literal reads a word).
 * Everything else (numbers, NaN, errors, values too deep) goes the general
 * way (obj_next, arr_next, jtext_value, string_rest) from the same place with
 * s->p set there, so the errors, their columns, the seen flags and where the
 * cursor stops are those of the reference walk. */

/* p past one optional space. */
static ALWAYS_INLINE const unsigned char *one_sp(const unsigned char *p)
{
    return p + (*p == ' ');
}

enum { FAST_ROOM = 48 };   /* more than a short path reads past p: room for them */

/* Whether the two bytes at p are lit's. */
static ALWAYS_INLINE bool two_are(const unsigned char *p, const char *lit)
{
    uint16_t a, b;
    memcpy(&a, p, 2);
    memcpy(&b, lit, 2);
    return a == b;
}

/* Index of the first '"', '\\', control or non-ASCII byte of the 16 at p,
 * or 16 when there is none. */
static ALWAYS_INLINE unsigned first_special16(const unsigned char *p)
{
#ifdef JTEXT_SSE2
    return (unsigned)__builtin_ctz(special_bits(p));
#else
    unsigned i = 0;
    while (i < 16 && plain(p[i]))
        i++;
    return i;
#endif
}

/* The first byte at or after p that is not plain string ASCII, or end: the
 * body of a string value, by blocks (its first alone, then two, then four a
 * step: one mask test for 64 bytes). */
static ALWAYS_INLINE const unsigned char *plain_run(const unsigned char *p, const unsigned char *end)
{
#ifdef JTEXT_SSE2
    if (end - p >= SSE_BLOCK) {
        unsigned bits = special16(p);
        if (bits)
            return p + __builtin_ctz(bits);
        p += SSE_BLOCK;
        if (end - p >= 2 * SSE_BLOCK) {
            __m128i a = plain_v(p), b = plain_v(p + SSE_BLOCK);
            if (any_special32(a, b))
                return p + __builtin_ctz(special32(a, b));
            p += 2 * SSE_BLOCK;
        }
        for (; end - p >= 4 * SSE_BLOCK; p += 4 * SSE_BLOCK) {
            __m128i a = plain_v(p), b = plain_v(p + SSE_BLOCK);
            __m128i c = plain_v(p + 2 * SSE_BLOCK), d = plain_v(p + 3 * SSE_BLOCK);
            if (_mm_movemask_epi8(_mm_and_si128(_mm_and_si128(a, b), _mm_and_si128(c, d))) !=
                ALL16) {
                unsigned lo = special32(a, b);
                return lo ? p + __builtin_ctz(lo) : p + 2 * SSE_BLOCK + __builtin_ctz(special32(c, d));
            }
        }
    }
#endif
    return special_block(p, end);
}

/* The end of the string value whose opening quote is at v: past it, or NULL
 * on an error (in s). q is the first byte of its body that is not plain
 * ASCII (or end). */
static ALWAYS_INLINE const unsigned char *string_end(jtext_scan *s, const unsigned char *v,
                                                     const unsigned char *q)
{
    if (q < s->end && *q == '"')
        return q + 1;
    s->p = v;
    return string_rest(s, v + 1, q, NULL) ? s->p : NULL;
}

/* Where a short path left the cursor, and what it took (returned in
 * registers: the cursor stays out of memory). */
typedef struct step {
    const unsigned char *p;
    int took;
} step;

enum {
    TOOK_NONE,     /* nothing: p unchanged, the general way's */
    TOOK_VALUE,    /* a key: p at its member's value */
    TOOK_SCALAR,   /* a scalar (or a key and its string value): p past it */
    TOOK_OPEN,     /* a '{' or '[': p still at it */
    TOOK_ERROR     /* an error, in s */
};

/* At a member's key (k at its opening quote, with FAST_ROOM bytes after the
 * ',' or '{' before it), a short plain key followed by ':' and one optional
 * space: p at the member's value (a byte above ' ', TOOK_VALUE) or, when
 * the value is a string (not deep), past it (TOOK_SCALAR, or TOOK_ERROR when
 * it is not valid), the first special byte of its body found from the key's
 * masks when it lies in the 32 bytes after the key's quote. TOOK_NONE when
 * the text is anything else: obj_next's. */
static ALWAYS_INLINE step key_member(jtext_scan *s, const unsigned char *k, bool deep)
{
    step none = {k, TOOK_NONE};
    if (*k != '"')
        return none;
#ifdef JTEXT_SSE2
    unsigned m = special_bits(k + 1);
    size_t i = (size_t)__builtin_ctz(m);
    m &= ALL16;
#else
    size_t i = first_special16(k + 1);
#endif
    if (i == 16 || k[1 + i] != '"')
        return none;   /* a long key, or one with escapes or UTF-8 */
    const unsigned char *v = k + 2 + i;
    if (two_are(v, ": "))
        v += 2;
    else if (*v == ':')
        v++;
    else
        return none;
    if (*v <= ' ')
        return none;   /* more white space (or a control byte): obj_next's */
    s->saw_nul = false;    /* as obj_next leaves it after a key without \u0000 */
    if (*v != '"' || deep)
        return (step){v, TOOK_VALUE};
#ifdef JTEXT_SSE2
    /* bit b of the masks is byte k + 1 + b; the body starts at bit v - k */
    unsigned j = (unsigned)(v - k), rest = m >> j;
    if (!rest) {
        m |= special16(k + 1 + SSE_BLOCK) << SSE_BLOCK;
        rest = m >> j;
    }
    const unsigned char *q = rest ? v + 1 + __builtin_ctz(rest) : plain_run(k + 1 + 2 * SSE_BLOCK, s->end);
#else
    const unsigned char *q = plain_run(v + 1, s->end);
#endif
    const unsigned char *after = string_end(s, v, q);
    return (step){after, after ? TOOK_SCALAR : TOOK_ERROR};
}

/* The literal true, false or null at p as a whole word: its length, or 0.
 * end - p >= FAST_ROOM. */
static ALWAYS_INLINE size_t short_literal(const unsigned char *p)
{
    uint32_t w, t, n, f;
    memcpy(&w, p, 4);
    memcpy(&t, "true", 4);
    memcpy(&n, "null", 4);
    memcpy(&f, "fals", 4);
    size_t len = w == t || w == n ? 4 : w == f && p[4] == 'e' ? 5 : 0;
    return len && !(p[len] >= 'a' && p[len] <= 'z') ? len : 0;
}

/* The value at p (< end) inside a container: a scalar checked, p past it
 * (TOOK_SCALAR), a container found (TOOK_OPEN), or TOOK_ERROR. Strings and
 * literals are taken here only when not deep (at the depth limit), where
 * jtext_value gives its error. */
static ALWAYS_INLINE step take_value(jtext_scan *s, const unsigned char *p, bool deep)
{
    const unsigned char *end = s->end;
    unsigned c = *p;
    if (c == '"' && !deep) {
        const unsigned char *after = string_end(s, p, plain_run(p + 1, end));
        return (step){after, after ? TOOK_SCALAR : TOOK_ERROR};
    }
    if (c == '{' || c == '[')
        return (step){p, TOOK_OPEN};
    size_t n;
    if (!deep && end - p >= FAST_ROOM && (n = short_literal(p)))
        return (step){p + n, TOOK_SCALAR};
    s->p = p;
    if (!jtext_value(s))
        return (step){p, TOOK_ERROR};
    return (step){s->p, TOOK_SCALAR};
}

/* The container at s->p ('{' or '['): as sc_object / sc_array, by one loop.
 * A level of this call is open while s->depth is the depth at the start
 * plus the open levels (top). The short paths apply while p <= lim, with
 * FAST_ROOM bytes left (never when the text is shorter). */
static bool sc_nested(jtext_scan *s)
{
    unsigned char objs[JTEXT_MAX_DEPTH + 1];   /* objs[k]: level k is an object */
    const unsigned char *p = s->p, *const end = s->end;
    const unsigned char *const lim = end - p > FAST_ROOM ? end - FAST_ROOM : p;
    /* from this level on a scalar is too deep, a container cannot open */
    const unsigned deep_top = s->depth < JTEXT_MAX_DEPTH ? JTEXT_MAX_DEPTH - s->depth : 0;
    unsigned top = 0;   /* levels open */
    bool first, deep;
    step st;
    int r;
open:   /* at a '{' or '[' */
    if (top >= deep_top) {
        s->p = p;
        return jtext_open(s);   /* its error */
    }
    s->depth++;
    first = true;
    deep = top + 1 >= deep_top;
    if (*p++ == '[') {
        objs[top++] = 0;
        if (p <= lim) {
            if (*p == ']') {
                p++;
                s->depth--;
                goto closed;
            }
            if (*p > ' ')
                goto element;   /* the first element (a ',' there is jtext_value's error) */
        }
        goto list;
    }
    objs[top++] = 1;
    if (p <= lim) {   /* the first member */
        if (*p == '}') {
            p++;
            s->depth--;
            goto closed;
        }
        st = key_member(s, p, deep);
        goto key;
    }
object:
    for (;;) {   /* an object: p after '{' or after a value */
        if (p <= lim) {
            if (*p == ',') {
                st = key_member(s, one_sp(p + 1), deep);
            key:
                if (st.took == TOOK_SCALAR) {
                    p = st.p;
                    first = false;
                    continue;
                }
                if (st.took == TOOK_VALUE) {
                    p = st.p;
                    goto member;
                }
                if (st.took == TOOK_ERROR)
                    return false;
            } else if (*p == '}') {
                p++;
                s->depth--;
                goto closed;
            }
        }
        s->p = p;
        r = obj_next(s, &first, NULL);
        p = s->p;
        if (r < 0)
            return false;
        if (r == 0)
            goto closed;
    member:
        first = false;
        st = take_value(s, p, deep);
        if (st.took == TOOK_ERROR)
            return false;
        if (st.took == TOOK_OPEN)
            goto open;
        p = st.p;
    }
list:
    for (;;) {   /* a list: p after '[' or after a value */
        if (p <= lim && !first) {
            if (*p == ',') {
                const unsigned char *v = one_sp(p + 1);
                if (*v > ' ') {   /* a ']' there is jtext_value's error, as arr_next leaves it */
                    p = v;
                    goto element;
                }
            } else if (*p == ']') {
                p++;
                s->depth--;
                goto closed;
            }
        }
        s->p = p;
        r = arr_next(s, &first);
        p = s->p;
        if (r < 0)
            return false;
        if (r == 0)
            goto closed;
    element:
        first = false;
        st = take_value(s, p, deep);
        if (st.took == TOOK_ERROR)
            return false;
        if (st.took == TOOK_OPEN)
            goto open;
        p = st.p;
    }
closed:   /* p past a closing bracket */
    if (--top == 0) {
        s->p = p;
        return true;
    }
    first = false;
    deep = false;   /* the level closed was at most deep_top */
    if (objs[top - 1])
        goto object;
    goto list;
}

/* A value at s->p (not whitespace). */
bool jtext_value(jtext_scan *s)
{
    if (s->p >= s->end)
        return jtext_fail(s, "unexpected end of text");
    /* jansson counts every value's depth, scalars included */
    if (s->depth >= JTEXT_MAX_DEPTH && *s->p != '{' && *s->p != '[')
        return jtext_fail(s, "nesting too deep (maximum 2048)");
    switch (*s->p) {
    case '{': return s->flags & JTEXT_SCALAR ? sc_object(s) : sc_nested(s);
    case '[': return s->flags & JTEXT_SCALAR ? sc_array(s) : sc_nested(s);
    case '"': return scan_string(s, NULL);
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        return sc_number(s);
    default:
        if (*s->p >= 'a' && *s->p <= 'z')
            return sc_literal(s);
        if ((s->flags & JTEXT_PY) && sc_nonfinite(s))
            return true;
        return jtext_fail(s, "unexpected character");
    }
}
/* ---- skipping valid text ---------------------------------------------------
 * Inside text already validated, a value is skipped without checking it:
 * string bodies by the block search (only '"' and '\\' matter there),
 * containers by counting brackets, scalars up to their delimiter. */

static const unsigned char *skip_valid_string(const jtext_scan *s, const unsigned char *p)
{
    const unsigned char *end = s->end;
    p++;
#ifdef JTEXT_SSE2
    /* Each block's quotes and backslashes from its masks: an escape drops
     * its escaped byte from them; the first quote left closes the string. */
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
    while (!(s->flags & JTEXT_SCALAR) && end - p >= SSE_BLOCK) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        unsigned q = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, quote));
        unsigned b = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, bslash));
        if (!(b & (b << 1)) && !(b >> (SSE_BLOCK - 1))) {
            /* no backslash after a backslash, none as the last byte: each
             * backslash escapes the byte after it, all in this block */
            q &= ~(b << 1);
            if (q)
                return p + __builtin_ctz(q) + 1;
            p += SSE_BLOCK;
            continue;
        }
        while (b && (!q || __builtin_ctz(b) < __builtin_ctz(q))) {
            unsigned i = (unsigned)__builtin_ctz(b);
            if (i + 1 >= SSE_BLOCK)
                break;   /* the escaped byte is in the next block */
            q &= ~0u << (i + 2);
            b &= ~0u << (i + 2);
        }
        if (q && (!b || __builtin_ctz(q) < __builtin_ctz(b)))
            return p + __builtin_ctz(q) + 1;
        p += b ? SSE_BLOCK + 1 : SSE_BLOCK;   /* b left: a backslash as the last byte */
    }
#endif
    for (;;) {
        p = quote_block(p, end, s->flags);
        if (end - p < 2)
            return end;   /* the closing quote at end - 1 (or none: not valid) */
        if (*p == '"')
            return p + 1;
        p += 2;           /* an escape's first two bytes */
    }
}

static void skip_valid(jtext_scan *s)
{
    const unsigned char *p = s->p, *end = s->end;
    if (*p == '"') {
        s->p = skip_valid_string(s, p);
        return;
    }
    if (*p != '{' && *p != '[') {
        while (p < end && *p != ',' && *p != '}' && *p != ']' && !jtext_is_ws(*p))
            p++;
        s->p = p;
        return;
    }
    size_t depth = 0;
    while (p < end) {
        unsigned c = *p;
        if (c == '"') {
            p = skip_valid_string(s, p);
            continue;
        }
        if (c == '{' || c == '[')
            depth++;
        else if ((c == '}' || c == ']') && --depth == 0) {
            p++;
            break;
        }
        p++;
    }
    s->p = p;
}

/* ---- building values ---------------------------------------------------- */

/* Builds the jansson value of the (already validated) JSON at s->p, as
 * json_loadb would with JSON_ALLOW_NUL, but without its slower lexer. NULL on
 * allocation failure. */
static json_t *build_value(jtext_scan *s, util_buf *buf)
{
    jtext_ws(s);
    const unsigned char *p = s->p;
    switch (*p) {
    case '{': {
        if (!jtext_open(s))
            return NULL;
        json_t *obj = json_object();
        bool first = true;
        int r;
        util_buf key = {0};
        while (obj && (r = jtext_obj_next(s, &first, &key)) == 1) {
            json_t *v = build_value(s, buf);
            if (!v || json_object_setn_new_nocheck(obj, key.data ? key.data : "", key.len, v)) {
                json_decref(obj);
                obj = NULL;
            }
        }
        free(key.data);
        return obj;
    }
    case '[': {
        if (!jtext_open(s))
            return NULL;
        json_t *arr = json_array();
        bool first = true;
        while (arr && jtext_arr_next(s, &first) == 1)
            if (json_array_append_new(arr, build_value(s, buf))) {
                json_decref(arr);
                arr = NULL;
            }
        return arr;
    }
    case '"': {
        const unsigned char *body = p + 1, *q = first_special(s, body);
        if (q < s->end && *q == '"') {   /* nothing to decode: the text itself */
            s->p = q + 1;
            return json_stringn_nocheck((const char *)body, (size_t)(q - body));
        }
        buf->len = 0;
        if (!string_rest(s, body, q, buf))   /* on from the first special byte */
            return NULL;
        return json_stringn_nocheck(buf->data ? buf->data : "", buf->len);
    }
    case 't': s->p += 4; return json_true();
    case 'f': s->p += 5; return json_false();
    case 'n': s->p += 4; return json_null();
    case 'N': case 'I':
        sc_nonfinite(s);
        return json_null();   /* JTEXT_PY placeholder: see jtext.h */
    default: {
        if (!sc_number(s))
            return NULL;
        if (*p == '-' && p[1] == 'I')
            return json_null();
        size_t n = (size_t)(s->p - p);
        buf->len = 0;
        if (util_buf_append(buf, p, n))
            return NULL;
        if (strcspn(buf->data, ".eE") == n) {
            errno = 0;
            long long i = strtoll(buf->data, NULL, 10);
            if (errno != ERANGE)   /* beyond int64 only with JTEXT_BIG_INTS / JTEXT_PY */
                return json_integer((json_int_t)i);
        }
        double d = strtod(buf->data, NULL);
        return isfinite(d) ? json_real(d) : json_null();   /* inf: JTEXT_PY only */
    }
    }
}
/* ---- public entry points ------------------------------------------------- */

void jtext_scan_init(jtext_scan *s, const char *p, size_t len, unsigned flags, util_buf *tmp)
{
    *s = (jtext_scan){.base = (const unsigned char *)p, .p = (const unsigned char *)p,
                      .end = (const unsigned char *)p + len, .flags = flags, .ws = ws_bits(flags),
                      .tmp = tmp};
}

static void report(const jtext_scan *s, char *err, size_t errsz)
{
    if (err && errsz)
        snprintf(err, errsz, "invalid JSON at column %zu: %s", s->err_col, s->err ? s->err : "?");
}

/* One value filling the whole text (white space around it allowed). */
static bool whole_value(jtext_scan *s)
{
    jtext_ws(s);
    if (!jtext_value(s))
        return false;
    jtext_ws(s);
    return s->p >= s->end || jtext_fail(s, "extra data after the JSON value");
}

bool jtext_valid(const char *p, size_t len, unsigned flags, char *err, size_t errsz)
{
    util_buf tmp = {0};
    jtext_scan s;
    jtext_scan_init(&s, p, len, flags, &tmp);
    bool ok = whole_value(&s);
    free(tmp.data);
    if (!ok)
        report(&s, err, errsz);
    return ok;
}

json_t *jtext_build_valid(const char *p, size_t len, unsigned flags)
{
    util_buf tmp = {0}, buf = {0};
    jtext_scan s;
    jtext_scan_init(&s, p, len, flags, &tmp);
    json_t *v = build_value(&s, &buf);
    free(tmp.data);
    free(buf.data);
    return v;
}

json_t *jtext_build(const char *p, size_t len, unsigned flags)
{
    if (!jtext_valid(p, len, flags, NULL, 0))
        return NULL;
    return jtext_build_valid(p, len, flags);
}

static bool key_is(const util_buf *k, const char *lit)
{
    size_t n = strlen(lit);
    return k->len == n && !memcmp(k->data, lit, n);
}

json_t *jtext_pick_valid(const char *p, size_t len, unsigned flags, const char *const *keys,
                         size_t nkeys)
{
    util_buf tmp = {0}, buf = {0}, key = {0};
    jtext_scan s;
    jtext_scan_init(&s, p, len, flags, &tmp);
    jtext_ws(&s);
    json_t *out = s.p < s.end && *s.p == '{' ? json_object() : NULL;
    bool first = true;
    if (out && jtext_open(&s)) {
        while (out && jtext_obj_next(&s, &first, &key) == 1) {
            size_t k = 0;
            while (k < nkeys && !key_is(&key, keys[k]))
                k++;
            if (k == nkeys) {
                skip_valid(&s);
                continue;
            }
            json_t *v = build_value(&s, &buf);
            if (!v || json_object_set_new(out, keys[k], v)) {
                json_decref(out);
                out = NULL;
            }
        }
    }
    free(tmp.data);
    free(buf.data);
    free(key.data);
    return out;
}

json_t *jtext_pick(const char *p, size_t len, unsigned flags, const char *const *keys, size_t nkeys)
{
    if (!jtext_valid(p, len, flags, NULL, 0))
        return NULL;
    return jtext_pick_valid(p, len, flags, keys, nkeys);
}

static const char *type_name(unsigned char c)
{
    switch (c) {
    case '[': return "a list";
    case '"': return "a string";
    case 't': case 'f': return "a boolean";
    case 'n': return "null";
    default: return "a number";
    }
}

/* The members of the object at s->p, each handed to fn at its value: 0 (past
 * the '}'), -1 on a syntax error, or fn's value. */
static int object_members(jtext_scan *s, jtext_walk_fn fn, void *ctx)
{
    if (!jtext_open(s))
        return -1;
    util_buf key = {0};
    bool first = true;
    int r, rc = 0;
    while (rc == 0 && (r = jtext_obj_next(s, &first, &key)) == 1)
        rc = fn(ctx, s, key.data ? key.data : "", key.len);
    free(key.data);
    return rc ? rc : r;
}

int jtext_object_walk(const char *p, size_t len, unsigned flags, jtext_walk_fn fn, void *ctx,
                      char *err, size_t errsz)
{
    util_buf tmp = {0};
    jtext_scan s;
    jtext_scan_init(&s, p, len, flags, &tmp);
    jtext_ws(&s);
    unsigned char first = s.p < s.end ? *s.p : 0;
    int rc;
    if (first == '{') {
        rc = object_members(&s, fn, ctx);
        if (rc == 0) {
            jtext_ws(&s);
            if (s.p < s.end)
                rc = jtext_fail(&s, "extra data after the JSON value") ? 0 : -1;
        }
        if (rc == -1)
            report(&s, err, errsz);
    } else if (whole_value(&s)) {   /* a syntax error comes first, as in jansson */
        if (err && errsz)
            snprintf(err, errsz, "not a JSON object (it is %s)", type_name(first));
        rc = -1;
    } else {
        report(&s, err, errsz);
        rc = -1;
    }
    free(tmp.data);
    return rc;
}

int jtext_object_walk_line(const char *p, size_t len, unsigned flags, jtext_walk_fn fn,
                           void *ctx, size_t *line_len)
{
    util_buf tmp = {0};
    jtext_scan s;
    jtext_scan_init(&s, p, len, flags | JTEXT_LINE, &tmp);
    jtext_ws(&s);
    int rc = s.p < s.end && *s.p == '{' ? object_members(&s, fn, ctx) : -1;
    free(tmp.data);
    if (rc != 0)
        return rc;
    /* The scan stopped at no '\n' (none is white space here) and the object
     * ended before the first one: the line is the object and its white space. */
    jtext_ws(&s);
    if (s.p < s.end && *s.p != '\n')
        return -1;
    *line_len = (size_t)(s.p - s.base);
    return 0;
}

/* jtext_object on the walk: each value checked, then its span given to fn. */
typedef struct member_walk {
    jtext_member_fn fn;
    void *ctx;
} member_walk;

static int walk_member(void *ctx, jtext_scan *s, const char *key, size_t key_len)
{
    const member_walk *w = ctx;
    jtext_member m = {key, key_len, (const char *)s->p, NULL};
    if (!jtext_value(s))
        return -1;
    m.end = (const char *)s->p;
    return w->fn ? w->fn(w->ctx, &m) : 0;
}

int jtext_object(const char *p, size_t len, unsigned flags, jtext_member_fn fn, void *ctx,
                 char *err, size_t errsz)
{
    member_walk w = {fn, ctx};
    return jtext_object_walk(p, len, flags, walk_member, &w, err, errsz);
}

/* ---- trusted text: walking without checking ------------------------------ */

/* p past white space: none or one byte here, a longer run by jtext_ws_run. */
static inline const unsigned char *ws_skip(const unsigned char *p, const unsigned char *end)
{
    if (p == end || !jtext_is_ws(*p))
        return p;
    return jtext_ws_run(p + 1, end, 0);
}

/* The members of the validated object at s->p (a '{'), walked with the same
 * block search as skip_valid (white space by jtext_ws_run): 0 with s->p past
 * its '}', fn's positive value, or -1 (a key with escapes, or not an object). */
static int trusted_members(jtext_scan *s, jtext_member_fn fn, void *ctx)
{
    const unsigned char *p = s->p, *end = s->end;
    if (p == end || *p != '{')
        return -1;
    for (p++;;) {
        p = ws_skip(p, end);
        if (p < end && *p == ',')
            p = ws_skip(p + 1, end);
        if (p < end && *p == '}') {
            s->p = p + 1;
            return 0;
        }
        if (p == end || *p != '"')
            return -1;
        const unsigned char *key = p + 1, *after = skip_valid_string(s, p);
        if (after == end)
            return -1;
        for (const unsigned char *q = key; q < after - 1; q++)
            if (*q == '\\')
                return -1;                   /* an escaped key: decode it the slow way */
        p = ws_skip(after, end);
        if (p == end || *p != ':')
            return -1;
        s->p = ws_skip(p + 1, end);
        jtext_member m = {(const char *)key, (size_t)(after - 1 - key), (const char *)s->p, NULL};
        if (s->p < end)
            skip_valid(s);
        p = s->p;
        m.end = (const char *)p;
        int rc = fn ? fn(ctx, &m) : 0;
        if (rc > 0)
            return rc;
    }
}

int jtext_object_trusted(const char *text, size_t len, jtext_member_fn fn, void *ctx)
{
    jtext_scan s;
    jtext_scan_init(&s, text, len, 0, NULL);
    s.p = jtext_ws_run(s.p, s.end, 0);
    return trusted_members(&s, fn, ctx);
}

bool jtext_member_is(const jtext_member *m, const char *name)
{
    size_t n = strlen(name);
    return m->key_len == n && !memcmp(m->key, name, n);
}

/* ---- setting one member in an object text ------------------------------------ */

typedef struct set_scan {
    const char *key;
    size_t members;
    const char **at;       /* value spans of the members named key: at[2i], at[2i+1] */
    size_t n, cap;
    bool nomem;
} set_scan;

static int set_on_member(void *ctx, const jtext_member *m)
{
    set_scan *s = ctx;
    s->members++;
    if (!jtext_member_is(m, s->key))
        return 0;
    if (s->n + 2 > s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 8;
        const char **at = realloc(s->at, cap * sizeof *at);
        if (!at) {
            s->nomem = true;
            return 1;
        }
        s->at = at;
        s->cap = cap;
    }
    s->at[s->n++] = m->v;
    s->at[s->n++] = m->end;
    return 0;
}

int jtext_set_member(const char *p, size_t len, unsigned flags, const char *key,
                     const char *val, size_t vlen, util_buf *out, char *err, size_t errsz)
{
    set_scan s = {.key = key};
    int rc = jtext_object(p, len, flags, set_on_member, &s, err, errsz);
    if (s.nomem || rc != 0) {
        free(s.at);
        return s.nomem ? -2 : -1;
    }
    const char *from = memchr(p, '{', len), *close = p + len;
    while (close[-1] != '}')
        close--;
    close--;
    bool bad = false;
    for (size_t i = 0; i < s.n && !bad; i += 2) {
        bad = util_buf_append(out, from, (size_t)(s.at[i] - from)) ||
              util_buf_append(out, val, vlen);
        from = s.at[i + 1];
    }
    bad = bad || util_buf_append(out, from, (size_t)(close - from));
    if (!s.n)
        bad = bad || (s.members && util_buf_putc(out, ',')) ||
              util_buf_json_string(out, key, strlen(key)) || util_buf_putc(out, ':') ||
              util_buf_append(out, val, vlen);
    bad = bad || util_buf_putc(out, '}');
    free(s.at);
    return bad ? -2 : 0;
}

/* ---- spans ----------------------------------------------------------------- */

int jtext_compact(const char *p, size_t len, util_buf *out)
{
    const char *end = p + len, *run = p;
    bool in_string = false;
    for (const char *q = p; q < end; q++) {
        char c = *q;
        if (in_string) {
            if (c == '\\')
                q++;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
            if (util_buf_append(out, run, (size_t)(q - run)))
                return -1;
            run = q + 1;
        }
    }
    return util_buf_append(out, run, (size_t)(end - run));
}

typedef struct find_ctx {
    const char *key;
    jtext_span found;
} find_ctx;

static int find_member(void *ctx, const jtext_member *m)
{
    find_ctx *f = ctx;
    if (jtext_member_is(m, f->key))
        f->found = (jtext_span){m->v, (size_t)(m->end - m->v)};
    return 0;
}

jtext_span jtext_get(jtext_span obj, unsigned flags, const char *key)
{
    find_ctx f = {key, {NULL, 0}};
    if (!obj.p || jtext_object(obj.p, obj.len, flags, find_member, &f, NULL, 0) != 0)
        return (jtext_span){NULL, 0};
    return f.found;
}

typedef struct find_keys {
    const char *const *keys;
    size_t nkeys;
    jtext_span *out;
} find_keys;

static int find_members(void *ctx, const jtext_member *m)
{
    const find_keys *f = ctx;
    for (size_t i = 0; i < f->nkeys; i++)
        if ((m->key_len ? m->key[0] == f->keys[i][0] : !f->keys[i][0]) &&
            jtext_member_is(m, f->keys[i]))
            f->out[i] = (jtext_span){m->v, (size_t)(m->end - m->v)};
    return 0;
}

void jtext_get_valid(jtext_span obj, unsigned flags, const char *const *keys, size_t nkeys,
                     jtext_span *out)
{
    find_keys f = {keys, nkeys, out};
    memset(out, 0, nkeys * sizeof *out);
    if (!obj.p || jtext_object_trusted(obj.p, obj.len, find_members, &f) == 0)
        return;
    memset(out, 0, nkeys * sizeof *out);   /* a key with escapes: decoded by the scanner */
    if (jtext_object(obj.p, obj.len, flags, find_members, &f, NULL, 0) != 0)
        memset(out, 0, nkeys * sizeof *out);
}

int jtext_object_members(const char *p, size_t len, unsigned flags, const char *const *keys,
                         size_t nkeys, jtext_span *out, char *err, size_t errsz)
{
    find_keys f = {keys, nkeys, out};
    memset(out, 0, nkeys * sizeof *out);
    if (jtext_object(p, len, flags, find_members, &f, err, errsz) == 0)
        return 0;
    memset(out, 0, nkeys * sizeof *out);
    return -1;
}

jtext_span jtext_next_valid(jtext_span arr, unsigned flags, const char **at,
                            const char *const *keys, size_t nkeys, jtext_span *fields)
{
    jtext_span none = {NULL, 0};
    memset(fields, 0, nkeys * sizeof *fields);
    if (!arr.p)
        return none;
    jtext_scan s;
    jtext_scan_init(&s, arr.p, arr.len, 0, NULL);
    const unsigned char *end = s.end;
    if (!*at) {
        s.p = jtext_ws_run(s.p, end, 0);
        if (s.p == end || *s.p != '[')
            return none;
        s.p++;
    } else {
        s.p = (const unsigned char *)*at;
    }
    s.p = jtext_ws_run(s.p, end, 0);
    if (s.p < end && *s.p == ',')
        s.p = jtext_ws_run(s.p + 1, end, 0);
    if (s.p == end || *s.p == ']')
        return none;
    const unsigned char *v = s.p;
    find_keys f = {keys, nkeys, fields};
    bool walked = nkeys && *v == '{' && trusted_members(&s, find_members, &f) == 0;
    if (!walked) {
        s.p = v;
        skip_valid(&s);
    }
    jtext_span el = {(const char *)v, (size_t)(s.p - v)};
    if (nkeys && *v == '{' && !walked)   /* a key with escapes */
        jtext_get_valid(el, flags, keys, nkeys, fields);
    *at = (const char *)s.p;
    return el;
}

size_t jtext_elements(jtext_span arr, unsigned flags, jtext_span *out, size_t max)
{
    if (!arr.p)
        return 0;
    util_buf tmp = {0};
    jtext_scan s;
    jtext_scan_init(&s, arr.p, arr.len, flags, &tmp);
    jtext_ws(&s);
    size_t n = 0;
    bool first = true;
    if (s.p < s.end && *s.p == '[' && jtext_open(&s)) {
        while (jtext_arr_next(&s, &first) == 1) {
            const unsigned char *v = s.p;
            if (!jtext_value(&s))
                break;
            if (n < max)
                out[n] = (jtext_span){(const char *)v, (size_t)(s.p - v)};
            n++;
        }
    }
    free(tmp.data);
    return n;
}

jtext_span jtext_at(jtext_span arr, unsigned flags, size_t k)
{
    jtext_span none = {NULL, 0};
    if (!arr.p)
        return none;
    util_buf tmp = {0};
    jtext_scan s;
    jtext_scan_init(&s, arr.p, arr.len, flags, &tmp);
    jtext_ws(&s);
    bool first = true;
    jtext_span out = none;
    if (s.p < s.end && *s.p == '[' && jtext_open(&s)) {
        for (size_t i = 0; jtext_arr_next(&s, &first) == 1; i++) {
            const unsigned char *v = s.p;
            if (!jtext_value(&s))
                break;
            if (i == k) {
                out = (jtext_span){(const char *)v, (size_t)(s.p - v)};
                break;
            }
        }
    }
    free(tmp.data);
    return out;
}

/* The byte a one-letter escape stands for, by the letter after the
 * backslash; 0 for the others (\u, and what is not an escape). */
static const char ONE_LETTER[256] = {
    ['"'] = '"', ['\\'] = '\\', ['/'] = '/', ['b'] = '\b', ['f'] = '\f', ['n'] = '\n',
    ['r'] = '\r', ['t'] = '\t',
};

/* Decodes the escape at p (a backslash, at least 2 bytes before end) into o;
 * returns the byte after it, or NULL when it is not one of valid text. */
static const char *decode_escape(const char *p, const char *end, char *o, size_t *n)
{
    *n = 1;
    if ((o[0] = ONE_LETTER[(unsigned char)p[1]]))
        return p + 2;
    if (p[1] != 'u')
        return NULL;
    long cp = util_hex4(p + 2, (size_t)(end - p - 2));
    if (cp < 0)
        return NULL;
    p += 6;
    if (cp >= 0xD800 && cp <= 0xDBFF && end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
        long lo = util_hex4(p + 2, 4);
        if (lo >= 0xDC00 && lo <= 0xDFFF) {   /* a pair; else kept alone (JTEXT_SURROGATES) */
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            p += 6;
        }
    }
    *n = utf8_encode((uint32_t)cp, o);
    return p;
}

/* The next '"' or '\\' at or after p, copying the bytes before it to *o
 * (advanced past them): by 16-byte blocks, each stored whole (out has the
 * room: see jtext_string_value), or by quote_block and one copy. */
static const char *copy_run(const char *p, const char *end, char **o, unsigned flags)
{
#ifdef JTEXT_SSE2
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
    while (!(flags & JTEXT_SCALAR) && end - p >= SSE_BLOCK) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        unsigned bits = (unsigned)_mm_movemask_epi8(
            _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)));
        _mm_storeu_si128((__m128i *)(void *)*o, v);
        unsigned k = bits ? (unsigned)__builtin_ctz(bits) : SSE_BLOCK;
        *o += k;
        p += k;
        if (bits)
            return p;
    }
#endif
    const char *q = (const char *)quote_block((const unsigned char *)p, (const unsigned char *)end,
                                              flags);
    memcpy(*o, p, (size_t)(q - p));
    *o += q - p;
    return q;
}

/* For a valid string, the same bytes as the scanner's decoding (checked by
 * tests/test_jtext_blocks.c): runs copied between escapes found by block
 * search, each escape decoded in place. The decoded text is never longer
 * than the text it comes from, and a block stored whole at o never reaches
 * past v.len bytes from dst. */
size_t jtext_string_decode(jtext_span v, unsigned flags, char *dst)
{
    const char *p = v.p + 1, *end = v.p + v.len;
    char *o = dst;
    for (;;) {
        const char *q = copy_run(p, end, &o, flags);
        if (q == end || *q == '"')
            break;
        if (end - q >= 2 && (*o = ONE_LETTER[(unsigned char)q[1]])) {   /* the common escapes */
            o++;
            p = q + 2;
            continue;
        }
        size_t n;
        if (end - q < 2 || !(p = decode_escape(q, end, o, &n)))
            break;   /* not valid text: what was decoded so far */
        o += n;
    }
    *o = '\0';
    return (size_t)(o - dst);
}

int jtext_string_value(jtext_span v, unsigned flags, util_buf *out)
{
    if (!v.p || v.len < 2 || *v.p != '"' || util_buf_reserve(out, v.len))
        return -1;
    out->len += jtext_string_decode(v, flags, out->data + out->len);
    return 0;
}
