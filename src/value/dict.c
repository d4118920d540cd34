/* vx_value dicts: string keys kept in insertion order, with a hash index
 * once they grow past VX_DICT_LINEAR_MAX entries (small dicts, the common
 * case in filts, are scanned linearly, which is faster than hashing). */
#include <stdlib.h>
#include <string.h>

#include "value_impl.h"

vx_value *vx_dict(void) {
    vx_dict_impl *d = vx_mem_alloc(sizeof *d);
    if (!d) return NULL;
    d->h.type = VX_DICT;
    d->h.refcount = 1;
    d->len = d->cap = 0;
    d->entries = NULL;
    d->index = NULL;
    d->index_cap = 0;
    return &d->h;
}

void vx_dict_free_entries(vx_dict_impl *d) {
    for (size_t i = 0; i < d->len; i++) {
        free(d->entries[i].key);
        vx_decref(d->entries[i].value);
    }
    free(d->entries);
    free(d->index);
}

static vx_dict_impl *as_dict(const vx_value *v) {
    return v && v->type == VX_DICT ? (vx_dict_impl *)v : NULL;
}

/* Rebuild the index with room for at least 2x the entries. */
static int reindex(vx_dict_impl *d) {
    size_t cap = 16;
    while (cap < d->len * 2 + 2) cap *= 2;
    uint32_t *index = calloc(cap, sizeof *index);
    if (!index) return VX_E_NOMEM;
    for (size_t i = 0; i < d->len; i++) {
        size_t slot = d->entries[i].hash & (cap - 1);
        while (index[slot]) slot = (slot + 1) & (cap - 1);
        index[slot] = (uint32_t)(i + 1);
    }
    free(d->index);
    d->index = index;
    d->index_cap = cap;
    return 0;
}

/* Position of `key` or -1. */
static long find(const vx_dict_impl *d, const char *key, size_t len, uint32_t hash) {
    if (!d->index) {
        for (size_t i = 0; i < d->len; i++) {
            const vx_dict_entry *e = &d->entries[i];
            if (e->key_len == len && e->hash == hash && memcmp(e->key, key, len) == 0)
                return (long)i;
        }
        return -1;
    }
    size_t mask = d->index_cap - 1;
    for (size_t slot = hash & mask; d->index[slot]; slot = (slot + 1) & mask) {
        const vx_dict_entry *e = &d->entries[d->index[slot] - 1];
        if (e->key_len == len && e->hash == hash && memcmp(e->key, key, len) == 0)
            return (long)(d->index[slot] - 1);
    }
    return -1;
}

size_t vx_dict_size(const vx_value *dict) {
    vx_dict_impl *d = as_dict(dict);
    return d ? d->len : 0;
}

vx_value *vx_dict_getn(const vx_value *dict, const char *key, size_t key_len) {
    vx_dict_impl *d = as_dict(dict);
    if (!d || !key || d->len == 0) return NULL;
    long i = find(d, key, key_len, vx_hash_bytes(key, key_len));
    return i < 0 ? NULL : d->entries[i].value;
}

vx_value *vx_dict_get(const vx_value *dict, const char *key) {
    return key ? vx_dict_getn(dict, key, strlen(key)) : NULL;
}

int vx_dict_setn_trusted_new(vx_value *dict, const char *key, size_t key_len, vx_value *v) {
    vx_dict_impl *d = (vx_dict_impl *)dict;
    uint32_t hash = vx_hash_bytes(key, key_len);
    long i = d->len ? find(d, key, key_len, hash) : -1;
    if (i >= 0) {
        vx_decref(d->entries[i].value);
        d->entries[i].value = v;
        return 0;
    }
    if (d->len == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 4;
        vx_dict_entry *entries = realloc(d->entries, cap * sizeof *entries);
        if (!entries) goto nomem;
        d->entries = entries;
        d->cap = cap;
    }
    char *copy = malloc(key_len + 1);
    if (!copy) goto nomem;
    memcpy(copy, key, key_len);
    copy[key_len] = '\0';
    d->entries[d->len] = (vx_dict_entry){copy, key_len, hash, v};
    d->len++;
    if (d->index) {
        if (d->len * 2 > d->index_cap) {
            if (reindex(d) != 0) goto undo;
        } else {
            size_t mask = d->index_cap - 1, slot = hash & mask;
            while (d->index[slot]) slot = (slot + 1) & mask;
            d->index[slot] = (uint32_t)d->len;
        }
    } else if (d->len > VX_DICT_LINEAR_MAX) {
        if (reindex(d) != 0) goto undo;
    }
    return 0;
undo:
    d->len--;
    free(d->entries[d->len].key);
nomem:
    vx_decref(v);
    return VX_E_NOMEM;
}

int vx_dict_setn_new(vx_value *dict, const char *key, size_t key_len, vx_value *v) {
    if (!as_dict(dict) || !v || (!key && key_len)) {
        vx_decref(v);
        return VX_E_INVAL;
    }
    if (!vx_utf8_valid(key, key_len)) {
        vx_decref(v);
        return VX_E_UTF8;
    }
    return vx_dict_setn_trusted_new(dict, key ? key : "", key_len, v);
}

int vx_dict_set_new(vx_value *dict, const char *key, vx_value *v) {
    if (!key) {
        vx_decref(v);
        return VX_E_INVAL;
    }
    return vx_dict_setn_new(dict, key, strlen(key), v);
}

int vx_dict_set(vx_value *dict, const char *key, vx_value *v) {
    return vx_dict_set_new(dict, key, vx_incref(v));
}

int vx_dict_deln(vx_value *dict, const char *key, size_t key_len) {
    vx_dict_impl *d = as_dict(dict);
    if (!d || !key) return VX_E_INVAL;
    long i = d->len ? find(d, key, key_len, vx_hash_bytes(key, key_len)) : -1;
    if (i < 0) return VX_E_NOT_FOUND;
    free(d->entries[i].key);
    vx_decref(d->entries[i].value);
    memmove(d->entries + i, d->entries + i + 1,
            (d->len - (size_t)i - 1) * sizeof *d->entries);
    d->len--;
    if (d->index) {
        /* Positions shifted: rebuild (or drop the index for a small dict). */
        if (d->len <= VX_DICT_LINEAR_MAX) {
            free(d->index);
            d->index = NULL;
            d->index_cap = 0;
        } else if (reindex(d) != 0) {
            /* Keep working without an index rather than fail a delete. */
            free(d->index);
            d->index = NULL;
            d->index_cap = 0;
        }
    }
    return 0;
}

int vx_dict_del(vx_value *dict, const char *key) {
    return key ? vx_dict_deln(dict, key, strlen(key)) : VX_E_INVAL;
}

const char *vx_dict_key_at(const vx_value *dict, size_t index, size_t *key_len) {
    vx_dict_impl *d = as_dict(dict);
    if (!d || index >= d->len) {
        if (key_len) *key_len = 0;
        return NULL;
    }
    if (key_len) *key_len = d->entries[index].key_len;
    return d->entries[index].key;
}

vx_value *vx_dict_value_at(const vx_value *dict, size_t index) {
    vx_dict_impl *d = as_dict(dict);
    return d && index < d->len ? d->entries[index].value : NULL;
}
