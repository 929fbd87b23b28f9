/* report — renders a run summary (summary.h) and a paired comparison
 * (compare.h) as plain text for a terminal and as one self-contained HTML
 * page (inline CSS and SVG, no script, nothing fetched, the system font
 * stack), for `fcpivot report`.
 *
 * Pure core: the renderers read the parsed JSON objects that summary_json and
 * compare_json write (that JSON is their one input contract) and append text
 * to a buffer. Every string that comes from the data (model names, function
 * names, file names) is escaped for HTML text and attribute contexts; every
 * value in a chart is also written as text, so the page reads in grey-scale
 * and in print.
 */
#ifndef FCPIVOT_REPORT_H
#define FCPIVOT_REPORT_H

#include <jansson.h>
#include "util.h"

/* The summary as text (several lines). name labels the run (a file name;
 * may be NULL). 0, or −1 out of memory. sum is borrowed. */
int report_text_summary(const json_t *sum, const char *name, util_buf *out);

/* The comparison as text; name_a/name_b label the two runs. */
int report_text_compare(const json_t *cmp, const char *name_a, const char *name_b,
                        util_buf *out);

/* The page of one run: headline score with its interval, per-category bars,
 * score by depth, the expected × actual heat map, the function table, and
 * the rest of the summary in tables. */
int report_html_summary(const json_t *sum, const char *name, util_buf *out);

/* The page of a comparison: both scores and the difference, McNemar, the
 * per-category deltas as diverging bars, the transition table, per-depth and
 * per-function deltas; then each run's summary page body (sa, sb may be NULL). */
int report_html_compare(const json_t *cmp, const json_t *sa, const json_t *sb,
                        const char *name_a, const char *name_b, util_buf *out);

/* Appends s escaped for HTML text and double-quoted attributes (& < > " '). */
int report_html_escape(util_buf *out, const char *s);

#endif
