/* The gen1 msg layer (PROTOCOL §1.2, §2.1 steps 4-5, §2.2 steps 1-4, §6):
 * size limit, base64, generation, zlib, inflate limit; end-to-end through
 * the JSON encoder/decoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <cmocka.h>
#include <libdeflate.h>

#include <vortexc/codec.h>
#include <vortexc/payload.h>

#include "codec/base64.h"
#include "codec/msg_impl.h"
#include "helpers/vxtest.h"

/* ---- helpers ----------------------------------------------------------- */

/* A payload with some body: filt, tuples of strings, a result. NEW. */
static vx_payload *sample_payload(size_t n_items) {
    vx_payload *p = vx_payload_new_key("test.msg");
    assert_non_null(p);
    vx_value *filt = vx_payload_filt(p);
    assert_int_equal(vx_dict_set_new(filt, "name", vx_str("caf\xc3\xa9 \xf0\x9f\x98\x80")),
                     0);
    assert_int_equal(vx_dict_set_new(filt, "n", vx_int(42)), 0);
    vx_value *tuples = vx_payload_tuples(p);
    for (size_t i = 0; i < n_items; i++) {
        char s[64];
        snprintf(s, sizeof s, "item %zu \xe6\x97\xa5\xe6\x9c\xac", i);
        assert_int_equal(vx_list_append_new(tuples, vx_str(s)), 0);
    }
    assert_int_equal(vx_payload_set_result_new(p, vx_str("ok")), 0);
    return p;
}

static void assert_payload_equal(const vx_payload *a, const vx_payload *b) {
    assert_true(vx_equal(vx_payload_filt(a), vx_payload_filt(b)));
    assert_true(vx_equal(vx_payload_reply_filt(a), vx_payload_reply_filt(b)));
    assert_true(vx_equal(vx_payload_tuples(a), vx_payload_tuples(b)));
    assert_true(vx_equal(vx_payload_result(a), vx_payload_result(b)));
    assert_true(vx_equal(vx_payload_date(a), vx_payload_date(b)));
}

/* base64 of raw bytes, as a NUL-terminated NEW string. */
static char *b64(const void *data, size_t len) {
    char *s = malloc(vx_base64_encoded_len(len) + 1);
    assert_non_null(s);
    s[vx_base64_encode(data, len, s)] = 0;
    return s;
}

/* Compress `len` bytes with libdeflate directly in one of its formats. */
enum fmt { ZLIB, RAW, GZIP };
static uint8_t *compress_fmt(enum fmt f, const void *in, size_t len, size_t *out_len) {
    struct libdeflate_compressor *c = libdeflate_alloc_compressor(6);
    assert_non_null(c);
    size_t cap = libdeflate_gzip_compress_bound(c, len) + 64;
    uint8_t *out = malloc(cap);
    assert_non_null(out);
    *out_len = f == ZLIB  ? libdeflate_zlib_compress(c, in, len, out, cap)
               : f == RAW ? libdeflate_deflate_compress(c, in, len, out, cap)
                          : libdeflate_gzip_compress(c, in, len, out, cap);
    assert_true(*out_len > 0);
    libdeflate_free_compressor(c);
    return out;
}

static int decode_code(const char *msg, size_t len, const vx_codec_opts *opts,
                       vx_error *err) {
    vx_payload *p = (vx_payload *)1;
    int rc = vx_msg_decode(msg, len, opts, &p, err);
    if (rc) {
        assert_null(p);
    } else {
        assert_non_null(p);
        vx_payload_decref(p);
    }
    return rc;
}

static int decode_str(const char *msg) {
    vx_error err;
    return decode_code(msg, strlen(msg), NULL, &err);
}

static const char *MIN_JSON =
    "{\"_ct\": \"rp\", \"filt\": {}, \"tuples\": [], \"result\": null}";

/* ---- C-01 ---------------------------------------------------------------- */

/* Independent checks: a naive bit-at-a-time base64 decoder and libdeflate
 * called directly, not the codec's own paths. */
