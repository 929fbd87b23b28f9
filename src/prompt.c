/* prompt — ToolSpecs and the rendered prompt of a task (see prompt.h).
 *
 * Tools come from ds_task.tools, the row's function objects as written;
 * the Responses-API shape is made here: "type":"function", the name, the
 * description ("" when it has none), the declared parameters (the empty
 * object schema when they are missing or not an object) and "strict" when it
 * is a boolean (the Chat-Completions shape {"function":{...}} is read too,
 * to be safe). The prompt text has one "=== <role> ===" section per input
 * item, in order (reasoning items skipped), then the instruction to take
 * one action.
 *
 * Replies are written as JSON text, not dumped from jansson: the strings
 * come from the task's trees, every other value (tool schemas, the input
 * items of the prompt's detail, non-string arguments) from the row's own
 * bytes (spans looked up in the task's copy of its row at each rendering,
 * white space dropped), so a number such as 18446744073709551615 or NaN
 * comes back exactly as the row wrote it.
 */
#include "prompt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util.h"

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

/* Appends a JSON string. -1 when out of memory. */
static int put_string(util_buf *b, const char *s, size_t n)
{
    return util_buf_json_string(b, s, n);
}

/* Appends the text of a span, compacted; "null" when absent. */
static int put_span(util_buf *b, jtext_span v)
{
    return v.p ? jtext_compact(v.p, v.len, b) : util_buf_puts(b, "null");
}

/* Where the values written from the row's bytes are, in the task's copy
 * of its row (ds_task.text; the row is valid, so every lookup finds what
 * the trees have). */
typedef struct row_spans {
    jtext_span input;                          /* responses_create_params.input */
    jtext_span tool_choice, parallel_tool_calls; /* absent when missing or null */
    jtext_span *items;                         /* per input item */
    jtext_span *params;                        /* per task tool: its declared "parameters" */
} row_spans;

/* A member's span, absent when it is missing or null. */
static jtext_span span_opt(jtext_span obj, const char *key)
{
    jtext_span v = jtext_get(obj, JTEXT_PY, key);
    if (v.p && *v.p == 'n')
        v.p = NULL;
    return v;
}

/* The declared parameters of each task tool, found from its row index. */
static int tool_params_find(const ds_task *t, jtext_span rcp, jtext_span *params)
{
    jtext_span tools = jtext_get(rcp, JTEXT_PY, "tools");
    size_t nrow = jtext_elements(tools, JTEXT_PY, NULL, 0);
    jtext_span *row_tools = calloc(nrow ? nrow : 1, sizeof *row_tools);
    if (!row_tools)
        return -1;
    jtext_elements(tools, JTEXT_PY, row_tools, nrow);
    for (size_t k = 0; k < json_array_size(t->tools); k++) {
        size_t r = t->tool_rows[k];
        jtext_span tool = r < nrow ? row_tools[r] : (jtext_span){NULL, 0};
        jtext_span fn = jtext_get(tool, JTEXT_PY, "function");
        params[k] = jtext_get(fn.p && *fn.p == '{' ? fn : tool, JTEXT_PY, "parameters");
    }
    free(row_tools);
    return 0;
}

static void spans_free(row_spans *s)
{
    free(s->items);
    free(s->params);
}

/* Fills *s for task t. -1 when out of memory (s is then freed). */
static int spans_get(const ds_task *t, row_spans *s)
{
    jtext_span row = {t->text, t->text_len};
    jtext_span rcp = jtext_get(row, JTEXT_PY, "responses_create_params");
    size_t nin = json_array_size(t->input), ntools = json_array_size(t->tools);
    *s = (row_spans){.input = jtext_get(rcp, JTEXT_PY, "input"),
                     .tool_choice = span_opt(rcp, "tool_choice"),
                     .parallel_tool_calls = span_opt(rcp, "parallel_tool_calls"),
                     .items = calloc(nin ? nin : 1, sizeof *s->items),
                     .params = calloc(ntools ? ntools : 1, sizeof *s->params)};
    if (!s->items || !s->params || tool_params_find(t, rcp, s->params) != 0) {
        spans_free(s);
        return -1;
    }
    jtext_elements(s->input, JTEXT_PY, s->items, nin);
    return 0;
}

