/* Tests of the transport-neutral reply helpers: JSON, details, SSE framing. */
#include <stdlib.h>
#include <string.h>
#include "testutil.h"
#include "wire.h"

static void expect_body(const wire_reply *r, const char *want)
{
    cr_assert_eq(r->body_len, strlen(want), "body '%.*s' vs '%s'", (int)r->body_len, r->body, want);
    cr_assert(memcmp(r->body, want, r->body_len) == 0, "body '%.*s' vs '%s'", (int)r->body_len,
              r->body, want);
}

Test(wire, json_reply_is_compact)
{
    wire_reply r = {0};
    wire_reply_json(&r, 201, json_pack("{s:[i,i], s:s, s:f}", "a", 1, 2, "b", "é", "c", 1.0));
    cr_assert_eq(r.status, 201);
    cr_assert_str_eq(r.content_type, WIRE_JSON);
    expect_body(&r, "{\"a\":[1,2],\"b\":\"é\",\"c\":1.0}");
    wire_reply_free(&r);
    cr_assert_null(r.body);
    cr_assert_eq(r.body_len, 0);
}

Test(wire, json_reply_of_null_is_a_500)
{
    wire_reply r = {0};
    wire_reply_json(&r, 200, NULL);
    cr_assert_eq(r.status, 500);
    expect_body(&r, "{\"detail\":\"out of memory\"}");
    wire_reply_free(&r);
}

Test(wire, detail_formats_and_replaces_previous_body)
{
    wire_reply r = {0};
    wire_reply_json(&r, 200, json_pack("{s:i}", "x", 1));
    wire_reply_detail(&r, 404, "unknown environment '%s'", "a\"b");
    cr_assert_eq(r.status, 404);
    expect_body(&r, "{\"detail\":\"unknown environment 'a\\\"b'\"}");
    wire_reply_free(&r);
}

Test(wire, detail_with_invalid_utf8_stays_valid_json)
{
    wire_reply r = {0};
    wire_reply_detail(&r, 400, "bad '%s'", "x\xff\xfey");
    cr_assert_eq(r.status, 400);
    expect_body(&r, "{\"detail\":\"bad 'x\xEF\xBF\xBD\xEF\xBF\xBDy'\"}");
    wire_reply_free(&r);
}

Test(wire, wire_string_keeps_valid_text_and_repairs_invalid)
{
    json_t *s = wire_string("a\0b", 3);
    cr_assert_eq(json_string_length(s), 3);
    json_decref(s);
    s = wire_string("\xc3", 1);
    cr_assert_str_eq(json_string_value(s), "\xEF\xBF\xBD");
    json_decref(s);
}

Test(wire, sse_events_are_framed)
{
    wire_reply r = {0};
    wire_reply_sse_event(&r, "task_id", "abc", 3);
    wire_reply_sse_event(&r, "end", "", 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.content_type, WIRE_SSE);
    expect_body(&r, "event: task_id\ndata: abc\n\nevent: end\ndata: \n\n");
    wire_reply_free(&r);
}

Test(wire, sse_multiline_data_becomes_several_data_lines)
{
    wire_reply r = {0};
    wire_reply_sse_event(&r, "chunk", "a\nb\r\nc\rd", 8);
    expect_body(&r, "event: chunk\ndata: a\ndata: b\ndata: c\ndata: d\n\n");
    wire_reply_free(&r);
    wire_reply_sse_event(&r, "chunk", "a\n", 2);
    expect_body(&r, "event: chunk\ndata: a\ndata: \n\n");
    wire_reply_free(&r);
}

Test(wire, sse_after_an_error_reply_starts_over)
{
    wire_reply r = {0};
    wire_reply_detail(&r, 422, "x");
    wire_reply_sse_event(&r, "error", "boom", 4);
    cr_assert_eq(r.status, 200);
    expect_body(&r, "event: error\ndata: boom\n\n");
    wire_reply_free(&r);
}

static json_t *body_of(const char *text, wire_reply *r)
{
    wire_request req = {.method = "POST", .path = "/x", .body = text, .body_len = text ? strlen(text) : 0};
    return wire_body_object(&req, r);
}

Test(wire, body_object_parses_objects_only)
{
    wire_reply r = {0};
    json_t *j = body_of("{\"a\":\"\\u0000\",\"a\":2}", &r);
    cr_assert(j);
    cr_assert_eq(json_integer_value(json_object_get(j, "a")), 2, "last duplicate wins");
    cr_assert_eq(r.status, 0, "no reply on success");
    json_decref(j);
    const char *bad[] = {NULL, "", "[1]", "\"s\"", "{\"a\":", "{} x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_null(body_of(bad[i], &r));
        cr_assert_eq(r.status, 422, "%s", bad[i] ? bad[i] : "(null)");
        cr_assert(strstr(r.body, "\"detail\""));
        wire_reply_free(&r);
    }
}

Test(wire, body_object_is_length_bounded)
{
    /* the body is not NUL-terminated: only body_len bytes count */
    const char text[] = "{\"a\":1}garbage";
    wire_request req = {.method = "POST", .path = "/x", .body = text, .body_len = 7};
    wire_reply r = {0};
    json_t *j = wire_body_object(&req, &r);
    cr_assert(j);
    json_decref(j);
}

Test(wire, reals_are_written_like_python_json)
{
    wire_reply r = {0};
    wire_reply_json(&r, 200, json_pack("[f,f,f,f,f,{s:f}]", 0.1, 2.0 / 3, 1.0, 0.5, 100000.0, "t",
                                       1768002749.0));
    expect_body(&r, "[0.1,0.6666666666666666,1.0,0.5,100000.0,{\"t\":1768002749.0}]");
    wire_reply_free(&r);
    /* every real still reads back exactly */
    double v[] = {1.0 / 3, 1e-7, 123.456, 5e-324, 1.7976931348623157e308};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        json_t *j = json_real(v[i]);
        char *s = wire_dumps(j, JSON_COMPACT);
        cr_assert_eq(strtod(s, NULL), v[i], "%s", s);
        free(s);
        json_decref(j);
    }
}
