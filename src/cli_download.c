/* cli_download — `fcpivot download`: fetch a pivot dataset file from the
 * Hugging Face hub (or any http/https/file URL) with libcurl, check it, and
 * only then put it in place.
 *
 * How it works: the body is written to "<out>/<file>.part", and the
 * validator of the file being fetched (its strong ETag, else its
 * Last-Modified; for file:// URLs its size and mtime) to
 * "<out>/<file>.part.validator" before the first body byte. A later run
 * resumes a .part only when its validator was saved: the request carries
 * "Range: bytes=<size>-" and "If-Range: <validator>", so a 206 reply is
 * appended, while a 200 reply (the file changed, or the server ignores
 * ranges) restarts from zero; a 416 (nothing left to send) discards the .part
 * and downloads afresh once. Nothing is written for a reply with status >= 300.
 *
 * Redirects are followed here (at most MAX_REDIRECTS), not by libcurl, so that
 * HF_TOKEN is attached hop by hop: only when downloading from the hub (never
 * for --url), only to the hub's host or a host of the same site (a subdomain
 * of its last two labels) on the hub's port, and only over https (plain http
 * only to the loopback host 127.0.0.1, ::1 or localhost, for HF_ENDPOINT
 * mirrors and tests).
 *
 * A body must be complete to be accepted: its length is compared with the
 * reply's Content-Length (or Content-Range total); a body delimited only by
 * the connection closing cannot be told from a cut one and is an error unless
 * --allow-unknown-length. When the hub names the file's SHA-256 (X-Linked-Etag
 * on LFS files) or --sha256 gives it, the .part is hashed and must match
 * (a mismatching .part is removed: resuming it would never help). Then the
 * .part is validated with the dataset layer (unless --no-validate) and only a
 * file that passed replaces "<out>/<file>" (fsync, atomic rename): a failed
 * download never touches a good file; a download that does not validate is
 * kept as "<out>/<file>.invalid".
 *
 * Progress goes to stderr: a redrawn bar (bytes, rate, ETA) on a terminal,
 * a plain line every few seconds otherwise.
 *
 * With cli_eval_run.c, the only source file besides the tests that calls
 * libcurl (through cli_curl.h, which loads it when the command starts;
 * scripts/check-layers).
 */
#include "cli_curl.h"
#include <errno.h>
#include <getopt.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "cli_common.h"
#include "ds.h"
#include "util.h"

#define DEFAULT_REPO "nvidia/Nemotron-RL-Agentic-Function-Calling-Pivot-v1"
#define DEFAULT_FILE "train.jsonl"
#define DEFAULT_ENDPOINT "https://huggingface.co"
#define MAX_ISSUES_SHOWN 20
#define MAX_REDIRECTS 10
#define SHA256_HEX_LEN 64
#define VALIDATOR_MAX 512
#define HASH_CHUNK (1 << 20)

typedef struct dl_options {
    const char *repo, *out_dir, *url, *file, *sha256;
    bool validate, quiet, allow_unknown_length;
} dl_options;

/* Where the file comes from, and who may see HF_TOKEN. */
typedef struct dl_source {
    char url[4096];
    bool hub;                 /* from the hub (not --url): the token may be sent */
    char hub_scheme[16], hub_host[256], hub_port[16];
    const char *token;        /* HF_TOKEN, or NULL */
    char file_path[4096];     /* the local path of a file:// URL, or "" */
} dl_source;

/* State of one transfer attempt, shared by the libcurl callbacks. */
typedef struct dl_transfer {
    CURL *curl;
    const dl_options *o;
    const char *part_path, *validator_path;
    int fd;                  /* .part, opened at the first body byte */
    curl_off_t resume_from;  /* bytes already in .part when the request was made */
    curl_off_t base;         /* bytes of .part kept (resume_from, or 0 after a restart) */
    curl_off_t received;     /* body bytes written by this attempt */
    /* the head of the current reply (reset at each status line) */
    long status;             /* 0 for file:// */
    int http_major;
    curl_off_t content_length, range_start, range_total;   /* -1 when absent */
    bool chunked;
    char etag[VALIDATOR_MAX], last_modified[VALIDATOR_MAX];
    /* kept across the hops */
    char linked_sha256[SHA256_HEX_LEN + 1];   /* from X-Linked-Etag, or "" */
    char file_validator[VALIDATOR_MAX];       /* file:// URLs: size and mtime */
    char werr[512];          /* why a callback aborted, or "" */
    /* progress */
    bool tty, quiet;
    double t0, last_print;
    curl_off_t total;        /* expected final size, 0 if unknown */
} dl_transfer;

