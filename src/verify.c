/* verify — one verify request as text: validate, grade, splice (see verify.h).
 *
 * How it works: one jtext_object_walk pass validates the whole request and
 * records the value spans of its top-level members: the last
 * responses_create_params, response and expected_action (jansson and Python
 * keep the last duplicate) and every "reward"/"category" value. A response
 * object is walked member by member in that same pass, so the span of its
 * "output" is known without a second look at the rest of it (often its whole
 * tool list). Both actions are then read in place from those validated spans
 * (grade_actual_from_output_text, grade_expected_unparsed_text): no JSON
 * tree is built.
 * The output text is the request's object text with the recorded verdict
 * spans replaced and the missing members inserted before its final brace;
 * white space outside the object is dropped.
 * verify_line runs the same walk on a line still joined to the rest of its
 * file (jtext_object_walk_line): a valid line is checked as it is read;
 * anything else is graded again by verify_text once its end is found.
 */
#include "verify.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "jtext.h"

enum { M_RCP, M_RESPONSE, M_EXPECTED, M_COUNT };
static const char *const MEMBER_NAMES[M_COUNT] = {"responses_create_params", "response",
                                                  "expected_action"};
enum { V_REWARD, V_CATEGORY };
enum { VERDICT_FIRST_SPANS = 4 };   /* room for reward/category spans at first */

typedef struct span {
    const char *v, *end;
} span;

/* What the scan of a request found. */
typedef struct request {
    span m[M_COUNT];          /* the last of each; v == NULL when absent */
    span output;              /* the last "output" of the last response object */
    util_buf key;             /* scratch for the response's member keys */
    size_t members;           /* top-level members, duplicates included */
    span *verdict;            /* "reward"/"category" values, in text order */
    unsigned char *which;     /* V_REWARD or V_CATEGORY, per verdict span */
    size_t nverdict, cap;
    bool have[2];
    bool nomem;
} request;

static bool add_verdict_span(request *r, const jtext_member *m, unsigned char which)
{
    if (r->nverdict == r->cap) {
        /* two arrays of one capacity: each grows to the same new size */
        size_t cap = r->cap, c1 = cap, need = r->nverdict + 1;
        if (util_grow(&r->verdict, &cap, need, sizeof *r->verdict, VERDICT_FIRST_SPANS) ||
            util_grow(&r->which, &c1, need, sizeof *r->which, VERDICT_FIRST_SPANS))
            return false;
        r->cap = cap;
    }
    r->verdict[r->nverdict] = (span){m->v, m->end};
    r->which[r->nverdict++] = which;
    r->have[which] = true;
    return true;
}

/* The members of a response object at s->p, each checked as jtext_value
 * would; the span of the last "output" kept. -1 on a syntax error. */
static int walk_response(request *r, jtext_scan *s)
{
    span output = {NULL, NULL};
    bool first = true;
    int k;
    if (!jtext_open(s))
        return -1;
    while ((k = jtext_obj_next(s, &first, &r->key)) == 1) {
        const char *v = (const char *)s->p;
        if (!jtext_value(s))
            return -1;
        if (r->key.len == 6 && !memcmp(r->key.data, "output", 6))
            output = (span){v, (const char *)s->p};
    }
    r->output = output;
    return k;
}

static int on_member(void *ctx, jtext_scan *s, const char *key, size_t key_len)
{
    request *r = ctx;
    jtext_member m = {key, key_len, (const char *)s->p, NULL};
    r->members++;
    int which = -1;
    for (int i = 0; i < M_COUNT && which < 0; i++)
        if (jtext_member_is(&m, MEMBER_NAMES[i]))
            which = i;
    if (which == M_RESPONSE && *s->p == '{' ? walk_response(r, s) != 0 : !jtext_value(s))
        return -1;
    m.end = (const char *)s->p;
    if (which >= 0) {
        r->m[which] = (span){m.v, m.end};
        return 0;
    }
    which = jtext_member_is(&m, "reward")     ? V_REWARD
            : jtext_member_is(&m, "category") ? V_CATEGORY
                                              : -1;
    if (which >= 0 && !add_verdict_span(r, &m, (unsigned char)which)) {
        r->nomem = true;
        return 1;
    }
    return 0;
}

/* The first problem with the three required members, or NULL. */
static const char *field_error(const request *r)
{
    static const char *const required[M_COUNT] = {"responses_create_params: field required",
                                                  "response: field required",
                                                  "expected_action: field required"};
    static const char *const object[M_COUNT] = {"responses_create_params: must be an object",
                                                "response: must be an object",
                                                "expected_action: must be an object"};
    for (int i = 0; i < M_COUNT; i++) {
        if (!r->m[i].v)
            return required[i];
        if (*r->m[i].v != '{')
            return object[i];
    }
    return NULL;
}

/* Grades the scanned request: reads the expected action from
 * expected_action and the actual one from the response's output, in place,
 * and judges them. */
