/* metrics — process counters rendered in the Prometheus text format.
 *
 * Everything is lock-free: counters are C11 atomics, and the per-route series
 * live in fixed open-addressing tables whose slots are claimed once with a
 * compare-and-swap (state EMPTY -> BUSY -> READY) and never freed. Route
 * labels are static strings, so a slot keeps the pointer it was given. Sums of
 * seconds are kept as integer nanoseconds so they can be added atomically.
 * When a table is full (more distinct routes than slots, which the fixed set of
 * routes never reaches) further series fall into one "other" slot.
 */
#include "metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util.h"

/* Histogram upper bounds in seconds (the +Inf bucket is implicit). */
static const double BOUNDS[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NBOUNDS (sizeof BOUNDS / sizeof BOUNDS[0])

typedef struct histogram {
    atomic_ullong buckets[NBOUNDS + 1];  /* non-cumulative; last = above all bounds */
    atomic_ullong count;
    atomic_ullong sum_ns;
} histogram;

enum { SLOT_EMPTY, SLOT_BUSY, SLOT_READY };
#define NSLOTS 256

/* One labelled series: requests_total{route,status} uses count,
 * request_duration_seconds{route} uses h (with status NO_STATUS). */
typedef struct slot {
    atomic_int state;
    const char *route;
    int status;
    atomic_ullong count;
    histogram h;
} slot;

#define NO_STATUS (-1)
#define RENDER_START 4096   /* bytes reserved for the rendered text at first */

struct metrics {
    slot counts[NSLOTS];
    slot latency[NSLOTS];
    atomic_long active_sessions;
    atomic_ullong refused_connections;
    atomic_ullong submissions;
    atomic_ullong reward_micro;          /* sum of rewards, in millionths */
    histogram grade;
};

metrics *metrics_new(void)
{
    return calloc(1, sizeof(metrics));   /* atomics are valid when zeroed */
}

void metrics_free(metrics *m)
{
    free(m);
}

static size_t hash_key(const char *route, int status)
{
    unsigned char st[2] = {(unsigned char)((unsigned)status >> 8), (unsigned char)status};
    uint64_t h = util_fnv1a64(st, sizeof st, util_hash(route, strlen(route)));
    return (size_t)(h % NSLOTS);
}

/* Finds the slot of (route, status) in table, claiming an empty one on first
 * use. A full table answers its last slot. */
static slot *slot_for(slot *table, const char *route, int status)
{
    size_t start = hash_key(route, status);
    for (size_t k = 0; k < NSLOTS; k++) {
        slot *s = &table[(start + k) % NSLOTS];
        int st = atomic_load(&s->state);
        if (st == SLOT_EMPTY) {
            if (atomic_compare_exchange_strong(&s->state, &st, SLOT_BUSY)) {
                s->route = route;
                s->status = status;
                atomic_store(&s->state, SLOT_READY);
                return s;
            }
        }
        while (st == SLOT_BUSY)             /* another thread is writing the key */
            st = atomic_load(&s->state);
        if (s->status == status && strcmp(s->route, route) == 0)
            return s;
    }
    return &table[NSLOTS - 1];
}

static void histogram_observe(histogram *h, double seconds)
{
    if (!(seconds >= 0))
        seconds = 0;
    size_t b = 0;
    while (b < NBOUNDS && seconds > BOUNDS[b])
        b++;
    atomic_fetch_add(&h->buckets[b], 1);
    atomic_fetch_add(&h->count, 1);
    double ns = seconds * 1e9;
    atomic_fetch_add(&h->sum_ns, ns < 1.8e19 ? (unsigned long long)ns : 0);
}

void metrics_observe_request(metrics *m, const char *route, int status, double seconds)
{
    if (!m || !route)
        return;
    atomic_fetch_add(&slot_for(m->counts, route, status)->count, 1);
    histogram_observe(&slot_for(m->latency, route, NO_STATUS)->h, seconds);
}

void metrics_observe_submission(metrics *m, double reward, double grade_seconds)
{
    if (!m)
        return;
    atomic_fetch_add(&m->submissions, 1);
    double micro = reward * 1e6 + 0.5;
    atomic_fetch_add(&m->reward_micro, micro > 0 && micro < 1.8e19 ? (unsigned long long)micro : 0);
    histogram_observe(&m->grade, grade_seconds);
}

void metrics_set_active_sessions(metrics *m, long n)
{
    if (m)
        atomic_store(&m->active_sessions, n);
}

void metrics_set_refused_connections(metrics *m, unsigned long long n)
{
    if (m)
        atomic_store(&m->refused_connections, n);
}

/* The text being rendered; a failed append poisons it (failed). */
typedef struct sbuf {
    util_buf b;
    bool failed;
} sbuf;

__attribute__((format(printf, 2, 3)))
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    b->failed = util_buf_vprintf(&b->b, fmt, ap) != 0;
    va_end(ap);
}

