/* The node: a local vortex on a libuv loop (PROTOCOL.md §9-§15).
 *
 * A vx_node has a uuid and a name, owns a router and a codec, and keeps the
 * remote vortexes that reach it over its listeners (HTTP long-poll and
 * WebSocket on one port) or its client connections. Received msgs are
 * decoded and routed in receive order; endpoints answer through the reply
 * function of their vx_route_ctx. Sends encode a payload once and share the
 * bytes with every receiving connection.
 *
 * Everything here runs on the node's loop thread: call these functions from
 * that thread only (libuv's rule). */
#ifndef VORTEXC_NODE_H
#define VORTEXC_NODE_H

#include <uv.h>

#include "codec.h"
#include "router.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vx_node vx_node;

/* Every limit and timer of PROTOCOL §1.3 that a node uses, with its
 * default; vx_node_opts_init() fills them in. Times are in seconds. */
typedef struct vx_node_opts {
    const char *name;            /* this vortex's name; default "vortexc" */
    const char *uuid;            /* NULL = a fresh RFC 9562 v4 uuid */
    vx_codec_opts codec;         /* msg limits, zlib level, strict, registry */
    double heartbeat_period;     /* 5: an item at least this often on each stream */
    double http_session_timeout; /* 35: a detached HTTP remote is forgotten after */
    size_t http_pending_max;     /* 8 MiB: a detached HTTP remote's pending bytes */
    size_t out_queue_max;        /* 4 MiB: per connection, else slow consumer */
    size_t max_http_body;        /* 32 MiB: one POST body, else 413 */
    size_t max_http_header;      /* 16 KiB: request line + headers, else 431 */
    double http_head_timeout;    /* 10: a request head must be complete by then
                                    (slowloris), else the connection is closed */
    double http_idle_timeout;    /* 60: an idle keep-alive connection is closed */
    double ws_ping_after;        /* 30: PING after this much receive silence; 0 = off */
    double ws_dead_after;        /* 30: then drop if still silent */
    double response_timeout;     /* 30: vx_node_request default */
} vx_node_opts;

void vx_node_opts_init(vx_node_opts *opts);

/* NEW node on `loop`. The options (and the strings they point to) are
 * copied. NULL with `err` filled on failure (VX_E_INVAL for a NULL loop, or for
 * codec limits the node's own hello does not fit in). */
vx_node *vx_node_new(uv_loop_t *loop, const vx_node_opts *opts, vx_error *err);

/* Close every listener and connection at once (no clean stream ends; use
 * vx_node_shutdown first for that), then free the node once libuv has
 * released its handles: the loop must run again for the memory to be freed.
 * Safe to call from a callback. */
void vx_node_free(vx_node *node);

const char *vx_node_uuid(const vx_node *node);
const char *vx_node_name(const vx_node *node);
uv_loop_t *vx_node_loop(const vx_node *node);
/* BORROWED router: register endpoints here. */
vx_router *vx_node_router(vx_node *node);
/* BORROWED options in force (registry, limits). */
const vx_node_opts *vx_node_options(const vx_node *node);

/* ---- listening (server side) ------------------------------------------ */

typedef struct vx_listen_opts {
    const char *host;           /* "127.0.0.1" */
    int port;                   /* 0 = any free port (see vx_node_port) */
    const char *http_path;      /* "/vortex" */
    const char *ws_path;        /* "/vortexws" */
    const char *static_dir;     /* NULL = no static files */
    const char *const *origins; /* WebSocket Origin allow-list; NULL = any */
    size_t n_origins;
    /* TLS (https + wss on this port only): set tls_cert_file and the
     * listener speaks nothing but TLS 1.2+. */
    const char *tls_cert_file; /* PEM certificate, chain allowed; NULL = plain */
    const char *tls_key_file;  /* PEM private key; NULL = inside tls_cert_file */
    const char *tls_ca_file;   /* CA that signs client certificates; NULL = none
                                  asked. A client certificate that does not verify
                                  fails the handshake. */
    bool tls_verify_client;    /* require a client certificate (needs tls_ca_file) */
} vx_listen_opts;

void vx_listen_opts_init(vx_listen_opts *opts);

/* Listen for HTTP long-poll, WebSocket, static files, /health and /metrics
 * on one TCP port. 0 or VX_E_IO (address in use...); VX_E_TLS naming the
 * file and OpenSSL's reason for a bad TLS certificate, key or CA file. A
 * failed TLS handshake closes that connection only (counted in
 * tls_handshake_errors_total, logged at most a few lines per second); one
 * stalled mid-handshake is closed by http_head_timeout. */
int vx_node_listen(vx_node *node, const vx_listen_opts *opts, vx_error *err);
/* The port actually bound by the last vx_node_listen, or -1. */
int vx_node_port(const vx_node *node);

/* Clean shutdown: stop accepting, answer new POSTs with 503, end every HTTP
 * stream with its terminating chunk and close every WebSocket with 1001
 * "shutdown", after the data already queued has been written (bounded by
 * a few seconds). Calls `done` once, then the node may be freed. */
