/* vx_value lists: a growable array of owned references. */
#include <stdlib.h>
#include <string.h>

#include "value_impl.h"

vx_value *vx_list(void) {
    vx_list_impl *l = vx_mem_alloc(sizeof *l);
    if (!l) return NULL;
    l->h.type = VX_LIST;
    l->h.refcount = 1;
    l->len = l->cap = 0;
    l->items = NULL;
    return &l->h;
}

void vx_list_free_items(vx_list_impl *l) {
    for (size_t i = 0; i < l->len; i++) vx_decref(l->items[i]);
    free(l->items);
}

static vx_list_impl *as_list(const vx_value *v) {
    return v && v->type == VX_LIST ? (vx_list_impl *)v : NULL;
}

size_t vx_list_size(const vx_value *list) {
    vx_list_impl *l = as_list(list);
    return l ? l->len : 0;
}

vx_value *vx_list_get(const vx_value *list, size_t index) {
    vx_list_impl *l = as_list(list);
    return l && index < l->len ? l->items[index] : NULL;
}

int vx_list_append_trusted_new(vx_value *list, vx_value *item) {
    vx_list_impl *l = (vx_list_impl *)list;
    if (l->len == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        vx_value **items = realloc(l->items, cap * sizeof *items);
        if (!items) {
            vx_decref(item);
            return VX_E_NOMEM;
        }
        l->items = items;
        l->cap = cap;
    }
    l->items[l->len++] = item;
    return 0;
}

int vx_list_append_new(vx_value *list, vx_value *item) {
    if (!as_list(list) || !item) {
        vx_decref(item);
        return VX_E_INVAL;
    }
    return vx_list_append_trusted_new(list, item);
}

int vx_list_append(vx_value *list, vx_value *item) {
    return vx_list_append_new(list, vx_incref(item));
}

int vx_list_set_new(vx_value *list, size_t index, vx_value *item) {
    vx_list_impl *l = as_list(list);
    if (!l || !item || index >= l->len) {
        vx_decref(item);
        return VX_E_INVAL;
    }
    vx_decref(l->items[index]);
    l->items[index] = item;
    return 0;
}

int vx_list_remove(vx_value *list, size_t index) {
    vx_list_impl *l = as_list(list);
    if (!l || index >= l->len) return VX_E_INVAL;
    vx_decref(l->items[index]);
    memmove(l->items + index, l->items + index + 1,
            (l->len - index - 1) * sizeof *l->items);
    l->len--;
    return 0;
}