static int judge(const grade_config *cfg, const request *r, grade_verdict *v,
                 verify_kinds *kinds, char *err, size_t errsz)
{
    span os = r->output, es = r->m[M_EXPECTED];
    grade_action *expected = NULL, *actual = NULL;
    char why[256];
    int rc = VERIFY_INVALID;
    /* both spans were validated by the request's scan, with the same flags */
    if (!(expected = grade_expected_unparsed_text(es.v, (size_t)(es.end - es.v), JTEXT_PY, why,
                                                  sizeof why)))
        snprintf(err, errsz, "expected_action: %s", why);
    else if (!(actual = grade_actual_from_output_text(os.v, (size_t)(os.end - os.v), JTEXT_PY,
                                                      why, sizeof why)))
        snprintf(err, errsz, "response: %s", why);
    else if (grade_judge_checked(cfg, expected, actual, v, why, sizeof why) != 0)
        snprintf(err, errsz, "expected_action.%s", why);
    else {
        if (kinds)
            *kinds = (verify_kinds){grade_action_type_name(expected),
                                    grade_action_type_name(actual)};
        rc = VERIFY_OK;
    }
    grade_action_free(expected);
    grade_action_free(actual);
    return rc;
}

/* Appends the object text p[0..len) with the verdict set (see verify.h). */
static int splice(util_buf *out, const char *p, size_t len, const request *r,
                  verify_style style, grade_verdict v)
{
    char reward[32];
    size_t rlen = grade_reward_repr(v.reward, reward, sizeof reward);
    const char *cat = grade_category_text(v.category);
    const char *open = memchr(p, '{', len), *close = p + len;
    while (close[-1] != '}')
        close--;
    close--;   /* the final '}' */
    const char *from = open;
    int rc = 0;
    for (size_t k = 0; k < r->nverdict && !rc; k++) {
        rc = util_buf_append(out, from, (size_t)(r->verdict[k].v - from)) ||
             (r->which[k] == V_REWARD ? util_buf_append(out, reward, rlen)
                                      : util_buf_json_string(out, cat, strlen(cat)));
        from = r->verdict[k].end;
    }
    rc = rc || util_buf_append(out, from, (size_t)(close - from));
    bool spaced = style == VERIFY_SPACED;
    size_t members = r->members;
    if (!r->have[V_REWARD])
        rc = rc || util_buf_puts(out, members++ ? (spaced ? ", " : ",") : "") ||
             util_buf_puts(out, spaced ? "\"reward\": " : "\"reward\":") ||
             util_buf_append(out, reward, rlen);
    if (!r->have[V_CATEGORY])
        rc = rc || util_buf_puts(out, members++ ? (spaced ? ", " : ",") : "") ||
             util_buf_puts(out, spaced ? "\"category\": " : "\"category\":") ||
             util_buf_json_string(out, cat, strlen(cat));
    return rc || util_buf_putc(out, '}') ? VERIFY_NOMEM : VERIFY_OK;
}

static void request_free(request *r)
{
    free(r->verdict);
    free(r->which);
    util_buf_free(&r->key);
}

int verify_text(const grade_config *cfg, const char *p, size_t len, verify_style style,
                util_buf *out, grade_verdict *v, char *err, size_t errsz)
{
    return verify_text_kinds(cfg, p, len, style, out, v, NULL, err, errsz);
}

/* Grades the walked request r of the text p[0..len); frees what r holds. */
static int finish(const grade_config *cfg, request *r, int walked, const char *p, size_t len,
                  verify_style style, util_buf *out, grade_verdict *v, verify_kinds *kinds,
                  char *err, size_t errsz)
{
    int rc = walked;
    const char *field = rc == 0 ? field_error(r) : NULL;
    if (r->nomem)
        rc = VERIFY_NOMEM;
    else if (rc != 0)
        rc = VERIFY_INVALID;
    else if (field) {
        snprintf(err, errsz, "%s", field);
        rc = VERIFY_INVALID;
    } else {
        rc = judge(cfg, r, v, kinds, err, errsz);
        if (rc == VERIFY_OK && out)
            rc = splice(out, p, len, r, style, *v);
    }
    request_free(r);
    return rc;
}

int verify_text_kinds(const grade_config *cfg, const char *p, size_t len, verify_style style,
                      util_buf *out, grade_verdict *v, verify_kinds *kinds, char *err,
                      size_t errsz)
{
    request r;
    memset(&r, 0, sizeof r);
    int rc = jtext_object_walk(p, len, JTEXT_PY, on_member, &r, err, errsz);
    return finish(cfg, &r, rc, p, len, style, out, v, kinds, err, errsz);
}

int verify_line(const grade_config *cfg, const char *p, size_t avail, verify_style style,
                util_buf *out, grade_verdict *v, size_t *line_len, char *err, size_t errsz)
{
    request r;
    memset(&r, 0, sizeof r);
    size_t len;
    if (jtext_object_walk_line(p, avail, JTEXT_PY, on_member, &r, &len) == 0 && !r.nomem) {
        *line_len = len;
        return finish(cfg, &r, 0, p, len, style, out, v, NULL, err, errsz);
    }
    request_free(&r);   /* not one valid object before a '\n': the exact way */
    const char *nl = memchr(p, '\n', avail);
    *line_len = nl ? (size_t)(nl - p) : avail;
    return verify_text_kinds(cfg, p, *line_len, style, out, v, NULL, err, errsz);
}
