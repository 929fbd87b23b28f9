/* Tests of `fcpivot report`: golden --json summaries of the project's own
 * run fixture (with its failures file and manifest) and of NeMo Gym's example
 * rollouts, the text form, --regrade, the paired comparison (by index and by
 * line, with an exact McNemar p-value worked out by hand), bad input, HTML
 * escaping, and the page rendered by headless Chromium (DOM and screenshot). */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "testutil.h"

#define RUN "tests/data/report/run.jsonl"
#define RUN_B "tests/data/report/run_b.jsonl"
#define CHROMIUM "/usr/bin/chromium"
#define TIMEOUT "/usr/bin/timeout"
#define BROWSER_SECONDS "60"

typedef struct run {
    int rc;
    char *out, *err;
    size_t out_len;
} run;

/* fcpivot report with args (NULL-terminated, at most 12). */
static run report(const char *const *args)
{
    char *argv[16];
    size_t n = 0;
    argv[n++] = (char *)tu_bin();
    argv[n++] = "report";
    for (size_t i = 0; args[i] && n < 15; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    run r;
    r.rc = tu_run(argv, NULL, 0, &r.out, &r.out_len, &r.err);
    return r;
}

static void run_free(run *r)
{
    free(r->out);
    free(r->err);
}

static json_t *load(const char *text, size_t len)
{
    json_error_t e;
    json_t *j = json_loadb(text, len, 0, &e);
    cr_assert(j, "not JSON: %s", e.text);
    return j;
}

/* The output of report --json ARGS equals the golden file, byte for byte. */
static json_t *golden(const char *const *args, const char *golden_rel)
{
    run r = report(args);
    cr_assert_eq(r.rc, 0, "exit %d: %s", r.rc, r.err);
    size_t glen;
    char *g = tu_read_file(tu_path(golden_rel), &glen);
    cr_assert(g, "%s missing", golden_rel);
    cr_assert_eq(r.out_len, glen, "output differs in length from %s:\n%s", golden_rel, r.out);
    cr_assert(!memcmp(r.out, g, glen), "output differs from %s:\n%s", golden_rel, r.out);
    json_t *j = load(r.out, r.out_len);
    free(g);
    run_free(&r);
    return j;
}

static double at(const json_t *j, const char *path)
{
    /* "a.b.2.c": members and array indices */
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    const json_t *v = j;
    for (char *tok = strtok(buf, "."); tok && v; tok = strtok(NULL, "."))
        v = json_is_array(v) ? json_array_get(v, (size_t)atoi(tok)) : json_object_get(v, tok);
    cr_assert(json_is_number(v), "%s is not a number", path);
    return json_number_value(v);
}

#define EQ(j, path, want) cr_assert(fabs(at(j, path) - (want)) < 1e-12, "%s = %.17g, not %.17g", path, at(j, path), (double)(want))

Test(cli_report, own_run_golden_json_and_hand_checked_figures)
{
    const char *args[] = {"--json", tu_path(RUN), NULL};
    json_t *j = golden(args, "tests/data/report/run.summary.json");
    /* manifest: planned 8; 7 graded, 1 failure (timeout) */
    cr_assert(json_is_true(json_object_get(j, "complete")));
    EQ(j, "counts.planned", 8);
    EQ(j, "counts.graded", 7);
    EQ(j, "counts.failed", 1);
    EQ(j, "score.mean", 4.0 / 7);
    EQ(j, "score.mean_failures_as_zero", 0.5);
    /* rows 0 and 2 pass 1 of 2, row 1 passes 2 of 2, row 3 0 of 1 */
    EQ(j, "repeats.pass_at_k.0.value", 0.5);
    EQ(j, "repeats.pass_at_k.1.value", 1.0);
    EQ(j, "repeats.pass_at_k.1.rows", 3);
    EQ(j, "repeats.all_pass", 1);
    EQ(j, "repeats.all_fail", 1);
    EQ(j, "repeats.mixed", 2);
    EQ(j, "repeats.std_across_repeats", 0.75 / sqrt(2.0));   /* means 1 and 1/4 */
    /* depth 1 -> 1-2, 4 -> 3-5, 7 -> 6-10, 12 -> 11+ */
    EQ(j, "depth.0.n", 2);
    EQ(j, "depth.1.mean", 1.0);
    EQ(j, "depth.2.n", 1);
    EQ(j, "depth.3.mean", 0.5);
    /* latency nearest rank of 55 80 95 120 340.5 410 2000 */
    EQ(j, "latency_ms.p50", 120);
    EQ(j, "latency_ms.p90", 2000);
    EQ(j, "retries.attempts", 10);
    /* expected function_call_batch answered with one call */
    EQ(j, "confusion.rows.2.counts.1", 1);
    EQ(j, "categories.11.count", 1);   /* FUNCTION_CALL_BATCH_LENGTH_DIFFERENT */
    json_decref(j);
}

Test(cli_report, regrade_gives_the_same_summary_when_the_verdicts_are_right)
{
    const char *a1[] = {"--json", tu_path(RUN), NULL};
    const char *a2[] = {"--json", "--regrade", tu_path(RUN), NULL};
    run x = report(a1), y = report(a2);
    cr_assert_eq(x.rc, 0);
    cr_assert_eq(y.rc, 0, "%s", y.err);
    cr_assert_str_eq(x.out, y.out);
    run_free(&x);
    run_free(&y);
}

Test(cli_report, regrade_changes_verdicts_with_other_grading_flags)
{
    /* parallel rewarding with subsets admits row 2's short batch in A */
    const char *args[] = {"--json", "--regrade", "--parallel-rewarding", "--allow-subset",
                          tu_path(RUN), NULL};
    run r = report(args);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    json_t *j = load(r.out, r.out_len);
    EQ(j, "categories.11.count", 0);
    EQ(j, "score.mean", 5.0 / 7);
    json_decref(j);
    run_free(&r);
    const char *bad[] = {"--allow-subset", tu_path(RUN), NULL};
    r = report(bad);
    cr_assert_eq(r.rc, 2);
    cr_assert(strstr(r.err, "only apply with --regrade"), "%s", r.err);
    run_free(&r);
}

Test(cli_report, nemo_gym_example_rollouts_golden_json)
{
    TU_REQUIRE_SHARED(path, "data/example_rollouts.jsonl");
    const char *args[] = {"--json", path, NULL};
    json_t *j = golden(args, "tests/data/report/example_rollouts.summary.json");
    /* 5 rollouts without indices or fcpivot object: 3 rewarded */
    EQ(j, "counts.graded", 5);
    EQ(j, "score.mean", 0.6);
    EQ(j, "score.passed", 3);
    EQ(j, "depth.4.n", 5);   /* no info: all unknown */
    cr_assert(json_is_null(json_object_get(j, "repeats")));
    cr_assert_str_eq(json_string_value(json_object_get(j, "model")), "gpt-4.1-2025-04-14");
    EQ(j, "confusion.rows.1.counts.0", 2);   /* call expected, message given */
    json_decref(j);
}

Test(cli_report, text_summary)
{
    const char *args[] = {tu_path(RUN), NULL};
    run r = report(args);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    const char *want[] = {"planned 8, graded 7, failed 1, not run 0",
                          "score       0.5714 (stderr 0.2020), 95% Wilson [0.2505, 0.8418]; failures as 0: 0.5000",
                          "UNEXPECTED_TOOL", "The tool in a tool call is not the expected tool",
                          "book <room>", "timeout", "pass@2   1.0000  (3 rows)",
                          "all pass 1, all fail 1, mixed 2", "p50 120.0, p90 2000.0"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert(strstr(r.out, want[i]), "missing '%s' in:\n%s", want[i], r.out);
    run_free(&r);
}

Test(cli_report, comparison_by_index_golden_json)
{
    char *a = strdup(tu_path(RUN)), *b = strdup(tu_path(RUN_B));   /* tu_path reuses its buffer */
    const char *args[] = {"--json", a, b, NULL};
    json_t *j = golden(args, "tests/data/report/run_vs_b.compare.json");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "pairs"), "by")), "index");
    EQ(j, "pairs.matched", 7);
    EQ(j, "pairs.only_b", 1);   /* (3, 0) failed in A */
    EQ(j, "score.difference", 1.0 / 7);
    /* discordant: A only 1, B only 2 -> p = 2·(1 + 3)/8 = 1 */
    EQ(j, "mcnemar.a_only", 1);
    EQ(j, "mcnemar.b_only", 2);
    EQ(j, "mcnemar.p_value", 1.0);
    json_decref(j);
    const char *text[] = {a, b, NULL};
    run r = report(text);
    cr_assert_eq(r.rc, 0);
    cr_assert(strstr(r.out, "7 matched by index; 0 only in A, 1 only in B"), "%s", r.out);
    cr_assert(strstr(r.out, "UNEXPECTED_TOOL                      -> EXPECTED_TOOL_CALL"), "%s", r.out);
    run_free(&r);
    free(a);
    free(b);
}

