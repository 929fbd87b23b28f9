/* ds — pivot datasets: open, index, validate and read rows as tasks
 * (docs/dataset.md §1, §6).
 *
 * A dataset is one or more named splits, each one file (.jsonl, .jsonl.gz,
 * .jsonl.zst). Plain files are mmap'ed and indexed by line offsets; compressed
 * ones are decompressed once into memory (gzip/zstd are recognised by their
 * magic bytes). A UTF-8 BOM at the start is skipped, blank lines are not rows
 * but count as lines, "\r\n" endings and a missing final newline are fine.
 * Validation (dsval, docs/dataset.md §5) runs at open on several threads;
 * rows are parsed on demand. Task ids are "<split>-<index>" (index among the
 * served rows) and stable for a given file.
 *
 * No network, no HTTP. A ds_dataset is immutable after ds_open and safe to
 * share between threads; ds_task_acquire/release are thread-safe. Rows of a
 * mapped file are read through a SIGBUS guard and an in-place-change check,
 * so a file truncated or rewritten under the server makes its rows fail with
 * a clear reason instead of crashing (ds_split_changed).
 */
#ifndef FCPIVOT_DS_H
#define FCPIVOT_DS_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "grade.h"
#include "jtext.h"
#include "util.h"

typedef struct ds_dataset ds_dataset;

typedef struct ds_split_spec {
    const char *name;   /* e.g. "train" */
    const char *path;   /* file path */
} ds_split_spec;

typedef enum { DS_SEV_ERROR, DS_SEV_WARNING } ds_severity;

/* One validation finding. Strings are valid only during the callback. */
typedef struct ds_issue {
    const char *split;
    const char *path;
    size_t line;            /* 1-based line number in the file */
    ds_severity severity;
    const char *message;    /* human reason */
    const char *kind;       /* the rule, for counting: "json", "row",
                               "responses_create_params", "input", "tools",
                               "expected_action", "memory" (errors) or
                               "unlisted_tool" (warnings) */
} ds_issue;

typedef void (*ds_issue_fn)(const ds_issue *issue, void *ctx);
/* Progress of validation: bytes of all splits done so far out of total. */
typedef void (*ds_progress_fn)(size_t done, size_t total, void *ctx);

/* One row as validation saw it (ds_open_options.on_row). */
typedef struct ds_row_info {
    size_t split;            /* split number */
    size_t row;              /* 0-based among the file's non-blank lines */
    size_t line;             /* 1-based line number */
    unsigned worker;         /* the validating thread: 0 <= worker < threads used */
    bool valid, warning;
    bool unlisted_tool;      /* one of the warnings: an expected call names an unlisted tool */
    grade_action_kind kind;  /* expected action kind (NONE when invalid) */
    const grade_action *expected; /* NULL when invalid; valid during the call only */
    unsigned n_input, n_tools;
    unsigned n_user, n_words;     /* only with measure: user messages, words of
                                     all message texts in input */
} ds_row_info;
/* Called concurrently from the validation threads, once per non-blank row,
 * not in line order: keep per-worker state. */
typedef void (*ds_row_fn)(const ds_row_info *row, void *ctx);

/* Threads used for a given ds_open_options.threads (0 = cores; at most 64). */
unsigned ds_thread_count(unsigned requested);

typedef struct ds_open_options {
    bool validate;          /* validate every row at open */
    bool skip_invalid;      /* with validate: drop invalid rows instead of failing */
    unsigned threads;       /* validation threads; 0 = number of cores */
    ds_issue_fn on_issue;   /* optional: called for each error/warning, in line order */
    void *ctx;
    ds_progress_fn on_progress; /* optional: called (with ctx) between validation batches */
    ds_row_fn on_row;       /* optional, with validate: called (with ctx) for every row */
    bool measure;           /* with on_row: also count turns and words (slower) */
} ds_open_options;

/* Opens every split. Returns 0 and *out (caller frees with ds_close), or -1
 * with a reason in err (unreadable file, duplicate split name, or validation
 * errors without skip_invalid). */
int ds_open(ds_dataset **out, const ds_split_spec *splits, size_t nsplits,
            const ds_open_options *opts, char *err, size_t errsz);
/* Datasets are reference-counted (thread-safe): ds_retain adds a reference
 * (returns ds), ds_close gives one back and frees the dataset with the last. */
ds_dataset *ds_retain(ds_dataset *ds);
void ds_close(ds_dataset *ds);

size_t ds_split_count(const ds_dataset *ds);
const char *ds_split_name(const ds_dataset *ds, size_t split);  /* borrowed */
size_t ds_split_size(const ds_dataset *ds, size_t split);        /* rows served */
/* Index of the split called name, or -1. */
long ds_split_find(const ds_dataset *ds, const char *name);
/* Counts from validation at open (0 when not validated). */
size_t ds_skipped_rows(const ds_dataset *ds);
size_t ds_warning_count(const ds_dataset *ds);

/* Rows that failed validation (skipped, or the reason ds_open failed). */
size_t ds_error_count(const ds_dataset *ds);

/* What ds_open found in one split. */
typedef struct ds_split_report {
    const char *name, *path;   /* borrowed from the dataset */
    bool compressed;           /* gzip or zstd input */
    size_t bytes;              /* (decompressed) size of the file */
    size_t lines;              /* lines, blank ones included */
    size_t rows;               /* non-blank lines */
    size_t served;             /* rows served (= rows - errors with skip_invalid) */
    size_t errors, warnings;   /* rows with an error / a warning (when validated) */
    size_t kinds[GRADE_ACTION_KIND_COUNT];   /* valid rows by expected action kind */
} ds_split_report;
void ds_split_report_get(const ds_dataset *ds, size_t split, ds_split_report *out);

