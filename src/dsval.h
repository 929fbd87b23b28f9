/* dsval — fast validation of one dataset row (docs/dataset.md §5) without
 * building a JSON tree.
 *
 * A single pass over the row's bytes (with jtext's scanner, so exactly as
 * strict as jansson 2.14's decoder) checks JSON syntax and picks out on the
 * way what the row-shape rules need: the type of responses_create_params,
 * input and tools, every tool's name, and the span of expected_action, and
 * what NeMo Gym accepts but warns about (docs/dataset.md §4: Python
 * numbers jansson cannot hold, duplicate or non-function tools, ...). Only
 * that span is then built and handed to the grader (grade_expected_from_json),
 * so big conversations are never materialised. Syntax is jtext's with
 * JTEXT_PY (Python's numbers); rows are later loaded by jtext_build with the
 * same flags, which accepts exactly what this checker's syntax pass accepts,
 * so a row that passes here loads.
 *
 * Thread safety: a dsval_ctx is per thread; different contexts run in parallel.
 */
#ifndef FCPIVOT_DSVAL_H
#define FCPIVOT_DSVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "grade.h"

typedef struct dsval_ctx dsval_ctx;

/* Warnings a row can carry (docs/dataset.md §4), each at most once
 * per row; kind is the rule's name, counted in validate's summary. */
#define DSVAL_MAX_WARNINGS 12
typedef struct dsval_warning {
    const char *kind;           /* static: "unlisted_tool", "duplicate_tool",
                                   "non_function_tool", "big_int",
                                   "non_finite_number", "input_arguments",
                                   "tool_fields", "output_text_role",
                                   "tool_choice", "metadata_null" */
    char msg[200];
} dsval_warning;

/* What validation found about one row. Messages are NUL-terminated. */
typedef struct dsval_result {
    bool error;                 /* the row is invalid */
    char error_msg[320];
    const char *kind_name;      /* with error, the rule broken (static): "json",
                                   "row", "responses_create_params", "input",
                                   "tools", "expected_action" or "memory" */
    bool warning;               /* nwarnings > 0 */
    unsigned nwarnings;
    dsval_warning warnings[DSVAL_MAX_WARNINGS]; /* in the order found */
    grade_action_kind kind;     /* expected action kind (NONE when invalid) */
    uint32_t n_input, n_tools;  /* input items and tools */
    uint32_t n_user, n_words;   /* with dsval_ctx_measure: user messages, and
                                   words (ASCII-blank separated) of all message
                                   texts in input; else 0 */
    grade_action *expected;     /* the parsed expected action (NULL when
                                   invalid); the context's reference, valid
                                   until its next dsval_row: a holder that
                                   keeps it takes its own (grade_action_retain) */
} dsval_result;

/* A per-thread scratch context. NULL on allocation failure; free with
 * dsval_ctx_free. */
dsval_ctx *dsval_ctx_new(void);
void dsval_ctx_free(dsval_ctx *ctx);
/* Whether dsval_row also measures turns and words (slower; off by default). */
void dsval_ctx_measure(dsval_ctx *ctx, bool on);

/* Validates the row text p[0..len) (one line without its newline). Always
 * fills *out; never fails otherwise. */
void dsval_row(dsval_ctx *ctx, const char *p, size_t len, dsval_result *out);

#endif
