/* rollout — one rollouts-file line → the facts a report needs (see rollout.h).
 *
 * How it works: one jtext_object pass validates the line and records the
 * value spans of the members of interest (the last of each, as Python keeps
 * the last duplicate). The small ones are then built with jtext_build; of the
 * response only the members named in RESPONSE_KEYS are built (jtext_pick).
 * The expected action and the actual kind come from the grader itself, so a
 * report classifies a response exactly as the verdict did.
 */
#include "rollout.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include "jtext.h"

enum { M_RESPONSE, M_EXPECTED, M_FCPIVOT, M_INFO, M_REWARD, M_CATEGORY, M_TASK, M_REPEAT,
       M_COUNT };
static const char *const MEMBER[M_COUNT] = {"response", "expected_action", "fcpivot", "info",
                                            "reward", "category", "_ng_task_index",
                                            "_ng_rollout_index"};
static const char *const RESPONSE_KEYS[] = {"output", "usage", "status", "incomplete_details",
                                            "model"};

typedef struct span {
    const char *v, *end;
} span;

static int on_member(void *ctx, const jtext_member *m)
{
    span *s = ctx;
    for (int i = 0; i < M_COUNT; i++)
        if (jtext_member_is(m, MEMBER[i])) {
            s[i] = (span){m->v, m->end};
            break;
        }
    return 0;
}

static json_t *build(span s)
{
    return s.v ? jtext_build(s.v, (size_t)(s.end - s.v), ROLLOUT_JTEXT_FLAGS) : NULL;
}

/* A member that must be a non-negative integer: 0 and *out (−1 when absent),
 * or −1 with a reason. */
static int index_member(span s, const char *name, int64_t *out, char *err, size_t errsz)
{
    *out = -1;
    if (!s.v || (s.end - s.v == 4 && !memcmp(s.v, "null", 4)))
        return 0;
    json_t *j = build(s);
    int rc = 0;
    if (json_is_integer(j) && json_integer_value(j) >= 0)
        *out = json_integer_value(j);
    else {
        snprintf(err, errsz, "%s: must be a non-negative integer", name);
        rc = -1;
    }
    json_decref(j);
    return rc;
}

static int verdict_members(const span *s, rollout *r, char *err, size_t errsz)
{
    if (!s[M_REWARD].v || !s[M_CATEGORY].v) {
        snprintf(err, errsz, "%s: field required (grade the file first, or use --regrade)",
                 s[M_REWARD].v ? "category" : "reward");
        return -1;
    }
    json_t *reward = build(s[M_REWARD]), *cat = build(s[M_CATEGORY]);
    int rc = -1;
    if (!json_is_number(reward) || !isfinite(json_number_value(reward)))
        snprintf(err, errsz, "reward: must be a finite number");
    else if (!json_is_string(cat))
        snprintf(err, errsz, "category: must be a string");
    else if (grade_category_from_text(json_string_value(cat), &r->category))
        snprintf(err, errsz, "category: unknown category '%.200s'", json_string_value(cat));
    else {
        r->reward = json_number_value(reward);
        rc = 0;
    }
    json_decref(reward);
    json_decref(cat);
    return rc;
}

static int64_t int_or(const json_t *obj, const char *key, int64_t dflt)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_integer(v) ? json_integer_value(v) : dflt;
}

static void usage_facts(rollout *r, const json_t *response)
{
    const json_t *u = json_object_get(response, "usage");
    if (!json_is_object(u))
        return;
    r->has_usage = true;
    r->tokens_input = int_or(u, "input_tokens", 0);
    r->tokens_output = int_or(u, "output_tokens", 0);
    r->tokens_cached = int_or(json_object_get(u, "input_tokens_details"), "cached_tokens", 0);
    r->tokens_reasoning =
        int_or(json_object_get(u, "output_tokens_details"), "reasoning_tokens", 0);
}

static const char *string_of(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));   /* NULL unless a string */
}

static void finish_facts(rollout *r, const json_t *response, const json_t *fc)
{
    r->finish_reason = string_of(fc, "finish_reason");
    if (r->finish_reason)
        return;
    const char *status = string_of(response, "status");
    const char *why = string_of(json_object_get(response, "incomplete_details"), "reason");
    r->finish_reason = status && !strcmp(status, "incomplete") && why ? why : status;
}

