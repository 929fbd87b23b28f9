/* cli_eval_roll — the text of one rollout (see cli_eval_roll.h).
 *
 * How it works: a row is scanned once (jtext_object) for the spans of the
 * members a rollout needs. Overrides are applied with jtext_set_member one
 * after another, so every other byte of responses_create_params is kept.
 * A rollout line is assembled with "reward":null and "category":null
 * placeholders in their places and handed to verify_text_kinds, which
 * grades it and writes the verdict over the placeholders; the "fcpivot"
 * object is then appended as the last member. A written line is therefore a
 * `fcpivot grade` input that gives the same verdict, by construction.
 */
#include "cli_eval_roll.h"

#include <stdio.h>
#include <string.h>
#include "jtext.h"
#include "verify.h"

#define BODY_PREFIX_MAX 2048

/* The parameters of the Responses API's create call (OpenAI's reference). */
static const char *const RESPONSES_PARAMS[] = {
    "background", "conversation", "include", "input", "instructions", "max_output_tokens",
    "max_tool_calls", "metadata", "model", "parallel_tool_calls", "previous_response_id",
    "prompt", "prompt_cache_key", "reasoning", "safety_identifier", "service_tier", "store",
    "stream", "stream_options", "temperature", "text", "tool_choice", "tools",
    "top_logprobs", "top_p", "truncation", "user",
};

bool evroll_param_known(const char *key)
{
    for (size_t i = 0; i < sizeof RESPONSES_PARAMS / sizeof RESPONSES_PARAMS[0]; i++)
        if (!strcmp(key, RESPONSES_PARAMS[i]))
            return true;
    return false;
}

/* ---- rows ------------------------------------------------------------------------- */

static int on_row_member(void *ctx, const jtext_member *m)
{
    evroll_row *r = ctx;
    jtext_span s = {m->v, (size_t)(m->end - m->v)};
    if (jtext_member_is(m, "responses_create_params"))
        r->params = s;
    else if (jtext_member_is(m, "expected_action"))
        r->expected = s;
    else if (jtext_member_is(m, "agent_ref"))
        r->agent_ref = s;
    else if (jtext_member_is(m, "trajectory_id"))
        r->trajectory_id = s;
    else if (jtext_member_is(m, "info"))
        r->info = s;
    return 0;
}

int evroll_row_parse(const char *row, size_t len, evroll_row *out, char *err, size_t errsz)
{
    memset(out, 0, sizeof *out);
    if (jtext_object(row, len, JTEXT_BIG_INTS, on_row_member, out, err, errsz))
        return -1;
    if (!out->params.p || *out->params.p != '{' || !out->expected.p) {
        snprintf(err, errsz, "the row has no responses_create_params object or expected_action");
        return -1;
    }
    if (out->agent_ref.p && !strncmp(out->agent_ref.p, "null", 4))
        out->agent_ref.p = NULL;
    return 0;
}

/* ---- overrides -------------------------------------------------------------------------- */

int evroll_override_add(evroll_overrides *o, const char *key, const char *val, char *err,
                        size_t errsz)
{
    if (!evroll_param_known(key)) {
        snprintf(err, errsz, "'%s' is not a parameter of the Responses API", key);
        return -1;
    }
    if (!jtext_valid(val, strlen(val), JTEXT_BIG_INTS, NULL, 0)) {
        snprintf(err, errsz, "the value of '%s' is not JSON: %s", key, val);
        return -1;
    }
    for (size_t i = 0; i < o->n; i++)
        if (!strcmp(o->keys[i], key)) {
            o->vals[i] = val;
            return 0;
        }
    if (o->n == sizeof o->keys / sizeof o->keys[0]) {
        snprintf(err, errsz, "too many overrides");
        return -1;
    }
    o->keys[o->n] = key;
    o->vals[o->n++] = val;
    return 0;
}

