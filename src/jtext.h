/* jtext — JSON text without a tree: validation exactly as strict as jansson
 * 2.14's decoder, the spans of an object's top-level members, and fast
 * building of jansson values from text.
 *
 * The one JSON text scanner of the project. It accepts what json_loadb
 * accepts with JSON_ALLOW_NUL | JSON_DECODE_ANY: RFC 8259 grammar over strict
 * UTF-8 (no overlongs, no surrogates), \u escapes with proper surrogate pairs
 * (\u0000 allowed in strings but not in keys), integers that fit int64 (or,
 * with JTEXT_BIG_INTS, any integer that fits a double, as with
 * JSON_DECODE_INT_AS_REAL), reals that do not overflow, at most
 * JTEXT_MAX_DEPTH nested values. Duplicate keys: the last one wins, as in
 * Python and jansson. With JTEXT_PY (and JTEXT_SURROGATES) it reads Python's
 * json instead where numbers (and lone surrogates) are concerned, for texts
 * that must be kept and sent back as written (dataset rows, /call bodies). Stricter in one corner: a raw NUL byte between tokens,
 * which jansson's stream skips and Python refuses, is an error.
 *
 * Large documents are only scanned: callers build just the members they need
 * (jtext_pick, jtext_object + jtext_build), so a big conversation next to them
 * is never materialised. The scanning cursor (jtext_scan) is public so that
 * walkers of a known shape (dsval's row checker) can descend into the parts
 * they care about and skip the rest with jtext_value.
 *
 * Thread safety: no shared state; a jtext_scan and its buffers are per call.
 */
#ifndef FCPIVOT_JTEXT_H
#define FCPIVOT_JTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "util.h"

/* Maximum nesting of values (jansson's JSON_PARSER_MAX_DEPTH): every value
 * counts, scalars included, the top-level one being at depth 1. */
#define JTEXT_MAX_DEPTH 2048

/* Flags. JTEXT_BIG_INTS: integers beyond int64 are accepted (when they fit a
 * double) and built as reals, as jansson does with JSON_DECODE_INT_AS_REAL.
 * JTEXT_PY: the numbers of Python's json — integers of any size, reals that
 * overflow (1e400) and the literals NaN, Infinity, -Infinity. jansson cannot
 * hold these, so the builders make placeholders of them: a big integer that
 * fits a double becomes that real, the others null. Such trees serve to read
 * the strings around them; whatever is sent back must come from the text
 * (spans below), never from the tree. JTEXT_SURROGATES: \uD800-style escapes
 * without their pair are accepted and decoded alone, as WTF-8 (Python).
 * JTEXT_SCALAR: string bodies and white space are scanned one byte at a time
 * (the reference) instead of by blocks of 8 to 64 bytes, and containers by
 * recursion without the short paths of the one-loop walk; results are the
 * same, only slower — for the differential tests and fuzzers. JTEXT_LINE: a
 * line feed is not white space, so a scan meets it as an error (outside a
 * string as inside one) and never reads past it: a JSON line can be checked
 * in place, with the rest of its file after it (jtext_object_walk_line). */
enum { JTEXT_BIG_INTS = 1, JTEXT_PY = 2, JTEXT_SURROGATES = 4, JTEXT_SCALAR = 8, JTEXT_LINE = 16 };

/* What a scan met (jtext_scan.seen), whether accepted or not. */
enum { JTEXT_SEEN_BIG_INT = 1, JTEXT_SEEN_NONFINITE = 2, JTEXT_SEEN_SURROGATE = 4 };

/* ---- whole documents ----------------------------------------------------- */

/* Checks p[0..len) is exactly one JSON value. Returns true, or false with
 * "invalid JSON at column N: reason" in err (when err is not NULL). */
bool jtext_valid(const char *p, size_t len, unsigned flags, char *err, size_t errsz);

/* The jansson value of p[0..len) — equal to json_loadb's with JSON_ALLOW_NUL |
 * JSON_DECODE_ANY (same key order, last duplicate wins; checked by a
 * differential fuzz run of 4 M inputs) but about 4x faster — or NULL when it
 * is not valid per jtext_valid (or on allocation failure). New reference
 * owned by the caller. */
json_t *jtext_build(const char *p, size_t len, unsigned flags);

/* The members named keys[0..nkeys) of the JSON object p[0..len), built as
 * jtext_build would (absent ones left out), without building the rest. A new
 * object owned by the caller; NULL when p is not a valid JSON object. */
json_t *jtext_pick(const char *p, size_t len, unsigned flags, const char *const *keys, size_t nkeys);

/* jtext_build and jtext_pick for text already accepted with the same flags
 * (by jtext_valid, or as a member span from jtext_object): the same values
 * without validating again, members that are not picked skipped unchecked.
 * The text must be valid: anything else gives unspecified results. */
json_t *jtext_build_valid(const char *p, size_t len, unsigned flags);
json_t *jtext_pick_valid(const char *p, size_t len, unsigned flags, const char *const *keys,
                         size_t nkeys);

