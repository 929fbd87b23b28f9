/* Fuzz target: the HTTP framing decision (http_framing_check), called
 * directly on fuzzer-chosen request heads, no sockets (the `http` target
 * covers the same path end to end, at a few hundred runs a second).
 *
 * Input: the header section of a request head, one header a line ("\n",
 * an optional "\r" before it dropped), each split at its first ':' into name
 * and value, the value's leading blanks dropped as libmicrohttpd does; a
 * line without ':' is no header (libmicrohttpd would refuse the request),
 * at most MAX_HEADERS headers. Checks: the verdict (status and detail) is
 * the one an independent oracle of docs/http-api.md §10 gives, in the
 * order the rules are listed there: Content-Length with Transfer-Encoding
 * 400, two Content-Length values that differ 400, a Transfer-Encoding other
 * than exactly one "chunked" (any case) 501, else accepted (detail NULL);
 * and a second call on the same headers gives the same verdict. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "fuzzutil.h"
#include "http.h"

#define MAX_HEADERS 64

/* ASCII case-insensitive equality, written apart from http.c's strcasecmp. */
static bool same_token(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = (*a >= 'A' && *a <= 'Z') ? (char)(*a + 32) : *a;
        char y = (*b >= 'A' && *b <= 'Z') ? (char)(*b + 32) : *b;
        if (x != y)
            return false;
    }
    return *a == *b;
}

typedef struct verdict {
    int status;
    const char *detail;
} verdict;

/* docs/http-api.md §10, rule by rule. */
static verdict oracle(const http_header *h, size_t n)
{
    const char *lengths[MAX_HEADERS], *codings[MAX_HEADERS];
    size_t nl = 0, nc = 0;
    for (size_t i = 0; i < n; i++) {
        if (same_token(h[i].name, "Content-Length"))
            lengths[nl++] = h[i].value;
        else if (same_token(h[i].name, "Transfer-Encoding"))
            codings[nc++] = h[i].value;
    }
    if (nl > 0 && nc > 0)
        return (verdict){400, "Content-Length and Transfer-Encoding must not be combined"};
    for (size_t i = 1; i < nl; i++)
        if (strcmp(lengths[i], lengths[0]) != 0)
            return (verdict){400, "conflicting Content-Length values"};
    if (nc > 1 || (nc == 1 && !same_token(codings[0], "chunked")))
        return (verdict){501, "Transfer-Encoding other than chunked is not supported"};
    return (verdict){0, NULL};
}

/* Splits the input (copied to text, NUL-terminated pieces) into headers. */
static size_t parse_head(char *text, size_t size, http_header *h)
{
    size_t n = 0;
    char *p = text, *end = text + size;
    while (p < end && n < MAX_HEADERS) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *eol = nl ? nl : end;
        if (eol > p && eol[-1] == '\r')
            eol[-1] = '\0';
        *eol = '\0';
        char *colon = strchr(p, ':');
        if (colon) {
            *colon = '\0';
            char *v = colon + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            h[n++] = (http_header){p, v};
        }
        p = eol + 1;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    http_header h[MAX_HEADERS];
    size_t n = parse_head(text, size, h);
    const char *why = "unset";
    int status = http_framing_check(h, n, &why);
    verdict want = oracle(h, n);
    FUZZ_CHECK(status == want.status, "status %d, the rules say %d (%zu headers)", status,
               want.status, n);
    if (want.detail)
        FUZZ_CHECK(why && !strcmp(why, want.detail), "detail '%s', the rules say '%s'",
                   why ? why : "(null)", want.detail);
    else
        FUZZ_CHECK(why == NULL, "accepted with a detail '%s'", why);
    const char *why2 = NULL;
    FUZZ_CHECK(http_framing_check(h, n, &why2) == status && why2 == why, "not repeatable");
    free(text);
    return 0;
}
