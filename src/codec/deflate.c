/* zlib compression and bounded inflation. Inflation and large payloads use
 * libdeflate; small payloads under VX_ZLIB_LEVEL_AUTO use zlib itself at
 * level 9 (see vx_zlib_compress). libdeflate works on whole buffers and must
 * be given the output size up front, so inflation guesses, and on
 * LIBDEFLATE_INSUFFICIENT_SPACE doubles the buffer and starts again, never
 * past the caller's limit. */
#include "codec/deflate.h"

#include <libdeflate.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <vortexc/codec.h>

void vx_deflate_init(vx_deflate *z) {
    z->comp = NULL;
    z->comp_level = -1;
    z->decomp = NULL;
    z->zbuf = NULL;
    z->zcap = 0;
    z->obuf = NULL;
    z->ocap = 0;
    z->zs = NULL;
}

void vx_deflate_release(vx_deflate *z) {
    if (z->zs) {
        deflateEnd(z->zs);
        free(z->zs);
    }
    if (z->comp) libdeflate_free_compressor(z->comp);
    if (z->decomp) libdeflate_free_decompressor(z->decomp);
    free(z->zbuf);
    free(z->obuf);
    vx_deflate_init(z);
}

void vx_deflate_trim(vx_deflate *z) {
    if (z->zcap > VX_DEFLATE_KEEP_BYTES) {
        free(z->zbuf);
        z->zbuf = NULL;
        z->zcap = 0;
    }
    if (z->ocap > VX_DEFLATE_KEEP_BYTES) {
        free(z->obuf);
        z->obuf = NULL;
        z->ocap = 0;
    }
}

/* Make *buf hold at least `need` bytes. The old contents are not kept, so
 * free + malloc avoids realloc copying bytes we would overwrite anyway. */
static int ensure_scratch(uint8_t **buf, size_t *cap, size_t need) {
    if (need <= *cap) return 0;
    free(*buf);
    *buf = malloc(need);
    if (!*buf) {
        *cap = 0;
        return VX_E_NOMEM;
    }
    *cap = need;
    return 0;
}

/* zlib's own deflate at level 9, with the z_stream kept for reuse:
 * deflateReset is far cheaper than deflateInit. */
/* zlib counts in uInt; only JSON under the AUTO threshold comes here. */
_Static_assert(VX_ZLIB_AUTO_SMALL_JSON < UINT32_MAX / 2, "small JSON fits a uInt");

static int zlib9_compress(vx_deflate *z, const void *in, size_t len, vx_error *err) {
    if (!z->zs) {
        z->zs = calloc(1, sizeof *z->zs);
        if (!z->zs || deflateInit(z->zs, 9) != Z_OK) {
            free(z->zs);
            z->zs = NULL;
            return vx_error_set(err, VX_E_NOMEM, "zlib: cannot allocate deflate state");
        }
    } else {
        deflateReset(z->zs);
    }
    size_t bound = deflateBound(z->zs, (uLong)len);
    if (ensure_scratch(&z->zbuf, &z->zcap, bound))
        return vx_error_set(err, VX_E_NOMEM, "zlib: cannot allocate %zu bytes", bound);
    z->zs->next_in = (Bytef *)in;
    z->zs->avail_in = (uInt)len;
    z->zs->next_out = z->zbuf;
    z->zs->avail_out = (uInt)z->zcap;
    if (deflate(z->zs, Z_FINISH) != Z_STREAM_END)
        return vx_error_set(err, VX_E_NOMEM, "zlib: compressed output did not fit");
    return 0;
}

int vx_zlib_compress(vx_deflate *z, int level, const void *in, size_t len,
                     const uint8_t **out, size_t *out_len, vx_error *err) {
    if (level == VX_ZLIB_LEVEL_AUTO) {
        /* See VX_ZLIB_LEVEL_AUTO in codec.h: small JSON goes to zlib 9,
         * the smallest output (vortexpy's, byte for byte); from about 6 KiB
         * libdeflate 6 is both smaller and faster. */
        if (len < VX_ZLIB_AUTO_SMALL_JSON) {
            int rc = zlib9_compress(z, in, len, err);
            if (rc) return rc;
            *out = z->zbuf;
            *out_len = z->zs->total_out;
            return 0;
        }
        level = 6;
    }
    if (level < 0 || level > 12)
        return vx_error_set(err, VX_E_INVAL, "zlib_level %d is outside 0-12", level);
    if (!z->comp || z->comp_level != level) {
        if (z->comp) libdeflate_free_compressor(z->comp);
        z->comp = libdeflate_alloc_compressor(level);
        z->comp_level = z->comp ? level : -1;
        if (!z->comp)
            return vx_error_set(err, VX_E_NOMEM, "zlib: cannot allocate compressor");
    }
    size_t bound = libdeflate_zlib_compress_bound(z->comp, len);
    if (ensure_scratch(&z->zbuf, &z->zcap, bound))
        return vx_error_set(err, VX_E_NOMEM, "zlib: cannot allocate %zu bytes", bound);
    size_t n = libdeflate_zlib_compress(z->comp, in, len, z->zbuf, z->zcap);
    if (n == 0) /* cannot happen with a buffer of the bound's size */
        return vx_error_set(err, VX_E_NOMEM, "zlib: compressed output did not fit");
    *out = z->zbuf;
    *out_len = n;
    return 0;
}

