/* JSON decoding (PROTOCOL §2.2 steps 5-8, §3, §4, §5.3, §6): the C-NN
 * statements of §18 that the JSON layer decides, plus the parser's own
 * edge cases (escapes, surrogates, numbers, strict mode, plain parsing). */
#include <float.h>
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <vortexc/codec.h>

#include "helpers/vxtest.h"

static vx_registry *reg;

static int setup(void **state) {
    reg = vxt_test_registry_new();
    return reg ? 0 : -1;
}

static int teardown(void **state) {
    vx_registry_free(reg);
    return 0;
}

static void opts_of(vx_codec_opts *o, bool strict) {
    vxt_opts(o, reg, 6, false);
    o->strict_decode = strict;
}

/* Decode a payload; return the code, the payload in *out (or NULL). */
static int dec(const char *json, bool strict, vx_payload **out, vx_error *err) {
    vx_codec_opts o;
    opts_of(&o, strict);
    vx_payload *p = NULL;
    int rc = vx_json_decode_payload(json, strlen(json), &o, &p, err);
    if (rc) assert_null(p);
    if (out)
        *out = p;
    else
        vx_payload_decref(p);
    return rc;
}

/* Expect `json` (a payload) to fail with `code` and a message containing
 * `needle` (if non-NULL). */
static void expect_fail(const char *json, bool strict, int code, const char *needle) {
    vx_error err;
    int rc = dec(json, strict, NULL, &err);
    if (rc != code)
        fail_msg("%s: got %s (%s), want %s", json, vx_error_name(rc), err.message,
                 vx_error_name(code));
    assert_int_equal(err.code, code);
    assert_null(strchr(err.message, '\n'));
    if (needle && !strstr(err.message, needle))
        fail_msg("message \"%s\" lacks \"%s\"", err.message, needle);
}

/* Decode one value with the typed rules; fails the test on error. NEW. */
static vx_value *val(const char *json) {
    vx_codec_opts o;
    opts_of(&o, false);
    vx_value *v = NULL;
    vx_error err;
    int rc = vx_json_decode_value(json, strlen(json), &o, &v, &err);
    if (rc) fail_msg("%s: %s", json, err.message);
    return v;
}

static int val_rc(const char *json, vx_error *err) {
    vx_codec_opts o;
    opts_of(&o, false);
    vx_value *v = NULL;
    int rc = vx_json_decode_value(json, strlen(json), &o, &v, err);
    if (rc) assert_null(v);
    vx_decref(v);
    return rc;
}

/* The value of a one-element "tuples" list in payload JSON built around
 * `item`. NEW. */
static vx_value *tuple0(const char *item) {
    char buf[1024];
    snprintf(buf, sizeof buf, "{\"_ct\": \"rp\", \"tuples\": [%s]}", item);
    vx_payload *p;
    vx_error err;
    if (dec(buf, false, &p, &err)) fail_msg("%s: %s", buf, err.message);
    vx_value *v = vx_incref(vx_list_get(vx_payload_tuples(p), 0));
    vx_payload_decref(p);
    return v;
}

static int item_rc(const char *item, vx_error *err) {
    char buf[1024];
    snprintf(buf, sizeof buf, "{\"_ct\": \"rp\", \"tuples\": [%s]}", item);
    return dec(buf, false, NULL, err);
}

static void expect_item_fail(const char *item, int code, const char *needle) {
    char buf[1024];
    snprintf(buf, sizeof buf, "{\"_ct\": \"rp\", \"tuples\": [%s]}", item);
    expect_fail(buf, false, code, needle);
}

/* ---- C-03 ---------------------------------------------------------------- */

static void test_C03_accepts_any_separators_and_whitespace(void **state) {
    const char *forms[] = {
        "{\"_ct\":\"rp\",\"filt\":{\"key\":\"k\",\"n\":{\"_ft\":\"int\",\"_fd\":3}},"
        "\"tuples\":[1,2.5,\"x\"],\"result\":null}",
        "{\"_ct\": \"rp\", \"filt\": {\"key\": \"k\", \"n\": {\"_ft\": \"int\", \"_fd\": "
        "3}}, "
        "\"tuples\": [1, 2.5, \"x\"], \"result\": null}",
        "\n\t{ \"_ct\" :\r\n\"rp\" ,\n\t\"filt\"\t:\t{ \"key\" : \"k\" ,\n \"n\" : { "
        "\"_ft\" "
        ": \"int\" , \"_fd\" : 3 } } ,\r\n \"tuples\" : [ 1 ,\n2.5 , \"x\" ] , \"result\" "
        ": "
        "null }\n\r\t ",
    };
    vx_payload *ref = NULL;
    for (size_t i = 0; i < 3; i++) {
        vx_payload *p;
        vx_error err;
        if (dec(forms[i], false, &p, &err)) fail_msg("form %zu: %s", i, err.message);
        assert_int_equal(vx_int_value(vx_dict_get(vx_payload_filt(p), "n")), 3);
        assert_int_equal(vx_typeof(vx_dict_get(vx_payload_filt(p), "n")), VX_INT);
        assert_int_equal(vx_list_size(vx_payload_tuples(p)), 3);
        if (ref) {
            assert_true(vx_equal(vx_payload_as_value(p), vx_payload_as_value(ref)));
            vx_payload_decref(p);
        } else {
            ref = p;
        }
    }
    vx_payload_decref(ref);
}

/* ---- C-10 ---------------------------------------------------------------- */

