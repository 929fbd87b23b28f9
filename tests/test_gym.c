/* Tests of the NeMo Gym resources-server handlers without HTTP (docs/http-api.md §7). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "testutil.h"
#include "gym.h"
#include "pyjson.h"

typedef void (*gym_handler)(gym_env *, const wire_request *, wire_reply *);

static wire_reply gcall(gym_env *env, gym_handler h, const char *body, size_t len)
{
    wire_request req = {.method = "POST", .path = "/", .body = body, .body_len = len};
    wire_reply r = {0};
    h(env, &req, &r);
    return r;
}

static json_t *reply_json(const wire_reply *r)
{
    cr_assert_str_eq(r->content_type, WIRE_JSON);
    json_error_t e;
    json_t *j = json_loadb(r->body, r->body_len, JSON_DECODE_ANY, &e);
    cr_assert(j, "not JSON: %s", e.text);
    return j;
}

static void expect_detail(gym_env *env, gym_handler h, const char *body, int status,
                          const char *detail)
{
    wire_reply r = gcall(env, h, body, body ? strlen(body) : 0);
    cr_assert_eq(r.status, status, "%s -> %d %.*s", body, r.status, (int)r.body_len, r.body);
    json_t *j = reply_json(&r);
    const char *d = json_string_value(json_object_get(j, "detail"));
    cr_assert(d, "no detail");
    if (detail)
        cr_assert(strstr(d, detail), "detail '%s' lacks '%s'", d, detail);
    json_decref(j);
    wire_reply_free(&r);
}

#define RCP "\"responses_create_params\":{\"input\":[{\"role\":\"user\",\"content\":\"hi\"}],\"tools\":[]}"
#define CALL_EXPECTED "\"expected_action\":{\"type\":\"function_call\",\"name\":\"f\",\"arguments\":\"{\\\"a\\\": 1}\"}"
#define CALL_RESPONSE(args) \
    "\"response\":{\"id\":\"r1\",\"output\":[{\"type\":\"function_call\",\"name\":\"f\",\"arguments\":\"" args "\",\"call_id\":\"c\"}]}"

static json_t *verify(gym_env *env, const char *body)
{
    wire_reply r = gcall(env, gym_verify, body, strlen(body));
    cr_assert_eq(r.status, 200, "%.*s", (int)r.body_len, r.body);
    json_t *j = reply_json(&r);
    wire_reply_free(&r);
    return j;
}

Test(gym, verify_echoes_the_request_with_reward_and_category)
{
    gym_env *env = gym_env_new(NULL, NULL);
    const char *body = "{" RCP "," CALL_RESPONSE("{\\\"a\\\": true}") "," CALL_EXPECTED
                       ",\"extra\":{\"keep\":[1,2]},\"_ng_task_index\":3}";
    json_t *j = verify(env, body);
    json_t *in = json_loads(body, 0, NULL);
    const char *key;
    json_t *v;
    json_object_foreach(in, key, v)
        cr_assert(json_equal(json_object_get(j, key), v), "field %s changed", key);
    cr_assert_eq(json_object_size(j), json_object_size(in) + 2);
    cr_assert(json_is_real(json_object_get(j, "reward")));
    cr_assert_eq(json_real_value(json_object_get(j, "reward")), 1.0);
    cr_assert_str_eq(json_string_value(json_object_get(j, "category")),
                     "A tool call that matches the expected tool call was found");
    json_decref(in);
    json_decref(j);
    gym_env_free(env);
}

Test(gym, verify_wrong_and_missing_actions)
{
    gym_env *env = gym_env_new(NULL, NULL);
    json_t *j = verify(env, "{" RCP "," CALL_RESPONSE("{\\\"a\\\": 2}") "," CALL_EXPECTED "}");
    cr_assert_eq(json_real_value(json_object_get(j, "reward")), 0.0);
    cr_assert_str_eq(json_string_value(json_object_get(j, "category")),
                     "An argument value in a tool call is different than the expected value");
    json_decref(j);
    j = verify(env, "{" RCP ",\"response\":{\"output\":[]}," CALL_EXPECTED "}");
    cr_assert_str_eq(json_string_value(json_object_get(j, "category")),
                     "No tool call or chat message was found in the response");
    json_decref(j);
    j = verify(env, "{" RCP ",\"response\":{\"output\":[{\"type\":\"message\",\"role\":\"assistant\","
                    "\"content\":[{\"type\":\"output_text\",\"text\":\"hello\"}]}]},"
                    "\"expected_action\":{\"type\":\"message\",\"content\":\"hi\"}}");
    cr_assert_eq(json_real_value(json_object_get(j, "reward")), 1.0);
    cr_assert_str_eq(json_string_value(json_object_get(j, "category")), "A chat message was found as expected");
    json_decref(j);
    gym_env_free(env);
}

Test(gym, verify_overwrites_given_reward_and_category)
{
    gym_env *env = gym_env_new(NULL, NULL);
    json_t *j = verify(env, "{" RCP "," CALL_RESPONSE("{\\\"a\\\": 1}") "," CALL_EXPECTED
                            ",\"reward\":0.0,\"category\":\"stale\"}");
    cr_assert_eq(json_real_value(json_object_get(j, "reward")), 1.0);
    cr_assert_str_neq(json_string_value(json_object_get(j, "category")), "stale");
    json_decref(j);
    gym_env_free(env);
}

Test(gym, verify_uses_the_configured_comparator)
{
    grade_config cfg;
    grade_config_default(&cfg);
    cfg.word_similarity_threshold = 0.45;   /* 2/(3+2) = 0.4 no longer passes */
    gym_env *strict = gym_env_new(&cfg, NULL), *dflt = gym_env_new(NULL, NULL);
    const char *body = "{" RCP ",\"response\":{\"output\":[{\"type\":\"function_call\",\"name\":\"q\","
                       "\"arguments\":\"{\\\"s\\\": \\\"New York\\\"}\"}]},\"expected_action\":"
                       "{\"type\":\"function_call\",\"name\":\"q\",\"arguments\":\"{\\\"s\\\": \\\"new york city\\\"}\"}}";
    json_t *a = verify(dflt, body), *b = verify(strict, body);
    cr_assert_eq(json_real_value(json_object_get(a, "reward")), 1.0);
    cr_assert_eq(json_real_value(json_object_get(b, "reward")), 0.0);
    json_decref(a);
    json_decref(b);
    gym_env_free(strict);
    gym_env_free(dflt);
}

