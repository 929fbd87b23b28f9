/* report — text and HTML renderings of a summary and a comparison (see
 * report.h).
 *
 * How it works: small accessors read numbers and strings from the parsed
 * JSON (a missing or null number is NAN and prints as "–"). The text form is
 * a sequence of labelled sections. The HTML page is written top to bottom:
 * one <style> block, then sections whose charts are SVG drawn here: bars are
 * <rect>s whose lengths are proportional to the value, each with its value
 * written beside it in <text>; the heat map shades cells by count and writes
 * the count in each. Colours only repeat what the text already says.
 */
#include "report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "grade.h"

#define TOP_TEXT_FUNCTIONS 20    /* functions listed in the text form */
#define CHART_W 760              /* width of every SVG chart, px */
#define BAR_H 22                 /* height of a bar row, px */
#define LABEL_W 300              /* room for bar labels, px */
#define DEPTH_H 220              /* height of the depth chart, px */
#define CELL_W 150               /* heat-map cell, px */
#define CELL_H 40
#define DELTA_TEXT_W 140         /* the value column of the diverging bars, px */

/* ---- JSON accessors ------------------------------------------------------ */

static double num(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static long long cnt(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static const json_t *obj(const json_t *o, const char *k)
{
    return json_object_get(o, k);
}

/* "0.7500" or "–" for an undefined value. */
static const char *fmt4(char *buf, size_t n, double v)
{
    if (isnan(v))
        snprintf(buf, n, "–");
    else
        snprintf(buf, n, "%.4f", v);
    return buf;
}

/* "75.0%" or "–". */
static const char *pct(char *buf, size_t n, double v)
{
    if (isnan(v))
        snprintf(buf, n, "–");
    else
        snprintf(buf, n, "%.1f%%", 100.0 * v);
    return buf;
}

/* ---- text ------------------------------------------------------------------ */

static int text_score(util_buf *b, const json_t *sum)
{
    const json_t *c = obj(sum, "counts"), *s = obj(sum, "score"), *w = obj(s, "wilson95");
    char m[32], se[32], z[32], lo[32], hi[32];
    int rc = util_buf_printf(b, "rollouts    planned %lld, graded %lld, failed %lld, not run %lld\n",
                             cnt(c, "planned"), cnt(c, "graded"), cnt(c, "failed"),
                             cnt(c, "not_run"));
    rc |= util_buf_printf(b, "score       %s (stderr %s)", fmt4(m, sizeof m, num(s, "mean")),
                          fmt4(se, sizeof se, num(s, "stderr")));
    if (json_is_array(w))
        rc |= util_buf_printf(b, ", 95%% Wilson [%s, %s]",
                              fmt4(lo, sizeof lo, json_number_value(json_array_get(w, 0))),
                              fmt4(hi, sizeof hi, json_number_value(json_array_get(w, 1))));
    return rc | util_buf_printf(b, "; failures as 0: %s\n",
                                fmt4(z, sizeof z, num(s, "mean_failures_as_zero")));
}

static int text_categories(util_buf *b, const json_t *sum)
{
    int rc = util_buf_puts(b, "categories\n");
    size_t i;
    const json_t *e;
    json_array_foreach(obj(sum, "categories"), i, e) {
        char p[32];
        if (cnt(e, "count"))
            rc |= util_buf_printf(b, "  %-38s %7lld %7s  %s\n", str(e, "name"), cnt(e, "count"),
                                  pct(p, sizeof p, num(e, "share")), str(e, "text"));
    }
    return rc;
}

/* Lines "  LABEL  n N  mean M" for the array at key, label from member lk. */
static int text_n_mean(util_buf *b, const json_t *sum, const char *title, const char *key,
                       const char *lk)
{
    int rc = util_buf_printf(b, "%s\n", title);
    size_t i;
    const json_t *e;
    json_array_foreach(obj(sum, key), i, e) {
        char m[32], label[64];
        const json_t *l = obj(e, lk);
        if (json_is_integer(l))
            snprintf(label, sizeof label, "%lld", (long long)json_integer_value(l));
        else
            snprintf(label, sizeof label, "%s", json_is_string(l) ? json_string_value(l) : "unknown");
        if (cnt(e, "n"))
            rc |= util_buf_printf(b, "  %-38s n %7lld  mean %s\n", label, cnt(e, "n"),
                                  fmt4(m, sizeof m, num(e, "mean")));
    }
    return rc;
}

static int text_confusion(util_buf *b, const json_t *sum)
{
    const json_t *conf = obj(sum, "confusion"), *cols = obj(conf, "actual_types");
    int rc = util_buf_printf(b, "expected x actual type\n  %-20s", "");
    size_t i, j;
    const json_t *e, *v;
    json_array_foreach(cols, j, v)
        rc |= util_buf_printf(b, " %20s", json_string_value(v));
    rc |= util_buf_putc(b, '\n');
    json_array_foreach(obj(conf, "rows"), i, e) {
        rc |= util_buf_printf(b, "  %-20s", str(e, "expected"));
        json_array_foreach(obj(e, "counts"), j, v)
            rc |= util_buf_printf(b, " %20lld", (long long)json_integer_value(v));
        rc |= util_buf_putc(b, '\n');
    }
    return rc;
}

static int text_counts(util_buf *b, const json_t *arr, const char *title, const char *key)
{
    if (!json_array_size(arr))
        return 0;
    int rc = util_buf_printf(b, "%s\n", title);
    size_t i;
    const json_t *e;
    json_array_foreach(arr, i, e)
        rc |= util_buf_printf(b, "  %-38s %7lld\n", str(e, key), cnt(e, "n"));
    return rc;
}

static int text_functions(util_buf *b, const json_t *sum)
{
    const json_t *f = obj(sum, "functions");
    int rc = util_buf_printf(b, "expected functions (%lld distinct; most frequent)\n",
                             cnt(f, "distinct"));
    size_t i;
    const json_t *e;
    json_array_foreach(obj(f, "top"), i, e) {
        char m[32];
        if (i >= TOP_TEXT_FUNCTIONS)
            break;
        rc |= util_buf_printf(b, "  %-38s n %7lld  mean %s\n", str(e, "name"), cnt(e, "n"),
                              fmt4(m, sizeof m, num(e, "mean")));
    }
    return rc;
}

static int text_usage(util_buf *b, const json_t *sum)
{
    const json_t *t = obj(sum, "tokens"), *pr = obj(t, "per_rollout"), *l = obj(sum, "latency_ms"),
                 *r = obj(sum, "retries");
    int rc = util_buf_printf(b, "tokens      input %lld, cached %lld, output %lld, reasoning %lld"
                                " (%lld rollouts with usage)\n",
                             cnt(t, "input"), cnt(t, "cached"), cnt(t, "output"),
                             cnt(t, "reasoning"), cnt(t, "rollouts_with_usage"));
    if (json_is_object(pr))
        rc |= util_buf_printf(b, "  per rollout: input %.1f, cached %.1f, output %.1f, reasoning %.1f\n",
                              num(pr, "input"), num(pr, "cached"), num(pr, "output"),
                              num(pr, "reasoning"));
    if (cnt(l, "n"))
        rc |= util_buf_printf(b, "latency ms  p50 %.1f, p90 %.1f, p99 %.1f, max %.1f (%lld rollouts)\n",
                              num(l, "p50"), num(l, "p90"), num(l, "p99"), num(l, "max"), cnt(l, "n"));
    if (cnt(r, "rollouts_with_attempts"))
        rc |= util_buf_printf(b, "retries     %lld attempts for %lld rollouts; %lld retried\n",
                              cnt(r, "attempts"), cnt(r, "rollouts_with_attempts"),
                              cnt(r, "retried"));
    return rc;
}

static int text_repeats(util_buf *b, const json_t *sum)
{
    const json_t *r = obj(sum, "repeats");
    if (!json_is_object(r))
        return 0;
    char s1[32], s2[32];
    int rc = util_buf_printf(b, "repeats     K = %lld over %lld rows; all pass %lld, all fail %lld, mixed %lld\n",
                             cnt(r, "k"), cnt(r, "rows"), cnt(r, "all_pass"), cnt(r, "all_fail"),
                             cnt(r, "mixed"));
    rc |= util_buf_printf(b, "  std across repeats %s, mean within-row std %s\n",
                          fmt4(s1, sizeof s1, num(r, "std_across_repeats")),
                          fmt4(s2, sizeof s2, num(r, "mean_row_std")));
    size_t i;
    const json_t *e;
    json_array_foreach(obj(r, "pass_at_k"), i, e) {
        char v[32];
        rc |= util_buf_printf(b, "  pass@%-3lld %s  (%lld rows)\n", cnt(e, "k"),
                              fmt4(v, sizeof v, num(e, "value")), cnt(e, "rows"));
    }
    return rc;
}

int report_text_summary(const json_t *sum, const char *name, util_buf *out)
{
    const char *model = json_string_value(obj(sum, "model"));
    int rc = util_buf_printf(out, "run         %s", name ? name : "");
    if (model)
        rc |= util_buf_printf(out, " — model %s", model);
    rc |= util_buf_printf(out, " (%s)\n",
                          json_is_true(obj(sum, "complete")) ? "complete" : "not complete");
    rc |= text_score(out, sum) | text_categories(out, sum) |
          text_n_mean(out, sum, "expected type", "expected_types", "type") |
          text_confusion(out, sum) | text_n_mean(out, sum, "depth", "depth", "bucket") |
          text_n_mean(out, sum, "turn", "turns", "turn") | text_functions(out, sum) |
          text_counts(out, obj(sum, "finish_reasons"), "finish reasons", "reason") |
          text_counts(out, obj(sum, "anomalies"), "anomalies", "anomaly") | text_usage(out, sum) |
          text_counts(out, obj(obj(sum, "failures"), "by_class"), "failures by class", "class") |
          text_repeats(out, sum);
    return rc ? -1 : 0;
}

static int text_abm(util_buf *b, const json_t *arr, const char *title, const char *lk,
                    size_t limit)
{
    int rc = util_buf_printf(b, "%s%*s      n        a        b    delta\n", title,
                             (int)(38 - strlen(title)), "");
    size_t i;
    const json_t *e;
    json_array_foreach(arr, i, e) {
        if (i >= limit)
            break;
        char a[32], c[32];
        if (cnt(e, "n"))
            rc |= util_buf_printf(b, "  %-36s %7lld %8s %8s %+8.4f\n", str(e, lk), cnt(e, "n"),
                                  fmt4(a, sizeof a, num(e, "a")), fmt4(c, sizeof c, num(e, "b")),
                                  num(e, "delta"));
    }
    return rc;
}

int report_text_compare(const json_t *cmp, const char *name_a, const char *name_b, util_buf *out)
{
    const json_t *p = obj(cmp, "pairs"), *s = obj(cmp, "score"), *ci = obj(s, "ci95"),
                 *mc = obj(cmp, "mcnemar");
    char a[32], b[32], d[32], se[32], lo[32], hi[32];
    int rc = util_buf_printf(out, "A           %s (%lld rollouts, mean %s)\n", name_a ? name_a : "",
                             cnt(obj(cmp, "a"), "rollouts"), fmt4(a, sizeof a, num(obj(cmp, "a"), "mean")));
    rc |= util_buf_printf(out, "B           %s (%lld rollouts, mean %s)\n", name_b ? name_b : "",
                          cnt(obj(cmp, "b"), "rollouts"), fmt4(b, sizeof b, num(obj(cmp, "b"), "mean")));
    rc |= util_buf_printf(out, "pairs       %lld matched by %s; %lld only in A, %lld only in B\n",
                          cnt(p, "matched"), str(p, "by"), cnt(p, "only_a"), cnt(p, "only_b"));
    rc |= util_buf_printf(out, "score       A %s, B %s, B − A %s (stderr %s", fmt4(a, sizeof a, num(s, "a")),
                          fmt4(b, sizeof b, num(s, "b")), fmt4(d, sizeof d, num(s, "difference")),
                          fmt4(se, sizeof se, num(s, "stderr")));
    if (json_is_array(ci))
        rc |= util_buf_printf(out, ", 95%% [%s, %s]",
                              fmt4(lo, sizeof lo, json_number_value(json_array_get(ci, 0))),
                              fmt4(hi, sizeof hi, json_number_value(json_array_get(ci, 1))));
    rc |= util_buf_puts(out, ")\n");
    if (json_is_object(mc))
        rc |= util_buf_printf(out, "McNemar     both pass %lld, A only %lld, B only %lld, neither %lld;"
                                   " exact p = %.6g\n",
                              cnt(mc, "both_pass"), cnt(mc, "a_only"), cnt(mc, "b_only"),
                              cnt(mc, "neither"), num(mc, "p_value"));
    else
        rc |= util_buf_puts(out, "McNemar     not applicable (rewards are not all 0 or 1)\n");
    rc |= util_buf_puts(out, "category transitions (A -> B)\n");
    size_t i;
    const json_t *e;
    json_array_foreach(obj(cmp, "transitions"), i, e)
        rc |= util_buf_printf(out, "  %-36s -> %-36s %7lld\n", str(e, "from"), str(e, "to"),
                              cnt(e, "n"));
    rc |= util_buf_printf(out, "categories%*s      A        B    delta\n", 28, "");
    json_array_foreach(obj(cmp, "categories"), i, e)
        if (cnt(e, "a") || cnt(e, "b"))
            rc |= util_buf_printf(out, "  %-36s %7lld  %7lld  %+7lld\n", str(e, "name"), cnt(e, "a"),
                                  cnt(e, "b"), cnt(e, "delta"));
    rc |= text_abm(out, obj(cmp, "depth"), "depth", "bucket", (size_t)-1);
    rc |= text_abm(out, obj(obj(cmp, "functions"), "top"), "expected functions", "name",
                   TOP_TEXT_FUNCTIONS);
    return rc ? -1 : 0;
}

/* ---- HTML ------------------------------------------------------------------ */

static const char STYLE[] =
    "<style>\n"
    ":root{--ink:#1d2330;--muted:#5b6475;--line:#d5d9e0;--bar:#3b6fb6;--bad:#b8473b;"
    "--good:#2f7d4f;--bg:#fff}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:0 auto;max-width:1180px;padding:24px 32px;color:var(--ink);background:var(--bg);"
    "font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif}\n"
    "h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;"
    "border-bottom:1px solid var(--line);padding-bottom:4px}\n"
    ".sub{color:var(--muted);margin:0 0 16px}\n"
    ".head{display:flex;flex-wrap:wrap;gap:16px;margin:16px 0}\n"
    ".card{border:1px solid var(--line);border-radius:8px;padding:12px 16px;min-width:200px}\n"
    ".card .big{font-size:34px;font-weight:650;line-height:1.1}\n"
    ".card .lbl{color:var(--muted);font-size:13px}\n"
    "table{border-collapse:collapse;margin:6px 0 10px;font-variant-numeric:tabular-nums}\n"
    "th,td{border-bottom:1px solid var(--line);padding:3px 10px;text-align:left}\n"
    "td.n,th.n{text-align:right}\n"
    "svg{display:block;max-width:100%;height:auto;font-family:inherit}\n"
    "svg text{font-size:13px;fill:var(--ink)}\n"
    ".note{color:var(--muted);font-size:13px}\n"
    "@media print{body{padding:0;max-width:none}h2{break-after:avoid}svg,table{break-inside:avoid}}\n"
    "</style>\n";

int report_html_escape(util_buf *out, const char *s)
{
    int rc = 0;
    for (; *s && !rc; s++) {
        switch (*s) {
        case '&': rc = util_buf_puts(out, "&amp;"); break;
        case '<': rc = util_buf_puts(out, "&lt;"); break;
        case '>': rc = util_buf_puts(out, "&gt;"); break;
        case '"': rc = util_buf_puts(out, "&quot;"); break;
        case '\'': rc = util_buf_puts(out, "&#39;"); break;
        default: rc = util_buf_putc(out, *s);
        }
    }
    return rc;
}

static int esc(util_buf *b, const char *s)
{
    return report_html_escape(b, s ? s : "");
}

static int html_begin(util_buf *b, const char *title)
{
    return util_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
                            "<title>") |
           esc(b, title) | util_buf_puts(b, "</title>\n") | util_buf_puts(b, STYLE) |
           util_buf_puts(b, "</head><body>\n");
}

static int card(util_buf *b, const char *big, const char *label)
{
    return util_buf_puts(b, "<div class=\"card\"><div class=\"big\">") | esc(b, big) |
           util_buf_puts(b, "</div><div class=\"lbl\">") | esc(b, label) |
           util_buf_puts(b, "</div></div>\n");
}

static int html_headline(util_buf *b, const json_t *sum)
{
    const json_t *s = obj(sum, "score"), *c = obj(sum, "counts"), *w = obj(s, "wilson95");
    char big[64], lbl[160], t1[32], t2[32];
    int rc = util_buf_puts(b, "<div class=\"head\">\n");
    pct(big, sizeof big, num(s, "mean"));
    if (json_is_array(w))
        snprintf(lbl, sizeof lbl, "mean reward — 95%% Wilson interval %s – %s",
                 pct(t1, sizeof t1, json_number_value(json_array_get(w, 0))),
                 pct(t2, sizeof t2, json_number_value(json_array_get(w, 1))));
    else
        snprintf(lbl, sizeof lbl, "mean reward — standard error %s",
                 fmt4(t1, sizeof t1, num(s, "stderr")));
    rc |= card(b, big, lbl);
    snprintf(big, sizeof big, "%lld", cnt(c, "graded"));
    snprintf(lbl, sizeof lbl, "graded of %lld planned; %lld failed, %lld not run",
             cnt(c, "planned"), cnt(c, "failed"), cnt(c, "not_run"));
    rc |= card(b, big, lbl);
    pct(big, sizeof big, num(s, "mean_failures_as_zero"));
    rc |= card(b, big, "mean with failures counted as 0");
    const json_t *r = obj(sum, "repeats");
    if (json_is_object(r)) {
        const json_t *pk = obj(r, "pass_at_k");
        const json_t *last = json_array_get(pk, json_array_size(pk) - 1);
        pct(big, sizeof big, num(last, "value"));
        snprintf(lbl, sizeof lbl, "pass@%lld over %lld rows", cnt(last, "k"), cnt(last, "rows"));
        rc |= card(b, big, lbl);
    }
    return rc | util_buf_puts(b, "</div>\n");
}

/* A horizontal bar chart: rows of (label, value in [0, 1], text). */
typedef struct hbar {
    const char *label;
    double frac;
    char text[64];
} hbar;

static int svg_hbars(util_buf *b, const hbar *rows, size_t n, const char *title)
{
    int h = (int)n * BAR_H + 10, maxw = CHART_W - LABEL_W - 130;
    int rc = util_buf_printf(b, "<svg viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" "
                                "aria-label=\"", CHART_W, h, CHART_W, h) |
             esc(b, title) | util_buf_puts(b, "\">\n");
    for (size_t i = 0; i < n; i++) {
        int y = (int)i * BAR_H + 4;
        double f = isnan(rows[i].frac) ? 0 : fmax(0.0, fmin(1.0, rows[i].frac));
        int w = (int)lround(f * maxw);
        rc |= util_buf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", LABEL_W - 8, y + 15) |
              esc(b, rows[i].label) | util_buf_puts(b, "</text>") |
              util_buf_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#3b6fb6\"/>"
                                 "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
                                 "stroke=\"#d5d9e0\"/>",
                              LABEL_W, y + 2, w, BAR_H - 6, LABEL_W, y + 2, maxw, BAR_H - 6) |
              util_buf_printf(b, "<text x=\"%d\" y=\"%d\">", LABEL_W + maxw + 8, y + 15) |
              esc(b, rows[i].text) | util_buf_puts(b, "</text>\n");
    }
    return rc | util_buf_puts(b, "</svg>\n");
}

