/* cli_grade — placeholder until its issue lands. */
#include <stdio.h>
#include "cli.h"

int cli_grade(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "fcpivot %s: not implemented yet\n", argv[0]);
    return 1;
}