static void test_C10_invalid_utf8_fails_with_VX_E_UTF8(void **state) {
    const char *bad[] = {
        "{\"_ct\": \"rp\", \"filt\": {\"key\": \"\xff\"}}",             /* invalid byte */
        "{\"_ct\": \"rp\", \"filt\": {\"key\": \"\xc0\x80\"}}",         /* overlong NUL */
        "{\"_ct\": \"rp\", \"filt\": {\"key\": \"\xe0\x80\xaf\"}}",     /* overlong '/' */
        "{\"_ct\": \"rp\", \"filt\": {\"key\": \"\xed\xa0\x80\"}}",     /* surrogate */
        "{\"_ct\": \"rp\", \"filt\": {\"key\": \"\xf4\x90\x80\x80\"}}", /* > U+10FFFF */
        "{\"_ct\": \"rp\", \"filt\": {\"key\": \"\xe2\x82\"}}",         /* truncated */
        "{\"_ct\": \"rp\"}\x80", /* stray continuation */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_fail(bad[i], false, VX_E_UTF8, "byte offset");
    /* Valid multi-byte text passes the check. */
    vx_payload *p;
    vx_error err;
    assert_int_equal(dec("{\"_ct\": \"rp\", \"filt\": {\"k\": "
                         "\"\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80\"}}",
                         false, &p, &err),
                     0);
    assert_string_equal(vx_str_value(vx_dict_get(vx_payload_filt(p), "k")),
                        "\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80");
    vx_payload_decref(p);
}

static void test_C10_truncated_json_and_nan_fail_with_VX_E_JSON(void **state) {
    const char *full =
        "{\"_ct\": \"rp\", \"filt\": {\"key\": \"k\"}, \"tuples\": [1.5, \"ab\\n\"], "
        "\"date\": {\"_ft\": \"datetime\", \"_fd\": \"2017-01-12 14:24:42.123456\"}}";
    /* Every proper prefix is truncated JSON. */
    char buf[512];
    size_t n = strlen(full);
    for (size_t i = 1; i < n; i++) {
        memcpy(buf, full, i);
        vx_codec_opts o;
        opts_of(&o, false);
        vx_payload *p = NULL;
        vx_error err;
        int rc = vx_json_decode_payload(buf, i, &o, &p, &err);
        if (rc != VX_E_JSON)
            fail_msg("prefix %zu: %s %s", i, vx_error_name(rc), err.message);
        assert_non_null(strstr(err.message, "byte offset"));
    }
    expect_fail("", false, VX_E_JSON, "byte offset 0");
    expect_fail("   ", false, VX_E_JSON, NULL);
    expect_fail("{\"_ct\": \"rp\", \"tuples\": [NaN]}", false, VX_E_JSON, "byte offset 25");
    expect_fail("{\"_ct\": \"rp\", \"tuples\": [Infinity]}", false, VX_E_JSON, NULL);
    expect_fail("{\"_ct\": \"rp\", \"tuples\": [-Infinity]}", false, VX_E_JSON, NULL);
    expect_fail("{\"_ct\": \"rp\", \"result\": nan}", false, VX_E_JSON, NULL);
    expect_fail("{\"_ct\": \"rp\", \"tuples\": [1e400]}", false, VX_E_JSON, NULL);
}

static void test_json_syntax_errors_give_offsets(void **state) {
    expect_fail("hello", false, VX_E_JSON, "byte offset 0");
    expect_fail("{'_ct': 'rp'}", false, VX_E_JSON, "byte offset 1");
    expect_fail("{\"_ct\": \"rp\",}", false, VX_E_JSON, "byte offset 13");
    expect_fail("{\"_ct\": \"rp\"} {}", false, VX_E_JSON, "byte offset 14");
    expect_fail("{\"_ct\": \"rp\", \"tuples\": [1,]}", false, VX_E_JSON, NULL);
    expect_fail("{\"_ct\": \"rp\", \"tuples\": [01]}", false, VX_E_JSON, NULL);
    expect_fail("{\"_ct\": \"rp\", \"tuples\": [1.]}", false, VX_E_JSON, NULL);
    expect_fail("{\"_ct\": \"rp\", \"tuples\": [.5]}", false, VX_E_JSON, NULL);
    expect_fail("{\"_ct\": \"rp\", \"tuples\": [+1]}", false, VX_E_JSON, NULL);
    expect_fail("{\"_ct\": \"rp\", \"tuples\": [tru]}", false, VX_E_JSON, NULL);
    expect_fail("{\"_ct\": \"rp\", \"tuples\": [\"\\x\"]}", false, VX_E_JSON, "escape");
    expect_fail("{\"_ct\": \"rp\" \"filt\": {}}", false, VX_E_JSON, NULL);
    expect_fail("{\"_ct\" \"rp\"}", false, VX_E_JSON, NULL);
    /* Trailing whitespace is fine. */
    assert_int_equal(dec("{\"_ct\": \"rp\"}\r\n\t ", false, NULL, NULL), 0);
}

static void test_raw_control_characters_in_strings_fail(void **state) {
    expect_fail("{\"_ct\": \"rp\", \"result\": \"a\tb\"}", false, VX_E_JSON, "control");
    expect_fail("{\"_ct\": \"rp\", \"result\": \"a\nb\"}", false, VX_E_JSON, "control");
    expect_fail("{\"_ct\": \"rp\", \"filt\": {\"a\x01\": 1}}", false, VX_E_JSON, "control");
    /* After an escape too (the slow path). */
    expect_fail("{\"_ct\": \"rp\", \"result\": \"\\n\x1f\"}", false, VX_E_JSON, "control");
}

static void test_escapes_and_surrogate_pairs(void **state) {
    vx_value *v =
        val("\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t \\u00e9\\u65e5\\ud83d\\ude00\\u0000z\"");
    const char want[] = "q\" b\\ s/ \b\f\n\r\t \xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80\0z";
    assert_int_equal(vx_str_len(v), sizeof want - 1);
    assert_memory_equal(vx_str_value(v), want, sizeof want - 1);
    vx_decref(v);
    /* Escaped keys, in dicts and tuples. */
    v = val("{\"a\\u0062\": 1, \"\\n\": {\"x\\\"y\": [\"\\t\"]}}");
    assert_int_equal(vx_int_value(vx_dict_get(v, "ab")), 1);
    vx_value *inner = vx_dict_get(v, "\n");
    assert_non_null(inner);
    assert_string_equal(vx_str_value(vx_list_get(vx_dict_get(inner, "x\"y"), 0)), "\t");
    vx_decref(v);
    v = tuple0(
        "{\"_ct\": \"rt\", \"_c\": \"test.Person\", \"n\\u0061me\": \"Ann\\u00e9\"}");
    assert_string_equal(vx_str_value(vx_tuple_get(v, "name")), "Ann\xc3\xa9");
    vx_decref(v);
}

static void test_unpaired_surrogates_fail_with_VX_E_JSON(void **state) {
    expect_fail("{\"_ct\": \"rp\", \"result\": \"\\ud83d\"}", false, VX_E_JSON,
                "surrogate");
    expect_fail("{\"_ct\": \"rp\", \"result\": \"\\ude00\"}", false, VX_E_JSON,
                "surrogate");
    expect_fail("{\"_ct\": \"rp\", \"result\": \"\\ud83dx\"}", false, VX_E_JSON,
                "surrogate");
    expect_fail("{\"_ct\": \"rp\", \"result\": \"\\ud83d\\u0041\"}", false, VX_E_JSON,
                "surrogate");
    expect_fail("{\"_ct\": \"rp\", \"result\": \"\\ud83d\\ud83d\"}", false, VX_E_JSON,
                "surrogate");
    expect_fail("{\"_ct\": \"rp\", \"filt\": {\"\\udfff\": 1}}", false, VX_E_JSON,
                "surrogate");
    expect_fail("{\"_ct\": \"rp\", \"result\": \"\\u12\"}", false, VX_E_JSON, NULL);
}

/* ---- C-11 ---------------------------------------------------------------- */

static char *nested(const char *prefix, size_t levels, const char *open, const char *mid,
                    const char *close, const char *suffix) {
    size_t n = strlen(prefix) + levels * (strlen(open) + strlen(close)) + strlen(mid) +
               strlen(suffix) + 1;
    char *s = malloc(n), *o = s;
    o += sprintf(o, "%s", prefix);
    for (size_t i = 0; i < levels; i++) o += sprintf(o, "%s", open);
    o += sprintf(o, "%s", mid);
    for (size_t i = 0; i < levels; i++) o += sprintf(o, "%s", close);
    sprintf(o, "%s", suffix);
    return s;
}

static void test_C11_depth_65_fails_with_VX_E_DEPTH(void **state) {
    /* The payload object is depth 1, the tuples array depth 2: 62 more
     * arrays reach 64 (allowed), 63 reach 65. */
    char *ok = nested("{\"_ct\": \"rp\", \"tuples\": [", 62, "[", "", "]", "]}");
    char *deep = nested("{\"_ct\": \"rp\", \"tuples\": [", 63, "[", "", "]", "]}");
    assert_int_equal(dec(ok, false, NULL, NULL), 0);
    expect_fail(deep, false, VX_E_DEPTH, "max_depth 64");
    free(ok);
    free(deep);
    /* Objects count the same way, and a wrapped value is a level. */
    ok = nested("{\"_ct\": \"rp\", \"tuples\": [", 62, "{\"a\": ", "1", "}", "]}");
    deep = nested("{\"_ct\": \"rp\", \"tuples\": [", 63, "{\"a\": ", "1", "}", "]}");
    assert_int_equal(dec(ok, false, NULL, NULL), 0);
    expect_fail(deep, false, VX_E_DEPTH, NULL);
    free(ok);
    free(deep);
    ok = nested("{\"_ct\": \"rp\", \"tuples\": [", 61, "[",
                "{\"_ft\": \"int\", \"_fd\": 1}", "]", "]}");
    deep = nested("{\"_ct\": \"rp\", \"tuples\": [", 62, "[",
                  "{\"_ft\": \"int\", \"_fd\": 1}", "]", "]}");
    assert_int_equal(dec(ok, false, NULL, NULL), 0);
    expect_fail(deep, false, VX_E_DEPTH, NULL);
    free(ok);
    free(deep);
    /* max_depth is an option. */
    vx_codec_opts o;
    opts_of(&o, false);
    o.max_depth = 3;
    vx_payload *p = NULL;
    const char *three = "{\"_ct\": \"rp\", \"tuples\": [[]]}";
    const char *four = "{\"_ct\": \"rp\", \"tuples\": [[{}]]}";
    assert_int_equal(vx_json_decode_payload(three, strlen(three), &o, &p, NULL), 0);
    vx_payload_decref(p);
    assert_int_equal(vx_json_decode_payload(four, strlen(four), &o, &p, NULL), VX_E_DEPTH);
}

static void test_C11_100000_levels_do_not_crash(void **state) {
    char *s = nested("{\"_ct\": \"rp\", \"tuples\": ", 100000, "[", "", "]", "}");
    expect_fail(s, false, VX_E_DEPTH, NULL);
    free(s);
    /* Unclosed, and as objects. */
    s = nested("{\"_ct\": \"rp\", \"tuples\": ", 100000, "[", "", "", "");
    expect_fail(s, false, VX_E_DEPTH, NULL);
    free(s);
    s = nested("{\"_ct\": \"rp\", \"filt\": ", 100000, "{\"a\":", "1", "}", "}");
    expect_fail(s, false, VX_E_DEPTH, NULL);
    free(s);
    /* With the limit raised, the iterative parser goes as deep as asked
     * without using the C stack (10 000 levels; freeing is the value
     * layer's business). */
    s = nested("", 10000, "[", "", "]", "");
    vx_value *v = NULL;
    assert_int_equal(vx_json_parse_plain(s, strlen(s), 10000, &v, NULL), 0);
    assert_int_equal(vx_typeof(v), VX_LIST);
    vx_decref(v);
    assert_int_equal(vx_json_parse_plain(s, strlen(s), 9999, &v, NULL), VX_E_DEPTH);
    free(s);
}

/* ---- C-12, C-13, C-14 ------------------------------------------------------ */

static void test_C12_structure_errors(void **state) {
    expect_fail("[]", false, VX_E_NOT_OBJECT, "array");
    expect_fail(" null ", false, VX_E_NOT_OBJECT, NULL);
    expect_fail("\"rp\"", false, VX_E_NOT_OBJECT, NULL);
    expect_fail("12", false, VX_E_NOT_OBJECT, NULL);
    expect_fail("[1,", false, VX_E_JSON, NULL); /* not JSON at all: a syntax error */
    expect_fail("{\"filt\": {}}", false, VX_E_CT_MISSING, NULL);
    expect_fail("{}", false, VX_E_CT_MISSING, NULL);
    /* A field error before the (absent) _ct does not hide CT_MISSING. */
    expect_fail("{\"filt\": \"x\", \"tuples\": 5}", false, VX_E_CT_MISSING, NULL);
    expect_fail("{\"_ct\": \"rt\", \"_c\": \"test.Person\"}", false, VX_E_CT_WRONG, "rt");
    expect_fail("{\"_ct\": \"xx\"}", false, VX_E_CT_WRONG, NULL);
    expect_fail("{\"_ct\": 5}", false, VX_E_CT_WRONG, NULL);
    expect_fail("{\"filt\": {}, \"_ct\": \"rt\"}", false, VX_E_CT_WRONG, NULL);
    /* _ct need not come first. */
    vx_payload *p;
    assert_int_equal(dec("{\"filt\": {\"key\": \"k\"}, \"_c\": \"x\", \"_ct\": \"rp\"}",
                         false, &p, NULL),
                     0);
    assert_string_equal(vx_str_value(vx_dict_get(vx_payload_filt(p), "key")), "k");
    vx_payload_decref(p);
}

static void test_C13_field_type_errors_name_the_field(void **state) {
    expect_fail("{\"_ct\": \"rp\", \"filt\": \"x\"}", false, VX_E_FIELD_TYPE,
                "field \"filt\" must be an object, got string");
    expect_fail("{\"_ct\": \"rp\", \"tuples\": {}}", false, VX_E_FIELD_TYPE, "\"tuples\"");
    expect_fail("{\"_ct\": \"rp\", \"replyFilt\": []}", false, VX_E_FIELD_TYPE,
                "\"replyFilt\"");
    expect_fail("{\"_ct\": \"rp\", \"filt\": {\"_ft\": \"int\", \"_fd\": 1}}", false,
                VX_E_FIELD_TYPE, "\"filt\"");
    expect_fail("{\"_ct\": \"rp\", \"date\": \"2017-01-12 14:24:42.123456\"}", false,
                VX_E_FIELD_TYPE, "\"date\"");
    expect_fail("{\"_ct\": \"rp\", \"date\": {\"_ft\": \"int\", \"_fd\": 1}}", false,
                VX_E_FIELD_TYPE, "\"date\"");
    /* A wrapped datetime with bad text is a bad value, not a wrong type. */
    expect_fail(
        "{\"_ct\": \"rp\", \"date\": {\"_ft\": \"datetime\", \"_fd\": \"yesterday\"}}",
        false, VX_E_BAD_VALUE, "yesterday");
    /* Same rules for a nested payload, and for one whose _ct comes late. */
    expect_fail("{\"_ct\": \"rp\", \"tuples\": [{\"_ct\": \"rp\", \"filt\": 3}]}", false,
                VX_E_FIELD_TYPE, "\"filt\"");
    expect_fail("{\"_ct\": \"rp\", \"tuples\": [{\"filt\": 3, \"_ct\": \"rp\"}]}", false,
                VX_E_FIELD_TYPE, "\"filt\"");
}

static void test_C14_defaults_and_unknown_keys_ignored(void **state) {
    vx_payload *p;
    vx_error err;
    assert_int_equal(
        dec("{\"_ct\": \"rp\", \"bogus\": 1, \"_zzz\": {\"_ft\": \"bogus\"}, \"filt\": "
            "{\"key\": \"k\"}, \"tuples\": [], \"extra\": {\"_ct\": \"xx\"}}",
            false, &p, &err),
        0);
    assert_int_equal(vx_dict_size(vx_payload_filt(p)), 1);
    assert_int_equal(vx_typeof(vx_payload_reply_filt(p)), VX_DICT);
    assert_int_equal(vx_dict_size(vx_payload_reply_filt(p)), 0);
    assert_int_equal(vx_typeof(vx_payload_result(p)), VX_NULL);
    assert_int_equal(vx_typeof(vx_payload_date(p)), VX_NULL);
    vx_payload_decref(p);
    /* vortexjs 0.4: no _c, no replyFilt, "date": null; nulls mean defaults. */
    assert_int_equal(
        dec("{\"_ct\": \"rp\", \"filt\": null, \"replyFilt\": null, \"tuples\": null, "
            "\"result\": true, \"date\": null}",
            false, &p, &err),
        0);
    assert_int_equal(vx_typeof(vx_payload_filt(p)), VX_DICT);
    assert_int_equal(vx_typeof(vx_payload_reply_filt(p)), VX_DICT);
    assert_int_equal(vx_typeof(vx_payload_tuples(p)), VX_LIST);
    assert_true(vx_bool_value(vx_payload_result(p)));
    assert_int_equal(vx_typeof(vx_payload_date(p)), VX_NULL);
    vx_payload_decref(p);
    assert_int_equal(dec("{\"_ct\": \"rp\"}", false, &p, &err), 0);
    assert_true(vx_payload_is_empty(p));
    vx_payload_decref(p);
}

/* ---- C-17, C-19, C-20: numbers and wrapped scalars ------------------------ */

static void test_C17_bare_numbers_int_or_float(void **state) {
    struct {
        const char *json;
        vx_type type;
        double value;
    } cases[] = {
        {"3", VX_INT, 3},
        {"-0", VX_INT, 0},
        {"2.5", VX_FLOAT, 2.5},
        {"1e3", VX_FLOAT, 1000},
        {"1E+3", VX_FLOAT, 1000},
        {"-2.0", VX_FLOAT, -2.0},
        {"9223372036854775807", VX_INT, 9223372036854775807.0},
        {"-9223372036854775808", VX_INT, -9223372036854775808.0},
        {"9223372036854775808", VX_FLOAT, 9223372036854775808.0}, /* beyond int64 */
        {"100000000000000000000", VX_FLOAT, 1e20},
        {"{\"_ft\": \"float\", \"_fd\": \"2.0\"}", VX_FLOAT, 2.0},
        {"{\"_ft\": \"float\", \"_fd\": 2}", VX_FLOAT, 2.0},
        {"{\"_ft\": \"float\", \"_fd\": \"-1e-3\"}", VX_FLOAT, -0.001},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vx_value *v = tuple0(cases[i].json);
        if (vx_typeof(v) != cases[i].type)
            fail_msg("%s decoded as %s", cases[i].json, vx_type_name(vx_typeof(v)));
        if (cases[i].type == VX_INT)
            assert_true((double)vx_int_value(v) == cases[i].value);
        else
            assert_true(vx_float_value(v) == cases[i].value);
        vx_decref(v);
    }
    vx_error err;
    assert_int_equal(item_rc("{\"_ft\": \"float\", \"_fd\": \"abc\"}", &err),
                     VX_E_BAD_VALUE);
    assert_int_equal(item_rc("{\"_ft\": \"float\", \"_fd\": \"nan\"}", &err),
                     VX_E_BAD_VALUE);
    assert_int_equal(item_rc("{\"_ft\": \"float\", \"_fd\": \"1e999\"}", &err),
                     VX_E_BAD_VALUE);
    assert_int_equal(item_rc("{\"_ft\": \"float\", \"_fd\": true}", &err), VX_E_BAD_VALUE);
}

/* Doubles are correctly rounded whatever the process locale. */
static void test_floats_correctly_rounded_and_locale_independent(void **state) {
    const char *lits[] = {
        "0.14285714285714285",
        "0.1",
        "3.141592653589793",
        "1.7976931348623157e+308",
        "5e-324",
        "2.2250738585072014e-308",
        "2.225073858507201e-308",
        "1e23",
        "8.98846567431158e307",
        "9007199254740993.0",
        "123456789012345678901.5",
        "0.30000000000000004",
        "1.00000000000000011102230246251565404236316680908203125",
        "4.9406564584124654e-324",
        "123456789.125",
        "1e-7",
        "-0.0",
        "7.0e-10",
        "1.2345678901234567e-20",
        "12345678901234567890e-5",
        "0.000001234567890123456789",
    };
    static const char *const locales[] = {"de_DE.UTF-8", "fr_FR.UTF-8", "C.UTF-8", NULL};
    for (int round = 0; round < 2; round++) {
        if (round == 1) { /* a ',' decimal point must change nothing */
            for (size_t i = 0; locales[i]; i++)
                if (setlocale(LC_ALL, locales[i])) break;
        }
        for (size_t i = 0; i < sizeof lits / sizeof lits[0]; i++) {
            vx_value *v = val(lits[i]);
            assert_int_equal(vx_typeof(v), VX_FLOAT);
            /* strtod in the "C" locale is the reference. */
            locale_t c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
            double want = strtod_l(lits[i], NULL, c);
            freelocale(c);
            if (memcmp(&want, &(double){vx_float_value(v)}, sizeof want) != 0)
                fail_msg("%s: got %.17g want %.17g", lits[i], vx_float_value(v), want);
            vx_decref(v);
        }
    }
    setlocale(LC_ALL, "C");
    vx_value *v = val("1e-400"); /* underflow is zero, not an error */
    assert_true(vx_float_value(v) == 0.0);
    vx_decref(v);
}

static void test_C19_wrapped_int_rules(void **state) {
    struct {
        const char *fd;
        int64_t want;
    } ok[] = {
        {"5", 5},
        {"\"5\"", 5},
        {"\"+5\"", 5},
        {"\"-12\"", -12},
        {"5.0", 5},
        {"5e0", 5},
        {"50e-1", 5},
        {"0.5e1", 5},
        {"-0.0", 0},
        {"0e999999999999", 0},
        {"9223372036854775807", INT64_MAX},
        {"-9223372036854775808", INT64_MIN},
        {"\"-9223372036854775808\"", INT64_MIN},
        {"9.223372036854775807e18", INT64_MAX},
        {"1000000000000000000", 1000000000000000000LL},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char item[128];
        snprintf(item, sizeof item, "{\"_ft\": \"int\", \"_fd\": %s}", ok[i].fd);
        vx_value *v = tuple0(item);
        if (vx_typeof(v) != VX_INT || vx_int_value(v) != ok[i].want)
            fail_msg("%s -> %s %lld", item, vx_type_name(vx_typeof(v)),
                     (long long)vx_int_value(v));
        vx_decref(v);
    }
    struct {
        const char *fd;
        int code;
    } bad[] = {
        {"5.7", VX_E_BAD_VALUE},
        {"5.0000000000000001", VX_E_BAD_VALUE}, /* a double would say 5.0 */
        {"\"5.0\"", VX_E_BAD_VALUE},
        {"\"abc\"", VX_E_BAD_VALUE},
        {"\"\"", VX_E_BAD_VALUE},
        {"\"-\"", VX_E_BAD_VALUE},
        {"\" 5\"", VX_E_BAD_VALUE},
        {"\"12345678901234567890\"", VX_E_BAD_VALUE}, /* 20 digits */
        {"true", VX_E_BAD_VALUE},
        {"null", VX_E_BAD_VALUE},
        {"[5]", VX_E_BAD_VALUE},
        {"9223372036854775808", VX_E_INT_RANGE}, /* 2^63 */
        {"-9223372036854775809", VX_E_INT_RANGE},
        {"18446744073709551621", VX_E_INT_RANGE},
        {"100000000000000000000", VX_E_INT_RANGE},
        {"1e19", VX_E_INT_RANGE},
        {"1e999999999999", VX_E_INT_RANGE},
        {"\"9223372036854775808\"", VX_E_INT_RANGE},
        {"\"9999999999999999999\"", VX_E_INT_RANGE},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char item[128];
        snprintf(item, sizeof item, "{\"_ft\": \"int\", \"_fd\": %s}", bad[i].fd);
        expect_item_fail(item, bad[i].code, "\"int\"");
    }
    /* The same when _fd comes before _ft (the dict is converted at close). */
    vx_value *v = tuple0("{\"_fd\": 18, \"x\": 1, \"_ft\": \"int\"}");
    assert_int_equal(vx_int_value(v), 18);
    vx_decref(v);
    expect_item_fail("{\"_fd\": 18446744073709551621, \"_ft\": \"int\"}", VX_E_INT_RANGE,
                     NULL);
    expect_item_fail("{\"_fd\": 5.5, \"_ft\": \"int\"}", VX_E_BAD_VALUE, NULL);
}

static void test_C20_wrapped_bool(void **state) {
    vx_value *v = tuple0("{\"_ft\": \"bool\", \"_fd\": \"1\"}");
    assert_int_equal(vx_typeof(v), VX_BOOL);
    assert_true(vx_bool_value(v));
    vx_decref(v);
    v = tuple0("{\"_ft\": \"bool\", \"_fd\": \"0\"}");
    assert_int_equal(vx_typeof(v), VX_BOOL);
    assert_false(vx_bool_value(v));
    vx_decref(v);
    v = tuple0("{\"_ft\": \"bool\", \"_fd\": true}");
    assert_true(vx_bool_value(v));
    vx_decref(v);
    v = tuple0("{\"_ft\": \"bool\", \"_fd\": false}");
    assert_int_equal(vx_typeof(v), VX_BOOL);
    assert_false(vx_bool_value(v));
    vx_decref(v);
    expect_item_fail("{\"_ft\": \"bool\", \"_fd\": \"yes\"}", VX_E_BAD_VALUE, "bool");
    expect_item_fail("{\"_ft\": \"bool\", \"_fd\": \"true\"}", VX_E_BAD_VALUE, NULL);
    expect_item_fail("{\"_ft\": \"bool\", \"_fd\": 1}", VX_E_BAD_VALUE, NULL);
}

static void test_other_wrapped_types(void **state) {
    vx_value *v = tuple0("{\"_ft\": \"str\", \"_fd\": \"x\\u00e9\"}");
    assert_string_equal(vx_str_value(v), "x\xc3\xa9");
    vx_decref(v);
    expect_item_fail("{\"_ft\": \"str\", \"_fd\": 5}", VX_E_BAD_VALUE, "\"str\"");
    v = tuple0("{\"_ft\": \"null\", \"_fd\": \"whatever\"}");
    assert_int_equal(vx_typeof(v), VX_NULL);
    vx_decref(v);
    v = tuple0("{\"_ft\": \"list\", \"_fd\": [{\"_ft\": \"int\", \"_fd\": 1}, \"a\"]}");
    assert_int_equal(vx_typeof(v), VX_LIST);
    assert_int_equal(vx_typeof(vx_list_get(v, 0)), VX_INT);
    vx_decref(v);
    v = tuple0(
        "{\"_ft\": \"dict\", \"_fd\": {\"a\": {\"_ft\": \"int\", \"_fd\": 2}}, \"x\": 9}");
    assert_int_equal(vx_typeof(v), VX_DICT);
    assert_int_equal(vx_int_value(vx_dict_get(v, "a")), 2);
    assert_int_equal(vx_dict_size(v), 1);
    vx_decref(v);
    expect_item_fail("{\"_ft\": \"list\", \"_fd\": {}}", VX_E_BAD_VALUE, NULL);
    expect_item_fail("{\"_ft\": \"dict\", \"_fd\": []}", VX_E_BAD_VALUE, NULL);
    expect_item_fail("{\"_ft\": \"dict\", \"_fd\": 3}", VX_E_BAD_VALUE, NULL);
    /* Missing _fd. */
    expect_item_fail("{\"_ft\": \"int\"}", VX_E_BAD_VALUE, "_fd");
    expect_item_fail("{\"_ft\": \"str\", \"fd\": \"x\"}", VX_E_BAD_VALUE, "_fd");
    expect_item_fail("{\"x\": 1, \"_ft\": \"int\"}", VX_E_BAD_VALUE, "_fd");
    /* Bytes and wkb: base64 without whitespace. */
    v = tuple0("{\"_ft\": \"bytes\", \"_fd\": \"AQID/w==\"}");
    assert_int_equal(vx_typeof(v), VX_BYTES);
    assert_int_equal(vx_bytes_len(v), 4);
    assert_memory_equal(vx_bytes_data(v), "\x01\x02\x03\xff", 4);
    vx_decref(v);
    v = tuple0("{\"_ft\": \"bytes\", \"_fd\": \"\"}");
    assert_int_equal(vx_bytes_len(v), 0);
    vx_decref(v);
    expect_item_fail("{\"_ft\": \"bytes\", \"_fd\": \"AQI\"}", VX_E_BAD_VALUE, "base64");
    expect_item_fail("{\"_ft\": \"bytes\", \"_fd\": \"AQ ID\"}", VX_E_BAD_VALUE, "base64");
    expect_item_fail("{\"_ft\": \"bytes\", \"_fd\": \"AQ!D\"}", VX_E_BAD_VALUE, "base64");
    expect_item_fail("{\"_ft\": \"bytes\", \"_fd\": 12}", VX_E_BAD_VALUE, NULL);
    v = tuple0("{\"_ft\": \"wkb\", \"_fd\": \"AQID\"}");
    assert_int_equal(vx_typeof(v), VX_WKB);
    size_t n;
    assert_string_equal(vx_wkb_b64(v, &n), "AQID");
    assert_memory_equal(vx_bytes_data(v), "\x01\x02\x03", 3);
    vx_decref(v);
    expect_item_fail("{\"_ft\": \"wkb\", \"_fd\": \"A\"}", VX_E_BAD_VALUE, NULL);
}

/* ---- C-23, C-24: datetimes through wrapped JSON ---------------------------- */

static int64_t dt_of(const char *text) {
    char item[160];
    snprintf(item, sizeof item, "{\"_ft\": \"datetime\", \"_fd\": \"%s\"}", text);
    vx_value *v = tuple0(item);
    assert_int_equal(vx_typeof(v), VX_DATETIME);
    int64_t us = vx_datetime_value(v);
    vx_decref(v);
    return us;
}

static void test_C23_datetime_forms(void **state) {
    int64_t base;
    assert_int_equal(vx_datetime_from_parts(2017, 1, 12, 14, 24, 42, 0, &base), 0);
    assert_true(dt_of("2017-01-12 14:24:42") == base);
    assert_true(dt_of("2017-01-12 14:24:42.123") == base + 123000);
    assert_true(dt_of("2017-01-12 14:24:42.123456") == base + 123456);
    assert_true(dt_of("2017-01-12T14:24:42.123456") == base + 123456);
    assert_true(dt_of("2017-01-12 14:24:42.123456Z") == base + 123456);
    assert_true(dt_of("2017-01-12T14:24:42Z") == base);
    expect_item_fail("{\"_ft\": \"datetime\", \"_fd\": \"2017-01-12 14:24:42.1234567\"}",
                     VX_E_BAD_VALUE, "datetime");
    expect_item_fail("{\"_ft\": \"datetime\", \"_fd\": \"2017-13-12 14:24:42.123456\"}",
                     VX_E_BAD_VALUE, NULL);
    expect_item_fail("{\"_ft\": \"datetime\", \"_fd\": \"2017-01-12 24:00:00.000000\"}",
                     VX_E_BAD_VALUE, NULL);
    expect_item_fail("{\"_ft\": \"datetime\", \"_fd\": \"0000-01-01 00:00:00.000000\"}",
                     VX_E_BAD_VALUE, NULL);
    expect_item_fail("{\"_ft\": \"datetime\", \"_fd\": 12345}", VX_E_BAD_VALUE, "datetime");
    /* Inside a registered tuple field, the message names the field. */
    expect_item_fail("{\"_ct\": \"rt\", \"_c\": \"test.Person\", \"born\": {\"_ft\": "
                     "\"datetime\", \"_fd\": \"x\"}}",
                     VX_E_BAD_VALUE, "born");
}

static void test_C24_zone_offsets_convert_to_utc(void **state) {
    int64_t want;
    assert_int_equal(vx_datetime_from_parts(2024, 1, 1, 8, 0, 0, 0, &want), 0);
    assert_true(dt_of("2024-01-01 10:00:00+02:00") == want);
    assert_true(dt_of("2024-01-01 10:00:00.000000+0200") == want);
    assert_true(dt_of("2024-01-01 06:00:00.000000-0200") == want);
    vx_payload *p;
    assert_int_equal(dec("{\"_ct\": \"rp\", \"date\": {\"_ft\": \"datetime\", \"_fd\": "
                         "\"2024-01-01 10:00:00+02:00\"}}",
                         false, &p, NULL),
                     0);
    assert_true(vx_datetime_value(vx_payload_date(p)) == want);
    vx_payload_decref(p);
}

/* ---- C-25, C-27 -------------------------------------------------------------- */

static void test_C25_unknown_and_unsupported_types(void **state) {
    expect_item_fail("{\"_ft\": \"bogus\", \"_fd\": 1}", VX_E_UNKNOWN_FT, "bogus");
    expect_item_fail("{\"_fd\": 1, \"_ft\": \"bogus\"}", VX_E_UNKNOWN_FT, "bogus");
    expect_item_fail("{\"_ft\": 5, \"_fd\": 1}", VX_E_UNKNOWN_FT, NULL);
    /* Echoed input stays on one line (expect_fail checks for '\n'). */
    expect_item_fail("{\"_ft\": \"a\\nb\", \"_fd\": 1}", VX_E_UNKNOWN_FT, "a\\x0ab");
    expect_fail("{\"_ct\": \"rp\", \"filt\": {\"\\n\": 1, \"\\n\": 2}}", true, VX_E_JSON,
                "\\x0a");
    expect_item_fail("{\"_ct\": \"zz\", \"_c\": \"x\"}", VX_E_UNKNOWN_CT, "zz");
    expect_item_fail("{\"_c\": \"x\", \"_ct\": \"zz\"}", VX_E_UNKNOWN_CT, "zz");
    expect_item_fail("{\"_ct\": null}", VX_E_UNKNOWN_CT, NULL);
    expect_item_fail("{\"_ft\": \"geom\", \"_fd\": \"x\"}", VX_E_UNSUPPORTED, "geom");
    expect_item_fail("{\"_fd\": \"x\", \"_ft\": \"geom\"}", VX_E_UNSUPPORTED, "geom");
    expect_item_fail("{\"_ct\": \"gen\", \"_c\": \"x\"}", VX_E_UNSUPPORTED, "gen");
    expect_item_fail("{\"_c\": \"x\", \"_ct\": \"gen\"}", VX_E_UNSUPPORTED, "gen");
    /* _ct wins over _ft. */
    vx_value *v =
        tuple0("{\"_ft\": \"int\", \"_fd\": 1, \"_ct\": \"rt\", \"_c\": \"test.Address\"}");
    assert_int_equal(vx_typeof(v), VX_TUPLE);
    vx_decref(v);
}

static void test_C27_received_dict_with_ft_decodes_typed(void **state) {
    vx_payload *p;
    vx_error err;
    assert_int_equal(
        dec("{\"_ct\": \"rp\", \"filt\": {\"key\": \"k\", \"a\": {\"_ft\": \"int\", "
            "\"_fd\": 7}, \"b\": {\"x\": 1, \"_fd\": \"2\", \"_ft\": \"float\"}, "
            "\"c\": {\"_ct\": \"rt\", \"_c\": \"test.Address\"}}}",
            false, &p, &err),
        0);
    vx_value *f = vx_payload_filt(p);
    assert_int_equal(vx_typeof(vx_dict_get(f, "a")), VX_INT);
    assert_int_equal(vx_int_value(vx_dict_get(f, "a")), 7);
    assert_int_equal(vx_typeof(vx_dict_get(f, "b")), VX_FLOAT);
    assert_true(vx_float_value(vx_dict_get(f, "b")) == 2.0);
    assert_string_equal(vx_tuple_name(vx_dict_get(f, "c")), "test.Address");
    vx_payload_decref(p);
}

/* ---- C-29, C-31, C-32: tuples ---------------------------------------------- */

static void test_C29_registered_tuple_defaults_and_unknown_fields(void **state) {
    vx_value *t =
        tuple0("{\"_ct\": \"rt\", \"_c\": \"test.Person\", \"nonsense\": 5, \"age\": "
               "{\"_ft\": \"int\", \"_fd\": 41}, \"_private\": {\"_ft\": \"bogus\"}}");
    assert_string_equal(vx_tuple_name(t), "test.Person");
    assert_non_null(vx_tuple_type_of(t));
    assert_int_equal(vx_int_value(vx_tuple_get(t, "age")), 41);
    assert_string_equal(vx_str_value(vx_tuple_get(t, "name")), "anon");
    assert_true(vx_bool_value(vx_tuple_get(t, "active")));
    assert_int_equal(vx_typeof(vx_tuple_get(t, "tags")), VX_LIST);
    assert_int_equal(vx_typeof(vx_tuple_get(t, "email")), VX_NULL);
    assert_null(vx_tuple_get(t, "nonsense"));
    vx_decref(t);
    /* Fields in any order, and _c after other keys. */
    t = tuple0(
        "{\"score\": 1.5, \"_ct\": \"rt\", \"name\": \"B\", \"_c\": \"test.Person\"}");
    assert_string_equal(vx_str_value(vx_tuple_get(t, "name")), "B");
    assert_true(vx_float_value(vx_tuple_get(t, "score")) == 1.5);
    vx_decref(t);
    t = tuple0("{\"_ct\": \"rt\", \"_c\": \"test.Person\", \"tags\": [1], \"name\": \"C\", "
               "\"active\": false}");
    assert_string_equal(vx_str_value(vx_tuple_get(t, "name")), "C");
    assert_false(vx_bool_value(vx_tuple_get(t, "active")));
    assert_int_equal(vx_list_size(vx_tuple_get(t, "tags")), 1);
    vx_decref(t);
    /* Strict mode: an unknown field names type and key. */
    expect_fail("{\"_ct\": \"rp\", \"tuples\": [{\"_ct\": \"rt\", \"_c\": \"test.Person\", "
                "\"nonsense\": 5}]}",
                true, VX_E_TUPLE_FIELD, "test.Person");
    expect_fail("{\"_ct\": \"rp\", \"tuples\": [{\"_ct\": \"rt\", \"_c\": \"test.Person\", "
                "\"nonsense\": 5}]}",
                true, VX_E_TUPLE_FIELD, "nonsense");
    expect_fail("{\"_ct\": \"rp\", \"tuples\": [{\"nonsense\": 5, \"_ct\": \"rt\", \"_c\": "
                "\"test.Person\"}]}",
                true, VX_E_TUPLE_FIELD, "nonsense");
    /* Strict mode still skips '_' keys. */
    assert_int_equal(dec("{\"_ct\": \"rp\", \"tuples\": [{\"_ct\": \"rt\", \"_c\": "
                         "\"test.Person\", \"_x\": 1}]}",
                         true, NULL, NULL),
                     0);
}

static void test_C30_unregistered_tuple_decodes_untyped(void **state) {
    vx_value *t =
        tuple0("{\"_ct\": \"rt\", \"_c\": \"demo.Thing\", \"b\": [1, 2.5], \"a\": "
               "{\"_ft\": \"int\", \"_fd\": 1}, \"_skip\": 3}");
    assert_string_equal(vx_tuple_name(t), "demo.Thing");
    assert_null(vx_tuple_type_of(t));
    assert_int_equal(vx_tuple_field_count(t), 2);
    assert_int_equal(vx_int_value(vx_tuple_get(t, "a")), 1);
    assert_int_equal(vx_list_size(vx_tuple_get(t, "b")), 2);
    assert_null(vx_tuple_get(t, "_skip"));
    vx_decref(t);
    t = tuple0("{\"x\": \"y\", \"_c\": \"demo.Thing\", \"_ct\": \"rt\"}");
    assert_string_equal(vx_tuple_name(t), "demo.Thing");
    assert_string_equal(vx_str_value(vx_tuple_get(t, "x")), "y");
    vx_decref(t);
}

static void test_C31_strict_unknown_tuple_names_type(void **state) {
    expect_fail(
        "{\"_ct\": \"rp\", \"tuples\": [{\"_ct\": \"rt\", \"_c\": \"no.such.Tuple\", "
        "\"x\": 1}]}",
        true, VX_E_UNKNOWN_TUPLE, "unknown tuple type \"no.such.Tuple\"");
    expect_fail("{\"_ct\": \"rp\", \"tuples\": [{\"x\": 1, \"_ct\": \"rt\", \"_c\": "
                "\"no.such.Tuple\"}]}",
                true, VX_E_UNKNOWN_TUPLE, "unknown tuple type \"no.such.Tuple\"");
}

static void test_C32_rt_without_c_fails(void **state) {
    expect_item_fail("{\"_ct\": \"rt\"}", VX_E_TUPLE_NO_TYPE, NULL);
    expect_item_fail("{\"_ct\": \"rt\", \"x\": 1}", VX_E_TUPLE_NO_TYPE, NULL);
    expect_item_fail("{\"x\": 1, \"_ct\": \"rt\"}", VX_E_TUPLE_NO_TYPE, NULL);
    expect_item_fail("{\"_ct\": \"rt\", \"_c\": 5}", VX_E_TUPLE_NO_TYPE, NULL);
    expect_item_fail("{\"_ct\": \"rt\", \"_c\": \"\"}", VX_E_TUPLE_NO_TYPE, NULL);
    expect_item_fail("{\"_ct\": \"rt\", \"_c\": null, \"x\": 1}", VX_E_TUPLE_NO_TYPE, NULL);
}

static void test_C33_nested_payload_decodes(void **state) {
    vx_value *v =
        tuple0("{\"_ct\": \"rp\", \"_c\": \"vortex.Payload.Payload\", \"filt\": "
               "{\"key\": \"inner\"}, \"tuples\": [1], \"result\": \"r\", \"date\": "
               "null}");
    vx_payload *in = vx_value_as_payload(v);
    assert_non_null(in);
    assert_string_equal(vx_str_value(vx_dict_get(vx_payload_filt(in), "key")), "inner");
    assert_int_equal(vx_list_size(vx_payload_tuples(in)), 1);
    assert_string_equal(vx_str_value(vx_payload_result(in)), "r");
    vx_decref(v);
}

/* ---- strict duplicates, plain parse, decode_value ------------------------------ */

static void test_duplicate_keys_last_wins_strict_fails(void **state) {
    vx_payload *p;
    assert_int_equal(dec("{\"_ct\": \"rp\", \"filt\": {\"key\": \"a\", \"key\": \"b\"}}",
                         false, &p, NULL),
                     0);
    assert_string_equal(vx_str_value(vx_dict_get(vx_payload_filt(p), "key")), "b");
    vx_payload_decref(p);
    assert_int_equal(
        dec("{\"_ct\": \"rp\", \"result\": 1, \"result\": 2}", false, &p, NULL), 0);
    assert_int_equal(vx_int_value(vx_payload_result(p)), 2);
    vx_payload_decref(p);
    vx_value *t =
        tuple0("{\"_ct\": \"rt\", \"_c\": \"test.Person\", \"name\": \"a\", \"name\": "
               "\"b\"}");
    assert_string_equal(vx_str_value(vx_tuple_get(t, "name")), "b");
    vx_decref(t);

    expect_fail("{\"_ct\": \"rp\", \"filt\": {\"key\": \"a\", \"key\": \"b\"}}", true,
                VX_E_JSON, "duplicate key \"key\"");
    expect_fail("{\"_ct\": \"rp\", \"filt\": {\"k\\u0065y\": \"a\", \"key\": \"b\"}}", true,
                VX_E_JSON, "duplicate");
    expect_fail("{\"_ct\": \"rp\", \"result\": 1, \"result\": 2}", true, VX_E_JSON,
                "result");
    expect_fail("{\"_ct\": \"rp\", \"_ct\": \"rp\"}", true, VX_E_JSON, "_ct");
    expect_fail("{\"_ct\": \"rp\", \"x\": 1, \"x\": 1}", true, VX_E_JSON, NULL);
    expect_fail("{\"_ct\": \"rp\", \"tuples\": [{\"_ct\": \"rt\", \"_c\": \"test.Person\", "
                "\"name\": \"a\", \"name\": \"b\"}]}",
                true, VX_E_JSON, "name");
    expect_fail(
        "{\"_ct\": \"rp\", \"tuples\": [{\"_ft\": \"int\", \"_fd\": 1, \"_fd\": 2}]}", true,
        VX_E_JSON, "_fd");
    expect_fail(
        "{\"_ct\": \"rp\", \"tuples\": [{\"_fd\": 1, \"_ft\": \"int\", \"_fd\": 2}]}", true,
        VX_E_JSON, "_fd");
    /* Distinct keys are fine in strict mode. */
    assert_int_equal(
        dec("{\"_ct\": \"rp\", \"filt\": {\"a\": 1, \"b\": {\"a\": 2}}, \"tuples\": "
            "[{\"_ct\": \"rt\", \"_c\": \"test.Person\", \"name\": \"x\", \"age\": "
            "{\"_ft\": \"int\", \"_fd\": 1}}]}",
            true, NULL, NULL),
        0);
}

static void test_plain_parse_keeps_objects_as_dicts(void **state) {
    const char *j =
        "{\"_ct\": \"rt\", \"_c\": \"no.Type\", \"w\": {\"_ft\": \"geom\", \"_fd\": 5}, "
        "\"n\": [1, 2.5, -3e2, true, null, \"s\"], \"_ft\": \"bogus\"}";
    vx_value *v = NULL;
    vx_error err;
    assert_int_equal(vx_json_parse_plain(j, strlen(j), 0, &v, &err), 0);
    assert_int_equal(vx_typeof(v), VX_DICT);
    assert_string_equal(vx_str_value(vx_dict_get(v, "_ct")), "rt");
    vx_value *w = vx_dict_get(v, "w");
    assert_int_equal(vx_typeof(w), VX_DICT);
    assert_int_equal(vx_int_value(vx_dict_get(w, "_fd")), 5);
    vx_value *n = vx_dict_get(v, "n");
    assert_int_equal(vx_typeof(vx_list_get(n, 0)), VX_INT);
    assert_int_equal(vx_typeof(vx_list_get(n, 1)), VX_FLOAT);
    assert_int_equal(vx_typeof(vx_list_get(n, 2)), VX_FLOAT);
    assert_int_equal(vx_typeof(vx_list_get(n, 3)), VX_BOOL);
    assert_int_equal(vx_typeof(vx_list_get(n, 4)), VX_NULL);
    assert_int_equal(vx_typeof(vx_list_get(n, 5)), VX_STR);
    vx_decref(v);
    /* Scalars at top level, and the same syntax rules. */
    assert_int_equal(vx_json_parse_plain(" 42 ", 4, 0, &v, NULL), 0);
    assert_int_equal(vx_int_value(v), 42);
    vx_decref(v);
    assert_int_equal(vx_json_parse_plain("[1, NaN]", 8, 0, &v, &err), VX_E_JSON);
    assert_null(v);
    assert_int_equal(vx_json_parse_plain("{\"a\": 1} x", 10, 0, &v, &err), VX_E_JSON);
    assert_int_equal(vx_json_parse_plain("\"\xff\"", 3, 0, &v, &err), VX_E_UTF8);
}

static void test_decode_value_top_level_forms(void **state) {
    vx_value *v = val("[1, {\"_ft\": \"int\", \"_fd\": \"2\"}, {\"a\": []}]");
    assert_int_equal(vx_list_size(v), 3);
    assert_int_equal(vx_int_value(vx_list_get(v, 1)), 2);
    vx_decref(v);
    v = val("{\"_ft\": \"datetime\", \"_fd\": \"2017-01-12 14:24:42.123456\"}");
    assert_int_equal(vx_typeof(v), VX_DATETIME);
    vx_decref(v);
    v = val("{\"_ct\": \"rp\"}");
    assert_int_equal(vx_typeof(v), VX_PAYLOAD);
    vx_decref(v);
    v = val("{}");
    assert_int_equal(vx_typeof(v), VX_DICT);
    vx_decref(v);
    vx_error err;
    assert_int_equal(val_rc("{\"_ft\": \"geom\", \"_fd\": 1}", &err), VX_E_UNSUPPORTED);
    assert_int_equal(val_rc("[1] [2]", &err), VX_E_JSON);
}

/* ---- the reference vectors -------------------------------------------------- */

/* Every vortexpy 0.3.1 payload decodes; those vortexpy wrote with values
 * VortexC refuses fail with the documented code; test.Person and
 * test.BenchRow come back typed with their values. */
static void test_C04_reference_vectors_decode(void **state) {
    vx_value *vecs;
    vx_error err;
    if (vxt_load_vectors("vortexpy-0.3.1.jsonl", &vecs, &err)) fail_msg("%s", err.message);
    assert_true(vx_list_size(vecs) >= 40);
    for (size_t i = 0; i < vx_list_size(vecs); i++) {
        vx_value *r = vx_list_get(vecs, i);
        const char *name = vxt_get_str(r, "name", NULL);
        size_t jl;
        const char *js = vxt_get_str(r, "json", &jl);
        vx_codec_opts o;
        opts_of(&o, false);
        vx_payload *p = NULL;
        int rc = vx_json_decode_payload(js, jl, &o, &p, &err);
        int want = 0;
        if (!strcmp(name, "tuples_ints") || !strcmp(name, "tuples_mixed_everything"))
            want = VX_E_INT_RANGE; /* hold 10^20 as a wrapped int */
        if (!strcmp(name, "tuples_nan_inf")) want = VX_E_JSON;
        if (rc != want)
            fail_msg("%s: %s (%s), want %s", name, vx_error_name(rc), rc ? err.message : "",
                     vx_error_name(want));
        if (!rc) {
            vx_value *t0 = vx_list_get(vx_payload_tuples(p), 0);
            if (!strcmp(name, "tuple_person_populated")) {
                assert_string_equal(vx_tuple_name(t0), "test.Person");
                assert_non_null(vx_tuple_type_of(t0));
            }
            if (!strcmp(name, "tuples_1000_benchrow")) {
                assert_int_equal(vx_list_size(vx_payload_tuples(p)), 1000);
                vx_value *last = vx_list_get(vx_payload_tuples(p), 999);
                assert_non_null(vx_tuple_type_of(last));
                assert_int_equal(vx_int_value(vx_tuple_get(last, "id")), 999);
                assert_int_equal(vx_typeof(vx_tuple_get(last, "created")), VX_DATETIME);
                assert_int_equal(vx_typeof(vx_tuple_get(last, "ratio")), VX_FLOAT);
            }
            if (!strstr(name, "utcnow") && !strstr(name, "zero_micro")) {
                char d[27];
                vx_datetime_format(vx_datetime_value(vx_payload_date(p)), d);
                assert_string_equal(d, "2017-01-12 14:24:42.123456");
            }
        }
        vx_payload_decref(p);
    }
    vx_decref(vecs);
}

/* A relay keeps every non-underscore key of a tuple it does not know, even
 * "" and keys holding U+0000, in any key order; an empty _c names no type.
 * (Found by fuzz/json_decode.) */
static void test_C30_untyped_tuple_keeps_every_key(void **state) {
    static const struct {
        const char *json, *reencoded;
    } cases[] = {
        {"{\"_ct\":\"rt\",\"_c\":\"x\",\"\": 1}",
         "{\"_ct\": \"rt\", \"_c\": \"x\", \"\": {\"_ft\": \"int\", \"_fd\": 1}}"},
        {"{\"_ct\":\"rt\",\"_c\":\"x\",\"a\\u0000b\":1}",
         "{\"_ct\": \"rt\", \"_c\": \"x\", \"a\\u0000b\": {\"_ft\": \"int\", \"_fd\": 1}}"},
        {"{\"_ct\":\"rt\",\"_c\":\"x\\u0000y\",\"a\":1}",
         "{\"_ct\": \"rt\", \"_c\": \"x\\u0000y\", \"a\": {\"_ft\": \"int\", \"_fd\": 1}}"},
        {"{\"a\":1,\"_c\":\"x\",\"\":2,\"_ct\":\"rt\"}",
         "{\"_ct\": \"rt\", \"_c\": \"x\", \"\": {\"_ft\": \"int\", \"_fd\": 2}, \"a\": "
         "{\"_ft\": \"int\", \"_fd\": 1}}"},
    };
    vx_codec_opts o;
    vx_codec_opts_init(&o);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vx_value *v = NULL;
        vx_error e;
        int rc = vx_json_decode_value(cases[i].json, strlen(cases[i].json), &o, &v, &e);
        if (rc) fail_msg("%s: %s", cases[i].json, e.message);
        vx_buf b = {0};
        assert_int_equal(vx_json_encode_value(v, &o, &b, &e), 0);
        assert_int_equal(b.len, strlen(cases[i].reencoded));
        assert_memory_equal(b.data, cases[i].reencoded, b.len);
        vx_buf_free(&b);
        vx_decref(v);
    }
    const char *empty = "[{\"_ct\":\"rt\",\"_c\":\"\",\"a\":1}]";
    vx_value *v = NULL;
    assert_int_equal(vx_json_decode_value(empty, strlen(empty), &o, &v, NULL),
                     VX_E_TUPLE_NO_TYPE);
    const char *late = "{\"a\":1,\"_c\":\"\",\"_ct\":\"rt\"}";
    assert_int_equal(vx_json_decode_value(late, strlen(late), &o, &v, NULL),
                     VX_E_TUPLE_NO_TYPE);
}

