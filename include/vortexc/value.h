/* vx_value: the dynamically typed, reference-counted value that payloads are
 * made of (PROTOCOL.md §4.1).
 *
 * Ownership follows jansson: a function documented as returning a NEW
 * reference gives the caller one reference to release with vx_decref(); a
 * BORROWED reference is valid as long as its container is and must not be
 * released; a function whose name ends in `_new` STEALS the reference it is
 * given (even when it fails). Reference counts are not atomic: a value may
 * move between threads but must not be shared by two threads at once.
 *
 * Strings are UTF-8 with an explicit length (they may hold U+0000); the
 * library keeps a NUL after every string so vx_str_value() is also a C
 * string. Datetimes are microseconds since 1970-01-01T00:00:00Z, limited to
 * years 0001-9999. */
#ifndef VORTEXC_VALUE_H
#define VORTEXC_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vx_type {
    VX_NULL,
    VX_BOOL,
    VX_INT,
    VX_FLOAT,
    VX_STR,
    VX_BYTES,
    VX_DATETIME,
    VX_LIST,
    VX_DICT,
    VX_TUPLE,   /* see tuple.h */
    VX_PAYLOAD, /* a nested payload, see payload.h */
    VX_WKB,     /* opaque geometry (_ft "wkb"): kept only to relay it unchanged */
} vx_type;

typedef struct vx_value vx_value;

/* ---- reference counting ------------------------------------------------ */

/* Add a reference; returns `v` (NULL-safe). */
vx_value *vx_incref(vx_value *v);
/* Drop a reference, freeing the value when it was the last (NULL-safe). */
void vx_decref(vx_value *v);

vx_type vx_typeof(const vx_value *v);
/* "null", "bool", "int", "float", "str", "bytes", "datetime", "list",
 * "dict", "tuple", "payload", "wkb". */
const char *vx_type_name(vx_type t);

/* ---- scalars: every constructor returns a NEW reference, NULL on OOM --- */

vx_value *vx_null(void);
vx_value *vx_bool(bool b);
vx_value *vx_int(int64_t i);
vx_value *vx_float(double d);
/* Copies `s` (NUL-terminated). Returns NULL if `s` is not valid UTF-8. */
vx_value *vx_str(const char *s);
/* Copies `len` bytes of `s`. Returns NULL if they are not valid UTF-8. */
vx_value *vx_strn(const char *s, size_t len);
vx_value *vx_bytes(const void *data, size_t len);
/* Microseconds since the Unix epoch, UTC. NULL outside years 0001-9999. */
vx_value *vx_datetime(int64_t us);
/* Opaque geometry: decoded bytes plus the base64 text they came from, which
 * is what gets re-encoded so a relay passes it on unchanged. */
vx_value *vx_wkb(const void *data, size_t len, const char *b64, size_t b64_len);

bool vx_is_null(const vx_value *v);
/* Getters return 0 / false / NULL when `v` has another type. */
bool vx_bool_value(const vx_value *v);
int64_t vx_int_value(const vx_value *v);
double vx_float_value(const vx_value *v);
/* Borrowed, NUL-terminated; vx_str_len() gives the length in bytes. */
const char *vx_str_value(const vx_value *v);
size_t vx_str_len(const vx_value *v);
const uint8_t *vx_bytes_data(const vx_value *v); /* also for VX_WKB */
size_t vx_bytes_len(const vx_value *v);
const char *vx_wkb_b64(const vx_value *v, size_t *len);
int64_t vx_datetime_value(const vx_value *v);

/* ---- list ------------------------------------------------------------- */

vx_value *vx_list(void); /* NEW, empty */
size_t vx_list_size(const vx_value *list);
/* BORROWED; NULL when out of range or not a list. */
vx_value *vx_list_get(const vx_value *list, size_t index);
/* Append, adding a reference to `item`. 0 or VX_E_INVAL / VX_E_NOMEM. */
int vx_list_append(vx_value *list, vx_value *item);
/* Append, stealing `item`. */
int vx_list_append_new(vx_value *list, vx_value *item);
/* Replace element `index`, stealing `item`. */
int vx_list_set_new(vx_value *list, size_t index, vx_value *item);
int vx_list_remove(vx_value *list, size_t index);

/* ---- dict: string keys, insertion order, hashed lookup ---------------- */

vx_value *vx_dict(void); /* NEW, empty */
size_t vx_dict_size(const vx_value *dict);
/* BORROWED value for `key`, NULL if absent. */
vx_value *vx_dict_get(const vx_value *dict, const char *key);
vx_value *vx_dict_getn(const vx_value *dict, const char *key, size_t key_len);
/* Insert or replace (a replaced key keeps its position), adding a reference
 * to `v`. The key is copied and must be valid UTF-8 (else VX_E_UTF8). */
int vx_dict_set(vx_value *dict, const char *key, vx_value *v);
/* As vx_dict_set, stealing `v`. */
int vx_dict_set_new(vx_value *dict, const char *key, vx_value *v);
int vx_dict_setn_new(vx_value *dict, const char *key, size_t key_len, vx_value *v);
/* Remove `key`, keeping the order of the others. VX_E_NOT_FOUND if absent. */
int vx_dict_del(vx_value *dict, const char *key);
int vx_dict_deln(vx_value *dict, const char *key, size_t key_len);
/* Iterate in insertion order: for (i = 0; i < vx_dict_size(d); i++).
 * Both BORROWED; the key is NUL-terminated, its length in *key_len. */
const char *vx_dict_key_at(const vx_value *dict, size_t index, size_t *key_len);
vx_value *vx_dict_value_at(const vx_value *dict, size_t index);

/* ---- whole values ------------------------------------------------------ */

/* Deep structural equality: same type and equal contents, dict order
 * ignored, list order significant, int 1 != float 1.0, floats compared with
 * == and by sign, so NaN != NaN and 0.0 != -0.0 (a round trip must keep the
 * sign). Routing has its own looser rule: router.h. */
bool vx_equal(const vx_value *a, const vx_value *b);

/* NEW deep copy (tuples keep their type; payloads are copied too). NULL on
 * OOM. Scalars may be shared instead of copied since they are immutable. */
vx_value *vx_deep_copy(const vx_value *v);

/* ---- datetimes --------------------------------------------------------- */

#define VX_DATETIME_MIN_US (-62135596800000000LL) /* 0001-01-01 00:00:00 */
#define VX_DATETIME_MAX_US (253402300799999999LL) /* 9999-12-31 23:59:59.999999 */

/* Microseconds since the epoch for a UTC calendar time; VX_E_BAD_VALUE if a
 * field is out of range. */
int vx_datetime_from_parts(int year, int month, int day, int hour, int minute, int second,
                           int micro, int64_t *us_out);
void vx_datetime_to_parts(int64_t us, int *year, int *month, int *day, int *hour,
                          int *minute, int *second, int *micro);
/* Write "YYYY-MM-DD HH:MM:SS.ffffff" (26 chars + NUL) into buf[27]. */
void vx_datetime_format(int64_t us, char buf[27]);
/* Parse the PROTOCOL §4.4 grammar (fraction 1-6 digits, ' ' or 'T', zone Z
 * or ±HH[:]MM converted to UTC, date alone = midnight). VX_E_BAD_VALUE with a
 * message quoting the text on failure. */
int vx_datetime_parse(const char *s, size_t len, int64_t *us_out, vx_error *err);
/* Current UTC time in microseconds. */
int64_t vx_now_us(void);

#ifdef __cplusplus
}
#endif
#endif
