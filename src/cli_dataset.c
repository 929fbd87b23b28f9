/* cli_dataset — `fcpivot validate` and `fcpivot stats`: check and describe
 * dataset files (docs/dataset.md §7-§8).
 *
 * Both open each file as a one-split dataset with validation on (ds_open uses
 * every core) and skip_invalid, so one bad row never hides the others.
 * validate prints each finding as "FILE:LINE: error|warning: reason" and a
 * summary per file; stats has the same pass measure every valid row
 * (ds_open_options.on_row, per validation thread) and summarises afterwards. Progress goes to stderr only when stderr is a terminal and
 * the file is large. Exit status: 0 clean, 1 errors (or unreadable files),
 * 2 usage.
 */
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli_common.h"
#include "ds.h"
#include "gymstats.h"
#include "util.h"

#define PROGRESS_MIN_BYTES ((size_t)16 << 20)
#define FIRST_MEASURED 4096   /* per-row measures start with room for these rows */

typedef struct common_opts {
    bool json;
    bool gym_metrics;        /* stats: NeMo Gym's <name>_metrics.json instead */
    unsigned threads;
    size_t max_issues;       /* per file; (size_t)-1 = all */
    int first_file;
} common_opts;

static void usage_validate(FILE *out)
{
    fprintf(out,
            "usage: fcpivot validate [--json] [--max-issues N] [--threads N] FILE...\n\n"
            "Checks pivot dataset files (.jsonl, .jsonl.gz, .jsonl.zst) row by row and\n"
            "reports every error and warning as FILE:LINE: severity: reason, then per file\n"
            "the counts of rows, errors and warnings, and of findings by rule. FILE '-'\n"
            "is standard input.\n\n"
            "  --json          one JSON report on stdout instead of text\n"
            "  --max-issues N  report at most N findings per file (counts stay exact)\n"
            "  --threads N     validation threads (default: all cores)\n\n"
            "Exit status: 0 no errors (warnings allowed), 1 errors or unreadable file, 2 usage.\n");
}

static void usage_stats(FILE *out)
{
    fprintf(out,
            "usage: fcpivot stats [--json | --gym-metrics] [--threads N] FILE...\n\n"
            "Describes pivot dataset files: rows, expected-action mix, tools, turns (user\n"
            "messages), input items and words (of all message texts in the input) per row\n"
            "(min/max/mean/median/std), the 20 most frequent expected function names, and\n"
            "rows whose expected call names a tool the row does not list. Invalid rows are\n"
            "counted and left out (run 'fcpivot validate' for the reasons). FILE '-' is\n"
            "standard input.\n\n"
            "  --json         one JSON report on stdout instead of a text table\n"
            "  --gym-metrics  per file, the statistics NeMo Gym's 'gym dataset collate'\n"
            "                 writes as <name>_metrics.json (examples; tools, turns,\n"
            "                 json.dumps words and temperature: count, average, min,\n"
            "                 max, sample standard deviation, rounded as Gym rounds)\n"
            "  --threads N    threads (default: all cores)\n");
}

enum { OPT_JSON = 256, OPT_GYM_METRICS, OPT_THREADS, OPT_MAX_ISSUES };
#define MAX_THREADS 64

static const struct option VALIDATE_OPTS[] = {
    {"json", no_argument, NULL, OPT_JSON},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"max-issues", required_argument, NULL, OPT_MAX_ISSUES},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static const struct option STATS_OPTS[] = {
    {"json", no_argument, NULL, OPT_JSON},
    {"gym-metrics", no_argument, NULL, OPT_GYM_METRICS},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"max-issues", required_argument, NULL, OPT_MAX_ISSUES},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Applies option opt (a *_OPTS value) with its value. */
