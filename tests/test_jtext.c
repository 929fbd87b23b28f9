/* Tests of jtext.h: validation as strict as jansson (with and without
 * JTEXT_BIG_INTS), object member spans, building and picking values. The
 * loader-equivalence tests on dataset rows are in test_ds.c (ds_rules). */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "jtext.h"
#include "testutil.h"

/* ---- validation agrees with jansson ---------------------------------------- */

/* jansson's answer for the text as one object, with JSON_DECODE_INT_AS_REAL
 * when big_ints. */
static int jansson_accepts_object(const char *s, size_t n, bool big_ints)
{
    size_t flags = JSON_ALLOW_NUL | (big_ints ? JSON_DECODE_INT_AS_REAL : 0);
    json_t *j = json_loadb(s, n, flags, NULL);
    int ok = j && json_is_object(j);
    json_decref(j);
    return ok;
}

static void assert_scan_agrees(const char *s, size_t n)
{
    char err[128];
    for (int big = 0; big < 2; big++) {
        unsigned flags = big ? JTEXT_BIG_INTS : 0;
        int got = jtext_object(s, n, flags, NULL, NULL, err, sizeof err) == 0;
        cr_assert_eq(got, jansson_accepts_object(s, n, big), "scanner (big ints %d) says %d for: %.*s",
                     big, got, (int)n, s);
    }
}

Test(jtext, scanner_agrees_with_jansson)
{
    const char *docs[] = {
        "{}", " {\"a\": 1} ", "{\"a\":[1,2,{\"b\":null}],\"c\":\"x\"}", "{\"a\": -0.5e-3}",
        "{\"a\": 1e400}", "{\"a\": -1e400}", "{\"a\": 1.7976931348623157e308}",
        "{\"a\": 1.7976931348623159e308}", "{\"a\": 123456789012345678901234567890}",
        "{\"a\": 9223372036854775807}", "{\"a\": -9223372036854775809}",
        "{\"a\": \"\\ud83d\\ude00\"}", "{\"a\": \"\\ud800\"}", "{\"a\": \"\\udc00\"}",
        "{\"a\": \"\\ud800\\u0041\"}", "{\"a\": \"\\u0000\"}", "{\"\\u0000\": 1}", "{\"a\": \"\xC3\xA9\"}",
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
    /* a 400-digit integer overflows a double even with big ints */
    char huge[420] = "{\"a\": ";
    memset(huge + 6, '9', 400);
    strcpy(huge + 406, "}");
    assert_scan_agrees(huge, strlen(huge));
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

/* jansson counts every value's depth, scalars included: 2047 arrays holding
 * a 1 inside the object are one level too many, empty ones are not. */
Test(jtext, depth_limit_like_jansson)
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
    cr_assert_eq(jtext_object(deep, strlen(deep), 0, NULL, NULL, NULL, 0), -1);
    cr_assert_not(jtext_valid(deep, strlen(deep), 0, NULL, 0));
    free(deep);
}

Test(jtext, big_ints_only_with_the_flag)
{
    const char *big = "[18446744073709551616, -1]";
    char err[128];
    cr_assert_not(jtext_valid(big, strlen(big), 0, err, sizeof err));
    cr_assert(strstr(err, "integer too big"), "%s", err);
    cr_assert(jtext_valid(big, strlen(big), JTEXT_BIG_INTS, err, sizeof err), "%s", err);
    cr_assert_null(jtext_build(big, strlen(big), 0));
    json_t *v = jtext_build(big, strlen(big), JTEXT_BIG_INTS);
    cr_assert(json_is_real(json_array_get(v, 0)));
    cr_assert_float_eq(json_real_value(json_array_get(v, 0)), 18446744073709551616.0, 1.0);
    cr_assert_eq(json_integer_value(json_array_get(v, 1)), -1, "in-range integers stay integers");
    json_decref(v);
}

static int first_key(void *ctx, const jtext_member *m)
{
    util_buf *b = ctx;
    return util_buf_append(b, m->key, m->key_len) ? -1 : 1;
}

Test(jtext, lone_surrogates_only_with_the_flag)
{
    const char *docs[] = {"[\"\\ud800\"]", "[\"\\udc00x\"]", "[\"\\ud800\\u0041\"]",
                          "{\"\\udbff\": 1}"};
    char err[128];
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        cr_assert_not(jtext_valid(docs[i], strlen(docs[i]), 0, err, sizeof err), "%s", docs[i]);
        cr_assert(strstr(err, "surrogate"), "%s", err);
        cr_assert(jtext_valid(docs[i], strlen(docs[i]), JTEXT_SURROGATES, err, sizeof err), "%s", err);
    }
    /* still strict about everything else, and pairs still combine */
    cr_assert_not(jtext_valid("[\"\\ud80\"]", 9, JTEXT_SURROGATES, NULL, 0));
    cr_assert_not(jtext_valid("[\"\xed\xa0\x80\"]", 7, JTEXT_SURROGATES, NULL, 0));
    /* decoded form: WTF-8 (a key shows it) */
    util_buf k = UTIL_BUF_INIT;
    const char *obj = "{\"a\\ud800b\\ud83d\\ude00\": 1}";
    cr_assert_eq(jtext_object(obj, strlen(obj), JTEXT_SURROGATES, first_key, &k, err, sizeof err), 1);
    cr_assert_eq(k.len, 9);
    cr_assert(!memcmp(k.data, "a\xed\xa0\x80" "b\xf0\x9f\x98\x80", 9));
    util_buf_free(&k);
}

