/* WebSocket server connections (PROTOCOL.md §10, §12), see ws_server.h.
 *
 * Receiving: libuv reads into a buffer that exists only during the read
 * callback; wslay's event API (no buffering mode) parses, unmasks and
 * answers PINGs and Closes; the guard of ws_frame.h checks each header first
 * and keeps wslay one frame at a time; data frames are reassembled here into
 * a buffer sized from the headers, then handed to the node.
 *
 * Sending: each msg is framed here (unmasked FIN text frame, §10.2) and
 * written straight from the shared vx_msgbuf, zero-copy: wslay's queue_msg
 * would copy every msg into every connection, and its fragmented-source API
 * cuts a msg into 4 KiB frames. wslay's own output (PONG, the close echo)
 * joins the same ordered queue. Msgs are not written as they are sent: a
 * prepare handle, armed by the first one, flushes the queue once per loop
 * turn (before the loop next waits), so the msgs of one turn (a burst of
 * broadcasts) go out as one writev instead of one syscall each. Frames go
 * to the kernel with uv_try_write when the socket takes them; the rest
 * waits in one uv_write. The queue is flushed at once when it passes
 * WS_COALESCE_BYTES, and before a msg is refused as over out_queue_max, so
 * the slow-consumer rule still counts only bytes the kernel did not take.
 *
 * Idle memory: no read buffer, no reassembly buffer, no write request and no
 * wslay context (freed whenever no frame is in progress) — only this struct.
 *
 * Closing: a close frame is queued behind the data (SHUTDOWN) or instead of
 * it (TAKEOVER, SLOW, errors); once it is written the server sends its FIN
 * and waits briefly for the peer's; the TCP connection is closed at the
 * latest WS_CLOSE_DEADLINE_MS after the close began (§12). The node hears
 * about the end (vx_node_conn_closed) when the close begins, so a replaced or
 * slow remote is forgotten at once, except for SHUTDOWN, reported when the
 * TCP connection is gone so that vx_node_shutdown completes only after the
 * queued data and the 1001 were written. After reporting, the node is never
 * touched again. */
#include "transport/ws_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <wslay/wslay.h>

#include "transport/ws_frame.h"
#include "value/value_impl.h"

#define WS_READ_BUF          65536
#define WS_CLOSE_DEADLINE_MS 5000  /* §12: TCP closed within 5 s of the close */
#define WS_LINGER_MS         1000  /* after our FIN, wait this long for the peer's */
#define WS_BATCH             64    /* frames per write call */
#define WS_COALESCE_BYTES    65536 /* flush at once when this much is waiting */
#define WS_RAW_CAP           256   /* control frames: header + up to 125 bytes */

typedef enum ws_state {
    WS_OPEN,
    WS_CLOSING,  /* close frame queued: draining the output */
    WS_SHUTDOWN, /* everything written, FIN being sent */
    WS_LINGER,   /* FIN sent: waiting for the peer's EOF */
    WS_CLOSED,   /* uv_close called */
} ws_state;

/* One frame waiting to be written (or being written). */
typedef struct ws_item {
    struct ws_item *next;
    vx_msgbuf *msg; /* a data frame (a reference); NULL: raw[] holds frames */
    size_t off;     /* bytes of this item already written */
    size_t len;     /* raw: bytes in raw[] */
    size_t cap;     /* raw: room in raw[] */
    uint8_t hdr_len;
    uint8_t hdr[VX_WS_MAX_HEADER];
    uint8_t raw[];
} ws_item;