static void usage(FILE *out)
{
    fprintf(out,
        "usage: fcpivot download [--repo OWNER/NAME] [--out DIR] [--url URL] [--file NAME]\n"
        "                        [--sha256 HEX] [--allow-unknown-length] [--no-validate] [--quiet]\n\n"
        "Downloads a pivot dataset file, resuming a partial download, checks and validates\n"
        "it, and only then replaces <out>/<file>.\n\n"
        "  --repo OWNER/NAME       hub dataset repository (default " DEFAULT_REPO ")\n"
        "  --out DIR               directory to write to, created if missing (default .)\n"
        "  --url URL               download from URL instead of the hub (http, https, file)\n"
        "  --file NAME             file name in the repository and on disk (default " DEFAULT_FILE ";\n"
        "                          with --url, the last path segment of the URL)\n"
        "  --sha256 HEX            the file's expected SHA-256 (the hub's X-Linked-Etag is\n"
        "                          checked by itself when it sends one)\n"
        "  --allow-unknown-length  accept a body whose end only the closed connection marks\n"
        "  --no-validate           skip validating the downloaded file\n"
        "  --quiet                 no progress output\n\n"
        "Source: $HF_ENDPOINT (default " DEFAULT_ENDPOINT ")/datasets/<repo>/resolve/main/<file>.\n"
        "HF_TOKEN, when set, is sent as a bearer token to the hub's site over https only,\n"
        "never to --url hosts. A partial download is kept as <out>/<file>.part (with its\n"
        "validator in <file>.part.validator) and resumed by the next run if the remote\n"
        "file did not change; a download that does not validate is kept as <file>.invalid.\n");
}

static bool is_sha256_hex(const char *s, size_t n)
{
    if (n != SHA256_HEX_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr("0123456789abcdefABCDEF", s[i]) || !s[i])
            return false;
    return true;
}

enum { OPT_REPO = 256, OPT_OUT, OPT_URL, OPT_FILE, OPT_SHA256, OPT_ALLOW_UNKNOWN_LENGTH,
       OPT_NO_VALIDATE, OPT_QUIET };

static const struct option LONG_OPTS[] = {
    {"repo", required_argument, NULL, OPT_REPO},
    {"out", required_argument, NULL, OPT_OUT},
    {"url", required_argument, NULL, OPT_URL},
    {"file", required_argument, NULL, OPT_FILE},
    {"sha256", required_argument, NULL, OPT_SHA256},
    {"allow-unknown-length", no_argument, NULL, OPT_ALLOW_UNKNOWN_LENGTH},
    {"no-validate", no_argument, NULL, OPT_NO_VALIDATE},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Where the value of option opt goes, or NULL for a switch. */
static const char **value_slot(dl_options *o, int opt)
{
    switch (opt) {
    case OPT_REPO: return &o->repo;
    case OPT_OUT: return &o->out_dir;
    case OPT_URL: return &o->url;
    case OPT_FILE: return &o->file;
    case OPT_SHA256: return &o->sha256;
    default: return NULL;
    }
}

/* The options checked together once all are read. */
static int check_args(const dl_options *o)
{
    if (!o->url && (!strchr(o->repo, '/') || strchr(o->repo, ' '))) {
        fprintf(stderr, "fcpivot download: --repo must look like OWNER/NAME, got '%s'\n", o->repo);
        return CLI_ARGS_USAGE;
    }
    if (o->sha256 && !is_sha256_hex(o->sha256, strlen(o->sha256))) {
        fprintf(stderr, "fcpivot download: --sha256 needs 64 hexadecimal digits\n");
        return CLI_ARGS_USAGE;
    }
    return CLI_ARGS_OK;
}

/* The options (cli_common.h's convention; no operands). */
static int parse_args(int argc, char **argv, dl_options *o)
{
    *o = (dl_options){.repo = DEFAULT_REPO, .out_dir = ".", .validate = true};
    optind = 0;   /* a fresh scan (glibc) */
    opterr = 0;
    int opt, at = -1;
    while ((opt = getopt_long(argc, argv, ":h", LONG_OPTS, &at)) != -1) {
        const char **slot = value_slot(o, opt);
        if (opt == 'h') {
            usage(stdout);
            return CLI_ARGS_HELP;
        } else if (opt == OPT_NO_VALIDATE) {
            o->validate = false;
        } else if (opt == OPT_QUIET) {
            o->quiet = true;
        } else if (opt == OPT_ALLOW_UNKNOWN_LENGTH) {
            o->allow_unknown_length = true;
        } else if (slot && *optarg) {
            *slot = optarg;
        } else if (slot) {   /* an empty value */
            fprintf(stderr, "fcpivot download: --%s needs a value\n", LONG_OPTS[at].name);
            return CLI_ARGS_USAGE;
        } else if (opt == ':') {
            fprintf(stderr, "fcpivot download: %s needs a value\n", argv[optind - 1]);
            return CLI_ARGS_USAGE;
        } else {
            char why[256];
            cli_getopt_why(opt, argv, why, sizeof why);
            fprintf(stderr, "fcpivot download: %s\n", why);
            usage(stderr);
            return CLI_ARGS_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "fcpivot download: unknown option '%s'\n", argv[optind]);
        usage(stderr);
        return CLI_ARGS_USAGE;
    }
    return check_args(o);
}

/* The file name to save as: --file, else the URL's last path segment, else
 * the default. Writes into buf; returns -1 if the name is unusable. */
static int pick_file_name(const dl_options *o, char *buf, size_t bufsz)
{
    const char *name = o->file;
    size_t len = name ? strlen(name) : 0;
    if (!name && o->url) {
        const char *end = o->url + strcspn(o->url, "?#");
        const char *start = end;
        while (start > o->url && start[-1] != '/')
            start--;
        if (end > start && !memchr(start, ':', (size_t)(end - start))) {
            name = start;
            len = (size_t)(end - start);
        }
    }
    if (!name) {
        name = DEFAULT_FILE;
        len = strlen(name);
    }
    if (len == 0 || len >= bufsz || memchr(name, '/', len) ||
        (len <= 2 && name[0] == '.' && (len == 1 || name[1] == '.')))
        return -1;
    memcpy(buf, name, len);
    buf[len] = '\0';
    return 0;
}

static void human_bytes(double b, char *buf, size_t bufsz)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    size_t u = 0;
    while (b >= 1024.0 && u + 1 < sizeof units / sizeof units[0]) {
        b /= 1024.0;
        u++;
    }
    snprintf(buf, bufsz, u ? "%.1f %s" : "%.0f %s", b, units[u]);
}

