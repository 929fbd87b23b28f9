/* Tests of verify.h: grading a verify request given as text, the spliced
 * output bytes in both styles, and the reasons for invalid requests. (The
 * callers are tested end to end in test_cli_grade.c and test_gym.c.) */
#include <stdlib.h>
#include <string.h>
#include "testutil.h"
#include "verify.h"

#define RCP "\"responses_create_params\":{\"input\":[]}"
#define RESP_MSG "\"response\":{\"output\":[{\"type\":\"message\",\"role\":\"assistant\"," \
                 "\"content\":[{\"type\":\"output_text\",\"text\":\"hi\"}]}]}"
#define EXP_MSG "\"expected_action\":{\"type\":\"message\",\"content\":\"hi\"}"

/* The graded text of req in style, or a failure. */
static char *graded(const char *req, verify_style style, grade_verdict *v)
{
    grade_config cfg;
    grade_config_default(&cfg);
    util_buf out = {0};
    char err[256];
    int rc = verify_text(&cfg, req, strlen(req), style, &out, v, err, sizeof err);
    cr_assert_eq(rc, VERIFY_OK, "%s: %s", req, err);
    return out.data;
}

Test(verify, splices_the_verdict_into_the_bytes)
{
    grade_verdict v;
    const char *cat = grade_category_text(GRADE_EXPECTED_CHAT_MESSAGE_FOUND);
    char want[1024];
    char *got = graded(" {" RCP ", " RESP_MSG ",\n" EXP_MSG " } \n", VERIFY_SPACED, &v);
    cr_assert_eq(v.reward, 1.0);
    snprintf(want, sizeof want, "{" RCP ", " RESP_MSG ",\n" EXP_MSG " , \"reward\": 1.0, \"category\": \"%s\"}", cat);
    cr_assert_str_eq(got, want, "white space outside the object is dropped, inside kept");
    free(got);
    got = graded("{" RCP "," RESP_MSG "," EXP_MSG "}", VERIFY_COMPACT, &v);
    snprintf(want, sizeof want, "{" RCP "," RESP_MSG "," EXP_MSG ",\"reward\":1.0,\"category\":\"%s\"}", cat);
    cr_assert_str_eq(got, want);
    free(got);
}

Test(verify, replaces_every_carried_verdict_in_place)
{
    grade_verdict v;
    const char *cat = grade_category_text(GRADE_EXPECTED_CHAT_MESSAGE_FOUND);
    char want[1024];
    /* duplicates, an escaped key, and values of any type are all replaced */
    char *got = graded("{\"reward\": [0.5], " RCP ", \"categ\\u006fry\": {\"x\": 1}, " RESP_MSG ", "
                       EXP_MSG ", \"reward\":null}", VERIFY_SPACED, &v);
    snprintf(want, sizeof want, "{\"reward\": 1.0, " RCP ", \"categ\\u006fry\": \"%s\", " RESP_MSG ", "
             EXP_MSG ", \"reward\":1.0}", cat);
    cr_assert_str_eq(got, want);
    free(got);
    /* only the missing one is inserted */
    got = graded("{" RCP ",\"category\":\"x\"," RESP_MSG "," EXP_MSG "}", VERIFY_COMPACT, &v);
    snprintf(want, sizeof want, "{" RCP ",\"category\":\"%s\"," RESP_MSG "," EXP_MSG ",\"reward\":1.0}", cat);
    cr_assert_str_eq(got, want);
    free(got);
}

Test(verify, verdict_without_output_text)
{
    grade_config cfg;
    grade_config_default(&cfg);
    grade_verdict v;
    char err[128];
    const char *req = "{" RCP ",\"response\":{\"output\":[]}," EXP_MSG "}";
    cr_assert_eq(verify_text(&cfg, req, strlen(req), VERIFY_SPACED, NULL, &v, err, sizeof err), VERIFY_OK);
    cr_assert_eq(v.reward, 0.0);
    cr_assert_eq(v.category, GRADE_NO_ACTION_FOUND);
}

Test(verify, reasons_for_invalid_requests)
{
    static const struct { const char *req, *why; } cases[] = {
        {"{", "invalid JSON at column"},
        {"{" RCP "," RESP_MSG "," EXP_MSG "} x", "extra data"},
        {"[" RCP "]", "invalid JSON at column"},
        {"[1]", "not a JSON object (it is a list)"},
        {"{" RESP_MSG "," EXP_MSG "}", "responses_create_params: field required"},
        {"{\"responses_create_params\":[]," RESP_MSG "," EXP_MSG "}", "responses_create_params: must be an object"},
        {"{" RCP "," EXP_MSG "}", "response: field required"},
        {"{" RCP ",\"response\":\"x\"," EXP_MSG "}", "response: must be an object"},
        {"{" RCP "," RESP_MSG "}", "expected_action: field required"},
        {"{" RCP "," RESP_MSG ",\"expected_action\":null}", "expected_action: must be an object"},
        {"{" RCP ",\"response\":{\"output\":[{\"type\":\"function_call\",\"name\":\"f\","
         "\"arguments\":\"{}\"}]},\"expected_action\":{\"type\":\"function_call\",\"name\":\"f\","
         "\"arguments\":\"{not json\"}}", "expected_action.arguments is not valid JSON"},
        {"{" RCP "," RESP_MSG ",\"expected_action\":{\"type\":\"function_call\",\"name\":\"f\","
         "\"arguments\":3}}", "expected_action: "},
        {"{" RCP ",\"response\":{\"output\":3}," EXP_MSG "}", "response: "},
    };
    grade_config cfg;
    grade_config_default(&cfg);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        util_buf out = {0};
        grade_verdict v;
        char err[256] = "";
        int rc = verify_text(&cfg, cases[i].req, strlen(cases[i].req), VERIFY_SPACED, &out, &v, err, sizeof err);
        cr_assert_eq(rc, VERIFY_INVALID, "%s", cases[i].req);
        cr_assert(strstr(err, cases[i].why), "%s: '%s' lacks '%s'",
                  cases[i].req, err, cases[i].why);
        util_buf_free(&out);
    }
}

Test(verify, kinds_report_both_action_types)
{
    static const char REQ[] =
        "{\"responses_create_params\":{\"input\":\"hi\"},"
        "\"response\":{\"output\":[{\"type\":\"function_call\",\"name\":\"f\",\"arguments\":\"{}\"},"
        "{\"type\":\"function_call\",\"name\":\"g\",\"arguments\":\"{}\"}]},"
        "\"expected_action\":{\"type\":\"message\",\"content\":\"ok\"}}";
    grade_config cfg;
    grade_config_default(&cfg);
    grade_verdict v;
    verify_kinds k = {NULL, NULL};
    char err[256];
    cr_assert_eq(verify_text_kinds(&cfg, REQ, strlen(REQ), VERIFY_COMPACT, NULL, &v, &k, err,
                                   sizeof err), VERIFY_OK, "%s", err);
    cr_assert_str_eq(k.expected, "message");
    cr_assert_str_eq(k.actual, "function_call_batch");
    cr_assert_eq(v.category, GRADE_NO_EXPECTED_CHAT_MESSAGE);
}
