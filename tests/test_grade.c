/* Tests of the grader (grade.h): every worked example of docs/grading.md §6, every
 * category, action extraction, reward modes and gates, Kuhn matching order. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "grade.h"
#include "jtext.h"
#include "testutil.h"

static json_t *js(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_ALLOW_NUL, &e);
    cr_assert(j, "bad test JSON: %s: %s", text, e.text);
    return j;
}

static grade_action *expected_call(const char *name, const char *args)
{
    json_t *j = json_pack("{s:s, s:s, s:s}", "type", "function_call", "name", name,
                          "arguments", args);
    char err[256];
    grade_action *a = grade_expected_from_json(j, err, sizeof err);
    cr_assert(a, "expected action refused: %s", err);
    json_decref(j);
    return a;
}

/* Expected batch from a JSON array of [name, args] pairs. */
static grade_action *expected_batch(const char *pairs)
{
    json_t *p = js(pairs), *calls = json_array();
    for (size_t i = 0; i < json_array_size(p); i++) {
        json_t *pr = json_array_get(p, i);
        json_array_append_new(calls, json_pack("{s:s, s:O, s:O}", "type", "function_call",
                                               "name", json_array_get(pr, 0), "arguments",
                                               json_array_get(pr, 1)));
    }
    json_t *ea = json_pack("{s:s, s:o}", "type", "function_call_batch", "calls", calls);
    char err[256];
    grade_action *a = grade_expected_from_json(ea, err, sizeof err);
    cr_assert(a, "expected batch refused: %s", err);
    json_decref(ea);
    json_decref(p);
    return a;
}

/* Actual action from a response whose output holds the given items (JSON). */
static grade_action *actual_from_output(const char *items)
{
    char *text = NULL;
    size_t n = strlen(items) + 32;
    text = malloc(n);
    snprintf(text, n, "{\"output\": %s}", items);
    json_t *r = js(text);
    free(text);
    char err[256];
    grade_action *a = grade_actual_from_response(r, err, sizeof err);
    cr_assert(a, "response refused: %s", err);
    json_decref(r);
    return a;
}

/* Actual batch from a JSON array of [name, args] pairs. */
static grade_action *actual_batch(const char *pairs)
{
    json_t *p = js(pairs), *out = json_array();
    for (size_t i = 0; i < json_array_size(p); i++) {
        json_t *pr = json_array_get(p, i);
        json_array_append_new(out, json_pack("{s:s, s:O, s:O}", "type", "function_call",
                                             "name", json_array_get(pr, 0), "arguments",
                                             json_array_get(pr, 1)));
    }
    json_t *r = json_pack("{s:o}", "output", out);
    char err[256];
    grade_action *a = grade_actual_from_response(r, err, sizeof err);
    cr_assert(a, "response refused: %s", err);
    json_decref(r);
    json_decref(p);
    return a;
}

static grade_verdict judge_cfg(const grade_config *cfg, grade_action *e, grade_action *a)
{
    grade_verdict v = grade_judge(cfg, e, a);
    grade_action_free(e);
    grade_action_free(a);
    return v;
}

static grade_verdict judge_calls(const char *eargs, const char *aargs)
{
    grade_config cfg;
    grade_config_default(&cfg);
    return judge_cfg(&cfg, expected_call("f", eargs), grade_action_call("f", aargs, strlen(aargs)));
}

#define assert_verdict(v, r, cat)                                                            \
    do {                                                                                     \
        grade_verdict v_ = (v);                                                              \
        cr_assert_eq(v_.reward, (r), "reward %.17g, want %.17g", v_.reward, (double)(r));   \
        cr_assert_eq(v_.category, (cat), "category %s, want %s",                            \
                     grade_category_name(v_.category), grade_category_name(cat));           \
    } while (0)

/* ---- docs/grading.md §6 --------------------------------------------------- */

Test(grade, spec_int_accepts_bool)
{
    assert_verdict(judge_calls("{\"n\": 1}", "{\"n\": true}"), 1.0, GRADE_EXPECTED_TOOL_CALL);
}

Test(grade, spec_bool_refuses_int)
{
    assert_verdict(judge_calls("{\"n\": true}", "{\"n\": 1}"), 0.0,
                   GRADE_ARGUMENT_VALUE_TYPE_DIFFERENT);
}

Test(grade, spec_float_refuses_int)
{
    assert_verdict(judge_calls("{\"x\": 1.0}", "{\"x\": 1}"), 0.0,
                   GRADE_ARGUMENT_VALUE_TYPE_DIFFERENT);
}

Test(grade, spec_one_word_is_exact)
{
    assert_verdict(judge_calls("{\"q\": \"Paris\"}", "{\"q\": \"paris\"}"), 0.0,
                   GRADE_ARGUMENT_VALUE_DIFFERENT);
}

Test(grade, spec_word_similarity)
{
    assert_verdict(judge_calls("{\"q\": \"new york city\"}", "{\"q\": \"New York\"}"), 1.0,
                   GRADE_EXPECTED_TOOL_CALL);
}

Test(grade, spec_key_order_irrelevant)
{
    assert_verdict(judge_calls("{\"a\":1,\"b\":2}", "{\"b\":2,\"a\":1}"), 1.0,
                   GRADE_EXPECTED_TOOL_CALL);
}

Test(grade, spec_list_length)
{
    assert_verdict(judge_calls("{\"a\":[1,2]}", "{\"a\":[1]}"), 0.0,
                   GRADE_ARGUMENT_LIST_LENGTH_DIFFERENT);
}

Test(grade, spec_call_takes_precedence_over_message)
{
    grade_config cfg;
    grade_config_default(&cfg);
    grade_action *a = actual_from_output(
        "[{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\","
        "\"text\":\"hi\"}]},{\"type\":\"function_call\",\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"}]");
    cr_assert_eq(grade_action_kind_of(a), GRADE_ACTION_CALL);
    assert_verdict(judge_cfg(&cfg, expected_call("f", "{\"a\": 1}"), a), 1.0,
                   GRADE_EXPECTED_TOOL_CALL);
}

/* ---- every category -------------------------------------------------------- */

static grade_action *expected_message(void)
{
    json_t *j = js("{\"type\":\"message\",\"content\":\"hello\"}");
    char err[256];
    grade_action *a = grade_expected_from_json(j, err, sizeof err);
    cr_assert(a, "%s", err);
    json_decref(j);
    return a;
}

