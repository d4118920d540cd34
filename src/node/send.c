/* Sending (PROTOCOL.md §15) and routing received payloads (§7.3, §8).
 *
 * A send encodes once into a vx_msgbuf shared by every target. Targets are
 * looked up first, so an unknown uuid or name fails before anything is
 * encoded or queued. A target equal to the node itself is served one loop
 * turn later from the local queue (decoding the same bytes a remote would
 * get), so an endpoint answering itself cannot recurse without bound. */
#include <stdlib.h>
#include <string.h>

#include "node/node_impl.h"

/* §8: a server echoes rapuiServerEcho back to the client that sent it; a
 * client library echoes rapuiClientEcho back to its server. Each treats the
 * other key as an ordinary filt key. */
#define VX_SERVER_ECHO_KEY "rapuiServerEcho"
#define VX_CLIENT_ECHO_KEY "rapuiClientEcho"
#define VXN_SCRATCH_KEEP   (1u << 20) /* keep at most this much encode buffer */

int vxn_encode(vx_node *node, const vx_payload *p, vx_msgbuf **out, vx_error *err) {
    *out = NULL;
    node->scratch.len = 0;
    int rc = vx_codec_encode(node->codec, p, &node->scratch, err);
    if (rc == 0) {
        *out = vx_msgbuf_new(node->scratch.data, node->scratch.len);
        if (!*out)
            rc = vx_error_set(err, VX_E_NOMEM, "out of memory for a %zu byte msg",
                              node->scratch.len);
    }
    if (node->scratch.cap > VXN_SCRATCH_KEEP) vx_buf_free(&node->scratch);
    return rc;
}

int vxn_deliver(vx_node *node, vx_remote *r, vx_msgbuf *m) {
    int refused = 0;
    if (r->forgotten) {
        vxn_count_drop(node, VXN_DROP_CONNECTION_CLOSED, 1);
        return 0;
    }
    if (r->conn && !r->n_draining && !r->pending.len) {
        vx_transport_kind kind = r->conn->kind;
        vxn_remote_ref(r);
        int rc = vxn_conn_send(node, r, m);
        if (rc < 0) {
            if (vxn_send_refused(kind, rc))
                refused = rc; /* §11: the caller is told; the conn stays */
            else if (kind == VX_TRANSPORT_HTTP) /* §12: follows the unsent ones */
                vxn_pending_append(node, r, m);
            else
                vxn_count_drop(node, VXN_DROP_SLOW_CONSUMER, 1);
        }
        vxn_remote_unref(node, r);
    } else if (r->conn || r->n_draining || r->kind == VX_TRANSPORT_HTTP) {
        vxn_pending_append(node, r, m);
        vxn_settle(node, r);
    } else {
        /* a WebSocket (or pipe) being closed as slow: about to be forgotten */
        vxn_count_drop(node, VXN_DROP_CONNECTION_CLOSED, 1);
    }
    return refused;
}

/* Fill `err` for a msg a remote's conn refused (vxn_send_refused). */
static int refused_error(const char *uuid, int rc, vx_error *err) {
    if (rc == VX_E_QUEUE_FULL)
        return vx_error_set(err, rc,
                            "send queue to remote vortex '%s' is full; the msg was not "
                            "queued (the queue and the connection are kept)",
                            uuid);
    return vx_error_set(err, rc, "cannot queue a msg for remote vortex '%s': %s", uuid,
                        vx_strerror(rc));
}

/* ---- local delivery ----------------------------------------------------------- */

int vxn_local_enqueue(vx_node *node, vx_msgbuf *m) {
    int rc = vxn_queue_push_back(&node->local, vx_msgbuf_incref(m));
    if (rc == 0 && !uv_is_active((uv_handle_t *)&node->local_idle))
        uv_idle_start(&node->local_idle, vxn_local_drain);
    return rc;
}

void vxn_local_drain(uv_idle_t *h) {
    vx_node *node = h->data;
    /* Only what was queued before this turn: msgs sent by these endpoints
     * wait for the next turn, so I/O is never starved. */
    for (size_t n = node->local.len; n > 0 && !node->freeing; n--) {
        vx_msgbuf *m = vxn_queue_pop_front(&node->local);
        vx_payload *p = NULL;
        vx_error e;
        int rc = vx_codec_decode(node->codec, m->data, m->len, &p, &e);
        node->msgs_in++;
        if (rc < 0) {
            node->decode_errors[-rc < VXN_MAX_CODE ? -rc : 0]++;
            vxn_log(node, "vortexc: dropped a local msg: %s: %s", vx_error_name(rc),
                    e.message);
        } else {
            vxn_route(node, NULL, p);
            vx_payload_decref(p);
        }
        vx_msgbuf_decref(m);
    }
    if (!node->local.len && !node->freeing) uv_idle_stop(&node->local_idle);
}

