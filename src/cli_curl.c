/* cli_curl — libcurl loaded on first use (see cli_curl.h).
 *
 * How it works: dynlib_load of libcurl's soname (CLI_CURL_SONAME, the
 * library the headers belong to) with "curl_" + each name of
 * CLI_CURL_FUNCTIONS, copied into the table; a missing symbol is an error
 * naming it.
 * The table is the process's one (like libcurl's own global state): written
 * once by the first successful load, read-only after.
 */
#include "cli_curl.h"

#include <stdbool.h>
#include <string.h>
#include "dynlib.h"

/* The shared library of libcurl 7.16 and later. */
#define CLI_CURL_SONAME "libcurl.so.4"

#define CLI_CURL_NAME(ret, name, params) #name,
static const char *const NAMES[] = {CLI_CURL_FUNCTIONS(CLI_CURL_NAME)};
#undef CLI_CURL_NAME
enum { CLI_CURL_COUNT = sizeof NAMES / sizeof NAMES[0] };

static cli_curl_api table;
static bool loaded;

int cli_curl_load(char *err, size_t errsz)
{
    if (loaded)
        return 0;
    void *fns[CLI_CURL_COUNT];
    if (dynlib_load(CLI_CURL_SONAME, "curl_", NAMES, fns, CLI_CURL_COUNT, err, errsz))
        return -1;
    size_t i = 0;
#define CLI_CURL_SET(ret, name, params) memcpy(&table.name, &fns[i++], sizeof fns[0]);
    CLI_CURL_FUNCTIONS(CLI_CURL_SET)
#undef CLI_CURL_SET
    loaded = true;
    return 0;
}

const cli_curl_api *cli_curl_api_table(void)
{
    return &table;
}
