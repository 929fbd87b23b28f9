/* session — sharded, mutex-protected session table (see session.h).
 *
 * The sid hash picks one of NSHARDS shards; each shard is a chained hash table
 * that doubles when it holds twice as many entries as buckets. An entry is
 * either a live session (e->s != NULL) or a tombstone (e->s == NULL) that
 * expires at e->tomb_expires. The table holds one reference to every live
 * session; sess_get hands out more. Last-seen times are guarded by the shard
 * lock, call results by the session's own lock (lock order: shard, session).
 * The live-session count is one atomic counter across the shards: a create
 * reserves its slot with a compare-and-swap that fails at the cap, after the
 * shard lock has ruled out an active sid, so the cap can never be overshot
 * (a check of the count followed by a later insertion could be, by racing
 * creates), and gives the slot back if the insertion then fails.
 */
#include "session.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "util.h"

#define NSHARDS 64
#define INITIAL_BUCKETS 64
#define MAX_RESULTS_PER_SESSION 16

typedef struct stored_result {
    struct stored_result *next;
    double expires;
    size_t len;
    char *id;
    char text[];
} stored_result;

struct sess {
    atomic_int refs;
    atomic_bool submitted;
    void *data;
    double last_seen;            /* guarded by the shard lock */
    pthread_mutex_t lock;        /* guards results */
    stored_result *results;      /* newest first */
    size_t nresults;
    stored_result *graded;       /* the graded submission's result (id: its key) */
};

typedef struct entry {
    struct entry *next;
    uint64_t hash;
    sess *s;                     /* NULL: tombstone */
    double tomb_expires;
    char sid[];
} entry;

typedef struct shard {
    pthread_mutex_t lock;
    entry **buckets;
    size_t nbuckets, nentries;
} shard;

struct sess_table {
    void (*free_data)(void *);
    double tomb_ttl;
    size_t max_tombstones;
    size_t max_sessions;         /* SIZE_MAX: no cap */
    atomic_size_t nsessions, ntombstones;
    shard shards[NSHARDS];
};

static uint64_t sid_hash(const char *sid)
{
    return util_hash(sid, strlen(sid));
}

static shard *shard_of(sess_table *t, uint64_t h)
{
    return &t->shards[(h >> 32) % NSHARDS];
}

sess_table *sess_table_new(void (*free_data)(void *), double tomb_ttl, size_t max_tombstones)
{
    sess_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->free_data = free_data;
    t->tomb_ttl = tomb_ttl;
    t->max_tombstones = max_tombstones;
    t->max_sessions = SIZE_MAX;
    for (size_t i = 0; i < NSHARDS; i++) {
        shard *sh = &t->shards[i];
        pthread_mutex_init(&sh->lock, NULL);
        sh->nbuckets = INITIAL_BUCKETS;
        sh->buckets = calloc(sh->nbuckets, sizeof *sh->buckets);
        if (!sh->buckets) {
            sess_table_free(t);
            return NULL;
        }
    }
    return t;
}

static void results_free(stored_result *r)
{
    while (r) {
        stored_result *next = r->next;
        free(r);
        r = next;
    }
}

void sess_release(sess_table *t, sess *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    if (t->free_data)
        t->free_data(s->data);
    results_free(s->results);
    free(s->graded);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

void sess_table_free(sess_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < NSHARDS; i++) {
        shard *sh = &t->shards[i];
        for (size_t b = 0; sh->buckets && b < sh->nbuckets; b++) {
            for (entry *e = sh->buckets[b], *next; e; e = next) {
                next = e->next;
                sess_release(t, e->s);
                free(e);
            }
        }
        free(sh->buckets);
        pthread_mutex_destroy(&sh->lock);
    }
    free(t);
}

void sess_table_set_limit(sess_table *t, size_t max_sessions)
{
    t->max_sessions = max_sessions;
}

/* Takes one of the max_sessions slots: false when all are taken. */
static bool reserve_slot(sess_table *t)
{
    size_t n = atomic_load(&t->nsessions);
    do {
        if (n >= t->max_sessions)
            return false;
    } while (!atomic_compare_exchange_weak(&t->nsessions, &n, n + 1));
    return true;
}

/* The link pointing at sid's entry in its shard (or at the NULL ending the
 * chain). Called with the shard lock held. */
static entry **find_link(shard *sh, uint64_t h, const char *sid)
{
    entry **link = &sh->buckets[h % sh->nbuckets];
    while (*link && ((*link)->hash != h || strcmp((*link)->sid, sid) != 0))
        link = &(*link)->next;
    return link;
}