static void test_C01_msg_is_padded_base64_of_zlib_ascii_json(void **state) {
    vx_payload *p = sample_payload(20);
    vx_buf out = {0};
    vx_error err;
    assert_int_equal(vx_msg_encode(p, NULL, &out, &err), 0);
    assert_true(out.len > 0);
    assert_int_equal(out.len % 4, 0);

    const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t pads = 0;
    uint8_t *raw = malloc(out.len);
    size_t nraw = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < out.len; i++) {
        char ch = out.data[i];
        if (ch == '=') {
            pads++;
            assert_true(i >= out.len - 2);
            continue;
        }
        assert_int_equal(pads, 0);
        const char *at = memchr(alpha, ch, 64);
        assert_non_null(at);
        acc = acc << 6 | (uint32_t)(at - alpha);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            raw[nraw++] = (uint8_t)(acc >> bits);
        }
    }
    assert_int_equal(raw[0], 0x78); /* zlib, 32 KiB window */
    assert_int_equal((raw[0] * 256 + raw[1]) % 31, 0);

    struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
    size_t cap = 1 << 20, used = 0, njson = 0;
    char *json = malloc(cap);
    assert_int_equal(libdeflate_zlib_decompress_ex(d, raw, nraw, json, cap, &used, &njson),
                     LIBDEFLATE_SUCCESS);
    assert_int_equal(used, nraw);
    for (size_t i = 0; i < njson; i++) assert_true((unsigned char)json[i] < 0x80);
    assert_non_null(memmem(json, njson, "caf\\u00e9 \\ud83d\\ude00", 22));
    assert_true(memmem(json, njson, "\"_ct\": \"rp\"", 11) == json + 1);

    /* And it decodes back to the same payload. */
    vx_payload *back = NULL;
    assert_int_equal(vx_msg_decode(out.data, out.len, NULL, &back, &err), 0);
    assert_payload_equal(p, back);

    vx_payload_decref(back);
    libdeflate_free_decompressor(d);
    free(json);
    free(raw);
    vx_buf_free(&out);
    vx_payload_decref(p);
}

/* ---- C-04 (msg layer part) ---------------------------------------------- */

/* Every vortexpy 0.3.1 msg base64-decodes and inflates to exactly the JSON
 * text vortexpy compressed. */
static void test_C04_vortexpy_msgs_inflate_to_reference_json(void **state) {
    vx_value *vecs = NULL;
    vx_error err;
    assert_int_equal(vxt_load_vectors("vortexpy-0.3.1.jsonl", &vecs, &err), 0);
    assert_true(vx_list_size(vecs) >= 46);
    vx_codec *c = vx_codec_new(NULL);
    for (size_t i = 0; i < vx_list_size(vecs); i++) {
        vx_value *rec = vx_list_get(vecs, i);
        size_t mlen, jlen, got_len;
        const char *m = vxt_get_str(rec, "vortexMsg", &mlen);
        const char *j = vxt_get_str(rec, "json", &jlen);
        assert_non_null(m);
        assert_non_null(j);
        const char *got;
        assert_int_equal(vx_codec_unwrap(c, m, mlen, &got, &got_len, &err), 0);
        assert_int_equal(got_len, jlen);
        assert_memory_equal(got, j, jlen);
        assert_int_equal(vx_msg_generation(m, mlen), 1);
    }
    vx_codec_free(c);
    vx_decref(vecs);
}

/* The default compression policy compresses small JSON with zlib 9, as
 * vortexpy does, so the msgs are byte-identical to vortexpy's; large JSON
 * goes to libdeflate and comes out smaller than vortexpy's. */
static void test_C04_default_policy_reproduces_vortexpy_msgs(void **state) {
    vx_value *vecs = NULL;
    vx_error err;
    assert_int_equal(vxt_load_vectors("vortexpy-0.3.1.jsonl", &vecs, &err), 0);
    vx_codec *c = vx_codec_new(NULL);
    size_t small = 0, large = 0;
    for (size_t i = 0; i < vx_list_size(vecs); i++) {
        vx_value *rec = vx_list_get(vecs, i);
        size_t mlen, jlen;
        const char *m = vxt_get_str(rec, "vortexMsg", &mlen);
        const char *j = vxt_get_str(rec, "json", &jlen);
        vx_buf out = {0};
        assert_int_equal(vx_codec_wrap(c, j, jlen, &out, &err), 0);
        if (jlen < VX_ZLIB_AUTO_SMALL_JSON) {
            if (out.len != mlen || memcmp(out.data, m, mlen) != 0)
                fail_msg("%s: msg differs from vortexpy's", vxt_get_str(rec, "name", NULL));
            small++;
        } else {
            assert_true(out.len < mlen);
            large++;
        }
        vx_buf_free(&out);
    }
    assert_true(small >= 40 && large >= 1);
    vx_codec_free(c);
    vx_decref(vecs);
}