static int html_categories(util_buf *b, const json_t *sum)
{
    hbar rows[GRADE_CATEGORY_COUNT];
    size_t n = 0, i;
    const json_t *e;
    json_array_foreach(obj(sum, "categories"), i, e) {
        if (!cnt(e, "count") || n == GRADE_CATEGORY_COUNT)
            continue;
        char p[32];
        rows[n].label = str(e, "name");
        rows[n].frac = num(e, "share");
        snprintf(rows[n].text, sizeof rows[n].text, "%lld (%s)", cnt(e, "count"),
                 pct(p, sizeof p, num(e, "share")));
        n++;
    }
    int rc = util_buf_puts(b, "<h2>Verdict categories</h2>\n");
    if (!n)
        return rc | util_buf_puts(b, "<p class=\"note\">No graded rollouts.</p>\n");
    rc |= svg_hbars(b, rows, n, "share of graded rollouts per verdict category");
    rc |= util_buf_puts(b, "<table><tr><th>category</th><th>NeMo Gym text</th><th class=\"n\">count"
                           "</th></tr>\n");
    json_array_foreach(obj(sum, "categories"), i, e)
        if (cnt(e, "count"))
            rc |= util_buf_puts(b, "<tr><td>") | esc(b, str(e, "name")) |
                  util_buf_puts(b, "</td><td>") | esc(b, str(e, "text")) |
                  util_buf_printf(b, "</td><td class=\"n\">%lld</td></tr>\n", cnt(e, "count"));
    return rc | util_buf_puts(b, "</table>\n");
}

