/* Fuzz the typed wire-JSON decoders (PROTOCOL §2.2 steps 5-8, §3-§5):
 * vx_json_decode_payload and vx_json_decode_value.
 *
 * Input: one option byte, then the JSON text.
 *   bit 0    strict_decode
 *   bit 1    decode one value instead of a payload
 *   bits 2-3 max_depth  64, 1, 3, 10
 *   bit 4    compact separators when re-encoding
 *   bit 5    no registry (test.Person/test.BenchRow unknown)
 *
 * Invariants: failures carry a decode error code and a one-line message.
 * A decoded value holds no NaN; it re-encodes (unless it holds an infinity or
 * a reserved dict key) to ASCII-only JSON that vx_json_parse_plain accepts
 * and that decodes to an equal value whose JSON is byte-identical. */
#include "fuzz_common.h"

static const int depths[4] = {64, 1, 3, 10};

typedef int (*encode_fn)(const vx_value *v, const vx_codec_opts *o, vx_buf *out,
                         vx_error *err);
typedef int (*decode_fn)(const char *json, size_t len, const vx_codec_opts *o,
                         vx_value **out, vx_error *err);

static int enc_payload(const vx_value *v, const vx_codec_opts *o, vx_buf *out,
                       vx_error *err) {
    return vx_json_encode_payload(vx_value_as_payload(v), o, out, err);
}

static int dec_payload(const char *json, size_t len, const vx_codec_opts *o, vx_value **out,
                       vx_error *err) {
    vx_payload *p = NULL;
    int rc = vx_json_decode_payload(json, len, o, &p, err);
    *out = p ? vx_payload_as_value(p) : NULL;
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t sel = data[0];
    const char *json = (const char *)data + 1;
    size_t len = size - 1;

    vx_codec_opts o;
    vx_codec_opts_init(&o);
    o.strict_decode = sel & 1;
    o.max_depth = depths[(sel >> 2) & 3];
    o.registry = (sel & 0x20) ? NULL : fuzz_registry();
    bool as_value = sel & 2;
    encode_fn enc = as_value ? vx_json_encode_value : enc_payload;
    decode_fn dec = as_value ? vx_json_decode_value : dec_payload;
    const char *what = as_value ? "vx_json_decode_value" : "vx_json_decode_payload";

    vx_value *v1 = (vx_value *)1;
    vx_error err = {0};
    int rc = dec(json, len, &o, &v1, &err);
    if (rc != 0) {
        fuzz_check_error(rc, &err, what);
        FUZZ_CHECK(v1 == NULL, "%s: *out not NULL after failure", what);
        return 0;
    }
    FUZZ_CHECK(v1 != NULL, "%s: success without a value", what);
    if (!as_value)
        FUZZ_CHECK(vx_typeof(v1) == VX_PAYLOAD, "payload decode gave a %s",
                   vx_type_name(vx_typeof(v1)));
    fuzz_walk w = {0};
    fuzz_walk_value(v1, &w, 0);
    FUZZ_CHECK(!w.nan, "decoded value holds a NaN");
    FUZZ_CHECK(!w.bad_type, "decoded value holds a value of unknown type");

    /* One more level: a bare int at the deepest level is wrapped. */
    vx_codec_opts o2 = o;
    o2.max_depth = o.max_depth + 1;
    o2.compact = sel & 0x10;
    vx_buf j2 = {0};
    rc = enc(v1, &o2, &j2, &err);
    if (rc != 0) {
        fuzz_check_encode_refusal(rc, &err, &w, "JSON encode");
        FUZZ_CHECK(j2.len == 0, "failed encode appended %zu bytes", j2.len);
        vx_buf_free(&j2);
        vx_decref(v1);
        return 0;
    }
    FUZZ_CHECK(!w.inf, "encoder accepted an infinity");
    FUZZ_CHECK(!w.reserved_key, "encoder accepted a dict with key _ct/_ft");
    fuzz_check_ascii(j2.data, j2.len, "encoded JSON");

    vx_value *plain = NULL;
    rc = vx_json_parse_plain(j2.data, j2.len, o2.max_depth, &plain, &err);
    FUZZ_CHECK(rc == 0, "encoder output is not plain JSON: %s: %.*s", err.message,
               (int)(j2.len > 2000 ? 2000 : j2.len), j2.data);
    vx_decref(plain);

    vx_value *v2 = NULL;
    rc = dec(j2.data, j2.len, &o2, &v2, &err);
    FUZZ_CHECK(rc == 0, "re-decode failed: %s: %s\n  JSON: %.*s", vx_error_name(rc),
               err.message, (int)(j2.len > 2000 ? 2000 : j2.len), j2.data);
    FUZZ_CHECK(vx_equal(v1, v2), "value changed through encode+decode: %.*s",
               (int)(j2.len > 2000 ? 2000 : j2.len), j2.data);

    vx_buf j3 = {0};
    rc = enc(v2, &o2, &j3, &err);
    FUZZ_CHECK(rc == 0, "encode of the re-decoded value failed: %s", err.message);
    FUZZ_CHECK(j2.len == j3.len && memcmp(j2.data, j3.data, j2.len) == 0,
               "JSON not a fixpoint:\n  %.*s\n  %.*s", (int)(j2.len > 2000 ? 2000 : j2.len),
               j2.data, (int)(j3.len > 2000 ? 2000 : j3.len), j3.data);

    vx_buf_free(&j3);
    vx_decref(v2);
    vx_buf_free(&j2);
    vx_decref(v1);
    return 0;
}
