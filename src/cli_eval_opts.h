/* cli_eval_opts — the command line of `fcpivot eval` (docs/eval.md §1):
 * every flag with its default (defined once, printed by --help), the
 * environment fallbacks (FCPIVOT_MODEL_URL / OPENAI_BASE_URL,
 * FCPIVOT_API_KEY / OPENAI_API_KEY), the grading presets, and the checks of
 * flag values (numbers, JSON objects, Responses parameter names). */
#ifndef FCPIVOT_CLI_EVAL_OPTS_H
#define FCPIVOT_CLI_EVAL_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include "cli_eval_roll.h"
#include "conv.h"
#include "grade.h"

/* At most this many --model-url, --header and --set. */
#define EVOPT_MAX_LIST 64

/* Exit statuses of a run (130/143 for signals aside; usage errors of the
 * command line are cli_common.h's CLI_ARGS_USAGE, exit status 2 too). */
enum { EVOPT_EXIT_OK = 0, EVOPT_EXIT_FAILED = 1, EVOPT_EXIT_USAGE = 2, EVOPT_EXIT_ENDPOINT = 3, EVOPT_EXIT_IO = 4,
       EVOPT_EXIT_BELOW = 5 };

/* --api and --on-context-overflow. */
enum { EVOPT_API_CHAT, EVOPT_API_RESPONSES };
enum { EVOPT_OVERFLOW_GYM, EVOPT_OVERFLOW_FAIL };

/* The options of one run. Strings are borrowed from argv or the environment,
 * except set_keys (owned). */
typedef struct evopt {
    const char *data, *out, *model, *api_key, *rows, *request_log, *preset;
    const char *urls[EVOPT_MAX_LIST];
    size_t nurls;
    const char *headers[EVOPT_MAX_LIST];
    size_t nheaders;
    int api, on_overflow;
    long limit, sample, repeats;     /* -1: not given */
    unsigned long long seed;
    evroll_overrides ov;
    const char *temperature, *top_p, *max_output_tokens;
    char *set_keys[EVOPT_MAX_LIST];        /* owned copies of KEY */
    size_t nset;
    const char *extra_body, *chat_template_kwargs;
    bool seed_per_repeat, resume, overwrite, dry_run, quiet, json, skip_invalid;
    conv_reasoning reasoning;
    bool developer_as_system;
    long concurrency, max_attempts;
    double connect_timeout, request_timeout, retry_deadline;
    double max_failures;             /* a count, or a share with max_failures_pct */
    bool max_failures_pct;
    bool has_fail_under;
    double fail_under;
    grade_config cfg;
    int argc;
    char **argv;
} evopt;

/* Parses argv (argv[0] = "eval") into *o, which borrows argv's strings.
 * Returns cli_common.h's CLI_ARGS_OK (run), CLI_ARGS_HELP (the help was
 * printed) or CLI_ARGS_USAGE (a usage error was reported on stderr); map
 * the last two with cli_args_exit. Free *o with evopt_free either way. */
int evopt_parse(int argc, char **argv, evopt *o);
void evopt_free(evopt *o);

#endif
