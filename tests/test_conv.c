/* Tests of conv.h: one test per rule of docs/eval.md §2.1 (request), §2.2 (reply)
 * and §3 (Responses pass-through), byte-exact copying, the rows and replies
 * that cannot be converted, and real reply shapes of vLLM, llama.cpp and
 * OpenAI. JSON in this file is written with ' for " (q() swaps them back). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include "conv.h"
#include "grade.h"
#include "jtext.h"
#include "testutil.h"

#define LENIENT (JTEXT_BIG_INTS | JTEXT_SURROGATES)

/* s with every ' turned into " (a new string; freed at the end of the test
 * by the caller through the returned pointer). */
static char *q(const char *s)
{
    char *d = strdup(s);
    cr_assert(d);
    for (char *p = d; *p; p++)
        if (*p == '\'')
            *p = '"';
    return d;
}

static const conv_request_opts base_opts = {.model = "m"};

/* The body for params (in q() notation) with o; asserts success and that the
 * body is one valid JSON object. Caller frees. */
static char *body_of(const char *params, const conv_request_opts *o, unsigned *anomalies)
{
    char *p = q(params), err[256] = "";
    util_buf out = UTIL_BUF_INIT;
    unsigned an = 0;
    int rc = conv_chat_request(p, strlen(p), o ? o : &base_opts, &out, &an, err, sizeof err);
    cr_assert_eq(rc, CONV_OK, "conversion failed (%d: %s) for %s", rc, err, p);
    char verr[128];
    cr_assert(jtext_object(out.data, out.len, LENIENT, NULL, NULL, verr, sizeof verr) == 0,
              "output is not a JSON object (%s): %s", verr, out.data);
    free(p);
    if (anomalies)
        *anomalies = an;
    return out.data;
}

static void expect_body_o(const char *params, const conv_request_opts *o, const char *want)
{
    char *got = body_of(params, o, NULL), *w = q(want);
    cr_assert_str_eq(got, w, "params %s", params);
    free(got);
    free(w);
}

static void expect_body(const char *params, const char *want)
{
    expect_body_o(params, NULL, want);
}

/* A body {"model":"m","messages":[MSGS]}. */
static void expect_messages(const char *params, const char *msgs)
{
    char want[8192];
    snprintf(want, sizeof want, "{'model':'m','messages':[%s]}", msgs);
    expect_body(params, want);
}

static void expect_invalid_o(const char *params, const conv_request_opts *o, const char *reason)
{
    char *p = q(params), err[256] = "";
    util_buf out = UTIL_BUF_INIT;
    cr_assert(util_buf_puts(&out, "KEEP") == 0);
    unsigned an = 0;
    int rc = conv_chat_request(p, strlen(p), o ? o : &base_opts, &out, &an, err, sizeof err);
    cr_assert_eq(rc, CONV_INVALID, "expected CONV_INVALID for %s, got %d: %s", p, rc, out.data);
    cr_assert(strstr(err, reason), "reason '%s' lacks '%s'", err, reason);
    cr_assert_str_eq(out.data, "KEEP", "output changed on failure");
    util_buf_free(&out);
    free(p);
}

static void expect_invalid(const char *params, const char *reason)
{
    expect_invalid_o(params, NULL, reason);
}

/* Calls fn with the compact text of member `member` of every row of the
 * JSONL file path; returns the number of rows. */
typedef void (*shared_fn)(const char *text);

static size_t each_shared_member(const char *path, const char *member, shared_fn fn)
{
    size_t len, rows = 0;
    char *data = tu_read_file(path, &len);
    cr_assert(data, "cannot read %s", path);
    for (char *line = data, *nl; line < data + len; line = nl + 1) {
        nl = memchr(line, '\n', (size_t)(data + len - line));
        if (!nl)
            nl = data + len;
        json_t *row = json_loadb(line, (size_t)(nl - line), 0, NULL);
        if (!row)
            continue;
        char *text = json_dumps(json_object_get(row, member), JSON_COMPACT);
        cr_assert(text, "row without %s", member);
        fn(text);
        free(text);
        json_decref(row);
        rows++;
    }
    free(data);
    return rows;
}

/* ---- §2.1 input ------------------------------------------------------------------ */

Test(conv_request, plain_string_input_is_one_user_text_message)
{
    expect_messages("{'input':'Hello there'}",
                    "{'role':'user','content':[{'type':'text','text':'Hello there'}]}");
}

Test(conv_request, item_with_role_and_no_type_is_a_message)
{
    expect_messages("{'input':[{'role':'user','content':'hi'},{'role':'system','content':'s'}]}",
                    "{'role':'user','content':'hi'},{'role':'system','content':'s'}");
}

Test(conv_request, item_with_neither_type_nor_role_is_invalid)
{
    expect_invalid("{'input':[{'content':'hi'}]}", "input[0] has neither type nor role");
    expect_invalid("{'input':[{'role':'user','content':'a'},7]}", "input[1] is not an object");
}

Test(conv_request, unknown_item_types_are_invalid)
{
    expect_invalid("{'input':[{'type':'web_search_call','id':'x'}]}",
                   "input[0]: item type \"web_search_call\" cannot be converted");
    expect_invalid("{'input':[{'role':'user','content':'a'},{'type':'item_reference','id':'r'}]}",
                   "input[1]: item type \"item_reference\"");
    expect_invalid("{'input':[{'type':'message','role':'tool','content':'a'}]}",
                   "message role \"tool\" cannot be converted");
    expect_invalid("{'input':7}", "input is neither a string nor a list");
    expect_invalid("{'tools':[]}", "input is missing");
}

Test(conv_request, params_that_are_not_an_object_are_invalid)
{
    expect_invalid("[1]", "responses_create_params: not a JSON object");
    expect_invalid("{'input':'x'", "responses_create_params: invalid JSON");
    expect_invalid("", "responses_create_params");
}

/* ---- pending assistant message ------------------------------------------------------- */

Test(conv_request, assistant_side_items_merge_into_one_message)
{
    expect_messages(
        "{'input':[{'role':'user','content':'q'},"
        "{'type':'message','role':'assistant','content':[{'type':'output_text','text':'Let me ','annotations':[]}]},"
        "{'type':'function_call','call_id':'c1','name':'f','arguments':'{}'},"
        "{'type':'function_call','call_id':'c2','name':'g','arguments':'{\\'a\\':1}'},"
        "{'type':'function_call_output','call_id':'c1','output':'r1'},"
        "{'type':'function_call_output','call_id':'c2','output':'r2'}]}",
        "{'role':'user','content':'q'},"
        "{'role':'assistant','content':'Let me ','tool_calls':["
        "{'id':'c1','type':'function','function':{'name':'f','arguments':'{}'}},"
        "{'id':'c2','type':'function','function':{'name':'g','arguments':'{\\'a\\':1}'}}]},"
        "{'role':'tool','tool_call_id':'c1','content':'r1'},"
        "{'role':'tool','tool_call_id':'c2','content':'r2'}");
}

Test(conv_request, assistant_texts_are_glued_without_separator)
{
    expect_messages(
        "{'input':[{'role':'assistant','content':'ab'},"
        "{'type':'message','role':'assistant','content':[{'type':'output_text','text':'c','annotations':[]},"
        "{'type':'output_text','text':'d','annotations':[]}]}]}",
        "{'role':'assistant','content':'abcd'}");
}

Test(conv_request, assistant_parts_gym_refuses_are_converted_with_an_anomaly)
{
    unsigned an;
    char *b = body_of("{'input':[{'type':'message','role':'assistant','content':["
                      "{'type':'output_text','text':'a'},{'type':'refusal','refusal':'b'},"
                      "{'type':'input_text','text':'c'}]}]}", NULL, &an);
    char *w = q("{'model':'m','messages':[{'role':'assistant','content':'abc'}]}");
    cr_assert_str_eq(b, w);
    cr_assert_eq(an, CONV_A_ASSISTANT_PART_LENIENT);
    free(b);
    free(w);
    b = body_of("{'input':[{'role':'assistant','content':[{'type':'output_text','text':'a',"
                "'annotations':[],'logprobs':[]}]}]}", NULL, &an);
    cr_assert_eq(an, 0, "a part as Gym writes it is no anomaly");
    free(b);
}

