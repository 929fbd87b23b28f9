/* gym — NeMo Gym's resources-server API (docs/http-api.md §7): /verify,
 * /seed_session, /aggregate_metrics, /reverify_mode. Stateless apart from the
 * comparator configuration; handlers are thread-safe. */
#ifndef FCPIVOT_GYM_H
#define FCPIVOT_GYM_H

#include "grade.h"
#include "metrics.h"
#include "wire.h"

typedef struct gym_env gym_env;

/* cfg is copied; m is borrowed (may be NULL). Caller frees with gym_env_free. */
gym_env *gym_env_new(const grade_config *cfg, metrics *m);
void gym_env_free(gym_env *env);

void gym_verify(gym_env *env, const wire_request *req, wire_reply *out);
void gym_seed_session(gym_env *env, const wire_request *req, wire_reply *out);
void gym_aggregate_metrics(gym_env *env, const wire_request *req, wire_reply *out);
void gym_reverify_mode(gym_env *env, const wire_request *req, wire_reply *out);

#endif