Test(gym, verify_malformed_requests_are_422)
{
    gym_env *env = gym_env_new(NULL, NULL);
    expect_detail(env, gym_verify, NULL, 422, NULL);
    expect_detail(env, gym_verify, "{", 422, "invalid JSON");
    expect_detail(env, gym_verify, "[]", 422, "JSON object");
    expect_detail(env, gym_verify, "{" CALL_RESPONSE("{}") "," CALL_EXPECTED "}", 422,
                  "responses_create_params: field required");
    expect_detail(env, gym_verify, "{\"responses_create_params\":[]," CALL_RESPONSE("{}") "," CALL_EXPECTED "}",
                  422, "responses_create_params: must be an object");
    expect_detail(env, gym_verify, "{" RCP "," CALL_EXPECTED "}", 422, "response: field required");
    expect_detail(env, gym_verify, "{" RCP ",\"response\":\"x\"," CALL_EXPECTED "}", 422,
                  "response: must be an object");
    expect_detail(env, gym_verify, "{" RCP "," CALL_RESPONSE("{}") "}", 422, "expected_action: field required");
    expect_detail(env, gym_verify, "{" RCP "," CALL_RESPONSE("{}") ",\"expected_action\":{\"type\":\"function_call\","
                  "\"name\":\"f\",\"arguments\":\"{not json\"}}", 422, "expected_action");
    expect_detail(env, gym_verify, "{" RCP "," CALL_RESPONSE("{}") ",\"expected_action\":{\"type\":\"dance\"}}",
                  422, "expected_action");
    gym_env_free(env);
}