static void human_duration(double s, char *buf, size_t bufsz)
{
    if (s < 0 || s > 360000) {
        snprintf(buf, bufsz, "--:--");
        return;
    }
    unsigned long t = (unsigned long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, bufsz, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, bufsz, "%lu:%02lu", t / 60, t % 60);
}

/* Prints one progress report: a redrawn bar on a terminal, a line otherwise. */
static void print_progress(dl_transfer *t, bool final)
{
    double now = util_now_mono();
    double elapsed = now - t->t0;
    double done = (double)(t->base + t->received);
    double rate = elapsed > 0 ? (double)t->received / elapsed : 0;
    double total = (double)t->total;
    char sdone[32], stotal[32], srate[32], seta[32];
    human_bytes(done, sdone, sizeof sdone);
    human_bytes(total, stotal, sizeof stotal);
    human_bytes(rate, srate, sizeof srate);
    human_duration(total > 0 && rate > 0 ? (total - done) / rate : -1, seta, sizeof seta);
    if (t->tty) {
        enum { WIDTH = 28 };
        char bar[WIDTH + 1];
        size_t fill = total > 0 ? (size_t)(WIDTH * (done < total ? done / total : 1.0)) : 0;
        for (size_t i = 0; i < WIDTH; i++)
            bar[i] = i < fill ? '#' : (total > 0 ? '.' : ' ');
        bar[WIDTH] = '\0';
        if (total > 0)
            fprintf(stderr, "\r[%s] %3.0f%% %s / %s  %s/s  ETA %s\033[K", bar,
                    100.0 * done / total, sdone, stotal, srate, final ? "0:00" : seta);
        else
            fprintf(stderr, "\r%s  %s/s\033[K", sdone, srate);
        if (final)
            fputc('\n', stderr);
    } else if (total > 0) {
        fprintf(stderr, "download: %s of %s (%.0f%%), %s/s, ETA %s\n", sdone, stotal,
                100.0 * done / total, srate, final ? "0:00" : seta);
    } else {
        fprintf(stderr, "download: %s, %s/s\n", sdone, srate);
    }
    fflush(stderr);
    t->last_print = now;
}

static int on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dlnow; (void)ultotal; (void)ulnow;
    dl_transfer *t = ctx;
    if (dltotal > 0 && t->fd >= 0)
        t->total = t->base + dltotal;
    if (t->quiet || t->fd < 0)
        return 0;
    double interval = t->tty ? 0.2 : 5.0;
    if (util_now_mono() - t->last_print >= interval)
        print_progress(t, false);
    return 0;
}

/* ---- who may see the token ------------------------------------------------ */

/* The scheme, host (lower case) and port (the scheme's default when absent)
 * of url. Returns 0, or -1 when url does not parse. */
static int url_parts(const char *url, char *scheme, size_t ssz, char *host, size_t hsz,
                     char *port, size_t psz)
{
    CURLU *u = curl_url();
    char *sc = NULL, *h = NULL, *p = NULL;
    int rc = -1;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &sc, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) == CURLUE_OK) {
        snprintf(scheme, ssz, "%s", sc);
        snprintf(host, hsz, "%s", h);
        snprintf(port, psz, "%s", p);
        for (char *c = host; *c; c++)
            *c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
        rc = 0;
    }
    curl_free(sc);
    curl_free(h);
    curl_free(p);
    curl_url_cleanup(u);
    return rc;
}

static bool is_loopback_host(const char *host)
{
    return !strcmp(host, "127.0.0.1") || !strcmp(host, "localhost") || !strcmp(host, "[::1]");
}

static bool is_ip_literal(const char *host)
{
    return host[0] == '[' || strspn(host, "0123456789.") == strlen(host);
}

/* host is the hub's host, or a name under the hub's site (its last two labels). */
static bool same_site(const char *host, const char *hub)
{
    if (!strcmp(host, hub))
        return true;
    if (is_ip_literal(hub) || is_ip_literal(host))
        return false;
    const char *site = hub + strlen(hub);
    for (int dots = 0; site > hub; site--)
        if (site[-1] == '.' && ++dots == 2)
            break;
    size_t hl = strlen(host), sl = strlen(site);
    return hl > sl && host[hl - sl - 1] == '.' && !strcmp(host + hl - sl, site);
}

