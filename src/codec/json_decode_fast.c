/* Fast path of the JSON decoder for the body of a typed tuple (PROTOCOL
 * §5.3), the shape that makes up nearly all of a large payload.
 *
 * Encoders (vortexpy, VortexC) write a tuple's fields sorted by name, and
 * their values are mostly scalars, wrapped ints and wrapped datetimes:
 *
 *   {"_ct": "rt", "_c": "test.BenchRow", "active": true, "code": "C000000",
 *    "created": {"_ft": "datetime", "_fd": "2017-01-12 14:24:42.123456"},
 *    "id": {"_ft": "int", "_fd": 0}, "price": 0.5, ...}
 *
 * So after each value we expect the next sorted field name byte for byte,
 * and build the value straight into the tuple's slot with no frame pushed
 * and no trip through the general loop. Anything else (a key out of order,
 * an escape, a nested container, a number that is not plain, an error) is
 * left untouched for the general parser, which then produces exactly the
 * result or the error it always did: the fast path only ever accepts input
 * whose general decoding it reproduces, and never reports an error itself
 * (except running out of memory). */
#include <string.h>

#include "codec/json_decode_impl.h"

static int nomem(vx_jstate *st) {
    return vx_error_set(st->err, VX_E_NOMEM, "out of memory decoding JSON");
}

static inline bool is_digit(char c) {
    return (unsigned char)(c - '0') < 10;
}

/* The key table for type t (see vx_jkeytab), built on first use. Field
 * names can be matched against raw input only if none holds a byte JSON
 * escapes: otherwise the raw text could match while meaning something
 * else. Returns false when the fast path must not be used for t. */
static bool key_table(vx_jstate *st, const vx_tuple_type *t) {
    vx_jkeytab *kt = &st->keys;
    if (kt->type == t) return kt->plain;
    kt->type = t;
    kt->plain = false;
    kt->name_plain = true;
    for (size_t k = 0; k < t->name_len; k++)
        if (vx_jstr_stop[(unsigned char)t->name[k]]) kt->name_plain = false;
    for (size_t j = 0; j < t->n_fields; j++)
        for (size_t k = 0; k < t->fields[j].name_len; k++)
            if (vx_jstr_stop[(unsigned char)t->fields[j].name[k]]) return false;
    for (size_t j = 0; j < t->n_fields && j < VX_JKEY_MAX; j++) {
        const struct vx_tuple_field *fd = &t->fields[t->sorted[j]];
        size_t n = fd->name_len;
        kt->len[j] = 0;
        if (n + 6 > VX_JKEY_BYTES) continue;
        char *o = kt->text[j];
        memset(o, 0, VX_JKEY_BYTES);
        memcpy(o, ", \"", 3);
        memcpy(o + 3, fd->name, n);
        memcpy(o + 3 + n, "\": ", 3);
        kt->len[j] = (uint8_t)(n + 6);
    }
    kt->plain = true;
    return true;
}

/* The literal `lit` at p? */
#define AT(p, end, lit)                                                                    \
    ((size_t)((end) - (p)) >= sizeof(lit) - 1 && memcmp(p, lit, sizeof(lit) - 1) == 0)

/* Does the input at p start with text[0..len)? */
static inline bool text_at(const char *p, const char *end, const char *text, size_t len) {
#if defined(__SSE2__)
    if (end - p >= VX_JKEY_BYTES) { /* compare whole blocks, keep the first len bytes */
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)text);
        uint32_t eq = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(a, b));
        if (len > 16) {
            a = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
            b = _mm_loadu_si128((const __m128i *)(const void *)(text + 16));
            eq |= (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(a, b)) << 16;
        }
        uint32_t need = len >= 32 ? UINT32_MAX : (1u << len) - 1;
        return (eq & need) == need;
    }
#endif
    return (size_t)(end - p) >= len && memcmp(p, text, len) == 0;
}

