/* Tests of `fcpivot eval` against the loopback fake model server (fakeoai):
 * the happy path with every scripted model behaviour, the failure table
 * (retries, Retry-After, attempt limits, timeouts, dropped connections,
 * non-JSON replies, permanent and context-length 400s, 401, a misconfigured
 * server), the files, the bound on requests in flight, resume after SIGKILL
 * and after SIGINT, the resume identity check, and that the API key is
 * never written anywhere. Each run of the binary is bounded (RUN_LIMIT_S). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "agg.h"
#include "fakeoai.h"
#include "testutil.h"

#define RUN_LIMIT_BASE_S 120.0
/* Under valgrind (FCPIVOT_VALGRIND) everything runs several times slower. */
static double slow(void)
{
    return getenv("FCPIVOT_VALGRIND") ? 5.0 : 1.0;
}
#define RUN_LIMIT_S (RUN_LIMIT_BASE_S * slow())
#define SECRET "sk-test-5ecret-KEY-0123456789"

/* ---- helpers ------------------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static char *make_dir(void)
{
    char tmpl[] = "/tmp/fcpivot-eval-XXXXXX";
    char *d = mkdtemp(tmpl);
    cr_assert(d);
    return strdup(d);
}

static char *path_in(const char *dir, const char *name)
{
    char *p = NULL;
    cr_assert(asprintf(&p, "%s/%s", dir, name) > 0);
    return p;
}

/* Writes rows for the cases given (case k for row i = cases[i % ncases]). */
static char *write_rows(const char *dir, const int *cases, size_t ncases, size_t nrows)
{
    char *p = path_in(dir, "data.jsonl");
    FILE *f = fopen(p, "w");
    cr_assert(f);
    for (size_t i = 0; i < nrows; i++) {
        char *row = fo_row(cases[i % ncases], (long)i);
        fprintf(f, "%s\n", row);
        free(row);
    }
    fclose(f);
    return p;
}

typedef struct child {
    pid_t pid;
    char *out_path, *err_path;
} child;

/* Starts FCPIVOT_BIN eval with args (NULL-terminated), stdout and stderr
 * going to files in dir. */
static child start_eval_limited(const char *dir, const char *const *args, long fsize);

static child start_eval(const char *dir, const char *const *args)
{
    return start_eval_limited(dir, args, 0);
}

/* With fsize > 0, files the child writes are limited to fsize bytes (a
 * full disk, as far as write() can tell). */
