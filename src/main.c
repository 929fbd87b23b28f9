/* main — fcpivot's entry point: dispatches to the subcommands in cli_*.c. */
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
            return COMMANDS[i].run(argc - 1, argv + 1);
    fprintf(stderr, "fcpivot: unknown command '%s'\n", name);
    usage(stderr);
    return 2;
}
