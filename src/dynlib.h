/* dynlib — a shared library's functions, looked up by name when first needed.
 *
 * fcpivot is linked only with what every command needs. The libraries of
 * one command alone — libcurl (download, eval), libmicrohttpd (serve) —
 * each bring a chain of their own (TLS stacks, ...) whose loading would
 * cost every process a millisecond or more; their users load them with
 * dynlib_load when they start, into a table of function pointers of their
 * own (cli_curl.h, http.c).
 *
 * Thread safety: no state of its own; dlopen and dlsym are thread-safe.
 */
#ifndef FCPIVOT_DYNLIB_H
#define FCPIVOT_DYNLIB_H

#include <stddef.h>

/* Loads the shared library soname (for the life of the process) and looks
 * up prefix + names[i] (prefix may be "") into fns[i] for each of the n
 * names. Returns 0, or -1 with the reason in err ("cannot load <soname>:
 * <dlerror>" or "<soname> has no <symbol>"), the library then unloaded. The
 * caller owns fns; names are borrowed. */
int dynlib_load(const char *soname, const char *prefix, const char *const *names, void **fns,
                size_t n, char *err, size_t errsz);

#endif
