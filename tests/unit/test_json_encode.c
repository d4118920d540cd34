/* JSON encoder: PROTOCOL.md §2.1 (ASCII-only text, separators), §3.1 (key
 * order), §4.1-4.5 (value forms), §5.2 (tuples), §6.1 (depth limit), and the
 * Python-repr float formatter behind §4.2. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>

#include "codec/float_repr.h"
#include "value/value_impl.h"
#include "helpers/vxtest.h"

#include <vortexc/codec.h>

#define DATE_US 1484231082123456LL /* 2017-01-12 14:24:42.123456 */

/* ---- helpers -------------------------------------------------------------- */

static vx_codec_opts opts_of(bool compact, int max_depth) {
    vx_codec_opts o;
    vx_codec_opts_init(&o);
    o.compact = compact;
    o.max_depth = max_depth;
    return o;
}

/* A payload like the vectors': date 2017-01-12 14:24:42.123456, given tuples. */
static vx_payload *payload_with(vx_value *tuples) {
    vx_payload *p = vx_payload_new_blank();
    assert_non_null(p);
    assert_int_equal(vx_payload_set_date_new(p, vx_datetime(DATE_US)), 0);
    if (tuples) assert_int_equal(vx_payload_set_tuples_new(p, tuples), 0);
    return p;
}

/* Encode a payload and compare with the expected text exactly. */
static void expect_payload(const vx_payload *p, bool compact, const char *want) {
    vx_codec_opts o = opts_of(compact, VX_DEFAULT_MAX_DEPTH);
    vx_buf b = {0};
    vx_error err = {0};
    int rc = vx_json_encode_payload(p, &o, &b, &err);
    if (rc) fail_msg("encode failed: %s", err.message);
    assert_int_equal(b.len, strlen(want));
    if (memcmp(b.data, want, b.len) != 0)
        fail_msg("got  %.*s\nwant %s", (int)b.len, b.data, want);
    vx_buf_free(&b);
}

/* Encode a value (default options unless given) and compare exactly. */
static void expect_json_opts(const vx_value *v, const vx_codec_opts *o, const char *want) {
    vx_buf b = {0};
    vx_error err = {0};
    int rc = vx_json_encode_value(v, o, &b, &err);
    if (rc) fail_msg("encode failed: %s", err.message);
    if (b.len != strlen(want) || memcmp(b.data, want, b.len) != 0)
        fail_msg("got  %.*s\nwant %s", (int)b.len, b.data, want);
    vx_buf_free(&b);
}

static void expect_json(const vx_value *v, const char *want) {
    expect_json_opts(v, NULL, want);
}

/* Encoding must fail with `code`, name `where` in the message, and leave the
 * buffer exactly as it was (here: holding "prefix"). */
static void expect_enc_fail(const vx_value *v, const vx_codec_opts *o, int code,
                            const char *where) {
    vx_buf b = {0};
    assert_int_equal(vx_buf_append(&b, "prefix", 6), 0);
    vx_error err = {0};
    int rc = vx_json_encode_value(v, o, &b, &err);
    assert_int_equal(rc, code);
    assert_int_equal(err.code, code);
    if (where && !strstr(err.message, where))
        fail_msg("message \"%s\" does not name \"%s\"", err.message, where);
    assert_int_equal(b.len, 6);
    assert_memory_equal(b.data, "prefix", 6);
    vx_buf_free(&b);
}

static void expect_payload_fail(const vx_payload *p, int code, const char *where) {
    vx_codec_opts o = opts_of(false, VX_DEFAULT_MAX_DEPTH);
    vx_buf b = {0};
    vx_error err = {0};
    assert_int_equal(vx_json_encode_payload(p, &o, &b, &err), code);
    if (where && !strstr(err.message, where))
        fail_msg("message \"%s\" does not name \"%s\"", err.message, where);
    assert_int_equal(b.len, 0);
    vx_buf_free(&b);
}

/* The "json" text of vector `name` in vortexpy-0.3.1.jsonl, read without the
 * JSON decoder under test elsewhere: the text is ASCII-only, so the only
 * escapes the line holds are \" and \\. NEW string. */
static char *vector_json(const char *name) {
    char *path = vxt_vector_path("vortexpy-0.3.1.jsonl");
    size_t len;
    char *all = vxt_read_file(path, &len);
    free(path);
    assert_non_null(all);
    char key[128];
    snprintf(key, sizeof key, "{\"name\": \"%s\",", name);
    char *line = strstr(all, key);
    assert_non_null(line);
    char *s = strstr(line, "\"json\": \"");
    assert_non_null(s);
    s += 9;
    char *out = malloc(strlen(s) + 1), *o = out;
    assert_non_null(out);
    for (; *s != '"'; s++) {
        if (*s == '\\') {
            s++;
            assert_true(*s == '"' || *s == '\\');
        }
        *o++ = *s;
    }
    *o = '\0';
    free(all);
    return out;
}

