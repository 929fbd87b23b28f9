/* cli_eval_run — the request engine of `fcpivot eval` (see cli_eval_run.h).
 *
 * How it works: one thread, one libcurl multi handle and a pool of 2 × -c
 * transfer slots, each with its own easy handle (reused, so connections stay
 * alive in the multi handle's cache). A slot is FREE, ACTIVE (a request in
 * flight) or WAITING (a retry due at ready_at). The loop starts due retries
 * first, then fresh jobs from ops.next, while fewer than `limit` requests
 * are in flight, picking the URL with the fewest in flight; it then polls
 * (at most TICK_MS, so signals and deadlines are seen promptly) and handles
 * finished transfers:
 *   - transport errors and 429/500/502/503/504/529 are retried after
 *     min(60, 2^n) × U(0.5, 1) seconds (n = retries so far) or the server's
 *     Retry-After (seconds or an HTTP date, capped at 60 s), while attempts
 *     stay within max_attempts and the job within retry_deadline;
 *   - a 429/503 halves `limit`; EVRUN_GROW_EVERY successes add one back;
 *   - 401/403 and "model not found" stop the run (EVRUN_FATAL) after what
 *     is in flight, as do EVRUN_SAME_4XX_FATAL identical 4xx first replies;
 *   - a 400 about the context length goes to ops.overflow, other 4xx fail;
 *   - a 2xx goes to ops.reply, which may call it a bad response (retried
 *     once).
 * The first signal stops sending and drains for EVRUN_DRAIN_S; a second one
 * (or the drain deadline) abandons what is in flight.
 */
#include "cli_eval_run.h"

#include "cli_curl.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "jtext.h"

#define TICK_MS 200
#define PROGRESS_EVERY_S 0.2

enum { SLOT_FREE, SLOT_ACTIVE, SLOT_WAITING };

typedef struct slot {
    CURL *h;
    int state;
    long id;
    util_buf body, reply;
    double retry_after;     /* from the last reply, -1 if none */
    unsigned attempts;      /* across runs */
    unsigned tries;         /* attempts in this run */
    bool bad_once;
    double t_first, t_start, ready_at;
    size_t url;
} slot;

typedef struct engine {
    const evrun_config *cfg;
    const evrun_ops *ops;
    void *ctx;
    CURLM *multi;
    struct curl_slist *headers;
    slot *slots;
    size_t nslots;
    size_t *url_load;       /* in flight per URL */
    char **full_urls;
    evrun_stats st;
    size_t successes;       /* since the last limit change */
    bool exhausted, fatal, nomem;
    long first_status;      /* the first replies' common 4xx, or -1 once mixed */
    size_t first_seen;
    uint64_t rng;
    char fatal_msg[1024];
} engine;

/* ---- small helpers ---------------------------------------------------------- */

void evrun_redact(util_buf *b, const char *key)
{
    size_t klen = key ? strlen(key) : 0;
    if (!klen || !b->data)
        return;
    char *p;
    size_t from = 0;
    while ((p = memmem(b->data + from, b->len - from, key, klen))) {
        size_t at = (size_t)(p - b->data);
        memcpy(p, "***", 3 < klen ? 3 : klen);
        if (klen > 3) {
            memmove(p + 3, p + klen, b->len - at - klen + 1);
            b->len -= klen - 3;
        }
        from = at + (3 < klen ? 3 : klen);
    }
}

static double uniform01(engine *e)
{
    e->rng ^= e->rng << 13;
    e->rng ^= e->rng >> 7;
    e->rng ^= e->rng << 17;
    return (double)(e->rng >> 11) / 9007199254740992.0;
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    slot *s = ctx;
    return util_buf_append(&s->reply, p, size * n) ? 0 : size * n;
}

/* Retry-After: delta seconds or an HTTP date; -1 when absent or unreadable. */
static double parse_retry_after(const char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    char *end;
    double secs = strtod(v, &end);
    if (end != v && secs >= 0) {
        while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
            end++;
        if (!*end)
            return secs;
    }
    char date[128];
    size_t n = strcspn(v, "\r\n");
    if (n == 0 || n >= sizeof date)
        return -1;
    memcpy(date, v, n);
    date[n] = '\0';
    time_t t = curl_getdate(date, NULL);
    if (t < 0)
        return -1;
    double d = (double)t - util_now_real();
    return d < 0 ? 0 : d;
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
    slot *s = ctx;
    size_t len = size * n;
    static const char NAME[] = "retry-after:";
    if (len > sizeof NAME - 1 && !strncasecmp(p, NAME, sizeof NAME - 1)) {
        char v[160];
        size_t vl = len - (sizeof NAME - 1);
        if (vl >= sizeof v)
            vl = sizeof v - 1;
        memcpy(v, p + sizeof NAME - 1, vl);
        v[vl] = '\0';
        s->retry_after = parse_retry_after(v);
    }
    return len;
}

