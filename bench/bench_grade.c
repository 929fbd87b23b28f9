/* bench_grade — grader throughput on a realistic, deterministic mix.
 *
 *   bench_grade                 pure verdicts/s (expected arguments pre-parsed,
 *                               actual arguments parsed per verdict as in
 *                               serving): single calls, then 3-call batches
 *   bench_grade --emit N        writes N verify requests (JSONL) of the same mix
 *                               to stdout, for the end-to-end `fcpivot grade` run
 *   bench_grade --parse FILE    jansson parse of every line only: the floor
 *                               for `fcpivot grade` lines/s
 *
 * The mix: function calls with 2-10 arguments (ids, multi-word strings, ints,
 * floats, bools, nested objects, lists), plus messages; actual actions are
 * exact copies (half of them with keys reordered), wrong names, wrong types,
 * perturbed values, undecodable arguments, or messages. Figures only, no
 * assertions.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "grade.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

static const char *WORDS[] = {
    "the", "customer", "wants", "to", "change", "seat", "flight", "booking", "refund",
    "premium", "economy", "window", "aisle", "order", "delivery", "address", "new",
    "york", "city", "paris", "tomorrow", "morning", "urgent", "please", "cancel",
    "upgrade", "ticket", "payment", "card", "gift", "credit", "hotel", "room", "late",
};
#define NWORDS (sizeof WORDS / sizeof WORDS[0])
static const char *KEYS[] = {
    "user_id", "order_id", "reason", "quantity", "price", "express", "address",
    "items", "note", "seat", "date", "amount", "currency", "tags", "priority",
};
#define NKEYS (sizeof KEYS / sizeof KEYS[0])
static const char *TOOLS[] = {
    "get_user_details", "cancel_order", "modify_order", "book_flight", "search_hotels",
    "transfer_to_human_agents", "update_address", "refund_payment",
};
#define NTOOLS (sizeof TOOLS / sizeof TOOLS[0])

static json_t *words_string(size_t lo, size_t hi)
{
    char buf[512];
    size_t n = lo + rnd((uint32_t)(hi - lo + 1)), len = 0;
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", i ? " " : "",
                                WORDS[rnd(NWORDS)]);
    return json_string(buf);
}

static json_t *value_for(size_t kind)
{
    char buf[64];
    switch (kind % 8) {
    case 0: snprintf(buf, sizeof buf, "user_%05u", rnd(100000)); return json_string(buf);
    case 1: return words_string(3, 12);
    case 2: return json_integer(rnd(1000));
    case 3: return json_real((double)rnd(100000) / 100.0);
    case 4: return json_boolean(rnd(2));
    case 5: return json_pack("{s:o, s:o, s:s}", "street", words_string(2, 4), "city",
                             words_string(1, 2), "zip", "10001");
    case 6: return json_pack("[o, o, o]", words_string(1, 3), words_string(1, 3),
                             words_string(1, 3));
    default: return json_pack("{s:i, s:[i, i]}", "count", rnd(10), "range", rnd(5), rnd(50));
    }
}

/* Expected arguments: 2-10 distinct keys. */
static json_t *random_args(void)
{
    json_t *o = json_object();
    size_t n = 2 + rnd(9);
    for (size_t i = 0; i < n; i++)
        json_object_set_new(o, KEYS[(i * 7 + rnd(3)) % NKEYS], value_for(rnd(8)));
    return o;
}

/* A variant of expected arguments (kind: 0 exact, 1 reordered, 2 wrong type,
 * 3 perturbed value). */
static json_t *variant(json_t *args, int kind)
{
    json_t *v = json_deep_copy(args);
    const char *key = NULL;
    json_t *val;
    void *it = json_object_iter(v);
    size_t pick = rnd((uint32_t)json_object_size(v));
    for (size_t i = 0; it; i++, it = json_object_iter_next(v, it))
        if (i == pick)
            key = json_object_iter_key(it);
    val = json_object_get(v, key);
    if (kind == 2) {
        json_object_set_new(v, key, json_is_string(val) ? json_integer(7) : json_string("7"));
    } else if (kind == 3) {
        if (json_is_string(val))
            json_object_set_new(v, key, words_string(1, 3));
        else if (json_is_integer(val))
            json_object_set_new(v, key, json_integer(json_integer_value(val) + 1));
        else if (json_is_real(val))
            json_object_set_new(v, key, json_real(json_real_value(val) + 0.5));
        else
            json_object_set_new(v, key, json_null());
    }
    return v;
}

static char *dump_args(json_t *args, bool reorder)
{
    if (!reorder)
        return json_dumps(args, JSON_COMPACT);
    return json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS);
}

/* One actual function_call output item for expected (name, args). */
static json_t *actual_item(const char *name, json_t *args)
{
    uint32_t r = rnd(100);
    const char *n = name;
    json_t *v;
    char *text;
    if (r < 10)
        n = TOOLS[rnd(NTOOLS)];
    if (r >= 10 && r < 20)
        v = variant(args, 2);
    else if (r >= 20 && r < 35)
        v = variant(args, 3);
    else
        v = variant(args, 0);
    text = r >= 35 && r < 37 ? strdup("{\"broken\": ") : dump_args(v, r % 2 == 0);
    json_decref(v);
    json_t *item = json_pack("{s:s, s:s, s:s, s:s}", "type", "function_call", "name", n,
                             "arguments", text, "call_id", "call_1");
    free(text);
    return item;
}

static json_t *message_item(void)
{
    return json_pack("{s:s, s:s, s:[{s:s, s:o}]}", "type", "message", "role", "assistant",
                     "content", "type", "output_text", "text", words_string(5, 40));
}