static vx_value *str_list(const char *const *s, const size_t *lens, size_t n) {
    vx_value *l = vx_list();
    for (size_t i = 0; i < n; i++)
        assert_int_equal(vx_list_append_new(l, vx_strn(s[i], lens[i])), 0);
    return l;
}

/* ---- §3.1 payload ------------------------------------------------------- */

static void test_C15_payload_key_order(void **state) {
    (void)state;
    vx_payload *p = payload_with(NULL);
    expect_payload(p, false,
                   "{\"_ct\": \"rp\", \"_c\": \"vortex.Payload.Payload\", \"filt\": {}, "
                   "\"replyFilt\": {}, \"tuples\": [], \"result\": null, \"date\": "
                   "{\"_ft\": \"datetime\", \"_fd\": \"2017-01-12 14:24:42.123456\"}}");
    /* Every field set: the order stays fixed, whatever order they were set in. */
    assert_int_equal(vx_payload_set_result_new(p, vx_str("ok")), 0);
    assert_int_equal(vx_dict_set_new(vx_payload_reply_filt(p), "r", vx_int(1)), 0);
    assert_int_equal(vx_list_append_new(vx_payload_tuples(p), vx_bool(false)), 0);
    assert_int_equal(vx_dict_set_new(vx_payload_filt(p), "key", vx_str("a.b")), 0);
    assert_int_equal(vx_payload_set_date_new(p, vx_null()), 0);
    expect_payload(
        p, false,
        "{\"_ct\": \"rp\", \"_c\": \"vortex.Payload.Payload\", \"filt\": {\"key\": "
        "\"a.b\"}, \"replyFilt\": {\"r\": {\"_ft\": \"int\", \"_fd\": 1}}, \"tuples\": "
        "[false], \"result\": \"ok\", \"date\": null}");
    vx_payload_decref(p);
}

static void test_C15_empty_payload_matches_vector(void **state) {
    (void)state;
    char *want = vector_json("empty_payload");
    vx_payload *p = payload_with(NULL);
    expect_payload(p, false, want);
    vx_payload_decref(p);
    free(want);
}

static void test_compact_separators(void **state) {
    (void)state;
    vx_registry *reg = vxt_test_registry_new();
    assert_non_null(reg);
    vx_value *t = vx_tuple_new(vx_registry_find(reg, "test.Address"));
    assert_int_equal(vx_tuple_set_new(t, "city", vx_str("Köln")), 0);
    vx_value *l = vx_list();
    vx_list_append_new(l, t);
    vx_list_append_new(l, vx_bytes("\x00\xff", 2));
    vx_list_append_new(l, vx_float(2.5));
    vx_value *d = vx_dict();
    vx_dict_set_new(d, "a b", vx_str(", :"));
    vx_dict_set_new(d, "n", vx_null());
    vx_list_append_new(l, d);
    vx_payload *p = payload_with(l);
    assert_int_equal(vx_dict_set_new(vx_payload_filt(p), "key", vx_int(-7)), 0);
    expect_payload(
        p, true,
        "{\"_ct\":\"rp\",\"_c\":\"vortex.Payload.Payload\",\"filt\":{\"key\":{\"_ft\":"
        "\"int\",\"_fd\":-7}},\"replyFilt\":{},\"tuples\":[{\"_ct\":\"rt\",\"_c\":"
        "\"test.Address\",\"city\":\"K\\u00f6ln\",\"postcode\":null,\"street\":\"\"},"
        "{\"_ft\":\"bytes\",\"_fd\":\"AP8=\"},2.5,{\"a b\":\", :\",\"n\":null}],"
        "\"result\":null,\"date\":{\"_ft\":\"datetime\",\"_fd\":\"2017-01-12 "
        "14:24:42.123456\"}}");
    expect_payload(
        p, false,
        "{\"_ct\": \"rp\", \"_c\": \"vortex.Payload.Payload\", \"filt\": {\"key\": "
        "{\"_ft\": \"int\", \"_fd\": -7}}, \"replyFilt\": {}, \"tuples\": [{\"_ct\": "
        "\"rt\", \"_c\": \"test.Address\", \"city\": \"K\\u00f6ln\", \"postcode\": "
        "null, \"street\": \"\"}, {\"_ft\": \"bytes\", \"_fd\": \"AP8=\"}, 2.5, {\"a "
        "b\": \", :\", \"n\": null}], \"result\": null, \"date\": {\"_ft\": "
        "\"datetime\", \"_fd\": \"2017-01-12 14:24:42.123456\"}}");
    vx_payload_decref(p);
    vx_registry_free(reg);
}

