/* Tests of the fcpivot command-line front door: help, version, unknown commands,
 * and the messages of every command: file errors with the OS error, data escaped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "testutil.h"

Test(cli, help_lists_every_command)
{
    char *argv[] = {(char *)tu_bin(), "--help", NULL};
    char *out, *err;
    int rc = tu_run(argv, NULL, 0, &out, NULL, &err);
    cr_assert_eq(rc, 0);
    const char *names[] = {"serve", "grade", "validate", "stats", "download", "report"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        cr_assert(strstr(out, names[i]), "help lacks %s", names[i]);
    free(out); free(err);
}

Test(cli, unknown_command_is_a_usage_error)
{
    char *argv[] = {(char *)tu_bin(), "frobnicate", NULL};
    char *out, *err;
    int rc = tu_run(argv, NULL, 0, &out, NULL, &err);
    cr_assert_eq(rc, 2);
    cr_assert(strstr(err, "unknown command 'frobnicate'"));
    free(out); free(err);
}

Test(cli, no_arguments_is_a_usage_error)
{
    char *argv[] = {(char *)tu_bin(), NULL};
    char *err;
    cr_assert_eq(tu_run(argv, NULL, 0, NULL, NULL, &err), 2);
    cr_assert(strstr(err, "usage: fcpivot"));
    free(err);
}

/* ---- file errors name the path and the OS error ---------------------------- */

static char *temp_dir(void)
{
    char tmpl[] = "/tmp/fcpivot-cli-XXXXXX";
    cr_assert(mkdtemp(tmpl));
    return strdup(tmpl);
}

Test(cli, a_directory_as_input_names_it_and_the_os_error)
{
    char *dir = temp_dir();
    const char *cmds[] = {"grade", "validate", "stats"};
    for (size_t i = 0; i < 3; i++) {
        char *argv[] = {(char *)tu_bin(), (char *)cmds[i], dir, NULL};
        char *out, *err;
        int rc = tu_run(argv, NULL, 0, &out, NULL, &err);
        cr_assert_neq(rc, 0, "%s accepted a directory", cmds[i]);
        cr_assert(strstr(err, dir) && strstr(err, "Is a directory"), "%s: %s", cmds[i], err);
        free(out); free(err);
    }
    rmdir(dir);
    free(dir);
}

/* stdout on a full disk (/dev/full): an error naming it, never exit 0. */
Test(cli, a_full_disk_is_an_error_naming_the_os_error)
{
    const char *sample = tu_path("data/sample.jsonl");
    const char *cmds[] = {"validate", "stats", "grade"};
    for (size_t i = 0; i < 3; i++) {
        char script[4096];
        snprintf(script, sizeof script, "exec '%s' %s '%s' > /dev/full", tu_bin(), cmds[i], sample);
        char *argv[] = {"/bin/sh", "-c", script, NULL};
        char *out, *err;
        int rc = tu_run(argv, NULL, 0, &out, NULL, &err);
        cr_assert_eq(rc, 1, "%s: rc %d, %s", cmds[i], rc, err);
        cr_assert(strstr(err, "cannot write standard output: No space left on device"), "%s: %s",
                  cmds[i], err);
        free(out); free(err);
    }
}

/* A name carrying terminal escapes is printed escaped by validate and stats. */
Test(cli, data_cannot_drive_the_terminal)
{
    const char row[] =
        "{\"responses_create_params\": {\"input\": [{\"role\": \"user\", \"content\": \"hi\", "
        "\"type\": \"message\"}], \"tools\": [{\"type\": \"function\", \"name\": \"get_weather\", "
        "\"description\": \"d\", \"parameters\": {\"type\": \"object\", \"properties\": {}}, "
        "\"strict\": true}]}, \"expected_action\": {\"type\": \"function_call\", \"name\": "
        "\"\\u001b[2Jevil\\u009b\\u0007\", \"arguments\": \"{}\"}}\n";
    char *path = tu_write_temp(row, sizeof row - 1, ".jsonl");
    const char *cmds[] = {"validate", "stats"};
    for (size_t i = 0; i < 2; i++) {
        char *argv[] = {(char *)tu_bin(), (char *)cmds[i], path, NULL};
        char *out, *err;
        size_t out_len;
        tu_run(argv, NULL, 0, &out, &out_len, &err);
        cr_assert(strstr(out, "\\x1b[2Jevil\\u009b\\x07"), "%s: %s", cmds[i], out);
        cr_assert_null(memchr(out, 0x1b, out_len), "%s printed a raw ESC", cmds[i]);
        cr_assert_null(memchr(out, 0x07, out_len), "%s printed a raw BEL", cmds[i]);
        free(out); free(err);
    }
    unlink(path);
    free(path);
}

