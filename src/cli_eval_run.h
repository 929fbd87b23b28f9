/* cli_eval_run — the request engine of `fcpivot eval`: many HTTP POSTs in
 * flight over libcurl's multi interface, with the retry, back-off,
 * concurrency and failure rules of docs/eval.md §5. It knows HTTP statuses and
 * transport errors, not rollouts: bodies come from and replies go to the
 * caller's callbacks (evrun_ops).
 *
 * Every job is one upstream request. Its outcome is exactly one of: a 2xx
 * reply the caller accepts (ops.reply returns EVRUN_ACCEPT), a context
 * overflow 400 handed to ops.overflow, a final failure (ops.fail), or — when
 * the run stops early — nothing (the job counts as not run).
 */
#ifndef FCPIVOT_CLI_EVAL_RUN_H
#define FCPIVOT_CLI_EVAL_RUN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "util.h"

/* Retry-After and back-off are capped at this many seconds (docs/eval.md §5). */
#define EVRUN_MAX_DELAY_S 60.0
/* After a 429/503 the limit halves; it grows back by one per this many
 * successes. */
#define EVRUN_GROW_EVERY 20
/* If the first this many replies are all the same 4xx, the run stops. */
#define EVRUN_SAME_4XX_FATAL 20
/* Bytes of a reply body kept in a failure record. */
#define EVRUN_BODY_PREFIX 2048
/* Seconds the first SIGINT/SIGTERM waits for requests in flight. */
#define EVRUN_DRAIN_S 30.0

typedef struct evrun_config {
    const char *const *urls;     /* base URLs (…/v1), borrowed */
    size_t nurls;
    const char *path;            /* appended to a URL: "/chat/completions" */
    const char *api_key;         /* NULL: no Authorization header */
    const char *const *headers;  /* extra "K: V" headers, borrowed */
    size_t nheaders;
    unsigned concurrency;        /* requests in flight, >= 1 */
    double connect_timeout;      /* seconds per attempt; 0 = none */
    double request_timeout;      /* seconds per attempt; 0 = none */
    unsigned max_attempts;       /* >= 1 */
    double retry_deadline;       /* seconds one job may spend retrying */
    FILE *request_log;           /* JSONL of every attempt, or NULL */
    volatile sig_atomic_t *signals; /* SIGINT/SIGTERM count, set by a handler */
} evrun_config;

/* What the caller's ops.reply says about a 2xx reply. */
enum { EVRUN_ACCEPT = 0, EVRUN_BAD_RESPONSE = 1 };

/* One final failure. Strings are valid during the callback only. */
typedef struct evrun_failure {
    const char *error;      /* "timeout", "connect", "http_429", "http_5xx",
                               "http_4xx", "auth", "bad_response" */
    long http_status;       /* 0 when there was no reply */
    const char *message;    /* the reason (key redacted) */
    const char *body;       /* the reply body (key redacted), may be empty */
    size_t body_len;
    unsigned attempts;      /* across runs */
    double elapsed_ms;
    bool deterministic;     /* a 4xx that a resume does not retry */
} evrun_failure;

/* One attempt's timing, for the accepted reply. */
typedef struct evrun_attempt {
    unsigned attempts;      /* across runs */
    double latency_ms;      /* of the last attempt */
    double elapsed_ms;      /* since the job's first attempt in this run */
} evrun_attempt;

typedef struct evrun_stats {
    size_t in_flight, limit, waiting;
    size_t max_in_flight;   /* the most ever in flight */
    size_t retries;         /* attempts beyond each job's first */
} evrun_stats;

typedef struct evrun_ops {
    /* The next job: its id (>= 0) with its body appended to body (empty on
     * entry) and the attempts it already had in earlier runs in *prior; -1
     * when there is none left. */
    long (*next)(void *ctx, util_buf *body, unsigned *prior);
    /* A 2xx reply: EVRUN_ACCEPT (the caller recorded it) or
     * EVRUN_BAD_RESPONSE (not a usable reply: one retry, then a failure). */
    int (*reply)(void *ctx, long id, const char *body, size_t len, const evrun_attempt *a);
    /* A 400 saying the prompt is too long: the caller records it (graded or
     * a failure). */
    void (*overflow)(void *ctx, long id, const char *body, size_t len, const evrun_attempt *a);
    void (*fail)(void *ctx, long id, const evrun_failure *f);
    /* Whether to stop sending (too many failures, a write error); may be NULL. */
    bool (*stop)(void *ctx);
    /* Called about every 200 ms and at the end; may be NULL. */
    void (*progress)(void *ctx, const evrun_stats *st);
} evrun_ops;

typedef enum {
    EVRUN_DONE,          /* every job ran to an outcome */
    EVRUN_STOPPED,       /* ops.stop asked to stop; in-flight jobs finished */
    EVRUN_FATAL,         /* auth / model not found / misconfigured server */
    EVRUN_INTERRUPTED,   /* first signal: drained (up to EVRUN_DRAIN_S) */
    EVRUN_ABANDONED,     /* second signal or drain timeout: in flight dropped */
    EVRUN_NOMEM,
} evrun_end;

typedef struct evrun_result {
    evrun_end end;
    char message[1024];  /* for EVRUN_FATAL: why (key redacted) */
    evrun_stats stats;
} evrun_result;

/* libcurl's process-wide set-up (true: loads it first, cli_curl.h; 0, or
 * -1 with the reason in err) and clean-up (false; after a set-up that
 * returned 0). */
int evrun_global(bool init, char *err, size_t errsz);

/* Runs jobs until none are left or the run stops. Requires evrun_global(true). */
void evrun_run(const evrun_config *cfg, const evrun_ops *ops, void *ctx, evrun_result *out);

/* GET {url}/models with the configured key and headers. Returns the HTTP
 * status (reply body appended to body), or 0 with a transport error in err. */
long evrun_get(const evrun_config *cfg, const char *url, const char *path, util_buf *body,
               char *err, size_t errsz);

/* Replaces every occurrence of key (when non-empty) in b with "***". */
void evrun_redact(util_buf *b, const char *key);

#endif
