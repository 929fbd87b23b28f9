/* ors — Open Reward Standard handlers for this environment (see ors.h).
 *
 * Each handler validates in the order docs/http-api.md implies (environment, session
 * header, body, then semantics) and answers with {"detail": ...} errors.
 *
 * Memory: a session (session.h) keeps only a compact "episode" — its row's
 * position, tool names and a hold on the expected action the row's task
 * built once (ds_expected_hold: kept by the row while held, so every task,
 * session and /call on a row share one action) — never the parsed row.
 * The row is parsed at /create, its prompt and task tools are rendered into
 * a bounded cache (cache.h; a loaded dataset is immutable and cache keys
 * carry its generation, so entries never go stale) and a small ring keeps the
 * most recently used rows parsed for the next sessions on them. /prompt and
 * /task_tools answer from the cache and re-render on a miss. Task listings
 * and /task are written straight from the rows (pubtask.h, with a table of
 * member spans per dataset), never cached.
 *
 * Datasets: the env serves a current one (ors_data, reference-counted);
 * ors_env_swap_dataset (SIGHUP) replaces it for new sessions and listings,
 * while each session holds the one it was created on to the end.
 *
 * Limits: /create answers 503 with Retry-After past max_sessions (the session
 * table enforces the cap atomically, so racing creates never exceed it); a refused
 * call echoes at most ORS_MAX_ECHO bytes of the tool name.
 *
 * /call reads its body in Python's json dialect (what json.dumps writes: big
 * integers, NaN, lone surrogates), grades the task's one submission (the
 * claim is atomic; the input's own text is the call's arguments) and keeps
 * every call's result in the session for result_ttl seconds, so a client
 * that lost the stream can replay it by task_id without grading twice; the
 * graded result is also kept under a fingerprint of its name and input, so
 * a client that lost the reply before the task_id repeats the same call and
 * gets it back under a new task_id.
 */
#include "ors.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistr.h>

#include "cache.h"
#include "jtext.h"
#include "prompt.h"
#include "pubtask.h"
#include "session.h"
#include "util.h"

#define DEFAULT_ENV_NAME "nemotron-fc-pivot"
#define DEFAULT_SESSION_TTL 900.0   /* seconds */
#define DEFAULT_RESULT_TTL 60.0     /* seconds */
#define MAX_SID_LEN 1024
#define MAX_TOMBSTONES 100000
#define SSE_PIECE 4096
#define DEFAULT_CACHE_BYTES ((size_t)64 << 20)
#define DEFAULT_PINNED_TASKS 256

/* What a cached body was rendered from (cache.h keys, with the dataset
 * generation above these bits). */
enum { CACHED_PROMPT = 1, CACHED_TASK_TOOLS, CACHED_KIND_BITS = 3 };

/* One loaded dataset — the one the env was created with, or one swapped in
 * by a reload — shared by reference: the env holds the current one, each
 * session the one it was created on (so it finishes on its own rows), each
 * request the one it started with. Freed with the last reference. */
typedef struct ors_data {
    atomic_uint refs;
    ds_dataset *ds;              /* a reference of its own (ds_retain) */
    pubtask_table *pub;          /* where the public members of ds's rows are */
    unsigned gen;                /* 0, 1, ... per swap: keeps cache keys apart */
} ors_data;

struct ors_env {
    ors_config cfg;
    char *env_name;              /* owned copy of cfg.env_name */
    metrics *m;
    sess_table *sessions;
    cache *rendered;
    pthread_mutex_t lock;        /* guards current, pins and pin_next */
    ors_data *current;           /* what new sessions and listings use */
    const ds_task **pins;        /* recently used rows of current, kept parsed */
    size_t npins, pin_next;
};

static ors_data *data_new(ds_dataset *ds, unsigned gen)
{
    ors_data *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    if (!(d->pub = pubtask_table_new(ds))) {
        free(d);
        return NULL;
    }
    atomic_init(&d->refs, 1);
    d->ds = ds_retain(ds);
    d->gen = gen;
    return d;
}

static ors_data *data_ref(ors_data *d)
{
    atomic_fetch_add(&d->refs, 1);
    return d;
}

static void data_release(ors_data *d)
{
    if (!d || atomic_fetch_sub(&d->refs, 1) != 1)
        return;
    pubtask_table_free(d->pub);
    ds_close(d->ds);
    free(d);
}

/* A reference to the current dataset, for one request. */
static ors_data *data_current(ors_env *env)
{
    pthread_mutex_lock(&env->lock);
    ors_data *d = data_ref(env->current);
    pthread_mutex_unlock(&env->lock);
    return d;
}

/* The cache key kind of a rendering of d's rows. */
static int cache_kind(const ors_data *d, int kind)
{
    return (int)((d->gen & 0xFFFFFu) << CACHED_KIND_BITS) | kind;
}

/* What a session keeps of its task: where it is, the row's tool names and
 * a hold on the task's expected action (ds_expected_hold: built once, when
 * the row was first parsed, and shared by the task, every session on it and
 * their calls, also when the task is parsed again while sessions hold it).
 * The parsed row goes back to the dataset right after /create (its
 * rendered prompt and tools live in the cache), so an idle session costs
 * its names plus a share of one action and its row's slot however large its
 * row is. */
