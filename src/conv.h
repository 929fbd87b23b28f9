/* conv — the conversions of `fcpivot eval` (docs/eval.md §2, §3): a
 * row's Responses `responses_create_params` to an upstream request body, and
 * an upstream reply back to a Responses `response` object, as NeMo Gym's
 * vllm_model does it.
 *
 * Text in, text out. The row's numbers and strings are copied byte for byte
 * from the input text into the output (a 30-digit integer in a tool schema,
 * a "\u00e9" or a lone "\ud800" escape is sent as it was written): the
 * module works on spans of JSON text found by the jtext scanner (accepting
 * lone surrogate escapes, as Python does) and never rebuilds row content
 * through a JSON tree. Texts that are glued (consecutive assistant items) are
 * joined in their escaped form, and `<think>` tags are found by decoding
 * escapes character by character, so what lies around them stays as written.
 * Object keys are copied as written too. Every successful output is one
 * valid JSON object (strict UTF-8 whenever the input is).
 *
 * Request (conv_chat_request, §2.1), in short:
 *  - `input` a string: one user message with one text part; a list: items
 *    `message` (also an item with a `role` and no `type`), `reasoning`,
 *    `function_call`, `function_call_output`; any other item, an item with
 *    neither type nor role, an unknown role or content part → CONV_INVALID.
 *  - assistant-side items (assistant messages, reasoning, function calls)
 *    gather into one pending assistant message, flushed by a user / system /
 *    developer message, a function_call_output, and at the end, as
 *    {"role":"assistant","content":TEXT|null,"tool_calls":[…] if any} —
 *    when there is a text or a call (as in Gym, an empty one is not sent).
 *    Texts are glued with no separator. A reasoning item adds
 *    "<think>SUMMARY</think>" per non-empty summary text (skipped with
 *    CONV_REASONING_DROP); with CONV_REASONING_FIELD every <think>…</think>
 *    span (shortest, across lines) is then cut out of the assistant content
 *    (what is left stays a string, "" included, as in Gym) and the first
 *    span's text goes to both `reasoning_content` and `reasoning`;
 *    CONV_REASONING_THINK keeps the tags in the content.
 *  - user/system/developer content: a string stays a string; parts
 *    input_text → text, input_image → image_url {url, detail ["auto"]},
 *    output_text → text (anomaly OUTPUT_TEXT_OUTSIDE_ASSISTANT).
 *  - function_call → {"id":call_id,"type":"function","function":{"name",
 *    "arguments"}} (arguments must be a string, kept as written);
 *    function_call_output → {"role":"tool","tool_call_id","content"}
 *    (a list of input_text parts becomes a list of text parts).
 *  - `instructions` non-empty: a first system message holding instructions
 *    and the texts of the leading run of system/developer messages, joined
 *    by "\n\n".
 *  - model → o->model; max_output_tokens → max_tokens; reasoning.effort →
 *    reasoning_effort; tools → {"type":"function","function":{every key of
 *    the tool but type, strict and null ones}} (a Chat-shaped tool is taken
 *    as it is, anomaly CHAT_SHAPED_TOOL; a tool without strict: anomaly
 *    TOOL_WITHOUT_STRICT); other tool types → CONV_INVALID. Without tools,
 *    tool_choice and parallel_tool_calls are dropped, and a tool_choice
 *    other than "auto"/"none" ("required", a named choice) → CONV_INVALID,
 *    as in Gym. A named choice {"type":"function","name":X}
 *    becomes {"type":"function","function":{"name":X}}.
 *  - tool_choice, parallel_tool_calls, temperature, top_p, metadata, user,
 *    service_tier, store, top_logprobs pass through; any other parameter
 *    (background, include, max_tool_calls, previous_response_id, prompt,
 *    text, truncation, stream, conversation, unknown keys…) is not sent; a
 *    null parameter is omitted (top_logprobs:null included, as Gym does).
 *  - then `seed` (o->has_seed), `chat_template_kwargs` (o's members updated
 *    with the row's metadata.chat_template_kwargs, as Gym merges its config
 *    with the row), then the members of the row's metadata.extra_body and of
 *    o->extra_body (a metadata member is a JSON object, or a string holding
 *    one) whose key is not already used: a key the row sets — even to null —
 *    or that the body already has wins over both, and the row's extra body
 *    over the option's (Gym: config.update(row), then extra | body);
 *    "stream" is never taken from them (replies are read whole).
 * Body key order: model, messages, tools, tool_choice, parallel_tool_calls,
 * max_tokens, temperature, top_p, reasoning_effort, metadata, user,
 * service_tier, store, top_logprobs, seed, chat_template_kwargs, extra keys.
 *
 * Reply (conv_chat_reply, §2.2): choices[0] only. A reasoning item from
 * message.reasoning_content (else message.reasoning) and the <think>…</think>
 * spans of the content (one summary each; as in Gym the field is put in
 * front of the content as "<think>FIELD</think>" before the spans are cut;
 * an unclosed <think> stays in the text: anomaly UNCLOSED_THINK); then a
 * message item when the remaining text is non-empty or there is neither
 * reasoning nor a tool call (an empty completion is an empty message); then
 * one function_call item per tool call, arguments as written (invalid JSON
 * included; an object is serialised compactly: ARGUMENTS_NOT_STRING; a call
 * without id gets one: TOOL_CALL_ID_SYNTHESISED). status "incomplete" with
 * incomplete_details.reason "max_output_tokens" / "content_filter" for
 * finish_reason "length" / "content_filter". An empty choices list gives an
 * empty output (graded as no action). usage: input/output/total tokens and
 * the cached / reasoning details (0 when a detail is absent), or null.
 *
 * Ids ("resp_", "fc_", "call_" for a tool call without id, "rs_", "msg_",
 * each + 32 lowercase hex digits) come from a splitmix64 sequence started at
 * id_seed, drawn in that order (resp_, each call's fc_ [and call_], rs_,
 * msg_): the same seed and reply give the same ids.
 *
 * No I/O, no global state; every function is reentrant.
 */
