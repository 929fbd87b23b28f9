/* Fuzz target: HTTP request handling of the whole server (http + server +
 * ors + gym), in-process on loopback.
 *
 * LLVMFuzzerInitialize writes a small dataset (a call, a message and a batch
 * task), opens it and starts the server on an ephemeral 127.0.0.1 port with a
 * 64 KiB body limit and a short session TTL. Each input is sent as raw bytes
 * on a new connection (so several pipelined requests per input are possible,
 * e.g. a whole episode), the write side is shut down and the replies read
 * until all that are due have come (counted from the input when it is plain
 * enough), the server closes, or it falls quiet after answering. Checks: the
 * server answers or closes within a bound (no hang), every reply is well-framed HTTP/1.1 (status line, headers,
 * Content-Length or chunked body), no reply is a 500 (an internal error is a
 * bug: every failure has a proper status), and every JSON body parses; when
 * the first request's framing must be refused (framing_refusal: both
 * Content-Length and Transfer-Encoding, two different lengths, a coding
 * other than chunked), the reply is exactly one 400 or 501 that closes the
 * connection, so nothing smuggled after it is answered. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "ds.h"
#include "fuzzutil.h"
#include "server.h"

#define CLOSE_DEADLINE_S 8.0
#define QUIET_MS 250

static unsigned g_port;

static const char ROWS[] =
    "{\"responses_create_params\": {\"input\": [{\"role\": \"user\", \"content\": \"Weather in "
    "Paris?\"}], \"tools\": [{\"type\": \"function\", \"name\": \"get_weather\", \"parameters\": "
    "{\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}}}]}, "
    "\"expected_action\": {\"type\": \"function_call\", \"name\": \"get_weather\", "
    "\"arguments\": \"{\\\"city\\\": \\\"Paris\\\"}\"}, \"trajectory_id\": 1, \"info\": "
    "{\"turn\": 1}}\n"
    "{\"responses_create_params\": {\"input\": [{\"role\": \"user\", \"content\": [{\"type\": "
    "\"input_text\", \"text\": \"Hi\"}], \"type\": \"message\"}], \"tools\": []}, "
    "\"expected_action\": {\"type\": \"message\", \"content\": \"Hello!\"}}\n"
    "{\"responses_create_params\": {\"input\": [{\"role\": \"user\", \"content\": \"Two "
    "cities\"}], \"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", "
    "\"parameters\": {\"type\": \"object\"}}}]}, \"expected_action\": {\"type\": "
    "\"function_call_batch\", \"calls\": [{\"type\": \"function_call\", \"name\": "
    "\"get_weather\", \"arguments\": \"{\\\"city\\\": \\\"Paris\\\"}\"}, {\"type\": "
    "\"function_call\", \"name\": \"get_weather\", \"arguments\": \"{\\\"city\\\": "
    "\\\"Rome\\\"}\"}]}}\n";

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc; (void)argv;
    char path[128], err[512];
    snprintf(path, sizeof path, "/tmp/fcpivot-fuzz-http-%d.jsonl", (int)getpid());
    FILE *f = fopen(path, "w");
    if (!f || fputs(ROWS, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "fuzz http: cannot write %s\n", path);
        exit(1);
    }
    ds_split_spec split = {.name = "train", .path = path};
    ds_open_options dopts = {.validate = true, .threads = 1};
    ds_dataset *ds;
    if (ds_open(&ds, &split, 1, &dopts, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz http: dataset: %s\n", err);
        exit(1);
    }
    unlink(path);   /* the mapping stays valid */
    metrics *m = metrics_new();
    ors_config ocfg;
    ors_config_default(&ocfg);
    ocfg.session_ttl = 5;
    ocfg.result_ttl = 5;
    ors_env *ors = ors_env_new(ds, &ocfg, m, err, sizeof err);
    grade_config gcfg;
    grade_config_default(&gcfg);
    gym_env *gym = gym_env_new(&gcfg, m);
    server_options so;
    server_options_default(&so);
    so.port = 0;
    so.threads = 2;
    so.max_body = 64 << 10;
    so.idle_timeout = 2;
    so.reap_interval = 1;
    so.quiet = true;
    server *s = ors && gym ? server_start(&so, ors, gym, m, err, sizeof err) : NULL;
    if (!s) {
        fprintf(stderr, "fuzz http: server: %s\n", err);
        exit(1);
    }
    g_port = server_port(s);
    /* The server lives until the process exits: libFuzzer never returns. */
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void header(const char *head, size_t n, const char *name, char *out, size_t outsz);
static long dechunk(const char *p, size_t n, char **body, size_t *blen, size_t *used);
static size_t count_requests(const uint8_t *d, size_t n, bool *exact);
static size_t complete_replies(const char *buf, size_t len, bool *closing);