static int apply_option(const char *cmd, int opt, const char *val, common_opts *o)
{
    unsigned long v;
    switch (opt) {
    case OPT_JSON: o->json = true; break;
    case OPT_GYM_METRICS: o->gym_metrics = true; break;
    case OPT_THREADS:
    case OPT_MAX_ISSUES:
        if (cli_parse_uint(val, opt == OPT_THREADS ? MAX_THREADS : ULONG_MAX, &v) ||
            (opt == OPT_THREADS && v < 1)) {
            fprintf(stderr, "fcpivot %s: invalid value '%s' for %s\n", cmd, val,
                    opt == OPT_THREADS ? "--threads" : "--max-issues");
            return CLI_ARGS_USAGE;
        }
        if (opt == OPT_THREADS)
            o->threads = (unsigned)v;
        else
            o->max_issues = (size_t)v;
        break;
    }
    return CLI_ARGS_OK;
}

/* Parses the shared options (before the files; cli_common.h's convention). */
static int parse_common(int argc, char **argv, common_opts *o, void (*usage)(FILE *))
{
    memset(o, 0, sizeof *o);
    o->max_issues = (size_t)-1;
    optind = 0;   /* a fresh scan (glibc) */
    opterr = 0;
    int opt;
    const struct option *opts = usage == usage_stats ? STATS_OPTS : VALIDATE_OPTS;
    while ((opt = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
        if (opt == 'h') {
            usage(stdout);
            return CLI_ARGS_HELP;
        }
        if (opt == '?' || opt == ':') {
            char why[256];
            cli_getopt_why(opt, argv, why, sizeof why);
            fprintf(stderr, "fcpivot %s: %s\n", argv[0], why);
            usage(stderr);
            return CLI_ARGS_USAGE;
        }
        if (apply_option(argv[0], opt, optarg, o) != CLI_ARGS_OK)
            return CLI_ARGS_USAGE;
    }
    if (optind >= argc) {
        fprintf(stderr, "fcpivot %s: no FILE given\n", argv[0]);
        usage(stderr);
        return CLI_ARGS_USAGE;
    }
    o->first_file = optind;
    return CLI_ARGS_OK;
}

/* ---- progress ------------------------------------------------------------ */

typedef struct progress {
    const char *what, *path;
    bool on, shown;
} progress;

static void progress_init(progress *p, const char *what, const char *path)
{
    struct stat st;
    p->what = what;
    p->path = path;
    p->shown = false;
    p->on = isatty(STDERR_FILENO) && stat(path, &st) == 0 && (size_t)st.st_size >= PROGRESS_MIN_BYTES;
}

static void progress_show(progress *p, size_t done, size_t total)
{
    if (!p->on)
        return;
    double pct = total ? 100.0 * (double)done / (double)total : 100.0;
    fprintf(stderr, "\r%s %s: %3.0f%% (%.0f / %.0f MB)", p->what, p->path, pct,
            (double)done / 1e6, (double)total / 1e6);
    fflush(stderr);
    p->shown = true;
}

static void progress_done(progress *p)
{
    if (p->shown)
        fprintf(stderr, "\r\033[K");
    p->shown = false;
}

/* ---- validate ------------------------------------------------------------ */

#define MAX_KINDS 24   /* error rules + warning kinds (dsval.h) */

typedef struct vfile {
    const char *path;
    const common_opts *o;
    progress prog;
    size_t reported, omitted;
    json_t *issues;          /* --json */
    const char *kind[MAX_KINDS];   /* findings counted by rule, first seen first */
    size_t kind_count[MAX_KINDS];
    size_t nkinds;
} vfile;

static void count_kind(vfile *v, const char *kind)
{
    if (!kind)
        kind = "other";
    for (size_t i = 0; i < v->nkinds; i++)
        if (!strcmp(v->kind[i], kind)) {
            v->kind_count[i]++;
            return;
        }
    if (v->nkinds < MAX_KINDS) {
        v->kind[v->nkinds] = kind;
        v->kind_count[v->nkinds++] = 1;
    }
}

static void on_progress(size_t done, size_t total, void *ctx)
{
    progress_show(&((vfile *)ctx)->prog, done, total);
}

/* Prints s (text from the data) with its control characters escaped. */
static void print_clean(const char *s)
{
    util_buf b = UTIL_BUF_INIT;
    if (util_buf_escaped(&b, s, strlen(s)) == 0 && b.data)
        fputs(b.data, stdout);
    util_buf_free(&b);
}

static void on_issue(const ds_issue *is, void *ctx)
{
    vfile *v = ctx;
    count_kind(v, is->kind);
    if (v->reported >= v->o->max_issues) {
        v->omitted++;
        return;
    }
    v->reported++;
    const char *sev = is->severity == DS_SEV_ERROR ? "error" : "warning";
    if (v->issues) {
        json_array_append_new(v->issues, json_pack("{s:I,s:s,s:s,s:s}", "line", (json_int_t)is->line,
                                                   "severity", sev, "rule", is->kind ? is->kind : "other",
                                                   "message", is->message));
        return;
    }
    progress_done(&v->prog);
    printf("%s:%zu: %s: ", v->path, is->line, sev);
    print_clean(is->message);
    putchar('\n');
}

/* Opens one file as a validated dataset (invalid rows skipped, findings to
 * fn). 0, or -1 with the reason in why (unreadable or corrupt file). */
static int open_validated(const char *path, const common_opts *o, void *ctx, ds_issue_fn fn,
                          ds_progress_fn pfn, ds_dataset **ds, char *why, size_t whysz)
{
    ds_split_spec sp = {"train", path};
    ds_open_options oo = {.validate = true, .skip_invalid = true, .threads = o->threads,
                          .on_issue = fn, .ctx = ctx, .on_progress = pfn};
    return ds_open(ds, &sp, 1, &oo, why, whysz);
}

/* "-" reads standard input. */
static const char *file_arg(const char *arg)
{
    return strcmp(arg, "-") ? arg : "/dev/stdin";
}

/* validate's totals over the files. */
enum { T_ROWS, T_ERRORS, T_WARNINGS, T_UNREADABLE, T_COUNT };

static json_t *validate_one(const char *path, const common_opts *o, size_t totals[T_COUNT])
{
    vfile v = {.path = path, .o = o};
    progress_init(&v.prog, "validating", path);
    if (o->json)
        v.issues = json_array();
    ds_dataset *ds;
    char why[600];
    int rc = open_validated(path, o, &v, on_issue, on_progress, &ds, why, sizeof why);
    progress_done(&v.prog);
    json_t *out = NULL;
    if (rc) {
        totals[T_UNREADABLE]++;
        if (o->json)
            out = json_pack("{s:s,s:s,s:o}", "path", path, "failure", why, "issues", v.issues);
        else
            fprintf(stderr, "fcpivot validate: %s\n", why);
        return out;
    }
    ds_split_report r;
    ds_split_report_get(ds, 0, &r);
    totals[T_ROWS] += r.rows;
    totals[T_ERRORS] += r.errors;
    totals[T_WARNINGS] += r.warnings;
    if (o->json) {
        out = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:o}", "path", path, "lines", (json_int_t)r.lines,
                        "rows", (json_int_t)r.rows, "valid", (json_int_t)(r.rows - r.errors),
                        "errors", (json_int_t)r.errors, "warnings", (json_int_t)r.warnings,
                        "issues", v.issues);
        json_object_set_new(out, "issues_omitted", json_integer((json_int_t)v.omitted));
        json_t *by = json_object();
        for (size_t i = 0; i < v.nkinds; i++)
            json_object_set_new(by, v.kind[i], json_integer((json_int_t)v.kind_count[i]));
        json_object_set_new(out, "by_rule", by);
    } else {
        if (v.omitted)
            printf("%s: ... %zu more finding%s not shown (--max-issues)\n", path, v.omitted,
                   v.omitted == 1 ? "" : "s");
        printf("%s: %zu row%s, %zu valid, %zu error%s, %zu warning%s\n", path, r.rows,
               r.rows == 1 ? "" : "s", r.rows - r.errors, r.errors, r.errors == 1 ? "" : "s",
               r.warnings, r.warnings == 1 ? "" : "s");
        if (v.nkinds) {
            printf("%s: by rule:", path);
            for (size_t i = 0; i < v.nkinds; i++)
                printf("%s %s %zu", i ? "," : "", v.kind[i], v.kind_count[i]);
            printf("\n");
        }
    }
    ds_close(ds);
    return out;
}

