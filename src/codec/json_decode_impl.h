/* Private pieces of the JSON decoder (PROTOCOL §2.2 steps 5-8, §3-§5):
 * number literals, UTF-8 checking, the parser state and the typed-value
 * builders shared by json_decode.c and json_decode_typed.c. */
#ifndef VX_JSON_DECODE_IMPL_H
#define VX_JSON_DECODE_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <vortexc/codec.h>

#include "value/value_impl.h"

/* ---- number literals (json_number.c) ----------------------------------- */

/* A scanned JSON number: enough to build an int or a correctly rounded
 * double, and to decide a wrapped int exactly (§4.2) without a double. */
typedef struct vx_numlit {
    const char *s; /* the literal text */
    size_t len;
    bool neg, has_frac, has_exp;
    int64_t ndig;   /* significant digits (leading zeros dropped) */
    int64_t ntrail; /* trailing zeros among them */
    uint64_t mant;  /* the first min(ndig, 19) significant digits */
    int64_t exp10;  /* value = (all significant digits) * 10^exp10 */
} vx_numlit;

/* Scan a JSON number at p (RFC 8259 grammar). Returns its length, or 0 when
 * p does not start a valid number (the offset of the problem in *bad). */
size_t vx_numlit_scan(const char *p, const char *end, vx_numlit *n, const char **bad);
/* Correctly rounded double, independent of the process locale. VX_E_JSON
 * when the magnitude overflows a double. */
int vx_numlit_to_double(const vx_numlit *n, double *out);
/* Exact int64 of the literal's value (5, 5.0, 5e0, 50e-1): VX_E_BAD_VALUE
 * for a non-zero fraction, VX_E_INT_RANGE outside int64. */
int vx_numlit_to_int_exact(const vx_numlit *n, int64_t *out);
/* Bare number per §4.1: no fraction/exponent and within int64 -> int, else
 * float. NEW value in *out; VX_E_JSON for an overflowing double,
 * VX_E_NOMEM. */
int vx_numlit_value(const vx_numlit *n, vx_value **out);

/* ---- lexical helpers (shared by the general parser and its fast paths) -- */

static const uint8_t vx_jws_tab[256] = {[' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1};

/* Skip JSON whitespace. Encoders write none or a single space (", ", ": "),
 * so those two cases are decided before the loop. */
static inline const char *vx_jskip_ws(const char *p, const char *end) {
    if (p < end && (unsigned char)*p > ' ') return p;
    if (p + 1 < end && *p == ' ' && (unsigned char)p[1] > ' ') return p + 1;
    while (p < end && vx_jws_tab[(unsigned char)*p]) p++;
    return p;
}

/* Bytes that end a plain run inside a string: '"', '\\' and controls. */
static const uint8_t vx_jstr_stop[256] = {
    [0] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,         1,
    1,       1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, ['"'] = 1, ['\\'] = 1,
};

/* First byte in [p, end) that is '"', '\\' or a control character, or end.
 * 16 bytes per step with SSE2 (always there on x86-64), else 8 with the
 * portable word trick, then byte by byte near the end of the input. */
static inline const char *vx_jscan_plain(const char *p, const char *end) {
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'),
                  ctl = _mm_set1_epi8(0x1F);
    while (end - p >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i hit =
            _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bslash)),
                         _mm_cmpeq_epi8(_mm_min_epu8(x, ctl), x)); /* x <= 0x1F */
        unsigned m = (unsigned)_mm_movemask_epi8(hit);
        if (m) return p + __builtin_ctz(m);
        p += 16;
    }
#endif
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    while (end - p >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        /* A high bit per byte that is '"', '\\' or < 0x20; borrows can only
         * flag bytes above a true hit, so the lowest flag is exact. */
        uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
        uint64_t t =
            (((q - ones) & ~q) | ((b - ones) & ~b) | ((w - ones * 0x20) & ~w)) & highs;
        if (t) {
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            return p + (__builtin_ctzll(t) >> 3);
#else
            break;
#endif
        }
        p += 8;
    }
    while (p < end && !vx_jstr_stop[(unsigned char)*p]) p++;
    return p;
}

/* End of the run of ASCII digits at p. Eight bytes at a time: a byte's
 * high bit is set in t when it is below '0', above '9' or not ASCII, and
 * carries/borrows only leave flagged bytes, so the lowest flag is exact. */
static inline const char *vx_jskip_digits(const char *p, const char *end) {
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    while (end - p >= 8) {
        uint64_t w, t;
        memcpy(&w, p, 8);
        t = ((w + 0x4646464646464646ULL) | (w - 0x3030303030303030ULL) | w) &
            0x8080808080808080ULL;
        if (t) return p + (__builtin_ctzll(t) >> 3);
        p += 8;
    }
#endif
    while (p < end && (unsigned char)(*p - '0') < 10) p++;
    return p;
}