typedef struct ws_conn {
    vx_conn conn;
    vx_node *node; /* NULL once the end was reported */
    bool opened;   /* vx_node_conn_open succeeded */
    uv_tcp_t *tcp;
    uv_timer_t timer;   /* PING/dead checks while open; close deadline and linger after */
    uv_prepare_t flush; /* active while sent msgs wait for this turn's flush */
    int handles;        /* close callbacks still owed */
    ws_state state;
    bool close_queued; /* our own close frame is queued: wslay must send nothing */
    bool peer_close;   /* wslay received a Close and queued its echo */
    bool eof;
    bool ping_outstanding;
    int in_wslay; /* depth of calls into wslay (its context must outlive them) */

    /* receiving */
    wslay_event_context_ptr wslay; /* NULL while idle */
    vx_ws_guard guard;
    const uint8_t *in; /* bytes being fed to wslay */
    size_t in_len, in_off;
    char *rbuf;       /* libuv read buffer, freed after each read */
    uint8_t frame_op; /* opcode of the frame wslay is reading */
    uint8_t *msg;     /* data message being reassembled */
    size_t msg_len, msg_cap;
    bool msg_oom;

    /* sending */
    ws_item *head, *tail;
    size_t n_items;
    size_t n_inflight;     /* the first n_inflight items are in the uv_write */
    size_t inflight_bytes; /* bytes of them not written before the uv_write */
    bool writing;
    size_t pending_bytes; /* unwritten bytes of the items not in flight */

    uint64_t ping_after_ms, dead_after_ms, ping_sent_ms, deadline_ms;
    size_t out_queue_max;
    vx_tls *tls; /* NULL: plain TCP */
} ws_conn;

static void ws_flush(ws_conn *ws);
static void ws_progress(ws_conn *ws);
static void ws_timer_cb(uv_timer_t *t);

#define WS_OF(c) ((ws_conn *)((char *)(c)-offsetof(ws_conn, conn)))

static uv_loop_t *ws_loop(ws_conn *ws) {
    return ws->tcp->loop;
}

static void ws_count(ws_conn *ws, vx_counter which, uint64_t n) {
    if (ws->node && n) vx_node_count(ws->node, which, n);
}

static size_t item_bytes(const ws_item *it) {
    return it->msg ? it->hdr_len + it->msg->len : it->len;
}

static void item_free(ws_item *it) {
    if (it->msg) vx_msgbuf_decref(it->msg);
    free(it);
}

static void ws_append(ws_conn *ws, ws_item *it) {
    it->next = NULL;
    if (ws->tail)
        ws->tail->next = it;
    else
        ws->head = it;
    ws->tail = it;
    ws->n_items++;
    ws->pending_bytes += item_bytes(it);
}

/* Control frame bytes (ours, or wslay's PONG and close echo), coalesced. */
static int ws_raw_append(ws_conn *ws, const uint8_t *data, size_t len) {
    ws_item *t = ws->tail;
    bool t_free = t && !t->msg && t->off == 0 && ws->n_items > ws->n_inflight;
    if (t_free && t->cap - t->len >= len) {
        memcpy(t->raw + t->len, data, len);
        t->len += len;
        ws->pending_bytes += len;
        return 0;
    }
    size_t cap = len > WS_RAW_CAP ? len : WS_RAW_CAP;
    ws_item *it = malloc(sizeof *it + cap);
    if (!it) return VX_E_NOMEM;
    memset(it, 0, sizeof *it);
    it->cap = cap;
    it->len = len;
    memcpy(it->raw, data, len);
    ws_append(ws, it);
    return 0;
}

static int ws_control_frame(ws_conn *ws, uint8_t opcode, const uint8_t *payload,
                            size_t len) {
    uint8_t frame[VX_WS_MAX_HEADER + 125];
    size_t h = vx_ws_frame_header(frame, opcode, len);
    if (len) memcpy(frame + h, payload, len);
    return ws_raw_append(ws, frame, h + len);
}

/* ---- the end ------------------------------------------------------------ */

/* Tell the node the connection has ended (once), handing back the msgs that
 * will not be written: those not yet in a write, or (`final`) all left. */
static void ws_report(ws_conn *ws, bool final) {
    vx_node *node = ws->node;
    if (!node) return;
    ws->node = NULL;
    if (!ws->opened) return;
    size_t n = 0, skip = final ? 0 : ws->n_inflight, i = 0;
    for (ws_item *it = ws->head; it; it = it->next, i++)
        if (i >= skip && it->msg) n++;
    vx_msgbuf **unsent = n ? malloc(n * sizeof *unsent) : NULL;
    size_t k = 0;
    ws_item **link = &ws->head, *prev = NULL;
    i = 0;
    while (*link) {
        ws_item *it = *link;
        if (i++ < skip || !it->msg) {
            prev = it;
            link = &it->next;
            continue;
        }
        *link = it->next;
        ws->n_items--;
        if (!final) ws->pending_bytes -= item_bytes(it) - it->off;
        if (unsent)
            unsent[k++] = it->msg;
        else
            vx_msgbuf_decref(it->msg);
        free(it);
    }
    ws->tail = prev;
    vx_node_conn_closed(node, &ws->conn, unsent, k);
    free(unsent);
}

