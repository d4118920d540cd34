/* Test helpers: printing values and differences for failure messages. */
#include "vxtest.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vortexc/payload.h>

typedef struct {
    char *s;
    size_t len, cap, max;
    int oom;
} sbuf;

static void sb_putn(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (b->len + n + 1 > cap) cap *= 2;
        char *ns = realloc(b->s, cap);
        if (!ns) {
            b->oom = 1;
            return;
        }
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_puts(sbuf *b, const char *s) {
    sb_putn(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void sb_printf(sbuf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) sb_putn(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static char *sb_finish(sbuf *b) {
    if (b->oom) {
        free(b->s);
        return NULL;
    }
    if (!b->s) sb_puts(b, "");
    return b->s;
}

char *vxt_hex(const void *data, size_t len) {
    static const char digits[] = "0123456789abcdef";
    char *out = malloc(len * 2 + 1);
    if (!out) return NULL;
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[len * 2] = '\0';
    return out;
}

static void repr_str(sbuf *b, const char *s, size_t n) {
    sb_puts(b, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            sb_putn(b, e, 2);
        } else if (c < 0x20 || c == 0x7f) {
            sb_printf(b, "\\u%04x", c);
        } else {
            sb_putn(b, (const char *)&c, 1);
        }
    }
    sb_puts(b, "\"");
}

static void repr(sbuf *b, const vx_value *v) {
    if (b->max && b->len > b->max) return;
    char dt[27];
    switch (vx_typeof(v)) {
    case VX_NULL:
        sb_puts(b, "null");
        break;
    case VX_BOOL:
        sb_puts(b, vx_bool_value(v) ? "true" : "false");
        break;
    case VX_INT:
        sb_printf(b, "%" PRId64, vx_int_value(v));
        break;
    case VX_FLOAT:
        sb_printf(b, "float(%.17g)", vx_float_value(v));
        break;
    case VX_STR:
        repr_str(b, vx_str_value(v), vx_str_len(v));
        break;
    case VX_BYTES:
    case VX_WKB: {
        char *h = vxt_hex(vx_bytes_data(v), vx_bytes_len(v));
        sb_printf(b, "%s(%s)", vx_typeof(v) == VX_BYTES ? "bytes" : "wkb", h ? h : "?");
        free(h);
        break;
    }
    case VX_DATETIME:
        vx_datetime_format(vx_datetime_value(v), dt);
        sb_printf(b, "datetime(%s)", dt);
        break;
    case VX_LIST:
        sb_puts(b, "[");
        for (size_t i = 0; i < vx_list_size(v); i++) {
            if (i) sb_puts(b, ", ");
            repr(b, vx_list_get(v, i));
        }
        sb_puts(b, "]");
        break;
    case VX_DICT:
        sb_puts(b, "{");
        for (size_t i = 0; i < vx_dict_size(v); i++) {
            size_t kl;
            const char *k = vx_dict_key_at(v, i, &kl);
            if (i) sb_puts(b, ", ");
            repr_str(b, k, kl);
            sb_puts(b, ": ");
            repr(b, vx_dict_value_at(v, i));
        }
        sb_puts(b, "}");
        break;
    case VX_TUPLE:
        sb_printf(b, "%s<%s>(", vx_tuple_type_of(v) ? "tuple" : "untyped",
                  vx_tuple_name(v));
        for (size_t i = 0; i < vx_tuple_field_count(v); i++) {
            if (i) sb_puts(b, ", ");
            sb_printf(b, "%s=", vx_tuple_field_name_at(v, i));
            repr(b, vx_tuple_get_at(v, i));
        }
        sb_puts(b, ")");
        break;
    case VX_PAYLOAD: {
        vx_payload *p = vx_value_as_payload(v);
        sb_puts(b, "payload(filt=");
        repr(b, vx_payload_filt(p));
        sb_puts(b, ", replyFilt=");
        repr(b, vx_payload_reply_filt(p));
        sb_puts(b, ", tuples=");
        repr(b, vx_payload_tuples(p));
        sb_puts(b, ", result=");
        repr(b, vx_payload_result(p));
        sb_puts(b, ", date=");
        repr(b, vx_payload_date(p));
        sb_puts(b, ")");
        break;
    }
    default:
        sb_printf(b, "<type %d>", (int)vx_typeof(v));
        break;
    }
}

char *vxt_repr(const vx_value *v, size_t max) {
    sbuf b = {0};
    b.max = max;
    if (!v)
        sb_puts(&b, "(NULL)");
    else
        repr(&b, v);
    if (max && b.len > max && !b.oom) {
        b.len = max;
        b.s[max] = '\0';
        sb_puts(&b, "...");
    }
    return sb_finish(&b);
}

/* Find the first differing sub-value; `path` accumulates where we are. */
static bool diff_at(sbuf *path, const vx_value *a, const vx_value *b, const vx_value **da,
                    const vx_value **db) {
    if (vx_equal(a, b)) return false;
    *da = a;
    *db = b;
    vx_type t = vx_typeof(a);
    if (t != vx_typeof(b)) return true;
    size_t mark = path->len;
    if (t == VX_LIST && vx_list_size(a) == vx_list_size(b)) {
        for (size_t i = 0; i < vx_list_size(a); i++) {
            sb_printf(path, "[%zu]", i);
            if (diff_at(path, vx_list_get(a, i), vx_list_get(b, i), da, db)) return true;
            path->len = mark;
        }
    } else if (t == VX_DICT && vx_dict_size(a) == vx_dict_size(b)) {
        for (size_t i = 0; i < vx_dict_size(a); i++) {
            size_t kl;
            const char *k = vx_dict_key_at(a, i, &kl);
            vx_value *bv = vx_dict_getn(b, k, kl);
            sb_puts(path, "[");
            repr_str(path, k, kl);
            sb_puts(path, "]");
            if (!bv) return true;
            if (diff_at(path, vx_dict_value_at(a, i), bv, da, db)) return true;
            path->len = mark;
        }
    } else if (t == VX_TUPLE && vx_tuple_field_count(a) == vx_tuple_field_count(b)) {
        for (size_t i = 0; i < vx_tuple_field_count(a); i++) {
            const char *f = vx_tuple_field_name_at(a, i);
            vx_value *bv = vx_tuple_get(b, f);
            sb_printf(path, ".%s", f);
            if (!bv) return true;
            if (diff_at(path, vx_tuple_get_at(a, i), bv, da, db)) return true;
            path->len = mark;
        }
    } else if (t == VX_PAYLOAD) {
        vx_payload *pa = vx_value_as_payload(a), *pb = vx_value_as_payload(b);
        static const char *names[] = {".filt", ".replyFilt", ".tuples", ".result", ".date"};
        vx_value *fa[] = {vx_payload_filt(pa), vx_payload_reply_filt(pa),
                          vx_payload_tuples(pa), vx_payload_result(pa),
                          vx_payload_date(pa)};
        vx_value *fb[] = {vx_payload_filt(pb), vx_payload_reply_filt(pb),
                          vx_payload_tuples(pb), vx_payload_result(pb),
                          vx_payload_date(pb)};
        for (size_t i = 0; i < 5; i++) {
            sb_puts(path, names[i]);
            if (diff_at(path, fa[i], fb[i], da, db)) return true;
            path->len = mark;
        }
    }
    if (path->s) path->s[mark] = '\0';
    return true;
}

char *vxt_diff(const vx_value *a, const vx_value *b) {
    if (vx_equal(a, b)) return NULL;
    sbuf path = {0};
    sb_puts(&path, "$");
    const vx_value *da = a, *db = b;
    diff_at(&path, a, b, &da, &db);
    if (path.s) path.s[path.len] = '\0';
    char *ra = vxt_repr(da, 300), *rb = vxt_repr(db, 300);
    sbuf out = {0};
    sb_printf(&out, "at %s: ", path.s ? path.s : "?");
    sb_puts(&out, ra ? ra : "?");
    sb_puts(&out, " != ");
    sb_puts(&out, rb ? rb : "?");
    free(ra);
    free(rb);
    free(path.s);
    return sb_finish(&out);
}
