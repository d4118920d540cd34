/* The operations timed by bench/codec.c: each runs one library call (or
 * the floor it is compared with) `n` times and feeds a result into bx_sink.
 * Header-only because every bench/<name>.c is its own executable. */
#ifndef VX_BENCH_OPS_H
#define VX_BENCH_OPS_H

#include <stdint.h>

#include <libdeflate.h>
#include <zlib.h>

#include <vortexc/codec.h>
#include <vortexc/router.h>

#include "codec/base64.h"
#include "codec/deflate.h"
#include "codec/msg_impl.h"

#include "bench_data.h"
#include "bench_timing.h"

#ifdef VX_HAVE_YAJL
#include <yajl/yajl_parse.h>
#endif

/* Everything an operation under test may need; each op uses a few fields. */
typedef struct op_ctx {
    vx_codec *codec;
    const vx_codec_opts *opts;
    vx_payload *p;
    const char *in;
    size_t in_len;
    vx_buf out;
    uint8_t *scratch, *scratch2;
    size_t scratch_cap, scratch2_cap;
    struct libdeflate_compressor *lc;
    struct libdeflate_decompressor *ld;
    z_stream zs;
    vx_router *router;
    vx_route_ctx rctx;
} op_ctx;

static inline void op_encode(void *v, uint64_t n) {
    op_ctx *c = v;
    for (uint64_t i = 0; i < n; i++) {
        c->out.len = 0;
        vx_codec_encode(c->codec, c->p, &c->out, NULL);
        bx_sink += c->out.len;
    }
}

static inline void op_emit(void *v, uint64_t n) {
    op_ctx *c = v;
    for (uint64_t i = 0; i < n; i++) {
        c->out.len = 0;
        vx_json_encode_payload(c->p, c->opts, &c->out, NULL);
        bx_sink += c->out.len;
    }
}

static inline void op_ld_compress(void *v, uint64_t n) {
    op_ctx *c = v;
    for (uint64_t i = 0; i < n; i++)
        bx_sink +=
            libdeflate_zlib_compress(c->lc, c->in, c->in_len, c->scratch, c->scratch_cap);
}

static inline void op_z_compress(void *v, uint64_t n) {
    op_ctx *c = v;
    for (uint64_t i = 0; i < n; i++) {
        deflateReset(&c->zs);
        c->zs.next_in = (Bytef *)c->in;
        c->zs.avail_in = (uInt)c->in_len;
        c->zs.next_out = c->scratch;
        c->zs.avail_out = (uInt)c->scratch_cap;
        deflate(&c->zs, Z_FINISH);
        bx_sink += c->zs.total_out;
    }
}

static inline void op_decode(void *v, uint64_t n) {
    op_ctx *c = v;
    for (uint64_t i = 0; i < n; i++) {
        vx_payload *q = NULL;
        vx_codec_decode(c->codec, c->in, c->in_len, &q, NULL);
        bx_sink += q != NULL;
        vx_payload_decref(q);
    }
}

static inline void op_parse_typed(void *v, uint64_t n) {
    op_ctx *c = v;
    for (uint64_t i = 0; i < n; i++) {
        vx_payload *q = NULL;
        vx_json_decode_payload(c->in, c->in_len, c->opts, &q, NULL);
        bx_sink += q != NULL;
        vx_payload_decref(q);
    }
}

static inline void op_parse_plain(void *v, uint64_t n) {
    op_ctx *c = v;
    for (uint64_t i = 0; i < n; i++) {
        vx_value *q = NULL;
        vx_json_parse_plain(c->in, c->in_len, 64, &q, NULL);
        bx_sink += q != NULL;
        vx_decref(q);
    }
}

static inline void op_lib_b64(void *v, uint64_t n) {
    op_ctx *c = v;
    for (uint64_t i = 0; i < n; i++) {
        size_t len = 0, bad = 0;
        vx_base64_decode(c->in, c->in_len, c->scratch, &len, 1, &bad);
        bx_sink += len;
    }
}

static inline void op_floor_decode(void *v, uint64_t n) {
    op_ctx *c = v;
    for (uint64_t i = 0; i < n; i++) {
        long z = bd_b64_decode(c->in, c->in_len, c->scratch);
        size_t got = 0;
        if (z > 0)
            libdeflate_zlib_decompress(c->ld, c->scratch, (size_t)z, c->scratch2,
                                       c->scratch2_cap, &got);
        bx_sink += got;
    }
}

static inline void op_ld_inflate(void *v, uint64_t n) {
    op_ctx *c = v;
    for (uint64_t i = 0; i < n; i++) {
        size_t got = 0;
        libdeflate_zlib_decompress(c->ld, c->in, c->in_len, c->scratch2, c->scratch2_cap,
                                   &got);
        bx_sink += got;
    }
}

static inline void op_z_inflate(void *v, uint64_t n) {
    op_ctx *c = v;
    for (uint64_t i = 0; i < n; i++) {
        inflateReset(&c->zs);
        c->zs.next_in = (Bytef *)c->in;
        c->zs.avail_in = (uInt)c->in_len;
        c->zs.next_out = c->scratch2;
        c->zs.avail_out = (uInt)c->scratch2_cap;
        inflate(&c->zs, Z_FINISH);
        bx_sink += c->zs.total_out;
    }
}

