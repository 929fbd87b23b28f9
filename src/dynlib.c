/* dynlib — a shared library's functions looked up by name (see dynlib.h).
 *
 * How it works: dlopen with RTLD_NOW | RTLD_LOCAL (every symbol resolved
 * now, none made visible to other libraries), then one dlsym per name; the
 * first missing one names itself in the error and the library is closed
 * again. A loaded library is never closed: its functions stay in use until
 * the process exits.
 */
#include "dynlib.h"

#include <dlfcn.h>
#include <stdio.h>

enum { DYNLIB_SYMBOL_MAX = 128 };   /* longest prefix + name looked up */

int dynlib_load(const char *soname, const char *prefix, const char *const *names, void **fns,
                size_t n, char *err, size_t errsz)
{
    void *lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(err, errsz, "cannot load %s: %s", soname, dlerror());
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char sym[DYNLIB_SYMBOL_MAX];
        snprintf(sym, sizeof sym, "%s%s", prefix, names[i]);
        if (!(fns[i] = dlsym(lib, sym))) {
            snprintf(err, errsz, "%s has no %s", soname, sym);
            dlclose(lib);
            return -1;
        }
    }
    return 0;
}
