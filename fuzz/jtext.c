/* Fuzz target: the JSON text scanner (src/jtext.h), differentially against
 * jansson, whose decoder it claims to match.
 *
 * Every input is tried twice: without flags against json_loadb(JSON_ALLOW_NUL
 * | JSON_DECODE_ANY), and with JTEXT_BIG_INTS against the same plus
 * JSON_DECODE_INT_AS_REAL. Checks:
 * - jtext_valid agrees with jansson on acceptance; a failure says "invalid
 *   JSON at column N: …" with N within the text. The one documented
 *   exception: a raw NUL byte, which jansson takes for the end of the text
 *   in places, is always an error for jtext.
 * - jtext_build gives a value exactly when jtext_valid accepts, equal to
 *   jansson's: same types, same bits of every real, same bytes of every
 *   string, same key order (with JTEXT_BIG_INTS an integer that fits int64
 *   stays an integer, and must equal jansson's real).
 * - jtext_object accepts exactly the valid objects (else -1 with a reason,
 *   "not a JSON object (it is …)" for another valid value), reports every
 *   member in text order with a value span inside the text that builds to
 *   a valid value; the last of each key equals jansson's member, and the
 *   first occurrences are jansson's keys in jansson's order. A callback's
 *   positive value stops the scan after exactly that member.
 * - jtext_pick of the first and last keys and an absent one gives exactly
 *   jansson's members of those names.
 * - block scanning and the one-loop walk of containers agree with the
 *   reference byte loop and recursion (JTEXT_SCALAR), with those flags, with
 *   JTEXT_PY | JTEXT_SURROGATES and with JTEXT_PY | JTEXT_LINE: same verdict,
 *   same reason and column, same built value; on valid text
 *   jtext_build_valid and jtext_pick_valid give what jtext_build and
 *   jtext_pick give. */
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "fuzzutil.h"
#include "jtext.h"

/* Whether t (jtext's value) is the same as j (jansson's). With big, jtext
 * integers are compared by value with jansson's reals. */
static bool same(const json_t *t, const json_t *j, bool big)
{
    if (big && json_is_integer(t) && json_is_real(j))
        return (double)json_integer_value(t) == json_real_value(j);
    if (json_typeof(t) != json_typeof(j))
        return false;
    switch (json_typeof(t)) {
    case JSON_INTEGER:
        return json_integer_value(t) == json_integer_value(j);
    case JSON_REAL: {
        double a = json_real_value(t), b = json_real_value(j);
        return memcmp(&a, &b, sizeof a) == 0;
    }
    case JSON_STRING:
        return json_string_length(t) == json_string_length(j) &&
               memcmp(json_string_value(t), json_string_value(j), json_string_length(t)) == 0;
    case JSON_ARRAY:
        if (json_array_size(t) != json_array_size(j))
            return false;
        for (size_t i = 0; i < json_array_size(t); i++)
            if (!same(json_array_get(t, i), json_array_get(j, i), big))
                return false;
        return true;
    case JSON_OBJECT: {
        if (json_object_size(t) != json_object_size(j))
            return false;
        void *it = json_object_iter((json_t *)t), *jt = json_object_iter((json_t *)j);
        for (; it && jt; it = json_object_iter_next((json_t *)t, it),
                         jt = json_object_iter_next((json_t *)j, jt)) {
            size_t n = json_object_iter_key_len(it);
            if (n != json_object_iter_key_len(jt) ||
                memcmp(json_object_iter_key(it), json_object_iter_key(jt), n) != 0 ||
                !same(json_object_iter_value(it), json_object_iter_value(jt), big))
                return false;
        }
        return !it && !jt;
    }
    default:
        return true;   /* true, false, null */
    }
}

static const char *type_name(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_ARRAY: return "a list";
    case JSON_STRING: return "a string";
    case JSON_TRUE: case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    default: return "a number";
    }
}

/* A failure's reason names a column within the text. */
static void check_reason(const char *err, size_t size)
{
    size_t col = 0;
    int n = 0;
    FUZZ_CHECK(sscanf(err, "invalid JSON at column %zu: %n", &col, &n) == 1 && n > 0,
               "reason '%s'", err);
    FUZZ_CHECK(col >= 1 && col <= size + 1, "column %zu of a %zu-byte text", col, size);
    FUZZ_CHECK(err[n] != '\0' && err[n] != '?', "no reason after the column: '%s'", err);
}

/* ---- jtext_object ---------------------------------------------------------- */

typedef struct member {
    char *key;
    size_t key_len;
    size_t v, end;   /* value span, offsets in the text */
} member;

typedef struct scan {
    const char *text;
    size_t size;
    member *m;
    size_t n, cap;
    size_t stop_after;   /* return 7 after this many members (0: never) */
} scan;

