/* Tuple types, the registry that owns them, and tuple values (§5). */
#include <stdlib.h>
#include <string.h>

#include "value_impl.h"

struct vx_registry {
    vx_tuple_type **types;
    size_t len, cap;
};

vx_registry *vx_registry_new(void) {
    return calloc(1, sizeof(vx_registry));
}

static void free_type(vx_tuple_type *t) {
    if (!t) return;
    for (size_t i = 0; i < t->n_fields; i++) {
        free(t->fields[i].name);
        free(t->fields[i].short_name);
        vx_decref(t->fields[i].def);
    }
    free(t->fields);
    free(t->sorted);
    free(t->name);
    free(t->short_name);
    free(t);
}

void vx_registry_free(vx_registry *reg) {
    if (!reg) return;
    for (size_t i = 0; i < reg->len; i++) free_type(reg->types[i]);
    free(reg->types);
    free(reg);
}

/* Registries hold tens of types, looked up once per decoded tuple: a linear
 * scan comparing lengths first is as fast as a hash at that size. */
const vx_tuple_type *vx_registry_findn(const vx_registry *reg, const char *name,
                                       size_t len) {
    if (!reg || !name) return NULL;
    for (size_t i = 0; i < reg->len; i++) {
        const vx_tuple_type *t = reg->types[i];
        if (t->name_len == len && memcmp(t->name, name, len) == 0) return t;
    }
    return NULL;
}

const vx_tuple_type *vx_registry_find(const vx_registry *reg, const char *name) {
    return name ? vx_registry_findn(reg, name, strlen(name)) : NULL;
}

const vx_tuple_type *vx_registry_find_short(const vx_registry *reg,
                                            const char *short_name) {
    if (!reg || !short_name) return NULL;
    for (size_t i = 0; i < reg->len; i++)
        if (reg->types[i]->short_name && strcmp(reg->types[i]->short_name, short_name) == 0)
            return reg->types[i];
    return NULL;
}

size_t vx_registry_size(const vx_registry *reg) {
    return reg ? reg->len : 0;
}

