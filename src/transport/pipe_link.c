/* One pipe pair as a vx_conn (PROTOCOL.md §16, §2.3); see pipe_link.h.
 *
 * Writes: each msg goes out as one uv_write of two buffers (the shared
 * msgbuf and its '.'), straight from the msgbuf without a copy; libuv writes
 * at once when the pipe takes it, so a request/response round trip costs no
 * extra loop turn. Bytes libuv could not hand to the kernel yet count
 * towards out_queue_max (§12). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport/pipe_link.h"

#define PIPE_READ_BUF 65536

struct vxp_write {
    uv_write_t req;
    vxp_link *link;
    vx_msgbuf *m;
    vxp_write *prev, *next;
};

#define LINK_OF(c) ((vxp_link *)((char *)(c)-offsetof(vxp_link, conn)))

void vxp_ignore_sigpipe(void) {
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_IGN;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGPIPE, &sa, NULL);
    }
}

/* ---- the end of the stream from the peer ----------------------------------- */

void vxp_link_stop_reading(vxp_link *l) {
    if (l->read_done) return;
    l->read_done = true;
    if (l->started) uv_read_stop((uv_stream_t *)&l->rd);
    /* Deferred when called from the splitter's callback: no more items are
     * delivered from the chunk being split. */
    vx_splitter_free(l->split);
    l->split = NULL;
}

static void link_end(vxp_link *l, const char *reason) {
    if (l->read_done) return;
    vxp_link_stop_reading(l);
    l->cbs->ended(l, reason);
}

/* ---- writing ----------------------------------------------------------------- */

static void wr_closed_cb(uv_handle_t *h);

static void unlink_write(vxp_link *l, vxp_write *w) {
    if (w->prev)
        w->prev->next = w->next;
    else
        l->writes = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        l->writes_tail = w->prev;
}

static void write_cb(uv_write_t *req, int status) {
    vxp_write *w = (vxp_write *)req;
    vxp_link *l = w->link;
    unlink_write(l, w);
    vx_msgbuf_decref(w->m);
    free(w);
    if (status < 0 && status != UV_ECANCELED && !l->wr_closing) {
        char why[VX_ERROR_MESSAGE_MAX];
        snprintf(why, sizeof why, "cannot write to the peer: %s", uv_strerror(status));
        vxp_link_close_write(l, false);
        link_end(l, why);
        return;
    }
    if (l->wr_drain && !l->writes) vxp_link_close_write(l, false);
}

static int write_msg(vxp_link *l, vx_msgbuf *m) {
    vxp_write *w = malloc(sizeof *w);
    if (!w) return VX_E_NOMEM;
    uv_buf_t b[2] = {uv_buf_init(m->data, (unsigned)m->len), uv_buf_init((char *)".", 1)};
    w->link = l;
    w->m = vx_msgbuf_incref(m);
    int rc = uv_write(&w->req, (uv_stream_t *)&l->wr, b, 2, write_cb);
    if (rc < 0) {
        vx_msgbuf_decref(m);
        free(w);
        return VX_E_IO;
    }
    w->next = NULL;
    w->prev = l->writes_tail;
    if (l->writes_tail)
        l->writes_tail->next = w;
    else
        l->writes = w;
    l->writes_tail = w;
    return 0;
}

void vxp_link_close_write(vxp_link *l, bool drain) {
    if (l->wr_closing) return;
    if (drain && l->writes) {
        l->wr_drain = true;
        return;
    }
    l->wr_closing = true;
    uv_close((uv_handle_t *)&l->wr, wr_closed_cb); /* cancels what is left */
}

/* ---- the node's view ----------------------------------------------------------- */

static int link_send(vx_conn *c, vx_msgbuf *m) {
    vxp_link *l = LINK_OF(c);
    /* Our hello went out first (pipe_link.h); pipes need no heartbeats. */
    if (m->heartbeat) return 0;
    /* The peer is being stopped: it gets nothing more. */
    if (l->wr_closing || l->wr_drain) return 0;
    size_t queued = uv_stream_get_write_queue_size((uv_stream_t *)&l->wr);
    if (queued && queued + m->len + 1 > vx_node_options(l->node)->out_queue_max)
        return VX_E_QUEUE_FULL;
    int rc = write_msg(l, m);
    if (rc == 0) vx_node_count(l->node, VX_CTR_BYTES_OUT, m->len + 1);
    return rc;
}

