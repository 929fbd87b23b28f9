/* Differential tests of jtext's block scanning (SSE2 / SWAR) against its
 * reference byte loop (JTEXT_SCALAR): on generated and mutated texts — every
 * byte value at every offset of strings that cross the 8- and 16-byte block
 * edges, white-space runs of every length, escapes and UTF-8 sequences valid
 * and broken, texts cut at every byte — both must give the same answer in
 * every respect: acceptance, error column and reason, the JTEXT_SEEN_* marks,
 * the cursor's position, built values, member spans and picked members.
 *
 * Each text is copied into a heap block of exactly its size, so that a read
 * at or past its end is an AddressSanitizer error under `make test SAN=1`.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "jtext.h"
#include "testutil.h"

/* Flag sets every text is tried with (each also with JTEXT_SCALAR). */
static const unsigned FLAG_SETS[] = {0, JTEXT_BIG_INTS, JTEXT_PY | JTEXT_SURROGATES};
enum { NFLAG_SETS = sizeof FLAG_SETS / sizeof FLAG_SETS[0] };

/* ---- what one scan gives ----------------------------------------------------- */

typedef struct outcome {
    bool ok;
    char err[160];
    size_t stop;        /* the cursor after the value */
    unsigned seen;
    bool saw_nul;
    json_t *built;      /* jtext_build's value, or NULL */
    char *members;      /* jtext_object's member list as text */
    int object_rc;
    char object_err[160];
    json_t *picked;     /* jtext_pick of the first member's key */
} outcome;

typedef struct members_ctx {
    const char *base;
    util_buf out;
} members_ctx;

static int record_member(void *ctx, const jtext_member *m)
{
    members_ctx *c = ctx;
    char where[64];
    snprintf(where, sizeof where, "@%td-%td:", m->v - c->base, m->end - c->base);
    cr_assert_eq(util_buf_puts(&c->out, where), 0);
    cr_assert_eq(util_buf_append(&c->out, m->key, m->key_len), 0);
    cr_assert_eq(util_buf_putc(&c->out, '\n'), 0);
    return 0;
}

/* Both NULL, or equal values (strings byte for byte, lone surrogates too). */
static bool same_value(const json_t *a, const json_t *b)
{
    return (!a && !b) || (a && b && json_equal(a, b));
}

/* Compares and frees the second. */
static bool same_then_free(const json_t *a, json_t *b)
{
    bool same = same_value(a, b);
    json_decref(b);
    return same;
}

/* The first member's key of an object text, decoded, or NULL. */
static int first_key(void *ctx, const jtext_member *m)
{
    char **key = ctx;
    *key = strndup(m->key, m->key_len);
    return 1;
}

static void run(const char *p, size_t len, unsigned flags, outcome *o)
{
    memset(o, 0, sizeof *o);
    util_buf tmp = {0};
    jtext_scan s;
    jtext_scan_init(&s, p, len, flags, &tmp);
    jtext_ws(&s);
    o->ok = jtext_value(&s);
    o->stop = (size_t)(s.p - s.base);
    o->seen = s.seen;
    o->saw_nul = s.saw_nul;
    if (s.err)
        snprintf(o->err, sizeof o->err, "%zu %s", s.err_col, s.err);
    util_buf_free(&tmp);

    char verr[160] = "";
    bool valid = jtext_valid(p, len, flags, verr, sizeof verr);
    o->built = jtext_build(p, len, flags);
    cr_assert_eq(valid, o->built != NULL, "build without valid (or back): %s", verr);
    members_ctx mc = {p, {0}};
    o->object_rc = jtext_object(p, len, flags, record_member, &mc, o->object_err, sizeof o->object_err);
    o->members = mc.out.data;
    char *key = NULL;
    if (jtext_object(p, len, flags, first_key, &key, NULL, 0) == 1 && key) {
        const char *keys[2] = {key, "absent"};
        o->picked = jtext_pick(p, len, flags, keys, 2);
        if (valid)   /* the _valid twins give the same on valid text */
            cr_assert(same_then_free(o->picked, jtext_pick_valid(p, len, flags, keys, 2)));
    }
    if (valid)
        cr_assert(same_then_free(o->built, jtext_build_valid(p, len, flags)));
    free(key);
}