/* Vertical bars of the mean per depth bucket, joined by a line (the curve),
 * with the mean and n written at each bar. */
static int html_depth(util_buf *b, const json_t *sum)
{
    const json_t *d = obj(sum, "depth");
    size_t nb = json_array_size(d);
    if (nb && !cnt(json_array_get(d, nb - 1), "n"))
        nb--;   /* the "unknown" bucket only when some rollout has no depth */
    int top = 30, base = DEPTH_H - 40, slot = nb ? (CHART_W - 60) / (int)nb : 1;
    int rc = util_buf_puts(b, "<h2>Score by conversation depth</h2>\n") |
             util_buf_printf(b, "<svg viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" "
                                "aria-label=\"mean reward per depth bucket\">\n",
                             CHART_W, DEPTH_H, CHART_W, DEPTH_H) |
             util_buf_printf(b, "<line x1=\"40\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#5b6475\"/>"
                                "<text x=\"34\" y=\"%d\" text-anchor=\"end\">0</text>"
                                "<text x=\"34\" y=\"%d\" text-anchor=\"end\">1</text>\n",
                             base, CHART_W - 10, base, base + 4, top + 4);
    util_buf pts = UTIL_BUF_INIT;
    size_t i;
    const json_t *e;
    for (i = 0; i < nb; i++) {
        e = json_array_get(d, i);
        int x = 40 + (int)i * slot + slot / 2;
        double m = num(e, "mean");
        char t[32];
        rc |= util_buf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">depth ", x, base + 18) |
              esc(b, str(e, "bucket")) |
              util_buf_printf(b, "</text><text x=\"%d\" y=\"%d\" text-anchor=\"middle\" "
                                 "class=\"note\">n = %lld</text>",
                              x, base + 34, cnt(e, "n"));
        if (isnan(m)) {
            rc |= util_buf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">–</text>\n", x, base - 6);
            continue;
        }
        int y = base - (int)lround(m * (base - top));
        rc |= util_buf_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#3b6fb6\" "
                                 "fill-opacity=\"0.35\"/>"
                                 "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
                              x - slot / 4, y, slot / 2, base - y, x, y - 8, pct(t, sizeof t, m));
        rc |= util_buf_printf(&pts, "%s%d,%d", pts.len ? " " : "", x, y);
    }
    if (pts.len)
        rc |= util_buf_printf(b, "<polyline points=\"%s\" fill=\"none\" stroke=\"#1d2330\" "
                                 "stroke-width=\"2\"/>\n", pts.data);
    util_buf_free(&pts);
    rc |= util_buf_puts(b, "</svg>\n");
    const json_t *unknown = json_array_get(d, json_array_size(d) - 1);
    if (cnt(unknown, "n") && cnt(unknown, "n") == cnt(obj(sum, "counts"), "graded"))
        rc |= util_buf_puts(b, "<p class=\"note\">No rollout carries <code>info.depth</code> "
                               "(a rollouts file without the rows' info).</p>\n");
    return rc;
}