Test(gym, verify_reproduces_nemo_gym_rollouts)
{
    TU_REQUIRE_SHARED(path, "data/example_rollouts.jsonl");
    size_t len;
    char *text = tu_read_file(path, &len);
    cr_assert(text);
    gym_env *env = gym_env_new(NULL, NULL);
    size_t rows = 0;
    for (char *line = text, *nl; line < text + len; line = nl + 1) {
        nl = memchr(line, '\n', (size_t)(text + len - line));
        if (!nl)
            nl = text + len;
        if (nl == line)
            continue;
        json_t *want = json_loadb(line, (size_t)(nl - line), 0, NULL);
        cr_assert(want);
        char *req = strndup(line, (size_t)(nl - line));
        json_t *got = verify(env, req);
        free(req);
        cr_assert_eq(json_number_value(json_object_get(got, "reward")),
                     json_number_value(json_object_get(want, "reward")), "row %zu", rows);
        cr_assert_str_eq(json_string_value(json_object_get(got, "category")),
                         json_string_value(json_object_get(want, "category")), "row %zu", rows);
        json_decref(got);
        json_decref(want);
        rows++;
    }
    cr_assert_eq(rows, 5);
    free(text);
    gym_env_free(env);
}

Test(gym, seed_session_and_reverify_mode)
{
    gym_env *env = gym_env_new(NULL, NULL);
    const char *bodies[] = {"{}", "", "{\"x\":1}"};
    for (int i = 0; i < 3; i++) {
        wire_reply r = gcall(env, gym_seed_session, bodies[i], strlen(bodies[i]));
        cr_assert_eq(r.status, 200);
        cr_assert(r.body_len == 2 && memcmp(r.body, "{}", 2) == 0);
        wire_reply_free(&r);
    }
    expect_detail(env, gym_seed_session, "{oops", 422, NULL);
    wire_reply r = gcall(env, gym_reverify_mode, NULL, 0);
    cr_assert_eq(r.status, 200);
    cr_assert(r.body_len == 11 && memcmp(r.body, "\"stateless\"", 11) == 0);
    wire_reply_free(&r);
    gym_env_free(env);
}

static json_t *aggregate(gym_env *env, const char *body)
{
    wire_reply r = gcall(env, gym_aggregate_metrics, body, strlen(body));
    cr_assert_eq(r.status, 200, "%.*s", (int)r.body_len, r.body);
    json_t *j = reply_json(&r);
    wire_reply_free(&r);
    return j;
}

static double num(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    cr_assert(json_is_number(v), "%s missing", key);
    return json_number_value(v);
}

/* The handler reads the body with the Python dialect and answers agg's text
 * (agg's own statistics are tested in test_agg.c). */