static void outcome_free(outcome *o)
{
    json_decref(o->built);
    free(o->members);
    json_decref(o->picked);
}

#define SAME_STR(a, b) cr_assert_str_eq((a) ? (a) : "-", (b) ? (b) : "-", "for %s", show)

/* The text as a C literal (truncated), for failure messages. */
static void show_text(const char *p, size_t len, char *out, size_t outsz)
{
    size_t k = 0;
    for (size_t i = 0; i < len && k + 8 < outsz; i++) {
        unsigned char c = (unsigned char)p[i];
        k += (size_t)(c >= 0x20 && c < 0x7F && c != '\\'
                          ? snprintf(out + k, outsz - k, "%c", c)
                          : snprintf(out + k, outsz - k, "\\x%02X", c));
    }
    out[k] = 0;
}

/* Block and byte-loop scans of text agree with each of the flag sets. */
static void check_text_with(const char *text, size_t len, const unsigned *flag_sets, size_t nsets)
{
    char *p = malloc(len ? len : 1);   /* exactly sized: ASan sees overreads */
    cr_assert(p);
    memcpy(p, text, len);
    char show[600];
    show_text(p, len, show, sizeof show);
    for (size_t f = 0; f < nsets; f++) {
        outcome fast, ref;
        run(p, len, flag_sets[f], &fast);
        run(p, len, flag_sets[f] | JTEXT_SCALAR, &ref);
        cr_assert_eq(fast.ok, ref.ok, "for %s", show);
        cr_assert_str_eq(fast.err, ref.err, "for %s", show);
        cr_assert_eq(fast.stop, ref.stop, "for %s", show);
        cr_assert_eq(fast.seen, ref.seen, "for %s", show);
        cr_assert_eq(fast.saw_nul, ref.saw_nul, "for %s", show);
        cr_assert(same_value(fast.built, ref.built), "for %s", show);
        SAME_STR(fast.members, ref.members);
        cr_assert_eq(fast.object_rc, ref.object_rc, "for %s", show);
        cr_assert_str_eq(fast.object_err, ref.object_err, "for %s", show);
        cr_assert(same_value(fast.picked, ref.picked), "for %s", show);
        outcome_free(&fast);
        outcome_free(&ref);
    }
    free(p);
}

/* Block and byte-loop scans of text agree with every flag set. */
static void check_text(const char *text, size_t len)
{
    check_text_with(text, len, FLAG_SETS, NFLAG_SETS);
}

/* ---- exhaustive small cases ------------------------------------------------------ */

enum { BODY_MAX = 72 };   /* string bodies up to here cross the 8-, 16- and 32-byte steps */

/* Body lengths tried at every offset: all short ones, then some that end
 * just past a block edge (scan_string takes two 16-byte blocks, then pairs of
 * them, then single ones). */
static bool tried_length(size_t n)
{
    return n <= 18 || n == 24 || n == 31 || n == 32 || n == 33 || n == 40 || n == 47 ||
           n == 48 || n == 49 || n == 63 || n == 64 || n == 65 || n == BODY_MAX;
}

/* Every byte value at every offset of plain string bodies of the lengths
 * above, inside an object, alone, and cut at the buffer's end. */
Test(jtext_blocks, every_byte_at_every_offset)
{
    char t[BODY_MAX + 16];
    for (size_t n = 1; n <= BODY_MAX; n++)
        for (size_t at = 0; tried_length(n) && at < n; at++)
            for (unsigned b = 0; b < 256; b++) {
                size_t k = 0;
                t[k++] = '{';
                t[k++] = '"';
                memset(t + k, 'a', n);
                t[k + at] = (char)b;
                k += n;
                t[k++] = '"';
                t[k++] = ':';
                t[k++] = '1';
                t[k++] = '}';
                check_text(t, k);
                check_text(t + 1, 2 + n);   /* the string alone */
                check_text(t + 1, 1 + n);   /* unterminated, ending at the buffer's end */
            }
}