static int html_heatmap(util_buf *b, const json_t *sum)
{
    const json_t *conf = obj(sum, "confusion"), *cols = obj(conf, "actual_types"),
                 *rows = obj(conf, "rows");
    long long max = 0;
    size_t i, j;
    const json_t *e, *v;
    json_array_foreach(rows, i, e)
        json_array_foreach(obj(e, "counts"), j, v)
            if (json_integer_value(v) > max)
                max = json_integer_value(v);
    int lw = 190, w = lw + CELL_W * (int)json_array_size(cols) + 10;
    int h = 50 + CELL_H * (int)json_array_size(rows);
    int rc = util_buf_puts(b, "<h2>Expected vs actual action type</h2>\n") |
             util_buf_printf(b, "<svg viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" "
                                "aria-label=\"expected by actual action type counts\">\n", w, h, w, h) |
             util_buf_printf(b, "<text x=\"%d\" y=\"16\" class=\"note\">actual →</text>"
                                "<text x=\"4\" y=\"40\" class=\"note\">expected ↓</text>\n", lw);
    json_array_foreach(cols, j, v)
        rc |= util_buf_printf(b, "<text x=\"%d\" y=\"40\" text-anchor=\"middle\">", lw + (int)j * CELL_W + CELL_W / 2) |
              esc(b, json_string_value(v)) | util_buf_puts(b, "</text>\n");
    json_array_foreach(rows, i, e) {
        int y = 48 + (int)i * CELL_H;
        rc |= util_buf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", lw - 8, y + CELL_H / 2 + 5) |
              esc(b, str(e, "expected")) | util_buf_puts(b, "</text>\n");
        json_array_foreach(obj(e, "counts"), j, v) {
            long long c = json_integer_value(v);
            double f = max ? (double)c / (double)max : 0;
            int x = lw + (int)j * CELL_W;
            rc |= util_buf_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#3b6fb6\" "
                                     "fill-opacity=\"%.3f\" stroke=\"#d5d9e0\"/>"
                                     "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\"%s>%lld</text>\n",
                                  x, y, CELL_W, CELL_H, 0.08 + 0.8 * f, x + CELL_W / 2,
                                  y + CELL_H / 2 + 5, f > 0.55 ? " style=\"fill:#fff;font-weight:600\"" : "", c);
        }
    }
    return rc | util_buf_puts(b, "</svg>\n");
}