/* The schema text of task tool k: its declared parameters; null when it
 * declares none (or null); the empty object schema when they are not an
 * object (the default of the Responses-API shape). */
static int put_schema(util_buf *b, const row_spans *sp, size_t k)
{
    jtext_span v = sp->params[k];
    if (!v.p || *v.p == 'n')
        return util_buf_puts(b, "null");
    if (*v.p != '{')
        return util_buf_puts(b, "{\"type\":\"object\",\"properties\":{}}");
    return put_span(b, v);
}

/* The submit_message ToolSpec. */
static int put_submit_spec(util_buf *b)
{
    json_t *spec = submit_tool_spec();
    char *text = spec ? json_dumps(spec, JSON_COMPACT) : NULL;
    json_decref(spec);
    int rc = text ? util_buf_puts(b, text) : -1;
    free(text);
    return rc;
}

int prompt_task_tools_text(const ds_task *task, util_buf *out)
{
    row_spans sp;
    if (spans_get(task, &sp) != 0)
        return -1;
    int rc = util_buf_putc(out, '[');
    bool any = false;
    if (!prompt_row_has_tool(task, PROMPT_SUBMIT_TOOL)) {
        rc = rc || put_submit_spec(out);
        any = true;
    }
    size_t i;
    json_t *tool;
    json_array_foreach(task->tools, i, tool) {
        const json_t *fn = tool_function(tool);
        const json_t *name = json_object_get(fn, "name");
        if (!json_is_string(name))
            continue;   /* validation rejects these; never serve a nameless tool */
        const char *desc = json_string_value(json_object_get(fn, "description"));
        rc = rc || (any && util_buf_putc(out, ',')) || util_buf_puts(out, "{\"name\":") ||
             put_string(out, json_string_value(name), json_string_length(name)) ||
             util_buf_puts(out, ",\"description\":") ||
             put_string(out, desc ? desc : "", desc ? strlen(desc) : 0) ||
             util_buf_puts(out, ",\"input_schema\":") || put_schema(out, &sp, i) ||
             util_buf_putc(out, '}');
        any = true;
    }
    spans_free(&sp);
    return rc || util_buf_putc(out, ']') ? -1 : 0;
}

/* The task's tools (ds_task.tools) in the Responses-API shape, with each
 * tool's parameters from the row's bytes. */
static int put_detail_tools(util_buf *b, const ds_task *task, const row_spans *sp)
{
    int rc = util_buf_putc(b, '[');
    size_t i;
    json_t *tool;
    json_array_foreach(task->tools, i, tool) {
        const json_t *fn = tool_function(tool);
        const json_t *name = json_object_get(fn, "name");
        const json_t *desc = json_object_get(fn, "description");
        const json_t *strict = json_object_get(fn, "strict");
        jtext_span params = sp->params[i];
        bool has_desc = json_is_string(desc);
        rc = rc || (i && util_buf_putc(b, ',')) ||
             util_buf_puts(b, "{\"type\":\"function\",\"name\":") ||
             put_string(b, json_string_value(name), json_string_length(name)) ||
             util_buf_puts(b, ",\"description\":") ||
             put_string(b, has_desc ? json_string_value(desc) : "", has_desc ? json_string_length(desc) : 0) ||
             util_buf_puts(b, ",\"parameters\":") ||
             (params.p && *params.p == '{' ? put_span(b, params)
                                           : util_buf_puts(b, "{\"type\":\"object\",\"properties\":{}}")) ||
             (json_is_boolean(strict) &&
              util_buf_puts(b, json_is_true(strict) ? ",\"strict\":true" : ",\"strict\":false")) ||
             util_buf_putc(b, '}');
    }
    return rc || util_buf_putc(b, ']');
}

/* ---- rendering --------------------------------------------------------- */

/* The prompt text being rendered; a failed append poisons it (failed). */
typedef struct text_buf {
    util_buf b;
    bool failed;
} text_buf;

