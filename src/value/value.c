/* Scalar values, reference counting and freeing. */
#include <stdlib.h>
#include <string.h>

#include "value_impl.h"

/* Immutable singletons: never counted, never freed (jansson does the same). */
static vx_value null_value = {VX_NULL, VX_IMMORTAL};
static vx_bool_impl true_value = {{VX_BOOL, VX_IMMORTAL}, true};
static vx_bool_impl false_value = {{VX_BOOL, VX_IMMORTAL}, false};

static void *alloc_value(size_t size, vx_type type) {
    vx_value *v = vx_mem_alloc(size);
    if (v) {
        v->type = (uint8_t)type;
        v->refcount = 1;
    }
    return v;
}

vx_value *vx_incref(vx_value *v) {
    if (v && v->refcount != VX_IMMORTAL) v->refcount++;
    return v;
}

void vx_list_free_items(vx_list_impl *l);
void vx_dict_free_entries(vx_dict_impl *d);
void vx_tuple_free_fields(vx_tuple_impl *t);
void vx_payload_free_fields(vx_payload *p);

/* The size v's block was allocated with (vx_mem_free needs it back). */
static inline size_t block_size(const vx_value *v) {
    switch ((vx_type)v->type) {
    case VX_INT:
        return sizeof(vx_int_impl);
    case VX_FLOAT:
        return sizeof(vx_float_impl);
    case VX_DATETIME:
        return sizeof(vx_datetime_impl);
    case VX_STR:
        return sizeof(vx_str_impl) + ((const vx_str_impl *)v)->len + 1;
    case VX_BYTES:
    case VX_WKB:
        return sizeof(vx_bytes_impl) + ((const vx_bytes_impl *)v)->len;
    case VX_LIST:
        return sizeof(vx_list_impl);
    case VX_DICT:
        return sizeof(vx_dict_impl);
    case VX_TUPLE: {
        const vx_tuple_impl *t = (const vx_tuple_impl *)v;
        return sizeof *t + (t->type ? t->type->n_fields * sizeof t->slots[0] : 0);
    }
    case VX_PAYLOAD:
        return sizeof(vx_payload);
    case VX_NULL:
    case VX_BOOL:
        break; /* only the immortal singletons exist */
    }
    return 0;
}

void vx_decref(vx_value *v) {
    if (!v || v->refcount == VX_IMMORTAL) return;
    if (--v->refcount > 0) return;
    switch ((vx_type)v->type) {
    case VX_LIST:
        vx_list_free_items(VX_AS(vx_list_impl, v));
        break;
    case VX_DICT:
        vx_dict_free_entries(VX_AS(vx_dict_impl, v));
        break;
    case VX_TUPLE:
        vx_tuple_free_fields(VX_AS(vx_tuple_impl, v));
        break;
    case VX_PAYLOAD:
        vx_payload_free_fields(VX_AS(vx_payload, v));
        break;
    case VX_WKB:
        free(VX_AS(vx_bytes_impl, v)->b64);
        break;
    default:
        break;
    }
    vx_mem_free(v, block_size(v));
}

vx_type vx_typeof(const vx_value *v) {
    return v ? (vx_type)v->type : VX_NULL;
}