static int html_functions(util_buf *b, const json_t *sum)
{
    const json_t *f = obj(sum, "functions");
    int rc = util_buf_printf(b, "<h2>Expected functions</h2>\n<p class=\"note\">%lld distinct; the "
                                "%zu most frequent.</p>\n<table><tr><th>function</th><th class=\"n\">"
                                "n</th><th class=\"n\">mean reward</th><th>score</th></tr>\n",
                             cnt(f, "distinct"), json_array_size(obj(f, "top")));
    size_t i;
    const json_t *e;
    json_array_foreach(obj(f, "top"), i, e) {
        char m[32];
        double v = num(e, "mean");
        rc |= util_buf_puts(b, "<tr><td>") | esc(b, str(e, "name")) |
              util_buf_printf(b, "</td><td class=\"n\">%lld</td><td class=\"n\">%s</td><td>"
                                 "<svg width=\"120\" height=\"12\" viewBox=\"0 0 120 12\" aria-hidden=\"true\">"
                                 "<rect width=\"120\" height=\"12\" fill=\"#eef0f4\"/><rect width=\"%d\" "
                                 "height=\"12\" fill=\"#3b6fb6\"/></svg></td></tr>\n",
                              cnt(e, "n"), fmt4(m, sizeof m, v), isnan(v) ? 0 : (int)lround(120 * v));
    }
    return rc | util_buf_puts(b, "</table>\n");
}

