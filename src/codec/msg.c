/* The gen1 vortex msg (PROTOCOL §2): payload -> JSON -> zlib -> base64 and
 * back, with every limit of §6.1 enforced before the work it bounds. */
#include <stdlib.h>
#include <string.h>

#include "codec/base64.h"
#include "codec/deflate.h"
#include "codec/msg_impl.h"

struct vx_codec {
    vx_codec_opts opts;
    vx_deflate z;
    vx_buf json;  /* encode: JSON text before compression */
    uint8_t *raw; /* decode: base64-decoded bytes */
    size_t raw_cap;
};

vx_codec *vx_codec_new(const vx_codec_opts *opts) {
    vx_codec *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    if (opts)
        c->opts = *opts;
    else
        vx_codec_opts_init(&c->opts);
    if (c->opts.zlib_level != VX_ZLIB_LEVEL_AUTO &&
        (c->opts.zlib_level < 0 || c->opts.zlib_level > 12)) {
        free(c);
        return NULL;
    }
    /* The compressor and decompressor are allocated on first use: a
     * decode-only codec never pays for a compressor. */
    vx_deflate_init(&c->z);
    return c;
}

void vx_codec_free(vx_codec *c) {
    if (!c) return;
    vx_deflate_release(&c->z);
    vx_buf_free(&c->json);
    free(c->raw);
    free(c);
}

const vx_codec_opts *vx_codec_options(const vx_codec *c) {
    return &c->opts;
}

void vx_codec_trim(vx_codec *c) {
    vx_deflate_trim(&c->z);
    if (c->json.cap > VX_DEFLATE_KEEP_BYTES) vx_buf_free(&c->json);
    if (c->raw_cap > VX_DEFLATE_KEEP_BYTES) {
        free(c->raw);
        c->raw = NULL;
        c->raw_cap = 0;
    }
}

int vx_codec_wrap(vx_codec *c, const char *json, size_t len, vx_buf *out, vx_error *err) {
    if (len > c->opts.max_json_bytes)
        return vx_error_set(err, VX_E_MSG_TOO_BIG,
                            "msg JSON is %zu bytes, over max_json_bytes %zu", len,
                            c->opts.max_json_bytes);
    const uint8_t *z;
    size_t zlen;
    int rc = vx_zlib_compress(&c->z, c->opts.zlib_level, json, len, &z, &zlen, err);
    if (rc) return rc;
    size_t n = vx_base64_encoded_len(zlen);
    if (n > c->opts.max_msg_bytes)
        return vx_error_set(err, VX_E_MSG_TOO_BIG,
                            "encoded msg is %zu bytes, over max_msg_bytes %zu", n,
                            c->opts.max_msg_bytes);
    if (vx_buf_reserve(out, n))
        return vx_error_set(err, VX_E_NOMEM, "msg: cannot allocate %zu bytes", n);
    out->len += vx_base64_encode(z, zlen, out->data + out->len);
    return 0;
}

int vx_codec_encode(vx_codec *c, const vx_payload *p, vx_buf *out, vx_error *err) {
    c->json.len = 0;
    int rc = vx_json_encode_payload(p, &c->opts, &c->json, err);
    if (rc == 0) rc = vx_codec_wrap(c, c->json.data, c->json.len, out, err);
    vx_codec_trim(c);
    return rc;
}

