/* Tests of `fcpivot grade`: reproduction of NeMo Gym's recorded verdicts,
 * output shapes, per-line errors, exit codes, options, ordering with --jobs. */
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "testutil.h"

typedef struct run {
    int rc;
    char *out, *err;
    size_t out_len;
} run;

/* Runs fcpivot grade with args (NULL-terminated, at most 12) on stdin. */
static run grade_run(const char *in, size_t in_len, const char *const *args)
{
    char *argv[16];
    size_t n = 0;
    argv[n++] = (char *)tu_bin();
    argv[n++] = "grade";
    for (size_t i = 0; args && args[i] && n < 15; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    run r;
    r.rc = tu_run(argv, in, in_len, &r.out, &r.out_len, &r.err);
    return r;
}

static void run_free(run *r)
{
    free(r->out);
    free(r->err);
}

/* The i-th output line (0-based) parsed as JSON. */
static json_t *out_line(const run *r, size_t i)
{
    const char *p = r->out;
    for (size_t k = 0; k < i; k++) {
        p = strchr(p, '\n');
        cr_assert(p, "output has fewer than %zu lines", i + 1);
        p++;
    }
    const char *e = strchr(p, '\n');
    cr_assert(e, "line %zu not terminated", i);
    json_error_t err;
    json_t *j = json_loadb(p, (size_t)(e - p), 0, &err);
    cr_assert(j, "output line %zu is not JSON: %s", i, err.text);
    return j;
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* A verify request whose response makes one call (or says text when name is
 * NULL), expecting a call of ename with eargs. Caller frees. */
static char *request(const char *ename, const char *eargs, const char *name, const char *args)
{
    json_t *output = json_array();
    if (name)
        json_array_append_new(output, json_pack("{s:s, s:s, s:s, s:s}", "type", "function_call",
                                                "name", name, "arguments", args, "call_id", "c1"));
    else
        json_array_append_new(output, json_pack("{s:s, s:s, s:[{s:s, s:s}]}", "type", "message",
                                                "role", "assistant", "content", "type",
                                                "output_text", "text", args));
    json_t *req = json_pack("{s:{s:[]}, s:{s:o}, s:{s:s, s:s, s:s}}",
                            "responses_create_params", "input",
                            "response", "output", output,
                            "expected_action", "type", "function_call", "name", ename,
                            "arguments", eargs);
    char *s = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    return s;
}

static void assert_verdict_line(json_t *j, double reward, const char *category)
{
    cr_assert_eq(json_real_value(json_object_get(j, "reward")), reward);
    cr_assert(json_is_real(json_object_get(j, "reward")), "reward is not written as a float");
    cr_assert_str_eq(json_string_value(json_object_get(j, "category")), category);
}

Test(cli_grade, reproduces_nemo_gym_rollouts)
{
    TU_REQUIRE_SHARED(path, "data/example_rollouts.jsonl");
    size_t len;
    char *data = tu_read_file(path, &len);
    cr_assert(data);
    const char *jobs[] = {"1", "2"};
    for (size_t k = 0; k < 2; k++) {
        const char *args[] = {"--jobs", jobs[k], path, NULL};
        run r = grade_run(NULL, 0, args);
        cr_assert_eq(r.rc, 0, "rc %d: %s", r.rc, r.err);
        size_t n = count_lines(data);
        cr_assert_eq(count_lines(r.out), n);
        /* Same reward and category as recorded, line by line. */
        const char *p = data;
        for (size_t i = 0; i < n; i++) {
            const char *e = strchr(p, '\n');
            json_t *want = json_loadb(p, (size_t)(e - p), 0, NULL);
            json_t *got = out_line(&r, i);
            cr_assert(json_equal(json_object_get(want, "reward"), json_object_get(got, "reward")),
                      "line %zu reward", i + 1);
            cr_assert_str_eq(json_string_value(json_object_get(got, "category")),
                             json_string_value(json_object_get(want, "category")),
                             "line %zu category", i + 1);
            json_decref(want);
            json_decref(got);
            p = e + 1;
        }
        /* The recorded values are replaced in place: the file comes back as it is. */
        cr_assert_eq(r.out_len, len);
        cr_assert(!memcmp(r.out, data, len), "output differs from the recorded rollouts");
        run_free(&r);
    }
    free(data);
}

Test(cli_grade, verdict_only_lines)
{
    char *a = request("f", "{\"q\": \"new york city\"}", "f", "{\"q\": \"New York\"}");
    char *b = request("f", "{\"n\": true}", "f", "{\"n\": 1}");
    char *c = request("f", "{}", NULL, "just text");
    char in[8192];
    snprintf(in, sizeof in, "%s\n%s\n%s\n", a, b, c);
    const char *args[] = {"--verdict-only", NULL};
    run r = grade_run(in, strlen(in), args);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    cr_assert_str_eq(r.out,
        "{\"reward\": 1.0, \"category\": \"A tool call that matches the expected tool call was found\"}\n"
        "{\"reward\": 0.0, \"category\": \"The type of an argument value in a tool call is different than the expected type\"}\n"
        "{\"reward\": 0.0, \"category\": \"No tool call was found when one was expected\"}\n");
    run_free(&r);
    free(a);
    free(b);
    free(c);
}

Test(cli_grade, default_output_keeps_the_input_bytes)
{
    const char *line =
        "{\"extra\": 0.1, \"big\": 123456789012345678901234567890, \"responses_create_params\": {},"
        " \"response\": {\"output\": [{\"type\": \"function_call\", \"name\": \"f\", "
        "\"arguments\": \"{\\\"a\\\": 1}\"}]}, \"expected_action\": {\"type\": \"function_call\", "
        "\"name\": \"f\", \"arguments\": \"{\\\"a\\\": 2}\"}}";
    run r = grade_run(line, strlen(line), NULL);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    size_t n = strlen(line);
    cr_assert(!strncmp(r.out, line, n - 1), "input bytes changed: %s", r.out);
    cr_assert_str_eq(r.out + n - 1,
                     ", \"reward\": 0.0, \"category\": \"An argument value in a tool call is "
                     "different than the expected value\"}\n");
    run_free(&r);
}

Test(cli_grade, existing_verdict_keys_are_replaced)
{
    char *req = request("f", "[1]", "f", "[1]");
    /* Add stale values, one under an escaped key name. */
    size_t n = strlen(req);
    char *in = malloc(n + 128);
    memcpy(in, req, n - 1);
    strcpy(in + n - 1, ", \"rew\\u0061rd\": [0, {\"x\": \"}\"}], \"category\": \"old\"}\n");
    run r = grade_run(in, strlen(in), NULL);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    json_t *j = out_line(&r, 0);
    assert_verdict_line(j, 1.0, "A tool call that matches the expected tool call was found");
    cr_assert_eq(json_object_size(j), 5);
    cr_assert(strstr(r.out, "\"rew\\u0061rd\": 1.0, \"category\": \"A tool call"));
    json_decref(j);
    run_free(&r);
    free(in);
    free(req);
}

Test(cli_grade, invalid_lines_report_and_continue)
{
    char *ok = request("f", "{}", "f", "{}");
    char *bad_args = request("f", "{\"a\": ", "f", "{}");
    char in[8192];
    snprintf(in, sizeof in,
             "%s\n"
             "{not json}\n"
             "\n"
             "[1, 2]\n"
             "{\"responses_create_params\": {}, \"response\": {\"output\": []}}\n"
             "%s\n"
             "{\"responses_create_params\": {}, \"response\": {\"output\": 3}, "
             "\"expected_action\": {\"type\": \"message\"}}\n"
             "   \t\n"
             "%s",
             ok, bad_args, ok);
    run r = grade_run(in, strlen(in), NULL);
    cr_assert_eq(r.rc, 1);
    cr_assert_eq(count_lines(r.out), 7);
    const size_t err_lines[] = {2, 4, 5, 6, 7};
    for (size_t i = 0; i < 5; i++) {
        json_t *j = out_line(&r, i + 1);
        cr_assert_eq(json_integer_value(json_object_get(j, "line")), (json_int_t)err_lines[i]);
        cr_assert(json_is_string(json_object_get(j, "error")));
        cr_assert_eq(json_object_size(j), 2);
        char needle[64];
        snprintf(needle, sizeof needle, "line %zu:", err_lines[i]);
        cr_assert(strstr(r.err, needle), "stderr lacks '%s': %s", needle, r.err);
        json_decref(j);
    }
    cr_assert(strstr(r.err, "expected_action"), "%s", r.err);
    cr_assert(strstr(r.out, "expected_action: field required"), "%s", r.out);
    json_t *last = out_line(&r, 6);   /* the last line had no newline */
    assert_verdict_line(last, 1.0, "A tool call that matches the expected tool call was found");
    json_decref(last);
    run_free(&r);
    free(ok);
    free(bad_args);
}

Test(cli_grade, outer_document_limits_are_clean_errors)
{
    /* jansson refuses lone surrogate escapes in the outer document. */
    const char *in = "{\"responses_create_params\": {}, \"response\": {\"output\": []}, "
                     "\"expected_action\": {\"type\": \"message\", "
                     "\"content\": \"\\ud800\"}}\n";
    run r = grade_run(in, strlen(in), NULL);
    cr_assert_eq(r.rc, 1);
    json_t *j = out_line(&r, 0);
    cr_assert_eq(json_integer_value(json_object_get(j, "line")), 1);
    cr_assert(strstr(json_string_value(json_object_get(j, "error")), "invalid JSON"), "%s", r.out);
    json_decref(j);
    run_free(&r);
}

Test(cli_grade, responses_create_params_must_be_an_object)
{
    const char *rest = "\"response\": {\"output\": []}, \"expected_action\": {\"type\": \"message\", "
                       "\"content\": \"x\"}}\n";
    const char *heads[] = {"{", "{\"responses_create_params\": [], ", "{\"responses_create_params\": null, "};
    const char *why[] = {"responses_create_params: field required", "responses_create_params: must be an object",
                         "responses_create_params: must be an object"};
    for (size_t i = 0; i < 3; i++) {
        char in[512];
        snprintf(in, sizeof in, "%s%s", heads[i], rest);
        run r = grade_run(in, strlen(in), NULL);
        cr_assert_eq(r.rc, 1, "%s", in);
        json_t *j = out_line(&r, 0);
        cr_assert_str_eq(json_string_value(json_object_get(j, "error")), why[i]);
        json_decref(j);
        run_free(&r);
    }
    /* Integers beyond int64 are fine in the outer document (Python reads
     * them), and the graded line keeps their bytes. */
    char in[512];
    snprintf(in, sizeof in, "{\"responses_create_params\": {\"seed\": 123456789012345678901234567890}, %s", rest);
    run r = grade_run(in, strlen(in), NULL);
    cr_assert_eq(r.rc, 0, "%s", r.out);
    cr_assert(strstr(r.out, "123456789012345678901234567890}, \"response\""), "%s", r.out);
    run_free(&r);
}

Test(cli_grade, very_long_lines)
{
    /* A 3 MB string argument in both actions. */
    size_t big = 3u << 20;
    char *word = malloc(big + 1);
    for (size_t i = 0; i < big; i++)
        word[i] = (char)('a' + i % 26);
    word[big] = '\0';
    json_t *args = json_pack("{s:s}", "text", word);
    char *a = json_dumps(args, JSON_COMPACT);
    char *req = request("f", a, "f", a);
    size_t n = strlen(req);
    req[n] = '\n';
    const char *opts[] = {"--verdict-only", NULL};
    run r = grade_run(req, n + 1, opts);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    json_t *j = out_line(&r, 0);
    assert_verdict_line(j, 1.0, "A tool call that matches the expected tool call was found");
    json_decref(j);
    run_free(&r);
    free(req);
    free(a);
    json_decref(args);
    free(word);
}

Test(cli_grade, jobs_keep_input_order)
{
    /* 3000 lines alternating verdicts; line i carries its index. */
    size_t nlines = 3000;
    size_t cap = nlines * 400, len = 0;
    char *in = malloc(cap);
    for (size_t i = 0; i < nlines; i++) {
        char eargs[64], aargs[64];
        snprintf(eargs, sizeof eargs, "{\"i\": %zu}", i);
        snprintf(aargs, sizeof aargs, "{\"i\": %zu}", i % 3 ? i : i + 1);
        char *req = request("f", eargs, "f", aargs);
        len += (size_t)snprintf(in + len, cap - len, "%s\n", req);
        free(req);
    }
    const char *args1[] = {"--verdict-only", "--jobs", "1", NULL};
    const char *args3[] = {"--verdict-only", "--jobs=3", NULL};
    run r1 = grade_run(in, len, args1);
    run r3 = grade_run(in, len, args3);
    cr_assert_eq(r1.rc, 0);
    cr_assert_eq(r3.rc, 0);
    cr_assert_eq(count_lines(r1.out), nlines);
    cr_assert_str_eq(r1.out, r3.out);
    for (size_t i = 0; i < nlines; i += 500) {
        json_t *j = out_line(&r3, i);
        cr_assert_eq(json_real_value(json_object_get(j, "reward")), i % 3 ? 1.0 : 0.0, "line %zu", i);
        json_decref(j);
    }
    /* Full output too: each line still ends with the original text. */
    const char *argsf[] = {"--jobs", "2", NULL};
    run rf = grade_run(in, len, argsf);
    cr_assert_eq(rf.rc, 0);
    json_t *j = out_line(&rf, 1234);
    cr_assert(json_object_get(j, "expected_action"));
    json_decref(j);
    run_free(&r1);
    run_free(&r3);
    run_free(&rf);
    free(in);
}

Test(cli_grade, options_change_verdicts)
{
    char *s = request("f", "{\"q\": \"new york city\"}", "f", "{\"q\": \"New York\"}");
    const char *strict[] = {"--verdict-only", "--word-similarity-threshold", "0.45", NULL};
    run r = grade_run(s, strlen(s), strict);
    cr_assert(strstr(r.out, "\"reward\": 0.0"), "%s", r.out);
    run_free(&r);
    free(s);

    s = request("f", "{\"x\": 1.0}", "f", "{\"x\": 1.3}");
    const char *tol[] = {"--verdict-only", "--float-tolerance=0.5", NULL};
    r = grade_run(s, strlen(s), tol);
    cr_assert(strstr(r.out, "\"reward\": 1.0"), "%s", r.out);
    run_free(&r);
    free(s);

    /* One expected call, two actual calls. */
    const char *two =
        "{\"responses_create_params\": {\"input\": []},"
        " \"response\": {\"output\": [{\"type\": \"function_call\", \"name\": \"f\", \"arguments\": \"{}\"},"
        " {\"type\": \"function_call\", \"name\": \"g\", \"arguments\": \"{}\"}]},"
        " \"expected_action\": {\"type\": \"function_call\", \"name\": \"f\", \"arguments\": \"{}\"}}\n";
    r = grade_run(two, strlen(two), (const char *[]){"--verdict-only", NULL});
    cr_assert(strstr(r.out, "\"reward\": 1.0, \"category\": \"A tool call that matches"), "%s", r.out);
    run_free(&r);
    r = grade_run(two, strlen(two), (const char *[]){"--verdict-only", "--parallel-rewarding", NULL});
    cr_assert(strstr(r.out, "\"reward\": 0.0, \"category\": \"The number of tool calls"), "%s", r.out);
    run_free(&r);
    r = grade_run(two, strlen(two), (const char *[]){"--verdict-only", "--parallel-rewarding",
                                                      "--allow-superset", "--reward-mode", "f1", NULL});
    cr_assert(strstr(r.out, "\"reward\": 0.6666666666666666,"), "%s", r.out);
    run_free(&r);
    r = grade_run(two, strlen(two), (const char *[]){"--verdict-only", "--parallel-rewarding",
                                                      "--allow-subset", NULL});
    cr_assert(strstr(r.out, "\"reward\": 0.0"), "%s", r.out);
    run_free(&r);
}

Test(cli_grade, summary_on_stderr)
{
    char *a = request("f", "{}", "f", "{}");
    char *b = request("f", "{}", "g", "{}");
    char in[4096];
    snprintf(in, sizeof in, "%s\n%s\n%s\nnope\n", a, b, a);
    run r = grade_run(in, strlen(in), (const char *[]){"--summary", "--verdict-only", NULL});
    cr_assert_eq(r.rc, 1);
    cr_assert(strstr(r.err, "3 rows graded, 1 invalid lines, mean reward 0.666667"), "%s", r.err);
    cr_assert(strstr(r.err, "2  EXPECTED_TOOL_CALL"), "%s", r.err);
    cr_assert(strstr(r.err, "1  UNEXPECTED_TOOL"), "%s", r.err);
    run_free(&r);
    free(a);
    free(b);
}

Test(cli_grade, file_argument_and_empty_input)
{
    char *a = request("f", "{}", "f", "{}");
    char *path = tu_write_temp(a, strlen(a), ".jsonl");
    run r = grade_run(NULL, 0, (const char *[]){"--verdict-only", path, NULL});
    cr_assert_eq(r.rc, 0, "%s", r.err);
    cr_assert_eq(count_lines(r.out), 1);
    run_free(&r);
    r = grade_run("", 0, (const char *[]){"-", NULL});
    cr_assert_eq(r.rc, 0);
    cr_assert_eq(r.out_len, 0);
    run_free(&r);
    remove(path);
    free(path);
    free(a);
}

Test(cli_grade, help_and_usage_errors)
{
    run r = grade_run(NULL, 0, (const char *[]){"--help", NULL});
    cr_assert_eq(r.rc, 0);
    cr_assert(strstr(r.out, "usage: fcpivot grade"));
    cr_assert(strstr(r.out, "--reward-mode"));
    run_free(&r);
    const char *bad[][3] = {
        {"--frobnicate", NULL, NULL},
        {"--reward-mode", "exact", NULL},
        {"--jobs", "0", NULL},
        {"--jobs", "x", NULL},
        {"--float-tolerance", "abc", NULL},
        {"--word-similarity-threshold", NULL, NULL},
        {"--summary=yes", NULL, NULL},
        {"/nonexistent/fcpivot.jsonl", NULL, NULL},
        {"a.jsonl", "b.jsonl", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = grade_run("", 0, bad[i]);
        cr_assert_eq(r.rc, 2, "case %zu: rc %d", i, r.rc);
        cr_assert(strstr(r.err, "fcpivot grade:"), "case %zu: %s", i, r.err);
        run_free(&r);
    }
}

/* Reads from fd until a newline arrives or timeout_ms passes; returns the
 * number of bytes read into buf (NUL-terminated). */
static size_t read_until_newline(int fd, char *buf, size_t cap, int timeout_ms)
{
    size_t n = 0;
    while (n + 1 < cap && !memchr(buf, '\n', n)) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, timeout_ms) <= 0)
            break;
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        buf[n] = '\0';
    }
    buf[n] = '\0';
    return n;
}