/* `"name" :` at p (whitespace around ':' allowed): the start of the value
 * after it, else NULL. */
static inline const char *match_key(const char *p, const char *end,
                                    const struct vx_tuple_field *fd) {
    size_t n = fd->name_len;
    if ((size_t)(end - p) < n + 3 || p[0] != '"' || p[n + 1] != '"' ||
        memcmp(p + 1, fd->name, n) != 0)
        return NULL;
    p = vx_jskip_ws(p + n + 2, end);
    if (p >= end || *p != ':') return NULL;
    return vx_jskip_ws(p + 1, end);
}

/* An optional '-' and 1-18 digits with no leading zero, at p: up to 18
 * digits cannot overflow, so no range checks are needed. Returns the end,
 * or NULL for anything else (more digits, or not a number at all). */
static inline const char *small_int(const char *p, const char *end, int64_t *out) {
    bool neg = p < end && *p == '-';
    const char *d = p + neg, *q = vx_jskip_digits(d, end);
    size_t nd = (size_t)(q - d);
    if (nd == 0 || nd > 18 || (nd > 1 && *d == '0')) return NULL;
    uint64_t v = vx_jdigits_value(0, d, nd);
    *out = neg ? -(int64_t)v : (int64_t)v;
    return q;
}

/* A bare number: int if it is a plain integer of up to 18 digits (no
 * fraction or exponent), else the general number rules (§4.1). */
static int number(vx_jstate *st, const char **pp, vx_value **out) {
    const char *p = *pp, *end = st->end;
    int64_t i;
    const char *q = small_int(p, end, &i);
    if (q && (q >= end || (*q != '.' && (*q | 0x20) != 'e'))) {
        *out = vx_int(i);
    } else {
        vx_numlit n;
        if (!vx_numlit_scan(p, end, &n, NULL)) return 0;
        int rc = vx_numlit_value(&n, out);
        if (rc == VX_E_NOMEM) return nomem(st);
        if (rc) return 0; /* overflowing double: the general path reports it */
        q = p + n.len;
    }
    if (!*out) return nomem(st);
    *pp = q;
    return 1;
}

/* After the `"_fd":` of a wrapped value: the end of `ws* }`, or NULL. */
static inline const char *close_brace(const char *p, const char *end) {
    p = vx_jskip_ws(p, end);
    return p < end && *p == '}' ? p + 1 : NULL;
}

/* {"_ft": "int", "_fd": N} and {"_ft": "datetime", "_fd": "YYYY-MM-DD
 * HH:MM:SS.ffffff"} as encoders write them, with ", "/": " separators
 * (vortexpy) or none: 4 of the 10 fields of a typical row. Anything else
 * (other _ft, extra keys, odd spacing, a value the general rules treat
 * specially) returns 0 for the general path. */
static int wrapped(vx_jstate *st, const char **pp, vx_value **out) {
    const char *p = *pp, *end = st->end;
    /* The general path checks depth before looking inside an object. */
    if (st->sp >= (size_t)st->max_depth) return 0;
    bool spaced;
    if (AT(p, end, "{\"_ft\": \""))
        spaced = true, p += 9;
    else if (AT(p, end, "{\"_ft\":\""))
        spaced = false, p += 8;
    else
        return 0;
    bool is_int;
    if (AT(p, end, "int\""))
        is_int = true, p += 4;
    else if (AT(p, end, "datetime\""))
        is_int = false, p += 9;
    else
        return 0;
    if (spaced && AT(p, end, ", \"_fd\": "))
        p += 9;
    else if (!spaced && AT(p, end, ",\"_fd\":"))
        p += 7;
    else
        return 0;
    const char *q;
    if (is_int) {
        int64_t i;
        if (!(q = small_int(p, end, &i)) || !(q = close_brace(q, end))) return 0;
        *out = vx_int(i);
    } else {
        int64_t us;
        if (end - p < 28 || p[0] != '"' || p[27] != '"' ||
            !vx_jdatetime_fast(p + 1, 26, &us) || !(q = close_brace(p + 28, end)))
            return 0;
        *out = vx_datetime(us);
    }
    if (!*out) return nomem(st);
    *pp = q;
    return 1;
}

