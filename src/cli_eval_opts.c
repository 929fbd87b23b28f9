/* cli_eval_opts — the command line of `fcpivot eval` (see cli_eval_opts.h).
 *
 * How it works: getopt_long with cli_common's convention (cli_common.h):
 * a table maps each flag (and its short alias) to an id; "--name=value",
 * "--name value" and unambiguous prefixes are accepted; the parser returns
 * CLI_ARGS_OK, CLI_ARGS_HELP or CLI_ARGS_USAGE. Counts go through
 * cli_parse_uint, seconds and shares through cli_parse_double. Grading flags
 * are collected and applied after --preset, so explicit flags win whatever
 * their position. Numeric overrides are kept as the text the user wrote (a
 * JSON number), so the request carries exactly that.
 */
#include "cli_eval_opts.h"

#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli_common.h"
#include "jtext.h"

/* ---- defaults (the help text prints these) ------------------------------------------- */

#define STR_(x) #x
#define STR(x) STR_(x)
#define COUNT(a) ((int)(sizeof (a) / sizeof (a)[0]))
#define DEFAULT_URL "http://127.0.0.1:8000/v1"
#define DEFAULT_CONCURRENCY 64
#define DEFAULT_CONNECT_TIMEOUT 10
#define DEFAULT_REQUEST_TIMEOUT 600
#define DEFAULT_MAX_ATTEMPTS 6
#define DEFAULT_RETRY_DEADLINE 900
#define DEFAULT_MAX_FAILURES "5%"
#define DEFAULT_REPEATS 1
#define DEFAULT_SEED 0
#define DEFAULT_PRESET "toolcall_schema"
#define MAX_CONCURRENCY 65536
#define MAX_ATTEMPTS 255         /* attempts are counted in a byte */
#define MAX_REPEATS 1000000
#define MAX_GRADING_FLAGS 64     /* grading flags kept until --preset is applied */


/* ---- help ---------------------------------------------------------------------------------- */

