/* text — Python 3.11's str.strip().lower().split() and NeMo Gym's word-count
 * similarity on UTF-8 (WTF-8) strings.
 *
 * Lower-casing is Unicode full case mapping of the whole string (libunistring
 * u8_tolower: İ -> i̇, final sigma). Whitespace is Python's str.isspace():
 * the Unicode White_Space property plus U+001C..U+001F. Bytes that are not
 * valid UTF-8 (e.g. a lone surrogate in WTF-8 form) are ordinary non-space
 * characters that lower-casing leaves unchanged. ASCII strings take a fast
 * path that never calls libunistring.
 */
#ifndef FCPIVOT_TEXT_H
#define FCPIVOT_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include "util.h"

typedef struct text_span {
    const char *s;
    size_t len;
} text_span;

/* Number of whitespace-separated words of s (no lower-casing needed). */
size_t text_count_words(const char *s, size_t len);

/* Python's s.lower() into memory from arena a (*out, *outlen; not
 * NUL-terminated). 0 ok, -1 out of memory. */
int text_lower(util_arena *a, const char *s, size_t len, const char **out, size_t *outlen);

/* Python's s.strip().lower().split(): *words is an arena array of *n spans
 * pointing into arena memory. 0 ok, -1 out of memory. */
int text_words(util_arena *a, const char *s, size_t len, text_span **words, size_t *n);

/* |W(x) ∩ W(y)| (multiset: sum of the smaller counts) for two word lists.
 * May reorder both arrays. */
size_t text_common_words(text_span *x, size_t nx, text_span *y, size_t ny);

/* NeMo Gym's string comparison: if x or y has fewer than two words, equal iff
 * the strings are identical; else equal iff |W(x) ∩ W(y)| / (|W(x)| + |W(y)|)
 * >= threshold. Scratch memory comes from a. Out of memory -> false. */
bool text_similar(util_arena *a, const char *x, size_t xl, const char *y, size_t yl,
                  double threshold);

/* The similarity ratio itself (0 when either side has fewer than two words);
 * -1 when out of memory. */
double text_similarity(util_arena *a, const char *x, size_t xl, const char *y, size_t yl);

#endif