Test(gym, aggregate_metrics_groups_by_task_index)
{
    gym_env *env = gym_env_new(NULL, NULL);
    const char *body =
        "{\"verify_responses\":["
        "{\"_ng_task_index\":1,\"_ng_rollout_index\":0,\"reward\":1.0,\"category\":\"a\"},"
        "{\"_ng_task_index\":0,\"_ng_rollout_index\":0,\"reward\":0.0},"
        "{\"_ng_task_index\":1,\"_ng_rollout_index\":1,\"reward\":0.0},"
        "{\"_ng_task_index\":0,\"_ng_rollout_index\":1,\"reward\":1.0,\"response\":{\"usage\":"
        "{\"input_tokens\":7,\"output_tokens\":3,\"total_tokens\":10}}},"
        "{\"_ng_task_index\":1,\"_ng_rollout_index\":2,\"reward\":1},"
        "{\"_ng_rollout_index\":2,\"reward\":0.5}]}";
    json_t *j = aggregate(env, body);
    json_t *groups = json_object_get(j, "group_level_metrics");
    cr_assert_eq(json_array_size(groups), 2, "a response without a task index counts as task 0");
    json_t *g0 = json_array_get(groups, 0), *g1 = json_array_get(groups, 1);
    cr_assert_eq(json_integer_value(json_object_get(g0, "_ng_task_index")), 0);
    cr_assert_eq(json_integer_value(json_object_get(g0, "num_rollouts")), 3);
    cr_assert_eq(num(g0, "mean/reward"), 0.5);
    cr_assert_eq(num(g0, "median/reward"), 0.5);
    cr_assert_float_eq(num(g0, "std/reward"), 0.5, 1e-15, "sample std of 0, 1, 0.5");
    cr_assert_eq(num(g0, "mean/input_tokens"), 7.0);
    cr_assert_eq(json_integer_value(json_object_get(g1, "_ng_task_index")), 1);
    cr_assert_float_eq(num(g1, "mean/reward"), 2.0 / 3, 1e-15);
    cr_assert_float_eq(num(g1, "std/reward"), sqrt(1.0 / 3), 1e-15, "sample std of 1, 0, 1");
    cr_assert(json_is_array(json_object_get(g1, "rollout_infos")));
    cr_assert_eq(json_array_size(json_object_get(g1, "rollout_infos")), 3);
    json_t *agent = json_object_get(j, "agent_metrics");
    cr_assert_float_eq(num(agent, "mean/reward"), 3.5 / 6, 1e-15);
    cr_assert_null(json_object_get(agent, "count/a"), "per-category counts belong to the report");
    json_t *key = json_object_get(j, "key_metrics");
    cr_assert_eq(json_object_size(key), 4, "mean/reward and the three token means");
    cr_assert_float_eq(num(key, "mean/reward"), 3.5 / 6, 1e-15);
    json_decref(j);
    gym_env_free(env);
}

Test(gym, aggregate_metrics_reads_python_json_and_writes_infinity)
{
    gym_env *env = gym_env_new(NULL, NULL);
    const char *body = "{\"verify_responses\":[{\"reward\":1e308,\"big\":123456789012345678901234567890},"
                       "{\"_ng_rollout_index\":1,\"reward\":1e308,\"x\":NaN}]}";
    wire_reply r = gcall(env, gym_aggregate_metrics, body, strlen(body));
    cr_assert_eq(r.status, 200, "%.*s", (int)r.body_len, r.body);
    cr_assert(strstr(r.body, "\"mean/reward\":Infinity"), "%.*s", (int)r.body_len, r.body);
    cr_assert(strstr(r.body, "\"max/reward\":1e+308"), "%.*s", (int)r.body_len, r.body);
    wire_reply_free(&r);
    gym_env_free(env);
}

Test(gym, aggregate_metrics_empty_and_malformed)
{
    gym_env *env = gym_env_new(NULL, NULL);
    json_t *j = aggregate(env, "{\"verify_responses\":[]}");
    json_t *want = json_loads("{\"group_level_metrics\":[],\"agent_metrics\":{},\"key_metrics\":{}}", 0, NULL);
    cr_assert(json_equal(j, want));
    json_decref(want);
    json_decref(j);
    /* boolean and missing rewards are accepted, as NeMo Gym accepts them */
    j = aggregate(env, "{\"verify_responses\":[{\"reward\":true},{\"_ng_rollout_index\":1}]}");
    json_t *am = json_object_get(j, "agent_metrics");
    cr_assert_eq(num(am, "mean/reward"), 1.0);
    cr_assert(json_is_real(json_object_get(am, "max/reward")), "a missing value makes the column float");
    json_decref(j);
    expect_detail(env, gym_aggregate_metrics, "{}", 422, "verify_responses: field required");
    expect_detail(env, gym_aggregate_metrics, "{\"verify_responses\":{}}", 422, "must be a list");
    expect_detail(env, gym_aggregate_metrics, "{\"verify_responses\":[3]}", 422, "[0]: must be an object");
    expect_detail(env, gym_aggregate_metrics, "{\"verify_responses\":[{\"reward\":1},{\"reward\":0}]}", 422,
                  "verify_responses[1]: duplicate (_ng_task_index, _ng_rollout_index) pair (0, 0)");
    expect_detail(env, gym_aggregate_metrics, "{\"verify_responses\":[{\"reward\":\"1\"}]}", 422,
                  "reward: must be a number");
    expect_detail(env, gym_aggregate_metrics, "{\"verify_responses\":[{\"reward\":1,\"_ng_task_index\":\"a\"}]}",
                  422, "_ng_task_index: must be an integer");
    expect_detail(env, gym_aggregate_metrics, "nope", 422, "not valid JSON");
    expect_detail(env, gym_aggregate_metrics, "[]", 422, "must be a JSON object");
    expect_detail(env, gym_aggregate_metrics, NULL, 422, "required");
    gym_env_free(env);
}

