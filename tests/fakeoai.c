/* fakeoai — a loopback fake OpenAI-compatible server (see fakeoai.h).
 *
 * How it works: an accept thread hands each connection to a thread of its
 * own, which reads requests (request line, headers, Content-Length body),
 * answers them and keeps the connection open until the client closes it or
 * the server stops. Replies are built per case from the "[[fake K R]]"
 * marker; per-row attempt counts and times are kept for the tests'
 * assertions, as is the number of requests being answered at once. Stops
 * are bounded: stalls sleep in short steps and every socket is shut down.
 */
#include "fakeoai.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FO_MAX_ROWS 4096
#define FO_MAX_TIMES 16
#define FO_MAX_CONNS 4096

typedef struct conn {
    int fd;
    pthread_t th;
    struct fo_server *srv;
    bool done;
} conn;

struct fo_server {
    fo_options o;
    int lfd;
    unsigned port;
    pthread_t accept_th;
    volatile bool stop;
    pthread_mutex_t mu;
    conn *conns[FO_MAX_CONNS];
    size_t nconns;
    size_t requests, in_flight, max_in_flight;
    size_t retry_in_flight, max_retry_in_flight;   /* attempts >= 2 of a row */
    size_t attempts[FO_MAX_ROWS];
    double times[FO_MAX_ROWS][FO_MAX_TIMES];
    char *last_body;
};

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- rows ----------------------------------------------------------------------- */

char *fo_row(int k, long r)
{
    char *s = NULL;
    int n = asprintf(&s,
        "{\"responses_create_params\": {\"input\": [{\"role\": \"system\", \"content\": "
        "\"You look records up.\", \"type\": \"message\"}, {\"role\": \"user\", \"content\": "
        "[{\"type\": \"input_text\", \"text\": \"Find record %ld please [[fake %d %ld]]\"}], "
        "\"type\": \"message\"}], \"tools\": [{\"type\": \"function\", \"name\": \"lookup\", "
        "\"description\": \"Look a record up.\", \"parameters\": {\"type\": \"object\", "
        "\"properties\": {\"id\": {\"type\": \"integer\"}}, \"required\": [\"id\"]}, "
        "\"strict\": true}], \"tool_choice\": \"auto\", \"parallel_tool_calls\": false, "
        "\"temperature\": 0.6}, \"expected_action\": {\"type\": \"function_call\", \"name\": "
        "\"lookup\", \"arguments\": \"{\\\"id\\\": %ld}\"}, \"trajectory_id\": \"t%ld\", "
        "\"info\": {\"depth\": %ld, \"turn\": 1}}",
        r, k, r, r, r, r % 12 + 1);
    return n < 0 ? NULL : s;
}

/* ---- replies ------------------------------------------------------------------------ */