/* Sends data and reads the replies: until the server closes, until every
 * reply due has come (when the input is plain enough to count its
 * requests), or after a quiet spell once the replies have stopped.
 * Returns the reply bytes (owned). */
static char *exchange(const uint8_t *data, size_t size, size_t *out_len)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    FUZZ_CHECK(fd >= 0, "socket: %s", strerror(errno));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int rc = connect(fd, (struct sockaddr *)&a, sizeof a);
    FUZZ_CHECK(rc == 0 || errno == EINPROGRESS, "connect: %s", strerror(errno));
    size_t sent = 0, len = 0, cap = 65536;
    char *buf = malloc(cap + 1);
    bool wr_open = true, exact, closing;
    size_t due = count_requests(data, size, &exact);
    double deadline = now_s() + CLOSE_DEADLINE_S;
    for (;;) {
        if (wr_open && sent == size) {
            shutdown(fd, SHUT_WR);
            wr_open = false;
        }
        struct pollfd p = {fd, (short)(POLLIN | (wr_open ? POLLOUT : 0)), 0};
        double left = deadline - now_s();
        FUZZ_CHECK(left > 0, "the server neither answered nor closed within %.0f s "
                   "(%zu of %zu bytes sent, %zu received)", CLOSE_DEADLINE_S, sent, size, len);
        /* Replies due (counted from the input) are waited for until the
         * deadline: a hang is a finding. Otherwise, once our side is shut, a
         * quiet spell ends the exchange: libmicrohttpd sometimes notices the
         * client's half-close only at its idle timeout (fuzz/README.md). */
        bool counted = exact && due > 0;
        int wait_ms = (!wr_open && !counted) ? QUIET_MS : (int)(left * 1000) + 1;
        int pr = poll(&p, 1, wait_ms);
        if (pr == 0 && !wr_open && !counted)
            break;
        if (pr < 0 && errno != EINTR)
            break;
        if (wr_open && (p.revents & POLLOUT)) {
            ssize_t w = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
            if (w > 0)
                sent += (size_t)w;
            else if (w < 0 && errno != EAGAIN && errno != EINTR)
                wr_open = false;   /* the server closed first (e.g. after a 413) */
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            if (cap - len < 4096) {
                cap *= 2;
                buf = realloc(buf, cap + 1);
            }
            ssize_t r = recv(fd, buf + len, cap - len, 0);
            if (r > 0)
                len += (size_t)r;
            else if (r == 0 || (errno != EAGAIN && errno != EINTR))
                break;
            if (r > 0 && sent == size) {
                buf[len] = '\0';
                size_t got = complete_replies(buf, len, &closing);
                if (closing || (exact && due > 0 && got >= due))
                    break;
            }
        }
    }
    close(fd);
    buf[len] = '\0';
    *out_len = len;
    return buf;
}

/* Value of header name in head[0..n) (not NUL-terminated), copied; "" if absent. */
static void header(const char *head, size_t n, const char *name, char *out, size_t outsz)
{
    size_t nl = strlen(name);
    out[0] = '\0';
    for (size_t i = 0; i + nl + 1 < n; i++) {
        if ((i == 0 || head[i - 1] == '\n') && !strncasecmp(head + i, name, nl) &&
            head[i + nl] == ':') {
            size_t j = i + nl + 1, k = 0;
            while (j < n && head[j] == ' ')
                j++;
            while (j < n && head[j] != '\r' && head[j] != '\n' && k + 1 < outsz)
                out[k++] = head[j++];
            out[k] = '\0';
            return;
        }
    }
}

/* Decodes a chunked body at p[0..n) into a new buffer; -1 if malformed or
 * incomplete. *used = bytes consumed. */
static long dechunk(const char *p, size_t n, char **body, size_t *blen, size_t *used)
{
    size_t i = 0, cap = 1024, len = 0;
    char *b = malloc(cap);
    for (;;) {
        char *end;
        unsigned long sz = strtoul(p + i, &end, 16);
        const char *crlf = memmem(p + i, n - i, "\r\n", 2);
        if (!crlf || end == p + i) { free(b); return -1; }
        i = (size_t)(crlf - p) + 2;
        if (sz == 0) {
            const char *fin = memmem(p + i - 2, n - (i - 2), "\r\n\r\n", 4);
            if (!fin) { free(b); return -1; }
            *used = (size_t)(fin - p) + 4;
            break;
        }
        if (sz > n - i || n - i - sz < 2) { free(b); return -1; }
        while (len + sz + 1 > cap) { cap *= 2; b = realloc(b, cap); }
        memcpy(b + len, p + i, sz);
        len += sz;
        i += sz + 2;
    }
    b[len] = '\0';
    *body = b;
    *blen = len;
    return 0;
}

