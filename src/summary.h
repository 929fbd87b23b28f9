/* summary — the summary of a run (docs/report.md §2), built incrementally from the
 * lines of a rollouts file and of its failures file: the object `fcpivot
 * eval` writes as <stem>_summary.json and `fcpivot report --json` prints.
 *
 * Pure core: text in, text out. Memory grows with the number of distinct
 * rows (for pass@k), functions, finish reasons, anomalies and failure
 * classes, plus one double per rollout with a latency (for exact
 * percentiles): a million rollouts take a few tens of megabytes.
 *
 * The JSON ("schema":"fcpivot.eval.summary/1"), members in this order:
 *   complete        summary_options.complete
 *   model           the first response.model seen, or null
 *   counts          {planned, graded, failed, not_run}: planned is the option,
 *                   or graded + failed when it is 0; not_run = planned − both
 *   score           {mean, stderr, binary, passed, wilson95, mean_failures_as_zero}:
 *                   mean over graded rollouts; stderr = sample std / √n; binary
 *                   when every reward is 0 or 1; passed = rewards of 1; the
 *                   95% Wilson interval [lo, hi] when binary (else null); the
 *                   mean counting every failure as reward 0
 *   categories      all 13, in enum order: {name, text, count, share}
 *   expected_types  message, function_call, function_call_batch: {type, n, mean}
 *   confusion       {actual_types: [message, function_call, function_call_batch,
 *                   none], rows: [{expected, counts: [4 counts]}] (3 rows)}
 *   depth           buckets 1-2, 3-5, 6-10, 11+, unknown (info.depth): {bucket, n, mean}
 *   turns           per info.turn, ascending, then turn null (unknown): {turn, n, mean}
 *   functions       {distinct, top}: per expected function name (a batch counts
 *                   once for each distinct name in it), the SUMMARY_TOP_FUNCTIONS
 *                   most frequent (n descending, then name): {name, n, mean}
 *   finish_reasons  [{reason, n}] (n descending, then reason; "unknown" when absent)
 *   anomalies       [{anomaly, n}] likewise, from fcpivot.anomalies (strings, or
 *                   objects with a string kind/type/name/code member; else "other")
 *   tokens          {rollouts_with_usage, input, cached, output, reasoning, per_rollout}
 *                   sums over rollouts with a usage object, and their means
 *   latency_ms      {n, p50, p90, p99, max}: nearest-rank percentiles of
 *                   fcpivot.latency_ms (null when no rollout has one)
 *   retries         {rollouts_with_attempts, attempts, retried}: sum of
 *                   fcpivot.attempts and rollouts that needed more than one
 *   failures        {total, by_class: [{class, n}]}: fcpivot.error of each
 *                   failure line, else its _ng_failure_class, else "unknown"
 *   repeats         null unless some row (_ng_task_index) has K > 1 rollouts:
 *                   {k, rows, pass_at_k: [{k, rows, value}] for k = 1..K (mean of
 *                   the unbiased per-row estimate over rows with ≥ k rollouts; a
 *                   rollout passes when its reward is ≥ 1), repeat_means (mean
 *                   reward per _ng_rollout_index), std_across_repeats (sample std
 *                   of those means), mean_row_std (mean over rows of the sample std
 *                   of its rewards), all_pass, all_fail, mixed (row counts)}
 * Numbers are written as Python's repr writes floats (NaN as null); counts as
 * integers. Lines without _ng_* indices are each their own row.
 *
 * Order: with binary rewards every figure is the same whatever the order of
 * the lines (sums are exact; rows are visited in key order), so the summary
 * eval builds as rollouts complete equals the one report builds from the
 * sorted file. Two exceptions: "model" is the first one seen, and sums of
 * fractional rewards may differ in their last digit.
 */
#ifndef FCPIVOT_SUMMARY_H
#define FCPIVOT_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>
#include "util.h"

/* Length of the function table in the summary. */
#define SUMMARY_TOP_FUNCTIONS 50
/* The largest _ng_rollout_index accepted (repeat means are an array). */
#define SUMMARY_MAX_REPEAT 65535

typedef struct summary_options {
    size_t planned;   /* rollouts planned; 0 = unknown: graded + failed */
    bool complete;    /* the run finished (manifest status "complete") */
} summary_options;

typedef struct summary summary;   /* opaque */

/* A new, empty summary (options copied). Caller owns; NULL when out of memory. */
summary *summary_new(const summary_options *o);

/* Adds one line line[0..len) of a rollouts file, fcpivot's or NeMo Gym's
 * (see rollout.h for what is read). 0, or −1 with the reason in err; a
 * line rejected as invalid leaves the summary as it was (after "out of
 * memory" it may be partly counted). */
int summary_add_rollout(summary *s, const char *line, size_t len, char *err, size_t errsz);

/* Adds one line of a failures file (docs/eval.md §4, failure lines). 0, or −1 with the
 * reason in err (not a JSON object). */
int summary_add_failure(summary *s, const char *line, size_t len, char *err, size_t errsz);

/* Appends the summary JSON (one line, no newline) to out. 0, or −1 with the
 * reason in err (out of memory). The summary is not changed. */
int summary_json(const summary *s, util_buf *out, char *err, size_t errsz);

void summary_free(summary *s);

#endif