/* The decoder has a fast path for tuple rows written the way vortexpy and
 * VortexC write them (fields sorted, ", " separators, ints and datetimes
 * wrapped). Every other spelling of the same row must decode to the same
 * tuple through the general path. */
static void test_C29_tuple_rows_in_any_spelling_decode_alike(void **state) {
    vx_registry *reg = vxt_test_registry_new();
    vx_codec_opts o;
    vxt_opts(&o, reg, VX_DEFAULT_ZLIB_LEVEL, false);
    const vx_tuple_type *t = vx_registry_find(reg, "test.BenchRow");
    vx_value *want = vx_tuple_new(t);
    int64_t created;
    vx_datetime_from_parts(2017, 1, 12, 14, 24, 42, 123456, &created);
    vx_tuple_set_new(want, "id", vx_int(7));
    vx_tuple_set_new(want, "name", vx_str("row-7"));
    vx_tuple_set_new(want, "code", vx_str("C7"));
    vx_tuple_set_new(want, "qty", vx_int(-3000000000LL));
    vx_tuple_set_new(want, "price", vx_float(1.75));
    vx_tuple_set_new(want, "ratio", vx_float(0.14285714285714285));
    vx_tuple_set_new(want, "created", vx_datetime(created));
    vx_tuple_set_new(want, "active", vx_bool(true));
    static const char *const rows[] = {
        /* canonical */
        "{\"_ct\": \"rt\", \"_c\": \"test.BenchRow\", \"active\": true, \"code\": \"C7\", "
        "\"created\": {\"_ft\": \"datetime\", \"_fd\": \"2017-01-12 14:24:42.123456\"}, "
        "\"deleted\": false, \"id\": {\"_ft\": \"int\", \"_fd\": 7}, \"name\": \"row-7\", "
        "\"price\": 1.75, \"qty\": {\"_ft\": \"int\", \"_fd\": -3000000000}, \"ratio\": "
        "0.14285714285714285, \"updated\": null}",
        /* compact separators */
        "{\"_ct\":\"rt\",\"_c\":\"test.BenchRow\",\"active\":true,\"code\":\"C7\","
        "\"created\":{\"_ft\":\"datetime\",\"_fd\":\"2017-01-12 14:24:42.123456\"},"
        "\"deleted\":false,\"id\":{\"_ft\":\"int\",\"_fd\":7},\"name\":\"row-7\","
        "\"price\":1.75,\"qty\":{\"_ft\":\"int\",\"_fd\":-3000000000},\"ratio\":"
        "0.14285714285714285,\"updated\":null}",
        /* reversed field order, _c before _ct, missing fields left to defaults */
        "{\"ratio\": 0.14285714285714285, \"qty\": {\"_fd\": -3000000000, \"_ft\": "
        "\"int\"}, "
        "\"price\": 1.75, \"name\": \"row-7\", \"id\": 7, \"created\": {\"_ft\": "
        "\"datetime\", \"_fd\": \"2017-01-12T16:24:42.123456+02:00\"}, \"code\": \"C7\", "
        "\"active\": true, \"_c\": \"test.BenchRow\", \"_ct\": \"rt\"}",
        /* escaped keys, unknown and underscore fields, odd whitespace, string int */
        "{ \"_ct\" : \"rt\" ,\n\t\"_c\":\"test.BenchRow\", \"\\u0061ctive\": true, "
        "\"bogus\": {\"_ft\": \"int\", \"_fd\": 1}, \"_x\": 1, \"c\\u006fde\": "
        "\"C\\u0037\", "
        "\"created\": {\"_ft\": \"datetime\", \"_fd\": \"2017-01-12 14:24:42.123456Z\"}, "
        "\"id\": {\"_ft\": \"int\", \"_fd\": \"7\"}, \"name\" :\"row-7\", \"price\": "
        "175e-2, "
        "\"qty\": {\"_ft\": \"int\", \"_fd\": -3e9}, \"ratio\": {\"_ft\": \"float\", "
        "\"_fd\": "
        "\"0.14285714285714285\"}}",
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        vx_value *got = NULL;
        vx_error err;
        int rc = vx_json_decode_value(rows[i], strlen(rows[i]), &o, &got, &err);
        if (rc) fail_msg("row %zu: %s", i, err.message);
        if (!vx_equal(got, want)) {
            char *d = vxt_diff(want, got);
            fail_msg("row %zu decodes differently: %s", i, d);
        }
        vx_decref(got);
    }
    vx_decref(want);
    vx_registry_free(reg);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_C03_accepts_any_separators_and_whitespace),
        cmocka_unit_test(test_C30_untyped_tuple_keeps_every_key),
        cmocka_unit_test(test_C29_tuple_rows_in_any_spelling_decode_alike),
        cmocka_unit_test(test_C10_invalid_utf8_fails_with_VX_E_UTF8),
        cmocka_unit_test(test_C10_truncated_json_and_nan_fail_with_VX_E_JSON),
        cmocka_unit_test(test_json_syntax_errors_give_offsets),
        cmocka_unit_test(test_raw_control_characters_in_strings_fail),
        cmocka_unit_test(test_escapes_and_surrogate_pairs),
        cmocka_unit_test(test_unpaired_surrogates_fail_with_VX_E_JSON),
        cmocka_unit_test(test_C11_depth_65_fails_with_VX_E_DEPTH),
        cmocka_unit_test(test_C11_100000_levels_do_not_crash),
        cmocka_unit_test(test_C12_structure_errors),
        cmocka_unit_test(test_C13_field_type_errors_name_the_field),
        cmocka_unit_test(test_C14_defaults_and_unknown_keys_ignored),
        cmocka_unit_test(test_C17_bare_numbers_int_or_float),
        cmocka_unit_test(test_floats_correctly_rounded_and_locale_independent),
        cmocka_unit_test(test_C19_wrapped_int_rules),
        cmocka_unit_test(test_C20_wrapped_bool),
        cmocka_unit_test(test_other_wrapped_types),
        cmocka_unit_test(test_C23_datetime_forms),
        cmocka_unit_test(test_C24_zone_offsets_convert_to_utc),
        cmocka_unit_test(test_C25_unknown_and_unsupported_types),
        cmocka_unit_test(test_C27_received_dict_with_ft_decodes_typed),
        cmocka_unit_test(test_C29_registered_tuple_defaults_and_unknown_fields),
        cmocka_unit_test(test_C30_unregistered_tuple_decodes_untyped),
        cmocka_unit_test(test_C31_strict_unknown_tuple_names_type),
        cmocka_unit_test(test_C32_rt_without_c_fails),
        cmocka_unit_test(test_C33_nested_payload_decodes),
        cmocka_unit_test(test_duplicate_keys_last_wins_strict_fails),
        cmocka_unit_test(test_plain_parse_keeps_objects_as_dicts),
        cmocka_unit_test(test_decode_value_top_level_forms),
        cmocka_unit_test(test_C04_reference_vectors_decode),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