/* A two-column table of (key, n) rows of array arr. */
static int html_counts(util_buf *b, const json_t *arr, const char *title, const char *key)
{
    if (!json_array_size(arr))
        return 0;
    int rc = util_buf_puts(b, "<h2>") | esc(b, title) |
             util_buf_puts(b, "</h2>\n<table><tr><th>") | esc(b, key) |
             util_buf_puts(b, "</th><th class=\"n\">n</th></tr>\n");
    size_t i;
    const json_t *e;
    json_array_foreach(arr, i, e)
        rc |= util_buf_puts(b, "<tr><td>") | esc(b, str(e, key)) |
              util_buf_printf(b, "</td><td class=\"n\">%lld</td></tr>\n", cnt(e, "n"));
    return rc | util_buf_puts(b, "</table>\n");
}

static int html_usage(util_buf *b, const json_t *sum)
{
    const json_t *t = obj(sum, "tokens"), *pr = obj(t, "per_rollout"), *l = obj(sum, "latency_ms"),
                 *r = obj(sum, "retries");
    int rc = util_buf_puts(b, "<h2>Tokens, latency, retries</h2>\n<table><tr><th></th><th class=\"n\">"
                              "input</th><th class=\"n\">cached</th><th class=\"n\">output</th>"
                              "<th class=\"n\">reasoning</th></tr>\n") |
             util_buf_printf(b, "<tr><td>total (%lld rollouts with usage)</td><td class=\"n\">%lld</td>"
                                "<td class=\"n\">%lld</td><td class=\"n\">%lld</td><td class=\"n\">%lld"
                                "</td></tr>\n",
                             cnt(t, "rollouts_with_usage"), cnt(t, "input"), cnt(t, "cached"),
                             cnt(t, "output"), cnt(t, "reasoning"));
    if (json_is_object(pr))
        rc |= util_buf_printf(b, "<tr><td>per rollout</td><td class=\"n\">%.1f</td><td class=\"n\">%.1f"
                                 "</td><td class=\"n\">%.1f</td><td class=\"n\">%.1f</td></tr>\n",
                              num(pr, "input"), num(pr, "cached"), num(pr, "output"),
                              num(pr, "reasoning"));
    rc |= util_buf_puts(b, "</table>\n");
    if (cnt(l, "n"))
        rc |= util_buf_printf(b, "<p>Latency (ms, %lld rollouts): p50 %.1f, p90 %.1f, p99 %.1f, max %.1f.</p>\n",
                              cnt(l, "n"), num(l, "p50"), num(l, "p90"), num(l, "p99"), num(l, "max"));
    if (cnt(r, "rollouts_with_attempts"))
        rc |= util_buf_printf(b, "<p>Attempts: %lld for %lld rollouts; %lld needed a retry.</p>\n",
                              cnt(r, "attempts"), cnt(r, "rollouts_with_attempts"), cnt(r, "retried"));
    return rc;
}

