/* Rows NeMo Gym accepts (docs/dataset.md §4) load without
 * --skip-invalid and serve whole ORS episodes, and whatever fcpivot sends
 * back carries the row's own bytes for numbers jansson cannot hold. */
#include "test_ors_fixture.h"
#include "gym.h"
#include "pyjson.h"

#define TOOL(name, desc, params) \
    "{\"type\":\"function\",\"name\":\"" name "\",\"description\":\"" desc "\",\"parameters\":" params ",\"strict\":true}"
#define USER "[{\"role\":\"user\",\"content\":\"Weather in Paris?\"}]"
#define CALL_W "{\"type\":\"function_call\",\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\": \\\"Paris\\\"}\"}"
#define PLAIN "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}"
#define BIG_SCHEMA "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"},\"n\":{\"type\":\"integer\",\"maximum\":18446744073709551615,\"minimum\":-99999999999999999999999}}}"
#define ODD_SCHEMA "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"},\"x\":{\"type\":\"number\",\"default\":NaN,\"minimum\":-Infinity,\"maximum\":1e400,\"multipleOf\":Infinity}}}"

/* train-0: duplicate tool names (the first is the task's).
 * train-1: a web_search tool beside the function tool.
 * train-2: integers beyond 64 bits in a schema and as trajectory_id (2^63).
 * train-3: NaN, Infinity, -Infinity and 1e400 in a schema and an input item.
 * train-4: a message expected; metadata null, tool_choice "required", an
 *          output_text part in a user message, an earlier call whose
 *          arguments are a list, a tool without strict. */
#define ROWS                                                                                   \
    "{\"responses_create_params\":{\"input\":" USER ",\"tools\":[" TOOL("get_weather", "First", PLAIN) "," \
    TOOL("get_weather", "Second", PLAIN) "]},\"expected_action\":" CALL_W "}\n"                \
    "{\"responses_create_params\":{\"input\":" USER ",\"tools\":[{\"type\":\"web_search\"}," \
    TOOL("get_weather", "W", PLAIN) "]},\"expected_action\":" CALL_W "}\n"                     \
    "{\"responses_create_params\":{\"input\":" USER ",\"tools\":[" TOOL("get_weather", "W", BIG_SCHEMA) \
    "]},\"expected_action\":" CALL_W ",\"trajectory_id\":9223372036854775808,\"info\":{\"big\":123456789012345678901234567890}}\n" \
    "{\"responses_create_params\":{\"input\":[{\"role\":\"user\",\"content\":\"Weather?\",\"score\":Infinity}]," \
    "\"tools\":[" TOOL("get_weather", "W", ODD_SCHEMA) "],\"temperature\":NaN},\"expected_action\":" CALL_W "}\n" \
    "{\"responses_create_params\":{\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"output_text\",\"text\":\"hi\"}]}," \
    "{\"type\":\"function_call\",\"name\":\"get_weather\",\"arguments\":\"[1]\",\"call_id\":\"c\"}]," \
    "\"tools\":[{\"type\":\"function\",\"name\":\"get_weather\",\"parameters\":" PLAIN "}],"  \
    "\"tool_choice\":\"required\",\"metadata\":null},"                                          \
    "\"expected_action\":{\"type\":\"message\",\"content\":\"Which city?\"}}\n" CALC_ROW

/* train-5: expected arguments with a 20-digit integer and a lone surrogate. */
#define CALC_ARGS "{\\\"n\\\": 12345678901234567890, \\\"s\\\": \\\"\\\\ud800\\\", \\\"x\\\": 1.5}"
#define CALC_EXPECTED "{\"type\":\"function_call\",\"name\":\"calc\",\"arguments\":\"" CALC_ARGS "\"}"
#define CALC_ROW                                                                               \
    "{\"responses_create_params\":{\"input\":" USER ",\"tools\":[" TOOL("calc", "C", PLAIN) "]}," \
    "\"expected_action\":" CALC_EXPECTED "}\n"

static fx F;
static void setup(void) { fx_now = 1000.0; fx_open_train(&F, ROWS, NULL); }
static void teardown(void) { fx_close(&F); }