#ifndef FCPIVOT_CONV_H
#define FCPIVOT_CONV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util.h"

/* What becomes of prior reasoning (--reasoning-history). */
typedef enum {
    CONV_REASONING_FIELD,  /* reasoning_content + reasoning (first span), tags cut out */
    CONV_REASONING_THINK,  /* <think>…</think> left in the content */
    CONV_REASONING_DROP    /* reasoning items skipped */
} conv_reasoning;

/* Request options; all borrowed for the duration of the call. */
typedef struct conv_request_opts {
    const char *model;                /* sent as "model" (NUL-terminated; NULL: the row's
                                         model is kept, null omitted) */
    conv_reasoning reasoning;         /* default (0) CONV_REASONING_FIELD */
    bool developer_as_system;         /* developer messages sent with role system */
    const char *extra_body;           /* NUL-terminated JSON object text or NULL */
    const char *chat_template_kwargs; /* NUL-terminated JSON object text or NULL */
    bool has_seed;                    /* send "seed": seed */
    long long seed;
} conv_request_opts;

/* Return codes. */
enum {
    CONV_OK = 0,
    CONV_INVALID = -1,   /* the input cannot be converted: reason in err */
    CONV_NOMEM = -2      /* allocation failure ("out of memory" in err) */
};

/* Anomalies: things converted although NeMo Gym would refuse or alter them.
 * Bit flags; conv_anomaly_name gives each a stable snake_case name. */
enum {
    CONV_A_OUTPUT_TEXT_OUTSIDE_ASSISTANT = 1u << 0, /* request: output_text in a user/system part */
    CONV_A_TOOL_WITHOUT_STRICT = 1u << 1,           /* request: function tool without "strict" */
    CONV_A_CHAT_SHAPED_TOOL = 1u << 2,              /* request: {"type":"function","function":{…}} */
    CONV_A_ASSISTANT_PART_LENIENT = 1u << 3,        /* request: assistant output_text without annotations */
    CONV_A_TOOL_CALL_ID_SYNTHESISED = 1u << 4,      /* reply: tool call without id */
    CONV_A_ARGUMENTS_NOT_STRING = 1u << 5,          /* reply: arguments an object (serialised) or absent ("") */
    CONV_A_UNCLOSED_THINK = 1u << 6,                /* reply: <think> without </think> (left in the text) */
    CONV_A_EXTRA_CHOICES = 1u << 7,                 /* reply: more than one choice (only the first used) */
    CONV_A_TOOL_CALL_WITHOUT_NAME = 1u << 8,        /* reply: tool call without function name ("") */
};
#define CONV_ANOMALY_COUNT 9