Test(conv_request, pending_message_is_flushed_by_user_system_developer_and_at_end)
{
    expect_messages("{'input':[{'role':'assistant','content':'a'},{'role':'user','content':'u'},"
                    "{'role':'assistant','content':'b'},{'role':'system','content':'s'},"
                    "{'role':'assistant','content':'c'},{'role':'developer','content':'d'},"
                    "{'role':'assistant','content':'e'}]}",
                    "{'role':'assistant','content':'a'},{'role':'user','content':'u'},"
                    "{'role':'assistant','content':'b'},{'role':'system','content':'s'},"
                    "{'role':'assistant','content':'c'},{'role':'developer','content':'d'},"
                    "{'role':'assistant','content':'e'}");
}

Test(conv_request, empty_content_is_null_and_tool_calls_only_when_present)
{
    expect_messages("{'input':[{'type':'function_call','call_id':'c','name':'f','arguments':'{}'}]}",
                    "{'role':'assistant','content':null,'tool_calls':[{'id':'c','type':'function',"
                    "'function':{'name':'f','arguments':'{}'}}]}");
    /* nothing to say: no assistant message at all (Gym's flush) */
    expect_messages("{'input':[{'role':'user','content':'u'},{'role':'assistant','content':''},"
                    "{'type':'reasoning','summary':[{'type':'summary_text','text':''}]},"
                    "{'role':'assistant','content':[]},{'role':'user','content':'v'}]}",
                    "{'role':'user','content':'u'},{'role':'user','content':'v'}");
}

/* ---- user / system / developer content ----------------------------------------------------- */

Test(conv_request, string_content_stays_a_string_and_parts_are_mapped)
{
    expect_messages(
        "{'input':[{'role':'user','content':[{'type':'input_text','text':'look'},"
        "{'type':'input_image','image_url':'https://x/y.png'},"
        "{'type':'input_image','image_url':'data:image/png;base64,AAA','detail':'high'}]}]}",
        "{'role':'user','content':[{'type':'text','text':'look'},"
        "{'type':'image_url','image_url':{'url':'https://x/y.png','detail':'auto'}},"
        "{'type':'image_url','image_url':{'url':'data:image/png;base64,AAA','detail':'high'}}]}");
    expect_messages("{'input':[{'role':'system','content':[{'type':'input_text','text':'s'}]}]}",
                    "{'role':'system','content':[{'type':'text','text':'s'}]}");
}

Test(conv_request, output_text_outside_assistant_is_text_with_an_anomaly)
{
    unsigned an;
    char *b = body_of("{'input':[{'role':'user','content':[{'type':'output_text','text':'t'}]}]}",
                      NULL, &an);
    char *w = q("{'model':'m','messages':[{'role':'user','content':[{'type':'text','text':'t'}]}]}");
    cr_assert_str_eq(b, w);
    cr_assert_eq(an, CONV_A_OUTPUT_TEXT_OUTSIDE_ASSISTANT);
    free(b);
    free(w);
    b = body_of("{'input':[{'role':'user','content':[{'type':'input_text','text':'t'}]}]}", NULL, &an);
    cr_assert_eq(an, 0);
    free(b);
}

Test(conv_request, unsupported_parts_and_missing_content_are_invalid)
{
    expect_invalid("{'input':[{'role':'user','content':[{'type':'input_file','file_id':'f'}]}]}",
                   "input[0].content[0]: content part type \"input_file\" cannot be converted");
    expect_invalid("{'input':[{'role':'user','content':[{'type':'input_image','file_id':'f'}]}]}",
                   "input_image without an image_url");
    expect_invalid("{'input':[{'role':'user'}]}", "input[0]: message without content");
    expect_invalid("{'input':[{'role':'user','content':5}]}", "neither a string nor a list");
    expect_invalid("{'input':[{'role':'assistant','content':[{'type':'input_image','image_url':'u'}]}]}",
                   "content part type \"input_image\" cannot be converted");
}

/* ---- reasoning ------------------------------------------------------------------------------- */

#define REASONING_ROW                                                                        \
    "{'input':[{'role':'user','content':'q'},"                                                \
    "{'type':'reasoning','id':'rs','summary':[{'type':'summary_text','text':'first\\nline'},"  \
    "{'type':'summary_text','text':'second'}]},"                                              \
    "{'role':'assistant','content':'Answer<think>third</think>.'}]}"

Test(conv_request, reasoning_field_mode_moves_the_first_span_to_both_fields)
{
    expect_messages(REASONING_ROW,
                    "{'role':'user','content':'q'},"
                    "{'role':'assistant','content':'Answer.','reasoning_content':'first\\nline',"
                    "'reasoning':'first\\nline'}");
}

Test(conv_request, reasoning_spans_are_shortest_and_reasoning_alone_leaves_an_empty_string)
{
    expect_messages("{'input':[{'role':'assistant','content':'<think>a</think>b</think>'}]}",
                    "{'role':'assistant','content':'b</think>','reasoning_content':'a','reasoning':'a'}");
    expect_messages("{'input':[{'type':'reasoning','summary':[{'text':'only'}]},"
                    "{'type':'function_call','call_id':'c','name':'f','arguments':'{}'}]}",
                    "{'role':'assistant','content':'','reasoning_content':'only','reasoning':'only',"
                    "'tool_calls':[{'id':'c','type':'function','function':{'name':'f','arguments':'{}'}}]}");
    /* an unclosed <think> is no span: it stays */
    expect_messages("{'input':[{'role':'assistant','content':'x<think>y'}]}",
                    "{'role':'assistant','content':'x<think>y'}");
}

Test(conv_request, reasoning_think_mode_keeps_the_tags)
{
    conv_request_opts o = base_opts;
    o.reasoning = CONV_REASONING_THINK;
    expect_body_o(REASONING_ROW, &o,
                  "{'model':'m','messages':[{'role':'user','content':'q'},"
                  "{'role':'assistant','content':'<think>first\\nline</think><think>second</think>"
                  "Answer<think>third</think>.'}]}");
}

Test(conv_request, reasoning_drop_mode_skips_reasoning_items)
{
    conv_request_opts o = base_opts;
    o.reasoning = CONV_REASONING_DROP;
    expect_body_o(REASONING_ROW, &o,
                  "{'model':'m','messages':[{'role':'user','content':'q'},"
                  "{'role':'assistant','content':'Answer<think>third</think>.'}]}");
    expect_body_o("{'input':[{'role':'user','content':'q'},{'type':'reasoning','summary':[{'text':'x'}]}]}",
                  &o, "{'model':'m','messages':[{'role':'user','content':'q'}]}");
}

Test(conv_request, escaped_think_tags_are_found)
{
    expect_messages("{'input':[{'role':'assistant','content':'\\u003cthink>r\\u003c/think\\u003eA'}]}",
                    "{'role':'assistant','content':'A','reasoning_content':'r','reasoning':'r'}");
}

Test(conv_request, malformed_reasoning_summary_is_invalid)
{
    expect_invalid("{'input':[{'type':'reasoning','summary':[{'type':'summary_text'}]}]}",
                   "input[0].summary[0] has no string text");
    expect_invalid("{'input':[{'type':'reasoning','summary':'x'}]}", "summary is not a list");
}

/* ---- function calls ----------------------------------------------------------------------------- */

