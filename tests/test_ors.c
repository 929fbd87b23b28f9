/* Tests of the ORS handlers without HTTP: every route of docs/http-api.md §3-§5,
 * session-less and session-scoped, with their error paths. */
#include "test_ors_fixture.h"

static fx F;
static void setup(void) { fx_now = 1000.0; fx_open(&F, NULL); }
static void teardown(void) { fx_close(&F); }

#define SID "11111111-2222-4333-8444-555555555555"

/* ---- session-less routes ---- */

Test(ors, health_and_environment_list, .init = setup, .fini = teardown)
{
    wire_reply r = fx_call(&F, ors_health, NULL, NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.body_len, strlen("{\"status\":\"ok\"}"));
    cr_assert(memcmp(r.body, "{\"status\":\"ok\"}", r.body_len) == 0);
    wire_reply_free(&r);
    r = fx_call(&F, ors_list_environments, NULL, "ignored-sid", NULL);
    cr_assert_eq(r.status, 200);
    cr_assert(r.body_len == strlen("[\"" FX_ENV "\"]") && memcmp(r.body, "[\"" FX_ENV "\"]", r.body_len) == 0);
    wire_reply_free(&r);
}

Test(ors, shared_tools_are_submit_message, .init = setup, .fini = teardown)
{
    wire_reply r = fx_call(&F, ors_tools, FX_ENV, NULL, NULL);
    json_t *j = fx_json(&r);
    json_t *tools = json_object_get(j, "tools");
    cr_assert_eq(json_array_size(tools), 1);
    json_t *t = json_array_get(tools, 0);
    cr_assert_str_eq(json_string_value(json_object_get(t, "name")), "submit_message");
    cr_assert_str_eq(json_string_value(json_object_get(t, "description")),
                     "Reply to the user with a chat message instead of calling a function.");
    json_t *want = json_loads("{\"type\":\"object\",\"properties\":{\"content\":{\"type\":\"string\"}},"
                              "\"required\":[\"content\"]}", 0, NULL);
    cr_assert(json_equal(json_object_get(t, "input_schema"), want));
    json_decref(want);
    json_decref(j);
    wire_reply_free(&r);
}

Test(ors, environment_name_is_case_insensitive_and_checked, .init = setup, .fini = teardown)
{
    cr_assert(ors_env_matches(F.env, "NEMOTRON-FC-Pivot"));
    cr_assert_not(ors_env_matches(F.env, "other"));
    cr_assert_not(ors_env_matches(F.env, NULL));
    cr_assert_str_eq(ors_env_name(F.env), FX_ENV);
    wire_reply r = fx_call(&F, ors_tools, "NEMOTRON-FC-PIVOT", NULL, NULL);
    cr_assert_eq(r.status, 200);
    wire_reply_free(&r);
    r = fx_call(&F, ors_splits, "other", NULL, NULL);
    fx_expect_detail(&r, 404, "unknown environment 'other'");
    wire_reply_free(&r);
}

Test(ors, splits_with_types, .init = setup, .fini = teardown)
{
    wire_reply r = fx_call(&F, ors_splits, FX_ENV, "ignored", NULL);
    json_t *j = fx_json(&r);
    json_t *want = json_loads("[{\"name\":\"train\",\"type\":\"train\"},{\"name\":\"test\",\"type\":\"test\"},"
                              "{\"name\":\"dev\",\"type\":\"validation\"}]", 0, NULL);
    cr_assert(json_equal(j, want), "%.*s", (int)r.body_len, r.body);
    json_decref(want);
    json_decref(j);
    wire_reply_free(&r);
}

Test(ors, tasks_list_public_fields_only, .init = setup, .fini = teardown)
{
    wire_reply r = fx_call(&F, ors_tasks, FX_ENV, NULL, "{\"split\":\"train\"}");
    json_t *j = fx_json(&r);
    cr_assert_str_eq(json_string_value(json_object_get(j, "env_name")), FX_ENV);
    json_t *tasks = json_object_get(j, "tasks");
    cr_assert_eq(json_array_size(tasks), 5);
    json_t *t0 = json_array_get(tasks, 0);
    json_t *want = json_loads("{\"id\":\"train-0\",\"split\":\"train\",\"index\":0,"
                              "\"trajectory_id\":7,\"info\":{\"turn\":1}}", 0, NULL);
    cr_assert(json_equal(t0, want));
    json_decref(want);
    for (size_t i = 0; i < 5; i++)
        cr_assert_eq(json_integer_value(json_object_get(json_array_get(tasks, i), "index")), (json_int_t)i);
    cr_assert_null(strstr(r.body, "expected"), "tasks leak the expected action");
    cr_assert_null(strstr(r.body, "Paris"), "tasks leak row content");
    json_decref(j);
    wire_reply_free(&r);
}

Test(ors, tasks_and_num_tasks_errors, .init = setup, .fini = teardown)
{
    fx_handler hs[2] = {ors_tasks, ors_num_tasks};
    for (int i = 0; i < 2; i++) {
        wire_reply r = fx_call(&F, hs[i], FX_ENV, NULL, "{\"split\":\"nope\"}");
        fx_expect_detail(&r, 400, "Invalid split");
        wire_reply_free(&r);
        r = fx_call(&F, hs[i], FX_ENV, NULL, "{}");
        fx_expect_detail(&r, 422, "split: field required");
        wire_reply_free(&r);
        r = fx_call(&F, hs[i], FX_ENV, NULL, "{\"split\":3}");
        fx_expect_detail(&r, 422, "split: must be a string");
        wire_reply_free(&r);
        r = fx_call(&F, hs[i], FX_ENV, NULL, "{\"split\":");
        fx_expect_detail(&r, 422, NULL);
        wire_reply_free(&r);
        r = fx_call(&F, hs[i], FX_ENV, NULL, "[1]");
        fx_expect_detail(&r, 422, "request body must be a JSON object");
        wire_reply_free(&r);
        r = fx_call(&F, hs[i], FX_ENV, NULL, NULL);
        fx_expect_detail(&r, 422, NULL);
        wire_reply_free(&r);
    }
}

