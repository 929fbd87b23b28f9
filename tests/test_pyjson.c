/* Tests of the Python-dialect JSON parser (pyjson.h): types by lexeme, big
 * ints, NaN/Infinity, strings and surrogates, duplicate keys, strictness,
 * nesting limits. Expected values are what CPython 3.11's json.loads gives. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pyjson.h"
#include "testutil.h"

typedef struct parsed {
    util_arena arena;
    pj_value v;
    int rc;
    char err[200];
} parsed;

static parsed *parse_n(const char *text, size_t len)
{
    parsed *p = calloc(1, sizeof *p);
    util_arena_init(&p->arena, NULL, 0);
    p->rc = pj_parse(&p->arena, text, len, &p->v, p->err, sizeof p->err);
    return p;
}

static parsed *parse(const char *text)
{
    return parse_n(text, strlen(text));
}

static void done(parsed *p)
{
    util_arena_free(&p->arena);
    free(p);
}

static void assert_fails(const char *text)
{
    parsed *p = parse(text);
    cr_assert_eq(p->rc, -1, "'%s' should not parse", text);
    cr_assert(p->err[0], "no reason for '%s'", text);
    done(p);
}

static pj_value parsed_ok(parsed *p, const char *text)
{
    cr_assert_eq(p->rc, 0, "'%s' failed: %s", text, p->err);
    return p->v;
}

static void assert_int(const char *text, int64_t want)
{
    parsed *p = parse(text);
    pj_value v = parsed_ok(p, text);
    cr_assert_eq(v.type, PJ_INT, "'%s' is %s", text, pj_type_name(&v));
    cr_assert_eq(v.u.i, want);
    done(p);
}

static void assert_bigint(const char *text, const char *digits)
{
    parsed *p = parse(text);
    pj_value v = parsed_ok(p, text);
    cr_assert_eq(v.type, PJ_BIGINT, "'%s' type %d", text, v.type);
    cr_assert_eq(v.u.str.len, strlen(digits));
    cr_assert(!memcmp(v.u.str.s, digits, v.u.str.len));
    done(p);
}

static void assert_float(const char *text, double want)
{
    parsed *p = parse(text);
    pj_value v = parsed_ok(p, text);
    cr_assert_eq(v.type, PJ_FLOAT, "'%s' is %s", text, pj_type_name(&v));
    if (isnan(want))
        cr_assert(isnan(v.u.f));
    else
        cr_assert(memcmp(&v.u.f, &want, sizeof want) == 0, "'%s' = %.17g, want %.17g", text,
                  v.u.f, want);
    done(p);
}

static void assert_string(const char *text, const char *want, size_t wantlen)
{
    parsed *p = parse(text);
    pj_value v = parsed_ok(p, text);
    cr_assert_eq(v.type, PJ_STRING);
    cr_assert_eq(v.u.str.len, wantlen, "'%s' length %zu want %zu", text, v.u.str.len, wantlen);
    cr_assert(!memcmp(v.u.str.s, want, wantlen), "'%s' bytes differ", text);
    done(p);
}

Test(pyjson, literals)
{
    parsed *p = parse(" null ");
    cr_assert_eq(parsed_ok(p, "null").type, PJ_NULL);
    done(p);
    p = parse("true");
    cr_assert(parsed_ok(p, "true").u.b);
    done(p);
    p = parse("false");
    pj_value v = parsed_ok(p, "false");
    cr_assert(v.type == PJ_BOOL && !v.u.b);
    done(p);
    assert_fails("True");
    assert_fails("None");
    assert_fails("nul");
}

Test(pyjson, int_vs_float_by_lexeme)
{
    assert_int("0", 0);
    assert_int("-0", 0);
    assert_int("42", 42);
    assert_float("1e2", 100.0);
    assert_float("1E2", 100.0);
    assert_float("1.0", 1.0);
    assert_float("-0.0", -0.0);
    assert_float("0.1", 0.1);
    assert_float("1.5e-3", 1.5e-3);
    assert_float("2.5E+2", 250.0);
}

Test(pyjson, int64_edges_and_big_ints)
{
    assert_int("9223372036854775807", INT64_MAX);
    assert_int("-9223372036854775808", INT64_MIN);
    assert_bigint("9223372036854775808", "9223372036854775808");
    assert_bigint("-9223372036854775809", "-9223372036854775809");
    assert_bigint("123456789012345678901234567890", "123456789012345678901234567890");
    assert_bigint("-123456789012345678901234567890", "-123456789012345678901234567890");
}

Test(pyjson, int_digit_limit)
{
    char *big = malloc(PJ_MAX_INT_DIGITS + 3);
    big[0] = '-';
    memset(big + 1, '7', PJ_MAX_INT_DIGITS);
    big[PJ_MAX_INT_DIGITS + 1] = '\0';
    parsed *p = parse(big);              /* 4300 digits: accepted */
    cr_assert_eq(parsed_ok(p, "4300 digits").type, PJ_BIGINT);
    done(p);
    big[PJ_MAX_INT_DIGITS + 1] = '7';    /* 4301 digits: ValueError */
    big[PJ_MAX_INT_DIGITS + 2] = '\0';
    assert_fails(big);
    assert_fails(big + 1);
    free(big);
    /* Floats have no digit limit. */
    char *f = malloc(6000);
    memset(f, '1', 5000);
    strcpy(f + 5000, ".5");
    parsed *q = parse(f);
    cr_assert_eq(parsed_ok(q, "long float").type, PJ_FLOAT);
    cr_assert(isinf(q->v.u.f));
    done(q);
    free(f);
}

