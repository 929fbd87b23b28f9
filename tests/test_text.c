/* Tests of text.h: Python's str.strip().lower().split() (full lower-casing,
 * Unicode whitespace, lone surrogates) and the word-count similarity. The
 * expected words are what CPython 3.11 produces. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "testutil.h"
#include "text.h"

/* Words of s joined by '|' into out. */
static void words_of(const char *s, size_t len, char *out, size_t outsz)
{
    util_arena a;
    util_arena_init(&a, NULL, 0);
    text_span *w;
    size_t n;
    cr_assert_eq(text_words(&a, s, len, &w, &n), 0);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        cr_assert(o + w[i].len + 2 < outsz);
        if (i)
            out[o++] = '|';
        memcpy(out + o, w[i].s, w[i].len);
        o += w[i].len;
    }
    out[o] = '\0';
    cr_assert_eq(text_count_words(s, len), n, "count and split disagree on '%s'", s);
    util_arena_free(&a);
}

static void assert_words(const char *s, const char *want)
{
    char got[512];
    words_of(s, strlen(s), got, sizeof got);
    cr_assert_str_eq(got, want, "words of '%s'", s);
}

Test(text, ascii_strip_lower_split)
{
    assert_words("  Hello   WORLD\t", "hello|world");
    assert_words("New\nYork\r\nCity", "new|york|city");
    assert_words("", "");
    assert_words(" \t\n ", "");
    assert_words("a\vb\fc", "a|b|c");
    /* U+001C..U+001F are Python whitespace (not Unicode White_Space). */
    assert_words("a\x1c" "b\x1d" "c\x1e" "d\x1f" "e", "a|b|c|d|e");
    /* Other controls are not. */
    assert_words("a\x1b" "b\x01" "c", "a\x1b" "b\x01" "c");
}

Test(text, unicode_whitespace)
{
    assert_words("a\xC2\xA0" "b", "a|b");              /* U+00A0 */
    assert_words("a\xE3\x80\x80" "b", "a|b");          /* U+3000 */
    assert_words("a\xC2\x85" "b", "a|b");              /* U+0085 */
    assert_words("a\xE1\x9A\x80" "b", "a|b");          /* U+1680 */
    assert_words("a\xE2\x80\x80" "b\xE2\x80\x8A" "c", "a|b|c");  /* U+2000, U+200A */
    assert_words("a\xE2\x80\xA8" "b\xE2\x80\xA9" "c", "a|b|c");  /* U+2028, U+2029 */
    assert_words("a\xE2\x80\xAF" "b\xE2\x81\x9F" "c", "a|b|c");  /* U+202F, U+205F */
    /* Not whitespace for Python: U+200B, U+180E, U+FEFF. */
    assert_words("a\xE2\x80\x8B" "b", "a\xE2\x80\x8B" "b");
    assert_words("a\xE1\xA0\x8E" "b", "a\xE1\xA0\x8E" "b");
    assert_words("a\xEF\xBB\xBF" "b", "a\xEF\xBB\xBF" "b");
}

Test(text, full_lower_casing)
{
    /* İ -> i + combining dot above (full mapping, grows 2 -> 3 bytes). */
    assert_words("\xC4\xB0stanbul", "i\xCC\x87stanbul");
    /* Final sigma: ΟΔΟΣ -> οδος, mid-word sigma stays σ. */
    assert_words("\xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3", "\xCE\xBF\xCE\xB4\xCE\xBF\xCF\x82");
    assert_words("\xCE\xA3\xCE\x91\xCE\xA3 \xCE\xA3",
                 "\xCF\x83\xCE\xB1\xCF\x82|\xCF\x83");
    /* CPython treats U+0027 as case-ignorable around a final sigma. */
    assert_words("m'\xCE\xA3" "4", "m'\xCF\x82" "4");
    assert_words("a\xCE\xA3'w", "a\xCF\x83'w");
    /* ß stays ß under lower(); Ⅻ -> ⅻ; Ａ -> ａ. */
    assert_words("STRASSE \xC3\x9F", "strasse|\xC3\x9F");
    assert_words("\xE2\x85\xAB \xEF\xBC\xA1", "\xE2\x85\xBB|\xEF\xBD\x81");
    /* Deseret (4-byte) upper -> lower. */
    assert_words("\xF0\x90\x90\x80", "\xF0\x90\x90\xA8");
}

