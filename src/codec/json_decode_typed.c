/* Typed values of the JSON decoder (PROTOCOL §3.1, §4.1-§4.4, §5.3): wrapped
 * values, payload fields, tuples decoded out of order, and the error
 * messages that name where a bad value sits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/base64.h"
#include "codec/json_decode_impl.h"

static const char *const ft_names[] = {"int",  "float", "bool", "str", "bytes", "datetime",
                                       "null", "list",  "dict", "wkb", "geom"};

const char *vx_jshow(char *buf, size_t size, const char *s, size_t len) {
    size_t o = 0;
    for (size_t i = 0; i < len && o + 8 < size && i < 60; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7F || c == '"' || c == '\\')
            o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
        else
            buf[o++] = (char)c;
    }
    if (len > 60 && o + 4 < size) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

const char *vx_jft_name(int ft) {
    return ft >= 0 && ft < FT_UNKNOWN ? ft_names[ft] : "?";
}

int vx_jft_code(const char *s, size_t len) {
    int guess;
    switch (len) { /* one candidate per (length, first byte) */
    case 3:
        guess = s[0] == 'i' ? FT_INT : s[0] == 's' ? FT_STR : FT_WKB;
        break;
    case 4:
        guess = s[0] == 'b'   ? FT_BOOL
                : s[0] == 'n' ? FT_NULL
                : s[0] == 'l' ? FT_LIST
                : s[0] == 'd' ? FT_DICT
                              : FT_GEOM;
        break;
    case 5:
        guess = s[0] == 'f' ? FT_FLOAT : FT_BYTES;
        break;
    case 8:
        guess = FT_DATETIME;
        break;
    default:
        return FT_UNKNOWN;
    }
    return memcmp(ft_names[guess], s, len) == 0 ? guess : FT_UNKNOWN;
}

/* JSON-flavoured type names for "got X" messages. */
static const char *got_name(const vx_value *v) {
    switch (vx_typeof(v)) {
    case VX_STR:
        return "string";
    case VX_LIST:
        return "array";
    case VX_DICT:
        return "object";
    default:
        return vx_type_name(vx_typeof(v));
    }
}

static const char *tok_name(const vx_jtok *t) {
    switch (t->type) {
    case TK_STR:
        return "string";
    case TK_NUM:
        return "number";
    case TK_TRUE:
    case TK_FALSE:
        return "bool";
    case TK_NULL:
        return "null";
    default:
        return got_name(t->v);
    }
}

static const char *pending_key(const vx_jstate *st, const vx_jframe *f, size_t *len) {
    *len = f->key_len;
    return f->key_arena != SIZE_MAX ? st->arena + f->key_arena : f->key;
}

const char *vx_jcontext(const vx_jstate *st, char *buf, size_t size) {
    buf[0] = '\0';
    for (size_t i = st->sp; i-- > 0;) {
        const vx_jframe *f = &st->frames[i];
        if (f->kind == JK_WRAP) continue;
        size_t kl;
        const char *k;
        switch (f->kind) {
        case JK_LIST:
            snprintf(buf, size, " in array item %zu", f->count);
            break;
        case JK_DICT:
        case JK_UTUPLE:
            if (f->slot != JS_KEY) break;
            k = pending_key(st, f, &kl);
            snprintf(buf, size, " at key \"%s\"", SHOW(k, kl));
            break;
        case JK_TUPLE:
            if (f->slot == JS_FIELD) {
                const vx_tuple_type *t = VX_AS(vx_tuple_impl, f->v)->type;
                snprintf(buf, size, " in field \"%s\" of %s", t->fields[f->field].name,
                         t->name);
            }
            break;
        case JK_PAYLOAD: {
            static const char *const names[] = {[JS_FILT] = "filt",
                                                [JS_RFILT] = "replyFilt",
                                                [JS_TUPLES] = "tuples",
                                                [JS_RESULT] = "result",
                                                [JS_DATE] = "date"};
            if (f->slot >= JS_FILT && f->slot <= JS_DATE)
                snprintf(buf, size, " in payload field \"%s\"", names[f->slot]);
            break;
        }
        default:
            break;
        }
        break;
    }
    return buf;
}

/* ---- wrapped values (§4.1, §4.2) ----------------------------------------- */

static int bad_fd(vx_jstate *st, int code, int ft, const vx_jtok *t, const char *why) {
    char ctx[128];
    return vx_error_set(st->err, code, "_ft \"%s\": _fd %s (got %s)%s", ft_names[ft], why,
                        tok_name(t), vx_jcontext(st, ctx, sizeof ctx));
}