/* ---- §2.1 strings ---------------------------------------------------------- */

static void test_C02_non_ascii_escaped(void **state) {
    (void)state;
    vx_value *s = vx_str("\xc3\xa9");
    expect_json(s, "\"\\u00e9\"");
    vx_decref(s);
    s = vx_str("\xf0\x9f\x98\x80");
    expect_json(s, "\"\\ud83d\\ude00\"");
    vx_decref(s);
    /* Every UTF-8 length, the edges of each, and U+FFFF / U+10000 / U+10FFFF. */
    s = vx_str("\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf");
    expect_json(s, "\"\\u0080\\u07ff\\u0800\\uffff\\ud800\\udc00\\udbff\\udfff\"");
    vx_decref(s);
    /* Long plain runs (the 8-byte copy path) around escapes at every offset. */
    s = vx_str("abcdefghijklmnop\"qrstuvwxyz0123456\xc3\xa9"
               "789ABCDEFGH\x7f");
    expect_json(s, "\"abcdefghijklmnop\\\"qrstuvwxyz0123456\\u00e9789ABCDEFGH\\u007f\"");
    vx_decref(s);
}

static void test_C02_strings_match_vector(void **state) {
    (void)state;
    static const char *const s[] = {"hello",
                                    "",
                                    "\xc3\xbc",
                                    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
                                    "\xf0\x9f\x98\x80",
                                    "quote\" back\\slash",
                                    "tab\tnl\ncr\r",
                                    "\x00\x01\x1f\x7f",
                                    "slash/",
                                    "\xc3\xa9\xc3\xa9\xc3\xa9",
                                    "<>&'"};
    static const size_t lens[] = {5, 0, 2, 9, 4, 17, 10, 4, 6, 6, 4};
    vx_payload *p = payload_with(str_list(s, lens, 11));
    char *want = vector_json("tuples_strings");
    expect_payload(p, false, want);
    free(want);
    vx_payload_decref(p);
}

static void test_control_bytes_and_short_escapes(void **state) {
    (void)state;
    vx_value *s = vx_strn("\b\f\n\r\t\x0b\x1b/", 8);
    expect_json(s, "\"\\b\\f\\n\\r\\t\\u000b\\u001b/\"");
    vx_decref(s);
}

static void test_invalid_utf8_fails(void **state) {
    (void)state;
    /* The value layer never makes such a string; the encoder still refuses
     * rather than emit bytes a peer cannot read. */
    static const char *const bad[] = {"\xc3", "\xc0\xaf", "\xed\xa0\x80",
                                      "\xf4\x90\x80\x80", "ok\x80"};
    for (size_t i = 0; i < 5; i++) {
        vx_value *l = vx_list();
        vx_list_append_new(l, vx_str_trusted(bad[i], strlen(bad[i])));
        expect_enc_fail(l, NULL, VX_E_UTF8, "[0]");
        vx_decref(l);
    }
}

/* ---- §4.1 scalars ------------------------------------------------------- */

static void test_C16_int_bool_float_forms(void **state) {
    (void)state;
    vx_value *l = vx_list();
    vx_list_append_new(l, vx_int(5));
    vx_list_append_new(l, vx_int(0));
    vx_list_append_new(l, vx_int(INT64_MAX));
    vx_list_append_new(l, vx_int(INT64_MIN));
    vx_list_append_new(l, vx_bool(true));
    vx_list_append_new(l, vx_bool(false));
    vx_list_append_new(l, vx_float(2.0));
    vx_list_append_new(l, vx_float(-0.0));
    vx_list_append_new(l, vx_float(1234567890123456.0));
    vx_list_append_new(l, vx_null());
    expect_json(l, "[{\"_ft\": \"int\", \"_fd\": 5}, {\"_ft\": \"int\", \"_fd\": 0}, "
                   "{\"_ft\": \"int\", \"_fd\": 9223372036854775807}, {\"_ft\": \"int\", "
                   "\"_fd\": -9223372036854775808}, true, false, 2.0, -0.0, "
                   "1234567890123456.0, null]");
    vx_decref(l);
}

