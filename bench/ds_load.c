/* ds_load — times ds_open on one dataset file and reports resident memory.
 *
 *   ds_load FILE [--threads N] [--repeat K]
 *
 * Opens FILE K times (default 3) without validation (mmap + line index) and K
 * times with validation on N threads (default 2), keeping the best time of
 * each, which is the file-in-page-cache figure on a noisy machine. Validation
 * time is the difference of the two, in wall and in CPU time (the latter does
 * not depend on what else the machine runs). After the last validated open it reads
 * VmRSS from /proc/self/status (the mapping counts) and parses every 97th row
 * as a task, to show loaded rows are usable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include "benchutil.h"
#include "ds.h"

/* Best-of-k open time (and the CPU seconds of that run in *cpu); leaves the
 * last dataset open in *keep if given. */
static double time_open(const char *path, bool validate, unsigned threads, int k, ds_dataset **keep,
                        double *cpu)
{
    double best = 1e9;
    for (int i = 0; i < k; i++) {
        ds_split_spec sp = {"train", path};
        ds_open_options o = {.validate = validate, .skip_invalid = true, .threads = threads};
        ds_dataset *ds;
        char err[512];
        double t0 = bench_now(), c0 = bench_cpu();
        if (ds_open(&ds, &sp, 1, &o, err, sizeof err)) {
            fprintf(stderr, "ds_load: %s\n", err);
            exit(1);
        }
        double dt = bench_now() - t0, dc = bench_cpu() - c0;
        if (dt < best) {
            best = dt;
            *cpu = dc;
        }
        if (keep && i == k - 1)
            *keep = ds;
        else
            ds_close(ds);
    }
    return best;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: ds_load FILE [--threads N] [--repeat K]\n");
        return 2;
    }
    unsigned threads = 2;
    int repeat = 3;
    for (int i = 2; i + 1 < argc; i++) {
        if (!strcmp(argv[i], "--threads"))
            threads = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--repeat"))
            repeat = atoi(argv[++i]);
    }
    double c_index, c_all;
    double t_index = time_open(argv[1], false, threads, repeat, NULL, &c_index);
    ds_dataset *ds = NULL;
    double t_all = time_open(argv[1], true, threads, repeat, &ds, &c_all);
    long rss = bench_status_kb("VmRSS:");
    ds_split_report r;
    ds_split_report_get(ds, 0, &r);
    size_t bad = 0;
    for (size_t i = 0; i < ds_split_size(ds, 0); i += 97) {
        const ds_task *t = ds_task_acquire(ds, 0, i, NULL, 0);
        bad += t == NULL;
        ds_task_release(ds, t);
    }
    double t_val = t_all - t_index, c_val = c_all - c_index;
    printf("  %s: %zu rows, %.1f MB, %zu invalid\n", argv[1], r.rows, (double)r.bytes / 1e6, r.errors);
    printf("  open+index            %8.1f ms\n", t_index * 1e3);
    printf("  open+index+validate   %8.1f ms  (%u threads)\n", t_all * 1e3, threads);
    printf("  validation alone      %8.1f ms  = %.0f MB/s, %.2f M rows/s\n", t_val * 1e3,
           (double)r.bytes / (t_val > 0 ? t_val : 1e-9) / 1e6,
           (double)r.rows / (t_val > 0 ? t_val : 1e-9) / 1e6);
    printf("  validation CPU time   %8.1f ms  = %.0f MB per CPU second (machine-load independent)\n",
           c_val * 1e3, (double)r.bytes / (c_val > 0 ? c_val : 1e-9) / 1e6);
    printf("  resident after load   %8.1f MB  = %.2f x file size%s\n", (double)rss / 1024.0,
           (double)rss * 1024.0 / (double)(r.bytes ? r.bytes : 1), bad ? "  (SOME ROWS FAILED TO PARSE)" : "");
    ds_close(ds);
    return 0;
}