static void ws_closed_cb(uv_handle_t *h) {
    ws_conn *ws = h->data;
    if (--ws->handles > 0) return;
    ws_report(ws, true);
    while (ws->head) {
        ws_item *it = ws->head;
        ws->head = it->next;
        item_free(it);
    }
    if (ws->wslay) wslay_event_context_free(ws->wslay);
    free(ws->rbuf);
    free(ws->msg);
    free(ws->tcp);
    vx_tls_free(ws->tls); /* after the TCP close: every write has called back */
    free(ws);
}

/* Close the TCP connection now; unwritten data is lost. */
static void ws_abort(ws_conn *ws) {
    if (ws->state == WS_CLOSED) return;
    ws->state = WS_CLOSED;
    uv_close((uv_handle_t *)ws->tcp, ws_closed_cb);
    uv_close((uv_handle_t *)&ws->timer, ws_closed_cb);
    uv_close((uv_handle_t *)&ws->flush, ws_closed_cb);
}

/* Drop a stuck or dead peer: a plain close would leave the kernel sending
 * the megabytes still in the socket buffer (§12 wants the connection gone
 * within 5 s), so the close is a reset (SO_LINGER 0). uv_tcp_close_reset is
 * not used because it refuses a handle with a shutdown under way. */
static void ws_reset(ws_conn *ws) {
    uv_os_fd_t fd;
    if (ws->state == WS_CLOSED) return;
    if (uv_fileno((uv_handle_t *)ws->tcp, &fd) == 0) {
        struct linger l = {.l_onoff = 1, .l_linger = 0};
        (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    ws_abort(ws);
}

/* Start a clean close: queue a close frame with `code` (0: wslay already
 * queued one, the echo of the peer's), drop the queued msgs unless the node
 * asked for a shutdown, and arm the deadline. */
static void ws_begin_close(ws_conn *ws, uint16_t code, const char *reason,
                           bool report_now) {
    /* The msgs of this turn were sent before the close: offer them to the
     * kernel first, as if each had been written when sent. */
    if (ws->state == WS_OPEN && !ws->writing && ws->pending_bytes) ws_flush(ws);
    if (ws->state != WS_OPEN) return;
    ws->state = WS_CLOSING;
    ws->deadline_ms = uv_now(ws_loop(ws)) + WS_CLOSE_DEADLINE_MS;
    uv_timer_start(&ws->timer, ws_timer_cb, WS_CLOSE_DEADLINE_MS, 0);
    if (report_now) ws_report(ws, false);
    if (code) {
        uint8_t payload[125];
        size_t rlen = reason ? strlen(reason) : 0;
        if (rlen > 123) rlen = 123;
        payload[0] = (uint8_t)(code >> 8);
        payload[1] = (uint8_t)code;
        if (rlen) memcpy(payload + 2, reason, rlen);
        ws->close_queued = true;
        if (ws_control_frame(ws, VX_WS_OP_CLOSE, payload, 2 + rlen) != 0) {
            ws_abort(ws);
            return;
        }
    }
    ws_flush(ws);
}

static void ws_protocol_error(ws_conn *ws, uint16_t code, const char *reason) {
    ws_count(ws, VX_CTR_WS_PROTOCOL_ERRORS, 1);
    ws_begin_close(ws, code, reason, true);
}

static void ws_shutdown_cb(uv_shutdown_t *req, int status) {
    ws_conn *ws = req->data;
    free(req);
    if (ws->state != WS_SHUTDOWN) return;
    if (status < 0 || ws->eof) {
        ws_abort(ws);
        return;
    }
    ws->state = WS_LINGER;
    uint64_t now = uv_now(ws_loop(ws));
    uint64_t left = ws->deadline_ms > now ? ws->deadline_ms - now : 0;
    uv_timer_start(&ws->timer, ws_timer_cb, left < WS_LINGER_MS ? left : WS_LINGER_MS, 0);
}

/* Moves a closing connection on once its output is written, and frees the
 * wslay context of an idle open one. */
static void ws_progress(ws_conn *ws) {
    if (ws->state == WS_CLOSING && !ws->head && !ws->writing) {
        uv_shutdown_t *req = malloc(sizeof *req);
        if (!req) {
            ws_abort(ws);
            return;
        }
        req->data = ws;
        if (vx_stream_shutdown(ws->tls, req, (uv_stream_t *)ws->tcp, ws_shutdown_cb) < 0) {
            free(req);
            ws_abort(ws);
            return;
        }
        ws->state = WS_SHUTDOWN;
    }
    if (ws->state == WS_OPEN && ws->wslay && !ws->in_wslay &&
        vx_ws_guard_idle(&ws->guard) && !wslay_event_want_write(ws->wslay)) {
        wslay_event_context_free(ws->wslay);
        ws->wslay = NULL;
    }
}

/* ---- sending ------------------------------------------------------------ */

/* Up to WS_BATCH unwritten items from `it` as buffers; returns their count. */
static size_t ws_bufs(ws_item *it, uv_buf_t *bufs, size_t *nbufs, size_t *bytes) {
    size_t n = 0;
    *nbufs = 0;
    *bytes = 0;
    for (; it && n < WS_BATCH; it = it->next, n++) {
        size_t off = it->off;
        if (!it->msg) {
            bufs[(*nbufs)++] =
                uv_buf_init((char *)it->raw + off, (unsigned)(it->len - off));
            *bytes += it->len - off;
            continue;
        }
        if (off < it->hdr_len) {
            bufs[(*nbufs)++] =
                uv_buf_init((char *)it->hdr + off, (unsigned)(it->hdr_len - off));
            *bytes += it->hdr_len - off;
            off = it->hdr_len;
        }
        size_t doff = off - it->hdr_len;
        if (it->msg->len > doff) {
            bufs[(*nbufs)++] =
                uv_buf_init(it->msg->data + doff, (unsigned)(it->msg->len - doff));
            *bytes += it->msg->len - doff;
        }
    }
    return n;
}

/* `done` bytes from the front of the queue went to the kernel. */
static void ws_consume(ws_conn *ws, size_t done) {
    while (done && ws->head) {
        ws_item *it = ws->head;
        size_t left = item_bytes(it) - it->off;
        if (done < left) {
            it->off += done;
            return;
        }
        done -= left;
        ws->head = it->next;
        if (!ws->head) ws->tail = NULL;
        ws->n_items--;
        item_free(it);
    }
}

static void ws_write_cb(uv_write_t *req, int status) {
    ws_conn *ws = req->data;
    free(req);
    ws->writing = false;
    if (status < 0) {
        ws->n_inflight = 0; /* the items stay: unsent */
        ws_abort(ws);
        return;
    }
    ws_count(ws, VX_CTR_BYTES_OUT, ws->inflight_bytes);
    size_t n = ws->n_inflight;
    ws->n_inflight = 0;
    for (size_t i = 0; i < n && ws->head; i++) {
        ws_item *it = ws->head;
        ws->head = it->next;
        if (!ws->head) ws->tail = NULL;
        ws->n_items--;
        item_free(it);
    }
    ws_flush(ws);
    ws_progress(ws);
}

static void ws_flush(ws_conn *ws) {
    if (ws->writing || ws->state >= WS_SHUTDOWN) return;
    uv_stream_t *s = (uv_stream_t *)ws->tcp;
    while (ws->head) {
        uv_buf_t bufs[2 * WS_BATCH];
        size_t nbufs, total;
        ws_bufs(ws->head, bufs, &nbufs, &total);
        int r = vx_stream_try_write(ws->tls, s, bufs, (unsigned)nbufs);
        if (r < 0 && r != UV_EAGAIN) {
            ws_abort(ws);
            return;
        }
        size_t done = r > 0 ? (size_t)r : 0;
        ws_count(ws, VX_CTR_BYTES_OUT, done);
        ws->pending_bytes -= done;
        ws_consume(ws, done);
        if (done == total) continue;
        /* The socket is full (or the 101 is still queued): the rest of this
         * batch waits in libuv, the items after it here. */
        size_t n = ws_bufs(ws->head, bufs, &nbufs, &total);
        uv_write_t *req = malloc(sizeof *req);
        if (!req) {
            ws_abort(ws);
            return;
        }
        req->data = ws;
        if (vx_stream_write(ws->tls, req, s, bufs, (unsigned)nbufs, ws_write_cb) < 0) {
            free(req);
            ws_abort(ws);
            return;
        }
        ws->writing = true;
        ws->n_inflight = n;
        ws->inflight_bytes = total;
        ws->pending_bytes -= total;
        return;
    }
}

static void ws_flush_cb(uv_prepare_t *h) {
    ws_conn *ws = h->data;
    uv_prepare_stop(h);
    ws_flush(ws);
    ws_progress(ws);
}

/* Bytes accepted and not yet handed to the kernel (§12). */
static size_t ws_queued(ws_conn *ws) {
    return ws->pending_bytes + uv_stream_get_write_queue_size((uv_stream_t *)ws->tcp);
}

static int ws_send_op(vx_conn *c, vx_msgbuf *m) {
    ws_conn *ws = WS_OF(c);
    if (ws->state != WS_OPEN && !(ws->state == WS_CLOSED && ws->node)) return VX_E_CLOSED;
    size_t frame = vx_ws_header_len(m->len) + m->len;
    /* The connection broke and the close callback, which reports the end,
     * is one loop turn away: keep the msg so that it comes back as unsent
     * with the others, rather than fail a send the node cannot foresee. */
    size_t queued = ws->state == WS_CLOSED ? 0 : ws_queued(ws);
    bool over =
        queued > 0 && (frame > ws->out_queue_max || queued > ws->out_queue_max - frame);
    if (over && !ws->writing && ws->pending_bytes) {
        /* Msgs of this turn not yet offered to the kernel: offer them now,
         * so that only bytes the socket refused count against the limit. */
        ws_flush(ws);
        queued = ws->state == WS_CLOSED ? 0 : ws_queued(ws);
        over =
            queued > 0 && (frame > ws->out_queue_max || queued > ws->out_queue_max - frame);
    }
    if (over) return VX_E_QUEUE_FULL;
    ws_item *it = malloc(sizeof *it);
    if (!it) return VX_E_NOMEM;
    memset(it, 0, sizeof *it);
    it->msg = vx_msgbuf_incref(m);
    it->hdr_len = (uint8_t)vx_ws_frame_header(it->hdr, VX_WS_OP_TEXT, m->len);
    ws_append(ws, it);
    if (ws->state != WS_OPEN || ws->writing)
        ; /* closed: kept as unsent; writing: the write callback flushes */
    else if (ws->pending_bytes >= WS_COALESCE_BYTES)
        ws_flush(ws);
    else if (!uv_is_active((uv_handle_t *)&ws->flush))
        uv_prepare_start(&ws->flush, ws_flush_cb);
    return 0;
}

static void ws_close_op(vx_conn *c, vx_close_why why) {
    ws_conn *ws = WS_OF(c);
    switch (why) {
    case VX_CLOSE_TAKEOVER:
        ws_begin_close(ws, 1000, "replaced", true);
        break;
    case VX_CLOSE_SHUTDOWN:
        ws_begin_close(ws, 1001, "shutdown", false);
        break;
    case VX_CLOSE_ABORT:
        /* vx_node_free, possibly cutting short a close already under way:
         * no close frame, the TCP connection goes now; the node hears of
         * the end (if it has not yet) once the handles are closed. */
        ws_reset(ws);
        return;
    case VX_CLOSE_SLOW:
    default:
        ws_begin_close(ws, 4008, "slow", true);
        break;
    }
    ws_progress(ws);
}

static const vx_conn_ops ws_ops = {.send = ws_send_op, .close = ws_close_op};

/* ---- receiving ---------------------------------------------------------- */

static ssize_t ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                          void *user) {
    ws_conn *ws = user;
    size_t avail = ws->in_len - ws->in_off;
    size_t n = len < avail ? len : avail;
    size_t k = 0;
    if (ws->state == WS_OPEN && n) {
        memcpy(buf, ws->in + ws->in_off, n);
        k = vx_ws_guard_scan(&ws->guard, buf, n);
    }
    if (!k) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    ws->in_off += k;
    return (ssize_t)k;
}

static ssize_t ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
                          int flags, void *user) {
    if (ws_raw_append(user, data, len) != 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return (ssize_t)len;
}

static void ws_frame_start_cb(wslay_event_context_ptr ctx,
                              const struct wslay_event_on_frame_recv_start_arg *arg,
                              void *user) {
    ws_conn *ws = user;
    ws->frame_op = arg->opcode;
    if (arg->opcode >= VX_WS_OP_CLOSE) return;
    if (arg->opcode != VX_WS_OP_CONT) {
        ws->msg_len = 0;
        ws->msg_oom = false;
    }
    /* The guard has bounded the message by max_msg: size the buffer from the
     * header so that chunks are copied once and never overflow it. */
    size_t need = ws->msg_len + (size_t)arg->payload_length;
    if (need <= ws->msg_cap || ws->msg_oom) return;
    size_t cap = ws->msg_cap * 2;
    if (cap < need) cap = need;
    if (cap > ws->guard.max_msg) cap = need > ws->guard.max_msg ? need : ws->guard.max_msg;
    uint8_t *p = realloc(ws->msg, cap);
    if (!p) {
        ws->msg_oom = true;
        return;
    }
    ws->msg = p;
    ws->msg_cap = cap;
}

static void ws_frame_chunk_cb(wslay_event_context_ptr ctx,
                              const struct wslay_event_on_frame_recv_chunk_arg *arg,
                              void *user) {
    ws_conn *ws = user;
    if (ws->frame_op >= VX_WS_OP_CLOSE || ws->msg_oom || !arg->data_length) return;
    if (arg->data_length > ws->msg_cap - ws->msg_len) {
        ws->msg_oom = true; /* cannot happen while the guard and wslay agree */
        return;
    }
    memcpy(ws->msg + ws->msg_len, arg->data, arg->data_length);
    ws->msg_len += arg->data_length;
}

/* A complete data message: §10.2. */
static void ws_deliver(ws_conn *ws) {
    uint8_t *m = ws->msg;
    size_t n = ws->msg_len;
    bool oom = ws->msg_oom;
    ws->msg = NULL;
    ws->msg_len = ws->msg_cap = 0;
    ws->msg_oom = false;
    if (ws->state != WS_OPEN) {
        free(m);
        return;
    }
    if (oom) {
        free(m);
        ws_begin_close(ws, 1011, "out of memory", true);
        return;
    }
    if (ws->guard.msg_text && !vx_utf8_valid((const char *)m, n)) {
        free(m);
        ws_protocol_error(ws, 1007, "invalid utf-8");
        return;
    }
    if (n == 0) return; /* an empty message is ignored */
    /* One trailing '.' is stripped; a bare "." becomes a heartbeat (len 0),
     * which the node counts as liveness and never answers. */
    if (m[n - 1] == '.') n--;
    if (ws->node) vx_node_conn_item(ws->node, &ws->conn, n ? (const char *)m : "", n);
    free(m);
}

static void ws_msg_cb(wslay_event_context_ptr ctx,
                      const struct wslay_event_on_msg_recv_arg *arg, void *user) {
    ws_conn *ws = user;
    switch (arg->opcode) {
    case WSLAY_TEXT_FRAME:
    case WSLAY_BINARY_FRAME:
        ws_deliver(ws);
        break;
    case WSLAY_CONNECTION_CLOSE:
        ws->peer_close = true; /* wslay has queued the echo of its code */
        break;
    default: /* PING: wslay queued the PONG; PONG: liveness only */
        break;
    }
}

static const struct wslay_event_callbacks ws_callbacks = {
    .recv_callback = ws_recv_cb,
    .send_callback = ws_send_cb,
    .on_frame_recv_start_callback = ws_frame_start_cb,
    .on_frame_recv_chunk_callback = ws_frame_chunk_cb,
    .on_msg_recv_callback = ws_msg_cb,
};

/* Run received bytes through the guard and wslay. */
static void ws_feed(ws_conn *ws, const uint8_t *data, size_t len) {
    if (!ws->wslay) {
        if (wslay_event_context_server_init(&ws->wslay, &ws_callbacks, ws) != 0) {
            ws->wslay = NULL;
            ws_abort(ws);
            return;
        }
        wslay_event_config_set_no_buffering(ws->wslay, 1);
        wslay_event_config_set_max_recv_msg_length(ws->wslay, ws->guard.max_msg);
    }
    ws->in = data;
    ws->in_len = len;
    ws->in_off = 0;
    ws->in_wslay++;
    int r = wslay_event_recv(ws->wslay);
    /* PONGs and the close echo, unless our own close frame went first. */
    if (r == 0 && !ws->close_queued && ws->state == WS_OPEN)
        r = wslay_event_send(ws->wslay);
    ws->in_wslay--;
    ws->in = NULL;
    ws->in_len = ws->in_off = 0;
    if (r != 0) {
        ws_abort(ws);
        return;
    }
    if (ws->state != WS_OPEN) return;
    if (ws->peer_close) {
        ws_begin_close(ws, 0, NULL, true);
    } else if (!wslay_event_get_read_enabled(ws->wslay)) {
        /* wslay closed on its own (e.g. a Close with an invalid code, which
         * it may spot before the guard has the frame's last byte); its close
         * frame went out already, so no second one from the guard. */
        ws_count(ws, VX_CTR_WS_PROTOCOL_ERRORS, 1);
        ws_begin_close(ws, 0, NULL, true);
    } else if (ws->guard.close_code) {
        ws_protocol_error(ws, ws->guard.close_code, ws->guard.reason);
    } else {
        ws_flush(ws);
    }
}

static void ws_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    ws_conn *ws = h->data;
    if (!ws->rbuf) ws->rbuf = malloc(WS_READ_BUF);
    *buf = uv_buf_init(ws->rbuf, ws->rbuf ? WS_READ_BUF : 0);
}