typedef struct jtext_scan jtext_scan;

/* One top-level member of an object text: its key (decoded, not
 * NUL-terminated; valid during the callback only) and the bytes of its value
 * [v, end) inside the text given to jtext_object. */
typedef struct jtext_member {
    const char *key;
    size_t key_len;
    const char *v, *end;
} jtext_member;

/* Called for each top-level member in text order (duplicates included);
 * a positive value stops the scan. */
typedef int (*jtext_member_fn)(void *ctx, const jtext_member *m);

/* Validates p[0..len) as in jtext_valid and requires it to be an object,
 * calling fn (may be NULL) on each of its members as it goes. Returns 0; -1
 * with the reason in err (syntax errors as jtext_valid, "not a JSON object
 * (it is a list)" for a valid non-object) — possibly after some callbacks;
 * or fn's positive value. */
int jtext_object(const char *p, size_t len, unsigned flags, jtext_member_fn fn, void *ctx,
                 char *err, size_t errsz);

/* jtext_object's walk for text already known to be valid JSON (a dataset
 * row validated at load): the members' spans without checking anything,
 * strings skipped by the same block search as the scanner, several times faster. Returns 0 or fn's
 * positive value; -1 when it cannot walk the text (not an object, or a key
 * written with escapes): use jtext_object then. Never reads outside
 * p[0..len) and allocates nothing, whatever the text. */
int jtext_object_trusted(const char *p, size_t len, jtext_member_fn fn, void *ctx);

/* jtext_object's walk with the values left to the caller: fn is called at
 * each top-level member, in text order, with its decoded key (valid during
 * the call only) and s at the member's value (white space skipped); it must
 * scan exactly that value — jtext_value(s), or jtext_open and the member or
 * element loop to look inside it — and return 0 to go on, -1 when the scan
 * failed (the error is in s), or a positive value to stop. Returns as
 * jtext_object does (the same errors at the same columns, as the values are
 * scanned by the same grammar). */
typedef int (*jtext_walk_fn)(void *ctx, jtext_scan *s, const char *key, size_t key_len);
int jtext_object_walk(const char *p, size_t len, unsigned flags, jtext_walk_fn fn, void *ctx,
                      char *err, size_t errsz);

/* jtext_object_walk of the first line of p[0..len) — its bytes up to the
 * first '\n', or all of them — without searching for that '\n' first: the
 * walk runs under JTEXT_LINE, so it checks and reads the line's bytes once.
 * Returns 0 with the line's length in *line_len when the line is one valid
 * object (white space around it allowed), after the very calls of fn that
 * jtext_object_walk of the line makes. Otherwise -1 or fn's positive value,
 * possibly after some calls of fn, and nothing is said about the line: the
 * caller finds its end and walks it with jtext_object_walk for the outcome
 * and the error. */
int jtext_object_walk_line(const char *p, size_t len, unsigned flags, jtext_walk_fn fn,
                           void *ctx, size_t *line_len);

/* Whether the member is named name (compared after unescaping). */
bool jtext_member_is(const jtext_member *m, const char *name);

/* Appends to out the object text p[0..len) with member key set to the JSON
 * text val[0..vlen) (not checked; the caller's): every member of that name
 * gets val in place (keys keep their position, as when Python updates a
 * dict), or, when there is none, `"key":val` is inserted before the final
 * brace (after a ',' unless the object is empty). Every other byte is kept;
 * white space outside the object is dropped. 0; -1 with a reason in err when
 * p is not a valid JSON object (as jtext_object with flags); -2 when out of
 * memory (out may then hold a partial text past its old length). */
int jtext_set_member(const char *p, size_t len, unsigned flags, const char *key,
                     const char *val, size_t vlen, util_buf *out, char *err, size_t errsz);

/* ---- the scanning cursor --------------------------------------------------- */

struct jtext_scan {
    const unsigned char *base, *p, *end;
    unsigned depth;         /* open containers */
    unsigned flags;
    uint64_t ws;            /* white space: JTEXT_WS_BITS, without '\n' under JTEXT_LINE */
    const char *err;        /* first syntax error (static text), NULL if none */
    size_t err_col;         /* its 1-based byte column */
    bool saw_nul;           /* a \u0000 escape was decoded */
    unsigned seen;          /* JTEXT_SEEN_* met so far */
    util_buf *tmp;          /* scratch for number text */
};

/* A cursor at the start of p[0..len); tmp is scratch the caller owns (and
 * frees with util_buf_free). */
void jtext_scan_init(jtext_scan *s, const char *p, size_t len, unsigned flags, util_buf *tmp);

/* The first byte at or after p that is not white space, or end; skips long
 * runs by blocks (byte by byte with JTEXT_SCALAR in flags; '\n' is no white
 * space with JTEXT_LINE). For jtext_ws. */
const unsigned char *jtext_ws_run(const unsigned char *p, const unsigned char *end, unsigned flags);

