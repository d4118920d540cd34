/* Section 3b of bench/codec.c: the compression policy on small payloads
 * (every small vector under each candidate) and the zlib 9 / libdeflate 6
 * crossover on prefixes of a large JSON. Prints its own `=>` conclusions,
 * computed from the numbers. Header-only because every bench/<name>.c is
 * its own executable. */
#ifndef VX_BENCH_POLICY_H
#define VX_BENCH_POLICY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libdeflate.h>
#include <zlib.h>

#include <vortexc/codec.h>

#include "bench_data.h"
#include "bench_ops.h"
#include "bench_timing.h"

#define POLICY_CANDS 8

/* Every small vector compressed by each candidate: total bytes, how many
 * come out larger than zlib 9's, mean µs per payload. One interleaved group. */
static inline void policy_small(const bd_text *t, size_t n, vx_codec *codec,
                                int default_level) {
    static const struct {
        mc_kind kind;
        int level;
        const char *name;
    } cand[POLICY_CANDS] = {
        {MC_ZLIB, 9, "zlib 9 (deflateReset)"},
        {MC_LIBDEFLATE, 1, "libdeflate 1"},
        {MC_LIBDEFLATE, 6, "libdeflate 6"},
        {MC_LIBDEFLATE, 9, "libdeflate 9"},
        {MC_LIBDEFLATE, 10, "libdeflate 10"},
        {MC_LIBDEFLATE, 12, "libdeflate 12"},
        {MC_AUTO, 0, "codec: vx_zlib_compress"},
        {MC_WRAP, 0, "codec: vx_codec_wrap (+base64)"},
    };
    size_t total_json = 0, min_json = SIZE_MAX, max_json = 0;
    for (size_t i = 0; i < n; i++) {
        total_json += t[i].json_len;
        if (t[i].json_len < min_json) min_json = t[i].json_len;
        if (t[i].json_len > max_json) max_json = t[i].json_len;
    }
    printf("-- 3b. compression policy on small payloads: %zu vectors with JSON < %d B "
           "(%zu-%zu B, %zu B in all) --\n",
           n, VX_ZLIB_AUTO_SMALL_JSON, min_json, max_json, total_json);
    printf("  one op = every payload compressed once, state reused; codec rows use the "
           "codec's level (%s)\n",
           default_level == VX_ZLIB_LEVEL_AUTO ? "AUTO" : "explicit");

    int nc = 0;
    multi_ctx *c = calloc(POLICY_CANDS, sizeof *c);
    size_t *z9 = calloc(n, sizeof *z9);
    uint8_t **z9_out = calloc(n, sizeof *z9_out);
    if (!c || !z9 || !z9_out) {
        printf("  SKIPPED: out of memory\n\n");
        goto out;
    }
    size_t total[POLICY_CANDS] = {0}, larger[POLICY_CANDS] = {0}, same[POLICY_CANDS] = {0};
    bx_job jobs[POLICY_CANDS];
    for (; nc < POLICY_CANDS; nc++) {
        int lv = cand[nc].kind >= MC_AUTO ? default_level : cand[nc].level;
        if (mc_init(&c[nc], cand[nc].kind, lv, t, n, codec) != 0) {
            printf("  SKIPPED: cannot set up %s\n\n", cand[nc].name);
            nc++;
            goto out;
        }
        jobs[nc] = (bx_job){.fn = op_multi, .ctx = &c[nc]};
        /* Sizes, untimed; zlib 9 (candidate 0) is the reference. For the
         * wrap row "same" means the msg equals vortexpy's vortexMsg. */
        for (size_t i = 0; i < n; i++) {
            const uint8_t *o;
            size_t len = mc_compress(&c[nc], i, &o);
            total[nc] += len;
            if (nc == 0) {
                z9[i] = len;
                z9_out[i] = malloc(len ? len : 1);
                if (z9_out[i]) memcpy(z9_out[i], o, len);
            } else if (cand[nc].kind == MC_WRAP) {
                same[nc] += len == t[i].msg_len && memcmp(o, t[i].msg, len) == 0;
            } else {
                larger[nc] += len > z9[i];
                same[nc] += len == z9[i] && z9_out[i] && memcmp(o, z9_out[i], len) == 0;
            }
        }
    }
    bx_measure_group(jobs, nc);

    printf("  %-32s %9s %8s %10s %9s %8s %9s\n", "", "total B", "vs z9", "larger/z9",
           "us/msg", "spread", "time/z9");
    double us[POLICY_CANDS];
    for (int k = 0; k < nc; k++) us[k] = jobs[k].r.ns_op / 1e3 / (double)n;
    for (int k = 0; k < nc; k++) {
        char vs[48] = "", lg[48] = "", note[96] = "";
        if (cand[k].kind == MC_WRAP) {
            snprintf(note, sizeof note, "  msg chars; = vortexpy's msg on %zu/%zu", same[k],
                     n);
        } else {
            snprintf(vs, sizeof vs, "%+7.2f%%",
                     100.0 * ((double)total[k] / (double)total[0] - 1));
            if (k > 0) snprintf(lg, sizeof lg, "%zu/%zu", larger[k], n);
            if (cand[k].kind == MC_AUTO)
                snprintf(note, sizeof note, "  = zlib 9 bytes on %zu/%zu", same[k], n);
        }
        printf("  %-32s %9zu %8s %10s %9.2f %7.1f%% %8.2fx%s\n", cand[k].name, total[k], vs,
               lg, us[k], jobs[k].r.spread * 100, us[k] / us[0], note);
    }

    /* Conclusion: is any libdeflate level both no larger and no slower
     * than zlib 9? If not, what each side costs: the closest level <= 9 in
     * size, and the cheapest level that is no larger. */
    int win = -1, small = -1, fit = -1;
    double lo = 1e9, hi = 0;
    for (int k = 1; k < nc; k++) {
        if (cand[k].kind != MC_LIBDEFLATE) continue;
        bool no_larger = total[k] <= total[0];
        if (no_larger && us[k] <= us[0] && (win < 0 || us[k] < us[win])) win = k;
        if (no_larger && (fit < 0 || us[k] < us[fit])) fit = k;
        if (cand[k].level > 9) continue;
        if (small < 0 || total[k] < total[small]) small = k;
        if (us[k] / us[0] < lo) lo = us[k] / us[0];
        if (us[k] / us[0] > hi) hi = us[k] / us[0];
    }
    if (win >= 0) {
        printf("  => %s is no larger (%+lld B) and no slower (%.2fx) than zlib 9 on small "
               "JSON: the small-JSON rule could use it\n\n",
               cand[win].name, (long long)total[win] - (long long)total[0],
               us[win] / us[0]);
    } else if (small >= 0) {
        char fits[96] = "none is";
        if (fit >= 0)
            snprintf(fits, sizeof fits, "%s is, at %.2fx the time", cand[fit].name,
                     us[fit] / us[0]);
        printf(
            "  => zlib 9 keeps small msgs smallest: libdeflate <= 9 takes %.2f-%.2fx its "
            "time but writes more (closest: %s, %+lld B, larger on %zu/%zu); no larger: "
            "%s\n\n",
            lo, hi, cand[small].name, (long long)total[small] - (long long)total[0],
            larger[small], n, fits);
    }
out:
    for (int k = 0; c && k < nc; k++) mc_release(&c[k]);
    for (size_t i = 0; z9_out && i < n; i++) free(z9_out[i]);
    free(z9_out);
    free(z9);
    free(c);
}

