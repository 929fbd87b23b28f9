/* Tests of gymstats.h: the word count of Python's json.dumps text, Gym's
 * rounding and running statistics, and the metrics file of a few rows. (The
 * command and its agreement with CPython are tested in test_cli_dataset.c.) */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gymstats.h"
#include "testutil.h"

static size_t words(const char *json)
{
    return gymstats_dumps_words(json, strlen(json));
}

Test(gymstats, words_of_json_dumps)
{
    /* json.dumps('{"a": "b c", "d": [1, 2]}') splits into 6 words */
    cr_assert_eq(words("{\"a\":\"b c\",\"d\":[1,2]}"), 6);
    cr_assert_eq(words("  { \"a\" :\t\"b c\" , \"d\" : [ 1 , 2 ] }"), 6, "the text's own spacing is irrelevant");
    cr_assert_eq(words("{}"), 1);
    cr_assert_eq(words("[]"), 1);
    cr_assert_eq(words("[[], {}]"), 2);
    cr_assert_eq(words("\"caf\\u00e9\\n\\u00a0x\""), 1, "escaped white space is no space");
    cr_assert_eq(words("\"  a  \""), 3, "spaces inside strings count");
    cr_assert_eq(words("{\"a\":1,\"a\":2}"), 2, "a duplicate key is one key, as in a dict");
    cr_assert_eq(words("[NaN, 18446744073709551615, 1e400]"), 3);
}

Test(gymstats, rounding_as_gym)
{
    cr_assert_eq(gymstats_round(3727.6), 3727.6);
    cr_assert_eq(gymstats_round(2342.7922016260854), 2342.79);
    cr_assert_eq(gymstats_round(0.8366600265340756), 0.837);
    cr_assert_eq(gymstats_round(2.3249999999999997), 2.32, "the exact binary value is rounded");
    cr_assert_eq(gymstats_round(-1.236), -1.24);
    cr_assert_eq(gymstats_round(-0.12345), -0.123);
    cr_assert_eq(gymstats_round(0.0005), 0.001);   /* 0.0005 is above 5e-4 in binary */
    cr_assert(isnan(gymstats_round(NAN)));
}

Test(gymstats, running_statistics)
{
    gymstats_acc a = {0, 0, 0, INFINITY, -INFINITY};
    const double xs[] = {2, 1, 2, 3, 3};
    for (size_t i = 0; i < 5; i++)
        gymstats_observe(&a, xs[i]);
    cr_assert_eq(a.total, 5);
    cr_assert_eq(a.min, 1.0);
    cr_assert_eq(a.max, 3.0);
    cr_assert(fabs(a.mean - 2.2) < 1e-12);
    cr_assert(fabs(sqrt(a.m2 / 4) - 0.8366600265340756) < 1e-12);
}

Test(gymstats, file_of_rows)
{
    static const char *const rows[] = {
        "{\"responses_create_params\":{\"input\":[{\"role\":\"user\",\"content\":\"a b\"}],\"tools\":[{},{}],"
        "\"temperature\":0.5},\"expected_action\":{},\"trajectory_id\":4,\"tag\":\"x\"}",
        "{\"responses_create_params\":{\"input\":[{\"role\":\"system\",\"content\":\"s\"}]},\"expected_action\":{},"
        "\"trajectory_id\":6,\"tag\":\"x\"}",
        "[1]",
    };
    gymstats g;
    gymstats_init(&g);
    for (size_t i = 0; i < 2; i++)
        cr_assert_eq(gymstats_row(&g, rows[i], strlen(rows[i])), 0);
    cr_assert_eq(gymstats_row(&g, rows[2], strlen(rows[2])), -1, "no responses_create_params");
    cr_assert_eq(g.examples, 2);
    cr_assert_eq(g.m[GYMSTATS_TOOLS].total, 1);
    cr_assert_eq(g.m[GYMSTATS_TURNS].total, 1, "a row without user turns is not counted");
    cr_assert_eq(g.m[GYMSTATS_TEMPERATURE].total, 1);
    cr_assert_eq(g.m[GYMSTATS_WORDS].total, 2);
    util_buf out = {0};
    cr_assert_eq(gymstats_json(&g, "mini", "d/mini.jsonl", &out), 0);
    cr_assert(strstr(out.data, "\"name\": \"mini\",\n    \"jsonl_fpath\": \"d/mini.jsonl\",\n"
                               "    \"Number of examples\": 2,\n"), "%s", out.data);
    cr_assert(strstr(out.data, "\"Temperature\": {\n        \"Total # non-null values\": 1,\n"
                               "        \"Average\": 0.5,\n        \"Min\": 0.5,\n        \"Max\": 0.5,\n"
                               "        \"Standard deviation\": 0.0\n    },\n"), "%s", out.data);
    cr_assert(strstr(out.data, "\"trajectory_id\": {\n        \"Total # non-null values\": 2,\n"
                               "        \"Average\": 5.0,"), "%s", out.data);
    cr_assert(strstr(out.data, "\"tag\": {\n        \"unique_count\": 1,\n        \"total_count\": 2\n    }\n}\n"),
              "%s", out.data);
    util_buf_free(&out);
    gymstats_free(&g);
}
