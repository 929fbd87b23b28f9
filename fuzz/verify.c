/* Fuzz target: grading a verify request given as text (src/verify.h).
 *
 * Input layout: byte 0 picks the configuration as in the grader target (bit
 * 0 parallel rewarding, bit 1 allow_subset, bit 2 allow_superset, bits 3-4
 * the reward mode, bit 5 a high similarity threshold, bit 6 a coarse float
 * tolerance) and bit 7 the output style (compact). Byte 1 the shape:
 * bits 0-1 the response (0: the rest of the input is the whole request,
 * raw; 1: function calls whose arguments are the fuzzed texts; 2: a message
 * with a fuzzed text; 3: a fuzzed raw "output" value), bits 2-3 the expected
 * action (call, message, batch of two calls, or raw fuzzed text), bit 4 a
 * "reward" member first, bit 5 a "category" member first, bit 6 the members
 * in reverse order, bit 7 a duplicate responses_create_params. The rest is
 * split on NUL bytes: response text, expected text, a raw tail spliced in as
 * extra members (", TAIL" before the closing brace, when not empty), and a
 * second actual call's arguments. Fuzzed strings are written with '"', '\\'
 * and control bytes escaped (other bytes as they are); a text starting with
 * "b:" names the tool "b", otherwise "a".
 *
 * Checks: verify_text never crashes; it fails exactly when jansson (the
 * oracle, ALLOW_NUL, big integers as reals) refuses the text, finds no
 * object, no object responses_create_params / response / expected_action,
 * or the grader refuses the expected action or the response — and then it
 * gives a reason. On success: the verdict is the grader's on jansson's tree
 * (when jansson reads it without turning integers into reals), the reward
 * is in [0, 1] (0 or 1 when binary), and the output text is a JSON object
 * whose "reward" and "category" are the verdict and whose other members are
 * the request's, in the request's order, with any missing reward/category
 * last; when it has neither, the output is byte for byte the request's
 * object text with both inserted before its final brace. Without an output
 * buffer the verdict is the same. verify_line on the input as a line with
 * the rest of a file after it says what verify_text says of that line (up
 * to the first '\n'), byte for byte. */
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "fuzzutil.h"
#include "grade.h"
#include "jtext.h"
#include "verify.h"

typedef struct part {
    const char *s;
    size_t n;
} part;

static size_t split(const uint8_t *data, size_t size, part *parts, size_t max)
{
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= size && n < max; i++) {
        if (i < size && data[i] != 0)
            continue;
        parts[n++] = (part){(const char *)data + start, i - start};
        start = i + 1;
    }
    for (size_t k = n; k < max; k++)
        parts[k] = (part){"", 0};
    return n;
}

static void put(util_buf *b, const char *s)
{
    FUZZ_CHECK(util_buf_puts(b, s) == 0, "out of memory");
}

static void put_part(util_buf *b, part p)
{
    FUZZ_CHECK(util_buf_append(b, p.s, p.n) == 0, "out of memory");
}

