/* Tests of the session table under the ORS layer: tombstones, reaping,
 * results, UUIDs, growth, concurrency, the session cap under racing creates
 * and memory per idle session. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "test_ors_fixture.h"
#include "session.h"

static fx F;
static void setup(void) { fx_now = 1000.0; fx_open(&F, NULL); }
static void teardown(void) { fx_close(&F); }

/* Payloads are heap strings; frees are counted to check ownership. */
static int freed;
static void free_payload(void *p)
{
    freed++;
    free(p);
}

static void *payload(size_t index)
{
    char buf[32];
    snprintf(buf, sizeof buf, "train-%zu", index);
    return strdup(buf);
}

Test(session, create_get_delete_tombstone, .init = setup, .fini = teardown)
{
    sess_table *t = sess_table_new(free_payload, 100, 10);
    freed = 0;
    cr_assert_eq(sess_create(t, "a", payload(0), 1), 0);
    void *dup = payload(1);
    cr_assert_eq(sess_create(t, "a", dup, 1), 1);
    free(dup);
    sess_state st;
    sess *s = sess_get(t, "a", 2, &st);
    cr_assert(s);
    cr_assert_eq(st, SESS_ACTIVE);
    cr_assert_str_eq(sess_data(s), "train-0");
    cr_assert(sess_delete(t, "a", 3));
    cr_assert_not(sess_delete(t, "a", 3));
    /* the held reference stays usable after the delete */
    cr_assert_str_eq(sess_data(s), "train-0");
    cr_assert_eq(freed, 0);
    sess_release(t, s);
    cr_assert_eq(freed, 1, "payload freed with the last reference");
    cr_assert_null(sess_get(t, "a", 4, &st));
    cr_assert_eq(st, SESS_DELETED);
    cr_assert_null(sess_get(t, "b", 4, &st));
    cr_assert_eq(st, SESS_UNKNOWN);
    cr_assert_null(sess_get(t, "a", 200, &st));
    cr_assert_eq(st, SESS_UNKNOWN, "tombstone expired");
    cr_assert_eq(sess_tombstone_count(t), 1);
    sess_reap(t, 200, 1000);
    cr_assert_eq(sess_tombstone_count(t), 0);
    sess_table_free(t);
}

Test(session, tombstones_are_capped, .init = setup, .fini = teardown)
{
    sess_table *t = sess_table_new(free_payload, 100, 3);
    char sid[16];
    for (int i = 0; i < 6; i++) {
        snprintf(sid, sizeof sid, "s%d", i);
        cr_assert_eq(sess_create(t, sid, payload(0), 1), 0);
        sess_delete(t, sid, 2);
    }
    cr_assert_eq(sess_tombstone_count(t), 3);
    cr_assert_eq(sess_count(t), 0);
    sess_state st;
    int deleted = 0;
    for (int i = 0; i < 6; i++) {
        snprintf(sid, sizeof sid, "s%d", i);
        cr_assert_null(sess_get(t, sid, 3, &st));
        deleted += st == SESS_DELETED;
    }
    cr_assert_eq(deleted, 3);
    sess_table_free(t);
}

Test(session, single_submission_claim, .init = setup, .fini = teardown)
{
    sess_table *t = sess_table_new(free_payload, 100, 10);
    sess_create(t, "a", payload(0), 1);
    sess *s = sess_get(t, "a", 1, NULL);
    cr_assert_not(sess_submitted(s));
    cr_assert(sess_claim_submission(s));
    cr_assert(sess_submitted(s));
    cr_assert_not(sess_claim_submission(s));
    sess_release(t, s);
    sess_table_free(t);
}

Test(session, results_expire_and_are_capped, .init = setup, .fini = teardown)
{
    sess_table *t = sess_table_new(free_payload, 100, 10);
    sess_create(t, "a", payload(0), 1);
    sess *s = sess_get(t, "a", 1, NULL);
    cr_assert_eq(sess_result_put(s, "id-1", "{\"x\":1}", 7, 61), 0);
    size_t len = 0;
    char *r = sess_result_get(s, "id-1", 60, &len);
    cr_assert_str_eq(r, "{\"x\":1}");
    cr_assert_eq(len, 7);
    free(r);
    cr_assert_null(sess_result_get(s, "id-1", 61, &len));
    cr_assert_null(sess_result_get(s, "id-2", 1, &len));
    char id[16];
    for (int i = 0; i < 40; i++) {
        snprintf(id, sizeof id, "n%d", i);
        sess_result_put(s, id, "r", 1, 1000);
    }
    cr_assert_null(sess_result_get(s, "n0", 2, &len), "oldest results are dropped");
    r = sess_result_get(s, "n39", 2, &len);
    cr_assert(r);
    free(r);
    sess_release(t, s);
    sess_table_free(t);
}

