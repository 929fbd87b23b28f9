/* cli_download — `fcpivot download`: fetch a pivot dataset file from the
 * Hugging Face hub (or any http/https/file URL) with libcurl, then validate it.
 *
 * How it works: the body is written to "<out>/<file>.part". If that file
 * already exists, the request carries "Range: bytes=<size>-": a 206 reply is
 * appended to it, a 200 reply (the server ignored the range) restarts it from
 * zero, and a 416 (nothing left to send, or the file changed) discards it and
 * downloads afresh once. Nothing is written for a reply with status >= 400, so
 * an error never damages a partial file. A complete body is fsync'ed and
 * renamed atomically to "<out>/<file>", then opened with the dataset layer
 * (ds_open, validate=true) unless --no-validate is given.
 *
 * Progress goes to stderr: a redrawn bar (bytes, rate, ETA) on a terminal,
 * a plain line every few seconds otherwise. HF_TOKEN, when set, is sent as
 * "Authorization: Bearer ..."; libcurl drops it on redirects to other hosts
 * (the hub redirects to a CDN with a signed URL).
 *
 * This is the only source file besides the tests that includes libcurl
 * (scripts/check-layers).
 */
#include <curl/curl.h>
#include <errno.h>
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

#define DEFAULT_REPO "nvidia/Nemotron-RL-Agentic-Function-Calling-Pivot-v1"
#define DEFAULT_FILE "train.jsonl"
#define MAX_ISSUES_SHOWN 20

typedef struct dl_options {
    const char *repo, *out_dir, *url, *file;
    bool validate, quiet;
} dl_options;

/* State of one transfer attempt, shared by the libcurl callbacks. */
typedef struct dl_transfer {
    CURL *curl;
    const char *part_path;
    int fd;                  /* .part, opened at the first body byte */
    curl_off_t resume_from;  /* bytes already in .part when the request was made */
    curl_off_t base;         /* bytes of .part kept (resume_from, or 0 after a restart) */
    curl_off_t received;     /* body bytes written by this attempt */
    curl_off_t range_start;  /* start of the last Content-Range header, -1 if none */
    long status;             /* status line of the current reply (0 for file://) */
    char werr[256];          /* why the write callback aborted, or "" */
    /* progress */
    bool tty, quiet;
    double t0, last_print;
    curl_off_t total;        /* expected final size, 0 if unknown */
} dl_transfer;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *out)
{
    fprintf(out,
        "usage: fcpivot download [--repo OWNER/NAME] [--out DIR] [--url URL] [--file NAME]\n"
        "                        [--no-validate] [--quiet]\n\n"
        "Downloads a pivot dataset file, resuming a partial download, then validates it.\n\n"
        "  --repo OWNER/NAME  hub dataset repository (default " DEFAULT_REPO ")\n"
        "  --out DIR          directory to write to, created if missing (default .)\n"
        "  --url URL          download from URL instead of the hub (http, https, file)\n"
        "  --file NAME        file name in the repository and on disk (default " DEFAULT_FILE ";\n"
        "                     with --url, the last path segment of the URL)\n"
        "  --no-validate      skip validating the downloaded file\n"
        "  --quiet            no progress output\n\n"
        "Source: https://huggingface.co/datasets/<repo>/resolve/main/<file>.\n"
        "HF_TOKEN, when set, is sent as a bearer token. A partial download is kept as\n"
        "<out>/<file>.part and resumed by the next run.\n");
}