/* Appends a label value with Prometheus escaping (\\, \", \n). */
static void sb_label(sbuf *b, const char *s)
{
    for (; *s && !b->failed; s++) {
        if (*s == '\\')
            sb_printf(b, "\\\\");
        else if (*s == '"')
            sb_printf(b, "\\\"");
        else if (*s == '\n')
            sb_printf(b, "\\n");
        else
            sb_printf(b, "%c", *s);
    }
}

/* Writes the bucket, sum and count lines of one histogram series; labels is
 * the route label text already escaped ("" for none). */
static void render_histogram(sbuf *b, const char *name, const char *route, const histogram *h)
{
    unsigned long long cum = 0;
    for (size_t i = 0; i <= NBOUNDS; i++) {
        cum += atomic_load(&h->buckets[i]);
        sb_printf(b, "%s_bucket{", name);
        if (route) {
            sb_printf(b, "route=\"");
            sb_label(b, route);
            sb_printf(b, "\",");
        }
        if (i < NBOUNDS)
            sb_printf(b, "le=\"%g\"} %llu\n", BOUNDS[i], cum);
        else
            sb_printf(b, "le=\"+Inf\"} %llu\n", cum);
    }
    const char *suffix[2] = {"_sum", "_count"};
    for (int k = 0; k < 2; k++) {
        sb_printf(b, "%s%s", name, suffix[k]);
        if (route) {
            sb_printf(b, "{route=\"");
            sb_label(b, route);
            sb_printf(b, "\"}");
        }
        if (k == 0)
            sb_printf(b, " %.9f\n", (double)atomic_load(&h->sum_ns) / 1e9);
        else
            sb_printf(b, " %llu\n", (unsigned long long)atomic_load(&h->count));
    }
}

char *metrics_render(metrics *m, size_t *len)
{
    sbuf b = {UTIL_BUF_INIT, false};
    if (!m || util_buf_reserve(&b.b, RENDER_START))
        return NULL;
    sb_printf(&b, "# HELP fcpivot_http_requests_total HTTP requests by route and status.\n"
                  "# TYPE fcpivot_http_requests_total counter\n");
    for (size_t i = 0; i < NSLOTS; i++) {
        const slot *s = &m->counts[i];
        if (atomic_load(&s->state) != SLOT_READY)
            continue;
        sb_printf(&b, "fcpivot_http_requests_total{route=\"");
        sb_label(&b, s->route);
        sb_printf(&b, "\",status=\"%d\"} %llu\n", s->status,
                  (unsigned long long)atomic_load(&s->count));
    }
    sb_printf(&b, "# HELP fcpivot_http_request_duration_seconds Request latency by route.\n"
                  "# TYPE fcpivot_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i < NSLOTS; i++) {
        const slot *s = &m->latency[i];
        if (atomic_load(&s->state) == SLOT_READY)
            render_histogram(&b, "fcpivot_http_request_duration_seconds", s->route, &s->h);
    }
    unsigned long long subs = atomic_load(&m->submissions);
    double reward_sum = (double)atomic_load(&m->reward_micro) / 1e6;
    sb_printf(&b, "# HELP fcpivot_active_sessions ORS sessions currently open.\n"
                  "# TYPE fcpivot_active_sessions gauge\n"
                  "fcpivot_active_sessions %ld\n", atomic_load(&m->active_sessions));
    sb_printf(&b, "# HELP fcpivot_connections_refused_total Connections answered 503 because "
                  "--max-connections were open.\n"
                  "# TYPE fcpivot_connections_refused_total counter\n"
                  "fcpivot_connections_refused_total %llu\n",
              (unsigned long long)atomic_load(&m->refused_connections));
    sb_printf(&b, "# HELP fcpivot_submissions_total Graded actions (ORS submissions and /verify).\n"
                  "# TYPE fcpivot_submissions_total counter\n"
                  "fcpivot_submissions_total %llu\n", subs);
    sb_printf(&b, "# HELP fcpivot_reward_sum Sum of the rewards of all graded actions.\n"
                  "# TYPE fcpivot_reward_sum counter\n"
                  "fcpivot_reward_sum %.6f\n", reward_sum);
    sb_printf(&b, "# HELP fcpivot_reward_mean Mean reward of all graded actions.\n"
                  "# TYPE fcpivot_reward_mean gauge\n"
                  "fcpivot_reward_mean %.6f\n", subs ? reward_sum / (double)subs : 0.0);
    sb_printf(&b, "# HELP fcpivot_grade_duration_seconds Time spent grading one action.\n"
                  "# TYPE fcpivot_grade_duration_seconds histogram\n");
    render_histogram(&b, "fcpivot_grade_duration_seconds", NULL, &m->grade);
    if (b.failed) {
        util_buf_free(&b.b);
        return NULL;
    }
    return util_buf_take(&b.b, len);
}
