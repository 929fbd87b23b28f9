/* cli_curl — libcurl for the commands that speak HTTP (download, eval),
 * loaded when one of them starts instead of when fcpivot starts.
 *
 * fcpivot is not linked with libcurl: its dependencies (two TLS stacks,
 * Kerberos, LDAP, SSH, ...) cost every process about 3 ms of dynamic
 * loading, which `fcpivot grade`, `validate` and `serve` never need. A file
 * that uses libcurl includes this header instead of <curl/curl.h> and calls
 * cli_curl_load once before anything else of libcurl; its calls, written as
 * usual (curl_easy_setopt(h, ...)), then go through the table of libcurl's
 * functions cli_curl_load filled (each name below is a macro for its entry).
 * libcurl's types and constants are its own header's.
 *
 * Thread safety: cli_curl_load is called on the main thread before threads
 * start; the table is only read after that.
 */
#ifndef FCPIVOT_CLI_CURL_H
#define FCPIVOT_CLI_CURL_H

#include <stddef.h>
#define CURL_DISABLE_TYPECHECK 1   /* plain prototypes: the names become macros below */
#include <curl/curl.h>

/* The libcurl functions fcpivot calls: X(return type, name without "curl_",
 * parameters). */
#define CLI_CURL_FUNCTIONS(X)                                                                  \
    X(CURLcode, global_init, (long flags))                                                     \
    X(void, global_cleanup, (void))                                                            \
    X(CURL *, easy_init, (void))                                                               \
    X(void, easy_cleanup, (CURL *h))                                                           \
    X(CURLcode, easy_setopt, (CURL *h, CURLoption option, ...))                                \
    X(CURLcode, easy_getinfo, (CURL *h, CURLINFO info, ...))                                   \
    X(CURLcode, easy_perform, (CURL *h))                                                       \
    X(const char *, easy_strerror, (CURLcode code))                                            \
    X(char *, easy_unescape, (CURL *h, const char *s, int len, int *outlen))                   \
    X(void, free, (void *p))                                                                   \
    X(struct curl_slist *, slist_append, (struct curl_slist *l, const char *s))                \
    X(void, slist_free_all, (struct curl_slist *l))                                            \
    X(CURLU *, url, (void))                                                                    \
    X(void, url_cleanup, (CURLU *u))                                                           \
    X(CURLUcode, url_get, (CURLU *u, CURLUPart part, char **out, unsigned int flags))    \
    X(CURLUcode, url_set, (CURLU *u, CURLUPart part, const char *s, unsigned int flags))       \
    X(time_t, getdate, (const char *s, const time_t *unused))                                  \
    X(CURLM *, multi_init, (void))                                                             \
    X(CURLMcode, multi_cleanup, (CURLM *m))                                                    \
    X(CURLMcode, multi_add_handle, (CURLM *m, CURL *h))                                        \
    X(CURLMcode, multi_remove_handle, (CURLM *m, CURL *h))                                     \
    X(CURLMcode, multi_setopt, (CURLM *m, CURLMoption option, ...))                            \
    X(CURLMcode, multi_perform, (CURLM *m, int *running))                                      \
    X(CURLMcode, multi_poll, (CURLM *m, struct curl_waitfd *fds, unsigned int n, int ms,       \
                              int *numfds))                                                    \
    X(CURLMsg *, multi_info_read, (CURLM *m, int *left))

#define CLI_CURL_FIELD(ret, name, params) ret (*name) params;
typedef struct cli_curl_api {
    CLI_CURL_FUNCTIONS(CLI_CURL_FIELD)
} cli_curl_api;
#undef CLI_CURL_FIELD

/* Loads libcurl (once; later calls return at once): 0, or -1 with the
 * reason in err. */
int cli_curl_load(char *err, size_t errsz);

/* The loaded table (borrowed, process-wide); only after cli_curl_load
 * returned 0. */
const cli_curl_api *cli_curl_api_table(void);

/* curl.h makes these three macros of themselves (to count arguments). */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_multi_setopt
#define curl_global_init (cli_curl_api_table()->global_init)
#define curl_global_cleanup (cli_curl_api_table()->global_cleanup)
#define curl_easy_init (cli_curl_api_table()->easy_init)
#define curl_easy_cleanup (cli_curl_api_table()->easy_cleanup)
#define curl_easy_setopt (cli_curl_api_table()->easy_setopt)
#define curl_easy_getinfo (cli_curl_api_table()->easy_getinfo)
#define curl_easy_perform (cli_curl_api_table()->easy_perform)
#define curl_easy_strerror (cli_curl_api_table()->easy_strerror)
#define curl_easy_unescape (cli_curl_api_table()->easy_unescape)
#define curl_free (cli_curl_api_table()->free)
#define curl_slist_append (cli_curl_api_table()->slist_append)
#define curl_slist_free_all (cli_curl_api_table()->slist_free_all)
#define curl_url (cli_curl_api_table()->url)
#define curl_url_cleanup (cli_curl_api_table()->url_cleanup)
#define curl_url_get (cli_curl_api_table()->url_get)
#define curl_url_set (cli_curl_api_table()->url_set)
#define curl_getdate (cli_curl_api_table()->getdate)
#define curl_multi_init (cli_curl_api_table()->multi_init)
#define curl_multi_cleanup (cli_curl_api_table()->multi_cleanup)
#define curl_multi_add_handle (cli_curl_api_table()->multi_add_handle)
#define curl_multi_remove_handle (cli_curl_api_table()->multi_remove_handle)
#define curl_multi_setopt (cli_curl_api_table()->multi_setopt)
#define curl_multi_perform (cli_curl_api_table()->multi_perform)
#define curl_multi_poll (cli_curl_api_table()->multi_poll)
#define curl_multi_info_read (cli_curl_api_table()->multi_info_read)

#endif