static void test_C16_floats_match_vector(void **state) {
    (void)state;
    static const double f[] = {1.0,    0.5,           -0.5,
                               0.1,    2.56,          3.141592653589793,
                               1e16,   123456789.125, 1.7976931348623157e308,
                               5e-324, 1e-300,        -0.0,
                               1e22,   1e21,          1e-5,
                               0.0001};
    vx_value *l = vx_list();
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        vx_list_append_new(l, vx_float(f[i]));
    vx_payload *p = payload_with(l);
    char *want = vector_json("tuples_floats");
    assert_non_null(strstr(want, "[1.0, 0.5, -0.5, 0.1, 2.56, 3.141592653589793, 1e+16, "
                                 "123456789.125, 1.7976931348623157e+308, 5e-324, 1e-300, "
                                 "-0.0, 1e+22, 1e+21, 1e-05, 0.0001]"));
    expect_payload(p, false, want);
    free(want);
    vx_payload_decref(p);
}

static void test_C18_nonfinite_names_key(void **state) {
    (void)state;
    vx_value *d = vx_dict(), *inner = vx_dict();
    vx_dict_set_new(inner, "ok", vx_float(1.5));
    vx_dict_set_new(inner, "price", vx_float(NAN));
    vx_dict_set_new(d, "row", inner);
    expect_enc_fail(d, NULL, VX_E_NONFINITE, "row.price");
    vx_decref(d);

    vx_value *l = vx_list();
    vx_list_append_new(l, vx_float(1.0));
    vx_list_append_new(l, vx_float(-INFINITY));
    expect_enc_fail(l, NULL, VX_E_NONFINITE, "[1]");
    vx_decref(l);

    vx_registry *reg = vxt_test_registry_new();
    vx_value *t = vx_tuple_new(vx_registry_find(reg, "test.Person"));
    vx_tuple_set_new(t, "score", vx_float(INFINITY));
    vx_payload *p = payload_with(NULL);
    vx_list_append_new(vx_payload_tuples(p), vx_float(0.25));
    vx_list_append_new(vx_payload_tuples(p), t);
    expect_payload_fail(p, VX_E_NONFINITE, "tuples[1].score");
    vx_payload_decref(p);
    vx_registry_free(reg);

    vx_value *f = vx_float(NAN);
    expect_enc_fail(f, NULL, VX_E_NONFINITE, "NaN");
    vx_decref(f);
}

static void test_C21_bytes_encode_base64(void **state) {
    (void)state;
    vx_value *l = vx_list();
    vx_list_append_new(l, vx_bytes("", 0));
    vx_list_append_new(l, vx_bytes("f", 1));
    vx_list_append_new(l, vx_bytes("fo", 2));
    vx_list_append_new(l, vx_bytes("foo", 3));
    vx_list_append_new(l, vx_bytes("\xfb\xff\xbf", 3));
    expect_json(l,
                "[{\"_ft\": \"bytes\", \"_fd\": \"\"}, {\"_ft\": \"bytes\", \"_fd\": "
                "\"Zg==\"}, {\"_ft\": \"bytes\", \"_fd\": \"Zm8=\"}, {\"_ft\": \"bytes\", "
                "\"_fd\": \"Zm9v\"}, {\"_ft\": \"bytes\", \"_fd\": \"+/+/\"}]");
    vx_decref(l);
}

static void test_wkb_keeps_original_text(void **state) {
    (void)state;
    /* Non-canonical padding bits: re-encoding the bytes would give "AQ==". */
    vx_value *w = vx_wkb("\x01", 1, "AR==", 4);
    assert_non_null(w);
    expect_json(w, "{\"_ft\": \"wkb\", \"_fd\": \"AR==\"}");
    vx_decref(w);
}