/* A NeMo Gym-style line (no indices, no fcpivot object) expecting a message;
 * pass answers with one, fail with a call. */
static void gym_line(FILE *f, bool pass)
{
    fprintf(f, "{\"responses_create_params\":{\"input\":\"q\"},\"response\":{\"output\":[%s]},"
               "\"reward\":%s,\"expected_action\":{\"type\":\"message\",\"content\":\"ok then\"},"
               "\"category\":\"%s\"}\n",
            pass ? "{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":"
                   "\"output_text\",\"text\":\"ok\"}]}"
                 : "{\"type\":\"function_call\",\"call_id\":\"c\",\"name\":\"f\",\"arguments\":\"{}\"}",
            pass ? "1.0" : "0.0",
            pass ? "A chat message was found as expected"
                 : "A tool call was executed when a chat message was expected");
}

Test(cli_report, comparison_by_line_exact_mcnemar)
{
    /* 10 pairs: both pass 2, A only 1, B only 6, neither 1:
     * p = 2·P[X ≤ 1], X ~ Bin(7, ½) = 2·(1 + 7)/128 = 0.125 */
    const bool a[10] = {1, 1, 1, 0, 0, 0, 0, 0, 0, 0}, b[10] = {1, 1, 0, 1, 1, 1, 1, 1, 1, 0};
    char *ta = NULL, *tb = NULL;
    size_t la, lb;
    FILE *fa = open_memstream(&ta, &la), *fb = open_memstream(&tb, &lb);
    for (int i = 0; i < 10; i++) {
        gym_line(fa, a[i]);
        gym_line(fb, b[i]);
    }
    fclose(fa);
    fclose(fb);
    char *pa = tu_write_temp(ta, la, ".jsonl"), *pb = tu_write_temp(tb, lb, ".jsonl");
    const char *args[] = {"--json", pa, pb, NULL};
    run r = report(args);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    json_t *j = load(r.out, r.out_len);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "pairs"), "by")), "line");
    EQ(j, "pairs.matched", 10);
    EQ(j, "mcnemar.both_pass", 2);
    EQ(j, "mcnemar.a_only", 1);
    EQ(j, "mcnemar.b_only", 6);
    EQ(j, "mcnemar.p_value", 0.125);
    EQ(j, "score.a", 0.3);
    EQ(j, "score.b", 0.8);
    /* differences: six +1, one −1, three 0: mean 0.5, sample var (7 − 2.5)/9 */
    EQ(j, "score.stderr", sqrt(0.5 / 10));
    EQ(j, "categories.3.delta", -5);   /* NO_EXPECTED_CHAT_MESSAGE 7 -> 2 */
    json_decref(j);
    run_free(&r);
    unlink(pa);
    unlink(pb);
    free(pa);
    free(pb);
    free(ta);
    free(tb);
}