/* p as a JSON string: '"', '\\' and control bytes escaped, others as they are. */
static void put_string(util_buf *b, part p)
{
    static const char hex[] = "0123456789abcdef";
    put(b, "\"");
    for (size_t i = 0; i < p.n; i++) {
        unsigned char c = (unsigned char)p.s[i];
        char e[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
        if (c == '"' || c == '\\') {
            e[1] = (char)c;
            e[2] = 0;
        } else if (c >= 0x20) {
            e[0] = (char)c;
            e[1] = 0;
        }
        put(b, e);
    }
    put(b, "\"");
}

/* {"type": "function_call", "name": …, "arguments": …} from p ("b:" names b). */
static void put_call(util_buf *b, part p, const char *extra)
{
    const char *name = "a";
    if (p.n >= 2 && p.s[0] == 'b' && p.s[1] == ':') {
        name = "b";
        p.s += 2;
        p.n -= 2;
    }
    put(b, "{\"type\": \"function_call\", \"name\": \"");
    put(b, name);
    put(b, "\", \"arguments\": ");
    put_string(b, p);
    put(b, extra);
    put(b, "}");
}

static void put_response(util_buf *b, unsigned shape, const part *parts)
{
    put(b, "{\"id\": \"resp_1\", \"output\": ");
    switch (shape & 3) {
    case 1:
        put(b, "[");
        put_call(b, parts[0], ", \"call_id\": \"c1\", \"status\": \"completed\"");
        if (parts[3].n) {
            put(b, ", ");
            put_call(b, parts[3], "");
        }
        put(b, "]");
        break;
    case 2:
        put(b, "[{\"type\": \"message\", \"role\": \"assistant\", \"content\": "
               "[{\"type\": \"output_text\", \"text\": ");
        put_string(b, parts[0]);
        put(b, "}]}]");
        break;
    default:
        put_part(b, parts[0]);
        break;
    }
    put(b, ", \"tools\": [{\"type\": \"function\", \"name\": \"a\"}]}");
}

static void put_expected(util_buf *b, unsigned shape, const part *parts)
{
    switch ((shape >> 2) & 3) {
    case 0:
        put_call(b, parts[1], "");
        break;
    case 1:
        put(b, "{\"type\": \"message\", \"content\": ");
        put_string(b, parts[1]);
        put(b, "}");
        break;
    case 2:
        put(b, "{\"type\": \"function_call_batch\", \"calls\": [");
        put_call(b, parts[1], "");
        put(b, ", ");
        put_call(b, parts[3].n ? parts[3] : parts[1], "");
        put(b, "]}");
        break;
    default:
        put_part(b, parts[1]);
        break;
    }
}

static const char RCP[] =
    "{\"input\": [{\"role\": \"user\", \"content\": [{\"type\": \"input_text\", \"text\": "
    "\"Weather in Paris?\"}], \"type\": \"message\"}], \"tools\": [{\"type\": \"function\", "
    "\"name\": \"a\", \"parameters\": {\"type\": \"object\"}}], \"temperature\": 0.1}";

/* A well-formed request around the fuzzed parts, per the shape byte. */
static void build_request(util_buf *b, unsigned shape, const part *parts)
{
    put(b, "{");
    if (shape & 16)
        put(b, "\"reward\": 0.5, ");
    if (shape & 32)
        put(b, "\"category\": \"old\", ");
    if (shape & 128)
        put(b, "\"responses_create_params\": [], ");
    for (int i = 0; i < 3; i++) {
        int k = shape & 64 ? 2 - i : i;
        if (i)
            put(b, ", ");
        if (k == 0) {
            put(b, "\"responses_create_params\": ");
            put(b, RCP);
        } else if (k == 1) {
            put(b, "\"response\": ");
            put_response(b, shape, parts);
        } else {
            put(b, "\"expected_action\": ");
            put_expected(b, shape, parts);
        }
    }
    if (parts[2].n) {
        put(b, ", ");
        put_part(b, parts[2]);
    }
    put(b, "}");
}

/* ---- the oracle: jansson's tree and the grader on it ------------------------- */

typedef struct oracle {
    json_t *tree;          /* NULL: jansson refuses the text (and jtext's Python dialect) */
    bool exact;            /* read without turning integers into reals */
    bool python;           /* only Python reads it (NaN, 1e400, huge integers): the tree
                              holds jtext's placeholders and cannot check the output */
    bool ok;               /* what verify_text should say */
    grade_verdict v;       /* the grader's verdict when ok (and exact) */
} oracle;

static oracle consult(const grade_config *cfg, const char *text, size_t len)
{
    oracle o = {0};
    json_error_t e;
    o.tree = json_loadb(text, len, JSON_ALLOW_NUL, &e);
    o.exact = o.tree != NULL;
    if (!o.tree)
        o.tree = json_loadb(text, len, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &e);
    if (!o.tree && !memchr(text, '\0', len)) {
        o.tree = jtext_build(text, len, JTEXT_PY);   /* verify reads Python's numbers too */
        o.python = o.tree != NULL;
    }
    if (!o.tree || memchr(text, '\0', len))   /* jtext refuses raw NULs */
        return o;
    json_t *rcp = json_object_get(o.tree, "responses_create_params");
    json_t *resp = json_object_get(o.tree, "response");
    json_t *ea = json_object_get(o.tree, "expected_action");
    if (!json_is_object(rcp) || !json_is_object(resp) || !json_is_object(ea))
        return o;
    char why[256];
    grade_action *exp = grade_expected_unparsed(ea, why, sizeof why);
    grade_action *act = exp ? grade_actual_from_response(resp, why, sizeof why) : NULL;
    if (exp && act)   /* expected arguments are parsed only if reached (§4.1) */
        o.ok = grade_judge_checked(cfg, exp, act, &o.v, why, sizeof why) == 0;
    grade_action_free(exp);
    grade_action_free(act);
    return o;
}

static void check_verdict(const grade_config *cfg, grade_verdict v)
{
    FUZZ_CHECK(v.reward >= 0.0 && v.reward <= 1.0, "reward %g", v.reward);
    FUZZ_CHECK((unsigned)v.category < GRADE_CATEGORY_COUNT && grade_category_text(v.category),
               "category %d", (int)v.category);
    if (!cfg->parallel_rewarding || cfg->mode == GRADE_MODE_BINARY_STRICT)
        FUZZ_CHECK(v.reward == 0.0 || v.reward == 1.0, "binary reward %g", v.reward);
}

/* The output text is the request with reward and category set. */
static void check_output(const util_buf *out, const json_t *in, bool exact, grade_verdict v)
{
    FUZZ_CHECK(out->len && out->data[0] == '{' && out->data[out->len - 1] == '}',
               "output is not an object's text");
    json_error_t e;
    /* read as the request was, so that numbers compare */
    size_t flags = JSON_ALLOW_NUL | (exact ? 0 : JSON_DECODE_INT_AS_REAL);
    json_t *o = json_loadb(out->data, out->len, flags, &e);
    FUZZ_CHECK(o, "output is not JSON: %s at %d: %.*s", e.text, e.position, (int)out->len,
               out->data);
    FUZZ_CHECK(json_is_object(o), "output is not an object");
    json_t *r = json_object_get(o, "reward"), *c = json_object_get(o, "category");
    FUZZ_CHECK(json_is_real(r) && json_real_value(r) == v.reward, "output reward differs");
    const char *cat = grade_category_text(v.category);
    FUZZ_CHECK(json_is_string(c) && strcmp(json_string_value(c), cat) == 0,
               "output category differs");

    /* the other members, in the request's order; missing verdict keys last */
    void *it = json_object_iter((json_t *)in), *ot = json_object_iter(o);
    for (; it; it = json_object_iter_next((json_t *)in, it), ot = json_object_iter_next(o, ot)) {
        const char *k = json_object_iter_key(it);
        size_t kn = json_object_iter_key_len(it);
        FUZZ_CHECK(ot && json_object_iter_key_len(ot) == kn &&
                   memcmp(json_object_iter_key(ot), k, kn) == 0, "member '%s' moved", k);
        if (strcmp(k, "reward") && strcmp(k, "category"))
            FUZZ_CHECK(json_equal(json_object_iter_value(it), json_object_iter_value(ot)),
                       "member '%s' changed", k);
    }
    bool had_r = json_object_get(in, "reward"), had_c = json_object_get(in, "category");
    const char *tail[2];
    size_t nt = 0;
    if (!had_r) tail[nt++] = "reward";
    if (!had_c) tail[nt++] = "category";
    for (size_t i = 0; i < nt; i++, ot = json_object_iter_next(o, ot))
        FUZZ_CHECK(ot && strcmp(json_object_iter_key(ot), tail[i]) == 0, "'%s' not appended",
                   tail[i]);
    FUZZ_CHECK(!ot, "output has extra members");
    json_decref(o);
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Without reward/category in the request, the output is the request's
 * object text, byte for byte, with both appended before the final brace. */
static void check_bytes(const util_buf *out, const char *text, size_t len, verify_style style,
                        grade_verdict v)
{
    while (len && is_ws(text[len - 1]))
        len--;
    while (len && is_ws(text[0])) {
        text++;
        len--;
    }
    FUZZ_CHECK(len >= 2 && text[len - 1] == '}', "request is not an object's text");
    char reward[32];
    size_t rlen = grade_reward_repr(v.reward, reward, sizeof reward);
    const char *cat = grade_category_text(v.category);
    util_buf want = {0};
    bool spaced = style == VERIFY_SPACED;
    FUZZ_CHECK(util_buf_append(&want, text, len - 1) == 0 &&
               util_buf_puts(&want, spaced ? ", \"reward\": " : ",\"reward\":") == 0 &&
               util_buf_append(&want, reward, rlen) == 0 &&
               util_buf_puts(&want, spaced ? ", \"category\": " : ",\"category\":") == 0 &&
               util_buf_json_string(&want, cat, strlen(cat)) == 0 &&
               util_buf_putc(&want, '}') == 0, "out of memory");
    FUZZ_CHECK(out->len == want.len && memcmp(out->data, want.data, want.len) == 0,
               "output bytes differ:\n got %.*s\nwant %.*s", (int)out->len, out->data,
               (int)want.len, want.data);
    util_buf_free(&want);
}

static void check_request(const grade_config *cfg, const char *text, size_t len,
                          verify_style style)
{
    util_buf out = {0};
    grade_verdict v = {-1.0, GRADE_CATEGORY_COUNT};
    char err[256] = "";
    int rc = verify_text(cfg, text, len, style, &out, &v, err, sizeof err);
    FUZZ_CHECK(rc == VERIFY_OK || rc == VERIFY_INVALID, "rc %d", rc);
    oracle o = consult(cfg, text, len);
    if (rc != VERIFY_OK) {
        FUZZ_CHECK(err[0], "failure without a reason");
        FUZZ_CHECK(!o.ok, "verify refuses what the grader takes on jansson's tree: %s", err);
    } else {
        FUZZ_CHECK(o.ok, "verify accepts what jansson + grader refuse (jansson %s)",
                   o.tree ? "reads it" : "refuses it");
        check_verdict(cfg, v);
        if (o.exact)
            FUZZ_CHECK(v.reward == o.v.reward && v.category == o.v.category,
                       "verdict %g/%d, on jansson's tree %g/%d", v.reward, (int)v.category,
                       o.v.reward, (int)o.v.category);
        if (!o.python)
            check_output(&out, o.tree, o.exact, v);
        if (!json_object_get(o.tree, "reward") && !json_object_get(o.tree, "category"))
            check_bytes(&out, text, len, style, v);

        grade_verdict w;
        char err2[256];
        FUZZ_CHECK(verify_text(cfg, text, len, style, NULL, &w, err2, sizeof err2) == VERIFY_OK &&
                   w.reward == v.reward && w.category == v.category,
                   "verdict differs without an output buffer");
    }
    json_decref(o.tree);
    util_buf_free(&out);
}

/* verify_line on text as a line followed by the rest of a file: the line
 * length, outcome, reason, verdict and output of verify_text on the text up
 * to its first '\n'. */
static void check_line(const grade_config *cfg, const char *text, size_t len, verify_style style)
{
    const char *nl = memchr(text, '\n', len);
    size_t first = nl ? (size_t)(nl - text) : len, got = (size_t)-1;
    util_buf a = {0}, b = {0};
    grade_verdict va = {-1.0, GRADE_CATEGORY_COUNT}, vb = va;
    char ea[256] = "", eb[256] = "";
    int ra = verify_text(cfg, text, first, style, &a, &va, ea, sizeof ea);
    int rb = verify_line(cfg, text, len, style, &b, &vb, &got, eb, sizeof eb);
    FUZZ_CHECK(got == first, "line length %zu, the first '\\n' at %zu", got, first);
    FUZZ_CHECK(ra == rb, "verify_line %d, verify_text of the line %d", rb, ra);
    if (ra == VERIFY_OK)
        FUZZ_CHECK(va.reward == vb.reward && va.category == vb.category && a.len == b.len &&
                       !memcmp(a.data, b.data, a.len),
                   "verify_line's verdict or output differs");
    else
        FUZZ_CHECK(!strcmp(ea, eb), "reasons differ: '%s', '%s'", eb, ea);
    util_buf_free(&a);
    util_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    grade_config cfg = fuzz_grade_config(data[0]);
    verify_style style = data[0] & 128 ? VERIFY_COMPACT : VERIFY_SPACED;
    unsigned shape = data[1];

    if ((shape & 3) == 0) {
        check_request(&cfg, (const char *)data + 2, size - 2, style);
        check_line(&cfg, (const char *)data + 2, size - 2, style);
        return 0;
    }
    part parts[4];
    split(data + 2, size - 2, parts, 4);
    util_buf req = {0};
    build_request(&req, shape, parts);
    check_request(&cfg, req.data, req.len, style);
    check_line(&cfg, req.data, req.len, style);
    util_buf_free(&req);
    return 0;
}