Test(ors, num_tasks_per_split, .init = setup, .fini = teardown)
{
    const char *splits[3] = {"train", "test", "dev"};
    int want[3] = {5, 1, 2};
    for (int i = 0; i < 3; i++) {
        char body[64];
        snprintf(body, sizeof body, "{\"split\":\"%s\"}", splits[i]);
        wire_reply r = fx_call(&F, ors_num_tasks, FX_ENV, NULL, body);
        json_t *j = fx_json(&r);
        cr_assert_eq(json_integer_value(json_object_get(j, "num_tasks")), want[i]);
        cr_assert_eq(json_object_size(j), 1);
        json_decref(j);
        wire_reply_free(&r);
    }
}

/* The index of the task /task answers for body, or -1 for 400 Invalid index. */
static int task_index_of(const char *index_json)
{
    char body[128];
    snprintf(body, sizeof body, "{\"split\":\"train\",\"index\":%s}", index_json);
    wire_reply r = fx_call(&F, ors_task, FX_ENV, NULL, body);
    int idx = -1;
    if (r.status == 400) {
        fx_expect_detail(&r, 400, "Invalid index");
    } else {
        cr_assert_eq(r.status, 200);
        json_t *j = fx_json(&r);
        json_t *t = json_object_get(j, "task");
        idx = (int)json_integer_value(json_object_get(t, "index"));
        char id[32];
        snprintf(id, sizeof id, "train-%d", idx);
        cr_assert_str_eq(json_string_value(json_object_get(t, "id")), id);
        json_decref(j);
    }
    wire_reply_free(&r);
    return idx;
}

Test(ors, task_follows_python_indexing, .init = setup, .fini = teardown)
{
    cr_assert_eq(task_index_of("0"), 0);
    cr_assert_eq(task_index_of("4"), 4);
    cr_assert_eq(task_index_of("-1"), 4);
    cr_assert_eq(task_index_of("-5"), 0);
    cr_assert_eq(task_index_of("5"), -1);
    cr_assert_eq(task_index_of("-6"), -1);
    cr_assert_eq(task_index_of("9223372036854775807"), -1);
    cr_assert_eq(task_index_of("-9223372036854775807"), -1);
}

Test(ors, task_errors, .init = setup, .fini = teardown)
{
    const char *bodies[] = {"{\"split\":\"train\"}", "{\"split\":\"train\",\"index\":\"1\"}",
                            "{\"split\":\"train\",\"index\":true}", "{\"split\":\"train\",\"index\":1.5}"};
    const char *details[] = {"index: field required", "index: must be an integer",
                             "index: must be an integer", "index: must be an integer"};
    for (int i = 0; i < 4; i++) {
        wire_reply r = fx_call(&F, ors_task, FX_ENV, NULL, bodies[i]);
        fx_expect_detail(&r, 422, details[i]);
        wire_reply_free(&r);
    }
    wire_reply r = fx_call(&F, ors_task, FX_ENV, NULL, "{\"split\":\"x\",\"index\":0}");
    fx_expect_detail(&r, 400, "Invalid split");
    wire_reply_free(&r);
}

/* The indices /task_range answers for the given start/stop JSON fragment. */
static void range_is(const char *fields, const char *want)
{
    char body[160];
    snprintf(body, sizeof body, "{\"split\":\"train\"%s}", fields);
    wire_reply r = fx_call(&F, ors_task_range, FX_ENV, NULL, body);
    json_t *j = fx_json(&r);
    json_t *tasks = json_object_get(j, "tasks");
    cr_assert(json_is_array(tasks), "%s", body);
    char got[64] = "";
    size_t i;
    json_t *t;
    json_array_foreach(tasks, i, t) {
        char n[8];
        snprintf(n, sizeof n, "%s%lld", i ? "," : "", (long long)json_integer_value(json_object_get(t, "index")));
        strcat(got, n);
    }
    cr_assert_str_eq(got, want, "range %s", fields);
    json_decref(j);
    wire_reply_free(&r);
}

Test(ors, task_range_clamps_like_python, .init = setup, .fini = teardown)
{
    range_is("", "0,1,2,3,4");
    range_is(",\"start\":null,\"stop\":null", "0,1,2,3,4");
    range_is(",\"start\":1,\"stop\":3", "1,2");
    range_is(",\"start\":3", "3,4");
    range_is(",\"stop\":-1", "0,1,2,3");
    range_is(",\"start\":-2", "3,4");
    range_is(",\"start\":-100,\"stop\":2", "0,1");
    range_is(",\"start\":2,\"stop\":100", "2,3,4");
    range_is(",\"start\":4,\"stop\":1", "");
    range_is(",\"start\":7,\"stop\":9", "");
    range_is(",\"start\":-1,\"stop\":-1", "");
    range_is(",\"start\":0,\"stop\":-100", "");
}

Test(ors, task_range_errors, .init = setup, .fini = teardown)
{
    wire_reply r = fx_call(&F, ors_task_range, FX_ENV, NULL, "{\"split\":\"train\",\"start\":\"a\"}");
    fx_expect_detail(&r, 422, "start: must be an integer");
    wire_reply_free(&r);
    r = fx_call(&F, ors_task_range, FX_ENV, NULL, "{\"split\":\"train\",\"stop\":[]}");
    fx_expect_detail(&r, 422, "stop: must be an integer");
    wire_reply_free(&r);
    r = fx_call(&F, ors_task_range, FX_ENV, NULL, "{\"split\":\"zzz\"}");
    fx_expect_detail(&r, 400, "Invalid split");
    wire_reply_free(&r);
}

/* ---- sessions ---- */

static bool is_uuid4(const char *s)
{
    if (strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !strchr("0123456789abcdef", s[i]))
            return false;
    }
    return s[14] == '4' && strchr("89ab", s[19]);
}

