/* Codec and router benchmark (`make bench`). Prints plain-text tables; every
 * ratio is against a floor measured in the same run, so the numbers compare
 * like with like on whatever machine runs it. Never pass/fail: exits 0.
 * bench/README.md explains each table.
 *
 * Usage: bench_codec [seconds-per-row]   (default 0.3) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <libdeflate.h>
#include <zlib.h>

#include <vortexc/codec.h>
#include <vortexc/router.h>

#include "bench_data.h"
#include "bench_ops.h"
#include "bench_policy.h"
#include "bench_timing.h"

#ifdef VX_HAVE_YAJL
#include <yajl/yajl_version.h>
#endif

#define ENCODE_TARGET 1.15
#define DECODE_TARGET 2.0
#define ROUTER_TARGET 1.1
#define ROUTER_OTHERS 100000
#define ZLIB_MAX      9
#define LD_MAX        12
#define SMALL_VECTOR  "filt_key_string"
#define VECTORS       VX_TEST_VECTORS "/vortexpy-0.3.1.jsonl"

/* One benchmark input: a payload, its JSON as our encoder writes it, its msg
 * at the default level, and the zlib-9 stream vortexpy would send. */
typedef struct input {
    const char *label;
    vx_payload *p;
    vx_buf json;
    vx_buf msg;
    uint8_t *z9;
    size_t z9_len;
    size_t zsize[ZLIB_MAX + 1]; /* compressed sizes by zlib level */
    size_t lsize[LD_MAX + 1];   /* ... by libdeflate level */
    double zus[ZLIB_MAX + 1];   /* µs per compression */
    double lus[LD_MAX + 1];
} input;

/* ---- compression policy ------------------------------------------------ */

/* The library and level vx_zlib_compress really uses for `level` and a JSON
 * text of `len` bytes. Mirrors src/codec/deflate.c; codec_section checks the
 * codec's output against it byte for byte and says so if they part. */
typedef struct zchoice {
    bool zlib; /* zlib's deflate (else libdeflate) */
    int level;
} zchoice;

static zchoice resolve_level(int level, size_t len) {
    if (level == VX_ZLIB_LEVEL_AUTO)
        return len < VX_ZLIB_AUTO_SMALL_JSON ? (zchoice){true, 9} : (zchoice){false, 6};
    return (zchoice){false, level};
}

static const char *zchoice_name(zchoice z) {
    static char buf[4][32];
    static int k;
    char *b = buf[k++ % 4];
    snprintf(b, sizeof buf[0], "%s %d", z.zlib ? "zlib" : "libdeflate", z.level);
    return b;
}

static void print_policy(int level) {
    if (level == VX_ZLIB_LEVEL_AUTO)
        printf("compression: VX_DEFAULT_ZLIB_LEVEL = VX_ZLIB_LEVEL_AUTO: JSON under %d B "
               "-> zlib deflate level 9 (reused z_stream, as vortexpy), larger -> "
               "libdeflate level 6\n",
               VX_ZLIB_AUTO_SMALL_JSON);
    else
        printf("compression: libdeflate level %d for every size (opts.zlib_level)\n",
               level);
}

/* ---- printing ----------------------------------------------------------- */

static void print_head(void) {
    printf("  %-46s %11s %10s %9s %7s\n", "", "ops/s", "us/op", "MB/s JSON", "spread");
}

/* Print one measured row; MB/s is of `json_len` bytes (0: not shown).
 * Returns µs per op. */
static double print_row(const char *name, bx_result r, size_t json_len, const char *note) {
    double us = r.ns_op / 1e3;
    char mbs[32] = "";
    if (json_len) snprintf(mbs, sizeof mbs, "%9.1f", (double)json_len / r.ns_op * 1e3);
    printf("  %-46s %11.0f %10.2f %9s %6.1f%%  %s\n", name, 1e9 / r.ns_op, us, mbs,
           r.spread * 100, note ? note : "");
    return us;
}

static void skip_row(const char *name, const vx_error *err) {
    printf("  %-46s SKIPPED: %s: %s\n", name, vx_error_name(err->code), err->message);
}