/* True when the header block h[0..n) has name more than once. */
static bool header_repeated(const char *h, size_t n, const char *name)
{
    size_t nl = strlen(name), seen = 0;
    for (size_t i = 0; i + nl < n; i++)
        if ((i == 0 || h[i - 1] == '\n') && !strncasecmp(h + i, name, nl) && h[i + nl] == ':')
            seen++;
    return seen > 1;
}

/* Number of complete requests at the start of the input, in the plain form
 * this harness can follow (HTTP/1.1 request line, CRLF headers, no HEAD or
 * Expect, a Content-Length or a chunked body without trailers). *exact is
 * set when that is all there is, or all the server will read (up to a
 * "Connection: close" request): then exactly that many replies are due. */
static size_t count_requests(const uint8_t *d, size_t n, bool *exact)
{
    const char *p = (const char *)d;
    size_t pos = 0, k = 0;
    *exact = false;
    while (pos < n) {
        const char *r = p + pos;
        size_t left = n - pos;
        const char *eoh = memmem(r, left, "\r\n\r\n", 4);
        if (!eoh)
            return k;
        size_t hlen = (size_t)(eoh - r) + 4;
        if (memchr(r, '\0', hlen))
            return k;
        for (size_t i = 0; i < hlen; i++)
            if (r[i] == '\n' && (i == 0 || r[i - 1] != '\r'))
                return k;
        const char *eol = memmem(r, hlen, "\r\n", 2);
        size_t ll = (size_t)(eol - r);
        if (ll < 14 || memcmp(eol - 9, " HTTP/1.1", 9) || !strncmp(r, "HEAD ", 5) ||
            !memchr(r, ' ', ll - 9))
            return k;
        char te[64], cl[32], conn[64], expect[16];
        header(r, hlen, "Transfer-Encoding", te, sizeof te);
        header(r, hlen, "Content-Length", cl, sizeof cl);
        header(r, hlen, "Connection", conn, sizeof conn);
        header(r, hlen, "Expect", expect, sizeof expect);
        if (expect[0] || header_repeated(r, hlen, "Content-Length") ||
            header_repeated(r, hlen, "Transfer-Encoding") || (te[0] && cl[0]))
            return k;
        size_t body = 0;
        const char *b = r + hlen;
        size_t bleft = left - hlen;
        if (te[0]) {
            if (strcasecmp(te, "chunked"))
                return k;
            for (;;) {
                size_t i = 0, sz = 0;
                while (i < 8 && body + i < bleft && isxdigit((unsigned char)b[body + i])) {
                    char c = b[body + i];
                    sz = sz * 16 + (size_t)(c <= '9' ? c - '0' : (c | 32) - 'a' + 10);
                    i++;
                }
                if (i == 0 || bleft - body < i + 2 || memcmp(b + body + i, "\r\n", 2))
                    return k;
                body += i + 2;
                if (sz == 0) {
                    if (bleft - body < 2 || memcmp(b + body, "\r\n", 2))
                        return k;
                    body += 2;
                    break;
                }
                if (bleft - body < sz + 2 || memcmp(b + body + sz, "\r\n", 2))
                    return k;
                body += sz + 2;
            }
        } else if (cl[0]) {
            if (strlen(cl) > 8 || strspn(cl, "0123456789") != strlen(cl))
                return k;
            body = strtoul(cl, NULL, 10);
            if (body > bleft)
                return k;
        }
        pos += hlen + body;
        k++;
        if (!strcasecmp(conn, "close")) {
            *exact = true;
            return k;
        }
    }
    *exact = true;
    return k;
}

/* Complete final (status >= 200) replies at the start of buf[0..len);
 * *closing when one of them said "Connection: close". */