static bool contains_ci(const char *s, size_t len, const char *needle)
{
    size_t nl = strlen(needle);
    for (size_t i = 0; i + nl <= len; i++)
        if (!strncasecmp(s + i, needle, nl))
            return true;
    return false;
}

/* ---- the request log ---------------------------------------------------------- */

static void log_attempt(engine *e, slot *s, long status, CURLcode rc, double ms)
{
    FILE *f = e->cfg->request_log;
    if (!f)
        return;
    util_buf b = UTIL_BUF_INIT;
    util_buf_puts(&b, "{\"url\":");
    util_buf_json_string(&b, e->full_urls[s->url], strlen(e->full_urls[s->url]));
    util_buf_printf(&b, ",\"id\":%ld,\"attempt\":%u,\"request\":", s->id, s->attempts);
    util_buf_append(&b, s->body.data, s->body.len);
    util_buf_printf(&b, ",\"status\":%ld,\"reply\":", status);
    if (rc != CURLE_OK) {
        const char *why = curl_easy_strerror(rc);
        util_buf_puts(&b, "null,\"error\":");
        util_buf_json_string(&b, why, strlen(why));
    } else if (s->reply.len && jtext_valid(s->reply.data, s->reply.len, JTEXT_BIG_INTS, NULL, 0)) {
        util_buf_append(&b, s->reply.data, s->reply.len);
    } else {
        util_buf_json_string(&b, s->reply.data ? s->reply.data : "", s->reply.len);
    }
    util_buf_printf(&b, ",\"ms\":%.1f}\n", ms);
    evrun_redact(&b, e->cfg->api_key);
    if (b.data)
        fwrite(b.data, 1, b.len, f);
    fflush(f);
    util_buf_free(&b);
}

/* ---- starting attempts ------------------------------------------------------- */

static size_t pick_url(const engine *e)
{
    size_t best = 0;
    for (size_t i = 1; i < e->cfg->nurls; i++)
        if (e->url_load[i] < e->url_load[best])
            best = i;
    return best;
}

static long to_ms(double s)
{
    return s > 0 ? (long)ceil(s * 1000.0) : 0;
}

static bool start_attempt(engine *e, slot *s)
{
    s->url = pick_url(e);
    s->reply.len = 0;
    s->retry_after = -1;
    CURL *h = s->h;
    curl_easy_setopt(h, CURLOPT_URL, e->full_urls[s->url]);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, s->body.data);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)s->body.len);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, e->headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, to_ms(e->cfg->connect_timeout));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, to_ms(e->cfg->request_timeout));
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PRIVATE, s);
    if (curl_multi_add_handle(e->multi, h) != CURLM_OK)
        return false;
    s->state = SLOT_ACTIVE;
    s->attempts++;
    if (s->tries++)
        e->st.retries++;
    s->t_start = util_now_mono();
    if (s->tries == 1)
        s->t_first = s->t_start;
    e->url_load[s->url]++;
    e->st.in_flight++;
    if (e->st.in_flight > e->st.max_in_flight)
        e->st.max_in_flight = e->st.in_flight;
    return true;
}

static slot *free_slot(engine *e)
{
    for (size_t i = 0; i < e->nslots; i++)
        if (e->slots[i].state == SLOT_FREE)
            return &e->slots[i];
    return NULL;
}

static bool sending(engine *e, bool draining)
{
    if (draining || e->fatal || e->nomem)
        return false;
    return !(e->ops->stop && e->ops->stop(e->ctx));
}

/* Starts due retries, then new jobs, up to the limit. */
static void fill(engine *e, double now)
{
    for (size_t i = 0; i < e->nslots && e->st.in_flight < e->st.limit; i++) {
        slot *s = &e->slots[i];
        if (s->state == SLOT_WAITING && s->ready_at <= now) {
            e->st.waiting--;
            if (!start_attempt(e, s))
                e->nomem = true;
        }
    }
    while (!e->exhausted && e->st.in_flight < e->st.limit) {
        slot *s = free_slot(e);
        if (!s)
            break;
        s->body.len = 0;
        unsigned prior = 0;
        long id = e->ops->next(e->ctx, &s->body, &prior);
        if (id < 0) {
            e->exhausted = true;
            break;
        }
        s->id = id;
        s->attempts = prior;
        s->tries = 0;
        s->bad_once = false;
        if (!start_attempt(e, s)) {
            e->nomem = true;
            break;
        }
    }
}

