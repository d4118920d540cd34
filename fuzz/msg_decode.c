/* Fuzz the gen1 msg decoder (PROTOCOL §2.2) end to end: base64, zlib, UTF-8,
 * JSON, payload structure and typed values.
 *
 * Input: one option byte, then the msg.
 *   bit 0    strict_decode
 *   bit 1    no registry (tuples become untyped, or fail when strict)
 *   bits 2-3 max_depth       64, 1, 3, 10
 *   bits 4-5 max_json_bytes  256 KiB, 16, 200, 4096 (small limits hit the
 *            inflate-limit path; 256 KiB instead of 64 MiB bounds the time of
 *            one input)
 *   bit 6    max_msg_bytes 64 instead of 16 MiB
 *   bit 7    compact separators when re-encoding
 *
 * Invariants: failures carry a decode error code and a one-line message; the
 * one-shot vx_msg_decode agrees with a codec, and a codec decodes the same
 * input twice alike (scratch buffers reused). A decoded payload holds no NaN,
 * re-encodes (unless it holds an infinity or a reserved dict key) to an
 * ASCII base64 gen1 msg that decodes to an equal payload, and the JSON of the
 * two payloads is byte-identical (decode∘encode is a fixpoint). */
#include "fuzz_common.h"

static const int depths[4] = {64, 1, 3, 10};
static const size_t json_limits[4] = {256u << 10, 16, 200, 4096};

