/* Values, tuples, payloads and datetimes: the layer under the codec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include <vortexc.h>

static void test_scalars_keep_type_and_value(void **state) {
    vx_value *i = vx_int(INT64_MIN), *f = vx_float(2.0), *s = vx_strn("a\0b", 3);
    assert_int_equal(vx_typeof(i), VX_INT);
    assert_true(vx_int_value(i) == INT64_MIN);
    assert_int_equal(vx_typeof(f), VX_FLOAT);
    assert_true(vx_float_value(f) == 2.0);
    assert_int_equal(vx_str_len(s), 3);
    assert_memory_equal(vx_str_value(s), "a\0b", 4); /* NUL kept after the data */
    assert_false(vx_equal(i, f));
    vx_value *one_i = vx_int(1), *one_f = vx_float(1.0);
    assert_false(vx_equal(one_i, one_f)); /* deep equality keeps int and float apart */
    vx_decref(one_i);
    vx_decref(one_f);
    vx_decref(i);
    vx_decref(f);
    vx_decref(s);
}

static void test_str_rejects_invalid_utf8(void **state) {
    assert_null(vx_str("\xc0\xaf"));           /* overlong '/' */
    assert_null(vx_str("\xed\xa0\x80"));       /* UTF-16 surrogate */
    assert_null(vx_str("\xf4\x90\x80\x80"));   /* above U+10FFFF */
    assert_null(vx_str("\xe2\x82"));           /* truncated */
    vx_value *ok = vx_str("\xf0\x9f\x98\x80"); /* U+1F600 */
    assert_non_null(ok);
    vx_decref(ok);
}

static void test_dict_keeps_insertion_order_and_replaces_in_place(void **state) {
    vx_value *d = vx_dict();
    char key[16];
    for (int i = 0; i < 40; i++) { /* past the linear-scan size: hashed lookups */
        snprintf(key, sizeof key, "k%d", 39 - i);
        assert_int_equal(vx_dict_set_new(d, key, vx_int(i)), 0);
    }
    assert_int_equal(vx_dict_size(d), 40);
    assert_string_equal(vx_dict_key_at(d, 0, NULL), "k39");
    assert_int_equal(vx_int_value(vx_dict_get(d, "k0")), 39);
    assert_int_equal(vx_dict_set_new(d, "k39", vx_str("x")), 0);
    assert_int_equal(vx_dict_size(d), 40);
    assert_string_equal(vx_str_value(vx_dict_value_at(d, 0)), "x");
    assert_int_equal(vx_dict_del(d, "k20"), 0);
    assert_int_equal(vx_dict_del(d, "k20"), VX_E_NOT_FOUND);
    assert_null(vx_dict_get(d, "k20"));
    assert_int_equal(vx_int_value(vx_dict_get(d, "k19")), 20);
    assert_int_equal(vx_dict_size(d), 39);
    /* "" and keys holding NUL are ordinary keys */
    assert_int_equal(vx_dict_setn_new(d, "", 0, vx_int(1)), 0);
    assert_int_equal(vx_dict_setn_new(d, "a\0b", 3, vx_int(2)), 0);
    assert_int_equal(vx_int_value(vx_dict_getn(d, "a\0b", 3)), 2);
    assert_null(vx_dict_get(d, "a"));
    assert_int_equal(vx_dict_set_new(d, "\xff", vx_int(1)), VX_E_UTF8);
    vx_decref(d);
}

static void test_deep_copy_is_independent_and_equal(void **state) {
    vx_value *d = vx_dict();
    vx_value *l = vx_list();
    vx_list_append_new(l, vx_float(-0.0));
    vx_list_append_new(l, vx_bytes("\x00\x01", 2));
    vx_list_append_new(l, vx_datetime(0));
    vx_dict_set_new(d, "l", l);
    vx_value *c = vx_deep_copy(d);
    assert_true(vx_equal(d, c));
    vx_list_append_new(vx_dict_get(c, "l"), vx_null());
    assert_false(vx_equal(d, c));
    vx_value *neg = vx_float(-0.0), *pos = vx_float(0.0);
    assert_false(vx_equal(neg, pos)); /* the sign survives a round trip, so it counts */
    vx_decref(neg);
    vx_decref(pos);
    vx_decref(d);
    vx_decref(c);
}