/* ---- outcomes ------------------------------------------------------------------ */

static void release(slot *s)
{
    s->state = SLOT_FREE;
    if (s->body.cap > (1u << 20))
        util_buf_free(&s->body);
    if (s->reply.cap > (1u << 20))
        util_buf_free(&s->reply);
}

static void fail(engine *e, slot *s, const char *error, long status, const char *message,
                 bool deterministic)
{
    util_buf msg = UTIL_BUF_INIT;
    util_buf_puts(&msg, message);
    evrun_redact(&msg, e->cfg->api_key);
    evrun_redact(&s->reply, e->cfg->api_key);
    size_t blen = s->reply.len < EVRUN_BODY_PREFIX ? s->reply.len : EVRUN_BODY_PREFIX;
    evrun_failure f = {
        .error = error, .http_status = status, .message = msg.data ? msg.data : "",
        .body = s->reply.data ? s->reply.data : "", .body_len = blen,
        .attempts = s->attempts, .elapsed_ms = (util_now_mono() - s->t_first) * 1000.0,
        .deterministic = deterministic,
    };
    e->ops->fail(e->ctx, s->id, &f);
    util_buf_free(&msg);
    release(s);
}

/* Schedules another attempt, or fails the job when out of attempts/time. */
static void retry_or_fail(engine *e, slot *s, const char *error, long status,
                          const char *message, bool immediate)
{
    double now = util_now_mono();
    double delay = 0;
    if (!immediate) {
        double n = (double)(s->tries > 0 ? s->tries - 1 : 0);
        delay = fmin(EVRUN_MAX_DELAY_S, pow(2.0, n)) * (0.5 + 0.5 * uniform01(e));
        if (s->retry_after >= 0)
            delay = fmin(EVRUN_MAX_DELAY_S, s->retry_after);
    }
    if (s->attempts >= e->cfg->max_attempts ||
        now + delay - s->t_first > e->cfg->retry_deadline) {
        fail(e, s, error, status, message, false);
        return;
    }
    s->state = SLOT_WAITING;
    s->ready_at = now + delay;
    e->st.waiting++;
}

static void set_fatal(engine *e, const char *fmt, long status, const util_buf *body)
{
    if (e->fatal)
        return;
    e->fatal = true;
    util_buf m = UTIL_BUF_INIT;
    util_buf_printf(&m, fmt, status);
    if (body && body->len) {
        util_buf_puts(&m, ": ");
        util_buf_append(&m, body->data, body->len < 600 ? body->len : 600);
    }
    evrun_redact(&m, e->cfg->api_key);
    snprintf(e->fatal_msg, sizeof e->fatal_msg, "%s", m.data ? m.data : "out of memory");
    util_buf_free(&m);
}

/* Tracks whether the first replies are all the same 4xx. */
static void note_first(engine *e, long status, const util_buf *body)
{
    if (e->first_seen >= EVRUN_SAME_4XX_FATAL)
        return;
    e->first_seen++;
    if (e->first_seen == 1)
        e->first_status = status;
    else if (status != e->first_status)
        e->first_status = -1;
    if (e->first_seen == EVRUN_SAME_4XX_FATAL && e->first_status >= 400 &&
        e->first_status < 500)
        set_fatal(e,
                  "the first 20 requests were all refused with HTTP %ld (a misconfigured "
                  "server? vLLM needs --enable-auto-tool-choice --tool-call-parser NAME, "
                  "llama.cpp's llama-server needs --jinja)",
                  e->first_status, body);
}

static void on_success(engine *e)
{
    if (++e->successes >= EVRUN_GROW_EVERY) {
        e->successes = 0;
        if (e->st.limit < e->cfg->concurrency)
            e->st.limit++;
    }
}

static void on_throttle(engine *e)
{
    e->successes = 0;
    e->st.limit = e->st.limit > 1 ? e->st.limit / 2 : 1;
}

static bool is_retry_status(long st)
{
    return st == 429 || st == 500 || st == 502 || st == 503 || st == 504 || st == 529;
}

static bool is_overflow(const util_buf *b)
{
    return contains_ci(b->data, b->len, "context length") ||
           contains_ci(b->data, b->len, "max_tokens") ||
           contains_ci(b->data, b->len, "context_length");
}

static bool is_model_not_found(long st, const util_buf *b)
{
    return (st == 404 || st == 400) && contains_ci(b->data, b->len, "model") &&
           (contains_ci(b->data, b->len, "not found") ||
            contains_ci(b->data, b->len, "does not exist") ||
            contains_ci(b->data, b->len, "model_not_found"));
}