/* Doubles the bucket array when the shard is crowded; a failed allocation
 * just leaves longer chains. Called with the shard lock held. */
static void maybe_grow(shard *sh)
{
    if (sh->nentries <= sh->nbuckets * 2)
        return;
    size_t n = sh->nbuckets * 2;
    entry **nb = calloc(n, sizeof *nb);
    if (!nb)
        return;
    for (size_t b = 0; b < sh->nbuckets; b++) {
        for (entry *e = sh->buckets[b], *next; e; e = next) {
            next = e->next;
            e->next = nb[e->hash % n];
            nb[e->hash % n] = e;
        }
    }
    free(sh->buckets);
    sh->buckets = nb;
    sh->nbuckets = n;
}

static void unlink_entry(sess_table *t, shard *sh, entry **link)
{
    entry *e = *link;
    *link = e->next;
    sh->nentries--;
    if (!e->s)
        atomic_fetch_sub(&t->ntombstones, 1);
    free(e);
}

/* Turns a live entry into a tombstone, or removes it when the tombstone
 * budget is spent. Drops the table's reference. Shard lock held. */
static void bury(sess_table *t, shard *sh, entry **link, double now)
{
    entry *e = *link;
    sess *s = e->s;
    e->s = NULL;
    atomic_fetch_sub(&t->nsessions, 1);
    if (atomic_fetch_add(&t->ntombstones, 1) < t->max_tombstones) {
        e->tomb_expires = now + t->tomb_ttl;
    } else {
        unlink_entry(t, sh, link);
    }
    sess_release(t, s);
}

int sess_create(sess_table *t, const char *sid, void *data, double now)
{
    uint64_t h = sid_hash(sid);
    shard *sh = shard_of(t, h);
    sess *s = calloc(1, sizeof *s);
    if (!s)
        return SESS_NOMEM;
    atomic_init(&s->refs, 1);
    atomic_init(&s->submitted, false);
    pthread_mutex_init(&s->lock, NULL);
    s->data = data;
    s->last_seen = now;

    pthread_mutex_lock(&sh->lock);
    entry **link = find_link(sh, h, sid);
    int rc = SESS_CREATED;
    if (*link && (*link)->s) {
        rc = SESS_EXISTS;
    } else if (!reserve_slot(t)) {
        rc = SESS_FULL;
    } else if (*link) {                        /* revive a tombstone */
        (*link)->s = s;
        atomic_fetch_sub(&t->ntombstones, 1);
    } else {
        size_t len = strlen(sid);
        entry *e = malloc(sizeof *e + len + 1);
        if (!e) {
            atomic_fetch_sub(&t->nsessions, 1);   /* the slot back */
            rc = SESS_NOMEM;
        } else {
            memcpy(e->sid, sid, len + 1);
            e->hash = h;
            e->s = s;
            e->next = NULL;
            *link = e;
            sh->nentries++;
            maybe_grow(sh);
        }
    }
    pthread_mutex_unlock(&sh->lock);
    if (rc != SESS_CREATED) {
        pthread_mutex_destroy(&s->lock);
        free(s);
    }
    return rc;
}

sess *sess_get(sess_table *t, const char *sid, double now, sess_state *state)
{
    uint64_t h = sid_hash(sid);
    shard *sh = shard_of(t, h);
    pthread_mutex_lock(&sh->lock);
    entry *e = *find_link(sh, h, sid);
    sess *s = NULL;
    sess_state st = SESS_UNKNOWN;
    if (e && e->s) {
        s = e->s;
        s->last_seen = now;
        atomic_fetch_add(&s->refs, 1);
        st = SESS_ACTIVE;
    } else if (e && e->tomb_expires > now) {
        st = SESS_DELETED;
    }
    pthread_mutex_unlock(&sh->lock);
    if (state)
        *state = st;
    return s;
}

void *sess_data(const sess *s)
{
    return s->data;
}

bool sess_submitted(const sess *s)
{
    return atomic_load(&s->submitted);
}

bool sess_claim_submission(sess *s)
{
    return !atomic_exchange(&s->submitted, true);
}

/* Drops results that expired by now, and the oldest beyond keep. Session
 * lock held. */
static void prune_results(sess *s, double now, size_t keep)
{
    stored_result **link = &s->results;
    size_t kept = 0;
    while (*link) {
        stored_result *r = *link;
        if (r->expires <= now || kept >= keep) {
            *link = r->next;
            free(r);
            s->nresults--;
        } else {
            kept++;
            link = &r->next;
        }
    }
}

