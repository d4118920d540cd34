/* WebSocket client transport (PROTOCOL §10.5, RFC 6455 client side).
 *
 * One TCP connection: the upgrade request, then wslay in client mode. Each
 * msg goes out as one masked text frame holding msg + '.'. Right after the
 * upgrade the reconnect payloads and the queue are sent, or one encoded
 * empty payload when there is nothing, because vortexpy 0.3.1 registers a
 * WebSocket only on its first frame. A server '.' frame is answered with
 * '.'; no other bare '.' is sent.
 *
 * Msgs are taken from the client queue only between writes, so each write
 * carries a known batch: handed over when the write completes, given back
 * when it fails or the session is aborted. */
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <wslay/wslay.h>

#include "client/client_impl.h"
#include "transport/tls.h"
#include "codec/base64.h"
#include "transport/ws_server.h"

typedef struct ws_t {
    vx_ctransport base;
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t hs_write, write;
    vx_buf hs; /* the upgrade request */
    http_parser parser;
    char key[25], accept[29];
    char field[32];
    size_t field_len;
    bool in_value;
    char got_accept[64];
    size_t got_accept_len;
    bool upgraded, closing, writing, stream_hello;
    wslay_event_context_ptr ctx;
    vx_buf rbuf; /* received bytes not yet taken by wslay */
    size_t rpos;
    vx_buf obuf, wbuf; /* wslay output waiting / being written */
    vx_buf frame;      /* scratch: msg + '.' */
    vx_msgbuf **batch; /* taken msgs inside the write in flight */
    size_t n_batch, cap_batch, batch_bytes;
    bool batch_given_back;
    vx_tls *tls; /* wss: the upgrade is written once the handshake is done */
    char rtmp[65536];
} ws_t;

static void ws_flush(ws_t *w);

static void on_closed(uv_handle_t *h) {
    ws_t *w = h->data;
    for (size_t i = 0; i < w->n_batch; i++) vx_msgbuf_decref(w->batch[i]);
    free(w->batch);
    if (w->ctx) wslay_event_context_free(w->ctx);
    vx_buf_free(&w->hs);
    vx_buf_free(&w->rbuf);
    vx_buf_free(&w->obuf);
    vx_buf_free(&w->wbuf);
    vx_buf_free(&w->frame);
    vx_tls_free(w->tls); /* the handle is closed: every write called back */
    free(w);
}

static void ws_abort(vx_ctransport *t) {
    ws_t *w = (ws_t *)t;
    vx_client *c = w->base.client;
    w->base.client = NULL;
    if (c && w->n_batch && !w->batch_given_back) {
        w->batch_given_back = true;
        for (size_t i = 0; i < w->n_batch; i++) vx_msgbuf_incref(w->batch[i]);
        vx_client__requeue(c, w->batch, w->n_batch, w->batch_bytes);
    }
    if (!w->closing) {
        w->closing = true;
        uv_close((uv_handle_t *)&w->tcp, on_closed);
    }
}

static void ws_fail(ws_t *w, const char *why) {
    if (w->base.client && !w->closing) vx_client__failed(w->base.client, why);
}

/* ---- wslay callbacks ------------------------------------------------------ */

static ssize_t wsl_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                        void *data) {
    ws_t *w = data;
    size_t avail = w->rbuf.len - w->rpos;
    if (avail == 0 || w->closing) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = avail < len ? avail : len;
    memcpy(buf, w->rbuf.data + w->rpos, n);
    w->rpos += n;
    return (ssize_t)n;
}

static ssize_t wsl_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
                        int flags, void *user) {
    ws_t *w = user;
    if (vx_buf_append(&w->obuf, data, len) != 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return (ssize_t)len;
}

static int wsl_genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user) {
    ws_t *w = user;
    if (getrandom(buf, len, GRND_NONBLOCK) == (ssize_t)len) return 0;
    uint64_t seed = uv_hrtime() ^ (uint64_t)(uintptr_t)w;
    for (size_t i = 0; i < len; i++) buf[i] = (uint8_t)(vx_rng_next(&seed) >> 56);
    return 0;
}

