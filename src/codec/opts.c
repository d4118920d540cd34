/* Codec option defaults (PROTOCOL §1.3, §6.1). */
#include <string.h>

#include <vortexc/codec.h>

void vx_codec_opts_init(vx_codec_opts *opts) {
    memset(opts, 0, sizeof *opts);
    opts->max_msg_bytes = VX_DEFAULT_MAX_MSG_BYTES;
    opts->max_json_bytes = VX_DEFAULT_MAX_JSON_BYTES;
    opts->max_depth = VX_DEFAULT_MAX_DEPTH;
    opts->zlib_level = VX_DEFAULT_ZLIB_LEVEL;
    opts->compact = false;
    opts->strict_decode = false;
    opts->registry = NULL;
}
