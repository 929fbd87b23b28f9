/* test_ors_fixture — a small dataset and helpers shared by the ORS tests:
 * opens the rows below as splits train/test/dev, builds an ors_env with a
 * controllable clock, and calls handlers with wire_requests (no HTTP). */
#ifndef FCPIVOT_TEST_ORS_FIXTURE_H
#define FCPIVOT_TEST_ORS_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "testutil.h"
#include "ors.h"

/* train-0: function call expected; every kind of input item; metadata.
 * train-1: chat message expected; a Chat-Completions-shaped tool without
 *          description or parameters.
 * train-2: a batch of two calls expected; tool_choice and parallel calls.
 * train-3: the row has its own submit_message tool (a function call).
 * train-4: function call with a nested object argument. */
#define FX_TRAIN                                                                              \
    "{\"responses_create_params\":{\"input\":["                                               \
    "{\"role\":\"system\",\"content\":\"You are a weather bot.\",\"type\":\"message\"},"      \
    "{\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"Weather in Paris?\"}]," \
    "\"type\":\"message\"},"                                                                  \
    "{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":[{\"type\":\"summary_text\","         \
    "\"text\":\"SECRET-THOUGHT\"}]},"                                                         \
    "{\"type\":\"function_call\",\"name\":\"get_time\",\"arguments\":\"{\\\"tz\\\": \\\"CET\\\"}\"," \
    "\"call_id\":\"call_9\",\"id\":\"fc_1\",\"status\":\"completed\"},"                       \
    "{\"type\":\"function_call_output\",\"call_id\":\"call_9\",\"output\":\"14:00 CET\"},"   \
    "{\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"Let me check.\"}]," \
    "\"type\":\"message\"}],"                                                                 \
    "\"tools\":[{\"type\":\"function\",\"name\":\"get_weather\",\"description\":\"Weather for a city.\"," \
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}},\"strict\":true}," \
    "{\"type\":\"function\",\"name\":\"get_time\",\"description\":\"Time in a zone.\","       \
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"tz\":{\"type\":\"string\"}}}}]},"   \
    "\"expected_action\":{\"type\":\"function_call\",\"name\":\"get_weather\","               \
    "\"arguments\":\"{\\\"city\\\": \\\"Paris\\\"}\"},\"trajectory_id\":7,\"info\":{\"turn\":1}}\n" \
    "{\"responses_create_params\":{\"input\":[{\"role\":\"user\",\"content\":\"Hi there\"}],"    \
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"lookup\"}}]},"                \
    "\"expected_action\":{\"type\":\"message\",\"content\":\"Hello! How can I help?\"}}\n"     \
    "{\"responses_create_params\":{\"input\":[{\"role\":\"user\",\"content\":\"Paris and Tokyo?\"}]," \
    "\"tools\":[{\"type\":\"function\",\"name\":\"get_weather\",\"description\":\"W\","       \
    "\"parameters\":{\"type\":\"object\"}}],\"tool_choice\":\"auto\",\"parallel_tool_calls\":true}," \
    "\"expected_action\":{\"type\":\"function_call_batch\",\"calls\":["                       \
    "{\"type\":\"function_call\",\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}," \
    "{\"type\":\"function_call\",\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Tokyo\\\"}\"}]}}\n" \
    "{\"responses_create_params\":{\"input\":[{\"role\":\"user\",\"content\":\"Say hi\"}],"   \
    "\"tools\":[{\"type\":\"function\",\"name\":\"submit_message\",\"description\":\"Own tool.\"," \
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"}}}}]}," \
    "\"expected_action\":{\"type\":\"function_call\",\"name\":\"submit_message\","            \
    "\"arguments\":\"{\\\"text\\\": \\\"hi\\\"}\"}}\n"                                           \
    "{\"responses_create_params\":{\"input\":[{\"role\":\"user\",\"content\":\"Book it\"}],"  \
    "\"tools\":[{\"type\":\"function\",\"name\":\"book\",\"parameters\":{\"type\":\"object\"}}]}," \
    "\"expected_action\":{\"type\":\"function_call\",\"name\":\"book\","                      \
    "\"arguments\":\"{\\\"seat\\\": {\\\"row\\\": 3, \\\"n\\\": [1, 2]}, \\\"note\\\": \\\"window seat please\\\"}\"}}\n"

#define FX_TEST                                                                               \
    "{\"responses_create_params\":{\"input\":[{\"role\":\"user\",\"content\":\"Bye\"}],\"tools\":[]}," \
    "\"expected_action\":{\"type\":\"message\",\"content\":\"Goodbye\"}}\n"

#define FX_DEV FX_TEST FX_TEST

#define FX_ENV "nemotron-fc-pivot"

typedef struct fx {
    char *paths[3];
    ds_dataset *ds;
    metrics *m;
    ors_env *env;
} fx;

extern double fx_now;   /* the fake clock, in seconds */

void fx_open(fx *f, const ors_config *cfg);   /* cfg may be NULL: defaults + fake clock */
/* The same with the given rows as split train (validated, none skipped). */
void fx_open_train(fx *f, const char *train, const ors_config *cfg);
void fx_close(fx *f);

/* Calls handler with the given request parts; body may be NULL. The reply
 * must be freed with wire_reply_free. */
typedef void (*fx_handler)(ors_env *, const wire_request *, wire_reply *);
wire_reply fx_call(fx *f, fx_handler h, const char *param, const char *sid, const char *body);
/* The reply body parsed as JSON (new reference; fails the test if invalid). */
json_t *fx_json(const wire_reply *r);
/* Asserts status and {"detail": detail}. */
void fx_expect_detail(const wire_reply *r, int status, const char *detail);
/* Creates session sid on train[index]; asserts success. */
void fx_create(fx *f, const char *sid, int index);
/* POSTs /{env}/call and returns the reassembled result JSON of the stream
 * (asserting its framing); *call_id receives the task_id (37 bytes) if not NULL. */
json_t *fx_tool_call(fx *f, const char *sid, const char *body, char *call_id);

#endif