static const char *verdict(double ratio, double target) {
    return ratio <= target ? "within target" : "OVER target";
}

/* ---- sections ----------------------------------------------------------- */

static void print_machine(int level) {
    char when[64];
    time_t t = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", gmtime(&t));
    struct utsname u;
    uname(&u);
    char cpu[128] = "unknown CPU";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f)) {
            char *colon = strchr(line, ':');
            if (strncmp(line, "model name", 10) == 0 && colon) {
                snprintf(cpu, sizeof cpu, "%s", colon + 2);
                cpu[strcspn(cpu, "\n")] = '\0';
                break;
            }
        }
        fclose(f);
    }
    printf("VortexC codec/router benchmark, %s\n", when);
    printf("machine: %s %s, %ld online cores, %s\n", u.sysname, u.machine,
           sysconf(_SC_NPROCESSORS_ONLN), cpu);
    printf("libraries: libdeflate %s, zlib %s", LIBDEFLATE_VERSION_STRING, zlibVersion());
#ifdef VX_HAVE_YAJL
    printf(", yajl %d", yajl_version());
#else
    printf(", yajl not linked");
#endif
#ifdef NDEBUG
    printf("; NDEBUG build\n");
#else
    printf("; assertions ON (not a Release build: numbers are pessimistic)\n");
#endif
    print_policy(level);
    printf(
        "timing: %.2f s per row = %d batches, median shown, spread = (max-min)/median\n\n",
        bx_row_seconds, BX_BATCHES);
}

/* Section 2 for one input; fills ratios[0..1] (encode, decode vs floor).
 * Each comparison is measured as one interleaved group. */
static void codec_section(input *in, vx_codec *codec, double ratios[2]) {
    const vx_codec_opts *o = vx_codec_options(codec);
    size_t jl = in->json.len;
    /* The floor is the library and level the codec itself uses for this
     * size, so encode/floor measures only what the codec adds. */
    zchoice zc = resolve_level(o->zlib_level, jl);
    printf("-- 2. codec, %s: JSON %zu B -> msg %zu B with %s --\n", in->label, jl,
           in->msg.len, zchoice_name(zc));
    print_head();
    op_ctx base = {.codec = codec, .opts = o, .p = in->p};
    base.scratch_cap = compressBound((uLong)jl) + 1024;
    base.scratch2_cap = jl + 64;
    base.scratch = malloc(base.scratch_cap);
    base.scratch2 = malloc(base.scratch2_cap);
    base.ld = libdeflate_alloc_decompressor();
    op_ctx by_json = base, by_msg = base, emit = base;
    by_json.in = in->json.data;
    by_json.in_len = jl;
    by_msg.in = in->msg.data;
    by_msg.in_len = in->msg.len;
    /* Set up in place: a z_stream must not be copied after deflateInit. */
    if (zc.zlib)
        deflateInit(&by_json.zs, zc.level);
    else
        by_json.lc = libdeflate_alloc_compressor(zc.level);
    char note[96];

    /* The floor's output must be the codec's compressed bytes exactly. */
    size_t flen;
    if (zc.zlib) {
        op_z_compress(&by_json, 1);
        flen = by_json.zs.total_out;
    } else {
        flen = libdeflate_zlib_compress(by_json.lc, by_json.in, jl, by_json.scratch,
                                        by_json.scratch_cap);
    }
    uint8_t *raw = malloc(in->msg.len);
    long rl = raw ? bd_b64_decode(in->msg.data, in->msg.len, raw) : -1;
    if (rl < 0 || (size_t)rl != flen || memcmp(raw, by_json.scratch, flen) != 0)
        printf("  WARNING: the codec's compressed bytes differ from %s's: resolve_level "
               "in bench/codec.c no longer matches src/codec/deflate.c\n",
               zchoice_name(zc));
    free(raw);

    bx_job e[3] = {{.fn = op_encode, .ctx = &base},
                   {.fn = op_emit, .ctx = &emit},
                   {.fn = zc.zlib ? op_z_compress : op_ld_compress, .ctx = &by_json}};
    bx_measure_group(e, 3);
    double enc = print_row("encode   vx_codec_encode", e[0].r, jl, NULL);
    double em = print_row("  part   JSON emit (vx_json_encode_payload)", e[1].r, jl, NULL);
    snprintf(note, sizeof note, "%s L%d (= codec output)",
             zc.zlib ? "zlib deflate" : "libdeflate_zlib_compress", zc.level);
    double cfl = print_row("  floor  compress JSON, reused compressor", e[2].r, jl, note);
    ratios[0] = enc / cfl;
    printf("  => encode/floor %.2f (target <= %.2f, %s); JSON emit = %.0f%% of encode, "
           "compress+base64 = %.0f%%\n",
           ratios[0], ENCODE_TARGET, verdict(ratios[0], ENCODE_TARGET), 100 * em / enc,
           100 * (enc - em) / enc);

    bx_job d[4] = {{.fn = op_decode, .ctx = &by_msg},
                   {.fn = op_parse_typed, .ctx = &by_json},
                   {.fn = op_lib_b64, .ctx = &by_msg},
                   {.fn = op_floor_decode, .ctx = &by_msg}};
    bx_measure_group(d, 4);
    double dec = print_row("decode   vx_codec_decode", d[0].r, jl, NULL);
    double parse =
        print_row("  part   JSON parse (vx_json_decode_payload)", d[1].r, jl, NULL);
    print_row("  part   base64 decode (vx_base64_decode)", d[2].r, jl, NULL);
    double dfl = print_row("  floor  plain base64 + inflate", d[3].r, jl,
                           "libdeflate_zlib_decompress");
    ratios[1] = dec / dfl;
    printf("  => decode/floor %.2f (target <= %.2f, %s); JSON parse = %.0f%% of decode, "
           "the rest %.0f%%\n\n",
           ratios[1], DECODE_TARGET, verdict(ratios[1], DECODE_TARGET), 100 * parse / dec,
           100 * (dec - parse) / dec);
    if (zc.zlib)
        deflateEnd(&by_json.zs);
    else
        libdeflate_free_compressor(by_json.lc);
    libdeflate_free_decompressor(base.ld);
    vx_buf_free(&base.out);
    vx_buf_free(&emit.out);
    free(base.scratch);
    free(base.scratch2);
}

