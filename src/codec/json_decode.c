/* JSON text -> vx_value / payload (PROTOCOL §2.2 steps 5-8).
 *
 * One pass, no intermediate tree: an iterative parser whose explicit frame
 * stack (bounded by max_depth, so hostile nesting costs neither C stack nor
 * memory) builds values directly. Objects are typed as they open: encoders
 * write "_ct"/"_ft" first, so an object starting with "_ct":"rt","_c":T
 * fills a tuple of type T field by field, and one starting with "_ft" builds
 * the wrapped value straight from the _fd token. An object whose _ct/_ft
 * comes later is collected as a dict and converted when it closes
 * (json_decode_typed.c), with the same result. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "codec/json_decode_impl.h"

enum { MODE_PAYLOAD, MODE_VALUE, MODE_PLAIN };
enum { OPEN_VALUE = 1, OPEN_AFTER, OPEN_DONE };

/* ---- UTF-8 (§2.2 step 5) ------------------------------------------------- */

size_t vx_json_utf8_check(const char *str, size_t len) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        while (i + 16 <= len) { /* ASCII fast path */
            uint64_t a, b;
            memcpy(&a, s + i, 8);
            memcpy(&b, s + i + 8, 8);
            if ((a | b) & 0x8080808080808080ULL) break;
            i += 16;
        }
        if (i >= len) break;
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        /* RFC 3629 table: the second byte's range depends on the lead. */
        size_t n;
        unsigned lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F; /* no UTF-16 surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F; /* nothing above U+10FFFF */
        } else {
            return i;
        }
        if (len - i <= n) return i;
        if (s[i + 1] < lo || s[i + 1] > hi) return i;
        for (size_t k = 2; k <= n; k++)
            if ((s[i + k] & 0xC0) != 0x80) return i;
        i += n + 1;
    }
    return len;
}

static int syntax(vx_jstate *st, const char *p, const char *what) {
    return vx_error_set(st->err, VX_E_JSON, "JSON syntax error at byte offset %zu: %s",
                        (size_t)(p - st->start), what);
}

static int nomem(vx_jstate *st) {
    return vx_error_set(st->err, VX_E_NOMEM, "out of memory decoding JSON");
}

static int grow(vx_jstate *st, char **buf, size_t *cap, size_t need) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 256;
    while (c < need) c *= 2;
    char *n = realloc(*buf, c);
    if (!n) return nomem(st);
    *buf = n;
    *cap = c;
    return 0;
}