/* ---- C-05 ---------------------------------------------------------------- */

static void test_C05_levels_0_to_9_encode_and_decode(void **state) {
    vx_payload *p = sample_payload(200);
    size_t len0 = 0, len9 = 0;
    for (int level = 0; level <= 12; level++) {
        vx_codec_opts o;
        vx_codec_opts_init(&o);
        o.zlib_level = level;
        vx_buf out = {0};
        vx_error err;
        assert_int_equal(vx_msg_encode(p, &o, &out, &err), 0);
        uint8_t *raw = malloc(out.len);
        size_t n, bad;
        assert_int_equal(vx_base64_decode(out.data, out.len, raw, &n, 0, &bad), 0);
        assert_true((raw[0] * 256 + raw[1]) % 31 == 0 && (raw[0] & 15) == 8);
        /* Level 0 is stored blocks (BTYPE 00); others compress. */
        if (level == 0)
            assert_int_equal((raw[2] >> 1) & 3, 0);
        else
            assert_int_not_equal((raw[2] >> 1) & 3, 0);
        if (level == 0) len0 = out.len;
        if (level == 9) len9 = out.len;
        free(raw);
        /* Every level decodes with the default options. */
        vx_payload *back = NULL;
        assert_int_equal(vx_msg_decode(out.data, out.len, NULL, &back, &err), 0);
        assert_payload_equal(p, back);
        vx_payload_decref(back);
        vx_buf_free(&out);
    }
    assert_true(len9 * 3 < len0);

    /* Out-of-range levels are refused, not clamped. */
    vx_codec_opts o;
    vx_codec_opts_init(&o);
    o.zlib_level = 13;
    assert_null(vx_codec_new(&o));
    o.zlib_level = -2;
    assert_null(vx_codec_new(&o));
    vx_buf out = {0};
    vx_error err;
    assert_int_equal(vx_msg_encode(p, &o, &out, &err), VX_E_INVAL);
    assert_int_equal(out.len, 0);
    vx_payload_decref(p);
}

static void test_C05_vortexpy_zlib_level0_vector_decodes(void **state) {
    vx_value *vecs = NULL;
    vx_error err;
    assert_int_equal(vxt_load_vectors("vortexpy-0.3.1-decode-lenient.jsonl", &vecs, &err),
                     0);
    vx_value *rec = vxt_find_named(vecs, "zlib_level0");
    assert_non_null(rec);
    size_t mlen;
    const char *m = vxt_get_str(rec, "vortexMsg", &mlen);
    vx_payload *p = NULL;
    assert_int_equal(vx_msg_decode(m, mlen, NULL, &p, &err), 0);
    assert_int_equal(vx_dict_size(vx_payload_filt(p)), 0);
    assert_int_equal(vx_list_size(vx_payload_tuples(p)), 0);
    assert_true(vx_is_null(vx_payload_result(p)));
    int64_t us;
    assert_int_equal(vx_datetime_from_parts(2017, 1, 12, 14, 24, 42, 123456, &us), 0);
    assert_int_equal(vx_datetime_value(vx_payload_date(p)), us);
    vx_payload_decref(p);
    vx_decref(vecs);
}

/* ---- C-06 ---------------------------------------------------------------- */

static void test_C06_msg_non_alphabet_or_4n_plus_1_is_base64_error(void **state) {
    vx_payload *p = sample_payload(3);
    vx_buf out = {0};
    vx_error err;
    assert_int_equal(vx_msg_encode(p, NULL, &out, &err), 0);
    char *m = malloc(out.len + 2);
    /* A '!' in the middle, the message names the offset. */
    memcpy(m, out.data, out.len);
    m[10] = '!';
    assert_int_equal(decode_code(m, out.len, NULL, &err), VX_E_BASE64);
    assert_int_equal(err.code, VX_E_BASE64);
    assert_non_null(strstr(err.message, "byte 10"));
    /* One extra data char: 4n+1. */
    memcpy(m, out.data, out.len);
    m[out.len] = 'A';
    assert_int_equal(decode_code(m, out.len + 1, NULL, &err), VX_E_BASE64);
    /* A trailing '.' (two msgs joined, or an unsplit delimiter). */
    m[out.len] = '.';
    assert_int_equal(decode_code(m, out.len + 1, NULL, &err), VX_E_BASE64);
    /* Whitespace anywhere is fine. */
    memcpy(m + 1, out.data, 5);
    m[0] = '\n';
    m[6] = '\r';
    memcpy(m + 7, out.data + 5, out.len - 5);
    assert_int_equal(decode_code(m, out.len + 2, NULL, &err), 0);
    free(m);
    vx_buf_free(&out);
    vx_payload_decref(p);
}

