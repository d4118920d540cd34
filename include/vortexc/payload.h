/* Payloads: the unit of routing (PROTOCOL.md §3).
 *
 * A payload has exactly five fields: filt (dict), replyFilt (dict), tuples
 * (list), result (any value) and date (datetime or null). It is itself a
 * vx_value of type VX_PAYLOAD, so it can be nested inside tuples; convert with
 * vx_payload_as_value() / vx_value_as_payload() (no copy, no new reference).
 * Reference counted like every value. */
#ifndef VORTEXC_PAYLOAD_H
#define VORTEXC_PAYLOAD_H

#include "value.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vx_payload vx_payload;

#define VX_HELLO_UUID_KEY "__vortexUuid__"
#define VX_HELLO_NAME_KEY "__vortexName__"

/* NEW payload: empty filt, replyFilt and tuples, null result, and date =
 * now (UTC), strictly increasing within the process (PROTOCOL §3.1). */
vx_payload *vx_payload_new(void);
/* NEW payload with filt {"key": key} (other fields as vx_payload_new). */
vx_payload *vx_payload_new_key(const char *key);
/* NEW payload as the decoder starts one: everything empty, date null. */
vx_payload *vx_payload_new_blank(void);
/* NEW hello (§3.3): filt {__vortexUuid__: uuid, __vortexName__: name}. */
vx_payload *vx_payload_new_hello(const char *uuid, const char *name);
/* NEW gen1 heartbeat (§9.5): an empty payload with the current date. */
vx_payload *vx_payload_new_heartbeat(void);

vx_payload *vx_payload_incref(vx_payload *p);
void vx_payload_decref(vx_payload *p);

/* View conversions, no reference change. vx_value_as_payload() returns NULL
 * unless `v` is a VX_PAYLOAD. */
vx_value *vx_payload_as_value(vx_payload *p);
vx_payload *vx_value_as_payload(const vx_value *v);

/* BORROWED fields; filt, replyFilt and tuples may be modified in place. */
vx_value *vx_payload_filt(const vx_payload *p);       /* dict */
vx_value *vx_payload_reply_filt(const vx_payload *p); /* dict */
vx_value *vx_payload_tuples(const vx_payload *p);     /* list */
vx_value *vx_payload_result(const vx_payload *p);     /* any; VX_NULL if unset */
vx_value *vx_payload_date(const vx_payload *p);       /* VX_DATETIME or VX_NULL */

/* Setters steal `v`. filt/replyFilt need a dict, tuples a list, date a
 * datetime or null; a wrong type is VX_E_FIELD_TYPE and `v` is released. */
int vx_payload_set_filt_new(vx_payload *p, vx_value *v);
int vx_payload_set_reply_filt_new(vx_payload *p, vx_value *v);
int vx_payload_set_tuples_new(vx_payload *p, vx_value *v);
int vx_payload_set_result_new(vx_payload *p, vx_value *v);
int vx_payload_set_date_new(vx_payload *p, vx_value *v);

/* PROTOCOL §3.2: filt empty or only hello keys, replyFilt empty, tuples
 * empty and result null. Empty payloads are never routed. */
bool vx_payload_is_empty(const vx_payload *p);

/* NEW deep copy. */
vx_payload *vx_payload_copy(const vx_payload *p);

/* A strictly increasing "now" for payload dates (1 µs steps when the clock
 * has not moved). Thread-safe. */
int64_t vx_payload_next_date_us(void);

#ifdef __cplusplus
}
#endif
#endif