/* True when name is a valid split name: non-empty, at most DS_SPLIT_NAME_MAX
 * bytes of letters, digits, '_', '.' and '-'. */
#define DS_SPLIT_NAME_MAX 64
/* Room for a task id: a split name, '-', an index of up to 20 digits, NUL. */
#define DS_TASK_ID_SIZE (DS_SPLIT_NAME_MAX + 32)
bool ds_split_name_valid(const char *name);

/* The raw text of a served row (borrowed, valid until ds_close; not
 * NUL-terminated), its length and 1-based line number. NULL if out of range.
 * Unguarded: for a mapped file this points into the mapping, which faults
 * if the file is truncated in place (guarded readers: ds_task_acquire,
 * ds_rows_visit; see ds_split_changed). */
const char *ds_row_text(const ds_dataset *ds, size_t split, size_t index,
                        size_t *len, size_t *line);

/* A parsed row. Immutable; shared between holders via acquire/release.
 *
 * The jansson members are for reading (names, strings, shapes). A row may
 * hold numbers jansson cannot (big integers, NaN, Infinity, 1e400: docs/dataset.md
 * §4), which those trees carry as placeholders, so whatever is sent back
 * must be written from the row's own bytes: text, the task's copy of the
 * row, which lives as long as the task (prompt finds its values' spans
 * there). */
typedef struct ds_task {
    char id[DS_TASK_ID_SIZE];    /* "<split>-<index>" */
    const char *split;           /* borrowed from the dataset */
    size_t split_index, index;   /* split number; row index within the split */
    size_t line;                 /* 1-based line in the file */
    json_t *row;                 /* the whole row */
    json_t *input;               /* responses_create_params.input (borrowed from row) */
    json_t *tools;               /* the task tools, an array of the row's own function
                                    objects (the tool, or its "function" member in the
                                    Chat-Completions shape; nothing filled in): the
                                    first of each name; other kinds of tool are not
                                    task tools. How they are shown is prompt's. */
    grade_action *expected;      /* the row's expected action (borrowed: the row's,
                                    valid while the task is held), built once: a
                                    holder that outlives the task keeps it with
                                    ds_expected_hold, and a task built again for
                                    the row meanwhile shares it */
    char *text;                  /* the task's copy of the row's bytes (owned) */
    size_t text_len;
    size_t *tool_rows;           /* per entry of tools: its index among the row's tools */
} ds_task;

/* The task at index (0 <= index < ds_split_size) of split. The returned task is
 * shared and read-only; give it back with ds_task_release. NULL with a reason
 * in err if the row cannot be parsed. */
const ds_task *ds_task_acquire(ds_dataset *ds, size_t split, size_t index,
                               char *err, size_t errsz);
void ds_task_release(ds_dataset *ds, const ds_task *task);

/* The expected action of task (which the caller holds), kept for a holder
 * that outlives the task, such as a session: borrowed, valid until the
 * holder gives it back with ds_expected_release(ds, task->split_index,
 * task->index) (ds must stay open until then). While it is held, the row
 * keeps this one action: acquiring its task again shares it rather than
 * parsing the expected action again. Thread-safe. */
const grade_action *ds_expected_hold(ds_dataset *ds, const ds_task *task);
void ds_expected_release(ds_dataset *ds, size_t split, size_t index);

/* Reads rows [start, stop) of split as they were loaded, without copying
 * them: calls fn(ctx, index, row, len) for each in order, row borrowed for
 * the call only (for a mapped file it points into the mapping, and the
 * calls run under ds's SIGBUS guard). The split's file is checked for
 * in-place changes before and after. A fault (the file shrank under the
 * mapping) ends fn wherever it was reading the row, so fn must leave nothing
 * it would have to undo: it allocates only into buffers that stay whole
 * (util_buf), never holds a lock. Returns 0; fn's nonzero return as it is
 * (stopping there; fn says why through ctx); or -1 with a reason in err when
 * the range is out of bounds or the rows can no longer be read
 * (ds_split_changed). Thread-safe. */
typedef int (*ds_row_visit_fn)(void *ctx, size_t index, const char *row, size_t len);
int ds_rows_visit(const ds_dataset *ds, size_t split, size_t start, size_t stop,
                  ds_row_visit_fn fn, void *ctx, char *err, size_t errsz);

/* True when every served row passed validation (dsval) at open, so readers
 * may trust the row shapes of docs/dataset.md §5. */
bool ds_validated(const ds_dataset *ds);

/* True when the (mapped) file of split was truncated or rewritten in place
 * since it was loaded. Its rows are then no longer read: ds_task_acquire
 * and ds_rows_visit fail with a reason saying so (never a crash). Files
 * must be replaced by rename; see ds_retain for reloading. When true and
 * what is not NULL, what receives what changed ("size 151234 -> 1000 bytes
 * (truncated)", "modification time changed, size 151234 bytes (rewritten)"
 * or why the file cannot be checked). */
bool ds_split_changed(const ds_dataset *ds, size_t split, char *what, size_t whatsz);

/* Resolves a task id to split and index: 0 on success, -1 if unknown. */
int ds_task_find(const ds_dataset *ds, const char *id, size_t *split, size_t *index);

#endif
