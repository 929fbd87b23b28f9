/* pubtask — the public description of dataset tasks, as the ORS task routes
 * show them (docs/http-api.md §4): {"id","split","index"} plus the row's
 * trajectory_id and info when present and not null. Never the expected
 * action, nor anything else of the row.
 *
 * Written straight from the row bytes, read where they are through
 * ds_rows_visit (ds's SIGBUS guard and in-place-change check): no tree is
 * built, so listing a large split costs about the reply, and numbers jansson
 * cannot hold (a trajectory_id of 2^63) are copied exactly as written.
 *
 * A pubtask_table remembers, per split, where each row's two members are
 * (16 bytes a row), filled by the first listing of a whole split, so that
 * later listings and single tasks only copy. It belongs to one dataset and
 * is thread-safe; the functions also work without one (table NULL: every
 * row is walked).
 */
#ifndef FCPIVOT_PUBTASK_H
#define FCPIVOT_PUBTASK_H

#include <jansson.h>
#include <stddef.h>
#include "ds.h"
#include "util.h"

typedef struct pubtask_table pubtask_table;

/* A table for ds (borrowed: the caller keeps ds alive as long as the
 * table). Caller frees with pubtask_table_free; NULL when out of memory. */
pubtask_table *pubtask_table_new(const ds_dataset *ds);
void pubtask_table_free(pubtask_table *t);

/* Appends to out the JSON array of the public tasks [start, stop) of split.
 * table may be NULL. 0, or -1 with a reason in err (range out of bounds,
 * a row that is not a JSON object in an unvalidated dataset, rows that can
 * no longer be read: ds_split_changed, out of memory). */
int pubtask_list(const ds_dataset *ds, pubtask_table *table, size_t split, size_t start,
                 size_t stop, util_buf *out, char *err, size_t errsz);

/* One public task as JSON text appended to out; table may be NULL. 0, or
 * -1 with a reason in err (as pubtask_list). */
int pubtask_text(const ds_dataset *ds, pubtask_table *table, size_t split, size_t index,
                 util_buf *out, char *err, size_t errsz);

/* The same description as a new JSON value owned by the caller (for tests
 * and tools; numbers jansson cannot hold are jtext's JTEXT_PY placeholders,
 * so what is sent is pubtask_text's). NULL when index is out of range, the
 * row is not a JSON object or it can no longer be read. */
json_t *pubtask_json(const ds_dataset *ds, size_t split, size_t index);

#endif