Test(cli_grade, streams_verdicts_before_input_ends)
{
    int in[2], out[2];
    cr_assert_eq(pipe(in), 0);
    cr_assert_eq(pipe(out), 0);
    signal(SIGPIPE, SIG_IGN);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        execl(tu_bin(), tu_bin(), "grade", "--verdict-only", "--jobs", "2", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    char *req = request("f", "{}", "f", "{}");
    cr_assert(write(in[1], req, strlen(req)) > 0 && write(in[1], "\n", 1) == 1);
    /* The first verdict arrives while stdin is still open. */
    char buf[512] = "";
    read_until_newline(out[0], buf, sizeof buf, 20000);
    cr_assert(strstr(buf, "\"reward\": 1.0"), "no verdict before end of input: '%s'", buf);
    cr_assert(write(in[1], req, strlen(req)) > 0);   /* last line without newline */
    close(in[1]);
    buf[0] = '\0';
    read_until_newline(out[0], buf, sizeof buf, 20000);
    cr_assert(strstr(buf, "\"reward\": 1.0"), "'%s'", buf);
    close(out[0]);
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    free(req);
}

/* docs/grading.md §1.2: NeMo Gym's pydantic defaults — an output message without
 * "role" is an assistant message, and an untyped part with text and
 * annotations is output_text (an untyped part with text alone is not). */
Test(cli_grade, pydantic_defaults_of_output_messages)
{
    const char *exp = "\"expected_action\": {\"type\": \"message\", \"content\": \"x\"}";
    char in[4096];
    snprintf(in, sizeof in,
             "{\"responses_create_params\": {\"input\": []}, \"response\": {\"output\": [{\"type\": "
             "\"message\", \"content\": [{\"type\": \"output_text\", \"text\": \"hi\"}]}]}, %s}\n"
             "{\"responses_create_params\": {\"input\": []}, \"response\": {\"output\": [{\"type\": "
             "\"message\", \"role\": \"assistant\", \"content\": [{\"text\": \"hi\", \"annotations\": []}]}]}, %s}\n"
             "{\"responses_create_params\": {\"input\": []}, \"response\": {\"output\": [{\"type\": "
             "\"message\", \"content\": [{\"text\": \"hi\"}]}]}, %s}\n"
             "{\"responses_create_params\": {\"input\": []}, \"response\": {\"output\": [{\"type\": "
             "\"message\", \"role\": \"user\", \"content\": [{\"type\": \"output_text\", \"text\": \"hi\"}]}]}, %s}\n",
             exp, exp, exp, exp);
    const char *args[] = {"--verdict-only", NULL};
    run r = grade_run(in, strlen(in), args);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    const char *found = "A chat message was found as expected";
    const char *none = "No tool call or chat message was found in the response";
    const double rewards[] = {1.0, 1.0, 0.0, 0.0};
    const char *cats[] = {found, found, none, none};
    for (size_t i = 0; i < 4; i++) {
        json_t *j = out_line(&r, i);
        assert_verdict_line(j, rewards[i], cats[i]);
        json_decref(j);
    }
    run_free(&r);
}

/* docs/grading.md §4.1: expected arguments are parsed only when a comparison
 * reaches them; until then a request whose expected arguments do not parse
 * has a verdict, and only reaching them is an error. */
Test(cli_grade, unparsable_expected_arguments_graded_until_reached)
{
    const char *batch_exp = "\"expected_action\": {\"type\": \"function_call_batch\", \"calls\": ["
                            "{\"type\": \"function_call\", \"name\": \"f\", \"arguments\": \"{\\\"a\\\": \"},"
                            "{\"type\": \"function_call\", \"name\": \"g\", \"arguments\": \"{}\"}]}";
    char *other = request("f", "{\"a\": ", "g", "{}");
    char *text = request("f", "{\"a\": ", NULL, "hello");
    char *reached = request("f", "{\"a\": ", "f", "{}");
    char in[8192];
    snprintf(in, sizeof in,
             "%s\n%s\n"
             "{\"responses_create_params\": {\"input\": []}, \"response\": {\"output\": []}, "
             "\"expected_action\": {\"type\": \"function_call\", \"name\": \"f\", \"arguments\": \"nope\"}}\n"
             "{\"responses_create_params\": {\"input\": []}, \"response\": {\"output\": ["
             "{\"type\": \"function_call\", \"name\": \"g\", \"arguments\": \"{}\"},"
             "{\"type\": \"function_call\", \"name\": \"g\", \"arguments\": \"{}\"},"
             "{\"type\": \"function_call\", \"name\": \"f\", \"arguments\": \"{}\"}]}, %s}\n"
             "%s\n",
             other, text, batch_exp, reached);
    const char *args[] = {"--verdict-only", "--parallel-rewarding", NULL};
    run r = grade_run(in, strlen(in), args);
    cr_assert_eq(r.rc, 1, "the reached one is an error");
    cr_assert_eq(count_lines(r.out), 5);
    const char *cats[] = {"The tool in a tool call is not the expected tool",
                          "No tool call was found when one was expected",
                          "No tool call or chat message was found in the response",
                          "The number of tool calls in a batch is different than expected"};
    for (size_t i = 0; i < 4; i++) {
        json_t *j = out_line(&r, i);
        assert_verdict_line(j, 0.0, cats[i]);
        json_decref(j);
    }
    json_t *j = out_line(&r, 4);
    cr_assert_eq(json_integer_value(json_object_get(j, "line")), 5);
    cr_assert(strstr(json_string_value(json_object_get(j, "error")), "expected_action.arguments is not valid JSON"),
              "%s", r.out);
    json_decref(j);
    run_free(&r);
    free(other);
    free(text);
    free(reached);
}

/* A mapped file graded with --jobs 1 is read line by line in place
 * (verify_line); a pipe and --jobs 2 find each line's end first. All three
 * give the same bytes, stdout and stderr, on lines of every kind: valid,
 * invalid, blank, CRLF, an object spanning two lines (also as the last
 * line, where nothing follows to stop a walk that would read on), white
 * space where a line ends, the last line without its newline. */
Test(cli_grade, mapped_file_read_in_place_as_a_pipe_is)
{
    char *ok = request("f", "{\"x\": 1}", "f", "{\"x\": 1}");
    char *no = request("f", "{\"x\": 1}", "g", "{}");
    size_t n = strlen(ok);
    char *split = malloc(n + 2);   /* ok with a line break after its first member */
    const char *comma = strstr(ok, "},\"");
    cr_assert(comma);
    size_t at = (size_t)(comma - ok) + 2;
    memcpy(split, ok, at);
    split[at] = '\n';
    memcpy(split + at + 1, ok + at, n - at + 1);
    size_t cap = 16 * n + 1024;
    char *in = malloc(cap);
    int len = snprintf(in, cap,
                       "%s\n \t%s \r\n\n%s\n{not json}\n%s\n   \n[1]\n%s x\n%s\r\n\r\n"
                       "{\"responses_create_params\": {}}\n\"%s\n%s",
                       ok, no, split, ok, ok, no, ok, split);
    cr_assert(len > 0 && (size_t)len < cap);
    char *path = tu_write_temp(in, (size_t)len, ".jsonl");
    const char *modes[] = {"--jobs=1", "--verdict-only"};
    for (size_t m = 0; m < 2; m++) {
        const char *a0[] = {modes[m], NULL}, *a1[] = {modes[m], path, NULL};
        const char *a2[] = {modes[m], "--jobs", "2", path, NULL};
        run file = grade_run(NULL, 0, a1), pipe = grade_run(in, (size_t)len, a0);
        run jobs = grade_run(NULL, 0, a2);
        cr_assert_eq(file.rc, 1, "%s", file.err);
        cr_assert_eq(count_lines(file.out), 13, "%s", file.out);
        cr_assert_str_eq(file.out, pipe.out);
        cr_assert_str_eq(file.err, pipe.err);
        cr_assert_str_eq(file.out, jobs.out);
        cr_assert_str_eq(file.err, jobs.err);
        json_t *j = out_line(&file, 2);   /* the object spanning lines 4 and 5 */
        cr_assert_eq(json_integer_value(json_object_get(j, "line")), 4);
        json_decref(j);
        run_free(&file);
        run_free(&pipe);
        run_free(&jobs);
    }
    remove(path);
    free(path);
    free(in);
    free(split);
    free(ok);
    free(no);
}