/* White-space runs of every length and mix before every byte value. */
Test(jtext_blocks, white_space_runs)
{
    static const char ws[] = " \n\r\t";
    char t[64];
    for (size_t n = 0; n <= 40; n++)
        for (unsigned b = 0; b < 256; b++) {
            size_t k = 0;
            t[k++] = '[';
            for (size_t i = 0; i < n; i++)
                t[k++] = ws[(i * 7 + b) % 4];
            t[k++] = (char)b;
            t[k++] = ']';
            check_text(t, k);
            check_text(t, k - 2);   /* ends inside the run */
            check_text(t + 1, k - 2);
        }
}

/* ---- generated and mutated documents --------------------------------------------- */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t next(rng *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s;
}

static size_t pick(rng *r, size_t n)
{
    return (size_t)(next(r) % n);
}

static void put(util_buf *b, const char *s)
{
    cr_assert_eq(util_buf_puts(b, s), 0);
}

/* Appends n plain letters (a run with nothing to escape). */
static void put_letters(util_buf *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(util_buf_putc(b, (char)('a' + i % 26)), 0);
}

/* Pieces of string bodies: plain runs, escapes and UTF-8, good and bad. */
static const char *const PIECES[] = {
    "abc", "Hello, world. ", "0123456789abcdefghij", "\\n", "\\\"", "\\\\", "\\/", "\\u00e9",
    "\\ud83d\\ude00", "\\ud800", "\\udc00", "\\ud800\\u0041", "\\u0000", "\\x", "\\u12",
    "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\xC0\xAF", "\xED\xA0\x80", "\xF5\x80\x80\x80",
    "\xE2\x82", "\xFF", "\t", "\x01", "\x7F", " ", "{[,:]}",
};

static void gen_ws(rng *r, util_buf *b)
{
    static const char *const ws[] = {"", "", "", " ", "\n", "  ", "\n    ", "\r\n\t\t",
                                     "                                  "};
    put(b, ws[pick(r, sizeof ws / sizeof ws[0])]);
}

static void gen_string(rng *r, util_buf *b)
{
    put(b, "\"");
    size_t n = pick(r, 12);
    for (size_t i = 0; i < n; i++) {
        size_t k = pick(r, sizeof PIECES / sizeof PIECES[0] + 4);
        put(b, k < sizeof PIECES / sizeof PIECES[0] ? PIECES[k] : "plain text run ");
    }
    put(b, "\"");
}

static void gen_value(rng *r, util_buf *b, int depth)
{
    static const char *const scalars[] = {"0", "-1", "3.25", "1e5", "-0.5E-3", "12345678901234567890",
                                          "1e400", "true", "false", "null", "NaN", "-Infinity", "01"};
    size_t kind = depth > 4 ? 2 + pick(r, 2) : pick(r, 4);
    if (kind == 0 || kind == 1) {
        bool obj = kind == 0;
        put(b, obj ? "{" : "[");
        size_t n = pick(r, 5);
        for (size_t i = 0; i < n; i++) {
            if (i)
                put(b, ",");
            gen_ws(r, b);
            if (obj) {
                gen_string(r, b);
                gen_ws(r, b);
                put(b, ":");
                gen_ws(r, b);
            }
            gen_value(r, b, depth + 1);
            gen_ws(r, b);
        }
        put(b, obj ? "}" : "]");
    } else if (kind == 2) {
        gen_string(r, b);
    } else {
        put(b, scalars[pick(r, sizeof scalars / sizeof scalars[0])]);
    }
}

/* An object of two members: a generated key, then "k". */
static void gen_object(rng *r, util_buf *b)
{
    put(b, "{");
    gen_string(r, b);
    put(b, ": ");
    gen_value(r, b, 1);
    put(b, ", \"k\": ");
    gen_value(r, b, 1);
    put(b, "}");
}

enum { DOCS = 3000, MUTATIONS = 6 };

Test(jtext_blocks, generated_and_mutated_documents)
{
    rng r = {0x9E3779B97F4A7C15ULL};
    util_buf doc = {0};
    for (int d = 0; d < DOCS; d++) {
        doc.len = 0;
        gen_ws(&r, &doc);
        if (pick(&r, 3)) {   /* mostly objects, as requests are */
            gen_object(&r, &doc);
        } else {
            gen_value(&r, &doc, 0);
        }
        gen_ws(&r, &doc);
        check_text(doc.data, doc.len);
        check_text(doc.data, pick(&r, doc.len + 1));   /* cut anywhere */
        for (int m = 0; m < MUTATIONS; m++) {
            size_t at = pick(&r, doc.len);
            char saved = doc.data[at];
            doc.data[at] = (char)next(&r);
            check_text(doc.data, doc.len);
            doc.data[at] = saved;
        }
    }
    util_buf_free(&doc);
}

