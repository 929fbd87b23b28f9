/* fuzzutil — shared by the libFuzzer targets in fuzz/: an invariant check that
 * aborts (so libFuzzer saves the input) with a message saying what broke. */
#ifndef FCPIVOT_FUZZUTIL_H
#define FCPIVOT_FUZZUTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond, ...)                                                  \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "FUZZ-CHECK failed at %s:%d: %s: ", __FILE__,      \
                    __LINE__, #cond);                                          \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
            abort();                                                           \
        }                                                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