Test(pyjson, nan_and_infinity)
{
    assert_float("NaN", NAN);
    assert_float("Infinity", INFINITY);
    assert_float("-Infinity", -INFINITY);
    assert_float("1e400", INFINITY);
    assert_float("-1e400", -INFINITY);
    assert_float("1e-400", 0.0);
    assert_fails("-NaN");
    assert_fails("nan");
    assert_fails("infinity");
    assert_fails("+Infinity");
    assert_fails("inf");
}

Test(pyjson, number_grammar)
{
    const char *bad[] = {"+1", ".5", "1.", "01", "-01", "00", "-", "1e", "1e+", "1.e5",
                         "0x10", "1_000", "--1", "1 2", "- 1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_fails(bad[i]);
}

Test(pyjson, floats_round_like_strtod)
{
    const char *lex[] = {"0.1", "0.30000000000000004", "2.2250738585072014e-308",
                         "4.9e-324", "1.7976931348623157e308", "9007199254740993.0",
                         "123456789012345678.5", "1e22", "1e23", "3.14159265358979323846",
                         "12345678901234567890e-5", "0.000001", "-8.5e-7", "7e-10",
                         "9999999999999999999.0", "1234567.0e15", "5e-324", "2.5e-324"};
    for (size_t i = 0; i < sizeof lex / sizeof lex[0]; i++)
        assert_float(lex[i], strtod(lex[i], NULL));
}

Test(pyjson, string_escapes)
{
    assert_string("\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\"", "a\"b\\c/d\be\ff\ng\rh\ti", 17);
    assert_string("\"\\u00e9\"", "\xC3\xA9", 2);
    assert_string("\"\\u20AC\"", "\xE2\x82\xAC", 3);
    assert_string("\"x\\u0000y\"", "x\0y", 3);
    assert_string("\"\"", "", 0);
    assert_string("\"caf\xC3\xA9\"", "caf\xC3\xA9", 5);
    assert_string("\"\x7f\"", "\x7f", 1);
    assert_fails("\"\\x\"");
    assert_fails("\"\\u12\"");
    assert_fails("\"\\u12G4\"");
    assert_fails("\"\\U0041\"");
    assert_fails("\"abc");
    assert_fails("\"abc\\\"");
    assert_fails("'abc'");
}

Test(pyjson, raw_control_characters_refused)
{
    assert_fails("\"a\tb\"");
    assert_fails("\"a\nb\"");
    assert_fails("\"\x01\"");
    parsed *p = parse_n("\"a\0b\"", 5);
    cr_assert_eq(p->rc, -1);
    done(p);
}

Test(pyjson, surrogates)
{
    /* A pair combines into one 4-byte character. */
    assert_string("\"\\ud83d\\ude00\"", "\xF0\x9F\x98\x80", 4);
    assert_string("\"\\uD834\\uDD1E\"", "\xF0\x9D\x84\x9E", 4);
    /* Lone surrogates stay, in WTF-8. */
    assert_string("\"\\ud800\"", "\xED\xA0\x80", 3);
    assert_string("\"\\udc00\"", "\xED\xB0\x80", 3);
    assert_string("\"a\\ud800b\"", "a\xED\xA0\x80" "b", 5);
    assert_string("\"\\ud800\\u0041\"", "\xED\xA0\x80" "A", 4);
    assert_string("\"\\ud800\\ud800\"", "\xED\xA0\x80\xED\xA0\x80", 6);
    assert_string("\"\\udc00\\ud800\"", "\xED\xB0\x80\xED\xA0\x80", 6);
    assert_string("\"\\ud800\\udc00\\udc00\"", "\xF0\x90\x80\x80\xED\xB0\x80", 7);
    assert_fails("\"\\ud800\\u12\"");
}

Test(pyjson, whitespace_and_bom)
{
    assert_int(" \t\r\n7\n ", 7);
    assert_fails("\f7");
    assert_fails("\v7");
    assert_fails("\xC2\xA0" "7");            /* U+00A0 is not JSON whitespace */
    assert_fails("\xEF\xBB\xBF" "7");        /* Unexpected UTF-8 BOM */
    assert_fails(" \xEF\xBB\xBF" "7");
    assert_string("\"\xEF\xBB\xBF\"", "\xEF\xBB\xBF", 3);
    assert_fails("");
    assert_fails("   ");
}

Test(pyjson, extra_data)
{
    assert_fails("{} x");
    assert_fails("1 2");
    assert_fails("[1]]");
    assert_fails("{\"a\":1}}");
    assert_fails("null,");
}

Test(pyjson, containers_are_strict)
{
    assert_fails("[1,]");
    assert_fails("[,1]");
    assert_fails("{\"a\":1,}");
    assert_fails("{a:1}");
    assert_fails("{\"a\" 1}");
    assert_fails("{1:1}");
    assert_fails("[1 2]");
    assert_fails("[");
    assert_fails("{");
    parsed *p = parse(" [ 1 , [ ] , { } , { \"k\" : [ null ] } ] ");
    pj_value v = parsed_ok(p, "containers");
    cr_assert_eq(v.type, PJ_ARRAY);
    cr_assert_eq(v.u.arr.n, 4);
    cr_assert_eq(v.u.arr.items[1].u.arr.n, 0);
    cr_assert_eq(v.u.arr.items[2].type, PJ_OBJECT);
    const pj_value *k = pj_object_get(&v.u.arr.items[3], "k", 1);
    cr_assert(k && k->type == PJ_ARRAY && k->u.arr.items[0].type == PJ_NULL);
    done(p);
}

Test(pyjson, duplicate_keys_first_position_last_value)
{
    parsed *p = parse("{\"a\": 1, \"b\": 2, \"a\": 3, \"c\": 4, \"b\": 5}");
    pj_value v = parsed_ok(p, "dup");
    cr_assert_eq(v.u.obj.n, 3);
    cr_assert(v.u.obj.items[0].klen == 1 && v.u.obj.items[0].key[0] == 'a');
    cr_assert_eq(v.u.obj.items[0].value.u.i, 3);
    cr_assert(v.u.obj.items[1].key[0] == 'b' && v.u.obj.items[1].value.u.i == 5);
    cr_assert(v.u.obj.items[2].key[0] == 'c' && v.u.obj.items[2].value.u.i == 4);
    done(p);
    /* An escaped key is the same key. */
    p = parse("{\"a\": 1, \"\\u0061\": [2]}");
    v = parsed_ok(p, "escaped dup");
    cr_assert_eq(v.u.obj.n, 1);
    cr_assert_eq(v.u.obj.items[0].value.type, PJ_ARRAY);
    done(p);
}

Test(pyjson, duplicate_keys_in_large_objects)
{
    /* 40 keys k0..k39, then k5 and k30 again: the sorted dedupe path. */
    char text[2048];
    size_t n = 0;
    n += (size_t)snprintf(text + n, sizeof text - n, "{");
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "\"k%d\": %d, ", i, i);
    n += (size_t)snprintf(text + n, sizeof text - n, "\"k5\": 500, \"k30\": 3000, \"k5\": 501}");
    parsed *p = parse(text);
    pj_value v = parsed_ok(p, "large dup");
    cr_assert_eq(v.u.obj.n, 40);
    for (int i = 0; i < 40; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        cr_assert(v.u.obj.items[i].klen == strlen(key) &&
                  !memcmp(v.u.obj.items[i].key, key, strlen(key)), "order at %d", i);
        int64_t want = i == 5 ? 501 : i == 30 ? 3000 : i;
        cr_assert_eq(v.u.obj.items[i].value.u.i, want);
    }
    done(p);
}

