/* The router (PROTOCOL.md §7): endpoints with filters, and delivery of each
 * received non-empty payload to every matching endpoint in registration
 * order. Endpoints are indexed by the canonical form of their "key" value,
 * so routing cost does not grow with endpoints listening on other keys. */
#ifndef VORTEXC_ROUTER_H
#define VORTEXC_ROUTER_H

#include "payload.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vx_router vx_router;

/* Sends `reply` back to whoever sent the payload being routed. Must not
 * keep `reply` without taking a reference. Returns 0 or a VX_E_* code. */
typedef int (*vx_reply_fn)(void *reply_data, vx_payload *reply, vx_error *err);

/* Who sent the payload being routed, and how to answer them. */
typedef struct vx_route_ctx {
    const char *sender_uuid; /* may be NULL for local sends */
    const char *sender_name;
    vx_reply_fn reply; /* NULL: replies (incl. §7.4 error replies) are dropped */
    void *reply_data;
    /* Subject of the sender's verified TLS client certificate (mTLS) as one
     * RFC 2253 line, e.g. "CN=alice,O=Example"; NULL without one. */
    const char *peer_identity;
} vx_route_ctx;

/* An endpoint callback. `payload` is BORROWED and shared with the other
 * endpoints: do not modify it; vx_payload_incref() it to keep it. Return 0,
 * or a VX_E_* code with `err` filled: the router then sends the §7.4 error
 * reply carrying err->message (unless the payload's result was non-null). */
typedef int (*vx_endpoint_fn)(void *data, vx_payload *payload, const vx_route_ctx *ctx,
                              vx_error *err);

/* Endpoint handle; never 0 for a registered endpoint. */
typedef uint64_t vx_endpoint_id;

vx_router *vx_router_new(void);
/* Frees the router and all endpoints (no callback is called). */
void vx_router_free(vx_router *r);

/* Register an endpoint. `filt` is BORROWED and deep-copied. It must be a
 * dict with "key" whose value is not a dict, tuple or payload: VX_E_NO_KEY
 * otherwise. `fn` is never called if this fails. */
int vx_router_add(vx_router *r, const vx_value *filt, vx_endpoint_fn fn, void *data,
                  vx_endpoint_id *id_out, vx_error *err);
/* Remove an endpoint, effective immediately (even during a dispatch).
 * VX_E_NOT_FOUND if unknown. */
int vx_router_remove(vx_router *r, vx_endpoint_id id);
size_t vx_router_count(const vx_router *r);

/* Deliver `p` to every matching endpoint, in registration order, once each.
 * Empty payloads and payloads whose filt has no "key" reach no endpoint.
 * Endpoints added during the dispatch do not see `p`; endpoints removed
 * during it and not yet called are not called. Callbacks may re-enter the
 * router (add, remove, dispatch). Returns the number of callbacks called
 * (>= 0) or VX_E_NOMEM. */
int vx_router_dispatch(vx_router *r, vx_payload *p, const vx_route_ctx *ctx);

/* §7.2: does an endpoint filt match a payload filt? (Both dicts.) */
bool vx_filt_matches(const vx_value *endpoint_filt, const vx_value *payload_filt);
/* §7.2's equality table for one pair of values (numbers numerically, bool
 * apart from numbers, lists as multisets, ...). */
bool vx_filt_value_equal(const vx_value *endpoint_value, const vx_value *payload_value);

/* NEW §7.4 error reply to `p`: same filt, empty replyFilt and tuples,
 * result = `message`. */
vx_payload *vx_payload_new_error_reply(const vx_payload *p, const char *message);

#ifdef __cplusplus
}
#endif
#endif
