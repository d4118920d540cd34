/* Private layout of vx_value and friends, shared by the value, codec and
 * router layers so hot paths (decode, encode, match) can skip the public
 * accessors' type checks. Nothing outside src/ may include this. */
#ifndef VX_VALUE_IMPL_H
#define VX_VALUE_IMPL_H

#include <vortexc/payload.h>
#include <vortexc/tuple.h>
#include <vortexc/value.h>

/* Every value starts with this header. refcount VX_IMMORTAL marks the static
 * null/true/false singletons and the cached small ints (vx_int), which are
 * never counted or freed; nothing may write to an immortal value. */
struct vx_value {
    uint8_t type; /* vx_type */
    uint32_t refcount;
};
#define VX_IMMORTAL UINT32_MAX

typedef struct {
    vx_value h;
    bool b;
} vx_bool_impl;

typedef struct {
    vx_value h;
    int64_t i;
} vx_int_impl;

typedef struct {
    vx_value h;
    double d;
} vx_float_impl;

typedef struct {
    vx_value h;
    int64_t us;
} vx_datetime_impl;

/* Strings and bytes store their data inline; strings keep a trailing NUL. */
typedef struct {
    vx_value h;
    size_t len;
    char data[];
} vx_str_impl;

typedef struct {
    vx_value h;
    size_t len;
    char *b64; /* VX_WKB only: the text it was decoded from */
    size_t b64_len;
    uint8_t data[];
} vx_bytes_impl;

typedef struct {
    vx_value h;
    size_t len, cap;
    vx_value **items;
} vx_list_impl;

typedef struct {
    char *key; /* NUL-terminated copy */
    size_t key_len;
    uint32_t hash;
    vx_value *value;
} vx_dict_entry;

/* Entries are kept in insertion order in `entries`; `index` is an open
 * addressing table of entry positions + 1 (0 = empty), built only once the
 * dict grows past VX_DICT_LINEAR_MAX entries (small dicts scan linearly). */
typedef struct {
    vx_value h;
    size_t len, cap;
    vx_dict_entry *entries;
    uint32_t *index;
    size_t index_cap; /* power of two, or 0 */
} vx_dict_impl;
#define VX_DICT_LINEAR_MAX 8

struct vx_tuple_field {
    char *name;
    size_t name_len;
    vx_value *def;
    char *short_name;
    bool json_exclude;
};

struct vx_tuple_type {
    char *name;
    size_t name_len;
    char *short_name;
    size_t n_fields;
    struct vx_tuple_field *fields; /* registration order */
    size_t *sorted;                /* field indexes in ascending name order (§5.2) */
};

/* A typed tuple has `type` and `fields[type->n_fields]`; an untyped one has
 * type == NULL, its own `name`, and its fields in the dict `extra`. A typed
 * tuple's field slots live in the same allocation (`slots`), so building one
 * costs one malloc; `fields` points at them so readers need not care. */
typedef struct {
    vx_value h;
    const vx_tuple_type *type;
    char *name; /* untyped only */
    size_t name_len;
    vx_value **fields; /* typed only: == slots */
    vx_value *extra;   /* untyped only: dict of field name -> value */
    vx_value *slots[]; /* typed only: type->n_fields entries */
} vx_tuple_impl;

struct vx_payload {
    vx_value h;
    vx_value *filt;       /* dict */
    vx_value *reply_filt; /* dict */
    vx_value *tuples;     /* list */
    vx_value *result;     /* any */
    vx_value *date;       /* datetime or null */
};

#define VX_AS(type, v) ((type *)(v))

/* Memory for value blocks (mem.c): a per-thread cache of small freed blocks
 * in front of malloc. vx_mem_free must get the size vx_mem_alloc got, so
 * only blocks whose size is fixed for their lifetime (value headers, with
 * inline data) go through it. */
#define VX_MEM_SMALL_MAX 128 /* larger blocks go straight to malloc/free */
void *vx_mem_alloc(size_t size);
void vx_mem_free(void *p, size_t size);
/* The calling thread stops caching (its cached blocks are freed now). For
 * threads that outlive the library's destructor, e.g. libuv's thread pool,
 * whose exit hook would then never run: their cache would leak at exit. */
void vx_mem_thread_nocache(void);

uint32_t vx_hash_bytes(const char *s, size_t len);
/* true if s[0..len) is valid UTF-8 (no overlongs, surrogates, > U+10FFFF). */
bool vx_utf8_valid(const char *s, size_t len);

/* Create a string without UTF-8 validation (the caller has checked). */
vx_value *vx_str_trusted(const char *s, size_t len);
/* Set a dict entry without validating the key (the caller has checked).
 * Steals `v`. */
int vx_dict_setn_trusted_new(vx_value *dict, const char *key, size_t key_len, vx_value *v);
/* Append without checks, stealing `item`; the list must be a list. */
int vx_list_append_trusted_new(vx_value *list, vx_value *item);

/* Untyped tuples named by (name, len) and fields set by (key, len): the
 * decoder keeps every non-underscore key, "" and U+0000 included (§5.3). */
vx_value *vx_tuple_new_untypedn(const char *name, size_t len);
int vx_tuple_untyped_setn_new(vx_value *tuple, const char *key, size_t len, vx_value *v);

/* A typed tuple whose fields are all NULL: the decoder fills the fields it
 * reads, then vx_tuple_fill_defaults gives the rest their defaults. A tuple
 * must not escape with NULL fields. */
vx_value *vx_tuple_new_unset(const vx_tuple_type *type);
int vx_tuple_fill_defaults(vx_value *tuple);
/* NEW value equal to `v` that shares no reference-counted block with it
 * except immortal ones (deep for containers). NULL on OOM. */
vx_value *vx_clone(const vx_value *v);

#endif