static char *chat_reply(int k, long r)
{
    char *s = NULL;
    const char *msg = "null", *calls = "", *finish = "tool_calls", *reasoning = "null";
    char callbuf[512], msgbuf[128];
    const char *field = "reasoning_content";
    snprintf(callbuf, sizeof callbuf,
             ",\"tool_calls\":[{\"id\":\"chatcmpl-tool-%ld\",\"type\":\"function\",\"function\":"
             "{\"name\":\"lookup\",\"arguments\":\"{\\\"id\\\": %ld}\"}}]", r, r);
    calls = callbuf;
    switch (k) {
    case FO_WRONG_NAME:
        snprintf(callbuf, sizeof callbuf,
                 ",\"tool_calls\":[{\"id\":\"c%ld\",\"type\":\"function\",\"function\":"
                 "{\"name\":\"search\",\"arguments\":\"{\\\"id\\\": %ld}\"}}]", r, r);
        break;
    case FO_PERTURBED:
        snprintf(callbuf, sizeof callbuf,
                 ",\"tool_calls\":[{\"id\":\"c%ld\",\"type\":\"function\",\"function\":"
                 "{\"name\":\"lookup\",\"arguments\":\"{\\\"id\\\": %ld}\"}}]", r, r + 1);
        break;
    case FO_MESSAGE:
    case FO_REASONING_FIELD:
        msg = "\"Which record do you mean?\"";
        calls = "";
        finish = "stop";
        if (k == FO_REASONING_FIELD) {
            field = "reasoning";
            reasoning = "\"The user was vague.\"";
        }
        break;
    case FO_REASONING:
        reasoning = "\"The user wants a lookup.\"";
        break;
    case FO_THINK:
        msg = "\"<think>I should look it up.</think>\"";
        break;
    case FO_SEVERAL:
        snprintf(callbuf, sizeof callbuf,
                 ",\"tool_calls\":[{\"id\":\"a%ld\",\"type\":\"function\",\"function\":"
                 "{\"name\":\"lookup\",\"arguments\":\"{\\\"id\\\": %ld}\"}},{\"id\":\"b%ld\","
                 "\"type\":\"function\",\"function\":{\"name\":\"lookup\",\"arguments\":"
                 "\"{\\\"id\\\": %ld}\"}}]", r, r, r, r);
        break;
    case FO_NO_ID:
        snprintf(callbuf, sizeof callbuf,
                 ",\"tool_calls\":[{\"type\":\"function\",\"function\":"
                 "{\"name\":\"lookup\",\"arguments\":\"{\\\"id\\\": %ld}\"}}]", r);
        break;
    case FO_BAD_JSON:
        snprintf(callbuf, sizeof callbuf,
                 ",\"tool_calls\":[{\"id\":\"c%ld\",\"type\":\"function\",\"function\":"
                 "{\"name\":\"lookup\",\"arguments\":\"{\\\"id\\\": %ld\"}}]", r, r);
        break;
    case FO_EMPTY:
        msg = "\"\"";
        calls = "";
        finish = "stop";
        break;
    case FO_LENGTH:
        msg = "\"Let me think about record\"";
        calls = "";
        finish = "length";
        break;
    case -1:
        snprintf(msgbuf, sizeof msgbuf, "\"Could you tell me more?\"");
        msg = msgbuf;
        calls = "";
        finish = "stop";
        break;
    default:
        break;
    }
    int n = asprintf(&s,
        "{\"id\":\"chatcmpl-%ld\",\"object\":\"chat.completion\",\"created\":1767225600,"
        "\"model\":\"fake-model\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
        "\"%s\":%s,\"content\":%s%s},\"logprobs\":null,\"finish_reason\":\"%s\","
        "\"stop_reason\":null}],\"usage\":{\"prompt_tokens\":57,\"total_tokens\":75,"
        "\"completion_tokens\":18,\"prompt_tokens_details\":{\"cached_tokens\":32}},"
        "\"prompt_logprobs\":null}",
        r, field, reasoning, msg, calls, finish);
    return n < 0 ? NULL : s;
}

static char *responses_reply(int k, long r)
{
    char *s = NULL;
    char item[512];
    if (k == FO_CORRECT || k == FO_WRONG_NAME)
        snprintf(item, sizeof item,
                 "{\"id\":\"fc_%032ld\",\"type\":\"function_call\",\"status\":\"completed\","
                 "\"arguments\":\"{\\\"id\\\": %ld}\",\"call_id\":\"call_%ld\",\"name\":\"%s\"}",
                 r, r, r, k == FO_CORRECT ? "lookup" : "search");
    else
        snprintf(item, sizeof item,
                 "{\"id\":\"msg_%032ld\",\"type\":\"message\",\"status\":\"completed\","
                 "\"content\":[{\"type\":\"output_text\",\"annotations\":[],\"logprobs\":[],"
                 "\"text\":\"Which record do you mean?\"}],\"role\":\"assistant\"}", r);
    int n = asprintf(&s,
        "{\"id\":\"resp_%032ld\",\"object\":\"response\",\"created_at\":1767225600,"
        "\"status\":\"completed\",\"background\":false,\"error\":null,\"incomplete_details\":null,"
        "\"instructions\":null,\"max_output_tokens\":null,\"model\":\"fake-model\",\"output\":[%s],"
        "\"parallel_tool_calls\":false,\"temperature\":1.0,\"tool_choice\":\"auto\",\"tools\":[],"
        "\"top_p\":1.0,\"usage\":{\"input_tokens\":57,\"input_tokens_details\":{\"cached_tokens\":0},"
        "\"output_tokens\":18,\"output_tokens_details\":{\"reasoning_tokens\":0},"
        "\"total_tokens\":75}}", r, item);
    return n < 0 ? NULL : s;
}

