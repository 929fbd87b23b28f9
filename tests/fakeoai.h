/* fakeoai — a loopback fake of an OpenAI-compatible model server for the
 * `fcpivot eval` tests and benchmark: GET /v1/models, POST
 * /v1/chat/completions (replies shaped like vLLM's and llama.cpp's) and POST
 * /v1/responses (shaped like OpenAI's), HTTP/1.1 with keep-alive, one thread
 * per connection.
 *
 * What it answers is scripted per row: a request whose text contains the
 * marker "[[fake K R]]" (case K, row R) gets the reply of case K for row R
 * (FO_* below), faults included; a request without a marker gets a plain
 * assistant message. Generated test rows carry the marker in their user
 * message and expect the call lookup({"id": R}).
 */
#ifndef FCPIVOT_FAKEOAI_H
#define FCPIVOT_FAKEOAI_H

#include <stdbool.h>
#include <stddef.h>

enum {
    FO_CORRECT,        /* the expected call lookup({"id": R}) */
    FO_WRONG_NAME,     /* search({"id": R}) */
    FO_PERTURBED,      /* lookup({"id": R + 1}) */
    FO_MESSAGE,        /* a chat message */
    FO_REASONING,      /* reasoning_content + the expected call */
    FO_THINK,          /* inline <think>…</think> + the expected call */
    FO_SEVERAL,        /* two calls */
    FO_NO_ID,          /* the expected call without an id */
    FO_BAD_JSON,       /* arguments that are not JSON */
    FO_EMPTY,          /* an empty completion */
    FO_LENGTH,         /* finish_reason "length", partial text */
    FO_429,            /* 429 with Retry-After: 1 on the first attempt, then correct */
    FO_500,            /* 500 on the first attempt, then correct */
    FO_503,            /* 503 on the first attempt, then correct */
    FO_STALL,          /* the first attempt stalls (fo_options.stall_s), then correct */
    FO_DROP,           /* the first attempt's connection is closed unanswered */
    FO_NON_JSON,       /* the first attempt gets a 200 with an HTML body */
    FO_400,            /* always 400 (a permanent refusal) */
    FO_CONTEXT,        /* always 400 "maximum context length" */
    FO_ALWAYS_500,     /* always 500 */
    FO_REASONING_FIELD,/* "reasoning" (vLLM's newer field) + a message */
    FO_429_DATE,       /* 429 with Retry-After as an HTTP date 2 s ahead, then correct */
    FO_CASES
};

typedef enum {
    FO_MODE_NORMAL,
    FO_MODE_AUTH,      /* every request 401, echoing the Authorization header */
    FO_MODE_ALL_400,   /* every completion 400 (a misconfigured server) */
} fo_mode;

typedef struct fo_options {
    fo_mode mode;
    double stall_s;          /* FO_STALL's first attempt (default 5) */
    const char *models_json; /* GET /models reply (default: one model "fake-model") */
    double delay_s;          /* every completion waits this long first (0) */
} fo_options;

typedef struct fo_server fo_server;

/* Starts listening on 127.0.0.1 (ephemeral port). NULL on failure. */
fo_server *fo_start(const fo_options *o);
unsigned fo_port(const fo_server *s);
/* Stops: closes every connection and joins every thread (bounded). */
void fo_stop(fo_server *s);

/* Completion requests received (all rows), and the most answered at once. */
size_t fo_requests(fo_server *s);
size_t fo_max_in_flight(fo_server *s);
/* The most second-or-later attempts (retries) answered at once. */
size_t fo_max_retry_in_flight(fo_server *s);
/* Attempts seen for row R, and the monotonic time of attempt i (< 16). */
size_t fo_attempts(fo_server *s, long row);
double fo_attempt_time(fo_server *s, long row, size_t i);
/* Connections accepted. */
size_t fo_connections(fo_server *s);
/* A copy (caller frees) of the last completion request body, or NULL. */
char *fo_last_body(fo_server *s);

/* The test row for case K, row R (one JSONL line without '\n', caller
 * frees): a user message with the marker, the tool lookup and the expected
 * call lookup({"id": R}). */
char *fo_row(int k, long r);

#endif
