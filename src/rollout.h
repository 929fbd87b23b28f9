/* rollout — the facts a report needs from one line of a rollouts file, as
 * fcpivot eval writes it (docs/eval.md §4, rollout lines) or as NeMo Gym's
 * ng_collect_rollouts does (no "fcpivot" object, maybe no _ng_* indices).
 *
 * Pure core: text in, a struct out. The whole line is validated, but only
 * the small members are built: reward, category, the indices, expected_action,
 * the fcpivot object (or a top-level info), and of the response just its
 * output, usage, status, incomplete_details and model. The conversation and
 * tool list are scanned, never built.
 *
 * Where a fact comes from:
 *   reward, category       the line's "reward" (a number) and "category" (the
 *                          NeMo Gym sentence or the enum name); both required
 *   task / repeat          _ng_task_index / _ng_rollout_index (integers ≥ 0);
 *                          has_index is false when either is absent or null
 *   expected               expected_action, through the grader (grade.h); its
 *                          arguments are not parsed (only kinds and names count)
 *   actual kind            the response's output, through the grader's own
 *                          extraction (function_call items → call or batch,
 *                          else an assistant message → message, else none)
 *   depth, turn            fcpivot.info, else the line's "info"; −1 if absent
 *   finish reason          fcpivot.finish_reason, else the response's
 *                          incomplete_details.reason when it is incomplete,
 *                          else its status; NULL when none of those exist
 *   tokens                 response.usage (input, cached, output, reasoning)
 *   latency, attempts      fcpivot.latency_ms, fcpivot.attempts; absent → NAN, −1
 *   anomalies              fcpivot.anomalies (borrowed JSON array, or NULL)
 */
#ifndef FCPIVOT_ROLLOUT_H
#define FCPIVOT_ROLLOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "grade.h"
#include "jtext.h"

/* How lines are read: in Python's json dialect, as /verify and fcpivot grade
 * read requests (big integers, NaN/Infinity, lone surrogates), so any line
 * those accept is summarised too. */
#define ROLLOUT_JTEXT_FLAGS (JTEXT_PY | JTEXT_SURROGATES)

typedef struct rollout {
    double reward;
    grade_category category;
    bool has_index;
    int64_t task, repeat;
    grade_action *expected;            /* owned */
    grade_action_kind actual_kind;
    int64_t depth, turn;               /* −1 when unknown */
    const char *finish_reason;         /* borrowed from held JSON, or NULL */
    bool has_usage;
    int64_t tokens_input, tokens_cached, tokens_output, tokens_reasoning;
    double latency_ms;                 /* NAN when unknown */
    int64_t attempts;                  /* −1 when unknown */
    const json_t *anomalies;           /* borrowed JSON array, or NULL */
    const char *model;                 /* response.model, borrowed, or NULL */
    json_t *held[4];                   /* the built members the borrows point into */
} rollout;

/* Parses one line line[0..len) into *r (initialised by the call). 0, or −1
 * with a reason in err ("invalid JSON at column …", "reward: field required",
 * "category: unknown category '…'", "expected_action: …", "response: …");
 * *r needs no clearing after a failure. On success the caller owns *r and
 * releases it with rollout_clear. */
int rollout_parse(const char *line, size_t len, rollout *r, char *err, size_t errsz);
void rollout_clear(rollout *r);

/* The depth bucket of a depth (ROLLOUT_DEPTH_UNKNOWN for −1) and its label
 * ("1-2", "3-5", "6-10", "11+", "unknown"; static). Depth 0 counts as 1-2. */
enum { ROLLOUT_DEPTH_BUCKETS = 4, ROLLOUT_DEPTH_UNKNOWN = ROLLOUT_DEPTH_BUCKETS };
int rollout_depth_bucket(int64_t depth);
const char *rollout_depth_label(int bucket);

#endif
