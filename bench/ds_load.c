/* ds_load — times ds_open on one file and reports the resident memory after
 * loading (VmRSS from /proc/self/status).
 *
 *   ds_load FILE [--validate] [--threads N] [--touch]
 *
 * Prints one line: rows, bytes, wall time of ds_open, MB/s, VmRSS in KiB and
 * its ratio to the file size. --touch parses every 97th row as a task
 * afterwards, as a smoke check that loaded rows are usable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ds.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long vmrss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6))
            kb = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

static void count_issue(const ds_issue *is, void *ctx)
{
    (void)is;
    ++*(size_t *)ctx;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: ds_load FILE [--validate] [--threads N] [--touch]\n");
        return 2;
    }
    size_t issues = 0;
    ds_open_options o = {.on_issue = count_issue, .ctx = &issues, .skip_invalid = true};
    bool touch = false;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--validate"))
            o.validate = true;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            o.threads = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--touch"))
            touch = true;
    }
    ds_split_spec sp = {"train", argv[1]};
    ds_dataset *ds;
    char err[512];
    double t0 = now_s();
    if (ds_open(&ds, &sp, 1, &o, err, sizeof err)) {
        fprintf(stderr, "ds_load: %s\n", err);
        return 1;
    }
    double dt = now_s() - t0;
    ds_split_report r;
    ds_split_report_get(ds, 0, &r);
    long rss = vmrss_kb();
    size_t bad = 0;
    for (size_t i = 0; touch && i < ds_split_size(ds, 0); i += 97) {
        const ds_task *t = ds_task_acquire(ds, 0, i, err, sizeof err);
        if (!t)
            bad++;
        ds_task_release(ds, t);
    }
    printf("%s rows=%zu bytes=%zu %s threads=%u time_ms=%.1f MB/s=%.0f rss_kb=%ld rss/file=%.2f issues=%zu%s\n",
           argv[1], r.rows, r.bytes, o.validate ? "open+index+validate" : "open+index", o.threads,
           dt * 1e3, (double)r.bytes / dt / 1e6, rss, (double)rss * 1024.0 / (double)(r.bytes ? r.bytes : 1),
           issues, bad ? " (some rows failed to parse)" : "");
    ds_close(ds);
    return 0;
}