static int queue_text(ws_t *w, const char *data, size_t len, bool dot) {
    w->frame.len = 0;
    if (vx_buf_append(&w->frame, data, len) || (dot && vx_buf_append(&w->frame, ".", 1)))
        return VX_E_NOMEM;
    struct wslay_event_msg msg = {WSLAY_TEXT_FRAME, (const uint8_t *)w->frame.data,
                                  w->frame.len};
    return wslay_event_queue_msg(w->ctx, &msg) == 0 ? 0 : VX_E_IO;
}

static void wsl_on_msg(wslay_event_context_ptr ctx,
                       const struct wslay_event_on_msg_recv_arg *a, void *user) {
    ws_t *w = user;
    vx_client *c = w->base.client;
    if (!c || w->closing) return;
    if (a->opcode != WSLAY_TEXT_FRAME && a->opcode != WSLAY_BINARY_FRAME) return;
    const char *msg = (const char *)a->msg;
    size_t len = a->msg_length;
    if (len == 1 && msg[0] == '.') {
        /* A bare-dot heartbeat: liveness, answered with '.' (§10.5). */
        vx_client__item(c, "", 0, &w->stream_hello);
        if (w->base.client && !w->closing && queue_text(w, ".", 1, false) != 0)
            ws_fail(w, "cannot answer a '.' heartbeat");
        return;
    }
    if (len > 0 && msg[len - 1] == '.') len--; /* tolerate a vortexjs-style '.' */
    if (len > 0) vx_client__item(c, msg, len, &w->stream_hello);
}

static const struct wslay_event_callbacks wsl_callbacks = {
    .recv_callback = wsl_recv,
    .send_callback = wsl_send,
    .genmask_callback = wsl_genmask,
    .on_msg_recv_callback = wsl_on_msg,
};

/* ---- writing -------------------------------------------------------------- */

static void on_write(uv_write_t *wr, int status) {
    ws_t *w = wr->data;
    w->writing = false;
    w->wbuf.len = 0;
    if (w->closing) return;
    if (status < 0) {
        char why[96];
        snprintf(why, sizeof why, "WebSocket write failed: %s", uv_strerror(status));
        ws_fail(w, why);
        return;
    }
    if (w->base.client) vx_client__handed(w->base.client, w->batch_bytes);
    for (size_t i = 0; i < w->n_batch; i++) vx_msgbuf_decref(w->batch[i]);
    w->n_batch = 0;
    w->batch_bytes = 0;
    ws_flush(w);
}

static int batch_add(ws_t *w, vx_msgbuf *m) {
    if (w->n_batch == w->cap_batch) {
        size_t cap = w->cap_batch ? 2 * w->cap_batch : 16;
        vx_msgbuf **b = realloc(w->batch, cap * sizeof *b);
        if (!b) return VX_E_NOMEM;
        w->batch = b;
        w->cap_batch = cap;
    }
    w->batch[w->n_batch++] = m;
    w->batch_bytes += m->len + 1;
    return 0;
}

static void ws_flush(ws_t *w) {
    vx_client *c = w->base.client;
    if (!c || w->closing || !w->upgraded || w->writing) return;
    vx_msgbuf *m;
    while ((m = vx_client__take(c))) {
        if (batch_add(w, m) != 0) {
            vx_client__requeue(c, &m, 1, m->len + 1);
            ws_fail(w, "out of memory sending");
            return;
        }
        if (queue_text(w, m->data, m->len, true) != 0) {
            ws_fail(w, "cannot queue a WebSocket frame");
            return;
        }
    }
    if (wslay_event_want_write(w->ctx) && wslay_event_send(w->ctx) != 0) {
        ws_fail(w, "WebSocket framing failed");
        return;
    }
    if (w->obuf.len == 0) return;
    vx_buf tmp = w->wbuf;
    w->wbuf = w->obuf;
    w->obuf = tmp;
    w->obuf.len = 0;
    uv_buf_t b = uv_buf_init(w->wbuf.data, (unsigned)w->wbuf.len);
    w->write.data = w;
    int rc = vx_stream_write(w->tls, &w->write, (uv_stream_t *)&w->tcp, &b, 1, on_write);
    if (rc < 0) {
        ws_fail(w, "WebSocket write failed");
        return;
    }
    w->writing = true;
}

