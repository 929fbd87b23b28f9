/* cli_eval_roll — the text of one rollout of `fcpivot eval`: a dataset
 * row's members, the overrides applied to its responses_create_params, the
 * materialized input line, the graded rollout line and the failure line
 * (docs/eval.md §4). Text in, text out: numbers and strings of the row are never
 * re-serialised.
 */
#ifndef FCPIVOT_CLI_EVAL_ROLL_H
#define FCPIVOT_CLI_EVAL_ROLL_H

#include <stdbool.h>
#include <stddef.h>
#include "grade.h"
#include "jtext.h"
#include "util.h"

/* The agent_ref written when a row has none. */
#define EVROLL_DEFAULT_AGENT_REF                                                       \
    "{\"type\":\"responses_api_agents\",\"name\":"                                   \
    "\"toolcall_schema_single_step_tool_use_with_argument_comparison_agent\"}"

/* The members of a row that a rollout uses (spans borrowed from the row
 * text; p is NULL when absent). */
typedef struct evroll_row {
    jtext_span params, expected, agent_ref, trajectory_id, info;
} evroll_row;

/* Finds them in the row text. 0, or -1 with a reason in err. */
int evroll_row_parse(const char *row, size_t len, evroll_row *out, char *err, size_t errsz);

/* Overrides of responses_create_params members. Texts are JSON values
 * (validated by evroll_override_add), borrowed. */
typedef struct evroll_overrides {
    const char *keys[64];
    const char *vals[64];
    size_t n;
    const char *reasoning_effort;   /* a plain string, or NULL */
} evroll_overrides;

/* True when key is a parameter of the Responses API's create call. */
bool evroll_param_known(const char *key);
/* Adds key = JSON text val (a later one for the same key wins). 0, or -1
 * with a reason in err (unknown key, invalid JSON, too many). */
int evroll_override_add(evroll_overrides *o, const char *key, const char *val, char *err,
                        size_t errsz);

/* Appends params with the overrides applied to out. 0, or -1 with a reason. */
int evroll_apply(const evroll_overrides *o, const char *params, size_t len, util_buf *out,
                 char *err, size_t errsz);

/* Appends the materialized input line (with '\n'): the row with
 * responses_create_params replaced and _ng_task_index, _ng_rollout_index
 * and agent_ref set. 0, or -1 with a reason. */
int evroll_input_line(const char *row, size_t len, const evroll_row *r, const char *params,
                      size_t plen, long task, long repeat, util_buf *out, char *err,
                      size_t errsz);

/* What goes into a rollout line's "fcpivot" object besides the row's. */
typedef struct evroll_meta {
    long task, repeat;
    size_t line;                 /* the row's 1-based line in the dataset file */
    unsigned attempts;
    double latency_ms;
    const char *finish_reason;   /* or NULL */
    const char *anomalies;       /* a JSON array text, or NULL for [] */
    size_t anomalies_len;
} evroll_meta;

/* Grades the rollout (the same verify_text as `fcpivot grade`) and appends
 * its line (with '\n') to out; *v gets the verdict. 0, or -1 with a reason
 * when the response cannot be graded (out is then left as it was). */
int evroll_line(const grade_config *cfg, const evroll_row *r, const char *params, size_t plen,
                const char *response, size_t rlen, const evroll_meta *m, util_buf *out,
                grade_verdict *v, char *err, size_t errsz);

/* One failure (docs/eval.md §4 item 3). */
typedef struct evroll_failure {
    long task, repeat;
    const char *error;           /* the class */
    long http_status;            /* 0: none */
    const char *message;
    const char *body;            /* a prefix is kept */
    size_t body_len;
    unsigned attempts;
    double elapsed_ms;
} evroll_failure;

/* Appends the failure line (with '\n'). 0, or -1 when out of memory. */
int evroll_failure_line(const evroll_row *r, const evroll_failure *f, util_buf *out);

#endif
