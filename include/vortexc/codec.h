/* The vortex msg codec (PROTOCOL.md §2-§6): payload <-> JSON <-> zlib <->
 * base64. Pure: bytes in, values out; no I/O, no globals, safe to call from
 * any thread with its own options. */
#ifndef VORTEXC_CODEC_H
#define VORTEXC_CODEC_H

#include "payload.h"
#include "tuple.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Every limit and switch of the codec; vx_codec_opts_init() sets the
 * documented defaults. */
typedef struct vx_codec_opts {
    size_t max_msg_bytes;        /* encoded msg without its '.'; default 16 MiB */
    size_t max_json_bytes;       /* inflated JSON; default 64 MiB */
    int max_depth;               /* JSON nesting, top-level object = 1; default 64 */
    int zlib_level;              /* 0-9 as zlib (up to 12 accepted), or the default
                                    VX_ZLIB_LEVEL_AUTO chosen by bench/codec */
    bool compact;                /* ',' ':' separators instead of ", " ": " */
    bool strict_decode;          /* unknown tuple types/fields and duplicate keys fail */
    const vx_registry *registry; /* tuple types; NULL = none registered */
} vx_codec_opts;

#define VX_DEFAULT_MAX_MSG_BYTES  (16u * 1024 * 1024)
#define VX_DEFAULT_MAX_JSON_BYTES (64u * 1024 * 1024)
#define VX_DEFAULT_MAX_DEPTH      64
/* The default compression policy, chosen by measurement (bench/codec §3,
 * §3b) under PROTOCOL §1.3's rule "output no larger than zlib 9 at the least
 * CPU": JSON under VX_ZLIB_AUTO_SMALL_JSON bytes is compressed by zlib at
 * level 9, exactly as vortexpy does (libdeflate takes about half the time
 * there but writes 1-13 bytes more at every level up to 9, and its levels
 * that are no larger cost 1.7-2.5x zlib 9); larger JSON by libdeflate at
 * level 6, which is smaller than zlib 9 and 2-7x faster. Explicit levels 0-12
 * always use libdeflate. */
#define VX_ZLIB_LEVEL_AUTO      (-1)
#define VX_ZLIB_AUTO_SMALL_JSON 6144
#define VX_DEFAULT_ZLIB_LEVEL   VX_ZLIB_LEVEL_AUTO

void vx_codec_opts_init(vx_codec_opts *opts);

/* A growable byte buffer. Zero-initialise, then release with vx_buf_free. */
typedef struct vx_buf {
    char *data;
    size_t len;
    size_t cap;
} vx_buf;

void vx_buf_free(vx_buf *b);
/* Ensure room for `extra` more bytes. 0 or VX_E_NOMEM. */
int vx_buf_reserve(vx_buf *b, size_t extra);
int vx_buf_append(vx_buf *b, const void *data, size_t len);

/* ---- msg level (what goes on the wire) -------------------------------- */

/* A codec: options plus the compressor, decompressor and scratch buffers
 * reused across calls (allocating a compressor costs more than compressing a
 * small payload). Not thread-safe: use one per thread or event loop. */
typedef struct vx_codec vx_codec;

/* NEW codec with a copy of `opts` (NULL = defaults). NULL on OOM or when
 * opts->zlib_level is outside 0-12. */
vx_codec *vx_codec_new(const vx_codec_opts *opts);
void vx_codec_free(vx_codec *c);
/* BORROWED options in force. */
const vx_codec_opts *vx_codec_options(const vx_codec *c);

/* As vx_msg_encode / vx_msg_decode, reusing the codec's state. */
int vx_codec_encode(vx_codec *c, const vx_payload *p, vx_buf *out, vx_error *err);
int vx_codec_decode(vx_codec *c, const char *msg, size_t len, vx_payload **out,
                    vx_error *err);

/* One-shot conveniences over a temporary vx_codec.
 *
 * Encode `p` as a gen1 vortex msg (no trailing '.'), appended to `out`.
 * Errors: VX_E_NONFINITE, VX_E_RESERVED_KEY, VX_E_UNENCODABLE, VX_E_DEPTH,
 * VX_E_MSG_TOO_BIG (also when the JSON exceeds max_json_bytes, which a
 * decoder with the same limits would refuse); nothing is appended on failure. */