Test(ors, create_session_streams_a_fresh_uuid, .init = setup, .fini = teardown)
{
    char first[37] = "";
    for (int k = 0; k < 2; k++) {
        wire_reply r = fx_call(&F, ors_create_session, NULL, NULL, "");
        cr_assert_eq(r.status, 200);
        cr_assert_str_eq(r.content_type, WIRE_SSE);
        char uuid[37];
        cr_assert_eq(r.body_len, strlen("event: task_id\ndata: \n\nevent: end\ndata: \n\n") + 36);
        cr_assert(memcmp(r.body, "event: task_id\ndata: ", 21) == 0);
        memcpy(uuid, r.body + 21, 36);
        uuid[36] = '\0';
        cr_assert(is_uuid4(uuid), "%s", uuid);
        cr_assert(memcmp(r.body + 57, "\n\nevent: end\ndata: \n\n", 21) == 0);
        cr_assert_str_neq(uuid, first);
        strcpy(first, uuid);
        wire_reply_free(&r);
    }
    cr_assert_eq(ors_session_count(F.env), 0, "create_session must not open a session");
}

Test(ors, session_routes_require_the_header, .init = setup, .fini = teardown)
{
    fx_handler hs[] = {ors_create, ors_ping, ors_task_tools, ors_prompt, ors_call, ors_delete,
                       ors_delete_session};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) {
        wire_reply r = fx_call(&F, hs[i], FX_ENV, NULL, "{\"split\":\"train\",\"index\":0}");
        fx_expect_detail(&r, 400, "X-Session-ID header is required");
        wire_reply_free(&r);
        r = fx_call(&F, hs[i], FX_ENV, "", "{\"split\":\"train\",\"index\":0}");
        fx_expect_detail(&r, 400, "X-Session-ID header is required");
        wire_reply_free(&r);
    }
}

Test(ors, unknown_session_is_404, .init = setup, .fini = teardown)
{
    fx_handler hs[] = {ors_ping, ors_task_tools, ors_prompt, ors_call};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) {
        wire_reply r = fx_call(&F, hs[i], FX_ENV, "no-such-sid", "{\"name\":\"x\",\"input\":{}}");
        fx_expect_detail(&r, 404, "Active environment not found");
        wire_reply_free(&r);
    }
}

Test(ors, create_by_split_and_index_then_ping, .init = setup, .fini = teardown)
{
    wire_reply r = fx_call(&F, ors_create, NULL, SID, "{\"split\":\"train\",\"index\":-1,\"secrets\":{\"k\":\"v\"}}");
    json_t *j = fx_json(&r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(json_string_value(json_object_get(j, "sid")), SID);
    json_decref(j);
    wire_reply_free(&r);
    cr_assert_eq(ors_session_count(F.env), 1);
    r = fx_call(&F, ors_ping, NULL, SID, "");
    j = fx_json(&r);
    cr_assert_str_eq(json_string_value(json_object_get(j, "status")), "ok");
    json_decref(j);
    wire_reply_free(&r);
    /* index -1 is train-4, whose only tool is "book" */
    r = fx_call(&F, ors_task_tools, FX_ENV, SID, NULL);
    j = fx_json(&r);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(j, "tools"), 1), "name")), "book");
    json_decref(j);
    wire_reply_free(&r);
}

Test(ors, create_existing_session_is_refused, .init = setup, .fini = teardown)
{
    fx_create(&F, SID, 0);
    wire_reply r = fx_call(&F, ors_create, NULL, SID, "{\"split\":\"train\",\"index\":1}");
    fx_expect_detail(&r, 400, "Session already exists");
    wire_reply_free(&r);
    /* the first session keeps its task */
    r = fx_call(&F, ors_task_tools, FX_ENV, SID, NULL);
    cr_assert(strstr(r.body, "get_weather"));
    wire_reply_free(&r);
}

