/* ors — the Open Reward Standard protocol for this environment
 * (docs/http-api.md §4-§5), over the dataset and the grader.
 *
 * Owns the session table (thread-safe), the per-call result store used for
 * reconnects, and prompt/tool rendering. Each handler answers one route; the
 * HTTP adapter does the routing (including the 308 redirect of unknown first
 * path segments, using ors_env_matches) and calls ors_reap periodically.
 */
#ifndef FCPIVOT_ORS_H
#define FCPIVOT_ORS_H

#include <stdbool.h>
#include "ds.h"
#include "grade.h"
#include "metrics.h"
#include "wire.h"

typedef struct ors_config {
    /* defaults: ors_config_default */
    const char *env_name;     /* NULL or "" = the default name */
    grade_config grading;
    double session_ttl;       /* seconds idle before reaping (ors_config_default) */
    double result_ttl;        /* seconds a finished call's result is kept */
    double (*clock)(void);    /* monotonic seconds; NULL = CLOCK_MONOTONIC */
    size_t cache_bytes;       /* budget for rendered prompts, task tools and task
                                 lists (they never go stale); 0 = off */
    size_t pinned_tasks;      /* recently used rows kept parsed after their sessions
                                 end (bounds memory; default 256, 0 = none) */
    size_t max_sessions;      /* live sessions beyond which /create answers 503
                                 with Retry-After; default ORS_DEFAULT_MAX_SESSIONS */
} ors_config;

#define ORS_DEFAULT_MAX_SESSIONS 100000u
/* Bytes of a client's tool name echoed in a refused call's error. */
#define ORS_MAX_ECHO 256u

void ors_config_default(ors_config *cfg);

typedef struct ors_env ors_env;

/* The env takes a reference of its own to ds (ds_retain), so the caller may
 * ds_close theirs at any time; m is borrowed and must outlive the env (may be
 * NULL). Returns NULL with a reason on failure. Caller frees with
 * ors_env_free. */
ors_env *ors_env_new(ds_dataset *ds, const ors_config *cfg, metrics *m,
                     char *err, size_t errsz);
void ors_env_free(ors_env *env);

/* Serves ds from now on (a reload): new sessions and listings use it, open
 * sessions finish on the rows they were created on. Takes a reference of its
 * own (the caller keeps theirs); the replaced dataset is released once its
 * last session ends. 0, or -1 with a reason (then nothing changed). */
int ors_env_swap_dataset(ors_env *env, ds_dataset *ds, char *err, size_t errsz);

/* True when name is this environment's name (case-insensitive). */
bool ors_env_matches(const ors_env *env, const char *name);
const char *ors_env_name(const ors_env *env);
/* Deletes sessions idle longer than the TTL and expired results; returns the
 * number of sessions reaped. */
size_t ors_reap(ors_env *env);
size_t ors_session_count(ors_env *env);

/* Route handlers. req->param is the environment name for /{env}/... routes. */
void ors_health(ors_env *env, const wire_request *req, wire_reply *out);
void ors_list_environments(ors_env *env, const wire_request *req, wire_reply *out);
void ors_tools(ors_env *env, const wire_request *req, wire_reply *out);
void ors_splits(ors_env *env, const wire_request *req, wire_reply *out);
void ors_tasks(ors_env *env, const wire_request *req, wire_reply *out);
void ors_num_tasks(ors_env *env, const wire_request *req, wire_reply *out);
void ors_task(ors_env *env, const wire_request *req, wire_reply *out);
void ors_task_range(ors_env *env, const wire_request *req, wire_reply *out);
void ors_create_session(ors_env *env, const wire_request *req, wire_reply *out);
void ors_create(ors_env *env, const wire_request *req, wire_reply *out);
void ors_ping(ors_env *env, const wire_request *req, wire_reply *out);
void ors_task_tools(ors_env *env, const wire_request *req, wire_reply *out);
void ors_prompt(ors_env *env, const wire_request *req, wire_reply *out);
void ors_call(ors_env *env, const wire_request *req, wire_reply *out);
void ors_delete(ors_env *env, const wire_request *req, wire_reply *out);
void ors_delete_session(ors_env *env, const wire_request *req, wire_reply *out);

#endif