/* Whether HF_TOKEN may go with a request for url. */
static bool token_allowed(const dl_source *src, const char *url)
{
    char scheme[16], host[256], port[16];
    if (!src->hub || !src->token || url_parts(url, scheme, sizeof scheme, host, sizeof host, port,
                                               sizeof port) != 0)
        return false;
    bool secure = !strcmp(scheme, "https") || (!strcmp(scheme, "http") && is_loopback_host(host));
    return secure && !strcmp(port, src->hub_port) && same_site(host, src->hub_host);
}

/* ---- reply heads ------------------------------------------------------------ */

/* Whether the header line buf[0..len) is "name: value"; the value, trimmed,
 * in *val / *vlen. */
static bool header_is(const char *buf, size_t len, const char *name, const char **val, size_t *vlen)
{
    size_t n = strlen(name);
    if (len <= n || strncasecmp(buf, name, n) != 0 || buf[n] != ':')
        return false;
    const char *v = buf + n + 1, *e = buf + len;
    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t'))
        e--;
    *val = v;
    *vlen = (size_t)(e - v);
    return true;
}

/* Decimal digits v[0..n) as a number; -1 when they are not that. */
static curl_off_t parse_size(const char *v, size_t n)
{
    curl_off_t x = 0;
    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9' || x > (INT64_MAX - 9) / 10)
            return -1;
        x = x * 10 + (v[i] - '0');
    }
    return x;
}

/* "bytes START-END/TOTAL" into start and total (-1 for '*' or garbage). */
static void parse_content_range(const char *v, size_t len, curl_off_t *start, curl_off_t *total)
{
    *start = *total = -1;
    if (len < 6 || strncasecmp(v, "bytes ", 6) != 0)
        return;
    v += 6;
    len -= 6;
    size_t dash = strcspn(v, "-"), slash = strcspn(v, "/");
    if (dash >= len || slash >= len || dash > slash)
        return;
    *start = parse_size(v, dash);
    *total = parse_size(v + slash + 1, len - slash - 1);
}

static void copy_value(char *dst, size_t dsz, const char *v, size_t n)
{
    if (n >= dsz)
        n = 0;   /* a validator this long is not kept */
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static void reset_head(dl_transfer *t, const char *line, size_t len)
{
    const char *sp = memchr(line, ' ', len);
    t->status = sp ? strtol(sp + 1, NULL, 10) : 0;
    t->http_major = len > 5 ? line[5] - '0' : 1;
    t->content_length = t->range_start = t->range_total = -1;
    t->chunked = false;
    t->etag[0] = t->last_modified[0] = '\0';
}

/* Tracks the head of each reply (redirects included). */
static size_t on_header(char *buf, size_t size, size_t n, void *ctx)
{
    dl_transfer *t = ctx;
    size_t len = size * n, vl;
    const char *v;
    if (len >= 5 && !strncmp(buf, "HTTP/", 5))
        reset_head(t, buf, len);
    else if (header_is(buf, len, "Content-Length", &v, &vl))
        t->content_length = parse_size(v, vl);
    else if (header_is(buf, len, "Content-Range", &v, &vl))
        parse_content_range(v, vl, &t->range_start, &t->range_total);
    else if (header_is(buf, len, "Transfer-Encoding", &v, &vl))
        t->chunked = vl >= 7 && strncasecmp(v + vl - 7, "chunked", 7) == 0;
    else if (header_is(buf, len, "ETag", &v, &vl))
        copy_value(t->etag, sizeof t->etag, v, vl);
    else if (header_is(buf, len, "Last-Modified", &v, &vl))
        copy_value(t->last_modified, sizeof t->last_modified, v, vl);
    else if (header_is(buf, len, "X-Linked-Etag", &v, &vl)) {
        if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
            v++;
            vl -= 2;
        }
        if (is_sha256_hex(v, vl))
            copy_value(t->linked_sha256, sizeof t->linked_sha256, v, vl);
    }
    return len;
}

/* ---- the validator beside .part ----------------------------------------------- */

/* The validator of what is being received: file:// size and mtime, else the
 * strong ETag, else Last-Modified; "" when there is none. */
static const char *current_validator(const dl_transfer *t)
{
    if (t->status == 0)
        return t->file_validator;
    if (t->etag[0] && strncmp(t->etag, "W/", 2) != 0)
        return t->etag;
    return t->last_modified;
}

static int save_validator(dl_transfer *t)
{
    const char *v = current_validator(t);
    if (!v[0]) {
        if (unlink(t->validator_path) != 0 && errno != ENOENT) {
            snprintf(t->werr, sizeof t->werr, "cannot remove %s: %s", t->validator_path,
                     strerror(errno));
            return -1;
        }
        return 0;
    }
    FILE *f = fopen(t->validator_path, "w");
    bool ok = f && fprintf(f, "%s\n", v) > 0;
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok) {
        snprintf(t->werr, sizeof t->werr, "cannot write %s: %s", t->validator_path, strerror(errno));
        return -1;
    }
    return 0;
}

/* The saved validator into buf; false when there is none. */
static bool load_validator(const char *path, char *buf, size_t bufsz)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool ok = fgets(buf, (int)bufsz, f) != NULL;
    fclose(f);
    if (ok)
        buf[strcspn(buf, "\r\n")] = '\0';
    return ok && buf[0];
}

