/* Private parts of the node (PROTOCOL.md §9-§15), shared by the sources in src/node and
 * the node's unit test. Nothing outside src/node and tests may include this.
 *
 * Lifetimes. The node, each remote and each request own uv handles; memory
 * is freed only in close callbacks. node->n_handles counts handles not yet
 * closed and node->n_conns transport conns not yet reported closed; the node
 * itself is freed once vx_node_free was called and both reach zero.
 *
 * Re-entrancy. A transport's close() may report vx_node_conn_closed before
 * it returns, and user callbacks (endpoints, on_remote) may call anything.
 * So state is made consistent before each such call, remotes are reference
 * counted (the table holds one reference, each registered conn one, and any
 * code that calls out while using a remote holds one), and no vx_conn is
 * touched after its close() was called. */
#ifndef VX_NODE_IMPL_H
#define VX_NODE_IMPL_H

#include <stdio.h>

#include "node/conn.h"

/* vx_conn.node_flags */
enum {
    VXN_CONN_CLOSING = 1u << 0,  /* the node called close(); why in the bits below */
    VXN_CONN_DRAINING = 1u << 1, /* counted in remote->n_draining */
    VXN_CONN_WHY_SHIFT = 4,      /* (why + 1) << shift when CLOSING */
};

/* A FIFO of msgbufs (ring buffer) that can also take msgs at its front. */
typedef struct vxn_queue {
    vx_msgbuf **items;
    size_t head, len, cap;
    size_t bytes; /* sum of len + 1 (the '.') over the items */
} vxn_queue;

typedef struct vx_remote {
    vx_node *node;
    char *uuid;
    char *name;
    vx_transport_kind kind; /* of the latest conn */
    char peer[64];
    vx_conn *conn; /* attached conn accepting sends; NULL while detached/closing */
    /* Conns the node closed (takeover, slow) whose unsent msgs have not come
     * back yet. While non-zero, msgs wait in `pending` so that they follow
     * the unsent ones (§9.4: none is written to a new response before all
     * msgs handed to the previous one). */
    unsigned n_draining;
    vxn_queue pending;
    uv_timer_t session_timer; /* http_session_timeout while detached */
    uint32_t refs;
    bool forgotten;
    struct vx_remote *hash_next;
    struct vx_remote *prev, *next; /* the node's list, for iteration */
    /* Why it went away, from its transport (vx_node_conn_gone_reason), for
     * the requests that fail when it is forgotten; NULL: "went away". */
    char *gone_reason;
} vx_remote;

typedef struct vxn_request vxn_request;

/* Counters not bumped by transports. */
typedef enum vxn_drop_reason {
    VXN_DROP_SESSION_EXPIRED,
    VXN_DROP_PENDING_OVERFLOW,
    VXN_DROP_CONNECTION_CLOSED, /* WS/pipe/client conn gone, or its remote forgotten */
    VXN_DROP_SLOW_CONSUMER,     /* the msg a non-HTTP slow conn refused */
    VXN_DROP_SHUTDOWN,
    VXN_DROP__COUNT
} vxn_drop_reason;

#define VXN_MAX_CODE    64 /* decode error codes are -1..-63 */
#define VXN_MAX_SERVERS 8

/* One vx_node_add_remote_listener entry. */
struct vxn_listener {
    vx_remote_fn fn;
    void *data;
};

struct vx_node {
    uv_loop_t *loop;
    vx_node_opts opts; /* strings below are our copies */
    char *uuid;
    char *name;
    vx_router *router;
    vx_codec *codec;
    vx_buf scratch; /* encode buffer, reused */

    /* remotes: chained hash by uuid + list */
    vx_remote **slots;
    size_t n_slots, n_remotes;
    vx_remote *remotes_head, *remotes_tail;
    vx_remote_fn on_remote;
    void *on_remote_data;

    /* open transport conns (registered and not yet reported closed) */
    vx_conn *conns_head;
    size_t n_conns;
    size_t n_conns_by_kind[4];

    uv_timer_t heartbeat_timer;
    uv_idle_t local_idle; /* delivers msgs sent to ourselves, one loop turn later */
    vxn_queue local;
    uv_timer_t shutdown_timer;

    vxn_request *requests; /* outstanding, doubly linked */
    size_t n_requests;

    vx_server *servers[VXN_MAX_SERVERS];
    size_t n_servers;
    int port;

    bool shutting_down, freeing, last_handle_closing;
    void (*shutdown_done)(void *data);
    void *shutdown_data;
    unsigned n_handles;

    /* rate limit for stderr logging: a budget of lines per second */
    uint64_t log_window_ms;
    unsigned log_lines, log_suppressed;

    /* counters (metrics.c) */
    uint64_t ctr[VX_CTR__COUNT];
    uint64_t msgs_in, msgs_out, heartbeats_out;
    uint64_t decode_errors[VXN_MAX_CODE];
    uint64_t slow_closes, pending_overflows, session_expiries;
    uint64_t dropped[VXN_DROP__COUNT];

    /* vx_node_add_remote_listener: called after on_remote. Entries removed
     * while notifying (notify_depth > 0) get fn = NULL and are compacted
     * after the outermost notification. */
    struct vxn_listener *listeners;
    size_t n_listeners, cap_listeners;
    unsigned notify_depth;
};

