/* Tests of dynlib.h: functions of a shared library looked up by name, and
 * the errors naming the library or the missing symbol. */
#include <string.h>
#include "dynlib.h"
#include "testutil.h"

Test(dynlib, looks_up_each_name_with_its_prefix)
{
    static const char *const names[] = {"cos", "sqrt"};
    void *fns[2] = {NULL, NULL};
    char err[256] = "";
    cr_assert_eq(dynlib_load("libm.so.6", "", names, fns, 2, err, sizeof err), 0, "%s", err);
    double (*f)(double);
    memcpy(&f, &fns[0], sizeof f);
    cr_assert_eq(f(0.0), 1.0);
    memcpy(&f, &fns[1], sizeof f);
    cr_assert_eq(f(16.0), 4.0);
    static const char *const suffixes[] = {"os"};
    cr_assert_eq(dynlib_load("libm.so.6", "c", suffixes, fns, 1, err, sizeof err), 0, "%s", err);
    memcpy(&f, &fns[0], sizeof f);
    cr_assert_eq(f(0.0), 1.0, "the prefix is put before the name");
}

Test(dynlib, errors_name_the_library_or_the_symbol)
{
    static const char *const names[] = {"cos", "no_such_function"};
    void *fns[2];
    char err[256] = "";
    cr_assert_eq(dynlib_load("libm.so.6", "", names, fns, 2, err, sizeof err), -1);
    cr_assert_str_eq(err, "libm.so.6 has no no_such_function");
    cr_assert_eq(dynlib_load("libfcpivot-none.so.9", "", names, fns, 2, err, sizeof err), -1);
    cr_assert(!strncmp(err, "cannot load libfcpivot-none.so.9: ", 34), "%s", err);
}