/* The reply body must be JSON as Python reads it (NaN, big integers). */
static void assert_python_json(const wire_reply *r)
{
    util_arena a;
    util_arena_init(&a, NULL, 0);
    pj_value v;
    char err[128];
    cr_assert_eq(pj_parse(&a, r->body, r->body_len, &v, err, sizeof err), 0, "%s: %.*s", err,
                 (int)r->body_len, r->body);
    util_arena_free(&a);
}

static bool body_has(const wire_reply *r, const char *needle)
{
    return memmem(r->body, r->body_len, needle, strlen(needle)) != NULL;
}

/* A whole episode on train[index] answered with body: reward 1. */
static void episode(int index, const char *sid, const char *body)
{
    fx_create(&F, sid, index);
    json_t *res = fx_tool_call(&F, sid, body, NULL);
    json_t *out = json_object_get(res, "output");
    cr_assert_eq(json_real_value(json_object_get(out, "reward")), 1.0, "train-%d: %s", index,
                 json_string_value(json_object_get(json_object_get(out, "metadata"), "category")));
    json_decref(res);
}

#define ANSWER "{\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}}"

Test(ors_dropin, every_row_loads_with_warnings, .init = setup, .fini = teardown)
{
    cr_assert_eq(ds_split_size(F.ds, 0), 6);
    cr_assert_eq(ds_skipped_rows(F.ds), 0);
    cr_assert_eq(ds_warning_count(F.ds), 5, "every row but train-5 warns");
}

Test(ors_dropin, duplicate_tools_serve_the_first, .init = setup, .fini = teardown)
{
    episode(0, "s0", ANSWER);
    wire_reply r = fx_call(&F, ors_task_tools, FX_ENV, "s0", NULL);
    json_t *j = fx_json(&r);
    json_t *tools = json_object_get(j, "tools");
    cr_assert_eq(json_array_size(tools), 2, "%.*s", (int)r.body_len, r.body);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(tools, 1), "description")), "First");
    json_decref(j);
    wire_reply_free(&r);
}

Test(ors_dropin, non_function_tools_are_not_task_tools, .init = setup, .fini = teardown)
{
    episode(1, "s1", ANSWER);
    wire_reply r = fx_call(&F, ors_task_tools, FX_ENV, "s1", NULL);
    json_t *j = fx_json(&r);
    json_t *tools = json_object_get(j, "tools");
    cr_assert_eq(json_array_size(tools), 2);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(tools, 1), "name")), "get_weather");
    cr_assert(!body_has(&r, "web_search"));
    json_decref(j);
    wire_reply_free(&r);
    json_t *res = fx_tool_call(&F, "s1", "{\"name\":\"web_search\",\"input\":{}}", NULL);
    cr_assert_str_eq(json_string_value(json_object_get(res, "error")), "task already submitted");
    json_decref(res);
}

Test(ors_dropin, big_integers_come_back_byte_identical, .init = setup, .fini = teardown)
{
    episode(2, "s2", ANSWER);
    const char *want[] = {"\"maximum\":18446744073709551615", "\"minimum\":-99999999999999999999999"};
    fx_handler routes[] = {ors_task_tools, ors_prompt};
    for (int k = 0; k < 2; k++) {
        wire_reply r = fx_call(&F, routes[k], FX_ENV, "s2", NULL);
        cr_assert_eq(r.status, 200);
        for (int w = 0; w < 2; w++)
            cr_assert(body_has(&r, want[w]), "%s lacks %s: %.*s", k ? "prompt" : "task_tools", want[w],
                      (int)r.body_len, r.body);
        assert_python_json(&r);
        wire_reply_free(&r);
    }
    wire_reply r = fx_call(&F, ors_task, FX_ENV, NULL, "{\"split\":\"train\",\"index\":2}");
    cr_assert_eq(r.status, 200);
    cr_assert(body_has(&r, "\"trajectory_id\":9223372036854775808"), "%.*s", (int)r.body_len, r.body);
    cr_assert(body_has(&r, "\"info\":{\"big\":123456789012345678901234567890}"), "%.*s", (int)r.body_len, r.body);
    wire_reply_free(&r);
    r = fx_call(&F, ors_tasks, FX_ENV, NULL, "{\"split\":\"train\"}");
    cr_assert(body_has(&r, "\"trajectory_id\":9223372036854775808"));
    assert_python_json(&r);
    wire_reply_free(&r);
}