Test(grade, no_action_found)
{
    grade_config cfg;
    grade_config_default(&cfg);
    grade_action *a = actual_from_output("[{\"type\":\"reasoning\",\"summary\":[]}]");
    cr_assert_eq(grade_action_kind_of(a), GRADE_ACTION_NONE);
    assert_verdict(judge_cfg(&cfg, expected_call("f", "{}"), a), 0.0, GRADE_NO_ACTION_FOUND);
    a = actual_from_output("[]");
    assert_verdict(judge_cfg(&cfg, expected_message(), a), 0.0, GRADE_NO_ACTION_FOUND);
}

Test(grade, chat_message_found_ignores_content)
{
    grade_config cfg;
    grade_config_default(&cfg);
    grade_action *a = grade_action_message("something else entirely", 23);
    assert_verdict(judge_cfg(&cfg, expected_message(), a), 1.0,
                   GRADE_EXPECTED_CHAT_MESSAGE_FOUND);
}

Test(grade, call_when_message_expected)
{
    grade_config cfg;
    grade_config_default(&cfg);
    assert_verdict(judge_cfg(&cfg, expected_message(), grade_action_call("f", "{}", 2)), 0.0,
                   GRADE_NO_EXPECTED_CHAT_MESSAGE);
    assert_verdict(judge_cfg(&cfg, expected_message(),
                             actual_batch("[[\"f\",\"{}\"],[\"g\",\"{}\"]]")),
                   0.0, GRADE_NO_EXPECTED_CHAT_MESSAGE);
}

Test(grade, message_when_call_expected)
{
    grade_config cfg;
    grade_config_default(&cfg);
    assert_verdict(judge_cfg(&cfg, expected_call("f", "{}"), grade_action_message("hi", 2)), 0.0,
                   GRADE_NO_EXPECTED_TOOL_CALL);
    assert_verdict(judge_cfg(&cfg, expected_batch("[[\"f\",\"{}\"],[\"g\",\"{}\"]]"),
                             grade_action_message("hi", 2)),
                   0.0, GRADE_NO_EXPECTED_TOOL_CALL);
}

Test(grade, unexpected_tool_skips_arguments)
{
    grade_config cfg;
    grade_config_default(&cfg);
    /* The actual arguments do not even parse: the name decides first. */
    assert_verdict(judge_cfg(&cfg, expected_call("f", "{}"), grade_action_call("F", "{", 1)),
                   0.0, GRADE_UNEXPECTED_TOOL);
}

Test(grade, arguments_decode_error)
{
    assert_verdict(judge_calls("{\"a\": 1}", "{\"a\": 1"), 0.0, GRADE_ARGUMENTS_DECODE_ERROR);
    assert_verdict(judge_calls("{\"a\": 1}", "{'a': 1}"), 0.0, GRADE_ARGUMENTS_DECODE_ERROR);
    assert_verdict(judge_calls("{\"a\": 1}", ""), 0.0, GRADE_ARGUMENTS_DECODE_ERROR);
}

Test(grade, object_keys_different)
{
    assert_verdict(judge_calls("{\"a\": 1}", "{\"b\": 1}"), 0.0,
                   GRADE_ARGUMENT_OBJECT_KEYS_DIFFERENT);
    assert_verdict(judge_calls("{\"a\": 1}", "{\"a\": 1, \"b\": 2}"), 0.0,
                   GRADE_ARGUMENT_OBJECT_KEYS_DIFFERENT);
    /* Key sets are checked before any value. */
    assert_verdict(judge_calls("{\"a\": 1, \"b\": 2}", "{\"a\": \"x\", \"c\": 2}"), 0.0,
                   GRADE_ARGUMENT_OBJECT_KEYS_DIFFERENT);
}

Test(grade, first_failure_in_expected_key_order)
{
    assert_verdict(judge_calls("{\"a\": [1], \"b\": 1}", "{\"b\": \"1\", \"a\": [1, 2]}"), 0.0,
                   GRADE_ARGUMENT_LIST_LENGTH_DIFFERENT);
    assert_verdict(judge_calls("{\"b\": 1, \"a\": [1]}", "{\"a\": [1, 2], \"b\": \"1\"}"), 0.0,
                   GRADE_ARGUMENT_VALUE_TYPE_DIFFERENT);
}

Test(grade, value_different)
{
    assert_verdict(judge_calls("{\"n\": 1}", "{\"n\": 2}"), 0.0, GRADE_ARGUMENT_VALUE_DIFFERENT);
    assert_verdict(judge_calls("{\"n\": 1}", "{\"n\": false}"), 0.0,
                   GRADE_ARGUMENT_VALUE_DIFFERENT);
    assert_verdict(judge_calls("{\"n\": 0}", "{\"n\": false}"), 1.0, GRADE_EXPECTED_TOOL_CALL);
    assert_verdict(judge_calls("{\"b\": true}", "{\"b\": false}"), 0.0,
                   GRADE_ARGUMENT_VALUE_DIFFERENT);
}

Test(grade, category_texts_are_verbatim)
{
    cr_assert_str_eq(grade_category_text(GRADE_ARGUMENTS_DECODE_ERROR),
                     "An error occurred when decoding the arguments string in a tool call as a "
                     "JSON object");
    cr_assert_str_eq(grade_category_text(GRADE_EXPECTED_TOOL_CALL_BATCH),
                     "A tool-call batch that matches the expected tool calls was found");
    cr_assert_str_eq(grade_category_text(GRADE_ARGUMENT_OBJECT_KEYS_DIFFERENT),
                     "The keys in an object in an argument value in a tool call are different "
                     "than the keys in the expected object");
    for (int c = 0; c < GRADE_CATEGORY_COUNT; c++) {
        grade_category back;
        cr_assert(grade_category_text((grade_category)c));
        cr_assert_eq(grade_category_from_text(grade_category_text((grade_category)c), &back), 0);
        cr_assert_eq(back, (grade_category)c);
    }
    cr_assert_null(grade_category_text(GRADE_CATEGORY_COUNT));
}

/* ---- batches ---------------------------------------------------------------- */

/* All candidate lists have length 2, so the sort keeps index order; e2 only
 * finds a partner by re-routing e0 and then e1 (a greedy pass stops at 2). */
#define KUHN_E "[[\"f\",\"{\\\"s\\\":\\\"x y\\\"}\"],[\"f\",\"{\\\"s\\\":\\\"y z\\\"}\"]," \
               "[\"f\",\"{\\\"s\\\":\\\"x y\\\"}\"]]"
