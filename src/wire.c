/* wire — transport-neutral requests and replies (see wire.h).
 *
 * Replies are plain heap buffers. JSON replies are dumped compactly by
 * jansson; SSE replies are built by appending whole events, each data line
 * prefixed with "data: ". Error details are always valid UTF-8 because they
 * can quote client input: invalid bytes are replaced before they reach
 * jansson, which would otherwise refuse the string.
 */
#include "wire.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistr.h>
#include "util.h"

static void reply_reset(wire_reply *r)
{
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
}

/* The fixed reply used when memory runs out while building another one. */
static void reply_oom(wire_reply *r)
{
    static const char msg[] = "{\"detail\":\"out of memory\"}";
    reply_reset(r);
    r->status = 500;
    r->content_type = WIRE_JSON;
    r->body = malloc(sizeof msg);
    if (r->body) {
        memcpy(r->body, msg, sizeof msg);
        r->body_len = sizeof msg - 1;
    }
}

/* Significant digits that print d so that it reads back exactly, and so that
 * %g keeps plain notation where Python's repr does (|d| < 1e16). */
static int digits_for(double d)
{
    int p = 1;
    char buf[40];
    for (; p < 17; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    double a = fabs(d);
    if (a >= 1 && a < 1e16) {
        int e = (int)floor(log10(a)) + 1;   /* integer digits */
        p = e > p ? e : p;
    }
    return p > 17 ? 17 : p;
}

/* The precision that prints every real inside v exactly and as briefly as
 * possible (jansson's default of 17 digits writes 0.1 as 0.10000000000000001). */
static int real_precision(const json_t *v, int p)
{
    if (json_is_real(v)) {
        int d = digits_for(json_real_value(v));
        return d > p ? d : p;
    }
    size_t i;
    const char *key;
    json_t *x;
    if (json_is_array(v))
        json_array_foreach(v, i, x) p = real_precision(x, p);
    else if (json_is_object(v))
        json_object_foreach((json_t *)v, key, x) p = real_precision(x, p);
    return p;
}

char *wire_dumps(const json_t *v, size_t flags)
{
    return json_dumps(v, flags | JSON_ENCODE_ANY | JSON_REAL_PRECISION(real_precision(v, 1)));
}

void wire_reply_take(wire_reply *r, int status, const char *content_type, char *body, size_t len)
{
    reply_reset(r);
    r->status = status;
    r->content_type = content_type;
    r->body = body;
    r->body_len = len;
}

void wire_reply_json(wire_reply *r, int status, json_t *body)
{
    char *text = body ? wire_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (text)
        wire_reply_take(r, status, WIRE_JSON, text, strlen(text));
    else
        reply_oom(r);
}

/* A copy of s (len bytes) with every invalid UTF-8 sequence replaced by
 * U+FFFD; caller frees. NULL on allocation failure. */
static char *utf8_sanitize(const char *s, size_t len, size_t *outlen)
{
    char *out = malloc(len * 3 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    const uint8_t *p = (const uint8_t *)s, *end = p + len;
    while (p < end) {
        ucs4_t uc;
        int n = u8_mbtoucr(&uc, p, (size_t)(end - p));
        if (n > 0) {
            memcpy(out + o, p, (size_t)n);
            o += (size_t)n;
            p += n;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            p++;
        }
    }
    out[o] = '\0';
    *outlen = o;
    return out;
}

json_t *wire_string(const char *s, size_t len)
{
    json_t *j = json_stringn(s, len);
    if (j)
        return j;
    size_t n;
    char *clean = utf8_sanitize(s, len, &n);
    if (!clean)
        return NULL;
    j = json_stringn(clean, n);
    free(clean);
    return j;
}

void wire_reply_detail(wire_reply *r, int status, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    size_t len = (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1;
    json_t *msg = wire_string(buf, len);
    json_t *obj = msg ? json_object() : NULL;
    if (!obj || json_object_set_new(obj, "detail", msg) != 0) {
        if (!obj)
            json_decref(msg);
        json_decref(obj);
        reply_oom(r);
        return;
    }
    wire_reply_json(r, status, obj);
}

/* Length of the line starting at data (up to CR, LF or the end), and the
 * length of its terminator in *eol (0 at the end of data). */
static size_t line_len(const char *data, size_t len, size_t *eol)
{
    size_t i = 0;
    while (i < len && data[i] != '\n' && data[i] != '\r')
        i++;
    *eol = 0;
    if (i < len)
        *eol = (data[i] == '\r' && i + 1 < len && data[i + 1] == '\n') ? 2 : 1;
    return i;
}

void wire_reply_sse_event(wire_reply *r, const char *event, const char *data, size_t len)
{
    if (!r->content_type || strcmp(r->content_type, WIRE_SSE) != 0 || r->status != 200) {
        reply_reset(r);
        r->status = 200;
        r->content_type = WIRE_SSE;
    }
    /* the body so far (an SSE body: NUL-terminated, allocated to its end) */
    util_buf b = {r->body, r->body_len, r->body ? r->body_len + 1 : 0};
    int bad = util_buf_puts(&b, "event: ") || util_buf_puts(&b, event) || util_buf_putc(&b, '\n');
    size_t pos = 0;
    do {
        size_t eol, n = line_len(data + pos, len - pos, &eol);
        bad = bad || util_buf_puts(&b, "data: ") || util_buf_append(&b, data + pos, n) ||
              util_buf_putc(&b, '\n');
        pos += n + eol;
        if (eol && pos == len)  /* a trailing line break starts one empty line */
            bad = bad || util_buf_puts(&b, "data: \n");
    } while (pos < len && !bad);
    bad = bad || util_buf_putc(&b, '\n');
    r->body = util_buf_take(&b, &r->body_len);
    if (bad || !r->body)
        reply_oom(r);
}

json_t *wire_body_object(const wire_request *req, wire_reply *r)
{
    if (!req->body || req->body_len == 0) {
        wire_reply_detail(r, 422, "request body: a JSON object is required");
        return NULL;
    }
    json_error_t e;
    json_t *j = json_loadb(req->body, req->body_len, JSON_ALLOW_NUL, &e);
    if (!j)   /* Python's numbers too (a task_spec echoing a trajectory_id of 2^63) */
        j = jtext_build(req->body, req->body_len, JTEXT_PY);
    if (!j) {
        wire_reply_detail(r, 422, "request body is not valid JSON: %s (line %d, column %d)",
                          e.text, e.line, e.column);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        wire_reply_detail(r, 422, "request body must be a JSON object");
        return NULL;
    }
    return j;
}

int wire_body_members(const wire_request *req, wire_reply *r, const char *const *keys, size_t n,
                      jtext_span *out)
{
    for (size_t k = 0; k < n; k++)
        out[k] = (jtext_span){NULL, 0};
    if (!req->body || req->body_len == 0) {
        wire_reply_detail(r, 422, "request body: a JSON object is required");
        return -1;
    }
    char why[200];
    if (jtext_object_members(req->body, req->body_len, WIRE_PY_JSON, keys, n, out, why, sizeof why)) {
        if (!strncmp(why, "not a JSON object", 17))
            wire_reply_detail(r, 422, "request body must be a JSON object");
        else
            wire_reply_detail(r, 422, "request body is not valid JSON: %s", why);
        return -1;
    }
    return 0;
}

void wire_reply_free(wire_reply *r)
{
    free(r->body);
    free(r->location);
    memset(r, 0, sizeof *r);
}
