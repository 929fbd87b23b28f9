/* cli_common — command-line pieces shared by subcommands: the comparator
 * (grading) flags that `fcpivot grade`, `serve`, `report` and `eval` accept,
 * the number parsers of option values, creating output directories
 * (`download`, `eval`), the NAME=FILE split argument (`serve --split`), and
 * the one return convention of the option parsers.
 *
 * Every subcommand parses its options with getopt_long (opterr = 0, an
 * optstring starting with ':'), and its parser returns CLI_ARGS_OK (run),
 * CLI_ARGS_HELP (the help was printed: exit status 0) or CLI_ARGS_USAGE (a
 * usage error was printed: exit status 2); cli_args_exit maps the last two
 * to the exit status. */
#ifndef FCPIVOT_CLI_COMMON_H
#define FCPIVOT_CLI_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include "ds.h"
#include "grade.h"

/* The help lines of the grading flags (static text, ends with a newline). */
extern const char CLI_GRADING_HELP[];

/* A number as Python's float() of a flag would take it (NaN refused): true
 * and *out, or false. */
bool cli_parse_double(const char *s, double *out);
/* A decimal number 0..max (no sign): 0 and *out, or -1. */
int cli_parse_uint(const char *s, unsigned long max, unsigned long *out);
/* A positive size in bytes: "16777216", "512K", "16M", "1G", "1MiB" (binary
 * multiples): 0 and *out, or -1. */
int cli_parse_size(const char *s, size_t *out);

/* The parsers' results (see the top comment). */
enum { CLI_ARGS_OK = 0, CLI_ARGS_HELP = 1, CLI_ARGS_USAGE = 2 };
/* The exit status of a parser result other than CLI_ARGS_OK. */
int cli_args_exit(int rc);

/* The getopt_long values of the grading flags, CLI_OPT_GRADING + i (above
 * any option character and any command's own values). */
#define CLI_OPT_GRADING 0x1000
#define CLI_GRADING_OPTIONS \
    {"word-similarity-threshold", required_argument, NULL, CLI_OPT_GRADING + 0}, \
    {"float-tolerance", required_argument, NULL, CLI_OPT_GRADING + 1}, \
    {"reward-mode", required_argument, NULL, CLI_OPT_GRADING + 2}, \
    {"parallel-rewarding", no_argument, NULL, CLI_OPT_GRADING + 3}, \
    {"allow-subset", no_argument, NULL, CLI_OPT_GRADING + 4}, \
    {"allow-superset", no_argument, NULL, CLI_OPT_GRADING + 5}
#define CLI_GRADING_OPTION_COUNT 6
/* True when getopt_long's opt is one of CLI_GRADING_OPTIONS. */
#define CLI_IS_GRADING_OPTION(opt) \
    ((opt) >= CLI_OPT_GRADING && (opt) < CLI_OPT_GRADING + CLI_GRADING_OPTION_COUNT)
/* Applies grading option opt (a CLI_GRADING_OPTIONS value) with its value
 * (optarg, NULL for a switch) to cfg: 0, or -1 with a reason in err. */
int cli_grading_option_apply(int opt, const char *value, grade_config *cfg, char *err, size_t errsz);

/* Prints "fcpivot CMD: <message>" and "Try 'fcpivot CMD --help'." to
 * stderr; returns CLI_ARGS_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Why getopt_long returned opt ('?' or ':') for the option it just read
 * (argv[optind - 1]): "unknown option '--x'", "option '--x' needs a value"
 * or "option '--x' takes no value", into why. */
void cli_getopt_why(int opt, char **argv, char *why, size_t whysz);

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
