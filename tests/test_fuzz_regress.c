/* Regression tests for what fuzzing (fuzz/, scripts/fuzz) found. Each test
 * names the target and the input that showed the bug. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ds.h"
#include "testutil.h"

/* fuzz/dataset, input: the empty file. ds indexed an empty plain file from a
 * NULL mapping (NULL + 0: undefined behaviour, flagged by clang's UBSan). An
 * empty dataset opens with no rows. */
Test(fuzz_regress, dataset_empty_file_opens_with_no_rows)
{
    const char *suffixes[] = {".jsonl", ".jsonl.gz", ".jsonl.zst"};
    for (size_t i = 0; i < 3; i++) {
        char *path = tu_write_temp("", 0, suffixes[i]);
        cr_assert(path);
        ds_split_spec split = {.name = "train", .path = path};
        ds_open_options opts = {.validate = true, .threads = 1};
        ds_dataset *ds = NULL;
        char err[256] = "";
        int rc = ds_open(&ds, &split, 1, &opts, err, sizeof err);
        if (i == 0) {
            cr_assert_eq(rc, 0, "%s: %s", suffixes[i], err);
            cr_assert_eq(ds_split_size(ds, 0), 0);
            ds_close(ds);
        } else if (rc == 0) {
            /* an empty compressed file: no rows, or a clean error */
            cr_assert_eq(ds_split_size(ds, 0), 0);
            ds_close(ds);
        } else {
            cr_assert(err[0], "%s: refused without a reason", suffixes[i]);
        }
        unlink(path);
        free(path);
    }
}