/* TLS: the plaintext received so far, through the same guard and wslay.
 * The read buffer is reused for it (OpenSSL has copied the ciphertext). */
static void ws_tls_drain(ws_conn *ws) {
    bool own = !ws->rbuf;
    if (own && !(ws->rbuf = malloc(WS_READ_BUF))) {
        ws_abort(ws);
        return;
    }
    while (ws->state == WS_OPEN) {
        ssize_t n = vx_tls_read(ws->tls, ws->rbuf, WS_READ_BUF);
        if (n == 0) break;
        if (n == UV_EOF) { /* close_notify: as the plain end of input */
            ws->eof = true;
            uv_read_stop((uv_stream_t *)ws->tcp);
            ws_abort(ws);
            break;
        }
        if (n < 0) {
            ws_abort(ws);
            break;
        }
        ws_feed(ws, (const uint8_t *)ws->rbuf, (size_t)n);
    }
    if (own) {
        free(ws->rbuf);
        ws->rbuf = NULL;
    }
}

static void ws_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    ws_conn *ws = s->data;
    if (nread > 0) {
        ws_count(ws, VX_CTR_BYTES_IN, (uint64_t)nread);
        ws->conn.last_recv_ms = uv_now(ws_loop(ws));
        ws->ping_outstanding = false;
        if (ws->tls && ws->state == WS_OPEN) {
            if (vx_tls_feed(ws->tls, buf->base, (size_t)nread) != 0)
                ws_abort(ws);
            else
                ws_tls_drain(ws);
        } else if (ws->state == WS_OPEN) {
            ws_feed(ws, (const uint8_t *)buf->base, (size_t)nread);
        }
    } else if (nread == UV_EOF) {
        ws->eof = true;
        uv_read_stop(s);
        /* Closing: our close frame may still reach a half-closed peer. */
        if (ws->state == WS_OPEN || ws->state == WS_LINGER) ws_abort(ws);
    } else if (nread < 0) {
        ws_abort(ws);
    }
    free(ws->rbuf);
    ws->rbuf = NULL;
    ws_progress(ws);
}