int vx_msg_encode(const vx_payload *p, const vx_codec_opts *opts, vx_buf *out,
                  vx_error *err);

/* Decode one gen1 msg (without its '.'). On success *out is a NEW payload.
 * Every failure is a distinct VX_E_* code (§2.2) with a message naming the
 * field or stage; *out is then NULL. */
int vx_msg_decode(const char *msg, size_t len, const vx_codec_opts *opts, vx_payload **out,
                  vx_error *err);

/* Generation of a msg by PROTOCOL §1.2: 1 (zlib inside base64), 2 ('{' raw
 * or base64), or VX_E_ZLIB / VX_E_BASE64 when it is neither. */
int vx_msg_generation(const char *msg, size_t len);

/* ---- JSON level (the text inside the zlib stream) ---------------------- */

/* Append the wire JSON of `p` (ASCII-only, keys in §3.1 order). */
int vx_json_encode_payload(const vx_payload *p, const vx_codec_opts *opts, vx_buf *out,
                           vx_error *err);
/* Append the wire JSON of any value (ints wrapped, tuples tagged...). */
int vx_json_encode_value(const vx_value *v, const vx_codec_opts *opts, vx_buf *out,
                         vx_error *err);

/* Decode wire JSON text of a payload (steps 5-8 of §2.2: UTF-8, JSON,
 * structure, values). *out is a NEW payload. */
int vx_json_decode_payload(const char *json, size_t len, const vx_codec_opts *opts,
                           vx_payload **out, vx_error *err);
/* Decode wire JSON of one value with the §4.3 typed rules. NEW reference. */
int vx_json_decode_value(const char *json, size_t len, const vx_codec_opts *opts,
                         vx_value **out, vx_error *err);

/* Parse plain JSON (RFC 8259) with no vortex typing: objects become dicts
 * even when they hold _ct/_ft, numbers become int (no fraction/exponent and
 * within int64) or float. For configuration files and tools. NEW reference. */
int vx_json_parse_plain(const char *json, size_t len, int max_depth, vx_value **out,
                        vx_error *err);

/* ---- '.'-delimited byte streams (§2.3) --------------------------------- */

typedef struct vx_splitter vx_splitter;

/* Called once per item, in order. `status` is 0 for a msg (`item`,`len`:
 * valid only during the call; len 0 means an empty item, i.e. a bare-dot
 * heartbeat) or VX_E_MSG_TOO_BIG for an item abandoned because it grew past
 * the limit (then `item` is NULL and `len` the bytes discarded so far). */
typedef void (*vx_split_fn)(void *data, int status, const char *item, size_t len);

/* NEW splitter for items up to `max_msg_bytes`. NULL on OOM. */
vx_splitter *vx_splitter_new(size_t max_msg_bytes, vx_split_fn fn, void *data);
void vx_splitter_free(vx_splitter *s);
/* Feed bytes as they arrive; chunk boundaries are arbitrary. An item lying
 * wholly inside `buf` is passed without copying; only an item split across
 * feeds is copied, once. 0 or VX_E_NOMEM. */
int vx_splitter_feed(vx_splitter *s, const char *buf, size_t len);
/* End of stream. An unterminated final item is either passed to the
 * callback as a msg (`deliver_final`: POST bodies, §9.1) or discarded
 * (response streams, §9.7); its length is returned (0 if none). The splitter
 * can then be fed a new stream. */
size_t vx_splitter_finish(vx_splitter *s, bool deliver_final);
/* Bytes of the unterminated item held so far. */
size_t vx_splitter_pending(const vx_splitter *s);

/* ---- tuple types from JSON --------------------------------------------- */

/* Register the tuple types described by JSON text of this form (fields in
 * order; defaults read with the wire typing rules, so {"_ft": "int", ...} and
 * {"_ft": "datetime", ...} work; unknown keys are errors):
 *   {"types": [{"name": "test.Person", "short_name": "P",
 *               "fields": {"name": "anon", "age": 0, "born": null}}]}
 * `path` only labels error messages (NULL: "types"). Types registered before
 * a failure stay registered. */
int vx_registry_load_json(vx_registry *reg, const char *json, size_t len, const char *path,
                          vx_error *err);
/* As vx_registry_load_json for the contents of the file `path`. */
int vx_registry_load_file(vx_registry *reg, const char *path, vx_error *err);

#ifdef __cplusplus
}
#endif
#endif
