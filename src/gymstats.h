/* gymstats — the dataset statistics NeMo Gym's `gym dataset collate` writes
 * beside a dataset (`<name>_metrics.json`), computed the same way.
 *
 * Per row, from responses_create_params: the number of tools (rows whose
 * tools are missing or null are not counted), of user turns (input items
 * with role "user"; rows with none are not counted), the words of its
 * Python json.dumps text (", " and ": " separators, ensure_ascii: the words
 * are the runs of characters between spaces) and the temperature (when not
 * null). Each measure is summarised as Gym's AvgMinMax: the count of values,
 * running mean, min, max and sample standard deviation (Welford), each
 * rounded as Gym rounds (2 decimals when |x| >= 1, else 3).
 *
 * Pure values: rows in, JSON text out. Not thread-safe per gymstats.
 */
#ifndef FCPIVOT_GYMSTATS_H
#define FCPIVOT_GYMSTATS_H

#include <stdbool.h>
#include <stddef.h>
#include "util.h"

/* One measure (Gym's AvgMinMax before aggregation). */
typedef struct gymstats_acc {
    size_t total;
    double mean, m2, min, max;
} gymstats_acc;

enum { GYMSTATS_TOOLS, GYMSTATS_WORDS, GYMSTATS_TURNS, GYMSTATS_TEMPERATURE, GYMSTATS_COUNT };

typedef struct gymstats {
    size_t examples;
    gymstats_acc m[GYMSTATS_COUNT];
} gymstats;

void gymstats_init(gymstats *g);
/* Adds one value to a measure. */
void gymstats_observe(gymstats_acc *a, double x);
/* Adds the row text p[0..len) (a valid dataset row). 0; -1 when the row has
 * no responses_create_params object or memory runs out (not counted). */
int gymstats_row(gymstats *g, const char *p, size_t len);
/* Words of the Python json.dumps text of the JSON text p[0..len). */
size_t gymstats_dumps_words(const char *p, size_t len);
/* Gym's rounding: round(x, 2) when |x| >= 1, else round(x, 3). */
double gymstats_round(double x);
/* Appends the metrics file text (indented by 4 as Gym writes it) for the
 * dataset called name at path. 0, or -1 when out of memory. */
int gymstats_json(const gymstats *g, const char *name, const char *path, util_buf *out);

#endif