static child start_eval_limited(const char *dir, const char *const *args, long fsize)
{
    child c = {0, path_in(dir, "stdout.txt"), path_in(dir, "stderr.txt")};
    const char *argv[64];
    size_t n = 0;
    argv[n++] = tu_bin();
    argv[n++] = "eval";
    for (size_t i = 0; args[i] && n < 63; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    c.pid = fork();
    cr_assert(c.pid >= 0);
    if (c.pid == 0) {
        int o = open(c.out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(c.err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(o, 1);
        dup2(e, 2);
        if (fsize > 0) {
            struct rlimit rl = {(rlim_t)fsize, (rlim_t)fsize};
            signal(SIGXFSZ, SIG_IGN);
            setrlimit(RLIMIT_FSIZE, &rl);
        }
        unsetenv("OPENAI_API_KEY");
        unsetenv("FCPIVOT_API_KEY");
        unsetenv("OPENAI_BASE_URL");
        unsetenv("FCPIVOT_MODEL_URL");
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return c;
}

/* Waits (bounded) and returns the exit status, 128+signal for a signal. */
static int wait_child(child *c)
{
    int st = 0;
    double until = now_s() + RUN_LIMIT_S;
    while (waitpid(c->pid, &st, WNOHANG) == 0) {
        if (now_s() > until) {
            kill(c->pid, SIGKILL);
            waitpid(c->pid, &st, 0);
            cr_assert_fail("fcpivot eval did not finish in time");
        }
        nap_ms(10);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void child_free(child *c)
{
    free(c->out_path);
    free(c->err_path);
}

typedef struct result {
    int status;
    char *out, *err;
} result;

static result run_eval(const char *dir, const char *const *args)
{
    child c = start_eval(dir, args);
    result r;
    r.status = wait_child(&c);
    r.out = tu_read_file(c.out_path, NULL);
    r.err = tu_read_file(c.err_path, NULL);
    child_free(&c);
    return r;
}

static void result_free(result *r)
{
    free(r->out);
    free(r->err);
}

static char *url_of(fo_server *s)
{
    char *u = NULL;
    cr_assert(asprintf(&u, "http://127.0.0.1:%u/v1", fo_port(s)) > 0);
    return u;
}

/* The lines of a JSONL file parsed (a JSON array, new reference). */
static json_t *read_jsonl(const char *path)
{
    json_t *arr = json_array();
    FILE *f = fopen(path, "r");
    if (!f)
        return arr;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        cr_assert_eq(line[n - 1], '\n', "%s: a line without its newline", path);
        json_error_t e;
        json_t *v = json_loadb(line, (size_t)n, 0, &e);
        cr_assert(v, "%s: a line that is not JSON: %s", path, e.text);
        json_array_append_new(arr, v);
    }
    free(line);
    fclose(f);
    return arr;
}

static size_t count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = 0;
    int ch;
    while ((ch = fgetc(f)) != EOF)
        n += ch == '\n';
    fclose(f);
    return n;
}

static long long jint(const json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* Every planned (task, repeat) appears exactly once across rollouts and
 * failures; returns the number of rollouts. */
static size_t check_once(const json_t *rollouts, const json_t *failures, size_t rows, size_t k)
{
    unsigned char *seen = calloc(rows * k, 1);
    size_t i;
    json_t *v;
    json_array_foreach(rollouts, i, v) {
        long long t = jint(v, "_ng_task_index"), r = jint(v, "_ng_rollout_index");
        cr_assert(t >= 0 && (size_t)t < rows && r >= 0 && (size_t)r < k);
        cr_assert_eq(seen[t * (long long)k + r]++, 0, "rollout (%lld, %lld) twice", t, r);
        cr_assert(json_is_number(json_object_get(v, "reward")));
    }
    json_array_foreach(failures, i, v) {
        long long t = jint(v, "_ng_task_index"), r = jint(v, "_ng_rollout_index");
        cr_assert(t >= 0 && (size_t)t < rows && r >= 0 && (size_t)r < k);
        cr_assert_eq(seen[t * (long long)k + r]++, 0, "failure (%lld, %lld) also elsewhere", t, r);
        cr_assert_null(json_object_get(v, "reward"), "a failure carries no reward");
        cr_assert_str_eq(jstr(v, "_ng_failure_class"), "agent_request_failed");
    }
    for (size_t p = 0; p < rows * k; p++)
        cr_assert_eq(seen[p], 1, "planned rollout %zu is missing", p);
    free(seen);
    return json_array_size(rollouts);
}

/* The line of the rollout of task t (repeat 0), or NULL. */
static json_t *line_of(const json_t *arr, long long t)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
        if (jint(v, "_ng_task_index") == t && jint(v, "_ng_rollout_index") == 0)
            return v;
    return NULL;
}

/* `fcpivot grade` on the rollouts file gives every line's own verdict. */
static void check_regrade(const char *rollouts_path)
{
    char *argv[] = {(char *)tu_bin(), "grade", "--verdict-only", (char *)rollouts_path, NULL};
    char *out = NULL, *err = NULL;
    int st = tu_run(argv, NULL, 0, &out, NULL, &err);
    cr_assert_eq(st, 0, "fcpivot grade: %s", err);
    json_t *lines = read_jsonl(rollouts_path);
    size_t i = 0;
    for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n"), i++) {
        json_t *g = json_loads(l, 0, NULL), *w = json_array_get(lines, i);
        cr_assert(g && w);
        cr_assert(json_equal(json_object_get(g, "reward"), json_object_get(w, "reward")),
                  "line %zu: reward differs from fcpivot grade", i + 1);
        cr_assert_str_eq(jstr(g, "category"), jstr(w, "category"), "line %zu", i + 1);
        json_decref(g);
    }
    cr_assert_eq(i, json_array_size(lines));
    json_decref(lines);
    free(out);
    free(err);
}

static bool file_has(const char *path, const char *needle)
{
    size_t len = 0;
    char *d = tu_read_file(path, &len);
    bool found = d && memmem(d, len, needle, strlen(needle));
    free(d);
    return found;
}

/* No file of dir contains needle. */
static void check_no_file_has(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    cr_assert(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *p = path_in(dir, e->d_name);
        cr_assert(!file_has(p, needle), "%s contains the secret", p);
        free(p);
    }
    closedir(d);
}

/* The JSON file name in dir, parsed (new reference; NULL if absent). */
static json_t *load_json(const char *dir, const char *name)
{
    char *p = path_in(dir, name);
    json_t *v = json_load_file(p, 0, NULL);
    free(p);
    return v;
}

/* check_once with no failures expected. */
static void check_once_no_failures(const json_t *rollouts, size_t rows, size_t k)
{
    json_t *none = json_array();
    check_once(rollouts, none, rows, k);
    json_decref(none);
}

static void rm_dir(char *dir);

/* What most tests start with: a directory, a dataset of generated rows
 * (case cases[i % ncases] for row i), the rollouts path and a fake server. */
typedef struct fixture {
    char *dir, *data, *out, *url;
    fo_server *s;
} fixture;

static fixture fx_start(const int *cases, size_t ncases, size_t nrows, const fo_options *fo)
{
    fixture f;
    f.dir = make_dir();
    f.data = write_rows(f.dir, cases, ncases, nrows);
    f.out = path_in(f.dir, "m.jsonl");
    f.s = fo_start(fo);
    cr_assert(f.s, "the fake server starts");
    f.url = url_of(f.s);
    return f;
}

static void fx_stop(fixture *f)
{
    fo_stop(f->s);
    free(f->url);
    free(f->out);
    free(f->data);
    rm_dir(f->dir);
}

static void rm_dir(char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (e->d_name[0] != '.') {
                char *p = path_in(dir, e->d_name);
                unlink(p);
                free(p);
            }
        closedir(d);
    }
    rmdir(dir);
    free(dir);
}

/* ---- the happy path: every scripted behaviour ------------------------------------------------ */

static const int BEHAVIOURS[] = {FO_CORRECT, FO_WRONG_NAME, FO_PERTURBED, FO_MESSAGE,
                                 FO_REASONING, FO_THINK, FO_SEVERAL, FO_NO_ID, FO_BAD_JSON,
                                 FO_EMPTY, FO_LENGTH, FO_REASONING_FIELD};
#define NBEHAV (sizeof BEHAVIOURS / sizeof BEHAVIOURS[0])

Test(eval, every_model_behaviour_graded_like_fcpivot_grade)
{
    fixture fx = fx_start(BEHAVIOURS, NBEHAV, NBEHAV * 2, NULL);
    char *dir = fx.dir, *data = fx.data, *out = fx.out, *url = fx.url;
    fo_server *s = fx.s;
    cr_assert(s);
    const char *args[] = {"--data", data, "-o", out, "--model-url", url, "-c", "4",
                          "--num-repeats", "2", "--quiet", NULL};
    result r = run_eval(dir, args);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    char *fpath = path_in(dir, "m_failures.jsonl");
    json_t *roll = read_jsonl(out), *fails = read_jsonl(fpath);
    cr_assert_eq(check_once(roll, fails, NBEHAV * 2, 2), NBEHAV * 4);
    /* Sorted by (task, repeat) at a complete end. */
    for (size_t i = 0; i < json_array_size(roll); i++) {
        json_t *v = json_array_get(roll, i);
        cr_assert_eq(jint(v, "_ng_task_index"), (long long)(i / 2));
        cr_assert_eq(jint(v, "_ng_rollout_index"), (long long)(i % 2));
    }
    /* Key order of a line: the NeMo Gym members, then fcpivot last. */
    char *text = tu_read_file(out, NULL);
    cr_assert(!strncmp(text, "{\"responses_create_params\":", 27));
    const char *order[] = {"\"response\":", "\"reward\":", "\"expected_action\":", "\"category\":",
                           "\"_ng_task_index\":", "\"_ng_rollout_index\":", "\"agent_ref\":",
                           "\"fcpivot\":"};
    const char *at = text;
    for (size_t i = 0; i < 8; i++) {
        const char *p = strstr(at, order[i]);
        cr_assert(p && p < strchr(text, '\n'), "%s out of order", order[i]);
        at = p;
    }
    free(text);
    struct { int k; double reward; const char *cat, *actual; } want[] = {
        {FO_CORRECT, 1, "A tool call that matches the expected tool call was found", "function_call"},
        {FO_WRONG_NAME, 0, "The tool in a tool call is not the expected tool", "function_call"},
        {FO_PERTURBED, 0, "An argument value in a tool call is different than the expected value", "function_call"},
        {FO_MESSAGE, 0, "No tool call was found when one was expected", "message"},
        {FO_REASONING, 1, "A tool call that matches the expected tool call was found", "function_call"},
        {FO_THINK, 1, "A tool call that matches the expected tool call was found", "function_call"},
        /* Parallel rewarding is off by default: one matching call suffices. */
        {FO_SEVERAL, 1, "A tool call that matches the expected tool call was found", "function_call_batch"},
        {FO_NO_ID, 1, "A tool call that matches the expected tool call was found", "function_call"},
        {FO_BAD_JSON, 0, "An error occurred when decoding the arguments string in a tool call as a JSON object", "function_call"},
        {FO_LENGTH, 0, "No tool call was found when one was expected", "message"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        long long task = -1;
        for (size_t t = 0; t < NBEHAV; t++)
            if (BEHAVIOURS[t] == want[i].k)
                task = (long long)t;
        json_t *v = line_of(roll, task);
        cr_assert(v, "case %d has a rollout", want[i].k);
        cr_assert_float_eq(json_number_value(json_object_get(v, "reward")), want[i].reward, 1e-9,
                           "case %d", want[i].k);
        if (want[i].cat)
            cr_assert_str_eq(jstr(v, "category"), want[i].cat, "case %d", want[i].k);
        json_t *fc = json_object_get(v, "fcpivot");
        cr_assert_str_eq(jstr(fc, "actual_type"), want[i].actual, "case %d", want[i].k);
        cr_assert_str_eq(jstr(fc, "expected_type"), "function_call");
        cr_assert_eq(jint(fc, "attempts"), 1);
        char tid[32];
        snprintf(tid, sizeof tid, "t%lld", task);
        cr_assert_str_eq(jstr(fc, "trajectory_id"), tid, "the row's trajectory_id");
    }
    json_t *noid = json_object_get(line_of(roll, FO_NO_ID), "fcpivot");
    cr_assert_gt(json_array_size(json_object_get(noid, "anomalies")), 0, "a synthesised call id is an anomaly");
    json_t *len = line_of(roll, FO_LENGTH);
    cr_assert_str_eq(jstr(json_object_get(len, "fcpivot"), "finish_reason"), "length");
    cr_assert_str_eq(jstr(json_object_get(len, "response"), "status"), "incomplete");
    json_t *rs = json_object_get(line_of(roll, FO_REASONING), "response");
    cr_assert_str_eq(jstr(json_array_get(json_object_get(rs, "output"), 0), "type"), "reasoning");
    check_regrade(out);
    /* The other files. */
    char *inputs = path_in(dir, "m_materialized_inputs.jsonl");
    cr_assert_eq(count_lines(inputs), NBEHAV * 4);
    json_t *in = read_jsonl(inputs);
    cr_assert_eq(jint(json_array_get(in, 3), "_ng_task_index"), 1);
    cr_assert_eq(jint(json_array_get(in, 3), "_ng_rollout_index"), 1);
    cr_assert(json_object_get(json_array_get(in, 0), "agent_ref"));
    json_decref(in);
    char *mpath = path_in(dir, "m_run.json");
    json_error_t e;
    json_t *man = json_load_file(mpath, 0, &e);
    cr_assert(man, "%s", e.text);
    cr_assert_str_eq(jstr(man, "status"), "complete");
    cr_assert_eq(jint(man, "planned"), (long long)(NBEHAV * 4));
    cr_assert_str_eq(jstr(man, "model"), "fake-model");
    cr_assert_eq(strlen(jstr(json_object_get(man, "dataset"), "sha256")), 64);
    char *spath = path_in(dir, "m_summary.json");
    json_t *sum = json_load_file(spath, 0, &e);
    cr_assert(sum, "%s", e.text);
    cr_assert(json_is_true(json_object_get(sum, "complete")));
    cr_assert_eq(jint(json_object_get(sum, "counts"), "graded"), (long long)(NBEHAV * 4));
    cr_assert_leq(fo_max_in_flight(s), 4);
    /* NeMo Gym's aggregate: mean/reward over the graded rollouts. */
    json_t *ag = load_json(dir, "m_aggregate_metrics.json");
    cr_assert(ag, "the aggregate metrics are written");
    double mean = 0;
    for (size_t i = 0; i < json_array_size(roll); i++)
        mean += json_number_value(json_object_get(json_array_get(roll, i), "reward"));
    mean /= (double)json_array_size(roll);
    json_t *am = json_object_get(ag, "agent_metrics");
    cr_assert_float_eq(json_number_value(json_object_get(am, "mean/reward")), mean, 1e-12);
    cr_assert_eq(json_array_size(json_object_get(ag, "group_level_metrics")), NBEHAV * 2);
    json_decref(ag);
    /* ... and byte for byte what agg makes of the whole lines. */
    agg *ref = agg_new();
    size_t tlen = 0;
    char *all = tu_read_file(out, &tlen), *line = all;
    char why[256];
    for (char *nl; (nl = memchr(line, '\n', tlen - (size_t)(line - all))); line = nl + 1)
        cr_assert_eq(agg_add(ref, line, (size_t)(nl - line), why, sizeof why), 0, "%s", why);
    util_buf whole = UTIL_BUF_INIT;
    cr_assert_eq(agg_finish(ref, &whole, why, sizeof why), 0);
    util_buf_putc(&whole, '\n');
    char *apath = path_in(dir, "m_aggregate_metrics.json");
    char *got = tu_read_file(apath, NULL);
    cr_assert_str_eq(got, whole.data);
    free(got);
    free(apath);
    free(all);
    util_buf_free(&whole);
    agg_free(ref);
    json_decref(sum);
    json_decref(man);
    json_decref(roll);
    json_decref(fails);
    result_free(&r);
    free(spath); free(mpath); free(inputs); free(fpath);
    fx_stop(&fx);
}

/* ---- the failure table --------------------------------------------------------------------------- */

static const int FAULTS[] = {FO_429, FO_500, FO_503, FO_STALL, FO_DROP, FO_NON_JSON, FO_400,
                             FO_CONTEXT, FO_ALWAYS_500, FO_CORRECT};
#define NFAULTS (sizeof FAULTS / sizeof FAULTS[0])

static json_t *failure_of(const json_t *fails, long long t)
{
    return line_of(fails, t);
}

Test(eval, faults_are_retried_or_recorded_never_graded_as_zero)
{
    fo_options fo = {.stall_s = 6 * slow()};
    fixture fx = fx_start(FAULTS, NFAULTS, NFAULTS, &fo);
    char *dir = fx.dir, *data = fx.data, *out = fx.out, *url = fx.url;
    fo_server *s = fx.s;
    cr_assert(s);
    char timeout[16];
    snprintf(timeout, sizeof timeout, "%g", 2 * slow());
    const char *args[] = {"--data", data, "-o", out, "--model-url", url, "-c", "4",
                          "--request-timeout", timeout, "--max-attempts", "3",
                          "--max-failures", "100%", "--quiet", NULL};
    result r = run_eval(dir, args);
    cr_assert_eq(r.status, 1, "some failed: exit 1, got %d: %s", r.status, r.err);
    char *fpath = path_in(dir, "m_failures.jsonl");
    json_t *roll = read_jsonl(out), *fails = read_jsonl(fpath);
    check_once(roll, fails, NFAULTS, 1);
    cr_assert_eq(json_array_size(fails), 2, "the permanent 400 and the endless 500");
    json_t *f400 = json_object_get(failure_of(fails, 6), "fcpivot");
    cr_assert_str_eq(jstr(f400, "error"), "http_4xx");
    cr_assert_eq(jint(f400, "http_status"), 400);
    cr_assert_eq(jint(f400, "attempts"), 1, "a 400 is not retried");
    cr_assert(strstr(jstr(f400, "body_prefix"), "frobnicate"));
    json_t *f500 = json_object_get(failure_of(fails, 8), "fcpivot");
    cr_assert_str_eq(jstr(f500, "error"), "http_5xx");
    cr_assert_eq(jint(f500, "attempts"), 3);
    cr_assert_eq(fo_attempts(s, 8), 3, "--max-attempts bounds the attempts");
    cr_assert_eq(fo_attempts(s, 6), 1);
    /* Transient faults end graded, after the retries they needed. */
    for (long long t = 0; t <= 5; t++) {
        json_t *v = line_of(roll, t);
        cr_assert(v, "fault case %d was graded after retrying", FAULTS[t]);
        cr_assert_float_eq(json_number_value(json_object_get(v, "reward")), 1.0, 1e-9);
        /* libcurl itself resends once on a reused connection that dies
         * unanswered, so a dropped connection may cost no attempt of ours. */
        long long want_attempts = jint(json_object_get(v, "fcpivot"), "attempts");
        cr_assert(want_attempts == 2 || (FAULTS[t] == FO_DROP && want_attempts == 1),
                  "case %d: %lld attempts", FAULTS[t], want_attempts);
        cr_assert_geq(fo_attempts(s, t), 2, "case %d reached the server twice", FAULTS[t]);
    }
    /* Retry-After: 1 is obeyed. */
    cr_assert_geq(fo_attempt_time(s, 0, 1) - fo_attempt_time(s, 0, 0), 0.95);
    /* A context overflow is graded as an empty completion (Gym's way). */
    json_t *ctx = line_of(roll, 7);
    cr_assert(ctx);
    cr_assert_str_eq(jstr(json_object_get(ctx, "fcpivot"), "finish_reason"), "context_overflow");
    check_regrade(out);
    char *mpath = path_in(dir, "m_run.json");
    json_t *man = json_load_file(mpath, 0, NULL);
    cr_assert_str_eq(jstr(man, "status"), "complete");
    json_decref(man);
    json_decref(roll);
    json_decref(fails);
    result_free(&r);
    free(mpath); free(fpath);
    fx_stop(&fx);
}

Test(eval, context_overflow_as_failure_and_resume_keeps_deterministic_failures)
{
    static const int C[] = {FO_CONTEXT, FO_CORRECT, FO_ALWAYS_500};
    fixture fx = fx_start(C, 3, 3, NULL);
    char *dir = fx.dir, *data = fx.data, *out = fx.out, *url = fx.url;
    fo_server *s = fx.s;
    const char *args[] = {"--data", data, "-o", out, "--model-url", url, "--on-context-overflow",
                          "fail", "--max-attempts", "2", "--max-failures", "100%", "--quiet", NULL};
    result r = run_eval(dir, args);
    cr_assert_eq(r.status, 1, "%s", r.err);
    char *fpath = path_in(dir, "m_failures.jsonl");
    json_t *fails = read_jsonl(fpath);
    cr_assert_str_eq(jstr(json_object_get(failure_of(fails, 0), "fcpivot"), "error"), "context_overflow");
    json_decref(fails);
    result_free(&r);
    /* --resume with more attempts retries the 500 (2 < 3 tried) but not the overflow. */
    size_t before_ctx = fo_attempts(s, 0), before_500 = fo_attempts(s, 2);
    const char *args2[] = {"--data", data, "-o", out, "--model-url", url, "--on-context-overflow",
                           "fail", "--max-attempts", "3", "--max-failures", "100%", "--quiet",
                           "--resume", NULL};
    r = run_eval(dir, args2);
    cr_assert_eq(r.status, 1, "%s", r.err);
    cr_assert_eq(fo_attempts(s, 0), before_ctx, "a deterministic failure is not sent again");
    cr_assert_eq(fo_attempts(s, 2), before_500 + 1, "one more attempt, up to 3 across runs");
    cr_assert_eq(fo_attempts(s, 1), 1, "a graded rollout is never sent again");
    fails = read_jsonl(fpath);
    json_t *roll = read_jsonl(out);
    check_once(roll, fails, 3, 1);
    cr_assert_eq(jint(json_object_get(failure_of(fails, 2), "fcpivot"), "attempts"), 3);
    json_decref(fails);
    json_decref(roll);
    result_free(&r);
    free(fpath);
    fx_stop(&fx);
}

/* ---- endpoint-level errors --------------------------------------------------------------------- */

Test(eval, rejected_key_exits_3_and_the_key_is_nowhere)
{
    static const int C[] = {FO_CORRECT};
    fo_options fo = {.mode = FO_MODE_AUTH};
    fixture fx = fx_start(C, 1, 3, &fo);
    char *dir = fx.dir, *data = fx.data, *out = fx.out, *url = fx.url;
    const char *args[] = {"--data", data, "-o", out, "--model-url", url, "--api-key", SECRET, NULL};
    result r = run_eval(dir, args);
    cr_assert_eq(r.status, 3, "%s", r.err);
    cr_assert(strstr(r.err, "Incorrect API key"), "the server's own message: %s", r.err);
    cr_assert(!strstr(r.err, SECRET), "the key is redacted in messages");
    check_no_file_has(dir, SECRET);
    result_free(&r);
    fx_stop(&fx);
}

Test(eval, key_never_reaches_files_or_logs)
{
    static const int C[] = {FO_CORRECT, FO_400};
    fixture fx = fx_start(C, 2, 4, NULL);
    char *dir = fx.dir, *data = fx.data, *out = fx.out, *url = fx.url;
    char *rlog = path_in(dir, "requests.jsonl");
    const char *args[] = {"--data", data, "-o", out, "--model-url", url, "--api-key", SECRET,
                          "--header", "X-Api-Key: " SECRET, "--request-log", rlog,
                          "--max-failures", "100%", NULL};
    result r = run_eval(dir, args);
    cr_assert_eq(r.status, 1, "%s", r.err);
    cr_assert(!strstr(r.err, SECRET) && !strstr(r.out, SECRET));
    check_no_file_has(dir, SECRET);
    cr_assert_eq(count_lines(rlog), 4, "one request-log line per attempt");
    json_t *man = load_json(dir, "m_run.json");
    char *argv_text = json_dumps(json_object_get(man, "argv"), 0);
    cr_assert(strstr(argv_text, "***"), "%s", argv_text);
    free(argv_text);
    json_decref(man);
    result_free(&r);
    free(rlog);
    fx_stop(&fx);
}

Test(eval, misconfigured_server_stops_after_20_identical_4xx)
{
    static const int C[] = {FO_CORRECT};
    fo_options fo = {.mode = FO_MODE_ALL_400};
    fixture fx = fx_start(C, 1, 40, &fo);
    char *dir = fx.dir, *data = fx.data, *out = fx.out, *url = fx.url;
    fo_server *s = fx.s;
    const char *args[] = {"--data", data, "-o", out, "--model-url", url, "-c", "1",
                          "--max-failures", "100%", "--quiet", NULL};
    result r = run_eval(dir, args);
    cr_assert_eq(r.status, 3, "%s", r.err);
    cr_assert(strstr(r.err, "--enable-auto-tool-choice") && strstr(r.err, "--jinja"), "%s", r.err);
    cr_assert_lt(fo_requests(s), 40, "the run stopped sending");
    result_free(&r);
    fx_stop(&fx);
}

Test(eval, model_choice_from_the_model_list)
{
    char *dir = make_dir();
    static const int C[] = {FO_CORRECT};
    char *data = write_rows(dir, C, 1, 2);
    char *out = path_in(dir, "m.jsonl");
    fo_options fo = {.models_json = "{\"object\":\"list\",\"data\":[{\"id\":\"alpha\"},{\"id\":\"beta\"}]}"};
    fo_server *s = fo_start(&fo);
    char *url = url_of(s);
    const char *a1[] = {"--data", data, "-o", out, "--model-url", url, NULL};
    result r = run_eval(dir, a1);
    cr_assert_eq(r.status, 2, "several models and no --model: usage");
    cr_assert(strstr(r.err, "alpha") && strstr(r.err, "beta"), "%s", r.err);
    result_free(&r);
    const char *a2[] = {"--data", data, "-o", out, "--model-url", url, "--model", "gamma", NULL};
    r = run_eval(dir, a2);
    cr_assert_eq(r.status, 3, "a model the server does not list");
    result_free(&r);
    const char *a3[] = {"--data", data, "-o", out, "--model-url", url, "--model", "beta", "--quiet", NULL};
    r = run_eval(dir, a3);
    cr_assert_eq(r.status, 0, "%s", r.err);
    char *body = fo_last_body(s);
    cr_assert(strstr(body, "\"model\":\"beta\""), "%s", body);
    free(body);
    result_free(&r);
    fo_stop(s);
    /* Nobody listening: exit 3. */
    const char *a4[] = {"--data", data, "-o", out, "--model-url", url, "--overwrite",
                        "--connect-timeout", "2", NULL};
    r = run_eval(dir, a4);
    cr_assert_eq(r.status, 3, "%s", r.err);
    result_free(&r);
    free(url); free(out); free(data);
    rm_dir(dir);
}

/* ---- concurrency, API modes, options ------------------------------------------------------------ */

Test(eval, in_flight_never_exceeds_c)
{
    static const int C[] = {FO_CORRECT, FO_MESSAGE};
    fo_options fo = {.delay_s = 0.01};
    fixture fx = fx_start(C, 2, 40, &fo);
    char *dir = fx.dir, *data = fx.data, *out = fx.out, *url = fx.url;
    fo_server *s = fx.s;
    const char *args[] = {"--data", data, "-o", out, "--model-url", url, "-c", "3",
                          "--num-repeats", "2", "--quiet", NULL};
    result r = run_eval(dir, args);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_eq(fo_requests(s), 80);
    cr_assert_leq(fo_max_in_flight(s), 3);
    /* Kept alive and reused: at most -c, plus the preflight's own. */
    cr_assert_leq(fo_connections(s), 4, "%zu connections for 80 requests", fo_connections(s));
    result_free(&r);
    fx_stop(&fx);
}

Test(eval, responses_api_passes_the_row_through)
{
    static const int C[] = {FO_CORRECT, FO_MESSAGE, FO_WRONG_NAME};
    fixture fx = fx_start(C, 3, 3, NULL);
    char *dir = fx.dir, *data = fx.data, *out = fx.out, *url = fx.url;
    fo_server *s = fx.s;
    const char *args[] = {"--data", data, "-o", out, "--model-url", url, "--api", "responses",
                          "--temperature", "0.25", "--quiet", "--json", NULL};
    result r = run_eval(dir, args);
    cr_assert_eq(r.status, 0, "%s", r.err);
    json_t *roll = read_jsonl(out);
    cr_assert_float_eq(json_number_value(json_object_get(line_of(roll, 0), "reward")), 1.0, 1e-9);
    cr_assert_float_eq(json_number_value(json_object_get(line_of(roll, 1), "reward")), 0.0, 1e-9);
    cr_assert_str_eq(jstr(line_of(roll, 2), "category"), "The tool in a tool call is not the expected tool");
    json_t *rcp = json_object_get(line_of(roll, 0), "responses_create_params");
    cr_assert_float_eq(json_number_value(json_object_get(rcp, "temperature")), 0.25, 1e-12);
    char *body = fo_last_body(s);
    cr_assert(strstr(body, "\"temperature\": 0.25") || strstr(body, "\"temperature\":0.25"), "%s", body);
    cr_assert(strstr(body, "\"input\""), "a Responses body: %s", body);
    free(body);
    json_t *sum = json_loads(r.out, 0, NULL);
    cr_assert(sum, "--json prints the summary: %s", r.out);
    cr_assert_str_eq(jstr(sum, "schema"), "fcpivot.eval.summary/1");
    json_decref(sum);
    check_regrade(out);
    json_decref(roll);
    result_free(&r);
    fx_stop(&fx);
}

Test(eval, dry_run_and_usage_errors)
{
    char *dir = make_dir();
    static const int C[] = {FO_CORRECT};
    char *data = write_rows(dir, C, 1, 2);
    char *out = path_in(dir, "m.jsonl");
    const char *a1[] = {"--data", data, "-o", out, "--model", "mm", "--api-key", SECRET,
                        "--seed-per-repeat", "--extra-body", "{\"top_k\":20}",
                        "--chat-template-kwargs", "{\"enable_thinking\":false}", "--reasoning-effort",
                        "low", "--set", "max_output_tokens=77", "--dry-run", NULL};
    result r = run_eval(dir, a1);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "\"model\":\"mm\"") && strstr(r.out, "\"top_k\":20") &&
              strstr(r.out, "enable_thinking") && strstr(r.out, "\"seed\":0") &&
              strstr(r.out, "\"reasoning_effort\":\"low\"") && strstr(r.out, "\"max_tokens\":77"),
              "%s", r.out);
    cr_assert(strstr(r.out, "\"messages\""), "a chat body");
    cr_assert(!strstr(r.out, SECRET));
    cr_assert(access(out, F_OK) != 0, "a dry run writes nothing");
    result_free(&r);
    const char *bad[][4] = {
        {"--set", "frobnicate=1", NULL, NULL},
        {"--set", "temperature=abc", NULL, NULL},
        {"--preset", "nope", NULL, NULL},
        {"--temperature", "hot", NULL, NULL},
        {"--max-failures", "5x", NULL, NULL},
        {"--api", "completions", NULL, NULL},
        {"--resume", "--overwrite", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *a[12] = {"--data", data, "-o", out, "--dry-run"};
        size_t n = 5;
        for (size_t k = 0; k < 4 && bad[i][k]; k++)
            a[n++] = bad[i][k];
        a[n] = NULL;
        r = run_eval(dir, a);
        cr_assert_eq(r.status, 2, "case %zu (%s): exit %d", i, bad[i][0], r.status);
        result_free(&r);
    }
    /* An invalid dataset row stops the run before any request (exit 2). */
    char *bad_data = path_in(dir, "bad.jsonl");
    FILE *f = fopen(bad_data, "w");
    fprintf(f, "{\"responses_create_params\": 3}\n");
    fclose(f);
    const char *a2[] = {"--data", bad_data, "-o", out, "--dry-run", NULL};
    r = run_eval(dir, a2);
    cr_assert_eq(r.status, 2);
    result_free(&r);
    r = run_eval(dir, (const char *[]){"--help", NULL});
    cr_assert_eq(r.status, 0);
    cr_assert(strstr(r.out, "--concurrency N") && strstr(r.out, "(default 64)") &&
              strstr(r.out, "--max-attempts") && strstr(r.out, "(default 6)"));
    result_free(&r);
    free(bad_data); free(out); free(data);
    rm_dir(dir);
}

/* ---- resume ----------------------------------------------------------------------------------------- */

/* The rollouts file with timings and clock-derived members removed. */
static json_t *comparable(const char *path)
{
    json_t *arr = read_jsonl(path);
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        json_object_del(json_object_get(v, "fcpivot"), "latency_ms");
        json_object_del(json_object_get(v, "fcpivot"), "elapsed_ms");
        json_object_del(json_object_get(v, "response"), "created_at");
    }
    return arr;
}

static void check_same_runs(const char *dir_a, const char *dir_b)
{
    const char *names[] = {"m.jsonl", "m_failures.jsonl"};
    for (size_t i = 0; i < 2; i++) {
        char *a = path_in(dir_a, names[i]), *b = path_in(dir_b, names[i]);
        json_t *x = comparable(a), *y = comparable(b);
        cr_assert_eq(json_array_size(x), json_array_size(y), "%s: line counts", names[i]);
        for (size_t k = 0; k < json_array_size(x); k++)
            cr_assert(json_equal(json_array_get(x, k), json_array_get(y, k)),
                      "%s line %zu differs", names[i], k + 1);
        json_decref(x);
        json_decref(y);
        free(a);
        free(b);
    }
    char *a = path_in(dir_a, "m_materialized_inputs.jsonl"), *b = path_in(dir_b, "m_materialized_inputs.jsonl");
    char *x = tu_read_file(a, NULL), *y = tu_read_file(b, NULL);
    cr_assert(x && y && !strcmp(x, y), "materialized inputs are byte-equal");
    free(x); free(y); free(a); free(b);
}

static const int RESUMABLE[] = {FO_CORRECT, FO_MESSAGE, FO_THINK, FO_SEVERAL, FO_BAD_JSON,
                                FO_400, FO_PERTURBED};

static void run_reference(const char *dir, const char *data, const char *url)
{
    char *out = path_in(dir, "m.jsonl");
    const char *args[] = {"--data", data, "-o", out, "--model-url", url, "-c", "4",
                          "--num-repeats", "2", "--max-failures", "100%", "--quiet", NULL};
    result r = run_eval(dir, args);
    cr_assert_eq(r.status, 1, "the 400 rows fail: %s", r.err);
    result_free(&r);
    free(out);
}

Test(eval, sigkill_then_resume_gives_the_same_files)
{
    char *ref = make_dir(), *dir = make_dir();
    size_t nrows = 60;
    char *data = write_rows(dir, RESUMABLE, sizeof RESUMABLE / sizeof RESUMABLE[0], nrows);
    fo_options fo = {.delay_s = 0.005};
    fo_server *s = fo_start(&fo);
    char *url = url_of(s);
    run_reference(ref, data, url);
    char *out = path_in(dir, "m.jsonl");
    const char *args[] = {"--data", data, "-o", out, "--model-url", url, "-c", "4",
                          "--num-repeats", "2", "--max-failures", "100%", "--quiet", NULL};
    /* Kill at three different moments, resuming each time. */
    size_t kill_at[] = {5, 40, 80};
    for (size_t round = 0; round < 3; round++) {
        const char *a[24];
        size_t n = 0;
        for (; args[n]; n++)
            a[n] = args[n];
        if (round)
            a[n++] = "--resume";
        a[n] = NULL;
        child c = start_eval(dir, a);
        double until = now_s() + RUN_LIMIT_S;
        bool reaped = false;
        while (count_lines(out) < kill_at[round] && now_s() < until && !reaped)
            if (waitpid(c.pid, NULL, WNOHANG) == c.pid)
                reaped = true;   /* finished first: nothing left to kill */
            else
                nap_ms(2);
        if (!reaped) {
            kill(c.pid, SIGKILL);
            waitpid(c.pid, NULL, 0);
        }
        child_free(&c);
    }
    const char *a[24];
    size_t n = 0;
    for (; args[n]; n++)
        a[n] = args[n];
    a[n++] = "--resume";
    a[n] = NULL;
    result r = run_eval(dir, a);
    cr_assert_eq(r.status, 1, "%s", r.err);
    check_same_runs(ref, dir);
    char *fpath = path_in(dir, "m_failures.jsonl");
    json_t *roll = read_jsonl(out), *fails = read_jsonl(fpath);
    check_once(roll, fails, nrows, 2);
    json_decref(roll);
    json_decref(fails);
    json_t *man = load_json(dir, "m_run.json");
    cr_assert_str_eq(jstr(man, "status"), "complete");
    json_decref(man);
    result_free(&r);
    fo_stop(s);
    free(fpath); free(url); free(out); free(data);
    rm_dir(ref);
    rm_dir(dir);
}

Test(eval, torn_last_line_is_cut_and_changed_inputs_refuse_resume)
{
    fixture fx = fx_start(RESUMABLE, 3, 6, NULL);
    char *dir = fx.dir, *data = fx.data, *out = fx.out, *url = fx.url;
    fo_server *s = fx.s;
    const char *args[] = {"--data", data, "-o", out, "--model-url", url, "--quiet", NULL};
    result r = run_eval(dir, args);
    cr_assert_eq(r.status, 0, "%s", r.err);
    result_free(&r);
    /* Again without --resume or --overwrite: refused. */
    r = run_eval(dir, args);
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "--resume"), "%s", r.err);
    result_free(&r);
    /* A changed temperature: resume refused, naming the field. */
    const char *a2[] = {"--data", data, "-o", out, "--model-url", url, "--resume",
                        "--temperature", "0.3", NULL};
    r = run_eval(dir, a2);
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "overrides.params"), "%s", r.err);
    result_free(&r);
    const char *a3[] = {"--data", data, "-o", out, "--model-url", url, "--resume", "--limit", "2",
                        "--float-tolerance", "0.5", NULL};
    r = run_eval(dir, a3);
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "selection.limit") && strstr(r.err, "grading.float_tolerance"), "%s", r.err);
    result_free(&r);
    /* Tear the last line: resume cuts it off and redoes that rollout only. */
    size_t len = 0;
    char *text = tu_read_file(out, &len);
    size_t requests = fo_requests(s);
    FILE *f = fopen(out, "w");
    fwrite(text, 1, len - 10, f);
    fclose(f);
    free(text);
    const char *a4[] = {"--data", data, "-o", out, "--model-url", url, "--resume", "--quiet", NULL};
    r = run_eval(dir, a4);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_eq(fo_requests(s), requests + 1, "only the torn rollout is sent again");
    json_t *roll = read_jsonl(out);
    check_once_no_failures(roll, 6, 1);
    json_decref(roll);
    result_free(&r);
    fx_stop(&fx);
}