static void test_datetime_format_and_range(void **state) {
    int64_t us;
    char buf[27];
    assert_int_equal(vx_datetime_from_parts(2017, 1, 12, 14, 24, 42, 123456, &us), 0);
    vx_datetime_format(us, buf);
    assert_string_equal(buf, "2017-01-12 14:24:42.123456");
    vx_datetime_format(VX_DATETIME_MIN_US, buf);
    assert_string_equal(buf, "0001-01-01 00:00:00.000000");
    vx_datetime_format(VX_DATETIME_MAX_US, buf);
    assert_string_equal(buf, "9999-12-31 23:59:59.999999");
    assert_int_equal(vx_datetime_from_parts(2023, 2, 29, 0, 0, 0, 0, &us), VX_E_BAD_VALUE);
    assert_int_equal(vx_datetime_from_parts(2024, 2, 29, 0, 0, 0, 0, &us), 0);
    assert_null(vx_datetime(VX_DATETIME_MAX_US + 1));
}

static int64_t parse_ok(const char *s) {
    int64_t us = 0;
    vx_error err;
    int rc = vx_datetime_parse(s, strlen(s), &us, &err);
    if (rc != 0) fail_msg("'%s' failed: %s", s, err.message);
    return us;
}

static void test_C23_datetime_decoder_forms(void **state) {
    int64_t base;
    vx_datetime_from_parts(2017, 1, 12, 14, 24, 42, 0, &base);
    assert_true(parse_ok("2017-01-12 14:24:42") == base);
    assert_true(parse_ok("2017-01-12 14:24:42.123") == base + 123000);
    assert_true(parse_ok("2017-01-12 14:24:42.123456") == base + 123456);
    assert_true(parse_ok("2017-01-12T14:24:42Z") == base);
    assert_true(parse_ok("2017-01-12") == base - (14 * 3600 + 24 * 60 + 42) * 1000000LL);
    int64_t year1;
    vx_datetime_from_parts(1, 1, 1, 0, 0, 0, 0, &year1);
    assert_true(parse_ok("1-01-01 00:00:00.000000") == year1); /* Python's %Y of year 1 */
    vx_error err;
    int64_t us;
    const char *bad[] = {"2017-01-12 14:24:42.1234567",
                         "2017-13-01",
                         "2017-01-12 24:00:00",
                         "2017-01-12 10:60:00",
                         "yesterday",
                         "2017-01-12 14:24",
                         "2017-01-12 14:24:42+0",
                         "0000-01-01",
                         "2017-01-12 14:24:42 ",
                         "9999-12-31 23:59:59-01:00",
                         ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(vx_datetime_parse(bad[i], strlen(bad[i]), &us, &err),
                         VX_E_BAD_VALUE);
        assert_int_equal(err.code, VX_E_BAD_VALUE);
        assert_non_null(strstr(err.message, "bad datetime"));
    }
}

static void test_C24_datetime_offsets_convert_to_utc(void **state) {
    int64_t want;
    vx_datetime_from_parts(2024, 1, 1, 8, 0, 0, 0, &want);
    assert_true(parse_ok("2024-01-01 10:00:00+02:00") == want);
    assert_true(parse_ok("2024-01-01 10:00:00.000000+0200") == want);
    assert_true(parse_ok("2024-01-01 06:30:00-01:30") == want);
}