/* vortexpy's base64-stage rejections, and its lenient inputs VortexC
 * rejects (stray characters, trailing '.') or accepts (whitespace). */
static void test_C06_vectors_base64_stage(void **state) {
    vx_value *errs = NULL, *len = NULL;
    vx_error err;
    assert_int_equal(vxt_load_vectors("vortexpy-0.3.1-decode-errors.jsonl", &errs, &err),
                     0);
    assert_int_equal(vxt_load_vectors("vortexpy-0.3.1-decode-lenient.jsonl", &len, &err),
                     0);
    int seen = 0;
    for (size_t i = 0; i < vx_list_size(errs); i++) {
        vx_value *rec = vx_list_get(errs, i);
        const char *stage = vxt_get_str(rec, "stage", NULL);
        if (strcmp(stage, "base64") != 0) continue;
        size_t mlen;
        const char *m = vxt_get_str(rec, "vortexMsg", &mlen);
        assert_int_equal(decode_code(m, mlen, NULL, &err), VX_E_BASE64);
        seen++;
    }
    assert_int_equal(seen, 5);
    static const struct {
        const char *name;
        int code;
    } lenient[] = {{"b64_garbage_chars_ignored", VX_E_BASE64},
                   {"b64_trailing_dot", VX_E_BASE64},
                   {"b64_whitespace", 0}};
    for (size_t i = 0; i < 3; i++) {
        vx_value *rec = vxt_find_named(len, lenient[i].name);
        assert_non_null(rec);
        size_t mlen;
        const char *m = vxt_get_str(rec, "vortexMsg", &mlen);
        assert_int_equal(decode_code(m, mlen, NULL, &err), lenient[i].code);
    }
    vx_decref(errs);
    vx_decref(len);
}

/* ---- C-07 ---------------------------------------------------------------- */

static void test_C07_not_a_zlib_stream_is_zlib_error(void **state) {
    size_t jl = strlen(MIN_JSON), zlen;
    vx_error err;
    /* Plain JSON that is not an object (base64'd): not a zlib header. A
     * base64'd object starts with '{' and is gen2 instead (§1.2, C-84). */
    char *m = b64("[1, 2, 3]", 9);
    assert_int_equal(decode_code(m, strlen(m), NULL, &err), VX_E_ZLIB);
    free(m);
    m = b64("\"rp\"", 4);
    assert_int_equal(decode_code(m, strlen(m), NULL, &err), VX_E_ZLIB);
    free(m);
    /* Raw deflate and gzip of a valid payload's JSON. */
    uint8_t *z = compress_fmt(RAW, MIN_JSON, jl, &zlen);
    m = b64(z, zlen);
    assert_int_equal(decode_code(m, strlen(m), NULL, &err), VX_E_ZLIB);
    free(m);
    free(z);
    z = compress_fmt(GZIP, MIN_JSON, jl, &zlen);
    m = b64(z, zlen);
    assert_int_equal(decode_code(m, strlen(m), NULL, &err), VX_E_ZLIB);
    free(m);
    free(z);
    /* Empty msg and msg of only padding. */
    assert_int_equal(decode_str(""), VX_E_ZLIB);
    assert_int_equal(decode_str(" \r\n"), VX_E_ZLIB);
    /* A zlib header claiming a preset dictionary, and a bad FCHECK. */
    uint8_t hdr[] = {0x78, 0xBB, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01};
    assert_int_equal((0x78 * 256 + 0xBB) % 31, 0);
    m = b64(hdr, sizeof hdr);
    assert_int_equal(decode_code(m, strlen(m), NULL, &err), VX_E_ZLIB);
    free(m);
    hdr[1] = 0x9D;
    m = b64(hdr, sizeof hdr);
    assert_int_equal(decode_code(m, strlen(m), NULL, &err), VX_E_ZLIB);
    free(m);
}

