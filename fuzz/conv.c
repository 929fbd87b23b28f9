/* Fuzz target: the eval conversions (src/conv.h) on arbitrary texts.
 *
 * Input: one control byte, then a text A, optionally a NUL and a text B.
 * Bits 0-1 of the control byte choose the function:
 *   0 conv_chat_request(A)         1 conv_responses_request(A)
 *   2 conv_chat_reply(B, params A) 3 conv_responses_reply(A)
 * bits 2-3 the reasoning mode (3 = field), bit 4 developer_as_system, bit 5
 * a seed, bit 6 B as --extra-body (requests), bit 7 a fixed
 * --chat-template-kwargs.
 *
 * Checks, beyond "no crash, no sanitizer report, no leak":
 * - the return code is CONV_OK, CONV_INVALID or CONV_NOMEM; a failure has a
 *   reason and leaves the output buffer exactly as it was (a prefix put
 *   there first is intact);
 * - every successful output, after the prefix, is one JSON object by
 *   jtext_object (lone surrogate escapes allowed, as in the input); when
 *   every input text is valid for jansson, jansson parses the output too,
 *   and it has the shape promised: a "messages" list (chat requests), an
 *   "output" list with "object":"response" whose function_call items are
 *   info.n_tool_calls (replies);
 * - conversions are deterministic: a second call writes the same bytes. */
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "conv.h"
#include "fuzzutil.h"
#include "jtext.h"

#define PREFIX "prefix:"
#define LENIENT (JTEXT_BIG_INTS | JTEXT_SURROGATES)

static bool jansson_ok(const char *p, size_t n)
{
    if (!p)
        return true;
    json_t *j = json_loadb(p, n, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, NULL);
    bool ok = j != NULL;
    json_decref(j);
    return ok;
}

typedef struct run {
    int fn;
    conv_request_opts o;
    const char *a, *b;
    size_t alen, blen;
} run;

static int call(const run *r, util_buf *out, conv_reply_info *info, char *err, size_t errsz)
{
    unsigned an;
    switch (r->fn) {
    case 0: return conv_chat_request(r->a, r->alen, &r->o, out, &an, err, errsz);
    case 1: return conv_responses_request(r->a, r->alen, &r->o, out, err, errsz);
    case 2: return conv_chat_reply(r->b ? r->b : "", r->blen, r->alen ? r->a : NULL, r->alen, "model", 7, 1, out, info,
                                   err, errsz);
    default: return conv_responses_reply(r->a, r->alen, info, err, errsz);
    }
}

static size_t count_calls(const json_t *output)
{
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(output); i++) {
        const char *t = json_string_value(json_object_get(json_array_get(output, i), "type"));
        n += t && !strcmp(t, "function_call");
    }
    return n;
}

static void check_shape(const run *r, const char *body, size_t n, const conv_reply_info *info)
{
    json_t *j = json_loadb(body, n, JSON_DECODE_INT_AS_REAL, NULL);
    FUZZ_CHECK(j && json_is_object(j), "jansson refuses the output of valid inputs: %.*s", (int)n, body);
    if (r->fn == 0)
        FUZZ_CHECK(json_is_array(json_object_get(j, "messages")), "no messages list");
    if (r->fn == 2) {
        const char *obj = json_string_value(json_object_get(j, "object"));
        json_t *output = json_object_get(j, "output");
        FUZZ_CHECK(obj && !strcmp(obj, "response") && json_is_array(output), "not a response object");
        FUZZ_CHECK(count_calls(output) == info->n_tool_calls, "tool call count");
    }
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t ctl = data[0];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    const char *nul = memchr(text, 0, len);
    run r = {.fn = ctl & 3, .a = text, .alen = nul ? (size_t)(nul - text) : len};
    char *b = NULL;
    if (nul) {
        r.blen = len - r.alen - 1;
        b = malloc(r.blen + 1);   /* NUL-terminated for --extra-body */
        if (!b)
            return 0;
        memcpy(b, nul + 1, r.blen);
        b[r.blen] = 0;
        r.b = b;
    }
    static const conv_reasoning modes[4] = {CONV_REASONING_FIELD, CONV_REASONING_THINK,
                                            CONV_REASONING_DROP, CONV_REASONING_FIELD};
    r.o.model = "m";
    r.o.reasoning = modes[(ctl >> 2) & 3];
    r.o.developer_as_system = ctl & 16;
    r.o.has_seed = ctl & 32;
    r.o.seed = -5;
    if ((ctl & 64) && r.fn < 2 && b && !memchr(b, 0, r.blen))
        r.o.extra_body = b;
    if (ctl & 128)
        r.o.chat_template_kwargs = "{\"enable_thinking\":false}";

    util_buf out = UTIL_BUF_INIT, again = UTIL_BUF_INIT;
    FUZZ_CHECK(util_buf_puts(&out, PREFIX) == 0, "oom");
    FUZZ_CHECK(util_buf_puts(&again, PREFIX) == 0, "oom");
    char err[256] = "", err2[256] = "";
    conv_reply_info info, info2;
    int rc = call(&r, &out, &info, err, sizeof err);
    int rc2 = call(&r, &again, &info2, err2, sizeof err2);
    FUZZ_CHECK(rc == CONV_OK || rc == CONV_INVALID || rc == CONV_NOMEM, "return code %d", rc);
    FUZZ_CHECK(rc == rc2 && out.len == again.len && !memcmp(out.data, again.data, out.len) &&
                   !strcmp(err, err2),
               "not deterministic");
    size_t plen = strlen(PREFIX);
    FUZZ_CHECK(out.len >= plen && !memcmp(out.data, PREFIX, plen), "prefix damaged");
    if (rc != CONV_OK) {
        FUZZ_CHECK(err[0], "failure without a reason");
        FUZZ_CHECK(out.len == plen, "failure left output behind");
    } else if (r.fn != 3) {
        const char *body = out.data + plen;
        size_t n = out.len - plen;
        char why[128];
        FUZZ_CHECK(jtext_object(body, n, LENIENT, NULL, NULL, why, sizeof why) == 0,
                   "output is not a JSON object (%s): %.*s", why, (int)n, body);
        const char *reply = r.fn == 2 ? r.b : NULL;
        const char *extra = r.o.extra_body;
        if (jansson_ok(r.a, r.alen) && jansson_ok(reply, r.blen) &&
            jansson_ok(extra, extra ? strlen(extra) : 0))
            check_shape(&r, body, n, &info);
    }
    util_buf_free(&out);
    util_buf_free(&again);
    free(b);
    return 0;
}
