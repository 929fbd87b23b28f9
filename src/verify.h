/* verify — grades one NeMo Gym verify request given as text, the way
 * single_step_tool_use_with_argument_comparison does, for both `fcpivot
 * grade` (one request per line) and the /verify endpoint.
 *
 * A verify request is an object with responses_create_params (an object),
 * response (a Responses-API response object) and expected_action (an object).
 * The whole text is validated (as strictly as jansson, but with Python's
 * numbers: integers of any size, NaN, Infinity, 1e400, which NeMo Gym's
 * server reads too), but only response's "output" and expected_action
 * are built as JSON: the conversation and tool list in
 * responses_create_params, usually most of the bytes, are merely scanned.
 *
 * The graded request is the request text itself with "reward" and "category"
 * set: the values of its own "reward"/"category" members replaced in place
 * (every duplicate; keys keep their position, as when Python updates a dict),
 * the missing ones inserted before the final brace. Every other byte is kept:
 * re-serialising would rewrite numbers such as 0.1 or 1768002749.0.
 *
 * Thread safety: no shared state.
 */
#ifndef FCPIVOT_VERIFY_H
#define FCPIVOT_VERIFY_H

#include <stddef.h>
#include "grade.h"
#include "util.h"

/* How missing members are inserted: `, "reward": 1.0, "category": "…"`
 * (VERIFY_SPACED, as Python's json.dumps separates; `fcpivot grade`) or
 * `,"reward":1.0,"category":"…"` (VERIFY_COMPACT; the /verify reply). */
typedef enum verify_style { VERIFY_SPACED, VERIFY_COMPACT } verify_style;

/* Bytes the verdict members add to a request text at most when both are
 * inserted (the longest category, escaped, and a reward): what a caller
 * reserves past the request's length to build the graded text in one go. */
#define VERIFY_VERDICT_ROOM 256

enum {
    VERIFY_OK = 0,
    VERIFY_INVALID = -1,   /* the request is invalid; the reason is in err */
    VERIFY_NOMEM = -2,     /* allocation failure */
};

/* Grades the request text p[0..len) with cfg into *v and, when out is not
 * NULL, appends the graded request text to out (the caller's buffer; on
 * failure out may hold a partial text past its old length). Returns VERIFY_OK,
 * or VERIFY_INVALID with a reason in err such as "invalid JSON at column 3:
 * …", "not a JSON object (it is a list)", "responses_create_params: field
 * required", "response: must be an object", "expected_action: <grader's
 * reason>", "response: <grader's reason>" or "expected_action.arguments is
 * not valid JSON: …" (expected arguments are parsed only when a comparison
 * reaches them, docs/grading.md §4.1: until then such a request has a verdict),
 * or VERIFY_NOMEM. */
int verify_text(const grade_config *cfg, const char *p, size_t len, verify_style style,
                util_buf *out, grade_verdict *v, char *err, size_t errsz);

/* The types of the two actions verify_text_kinds judged: "message",
 * "function_call", "function_call_batch" or "none" (static strings). */
typedef struct verify_kinds {
    const char *expected, *actual;
} verify_kinds;

/* verify_text that also reports, when kinds is not NULL and the request was
 * graded, the expected and actual action types. */
int verify_text_kinds(const grade_config *cfg, const char *p, size_t len, verify_style style,
                      util_buf *out, grade_verdict *v, verify_kinds *kinds, char *err,
                      size_t errsz);

/* verify_text of the first line of p[0..avail) — its bytes up to the first
 * '\n', or all of them — whose length it sets in *line_len, the same
 * outcome and error as verify_text of that line. A valid line is checked as
 * it is read, without a search for its end first, so its bytes are read
 * once (`fcpivot grade` over a mapped file: the line is read from memory
 * while it is checked). Any other line is found and graded again by
 * verify_text. */
int verify_line(const grade_config *cfg, const char *p, size_t avail, verify_style style,
                util_buf *out, grade_verdict *v, size_t *line_len, char *err, size_t errsz);

#endif
