/* The node's lifetime: options, creation, accessors, listeners, clean
 * shutdown and the deferred free (node_impl.h explains the counting). */
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#include "node/node_impl.h"

void vx_node_opts_init(vx_node_opts *opts) {
    memset(opts, 0, sizeof *opts);
    opts->name = "vortexc";
    opts->uuid = NULL;
    vx_codec_opts_init(&opts->codec);
    opts->heartbeat_period = 5;
    opts->http_session_timeout = 35;
    opts->http_pending_max = 8u * 1024 * 1024;
    opts->out_queue_max = 4u * 1024 * 1024;
    opts->max_http_body = 32u * 1024 * 1024;
    opts->max_http_header = 16u * 1024;
    opts->http_head_timeout = 10;
    opts->http_idle_timeout = 60;
    opts->ws_ping_after = 30;
    opts->ws_dead_after = 30;
    opts->response_timeout = 30;
}

void vx_listen_opts_init(vx_listen_opts *opts) {
    memset(opts, 0, sizeof *opts);
    opts->host = "127.0.0.1";
    opts->port = 0;
    opts->http_path = "/vortex";
    opts->ws_path = "/vortexws";
    opts->static_dir = NULL;
    opts->origins = NULL;
    opts->n_origins = 0;
}

static void close_servers(vx_node *node);

static void handle_init_done(vx_node *node, uv_handle_t *h) {
    h->data = node;
    node->n_handles++;
}

vx_node *vx_node_new(uv_loop_t *loop, const vx_node_opts *opts, vx_error *err) {
    if (!loop) {
        vx_error_set(err, VX_E_INVAL, "vx_node_new: loop is NULL");
        return NULL;
    }
    vx_node_opts defaults;
    if (!opts) {
        vx_node_opts_init(&defaults);
        opts = &defaults;
    }
    vx_node *node = calloc(1, sizeof *node);
    if (!node) goto nomem;
    node->loop = loop;
    node->opts = *opts;
    node->port = -1;
    node->name = strdup(opts->name ? opts->name : "vortexc");
    if (opts->uuid && opts->uuid[0]) {
        node->uuid = strdup(opts->uuid);
    } else {
        uuid_t u;
        node->uuid = malloc(37);
        if (node->uuid) {
            uuid_generate_random(u);
            uuid_unparse_lower(u, node->uuid);
        }
    }
    if (!node->name || !node->uuid) goto nomem;
    node->opts.name = node->name;
    node->opts.uuid = node->uuid;
    node->router = vx_router_new();
    if (!node->router) goto nomem;
    node->codec = vx_codec_new(&node->opts.codec);
    if (!node->codec) {
        vx_error_set(err, VX_E_INVAL, "vx_node_new: invalid codec options (zlib_level %d)",
                     opts->codec.zlib_level);
        goto fail;
    }
    /* Every connection starts with the node's hello: limits it does not fit
     * in would fail every connection (found by fuzzing), so refuse them. */
    vx_payload *hello = vx_payload_new_hello(node->uuid, node->name);
    vx_buf hb = {0};
    vx_error herr;
    int hrc = hello ? vx_codec_encode(node->codec, hello, &hb, &herr) : VX_E_NOMEM;
    vx_payload_decref(hello);
    vx_buf_free(&hb);
    if (hrc == VX_E_NOMEM) goto nomem;
    if (hrc != 0) {
        vx_error_set(err, VX_E_INVAL,
                     "vx_node_new: the node's own hello cannot be encoded "
                     "under these limits: %s",
                     herr.message);
        goto fail;
    }
    /* Handles last: nothing after this can fail, so a failure never has to
     * wait for close callbacks. */
    uv_timer_init(loop, &node->heartbeat_timer);
    handle_init_done(node, (uv_handle_t *)&node->heartbeat_timer);
    uv_idle_init(loop, &node->local_idle);
    handle_init_done(node, (uv_handle_t *)&node->local_idle);
    uv_timer_init(loop, &node->shutdown_timer);
    handle_init_done(node, (uv_handle_t *)&node->shutdown_timer);
    return node;
nomem:
    vx_error_set(err, VX_E_NOMEM, "vx_node_new: out of memory");
fail:
    if (node) {
        vx_codec_free(node->codec);
        vx_router_free(node->router);
        free(node->name);
        free(node->uuid);
        free(node);
    }
    return NULL;
}

void vxn_handle_closed(uv_handle_t *h) {
    vx_node *node = h->data;
    node->n_handles--;
    vxn_maybe_finish(node);
}

void vxn_maybe_finish(vx_node *node) {
    if (!node->freeing || node->n_handles || node->n_conns) return;
    vx_router_free(node->router);
    vx_codec_free(node->codec);
    vx_buf_free(&node->scratch);
    vxn_queue_free(&node->local);
    free(node->slots);
    free(node->listeners);
    free(node->uuid);
    free(node->name);
    free(node);
}

void vx_node_free(vx_node *node) {
    if (!node || node->freeing) return;
    node->freeing = true;
    node->shutdown_done = NULL;
    vxn_requests_cancel_all(node);
    close_servers(node);
    /* Every conn, even one still ending gracefully, is cut short: the node
     * is freed only once all have reported. A conn's close may report back
     * at once; that only unlinks the conn itself (nothing is re-sent or
     * forgotten while freeing). */
    for (vx_conn *c = node->conns_head, *next; c; c = next) {
        next = c->node_next;
        vxn_conn_close(node, c, VX_CLOSE_ABORT);
    }
    vxn_remotes_release_all(node);
    vxn_count_drop(node, VXN_DROP_SHUTDOWN, vxn_queue_clear(&node->local));
    uv_close((uv_handle_t *)&node->heartbeat_timer, vxn_handle_closed);
    uv_close((uv_handle_t *)&node->local_idle, vxn_handle_closed);
    vxn_free_when_idle(node);
}