/* Compressed sizes (untimed) and times of every zlib and libdeflate level,
 * all levels of one payload measured as one interleaved group. */
static void measure_levels(input *in) {
    op_ctx c[ZLIB_MAX + LD_MAX];
    bx_job jobs[ZLIB_MAX + LD_MAX];
    size_t cap = compressBound((uLong)in->json.len) + 1024;
    uint8_t *scratch = malloc(cap);
    for (int j = 0; j < ZLIB_MAX + LD_MAX; j++) {
        int zl = j < ZLIB_MAX, lv = zl ? j + 1 : j - ZLIB_MAX + 1;
        c[j] = (op_ctx){.in = in->json.data, .in_len = in->json.len};
        c[j].scratch = scratch;
        c[j].scratch_cap = cap;
        jobs[j] = (bx_job){.fn = zl ? op_z_compress : op_ld_compress, .ctx = &c[j]};
        if (zl) {
            deflateInit(&c[j].zs, lv);
            op_z_compress(&c[j], 1);
            in->zsize[lv] = c[j].zs.total_out;
            if (lv == 9) {
                in->z9 = malloc(in->zsize[lv]);
                memcpy(in->z9, scratch, in->zsize[lv]);
                in->z9_len = in->zsize[lv];
            }
        } else {
            c[j].lc = libdeflate_alloc_compressor(lv);
            in->lsize[lv] =
                libdeflate_zlib_compress(c[j].lc, c[j].in, c[j].in_len, scratch, cap);
        }
    }
    bx_measure_group(jobs, ZLIB_MAX + LD_MAX);
    for (int j = 0; j < ZLIB_MAX + LD_MAX; j++) {
        if (j < ZLIB_MAX) {
            in->zus[j + 1] = jobs[j].r.ns_op / 1e3;
            deflateEnd(&c[j].zs);
        } else {
            in->lus[j - ZLIB_MAX + 1] = jobs[j].r.ns_op / 1e3;
            libdeflate_free_compressor(c[j].lc);
        }
    }
    free(scratch);
}