static void ws_kick(vx_ctransport *t) {
    ws_flush((ws_t *)t);
}

/* ---- reading -------------------------------------------------------------- */

static void ws_recv(ws_t *w) {
    if (wslay_event_recv(w->ctx) != 0) {
        ws_fail(w, "WebSocket protocol error from the server");
        return;
    }
    if (w->closing) return;
    /* Drop what wslay consumed. */
    memmove(w->rbuf.data, w->rbuf.data + w->rpos, w->rbuf.len - w->rpos);
    w->rbuf.len -= w->rpos;
    w->rpos = 0;
    if (wslay_event_get_close_received(w->ctx)) {
        char why[96];
        snprintf(why, sizeof why, "the server closed the WebSocket (code %u)",
                 wslay_event_get_status_code_received(w->ctx));
        ws_fail(w, why);
        return;
    }
    ws_flush(w); /* PONGs and '.' answers */
}

/* After a valid 101: start wslay, send something at once (§10.5), then
 * process frames that came with the response. */
static void ws_open(ws_t *w, const char *leftover, size_t len) {
    vx_client *c = w->base.client;
    if (wslay_event_context_client_init(&w->ctx, &wsl_callbacks, w) != 0) {
        w->ctx = NULL;
        ws_fail(w, "out of memory starting the WebSocket");
        return;
    }
    wslay_event_config_set_max_recv_msg_length(
        w->ctx, (uint64_t)vx_codec_options(c->codec)->max_msg_bytes + 1);
    w->upgraded = true;
    for (size_t i = 0; i < c->n_reconnect; i++)
        if (queue_text(w, c->reconnect[i]->data, c->reconnect[i]->len, true) != 0) {
            ws_fail(w, "cannot queue a reconnect payload");
            return;
        }
    if (c->n_reconnect == 0 && c->queue.count == 0) {
        vx_payload *p = vx_payload_new();
        vx_buf b = {0};
        int rc = p ? vx_codec_encode(c->codec, p, &b, NULL) : VX_E_NOMEM;
        vx_payload_decref(p);
        if (rc == 0) rc = queue_text(w, b.data, b.len, true);
        vx_buf_free(&b);
        if (rc) {
            ws_fail(w, "cannot queue the first frame");
            return;
        }
    }
    ws_flush(w);
    if (len && !w->closing && w->base.client) {
        if (vx_buf_append(&w->rbuf, leftover, len) != 0) {
            ws_fail(w, "out of memory reading");
            return;
        }
        ws_recv(w);
    }
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
    ws_t *w = p->data;
    if (w->in_value) w->field_len = 0;
    w->in_value = false;
    size_t n =
        len < sizeof w->field - 1 - w->field_len ? len : sizeof w->field - 1 - w->field_len;
    memcpy(w->field + w->field_len, at, n);
    w->field_len += n;
    w->field[w->field_len] = '\0';
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
    ws_t *w = p->data;
    w->in_value = true;
    if (strcasecmp(w->field, "Sec-WebSocket-Accept") != 0) return 0;
    size_t room = sizeof w->got_accept - 1 - w->got_accept_len;
    size_t n = len < room ? len : room;
    memcpy(w->got_accept + w->got_accept_len, at, n);
    w->got_accept_len += n;
    w->got_accept[w->got_accept_len] = '\0';
    return 0;
}

