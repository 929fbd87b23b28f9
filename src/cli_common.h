/* cli_common — command-line pieces shared by subcommands: the comparator
 * (grading) flags that `fcpivot grade`, `serve` and `eval` accept,
 * creating output directories (`download`, `eval`) and the NAME=FILE split
 * argument (`serve --split`). */
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

/* A split argument's NAME part of this many bytes or more is refused as too
 * long before it is checked as a name (ds_split_name_valid). */
#define CLI_SPLIT_NAME_CUT 80

/* Parses "NAME=FILE" (serve's --split) in place: on success the first '='
 * of arg is overwritten with a NUL, out->name is arg and out->path what
 * follows (both borrowed from arg). arg is left as it was on failure.
 * 0, or -1 with a reason in err. */
int cli_split_spec_parse(char *arg, ds_split_spec *out, char *err, size_t errsz);

#endif
