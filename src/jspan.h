/* jspan — finds members of a JSON object in its text without parsing the
 * rest: the value spans of a few named top-level members, so that only those
 * are built (a /verify body's response, a row's trajectory_id) while a large
 * conversation next to them is merely skipped.
 *
 * The scan never reads outside the given bytes, whatever they hold; its
 * answer is exact when the text is valid JSON (check it first, e.g. with
 * dsval_json, or use rows the dataset validated). Keys are compared after
 * unescaping; for duplicate keys the last one wins, as in jansson and Python.
 */
#ifndef FCPIVOT_JSPAN_H
#define FCPIVOT_JSPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

typedef struct jspan {
    const char *v, *end;     /* the value's bytes; v == NULL when absent */
} jspan;

/* True when the text [p, end) starts (after white space) with '{'. */
bool jspan_is_object(const char *p, const char *end);
/* Fills out[i] with the value of member names[i] of the object text
 * [p, end) (leading white space allowed). */
void jspan_members(const char *p, const char *end, const char *const *names, int n, jspan *out);
/* The value as JSON (new reference; NUL characters allowed), or NULL when
 * absent or not parseable. */
json_t *jspan_json(jspan m);

#endif
