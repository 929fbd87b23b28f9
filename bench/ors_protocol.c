/* ors_protocol — the protocol layer without HTTP: complete ORS episodes per
 * second (create -> task_tools -> prompt -> call -> delete, handler calls
 * only) on 1 and 2 threads, /verify handler calls per second, and the
 * resident memory of 10,000 idle sessions. Figures only; never asserts.
 *
 *   ors_protocol DATASET.jsonl [SECONDS_PER_FIGURE]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gym.h"
#include "ors.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

typedef struct bench {
    ors_env *env;
    size_t nrows;
    double seconds;
    atomic_long episodes;
    int id;
} bench;

static int handle(void (*h)(ors_env *, const wire_request *, wire_reply *), ors_env *env,
                  const char *sid, const char *body)
{
    wire_request req = {.method = "POST", .path = "/", .session_id = sid, .body = body,
                        .body_len = body ? strlen(body) : 0, .param = ors_env_name(env)};
    wire_reply r = {0};
    h(env, &req, &r);
    int status = r.status;
    wire_reply_free(&r);
    return status;
}

typedef struct worker { bench *b; int id; } worker;

static void *episodes(void *p)
{
    worker *w = p;
    bench *b = w->b;
    double end = now() + b->seconds;
    char sid[64], create[96];
    long n = 0;
    while (now() < end) {
        for (int k = 0; k < 64; k++, n++) {
            snprintf(sid, sizeof sid, "bench-%d-%ld", w->id, n);
            snprintf(create, sizeof create, "{\"split\":\"train\",\"index\":%zu}",
                     (size_t)n % b->nrows);
            if (handle(ors_create, b->env, sid, create) != 200)
                return (void *)1;
            handle(ors_task_tools, b->env, sid, NULL);
            handle(ors_prompt, b->env, sid, NULL);
            handle(ors_call, b->env, sid,
                   "{\"name\":\"submit_message\",\"input\":{\"content\":\"Hello there\"}}");
            handle(ors_delete, b->env, sid, "");
        }
    }
    atomic_fetch_add(&b->episodes, n);
    return NULL;
}

static void episodes_per_second(bench *b, int threads)
{
    pthread_t th[8];
    worker w[8];
    atomic_store(&b->episodes, 0);
    double t0 = now();
    for (int i = 0; i < threads; i++) {
        w[i] = (worker){b, i + threads * 100};
        pthread_create(&th[i], NULL, episodes, &w[i]);
    }
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    double dt = now() - t0;
    printf("ors episodes (handlers only, %d thread%s): %.0f episodes/s\n", threads,
           threads > 1 ? "s" : "", (double)atomic_load(&b->episodes) / dt);
}

static void idle_sessions(bench *b, int count)
{
    long before = rss_kib();
    char sid[64], create[96];
    double t0 = now();
    for (int i = 0; i < count; i++) {
        snprintf(sid, sizeof sid, "idle-%d", i);
        snprintf(create, sizeof create, "{\"split\":\"train\",\"index\":%zu}",
                 (size_t)i % b->nrows);
        if (handle(ors_create, b->env, sid, create) != 200) {
            printf("idle sessions: create failed at %d\n", i);
            return;
        }
    }
    double dt = now() - t0;
    long after = rss_kib();
    printf("%d idle sessions over %zu rows: +%.1f MiB resident (%.0f bytes/session, render "
           "cache and pinned rows included), created at %.0f/s\n", count, b->nrows,
           (double)(after - before) / 1024, (double)(after - before) * 1024 / count, count / dt);
    for (int i = 0; i < count; i++) {
        snprintf(sid, sizeof sid, "idle-%d", i);
        handle(ors_delete, b->env, sid, "");
    }
}

static void verify_per_second(double seconds)
{
    gym_env *g = gym_env_new(NULL, NULL);
    const char *body =
        "{\"responses_create_params\":{\"input\":[{\"role\":\"user\",\"content\":\"Weather in Paris?\"}],"
        "\"tools\":[]},\"response\":{\"output\":[{\"type\":\"function_call\",\"name\":\"get_weather\","
        "\"arguments\":\"{\\\"city\\\": \\\"Paris\\\", \\\"units\\\": \\\"metric\\\"}\"}]},"
        "\"expected_action\":{\"type\":\"function_call\",\"name\":\"get_weather\","
        "\"arguments\":\"{\\\"city\\\": \\\"Paris\\\", \\\"units\\\": \\\"metric\\\"}\"}}";
    wire_request req = {.method = "POST", .path = "/verify", .body = body, .body_len = strlen(body)};
    long n = 0;
    double t0 = now(), end = t0 + seconds;
    while (now() < end) {
        for (int k = 0; k < 256; k++, n++) {
            wire_reply r = {0};
            gym_verify(g, &req, &r);
            wire_reply_free(&r);
        }
    }
    printf("/verify handler (1 thread, small request): %.0f calls/s\n", (double)n / (now() - t0));
    gym_env_free(g);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s DATASET.jsonl [SECONDS]\n", argv[0]);
        return 2;
    }
    double seconds = argc > 2 ? atof(argv[2]) : 3;
    ds_split_spec spec = {"train", argv[1]};
    ds_open_options opts = {0};
    ds_dataset *ds;
    char err[512];
    if (ds_open(&ds, &spec, 1, &opts, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    ors_config cfg;
    ors_config_default(&cfg);
    ors_env *env = ors_env_new(ds, &cfg, NULL, err, sizeof err);
    if (!env) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    bench b = {.env = env, .nrows = ds_split_size(ds, 0), .seconds = seconds};
    idle_sessions(&b, 10000);
    episodes_per_second(&b, 1);
    episodes_per_second(&b, 2);
    verify_per_second(seconds);
    ors_env_free(env);
    ds_close(ds);
    return 0;
}
