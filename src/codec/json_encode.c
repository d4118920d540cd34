/* Values and payloads to wire JSON (PROTOCOL.md §2.1, §3.1, §4, §5.2, §6.1).
 *
 * A recursive walk (the depth is bounded by max_depth and by
 * VX_JENC_DEPTH_CAP, which also stops cyclic structures) writing into the
 * caller's vx_buf. Errors carry the path of the offending value, e.g.
 * "tuples[3].price", assembled while unwinding. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "codec/json_encode_impl.h"
#include "value/value_impl.h"

/* ---- writer plumbing ---------------------------------------------------- */

int vx_jenc_grow(vx_jenc *e, size_t n) {
    vx_buf *b = e->out;
    b->len = (size_t)(e->p - b->data);
    if (vx_buf_reserve(b, n)) {
        return vx_jenc_fail(e, VX_E_NOMEM, "out of memory growing the JSON buffer");
    }
    e->p = b->data + b->len;
    e->end = b->data + b->cap;
    return 0;
}

int vx_jenc_fail(vx_jenc *e, int code, const char *fmt, ...) {
    if (e->code) return e->code;
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->detail, sizeof e->detail, fmt, ap);
    va_end(ap);
    return code;
}

static inline int put_lit(vx_jenc *e, int which) {
    int rc = vx_jenc_room(e, VX_JENC_SLACK);
    if (rc) return rc;
    const vx_jenc_lit *l = vx_jenc_lit_of(e, which);
    vx_jenc_put_block(e, l->s, l->n);
    return 0;
}

static inline int put_char(vx_jenc *e, char c) {
    int rc = vx_jenc_room(e, 1);
    if (rc) return rc;
    *e->p++ = c;
    return 0;
}

/* Prepend a path segment while unwinding from an error. */
static void where_prepend(vx_jenc *e, const char *s, size_t n) {
    if (e->where_cut) return;
    if (n > e->where_pos) {
        e->where_cut = true;
        return;
    }
    e->where_pos -= n;
    memcpy(e->where + e->where_pos, s, n);
}

static void where_index(vx_jenc *e, size_t i) {
    char seg[32];
    int n = snprintf(seg, sizeof seg, "[%zu]", i);
    where_prepend(e, seg, (size_t)n);
}

/* ".key", shortened and with control bytes shown as '?' so the message
 * stays one readable line. */
