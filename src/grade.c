/* grade — NeMo Gym–exact verdicts (see grade.h and docs/grading.md).
 *
 * How it works: an action owns one arena holding its strings, its call array
 * and, for an expected action, every call's parsed arguments. It is read from
 * a jansson value or in place from validated JSON text by one set of shape
 * rules over a node (either of the two; see "reading actions"). grade_judge
 * keeps all scratch state (the actual arguments' parse, each parsed at most
 * once per call; word lists; the candidate lists of a batch) in a judge-local
 * arena whose first block is on the stack, so a typical verdict performs no
 * malloc at all and shared actions are never written to.
 *
 * Value comparison follows Python: x int admits y bool, x bool refuses y int,
 * int and float differ, floats compare within a strict tolerance, dicts by
 * key set and then by value in x's key order, lists by length and then by
 * element, strings by word-count similarity (text.h). Batches use Kuhn's
 * augmenting paths in the exact order the reference does (an explicit stack
 * replaces recursion so that huge batches cannot overflow the C stack).
 */
#include "grade.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "jtext.h"
#include "pyjson.h"
#include "text.h"
#include "util.h"

static const char *const CATEGORY_TEXT[GRADE_CATEGORY_COUNT] = {
    [GRADE_NO_ACTION_FOUND] = "No tool call or chat message was found in the response",
    [GRADE_NO_EXPECTED_TOOL_CALL] = "No tool call was found when one was expected",
    [GRADE_EXPECTED_CHAT_MESSAGE_FOUND] = "A chat message was found as expected",
    [GRADE_NO_EXPECTED_CHAT_MESSAGE] = "A tool call was executed when a chat message was expected",
    [GRADE_UNEXPECTED_TOOL] = "The tool in a tool call is not the expected tool",
    [GRADE_ARGUMENTS_DECODE_ERROR] =
        "An error occurred when decoding the arguments string in a tool call as a JSON object",
    [GRADE_ARGUMENT_VALUE_TYPE_DIFFERENT] =
        "The type of an argument value in a tool call is different than the expected type",
    [GRADE_ARGUMENT_OBJECT_KEYS_DIFFERENT] =
        "The keys in an object in an argument value in a tool call are different than the keys "
        "in the expected object",
    [GRADE_ARGUMENT_LIST_LENGTH_DIFFERENT] =
        "A list in an argument value in a tool call has a different length than the expected list",
    [GRADE_ARGUMENT_VALUE_DIFFERENT] =
        "An argument value in a tool call is different than the expected value",
    [GRADE_EXPECTED_TOOL_CALL] = "A tool call that matches the expected tool call was found",
    [GRADE_FUNCTION_CALL_BATCH_LENGTH_DIFFERENT] =
        "The number of tool calls in a batch is different than expected",
    [GRADE_EXPECTED_TOOL_CALL_BATCH] =
        "A tool-call batch that matches the expected tool calls was found",
};

static const char *const CATEGORY_NAME[GRADE_CATEGORY_COUNT] = {
    [GRADE_NO_ACTION_FOUND] = "NO_ACTION_FOUND",
    [GRADE_NO_EXPECTED_TOOL_CALL] = "NO_EXPECTED_TOOL_CALL",
    [GRADE_EXPECTED_CHAT_MESSAGE_FOUND] = "EXPECTED_CHAT_MESSAGE_FOUND",
    [GRADE_NO_EXPECTED_CHAT_MESSAGE] = "NO_EXPECTED_CHAT_MESSAGE",
    [GRADE_UNEXPECTED_TOOL] = "UNEXPECTED_TOOL",
    [GRADE_ARGUMENTS_DECODE_ERROR] = "ARGUMENTS_DECODE_ERROR",
    [GRADE_ARGUMENT_VALUE_TYPE_DIFFERENT] = "ARGUMENT_VALUE_TYPE_DIFFERENT",
    [GRADE_ARGUMENT_OBJECT_KEYS_DIFFERENT] = "ARGUMENT_OBJECT_KEYS_DIFFERENT",
    [GRADE_ARGUMENT_LIST_LENGTH_DIFFERENT] = "ARGUMENT_LIST_LENGTH_DIFFERENT",
    [GRADE_ARGUMENT_VALUE_DIFFERENT] = "ARGUMENT_VALUE_DIFFERENT",
    [GRADE_EXPECTED_TOOL_CALL] = "EXPECTED_TOOL_CALL",
    [GRADE_FUNCTION_CALL_BATCH_LENGTH_DIFFERENT] = "FUNCTION_CALL_BATCH_LENGTH_DIFFERENT",
    [GRADE_EXPECTED_TOOL_CALL_BATCH] = "EXPECTED_TOOL_CALL_BATCH",
};

const char *grade_category_text(grade_category c)
{
    return (unsigned)c < GRADE_CATEGORY_COUNT ? CATEGORY_TEXT[c] : NULL;
}

const char *grade_category_name(grade_category c)
{
    return (unsigned)c < GRADE_CATEGORY_COUNT ? CATEGORY_NAME[c] : NULL;
}

int grade_category_from_text(const char *text, grade_category *out)
{
    for (int c = 0; c < GRADE_CATEGORY_COUNT; c++)
        if (!strcmp(text, CATEGORY_TEXT[c]) || !strcmp(text, CATEGORY_NAME[c])) {
            *out = (grade_category)c;
            return 0;
        }
    return -1;
}

void grade_config_default(grade_config *cfg)
{
    cfg->word_similarity_threshold = GRADE_DEFAULT_WORD_SIMILARITY;
    cfg->float_tolerance = GRADE_DEFAULT_FLOAT_TOLERANCE;
    cfg->parallel_rewarding = false;
    cfg->allow_subset = false;
    cfg->allow_superset = false;
    cfg->mode = GRADE_MODE_BINARY_STRICT;
}

static const char *const MODE_NAME[] = {"binary_strict", "fractional", "f1"};

int grade_mode_parse(const char *s, grade_mode *out)
{
    for (int m = 0; m < 3; m++)
        if (s && !strcmp(s, MODE_NAME[m])) {
            *out = (grade_mode)m;
            return 0;
        }
    return -1;
}