static char *nested(size_t depth, const char *open, const char *inner, const char *close)
{
    size_t lo = strlen(open), lc = strlen(close), li = strlen(inner);
    char *s = malloc(depth * (lo + lc) + li + 1), *w = s;
    for (size_t i = 0; i < depth; i++, w += lo)
        memcpy(w, open, lo);
    memcpy(w, inner, li);
    w += li;
    for (size_t i = 0; i < depth; i++, w += lc)
        memcpy(w, close, lc);
    *w = '\0';
    return s;
}

Test(pyjson, nesting_limit_is_a_clean_error)
{
    char *ok = nested(PJ_MAX_DEPTH, "[", "1", "]");
    parsed *p = parse(ok);
    cr_assert_eq(p->rc, 0, "%s", p->err);
    done(p);
    free(ok);
    char *deep = nested(PJ_MAX_DEPTH + 1, "[", "", "]");
    assert_fails(deep);
    free(deep);
    char *objs = nested(PJ_MAX_DEPTH + 1, "{\"a\":", "1", "}");
    p = parse(objs);
    cr_assert_eq(p->rc, -1);
    cr_assert(strstr(p->err, "Nesting"), "%s", p->err);
    done(p);
    free(objs);
    /* Far beyond any stack: still a clean error, quickly. */
    char *huge = nested(1000000, "[", "", "");
    assert_fails(huge);
    free(huge);
}