Test(eval, sigint_drains_writes_and_resume_completes)
{
    static const int C[] = {FO_CORRECT, FO_MESSAGE};
    fo_options fo = {.delay_s = 0.05};
    fixture fx = fx_start(C, 2, 40, &fo);
    char *dir = fx.dir, *data = fx.data, *out = fx.out, *url = fx.url;
    fo_server *s = fx.s;
    const char *args[] = {"--data", data, "-o", out, "--model-url", url, "-c", "2", NULL};
    child c = start_eval(dir, args);
    double until = now_s() + RUN_LIMIT_S;
    while (count_lines(out) < 4 && now_s() < until)
        nap_ms(5);
    kill(c.pid, SIGINT);
    int st = wait_child(&c);
    cr_assert_eq(st, 130);
    child_free(&c);
    json_t *man = load_json(dir, "m_run.json");
    cr_assert_str_eq(jstr(man, "status"), "interrupted");
    json_decref(man);
    json_t *sum = load_json(dir, "m_summary.json");
    cr_assert(sum, "the summary of what is done is written");
    cr_assert(json_is_false(json_object_get(sum, "complete")));
    json_decref(sum);
    size_t done = count_lines(out);
    cr_assert_lt(done, 40);
    const char *a2[] = {"--data", data, "-o", out, "--model-url", url, "-c", "2", "--resume",
                        "--quiet", NULL};
    result r = run_eval(dir, a2);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_eq(fo_requests(s), 40, "no rollout was sent twice (drained ones were written)");
    json_t *roll = read_jsonl(out);
    check_once_no_failures(roll, 40, 1);
    json_decref(roll);
    result_free(&r);
    fx_stop(&fx);
}

