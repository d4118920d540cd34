/* The client: a local vx_node attached to a remote vortex server
 * (PROTOCOL.md §9.7 HTTP long-poll, §10.5 WebSocket, §11 liveness and
 * reconnect).
 *
 * A vx_client presents the server to its node as ONE remote vortex that stays
 * known across reconnects: once the first server hello has arrived, the
 * application sends to the server with vx_node_send_uuid(node,
 * vx_client_server_uuid(c), ...) or vx_node_request(node, NULL, ...), and
 * payloads from the server are routed by the node's router. The client keeps
 * the node's uuid and name, so the server can hand over its pending queue
 * after a reconnect (§9.6).
 *
 * Msgs not yet handed to the transport wait in a bounded send queue (§11):
 * they survive reconnects and are sent once, in order. The connection is
 * watched by a dead timer and re-established with jittered exponential
 * backoff.
 *
 * Loop thread only, like the node. */
#ifndef VORTEXC_CLIENT_H
#define VORTEXC_CLIENT_H

#include "node.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vx_client vx_client;

/* Limits and timers of PROTOCOL §1.3 / §11; vx_client_opts_init() fills in
 * the defaults. Times are in seconds. */
typedef struct vx_client_opts {
    double dead_after;      /* 15: no item for this long = server dead; also the
                               longest wait for the hello of an attempt */
    double backoff_initial; /* 0.5: b of the first retry */
    double backoff_max;     /* 15: cap of b */
    size_t send_queue_max;  /* 8 MiB: msgs (+1 byte each) not yet handed over */
    uint64_t rng_seed;      /* jitter; 0 = seeded from the OS (tests fix it) */
    /* TLS, for https:// and wss:// URLs (ignored otherwise). The server
     * certificate is checked against the CA store and the host name. */
    const char *tls_ca_file;     /* PEM CA file; NULL = the system store */
    bool tls_insecure;           /* no certificate checks at all: tests only */
    const char *tls_cert_file;   /* client certificate (mTLS), PEM; NULL = none */
    const char *tls_key_file;    /* its key; NULL = inside tls_cert_file */
    const char *tls_server_name; /* name sent (SNI) and checked; NULL = the URL host */
} vx_client_opts;

void vx_client_opts_init(vx_client_opts *opts);

/* NEW client of `node` (BORROWED; must outlive the client or be shut down
 * first) for `url`:
 *   http://host[:port][/path][?query]   HTTP long-poll, path default /vortex
 *   ws://host[:port][/path][?query]     WebSocket, path default /vortexws
 *   https://... and wss://...           the same over TLS (1.2 or later)
 * host may be a name, an IPv4 address or [IPv6]; port defaults to 80 (443
 * for https/wss). An extra query is sent after vortexUuid and vortexName. A
 * malformed URL is VX_E_INVAL naming the part; an unreadable TLS file is
 * VX_E_TLS naming it. A failed TLS handshake (untrusted, expired or
 * self-signed certificate, host name mismatch) is a failed attempt like any
 * other: vx_client_last_error() gives OpenSSL's reason and the client retries
 * with backoff. The first connection attempt starts at once
 * (asynchronously); `opts` NULL = defaults. NULL with `err` filled on
 * failure. The option strings are copied. */
vx_client *vx_client_new(vx_node *node, const char *url, const vx_client_opts *opts,
                         vx_error *err);

/* Disconnect (no clean close handshake), tell the node the remote is gone,
 * drop queued msgs and free the client. Safe to call from any callback,
 * including an endpoint or state callback of this client; the memory is
 * released once the loop has closed the client's handles. NULL is a no-op. */
void vx_client_free(vx_client *c);

/* Register a payload (BORROWED; encoded now with the node's codec options)
 * sent on every successful connect and reconnect, in registration order,
 * before the queued msgs (vortexpy's addReconnectPayload). Encode errors as
 * vx_codec_encode; VX_E_NOMEM. */
int vx_client_add_reconnect_payload(vx_client *c, const vx_payload *p, vx_error *err);

/* Queue `p` (BORROWED; encoded now) for the server. Unlike the node's send
 * calls this also works before the first hello. VX_E_QUEUE_FULL when the
 * queue would exceed send_queue_max (the queue is kept); VX_E_CLOSED after
 * the node shut the client down; encode errors as vx_codec_encode. */
int vx_client_send(vx_client *c, const vx_payload *p, vx_error *err);

/* Online changes: called with true when a connection delivers its hello and
 * with false when it dies or closes. A subscriber learns the current state at
 * once (called from inside vx_client_on_state). 0 or VX_E_NOMEM. */
typedef void (*vx_client_state_fn)(void *data, bool online);
int vx_client_on_state(vx_client *c, vx_client_state_fn fn, void *data);
/* Remove the first subscriber registered with this fn and data. */
void vx_client_off_state(vx_client *c, vx_client_state_fn fn, void *data);

bool vx_client_online(const vx_client *c);
/* BORROWED uuid / name of the server from its latest hello; NULL before the
 * first hello. Valid until the next hello or vx_client_free. */
const char *vx_client_server_uuid(const vx_client *c);
const char *vx_client_server_name(const vx_client *c);
/* Bytes (msg + 1 each) accepted but not yet handed to the transport. */
size_t vx_client_queued_bytes(const vx_client *c);
/* BORROWED one-line reason of the latest failed attempt or connection loss
 * ("cannot resolve host 'x': ...", "HTTP status 503", "server dead after
 * 15 s without an item from the server", "TLS handshake with h:443 failed:
 * certificate verify failed: certificate has expired"); NULL if none yet. */
const char *vx_client_last_error(const vx_client *c);

#ifdef __cplusplus
}
#endif
#endif
