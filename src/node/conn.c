/* The transport -> node calls of conn.h (PROTOCOL.md §9.4, §9.5, §10.1,
 * §10.3, §12): registering a downstream with takeover, hello and pending
 * msgs; received items; the end of a conn; heartbeats; slow consumers. */
#include <stdlib.h>
#include <string.h>

#include "node/node_impl.h"

static void conn_link(vx_node *node, vx_conn *c) {
    c->node_prev = NULL;
    c->node_next = node->conns_head;
    if (node->conns_head) node->conns_head->node_prev = c;
    node->conns_head = c;
    node->n_conns++;
    node->n_conns_by_kind[(unsigned)c->kind & 3]++;
}

static void conn_unlink(vx_node *node, vx_conn *c) {
    if (c->node_prev)
        c->node_prev->node_next = c->node_next;
    else
        node->conns_head = c->node_next;
    if (c->node_next) c->node_next->node_prev = c->node_prev;
    c->node_prev = c->node_next = NULL;
    node->n_conns--;
    node->n_conns_by_kind[(unsigned)c->kind & 3]--;
}

/* ---- heartbeats (§9.5, §10.3) --------------------------------------------- */

static uint64_t period_ms(const vx_node *node) {
    return (uint64_t)(node->opts.heartbeat_period * 1000.0 + 0.5);
}

/* Ticks at a fifth of the period and beats a conn idle for four fifths of
 * it, so no stream goes longer than heartbeat_period without an item. */
static void heartbeat_tick(uv_timer_t *t) {
    vx_node *node = t->data;
    uint64_t now = uv_now(node->loop), period = period_ms(node);
    uint64_t idle_limit = period - period / 5;
    vx_msgbuf *hb = NULL;
    for (vx_conn *c = node->conns_head, *next; c && !node->freeing; c = next) {
        next = c->node_next;
        vx_remote *r = c->remote;
        if ((c->node_flags & VXN_CONN_CLOSING) || !r || r->conn != c) continue;
        if (now - c->last_send_ms < idle_limit) continue;
        if (!hb) {
            vx_payload *p = vx_payload_new_heartbeat();
            int rc = p ? vxn_encode(node, p, &hb, NULL) : VX_E_NOMEM;
            vx_payload_decref(p);
            if (rc < 0) break; /* out of memory: try again next tick */
            hb->heartbeat = true;
        }
        vx_transport_kind kind = c->kind;
        vxn_remote_ref(r);
        int rc = vxn_conn_send(node, r, hb);
        vxn_remote_unref(node, r);
        /* A slow close may have run callbacks that changed the list: start
         * over; conns already served have last_send_ms == now. (A refusal
         * closes nothing, and starting over would retry the same conn.) */
        if (rc < 0 && !vxn_send_refused(kind, rc)) next = node->conns_head;
    }
    vx_msgbuf_decref(hb);
}

static void heartbeat_start(vx_node *node) {
    if (node->opts.heartbeat_period <= 0 ||
        uv_is_active((uv_handle_t *)&node->heartbeat_timer))
        return;
    uint64_t tick = period_ms(node) / 5;
    if (tick == 0) tick = 1;
    uv_timer_start(&node->heartbeat_timer, heartbeat_tick, tick, tick);
}

/* ---- sending to one conn, slow consumers (§12) ----------------------------- */

int vxn_conn_send(vx_node *node, vx_remote *r, vx_msgbuf *m) {
    vx_conn *c = r->conn;
    int rc = c->ops->send(c, m);
    if (rc == 0) {
        c->last_send_ms = uv_now(node->loop);
        if (m->heartbeat)
            node->heartbeats_out++;
        else
            node->msgs_out++;
        return 0;
    }
    if (vxn_send_refused(c->kind, rc)) return rc; /* §11: not a slow consumer */
    if (rc == VX_E_QUEUE_FULL) {
        node->slow_closes++;
        vxn_log(
            node,
            "vortexc: warning: slow consumer: remote vortex %s (%s) at %s has more than "
            "%zu bytes queued (next msg %zu bytes); closing its %s connection",
            r->uuid, r->name, c->peer, node->opts.out_queue_max, m->len,
            c->kind == VX_TRANSPORT_HTTP ? "HTTP" : "stream");
    } else {
        vxn_log(node, "vortexc: send to remote vortex %s (%s) failed: %s; closing", r->uuid,
                r->name, vx_error_name(rc));
    }
    /* Either way this conn can no longer keep order: end it; its unsent msgs
     * come back through vx_node_conn_closed. */
    vxn_conn_close(node, c, VX_CLOSE_SLOW);
    return rc;
}