static void link_close_op(vx_conn *c, vx_close_why why) {
    vxp_link *l = LINK_OF(c);
    l->cbs->node_close(l, why);
}

static const vx_conn_ops link_ops = {link_send, link_close_op};

void vxp_link_report(vxp_link *l, const char *gone_reason) {
    if (!l->registered || l->reported) return;
    l->reported = true;
    if (gone_reason) vx_node_conn_gone_reason(l->node, &l->conn, gone_reason);
    size_t n = 0;
    if (!l->wr_drain)
        for (vxp_write *w = l->writes; w; w = w->next) n++;
    vx_msgbuf **unsent = n ? malloc(n * sizeof *unsent) : NULL;
    size_t k = 0;
    if (unsent)
        for (vxp_write *w = l->writes; w && k < n; w = w->next)
            unsent[k++] = vx_msgbuf_incref(w->m);
    vx_node_conn_closed(l->node, &l->conn, unsent, k);
    free(unsent);
}

/* ---- reading ------------------------------------------------------------------- */

static char *dup_str(const vx_value *v) {
    if (vx_typeof(v) != VX_STR || vx_str_len(v) == 0) return NULL;
    return strndup(vx_str_value(v), vx_str_len(v));
}

/* The first item from the peer: it must be a hello (§16). */
static void first_item(vxp_link *l, const char *msg, size_t len) {
    char why[VX_ERROR_MESSAGE_MAX];
    vx_payload *p = NULL;
    vx_error e;
    int rc = vx_msg_decode(msg, len, &vx_node_options(l->node)->codec, &p, &e);
    if (rc < 0) {
        snprintf(why, sizeof why, "first item from the peer is not a hello: %s: %.160s",
                 vx_error_name(rc), e.message);
        link_end(l, why);
        return;
    }
    vx_value *filt = vx_payload_filt(p);
    char *uuid =
        vx_payload_is_empty(p) ? dup_str(vx_dict_get(filt, VX_HELLO_UUID_KEY)) : NULL;
    vx_value *name_v = vx_dict_get(filt, VX_HELLO_NAME_KEY);
    char *name = vx_typeof(name_v) == VX_STR
                     ? strndup(vx_str_value(name_v), vx_str_len(name_v))
                     : strdup("");
    vx_payload_decref(p);
    if (!uuid || !name) {
        snprintf(why, sizeof why, "%s",
                 !name ? "out of memory reading the peer's hello"
                       : "first item from the peer is not a hello (no " VX_HELLO_UUID_KEY
                         " in an empty payload)");
    } else if (strcmp(uuid, vx_node_uuid(l->node)) == 0) {
        snprintf(why, sizeof why, "the peer's hello names our own uuid %s", uuid);
    } else {
        l->peer_uuid = uuid;
        l->peer_name = name;
        rc = vx_node_conn_open(l->node, &l->conn, uuid, name);
        if (rc == 0) {
            l->registered = true;
            l->cbs->ready(l);
            return;
        }
        snprintf(why, sizeof why, "cannot register the peer %s (%s): %s", uuid, name,
                 rc == VX_E_CLOSED ? "the vortex is shutting down" : vx_strerror(rc));
        link_end(l, why);
        return;
    }
    free(uuid);
    free(name);
    link_end(l, why);
}

