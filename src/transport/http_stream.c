/* The long-poll response (PROTOCOL.md §9.3-§9.6, §12) as a vx_conn.
 *
 * Each msg is written as one chunk of msg + '.' (raw msg + '.' for an
 * HTTP/1.0 request, whose end is the TCP close), the msg bytes shared with
 * every other receiver. Items are written in batches: while one uv_write is
 * in flight, new items wait, and its callback writes all of them (up to
 * HTTP_BATCH) as one uv_write, so a burst costs a few syscalls rather than
 * one per item (§9.3 allows several chunks per write). An item stays in
 * `items` until its write completes, so when the response ends early the
 * ones still there are exactly the unsent msgs, in order, that go back to
 * the node (§9.6: a partly written item counts as unsent). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport/http_conn.h"
#include "transport/http_util.h"

#define HTTP_BATCH 64 /* items per uv_write */

#define CONN_OF(vc) ((vx_http_conn *)((char *)(vc)-offsetof(vx_http_conn, conn)))

static void ensure_head(vx_http_conn *c) {
    if (c->head_sent) return;
    c->head_sent = true;
    char h[256];
    int n =
        snprintf(h, sizeof h,
                 "HTTP/1.1 200 OK\r\n"
                 "Content-Type: text/plain; charset=utf-8\r\n"
                 "%s"
                 "Cache-Control: no-cache\r\n"
                 "X-Accel-Buffering: no\r\n\r\n",
                 c->chunked ? "Transfer-Encoding: chunked\r\n" : "Connection: close\r\n");
    vx_http_respond(c, h, (size_t)n, 200, false);
}

static void pop_done(vx_http_conn *c) {
    while (c->items && c->items->done) {
        vx_http_item *w = c->items;
        c->items = w->next;
        if (!c->items) c->items_tail = NULL;
        vx_msgbuf_decref(w->m);
        free(w);
    }
}

static void issue_waiting(vx_http_conn *c, bool always);

/* The write of a batch: the request is its first item's; req.data holds the
 * number of items in it. */
static void on_item_written(uv_write_t *req, int status) {
    vx_http_item *w = (vx_http_item *)req;
    vx_http_conn *c = w->c;
    size_t n = (size_t)(uintptr_t)req->data;
    if (status == 0) {
        for (size_t i = 0; i < n && w; i++, w = w->next) {
            w->done = true;
            c->queued -= w->bytes;
            vx_http_count(c, VX_CTR_BYTES_OUT,
                          w->bytes + (c->chunked ? strlen(w->sizeline) + 2 : 0));
        }
        pop_done(c);
        issue_waiting(c, false);
        return;
    }
    /* Not (fully) written: they stay listed and go back to the node. */
    if (!c->closing) vx_http_hard_close(c);
}

/* Hand up to HTTP_BATCH listed items from `w` to libuv as one write;
 * returns the item after them. */
static vx_http_item *issue(vx_http_conn *c, vx_http_item *w) {
    uv_buf_t b[3 * HTTP_BATCH];
    unsigned nb = 0;
    size_t n = 0;
    vx_http_item *first = w;
    for (; w && n < HTTP_BATCH; w = w->next, n++) {
        if (c->chunked) {
            snprintf(w->sizeline, sizeof w->sizeline, "%zx\r\n", w->bytes);
            b[nb++] = uv_buf_init(w->sizeline, (unsigned)strlen(w->sizeline));
        }
        b[nb++] = uv_buf_init(w->m->data, (unsigned)w->m->len);
        b[nb++] =
            c->chunked ? uv_buf_init((char *)".\r\n", 3) : uv_buf_init((char *)".", 1);
        w->issued = true;
    }
    first->req.data = (void *)(uintptr_t)n;
    if (c->closing || !c->tcp ||
        vx_stream_write(c->tls, &first->req, (uv_stream_t *)c->tcp, b, nb,
                        on_item_written) != 0) {
        /* Taken but not writable: they return to the node as unsent. */
        for (vx_http_item *x = first; x != w; x = x->next) x->issued = false;
        vx_http_hard_close(c);
        return NULL;
    }
    return w;
}

/* Write the items not yet issued (all of them are at the tail): `always`,
 * or else only when no batch is in flight (its callback comes back here). */
static void issue_waiting(vx_http_conn *c, bool always) {
    if (!c->head_sent || c->closing) return;
    vx_http_item *w = c->items;
    if (!always && w && w->issued) return; /* in flight: the front is never done */
    while (w && w->issued) w = w->next;
    while (w && !c->closing) w = issue(c, w);
}

static int http_send(vx_conn *vc, vx_msgbuf *m) {
    vx_http_conn *c = CONN_OF(vc);
    if (c->closing || c->shut || c->ending) return VX_E_CLOSED;
    size_t bytes = m->len + 1;
    size_t max = vx_node_options(c->srv->node)->out_queue_max;
    /* The hello and the pending queue (itself bounded by http_pending_max)
     * are always taken: refusing them would close every new response of a
     * remote whose pending bytes exceed out_queue_max, for ever. */
    if (!c->in_open && c->queued > 0 && c->queued + bytes > max) return VX_E_QUEUE_FULL;
    vx_http_item *w = calloc(1, sizeof *w);
    if (!w) return VX_E_NOMEM;
    w->c = c;
    w->m = vx_msgbuf_incref(m);
    w->bytes = bytes;
    w->hello = c->in_open && !c->sent_any;
    c->sent_any = true;
    if (c->items_tail)
        c->items_tail->next = w;
    else
        c->items = w;
    c->items_tail = w;
    c->queued += bytes;
    /* Until the request body is complete nothing is written (as vortexpy,
     * which answered after reading the body), so a body that turns out too
     * large or malformed still gets its 413 or 400. */
    if (c->head_sent) issue_waiting(c, false);
    return 0;
}

