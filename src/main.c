/* main — fcpivot's entry point: dispatches to the subcommands in cli_*.c. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "cli.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command COMMANDS[] = {
    {"serve",    cli_serve,    "serve the environment over ORS and the NeMo Gym API"},
    {"grade",    cli_grade,    "grade NeMo Gym verify requests (JSONL) like NeMo Gym does"},
    {"validate", cli_validate, "validate dataset files"},
    {"stats",    cli_stats,    "describe dataset files"},
    {"download", cli_download, "download a pivot dataset from the hub"},
    {"eval",     cli_eval,     "run a model on the dataset through an OpenAI-compatible endpoint"},
    {"report",   cli_report,   "summarise a rollouts file (text, JSON, HTML) or compare two"},
};
#define NCOMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

static void usage(FILE *out)
{
    fprintf(out, "usage: fcpivot <command> [options]\n\n"
                 "The Nemotron function-calling pivot RL environment.\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-9s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(out, "\nRun 'fcpivot <command> --help' for a command's options.\n");
}

/* Every command's output is checked once here: a full disk or a closed pipe
 * is an error that names the OS error, never a silent exit 0. */
static int finish_stdout(const char *cmd, int rc)
{
    errno = 0;
    if (fflush(stdout) == 0 && !ferror(stdout))
        return rc;
    fprintf(stderr, "fcpivot %s: cannot write standard output: %s\n", cmd,
            strerror(errno ? errno : EIO));
    return rc ? rc : 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(name, "--version")) {
        printf("fcpivot %s\n", FCPIVOT_VERSION);
        return 0;
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(name, COMMANDS[i].name))
            return finish_stdout(name, COMMANDS[i].run(argc - 1, argv + 1));
    fprintf(stderr, "fcpivot: unknown command '%s'\n", name);
    usage(stderr);
    return 2;
}