const char *grade_mode_name(grade_mode m)
{
    return (unsigned)m < 3 ? MODE_NAME[m] : "?";
}

/* ---- actions ------------------------------------------------------------ */

typedef struct gcall {
    char *name;        /* NUL-terminated copy (may also contain NUL) */
    size_t name_len;
    char *args;        /* the arguments string */
    size_t args_len;
    pj_value value;    /* parsed arguments (expected actions only) */
    bool parsed;       /* value holds the parse (else parsed when reached) */
} gcall;

struct grade_action {
    grade_action_kind kind;
    char *content;     /* message text */
    size_t content_len;
    size_t ncalls;
    gcall *calls;
    util_arena arena;  /* owns everything above */
    atomic_uint refs;  /* holders (grade_action_retain/release) */
};

/* A new action whose arena starts with one chunk of about `bytes` (the
 * strings it will copy, plus room for their parse): actions stay compact in
 * memory, which matters when many are kept (datasets, batches). */
static grade_action *action_new(grade_action_kind kind, size_t bytes)
{
    grade_action *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->kind = kind;
    atomic_init(&a->refs, 1);
    util_arena_init(&a->arena, NULL, 0);
    util_arena_set_chunk(&a->arena, bytes + 256);
    return a;
}

grade_action *grade_action_retain(grade_action *a)
{
    if (a)
        atomic_fetch_add_explicit(&a->refs, 1, memory_order_relaxed);
    return a;
}

void grade_action_release(grade_action *a)
{
    if (!a || atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) != 1)
        return;
    util_arena_free(&a->arena);
    free(a);
}

void grade_action_free(grade_action *a)
{
    grade_action_release(a);
}