/* The value at *pp if it has one of the fast shapes: 1 with *out (NEW) and
 * *pp past it, 0 to leave it to the general path, or VX_E_NOMEM. */
static int fast_value(vx_jstate *st, const char **pp, vx_value **out) {
    const char *p = *pp, *end = st->end;
    if (p >= end) return 0;
    switch (*p) {
    case '"': {
        const char *e = vx_jscan_plain(p + 1, end);
        if (e >= end || *e != '"') return 0; /* escapes, controls: general path */
        *out = vx_str_trusted(p + 1, (size_t)(e - p - 1));
        p = e + 1;
        break;
    }
    case 't':
        if (!AT(p, end, "true")) return 0;
        *out = vx_bool(true);
        p += 4;
        break;
    case 'f':
        if (!AT(p, end, "false")) return 0;
        *out = vx_bool(false);
        p += 5;
        break;
    case 'n':
        if (!AT(p, end, "null")) return 0;
        *out = vx_null();
        p += 4;
        break;
    case '{':
        return wrapped(st, pp, out);
    default:
        if (*p == '-' || is_digit(*p)) return number(st, pp, out);
        return 0;
    }
    if (!*out) return nomem(st);
    *pp = p;
    return 1;
}

int vx_jtuple_body(vx_jstate *st, vx_jframe *f, const char **pp) {
    vx_tuple_impl *tv = VX_AS(vx_tuple_impl, f->v);
    const vx_tuple_type *t = tv->type;
    const vx_jkeytab *kt = &st->keys;
    const char *p = *pp, *end = st->end;
    if (!key_table(st, t)) return VX_JBODY_AFTER;
    for (;;) {
        size_t j = f->hint, i;
        const char *q;
        if (j < VX_JKEY_MAX && j < t->n_fields && kt->len[j] &&
            text_at(p, end, kt->text[j], kt->len[j])) {
            q = p + kt->len[j]; /* `, "name": ` exactly as vortexpy writes it */
            i = t->sorted[j];
        } else { /* any other spacing, or the end of the object */
            p = vx_jskip_ws(p, end);
            if (p >= end) break;
            if (*p == '}') {
                *pp = p + 1;
                return VX_JBODY_CLOSE;
            }
            if (*p != ',' || j >= t->n_fields) break;
            i = t->sorted[j];
            q = match_key(vx_jskip_ws(p + 1, end), end, &t->fields[i]);
            if (!q) break; /* not the expected key: the general path reads it */
        }
        f->hint++;
        f->slot = JS_FIELD;
        f->field = (int32_t)i;
        vx_value *v;
        int r = fast_value(st, &q, &v);
        if (r < 0) return r;
        if (r == 0) {
            *pp = q;
            return VX_JBODY_VALUE;
        }
        vx_decref(tv->fields[i]); /* a duplicate key: the last one wins */
        tv->fields[i] = v;
        f->slot = JS_NONE;
        p = q;
    }
    *pp = p;
    return VX_JBODY_AFTER;
}

const vx_tuple_type *vx_jtuple_open_fast(vx_jstate *st, const char **pp) {
    const vx_tuple_type *t = st->keys.type;
    const char *p = *pp, *end = st->end;
    if (!t || !st->keys.name_plain) return NULL;
    if (AT(p, end, "{\"_ct\": \"rt\", \"_c\": \""))
        p += 21;
    else if (AT(p, end, "{\"_ct\":\"rt\",\"_c\":\""))
        p += 18;
    else
        return NULL;
    size_t n = t->name_len;
    if ((size_t)(end - p) < n + 1 || p[n] != '"' || memcmp(p, t->name, n) != 0) return NULL;
    *pp = p + n + 1;
    return t;
}