/* ---- stopping early ------------------------------------------------------------------------------ */

Test(eval, write_error_stops_with_exit_4_keeping_whole_lines)
{
    static const int C[] = {FO_CORRECT};
    fixture fx = fx_start(C, 1, 40, NULL);
    char *dir = fx.dir, *data = fx.data, *out = fx.out, *url = fx.url;
    char *inputs = path_in(dir, "m_materialized_inputs.jsonl");
    /* Room for the materialized inputs, not for every rollout. */
    const char *dry[] = {"--data", data, "-o", out, "--model-url", url, "--quiet", NULL};
    result r = run_eval(dir, dry);
    cr_assert_eq(r.status, 0, "%s", r.err);
    result_free(&r);
    struct stat st_in, st_out;
    cr_assert_eq(stat(inputs, &st_in), 0);
    cr_assert_eq(stat(out, &st_out), 0);
    const char *args[] = {"--data", data, "-o", out, "--model-url", url, "--quiet", "--overwrite",
                          "-c", "1", NULL};
    child c = start_eval_limited(dir, args, (long)st_in.st_size + st_out.st_size / 4);
    int status = wait_child(&c);
    char *err = tu_read_file(c.err_path, NULL);
    cr_assert_eq(status, 4, "exit %d: %s", status, err);
    cr_assert(strstr(err, "cannot write"), "%s", err);
    free(err);
    child_free(&c);
    json_t *roll = read_jsonl(out);   /* every line whole */
    cr_assert_gt(json_array_size(roll), 0);
    cr_assert_lt(json_array_size(roll), 40);
    json_t *man = load_json(dir, "m_run.json");
    cr_assert_str_eq(jstr(man, "status"), "failed");
    json_decref(man);
    json_decref(roll);
    free(inputs);
    fx_stop(&fx);
}

