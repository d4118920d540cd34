/* Length-aware constructors for untyped tuples, used by the decoder: a relay
 * must keep every non-underscore key it receives (§5.3), including "" and
 * keys holding U+0000, which the C-string API cannot express. */
#include <stdlib.h>
#include <string.h>

#include "value_impl.h"

vx_value *vx_tuple_new_untypedn(const char *name, size_t len) {
    if (!name || len == 0 || !vx_utf8_valid(name, len)) return NULL;
    vx_tuple_impl *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->h.type = VX_TUPLE;
    t->h.refcount = 1;
    t->name = malloc(len + 1);
    t->extra = vx_dict();
    if (!t->name || !t->extra) {
        free(t->name);
        vx_decref(t->extra);
        free(t);
        return NULL;
    }
    memcpy(t->name, name, len);
    t->name[len] = '\0';
    t->name_len = len;
    return &t->h;
}

int vx_tuple_untyped_setn_new(vx_value *tuple, const char *key, size_t len, vx_value *v) {
    vx_tuple_impl *t = vx_typeof(tuple) == VX_TUPLE ? VX_AS(vx_tuple_impl, tuple) : NULL;
    if (!t || t->type || !v || (len && key[0] == '_')) {
        vx_decref(v);
        return VX_E_INVAL;
    }
    return vx_dict_setn_new(t->extra, key, len, v);
}
