/* cli_common — command-line pieces shared by subcommands: the comparator
 * (grading) flags that `fcpivot grade` and `fcpivot serve` both accept, and
 * the NAME=FILE split argument. */
#ifndef FCPIVOT_CLI_COMMON_H
#define FCPIVOT_CLI_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include "ds.h"
#include "grade.h"

/* The help lines of the grading flags (static text, ends with a newline). */
extern const char CLI_GRADING_HELP[];

/* True when name ("--float-tolerance", ...) is a grading flag; *takes_value
 * then says whether it needs a value. */
bool cli_grading_flag_known(const char *name, bool *takes_value);

/* Applies grading flag name (with its value, or NULL for a switch) to cfg.
 * 0, or -1 with a reason in err for an invalid value. */
int cli_grading_flag_apply(const char *name, const char *value, grade_config *cfg,
                           char *err, size_t errsz);

/* A split argument's NAME part of this many bytes or more is refused as too
 * long before it is checked as a name (ds_split_name_valid). */
#define CLI_SPLIT_NAME_CUT 80

/* Parses "NAME=FILE" (serve's --split) in place: on success the first '='
 * of arg is overwritten with a NUL, out->name is arg and out->path what
 * follows (both borrowed from arg). arg is left as it was on failure.
 * 0, or -1 with a reason in err. */
int cli_split_spec_parse(char *arg, ds_split_spec *out, char *err, size_t errsz);

#endif
