/* agg — NeMo Gym's aggregate metrics of verify responses (docs/http-api.md
 * §7.3), computed incrementally: what `compute_aggregate_metrics` returns
 * for /aggregate_metrics, and what `fcpivot eval` writes to
 * _aggregate_metrics.json.
 *
 * Feed it verify responses one at a time (as JSON text or as a parsed pyjson
 * value); it keeps only the numbers the statistics need (per rollout its two
 * indices, its reward and one double per numeric column — about 100 bytes for
 * a response with a reward and three token counts), never the texts. At the
 * end agg_finish writes the whole aggregate object as JSON text (agg_write
 * hands it to a writer in pieces).
 *
 * The rules (pandas semantics, as NeMo Gym's RewardProfiler gets them):
 *  - a response's task index `_ng_task_index` and rollout index
 *    `_ng_rollout_index` are integers, each 0 when absent; two responses with
 *    the same pair are refused;
 *  - its columns are its top-level numbers and booleans (true/false as 1/0)
 *    merged with the numbers of `response.usage` (usage wins on a clash),
 *    except the two index keys and `agent_name` (NeMo Gym's own grouping
 *    column); a response lacking a column is a missing value there, and so is
 *    a NaN;
 *  - per column over all responses (`agent_metrics`) and over each task's
 *    responses (`group_level_metrics`, ascending task index) the mean, max,
 *    min, median and sample standard deviation (n - 1) of the values present,
 *    keyed "<stat>/<column>", undefined ones left out; when every std of a
 *    frame is undefined, it is 0 for the columns with no missing value;
 *  - numbers are written as Python's json writes them: means, medians and
 *    stds are floats; max and min are ints when every column holds only ints
 *    (no float, no missing value anywhere), floats otherwise; an overflowing
 *    statistic is Infinity. Sums follow numpy's pairwise summation over the
 *    responses sorted by (task, rollout), so the figures match to the bit;
 *  - `key_metrics` holds every "mean/<column>" entry of `agent_metrics`; each task
 *    object also carries `sample`, `num_rollouts`, `expected_num_rollouts`,
 *    `missing_num_rollouts` (0), `reward_profile_completion_pct` (100.0) and
 *    `rollout_infos` (per rollout, by rollout index: its id "<task>:<rollout>",
 *    its indices, its reward as given, its usage numbers).
 * Known differences from pandas, for inputs NeMo Gym itself mishandles:
 * integers beyond 64 bits count as floats (pandas makes an object column),
 * a reward that is a string, list or object is refused, and at most
 * AGG_MAX_COLUMNS distinct columns are accepted.
 *
 * Thread safety: an agg is used by one thread at a time; nothing is shared.
 */
#ifndef FCPIVOT_AGG_H
#define FCPIVOT_AGG_H

#include <stddef.h>
#include "pyjson.h"
#include "util.h"

/* Distinct numeric columns one aggregate accepts (each costs 8 bytes per
 * rollout). */
#define AGG_MAX_COLUMNS 64

enum { AGG_INVALID = -1, AGG_NOMEM = -2, AGG_SINK = -3 };

typedef struct agg agg;

/* A new, empty aggregate; caller owns it (agg_free). NULL on OOM. */
agg *agg_new(void);

/* Adds one verify response given as JSON object text (borrowed during the
 * call), read with the Python json dialect (big ints, NaN, Infinity
 * accepted). Returns 0; AGG_INVALID with the reason in err ("not valid JSON:
 * …", "must be an object", "duplicate (_ng_task_index, _ng_rollout_index)
 * pair (3, 0)", "_ng_task_index: must be an integer", …), the aggregate
 * unchanged; or AGG_NOMEM, after which the aggregate is only fit for
 * agg_free. */
int agg_add(agg *a, const char *text, size_t len, char *err, size_t errsz);

/* The same for an already parsed value (borrowed during the call). */
int agg_add_value(agg *a, const pj_value *response, char *err, size_t errsz);

/* How many responses were added. */
size_t agg_count(const agg *a);

/* Appends the aggregate as one compact JSON object text to out:
 * {"group_level_metrics":[…],"agent_metrics":{…},"key_metrics":{…}}.
 * Returns 0, or AGG_NOMEM with a message in err (out may then hold a
 * partial text). The aggregate is unchanged and may take more responses. */
int agg_finish(const agg *a, util_buf *out, char *err, size_t errsz);

/* The same text handed to fn in pieces of about a megabyte, in order (fn's
 * data is borrowed during the call; fn returns 0, or non-zero to stop), so
 * that a million rollouts' rollout_infos (~230 bytes each) need not be held
 * at once. Returns 0, AGG_NOMEM, or AGG_SINK when fn failed (the caller's fn
 * knows why). */
typedef int (*agg_sink_fn)(void *ctx, const char *data, size_t len);
int agg_write(const agg *a, agg_sink_fn fn, void *ctx, char *err, size_t errsz);

void agg_free(agg *a);

#endif