/* A NUL in the data neither cuts validate's message nor reaches the output raw. */
Test(cli, a_nul_in_the_data_does_not_cut_the_message)
{
    const char row[] =
        "{\"responses_create_params\": {\"input\": [{\"role\": \"user\", \"content\": \"hi\", "
        "\"type\": \"message\"}], \"tools\": [{\"type\": \"web\\u0000search\"}]}, "
        "\"expected_action\": {\"type\": \"message\", \"content\": \"x\"}}\n";
    char *path = tu_write_temp(row, sizeof row - 1, ".jsonl");
    char *argv[] = {(char *)tu_bin(), "validate", path, NULL};
    char *out, *err;
    size_t out_len;
    tu_run(argv, NULL, 0, &out, &out_len, &err);
    cr_assert(strstr(out, "web\\x00search"), "%s", out);
    cr_assert_null(memchr(out, 0, out_len), "a raw NUL was printed");
    free(out); free(err);
    unlink(path);
    free(path);
}

/* ---- one option convention: every command words a usage error alike ------- */

/* Runs fcpivot with args; asserts exit status 2 and that stderr holds want. */
static void expect_usage_error(char *const args[], size_t n, const char *want)
{
    char *argv[12] = {(char *)tu_bin()};
    cr_assert(n < 11);
    for (size_t i = 0; i < n; i++)
        argv[i + 1] = args[i];
    argv[n + 1] = NULL;
    char *out, *err;
    int rc = tu_run(argv, NULL, 0, &out, NULL, &err);
    cr_assert_eq(rc, 2, "%s %s: exit %d, stderr %s", args[0], args[1], rc, err);
    cr_assert(strstr(err, want), "%s %s: stderr lacks \"%s\": %s", args[0], args[1], want, err);
    free(out); free(err);
}

Test(cli, option_errors_are_worded_alike)
{
    struct { char *args[3]; const char *want; } cases[] = {
        {{"grade", "--summary=1"}, "option '--summary' takes no value"},
        {{"report", "--json=1", "x"}, "option '--json' takes no value"},
        {{"serve", "--quiet=yes"}, "option '--quiet' takes no value"},
        {{"grade", "--jobs"}, "option '--jobs' needs a value"},
        {{"validate", "--threads"}, "option '--threads' needs a value"},
        {{"report", "--html"}, "option '--html' needs a value"},
        {{"serve", "--port"}, "option '--port' needs a value"},
        {{"grade", "--frob"}, "unknown option '--frob'"},
        {{"stats", "--frob", "x"}, "unknown option '--frob'"},
        {{"serve", "--frob"}, "unknown option '--frob'"},
        {{"report", "--frob", "x"}, "unknown option '--frob'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = cases[i].args[2] ? 3 : 2;
        expect_usage_error(cases[i].args, n, cases[i].want);
    }
}

/* eval parses with getopt_long and cli_common's convention like the others:
 * the same wording, exit status 2, prefixes, and the shared number parser. */
Test(cli, eval_options_follow_the_shared_convention)
{
    struct { char *args[3]; const char *want; } cases[] = {
        {{"eval", "--quiet=1"}, "option '--quiet' takes no value"},
        {{"eval", "--limit"}, "option '--limit' needs a value"},
        {{"eval", "--frob"}, "unknown option '--frob'"},
        {{"eval", "--max-attempts=+3"}, "bad --max-attempts '+3' (1 to 255)"},
        {{"eval", "--concurrency", "0"}, "bad --concurrency '0'"},
        {{"eval", "--dry"}, "--data FILE is required"},       /* a prefix of --dry-run */
        {{"eval", "stray"}, "unexpected argument 'stray'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = cases[i].args[2] ? 3 : 2;
        expect_usage_error(cases[i].args, n, cases[i].want);
    }
    char *argv[] = {(char *)tu_bin(), "eval", "--help", NULL};
    char *out, *err;
    cr_assert_eq(tu_run(argv, NULL, 0, &out, NULL, &err), 0);
    cr_assert(strstr(out, "usage: fcpivot eval") && strstr(out, "1 to 255 (default 6)"), "%s", out);
    free(out); free(err);
}

Test(cli, help_is_exit_status_zero_everywhere)
{
    const char *cmds[] = {"grade", "validate", "stats", "download", "serve", "report"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char *argv[] = {(char *)tu_bin(), (char *)cmds[i], "--help", NULL};
        char *out, *err;
        int rc = tu_run(argv, NULL, 0, &out, NULL, &err);
        cr_assert_eq(rc, 0, "%s --help: exit %d", cmds[i], rc);
        cr_assert(strstr(out, "usage: fcpivot"), "%s --help: %s", cmds[i], out);
        free(out); free(err);
    }
}

Test(cli, serve_help_shows_the_server_defaults)
{
    char *argv[] = {(char *)tu_bin(), "serve", "--help", NULL};
    char *out, *err;
    cr_assert_eq(tu_run(argv, NULL, 0, &out, NULL, &err), 0);
    const char *want[] = {"(default 127.0.0.1)", "(default 8080;", "(default 900)", "(default 16M)",
                          "(default 10000)", "(default 120;", "(default nemotron-fc-pivot)"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert(strstr(out, want[i]), "serve --help lacks %s", want[i]);
    free(out); free(err);
}