static void tb_add(text_buf *b, const char *s, size_t n)
{
    if (!b->failed && util_buf_append(&b->b, s, n))
        b->failed = true;
}

static void tb_str(text_buf *b, const char *s)
{
    tb_add(b, s, strlen(s));
}

/* Appends a JSON string's text, or any other value as the row wrote it
 * (raw: its span in the row, white space dropped; "null" when absent). */
static void tb_value(text_buf *b, const json_t *v, jtext_span raw)
{
    if (json_is_string(v)) {
        tb_add(b, json_string_value(v), json_string_length(v));
        return;
    }
    util_buf c = {0};
    if (raw.p ? jtext_compact(raw.p, raw.len, &c) : util_buf_puts(&c, "null"))
        b->failed = true;
    else
        tb_add(b, c.data, c.len);
    free(c.data);
}

/* The span of member key of the item text obj, looked up only when v (the
 * member's value) is not a string: strings are rendered from the tree. */
static jtext_span member_span(jtext_span obj, const char *key, const json_t *v)
{
    jtext_span none = {NULL, 0};
    return !v || json_is_string(v) ? none : jtext_get(obj, JTEXT_PY, key);
}

/* A section header line; sections are separated by a blank line. The "==="
 * frame keeps headers apart from Markdown inside the messages. */
static void tb_header(text_buf *b, const char *title, const char *detail)
{
    if (b->b.len)
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
static void render_content(text_buf *b, const json_t *content, jtext_span raw)
{
    if (!json_is_array(content)) {
        if (content && !json_is_null(content))
            tb_value(b, content, raw);
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
        jtext_span none = {NULL, 0};
        if (json_is_string(text))
            tb_value(b, text, none);
        else if (json_is_string(refusal))
            tb_value(b, refusal, none);
        else if (type) {
            tb_str(b, "[");
            tb_str(b, type);
            tb_str(b, "]");
        } else
            tb_value(b, part, jtext_at(raw, JTEXT_PY, i));
    }
}

static const char *role_title(const char *role)
{
    return role ? role : "message";
}

static void render_item(text_buf *b, const json_t *item, jtext_span raw)
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
        tb_value(b, args, member_span(raw, "arguments", args));
        return;
    }
    if (type && strcmp(type, "function_call_output") == 0) {
        const char *call_id = json_string_value(json_object_get(item, "call_id"));
        tb_header(b, "tool output", call_id);
        const json_t *output = json_object_get(item, "output");
        tb_value(b, output, member_span(raw, "output", output));
        return;
    }
    if (role || !type || strcmp(type, "message") == 0) {
        tb_header(b, role_title(role), NULL);
        const json_t *content = json_object_get(item, "content");
        render_content(b, content, member_span(raw, "content", content));
        return;
    }
    tb_header(b, type, NULL);   /* an item kind this renderer does not know */
    tb_value(b, item, raw);
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

int prompt_blocks_text(const ds_task *task, util_buf *out)
{
    row_spans sp;
    if (spans_get(task, &sp) != 0)
        return -1;
    text_buf b = {UTIL_BUF_INIT, false};
    size_t i;
    json_t *item;
    json_array_foreach(task->input, i, item)
        render_item(&b, item, sp.items[i]);
    render_instruction(&b, task);
    int rc = b.failed || util_buf_puts(out, "[{\"type\":\"text\",\"text\":") ||
             put_string(out, b.b.data, b.b.len) || util_buf_puts(out, ",\"detail\":{\"input\":") ||
             put_span(out, sp.input) || util_buf_puts(out, ",\"tools\":") ||
             put_detail_tools(out, task, &sp) || util_buf_puts(out, ",\"tool_choice\":") ||
             put_span(out, sp.tool_choice) ||
             util_buf_puts(out, ",\"parallel_tool_calls\":") ||
             put_span(out, sp.parallel_tool_calls) || util_buf_puts(out, "}}]");
    util_buf_free(&b.b);
    spans_free(&sp);
    return rc ? -1 : 0;
}
