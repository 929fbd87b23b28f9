/* cli_report — `fcpivot report`: what a rollouts file says about a model, as
 * text, JSON or a self-contained HTML page, and the paired comparison of two
 * runs of the same rows (docs/report.md).
 *
 * How it works: the rollouts file is read line by line (blank lines
 * skipped) into a summary (summary.h) — or, with two files, into a
 * comparison (compare.h) and one summary per file. Beside RUN.jsonl, the
 * failures file <stem>_failures.jsonl is read when it exists, and the
 * manifest <stem>_run.json gives the planned count and whether the run is
 * complete, so `report --json` of a finished `fcpivot eval` run prints its
 * <stem>_summary.json. --regrade grades every line again (verify.h) with the
 * grading flags given before it is counted. The renderers are report.h's.
 *
 * A line that cannot be read is reported as FILE:LINE: reason on stderr and
 * left out; the report is still written, and the exit status is 1.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "cli.h"
#include "cli_common.h"
#include "compare.h"
#include "grade.h"
#include "report.h"
#include "summary.h"
#include "util.h"
#include "verify.h"

#define PROG "fcpivot report"
#define MAX_BAD_LINES_SHOWN 20   /* per file; the rest are only counted */

typedef struct report_opts {
    const char *path[2];
    size_t npaths;
    bool json, regrade;
    const char *html;
    grade_config cfg;
} report_opts;

static void usage(FILE *out)
{
    fprintf(out,
        "usage: fcpivot report [options] RUN.jsonl [RUN_B.jsonl]\n"
        "\n"
        "Summarises a rollouts file written by fcpivot eval or NeMo Gym: score with its\n"
        "standard error and 95%% Wilson interval, verdict categories, expected x actual\n"
        "action type, depth, turns, functions, finish reasons, tokens, latency, retries,\n"
        "failures and, with repeats, pass@k. <stem>_failures.jsonl and <stem>_run.json\n"
        "beside the run are read when present. With two files, pairs their rollouts by\n"
        "(_ng_task_index, _ng_rollout_index), or by line without indices, and compares\n"
        "them: difference with a 95%% interval, exact McNemar test, category transitions,\n"
        "per-category, per-depth and per-function deltas.\n"
        "\n"
        "options:\n"
        "  --json                          print the summary (comparison) JSON instead of text\n"
        "  --html FILE                     also write a self-contained HTML page to FILE\n"
        "  --regrade                       grade every line again with the grading flags:\n"
        "%s"
        "  -h, --help                      this help\n"
        "\n"
        "exit status: 0 ok, 1 some line unreadable or an output error, 2 usage error.\n",
        CLI_GRADING_HELP);
}

enum { OPT_JSON = 256, OPT_REGRADE, OPT_HTML };

static const struct option LONG_OPTS[] = {
    {"json", no_argument, NULL, OPT_JSON},
    {"regrade", no_argument, NULL, OPT_REGRADE},
    {"html", required_argument, NULL, OPT_HTML},
    {"help", no_argument, NULL, 'h'},
    CLI_GRADING_OPTIONS,
    {NULL, 0, NULL, 0},
};

/* The options checked together once all are read, and the files. */
static int check_options(int argc, char **argv, report_opts *o, bool grading_given)
{
    for (int i = optind; i < argc; i++) {
        if (o->npaths == 2)
            return cli_usage_error("report", "at most two rollouts files ('%s')", argv[i]);
        o->path[o->npaths++] = argv[i];
    }
    if (!o->npaths)
        return cli_usage_error("report", "a rollouts file is required");
    if (grading_given && !o->regrade)
        return cli_usage_error("report", "grading flags only apply with --regrade");
    return CLI_ARGS_OK;
}

/* The options and files (cli_common.h's convention). */
static int parse_options(int argc, char **argv, report_opts *o)
{
    memset(o, 0, sizeof *o);
    grade_config_default(&o->cfg);
    bool grading_given = false;
    optind = 0;   /* a fresh scan (glibc) */
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":h", LONG_OPTS, NULL)) != -1) {
        char why[256];
        if (opt == 'h') {
            usage(stdout);
            return CLI_ARGS_HELP;
        } else if (opt == OPT_JSON) {
            o->json = true;
        } else if (opt == OPT_REGRADE) {
            o->regrade = true;
        } else if (opt == OPT_HTML) {
            o->html = optarg;
        } else if (CLI_IS_GRADING_OPTION(opt)) {
            if (cli_grading_option_apply(opt, optarg, &o->cfg, why, sizeof why))
                return cli_usage_error("report", "%s", why);
            grading_given = true;
        } else {
            cli_getopt_why(opt, argv, why, sizeof why);
            return cli_usage_error("report", "%s", why);
        }
    }
    return check_options(argc, argv, o, grading_given);
}