Test(cli_report, bad_lines_are_reported_and_left_out)
{
    size_t len;
    char *good = tu_read_file(tu_path(RUN), &len);
    char *text = NULL;
    size_t tlen;
    FILE *f = open_memstream(&text, &tlen);
    fprintf(f, "%s\n{\"truncated\": \n[1,2]\n", good);
    fclose(f);
    char *p = tu_write_temp(text, tlen, ".jsonl");
    const char *args[] = {"--json", p, NULL};
    run r = report(args);
    cr_assert_eq(r.rc, 1);
    cr_assert(strstr(r.err, ":9: invalid JSON"), "%s", r.err);
    cr_assert(strstr(r.err, ":10: not a JSON object"), "%s", r.err);
    json_t *j = load(r.out, r.out_len);
    EQ(j, "counts.graded", 7);
    json_decref(j);
    run_free(&r);
    const char *missing[] = {"/nonexistent/run.jsonl", NULL};
    r = report(missing);
    cr_assert_eq(r.rc, 1);
    cr_assert(strstr(r.err, "/nonexistent/run.jsonl: No such file"), "%s", r.err);
    run_free(&r);
    const char *none[] = {"--json", NULL};
    r = report(none);
    cr_assert_eq(r.rc, 2);
    run_free(&r);
    unlink(p);
    free(p);
    free(good);
    free(text);
}