static char *arena_strdup(util_arena *ar, const char *s, size_t len)
{
    char *d = util_arena_alloc(ar, len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

static bool set_calls(grade_action *a, size_t n)
{
    a->ncalls = n;
    a->calls = util_arena_alloc(&a->arena, (n ? n : 1) * sizeof(gcall));
    if (a->calls)
        memset(a->calls, 0, (n ? n : 1) * sizeof(gcall));
    return a->calls != NULL;
}

static bool set_call(grade_action *a, size_t i, const char *name, size_t nlen,
                     const char *args, size_t alen)
{
    gcall *c = &a->calls[i];
    c->name = arena_strdup(&a->arena, name, nlen);
    c->args = arena_strdup(&a->arena, args, alen);
    c->name_len = nlen;
    c->args_len = alen;
    return c->name && c->args;
}

static bool set_content(grade_action *a, const char *s, size_t len)
{
    a->content = arena_strdup(&a->arena, s, len);
    a->content_len = len;
    return a->content != NULL;
}

grade_action *grade_action_message(const char *content, size_t len)
{
    grade_action *a = action_new(GRADE_ACTION_MESSAGE, content ? len : 0);
    if (a && !set_content(a, content ? content : "", content ? len : 0)) {
        grade_action_free(a);
        return NULL;
    }
    return a;
}

grade_action *grade_action_call(const char *name, const char *arguments, size_t args_len)
{
    grade_action *a = action_new(GRADE_ACTION_CALL, strlen(name) + args_len + sizeof(gcall));
    if (a && !(set_calls(a, 1) &&
               set_call(a, 0, name, strlen(name), arguments, args_len))) {
        grade_action_free(a);
        return NULL;
    }
    return a;
}

grade_action_kind grade_action_kind_of(const grade_action *a)
{
    return a->kind;
}

size_t grade_action_ncalls(const grade_action *a)
{
    return a->ncalls;
}

const char *grade_action_call_name(const grade_action *a, size_t i)
{
    return i < a->ncalls ? a->calls[i].name : NULL;
}

const char *grade_kind_name(grade_action_kind k)
{
    switch (k) {
    case GRADE_ACTION_MESSAGE: return "message";
    case GRADE_ACTION_CALL: return "function_call";
    case GRADE_ACTION_BATCH: return "function_call_batch";
    case GRADE_ACTION_NONE: break;
    }
    return "none";
}

const char *grade_action_type_name(const grade_action *a)
{
    return grade_kind_name(a->kind);
}

/* ---- reading actions: jansson values or validated text -------------------
 * The shape rules below are written once, over a node: either a jansson value
 * (dataset rows, rollouts) or the span of a value inside JSON text that jtext
 * has already validated (verify requests), read in place without building a
 * tree. A text node reads as the tree jtext would build from it: strings
 * decoded, a member found by its last occurrence, and Python's numbers that
 * jansson cannot hold (NaN, Infinity, 1e400) taken as the null placeholders
 * the builders put there (jtext.h). The members a rule needs are fetched
 * together (node_fields, node_next), so each object of the text is walked
 * once; only the strings that are kept are decoded. */

typedef struct node {
    const json_t *j;    /* a jansson value; or, when NULL, */
    jtext_span t;       /* the text of one (t.p NULL too: absent) */
    unsigned flags;     /* the jtext flags the text was validated with */
} node;

/* Most members fetched from one object at a time. */
#define FIELDS_MAX 5

/* A function call's name and arguments, as found by scan_output. */
typedef struct call_nodes {
    node name, args;
} call_nodes;

/* Scratch: decoded strings of text nodes (two at a time), the calls of an
 * output or of an expected batch. */
typedef struct reader {
    util_buf buf[2];
    util_buf calls;     /* call_nodes per function call of an output, batch_call per
                           call of an expected batch */
} reader;

static void reader_free(reader *rd)
{
    util_buf_free(&rd->buf[0]);
    util_buf_free(&rd->buf[1]);
    util_buf_free(&rd->calls);
}

static node node_json(const json_t *j)
{
    return (node){j, {NULL, 0}, 0};
}

static node node_text(const char *p, size_t len, unsigned flags)
{
    return (node){NULL, {p, p ? len : 0}, flags};
}

static bool node_present(node n)
{
    return n.j || n.t.p;
}

/* The first byte of a text node's value, 0 when absent or a jansson node. */
static char text_lead(node n)
{
    return !n.j && n.t.p && n.t.len ? n.t.p[0] : 0;
}

static bool node_is_object(node n)
{
    return n.j ? json_is_object(n.j) : text_lead(n) == '{';
}

static bool node_is_array(node n)
{
    return n.j ? json_is_array(n.j) : text_lead(n) == '[';
}

static bool node_is_string(node n)
{
    return n.j ? json_is_string(n.j) : text_lead(n) == '"';
}

/* null, or a number jansson cannot hold (jtext's null placeholder). */
static bool node_is_null(node n)
{
    if (n.j)
        return json_is_null(n.j);
    char c = text_lead(n);
    if (c == 'n' || c == 'N' || c == 'I' || (c == '-' && n.t.len > 1 && n.t.p[1] == 'I'))
        return true;
    if (c != '-' && (c < '0' || c > '9'))
        return false;
    util_buf num = {0};
    if (util_buf_append(&num, n.t.p, n.t.len))
        return false;
    bool inf = !isfinite(strtod(num.data, NULL));   /* beyond a double: built as null */
    util_buf_free(&num);
    return inf;
}

/* The members keys[0..n) (n <= FIELDS_MAX) of an object node into out[0..n)
 * (absent when there is none, or when o is not an object): one walk of a
 * text node. */
static void node_fields(node o, const char *const *keys, size_t n, node *out)
{
    jtext_span v[FIELDS_MAX] = {{NULL, 0}};
    if (!o.j && text_lead(o) == '{')
        jtext_get_valid(o.t, o.flags, keys, n, v);
    for (size_t i = 0; i < n; i++)
        out[i] = o.j ? node_json(json_object_get(o.j, keys[i]))
                     : node_text(v[i].p, v[i].len, o.flags);
}

/* A string node's bytes in *s (not NUL-terminated for text nodes without
 * escapes; decoded into buf otherwise) and *len; false when n is not a
 * string. */
static bool node_str(node n, util_buf *buf, const char **s, size_t *len)
{
    if (n.j) {
        if (!json_is_string(n.j))
            return false;
        *s = json_string_value(n.j);
        *len = json_string_length(n.j);
        return true;
    }
    if (text_lead(n) != '"' || n.t.len < 2)
        return false;
    const char *body = n.t.p + 1;
    size_t blen = n.t.len - 2;
    if (!memchr(body, '\\', blen)) {   /* valid and without escapes: the text itself */
        *s = body;
        *len = blen;
        return true;
    }
    buf->len = 0;
    if (jtext_string_value(n.t, n.flags, buf))
        return false;
    *s = buf->data;
    *len = buf->len;
    return true;
}

/* Whether the string s[0..len) reads as lit in C: up to its first NUL, as
 * strcmp sees a jansson string. */
static bool str_is(const char *s, size_t len, const char *lit)
{
    size_t n = strlen(lit);
    return strnlen(s, len) == n && !memcmp(s, lit, n);
}

/* Whether n is a string reading as lit (as str_is). */
static bool node_str_is(node n, util_buf *buf, const char *lit)
{
    const char *s;
    size_t len;
    return node_str(n, buf, &s, &len) && str_is(s, len, lit);
}

/* A string node's length, at least (0 when it is not one), for sizing. */
static size_t node_str_len(node n)
{
    if (n.j)
        return json_string_length(n.j);
    return text_lead(n) == '"' && n.t.len >= 2 ? n.t.len - 2 : 0;
}

/* A copy of the string node n in the arena, NUL-terminated (a text node
 * decoded straight into it), its length in *len; NULL when out of memory. */
static char *arena_node_str(util_arena *ar, node n, size_t *len)
{
    if (n.j) {
        *len = json_string_length(n.j);
        return arena_strdup(ar, json_string_value(n.j), *len);
    }
    char *d = util_arena_alloc(ar, n.t.len + 1);
    if (d)
        *len = jtext_string_decode(n.t, n.flags, d);
    return d;
}

/* Call i of a from its name and arguments, two string nodes. */
static bool set_call_nodes(grade_action *a, size_t i, node name, node args)
{
    gcall *c = &a->calls[i];
    c->name = arena_node_str(&a->arena, name, &c->name_len);
    c->args = c->name ? arena_node_str(&a->arena, args, &c->args_len) : NULL;
    return c->args != NULL;
}

/* Elements of an array node, in order: node_elements, then node_next until
 * it returns false. */
typedef struct node_iter {
    node arr;
    size_t i;          /* jansson: the next index */
    const char *at;    /* text: where the last element ended */
} node_iter;

static node_iter node_elements(node arr)
{
    return (node_iter){arr, 0, NULL};
}

/* The next element in *el and, when it is an object, its members
 * keys[0..n) in fields (as node_fields; one walk for text). */
static bool node_next(node_iter *it, node *el, const char *const *keys, size_t n, node *fields)
{
    if (it->arr.j) {
        if (it->i >= json_array_size(it->arr.j))
            return false;
        *el = node_json(json_array_get(it->arr.j, it->i++));
        node_fields(*el, keys, n, fields);
        return true;
    }
    if (text_lead(it->arr) != '[')
        return false;
    jtext_span f[FIELDS_MAX];
    jtext_span v = jtext_next_valid(it->arr.t, it->arr.flags, &it->at, keys, n, f);
    *el = node_text(v.p, v.len, it->arr.flags);
    for (size_t i = 0; i < n; i++)
        fields[i] = node_text(f[i].p, f[i].len, it->arr.flags);
    return v.p != NULL;
}

/* An expected call's members. */
enum { CALL_TYPE, CALL_NAME, CALL_ARGS, CALL_FIELDS };
static const char *const CALL_KEYS[CALL_FIELDS] = {"type", "name", "arguments"};

/* How messages name expected call i: the expected action itself, or call i
 * of a batch (formatted into w only then, when there is an error to tell). */
static const char *call_where(bool batch, size_t i, char *w, size_t wsz)
{
    if (!batch)
        return "expected_action";
    snprintf(w, wsz, "expected_action.calls[%zu]", i);
    return w;
}

/* Copies an expected function_call object (its members f, CALL_KEYS) into
 * call i and parses its arguments; batch: it is call i of a batch (for
 * messages, call_where). */
static bool expected_call(reader *rd, grade_action *a, size_t i, node call, const node *f,
                          bool batch, bool lazy, char *err, size_t errsz)
{
    char w[64];
    if (!node_is_object(call)) {
        util_set_err(err, errsz, "%s is not an object", call_where(batch, i, w, sizeof w));
        return false;
    }
    if (node_present(f[CALL_TYPE]) && !node_str_is(f[CALL_TYPE], &rd->buf[0], "function_call")) {
        util_set_err(err, errsz, "%s.type is not \"function_call\"",
                     call_where(batch, i, w, sizeof w));
        return false;
    }
    if (!node_is_string(f[CALL_NAME])) {
        util_set_err(err, errsz, "%s.name is missing or not a string",
                     call_where(batch, i, w, sizeof w));
        return false;
    }
    if (!node_is_string(f[CALL_ARGS])) {
        util_set_err(err, errsz, "%s.arguments is missing or not a string",
                     call_where(batch, i, w, sizeof w));
        return false;
    }
    if (!set_call_nodes(a, i, f[CALL_NAME], f[CALL_ARGS])) {
        util_set_err(err, errsz, "out of memory");
        return false;
    }
    char perr[160];
    gcall *c = &a->calls[i];
    if (lazy)
        return true;
    if (pj_parse(&a->arena, c->args, c->args_len, &c->value, perr, sizeof perr)) {
        util_set_err(err, errsz, "%s.arguments is not valid JSON: %s",
                     call_where(batch, i, w, sizeof w), perr);
        return false;
    }
    c->parsed = true;
    return true;
}

/* Arena bytes for an expected call: its strings plus their parsed tree
 * (a few times the arguments' length for typical arguments). A text call is
 * sized by its whole text, which bounds both strings, to spare a walk. */
static size_t expected_bytes(node call)
{
    if (!call.j)
        return 5 * call.t.len + sizeof(gcall) + 64;
    node f[CALL_FIELDS];
    node_fields(call, CALL_KEYS, CALL_FIELDS, f);
    return node_str_len(f[CALL_NAME]) + 5 * node_str_len(f[CALL_ARGS]) + sizeof(gcall) + 64;
}

static grade_action *expected_message(reader *rd, node c, char *err, size_t errsz)
{
    const char *s = "";
    size_t len = 0;
    bool str = node_str(c, &rd->buf[0], &s, &len);
    if (node_present(c) && !str && !node_is_null(c)) {
        util_set_err(err, errsz, "expected_action.content is not a string");
        return NULL;
    }
    grade_action *a = action_new(GRADE_ACTION_MESSAGE, len);
    if (a && !set_content(a, s, len)) {
        grade_action_free(a);
        a = NULL;
    }
    if (!a)
        util_set_err(err, errsz, "out of memory");
    return a;
}

/* A call of a batch and its members (CALL_KEYS), as one walk of the list
 * finds them. */
typedef struct batch_call {
    node call, f[CALL_FIELDS];
} batch_call;

/* One walk of the list notes each call with its members in rd->calls (and
 * the bytes they need); then the action is sized once and filled in order. */
static grade_action *expected_batch(reader *rd, node calls, bool lazy, char *err, size_t errsz)
{
    batch_call c;
    size_t n = 0, bytes = 0;
    node_iter it = node_elements(calls);
    rd->calls.len = 0;
    while (node_is_array(calls) && node_next(&it, &c.call, CALL_KEYS, CALL_FIELDS, c.f)) {
        if (util_buf_append(&rd->calls, &c, sizeof c)) {
            util_set_err(err, errsz, "out of memory");
            return NULL;
        }
        bytes += expected_bytes(c.call);
        n++;
    }
    if (n == 0) {
        util_set_err(err, errsz, "expected_action.calls is not a non-empty array");
        return NULL;
    }
    grade_action *a = action_new(GRADE_ACTION_BATCH, bytes);
    if (!a || !set_calls(a, n)) {
        util_set_err(err, errsz, "out of memory");
        grade_action_free(a);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(&c, rd->calls.data + i * sizeof c, sizeof c);
        if (!expected_call(rd, a, i, c.call, c.f, true, lazy, err, errsz)) {
            grade_action_free(a);
            return NULL;
        }
    }
    return a;
}

/* An expected action's members: a call's (CALL_KEYS), then these. */
enum { EA_CONTENT = CALL_FIELDS, EA_CALLS, EA_FIELDS };
static const char *const EA_KEYS[EA_FIELDS] = {"type", "name", "arguments", "content", "calls"};

static grade_action *expected_from(reader *rd, node ea, bool lazy, char *err, size_t errsz)
{
    if (!node_is_object(ea)) {
        util_set_err(err, errsz, "expected_action is not an object");
        return NULL;
    }
    node f[EA_FIELDS];
    node_fields(ea, EA_KEYS, EA_FIELDS, f);
    const char *type;
    size_t tlen;
    if (!node_str(f[CALL_TYPE], &rd->buf[1], &type, &tlen)) {
        util_set_err(err, errsz, "expected_action.type is missing or not a string");
        return NULL;
    }
    if (str_is(type, tlen, "message"))
        return expected_message(rd, f[EA_CONTENT], err, errsz);
    if (str_is(type, tlen, "function_call_batch"))
        return expected_batch(rd, f[EA_CALLS], lazy, err, errsz);
    if (!str_is(type, tlen, "function_call")) {
        util_set_err(err, errsz, "expected_action.type \"%.*s\" is not message, function_call "
                                 "or function_call_batch", (int)strnlen(type, tlen), type);
        return NULL;
    }
    grade_action *a = action_new(GRADE_ACTION_CALL, expected_bytes(ea));
    if (!a || !set_calls(a, 1)) {
        util_set_err(err, errsz, "out of memory");
        grade_action_free(a);
        return NULL;
    }
    if (!expected_call(rd, a, 0, ea, f, false, lazy, err, errsz)) {
        grade_action_free(a);
        return NULL;
    }
    return a;
}

static grade_action *expected_node(node ea, bool lazy, char *err, size_t errsz)
{
    reader rd = {0};
    grade_action *a = expected_from(&rd, ea, lazy, err, errsz);
    reader_free(&rd);
    return a;
}

grade_action *grade_expected_from_json(const json_t *ea, char *err, size_t errsz)
{
    return expected_node(node_json(ea), false, err, errsz);
}

grade_action *grade_expected_unparsed(const json_t *ea, char *err, size_t errsz)
{
    return expected_node(node_json(ea), true, err, errsz);
}

grade_action *grade_expected_unparsed_text(const char *p, size_t len, unsigned flags, char *err,
                                           size_t errsz)
{
    return expected_node(node_text(p, len, flags), true, err, errsz);
}

/* A content part's members. */
enum { PART_TYPE, PART_TEXT, PART_ANNOTATIONS, PART_FIELDS };
static const char *const PART_KEYS[PART_FIELDS] = {"type", "text", "annotations"};

/* Whether a content part (its members f) is an output_text part: its "type"
 * says so, or it has none but carries "text" and "annotations" (the pydantic
 * model's default type, docs/grading.md §1.2). */
static bool is_output_text(reader *rd, const node *f)
{
    if (!node_present(f[PART_TYPE]))
        return node_present(f[PART_TEXT]) && node_present(f[PART_ANNOTATIONS]);
    return node_str_is(f[PART_TYPE], &rd->buf[0], "output_text");
}

/* The text of an assistant message's first output_text part (absent if
 * none), from the message's content; -1 when the message is malformed. */
static int message_text(reader *rd, node content, size_t idx, node *text, char *err,
                        size_t errsz)
{
    *text = node_text(NULL, 0, 0);
    if (!node_is_array(content)) {
        util_set_err(err, errsz, "response.output[%zu].content is not an array", idx);
        return -1;
    }
    node part, f[PART_FIELDS];
    node_iter it = node_elements(content);
    for (size_t k = 0; node_next(&it, &part, PART_KEYS, PART_FIELDS, f); k++) {
        if (!is_output_text(rd, f))
            continue;
        if (!node_is_string(f[PART_TEXT])) {
            util_set_err(err, errsz, "response.output[%zu].content[%zu].text is not a string",
                         idx, k);
            return -1;
        }
        *text = f[PART_TEXT];
        return 0;
    }
    return 0;
}

/* An output item's members. */
enum { ITEM_TYPE, ITEM_NAME, ITEM_ARGS, ITEM_ROLE, ITEM_CONTENT, ITEM_FIELDS };
static const char *const ITEM_KEYS[ITEM_FIELDS] = {"type", "name", "arguments", "role",
                                                   "content"};

/* One pass over response.output: checks each item's shape, notes each
 * function call's name and arguments in rd->calls (and the bytes they need)
 * and finds the first assistant message's text. false with a reason in err. */
static bool scan_output(reader *rd, node output, size_t *call_bytes, node *text, char *err,
                        size_t errsz)
{
    *call_bytes = 0;
    *text = node_text(NULL, 0, 0);
    bool have_text = false;
    node item, f[ITEM_FIELDS];
    node_iter it = node_elements(output);
    for (size_t i = 0; node_next(&it, &item, ITEM_KEYS, ITEM_FIELDS, f); i++) {
        const char *t;
        size_t tlen;
        if (!node_is_object(item) || !node_str(f[ITEM_TYPE], &rd->buf[1], &t, &tlen)) {
            util_set_err(err, errsz, "response.output[%zu] is not an object with a string type", i);
            return false;
        }
        if (str_is(t, tlen, "function_call")) {
            call_nodes c = {f[ITEM_NAME], f[ITEM_ARGS]};
            if (!node_is_string(c.name) || !node_is_string(c.args)) {
                util_set_err(err, errsz, "response.output[%zu] is a function_call without a "
                                         "string name and arguments", i);
                return false;
            }
            if (util_buf_append(&rd->calls, &c, sizeof c)) {
                util_set_err(err, errsz, "out of memory");
                return false;
            }
            *call_bytes += node_str_len(c.name) + node_str_len(c.args) + 2;
        } else if (str_is(t, tlen, "message") && !have_text) {
            /* No "role": an assistant message (the pydantic default). */
            bool assistant = !node_present(f[ITEM_ROLE]) ||
                             node_str_is(f[ITEM_ROLE], &rd->buf[0], "assistant");
            if (assistant && message_text(rd, f[ITEM_CONTENT], i, text, err, errsz))
                return false;
            have_text = node_present(*text);
        }
    }
    return true;
}

/* The action of the function calls scan_output noted; NULL when out of
 * memory. */
static grade_action *calls_action(reader *rd, size_t call_bytes)
{
    size_t ncalls = rd->calls.len / sizeof(call_nodes);
    grade_action *a = action_new(ncalls == 1 ? GRADE_ACTION_CALL : GRADE_ACTION_BATCH,
                                 call_bytes + ncalls * sizeof(gcall));
    if (!a || !set_calls(a, ncalls))
        goto oom;
    for (size_t k = 0; k < ncalls; k++) {
        call_nodes c;
        memcpy(&c, rd->calls.data + k * sizeof c, sizeof c);
        if (!set_call_nodes(a, k, c.name, c.args))
            goto oom;
    }
    return a;
oom:
    grade_action_free(a);
    return NULL;
}

/* The actual action of a response's output node. */
static grade_action *actual_from_output(reader *rd, node output, char *err, size_t errsz)
{
    if (!node_is_array(output)) {
        util_set_err(err, errsz, "response.output is missing or not an array");
        return NULL;
    }
    size_t call_bytes;
    node text;
    if (!scan_output(rd, output, &call_bytes, &text, err, errsz))
        return NULL;
    const char *s = "";
    size_t len = 0;
    grade_action *a = NULL;
    if (rd->calls.len)
        a = calls_action(rd, call_bytes);
    else if (node_str(text, &rd->buf[0], &s, &len))
        a = grade_action_message(s, len);
    else
        a = action_new(GRADE_ACTION_NONE, 0);
    if (!a)
        util_set_err(err, errsz, "out of memory");
    return a;
}

static grade_action *actual_node(node output, char *err, size_t errsz)
{
    reader rd = {0};
    grade_action *a = actual_from_output(&rd, output, err, errsz);
    reader_free(&rd);
    return a;
}

grade_action *grade_actual_from_response(const json_t *response, char *err, size_t errsz)
{
    if (!json_is_object(response)) {
        util_set_err(err, errsz, "response is not an object");
        return NULL;
    }
    return actual_node(node_json(json_object_get(response, "output")), err, errsz);
}

grade_action *grade_actual_from_output_text(const char *p, size_t len, unsigned flags, char *err,
                                            size_t errsz)
{
    return actual_node(node_text(p, len, flags), err, errsz);
}

/* ---- judging ------------------------------------------------------------ */

/* GRADE_EXPECTED_TOOL_CALL doubles as "equal" inside the comparison. */
#define MATCH GRADE_EXPECTED_TOOL_CALL
/* Objects up to this size match keys by direct search. */
#define KEYS_LINEAR_MAX 32

typedef struct judge {
    const grade_config *cfg;
    const grade_action *actual;
    util_arena arena;
    signed char *state;   /* per actual call: 0 unparsed, 1 parsed, -1 failed */
    pj_value *values;     /* per actual call: parsed arguments */
    const grade_action *expected;
    signed char *estate;  /* per expected call left unparsed: as state */
    pj_value *evalues;
    bool failed;          /* an expected call's arguments did not parse */
    char why[256];        /* ... and why */
} judge;

static grade_category compare(judge *j, const pj_value *x, const pj_value *y);

static bool int_equals(const pj_value *x, const pj_value *y)
{
    if (x->type == PJ_INT) {
        if (y->type == PJ_INT)
            return x->u.i == y->u.i;
        if (y->type == PJ_BOOL)
            return x->u.i == (y->u.b ? 1 : 0);
        return false;   /* a big int is never in int64 range */
    }
    /* x is a big int: equal only to the same big int. */
    return y->type == PJ_BIGINT && x->u.str.len == y->u.str.len &&
           memcmp(x->u.str.s, y->u.str.s, x->u.str.len) == 0;
}

/* Equality of short byte strings without a libc call (keys are short). */
static inline bool bytes_eq(const char *a, const char *b, size_t n)
{
    if (n > 16)
        return memcmp(a, b, n) == 0;
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

static int cmp_member_ptr(const void *a, const void *b)
{
    const pj_member *x = *(const pj_member *const *)a, *y = *(const pj_member *const *)b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, n);
    if (c)
        return c;
    return x->klen < y->klen ? -1 : x->klen > y->klen;
}

/* For each member of x, the member of y with the same key: false when the
 * key sets differ (x and y have the same size, keys are unique). */
static int pair_keys(judge *j, const pj_value *x, const pj_value *y, const pj_member **pairs)
{
    size_t n = x->u.obj.n;
    const pj_member *xm = x->u.obj.items, *ym = y->u.obj.items;
    if (n <= KEYS_LINEAR_MAX) {
        for (size_t i = 0; i < n; i++) {
            /* Keys usually come in the same order: try position i first. */
            if (ym[i].khash == xm[i].khash && ym[i].klen == xm[i].klen &&
                bytes_eq(ym[i].key, xm[i].key, xm[i].klen)) {
                pairs[i] = &ym[i];
                continue;
            }
            size_t k = 0;
            while (k < n && !(ym[k].khash == xm[i].khash && ym[k].klen == xm[i].klen &&
                              bytes_eq(ym[k].key, xm[i].key, xm[i].klen)))
                k++;
            if (k == n)
                return 0;
            pairs[i] = &ym[k];
        }
        return 1;
    }
    const pj_member **sorted = util_arena_alloc(&j->arena, n * sizeof *sorted);
    if (!sorted)
        return -1;
    for (size_t i = 0; i < n; i++)
        sorted[i] = &ym[i];
    qsort(sorted, n, sizeof *sorted, cmp_member_ptr);
    for (size_t i = 0; i < n; i++) {
        const pj_member *key = &xm[i];
        const pj_member **hit = bsearch(&key, sorted, n, sizeof *sorted, cmp_member_ptr);
        if (!hit)
            return 0;
        pairs[i] = *hit;
    }
    return 1;
}

static grade_category compare_dicts(judge *j, const pj_value *x, const pj_value *y)
{
    size_t n = x->u.obj.n;
    if (n != y->u.obj.n)
        return GRADE_ARGUMENT_OBJECT_KEYS_DIFFERENT;
    const pj_member *small[KEYS_LINEAR_MAX];
    const pj_member **pairs = n <= KEYS_LINEAR_MAX ? small
                                                   : util_arena_alloc(&j->arena, n * sizeof *pairs);
    if (!pairs)
        return GRADE_ARGUMENT_VALUE_DIFFERENT;   /* out of memory: never a match */
    int keys = pair_keys(j, x, y, pairs);
    if (keys < 0)
        return GRADE_ARGUMENT_VALUE_DIFFERENT;
    if (keys == 0)
        return GRADE_ARGUMENT_OBJECT_KEYS_DIFFERENT;
    for (size_t i = 0; i < n; i++) {
        grade_category c = compare(j, &x->u.obj.items[i].value, &pairs[i]->value);
        if (c != MATCH)
            return c;
    }
    return MATCH;
}

static grade_category compare(judge *j, const pj_value *x, const pj_value *y)
{
    switch (x->type) {
    case PJ_NULL:
        return y->type == PJ_NULL ? MATCH : GRADE_ARGUMENT_VALUE_TYPE_DIFFERENT;
    case PJ_BOOL:
        if (y->type != PJ_BOOL)
            return GRADE_ARGUMENT_VALUE_TYPE_DIFFERENT;
        return x->u.b == y->u.b ? MATCH : GRADE_ARGUMENT_VALUE_DIFFERENT;
    case PJ_INT:
    case PJ_BIGINT:
        if (y->type != PJ_INT && y->type != PJ_BIGINT && y->type != PJ_BOOL)
            return GRADE_ARGUMENT_VALUE_TYPE_DIFFERENT;
        return int_equals(x, y) ? MATCH : GRADE_ARGUMENT_VALUE_DIFFERENT;
    case PJ_FLOAT:
        if (y->type != PJ_FLOAT)
            return GRADE_ARGUMENT_VALUE_TYPE_DIFFERENT;
        return fabs(y->u.f - x->u.f) < j->cfg->float_tolerance ? MATCH
                                                               : GRADE_ARGUMENT_VALUE_DIFFERENT;
    case PJ_STRING:
        if (y->type != PJ_STRING)
            return GRADE_ARGUMENT_VALUE_TYPE_DIFFERENT;
        return text_similar(&j->arena, x->u.str.s, x->u.str.len, y->u.str.s, y->u.str.len,
                            j->cfg->word_similarity_threshold)
                   ? MATCH
                   : GRADE_ARGUMENT_VALUE_DIFFERENT;
    case PJ_ARRAY:
        if (y->type != PJ_ARRAY)
            return GRADE_ARGUMENT_VALUE_TYPE_DIFFERENT;
        if (x->u.arr.n != y->u.arr.n)
            return GRADE_ARGUMENT_LIST_LENGTH_DIFFERENT;
        for (size_t i = 0; i < x->u.arr.n; i++) {
            grade_category c = compare(j, &x->u.arr.items[i], &y->u.arr.items[i]);
            if (c != MATCH)
                return c;
        }
        return MATCH;
    case PJ_OBJECT:
        if (y->type != PJ_OBJECT)
            return GRADE_ARGUMENT_VALUE_TYPE_DIFFERENT;
        return compare_dicts(j, x, y);
    }
    return GRADE_ARGUMENT_VALUE_DIFFERENT;
}

/* The parsed arguments of actual call i (parsed on first use), or NULL when
 * they do not parse. */
static const pj_value *actual_value(judge *j, size_t i)
{
    if (j->state[i] == 0) {
        const gcall *c = &j->actual->calls[i];
        j->state[i] = pj_parse(&j->arena, c->args, c->args_len, &j->values[i], NULL, 0) ? -1 : 1;
    }
    return j->state[i] > 0 ? &j->values[i] : NULL;
}

/* The parsed arguments of expected call k: parsed with the action, or
 * parsed here on first use (grade_expected_unparsed). NULL when they do not
 * parse, with j->failed set and the reason in j->why. */
static const pj_value *expected_value(judge *j, size_t k)
{
    const gcall *e = &j->expected->calls[k];
    if (e->parsed)
        return &e->value;
    if (!j->estate)
        return NULL;
    if (j->estate[k] == 0) {
        char perr[160];
        bool bad = pj_parse(&j->arena, e->args, e->args_len, &j->evalues[k], perr, sizeof perr);
        j->estate[k] = bad ? -1 : 1;
        if (bad && !j->failed) {
            j->failed = true;
            if (j->expected->kind == GRADE_ACTION_BATCH)
                snprintf(j->why, sizeof j->why, "calls[%zu].arguments is not valid JSON: %s", k, perr);
            else
                snprintf(j->why, sizeof j->why, "arguments is not valid JSON: %s", perr);
        }
    }
    return j->estate[k] > 0 ? &j->evalues[k] : NULL;
}

/* docs/grading.md §4.1 for expected call k and actual call i: the expected
 * arguments are parsed only once the names match. */
static grade_category single(judge *j, size_t k, size_t i)
{
    const gcall *e = &j->expected->calls[k];
    const gcall *a = &j->actual->calls[i];
    if (e->name_len != a->name_len || !bytes_eq(e->name, a->name, e->name_len))
        return GRADE_UNEXPECTED_TOOL;
    const pj_value *x = expected_value(j, k);
    if (!x)
        return GRADE_ARGUMENTS_DECODE_ERROR;   /* j->failed: the verdict is void */
    const pj_value *y = actual_value(j, i);
    if (!y)
        return GRADE_ARGUMENTS_DECODE_ERROR;
    return compare(j, x, y);
}

/* Kuhn's augmenting-path search from expected call root, iteratively: each
 * frame is an expected call, the position of its next candidate and the
 * actual call it is trying. */
typedef struct kframe { size_t e, next, j; } kframe;

static bool augment(size_t root, size_t *const *cand, const size_t *ncand, long *match,
                    bool *visited, kframe *stack)
{
    size_t sp = 0;
    stack[sp++] = (kframe){root, 0, 0};
    while (sp) {
        kframe *f = &stack[sp - 1];
        if (f->next == ncand[f->e]) {
            sp--;
            continue;
        }
        size_t j = cand[f->e][f->next++];
        if (visited[j])
            continue;
        visited[j] = true;
        f->j = j;
        if (match[j] < 0) {
            for (size_t t = 0; t < sp; t++)
                match[stack[t].j] = (long)stack[t].e;
            return true;
        }
        stack[sp++] = (kframe){(size_t)match[j], 0, 0};
    }
    return false;
}

static double batch_reward(const grade_config *cfg, size_t m, size_t ne, size_t na)
{
    if (!cfg->parallel_rewarding)
        return m == ne ? 1.0 : 0.0;
    if (cfg->mode == GRADE_MODE_F1)
        return (double)(2 * m) / (double)(ne + na);
    size_t r = cfg->allow_subset ? (ne < na ? ne : na) : ne;
    if (cfg->mode == GRADE_MODE_FRACTIONAL)
        return r ? (double)m / (double)r : 0.0;
    return m == r ? 1.0 : 0.0;
}

static grade_verdict verdict(double reward, grade_category c)
{
    grade_verdict v = {reward, c};
    return v;
}

static grade_verdict judge_batch(judge *j, const grade_action *exp)
{
    const grade_config *cfg = j->cfg;
    size_t ne = exp->ncalls, na = j->actual->ncalls;
    bool admissible = na == ne || !cfg->parallel_rewarding ||
                      (na < ne && cfg->allow_subset) || (na > ne && cfg->allow_superset);
    if (!admissible)
        return verdict(0.0, GRADE_FUNCTION_CALL_BATCH_LENGTH_DIFFERENT);

    size_t **cand = util_arena_alloc(&j->arena, ne * sizeof *cand);
    size_t *ncand = util_arena_alloc(&j->arena, ne * sizeof *ncand);
    grade_category *fail = util_arena_alloc(&j->arena, ne * sizeof *fail);
    size_t *order = util_arena_alloc(&j->arena, ne * sizeof *order);
    long *match = util_arena_alloc(&j->arena, na * sizeof *match);
    bool *visited = util_arena_alloc(&j->arena, na * sizeof *visited);
    bool *matched = util_arena_alloc(&j->arena, ne * sizeof *matched);
    kframe *stack = util_arena_alloc(&j->arena, (ne + 1) * sizeof *stack);
    if (!cand || !ncand || !fail || !order || !match || !visited || !matched || !stack)
        return verdict(0.0, GRADE_ARGUMENTS_DECODE_ERROR);   /* out of memory */

    for (size_t i = 0; i < ne; i++) {
        cand[i] = util_arena_alloc(&j->arena, na * sizeof **cand);
        if (!cand[i])
            return verdict(0.0, GRADE_ARGUMENTS_DECODE_ERROR);
        ncand[i] = 0;
        fail[i] = GRADE_UNEXPECTED_TOOL;
        bool fail_set = false;
        for (size_t k = 0; k < na; k++) {
            grade_category c = single(j, i, k);
            if (c == MATCH)
                cand[i][ncand[i]++] = k;
            else if (!fail_set && c != GRADE_UNEXPECTED_TOOL) {
                fail[i] = c;
                fail_set = true;
            }
        }
    }
    /* Stable insertion sort of the expected calls by candidate count. */
    for (size_t i = 0; i < ne; i++) {
        size_t k = i;
        while (k > 0 && ncand[order[k - 1]] > ncand[i]) {
            order[k] = order[k - 1];
            k--;
        }
        order[k] = i;
    }
    for (size_t k = 0; k < na; k++)
        match[k] = -1;
    size_t m = 0;
    for (size_t t = 0; t < ne; t++) {
        memset(visited, 0, na * sizeof *visited);
        if (augment(order[t], cand, ncand, match, visited, stack))
            m++;
    }
    memset(matched, 0, ne * sizeof *matched);
    for (size_t k = 0; k < na; k++)
        if (match[k] >= 0)
            matched[match[k]] = true;

    double reward = batch_reward(cfg, m, ne, na);
    if (reward == 1.0)
        return verdict(reward, ne == 1 ? GRADE_EXPECTED_TOOL_CALL : GRADE_EXPECTED_TOOL_CALL_BATCH);
    if (m == ne || m == na)
        return verdict(reward, GRADE_FUNCTION_CALL_BATCH_LENGTH_DIFFERENT);
    for (size_t i = 0; i < ne; i++)
        if (!matched[i])
            return verdict(reward, fail[i]);
    return verdict(reward, GRADE_FUNCTION_CALL_BATCH_LENGTH_DIFFERENT);
}

int grade_judge_checked(const grade_config *cfg, const grade_action *expected,
                        const grade_action *actual, grade_verdict *out, char *err, size_t errsz)
{
    if (actual->kind == GRADE_ACTION_NONE || expected->kind == GRADE_ACTION_NONE) {
        *out = verdict(0.0, GRADE_NO_ACTION_FOUND);
        return 0;
    }
    if (expected->kind == GRADE_ACTION_MESSAGE) {
        *out = actual->kind == GRADE_ACTION_MESSAGE ? verdict(1.0, GRADE_EXPECTED_CHAT_MESSAGE_FOUND)
                                                    : verdict(0.0, GRADE_NO_EXPECTED_CHAT_MESSAGE);
        return 0;
    }
    if (actual->kind == GRADE_ACTION_MESSAGE) {
        *out = verdict(0.0, GRADE_NO_EXPECTED_TOOL_CALL);
        return 0;
    }

    _Alignas(16) char scratch[8192];
    signed char state1;
    pj_value value1;
    judge j = {cfg, actual, {0}, &state1, &value1, expected, NULL, NULL, false, ""};
    util_arena_init(&j.arena, scratch, sizeof scratch);
    j.estate = util_arena_alloc(&j.arena, expected->ncalls);
    j.evalues = util_arena_alloc(&j.arena, expected->ncalls * sizeof *j.evalues);
    if (j.estate)
        memset(j.estate, 0, expected->ncalls);
    grade_verdict v;
    if (!j.estate || !j.evalues) {
        v = verdict(0.0, GRADE_ARGUMENTS_DECODE_ERROR);   /* out of memory */
    } else if (expected->ncalls == 1 && actual->ncalls == 1) {
        state1 = 0;
        grade_category c = single(&j, 0, 0);
        v = c == MATCH ? verdict(1.0, GRADE_EXPECTED_TOOL_CALL) : verdict(0.0, c);
    } else {
        j.state = util_arena_alloc(&j.arena, actual->ncalls);
        j.values = util_arena_alloc(&j.arena, actual->ncalls * sizeof *j.values);
        if (!j.state || !j.values) {
            v = verdict(0.0, GRADE_ARGUMENTS_DECODE_ERROR);
        } else {
            memset(j.state, 0, actual->ncalls);
            v = judge_batch(&j, expected);
        }
    }
    util_arena_free(&j.arena);
    *out = v;
    if (!j.failed)
        return 0;
    if (err && errsz)
        snprintf(err, errsz, "%s", j.why);
    return -1;
}

grade_verdict grade_judge(const grade_config *cfg, const grade_action *expected,
                          const grade_action *actual)
{
    grade_verdict v;
    if (grade_judge_checked(cfg, expected, actual, &v, NULL, 0) != 0)
        v = verdict(0.0, GRADE_ARGUMENTS_DECODE_ERROR);
    return v;
}

size_t grade_reward_repr(double reward, char *buf, size_t bufsz)
{
    /* the binary rewards, written per verdict, without the shortest-digits search */
    if (bufsz >= sizeof "0.0" && ((reward == 0.0 && !signbit(reward)) || reward == 1.0)) {
        memcpy(buf, reward == 1.0 ? "1.0" : "0.0", sizeof "0.0");
        return sizeof "0.0" - 1;
    }
    return util_float_repr(reward, buf, bufsz);
}
