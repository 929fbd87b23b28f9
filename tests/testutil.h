/* testutil — helpers shared by the Criterion test files. */
#ifndef FCPIVOT_TESTUTIL_H
#define FCPIVOT_TESTUTIL_H

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stddef.h>

/* The repository root (FCPIVOT_ROOT, set by make) and the fcpivot binary. */
const char *tu_root(void);
const char *tu_bin(void);
/* "<root>/<rel>" in a static per-thread buffer. */
const char *tu_path(const char *rel);
/* Path of a file in ../shared/data, or NULL when ../shared is absent. Tests
 * that need it call TU_REQUIRE_SHARED so the skip is visible. */
const char *tu_shared(const char *rel);
#define TU_REQUIRE_SHARED(var, rel)                                               \
    const char *var = tu_shared(rel);                                             \
    if (!var) cr_skip_test("../shared/%s not present (fresh clone): skipped", rel)

/* Reads a whole file; caller frees. NULL if unreadable. */
char *tu_read_file(const char *path, size_t *len);
/* Writes data to a new temporary file and returns its path (caller frees). */
char *tu_write_temp(const char *data, size_t len, const char *suffix);

/* Runs argv[0..] (NULL-terminated) with stdin from in_data (may be NULL),
 * captures stdout and stderr (caller frees), returns the exit status or -1. */
int tu_run(char *const argv[], const char *in_data, size_t in_len,
           char **out, size_t *out_len, char **err);

/* Sends n bytes at p on socket fd (no SIGPIPE; EINTR retried): true when all
 * went, false when the connection failed first (the peer may have answered
 * and closed early). */
bool tu_send_all(int fd, const void *p, size_t n);

#endif
