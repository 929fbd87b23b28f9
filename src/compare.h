/* compare — a paired comparison of two rollouts files (A and B) of the same
 * rows: `fcpivot report A.jsonl B.jsonl` (docs/report.md §4).
 *
 * Pure core: lines in, JSON text out. Each rollout is reduced to its pairing
 * key, reward, category, depth bucket and expected function names (about
 * 40 bytes); the pairing is done at the end by sorting both sides.
 *
 * Pairing: by (_ng_task_index, _ng_rollout_index) when every line of both
 * files has them, else by line order (the n-th rollout of A with the n-th of
 * B). A key that occurs twice on one side pairs once; the rest is unmatched.
 *
 * The JSON ("schema":"fcpivot.report.compare/1"):
 *   a, b         {rollouts, mean, model}: each file as a whole
 *   pairs        {by: "index"|"line", matched, only_a, only_b}
 *   score        {a, b, difference, stderr, ci95}: means over the matched
 *                pairs, b − a, the standard error of the paired differences
 *                (sample std / √n) and mean ± 1.96·stderr
 *   mcnemar      null unless every matched reward is 0 or 1:
 *                {both_pass, a_only, b_only, neither, p_value} with the exact
 *                two-sided p-value on the discordant pairs (stats.h)
 *   transitions  [{from, to, n}]: category of A → category of B (enum names),
 *                non-empty cells, most frequent first
 *   categories   all 13: {name, text, a, b, delta} counts over matched pairs
 *   depth        buckets 1-2, 3-5, 6-10, 11+, unknown (depth of A's rollout):
 *                {bucket, n, a, b, delta} mean rewards
 *   functions    {distinct, top}: per expected function of A's rollout, the
 *                COMPARE_TOP_FUNCTIONS most frequent: {name, n, a, b, delta}
 */
#ifndef FCPIVOT_COMPARE_H
#define FCPIVOT_COMPARE_H

#include <stddef.h>
#include "util.h"

#define COMPARE_TOP_FUNCTIONS 50

typedef struct compare compare;   /* opaque */

/* A new, empty comparison. Caller owns; NULL when out of memory. */
compare *compare_new(void);

/* Adds one rollouts-file line to side 0 (A) or 1 (B). 0, or −1 with the
 * reason in err (rollout.h's reasons); a rejected line is not counted. */
int compare_add(compare *c, int side, const char *line, size_t len, char *err, size_t errsz);

/* Pairs the two sides and appends the comparison JSON (one line) to out.
 * 0, or −1 (out of memory). May reorder what was added; call it once. */
int compare_json(compare *c, util_buf *out, char *err, size_t errsz);

void compare_free(compare *c);

#endif
