/* cli_eval_out — the files of `fcpivot eval` (docs/eval.md §4): their names,
 * append-only JSONL files written one whole line per write, atomic
 * replacement (temporary file, fsync, rename, fsync of the directory), the
 * scan of an existing JSONL file on --resume (a torn last line is cut off)
 * and the sorted rewrite of a complete run's rollouts. */
#ifndef FCPIVOT_CLI_EVAL_OUT_H
#define FCPIVOT_CLI_EVAL_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The files of one run, named from -o: "runs/m.jsonl" gives runs/m.jsonl,
 * runs/m_materialized_inputs.jsonl, runs/m_failures.jsonl,
 * runs/m_aggregate_metrics.json, runs/m_summary.json and runs/m_run.json.
 * Strings owned by the struct (evout_paths_free). */
typedef struct evout_paths {
    char *rollouts, *inputs, *failures, *aggregate, *summary, *manifest;
} evout_paths;

/* 0, or -1 when out of memory. */
int evout_paths_init(evout_paths *p, const char *out);
void evout_paths_free(evout_paths *p);

/* An append-only line file. */
typedef struct evout_file {
    int fd;
    uint64_t size;       /* bytes in the file */
    char *path;          /* owned copy */
} evout_file;

/* Opens path for appending (created; emptied first when truncate). 0, or -1
 * with a reason in err. */
int evout_open(evout_file *f, const char *path, bool truncate, char *err, size_t errsz);
/* Appends p[0..n) (a whole line, its '\n' included) with one write; its
 * offset goes to *offset (may be NULL). 0, or -1 with a reason in err
 * (disk full…), after which the file is cut back to its previous size. */
int evout_append(evout_file *f, const char *p, size_t n, uint64_t *offset, char *err,
                 size_t errsz);
/* fsync. 0 or -1 with a reason. */
int evout_sync(evout_file *f, char *err, size_t errsz);
void evout_close(evout_file *f);

/* Called for each complete line (without its '\n') of a scanned file with
 * its offset; return 0 to keep the line, 1 when the line is unusable (it
 * ends the usable part when it is the last line). */
typedef int (*evout_line_fn)(void *ctx, const char *line, size_t len, uint64_t offset);

/* Reads path line by line (a missing file is empty) and cuts off a last
 * line that has no '\n' or that fn calls unusable; *cut gets the bytes
 * removed. 0, or -1 with a reason in err. */
int evout_scan(const char *path, evout_line_fn fn, void *ctx, uint64_t *cut, char *err,
               size_t errsz);

/* Replaces path atomically by data[0..len). 0, or -1 with a reason. */
int evout_replace(const char *path, const char *data, size_t len, char *err, size_t errsz);

/* Replaces path atomically by the lines of path found at (off[i], len[i])
 * (len without the '\n'), in the order given; entries with len 0 are
 * skipped. 0, or -1 with a reason. */
int evout_reorder(const char *path, const uint64_t *off, const uint32_t *len, size_t n,
                  char *err, size_t errsz);

/* A file written in full and then renamed into place (evout_commit). */
typedef struct evout_tmp {
    evout_file f;
    char *final;
} evout_tmp;
int evout_tmp_open(evout_tmp *t, const char *path, char *err, size_t errsz);
/* fsync, rename, fsync of the directory; frees t. 0 or -1 with a reason. */
int evout_tmp_commit(evout_tmp *t, char *err, size_t errsz);
/* Removes the temporary file; frees t. */
void evout_tmp_abort(evout_tmp *t);

/* True when path exists and is not empty. */
bool evout_nonempty(const char *path);

#endif
