/* Private msg-level helpers of the codec: the base64(zlib(bytes)) wrapping
 * of §2.1 steps 4-5 and §2.2 steps 1-4 without the JSON layer. Used by
 * vx_codec_encode/decode, by gen2's inner payload (§17.1, same wrapping)
 * and by benchmarks measuring the decode floor. */
#ifndef VX_MSG_IMPL_H
#define VX_MSG_IMPL_H

#include <vortexc/codec.h>

/* Compress json[0..len) and append its base64 to `out`. Over max_msg_bytes
 * (or JSON over max_json_bytes, which no peer with the same limits could
 * inflate) is VX_E_MSG_TOO_BIG; nothing is appended on failure. */
int vx_codec_wrap(vx_codec *c, const char *json, size_t len, vx_buf *out, vx_error *err);

/* §2.2 steps 1-4 on a gen1 msg: size check, base64, generation, inflate.
 * *json is BORROWED codec scratch, valid until the next call on `c`. A gen2
 * msg is VX_E_GENERATION. */
int vx_codec_unwrap(vx_codec *c, const char *msg, size_t len, const char **json,
                    size_t *json_len, vx_error *err);

/* Release scratch buffers that grew past the keep threshold. */
void vx_codec_trim(vx_codec *c);

#endif
