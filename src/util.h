/* util — small core building blocks: a bump arena and a growable byte buffer.
 *
 * The arena hands out aligned blocks from a caller-supplied first buffer (often
 * on the stack) and then from heap chunks; everything is released at once by
 * util_arena_free. It keeps hot paths (parsing an arguments string, judging a
 * verdict) free of per-node malloc/free.
 *
 * The buffer is a plain (data, len, cap) byte vector with append helpers,
 * including a JSON string escaper used by the command-line output.
 *
 * util_float_repr writes a double as Python's repr() does; util_sha256 hashes
 * (downloads are checked against the hub's SHA-256, eval manifests record a
 * dataset's); util_now_mono / util_now_real are the clocks in seconds.
 */
#ifndef FCPIVOT_UTIL_H
#define FCPIVOT_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* Python's repr() of a float (the shortest text that reads back as the same
 * double, always with a '.' or an exponent: 1.0, 0.5, 1e-07, inf, nan) into
 * buf; returns the length. bufsz >= 32 is always enough. */
size_t util_float_repr(double v, char *buf, size_t bufsz);

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

#endif