static void http_close(vx_conn *vc, vx_close_why why) {
    vx_http_conn *c = CONN_OF(vc);
    if (why == VX_CLOSE_ABORT) {
        /* vx_node_free, possibly cutting short an end under way: no final
         * chunk, the TCP connection goes now; the node hears of the end
         * (if it has not yet) when the socket is closed. */
        c->ending = true;
        vx_http_hard_close(c);
        return;
    }
    if (c->closing || c->ending) return;
    c->ending = true;
    /* While the body is still arriving nothing was written: the held items
     * return to the node as unsent. */
    if (why == VX_CLOSE_SLOW || !c->body_done) {
        vx_http_hard_close(c);
        return;
    }
    /* Takeover or shutdown: the queued items are written, then the end;
     * the timer closes the connection if the client does not take them. */
    vx_http_arm_timer(c, VX_HTTP_END_TIMEOUT_MS);
    ensure_head(c);
    issue_waiting(c, true); /* every item before the end */
    if (c->chunked) vx_http_respond(c, "0\r\n\r\n", 5, 200, false);
    vx_http_end(c);
}

static const vx_conn_ops http_ops = {.send = http_send, .close = http_close};

static void on_split(void *data, int status, const char *item, size_t len) {
    vx_http_conn *c = data;
    if (!c->opened) return;
    /* An abandoned oversized item (VX_E_MSG_TOO_BIG) has nothing to route;
     * the splitter has skipped it, the node counts it (§2.3). */
    if (status != 0)
        vx_node_conn_item_error(c->srv->node, &c->conn, status);
    else
        vx_node_conn_item(c->srv->node, &c->conn, item, len);
}

int vx_http_stream_begin(vx_http_conn *c) {
    vx_server *s = c->srv;
    const vx_node_opts *o = vx_node_options(s->node);
    c->streaming = true;
    c->chunked = c->parser.http_major > 1 ||
                 (c->parser.http_major == 1 && c->parser.http_minor >= 1);
    c->conn.ops = &http_ops;
    c->conn.kind = VX_TRANSPORT_HTTP;
    c->split = vx_splitter_new(o->codec.max_msg_bytes, on_split, c);
    if (!c->split) {
        vx_http_error(c, 500, NULL, "Out of memory", true);
        return VX_E_NOMEM;
    }
    bool has_body =
        (c->parser.flags & F_CHUNKED) ||
        (c->parser.content_length > 0 && c->parser.content_length != ULLONG_MAX);
    if (has_body && c->h_expect.len > 0 &&
        vx_http_has_token(c->h_expect.data, c->h_expect.len, "100-continue"))
        vx_http_respond(c, "HTTP/1.1 100 Continue\r\n\r\n", 25, 100, false);
    c->in_open = true;
    int r = vx_node_conn_open(s->node, &c->conn, c->uuid, c->name);
    c->in_open = false;
    if (r != 0) {
        if (!c->head_sent)
            vx_http_error(c, 503, NULL, "Vortex server is shutting down", true);
        else
            vx_http_hard_close(c);
        return r;
    }
    c->opened = true;
    return 0;
}

void vx_http_stream_body(vx_http_conn *c, const char *at, size_t len) {
    if (c->split && vx_splitter_feed(c->split, at, len) != 0) vx_http_hard_close(c);
}

void vx_http_stream_body_end(vx_http_conn *c) {
    /* §9.1: a final item without its '.' is still a msg. */
    if (c->split) vx_splitter_finish(c->split, true);
    if (c->closing || c->shut || !c->opened) return;
    /* The body is in: the head, then everything held, in order. */
    ensure_head(c);
    issue_waiting(c, true);
}

void vx_http_stream_report(vx_http_conn *c) {
    if (!c->opened || c->reported) return;
    c->reported = true;
    size_t n = 0;
    for (vx_http_item *w = c->items; w; w = w->next)
        n += !w->done && !w->hello && !w->m->heartbeat;
    vx_msgbuf **unsent = n ? malloc(n * sizeof *unsent) : NULL;
    size_t k = 0;
    vx_http_item **pp = &c->items;
    c->items_tail = NULL;
    while (*pp) {
        vx_http_item *w = *pp;
        /* A hello belongs to its response and a heartbeat to its moment:
         * neither is queued for later (§9.5). */
        if (!w->done && !w->hello && !w->m->heartbeat && unsent) {
            unsent[k++] = w->m; /* the node takes this reference */
            w->m = NULL;
        }
        pp = &w->next;
        c->items_tail = w;
    }
    vx_node_conn_closed(c->srv->node, &c->conn, unsent, k);
    free(unsent);
}

void vx_http_stream_free_items(vx_http_conn *c) {
    while (c->items) {
        vx_http_item *w = c->items;
        c->items = w->next;
        if (w->m) vx_msgbuf_decref(w->m);
        free(w);
    }
    c->items_tail = NULL;
}
