/* tasks_list — times the /ENV/tasks reply of one large split and the memory
 * a request needs, without HTTP (bench/50-tasks.sh measures it over HTTP).
 *
 *   tasks_list FILE [--repeat K]
 *
 * Opens FILE as split "train" (validated, as serve does), then renders the
 * full task list through ors_tasks once (the walk of every row) and K more
 * times (default 3; from the spans the first kept) and a 1,000-task
 * task_range, printing the wall time of the first and the best of the rest, the reply size, and how
 * much the resident memory peak (VmHWM) rose over the resident memory before
 * the first request: the extra memory of one request, to compare with the
 * reply size. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "benchutil.h"
#include "ds.h"
#include "ors.h"

/* Best-of-k seconds of one handler call with body; the last reply's size in
 * *bytes. */
static double time_call(void (*fn)(ors_env *, const wire_request *, wire_reply *), ors_env *env,
                        const char *body, int k, size_t *bytes, double *cpu)
{
    double best = 1e9;
    *cpu = 1e9;
    for (int i = 0; i < k; i++) {
        wire_request req = {.method = "POST", .path = "/e/tasks", .param = NULL,
                            .body = body, .body_len = strlen(body)};
        wire_reply r = {0};
        double t0 = bench_now(), c0 = bench_cpu();
        fn(env, &req, &r);
        double t = bench_now() - t0, c = bench_cpu() - c0;
        *cpu = c < *cpu ? c : *cpu;
        if (r.status != 200) {
            fprintf(stderr, "tasks_list: status %d: %.*s\n", r.status, (int)r.body_len, r.body);
            exit(1);
        }
        *bytes = r.body_len;
        wire_reply_free(&r);
        best = t < best ? t : best;
    }
    return best;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: tasks_list FILE [--repeat K]\n");
        return 2;
    }
    int k = argc > 3 && !strcmp(argv[2], "--repeat") ? atoi(argv[3]) : 3;
    ds_split_spec sp = {"train", argv[1]};
    ds_open_options o = {.validate = true};
    ds_dataset *ds;
    char err[512];
    if (ds_open(&ds, &sp, 1, &o, err, sizeof err)) {
        fprintf(stderr, "tasks_list: %s\n", err);
        return 1;
    }
    ors_env *env = ors_env_new(ds, NULL, NULL, err, sizeof err);
    if (!env) {
        fprintf(stderr, "tasks_list: %s\n", err);
        return 1;
    }
    long rss0 = bench_status_kb("VmRSS:");
    size_t bytes = 0, range_bytes = 0;
    double c1, c2, c3;
    double first = time_call(ors_tasks, env, "{\"split\":\"train\"}", 1, &bytes, &c1);
    long hwm = bench_status_kb("VmHWM:");
    double t = time_call(ors_tasks, env, "{\"split\":\"train\"}", k, &bytes, &c2);
    double tr = time_call(ors_task_range, env, "{\"split\":\"train\",\"start\":-1000}", k,
                          &range_bytes, &c3);
    printf("  %zu tasks: /tasks %.3f s the first time (%.3f s CPU), then %.3f s (%.3f s CPU); "
           "reply %.1f MB, peak memory +%.1f MB (%.2fx the reply); task_range of 1,000: %.2f ms\n",
           ds_split_size(ds, 0), first, c1, t, c2, (double)bytes / 1e6,
           (double)(hwm - rss0) / 1024.0, (double)(hwm - rss0) * 1024.0 / (double)bytes,
           tr * 1e3);
    ors_env_free(env);
    ds_close(ds);
    return 0;
}