int vx_codec_unwrap(vx_codec *c, const char *msg, size_t len, const char **json,
                    size_t *json_len, vx_error *err) {
    /* 1. Size first, so an oversized msg costs nothing more. */
    if (len > c->opts.max_msg_bytes)
        return vx_error_set(err, VX_E_MSG_TOO_BIG,
                            "msg is %zu bytes, over max_msg_bytes %zu", len,
                            c->opts.max_msg_bytes);
    /* Raw gen2 JSON would otherwise be reported as bad base64. */
    if (len > 0 && msg[0] == '{')
        return vx_error_set(err, VX_E_GENERATION,
                            "msg is gen2 (raw JSON envelope); gen2 is not enabled");

    /* 2. Base64. */
    size_t need = vx_base64_decoded_max(len);
    if (need > c->raw_cap) {
        free(c->raw);
        c->raw = malloc(need);
        c->raw_cap = c->raw ? need : 0;
        if (!c->raw)
            return vx_error_set(err, VX_E_NOMEM, "msg: cannot allocate %zu bytes", need);
    }
    size_t n = 0, bad_at = 0;
    if (vx_base64_decode(msg, len, c->raw, &n, 1, &bad_at))
        return vx_error_set(err, VX_E_BASE64,
                            bad_at < len
                                ? "base64: invalid character or padding at byte %zu"
                                : "base64: data length not a multiple of 4 "
                                  "(ends at byte %zu)",
                            bad_at);

    /* 3. Generation (§1.2). */
    if (n == 0) return vx_error_set(err, VX_E_ZLIB, "zlib: empty stream");
    if (c->raw[0] == '{')
        return vx_error_set(err, VX_E_GENERATION,
                            "msg is gen2 (base64 JSON envelope); gen2 is not enabled");
    if ((c->raw[0] & 0x0F) != 8)
        return vx_error_set(err, VX_E_ZLIB,
                            "zlib: first byte 0x%02x is neither a zlib header nor '{'",
                            c->raw[0]);
    if (n < 2 || !vx_zlib_header_ok(c->raw[0], c->raw[1]))
        return vx_error_set(err, VX_E_ZLIB, "zlib: bad header check bits 0x%02x%02x",
                            c->raw[0], n < 2 ? 0 : c->raw[1]);

    /* 4. Inflate within max_json_bytes. */
    const uint8_t *out;
    int rc = vx_zlib_inflate(&c->z, c->raw, n, c->opts.max_json_bytes, &out, json_len, err);
    if (rc) return rc;
    *json = (const char *)out;
    return 0;
}

int vx_codec_decode(vx_codec *c, const char *msg, size_t len, vx_payload **out,
                    vx_error *err) {
    *out = NULL;
    const char *json = NULL;
    size_t json_len = 0;
    int rc = vx_codec_unwrap(c, msg, len, &json, &json_len, err);
    if (rc == 0) rc = vx_json_decode_payload(json, json_len, &c->opts, out, err);
    if (rc) *out = NULL;
    vx_codec_trim(c);
    return rc;
}

int vx_msg_encode(const vx_payload *p, const vx_codec_opts *opts, vx_buf *out,
                  vx_error *err) {
    vx_codec *c = vx_codec_new(opts);
    if (!c) {
        if (opts && opts->zlib_level != VX_ZLIB_LEVEL_AUTO &&
            (opts->zlib_level < 0 || opts->zlib_level > 12))
            return vx_error_set(err, VX_E_INVAL, "zlib_level %d is outside 0-12",
                                opts->zlib_level);
        return vx_error_set(err, VX_E_NOMEM, "msg: cannot allocate a codec");
    }
    int rc = vx_codec_encode(c, p, out, err);
    vx_codec_free(c);
    return rc;
}

int vx_msg_decode(const char *msg, size_t len, const vx_codec_opts *opts, vx_payload **out,
                  vx_error *err) {
    *out = NULL;
    /* A decode never uses the level, so an out-of-range one must not stop it. */
    vx_codec_opts o;
    if (opts)
        o = *opts;
    else
        vx_codec_opts_init(&o);
    o.zlib_level = VX_DEFAULT_ZLIB_LEVEL;
    vx_codec *c = vx_codec_new(&o);
    if (!c) return vx_error_set(err, VX_E_NOMEM, "msg: cannot allocate a codec");
    int rc = vx_codec_decode(c, msg, len, out, err);
    vx_codec_free(c);
    return rc;
}

static bool is_b64_ws(char ch) {
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

int vx_msg_generation(const char *msg, size_t len) {
    if (len > 0 && msg[0] == '{') return 2;
    /* Both generations usually start with base64 'e', so decode the first
     * quad (skipping whitespace) and look at the bytes. */
    char quad[4];
    size_t q = 0;
    for (size_t i = 0; i < len && q < 4; i++)
        if (!is_b64_ws(msg[i])) quad[q++] = msg[i];
    if (q == 0) return VX_E_ZLIB; /* empty: no stream at all */
    if (q < 4) return VX_E_BASE64;
    uint8_t b[3];
    size_t n = 0, bad_at;
    if (vx_base64_decode(quad, 4, b, &n, 0, &bad_at)) return VX_E_BASE64;
    if (b[0] == '{') return 2;
    if (n >= 2 && vx_zlib_header_ok(b[0], b[1])) return 1;
    return VX_E_ZLIB;
}