typedef struct episode {
    ors_data *data;              /* a reference: the rows this session runs on */
    size_t split, index;
    const grade_action *expected; /* the task's expected action (ds_expected_hold) */
    size_t ntools;
    char names[];                /* the row's tool names, each NUL-terminated */
} episode;

static void episode_free(void *p)
{
    episode *ep = p;
    if (ep) {
        if (ep->expected)
            ds_expected_release(ep->data->ds, ep->split, ep->index);
        data_release(ep->data);
    }
    free(ep);
}

/* The episode of a task of d; NULL with a reason on failure. */
static episode *episode_new(ors_data *d, const ds_task *task, char *err, size_t errsz)
{
    size_t bytes = 0, i;
    json_t *tool;
    json_array_foreach(task->tools, i, tool) {
        const char *name = prompt_tool_name(tool);
        bytes += name ? strlen(name) + 1 : 0;
    }
    episode *ep = calloc(1, sizeof *ep + bytes);
    if (!ep) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    ep->data = data_ref(d);
    ep->split = task->split_index;
    ep->index = task->index;
    ep->expected = ds_expected_hold(d->ds, task);
    char *at = ep->names;
    json_array_foreach(task->tools, i, tool) {
        const char *name = prompt_tool_name(tool);
        if (!name)
            continue;
        size_t n = strlen(name) + 1;
        memcpy(at, name, n);
        at += n;
        ep->ntools++;
    }
    return ep;
}

/* True when the row lists a tool called name. */
static bool episode_has_tool(const episode *ep, const char *name)
{
    const char *at = ep->names;
    for (size_t i = 0; i < ep->ntools; i++, at += strlen(at) + 1)
        if (strcmp(at, name) == 0)
            return true;
    return false;
}

void ors_config_default(ors_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->env_name = DEFAULT_ENV_NAME;
    grade_config_default(&cfg->grading);
    cfg->session_ttl = DEFAULT_SESSION_TTL;
    cfg->result_ttl = DEFAULT_RESULT_TTL;
    cfg->clock = NULL;
    cfg->cache_bytes = DEFAULT_CACHE_BYTES;
    cfg->pinned_tasks = DEFAULT_PINNED_TASKS;
    cfg->max_sessions = ORS_DEFAULT_MAX_SESSIONS;
}

static double now_of(const ors_env *env)
{
    return env->cfg.clock ? env->cfg.clock() : util_now_mono();
}

ors_env *ors_env_new(ds_dataset *ds, const ors_config *cfg, metrics *m, char *err, size_t errsz)
{
    ors_config def;
    if (!cfg) {
        ors_config_default(&def);
        cfg = &def;
    }
    if (!ds) {
        snprintf(err, errsz, "no dataset");
        return NULL;
    }
    const char *name = cfg->env_name && *cfg->env_name ? cfg->env_name : DEFAULT_ENV_NAME;
    if (strchr(name, '/')) {
        snprintf(err, errsz, "environment name '%s' must not contain '/'", name);
        return NULL;
    }
    ors_env *env = calloc(1, sizeof *env);
    if (env) {
        env->current = data_new(ds, 0);
        env->cfg = *cfg;
        env->m = m;
        env->env_name = strdup(name);
        env->cfg.env_name = env->env_name;
        env->sessions = sess_table_new(episode_free, cfg->session_ttl, MAX_TOMBSTONES);
        if (env->sessions)
            sess_table_set_limit(env->sessions, cfg->max_sessions);
        env->rendered = cache_new(cfg->cache_bytes);
        pthread_mutex_init(&env->lock, NULL);
        env->npins = cfg->pinned_tasks;
        env->pins = calloc(env->npins ? env->npins : 1, sizeof *env->pins);
    }
    if (!env || !env->current || !env->env_name || !env->sessions || !env->rendered || !env->pins) {
        snprintf(err, errsz, "out of memory");
        ors_env_free(env);
        return NULL;
    }
    return env;
}

void ors_env_free(ors_env *env)
{
    if (!env)
        return;
    sess_table_free(env->sessions);
    cache_free(env->rendered);
    for (size_t i = 0; env->pins && env->current && i < env->npins; i++)
        ds_task_release(env->current->ds, env->pins[i]);
    free(env->pins);
    data_release(env->current);
    pthread_mutex_destroy(&env->lock);
    free(env->env_name);
    free(env);
}

bool ors_env_matches(const ors_env *env, const char *name)
{
    return name && strcasecmp(name, env->env_name) == 0;
}

const char *ors_env_name(const ors_env *env)
{
    return env->env_name;
}

int ors_env_swap_dataset(ors_env *env, ds_dataset *ds, char *err, size_t errsz)
{
    pthread_mutex_lock(&env->lock);
    unsigned gen = env->current->gen + 1;
    pthread_mutex_unlock(&env->lock);
    ors_data *fresh = data_new(ds, gen);
    if (!fresh) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    pthread_mutex_lock(&env->lock);
    ors_data *old = env->current;
    env->current = fresh;
    for (size_t i = 0; i < env->npins; i++) {      /* the ring holds current rows only */
        ds_task_release(old->ds, env->pins[i]);
        env->pins[i] = NULL;
    }
    pthread_mutex_unlock(&env->lock);
    data_release(old);                             /* open sessions keep it alive */
    return 0;
}

static void publish_session_count(ors_env *env)
{
    metrics_set_active_sessions(env->m, (long)sess_count(env->sessions));
}

