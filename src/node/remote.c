/* Remote vortexes (PROTOCOL.md §9.6, §10.3, §15): the table by uuid, the
 * HTTP pending queue with its overflow rule, the session timer, and
 * forgetting. */
#include <stdlib.h>
#include <string.h>

#include "node/node_impl.h"

/* ---- table ---------------------------------------------------------------- */

static uint64_t uuid_hash(const char *s) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
    return h ^ (h >> 29);
}

vx_remote *vxn_remote_find(const vx_node *node, const char *uuid) {
    if (!node->n_slots || !uuid) return NULL;
    for (vx_remote *r = node->slots[uuid_hash(uuid) & (node->n_slots - 1)]; r;
         r = r->hash_next)
        if (strcmp(r->uuid, uuid) == 0) return r;
    return NULL;
}

static int table_grow(vx_node *node) {
    size_t n = node->n_slots ? node->n_slots * 2 : 64;
    vx_remote **slots = calloc(n, sizeof *slots);
    if (!slots) return VX_E_NOMEM;
    for (vx_remote *r = node->remotes_head; r; r = r->next) {
        size_t i = uuid_hash(r->uuid) & (n - 1);
        r->hash_next = slots[i];
        slots[i] = r;
    }
    free(node->slots);
    node->slots = slots;
    node->n_slots = n;
    return 0;
}

static void table_remove(vx_node *node, vx_remote *r) {
    vx_remote **pp = &node->slots[uuid_hash(r->uuid) & (node->n_slots - 1)];
    while (*pp && *pp != r) pp = &(*pp)->hash_next;
    if (*pp) *pp = r->hash_next;
    if (r->prev)
        r->prev->next = r->next;
    else
        node->remotes_head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        node->remotes_tail = r->prev;
    r->prev = r->next = r->hash_next = NULL;
    node->n_remotes--;
}

static void session_cb(uv_timer_t *t);

vx_remote *vxn_remote_add(vx_node *node, const char *uuid, const char *name,
                          vx_transport_kind kind, const char *peer) {
    if (node->n_remotes >= node->n_slots && table_grow(node) < 0) return NULL;
    vx_remote *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->uuid = strdup(uuid);
    r->name = strdup(name);
    if (!r->uuid || !r->name) {
        free(r->uuid);
        free(r->name);
        free(r);
        return NULL;
    }
    r->node = node;
    r->kind = kind;
    snprintf(r->peer, sizeof r->peer, "%s", peer ? peer : "");
    r->refs = 1; /* the table's */
    uv_timer_init(node->loop, &r->session_timer);
    r->session_timer.data = r;
    node->n_handles++;

    size_t i = uuid_hash(uuid) & (node->n_slots - 1);
    r->hash_next = node->slots[i];
    node->slots[i] = r;
    r->prev = node->remotes_tail;
    if (node->remotes_tail)
        node->remotes_tail->next = r;
    else
        node->remotes_head = r;
    node->remotes_tail = r;
    node->n_remotes++;
    return r;
}

void vxn_remote_ref(vx_remote *r) {
    r->refs++;
}

static void remote_closed(uv_handle_t *h) {
    vx_remote *r = h->data;
    vx_node *node = r->node;
    free(r->uuid);
    free(r->name);
    free(r->gone_reason);
    free(r);
    node->n_handles--;
    vxn_maybe_finish(node);
}

void vxn_remote_unref(vx_node *node, vx_remote *r) {
    if (--r->refs) return;
    vxn_count_drop(node, VXN_DROP_CONNECTION_CLOSED, vxn_queue_clear(&r->pending));
    vxn_queue_free(&r->pending);
    uv_close((uv_handle_t *)&r->session_timer, remote_closed);
}

void vxn_remote_info(const vx_remote *r, vx_remote_info *info) {
    info->uuid = r->uuid;
    info->name = r->name;
    info->transport = r->kind;
    info->peer = r->peer;
    info->connected = r->conn != NULL;
    info->peer_identity = r->conn ? r->conn->peer_identity : NULL;
}

void vxn_notify_remote(vx_node *node, vx_remote *r, bool joined) {
    if (node->freeing) return;
    vx_remote_info info;
    vxn_remote_info(r, &info);
    if (node->on_remote) node->on_remote(node->on_remote_data, &info, joined);
    /* By index, re-reading the array: a listener may add (realloc) or remove
     * listeners; ones added now are not called for this event. */
    size_t n = node->n_listeners;
    node->notify_depth++;
    for (size_t i = 0; i < n && !node->freeing; i++) {
        struct vxn_listener l = node->listeners[i];
        if (l.fn) l.fn(l.data, &info, joined);
    }
    if (--node->notify_depth == 0) {
        size_t k = 0;
        for (size_t i = 0; i < node->n_listeners; i++)
            if (node->listeners[i].fn) node->listeners[k++] = node->listeners[i];
        node->n_listeners = k;
    }
}