/* Returns 0, 2 (usage error) or -1 for --help (exit 0). */
static int parse_args(int argc, char **argv, dl_options *o)
{
    *o = (dl_options){.repo = DEFAULT_REPO, .out_dir = ".", .validate = true};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return -1; }
        else if (!strcmp(a, "--no-validate")) { o->validate = false; continue; }
        else if (!strcmp(a, "--quiet")) { o->quiet = true; continue; }
        else if (!strcmp(a, "--repo")) slot = &o->repo;
        else if (!strcmp(a, "--out")) slot = &o->out_dir;
        else if (!strcmp(a, "--url")) slot = &o->url;
        else if (!strcmp(a, "--file")) slot = &o->file;
        else {
            fprintf(stderr, "fcpivot download: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
        if (i + 1 >= argc || !argv[i + 1][0]) {
            fprintf(stderr, "fcpivot download: %s needs a value\n", a);
            return 2;
        }
        *slot = argv[++i];
    }
    if (!o->url && (!strchr(o->repo, '/') || strchr(o->repo, ' '))) {
        fprintf(stderr, "fcpivot download: --repo must look like OWNER/NAME, got '%s'\n", o->repo);
        return 2;
    }
    return 0;
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
    double now = now_seconds();
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
    if (now_seconds() - t->last_print >= interval)
        print_progress(t, false);
    return 0;
}

/* Parses "bytes START-END/TOTAL" into start; -1 if it does not look like that. */
static curl_off_t parse_content_range(const char *v, size_t len)
{
    while (len && (*v == ' ' || *v == '\t')) { v++; len--; }
    if (len < 6 || strncasecmp(v, "bytes ", 6) != 0)
        return -1;
    v += 6; len -= 6;
    curl_off_t start = 0;
    size_t i = 0;
    for (; i < len && v[i] >= '0' && v[i] <= '9'; i++) {
        if (start > (INT64_MAX - 9) / 10)
            return -1;
        start = start * 10 + (v[i] - '0');
    }
    return i > 0 && i < len && v[i] == '-' ? start : -1;
}

/* Tracks the status line and Content-Range of each reply (redirects included). */
static size_t on_header(char *buf, size_t size, size_t n, void *ctx)
{
    dl_transfer *t = ctx;
    size_t len = size * n;
    if (len >= 5 && !strncmp(buf, "HTTP/", 5)) {
        const char *sp = memchr(buf, ' ', len);
        t->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        t->range_start = -1;
    } else if (len > 14 && !strncasecmp(buf, "Content-Range:", 14)) {
        t->range_start = parse_content_range(buf + 14, len - 14);
    }
    return len;
}

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
        /* 200: the server ignored the range; start over. */
    }
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC);
    t->fd = open(t->part_path, flags, 0644);
    if (t->fd < 0) {
        snprintf(t->werr, sizeof t->werr, "cannot open %s: %s", t->part_path, strerror(errno));
        return -1;
    }
    t->base = append ? t->resume_from : 0;
    if (!append && t->resume_from > 0 && !t->quiet)
        fprintf(stderr, "download: server ignored the resume request; starting over\n");
    return 0;
}

static size_t on_body(char *buf, size_t size, size_t n, void *ctx)
{
    dl_transfer *t = ctx;
    size_t len = size * n;
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

/* One request. Returns ATTEMPT_RESTART when .part must be discarded (416). */
static attempt_result attempt(const dl_options *o, const char *url, const char *part_path,
                              char *err, size_t errsz)
{
    dl_transfer t = {.part_path = part_path, .fd = -1, .range_start = -1,
                     .tty = isatty(STDERR_FILENO) == 1, .quiet = o->quiet};
    off_t have = file_size(part_path);
    t.resume_from = have > 0 ? (curl_off_t)have : 0;
    t.curl = curl_easy_init();
    if (!t.curl) {
        snprintf(err, errsz, "cannot initialise libcurl");
        return ATTEMPT_FAILED;
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    char range[64];
    struct curl_slist *headers = NULL;
    const char *token = getenv("HF_TOKEN");
    if (token && token[0]) {
        size_t need = strlen(token) + 32;
        char *h = malloc(need);
        if (h) {
            snprintf(h, need, "Authorization: Bearer %s", token);
            headers = curl_slist_append(headers, h);
            free(h);
        }
    }
    CURL *c = t.curl;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "fcpivot-download/1");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);   /* abort a transfer stalled */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 120L);  /* for two minutes */
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    if (t.resume_from > 0) {
        /* CURLOPT_RANGE, not RESUME_FROM: the latter fails on a 200 reply,
         * which we want to accept as a restart. */
        snprintf(range, sizeof range, "%" CURL_FORMAT_CURL_OFF_T "-", t.resume_from);
        curl_easy_setopt(c, CURLOPT_RANGE, range);
        if (!o->quiet)
            fprintf(stderr, "download: resuming %s from byte %" CURL_FORMAT_CURL_OFF_T "\n",
                    part_path, t.resume_from);
    }
    t.t0 = t.last_print = now_seconds();
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    attempt_result res = ATTEMPT_OK;
    if (rc != CURLE_OK) {
        /* The resume point lies beyond the source (416 over HTTP, a resume
         * error for file://): the partial file is not a prefix of it. */
        bool bad_resume = status == 416 || rc == CURLE_BAD_DOWNLOAD_RESUME ||
                          rc == CURLE_RANGE_ERROR;
        res = (bad_resume && t.resume_from > 0 && !t.werr[0]) ? ATTEMPT_RESTART
                                                              : ATTEMPT_FAILED;
        if (res == ATTEMPT_FAILED)
            describe_failure(&t, rc, url, errbuf, err, errsz);
    } else if (t.fd < 0) {
        /* An empty body: create an empty .part so the rename has a source. */
        if (open_part(&t) != 0) {
            snprintf(err, errsz, "%s", t.werr);
            res = ATTEMPT_FAILED;
        }
    }
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
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    return res;
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
        fprintf(stderr, "fcpivot download: %s was downloaded but does not validate: %s\n",
                path, err);
        return -1;
    }
    fprintf(stderr, "download: %s validated: %zu rows, %zu warnings\n", path,
            ds_split_size(ds, 0), ds_warning_count(ds));
    ds_close(ds);
    return 0;
}

