/* util — small core building blocks: a bump arena and a growable byte buffer.
 *
 * The arena hands out aligned blocks from a caller-supplied first buffer (often
 * on the stack) and then from heap chunks; everything is released at once by
 * util_arena_free. It keeps hot paths (parsing an arguments string, judging a
 * verdict) free of per-node malloc/free.
 *
 * The buffer is a plain (data, len, cap) byte vector with append helpers,
 * including a JSON string escaper used by the command-line output; a reader
 * keeps its window in one (util_buf_consume drops what it has used), and
 * util_buf_take hands the bytes over. util_grow is the one way arrays of
 * records grow (doubling).
 *
 * util_float_repr writes a double as Python's repr() does; util_sha256 hashes
 * (downloads are checked against the hub's SHA-256, eval manifests record a
 * dataset's); util_now_mono / util_now_real are the clocks in seconds.
 *
 * The rest are the one copy of helpers every module needs: the error setter
 * of the (err, errsz) convention, the FNV-1a hash, and the UTF-8 / \uXXXX
 * pieces both JSON readers (jtext, pyjson) share.
 */
#ifndef FCPIVOT_UTIL_H
#define FCPIVOT_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

typedef struct util_chunk util_chunk;

typedef struct util_arena {
    char *cur, *end;      /* free space of the current block */
    util_chunk *chunks;   /* heap chunks, newest first */
    size_t next_size;     /* size of the next heap chunk */
} util_arena;

/* Starts an arena whose first allocations come from buf[0..size) (may be NULL,
 * 0). buf must outlive the arena; it is never freed by the arena. */
void util_arena_init(util_arena *a, void *buf, size_t size);
/* Sets the size of the next heap chunk (later chunks double from there):
 * callers that know roughly how much they need keep small arenas compact. */
void util_arena_set_chunk(util_arena *a, size_t size);
/* n bytes aligned to 16, owned by the arena; NULL only when malloc fails. */
void *util_arena_alloc(util_arena *a, size_t n);
/* Releases every heap chunk; the arena may then be initialised again. */
void util_arena_free(util_arena *a);

typedef struct util_buf {
    char *data;   /* owned; NUL-terminated whenever non-NULL */
    size_t len, cap;
} util_buf;

#define UTIL_BUF_INIT {NULL, 0, 0}