size_t ors_reap(ors_env *env)
{
    size_t n = sess_reap(env->sessions, now_of(env), env->cfg.session_ttl);
    publish_session_count(env);
    return n;
}

size_t ors_session_count(ors_env *env)
{
    return sess_count(env->sessions);
}

/* ---- shared checks ------------------------------------------------------ */

/* The text of a JSON string that holds no NUL character, or NULL. Names
 * (splits, tools, ids) with an embedded NUL must not match a C string that
 * stops there. */
static const char *plain_string(const json_t *v)
{
    const char *s = json_string_value(v);
    return s && strlen(s) == json_string_length(v) ? s : NULL;
}


/* For /{env}/... routes: false (after a 404 reply) when the path names
 * another environment. The router only sends known names; this is a guard. */
static bool env_ok(ors_env *env, const wire_request *req, wire_reply *out)
{
    if (!req->param || ors_env_matches(env, req->param))
        return true;
    wire_reply_detail(out, 404, "unknown environment '%s'", req->param);
    return false;
}

/* The X-Session-ID header, or NULL after a 400 reply. */
static const char *session_header(const wire_request *req, wire_reply *out)
{
    if (!req->session_id || !*req->session_id) {
        wire_reply_detail(out, 400, "X-Session-ID header is required");
        return NULL;
    }
    size_t len = strlen(req->session_id);
    if (len > MAX_SID_LEN) {
        wire_reply_detail(out, 400, "X-Session-ID header is longer than %d bytes", MAX_SID_LEN);
        return NULL;
    }
    /* The sid is echoed in JSON replies ({"sid": ...}), which must be UTF-8:
     * refuse other bytes up front rather than fail after acting. */
    if (u8_check((const uint8_t *)req->session_id, len)) {
        wire_reply_detail(out, 400, "X-Session-ID header is not valid UTF-8");
        return NULL;
    }
    return req->session_id;
}

/* The active session named by the request (a reference to release), or NULL
 * after a 400/404/410 reply. Refreshes its last-seen time. */
static sess *active_session(ors_env *env, const wire_request *req, wire_reply *out)
{
    const char *sid = session_header(req, out);
    if (!sid)
        return NULL;
    sess_state st;
    sess *s = sess_get(env->sessions, sid, now_of(env), &st);
    if (!s) {
        if (st == SESS_DELETED)
            wire_reply_detail(out, 410, "Session deleted");
        else
            wire_reply_detail(out, 404, "Active environment not found");
    }
    return s;
}

/* Python's seq[i] for a sequence of n: 0 and the index, or -1. */
static int python_index(json_int_t i, size_t n, size_t *out)
{
    json_int_t len = (json_int_t)n;
    if (i < -len || i >= len)
        return -1;
    *out = (size_t)(i < 0 ? i + len : i);
    return 0;
}

/* Reads body field "split" (required string) and resolves it; -1 after a
 * 422 (missing/not a string) or 400 (unknown) reply. */
static int body_split(const ds_dataset *ds, const json_t *body, wire_reply *out, size_t *split)
{
    const json_t *v = json_object_get(body, "split");
    if (!v) {
        wire_reply_detail(out, 422, "split: field required");
        return -1;
    }
    if (!json_is_string(v)) {
        wire_reply_detail(out, 422, "split: must be a string");
        return -1;
    }
    const char *name = plain_string(v);
    long idx = name ? ds_split_find(ds, name) : -1;
    if (idx < 0) {
        wire_reply_detail(out, 400, "Invalid split");
        return -1;
    }
    *split = (size_t)idx;
    return 0;
}

/* Reads an optional integer field: 1 when present (value in *out), 0 when
 * absent or null, -1 after a 422 reply when it is not an integer. */
static int body_int(const json_t *body, const char *key, wire_reply *out, json_int_t *value)
{
    const json_t *v = json_object_get(body, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v)) {
        wire_reply_detail(out, 422, "%s: must be an integer", key);
        return -1;
    }
    *value = json_integer_value(v);
    return 1;
}

/* Answers {"tasks":[public tasks start..stop of split]<tail>}, the list
 * written straight from the rows (pubtask_list: no tree, so a large split
 * costs about its reply, once). tail is NULL or more members. */
static void reply_task_list(const ors_data *d, wire_reply *out, size_t split, size_t start,
                            size_t stop, const char *tail)
{
    util_buf b = UTIL_BUF_INIT;
    char err[512] = "out of memory";
    int rc = util_buf_puts(&b, "{\"tasks\":");
    if (rc == 0)
        rc = pubtask_list(d->ds, d->pub, split, start, stop, &b, err, sizeof err);
    if (rc == 0 && (util_buf_puts(&b, tail ? tail : "") != 0 || util_buf_putc(&b, '}') != 0))
        rc = -1;
    if (rc != 0) {
        util_buf_free(&b);
        wire_reply_detail(out, 500, "cannot list the tasks: %s", err);
        return;
    }
    wire_reply_take(out, 200, WIRE_JSON, b.data, b.len);
}

/* Answers 200 with the JSON text prefix + body + suffix, or 500. */
static void reply_text(wire_reply *out, const char *prefix, util_buf *body, const char *suffix,
                       bool ok)
{
    util_buf b = {0};
    if (!ok || util_buf_puts(&b, prefix) || util_buf_append(&b, body->data, body->len) ||
        util_buf_puts(&b, suffix)) {
        free(b.data);
        free(body->data);
        wire_reply_detail(out, 500, "out of memory");
        return;
    }
    free(body->data);
    wire_reply_take(out, 200, WIRE_JSON, b.data, b.len);
}

