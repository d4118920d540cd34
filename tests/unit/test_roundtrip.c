/* Randomized round trips: payload -> msg -> payload must give an equal value
 * at every zlib level (0-9) and with both separator styles, and the JSON
 * text must be a fixed point (decode + encode gives the same bytes).
 *
 * The generator is seeded and reproducible: the seed is printed; set VX_SEED
 * (decimal or 0x hex) to replay a run. Payload i uses its own sub-seed, so a
 * failure names the seed and index that reproduce it. VX_RT_PAYLOADS overrides
 * the number of random payloads (e.g. fewer under valgrind). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <vortexc/codec.h>
#include <vortexc/payload.h>
#include <vortexc/tuple.h>

#include "helpers/vxtest.h"

#define N_PAYLOADS 3000
#define N_LEVELS   10
/* JSON depth a generated container may start at; keeps random payloads well
 * inside max_depth (64), which has its own test below. */
#define GEN_MAX_DEPTH 24

static uint64_t g_seed;
static vx_registry *g_reg;

/* ---- random source: splitmix64 (tiny, good enough, reproducible) -------- */

typedef struct {
    uint64_t s;
} rng;

static uint64_t rnd(rng *r) {
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static uint32_t below(rng *r, uint32_t n) {
    return (uint32_t)(rnd(r) % n);
}

/* ---- scalar generators --------------------------------------------------- */

static int64_t gen_int(rng *r) {
    static const int64_t edge[] = {0,
                                   1,
                                   -1,
                                   INT64_MAX,
                                   INT64_MIN,
                                   INT64_MAX - 1,
                                   INT64_MIN + 1,
                                   9007199254740991LL,
                                   9007199254740993LL,
                                   -9007199254740993LL,
                                   2147483648LL,
                                   -2147483649LL};
    switch (below(r, 4)) {
    case 0:
        return edge[below(r, sizeof edge / sizeof edge[0])];
    case 1:
        return (int64_t)below(r, 2001) - 1000;
    default:
        return (int64_t)rnd(r);
    }
}

static double gen_float(rng *r) {
    static const double edge[] = {0.0,
                                  -0.0,
                                  1.0,
                                  2.0,
                                  -3.0,
                                  0.1,
                                  1e16,
                                  1e15,
                                  1e-4,
                                  1e-5,
                                  1e22,
                                  5e-324,
                                  2.2250738585072014e-308,
                                  1.7976931348623157e+308,
                                  -1.7976931348623157e+308,
                                  123456789.125,
                                  9007199254740993.0};
    switch (below(r, 4)) {
    case 0:
        return edge[below(r, sizeof edge / sizeof edge[0])];
    case 1:
        return (double)((int64_t)below(r, 2000001) - 1000000) / 8.0;
    default:
        for (;;) { /* random bit pattern, finite only (NaN/Inf cannot be encoded) */
            uint64_t bits = rnd(r);
            double d;
            memcpy(&d, &bits, sizeof d);
            if (d - d == 0.0) return d;
        }
    }
}

static size_t put_utf8(char *out, uint32_t cp) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static uint32_t gen_codepoint(rng *r) {
    switch (below(r, 8)) {
    case 0:
        return below(r, 0x20); /* controls, U+0000 included */
    case 1:
        return (uint8_t) "\"\\/\x7f_.e-"[below(r, 8)];
    case 2:
        return 0x80 + below(r, 0x800 - 0x80);
    case 3: {
        uint32_t cp = 0x800 + below(r, 0x10000 - 0x800 - 0x800);
        return cp >= 0xD800 ? cp + 0x800 : cp; /* skip surrogates */
    }
    case 4:
        return 0x10000 + below(r, 0x110000 - 0x10000); /* non-BMP */
    default:
        return 0x20 + below(r, 0x5F);
    }
}

/* Random valid UTF-8 of up to `max_cp` code points into buf (room 4*max_cp). */
static size_t gen_utf8(rng *r, char *buf, uint32_t max_cp) {
    size_t n = 0;
    uint32_t cps = below(r, max_cp + 1);
    for (uint32_t i = 0; i < cps; i++) n += put_utf8(buf + n, gen_codepoint(r));
    return n;
}

static vx_value *gen_str(rng *r) {
    char buf[4 * 16];
    size_t n = gen_utf8(r, buf, 16);
    return vx_strn(buf, n);
}

/* A dict key: random text, sometimes a numeric-looking or empty key (§4.5),
 * never the reserved "_ct"/"_ft" (§4.3). */
static size_t gen_key(rng *r, char *buf) {
    static const char *const special[] = {
        "12", "1.5", "nan", "", "-3", "1e3", "key", "__vortexUuid__", "true", "null"};
    if (below(r, 4) == 0) {
        const char *s = special[below(r, sizeof special / sizeof special[0])];
        strcpy(buf, s);
        return strlen(s);
    }
    for (;;) {
        size_t n = gen_utf8(r, buf, 8);
        if (!(n == 3 && (memcmp(buf, "_ct", 3) == 0 || memcmp(buf, "_ft", 3) == 0)))
            return n;
    }
}

static vx_value *gen_scalar(rng *r) {
    switch (below(r, 8)) {
    case 0:
        return vx_null();
    case 1:
        return vx_bool(below(r, 2));
    case 2:
        return vx_int(gen_int(r));
    case 3:
        return vx_float(gen_float(r));
    case 4:
        return gen_str(r);
    case 5: {
        uint8_t b[40];
        size_t n = below(r, sizeof b + 1);
        for (size_t i = 0; i < n; i++) b[i] = (uint8_t)rnd(r);
        return vx_bytes(b, n);
    }
    case 6: {
        uint64_t span = (uint64_t)(VX_DATETIME_MAX_US - VX_DATETIME_MIN_US) + 1;
        switch (below(r, 6)) {
        case 0:
            return vx_datetime(VX_DATETIME_MIN_US);
        case 1:
            return vx_datetime(VX_DATETIME_MAX_US);
        default:
            return vx_datetime(VX_DATETIME_MIN_US + (int64_t)(rnd(r) % span));
        }
    }
    default:
        return gen_str(r);
    }
}

/* ---- container generators ------------------------------------------------ */

static vx_value *gen_value(rng *r, int depth);

static vx_value *gen_dict(rng *r, int depth) {
    vx_value *d = vx_dict();
    assert_non_null(d);
    uint32_t n = below(r, 6);
    for (uint32_t i = 0; i < n; i++) {
        char key[4 * 8 + 16];
        size_t kl = gen_key(r, key);
        assert_int_equal(vx_dict_setn_new(d, key, kl, gen_value(r, depth + 1)), 0);
    }
    return d;
}

static vx_value *gen_list(rng *r, int depth) {
    vx_value *l = vx_list();
    assert_non_null(l);
    uint32_t n = below(r, 6);
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(vx_list_append_new(l, gen_value(r, depth + 1)), 0);
    return l;
}

static const char *const k_types[] = {"test.Person", "test.Address", "test.Team",
                                      "test.BenchRow", "test.CrudItem"};

static vx_value *gen_typed_tuple(rng *r, int depth) {
    const vx_tuple_type *t = vx_registry_find(g_reg, k_types[below(r, 5)]);
    assert_non_null(t);
    vx_value *v = vx_tuple_new(t);
    assert_non_null(v);
    size_t nf = vx_tuple_type_field_count(t);
    for (size_t i = 0; i < nf; i++)
        if (below(r, 2))
            assert_int_equal(vx_tuple_set_at_new(v, i, gen_value(r, depth + 1)), 0);
    return v;
}

/* Unregistered type (lenient decoding keeps it untyped, §5.3). */
static vx_value *gen_untyped_tuple(rng *r, int depth) {
    char name[4 * 8 + 8] = "u.";
    size_t nl = 2 + gen_utf8(r, name + 2, 8);
    name[nl] = '\0';
    if (strlen(name) != nl) strcpy(name, "u.nul"); /* a C-string API: no U+0000 here */
    vx_value *v = vx_tuple_new_untyped(name);
    assert_non_null(v);
    uint32_t n = below(r, 5);
    for (uint32_t i = 0; i < n; i++) {
        char field[4 * 8 + 8];
        size_t fl = gen_utf8(r, field, 8);
        field[fl] = '\0';
        if (fl == 0 || field[0] == '_' || strlen(field) != fl)
            snprintf(field, sizeof field, "f%u", i);
        assert_int_equal(vx_tuple_set_new(v, field, gen_value(r, depth + 1)), 0);
    }
    return v;
}

static vx_value *gen_date_or_null(rng *r) {
    if (below(r, 4) == 0) return vx_null();
    uint64_t span = (uint64_t)(VX_DATETIME_MAX_US - VX_DATETIME_MIN_US) + 1;
    return vx_datetime(VX_DATETIME_MIN_US + (int64_t)(rnd(r) % span));
}

/* A payload whose object sits at JSON depth `depth`. */
static vx_payload *gen_payload(rng *r, int depth) {
    vx_payload *p = vx_payload_new_blank();
    assert_non_null(p);
    assert_int_equal(vx_payload_set_filt_new(p, gen_dict(r, depth + 1)), 0);
    if (below(r, 3) == 0)
        assert_int_equal(vx_payload_set_reply_filt_new(p, gen_dict(r, depth + 1)), 0);
    assert_int_equal(vx_payload_set_tuples_new(p, gen_list(r, depth + 1)), 0);
    if (below(r, 2))
        assert_int_equal(vx_payload_set_result_new(p, gen_value(r, depth + 1)), 0);
    assert_int_equal(vx_payload_set_date_new(p, gen_date_or_null(r)), 0);
    return p;
}

/* A value at JSON depth `depth`; containers get rarer as depth grows. */
static vx_value *gen_value(rng *r, int depth) {
    if (depth >= GEN_MAX_DEPTH || below(r, 100) < 55 + (uint32_t)depth * 4)
        return gen_scalar(r);
    switch (below(r, 10)) {
    case 0:
    case 1:
    case 2:
        return gen_list(r, depth);
    case 3:
    case 4:
    case 5:
        return gen_dict(r, depth);
    case 6:
    case 7:
        return gen_typed_tuple(r, depth);
    case 8:
        return gen_untyped_tuple(r, depth);
    default:
        return vx_payload_as_value(gen_payload(r, depth));
    }
}

/* ---- checks ------------------------------------------------------------- */

typedef struct {
    vx_codec *codec[N_LEVELS][2]; /* [level][compact] */
    size_t msg_bytes[N_LEVELS];   /* total msg size per level, to see levels differ */
    vx_buf json, json2, msg;
} rt_state;

static void report(size_t index, const char *what, const vx_payload *p,
                   const char *detail) {
    char *r = vxt_repr(vx_payload_as_value((vx_payload *)p), 2000);
    fprintf(stderr,
            "round trip failure: %s\n  VX_SEED=%llu payload #%zu\n  %s\n  payload: %s\n",
            what, (unsigned long long)g_seed, index, detail ? detail : "", r ? r : "?");
    free(r);
    fail_msg("%s (VX_SEED=%llu, payload #%zu)", what, (unsigned long long)g_seed, index);
}

static bool is_ascii_json(const vx_buf *b) {
    for (size_t i = 0; i < b->len; i++) {
        unsigned char c = (unsigned char)b->data[i];
        if (c >= 0x80 || c < 0x20) return false;
    }
    return true;
}

static bool is_base64_text(const vx_buf *b) {
    if (b->len % 4 != 0) return false;
    for (size_t i = 0; i < b->len; i++) {
        char c = b->data[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                  (c >= '0' && c <= '9') || c == '+' || c == '/' ||
                  (c == '=' && i + 2 >= b->len);
        if (!ok) return false;
    }
    return true;
}

/* JSON level: encode, decode, compare; the text must be a fixed point. */
static void check_json(rt_state *st, size_t index, const vx_payload *p, bool compact) {
    vx_codec_opts o;
    vxt_opts(&o, g_reg, 6, compact);
    vx_error err = {0};
    st->json.len = st->json2.len = 0;
    int rc = vx_json_encode_payload(p, &o, &st->json, &err);
    if (rc != 0) report(index, "vx_json_encode_payload failed", p, err.message);
    if (!is_ascii_json(&st->json)) report(index, "JSON text is not ASCII-only", p, NULL);
    vx_payload *back = NULL;
    rc = vx_json_decode_payload(st->json.data, st->json.len, &o, &back, &err);
    if (rc != 0) report(index, "vx_json_decode_payload failed", p, err.message);
    char *d = vxt_diff(vx_payload_as_value((vx_payload *)p), vx_payload_as_value(back));
    if (d) report(index, "JSON round trip differs", p, d);
    rc = vx_json_encode_payload(back, &o, &st->json2, &err);
    if (rc != 0) report(index, "re-encoding the decoded payload failed", p, err.message);
    if (st->json2.len != st->json.len ||
        memcmp(st->json.data, st->json2.data, st->json.len))
        report(index, "JSON text is not a fixed point of decode+encode", p, NULL);
    vx_payload_decref(back);
}

/* Msg level with one codec. */
static void check_msg(rt_state *st, size_t index, const vx_payload *p, int level,
                      bool compact) {
    vx_error err = {0};
    vx_codec *c = st->codec[level][compact];
    st->msg.len = 0;
    int rc = vx_codec_encode(c, p, &st->msg, &err);
    char what[96];
    snprintf(what, sizeof what, "level %d %s", level, compact ? "compact" : "default");
    if (rc != 0) report(index, what, p, err.message);
    if (!is_base64_text(&st->msg)) report(index, "msg is not padded base64", p, what);
    st->msg_bytes[level] += st->msg.len;
    vx_payload *back = NULL;
    rc = vx_codec_decode(c, st->msg.data, st->msg.len, &back, &err);
    if (rc != 0) report(index, what, p, err.message);
    char *d = vxt_diff(vx_payload_as_value((vx_payload *)p), vx_payload_as_value(back));
    if (d) report(index, what, p, d);
    vx_payload_decref(back);
}

/* The one-shot API with fresh options, on a rotating level/style. */
static void check_oneshot(size_t index, const vx_payload *p) {
    vx_codec_opts o;
    vxt_opts(&o, g_reg, (int)(index % N_LEVELS), index % 3 == 0);
    vx_buf msg = {0};
    vx_error err = {0};
    int rc = vx_msg_encode(p, &o, &msg, &err);
    if (rc != 0) report(index, "vx_msg_encode failed", p, err.message);
    vx_payload *back = NULL;
    rc = vx_msg_decode(msg.data, msg.len, &o, &back, &err);
    if (rc != 0) report(index, "vx_msg_decode failed", p, err.message);
    char *d = vxt_diff(vx_payload_as_value((vx_payload *)p), vx_payload_as_value(back));
    if (d) report(index, "one-shot round trip differs", p, d);
    vx_payload_decref(back);
    vx_buf_free(&msg);
}

static int group_setup(void **state) {
    const char *env = getenv("VX_SEED");
    g_seed = env && *env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
    printf("test_roundtrip: VX_SEED=%llu\n", (unsigned long long)g_seed);
    fflush(stdout);
    g_reg = vxt_test_registry_new();
    return g_reg ? 0 : -1;
}

static int group_teardown(void **state) {
    if (g_reg) vx_registry_free(g_reg);
    g_reg = NULL;
    return 0;
}

static void test_C05_random_payloads_roundtrip_all_levels_both_separators(void **state) {
    rt_state st = {0};
    for (int l = 0; l < N_LEVELS; l++)
        for (int c = 0; c < 2; c++) {
            vx_codec_opts o;
            vxt_opts(&o, g_reg, l, c);
            st.codec[l][c] = vx_codec_new(&o);
            assert_non_null(st.codec[l][c]);
        }
    const char *env_n = getenv("VX_RT_PAYLOADS");
    size_t n_payloads = env_n && *env_n ? strtoull(env_n, NULL, 10) : N_PAYLOADS;
    clock_t t0 = clock();
    size_t json_bytes = 0, json_max = 0;
    for (size_t i = 0; i < n_payloads; i++) {
        rng r = {g_seed ^ (0xA5A5A5A5ULL * (i + 1))};
        vx_payload *p = gen_payload(&r, 1);
        check_json(&st, i, p, false);
        json_bytes += st.json.len;
        if (st.json.len > json_max) json_max = st.json.len;
        check_json(&st, i, p, true);
        for (int l = 0; l < N_LEVELS; l++)
            for (int c = 0; c < 2; c++) check_msg(&st, i, p, l, c);
        check_oneshot(i, p);
        vx_payload_decref(p);
    }
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    printf("test_roundtrip: %zu payloads (JSON mean %zu, max %zu bytes) x %d level/style "
           "pairs in %.2f s CPU\n",
           n_payloads, n_payloads ? json_bytes / n_payloads : 0, json_max, N_LEVELS * 2,
           secs);
    /* Each codec really used its level: stored blocks (0) are larger than
     * level 1, and level 1 larger than level 9, summed over all payloads. */
    printf("test_roundtrip: msg bytes at level 0/1/6/9: %zu/%zu/%zu/%zu\n", st.msg_bytes[0],
           st.msg_bytes[1], st.msg_bytes[6], st.msg_bytes[9]);
    fflush(stdout);
    if (n_payloads >= 100) {
        assert_true(st.msg_bytes[0] > st.msg_bytes[1]);
        assert_true(st.msg_bytes[1] > st.msg_bytes[9]);
    }
    for (int l = 0; l < N_LEVELS; l++)
        for (int c = 0; c < 2; c++) vx_codec_free(st.codec[l][c]);
    vx_buf_free(&st.json);
    vx_buf_free(&st.json2);
    vx_buf_free(&st.msg);
}

/* ---- targeted round trips ------------------------------------------------ */

/* Encode to JSON (default separators) and decode back; returns the decoded
 * payload and leaves the text in *json. */
static vx_payload *json_roundtrip(const vx_payload *p, vx_buf *json, bool strict) {
    vx_codec_opts o;
    vxt_opts(&o, g_reg, 6, false);
    o.strict_decode = strict;
    vx_error err = {0};
    json->len = 0;
    int rc = vx_json_encode_payload(p, &o, json, &err);
    if (rc != 0) fail_msg("encode: %s: %s", vx_error_name(rc), err.message);
    vx_payload *back = NULL;
    rc = vx_json_decode_payload(json->data, json->len, &o, &back, &err);
    if (rc != 0) fail_msg("decode: %s: %s", vx_error_name(rc), err.message);
    char *d = vxt_diff(vx_payload_as_value((vx_payload *)p), vx_payload_as_value(back));
    if (d) fail_msg("round trip differs %s", d);
    return back;
}

static void assert_contains(const vx_buf *b, const char *needle) {
    if (!memmem(b->data, b->len, needle, strlen(needle)))
        fail_msg("JSON lacks %s:\n%.*s", needle, (int)b->len, b->data);
}

/* Every level and style through the msg layer. */
static void msg_roundtrip_all_levels(const vx_payload *p) {
    for (int l = 0; l < N_LEVELS; l++)
        for (int c = 0; c < 2; c++) {
            vx_codec_opts o;
            vxt_opts(&o, g_reg, l, c);
            vx_buf msg = {0};
            vx_error err = {0};
            assert_int_equal(vx_msg_encode(p, &o, &msg, &err), 0);
            vx_payload *back = NULL;
            int rc = vx_msg_decode(msg.data, msg.len, &o, &back, &err);
            if (rc != 0) fail_msg("level %d: %s %s", l, vx_error_name(rc), err.message);
            char *d =
                vxt_diff(vx_payload_as_value((vx_payload *)p), vx_payload_as_value(back));
            if (d) fail_msg("level %d compact %d: %s", l, c, d);
            vx_payload_decref(back);
            vx_buf_free(&msg);
        }
}

static void test_C21_bytes_roundtrip(void **state) {
    vx_payload *p = vx_payload_new_blank();
    vx_value *t = vx_payload_tuples(p);
    uint8_t all[256];
    for (int i = 0; i < 256; i++) all[i] = (uint8_t)i;
    assert_int_equal(vx_list_append_new(t, vx_bytes("", 0)), 0);
    assert_int_equal(vx_list_append_new(t, vx_bytes("a", 1)), 0);
    assert_int_equal(vx_list_append_new(t, vx_bytes("ab", 2)), 0);
    assert_int_equal(vx_list_append_new(t, vx_bytes("abc", 3)), 0);
    assert_int_equal(vx_list_append_new(t, vx_bytes("\xfb\xff\x00", 3)), 0);
    assert_int_equal(vx_list_append_new(t, vx_bytes(all, sizeof all)), 0);
    assert_int_equal(vx_dict_set_new(vx_payload_filt(p), "b", vx_bytes("\0\0", 2)), 0);

    vx_buf json = {0};
    vx_payload *back = json_roundtrip(p, &json, false);
    /* Padded standard alphabet, including '+' and '/'. */
    assert_contains(&json, "{\"_ft\": \"bytes\", \"_fd\": \"\"}");
    assert_contains(&json, "{\"_ft\": \"bytes\", \"_fd\": \"YQ==\"}");
    assert_contains(&json, "{\"_ft\": \"bytes\", \"_fd\": \"YWI=\"}");
    assert_contains(&json, "{\"_ft\": \"bytes\", \"_fd\": \"YWJj\"}");
    assert_contains(&json, "{\"_ft\": \"bytes\", \"_fd\": \"+/8A\"}");
    assert_contains(&json, "\"filt\": {\"b\": {\"_ft\": \"bytes\", \"_fd\": \"AAA=\"}}");
    vx_value *b = vx_list_get(vx_payload_tuples(back), 5);
    assert_int_equal(vx_typeof(b), VX_BYTES);
    assert_int_equal(vx_bytes_len(b), 256);
    assert_memory_equal(vx_bytes_data(b), all, 256);
    msg_roundtrip_all_levels(p);
    vx_payload_decref(back);
    vx_payload_decref(p);
    vx_buf_free(&json);
}

static void test_C26_numeric_looking_dict_keys_stay_strings(void **state) {
    static const char *const keys[] = {"12", "1.5", "nan", "", "1e3", "-0", "Infinity"};
    const size_t n = sizeof keys / sizeof keys[0];
    vx_payload *p = vx_payload_new_blank();
    vx_value *inner = vx_dict();
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(vx_dict_set_new(vx_payload_filt(p), keys[i], vx_int((int64_t)i)),
                         0);
        assert_int_equal(vx_dict_set_new(inner, keys[i], vx_str(keys[i])), 0);
    }
    assert_int_equal(vx_list_append_new(vx_payload_tuples(p), inner), 0);

    vx_buf json = {0};
    vx_payload *back = json_roundtrip(p, &json, false);
    assert_contains(&json,
                    "\"filt\": {\"12\": {\"_ft\": \"int\", \"_fd\": 0}, \"1.5\": "
                    "{\"_ft\": \"int\", \"_fd\": 1}, \"nan\": {\"_ft\": \"int\", \"_fd\": "
                    "2}, \"\": {\"_ft\": \"int\", \"_fd\": 3}");
    vx_value *bf = vx_payload_filt(back);
    vx_value *bi = vx_list_get(vx_payload_tuples(back), 0);
    assert_int_equal(vx_dict_size(bf), n);
    assert_int_equal(vx_dict_size(bi), n);
    for (size_t i = 0; i < n; i++) {
        vx_value *v = vx_dict_get(bf, keys[i]);
        assert_non_null(v);
        assert_int_equal(vx_int_value(v), (int64_t)i);
        assert_string_equal(vx_str_value(vx_dict_get(bi, keys[i])), keys[i]);
    }
    msg_roundtrip_all_levels(p);
    vx_payload_decref(back);
    vx_payload_decref(p);
    vx_buf_free(&json);
}

/* An unregistered type decodes untyped and re-encodes to the same text. */
static void test_C30_unregistered_tuple_reencodes_identically(void **state) {
    static const char json[] =
        "{\"_ct\": \"rp\", \"_c\": \"vortex.Payload.Payload\", \"filt\": {\"key\": "
        "\"relay\"}, "
        "\"replyFilt\": {}, \"tuples\": [{\"_ct\": \"rt\", \"_c\": \"x.Unknown\", \"a\": "
        "\"s\\u00e9\", \"b\": {\"_ft\": \"int\", \"_fd\": -9223372036854775808}, \"c\": "
        "[1.5, "
        "null, {\"_ft\": \"datetime\", \"_fd\": \"0001-01-01 00:00:00.000000\"}], \"d\": "
        "{\"_ct\": "
        "\"rt\", \"_c\": \"test.Address\", \"city\": \"\", \"postcode\": null, \"street\": "
        "\"\"}, \"e\": {\"_ct\": \"rt\", \"_c\": \"x.Other\"}, \"f\": {\"_ft\": \"bytes\", "
        "\"_fd\": \"AAE=\"}}, {\"_ct\": \"rt\", \"_c\": \"x.Empty\"}], \"result\": null, "
        "\"date\": {\"_ft\": \"datetime\", \"_fd\": \"9999-12-31 23:59:59.999999\"}}";
    vx_codec_opts o;
    vxt_opts(&o, g_reg, 6, false);
    vx_payload *p = NULL;
    vx_error err = {0};
    int rc = vx_json_decode_payload(json, strlen(json), &o, &p, &err);
    if (rc != 0) fail_msg("%s: %s", vx_error_name(rc), err.message);
    vx_value *t = vx_list_get(vx_payload_tuples(p), 0);
    assert_int_equal(vx_typeof(t), VX_TUPLE);
    assert_null(vx_tuple_type_of(t));
    assert_string_equal(vx_tuple_name(t), "x.Unknown");
    assert_int_equal(vx_tuple_field_count(t), 6);
    assert_non_null(vx_tuple_type_of(vx_tuple_get(t, "d"))); /* registered inside unknown */

    vx_buf out = {0};
    assert_int_equal(vx_json_encode_payload(p, &o, &out, &err), 0);
    assert_int_equal(out.len, strlen(json));
    assert_memory_equal(out.data, json, out.len);
    msg_roundtrip_all_levels(p);
    vx_payload_decref(p);

    /* Fields received out of order come back sorted by name (§5.2). */
    static const char unsorted[] =
        "{\"_ct\": \"rp\", \"tuples\": [{\"_ct\": \"rt\", \"_c\": "
        "\"x.U\", \"zeta\": true, \"alpha\": null, \"Mid\": \"m\"}]}";
    rc = vx_json_decode_payload(unsorted, strlen(unsorted), &o, &p, &err);
    if (rc != 0) fail_msg("%s: %s", vx_error_name(rc), err.message);
    out.len = 0;
    assert_int_equal(
        vx_json_encode_value(vx_list_get(vx_payload_tuples(p), 0), &o, &out, &err), 0);
    static const char sorted[] =
        "{\"_ct\": \"rt\", \"_c\": \"x.U\", \"Mid\": \"m\", \"alpha\": "
        "null, \"zeta\": true}";
    assert_int_equal(out.len, strlen(sorted));
    assert_memory_equal(out.data, sorted, out.len);
    vx_payload_decref(p);
    vx_buf_free(&out);
}

static void test_C33_payload_nested_in_tuples_roundtrips(void **state) {
    vx_payload *inner = vx_payload_new_key("inner");
    assert_int_equal(vx_list_append_new(vx_payload_tuples(inner), vx_int(1)), 0);
    assert_int_equal(vx_payload_set_result_new(inner, vx_str("boom")), 0);
    vx_payload *innermost = vx_payload_new_blank(); /* null date must stay null */
    assert_int_equal(vx_dict_set_new(vx_payload_reply_filt(innermost), "r", vx_float(0.5)),
                     0);
    assert_int_equal(
        vx_list_append_new(vx_payload_tuples(inner), vx_payload_as_value(innermost)), 0);

    vx_value *team = vx_tuple_new(vx_registry_find(g_reg, "test.Team"));
    assert_non_null(team);
    assert_int_equal(vx_tuple_set(team, "leader", vx_payload_as_value(inner)),
                     0); /* payload as a field */
    vx_value *untyped = vx_tuple_new_untyped("x.Carrier");
    assert_int_equal(vx_tuple_set(untyped, "p", vx_payload_as_value(inner)), 0);

    vx_payload *p = vx_payload_new_key("outer");
    vx_value *t = vx_payload_tuples(p);
    assert_int_equal(vx_list_append(t, vx_payload_as_value(inner)), 0);
    assert_int_equal(vx_list_append_new(t, team), 0);
    assert_int_equal(vx_list_append_new(t, untyped), 0);

    vx_buf json = {0};
    vx_payload *back = json_roundtrip(p, &json, false);
    assert_contains(&json,
                    "\"tuples\": [{\"_ct\": \"rp\", \"_c\": \"vortex.Payload.Payload\", "
                    "\"filt\": {\"key\": \"inner\"}");
    vx_value *b0 = vx_list_get(vx_payload_tuples(back), 0);
    assert_int_equal(vx_typeof(b0), VX_PAYLOAD);
    vx_payload *bin = vx_value_as_payload(b0);
    assert_string_equal(vx_str_value(vx_payload_result(bin)), "boom");
    vx_value *bmost = vx_list_get(vx_payload_tuples(bin), 1);
    assert_int_equal(vx_typeof(bmost), VX_PAYLOAD);
    assert_true(vx_is_null(vx_payload_date(vx_value_as_payload(bmost))));
    assert_int_equal(
        vx_typeof(vx_tuple_get(vx_list_get(vx_payload_tuples(back), 1), "leader")),
        VX_PAYLOAD);
    msg_roundtrip_all_levels(p);
    vx_payload_decref(back);
    vx_payload_decref(p);
    vx_payload_decref(inner);
    vx_buf_free(&json);
}

/* A payload nested exactly to max_depth round-trips; one level more is
 * refused by the encoder as the decoder would refuse it (§6.1). */
static vx_payload *deep_payload(int wrapped_at) {
    vx_payload *p = vx_payload_new_blank();
    vx_value *cur = vx_payload_tuples(p); /* depth 2 */
    for (int d = 3; d < wrapped_at; d++) {
        vx_value *l = vx_list();
        assert_int_equal(vx_list_append_new(cur, l), 0);
        cur = l;
    }
    assert_int_equal(vx_list_append_new(cur, vx_int(7)), 0); /* wrapped: one more level */
    return p;
}

static void test_C11_max_depth_boundary_roundtrips(void **state) {
    vx_payload *ok = deep_payload(VX_DEFAULT_MAX_DEPTH);
    vx_buf json = {0};
    vx_payload *back = json_roundtrip(ok, &json, false);
    vx_payload_decref(back);
    msg_roundtrip_all_levels(ok);
    vx_payload_decref(ok);

    vx_payload *deep = deep_payload(VX_DEFAULT_MAX_DEPTH + 1);
    vx_codec_opts o;
    vxt_opts(&o, g_reg, 6, false);
    vx_error err = {0};
    json.len = 0;
    assert_int_equal(vx_json_encode_payload(deep, &o, &json, &err), VX_E_DEPTH);
    vx_buf msg = {0};
    assert_int_equal(vx_msg_encode(deep, &o, &msg, &err), VX_E_DEPTH);
    assert_int_equal(msg.len, 0);
    vx_payload_decref(deep);
    vx_buf_free(&json);
    vx_buf_free(&msg);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_C05_random_payloads_roundtrip_all_levels_both_separators),
        cmocka_unit_test(test_C21_bytes_roundtrip),
        cmocka_unit_test(test_C26_numeric_looking_dict_keys_stay_strings),
        cmocka_unit_test(test_C30_unregistered_tuple_reencodes_identically),
        cmocka_unit_test(test_C33_payload_nested_in_tuples_roundtrips),
        cmocka_unit_test(test_C11_max_depth_boundary_roundtrips),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
