/* Canonical byte form of filt values (PROTOCOL.md §7.2, §7.3).
 *
 * Why a byte form: list equality is multiset equality, and pairing elements
 * by trial is exponential in the worst case. Because §7.2 equality is an
 * equivalence relation once NaN (equal to nothing) is set aside and numbers
 * are compared exactly, every value has a canonical form; two lists are
 * equal exactly when their sorted element forms are. The same form, hashed,
 * is the router's index key, so 1 and 1.0, or [1,2] and [2,1], share a
 * bucket.
 *
 * Every encoding is prefix-free (a tag, then fixed-size or length-prefixed
 * data), so concatenations can be compared and sorted as plain bytes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "router/router_impl.h"
#include <vortexc/tuple.h>

enum {
    TAG_NULL = 'N',
    TAG_TRUE = 'T',
    TAG_FALSE = 'F',
    TAG_INT = 'I', /* also integral floats inside int64: 1.0 encodes as 1 */
    TAG_FLOAT = 'D',
    TAG_STR = 'S',
    TAG_BYTES = 'B',
    TAG_DATETIME = 'M',
    TAG_LIST = 'L',
    TAG_DICT = 'O',
    TAG_TUPLE = 'U',
};

void vx_canon_init(vx_canon *c) {
    c->p = c->inline_buf;
    c->len = 0;
    c->cap = sizeof c->inline_buf;
    c->poison = false;
    c->nomem = false;
}

void vx_canon_release(vx_canon *c) {
    if (c->p != c->inline_buf) free(c->p);
    c->p = c->inline_buf;
    c->len = 0;
    c->cap = sizeof c->inline_buf;
}

static bool reserve(vx_canon *c, size_t extra) {
    if (c->nomem) return false;
    if (extra <= c->cap - c->len) return true;
    size_t want = c->len + extra;
    if (want < c->len) goto fail; /* overflow */
    size_t cap = c->cap * 2;
    while (cap < want) cap *= 2;
    uint8_t *n;
    if (c->p == c->inline_buf) {
        n = malloc(cap);
        if (n) memcpy(n, c->p, c->len);
    } else {
        n = realloc(c->p, cap);
    }
    if (!n) goto fail;
    c->p = n;
    c->cap = cap;
    return true;
fail:
    c->nomem = true;
    return false;
}

static void put_tag(vx_canon *c, uint8_t tag) {
    if (reserve(c, 1)) c->p[c->len++] = tag;
}

static void put_u64(vx_canon *c, uint64_t x) {
    if (!reserve(c, 8)) return;
    for (int i = 7; i >= 0; i--) c->p[c->len++] = (uint8_t)(x >> (i * 8));
}

static void put_tagged_u64(vx_canon *c, uint8_t tag, uint64_t x) {
    put_tag(c, tag);
    put_u64(c, x);
}

static void put_blob(vx_canon *c, uint8_t tag, const void *data, size_t len) {
    put_tagged_u64(c, tag, len);
    if (len && reserve(c, len)) {
        memcpy(c->p + c->len, data, len);
        c->len += len;
    }
}

/* 2^63 as a double: the first double above every int64. */
#define TWO63 9223372036854775808.0

int vx_num_cmp_int_double(int64_t i, double d) {
    if (d >= TWO63) return -1;
    if (d < -TWO63) return 1;
    /* d is now in int64 range, so its truncation is exact, and so is the
     * difference between d and its truncation. */
    int64_t t = (int64_t)d;
    if (i != t) return i < t ? -1 : 1;
    double frac = d - (double)t;
    return frac > 0 ? -1 : frac < 0 ? 1 : 0;
}

static void put_float(vx_canon *c, double d) {
    if (isnan(d)) {
        c->poison = true;
        return;
    }
    if (d >= -TWO63 && d < TWO63 && d == trunc(d)) {
        /* Integral and in range: the same form as the int it equals (and
         * -0.0 becomes 0). */
        put_tagged_u64(c, TAG_INT, (uint64_t)(int64_t)d);
        return;
    }
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    put_tagged_u64(c, TAG_FLOAT, bits);
}

typedef struct {
    const uint8_t *p;
    size_t len;
} span;

static int span_cmp(const void *a, const void *b) {
    const span *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int r = memcmp(x->p, y->p, n);
    if (r) return r;
    return x->len < y->len ? -1 : x->len > y->len ? 1 : 0;
}

/* The buffer from off[0] to c->len holds n encodings, the i-th starting at
 * off[i]. Rewrite that region with the encodings in sorted byte order. */