#define KUHN_A "[[\"f\",\"{\\\"s\\\":\\\"x k1\\\"}\"],[\"f\",\"{\\\"s\\\":\\\"y k2\\\"}\"]," \
               "[\"f\",\"{\\\"s\\\":\\\"z k3\\\"}\"]]"

Test(grade, kuhn_succeeds_where_greedy_fails)
{
    grade_config cfg;
    grade_config_default(&cfg);
    assert_verdict(judge_cfg(&cfg, expected_batch(KUHN_E), actual_batch(KUHN_A)), 1.0,
                   GRADE_EXPECTED_TOOL_CALL_BATCH);
    cfg.parallel_rewarding = true;
    cfg.mode = GRADE_MODE_FRACTIONAL;
    assert_verdict(judge_cfg(&cfg, expected_batch(KUHN_E), actual_batch(KUHN_A)), 1.0,
                   GRADE_EXPECTED_TOOL_CALL_BATCH);
}

Test(grade, batch_order_irrelevant)
{
    grade_config cfg;
    grade_config_default(&cfg);
    assert_verdict(judge_cfg(&cfg, expected_batch("[[\"f\",\"{\\\"a\\\":1}\"],[\"g\",\"{}\"]]"),
                             actual_batch("[[\"g\",\"{}\"],[\"f\",\"{\\\"a\\\":1}\"]]")),
                   1.0, GRADE_EXPECTED_TOOL_CALL_BATCH);
}

Test(grade, batch_failure_category_of_first_unmatched)
{
    grade_config cfg;
    grade_config_default(&cfg);
    /* e1 (g) fails against a1 with a type difference. */
    assert_verdict(judge_cfg(&cfg, expected_batch("[[\"f\",\"{\\\"a\\\":1}\"],[\"g\",\"{\\\"b\\\":2}\"]]"),
                             actual_batch("[[\"f\",\"{\\\"a\\\":1}\"],[\"g\",\"{\\\"b\\\":\\\"2\\\"}\"]]")),
                   0.0, GRADE_ARGUMENT_VALUE_TYPE_DIFFERENT);
    /* Only name mismatches: UNEXPECTED_TOOL. */
    assert_verdict(judge_cfg(&cfg, expected_batch("[[\"f\",\"{}\"],[\"g\",\"{}\"]]"),
                             actual_batch("[[\"f\",\"{}\"],[\"h\",\"{}\"]]")),
                   0.0, GRADE_UNEXPECTED_TOOL);
    /* The first non-name failure in actual order wins (decode error at a1,
     * value difference at a2). */
    assert_verdict(judge_cfg(&cfg, expected_batch("[[\"f\",\"{\\\"a\\\":1}\"],[\"g\",\"{}\"]]"),
                             actual_batch("[[\"g\",\"{}\"],[\"f\",\"{\"],[\"f\",\"{\\\"a\\\":2}\"]]")),
                   0.0, GRADE_ARGUMENTS_DECODE_ERROR);
}

Test(grade, batch_all_expected_matched_or_all_actual_used)
{
    grade_config cfg;
    grade_config_default(&cfg);
    /* Rewarding off, fewer actual calls: m = |A| -> length category. */
    assert_verdict(judge_cfg(&cfg, expected_batch("[[\"f\",\"{}\"],[\"g\",\"{}\"]]"),
                             grade_action_call("f", "{}", 2)),
                   0.0, GRADE_FUNCTION_CALL_BATCH_LENGTH_DIFFERENT);
    /* Rewarding off, extra actual calls, all expected matched -> reward 1. */
    assert_verdict(judge_cfg(&cfg, expected_call("f", "{}"),
                             actual_batch("[[\"g\",\"{}\"],[\"f\",\"{}\"]]")),
                   1.0, GRADE_EXPECTED_TOOL_CALL);
    assert_verdict(judge_cfg(&cfg, expected_batch("[[\"f\",\"{}\"],[\"g\",\"{}\"]]"),
                             actual_batch("[[\"g\",\"{}\"],[\"f\",\"{}\"],[\"h\",\"{}\"]]")),
                   1.0, GRADE_EXPECTED_TOOL_CALL_BATCH);
}

typedef struct gate_case {
    bool rewarding, subset, superset;
    grade_mode mode;
    const char *actual;         /* pairs */
    double reward;
    grade_category category;
} gate_case;

/* Expected: f, g, h. Actual subsets/supersets of matching calls. */
#define E3 "[[\"f\",\"{}\"],[\"g\",\"{}\"],[\"h\",\"{}\"]]"
#define A2 "[[\"f\",\"{}\"],[\"g\",\"{}\"]]"
#define A3 "[[\"h\",\"{}\"],[\"f\",\"{}\"],[\"g\",\"{}\"]]"
#define A3BAD "[[\"h\",\"{}\"],[\"f\",\"{}\"],[\"x\",\"{}\"]]"
#define A4 "[[\"f\",\"{}\"],[\"g\",\"{}\"],[\"h\",\"{}\"],[\"i\",\"{}\"]]"

