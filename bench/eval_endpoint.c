/* eval_endpoint — an instant local OpenAI-compatible endpoint for the eval
 * benchmark (bench/60-eval.sh): the tests' fake server (tests/fakeoai.c),
 * run as a program. Prints its port, serves until stdin closes. */
#include "../tests/fakeoai.c"

int main(void)
{
    fo_server *s = fo_start(NULL);
    if (!s) {
        fprintf(stderr, "eval_endpoint: cannot listen\n");
        return 1;
    }
    printf("%u\n", fo_port(s));
    fflush(stdout);
    char buf[256];
    while (read(0, buf, sizeof buf) > 0)
        ;
    fprintf(stderr, "eval_endpoint: %zu requests, %zu connections, at most %zu at once\n",
            fo_requests(s), fo_connections(s), fo_max_in_flight(s));
    fo_stop(s);
    return 0;
}