static int on_member(void *ctx, const jtext_member *m)
{
    scan *s = ctx;
    const char *lo = s->text, *hi = s->text + s->size;
    FUZZ_CHECK(m->v >= lo && m->v < m->end && m->end <= hi, "member span outside the text");
    FUZZ_CHECK(memchr(m->key, '\0', m->key_len) == NULL, "key with a NUL");
    if (!memchr(m->key, '\0', m->key_len)) {
        char *k = strndup(m->key, m->key_len);
        FUZZ_CHECK(k && jtext_member_is(m, k), "jtext_member_is misses its own key");
        free(k);
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 8;
        s->m = realloc(s->m, s->cap * sizeof *s->m);
        FUZZ_CHECK(s->m, "out of memory");
    }
    member *e = &s->m[s->n++];
    e->key = malloc(m->key_len + 1);
    FUZZ_CHECK(e->key, "out of memory");
    memcpy(e->key, m->key, m->key_len);
    e->key[m->key_len] = '\0';
    e->key_len = m->key_len;
    e->v = (size_t)(m->v - lo);
    e->end = (size_t)(m->end - lo);
    return s->stop_after && s->n == s->stop_after ? 7 : 0;
}

static void scan_free(scan *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->m[i].key);
    free(s->m);
}

/* The members jtext_object reported are jansson's object j. */
static void check_members(const scan *s, const json_t *j, unsigned flags)
{
    bool big = flags & JTEXT_BIG_INTS;
    size_t distinct = 0;
    void *it = json_object_iter((json_t *)j);
    for (size_t i = 0; i < s->n; i++) {
        const member *m = &s->m[i];
        const char *v = s->text + m->v;
        size_t vlen = m->end - m->v;
        FUZZ_CHECK(v[0] != ' ' && v[0] != '\n' && v[0] != '\r' && v[0] != '\t' &&
                   v[vlen - 1] != ' ' && v[vlen - 1] != '\n' && v[vlen - 1] != '\r' &&
                   v[vlen - 1] != '\t', "member %zu's span has white space around it", i);
        json_t *b = jtext_build(v, vlen, flags);
        FUZZ_CHECK(b, "member %zu's span does not build", i);
        bool first = true, last = true;
        for (size_t k = 0; k < s->n; k++)
            if (k != i && s->m[k].key_len == m->key_len &&
                memcmp(s->m[k].key, m->key, m->key_len) == 0) {
                if (k < i) first = false;
                if (k > i) last = false;
            }
        json_t *jv = json_object_getn(j, m->key, m->key_len);
        FUZZ_CHECK(jv, "member %zu ('%s') missing in jansson's object", i, m->key);
        if (last)
            FUZZ_CHECK(same(b, jv, big), "member %zu ('%s') differs from jansson's", i, m->key);
        json_decref(b);
        if (first) {
            distinct++;
            FUZZ_CHECK(it && json_object_iter_key_len(it) == m->key_len &&
                       memcmp(json_object_iter_key(it), m->key, m->key_len) == 0,
                       "key '%s' out of jansson's order", m->key);
            it = json_object_iter_next((json_t *)j, it);
        }
    }
    FUZZ_CHECK(distinct == json_object_size(j), "%zu distinct keys, jansson has %zu", distinct,
               json_object_size(j));
}

static void check_object(const char *text, size_t size, unsigned flags, bool ok, const json_t *j)
{
    char err[256] = "";
    scan s = {.text = text, .size = size};
    int rc = jtext_object(text, size, flags, on_member, &s, err, sizeof err);
    if (ok && json_is_object(j)) {
        FUZZ_CHECK(rc == 0, "jtext_object refuses a valid object: %s", err);
        check_members(&s, j, flags);
    } else {
        FUZZ_CHECK(rc == -1 && err[0], "jtext_object gives %d on a non-object", rc);
        if (ok) {
            char want[64];
            snprintf(want, sizeof want, "not a JSON object (it is %s)", type_name(j));
            FUZZ_CHECK(strcmp(err, want) == 0, "'%s' instead of '%s'", err, want);
        } else {
            check_reason(err, size);
        }
    }
    size_t total = s.n;
    scan_free(&s);

    /* stopping: the callback's value ends the scan after that member */
    scan t = {.text = text, .size = size, .stop_after = size % 4 + 1};
    rc = jtext_object(text, size, flags, on_member, &t, NULL, 0);
    if (t.n == t.stop_after)
        FUZZ_CHECK(rc == 7, "stopped scan gives %d", rc);
    else
        FUZZ_CHECK(t.n < t.stop_after && rc <= 0, "%zu members past the stop", t.n);
    if (ok && json_is_object(j))
        FUZZ_CHECK(t.n == (total < t.stop_after ? total : t.stop_after),
                   "%zu members before the stop, %zu in all", t.n, total);
    scan_free(&t);
}

/* ---- jtext_pick -------------------------------------------------------------- */