void vx_node_shutdown(vx_node *node, void (*done)(void *data), void *data);

/* ---- remote vortexes and sending (§15) --------------------------------- */

typedef enum vx_transport_kind {
    VX_TRANSPORT_HTTP,
    VX_TRANSPORT_WS,
    VX_TRANSPORT_PIPE,
    VX_TRANSPORT_CLIENT, /* a server this node connected to as a client */
} vx_transport_kind;

typedef struct vx_remote_info {
    const char *uuid;
    const char *name;
    vx_transport_kind transport;
    const char *peer; /* "ip:port" of the current or last connection */
    bool connected;   /* false: an HTTP remote between POSTs (detached) */
    /* Subject of the verified TLS client certificate of the current
     * connection as one RFC 2253 line ("CN=alice,O=Example"); NULL without
     * one (plain, no client certificate, or detached). */
    const char *peer_identity;
} vx_remote_info;

/* Called when a remote vortex appears (joined = true) or is forgotten. */
typedef void (*vx_remote_fn)(void *data, const vx_remote_info *remote, bool joined);
void vx_node_on_remote(vx_node *node, vx_remote_fn fn, void *data);
/* More listeners besides the vx_node_on_remote one (handlers, hubs...):
 * called after it, in the order added. Adding the same (fn, data) twice
 * adds it twice; removing removes one. A listener removed from inside a
 * listener is not called again, one added there is first called for the
 * next event. 0 or VX_E_NOMEM. */
int vx_node_add_remote_listener(vx_node *node, vx_remote_fn fn, void *data);
void vx_node_remove_remote_listener(vx_node *node, vx_remote_fn fn, void *data);

/* Number of remote vortexes (connected plus detached HTTP). */
size_t vx_node_remote_count(const vx_node *node);
/* Whether `uuid` is a remote vortex the node knows now (a send target). */
bool vx_node_has_remote(const vx_node *node, const char *uuid);

/* Send `p` (BORROWED; encoded once) to the remote vortex with this uuid, to
 * every remote with this name, or to all. A send to the node's own uuid or
 * name routes locally. VX_E_NO_SUCH_VORTEX when a uuid or name matches no
 * target (nothing is queued); encode errors as vx_msg_encode. */
int vx_node_send_uuid(vx_node *node, const char *uuid, const vx_payload *p, vx_error *err);
int vx_node_send_name(vx_node *node, const char *name, const vx_payload *p, vx_error *err);
int vx_node_broadcast(vx_node *node, const vx_payload *p, vx_error *err);
/* Send `p` (encoded once) to each listed uuid that is a target (§15; the
 * node's own uuid routes locally); uuids that match no target are skipped.
 * *sent (optional) counts the targets it was queued for. The strings are
 * read only before the first delivery. Returns 0, an encode error (nothing
 * sent), or the first refusal of a client's full send queue (the others
 * still got it). */
int vx_node_send_uuids(vx_node *node, const char *const *uuids, size_t n,
                       const vx_payload *p, size_t *sent, vx_error *err);

/* ---- request / response (§13) ------------------------------------------ */

typedef enum vx_request_status {
    VX_REQUEST_SUCCESS,
    VX_REQUEST_FAILED,    /* reply result was an error (VX_E_REMOTE) or send failed */
    VX_REQUEST_TIMED_OUT, /* VX_E_TIMEOUT */
} vx_request_status;

/* `reply` is BORROWED (NULL unless a reply arrived); `err` explains a
 * failure. Called exactly once per successful vx_node_request. */
typedef void (*vx_response_fn)(void *data, vx_request_status status, vx_payload *reply,
                               const vx_error *err);

typedef struct vx_request_opts {
    double timeout;       /* seconds; 0 = the node's response_timeout */
    bool no_result_check; /* accept any reply result as success */
} vx_request_opts;

/* Send `request` (BORROWED; its filt must have "key") to the remote with
 * `target_uuid` (NULL: the only remote, e.g. a client's server) with a
 * fresh "PayloadResponse.messageId", and call `fn` with the first reply
 * carrying the same filt, or on timeout. The one-shot endpoint is removed
 * either way. Returns an error (and never calls `fn`) when the request
 * cannot be sent. */
int vx_node_request(vx_node *node, const char *target_uuid, const vx_payload *request,
                    const vx_request_opts *opts, vx_response_fn fn, void *data,
                    vx_error *err);

/* ---- metrics ------------------------------------------------------------ */

/* Append every counter in the Prometheus text format (what GET /metrics
 * serves): connections by transport, msgs and bytes in/out, decode errors
 * by code, slow-consumer closes, pending overflows, session expiries, msgs
 * dropped for forgotten remotes. */
int vx_node_metrics_text(const vx_node *node, vx_buf *out);

#ifdef __cplusplus
}
#endif
#endif