/* ---- timer: PING after silence, dead peer, close deadline ---------------- */

static void ws_timer_cb(uv_timer_t *t) {
    ws_conn *ws = t->data;
    if (ws->state != WS_OPEN) {
        /* The deadline (the close frame or our FIN is stuck), or the end of
         * the linger after a FIN that went out. */
        if (uv_now(ws_loop(ws)) >= ws->deadline_ms)
            ws_reset(ws);
        else
            ws_abort(ws);
        return;
    }
    uint64_t now = uv_now(ws_loop(ws));
    if (ws->ping_outstanding && ws->dead_after_ms) {
        uint64_t waited = now - ws->ping_sent_ms;
        if (waited >= ws->dead_after_ms) {
            ws_reset(ws); /* §10.3: silent after our PING */
            return;
        }
        uv_timer_start(t, ws_timer_cb, ws->dead_after_ms - waited, 0);
        return;
    }
    uint64_t silence = now - ws->conn.last_recv_ms;
    if (silence < ws->ping_after_ms) {
        uv_timer_start(t, ws_timer_cb, ws->ping_after_ms - silence, 0);
        return;
    }
    if (ws_control_frame(ws, VX_WS_OP_PING, NULL, 0) != 0) {
        ws_abort(ws);
        return;
    }
    ws->ping_outstanding = true;
    ws->ping_sent_ms = now;
    ws_flush(ws);
    uv_timer_start(t, ws_timer_cb,
                   ws->dead_after_ms ? ws->dead_after_ms : ws->ping_after_ms, 0);
}

