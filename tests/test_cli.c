/* Tests of the fcpivot command-line front door: help, version, unknown commands. */
#include <stdlib.h>
#include <string.h>
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