static void usage(FILE *out)
{
    fprintf(out,
        "usage: fcpivot eval --data FILE -o OUT.jsonl [--model-url URL]... [--model NAME] [options]\n"
        "\n"
        "Runs a model on the dataset through an OpenAI-compatible endpoint (vLLM, SGLang,\n"
        "llama.cpp, OpenAI, ...), grades every reply like NeMo Gym and writes NeMo Gym's files:\n"
        "OUT.jsonl (rollouts), OUT_materialized_inputs.jsonl, OUT_failures.jsonl,\n"
        "OUT_aggregate_metrics.json, OUT_summary.json and OUT_run.json (the manifest).\n"
        "\n"
        "input and output:\n"
        "  --data FILE, -i FILE          dataset (.jsonl, .gz, .zst), validated first\n"
        "  --skip-invalid                leave invalid rows out instead of stopping\n"
        "  -o, --output FILE             rollouts file (required)\n"
        "  --resume                      continue the run in FILE (checked against its manifest)\n"
        "  --overwrite                   replace an existing run\n"
        "  --request-log FILE            JSONL of every attempt (no key, no headers)\n"
        "endpoint:\n"
        "  --model-url URL               base URL with /v1, repeatable (default $FCPIVOT_MODEL_URL,\n"
        "                                else $OPENAI_BASE_URL, else " DEFAULT_URL ")\n"
        "  --model NAME                  model (default: the only one GET /models lists)\n"
        "  --api-key KEY                 bearer key (default $FCPIVOT_API_KEY, else $OPENAI_API_KEY)\n"
        "  --header 'K: V'               extra request header, repeatable\n"
        "  --api chat|responses          POST /chat/completions (converted) or /responses (default chat)\n"
        "selection:\n"
        "  --limit N                     the first N rows (after --rows and --sample)\n"
        "  --rows A:B                    a Python slice of row indices\n"
        "  --sample N                    N rows drawn without replacement\n"
        "  --seed S                      seed of --sample (default " STR(DEFAULT_SEED) ")\n"
        "  --num-repeats K               rollouts per row (default " STR(DEFAULT_REPEATS) ")\n"
        "request:\n"
        "  --temperature T, --top-p P, --max-output-tokens N, --reasoning-effort E\n"
        "                                override those parameters (default: the row's, else the server's)\n"
        "  --set KEY=JSON                override any Responses parameter, repeatable\n"
        "  --extra-body JSON             engine parameters merged into the body (body keys win)\n"
        "  --chat-template-kwargs JSON   sent as chat_template_kwargs\n"
        "  --seed-per-repeat             seed = the repeat index in each body\n"
        "  --reasoning-history field|think|drop   prior reasoning (default field)\n"
        "  --developer-role keep|system  developer messages as they are or as system (default keep)\n"
        "  --on-context-overflow gym|fail  a too-long prompt: graded empty or a failure (default gym)\n"
        "transport:\n"
        "  -c, --concurrency N           requests in flight (default " STR(DEFAULT_CONCURRENCY) ")\n"
        "  --connect-timeout S           per attempt, 0 = none (default " STR(DEFAULT_CONNECT_TIMEOUT) ")\n"
        "  --request-timeout S           per attempt, 0 = none (default " STR(DEFAULT_REQUEST_TIMEOUT) ")\n"
        "  --max-attempts N              attempts per request, 1 to " STR(MAX_ATTEMPTS) " (default " STR(DEFAULT_MAX_ATTEMPTS) ")\n"
        "  --retry-deadline S            seconds one request may spend retrying (default " STR(DEFAULT_RETRY_DEADLINE) ")\n"
        "  --max-failures N|P%%           stop sending after this many failures (default %s)\n"
        "grading:\n"
        "  --preset NAME                 toolcall_schema (default), conversational, search, swe,\n"
        "                                droid, parallel; explicit grading flags win\n"
        "%s"
        "output:\n"
        "  --dry-run                     print the first request body and exit\n"
        "  --fail-under X                exit 5 when the mean reward is below X\n"
        "  --quiet                       no progress\n"
        "  --json                        print the summary JSON on stdout\n"
        "  -h, --help                    this help\n"
        "\n"
        "exit status: 0 every planned rollout graded; 1 some failed or were not run; 2 usage,\n"
        "dataset or resume mismatch; 3 endpoint or configuration fatal; 4 output I/O error;\n"
        "5 mean reward below --fail-under; 130/143 interrupted (SIGINT/SIGTERM).\n",
        DEFAULT_MAX_FAILURES, CLI_GRADING_HELP);
}

#define CMD "eval"

/* ---- option parsing -------------------------------------------------------------------------- */

/* getopt_long values of the long-only options (above any option character;
 * below CLI_OPT_GRADING). */
typedef enum {
    O_DATA = 'i', O_OUT = 'o', O_CONC = 'c', O_HELP = 'h',
    O_URL = 0x100, O_MODEL, O_KEY, O_HEADER, O_API, O_LIMIT, O_ROWS, O_SAMPLE, O_SEED,
    O_REPEATS, O_TEMP, O_TOPP, O_MAXTOK, O_EFFORT, O_SET, O_EXTRA, O_CTK, O_SEEDREP, O_RHIST,
    O_DEVROLE, O_OVERFLOW, O_CTIMEOUT, O_RTIMEOUT, O_ATTEMPTS, O_DEADLINE, O_MAXFAIL,
    O_RESUME, O_OVERWRITE, O_PRESET, O_DRY, O_RLOG, O_FAILUNDER, O_QUIET, O_JSON, O_SKIP
} opt_id;