static void level_section(input *a, input *b, int default_level) {
    printf("-- 3. compression library and level (size baseline: zlib 9 = vortexpy's) --\n");
    printf("  timing: one whole-buffer compression of the JSON, compressor reused\n");
    measure_levels(a);
    measure_levels(b);
    printf("  %-14s %10s %8s %9s   %10s %8s %9s   %9s\n", "", "size", "vs z9", "us", "size",
           "vs z9", "us", "cpu vs z9");
    printf("  %-14s %29s   %29s\n", "", a->label, b->label);
    zchoice da = resolve_level(default_level, a->json.len),
            db = resolve_level(default_level, b->json.len);
    int best = 0, best9 = 0;
    double best_cpu = 0, best9_cpu = 0;
    for (int lib = 0; lib < 2; lib++) {
        int max = lib ? LD_MAX : ZLIB_MAX;
        for (int lv = 1; lv <= max; lv++) {
            size_t sa = lib ? a->lsize[lv] : a->zsize[lv];
            size_t sb = lib ? b->lsize[lv] : b->zsize[lv];
            double ta = lib ? a->lus[lv] : a->zus[lv];
            double tb = lib ? b->lus[lv] : b->zus[lv];
            /* CPU relative to zlib 9, averaged over both payloads so neither
             * size dominates the choice. */
            double cpu = (ta / a->zus[9] + tb / b->zus[9]) / 2;
            bool fits = sa <= a->zsize[9] && sb <= b->zsize[9];
            char mark[96] = "";
            bool is_a = da.zlib == !lib && da.level == lv,
                 is_b = db.zlib == !lib && db.level == lv;
            if (!lib && lv == 9) {
                if (default_level == VX_ZLIB_LEVEL_AUTO)
                    snprintf(mark, sizeof mark,
                             "  <- size baseline (vortexpy); default under %d B",
                             VX_ZLIB_AUTO_SMALL_JSON);
                else
                    snprintf(mark, sizeof mark, "  <- size baseline (vortexpy)");
            }
            if (is_a || is_b)
                snprintf(mark + strlen(mark), sizeof mark - strlen(mark),
                         "  <- default for %s",
                         is_a && is_b ? "both"
                         : is_a       ? a->label
                                      : b->label);
            printf("  %-10s %3d %10zu %+7.1f%% %9.1f   %10zu %+7.1f%% %9.1f   %8.2fx%s%s\n",
                   lib ? "libdeflate" : "zlib", lv, sa,
                   100.0 * ((double)sa / (double)a->zsize[9] - 1), ta, sb,
                   100.0 * ((double)sb / (double)b->zsize[9] - 1), tb, cpu,
                   lib && fits ? "  fits" : "", mark);
            if (lib && fits && (!best || cpu < best_cpu)) {
                best = lv;
                best_cpu = cpu;
            }
            if (lib && fits && lv <= 9 && (!best9 || cpu < best9_cpu)) {
                best9 = lv;
                best9_cpu = cpu;
            }
        }
    }
    printf("  'fits' = libdeflate output <= zlib 9's on both payloads\n");
    if (best)
        printf("  => cheapest libdeflate level that fits: %d (%.2fx zlib 9's CPU)\n", best,
               best_cpu);
    else
        printf("  => no libdeflate level fits under zlib 9's size on both payloads\n");
    if (best9 && best9 != best)
        printf("  => cheapest fitting level within zlib's 0-9 range: %d (%.2fx)\n", best9,
               best9_cpu);
    if (default_level == VX_ZLIB_LEVEL_AUTO)
        printf("  => the default (VX_ZLIB_LEVEL_AUTO) uses %s on the 100-row and %s on the "
               "1000-row JSON; small JSON: section 3b\n\n",
               zchoice_name(da), zchoice_name(db));
    else
        printf("  => opts.zlib_level is %d\n\n", default_level);

    printf("  inflate of the zlib-9 stream (what vortexpy sends), reused state:\n");
    print_head();
    input *ins[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        input *in = ins[i];
        op_ctx c = {.in = (const char *)in->z9, .in_len = in->z9_len};
        c.scratch2_cap = in->json.len + 64;
        c.scratch2 = malloc(c.scratch2_cap);
        c.ld = libdeflate_alloc_decompressor();
        inflateInit(&c.zs);
        bx_job j[2] = {{.fn = op_z_inflate, .ctx = &c}, {.fn = op_ld_inflate, .ctx = &c}};
        bx_measure_group(j, 2);
        char name[96];
        snprintf(name, sizeof name, "zlib inflate, %s", in->label);
        double z = print_row(name, j[0].r, in->json.len, NULL);
        snprintf(name, sizeof name, "libdeflate_zlib_decompress, %s", in->label);
        double l = print_row(name, j[1].r, in->json.len, NULL);
        printf("  => zlib/libdeflate inflate time %.2fx\n", z / l);
        inflateEnd(&c.zs);
        libdeflate_free_decompressor(c.ld);
        free(c.scratch2);
    }
    printf("\n");
}