static int on_headers_complete(http_parser *p) {
    ws_t *w = p->data;
    if (p->status_code != 101) {
        char why[80];
        snprintf(why, sizeof why, "WebSocket upgrade refused: HTTP status %u",
                 p->status_code);
        ws_fail(w, why);
        return -1;
    }
    const char *a = w->got_accept;
    size_t n = w->got_accept_len;
    while (n && (*a == ' ' || *a == '\t')) a++, n--;
    while (n && (a[n - 1] == ' ' || a[n - 1] == '\t')) n--;
    if (n != 28 || memcmp(a, w->accept, 28) != 0) {
        ws_fail(w, "WebSocket upgrade: missing or wrong Sec-WebSocket-Accept");
        return -1;
    }
    return 2; /* upgrade: stop parsing here, the rest are frames */
}

static const http_parser_settings hs_settings = {
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
};

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    ws_t *w = h->data;
    *buf = uv_buf_init(w->rtmp, sizeof w->rtmp);
}

static void send_upgrade(ws_t *w);

/* Bytes (or the end, nread < 0) from the server. */
static void input(ws_t *w, ssize_t nread, char *data) {
    if (nread < 0) {
        char why[96];
        snprintf(why, sizeof why, "the server closed the connection%s: %s",
                 w->upgraded ? "" : " during the upgrade", uv_strerror((int)nread));
        ws_fail(w, why);
        return;
    }
    if (!w->upgraded) {
        size_t used = http_parser_execute(&w->parser, &hs_settings, data, (size_t)nread);
        if (w->closing) return;
        if (w->parser.upgrade) {
            ws_open(w, data + used, (size_t)nread - used);
        } else if (HTTP_PARSER_ERRNO(&w->parser) != HPE_OK) {
            char why[96];
            snprintf(why, sizeof why, "bad upgrade response: %s",
                     http_errno_description(HTTP_PARSER_ERRNO(&w->parser)));
            ws_fail(w, why);
        }
        return;
    }
    if (vx_buf_append(&w->rbuf, data, (size_t)nread) != 0) {
        ws_fail(w, "out of memory reading");
        return;
    }
    ws_recv(w);
}

static void tls_failed(ws_t *w, bool handshake, const char *reason) {
    vx_client *c = w->base.client;
    if (!c || w->closing) return;
    char why[VX_ERROR_MESSAGE_MAX];
    snprintf(why, sizeof why, "TLS %s %.64s:%d failed: %s",
             handshake ? "handshake with" : "connection to", c->url.host, c->url.port,
             reason);
    ws_fail(w, why);
}

/* wss: ciphertext in; once the handshake is done the upgrade goes out, and
 * the plaintext goes where plain bytes go (in the read buffer, whose
 * ciphertext OpenSSL has copied). */