#define SHORT_OPTS ":i:o:c:h"
static const struct option LONG_OPTS[] = {
    {"data", required_argument, NULL, O_DATA}, {"input", required_argument, NULL, O_DATA},
    {"output", required_argument, NULL, O_OUT}, {"model-url", required_argument, NULL, O_URL},
    {"model", required_argument, NULL, O_MODEL}, {"api-key", required_argument, NULL, O_KEY},
    {"header", required_argument, NULL, O_HEADER}, {"api", required_argument, NULL, O_API},
    {"limit", required_argument, NULL, O_LIMIT}, {"rows", required_argument, NULL, O_ROWS},
    {"sample", required_argument, NULL, O_SAMPLE}, {"seed", required_argument, NULL, O_SEED},
    {"num-repeats", required_argument, NULL, O_REPEATS},
    {"temperature", required_argument, NULL, O_TEMP}, {"top-p", required_argument, NULL, O_TOPP},
    {"max-output-tokens", required_argument, NULL, O_MAXTOK},
    {"reasoning-effort", required_argument, NULL, O_EFFORT}, {"set", required_argument, NULL, O_SET},
    {"extra-body", required_argument, NULL, O_EXTRA},
    {"chat-template-kwargs", required_argument, NULL, O_CTK},
    {"seed-per-repeat", no_argument, NULL, O_SEEDREP},
    {"reasoning-history", required_argument, NULL, O_RHIST},
    {"developer-role", required_argument, NULL, O_DEVROLE},
    {"on-context-overflow", required_argument, NULL, O_OVERFLOW},
    {"concurrency", required_argument, NULL, O_CONC},
    {"connect-timeout", required_argument, NULL, O_CTIMEOUT},
    {"request-timeout", required_argument, NULL, O_RTIMEOUT},
    {"max-attempts", required_argument, NULL, O_ATTEMPTS},
    {"retry-deadline", required_argument, NULL, O_DEADLINE},
    {"max-failures", required_argument, NULL, O_MAXFAIL},
    {"resume", no_argument, NULL, O_RESUME}, {"overwrite", no_argument, NULL, O_OVERWRITE},
    {"preset", required_argument, NULL, O_PRESET}, {"dry-run", no_argument, NULL, O_DRY},
    {"request-log", required_argument, NULL, O_RLOG},
    {"fail-under", required_argument, NULL, O_FAILUNDER}, {"quiet", no_argument, NULL, O_QUIET},
    {"json", no_argument, NULL, O_JSON}, {"skip-invalid", no_argument, NULL, O_SKIP},
    {"help", no_argument, NULL, O_HELP},
    CLI_GRADING_OPTIONS,
    {NULL, 0, NULL, 0},
};

/* The long name of option id (its first entry), for messages. */
static const char *opt_name(int id)
{
    for (const struct option *p = LONG_OPTS; p->name; p++)
        if (p->val == id)
            return p->name;
    return "?";
}

/* A count lo..hi (decimal, no sign) into *out. */
static bool parse_count(const char *s, unsigned long lo, unsigned long hi, long *out)
{
    unsigned long v;
    if (cli_parse_uint(s, hi, &v) != 0 || v < lo)
        return false;
    *out = (long)v;
    return true;
}

/* Seconds (or a count): a finite number >= 0. */
static bool parse_secs(const char *s, double *out)
{
    double v;
    if (!cli_parse_double(s, &v) || !(v >= 0) || isinf(v))
        return false;
    *out = v;
    return true;
}

/* A JSON number text (kept as written). */
static bool is_json_number(const char *s)
{
    return (*s == '-' || (*s >= '0' && *s <= '9')) && jtext_valid(s, strlen(s), JTEXT_BIG_INTS, NULL, 0);
}

static bool is_json_object(const char *s)
{
    const char *p = s;
    while (*p == ' ' || *p == '\t' || *p == '\n')
        p++;
    return *p == '{' && jtext_valid(s, strlen(s), JTEXT_BIG_INTS, NULL, 0);
}

/* --preset (docs/eval.md §1): NeMo Gym's configurations for the pivot datasets. */
static int apply_preset(const char *name, grade_config *cfg)
{
    grade_config_default(cfg);
    if (!strcmp(name, "toolcall_schema") || !strcmp(name, "conversational"))
        cfg->word_similarity_threshold = 0.1;
    else if (!strcmp(name, "search"))
        cfg->word_similarity_threshold = 0.3;
    else if (!strcmp(name, "swe") || !strcmp(name, "droid"))
        cfg->word_similarity_threshold = 0.0;
    else if (!strcmp(name, "parallel")) {
        cfg->parallel_rewarding = cfg->allow_subset = cfg->allow_superset = true;
        cfg->mode = GRADE_MODE_F1;
    } else
        return -1;
    return 0;
}