/* Ensures room for n more bytes (plus a NUL). 0 ok, -1 out of memory. */
int util_buf_reserve(util_buf *b, size_t n);
int util_buf_append(util_buf *b, const void *data, size_t n);
int util_buf_puts(util_buf *b, const char *s);
int util_buf_putc(util_buf *b, char c);
int util_buf_printf(util_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int util_buf_vprintf(util_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Appends s[0..n) as a JSON string literal with quotes (bytes >= 0x80 are
 * copied unchanged, control characters escaped). */
int util_buf_json_string(util_buf *b, const char *s, size_t n);
/* Appends WTF-8 text s[0..n) as a JSON string literal the way Python's
 * json.dumps writes it with ensure_ascii (its default): only printable ASCII
 * stays as is, other characters become \uXXXX escapes (a surrogate pair above
 * U+FFFF, a lone surrogate as itself); an invalid byte becomes \ufffd. */
int util_buf_json_ascii(util_buf *b, const char *s, size_t n);
/* Appends s[0..n) for display on a terminal: control characters (NUL, ESC,
 * DEL, the C1 range U+0080..U+009F) and bytes that are not UTF-8 become
 * \xNN / \u00NN escapes, so data can neither cut a message short nor drive
 * the terminal; everything else is copied. */
int util_buf_escaped(util_buf *b, const char *s, size_t n);
void util_buf_free(util_buf *b);
/* Hands the buffer's bytes to the caller (caller owns; free() them; NUL-
 * terminated) with their length in *len (may be NULL) and leaves b empty.
 * An empty buffer that never allocated gives a malloc'd "" (NULL only when
 * that malloc fails). */
char *util_buf_take(util_buf *b, size_t *len);
/* Drops the first n bytes (at most len) of b, moving the rest to the front
 * (a reader's window once its lines are used); capacity is kept. */
void util_buf_consume(util_buf *b, size_t n);

/* Growable arrays: makes room for at least need elements of elem bytes in
 * the array *(T **)array of capacity *cap, doubling from first (or from
 * *cap). 0, or -1 when out of memory (then *array and *cap are unchanged:
 * the caller still owns and frees the old array). */
int util_grow(void *array, size_t *cap, size_t need, size_t elem, size_t first);

/* The error setter of the (char *err, size_t errsz) convention: formats into
 * err when it is non-NULL and errsz > 0 (truncating), else does nothing. */
void util_set_err(char *err, size_t errsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void util_vset_err(char *err, size_t errsz, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* The value of the 4 hex digits at p[0..4) (n bytes are readable there), or
 * -1 when n < 4 or one is not a hex digit: a JSON \uXXXX escape's code. */
long util_hex4(const char *p, size_t n);
/* Writes code point cp (<= 0x10FFFF) as UTF-8 into out; a surrogate gets its
 * 3-byte form (WTF-8). Returns the length, 1..4. */
size_t util_utf8_put(uint32_t cp, char out[4]);
/* The code point of the WTF-8 sequence at s[0..n) (n >= 1; surrogates
 * accepted, overlong forms and values above U+10FFFF not) with its length in
 * *len; an ASCII byte or an invalid sequence gives U+FFFD with *len = 1. */
uint32_t util_utf8_get(const unsigned char *s, size_t n, size_t *len);

/* Python's repr() of a float (the shortest text that reads back as the same
 * double, always with a '.' or an exponent: 1.0, 0.5, 1e-07, inf, nan) into
 * buf; returns the length. bufsz >= 32 is always enough. */
size_t util_float_repr(double v, char *buf, size_t bufsz);

/* The length of the longest prefix of s[0..n) that a JSON string holds as
 * it is: no '"', '\\' or control byte (bytes >= 0x80 pass). By 8-byte words
 * (SWAR: the has-zero-byte test, whose false positives only lie above a true
 * one, so the lowest flagged byte is exact), the tail byte by byte. Inline:
 * both the string escaper and pyjson's string scan call it per string. */
static inline size_t util_json_plain_run(const char *s, size_t n)
{
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    size_t i = 0;
    for (; n - i >= 8; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
        uint64_t stops = (((q - ones) & ~q) | ((b - ones) & ~b) | ((w - ones * 0x20) & ~w)) & high;
        if (stops) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            return i + ((size_t)__builtin_ctzll(stops) >> 3);
#else
            break;   /* the byte loop finds it within these 8 */
#endif
        }
    }
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == '"' || c == '\\')
            break;
    }
    return i;
}

/* A 64-bit FNV-1a hash of p[0..n), for hash tables keyed by bytes. */
uint64_t util_hash(const void *p, size_t n);
/* The same continuing from h: util_hash is util_fnv1a64(p, n, UTIL_FNV_OFFSET);
 * another start gives a second, independent hash (fingerprints). */
#define UTIL_FNV_OFFSET 0xcbf29ce484222325u
uint64_t util_fnv1a64(const void *p, size_t n, uint64_t h);

/* SHA-256 (FIPS 180-4), incremental: init, update any number of times, then
 * final writes the 32-byte digest. */
typedef struct util_sha256 {
    unsigned int h[8];
    unsigned char block[64];
    size_t fill;                  /* bytes in block */
    unsigned long long total;     /* bytes hashed */
} util_sha256;

void util_sha256_init(util_sha256 *s);
void util_sha256_update(util_sha256 *s, const void *data, size_t n);
void util_sha256_final(util_sha256 *s, unsigned char digest[32]);

/* ---- clocks ----------------------------------------------------------------- */

/* Seconds on the monotonic clock (intervals, deadlines). */
double util_now_mono(void);
/* Seconds since the Unix epoch (timestamps). */
double util_now_real(void);
/* The CLOCK_MONOTONIC time `seconds` from now, as pthread_cond_timedwait
 * wants it on a condition variable set to that clock. */
struct timespec util_deadline_mono(double seconds);

#endif