Test(text, lone_surrogates_are_plain_characters)
{
    /* "A\ud800B C" in WTF-8: the surrogate is kept, not a space. */
    const char s[] = "A\xED\xA0\x80" "B C";
    char got[64];
    words_of(s, sizeof s - 1, got, sizeof got);
    cr_assert_str_eq(got, "a\xED\xA0\x80" "b|c");
    /* A sigma next to a surrogate: the surrogate is not cased. */
    const char t[] = "A\xCE\xA3\xED\xA0\x80";
    words_of(t, sizeof t - 1, got, sizeof got);
    cr_assert_str_eq(got, "a\xCF\x82\xED\xA0\x80");
    /* Embedded NUL is an ordinary character too. */
    const char u[] = "X\0Y z";
    words_of(u, sizeof u - 1, got, sizeof got);
    cr_assert(memcmp(got, "x\0y|z", 5) == 0);
}

static bool similar(const char *x, const char *y, double threshold)
{
    util_arena a;
    util_arena_init(&a, NULL, 0);
    bool r = text_similar(&a, x, strlen(x), y, strlen(y), threshold);
    util_arena_free(&a);
    return r;
}

static double similarity(const char *x, const char *y)
{
    util_arena a;
    util_arena_init(&a, NULL, 0);
    double r = text_similarity(&a, x, strlen(x), y, strlen(y));
    util_arena_free(&a);
    return r;
}

Test(text, similarity_ratio)
{
    cr_assert_eq(similarity("new york city", "New York"), 2.0 / 5.0);
    /* Multisets: a a b vs a b b share {a, b}. */
    cr_assert_eq(similarity("a a b", "a b b"), 2.0 / 6.0);
    cr_assert_eq(similarity("a a", "a a"), 0.5);
    cr_assert_eq(similarity("x y", "p q"), 0.0);
}

Test(text, fewer_than_two_words_is_exact)
{
    cr_assert(!similar("Paris", "paris", 0.1));
    cr_assert(similar("Paris", "Paris", 0.1));
    cr_assert(similar("Paris", "Paris", 0.9));          /* exact beats threshold */
    cr_assert(!similar("Paris", "Paris ", 0.1));        /* original strings differ */
    cr_assert(!similar("Paris France", "Paris", 0.1));
    cr_assert(similar("", "", 0.1));
    cr_assert(!similar("", " ", 0.1));
}

Test(text, threshold_boundaries)
{
    /* 1 common of 2+3 words = 0.2. */
    cr_assert(similar("a b", "a c d", 0.2));
    cr_assert(!similar("a b", "a c d", 0.2000001));
    /* Identical multi-word strings score 0.5: above 0.5 they fail. */
    cr_assert(similar("a b", "a b", 0.5));
    cr_assert(!similar("a b", "a b", 0.6));
    cr_assert(similar("Hello World", "hello world", 0.5));
    cr_assert(!similar("x y", "p q", 0.1));
    cr_assert(similar("x y", "p q", 0.0));
}

Test(text, long_strings_use_the_sorted_path)
{
    /* 3000 words each, 1000 in common (multiset). */
    size_t cap = 3000 * 12;
    char *x = malloc(cap), *y = malloc(cap);
    size_t nx = 0, ny = 0;
    for (int i = 0; i < 3000; i++) {
        nx += (size_t)snprintf(x + nx, cap - nx, "W%d ", i % 1500);
        ny += (size_t)snprintf(y + ny, cap - ny, "w%d ", i < 1000 ? i : 5000 + i);
    }
    /* x has w0..w1499 twice, y has w0..w999 once: 1000 common. */
    cr_assert_eq(similarity(x, y), 1000.0 / 6000.0);
    cr_assert(similar(x, y, 0.16));
    cr_assert(!similar(x, y, 0.17));
    free(x);
    free(y);
}

Test(text, lower_keeps_invalid_bytes)
{
    util_arena a;
    util_arena_init(&a, NULL, 0);
    const char *o;
    size_t n;
    cr_assert_eq(text_lower(&a, "\xFF" "A\xC3", 3, &o, &n), 0);
    cr_assert_eq(n, 3);
    cr_assert(!memcmp(o, "\xFF" "a\xC3", 3));
    util_arena_free(&a);
}