Test(grade, reward_modes_and_gates)
{
    const grade_mode BS = GRADE_MODE_BINARY_STRICT, FR = GRADE_MODE_FRACTIONAL,
                     F1 = GRADE_MODE_F1;
    const grade_category OK = GRADE_EXPECTED_TOOL_CALL_BATCH,
                         LEN = GRADE_FUNCTION_CALL_BATCH_LENGTH_DIFFERENT,
                         UT = GRADE_UNEXPECTED_TOOL;
    const gate_case cases[] = {
        /* rewarding off: counts never gate */
        {false, false, false, BS, A2, 0.0, LEN},
        {false, false, false, BS, A3, 1.0, OK},
        {false, false, false, BS, A3BAD, 0.0, UT},
        {false, false, false, BS, A4, 1.0, OK},
        {false, false, false, F1, A2, 0.0, LEN},     /* mode ignored when off */
        /* rewarding on, equal counts */
        {true, false, false, BS, A3, 1.0, OK},
        {true, false, false, BS, A3BAD, 0.0, UT},
        {true, false, false, FR, A3BAD, 2.0 / 3.0, UT},
        {true, false, false, F1, A3BAD, 4.0 / 6.0, UT},
        {true, false, false, F1, A3, 1.0, OK},
        /* rewarding on, fewer actual calls */
        {true, false, false, BS, A2, 0.0, LEN},
        {true, false, true, BS, A2, 0.0, LEN},
        {true, true, false, BS, A2, 1.0, OK},
        {true, true, false, FR, A2, 1.0, OK},
        {true, true, false, F1, A2, 4.0 / 5.0, LEN},
        {true, true, true, BS, A2, 1.0, OK},
        /* rewarding on, more actual calls */
        {true, false, false, BS, A4, 0.0, LEN},
        {true, true, false, BS, A4, 0.0, LEN},
        {true, false, true, BS, A4, 1.0, OK},
        {true, false, true, FR, A4, 1.0, OK},
        {true, false, true, F1, A4, 6.0 / 7.0, LEN},
        {true, true, true, FR, A4, 1.0, OK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const gate_case *c = &cases[i];
        grade_config cfg;
        grade_config_default(&cfg);
        cfg.parallel_rewarding = c->rewarding;
        cfg.allow_subset = c->subset;
        cfg.allow_superset = c->superset;
        cfg.mode = c->mode;
        grade_verdict v = judge_cfg(&cfg, expected_batch(E3), actual_batch(c->actual));
        cr_assert_eq(v.reward, c->reward, "case %zu: reward %.17g want %.17g", i, v.reward,
                     c->reward);
        cr_assert_eq(v.category, c->category, "case %zu: %s want %s", i,
                     grade_category_name(v.category), grade_category_name(c->category));
    }
}

Test(grade, fractional_partial_category)
{
    grade_config cfg;
    grade_config_default(&cfg);
    cfg.parallel_rewarding = true;
    cfg.mode = GRADE_MODE_FRACTIONAL;
    /* m = 1 of 2: the first unmatched expected call reports its failure. */
    grade_verdict v = judge_cfg(&cfg, expected_batch("[[\"f\",\"{\\\"a\\\":1}\"],[\"g\",\"{\\\"a\\\":[1]}\"]]"),
                                actual_batch("[[\"g\",\"{\\\"a\\\":[1,2]}\"],[\"f\",\"{\\\"a\\\":1}\"]]"));
    assert_verdict(v, 0.5, GRADE_ARGUMENT_LIST_LENGTH_DIFFERENT);
}

Test(grade, single_expected_with_superset_f1)
{
    grade_config cfg;
    grade_config_default(&cfg);
    cfg.parallel_rewarding = true;
    cfg.allow_superset = true;
    cfg.mode = GRADE_MODE_F1;
    grade_verdict v = judge_cfg(&cfg, expected_call("f", "{}"),
                                actual_batch("[[\"f\",\"{}\"],[\"g\",\"{}\"]]"));
    assert_verdict(v, 2.0 / 3.0, GRADE_FUNCTION_CALL_BATCH_LENGTH_DIFFERENT);
    char buf[32];
    grade_reward_repr(v.reward, buf, sizeof buf);
    cr_assert_str_eq(buf, "0.6666666666666666");
}

/* ---- Python type quirks ------------------------------------------------------ */

Test(grade, floats_with_tolerance)
{
    assert_verdict(judge_calls("{\"x\": 1.5}", "{\"x\": 1.5000005}"), 1.0, GRADE_EXPECTED_TOOL_CALL);
    assert_verdict(judge_calls("{\"x\": 1.5}", "{\"x\": 1.500002}"), 0.0,
                   GRADE_ARGUMENT_VALUE_DIFFERENT);
    assert_verdict(judge_calls("{\"x\": 0.0}", "{\"x\": -0.0}"), 1.0, GRADE_EXPECTED_TOOL_CALL);
    assert_verdict(judge_calls("{\"x\": 1e2}", "{\"x\": 100.0}"), 1.0, GRADE_EXPECTED_TOOL_CALL);
    /* Strict <: a difference equal to the tolerance fails. */
    grade_config cfg;
    grade_config_default(&cfg);
    cfg.float_tolerance = 0.5;
    assert_verdict(judge_cfg(&cfg, expected_call("f", "[1.0]"), grade_action_call("f", "[1.5]", 5)),
                   0.0, GRADE_ARGUMENT_VALUE_DIFFERENT);
    assert_verdict(judge_cfg(&cfg, expected_call("f", "[1.0]"), grade_action_call("f", "[1.25]", 6)),
                   1.0, GRADE_EXPECTED_TOOL_CALL);
}

Test(grade, nan_and_infinity_never_equal)
{
    assert_verdict(judge_calls("{\"x\": NaN}", "{\"x\": NaN}"), 0.0, GRADE_ARGUMENT_VALUE_DIFFERENT);
    assert_verdict(judge_calls("{\"x\": Infinity}", "{\"x\": Infinity}"), 0.0,
                   GRADE_ARGUMENT_VALUE_DIFFERENT);
    assert_verdict(judge_calls("{\"x\": 1e400}", "{\"x\": Infinity}"), 0.0,
                   GRADE_ARGUMENT_VALUE_DIFFERENT);
    assert_verdict(judge_calls("{\"x\": -Infinity}", "{\"x\": 1.0}"), 0.0,
                   GRADE_ARGUMENT_VALUE_DIFFERENT);
    assert_verdict(judge_calls("{\"x\": 1.0}", "{\"x\": NaN}"), 0.0, GRADE_ARGUMENT_VALUE_DIFFERENT);
    /* NaN is a float: an int expected refuses it by type. */
    assert_verdict(judge_calls("{\"x\": 1}", "{\"x\": NaN}"), 0.0,
                   GRADE_ARGUMENT_VALUE_TYPE_DIFFERENT);
}

Test(grade, big_ints)
{
    const char *big = "{\"n\": 123456789012345678901234567890}";
    assert_verdict(judge_calls(big, big), 1.0, GRADE_EXPECTED_TOOL_CALL);
    assert_verdict(judge_calls(big, "{\"n\": 123456789012345678901234567891}"), 0.0,
                   GRADE_ARGUMENT_VALUE_DIFFERENT);
    assert_verdict(judge_calls(big, "{\"n\": 1.2345678901234568e29}"), 0.0,
                   GRADE_ARGUMENT_VALUE_TYPE_DIFFERENT);
    assert_verdict(judge_calls(big, "{\"n\": true}"), 0.0, GRADE_ARGUMENT_VALUE_DIFFERENT);
    assert_verdict(judge_calls("{\"n\": 9223372036854775807}", "{\"n\": 9223372036854775808}"),
                   0.0, GRADE_ARGUMENT_VALUE_DIFFERENT);
    assert_verdict(judge_calls("{\"n\": -9223372036854775808}", "{\"n\": -9223372036854775808}"),
                   1.0, GRADE_EXPECTED_TOOL_CALL);
    /* More than 4300 digits: the actual side does not decode. */
    size_t nd = 4301;
    char *huge = malloc(nd + 8);
    memcpy(huge, "[", 1);
    memset(huge + 1, '9', nd);
    strcpy(huge + 1 + nd, "]");
    assert_verdict(judge_calls("[1]", huge), 0.0, GRADE_ARGUMENTS_DECODE_ERROR);
    free(huge);
}

Test(grade, bools_and_none)
{
    assert_verdict(judge_calls("[null]", "[null]"), 1.0, GRADE_EXPECTED_TOOL_CALL);
    assert_verdict(judge_calls("[null]", "[0]"), 0.0, GRADE_ARGUMENT_VALUE_TYPE_DIFFERENT);
    assert_verdict(judge_calls("[0]", "[null]"), 0.0, GRADE_ARGUMENT_VALUE_TYPE_DIFFERENT);
    assert_verdict(judge_calls("[false]", "[false]"), 1.0, GRADE_EXPECTED_TOOL_CALL);
    assert_verdict(judge_calls("[false]", "[0]"), 0.0, GRADE_ARGUMENT_VALUE_TYPE_DIFFERENT);
    assert_verdict(judge_calls("[1]", "[1.0]"), 0.0, GRADE_ARGUMENT_VALUE_TYPE_DIFFERENT);
    assert_verdict(judge_calls("[2]", "[true]"), 0.0, GRADE_ARGUMENT_VALUE_DIFFERENT);
    assert_verdict(judge_calls("[\"1\"]", "[1]"), 0.0, GRADE_ARGUMENT_VALUE_TYPE_DIFFERENT);
    assert_verdict(judge_calls("{\"a\": {}}", "{\"a\": []}"), 0.0,
                   GRADE_ARGUMENT_VALUE_TYPE_DIFFERENT);
}

Test(grade, non_object_arguments)
{
    assert_verdict(judge_calls("[1, \"two words\"]", "[1, \"two  Words\"]"), 1.0,
                   GRADE_EXPECTED_TOOL_CALL);
    assert_verdict(judge_calls("\"hello there\"", "\"there\""), 0.0,
                   GRADE_ARGUMENT_VALUE_DIFFERENT);
    assert_verdict(judge_calls("3", "3"), 1.0, GRADE_EXPECTED_TOOL_CALL);
    assert_verdict(judge_calls("{}", "[]"), 0.0, GRADE_ARGUMENT_VALUE_TYPE_DIFFERENT);
}

Test(grade, nested_values)
{
    const char *e = "{\"user\": {\"name\": \"Ada Lovelace\", \"tags\": [\"a\", {\"k\": 1}]}}";
    assert_verdict(judge_calls(e, "{\"user\": {\"tags\": [\"a\", {\"k\": true}], "
                                  "\"name\": \"ada lovelace\"}}"),
                   1.0, GRADE_EXPECTED_TOOL_CALL);
    assert_verdict(judge_calls(e, "{\"user\": {\"name\": \"Ada Lovelace\", "
                                  "\"tags\": [\"a\", {\"k\": 1, \"j\": 2}]}}"),
                   0.0, GRADE_ARGUMENT_OBJECT_KEYS_DIFFERENT);
    assert_verdict(judge_calls(e, "{\"user\": {\"name\": \"Ada Lovelace\", "
                                  "\"tags\": [\"b\", {\"k\": 1}]}}"),
                   0.0, GRADE_ARGUMENT_VALUE_DIFFERENT);
}

Test(grade, duplicate_keys_in_actual_arguments)
{
    /* Last value wins: {"a": 2} after dedupe. */
    assert_verdict(judge_calls("{\"a\": 2}", "{\"a\": 1, \"a\": 2}"), 1.0, GRADE_EXPECTED_TOOL_CALL);
    assert_verdict(judge_calls("{\"a\": 1}", "{\"a\": 1, \"a\": 2}"), 0.0,
                   GRADE_ARGUMENT_VALUE_DIFFERENT);
}

Test(grade, large_objects_compare_by_key_set)
{
    /* 50 keys, reversed order in the actual call (the sorted key path). */
    char e[2048], a[2048];
    size_t ne = 0, na = 0;
    ne += (size_t)snprintf(e + ne, sizeof e - ne, "{");
    na += (size_t)snprintf(a + na, sizeof a - na, "{");
    for (int i = 0; i < 50; i++) {
        ne += (size_t)snprintf(e + ne, sizeof e - ne, "%s\"k%d\": %d", i ? "," : "", i, i);
        na += (size_t)snprintf(a + na, sizeof a - na, "%s\"k%d\": %d", i ? "," : "", 49 - i,
                               49 - i);
    }
    snprintf(e + ne, sizeof e - ne, "}");
    snprintf(a + na, sizeof a - na, "}");
    assert_verdict(judge_calls(e, a), 1.0, GRADE_EXPECTED_TOOL_CALL);
    char *k = strstr(a, "\"k7\"");
    k[2] = '8';   /* "k87": same size, different key set */
    assert_verdict(judge_calls(e, a), 0.0, GRADE_ARGUMENT_OBJECT_KEYS_DIFFERENT);
}

Test(grade, strings_with_lone_surrogates_and_unicode)
{
    /* "\ud800 x" vs the same: 2 words each, identical -> 0.5 >= 0.1. */
    assert_verdict(judge_calls("[\"\\ud800 x\"]", "[\"\\ud800 x\"]"), 1.0, GRADE_EXPECTED_TOOL_CALL);
    assert_verdict(judge_calls("[\"\\ud800\"]", "[\"\\udc00\"]"), 0.0, GRADE_ARGUMENT_VALUE_DIFFERENT);
    /* Unicode whitespace splits words; full lower-casing matches İ. */
    assert_verdict(judge_calls("[\"\\u0130stanbul old\\u00a0town\"]",
                               "[\"i\\u0307stanbul\\u3000OLD\"]"),
                   1.0, GRADE_EXPECTED_TOOL_CALL);
    /* One word each: exact comparison of the original strings. */
    assert_verdict(judge_calls("[\"\\u0130stanbul\"]", "[\"i\\u0307stanbul\"]"), 0.0,
                   GRADE_ARGUMENT_VALUE_DIFFERENT);
    /* NUL inside strings is data. */
    assert_verdict(judge_calls("[\"a\\u0000b\"]", "[\"a\\u0000c\"]"), 0.0,
                   GRADE_ARGUMENT_VALUE_DIFFERENT);
}

Test(grade, deep_actual_arguments_decode_error)
{
    size_t depth = 5000;
    char *s = malloc(2 * depth + 1);
    memset(s, '[', depth);
    memset(s + depth, ']', depth);
    s[2 * depth] = '\0';
    assert_verdict(judge_calls("[]", s), 0.0, GRADE_ARGUMENTS_DECODE_ERROR);
    free(s);
}

Test(grade, custom_word_threshold)
{
    grade_config cfg;
    grade_config_default(&cfg);
    cfg.word_similarity_threshold = 0.45;
    assert_verdict(judge_cfg(&cfg, expected_call("f", "[\"new york city\"]"),
                             grade_action_call("f", "[\"New York\"]", 12)),
                   0.0, GRADE_ARGUMENT_VALUE_DIFFERENT);
}

/* ---- building actions ---------------------------------------------------------- */

static void assert_expected_refused(const char *text, const char *reason_part)
{
    json_t *j = js(text);
    char err[256] = "";
    grade_action *a = grade_expected_from_json(j, err, sizeof err);
    cr_assert_null(a, "accepted %s", text);
    cr_assert(strstr(err, reason_part), "reason '%s' lacks '%s'", err, reason_part);
    json_decref(j);
}

Test(grade, expected_action_shapes)
{
    assert_expected_refused("[]", "not an object");
    assert_expected_refused("{\"type\": \"tool\"}", "is not message");
    assert_expected_refused("{\"name\": \"f\"}", "type");
    assert_expected_refused("{\"type\": \"function_call\", \"arguments\": \"{}\"}", "name");
    assert_expected_refused("{\"type\": \"function_call\", \"name\": \"f\", \"arguments\": {}}",
                            "arguments");
    assert_expected_refused("{\"type\": \"function_call\", \"name\": \"f\", \"arguments\": \"{\"}",
                            "not valid JSON");
    assert_expected_refused("{\"type\": \"function_call_batch\", \"calls\": []}", "non-empty");
    assert_expected_refused("{\"type\": \"function_call_batch\", \"calls\": [{\"name\": \"f\", "
                            "\"arguments\": \"{}\"}, {\"name\": \"g\", \"arguments\": \"[\"}]}",
                            "calls[1].arguments");
    assert_expected_refused("{\"type\": \"message\", \"content\": 3}", "content");
}

Test(grade, expected_action_accessors)
{
    grade_action *b = expected_batch("[[\"f\",\"{}\"],[\"g\",\"[1]\"]]");
    cr_assert_eq(grade_action_kind_of(b), GRADE_ACTION_BATCH);
    cr_assert_eq(grade_action_ncalls(b), 2);
    cr_assert_str_eq(grade_action_call_name(b, 1), "g");
    cr_assert_null(grade_action_call_name(b, 2));
    cr_assert_str_eq(grade_action_type_name(b), "function_call_batch");
    grade_action_free(b);
    grade_action *m = expected_message();
    cr_assert_str_eq(grade_action_type_name(m), "message");
    cr_assert_eq(grade_action_ncalls(m), 0);
    grade_action_free(m);
}

static void assert_response_refused(const char *text, const char *reason_part)
{
    json_t *j = js(text);
    char err[256] = "";
    grade_action *a = grade_actual_from_response(j, err, sizeof err);
    cr_assert_null(a, "accepted %s", text);
    cr_assert(strstr(err, reason_part), "reason '%s' lacks '%s'", err, reason_part);
    json_decref(j);
}

Test(grade, malformed_responses)
{
    assert_response_refused("[]", "not an object");
    assert_response_refused("{}", "output");
    assert_response_refused("{\"output\": {}}", "output");
    assert_response_refused("{\"output\": [3]}", "output[0]");
    assert_response_refused("{\"output\": [{\"type\": \"function_call\", \"name\": \"f\"}]}",
                            "function_call");
    assert_response_refused("{\"output\": [{\"type\": \"function_call\", \"name\": 1, "
                            "\"arguments\": \"{}\"}]}", "function_call");
    assert_response_refused("{\"output\": [{\"type\": \"message\", \"role\": \"assistant\", "
                            "\"content\": \"hi\"}]}", "content");
}

Test(grade, message_extraction_rules)
{
    /* A user message, an assistant message without output_text, then one
     * with a refusal before the text: the text is found. */
    grade_action *a = actual_from_output(
        "[{\"type\":\"message\",\"role\":\"user\",\"content\":[{\"type\":\"output_text\",\"text\":\"u\"}]},"
        "{\"type\":\"message\",\"role\":\"assistant\",\"content\":[]},"
        "{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"refusal\",\"refusal\":\"no\"},"
        "{\"type\":\"output_text\",\"text\":\"found\"}]}]");
    cr_assert_eq(grade_action_kind_of(a), GRADE_ACTION_MESSAGE);
    grade_action_free(a);
    /* Two calls around a message: a batch in output order. */
    a = actual_from_output(
        "[{\"type\":\"function_call\",\"name\":\"g\",\"arguments\":\"{}\"},"
        "{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"t\"}]},"
        "{\"type\":\"function_call\",\"name\":\"f\",\"arguments\":\"x\"}]");
    cr_assert_eq(grade_action_kind_of(a), GRADE_ACTION_BATCH);
    cr_assert_eq(grade_action_ncalls(a), 2);
    cr_assert_str_eq(grade_action_call_name(a, 0), "g");
    cr_assert_str_eq(grade_action_call_name(a, 1), "f");
    grade_action_free(a);
}

Test(grade, names_compare_exactly_including_nul)
{
    grade_config cfg;
    grade_config_default(&cfg);
    json_t *r = js("{\"output\": [{\"type\":\"function_call\",\"name\":\"f\\u0000x\",\"arguments\":\"{}\"}]}");
    char err[128];
    grade_action *a = grade_actual_from_response(r, err, sizeof err);
    json_decref(r);
    cr_assert(a);
    assert_verdict(judge_cfg(&cfg, expected_call("f", "{}"), a), 0.0, GRADE_UNEXPECTED_TOOL);
}

Test(grade, modes_and_reward_text)
{
    grade_mode m;
    cr_assert_eq(grade_mode_parse("f1", &m), 0);
    cr_assert_eq(m, GRADE_MODE_F1);
    cr_assert_eq(grade_mode_parse("fractional", &m), 0);
    cr_assert_eq(m, GRADE_MODE_FRACTIONAL);
    cr_assert_eq(grade_mode_parse("binary_strict", &m), 0);
    cr_assert_eq(m, GRADE_MODE_BINARY_STRICT);
    cr_assert_eq(grade_mode_parse("F1", &m), -1);
    cr_assert_str_eq(grade_mode_name(GRADE_MODE_FRACTIONAL), "fractional");
    const struct { double v; const char *s; } reprs[] = {
        {1.0, "1.0"}, {0.0, "0.0"}, {0.5, "0.5"}, {0.8, "0.8"}, {2.0 / 3.0, "0.6666666666666666"},
        {1.0 / 3.0, "0.3333333333333333"}, {6.0 / 7.0, "0.8571428571428571"}, {0.1, "0.1"},
        {1e-7, "1e-07"}, {1e16, "1e+16"}, {123456789.0, "123456789.0"}, {0.0001, "0.0001"},
        {1.5e-5, "1.5e-05"}, {-0.0, "-0.0"}, {1e15, "1000000000000000.0"},
    };
    for (size_t i = 0; i < sizeof reprs / sizeof reprs[0]; i++) {
        char buf[32];
        size_t n = grade_reward_repr(reprs[i].v, buf, sizeof buf);
        cr_assert_str_eq(buf, reprs[i].s);
        cr_assert_eq(n, strlen(reprs[i].s));
    }
}

/* A shared expected action outlives every holder but the last: after the
 * builder's reference is given back, a retained one still judges (ASan
 * catches a use after free), and the last release frees it (leak check). */
Test(grade, retained_action_outlives_the_builder)
{
    grade_action *e = expected_call("get_weather", "{\"city\": \"Paris\"}");
    cr_assert_not_null(e);
    cr_assert_eq(grade_action_retain(e), e);
    cr_assert_eq(grade_action_retain(e), e);
    grade_action_release(e);
    grade_action_free(e);
    grade_action *a = grade_action_call("get_weather", "{\"city\": \"Paris\"}", 17);
    grade_config cfg;
    grade_config_default(&cfg);
    grade_verdict v = grade_judge(&cfg, e, a);
    cr_assert_eq(v.reward, 1.0);
    cr_assert_eq(v.category, GRADE_EXPECTED_TOOL_CALL);
    cr_assert_str_eq(grade_action_call_name(e, 0), "get_weather");
    grade_action_release(e);
    grade_action_free(a);
    cr_assert_null(grade_action_retain(NULL));
    grade_action_release(NULL);
}

/* ---- actions read in place from validated text ------------------------------- */

/* Expected actions and response outputs, valid JSON (Python's dialect) of
 * every shape the readers tell apart: the text readers must give what the
 * tree readers give on jtext's tree of the same text. */
static const char *const EXPECTED_TEXTS[] = {
    "{\"type\":\"message\",\"content\":\"hi\"}", "{\"type\":\"message\",\"content\":null}",
    "{\"type\":\"message\"}", "{\"type\":\"message\",\"content\":5}",
    "{\"type\":\"message\",\"content\":NaN}", "{\"type\":\"message\",\"content\":1e400}",
    "{\"type\":\"message\",\"content\":-Infinity}", "{\"type\":\"message\",\"content\":[]}",
    "{\"type\":\"message\",\"content\":123456789012345678901234567890}",
    "{\"type\":\"message\",\"content\":-1" "000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000}",
    "{\"type\":\"message\",\"content\":\"a\",\"content\":\"b \\u00e9\\ud83d\\ude00\"}",
    "{\"t\\u0079pe\":\"message\",\"content\":\"escaped key\"}",
    "{\"type\":\"message\\u0000x\",\"content\":\"a\"}", "{\"type\":\"mess\\u0000age\"}",
    "{\"type\":3}", "{}", "[1]", "\"s\"", "{\"type\":\"nope\\u0000hidden\"}",
    "{\"type\":\"function_call\",\"name\":\"f\",\"arguments\":\"{\\\"a\\\": 1}\"}",
    "{\"type\":\"function\\u005fcall\",\"name\":\"f\\u0000g\",\"arguments\":\"{}\"}",
    "{\"type\":\"function_call\",\"name\":\"f\"}",
    "{\"type\":\"function_call\",\"name\":1,\"arguments\":\"{}\"}",
    "{\"type\":\"function_call\",\"name\":\"g\",\"arguments\":\"not json\"}",
    "{\"type\":\"function_call_batch\",\"calls\":[]}", "{\"type\":\"function_call_batch\"}",
    "{\"type\":\"function_call_batch\",\"calls\":{\"a\":1}}",
    "{\"type\":\"function_call_batch\",\"calls\":[{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"},"
    "{\"type\":\"function_call\",\"name\":\"g\",\"arguments\":\"[1, 2.5, \\\"x\\\"]\"}]}",
    "{\"type\":\"function_call_batch\",\"calls\":[{\"name\":\"f\",\"arguments\":\"{}\"},3]}",
    "{\"type\":\"function_call_batch\",\"calls\":[{\"type\":null,\"name\":\"f\",\"arguments\":\"{}\"}]}",
    "{\"type\":\"function_call_batch\",\"calls\":[{\"type\":\"message\",\"name\":\"f\",\"arguments\":\"{}\"}]}",
    "{\"type\":\"function_call_batch\",\"calls\":[{\"n\\u0061me\":\"f\",\"arguments\":\"{}\",\"arguments\":\"{\\\"b\\\":[]}\"}]}",
};

