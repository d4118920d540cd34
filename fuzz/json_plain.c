/* Fuzz the plain JSON parser, vx_json_parse_plain (RFC 8259, no vortex
 * typing), and check it against the typed decoder.
 *
 * Input: the JSON text itself (no option byte; max_depth 64).
 *
 * Invariants: failures carry a decode error code and a one-line message; a
 * parsed value holds no NaN. The typed decoder is the same grammar with
 * meaning added to _ct/_ft objects, so:
 *   - text plain JSON rejects, the typed decoder rejects too;
 *   - a plain value without "_ct"/"_ft" keys decodes typed to an equal value;
 *   - such a value (and finite) encodes as wire JSON that decodes back equal. */
#include "fuzz_common.h"

#define DEPTH 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *json = (const char *)data;
    vx_codec_opts o;
    vx_codec_opts_init(&o);
    o.max_depth = DEPTH;

    vx_value *v = (vx_value *)1, *t = (vx_value *)1;
    vx_error err = {0}, terr = {0};
    int rc = vx_json_parse_plain(json, size, DEPTH, &v, &err);
    int trc = vx_json_decode_value(json, size, &o, &t, &terr);
    if (trc != 0) {
        fuzz_check_error(trc, &terr, "vx_json_decode_value");
        FUZZ_CHECK(t == NULL, "vx_json_decode_value: *out not NULL after failure");
    }
    if (rc != 0) {
        fuzz_check_error(rc, &err, "vx_json_parse_plain");
        FUZZ_CHECK(v == NULL, "vx_json_parse_plain: *out not NULL after failure");
        FUZZ_CHECK(trc != 0, "plain JSON rejects (%s: %s) what the typed decoder accepts",
                   vx_error_name(rc), err.message);
        return 0;
    }
    FUZZ_CHECK(v != NULL, "success without a value");

    fuzz_walk w = {0};
    fuzz_walk_value(v, &w, 0);
    FUZZ_CHECK(!w.nan, "parsed value holds a NaN");
    FUZZ_CHECK(!w.bad_type, "parsed value holds a value of unknown type");
    vx_type ty = vx_typeof(v);
    FUZZ_CHECK(ty == VX_NULL || ty == VX_BOOL || ty == VX_INT || ty == VX_FLOAT ||
                   ty == VX_STR || ty == VX_LIST || ty == VX_DICT,
               "plain JSON gave a %s", vx_type_name(ty));

    if (!w.reserved_key) {
        FUZZ_CHECK(trc == 0, "typed decoder rejects (%s: %s) plain JSON without _ct/_ft",
                   vx_error_name(trc), terr.message);
        FUZZ_CHECK(vx_equal(v, t), "typed and plain decodes differ");

        /* Through the wire encoding and back; ints gain one level. */
        vx_codec_opts o2 = o;
        o2.max_depth = DEPTH + 1;
        vx_buf j = {0};
        rc = vx_json_encode_value(v, &o2, &j, &err);
        if (rc != 0) {
            fuzz_check_encode_refusal(rc, &err, &w, "vx_json_encode_value");
        } else {
            FUZZ_CHECK(!w.inf, "encoder accepted an infinity");
            fuzz_check_ascii(j.data, j.len, "encoded JSON");
            vx_value *back = NULL;
            rc = vx_json_decode_value(j.data, j.len, &o2, &back, &err);
            FUZZ_CHECK(rc == 0, "re-decode failed: %s: %s", vx_error_name(rc), err.message);
            FUZZ_CHECK(vx_equal(v, back), "value changed through wire JSON: %.*s",
                       (int)(j.len > 2000 ? 2000 : j.len), j.data);
            vx_decref(back);
        }
        vx_buf_free(&j);
    }
    if (trc == 0) vx_decref(t);
    vx_decref(v);
    return 0;
}