Test(gym, verify_records_submissions_in_metrics)
{
    metrics *m = metrics_new();
    gym_env *env = gym_env_new(NULL, m);
    json_t *j = verify(env, "{" RCP "," CALL_RESPONSE("{\\\"a\\\": 1}") "," CALL_EXPECTED "}");
    json_decref(j);
    j = verify(env, "{" RCP "," CALL_RESPONSE("{\\\"a\\\": 5}") "," CALL_EXPECTED "}");
    json_decref(j);
    char *text = metrics_render(m, NULL);
    cr_assert(strstr(text, "\nfcpivot_submissions_total 2\n"), "%s", text);
    cr_assert(strstr(text, "\nfcpivot_reward_mean 0.500000\n"), "%s", text);
    cr_assert(strstr(text, "\nfcpivot_grade_duration_seconds_count 2\n"), "%s", text);
    free(text);
    gym_env_free(env);
    metrics_free(m);
}

/* The exact reply text of /verify for body. */
static char *verify_text(gym_env *env, const char *body)
{
    wire_reply r = gcall(env, gym_verify, body, strlen(body));
    cr_assert_eq(r.status, 200, "%.*s", (int)r.body_len, r.body);
    char *t = strndup(r.body, r.body_len);
    wire_reply_free(&r);
    return t;
}

Test(gym, verify_echoes_the_request_bytes)
{
    gym_env *env = gym_env_new(NULL, NULL);
    /* Python-style separators, a float written 1e2, nested arrays in skipped
     * members and trailing white space all come back untouched */
    const char *body = "{\"responses_create_params\": {\"input\": [[{\"a\": [1, {}]}]], \"t\": 1e2}, "
                       "\"response\": {\"output\": [{\"type\": \"function_call\", \"name\": \"f\", "
                       "\"arguments\": \"{\\\"a\\\": 1}\"}]}, \"expected_action\": {\"type\": "
                       "\"function_call\", \"name\": \"f\", \"arguments\": \"{\\\"a\\\":1}\"}, "
                       "\"meta\": {\"k\": [[1], {\"z\": []}]}} \n";
    char *got = verify_text(env, body);
    size_t close = strrchr(body, '}') - body;
    cr_assert(strncmp(got, body, close) == 0, "prefix changed: %s", got);
    cr_assert_str_eq(got + close, ",\"reward\":1.0,\"category\":\"A tool call that matches the "
                                  "expected tool call was found\"}");
    json_t *j = json_loads(got, 0, NULL);
    cr_assert(j, "reply is JSON");
    json_decref(j);
    free(got);
    gym_env_free(env);
}

Test(gym, verify_members_are_found_like_a_json_parser_would)
{
    gym_env *env = gym_env_new(NULL, NULL);
    /* an escaped key, and a duplicate response whose last value wins */
    const char *body = "{\"responses\\u005fcreate_params\":{},"
                       "\"response\":{\"output\":[]},"
                       "\"s\":\"\\\"response\\\":{}\","
                       "\"response\":{\"output\":[{\"type\":\"message\",\"role\":\"assistant\","
                       "\"content\":[{\"type\":\"output_text\",\"text\":\"hi\"}]}]},"
                       "\"expected_action\":{\"type\":\"message\",\"content\":\"x\"}}";
    json_t *j = verify(env, body);
    cr_assert_eq(json_real_value(json_object_get(j, "reward")), 1.0);
    json_decref(j);
    expect_detail(env, gym_verify, "{\"responses_create_paramsX\":{},\"response\":{},\"expected_action\":{}}",
                  422, "responses_create_params: field required");
    expect_detail(env, gym_verify, "{\"responses_create_params\":{},\"response\":{},\"expected_action\":null}",
                  422, "expected_action: must be an object");
    expect_detail(env, gym_verify, " 5 ", 422, "JSON object");
    expect_detail(env, gym_verify, "{\"a\":\"\\ud800\"}", 422, "invalid JSON");
    gym_env_free(env);
}