static void opts_init(evopt *o, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    o->limit = o->sample = -1;
    o->repeats = DEFAULT_REPEATS;
    o->seed = DEFAULT_SEED;
    o->concurrency = DEFAULT_CONCURRENCY;
    o->connect_timeout = DEFAULT_CONNECT_TIMEOUT;
    o->request_timeout = DEFAULT_REQUEST_TIMEOUT;
    o->max_attempts = DEFAULT_MAX_ATTEMPTS;
    o->retry_deadline = DEFAULT_RETRY_DEADLINE;
    o->preset = DEFAULT_PRESET;
    o->argc = argc;
    o->argv = argv;
}

void evopt_free(evopt *o)
{
    for (size_t i = 0; i < o->nset; i++)
        free(o->set_keys[i]);
}

static int parse_max_failures(evopt *o, const char *v)
{
    size_t n = strlen(v);
    char buf[64];
    if (!n || n >= sizeof buf)
        return -1;
    memcpy(buf, v, n + 1);
    o->max_failures_pct = buf[n - 1] == '%';
    if (o->max_failures_pct)
        buf[n - 1] = '\0';
    double x;
    if (!parse_secs(buf, &x) || (o->max_failures_pct && x > 100) ||
        (!o->max_failures_pct && x != floor(x)))
        return -1;
    o->max_failures = x;
    return 0;
}

static int add_set(evopt *o, const char *v)
{
    const char *eq = strchr(v, '=');
    if (!eq || eq == v || o->nset == EVOPT_MAX_LIST)
        return cli_usage_error(CMD, "bad --set '%s' (KEY=JSON)", v);
    char *key = strndup(v, (size_t)(eq - v));
    if (!key)
        return cli_usage_error(CMD, "%s", "out of memory");
    o->set_keys[o->nset++] = key;
    char why[256];
    if (evroll_override_add(&o->ov, key, eq + 1, why, sizeof why))
        return cli_usage_error(CMD, "--set: %s", why);
    return CLI_ARGS_OK;
}

static int choose(const char *v, const char *const *names, int n, int *out)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(v, names[i])) {
            *out = i;
            return 0;
        }
    return -1;
}

/* A grading flag, applied after --preset (explicit flags win). */
typedef struct grading_flag {
    int opt;             /* a CLI_GRADING_OPTIONS value */
    const char *value;   /* borrowed from argv, or NULL */
} grading_flag;

/* Applies option id with its value v (optarg); CLI_ARGS_OK to go on. */
/* The option groups below each apply the options they know and answer
 * NOT_MINE for the others, so apply_option tries them in turn. */
#define NOT_MINE (-1)

/* Where the rows come from and go, and the endpoint. */
static int apply_io_option(evopt *o, int id, const char *v)
{
    static const char *const APIS[] = {"chat", "responses"};
    const char *name = opt_name(id);
    switch ((opt_id)id) {
    case O_DATA: o->data = v; break;
    case O_OUT: o->out = v; break;
    case O_URL:
        if (o->nurls == EVOPT_MAX_LIST) return cli_usage_error(CMD, "too many --%s", name);
        o->urls[o->nurls++] = v;
        break;
    case O_MODEL: o->model = v; break;
    case O_KEY: o->api_key = v; break;
    case O_HEADER:
        if (!strchr(v, ':') || o->nheaders == EVOPT_MAX_LIST) return cli_usage_error(CMD, "bad --header '%s' ('K: V')", v);
        o->headers[o->nheaders++] = v;
        break;
    case O_API:
        if (choose(v, APIS, COUNT(APIS), &o->api)) return cli_usage_error(CMD, "bad --api '%s' (chat or responses)", v);
        break;
    case O_RLOG: o->request_log = v; break;
    default: return NOT_MINE;
    }
    return CLI_ARGS_OK;
}

/* Which rows, how many times. */
static int apply_selection_option(evopt *o, int id, const char *v)
{
    long n;
    switch ((opt_id)id) {
    case O_LIMIT:
        if (!parse_count(v, 0, LONG_MAX, &o->limit)) return cli_usage_error(CMD, "bad --limit '%s'", v);
        break;
    case O_ROWS:
        if (!strchr(v, ':')) return cli_usage_error(CMD, "bad --rows '%s' (A:B)", v);
        o->rows = v;
        break;
    case O_SAMPLE:
        if (!parse_count(v, 0, LONG_MAX, &o->sample)) return cli_usage_error(CMD, "bad --sample '%s'", v);
        break;
    case O_SEED:
        if (!parse_count(v, 0, LONG_MAX, &n)) return cli_usage_error(CMD, "bad --seed '%s'", v);
        o->seed = (unsigned long long)n;
        break;
    case O_REPEATS:
        if (!parse_count(v, 1, MAX_REPEATS, &o->repeats)) return cli_usage_error(CMD, "bad --num-repeats '%s'", v);
        break;
    case O_SKIP: o->skip_invalid = true; break;
    default: return NOT_MINE;
    }
    return CLI_ARGS_OK;
}