/* ---- HTTP ------------------------------------------------------------------------------ */

static bool reply(int fd, int status, const char *extra, const char *body)
{
    const char *reason = status == 200 ? "OK" : status == 400 ? "Bad Request"
                       : status == 401 ? "Unauthorized" : status == 404 ? "Not Found"
                       : status == 429 ? "Too Many Requests" : status == 503 ? "Service Unavailable"
                       : "Internal Server Error";
    char head[512];
    size_t blen = strlen(body);
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n%s\r\n",
                     status, reason, blen, extra ? extra : "");
    return tu_send_all(fd, head, (size_t)n) && tu_send_all(fd, body, blen);
}

/* Sleeps up to s seconds, in short steps so a stop is not held up. */
static void nap(fo_server *srv, double s)
{
    double until = mono() + s;
    while (!srv->stop && mono() < until) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* Parses the marker; k = -1 when there is none. */
static void marker(const char *body, int *k, long *r)
{
    *k = -1;
    *r = -1;
    const char *m = body ? strstr(body, "[[fake ") : NULL;
    if (m && sscanf(m, "[[fake %d %ld]]", k, r) != 2)
        *k = -1;
    if (*r < 0 || *r >= FO_MAX_ROWS)
        *r = -1;
}

/* Records the attempt; returns its number for the row (1 = first). */
static size_t note(fo_server *srv, long row, const char *body)
{
    pthread_mutex_lock(&srv->mu);
    srv->requests++;
    size_t a = 0;
    if (row >= 0) {
        a = ++srv->attempts[row];
        if (a <= FO_MAX_TIMES)
            srv->times[row][a - 1] = mono();
    }
    free(srv->last_body);
    srv->last_body = strdup(body ? body : "");
    if (++srv->in_flight > srv->max_in_flight)
        srv->max_in_flight = srv->in_flight;
    if (a >= 2 && ++srv->retry_in_flight > srv->max_retry_in_flight)
        srv->max_retry_in_flight = srv->retry_in_flight;
    pthread_mutex_unlock(&srv->mu);
    return a;
}

static void done_one(fo_server *srv, size_t attempt)
{
    pthread_mutex_lock(&srv->mu);
    srv->in_flight--;
    if (attempt >= 2)
        srv->retry_in_flight--;
    pthread_mutex_unlock(&srv->mu);
}

/* Answers one completion request; false to close the connection. */
static bool completion(fo_server *srv, int fd, bool responses, const char *body, const char *auth)
{
    int k;
    long r;
    marker(body, &k, &r);
    size_t attempt = note(srv, r, body);
    bool keep = true;
    char *text = NULL;
    if (srv->o.delay_s > 0)
        nap(srv, srv->o.delay_s);
    if (srv->o.mode == FO_MODE_AUTH) {
        char b[512];
        snprintf(b, sizeof b, "{\"error\":{\"message\":\"Incorrect API key provided: %s\",\"type\":\"invalid_request_error\",\"code\":\"invalid_api_key\"}}", auth);
        keep = reply(fd, 401, NULL, b);
    } else if (srv->o.mode == FO_MODE_ALL_400) {
        keep = reply(fd, 400, NULL, "{\"object\":\"error\",\"message\":\"\\\"auto\\\" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set\",\"type\":\"BadRequestError\",\"param\":null,\"code\":400}");
    } else if (k == FO_429_DATE && attempt == 1) {
        char ra[96];
        time_t t = time(NULL) + 2;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(ra, sizeof ra, "Retry-After: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
        keep = reply(fd, 429, ra, "{\"error\":{\"message\":\"slow down\"}}");
    } else if ((k == FO_429 || k == FO_500 || k == FO_503) && attempt == 1) {
        int st = k == FO_429 ? 429 : k == FO_500 ? 500 : 503;
        keep = reply(fd, st, k == FO_429 ? "Retry-After: 1\r\n" : NULL,
                     "{\"error\":{\"message\":\"try again later\"}}");
    } else if (k == FO_STALL && attempt == 1) {
        nap(srv, srv->o.stall_s > 0 ? srv->o.stall_s : 5);
        keep = false;
    } else if (k == FO_DROP && attempt == 1) {
        keep = false;
    } else if (k == FO_NON_JSON && attempt == 1) {
        keep = reply(fd, 200, NULL, "<html><body>502 Bad Gateway</body></html>");
    } else if (k == FO_400) {
        keep = reply(fd, 400, NULL, "{\"error\":{\"message\":\"Unsupported parameter: 'frobnicate'\",\"type\":\"invalid_request_error\"}}");
    } else if (k == FO_CONTEXT) {
        keep = reply(fd, 400, NULL, "{\"object\":\"error\",\"message\":\"This model's maximum context length is 4096 tokens. However, you requested 5000 tokens (4900 in the messages, 100 in the completion). Please reduce the length of the messages or completion.\",\"type\":\"BadRequestError\",\"param\":null,\"code\":400}");
    } else if (k == FO_ALWAYS_500) {
        keep = reply(fd, 500, NULL, "{\"error\":{\"message\":\"internal error\"}}");
    } else {
        int kk = k == FO_429 || k == FO_429_DATE || k == FO_500 || k == FO_503 || k == FO_STALL ||
                 k == FO_DROP || k == FO_NON_JSON ? FO_CORRECT : k;
        text = responses ? responses_reply(kk, r) : chat_reply(kk, r);
        keep = text && reply(fd, 200, NULL, text);
    }
    free(text);
    done_one(srv, attempt);
    return keep;
}

static bool models(fo_server *srv, int fd, const char *auth)
{
    if (srv->o.mode == FO_MODE_AUTH) {
        char b[512];
        snprintf(b, sizeof b, "{\"error\":{\"message\":\"Incorrect API key provided: %s\"}}", auth);
        return reply(fd, 401, NULL, b);
    }
    return reply(fd, 200, NULL, srv->o.models_json ? srv->o.models_json
                 : "{\"object\":\"list\",\"data\":[{\"id\":\"fake-model\",\"object\":\"model\","
                   "\"created\":1767225600,\"owned_by\":\"vllm\",\"max_model_len\":4096}]}");
}

/* Reads one request: method, path, Authorization value, body (owned). */
static bool read_request(int fd, char **buf, size_t *cap, size_t *have, char *method,
                         char *path, char *auth, size_t authsz, char **body)
{
    for (;;) {
        char *end = *have ? memmem(*buf, *have, "\r\n\r\n", 4) : NULL;
        if (end) {
            size_t hlen = (size_t)(end - *buf) + 4;
            (*buf)[hlen - 1] = '\0';
            if (sscanf(*buf, "%15s %255s", method, path) != 2)
                return false;
            size_t clen = 0;
            auth[0] = '\0';
            for (char *l = strstr(*buf, "\r\n"); l && l < *buf + hlen; l = strstr(l + 2, "\r\n")) {
                if (!strncasecmp(l + 2, "Content-Length:", 15))
                    clen = strtoul(l + 17, NULL, 10);
                if (!strncasecmp(l + 2, "Authorization:", 14))
                    sscanf(l + 16, "%255[^\r]", auth);
            }
            (void)authsz;
            while (*have < hlen + clen) {
                if (*cap < hlen + clen + 1) {
                    *cap = hlen + clen + 1;
                    *buf = realloc(*buf, *cap);
                }
                ssize_t n = recv(fd, *buf + *have, *cap - *have - 1, 0);
                if (n <= 0)
                    return false;
                *have += (size_t)n;
            }
            *body = strndup(*buf + hlen, clen);
            memmove(*buf, *buf + hlen + clen, *have - hlen - clen);
            *have -= hlen + clen;
            return true;
        }
        if (*cap - *have < 65536) {
            *cap = *cap ? *cap * 2 : 1 << 17;
            *buf = realloc(*buf, *cap);
        }
        ssize_t n = recv(fd, *buf + *have, *cap - *have - 1, 0);
        if (n <= 0)
            return false;
        *have += (size_t)n;
    }
}

static void *conn_main(void *arg)
{
    conn *c = arg;
    fo_server *srv = c->srv;
    char *buf = NULL, *body = NULL;
    size_t cap = 0, have = 0;
    char method[16], path[256], auth[256];
    while (!srv->stop &&
           read_request(c->fd, &buf, &cap, &have, method, path, auth, sizeof auth, &body)) {
        bool keep;
        if (!strcmp(method, "GET") && !strcmp(path, "/v1/models"))
            keep = models(srv, c->fd, auth);
        else if (!strcmp(method, "POST") && !strcmp(path, "/v1/chat/completions"))
            keep = completion(srv, c->fd, false, body, auth);
        else if (!strcmp(method, "POST") && !strcmp(path, "/v1/responses"))
            keep = completion(srv, c->fd, true, body, auth);
        else
            keep = reply(c->fd, 404, NULL, "{\"detail\":\"Not Found\"}");
        free(body);
        body = NULL;
        if (!keep)
            break;
    }
    free(body);
    free(buf);
    shutdown(c->fd, SHUT_RDWR);
    __atomic_store_n(&c->done, true, __ATOMIC_RELEASE);
    return NULL;
}

static void *accept_main(void *arg)
{
    fo_server *srv = arg;
    while (!srv->stop) {
        int fd = accept(srv->lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            break;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn *c = calloc(1, sizeof *c);
        pthread_mutex_lock(&srv->mu);
        bool room = c && srv->nconns < FO_MAX_CONNS && !srv->stop;
        if (room) {
            c->fd = fd;
            c->srv = srv;
            srv->conns[srv->nconns++] = c;
        }
        pthread_mutex_unlock(&srv->mu);
        if (!room || pthread_create(&c->th, NULL, conn_main, c)) {
            close(fd);
            if (room) {
                pthread_mutex_lock(&srv->mu);
                srv->nconns--;
                pthread_mutex_unlock(&srv->mu);
            }
            free(c);
        }
    }
    return NULL;
}

fo_server *fo_start(const fo_options *o)
{
    fo_server *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (o)
        s->o = *o;
    pthread_mutex_init(&s->mu, NULL);
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    int one = 1;
    setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&a, sizeof a) || listen(s->lfd, 1024) ||
        getsockname(s->lfd, (struct sockaddr *)&a, &alen) ||
        pthread_create(&s->accept_th, NULL, accept_main, s)) {
        if (s->lfd >= 0)
            close(s->lfd);
        free(s);
        return NULL;
    }
    s->port = ntohs(a.sin_port);
    return s;
}

unsigned fo_port(const fo_server *s)
{
    return s->port;
}

void fo_stop(fo_server *s)
{
    if (!s)
        return;
    s->stop = true;
    shutdown(s->lfd, SHUT_RDWR);
    pthread_join(s->accept_th, NULL);
    close(s->lfd);
    pthread_mutex_lock(&s->mu);
    size_t n = s->nconns;
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < n; i++) {
        shutdown(s->conns[i]->fd, SHUT_RDWR);
        pthread_join(s->conns[i]->th, NULL);
        close(s->conns[i]->fd);
        free(s->conns[i]);
    }
    free(s->last_body);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

size_t fo_requests(fo_server *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->requests;
    pthread_mutex_unlock(&s->mu);
    return n;
}

size_t fo_max_in_flight(fo_server *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->max_in_flight;
    pthread_mutex_unlock(&s->mu);
    return n;
}

size_t fo_attempts(fo_server *s, long row)
{
    if (row < 0 || row >= FO_MAX_ROWS)
        return 0;
    pthread_mutex_lock(&s->mu);
    size_t n = s->attempts[row];
    pthread_mutex_unlock(&s->mu);
    return n;
}

double fo_attempt_time(fo_server *s, long row, size_t i)
{
    if (row < 0 || row >= FO_MAX_ROWS || i >= FO_MAX_TIMES)
        return 0;
    pthread_mutex_lock(&s->mu);
    double t = s->times[row][i];
    pthread_mutex_unlock(&s->mu);
    return t;
}

size_t fo_max_retry_in_flight(fo_server *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->max_retry_in_flight;
    pthread_mutex_unlock(&s->mu);
    return n;
}

size_t fo_connections(fo_server *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->nconns;
    pthread_mutex_unlock(&s->mu);
    return n;
}

char *fo_last_body(fo_server *s)
{
    pthread_mutex_lock(&s->mu);
    char *b = s->last_body ? strdup(s->last_body) : NULL;
    pthread_mutex_unlock(&s->mu);
    return b;
}