Test(session, uuid4_is_random_and_well_formed)
{
    char a[37], b[37];
    cr_assert_eq(sess_uuid4(a), 0);
    cr_assert_eq(sess_uuid4(b), 0);
    cr_assert_str_neq(a, b);
    cr_assert_eq(strlen(a), 36);
    cr_assert_eq(a[14], '4');
    cr_assert(strchr("89ab", a[19]));
}

Test(session, table_grows_and_reaps_many, .init = setup, .fini = teardown)
{
    sess_table *t = sess_table_new(free_payload, 100, 100000);
    char sid[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(sid, sizeof sid, "sid-%d", i);
        cr_assert_eq(sess_create(t, sid, payload((size_t)i % 5), i < 10000 ? 1 : 50), 0);
    }
    cr_assert_eq(sess_count(t), 20000);
    for (int i = 0; i < 20000; i += 997) {
        snprintf(sid, sizeof sid, "sid-%d", i);
        sess *s = sess_get(t, sid, 60, NULL);
        cr_assert(s);
        sess_release(t, s);
    }
    /* at 100 with ttl 60: the first 10,000 are idle except the ones touched */
    size_t touched_old = 0;
    for (int i = 0; i < 10000; i += 997)
        touched_old++;
    cr_assert_eq(sess_reap(t, 100, 60), 10000 - touched_old);
    cr_assert_eq(sess_count(t), 10000 + touched_old);
    sess_table_free(t);
}

typedef struct { int id; } worker_arg;

/* Full episodes on distinct sids, plus contention on one shared sid. */
static void *episode_worker(void *p)
{
    worker_arg *a = p;
    for (int i = 0; i < 300; i++) {
        char sid[64], body[128];
        snprintf(sid, sizeof sid, "w%d-%d", a->id, i);
        snprintf(body, sizeof body, "{\"split\":\"train\",\"index\":%d}", i % 5);
        wire_request req = {.method = "POST", .path = "/create", .session_id = sid,
                            .body = body, .body_len = strlen(body)};
        wire_reply r = {0};
        ors_create(F.env, &req, &r);
        if (r.status != 200)
            return (void *)1;
        wire_reply_free(&r);
        const char *call = "{\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}}";
        req = (wire_request){.method = "POST", .path = "/x/call", .session_id = sid, .body = call,
                             .body_len = strlen(call), .param = FX_ENV};
        ors_call(F.env, &req, &r);
        if (r.status != 200)
            return (void *)2;
        wire_reply_free(&r);
        req = (wire_request){.method = "POST", .path = "/delete", .session_id = sid};
        ors_delete(F.env, &req, &r);
        wire_reply_free(&r);
        /* everyone hammers the same session too */
        req = (wire_request){.method = "POST", .path = "/create", .session_id = "shared",
                             .body = body, .body_len = strlen(body)};
        ors_create(F.env, &req, &r);
        wire_reply_free(&r);
        req = (wire_request){.method = "POST", .path = "/x/call", .session_id = "shared",
                             .body = call, .body_len = strlen(call), .param = FX_ENV};
        ors_call(F.env, &req, &r);
        wire_reply_free(&r);
        req = (wire_request){.method = "POST", .path = "/delete", .session_id = "shared"};
        ors_delete(F.env, &req, &r);
        wire_reply_free(&r);
        if (i % 50 == 0)
            ors_reap(F.env);
    }
    return NULL;
}

Test(session, concurrent_episodes, .init = setup, .fini = teardown)
{
    pthread_t th[4];
    worker_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i].id = i;
        pthread_create(&th[i], NULL, episode_worker, &args[i]);
    }
    for (int i = 0; i < 4; i++) {
        void *rc;
        pthread_join(th[i], &rc);
        cr_assert_null(rc, "worker %d failed at step %p", i, rc);
    }
    cr_assert_eq(ors_session_count(F.env), 0);
    char *m = metrics_render(F.m, NULL);
    /* rows 0 and 2 list get_weather: 2 of every 5 private episodes are graded
     * (480), plus at most as many on the shared sid */
    const char *p = strstr(m, "\nfcpivot_submissions_total ");
    cr_assert(p);
    long subs = strtol(p + strlen("\nfcpivot_submissions_total "), NULL, 10);
    cr_assert(subs >= 480 && subs <= 960, "%ld submissions", subs);
    free(m);
}