static void test_C22_datetime_format(void **state) {
    (void)state;
    static const struct {
        int64_t us;
        const char *want;
    } cases[] = {
        {DATE_US, "2017-01-12 14:24:42.123456"},
        {0, "1970-01-01 00:00:00.000000"},
        {-1, "1969-12-31 23:59:59.999999"},
        {951782400000000LL, "2000-02-29 00:00:00.000000"},
        {VX_DATETIME_MIN_US, "0001-01-01 00:00:00.000000"},
        {VX_DATETIME_MAX_US, "9999-12-31 23:59:59.999999"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vx_value *d = vx_datetime(cases[i].us);
        char want[96];
        snprintf(want, sizeof want, "{\"_ft\": \"datetime\", \"_fd\": \"%s\"}",
                 cases[i].want);
        expect_json(d, want);
        vx_codec_opts o = opts_of(true, 64);
        snprintf(want, sizeof want, "{\"_ft\":\"datetime\",\"_fd\":\"%s\"}", cases[i].want);
        expect_json_opts(d, &o, want);
        vx_decref(d);
    }
}

/* ---- §4.5 dicts ---------------------------------------------------------- */

static void test_C27_reserved_key_refused(void **state) {
    (void)state;
    static const char *const reserved[] = {"_ct", "_ft"};
    for (size_t i = 0; i < 2; i++) {
        vx_value *d = vx_dict(), *inner = vx_dict();
        vx_dict_set_new(inner, "x", vx_int(1));
        vx_dict_set_new(inner, reserved[i], vx_str("rt"));
        vx_value *l = vx_list();
        vx_list_append_new(l, inner);
        vx_dict_set_new(d, "outer", l);
        expect_enc_fail(d, NULL, VX_E_RESERVED_KEY, reserved[i]);
        expect_enc_fail(d, NULL, VX_E_RESERVED_KEY, "outer[0]");
        vx_decref(d);

        vx_payload *p = payload_with(NULL);
        vx_dict_set_new(vx_payload_filt(p), reserved[i], vx_str("x"));
        expect_payload_fail(p, VX_E_RESERVED_KEY, "filt");
        vx_payload_decref(p);
    }
    /* Near misses are ordinary keys, and keys stay strings (§4.5). */
    vx_value *d = vx_dict();
    static const char *const ok[] = {"_c", "_fd", "ct",  "_ctx", "_CT",
                                     "12", "1.5", "nan", ""};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        vx_dict_set_new(d, ok[i], vx_null());
    expect_json(
        d, "{\"_c\": null, \"_fd\": null, \"ct\": null, \"_ctx\": null, \"_CT\": null, "
           "\"12\": null, \"1.5\": null, \"nan\": null, \"\": null}");
    vx_decref(d);
}

/* ---- §5.2 tuples --------------------------------------------------------- */

static void test_C28_tuple_sorted_fields(void **state) {
    (void)state;
    vx_registry *reg = vxt_test_registry_new();
    assert_non_null(reg);
    vx_value *t = vx_tuple_new(vx_registry_find(reg, "test.Person"));
    vx_payload *p = payload_with(NULL);
    vx_list_append_new(vx_payload_tuples(p), t);
    char *want = vector_json("tuple_person_defaults");
    expect_payload(p, false, want);
    free(want);
    vx_payload_decref(p);

    /* Untyped tuples sort their fields too, by byte order ("B" < "a" < "ab"). */
    vx_value *u = vx_tuple_new_untyped("demo.Thing");
    vx_tuple_set_new(u, "ab", vx_int(2));
    vx_tuple_set_new(u, "a", vx_null());
    vx_tuple_set_new(u, "B", vx_str("x"));
    vx_tuple_set_new(u, "\xc3\xa9", vx_bool(true));
    expect_json(u, "{\"_ct\": \"rt\", \"_c\": \"demo.Thing\", \"B\": \"x\", \"a\": null, "
                   "\"ab\": {\"_ft\": \"int\", \"_fd\": 2}, \"\\u00e9\": true}");
    vx_decref(u);

    u = vx_tuple_new_untyped("demo.Empty");
    expect_json(u, "{\"_ct\": \"rt\", \"_c\": \"demo.Empty\"}");
    vx_decref(u);
    vx_registry_free(reg);
}

static void test_C28_untyped_many_fields(void **state) {
    (void)state;
    /* More fields than the encoder's on-stack sort array. */
    vx_value *u = vx_tuple_new_untyped("demo.Wide");
    char want[4096] = "{\"_ct\":\"rt\",\"_c\":\"demo.Wide\"";
    for (int i = 99; i >= 0; i--) {
        char name[8];
        snprintf(name, sizeof name, "f%02d", i);
        vx_tuple_set_new(u, name, vx_int(i));
    }
    for (int i = 0; i < 100; i++) {
        size_t n = strlen(want);
        snprintf(want + n, sizeof want - n, ",\"f%02d\":{\"_ft\":\"int\",\"_fd\":%d}", i,
                 i);
    }
    strcat(want, "}");
    vx_codec_opts o = opts_of(true, 64);
    expect_json_opts(u, &o, want);
    vx_decref(u);
}

static void test_C33_nested_payload_encodes(void **state) {
    (void)state;
    vx_payload *inner = payload_with(NULL);
    vx_dict_set_new(vx_payload_filt(inner), "key", vx_str("in"));
    vx_payload *p = payload_with(NULL);
    vx_list_append_new(vx_payload_tuples(p), vx_payload_as_value(inner));
    vx_codec_opts o = opts_of(true, 64);
    vx_buf b = {0};
    assert_int_equal(vx_json_encode_payload(p, &o, &b, NULL), 0);
    const char *date =
        "\"date\":{\"_ft\":\"datetime\",\"_fd\":\"2017-01-12 14:24:42.123456\"}}";
    char want[1024];
    snprintf(
        want, sizeof want,
        "{\"_ct\":\"rp\",\"_c\":\"vortex.Payload.Payload\",\"filt\":{},\"replyFilt\":{},"
        "\"tuples\":[{\"_ct\":\"rp\",\"_c\":\"vortex.Payload.Payload\",\"filt\":{\"key\":"
        "\"in\"},\"replyFilt\":{},\"tuples\":[],\"result\":null,%s],\"result\":null,%s",
        date, date);
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    vx_buf_free(&b);
    vx_payload_decref(p);
}

/* ---- §6.1 depth ----------------------------------------------------------- */

static void test_depth_limit(void **state) {
    (void)state;
    /* payload (1) > tuples list (2) > int wrapper (3) */
    vx_value *l = vx_list();
    vx_list_append_new(l, vx_int(1));
    vx_payload *p = payload_with(l);
    vx_codec_opts o = opts_of(false, 3);
    vx_buf b = {0};
    vx_error err;
    assert_int_equal(vx_json_encode_payload(p, &o, &b, &err), 0);
    vx_buf_free(&b);
    o.max_depth = 2;
    assert_int_equal(vx_json_encode_payload(p, &o, &b, &err), VX_E_DEPTH);
    assert_non_null(strstr(err.message, "tuples[0]"));
    assert_int_equal(b.len, 0);
    vx_payload_decref(p);

    /* 64 levels are allowed by default, 65 are not: 63 nested lists hold a
     * datetime (level 64) and a 64th list, which may hold a string (no level)
     * but not a datetime or another list (level 65). */
    vx_value *top = vx_list(), *cur = top;
    for (int i = 1; i < 63; i++) {
        vx_value *n = vx_list();
        vx_list_append_new(cur, n);
        cur = n;
    }
    vx_list_append_new(cur, vx_datetime(0));
    vx_value *l64 = vx_list();
    vx_list_append_new(cur, l64);
    vx_list_append_new(l64, vx_str("deep"));
    assert_int_equal(vx_json_encode_value(top, NULL, &b, NULL), 0);
    vx_buf_free(&b);
    vx_list_append_new(l64, vx_datetime(0));
    expect_enc_fail(top, NULL, VX_E_DEPTH, "max_depth 64");
    vx_list_set_new(l64, 1, vx_list());
    expect_enc_fail(top, NULL, VX_E_DEPTH, "[1][1]");
    vx_decref(top);
}

static void test_depth_stops_cycles(void **state) {
    (void)state;
    vx_value *l = vx_list(), *d = vx_dict();
    vx_list_append(l, d); /* l -> d -> l */
    vx_dict_set(d, "self", l);
    expect_enc_fail(l, NULL, VX_E_DEPTH, "[0].self[0].self");
    vx_codec_opts o = opts_of(false, 100000);
    expect_enc_fail(l, &o, VX_E_DEPTH, "cap of 4096"); /* the recursion cap holds */
    vx_dict_del(d, "self"); /* break the cycle so both can be freed */
    vx_decref(d);
    vx_decref(l);
}

static void test_unencodable_type(void **state) {
    (void)state;
    vx_int_impl bogus = {{200, VX_IMMORTAL}, 0};
    vx_value *l = vx_list();
    vx_list_append(l, &bogus.h);
    expect_enc_fail(l, NULL, VX_E_UNENCODABLE, "[0]");
    vx_decref(l);
}

static void test_appends_after_existing_content(void **state) {
    (void)state;
    vx_buf b = {0};
    assert_int_equal(vx_buf_append(&b, "x.", 2), 0);
    vx_value *v = vx_int(42);
    assert_int_equal(vx_json_encode_value(v, NULL, &b, NULL), 0);
    assert_int_equal(b.len, 2 + strlen("{\"_ft\": \"int\", \"_fd\": 42}"));
    assert_memory_equal(b.data, "x.{\"_ft\": \"int\", \"_fd\": 42}", b.len);
    vx_decref(v);
    vx_buf_free(&b);
}

/* ---- float formatting ----------------------------------------------------- */

static void check_repr(double v, const char *want) {
    char out[VX_FLOAT_REPR_MAX + 1];
    size_t n = vx_float_repr(v, out);
    out[n] = '\0';
    if (strcmp(out, want) != 0) fail_msg("repr(%a): got %s, want %s", v, out, want);
    n = vx_float_repr_slow(v, out);
    out[n] = '\0';
    if (strcmp(out, want) != 0) fail_msg("slow repr(%a): got %s, want %s", v, out, want);
}

static double from_bits(uint64_t b) {
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

/* Python 3.11 repr() of each double, including powers of two whose nearest
 * n-digit decimal falls outside their lopsided rounding interval (the first
 * four and 2^-44, 2^89), the fast path's edges and random bit patterns. */
static void test_float_repr_matches_python(void **state) {
    (void)state;
    static const struct {
        uint64_t bits;
        const char *repr;
    } cases[] = {
        {0x0060000000000000ull, "7.120236347223045e-307"},
        {0x0100000000000000ull, "7.291122019556398e-304"},
        {0x7cf0000000000000ull, "6.386688990511104e+293"},
        {0x3e70000000000000ull, "5.960464477539063e-08"},
        {0x3d30000000000000ull, "5.684341886080802e-14"},
        {0x4580000000000000ull, "6.189700196426902e+26"},
        {0x0000000000000001ull, "5e-324"},
        {0x0000000000000002ull, "1e-323"},
        {0x0010000000000000ull, "2.2250738585072014e-308"},
        {0x000fffffffffffffull, "2.225073858507201e-308"},
        {0x7fefffffffffffffull, "1.7976931348623157e+308"},
        {0x3fd3333333333333ull, "0.3"},
        {0x3fd5555555555555ull, "0.3333333333333333"},
        {0x3fe5555555555555ull, "0.6666666666666666"},
        {0x3fd3333333333334ull, "0.30000000000000004"},
        {0x4059000000000000ull, "100.0"},
        {0x430c6bf526340000ull, "1000000000000000.0"},
        {0x4341c37937e08000ull, "1e+16"},
        {0x4341c37937e07fffull, "9999999999999998.0"},
        {0x437b69b4ba630f35ull, "1.2345678901234568e+17"},
        {0x44b52d02c7e14af6ull, "1e+23"},
        {0x43e0000000000000ull, "9.223372036854776e+18"},
        {0x43f0000000000000ull, "1.8446744073709552e+19"},
        {0x3db0000000000000ull, "1.4551915228366852e-11"},
        {0x3da0000000000000ull, "7.275957614183426e-12"},
        {0x4590000000000000ull, "1.2379400392853803e+27"},
        {0x48e0000000000000ull, "1.1150372599265312e+43"},
        {0x48f0000000000000ull, "2.2300745198530623e+43"},
        {0x3db07e1fe91b0b70ull, "1.5e-11"},
        {0x3daec94ca210599eull, "1.4e-11"},
        {0x3ee4f8b588e368f1ull, "1e-05"},
        {0x3f1a36e2eb1c432dull, "0.0001"},
        {0x3f1cd5f99c38b04bull, "0.00011"},
        {0x40c81cd6e631f8a1ull, "12345.6789"},
        {0xc004000000000000ull, "-2.5"},
        {0x4340000000000000ull, "9007199254740992.0"},
        {0x4011666666666666ull, "4.35"},
        {0x3fc2492492492492ull, "0.14285714285714285"},
        {0x48e1381a93a87849ull, "1.2e+43"},
        {0x48df91860eb4dc85ull, "1.1e+43"},
        {0x3d8a636641c4df1aull, "3e-12"},
        {0x41b1de784a000000ull, "299792458.0"},
        {0x44dfe185ca57c517ull, "6.02214076e+23"},
        {0x3c07a4da290c1653ull, "1.602176634e-19"},
        {0x00005c0ab9347ed7ull, "5e-310"},
        {0x0000000000000003ull, "1.5e-323"},
        {0x4164d8399f767c45ull, "10928588.983213553"},
        {0x5bc8fbbcbde5c099ull, "1.4186613525849614e+134"},
        {0xb0c11fdecb91ce37ull, "-7.571968556055867e-74"},
        {0xd76d4330f1446beaull, "-1.4074705188261364e+113"},
        {0xa6eb8c9ebd69fe29ull, "-3.3339745473042614e-121"},
        {0x87b0b125ec1d7da0ull, "-1.2342180766211395e-271"},
        {0xc6a5387777330bdbull, "-2.1520217579844227e+32"},
        {0x3fc1ea36f17fd374ull, "0.1399601630397701"},
        {0x0d464138a6233255ull, "1.01853664031722e-244"},
        {0x617959ce3f1f65a8ull, "3.56409621163656e+161"},
        {0x0000000000000000ull, "0.0"},
        {0x8000000000000000ull, "-0.0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_repr(from_bits(cases[i].bits), cases[i].repr);
}

/* xorshift64*: a fixed seed so a failure can be reproduced. */
static uint64_t rng_next(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

/* A double of one of several kinds real data has, or random bits. */
static double random_double(uint64_t *s) {
    uint64_t r = rng_next(s);
    switch (r % 16) {
    case 0: /* anything: mostly huge or tiny */
        return from_bits(rng_next(s));
    case 1: /* a subnormal */
        return from_bits(rng_next(s) % 0x0010000000000000ull);
    case 2: /* a power of two, or a neighbour of one */
    case 3: {
        double d = ldexp(1.0, (int)(rng_next(s) % 300) - 150);
        return r & 16 ? d : r & 32 ? nextafter(d, 0) : nextafter(d, INFINITY);
    }
    case 4: /* random bits around the fast range */
    case 5:
    case 6: {
        uint64_t be = 1075 - 100 + (rng_next(s) % 200);
        return from_bits((r & (1ull << 63)) | (be << 52) | (rng_next(s) >> 12));
    }
    case 7: /* a decimal with few digits, n * 10^k */
    case 8:
    case 9: {
        char buf[48];
        unsigned long long n = rng_next(s) % 1000000000000ull >> (r >> 60);
        snprintf(buf, sizeof buf, "%llue%d", n, (int)(rng_next(s) % 50) - 30);
        return strtod(buf, NULL);
    }
    case 10: /* an integer or a dyadic fraction */
        return (double)(int64_t)rng_next(s) / (double)(1ull << (r >> 58));
    case 11: /* a ratio */
    case 12:
        return (double)(rng_next(s) % 1000 + 1) / (double)(rng_next(s) % 1000 + 1);
    default: /* a price */
        return (double)(int64_t)(rng_next(s) % 2000000 - 1000000) / 100.0;
    }
}

/* The fast path against the slow reference on a million doubles of the
 * kinds real data has (VX_FLOAT_TEST_N overrides the count, e.g. under
 * valgrind). Doubles outside the fast range only check the round trip: both
 * routes are then the same code. */
static void test_float_repr_fast_equals_reference(void **state) {
    (void)state;
    const char *env = getenv("VX_FLOAT_TEST_N");
    long n = env ? atol(env) : 1000000, fast = 0, fails = 0;
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (long i = 0; i < n; i++) {
        double v = random_double(&seed);
        if (!isfinite(v)) continue;
        char a[VX_FLOAT_REPR_MAX + 1], b[VX_FLOAT_REPR_MAX + 1];
        size_t len = vx_float_repr_fast(v, a);
        if (len) {
            fast++;
            a[len] = '\0';
            b[vx_float_repr_slow(v, b)] = '\0';
            if (strcmp(a, b) != 0 && fails++ < 5)
                print_error("%a: fast %s, slow %s\n", v, a, b);
        } else {
            a[vx_float_repr(v, a)] = '\0';
        }
        /* It must read back (strtod runs in the "C" locale here). */
        if (strtod(a, NULL) != v && fails++ < 5)
            print_error("%a: %s does not round-trip\n", v, a);
    }
    assert_int_equal(fails, 0);
    assert_true(fast > n / 2); /* the generator does exercise the fast path */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_C15_payload_key_order),
        cmocka_unit_test(test_C15_empty_payload_matches_vector),
        cmocka_unit_test(test_compact_separators),
        cmocka_unit_test(test_C02_non_ascii_escaped),
        cmocka_unit_test(test_C02_strings_match_vector),
        cmocka_unit_test(test_control_bytes_and_short_escapes),
        cmocka_unit_test(test_invalid_utf8_fails),
        cmocka_unit_test(test_C16_int_bool_float_forms),
        cmocka_unit_test(test_C16_floats_match_vector),
        cmocka_unit_test(test_C18_nonfinite_names_key),
        cmocka_unit_test(test_C21_bytes_encode_base64),
        cmocka_unit_test(test_wkb_keeps_original_text),
        cmocka_unit_test(test_C22_datetime_format),
        cmocka_unit_test(test_C27_reserved_key_refused),
        cmocka_unit_test(test_C28_tuple_sorted_fields),
        cmocka_unit_test(test_C28_untyped_many_fields),
        cmocka_unit_test(test_C33_nested_payload_encodes),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_depth_stops_cycles),
        cmocka_unit_test(test_unencodable_type),
        cmocka_unit_test(test_appends_after_existing_content),
        cmocka_unit_test(test_float_repr_matches_python),
        cmocka_unit_test(test_float_repr_fast_equals_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