/* One case: expected_action and response (JSON). ncalls 0 = message. */
static void make_case(size_t ncalls, json_t **expected, json_t **response)
{
    json_t *output = json_array();
    if (ncalls == 0) {
        *expected = json_pack("{s:s, s:o}", "type", "message", "content", words_string(5, 30));
        json_array_append_new(output, rnd(4) ? message_item() :
                              actual_item("cancel_order", random_args()));
    } else {
        json_t *calls = json_array();
        bool as_message = rnd(100) < 5;
        for (size_t i = 0; i < ncalls; i++) {
            const char *name = TOOLS[rnd(NTOOLS)];
            json_t *args = random_args();
            char *text = json_dumps(args, JSON_COMPACT);
            json_array_append_new(calls, json_pack("{s:s, s:s, s:s}", "type", "function_call",
                                                   "name", name, "arguments", text));
            if (!as_message)
                json_array_append_new(output, actual_item(name, args));
            free(text);
            json_decref(args);
        }
        if (as_message)
            json_array_append_new(output, message_item());
        /* Batches arrive in another order half of the time. */
        if (ncalls > 1 && rnd(2)) {
            json_t *first = json_incref(json_array_get(output, 0));
            json_array_remove(output, 0);
            json_array_append_new(output, first);
        }
        if (ncalls == 1)
            *expected = json_incref(json_array_get(calls, 0));
        else
            *expected = json_pack("{s:s, s:O}", "type", "function_call_batch", "calls", calls);
        json_decref(calls);
    }
    *response = json_pack("{s:s, s:s, s:o}", "id", "resp_bench", "object", "response",
                          "output", output);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#define NCASES 1024

static void bench_verdicts(const char *label, size_t calls_per_case)
{
    grade_action *exp[NCASES], *act[NCASES];
    for (size_t i = 0; i < NCASES; i++) {
        json_t *e, *r;
        size_t nc = calls_per_case == 1 ? (rnd(100) < 10 ? 0 : 1) : calls_per_case;
        make_case(nc, &e, &r);
        char err[256];
        exp[i] = grade_expected_from_json(e, err, sizeof err);
        act[i] = grade_actual_from_response(r, err, sizeof err);
        if (!exp[i] || !act[i]) {
            fprintf(stderr, "bench_grade: bad case: %s\n", err);
            exit(1);
        }
        json_decref(e);
        json_decref(r);
    }
    grade_config cfg;
    grade_config_default(&cfg);
    double sum = 0, t0 = now(), t;
    size_t n = 0;
    do {
        for (size_t i = 0; i < NCASES; i++)
            sum += grade_judge(&cfg, exp[i], act[i]).reward;
        n += NCASES;
        t = now();
    } while (t - t0 < 1.5);
    printf("  %-34s %10.0f verdicts/s  (mean reward %.3f)\n", label, (double)n / (t - t0),
           sum / (double)n);
    for (size_t i = 0; i < NCASES; i++) {
        grade_action_free(exp[i]);
        grade_action_free(act[i]);
    }
}

/* A responses_create_params of realistic size: a long system prompt, a user
 * turn and tool definitions (NeMo Gym requests carry the whole conversation). */
static json_t *create_params(void)
{
    char prompt[6001];
    size_t len = 0;
    while (len < 5900)
        len += (size_t)snprintf(prompt + len, sizeof prompt - len, "%s ", WORDS[rnd(NWORDS)]);
    json_t *tools = json_array();
    for (size_t i = 0; i < NTOOLS; i++)
        json_array_append_new(tools, json_pack(
            "{s:s, s:s, s:s, s:{s:s, s:{s:{s:s, s:s}, s:{s:s, s:s}}, s:[s]}}",
            "type", "function", "name", TOOLS[i], "description",
            "Does what its name says, after authentication and confirmation.",
            "parameters", "type", "object", "properties", "user_id", "type", "string",
            "description", "Unique user identifier", "reason", "type", "string",
            "description", "Why the user asks for it", "required", "user_id"));
    return json_pack("{s:[{s:s, s:s, s:s}, {s:s, s:s, s:o}], s:o, s:b}", "input",
                     "role", "system", "type", "message", "content", prompt,
                     "role", "user", "type", "message", "content", words_string(10, 40),
                     "tools", tools, "parallel_tool_calls", 0);
}

static int emit(size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t r = rnd(100);
        size_t nc = r < 10 ? 0 : r < 80 ? 1 : 2 + rnd(2);
        json_t *e, *resp;
        make_case(nc, &e, &resp);
        json_t *req = json_pack("{s:o, s:o, s:o}", "responses_create_params", create_params(),
                                "response", resp, "expected_action", e);
        char *s = json_dumps(req, 0);
        puts(s);
        free(s);
        json_decref(req);
    }
    return 0;
}

static int parse_only(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    char *line = NULL;
    size_t cap = 0, n = 0;
    ssize_t len;
    double t0 = now();
    while ((len = getline(&line, &cap, f)) > 0) {
        json_t *j = json_loadb(line, (size_t)len, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, NULL);
        json_decref(j);
        n++;
    }
    double t = now() - t0;
    printf("  %-34s %10.0f lines/s  (%zu lines, 1 thread)\n", "jansson parse only (floor)",
           (double)n / t, n);
    free(line);
    fclose(f);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--emit"))
        return emit((size_t)strtoul(argv[2], NULL, 10));
    if (argc == 3 && !strcmp(argv[1], "--parse"))
        return parse_only(argv[2]);
    printf("grader, 1 thread, expected arguments pre-parsed:\n");
    bench_verdicts("single call (90%) / message mix", 1);
    bench_verdicts("3-call batches", 3);
    return 0;
}
