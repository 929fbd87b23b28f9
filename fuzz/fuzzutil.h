/* fuzzutil — shared by the libFuzzer targets in fuzz/: an invariant check that
 * aborts (so libFuzzer saves the input) with a message saying what broke, and
 * the comparator configuration chosen by one input byte. */
#ifndef FCPIVOT_FUZZUTIL_H
#define FCPIVOT_FUZZUTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "grade.h"

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

/* A grader configuration from the bits of one byte: rewarding, subset,
 * superset, reward mode (2 bits), a high similarity threshold, a loose float
 * tolerance. Bit 7 is left to the caller. */
static inline grade_config fuzz_grade_config(uint8_t bits)
{
    static const grade_mode modes[4] = {GRADE_MODE_BINARY_STRICT, GRADE_MODE_FRACTIONAL,
                                        GRADE_MODE_F1, GRADE_MODE_BINARY_STRICT};
    grade_config cfg;
    grade_config_default(&cfg);
    cfg.parallel_rewarding = bits & 1;
    cfg.allow_subset = bits & 2;
    cfg.allow_superset = bits & 4;
    cfg.mode = modes[(bits >> 3) & 3];
    if (bits & 32) cfg.word_similarity_threshold = 0.45;
    if (bits & 64) cfg.float_tolerance = 0.5;
    return cfg;
}

#endif