static int html_repeats(util_buf *b, const json_t *sum)
{
    const json_t *r = obj(sum, "repeats");
    if (!json_is_object(r))
        return 0;
    char s1[32], s2[32];
    int rc = util_buf_printf(b, "<h2>Repeats</h2>\n<p>K = %lld rollouts per row over %lld rows: "
                                "%lld all pass, %lld all fail, %lld mixed (only mixed rows carry a "
                                "group-normalised signal). Std across repeats %s; mean within-row std %s."
                                "</p>\n<table><tr><th>k</th><th class=\"n\">pass@k</th><th class=\"n\">"
                                "rows</th></tr>\n",
                             cnt(r, "k"), cnt(r, "rows"), cnt(r, "all_pass"), cnt(r, "all_fail"),
                             cnt(r, "mixed"), fmt4(s1, sizeof s1, num(r, "std_across_repeats")),
                             fmt4(s2, sizeof s2, num(r, "mean_row_std")));
    size_t i;
    const json_t *e;
    json_array_foreach(obj(r, "pass_at_k"), i, e) {
        char v[32];
        rc |= util_buf_printf(b, "<tr><td>%lld</td><td class=\"n\">%s</td><td class=\"n\">%lld</td></tr>\n",
                              cnt(e, "k"), fmt4(v, sizeof v, num(e, "value")), cnt(e, "rows"));
    }
    return rc | util_buf_puts(b, "</table>\n");
}

/* The sections of one run, under the heading "<prefix><name>". */
static int html_summary_body(util_buf *b, const json_t *sum, const char *name, const char *prefix)
{
    const char *model = json_string_value(obj(sum, "model"));
    int rc = util_buf_puts(b, "<h1>") | esc(b, prefix) | esc(b, name ? name : "run") |
             util_buf_puts(b, "</h1>\n") |
             util_buf_puts(b, "<p class=\"sub\">model ") | esc(b, model ? model : "unknown") |
             util_buf_puts(b, json_is_true(obj(sum, "complete")) ? " · complete run" : " · incomplete run") |
             util_buf_puts(b, "</p>\n");
    rc |= html_headline(b, sum) | html_categories(b, sum) | html_depth(b, sum) |
          html_heatmap(b, sum) | html_functions(b, sum) | html_repeats(b, sum) |
          html_counts(b, obj(sum, "finish_reasons"), "Finish reasons", "reason") |
          html_counts(b, obj(sum, "anomalies"), "Anomalies", "anomaly") | html_usage(b, sum) |
          html_counts(b, obj(obj(sum, "failures"), "by_class"), "Failures by class", "class");
    return rc;
}

int report_html_summary(const json_t *sum, const char *name, util_buf *out)
{
    int rc = html_begin(out, name ? name : "fcpivot report") |
             html_summary_body(out, sum, name, "fcpivot report: ") |
             util_buf_puts(out, "</body></html>\n");
    return rc ? -1 : 0;
}

/* Per-category count deltas (B − A) as bars left (fewer) or right (more) of
 * a centre line, the signed delta written at the end of each bar. */
static int html_diverging(util_buf *b, const json_t *cmp)
{
    const json_t *cats = obj(cmp, "categories");
    long long max = 0;
    size_t n = 0, i;
    const json_t *e;
    json_array_foreach(cats, i, e) {
        long long d = llabs(cnt(e, "delta"));
        if (cnt(e, "a") || cnt(e, "b"))
            n++;
        if (d > max)
            max = d;
    }
    int region = CHART_W - LABEL_W - DELTA_TEXT_W;
    int h = (int)n * BAR_H + 30, mid = LABEL_W + region / 2, half = region / 2 - 4;
    int rc = util_buf_puts(b, "<h2>Verdict categories: B − A</h2>\n") |
             util_buf_printf(b, "<svg viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" "
                                "aria-label=\"change in category counts from A to B\">\n"
                                "<text x=\"%d\" y=\"14\" text-anchor=\"end\" class=\"note\">fewer in B</text>"
                                "<text x=\"%d\" y=\"14\" class=\"note\">more in B</text>"
                                "<line x1=\"%d\" y1=\"20\" x2=\"%d\" y2=\"%d\" stroke=\"#5b6475\"/>\n",
                             CHART_W, h, CHART_W, h, mid - 6, mid + 6, mid, mid, h);
    size_t row = 0;
    json_array_foreach(cats, i, e) {
        if (!cnt(e, "a") && !cnt(e, "b"))
            continue;
        long long d = cnt(e, "delta");
        int y = 24 + (int)row++ * BAR_H, w = max ? (int)lround((double)llabs(d) / (double)max * half) : 0;
        int x = d < 0 ? mid - w : mid;
        rc |= util_buf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", LABEL_W - 8, y + 15) |
              esc(b, str(e, "name")) |
              util_buf_printf(b, "</text><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"/>"
                                 "<text x=\"%d\" y=\"%d\">%+lld (%lld → %lld)</text>\n",
                              x, y + 2, w, BAR_H - 6, d < 0 ? "#b8473b" : "#2f7d4f",
                              CHART_W - DELTA_TEXT_W + 8, y + 15, d, cnt(e, "a"), cnt(e, "b"));
    }
    return rc | util_buf_puts(b, "</svg>\n");
}

