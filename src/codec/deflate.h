/* zlib (RFC 1950) compression and bounded inflation over libdeflate,
 * private to the codec. A vx_deflate holds the libdeflate state and scratch
 * buffers one codec reuses across calls. */
#ifndef VX_DEFLATE_H
#define VX_DEFLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vortexc/error.h>

struct libdeflate_compressor;
struct libdeflate_decompressor;
struct z_stream_s;

typedef struct vx_deflate {
    struct libdeflate_compressor *comp; /* lazily, for comp_level */
    int comp_level;
    struct libdeflate_decompressor *decomp; /* lazily */
    uint8_t *zbuf; /* compressed output of the last vx_zlib_compress */
    size_t zcap;
    uint8_t *obuf; /* inflated output of the last vx_zlib_inflate */
    size_t ocap;
    struct z_stream_s *zs; /* lazily: zlib's deflate for small payloads */
} vx_deflate;

/* Scratch buffers above this are released by vx_deflate_trim so one huge
 * msg does not pin its memory for the codec's lifetime. */
#define VX_DEFLATE_KEEP_BYTES (4u * 1024 * 1024)

void vx_deflate_init(vx_deflate *z);
void vx_deflate_release(vx_deflate *z);
void vx_deflate_trim(vx_deflate *z);

/* Compress in[0..len) as one zlib stream at `level` (0-12 with libdeflate,
 * or VX_ZLIB_LEVEL_AUTO: zlib 9 below VX_ZLIB_AUTO_SMALL_JSON, else libdeflate
 * 6). *out is
 * BORROWED scratch, valid until the next call on `z`. 0, VX_E_NOMEM or
 * VX_E_INVAL (bad level). */
int vx_zlib_compress(vx_deflate *z, int level, const void *in, size_t len,
                     const uint8_t **out, size_t *out_len, vx_error *err);

/* Inflate exactly one zlib stream filling in[0..len): header, deflate data
 * and Adler-32 are verified and trailing bytes are an error (VX_E_ZLIB).
 * Output over `limit` bytes is VX_E_INFLATE_LIMIT; no buffer larger than
 * `limit` (plus a few bytes) is allocated. *out is BORROWED scratch, valid
 * until the next call on `z`. */
int vx_zlib_inflate(vx_deflate *z, const uint8_t *in, size_t len, size_t limit,
                    const uint8_t **out, size_t *out_len, vx_error *err);

/* RFC 1950 header test of PROTOCOL §1.2: deflate method and FCHECK. */
static inline bool vx_zlib_header_ok(uint8_t cmf, uint8_t flg) {
    return (cmf & 0x0F) == 8 && ((unsigned)cmf * 256u + flg) % 31u == 0;
}

#endif