static void where_key(vx_jenc *e, const char *key, size_t len) {
    char seg[48];
    size_t n = 0, max = 40;
    seg[n++] = '.';
    for (size_t i = 0; i < len && i < max; i++) {
        unsigned char c = (unsigned char)key[i];
        seg[n++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    if (len > max) {
        memcpy(seg + n, "...", 3);
        n += 3;
    }
    where_prepend(e, seg, n);
}

/* ---- key texts of typed tuples ------------------------------------------
 * A typed tuple's head (`{"_ct": "rt", "_c": "NAME"`) and each `, "field": `
 * are the same for every tuple of its type, so a type seen twice in one run
 * gets them escaped once and then copied as blocks. A few slots suffice: a
 * payload usually holds one or two types. */

#define KEY_SLOTS 4

typedef struct {
    const vx_tuple_type *type;
    char *text;  /* the pieces back to back, then VX_JENC_SLACK bytes of padding */
    size_t *end; /* end[0]: end of the head; end[i + 1]: end of sorted field i */
} key_slot;

struct vx_jenc_keys {
    key_slot slot[KEY_SLOTS];
    unsigned next; /* round-robin replacement */
};

static void keys_free(vx_jenc_keys *k) {
    if (!k) return;
    for (int i = 0; i < KEY_SLOTS; i++) {
        free(k->slot[i].text);
        free(k->slot[i].end);
    }
    free(k);
}

/* Escape the pieces of `ty` with a scratch writer. false if that fails (OOM,
 * or a name that is not UTF-8): the caller then takes the plain route, which
 * reports such a problem with its path. */
static bool keys_build(const vx_jenc *e, const vx_tuple_type *ty, key_slot *s) {
    vx_buf b = {0};
    vx_jenc w = {.out = &b, .compact = e->compact};
    size_t *end = malloc((ty->n_fields + 1) * sizeof *end);
    int rc = end ? vx_buf_reserve(&b, 256) : VX_E_NOMEM;
    if (!rc) {
        w.p = b.data;
        w.end = b.data + b.cap;
        rc = vx_jenc_room(&w, VX_JENC_SLACK);
    }
    if (!rc) {
        vx_jenc_put_block(&w, vx_jenc_lit_of(&w, VX_JL_TUPLE)->s,
                          vx_jenc_lit_of(&w, VX_JL_TUPLE)->n);
        rc = vx_jenc_string(&w, ty->name, ty->name_len);
    }
    if (!rc) end[0] = (size_t)(w.p - b.data);
    for (size_t i = 0; i < ty->n_fields && !rc; i++) {
        const struct vx_tuple_field *f = &ty->fields[ty->sorted[i]];
        rc = put_lit(&w, VX_JL_SEP);
        if (!rc) rc = vx_jenc_string(&w, f->name, f->name_len);
        if (!rc) rc = put_lit(&w, VX_JL_COLON);
        if (!rc) end[i + 1] = (size_t)(w.p - b.data);
    }
    if (!rc) rc = vx_jenc_room(&w, VX_JENC_SLACK);
    if (rc) {
        free(end);
        free(b.data);
        return false;
    }
    memset(w.p, 0, VX_JENC_SLACK);
    s->type = ty;
    s->text = b.data;
    s->end = end;
    return true;
}

/* The cached pieces of `ty`, or NULL to encode it the plain way. */
static const key_slot *keys_for(vx_jenc *e, const vx_tuple_type *ty) {
    if (e->keys) {
        for (int i = 0; i < KEY_SLOTS; i++)
            if (e->keys->slot[i].type == ty) return &e->keys->slot[i];
    }
    if (e->keys_last_miss != ty) { /* first sighting: not worth it yet */
        e->keys_last_miss = ty;
        return NULL;
    }
    if (!e->keys && !(e->keys = calloc(1, sizeof *e->keys))) return NULL;
    key_slot *s = &e->keys->slot[e->keys->next];
    key_slot fresh;
    if (!keys_build(e, ty, &fresh)) return NULL;
    free(s->text);
    free(s->end);
    *s = fresh;
    e->keys->next = (e->keys->next + 1) % KEY_SLOTS;
    return s;
}

static inline int put_piece(vx_jenc *e, const char *s, size_t n) {
    int rc = vx_jenc_room(e, n + VX_JENC_SLACK);
    if (rc) return rc;
    if (n <= VX_JENC_SLACK)
        vx_jenc_put_block(e, s, n);
    else
        vx_jenc_put(e, s, n);
    return 0;
}

/* ---- containers --------------------------------------------------------- */

static int enc_value(vx_jenc *e, const vx_value *v, int depth);
static int enc_payload(vx_jenc *e, const vx_payload *p, int depth);

static int check_depth(vx_jenc *e, int depth) {
    if (depth <= e->max_depth) return 0;
    if (e->max_depth == VX_JENC_DEPTH_CAP) {
        return vx_jenc_fail(e, VX_E_DEPTH,
                            "nesting deeper than the encoder's cap of %d levels",
                            VX_JENC_DEPTH_CAP);
    }
    return vx_jenc_fail(e, VX_E_DEPTH, "nesting deeper than max_depth %d", e->max_depth);
}

static int enc_list(vx_jenc *e, const vx_list_impl *l, int depth) {
    int rc = check_depth(e, depth);
    if (!rc) rc = put_char(e, '[');
    if (rc) return rc;
    for (size_t i = 0; i < l->len; i++) {
        if (i && (rc = put_lit(e, VX_JL_SEP))) return rc;
        if ((rc = enc_value(e, l->items[i], depth + 1))) {
            where_index(e, i);
            return rc;
        }
    }
    return put_char(e, ']');
}

static bool reserved_key(const char *k, size_t n) {
    return n == 3 && k[0] == '_' && k[2] == 't' && (k[1] == 'c' || k[1] == 'f');
}

/* `"key": value`, with the key's path segment added on failure. */
static int enc_member(vx_jenc *e, const char *key, size_t key_len, const vx_value *v,
                      int depth) {
    int rc = vx_jenc_string(e, key, key_len);
    if (!rc) rc = put_lit(e, VX_JL_COLON);
    if (!rc) rc = enc_value(e, v, depth);
    if (rc) where_key(e, key, key_len);
    return rc;
}

static int enc_dict(vx_jenc *e, const vx_dict_impl *d, int depth) {
    int rc = check_depth(e, depth);
    if (!rc) rc = put_char(e, '{');
    if (rc) return rc;
    for (size_t i = 0; i < d->len; i++) {
        const vx_dict_entry *en = &d->entries[i];
        /* Such a dict would read back as a typed value (§4.3). */
        if (reserved_key(en->key, en->key_len)) {
            return vx_jenc_fail(e, VX_E_RESERVED_KEY,
                                "dict key \"%s\" is reserved for typed values", en->key);
        }
        if (i && (rc = put_lit(e, VX_JL_SEP))) return rc;
        if ((rc = enc_member(e, en->key, en->key_len, en->value, depth + 1))) return rc;
    }
    return put_char(e, '}');
}

static int cmp_entry(const void *a, const void *b) {
    const vx_dict_entry *x = *(const vx_dict_entry *const *)a;
    const vx_dict_entry *y = *(const vx_dict_entry *const *)b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    if (c) return c;
    return x->key_len < y->key_len ? -1 : x->key_len > y->key_len;
}

/* An untyped tuple: its fields in byte (= code point) order of name. */
static int enc_untyped(vx_jenc *e, const vx_tuple_impl *t, int depth) {
    const vx_dict_impl *d = VX_AS(const vx_dict_impl, t->extra);
    const vx_dict_entry *stack[32], **order = stack;
    size_t n = d ? d->len : 0;
    if (n > sizeof stack / sizeof stack[0]) {
        order = malloc(n * sizeof *order);
        if (!order)
            return vx_jenc_fail(e, VX_E_NOMEM, "out of memory sorting tuple fields");
    }
    for (size_t i = 0; i < n; i++) order[i] = &d->entries[i];
    qsort(order, n, sizeof *order, cmp_entry);
    int rc = put_lit(e, VX_JL_TUPLE);
    if (!rc) rc = vx_jenc_string(e, t->name, t->name_len);
    for (size_t i = 0; i < n && !rc; i++) {
        rc = put_lit(e, VX_JL_SEP);
        if (!rc)
            rc =
                enc_member(e, order[i]->key, order[i]->key_len, order[i]->value, depth + 1);
    }
    if (order != stack) free(order);
    return rc ? rc : put_char(e, '}');
}

/* A typed tuple: every field in the type's sorted order (§5.2). */
static int enc_typed(vx_jenc *e, const vx_tuple_impl *t, int depth) {
    const vx_tuple_type *ty = t->type;
    const key_slot *ks = keys_for(e, ty);
    int rc;
    if (ks) {
        if ((rc = put_piece(e, ks->text, ks->end[0]))) return rc;
    } else {
        rc = put_lit(e, VX_JL_TUPLE);
        if (!rc) rc = vx_jenc_string(e, ty->name, ty->name_len);
        if (rc) return rc;
    }
    for (size_t i = 0; i < ty->n_fields; i++) {
        size_t f = ty->sorted[i];
        const struct vx_tuple_field *fd = &ty->fields[f];
        if (ks) {
            rc = put_piece(e, ks->text + ks->end[i], ks->end[i + 1] - ks->end[i]);
            if (!rc) rc = enc_value(e, t->fields[f], depth + 1);
            if (rc) where_key(e, fd->name, fd->name_len);
        } else {
            rc = put_lit(e, VX_JL_SEP);
            if (!rc) rc = enc_member(e, fd->name, fd->name_len, t->fields[f], depth + 1);
        }
        if (rc) return rc;
    }
    return put_char(e, '}');
}

static int enc_value(vx_jenc *e, const vx_value *v, int depth) {
    int rc;
    switch (v ? (vx_type)v->type : VX_NULL) {
    case VX_NULL:
        if ((rc = vx_jenc_room(e, 8))) return rc;
        memcpy(e->p, "null", 4);
        e->p += 4;
        return 0;
    case VX_BOOL:
        if ((rc = vx_jenc_room(e, 8))) return rc;
        if (VX_AS(const vx_bool_impl, v)->b) {
            memcpy(e->p, "true", 4);
            e->p += 4;
        } else {
            memcpy(e->p, "false", 5);
            e->p += 5;
        }
        return 0;
    case VX_INT:
        if ((rc = check_depth(e, depth))) return rc;
        return vx_jenc_int(e, VX_AS(const vx_int_impl, v)->i);
    case VX_FLOAT:
        return vx_jenc_float(e, VX_AS(const vx_float_impl, v)->d);
    case VX_STR: {
        const vx_str_impl *s = VX_AS(const vx_str_impl, v);
        return vx_jenc_string(e, s->data, s->len);
    }
    case VX_BYTES: {
        const vx_bytes_impl *b = VX_AS(const vx_bytes_impl, v);
        if ((rc = check_depth(e, depth))) return rc;
        return vx_jenc_bytes(e, b->data, b->len);
    }
    case VX_DATETIME:
        if ((rc = check_depth(e, depth))) return rc;
        return vx_jenc_datetime(e, VX_AS(const vx_datetime_impl, v)->us);
    case VX_LIST:
        return enc_list(e, VX_AS(const vx_list_impl, v), depth);
    case VX_DICT:
        return enc_dict(e, VX_AS(const vx_dict_impl, v), depth);
    case VX_TUPLE: {
        const vx_tuple_impl *t = VX_AS(const vx_tuple_impl, v);
        if ((rc = check_depth(e, depth))) return rc;
        return t->type ? enc_typed(e, t, depth) : enc_untyped(e, t, depth);
    }
    case VX_PAYLOAD:
        return enc_payload(e, VX_AS(const vx_payload, v), depth);
    case VX_WKB: {
        /* The base64 text it arrived as, so a relay passes it on unchanged. */
        const vx_bytes_impl *b = VX_AS(const vx_bytes_impl, v);
        rc = check_depth(e, depth);
        if (!rc) rc = put_lit(e, VX_JL_WKB);
        if (!rc) rc = vx_jenc_string(e, b->b64 ? b->b64 : "", b->b64 ? b->b64_len : 0);
        return rc ? rc : put_char(e, '}');
    }
    }
    return vx_jenc_fail(e, VX_E_UNENCODABLE, "cannot encode a value of type tag %d",
                        (int)v->type);
}

/* One payload field: the fixed text before it, then its value. */
static int enc_field(vx_jenc *e, int which, const char *name, const vx_value *v,
                     int depth) {
    int rc = put_lit(e, which);
    if (!rc) rc = enc_value(e, v, depth);
    if (rc) where_key(e, name, strlen(name));
    return rc;
}

static int enc_payload(vx_jenc *e, const vx_payload *p, int depth) {
    int rc = check_depth(e, depth);
    if (rc) return rc;
    if ((rc = enc_field(e, VX_JL_PAYLOAD, "filt", p->filt, depth + 1))) return rc;
    if ((rc = enc_field(e, VX_JL_REPLY_FILT, "replyFilt", p->reply_filt, depth + 1)))
        return rc;
    if ((rc = enc_field(e, VX_JL_TUPLES, "tuples", p->tuples, depth + 1))) return rc;
    if ((rc = enc_field(e, VX_JL_RESULT, "result", p->result, depth + 1))) return rc;
    if ((rc = enc_field(e, VX_JL_DATE, "date", p->date, depth + 1))) return rc;
    return put_char(e, '}');
}

/* ---- entry points ------------------------------------------------------- */

typedef int (*jenc_fn)(vx_jenc *e, const void *v, int depth);

static int run(const void *v, jenc_fn fn, const vx_codec_opts *opts, vx_buf *out,
               vx_error *err) {
    vx_jenc e = {.out = out};
    e.max_depth = opts ? opts->max_depth : VX_DEFAULT_MAX_DEPTH;
    if (e.max_depth > VX_JENC_DEPTH_CAP) e.max_depth = VX_JENC_DEPTH_CAP;
    e.compact = opts && opts->compact;
    e.where_pos = sizeof e.where - 1;
    e.date_day[0] = e.date_day[1] = INT64_MIN;
    size_t start = out->len;
    /* A first reservation so the cursor is never a null pointer. */
    if (vx_buf_reserve(out, 256)) {
        return vx_error_set(err, VX_E_NOMEM, "out of memory starting the JSON buffer");
    }
    e.p = out->data + out->len;
    e.end = out->data + out->cap;
    int rc = fn(&e, v, 1);
    keys_free(e.keys);
    if (!rc) {
        out->len = (size_t)(e.p - out->data);
        return 0;
    }
    out->len = start;
    if (!e.code) return vx_error_set(err, rc, "JSON encoding failed");
    const char *where = e.where + e.where_pos;
    if (*where == '.') where++;
    if (!*where) return vx_error_set(err, rc, "%s", e.detail);
    return vx_error_set(err, rc, "%s at %s%s", e.detail, e.where_cut ? "..." : "", where);
}

static int run_payload(vx_jenc *e, const void *v, int depth) {
    return enc_payload(e, v, depth);
}

static int run_value(vx_jenc *e, const void *v, int depth) {
    return enc_value(e, v, depth);
}

int vx_json_encode_payload(const vx_payload *p, const vx_codec_opts *opts, vx_buf *out,
                           vx_error *err) {
    if (!p || !out) return vx_error_set(err, VX_E_INVAL, "NULL payload or buffer");
    return run(p, run_payload, opts, out, err);
}

int vx_json_encode_value(const vx_value *v, const vx_codec_opts *opts, vx_buf *out,
                         vx_error *err) {
    if (!out) return vx_error_set(err, VX_E_INVAL, "NULL buffer");
    return run(v, run_value, opts, out, err);
}