Test(conv_request, function_call_arguments_are_the_exact_string)
{
    expect_messages("{'input':[{'type':'function_call','call_id':'c','name':'f',"
                    "'arguments':'{\\'a\\': 1.50, \\'b\\':[ ]'}]}",
                    "{'role':'assistant','content':null,'tool_calls':[{'id':'c','type':'function',"
                    "'function':{'name':'f','arguments':'{\\'a\\': 1.50, \\'b\\':[ ]'}}]}");
    expect_invalid("{'input':[{'type':'function_call','call_id':'c','name':'f','arguments':{}}]}",
                   "function_call needs string call_id, name and arguments");
    expect_invalid("{'input':[{'type':'function_call','name':'f','arguments':'{}'}]}",
                   "function_call needs string call_id");
}

Test(conv_request, function_call_output_string_and_parts)
{
    expect_messages("{'input':[{'type':'function_call_output','call_id':'c','output':"
                    "[{'type':'input_text','text':'a'},{'type':'input_text','text':'b'}]}]}",
                    "{'role':'tool','tool_call_id':'c','content':[{'type':'text','text':'a'},"
                    "{'type':'text','text':'b'}]}");
    expect_invalid("{'input':[{'type':'function_call_output','output':'x'}]}",
                   "function_call_output needs a string call_id");
    expect_invalid("{'input':[{'type':'function_call_output','call_id':'c'}]}",
                   "function_call_output without output");
}

/* ---- instructions --------------------------------------------------------------------------------- */

Test(conv_request, instructions_fold_the_leading_system_and_developer_messages)
{
    expect_messages("{'instructions':'I','input':[{'role':'system','content':'S'},"
                    "{'role':'developer','content':[{'type':'input_text','text':'D1'},"
                    "{'type':'input_text','text':'D2'}]},"
                    "{'role':'user','content':'u'},{'role':'system','content':'later'}]}",
                    "{'role':'system','content':'I\\n\\nS\\n\\nD1D2'},{'role':'user','content':'u'},"
                    "{'role':'system','content':'later'}");
}

Test(conv_request, instructions_alone_and_with_string_input)
{
    expect_messages("{'instructions':'Be brief.','input':[{'role':'user','content':'u'}]}",
                    "{'role':'system','content':'Be brief.'},{'role':'user','content':'u'}");
    expect_messages("{'instructions':'I','input':'hi'}",
                    "{'role':'system','content':'I'},{'role':'user','content':[{'type':'text','text':'hi'}]}");
    expect_messages("{'instructions':'I','input':[{'role':'assistant','content':'a'}]}",
                    "{'role':'system','content':'I'},{'role':'assistant','content':'a'}");
    expect_messages("{'instructions':'I','input':[]}", "{'role':'system','content':'I'}");
    /* empty or null instructions: nothing folded */
    expect_messages("{'instructions':'','input':[{'role':'system','content':'S'}]}",
                    "{'role':'system','content':'S'}");
    expect_messages("{'instructions':null,'input':[{'role':'system','content':'S'}]}",
                    "{'role':'system','content':'S'}");
    expect_invalid("{'instructions':3,'input':'x'}", "instructions is not a string");
    expect_invalid("{'instructions':'I','input':[{'role':'system','content':"
                   "[{'type':'input_image','image_url':'u'}]}]}",
                   "cannot be folded into instructions");
}

/* ---- parameters ------------------------------------------------------------------------------------- */

Test(conv_request, renamed_parameters_and_model)
{
    expect_body("{'model':'gpt-x','input':'q','max_output_tokens':512,'reasoning':{'effort':'high','summary':'auto'}}",
                "{'model':'m','messages':[{'role':'user','content':[{'type':'text','text':'q'}]}],"
                "'max_tokens':512,'reasoning_effort':'high'}");
    expect_body("{'input':'q','reasoning':{'effort':null}}",
                "{'model':'m','messages':[{'role':'user','content':[{'type':'text','text':'q'}]}]}");
    conv_request_opts keep = {0};
    expect_body_o("{'model':'row-model','input':'q'}", &keep,
                  "{'model':'row-model','messages':[{'role':'user','content':[{'type':'text','text':'q'}]}]}");
    expect_body_o("{'input':'q'}", &keep,
                  "{'messages':[{'role':'user','content':[{'type':'text','text':'q'}]}]}");
}

#define Q_MSG "'messages':[{'role':'user','content':[{'type':'text','text':'q'}]}]"

Test(conv_request, tools_lose_type_and_strict_and_keep_every_other_key)
{
    unsigned an;
    char *b = body_of("{'input':'q','tools':[{'type':'function','name':'f','description':'d',"
                      "'parameters':{'type':'object','properties':{}},'strict':true,'x_extra':[1]}]}",
                      NULL, &an);
    char *w = q("{'model':'m'," Q_MSG ",'tools':[{'type':'function','function':{'name':'f',"
                "'description':'d','parameters':{'type':'object','properties':{}},'x_extra':[1]}}]}");
    cr_assert_str_eq(b, w);
    cr_assert_eq(an, 0);
    free(b);
    free(w);
}

Test(conv_request, tool_without_strict_or_chat_shaped_is_converted_with_an_anomaly)
{
    unsigned an;
    char *b = body_of("{'input':'q','tools':[{'type':'function','name':'f','parameters':{},'description':null}]}",
                      NULL, &an);
    char *w = q("{'model':'m'," Q_MSG ",'tools':[{'type':'function','function':{'name':'f','parameters':{}}}]}");
    cr_assert_str_eq(b, w);
    cr_assert_eq(an, CONV_A_TOOL_WITHOUT_STRICT);
    free(b);
    free(w);
    b = body_of("{'input':'q','tools':[{'type':'function','function':{'name':'g','parameters':{}}}]}",
                NULL, &an);
    w = q("{'model':'m'," Q_MSG ",'tools':[{'type':'function','function':{'name':'g','parameters':{}}}]}");
    cr_assert_str_eq(b, w);
    cr_assert_eq(an, CONV_A_CHAT_SHAPED_TOOL);
    free(b);
    free(w);
}

Test(conv_request, non_function_tools_are_invalid)
{
    expect_invalid("{'input':'q','tools':[{'type':'web_search_preview'}]}",
                   "tools[0]: tool type \"web_search_preview\" cannot be converted");
    expect_invalid("{'input':'q','tools':[{'type':'function','parameters':{}}]}",
                   "tools[0]: function tool without a string name");
    expect_invalid("{'input':'q','tools':{}}", "tools is not a list");
}

Test(conv_request, tool_less_rows_drop_tool_choice_and_parallel_tool_calls)
{
    expect_body("{'input':'q','tool_choice':'auto','parallel_tool_calls':false}", "{'model':'m'," Q_MSG "}");
    expect_body("{'input':'q','tools':[],'tool_choice':'none','parallel_tool_calls':true}",
                "{'model':'m'," Q_MSG "}");
    expect_invalid("{'input':'q','tools':null,'tool_choice':{'type':'function','name':'f'}}",
                   "tool_choice (a named choice) but the row has no tools");
    expect_invalid("{'input':'q','tool_choice':'required'}",
                   "tool_choice \"required\" but the row has no tools");
    expect_invalid("{'input':'q','tools':[],'tool_choice':'required'}", "no tools");
}

#define ONE_TOOL "'tools':[{'type':'function','name':'f','parameters':{},'strict':false}]"
#define ONE_TOOL_CHAT "'tools':[{'type':'function','function':{'name':'f','parameters':{}}}]"

Test(conv_request, tool_choice_modes_and_named_choice)
{
    expect_body("{'input':'q'," ONE_TOOL ",'tool_choice':'required','parallel_tool_calls':false}",
                "{'model':'m'," Q_MSG "," ONE_TOOL_CHAT ",'tool_choice':'required','parallel_tool_calls':false}");
    expect_body("{'input':'q'," ONE_TOOL ",'tool_choice':{'type':'function','name':'f'}}",
                "{'model':'m'," Q_MSG "," ONE_TOOL_CHAT ",'tool_choice':{'type':'function','function':{'name':'f'}}}");
    expect_body("{'input':'q'," ONE_TOOL ",'tool_choice':{'type':'function','function':{'name':'f'}}}",
                "{'model':'m'," Q_MSG "," ONE_TOOL_CHAT ",'tool_choice':{'type':'function','function':{'name':'f'}}}");
    expect_invalid("{'input':'q'," ONE_TOOL ",'tool_choice':{'type':'allowed_tools','tools':[]}}",
                   "tool_choice is neither a mode nor a function choice");
    expect_invalid("{'input':'q'," ONE_TOOL ",'tool_choice':{'type':'function'}}", "tool_choice names no function");
}