Test(eval, max_failures_stops_sending_with_exit_1)
{
    static const int C[] = {FO_400};
    fixture fx = fx_start(C, 1, 30, NULL);
    char *dir = fx.dir, *data = fx.data, *out = fx.out, *url = fx.url;
    fo_server *s = fx.s;
    const char *args[] = {"--data", data, "-o", out, "--model-url", url, "-c", "1",
                          "--max-failures", "3", "--quiet", NULL};
    result r = run_eval(dir, args);
    cr_assert_eq(r.status, 1, "%s", r.err);
    cr_assert(strstr(r.err, "--max-failures"), "%s", r.err);
    cr_assert_eq(fo_requests(s), 3, "sending stopped at the third failure");
    char *fpath = path_in(dir, "m_failures.jsonl");
    cr_assert_eq(count_lines(fpath), 3);
    json_t *man = load_json(dir, "m_run.json");
    cr_assert_eq(jint(json_object_get(man, "counts"), "not_run"), 27);
    json_decref(man);
    result_free(&r);
    free(fpath);
    fx_stop(&fx);
}

Test(eval, requests_spread_over_several_urls)
{
    static const int C[] = {FO_CORRECT};
    char *dir = make_dir();
    char *data = write_rows(dir, C, 1, 40);
    char *out = path_in(dir, "m.jsonl");
    fo_options fo = {.delay_s = 0.01};
    fo_server *a = fo_start(&fo), *b = fo_start(&fo);
    char *ua = url_of(a), *ub = url_of(b);
    const char *args[] = {"--data", data, "-o", out, "--model-url", ua, "--model-url", ub,
                          "-c", "4", "--quiet", NULL};
    result r = run_eval(dir, args);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_eq(fo_requests(a) + fo_requests(b), 40);
    cr_assert_gt(fo_requests(a), 5, "%zu / %zu", fo_requests(a), fo_requests(b));
    cr_assert_gt(fo_requests(b), 5, "%zu / %zu", fo_requests(a), fo_requests(b));
    result_free(&r);
    fo_stop(a);
    fo_stop(b);
    free(ua); free(ub); free(out); free(data);
    rm_dir(dir);
}