/* ---- routing -------------------------------------------------------------- */

typedef struct reply_target {
    vx_node *node;
    const char *uuid;
} reply_target;

static int reply_remote(void *data, vx_payload *reply, vx_error *err) {
    reply_target *t = data;
    return vx_node_send_uuid(t->node, t->uuid, reply, err);
}

static int reply_local(void *data, vx_payload *reply, vx_error *err) {
    vx_node *node = data;
    return vx_node_send_uuid(node, node->uuid, reply, err);
}

void vxn_route(vx_node *node, vx_remote *r, vx_payload *p) {
    vxn_route_from(node, r, p, r && r->conn ? r->conn->peer_identity : NULL);
}

void vxn_route_from(vx_node *node, vx_remote *r, vx_payload *p, const char *peer_identity) {
    if (r) vxn_remote_ref(r);
    vx_value *filt = vx_payload_filt(p);
    const char *echo_key =
        r && r->kind == VX_TRANSPORT_CLIENT ? VX_CLIENT_ECHO_KEY : VX_SERVER_ECHO_KEY;
    if (r && vx_dict_get(filt, echo_key)) {
        /* §8: remove the key, send the rest straight back, then route it */
        vx_dict_del(filt, echo_key);
        vx_msgbuf *m = NULL;
        vx_error e;
        if (vxn_encode(node, p, &m, &e) == 0) {
            if (vxn_deliver(node, r, m) < 0)
                vxn_log(node,
                        "vortexc: cannot echo a msg to remote vortex %s (%s): "
                        "its send queue is full",
                        r->uuid, r->name);
            vx_msgbuf_decref(m);
        } else {
            vxn_log(node, "vortexc: cannot echo a msg to remote vortex %s (%s): %s",
                    r->uuid, r->name, e.message);
        }
    }
    if (!vx_payload_is_empty(p) && !node->freeing) {
        reply_target t = {node, r ? r->uuid : node->uuid};
        vx_route_ctx ctx = {
            .sender_uuid = r ? r->uuid : node->uuid,
            .sender_name = r ? r->name : node->name,
            .reply = r ? reply_remote : reply_local,
            .reply_data = r ? (void *)&t : (void *)node,
            .peer_identity = peer_identity,
        };
        vx_router_dispatch(node->router, p, &ctx);
    }
    if (r) vxn_remote_unref(node, r);
}

/* ---- sending (§15) ------------------------------------------------------- */

static int check_open(vx_node *node, vx_error *err) {
    if (vx_node_shutting_down(node))
        return vx_error_set(err, VX_E_CLOSED, "the vortex %s is shutting down", node->uuid);
    return 0;
}

int vxn_send_uuid_msg(vx_node *node, const char *uuid, vx_msgbuf *m, vx_error *err) {
    if (strcmp(uuid, node->uuid) == 0) {
        if (vxn_local_enqueue(node, m) < 0)
            return vx_error_set(err, VX_E_NOMEM, "out of memory queueing a local msg");
        return 0;
    }
    vx_remote *r = vxn_remote_find(node, uuid);
    if (!r)
        return vx_error_set(err, VX_E_NO_SUCH_VORTEX, "no remote vortex with uuid '%s'",
                            uuid);
    int rc = vxn_deliver(node, r, m);
    return rc < 0 ? refused_error(uuid, rc, err) : 0;
}

int vx_node_send_uuid(vx_node *node, const char *uuid, const vx_payload *p, vx_error *err) {
    if (!node || !uuid || !p)
        return vx_error_set(err, VX_E_INVAL, "vx_node_send_uuid: NULL argument");
    int rc = check_open(node, err);
    if (rc < 0) return rc;
    if (strcmp(uuid, node->uuid) != 0 && !vxn_remote_find(node, uuid))
        return vx_error_set(err, VX_E_NO_SUCH_VORTEX, "no remote vortex with uuid '%s'",
                            uuid);
    vx_msgbuf *m;
    rc = vxn_encode(node, p, &m, err);
    if (rc < 0) return rc;
    rc = vxn_send_uuid_msg(node, uuid, m, err);
    vx_msgbuf_decref(m);
    return rc;
}