static void fcpivot_facts(rollout *r, const json_t *fc, const json_t *top_info)
{
    const json_t *info = json_object_get(fc, "info");
    if (!json_is_object(info))
        info = top_info;
    r->depth = int_or(info, "depth", -1);
    r->turn = int_or(info, "turn", -1);
    const json_t *lat = json_object_get(fc, "latency_ms");
    r->latency_ms = json_is_number(lat) ? json_number_value(lat) : NAN;
    r->attempts = int_or(fc, "attempts", -1);
    const json_t *an = json_object_get(fc, "anomalies");
    r->anomalies = json_is_array(an) ? an : NULL;
}

static int action_facts(rollout *r, const json_t *response, const json_t *expected, char *err,
                        size_t errsz)
{
    char why[256];
    if (!json_is_object(expected)) {
        snprintf(err, errsz, "expected_action: %s", expected ? "must be an object" : "field required");
        return -1;
    }
    if (!(r->expected = grade_expected_unparsed(expected, why, sizeof why))) {
        snprintf(err, errsz, "expected_action: %s", why);
        return -1;
    }
    grade_action *actual = grade_actual_from_response(response, why, sizeof why);
    if (!actual) {
        snprintf(err, errsz, "response: %s", why);
        return -1;
    }
    r->actual_kind = grade_action_kind_of(actual);
    grade_action_free(actual);
    return 0;
}

int rollout_parse(const char *line, size_t len, rollout *r, char *err, size_t errsz)
{
    memset(r, 0, sizeof *r);
    r->depth = r->turn = r->attempts = r->task = r->repeat = -1;
    r->latency_ms = NAN;
    span s[M_COUNT];
    memset(s, 0, sizeof s);
    if (jtext_object(line, len, ROLLOUT_JTEXT_FLAGS, on_member, s, err, errsz))
        return -1;
    if (!s[M_RESPONSE].v || *s[M_RESPONSE].v != '{') {
        snprintf(err, errsz, "response: %s", s[M_RESPONSE].v ? "must be an object" : "field required");
        return -1;
    }
    if (verdict_members(s, r, err, errsz) ||
        index_member(s[M_TASK], MEMBER[M_TASK], &r->task, err, errsz) ||
        index_member(s[M_REPEAT], MEMBER[M_REPEAT], &r->repeat, err, errsz))
        return -1;
    r->has_index = r->task >= 0 && r->repeat >= 0;
    span rs = s[M_RESPONSE];
    json_t *response = r->held[0] = jtext_pick(rs.v, (size_t)(rs.end - rs.v), ROLLOUT_JTEXT_FLAGS,
                                                RESPONSE_KEYS,
                                                sizeof RESPONSE_KEYS / sizeof RESPONSE_KEYS[0]);
    json_t *expected = r->held[1] = build(s[M_EXPECTED]);
    json_t *fc = r->held[2] = build(s[M_FCPIVOT]);
    json_t *info = r->held[3] = build(s[M_INFO]);
    if (!response || (s[M_EXPECTED].v && !expected) || (s[M_FCPIVOT].v && !fc) ||
        (s[M_INFO].v && !info)) {
        snprintf(err, errsz, "out of memory");
        rollout_clear(r);
        return -1;
    }
    if (action_facts(r, response, expected, err, errsz)) {
        rollout_clear(r);
        return -1;
    }
    if (!json_is_object(fc))
        fc = NULL;
    fcpivot_facts(r, fc, json_is_object(info) ? info : NULL);
    usage_facts(r, response);
    finish_facts(r, response, fc);
    r->model = string_of(response, "model");
    return 0;
}

void rollout_clear(rollout *r)
{
    grade_action_free(r->expected);
    r->expected = NULL;
    for (size_t i = 0; i < sizeof r->held / sizeof r->held[0]; i++) {
        json_decref(r->held[i]);
        r->held[i] = NULL;
    }
}

int rollout_depth_bucket(int64_t depth)
{
    if (depth < 0)
        return ROLLOUT_DEPTH_UNKNOWN;
    return depth <= 2 ? 0 : depth <= 5 ? 1 : depth <= 10 ? 2 : 3;
}

const char *rollout_depth_label(int bucket)
{
    static const char *const LABEL[ROLLOUT_DEPTH_BUCKETS + 1] = {"1-2", "3-5", "6-10", "11+",
                                                                 "unknown"};
    return bucket >= 0 && bucket <= ROLLOUT_DEPTH_BUCKETS ? LABEL[bucket] : "unknown";
}
