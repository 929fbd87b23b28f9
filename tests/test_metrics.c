/* Tests of the Prometheus metrics: counters, histograms, rendering, threads. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "testutil.h"
#include "metrics.h"

static char *render(metrics *m)
{
    size_t len = 0;
    char *t = metrics_render(m, &len);
    cr_assert(t);
    cr_assert_eq(strlen(t), len);
    cr_assert(len > 0 && t[len - 1] == '\n');
    return t;
}

static void has_line(const char *text, const char *line)
{
    char buf[512];
    snprintf(buf, sizeof buf, "\n%s\n", line);
    cr_assert(strstr(text, buf), "missing line '%s' in:\n%s", line, text);
}

Test(metrics, requests_by_route_and_status)
{
    metrics *m = metrics_new();
    metrics_observe_request(m, "/health", 200, 0.0002);
    metrics_observe_request(m, "/health", 200, 0.003);
    metrics_observe_request(m, "/{env}/call", 404, 0.02);
    char *t = render(m);
    has_line(t, "# TYPE fcpivot_http_requests_total counter");
    has_line(t, "fcpivot_http_requests_total{route=\"/health\",status=\"200\"} 2");
    has_line(t, "fcpivot_http_requests_total{route=\"/{env}/call\",status=\"404\"} 1");
    has_line(t, "# TYPE fcpivot_http_request_duration_seconds histogram");
    /* cumulative buckets */
    has_line(t, "fcpivot_http_request_duration_seconds_bucket{route=\"/health\",le=\"0.0001\"} 0");
    has_line(t, "fcpivot_http_request_duration_seconds_bucket{route=\"/health\",le=\"0.00025\"} 1");
    has_line(t, "fcpivot_http_request_duration_seconds_bucket{route=\"/health\",le=\"0.005\"} 2");
    has_line(t, "fcpivot_http_request_duration_seconds_bucket{route=\"/health\",le=\"+Inf\"} 2");
    has_line(t, "fcpivot_http_request_duration_seconds_count{route=\"/health\"} 2");
    has_line(t, "fcpivot_http_request_duration_seconds_sum{route=\"/health\"} 0.003200000");
    free(t);
    metrics_free(m);
}

Test(metrics, sessions_submissions_and_grade_time)
{
    metrics *m = metrics_new();
    char *t = render(m);
    has_line(t, "fcpivot_active_sessions 0");
    has_line(t, "fcpivot_submissions_total 0");
    has_line(t, "fcpivot_reward_mean 0.000000");
    free(t);
    metrics_set_active_sessions(m, 12);
    metrics_observe_submission(m, 1.0, 0.00001);
    metrics_observe_submission(m, 0.0, 0.2);
    metrics_observe_submission(m, 0.5, 20);
    t = render(m);
    has_line(t, "fcpivot_active_sessions 12");
    has_line(t, "fcpivot_submissions_total 3");
    has_line(t, "fcpivot_reward_sum 1.500000");
    has_line(t, "fcpivot_reward_mean 0.500000");
    has_line(t, "fcpivot_grade_duration_seconds_bucket{le=\"0.0001\"} 1");
    has_line(t, "fcpivot_grade_duration_seconds_bucket{le=\"0.25\"} 2");
    has_line(t, "fcpivot_grade_duration_seconds_bucket{le=\"10\"} 2");
    has_line(t, "fcpivot_grade_duration_seconds_bucket{le=\"+Inf\"} 3");
    has_line(t, "fcpivot_grade_duration_seconds_count 3");
    free(t);
    metrics_free(m);
}

Test(metrics, labels_are_escaped)
{
    metrics *m = metrics_new();
    metrics_observe_request(m, "/a\"b\\c\nd", 500, 0);
    char *t = render(m);
    has_line(t, "fcpivot_http_requests_total{route=\"/a\\\"b\\\\c\\nd\",status=\"500\"} 1");
    free(t);
    metrics_free(m);
}

Test(metrics, null_metrics_are_ignored)
{
    metrics_observe_request(NULL, "/x", 200, 1);
    metrics_observe_submission(NULL, 1, 1);
    metrics_set_active_sessions(NULL, 1);
    cr_assert_null(metrics_render(NULL, NULL));
}

Test(metrics, many_routes_overflow_into_one_series)
{
    metrics *m = metrics_new();
    static char names[300][16];
    for (int i = 0; i < 300; i++) {
        snprintf(names[i], sizeof names[i], "/r%d", i);
        metrics_observe_request(m, names[i], 200, 0.001);
    }
    char *t = render(m);
    size_t series = 0;
    unsigned long long total = 0;
    for (const char *p = t; (p = strstr(p, "\nfcpivot_http_requests_total{")); p++) {
        series++;
        total += strtoull(strchr(p + 1, '}') + 2, NULL, 10);
    }
    cr_assert_eq(series, 256);
    cr_assert_eq(total, 300, "no observation lost");
    free(t);
    metrics_free(m);
}

typedef struct { metrics *m; int id; } worker_arg;

static void *worker(void *p)
{
    worker_arg *a = p;
    static const char *routes[4] = {"/a", "/b", "/c", "/d"};
    for (int i = 0; i < 20000; i++) {
        metrics_observe_request(a->m, routes[(i + a->id) % 4], 200 + i % 2, 0.001);
        if (i % 10 == 0)
            metrics_observe_submission(a->m, 1.0, 0.0001);
    }
    return NULL;
}

Test(metrics, concurrent_observations_are_all_counted)
{
    metrics *m = metrics_new();
    pthread_t th[4];
    worker_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (worker_arg){m, i};
        pthread_create(&th[i], NULL, worker, &args[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    char *t = render(m);
    unsigned long long total = 0;
    for (const char *p = t; (p = strstr(p, "\nfcpivot_http_requests_total{")); p++)
        total += strtoull(strchr(p + 1, '}') + 2, NULL, 10);
    cr_assert_eq(total, 80000);
    has_line(t, "fcpivot_submissions_total 8000");
    has_line(t, "fcpivot_http_requests_total{route=\"/a\",status=\"200\"} 10000");
    free(t);
    metrics_free(m);
}