static void parser_section(input *ins[2], const vx_codec_opts *opts) {
    printf("-- 4. JSON parser choice (same JSON text, whole buffer) --\n");
#ifndef VX_HAVE_YAJL
    printf("  yajl not linked (build defines no VX_HAVE_YAJL): ratios are against "
           "vx_json_parse_plain\n");
#endif
    print_head();
    for (int i = 0; i < 2; i++) {
        op_ctx c = {.opts = opts, .in = ins[i]->json.data, .in_len = ins[i]->json.len};
        size_t jl = c.in_len;
        char name[96];
        bx_job j[3] = {{.fn = op_parse_plain, .ctx = &c},
                       {.fn = op_parse_typed, .ctx = &c},
                       {.fn = NULL}};
        int nj = 2;
#ifdef VX_HAVE_YAJL
        j[nj++] = (bx_job){.fn = op_yajl, .ctx = &c};
#endif
        bx_measure_group(j, nj);
        double base = 0;
#ifdef VX_HAVE_YAJL
        snprintf(name, sizeof name, "yajl SAX, no-op callbacks, %s", ins[i]->label);
        base = print_row(name, j[2].r, jl, "alloc+parse+free");
#endif
        snprintf(name, sizeof name, "vx_json_parse_plain (tree), %s", ins[i]->label);
        double plain = print_row(name, j[0].r, jl, NULL);
        snprintf(name, sizeof name, "vx_json_decode_payload (typed), %s", ins[i]->label);
        double typed = print_row(name, j[1].r, jl, NULL);
        if (base == 0) base = plain;
        printf("  => vs %s: plain %.2fx, typed %.2fx\n",
#ifdef VX_HAVE_YAJL
               "yajl",
#else
               "plain",
#endif
               plain / base, typed / base);
    }
    printf("\n");
}

