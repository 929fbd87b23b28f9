/* prompt — how a task is shown to an agent over ORS (docs/http-api.md §5.3):
 * the shared tool, the task's tools as ToolSpecs, and the prompt block that
 * renders the conversation so far. Pure functions of a task; thread-safe.
 */
#ifndef FCPIVOT_PROMPT_H
#define FCPIVOT_PROMPT_H

#include <stdbool.h>
#include <jansson.h>
#include "ds.h"
#include "util.h"

#define PROMPT_SUBMIT_TOOL "submit_message"

/* [submit_message ToolSpec]. New reference; NULL on allocation failure. */
json_t *prompt_shared_tools(void);
/* Appends to out, as JSON text, the list of submit_message (unless the row
 * has its own tool of that name) followed by the row's tools as ToolSpecs,
 * in row order, each input_schema being the row's own bytes. 0, or -1 when
 * out of memory. */
int prompt_task_tools_text(const ds_task *task, util_buf *out);
/* The name of a row tool item (either tool shape), or NULL. Borrowed. */
const char *prompt_tool_name(const json_t *tool);
/* True when the row itself lists a tool called name. */
bool prompt_row_has_tool(const ds_task *task, const char *name);
/* Appends the prompt as JSON text: [{"type":"text","text":<rendered
 * conversation>,"detail":{input, tools, tool_choice, parallel_tool_calls}}],
 * every non-string value as the row wrote it. 0, or -1 when out of memory. */
int prompt_blocks_text(const ds_task *task, util_buf *out);

#endif
