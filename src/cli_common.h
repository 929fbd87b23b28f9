/* cli_common — command-line pieces shared by subcommands: the comparator
 * (grading) flags that `fcpivot grade`, `serve` and `eval` accept, and
 * creating output directories (`download`, `eval`). */
#ifndef FCPIVOT_CLI_COMMON_H
#define FCPIVOT_CLI_COMMON_H

#include <stdbool.h>
#include <stddef.h>
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

/* A number as Python's float() of a flag would take it (NaN refused): true
 * and *out, or false. */
bool cli_parse_double(const char *s, double *out);

/* The value of option name at argv[*i]: *val is the "=value" part already
 * split off (or NULL); an option that takes a value and has none takes the
 * next argument (*i advances). 0, or -1 with "option '…' needs a value" /
 * "takes no value" in err. */
int cli_option_value(int argc, char **argv, int *i, const char *name, bool takes,
                     const char **val, char *err, size_t errsz);

/* mkdir -p path. 0, or -1 with a reason in err (also when path exists and
 * is not a directory). */
int cli_make_dirs(const char *path, char *err, size_t errsz);

#endif
