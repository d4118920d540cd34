/* The JSON encoder's writer, shared by json_encode.c (the value walker),
 * json_encode_scalar.c (numbers, datetimes, bytes) and json_escape.c
 * (strings). Private to the codec.
 *
 * The writer appends straight into the caller's vx_buf through a raw cursor:
 * every token first makes sure of room for its worst case (one check per
 * token rather than per byte), and the buffer's len is only brought up to
 * date at the end, or rolled back to where it started on failure. Short
 * fixed texts are copied as one fixed-size block (VX_JENC_SLACK bytes) and
 * the cursor advanced by their real length: a constant-size memcpy compiles
 * to a couple of vector moves where a variable one is a libc call. */
#ifndef VX_JSON_ENCODE_IMPL_H
#define VX_JSON_ENCODE_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <vortexc/codec.h>

/* The walk recurses once per level, so whatever max_depth says it stops
 * here (a few hundred bytes of stack a level, well inside a 2 MiB thread
 * stack even with sanitizers). No real payload comes near it. */
#define VX_JENC_DEPTH_CAP 4096

/* Fixed-size block for short texts; every source of such a block has at
 * least this many readable bytes, and room is made for it. */
#define VX_JENC_SLACK 64

/* A short fixed text padded to a full block. */
typedef struct {
    char s[VX_JENC_SLACK];
    size_t n;
} vx_jenc_lit;

enum {
    VX_JL_SEP,
    VX_JL_COLON,
    VX_JL_INT,
    VX_JL_BYTES,
    VX_JL_DATETIME,
    VX_JL_WKB,
    VX_JL_TUPLE,
    VX_JL_PAYLOAD, /* up to the filt value */
    VX_JL_REPLY_FILT,
    VX_JL_TUPLES,
    VX_JL_RESULT,
    VX_JL_DATE,
    VX_JL_COUNT
};

/* [compact][which] */
extern const vx_jenc_lit vx_jenc_lits[2][VX_JL_COUNT];

typedef struct vx_jenc_keys vx_jenc_keys; /* json_encode.c: per-type key texts */

typedef struct vx_jenc {
    vx_buf *out;
    char *p, *end; /* cursor and end of out's capacity */
    int max_depth;
    bool compact;
    vx_jenc_keys *keys;         /* small cache, freed at the end of the run */
    const void *keys_last_miss; /* a type gets cached when seen twice */
    /* "YYYY-MM-DD " of recent day numbers, by day parity: rows often
     * alternate between two dates (created/updated) */
    int64_t date_day[2];
    char date_text[2][12];
    /* error state: code, what went wrong, and where, built innermost first
     * as the recursion unwinds (so the success path pays nothing) */
    int code;
    char detail[128];
    char where[160];
    size_t where_pos; /* where[where_pos..] holds the path so far */
    bool where_cut;
} vx_jenc;

/* Slow half of vx_jenc_room: grow the buffer. 0 or VX_E_NOMEM (recorded). */
int vx_jenc_grow(vx_jenc *e, size_t n);

/* Make room for n more bytes at e->p. */
static inline int vx_jenc_room(vx_jenc *e, size_t n) {
    return (size_t)(e->end - e->p) >= n ? 0 : vx_jenc_grow(e, n);
}

/* Write n bytes for which room was made. */
static inline void vx_jenc_put(vx_jenc *e, const char *s, size_t n) {
    memcpy(e->p, s, n);
    e->p += n;
}

/* Write a short text s[0..n) whose source has VX_JENC_SLACK readable bytes,
 * with room made for VX_JENC_SLACK. */
static inline void vx_jenc_put_block(vx_jenc *e, const char *s, size_t n) {
    memcpy(e->p, s, VX_JENC_SLACK);
    e->p += n;
}

static inline const vx_jenc_lit *vx_jenc_lit_of(const vx_jenc *e, int which) {
    return &vx_jenc_lits[e->compact][which];
}

/* Record an error (the first one wins) and return its code. */
int vx_jenc_fail(vx_jenc *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Append s[0..len) as a quoted ASCII-only JSON string, escaped like Python's
 * json.dumps(ensure_ascii=True). VX_E_UTF8 if s is not valid UTF-8. */
int vx_jenc_string(vx_jenc *e, const char *s, size_t len);

/* Scalars (json_encode_scalar.c). Wrapped forms per PROTOCOL §4.1. */
int vx_jenc_int(vx_jenc *e, int64_t i);
int vx_jenc_float(vx_jenc *e, double d); /* VX_E_NONFINITE for NaN/inf */
int vx_jenc_datetime(vx_jenc *e, int64_t us);
int vx_jenc_bytes(vx_jenc *e, const uint8_t *data, size_t len);

#endif