/* Long strings: one plain run of every length up to 300 bytes with a special
 * byte (quote, backslash, control, UTF-8 lead) at its end, and the dataset's
 * shape of long texts full of escapes. */
Test(jtext_blocks, long_runs)
{
    static const char *const tails[] = {"\"", "\\n\"", "\x1F\"", "\xC3\xA9\"", "\xC3\"", "\\", ""};
    util_buf t = {0};
    for (size_t n = 0; n <= 300; n++)
        for (size_t k = 0; k < sizeof tails / sizeof tails[0]; k++) {
            t.len = 0;
            put(&t, "[\"");
            put_letters(&t, n);
            put(&t, tails[k]);
            check_text(t.data, t.len);
            put(&t, "]");
            check_text(t.data, t.len);
        }
    util_buf_free(&t);
}

/* ---- request-shaped documents: the one-loop walk's short paths ----------------
 * Containers are walked by one loop whose short paths (keys, separators,
 * string values, literals) apply only while FAST_ROOM bytes are left; these
 * documents have the shape of verify requests — long lists of messages with
 * short keys, string values of every length, escaped JSON in strings — in
 * Python's, compact and indented layouts, and are checked whole, cut at every
 * byte of their last 120 and at random places, and mutated at separators,
 * with JTEXT_LINE too. */

static const unsigned LINE_FLAG_SETS[] = {0, JTEXT_LINE, JTEXT_PY | JTEXT_LINE, JTEXT_BIG_INTS,
                                          JTEXT_PY | JTEXT_SURROGATES};
enum { NLINE_FLAG_SETS = sizeof LINE_FLAG_SETS / sizeof LINE_FLAG_SETS[0] };

typedef struct layout {
    const char *comma, *colon;   /* between members / elements, after a key */
    bool clean;                  /* no broken piece (three documents in four) */
} layout;

static const layout LAYOUTS[] = {
    {", ", ": ", false}, {",", ":", false}, {",\n    ", ": ", false}, {" , ", " : ", false},
    {",  ", ":  ", false}, {",\t", ":\n", false},
};

static void put_comma(rng *r, util_buf *b, const layout *l)
{
    put(b, pick(r, 40) ? l->comma : ",\r\n");
}

/* A string value: words, an escaped JSON text (once or twice escaped), or
 * a body with a rarer escape, UTF-8 or a broken byte. */
static void gen_req_string(rng *r, util_buf *b, const layout *l)
{
    static const char *const words[] = {"the ", "user ", "message", "assistant", "completed",
                                        "call_", "0123456789abcdef", "Hello, world. ", "x"};
    static const char *const escaped[] = {
        "{\\\"card_last4\\\": \\\"9537\\\", \\\"temporary\\\": true}",
        "{\\\"status\\\": \\\"ok\\\", \\\"detail\\\": \\\"line one\\nline two\\\"}",
        "{\\\"q\\\": \\\"say \\\\\\\"hi\\\\\\\"\\\", \\\"path\\\": \\\"C:\\\\\\\\tmp\\\"}",
        "\\\\n\\\\\\\"\\\\\\\\", "\\/\\b\\f\\r\\t", "\\u00e9\\ud83d\\ude00", "\\u0000",
    };
    static const char *const odd[] = {"\xC3\xA9", "\xE2\x82\xAC", "\xFF", "\x01", "\\x", "\\u12",
                                      "\\ud800", "\n", "\x7F"};
    put(b, "\"");
    size_t kind = pick(r, 10), n = pick(r, 14);
    for (size_t i = 0; i < n; i++) {
        if (kind < 6)
            put(b, words[pick(r, sizeof words / sizeof words[0])]);
        else if (kind < 9)
            put(b, escaped[pick(r, sizeof escaped / sizeof escaped[0])]);
        else
            put(b, pick(r, 3) || l->clean ? words[pick(r, sizeof words / sizeof words[0])]
                                          : odd[pick(r, sizeof odd / sizeof odd[0])]);
    }
    put(b, "\"");
}