#define CROSS_SIZES 8

/* Prefixes of the 1000-row JSON: from what size is libdeflate 6 no larger
 * than zlib 9 (and is it faster)? Prints where the threshold belongs. */
static inline void policy_crossover(const char *json, size_t json_len) {
    static const size_t sizes[CROSS_SIZES] = {512,  1024, 2048, 3072,
                                              4096, 6144, 8192, 16384};
    op_ctx c[2 * CROSS_SIZES];
    bx_job jobs[2 * CROSS_SIZES];
    size_t zs[CROSS_SIZES], ls[CROSS_SIZES];
    size_t cap = compressBound(sizes[CROSS_SIZES - 1]) + 1024;
    uint8_t *scratch = malloc(cap);
    struct libdeflate_compressor *lc = libdeflate_alloc_compressor(6);
    printf("  crossover: first N bytes of the 1000-row JSON, zlib 9 vs libdeflate 6\n");
    if (!scratch || !lc || json_len < sizes[CROSS_SIZES - 1]) {
        printf("  SKIPPED: out of memory or JSON too short\n\n");
        goto out;
    }
    for (int i = 0; i < CROSS_SIZES; i++) {
        for (int k = 0; k < 2; k++) {
            op_ctx *x = &c[2 * i + k];
            *x = (op_ctx){.in = json, .in_len = sizes[i]};
            x->scratch = scratch;
            x->scratch_cap = cap;
            x->lc = lc;
            jobs[2 * i + k] = (bx_job){.fn = k ? op_ld_compress : op_z_compress, .ctx = x};
        }
        deflateInit(&c[2 * i].zs, 9); /* in place: a z_stream cannot be copied */
        op_z_compress(&c[2 * i], 1);
        zs[i] = c[2 * i].zs.total_out;
        ls[i] = libdeflate_zlib_compress(lc, json, sizes[i], scratch, cap);
    }
    bx_measure_group(jobs, 2 * CROSS_SIZES);
    printf("  %8s %9s %9s %8s %9s %9s %8s   %s\n", "JSON B", "zlib9 B", "ld6 B", "ld6/z9",
           "zlib9 us", "ld6 us", "ld6/z9", "libdeflate 6 is");
    double tus[CROSS_SIZES], tmin = 1e9, tmax = 0;
    for (int i = 0; i < CROSS_SIZES; i++) {
        double zu = jobs[2 * i].r.ns_op / 1e3, lu = jobs[2 * i + 1].r.ns_op / 1e3;
        bool smaller = ls[i] <= zs[i], faster = lu <= zu;
        tus[i] = lu / zu;
        if (tus[i] < tmin) tmin = tus[i];
        if (tus[i] > tmax) tmax = tus[i];
        printf("  %8zu %9zu %9zu %+7.1f%% %9.2f %9.2f %7.2fx   %s\n", sizes[i], zs[i],
               ls[i], 100.0 * ((double)ls[i] / (double)zs[i] - 1), zu, lu, lu / zu,
               smaller && faster ? "no larger, faster"
               : smaller         ? "no larger, slower"
               : faster          ? "larger, faster"
                                 : "larger and slower");
        deflateEnd(&c[2 * i].zs);
    }
    /* PROTOCOL §1.3 wants output no larger than zlib 9's at the least CPU,
     * so size decides where zlib 9 is needed: the threshold belongs just
     * above the largest size at which libdeflate 6 is larger. */
    int from = CROSS_SIZES, tfrom = CROSS_SIZES;
    while (from > 0 && ls[from - 1] <= zs[from - 1]) from--;
    while (tfrom > 0 && tus[tfrom - 1] <= 1.0) tfrom--;
    const size_t t = VX_ZLIB_AUTO_SMALL_JSON;
    char speed[96];
    if (tfrom == 0)
        snprintf(speed, sizeof speed, "faster at every size (%.2f-%.2fx)", tmin, tmax);
    else if (tfrom == CROSS_SIZES)
        snprintf(speed, sizeof speed, "not faster at %zu B", sizes[CROSS_SIZES - 1]);
    else
        snprintf(speed, sizeof speed, "faster from %zu B up", sizes[tfrom]);
    if (from == CROSS_SIZES)
        printf("  => libdeflate 6 is %s but larger at %zu B: the threshold belongs above "
               "%zu B (VX_ZLIB_AUTO_SMALL_JSON is %zu)\n\n",
               speed, sizes[CROSS_SIZES - 1], sizes[CROSS_SIZES - 1], t);
    else if (from == 0)
        printf("  => libdeflate 6 is %s and no larger from %zu B up: zlib 9 buys nothing "
               "here (VX_ZLIB_AUTO_SMALL_JSON is %zu)\n\n",
               speed, sizes[0], t);
    else {
        size_t lo = sizes[from - 1], hi = sizes[from];
        char where[160] = "in that range";
        if (t > hi)
            snprintf(
                where, sizeof where,
                "above it (zlib 9 is used up to %zu B, where libdeflate 6 is as small)",
                t - 1);
        else if (t <= lo)
            snprintf(where, sizeof where,
                     "below it (at %zu B, which gets libdeflate 6, it writes %lld B more "
                     "than zlib 9)",
                     lo, (long long)ls[from - 1] - (long long)zs[from - 1]);
        printf("  => libdeflate 6 is %s; no larger than zlib 9 from %zu B up, larger at "
               "%zu B: the threshold belongs in (%zu, %zu]; VX_ZLIB_AUTO_SMALL_JSON = %zu "
               "is %s\n\n",
               speed, hi, lo, lo, hi, t, where);
    }
out:
    libdeflate_free_compressor(lc);
    free(scratch);
}

#endif