/* A new stored result: text (len bytes) under id, unlinked. NULL when out
 * of memory. */
static stored_result *stored_new(const char *id, const char *text, size_t len, double expires)
{
    size_t idlen = strlen(id);
    stored_result *r = malloc(sizeof *r + len + 1 + idlen + 1);
    if (!r)
        return NULL;
    memcpy(r->text, text, len);
    r->text[len] = '\0';
    r->id = r->text + len + 1;
    memcpy(r->id, id, idlen + 1);
    r->len = len;
    r->expires = expires;
    r->next = NULL;
    return r;
}

int sess_result_put(sess *s, const char *call_id, const char *text, size_t len, double expires)
{
    stored_result *r = stored_new(call_id, text, len, expires);
    if (!r)
        return -1;
    pthread_mutex_lock(&s->lock);
    r->next = s->results;
    s->results = r;
    s->nresults++;
    if (s->nresults > MAX_RESULTS_PER_SESSION)
        prune_results(s, -1e300, MAX_RESULTS_PER_SESSION);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

char *sess_result_get(sess *s, const char *call_id, double now, size_t *len)
{
    char *copy = NULL;
    pthread_mutex_lock(&s->lock);
    for (stored_result *r = s->results; r; r = r->next) {
        if (strcmp(r->id, call_id) != 0 || r->expires <= now)
            continue;
        copy = malloc(r->len + 1);
        if (copy) {
            memcpy(copy, r->text, r->len + 1);
            *len = r->len;
        }
        break;
    }
    pthread_mutex_unlock(&s->lock);
    return copy;
}

int sess_graded_put(sess *s, const char *key, const char *text, size_t len)
{
    stored_result *r = stored_new(key, text, len, 0);
    if (!r)
        return -1;
    pthread_mutex_lock(&s->lock);
    stored_result *old = s->graded;
    s->graded = r;
    pthread_mutex_unlock(&s->lock);
    free(old);
    return 0;
}

char *sess_graded_get(sess *s, const char *key, size_t *len)
{
    char *copy = NULL;
    pthread_mutex_lock(&s->lock);
    stored_result *r = s->graded;
    if (r && strcmp(r->id, key) == 0 && (copy = malloc(r->len + 1))) {
        memcpy(copy, r->text, r->len + 1);
        *len = r->len;
    }
    pthread_mutex_unlock(&s->lock);
    return copy;
}

bool sess_delete(sess_table *t, const char *sid, double now)
{
    uint64_t h = sid_hash(sid);
    shard *sh = shard_of(t, h);
    pthread_mutex_lock(&sh->lock);
    entry **link = find_link(sh, h, sid);
    bool was_active = *link && (*link)->s;
    if (was_active)
        bury(t, sh, link, now);
    pthread_mutex_unlock(&sh->lock);
    return was_active;
}

/* Reaps one chain; returns the sessions reaped. Shard lock held. */
static size_t reap_chain(sess_table *t, shard *sh, entry **link, double now, double idle_ttl)
{
    size_t reaped = 0;
    while (*link) {
        entry *e = *link;
        if (!e->s && e->tomb_expires <= now) {
            unlink_entry(t, sh, link);
            continue;
        }
        if (e->s && now - e->s->last_seen > idle_ttl) {
            reaped++;
            bury(t, sh, link, now);
            if (*link != e)          /* removed outright: link already advanced */
                continue;
        } else if (e->s) {
            pthread_mutex_lock(&e->s->lock);
            prune_results(e->s, now, MAX_RESULTS_PER_SESSION);
            pthread_mutex_unlock(&e->s->lock);
        }
        link = &e->next;
    }
    return reaped;
}

size_t sess_reap(sess_table *t, double now, double idle_ttl)
{
    size_t reaped = 0;
    for (size_t i = 0; i < NSHARDS; i++) {
        shard *sh = &t->shards[i];
        pthread_mutex_lock(&sh->lock);
        for (size_t b = 0; b < sh->nbuckets; b++)
            reaped += reap_chain(t, sh, &sh->buckets[b], now, idle_ttl);
        pthread_mutex_unlock(&sh->lock);
    }
    return reaped;
}

size_t sess_count(const sess_table *t)
{
    return atomic_load(&t->nsessions);
}

size_t sess_tombstone_count(const sess_table *t)
{
    return atomic_load(&t->ntombstones);
}

int sess_uuid4(char out[37])
{
    unsigned char b[16];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t n = getrandom(b + got, sizeof b - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);   /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);   /* RFC 4122 variant */
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
    return 0;
}