Test(conv_request, pass_through_and_dropped_parameters)
{
    expect_body("{'background':false,'include':['x'],'max_tool_calls':3,'previous_response_id':'r',"
                "'prompt':{'id':'p'},'text':{'format':{'type':'text'}},'truncation':'auto','top_logprobs':null,"
                "'stream':false,'input':'q','temperature':0.7,'top_p':1.0,'metadata':{'k':'v'},'user':'u',"
                "'service_tier':'auto','store':false,'unknown_key':1,'conversation':'c'}",
                "{'model':'m'," Q_MSG ",'temperature':0.7,'top_p':1.0,'metadata':{'k':'v'},'user':'u',"
                "'service_tier':'auto','store':false}");
    expect_body("{'input':'q','top_logprobs':0}", "{'model':'m'," Q_MSG ",'top_logprobs':0}");
}

Test(conv_request, null_parameters_are_omitted)
{
    expect_body("{'input':'q','temperature':null,'top_p':null,'max_output_tokens':null,'metadata':null,"
                "'user':null,'service_tier':null,'store':null,'reasoning':null,'model':null,"
                "'instructions':null,'tools':null,'tool_choice':null,'parallel_tool_calls':null}",
                "{'model':'m'," Q_MSG "}");
    /* the real rows of the spec examples carry every parameter, mostly null */
    expect_body("{'background':null,'include':null,'input':'q','instructions':null,'max_output_tokens':null,"
                "'max_tool_calls':null,'metadata':null,'model':null,'parallel_tool_calls':false,"
                "'previous_response_id':null,'prompt':null,'reasoning':null,'service_tier':null,'store':null,"
                "'temperature':null,'text':null,'tool_choice':'auto'," ONE_TOOL ",'top_logprobs':null,"
                "'top_p':null,'truncation':null,'user':null,'stream':null}",
                "{'model':'m'," Q_MSG "," ONE_TOOL_CHAT ",'tool_choice':'auto','parallel_tool_calls':false}");
}

Test(conv_request, metadata_extra_body_and_chat_template_kwargs_are_applied)
{
    expect_body("{'input':'q','metadata':{'extra_body':'{\\'top_k\\': 20, \\'min_p\\':0.0}',"
                "'chat_template_kwargs':'{\\'enable_thinking\\':false}'}}",
                "{'model':'m'," Q_MSG ",'metadata':{'extra_body':'{\\'top_k\\': 20, \\'min_p\\':0.0}',"
                "'chat_template_kwargs':'{\\'enable_thinking\\':false}'},"
                "'chat_template_kwargs':{'enable_thinking':false},'top_k':20,'min_p':0.0}");
    expect_invalid("{'input':'q','metadata':{'extra_body':'not json'}}",
                   "metadata.extra_body is not a JSON object");
    expect_invalid("{'input':'q','metadata':{'chat_template_kwargs':'[1]'}}",
                   "metadata.chat_template_kwargs is not a JSON object");
}

Test(conv_request, extra_body_never_overrides_a_row_parameter_even_null)
{
    expect_body("{'input':'q','temperature':null,'top_p':0.5,'max_output_tokens':null,"
                "'metadata':{'extra_body':'{\\'temperature\\':1,\\'top_p\\':1,\\'max_tokens\\':9,"
                "\\'messages\\':[],\\'model\\':\\'x\\',\\'stream\\':true,\\'top_k\\':3}'}}",
                "{'model':'m'," Q_MSG ",'top_p':0.5,'metadata':{'extra_body':'{\\'temperature\\':1,"
                "\\'top_p\\':1,\\'max_tokens\\':9,\\'messages\\':[],\\'model\\':\\'x\\',\\'stream\\':true,"
                "\\'top_k\\':3}'},'top_k':3}");
}

Test(conv_request, options_extra_body_chat_template_kwargs_and_seed)
{
    conv_request_opts o = base_opts;
    o.extra_body = "{\"top_k\": 40, \"seed\": 1, \"repetition_penalty\": 1.05, \"temperature\": 2}";
    o.chat_template_kwargs = "{\"enable_thinking\": true, \"y\": 2}";
    o.has_seed = true;
    o.seed = 3;
    /* Gym: config.update(row metadata) for both; the body wins over the extra body */
    expect_body_o("{'input':'q','temperature':0,'metadata':{'chat_template_kwargs':"
                  "'{\\'enable_thinking\\':false,\\'x\\':1}','extra_body':'{\\'top_k\\':1,\\'min_p\\':0.1}'}}",
                  &o,
                  "{'model':'m'," Q_MSG ",'temperature':0,'metadata':{'chat_template_kwargs':"
                  "'{\\'enable_thinking\\':false,\\'x\\':1}','extra_body':'{\\'top_k\\':1,\\'min_p\\':0.1}'},"
                  "'seed':3,'chat_template_kwargs':{'enable_thinking':false,'y':2,'x':1},'top_k':1,"
                  "'min_p':0.1,'repetition_penalty':1.05}");
    o.extra_body = NULL;
    expect_body_o("{'input':'q'}", &o,
                  "{'model':'m'," Q_MSG ",'seed':3,'chat_template_kwargs':{'enable_thinking':true,'y':2}}");
    conv_request_opts bad = base_opts;
    bad.extra_body = "[]";
    expect_invalid_o("{'input':'q'}", &bad, "--extra-body is not a JSON object");
    bad.extra_body = NULL;
    bad.chat_template_kwargs = "{";
    expect_invalid_o("{'input':'q'}", &bad, "--chat-template-kwargs is not a JSON object");
}

Test(conv_request, developer_role_kept_or_sent_as_system)
{
    const char *row = "{'input':[{'role':'developer','content':'d'},{'role':'user','content':'u'}]}";
    expect_messages(row, "{'role':'developer','content':'d'},{'role':'user','content':'u'}");
    conv_request_opts o = base_opts;
    o.developer_as_system = true;
    expect_body_o(row, &o, "{'model':'m','messages':[{'role':'system','content':'d'},{'role':'user','content':'u'}]}");
}

/* ---- byte-exact copying --------------------------------------------------------------------------------------- */

Test(conv_request, numbers_and_strings_are_copied_byte_for_byte)
{
    const char *row =
        "{\"input\":[{\"role\":\"user\",\"content\":\"lone \\ud800 e\\u0301 \\u00e9 \\/ caf\xC3\xA9\"},"
        "{\"type\":\"function_call\",\"call_id\":\"c\",\"name\":\"f\",\"arguments\":\"{\\\"n\\\": 1E+2}\"}],"
        "\"tools\":[{\"type\":\"function\",\"name\":\"f\",\"strict\":true,\"parameters\":"
        "{\"maximum\":123456789012345678901234567890,\"minimum\":-0.000E-0,\"d\\u00e9f\":1.50}}],"
        "\"temperature\":7e-1}";
    util_buf out = UTIL_BUF_INIT;
    char err[256];
    cr_assert_eq(conv_chat_request(row, strlen(row), &base_opts, &out, NULL, err, sizeof err), CONV_OK, "%s", err);
    const char *want =
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"lone \\ud800 e\\u0301 \\u00e9 \\/ caf\xC3\xA9\"},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c\",\"type\":\"function\","
        "\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"n\\\": 1E+2}\"}}]}],"
        "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":"
        "{\"maximum\":123456789012345678901234567890,\"minimum\":-0.000E-0,\"d\\u00e9f\":1.50}}}],"
        "\"temperature\":7e-1}";
    cr_assert_str_eq(out.data, want);
    util_buf_free(&out);
}

