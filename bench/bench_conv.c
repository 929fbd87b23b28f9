/* bench_conv — throughput of eval's conversions (src/conv.h) on real rows.
 *
 *   bench_conv [FILE.jsonl] [--seconds S]
 *
 * Takes the responses_create_params of every row of FILE (default
 * data/sample.jsonl), then for S seconds [2] converts them round robin to
 * Chat Completions bodies, and for as long again converts a typical tool-call
 * completion back to a Responses object with each row's params. Prints
 * conversions/s and input MB/s for both directions. Figures only.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "conv.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char **load_params(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char **v = NULL, *line = NULL;
    size_t cap = 0, len = 0;
    ssize_t got;
    *n = 0;
    while ((got = getline(&line, &cap, f)) > 0) {
        json_t *row = json_loadb(line, (size_t)got, 0, NULL);
        json_t *p = row ? json_object_get(row, "responses_create_params") : NULL;
        if (p) {
            if (*n == len) {
                len = len ? 2 * len : 64;
                v = realloc(v, len * sizeof *v);
            }
            v[(*n)++] = json_dumps(p, JSON_COMPACT);
        }
        json_decref(row);
    }
    free(line);
    fclose(f);
    return v;
}

static const char completion[] =
    "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1730000000,\"model\":\"m\","
    "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"reasoning_content\":"
    "\"The user asked for a ticket; I should call create_ticket with the details.\","
    "\"content\":null,\"tool_calls\":[{\"id\":\"chatcmpl-tool-1\",\"type\":\"function\","
    "\"function\":{\"name\":\"create_ticket\",\"arguments\":\"{\\\"priority\\\": 2, "
    "\\\"summary\\\": \\\"Printer offline\\\"}\"}}]},\"finish_reason\":\"tool_calls\"}],"
    "\"usage\":{\"prompt_tokens\":812,\"completion_tokens\":49,\"total_tokens\":861}}";

int main(int argc, char **argv)
{
    const char *path = "data/sample.jsonl";
    double secs = 2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            secs = atof(argv[++i]);
        else
            path = argv[i];
    }
    size_t n;
    char **rows = load_params(path, &n);
    if (!rows || !n) {
        fprintf(stderr, "bench_conv: no rows in %s\n", path);
        return 1;
    }
    conv_request_opts o = {.model = "bench-model"};
    util_buf out = UTIL_BUF_INIT;
    char err[256];
    for (int dir = 0; dir < 2; dir++) {
        size_t done = 0, bytes = 0, failed = 0;
        double t0 = now(), t;
        do {
            for (size_t k = 0; k < 256; k++, done++) {
                const char *p = rows[done % n];
                size_t len = strlen(p);
                out.len = 0;
                int rc = dir == 0 ? conv_chat_request(p, len, &o, &out, NULL, err, sizeof err)
                                  : conv_chat_reply(completion, sizeof completion - 1, p, len, "m",
                                                    done, 0, &out, NULL, err, sizeof err);
                failed += rc != CONV_OK;
                bytes += dir == 0 ? len : sizeof completion - 1;
            }
            t = now() - t0;
        } while (t < secs);
        printf("  %-44s %10.0f /s  (%6.1f MB/s in, %zu rows, %zu failed)\n",
               dir == 0 ? "params -> chat body (conv_chat_request)" : "completion -> response (conv_chat_reply)",
               (double)done / t, (double)bytes / t / 1e6, n, failed);
    }
    util_buf_free(&out);
    for (size_t i = 0; i < n; i++)
        free(rows[i]);
    free(rows);
    return 0;
}