/* ---- node.c ---- */
void vxn_handle_closed(uv_handle_t *h); /* close callback for node-counted handles */
void vxn_maybe_finish(vx_node *node);
void vxn_free_when_idle(vx_node *node); /* once freeing and no conn is left */
void vxn_shutdown_check(vx_node *node);

/* ---- queue.c ---- */
int vxn_queue_push_back(vxn_queue *q, vx_msgbuf *m);  /* steals m */
int vxn_queue_push_front(vxn_queue *q, vx_msgbuf *m); /* steals m */
vx_msgbuf *vxn_queue_front(const vxn_queue *q);
vx_msgbuf *vxn_queue_pop_front(vxn_queue *q); /* NEW reference (the queue's) */
/* Decref every item; returns how many were dropped. */
size_t vxn_queue_clear(vxn_queue *q);
void vxn_queue_free(vxn_queue *q);

/* ---- remote.c ---- */
vx_remote *vxn_remote_find(const vx_node *node, const char *uuid);
vx_remote *vxn_remote_add(vx_node *node, const char *uuid, const char *name,
                          vx_transport_kind kind, const char *peer);
void vxn_remote_ref(vx_remote *r);
void vxn_remote_unref(vx_node *node, vx_remote *r);
/* Remove from the table, drop its pending msgs (counted as `why`), close its
 * attached conn (if any) and tell on_remote. */
void vxn_remote_forget(vx_node *node, vx_remote *r, vxn_drop_reason why);
/* Append a msg for a remote that cannot take it now (detached or draining),
 * under the http_pending_max overflow rule. Takes a reference of its own. */
void vxn_pending_append(vx_node *node, vx_remote *r, vx_msgbuf *m);
/* Put msgs a closed conn did not hand over (steals them) at the front of
 * the pending queue, in order; heartbeats and hellos are dropped. `bounded`:
 * apply the overflow rule. */
void vxn_pending_requeue(vx_node *node, vx_remote *r, vx_msgbuf **unsent, size_t n,
                         bool bounded);
/* Send pending msgs to the attached conn while it accepts them. */
void vxn_pending_flush(vx_node *node, vx_remote *r);
void vxn_session_start(vx_node *node, vx_remote *r);
void vxn_remote_info(const vx_remote *r, vx_remote_info *info);
void vxn_notify_remote(vx_node *node, vx_remote *r, bool joined);
/* Drop every remote without callbacks (vx_node_free). */
void vxn_remotes_release_all(vx_node *node);

/* ---- conn.c ---- */
/* Whether a send error of a `kind` conn is a refusal of that one msg that
 * leaves the conn open: a client's bounded send queue (§11) refuses a msg
 * and keeps both itself and the connection, and the caller of the send
 * learns it. Any other failure ends the conn (§12). */
static inline bool vxn_send_refused(vx_transport_kind kind, int rc) {
    return kind == VX_TRANSPORT_CLIENT && (rc == VX_E_QUEUE_FULL || rc == VX_E_NOMEM);
}
/* Hand `m` to the remote's attached conn. 0; or an error the conn refused
 * `m` with, keeping the conn (vxn_send_refused); or VX_E_QUEUE_FULL (or
 * another error) after the slow-consumer rule has fired (the conn is being
 * closed). Either way `m` was not taken. */
int vxn_conn_send(vx_node *node, vx_remote *r, vx_msgbuf *m);
/* After a conn came or went: flush pending to the attached conn, or start
 * the session timer (HTTP), or forget the remote (WS, pipe, client). */
void vxn_settle(vx_node *node, vx_remote *r);
/* Mark `c` closing for `why`, detach it from its remote and call its close(). */
void vxn_conn_close(vx_node *node, vx_conn *c, vx_close_why why);

/* ---- send.c ---- */
/* Encode once into a NEW msgbuf. */
int vxn_encode(vx_node *node, const vx_payload *p, vx_msgbuf **out, vx_error *err);
/* Deliver to one remote: attached conn, else pending (HTTP), else dropped.
 * 0, or the error a client conn refused `m` with (vxn_send_refused: not
 * delivered, nothing else changed). */
int vxn_deliver(vx_node *node, vx_remote *r, vx_msgbuf *m);
int vxn_local_enqueue(vx_node *node, vx_msgbuf *m); /* takes its own reference */
void vxn_local_drain(uv_idle_t *h);
/* Send by uuid with an already-encoded msg (the request path). */
int vxn_send_uuid_msg(vx_node *node, const char *uuid, vx_msgbuf *m, vx_error *err);
/* Route a decoded payload from remote `r` (NULL = ourselves). */
void vxn_route(vx_node *node, vx_remote *r, vx_payload *p);
/* The same for an item received on a conn: the route ctx carries that
 * conn's verified TLS client identity (may be NULL). */
void vxn_route_from(vx_node *node, vx_remote *r, vx_payload *p, const char *peer_identity);

/* ---- request.c ---- */
void vxn_requests_cancel_all(vx_node *node);
/* Fail every outstanding request sent to `r` with VX_E_CLOSED (it was
 * forgotten: no reply can come). */
void vxn_requests_fail_target(vx_node *node, const vx_remote *r);

/* ---- metrics.c ---- */
void vxn_count_drop(vx_node *node, vxn_drop_reason why, size_t n);
/* printf-style line to stderr, at most a few per second per node. */
void vxn_log(vx_node *node, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