#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* The value of 8 digits (as byte values 0-9, first digit in the lowest
 * byte) by the usual pairwise combination: 1+1 -> 2, 2+2 -> 4, 4+4 -> 8. */
static inline uint64_t vx_jdigits8(uint64_t w) {
    w = (w * 10 + (w >> 8)) & 0x00FF00FF00FF00FFULL;
    w = (w * 100 + (w >> 16)) & 0x0000FFFF0000FFFFULL;
    return (w * 10000 + (w >> 32)) & 0xFFFFFFFFULL;
}
#endif

/* m * 10^n + the n ASCII digits at p (m * 10^n must stay below 2^64),
 * eight at a time. */
static inline uint64_t vx_jdigits_value(uint64_t m, const char *p, size_t n) {
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    for (; n >= 8; n -= 8, p += 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        m = m * 100000000 + vx_jdigits8(w - 0x3030303030303030ULL);
    }
#endif
    for (; n; n--) m = m * 10 + (uint64_t)(*p++ - '0');
    return m;
}

/* ---- UTF-8 (json_decode.c) ---------------------------------------------- */

/* Offset of the first invalid UTF-8 sequence in s[0..len), or len. */
size_t vx_json_utf8_check(const char *s, size_t len);

/* ---- parser state -------------------------------------------------------- */

enum vx_jkind { JK_LIST, JK_DICT, JK_TUPLE, JK_UTUPLE, JK_PAYLOAD, JK_WRAP };

/* What the pending value of an object frame is for. */
enum vx_jslot {
    JS_NONE,
    JS_IGNORE, /* parsed without typing, then dropped */
    JS_KEY,    /* dict entry / untyped tuple field named by the pending key */
    JS_FIELD,  /* typed tuple field `field` */
    JS_CT,     /* top-level payload: a _ct that was not the first key */
    JS_FILT,
    JS_RFILT,
    JS_TUPLES,
    JS_RESULT,
    JS_DATE,
    JS_FD, /* wrapped value's _fd */
};

/* _ft codes. */
enum vx_jft {
    FT_INT,
    FT_FLOAT,
    FT_BOOL,
    FT_STR,
    FT_BYTES,
    FT_DATETIME,
    FT_NULL,
    FT_LIST,
    FT_DICT,
    FT_WKB,
    FT_GEOM,
    FT_UNKNOWN,
};

/* One open array or object. */
typedef struct vx_jframe {
    uint8_t kind;  /* vx_jkind */
    uint8_t slot;  /* vx_jslot of the pending value */
    uint8_t plain; /* no vortex typing inside (plain parse or dropped value) */
    uint8_t top;   /* the top-level payload object */
    uint8_t late;  /* JK_DICT holding _ct/_ft: converted when it closes */
    uint8_t ft;    /* JK_WRAP: vx_jft */
    uint8_t has_fd;
    uint8_t ct_seen; /* JK_PAYLOAD: a _ct "rp" was seen */
    uint8_t fd_num;  /* JK_DICT late: the last _fd value was a number */
    uint8_t key_fd;  /* JK_DICT late: the pending key is "_fd" */
    int32_t field;   /* JK_TUPLE: pending field index */
    uint32_t hint;   /* JK_TUPLE: next position in type->sorted */
    const char *key; /* pending key, when it lies in the input */
    size_t key_len;
    size_t key_arena; /* pending key's offset in the arena, or SIZE_MAX */
    size_t arena_mark;
    size_t fd_off, fd_len; /* JK_DICT late: text of the _fd number */
    size_t open_off;       /* offset of the '{' or '[' */
    size_t count;          /* JK_LIST: items so far (for messages) */
    vx_value *v;           /* the container being filled / wrapped result */
    vx_value *seen;        /* strict mode: keys of a non-dict object */
} vx_jframe;

#define VX_JFRAMES_INLINE 40

/* The key text `, "name": ` (as vortexpy separates members) of each field
 * of one tuple type, in sorted field order, so the typed tuple fast path
 * (json_decode_fast.c) can recognise "comma, expected key, colon" with one
 * or two 16-byte compares. Built when a type is first met in a decode. */
#define VX_JKEY_MAX   32 /* fields covered; later ones take the plain match */
#define VX_JKEY_BYTES 32 /* room for the text; longer names take the plain match */
typedef struct vx_jkeytab {
    const vx_tuple_type *type; /* whose keys these are, or NULL */
    bool plain;                /* no field name holds a byte JSON escapes */
    bool name_plain;           /* nor does the type's name */
    uint8_t len[VX_JKEY_MAX];  /* length of text[j], 0 if not usable */
    char text[VX_JKEY_MAX][VX_JKEY_BYTES];
} vx_jkeytab;

