/* cli_common: the NAME=FILE split argument of `fcpivot serve --split`,
 * parsed in place. */
#include <criterion/criterion.h>
#include <string.h>
#include "cli_common.h"

/* Parses a writable copy of text; the copy is freed by the caller. */
static int parse(const char *text, char **copy, ds_split_spec *sp, char *err, size_t errsz)
{
    *copy = strdup(text);
    cr_assert_not_null(*copy);
    return cli_split_spec_parse(*copy, sp, err, errsz);
}

Test(cli_common, split_spec_parsing)
{
    ds_split_spec sp;
    char err[200], *arg;
    cr_assert_eq(parse("dev-2=/data/x=y.jsonl", &arg, &sp, err, sizeof err), 0);
    cr_assert_str_eq(sp.name, "dev-2");
    cr_assert_str_eq(sp.path, "/data/x=y.jsonl");
    free(arg);
    const char *bad[] = {"=x.jsonl", "train=", "train", "a/b=x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(parse(bad[i], &arg, &sp, err, sizeof err), -1, "accepted '%s'", bad[i]);
        cr_assert_str_eq(arg, bad[i], "a refused argument was changed");
        free(arg);
    }
    cr_assert(strstr(err, "invalid split name"));
    char longname[CLI_SPLIT_NAME_CUT + 8];
    memset(longname, 'a', CLI_SPLIT_NAME_CUT);
    strcpy(longname + CLI_SPLIT_NAME_CUT, "=x");
    cr_assert_eq(parse(longname, &arg, &sp, err, sizeof err), -1);
    cr_assert(strstr(err, "too long"));
    free(arg);
}