static void handle_http(engine *e, slot *s, long st, const evrun_attempt *a)
{
    char msg[160];
    snprintf(msg, sizeof msg, "HTTP %ld", st);
    if (st >= 200 && st < 300) {
        int r = e->ops->reply(e->ctx, s->id, s->reply.data ? s->reply.data : "", s->reply.len, a);
        if (r == EVRUN_ACCEPT) {
            on_success(e);
            release(s);
        } else if (!s->bad_once && s->attempts < e->cfg->max_attempts) {
            s->bad_once = true;
            retry_or_fail(e, s, "bad_response", st, "the reply is not a usable completion", true);
        } else {
            fail(e, s, "bad_response", st, "the reply is not a usable completion", false);
        }
        return;
    }
    if (is_retry_status(st)) {
        if (st == 429 || st == 503)
            on_throttle(e);
        retry_or_fail(e, s, st == 429 ? "http_429" : "http_5xx", st, msg, false);
    } else if (st == 401 || st == 403) {
        set_fatal(e, "the server refused the API key (HTTP %ld)", st, &s->reply);
        fail(e, s, "auth", st, msg, false);
    } else if (is_model_not_found(st, &s->reply)) {
        set_fatal(e, "the model was not found (HTTP %ld)", st, &s->reply);
        fail(e, s, "http_4xx", st, msg, false);
    } else if (st == 400 && is_overflow(&s->reply)) {
        evrun_redact(&s->reply, e->cfg->api_key);
        e->ops->overflow(e->ctx, s->id, s->reply.data, s->reply.len, a);
        release(s);
    } else if (st >= 400 && st < 500) {
        fail(e, s, "http_4xx", st, msg, true);
    } else {
        fail(e, s, "http_5xx", st, msg, false);
    }
}

static void finished(engine *e, CURL *h, CURLcode rc)
{
    slot *s = NULL;
    curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&s);
    curl_multi_remove_handle(e->multi, h);
    e->st.in_flight--;
    e->url_load[s->url]--;
    double now = util_now_mono();
    double ms = (now - s->t_start) * 1000.0;
    long st = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
    log_attempt(e, s, st, rc, ms);
    evrun_attempt a = {s->attempts, ms, (now - s->t_first) * 1000.0};
    if (rc != CURLE_OK) {
        const char *cls = rc == CURLE_OPERATION_TIMEDOUT ? "timeout" : "connect";
        retry_or_fail(e, s, cls, 0, curl_easy_strerror(rc), false);
        return;
    }
    note_first(e, st, &s->reply);
    handle_http(e, s, st, &a);
}

/* ---- the loop ---------------------------------------------------------------------- */

static bool engine_init(engine *e, const evrun_config *cfg, const evrun_ops *ops, void *ctx)
{
    memset(e, 0, sizeof *e);
    e->cfg = cfg;
    e->ops = ops;
    e->ctx = ctx;
    e->first_status = -1;
    e->rng = (uint64_t)getpid() * 0x9E3779B97F4A7C15ull ^ (uint64_t)(util_now_real() * 1e6);
    if (!e->rng)
        e->rng = 1;
    e->st.limit = cfg->concurrency;
    e->nslots = (size_t)cfg->concurrency * 2;
    e->slots = calloc(e->nslots, sizeof *e->slots);
    e->url_load = calloc(cfg->nurls, sizeof *e->url_load);
    e->full_urls = calloc(cfg->nurls, sizeof *e->full_urls);
    e->multi = curl_multi_init();
    if (!e->slots || !e->url_load || !e->full_urls || !e->multi)
        return false;
    curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, (long)cfg->concurrency + 8);
    for (size_t i = 0; i < cfg->nurls; i++) {
        util_buf u = UTIL_BUF_INIT;
        if (util_buf_printf(&u, "%s%s", cfg->urls[i], cfg->path))
            return false;
        e->full_urls[i] = u.data;
    }
    for (size_t i = 0; i < e->nslots; i++)
        if (!(e->slots[i].h = curl_easy_init()))
            return false;
    return true;
}

static struct curl_slist *base_headers(const evrun_config *cfg, bool json)
{
    struct curl_slist *l = NULL;
    if (json)
        l = curl_slist_append(l, "Content-Type: application/json");
    l = curl_slist_append(l, "Expect:");
    if (cfg->api_key && *cfg->api_key) {
        util_buf b = UTIL_BUF_INIT;
        util_buf_printf(&b, "Authorization: Bearer %s", cfg->api_key);
        l = curl_slist_append(l, b.data);
        memset(b.data, 0, b.len);
        util_buf_free(&b);
    }
    for (size_t i = 0; i < cfg->nheaders; i++)
        l = curl_slist_append(l, cfg->headers[i]);
    return l;
}