static char *dup_str(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static int cmp_field(const vx_tuple_type *t, size_t a, size_t b) {
    const struct vx_tuple_field *fa = &t->fields[a], *fb = &t->fields[b];
    size_t n = fa->name_len < fb->name_len ? fa->name_len : fb->name_len;
    int c = memcmp(fa->name, fb->name, n);
    return c ? c : (fa->name_len > fb->name_len) - (fa->name_len < fb->name_len);
}

/* Insertion sort of field indexes by name (byte order = code-point order for
 * UTF-8); types have few fields. */
static void sort_fields(vx_tuple_type *t) {
    for (size_t i = 1; i < t->n_fields; i++) {
        size_t x = t->sorted[i], j = i;
        while (j > 0 && cmp_field(t, t->sorted[j - 1], x) > 0) {
            t->sorted[j] = t->sorted[j - 1];
            j--;
        }
        t->sorted[j] = x;
    }
}

int vx_registry_add(vx_registry *reg, const char *name, const char *short_name,
                    const vx_field_def *fields, size_t n_fields, const vx_tuple_type **out,
                    vx_error *err) {
    if (!reg || !name || !*name || !vx_utf8_valid(name, strlen(name)))
        return vx_error_set(err, VX_E_INVAL, "tuple type name must be non-empty UTF-8");
    if (n_fields && !fields)
        return vx_error_set(err, VX_E_INVAL, "tuple type '%s': fields missing", name);
    if (vx_registry_find(reg, name))
        return vx_error_set(err, VX_E_EXISTS, "tuple type '%s' is already registered",
                            name);
    if (short_name && vx_registry_find_short(reg, short_name))
        return vx_error_set(err, VX_E_EXISTS,
                            "tuple type '%s': short name '%s' is already used", name,
                            short_name);
    for (size_t i = 0; i < n_fields; i++) {
        const char *f = fields[i].name;
        if (!f || !*f || !vx_utf8_valid(f, strlen(f)))
            return vx_error_set(err, VX_E_INVAL,
                                "tuple type '%s': field %zu needs a non-empty UTF-8 name",
                                name, i);
        if (f[0] == '_')
            return vx_error_set(err, VX_E_INVAL,
                                "tuple type '%s': field '%s' must not start with '_'", name,
                                f);
        for (size_t j = 0; j < i; j++)
            if (strcmp(fields[j].name, f) == 0)
                return vx_error_set(err, VX_E_INVAL,
                                    "tuple type '%s': field '%s' is declared twice", name,
                                    f);
        if (fields[i].default_value && vx_typeof(fields[i].default_value) == VX_PAYLOAD)
            return vx_error_set(err, VX_E_INVAL,
                                "tuple type '%s': field '%s' cannot default to a payload",
                                name, f);
    }
    vx_tuple_type *t = calloc(1, sizeof *t);
    if (!t) goto nomem;
    t->name = dup_str(name);
    t->name_len = strlen(name);
    t->short_name = dup_str(short_name);
    t->n_fields = n_fields;
    t->fields = calloc(n_fields ? n_fields : 1, sizeof *t->fields);
    t->sorted = calloc(n_fields ? n_fields : 1, sizeof *t->sorted);
    if (!t->name || (short_name && !t->short_name) || !t->fields || !t->sorted) goto nomem;
    for (size_t i = 0; i < n_fields; i++) {
        struct vx_tuple_field *f = &t->fields[i];
        f->name = dup_str(fields[i].name);
        f->name_len = strlen(fields[i].name);
        f->short_name = dup_str(fields[i].short_name);
        f->json_exclude = fields[i].json_exclude;
        f->def = fields[i].default_value ? vx_clone(fields[i].default_value) : vx_null();
        t->sorted[i] = i;
        if (!f->name || (fields[i].short_name && !f->short_name) || !f->def) goto nomem;
    }
    sort_fields(t);
    if (reg->len == reg->cap) {
        size_t cap = reg->cap ? reg->cap * 2 : 8;
        vx_tuple_type **types = realloc(reg->types, cap * sizeof *types);
        if (!types) goto nomem;
        reg->types = types;
        reg->cap = cap;
    }
    reg->types[reg->len++] = t;
    if (out) *out = t;
    return 0;
nomem:
    free_type(t);
    return vx_error_set(err, VX_E_NOMEM, "out of memory registering tuple type '%s'", name);
}

const char *vx_tuple_type_name(const vx_tuple_type *t) {
    return t ? t->name : NULL;
}
const char *vx_tuple_type_short_name(const vx_tuple_type *t) {
    return t ? t->short_name : NULL;
}
size_t vx_tuple_type_field_count(const vx_tuple_type *t) {
    return t ? t->n_fields : 0;
}
const char *vx_tuple_type_field_name(const vx_tuple_type *t, size_t index) {
    return t && index < t->n_fields ? t->fields[index].name : NULL;
}
const vx_value *vx_tuple_type_field_default(const vx_tuple_type *t, size_t index) {
    return t && index < t->n_fields ? t->fields[index].def : NULL;
}
bool vx_tuple_type_field_json_exclude(const vx_tuple_type *t, size_t index) {
    return t && index < t->n_fields && t->fields[index].json_exclude;
}

int vx_tuple_type_field_indexn(const vx_tuple_type *t, const char *name, size_t len) {
    if (!t || !name) return -1;
    for (size_t i = 0; i < t->n_fields; i++)
        if (t->fields[i].name_len == len && memcmp(t->fields[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

int vx_tuple_type_field_index(const vx_tuple_type *t, const char *name) {
    return name ? vx_tuple_type_field_indexn(t, name, strlen(name)) : -1;
}

/* ---- tuple values ---------------------------------------------------- */

void vx_tuple_free_fields(vx_tuple_impl *t) {
    if (t->type) {
        for (size_t i = 0; i < t->type->n_fields; i++) vx_decref(t->fields[i]);
    } else {
        free(t->name);
        vx_decref(t->extra);
    }
}

/* A tuple's own instance of a field default. Registries are shared between
 * threads (one codec per thread, one registry) and reference counts are not
 * atomic, so a tuple never takes a reference to a registry default: immortal
 * defaults (null, bools, small ints, "") are shared, everything else is
 * copied. */
static vx_value *default_for(const vx_value *def) {
    if (def->refcount == VX_IMMORTAL) return (vx_value *)def;
    return vx_clone(def);
}

vx_value *vx_tuple_new_unset(const vx_tuple_type *type) {
    if (!type) return NULL;
    size_t n = type->n_fields;
    vx_tuple_impl *t = vx_mem_alloc(sizeof *t + n * sizeof t->slots[0]);
    if (!t) return NULL;
    t->h.type = VX_TUPLE;
    t->h.refcount = 1;
    t->type = type;
    t->name = NULL;
    t->name_len = 0;
    t->fields = t->slots;
    t->extra = NULL;
    for (size_t i = 0; i < n; i++) t->slots[i] = NULL;
    return &t->h;
}

int vx_tuple_fill_defaults(vx_value *v) {
    vx_tuple_impl *t = (vx_tuple_impl *)v;
    for (size_t i = 0; i < t->type->n_fields; i++) {
        if (t->slots[i]) continue;
        t->slots[i] = default_for(t->type->fields[i].def);
        if (!t->slots[i]) return VX_E_NOMEM;
    }
    return 0;
}

vx_value *vx_tuple_new(const vx_tuple_type *type) {
    vx_value *t = vx_tuple_new_unset(type);
    if (t && vx_tuple_fill_defaults(t) != 0) {
        vx_decref(t); /* NULL slots are fine for vx_decref */
        return NULL;
    }
    return t;
}

/* Untyped tuples are named by (name, len) and their fields set by (key,
 * len): a relay keeps every non-underscore key it receives (§5.3), "" and
 * U+0000 included, which the C-string API cannot express. */
vx_value *vx_tuple_new_untypedn(const char *name, size_t len) {
    if (!name || len == 0 || !vx_utf8_valid(name, len)) return NULL;
    vx_tuple_impl *t = vx_mem_alloc(sizeof *t);
    if (!t) return NULL;
    memset(t, 0, sizeof *t);
    t->h.type = VX_TUPLE;
    t->h.refcount = 1;
    t->name = malloc(len + 1);
    t->extra = vx_dict();
    if (!t->name || !t->extra) {
        free(t->name);
        vx_decref(t->extra);
        vx_mem_free(t, sizeof *t);
        return NULL;
    }
    memcpy(t->name, name, len);
    t->name[len] = '\0';
    t->name_len = len;
    return &t->h;
}

vx_value *vx_tuple_new_untyped(const char *type_name) {
    return type_name ? vx_tuple_new_untypedn(type_name, strlen(type_name)) : NULL;
}

int vx_tuple_untyped_setn_new(vx_value *tuple, const char *key, size_t len, vx_value *v) {
    vx_tuple_impl *t = vx_typeof(tuple) == VX_TUPLE ? VX_AS(vx_tuple_impl, tuple) : NULL;
    if (!t || t->type || !v || (len && key[0] == '_')) {
        vx_decref(v);
        return VX_E_INVAL;
    }
    return vx_dict_setn_new(t->extra, key, len, v);
}

static vx_tuple_impl *as_tuple(const vx_value *v) {
    return v && v->type == VX_TUPLE ? (vx_tuple_impl *)v : NULL;
}

const char *vx_tuple_name(const vx_value *v) {
    vx_tuple_impl *t = as_tuple(v);
    return t ? (t->type ? t->type->name : t->name) : NULL;
}

const vx_tuple_type *vx_tuple_type_of(const vx_value *v) {
    vx_tuple_impl *t = as_tuple(v);
    return t ? t->type : NULL;
}

size_t vx_tuple_field_count(const vx_value *v) {
    vx_tuple_impl *t = as_tuple(v);
    if (!t) return 0;
    return t->type ? t->type->n_fields : vx_dict_size(t->extra);
}

const char *vx_tuple_field_name_at(const vx_value *v, size_t index) {
    vx_tuple_impl *t = as_tuple(v);
    if (!t) return NULL;
    if (t->type) return vx_tuple_type_field_name(t->type, index);
    return vx_dict_key_at(t->extra, index, NULL);
}

vx_value *vx_tuple_get_at(const vx_value *v, size_t index) {
    vx_tuple_impl *t = as_tuple(v);
    if (!t) return NULL;
    if (t->type) return index < t->type->n_fields ? t->fields[index] : NULL;
    return vx_dict_value_at(t->extra, index);
}

int vx_tuple_set_at_new(vx_value *v, size_t index, vx_value *item) {
    vx_tuple_impl *t = as_tuple(v);
    if (!t || !item || index >= vx_tuple_field_count(v)) {
        vx_decref(item);
        return VX_E_INVAL;
    }
    if (t->type) {
        vx_decref(t->fields[index]);
        t->fields[index] = item;
        return 0;
    }
    size_t len;
    const char *key = vx_dict_key_at(t->extra, index, &len);
    return vx_dict_setn_trusted_new(t->extra, key, len, item);
}

vx_value *vx_tuple_get(const vx_value *v, const char *field) {
    vx_tuple_impl *t = as_tuple(v);
    if (!t || !field) return NULL;
    if (!t->type) return vx_dict_get(t->extra, field);
    int i = vx_tuple_type_field_index(t->type, field);
    return i < 0 ? NULL : t->fields[i];
}

int vx_tuple_set_new(vx_value *v, const char *field, vx_value *item) {
    vx_tuple_impl *t = as_tuple(v);
    if (!t || !field || !item) {
        vx_decref(item);
        return VX_E_INVAL;
    }
    if (t->type) {
        int i = vx_tuple_type_field_index(t->type, field);
        if (i < 0) {
            vx_decref(item);
            return VX_E_TUPLE_FIELD;
        }
        vx_decref(t->fields[i]);
        t->fields[i] = item;
        return 0;
    }
    return vx_tuple_untyped_setn_new(v, field, strlen(field), item);
}

int vx_tuple_set(vx_value *v, const char *field, vx_value *item) {
    return vx_tuple_set_new(v, field, vx_incref(item));
}