Test(conv_request, escaped_keys_are_copied_as_written)
{
    expect_body("{'input':'q','tools':[{'type':'function','name':'f','strict':true,'x\\'\\\\y':1,'\\u0074ag':2}]}",
                "{'model':'m'," Q_MSG ",'tools':[{'type':'function','function':{'name':'f','x\\'\\\\y':1,'\\u0074ag':2}}]}");
}

Test(conv_request, output_is_appended_to_what_the_buffer_holds)
{
    util_buf out = UTIL_BUF_INIT;
    cr_assert(util_buf_puts(&out, "PREFIX ") == 0);
    const char *row = "{\"input\":\"x\"}";
    cr_assert_eq(conv_chat_request(row, strlen(row), &base_opts, &out, NULL, NULL, 0), CONV_OK);
    cr_assert_str_eq(out.data, "PREFIX {\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
                               "[{\"type\":\"text\",\"text\":\"x\"}]}]}");
    util_buf_free(&out);
}

static void example_row_converts(const char *params)
{
    util_buf out = UTIL_BUF_INIT;
    char err[256];
    unsigned an;
    cr_assert_eq(conv_chat_request(params, strlen(params), &base_opts, &out, &an, err, sizeof err),
                 CONV_OK, "%s", err);
    json_t *body = json_loadb(out.data, out.len, 0, NULL);
    cr_assert(body, "body does not parse");
    json_t *msgs = json_object_get(body, "messages");
    cr_assert(json_array_size(msgs) > 0);
    cr_assert(json_array_size(json_object_get(body, "tools")) > 0);
    for (size_t i = 0; i < json_array_size(msgs); i++) {
        const char *role = json_string_value(json_object_get(json_array_get(msgs, i), "role"));
        cr_assert(role && (!strcmp(role, "system") || !strcmp(role, "user") ||
                           !strcmp(role, "assistant") || !strcmp(role, "tool")));
    }
    json_decref(body);
    util_buf_free(&out);
}

Test(conv_request, the_spec_example_rows_convert, .description = "../shared/data rows")
{
    TU_REQUIRE_SHARED(path, "data/example.jsonl");
    cr_assert(each_shared_member(path, "responses_create_params", example_row_converts) > 0);
}

/* ---- §3 --api responses ------------------------------------------------------------------------------------------------- */

static void expect_responses(const char *params, const conv_request_opts *o, const char *want)
{
    char *p = q(params), *w = q(want), err[256] = "";
    util_buf out = UTIL_BUF_INIT;
    int rc = conv_responses_request(p, strlen(p), o, &out, err, sizeof err);
    cr_assert_eq(rc, CONV_OK, "%s", err);
    cr_assert_str_eq(out.data, w);
    util_buf_free(&out);
    free(p);
    free(w);
}

Test(conv_responses, params_pass_through_without_nulls_with_the_model_replaced)
{
    expect_responses("{'background':null,'input':[{'role':'user','content':'\\ud800'},"
                     "{'type':'reasoning','summary':[],'encrypted_content':null}],'model':'old',"
                     "'temperature':0.50,'stream':true,'tools':[{'type':'function','name':'f','n':123456789012345678901234567890}]}",
                     &base_opts,
                     "{'model':'m','input':[{'role':'user','content':'\\ud800'},"
                     "{'type':'reasoning','summary':[],'encrypted_content':null}],'temperature':0.50,"
                     "'tools':[{'type':'function','name':'f','n':123456789012345678901234567890}]}");
}

Test(conv_responses, drop_mode_removes_reasoning_items_and_options_apply)
{
    conv_request_opts o = base_opts;
    o.reasoning = CONV_REASONING_DROP;
    o.extra_body = "{\"temperature\":1,\"top_k\":2}";
    o.has_seed = true;
    o.seed = 0;
    expect_responses("{'input':[{'type':'reasoning','summary':[]},{'role':'user','content':'a'},"
                     "{'type':'reasoning','summary':[]}],'temperature':null}",
                     &o, "{'model':'m','input':[{'role':'user','content':'a'}],'seed':0,'top_k':2}");
    char err[128];
    util_buf out = UTIL_BUF_INIT;
    cr_assert_eq(conv_responses_request("[]", 2, &o, &out, err, sizeof err), CONV_INVALID);
    cr_assert(strstr(err, "not a JSON object"), "%s", err);
    cr_assert_eq(out.len, 0);
    util_buf_free(&out);
}

/* ---- §2.2 replies -------------------------------------------------------------------------------------------------------- */

#define PARAMS_TOOLS "{'input':'q','tools':[{'type':'function','name':'f','parameters':{},'strict':true}]," \
                     "'tool_choice':'auto','parallel_tool_calls':false,'temperature':0.2}"

typedef struct reply_out {
    char *text;
    json_t *obj;
    conv_reply_info info;
} reply_out;

static reply_out reply_of(const char *completion, const char *params, uint64_t seed)
{
    char *c = q(completion), *p = params ? q(params) : NULL, err[256] = "";
    reply_out r;
    util_buf out = UTIL_BUF_INIT;
    int rc = conv_chat_reply(c, strlen(c), p, p ? strlen(p) : 0, "the-model", seed, 1700000000, &out,
                             &r.info, err, sizeof err);
    cr_assert_eq(rc, CONV_OK, "reply conversion failed: %s (%s)", err, c);
    char verr[128];
    cr_assert(jtext_object(out.data, out.len, LENIENT, NULL, NULL, verr, sizeof verr) == 0, "%s: %s",
              verr, out.data);
    r.text = out.data;
    r.obj = json_loadb(out.data, out.len, 0, NULL);
    cr_assert(r.obj, "reply does not parse: %s", out.data);
    free(c);
    free(p);
    return r;
}

static void reply_free(reply_out *r)
{
    free(r->text);
    json_decref(r->obj);
}

static json_t *output_item(const reply_out *r, size_t i) { return json_array_get(json_object_get(r->obj, "output"), i); }
static size_t output_count(const reply_out *r) { return json_array_size(json_object_get(r->obj, "output")); }

static const char *sget(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    cr_assert(s, "no string %s", k);
    return s;
}

static void expect_bad_reply(const char *completion, const char *reason)
{
    char *c = q(completion), err[256] = "";
    util_buf out = UTIL_BUF_INIT;
    cr_assert(util_buf_puts(&out, "K") == 0);
    conv_reply_info info;
    int rc = conv_chat_reply(c, strlen(c), NULL, 0, "m", 1, 0, &out, &info, err, sizeof err);
    cr_assert_eq(rc, CONV_INVALID, "accepted: %s", c);
    cr_assert(strstr(err, reason), "'%s' lacks '%s'", err, reason);
    cr_assert_str_eq(out.data, "K");
    util_buf_free(&out);
    free(c);
}

Test(conv_reply, only_the_first_choice_is_used)
{
    reply_out r = reply_of("{'choices':[{'index':0,'message':{'role':'assistant','content':'one'},'finish_reason':'stop'},"
                           "{'index':1,'message':{'role':'assistant','content':'two'},'finish_reason':'stop'}]}",
                           NULL, 1);
    cr_assert_eq(output_count(&r), 1);
    json_t *m = output_item(&r, 0);
    cr_assert_str_eq(sget(json_array_get(json_object_get(m, "content"), 0), "text"), "one");
    cr_assert_eq(r.info.anomalies, CONV_A_EXTRA_CHOICES);
    cr_assert_str_eq(r.info.finish_reason, "stop");
    reply_free(&r);
}