static void test_C07_bad_adler_trailing_truncated_is_zlib_error(void **state) {
    size_t jl = strlen(MIN_JSON), zlen;
    vx_error err;
    uint8_t *z = compress_fmt(ZLIB, MIN_JSON, jl, &zlen);
    uint8_t *buf = malloc(zlen + 8);
    char *m;
    /* The untouched stream is fine. */
    m = b64(z, zlen);
    assert_int_equal(decode_code(m, strlen(m), NULL, &err), 0);
    free(m);
    /* Bad Adler-32. */
    memcpy(buf, z, zlen);
    buf[zlen - 1] ^= 0x01;
    m = b64(buf, zlen);
    assert_int_equal(decode_code(m, strlen(m), NULL, &err), VX_E_ZLIB);
    assert_non_null(strstr(err.message, "Adler-32"));
    free(m);
    /* Any bytes after the stream: one zero byte, or a second stream. */
    memcpy(buf, z, zlen);
    buf[zlen] = 0;
    m = b64(buf, zlen + 1);
    assert_int_equal(decode_code(m, strlen(m), NULL, &err), VX_E_ZLIB);
    assert_non_null(strstr(err.message, "after the end"));
    free(m);
    uint8_t *two = malloc(2 * zlen);
    memcpy(two, z, zlen);
    memcpy(two + zlen, z, zlen);
    m = b64(two, 2 * zlen);
    assert_int_equal(decode_code(m, strlen(m), NULL, &err), VX_E_ZLIB);
    free(m);
    free(two);
    /* Every truncation. */
    for (size_t cut = 0; cut < zlen; cut++) {
        m = b64(z, cut);
        assert_int_equal(decode_code(m, strlen(m), NULL, &err), VX_E_ZLIB);
        free(m);
    }
    /* Corrupt deflate data: flip each bit of the body. Never a crash; a
     * zlib error unless the flip hit bits the decoder ignores (the padding
     * after the end-of-block code), when the output must be unchanged. */
    vx_codec *c = vx_codec_new(NULL);
    int failures = 0;
    for (size_t i = 2; i < zlen - 4; i++) {
        for (int b = 0; b < 8; b++) {
            memcpy(buf, z, zlen);
            buf[i] ^= (uint8_t)(1u << b);
            m = b64(buf, zlen);
            const char *json;
            size_t n;
            int rc = vx_codec_unwrap(c, m, strlen(m), &json, &n, &err);
            if (rc == 0) {
                assert_int_equal(n, jl);
                assert_memory_equal(json, MIN_JSON, jl);
            } else {
                assert_int_equal(rc, VX_E_ZLIB);
                failures++;
            }
            free(m);
        }
    }
    assert_true(failures > (int)(zlen - 7) * 8);
    vx_codec_free(c);
    free(buf);
    free(z);
}

static void test_C07_vectors_zlib_stage(void **state) {
    vx_value *errs = NULL, *len = NULL;
    vx_error err;
    assert_int_equal(vxt_load_vectors("vortexpy-0.3.1-decode-errors.jsonl", &errs, &err),
                     0);
    assert_int_equal(vxt_load_vectors("vortexpy-0.3.1-decode-lenient.jsonl", &len, &err),
                     0);
    int seen = 0;
    for (size_t i = 0; i < vx_list_size(errs); i++) {
        vx_value *rec = vx_list_get(errs, i);
        const char *stage = vxt_get_str(rec, "stage", NULL);
        if (strcmp(stage, "zlib") != 0) continue;
        const char *name = vxt_get_str(rec, "name", NULL);
        size_t mlen;
        const char *m = vxt_get_str(rec, "vortexMsg", &mlen);
        /* Two vortexpy zlib-stage cases fail earlier in VortexC: "====" has
         * '=' outside the last two positions (§2.2 step 2) and base64 of a
         * JSON object is a gen2 msg (§1.2). */
        int want = strcmp(name, "zlib_only_padding") == 0 ? VX_E_BASE64
                   : strcmp(name, "zlib_not_zlib") == 0   ? VX_E_GENERATION
                                                          : VX_E_ZLIB;
        if (decode_code(m, mlen, NULL, &err) != want)
            fail_msg("vector %s: %s", name, err.message);
        seen++;
    }
    assert_int_equal(seen, 8);
    vx_value *rec = vxt_find_named(len, "zlib_trailing_garbage");
    size_t mlen;
    const char *m = vxt_get_str(rec, "vortexMsg", &mlen);
    assert_int_equal(decode_code(m, mlen, NULL, &err), VX_E_ZLIB);
    vx_decref(errs);
    vx_decref(len);
}

