/* cli_common — the grading flags shared by `fcpivot grade`, `serve` and
 * `report` and `eval`, so that all accept exactly the same comparator
 * configuration; the number parsers of option values; the getopt_long error
 * messages, so that every subcommand words a usage error the same way;
 * mkdir -p for the commands that write files; and the NAME=FILE split
 * argument (cut in place: no copy is kept). */
#include "cli_common.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "util.h"

#define TEXT_OF(x) #x
#define TEXT(x) TEXT_OF(x)   /* a macro's value as a string literal */

const char CLI_GRADING_HELP[] =
    "  --word-similarity-threshold X   minimum string similarity (default "
    TEXT(GRADE_DEFAULT_WORD_SIMILARITY) ")\n"
    "  --float-tolerance X             float tolerance, strict < (default "
    TEXT(GRADE_DEFAULT_FLOAT_TOLERANCE) ")\n"
    "  --parallel-rewarding            the number of calls matters\n"
    "  --allow-subset                  admit fewer calls than expected\n"
    "  --allow-superset                admit more calls than expected\n"
    "  --reward-mode M                 binary_strict (default), fractional or f1\n";

/* The grading flags' names, in CLI_GRADING_OPTIONS order. */
static const char *const FLAGS[] = {
    "--word-similarity-threshold", "--float-tolerance", "--reward-mode",
    "--parallel-rewarding", "--allow-subset", "--allow-superset",
};
_Static_assert(sizeof FLAGS / sizeof FLAGS[0] == CLI_GRADING_OPTION_COUNT,
               "CLI_GRADING_OPTIONS lists FLAGS in order");

bool cli_parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || v != v)
        return false;
    *out = v;
    return true;
}

/* Applies grading flag name (with its value, or NULL for a switch) to cfg.
 * 0, or -1 with a reason in err for an invalid value. */
static int grading_flag_apply(const char *name, const char *value, grade_config *cfg,
                              char *err, size_t errsz)
{
    if (!strcmp(name, "--word-similarity-threshold")) {
        if (!value || !cli_parse_double(value, &cfg->word_similarity_threshold))
            goto bad;
    } else if (!strcmp(name, "--float-tolerance")) {
        if (!value || !cli_parse_double(value, &cfg->float_tolerance))
            goto bad;
    } else if (!strcmp(name, "--reward-mode")) {
        if (!value || grade_mode_parse(value, &cfg->mode)) {
            snprintf(err, errsz, "bad --reward-mode '%s' (binary_strict, fractional or f1)",
                     value ? value : "");
            return -1;
        }
    } else if (!strcmp(name, "--parallel-rewarding")) {
        cfg->parallel_rewarding = true;
    } else if (!strcmp(name, "--allow-subset")) {
        cfg->allow_subset = true;
    } else if (!strcmp(name, "--allow-superset")) {
        cfg->allow_superset = true;
    } else {
        snprintf(err, errsz, "unknown option '%s'", name);
        return -1;
    }
    return 0;
bad:
    snprintf(err, errsz, "bad %s '%s'", name, value ? value : "");
    return -1;
}

int cli_grading_option_apply(int opt, const char *value, grade_config *cfg, char *err, size_t errsz)
{
    size_t i = (size_t)(opt - CLI_OPT_GRADING);
    if (opt < CLI_OPT_GRADING || i >= sizeof FLAGS / sizeof FLAGS[0]) {
        util_set_err(err, errsz, "unknown option");
        return -1;
    }
    return grading_flag_apply(FLAGS[i], value, cfg, err, errsz);
}

int cli_parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return -1;
    errno = 0;
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

int cli_parse_size(const char *s, size_t *out)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -1;
    unsigned shift = 0;
    if (*end) {
        switch (*end) {
        case 'k': case 'K': shift = 10; break;
        case 'm': case 'M': shift = 20; break;
        case 'g': case 'G': shift = 30; break;
        default: return -1;
        }
        end++;
        if (*end == 'i' || *end == 'I')
            end++;
        if (*end == 'b' || *end == 'B')
            end++;
        if (*end)
            return -1;
    }
    if (v == 0 || v > (SIZE_MAX >> shift))
        return -1;
    *out = (size_t)(v << shift);
    return 0;
}

void cli_getopt_why(int opt, char **argv, char *why, size_t whysz)
{
    const char *arg = argv[optind - 1];
    size_t n = strcspn(arg, "=");
    if (opt == ':')
        util_set_err(why, whysz, "option '%s' needs a value", arg);
    else if (optopt && arg[0] == '-' && arg[1] == '-' && arg[n] == '=')
        util_set_err(why, whysz, "option '%.*s' takes no value", (int)n, arg);
    else
        util_set_err(why, whysz, "unknown option '%s'", arg);
}

int cli_args_exit(int rc)
{
    return rc == CLI_ARGS_HELP ? 0 : rc == CLI_ARGS_USAGE ? 2 : rc;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fcpivot %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'fcpivot %s --help'.\n", cmd);
    va_end(ap);
    return CLI_ARGS_USAGE;
}

int cli_make_dirs(const char *path, char *err, size_t errsz)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n >= sizeof buf) {
        snprintf(err, errsz, "output directory path too long");
        return -1;
    }
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char saved = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
            snprintf(err, errsz, "cannot create %s: %s", buf, strerror(errno));
            return -1;
        }
        buf[i] = saved;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errsz, "%s is not a directory", path);
        return -1;
    }
    return 0;
}

int cli_split_spec_parse(char *arg, ds_split_spec *out, char *err, size_t errsz)
{
    char *eq = arg ? strchr(arg, '=') : NULL;
    if (!eq || eq == arg || !eq[1]) {
        snprintf(err, errsz, "expected NAME=FILE, got '%s'", arg ? arg : "");
        return -1;
    }
    if ((size_t)(eq - arg) >= CLI_SPLIT_NAME_CUT) {
        snprintf(err, errsz, "split name too long in '%s'", arg);
        return -1;
    }
    *eq = '\0';
    if (!ds_split_name_valid(arg)) {
        snprintf(err, errsz, "invalid split name '%s' (use letters, digits, '_', '.', '-')", arg);
        *eq = '=';
        return -1;
    }
    out->name = arg;
    out->path = eq + 1;
    return 0;
}
