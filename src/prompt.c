/* prompt — ToolSpecs and the rendered prompt of a task (see prompt.h).
 *
 * Tools come from ds_task.tools (already in the Responses-API shape; the
 * Chat-Completions shape {"function":{...}} is read too, to be safe). The
 * prompt text has one "=== <role> ===" section per input item, in order
 * (reasoning items skipped), then the instruction to take one action.
 * Everything is built into a growing buffer and handed to jansson once.
 */
#include "prompt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The function object of a tool item: the item itself, or its "function"
 * member in the Chat-Completions shape. */
static const json_t *tool_function(const json_t *tool)
{
    const json_t *fn = json_object_get(tool, "function");
    return json_is_object(fn) ? fn : tool;
}

const char *prompt_tool_name(const json_t *tool)
{
    return json_string_value(json_object_get(tool_function(tool), "name"));
}

static json_t *tool_spec(const char *name, const char *description, json_t *schema)
{
    return json_pack("{s:s, s:s, s:o}", "name", name, "description", description,
                     "input_schema", schema ? schema : json_null());
}

static json_t *submit_tool_spec(void)
{
    json_t *schema = json_pack("{s:s, s:{s:{s:s}}, s:[s]}", "type", "object", "properties",
                               "content", "type", "string", "required", "content");
    if (!schema)
        return NULL;
    return tool_spec(PROMPT_SUBMIT_TOOL,
                     "Reply to the user with a chat message instead of calling a function.",
                     schema);
}

json_t *prompt_shared_tools(void)
{
    json_t *spec = submit_tool_spec();
    return spec ? json_pack("[o]", spec) : NULL;
}

bool prompt_row_has_tool(const ds_task *task, const char *name)
{
    size_t i;
    json_t *tool;
    json_array_foreach(task->tools, i, tool) {
        const char *n = prompt_tool_name(tool);
        if (n && strcmp(n, name) == 0)
            return true;
    }
    return false;
}

/* A row tool as a ToolSpec; NULL when it has no name or on allocation
 * failure. raw is the row's own tool item (before the dataset layer
 * normalised it): a tool that declares no parameters gets a null schema. */
static json_t *row_tool_spec(const json_t *tool, const json_t *raw)
{
    const json_t *fn = tool_function(tool);
    const char *name = json_string_value(json_object_get(fn, "name"));
    if (!name)
        return NULL;
    const char *desc = json_string_value(json_object_get(fn, "description"));
    json_t *params = json_object_get(fn, "parameters");
    const json_t *declared = raw ? json_object_get(tool_function(raw), "parameters") : params;
    bool none = !params || json_is_null(params) || !declared || json_is_null(declared);
    return tool_spec(name, desc ? desc : "", none ? NULL : json_incref(params));
}

json_t *prompt_task_tools(const ds_task *task)
{
    json_t *list = json_array();
    if (!list)
        return NULL;
    if (!prompt_row_has_tool(task, PROMPT_SUBMIT_TOOL) &&
        json_array_append_new(list, submit_tool_spec()) != 0)
        goto fail;
    const json_t *raw = json_object_get(json_object_get(task->row, "responses_create_params"),
                                        "tools");
    bool aligned = json_array_size(raw) == json_array_size(task->tools);
    size_t i;
    json_t *tool;
    json_array_foreach(task->tools, i, tool) {
        if (!prompt_tool_name(tool))
            continue;   /* validation rejects these; never serve a nameless tool */
        json_t *spec = row_tool_spec(tool, aligned ? json_array_get(raw, i) : NULL);
        if (json_array_append_new(list, spec) != 0)
            goto fail;
    }
    return list;
fail:
    json_decref(list);
    return NULL;
}

/* ---- rendering --------------------------------------------------------- */

typedef struct text_buf {
    char *buf;
    size_t len, cap;
    bool failed;
} text_buf;

static void tb_add(text_buf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *nb = realloc(b->buf, cap);
        if (!nb) {
            b->failed = true;
            return;
        }
        b->buf = nb;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

static void tb_str(text_buf *b, const char *s)
{
    tb_add(b, s, strlen(s));
}

/* Appends a JSON string's text, or other JSON compactly. */
static void tb_value(text_buf *b, const json_t *v)
{
    if (json_is_string(v)) {
        tb_add(b, json_string_value(v), json_string_length(v));
        return;
    }
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s) {
        b->failed = true;
        return;
    }
    tb_str(b, s);
    free(s);
}