/* What each request asks of the model, and how the conversation is sent. */
static int apply_request_option(evopt *o, int id, const char *v)
{
    static const char *const HIST[] = {"field", "think", "drop"};
    static const char *const ROLES[] = {"keep", "system"};
    static const char *const OVER[] = {"gym", "fail"};
    static const char *const EFFORTS[] = {"none", "minimal", "low", "medium", "high"};
    const char *name = opt_name(id);
    int k;
    switch ((opt_id)id) {
    case O_TEMP: case O_TOPP: case O_MAXTOK:
        if (!is_json_number(v)) return cli_usage_error(CMD, "--%s needs a number", name);
        if (id == O_TEMP) o->temperature = v;
        else if (id == O_TOPP) o->top_p = v;
        else o->max_output_tokens = v;
        break;
    case O_EFFORT:
        if (choose(v, EFFORTS, COUNT(EFFORTS), &k)) return cli_usage_error(CMD, "bad --reasoning-effort '%s' (none, minimal, low, medium, high)", v);
        o->ov.reasoning_effort = v;
        break;
    case O_SET: return add_set(o, v);
    case O_EXTRA: case O_CTK:
        if (!is_json_object(v)) return cli_usage_error(CMD, "--%s needs a JSON object", name);
        if (id == O_EXTRA) o->extra_body = v;
        else o->chat_template_kwargs = v;
        break;
    case O_SEEDREP: o->seed_per_repeat = true; break;
    case O_RHIST:
        if (choose(v, HIST, COUNT(HIST), &k)) return cli_usage_error(CMD, "bad --reasoning-history '%s' (field, think, drop)", v);
        o->reasoning = (conv_reasoning)k;
        break;
    case O_DEVROLE:
        if (choose(v, ROLES, COUNT(ROLES), &k)) return cli_usage_error(CMD, "bad --developer-role '%s' (keep, system)", v);
        o->developer_as_system = k == 1;
        break;
    case O_OVERFLOW:
        if (choose(v, OVER, COUNT(OVER), &o->on_overflow)) return cli_usage_error(CMD, "bad --on-context-overflow '%s' (gym, fail)", v);
        break;
    default: return NOT_MINE;
    }
    return CLI_ARGS_OK;
}

/* How the run goes: concurrency, time limits, retries, resuming, output. */
static int apply_run_option(evopt *o, int id, const char *v)
{
    const char *name = opt_name(id);
    switch ((opt_id)id) {
    case O_CONC:
        if (!parse_count(v, 1, MAX_CONCURRENCY, &o->concurrency)) return cli_usage_error(CMD, "bad --concurrency '%s'", v);
        break;
    case O_CTIMEOUT: case O_RTIMEOUT: case O_DEADLINE: {
        double *dst = id == O_CTIMEOUT ? &o->connect_timeout
                    : id == O_RTIMEOUT ? &o->request_timeout : &o->retry_deadline;
        if (!parse_secs(v, dst)) return cli_usage_error(CMD, "bad --%s (seconds)", name);
        break;
    }
    case O_ATTEMPTS:
        if (!parse_count(v, 1, MAX_ATTEMPTS, &o->max_attempts))
            return cli_usage_error(CMD, "bad --max-attempts '%s' (1 to %d)", v, MAX_ATTEMPTS);
        break;
    case O_MAXFAIL:
        if (parse_max_failures(o, v)) return cli_usage_error(CMD, "bad --max-failures '%s' (N or P%%)", v);
        break;
    case O_RESUME: o->resume = true; break;
    case O_OVERWRITE: o->overwrite = true; break;
    case O_PRESET: o->preset = v; break;
    case O_DRY: o->dry_run = true; break;
    case O_FAILUNDER:
        if (!parse_secs(v, &o->fail_under)) return cli_usage_error(CMD, "bad --fail-under '%s'", v);
        o->has_fail_under = true;
        break;
    case O_QUIET: o->quiet = true; break;
    case O_JSON: o->json = true; break;
    default: return NOT_MINE;
    }
    return CLI_ARGS_OK;
}