/* ---- the body ------------------------------------------------------------------- */

/* Opens .part at the first body byte, deciding between append and restart. */
static int open_part(dl_transfer *t)
{
    bool append = false;
    if (t->resume_from > 0) {
        if (t->status == 206) {
            if (t->range_start != t->resume_from) {
                snprintf(t->werr, sizeof t->werr,
                         "server answered the range request from byte %" CURL_FORMAT_CURL_OFF_T
                         " with a part starting at %" CURL_FORMAT_CURL_OFF_T,
                         t->resume_from, t->range_start);
                return -1;
            }
            append = true;
        } else if (t->status == 0) {
            append = true;   /* file://: libcurl applied the range itself */
        }
        /* 200: the file changed (If-Range) or the server ignores ranges. */
    }
    if (!append && save_validator(t) != 0)
        return -1;
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC);
    t->fd = open(t->part_path, flags, 0644);
    if (t->fd < 0) {
        snprintf(t->werr, sizeof t->werr, "cannot open %s: %s", t->part_path, strerror(errno));
        return -1;
    }
    t->base = append ? t->resume_from : 0;
    if (!append && t->resume_from > 0 && !t->quiet)
        fprintf(stderr, "download: the remote file changed or the server ignored the resume "
                        "request; starting over\n");
    return 0;
}

static size_t on_body(char *buf, size_t size, size_t n, void *ctx)
{
    dl_transfer *t = ctx;
    size_t len = size * n;
    if (t->status >= 300 && t->status < 400)
        return len;   /* a redirect's body */
    if (t->fd < 0 && open_part(t) != 0)
        return 0;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(t->fd, buf + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(t->werr, sizeof t->werr, "cannot write %s: %s", t->part_path,
                     w < 0 ? strerror(errno) : "short write");
            return 0;
        }
        off += (size_t)w;
    }
    t->received += (curl_off_t)len;
    return len;
}

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) ? st.st_size : -1;
}

/* fsync the directory holding path so the rename is durable. */
static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

typedef enum { ATTEMPT_OK, ATTEMPT_FAILED, ATTEMPT_RESTART } attempt_result;

static void describe_failure(dl_transfer *t, CURLcode rc, const char *url,
                             const char *errbuf, char *err, size_t errsz)
{
    char *eff = NULL;
    curl_easy_getinfo(t->curl, CURLINFO_EFFECTIVE_URL, &eff);
    long status = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    bool other = eff && strcmp(eff, url) != 0;
    if (t->werr[0]) {
        snprintf(err, errsz, "%s", t->werr);
    } else if (status >= 400) {
        const char *hint = (status == 401 || status == 403)
            ? (getenv("HF_TOKEN") ? " (check HF_TOKEN's access to this repository)"
                                  : " (gated or private? set HF_TOKEN)")
            : "";
        snprintf(err, errsz, "HTTP %ld from %s%s%s%s", status, url,
                 other ? " (redirected to " : "", other ? eff : "", other ? ")" : "");
        size_t used = strlen(err);
        snprintf(err + used, errsz - used, "%s", hint);
    } else {
        snprintf(err, errsz, "%s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
    }
}

/* A complete body: its length agrees with what the reply announced, and the
 * reply announced one (unless --allow-unknown-length). */
static int check_length(const dl_transfer *t, char *err, size_t errsz)
{
    if (t->status == 0)
        return 0;   /* file:// */
    if (t->content_length >= 0 && t->received != t->content_length) {
        snprintf(err, errsz, "short body: %" CURL_FORMAT_CURL_OFF_T " of %" CURL_FORMAT_CURL_OFF_T
                 " bytes", t->received, t->content_length);
        return -1;
    }
    if (t->status == 206 && t->range_total >= 0 && t->base + t->received != t->range_total) {
        snprintf(err, errsz, "short body: the file has %" CURL_FORMAT_CURL_OFF_T " bytes, got %"
                 CURL_FORMAT_CURL_OFF_T, t->range_total, t->base + t->received);
        return -1;
    }
    bool framed = t->content_length >= 0 || t->chunked || t->http_major >= 2;
    if (!framed && !t->o->allow_unknown_length) {
        snprintf(err, errsz, "the server sent no length (no Content-Length, not chunked), so a "
                 "cut connection would look complete; use --allow-unknown-length to accept the "
                 "%" CURL_FORMAT_CURL_OFF_T " bytes received", t->base + t->received);
        return -1;
    }
    return 0;
}

static bool is_http_url(const char *url)
{
    return !strncasecmp(url, "http://", 7) || !strncasecmp(url, "https://", 8);
}

/* The request headers for url (caller frees). */
static struct curl_slist *request_headers(const dl_source *src, const char *url,
                                          const char *if_range)
{
    struct curl_slist *h = NULL;
    char line[VALIDATOR_MAX + 16];
    if (token_allowed(src, url)) {
        size_t need = strlen(src->token) + 32;
        char *a = malloc(need);
        if (a) {
            snprintf(a, need, "Authorization: Bearer %s", src->token);
            h = curl_slist_append(h, a);
            free(a);
        }
    }
    if (if_range) {
        snprintf(line, sizeof line, "If-Range: %s", if_range);
        h = curl_slist_append(h, line);
    }
    return h;
}

/* Performs the request, following redirects by hand (see the top). */
static CURLcode perform_hops(dl_transfer *t, const dl_source *src, const char *if_range,
                             char *err, size_t errsz, bool *failed)
{
    char *cur = strdup(src->url);
    CURLcode rc = CURLE_OUT_OF_MEMORY;
    *failed = false;
    for (int hop = 0; cur; hop++) {
        struct curl_slist *h = request_headers(src, cur, is_http_url(cur) ? if_range : NULL);
        curl_easy_setopt(t->curl, CURLOPT_URL, cur);
        curl_easy_setopt(t->curl, CURLOPT_HTTPHEADER, h);
        rc = curl_easy_perform(t->curl);
        curl_easy_setopt(t->curl, CURLOPT_HTTPHEADER, NULL);
        curl_slist_free_all(h);
        if (rc != CURLE_OK || t->status < 300 || t->status >= 400)
            break;
        char *next = NULL;
        curl_easy_getinfo(t->curl, CURLINFO_REDIRECT_URL, &next);
        if (!next || hop == MAX_REDIRECTS || !is_http_url(next)) {
            snprintf(err, errsz, "%s: %s", src->url,
                     !next ? "a redirect without a Location"
                     : hop == MAX_REDIRECTS ? "too many redirects" : "a redirect to a non-HTTP URL");
            *failed = true;
            break;
        }
        char *dup = strdup(next);
        free(cur);
        cur = dup;
    }
    free(cur);
    return rc;
}

static void setup_handle(CURL *c, dl_transfer *t, char *errbuf)
{
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "fcpivot-download/1");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);   /* abort a transfer stalled */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 120L);  /* for two minutes */
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, t);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
}

