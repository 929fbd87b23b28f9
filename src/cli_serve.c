/* cli_serve — `fcpivot serve`: loads and validates the dataset, builds the
 * protocol environments (ors, gym, metrics) and serves them over HTTP until
 * SIGINT/SIGTERM, then shuts down cleanly and exits 0.
 *
 * SIGHUP reloads the dataset files: they are opened and validated again as
 * at start-up and, if they pass, swapped in (ors_env_swap_dataset: new
 * sessions get the new rows, open ones finish on theirs); if they fail, the
 * old rows stay and the reason is logged. Between signals the main thread
 * checks every FILE_CHECK_INTERVAL seconds whether a served file was
 * truncated or rewritten in place (ds_split_changed) and says once per
 * split, on stderr, which split and file, what changed (size or
 * modification time), and to replace files by rename and send SIGHUP. A split without rows
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
#include "http.h"
#include "metrics.h"
#include "ors.h"
#include "server.h"

#ifndef FCPIVOT_DATA_DIR
#define FCPIVOT_DATA_DIR "data"
#endif

#define MAX_SPLITS 32
/* The ranges of the server options' values. */
#define MAX_THREADS 1024
#define MAX_CONNECTIONS 1000000
#define MAX_IDLE_TIMEOUT 86400         /* seconds */
#define MAX_SESSIONS 100000000
/* Seconds between checks for dataset files changed in place. */
#define FILE_CHECK_INTERVAL 1.0
/* malloc tuning for serving (see keep_heap) */
#define SERVE_TRIM_THRESHOLD (64 << 20)
#define SERVE_MMAP_THRESHOLD (4 << 20)

/* A size as --max-body takes it: "16M" for a whole number of MiB. */
static void size_text(size_t n, char *buf, size_t bufsz)
{
    if (n && n % ((size_t)1 << 20) == 0)
        snprintf(buf, bufsz, "%zuM", n >> 20);
    else if (n && n % ((size_t)1 << 10) == 0)
        snprintf(buf, bufsz, "%zuK", n >> 10);
    else
        snprintf(buf, bufsz, "%zu", n);
}

/* The help; the defaults it shows are the ones server_options_default and
 * ors_config_default set (each is defined once, in the module that owns it). */
static void usage(FILE *out)
{
    server_options so;
    ors_config oc;
    server_options_default(&so);
    ors_config_default(&oc);
    char body[32];
    size_text(so.max_body, body, sizeof body);
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
        "  --host HOST                 address to bind (default %s)\n"
        "  --port N                    port (default %u; 0 = pick a free one)\n"
        "  --threads N                 HTTP worker threads (default: %u per core)\n"
        "  --env-name NAME             environment name (default %s)\n"
        "  --session-ttl SECONDS       reap sessions idle this long (default %g)\n"
        "  --max-body BYTES            request body limit, K/M/G suffixes (default %s)\n"
        "  --max-connections N         concurrent connection cap; more get 503 (default %u)\n"
        "  --max-sessions N            live session cap; /create answers 503 (default %u)\n"
        "  --idle-timeout SECONDS      close idle connections (default %u; 0 = never)\n"
        "  --log-format text|json      access log format on stderr (default text)\n"
        "  --quiet                     no access log\n"
        "grading (as for fcpivot grade):\n"
        "%s"
        "  -h, --help                  this help\n"
        "SIGHUP reloads the dataset files (replace them by rename first).\n",
        so.host, so.port, HTTP_THREADS_PER_CORE, oc.env_name, oc.session_ttl, body,
        so.max_connections, (unsigned)oc.max_sessions, so.idle_timeout, CLI_GRADING_HELP);
}

enum {
    OPT_DATA = 256, OPT_SPLIT, OPT_SKIP_INVALID, OPT_HOST, OPT_PORT, OPT_THREADS,
    OPT_ENV_NAME, OPT_SESSION_TTL, OPT_MAX_BODY, OPT_MAX_CONNECTIONS, OPT_IDLE_TIMEOUT,
    OPT_LOG_FORMAT, OPT_QUIET, OPT_ALLOW_EMPTY, OPT_MAX_SESSIONS,
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
    {"help", no_argument, NULL, 'h'},
    CLI_GRADING_OPTIONS,
    {NULL, 0, NULL, 0},
};

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
    return CLI_ARGS_USAGE;
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

/* --split NAME=FILE. */
static int add_split_spec(serve_args *a, char *arg)
{
    ds_split_spec sp;
    char err[256];
    if (cli_split_spec_parse(arg, &sp, err, sizeof err) != 0) {
        fprintf(stderr, "fcpivot serve: --split %s: %s\n", arg, err);
        return CLI_ARGS_USAGE;
    }
    return add_split(a, sp.name, sp.path) ? CLI_ARGS_USAGE : CLI_ARGS_OK;
}