Test(ors, create_validation_errors, .init = setup, .fini = teardown)
{
    struct { const char *body; int status; const char *detail; } cases[] = {
        {"{}", 422, "either task_spec or split and index is required"},
        {"{\"split\":\"train\"}", 422, "index: field required with split"},
        {"{\"index\":0}", 422, "split: field required with index"},
        {"{\"task_spec\":{\"id\":\"train-0\"},\"split\":\"train\",\"index\":0}", 422,
         "give either task_spec or split and index, not both"},
        {"{\"task_spec\":\"train-0\"}", 422, "task_spec: must be an object"},
        {"{\"split\":\"train\",\"index\":\"0\"}", 422, "index: must be an integer"},
        {"{\"split\":1,\"index\":0}", 422, "split: must be a string"},
        {"{\"split\":\"nope\",\"index\":0}", 400, "Invalid split"},
        {"{\"split\":\"train\",\"index\":5}", 400, "Invalid index"},
        {"{\"split\":\"train\",\"index\":-6}", 400, "Invalid index"},
        {"{\"env_name\":\"other-env\",\"split\":\"train\",\"index\":0}", 404, "unknown environment 'other-env'"},
        {"{\"env_name\":5,\"split\":\"train\",\"index\":0}", 422, "env_name: must be a string"},
        {"{\"secrets\":[1],\"split\":\"train\",\"index\":0}", 422, "secrets: must be an object"},
        {"{\"task_spec\":{\"id\":\"train-99\"}}", 400, "Unknown task"},
        {"{\"task_spec\":{\"id\":\"nope-0\"}}", 400, "Unknown task"},
        {"{\"task_spec\":{}}", 400, "Unknown task"},
        {"{\"task_spec\":{\"split\":\"train\",\"index\":17}}", 400, "Unknown task"},
        {"not json", 422, NULL},
        {"[]", 422, "request body must be a JSON object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wire_reply r = fx_call(&F, ors_create, NULL, SID, cases[i].body);
        fx_expect_detail(&r, cases[i].status, cases[i].detail);
        wire_reply_free(&r);
    }
    cr_assert_eq(ors_session_count(F.env), 0);
}

Test(ors, create_from_a_listed_task_spec, .init = setup, .fini = teardown)
{
    wire_reply r = fx_call(&F, ors_task, FX_ENV, NULL, "{\"split\":\"train\",\"index\":2}");
    json_t *j = fx_json(&r);
    wire_reply_free(&r);
    json_t *body = json_pack("{s:O, s:s}", "task_spec", json_object_get(j, "task"), "env_name", "Nemotron-FC-Pivot");
    char *text = json_dumps(body, 0);
    r = fx_call(&F, ors_create, NULL, SID, text);
    cr_assert_eq(r.status, 200, "%.*s", (int)r.body_len, r.body);
    wire_reply_free(&r);
    r = fx_call(&F, ors_prompt, FX_ENV, SID, NULL);
    cr_assert(strstr(r.body, "Paris and Tokyo?"), "the session serves train-2");
    wire_reply_free(&r);
    free(text);
    json_decref(body);
    json_decref(j);
}

Test(ors, create_from_task_spec_by_split_and_index, .init = setup, .fini = teardown)
{
    wire_reply r = fx_call(&F, ors_create, NULL, SID, "{\"task_spec\":{\"split\":\"train\",\"index\":-4}}");
    cr_assert_eq(r.status, 200);
    wire_reply_free(&r);
    r = fx_call(&F, ors_prompt, FX_ENV, SID, NULL);
    cr_assert(strstr(r.body, "Hi there"), "-4 is train-1");
    wire_reply_free(&r);
}

Test(ors, forged_expected_action_in_task_spec_is_ignored, .init = setup, .fini = teardown)
{
    /* train-1 expects a chat message; the forged spec claims a call of lookup */
    const char *body = "{\"task_spec\":{\"id\":\"train-1\",\"split\":\"train\",\"index\":1,"
                       "\"expected_action\":{\"type\":\"function_call\",\"name\":\"lookup\",\"arguments\":\"{}\"}}}";
    wire_reply r = fx_call(&F, ors_create, NULL, SID, body);
    cr_assert_eq(r.status, 200);
    wire_reply_free(&r);
    json_t *res = fx_tool_call(&F, SID, "{\"name\":\"lookup\",\"input\":{}}", NULL);
    json_t *out = json_object_get(res, "output");
    cr_assert_eq(json_real_value(json_object_get(out, "reward")), 0.0);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(out, "metadata"), "category")),
                     "A tool call was executed when a chat message was expected");
    json_decref(res);
}

/* ---- task tools and prompt ---- */

Test(ors, task_tools_shared_then_row_tools, .init = setup, .fini = teardown)
{
    fx_create(&F, SID, 0);
    wire_reply r = fx_call(&F, ors_task_tools, FX_ENV, SID, NULL);
    json_t *j = fx_json(&r);
    json_t *tools = json_object_get(j, "tools");
    cr_assert_eq(json_array_size(tools), 3);
    const char *names[3] = {"submit_message", "get_weather", "get_time"};
    for (size_t i = 0; i < 3; i++) {
        json_t *t = json_array_get(tools, i);
        cr_assert_eq(json_object_size(t), 3);
        cr_assert_str_eq(json_string_value(json_object_get(t, "name")), names[i]);
    }
    json_t *w = json_array_get(tools, 1);
    cr_assert_str_eq(json_string_value(json_object_get(w, "description")), "Weather for a city.");
    json_t *want = json_loads("{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}", 0, NULL);
    cr_assert(json_equal(json_object_get(w, "input_schema"), want));
    json_decref(want);
    json_decref(j);
    wire_reply_free(&r);
}

Test(ors, task_tools_without_description_or_parameters, .init = setup, .fini = teardown)
{
    fx_create(&F, SID, 1);
    wire_reply r = fx_call(&F, ors_task_tools, FX_ENV, SID, NULL);
    json_t *j = fx_json(&r);
    json_t *t = json_array_get(json_object_get(j, "tools"), 1);
    json_t *want = json_loads("{\"name\":\"lookup\",\"description\":\"\",\"input_schema\":null}", 0, NULL);
    cr_assert(json_equal(t, want), "%.*s", (int)r.body_len, r.body);
    json_decref(want);
    json_decref(j);
    wire_reply_free(&r);
}

Test(ors, row_submit_message_is_served_once_as_its_own, .init = setup, .fini = teardown)
{
    fx_create(&F, SID, 3);
    wire_reply r = fx_call(&F, ors_task_tools, FX_ENV, SID, NULL);
    json_t *j = fx_json(&r);
    json_t *tools = json_object_get(j, "tools");
    cr_assert_eq(json_array_size(tools), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(tools, 0), "description")), "Own tool.");
    json_decref(j);
    wire_reply_free(&r);
    /* and it is graded as a function call with the input as arguments */
    json_t *res = fx_tool_call(&F, SID, "{\"name\":\"submit_message\",\"input\":{\"text\":\"hi\"}}", NULL);
    json_t *out = json_object_get(res, "output");
    cr_assert_eq(json_real_value(json_object_get(out, "reward")), 1.0);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(out, "metadata"), "expected_type")),
                     "function_call");
    json_decref(res);
}