/* How much of .part may be resumed: its size when its validator was saved and
 * (for file://) still matches, else 0. The validator to send in *if_range. */
static curl_off_t resumable(const dl_options *o, dl_transfer *t, char *saved, size_t savedsz,
                            const char **if_range)
{
    off_t have = file_size(t->part_path);
    *if_range = NULL;
    if (have <= 0)
        return 0;
    if (!load_validator(t->validator_path, saved, savedsz)) {
        if (!o->quiet)
            fprintf(stderr, "download: no validator saved beside %s, so it cannot be resumed "
                            "safely; starting over\n", t->part_path);
        return 0;
    }
    if (t->file_validator[0] && strcmp(saved, t->file_validator) != 0) {
        if (!o->quiet)
            fprintf(stderr, "download: the source changed since %s was written; starting over\n",
                    t->part_path);
        return 0;
    }
    *if_range = saved;
    return (curl_off_t)have;
}

/* One download (with its redirects). Returns ATTEMPT_RESTART when .part must
 * be discarded (416); the hub's SHA-256, if it sent one, in linked. */
static attempt_result attempt(const dl_options *o, const dl_source *src, const char *part_path,
                              const char *validator_path, char linked[SHA256_HEX_LEN + 1],
                              char *err, size_t errsz)
{
    dl_transfer t = {.o = o, .part_path = part_path, .validator_path = validator_path, .fd = -1,
                     .range_start = -1, .tty = isatty(STDERR_FILENO) == 1, .quiet = o->quiet};
    struct stat fst;
    if (src->file_path[0] && stat(src->file_path, &fst) == 0)
        snprintf(t.file_validator, sizeof t.file_validator, "file %lld %lld.%09ld",
                 (long long)fst.st_size, (long long)fst.st_mtim.tv_sec, fst.st_mtim.tv_nsec);
    char saved[VALIDATOR_MAX];
    const char *if_range;
    t.resume_from = resumable(o, &t, saved, sizeof saved, &if_range);
    t.curl = curl_easy_init();
    if (!t.curl) {
        snprintf(err, errsz, "cannot initialise libcurl");
        return ATTEMPT_FAILED;
    }
    char errbuf[CURL_ERROR_SIZE] = "", range[64];
    setup_handle(t.curl, &t, errbuf);
    if (t.resume_from > 0) {
        /* CURLOPT_RANGE, not RESUME_FROM: the latter fails on a 200 reply,
         * which we want to accept as a restart. */
        snprintf(range, sizeof range, "%" CURL_FORMAT_CURL_OFF_T "-", t.resume_from);
        curl_easy_setopt(t.curl, CURLOPT_RANGE, range);
        if (!o->quiet)
            fprintf(stderr, "download: resuming %s from byte %" CURL_FORMAT_CURL_OFF_T "\n",
                    part_path, t.resume_from);
    }
    t.t0 = t.last_print = util_now_mono();
    bool failed;
    CURLcode rc = perform_hops(&t, src, if_range, err, errsz, &failed);
    long status = 0;
    curl_easy_getinfo(t.curl, CURLINFO_RESPONSE_CODE, &status);
    attempt_result res = failed ? ATTEMPT_FAILED : ATTEMPT_OK;
    if (!failed && rc != CURLE_OK) {
        /* The resume point lies beyond the source (416 over HTTP, a resume
         * error for file://): the partial file is not a prefix of it. */
        bool bad_resume = status == 416 || rc == CURLE_BAD_DOWNLOAD_RESUME ||
                          rc == CURLE_RANGE_ERROR;
        res = (bad_resume && t.resume_from > 0 && !t.werr[0]) ? ATTEMPT_RESTART
                                                              : ATTEMPT_FAILED;
        if (res == ATTEMPT_FAILED)
            describe_failure(&t, rc, src->url, errbuf, err, errsz);
    } else if (res == ATTEMPT_OK && t.fd < 0 && open_part(&t) != 0) {
        /* An empty body: an empty .part, so the rename has a source. */
        snprintf(err, errsz, "%s", t.werr);
        res = ATTEMPT_FAILED;
    }
    if (res == ATTEMPT_OK && check_length(&t, err, errsz) != 0)
        res = ATTEMPT_FAILED;
    if (t.fd >= 0) {
        if (res == ATTEMPT_OK && fsync(t.fd) != 0) {
            snprintf(err, errsz, "cannot sync %s: %s", part_path, strerror(errno));
            res = ATTEMPT_FAILED;
        }
        if (close(t.fd) != 0 && res == ATTEMPT_OK) {
            snprintf(err, errsz, "cannot close %s: %s", part_path, strerror(errno));
            res = ATTEMPT_FAILED;
        }
        if (res == ATTEMPT_OK && !o->quiet)
            print_progress(&t, true);
        else if (t.tty && !o->quiet)
            fputc('\n', stderr);
    }
    memcpy(linked, t.linked_sha256, sizeof t.linked_sha256);
    curl_easy_cleanup(t.curl);
    return res;
}