/* Deliver to a snapshot of targets (with references), since a delivery may
 * forget remotes and run on_remote callbacks that change the table. */
static int send_many(vx_node *node, const char *name, bool local, const vx_payload *p,
                     vx_error *err) {
    size_t n = 0;
    vx_remote **targets = NULL;
    if (node->n_remotes) {
        targets = malloc(node->n_remotes * sizeof *targets);
        if (!targets) return vx_error_set(err, VX_E_NOMEM, "out of memory");
    }
    for (vx_remote *r = node->remotes_head; r; r = r->next)
        if (!name || strcmp(r->name, name) == 0) targets[n++] = r;
    if (name && n == 0 && !local) {
        free(targets);
        return vx_error_set(err, VX_E_NO_SUCH_VORTEX, "no remote vortex named '%s'", name);
    }
    vx_msgbuf *m;
    int rc = vxn_encode(node, p, &m, err);
    if (rc < 0) {
        free(targets);
        return rc;
    }
    /* A target that refuses (a client's full send queue, §11) does not stop
     * the others; the caller learns of the first refusal. */
    for (size_t i = 0; i < n; i++) vxn_remote_ref(targets[i]);
    for (size_t i = 0; i < n; i++) {
        int drc = vxn_deliver(node, targets[i], m);
        if (drc < 0 && rc == 0) rc = refused_error(targets[i]->uuid, drc, err);
    }
    for (size_t i = 0; i < n; i++) vxn_remote_unref(node, targets[i]);
    free(targets);
    if (local && vxn_local_enqueue(node, m) < 0 && rc == 0)
        rc = vx_error_set(err, VX_E_NOMEM, "out of memory queueing a local msg");
    vx_msgbuf_decref(m);
    return rc;
}

int vx_node_send_name(vx_node *node, const char *name, const vx_payload *p, vx_error *err) {
    if (!node || !name || !p)
        return vx_error_set(err, VX_E_INVAL, "vx_node_send_name: NULL argument");
    int rc = check_open(node, err);
    if (rc < 0) return rc;
    return send_many(node, name, strcmp(name, node->name) == 0, p, err);
}

int vx_node_broadcast(vx_node *node, const vx_payload *p, vx_error *err) {
    if (!node || !p)
        return vx_error_set(err, VX_E_INVAL, "vx_node_broadcast: NULL argument");
    int rc = check_open(node, err);
    if (rc < 0) return rc;
    return send_many(node, NULL, false, p, err);
}

int vx_node_send_uuids(vx_node *node, const char *const *uuids, size_t n,
                       const vx_payload *p, size_t *sent, vx_error *err) {
    if (sent) *sent = 0;
    if (!node || (!uuids && n) || !p)
        return vx_error_set(err, VX_E_INVAL, "vx_node_send_uuids: NULL argument");
    int rc = check_open(node, err);
    if (rc < 0) return rc;
    /* Resolve every uuid (with references) before delivering: a delivery
     * may forget remotes and run listeners that free the caller's strings. */
    vx_remote **targets = n ? malloc(n * sizeof *targets) : NULL;
    if (n && !targets) return vx_error_set(err, VX_E_NOMEM, "out of memory");
    size_t nt = 0;
    bool local = false;
    for (size_t i = 0; i < n; i++) {
        if (!uuids[i]) continue;
        if (strcmp(uuids[i], node->uuid) == 0) {
            local = true;
            continue;
        }
        vx_remote *r = vxn_remote_find(node, uuids[i]);
        if (r) {
            vxn_remote_ref(r);
            targets[nt++] = r;
        }
    }
    vx_msgbuf *m = NULL;
    if (nt || local) rc = vxn_encode(node, p, &m, err);
    size_t count = 0;
    for (size_t i = 0; i < nt; i++) {
        if (rc == 0 || m) {
            int drc = vxn_deliver(node, targets[i], m);
            if (drc < 0 && rc == 0)
                rc = refused_error(targets[i]->uuid, drc, err);
            else if (drc == 0)
                count++;
        }
    }
    for (size_t i = 0; i < nt; i++) vxn_remote_unref(node, targets[i]);
    free(targets);
    if (local && m) {
        if (vxn_local_enqueue(node, m) < 0) {
            if (rc == 0)
                rc = vx_error_set(err, VX_E_NOMEM, "out of memory queueing a local msg");
        } else {
            count++;
        }
    }
    if (m) vx_msgbuf_decref(m);
    if (sent) *sent = count;
    return rc;
}
