/* Conformance against the reference vectors produced by the real vortexpy
 * 0.3.1 (tests/vectors/README.md). The vector files are read with the
 * library's own plain JSON parser; no Python at test time.
 *
 * Every place where VortexC deliberately does something other than vortexpy
 * is an explicit table row below naming the vector, the expected outcome and
 * the PROTOCOL.md section that requires it. A vector missing from a table, or
 * a table row naming no vector, fails the test, so the tables cannot go
 * stale silently. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <vortexc/codec.h>
#include <vortexc/payload.h>
#include <vortexc/tuple.h>

#include "helpers/vxtest.h"

typedef struct {
    vx_value *main;    /* vortexpy-0.3.1.jsonl */
    vx_value *errors;  /* ...-decode-errors.jsonl */
    vx_value *lenient; /* ...-decode-lenient.jsonl */
    vx_value *encerr;  /* ...-encode-errors.jsonl */
    vx_registry *reg;
} fixture;

/* Failures are collected (printed as they happen) so one run lists every
 * non-conforming vector, then the test fails once at the end. */
static int g_failures;

__attribute__((format(printf, 2, 3))) static void fail_vec(const char *name,
                                                           const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "  FAIL [%s] ", name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    g_failures++;
}

/* ---- small utilities --------------------------------------------------- */