Test(ors, prompt_renders_the_conversation, .init = setup, .fini = teardown)
{
    fx_create(&F, SID, 0);
    wire_reply r = fx_call(&F, ors_prompt, FX_ENV, SID, NULL);
    json_t *j = fx_json(&r);
    cr_assert(json_is_array(j) && json_array_size(j) == 1);
    json_t *b = json_array_get(j, 0);
    cr_assert_str_eq(json_string_value(json_object_get(b, "type")), "text");
    const char *text = json_string_value(json_object_get(b, "text"));
    const char *in_order[] = {"=== system ===\nYou are a weather bot.", "=== user ===\nWeather in Paris?",
                              "=== assistant tool call (call_9) ===\nget_time {\"tz\": \"CET\"}",
                              "=== tool output (call_9) ===\n14:00 CET",
                              "=== assistant ===\nLet me check.", "=== your turn ===", "submit_message"};
    const char *at = text;
    for (size_t i = 0; i < sizeof in_order / sizeof in_order[0]; i++) {
        const char *p = strstr(at, in_order[i]);
        cr_assert(p, "prompt lacks '%s' after position %td:\n%s", in_order[i], at - text, text);
        at = p + strlen(in_order[i]);
    }
    cr_assert_null(strstr(text, "SECRET-THOUGHT"), "reasoning must be skipped");
    cr_assert(strstr(text, "exactly one"));
    cr_assert(strstr(text, "get_weather"));
    json_t *d = json_object_get(b, "detail");
    cr_assert_eq(json_array_size(json_object_get(d, "input")), 6, "detail keeps reasoning items");
    char *input = json_dumps(json_object_get(d, "input"), 0);
    cr_assert(strstr(input, "SECRET-THOUGHT"), "detail.input keeps the reasoning text");
    free(input);
    cr_assert_eq(json_array_size(json_object_get(d, "tools")), 2);
    cr_assert(json_is_null(json_object_get(d, "tool_choice")));
    cr_assert(json_is_null(json_object_get(d, "parallel_tool_calls")));
    cr_assert_null(strstr(r.body, "expected_action"));
    json_decref(j);
    wire_reply_free(&r);
}

Test(ors, prompt_detail_carries_tool_choice, .init = setup, .fini = teardown)
{
    fx_create(&F, SID, 2);
    wire_reply r = fx_call(&F, ors_prompt, FX_ENV, SID, NULL);
    json_t *j = fx_json(&r);
    json_t *d = json_object_get(json_array_get(j, 0), "detail");
    cr_assert_str_eq(json_string_value(json_object_get(d, "tool_choice")), "auto");
    cr_assert(json_is_true(json_object_get(d, "parallel_tool_calls")));
    json_decref(j);
    wire_reply_free(&r);
}

/* ---- calls ---- */

/* Asserts the exact graded ToolOutput of a result. */
static void expect_graded(json_t *res, double reward, const char *category, const char *expected_type)
{
    char text[600];
    if (reward == 1.0)
        snprintf(text, sizeof text, "Correct.");
    else
        snprintf(text, sizeof text, "Incorrect: %s", category);
    json_t *want = json_pack("{s:b, s:{s:[{s:s, s:s, s:n}], s:{s:s, s:s}, s:f, s:b}}", "ok", 1,
                             "output", "blocks", "type", "text", "text", text, "detail", "metadata",
                             "category", category, "expected_type", expected_type, "reward", reward,
                             "finished", 1);
    char *got = json_dumps(res, JSON_COMPACT), *exp = json_dumps(want, JSON_COMPACT);
    cr_assert_str_eq(got, exp);
    free(got);
    free(exp);
    json_decref(want);
}

Test(ors, correct_function_call_scores_one, .init = setup, .fini = teardown)
{
    fx_create(&F, SID, 0);
    json_t *res = fx_tool_call(&F, SID, "{\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}}", NULL);
    expect_graded(res, 1.0, "A tool call that matches the expected tool call was found", "function_call");
    json_decref(res);
}

Test(ors, wrong_arguments_score_zero, .init = setup, .fini = teardown)
{
    fx_create(&F, SID, 0);
    json_t *res = fx_tool_call(&F, SID, "{\"name\":\"get_weather\",\"input\":{\"city\":\"paris\"}}", NULL);
    expect_graded(res, 0.0, "An argument value in a tool call is different than the expected value",
                  "function_call");
    json_decref(res);
}

Test(ors, other_tool_scores_zero, .init = setup, .fini = teardown)
{
    fx_create(&F, SID, 0);
    json_t *res = fx_tool_call(&F, SID, "{\"name\":\"get_time\",\"input\":{\"tz\":\"CET\"}}", NULL);
    expect_graded(res, 0.0, "The tool in a tool call is not the expected tool", "function_call");
    json_decref(res);
}

Test(ors, message_when_call_expected_scores_zero, .init = setup, .fini = teardown)
{
    fx_create(&F, SID, 0);
    json_t *res = fx_tool_call(&F, SID, "{\"name\":\"submit_message\",\"input\":{\"content\":\"It is sunny\"}}", NULL);
    expect_graded(res, 0.0, "No tool call was found when one was expected", "function_call");
    json_decref(res);
}

Test(ors, nested_arguments_are_compared_as_values, .init = setup, .fini = teardown)
{
    fx_create(&F, SID, 4);
    json_t *res = fx_tool_call(&F, SID, "{\"name\":\"book\",\"input\":{\"note\":\"please window seat\","
                                        "\"seat\":{\"n\":[1,2],\"row\":3}}}", NULL);
    expect_graded(res, 1.0, "A tool call that matches the expected tool call was found", "function_call");
    json_decref(res);
}

Test(ors, chat_message_expected_and_found, .init = setup, .fini = teardown)
{
    fx_create(&F, SID, 1);
    json_t *res = fx_tool_call(&F, SID, "{\"name\":\"submit_message\",\"input\":{\"content\":\"Hey\"}}", NULL);
    expect_graded(res, 1.0, "A chat message was found as expected", "message");
    json_decref(res);
}

Test(ors, batch_task_graded_as_batch_of_one_call, .init = setup, .fini = teardown)
{
    fx_create(&F, SID, 2);
    json_t *res = fx_tool_call(&F, SID, "{\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}}", NULL);
    expect_graded(res, 0.0, "The number of tool calls in a batch is different than expected",
                  "function_call_batch");
    json_decref(res);
}