Test(gym, verify_replaces_a_carried_verdict_in_place)
{
    gym_env *env = gym_env_new(NULL, NULL);
    const char *base = "\"responses_create_params\":{},\"response\":{\"output\":[]},"
                       "\"expected_action\":{\"type\":\"message\",\"content\":\"x\"}";
    const char *cat = "\"No tool call or chat message was found in the response\"";
    char body[512], want[512];
    snprintf(body, sizeof body, "{\"category\":\"old\",%s,\"reward\":{\"x\":[1]}}", base);
    snprintf(want, sizeof want, "{\"category\":%s,%s,\"reward\":0.0}", cat, base);
    char *got = verify_text(env, body);
    cr_assert_str_eq(got, want);
    free(got);
    snprintf(body, sizeof body, "{%s,\"reward\":1}", base);
    snprintf(want, sizeof want, "{%s,\"reward\":0.0,\"category\":%s}", base, cat);
    got = verify_text(env, body);
    cr_assert_str_eq(got, want);
    free(got);
    gym_env_free(env);
}

/* Mutated /verify and /aggregate_metrics bodies: a status always, and a 200
 * reply is valid JSON holding the verdict. */
Test(gym, mutated_requests_never_break_a_handler, .timeout = 60)
{
    gym_env *env = gym_env_new(NULL, NULL);
    const char *seeds[] = {
        "{" RCP "," CALL_RESPONSE("{\\\"a\\\": 1}") "," CALL_EXPECTED ",\"reward\":0}",
        " {\"expected_action\":{\"type\":\"message\",\"content\":\"x\"},\"response\":{\"output\":[]},"
        "\"category\":\"c\",\"responses_create_params\":{\"i\":[1,{}]}} ",
        "{\"verify_responses\":[{\"reward\":1,\"_ng_task_index\":0,\"category\":\"a\"},"
        "{\"_ng_rollout_index\":1,\"reward\":0.5}]}",
    };
    const char alphabet[] = "{}[]\":,-0123456789.eE\\u tnfalsrx\xc3\xa9";
    unsigned long long state = 7;
    char body[1024];
    size_t ok = 0;
    for (int iter = 0; iter < 3000; iter++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        int which = (int)((state >> 33) % 3);
        size_t len = strlen(seeds[which]);
        memcpy(body, seeds[which], len + 1);
        int edits = (int)((state >> 40) % 3);
        for (int k = 0; k < edits && len > 0; k++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            size_t at = (size_t)(state >> 33) % len;
            if ((state >> 20) % 5 == 0)
                len = at;
            else
                body[at] = alphabet[(state >> 44) % (sizeof alphabet - 1)];
        }
        wire_reply r = gcall(env, which == 2 ? gym_aggregate_metrics : gym_verify, body, len);
        cr_assert(r.status == 200 || r.status == 422, "status %d", r.status);
        /* aggregates may hold Infinity and NaN, as Python writes them */
        util_arena arena;
        util_arena_init(&arena, NULL, 0);
        pj_value pv;
        cr_assert(which < 2 || pj_parse(&arena, r.body, r.body_len, &pv, NULL, 0) == 0,
                  "invalid JSON reply to %.*s: %.*s", (int)len, body, (int)r.body_len, r.body);
        util_arena_free(&arena);
        json_t *j = which < 2 ? json_loadb(r.body, r.body_len, JSON_ALLOW_NUL, NULL) : json_object();
        cr_assert(j, "invalid JSON reply to %.*s: %.*s", (int)len, body, (int)r.body_len, r.body);
        if (r.status == 200 && which < 2) {
            cr_assert(json_is_real(json_object_get(j, "reward")), "%.*s", (int)r.body_len, r.body);
            cr_assert(json_is_string(json_object_get(j, "category")));
            ok++;
        }
        json_decref(j);
        wire_reply_free(&r);
    }
    cr_assert(ok > 100, "only %zu verify bodies survived the edits", ok);
    gym_env_free(env);
}