static void reply_or_oom(wire_reply *out, json_t *body)
{
    if (body)
        wire_reply_json(out, 200, body);
    else
        wire_reply_detail(out, 500, "out of memory");
}

/* A freshly rendered body of kind for row (split, index) of d; task may be
 * given when the caller holds it, else it is acquired for the occasion.
 * Caller frees; NULL with a reason on failure. */
static char *render_fresh(const ors_data *d, int kind, size_t split, size_t index,
                          const ds_task *task, char *err, size_t errsz)
{
    util_buf b = {0};
    int rc = -1;
    const ds_task *held = NULL;
    if (!task)
        task = held = ds_task_acquire(d->ds, split, index, err, errsz);
    if (task && kind == CACHED_PROMPT)
        rc = prompt_blocks_text(task, &b);
    else if (task)
        rc = util_buf_puts(&b, "{\"tools\":") || prompt_task_tools_text(task, &b) ||
             util_buf_putc(&b, '}');
    ds_task_release(d->ds, held);
    if (task && rc)
        snprintf(err, errsz, "out of memory");
    if (rc) {
        free(b.data);
        return NULL;
    }
    return b.data;
}

/* Answers with the body of kind for row (split, index) of d: the cached
 * bytes when present, else rendered now and kept. */
static void reply_rendered(ors_env *env, const ors_data *d, wire_reply *out, int kind,
                           size_t split, size_t index)
{
    size_t len;
    char *body = cache_get(env->rendered, cache_kind(d, kind), split, index, &len);
    if (!body) {
        char err[512] = "";
        body = render_fresh(d, kind, split, index, NULL, err, sizeof err);
        if (!body) {
            wire_reply_detail(out, 500, "cannot render the task: %s", err);
            return;
        }
        len = strlen(body);
        cache_put(env->rendered, cache_kind(d, kind), split, index, body, len);
    }
    wire_reply_take(out, 200, WIRE_JSON, body, len);
}

/* Renders the prompt and task tools of a task into the cache while it is at
 * hand, so the session need not keep the parsed row. */
static void prerender(ors_env *env, const ors_data *d, const ds_task *task)
{
    const int kinds[2] = {CACHED_TASK_TOOLS, CACHED_PROMPT};
    for (int k = 0; k < 2; k++) {
        int key = cache_kind(d, kinds[k]);
        if (cache_contains(env->rendered, key, task->split_index, task->index))
            continue;
        char err[256];
        char *body = render_fresh(d, kinds[k], task->split_index, task->index, task, err, sizeof err);
        if (body)
            cache_put(env->rendered, key, task->split_index, task->index, body, strlen(body));
        free(body);
    }
}

/* Hands the caller's reference to task over to a ring of recently used rows,
 * so that sessions opened on them soon after need not parse them again; the
 * reference it displaces (or the caller's, when the row is already there) is
 * released. The ring bounds the parsed rows kept beyond live requests. */
static void pin_task(ors_env *env, const ors_data *d, const ds_task *task)
{
    const ds_task *drop = task;
    pthread_mutex_lock(&env->lock);
    bool present = d != env->current;            /* rows of a replaced dataset: not kept */
    for (size_t i = 0; i < env->npins && !present; i++)
        present = env->pins[i] == task;
    if (!present && env->npins) {
        drop = env->pins[env->pin_next];
        env->pins[env->pin_next] = task;
        env->pin_next = (env->pin_next + 1) % env->npins;
    }
    pthread_mutex_unlock(&env->lock);
    ds_task_release(d->ds, drop);
}

/* ---- session-less routes ---------------------------------------------- */

void ors_health(ors_env *env, const wire_request *req, wire_reply *out)
{
    (void)env;
    (void)req;
    reply_or_oom(out, json_pack("{s:s}", "status", "ok"));
}

void ors_list_environments(ors_env *env, const wire_request *req, wire_reply *out)
{
    (void)req;
    reply_or_oom(out, json_pack("[s]", env->env_name));
}

void ors_tools(ors_env *env, const wire_request *req, wire_reply *out)
{
    if (!env_ok(env, req, out))
        return;
    json_t *tools = prompt_shared_tools();
    reply_or_oom(out, tools ? json_pack("{s:o}", "tools", tools) : NULL);
}

static const char *split_type(const char *name)
{
    if (strcmp(name, "train") == 0 || strcmp(name, "validation") == 0 ||
        strcmp(name, "test") == 0)
        return name;
    return "validation";
}

