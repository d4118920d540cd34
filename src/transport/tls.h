/* TLS under the HTTP/WebSocket listener and the client (https://, wss://;
 * PROTOCOL.md §9, §10 unchanged, over TLS), private.
 *
 * OpenSSL 3 with memory BIOs, so libuv keeps doing all socket I/O: bytes read
 * from the socket are fed in (vx_tls_feed), which also drives the handshake,
 * and plaintext is pulled out (vx_tls_read) for the existing parsers;
 * plaintext writes are encrypted at once and the ciphertext handed to
 * uv_write. A connection is TLS or plain for its whole life: the vx_stream_*
 * helpers below branch on a NULL vx_tls, so plain connections pay one test.
 *
 * Lifetime: a vx_tls belongs to one stream. Free it only once the stream's
 * close callback has run (libuv has then called back every write, so no
 * write of ours still points at it). The context is reference counted: each
 * vx_tls holds one reference, so a listener or client may drop its own while
 * connections live on. Loop thread only. */
#ifndef VX_TLS_H
#define VX_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <uv.h>

#include <vortexc/error.h>

typedef struct vx_tls_ctx vx_tls_ctx;
typedef struct vx_tls vx_tls;

typedef struct vx_tls_conf {
    const char *cert_file; /* PEM certificate (chain allowed); client: for mTLS */
    const char *key_file;  /* PEM private key; NULL = in cert_file */
    const char *ca_file;   /* server: CA for client certificates (NULL = none asked);
                              client: CA store (NULL = the system's) */
    bool verify_peer;      /* server: a client certificate is required */
    bool insecure;         /* client: no chain or host name check (tests only) */
} vx_tls_conf;

/* NEW contexts (TLS 1.2 minimum, no renegotiation). VX_E_TLS naming the file
 * and OpenSSL's reason for an unreadable or mismatched certificate or key;
 * VX_E_INVAL for a key without a certificate, or verify_peer without a CA. */
int vx_tls_ctx_server(const vx_tls_conf *conf, vx_tls_ctx **out, vx_error *err);
int vx_tls_ctx_client(const vx_tls_conf *conf, vx_tls_ctx **out, vx_error *err);
/* Drop a reference (NULL is a no-op). */
void vx_tls_ctx_unref(vx_tls_ctx *ctx);

/* NEW connection state over `stream`, or NULL when out of memory. A client
 * checks the server certificate against `host` (a DNS name, or an IPv4/IPv6
 * literal matched against the certificate's IP addresses) and sends it as
 * SNI when it is a name. */
vx_tls *vx_tls_new_server(vx_tls_ctx *ctx, uv_stream_t *stream);
vx_tls *vx_tls_new_client(vx_tls_ctx *ctx, uv_stream_t *stream, const char *host);
void vx_tls_free(vx_tls *t);

/* Client: send the ClientHello. 0 or VX_E_TLS / a libuv error. */
int vx_tls_start(vx_tls *t);
/* Bytes read from the socket: buffered, the handshake driven, and anything
 * TLS has to say in return written. 0, or VX_E_TLS (the reason in
 * vx_tls_error; an alert for the peer is on its way). */
int vx_tls_feed(vx_tls *t, const char *in, size_t len);
/* Plaintext received so far, up to `cap` bytes: > 0 bytes, 0 when more input
 * is needed, UV_EOF when the peer closed TLS cleanly, or VX_E_TLS. */
ssize_t vx_tls_read(vx_tls *t, char *out, size_t cap);
/* The handshake is complete (application data may flow). */
bool vx_tls_ready(const vx_tls *t);
/* One line: why the handshake or the connection failed (OpenSSL's reason,
 * e.g. "certificate verify failed: certificate has expired"). */
const char *vx_tls_error(const vx_tls *t);
/* BORROWED subject of the peer's verified certificate as one RFC 2253 line
 * ("CN=alice,O=Example"), or NULL without one; valid until vx_tls_free. */
const char *vx_tls_peer_identity(vx_tls *t);

/* uv_write, uv_try_write and uv_shutdown through TLS. vx_tls_write calls
 * `cb(req, status)` once the ciphertext of `bufs` is written (the buffers
 * must stay valid until then, as for uv_write; `req->data` is left alone).
 * vx_tls_try_write encrypts everything and returns the plaintext byte count:
 * ciphertext the socket does not take at once waits in libuv's write queue
 * (see uv_stream_get_write_queue_size). vx_tls_shutdown sends close_notify,
 * then shuts the socket down after the queued writes. Writing before the
 * handshake is complete fails with UV_ENOTCONN. */
int vx_tls_write(vx_tls *t, uv_write_t *req, const uv_buf_t bufs[], unsigned nbufs,
                 uv_write_cb cb);
int vx_tls_try_write(vx_tls *t, const uv_buf_t bufs[], unsigned nbufs);
int vx_tls_shutdown(vx_tls *t, uv_shutdown_t *req, uv_shutdown_cb cb);

/* The same calls for a stream that may or may not be TLS (`t` NULL: plain). */
static inline int vx_stream_write(vx_tls *t, uv_write_t *req, uv_stream_t *s,
                                  const uv_buf_t bufs[], unsigned nbufs, uv_write_cb cb) {
    return t ? vx_tls_write(t, req, bufs, nbufs, cb) : uv_write(req, s, bufs, nbufs, cb);
}

static inline int vx_stream_try_write(vx_tls *t, uv_stream_t *s, const uv_buf_t bufs[],
                                      unsigned nbufs) {
    return t ? vx_tls_try_write(t, bufs, nbufs) : uv_try_write(s, bufs, nbufs);
}

static inline int vx_stream_shutdown(vx_tls *t, uv_shutdown_t *req, uv_stream_t *s,
                                     uv_shutdown_cb cb) {
    return t ? vx_tls_shutdown(t, req, cb) : uv_shutdown(req, s, cb);
}

#endif