void vxn_remote_forget(vx_node *node, vx_remote *r, vxn_drop_reason why) {
    if (r->forgotten) return;
    r->forgotten = true;
    table_remove(node, r);
    uv_timer_stop(&r->session_timer);
    vxn_count_drop(node, why, vxn_queue_clear(&r->pending));
    vxn_remote_ref(r);
    /* Only a pending overflow while a new conn waits behind a draining one
     * can forget an attached remote; that stream would have a gap, so end it. */
    if (r->conn) vxn_conn_close(node, r->conn, VX_CLOSE_SLOW);
    /* No reply can come now: waiting for the timeout would only delay. */
    vxn_requests_fail_target(node, r);
    vxn_notify_remote(node, r, false);
    vxn_remote_unref(node, r); /* the table's */
    vxn_remote_unref(node, r);
}

void vx_node_conn_gone_reason(vx_node *node, vx_conn *c, const char *reason) {
    vx_remote *r = c ? c->remote : NULL;
    if (!r || !reason) return;
    char *copy = strdup(reason);
    if (!copy) return; /* the requests then say "went away" */
    free(r->gone_reason);
    r->gone_reason = copy;
}

void vxn_remotes_release_all(vx_node *node) {
    while (node->remotes_head) {
        vx_remote *r = node->remotes_head;
        r->forgotten = true;
        table_remove(node, r);
        uv_timer_stop(&r->session_timer);
        vxn_count_drop(node, VXN_DROP_SHUTDOWN, vxn_queue_clear(&r->pending));
        vxn_remote_unref(node, r);
    }
}

/* ---- session timer -------------------------------------------------------- */

static void session_cb(uv_timer_t *t) {
    vx_remote *r = t->data;
    vx_node *node = r->node;
    node->session_expiries++;
    vxn_log(node,
            "vortexc: HTTP session of remote vortex %s (%s) expired after %.3g s; "
            "forgetting it and %zu pending msgs",
            r->uuid, r->name, node->opts.http_session_timeout, r->pending.len);
    vxn_remote_forget(node, r, VXN_DROP_SESSION_EXPIRED);
}

void vxn_session_start(vx_node *node, vx_remote *r) {
    if (uv_is_active((uv_handle_t *)&r->session_timer)) return;
    double s = node->opts.http_session_timeout;
    uint64_t ms = s > 0 ? (uint64_t)(s * 1000.0 + 0.5) : 0;
    uv_timer_start(&r->session_timer, session_cb, ms, 0);
}

/* ---- pending queue -------------------------------------------------------- */

static void overflow(vx_node *node, vx_remote *r, size_t extra_dropped) {
    node->pending_overflows++;
    vxn_log(node,
            "vortexc: pending queue of remote vortex %s (%s) over %zu bytes (%zu msgs, "
            "%zu bytes); forgetting it",
            r->uuid, r->name, node->opts.http_pending_max, r->pending.len + extra_dropped,
            r->pending.bytes);
    vxn_count_drop(node, VXN_DROP_PENDING_OVERFLOW, extra_dropped);
    vxn_remote_forget(node, r, VXN_DROP_PENDING_OVERFLOW);
}

void vxn_pending_append(vx_node *node, vx_remote *r, vx_msgbuf *m) {
    if (r->forgotten) {
        vxn_count_drop(node, VXN_DROP_CONNECTION_CLOSED, 1);
        return;
    }
    if (r->pending.len && r->pending.bytes + m->len + 1 > node->opts.http_pending_max) {
        overflow(node, r, 1);
        return;
    }
    /* Out of memory loses a msg; forgetting keeps the stream without gaps. */
    if (vxn_queue_push_back(&r->pending, vx_msgbuf_incref(m)) < 0) overflow(node, r, 1);
}

void vxn_pending_requeue(vx_node *node, vx_remote *r, vx_msgbuf **unsent, size_t n,
                         bool bounded) {
    size_t real = 0, bytes = 0;
    for (size_t i = 0; i < n; i++) {
        if (!unsent[i]->heartbeat) {
            real++;
            bytes += unsent[i]->len + 1;
        }
    }
    bool over = bounded && r->pending.len + real > 1 &&
                r->pending.bytes + bytes > node->opts.http_pending_max;
    if (r->forgotten || over) {
        for (size_t i = 0; i < n; i++) vx_msgbuf_decref(unsent[i]);
        if (r->forgotten)
            vxn_count_drop(node, VXN_DROP_CONNECTION_CLOSED, real);
        else
            overflow(node, r, real);
        return;
    }
    size_t lost = 0;
    for (size_t i = n; i-- > 0;) {
        vx_msgbuf *m = unsent[i];
        if (m->heartbeat)
            vx_msgbuf_decref(m);
        else if (vxn_queue_push_front(&r->pending, m) < 0)
            lost++;
    }
    if (lost) overflow(node, r, lost);
}

void vxn_pending_flush(vx_node *node, vx_remote *r) {
    vxn_remote_ref(r);
    while (!r->forgotten && r->conn && !r->n_draining && r->pending.len) {
        /* On failure the msg stays at the front, before any later msg and
         * after the unsent ones the closing conn gives back. */
        if (vxn_conn_send(node, r, vxn_queue_front(&r->pending)) < 0) break;
        vx_msgbuf_decref(vxn_queue_pop_front(&r->pending));
    }
    vxn_remote_unref(node, r);
}