static void sort_region(vx_canon *c, const size_t *off, size_t n) {
    if (c->nomem || c->poison || n < 2) return;
    size_t start = off[0], total = c->len - start;
    span *sp = malloc(n * sizeof *sp + total);
    if (!sp) {
        c->nomem = true;
        return;
    }
    uint8_t *tmp = (uint8_t *)(sp + n);
    for (size_t i = 0; i < n; i++) {
        size_t end = i + 1 < n ? off[i + 1] : c->len;
        sp[i].p = c->p + off[i];
        sp[i].len = end - off[i];
    }
    qsort(sp, n, sizeof *sp, span_cmp);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(tmp + at, sp[i].p, sp[i].len);
        at += sp[i].len;
    }
    memcpy(c->p + start, tmp, total);
    free(sp);
}

static void canon_rec(vx_canon *c, const vx_value *v, int depth);

/* Offsets of a container's element encodings: small containers avoid the
 * heap. Returns NULL (and sets nomem) on allocation failure. */
static size_t *offsets_new(vx_canon *c, size_t n, size_t *small, size_t small_n) {
    if (n <= small_n) return small;
    size_t *off = n <= SIZE_MAX / sizeof *off ? malloc(n * sizeof *off) : NULL;
    if (!off) c->nomem = true;
    return off;
}

static void canon_list(vx_canon *c, const vx_value *v, int depth) {
    size_t n = vx_list_size(v);
    put_tagged_u64(c, TAG_LIST, n);
    size_t small[16];
    size_t *off = offsets_new(c, n, small, 16);
    if (!off) return;
    for (size_t i = 0; i < n && !c->poison && !c->nomem; i++) {
        off[i] = c->len;
        canon_rec(c, vx_list_get(v, i), depth + 1);
    }
    sort_region(c, off, n);
    if (off != small) free(off);
}

static void canon_dict(vx_canon *c, const vx_value *v, int depth) {
    size_t n = vx_dict_size(v);
    put_tagged_u64(c, TAG_DICT, n);
    size_t small[16];
    size_t *off = offsets_new(c, n, small, 16);
    if (!off) return;
    for (size_t i = 0; i < n && !c->poison && !c->nomem; i++) {
        size_t klen;
        const char *k = vx_dict_key_at(v, i, &klen);
        off[i] = c->len;
        /* Keys are unique and prefix-free, so sorting the entries sorts by
         * key and the values never decide the order. */
        put_blob(c, TAG_STR, k, klen);
        canon_rec(c, vx_dict_value_at(v, i), depth + 1);
    }
    sort_region(c, off, n);
    if (off != small) free(off);
}

static void canon_tuple(vx_canon *c, const vx_value *v, int depth) {
    const char *name = vx_tuple_name(v);
    size_t n = vx_tuple_field_count(v);
    put_blob(c, TAG_TUPLE, name, name ? strlen(name) : 0);
    put_u64(c, n);
    size_t small[16];
    size_t *off = offsets_new(c, n, small, 16);
    if (!off) return;
    for (size_t i = 0; i < n && !c->poison && !c->nomem; i++) {
        const char *f = vx_tuple_field_name_at(v, i);
        off[i] = c->len;
        put_blob(c, TAG_STR, f, f ? strlen(f) : 0);
        canon_rec(c, vx_tuple_get_at(v, i), depth + 1);
    }
    sort_region(c, off, n);
    if (off != small) free(off);
}

static void canon_rec(vx_canon *c, const vx_value *v, int depth) {
    if (c->poison || c->nomem) return;
    if (!v || depth > VX_CANON_MAX_DEPTH) {
        c->poison = true;
        return;
    }
    switch (vx_typeof(v)) {
    case VX_NULL:
        put_tag(c, TAG_NULL);
        break;
    case VX_BOOL:
        put_tag(c, vx_bool_value(v) ? TAG_TRUE : TAG_FALSE);
        break;
    case VX_INT:
        put_tagged_u64(c, TAG_INT, (uint64_t)vx_int_value(v));
        break;
    case VX_FLOAT:
        put_float(c, vx_float_value(v));
        break;
    case VX_STR:
        put_blob(c, TAG_STR, vx_str_value(v), vx_str_len(v));
        break;
    case VX_BYTES:
        put_blob(c, TAG_BYTES, vx_bytes_data(v), vx_bytes_len(v));
        break;
    case VX_DATETIME:
        put_tagged_u64(c, TAG_DATETIME, (uint64_t)vx_datetime_value(v));
        break;
    case VX_LIST:
        canon_list(c, v, depth);
        break;
    case VX_DICT:
        canon_dict(c, v, depth);
        break;
    case VX_TUPLE:
        canon_tuple(c, v, depth);
        break;
    default: /* payloads and geometry equal nothing (§7.2 "any other pair") */
        c->poison = true;
        break;
    }
}

void vx_canon_value(vx_canon *c, const vx_value *v) {
    canon_rec(c, v, 0);
}

uint64_t vx_canon_hash(const uint8_t *p, size_t len) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    /* FNV's low bits mix poorly; the table takes low bits, so avalanche. */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}
