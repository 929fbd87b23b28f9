/* text — Python-exact lower-casing, whitespace splitting and word-count
 * similarity (see text.h).
 *
 * How it works: an ASCII string is lowered with a byte table and split on
 * the ASCII whitespace of Python (which includes U+001C..U+001F). Otherwise
 * the string is cut into maximal valid UTF-8 runs; each run is lowered by
 * u8_tolower and invalid bytes are copied as they are. Capital sigmas are
 * lowered here with CPython's Final_Sigma rule over the whole string, because
 * libunistring's context rule differs from CPython's for U+0027 and for
 * letters that are both cased and case-ignorable (e.g. U+02B0). Words are then compared as multisets: by direct
 * comparison for short lists, by sorting and merging for long ones, so long
 * strings never cost quadratic time.
 */
#include "text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unicase.h>
#include <unictype.h>
#include <unistr.h>

/* Python's str.isspace() for ASCII: \t \n \v \f \r, FS GS RS US, space. */
static const unsigned char ASCII_SPACE[128] = {
    [0x09] = 1, [0x0A] = 1, [0x0B] = 1, [0x0C] = 1, [0x0D] = 1,
    [0x1C] = 1, [0x1D] = 1, [0x1E] = 1, [0x1F] = 1, [0x20] = 1,
};

static bool is_ascii(const char *s, size_t len)
{
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (w & 0x8080808080808080ULL)
            return false;
    }
    for (; i < len; i++)
        if ((unsigned char)s[i] & 0x80)
            return false;
    return true;
}

/* Length of the whitespace character at s (0 if s[0] starts something else). */
static size_t space_at(const char *s, size_t len)
{
    unsigned char c = (unsigned char)s[0];
    if (c < 0x80)
        return ASCII_SPACE[c];
    ucs4_t uc;
    int n = u8_mbtoucr(&uc, (const uint8_t *)s, len);
    if (n <= 0)
        return 0;
    return uc_is_property_white_space(uc) ? (size_t)n : 0;
}

/* Length of the (non-space) character at s: a valid UTF-8 sequence, or one
 * byte of an invalid one. */
static size_t char_at(const char *s, size_t len)
{
    if ((unsigned char)s[0] < 0x80)
        return 1;
    ucs4_t uc;
    int n = u8_mbtoucr(&uc, (const uint8_t *)s, len);
    return n > 0 ? (size_t)n : 1;
}

size_t text_count_words(const char *s, size_t len)
{
    size_t n = 0, i = 0;
    bool in_word = false;
    while (i < len) {
        size_t sp = space_at(s + i, len - i);
        if (sp) {
            in_word = false;
            i += sp;
        } else {
            if (!in_word)
                n++;
            in_word = true;
            i += char_at(s + i, len - i);
        }
    }
    return n;
}

/* Lowers the valid UTF-8 run s[0..len) (no capital sigma in it) into
 * o[0..ocap). 0 ok, -1 out of memory, -2 does not fit. */
static int lower_run(const char *s, size_t len, char *o, size_t ocap, size_t *olen)
{
    size_t n = ocap;
    uint8_t *r = u8_tolower((const uint8_t *)s, len, NULL, NULL, (uint8_t *)o, &n);
    if (!r)
        return -1;
    if ((char *)r != o) {
        free(r);
        return -2;
    }
    *olen = n;
    return 0;
}

/* Lowers s[0..len) (no capital sigma in it) into o: valid runs through
 * u8_tolower, invalid bytes copied. Returns the output length, or -1 / -2
 * as lower_run. */
static long lower_segment(const char *s, size_t len, char *o, size_t ocap)
{
    size_t w = 0, i = 0;
    while (i < len) {
        const uint8_t *bad = u8_check((const uint8_t *)s + i, len - i);
        size_t run = bad ? (size_t)((const char *)bad - (s + i)) : len - i;
        if (run) {
            size_t got;
            int rc = lower_run(s + i, run, o + w, ocap - w, &got);
            if (rc)
                return rc;
            w += got;
            i += run;
        }
        if (bad && i < len) {
            if (w >= ocap)
                return -2;
            o[w++] = s[i++];   /* an invalid byte stays as it is */
        }
    }
    return (long)w;
}

/* The code point ending just before s[i] (0 when i == 0) and its start; an
 * invalid byte reads as U+FFFF, which is neither cased nor case-ignorable. */
static ucs4_t char_before(const char *s, size_t i, size_t *start)
{
    size_t k = i;
    for (int back = 0; back < 4 && k > 0; back++) {
        k--;
        if (((unsigned char)s[k] & 0xC0) != 0x80)
            break;
    }
    ucs4_t uc;
    int n = u8_mbtoucr(&uc, (const uint8_t *)s + k, i - k);
    if (n > 0 && (size_t)n == i - k) {
        *start = k;
        return uc;
    }
    *start = i - 1;
    return 0xFFFF;
}

/* Python's Final_Sigma test for the capital sigma at s[i..i+2):
 * \p{cased}\p{case-ignorable}* before it and not \p{case-ignorable}*\p{cased}
 * after it. Case-ignorable is tested first, as CPython does (libunistring's
 * own context differs for U+0027 and letters that are both). */