/* Section 5; returns the 100k/1 ratio (0 if it could not run). */
static double router_section(vx_payload *p) {
    printf("-- 5. router: dispatch of a matching payload (filt key \"bench.100\") --\n");
    print_head();
    uint64_t hits = 0;
    vx_error err = {0};
    vx_router *small = vx_router_new(), *big = vx_router_new();
    vx_value *filt = vx_dict();
    double ratio = 0;
    if (!small || !big || !filt) goto out;
    vx_dict_set_new(filt, "key", vx_str("bench.100"));
    if (vx_router_add(small, filt, endpoint_hit, &hits, NULL, &err) != 0) {
        skip_row("router add", &err);
        goto out;
    }
    char key[32];
    for (int i = 0; i < ROUTER_OTHERS; i++) {
        vx_value *f = vx_dict();
        snprintf(key, sizeof key, "other.%06d", i);
        vx_dict_set_new(f, "key", vx_str(key));
        int rc = vx_router_add(big, f, endpoint_hit, &hits, NULL, &err);
        vx_decref(f);
        if (rc != 0) {
            skip_row("router add (100 000)", &err);
            goto out;
        }
    }
    vx_router_add(big, filt, endpoint_hit, &hits, NULL, &err);
    op_ctx c = {.p = p};
    c.router = small;
    if (vx_router_dispatch(small, p, &c.rctx) != 1 ||
        vx_router_dispatch(big, p, &c.rctx) != 1) {
        printf("  dispatch did not call exactly the one matching endpoint: SKIPPED\n\n");
        goto out;
    }
    op_ctx c_big = c;
    c_big.router = big;
    bx_job j[2] = {{.fn = op_dispatch, .ctx = &c}, {.fn = op_dispatch, .ctx = &c_big}};
    bx_measure_group(j, 2);
    double one = print_row("dispatch, 1 endpoint", j[0].r, 0, NULL);
    char name[64];
    snprintf(name, sizeof name, "dispatch, %zu endpoints (1 match)", vx_router_count(big));
    double many = print_row(name, j[1].r, 0, NULL);
    ratio = many / one;
    printf("  (us/op x 1000 = ns/op: %.0f ns vs %.0f ns)\n", one * 1e3, many * 1e3);
    printf("  => 100k/1 %.2f (target <= %.2f, %s)\n\n", ratio, ROUTER_TARGET,
           verdict(ratio, ROUTER_TARGET));
out:
    bx_sink += hits;
    vx_decref(filt);
    vx_router_free(small);
    vx_router_free(big);
    return ratio;
}

/* ---- setup ----------------------------------------------------------------- */

/* Fill `in` from payload `p` (stolen): JSON and msg at the codec's level. */
static int prepare(input *in, const char *label, vx_payload *p, vx_codec *codec,
                   vx_error *err) {
    in->label = label;
    in->p = p;
    int rc = vx_json_encode_payload(p, vx_codec_options(codec), &in->json, err);
    if (rc == 0) rc = vx_codec_encode(codec, p, &in->msg, err);
    return rc;
}

static void release(input *in) {
    vx_payload_decref(in->p);
    vx_buf_free(&in->json);
    vx_buf_free(&in->msg);
    free(in->z9);
}

