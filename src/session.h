/* session — the ORS session table: sid -> small per-session state (an
 * opaque payload owned by the session, the single-submission flag and a store
 * of call results for reconnects), with tombstones for deleted sids.
 *
 * Thread-safe: the table is sharded, each shard a mutex-protected hash table.
 * Sessions are reference-counted so a handler can keep using one while another
 * thread deletes it; the payload is freed with the last reference.
 * Time is always passed in by the caller (seconds on any monotonic clock).
 */
#ifndef FCPIVOT_SESSION_H
#define FCPIVOT_SESSION_H

#include <stdbool.h>
#include <stddef.h>

typedef struct sess_table sess_table;
typedef struct sess sess;

typedef enum { SESS_ACTIVE, SESS_DELETED, SESS_UNKNOWN } sess_state;

/* free_data frees a session's payload (may be NULL). Deleted and reaped sids
 * are remembered for tomb_ttl seconds, at most max_tombstones of them at a
 * time. Caller frees with sess_table_free. NULL on allocation failure. */
sess_table *sess_table_new(void (*free_data)(void *), double tomb_ttl, size_t max_tombstones);
/* Frees every session (held references must have been released). */
void sess_table_free(sess_table *t);
/* Caps the live sessions at max_sessions (no cap until called); call before
 * the table is shared between threads. */
void sess_table_set_limit(sess_table *t, size_t max_sessions);

/* What sess_create did. Only SESS_CREATED takes data; on any other outcome
 * the caller still owns it. */
enum {
    SESS_CREATED = 0,      /* sid is now an active session owning data */
    SESS_EXISTS = 1,       /* sid was already active */
    SESS_FULL = 2,         /* the cap (sess_table_set_limit) is reached */
    SESS_NOMEM = -1        /* allocation failure */
};
/* Creates an active session owning data; a tombstone of sid is replaced.
 * Returns one of the SESS_ outcomes above. The cap is enforced atomically:
 * however many threads race, no more than the cap are ever active, and an
 * active sid answers SESS_EXISTS even at the cap. */
int sess_create(sess_table *t, const char *sid, void *data, double now);

/* The active session sid, with last-seen refreshed to now: a new reference the
 * caller gives back with sess_release. NULL when not active; *state then says
 * whether it was deleted (tombstone) or is unknown. */
sess *sess_get(sess_table *t, const char *sid, double now, sess_state *state);
void sess_release(sess_table *t, sess *s);

/* The session's payload (borrowed; valid while the reference is held). */
void *sess_data(const sess *s);
/* True once the single submission has been claimed. */
bool sess_submitted(const sess *s);
/* Claims the single submission: true for exactly one caller. */
bool sess_claim_submission(sess *s);

/* Keeps a copy of a call result under call_id until expires. Returns 0, -1 on
 * allocation failure. Old results beyond a small per-session cap are dropped. */
int sess_result_put(sess *s, const char *call_id, const char *text, size_t len, double expires);
/* A copy of the stored result of call_id if it has not expired (caller
 * frees), with its length in *len; NULL if none. */
char *sess_result_get(sess *s, const char *call_id, double now, size_t *len);

/* Keeps the result of the graded submission for the session's life, under
 * key (the caller's fingerprint of what was submitted), replacing an earlier
 * one: a client that lost the reply before learning its task_id repeats the
 * call, and gets it back (docs/http-api.md §5.5). 0, -1 on allocation failure. */
int sess_graded_put(sess *s, const char *key, const char *text, size_t len);
/* A copy of the graded result when key is the one it was kept under (caller
 * frees), with its length in *len; NULL otherwise. */
char *sess_graded_get(sess *s, const char *key, size_t *len);

/* Deletes sid (leaving a tombstone). Returns true if it was active. */
bool sess_delete(sess_table *t, const char *sid, double now);
/* Deletes sessions last seen more than idle_ttl ago (leaving tombstones),
 * drops expired tombstones and call results. Returns the sessions reaped. */
size_t sess_reap(sess_table *t, double now, double idle_ttl);
size_t sess_count(const sess_table *t);
size_t sess_tombstone_count(const sess_table *t);

/* Writes a random (getrandom) UUID version 4, lower-case, 36 characters plus
 * NUL. Returns 0, or -1 when no randomness is available. */
int sess_uuid4(char out[37]);

#endif
