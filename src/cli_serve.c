/* cli_serve — `fcpivot serve`: loads and validates the dataset, builds the
 * protocol environments (ors, gym, metrics) and serves them over HTTP until
 * SIGINT/SIGTERM, then shuts down cleanly and exits 0.
 *
 * SIGHUP reloads the dataset files: they are opened and validated again as
 * at start-up and, if they pass, swapped in (ors_env_swap_dataset: new
 * sessions get the new rows, open ones finish on theirs); if they fail, the
 * old rows stay and the reason is logged. Between signals the main thread
 * checks every FILE_CHECK_INTERVAL seconds whether a served file was
 * truncated or rewritten in place (ds_split_changed) and says once, on
 * stderr, to replace files by rename and send SIGHUP. A split without rows
 * refuses to start (or to reload) unless --allow-empty.
 *
 * Without --data/--split it serves the built-in sample dataset, found next to
 * the executable (<exe dir>/../data/sample.jsonl, the binary being
 * build/fcpivot) or, failing that, in the source tree it was built from
 * (FCPIVOT_DATA_DIR, set by the Makefile). The start-up line on stdout says
 * what was loaded and the address actually bound (port 0 picks one), and is
 * flushed at once so that scripts and tests can read the port.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli.h"
#include "cli_common.h"
#include "ds.h"
#include "gym.h"
#include "metrics.h"
#include "ors.h"
#include "server.h"

#ifndef FCPIVOT_DATA_DIR
#define FCPIVOT_DATA_DIR "data"
#endif

#define MAX_SPLITS 32
/* Seconds between checks for dataset files changed in place. */
#define FILE_CHECK_INTERVAL 1.0
/* malloc tuning for serving (see keep_heap) */
#define SERVE_TRIM_THRESHOLD (64 << 20)
#define SERVE_MMAP_THRESHOLD (4 << 20)

static void usage(FILE *out)
{
    server_options so;
    ors_config oc;
    server_options_default(&so);
    ors_config_default(&oc);
    fprintf(out,
        "usage: fcpivot serve [options]\n\n"
        "Serve the environment over ORS (HTTP+SSE) and the NeMo Gym resources-server API.\n\n"
        "dataset:\n"
        "  --data FILE                 serve FILE as the split 'train'\n"
        "  --split NAME=FILE           serve FILE as split NAME (repeatable)\n"
        "                              (neither: the built-in sample, data/sample.jsonl)\n"
        "  --skip-invalid              drop invalid rows instead of refusing to start\n"
        "  --allow-empty               serve a split without rows (else refuse to start)\n"
        "server:\n"
        "  --host HOST                 address to bind (default 127.0.0.1)\n"
        "  --port N                    port (default 8080; 0 = pick a free one)\n"
        "  --threads N                 HTTP worker threads (default: number of cores)\n"
        "  --env-name NAME             environment name (default nemotron-fc-pivot)\n"
        "  --session-ttl SECONDS       reap sessions idle this long (default 900)\n"
        "  --max-body BYTES            request body limit, K/M/G suffixes (default 16M)\n"
        "  --max-connections N         concurrent connection cap; more get 503 (default %u)\n"
        "  --max-sessions N            live session cap; /create answers 503 (default %u)\n"
        "  --idle-timeout SECONDS      close idle connections (default 120; 0 = never)\n"
        "  --log-format text|json      access log format on stderr (default text)\n"
        "  --quiet                     no access log\n"
        "grading (as for fcpivot grade):\n"
        "%s"
        "  -h, --help                  this help\n"
        "SIGHUP reloads the dataset files (replace them by rename first).\n",
        so.max_connections, (unsigned)oc.max_sessions, CLI_GRADING_HELP);
}

/* ------------------------------------------------------------ option values */

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
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