Test(eval, unconvertible_row_is_a_conversion_failure_and_the_run_goes_on)
{
    static const int C[] = {FO_CORRECT};
    char *dir = make_dir();
    char *data = write_rows(dir, C, 1, 3);
    /* Row 1 gets an input item no conversion knows. */
    char *rows = tu_read_file(data, NULL);
    char *second = strchr(rows, '\n') + 1;
    char *third = strchr(second, '\n') + 1;
    FILE *f = fopen(data, "w");
    fwrite(rows, 1, (size_t)(second - rows), f);
    fprintf(f, "{\"responses_create_params\": {\"input\": [{\"type\": \"web_search_call\", \"id\": \"ws_1\"}, "
               "{\"role\": \"user\", \"content\": \"hi\"}], \"tools\": []}, "
               "\"expected_action\": {\"type\": \"message\", \"content\": \"hello\"}}\n");
    fputs(third, f);
    fclose(f);
    free(rows);
    char *out = path_in(dir, "m.jsonl");
    fo_server *s = fo_start(NULL);
    char *url = url_of(s);
    const char *args[] = {"--data", data, "-o", out, "--model-url", url, "--max-failures", "100%",
                          "--quiet", NULL};
    result r = run_eval(dir, args);
    cr_assert_eq(r.status, 1, "%s", r.err);
    char *fpath = path_in(dir, "m_failures.jsonl");
    json_t *fails = read_jsonl(fpath), *roll = read_jsonl(out);
    check_once(roll, fails, 3, 1);
    json_t *fc = json_object_get(failure_of(fails, 1), "fcpivot");
    cr_assert_str_eq(jstr(fc, "error"), "conversion");
    cr_assert(strstr(jstr(fc, "message"), "web_search_call"), "%s", jstr(fc, "message"));
    cr_assert_eq(fo_requests(s), 2, "the unconvertible row is never sent");
    json_decref(fails);
    json_decref(roll);
    result_free(&r);
    fo_stop(s);
    free(fpath); free(url); free(out); free(data);
    rm_dir(dir);
}

