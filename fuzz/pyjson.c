/* Fuzz target: the Python-dialect JSON parser (src/pyjson.h).
 *
 * Any bytes must parse or fail cleanly (sanitizers catch the rest). On
 * success the value's invariants are checked (unique keys that pj_object_get
 * finds, big ints really outside int64, depth within the limit). And as an
 * oracle: every text that jansson (strict RFC 8259, DECODE_ANY, ALLOW_NUL)
 * accepts with modest nesting (and no raw NUL byte, where jansson stops
 * reading) is also valid to Python's json.loads, so
 * pj_parse must accept it and produce the same value. */
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>
#include "fuzzutil.h"
#include "pyjson.h"

static size_t check_value(const pj_value *v, size_t depth)
{
    FUZZ_CHECK(depth <= PJ_MAX_DEPTH, "depth %zu", depth);
    FUZZ_CHECK(pj_type_name(v) != NULL, "type %d has no name", (int)v->type);
    size_t deepest = depth;
    switch (v->type) {
    case PJ_BIGINT: {
        const char *s = v->u.str.s;
        size_t n = v->u.str.len, i = (n && s[0] == '-');
        FUZZ_CHECK(n > i && n - i <= PJ_MAX_INT_DIGITS, "bigint of %zu chars", n);
        for (size_t k = i; k < n; k++)
            FUZZ_CHECK(s[k] >= '0' && s[k] <= '9', "bigint text '%.*s'", (int)n, s);
        FUZZ_CHECK(n - i >= 19, "bigint '%.*s' fits int64", (int)n, s);
        break;
    }
    case PJ_ARRAY:
        FUZZ_CHECK(v->u.arr.n == 0 || v->u.arr.items, "array without items");
        for (size_t i = 0; i < v->u.arr.n; i++) {
            size_t d = check_value(&v->u.arr.items[i], depth + 1);
            if (d > deepest) deepest = d;
        }
        break;
    case PJ_OBJECT:
        FUZZ_CHECK(v->u.obj.n == 0 || v->u.obj.items, "object without items");
        for (size_t i = 0; i < v->u.obj.n; i++) {
            const pj_member *m = &v->u.obj.items[i];
            const pj_value *got = pj_object_get(v, m->key, m->klen);
            FUZZ_CHECK(got == &m->value, "pj_object_get misses key %zu", i);
            size_t d = check_value(&m->value, depth + 1);
            if (d > deepest) deepest = d;
        }
        break;
    default:
        break;
    }
    return deepest;
}

static size_t json_depth(const json_t *j)
{
    size_t deepest = 0;
    if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++) {
            size_t d = json_depth(json_array_get(j, i));
            if (d > deepest) deepest = d;
        }
        return deepest + 1;
    }
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v) {
            size_t d = json_depth(v);
            if (d > deepest) deepest = d;
        }
        return deepest + 1;
    }
    return 0;
}

/* The pyjson value p equals the jansson value j (Python's view of both). */
static void check_same(const pj_value *p, const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_NULL:
        FUZZ_CHECK(p->type == PJ_NULL, "null became %s", pj_type_name(p));
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        FUZZ_CHECK(p->type == PJ_BOOL && p->u.b == json_is_true(j), "bool differs");
        break;
    case JSON_INTEGER:
        FUZZ_CHECK(p->type == PJ_INT && p->u.i == json_integer_value(j),
                   "int %lld became %s", (long long)json_integer_value(j), pj_type_name(p));
        break;
    case JSON_REAL: {
        double want = json_real_value(j);
        FUZZ_CHECK(p->type == PJ_FLOAT, "float became %s", pj_type_name(p));
        FUZZ_CHECK(memcmp(&p->u.f, &want, sizeof want) == 0, "float %.17g != %.17g", p->u.f,
                   want);
        break;
    }
    case JSON_STRING:
        FUZZ_CHECK(p->type == PJ_STRING && p->u.str.len == json_string_length(j) &&
                   memcmp(p->u.str.s, json_string_value(j), p->u.str.len) == 0,
                   "string differs");
        break;
    case JSON_ARRAY:
        FUZZ_CHECK(p->type == PJ_ARRAY && p->u.arr.n == json_array_size(j), "array differs");
        for (size_t i = 0; i < p->u.arr.n; i++)
            check_same(&p->u.arr.items[i], json_array_get(j, i));
        break;
    case JSON_OBJECT:
        FUZZ_CHECK(p->type == PJ_OBJECT && p->u.obj.n == json_object_size(j),
                   "object differs (%zu vs %zu keys)", p->type == PJ_OBJECT ? p->u.obj.n : 0,
                   json_object_size(j));
        for (size_t i = 0; i < p->u.obj.n; i++) {
            const pj_member *m = &p->u.obj.items[i];
            json_t *jv = json_object_getn(j, m->key, m->klen);
            FUZZ_CHECK(jv, "key %zu missing in jansson's object", i);
            check_same(&m->value, jv);
        }
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    char first[4096];
    util_arena a;
    util_arena_init(&a, first, sizeof first);
    pj_value v;
    char err[256] = "";
    int rc = pj_parse(&a, text, size, &v, err, sizeof err);
    if (rc == 0)
        check_value(&v, 0);
    else
        FUZZ_CHECK(rc == -1 && err[0] && memchr(err, '\0', sizeof err),
                   "failure without a reason (rc %d)", rc);

    json_error_t jerr;
    json_t *j = json_loadb(text, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    /* jansson stops at a raw NUL byte as if the input ended there. */
    if (j && !memchr(text, '\0', size) && json_depth(j) < 500) {
        FUZZ_CHECK(rc == 0, "jansson accepts but pj_parse says: %s", err);
        check_same(&v, j);
    }
    json_decref(j);
    util_arena_free(&a);
    return 0;
}