/* ---- after the transfer ----------------------------------------------------------- */

/* The SHA-256 of a file as lower-case hex; -1 with the reason in err. */
static int sha256_file(const char *path, char hex[SHA256_HEX_LEN + 1], char *err, size_t errsz)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errsz, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    char *buf = malloc(HASH_CHUNK);
    util_sha256 s;
    util_sha256_init(&s);
    ssize_t r = buf ? 0 : -1;
    while (buf && (r = read(fd, buf, HASH_CHUNK)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            break;
        util_sha256_update(&s, buf, (size_t)r);
    }
    if (r < 0)
        snprintf(err, errsz, "cannot read %s: %s", path, buf ? strerror(errno) : "out of memory");
    free(buf);
    close(fd);
    unsigned char d[32];
    util_sha256_final(&s, d);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    return r < 0 ? -1 : 0;
}

/* Checks .part against the expected SHA-256 (--sha256, else the hub's). */
static int check_sha256(const dl_options *o, const char *linked, const char *part_path,
                        const char *validator_path)
{
    const char *want = o->sha256 ? o->sha256 : linked[0] ? linked : NULL;
    if (!want)
        return 0;
    char got[SHA256_HEX_LEN + 1], err[8192];
    if (sha256_file(part_path, got, err, sizeof err) != 0) {
        fprintf(stderr, "fcpivot download: %s\n", err);
        return -1;
    }
    if (strcasecmp(got, want) == 0) {
        if (!o->quiet)
            fprintf(stderr, "download: SHA-256 %s verified\n", got);
        return 0;
    }
    fprintf(stderr, "fcpivot download: SHA-256 mismatch: %s has %s, expected %s (%s); "
                    "removed it\n", part_path, got, want, o->sha256 ? "--sha256" : "X-Linked-Etag");
    unlink(part_path);
    unlink(validator_path);
    return -1;
}

typedef struct issue_counter {
    size_t errors, warnings, shown;
} issue_counter;

static void on_issue(const ds_issue *is, void *ctx)
{
    issue_counter *ic = ctx;
    if (is->severity == DS_SEV_ERROR)
        ic->errors++;
    else
        ic->warnings++;
    if (ic->shown++ < MAX_ISSUES_SHOWN)
        fprintf(stderr, "%s:%zu: %s: %s\n", is->path, is->line,
                is->severity == DS_SEV_ERROR ? "error" : "warning", is->message);
}

/* Validates the downloaded file with the dataset layer; 0 if it loads clean. */
static int validate_file(const char *path)
{
    ds_split_spec split = {.name = "train", .path = path};
    issue_counter ic = {0};
    ds_open_options opts = {.validate = true, .on_issue = on_issue, .ctx = &ic};
    ds_dataset *ds = NULL;
    char err[512] = "";
    if (ds_open(&ds, &split, 1, &opts, err, sizeof err) != 0) {
        if (ic.shown > MAX_ISSUES_SHOWN)
            fprintf(stderr, "... %zu more\n", ic.shown - MAX_ISSUES_SHOWN);
        fprintf(stderr, "fcpivot download: %s does not validate: %s\n", path, err);
        return -1;
    }
    fprintf(stderr, "download: %s validated: %zu rows, %zu warnings\n", path,
            ds_split_size(ds, 0), ds_warning_count(ds));
    ds_close(ds);
    return 0;
}