int cli_validate(int argc, char **argv)
{
    common_opts o;
    int rc = parse_common(argc, argv, &o, usage_validate);
    if (rc != CLI_ARGS_OK)
        return cli_args_exit(rc);
    size_t totals[T_COUNT] = {0};
    json_t *files = o.json ? json_array() : NULL;
    int nfiles = argc - o.first_file;
    for (int i = o.first_file; i < argc; i++) {
        json_t *f = validate_one(file_arg(argv[i]), &o, totals);
        if (files && f)
            json_array_append_new(files, f);
    }
    bool ok = totals[T_ERRORS] == 0 && totals[T_UNREADABLE] == 0;
    if (o.json) {
        json_t *doc = json_pack("{s:b,s:o,s:I,s:I,s:I,s:I}", "ok", ok, "files", files,
                                "rows", (json_int_t)totals[T_ROWS], "errors", (json_int_t)totals[T_ERRORS],
                                "warnings", (json_int_t)totals[T_WARNINGS], "unreadable", (json_int_t)totals[T_UNREADABLE]);
        json_dumpf(doc, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(doc);
    } else if (nfiles > 1) {
        printf("total: %d files, %zu rows, %zu errors, %zu warnings%s\n", nfiles, totals[T_ROWS], totals[T_ERRORS],
               totals[T_WARNINGS], totals[T_UNREADABLE] ? " (some files unreadable)" : "");
    }
    return ok ? 0 : 1;
}

/* ---- stats: per-row measures ---------------------------------------------- */

enum { M_TOOLS, M_TURNS, M_ITEMS, M_WORDS, M_COUNT };
static const char *const M_NAMES[M_COUNT] = {"tools", "turns", "input_items", "words"};

typedef struct name_count {
    char *name;
    size_t count;
} name_count;

typedef struct name_table {      /* open addressing, power-of-two size */
    name_count *slots;
    size_t cap, n;
} name_table;

static size_t hash_str(const char *s)
{
    return (size_t)util_hash(s, strlen(s));
}

static bool names_add(name_table *t, const char *name, size_t count)
{
    if (2 * (t->n + 1) > t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        name_count *s = calloc(cap, sizeof *s);
        if (!s)
            return false;
        for (size_t i = 0; i < t->cap; i++)
            if (t->slots[i].name) {
                size_t j = hash_str(t->slots[i].name) & (cap - 1);
                while (s[j].name)
                    j = (j + 1) & (cap - 1);
                s[j] = t->slots[i];
            }
        free(t->slots);
        t->slots = s;
        t->cap = cap;
    }
    size_t j = hash_str(name) & (t->cap - 1);
    while (t->slots[j].name && strcmp(t->slots[j].name, name))
        j = (j + 1) & (t->cap - 1);
    if (!t->slots[j].name) {
        if (!(t->slots[j].name = strdup(name)))
            return false;
        t->n++;
    }
    t->slots[j].count += count;
    return true;
}

static void names_free(name_table *t)
{
    for (size_t i = 0; i < t->cap; i++)
        free(t->slots[i].name);
    free(t->slots);
}

/* Per validation thread: the measures of its valid rows (in any order) and
 * the expected function names it saw. */
typedef struct wstats {
    uint32_t *m[M_COUNT];
    size_t n, cap;
    size_t unlisted;         /* rows whose expected call names an unlisted tool */
    name_table names;
    bool oom;
} wstats;

static void wstats_add(wstats *w, const ds_row_info *ri)
{
    if (w->n == w->cap) {
        size_t cap = w->cap;
        for (int k = 0; k < M_COUNT; k++) {
            cap = w->cap;               /* every measure's array grows to the same size */
            if (util_grow(&w->m[k], &cap, w->n + 1, sizeof *w->m[k], FIRST_MEASURED)) {
                w->oom = true;
                return;
            }
        }
        w->cap = cap;
    }
    w->m[M_TOOLS][w->n] = ri->n_tools;
    w->m[M_TURNS][w->n] = ri->n_user;
    w->m[M_ITEMS][w->n] = ri->n_input;
    w->m[M_WORDS][w->n] = ri->n_words;
    w->n++;
    w->unlisted += ri->unlisted_tool;
    for (size_t i = 0; i < grade_action_ncalls(ri->expected); i++) {
        const char *name = grade_action_call_name(ri->expected, i);
        if (name && !names_add(&w->names, name, 1))
            w->oom = true;
    }
}

/* ---- stats: summaries ------------------------------------------------------ */

typedef struct summary {
    double min, max, mean, median, std;
} summary;

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Summarises v[0..n) (sorts it). */
static summary summarise(uint32_t *v, size_t n)
{
    summary s = {0};
    if (!n)
        return s;
    qsort(v, n, sizeof *v, cmp_u32);
    double sum = 0, sq = 0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    s.mean = sum / (double)n;
    for (size_t i = 0; i < n; i++)
        sq += ((double)v[i] - s.mean) * ((double)v[i] - s.mean);
    s.std = sqrt(sq / (double)n);
    s.min = v[0];
    s.max = v[n - 1];
    s.median = n % 2 ? v[n / 2] : ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2.0;
    return s;
}

static int cmp_names(const void *a, const void *b)
{
    const name_count *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return strcmp(x->name, y->name);
}

typedef struct stats_ctx {
    progress prog;
    wstats w[MAX_THREADS];   /* per worker (ds runs at most --threads of them) */
} stats_ctx;

static void stats_progress(size_t done, size_t total, void *ctx)
{
    progress_show(&((stats_ctx *)ctx)->prog, done, total);
}

static void stats_row(const ds_row_info *ri, void *ctx)
{
    if (ri->valid && ri->worker < MAX_THREADS)
        wstats_add(&((stats_ctx *)ctx)->w[ri->worker], ri);
}

/* Gathers every worker's measures into w[0] (and its names). */
static bool merge_workers(stats_ctx *sc)
{
    wstats *w0 = &sc->w[0];
    bool ok = !w0->oom;
    for (int t = 1; t < 64; t++) {
        wstats *w = &sc->w[t];
        ok &= !w->oom;
        w0->unlisted += w->unlisted;
        for (size_t i = 0; i < w->names.cap; i++)
            if (w->names.slots[i].name && !names_add(&w0->names, w->names.slots[i].name, w->names.slots[i].count))
                ok = false;
        if (!w->n)
            continue;
        for (int k = 0; k < M_COUNT; k++) {
            uint32_t *nm = realloc(w0->m[k], (w0->n + w->n) * sizeof *nm);
            if (!nm)
                return false;
            memcpy(nm + w0->n, w->m[k], w->n * sizeof *nm);
            w0->m[k] = nm;
        }
        w0->n += w->n;
        w0->cap = w0->n;
    }
    return ok;
}

static void stats_free(stats_ctx *sc)
{
    for (int t = 0; t < 64; t++) {
        for (int k = 0; k < M_COUNT; k++)
            free(sc->w[t].m[k]);
        names_free(&sc->w[t].names);
    }
}

static void print_stats_text(const char *path, const ds_split_report *r, size_t unlisted, const summary *s,
                             const name_count *top, size_t ntop, size_t ncalls)
{
    size_t valid = r->rows - r->errors;
    double pc = valid ? 100.0 / (double)valid : 0;
    printf("%s\n", path);
    printf("  rows              %zu (%zu invalid, left out)\n", valid, r->errors);
    printf("  expected actions  message %zu (%.1f%%), function_call %zu (%.1f%%), "
           "function_call_batch %zu (%.1f%%)\n",
           r->kinds[GRADE_ACTION_MESSAGE], (double)r->kinds[GRADE_ACTION_MESSAGE] * pc,
           r->kinds[GRADE_ACTION_CALL], (double)r->kinds[GRADE_ACTION_CALL] * pc,
           r->kinds[GRADE_ACTION_BATCH], (double)r->kinds[GRADE_ACTION_BATCH] * pc);
    printf("  unlisted tool     %zu rows (%.1f%%) expect a call of a tool they do not list\n",
           unlisted, (double)unlisted * pc);
    printf("  %-16s %10s %10s %10s %10s %10s\n", "per row", "min", "max", "mean", "median", "std");
    for (int k = 0; k < M_COUNT; k++)
        printf("  %-16s %10.0f %10.0f %10.2f %10.1f %10.2f\n", M_NAMES[k], s[k].min, s[k].max,
               s[k].mean, s[k].median, s[k].std);
    printf("  top expected function names (%zu calls):\n", ncalls);
    for (size_t i = 0; i < ntop; i++)
    {
        printf("  %6zu  %5.1f%%  ", top[i].count, ncalls ? 100.0 * (double)top[i].count / (double)ncalls : 0.0);
        print_clean(top[i].name);
        putchar('\n');
    }
}

static json_t *stats_json(const char *path, const ds_split_report *r, size_t unlisted, const summary *s,
                          const name_count *top, size_t ntop, size_t ncalls)
{
    size_t valid = r->rows - r->errors;
    double pc = valid ? 100.0 / (double)valid : 0;
    json_t *mix = json_object();
    for (int k = GRADE_ACTION_MESSAGE; k < GRADE_ACTION_KIND_COUNT; k++)
        json_object_set_new(mix, grade_kind_name(k), json_pack("{s:I,s:f}", "count", (json_int_t)r->kinds[k],
                                                     "percent", (double)r->kinds[k] * pc));
    json_t *per = json_object();
    for (int k = 0; k < M_COUNT; k++)
        json_object_set_new(per, M_NAMES[k], json_pack("{s:f,s:f,s:f,s:f,s:f}", "min", s[k].min,
                            "max", s[k].max, "mean", s[k].mean, "median", s[k].median, "std", s[k].std));
    json_t *names = json_array();
    for (size_t i = 0; i < ntop; i++)
        json_array_append_new(names, json_pack("{s:s,s:I}", "name", top[i].name, "count", (json_int_t)top[i].count));
    return json_pack("{s:s,s:I,s:I,s:o,s:o,s:I,s:o,s:I}", "path", path, "rows", (json_int_t)valid,
                     "invalid_rows", (json_int_t)r->errors, "expected_action_mix", mix, "per_row", per,
                     "expected_calls", (json_int_t)ncalls, "top_function_names", names,
                     "unlisted_tool_rows", (json_int_t)unlisted);
}

/* The dataset's name as Gym names it: the file name without directories
 * and without its .jsonl[.gz|.zst] extension. Caller frees. */
static char *dataset_name(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char *name = strdup(base);
    static const char *const exts[] = {".jsonl.gz", ".jsonl.zst", ".jsonl"};
    for (size_t i = 0; name && i < 3; i++) {
        size_t n = strlen(name), e = strlen(exts[i]);
        if (n > e && !strcmp(name + n - e, exts[i])) {
            name[n - e] = '\0';
            break;
        }
    }
    return name;
}

/* --gym-metrics: NeMo Gym's statistics of the file's valid rows on stdout. */
static void gym_metrics_one(const char *path, const common_opts *o, int *status)
{
    ds_split_spec sp = {"train", path};
    ds_open_options oo = {.validate = true, .skip_invalid = true, .threads = o->threads};
    ds_dataset *ds;
    char why[600];
    if (ds_open(&ds, &sp, 1, &oo, why, sizeof why)) {
        fprintf(stderr, "fcpivot stats: %s\n", why);
        *status = 1;
        return;
    }
    gymstats g;
    gymstats_init(&g);
    size_t len;
    for (size_t i = 0; i < ds_split_size(ds, 0); i++) {
        const char *row = ds_row_text(ds, 0, i, &len, NULL);
        if (gymstats_row(&g, row, len) != 0)
            fprintf(stderr, "fcpivot stats: %s: row %zu left out (out of memory?)\n", path, i);
    }
    ds_close(ds);
    util_buf out = {0};
    char *name = dataset_name(path);
    if (!name || gymstats_json(&g, name, path, &out)) {
        fprintf(stderr, "fcpivot stats: %s: out of memory\n", path);
        *status = 1;
    } else {
        fwrite(out.data, 1, out.len, stdout);
    }
    free(name);
    util_buf_free(&out);
    gymstats_free(&g);
}

static json_t *stats_one(const char *path, const common_opts *o, int *status)
{
    stats_ctx *sc = calloc(1, sizeof *sc);
    if (!sc) {
        fprintf(stderr, "fcpivot stats: out of memory\n");
        *status = 1;
        return NULL;
    }
    progress_init(&sc->prog, "reading", path);
    ds_split_spec sp = {"train", path};
    ds_open_options oo = {.validate = true, .skip_invalid = true, .threads = o->threads,
                          .ctx = sc, .on_progress = stats_progress, .on_row = stats_row,
                          .measure = true};
    ds_dataset *ds;
    char why[600];
    int rc = ds_open(&ds, &sp, 1, &oo, why, sizeof why);
    progress_done(&sc->prog);
    json_t *out = NULL;
    if (rc) {
        fprintf(stderr, "fcpivot stats: %s\n", why);
        *status = 1;
    } else if (!merge_workers(sc)) {
        fprintf(stderr, "fcpivot stats: %s: out of memory\n", path);
        *status = 1;
    } else {
        ds_split_report r;
        ds_split_report_get(ds, 0, &r);
        wstats *w = &sc->w[0];
        summary s[M_COUNT];
        for (int k = 0; k < M_COUNT; k++)
            s[k] = summarise(w->m[k], w->n);
        size_t ntop = 0, ncalls = 0;
        name_count *all = calloc(w->names.n ? w->names.n : 1, sizeof *all);
        for (size_t i = 0; all && i < w->names.cap; i++)
            if (w->names.slots[i].name) {
                all[ntop++] = w->names.slots[i];
                ncalls += w->names.slots[i].count;
            }
        if (all)
            qsort(all, ntop, sizeof *all, cmp_names);
        size_t show = ntop < 20 ? ntop : 20;
        if (o->json)
            out = stats_json(path, &r, w->unlisted, s, all, show, ncalls);
        else
            print_stats_text(path, &r, w->unlisted, s, all, show, ncalls);
        free(all);
        ds_close(ds);
    }
    stats_free(sc);
    free(sc);
    return out;
}

int cli_stats(int argc, char **argv)
{
    common_opts o;
    int rc = parse_common(argc, argv, &o, usage_stats);
    if (rc != CLI_ARGS_OK)
        return cli_args_exit(rc);
    int status = 0;
    if (o.gym_metrics) {
        if (o.json) {
            fprintf(stderr, "fcpivot stats: --json and --gym-metrics exclude each other\n");
            return 2;
        }
        for (int i = o.first_file; i < argc; i++)
            gym_metrics_one(file_arg(argv[i]), &o, &status);
        return status;
    }
    json_t *files = o.json ? json_array() : NULL;
    for (int i = o.first_file; i < argc; i++) {
        if (!o.json && i > o.first_file)
            printf("\n");
        json_t *f = stats_one(file_arg(argv[i]), &o, &status);
        if (files && f)
            json_array_append_new(files, f);
    }
    if (o.json) {
        json_t *doc = json_pack("{s:o}", "files", files);
        json_dumpf(doc, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(doc);
    }
    return status;
}
