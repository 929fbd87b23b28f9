/* cli — the fcpivot subcommands. Each takes argv with argv[0] = the command
 * name and returns the process exit status (0 ok, 1 failure, 2 usage). */
#ifndef FCPIVOT_CLI_H
#define FCPIVOT_CLI_H

int cli_grade(int argc, char **argv);     /* cli_grade.c */
int cli_validate(int argc, char **argv);  /* cli_dataset.c */
int cli_stats(int argc, char **argv);     /* cli_dataset.c */
int cli_download(int argc, char **argv);  /* cli_download.c */
int cli_serve(int argc, char **argv);     /* cli_serve.c */
int cli_report(int argc, char **argv);    /* cli_report.c */
int cli_eval(int argc, char **argv);      /* cli_eval.c */

#ifndef FCPIVOT_VERSION
#define FCPIVOT_VERSION "0.1.0"
#endif

#endif