static int html_abm_table(util_buf *b, const json_t *arr, const char *title, const char *key)
{
    int rc = util_buf_puts(b, "<h2>") | esc(b, title) |
             util_buf_puts(b, "</h2>\n<table><tr><th>") | esc(b, key) |
             util_buf_puts(b, "</th><th class=\"n\">n</th><th class=\"n\">A</th><th class=\"n\">B</th>"
                              "<th class=\"n\">B − A</th></tr>\n");
    size_t i;
    const json_t *e;
    json_array_foreach(arr, i, e) {
        char a[32], c[32], d[32];
        if (!cnt(e, "n"))
            continue;
        snprintf(d, sizeof d, "%+.4f", num(e, "delta"));
        rc |= util_buf_puts(b, "<tr><td>") | esc(b, str(e, key)) |
              util_buf_printf(b, "</td><td class=\"n\">%lld</td><td class=\"n\">%s</td><td class=\"n\">%s"
                                 "</td><td class=\"n\">%s</td></tr>\n",
                              cnt(e, "n"), fmt4(a, sizeof a, num(e, "a")), fmt4(c, sizeof c, num(e, "b")),
                              isnan(num(e, "delta")) ? "–" : d);
    }
    return rc | util_buf_puts(b, "</table>\n");
}

static int html_compare_head(util_buf *b, const json_t *cmp, const char *name_a, const char *name_b)
{
    const json_t *s = obj(cmp, "score"), *ci = obj(s, "ci95"), *mc = obj(cmp, "mcnemar"),
                 *p = obj(cmp, "pairs");
    char big[64], lbl[200];
    int rc = util_buf_puts(b, "<h1>fcpivot comparison</h1>\n<p class=\"sub\">A = ") | esc(b, name_a) |
             util_buf_puts(b, " (model ") | esc(b, str(obj(cmp, "a"), "model")) |
             util_buf_puts(b, ") · B = ") | esc(b, name_b) | util_buf_puts(b, " (model ") |
             esc(b, str(obj(cmp, "b"), "model")) |
             util_buf_printf(b, ") · %lld pairs matched by %s, %lld only in A, %lld only in B</p>\n"
                                "<div class=\"head\">\n",
                             cnt(p, "matched"), str(p, "by"), cnt(p, "only_a"), cnt(p, "only_b"));
    rc |= card(b, pct(big, sizeof big, num(s, "a")), "A: mean reward on the pairs");
    rc |= card(b, pct(big, sizeof big, num(s, "b")), "B: mean reward on the pairs");
    snprintf(big, sizeof big, "%+.1f pts", 100.0 * num(s, "difference"));
    if (json_is_array(ci))
        snprintf(lbl, sizeof lbl, "B − A, 95%% interval %+.1f to %+.1f pts",
                 100.0 * json_number_value(json_array_get(ci, 0)),
                 100.0 * json_number_value(json_array_get(ci, 1)));
    else
        snprintf(lbl, sizeof lbl, "B − A");
    rc |= card(b, isnan(num(s, "difference")) ? "–" : big, lbl);
    if (json_is_object(mc)) {
        snprintf(big, sizeof big, "p = %.4g", num(mc, "p_value"));
        snprintf(lbl, sizeof lbl, "exact McNemar: A only %lld, B only %lld (both %lld, neither %lld)",
                 cnt(mc, "a_only"), cnt(mc, "b_only"), cnt(mc, "both_pass"), cnt(mc, "neither"));
        rc |= card(b, big, lbl);
    }
    return rc | util_buf_puts(b, "</div>\n");
}

static int html_transitions(util_buf *b, const json_t *cmp)
{
    int rc = util_buf_puts(b, "<h2>Category transitions (A → B)</h2>\n<table><tr><th>A</th><th>B</th>"
                              "<th class=\"n\">pairs</th></tr>\n");
    size_t i;
    const json_t *e;
    json_array_foreach(obj(cmp, "transitions"), i, e)
        rc |= util_buf_puts(b, "<tr><td>") | esc(b, str(e, "from")) | util_buf_puts(b, "</td><td>") |
              esc(b, str(e, "to")) |
              util_buf_printf(b, "</td><td class=\"n\">%lld</td></tr>\n", cnt(e, "n"));
    return rc | util_buf_puts(b, "</table>\n");
}

int report_html_compare(const json_t *cmp, const json_t *sa, const json_t *sb,
                        const char *name_a, const char *name_b, util_buf *out)
{
    int rc = html_begin(out, "fcpivot comparison") |
             html_compare_head(out, cmp, name_a ? name_a : "A", name_b ? name_b : "B") |
             html_diverging(out, cmp) | html_transitions(out, cmp) |
             html_abm_table(out, obj(cmp, "depth"), "Score by depth", "bucket") |
             html_abm_table(out, obj(obj(cmp, "functions"), "top"), "Score by expected function", "name");
    if (sa)
        rc |= html_summary_body(out, sa, name_a, "Run A: ");
    if (sb)
        rc |= html_summary_body(out, sb, name_b, "Run B: ");
    rc |= util_buf_puts(out, "</body></html>\n");
    return rc ? -1 : 0;
}