/* A string of an optional sign and 1-19 digits (vortexpy accepted "5"). */
static int str_to_int(const char *s, size_t len, int64_t *out) {
    size_t i = 0;
    bool neg = false;
    if (i < len && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    size_t nd = len - i;
    if (nd < 1 || nd > 19) return VX_E_BAD_VALUE;
    uint64_t v = 0;
    for (; i < len; i++) {
        if ((unsigned char)(s[i] - '0') > 9) return VX_E_BAD_VALUE;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (v > limit) return VX_E_INT_RANGE;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

/* A string holding a JSON number (a leading '+' allowed) as a double. */
static int str_to_double(const char *s, size_t len, double *out) {
    if (len && s[0] == '+') {
        s++;
        len--;
        if (len && s[0] == '-') return VX_E_BAD_VALUE;
    }
    vx_numlit n;
    if (vx_numlit_scan(s, s + len, &n, NULL) != len || len == 0) return VX_E_BAD_VALUE;
    if (vx_numlit_to_double(&n, out) != 0) return VX_E_BAD_VALUE;
    return 0;
}

/* True if all 8 bytes of w are ASCII digits: each high nibble is 3, and
 * adding 6 to each byte (no carry between bytes once the nibbles are 3)
 * leaves it so only for a low nibble of 0-9. */
static inline bool all_digits8(uint64_t w) {
    const uint64_t hi = 0xF0F0F0F0F0F0F0F0ULL, threes = 0x3030303030303030ULL;
    return (w & hi) == threes && ((w + 0x0606060606060606ULL) & hi) == threes;
}

bool vx_jdatetime_fast(const char *s, size_t len, int64_t *us) {
    /* The first 24 bytes as three words: the separators compared exactly
     * under a mask, then replaced by '0' so one test covers all digits. */
    static const char pat[24] = "0000-00-00 00:00:00.0000";
    static const unsigned char sep[24] = {0, 0,    0, 0, 0xFF, 0, 0, 0xFF, 0, 0, 0xFF, 0,
                                          0, 0xFF, 0, 0, 0xFF, 0, 0, 0xFF, 0, 0, 0,    0};
    if (len != 26) return false;
    for (int i = 0; i < 3; i++) {
        uint64_t w, m, want;
        memcpy(&w, s + 8 * i, 8);
        memcpy(&m, sep + 8 * i, 8);
        memcpy(&want, pat + 8 * i, 8);
        if (((w ^ want) & m) != 0 || !all_digits8((w & ~m) | (0x3030303030303030ULL & m)))
            return false;
    }
    if ((unsigned char)(s[24] - '0') > 9 || (unsigned char)(s[25] - '0') > 9) return false;
#define D2(i) ((s[i] - '0') * 10 + (s[i + 1] - '0'))
    int year = D2(0) * 100 + D2(2);
    int micro = D2(20) * 10000 + D2(22) * 100 + D2(24);
    return vx_datetime_from_parts(year, D2(5), D2(8), D2(11), D2(14), D2(17), micro, us) ==
           0;
#undef D2
}

static int make_b64(vx_jstate *st, int ft, const vx_jtok *t, vx_value **out) {
    size_t cap = vx_base64_decoded_max(t->len);
    uint8_t *buf = malloc(cap ? cap : 1);
    if (!buf) return vx_error_set(st->err, VX_E_NOMEM, "out of memory decoding _fd");
    size_t n = 0, bad_at = 0;
    if (vx_base64_decode(t->s, t->len, buf, &n, 0, &bad_at) != 0) {
        free(buf);
        char why[64];
        snprintf(why, sizeof why, "is not valid base64 (at character %zu)", bad_at);
        return bad_fd(st, VX_E_BAD_VALUE, ft, t, why);
    }
    *out = ft == FT_WKB ? vx_wkb(buf, n, t->s, t->len) : vx_bytes(buf, n);
    free(buf);
    return *out ? 0 : vx_error_set(st->err, VX_E_NOMEM, "out of memory decoding _fd");
}

int vx_jwrap_make(vx_jstate *st, int ft, const char *ft_name, size_t ft_len,
                  const vx_jtok *tok_in, vx_value **out) {
    *out = NULL;
    if (ft == FT_GEOM)
        return vx_error_set(st->err, VX_E_UNSUPPORTED,
                            "_ft \"geom\": receiving geometry is not supported");
    if (ft < 0 || ft >= FT_GEOM)
        return vx_error_set(st->err, VX_E_UNKNOWN_FT, "unknown _ft \"%s\"",
                            SHOW(ft_name ? ft_name : "", ft_len));
    vx_jtok t = *tok_in;
    if (t.type == TK_VALUE) { /* a decoded value: look at it as a token */
        switch (vx_typeof(t.v)) {
        case VX_STR:
            t.type = TK_STR;
            t.s = VX_AS(vx_str_impl, t.v)->data;
            t.len = VX_AS(vx_str_impl, t.v)->len;
            break;
        case VX_BOOL:
            t.type = vx_bool_value(t.v) ? TK_TRUE : TK_FALSE;
            break;
        case VX_NULL:
            t.type = TK_NULL;
            break;
        default:
            break;
        }
    }
    int rc = 0;
    int64_t i64 = 0;
    double d = 0;
    switch (ft) {
    case FT_INT:
        if (t.type == TK_NUM)
            rc = vx_numlit_to_int_exact(&t.num, &i64);
        else if (t.type == TK_STR)
            rc = str_to_int(t.s, t.len, &i64);
        else if (t.type == TK_VALUE && vx_typeof(t.v) == VX_INT)
            i64 = vx_int_value(t.v);
        else
            rc = VX_E_BAD_VALUE;
        if (rc == VX_E_INT_RANGE)
            return bad_fd(st, rc, ft, &t, "is outside the 64-bit integer range");
        if (rc) return bad_fd(st, rc, ft, &t, "is not an integer");
        *out = vx_int(i64);
        break;
    case FT_FLOAT:
        if (t.type == TK_NUM)
            rc = vx_numlit_to_double(&t.num, &d);
        else if (t.type == TK_STR)
            rc = str_to_double(t.s, t.len, &d);
        else if (t.type == TK_VALUE && vx_typeof(t.v) == VX_FLOAT)
            d = vx_float_value(t.v);
        else if (t.type == TK_VALUE && vx_typeof(t.v) == VX_INT)
            d = (double)vx_int_value(t.v);
        else
            rc = VX_E_BAD_VALUE;
        if (rc || d - d != 0)
            return bad_fd(st, VX_E_BAD_VALUE, ft, &t, "is not a finite number");
        *out = vx_float(d);
        break;
    case FT_BOOL:
        if (t.type == TK_TRUE || (t.type == TK_STR && t.len == 1 && t.s[0] == '1'))
            *out = vx_bool(true);
        else if (t.type == TK_FALSE || (t.type == TK_STR && t.len == 1 && t.s[0] == '0'))
            *out = vx_bool(false);
        else
            return bad_fd(st, VX_E_BAD_VALUE, ft, &t,
                          "must be \"1\", \"0\", true or false");
        break;
    case FT_STR:
        if (t.type != TK_STR) return bad_fd(st, VX_E_BAD_VALUE, ft, &t, "must be a string");
        *out = vx_str_trusted(t.s, t.len);
        break;
    case FT_BYTES:
    case FT_WKB:
        if (t.type != TK_STR)
            return bad_fd(st, VX_E_BAD_VALUE, ft, &t, "must be a base64 string");
        return make_b64(st, ft, &t, out);
    case FT_DATETIME: {
        if (t.type != TK_STR)
            return bad_fd(st, VX_E_BAD_VALUE, ft, &t, "must be a datetime string");
        int64_t us;
        if (!vx_jdatetime_fast(t.s, t.len, &us)) {
            vx_error e;
            if (vx_datetime_parse(t.s, t.len, &us, &e) != 0) {
                char ctx[128];
                for (char *c = e.message; *c; c++) /* it quotes the input: keep one line */
                    if ((unsigned char)*c < 0x20) *c = '?';
                return vx_error_set(st->err, VX_E_BAD_VALUE, "_ft \"datetime\": %s%s",
                                    e.message, vx_jcontext(st, ctx, sizeof ctx));
            }
        }
        *out = vx_datetime(us);
        break;
    }
    case FT_NULL:
        *out = vx_null();
        break;
    case FT_LIST:
    case FT_DICT:
        if (t.type != TK_VALUE || vx_typeof(t.v) != (ft == FT_LIST ? VX_LIST : VX_DICT))
            return bad_fd(st, VX_E_BAD_VALUE, ft, &t,
                          ft == FT_LIST ? "must be an array" : "must be a plain object");
        *out = vx_incref(t.v);
        break;
    default:
        return vx_error_set(st->err, VX_E_UNKNOWN_FT, "unknown _ft code %d", ft);
    }
    return *out ? 0 : vx_error_set(st->err, VX_E_NOMEM, "out of memory decoding _fd");
}

/* ---- payload fields (§3.1) ----------------------------------------------- */

int vx_jpayload_slot(const char *k, size_t len) {
    switch (len) {
    case 4:
        if (memcmp(k, "filt", 4) == 0) return JS_FILT;
        if (memcmp(k, "date", 4) == 0) return JS_DATE;
        break;
    case 6:
        if (memcmp(k, "tuples", 6) == 0) return JS_TUPLES;
        if (memcmp(k, "result", 6) == 0) return JS_RESULT;
        break;
    case 9:
        if (memcmp(k, "replyFilt", 9) == 0) return JS_RFILT;
        break;
    }
    return JS_IGNORE;
}

int vx_jpayload_put(vx_jstate *st, vx_payload *p, int slot, vx_value *v) {
    vx_type ty = vx_typeof(v);
    vx_value **dst;
    const char *name, *want;
    switch (slot) {
    case JS_FILT:
    case JS_RFILT:
        dst = slot == JS_FILT ? &p->filt : &p->reply_filt;
        name = slot == JS_FILT ? "filt" : "replyFilt";
        want = "an object";
        if (ty == VX_NULL) v = vx_dict();
        if (ty != VX_NULL && ty != VX_DICT) goto wrong;
        break;
    case JS_TUPLES:
        dst = &p->tuples;
        name = "tuples";
        want = "an array";
        if (ty == VX_NULL) v = vx_list();
        if (ty != VX_NULL && ty != VX_LIST) goto wrong;
        break;
    case JS_DATE:
        dst = &p->date;
        name = "date";
        want = "a wrapped datetime or null";
        if (ty != VX_NULL && ty != VX_DATETIME) goto wrong;
        break;
    case JS_RESULT:
        dst = &p->result;
        break;
    default:
        vx_decref(v);
        return 0;
    }
    if (!v) return vx_error_set(st->err, VX_E_NOMEM, "out of memory building the payload");
    vx_decref(*dst);
    *dst = v;
    return 0;
wrong:;
    int rc = vx_error_set(st->err, VX_E_FIELD_TYPE, "field \"%s\" must be %s, got %s", name,
                          want, got_name(v));
    vx_decref(v);
    return rc;
}

/* ---- tuples (§5.3) ------------------------------------------------------- */

int vx_jtuple_field(vx_jframe *f, const vx_tuple_type *t, const char *k, size_t len) {
    /* Encoders write fields sorted by name, so the next sorted field is the
     * likely one; check it before searching. */
    if (f->hint < t->n_fields) {
        size_t i = t->sorted[f->hint];
        if (t->fields[i].name_len == len && memcmp(t->fields[i].name, k, len) == 0) {
            f->hint++;
            return (int)i;
        }
    }
    for (size_t i = 0; i < t->n_fields; i++)
        if (t->fields[i].name_len == len && memcmp(t->fields[i].name, k, len) == 0)
            return (int)i;
    return -1;
}

const vx_tuple_type *vx_jfind_type(vx_jstate *st, const char *name, size_t len) {
    const vx_tuple_type *t = st->last_type;
    if (t && t->name_len == len && memcmp(t->name, name, len) == 0) return t;
    t = vx_registry_findn(st->reg, name, len);
    if (t) st->last_type = t;
    return t;
}

static int late_tuple(vx_jstate *st, vx_value *d, vx_value **out) {
    vx_value *c = vx_dict_getn(d, "_c", 2);
    if (vx_typeof(c) != VX_STR || VX_AS(vx_str_impl, c)->len == 0)
        return vx_error_set(st->err, VX_E_TUPLE_NO_TYPE,
                            "tuple object (_ct \"rt\") has no string _c naming its type");
    const char *name = VX_AS(vx_str_impl, c)->data;
    size_t name_len = VX_AS(vx_str_impl, c)->len;
    const vx_tuple_type *t = vx_jfind_type(st, name, name_len);
    if (!t && st->strict)
        return vx_error_set(st->err, VX_E_UNKNOWN_TUPLE, "unknown tuple type \"%s\"",
                            SHOW(name, name_len));
    if (!t && name_len == 0)
        return vx_error_set(st->err, VX_E_TUPLE_NO_TYPE, "tuple object: _c is empty");
    vx_value *tv = t ? vx_tuple_new_unset(t) : vx_tuple_new_untypedn(name, name_len);
    if (!tv) return vx_error_set(st->err, VX_E_NOMEM, "out of memory building a tuple");
    vx_dict_impl *di = VX_AS(vx_dict_impl, d);
    for (size_t i = 0; i < di->len; i++) {
        const vx_dict_entry *e = &di->entries[i];
        if (e->key_len && e->key[0] == '_') continue;
        int rc;
        if (t) {
            int idx = vx_tuple_type_field_indexn(t, e->key, e->key_len);
            if (idx < 0) {
                if (!st->strict) continue;
                vx_decref(tv);
                return vx_error_set(st->err, VX_E_TUPLE_FIELD,
                                    "tuple type \"%s\" has no field \"%s\"", t->name,
                                    SHOW(e->key, e->key_len));
            }
            rc = vx_tuple_set_at_new(tv, (size_t)idx, vx_incref(e->value));
        } else {
            rc = vx_tuple_untyped_setn_new(tv, e->key, e->key_len, vx_incref(e->value));
        }
        if (rc) {
            vx_decref(tv);
            return vx_error_set(st->err, rc, "cannot set tuple field \"%s\"",
                                SHOW(e->key, e->key_len));
        }
    }
    if (t && vx_tuple_fill_defaults(tv) != 0) {
        vx_decref(tv);
        return vx_error_set(st->err, VX_E_NOMEM, "out of memory building a tuple");
    }
    *out = tv;
    return 0;
}

static int late_payload(vx_jstate *st, vx_value *d, vx_value **out) {
    vx_payload *p = vx_payload_new_blank();
    if (!p) return vx_error_set(st->err, VX_E_NOMEM, "out of memory building a payload");
    vx_dict_impl *di = VX_AS(vx_dict_impl, d);
    for (size_t i = 0; i < di->len; i++) {
        const vx_dict_entry *e = &di->entries[i];
        int slot = vx_jpayload_slot(e->key, e->key_len);
        if (slot == JS_IGNORE) continue;
        int rc = vx_jpayload_put(st, p, slot, vx_incref(e->value));
        if (rc) {
            vx_payload_decref(p);
            return rc;
        }
    }
    *out = &p->h;
    return 0;
}

int vx_jlate_convert(vx_jstate *st, vx_value *d, const char *fd_text, size_t fd_len,
                     vx_value **out) {
    int rc;
    *out = NULL;
    vx_value *ct = vx_dict_getn(d, "_ct", 3);
    if (ct) {
        const char *s = vx_str_value(ct);
        size_t n = vx_str_len(ct);
        if (s && n == 2 && memcmp(s, "rp", 2) == 0)
            rc = late_payload(st, d, out);
        else if (s && n == 2 && memcmp(s, "rt", 2) == 0)
            rc = late_tuple(st, d, out);
        else if (s && n == 3 && memcmp(s, "gen", 3) == 0)
            rc = vx_error_set(st->err, VX_E_UNSUPPORTED,
                              "_ct \"gen\" (generic class) is not supported");
        else if (s)
            rc = vx_error_set(st->err, VX_E_UNKNOWN_CT, "unknown _ct \"%s\"", SHOW(s, n));
        else
            rc = vx_error_set(st->err, VX_E_UNKNOWN_CT, "_ct must be a string, got %s",
                              got_name(ct));
    } else {
        vx_value *ftv = vx_dict_getn(d, "_ft", 3);
        vx_value *fd = vx_dict_getn(d, "_fd", 3);
        const char *s = vx_str_value(ftv);
        size_t n = vx_str_len(ftv);
        int ft = s ? vx_jft_code(s, n) : FT_UNKNOWN;
        if (!s) {
            rc = vx_error_set(st->err, VX_E_UNKNOWN_FT, "_ft must be a string, got %s",
                              got_name(ftv));
        } else if (ft == FT_UNKNOWN || ft == FT_GEOM) {
            rc = vx_jwrap_make(st, ft, s, n, NULL, out);
        } else if (!fd) {
            rc = vx_error_set(st->err, VX_E_BAD_VALUE, "_ft \"%s\" without _fd",
                              ft_names[ft]);
        } else {
            vx_jtok t = {.type = TK_VALUE, .v = fd};
            if (fd_text &&
                vx_numlit_scan(fd_text, fd_text + fd_len, &t.num, NULL) == fd_len)
                t.type = TK_NUM;
            rc = vx_jwrap_make(st, ft, s, n, &t, out);
        }
    }
    vx_decref(d);
    return rc;
}