static char *temp_path(const char *suffix)
{
    char *p = tu_write_temp("", 0, suffix);
    cr_assert(p);
    return p;
}

Test(cli_report, html_is_self_contained_and_escaped)
{
    /* a model name and a function name with markup in them */
    char *line = NULL;
    size_t n;
    FILE *f = open_memstream(&line, &n);
    fprintf(f, "{\"responses_create_params\":{},\"response\":{\"model\":\"<script>alert('m')</script>\","
               "\"output\":[]},\"reward\":0.0,\"expected_action\":{\"type\":\"function_call\","
               "\"name\":\"x\\\"><img src=y>\",\"arguments\":\"{}\"},"
               "\"category\":\"NO_ACTION_FOUND\"}\n");
    fclose(f);
    char *in = tu_write_temp(line, n, ".jsonl"), *html = temp_path(".html");
    const char *args[] = {"--html", html, in, NULL};
    run r = report(args);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    char *page = tu_read_file(html, NULL);
    cr_assert(page);
    cr_assert(!strstr(page, "<script"), "unescaped script tag");
    cr_assert(!strstr(page, "<img"), "unescaped markup");
    cr_assert(strstr(page, "&lt;script&gt;alert(&#39;m&#39;)&lt;/script&gt;"));
    cr_assert(strstr(page, "x&quot;&gt;&lt;img src=y&gt;"));
    cr_assert(!strstr(page, "http://") && !strstr(page, "https://") && !strstr(page, "url("),
              "the page refers to something outside itself");
    cr_assert(strstr(page, "<svg"));
    free(page);
    run_free(&r);
    unlink(in);
    unlink(html);
    free(in);
    free(html);
    free(line);
}

/* ---- the page in a real browser -------------------------------------------- */

/* Reads the PNG at path and counts pixels that are not white and distinct
 * colours (up to 64). Returns false when it is not an 8-bit RGB(A) PNG. */