static size_t complete_replies(const char *buf, size_t len, bool *closing)
{
    size_t pos = 0, k = 0;
    *closing = false;
    while (pos < len) {
        const char *r = buf + pos;
        size_t left = len - pos;
        if (left < 12 || memcmp(r, "HTTP/1.", 7))
            return k;
        int status = atoi(r + 9);
        const char *eoh = memmem(r, left, "\r\n\r\n", 4);
        if (!eoh)
            return k;
        size_t hlen = (size_t)(eoh - r) + 4, used = 0;
        char clen[32], te[64], conn[64];
        header(r, hlen, "Content-Length", clen, sizeof clen);
        header(r, hlen, "Transfer-Encoding", te, sizeof te);
        header(r, hlen, "Connection", conn, sizeof conn);
        if (strcasestr(te, "chunked")) {
            char *body;
            size_t blen;
            if (dechunk(eoh + 4, left - hlen, &body, &blen, &used) != 0)
                return k;
            free(body);
        } else if (clen[0]) {
            used = strtoul(clen, NULL, 10);
            if (used > left - hlen)
                return k;
        } else if (!(status < 200 || status == 204 || status == 304)) {
            return k;   /* body until close */
        }
        pos += hlen + used;
        if (status >= 200)
            k++;
        if (!strcasecmp(conn, "close")) {
            *closing = true;
            return k;
        }
    }
    return k;
}