static void tls_input(ws_t *w, ssize_t nread) {
    vx_tls *t = w->tls;
    bool was_ready = vx_tls_ready(t);
    if (nread < 0) {
        if (was_ready)
            input(w, nread, NULL);
        else
            tls_failed(w, true,
                       nread == UV_EOF ? "the server closed the connection"
                                       : uv_strerror((int)nread));
        return;
    }
    if (vx_tls_feed(t, w->rtmp, (size_t)nread) != 0) {
        tls_failed(w, !was_ready, vx_tls_error(t));
        return;
    }
    if (!vx_tls_ready(t)) return;
    if (!was_ready) send_upgrade(w);
    while (!w->closing && w->base.client) {
        ssize_t n = vx_tls_read(t, w->rtmp, sizeof w->rtmp);
        if (n == 0) return;
        if (n == VX_E_TLS) {
            tls_failed(w, false, vx_tls_error(t));
            return;
        }
        input(w, n, w->rtmp); /* n == UV_EOF: the server closed */
        if (n < 0) return;
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    ws_t *w = s->data;
    if (w->closing || nread == 0) return;
    if (w->tls)
        tls_input(w, nread);
    else
        input(w, nread, buf->base);
}

/* ---- connecting ----------------------------------------------------------- */

static void on_hs_written(uv_write_t *wr, int status) {
    ws_t *w = wr->data;
    if (status < 0 && !w->closing) ws_fail(w, "writing the WebSocket upgrade failed");
}

static void on_connect(uv_connect_t *cr, int status) {
    ws_t *w = cr->data;
    if (w->closing) return;
    vx_client *c = w->base.client;
    if (status < 0) {
        char why[VX_ERROR_MESSAGE_MAX];
        snprintf(why, sizeof why, "cannot connect to %.64s:%d: %s", c->url.host,
                 c->url.port, uv_strerror(status));
        ws_fail(w, why);
        return;
    }
    uv_tcp_nodelay(&w->tcp, 1);
    int rc = 0;
    if (c->tls) {
        /* The upgrade waits for the handshake (tls_input). */
        w->tls = vx_tls_new_client(c->tls, (uv_stream_t *)&w->tcp, c->tls_host);
        rc = w->tls ? vx_tls_start(w->tls) : UV_ENOMEM;
        if (rc == VX_E_TLS) {
            tls_failed(w, true, vx_tls_error(w->tls));
            return;
        }
    } else {
        send_upgrade(w);
        if (w->closing) return;
    }
    if (rc == 0) rc = uv_read_start((uv_stream_t *)&w->tcp, on_alloc, on_read);
    if (rc < 0) ws_fail(w, "starting the WebSocket upgrade failed");
}

static void send_upgrade(ws_t *w) {
    uv_buf_t b = uv_buf_init(w->hs.data, (unsigned)w->hs.len);
    w->hs_write.data = w;
    int rc =
        vx_stream_write(w->tls, &w->hs_write, (uv_stream_t *)&w->tcp, &b, 1, on_hs_written);
    if (rc < 0) ws_fail(w, "starting the WebSocket upgrade failed");
}

static int build_upgrade(vx_client *c, ws_t *w) {
    uint8_t raw[16];
    if (getrandom(raw, sizeof raw, GRND_NONBLOCK) != (ssize_t)sizeof raw)
        for (size_t i = 0; i < sizeof raw; i++)
            raw[i] = (uint8_t)(vx_rng_next(&c->rng) >> 56);
    vx_base64_encode(raw, sizeof raw, w->key);
    w->key[24] = '\0';
    vx_ws_accept_key(w->key, 24, w->accept);
    bool v6 = strchr(c->url.host, ':') != NULL;
    char tail[320];
    int n = snprintf(tail, sizeof tail,
                     " HTTP/1.1\r\nHost: %s%s%s:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     v6 ? "[" : "", c->url.host, v6 ? "]" : "", c->url.port, w->key);
    if (vx_buf_append(&w->hs, "GET ", 4) ||
        vx_buf_append(&w->hs, c->target.data, c->target.len) ||
        vx_buf_append(&w->hs, tail, (size_t)n))
        return VX_E_NOMEM;
    return 0;
}

static int ws_start(vx_client *c, const struct sockaddr *addr, vx_error *err) {
    ws_t *w = calloc(1, sizeof *w);
    if (!w) return vx_error_set(err, VX_E_NOMEM, "out of memory starting a WebSocket");
    w->base.client = c;
    http_parser_init(&w->parser, HTTP_RESPONSE);
    w->parser.data = w;
    uv_tcp_init(c->loop, &w->tcp);
    w->tcp.data = w;
    w->connect.data = w;
    int rc = build_upgrade(c, w);
    if (rc == 0) rc = uv_tcp_connect(&w->connect, &w->tcp, addr, on_connect);
    if (rc != 0) {
        w->base.client = NULL;
        w->closing = true;
        uv_close((uv_handle_t *)&w->tcp, on_closed);
        return vx_error_set(err, rc == VX_E_NOMEM ? rc : VX_E_IO,
                            "cannot connect to %.64s:%d: %s", c->url.host, c->url.port,
                            rc == VX_E_NOMEM ? "out of memory" : uv_strerror(rc));
    }
    c->t = &w->base;
    return 0;
}

const vx_ctransport_vt vx_ws_client_vt = {
    .name = "ws",
    .start = ws_start,
    .kick = ws_kick,
    .abort = ws_abort,
};