void vxn_conn_close(vx_node *node, vx_conn *c, vx_close_why why) {
    vx_remote *r = c->remote;
    /* The first reason is kept: it decides what happens to the unsent msgs. */
    if (!(c->node_flags & VXN_CONN_CLOSING))
        c->node_flags |= VXN_CONN_CLOSING | ((uint32_t)(why + 1) << VXN_CONN_WHY_SHIFT);
    if (r) {
        if (r->conn == c) r->conn = NULL;
        if (c->kind == VX_TRANSPORT_HTTP &&
            (why == VX_CLOSE_TAKEOVER || why == VX_CLOSE_SLOW) &&
            !(c->node_flags & VXN_CONN_DRAINING) && !r->forgotten && !node->freeing) {
            c->node_flags |= VXN_CONN_DRAINING;
            r->n_draining++;
        }
    }
    c->ops->close(c, why); /* may report vx_node_conn_closed(c) before returning */
}

/* ---- transport -> node ------------------------------------------------------ */

int vx_node_conn_open(vx_node *node, vx_conn *c, const char *uuid, const char *name) {
    if (!node || !c) return VX_E_INVAL;
    c->remote = NULL;
    c->node_flags = 0;
    c->node_prev = c->node_next = NULL;
    if (vx_node_shutting_down(node)) return VX_E_CLOSED;
    if (!uuid || !uuid[0] || !name || !c->ops) return VX_E_INVAL;

    /* Everything that can fail comes first, so a failure leaves no trace. */
    vx_msgbuf *hello = NULL;
    vx_payload *hp = vx_payload_new_hello(node->uuid, node->name);
    int rc = hp ? vxn_encode(node, hp, &hello, NULL) : VX_E_NOMEM;
    vx_payload_decref(hp);
    if (rc < 0) return rc;
    hello->heartbeat = true; /* belongs to this stream only, never re-queued */

    vx_remote *r = vxn_remote_find(node, uuid);
    bool joined = r == NULL;
    char *new_name = NULL;
    if (joined) {
        r = vxn_remote_add(node, uuid, name, c->kind, c->peer);
        if (!r) {
            vx_msgbuf_decref(hello);
            return VX_E_NOMEM;
        }
    } else if (strcmp(r->name, name) != 0 && !(new_name = strdup(name))) {
        vx_msgbuf_decref(hello);
        return VX_E_NOMEM;
    }

    conn_link(node, c);
    c->last_send_ms = c->last_recv_ms = uv_now(node->loop);
    heartbeat_start(node);

    vxn_remote_ref(r); /* ours, while we call out */
    uv_timer_stop(&r->session_timer);
    if (new_name) {
        free(r->name);
        r->name = new_name;
    }
    r->kind = c->kind;
    memcpy(r->peer, c->peer, sizeof r->peer);
    r->peer[sizeof r->peer - 1] = '\0';

    /* §9.4: take over, register, hello, pending. The hold (an extra
     * n_draining) keeps whatever the old conn gives back, now or later,
     * from being flushed before the hello. */
    vx_conn *old = r->conn;
    r->conn = c;
    c->remote = r;
    vxn_remote_ref(r); /* the conn's */
    r->n_draining++;
    if (old) vxn_conn_close(node, old, VX_CLOSE_TAKEOVER);
    if (r->conn == c) vxn_conn_send(node, r, hello);
    vx_msgbuf_decref(hello);
    r->n_draining--;
    vxn_settle(node, r);

    if (joined && !r->forgotten) vxn_notify_remote(node, r, true);
    vxn_remote_unref(node, r);
    return 0;
}