/* ---- object members -------------------------------------------------------- */

typedef struct seen { size_t n; char keys[8][32]; char values[8][64]; } seen;

static int collect(void *ctx, const jtext_member *m)
{
    seen *s = ctx;
    if (s->n == 8)
        return 7;
    snprintf(s->keys[s->n], 32, "%.*s", (int)m->key_len, m->key);
    snprintf(s->values[s->n], 64, "%.*s", (int)(m->end - m->v), m->v);
    s->n++;
    return 0;
}

/* Scans an exact-size copy of text, so that ASan catches any read past it. */
static int scan_copy(const char *text, size_t len, seen *s, char *err, size_t errsz)
{
    char *copy = malloc(len ? len : 1);
    memcpy(copy, text, len);
    int rc = jtext_object(copy, len, 0, collect, s, err, errsz);
    /* spans point into the copy: collect() has copied them already */
    free(copy);
    return rc;
}

Test(jtext, reports_top_level_members)
{
    const char *doc = " { \"a\" : [1, {\"x\": \"}\"}] ,\"b\\u0062\":\"s\\\"t\", \"c\":null } ";
    seen s = {0};
    cr_assert_eq(jtext_object(doc, strlen(doc), 0, collect, &s, NULL, 0), 0);
    cr_assert_eq(s.n, 3);
    cr_assert_str_eq(s.keys[0], "a");
    cr_assert_str_eq(s.values[0], "[1, {\"x\": \"}\"}]");
    cr_assert_str_eq(s.keys[1], "bb", "keys are decoded");
    cr_assert_str_eq(s.values[1], "\"s\\\"t\"");
    cr_assert_str_eq(s.values[2], "null");
    /* Nested keys are not top-level members; literals and numbers are spans. */
    const char *j = "{\"a\":{\"b\":[1,{\"c\":\"}\"}],\"x\":\"]\\\"\"},\"b\" : 2 , \"c\":[[],{}],\"d\":\"s\\\\\",\"e\":-1.5e3}";
    seen t = {0};
    cr_assert_eq(jtext_object(j, strlen(j), 0, collect, &t, NULL, 0), 0);
    cr_assert_eq(t.n, 5);
    cr_assert_str_eq(t.values[0], "{\"b\":[1,{\"c\":\"}\"}],\"x\":\"]\\\"\"}");
    cr_assert_str_eq(t.values[1], "2");
    cr_assert_str_eq(t.values[2], "[[],{}]");
    cr_assert_str_eq(t.values[3], "\"s\\\\\"");
    cr_assert_str_eq(t.values[4], "-1.5e3");
    /* Duplicates are all reported, in order (the caller keeps the last). */
    seen d = {0};
    cr_assert_eq(jtext_object("{\"k\":1,\"k\":[2]}", 15, 0, collect, &d, NULL, 0), 0);
    cr_assert_eq(d.n, 2);
    cr_assert_str_eq(d.values[1], "[2]");
    /* The callback's positive value stops the scan and is returned. */
    const char *many = "{\"1\":1,\"2\":2,\"3\":3,\"4\":4,\"5\":5,\"6\":6,\"7\":7,\"8\":8,\"9\":9}";
    seen m = {0};
    cr_assert_eq(jtext_object(many, strlen(many), 0, collect, &m, NULL, 0), 7);
}

