/* Tests of util.h: arena, buffer, JSON string escaping, float repr and the
 * validating JSON object scanner (which must accept exactly what jansson
 * accepts with JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL). */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "testutil.h"
#include "util.h"

Test(util, arena_alignment_and_growth)
{
    char first[100];
    util_arena a;
    util_arena_init(&a, first, sizeof first);
    for (size_t i = 1; i < 3000; i += 7) {
        char *p = util_arena_alloc(&a, i);
        cr_assert(p);
        cr_assert_eq((uintptr_t)p % 16, 0);
        memset(p, 0xAB, i);
    }
    void *big = util_arena_alloc(&a, 1 << 20);
    cr_assert(big);
    memset(big, 1, 1 << 20);
    util_arena_free(&a);
}

Test(util, buffer_and_json_strings)
{
    util_buf b = UTIL_BUF_INIT;
    cr_assert_eq(util_buf_json_string(&b, "a\"b\\c\n\x01\x7f\xC3\xA9\0z", 12), 0);
    cr_assert_eq(b.len, strlen("\"a\\\"b\\\\c\\n\\u0001\x7f\xC3\xA9\\u0000z\""));
    cr_assert(!memcmp(b.data, "\"a\\\"b\\\\c\\n\\u0001\x7f\xC3\xA9\\u0000z\"", b.len));
    b.len = 0;
    for (int i = 0; i < 1000; i++)
        util_buf_printf(&b, "%d,", i);
    cr_assert(strstr(b.data, "998,999,"));
    cr_assert_eq(b.data[b.len], '\0');
    util_buf_free(&b);
}