/* The (task, repeat) pairs of the materialized inputs, as "t:r,…". */
static char *planned_pairs(const char *dir)
{
    char *p = path_in(dir, "m_materialized_inputs.jsonl");
    json_t *in = read_jsonl(p);
    char *s = calloc(1, 8192);
    size_t i;
    json_t *v;
    json_array_foreach(in, i, v)
        snprintf(s + strlen(s), 8192 - strlen(s), "%s%lld:%lld", i ? "," : "",
                 jint(v, "_ng_task_index"), jint(v, "_ng_rollout_index"));
    json_decref(in);
    free(p);
    return s;
}

static char *plan_for(const char *dir, const char *data, const char *url, const char *const *sel)
{
    char *out = path_in(dir, "m.jsonl");
    const char *args[24] = {"--data", data, "-o", out, "--model-url", url, "--overwrite", "--quiet"};
    size_t n = 8;
    for (size_t i = 0; sel[i]; i++)
        args[n++] = sel[i];
    args[n] = NULL;
    result r = run_eval(dir, args);
    cr_assert_eq(r.status, 0, "%s", r.err);
    result_free(&r);
    free(out);
    return planned_pairs(dir);
}

Test(eval, row_selection_flags)
{
    static const int C[] = {FO_CORRECT};
    char *dir = make_dir();
    char *data = write_rows(dir, C, 1, 10);
    fo_server *s = fo_start(NULL);
    char *url = url_of(s);
    char *p = plan_for(dir, data, url, (const char *[]){"--rows", "2:5", "--num-repeats", "2", NULL});
    cr_assert_str_eq(p, "2:0,2:1,3:0,3:1,4:0,4:1");
    free(p);
    p = plan_for(dir, data, url, (const char *[]){"--rows", "-3:", NULL});
    cr_assert_str_eq(p, "7:0,8:0,9:0");
    free(p);
    p = plan_for(dir, data, url, (const char *[]){"--limit", "2", NULL});
    cr_assert_str_eq(p, "0:0,1:0");
    free(p);
    char *a = plan_for(dir, data, url, (const char *[]){"--sample", "4", "--seed", "7", NULL});
    char *b = plan_for(dir, data, url, (const char *[]){"--sample", "4", "--seed", "7", NULL});
    char *c = plan_for(dir, data, url, (const char *[]){"--sample", "4", "--seed", "8", NULL});
    cr_assert_str_eq(a, b, "the same seed draws the same rows");
    cr_assert_str_neq(a, c, "another seed draws other rows (%s)", a);
    size_t commas = 0;
    for (const char *q = a; *q; q++)
        commas += *q == ',';
    cr_assert_eq(commas, 3, "4 rows: %s", a);
    free(a); free(b); free(c);
    fo_stop(s);
    free(url); free(data);
    rm_dir(dir);
}