void vx_node_conn_item(vx_node *node, vx_conn *c, const char *msg, size_t len) {
    vx_remote *r = c->remote;
    if (!r || node->freeing) return;
    c->last_recv_ms = uv_now(node->loop);
    if (len == 0) return; /* bare '.': liveness only */
    node->msgs_in++;
    vx_payload *p = NULL;
    vx_error e;
    int rc = vx_codec_decode(node->codec, msg, len, &p, &e);
    if (rc < 0) {
        node->decode_errors[-rc < VXN_MAX_CODE ? -rc : 0]++;
        vxn_log(node, "vortexc: dropped a msg from remote vortex %s (%s): %s: %s", r->uuid,
                r->name, vx_error_name(rc), e.message);
        return;
    }
    vxn_route_from(node, r, p, c->peer_identity);
    vx_payload_decref(p);
}

void vx_node_conn_item_error(vx_node *node, vx_conn *c, int code) {
    vx_remote *r = c->remote;
    if (!r || node->freeing) return;
    c->last_recv_ms = uv_now(node->loop);
    node->msgs_in++;
    node->decode_errors[code < 0 && -code < VXN_MAX_CODE ? -code : 0]++;
    if (code == VX_E_MSG_TOO_BIG)
        vxn_log(node,
                "vortexc: dropped a msg from remote vortex %s (%s): %s: stream item over "
                "max_msg_bytes (%zu) abandoned",
                r->uuid, r->name, vx_error_name(code), node->opts.codec.max_msg_bytes);
    else
        vxn_log(node, "vortexc: dropped a msg from remote vortex %s (%s): %s", r->uuid,
                r->name, vx_error_name(code));
}

void vxn_settle(vx_node *node, vx_remote *r) {
    if (node->freeing || r->forgotten || r->n_draining) return;
    if (r->conn)
        vxn_pending_flush(node, r);
    else if (node->shutting_down)
        ; /* remotes stay known until the node is freed */
    else if (r->kind == VX_TRANSPORT_HTTP)
        vxn_session_start(node, r); /* detached (§9.6) */
    else
        vxn_remote_forget(node, r, VXN_DROP_CONNECTION_CLOSED); /* §10.3 */
}

static void drop_unsent(vx_node *node, vx_msgbuf **unsent, size_t n, vxn_drop_reason why) {
    size_t real = 0;
    for (size_t i = 0; i < n; i++) {
        if (!unsent[i]->heartbeat) real++;
        vx_msgbuf_decref(unsent[i]);
    }
    vxn_count_drop(node, why, real);
}

void vx_node_conn_closed(vx_node *node, vx_conn *c, vx_msgbuf **unsent, size_t n_unsent) {
    vx_remote *r = c->remote;
    if (!r) { /* never registered */
        drop_unsent(node, unsent, n_unsent, VXN_DROP_CONNECTION_CLOSED);
        return;
    }
    conn_unlink(node, c);
    if (node->n_conns == 0) uv_timer_stop(&node->heartbeat_timer);
    uint32_t fl = c->node_flags;
    bool closing = fl & VXN_CONN_CLOSING;
    vx_close_why why =
        closing ? (vx_close_why)((fl >> VXN_CONN_WHY_SHIFT) - 1) : VX_CLOSE_SLOW;
    vx_transport_kind kind = c->kind;
    c->remote = NULL;
    if (r->conn == c) r->conn = NULL;
    if (fl & VXN_CONN_DRAINING) r->n_draining--;

    if (node->freeing || (closing && why == VX_CLOSE_SHUTDOWN))
        drop_unsent(node, unsent, n_unsent, VXN_DROP_SHUTDOWN);
    else if (r->forgotten || kind != VX_TRANSPORT_HTTP)
        drop_unsent(node, unsent, n_unsent, VXN_DROP_CONNECTION_CLOSED);
    else /* §9.6: to the front, bounded unless a new conn takes them at once */
        vxn_pending_requeue(node, r, unsent, n_unsent, r->conn == NULL);

    vxn_settle(node, r);
    vxn_remote_unref(node, r); /* the conn's */
    vxn_shutdown_check(node);
    vxn_free_when_idle(node);
}

void vx_node_count(vx_node *node, vx_counter which, uint64_t n) {
    if ((unsigned)which < VX_CTR__COUNT) node->ctr[which] += n;
}