static void check_roundtrip(vx_payload *p1, const vx_codec_opts *o1, bool compact,
                            const fuzz_walk *wp) {
    fuzz_walk w = *wp;

    /* Re-encoding may need one level more than decoding (a bare int at the
     * deepest level becomes {"_ft":"int",...}) and more bytes (wrapped ints,
     * \u escapes), so only the depth stays tight. */
    vx_codec_opts o2 = *o1;
    o2.max_msg_bytes = VX_DEFAULT_MAX_MSG_BYTES;
    o2.max_json_bytes = VX_DEFAULT_MAX_JSON_BYTES;
    o2.max_depth = o1->max_depth + 1;
    o2.compact = compact;
    vx_codec *c2 = vx_codec_new(&o2);
    FUZZ_CHECK(c2 != NULL, "vx_codec_new");

    vx_buf m2 = {0};
    vx_error err = {0};
    int rc = vx_codec_encode(c2, p1, &m2, &err);
    if (rc != 0) {
        fuzz_check_encode_refusal(rc, &err, &w, "vx_codec_encode");
        FUZZ_CHECK(m2.len == 0, "failed encode appended %zu bytes", m2.len);
        vx_buf_free(&m2);
        vx_codec_free(c2);
        return;
    }
    FUZZ_CHECK(!w.inf, "encoder accepted an infinity");
    FUZZ_CHECK(!w.reserved_key, "encoder accepted a dict with key _ct/_ft");
    for (size_t i = 0; i < m2.len; i++) {
        char ch = m2.data[i];
        bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                  (ch >= '0' && ch <= '9') || ch == '+' || ch == '/' || ch == '=';
        FUZZ_CHECK(ok, "encoded msg has byte 0x%02x at %zu", (unsigned char)ch, i);
    }
    FUZZ_CHECK(m2.len % 4 == 0, "encoded msg length %zu not a multiple of 4", m2.len);
    FUZZ_CHECK(vx_msg_generation(m2.data, m2.len) == 1, "re-encoded msg is not gen1");

    vx_payload *p2 = NULL;
    rc = vx_codec_decode(c2, m2.data, m2.len, &p2, &err);
    FUZZ_CHECK(rc == 0, "re-decode failed: %s: %s", vx_error_name(rc), err.message);
    FUZZ_CHECK(vx_equal(vx_payload_as_value(p1), vx_payload_as_value(p2)),
               "payload changed through encode+decode");

    vx_buf j1 = {0}, j2 = {0};
    rc = vx_json_encode_payload(p1, &o2, &j1, &err);
    FUZZ_CHECK(rc == 0, "json encode p1: %s", err.message);
    rc = vx_json_encode_payload(p2, &o2, &j2, &err);
    FUZZ_CHECK(rc == 0, "json encode p2: %s", err.message);
    fuzz_check_ascii(j1.data, j1.len, "encoded JSON");
    FUZZ_CHECK(j1.len == j2.len && memcmp(j1.data, j2.data, j1.len) == 0,
               "JSON not a fixpoint:\n  %.*s\n  %.*s", (int)(j1.len > 2000 ? 2000 : j1.len),
               j1.data, (int)(j2.len > 2000 ? 2000 : j2.len), j2.data);

    vx_buf_free(&j1);
    vx_buf_free(&j2);
    vx_payload_decref(p2);
    vx_buf_free(&m2);
    vx_codec_free(c2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t sel = data[0];
    const char *msg = (const char *)data + 1;
    size_t len = size - 1;

    vx_codec_opts o;
    vx_codec_opts_init(&o);
    o.strict_decode = sel & 1;
    o.registry = (sel & 2) ? NULL : fuzz_registry();
    o.max_depth = depths[(sel >> 2) & 3];
    o.max_json_bytes = json_limits[(sel >> 4) & 3];
    if (sel & 0x40) o.max_msg_bytes = 64;
    bool compact = sel & 0x80;

    vx_codec *c = vx_codec_new(&o);
    FUZZ_CHECK(c != NULL, "vx_codec_new");

    vx_payload *p1 = (vx_payload *)1, *p1b = (vx_payload *)1, *p0 = (vx_payload *)1;
    vx_error e1 = {0}, e2 = {0}, e0 = {0};
    int rc1 = vx_codec_decode(c, msg, len, &p1, &e1);
    int rc2 = vx_codec_decode(c, msg, len, &p1b, &e2);
    int rc0 = vx_msg_decode(msg, len, &o, &p0, &e0);

    FUZZ_CHECK(rc1 == rc2, "same codec, same input: %d then %d", rc1, rc2);
    FUZZ_CHECK(rc1 == rc0, "codec says %d, vx_msg_decode says %d", rc1, rc0);
    if (rc1 != 0) {
        fuzz_check_error(rc1, &e1, "vx_codec_decode");
        fuzz_check_error(rc0, &e0, "vx_msg_decode");
        FUZZ_CHECK(p1 == NULL && p1b == NULL && p0 == NULL, "*out not NULL after failure");
        FUZZ_CHECK(strcmp(e1.message, e2.message) == 0, "messages differ: %s | %s",
                   e1.message, e2.message);
        if (rc1 == VX_E_MSG_TOO_BIG)
            FUZZ_CHECK(len > o.max_msg_bytes, "TOO_BIG for %zu <= %zu bytes", len,
                       o.max_msg_bytes);
        vx_codec_free(c);
        return 0;
    }
    FUZZ_CHECK(p1 && p1b && p0, "success without a payload");
    fuzz_walk w = {0};
    fuzz_walk_value(vx_payload_as_value(p1), &w, 0);
    FUZZ_CHECK(!w.nan, "decoded payload holds a NaN");
    FUZZ_CHECK(!w.bad_type, "decoded payload holds a value of unknown type");
    FUZZ_CHECK(len <= o.max_msg_bytes, "accepted %zu bytes over limit %zu", len,
               o.max_msg_bytes);
    FUZZ_CHECK(vx_equal(vx_payload_as_value(p1), vx_payload_as_value(p1b)),
               "second decode by the same codec differs");
    FUZZ_CHECK(vx_equal(vx_payload_as_value(p1), vx_payload_as_value(p0)),
               "codec and one-shot decodes differ");
    vx_payload_decref(p1b);
    vx_payload_decref(p0);

    check_roundtrip(p1, &o, compact, &w);
    vx_payload_decref(p1);
    vx_codec_free(c);
    return 0;
}
