/* cli_dataset — placeholder until its issue lands. */
#include <stdio.h>
#include "cli.h"

int cli_validate(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "fcpivot %s: not implemented yet\n", argv[0]);
    return 1;
}

int cli_stats(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "fcpivot %s: not implemented yet\n", argv[0]);
    return 1;
}
