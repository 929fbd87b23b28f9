/* cli_download — placeholder until its issue lands. */
#include <stdio.h>
#include "cli.h"

int cli_download(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "fcpivot %s: not implemented yet\n", argv[0]);
    return 1;
}