/* The options of the HTTP server (server_options). */
static int apply_server_option(serve_args *a, int opt, const char *arg)
{
    unsigned long u;
    switch (opt) {
    case OPT_HOST:
        if (!*arg)
            return bad_value("--host", arg, "an address");
        a->server.host = arg;
        break;
    case OPT_PORT:
        if (cli_parse_uint(arg, 65535, &u))
            return bad_value("--port", arg, "a port number 0-65535");
        a->server.port = (unsigned)u;
        break;
    case OPT_THREADS:
        if (cli_parse_uint(arg, MAX_THREADS, &u) || u == 0) {
            char want[64];
            snprintf(want, sizeof want, "a number of threads 1-%d", MAX_THREADS);
            return bad_value("--threads", arg, want);
        }
        a->server.threads = (unsigned)u;
        break;
    case OPT_MAX_BODY:
        if (cli_parse_size(arg, &a->server.max_body))
            return bad_value("--max-body", arg, "a size in bytes (K, M, G suffixes)");
        break;
    case OPT_MAX_CONNECTIONS:
        if (cli_parse_uint(arg, MAX_CONNECTIONS, &u) || u == 0)
            return bad_value("--max-connections", arg, "a positive number");
        a->server.max_connections = (unsigned)u;
        break;
    case OPT_IDLE_TIMEOUT:
        if (cli_parse_uint(arg, MAX_IDLE_TIMEOUT, &u))
            return bad_value("--idle-timeout", arg, "a number of seconds (0 = never)");
        a->server.idle_timeout = (unsigned)u;
        break;
    case OPT_LOG_FORMAT:
        if (!strcmp(arg, "json"))
            a->server.log_format = SERVER_LOG_JSON;
        else if (!strcmp(arg, "text"))
            a->server.log_format = SERVER_LOG_TEXT;
        else
            return bad_value("--log-format", arg, "text or json");
        break;
    case OPT_QUIET: a->server.quiet = true; break;
    }
    return CLI_ARGS_OK;
}

/* Option opt of LONG_OPTS with its value arg (optarg). */
static int apply_option(serve_args *a, int opt, char *arg)
{
    char why[256];
    double x;
    unsigned long u;
    if (CLI_IS_GRADING_OPTION(opt)) {
        if (cli_grading_option_apply(opt, arg, &a->ors.grading, why, sizeof why)) {
            fprintf(stderr, "fcpivot serve: %s\n", why);
            return CLI_ARGS_USAGE;
        }
        return CLI_ARGS_OK;
    }
    switch (opt) {
    case 'h': return CLI_ARGS_HELP;
    case OPT_DATA: return add_split(a, "train", arg) ? CLI_ARGS_USAGE : CLI_ARGS_OK;
    case OPT_SPLIT: return add_split_spec(a, arg);
    case OPT_SKIP_INVALID: a->skip_invalid = true; return CLI_ARGS_OK;
    case OPT_ALLOW_EMPTY: a->allow_empty = true; return CLI_ARGS_OK;
    case OPT_MAX_SESSIONS:
        if (cli_parse_uint(arg, MAX_SESSIONS, &u) || u == 0)
            return bad_value("--max-sessions", arg, "a positive number");
        a->ors.max_sessions = (size_t)u;
        return CLI_ARGS_OK;
    case OPT_ENV_NAME:
        if (!valid_env_name(arg))
            return bad_value("--env-name", arg, "a name of letters, digits, '-', '_' and '.'");
        a->ors.env_name = arg;
        return CLI_ARGS_OK;
    case OPT_SESSION_TTL:
        if (!cli_parse_double(arg, &x) || !isfinite(x) || x <= 0)
            return bad_value("--session-ttl", arg, "a positive number of seconds");
        a->ors.session_ttl = x;
        return CLI_ARGS_OK;
    default:
        return apply_server_option(a, opt, arg);
    }
}

/* CLI_ARGS_OK = serve, CLI_ARGS_HELP = --help asked for (not yet shown),
 * CLI_ARGS_USAGE = usage error (message printed). */
static int parse_args(int argc, char **argv, serve_args *a)
{
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", LONG_OPTS, NULL)) != -1) {
        if (opt == '?' || opt == ':') {
            char why[256];
            cli_getopt_why(opt, argv, why, sizeof why);
            fprintf(stderr, "fcpivot serve: %s\n", why);
            return CLI_ARGS_USAGE;
        }
        int rc = apply_option(a, opt, optarg);
        if (rc != CLI_ARGS_OK)
            return rc;
    }
    if (optind < argc) {
        fprintf(stderr, "fcpivot serve: unexpected argument '%s'\n", argv[optind]);
        return CLI_ARGS_USAGE;
    }
    return CLI_ARGS_OK;
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
        char what[160];
        if (warned[i] || !ds_split_changed(ds, i, what, sizeof what))
            continue;
        warned[i] = true;
        ds_split_report rep;
        ds_split_report_get(ds, i, &rep);
        fprintf(stderr, "fcpivot serve: warning: split '%s': %s changed in place since it was "
                "loaded: %s; its rows can no longer be served and requests for them answer "
                "500. Replace dataset files by rename (write a new file, then mv it over the "
                "old one) and send SIGHUP to reload.\n", rep.name, rep.path, what);
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
    if (pr == CLI_ARGS_HELP)
        usage(stdout);
    else if (pr != CLI_ARGS_OK)
        fprintf(stderr, "Run 'fcpivot serve --help' for the options.\n");
    if (pr != CLI_ARGS_OK)
        return cli_args_exit(pr);
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