static void gen_req_value(rng *r, util_buf *b, const layout *l, int depth);

static void gen_req_object(rng *r, util_buf *b, const layout *l, int depth)
{
    static const char *const keys[] = {"role", "content", "type", "id", "status", "call_id",
                                       "name", "arguments", "output", "text", "logprobs",
                                       "a key longer than 16 bytes", "k\\u0065y", "k\xC3\xA9",
                                       "", "x"};
    put(b, "{");
    size_t n = pick(r, 7);
    for (size_t i = 0; i < n; i++) {
        if (i)
            put_comma(r, b, l);
        put(b, "\"");
        put(b, keys[pick(r, sizeof keys / sizeof keys[0])]);
        put(b, "\"");
        put(b, l->colon);
        gen_req_value(r, b, l, depth + 1);
    }
    put(b, "}");
}

static void gen_req_value(rng *r, util_buf *b, const layout *l, int depth)
{
    static const char *const scalars[] = {"true", "false", "null", "0", "-12", "3.5e10", "1e400",
                                          "12345678901234567890", "NaN", "-Infinity", "tru",
                                          "nulll", "falsey", "True", "truex", "nul"};
    size_t kind = depth > 5 ? 3 + pick(r, 7) : pick(r, 10);
    if (kind < 2) {
        gen_req_object(r, b, l, depth);
    } else if (kind < 3) {
        put(b, "[");
        for (size_t i = 0, n = pick(r, 6); i < n; i++) {
            if (i)
                put_comma(r, b, l);
            gen_req_value(r, b, l, depth + 1);
        }
        put(b, "]");
    } else if (kind < 8) {
        gen_req_string(r, b, l);
    } else {
        size_t k = pick(r, sizeof scalars / sizeof scalars[0]);
        put(b, scalars[pick(r, 4) && !l->clean ? k : k % 8]);   /* the good ones when clean */
    }
}

/* A request: {"responses_create_params": {"input": [messages]}, ...}. */
static void gen_request(rng *r, util_buf *b)
{
    layout one = LAYOUTS[pick(r, sizeof LAYOUTS / sizeof LAYOUTS[0])];
    one.clean = pick(r, 4) != 0;
    const layout *l = &one;
    put(b, "{\"responses_create_params\"");
    put(b, l->colon);
    put(b, "{\"input\"");
    put(b, l->colon);
    put(b, "[");
    for (size_t i = 0, n = 1 + pick(r, 12); i < n; i++) {
        if (i)
            put_comma(r, b, l);
        gen_req_object(r, b, l, 3);
    }
    put(b, "]}");
    put_comma(r, b, l);
    put(b, "\"response\"");
    put(b, l->colon);
    gen_req_value(r, b, l, 1);
    put(b, "}");
}

enum { REQUESTS = 400, TAIL_CUTS = 120, REQUEST_MUTATIONS = 12 };

Test(jtext_blocks, request_shaped_documents)
{
    static const char mutants[] = "\"\\,:{}[] \n\t\x01\x80ntf0-";
    rng r = {0xB5026F5AA96619E9ULL};
    util_buf doc = {0};
    size_t valid = 0;
    for (int d = 0; d < REQUESTS; d++) {
        doc.len = 0;
        gen_request(&r, &doc);
        check_text_with(doc.data, doc.len, LINE_FLAG_SETS, NLINE_FLAG_SETS);
        valid += jtext_valid(doc.data, doc.len, JTEXT_PY, NULL, 0);
        for (size_t cut = doc.len > TAIL_CUTS ? doc.len - TAIL_CUTS : 0; cut < doc.len; cut++)
            check_text(doc.data, cut);   /* ending near the buffer's end */
        for (int c = 0; c < 4; c++)
            check_text(doc.data, pick(&r, doc.len + 1));
        for (int m = 0; m < REQUEST_MUTATIONS; m++) {
            size_t at = pick(&r, doc.len);
            char saved = doc.data[at];
            doc.data[at] = pick(&r, 4) ? mutants[pick(&r, sizeof mutants - 1)] : (char)next(&r);
            check_text_with(doc.data, doc.len, LINE_FLAG_SETS, NLINE_FLAG_SETS);
            doc.data[at] = saved;
        }
    }
    cr_assert_gt(valid, REQUESTS / 4, "too few valid requests were generated (%zu)", valid);
    util_buf_free(&doc);
}