/* ---- reading files ------------------------------------------------------- */

typedef int (*line_fn)(void *ctx, const char *line, size_t len, char *err, size_t errsz);

typedef struct sink {
    const report_opts *o;
    summary *sum;
    compare *cmp;
    int side;
    util_buf graded;
} sink;

static int add_line(void *ctx, const char *line, size_t len, char *err, size_t errsz)
{
    sink *k = ctx;
    if (k->o->regrade) {
        grade_verdict v;
        k->graded.len = 0;
        int rc = verify_text(&k->o->cfg, line, len, VERIFY_COMPACT, &k->graded, &v, err, errsz);
        if (rc == VERIFY_NOMEM)
            snprintf(err, errsz, "out of memory");
        if (rc)
            return -1;
        line = k->graded.data;
        len = k->graded.len;
    }
    if (k->sum && summary_add_rollout(k->sum, line, len, err, errsz))
        return -1;
    return k->cmp ? compare_add(k->cmp, k->side, line, len, err, errsz) : 0;
}

static int add_failure(void *ctx, const char *line, size_t len, char *err, size_t errsz)
{
    return summary_add_failure(ctx, line, len, err, errsz);
}

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

/* Feeds every non-blank line of path to fn. Returns the number of lines fn
 * refused (each reported), or −1 when the file cannot be read. */
static long read_lines(const char *path, line_fn fn, void *ctx)
{
    FILE *f = !strcmp(path, "-") ? stdin : fopen(path, "r");
    if (!f) {
        fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
        return -1;
    }
    char *line = NULL, err[512];
    size_t cap = 0, lineno = 0;
    long bad = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        size_t len = (size_t)n;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (blank(line, len))
            continue;
        if (fn(ctx, line, len, err, sizeof err)) {
            if (bad++ < MAX_BAD_LINES_SHOWN)
                fprintf(stderr, PROG ": %s:%zu: %s\n", path, lineno, err);
        }
    }
    bool failed = ferror(f);
    free(line);
    if (f != stdin)
        fclose(f);
    if (failed) {
        fprintf(stderr, PROG ": %s: read error\n", path);
        return -1;
    }
    if (bad > MAX_BAD_LINES_SHOWN)
        fprintf(stderr, PROG ": %s: %ld unreadable lines in all\n", path, bad);
    return bad;
}

/* "<stem><suffix>" for RUN.jsonl (caller frees): the stem drops ".jsonl". */
static char *sibling(const char *path, const char *suffix)
{
    size_t n = strlen(path);
    if (n > 6 && !strcmp(path + n - 6, ".jsonl"))
        n -= 6;
    char *s = malloc(n + strlen(suffix) + 1);
    if (s) {
        memcpy(s, path, n);
        strcpy(s + n, suffix);
    }
    return s;
}

/* Options from the manifest beside the run, when there is one: planned and
 * status. Without one the file is taken as a whole, complete run. */
static void manifest_options(const char *path, summary_options *so)
{
    so->planned = 0;
    so->complete = true;
    char *m = strcmp(path, "-") ? sibling(path, "_run.json") : NULL;
    json_t *j = m ? json_load_file(m, 0, NULL) : NULL;
    if (j) {
        const json_t *p = json_object_get(j, "planned"), *st = json_object_get(j, "status");
        if (json_is_integer(p) && json_integer_value(p) >= 0)
            so->planned = (size_t)json_integer_value(p);
        if (json_is_string(st))
            so->complete = !strcmp(json_string_value(st), "complete");
    }
    json_decref(j);
    free(m);
}

/* Summary (and, when cmp is given, that side of the comparison) of one run,
 * failures file included. Adds unreadable lines to *bad; −1 on a read error. */