typedef struct vx_jstate {
    const char *start, *end;
    const vx_codec_opts *opts;
    const vx_registry *reg;
    bool strict;
    bool plain; /* vx_json_parse_plain: no typing anywhere */
    int mode;   /* what the top-level value must be (json_decode.c) */
    int max_depth;
    vx_error *err;
    vx_jframe *frames;
    size_t sp, cap; /* frames in use / allocated */
    char *scratch;  /* unescaped strings */
    size_t scratch_cap;
    char *arena; /* pending keys that must outlive the scratch buffer */
    size_t arena_len, arena_cap;
    const vx_tuple_type *last_type; /* registry lookup cache */
    int deferred_rc;                /* top payload: error held until _ct is known */
    char deferred_msg[VX_ERROR_MESSAGE_MAX];
    vx_jframe inline_frames[VX_JFRAMES_INLINE];
    vx_jkeytab keys; /* not zeroed as a whole: keys.type starts NULL */
} vx_jstate;

/* A scalar _fd token, or an already decoded value (`v`, BORROWED). */
enum vx_jtok_type { TK_STR, TK_NUM, TK_TRUE, TK_FALSE, TK_NULL, TK_VALUE };
typedef struct vx_jtok {
    uint8_t type;
    const char *s; /* TK_STR: bytes (unescaped) */
    size_t len;
    vx_numlit num; /* TK_NUM */
    vx_value *v;   /* TK_VALUE */
} vx_jtok;

/* ---- typed builders (json_decode_typed.c) --------------------------------
 * Every function returns 0 or a VX_E_* code with st->err filled. */

int vx_jft_code(const char *s, size_t len);
const char *vx_jft_name(int ft);
/* Build the value of {"_ft": ft, "_fd": tok} into *out (NEW). */
int vx_jwrap_make(vx_jstate *st, int ft, const char *ft_name, size_t ft_len,
                  const vx_jtok *tok, vx_value **out);
/* Store `v` (stolen) as payload field `slot` after the §3.1 type checks. */
int vx_jpayload_put(vx_jstate *st, vx_payload *p, int slot, vx_value *v);
/* Payload slot for a key, JS_IGNORE for unknown keys. */
int vx_jpayload_slot(const char *k, size_t len);
/* Convert a dict whose keys include _ct or _ft (decoded out of order) into
 * the typed value; steals `d`. fd_text: the _fd number literal, if any. */
int vx_jlate_convert(vx_jstate *st, vx_value *d, const char *fd_text, size_t fd_len,
                     vx_value **out);
/* Field index of a key in a typed tuple frame (using the sorted hint), or
 * -1. */
int vx_jtuple_field(vx_jframe *f, const vx_tuple_type *t, const char *k, size_t len);
/* Registry lookup with a one-entry cache. */
const vx_tuple_type *vx_jfind_type(vx_jstate *st, const char *name, size_t len);
/* " (key \"x\")"-style description of where the value being built sits,
 * for error messages; writes into buf. */
const char *vx_jcontext(const vx_jstate *st, char *buf, size_t size);

/* "YYYY-MM-DD HH:MM:SS.ffffff" (the form every encoder writes) as
 * microseconds; false for anything else, left to vx_datetime_parse. */
bool vx_jdatetime_fast(const char *s, size_t len, int64_t *us);

/* ---- typed tuple fast path (json_decode_fast.c) --------------------------
 * Reads fields of the typed tuple frame f (on top of the stack, not strict
 * mode) from *pp, which is just after a value (or after "_c": "T"), as long
 * as keys come in sorted order and values have simple shapes. Returns
 * VX_JBODY_CLOSE (*pp past the closing '}'), VX_JBODY_VALUE (a key was
 * routed to f's slot; *pp at its value, for the general parser),
 * VX_JBODY_AFTER (*pp where the general parser resumes after a value) or
 * VX_E_NOMEM. */
enum { VX_JBODY_AFTER, VX_JBODY_VALUE, VX_JBODY_CLOSE };
int vx_jtuple_body(vx_jstate *st, vx_jframe *f, const char **pp);
/* At the '{' *pp: `{"_ct": "rt", "_c": "T"` for the type T of the last
 * typed tuple (how every row of a tuples list starts)? Then the type, with
 * *pp past T's closing quote; else NULL and *pp unchanged. */
const vx_tuple_type *vx_jtuple_open_fast(vx_jstate *st, const char **pp);

/* Input text made safe for a one-line message: at most ~60 bytes, control
 * characters, quotes and backslashes shown as \xNN. Writes into buf. */
const char *vx_jshow(char *buf, size_t size, const char *s, size_t len);
#define SHOW(s, len) vx_jshow((char[128]){0}, 128, (s), (len))

#endif