static void test_C32_registration_rules(void **state) {
    vx_registry *reg = vx_registry_new();
    vx_error err;
    vx_field_def ok[] = {{"b", NULL, NULL, false}, {"a", NULL, NULL, false}};
    assert_int_equal(vx_registry_add(reg, "t.Ok", NULL, ok, 2, NULL, &err), 0);
    assert_int_equal(vx_registry_add(reg, "t.Ok", NULL, ok, 2, NULL, &err), VX_E_EXISTS);
    assert_non_null(strstr(err.message, "t.Ok"));
    vx_field_def under[] = {{"_hidden", NULL, NULL, false}};
    assert_int_equal(vx_registry_add(reg, "t.Under", NULL, under, 1, NULL, &err),
                     VX_E_INVAL);
    assert_non_null(strstr(err.message, "t.Under"));
    assert_non_null(strstr(err.message, "_hidden"));
    vx_field_def dup[] = {{"x", NULL, NULL, false}, {"x", NULL, NULL, false}};
    assert_int_equal(vx_registry_add(reg, "t.Dup", NULL, dup, 2, NULL, &err), VX_E_INVAL);
    vx_field_def empty[] = {{"", NULL, NULL, false}};
    assert_int_equal(vx_registry_add(reg, "t.Empty", NULL, empty, 1, NULL, &err),
                     VX_E_INVAL);
    assert_int_equal(vx_registry_add(reg, "", NULL, ok, 2, NULL, &err), VX_E_INVAL);
    assert_null(vx_registry_find(reg, "t.Under"));
    assert_int_equal(vx_registry_size(reg), 1);
    vx_registry_free(reg);
}

static void test_tuple_defaults_are_copied_per_tuple(void **state) {
    vx_registry *reg = vx_registry_new();
    vx_value *tags = vx_list();
    vx_field_def fields[] = {{"name", vx_str("anon"), NULL, false},
                             {"tags", tags, NULL, false},
                             {"email", NULL, NULL, false}};
    const vx_tuple_type *type;
    assert_int_equal(vx_registry_add(reg, "test.Person", "tp", fields, 3, &type, NULL), 0);
    vx_decref(fields[0].default_value);
    vx_decref(tags);
    vx_value *a = vx_tuple_new(type), *b = vx_tuple_new(type);
    vx_list_append_new(vx_tuple_get(a, "tags"), vx_int(1));
    assert_int_equal(vx_list_size(vx_tuple_get(b, "tags")), 0);
    assert_string_equal(vx_str_value(vx_tuple_get(b, "name")), "anon");
    assert_true(vx_is_null(vx_tuple_get(b, "email")));
    assert_int_equal(vx_tuple_set_new(a, "nosuch", vx_int(1)), VX_E_TUPLE_FIELD);
    assert_int_equal(vx_tuple_set_new(a, "email", vx_str("x@y")), 0);
    assert_string_equal(vx_tuple_field_name_at(a, 2), "email");
    assert_string_equal(vx_str_value(vx_tuple_get_at(a, 2)), "x@y");
    assert_ptr_equal(vx_registry_find_short(reg, "tp"), type);
    vx_value *u = vx_tuple_new_untyped("demo.Unknown");
    assert_int_equal(vx_tuple_set_new(u, "z", vx_int(1)), 0);
    assert_int_equal(vx_tuple_set_new(u, "_c", vx_int(1)), VX_E_INVAL);
    assert_string_equal(vx_tuple_name(u), "demo.Unknown");
    assert_null(vx_tuple_type_of(u));
    vx_value *uc = vx_deep_copy(u);
    assert_true(vx_equal(u, uc));
    vx_decref(uc);
    vx_decref(u);
    vx_decref(a);
    vx_decref(b);
    vx_registry_free(reg);
}

/* Registries are shared by the codecs of several threads and reference
 * counts are not atomic, so a tuple must never hold a counted reference to a
 * registry default: it gets its own copy (immortal values aside). */