int cli_download(int argc, char **argv)
{
    dl_options o;
    int prc = parse_args(argc, argv, &o);
    if (prc != 0)
        return prc < 0 ? 0 : prc;
    char name[1024], err[8192] = "";
    if (pick_file_name(&o, name, sizeof name) != 0) {
        fprintf(stderr, "fcpivot download: cannot derive a file name; use --file NAME\n");
        return 2;
    }
    char url[2048];
    if (o.url)
        snprintf(url, sizeof url, "%s", o.url);
    else
        snprintf(url, sizeof url, "https://huggingface.co/datasets/%s/resolve/main/%s",
                 o.repo, name);
    if (cli_make_dirs(o.out_dir, err, sizeof err) != 0) {
        fprintf(stderr, "fcpivot download: %s\n", err);
        return 1;
    }
    char final_path[4096], part_path[4096 + 8];
    snprintf(final_path, sizeof final_path, "%s/%s", o.out_dir, name);
    snprintf(part_path, sizeof part_path, "%s.part", final_path);

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "fcpivot download: cannot initialise libcurl\n");
        return 1;
    }
    if (!o.quiet)
        fprintf(stderr, "download: %s -> %s\n", url, final_path);
    attempt_result r = attempt(&o, url, part_path, err, sizeof err);
    if (r == ATTEMPT_RESTART) {
        if (!o.quiet)
            fprintf(stderr, "download: the source refused the resume range; starting over\n");
        unlink(part_path);
        r = attempt(&o, url, part_path, err, sizeof err);
        if (r == ATTEMPT_RESTART)
            snprintf(err, sizeof err, "HTTP 416 from %s for a full download", url);
    }
    curl_global_cleanup();
    if (r != ATTEMPT_OK) {
        fprintf(stderr, "fcpivot download: %s\n", err);
        if (file_size(part_path) > 0)
            fprintf(stderr, "fcpivot download: partial data kept in %s; run again to resume\n",
                    part_path);
        return 1;
    }
    if (rename(part_path, final_path) != 0) {
        fprintf(stderr, "fcpivot download: cannot rename %s to %s: %s\n", part_path,
                final_path, strerror(errno));
        return 1;
    }
    sync_dir(o.out_dir);
    if (!o.quiet)
        fprintf(stderr, "download: saved %s (%lld bytes)\n", final_path,
                (long long)file_size(final_path));
    printf("%s\n", final_path);
    if (o.validate && validate_file(final_path) != 0)
        return 1;
    return 0;
}
