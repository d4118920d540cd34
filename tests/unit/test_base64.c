/* Base64 (RFC 4648 §4) as used for msgs (§2.2 step 2) and bytes values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec/base64.h"

/* Decode a NUL-terminated string; returns 0/-1 like vx_base64_decode and
 * leaves the result in a static buffer. */
static uint8_t dec[4096];
static size_t dec_len, dec_bad;

static int decode(const char *s, int skip_ws) {
    size_t n = strlen(s);
    assert_true(vx_base64_decoded_max(n) <= sizeof dec);
    dec_len = (size_t)-1;
    dec_bad = (size_t)-1;
    return vx_base64_decode(s, n, dec, &dec_len, skip_ws, &dec_bad);
}

static void test_base64_rfc4648_vectors(void **state) {
    static const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *enc[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char out[16];
        size_t n = strlen(plain[i]);
        assert_int_equal(vx_base64_encoded_len(n), strlen(enc[i]));
        size_t w = vx_base64_encode((const uint8_t *)plain[i], n, out);
        assert_int_equal(w, strlen(enc[i]));
        assert_memory_equal(out, enc[i], w);
        assert_int_equal(decode(enc[i], 0), 0);
        assert_int_equal(dec_len, n);
        assert_memory_equal(dec, plain[i], n);
    }
}

/* Every byte value and every length 0..600 round-trips, through both the
 * quad fast path and the padded tail. */
static void test_base64_roundtrip_all_lengths(void **state) {
    uint8_t in[600];
    for (size_t i = 0; i < sizeof in; i++) in[i] = (uint8_t)(i * 131 + 7);
    char enc[804];
    for (size_t n = 0; n <= sizeof in; n++) {
        size_t w = vx_base64_encode(in, n, enc);
        assert_int_equal(w % 4, 0);
        enc[w] = 0;
        assert_int_equal(decode(enc, 0), 0);
        assert_int_equal(dec_len, n);
        assert_memory_equal(dec, in, n);
    }
}

static void test_C06_base64_rejects_non_alphabet(void **state) {
    /* At every position of a valid 16-char string, each kind of bad char. */
    const char *good = "eNo1jtEKwjAMRX+l";
    const char bads[] = {'!', '*', '-', '_', '.', '{', '\0' + 1, (char)0xC3};
    for (size_t pos = 0; pos < 16; pos++) {
        for (size_t b = 0; b < sizeof bads; b++) {
            char s[17];
            memcpy(s, good, 17);
            s[pos] = bads[b];
            assert_int_equal(decode(s, 1), -1);
            assert_int_equal(dec_bad, pos);
        }
    }
    /* A non-ASCII char inside otherwise good input. */
    assert_int_equal(decode("eNo\xc3\xbc", 1), -1);
    assert_int_equal(dec_bad, 3);
}

static void test_C06_base64_rejects_length_4n_plus_1(void **state) {
    assert_int_equal(decode("a", 1), -1);
    assert_int_equal(dec_bad, 1);
    assert_int_equal(decode("Zm9vY", 1), -1);
    assert_int_equal(decode("Zm9vYmFyZ", 0), -1);
    assert_int_equal(decode("abc", 1), -1); /* 4n+3, no padding */
    assert_int_equal(decode("ab", 1), -1);
    /* Whitespace does not count toward the length. */
    assert_int_equal(decode("Zm9v Y", 1), -1);
    assert_int_equal(decode("Zm9 v\n", 1), 0);
    assert_int_equal(dec_len, 3);
}

static void test_C06_base64_padding_rules(void **state) {
    assert_int_equal(decode("abcd=efg", 1), -1); /* padding then data */
    assert_int_equal(dec_bad, 4);
    assert_int_equal(decode("ab=c", 1), -1);
    assert_int_equal(dec_bad, 2);
    assert_int_equal(decode("a===", 1), -1);
    assert_int_equal(dec_bad, 1);
    assert_int_equal(decode("====", 1), -1);
    assert_int_equal(dec_bad, 0);
    assert_int_equal(decode("Zg===", 1), -1); /* three pads */
    assert_int_equal(decode("Zg=", 1), -1);   /* short */
    assert_int_equal(decode("Zm8==", 1), -1);
    assert_int_equal(decode("Zg==Zg==", 1), -1); /* padding mid-stream */
    assert_int_equal(decode("Zg==", 1), 0);
    assert_int_equal(decode("Zg= =\r\n", 1), 0); /* ws inside/after padding */
    assert_int_equal(dec_len, 1);
    assert_int_equal(decode("Zg= =", 0), -1);
    /* Non-zero padding bits are ignored (MAY). */
    assert_int_equal(decode("Zh==", 0), 0);
    assert_int_equal(dec_len, 1);
    assert_int_equal(dec[0], 'f');
}

static void test_base64_whitespace_skipped_only_when_asked(void **state) {
    const char *with_ws = " Zm9v\r\nYmFy\tZm9v YmE=\n";
    assert_int_equal(decode(with_ws, 1), 0);
    assert_int_equal(dec_len, 11);
    assert_memory_equal(dec, "foobarfooba", 11);
    assert_int_equal(decode(with_ws, 0), -1);
    assert_int_equal(dec_bad, 0);
    assert_int_equal(decode("Zm9v\nYmFy", 0), -1);
    assert_int_equal(dec_bad, 4);
    /* Only whitespace: zero bytes, valid. */
    assert_int_equal(decode(" \n", 1), 0);
    assert_int_equal(dec_len, 0);
}

/* A long encoding broken into 76-char lines (MIME style) decodes the same as
 * the unbroken one: the slow path hands back to the fast path. */
static void test_base64_line_broken_matches(void **state) {
    uint8_t in[1000];
    for (size_t i = 0; i < sizeof in; i++) in[i] = (uint8_t)(i * 7 ^ (i >> 3));
    char flat[1400], broken[1500];
    size_t w = vx_base64_encode(in, sizeof in, flat), b = 0;
    for (size_t i = 0; i < w; i++) {
        if (i && i % 76 == 0) broken[b++] = i % 152 ? '\n' : ' ';
        broken[b++] = flat[i];
    }
    broken[b] = 0;
    assert_int_equal(decode(broken, 1), 0);
    assert_int_equal(dec_len, sizeof in);
    assert_memory_equal(dec, in, sizeof in);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64_rfc4648_vectors),
        cmocka_unit_test(test_base64_roundtrip_all_lengths),
        cmocka_unit_test(test_C06_base64_rejects_non_alphabet),
        cmocka_unit_test(test_C06_base64_rejects_length_4n_plus_1),
        cmocka_unit_test(test_C06_base64_padding_rules),
        cmocka_unit_test(test_base64_whitespace_skipped_only_when_asked),
        cmocka_unit_test(test_base64_line_broken_matches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