/* The download's source from the options and the environment. */
static int make_source(const dl_options *o, const char *name, dl_source *src)
{
    memset(src, 0, sizeof *src);
    const char *token = getenv("HF_TOKEN");
    src->token = token && token[0] ? token : NULL;
    if (o->url) {
        snprintf(src->url, sizeof src->url, "%s", o->url);
        if (!strncasecmp(o->url, "file://", 7)) {
            char *path = curl_easy_unescape(NULL, o->url + 7, 0, NULL);
            const char *p = path && !strncmp(path, "localhost/", 10) ? path + 9 : path;
            snprintf(src->file_path, sizeof src->file_path, "%s", p ? p : "");
            curl_free(path);
        }
        if (src->token && !o->quiet)
            fprintf(stderr, "download: HF_TOKEN is not sent to --url hosts\n");
        return 0;
    }
    const char *ep = getenv("HF_ENDPOINT");
    if (!ep || !ep[0])
        ep = DEFAULT_ENDPOINT;
    size_t eplen = strlen(ep);
    while (eplen > 0 && ep[eplen - 1] == '/')
        eplen--;
    snprintf(src->url, sizeof src->url, "%.*s/datasets/%s/resolve/main/%s", (int)eplen, ep,
             o->repo, name);
    src->hub = true;
    if (url_parts(src->url, src->hub_scheme, sizeof src->hub_scheme, src->hub_host,
                  sizeof src->hub_host, src->hub_port, sizeof src->hub_port) != 0) {
        fprintf(stderr, "fcpivot download: HF_ENDPOINT is not a URL: %s\n", ep);
        return -1;
    }
    if (src->token && !token_allowed(src, src->url) && !o->quiet)
        fprintf(stderr, "download: HF_TOKEN is sent over https only; not sending it to %s\n", ep);
    return 0;
}

/* Puts a checked .part in place: validated (unless --no-validate), then
 * renamed over the target; a file that does not validate becomes .invalid. */
static int install(const dl_options *o, const char *part_path, const char *validator_path,
                   const char *final_path)
{
    if (o->validate && validate_file(part_path) != 0) {
        char invalid[4096 + 16];
        snprintf(invalid, sizeof invalid, "%s.invalid", final_path);
        if (rename(part_path, invalid) == 0)
            fprintf(stderr, "fcpivot download: kept the download as %s; %s is unchanged\n",
                    invalid, final_path);
        else
            fprintf(stderr, "fcpivot download: cannot rename %s to %s: %s\n", part_path, invalid,
                    strerror(errno));
        unlink(validator_path);
        return 1;
    }
    if (rename(part_path, final_path) != 0) {
        fprintf(stderr, "fcpivot download: cannot rename %s to %s: %s\n", part_path,
                final_path, strerror(errno));
        return 1;
    }
    unlink(validator_path);
    return 0;
}

int cli_download(int argc, char **argv)
{
    dl_options o;
    int prc = parse_args(argc, argv, &o);
    if (prc != CLI_ARGS_OK)
        return cli_args_exit(prc);
    char name[1024], err[8192] = "";
    if (pick_file_name(&o, name, sizeof name) != 0) {
        fprintf(stderr, "fcpivot download: cannot derive a file name; use --file NAME\n");
        return 2;
    }
    if (cli_make_dirs(o.out_dir, err, sizeof err) != 0) {
        fprintf(stderr, "fcpivot download: %s\n", err);
        return 1;
    }
    char final_path[4096], part_path[4096 + 8], validator_path[4096 + 24];
    snprintf(final_path, sizeof final_path, "%s/%s", o.out_dir, name);
    snprintf(part_path, sizeof part_path, "%s.part", final_path);
    snprintf(validator_path, sizeof validator_path, "%s.validator", part_path);

    if (cli_curl_load(err, sizeof err) != 0) {
        fprintf(stderr, "fcpivot download: %s\n", err);
        return 1;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "fcpivot download: cannot initialise libcurl\n");
        return 1;
    }
    dl_source src;
    if (make_source(&o, name, &src) != 0) {
        curl_global_cleanup();
        return 2;
    }
    if (!o.quiet)
        fprintf(stderr, "download: %s -> %s\n", src.url, final_path);
    char linked[SHA256_HEX_LEN + 1];
    attempt_result r = attempt(&o, &src, part_path, validator_path, linked, err, sizeof err);
    if (r == ATTEMPT_RESTART) {
        if (!o.quiet)
            fprintf(stderr, "download: the source refused the resume range; starting over\n");
        unlink(part_path);
        unlink(validator_path);
        r = attempt(&o, &src, part_path, validator_path, linked, err, sizeof err);
        if (r == ATTEMPT_RESTART)
            snprintf(err, sizeof err, "HTTP 416 from %s for a full download", src.url);
    }
    curl_global_cleanup();
    if (r != ATTEMPT_OK) {
        fprintf(stderr, "fcpivot download: %s\n", err);
        if (file_size(part_path) > 0)
            fprintf(stderr, "fcpivot download: partial data kept in %s; run again to resume\n",
                    part_path);
        return 1;
    }
    if (check_sha256(&o, linked, part_path, validator_path) != 0)
        return 1;
    int rc = install(&o, part_path, validator_path, final_path);
    if (rc != 0)
        return rc;
    sync_dir(o.out_dir);
    if (!o.quiet)
        fprintf(stderr, "download: saved %s (%lld bytes)\n", final_path,
                (long long)file_size(final_path));
    printf("%s\n", final_path);
    return 0;
}
