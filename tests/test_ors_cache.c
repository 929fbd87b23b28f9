/* Tests of the rendered-reply cache and of its use by the ORS handlers. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "test_ors_fixture.h"
#include "cache.h"

Test(cache, put_get_and_keys)
{
    cache *c = cache_new(1 << 20);
    size_t len = 0;
    cr_assert_null(cache_get(c, 1, 0, 0, &len));
    cache_put(c, 1, 0, 0, "abc", 3);
    cache_put(c, 1, 0, 0, "zzz", 3);   /* first one stays */
    cache_put(c, 2, 0, 0, "tools", 5);
    cache_put(c, 1, 1, 0, "other split", 11);
    char *v = cache_get(c, 1, 0, 0, &len);
    cr_assert_str_eq(v, "abc");
    cr_assert_eq(len, 3);
    free(v);
    v = cache_get(c, 2, 0, 0, &len);
    cr_assert_str_eq(v, "tools");
    free(v);
    v = cache_get(c, 1, 1, 0, &len);
    cr_assert_str_eq(v, "other split");
    free(v);
    cr_assert_null(cache_get(c, 1, 0, 1, &len));
    cr_assert_eq(cache_bytes(c), 19);
    cache_free(c);
}

Test(cache, budget_is_kept_oldest_first)
{
    cache *c = cache_new(16 * 1000);
    char buf[1000];
    memset(buf, 'x', sizeof buf);
    for (size_t i = 0; i < 200; i++)
        cache_put(c, 1, 0, i, buf, sizeof buf);
    cr_assert_leq(cache_bytes(c), 16 * 1000);
    size_t len, hits = 0;
    for (size_t i = 0; i < 200; i++) {
        char *v = cache_get(c, 1, 0, i, &len);
        hits += v != NULL;
        free(v);
    }
    cr_assert(hits > 0 && hits <= 16, "%zu entries kept", hits);
    char *v = cache_get(c, 1, 0, 0, &len);
    cr_assert_null(v, "the oldest entry went first");
    cache_put(c, 1, 0, 999, buf, sizeof buf);
    cache_free(c);
}

Test(cache, oversized_and_disabled)
{
    cache *c = cache_new(100);
    char buf[26] = {0};
    cache_put(c, 1, 0, 0, buf, sizeof buf);   /* more than a quarter of the budget */
    size_t len;
    cr_assert_null(cache_get(c, 1, 0, 0, &len));
    cache_free(c);
    c = cache_new(0);
    cache_put(c, 1, 0, 0, "a", 1);
    cr_assert_null(cache_get(c, 1, 0, 0, &len));
    cache_free(c);
}

static cache *shared;

static void *hammer(void *p)
{
    size_t id = (size_t)p;
    char buf[64];
    for (size_t i = 0; i < 20000; i++) {
        size_t key = (i * 7 + id) % 500, len;
        snprintf(buf, sizeof buf, "value-%zu", key);
        char *v = cache_get(shared, 1, 0, key, &len);
        if (v) {
            if (strcmp(v, buf) != 0)
                return (void *)1;
            free(v);
        } else {
            cache_put(shared, 1, 0, key, buf, strlen(buf) + 1);
        }
    }
    return NULL;
}

Test(cache, concurrent_readers_and_writers_see_consistent_values)
{
    shared = cache_new(4000);
    pthread_t th[4];
    for (size_t i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, hammer, (void *)i);
    for (int i = 0; i < 4; i++) {
        void *rc;
        pthread_join(th[i], &rc);
        cr_assert_null(rc);
    }
    cr_assert_leq(cache_bytes(shared), 4000 + 64 * 16);
    cache_free(shared);
}

/* The prompt, task tools and task list replies, concatenated. */
static char *renderings(fx *f, const char *sid)
{
    const char *parts[3];
    wire_reply r[3];
    r[0] = fx_call(f, ors_prompt, FX_ENV, sid, NULL);
    r[1] = fx_call(f, ors_task_tools, FX_ENV, sid, NULL);
    r[2] = fx_call(f, ors_tasks, FX_ENV, NULL, "{\"split\":\"train\"}");
    size_t total = 0;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(r[i].status, 200);
        parts[i] = r[i].body;
        total += r[i].body_len + 1;
    }
    char *all = calloc(1, total + 1);
    for (int i = 0; i < 3; i++) {
        strncat(all, parts[i], r[i].body_len);
        strcat(all, "\n");
        wire_reply_free(&r[i]);
    }
    return all;
}

Test(ors_cache, cached_replies_equal_fresh_ones)
{
    ors_config cfg;
    ors_config_default(&cfg);
    cr_assert_eq(cfg.cache_bytes, (size_t)64 << 20);
    fx on, off;
    fx_open(&on, &cfg);
    cfg.cache_bytes = 0;
    fx_open(&off, &cfg);
    for (int row = 0; row < 5; row++) {
        char sid[32];
        snprintf(sid, sizeof sid, "s%d", row);
        fx_create(&on, sid, row);
        fx_create(&off, sid, row);
        char *fresh = renderings(&off, sid);
        char *first = renderings(&on, sid), *second = renderings(&on, sid);
        cr_assert_str_eq(first, fresh);
        cr_assert_str_eq(second, fresh);
        free(fresh);
        free(first);
        free(second);
    }
    fx_close(&on);
    fx_close(&off);
}

Test(ors_cache, no_cache_and_no_pinned_rows_still_serve_episodes)
{
    ors_config cfg;
    ors_config_default(&cfg);
    cr_assert_eq(cfg.pinned_tasks, 256);
    cfg.cache_bytes = 0;
    cfg.pinned_tasks = 0;
    fx f;
    fx_open(&f, &cfg);
    fx_create(&f, "s", 0);
    char *all = renderings(&f, "s");
    cr_assert(strstr(all, "Weather in Paris?"));
    cr_assert(strstr(all, "get_weather"));
    free(all);
    json_t *res = fx_tool_call(&f, "s", "{\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}}", NULL);
    cr_assert_eq(json_real_value(json_object_get(json_object_get(res, "output"), "reward")), 1.0);
    json_decref(res);
    fx_close(&f);
}