static void engine_free(engine *e)
{
    for (size_t i = 0; e->slots && i < e->nslots; i++) {
        slot *s = &e->slots[i];
        if (s->state == SLOT_ACTIVE)
            curl_multi_remove_handle(e->multi, s->h);
        if (s->h)
            curl_easy_cleanup(s->h);
        util_buf_free(&s->body);
        util_buf_free(&s->reply);
    }
    if (e->multi)
        curl_multi_cleanup(e->multi);
    for (size_t i = 0; e->full_urls && i < e->cfg->nurls; i++)
        free(e->full_urls[i]);
    free(e->full_urls);
    free(e->slots);
    free(e->url_load);
    curl_slist_free_all(e->headers);
}

static int poll_ms(const engine *e, double now)
{
    double next = now + TICK_MS / 1000.0;
    for (size_t i = 0; i < e->nslots; i++)
        if (e->slots[i].state == SLOT_WAITING && e->slots[i].ready_at < next)
            next = e->slots[i].ready_at;
    double ms = (next - now) * 1000.0;
    return ms < 0 ? 0 : (int)ms + 1;
}

void evrun_run(const evrun_config *cfg, const evrun_ops *ops, void *ctx, evrun_result *out)
{
    memset(out, 0, sizeof *out);
    engine e;
    bool ok = engine_init(&e, cfg, ops, ctx);
    e.headers = ok ? base_headers(cfg, true) : NULL;
    if (!ok || !e.headers) {
        out->end = EVRUN_NOMEM;
        engine_free(&e);
        return;
    }
    bool draining = false;
    double drain_until = 0, last_progress = 0;
    out->end = EVRUN_DONE;
    for (;;) {
        double now = util_now_mono();
        sig_atomic_t sigs = cfg->signals ? *cfg->signals : 0;
        if (sigs >= 2 || (draining && now > drain_until)) {
            out->end = EVRUN_ABANDONED;
            break;
        }
        if (sigs == 1 && !draining) {
            draining = true;
            drain_until = now + EVRUN_DRAIN_S;
        }
        bool send = sending(&e, draining);
        if (send)
            fill(&e, now);
        if (e.st.in_flight == 0 && (!send || (e.exhausted && e.st.waiting == 0)))
            break;
        curl_multi_poll(e.multi, NULL, 0, poll_ms(&e, now), NULL);
        int running;
        curl_multi_perform(e.multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(e.multi, &left)))
            if (m->msg == CURLMSG_DONE)
                finished(&e, m->easy_handle, m->data.result);
        if (ops->progress && now - last_progress >= PROGRESS_EVERY_S) {
            last_progress = now;
            ops->progress(ctx, &e.st);
        }
    }
    if (out->end == EVRUN_DONE) {
        if (draining)
            out->end = EVRUN_INTERRUPTED;
        else if (e.nomem)
            out->end = EVRUN_NOMEM;
        else if (e.fatal)
            out->end = EVRUN_FATAL;
        else if (!e.exhausted || e.st.waiting)
            out->end = EVRUN_STOPPED;
    }
    snprintf(out->message, sizeof out->message, "%s", e.fatal_msg);
    out->stats = e.st;
    if (ops->progress)
        ops->progress(ctx, &e.st);
    engine_free(&e);
}

long evrun_get(const evrun_config *cfg, const char *url, const char *path, util_buf *body,
               char *err, size_t errsz)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = base_headers(cfg, false);
    util_buf full = UTIL_BUF_INIT;
    if (!h || !hdrs || util_buf_printf(&full, "%s%s", url, path)) {
        snprintf(err, errsz, "out of memory");
        curl_easy_cleanup(h);
        curl_slist_free_all(hdrs);
        util_buf_free(&full);
        return 0;
    }
    slot s;
    memset(&s, 0, sizeof s);
    curl_easy_setopt(h, CURLOPT_URL, full.data);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, to_ms(cfg->connect_timeout));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, to_ms(cfg->request_timeout));
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(h);
    long st = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
    else
        snprintf(err, errsz, "%s: %s", full.data, curl_easy_strerror(rc));
    evrun_redact(&s.reply, cfg->api_key);
    if (s.reply.len)
        util_buf_append(body, s.reply.data, s.reply.len);
    util_buf_free(&s.reply);
    util_buf_free(&full);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return st;
}

int evrun_global(bool init, char *err, size_t errsz)
{
    if (!init) {
        curl_global_cleanup();
        return 0;
    }
    if (cli_curl_load(err, errsz) != 0)
        return -1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return 0;
}