/* reasoning.effort = E, keeping the rest of an existing reasoning object. */
static int set_effort(const char *params, size_t len, const char *effort, util_buf *out,
                      char *err, size_t errsz)
{
    if (!jtext_valid(params, len, JTEXT_BIG_INTS, err, errsz))
        return -1;
    jtext_span found = jtext_get((jtext_span){params, len}, JTEXT_BIG_INTS, "reasoning");
    util_buf val = UTIL_BUF_INIT, eff = UTIL_BUF_INIT;
    int rc = util_buf_json_string(&eff, effort, strlen(effort));
    if (!rc && found.p && *found.p == '{')
        rc = jtext_set_member(found.p, found.len, JTEXT_BIG_INTS, "effort", eff.data,
                              eff.len, &val, err, errsz);
    else if (!rc)
        rc = util_buf_puts(&val, "{\"effort\":") || util_buf_append(&val, eff.data, eff.len) ||
             util_buf_putc(&val, '}');
    if (!rc)
        rc = jtext_set_member(params, len, JTEXT_BIG_INTS, "reasoning", val.data, val.len, out,
                              err, errsz);
    util_buf_free(&val);
    util_buf_free(&eff);
    return rc ? -1 : 0;
}

int evroll_apply(const evroll_overrides *o, const char *params, size_t len, util_buf *out,
                 char *err, size_t errsz)
{
    util_buf a = UTIL_BUF_INIT, b = UTIL_BUF_INIT;
    const char *cur = params;
    size_t cur_len = len;
    int rc = 0;
    for (size_t i = 0; i <= o->n && !rc; i++) {
        util_buf *dst = (i % 2) ? &b : &a;
        dst->len = 0;
        if (i < o->n)
            rc = jtext_set_member(cur, cur_len, JTEXT_BIG_INTS, o->keys[i], o->vals[i],
                                  strlen(o->vals[i]), dst, err, errsz);
        else if (o->reasoning_effort)
            rc = set_effort(cur, cur_len, o->reasoning_effort, dst, err, errsz);
        else
            break;
        cur = dst->data;
        cur_len = dst->len;
    }
    if (!rc)
        rc = util_buf_append(out, cur, cur_len);
    util_buf_free(&a);
    util_buf_free(&b);
    if (rc == -2 || (rc && !err[0]))
        snprintf(err, errsz, "out of memory");
    return rc ? -1 : 0;
}

/* ---- lines ------------------------------------------------------------------------------ */

static int put_span_or(util_buf *b, jtext_span s, const char *dflt)
{
    return s.p ? util_buf_append(b, s.p, s.len) : util_buf_puts(b, dflt);
}

int evroll_input_line(const char *row, size_t len, const evroll_row *r, const char *params,
                      size_t plen, long task, long repeat, util_buf *out, char *err,
                      size_t errsz)
{
    util_buf a = UTIL_BUF_INIT, b = UTIL_BUF_INIT;
    char num[32];
    int rc = jtext_set_member(row, len, JTEXT_BIG_INTS, "responses_create_params", params,
                              plen, &a, err, errsz);
    int n = snprintf(num, sizeof num, "%ld", task);
    rc = rc ? rc : jtext_set_member(a.data, a.len, JTEXT_BIG_INTS, "_ng_task_index", num,
                                    (size_t)n, &b, err, errsz);
    a.len = 0;
    n = snprintf(num, sizeof num, "%ld", repeat);
    rc = rc ? rc : jtext_set_member(b.data, b.len, JTEXT_BIG_INTS, "_ng_rollout_index", num,
                                    (size_t)n, &a, err, errsz);
    b.len = 0;
    const char *ref = r->agent_ref.p ? r->agent_ref.p : EVROLL_DEFAULT_AGENT_REF;
    size_t rlen = r->agent_ref.p ? r->agent_ref.len : strlen(EVROLL_DEFAULT_AGENT_REF);
    rc = rc ? rc : jtext_set_member(a.data, a.len, JTEXT_BIG_INTS, "agent_ref", ref, rlen, &b,
                                    err, errsz);
    if (!rc)
        rc = util_buf_append(out, b.data, b.len) || util_buf_putc(out, '\n') ? -2 : 0;
    if (rc == -2)
        snprintf(err, errsz, "out of memory");
    util_buf_free(&a);
    util_buf_free(&b);
    return rc ? -1 : 0;
}

static int put_ms(util_buf *b, double ms)
{
    char t[32];
    util_float_repr(ms < 0 ? 0 : (double)(long long)(ms * 10.0 + 0.5) / 10.0, t, sizeof t);
    return util_buf_puts(b, t);
}

