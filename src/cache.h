/* cache — a bounded, thread-safe store of rendered reply bodies keyed by
 * (kind, split, index). The dataset is immutable, so a body rendered from a
 * row never goes stale; the cache only trades memory for rendering time
 * (/prompt, /task_tools). Entries are evicted oldest-first once the
 * total size passes the budget. */
#ifndef FCPIVOT_CACHE_H
#define FCPIVOT_CACHE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct cache cache;

/* max_bytes: the budget (0 = cache nothing). Caller frees with cache_free.
 * NULL on allocation failure. */
cache *cache_new(size_t max_bytes);
void cache_free(cache *c);

/* A copy of the body stored under the key (caller frees) and its length in
 * *len, or NULL on a miss. */
char *cache_get(cache *c, int kind, size_t split, size_t index, size_t *len);
/* True when the key holds a body. */
bool cache_contains(cache *c, int kind, size_t split, size_t index);
/* Stores a copy of data under the key unless it is already there or larger
 * than a quarter of the budget. Allocation failures are ignored (a miss
 * later). */
void cache_put(cache *c, int kind, size_t split, size_t index, const char *data, size_t len);
/* Bytes currently held. */
size_t cache_bytes(const cache *c);

#endif