Test(conv_reply, message_item_shape)
{
    reply_out r = reply_of("{'choices':[{'message':{'role':'assistant','content':'Hi \\u00e9'},'finish_reason':'stop'}]}",
                           NULL, 7);
    cr_assert_eq(output_count(&r), 1);
    const char *id = strstr(r.text, "\"msg_");
    cr_assert(id);
    char want[512];
    snprintf(want, sizeof want,
             "{\"type\":\"message\",\"id\":%.38s,\"role\":\"assistant\",\"status\":\"completed\","
             "\"content\":[{\"type\":\"output_text\",\"text\":\"Hi \\u00e9\",\"annotations\":[]}]}", id);
    cr_assert(strstr(r.text, want), "%s", r.text);
    cr_assert(r.info.has_action);
    reply_free(&r);
}

Test(conv_reply, reasoning_fields_and_inline_think_spans_become_one_reasoning_item)
{
    reply_out r = reply_of("{'choices':[{'message':{'content':'<think>b</think>Text<think>c\\nd</think>',"
                           "'reasoning_content':'a'},'finish_reason':'stop'}]}", NULL, 1);
    cr_assert_eq(output_count(&r), 2);
    json_t *rs = output_item(&r, 0);
    cr_assert_str_eq(sget(rs, "type"), "reasoning");
    cr_assert(!strncmp(sget(rs, "id"), "rs_", 3));
    json_t *sum = json_object_get(rs, "summary");
    cr_assert_eq(json_array_size(sum), 3);
    const char *want[] = {"a", "b", "c\nd"};
    for (size_t i = 0; i < 3; i++) {
        cr_assert_str_eq(sget(json_array_get(sum, i), "type"), "summary_text");
        cr_assert_str_eq(sget(json_array_get(sum, i), "text"), want[i]);
    }
    cr_assert_str_eq(sget(json_array_get(json_object_get(output_item(&r, 1), "content"), 0), "text"), "Text");
    reply_free(&r);
    /* vLLM >= 0.10 names the field "reasoning" */
    r = reply_of("{'choices':[{'message':{'content':'x','reasoning_content':null,'reasoning':'viaReasoning'}}]}", NULL, 1);
    cr_assert_str_eq(sget(json_array_get(json_object_get(output_item(&r, 0), "summary"), 0), "text"), "viaReasoning");
    reply_free(&r);
}

Test(conv_reply, unclosed_think_stays_in_the_text)
{
    reply_out r = reply_of("{'choices':[{'message':{'content':'<think>still thinking'},'finish_reason':'length'}]}", NULL, 1);
    cr_assert_eq(output_count(&r), 1);
    cr_assert_str_eq(sget(json_array_get(json_object_get(output_item(&r, 0), "content"), 0), "text"),
                     "<think>still thinking");
    cr_assert(r.info.anomalies & CONV_A_UNCLOSED_THINK);
    reply_free(&r);
}

Test(conv_reply, empty_completion_is_an_empty_message_and_reasoning_only_has_none)
{
    reply_out r = reply_of("{'choices':[{'message':{'role':'assistant','content':''},'finish_reason':'stop'}]}", NULL, 1);
    cr_assert_eq(output_count(&r), 1);
    cr_assert_str_eq(sget(output_item(&r, 0), "type"), "message");
    cr_assert_str_eq(sget(json_array_get(json_object_get(output_item(&r, 0), "content"), 0), "text"), "");
    cr_assert(!r.info.has_action);
    reply_free(&r);
    r = reply_of("{'choices':[{'message':{'role':'assistant','content':null}}]}", NULL, 1);
    cr_assert_eq(output_count(&r), 1);
    cr_assert_str_eq(sget(output_item(&r, 0), "type"), "message");
    reply_free(&r);
    r = reply_of("{'choices':[{'message':{'content':'<think>only</think>'}}]}", NULL, 1);
    cr_assert_eq(output_count(&r), 1);
    cr_assert_str_eq(sget(output_item(&r, 0), "type"), "reasoning");
    cr_assert(!r.info.has_action);
    reply_free(&r);
    r = reply_of("{'choices':[],'usage':{'prompt_tokens':5,'completion_tokens':0,'total_tokens':5}}", NULL, 1);
    cr_assert_eq(output_count(&r), 0);
    cr_assert(!r.info.has_action);
    reply_free(&r);
}

Test(conv_reply, a_reasoning_field_is_read_as_a_leading_think_span)
{
    /* Gym wraps the field in tags before cutting: a "</think>" inside it ends the span */
    reply_out r = reply_of("{'choices':[{'message':{'reasoning_content':'a</think>b','content':'c'}}]}", NULL, 1);
    cr_assert_eq(output_count(&r), 2);
    cr_assert_str_eq(sget(json_array_get(json_object_get(output_item(&r, 0), "summary"), 0), "text"), "a");
    cr_assert_str_eq(sget(json_array_get(json_object_get(output_item(&r, 1), "content"), 0), "text"),
                     "b</think>c");
    reply_free(&r);
}

Test(conv_reply, context_overflow_is_graded_as_gyms_empty_completion)
{
    util_buf out = UTIL_BUF_INIT;
    conv_reply_info in;
    char err[128];
    cr_assert_eq(conv_chat_reply(CONV_CONTEXT_OVERFLOW_COMPLETION, strlen(CONV_CONTEXT_OVERFLOW_COMPLETION),
                                 NULL, 0, "m", 1, 0, &out, &in, err, sizeof err), CONV_OK, "%s", err);
    json_t *o = json_loadb(out.data, out.len, 0, NULL);
    cr_assert(o);
    cr_assert_str_eq(json_string_value(json_object_get(o, "status")), "incomplete");
    json_t *items = json_object_get(o, "output");
    cr_assert_eq(json_array_size(items), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(items, 0), "type")), "message");
    cr_assert(!in.has_action);
    cr_assert_str_eq(in.finish_reason, "length");
    char gerr[256];
    grade_action *a = grade_actual_from_response(o, gerr, sizeof gerr);
    cr_assert(a, "%s", gerr);
    cr_assert_eq(grade_action_ncalls(a), 0);
    grade_action_free(a);
    json_decref(o);
    util_buf_free(&out);
}

Test(conv_reply, tool_calls_become_function_call_items_with_verbatim_arguments)
{
    reply_out r = reply_of("{'choices':[{'message':{'content':null,'tool_calls':["
                           "{'id':'call_1','type':'function','function':{'name':'f','arguments':'{\\'a\\': 1.0}'}},"
                           "{'id':'call_2','type':'function','function':{'name':'g','arguments':'{not json'}}]},"
                           "'finish_reason':'tool_calls'}]}", PARAMS_TOOLS, 1);
    cr_assert_eq(output_count(&r), 2);
    json_t *a = output_item(&r, 0), *b = output_item(&r, 1);
    cr_assert_str_eq(sget(a, "type"), "function_call");
    cr_assert(!strncmp(sget(a, "id"), "fc_", 3));
    cr_assert_str_eq(sget(a, "call_id"), "call_1");
    cr_assert_str_eq(sget(a, "name"), "f");
    cr_assert_str_eq(sget(a, "arguments"), "{\"a\": 1.0}");
    cr_assert_str_eq(sget(a, "status"), "completed");
    cr_assert_str_eq(sget(b, "arguments"), "{not json");
    cr_assert_eq(r.info.n_tool_calls, 2);
    cr_assert_eq(r.info.anomalies, 0);
    cr_assert(r.info.has_action);
    reply_free(&r);
    /* text next to the calls: message first, then the calls */
    r = reply_of("{'choices':[{'message':{'content':'Sure.','tool_calls':[{'id':'x','function':{'name':'f','arguments':'{}'}}]}}]}",
                 NULL, 1);
    cr_assert_eq(output_count(&r), 2);
    cr_assert_str_eq(sget(output_item(&r, 0), "type"), "message");
    cr_assert_str_eq(sget(output_item(&r, 1), "type"), "function_call");
    reply_free(&r);
}