/* The depth limit met on the short paths: containers nested up to and past
 * JTEXT_MAX_DEPTH with room after them, holding strings, literals and
 * numbers, written with Python's and compact separators. */
Test(jtext_blocks, depth_limit_on_the_short_paths)
{
    static const char *const opens[] = {"[", "{\"k\": ", "[ ", "{\"k\":"};
    static const char *const closes[] = {"]", "}", "]", "}"};
    static const char *const inners[] = {"\"x\"", "true", "null", "1", "[]", "{}", "\"\"",
                                         "{\"a\": \"b\"}", "[\"s\", false]", ""};
    util_buf doc = {0};
    for (size_t depth = JTEXT_MAX_DEPTH - 3; depth <= JTEXT_MAX_DEPTH + 1; depth++)
        for (size_t o = 0; o < sizeof opens / sizeof opens[0]; o++)
            for (size_t i = 0; i < sizeof inners / sizeof inners[0]; i++) {
                doc.len = 0;
                put(&doc, "{\"pad\": \"0123456789abcdef0123456789abcdef\", \"v\": ");
                for (size_t k = 0; k < depth; k++)
                    put(&doc, opens[(o + k % 2 * 2) % 4]);
                put(&doc, inners[i]);
                for (size_t k = depth; k-- > 0;)
                    put(&doc, closes[(o + k % 2 * 2) % 4]);
                put(&doc, ", \"after\": \"0123456789abcdef0123456789abcdef0123456789\"}");
                check_text(doc.data, doc.len);
            }
    util_buf_free(&doc);
}

/* ---- the trusted walk ------------------------------------------------------------ */

/* jtext_object_trusted on text of exactly len bytes (ASan sees overreads):
 * on a valid object it walks (0) to the same members, at the same spans, as
 * jtext_object, unless a key has an escape (-1, the documented fallback);
 * on anything else it never reads outside the text. */
static void check_trusted(const char *text, size_t len)
{
    char *p = malloc(len ? len : 1);
    cr_assert(p);
    memcpy(p, text, len);
    char show[600];
    show_text(p, len, show, sizeof show);
    members_ctx ref = {p, {0}}, fast = {p, {0}};
    int ref_rc = jtext_object(p, len, JTEXT_PY, record_member, &ref, NULL, 0);
    int rc = jtext_object_trusted(p, len, record_member, &fast);
    if (ref_rc == 0 && rc == 0)
        SAME_STR(fast.out.data, ref.out.data);
    else if (ref_rc == 0)
        cr_assert_eq(rc, -1, "for %s", show);
    util_buf_free(&ref.out);
    util_buf_free(&fast.out);
    free(p);
}

Test(jtext_blocks, trusted_walk_matches_the_checked_one)
{
    rng r = {0xD1B54A32D192ED03ULL};
    util_buf doc = {0};
    size_t walked = 0;
    for (int d = 0; d < DOCS; d++) {
        doc.len = 0;
        gen_ws(&r, &doc);
        gen_object(&r, &doc);
        gen_ws(&r, &doc);
        if (jtext_object(doc.data, doc.len, JTEXT_PY, NULL, NULL, NULL, 0) == 0 &&
            jtext_object_trusted(doc.data, doc.len, NULL, NULL) == 0)
            walked++;
        check_trusted(doc.data, doc.len);
        check_trusted(doc.data, pick(&r, doc.len + 1));
    }
    cr_assert_gt(walked, 0, "no valid object was walked");
    util_buf_free(&doc);
    /* Valid rows of the shapes a dataset has: each is walked, not refused. */
    static const char *const rows[] = {
        "{}", " { \"a\" : 1 } ", "{\"a\":\"x\\\"y\",\"b\":[1,{\"c\":\"]}\"}],\"d\":null}",
        "{\"trajectory_id\": 9223372036854775808, \"info\": {\"t\": \"\\\\\"}, \"z\": NaN}",
        "{\"long\": \"0123456789abcdef0123456789abcdef\\n0123456789abcdef\\u00e9\", \"e\": -1e400}",
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        cr_assert_eq(jtext_object_trusted(rows[i], strlen(rows[i]), NULL, NULL), 0, "for %s", rows[i]);
        check_trusted(rows[i], strlen(rows[i]));
    }
}

