/* cache — sharded FIFO cache of reply bodies (see cache.h).
 *
 * The key hash picks a shard; each shard has a mutex, a fixed bucket array of
 * chains, and a FIFO list in insertion order. The byte budget is global (an
 * atomic total): an insertion that pushes the total over the budget evicts
 * the oldest entries of its own shard until the total fits again or the
 * shard is empty, which keeps every shard operation local to one lock.
 */
#include "cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NSHARDS 16
#define NBUCKETS 1024

typedef struct entry {
    struct entry *chain;     /* bucket chain */
    struct entry *newer;     /* FIFO: next younger entry */
    int kind;
    size_t split, index, len;
    char data[];
} entry;

typedef struct shard {
    pthread_mutex_t lock;
    entry *buckets[NBUCKETS];
    entry *oldest, *youngest;
} shard;

struct cache {
    size_t max_bytes;
    atomic_size_t bytes;
    shard shards[NSHARDS];
};

static uint64_t key_hash(int kind, size_t split, size_t index)
{
    uint64_t h = (uint64_t)(unsigned)kind * 0x9E3779B97F4A7C15ull;
    h ^= (uint64_t)split * 0xC2B2AE3D27D4EB4Full;
    h ^= (uint64_t)index * 0x165667B19E3779F9ull;
    return h ^ (h >> 29);
}

cache *cache_new(size_t max_bytes)
{
    cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->max_bytes = max_bytes;
    for (int i = 0; i < NSHARDS; i++)
        pthread_mutex_init(&c->shards[i].lock, NULL);
    return c;
}

void cache_free(cache *c)
{
    if (!c)
        return;
    for (int i = 0; i < NSHARDS; i++) {
        for (entry *e = c->shards[i].oldest, *next; e; e = next) {
            next = e->newer;
            free(e);
        }
        pthread_mutex_destroy(&c->shards[i].lock);
    }
    free(c);
}

/* The link to the key's entry in its bucket (or to the chain's NULL). */
static entry **find(shard *sh, uint64_t h, int kind, size_t split, size_t index)
{
    entry **link = &sh->buckets[(h >> 8) % NBUCKETS];
    while (*link && ((*link)->kind != kind || (*link)->split != split || (*link)->index != index))
        link = &(*link)->chain;
    return link;
}

char *cache_get(cache *c, int kind, size_t split, size_t index, size_t *len)
{
    if (!c || !c->max_bytes)
        return NULL;
    uint64_t h = key_hash(kind, split, index);
    shard *sh = &c->shards[h % NSHARDS];
    char *copy = NULL;
    pthread_mutex_lock(&sh->lock);
    entry *e = *find(sh, h, kind, split, index);
    if (e && (copy = malloc(e->len + 1))) {
        memcpy(copy, e->data, e->len);
        copy[e->len] = '\0';
        *len = e->len;
    }
    pthread_mutex_unlock(&sh->lock);
    return copy;
}

bool cache_contains(cache *c, int kind, size_t split, size_t index)
{
    if (!c || !c->max_bytes)
        return false;
    uint64_t h = key_hash(kind, split, index);
    shard *sh = &c->shards[h % NSHARDS];
    pthread_mutex_lock(&sh->lock);
    bool found = *find(sh, h, kind, split, index) != NULL;
    pthread_mutex_unlock(&sh->lock);
    return found;
}

/* Removes the shard's oldest entry. Shard lock held; the shard is not empty. */
static void evict_oldest(cache *c, shard *sh)
{
    entry *e = sh->oldest;
    sh->oldest = e->newer;
    if (!sh->oldest)
        sh->youngest = NULL;
    entry **link = find(sh, key_hash(e->kind, e->split, e->index), e->kind, e->split, e->index);
    *link = e->chain;
    atomic_fetch_sub(&c->bytes, e->len);
    free(e);
}

void cache_put(cache *c, int kind, size_t split, size_t index, const char *data, size_t len)
{
    if (!c || len > c->max_bytes / 4)
        return;
    uint64_t h = key_hash(kind, split, index);
    shard *sh = &c->shards[h % NSHARDS];
    entry *e = malloc(sizeof *e + len);
    if (!e)
        return;
    *e = (entry){.kind = kind, .split = split, .index = index, .len = len};
    memcpy(e->data, data, len);
    pthread_mutex_lock(&sh->lock);
    entry **link = find(sh, h, kind, split, index);
    if (*link) {                       /* another thread stored it first */
        pthread_mutex_unlock(&sh->lock);
        free(e);
        return;
    }
    *link = e;
    if (sh->youngest)
        sh->youngest->newer = e;
    else
        sh->oldest = e;
    sh->youngest = e;
    atomic_fetch_add(&c->bytes, len);
    while (atomic_load(&c->bytes) > c->max_bytes && sh->oldest)
        evict_oldest(c, sh);
    pthread_mutex_unlock(&sh->lock);
}

size_t cache_bytes(const cache *c)
{
    return c ? atomic_load(&c->bytes) : 0;
}