/* ' ', '\n', '\r' or '\t': one bit each below bit 32. */
#define JTEXT_WS_BITS ((1ULL << ' ') | (1ULL << '\n') | (1ULL << '\r') | (1ULL << '\t'))

static inline bool jtext_is_ws(unsigned c)
{
    return c <= ' ' && (JTEXT_WS_BITS >> c) & 1;
}

/* Whether c is white space for the scan s (see JTEXT_LINE). */
static inline bool jtext_scan_ws(const jtext_scan *s, unsigned c)
{
    return c <= ' ' && (s->ws >> c) & 1;
}

/* Skips white space: most often none or one byte, handled here; a longer run
 * (indentation) by jtext_ws_run. */
static inline void jtext_ws(jtext_scan *s)
{
    const unsigned char *p = s->p, *end = s->end;
    if (p < end && jtext_scan_ws(s, *p)) {
        p++;
        if (p < end && jtext_scan_ws(s, *p))
            p = jtext_ws_run(p + 1, end, s->flags);
    }
    s->p = p;
}

/* Records the first error (why is static text) at s->p or at; returns false. */
bool jtext_fail(jtext_scan *s, const char *why);
bool jtext_fail_at(jtext_scan *s, const unsigned char *at, const char *why);

/* Checks and skips the value at s->p (white space already skipped). */
bool jtext_value(jtext_scan *s);
/* The string at s->p (a '"'): checks and skips it, appending its decoded
 * text to out when given. */
bool jtext_string(jtext_scan *s, util_buf *out);

/* Containers: jtext_open at '{' or '[' (counts the depth), then
 * jtext_obj_next / jtext_arr_next until they return 0 (past the closing
 * bracket) or -1 (error). On 1, s->p is at the next member's value (objects:
 * with its decoded key in *key when key is given, which is reset first). */
bool jtext_open(jtext_scan *s);
int jtext_obj_next(jtext_scan *s, bool *first, util_buf *key);
int jtext_arr_next(jtext_scan *s, bool *first);

/* ---- spans of a valid text ----------------------------------------------- */

/* A piece of JSON text (p NULL: absent). */
typedef struct jtext_span {
    const char *p;
    size_t len;
} jtext_span;

/* Appends the valid JSON text p[0..len) to out without its insignificant
 * white space: every string and number byte for byte. 0, or -1 when out of
 * memory. */
int jtext_compact(const char *p, size_t len, util_buf *out);
/* The value of the last member named key of the object text obj (the one a
 * parser keeps), or an absent span (not an object, invalid, no such key). */
jtext_span jtext_get(jtext_span obj, unsigned flags, const char *key);
/* The elements of the list text arr, the first max of them into out; returns
 * how many there are (0 when arr is not a list). */
size_t jtext_elements(jtext_span arr, unsigned flags, jtext_span *out, size_t max);
/* Appends the decoded text of the string span v (a valid JSON string, as
 * read with flags) to out, without checking it again. 0; -1 when v is not a
 * string or out of memory. (Text that is not valid gives unspecified bytes;
 * nothing outside v is ever read.) */
int jtext_string_value(jtext_span v, unsigned flags, util_buf *out);
/* The same into dst, which has room for v.len + 1 bytes (the decoded text is
 * never longer than its JSON text), NUL-terminated; returns its length. v
 * must be a string span (starting with '"', at least 2 bytes). */
size_t jtext_string_decode(jtext_span v, unsigned flags, char *dst);
/* jtext_get of several keys at once, for text already accepted with flags
 * (a member span of a validated request): out[i] is the value of the last
 * member named keys[i] (absent when none), found in one unchecked walk
 * (jtext_object_trusted; the checked one only when a key has escapes).
 * All absent when obj is not an object. */
void jtext_get_valid(jtext_span obj, unsigned flags, const char *const *keys, size_t nkeys,
                     jtext_span *out);
/* The same for text not yet checked: validates p[0..len) as jtext_object
 * does and, in the same walk, sets out[i] to the value of the last member
 * named keys[i] (absent when none; spans borrowed from p). 0, or -1 with
 * the reason in err as jtext_object gives it (out then all absent). */
int jtext_object_members(const char *p, size_t len, unsigned flags, const char *const *keys,
                         size_t nkeys, jtext_span *out, char *err, size_t errsz);
/* The elements of list text already accepted with flags, one per call: *at
 * is NULL before the first (then where the last one ended); returns the next
 * element's span, or an absent span after the last one (and when arr is not
 * a list). An element that is an object also gets the values of its members
 * keys[0..nkeys) into fields, as jtext_get_valid would, in the same walk
 * (all absent otherwise). Unchecked; never reads outside arr. */
jtext_span jtext_next_valid(jtext_span arr, unsigned flags, const char **at,
                            const char *const *keys, size_t nkeys, jtext_span *fields);
/* Element k of the list text arr, or an absent span. */
jtext_span jtext_at(jtext_span arr, unsigned flags, size_t k);

#endif