/* A section header line; sections are separated by a blank line. The "==="
 * frame keeps headers apart from Markdown inside the messages. */
static void tb_header(text_buf *b, const char *title, const char *detail)
{
    if (b->len)
        tb_str(b, "\n\n");
    tb_str(b, "=== ");
    tb_str(b, title);
    if (detail) {
        tb_str(b, " (");
        tb_str(b, detail);
        tb_str(b, ")");
    }
    tb_str(b, " ===\n");
}

/* Message content: a string, or a list of parts whose texts are joined by
 * newlines (parts without text are named by their type). */
static void render_content(text_buf *b, const json_t *content)
{
    if (!json_is_array(content)) {
        if (content && !json_is_null(content))
            tb_value(b, content);
        return;
    }
    size_t i;
    json_t *part;
    json_array_foreach(content, i, part) {
        if (i)
            tb_str(b, "\n");
        const json_t *text = json_object_get(part, "text");
        const json_t *refusal = json_object_get(part, "refusal");
        const char *type = json_string_value(json_object_get(part, "type"));
        if (json_is_string(text))
            tb_value(b, text);
        else if (json_is_string(refusal))
            tb_value(b, refusal);
        else if (type) {
            tb_str(b, "[");
            tb_str(b, type);
            tb_str(b, "]");
        } else
            tb_value(b, part);
    }
}

static const char *role_title(const char *role)
{
    return role ? role : "message";
}

static void render_item(text_buf *b, const json_t *item)
{
    const char *type = json_string_value(json_object_get(item, "type"));
    const char *role = json_string_value(json_object_get(item, "role"));
    if (type && strcmp(type, "reasoning") == 0)
        return;
    if (type && strcmp(type, "function_call") == 0) {
        tb_header(b, "assistant tool call", json_string_value(json_object_get(item, "call_id")));
        const char *name = json_string_value(json_object_get(item, "name"));
        tb_str(b, name ? name : "?");
        tb_str(b, " ");
        const json_t *args = json_object_get(item, "arguments");
        tb_value(b, args ? args : json_null());
        return;
    }
    if (type && strcmp(type, "function_call_output") == 0) {
        const char *call_id = json_string_value(json_object_get(item, "call_id"));
        tb_header(b, "tool output", call_id);
        const json_t *output = json_object_get(item, "output");
        tb_value(b, output ? output : json_null());
        return;
    }
    if (role || !type || strcmp(type, "message") == 0) {
        tb_header(b, role_title(role), NULL);
        render_content(b, json_object_get(item, "content"));
        return;
    }
    tb_header(b, type, NULL);   /* an item kind this renderer does not know */
    tb_value(b, item);
}

static void render_instruction(text_buf *b, const ds_task *task)
{
    tb_header(b, "your turn", NULL);
    tb_str(b, "Take exactly one next action as the assistant: either call one of the "
              "task's tools (");
    size_t i, shown = 0;
    json_t *tool;
    json_array_foreach(task->tools, i, tool) {
        const char *name = prompt_tool_name(tool);
        if (!name || strcmp(name, PROMPT_SUBMIT_TOOL) == 0)
            continue;
        tb_str(b, shown++ ? ", " : "");
        tb_str(b, name);
    }
    if (!shown)
        tb_str(b, "none");
    tb_str(b, ") with its JSON arguments, or call " PROMPT_SUBMIT_TOOL " with "
              "{\"content\": \"<your reply>\"} to reply to the user with a chat message.");
}

static json_t *or_null(const json_t *v)
{
    return v ? json_incref((json_t *)v) : json_null();
}

json_t *prompt_blocks(const ds_task *task)
{
    text_buf b = {0};
    size_t i;
    json_t *item;
    json_array_foreach(task->input, i, item)
        render_item(&b, item);
    render_instruction(&b, task);
    if (b.failed) {
        free(b.buf);
        return NULL;
    }
    json_t *text = json_stringn(b.buf, b.len);
    free(b.buf);
    json_t *detail = json_pack("{s:o, s:o, s:o, s:o}", "input", or_null(task->input),
                               "tools", or_null(task->tools), "tool_choice",
                               or_null(task->tool_choice), "parallel_tool_calls",
                               or_null(task->parallel_tool_calls));
    if (!text || !detail) {
        json_decref(text);
        json_decref(detail);
        return NULL;
    }
    return json_pack("[{s:s, s:o, s:o}]", "type", "text", "text", text, "detail", detail);
}