Test(eval, second_signal_abandons_requests_in_flight)
{
    static const int C[] = {FO_CORRECT};
    fo_options fo = {.delay_s = 20};
    fixture fx = fx_start(C, 1, 6, &fo);
    char *dir = fx.dir, *data = fx.data, *out = fx.out, *url = fx.url;
    fo_server *s = fx.s;
    const char *args[] = {"--data", data, "-o", out, "--model-url", url, "-c", "2", "--quiet", NULL};
    child c = start_eval(dir, args);
    double until = now_s() + RUN_LIMIT_S;
    while (fo_requests(s) < 2 && now_s() < until)
        nap_ms(5);
    kill(c.pid, SIGTERM);
    nap_ms(100);
    kill(c.pid, SIGTERM);
    cr_assert_eq(wait_child(&c), 143);
    child_free(&c);
    cr_assert_eq(count_lines(out), 0, "requests in flight were abandoned, not written");
    json_t *man = load_json(dir, "m_run.json");
    cr_assert_str_eq(jstr(man, "status"), "interrupted");
    cr_assert_eq(jint(json_object_get(man, "counts"), "not_run"), 6);
    json_decref(man);
    fx_stop(&fx);
}

Test(eval, fail_under_exits_5_when_the_mean_is_low)
{
    static const int C[] = {FO_CORRECT, FO_MESSAGE, FO_MESSAGE, FO_MESSAGE};
    fixture fx = fx_start(C, 4, 4, NULL);
    char *dir = fx.dir, *data = fx.data, *out = fx.out, *url = fx.url;
    const char *a1[] = {"--data", data, "-o", out, "--model-url", url, "--fail-under", "0.5",
                        "--quiet", NULL};
    result r = run_eval(dir, a1);
    cr_assert_eq(r.status, 5, "mean 0.25 < 0.5: %s", r.err);
    cr_assert(strstr(r.out, "mean reward 0.2500"), "%s", r.out);
    result_free(&r);
    const char *a2[] = {"--data", data, "-o", out, "--model-url", url, "--fail-under", "0.25",
                        "--quiet", "--overwrite", NULL};
    r = run_eval(dir, a2);
    cr_assert_eq(r.status, 0, "mean 0.25 is not below 0.25");
    result_free(&r);
    fx_stop(&fx);
}

Test(eval, throttling_halves_the_requests_in_flight_and_http_date_retry_after)
{
    /* Every row is refused once with 429 + Retry-After: 1. With -c 8 the
     * first wave halves the limit down to 1, and it only grows back after
     * 20 successes: the retries go one at a time, not 8 at once. */
    static const int C[] = {FO_429};
    fo_options fo = {.delay_s = 0.05};
    fixture fx = fx_start(C, 1, 8, &fo);
    const char *args[] = {"--data", fx.data, "-o", fx.out, "--model-url", fx.url, "-c", "8",
                          "--quiet", NULL};
    result r = run_eval(fx.dir, args);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_eq(fo_requests(fx.s), 16);
    cr_assert_eq(fo_max_retry_in_flight(fx.s), 1, "retries ran %zu at once",
                 fo_max_retry_in_flight(fx.s));
    result_free(&r);
    fx_stop(&fx);
    /* Retry-After as an HTTP date two seconds ahead (whole seconds). */
    static const int D[] = {FO_429_DATE};
    fixture fd = fx_start(D, 1, 1, NULL);
    const char *a2[] = {"--data", fd.data, "-o", fd.out, "--model-url", fd.url, "--quiet", NULL};
    r = run_eval(fd.dir, a2);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_eq(fo_attempts(fd.s, 0), 2);
    cr_assert_geq(fo_attempt_time(fd.s, 0, 1) - fo_attempt_time(fd.s, 0, 0), 0.95);
    result_free(&r);
    fx_stop(&fd);
}