/* ---- reading validated text: decoding and the unchecked walks ------------------ */

/* jtext_string_value (unchecked, by blocks or bytes) decodes a valid string
 * span of exactly len bytes to the bytes the scanner's checked decoding
 * gives. */
static void check_decode(const char *text, size_t len, unsigned flags)
{
    char *p = malloc(len ? len : 1);
    cr_assert(p);
    memcpy(p, text, len);
    char show[600];
    show_text(p, len, show, sizeof show);
    util_buf want = {0}, tmp = {0};
    jtext_scan s;
    jtext_scan_init(&s, p, len, flags, &tmp);
    if (len && *p == '"' && jtext_string(&s, &want) && s.p == s.end) {
        /* skipped unchecked (by its masks) to exactly its end */
        jtext_span none[1];
        const char *at = NULL;
        util_buf list = {0};
        cr_assert_eq(util_buf_putc(&list, '['), 0);
        cr_assert_eq(util_buf_append(&list, p, len), 0);
        cr_assert_eq(util_buf_putc(&list, ']'), 0);
        jtext_span el = jtext_next_valid((jtext_span){list.data, list.len}, flags, &at, NULL, 0, none);
        cr_assert(el.p == list.data + 1 && el.len == len, "skip differs for %s", show);
        util_buf_free(&list);
        for (unsigned scalar = 0; scalar <= JTEXT_SCALAR; scalar += JTEXT_SCALAR) {
            util_buf got = {0};
            cr_assert_eq(util_buf_puts(&got, "x"), 0);   /* appended after what is there */
            cr_assert_eq(jtext_string_value((jtext_span){p, len}, flags | scalar, &got), 0,
                         "for %s", show);
            cr_assert(got.len == want.len + 1 && !memcmp(got.data + 1, want.data ? want.data : "",
                                                         want.len), "decoding differs for %s", show);
            util_buf_free(&got);
        }
    }
    util_buf_free(&want);
    util_buf_free(&tmp);
    free(p);
}

Test(jtext_blocks, unchecked_decoding_matches_the_scanner)
{
    rng r = {0x2545F4914F6CDD1DULL};
    util_buf t = {0};
    size_t decoded = 0;
    for (int d = 0; d < 20 * DOCS; d++) {
        t.len = 0;
        gen_string(&r, &t);
        for (size_t f = 0; f < NFLAG_SETS; f++)
            check_decode(t.data, t.len, FLAG_SETS[f]);
        decoded += jtext_valid(t.data, t.len, JTEXT_PY | JTEXT_SURROGATES, NULL, 0);
    }
    cr_assert_gt(decoded, 1000, "too few valid strings were generated");
    /* escapes at every offset around the block edges */
    static const char *const escapes[] = {"\\n", "\\\"", "\\\\", "\\u00e9", "\\ud83d\\ude00",
                                          "\\ud800x", "\\udc00", "\\u0000", "\xC3\xA9",
                                          "\\\\\\\"", "\\\"\\\"\\\\", "\\\\\\\\\\\"x\\\\"};
    for (size_t n = 0; n <= 40; n++)
        for (size_t e = 0; e < sizeof escapes / sizeof escapes[0]; e++) {
            t.len = 0;
            put(&t, "\"");
            put_letters(&t, n);
            put(&t, escapes[e]);
            put(&t, "tail\\t\"");
            for (size_t f = 0; f < NFLAG_SETS; f++)
                check_decode(t.data, t.len, FLAG_SETS[f]);
        }
    util_buf_free(&t);
}

/* On a valid object (text of exactly len bytes), jtext_get_valid finds what
 * jtext_get finds for each key; on a valid list, jtext_next_valid gives the
 * elements jtext_elements gives, and each object element's members as
 * jtext_get does. */