Test(ors, unknown_tool_does_not_consume_the_submission, .init = setup, .fini = teardown)
{
    fx_create(&F, SID, 0);
    json_t *res = fx_tool_call(&F, SID, "{\"name\":\"launch\",\"input\":{}}", NULL);
    json_t *want = json_loads("{\"ok\":false,\"error\":\"'launch' is not a valid tool\"}", 0, NULL);
    cr_assert(json_equal(res, want));
    json_decref(want);
    json_decref(res);
    res = fx_tool_call(&F, SID, "{\"name\":\"submit_message\",\"input\":{\"text\":\"no content\"}}", NULL);
    cr_assert(json_is_false(json_object_get(res, "ok")));
    cr_assert(strstr(json_string_value(json_object_get(res, "error")), "content"));
    cr_assert_eq(json_object_size(res), 2);
    json_decref(res);
    res = fx_tool_call(&F, SID, "{\"name\":\"submit_message\",\"input\":{\"content\":7}}", NULL);
    cr_assert(json_is_false(json_object_get(res, "ok")));
    json_decref(res);
    res = fx_tool_call(&F, SID, "{\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}}", NULL);
    cr_assert_eq(json_real_value(json_object_get(json_object_get(res, "output"), "reward")), 1.0);
    json_decref(res);
}

Test(ors, second_submission_is_refused, .init = setup, .fini = teardown)
{
    fx_create(&F, SID, 0);
    json_t *res = fx_tool_call(&F, SID, "{\"name\":\"get_time\",\"input\":{}}", NULL);
    json_decref(res);
    const char *again[] = {"{\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}}",
                           "{\"name\":\"nope\",\"input\":{}}"};
    for (int i = 0; i < 2; i++) {
        res = fx_tool_call(&F, SID, again[i], NULL);
        json_t *want = json_loads("{\"ok\":false,\"error\":\"task already submitted\"}", 0, NULL);
        cr_assert(json_equal(res, want));
        json_decref(want);
        json_decref(res);
    }
    char *m = metrics_render(F.m, NULL);
    cr_assert(strstr(m, "\nfcpivot_submissions_total 1\n"), "%s", m);
    free(m);
}

Test(ors, replay_by_task_id_returns_the_same_stream_without_regrading, .init = setup, .fini = teardown)
{
    fx_create(&F, SID, 0);
    const char *body = "{\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}}";
    wire_reply first = fx_call(&F, ors_call, FX_ENV, SID, body);
    char id[37];
    memcpy(id, first.body + 21, 36);
    id[36] = '\0';
    char replay[256];
    snprintf(replay, sizeof replay, "{\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"},\"task_id\":\"%s\"}", id);
    fx_now += 30;
    wire_reply again = fx_call(&F, ors_call, FX_ENV, SID, replay);
    cr_assert_eq(again.body_len, first.body_len);
    cr_assert(memcmp(again.body, first.body, first.body_len) == 0);
    wire_reply_free(&again);
    wire_reply_free(&first);
    char *m = metrics_render(F.m, NULL);
    cr_assert(strstr(m, "\nfcpivot_submissions_total 1\n"));
    free(m);
    /* after result_ttl the result is gone */
    fx_now += 31;
    again = fx_call(&F, ors_call, FX_ENV, SID, replay);
    cr_assert_eq(again.status, 200);
    const char *want = "event: error\ndata: unknown task_id\n\n";
    cr_assert(again.body_len == strlen(want) && memcmp(again.body, want, again.body_len) == 0);
    wire_reply_free(&again);
}

Test(ors, unknown_task_id_is_an_error_event, .init = setup, .fini = teardown)
{
    fx_create(&F, SID, 0);
    wire_reply r = fx_call(&F, ors_call, FX_ENV, SID,
                           "{\"name\":\"get_weather\",\"input\":{},\"task_id\":\"00000000-0000-4000-8000-000000000000\"}");
    cr_assert_str_eq(r.content_type, WIRE_SSE);
    cr_assert_eq(r.body_len, strlen("event: error\ndata: unknown task_id\n\n"));
    cr_assert(memcmp(r.body, "event: error\ndata: unknown task_id\n\n", r.body_len) == 0);
    wire_reply_free(&r);
    /* the bogus replay consumed nothing */
    json_t *res = fx_tool_call(&F, SID, "{\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}}", NULL);
    cr_assert(json_is_true(json_object_get(res, "ok")));
    json_decref(res);
}

Test(ors, task_ids_belong_to_their_session, .init = setup, .fini = teardown)
{
    fx_create(&F, SID, 0);
    fx_create(&F, "other", 0);
    char id[37];
    json_t *res = fx_tool_call(&F, SID, "{\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}}", id);
    json_decref(res);
    char replay[256];
    snprintf(replay, sizeof replay, "{\"name\":\"get_weather\",\"input\":{},\"task_id\":\"%s\"}", id);
    wire_reply r = fx_call(&F, ors_call, FX_ENV, "other", replay);
    cr_assert(strstr(r.body, "unknown task_id"));
    wire_reply_free(&r);
}

Test(ors, long_tool_name_is_echoed_cut_to_256_bytes, .init = setup, .fini = teardown)
{
    fx_create(&F, SID, 0);
    /* "a" and 3,000 "é": byte 256 falls inside an "é", so the echo stops
     * before it, at 255 bytes; the result stays one small event. */
    size_t n = 3000;
    char *name = malloc(n * 2 + 2);
    name[0] = 'a';
    for (size_t i = 0; i < n; i++)
        memcpy(name + 1 + 2 * i, "\xc3\xa9", 2);
    name[2 * n + 1] = '\0';
    char *body = malloc(n * 2 + 64);
    sprintf(body, "{\"name\":\"%s\",\"input\":{}}", name);
    json_t *res = fx_tool_call(&F, SID, body, NULL);   /* asserts the framing and ASCII */
    const char *err = json_string_value(json_object_get(res, "error"));
    cr_assert_eq(strlen(err), 255 + strlen("'' is not a valid tool"), "%s", err);
    cr_assert(strncmp(err + 1, name, 255) == 0);
    cr_assert_str_eq(err + 256, "' is not a valid tool");
    json_decref(res);
    wire_reply r = fx_call(&F, ors_call, FX_ENV, SID, body);
    cr_assert_null(strstr(r.body, "event: chunk\n"));
    cr_assert_lt(r.body_len, 2048, "%zu bytes", r.body_len);
    wire_reply_free(&r);
    /* the submission was not consumed */
    res = fx_tool_call(&F, SID, "{\"name\":\"submit_message\",\"input\":{\"content\":\"x\"}}", NULL);
    cr_assert(json_is_true(json_object_get(res, "ok")));
    json_decref(res);
    free(body);
    free(name);
}