/* ---- C-08 ---------------------------------------------------------------- */

/* A zlib stream of `k` 258-byte matches of ' ' (1 + 258k spaces) in one
 * fixed-Huffman block: 13 bits per 258 output bytes, a real zip bomb. */
typedef struct {
    uint8_t *p;
    size_t n;
    uint64_t acc;
    int bits;
} bitw;

static void put_bits(bitw *w, uint32_t v, int n) {
    w->acc |= (uint64_t)v << w->bits;
    w->bits += n;
    while (w->bits >= 8) {
        w->p[w->n++] = (uint8_t)w->acc;
        w->acc >>= 8;
        w->bits -= 8;
    }
}

static void put_code(bitw *w, uint32_t code, int n) { /* Huffman codes: MSB first */
    uint32_t r = 0;
    for (int i = 0; i < n; i++) r |= ((code >> i) & 1u) << (n - 1 - i);
    put_bits(w, r, n);
}

static char *space_bomb(size_t k, size_t *out_size) {
    bitw w = {malloc(k * 13 / 8 + 64), 0, 0, 0};
    assert_non_null(w.p);
    w.p[w.n++] = 0x78;
    w.p[w.n++] = 0x01;
    put_bits(&w, 1, 1);          /* BFINAL */
    put_bits(&w, 1, 2);          /* fixed Huffman */
    put_code(&w, 0x30 + ' ', 8); /* literal ' ' */
    for (size_t i = 0; i < k; i++) {
        put_code(&w, 0xC0 + 5, 8); /* length code 285: 258 */
        put_code(&w, 0, 5);        /* distance code 0: 1 */
    }
    put_code(&w, 0, 7); /* end of block */
    if (w.bits) put_bits(&w, 0, 8 - w.bits);
    size_t total = 1 + 258 * k;
    static char spaces[65536];
    memset(spaces, ' ', sizeof spaces);
    uint32_t adler = 1;
    for (size_t left = total; left;) {
        size_t n = left < sizeof spaces ? left : sizeof spaces;
        adler = libdeflate_adler32(adler, spaces, n);
        left -= n;
    }
    for (int i = 3; i >= 0; i--) w.p[w.n++] = (uint8_t)(adler >> (8 * i));
    *out_size = total;
    char *m = b64(w.p, w.n);
    free(w.p);
    return m;
}

static long max_rss_kib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void test_C08_zip_bomb_stops_at_inflate_limit(void **state) {
    vx_error err;
    /* The generator is right: a small bomb inflates to exactly its spaces. */
    size_t size;
    char *m = space_bomb(10, &size);
    vx_codec *c = vx_codec_new(NULL);
    const char *json;
    size_t jl;
    assert_int_equal(vx_codec_unwrap(c, m, strlen(m), &json, &jl, &err), 0);
    assert_int_equal(jl, size);
    for (size_t i = 0; i < jl; i++) assert_int_equal(json[i], ' ');
    free(m);

    /* 200 MB of spaces in a ~2 MB msg, against the default 64 MiB limit:
     * stops with VX_E_INFLATE_LIMIT, and the process grows by about the
     * limit, not by the bomb. */
    m = space_bomb(200u * 1000 * 1000 / 258, &size);
    assert_true(strlen(m) < VX_DEFAULT_MAX_MSG_BYTES);
    long before = max_rss_kib();
    assert_int_equal(vx_codec_unwrap(c, m, strlen(m), &json, &jl, &err),
                     VX_E_INFLATE_LIMIT);
    assert_int_equal(err.code, VX_E_INFLATE_LIMIT);
    long grown_mib = (max_rss_kib() - before) / 1024;
    assert_true(grown_mib < 150);
    assert_int_equal(decode_code(m, strlen(m), NULL, &err), VX_E_INFLATE_LIMIT);
    vx_codec_free(c);
    free(m);
}

/* The limit is exact: N bytes of JSON decode with max_json_bytes N and
 * fail with N-1; the encoder refuses what such a decoder would. */
