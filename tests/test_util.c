/* Tests of util.h: arena, buffer, JSON string escaping and float repr. (The
 * JSON scanner that lived here is jtext's now: tests/test_jtext.c.) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

/* The reference: the first byte a JSON string cannot hold as it is. */
static size_t plain_run_bytes(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && (unsigned char)s[i] >= 0x20 && s[i] != '"' && s[i] != '\\')
        i++;
    return i;
}

/* util_json_plain_run by 8-byte words against the byte loop: every byte value
 * at every offset of texts 0-24 bytes long (across the word edges), behind
 * plain bytes of every kind (ASCII and >= 0x80), in exactly-sized heap
 * blocks so ASan sees any read past the end; and the escaper it drives. */
Test(util, json_plain_run_matches_the_byte_loop)
{
    static const unsigned char fill[] = {'a', ' ', 0x7f, 0x80, 0xC3, 0xFF, '#', ']'};
    for (size_t n = 0; n <= 24; n++)
        for (size_t at = 0; at <= n; at++)
            for (unsigned c = 0; c < 256; c++)
                for (size_t f = 0; f < sizeof fill; f++) {
                    char *t = malloc(n ? n : 1);
                    cr_assert(t);
                    memset(t, fill[f], n);
                    if (at < n)
                        t[at] = (char)c;
                    cr_assert_eq(util_json_plain_run(t, n), plain_run_bytes(t, n),
                                 "n %zu at %zu byte %u fill %u", n, at, c, fill[f]);
                    free(t);
                }
    util_buf b = UTIL_BUF_INIT;
    const char text[] = "0123456789abcdef\"\\x\tyz0123456789\x01";
    cr_assert_eq(util_buf_json_string(&b, text, sizeof text - 1), 0);
    cr_assert_str_eq(b.data, "\"0123456789abcdef\\\"\\\\x\\tyz0123456789\\u0001\"");
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

/* What Python's json.dumps writes for the same text (ensure_ascii). */
Test(util, json_ascii_escapes_like_python)
{
    util_buf b = UTIL_BUF_INIT;
    const char s[] = "a\"\\\n\x01\x7f\xC3\xA9\xF0\x9F\x98\x80\xED\xA0\x80\0z";
    cr_assert_eq(util_buf_json_ascii(&b, s, sizeof s - 1), 0);
    cr_assert_str_eq(b.data, "\"a\\\"\\\\\\n\\u0001\\u007f\\u00e9\\ud83d\\ude00\\ud800\\u0000z\"");
    b.len = 0;
    cr_assert_eq(util_buf_json_ascii(&b, "\xff" "x\xC3", 3), 0);
    cr_assert_str_eq(b.data, "\"\\ufffdx\\ufffd\"", "invalid bytes become U+FFFD");
    util_buf_free(&b);
}

static void sha_hex(const void *data, size_t n, char hex[65])
{
    util_sha256 s;
    unsigned char d[32];
    util_sha256_init(&s);
    /* in uneven pieces, to cross block boundaries */
    for (size_t off = 0, step = 1; off < n; off += step, step = step * 3 % 97 + 1)
        util_sha256_update(&s, (const char *)data + off, off + step <= n ? step : n - off);
    util_sha256_final(&s, d);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

/* FIPS 180-4 example digests. */
Test(util, sha256_known_digests)
{
    char hex[65];
    sha_hex("", 0, hex);
    cr_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha_hex("abc", 3, hex);
    cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha_hex(two, strlen(two), hex);
    cr_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    char *million = malloc(1000000);
    memset(million, 'a', 1000000);
    sha_hex(million, 1000000, hex);
    cr_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(million);
}

Test(util, escaped_text_for_terminals)
{
    util_buf b = UTIL_BUF_INIT;
    const char s[] = "ok \xC3\xA9\x1b[31m\0z\x7f\xC2\x9B\xff\xE2\x82\xAC";
    cr_assert_eq(util_buf_escaped(&b, s, sizeof s - 1), 0);
    cr_assert_str_eq(b.data, "ok \xC3\xA9\\x1b[31m\\x00z\\x7f\\u009b\\xff\xE2\x82\xAC");
    util_buf_free(&b);
}

Test(util, buf_take_hands_over_the_bytes)
{
    util_buf b = UTIL_BUF_INIT;
    cr_assert_eq(util_buf_puts(&b, "hello"), 0);
    size_t n = 99;
    char *s = util_buf_take(&b, &n);
    cr_assert_str_eq(s, "hello");
    cr_assert_eq(n, 5);
    cr_assert_null(b.data);
    cr_assert_eq(b.len + b.cap, 0);
    free(s);
    s = util_buf_take(&b, &n);   /* never allocated: an empty string */
    cr_assert_not_null(s);
    cr_assert_str_eq(s, "");
    cr_assert_eq(n, 0);
    free(s);
}

Test(util, buf_consume_drops_the_front_and_keeps_the_rest)
{
    util_buf b = UTIL_BUF_INIT;
    util_buf_consume(&b, 3);                 /* empty, never allocated: nothing to do */
    cr_assert_null(b.data);
    cr_assert_eq(util_buf_puts(&b, "line1\nline2"), 0);
    size_t cap = b.cap;
    util_buf_consume(&b, 6);
    cr_assert_str_eq(b.data, "line2");
    cr_assert_eq(b.len, 5);
    cr_assert_eq(b.cap, cap);                /* room kept for the next read */
    util_buf_consume(&b, 99);                /* more than there is: empty */
    cr_assert_eq(b.len, 0);
    cr_assert_str_eq(b.data, "");
    util_buf_free(&b);
}

Test(util, grow_doubles_and_keeps_the_elements)
{
    int *a = NULL;
    size_t cap = 0;
    cr_assert_eq(util_grow(&a, &cap, 1, sizeof *a, 4), 0);
    cr_assert_eq(cap, 4);
    for (int i = 0; i < 4; i++)
        a[i] = i * 10;
    cr_assert_eq(util_grow(&a, &cap, 4, sizeof *a, 4), 0);   /* room already */
    cr_assert_eq(cap, 4);
    cr_assert_eq(util_grow(&a, &cap, 9, sizeof *a, 4), 0);
    cr_assert_eq(cap, 16);
    cr_assert_eq(a[3], 30);
    int *before = a;
    cr_assert_eq(util_grow(&a, &cap, SIZE_MAX / 2, sizeof *a, 4), -1);   /* too large */
    cr_assert_eq(a, before);
    cr_assert_eq(cap, 16);
    free(a);
}

Test(util, set_err_formats_and_truncates)
{
    char err[8];
    util_set_err(err, sizeof err, "%s %d", "abc", 12345);
    cr_assert_str_eq(err, "abc 123");
    util_set_err(NULL, 10, "ignored %d", 1);    /* no buffer: nothing happens */
    strcpy(err, "keep");
    util_set_err(err, 0, "x");
    cr_assert_str_eq(err, "keep");
}

Test(util, hex4_and_utf8)
{
    cr_assert_eq(util_hex4("00e9", 4), 0xe9);
    cr_assert_eq(util_hex4("D83dx", 5), 0xd83d);
    cr_assert_eq(util_hex4("12g4", 4), -1);
    cr_assert_eq(util_hex4("123", 3), -1);
    const uint32_t cps[] = {0x41, 0xe9, 0x20ac, 0xd800, 0x1f600, 0x10ffff};
    const size_t lens[] = {1, 2, 3, 3, 4, 4};
    for (size_t i = 0; i < sizeof cps / sizeof cps[0]; i++) {
        char u[4];
        cr_assert_eq(util_utf8_put(cps[i], u), lens[i]);
        size_t len = 0;
        if (cps[i] >= 0x80) {
            cr_assert_eq(util_utf8_get((const unsigned char *)u, lens[i], &len), cps[i]);
            cr_assert_eq(len, lens[i]);
        }
    }
    size_t len = 0;
    cr_assert_eq(util_utf8_get((const unsigned char *)"\xC0\x80", 2, &len), 0xFFFD);   /* overlong */
    cr_assert_eq(len, 1);
    cr_assert_eq(util_utf8_get((const unsigned char *)"\xE2\x82", 2, &len), 0xFFFD);   /* cut short */
    cr_assert_eq(len, 1);
    cr_assert_eq(util_utf8_get((const unsigned char *)"\xF4\x90\x80\x80", 4, &len), 0xFFFD);
}

Test(util, clocks_move_forward)
{
    double a = util_now_mono();
    struct timespec d = util_deadline_mono(2.5);
    double b = util_now_mono();
    cr_assert(b >= a);
    double at = (double)d.tv_sec + (double)d.tv_nsec / 1e9;
    cr_assert(at >= a + 2.5 - 1e-6 && at <= b + 2.5 + 1e-6);
    cr_assert(d.tv_nsec >= 0 && d.tv_nsec < 1000000000L);
    cr_assert(util_now_real() > 1.5e9);   /* after 2017 */
}
