/* cli_curl — libcurl loaded on first use (see cli_curl.h).
 *
 * How it works: dlopen of libcurl's soname (CLI_CURL_SONAME, the library
 * the headers belong to), then dlsym of "curl_" + each name of
 * CLI_CURL_FUNCTIONS into the table; a missing symbol is an error naming it.
 * The table is the process's one (like libcurl's own global state): written
 * once by the first successful load, read-only after.
 */
#include "cli_curl.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* The shared library of libcurl 7.16 and later. */
#define CLI_CURL_SONAME "libcurl.so.4"

static cli_curl_api table;
static bool loaded;

int cli_curl_load(char *err, size_t errsz)
{
    if (loaded)
        return 0;
    void *lib = dlopen(CLI_CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(err, errsz, "cannot load libcurl: %s", dlerror());
        return -1;
    }
    void *fn;
#define CLI_CURL_SYMBOL(ret, name, params)                                                      \
    if (!(fn = dlsym(lib, "curl_" #name))) {                                                   \
        snprintf(err, errsz, "libcurl (%s) has no curl_%s", CLI_CURL_SONAME, #name);           \
        dlclose(lib);                                                                          \
        return -1;                                                                             \
    }                                                                                          \
    memcpy(&table.name, &fn, sizeof fn);
    CLI_CURL_FUNCTIONS(CLI_CURL_SYMBOL)
#undef CLI_CURL_SYMBOL
    loaded = true;
    return 0;
}

const cli_curl_api *cli_curl_api_table(void)
{
    return &table;
}