Test(session, cap_refuses_atomically_and_frees_on_delete)
{
    sess_table *t = sess_table_new(free_payload, 100, 10);
    sess_table_set_limit(t, 2);
    freed = 0;
    cr_assert_eq(sess_create(t, "a", payload(0), 1), SESS_CREATED);
    cr_assert_eq(sess_create(t, "b", payload(0), 1), SESS_CREATED);
    void *extra = payload(1);
    cr_assert_eq(sess_create(t, "c", extra, 1), SESS_FULL);
    cr_assert_eq(sess_create(t, "a", extra, 1), SESS_EXISTS, "an active sid wins over the cap");
    cr_assert_eq(freed, 0, "a refused payload stays the caller's");
    cr_assert_eq(sess_count(t), 2);
    cr_assert(sess_delete(t, "a", 2));
    cr_assert_eq(sess_create(t, "c", extra, 2), SESS_CREATED, "a deleted session frees its slot");
    void *late = payload(2);
    cr_assert_eq(sess_create(t, "a", late, 2), SESS_FULL, "a tombstone is not a slot");
    free(late);
    freed = 0;
    sess_table_free(t);
    cr_assert_eq(freed, 2);
}

/* ---- /create racing at the session cap ----------------------------------- */

#define RACE_THREADS 16
#define RACE_ROUNDS 100
#define RACE_CAP 3

typedef struct race_arg {
    ors_env *env;
    pthread_barrier_t *start;
    char sid[32];
    int status;
    unsigned retry_after;
} race_arg;

static void *race_create(void *p)
{
    race_arg *a = p;
    const char *body = "{\"split\":\"train\",\"index\":0}";
    wire_request req = {.method = "POST", .path = "/create", .session_id = a->sid,
                        .body = body, .body_len = strlen(body)};
    wire_reply r = {0};
    pthread_barrier_wait(a->start);
    ors_create(a->env, &req, &r);
    a->status = r.status;
    a->retry_after = r.retry_after;
    wire_reply_free(&r);
    return NULL;
}

/* One round: RACE_THREADS creates of distinct sids released together on a
 * table with RACE_CAP free slots; returns the successes, asserting
 * that every other one is a 503 with Retry-After, and deletes the winners. */
static int race_round(fx *f, int round)
{
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, RACE_THREADS);
    pthread_t th[RACE_THREADS];
    race_arg args[RACE_THREADS];
    for (int i = 0; i < RACE_THREADS; i++) {
        args[i] = (race_arg){.env = f->env, .start = &start};
        snprintf(args[i].sid, sizeof args[i].sid, "race-%d-%d", round, i);
        cr_assert_eq(pthread_create(&th[i], NULL, race_create, &args[i]), 0);
    }
    for (int i = 0; i < RACE_THREADS; i++)
        pthread_join(th[i], NULL);
    int won = 0;                      /* deleted once all are done, not before */
    for (int i = 0; i < RACE_THREADS; i++) {
        if (args[i].status == 200) {
            won++;
            wire_reply r = fx_call(f, ors_delete, NULL, args[i].sid, "{}");
            wire_reply_free(&r);
        } else {
            cr_assert_eq(args[i].status, 503, "round %d: %d", round, args[i].status);
            cr_assert_eq(args[i].retry_after, WIRE_RETRY_AFTER);
        }
    }
    pthread_barrier_destroy(&start);
    return won;
}

Test(session, racing_creates_never_exceed_max_sessions)
{
    ors_config cfg;
    ors_config_default(&cfg);
    cfg.max_sessions = RACE_CAP;
    fx f;
    fx_open(&f, &cfg);
    int most = 0;
    for (int round = 0; round < RACE_ROUNDS; round++) {
        int won = race_round(&f, round);
        cr_assert(won <= RACE_CAP, "round %d: %d sessions created with --max-sessions %d", round,
                  won, RACE_CAP);
        most = won > most ? won : most;
        cr_assert_eq(ors_session_count(f.env), 0);
    }
    cr_assert_eq(most, RACE_CAP, "the cap is reachable");
    fx_close(&f);
}