static void test_C08_inflate_limit_is_exact(void **state) {
    vx_payload *p = sample_payload(100);
    vx_buf json = {0}, out = {0};
    vx_error err;
    vx_codec_opts o;
    vx_codec_opts_init(&o);
    assert_int_equal(vx_json_encode_payload(p, &o, &json, &err), 0);
    assert_int_equal(vx_msg_encode(p, &o, &out, &err), 0);
    o.max_json_bytes = json.len;
    assert_int_equal(decode_code(out.data, out.len, &o, &err), 0);
    o.max_json_bytes = json.len - 1;
    assert_int_equal(decode_code(out.data, out.len, &o, &err), VX_E_INFLATE_LIMIT);
    size_t before = out.len;
    assert_int_equal(vx_msg_encode(p, &o, &out, &err), VX_E_MSG_TOO_BIG);
    assert_int_equal(out.len, before);
    /* A tiny limit, and a bomb. */
    o.max_json_bytes = 1000;
    size_t size;
    char *m = space_bomb(100000, &size);
    assert_int_equal(decode_code(m, strlen(m), &o, &err), VX_E_INFLATE_LIMIT);
    o.max_json_bytes = 0;
    assert_int_equal(decode_code(m, strlen(m), &o, &err), VX_E_INFLATE_LIMIT);
    free(m);
    vx_buf_free(&json);
    vx_buf_free(&out);
    vx_payload_decref(p);
}

/* ---- C-09 ---------------------------------------------------------------- */

static void test_C09_msg_over_max_msg_bytes_fails_before_base64(void **state) {
    vx_error err;
    vx_codec_opts o;
    vx_codec_opts_init(&o);
    o.max_msg_bytes = 100;
    char junk[101];
    memset(junk, '!', sizeof junk);
    assert_int_equal(decode_code(junk, 101, &o, &err), VX_E_MSG_TOO_BIG);
    assert_int_equal(decode_code(junk, 100, &o, &err), VX_E_BASE64);
    junk[0] = '{'; /* even a gen2 msg is measured first */
    assert_int_equal(decode_code(junk, 101, &o, &err), VX_E_MSG_TOO_BIG);

    /* The default limit. */
    size_t n = VX_DEFAULT_MAX_MSG_BYTES + 1;
    char *big = malloc(n);
    memset(big, '!', n);
    assert_int_equal(decode_code(big, n, NULL, &err), VX_E_MSG_TOO_BIG);
    assert_int_equal(err.code, VX_E_MSG_TOO_BIG);
    assert_int_equal(decode_code(big, n - 1, NULL, &err), VX_E_BASE64);
    free(big);

    /* The encoder refuses a msg the decoder would; nothing is appended. */
    vx_payload *p = sample_payload(10);
    vx_buf out = {0};
    assert_int_equal(vx_buf_append(&out, "keep", 4), 0);
    o.max_msg_bytes = 16;
    assert_int_equal(vx_msg_encode(p, &o, &out, &err), VX_E_MSG_TOO_BIG);
    assert_int_equal(out.len, 4);
    vx_payload_decref(p);
    vx_buf_free(&out);
}

/* ---- C-84 / C-85 --------------------------------------------------------- */

static void test_C85_generation_detection(void **state) {
    assert_int_equal(vx_msg_generation("eJw=", 4), 1);     /* 78 9c */
    assert_int_equal(vx_msg_generation("eNo1jtEK", 8), 1); /* 78 da */
    assert_int_equal(vx_msg_generation("eAEBqgBV", 8), 1); /* 78 01 */
    assert_int_equal(vx_msg_generation("{\"_ct\": \"rpe\"}", 14), 2);
    char *m = b64("{\"_ct\": \"rpe\"}", 14);
    assert_int_equal(m[0], 'e'); /* same first char as gen1 */
    assert_int_equal(vx_msg_generation(m, strlen(m)), 2);
    free(m);
    assert_int_equal(vx_msg_generation(" \neyJf", 6), 2);
    assert_int_equal(vx_msg_generation("AwA=", 4), VX_E_ZLIB);     /* raw deflate */
    assert_int_equal(vx_msg_generation("H4sIAAAA", 8), VX_E_ZLIB); /* gzip */
    assert_int_equal(vx_msg_generation("eA==", 4), VX_E_ZLIB);     /* 0x78 alone */
    assert_int_equal(vx_msg_generation("", 0), VX_E_ZLIB);
    assert_int_equal(vx_msg_generation("eN", 2), VX_E_BASE64);
    assert_int_equal(vx_msg_generation("e!o1", 4), VX_E_BASE64);
    assert_int_equal(vx_msg_generation("[1]", 3), VX_E_BASE64);
}