int evroll_line(const grade_config *cfg, const evroll_row *r, const char *params, size_t plen,
                const char *response, size_t rlen, const evroll_meta *m, util_buf *out,
                grade_verdict *v, char *err, size_t errsz)
{
    util_buf in = UTIL_BUF_INIT;
    size_t mark = out->len;
    int bad = util_buf_puts(&in, "{\"responses_create_params\":") ||
              util_buf_append(&in, params, plen) || util_buf_puts(&in, ",\"response\":") ||
              util_buf_append(&in, response, rlen) ||
              util_buf_puts(&in, ",\"reward\":null,\"expected_action\":") ||
              util_buf_append(&in, r->expected.p, r->expected.len) ||
              util_buf_printf(&in, ",\"category\":null,\"_ng_task_index\":%ld,"
                                   "\"_ng_rollout_index\":%ld,\"agent_ref\":",
                              m->task, m->repeat) ||
              put_span_or(&in, r->agent_ref, EVROLL_DEFAULT_AGENT_REF) ||
              util_buf_putc(&in, '}');
    verify_kinds k = {"none", "none"};
    int rc = bad ? VERIFY_NOMEM
                 : verify_text_kinds(cfg, in.data, in.len, VERIFY_COMPACT, out, v, &k, err, errsz);
    util_buf_free(&in);
    if (rc != VERIFY_OK) {
        out->len = mark;
        if (rc == VERIFY_NOMEM)
            snprintf(err, errsz, "out of memory");
        return -1;
    }
    out->len--;   /* the final '}' */
    bad = util_buf_printf(out, ",\"fcpivot\":{\"row\":%zu,\"trajectory_id\":", m->line) ||
          put_span_or(out, r->trajectory_id, "null") || util_buf_puts(out, ",\"info\":") ||
          put_span_or(out, r->info, "null") ||
          util_buf_printf(out, ",\"attempts\":%u,\"latency_ms\":", m->attempts) ||
          put_ms(out, m->latency_ms) || util_buf_puts(out, ",\"finish_reason\":") ||
          (m->finish_reason ? util_buf_json_string(out, m->finish_reason, strlen(m->finish_reason))
                            : util_buf_puts(out, "null")) ||
          util_buf_puts(out, ",\"expected_type\":") ||
          util_buf_json_string(out, k.expected, strlen(k.expected)) ||
          util_buf_puts(out, ",\"actual_type\":") ||
          util_buf_json_string(out, k.actual, strlen(k.actual)) ||
          util_buf_puts(out, ",\"anomalies\":") ||
          (m->anomalies ? util_buf_append(out, m->anomalies, m->anomalies_len)
                        : util_buf_puts(out, "[]")) ||
          util_buf_puts(out, "}}\n");
    if (bad) {
        out->len = mark;
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    return 0;
}

/* The longest prefix of s[0..n) of at most max bytes that does not split a
 * UTF-8 sequence. */
static size_t utf8_prefix(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return n;
    size_t k = max;
    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
        k--;
    return k;
}

int evroll_failure_line(const evroll_row *r, const evroll_failure *f, util_buf *out)
{
    size_t blen = utf8_prefix(f->body ? f->body : "", f->body_len, BODY_PREFIX_MAX);
    int bad = util_buf_printf(out, "{\"_ng_task_index\":%ld,\"_ng_rollout_index\":%ld,"
                                   "\"agent_ref\":", f->task, f->repeat) ||
              put_span_or(out, r ? r->agent_ref : (jtext_span){NULL, 0}, EVROLL_DEFAULT_AGENT_REF) ||
              util_buf_puts(out, ",\"_ng_failure_class\":\"agent_request_failed\","
                                 "\"fcpivot\":{\"error\":") ||
              util_buf_json_string(out, f->error, strlen(f->error)) ||
              util_buf_puts(out, ",\"http_status\":") ||
              (f->http_status ? util_buf_printf(out, "%ld", f->http_status)
                              : util_buf_puts(out, "null")) ||
              util_buf_puts(out, ",\"message\":") ||
              util_buf_json_string(out, f->message, strlen(f->message)) ||
              util_buf_puts(out, ",\"body_prefix\":") ||
              util_buf_json_string(out, f->body ? f->body : "", blen) ||
              util_buf_printf(out, ",\"attempts\":%u,\"elapsed_ms\":", f->attempts) ||
              put_ms(out, f->elapsed_ms) || util_buf_puts(out, "}}\n");
    return bad ? -1 : 0;
}