/* The stable name of one anomaly bit (e.g. "tool_call_id_synthesised"), or
 * NULL when bit is not exactly one known flag. Static storage. */
const char *conv_anomaly_name(unsigned bit);

/* The names of the anomalies in set as a JSON list (["a","b"], in bit
 * order; [] when none) appended to out (caller-owned). CONV_OK or
 * CONV_NOMEM. */
int conv_anomalies_json(unsigned set, util_buf *out);

/* Conventions of the four conversions: input texts are borrowed for the
 * call and need not be NUL-terminated; out is a caller-owned buffer that the
 * result is appended to (it holds one JSON object more on CONV_OK, and is
 * left exactly as it was on any error); err (may be NULL) receives the
 * reason of a failure. Nothing is kept after the call. */

/* The responses_create_params object text params[0..len) (after overrides)
 * → a Chat Completions request body (one JSON object) appended to out.
 * *anomalies (may be NULL) receives the request anomalies. On error out is
 * left as it was. Returns CONV_OK, CONV_INVALID (err says why, naming the
 * item, e.g. "input[3]: item type \"web_search_call\" cannot be converted")
 * or CONV_NOMEM. */
int conv_chat_request(const char *params, size_t len, const conv_request_opts *o,
                      util_buf *out, unsigned *anomalies, char *err, size_t errsz);

/* --api responses (§3): params with its top-level null members removed,
 * "model" replaced by o->model (written first), "stream" removed (replies
 * are read whole), and with CONV_REASONING_DROP the reasoning items of
 * input removed; then seed, chat_template_kwargs and o->extra_body as for
 * conv_chat_request (the row's metadata is not read; developer_as_system
 * does not apply). Every other byte as in params. Appended to out; same
 * returns (no anomalies). */
int conv_responses_request(const char *params, size_t len, const conv_request_opts *o,
                           util_buf *out, char *err, size_t errsz);

/* What the runner needs to know about a reply. */
typedef struct conv_reply_info {
    char finish_reason[32];  /* chat: choices[0].finish_reason ("" if absent; printable
                                ASCII, cut at 31 bytes); responses: "stop", "tool_calls",
                                "length", "content_filter", else the status/reason */
    unsigned anomalies;      /* reply anomalies (CONV_A_*) */
    bool has_action;         /* output holds a function call or a non-empty message */
    bool incomplete;         /* status "incomplete" */
    unsigned n_tool_calls;   /* function_call items */
    /* usage; -1 when absent */
    long long input_tokens, cached_tokens, output_tokens, reasoning_tokens;
} conv_reply_info;

/* A chat completion text → a Responses `response` object text appended to
 * out (§2.2). params[0..params_len) is the request's responses_create_params
 * text (NULL/0: none), echoed as tools [[]], tool_choice ["auto"],
 * parallel_tool_calls [true], temperature, top_p, max_output_tokens [null];
 * model (NUL-terminated) is the "model" field; created_at is written as
 * given; ids from id_seed (see the top). info (may be NULL) is filled.
 * CONV_INVALID when the text is not a chat completion (not an object, no
 * choices list, a choice without message, malformed tool calls) or params is
 * not an object; out is then left as it was. */
int conv_chat_reply(const char *completion, size_t len, const char *params, size_t params_len,
                    const char *model, uint64_t id_seed, long long created_at, util_buf *out,
                    conv_reply_info *info, char *err, size_t errsz);

/* What Gym grades when the endpoint refuses the prompt as too long
 * (--on-context-overflow gym): its empty chat completion, whose
 * finish_reason it sets to "length". Give it to conv_chat_reply. */
#define CONV_CONTEXT_OVERFLOW_COMPLETION                                                      \
    "{\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"finish_reason\":\"length\","     \
    "\"message\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":null}}]}"

/* A Responses reply: CONV_OK when it is a JSON object with an "output" list
 * (and "object":"response" if it has "object"), with info filled from
 * status, incomplete_details, output and usage; CONV_INVALID otherwise. */
int conv_responses_reply(const char *reply, size_t len, conv_reply_info *info, char *err,
                         size_t errsz);

#endif