/* The shutdown timer is closed last, once no conn is left, so the memory is
 * always released from its close callback on a later loop turn, never
 * inside a transport's call into the node. */
void vxn_free_when_idle(vx_node *node) {
    if (!node->freeing || node->n_conns || node->last_handle_closing) return;
    node->last_handle_closing = true;
    uv_close((uv_handle_t *)&node->shutdown_timer, vxn_handle_closed);
}

const char *vx_node_uuid(const vx_node *node) {
    return node->uuid;
}
const char *vx_node_name(const vx_node *node) {
    return node->name;
}
uv_loop_t *vx_node_loop(const vx_node *node) {
    return node->loop;
}
vx_router *vx_node_router(vx_node *node) {
    return node->router;
}
const vx_node_opts *vx_node_options(const vx_node *node) {
    return &node->opts;
}

bool vx_node_shutting_down(const vx_node *node) {
    return node->shutting_down || node->freeing;
}

void vx_node_on_remote(vx_node *node, vx_remote_fn fn, void *data) {
    node->on_remote = fn;
    node->on_remote_data = data;
}

int vx_node_add_remote_listener(vx_node *node, vx_remote_fn fn, void *data) {
    if (!node || !fn) return VX_E_INVAL;
    if (node->n_listeners == node->cap_listeners) {
        size_t cap = node->cap_listeners ? node->cap_listeners * 2 : 4;
        struct vxn_listener *l = realloc(node->listeners, cap * sizeof *l);
        if (!l) return VX_E_NOMEM;
        node->listeners = l;
        node->cap_listeners = cap;
    }
    node->listeners[node->n_listeners++] = (struct vxn_listener){fn, data};
    return 0;
}

void vx_node_remove_remote_listener(vx_node *node, vx_remote_fn fn, void *data) {
    if (!node) return;
    for (size_t i = 0; i < node->n_listeners; i++) {
        if (node->listeners[i].fn != fn || node->listeners[i].data != data) continue;
        if (node->notify_depth) {
            node->listeners[i].fn = NULL; /* compacted after the notification */
        } else {
            memmove(&node->listeners[i], &node->listeners[i + 1],
                    (node->n_listeners - i - 1) * sizeof node->listeners[0]);
            node->n_listeners--;
        }
        return;
    }
}

bool vx_node_has_remote(const vx_node *node, const char *uuid) {
    return node && uuid && vxn_remote_find(node, uuid) != NULL;
}

size_t vx_node_remote_count(const vx_node *node) {
    return node->n_remotes;
}

/* ---- listening ------------------------------------------------------------ */

int vx_node_listen(vx_node *node, const vx_listen_opts *opts, vx_error *err) {
    if (vx_node_shutting_down(node))
        return vx_error_set(err, VX_E_CLOSED, "vx_node_listen: node is shutting down");
    if (node->n_servers == VXN_MAX_SERVERS)
        return vx_error_set(err, VX_E_INVAL, "vx_node_listen: at most %d listeners",
                            VXN_MAX_SERVERS);
    vx_listen_opts defaults;
    if (!opts) {
        vx_listen_opts_init(&defaults);
        opts = &defaults;
    }
    vx_server *s = NULL;
    int rc = vx_server_start(node, opts, &s, err);
    if (rc < 0) return rc;
    node->servers[node->n_servers++] = s;
    node->port = vx_server_port(s);
    return 0;
}

int vx_node_port(const vx_node *node) {
    return node->port;
}

/* ---- clean shutdown ------------------------------------------------------- */

#define VXN_SHUTDOWN_GRACE_MS 5000

static void close_servers(vx_node *node) {
    for (size_t i = 0; i < node->n_servers; i++) vx_server_close(node->servers[i]);
    node->n_servers = 0;
}

static void shutdown_timer_cb(uv_timer_t *t) {
    vx_node *node = t->data;
    close_servers(node);
    void (*done)(void *) = node->shutdown_done;
    node->shutdown_done = NULL;
    if (done) done(node->shutdown_data);
}

/* Called when a conn reports closed: the last one ends the shutdown. The
 * callback runs from the timer so that it never runs inside a transport's
 * call into the node. */
void vxn_shutdown_check(vx_node *node) {
    if (node->shutting_down && !node->freeing && node->n_conns == 0 && node->shutdown_done)
        uv_timer_start(&node->shutdown_timer, shutdown_timer_cb, 0, 0);
}

void vx_node_shutdown(vx_node *node, void (*done)(void *data), void *data) {
    if (node->freeing) return;
    if (node->shutting_down) {
        /* A second call only supplies a callback if none is waiting. */
        if (done && !node->shutdown_done) {
            node->shutdown_done = done;
            node->shutdown_data = data;
            vxn_shutdown_check(node);
        }
        return;
    }
    node->shutting_down = true;
    node->shutdown_done = done;
    node->shutdown_data = data;
    /* The listeners stay open until the end, so that requests arriving
     * meanwhile (even half-read ones) get their 503 instead of a reset:
     * vx_server_close ends every connection not attached to the node. */
    for (vx_conn *c = node->conns_head, *next; c; c = next) {
        next = c->node_next;
        if (!(c->node_flags & VXN_CONN_CLOSING)) vxn_conn_close(node, c, VX_CLOSE_SHUTDOWN);
    }
    if (node->n_conns == 0)
        uv_timer_start(&node->shutdown_timer, shutdown_timer_cb, 0, 0);
    else
        uv_timer_start(&node->shutdown_timer, shutdown_timer_cb, VXN_SHUTDOWN_GRACE_MS, 0);
}