static bool png_stats(const char *path, size_t *w_out, size_t *h_out, size_t *inked,
                      size_t *colours)
{
    size_t len;
    unsigned char *p = (unsigned char *)tu_read_file(path, &len);
    if (!p || len < 33 || memcmp(p, "\x89PNG\r\n\x1a\n", 8)) {
        free(p);
        return false;
    }
    size_t off = 8, idat_len = 0, w = 0, h = 0;
    unsigned char *idat = NULL;
    int ctype = -1, depth = 0;
    while (off + 12 <= len) {
        size_t clen = (size_t)p[off] << 24 | (size_t)p[off + 1] << 16 | (size_t)p[off + 2] << 8 | p[off + 3];
        const unsigned char *type = p + off + 4, *data = p + off + 8;
        if (off + 12 + clen > len)
            break;
        if (!memcmp(type, "IHDR", 4)) {
            w = (size_t)data[0] << 24 | (size_t)data[1] << 16 | (size_t)data[2] << 8 | data[3];
            h = (size_t)data[4] << 24 | (size_t)data[5] << 16 | (size_t)data[6] << 8 | data[7];
            depth = data[8];
            ctype = data[9];
        } else if (!memcmp(type, "IDAT", 4)) {
            idat = realloc(idat, idat_len + clen);
            memcpy(idat + idat_len, data, clen);
            idat_len += clen;
        }
        off += 12 + clen;
    }
    size_t bpp = ctype == 6 ? 4 : ctype == 2 ? 3 : 0;
    bool ok = bpp && depth == 8 && w && h && idat;
    unsigned char *raw = NULL;
    uLongf rlen = ok ? (uLongf)(h * (1 + w * bpp)) : 0;
    if (ok) {
        raw = malloc(rlen);
        ok = uncompress(raw, &rlen, idat, (uLong)idat_len) == Z_OK && rlen == h * (1 + w * bpp);
    }
    uint32_t seen[64];
    size_t nseen = 0, ink = 0, stride = w * bpp;
    for (size_t y = 0; ok && y < h; y++) {
        unsigned char *row = raw + y * (stride + 1), *cur = row + 1;
        unsigned char *prev = y ? raw + (y - 1) * (stride + 1) + 1 : NULL;
        for (size_t i = 0; i < stride; i++) {   /* undo the row filter */
            int a = i >= bpp ? cur[i - bpp] : 0, b = prev ? prev[i] : 0,
                c = prev && i >= bpp ? prev[i - bpp] : 0, pa = abs(b - c), pb = abs(a - c),
                pc = abs(a + b - 2 * c);
            int pred = row[0] == 1 ? a : row[0] == 2 ? b : row[0] == 3 ? (a + b) / 2
                     : row[0] == 4 ? (pa <= pb && pa <= pc ? a : pb <= pc ? b : c) : 0;
            cur[i] = (unsigned char)(cur[i] + pred);
        }
        for (size_t x = 0; x < w; x++) {
            const unsigned char *px = cur + x * bpp;
            uint32_t rgb = (uint32_t)px[0] << 16 | (uint32_t)px[1] << 8 | px[2];
            ink += rgb != 0xFFFFFF;
            bool known = false;
            for (size_t k = 0; k < nseen && !known; k++)
                known = seen[k] == rgb;
            if (!known && nseen < 64)
                seen[nseen++] = rgb;
        }
    }
    *w_out = w;
    *h_out = h;
    *inked = ink;
    *colours = nseen;
    free(raw);
    free(idat);
    free((char *)p);
    return ok;
}

/* Runs headless Chromium (bounded by `timeout`) on url with extra flags. */
static run chromium(const char *profile, const char *const *extra, const char *url)
{
    char prof[512];
    snprintf(prof, sizeof prof, "--user-data-dir=%s", profile);
    char *argv[24];
    size_t n = 0;
    const char *base[] = {TIMEOUT, "-k", "5", BROWSER_SECONDS, CHROMIUM, "--headless",
                          "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                          "--disable-component-update", "--disable-sync", "--no-first-run",
                          "--window-size=1280,2000", prof};
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++)
        argv[n++] = (char *)base[i];
    for (size_t i = 0; extra[i]; i++)
        argv[n++] = (char *)extra[i];
    argv[n++] = (char *)url;
    argv[n] = NULL;
    run r;
    r.rc = tu_run(argv, NULL, 0, &r.out, &r.out_len, &r.err);
    return r;
}

