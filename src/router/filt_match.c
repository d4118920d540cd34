/* The §7.2 match rule and its equality table.
 *
 * Scalars are compared directly (the dispatch hot path: no allocation).
 * Lists go through their canonical form (filt_canon.c), which turns
 * multiset equality into sorting; dicts and tuples, which may appear inside
 * lists, compare entry by entry with this same table, so that the direct
 * comparison and the canonical form always agree. */
#include <math.h>
#include <string.h>

#include "router/router_impl.h"
#include <vortexc/tuple.h>

static bool equal_rec(const vx_value *a, const vx_value *b, int depth);

static bool is_number(vx_type t) {
    return t == VX_INT || t == VX_FLOAT;
}

static bool num_equal(const vx_value *a, const vx_value *b) {
    vx_type ta = vx_typeof(a), tb = vx_typeof(b);
    if (ta == VX_INT && tb == VX_INT) return vx_int_value(a) == vx_int_value(b);
    if (ta == VX_FLOAT && tb == VX_FLOAT) return vx_float_value(a) == vx_float_value(b);
    /* Mixed: never convert the int to double, which would round above 2^53
     * and make 2^53+1 equal to the float 2^53. */
    const vx_value *i = ta == VX_INT ? a : b, *f = ta == VX_INT ? b : a;
    double d = vx_float_value(f);
    if (isnan(d)) return false;
    return vx_num_cmp_int_double(vx_int_value(i), d) == 0;
}

static bool list_equal(const vx_value *a, const vx_value *b, int depth) {
    size_t n = vx_list_size(a);
    if (n != vx_list_size(b)) return false;
    if (n == 0) return true;
    if (n == 1) return equal_rec(vx_list_get(a, 0), vx_list_get(b, 0), depth + 1);
    vx_canon ca, cb;
    vx_canon_init(&ca);
    vx_canon_init(&cb);
    vx_canon_value(&ca, a);
    vx_canon_value(&cb, b);
    /* A poisoned list holds an element (e.g. NaN) that pairs with nothing.
     * On allocation failure we cannot decide and say "no match". */
    bool eq = !ca.poison && !cb.poison && !ca.nomem && !cb.nomem && ca.len == cb.len &&
              memcmp(ca.p, cb.p, ca.len) == 0;
    vx_canon_release(&ca);
    vx_canon_release(&cb);
    return eq;
}

static bool dict_equal(const vx_value *a, const vx_value *b, int depth) {
    size_t n = vx_dict_size(a);
    if (n != vx_dict_size(b)) return false;
    /* Same size and every key of a in b: keys are unique, so same key set. */
    for (size_t i = 0; i < n; i++) {
        size_t klen;
        const char *k = vx_dict_key_at(a, i, &klen);
        const vx_value *bv = vx_dict_getn(b, k, klen);
        if (!bv || !equal_rec(vx_dict_value_at(a, i), bv, depth + 1)) return false;
    }
    return true;
}

static bool tuple_equal(const vx_value *a, const vx_value *b, int depth) {
    const char *na = vx_tuple_name(a), *nb = vx_tuple_name(b);
    if (!na || !nb || strcmp(na, nb) != 0) return false;
    size_t n = vx_tuple_field_count(a);
    if (n != vx_tuple_field_count(b)) return false;
    for (size_t i = 0; i < n; i++) {
        const char *f = vx_tuple_field_name_at(a, i);
        const vx_value *bv = f ? vx_tuple_get(b, f) : NULL;
        if (!bv || !equal_rec(vx_tuple_get_at(a, i), bv, depth + 1)) return false;
    }
    return true;
}

static bool equal_rec(const vx_value *a, const vx_value *b, int depth) {
    if (!a || !b || depth > VX_CANON_MAX_DEPTH) return false;
    vx_type ta = vx_typeof(a), tb = vx_typeof(b);
    if (is_number(ta)) return is_number(tb) && num_equal(a, b);
    if (ta != tb) return false;
    switch (ta) {
    case VX_STR:
        return vx_str_len(a) == vx_str_len(b) &&
               memcmp(vx_str_value(a), vx_str_value(b), vx_str_len(a)) == 0;
    case VX_NULL:
        return true;
    case VX_BOOL:
        return vx_bool_value(a) == vx_bool_value(b);
    case VX_DATETIME:
        return vx_datetime_value(a) == vx_datetime_value(b);
    case VX_BYTES:
        return vx_bytes_len(a) == vx_bytes_len(b) &&
               (vx_bytes_len(a) == 0 ||
                memcmp(vx_bytes_data(a), vx_bytes_data(b), vx_bytes_len(a)) == 0);
    case VX_LIST:
        return list_equal(a, b, depth);
    case VX_DICT:
        return dict_equal(a, b, depth);
    case VX_TUPLE:
        return tuple_equal(a, b, depth);
    default: /* payloads, geometry: "any other pair: never" */
        return false;
    }
}

bool vx_filt_value_equal(const vx_value *endpoint_value, const vx_value *payload_value) {
    return equal_rec(endpoint_value, payload_value, 0);
}

/* Endpoint filt values of these types are ignored by the match rule. */
static bool ignored_in_match(const vx_value *v) {
    vx_type t = vx_typeof(v);
    return t == VX_DICT || t == VX_TUPLE || t == VX_PAYLOAD;
}

bool vx_filt_matches(const vx_value *endpoint_filt, const vx_value *payload_filt) {
    if (!endpoint_filt || !payload_filt || vx_typeof(endpoint_filt) != VX_DICT ||
        vx_typeof(payload_filt) != VX_DICT)
        return false;
    size_t n = vx_dict_size(endpoint_filt);
    for (size_t i = 0; i < n; i++) {
        const vx_value *ev = vx_dict_value_at(endpoint_filt, i);
        if (ignored_in_match(ev)) continue;
        size_t klen;
        const char *k = vx_dict_key_at(endpoint_filt, i, &klen);
        const vx_value *pv = vx_dict_getn(payload_filt, k, klen);
        if (!pv || !vx_filt_value_equal(ev, pv)) return false;
    }
    return true;
}