/* A compression candidate run over a set of texts (the small vectors): one
 * operation compresses every text once, as a stream of small messages would.
 * Not copyable once set up (a z_stream points back at itself). */
typedef enum mc_kind { MC_ZLIB, MC_LIBDEFLATE, MC_AUTO, MC_WRAP } mc_kind;

typedef struct multi_ctx {
    mc_kind kind;
    int level;
    const bd_text *t;
    size_t n;
    uint8_t *scratch;
    size_t cap;
    struct libdeflate_compressor *lc; /* MC_LIBDEFLATE */
    z_stream zs;                      /* MC_ZLIB */
    vx_deflate df;                    /* MC_AUTO: the codec's private compressor */
    vx_codec *codec;                  /* MC_WRAP: BORROWED */
    vx_buf out;                       /* MC_WRAP */
} multi_ctx;

/* Set up `c` in place; 0, or -1 when a compressor cannot be allocated. */
static inline int mc_init(multi_ctx *c, mc_kind kind, int level, const bd_text *t, size_t n,
                          vx_codec *codec) {
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->level = level;
    c->t = t;
    c->n = n;
    c->codec = codec;
    size_t max = 0;
    for (size_t i = 0; i < n; i++)
        if (t[i].json_len > max) max = t[i].json_len;
    c->cap = compressBound((uLong)max) + 1024;
    c->scratch = malloc(c->cap);
    vx_deflate_init(&c->df);
    if (!c->scratch) return -1;
    if (kind == MC_ZLIB && deflateInit(&c->zs, level) != Z_OK) return -1;
    if (kind == MC_LIBDEFLATE && !(c->lc = libdeflate_alloc_compressor(level))) return -1;
    return 0;
}

static inline void mc_release(multi_ctx *c) {
    if (c->kind == MC_ZLIB) deflateEnd(&c->zs);
    if (c->lc) libdeflate_free_compressor(c->lc);
    vx_deflate_release(&c->df);
    vx_buf_free(&c->out);
    free(c->scratch);
}

/* Compress text i; returns the output length (0 on failure) and points *out
 * at the output (for MC_WRAP: the base64 msg, not zlib bytes). */
static inline size_t mc_compress(multi_ctx *c, size_t i, const uint8_t **out) {
    const bd_text *t = &c->t[i];
    size_t len = 0;
    *out = c->scratch;
    switch (c->kind) {
    case MC_ZLIB:
        deflateReset(&c->zs);
        c->zs.next_in = (Bytef *)t->json;
        c->zs.avail_in = (uInt)t->json_len;
        c->zs.next_out = c->scratch;
        c->zs.avail_out = (uInt)c->cap;
        len = deflate(&c->zs, Z_FINISH) == Z_STREAM_END ? c->zs.total_out : 0;
        break;
    case MC_LIBDEFLATE:
        len = libdeflate_zlib_compress(c->lc, t->json, t->json_len, c->scratch, c->cap);
        break;
    case MC_AUTO:
        if (vx_zlib_compress(&c->df, c->level, t->json, t->json_len, out, &len, NULL) != 0)
            len = 0;
        break;
    case MC_WRAP:
        c->out.len = 0;
        if (vx_codec_wrap(c->codec, t->json, t->json_len, &c->out, NULL) == 0) {
            len = c->out.len;
            *out = (const uint8_t *)c->out.data;
        }
        break;
    }
    return len;
}

static inline void op_multi(void *v, uint64_t n) {
    multi_ctx *c = v;
    const uint8_t *o;
    for (uint64_t k = 0; k < n; k++)
        for (size_t i = 0; i < c->n; i++) bx_sink += mc_compress(c, i, &o);
}

static inline void op_dispatch(void *v, uint64_t n) {
    op_ctx *c = v;
    for (uint64_t i = 0; i < n; i++) {
        int k = vx_router_dispatch(c->router, c->p, &c->rctx);
        bx_sink += (uint64_t)k;
    }
}

#ifdef VX_HAVE_YAJL
/* No-op SAX callbacks: the least work any yajl user can ask for. Numbers
 * arrive as text through yajl_number, so yajl converts nothing. */
static inline int y_null(void *d) {
    ++*(uint64_t *)d;
    return 1;
}
static inline int y_bool(void *d, int b) {
    *(uint64_t *)d += (uint64_t)b;
    return 1;
}
static inline int y_text(void *d, const char *s, size_t l) {
    *(uint64_t *)d += l;
    return 1;
}
static inline int y_str(void *d, const unsigned char *s, size_t l) {
    *(uint64_t *)d += l;
    return 1;
}
static const yajl_callbacks y_noop = {y_null, y_bool, NULL,   NULL,   y_text, y_str,
                                      y_null, y_str,  y_null, y_null, y_null};

static inline void op_yajl(void *v, uint64_t n) {
    op_ctx *c = v;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t count = 0;
        yajl_handle h = yajl_alloc(&y_noop, NULL, &count);
        yajl_status s = yajl_parse(h, (const unsigned char *)c->in, c->in_len);
        if (s == yajl_status_ok) s = yajl_complete_parse(h);
        yajl_free(h);
        bx_sink += count + (s == yajl_status_ok);
    }
}
#endif

static inline int endpoint_hit(void *data, vx_payload *payload, const vx_route_ctx *ctx,
                               vx_error *err) {
    ++*(uint64_t *)data;
    return 0;
}

#endif