/* Walks the replies in buf, checking framing, status and JSON bodies. */
static void check_replies(const char *buf, size_t len)
{
    size_t pos = 0;
    while (pos < len) {
        const char *r = buf + pos;
        size_t left = len - pos;
        FUZZ_CHECK(left >= 12 && !memcmp(r, "HTTP/1.", 7), "reply %zu bytes in is not HTTP: %.40s",
                   pos, r);
        int status = atoi(r + 9);
        FUZZ_CHECK(status >= 100 && status <= 599, "status %d", status);
        FUZZ_CHECK(status != 500, "internal server error: %.300s", r);
        const char *eoh = memmem(r, left, "\r\n\r\n", 4);
        FUZZ_CHECK(eoh, "reply without end of headers: %.200s", r);
        size_t hlen = (size_t)(eoh - r) + 4;
        char ctype[128], clen[32], te[64], conn[64];
        header(r, hlen, "Connection", conn, sizeof conn);
        header(r, hlen, "Content-Type", ctype, sizeof ctype);
        header(r, hlen, "Content-Length", clen, sizeof clen);
        header(r, hlen, "Transfer-Encoding", te, sizeof te);
        char *body = NULL;
        size_t blen = 0, used = 0;
        if (strcasestr(te, "chunked")) {
            if (dechunk(eoh + 4, left - hlen, &body, &blen, &used) != 0)
                return;   /* cut short: the server closed mid-stream after our EOF */
        } else if (clen[0]) {
            blen = strtoul(clen, NULL, 10);
            if (blen > left - hlen)
                return;
            body = malloc(blen + 1);
            memcpy(body, eoh + 4, blen);
            body[blen] = '\0';
            used = blen;
        } else {
            used = status == 204 || status == 304 || status < 200 ? 0 : left - hlen;
            body = malloc(used + 1);
            memcpy(body, eoh + 4, used);
            body[used] = '\0';
            blen = used;
        }
        if (strstr(ctype, "application/json") && blen > 0) {
            json_error_t e;
            json_t *j = json_loadb(body, blen, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
            FUZZ_CHECK(j, "status %d: JSON body does not parse (%s): %.200s", status, e.text,
                       body);
            json_decref(j);
        }
        free(body);
        pos += hlen + used;
        /* Nothing after a "Connection: close" reply is meant to be read
         * (libmicrohttpd 0.9.75 writes its 400 reply to a malformed
         * Content-Length twice: headers, headers again, then the body). */
        if (!strcasecmp(conn, "close"))
            break;
    }
}

/* A reply to HEAD announces a body it does not carry, so replies cannot be
 * delimited without knowing which request each answers: with a HEAD request
 * in the input, only the status lines are checked. */
static bool has_head_request(const uint8_t *d, size_t n)
{
    /* anywhere: a pipelined request starts right after the previous body */
    return memmem(d, n, "HEAD ", 5) != NULL;
}

static void check_statuses(const char *buf, size_t len)
{
    for (const char *p = buf; p && p < buf + len; p = memmem(p + 1, (size_t)(buf + len - p - 1),
                                                          "\r\nHTTP/1.", 9)) {
        const char *st = p == buf ? p : p + 2;
        if ((size_t)(buf + len - st) >= 12 && !memcmp(st, "HTTP/1.", 7))
            FUZZ_CHECK(atoi(st + 9) != 500, "internal server error: %.300s", st);
    }
}

/* The status fcpivot must refuse the input's first request with for its
 * framing (RFC 9112: Content-Length with Transfer-Encoding, or two different
 * lengths: 400; a transfer coding other than chunked: 501), or 0 when it need
 * not or the request is not plain enough to tell (anything libmicrohttpd
 * could reject by itself first: a request line other than "METHOD /target
 * HTTP/1.1", header lines without a colon, folded or with spaces in the name,
 * values with trailing white space, NULs, bare LFs, a large header block). */
static int framing_refusal(const uint8_t *d, size_t n)
{
    const char *p = (const char *)d;
    const char *eoh = memmem(p, n, "\r\n\r\n", 4);
    if (!eoh || eoh - p > 4000 || memchr(p, '\0', (size_t)(eoh - p)))
        return 0;
    const char *end = eoh + 2, *line = p, *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
    size_t ll = (size_t)(eol - p), m = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
    if (m == 0 || !strncmp(p, "HEAD ", 5) || ll < m + 11 || p[m] != ' ' || p[m + 1] != '/' ||
        memcmp(eol - 9, " HTTP/1.1", 9) || memchr(p + m + 1, ' ', ll - m - 10))
        return 0;
    unsigned lengths = 0, codings = 0;
    bool differ = false, chunked = false;
    char first_len[64] = "";
    for (line = eol + 2; line < end; line = eol + 2) {
        eol = memmem(line, (size_t)(end - line), "\r\n", 2);
        size_t len = (size_t)(eol - line);
        const char *colon = memchr(line, ':', len);
        if (!colon || colon == line || memchr(line, '\n', len) || line[0] == ' ' || line[0] == '\t')
            return 0;
        for (const char *c = line; c < colon; c++)
            if (*c <= ' ' || *c >= 127)
                return 0;
        const char *v = colon + 1;
        while (v < eol && (*v == ' ' || *v == '\t'))
            v++;
        size_t vl = (size_t)(eol - v);
        if (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
            return 0;
        size_t nl = (size_t)(colon - line);
        if (nl == 6 && !strncasecmp(line, "Expect", 6))
            return 0;
        if (nl == 14 && !strncasecmp(line, "Content-Length", 14)) {
            if (vl >= sizeof first_len)
                return 0;
            if (lengths++ == 0)
                snprintf(first_len, sizeof first_len, "%.*s", (int)vl, v);
            else if (strlen(first_len) != vl || memcmp(first_len, v, vl))
                differ = true;
        } else if (nl == 17 && !strncasecmp(line, "Transfer-Encoding", 17)) {
            chunked = codings++ == 0 && vl == 7 && !strncasecmp(v, "chunked", 7);
        }
    }
    if (codings && lengths)
        return 400;
    /* without a coding libmicrohttpd parses the first length itself and
     * answers one that is no number (fuzz/README.md, findings) */
    if (lengths && (!first_len[0] || strlen(first_len) > 18 ||
                    strspn(first_len, "0123456789") != strlen(first_len)))
        return 0;
    if (differ)
        return 400;
    if (codings && (codings > 1 || !chunked))
        return 501;
    return 0;
}

/* A refused request gets exactly one reply, of that status, closing the
 * connection: nothing after it (a smuggled request) is answered. */
static void check_refusal(const char *buf, size_t len, int status)
{
    char want[16];
    snprintf(want, sizeof want, "HTTP/1.1 %d", status);
    FUZZ_CHECK(len >= 12 && !memcmp(buf, want, strlen(want)), "expected %s, got: %.200s", want,
               buf);
    const char *eoh = memmem(buf, len, "\r\n\r\n", 4);
    FUZZ_CHECK(eoh, "reply without end of headers: %.200s", buf);
    size_t hlen = (size_t)(eoh - buf) + 4;
    char clen[32], conn[64];
    header(buf, hlen, "Content-Length", clen, sizeof clen);
    header(buf, hlen, "Connection", conn, sizeof conn);
    FUZZ_CHECK(!strcasecmp(conn, "close"), "a %d that keeps the connection: %.200s", status, buf);
    FUZZ_CHECK(clen[0] && hlen + strtoul(clen, NULL, 10) == len,
               "more than the one %d reply: %.400s", status, buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t len;
    char *reply = exchange(data, size, &len);
    int refusal = framing_refusal(data, size);
    if (refusal)
        check_refusal(reply, len, refusal);
    else if (has_head_request(data, size))
        check_statuses(reply, len);
    else
        check_replies(reply, len);
    free(reply);
    return 0;
}