static void split_cb(void *data, int status, const char *item, size_t len) {
    vxp_link *l = data;
    if (l->read_done) return;
    if (!l->registered) {
        if (status < 0) {
            char why[VX_ERROR_MESSAGE_MAX];
            snprintf(why, sizeof why,
                     "first item from the peer is over max_msg_bytes (%zu): not a hello",
                     vx_node_options(l->node)->codec.max_msg_bytes);
            link_end(l, why);
        } else if (len > 0) { /* an empty item is a keepalive */
            first_item(l, item, len);
        }
        return;
    }
    if (l->reported) return;
    if (status < 0)
        vx_node_conn_item_error(l->node, &l->conn, status);
    else
        vx_node_conn_item(l->node, &l->conn, item, len);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    vxp_link *l = h->data;
    if (!l->rbuf) l->rbuf = malloc(PIPE_READ_BUF);
    *buf = uv_buf_init(l->rbuf, l->rbuf ? PIPE_READ_BUF : 0);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    vxp_link *l = s->data;
    if (nread > 0) {
        if (l->registered && !l->reported)
            vx_node_count(l->node, VX_CTR_BYTES_IN, (uint64_t)nread);
        if (l->split && vx_splitter_feed(l->split, buf->base, (size_t)nread) < 0)
            link_end(l, "out of memory reading from the peer");
    } else if (nread == UV_EOF) {
        link_end(l, NULL);
    } else if (nread < 0) {
        char why[VX_ERROR_MESSAGE_MAX];
        snprintf(why, sizeof why, "cannot read from the peer: %s", uv_strerror((int)nread));
        link_end(l, why);
    }
}

/* ---- lifetime --------------------------------------------------------------------- */

int vxp_link_init(vxp_link *l, vx_node *node, uv_loop_t *loop, const vxp_link_cbs *cbs) {
    memset(l, 0, sizeof *l);
    l->node = node;
    l->cbs = cbs;
    l->conn.ops = &link_ops;
    l->conn.kind = VX_TRANSPORT_PIPE;
    l->split = vx_splitter_new(vx_node_options(node)->codec.max_msg_bytes, split_cb, l);
    if (!l->split) return VX_E_NOMEM;
    uv_pipe_init(loop, &l->rd, 0);
    uv_pipe_init(loop, &l->wr, 0);
    l->rd.data = l->wr.data = l;
    l->open_handles = 2;
    return 0;
}

int vxp_link_start(vxp_link *l, vx_error *err) {
    vx_node *node = l->node;
    vx_payload *hp = vx_payload_new_hello(vx_node_uuid(node), vx_node_name(node));
    vx_buf b = {0};
    int rc = hp ? vx_msg_encode(hp, &vx_node_options(node)->codec, &b, err)
                : vx_error_set(err, VX_E_NOMEM, "out of memory for the hello");
    vx_payload_decref(hp);
    vx_msgbuf *m = rc == 0 ? vx_msgbuf_new(b.data, b.len) : NULL;
    vx_buf_free(&b);
    if (rc < 0) return rc;
    if (!m) return vx_error_set(err, VX_E_NOMEM, "out of memory for the hello");
    m->heartbeat = true; /* never handed back as unsent */
    rc = write_msg(l, m);
    vx_msgbuf_decref(m);
    if (rc < 0) return vx_error_set(err, rc, "cannot write the hello to the pipe");
    int urc = uv_read_start((uv_stream_t *)&l->rd, alloc_cb, read_cb);
    if (urc < 0)
        return vx_error_set(err, VX_E_IO, "cannot read from the pipe: %s",
                            uv_strerror(urc));
    l->started = true;
    return 0;
}

static void handle_gone(vxp_link *l) {
    if (--l->open_handles > 0) return;
    free(l->rbuf);
    l->rbuf = NULL;
    free(l->peer_uuid);
    free(l->peer_name);
    l->peer_uuid = l->peer_name = NULL;
    l->cbs->handles_closed(l);
}

static void wr_closed_cb(uv_handle_t *h) {
    handle_gone(h->data);
}

static void rd_closed_cb(uv_handle_t *h) {
    handle_gone(h->data);
}

void vxp_link_close(vxp_link *l, bool drain) {
    if (l->closing) return;
    l->closing = true;
    vxp_link_stop_reading(l);
    vxp_link_close_write(l, drain); /* first: a draining link hands back nothing */
    vxp_link_report(l, NULL);
    uv_close((uv_handle_t *)&l->rd, rd_closed_cb);
}