static int hex4(const char *p, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = (unsigned char)p[i], d;
        if (c - '0' < 10)
            d = c - '0';
        else if ((c | 0x20) - 'a' < 6)
            d = (c | 0x20) - 'a' + 10;
        else
            return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

/* Parse the string whose '"' is at *pp. Its bytes are left in the input
 * (no escapes: nothing copied) or in st->scratch, valid until the next
 * string is parsed. *escaped tells which. */
static int parse_string(vx_jstate *st, const char **pp, const char **out, size_t *len,
                        bool *escaped) {
    const char *q0 = *pp, *s = q0 + 1, *end = st->end;
    const char *p = vx_jscan_plain(s, end);
    if (p < end && *p == '"') {
        *out = s;
        *len = (size_t)(p - s);
        *escaped = false;
        *pp = p + 1;
        return 0;
    }
    size_t n = (size_t)(p - s);
    if (grow(st, &st->scratch, &st->scratch_cap, n + 64)) return VX_E_NOMEM;
    memcpy(st->scratch, s, n);
    for (;;) {
        if (p >= end) return syntax(st, q0, "unterminated string");
        if (*p == '"') break;
        if (*p != '\\') return syntax(st, p, "raw control character in string");
        if (end - p < 2) return syntax(st, q0, "unterminated string");
        if (grow(st, &st->scratch, &st->scratch_cap, n + 4)) return VX_E_NOMEM;
        char *o = st->scratch;
        char c = p[1];
        p += 2;
        switch (c) {
        case '"':
        case '\\':
        case '/':
            o[n++] = c;
            break;
        case 'b':
            o[n++] = '\b';
            break;
        case 'f':
            o[n++] = '\f';
            break;
        case 'n':
            o[n++] = '\n';
            break;
        case 'r':
            o[n++] = '\r';
            break;
        case 't':
            o[n++] = '\t';
            break;
        case 'u': {
            unsigned cp, lo;
            if (end - p < 4 || hex4(p, &cp)) return syntax(st, p - 2, "bad \\u escape");
            p += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return syntax(st, p - 6, "unpaired low surrogate in \\u escape");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return syntax(st, p - 6, "unpaired high surrogate in \\u escape");
                p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (cp < 0x80) {
                o[n++] = (char)cp;
            } else if (cp < 0x800) {
                o[n++] = (char)(0xC0 | cp >> 6);
                o[n++] = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                o[n++] = (char)(0xE0 | cp >> 12);
                o[n++] = (char)(0x80 | (cp >> 6 & 0x3F));
                o[n++] = (char)(0x80 | (cp & 0x3F));
            } else {
                o[n++] = (char)(0xF0 | cp >> 18);
                o[n++] = (char)(0x80 | (cp >> 12 & 0x3F));
                o[n++] = (char)(0x80 | (cp >> 6 & 0x3F));
                o[n++] = (char)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default:
            return syntax(st, p - 2, "invalid escape in string");
        }
        const char *r = vx_jscan_plain(p, end);
        size_t run = (size_t)(r - p);
        if (grow(st, &st->scratch, &st->scratch_cap, n + run)) return VX_E_NOMEM;
        memcpy(st->scratch + n, p, run);
        n += run;
        p = r;
    }
    *out = st->scratch;
    *len = n;
    *escaped = true;
    *pp = p + 1;
    return 0;
}

static inline bool key_is(const char *k, size_t len, const char *lit, size_t n) {
    return len == n && memcmp(k, lit, n) == 0;
}

/* ---- frames --------------------------------------------------------------- */

static inline vx_jframe *top(vx_jstate *st) {
    return &st->frames[st->sp - 1];
}

static int depth_error(vx_jstate *st, const char *p) {
    return vx_error_set(st->err, VX_E_DEPTH,
                        "JSON nesting deeper than max_depth %d at byte offset %zu",
                        st->max_depth, (size_t)(p - st->start));
}

/* Push a frame for the container opening at p; NULL with the error set. */
static vx_jframe *push(vx_jstate *st, int kind, const char *p, bool plain) {
    if (st->sp >= (size_t)st->max_depth) {
        depth_error(st, p);
        return NULL;
    }
    if (st->sp == st->cap) {
        size_t cap = st->cap * 2;
        vx_jframe *n;
        if (st->frames == st->inline_frames) {
            n = malloc(cap * sizeof *n);
            if (n) memcpy(n, st->frames, st->sp * sizeof *n);
        } else {
            n = realloc(st->frames, cap * sizeof *n);
        }
        if (!n) {
            nomem(st);
            return NULL;
        }
        st->frames = n;
        st->cap = cap;
    }
    vx_jframe *f = &st->frames[st->sp++];
    memset(f, 0, sizeof *f);
    f->kind = (uint8_t)kind;
    f->plain = plain;
    f->key_arena = SIZE_MAX;
    f->arena_mark = st->arena_len;
    f->open_off = (size_t)(p - st->start);
    return f;
}

static void pop(vx_jstate *st) {
    vx_jframe *f = top(st);
    vx_decref(f->seen);
    st->arena_len = f->arena_mark;
    st->sp--;
}

/* Copy a key into the arena (NUL-terminated); its offset in *off. */
static int arena_key(vx_jstate *st, const char *k, size_t len, size_t *off) {
    if (grow(st, &st->arena, &st->arena_cap, st->arena_len + len + 1)) return VX_E_NOMEM;
    *off = st->arena_len;
    memcpy(st->arena + st->arena_len, k, len);
    st->arena[st->arena_len + len] = '\0';
    st->arena_len += len + 1;
    return 0;
}

static bool child_plain(const vx_jstate *st) {
    if (!st->sp) return st->plain;
    const vx_jframe *f = &st->frames[st->sp - 1];
    return f->plain || f->slot == JS_IGNORE;
}

/* Strict mode: a key seen twice in one object is VX_E_JSON. Dicts detect
 * this by their size; other objects record their keys in f->seen. */
static int strict_seen(vx_jstate *st, vx_jframe *f, const char *k, size_t len,
                       const char *at) {
    if (!f->seen && !(f->seen = vx_dict())) return nomem(st);
    size_t before = VX_AS(vx_dict_impl, f->seen)->len;
    if (vx_dict_setn_trusted_new(f->seen, k, len, vx_null())) return nomem(st);
    if (VX_AS(vx_dict_impl, f->seen)->len == before)
        return vx_error_set(st->err, VX_E_JSON, "duplicate key \"%s\" at byte offset %zu",
                            SHOW(k, len), (size_t)(at - st->start));
    return 0;
}

/* A key of object frame f has been read: decide where its value goes. */
static int set_key(vx_jstate *st, vx_jframe *f, const char *k, size_t len, bool escaped,
                   const char *at) {
    if (st->strict && f->kind != JK_DICT && strict_seen(st, f, k, len, at))
        return VX_E_JSON;
    switch (f->kind) {
    case JK_DICT:
        f->slot = JS_KEY;
        f->key_len = len;
        if (escaped) {
            if (arena_key(st, k, len, &f->key_arena)) return VX_E_NOMEM;
        } else {
            f->key = k;
            f->key_arena = SIZE_MAX;
        }
        if (!f->plain && len == 3 && k[0] == '_') {
            if (key_is(k, len, "_ct", 3) || key_is(k, len, "_ft", 3)) f->late = 1;
            f->key_fd = key_is(k, len, "_fd", 3);
        } else {
            f->key_fd = 0;
        }
        return 0;
    case JK_TUPLE: {
        if (len && k[0] == '_') {
            f->slot = JS_IGNORE;
            return 0;
        }
        const vx_tuple_type *t = VX_AS(vx_tuple_impl, f->v)->type;
        int idx = vx_jtuple_field(f, t, k, len);
        if (idx >= 0) {
            f->slot = JS_FIELD;
            f->field = idx;
        } else if (st->strict) {
            return vx_error_set(st->err, VX_E_TUPLE_FIELD,
                                "tuple type \"%s\" has no field \"%s\"", t->name,
                                SHOW(k, len));
        } else {
            f->slot = JS_IGNORE;
        }
        return 0;
    }
    case JK_UTUPLE:
        if (len && k[0] == '_') {
            f->slot = JS_IGNORE;
            return 0;
        }
        f->slot = JS_KEY;
        f->key_len = len;
        return arena_key(st, k, len, &f->key_arena);
    case JK_PAYLOAD:
        if (f->top && !f->ct_seen && key_is(k, len, "_ct", 3))
            f->slot = JS_CT;
        else
            f->slot = (uint8_t)vx_jpayload_slot(k, len);
        return 0;
    case JK_WRAP:
        if (!key_is(k, len, "_ct", 3) || f->plain) {
            f->slot = key_is(k, len, "_fd", 3) ? JS_FD : JS_IGNORE;
            return 0;
        }
        /* _ct wins over an earlier _ft: collect the rest as a dict and
         * convert at close (the _ft/_fd keys then count as ignored keys). */
        {
            const char *name = vx_jft_name(f->ft);
            vx_value *d = vx_dict(), *ftv = vx_str_trusted(name, strlen(name));
            if (!d || !ftv || vx_dict_setn_trusted_new(d, "_ft", 3, ftv)) {
                if (!d) vx_decref(ftv);
                vx_decref(d);
                return nomem(st);
            }
            if (f->has_fd && vx_dict_setn_trusted_new(d, "_fd", 3, f->v)) {
                vx_decref(d);
                f->v = NULL;
                return nomem(st);
            }
            if (!f->has_fd) vx_decref(f->v);
            f->v = d;
            f->kind = JK_DICT;
            f->late = 1;
        }
        return set_key(st, f, k, len, escaped, at);
    }
    return 0;
}

/* Parse `"key" :` at *pp (which points at the '"') and route it. */
static int object_key(vx_jstate *st, vx_jframe *f, const char **pp) {
    const char *k, *at = *pp;
    size_t len;
    bool esc;
    if (parse_string(st, pp, &k, &len, &esc)) return VX_E_JSON;
    const char *p = vx_jskip_ws(*pp, st->end);
    if (p >= st->end || *p != ':') return syntax(st, p, "expected ':' after a key");
    *pp = vx_jskip_ws(p + 1, st->end);
    return set_key(st, f, k, len, esc, at);
}

/* ---- values into frames --------------------------------------------------- */

/* Store a finished value `v` (stolen) into frame f's pending slot. */
static int put(vx_jstate *st, vx_jframe *f, vx_value *v, bool num_token) {
    int rc = 0;
    switch (f->kind) {
    case JK_LIST:
        f->count++;
        rc = vx_list_append_trusted_new(f->v, v);
        break;
    case JK_DICT: {
        const char *k = f->key_arena != SIZE_MAX ? st->arena + f->key_arena : f->key;
        size_t before = VX_AS(vx_dict_impl, f->v)->len;
        if (f->key_fd) f->fd_num = num_token;
        rc = vx_dict_setn_trusted_new(f->v, k, f->key_len, v);
        if (!rc && st->strict && VX_AS(vx_dict_impl, f->v)->len == before)
            return vx_error_set(st->err, VX_E_JSON,
                                "duplicate key \"%s\" in object at "
                                "byte offset %zu",
                                SHOW(k, f->key_len), f->open_off);
        st->arena_len = f->arena_mark;
        break;
    }
    case JK_TUPLE:
        if (f->slot == JS_FIELD) {
            vx_value **slot = &VX_AS(vx_tuple_impl, f->v)->fields[f->field];
            vx_decref(*slot);
            *slot = v;
        } else {
            vx_decref(v);
        }
        break;
    case JK_UTUPLE:
        if (f->slot == JS_KEY) {
            rc = vx_tuple_untyped_setn_new(f->v, st->arena + f->key_arena, f->key_len, v);
            st->arena_len = f->arena_mark;
        } else {
            vx_decref(v);
        }
        break;
    case JK_PAYLOAD:
        if (f->slot == JS_CT) {
            bool rp =
                key_is(vx_str_value(v) ? vx_str_value(v) : "", vx_str_len(v), "rp", 2);
            vx_decref(v);
            if (!rp)
                return vx_error_set(st->err, VX_E_CT_WRONG,
                                    "top-level _ct must be \"rp\" (a payload)");
            f->ct_seen = 1;
        } else if (f->top && !f->ct_seen && !st->deferred_rc) {
            /* Until _ct is known a bad field must not hide VX_E_CT_MISSING. */
            vx_error e;
            vx_error *saved = st->err;
            st->err = &e;
            rc = vx_jpayload_put(st, VX_AS(vx_payload, f->v), f->slot, v);
            st->err = saved;
            if (rc) {
                st->deferred_rc = rc;
                memcpy(st->deferred_msg, e.message, sizeof e.message);
                rc = 0;
            }
        } else if (f->top && !f->ct_seen) {
            vx_decref(v);
        } else {
            rc = vx_jpayload_put(st, VX_AS(vx_payload, f->v), f->slot, v);
            if (rc) return rc; /* already reported, naming the field */
        }
        break;
    case JK_WRAP:
        if (f->slot == JS_FD) {
            vx_jtok t = {.type = TK_VALUE, .v = v};
            vx_value *r;
            rc = vx_jwrap_make(st, f->ft, NULL, 0, &t, &r);
            vx_decref(v);
            if (rc) return rc;
            vx_decref(f->v);
            f->v = r;
            f->has_fd = 1;
        } else {
            vx_decref(v);
        }
        break;
    }
    f->slot = JS_NONE;
    if (rc == VX_E_NOMEM) return nomem(st);
    if (rc) return vx_error_set(st->err, rc, "cannot store a decoded value");
    return 0;
}

/* The _fd of a wrapped value is a scalar: build the typed value straight
 * from its token, with no intermediate vx_value. */
static int wrap_scalar(vx_jstate *st, vx_jframe *f, const char **pp) {
    const char *p = *pp, *end = st->end;
    vx_jtok t;
    t.type = TK_NULL;
    switch (*p) {
    case '"': {
        bool esc;
        if (parse_string(st, pp, &t.s, &t.len, &esc)) return VX_E_JSON;
        t.type = TK_STR;
        break;
    }
    case 't':
    case 'f':
    case 'n': {
        static const char *const lits[] = {"true", "false", "null"};
        int i = *p == 't' ? 0 : *p == 'f' ? 1 : 2;
        size_t n = strlen(lits[i]);
        if ((size_t)(end - p) < n || memcmp(p, lits[i], n) != 0)
            return syntax(st, p, "invalid literal");
        t.type = (uint8_t)(i == 0 ? TK_TRUE : i == 1 ? TK_FALSE : TK_NULL);
        *pp = p + n;
        break;
    }
    default: {
        const char *bad = p;
        if (!vx_numlit_scan(p, end, &t.num, &bad))
            return syntax(st, bad,
                          *p == '-' || (*p >= '0' && *p <= '9') ? "invalid number"
                                                                : "unexpected character");
        t.type = TK_NUM;
        *pp = p + t.num.len;
        break;
    }
    }
    vx_value *r;
    if (vx_jwrap_make(st, f->ft, NULL, 0, &t, &r)) return st->err ? st->err->code : -1;
    vx_decref(f->v);
    f->v = r;
    f->has_fd = 1;
    f->slot = JS_NONE;
    return 0;
}

/* Return the error code just recorded (st->err may be NULL). */
#define FAIL(expr)                                                                         \
    do {                                                                                   \
        int rc_ = (expr);                                                                  \
        if (rc_) return rc_;                                                               \
    } while (0)

/* {"_ft": ft, "_fd": <scalar>} as encoders write it: build the value with
 * no frame. *pp is just after the _ft string. Returns 1 with *out set and
 * *pp past the '}', 0 when the object has another shape (the caller then
 * takes the general path from the unchanged *pp), or an error from the
 * value itself (which the general path would report identically). */
static int wrap_inline(vx_jstate *st, int ft, const char **pp, vx_value **out) {
    const char *q = vx_jskip_ws(*pp, st->end), *end = st->end;
    if (q >= end || *q != ',') return 0;
    q = vx_jskip_ws(q + 1, end);
    if (end - q < 5 || memcmp(q, "\"_fd\"", 5) != 0) return 0;
    q = vx_jskip_ws(q + 5, end);
    if (q >= end || *q != ':') return 0;
    q = vx_jskip_ws(q + 1, end);
    if (q >= end) return 0;
    vx_jtok t;
    t.type = TK_NULL;
    char c = *q;
    if (c == '"') {
        bool esc;
        if (parse_string(st, &q, &t.s, &t.len, &esc)) return 0;
        t.type = TK_STR;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        if (!vx_numlit_scan(q, end, &t.num, NULL)) return 0;
        t.type = TK_NUM;
        q += t.num.len;
    } else if (c == 't' && end - q >= 4 && memcmp(q, "true", 4) == 0) {
        t.type = TK_TRUE;
        q += 4;
    } else if (c == 'f' && end - q >= 5 && memcmp(q, "false", 5) == 0) {
        t.type = TK_FALSE;
        q += 5;
    } else if (c == 'n' && end - q >= 4 && memcmp(q, "null", 4) == 0) {
        q += 4;
    } else {
        return 0;
    }
    q = vx_jskip_ws(q, end);
    if (q >= end || *q != '}') return 0;
    int rc = vx_jwrap_make(st, ft, NULL, 0, &t, out);
    if (rc) return rc;
    *pp = q + 1;
    return 1;
}

/* After "_ct": "rt" at *pp: expect "_c" next (the fast path) or fall back to
 * collecting a dict converted at close. */
static int open_tuple(vx_jstate *st, const char **pp, const char *obj, bool plain) {
    const char *p = vx_jskip_ws(*pp, st->end), *end = st->end;
    if (p < end && *p == '}')
        return vx_error_set(st->err, VX_E_TUPLE_NO_TYPE,
                            "tuple object (_ct \"rt\") at byte offset %zu has no _c",
                            (size_t)(obj - st->start));
    if (p >= end || *p != ',') return syntax(st, p, "expected ',' or '}'");
    p = vx_jskip_ws(p + 1, end);
    if (p >= end || *p != '"') return syntax(st, p, "expected a key");
    const char *k, *at = p;
    size_t len;
    bool esc = false;
    if (end - p >= 4 && memcmp(p, "\"_c\"", 4) == 0) {
        k = p + 1;
        len = 2;
        p += 4;
    } else {
        FAIL(parse_string(st, &p, &k, &len, &esc));
    }
    p = vx_jskip_ws(p, end);
    if (p >= end || *p != ':') return syntax(st, p, "expected ':' after a key");
    p = vx_jskip_ws(p + 1, end);
    if (p >= end) return syntax(st, p, "unexpected end of input, expected a value");
    if (!key_is(k, len, "_c", 2)) {
        vx_jframe *f = push(st, JK_DICT, obj, plain);
        if (!f) return st->err ? st->err->code : VX_E_DEPTH;
        vx_value *rt = vx_str_trusted("rt", 2);
        if (!(f->v = vx_dict()) || !rt || vx_dict_setn_trusted_new(f->v, "_ct", 3, rt)) {
            if (!f->v) vx_decref(rt);
            return nomem(st);
        }
        f->late = 1;
        FAIL(set_key(st, f, k, len, esc, at));
        *pp = p;
        return OPEN_VALUE;
    }
    if (p >= end || *p != '"')
        return vx_error_set(st->err, VX_E_TUPLE_NO_TYPE,
                            "tuple object at byte offset %zu: _c must be a string",
                            (size_t)(obj - st->start));
    const char *name;
    FAIL(parse_string(st, &p, &name, &len, &esc));
    const vx_tuple_type *t = vx_jfind_type(st, name, len);
    vx_value *tv;
    if (t) {
        tv = vx_tuple_new_unset(t);
    } else if (st->strict) {
        return vx_error_set(st->err, VX_E_UNKNOWN_TUPLE, "unknown tuple type \"%s\"",
                            SHOW(name, len));
    } else if (len == 0) {
        return vx_error_set(st->err, VX_E_TUPLE_NO_TYPE,
                            "tuple object at byte offset %zu: _c is empty",
                            (size_t)(obj - st->start));
    } else {
        tv = vx_tuple_new_untypedn(name, len);
    }
    if (!tv) return nomem(st);
    vx_jframe *f = push(st, t ? JK_TUPLE : JK_UTUPLE, obj, plain);
    if (!f) {
        vx_decref(tv);
        return st->err ? st->err->code : VX_E_DEPTH;
    }
    f->v = tv;
    if (st->strict) {
        FAIL(strict_seen(st, f, "_ct", 3, obj));
        FAIL(strict_seen(st, f, "_c", 2, at));
    }
    *pp = p;
    return OPEN_AFTER;
}

/* An object opens at *pp. Returns OPEN_DONE with *out set (empty object),
 * OPEN_VALUE (a frame expects its first value) or OPEN_AFTER (the first
 * member was consumed by a fast path), or a negative error. */
static int open_object(vx_jstate *st, const char **pp, vx_value **out) {
    const char *obj = *pp, *end = st->end;
    bool plain = child_plain(st);
    bool top_payload = st->sp == 0 && st->mode == MODE_PAYLOAD;
    if (st->sp >= (size_t)st->max_depth) return depth_error(st, obj);
    if (!plain && !top_payload && !st->strict) {
        const char *q = obj;
        const vx_tuple_type *t = vx_jtuple_open_fast(st, &q);
        if (t) { /* the next row of a tuples list: as open_tuple would */
            vx_value *tv = vx_tuple_new_unset(t);
            if (!tv) return nomem(st);
            vx_jframe *f = push(st, JK_TUPLE, obj, plain);
            if (!f) {
                vx_decref(tv);
                return st->err ? st->err->code : VX_E_DEPTH;
            }
            f->v = tv;
            *pp = q;
            return OPEN_AFTER;
        }
    }
    const char *p = vx_jskip_ws(obj + 1, end);
    if (p >= end) return syntax(st, p, "unexpected end of input in object");
    if (*p == '}') {
        *pp = p + 1;
        if (top_payload)
            return vx_error_set(st->err, VX_E_CT_MISSING, "top-level object has no _ct");
        *out = vx_dict();
        return *out ? OPEN_DONE : nomem(st);
    }
    if (*p != '"') return syntax(st, p, "expected a key or '}'");
    const char *k, *at = p;
    size_t len;
    bool esc = false;
    if (end - p >= 5 && p[1] == '_' && p[3] == 't' && p[4] == '"' &&
        (p[2] == 'c' || p[2] == 'f')) {
        k = p + 1; /* "_ct" / "_ft" as written: no need to scan */
        len = 3;
        p += 5;
    } else {
        FAIL(parse_string(st, &p, &k, &len, &esc));
    }
    p = vx_jskip_ws(p, end);
    if (p >= end || *p != ':') return syntax(st, p, "expected ':' after a key");
    p = vx_jskip_ws(p + 1, end);
    if (p >= end) return syntax(st, p, "unexpected end of input, expected a value");
    if (!plain && len == 3 && k[0] == '_' && k[2] == 't' && (k[1] == 'c' || k[1] == 'f')) {
        bool ct = k[1] == 'c';
        if (ct || !top_payload) {
            if (p >= end || *p != '"') {
                if (top_payload)
                    return vx_error_set(st->err, VX_E_CT_WRONG,
                                        "top-level _ct must be the string \"rp\"");
                return vx_error_set(st->err, ct ? VX_E_UNKNOWN_CT : VX_E_UNKNOWN_FT,
                                    "%s at byte offset %zu must be a string",
                                    ct ? "_ct" : "_ft", (size_t)(at - st->start));
            }
            const char *s;
            size_t n;
            FAIL(parse_string(st, &p, &s, &n, &esc));
            if (!ct) {
                int ft = vx_jft_code(s, n);
                if (ft == FT_UNKNOWN || ft == FT_GEOM)
                    return vx_jwrap_make(st, ft, s, n, NULL, out);
                int r = wrap_inline(st, ft, &p, out);
                if (r < 0) return r;
                if (r == 1) {
                    *pp = p;
                    return OPEN_DONE;
                }
                vx_jframe *f = push(st, JK_WRAP, obj, plain);
                if (!f) return st->err ? st->err->code : VX_E_DEPTH;
                f->ft = (uint8_t)ft;
                if (st->strict) FAIL(strict_seen(st, f, "_ft", 3, at));
                *pp = p;
                return OPEN_AFTER;
            }
            if (key_is(s, n, "rp", 2)) {
                vx_payload *pl = vx_payload_new_blank();
                if (!pl) return nomem(st);
                vx_jframe *f = push(st, JK_PAYLOAD, obj, plain);
                if (!f) {
                    vx_payload_decref(pl);
                    return st->err ? st->err->code : VX_E_DEPTH;
                }
                f->v = &pl->h;
                f->top = top_payload;
                f->ct_seen = 1;
                if (st->strict) FAIL(strict_seen(st, f, "_ct", 3, at));
                *pp = p;
                return OPEN_AFTER;
            }
            if (top_payload)
                return vx_error_set(st->err, VX_E_CT_WRONG,
                                    "top-level _ct must be \"rp\", got \"%s\"", SHOW(s, n));
            if (key_is(s, n, "rt", 2)) {
                *pp = p;
                return open_tuple(st, pp, obj, plain);
            }
            if (key_is(s, n, "gen", 3))
                return vx_error_set(st->err, VX_E_UNSUPPORTED,
                                    "_ct \"gen\" (generic class) is not supported");
            return vx_error_set(st->err, VX_E_UNKNOWN_CT, "unknown _ct \"%s\"", SHOW(s, n));
        }
    }
    vx_jframe *f;
    if (top_payload) {
        vx_payload *pl = vx_payload_new_blank();
        if (!pl) return nomem(st);
        f = push(st, JK_PAYLOAD, obj, plain);
        if (!f) {
            vx_payload_decref(pl);
            return st->err ? st->err->code : VX_E_DEPTH;
        }
        f->v = &pl->h;
        f->top = 1;
    } else {
        f = push(st, JK_DICT, obj, plain);
        if (!f) return st->err ? st->err->code : VX_E_DEPTH;
        if (!(f->v = vx_dict())) return nomem(st);
    }
    FAIL(set_key(st, f, k, len, esc, at));
    *pp = p;
    return OPEN_VALUE;
}

/* The object on top of the stack ends: its finished value in *out. */
static int close_object(vx_jstate *st, vx_value **out) {
    vx_jframe *f = top(st);
    vx_value *v = f->v;
    f->v = NULL;
    switch (f->kind) {
    case JK_DICT:
        if (f->late) {
            size_t off = f->fd_off, len = f->fd_len;
            bool num = f->fd_num;
            pop(st);
            return vx_jlate_convert(st, v, num ? st->start + off : NULL, len, out);
        }
        break;
    case JK_PAYLOAD:
        if (f->top && !f->ct_seen) {
            vx_decref(v);
            return vx_error_set(st->err, VX_E_CT_MISSING, "top-level object has no _ct");
        }
        if (st->deferred_rc) {
            vx_decref(v);
            return vx_error_set(st->err, st->deferred_rc, "%s", st->deferred_msg);
        }
        break;
    case JK_WRAP:
        if (!f->has_fd) {
            char ctx[128];
            static const char *const names[] = {"int",   "float",    "bool", "str",
                                                "bytes", "datetime", "null", "list",
                                                "dict",  "wkb"};
            return vx_error_set(st->err, VX_E_BAD_VALUE, "_ft \"%s\" without _fd%s",
                                names[f->ft], vx_jcontext(st, ctx, sizeof ctx));
        }
        break;
    case JK_TUPLE:
        /* Fields the object did not carry get their defaults now (§5.3). */
        if (vx_tuple_fill_defaults(v) != 0) {
            vx_decref(v);
            return nomem(st);
        }
        break;
    default:
        break;
    }
    pop(st);
    *out = v;
    return 0;
}

/* ---- the main loop --------------------------------------------------------- */

static int run(vx_jstate *st, vx_value **result) {
    const char *p = st->start, *end = st->end;
    vx_value *v = NULL;
    vx_jframe *f;
    bool num_token;
    int rc;

value:
    p = vx_jskip_ws(p, end);
    if (p >= end) return syntax(st, p, "unexpected end of input, expected a value");
    num_token = false;
    f = st->sp ? top(st) : NULL;
    if (f && f->slot == JS_FD && f->kind == JK_WRAP && *p != '{' && *p != '[') {
        FAIL(wrap_scalar(st, f, &p));
        goto after;
    }
    switch (*p) {
    case '{':
        rc = open_object(st, &p, &v);
        if (rc < 0) return rc;
        if (rc == OPEN_DONE) goto deliver;
        if (rc == OPEN_VALUE) goto value;
        goto after;
    case '[':
        if (!push(st, JK_LIST, p, child_plain(st))) return st->err ? st->err->code : -1;
        f = top(st);
        if (!(f->v = vx_list())) return nomem(st);
        p = vx_jskip_ws(p + 1, end);
        if (p < end && *p == ']') {
            p++;
            v = f->v;
            f->v = NULL;
            pop(st);
            goto deliver;
        }
        goto value;
    case '"': {
        const char *s;
        size_t n;
        bool esc;
        FAIL(parse_string(st, &p, &s, &n, &esc));
        if (!(v = vx_str_trusted(s, n))) return nomem(st);
        goto deliver;
    }
    case 't':
        if (end - p < 4 || memcmp(p, "true", 4) != 0)
            return syntax(st, p, "invalid literal");
        p += 4;
        v = vx_bool(true);
        goto deliver;
    case 'f':
        if (end - p < 5 || memcmp(p, "false", 5) != 0)
            return syntax(st, p, "invalid literal");
        p += 5;
        v = vx_bool(false);
        goto deliver;
    case 'n':
        if (end - p < 4 || memcmp(p, "null", 4) != 0)
            return syntax(st, p, "invalid literal");
        p += 4;
        v = vx_null();
        goto deliver;
    default: {
        vx_numlit n;
        const char *bad = p;
        if (!vx_numlit_scan(p, end, &n, &bad))
            return syntax(st, bad,
                          *p == '-' || (*p >= '0' && *p <= '9') ? "invalid number"
                                                                : "unexpected character");
        rc = vx_numlit_value(&n, &v);
        if (rc == VX_E_NOMEM) return nomem(st);
        if (rc) return syntax(st, p, "number outside the range of a double");
        if (f && f->kind == JK_DICT && f->key_fd) {
            f->fd_off = (size_t)(p - st->start);
            f->fd_len = n.len;
            num_token = true;
        }
        p += n.len;
        goto deliver;
    }
    }

deliver:
    if (st->sp == 0) {
        p = vx_jskip_ws(p, end);
        if (p < end) {
            vx_decref(v);
            return syntax(st, p, "trailing data after the JSON value");
        }
        *result = v;
        return 0;
    }
    rc = put(st, top(st), v, num_token);
    v = NULL;
    if (rc) return rc;

after:
    p = vx_jskip_ws(p, end);
    if (p >= end) return syntax(st, p, "unexpected end of input");
    f = top(st);
    if (f->kind == JK_TUPLE && !st->strict) {
        rc = vx_jtuple_body(st, f, &p);
        if (rc < 0) return rc;
        if (rc == VX_JBODY_VALUE) goto value;
        if (rc == VX_JBODY_CLOSE) {
            FAIL(close_object(st, &v));
            goto deliver;
        }
        if (p >= end) return syntax(st, p, "unexpected end of input");
    }
    if (f->kind == JK_LIST) {
        if (*p == ',') {
            p++;
            goto value;
        }
        if (*p == ']') {
            p++;
            v = f->v;
            f->v = NULL;
            pop(st);
            goto deliver;
        }
        return syntax(st, p, "expected ',' or ']'");
    }
    if (*p == ',') {
        p = vx_jskip_ws(p + 1, end);
        if (p >= end || *p != '"') return syntax(st, p, "expected a key");
        FAIL(object_key(st, f, &p));
        goto value;
    }
    if (*p == '}') {
        p++;
        FAIL(close_object(st, &v));
        goto deliver;
    }
    return syntax(st, p, "expected ',' or '}'");
}

/* ---- entry points ------------------------------------------------------------ */

static int decode(const char *json, size_t len, int mode, const vx_codec_opts *opts,
                  int max_depth, vx_value **out, vx_error *err) {
    *out = NULL;
    if (!json && len) return vx_error_set(err, VX_E_INVAL, "JSON text is NULL");
    if (!json) json = "";
    size_t bad = vx_json_utf8_check(json, len);
    if (bad != len)
        return vx_error_set(err, VX_E_UTF8, "invalid UTF-8 at byte offset %zu", bad);
    vx_jstate state, *st = &state; /* ~5 KB: cheaper than a large malloc */
    memset(st, 0, offsetof(vx_jstate, inline_frames));
    st->start = json;
    st->end = json + len;
    st->opts = opts;
    st->reg = opts ? opts->registry : NULL;
    st->strict = opts && opts->strict_decode;
    st->max_depth = max_depth > 0 ? max_depth : VX_DEFAULT_MAX_DEPTH;
    st->mode = mode;
    st->plain = mode == MODE_PLAIN;
    st->err = err;
    st->frames = st->inline_frames;
    st->cap = VX_JFRAMES_INLINE;
    st->keys.type = NULL;

    vx_error local;
    if (!err) st->err = &local; /* the code is read back from st->err */
    vx_error_clear(st->err);
    int rc = run(st, out);
    if (rc) {
        if (st->err->code) rc = st->err->code;
        *out = NULL;
        while (st->sp) {
            vx_decref(top(st)->v);
            pop(st);
        }
    }
    if (st->frames != st->inline_frames) free(st->frames);
    free(st->scratch);
    free(st->arena);
    return rc;
}

int vx_json_decode_payload(const char *json, size_t len, const vx_codec_opts *opts,
                           vx_payload **out, vx_error *err) {
    if (!out) return vx_error_set(err, VX_E_INVAL, "out is NULL");
    *out = NULL;
    int depth = opts ? opts->max_depth : VX_DEFAULT_MAX_DEPTH;
    const char *p = json ? vx_jskip_ws(json, json + len) : NULL;
    if (!p || p == json + len || *p != '{') {
        /* Not an object: a syntax error if it is not JSON at all. */
        vx_value *v;
        int rc = decode(json, len, MODE_PLAIN, opts, depth, &v, err);
        if (rc) return rc;
        static const char *const json_names[] = {
            [VX_NULL] = "null",      [VX_BOOL] = "a bool",  [VX_INT] = "a number",
            [VX_FLOAT] = "a number", [VX_STR] = "a string", [VX_LIST] = "an array"};
        vx_type t = vx_typeof(v);
        rc = vx_error_set(err, VX_E_NOT_OBJECT, "top-level JSON value is %s, not an object",
                          t <= VX_LIST && json_names[t] ? json_names[t] : "not an object");
        vx_decref(v);
        return rc;
    }
    vx_value *v;
    int rc = decode(json, len, MODE_PAYLOAD, opts, depth, &v, err);
    if (rc) return rc;
    *out = VX_AS(vx_payload, v);
    return 0;
}

int vx_json_decode_value(const char *json, size_t len, const vx_codec_opts *opts,
                         vx_value **out, vx_error *err) {
    if (!out) return vx_error_set(err, VX_E_INVAL, "out is NULL");
    return decode(json, len, MODE_VALUE, opts, opts ? opts->max_depth : 0, out, err);
}

int vx_json_parse_plain(const char *json, size_t len, int max_depth, vx_value **out,
                        vx_error *err) {
    if (!out) return vx_error_set(err, VX_E_INVAL, "out is NULL");
    return decode(json, len, MODE_PLAIN, NULL, max_depth, out, err);
}
