/* Tuples: typed records, a type name plus named fields (PROTOCOL.md §5).
 *
 * Types live in an explicit registry object; nothing is global. A tuple is a
 * vx_value of type VX_TUPLE. A typed tuple points at its vx_tuple_type, so
 * the registry must outlive every tuple made from it. An untyped tuple
 * carries only a type name and whatever fields it arrived with; it exists so
 * a relay can pass on tuples it does not know (lenient decoding). */
#ifndef VORTEXC_TUPLE_H
#define VORTEXC_TUPLE_H

#include "value.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vx_registry vx_registry;
typedef struct vx_tuple_type vx_tuple_type;

/* One field of a type being registered. */
typedef struct vx_field_def {
    const char *name;        /* non-empty, unique in the type, not starting with '_' */
    vx_value *default_value; /* BORROWED; deep-copied at registration; NULL = null */
    const char *short_name;  /* optional, NULL for none (non-wire formats only) */
    bool json_exclude;       /* non-wire formats only; still written on the wire */
} vx_field_def;

vx_registry *vx_registry_new(void);
/* Frees the registry and its types (tuples made from them must be gone). */
void vx_registry_free(vx_registry *reg);

/* Register type `name` with `n_fields` fields. Fails with VX_E_EXISTS for a
 * duplicate type name or short name, VX_E_INVAL for an empty name, an empty,
 * duplicate or '_'-prefixed field name; the message names type and field.
 * On success *out (if non-NULL) is the BORROWED type, owned by `reg`. */
int vx_registry_add(vx_registry *reg, const char *name, const char *short_name,
                    const vx_field_def *fields, size_t n_fields, const vx_tuple_type **out,
                    vx_error *err);

/* BORROWED type, or NULL if `name` is not registered. */
const vx_tuple_type *vx_registry_find(const vx_registry *reg, const char *name);
const vx_tuple_type *vx_registry_findn(const vx_registry *reg, const char *name,
                                       size_t len);
const vx_tuple_type *vx_registry_find_short(const vx_registry *reg, const char *short_name);
size_t vx_registry_size(const vx_registry *reg);

/* ---- types: field indexes are registration order ----------------------- */

const char *vx_tuple_type_name(const vx_tuple_type *t);
const char *vx_tuple_type_short_name(const vx_tuple_type *t); /* NULL if none */
size_t vx_tuple_type_field_count(const vx_tuple_type *t);
const char *vx_tuple_type_field_name(const vx_tuple_type *t, size_t index);
/* BORROWED default of a field. */
const vx_value *vx_tuple_type_field_default(const vx_tuple_type *t, size_t index);
bool vx_tuple_type_field_json_exclude(const vx_tuple_type *t, size_t index);
/* Index of field `name`, or -1. */
int vx_tuple_type_field_index(const vx_tuple_type *t, const char *name);
int vx_tuple_type_field_indexn(const vx_tuple_type *t, const char *name, size_t len);

/* ---- tuples ------------------------------------------------------------ */

/* NEW tuple of type `t` with every field set to (a copy of) its default. */
vx_value *vx_tuple_new(const vx_tuple_type *t);
/* NEW untyped tuple named `type_name` with no fields. NULL if the name is
 * empty or not UTF-8. */
vx_value *vx_tuple_new_untyped(const char *type_name);

/* Type name of any tuple (BORROWED); NULL if `v` is not a tuple. */
const char *vx_tuple_name(const vx_value *v);
/* BORROWED type of a typed tuple, NULL for an untyped one. */
const vx_tuple_type *vx_tuple_type_of(const vx_value *v);

/* Fields by position: for a typed tuple, registration order; for an untyped
 * one, the order fields were set in. */
size_t vx_tuple_field_count(const vx_value *v);
const char *vx_tuple_field_name_at(const vx_value *v, size_t index);
vx_value *vx_tuple_get_at(const vx_value *v, size_t index);         /* BORROWED */
int vx_tuple_set_at_new(vx_value *v, size_t index, vx_value *item); /* steals */

/* Fields by name. get: BORROWED or NULL if no such field. set: on a typed
 * tuple an unknown field is VX_E_TUPLE_FIELD; on an untyped tuple any name
 * not starting with '_' is accepted (VX_E_INVAL otherwise). */
vx_value *vx_tuple_get(const vx_value *v, const char *field);
int vx_tuple_set(vx_value *v, const char *field, vx_value *item);     /* adds a ref */
int vx_tuple_set_new(vx_value *v, const char *field, vx_value *item); /* steals */

#ifdef __cplusplus
}
#endif
#endif