Test(util, float_repr_matches_python)
{
    const struct { double v; const char *s; } cases[] = {
        {1.0, "1.0"}, {0.1, "0.1"}, {-2.5, "-2.5"}, {1e22, "1e+22"}, {1e-5, "1e-05"},
        {123.456, "123.456"}, {0.30000000000000004, "0.30000000000000004"},
        {5e-324, "5e-324"}, {1.7976931348623157e308, "1.7976931348623157e+308"},
        {9007199254740993.0, "9007199254740992.0"}, {1e16, "1e+16"}, {1234567890123456.0, "1234567890123456.0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[32];
        util_float_repr(cases[i].v, buf, sizeof buf);
        cr_assert_str_eq(buf, cases[i].s);
    }
}

static int jansson_accepts(const char *s, size_t n)
{
    json_t *j = json_loadb(s, n, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, NULL);
    int ok = j && json_is_object(j);
    json_decref(j);
    return ok;
}

static void assert_scan_agrees(const char *s, size_t n)
{
    char err[128];
    int got = util_json_scan_object(s, n, NULL, NULL, err, sizeof err) == 0;
    cr_assert_eq(got, jansson_accepts(s, n), "scanner says %d for: %.*s", got, (int)n, s);
}

Test(util, scanner_agrees_with_jansson)
{
    const char *docs[] = {
        "{}", " {\"a\": 1} ", "{\"a\":[1,2,{\"b\":null}],\"c\":\"x\"}", "{\"a\": -0.5e-3}",
        "{\"a\": 1e400}", "{\"a\": -1e400}", "{\"a\": 1.7976931348623157e308}",
        "{\"a\": 1.7976931348623159e308}", "{\"a\": 123456789012345678901234567890}",
        "{\"a\": \"\\ud83d\\ude00\"}", "{\"a\": \"\\ud800\"}", "{\"a\": \"\\udc00\"}",
        "{\"a\": \"\\ud800\\u0041\"}", "{\"a\": \"\\u0000\"}", "{\"a\": \"\xC3\xA9\"}",
        "{\"a\": \"\xED\xA0\x80\"}", "{\"a\": \"\xC0\xAF\"}", "{\"a\": \"\xF4\x90\x80\x80\"}",
        "{\"a\": \"\xE0\x80\xAF\"}", "{\"a\": \"\xFF\"}", "{\"a\": \"\xF0\x9F\x98\x80\"}",
        "{\"a\": NaN}", "{\"a\": Infinity}", "{\"a\": 01}", "{\"a\": 1.}", "{\"a\": .5}",
        "{\"a\": +1}", "{\"a\": tru}", "{\"a\": \"\t\"}", "{\"a\": \"\\x\"}", "{\"a\" 1}",
        "{\"a\": 1,}", "{\"a\": [1,]}", "{a: 1}", "[1]", "\"x\"", "{} {}", "{\"a\": 1} x",
        "\xEF\xBB\xBF{}", "{\"a\": 1", "{\"a\": \"x}", "", " ", "{\"a\":\f1}",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++)
        assert_scan_agrees(docs[i], strlen(docs[i]));
    assert_scan_agrees("{\"a\": \"x\0y\"}", 12);   /* raw NUL: control character */
}

static char *nested_doc(size_t depth, const char *open, const char *inner, const char *close)
{
    size_t lo = strlen(open), lc = strlen(close), li = strlen(inner);
    char *s = malloc(depth * (lo + lc) + li + 16), *w = s;
    w += sprintf(w, "{\"a\":");
    for (size_t i = 0; i < depth; i++, w += lo)
        memcpy(w, open, lo);
    memcpy(w, inner, li);
    w += li;
    for (size_t i = 0; i < depth; i++, w += lc)
        memcpy(w, close, lc);
    strcpy(w, "}");
    return s;
}

Test(util, scanner_depth_limit_like_jansson)
{
    for (size_t d = 2044; d <= 2050; d++) {
        char *a = nested_doc(d, "[", "", "]"), *b = nested_doc(d, "[", "1", "]"),
             *c = nested_doc(d, "{\"b\":", "1", "}");
        assert_scan_agrees(a, strlen(a));
        assert_scan_agrees(b, strlen(b));
        assert_scan_agrees(c, strlen(c));
        free(a);
        free(b);
        free(c);
    }
    char *deep = nested_doc(200000, "[", "", "]");
    cr_assert_eq(util_json_scan_object(deep, strlen(deep), NULL, NULL, NULL, 0), -1);
    free(deep);
}

typedef struct seen { size_t n; char keys[8][32]; char values[8][64]; } seen;

static int collect(void *ctx, const char *text, const util_json_member *m)
{
    seen *s = ctx;
    if (s->n == 8)
        return 7;
    snprintf(s->keys[s->n], 32, "%.*s", (int)(m->key_to - m->key_from), text + m->key_from);
    snprintf(s->values[s->n], 64, "%.*s", (int)(m->value_to - m->value_from), text + m->value_from);
    s->n++;
    return 0;
}

Test(util, scanner_reports_members)
{
    const char *doc = " { \"a\" : [1, {\"x\": \"}\"}] ,\"b\\u0062\":\"s\\\"t\", \"c\":null } ";
    seen s = {0};
    cr_assert_eq(util_json_scan_object(doc, strlen(doc), collect, &s, NULL, 0), 0);
    cr_assert_eq(s.n, 3);
    cr_assert_str_eq(s.keys[0], "a");
    cr_assert_str_eq(s.values[0], "[1, {\"x\": \"}\"}]");
    cr_assert_str_eq(s.keys[1], "b\\u0062");
    cr_assert_str_eq(s.values[1], "\"s\\\"t\"");
    cr_assert_str_eq(s.values[2], "null");
    /* The callback's non-zero value stops the scan and is returned. */
    const char *many = "{\"1\":1,\"2\":2,\"3\":3,\"4\":4,\"5\":5,\"6\":6,\"7\":7,\"8\":8,\"9\":9}";
    seen t = {0};
    cr_assert_eq(util_json_scan_object(many, strlen(many), collect, &t, NULL, 0), 7);
    char err[64];
    cr_assert_eq(util_json_scan_object("{\"a\" 1}", 7, NULL, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "':' expected at byte 5"), "%s", err);
}
