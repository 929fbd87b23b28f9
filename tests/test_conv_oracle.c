/* Differential test of conv.h against tests/oracle/conv_oracle.py, a model of
 * docs/eval.md §2 that decodes JSON with CPython and works on Python strings.
 * tests/oracle/gen_conv_cases.py writes deterministic random cases (rows
 * with every kind of item, part, tool and parameter, some invalid, for
 * conv_chat_request and conv_responses_request; chat completions shaped like
 * real servers' for conv_chat_reply); conv and the oracle must agree on
 * each: both refuse it, or both give the same JSON value (ids aside: they
 * are random, so the test checks their shape and removes them). Skips
 * visibly without python3. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "conv.h"
#include "testutil.h"

#define PY "/usr/bin/python3"

static char *run_py(const char *script, const char *a1, const char *a2, const char *in, size_t len)
{
    char rel[128];
    snprintf(rel, sizeof rel, "tests/oracle/%s", script);
    char *path = strdup(tu_path(rel));
    char *argv[] = {PY, path, (char *)a1, (char *)a2, NULL};
    if (!a1)
        argv[2] = NULL;
    char *out, *err;
    int rc = tu_run(argv, in, len, &out, NULL, &err);
    cr_assert_eq(rc, 0, "%s failed: %s", script, err);
    free(err);
    free(path);
    return out;
}

static conv_reasoning reasoning_of(const char *s)
{
    if (s && !strcmp(s, "think"))
        return CONV_REASONING_THINK;
    if (s && !strcmp(s, "drop"))
        return CONV_REASONING_DROP;
    return CONV_REASONING_FIELD;
}

/* conv's answer for one case: the output, or NULL (err says why). */
static json_t *convert(const json_t *c, char *err, size_t errsz)
{
    const char *kind = json_string_value(json_object_get(c, "kind"));
    const char *params = json_string_value(json_object_get(c, "params"));
    util_buf out = UTIL_BUF_INIT;
    int rc;
    if (strcmp(kind, "reply")) {
        json_t *o = json_object_get(c, "opts");
        json_t *seed = json_object_get(o, "seed");
        conv_request_opts opts = {
            .model = json_string_value(json_object_get(o, "model")),
            .reasoning = reasoning_of(json_string_value(json_object_get(o, "reasoning"))),
            .developer_as_system = json_is_true(json_object_get(o, "developer_as_system")),
            .extra_body = json_string_value(json_object_get(o, "extra_body")),
            .chat_template_kwargs = json_string_value(json_object_get(o, "chat_template_kwargs")),
            .has_seed = json_is_integer(seed),
            .seed = json_integer_value(seed),
        };
        rc = !strcmp(kind, "request")
                 ? conv_chat_request(params, strlen(params), &opts, &out, NULL, err, errsz)
                 : conv_responses_request(params, strlen(params), &opts, &out, err, errsz);
    } else {
        const char *comp = json_string_value(json_object_get(c, "completion"));
        rc = conv_chat_reply(comp, strlen(comp), params, params ? strlen(params) : 0,
                             json_string_value(json_object_get(c, "model")), 5,
                             json_integer_value(json_object_get(c, "created_at")), &out, NULL, err,
                             errsz);
    }
    json_t *v = NULL;
    if (rc == CONV_OK) {
        v = json_loadb(out.data, out.len, 0, NULL);
        cr_assert(v, "conv output does not parse: %s", out.data);
    } else {
        cr_assert_eq(rc, CONV_INVALID, "conv returned %d", rc);
    }
    util_buf_free(&out);
    return v;
}

static bool is_id(const char *s, const char *prefix)
{
    size_t n = strlen(prefix);
    if (!s || strncmp(s, prefix, n) || strlen(s) != n + 32)
        return false;
    for (s += n; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

/* Checks and removes the ids of a response (the oracle has none, and null
 * for a synthesised call_id). */
static void strip_ids(json_t *resp, json_t *want)
{
    cr_assert(is_id(json_string_value(json_object_get(resp, "id")), "resp_"));
    json_object_del(resp, "id");
    json_t *items = json_object_get(resp, "output"), *witems = json_object_get(want, "output");
    for (size_t i = 0; i < json_array_size(items); i++) {
        json_t *it = json_array_get(items, i), *w = json_array_get(witems, i);
        const char *type = json_string_value(json_object_get(it, "type"));
        const char *prefix = !type ? "?" : !strcmp(type, "message") ? "msg_"
                                         : !strcmp(type, "reasoning") ? "rs_" : "fc_";
        cr_assert(is_id(json_string_value(json_object_get(it, "id")), prefix), "item %zu id", i);
        json_object_del(it, "id");
        if (w && json_is_null(json_object_get(w, "call_id"))) {
            cr_assert(is_id(json_string_value(json_object_get(it, "call_id")), "call_"));
            json_object_set_new(it, "call_id", json_null());
        }
    }
}

static void differential(unsigned seed, unsigned count)
{
    if (access(PY, X_OK) != 0)
        cr_skip_test("python3 not installed: differential conversion test skipped");
    char seed_s[16], count_s[16];
    snprintf(seed_s, sizeof seed_s, "%u", seed);
    snprintf(count_s, sizeof count_s, "%u", count);
    char *cases = run_py("gen_conv_cases.py", seed_s, count_s, NULL, 0);
    char *expected = run_py("conv_oracle.py", NULL, NULL, cases, strlen(cases));
    const char *c = cases, *e = expected;
    unsigned n = 0, refused = 0;
    while (*c) {
        const char *ce = strchr(c, '\n'), *ee = strchr(e, '\n');
        cr_assert(ce && ee, "case %u: oracle output ended early", n);
        json_t *cj = json_loadb(c, (size_t)(ce - c), 0, NULL);
        json_t *want = json_loadb(e, (size_t)(ee - e), 0, NULL);
        cr_assert(cj && want, "case %u: unparsable line", n);
        char err[256] = "";
        json_t *got = convert(cj, err, sizeof err);
        bool oracle_refuses = json_is_string(json_object_get(want, "error"));
        cr_assert_eq(got == NULL, oracle_refuses, "case %u: conv %s, oracle %.*s\ncase: %.*s", n,
                     got ? "converts" : err, (int)(ee - e), e, (int)(ce - c), c);
        if (got) {
            if (!strcmp(json_string_value(json_object_get(cj, "kind")), "reply"))
                strip_ids(got, want);
            char *gs = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
            char *ws = json_dumps(want, JSON_SORT_KEYS | JSON_COMPACT);
            cr_assert(json_equal(got, want), "case %u:\nconv   %s\noracle %s\ncase: %.*s", n, gs, ws,
                      (int)(ce - c), c);
            free(gs);
            free(ws);
            json_decref(got);
        }
        refused += oracle_refuses;
        json_decref(cj);
        json_decref(want);
        c = ce + 1;
        e = ee + 1;
        n++;
    }
    cr_assert_eq(n, count);
    /* the mix exercises both outcomes */
    cr_assert(refused > 0 && refused < n, "%u of %u refused", refused, n);
    free(cases);
    free(expected);
}

Test(conv_oracle, random_cases_seed_1) { differential(1, 1500); }
Test(conv_oracle, random_cases_seed_2) { differential(2, 1500); }