Test(ors_dropin, nan_and_infinity_come_back_byte_identical, .init = setup, .fini = teardown)
{
    episode(3, "s3", ANSWER);
    const char *want = "\"default\":NaN,\"minimum\":-Infinity,\"maximum\":1e400,\"multipleOf\":Infinity";
    wire_reply r = fx_call(&F, ors_task_tools, FX_ENV, "s3", NULL);
    cr_assert(body_has(&r, want), "%.*s", (int)r.body_len, r.body);
    assert_python_json(&r);
    wire_reply_free(&r);
    r = fx_call(&F, ors_prompt, FX_ENV, "s3", NULL);
    cr_assert(body_has(&r, want), "%.*s", (int)r.body_len, r.body);
    cr_assert(body_has(&r, "\"score\":Infinity"), "input items keep their bytes: %.*s", (int)r.body_len, r.body);
    assert_python_json(&r);
    wire_reply_free(&r);
}

Test(ors_dropin, flagged_shapes_still_serve, .init = setup, .fini = teardown)
{
    episode(4, "s4", "{\"name\":\"submit_message\",\"input\":{\"content\":\"Which city do you mean?\"}}");
    wire_reply r = fx_call(&F, ors_prompt, FX_ENV, "s4", NULL);
    cr_assert(body_has(&r, "\"tool_choice\":\"required\""), "%.*s", (int)r.body_len, r.body);
    cr_assert(body_has(&r, "get_weather [1]"), "the earlier call is rendered: %.*s", (int)r.body_len, r.body);
    wire_reply_free(&r);
}

/* The verdict /verify gives to a response calling calc with args_text. */
static void verify_verdict(const char *args_text, double *reward, char *category, size_t catsz)
{
    util_buf body = {0};
    cr_assert_eq(util_buf_puts(&body, "{\"responses_create_params\":{\"input\":[]},\"response\":{\"output\":"
                                      "[{\"type\":\"function_call\",\"name\":\"calc\",\"arguments\":"), 0);
    util_buf_json_string(&body, args_text, strlen(args_text));
    util_buf_puts(&body, "}]},\"expected_action\":" CALC_EXPECTED "}");
    gym_env *g = gym_env_new(NULL, NULL);
    wire_request req = {.method = "POST", .path = "/verify", .body = body.data, .body_len = body.len};
    wire_reply r = {0};
    gym_verify(g, &req, &r);
    cr_assert_eq(r.status, 200, "%.*s", (int)r.body_len, r.body);
    util_arena a;
    util_arena_init(&a, NULL, 0);
    pj_value v;
    cr_assert_eq(pj_parse(&a, r.body, r.body_len, &v, NULL, 0), 0);
    *reward = pj_object_get(&v, "reward", 6)->u.f;
    const pj_value *c = pj_object_get(&v, "category", 8);
    snprintf(category, catsz, "%.*s", (int)c->u.str.len, c->u.str.s);
    util_arena_free(&a);
    wire_reply_free(&r);
    gym_env_free(g);
    free(body.data);
}

/* docs/http-api.md §5.4: the /call body is read as Python's json reads what
 * json.dumps wrote, so an input /verify can grade is graded alike. */
Test(ors_dropin, call_grades_python_json_like_verify, .init = setup, .fini = teardown)
{
    static const char *const inputs[] = {
        "{\"n\": 12345678901234567890, \"s\": \"\\ud800\", \"x\": 1.5}",
        "{\"x\": 1.5, \"s\": \"\\ud800\", \"n\": 12345678901234567890}",
        "{\"n\": 12345678901234567891, \"s\": \"\\ud800\", \"x\": 1.5}",
        "{\"n\": 12345678901234567890, \"s\": \"\\ud800\", \"x\": NaN}",
        "{\"n\": 12345678901234567890, \"s\": \"\\udc00\", \"x\": Infinity}",
        "{\"n\": 12345678901234567890.0, \"s\": \"\\ud800\", \"x\": 1.5}",
    };
    const double want_reward[] = {1.0, 1.0, 0.0, 0.0, 0.0, 0.0};
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        char sid[32], body[512], cat[256];
        snprintf(sid, sizeof sid, "calc-%zu", i);
        snprintf(body, sizeof body, "{\"name\": \"calc\", \"input\": %s}", inputs[i]);
        fx_create(&F, sid, 5);
        json_t *res = fx_tool_call(&F, sid, body, NULL);
        json_t *out = json_object_get(res, "output");
        cr_assert(out, "%s: %s", inputs[i], json_string_value(json_object_get(res, "error")));
        double reward;
        verify_verdict(inputs[i], &reward, cat, sizeof cat);
        cr_assert_eq(reward, want_reward[i], "%s: /verify says %s", inputs[i], cat);
        cr_assert_eq(json_real_value(json_object_get(out, "reward")), reward, "%s", inputs[i]);
        cr_assert_str_eq(json_string_value(json_object_get(json_object_get(out, "metadata"), "category")),
                         cat, "%s", inputs[i]);
        json_decref(res);
    }
}