Test(jtext, object_errors_and_broken_text)
{
    char err[128];
    cr_assert_eq(jtext_object("{\"a\" 1}", 7, 0, NULL, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "column 6: expected ':'"), "%s", err);
    cr_assert_eq(jtext_object(" [1]", 4, 0, NULL, NULL, err, sizeof err), -1);
    cr_assert_str_eq(err, "not a JSON object (it is a list)");
    cr_assert_eq(jtext_object("[1", 2, 0, NULL, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "invalid JSON"), "a syntax error comes first: %s", err);
    const char *broken[] = {"{", "{\"", "{\"k", "{\"k\"", "{\"k\":", "{\"k\":\"", "{\"k\":\"\\",
                            "{\"k\":[", "{\"k\":[\"", "{\"k\":{\"a\":[1,", "{\"k\":1,", "{\"k\":tru",
                            "{\"k\"::::", "{,,,\"k\":1", "{\"k\":[1,2", "{\"k\":\"\\u12"};
    for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
        seen s = {0};
        cr_assert_eq(scan_copy(broken[i], strlen(broken[i]), &s, err, sizeof err), -1, "%s", broken[i]);
        cr_assert(strstr(err, "invalid JSON"), "%s", err);
    }
}

/* ---- building and picking ---------------------------------------------------- */

Test(jtext, build_keeps_nul_characters)
{
    const char *j = "{\"a\":\"\\u0000\"}";
    json_t *v = jtext_build(j, strlen(j), 0);
    cr_assert(json_is_object(v));
    cr_assert_eq(json_string_length(json_object_get(v, "a")), 1);
    json_decref(v);
}

/* Regression: building a picked member that contains containers used to
 * leave the nesting count wrong, so a later nested member failed to skip. */
Test(jtext, pick_after_nested_members)
{
    static const char *const keys[] = {"response", "expected_action"};
    const char *doc = "{\"response\":{\"output\":[{}]},\"extra\":{\"keep\":[1]}}";
    json_t *got = jtext_pick(doc, strlen(doc), 0, keys, 2);
    cr_assert_not_null(got);
    json_t *want = json_loads("{\"response\":{\"output\":[{}]}}", 0, NULL);
    cr_assert(json_equal(got, want));
    json_decref(got);
    json_decref(want);
    const char *two = "{\"expected_action\":[[[]]],\"x\":[[{}]],\"response\":{\"a\":[{\"b\":{}}]},\"y\":{\"z\":[]}}";
    got = jtext_pick(two, strlen(two), 0, keys, 2);
    want = json_loads("{\"expected_action\":[[[]]],\"response\":{\"a\":[{\"b\":{}}]}}", 0, NULL);
    cr_assert(json_equal(got, want));
    json_decref(got);
    json_decref(want);
}

Test(jtext, set_member_replaces_in_place_or_appends)
{
    static const struct { const char *in, *key, *val, *out; } C[] = {
        {"{\"a\": 1, \"t\": 0.10, \"b\": [1]}", "t", "0.7", "{\"a\": 1, \"t\": 0.7, \"b\": [1]}"},
        {" {\"t\":1,\"t\":2} \n", "t", "null", "{\"t\":null,\"t\":null}"},
        {"{\"a\": 1e400x}", "t", "1", NULL},
        {"{}", "t", "{\"x\":1}", "{\"t\":{\"x\":1}}"},
        {"{ \"a\":\"\\u0074\" }", "t", "3", "{ \"a\":\"\\u0074\" ,\"t\":3}"},
        {"{\"\\u0074\":5}", "t", "3", "{\"\\u0074\":3}"},
        {"[1]", "t", "3", NULL},
    };
    for (size_t i = 0; i < sizeof C / sizeof C[0]; i++) {
        util_buf b = UTIL_BUF_INIT;
        char err[128] = "";
        int rc = jtext_set_member(C[i].in, strlen(C[i].in), 0, C[i].key, C[i].val,
                                  strlen(C[i].val), &b, err, sizeof err);
        if (!C[i].out) {
            cr_assert_eq(rc, -1, "case %zu", i);
            cr_assert(err[0], "case %zu has a reason", i);
        } else {
            cr_assert_eq(rc, 0, "case %zu: %s", i, err);
            cr_assert_str_eq(b.data, C[i].out, "case %zu", i);
        }
        util_buf_free(&b);
    }
}

/* ---- the Python dialect and spans -------------------------------------------- */