/* Explain a stream libdeflate refused. Only on the error path: re-inflating
 * the raw deflate data tells a corrupt body from a bad or missing trailer. */
static int explain_bad_stream(vx_deflate *z, const uint8_t *in, size_t len, size_t avail,
                              vx_error *err) {
    size_t used = 0, n = 0;
    enum libdeflate_result r = libdeflate_deflate_decompress_ex(z->decomp, in + 2, len - 2,
                                                                z->obuf, avail, &used, &n);
    if (r == LIBDEFLATE_SUCCESS) {
        if (len - 2 - used < 4)
            return vx_error_set(err, VX_E_ZLIB,
                                "zlib: stream truncated in the Adler-32 trailer");
        return vx_error_set(err, VX_E_ZLIB, "zlib: Adler-32 mismatch");
    }
    return vx_error_set(err, VX_E_ZLIB,
                        "zlib: corrupt or truncated deflate data after byte 2");
}

int vx_zlib_inflate(vx_deflate *z, const uint8_t *in, size_t len, size_t limit,
                    const uint8_t **out, size_t *out_len, vx_error *err) {
    if (len == 0) return vx_error_set(err, VX_E_ZLIB, "zlib: empty stream");
    if (len < 2 || !vx_zlib_header_ok(in[0], in[1]))
        return vx_error_set(err, VX_E_ZLIB, "zlib: bad header 0x%02x%02x", in[0],
                            len > 1 ? in[1] : 0);
    if (in[0] >> 4 > 7)
        return vx_error_set(err, VX_E_ZLIB, "zlib: bad header window size %u",
                            (unsigned)(in[0] >> 4));
    if (in[1] & 0x20)
        return vx_error_set(err, VX_E_ZLIB, "zlib: preset dictionary not supported");
    if (!z->decomp) {
        z->decomp = libdeflate_alloc_decompressor();
        if (!z->decomp)
            return vx_error_set(err, VX_E_NOMEM, "zlib: cannot allocate decompressor");
    }

    /* JSON compresses about 5-15x; a generous first guess usually avoids a
     * second pass, and an unused tail of a malloc'd buffer costs nothing. A
     * buffer kept from an earlier call is used whole. */
    size_t want = len > SIZE_MAX / 16 ? SIZE_MAX : len * 16;
    if (want < 16384) want = 16384;
    if (want < z->ocap) want = z->ocap;
    for (;;) {
        size_t avail = want < limit ? want : limit;
        /* At least a few bytes so a limit of 0 still gets a real pointer. */
        if (ensure_scratch(&z->obuf, &z->ocap, avail < 64 ? 64 : avail))
            return vx_error_set(err, VX_E_NOMEM, "zlib: cannot allocate %zu bytes", avail);
        size_t used = 0, n = 0;
        enum libdeflate_result r =
            libdeflate_zlib_decompress_ex(z->decomp, in, len, z->obuf, avail, &used, &n);
        if (r == LIBDEFLATE_SUCCESS) {
            if (used != len)
                return vx_error_set(err, VX_E_ZLIB,
                                    "zlib: %zu bytes after the end of the stream",
                                    len - used);
            *out = z->obuf;
            *out_len = n;
            return 0;
        }
        if (r != LIBDEFLATE_INSUFFICIENT_SPACE)
            return explain_bad_stream(z, in, len, avail, err);
        if (avail >= limit)
            return vx_error_set(err, VX_E_INFLATE_LIMIT,
                                "inflated JSON exceeds max_json_bytes %zu", limit);
        want = avail > SIZE_MAX / 2 ? SIZE_MAX : avail * 2;
    }
}