static int apply_option(evopt *o, int id, const char *v, grading_flag *grading, size_t *ngrading)
{
    if (CLI_IS_GRADING_OPTION(id)) {
        if (*ngrading == MAX_GRADING_FLAGS)
            return cli_usage_error(CMD, "%s", "too many grading flags");
        grading[(*ngrading)++] = (grading_flag){id, v};
        return CLI_ARGS_OK;
    }
    if (id == O_HELP) {
        usage(stdout);
        return CLI_ARGS_HELP;
    }
    int (*const groups[])(evopt *, int, const char *) = {
        apply_io_option, apply_selection_option, apply_request_option, apply_run_option,
    };
    for (int i = 0; i < COUNT(groups); i++) {
        int rc = groups[i](o, id, v);
        if (rc != NOT_MINE)
            return rc;
    }
    return cli_usage_error(CMD, "unknown option (%d)", id);
}

/* Numbers given as flags become overrides (after --set, which they beat). */
static int finish_overrides(evopt *o)
{
    char why[256];
    const char *keys[3] = {"temperature", "top_p", "max_output_tokens"};
    const char *vals[3] = {o->temperature, o->top_p, o->max_output_tokens};
    for (int i = 0; i < 3; i++)
        if (vals[i] && evroll_override_add(&o->ov, keys[i], vals[i], why, sizeof why))
            return cli_usage_error(CMD, "%s", why);
    return CLI_ARGS_OK;
}

static int finish_options(evopt *o, const grading_flag *grading, size_t ngrading)
{
    if (apply_preset(o->preset, &o->cfg))
        return cli_usage_error(CMD, "unknown --preset '%s' (toolcall_schema, conversational, search, swe, droid, parallel)", o->preset);
    char why[256];
    for (size_t i = 0; i < ngrading; i++)
        if (cli_grading_option_apply(grading[i].opt, grading[i].value, &o->cfg, why, sizeof why))
            return cli_usage_error(CMD, "%s", why);
    if (!o->data)
        return cli_usage_error(CMD, "%s", "--data FILE is required");
    if (!o->out && !o->dry_run)
        return cli_usage_error(CMD, "%s", "-o FILE is required");
    if (o->resume && o->overwrite)
        return cli_usage_error(CMD, "%s", "--resume and --overwrite exclude each other");
    if (!o->nurls) {
        const char *u = getenv("FCPIVOT_MODEL_URL");
        if (!u || !*u)
            u = getenv("OPENAI_BASE_URL");
        o->urls[o->nurls++] = u && *u ? u : DEFAULT_URL;
    }
    if (!o->api_key) {
        const char *k = getenv("FCPIVOT_API_KEY");
        o->api_key = k && *k ? k : getenv("OPENAI_API_KEY");
    }
    if (!o->max_failures && !o->max_failures_pct)
        parse_max_failures(o, DEFAULT_MAX_FAILURES);
    return finish_overrides(o);
}

int evopt_parse(int argc, char **argv, evopt *o)
{
    opts_init(o, argc, argv);
    grading_flag grading[MAX_GRADING_FLAGS];
    size_t ngrading = 0;
    bool max_failures_given = false;
    optind = 0;   /* a fresh scan (glibc) */
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, SHORT_OPTS, LONG_OPTS, NULL)) != -1) {
        if (opt == '?' || opt == ':') {
            char why[256];
            cli_getopt_why(opt, argv, why, sizeof why);
            return cli_usage_error(CMD, "%s", why);
        }
        max_failures_given |= opt == O_MAXFAIL;
        int rc = apply_option(o, opt, optarg, grading, &ngrading);
        if (rc != CLI_ARGS_OK)
            return rc;
    }
    if (optind < argc)
        return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (!max_failures_given)
        parse_max_failures(o, DEFAULT_MAX_FAILURES);
    return finish_options(o, grading, ngrading);
}
