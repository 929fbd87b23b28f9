/* Fuzz target: dataset row parsing and validation (src/ds.h).
 *
 * The input is written to a file and opened with ds_open (validate, skip
 * invalid rows): as .jsonl.gz or .jsonl.zst when it starts with those magic
 * numbers (so the decompressors see corrupt streams too), else as .jsonl.
 * Every row that survives validation must then parse (ds_task_acquire) and
 * describe itself (pubtask_json) without revealing its expected action;
 * every reported issue must carry a line number inside the file. */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "ds.h"
#include "pubtask.h"
#include "fuzzutil.h"

typedef struct seen {
    size_t issues, errors, max_line;
} seen;

static void on_issue(const ds_issue *is, void *ctx)
{
    seen *s = ctx;
    s->issues++;
    if (is->severity == DS_SEV_ERROR)
        s->errors++;
    FUZZ_CHECK(is->line >= 1 && is->line <= s->max_line, "issue on line %zu of %zu",
               is->line, s->max_line);
    FUZZ_CHECK(is->message && is->message[0], "issue without a reason");
}

static const char *suffix_for(const uint8_t *d, size_t n)
{
    if (n >= 2 && d[0] == 0x1f && d[1] == 0x8b)
        return ".jsonl.gz";
    if (n >= 4 && d[0] == 0x28 && d[1] == 0xb5 && d[2] == 0x2f && d[3] == 0xfd)
        return ".jsonl.zst";
    return ".jsonl";
}

static int write_file(const char *path, const uint8_t *d, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, d + off, n - off);
        if (w <= 0) { close(fd); return -1; }
        off += (size_t)w;
    }
    return close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[128];
    snprintf(path, sizeof path, "/tmp/fcpivot-fuzz-%d%s", (int)getpid(), suffix_for(data, size));
    if (write_file(path, data, size) != 0)
        return 0;
    /* Line numbers are bounded by the newlines of a plain file; a compressed
     * one has as many lines as its decompressed text. */
    seen s = {.max_line = 1};
    if (!strcmp(suffix_for(data, size), ".jsonl"))
        for (size_t i = 0; i < size; i++)
            s.max_line += data[i] == '\n';
    else
        s.max_line = SIZE_MAX;

    ds_split_spec split = {.name = "train", .path = path};
    ds_open_options opts = {.validate = true, .skip_invalid = true, .threads = 1,
                            .on_issue = on_issue, .ctx = &s};
    ds_dataset *ds = NULL;
    char err[512] = "";
    int rc = ds_open(&ds, &split, 1, &opts, err, sizeof err);
    if (rc != 0) {
        FUZZ_CHECK(err[0], "ds_open failed without a reason");
        unlink(path);
        return 0;
    }
    FUZZ_CHECK(ds_split_count(ds) == 1, "%zu splits", ds_split_count(ds));
    size_t rows = ds_split_size(ds, 0);
    FUZZ_CHECK(rows + ds_skipped_rows(ds) <= s.max_line, "%zu rows + %zu skipped from %zu lines",
               rows, ds_skipped_rows(ds), s.max_line);
    FUZZ_CHECK(ds_skipped_rows(ds) <= s.errors, "%zu skipped, %zu errors reported",
               ds_skipped_rows(ds), s.errors);
    for (size_t i = 0; i < rows; i++) {
        const ds_task *t = ds_task_acquire(ds, 0, i, err, sizeof err);
        FUZZ_CHECK(t, "row %zu passed validation but does not parse: %s", i, err);
        FUZZ_CHECK(t->expected && json_is_array(t->tools) && json_is_array(t->input),
                   "row %zu: incomplete task", i);
        size_t sp, ix;
        FUZZ_CHECK(ds_task_find(ds, t->id, &sp, &ix) == 0 && sp == 0 && ix == i,
                   "task id '%s' does not resolve to itself", t->id);
        json_t *pub = pubtask_json(ds, 0, i);
        FUZZ_CHECK(pub, "row %zu has no public description", i);
        FUZZ_CHECK(!json_object_get(pub, "expected_action"), "row %zu: answer revealed", i);
        json_decref(pub);
        ds_task_release(ds, t);
    }
    ds_close(ds);
    unlink(path);
    return 0;
}