static void test_tuple_defaults_share_no_counted_block_with_registry(void **state) {
    vx_registry *reg = vx_registry_new();
    vx_value *score = vx_float(0.5), *name = vx_str("anon"), *tags = vx_list();
    vx_list_append_new(tags, vx_str("t"));
    vx_field_def fields[] = {{"score", score, NULL, false},
                             {"name", name, NULL, false},
                             {"tags", tags, NULL, false},
                             {"n", NULL, NULL, false}};
    const vx_tuple_type *type;
    assert_int_equal(vx_registry_add(reg, "t.T", NULL, fields, 4, &type, NULL), 0);
    /* the registry keeps its own copies, not the caller's values */
    assert_ptr_not_equal(vx_tuple_type_field_default(type, 0), score);
    vx_decref(score);
    vx_decref(name);
    vx_decref(tags);
    vx_value *t = vx_tuple_new(type);
    for (size_t i = 0; i < 3; i++) {
        assert_ptr_not_equal(vx_tuple_get_at(t, i), vx_tuple_type_field_default(type, i));
        assert_true(vx_equal(vx_tuple_get_at(t, i), vx_tuple_type_field_default(type, i)));
    }
    assert_ptr_not_equal(vx_list_get(vx_tuple_get(t, "tags"), 0),
                         vx_list_get(vx_tuple_type_field_default(type, 2), 0));
    vx_value *c = vx_deep_copy(t);
    assert_true(vx_equal(c, t));
    vx_decref(c);
    vx_decref(t);
    vx_registry_free(reg);
}

static void test_C34_is_empty(void **state) {
    vx_payload *hello = vx_payload_new_hello("uuid-1", "server");
    assert_true(vx_payload_is_empty(hello));
    vx_payload *hb = vx_payload_new_heartbeat();
    assert_true(vx_payload_is_empty(hb));
    vx_payload_set_result_new(hb, vx_bool(false)); /* a false result is a real reply */
    assert_false(vx_payload_is_empty(hb));
    vx_payload *keyed = vx_payload_new_key("k");
    assert_false(vx_payload_is_empty(keyed));
    vx_payload *only_uuid = vx_payload_new_blank();
    vx_dict_set_new(vx_payload_filt(only_uuid), VX_HELLO_UUID_KEY, vx_str("u"));
    assert_true(vx_payload_is_empty(only_uuid)); /* vortexpy required both keys */
    vx_payload_decref(hello);
    vx_payload_decref(hb);
    vx_payload_decref(keyed);
    vx_payload_decref(only_uuid);
}

static void test_payload_dates_strictly_increase(void **state) {
    int64_t last = 0;
    for (int i = 0; i < 1000; i++) {
        vx_payload *p = vx_payload_new();
        int64_t d = vx_datetime_value(vx_payload_date(p));
        assert_true(d > last);
        last = d;
        vx_payload_decref(p);
    }
    vx_payload *blank = vx_payload_new_blank();
    assert_true(vx_is_null(vx_payload_date(blank)));
    assert_int_equal(vx_payload_set_filt_new(blank, vx_list()), VX_E_FIELD_TYPE);
    vx_payload_decref(blank);
}

static void test_error_names(void **state) {
    assert_string_equal(vx_error_name(VX_E_BASE64), "VX_E_BASE64");
    assert_string_equal(vx_error_name(VX_E_HANDLER), "VX_E_HANDLER");
    assert_string_equal(vx_error_name(12345), "VX_E_UNKNOWN");
    assert_int_equal(VX_E_GENERATION, -20); /* numbers are PROTOCOL §6.2's */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars_keep_type_and_value),
        cmocka_unit_test(test_str_rejects_invalid_utf8),
        cmocka_unit_test(test_dict_keeps_insertion_order_and_replaces_in_place),
        cmocka_unit_test(test_deep_copy_is_independent_and_equal),
        cmocka_unit_test(test_datetime_format_and_range),
        cmocka_unit_test(test_C23_datetime_decoder_forms),
        cmocka_unit_test(test_C24_datetime_offsets_convert_to_utc),
        cmocka_unit_test(test_C32_registration_rules),
        cmocka_unit_test(test_tuple_defaults_are_copied_per_tuple),
        cmocka_unit_test(test_tuple_defaults_share_no_counted_block_with_registry),
        cmocka_unit_test(test_C34_is_empty),
        cmocka_unit_test(test_payload_dates_strictly_increase),
        cmocka_unit_test(test_error_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