/* docs/grading.md §1.2 and §4.1 through /verify: a role-less message and an untyped
 * part with annotations are the assistant's text; unparsable expected
 * arguments get a verdict while no comparison reaches them, a 422 once one
 * does. */
Test(gym, verify_pydantic_defaults_and_unparsed_expected_arguments)
{
    gym_env *env = gym_env_new(NULL, NULL);
    json_t *j = verify(env, "{" RCP ",\"response\":{\"output\":[{\"type\":\"message\",\"content\":"
                            "[{\"text\":\"hello\",\"annotations\":[]}]}]},"
                            "\"expected_action\":{\"type\":\"message\",\"content\":\"hi\"}}");
    cr_assert_eq(json_real_value(json_object_get(j, "reward")), 1.0);
    cr_assert_str_eq(json_string_value(json_object_get(j, "category")), "A chat message was found as expected");
    json_decref(j);
#define BAD_EXPECTED "\"expected_action\":{\"type\":\"function_call\",\"name\":\"g\",\"arguments\":\"{\\\"a\\\":\"}"
    j = verify(env, "{" RCP "," CALL_RESPONSE("{}") "," BAD_EXPECTED "}");
    cr_assert_eq(json_real_value(json_object_get(j, "reward")), 0.0);
    cr_assert_str_eq(json_string_value(json_object_get(j, "category")),
                     "The tool in a tool call is not the expected tool");
    json_decref(j);
    j = verify(env, "{" RCP ",\"response\":{\"output\":[{\"type\":\"message\",\"content\":"
                    "[{\"type\":\"output_text\",\"text\":\"no\"}]}]}," BAD_EXPECTED "}");
    cr_assert_str_eq(json_string_value(json_object_get(j, "category")),
                     "No tool call was found when one was expected");
    json_decref(j);
    expect_detail(env, gym_verify,
                  "{" RCP ",\"response\":{\"output\":[{\"type\":\"function_call\",\"name\":\"g\","
                  "\"arguments\":\"{}\"}]}," BAD_EXPECTED "}",
                  422, "arguments is not valid JSON");
#undef BAD_EXPECTED
    gym_env_free(env);
}

/* A rollout of a row with Python's numbers (NaN, Infinity, 1e400, integers
 * of any size outside the arguments, which NeMo Gym reads) is graded, and
 * those bytes come back as they were. */
Test(gym, verify_reads_python_numbers_and_keeps_their_bytes)
{
    gym_env *env = gym_env_new(NULL, NULL);
    char big[420];
    memset(big, '9', 400);
    big[400] = '\0';
    char body[2048];
    snprintf(body, sizeof body,
             "{\"responses_create_params\":{\"input\":[],\"temperature\":NaN,\"top_p\":Infinity,"
             "\"max\":-Infinity,\"huge\":1e400,\"big\":%s}," CALL_RESPONSE("{\\\"a\\\": 1}") ","
             CALL_EXPECTED ",\"trajectory_id\":18446744073709551616}", big);
    wire_reply r = gcall(env, gym_verify, body, strlen(body));
    cr_assert_eq(r.status, 200, "%.*s", (int)r.body_len, r.body);
    cr_assert(r.body_len == strlen(body) + strlen(",\"reward\":1.0,\"category\":\"A tool call that matches "
                                                  "the expected tool call was found\""),
              "%.*s", (int)r.body_len, r.body);
    cr_assert(!memcmp(r.body, body, strlen(body) - 1), "the request's bytes are kept: %.*s", (int)r.body_len, r.body);
    wire_reply_free(&r);
    expect_detail(env, gym_verify, "{" RCP ",\"x\":nan," CALL_RESPONSE("{}") "," CALL_EXPECTED "}", 422,
                  "invalid JSON");
    gym_env_free(env);
}