/* NEW copy of s[0..len) with every `from` replaced by `to`; *out_len set. */
static char *replace_all(const char *s, size_t len, const char *from, const char *to,
                         size_t *out_len) {
    size_t fl = strlen(from), tl = strlen(to), n = 0;
    for (const char *p = s; (p = memmem(p, len - (size_t)(p - s), from, fl)); p += fl) n++;
    char *out = malloc(len + n * (tl > fl ? tl - fl : 0) + 1);
    assert_non_null(out);
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        if (i + fl <= len && memcmp(s + i, from, fl) == 0) {
            memcpy(out + o, to, tl);
            o += tl;
            i += fl;
        } else {
            out[o++] = s[i++];
        }
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

/* Report where two texts first differ, with some context. */
static void fail_text(const char *name, const char *what, const char *want, size_t wl,
                      const char *got, size_t gl) {
    size_t i = 0;
    while (i < wl && i < gl && want[i] == got[i]) i++;
    size_t from = i > 40 ? i - 40 : 0;
    int wn = (int)((wl - from) < 100 ? wl - from : 100);
    int gn = (int)((gl - from) < 100 ? gl - from : 100);
    fail_vec(name,
             "%s differs at byte %zu (want %zu bytes, got %zu):\n    want ...%.*s\n    got "
             " ...%.*s",
             what, i, wl, gl, wn, want + from, gn, got + from);
}

static void opts_for(const fixture *fx, vx_codec_opts *o, bool strict) {
    vxt_opts(o, fx->reg, 9, false);
    o->strict_decode = strict;
}

/* Encode `p` as default-separator JSON; compare with want[0..wl). */
static void check_reencode(const fixture *fx, const char *name, const vx_payload *p,
                           const char *want, size_t wl) {
    vx_codec_opts o;
    opts_for(fx, &o, false);
    vx_buf buf = {0};
    vx_error err = {0};
    int rc = vx_json_encode_payload(p, &o, &buf, &err);
    if (rc != 0)
        fail_vec(name, "re-encode failed: %s: %s", vx_error_name(rc), err.message);
    else if (buf.len != wl || memcmp(buf.data, want, wl) != 0)
        fail_text(name, "re-encoded JSON", want, wl, buf.data, buf.len);
    vx_buf_free(&buf);
}

/* Encode at zlib level 9 as a msg, decode, compare with `p`. */
static void check_msg_roundtrip(const fixture *fx, const char *name, const vx_payload *p) {
    vx_codec_opts o;
    opts_for(fx, &o, false);
    vx_buf buf = {0};
    vx_error err = {0};
    int rc = vx_msg_encode(p, &o, &buf, &err);
    if (rc != 0) {
        fail_vec(name, "vx_msg_encode level 9 failed: %s: %s", vx_error_name(rc),
                 err.message);
        vx_buf_free(&buf);
        return;
    }
    vx_payload *back = NULL;
    rc = vx_msg_decode(buf.data, buf.len, &o, &back, &err);
    if (rc != 0) {
        fail_vec(name, "decoding our level-9 msg failed: %s: %s", vx_error_name(rc),
                 err.message);
    } else {
        char *d = vxt_diff(vx_payload_as_value((vx_payload *)p), vx_payload_as_value(back));
        if (d) fail_vec(name, "level-9 msg round trip differs %s", d);
        free(d);
    }
    vx_payload_decref(back);
    vx_buf_free(&buf);
}

/* Decode `json` and check it re-encodes to exactly itself (used for the
 * in-range remainder of vectors VortexC rejects as a whole). */
static void check_json_fixed_point(const fixture *fx, const char *name, const char *json,
                                   size_t len) {
    vx_codec_opts o;
    opts_for(fx, &o, false);
    vx_payload *p = NULL;
    vx_error err = {0};
    int rc = vx_json_decode_payload(json, len, &o, &p, &err);
    if (rc != 0) {
        fail_vec(name, "patched JSON failed to decode: %s: %s", vx_error_name(rc),
                 err.message);
        return;
    }
    check_reencode(fx, name, p, json, len);
    vx_payload_decref(p);
}

/* ---- fixture ------------------------------------------------------------ */

static vx_value *load(const char *file) {
    vx_value *v = NULL;
    vx_error err = {0};
    int rc = vxt_load_vectors(file, &v, &err);
    if (rc != 0) fprintf(stderr, "cannot load %s: %s\n", file, err.message);
    return v;
}

static int setup(void **state) {
    fixture *fx = calloc(1, sizeof *fx);
    if (!fx) return -1;
    fx->main = load("vortexpy-0.3.1.jsonl");
    fx->errors = load("vortexpy-0.3.1-decode-errors.jsonl");
    fx->lenient = load("vortexpy-0.3.1-decode-lenient.jsonl");
    fx->encerr = load("vortexpy-0.3.1-encode-errors.jsonl");
    fx->reg = vxt_test_registry_new();
    *state = fx;
    if (!fx->main || !fx->errors || !fx->lenient || !fx->encerr || !fx->reg) return -1;
    return 0;
}

static int teardown(void **state) {
    fixture *fx = *state;
    if (!fx) return 0;
    vx_decref(fx->main);
    vx_decref(fx->errors);
    vx_decref(fx->lenient);
    vx_decref(fx->encerr);
    if (fx->reg) vx_registry_free(fx->reg);
    free(fx);
    return 0;
}

static void test_vector_files_load(void **state) {
    fixture *fx = *state;
    assert_int_equal(vx_list_size(fx->main), 46);
    assert_int_equal(vx_list_size(fx->errors), 41);
    assert_int_equal(vx_list_size(fx->lenient), 19);
    assert_int_equal(vx_list_size(fx->encerr), 7);
    assert_non_null(vxt_find_named(fx->main, "tuples_1000_benchrow"));
}

/* ---- C-04: the 46 payload vectors --------------------------------------- */

/* Vectors VortexC treats differently from vortexpy. `code` is the error both
 * vx_msg_decode and vx_json_decode_payload must return (0 = decodes). The
 * patch pairs (from, to) are applied to the vector's JSON: for code 0 the
 * result is the exact re-encoding expected; for an error it is the remainder
 * without the offending part, which must decode and re-encode to itself. */
typedef struct {
    const char *name;
    int code;
    const char *section;
    const char *patch[8];
} vec_delta;

static const vec_delta k_vec_deltas[] = {
    /* Wrapped ints beyond int64 are refused instead of losing data; the
     * int64 extremes themselves must pass. */
    {"tuples_ints",
     VX_E_INT_RANGE,
     "§4.1, §4.2 wrapped int outside int64",
     {"9223372036854775808", "9223372036854775807", "18446744073709551621",
      "-9223372036854775808", ", {\"_ft\": \"int\", \"_fd\": 1180591620717411303424}", ""}},
    {"tuples_mixed_everything",
     VX_E_INT_RANGE,
     "§4.1, §4.2 wrapped int 10^20",
     {"{\"_ft\": \"int\", \"_fd\": 100000000000000000000}, ", ""}},
    /* vortexpy wrote NaN/Infinity tokens, which are not JSON. */
    {"tuples_nan_inf", VX_E_JSON, "§2.2 step 6 NaN/Infinity tokens", {NULL}},
    /* A date alone is midnight UTC and re-encodes in the one canonical form. */
    {"tuples_date_object",
     0,
     "§4.4 date alone = midnight UTC",
     {"\"_fd\": \"2017-01-12\"}", "\"_fd\": \"2017-01-12 00:00:00.000000\"}"}},
};

static const vec_delta *find_delta(const char *name) {
    for (size_t i = 0; i < sizeof k_vec_deltas / sizeof k_vec_deltas[0]; i++)
        if (strcmp(k_vec_deltas[i].name, name) == 0) return &k_vec_deltas[i];
    return NULL;
}

/* Apply a delta's patches to the vector JSON. NEW text. */
static char *apply_patches(const vec_delta *d, const char *json, size_t len,
                           size_t *out_len) {
    char *cur = malloc(len + 1);
    assert_non_null(cur);
    memcpy(cur, json, len + 1);
    *out_len = len;
    for (size_t i = 0; d && d->patch[i]; i += 2) {
        size_t nl;
        char *next = replace_all(cur, *out_len, d->patch[i], d->patch[i + 1], &nl);
        if (nl == *out_len && memcmp(next, cur, nl) == 0)
            fail_vec(d->name, "table patch \"%s\" matched nothing", d->patch[i]);
        free(cur);
        cur = next;
        *out_len = nl;
    }
    return cur;
}

/* Extra checks on the decoded value of particular vectors. */
static void check_specific(const fixture *fx, const char *name, const vx_payload *p) {
    vx_value *t = vx_payload_tuples(p);
    if (strcmp(name, "tuples_date_object") == 0) {
        int64_t want;
        assert_int_equal(vx_datetime_from_parts(2017, 1, 12, 0, 0, 0, 0, &want), 0);
        vx_value *d = vx_list_get(t, 0);
        if (vx_typeof(d) != VX_DATETIME || vx_datetime_value(d) != want)
            fail_vec(name, "date alone should be 2017-01-12 00:00:00 UTC");
    } else if (strcmp(name, "tuple_datawrap") == 0) {
        /* C-30: not in the test registry, so lenient decoding keeps it untyped. */
        vx_value *d = vx_list_get(t, 0);
        if (vx_typeof(d) != VX_TUPLE || vx_tuple_type_of(d) != NULL ||
            strcmp(vx_tuple_name(d), "c.s.r.datawraptuple") != 0)
            fail_vec(name, "expected an untyped tuple c.s.r.datawraptuple");
    } else if (strncmp(name, "tuple_", 6) == 0 ||
               strcmp(name, "tuples_1000_benchrow") == 0) {
        for (size_t i = 0; i < vx_list_size(t); i++) {
            vx_value *d = vx_list_get(t, i);
            if (vx_typeof(d) == VX_TUPLE &&
                vx_tuple_type_of(d) != vx_registry_find(fx->reg, vx_tuple_name(d)))
                fail_vec(name, "tuple %zu (%s) is not of its registered type", i,
                         vx_tuple_name(d));
        }
        if (strcmp(name, "tuples_1000_benchrow") == 0 && vx_list_size(t) != 1000)
            fail_vec(name, "want 1000 tuples, got %zu", vx_list_size(t));
    } else if (strcmp(name, "tuples_floats") == 0) {
        /* Extremes must come back bit-exact (vx_equal uses ==, so also -0.0). */
        vx_value *v = vx_list_get(t, 9);
        if (vx_typeof(v) != VX_FLOAT || vx_float_value(v) != 5e-324)
            fail_vec(name, "5e-324 did not decode exactly");
    }
}

static void run_main_vector(const fixture *fx, const vx_value *rec) {
    const char *name = vxt_get_str(rec, "name", NULL);
    size_t ml, jl;
    const char *msg = vxt_get_str(rec, "vortexMsg", &ml);
    const char *json = vxt_get_str(rec, "json", &jl);
    if (!name || !msg || !json) {
        fail_vec(name ? name : "?", "record lacks name/vortexMsg/json");
        return;
    }
    const vec_delta *d = find_delta(name);
    int want = d ? d->code : 0;
    vx_codec_opts o;
    opts_for(fx, &o, false);

    vx_payload *pm = NULL, *pj = NULL;
    vx_error em = {0}, ej = {0};
    int rm = vx_msg_decode(msg, ml, &o, &pm, &em);
    int rj = vx_json_decode_payload(json, jl, &o, &pj, &ej);
    if (rm != want)
        fail_vec(name, "vx_msg_decode: want %s, got %s (%s)%s%s", vx_error_name(want),
                 vx_error_name(rm), em.message, d ? " -- " : "", d ? d->section : "");
    if (rj != want)
        fail_vec(name, "vx_json_decode_payload: want %s, got %s (%s)", vx_error_name(want),
                 vx_error_name(rj), ej.message);
    if (want != 0) {
        if ((rm != 0 && pm) || (rj != 0 && pj)) fail_vec(name, "*out not NULL on failure");
        if (rm == want && em.message[0] == '\0') fail_vec(name, "empty error message");
        size_t pl;
        char *patched = apply_patches(d, json, jl, &pl);
        if (d->patch[0]) check_json_fixed_point(fx, name, patched, pl);
        free(patched);
    } else if (rm == 0 && rj == 0) {
        char *diff = vxt_diff(vx_payload_as_value(pm), vx_payload_as_value(pj));
        if (diff) fail_vec(name, "msg and JSON decodes differ %s", diff);
        free(diff);
        size_t el;
        char *expect = apply_patches(d, json, jl, &el);
        check_reencode(fx, name, pj, expect, el);
        free(expect);
        check_msg_roundtrip(fx, name, pm);
        check_specific(fx, name, pj);
    }
    vx_payload_decref(pm);
    vx_payload_decref(pj);
}

static void test_C04_vortexpy_vectors_decode_and_reencode(void **state) {
    fixture *fx = *state;
    g_failures = 0;
    for (size_t i = 0; i < sizeof k_vec_deltas / sizeof k_vec_deltas[0]; i++)
        if (!vxt_find_named(fx->main, k_vec_deltas[i].name))
            fail_vec(k_vec_deltas[i].name, "table row names no vector");
    for (size_t i = 0; i < vx_list_size(fx->main); i++)
        run_main_vector(fx, vx_list_get(fx->main, i));
    assert_int_equal(g_failures, 0);
}

/* ---- decode errors ------------------------------------------------------ */

/* Every input vortexpy rejects, with the code VortexC must give. `alt` is a
 * second acceptable code where PROTOCOL allows two readings (0 = none). */
typedef struct {
    const char *name;
    int code, alt;
    const char *section;
} err_case;

static const err_case k_err_cases[] = {
    {"b64_incorrect_padding", VX_E_BASE64, 0, "§2.2 step 2 length not 4n"},
    {"b64_one_extra_char", VX_E_BASE64, 0, "§2.2 step 2 length 4n+1"},
    {"b64_truncated_good_msg", VX_E_BASE64, 0, "§2.2 step 2 length not 4n"},
    {"b64_non_ascii_str", VX_E_BASE64, 0, "§2.2 step 2 non-alphabet"},
    {"b64_padding_in_middle", VX_E_BASE64, 0, "§2.2 step 2 '=' not last"},
    {"zlib_empty_input", VX_E_ZLIB, 0, "§2.2 step 4 empty input"},
    /* vortexpy's base64 turned "====" into b''; PROTOCOL's base64 refuses
     * '=' outside the last two positions before zlib is reached. */
    {"zlib_only_padding", VX_E_BASE64, 0, "§2.2 step 2 '=' not in the last two positions"},
    /* base64 of '{...': by §1.2 a decoded '{' is gen2, which a gen1 decoder
     * refuses at §2.2 step 3 before inflating (C-07's "plain JSON" means
     * JSON that does not start with '{'). */
    {"zlib_not_zlib", VX_E_GENERATION, 0, "§1.2 detection, §2.2 step 3"},
    {"zlib_raw_deflate", VX_E_ZLIB, 0, "§2.2 step 4, C-07"},
    {"zlib_gzip_wrapped", VX_E_ZLIB, 0, "§2.2 step 4, C-07"},
    {"zlib_truncated", VX_E_ZLIB, 0, "§2.2 step 4 truncated"},
    {"zlib_bad_adler32", VX_E_ZLIB, 0, "§2.2 step 4 Adler-32"},
    {"zlib_bad_header_checksum", VX_E_ZLIB, 0, "§2.2 step 4 header check"},
    {"utf8_invalid", VX_E_UTF8, 0, "§2.2 step 5"},
    {"json_empty_text", VX_E_JSON, 0, "§2.2 step 6"},
    {"json_truncated", VX_E_JSON, 0, "§2.2 step 6, C-10"},
    {"json_garbage", VX_E_JSON, 0, "§2.2 step 6"},
    {"json_single_quotes", VX_E_JSON, 0, "§2.2 step 6"},
    {"json_trailing_comma", VX_E_JSON, 0, "§2.2 step 6"},
    {"json_extra_data", VX_E_JSON, 0, "§2.2 step 6 trailing non-whitespace"},
    {"json_deep_nesting", VX_E_DEPTH, 0, "§2.2 step 6 max_depth, C-11"},
    {"struct_top_level_list", VX_E_NOT_OBJECT, 0, "§2.2 step 7, C-12"},
    {"struct_top_level_null", VX_E_NOT_OBJECT, 0, "§2.2 step 7"},
    {"struct_top_level_string", VX_E_NOT_OBJECT, 0, "§2.2 step 7"},
    {"struct_missing_ct", VX_E_CT_MISSING, 0, "§2.2 step 7, C-12"},
    {"struct_wrong_ct_rt", VX_E_CT_WRONG, 0, "§2.2 step 7, C-12"},
    {"struct_wrong_ct_other", VX_E_CT_WRONG, 0, "§2.2 step 7"},
    {"tuple_missing_c", VX_E_TUPLE_NO_TYPE, 0, "§5.3, C-32"},
    {"tuple_field_bad_ft", VX_E_UNKNOWN_FT, 0, "§4.3 step 4, C-25"},
    {"field_unknown_ft", VX_E_UNKNOWN_FT, 0, "§4.3 step 4, C-25"},
    {"field_int_not_numeric", VX_E_BAD_VALUE, 0, "§4.2 wrapped int"},
    {"field_float_not_numeric", VX_E_BAD_VALUE, 0, "§4.1 wrapped float"},
    {"field_datetime_not_string", VX_E_BAD_VALUE, 0, "§4.4 non-string _fd"},
    {"field_geom", VX_E_UNSUPPORTED, 0, "§4.3 step 4 geom, C-25"},
    {"field_generic_class", VX_E_UNSUPPORTED, 0, "§4.3 step 3 gen, C-25"},
    {"field_ft_missing_fd", VX_E_BAD_VALUE, 0, "§4.3 step 4 missing _fd"},
    /* A wrapped datetime with a malformed _fd: §4.4 says BAD_VALUE; §3.1's
     * "date ... otherwise VX_E_FIELD_TYPE" is a possible reading too. */
    {"payload_date_bad", VX_E_BAD_VALUE, 0, "§4.4 (a wrapped datetime with bad text)"},
};

/* Inputs vortexpy rejects that PROTOCOL accepts; checked value by value in
 * test_C23_... and test_C30_C31_... below. */
static const char *const k_err_accepted[] = {
    "field_datetime_no_micro",  /* §4.4 fraction optional */
    "field_datetime_iso_T",     /* §4.4 'T' separator */
    "tuple_field_bad_datetime", /* §4.4 date alone = midnight UTC */
    "tuple_unknown_type",       /* §5.3 lenient: untyped tuple; strict: UNKNOWN_TUPLE */
};

static void check_error_vector(const fixture *fx, const err_case *c, const char *msg,
                               size_t ml, bool strict) {
    vx_codec_opts o;
    opts_for(fx, &o, strict);
    vx_payload *p = NULL;
    vx_error err = {0};
    int rc = vx_msg_decode(msg, ml, &o, &p, &err);
    if (rc != c->code && (c->alt == 0 || rc != c->alt))
        fail_vec(c->name, "%s: want %s%s%s, got %s (%s) -- %s",
                 strict ? "strict" : "lenient", vx_error_name(c->code),
                 c->alt ? " or " : "", c->alt ? vx_error_name(c->alt) : "",
                 vx_error_name(rc), err.message, c->section);
    else if (err.code != rc || err.message[0] == '\0')
        fail_vec(c->name, "error record not filled (code %d, message \"%s\")", err.code,
                 err.message);
    if (p) fail_vec(c->name, "*out not NULL on failure");
    vx_payload_decref(p);
}

static void test_decode_error_vectors_rejected_with_stage_code(void **state) {
    fixture *fx = *state;
    g_failures = 0;
    size_t n_err = sizeof k_err_cases / sizeof k_err_cases[0];
    size_t n_acc = sizeof k_err_accepted / sizeof k_err_accepted[0];
    for (size_t i = 0; i < n_err; i++)
        if (!vxt_find_named(fx->errors, k_err_cases[i].name))
            fail_vec(k_err_cases[i].name, "table row names no vector");
    for (size_t i = 0; i < n_acc; i++)
        if (!vxt_find_named(fx->errors, k_err_accepted[i]))
            fail_vec(k_err_accepted[i], "table row names no vector");
    for (size_t i = 0; i < vx_list_size(fx->errors); i++) {
        const vx_value *rec = vx_list_get(fx->errors, i);
        const char *name = vxt_get_str(rec, "name", NULL);
        size_t ml;
        const char *msg = vxt_get_str(rec, "vortexMsg", &ml);
        assert_non_null(name);
        assert_non_null(msg);
        const err_case *c = NULL;
        for (size_t k = 0; k < n_err; k++)
            if (strcmp(k_err_cases[k].name, name) == 0) c = &k_err_cases[k];
        bool accepted = false;
        for (size_t k = 0; k < n_acc; k++)
            if (strcmp(k_err_accepted[k], name) == 0) accepted = true;
        if (!c && !accepted) {
            fail_vec(name, "vector is in no table");
            continue;
        }
        if (c) {
            check_error_vector(fx, c, msg, ml, false);
            check_error_vector(fx, c, msg, ml, true);
        }
    }
    assert_int_equal(g_failures, 0);
}

/* Decode one named vector of `list` (lenient or strict). */
static int decode_named(const fixture *fx, const vx_value *list, const char *name,
                        bool strict, vx_payload **out, vx_error *err) {
    const vx_value *rec = vxt_find_named(list, name);
    assert_non_null(rec);
    size_t ml;
    const char *msg = vxt_get_str(rec, "vortexMsg", &ml);
    assert_non_null(msg);
    vx_codec_opts o;
    opts_for(fx, &o, strict);
    *out = NULL;
    return vx_msg_decode(msg, ml, &o, out, err);
}

static int64_t dt(int y, int mo, int d, int h, int mi, int s, int us) {
    int64_t v;
    assert_int_equal(vx_datetime_from_parts(y, mo, d, h, mi, s, us, &v), 0);
    return v;
}

static void assert_datetime(const vx_value *v, int64_t want) {
    if (vx_typeof(v) != VX_DATETIME) {
        char *r = vxt_repr(v, 200);
        fail_msg("want a datetime, got %s", r);
    }
    char a[27], b[27];
    vx_datetime_format(want, a);
    vx_datetime_format(vx_datetime_value(v), b);
    assert_string_equal(b, a);
}

/* The decode-errors vectors PROTOCOL accepts (§4.4), with their exact values. */
static void test_C23_vectors_datetime_forms_vortexpy_rejects_are_accepted(void **state) {
    fixture *fx = *state;
    static const char *const names[] = {"field_datetime_no_micro", "field_datetime_iso_T"};
    for (size_t i = 0; i < 2; i++) {
        for (int strict = 0; strict < 2; strict++) {
            vx_payload *p;
            vx_error err = {0};
            int rc = decode_named(fx, fx->errors, names[i], strict, &p, &err);
            if (rc != 0) fail_msg("%s: %s %s", names[i], vx_error_name(rc), err.message);
            assert_int_equal(vx_list_size(vx_payload_tuples(p)), 1);
            assert_datetime(vx_list_get(vx_payload_tuples(p), 0),
                            dt(2017, 1, 12, 14, 24, 42, 0));
            assert_true(vx_is_null(vx_payload_date(p)));
            vx_payload_decref(p);
        }
    }
    /* test.Person.born = "2017-01-12": a date alone is midnight UTC. */
    vx_payload *p;
    vx_error err = {0};
    int rc = decode_named(fx, fx->errors, "tuple_field_bad_datetime", false, &p, &err);
    if (rc != 0)
        fail_msg("tuple_field_bad_datetime: %s %s", vx_error_name(rc), err.message);
    vx_value *t = vx_list_get(vx_payload_tuples(p), 0);
    assert_int_equal(vx_typeof(t), VX_TUPLE);
    assert_ptr_equal(vx_tuple_type_of(t), vx_registry_find(fx->reg, "test.Person"));
    assert_datetime(vx_tuple_get(t, "born"), dt(2017, 1, 12, 0, 0, 0, 0));
    assert_string_equal(vx_str_value(vx_tuple_get(t, "name")), "anon");
    vx_payload_decref(p);
}

/* tuple_unknown_type: {"_ct":"rt","_c":"no.such.Tuple","x":1}. */
static void test_C30_C31_vector_unknown_tuple_type(void **state) {
    fixture *fx = *state;
    vx_payload *p;
    vx_error err = {0};
    int rc = decode_named(fx, fx->errors, "tuple_unknown_type", false, &p, &err);
    if (rc != 0) fail_msg("lenient: %s %s", vx_error_name(rc), err.message);
    vx_value *t = vx_list_get(vx_payload_tuples(p), 0);
    assert_int_equal(vx_typeof(t), VX_TUPLE);
    assert_null(vx_tuple_type_of(t));
    assert_string_equal(vx_tuple_name(t), "no.such.Tuple");
    assert_int_equal(vx_tuple_field_count(t), 1);
    vx_value *x = vx_tuple_get(t, "x");
    assert_non_null(x);
    assert_int_equal(vx_typeof(x), VX_INT);
    assert_int_equal(vx_int_value(x), 1);
    /* It relays unchanged (§5.3): the tuple re-encodes with the same _c and field. */
    vx_codec_opts o;
    opts_for(fx, &o, false);
    vx_buf buf = {0};
    assert_int_equal(vx_json_encode_value(t, &o, &buf, &err), 0);
    const char want[] =
        "{\"_ct\": \"rt\", \"_c\": \"no.such.Tuple\", \"x\": {\"_ft\": \"int\", "
        "\"_fd\": 1}}";
    assert_int_equal(buf.len, strlen(want));
    assert_memory_equal(buf.data, want, buf.len);
    vx_buf_free(&buf);
    vx_payload_decref(p);

    /* C-31: strict mode names the type. */
    rc = decode_named(fx, fx->errors, "tuple_unknown_type", true, &p, &err);
    assert_int_equal(rc, VX_E_UNKNOWN_TUPLE);
    assert_null(p);
    assert_non_null(strstr(err.message, "no.such.Tuple"));
}

/* ---- lenient inputs ----------------------------------------------------- */

#define DATE_123456 "{\"_ft\": \"datetime\", \"_fd\": \"2017-01-12 14:24:42.123456\"}"
#define HEAD        "{\"_ct\": \"rp\", \"_c\": \"vortex.Payload.Payload\", "
#define ECHO_JSON                                                                          \
    HEAD "\"filt\": {\"key\": \"test.echo\"}, \"replyFilt\": {}, \"tuples\": [], "         \
         "\"result\": "                                                                    \
         "null, \"date\": " DATE_123456 "}"
#define EMPTY_NULL_DATE                                                                    \
    HEAD "\"filt\": {}, \"replyFilt\": {}, \"tuples\": [], \"result\": null, \"date\": "   \
         "null}"
#define PERSON_DEFAULTS                                                                    \
    "{\"_ct\": \"rt\", \"_c\": \"test.Person\", \"active\": true, \"age\": {\"_ft\": "     \
    "\"int\", "                                                                            \
    "\"_fd\": 0}, \"born\": null, \"email\": null, \"name\": \"anon\", \"score\": 0.0, "   \
    "\"tags\": []}"
#define TUPLES_ONLY(t)                                                                     \
    HEAD "\"filt\": {}, \"replyFilt\": {}, \"tuples\": " t                                 \
         ", \"result\": null, \"date\": null}"

/* What VortexC does with each input vortexpy accepted. `code`/`strict_code`:
 * expected result in lenient/strict mode; `json`: exact re-encoding (default
 * separators) when the decode succeeds. */
typedef struct {
    const char *name;
    int code, strict_code;
    const char *json;
    const char *section;
} lenient_case;

static const lenient_case k_lenient[] = {
    {"b64_garbage_chars_ignored", VX_E_BASE64, VX_E_BASE64, NULL,
     "§2.2 step 2: non-alphabet characters are rejected"},
    /* At the msg level the '.' is a non-alphabet character; the stream
     * splitter strips it first (checked in the test below). */
    {"b64_trailing_dot", VX_E_BASE64, VX_E_BASE64, NULL, "§2.2 step 2, §2.3"},
    {"b64_whitespace", 0, 0, ECHO_JSON, "§2.2 step 2: SP HT CR LF skipped"},
    {"zlib_trailing_garbage", VX_E_ZLIB, VX_E_ZLIB, NULL,
     "§2.2 step 4: bytes after the stream"},
    {"zlib_level0", 0, 0,
     HEAD "\"filt\": {}, \"replyFilt\": {}, \"tuples\": [], \"result\": null, "
          "\"date\": " DATE_123456 "}",
     "§2.2 step 4, C-05: every level"},
    {"json_minimal", 0, 0, EMPTY_NULL_DATE, "§3.1: defaults, date stays null; C-14"},
    {"json_unknown_field", 0, 0,
     HEAD
     "\"filt\": {\"key\": \"k\"}, \"replyFilt\": {}, \"tuples\": [], \"result\": null, "
     "\"date\": null}",
     "§3.1: unknown keys ignored; C-14"},
    {"json_underscore_fields_skipped", 0, 0, EMPTY_NULL_DATE, "§3.1: unknown keys ignored"},
    {"json_no_spaces", 0, 0,
     HEAD "\"filt\": {\"key\": \"k\"}, \"replyFilt\": {}, \"tuples\": [{\"_ft\": \"int\", "
          "\"_fd\": 5}], \"result\": null, \"date\": null}",
     "§2.2 step 6 compact separators, §4.2 \"5\"; C-03"},
    {"field_int_as_string", 0, 0, TUPLES_ONLY("[{\"_ft\": \"int\", \"_fd\": 5}]"),
     "§4.2 wrapped int \"5\"; C-19"},
    {"field_float_integral_collapses", 0, 0, TUPLES_ONLY("[2.0]"),
     "§4.2 a wrapped float stays a float; C-17"},
    /* {"_fd":"1"} is true, but "true" as a string is none of "1", "0",
     * true, false. */
    {"field_bool_string", VX_E_BAD_VALUE, VX_E_BAD_VALUE, NULL,
     "§4.1 bool: only \"1\", \"0\", true, false; C-20"},
    {"field_str_ft", 0, 0, TUPLES_ONLY("[\"x\"]"), "§4.1 str"},
    {"tuple_unknown_field", 0, VX_E_TUPLE_FIELD, TUPLES_ONLY("[" PERSON_DEFAULTS "]"),
     "§5.3 unknown field ignored / strict VX_E_TUPLE_FIELD; C-29"},
    {"tuple_missing_fields", 0, 0, TUPLES_ONLY("[" PERSON_DEFAULTS "]"),
     "§5.3 missing fields keep defaults; C-29"},
    {"dict_numeric_string_keys", 0, 0,
     TUPLES_ONLY(
         "[{\"1\": \"a\", \"1.5\": \"b\", \"1e3\": \"c\", \"nan\": \"d\", \"x\": \"e\"}]"),
     "§4.5 keys stay strings; C-26"},
    {"json_nan_literal", VX_E_JSON, VX_E_JSON, NULL, "§2.2 step 6 NaN tokens; C-10"},
    {"json_duplicate_keys", 0, VX_E_JSON,
     HEAD
     "\"filt\": {\"key\": \"b\"}, \"replyFilt\": {}, \"tuples\": [], \"result\": null, "
     "\"date\": null}",
     "§2.2 step 6 last wins / strict VX_E_JSON"},
    {"ct_payload_c_ignored", 0, 0,
     HEAD
     "\"filt\": {\"key\": \"k\"}, \"replyFilt\": {}, \"tuples\": [], \"result\": null, "
     "\"date\": null}",
     "§3.1 _c ignored"},
};

static void test_lenient_vectors_as_protocol_says(void **state) {
    fixture *fx = *state;
    g_failures = 0;
    size_t n = sizeof k_lenient / sizeof k_lenient[0];
    for (size_t i = 0; i < n; i++)
        if (!vxt_find_named(fx->lenient, k_lenient[i].name))
            fail_vec(k_lenient[i].name, "table row names no vector");
    for (size_t i = 0; i < vx_list_size(fx->lenient); i++) {
        const char *name = vxt_get_str(vx_list_get(fx->lenient, i), "name", NULL);
        const lenient_case *c = NULL;
        for (size_t k = 0; k < n; k++)
            if (strcmp(k_lenient[k].name, name) == 0) c = &k_lenient[k];
        if (!c) {
            fail_vec(name, "vector is in no table");
            continue;
        }
        for (int strict = 0; strict < 2; strict++) {
            int want = strict ? c->strict_code : c->code;
            vx_payload *p;
            vx_error err = {0};
            int rc = decode_named(fx, fx->lenient, name, strict, &p, &err);
            if (rc != want) {
                fail_vec(name, "%s: want %s, got %s (%s) -- %s",
                         strict ? "strict" : "lenient", vx_error_name(want),
                         vx_error_name(rc), err.message, c->section);
            } else if (rc == 0) {
                check_reencode(fx, name, p, c->json, strlen(c->json));
            } else if (err.message[0] == '\0') {
                fail_vec(name, "empty error message");
            }
            vx_payload_decref(p);
        }
    }
    assert_int_equal(g_failures, 0);
}

/* A few lenient vectors need more than their re-encoded text. */
static void test_lenient_vectors_decoded_values(void **state) {
    fixture *fx = *state;
    vx_payload *p;
    vx_error err = {0};

    /* C-14: {"_ct":"rp"} alone keeps a null date. */
    assert_int_equal(decode_named(fx, fx->lenient, "json_minimal", false, &p, &err), 0);
    assert_true(vx_is_null(vx_payload_date(p)));
    assert_true(vx_is_null(vx_payload_result(p)));
    assert_true(vx_payload_is_empty(p));
    vx_payload_decref(p);

    /* C-17: wrapped "2.0" is the float 2.0, not the int 2. */
    assert_int_equal(
        decode_named(fx, fx->lenient, "field_float_integral_collapses", false, &p, &err),
        0);
    vx_value *f = vx_list_get(vx_payload_tuples(p), 0);
    assert_int_equal(vx_typeof(f), VX_FLOAT);
    assert_true(vx_float_value(f) == 2.0);
    vx_payload_decref(p);

    /* C-19: wrapped "5" is the int 5. */
    assert_int_equal(decode_named(fx, fx->lenient, "field_int_as_string", false, &p, &err),
                     0);
    vx_value *i5 = vx_list_get(vx_payload_tuples(p), 0);
    assert_int_equal(vx_typeof(i5), VX_INT);
    assert_int_equal(vx_int_value(i5), 5);
    vx_payload_decref(p);

    /* C-26: numeric-looking keys stay strings, "1e3" not "1000.0". */
    assert_int_equal(
        decode_named(fx, fx->lenient, "dict_numeric_string_keys", false, &p, &err), 0);
    vx_value *d = vx_list_get(vx_payload_tuples(p), 0);
    assert_int_equal(vx_typeof(d), VX_DICT);
    static const char *const keys[] = {"1", "1.5", "1e3", "nan", "x"};
    assert_int_equal(vx_dict_size(d), 5);
    for (size_t k = 0; k < 5; k++) assert_non_null(vx_dict_get(d, keys[k]));
    vx_payload_decref(p);

    /* Duplicate keys: the last wins. */
    assert_int_equal(decode_named(fx, fx->lenient, "json_duplicate_keys", false, &p, &err),
                     0);
    assert_string_equal(vx_str_value(vx_dict_get(vx_payload_filt(p), "key")), "b");
    assert_int_equal(vx_dict_size(vx_payload_filt(p)), 1);
    vx_payload_decref(p);

    /* C-20: the bool strings PROTOCOL does accept, in the vector's shape. */
    vx_codec_opts o;
    opts_for(fx, &o, false);
    const char bools[] =
        "{\"_ct\": \"rp\", \"tuples\": [{\"_ft\": \"bool\", \"_fd\": \"1\"}, "
        "{\"_ft\": \"bool\", \"_fd\": \"0\"}, {\"_ft\": \"bool\", \"_fd\": "
        "true}, {\"_ft\": \"bool\", \"_fd\": false}]}";
    assert_int_equal(vx_json_decode_payload(bools, strlen(bools), &o, &p, &err), 0);
    vx_value *t = vx_payload_tuples(p);
    assert_int_equal(vx_list_size(t), 4);
    for (size_t k = 0; k < 4; k++) {
        assert_int_equal(vx_typeof(vx_list_get(t, k)), VX_BOOL);
        assert_int_equal(vx_bool_value(vx_list_get(t, k)), k % 2 == 0);
    }
    vx_payload_decref(p);
}

static void on_item(void *data, int status, const char *item, size_t len) {
    vx_buf *items = data;
    assert_int_equal(status, 0);
    assert_int_equal(vx_buf_append(items, item, len), 0);
    assert_int_equal(vx_buf_append(items, "\n", 1), 0);
}

/* b64_trailing_dot: the '.' is the stream delimiter (§2.3); a splitter
 * strips it and the msg then decodes. */
static void test_lenient_trailing_dot_is_stripped_by_splitter(void **state) {
    fixture *fx = *state;
    const vx_value *rec = vxt_find_named(fx->lenient, "b64_trailing_dot");
    assert_non_null(rec);
    size_t ml;
    const char *msg = vxt_get_str(rec, "vortexMsg", &ml);
    assert_true(ml > 1 && msg[ml - 1] == '.');

    vx_buf items = {0};
    vx_splitter *s = vx_splitter_new(VX_DEFAULT_MAX_MSG_BYTES, on_item, &items);
    assert_non_null(s);
    assert_int_equal(vx_splitter_feed(s, msg, ml), 0);
    assert_int_equal(vx_splitter_finish(s, true), 0);
    vx_splitter_free(s);
    assert_int_equal(items.len, ml); /* ml - 1 msg bytes + '\n' */

    vx_codec_opts o;
    opts_for(fx, &o, false);
    vx_payload *p = NULL;
    vx_error err = {0};
    int rc = vx_msg_decode(items.data, items.len - 1, &o, &p, &err);
    if (rc != 0) fail_msg("%s: %s", vx_error_name(rc), err.message);
    g_failures = 0;
    check_reencode(fx, "b64_trailing_dot", p, ECHO_JSON, strlen(ECHO_JSON));
    assert_int_equal(g_failures, 0);
    vx_payload_decref(p);
    vx_buf_free(&items);
}

/* ---- encode errors ------------------------------------------------------ */

/* What the 7 values vortexpy refuses to encode mean for a C API:
 *   dict_bool_key, dict_tuple_key  not expressible: vx dict keys are strings.
 *   object_value, complex_value   not expressible: vx_type is a closed set.
 *   ordereddict_value             a vx dict is already insertion-ordered:
 *                                 encodes fine, order kept (§4.1 dict).
 *   bool_subclass_int_enum        an enum is just an int in C: wrapped int.
 *   bytes_value                   VortexC encodes bytes (§4.1, C-21). */
static const char *const k_encode_error_names[] = {
    "dict_bool_key", "dict_tuple_key",    "bytes_value",           "object_value",
    "complex_value", "ordereddict_value", "bool_subclass_int_enum"};

static void test_C21_encode_error_vectors_expressible_in_c_encode(void **state) {
    fixture *fx = *state;
    size_t n = sizeof k_encode_error_names / sizeof k_encode_error_names[0];
    assert_int_equal(vx_list_size(fx->encerr), n);
    for (size_t i = 0; i < n; i++)
        assert_non_null(vxt_find_named(fx->encerr, k_encode_error_names[i]));

    vx_payload *p = vx_payload_new_blank();
    assert_non_null(p);
    vx_value *t = vx_payload_tuples(p);
    assert_int_equal(vx_list_append_new(t, vx_bytes("\x00\xff\x10", 3)), 0);
    vx_value *od = vx_dict();
    assert_int_equal(vx_dict_set_new(od, "z", vx_int(1)), 0);
    assert_int_equal(vx_dict_set_new(od, "a", vx_int(2)), 0);
    assert_int_equal(vx_list_append_new(t, od), 0);
    assert_int_equal(vx_list_append_new(t, vx_int(3)), 0);

    vx_codec_opts o;
    opts_for(fx, &o, false);
    vx_buf buf = {0};
    vx_error err = {0};
    assert_int_equal(vx_json_encode_payload(p, &o, &buf, &err), 0);
    const char want[] =
        HEAD "\"filt\": {}, \"replyFilt\": {}, \"tuples\": [{\"_ft\": \"bytes\", "
             "\"_fd\": \"AP8Q\"}, {\"z\": {\"_ft\": \"int\", \"_fd\": 1}, \"a\": "
             "{\"_ft\": \"int\", \"_fd\": 2}}, {\"_ft\": \"int\", \"_fd\": 3}], "
             "\"result\": null, \"date\": null}";
    assert_int_equal(buf.len, strlen(want));
    assert_memory_equal(buf.data, want, buf.len);

    vx_payload *back = NULL;
    assert_int_equal(vx_json_decode_payload(buf.data, buf.len, &o, &back, &err), 0);
    assert_true(vx_equal(vx_payload_as_value(p), vx_payload_as_value(back)));
    vx_payload_decref(back);
    vx_payload_decref(p);
    vx_buf_free(&buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector_files_load),
        cmocka_unit_test(test_C04_vortexpy_vectors_decode_and_reencode),
        cmocka_unit_test(test_decode_error_vectors_rejected_with_stage_code),
        cmocka_unit_test(test_C23_vectors_datetime_forms_vortexpy_rejects_are_accepted),
        cmocka_unit_test(test_C30_C31_vector_unknown_tuple_type),
        cmocka_unit_test(test_lenient_vectors_as_protocol_says),
        cmocka_unit_test(test_lenient_vectors_decoded_values),
        cmocka_unit_test(test_lenient_trailing_dot_is_stripped_by_splitter),
        cmocka_unit_test(test_C21_encode_error_vectors_expressible_in_c_encode),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