static void check_valid_walks(const char *text, size_t len, const char *const *keys,
                              size_t nkeys)
{
    char *p = malloc(len ? len : 1);
    cr_assert(p);
    memcpy(p, text, len);
    char show[600];
    show_text(p, len, show, sizeof show);
    jtext_span doc = {p, len}, got[4], el[64];
    if (jtext_object(p, len, JTEXT_PY, NULL, NULL, NULL, 0) == 0) {
        jtext_get_valid(doc, JTEXT_PY, keys, nkeys, got);
        for (size_t k = 0; k < nkeys; k++) {
            jtext_span want = jtext_get(doc, JTEXT_PY, keys[k]);
            cr_assert(got[k].p == want.p && got[k].len == want.len, "key %s for %s", keys[k], show);
        }
    }
    size_t n = jtext_valid(p, len, JTEXT_PY, NULL, 0) ? jtext_elements(doc, JTEXT_PY, el, 64) : 0;
    const char *at = NULL;
    for (size_t i = 0; i < n && i < 64; i++) {
        jtext_span v = jtext_next_valid(doc, JTEXT_PY, &at, keys, nkeys, got);
        cr_assert(v.p == el[i].p && v.len == el[i].len, "element %zu for %s", i, show);
        for (size_t k = 0; k < nkeys; k++) {
            jtext_span want = *v.p == '{' ? jtext_get(v, JTEXT_PY, keys[k]) : (jtext_span){NULL, 0};
            cr_assert(got[k].p == want.p && got[k].len == want.len, "element %zu key %s for %s",
                      i, keys[k], show);
        }
    }
    if (n && n <= 64)
        cr_assert_null(jtext_next_valid(doc, JTEXT_PY, &at, keys, nkeys, got).p, "for %s", show);
    free(p);
}

Test(jtext_blocks, unchecked_walks_match_the_checked_ones)
{
    rng r = {0x6A09E667F3BCC909ULL};
    util_buf doc = {0};
    static const char *const keys[] = {"k", "type", "k\"", "absent"};
    for (int d = 0; d < DOCS; d++) {
        doc.len = 0;
        gen_ws(&r, &doc);
        if (pick(&r, 2)) {
            gen_object(&r, &doc);
        } else {   /* a list of such objects and other values */
            put(&doc, "[");
            for (size_t i = 0, n = pick(&r, 5); i < n; i++) {
                put(&doc, i ? ", " : "");
                if (pick(&r, 3))
                    gen_object(&r, &doc);
                else
                    gen_value(&r, &doc, 1);
            }
            put(&doc, "]");
        }
        gen_ws(&r, &doc);
        check_valid_walks(doc.data, doc.len, keys, 4);
    }
    static const char *const docs[] = {
        "{\"type\":1,\"k\":2,\"type\":3}", "{\"t\\u0079pe\":\"x\",\"k\":[1]}",
        "[{\"k\":1},{\"ty\\u0070e\":2,\"k\":3}, 4, \"s\", {}]", "[]", " [ ] ", "[{\"k\\\"\":0}]",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++)
        check_valid_walks(docs[i], strlen(docs[i]), keys, 4);
    /* string values skipped unchecked with escapes at every offset around the
     * block edges (runs of backslashes, one as a block's last byte, escaped
     * quotes), as a member before "k" and as an element before an object */
    static const char *const escapes[] = {"\\\"", "\\\\", "\\\\\\\"", "\\\"\\\"\\\\",
                                          "\\n\\\"x\\t", "\\u0022", "\\\\\\\\\\\"",
                                          "\\/\\\\\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\""};
    for (size_t n = 0; n <= 40; n++)
        for (size_t e = 0; e < sizeof escapes / sizeof escapes[0]; e++)
            for (size_t m = 0; m <= 18; m += 6)
                for (int list = 0; list < 2; list++) {
                    doc.len = 0;
                    put(&doc, list ? "[\"" : "{\"type\": \"");
                    put_letters(&doc, n);
                    put(&doc, escapes[e]);
                    for (size_t i = 0; i < m; i++)
                        cr_assert_eq(util_buf_putc(&doc, i % 2 ? 'q' : 'z'), 0);
                    put(&doc, list ? "\", {\"k\": 1}]" : "\", \"k\": [2]}");
                    check_valid_walks(doc.data, doc.len, keys, 4);
                }
    util_buf_free(&doc);
}