Test(pyjson, type_names)
{
    parsed *p = parse("[{}, [], \"s\", 1, 1.5, true, null, 99999999999999999999]");
    pj_value v = parsed_ok(p, "types");
    const char *names[] = {"dict", "list", "str", "int", "float", "bool", "NoneType", "int"};
    for (size_t i = 0; i < 8; i++)
        cr_assert_str_eq(pj_type_name(&v.u.arr.items[i]), names[i]);
    done(p);
}

Test(pyjson, values_live_in_the_arena_only)
{
    /* Many containers and escaped strings: everything is freed with the
     * arena (the leak checkers of make valgrind / SAN=1 verify it). */
    char text[4096];
    size_t n = 0;
    n += (size_t)snprintf(text + n, sizeof text - n, "[");
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%s{\"k\\u00e9%d\": [\"v\\n%d\"]}",
                              i ? "," : "", i, i);
    snprintf(text + n, sizeof text - n, "]");
    parsed *p = parse(text);
    pj_value v = parsed_ok(p, "many");
    cr_assert_eq(v.u.arr.n, 100);
    const pj_value *e = pj_object_get(&v.u.arr.items[42], "k\xC3\xA9" "42", 5);
    cr_assert(e && e->u.arr.items[0].u.str.len == 4);
    done(p);
}