static unsigned long long submissions(void)
{
    size_t len;
    char *text = metrics_render(F.m, &len);
    const char *at = strstr(text, "\nfcpivot_submissions_total ");
    cr_assert(at);
    unsigned long long n = strtoull(at + strlen("\nfcpivot_submissions_total "), NULL, 10);
    free(text);
    return n;
}

/* docs/http-api.md §5.5: a client that lost the reply before the task_id
 * repeats the same POST; it gets the graded result under a new task_id, and
 * the submission is graded (and counted) once. */
Test(ors_dropin, identical_retry_replays_the_graded_result, .init = setup, .fini = teardown)
{
    fx_create(&F, "lost", 0);
    char id1[37], id2[37], id3[37];
    json_t *first = fx_tool_call(&F, "lost", "{\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}}", id1);
    cr_assert_eq(json_real_value(json_object_get(json_object_get(first, "output"), "reward")), 1.0);
    cr_assert_eq(submissions(), 1);
    /* the same call again (json.dumps spacing this time) */
    json_t *again = fx_tool_call(&F, "lost", "{\"name\": \"get_weather\", \"input\": {\"city\": \"Paris\"}}", id2);
    cr_assert(json_equal(first, again), "the graded result is replayed");
    cr_assert_str_neq(id1, id2, "under a new task_id");
    cr_assert_eq(submissions(), 1, "graded once");
    /* its new task_id replays too */
    char body[160];
    snprintf(body, sizeof body, "{\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"},\"task_id\":\"%s\"}", id2);
    json_t *by_id = fx_tool_call(&F, "lost", body, id3);
    cr_assert(json_equal(first, by_id));
    cr_assert_str_eq(id3, id2);
    /* another call is still refused */
    json_t *other = fx_tool_call(&F, "lost", "{\"name\":\"get_weather\",\"input\":{\"city\":\"Lyon\"}}", NULL);
    cr_assert_str_eq(json_string_value(json_object_get(other, "error")), "task already submitted");
    cr_assert_eq(submissions(), 1);
    json_decref(first);
    json_decref(again);
    json_decref(by_id);
    json_decref(other);
}

/* The official client sends a listed task back verbatim as /create's
 * task_spec: a trajectory_id of 2^63 in it must not make /create fail. */
Test(ors_dropin, create_from_a_listed_task_with_a_big_trajectory_id, .init = setup, .fini = teardown)
{
    wire_reply r = fx_call(&F, ors_task, FX_ENV, NULL, "{\"split\":\"train\",\"index\":2}");
    cr_assert_eq(r.status, 200);
    const char *task = memmem(r.body, r.body_len, "{\"id\"", 5);
    cr_assert(task);
    char body[512];
    snprintf(body, sizeof body, "{\"env_name\":\"" FX_ENV "\",\"task_spec\":%.*s", (int)(r.body_len - (size_t)(task - r.body)),
             task);
    wire_reply_free(&r);
    r = fx_call(&F, ors_create, NULL, "spec", body);
    cr_assert_eq(r.status, 200, "%s -> %.*s", body, (int)r.body_len, r.body);
    wire_reply_free(&r);
    json_t *res = fx_tool_call(&F, "spec", ANSWER, NULL);
    cr_assert_eq(json_real_value(json_object_get(json_object_get(res, "output"), "reward")), 1.0);
    json_decref(res);
}
