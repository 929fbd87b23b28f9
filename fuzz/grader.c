/* Fuzz target: the grader on pairs (and batches) of arbitrary argument texts.
 *
 * Input layout: byte 0 picks the configuration (bit 0 parallel rewarding,
 * bit 1 allow_subset, bit 2 allow_superset, bits 3-4 the reward mode, bit 5 a
 * high similarity threshold, bit 6 a coarse float tolerance); byte 1 the
 * shape (bits 0-1: expected calls - 1; bits 4-5: actual calls, 0 = a chat
 * message). The rest is split on NUL bytes into
 * the argument texts, expected calls first. A text starting with "b:" names
 * the tool "b", otherwise "a".
 *
 * Checks: expected actions build or fail with a reason; grade_judge never
 * crashes, gives a reward in [0, 1] (0 or 1 unless the mode is fractional or
 * f1 with rewarding on) and a category with a text; and a call judged against
 * itself (same name, same text) is a full match unless its value holds a NaN
 * or an infinity (Python: NaN != NaN, and abs(inf - inf) < tol is False). */
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>
#include "fuzzutil.h"
#include "grade.h"
#include "pyjson.h"

#define MAX_CALLS 4

typedef struct part {
    const char *name;
    const char *text;
    size_t len;
} part;

/* Splits data on NULs into at most max parts. */
static size_t split(const uint8_t *data, size_t size, part *parts, size_t max)
{
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= size && n < max; i++) {
        if (i < size && data[i] != 0)
            continue;
        part *p = &parts[n++];
        p->text = (const char *)data + start;
        p->len = i - start;
        p->name = "a";
        if (p->len >= 2 && p->text[0] == 'b' && p->text[1] == ':') {
            p->name = "b";
            p->text += 2;
            p->len -= 2;
        }
        start = i + 1;
    }
    return n;
}

static bool has_nan(const pj_value *v)
{
    switch (v->type) {
    case PJ_FLOAT: return !isfinite(v->u.f);   /* NaN, and inf - inf is NaN */
    case PJ_ARRAY:
        for (size_t i = 0; i < v->u.arr.n; i++)
            if (has_nan(&v->u.arr.items[i])) return true;
        return false;
    case PJ_OBJECT:
        for (size_t i = 0; i < v->u.obj.n; i++)
            if (has_nan(&v->u.obj.items[i].value)) return true;
        return false;
    default: return false;
    }
}

static json_t *call_json(const part *p)
{
    json_t *c = json_object();
    json_object_set_new(c, "type", json_string("function_call"));
    json_object_set_new(c, "name", json_string(p->name));
    json_object_set_new(c, "arguments", json_stringn_nocheck(p->text, p->len));
    return c;
}

static grade_action *actual_batch(const part *parts, size_t n)
{
    /* grade_action_call builds one call; a batch is built the way /verify
     * does, from a response whose output lists the calls. */
    json_t *resp = json_object(), *out = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(out, call_json(&parts[i]));
    json_object_set_new(resp, "output", out);
    char err[256];
    grade_action *a = grade_actual_from_response(resp, err, sizeof err);
    json_decref(resp);
    FUZZ_CHECK(a, "a response of %zu calls did not build: %s", n, err);
    return a;
}

static void check_verdict(const grade_config *cfg, grade_verdict v)
{
    FUZZ_CHECK(v.reward >= 0.0 && v.reward <= 1.0, "reward %g", v.reward);
    FUZZ_CHECK((unsigned)v.category < GRADE_CATEGORY_COUNT &&
               grade_category_text(v.category), "category %d", (int)v.category);
    if (!cfg->parallel_rewarding || cfg->mode == GRADE_MODE_BINARY_STRICT)
        FUZZ_CHECK(v.reward == 0.0 || v.reward == 1.0, "binary reward %g", v.reward);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    grade_config cfg = fuzz_grade_config(data[0]);
    size_t n_exp = (size_t)(data[1] & 3) + 1, n_act = (size_t)(data[1] >> 4) & 3;

    part parts[2 * MAX_CALLS];
    size_t n = split(data + 2, size - 2, parts, n_exp + (n_act ? n_act : 1));
    if (n < n_exp + 1)
        return 0;
    if (n_act > n - n_exp)
        n_act = n - n_exp;

    json_t *ej;
    if (n_exp == 1) {
        ej = call_json(&parts[0]);
    } else {
        ej = json_object();
        json_t *calls = json_array();
        for (size_t i = 0; i < n_exp; i++)
            json_array_append_new(calls, call_json(&parts[i]));
        json_object_set_new(ej, "type", json_string("function_call_batch"));
        json_object_set_new(ej, "calls", calls);
    }
    char err[256] = "";
    grade_action *expected = grade_expected_from_json(ej, err, sizeof err);
    json_decref(ej);
    if (!expected) {
        FUZZ_CHECK(err[0], "expected action refused without a reason");
        return 0;
    }
    FUZZ_CHECK(grade_action_ncalls(expected) == n_exp, "expected has %zu calls, want %zu",
               grade_action_ncalls(expected), n_exp);

    const part *act = &parts[n_exp];
    grade_action *actual;
    if (n_act == 0)
        actual = grade_action_message(act->text, act->len);
    else if (n_act == 1)
        actual = grade_action_call(act->name, act->text, act->len);
    else
        actual = actual_batch(act, n_act);
    FUZZ_CHECK(actual, "actual action did not build");
    check_verdict(&cfg, grade_judge(&cfg, expected, actual));
    grade_action_free(actual);

    /* Oracle: a single expected call matches itself. */
    if (n_exp == 1) {
        grade_action *self = grade_action_call(parts[0].name, parts[0].text, parts[0].len);
        grade_verdict v = grade_judge(&cfg, expected, self);
        check_verdict(&cfg, v);
        char first[4096];
        util_arena a;
        util_arena_init(&a, first, sizeof first);
        pj_value pv;
        if (pj_parse(&a, parts[0].text, parts[0].len, &pv, err, sizeof err) == 0 &&
            !has_nan(&pv))
            FUZZ_CHECK(v.reward == 1.0 && v.category == GRADE_EXPECTED_TOOL_CALL,
                       "a call does not match itself: reward %g, %s", v.reward,
                       grade_category_name(v.category));
        util_arena_free(&a);
        grade_action_free(self);
    }
    grade_action_free(expected);
    return 0;
}