static const char *const OUTPUT_TEXTS[] = {
    "[]", "5", "{\"a\":1}", "[1]", "[{\"type\":3}]", "[{\"name\":\"f\"}]",
    "[{\"type\":\"function_call\",\"name\":\"f\",\"arguments\":\"{\\\"a\\\": 1}\"}]",
    "[{\"type\":\"function_call\",\"name\":\"f\"}]",
    "[{\"type\":\"function_call\",\"name\":null,\"arguments\":\"{}\"}]",
    "[{\"type\":\"function_call\",\"name\":\"g\",\"arguments\":\"[1, 2.5, \\\"x\\\"]\"},"
    "{\"type\":\"reasoning\",\"summary\":[]},{\"type\":\"function_call\",\"name\":\"f\",\"arguments\":\"{}\"}]",
    "[{\"type\":\"function_call\\u0000\",\"name\":\"f\",\"arguments\":\"{}\"}]",
    "[{\"typ\\u0065\":\"function_call\",\"name\":\"f\",\"name\":\"h\",\"arguments\":\"{\\\"a\\\":1}\"}]",
    "[{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"hi\"}]}]",
    "[{\"type\":\"message\",\"content\":[{\"text\":\"hi \\u00e9\",\"annotations\":[]}]}]",
    "[{\"type\":\"message\",\"content\":[{\"text\":\"no annotations\"}]}]",
    "[{\"type\":\"message\",\"role\":\"user\",\"content\":[{\"type\":\"output_text\",\"text\":\"u\"}]},"
    "{\"type\":\"message\",\"content\":[{\"type\":\"refusal\"},{\"type\":\"output_text\",\"text\":\"b\"}]}]",
    "[{\"type\":\"message\",\"content\":\"not a list\"}]",
    "[{\"type\":\"message\",\"role\":null,\"content\":[]}]",
    "[{\"type\":\"message\",\"content\":[{\"type\":\"output_text\",\"text\":7}]}]",
    "[{\"type\":\"message\",\"content\":[{\"type\":\"output_text\",\"text\":null}]}]",
    "[{\"type\":\"message\",\"content\":[]},{\"type\":\"message\",\"content\":[{\"type\":\"output_text\",\"text\":\"second\"}]}]",
    "[{\"type\":\"message\",\"content\":[{\"type\":\"output_text\",\"text\":\"m\"}]},"
    "{\"type\":\"function_call\",\"name\":\"f\",\"arguments\":\"{\\\"a\\\": 1}\"}]",
};

