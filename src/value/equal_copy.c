/* Deep equality and deep copy of values. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "value_impl.h"

static bool dict_equal(const vx_value *a, const vx_value *b) {
    size_t n = vx_dict_size(a);
    if (n != vx_dict_size(b)) return false;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *k = vx_dict_key_at(a, i, &len);
        const vx_value *other = vx_dict_getn(b, k, len);
        if (!other || !vx_equal(vx_dict_value_at(a, i), other)) return false;
    }
    return true;
}

static bool tuple_equal(const vx_tuple_impl *a, const vx_tuple_impl *b) {
    if (a->type != b->type) return false;
    if (!a->type)
        return a->name_len == b->name_len && memcmp(a->name, b->name, a->name_len) == 0 &&
               dict_equal(a->extra, b->extra);
    for (size_t i = 0; i < a->type->n_fields; i++)
        if (!vx_equal(a->fields[i], b->fields[i])) return false;
    return true;
}

bool vx_equal(const vx_value *a, const vx_value *b) {
    if (a == b) return a != NULL && !(a->type == VX_FLOAT && isnan(vx_float_value(a)));
    if (!a || !b || a->type != b->type) return false;
    switch ((vx_type)a->type) {
    case VX_NULL:
        return true;
    case VX_BOOL:
        return vx_bool_value(a) == vx_bool_value(b);
    case VX_INT:
        return vx_int_value(a) == vx_int_value(b);
    case VX_FLOAT: {
        /* == would make 0.0 equal -0.0; a codec round trip must keep the sign. */
        double x = vx_float_value(a), y = vx_float_value(b);
        return x == y && signbit(x) == signbit(y);
    }
    case VX_STR:
        return vx_str_len(a) == vx_str_len(b) &&
               memcmp(vx_str_value(a), vx_str_value(b), vx_str_len(a)) == 0;
    case VX_BYTES:
    case VX_WKB:
        return vx_bytes_len(a) == vx_bytes_len(b) &&
               (vx_bytes_len(a) == 0 ||
                memcmp(vx_bytes_data(a), vx_bytes_data(b), vx_bytes_len(a)) == 0);
    case VX_DATETIME:
        return vx_datetime_value(a) == vx_datetime_value(b);
    case VX_LIST: {
        size_t n = vx_list_size(a);
        if (n != vx_list_size(b)) return false;
        for (size_t i = 0; i < n; i++)
            if (!vx_equal(vx_list_get(a, i), vx_list_get(b, i))) return false;
        return true;
    }
    case VX_DICT:
        return dict_equal(a, b);
    case VX_TUPLE:
        return tuple_equal((const vx_tuple_impl *)a, (const vx_tuple_impl *)b);
    case VX_PAYLOAD: {
        const vx_payload *p = (const vx_payload *)a, *q = (const vx_payload *)b;
        return vx_equal(p->filt, q->filt) && vx_equal(p->reply_filt, q->reply_filt) &&
               vx_equal(p->tuples, q->tuples) && vx_equal(p->result, q->result) &&
               vx_equal(p->date, q->date);
    }
    }
    return false;
}

/* Copies share immutable scalars by reference (cheap); clones recreate them
 * too, so the result shares no counted block with the original, which makes
 * it safe to hand to another thread (see default_for in tuple.c). */
static vx_value *copy(const vx_value *v, bool clone);

static vx_value *clone_scalar(const vx_value *v) {
    switch ((vx_type)v->type) {
    case VX_INT:
        return vx_int(vx_int_value(v));
    case VX_FLOAT:
        return vx_float(vx_float_value(v));
    case VX_STR:
        return vx_str_trusted(vx_str_value(v), vx_str_len(v));
    case VX_BYTES:
        return vx_bytes(vx_bytes_data(v), vx_bytes_len(v));
    case VX_DATETIME:
        return vx_datetime(vx_datetime_value(v));
    case VX_WKB: {
        size_t b64_len;
        const char *b64 = vx_wkb_b64(v, &b64_len);
        return vx_wkb(vx_bytes_data(v), vx_bytes_len(v), b64, b64_len);
    }
    default:
        return (vx_value *)v; /* null and bools are immortal */
    }
}

static vx_value *copy_dict(const vx_value *d, bool clone) {
    vx_value *out = vx_dict();
    size_t n = vx_dict_size(d);
    for (size_t i = 0; out && i < n; i++) {
        size_t len;
        const char *k = vx_dict_key_at(d, i, &len);
        vx_value *c = copy(vx_dict_value_at(d, i), clone);
        if (!c || vx_dict_setn_trusted_new(out, k, len, c) != 0) {
            vx_decref(out);
            return NULL;
        }
    }
    return out;
}

static vx_value *copy_tuple(const vx_tuple_impl *t, bool clone) {
    if (!t->type) {
        vx_value *out = vx_tuple_new_untypedn(t->name, t->name_len);
        if (!out) return NULL;
        vx_tuple_impl *o = (vx_tuple_impl *)out;
        vx_decref(o->extra);
        o->extra = copy_dict(t->extra, clone);
        if (!o->extra) {
            o->extra = vx_dict(); /* keep the tuple well-formed for decref */
            vx_decref(out);
            return NULL;
        }
        return out;
    }
    vx_value *out = vx_tuple_new_unset(t->type);
    for (size_t i = 0; out && i < t->type->n_fields; i++) {
        vx_value *c = copy(t->fields[i], clone);
        if (!c) {
            vx_decref(out); /* NULL slots are fine for vx_decref */
            return NULL;
        }
        ((vx_tuple_impl *)out)->fields[i] = c;
    }
    return out;
}

static vx_value *copy(const vx_value *v, bool clone) {
    if (!v) return NULL;
    switch ((vx_type)v->type) {
    case VX_LIST: {
        vx_value *out = vx_list();
        size_t n = vx_list_size(v);
        for (size_t i = 0; out && i < n; i++) {
            vx_value *c = copy(vx_list_get(v, i), clone);
            if (!c || vx_list_append_trusted_new(out, c) != 0) {
                vx_decref(out);
                return NULL;
            }
        }
        return out;
    }
    case VX_DICT:
        return copy_dict(v, clone);
    case VX_TUPLE:
        return copy_tuple((const vx_tuple_impl *)v, clone);
    case VX_PAYLOAD: {
        const vx_payload *p = (const vx_payload *)v;
        vx_payload *q = vx_payload_new_blank();
        if (!q) return NULL;
        if (vx_payload_set_filt_new(q, copy(p->filt, clone)) != 0 ||
            vx_payload_set_reply_filt_new(q, copy(p->reply_filt, clone)) != 0 ||
            vx_payload_set_tuples_new(q, copy(p->tuples, clone)) != 0 ||
            vx_payload_set_result_new(q, copy(p->result, clone)) != 0 ||
            vx_payload_set_date_new(q, copy(p->date, clone)) != 0) {
            vx_payload_decref(q);
            return NULL;
        }
        return &q->h;
    }
    default:
        if (v->refcount == VX_IMMORTAL) return (vx_value *)v;
        /* Scalars are immutable: sharing is a valid copy. */
        return clone ? clone_scalar(v) : vx_incref((vx_value *)v);
    }
}

vx_value *vx_deep_copy(const vx_value *v) {
    return copy(v, false);
}

vx_value *vx_clone(const vx_value *v) {
    return copy(v, true);
}
