/* test_ors_fixture — helpers shared by the ORS tests (see test_ors_fixture.h). */
#include "test_ors_fixture.h"

#include <unistd.h>

double fx_now = 1000.0;

static double fake_clock(void)
{
    return fx_now;
}

void fx_open(fx *f, const ors_config *cfg)
{
    fx_open_train(f, FX_TRAIN, cfg);
}

void fx_open_train(fx *f, const char *train, const ors_config *cfg)
{
    memset(f, 0, sizeof *f);
    const char *texts[3] = {train, FX_TEST, FX_DEV};
    ds_split_spec specs[3] = {{"train", NULL}, {"test", NULL}, {"dev", NULL}};
    for (int i = 0; i < 3; i++) {
        f->paths[i] = tu_write_temp(texts[i], strlen(texts[i]), ".jsonl");
        cr_assert(f->paths[i]);
        specs[i].path = f->paths[i];
    }
    ds_open_options opts = {.validate = true, .threads = 1};
    char err[512];
    cr_assert_eq(ds_open(&f->ds, specs, 3, &opts, err, sizeof err), 0, "ds_open: %s", err);
    f->m = metrics_new();
    cr_assert(f->m);
    ors_config def;
    if (!cfg) {
        ors_config_default(&def);
        def.clock = fake_clock;
        cfg = &def;
    }
    f->env = ors_env_new(f->ds, cfg, f->m, err, sizeof err);
    cr_assert(f->env, "ors_env_new: %s", err);
}

void fx_close(fx *f)
{
    ors_env_free(f->env);
    metrics_free(f->m);
    ds_close(f->ds);
    for (int i = 0; i < 3; i++) {
        if (f->paths[i])
            unlink(f->paths[i]);
        free(f->paths[i]);
    }
}

wire_reply fx_call(fx *f, fx_handler h, const char *param, const char *sid, const char *body)
{
    wire_request req = {
        .method = body ? "POST" : "GET",
        .path = "/",
        .session_id = sid,
        .body = body,
        .body_len = body ? strlen(body) : 0,
        .param = param,
    };
    wire_reply r = {0};
    h(f->env, &req, &r);
    cr_assert(r.status >= 200 && r.status < 600, "no status set");
    cr_assert(r.content_type, "no content type");
    return r;
}

json_t *fx_json(const wire_reply *r)
{
    cr_assert_str_eq(r->content_type, WIRE_JSON);
    json_error_t e;
    json_t *j = json_loadb(r->body, r->body_len, JSON_DECODE_ANY, &e);
    cr_assert(j, "reply is not JSON (%s): %.*s", e.text, (int)r->body_len, r->body);
    return j;
}

void fx_expect_detail(const wire_reply *r, int status, const char *detail)
{
    cr_assert_eq(r->status, status, "status %d, expected %d: %.*s", r->status, status,
                 (int)r->body_len, r->body);
    json_t *j = fx_json(r);
    cr_assert(json_is_object(j) && json_object_size(j) == 1);
    const char *d = json_string_value(json_object_get(j, "detail"));
    cr_assert(d, "no detail string");
    if (detail)
        cr_assert_str_eq(d, detail);
    json_decref(j);
}

void fx_create(fx *f, const char *sid, int index)
{
    char body[128];
    snprintf(body, sizeof body, "{\"split\":\"train\",\"index\":%d}", index);
    wire_reply r = fx_call(f, ors_create, NULL, sid, body);
    cr_assert_eq(r.status, 200, "create: %.*s", (int)r.body_len, r.body);
    json_t *j = fx_json(&r);
    cr_assert_str_eq(json_string_value(json_object_get(j, "sid")), sid);
    json_decref(j);
    wire_reply_free(&r);
}

/* Reads "event: NAME\n" + one "data: ...\n" line + "\n" at *pos; returns
 * the data (malloc) and the event name in ev. */
static char *read_event(const char *s, size_t len, size_t *pos, char ev[32])
{
    const char *p = s + *pos, *end = s + len;
    cr_assert(end - p > 7 && memcmp(p, "event: ", 7) == 0, "no event line at %zu", *pos);
    p += 7;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    cr_assert(nl && nl - p < 32);
    memcpy(ev, p, (size_t)(nl - p));
    ev[nl - p] = '\0';
    p = nl + 1;
    cr_assert(end - p >= 6 && memcmp(p, "data: ", 6) == 0, "no data line");
    p += 6;
    nl = memchr(p, '\n', (size_t)(end - p));
    cr_assert(nl);
    char *data = strndup(p, (size_t)(nl - p));
    p = nl + 1;
    cr_assert(p < end && *p == '\n', "event not ended by a blank line");
    *pos = (size_t)(p + 1 - s);
    return data;
}

json_t *fx_tool_call(fx *f, const char *sid, const char *body, char *call_id)
{
    wire_reply r = fx_call(f, ors_call, FX_ENV, sid, body);
    cr_assert_eq(r.status, 200, "call: %.*s", (int)r.body_len, r.body);
    cr_assert_str_eq(r.content_type, WIRE_SSE);
    size_t pos = 0;
    char ev[32];
    char *id = read_event(r.body, r.body_len, &pos, ev);
    cr_assert_str_eq(ev, "task_id");
    cr_assert_eq(strlen(id), 36);
    if (call_id)
        memcpy(call_id, id, 37);
    free(id);
    size_t cap = 1, n = 0;
    char *all = calloc(1, 1);
    for (;;) {
        char *data = read_event(r.body, r.body_len, &pos, ev);
        size_t dl = strlen(data);
        cr_assert(dl <= 4096, "piece of %zu characters", dl);
        cr_assert(strcmp(ev, "chunk") == 0 || strcmp(ev, "end") == 0, "event %s", ev);
        if (strcmp(ev, "chunk") == 0)
            cr_assert_eq(dl, 4096, "a chunk before the end must be full");
        all = realloc(all, cap += dl);
        memcpy(all + n, data, dl + 1);
        n += dl;
        free(data);
        if (strcmp(ev, "end") == 0)
            break;
    }
    cr_assert_eq(pos, r.body_len, "bytes after the end event");
    wire_reply_free(&r);
    json_error_t e;
    json_t *j = json_loadb(all, n, JSON_ALLOW_NUL, &e);
    cr_assert(j, "result is not JSON: %s", e.text);
    for (size_t i = 0; i < n; i++)
        cr_assert((unsigned char)all[i] < 0x80, "result is not ASCII");
    free(all);
    return j;
}