static summary *summarise(const report_opts *o, const char *path, compare *cmp, int side,
                          long *bad)
{
    summary_options so;
    manifest_options(path, &so);
    sink k = {.o = o, .sum = summary_new(&so), .cmp = cmp, .side = side};
    if (!k.sum) {
        fprintf(stderr, PROG ": out of memory\n");
        return NULL;
    }
    long n = read_lines(path, add_line, &k);
    util_buf_free(&k.graded);
    if (n < 0) {
        summary_free(k.sum);
        return NULL;
    }
    *bad += n;
    char *fp = strcmp(path, "-") ? sibling(path, "_failures.jsonl") : NULL;
    FILE *probe = fp ? fopen(fp, "r") : NULL;
    if (probe) {
        fclose(probe);
        long nf = read_lines(fp, add_failure, k.sum);
        *bad += nf > 0 ? nf : 0;
    }
    free(fp);
    return k.sum;
}

/* ---- output ---------------------------------------------------------------- */

static json_t *parse_json(const util_buf *b)
{
    return json_loadb(b->data, b->len, 0, NULL);
}

static int write_file(const char *path, const util_buf *b)
{
    FILE *f = fopen(path, "w");
    if (!f || fwrite(b->data, 1, b->len, f) != b->len || fclose(f)) {
        fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
        if (f)
            fclose(f);
        return -1;
    }
    return 0;
}

static int emit(const util_buf *b)
{
    return fwrite(b->data, 1, b->len, stdout) == b->len && fflush(stdout) == 0 ? 0 : -1;
}

static int summary_text(const summary *s, util_buf *out)
{
    char err[128];
    return summary_json(s, out, err, sizeof err);
}

static int report_one(const report_opts *o, long *bad)
{
    summary *s = summarise(o, o->path[0], NULL, 0, bad);
    if (!s)
        return 1;
    util_buf js = UTIL_BUF_INIT, out = UTIL_BUF_INIT;
    int rc = summary_text(s, &js);
    summary_free(s);
    json_t *j = rc ? NULL : parse_json(&js);
    rc = !j;
    if (!rc && o->json)
        rc = util_buf_append(&out, js.data, js.len) || util_buf_putc(&out, '\n');
    else if (!rc)
        rc = report_text_summary(j, o->path[0], &out);
    rc = rc || emit(&out);
    if (!rc && o->html) {
        out.len = 0;
        rc = report_html_summary(j, o->path[0], &out) || write_file(o->html, &out);
    }
    json_decref(j);
    util_buf_free(&js);
    util_buf_free(&out);
    return rc ? 1 : 0;
}

static int report_two(const report_opts *o, long *bad)
{
    compare *c = compare_new();
    summary *sa = c ? summarise(o, o->path[0], c, 0, bad) : NULL;
    summary *sb = sa ? summarise(o, o->path[1], c, 1, bad) : NULL;
    util_buf cj = UTIL_BUF_INIT, aj = UTIL_BUF_INIT, bj = UTIL_BUF_INIT, out = UTIL_BUF_INIT;
    char err[128];
    int rc = !sb || compare_json(c, &cj, err, sizeof err) || summary_text(sa, &aj) ||
             summary_text(sb, &bj);
    json_t *jc = rc ? NULL : parse_json(&cj), *ja = rc ? NULL : parse_json(&aj),
           *jb = rc ? NULL : parse_json(&bj);
    rc = !jc || !ja || !jb;
    if (!rc && o->json)
        rc = util_buf_append(&out, cj.data, cj.len) || util_buf_putc(&out, '\n');
    else if (!rc)
        rc = report_text_compare(jc, o->path[0], o->path[1], &out);
    rc = rc || emit(&out);
    if (!rc && o->html) {
        out.len = 0;
        rc = report_html_compare(jc, ja, jb, o->path[0], o->path[1], &out) ||
             write_file(o->html, &out);
    }
    json_decref(jc);
    json_decref(ja);
    json_decref(jb);
    util_buf_free(&cj);
    util_buf_free(&aj);
    util_buf_free(&bj);
    util_buf_free(&out);
    summary_free(sa);
    summary_free(sb);
    compare_free(c);
    return rc ? 1 : 0;
}

int cli_report(int argc, char **argv)
{
    report_opts o;
    int st = parse_options(argc, argv, &o);
    if (st != CLI_ARGS_OK)
        return cli_args_exit(st);
    long bad = 0;
    st = o.npaths == 1 ? report_one(&o, &bad) : report_two(&o, &bad);
    return st ? st : bad ? 1 : 0;
}