enum { NEXPECTED = sizeof EXPECTED_TEXTS / sizeof EXPECTED_TEXTS[0],
       NOUTPUTS = sizeof OUTPUT_TEXTS / sizeof OUTPUT_TEXTS[0] };

/* Both failed with the same reason, or both are actions of the same kind
 * and call names. */
static void same_action(const grade_action *a, const char *aerr, const grade_action *b,
                        const char *berr, const char *text)
{
    cr_assert_eq(!a, !b, "for %s: %s / %s", text, a ? "-" : aerr, b ? "-" : berr);
    if (!a) {
        cr_assert_str_eq(aerr, berr, "for %s", text);
        return;
    }
    cr_assert_eq(grade_action_kind_of(a), grade_action_kind_of(b), "for %s", text);
    cr_assert_eq(grade_action_ncalls(a), grade_action_ncalls(b), "for %s", text);
    for (size_t i = 0; i < grade_action_ncalls(a); i++)
        cr_assert_str_eq(grade_action_call_name(a, i), grade_action_call_name(b, i), "for %s", text);
}

/* The same judgment (verdict, or failure and its reason) either way. */
static void same_judgment(const grade_action *e1, const grade_action *a1, const grade_action *e2,
                          const grade_action *a2)
{
    grade_config cfg;
    grade_config_default(&cfg);
    cfg.mode = GRADE_MODE_FRACTIONAL;
    cfg.parallel_rewarding = true;
    grade_verdict v1 = {0}, v2 = {0};
    char w1[256] = "", w2[256] = "";
    int r1 = grade_judge_checked(&cfg, e1, a1, &v1, w1, sizeof w1);
    int r2 = grade_judge_checked(&cfg, e2, a2, &v2, w2, sizeof w2);
    cr_assert_eq(r1, r2);
    cr_assert_str_eq(w1, w2);
    cr_assert(r1 != 0 || (v1.reward == v2.reward && v1.category == v2.category));
}

