/* Private parts of the client (include/vortexc/client.h): URL parsing,
 * backoff, the send queue, the client struct and the seam between the client
 * core (client.c) and its two transports (http_client.c, ws_client.c). */
#ifndef VX_CLIENT_IMPL_H
#define VX_CLIENT_IMPL_H

#include <vortexc/client.h>

#include "node/conn.h"

/* ---- URL (url.c) --------------------------------------------------------- */

typedef enum vx_url_scheme { VX_URL_HTTP, VX_URL_WS } vx_url_scheme;

typedef struct vx_client_url {
    vx_url_scheme scheme;
    char host[256]; /* without the brackets of an IPv6 literal */
    int port;
    char path[1024];  /* starts with '/'; scheme default when the URL has none */
    char query[1024]; /* extra query without '?', may be empty */
    bool tls;         /* https:// or wss:// */
} vx_client_url;

/* Parse a client URL (see vx_client_new). VX_E_INVAL naming the part. */
int vx_client_url_parse(const char *url, vx_client_url *out, vx_error *err);

/* Append the request target "path?vortexUuid=U&vortexName=N[&query]" with
 * uuid and name percent-encoded. 0 or VX_E_NOMEM. */
int vx_client_url_target(const vx_client_url *u, const char *uuid, const char *name,
                         vx_buf *out);

/* ---- backoff (backoff.c) ------------------------------------------------- */

/* splitmix64: small, seedable, good enough for jitter (not for secrets). */
uint64_t vx_rng_next(uint64_t *state);
/* Uniform in [0, 1]. */
double vx_rng_uniform(uint64_t *state);
/* b = min(max, initial * 2^(n-1)) for retry n >= 1 (§11). */
double vx_backoff_bound(double initial, double max, unsigned n);
/* Delay before retry n: uniform in [b/2, b]. */
double vx_backoff_delay(double initial, double max, unsigned n, uint64_t *rng);

/* ---- send queue (sendq.c) ------------------------------------------------ */

/* Msgs accepted for the server and not yet handed to a transport, in order.
 * `bytes` counts each msg plus its '.'. */
typedef struct vx_sendq {
    vx_msgbuf **items; /* ring buffer */
    size_t head, count, cap;
    size_t bytes;
} vx_sendq;

/* Append `m`, taking a new reference, unless the queue bytes plus `busy`
 * (bytes already taken by a transport but not yet handed over) plus this msg
 * would exceed `max`; a msg is always accepted when both are zero. 0,
 * VX_E_QUEUE_FULL (queue unchanged) or VX_E_NOMEM. */
int vx_sendq_push(vx_sendq *q, vx_msgbuf *m, size_t max, size_t busy);
/* Put msgs back at the front in their order, stealing the references
 * (a failed hand-over; never refused for size). 0 or VX_E_NOMEM (then the
 * references are released: the msgs are lost). */
int vx_sendq_push_front(vx_sendq *q, vx_msgbuf **ms, size_t n);
/* Remove and return the oldest msg (the caller owns its reference), or NULL. */
vx_msgbuf *vx_sendq_pop(vx_sendq *q);
void vx_sendq_clear(vx_sendq *q);

/* ---- the client ---------------------------------------------------------- */

typedef struct vx_ctransport vx_ctransport;

/* One transport session (a chain of POSTs, or one WebSocket). */
typedef struct vx_ctransport_vt {
    const char *name;
    /* Connect to `addr` and start sending: reconnect payloads first, then
     * the queue (taken with vx_client__take). Sets c->t on success. */
    int (*start)(vx_client *c, const struct sockaddr *addr, vx_error *err);
    /* New msgs are in the queue. */
    void (*kick)(vx_ctransport *t);
    /* Abandon at once: msgs not handed over go back to the front of the
     * queue; the transport never calls the client again and frees itself
     * once its handles are closed. */
    void (*abort)(vx_ctransport *t);
} vx_ctransport_vt;

struct vx_ctransport {
    vx_client *client; /* NULL once abandoned */
};

extern const vx_ctransport_vt vx_http_client_vt;
extern const vx_ctransport_vt vx_ws_client_vt;

typedef struct vx_state_sub {
    vx_client_state_fn fn;
    void *data;
} vx_state_sub;

struct vx_client {
    vx_conn conn; /* the node's view: one remote for the whole client life */
    vx_node *node;
    uv_loop_t *loop;
    vx_codec *codec; /* the node's codec options: hellos, reconnect payloads */
    vx_client_url url;
    vx_client_opts opts;
    const vx_ctransport_vt *vt;
    vx_buf target; /* request target with our identity (§9.1, §10.1) */
    vx_sendq queue;
    size_t busy_bytes; /* taken by the transport, not yet handed over */
    vx_msgbuf **reconnect;
    size_t n_reconnect;
    vx_state_sub *subs;
    size_t n_subs;
    uv_timer_t dead_timer, retry_timer;
    int open_handles;
    uint64_t rng;
    unsigned retries; /* n of §11: failed attempts since the last hello */
    bool online;
    bool conn_opened; /* vx_node_conn_open done and not closed */
    bool stopped;     /* the node shut us down: no more attempts */
    bool freeing;
    char *server_uuid, *server_name;
    struct vx_resolve *resolving;
    vx_ctransport *t; /* current session, NULL between attempts */
    char last_error[VX_ERROR_MESSAGE_MAX];
    struct vx_tls_ctx *tls; /* https/wss: shared by the sessions' connections */
    char *tls_host;         /* name checked and sent as SNI */
};

/* Transport -> client. `stream_hello` is the stream's own "hello seen"
 * flag: the first items of a stream are checked for the server hello. The
 * item then goes to the node. Afterwards the transport must check that
 * t->client is still set (callbacks may free the client). */
void vx_client__item(vx_client *c, const char *msg, size_t len, bool *stream_hello);
/* The transport abandoned an item (`code` < 0, e.g. VX_E_MSG_TOO_BIG for a
 * stream item over max_msg_bytes, §2.3): it proves the server alive and is
 * counted by the node like a decode error. */
void vx_client__item_error(vx_client *c, int code);
/* The session failed (`why` is logged and kept as the last error): it is
 * aborted, the client goes offline and a retry is scheduled. */
void vx_client__failed(vx_client *c, const char *why);
/* Take the oldest queued msg for transmission (counted busy until
 * vx_client__handed or vx_client__requeue), or NULL. */
vx_msgbuf *vx_client__take(vx_client *c);
/* `bytes` (msg + 1 each) of taken msgs were handed over. */
void vx_client__handed(vx_client *c, size_t bytes);
/* Taken msgs were not handed over: back to the front, in order (steals). */
void vx_client__requeue(vx_client *c, vx_msgbuf **ms, size_t n, size_t bytes);

#endif