Test(conv_reply, missing_ids_and_object_arguments_are_repaired_with_anomalies)
{
    reply_out r = reply_of("{'choices':[{'message':{'tool_calls':[{'type':'function','function':"
                           "{'name':'f','arguments':{'b': [1, 2.50], 'c': {'d': 'e f'}}}}]}}]}", NULL, 1);
    json_t *a = output_item(&r, 0);
    const char *cid = sget(a, "call_id");
    cr_assert(!strncmp(cid, "call_", 5) && strlen(cid) == 5 + 32, "%s", cid);
    cr_assert_str_eq(sget(a, "arguments"), "{\"b\":[1,2.50],\"c\":{\"d\":\"e f\"}}");
    cr_assert_eq(r.info.anomalies, CONV_A_TOOL_CALL_ID_SYNTHESISED | CONV_A_ARGUMENTS_NOT_STRING);
    reply_free(&r);
    r = reply_of("{'choices':[{'message':{'tool_calls':[{'id':'','function':{'arguments':'{}'}}]}}]}", NULL, 1);
    cr_assert_eq(r.info.anomalies, CONV_A_TOOL_CALL_ID_SYNTHESISED | CONV_A_TOOL_CALL_WITHOUT_NAME);
    cr_assert_str_eq(sget(output_item(&r, 0), "name"), "");
    reply_free(&r);
}

Test(conv_reply, finish_reason_length_and_content_filter_make_it_incomplete)
{
    const char *fr[] = {"length", "content_filter", "stop", "tool_calls"};
    const char *reason[] = {"max_output_tokens", "content_filter", NULL, NULL};
    for (size_t i = 0; i < 4; i++) {
        char c[256];
        snprintf(c, sizeof c, "{'choices':[{'message':{'content':'x'},'finish_reason':'%s'}]}", fr[i]);
        reply_out r = reply_of(c, NULL, 1);
        cr_assert_str_eq(sget(r.obj, "status"), reason[i] ? "incomplete" : "completed");
        json_t *inc = json_object_get(r.obj, "incomplete_details");
        if (reason[i])
            cr_assert_str_eq(sget(inc, "reason"), reason[i]);
        else
            cr_assert(json_is_null(inc));
        cr_assert_eq(r.info.incomplete, reason[i] != NULL);
        cr_assert_str_eq(r.info.finish_reason, fr[i]);
        reply_free(&r);
    }
}

Test(conv_reply, usage_is_mapped_and_absent_usage_is_null)
{
    reply_out r = reply_of("{'choices':[{'message':{'content':'x'}}],'usage':{'prompt_tokens':100,"
                           "'completion_tokens':20,'total_tokens':120,'prompt_tokens_details':{'cached_tokens':64},"
                           "'completion_tokens_details':{'reasoning_tokens':12}}}", NULL, 1);
    json_t *u = json_object_get(r.obj, "usage");
    cr_assert_eq(json_integer_value(json_object_get(u, "input_tokens")), 100);
    cr_assert_eq(json_integer_value(json_object_get(u, "output_tokens")), 20);
    cr_assert_eq(json_integer_value(json_object_get(u, "total_tokens")), 120);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(u, "input_tokens_details"), "cached_tokens")), 64);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(u, "output_tokens_details"), "reasoning_tokens")), 12);
    cr_assert_eq(r.info.input_tokens, 100);
    cr_assert_eq(r.info.cached_tokens, 64);
    cr_assert_eq(r.info.output_tokens, 20);
    cr_assert_eq(r.info.reasoning_tokens, 12);
    reply_free(&r);
    r = reply_of("{'choices':[{'message':{'content':'x'}}],'usage':{'prompt_tokens':3,'completion_tokens':4}}", NULL, 1);
    u = json_object_get(r.obj, "usage");
    cr_assert_eq(json_integer_value(json_object_get(u, "total_tokens")), 7);
    cr_assert_eq(r.info.cached_tokens, -1);
    cr_assert_eq(r.info.reasoning_tokens, -1);
    reply_free(&r);
    r = reply_of("{'choices':[{'message':{'content':'x'}}]}", NULL, 1);
    cr_assert(json_is_null(json_object_get(r.obj, "usage")));
    cr_assert_eq(r.info.input_tokens, -1);
    reply_free(&r);
}

Test(conv_reply, object_fields_echo_the_request)
{
    reply_out r = reply_of("{'id':'chatcmpl-1','object':'chat.completion','model':'served','choices':[{'message':{'content':'x'}}]}",
                           PARAMS_TOOLS, 1);
    cr_assert_str_eq(sget(r.obj, "object"), "response");
    cr_assert_str_eq(sget(r.obj, "model"), "the-model");
    cr_assert_eq(json_integer_value(json_object_get(r.obj, "created_at")), 1700000000);
    cr_assert_str_eq(sget(r.obj, "tool_choice"), "auto");
    cr_assert(json_is_false(json_object_get(r.obj, "parallel_tool_calls")));
    cr_assert_eq(json_real_value(json_object_get(r.obj, "temperature")), 0.2);
    cr_assert(json_is_null(json_object_get(r.obj, "top_p")));
    cr_assert(json_is_null(json_object_get(r.obj, "max_output_tokens")));
    json_t *tools = json_object_get(r.obj, "tools");
    cr_assert_eq(json_array_size(tools), 1);
    cr_assert_str_eq(sget(json_array_get(tools, 0), "name"), "f");
    cr_assert(json_is_true(json_object_get(json_array_get(tools, 0), "strict")));
    cr_assert(!strncmp(sget(r.obj, "id"), "resp_", 5));
    reply_free(&r);
    r = reply_of("{'choices':[{'message':{'content':'x'}}]}", NULL, 1);
    cr_assert_eq(json_array_size(json_object_get(r.obj, "tools")), 0);
    cr_assert_str_eq(sget(r.obj, "tool_choice"), "auto");
    cr_assert(json_is_true(json_object_get(r.obj, "parallel_tool_calls")));
    reply_free(&r);
}

