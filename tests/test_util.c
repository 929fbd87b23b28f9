/* Tests of util.h: arena, buffer, JSON string escaping and float repr. (The
 * JSON scanner that lived here is jtext's now: tests/test_jtext.c.) */
#include <stdint.h>
#include <string.h>
#include "testutil.h"
#include "util.h"

Test(util, arena_alignment_and_growth)
{
    char first[100];
    util_arena a;
    util_arena_init(&a, first, sizeof first);
    for (size_t i = 1; i < 3000; i += 7) {
        char *p = util_arena_alloc(&a, i);
        cr_assert(p);
        cr_assert_eq((uintptr_t)p % 16, 0);
        memset(p, 0xAB, i);
    }
    void *big = util_arena_alloc(&a, 1 << 20);
    cr_assert(big);
    memset(big, 1, 1 << 20);
    util_arena_free(&a);
}

Test(util, buffer_and_json_strings)
{
    util_buf b = UTIL_BUF_INIT;
    cr_assert_eq(util_buf_json_string(&b, "a\"b\\c\n\x01\x7f\xC3\xA9\0z", 12), 0);
    cr_assert_eq(b.len, strlen("\"a\\\"b\\\\c\\n\\u0001\x7f\xC3\xA9\\u0000z\""));
    cr_assert(!memcmp(b.data, "\"a\\\"b\\\\c\\n\\u0001\x7f\xC3\xA9\\u0000z\"", b.len));
    b.len = 0;
    for (int i = 0; i < 1000; i++)
        util_buf_printf(&b, "%d,", i);
    cr_assert(strstr(b.data, "998,999,"));
    cr_assert_eq(b.data[b.len], '\0');
    util_buf_free(&b);
}

Test(util, float_repr_matches_python)
{
    const struct { double v; const char *s; } cases[] = {
        {1.0, "1.0"}, {0.1, "0.1"}, {-2.5, "-2.5"}, {1e22, "1e+22"}, {1e-5, "1e-05"},
        {123.456, "123.456"}, {0.30000000000000004, "0.30000000000000004"},
        {5e-324, "5e-324"}, {1.7976931348623157e308, "1.7976931348623157e+308"},
        {9007199254740993.0, "9007199254740992.0"}, {1e16, "1e+16"}, {1234567890123456.0, "1234567890123456.0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[32];
        util_float_repr(cases[i].v, buf, sizeof buf);
        cr_assert_str_eq(buf, cases[i].s);
    }
}

/* FIPS 180-4 examples, fed whole and in odd pieces (block boundaries). */
Test(util, sha256_known_digests)
{
    static const struct { const char *in, *hex; } V[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    for (size_t i = 0; i < sizeof V / sizeof V[0]; i++) {
        for (size_t step = 1; step <= 64; step *= 3) {
            util_sha256 s;
            util_sha256_init(&s);
            size_t n = strlen(V[i].in);
            for (size_t k = 0; k < n; k += step)
                util_sha256_update(&s, V[i].in + k, n - k < step ? n - k : step);
            char hex[65];
            util_sha256_hex(&s, hex);
            cr_assert_str_eq(hex, V[i].hex, "input %zu step %zu", i, step);
        }
    }
    util_sha256 s;
    util_sha256_init(&s);
    char a[1000];
    memset(a, 'a', sizeof a);
    for (int k = 0; k < 1000; k++)
        util_sha256_update(&s, a, sizeof a);
    char hex[65];
    util_sha256_hex(&s, hex);
    cr_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