static void check_pick(const char *text, size_t size, unsigned flags, bool ok, const json_t *j)
{
    const char *keys[3];
    size_t nkeys = 0;
    keys[nkeys++] = "\x01 absent";
    if (json_is_object(j) && json_object_size(j)) {
        void *it = json_object_iter((json_t *)j), *last = it;
        keys[nkeys++] = json_object_iter_key(it);
        for (; it; it = json_object_iter_next((json_t *)j, it))
            last = it;
        keys[nkeys++] = json_object_iter_key(last);
    }
    json_t *p = jtext_pick(text, size, flags, keys, nkeys);
    if (!ok || !json_is_object(j)) {
        FUZZ_CHECK(!p, "jtext_pick gives a value for a non-object");
        return;
    }
    FUZZ_CHECK(p, "jtext_pick fails on a valid object");
    size_t want = 0;
    for (size_t k = 0; k < nkeys; k++) {
        json_t *jv = json_object_get(j, keys[k]);
        json_t *pv = json_object_get(p, keys[k]);
        FUZZ_CHECK(!jv == !pv, "pick of '%s': %s in jansson's, %s in the pick", keys[k],
                   jv ? "present" : "absent", pv ? "present" : "absent");
        if (jv) {
            FUZZ_CHECK(same(pv, jv, flags & JTEXT_BIG_INTS), "pick of '%s' differs", keys[k]);
            bool repeated = false;
            for (size_t i = 0; i < k; i++)
                repeated |= strcmp(keys[i], keys[k]) == 0;
            want += !repeated;
        }
    }
    FUZZ_CHECK(json_object_size(p) == want, "pick has %zu members, want %zu",
               json_object_size(p), want);
    json_decref(p);
}

/* ---- block scanning against the byte loop -------------------------------------- */

static void check_scalar(const char *text, size_t size, unsigned flags)
{
    char err[256] = "", ref_err[256] = "";
    bool ok = jtext_valid(text, size, flags, err, sizeof err);
    bool ref = jtext_valid(text, size, flags | JTEXT_SCALAR, ref_err, sizeof ref_err);
    FUZZ_CHECK(ok == ref && strcmp(err, ref_err) == 0, "flags %u: blocks '%s', byte loop '%s'",
               flags, ok ? "ok" : err, ref ? "ok" : ref_err);
    if (!ok)
        return;
    json_t *b = jtext_build(text, size, flags), *r = jtext_build(text, size, flags | JTEXT_SCALAR);
    json_t *v = jtext_build_valid(text, size, flags);
    FUZZ_CHECK(b && r && v && json_equal(b, r) && json_equal(b, v),
               "flags %u: built values differ", flags);
    json_decref(r);
    json_decref(v);
    if (json_is_object(b) && json_object_size(b)) {
        const char *keys[2] = {json_object_iter_key(json_object_iter(b)), "\x01 absent"};
        json_t *p = jtext_pick(text, size, flags, keys, 2), *q = jtext_pick_valid(text, size, flags, keys, 2);
        /* both NULL when the key is not UTF-8 (a lone surrogate): jansson refuses it */
        FUZZ_CHECK((!p && !q) || (p && q && json_equal(p, q)), "flags %u: jtext_pick_valid differs",
                   flags);
        json_decref(p);
        json_decref(q);
    }
    json_decref(b);
}

/* ---- one input, one flag set ---------------------------------------------------- */

static void run(const char *text, size_t size, unsigned flags)
{
    size_t jflags = JSON_ALLOW_NUL | JSON_DECODE_ANY;
    if (flags & JTEXT_BIG_INTS)
        jflags |= JSON_DECODE_INT_AS_REAL;
    json_error_t jerr;
    json_t *j = json_loadb(text, size, jflags, &jerr);
    char err[256] = "";
    bool ok = jtext_valid(text, size, flags, err, sizeof err);
    FUZZ_CHECK(jtext_valid(text, size, flags, NULL, 0) == ok, "verdict depends on err");
    if (memchr(text, '\0', size))
        FUZZ_CHECK(!ok, "jtext accepts a raw NUL byte");
    else
        FUZZ_CHECK(ok == (j != NULL), "flags %u: jtext %s, jansson %s", flags,
                   ok ? "accepts" : err, j ? "accepts" : jerr.text);
    if (!ok)
        check_reason(err, size);

    json_t *b = jtext_build(text, size, flags);
    FUZZ_CHECK(!b == !ok, "jtext_build %s where jtext_valid %s", b ? "builds" : "fails",
               ok ? "accepts" : "refuses");
    if (b)
        FUZZ_CHECK(same(b, j, flags & JTEXT_BIG_INTS), "flags %u: built value differs", flags);
    json_decref(b);

    check_object(text, size, flags, ok, j);
    check_pick(text, size, flags, ok, j);
    check_scalar(text, size, flags);
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run((const char *)data, size, 0);
    run((const char *)data, size, JTEXT_BIG_INTS);
    check_scalar((const char *)data, size, JTEXT_PY | JTEXT_SURROGATES);
    check_scalar((const char *)data, size, JTEXT_PY | JTEXT_LINE);
    return 0;
}
