/* cli_common — the grading flags shared by `fcpivot grade`, `serve` and
 * `eval`, so that all accept exactly the same comparator configuration,
 * mkdir -p for the commands that write files, and the NAME=FILE split
 * argument (cut in place: no copy is kept). */
#include "cli_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char CLI_GRADING_HELP[] =
    "  --word-similarity-threshold X   minimum string similarity (default 0.1)\n"
    "  --float-tolerance X             float tolerance, strict < (default 1e-6)\n"
    "  --parallel-rewarding            the number of calls matters\n"
    "  --allow-subset                  admit fewer calls than expected\n"
    "  --allow-superset                admit more calls than expected\n"
    "  --reward-mode M                 binary_strict (default), fractional or f1\n";

static const struct {
    const char *name;
    bool takes_value;
} FLAGS[] = {
    {"--word-similarity-threshold", true}, {"--float-tolerance", true},
    {"--reward-mode", true}, {"--parallel-rewarding", false},
    {"--allow-subset", false}, {"--allow-superset", false},
};

bool cli_grading_flag_known(const char *name, bool *takes_value)
{
    for (size_t i = 0; i < sizeof FLAGS / sizeof FLAGS[0]; i++)
        if (!strcmp(name, FLAGS[i].name)) {
            if (takes_value)
                *takes_value = FLAGS[i].takes_value;
            return true;
        }
    return false;
}

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

int cli_grading_flag_apply(const char *name, const char *value, grade_config *cfg,
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

int cli_option_value(int argc, char **argv, int *i, const char *name, bool takes,
                     const char **val, char *err, size_t errsz)
{
    if (takes && !*val) {
        if (*i + 1 >= argc) {
            snprintf(err, errsz, "option '%s' needs a value", name);
            return -1;
        }
        *val = argv[++*i];
    } else if (!takes && *val) {
        snprintf(err, errsz, "option '%s' takes no value", name);
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