const char *vx_type_name(vx_type t) {
    static const char *const names[] = {"null", "bool",  "int",      "float",
                                        "str",  "bytes", "datetime", "list",
                                        "dict", "tuple", "payload",  "wkb"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

vx_value *vx_null(void) {
    return &null_value;
}

vx_value *vx_bool(bool b) {
    return b ? &true_value.h : &false_value.h;
}

/* Small ints are shared immortal values, as CPython does: decoded payloads
 * are full of ids, counts and flags, and each would otherwise be a malloc
 * and a free. The table is a static initializer (no first-use race). */
#define VX_SMALL_INT_MIN (-256)
#define VX_SMALL_INT_MAX 1023
#define I1(n)                                                                              \
    { {VX_INT, VX_IMMORTAL}, (n) }
#define I4(n)   I1(n), I1((n) + 1), I1((n) + 2), I1((n) + 3)
#define I16(n)  I4(n), I4((n) + 4), I4((n) + 8), I4((n) + 12)
#define I64(n)  I16(n), I16((n) + 16), I16((n) + 32), I16((n) + 48)
#define I256(n) I64(n), I64((n) + 64), I64((n) + 128), I64((n) + 192)
static vx_int_impl small_ints[VX_SMALL_INT_MAX - VX_SMALL_INT_MIN + 1] = {
    I256(-256), I256(0), I256(256), I256(512), I256(768)};
#undef I1
#undef I4
#undef I16
#undef I64
#undef I256
_Static_assert(sizeof small_ints / sizeof small_ints[0] == 5 * 256,
               "small int table must cover VX_SMALL_INT_MIN..MAX");

vx_value *vx_int(int64_t i) {
    if (i >= VX_SMALL_INT_MIN && i <= VX_SMALL_INT_MAX)
        return &small_ints[i - VX_SMALL_INT_MIN].h;
    vx_int_impl *v = alloc_value(sizeof *v, VX_INT);
    if (!v) return NULL;
    v->i = i;
    return &v->h;
}

vx_value *vx_float(double d) {
    vx_float_impl *v = alloc_value(sizeof *v, VX_FLOAT);
    if (!v) return NULL;
    v->d = d;
    return &v->h;
}

/* The empty string is immortal too: it is the usual default of str fields,
 * so sharing it costs no malloc and no refcount traffic. The union adds the
 * byte its trailing NUL needs (zeroed, as static storage is). */
static union {
    vx_str_impl s;
    char bytes[sizeof(vx_str_impl) + 1];
} empty_str = {.s = {{VX_STR, VX_IMMORTAL}, 0}};

vx_value *vx_str_trusted(const char *s, size_t len) {
    if (len == 0) return &empty_str.s.h;
    vx_str_impl *v = alloc_value(sizeof *v + len + 1, VX_STR);
    if (!v) return NULL;
    v->len = len;
    if (len) memcpy(v->data, s, len);
    v->data[len] = '\0';
    return &v->h;
}

vx_value *vx_strn(const char *s, size_t len) {
    if (!s && len) return NULL;
    if (!vx_utf8_valid(s, len)) return NULL;
    return vx_str_trusted(s, len);
}

vx_value *vx_str(const char *s) {
    return s ? vx_strn(s, strlen(s)) : NULL;
}

static vx_bytes_impl *new_bytes(const void *data, size_t len, vx_type type) {
    vx_bytes_impl *v = alloc_value(sizeof *v + len, type);
    if (!v) return NULL;
    v->len = len;
    v->b64 = NULL;
    v->b64_len = 0;
    if (len) memcpy(v->data, data, len);
    return v;
}

vx_value *vx_bytes(const void *data, size_t len) {
    if (!data && len) return NULL;
    vx_bytes_impl *v = new_bytes(data, len, VX_BYTES);
    return v ? &v->h : NULL;
}

vx_value *vx_wkb(const void *data, size_t len, const char *b64, size_t b64_len) {
    if ((!data && len) || (!b64 && b64_len)) return NULL;
    vx_bytes_impl *v = new_bytes(data, len, VX_WKB);
    if (!v) return NULL;
    v->b64 = malloc(b64_len + 1);
    if (!v->b64) {
        vx_mem_free(v, block_size(&v->h));
        return NULL;
    }
    if (b64_len) memcpy(v->b64, b64, b64_len);
    v->b64[b64_len] = '\0';
    v->b64_len = b64_len;
    return &v->h;
}

vx_value *vx_datetime(int64_t us) {
    if (us < VX_DATETIME_MIN_US || us > VX_DATETIME_MAX_US) return NULL;
    vx_datetime_impl *v = alloc_value(sizeof *v, VX_DATETIME);
    if (!v) return NULL;
    v->us = us;
    return &v->h;
}

bool vx_is_null(const vx_value *v) {
    return v && v->type == VX_NULL;
}

bool vx_bool_value(const vx_value *v) {
    return v && v->type == VX_BOOL && ((const vx_bool_impl *)v)->b;
}

int64_t vx_int_value(const vx_value *v) {
    return v && v->type == VX_INT ? ((const vx_int_impl *)v)->i : 0;
}

double vx_float_value(const vx_value *v) {
    return v && v->type == VX_FLOAT ? ((const vx_float_impl *)v)->d : 0.0;
}

const char *vx_str_value(const vx_value *v) {
    return v && v->type == VX_STR ? ((const vx_str_impl *)v)->data : NULL;
}

size_t vx_str_len(const vx_value *v) {
    return v && v->type == VX_STR ? ((const vx_str_impl *)v)->len : 0;
}

const uint8_t *vx_bytes_data(const vx_value *v) {
    return v && (v->type == VX_BYTES || v->type == VX_WKB)
               ? ((const vx_bytes_impl *)v)->data
               : NULL;
}

size_t vx_bytes_len(const vx_value *v) {
    return v && (v->type == VX_BYTES || v->type == VX_WKB) ? ((const vx_bytes_impl *)v)->len
                                                           : 0;
}

const char *vx_wkb_b64(const vx_value *v, size_t *len) {
    if (!v || v->type != VX_WKB) {
        if (len) *len = 0;
        return NULL;
    }
    const vx_bytes_impl *b = (const vx_bytes_impl *)v;
    if (len) *len = b->b64_len;
    return b->b64;
}

int64_t vx_datetime_value(const vx_value *v) {
    return v && v->type == VX_DATETIME ? ((const vx_datetime_impl *)v)->us : 0;
}