Test(ors, call_body_errors, .init = setup, .fini = teardown)
{
    fx_create(&F, SID, 0);
    struct { const char *body; const char *detail; } cases[] = {
        {"{\"input\":{}}", "name: field required"},
        {"{\"name\":1,\"input\":{}}", "name: must be a string"},
        {"{\"name\":\"get_weather\"}", "input: field required"},
        {"{\"name\":\"get_weather\",\"input\":[1]}", "input: must be an object"},
        {"{\"name\":\"get_weather\",\"input\":{},\"task_id\":5}", "task_id: must be a string"},
        {"{\"name\":", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wire_reply r = fx_call(&F, ors_call, FX_ENV, SID, cases[i].body);
        fx_expect_detail(&r, 422, cases[i].detail);
        wire_reply_free(&r);
    }
    json_t *res = fx_tool_call(&F, SID, "{\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"},\"task_id\":null}", NULL);
    cr_assert(json_is_true(json_object_get(res, "ok")), "invalid bodies consumed nothing");
    json_decref(res);
}

/* ---- delete, tombstones and reaping ---- */

Test(ors, delete_is_idempotent_and_leaves_410, .init = setup, .fini = teardown)
{
    fx_create(&F, SID, 0);
    for (int k = 0; k < 2; k++) {
        wire_reply r = fx_call(&F, ors_delete, NULL, SID, "");
        json_t *j = fx_json(&r);
        cr_assert_eq(r.status, 200);
        cr_assert_str_eq(json_string_value(json_object_get(j, "sid")), SID);
        json_decref(j);
        wire_reply_free(&r);
    }
    cr_assert_eq(ors_session_count(F.env), 0);
    fx_handler hs[] = {ors_ping, ors_task_tools, ors_prompt, ors_call};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) {
        wire_reply r = fx_call(&F, hs[i], FX_ENV, SID, "{\"name\":\"x\",\"input\":{}}");
        fx_expect_detail(&r, 410, "Session deleted");
        wire_reply_free(&r);
    }
    /* the sid can be used again */
    fx_create(&F, SID, 1);
    wire_reply r = fx_call(&F, ors_ping, NULL, SID, "");
    cr_assert_eq(r.status, 200);
    wire_reply_free(&r);
}

Test(ors, tombstones_expire_into_404, .init = setup, .fini = teardown)
{
    fx_create(&F, SID, 0);
    wire_reply r = fx_call(&F, ors_delete, NULL, SID, "");
    wire_reply_free(&r);
    fx_now += 901;
    ors_reap(F.env);
    r = fx_call(&F, ors_ping, NULL, SID, "");
    fx_expect_detail(&r, 404, "Active environment not found");
    wire_reply_free(&r);
}

Test(ors, delete_session_is_a_no_op, .init = setup, .fini = teardown)
{
    fx_create(&F, SID, 0);
    wire_reply r = fx_call(&F, ors_delete_session, NULL, SID, "");
    json_t *j = fx_json(&r);
    cr_assert_str_eq(json_string_value(json_object_get(j, "sid")), SID);
    json_decref(j);
    wire_reply_free(&r);
    cr_assert_eq(ors_session_count(F.env), 1);
    r = fx_call(&F, ors_delete_session, NULL, "never-created", "");
    cr_assert_eq(r.status, 200);
    wire_reply_free(&r);
}

Test(ors, reaper_deletes_idle_sessions_only, .init = setup, .fini = teardown)
{
    fx_create(&F, "idle", 0);
    fx_create(&F, "busy", 1);
    fx_now += 600;
    wire_reply r = fx_call(&F, ors_ping, NULL, "busy", "");   /* refreshes last-seen */
    wire_reply_free(&r);
    fx_now += 301;
    cr_assert_eq(ors_reap(F.env), 1);
    cr_assert_eq(ors_session_count(F.env), 1);
    r = fx_call(&F, ors_ping, NULL, "idle", "");
    fx_expect_detail(&r, 410, "Session deleted");
    wire_reply_free(&r);
    r = fx_call(&F, ors_ping, NULL, "busy", "");
    cr_assert_eq(r.status, 200);
    wire_reply_free(&r);
    char *m = metrics_render(F.m, NULL);
    cr_assert(strstr(m, "\nfcpivot_active_sessions 1\n"), "%s", m);
    free(m);
    fx_now += 901;
    cr_assert_eq(ors_reap(F.env), 1);
    cr_assert_eq(ors_session_count(F.env), 0);
}

Test(ors, every_session_request_refreshes_last_seen, .init = setup, .fini = teardown)
{
    fx_handler hs[] = {ors_task_tools, ors_prompt, ors_call};
    for (size_t i = 0; i < 3; i++) {
        fx_create(&F, SID, 0);
        fx_now += 800;
        wire_reply r = fx_call(&F, hs[i], FX_ENV, SID, "{\"name\":\"x\",\"input\":{}}");
        cr_assert_eq(r.status, 200);
        wire_reply_free(&r);
        fx_now += 800;
        cr_assert_eq(ors_reap(F.env), 0, "handler %zu did not refresh", i);
        r = fx_call(&F, ors_delete, NULL, SID, "");
        wire_reply_free(&r);
    }
}

Test(ors, short_ttl_configuration)
{
    ors_config cfg;
    ors_config_default(&cfg);
    cr_assert_str_eq(cfg.env_name, "nemotron-fc-pivot");
    cr_assert_eq(cfg.session_ttl, 900);
    cr_assert_eq(cfg.result_ttl, 60);
    cfg.session_ttl = 2;
    cfg.env_name = "my-env";
    fx f;
    fx_open(&f, &cfg);   /* real monotonic clock */
    cr_assert_str_eq(ors_env_name(f.env), "my-env");
    fx_create(&f, SID, 0);
    cr_assert_eq(ors_reap(f.env), 0);
    cr_assert_eq(ors_session_count(f.env), 1);
    fx_close(&f);
}

