/* Differential test of the grader against tests/oracle/grade_oracle.py, an
 * executable model of docs/grading.md that uses CPython's own json.loads and str
 * methods. tests/oracle/gen_cases.py writes deterministic random verify
 * requests full of corner cases, and tests/oracle/gen_adversarial.py raw-text
 * mutations of arguments; on both, `fcpivot grade --verdict-only` and the
 * oracle must agree on every line (same reward, same category, or both an
 * error) under several comparator configurations. Skips visibly without
 * python3. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "testutil.h"

#define PY "/usr/bin/python3"

/* Runs a generator script from tests/oracle with two numeric arguments
 * (flags, when given, name them) and returns its output. */
static char *generate_cases(const char *script, const char *flag1, unsigned seed,
                            const char *flag2, unsigned count)
{
    char seed_s[16], count_s[16];
    snprintf(seed_s, sizeof seed_s, "%u", seed);
    snprintf(count_s, sizeof count_s, "%u", count);
    char rel[128];
    snprintf(rel, sizeof rel, "tests/oracle/%s", script);
    char *gen = strdup(tu_path(rel));
    char *argv[8];
    int n = 0;
    argv[n++] = PY;
    argv[n++] = gen;
    if (flag1) argv[n++] = (char *)flag1;
    argv[n++] = seed_s;
    if (flag2) argv[n++] = (char *)flag2;
    argv[n++] = count_s;
    argv[n] = NULL;
    char *out, *err;
    size_t len;
    int rc = tu_run(argv, NULL, 0, &out, &len, &err);
    cr_assert_eq(rc, 0, "%s failed: %s", script, err);
    free(gen);
    free(err);
    return out;
}

/* Splits opts (space-separated) into argv after the given prefix. */
static int run_with_opts(const char *prog0, const char *prog1, const char *opts,
                         const char *input, size_t len, char **out)
{
    char *copy = strdup(opts);
    char *argv[16];
    int n = 0;
    argv[n++] = (char *)prog0;
    if (prog1)
        argv[n++] = (char *)prog1;
    for (char *tok = strtok(copy, " "); tok && n < 14; tok = strtok(NULL, " "))
        argv[n++] = tok;
    argv[n] = NULL;
    char *err;
    int rc = tu_run(argv, input, len, out, NULL, &err);
    free(err);
    free(copy);
    return rc;
}

static void assert_same_verdicts(const char *mine, const char *theirs, const char *input,
                                 const char *opts)
{
    const char *a = mine, *b = theirs, *in = input;
    for (int line = 1; *b; line++) {
        const char *ae = strchr(a, '\n'), *be = strchr(b, '\n'), *ie = strchr(in, '\n');
        cr_assert(ae && be && ie, "line %d: output ended early (%s)", line, opts);
        json_t *ja = json_loadb(a, (size_t)(ae - a), 0, NULL);
        json_t *jb = json_loadb(b, (size_t)(be - b), 0, NULL);
        cr_assert(ja && jb, "line %d: unparsable output", line);
        bool a_err = json_object_get(ja, "error") != NULL;
        bool b_err = json_object_get(jb, "error") != NULL;
        cr_assert_eq(a_err, b_err, "line %d (%s): fcpivot %.*s vs oracle %.*s\ninput: %.*s",
                     line, opts, (int)(ae - a), a, (int)(be - b), b,
                     (int)((ie - in) > 2000 ? 2000 : (ie - in)), in);
        if (!a_err) {
            double ra = json_number_value(json_object_get(ja, "reward"));
            double rb = json_number_value(json_object_get(jb, "reward"));
            const char *ca = json_string_value(json_object_get(ja, "category"));
            const char *cb = json_string_value(json_object_get(jb, "category"));
            cr_assert(ra == rb && ca && cb && !strcmp(ca, cb),
                      "line %d (%s): fcpivot %.*s vs oracle %.*s\ninput: %.*s", line, opts,
                      (int)(ae - a), a, (int)(be - b), b,
                      (int)((ie - in) > 2000 ? 2000 : (ie - in)), in);
        }
        json_decref(ja);
        json_decref(jb);
        a = ae + 1;
        b = be + 1;
        in = ie + 1;
    }
    cr_assert_eq(*a, '\0', "fcpivot printed more lines than the oracle (%s)", opts);
}

static const char *CONFIGS[] = {
    "",
    "--parallel-rewarding",
    "--parallel-rewarding --allow-subset --reward-mode fractional",
    "--parallel-rewarding --allow-superset --reward-mode f1",
    "--parallel-rewarding --allow-subset --allow-superset",
    "--word-similarity-threshold 0.3 --float-tolerance 1e-3",
};

static void differential(char *cases)
{
    size_t len = strlen(cases);
    char *oracle = strdup(tu_path("tests/oracle/grade_oracle.py"));
    for (size_t i = 0; i < sizeof CONFIGS / sizeof CONFIGS[0]; i++) {
        char mine_opts[256];
        snprintf(mine_opts, sizeof mine_opts, "grade --verdict-only %s", CONFIGS[i]);
        char *mine, *theirs;
        int rc_mine = run_with_opts(tu_bin(), NULL, mine_opts, cases, len, &mine);
        int rc_theirs = run_with_opts(PY, oracle, CONFIGS[i], cases, len, &theirs);
        cr_assert_eq(rc_theirs, 0, "oracle failed");
        cr_assert(rc_mine == 0 || rc_mine == 1, "fcpivot grade exit %d", rc_mine);
        assert_same_verdicts(mine, theirs, cases, CONFIGS[i]);
        free(mine);
        free(theirs);
    }
    free(oracle);
    free(cases);
}

static void require_python(void)
{
    if (access(PY, X_OK) != 0)
        cr_skip_test("python3 not installed: differential grading test skipped");
}

Test(oracle, random_requests_seed_1)
{
    require_python();
    differential(generate_cases("gen_cases.py", "--seed", 1, "--count", 1500));
}

Test(oracle, random_requests_seed_2)
{
    require_python();
    differential(generate_cases("gen_cases.py", "--seed", 2, "--count", 1500));
}

/* Raw-text mutations: broken JSON, deep nesting, lexeme-level quirks. */
Test(oracle, adversarial_texts)
{
    require_python();
    differential(generate_cases("gen_adversarial.py", NULL, 11, NULL, 3000));
}
