/* The seam between the node and its transports (private).
 *
 * A transport (HTTP long-poll response, WebSocket, pipe, client link) owns
 * its sockets and framing and knows nothing of payloads. It presents each
 * open downstream to the node as a vx_conn with two operations, and reports
 * what happens to it through the vx_node_conn_* calls below. The node owns
 * the remote vortexes, their pending queues, routing, heartbeats and
 * counters. */
#ifndef VX_NODE_CONN_H
#define VX_NODE_CONN_H

#include <stdint.h>
#include <vortexc/node.h>

/* One encoded msg (no delimiter, no framing), immutable once made and shared
 * by every connection it is sent to: a broadcast encodes once. Reference
 * counted; loop thread only. */
typedef struct vx_msgbuf {
    uint32_t refcount;
    bool heartbeat; /* heartbeat or hello: never queued for later delivery (§9.5) */
    size_t len;
    char data[];
} vx_msgbuf;

vx_msgbuf *vx_msgbuf_new(const char *data, size_t len); /* NEW, refcount 1 */
vx_msgbuf *vx_msgbuf_incref(vx_msgbuf *m);
void vx_msgbuf_decref(vx_msgbuf *m);

/* Why a connection is being ended by the node. */
typedef enum vx_close_why {
    VX_CLOSE_TAKEOVER, /* HTTP: terminating chunk; WS: 1000 "replaced" */
    VX_CLOSE_SHUTDOWN, /* HTTP: terminating chunk; WS: 1001 "shutdown" */
    VX_CLOSE_SLOW,     /* §12: HTTP: end + close TCP; WS: 4008 "slow" */
    /* vx_node_free: close the TCP connection now, with no clean end. Also
     * sent to a conn whose graceful end (TAKEOVER/SHUTDOWN) is still under
     * way (e.g. a client that stopped reading): the transport must then cut
     * it short, so that every conn reports closed and the node is freed. */
    VX_CLOSE_ABORT,
} vx_close_why;

typedef struct vx_conn vx_conn;

typedef struct vx_conn_ops {
    /* Queue one msg for the peer, taking a reference. The transport frames it
     * (HTTP: msg + '.' as one chunk; WS: one text frame) and writes it in
     * order. If accepting it would push the bytes queued but not yet handed
     * to the kernel past opts.out_queue_max (a single msg is always accepted
     * into an empty queue), return VX_E_QUEUE_FULL without taking it: the
     * node then counts the slow consumer and calls close(VX_CLOSE_SLOW).
     * Except a VX_TRANSPORT_CLIENT conn (§11): its VX_E_QUEUE_FULL or
     * VX_E_NOMEM refuses that msg only; the node returns the code to the
     * caller of the send and keeps the conn. */
    int (*send)(vx_conn *c, vx_msgbuf *m);
    /* End the connection. Never re-entrant into the node: the transport
     * reports the end later (or now) through vx_node_conn_closed. Called at
     * most once per reason; a later VX_CLOSE_ABORT may follow any other. */
    void (*close)(vx_conn *c, vx_close_why why);
} vx_conn_ops;

/* Embedded in each transport's own connection struct. The transport fills
 * ops, kind and peer before vx_node_conn_open; the node owns the rest. */
struct vx_conn {
    const vx_conn_ops *ops;
    vx_transport_kind kind;
    char peer[64];            /* "ip:port" */
    struct vx_remote *remote; /* set by the node while attached */
    uint64_t last_send_ms;    /* loop time of the last item queued (heartbeat rule) */
    uint64_t last_recv_ms;    /* loop time of the last item received (liveness) */
    /* Node-private: set by vx_node_conn_open; transports never touch them. */
    struct vx_conn *node_prev, *node_next; /* the node's list of open conns */
    uint32_t node_flags;
    /* Set by a TLS transport: the verified client certificate's subject
     * (vx_route_ctx.peer_identity), owned by the transport, valid while the
     * conn lives; NULL without one. */
    const char *peer_identity;
};

/* ---- transport -> node --------------------------------------------------- */

/* A new downstream for the remote vortex `uuid` (§9.4 steps 1-4, §10.1):
 * takes over any current connection of that uuid (HTTP: its unsent msgs move
 * to the front of the pending queue; WS: closed 1000 "replaced"), registers
 * `c`, updates the name, queues the node's hello, then the pending msgs.
 * Both strings are copied. 0, or VX_E_CLOSED while shutting down (the
 * transport answers 503 / closes 1001). */
int vx_node_conn_open(vx_node *node, vx_conn *c, const char *uuid, const char *name);

/* One received item (without its '.' or frame): len 0 is a bare-dot
 * heartbeat (liveness only). Decoded with the node's codec and routed in
 * receive order with the sender's remote as reply target; a decode failure
 * is counted and logged and affects nothing else (§6.3). */
void vx_node_conn_item(vx_node *node, vx_conn *c, const char *msg, size_t len);

/* One received item the transport had to abandon before it could be
 * decoded: `code` is a negative VX_E_* code, so far only VX_E_MSG_TOO_BIG
 * (a '.'-delimited item that grew past max_msg_bytes, §2.3). Counted with
 * the decode errors (decode_errors_total{code=...}) and logged like them
 * (rate-limited, §6.3); it counts as received (liveness) and affects
 * nothing else. */
void vx_node_conn_item_error(vx_node *node, vx_conn *c, int code);

/* The connection has ended, for any reason (peer gone, write error, the
 * node's close, slow consumer). `unsent` are the msgs (in order) queued by
 * send() and not fully handed to the kernel; the node takes over their
 * references: for HTTP they go to the front of the pending queue and the
 * remote becomes detached (§9.6); for WS they are dropped and the remote is
 * forgotten (§10.3). After this call the node never touches `c` again. */
void vx_node_conn_closed(vx_node *node, vx_conn *c, vx_msgbuf **unsent, size_t n_unsent);

/* Why the peer behind `c` is going away, in words ("child process exited
 * with status 3"): requests still waiting for a reply from it fail with
 * this text when its remote is forgotten. Call before vx_node_conn_closed;
 * copied; ignored for a conn not registered. */
void vx_node_conn_gone_reason(vx_node *node, vx_conn *c, const char *reason);

/* Whether the node is shutting down (new POSTs get 503). */
bool vx_node_shutting_down(const vx_node *node);

/* Counters the transports bump (names as in the /metrics text). */
typedef enum vx_counter {
    VX_CTR_HTTP_REQUESTS,
    VX_CTR_HTTP_ERRORS, /* 4xx/5xx answers */
    VX_CTR_WS_PROTOCOL_ERRORS,
    VX_CTR_BYTES_IN,
    VX_CTR_BYTES_OUT,
    VX_CTR_TLS_HANDSHAKE_ERRORS,
    VX_CTR__COUNT
} vx_counter;
void vx_node_count(vx_node *node, vx_counter which, uint64_t n);

/* ---- node -> transports: the listener ----------------------------------- */

/* Implemented by src/transport/http_server.c: start listening for `node`
 * (HTTP + WS + static + /health + /metrics on one port). The node keeps the
 * returned handle and closes it with vx_server_close. */
typedef struct vx_server vx_server;
int vx_server_start(vx_node *node, const vx_listen_opts *opts, vx_server **out,
                    vx_error *err);
int vx_server_port(const vx_server *s);
/* Stop accepting; connections already attached are ended by the node. */
void vx_server_close(vx_server *s);

#endif
