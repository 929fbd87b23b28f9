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
 * rounded as Gym rounds (2 decimals when |x| >= 1, else 3). Like Gym, the
 * row's other top-level fields (not responses_create_params or response;
 * a list counts each of its items) are summarised too: numbers (true/false
 * as 1/0) the same way, strings as {"unique_count", "total_count"}, each
 * field after the four above in the order the rows first show it.
 *
 * Pure values: rows in, JSON text out. Not thread-safe per gymstats.
 */
#ifndef FCPIVOT_GYMSTATS_H
#define FCPIVOT_GYMSTATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util.h"

/* One measure (Gym's AvgMinMax before aggregation). */
typedef struct gymstats_acc {
    size_t total;
    double mean, m2, min, max;
} gymstats_acc;

enum { GYMSTATS_TOOLS, GYMSTATS_WORDS, GYMSTATS_TURNS, GYMSTATS_TEMPERATURE, GYMSTATS_COUNT };

/* Another top-level field: numbers or (is_string) strings, by the first
 * value seen. */
typedef struct gymstats_field {
    char *key;                  /* owned, NUL-terminated (keys with a NUL are skipped) */
    bool is_string;
    gymstats_acc acc;           /* numbers */
    size_t strings;             /* strings: how many */
    uint64_t *seen;             /* strings: fingerprints of the distinct ones (open addressing, 2 words each) */
    size_t nseen, cap;          /* distinct ones, slots */
} gymstats_field;

typedef struct gymstats {
    size_t examples;
    gymstats_acc m[GYMSTATS_COUNT];
    gymstats_field *fields;     /* owned */
    size_t nfields, capfields;
} gymstats;

void gymstats_init(gymstats *g);
void gymstats_free(gymstats *g);
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