Test(jtext, python_numbers_with_jtext_py)
{
    static const char *const py[] = {"18446744073709551615", "-99999999999999999999999", "NaN",
                                     "Infinity", "-Infinity", "1e400", "[NaN,-Infinity,1e999]",
                                     "{\"a\":Infinity}"};
    for (size_t i = 0; i < sizeof py / sizeof py[0]; i++) {
        cr_assert(jtext_valid(py[i], strlen(py[i]), JTEXT_PY, NULL, 0), "%s", py[i]);
        cr_assert(!jtext_valid(py[i], strlen(py[i]), 0, NULL, 0), "%s without the flag", py[i]);
    }
    static const char *const bad[] = {"nan", "-NaN", "+Infinity", "Inf", "infinity", "NaNa", "-Infinit"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert(!jtext_valid(bad[i], strlen(bad[i]), JTEXT_PY, NULL, 0), "%s", bad[i]);
    /* what a scan met */
    util_buf tmp = {0};
    jtext_scan s;
    const char *t = "[1, 99999999999999999999, 2.5]";
    jtext_scan_init(&s, t, strlen(t), JTEXT_PY, &tmp);
    cr_assert(jtext_value(&s));
    cr_assert_eq(s.seen, JTEXT_SEEN_BIG_INT);
    t = "{\"x\": [1e400]}";
    jtext_scan_init(&s, t, strlen(t), JTEXT_PY, &tmp);
    cr_assert(jtext_value(&s));
    cr_assert_eq(s.seen, JTEXT_SEEN_NONFINITE);
    util_buf_free(&tmp);
    /* placeholders: a big integer that fits a double is that real, the rest null */
    const char *arr = "[18446744073709551615, NaN, -Infinity, 1e400, 7]";
    json_t *v = jtext_build(arr, strlen(arr), JTEXT_PY);
    cr_assert(v);
    cr_assert(json_is_real(json_array_get(v, 0)));
    cr_assert_eq(json_real_value(json_array_get(v, 0)), 18446744073709551615.0);
    for (size_t i = 1; i < 4; i++)
        cr_assert(json_is_null(json_array_get(v, i)), "%zu", i);
    cr_assert_eq(json_integer_value(json_array_get(v, 4)), 7);
    json_decref(v);
}

Test(jtext, lone_surrogates_with_jtext_surrogates)
{
    const char *t = "\"a\\ud800b\\udc00\\ud83d\\ude00\"";
    cr_assert(!jtext_valid(t, strlen(t), JTEXT_PY, NULL, 0));
    cr_assert(jtext_valid(t, strlen(t), JTEXT_SURROGATES, NULL, 0));
    util_buf out = {0};
    cr_assert_eq(jtext_string_value((jtext_span){t, strlen(t)}, JTEXT_SURROGATES, &out), 0);
    /* WTF-8: each lone surrogate alone, the pair combined */
    cr_assert_eq(out.len, 1 + 3 + 1 + 3 + 4);
    cr_assert(!memcmp(out.data, "a\xed\xa0\x80" "b\xed\xb0\x80" "\xf0\x9f\x98\x80", out.len));
    util_buf_free(&out);
    cr_assert_eq(jtext_string_value((jtext_span){"12", 2}, 0, &out), -1);
    util_buf_free(&out);
}

Test(jtext, spans_of_members_and_elements)
{
    const char *t = " { \"a\" : [ 1 , {\"b\": \"x y\"} ,NaN ] , \"c\": 2, \"a\": [ 3 ] } ";
    jtext_span obj = {t, strlen(t)};
    jtext_span a = jtext_get(obj, JTEXT_PY, "a");
    cr_assert(a.p && a.len == 5 && !memcmp(a.p, "[ 3 ]", 5), "the last duplicate: %.*s", (int)a.len, a.p);
    cr_assert_null(jtext_get(obj, JTEXT_PY, "zz").p);
    cr_assert_null(jtext_get(obj, 0, "a").p, "invalid without the flag");
    jtext_span first = {strchr(t, '['), 0};
    first.len = (size_t)(strchr(t, ']') - first.p) + 1;
    jtext_span el[4];
    cr_assert_eq(jtext_elements(first, JTEXT_PY, el, 4), 3);
    cr_assert(el[1].len == 12 && !memcmp(el[1].p, "{\"b\": \"x y\"}", 12), "%.*s", (int)el[1].len, el[1].p);
    cr_assert(el[2].len == 3 && !memcmp(el[2].p, "NaN", 3));
    jtext_span at = jtext_at(first, JTEXT_PY, 1);
    cr_assert(at.p == el[1].p && at.len == el[1].len);
    cr_assert_null(jtext_at(first, JTEXT_PY, 3).p);
    util_buf out = {0};
    cr_assert_eq(jtext_compact(t, strlen(t), &out), 0);
    cr_assert_str_eq(out.data, "{\"a\":[1,{\"b\":\"x y\"},NaN],\"c\":2,\"a\":[3]}");
    util_buf_free(&out);
    cr_assert_eq(jtext_compact("\"a \\\" b\"", 8, &out), 0);
    cr_assert_str_eq(out.data, "\"a \\\" b\"", "spaces and escaped quotes inside strings stay");
    util_buf_free(&out);
}