static int parse_double(const char *s, double *out)
{
    if (!s || !*s)
        return -1;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

/* "16777216", "16M", "512K", "1G", "1MiB" (binary multiples). */
static int parse_size(const char *s, size_t *out)
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

enum {
    OPT_DATA = 256, OPT_SPLIT, OPT_SKIP_INVALID, OPT_HOST, OPT_PORT, OPT_THREADS,
    OPT_ENV_NAME, OPT_SESSION_TTL, OPT_MAX_BODY, OPT_MAX_CONNECTIONS, OPT_IDLE_TIMEOUT,
    OPT_LOG_FORMAT, OPT_QUIET, OPT_WORD_SIM, OPT_FLOAT_TOL, OPT_PARALLEL, OPT_SUBSET,
    OPT_SUPERSET, OPT_REWARD_MODE, OPT_ALLOW_EMPTY, OPT_MAX_SESSIONS,
};

/* ------------------------------------------------------------ options */

typedef struct serve_args {
    ds_split_spec splits[MAX_SPLITS];
    size_t nsplits;
    bool skip_invalid, allow_empty;
    server_options server;
    ors_config ors;
    char sample_path[PATH_MAX];
} serve_args;

static const struct option LONG_OPTS[] = {
    {"data", required_argument, NULL, OPT_DATA},
    {"split", required_argument, NULL, OPT_SPLIT},
    {"skip-invalid", no_argument, NULL, OPT_SKIP_INVALID},
    {"allow-empty", no_argument, NULL, OPT_ALLOW_EMPTY},
    {"max-sessions", required_argument, NULL, OPT_MAX_SESSIONS},
    {"host", required_argument, NULL, OPT_HOST},
    {"port", required_argument, NULL, OPT_PORT},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"env-name", required_argument, NULL, OPT_ENV_NAME},
    {"session-ttl", required_argument, NULL, OPT_SESSION_TTL},
    {"max-body", required_argument, NULL, OPT_MAX_BODY},
    {"max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS},
    {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
    {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"word-similarity-threshold", required_argument, NULL, OPT_WORD_SIM},
    {"float-tolerance", required_argument, NULL, OPT_FLOAT_TOL},
    {"parallel-rewarding", no_argument, NULL, OPT_PARALLEL},
    {"allow-subset", no_argument, NULL, OPT_SUBSET},
    {"allow-superset", no_argument, NULL, OPT_SUPERSET},
    {"reward-mode", required_argument, NULL, OPT_REWARD_MODE},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* The long name of option code opt. */
static const char *option_name(int opt)
{
    for (const struct option *o = LONG_OPTS; o->name; o++)
        if (o->val == opt)
            return o->name;
    return "?";
}

static bool valid_env_name(const char *s)
{
    if (!*s || strlen(s) > 200)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return false;
    return true;
}

static int bad_value(const char *opt, const char *arg, const char *want)
{
    fprintf(stderr, "fcpivot serve: %s wants %s, not '%s'\n", opt, want, arg);
    return -1;
}

static int add_split(serve_args *a, const char *name, const char *path)
{
    if (a->nsplits == MAX_SPLITS) {
        fprintf(stderr, "fcpivot serve: at most %d splits\n", MAX_SPLITS);
        return -1;
    }
    for (size_t i = 0; i < a->nsplits; i++)
        if (!strcmp(a->splits[i].name, name)) {
            fprintf(stderr, "fcpivot serve: split '%s' given twice\n", name);
            return -1;
        }
    a->splits[a->nsplits].name = name;
    a->splits[a->nsplits].path = path;
    a->nsplits++;
    return 0;
}

/* 0 = serve, 1 = --help shown, -1 = usage error (message printed). */
static int parse_args(int argc, char **argv, serve_args *a)
{
    unsigned long u;
    double x;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", LONG_OPTS, NULL)) != -1) {
        if (opt >= OPT_WORD_SIM && opt <= OPT_REWARD_MODE) {
            char name[64], why[256];
            snprintf(name, sizeof name, "--%s", option_name(opt));
            if (cli_grading_flag_apply(name, optarg, &a->ors.grading, why, sizeof why)) {
                fprintf(stderr, "fcpivot serve: %s\n", why);
                return -1;
            }
            continue;
        }
        switch (opt) {
        case 'h':
            return 1;
        case OPT_DATA:
            if (add_split(a, "train", optarg))
                return -1;
            break;
        case OPT_SPLIT: {
            ds_split_spec sp;
            char err[256];
            if (ds_split_spec_parse(optarg, &sp, err, sizeof err) != 0) {
                fprintf(stderr, "fcpivot serve: --split %s: %s\n", optarg, err);
                return -1;
            }
            /* sp.name is a temporary copy: keep the name in optarg, cut at '='. */
            char *eq = strchr(optarg, '=');
            *eq = '\0';
            if (add_split(a, optarg, sp.path))
                return -1;
            break;
        }
        case OPT_SKIP_INVALID: a->skip_invalid = true; break;
        case OPT_ALLOW_EMPTY: a->allow_empty = true; break;
        case OPT_MAX_SESSIONS:
            if (parse_uint(optarg, 100000000, &u) || u == 0)
                return bad_value("--max-sessions", optarg, "a positive number");
            a->ors.max_sessions = (size_t)u;
            break;
        case OPT_HOST:
            if (!*optarg)
                return bad_value("--host", optarg, "an address");
            a->server.host = optarg;
            break;
        case OPT_PORT:
            if (parse_uint(optarg, 65535, &u))
                return bad_value("--port", optarg, "a port number 0-65535");
            a->server.port = (unsigned)u;
            break;
        case OPT_THREADS:
            if (parse_uint(optarg, 1024, &u) || u == 0)
                return bad_value("--threads", optarg, "a number of threads 1-1024");
            a->server.threads = (unsigned)u;
            break;
        case OPT_ENV_NAME:
            if (!valid_env_name(optarg))
                return bad_value("--env-name", optarg, "a name of letters, digits, '-', '_' and '.'");
            a->ors.env_name = optarg;
            break;
        case OPT_SESSION_TTL:
            if (parse_double(optarg, &x) || x <= 0)
                return bad_value("--session-ttl", optarg, "a positive number of seconds");
            a->ors.session_ttl = x;
            break;
        case OPT_MAX_BODY:
            if (parse_size(optarg, &a->server.max_body))
                return bad_value("--max-body", optarg, "a size in bytes (K, M, G suffixes)");
            break;
        case OPT_MAX_CONNECTIONS:
            if (parse_uint(optarg, 1000000, &u) || u == 0)
                return bad_value("--max-connections", optarg, "a positive number");
            a->server.max_connections = (unsigned)u;
            break;
        case OPT_IDLE_TIMEOUT:
            if (parse_uint(optarg, 86400, &u))
                return bad_value("--idle-timeout", optarg, "a number of seconds (0 = never)");
            a->server.idle_timeout = (unsigned)u;
            break;
        case OPT_LOG_FORMAT:
            if (!strcmp(optarg, "json"))
                a->server.log_format = SERVER_LOG_JSON;
            else if (!strcmp(optarg, "text"))
                a->server.log_format = SERVER_LOG_TEXT;
            else
                return bad_value("--log-format", optarg, "text or json");
            break;
        case OPT_QUIET: a->server.quiet = true; break;
        case ':':
            fprintf(stderr, "fcpivot serve: %s needs a value\n", argv[optind - 1]);
            return -1;
        default:
            fprintf(stderr, "fcpivot serve: unknown option '%s'\n", argv[optind - 1]);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "fcpivot serve: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ start-up */

/* The built-in sample: <exe dir>/../data/sample.jsonl, else the source tree's. */
static const char *find_sample(char *buf, size_t bufsz)
{
    char exe[PATH_MAX - 64];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(buf, bufsz, "%s/../data/sample.jsonl", exe);
            struct stat st;
            if (stat(buf, &st) == 0)
                return buf;
        }
    }
    snprintf(buf, bufsz, "%s/sample.jsonl", FCPIVOT_DATA_DIR);
    return buf;
}

typedef struct issue_log {
    size_t shown;
} issue_log;

#define MAX_ISSUES_SHOWN 20

static void on_issue(const ds_issue *is, void *ctx)
{
    issue_log *log = ctx;
    if (is->severity != DS_SEV_ERROR)
        return;
    if (log->shown++ < MAX_ISSUES_SHOWN)
        fprintf(stderr, "%s:%zu: error: %s\n", is->path, is->line, is->message);
    else if (log->shown == MAX_ISSUES_SHOWN + 1)
        fprintf(stderr, "(further errors not shown)\n");
}

/* Lets thousands of connections open: the soft descriptor limit goes up to
 * the hard one. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void print_startup(const serve_args *a, ors_env *ors, ds_dataset *ds, unsigned port)
{
    const char *host = a->server.host;
    bool v6 = strchr(host, ':') != NULL;
    printf("fcpivot serve: %s on http://%s%s%s:%u — splits:", ors_env_name(ors),
           v6 ? "[" : "", host, v6 ? "]" : "", port);
    for (size_t i = 0; i < ds_split_count(ds); i++)
        printf("%s %s=%zu", i ? "," : "", ds_split_name(ds, i), ds_split_size(ds, i));
    printf(" tasks; %zu invalid rows skipped\n", ds_skipped_rows(ds));
    fflush(stdout);
}

/* Opens and validates the dataset files of a as at start-up; a split without
 * rows fails unless --allow-empty. NULL with the reason printed (after
 * prefix). */
static ds_dataset *load_dataset(const serve_args *a, const char *prefix)
{
    char err[512] = "";
    issue_log log = {0};
    ds_open_options dopts = {.validate = true, .skip_invalid = a->skip_invalid,
                             .on_issue = on_issue, .ctx = &log};
    ds_dataset *ds = NULL;
    if (ds_open(&ds, a->splits, a->nsplits, &dopts, err, sizeof err) != 0) {
        fprintf(stderr, "fcpivot serve: %s%s\n", prefix, err);
        if (!a->skip_invalid && log.shown)
            fprintf(stderr, "fcpivot serve: use --skip-invalid to serve the valid rows only\n");
        return NULL;
    }
    for (size_t i = 0; i < ds_split_count(ds) && !a->allow_empty; i++)
        if (ds_split_size(ds, i) == 0) {
            ds_split_report rep;
            ds_split_report_get(ds, i, &rep);
            fprintf(stderr, "fcpivot serve: %ssplit '%s' (%s) has no rows to serve; give it "
                    "rows, or --allow-empty to serve it empty\n", prefix, rep.name, rep.path);
            ds_close(ds);
            return NULL;
        }
    return ds;
}

/* SIGHUP: the files again; swapped in when they pass. *ds is the caller's
 * reference to the dataset served, replaced on success. */
static void reload(const serve_args *a, ors_env *ors, ds_dataset **ds)
{
    const char *prefix = "SIGHUP: reload failed, still serving the previous rows: ";
    ds_dataset *fresh = load_dataset(a, prefix);
    char err[256];
    if (fresh && ors_env_swap_dataset(ors, fresh, err, sizeof err) != 0) {
        fprintf(stderr, "fcpivot serve: %s%s\n", prefix, err);
        ds_close(fresh);
        fresh = NULL;
    }
    if (!fresh)
        return;
    ds_close(*ds);
    *ds = fresh;
    fprintf(stderr, "fcpivot serve: SIGHUP: reloaded — splits:");
    for (size_t i = 0; i < ds_split_count(fresh); i++)
        fprintf(stderr, "%s %s=%zu", i ? "," : "", ds_split_name(fresh, i), ds_split_size(fresh, i));
    fprintf(stderr, " tasks; %zu invalid rows skipped; open sessions finish on the old rows\n",
            ds_skipped_rows(fresh));
}

/* Says once per split (warned[] is reset by the caller on reload) that its
 * file was changed in place, and what to do instead. */
static void warn_changed(const ds_dataset *ds, bool *warned)
{
    for (size_t i = 0; i < ds_split_count(ds); i++) {
        if (warned[i] || !ds_split_changed(ds, i))
            continue;
        warned[i] = true;
        ds_split_report rep;
        ds_split_report_get(ds, i, &rep);
        fprintf(stderr, "fcpivot serve: warning: %s (split '%s') was truncated or rewritten in "
                "place; its rows can no longer be served and requests for them answer errors. "
                "Replace dataset files by rename (write a new file, then mv it over the old "
                "one) and send SIGHUP to reload.\n", rep.path, rep.name);
    }
}

/* Serves until SIGINT/SIGTERM: reloads on SIGHUP, watches the files. */
static int serve_until_stopped(const serve_args *a, ors_env *ors, ds_dataset **ds)
{
    bool warned[MAX_SPLITS] = {false};
    for (;;) {
        int sig = server_wait_signal(FILE_CHECK_INTERVAL);
        if (sig == SIGHUP) {
            ds_dataset *before = *ds;
            reload(a, ors, ds);
            if (*ds != before)
                memset(warned, 0, sizeof warned);
        } else if (sig == 0) {
            warn_changed(*ds, warned);
        } else {
            return sig;
        }
    }
}

/* Request bodies, replies and the values built from them come and go by tens
 * of KB per request on every thread. By default glibc hands the freed top of
 * an arena back to the kernel, and the next request faults the same pages in
 * again (zeroed): a page-fault storm under load. Freed memory up to
 * SERVE_TRIM_THRESHOLD per arena is kept for reuse instead, and blocks below
 * SERVE_MMAP_THRESHOLD always come from the heap rather than from mmap. */
static void keep_heap(void)
{
    mallopt(M_TRIM_THRESHOLD, SERVE_TRIM_THRESHOLD);
    mallopt(M_MMAP_THRESHOLD, SERVE_MMAP_THRESHOLD);
}

int cli_serve(int argc, char **argv)
{
    serve_args a;
    memset(&a, 0, sizeof a);
    server_options_default(&a.server);
    ors_config_default(&a.ors);
    int pr = parse_args(argc, argv, &a);
    if (pr != 0) {
        if (pr > 0) {
            usage(stdout);
            return 0;
        }
        fprintf(stderr, "Run 'fcpivot serve --help' for the options.\n");
        return 2;
    }
    if (a.nsplits == 0)
        add_split(&a, "train", find_sample(a.sample_path, sizeof a.sample_path));
    double reap = a.ors.session_ttl / 4;
    a.server.reap_interval = reap > 5 ? 5 : reap < 0.05 ? 0.05 : reap;

    server_block_signals();
    raise_fd_limit();
    keep_heap();
    char err[512] = "";
    ds_dataset *ds = load_dataset(&a, "");
    if (!ds)
        return 1;
    int rc = 1;
    metrics *m = metrics_new();
    ors_env *ors = m ? ors_env_new(ds, &a.ors, m, err, sizeof err) : NULL;
    gym_env *gym = ors ? gym_env_new(&a.ors.grading, m) : NULL;
    server *srv = gym ? server_start(&a.server, ors, gym, m, err, sizeof err) : NULL;
    if (!srv) {
        fprintf(stderr, "fcpivot serve: %s\n", err[0] ? err : "out of memory");
    } else {
        print_startup(&a, ors, ds, server_port(srv));
        int sig = serve_until_stopped(&a, ors, &ds);
        if (!a.server.quiet)
            fprintf(stderr, "fcpivot serve: %s received, shutting down\n",
                    sig == SIGINT ? "SIGINT" : "SIGTERM");
        server_stop(srv);
        rc = 0;
    }
    gym_env_free(gym);
    ors_env_free(ors);
    metrics_free(m);
    ds_close(ds);
    return rc;
}