Test(grade, text_readers_match_the_tree_readers)
{
    grade_action *et[NEXPECTED], *ex[NEXPECTED], *at[NOUTPUTS], *ax[NOUTPUTS];
    for (size_t i = 0; i < NEXPECTED; i++) {
        const char *t = EXPECTED_TEXTS[i];
        cr_assert(jtext_valid(t, strlen(t), JTEXT_PY, NULL, 0), "test text %s", t);
        json_t *tree = jtext_build(t, strlen(t), JTEXT_PY);
        char e1[256] = "", e2[256] = "";
        et[i] = grade_expected_unparsed(tree, e1, sizeof e1);
        ex[i] = grade_expected_unparsed_text(t, strlen(t), JTEXT_PY, e2, sizeof e2);
        same_action(et[i], e1, ex[i], e2, t);
        json_decref(tree);
    }
    for (size_t i = 0; i < NOUTPUTS; i++) {
        const char *t = OUTPUT_TEXTS[i];
        cr_assert(jtext_valid(t, strlen(t), JTEXT_PY, NULL, 0), "test text %s", t);
        json_t *resp = json_pack("{s:o}", "output", jtext_build(t, strlen(t), JTEXT_PY));
        char e1[256] = "", e2[256] = "";
        at[i] = grade_actual_from_response(resp, e1, sizeof e1);
        ax[i] = grade_actual_from_output_text(t, strlen(t), JTEXT_PY, e2, sizeof e2);
        same_action(at[i], e1, ax[i], e2, t);
        json_decref(resp);
    }
    char e[256];
    grade_action *none = grade_actual_from_output_text(NULL, 0, JTEXT_PY, e, sizeof e);
    cr_assert_null(none, "a response without output");
    cr_assert_str_eq(e, "response.output is missing or not an array");
    size_t judged = 0;
    for (size_t i = 0; i < NEXPECTED; i++)
        for (size_t k = 0; k < NOUTPUTS && et[i]; k++)
            if (at[k]) {   /* every mix of the two readers judges alike */
                same_judgment(et[i], at[k], ex[i], ax[k]);
                same_judgment(et[i], at[k], ex[i], at[k]);
                same_judgment(et[i], at[k], et[i], ax[k]);
                judged++;
            }
    cr_assert_gt(judged, 100);
    for (size_t i = 0; i < NEXPECTED; i++) {
        grade_action_free(et[i]);
        grade_action_free(ex[i]);
    }
    for (size_t i = 0; i < NOUTPUTS; i++) {
        grade_action_free(at[i]);
        grade_action_free(ax[i]);
    }
}