void ors_splits(ors_env *env, const wire_request *req, wire_reply *out)
{
    if (!env_ok(env, req, out))
        return;
    ors_data *d = data_current(env);
    json_t *list = json_array();
    for (size_t i = 0; list && i < ds_split_count(d->ds); i++) {
        const char *name = ds_split_name(d->ds, i);
        if (json_array_append_new(list, json_pack("{s:s, s:s}", "name", name, "type",
                                                  split_type(name))) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    data_release(d);
    reply_or_oom(out, list);
}

void ors_tasks(ors_env *env, const wire_request *req, wire_reply *out)
{
    if (!env_ok(env, req, out))
        return;
    json_t *body = wire_body_object(req, out);
    ors_data *d = data_current(env);
    size_t split;
    int rc = body ? body_split(d->ds, body, out, &split) : -1;
    json_decref(body);
    util_buf tail = UTIL_BUF_INIT;
    if (rc == 0 && (util_buf_puts(&tail, ",\"env_name\":") != 0 ||
                    util_buf_json_string(&tail, env->env_name, strlen(env->env_name)) != 0)) {
        wire_reply_detail(out, 500, "out of memory");
        rc = -1;
    }
    if (rc == 0)
        reply_task_list(d, out, split, 0, ds_split_size(d->ds, split), tail.data);
    util_buf_free(&tail);
    data_release(d);
}

void ors_num_tasks(ors_env *env, const wire_request *req, wire_reply *out)
{
    if (!env_ok(env, req, out))
        return;
    json_t *body = wire_body_object(req, out);
    ors_data *d = data_current(env);
    size_t split;
    if (body && body_split(d->ds, body, out, &split) == 0)
        reply_or_oom(out, json_pack("{s:I}", "num_tasks", (json_int_t)ds_split_size(d->ds, split)));
    json_decref(body);
    data_release(d);
}

void ors_task(ors_env *env, const wire_request *req, wire_reply *out)
{
    if (!env_ok(env, req, out))
        return;
    json_t *body = wire_body_object(req, out);
    ors_data *d = data_current(env);
    size_t split, index;
    json_int_t i = 0;
    int has = -1;
    if (body && body_split(d->ds, body, out, &split) == 0) {
        has = body_int(body, "index", out, &i);
        if (has == 0)
            wire_reply_detail(out, 422, "index: field required");
    }
    json_decref(body);
    if (has == 1 && python_index(i, ds_split_size(d->ds, split), &index) != 0)
        wire_reply_detail(out, 400, "Invalid index");
    else if (has == 1) {
        util_buf task = {0};
        char err[512];
        if (pubtask_text(d->ds, d->pub, split, index, &task, err, sizeof err) == 0) {
            reply_text(out, "{\"task\":", &task, "}", true);
        } else {
            free(task.data);
            if (ds_split_changed(d->ds, split, NULL, 0))
                wire_reply_detail(out, 500, "task %zu of split '%s' cannot be read: its file was "
                                  "truncated or rewritten in place (see the server log)",
                                  index, ds_split_name(d->ds, split));
            else
                wire_reply_detail(out, 500, "task %zu of split '%s' cannot be read: out of memory",
                                  index, ds_split_name(d->ds, split));
        }
    }
    data_release(d);
}

/* Python slice bound: missing -> dflt, negative counts from the end (floored
 * at 0), capped at n. */
static size_t slice_bound(int has, json_int_t v, size_t dflt, size_t n)
{
    if (has != 1)
        return dflt;
    json_int_t len = (json_int_t)n;
    if (v < 0)
        v = v + len < 0 ? 0 : v + len;
    return v > len ? n : (size_t)v;
}

void ors_task_range(ors_env *env, const wire_request *req, wire_reply *out)
{
    if (!env_ok(env, req, out))
        return;
    json_t *body = wire_body_object(req, out);
    ors_data *d = data_current(env);
    size_t split;
    json_int_t a = 0, b = 0;
    int has_a = -1, has_b = -1;
    if (body && body_split(d->ds, body, out, &split) == 0) {
        has_a = body_int(body, "start", out, &a);
        if (has_a >= 0)
            has_b = body_int(body, "stop", out, &b);
    }
    json_decref(body);
    if (has_a >= 0 && has_b >= 0) {
        size_t n = ds_split_size(d->ds, split);
        size_t start = slice_bound(has_a, a, 0, n), stop = slice_bound(has_b, b, n, n);
        reply_task_list(d, out, split, start, stop > start ? stop : start, NULL);
    }
    data_release(d);
}

/* ---- sessions ----------------------------------------------------------- */

void ors_create_session(ors_env *env, const wire_request *req, wire_reply *out)
{
    (void)env;
    (void)req;
    char sid[37];
    if (sess_uuid4(sid) != 0) {
        wire_reply_detail(out, 500, "no random source for a session id");
        return;
    }
    wire_reply_sse_event(out, "task_id", sid, strlen(sid));
    wire_reply_sse_event(out, "end", "", 0);
}

/* Resolves a client's task_spec to split and index, by "id" or else by its
 * "split" and "index"; anything else in it (an expected_action included) is
 * ignored. -1 after a 400 `Unknown task` reply. */
static int resolve_task_spec(const ds_dataset *ds, const json_t *spec, wire_reply *out,
                             size_t *split, size_t *index)
{
    const json_t *idv = json_object_get(spec, "id");
    const char *id = plain_string(idv);
    if (idv && !id && !json_is_null(idv)) {   /* an id that cannot name a task */
        wire_reply_detail(out, 400, "Unknown task");
        return -1;
    }
    if (id && ds_task_find(ds, id, split, index) == 0)
        return 0;
    const char *sname = plain_string(json_object_get(spec, "split"));
    const json_t *iv = json_object_get(spec, "index");
    long s = sname ? ds_split_find(ds, sname) : -1;
    if (!id && s >= 0 && json_is_integer(iv) &&
        python_index(json_integer_value(iv), ds_split_size(ds, (size_t)s), index) == 0) {
        *split = (size_t)s;
        return 0;
    }
    wire_reply_detail(out, 400, "Unknown task");
    return -1;
}

/* Resolves the task a /create body names: exactly one of task_spec or
 * (split and index). -1 after a 422 or 400 reply. */
static int resolve_create_task(const ds_dataset *ds, const json_t *body, wire_reply *out,
                               size_t *split, size_t *index)
{
    const json_t *spec = json_object_get(body, "task_spec");
    bool has_spec = spec && !json_is_null(spec);
    const json_t *sv = json_object_get(body, "split"), *iv = json_object_get(body, "index");
    bool has_split = sv && !json_is_null(sv), has_index = iv && !json_is_null(iv);
    if (has_spec && (has_split || has_index)) {
        wire_reply_detail(out, 422, "give either task_spec or split and index, not both");
        return -1;
    }
    if (has_spec) {
        if (!json_is_object(spec)) {
            wire_reply_detail(out, 422, "task_spec: must be an object");
            return -1;
        }
        return resolve_task_spec(ds, spec, out, split, index);
    }
    if (!has_split || !has_index) {
        wire_reply_detail(out, 422, has_split   ? "index: field required with split"
                                    : has_index ? "split: field required with index"
                                                : "either task_spec or split and index is required");
        return -1;
    }
    json_int_t i = 0;
    if (body_split(ds, body, out, split) != 0 || body_int(body, "index", out, &i) < 0)
        return -1;
    if (python_index(i, ds_split_size(ds, *split), index) != 0) {
        wire_reply_detail(out, 400, "Invalid index");
        return -1;
    }
    return 0;
}

/* Validates the body of /create up to the task; -1 after a reply. */
static int check_create_body(ors_env *env, const json_t *body, wire_reply *out)
{
    const json_t *name = json_object_get(body, "env_name");
    if (name && !json_is_null(name)) {
        if (!json_is_string(name)) {
            wire_reply_detail(out, 422, "env_name: must be a string");
            return -1;
        }
        if (!ors_env_matches(env, plain_string(name))) {
            wire_reply_detail(out, 404, "unknown environment '%s'", json_string_value(name));
            return -1;
        }
    }
    const json_t *secrets = json_object_get(body, "secrets");
    if (secrets && !json_is_null(secrets) && !json_is_object(secrets)) {
        wire_reply_detail(out, 422, "secrets: must be an object");
        return -1;
    }
    return 0;
}

/* Back-pressure at the session cap: a 503 the client retries, never a 429
 * (which stops RL trainers). */
static void reply_too_many_sessions(const ors_env *env, wire_reply *out)
{
    wire_reply_detail(out, 503, "Too many sessions (limit %zu), retry later",
                      env->cfg.max_sessions);
    out->retry_after = WIRE_RETRY_AFTER;
}

/* Creates session sid on row (split, index) of d. */
static void create_on(ors_env *env, ors_data *d, const char *sid, size_t split, size_t index,
                      wire_reply *out)
{
    sess *existing = sess_get(env->sessions, sid, now_of(env), NULL);
    if (existing) {   /* answered before parsing the row; sess_create decides races */
        sess_release(env->sessions, existing);
        wire_reply_detail(out, 400, "Session already exists");
        return;
    }
    if (sess_count(env->sessions) >= env->cfg.max_sessions) {
        /* Saves parsing the row; sess_create enforces the cap itself. */
        reply_too_many_sessions(env, out);
        return;
    }
    char err[512];
    const ds_task *task = ds_task_acquire(d->ds, split, index, err, sizeof err);
    episode *ep = task ? episode_new(d, task, err, sizeof err) : NULL;
    if (ep && env->cfg.cache_bytes)
        prerender(env, d, task);
    if (task)
        pin_task(env, d, task);
    if (!ep) {
        wire_reply_detail(out, 500, "task cannot be loaded: %s", err);
        return;
    }
    int rc = sess_create(env->sessions, sid, ep, now_of(env));
    if (rc != SESS_CREATED) {
        episode_free(ep);
        if (rc == SESS_EXISTS)
            wire_reply_detail(out, 400, "Session already exists");
        else if (rc == SESS_FULL)
            reply_too_many_sessions(env, out);
        else
            wire_reply_detail(out, 500, "out of memory");
        return;
    }
    publish_session_count(env);
    reply_or_oom(out, json_pack("{s:s}", "sid", sid));
}

void ors_create(ors_env *env, const wire_request *req, wire_reply *out)
{
    const char *sid = session_header(req, out);
    if (!sid)
        return;
    json_t *body = wire_body_object(req, out);
    ors_data *d = data_current(env);
    size_t split, index;
    int ok = body && check_create_body(env, body, out) == 0 &&
             resolve_create_task(d->ds, body, out, &split, &index) == 0;
    json_decref(body);
    if (ok)
        create_on(env, d, sid, split, index, out);
    data_release(d);
}

void ors_ping(ors_env *env, const wire_request *req, wire_reply *out)
{
    sess *s = active_session(env, req, out);
    if (!s)
        return;
    sess_release(env->sessions, s);
    reply_or_oom(out, json_pack("{s:s}", "status", "ok"));
}

/* Answers a session-scoped rendering of the session's task. */
static void reply_session_rendered(ors_env *env, const wire_request *req, wire_reply *out,
                                   int kind)
{
    if (!env_ok(env, req, out))
        return;
    sess *s = active_session(env, req, out);
    if (!s)
        return;
    const episode *ep = sess_data(s);
    reply_rendered(env, ep->data, out, kind, ep->split, ep->index);
    sess_release(env->sessions, s);
}

void ors_task_tools(ors_env *env, const wire_request *req, wire_reply *out)
{
    reply_session_rendered(env, req, out, CACHED_TASK_TOOLS);
}

void ors_prompt(ors_env *env, const wire_request *req, wire_reply *out)
{
    reply_session_rendered(env, req, out, CACHED_PROMPT);
}

void ors_delete(ors_env *env, const wire_request *req, wire_reply *out)
{
    const char *sid = session_header(req, out);
    if (!sid)
        return;
    sess_delete(env->sessions, sid, now_of(env));
    publish_session_count(env);
    reply_or_oom(out, json_pack("{s:s}", "sid", sid));
}

void ors_delete_session(ors_env *env, const wire_request *req, wire_reply *out)
{
    (void)env;
    const char *sid = session_header(req, out);
    if (sid)
        reply_or_oom(out, json_pack("{s:s}", "sid", sid));
}

/* ---- /call -------------------------------------------------------------- */

/* {"ok":false,"error":<before><arg><after>}: arg is len bytes (a tool name
 * may be long or hold a NUL), cut to ORS_MAX_ECHO bytes at a character
 * boundary so that a refused call's stored result stays small whatever the
 * client sent. NULL on allocation failure. */
static json_t *tool_error(const char *before, const char *arg, size_t len, const char *after)
{
    if (len > ORS_MAX_ECHO) {
        len = ORS_MAX_ECHO;
        while (len > 0 && ((unsigned char)arg[len] & 0xC0) == 0x80)
            len--;                       /* not inside a UTF-8 sequence */
    }
    size_t nb = strlen(before), na = strlen(after);
    char *msg = malloc(nb + len + na);
    if (!msg)
        return NULL;
    memcpy(msg, before, nb);
    memcpy(msg + nb, arg, len);
    memcpy(msg + nb + len, after, na);
    json_t *text = wire_string(msg, nb + len + na);
    free(msg);
    return text ? json_pack("{s:b, s:o}", "ok", 0, "error", text) : NULL;
}

static json_t *already_submitted(void)
{
    return tool_error("task already submitted", "", 0, "");
}

/* What a /call body holds, read in Python's json dialect (wire.h). */
typedef struct call_req {
    util_buf name;          /* decoded (WTF-8), NUL-terminated; may hold a NUL */
    jtext_span input;       /* the input object's text in the body */
    util_buf args;          /* that text without white space: the arguments */
    util_buf task_id;       /* decoded, when has_task_id */
    bool has_task_id;
} call_req;

static void call_req_free(call_req *c)
{
    free(c->name.data);
    free(c->args.data);
    free(c->task_id.data);
}

/* The actual action of the call, or NULL with *error set to the tool result
 * that refuses it (the submission is then not consumed). The arguments of a
 * task tool's call are the input's own text, so numbers json.dumps wrote
 * (2^70, NaN, Infinity) and lone surrogates reach the grader as they are. */
static grade_action *action_of_call(const episode *ep, const call_req *c, json_t **error)
{
    *error = NULL;
    const char *name = c->name.data;
    bool plain = strlen(name) == c->name.len;   /* a NUL never matches a tool */
    if (plain && strcmp(name, PROMPT_SUBMIT_TOOL) == 0 && !episode_has_tool(ep, name)) {
        util_buf text = {0};
        if (jtext_string_value(jtext_get(c->input, WIRE_PY_JSON, "content"), WIRE_PY_JSON, &text)) {
            free(text.data);
            *error = tool_error("invalid input for '", name, strlen(name),
                                "': 'content' must be a string");
            return NULL;
        }
        grade_action *a = grade_action_message(text.data, text.len);
        free(text.data);
        return a;
    }
    if (!plain || !episode_has_tool(ep, name)) {
        *error = tool_error("'", name, c->name.len, "' is not a valid tool");
        return NULL;
    }
    return grade_action_call(name, c->args.data, c->args.len);
}

static json_t *graded_output(const episode *ep, grade_verdict v)
{
    const char *category = grade_category_text(v.category);
    char text[512];
    if (v.reward == 1.0)
        snprintf(text, sizeof text, "Correct.");
    else
        snprintf(text, sizeof text, "Incorrect: %s", category);
    return json_pack("{s:b, s:{s:[{s:s, s:s, s:n}], s:{s:s, s:s}, s:f, s:b}}", "ok", 1,
                     "output", "blocks", "type", "text", "text", text, "detail", "metadata",
                     "category", category, "expected_type",
                     grade_action_type_name(ep->expected), "reward", v.reward, "finished", 1);
}

/* Runs one call of the session's task: the tool result object (new
 * reference), or NULL on allocation failure. Grades at most once per
 * session; *graded tells whether this call was the graded one. */
static json_t *run_call(ors_env *env, sess *s, const call_req *c, bool *graded)
{
    const episode *ep = sess_data(s);
    *graded = false;
    if (sess_submitted(s))
        return already_submitted();
    json_t *error;
    grade_action *actual = action_of_call(ep, c, &error);
    if (!actual)
        return error;
    if (!sess_claim_submission(s)) {
        grade_action_free(actual);
        return already_submitted();
    }
    double t0 = util_now_mono();
    grade_verdict v = grade_judge(&env->cfg.grading, ep->expected, actual);
    metrics_observe_submission(env->m, v.reward, util_now_mono() - t0);
    grade_action_free(actual);
    *graded = true;
    return graded_output(ep, v);
}

/* The SSE stream of one call result: task_id, then the text in pieces of at
 * most SSE_PIECE bytes (characters: the text is ASCII), the last as "end". */
static void reply_call_stream(wire_reply *out, const char *call_id, const char *text, size_t len)
{
    wire_reply_sse_event(out, "task_id", call_id, strlen(call_id));
    size_t pos = 0;
    do {
        size_t n = len - pos > SSE_PIECE ? SSE_PIECE : len - pos;
        wire_reply_sse_event(out, pos + n < len ? "chunk" : "end", text + pos, n);
        pos += n;
    } while (pos < len);
}

static void reply_call_error(wire_reply *out, const char *message)
{
    wire_reply_sse_event(out, "error", message, strlen(message));
}

/* Reads the /call body (Python's json dialect): name (string), input
 * (object), task_id (optional string). -1 after a 422 reply. */
static int call_fields(const wire_request *req, wire_reply *out, call_req *c)
{
    static const char *const keys[3] = {"name", "input", "task_id"};
    jtext_span v[3];
    if (wire_body_members(req, out, keys, 3, v) != 0)
        return -1;
    if (!v[0].p || *v[0].p != '"') {
        wire_reply_detail(out, 422, v[0].p ? "name: must be a string" : "name: field required");
        return -1;
    }
    if (!v[1].p || *v[1].p != '{') {
        wire_reply_detail(out, 422, v[1].p ? "input: must be an object" : "input: field required");
        return -1;
    }
    if (v[2].p && *v[2].p != 'n' && *v[2].p != '"') {
        wire_reply_detail(out, 422, "task_id: must be a string");
        return -1;
    }
    c->input = v[1];
    c->has_task_id = v[2].p && *v[2].p == '"';
    if (jtext_string_value(v[0], WIRE_PY_JSON, &c->name) ||
        jtext_compact(v[1].p, v[1].len, &c->args) || util_buf_reserve(&c->args, 0) ||
        (c->has_task_id && jtext_string_value(v[2], WIRE_PY_JSON, &c->task_id))) {
        wire_reply_detail(out, 500, "out of memory");
        return -1;
    }
    return 0;
}

/* A fingerprint of the call's name and input (white space aside): two
 * independent 64-bit hashes, in hex, 32 characters. */
static void call_key(const call_req *c, char key[33])
{
    uint64_t h[2] = {UTIL_FNV_OFFSET, ~UTIL_FNV_OFFSET};
    for (int k = 0; k < 2; k++) {
        h[k] = util_fnv1a64(c->name.data, c->name.len + 1, h[k]);
        h[k] = util_fnv1a64(c->args.data, c->args.len, h[k]);
    }
    snprintf(key, 33, "%016llx%016llx", (unsigned long long)h[0], (unsigned long long)h[1]);
}

static void replay_call(ors_env *env, sess *s, const call_req *c, wire_reply *out)
{
    size_t len;
    const char *task_id = c->task_id.data;
    bool plain = task_id && strlen(task_id) == c->task_id.len;
    char *text = plain ? sess_result_get(s, task_id, now_of(env), &len) : NULL;
    if (!text) {
        reply_call_error(out, "unknown task_id");
        return;
    }
    reply_call_stream(out, task_id, text, len);
    free(text);
}

/* Runs the call (or, when it repeats the graded submission — a client that
 * lost the reply before its task_id — replays the graded result without
 * grading again) and streams the result under a new task id. */
static void run_and_store_call(ors_env *env, sess *s, const call_req *c, wire_reply *out)
{
    char call_id[37], key[33];
    if (sess_uuid4(call_id) != 0) {
        reply_call_error(out, "no random source for a task id");
        return;
    }
    call_key(c, key);
    size_t len = 0;
    char *text = sess_submitted(s) ? sess_graded_get(s, key, &len) : NULL;
    bool graded = false;
    if (!text) {
        json_t *result = run_call(env, s, c, &graded);
        text = result ? wire_dumps(result, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
        json_decref(result);
        if (!text) {
            reply_call_error(out, "out of memory");
            return;
        }
        len = strlen(text);
    }
    /* A result that cannot be stored still reaches the client; only a
     * reconnect would miss it. */
    (void)sess_result_put(s, call_id, text, len, now_of(env) + env->cfg.result_ttl);
    if (graded)
        (void)sess_graded_put(s, key, text, len);
    reply_call_stream(out, call_id, text, len);
    free(text);
}

void ors_call(ors_env *env, const wire_request *req, wire_reply *out)
{
    if (!env_ok(env, req, out))
        return;
    sess *s = active_session(env, req, out);
    if (!s)
        return;
    call_req c = {0};
    if (call_fields(req, out, &c) == 0) {
        if (c.has_task_id)
            replay_call(env, s, &c, out);
        else
            run_and_store_call(env, s, &c, out);
    }
    call_req_free(&c);
    sess_release(env->sessions, s);
}
