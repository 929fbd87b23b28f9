/* metrics — process counters for GET /metrics (Prometheus text format).
 * Thread-safe (atomics); one instance per server, created in main. */
#ifndef FCPIVOT_METRICS_H
#define FCPIVOT_METRICS_H

#include <stddef.h>

typedef struct metrics metrics;

metrics *metrics_new(void);            /* caller frees with metrics_free */
void metrics_free(metrics *m);

/* route: a static label such as "/{env}/call"; seconds: wall time. */
void metrics_observe_request(metrics *m, const char *route, int status, double seconds);
void metrics_observe_submission(metrics *m, double reward, double grade_seconds);
void metrics_set_active_sessions(metrics *m, long n);
/* The HTTP adapter's count of connections refused at the connection cap. */
void metrics_set_refused_connections(metrics *m, unsigned long long n);

/* The whole exposition text; caller frees. NULL on allocation failure. */
char *metrics_render(metrics *m, size_t *len);

#endif