static bool final_sigma(const char *s, size_t len, size_t i)
{
    size_t j = i;
    ucs4_t c = 0;
    bool found = false;
    while (j > 0) {
        c = char_before(s, j, &j);
        if (!uc_is_property_case_ignorable(c)) {
            found = true;
            break;
        }
    }
    if (!found || !uc_is_property_cased(c))
        return false;
    j = i + 2;
    while (j < len) {
        int n = u8_mbtoucr(&c, (const uint8_t *)s + j, len - j);
        if (n <= 0)
            return true;   /* an invalid byte: neither cased nor ignorable */
        if (!uc_is_property_case_ignorable(c))
            return !uc_is_property_cased(c);
        j += (size_t)n;
    }
    return true;
}

/* Non-ASCII lower-casing into o[0..ocap): the text between capital sigmas
 * is lowered by lower_segment, each sigma by final_sigma. */
static long lower_unicode(const char *s, size_t len, char *o, size_t ocap)
{
    size_t w = 0, i = 0;
    while (i <= len) {
        const char *sig = i < len ? memmem(s + i, len - i, "\xCE\xA3", 2) : NULL;
        size_t k = sig ? (size_t)(sig - s) : len;
        long got = lower_segment(s + i, k - i, o + w, ocap - w);
        if (got < 0)
            return got;
        w += (size_t)got;
        if (!sig)
            break;
        if (ocap - w < 2)
            return -2;
        o[w++] = '\xCF';
        o[w++] = final_sigma(s, len, k) ? '\x82' : '\x83';
        i = k + 2;
    }
    return (long)w;
}

int text_lower(util_arena *a, const char *s, size_t len, const char **out, size_t *outlen)
{
    if (is_ascii(s, len)) {
        char *o = util_arena_alloc(a, len);
        if (!o)
            return -1;
        for (size_t i = 0; i < len; i++) {
            char c = s[i];
            o[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
        }
        *out = o;
        *outlen = len;
        return 0;
    }
    /* Lower-case mappings grow at most 2 bytes to 3 (U+0130); retry bigger
     * anyway if a future table disagrees. */
    for (size_t factor = 2;; factor *= 2) {
        size_t cap = len * factor + 16;
        char *o = util_arena_alloc(a, cap);
        if (!o)
            return -1;
        long got = lower_unicode(s, len, o, cap);
        if (got == -1)
            return -1;
        if (got >= 0) {
            *out = o;
            *outlen = (size_t)got;
            return 0;
        }
    }
}

int text_words(util_arena *a, const char *s, size_t len, text_span **words, size_t *n)
{
    const char *low;
    size_t lowlen;
    if (text_lower(a, s, len, &low, &lowlen))
        return -1;
    size_t count = text_count_words(low, lowlen);
    text_span *w = util_arena_alloc(a, (count ? count : 1) * sizeof *w);
    if (!w)
        return -1;
    size_t k = 0, i = 0;
    while (i < lowlen) {
        size_t sp = space_at(low + i, lowlen - i);
        if (sp) {
            i += sp;
            continue;
        }
        size_t start = i;
        while (i < lowlen && !space_at(low + i, lowlen - i))
            i += char_at(low + i, lowlen - i);
        w[k].s = low + start;
        w[k].len = i - start;
        k++;
    }
    *words = w;
    *n = k;
    return 0;
}

static bool span_eq(const text_span *x, const text_span *y)
{
    return x->len == y->len && memcmp(x->s, y->s, x->len) == 0;
}

static int span_cmp(const void *a, const void *b)
{
    const text_span *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    if (c)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

size_t text_common_words(text_span *x, size_t nx, text_span *y, size_t ny)
{
    size_t common = 0;
    if (nx * ny <= 256 && ny <= 64) {
        bool used[64] = {false};
        for (size_t i = 0; i < nx; i++)
            for (size_t j = 0; j < ny; j++)
                if (!used[j] && span_eq(&x[i], &y[j])) {
                    used[j] = true;
                    common++;
                    break;
                }
        return common;
    }
    qsort(x, nx, sizeof *x, span_cmp);
    qsort(y, ny, sizeof *y, span_cmp);
    size_t i = 0, j = 0;
    while (i < nx && j < ny) {
        int c = span_cmp(&x[i], &y[j]);
        if (c == 0) {
            common++;
            i++;
            j++;
        } else if (c < 0) {
            i++;
        } else {
            j++;
        }
    }
    return common;
}

double text_similarity(util_arena *a, const char *x, size_t xl, const char *y, size_t yl)
{
    text_span *wx, *wy;
    size_t nx, ny;
    if (text_words(a, x, xl, &wx, &nx) || text_words(a, y, yl, &wy, &ny))
        return -1;
    if (nx < 2 || ny < 2)
        return 0;
    size_t common = text_common_words(wx, nx, wy, ny);
    return (double)common / (double)(nx + ny);
}

bool text_similar(util_arena *a, const char *x, size_t xl, const char *y, size_t yl,
                  double threshold)
{
    bool identical = xl == yl && memcmp(x, y, xl) == 0;
    /* Identical strings: equal with < 2 words, else similarity is exactly 0.5. */
    if (identical && threshold <= 0.5)
        return true;
    if (text_count_words(x, xl) < 2 || text_count_words(y, yl) < 2)
        return identical;
    double sim = text_similarity(a, x, xl, y, yl);
    if (sim < 0)
        return false;
    return !(sim < threshold);
}