/* ---- start -------------------------------------------------------------- */

static void ws_free_tcp_cb(uv_handle_t *h) {
    free(h);
}

static void ws_free_tcp_tls_cb(uv_handle_t *h) {
    vx_tls_free(h->data);
    free(h);
}

static uint64_t secs_to_ms(double s) {
    return s > 0 ? (uint64_t)(s * 1000.0 + 0.5) : 0;
}

int vx_ws_server_start(vx_node *node, uv_tcp_t *tcp, const char *peer, const char *uuid,
                       const char *name, const char *leftover, size_t leftover_len) {
    return vx_ws_server_start_tls(node, tcp, NULL, peer, uuid, name, leftover,
                                  leftover_len);
}

int vx_ws_server_start_tls(vx_node *node, uv_tcp_t *tcp, vx_tls *tls, const char *peer,
                           const char *uuid, const char *name, const char *leftover,
                           size_t leftover_len) {
    ws_conn *ws = calloc(1, sizeof *ws);
    if (!ws) {
        /* The TLS state is freed with the socket, once its writes called back. */
        tcp->data = tls;
        uv_close((uv_handle_t *)tcp, tls ? ws_free_tcp_tls_cb : ws_free_tcp_cb);
        return VX_E_NOMEM;
    }
    ws->tls = tls;
    ws->conn.peer_identity = tls ? vx_tls_peer_identity(tls) : NULL;
    const vx_node_opts *o = vx_node_options(node);
    ws->node = node;
    ws->tcp = tcp;
    tcp->data = ws;
    ws->state = WS_OPEN;
    ws->out_queue_max = o->out_queue_max;
    size_t max_msg = o->codec.max_msg_bytes;
    vx_ws_guard_init(&ws->guard, max_msg == SIZE_MAX ? max_msg : max_msg + 1);
    ws->ping_after_ms = secs_to_ms(o->ws_ping_after);
    ws->dead_after_ms = secs_to_ms(o->ws_dead_after);
    ws->conn.ops = &ws_ops;
    ws->conn.kind = VX_TRANSPORT_WS;
    snprintf(ws->conn.peer, sizeof ws->conn.peer, "%s", peer ? peer : "");
    uv_timer_init(tcp->loop, &ws->timer);   /* cannot fail */
    uv_prepare_init(tcp->loop, &ws->flush); /* cannot fail */
    ws->timer.data = ws;
    ws->flush.data = ws;
    ws->handles = 3;
    ws->conn.last_recv_ms = uv_now(tcp->loop);

    uv_read_stop((uv_stream_t *)tcp);
    int rc = uv_read_start((uv_stream_t *)tcp, ws_alloc_cb, ws_read_cb);
    if (rc < 0) {
        ws->node = NULL;
        ws_abort(ws);
        return VX_E_IO;
    }
    rc = vx_node_conn_open(node, &ws->conn, uuid, name);
    if (rc == VX_E_CLOSED) {
        ws->node = NULL;
        ws_begin_close(ws, 1001, "shutdown", false);
        ws_progress(ws);
        return rc;
    }
    if (rc < 0) {
        ws->node = NULL;
        ws_abort(ws);
        return rc;
    }
    ws->opened = true;
    if (ws->state == WS_OPEN && ws->ping_after_ms)
        uv_timer_start(&ws->timer, ws_timer_cb, ws->ping_after_ms, 0);
    /* The HTTP reader already counted these bytes in VX_CTR_BYTES_IN. */
    if (leftover_len && ws->state == WS_OPEN)
        ws_feed(ws, (const uint8_t *)leftover, leftover_len);
    /* TLS: records the HTTP reader had decrypted no further than the request
     * may hold the first frames. */
    if (ws->tls && ws->state == WS_OPEN) ws_tls_drain(ws);
    ws_progress(ws);
    return 0;
}
