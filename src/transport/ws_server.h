/* Server side of the WebSocket transport (PROTOCOL.md §10), private.
 *
 * The HTTP server (http_server.c) parses the upgrade request, checks it
 * (§10.1: vortexUuid/vortexName, Upgrade/Connection/Key/Version 13, Origin
 * allow-list), writes the 101 response itself, and then hands the TCP
 * connection over with vx_ws_server_start. From then on this module owns
 * the socket: RFC 6455 framing with wslay, one msg per text frame, PING/PONG,
 * fragments, close codes, heartbeats via vx_node, slow-consumer close. */
#ifndef VX_WS_SERVER_H
#define VX_WS_SERVER_H

#include <uv.h>

#include "node/conn.h"
#include "transport/tls.h"

/* Take over `tcp` (heap-allocated, already reading or not; its data pointer
 * and read callback are replaced; it is closed and freed by this module) for
 * the remote vortex `uuid`/`name` right after the 101 was queued on it.
 * `leftover` holds bytes the HTTP parser read past the request (the first
 * frames, if the client was quick); they are processed first. Registers
 * with vx_node_conn_open (which queues the hello first, §10.1). On failure
 * the connection is closed and freed, and an error returned. */
int vx_ws_server_start(vx_node *node, uv_tcp_t *tcp, const char *peer, const char *uuid,
                       const char *name, const char *leftover, size_t leftover_len);
/* The same over TLS: `tls` (the handshake done; NULL = plain) is taken over
 * with the socket, its verified peer identity goes to the vx_conn, and the
 * plaintext it still holds is processed after `leftover`. */
int vx_ws_server_start_tls(vx_node *node, uv_tcp_t *tcp, vx_tls *tls, const char *peer,
                           const char *uuid, const char *name, const char *leftover,
                           size_t leftover_len);

/* Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 §4.2.2): base64 of
 * SHA-1(key + GUID), written to out[29] with a NUL. */
void vx_ws_accept_key(const char *key, size_t key_len, char out[29]);

#endif