static void test_C84_gen2_msg_fails_with_generation(void **state) {
    const char *env = "{\"_ct\": \"rpe\", \"filt\": {\"key\": \"a\"}, \"data\": null}";
    vx_error err;
    assert_int_equal(decode_code(env, strlen(env), NULL, &err), VX_E_GENERATION);
    assert_non_null(strstr(err.message, "gen2"));
    char *m = b64(env, strlen(env));
    assert_int_equal(decode_code(m, strlen(m), NULL, &err), VX_E_GENERATION);
    free(m);
}

/* ---- codec reuse --------------------------------------------------------- */

/* One codec across small, huge (past the scratch keep threshold) and small
 * payloads again, encoding and decoding, gives the same as fresh codecs. */
static void test_codec_reuse_across_sizes(void **state) {
    vx_codec *c = vx_codec_new(NULL);
    assert_non_null(c);
    assert_int_equal(vx_codec_options(c)->zlib_level, VX_DEFAULT_ZLIB_LEVEL);
    assert_int_equal(vx_codec_options(c)->max_msg_bytes, VX_DEFAULT_MAX_MSG_BYTES);
    size_t sizes[] = {0, 5, 300, 250000, 3, 1000};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        vx_payload *p = sample_payload(sizes[k]);
        vx_buf a = {0}, b = {0};
        vx_error err;
        assert_int_equal(vx_codec_encode(c, p, &a, &err), 0);
        assert_int_equal(vx_msg_encode(p, NULL, &b, &err), 0);
        assert_int_equal(a.len, b.len);
        assert_memory_equal(a.data, b.data, a.len);
        vx_payload *back = NULL;
        assert_int_equal(vx_codec_decode(c, a.data, a.len, &back, &err), 0);
        assert_payload_equal(p, back);
        vx_payload_decref(back);
        /* A failure in between leaves the codec usable. */
        assert_int_equal(vx_codec_decode(c, "!!!!", 4, &back, &err), VX_E_BASE64);
        assert_null(back);
        vx_buf_free(&a);
        vx_buf_free(&b);
        vx_payload_decref(p);
    }
    vx_codec_free(c);
}

static void test_codec_opts_defaults(void **state) {
    vx_codec_opts o;
    memset(&o, 0x5a, sizeof o);
    vx_codec_opts_init(&o);
    assert_int_equal(o.max_msg_bytes, 16u * 1024 * 1024);
    assert_int_equal(o.max_json_bytes, 64u * 1024 * 1024);
    assert_int_equal(o.max_depth, 64);
    assert_int_equal(o.zlib_level, VX_DEFAULT_ZLIB_LEVEL);
    assert_false(o.compact);
    assert_false(o.strict_decode);
    assert_null(o.registry);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_opts_defaults),
        cmocka_unit_test(test_C01_msg_is_padded_base64_of_zlib_ascii_json),
        cmocka_unit_test(test_C04_vortexpy_msgs_inflate_to_reference_json),
        cmocka_unit_test(test_C04_default_policy_reproduces_vortexpy_msgs),
        cmocka_unit_test(test_C05_levels_0_to_9_encode_and_decode),
        cmocka_unit_test(test_C05_vortexpy_zlib_level0_vector_decodes),
        cmocka_unit_test(test_C06_msg_non_alphabet_or_4n_plus_1_is_base64_error),
        cmocka_unit_test(test_C06_vectors_base64_stage),
        cmocka_unit_test(test_C07_not_a_zlib_stream_is_zlib_error),
        cmocka_unit_test(test_C07_bad_adler_trailing_truncated_is_zlib_error),
        cmocka_unit_test(test_C07_vectors_zlib_stage),
        cmocka_unit_test(test_C08_zip_bomb_stops_at_inflate_limit),
        cmocka_unit_test(test_C08_inflate_limit_is_exact),
        cmocka_unit_test(test_C09_msg_over_max_msg_bytes_fails_before_base64),
        cmocka_unit_test(test_C85_generation_detection),
        cmocka_unit_test(test_C84_gen2_msg_fails_with_generation),
        cmocka_unit_test(test_codec_reuse_across_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