int main(int argc, char **argv) {
    if (argc > 1) {
        double s = atof(argv[1]);
        if (s > 0) bx_row_seconds = s;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    double t_start = bx_now_ns();
    vx_error err = {0};
    vx_registry *reg = vx_registry_new();
    vx_codec_opts opts;
    vx_codec_opts_init(&opts);
    opts.registry = reg;
    print_machine(opts.zlib_level);

    vx_codec *codec = NULL;
    vx_value *vec = NULL, *svec = NULL;
    input s = {0}, a = {0}, b = {0};
    bd_text *small = NULL;
    size_t nsmall = 0;
    if (!reg || bd_register_benchrow(reg, &err) != 0) goto fail;
    codec = vx_codec_new(&opts);
    if (!codec) {
        vx_error_set(&err, VX_E_NOMEM, "vx_codec_new failed");
        goto fail;
    }
    vec = bd_load_vector(VECTORS, "tuples_1000_benchrow", &err);
    if (!vec) goto fail;
    svec = bd_load_vector(VECTORS, SMALL_VECTOR, &err);
    if (!svec) goto fail;
    small = bd_load_small_vectors(VECTORS, VX_ZLIB_AUTO_SMALL_JSON, &nsmall, &err);
    if (!small) goto fail;
    const vx_value *vmsg = vx_dict_get(vec, "vortexMsg"), *vjson = vx_dict_get(vec, "json");
    if (vx_typeof(vmsg) != VX_STR || vx_typeof(vjson) != VX_STR) {
        vx_error_set(&err, VX_E_INVAL, "vector lacks vortexMsg/json strings");
        goto fail;
    }
    vx_payload *p1000 = NULL;
    if (vx_codec_decode(codec, vx_str_value(vmsg), vx_str_len(vmsg), &p1000, &err) != 0)
        goto fail;
    a.p = bd_payload_prefix(p1000, "bench.100", 100);
    if (prepare(&b, "1000 rows", p1000, codec, &err) != 0) goto fail;
    if (!a.p) {
        vx_error_set(&err, VX_E_NOMEM, "cannot build the 100-row payload");
        goto fail;
    }
    if (prepare(&a, "100 rows", a.p, codec, &err) != 0) goto fail;
    const vx_value *smsg = vx_dict_get(svec, "vortexMsg"),
                   *sjson = vx_dict_get(svec, "json");
    if (vx_typeof(smsg) != VX_STR || vx_typeof(sjson) != VX_STR) {
        vx_error_set(&err, VX_E_INVAL, "vector %s lacks vortexMsg/json", SMALL_VECTOR);
        goto fail;
    }
    vx_payload *ps = NULL;
    if (vx_codec_decode(codec, vx_str_value(smsg), vx_str_len(smsg), &ps, &err) != 0)
        goto fail;
    if (prepare(&s, "small (" SMALL_VECTOR ")", ps, codec, &err) != 0) goto fail;

    /* Sanity: the JSON we time is byte-identical to vortexpy's. */
    bool same = b.json.len == vx_str_len(vjson) &&
                memcmp(b.json.data, vx_str_value(vjson), b.json.len) == 0;
    printf(
        "-- 1. payloads: test.BenchRow x 100 / x 1000 (vector tuples_1000_benchrow) --\n");
    printf("  100 rows: JSON %zu B, msg %zu B; 1000 rows: JSON %zu B, msg %zu B "
           "(vortexpy's msg %zu B)\n",
           a.json.len, a.msg.len, b.json.len, b.msg.len, vx_str_len(vmsg));
    printf("  our JSON of the 1000-row payload is %s vortexpy's\n",
           same ? "byte-identical to" : "DIFFERENT from");
    bool sj = s.json.len == vx_str_len(sjson) &&
              memcmp(s.json.data, vx_str_value(sjson), s.json.len) == 0;
    bool sm = s.msg.len == vx_str_len(smsg) &&
              memcmp(s.msg.data, vx_str_value(smsg), s.msg.len) == 0;
    printf("  small: vector %s, JSON %zu B (%s vortexpy's), msg %zu B (%s vortexpy's)\n\n",
           SMALL_VECTOR, s.json.len, sj ? "identical to" : "DIFFERENT from", s.msg.len,
           sm ? "identical to" : "differs from");

    double rs[2], r100[2], r1000[2];
    codec_section(&s, codec, rs);
    codec_section(&a, codec, r100);
    codec_section(&b, codec, r1000);
    level_section(&a, &b, opts.zlib_level);
    policy_small(small, nsmall, codec, opts.zlib_level);
    policy_crossover(b.json.data, b.json.len);
    input *ins[2] = {&a, &b};
    parser_section(ins, &opts);
    double rr = router_section(a.p);

    printf("-- summary (ratios against floors measured above) --\n");
    printf("  encode/floor  small %.2f, 100 rows %.2f, 1000 rows %.2f  (target <= %.2f)\n",
           rs[0], r100[0], r1000[0], ENCODE_TARGET);
    printf("  decode/floor  small %.2f, 100 rows %.2f, 1000 rows %.2f  (target <= %.2f)\n",
           rs[1], r100[1], r1000[1], DECODE_TARGET);
    if (rr > 0) printf("  router 100k/1 %.2f  (target <= %.2f)\n", rr, ROUTER_TARGET);
    printf("  total run %.1f s (sink %llu)\n", (bx_now_ns() - t_start) / 1e9,
           (unsigned long long)bx_sink);
    goto done;
fail:
    printf("bench: cannot set up: %s: %s\n", vx_error_name(err.code), err.message);
done:
    release(&s);
    release(&a);
    release(&b);
    bd_free_texts(small, nsmall);
    vx_decref(vec);
    vx_decref(svec);
    vx_codec_free(codec);
    vx_registry_free(reg);
    return 0;
}