static bool is_id(const char *s, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strncmp(s, prefix, n) || strlen(s) != n + 32)
        return false;
    for (s += n; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

Test(conv_reply, ids_are_deterministic_per_seed)
{
    const char *c = "{'choices':[{'message':{'content':'<think>r</think>t','tool_calls':"
                    "[{'id':'k','function':{'name':'f','arguments':'{}'}}]}}]}";
    reply_out a = reply_of(c, NULL, 42), b = reply_of(c, NULL, 42), d = reply_of(c, NULL, 43);
    cr_assert_str_eq(a.text, b.text);
    cr_assert_str_neq(a.text, d.text);
    cr_assert(is_id(sget(a.obj, "id"), "resp_"));
    cr_assert(is_id(sget(output_item(&a, 0), "id"), "rs_"));
    cr_assert(is_id(sget(output_item(&a, 1), "id"), "msg_"));
    cr_assert(is_id(sget(output_item(&a, 2), "id"), "fc_"));
    /* ids differ from each other */
    cr_assert_str_neq(sget(a.obj, "id") + 5, sget(output_item(&a, 1), "id") + 4);
    reply_free(&a);
    reply_free(&b);
    reply_free(&d);
}

Test(conv_reply, replies_that_are_not_chat_completions_are_invalid)
{
    expect_bad_reply("<html>502</html>", "reply is not a chat completion: invalid JSON");
    expect_bad_reply("[]", "not a JSON object");
    expect_bad_reply("{'object':'chat.completion'}", "no choices list");
    expect_bad_reply("{'error':{'message':'overloaded','code':503}}", "it is an error object");
    expect_bad_reply("{'choices':[{'finish_reason':'stop'}]}", "choices[0] has no message object");
    expect_bad_reply("{'choices':[{'message':{'content':7}}]}", "content is neither a string nor a list");
    expect_bad_reply("{'choices':[{'message':{'tool_calls':{}}}]}", "tool_calls is not a list");
    expect_bad_reply("{'choices':[{'message':{'tool_calls':[{'id':'x','function':'f'}]}}]}",
                     "tool_calls[0] is not a function call");
    char err[128];
    util_buf out = UTIL_BUF_INIT;
    cr_assert_eq(conv_chat_reply("{\"choices\":[]}", 14, "[1]", 3, "m", 1, 0, &out, NULL, err, sizeof err),
                 CONV_INVALID);
    cr_assert(strstr(err, "responses_create_params is not a JSON object"), "%s", err);
    cr_assert_eq(out.len, 0);
    util_buf_free(&out);
}

/* Replies shaped like those of the real servers (fields as their documentation shows). */
Test(conv_reply, real_server_shapes_are_gradeable)
{
    const char *replies[] = {
        /* vLLM with --enable-auto-tool-choice and a reasoning parser */
        "{'id':'chatcmpl-abc','object':'chat.completion','created':1730000000,'model':'Qwen/Qwen3-8B',"
        "'choices':[{'index':0,'message':{'role':'assistant','reasoning_content':'The user wants a ticket.',"
        "'content':null,'tool_calls':[{'id':'chatcmpl-tool-1f2e','type':'function','function':"
        "{'name':'create_ticket','arguments':'{\\'priority\\': 2}'}}]},'logprobs':null,"
        "'finish_reason':'tool_calls','stop_reason':null}],'usage':{'prompt_tokens':812,"
        "'total_tokens':861,'completion_tokens':49,'prompt_tokens_details':null},'prompt_logprobs':null}",
        /* llama.cpp llama-server --jinja */
        "{'choices':[{'finish_reason':'tool_calls','index':0,'message':{'role':'assistant','content':null,"
        "'tool_calls':[{'type':'function','function':{'name':'create_ticket','arguments':"
        "'{\\'priority\\':2}'},'id':'Xb3f9'}]}}],'created':1730000000,'model':'gpt-3.5-turbo',"
        "'system_fingerprint':'b4500','object':'chat.completion','usage':{'completion_tokens':20,"
        "'prompt_tokens':300,'total_tokens':320},'id':'chatcmpl-x','timings':{'prompt_n':300}}",
        /* OpenAI */
        "{'id':'chatcmpl-B9','object':'chat.completion','created':1741570283,'model':'gpt-4.1-2025-04-14',"
        "'choices':[{'index':0,'message':{'role':'assistant','content':null,'tool_calls':[{'id':"
        "'call_abc','type':'function','function':{'name':'create_ticket','arguments':'{\\'priority\\':2}'}}],"
        "'refusal':null,'annotations':[]},'logprobs':null,'finish_reason':'tool_calls'}],'usage':"
        "{'prompt_tokens':82,'completion_tokens':17,'total_tokens':99,'prompt_tokens_details':"
        "{'cached_tokens':0,'audio_tokens':0},'completion_tokens_details':{'reasoning_tokens':0,"
        "'audio_tokens':0,'accepted_prediction_tokens':0,'rejected_prediction_tokens':0}},"
        "'service_tier':'default','system_fingerprint':'fp_1'}",
    };
    for (size_t i = 0; i < sizeof replies / sizeof replies[0]; i++) {
        reply_out r = reply_of(replies[i], PARAMS_TOOLS, i);
        cr_assert_eq(r.info.anomalies, 0, "reply %zu", i);
        cr_assert_str_eq(r.info.finish_reason, "tool_calls");
        char err[256];
        grade_action *a = grade_actual_from_response(r.obj, err, sizeof err);
        cr_assert(a, "grader refuses reply %zu: %s", i, err);
        cr_assert_eq(grade_action_ncalls(a), 1);
        cr_assert_str_eq(grade_action_call_name(a, 0), "create_ticket");
        grade_action_free(a);
        reply_free(&r);
    }
}

/* ---- Responses replies ----------------------------------------------------------------------------------------------- */

static int responses_info(const char *reply, conv_reply_info *info, char *err, size_t errsz)
{
    char *c = q(reply);
    int rc = conv_responses_reply(c, strlen(c), info, err, errsz);
    free(c);
    return rc;
}

Test(conv_responses_reply, finish_info_and_validity)
{
    conv_reply_info in;
    char err[256];
    cr_assert_eq(responses_info("{'object':'response','status':'completed','output':[{'type':'function_call',"
                                "'name':'f','arguments':'{}','call_id':'c'}],'usage':{'input_tokens':9,"
                                "'output_tokens':2,'input_tokens_details':{'cached_tokens':4},"
                                "'output_tokens_details':{'reasoning_tokens':1}}}", &in, err, sizeof err), CONV_OK);
    cr_assert_str_eq(in.finish_reason, "tool_calls");
    cr_assert(in.has_action);
    cr_assert_eq(in.n_tool_calls, 1);
    cr_assert_eq(in.input_tokens, 9);
    cr_assert_eq(in.cached_tokens, 4);
    cr_assert_eq(in.output_tokens, 2);
    cr_assert_eq(in.reasoning_tokens, 1);
    cr_assert_eq(responses_info("{'object':'response','status':'incomplete','incomplete_details':"
                                "{'reason':'max_output_tokens'},'output':[{'type':'reasoning','summary':[]}]}",
                                &in, err, sizeof err), CONV_OK);
    cr_assert(in.incomplete);
    cr_assert(!in.has_action);
    cr_assert_str_eq(in.finish_reason, "length");
    cr_assert_eq(in.input_tokens, -1);
    cr_assert_eq(responses_info("{'status':'completed','output':[{'type':'message','content':"
                                "[{'type':'output_text','text':'hi'}]}]}", &in, err, sizeof err), CONV_OK);
    cr_assert_str_eq(in.finish_reason, "stop");
    cr_assert(in.has_action);
    cr_assert_eq(responses_info("{'object':'chat.completion','output':[]}", &in, err, sizeof err), CONV_INVALID);
    cr_assert_eq(responses_info("{'choices':[]}", &in, err, sizeof err), CONV_INVALID);
    cr_assert(strstr(err, "no output list"), "%s", err);
    cr_assert_eq(responses_info("nope", &in, err, sizeof err), CONV_INVALID);
}

static void openai_object_reads(const char *resp)
{
    conv_reply_info in;
    char err[256];
    cr_assert_eq(conv_responses_reply(resp, strlen(resp), &in, err, sizeof err), CONV_OK, "%s", err);
    cr_assert(in.has_action);
    cr_assert(in.input_tokens > 0 && in.output_tokens > 0);
    cr_assert(!strcmp(in.finish_reason, "stop") || !strcmp(in.finish_reason, "tool_calls"));
}

Test(conv_responses_reply, real_openai_objects, .description = "../shared/data rollouts")
{
    TU_REQUIRE_SHARED(path, "data/example_rollouts.jsonl");
    cr_assert(each_shared_member(path, "response", openai_object_reads) > 0);
}

Test(conv, anomaly_names_are_stable)
{
    const char *want[CONV_ANOMALY_COUNT] = {
        "output_text_outside_assistant", "tool_without_strict", "chat_shaped_tool",
        "assistant_part_lenient", "tool_call_id_synthesised", "arguments_not_string",
        "unclosed_think", "extra_choices", "tool_call_without_name"};
    for (unsigned i = 0; i < CONV_ANOMALY_COUNT; i++)
        cr_assert_str_eq(conv_anomaly_name(1u << i), want[i]);
    cr_assert_null(conv_anomaly_name(0));
    cr_assert_null(conv_anomaly_name(3));
    cr_assert_null(conv_anomaly_name(1u << CONV_ANOMALY_COUNT));
    util_buf b = UTIL_BUF_INIT;
    cr_assert_eq(conv_anomalies_json(0, &b), CONV_OK);
    cr_assert_str_eq(b.data, "[]");
    b.len = 0;
    cr_assert_eq(conv_anomalies_json(CONV_A_UNCLOSED_THINK | CONV_A_TOOL_WITHOUT_STRICT | (1u << 30), &b), CONV_OK);
    cr_assert_str_eq(b.data, "[\"tool_without_strict\",\"unclosed_think\"]");
    util_buf_free(&b);
}