static void rm_tree(const char *dir)
{
    char *argv[] = {"/bin/rm", "-rf", (char *)dir, NULL};
    char *o, *e;
    size_t ol;
    tu_run(argv, NULL, 0, &o, &ol, &e);
    free(o);
    free(e);
}

/* Renders html in Chromium: checks the DOM has every string of want and the
 * screenshot is a real page. Skips (visibly) when Chromium cannot start. */
static void render_and_check(const char *html, const char *const *want)
{
    if (access(CHROMIUM, X_OK) || access(TIMEOUT, X_OK))
        cr_skip_test("chromium not installed (scripts/install-deps installs it): skipped");
    char dir[] = "/tmp/fcpivot-chromium-XXXXXX";
    cr_assert(mkdtemp(dir));
    char profile[600], png[600], url[600], shot[700];
    snprintf(profile, sizeof profile, "%s/profile", dir);
    snprintf(png, sizeof png, "%s/page.png", dir);
    snprintf(url, sizeof url, "file://%s", html);
    snprintf(shot, sizeof shot, "--screenshot=%s", png);
    const char *dump[] = {"--dump-dom", NULL};
    run r = chromium(profile, dump, url);
    if (r.rc != 0 || !strstr(r.out ? r.out : "", "</html>")) {
        fprintf(stderr, "chromium could not render (exit %d): %.300s\n", r.rc, r.err ? r.err : "");
        run_free(&r);
        rm_tree(dir);
        cr_skip_test("chromium cannot start here: skipped");
    }
    for (size_t i = 0; want[i]; i++)
        cr_assert(strstr(r.out, want[i]), "rendered DOM lacks '%s'", want[i]);
    run_free(&r);
    const char *sflags[] = {shot, NULL};
    r = chromium(profile, sflags, url);
    cr_assert_eq(r.rc, 0, "screenshot failed: %s", r.err);
    size_t w, h, ink, colours;
    cr_assert(png_stats(png, &w, &h, &ink, &colours), "the screenshot is not a readable PNG");
    cr_assert_eq(w, 1280);
    cr_assert_eq(h, 2000);
    cr_assert(ink > w * h / 50, "the page looks blank: %zu inked pixels", ink);
    cr_assert(colours >= 8, "only %zu colours on the page", colours);
    run_free(&r);
    rm_tree(dir);
}

Test(cli_report, html_summary_renders_in_chromium, .timeout = 200)
{
    char *html = temp_path(".html");
    const char *args[] = {"--html", html, tu_path(RUN), NULL};
    run r = report(args);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    run_free(&r);
    const char *want[] = {"57.1%", "95% Wilson interval 25.0% – 84.2%", "Verdict categories",
                          "FUNCTION_CALL_BATCH_LENGTH_DIFFERENT", "1 (14.3%)", "depth 11+",
                          "Expected vs actual action type", "function_call_batch",
                          "book &lt;room&gt;", "pass@2 over 3 rows", "timeout", NULL};
    render_and_check(html, want);
    unlink(html);
    free(html);
}

Test(cli_report, html_comparison_renders_in_chromium, .timeout = 200)
{
    char *html = temp_path(".html"), *a = strdup(tu_path(RUN)), *b = strdup(tu_path(RUN_B));
    const char *args[] = {"--html", html, a, b, NULL};
    run r = report(args);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    run_free(&r);
    const char *want[] = {"fcpivot comparison", "71.4%", "+14.3 pts", "p = 1",
                          "Verdict categories: B − A", "-1 (1 → 0)", "+1 (0 → 1)",
                          "Category transitions (A → B)", "Run A: ", "Run B: ", NULL};
    render_and_check(html, want);
    unlink(html);
    free(html);
    free(a);
    free(b);
}