Test(ors, env_name_with_slash_is_refused)
{
    ors_config cfg;
    ors_config_default(&cfg);
    cfg.env_name = "a/b";
    char err[128] = "";
    cr_assert_null(ors_env_new((ds_dataset *)1, &cfg, NULL, err, sizeof err));
    cr_assert(strstr(err, "/"));
}

Test(ors, names_with_a_nul_never_match, .init = setup, .fini = teardown)
{
    wire_reply r = fx_call(&F, ors_num_tasks, FX_ENV, NULL, "{\"split\":\"train\\u0000x\"}");
    fx_expect_detail(&r, 400, "Invalid split");
    wire_reply_free(&r);
    r = fx_call(&F, ors_create, NULL, SID, "{\"task_spec\":{\"id\":\"train-0\\u0000\"}}");
    fx_expect_detail(&r, 400, "Unknown task");
    wire_reply_free(&r);
    r = fx_call(&F, ors_create, NULL, SID, "{\"env_name\":\"" FX_ENV "\\u0000\",\"split\":\"train\",\"index\":0}");
    cr_assert_eq(r.status, 404);
    wire_reply_free(&r);
    fx_create(&F, SID, 0);
    json_t *res = fx_tool_call(&F, SID, "{\"name\":\"get_weather\\u0000x\",\"input\":{\"city\":\"Paris\"}}", NULL);
    const json_t *err = json_object_get(res, "error");
    cr_assert(json_is_false(json_object_get(res, "ok")));
    cr_assert_eq(json_string_length(err), strlen("'get_weather") + 2 + strlen("' is not a valid tool"));
    json_decref(res);
    res = fx_tool_call(&F, SID, "{\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}}", NULL);
    cr_assert_eq(json_real_value(json_object_get(json_object_get(res, "output"), "reward")), 1.0,
                 "the NUL call consumed nothing");
    json_decref(res);
}

Test(ors, env_routes_check_the_environment, .init = setup, .fini = teardown)
{
    fx_create(&F, SID, 0);
    fx_handler hs[] = {ors_tools, ors_splits, ors_tasks, ors_num_tasks, ors_task, ors_task_range,
                       ors_task_tools, ors_prompt, ors_call};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) {
        wire_reply r = fx_call(&F, hs[i], "other-env", SID, "{\"split\":\"train\",\"index\":0}");
        fx_expect_detail(&r, 404, "unknown environment 'other-env'");
        wire_reply_free(&r);
    }
}

Test(ors, overlong_session_ids_are_refused, .init = setup, .fini = teardown)
{
    char *sid = malloc(2000);
    memset(sid, 'a', 1999);
    sid[1999] = '\0';
    wire_reply r = fx_call(&F, ors_create, NULL, sid, "{\"split\":\"train\",\"index\":0}");
    fx_expect_detail(&r, 400, NULL);
    wire_reply_free(&r);
    sid[1024] = '\0';   /* 1,024 bytes is still fine */
    fx_create(&F, sid, 0);
    free(sid);
}

/* A deterministic storm of mutated requests: every handler must answer with
 * a status and, for JSON replies, valid JSON; nothing may crash or leak. */
Test(ors, mutated_requests_never_break_a_handler, .init = setup, .fini = teardown, .timeout = 60)
{
    const char *seeds[] = {
        "{\"split\":\"train\",\"index\":-1}", "{\"split\":\"train\",\"start\":1,\"stop\":-1}",
        "{\"task_spec\":{\"id\":\"train-2\"},\"env_name\":\"" FX_ENV "\"}",
        "{\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}}",
        "{\"name\":\"submit_message\",\"input\":{\"content\":\"hi\"},\"task_id\":\"x\"}",
    };
    fx_handler hs[] = {ors_health, ors_list_environments, ors_tools, ors_splits, ors_tasks,
                       ors_num_tasks, ors_task, ors_task_range, ors_create_session, ors_create,
                       ors_ping, ors_task_tools, ors_prompt, ors_call, ors_delete,
                       ors_delete_session};
    const char alphabet[] = "{}[]\":,-0123456789.eE\\u tnfalsrx\xc3\xa9\xff";
    unsigned long long state = 42;
    char body[256];
    for (int iter = 0; iter < 3000; iter++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        const char *seed = seeds[(state >> 33) % 5];
        size_t len = strlen(seed);
        memcpy(body, seed, len + 1);
        for (int k = 0; k < 3 && len > 0; k++) {   /* a few byte edits: replace, cut */
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            size_t at = (size_t)(state >> 33) % len;
            if ((state >> 20) % 4 == 0)
                len = at;
            else
                body[at] = alphabet[(state >> 40) % (sizeof alphabet - 1)];
            body[len] = '\0';
        }
        const char *sid = (state >> 50) % 3 ? SID : NULL;
        if ((state >> 45) % 7 == 0)
            fx_create(&F, "mut", (int)((state >> 30) % 5)), sid = "mut";
        wire_request req = {.method = "POST", .path = "/", .session_id = sid, .body = body,
                            .body_len = len, .param = FX_ENV};
        wire_reply r = {0};
        hs[(state >> 36) % (sizeof hs / sizeof hs[0])](F.env, &req, &r);
        cr_assert(r.status >= 200 && r.status < 600);
        if (r.content_type && strcmp(r.content_type, WIRE_JSON) == 0) {
            json_t *j = json_loadb(r.body, r.body_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
            cr_assert(j, "invalid JSON reply: %.*s", (int)r.body_len, r.body);
            json_decref(j);
        }
        wire_reply_free(&r);
        if (sid && strcmp(sid, "mut") == 0) {
            req = (wire_request){.method = "POST", .path = "/delete", .session_id = "mut"};
            ors_delete(F.env, &req, &r);
            wire_reply_free(&r);
        }
    }
}
