/* The client core (client.h): attempts, hello, online state, dead timer,
 * backoff, the send queue and the node seam. The wire work is in
 * http_client.c and ws_client.c.
 *
 * Lifetime: vx_client_free only marks the client, aborts its session (which
 * frees itself later) and closes the two timers; the struct is freed in the
 * last close callback, so code up the stack that called into the node or a
 * state callback can still read it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "client/client_impl.h"
#include "transport/tls.h"

struct vx_resolve {
    uv_getaddrinfo_t req;
    vx_client *client; /* NULL when the client no longer waits for it */
};

static uint64_t ms_of(double s) {
    return s <= 0 ? 0 : (uint64_t)(s * 1000.0 + 0.5);
}

static vx_client *of_conn(vx_conn *conn) {
    return (vx_client *)((char *)conn - offsetof(vx_client, conn));
}

static void set_online(vx_client *c, bool online) {
    if (c->online == online) return;
    c->online = online;
    /* By index: a callback may subscribe, unsubscribe or free the client. */
    for (size_t i = 0; i < c->n_subs && !c->freeing; i++)
        c->subs[i].fn(c->subs[i].data, online);
}

static void start_attempt(vx_client *c);

static void on_retry(uv_timer_t *t) {
    start_attempt(t->data);
}

static void on_dead(uv_timer_t *t) {
    vx_client *c = t->data;
    char why[96];
    snprintf(why, sizeof why, "%s after %.3g s without an item from the server",
             c->online ? "server dead" : "no hello", c->opts.dead_after);
    vx_client__failed(c, why);
}

static void restart_dead_timer(vx_client *c) {
    uv_timer_start(&c->dead_timer, on_dead, ms_of(c->opts.dead_after), 0);
}

void vx_client__failed(vx_client *c, const char *why) {
    if (c->freeing) return;
    snprintf(c->last_error, sizeof c->last_error, "%s", why);
    if (c->t) {
        vx_ctransport *t = c->t;
        c->t = NULL;
        c->vt->abort(t);
    }
    if (c->resolving) {
        c->resolving->client = NULL;
        c->resolving = NULL;
    }
    uv_timer_stop(&c->dead_timer);
    if (!c->stopped) {
        c->retries++;
        double d = vx_backoff_delay(c->opts.backoff_initial, c->opts.backoff_max,
                                    c->retries, &c->rng);
        uv_timer_start(&c->retry_timer, on_retry, ms_of(d), 0);
    }
    set_online(c, false);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
    struct vx_resolve *r = (struct vx_resolve *)req;
    vx_client *c = r->client;
    if (!c) {
        uv_freeaddrinfo(res);
        free(r);
        return;
    }
    c->resolving = NULL;
    free(r);
    if (status < 0 || !res) {
        char why[VX_ERROR_MESSAGE_MAX];
        snprintf(why, sizeof why, "cannot resolve host '%.64s': %s", c->url.host,
                 uv_strerror(status));
        uv_freeaddrinfo(res);
        vx_client__failed(c, why);
        return;
    }
    vx_error err;
    vx_error_clear(&err);
    int rc = c->vt->start(c, res->ai_addr, &err);
    if (rc == 0) {
        /* The peer text the node reports for this remote. */
        char ip[INET6_ADDRSTRLEN] = "?";
        if (res->ai_family == AF_INET6)
            uv_ip6_name((const struct sockaddr_in6 *)res->ai_addr, ip, sizeof ip);
        else
            uv_ip4_name((const struct sockaddr_in *)res->ai_addr, ip, sizeof ip);
        snprintf(c->conn.peer, sizeof c->conn.peer, "%s:%d", ip, c->url.port);
    }
    uv_freeaddrinfo(res);
    if (rc) vx_client__failed(c, err.message);
}

static void start_attempt(vx_client *c) {
    if (c->freeing || c->stopped || c->t || c->resolving) return;
    /* The whole attempt, up to the hello, must fit in dead_after (§11). */
    restart_dead_timer(c);
    struct vx_resolve *r = calloc(1, sizeof *r);
    if (!r) {
        vx_client__failed(c, "out of memory starting a connection attempt");
        return;
    }
    r->client = c;
    char port[8];
    snprintf(port, sizeof port, "%d", c->url.port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int rc = uv_getaddrinfo(c->loop, &r->req, on_resolved, c->url.host, port, &hints);
    if (rc < 0) {
        free(r);
        char why[VX_ERROR_MESSAGE_MAX];
        snprintf(why, sizeof why, "cannot resolve host '%.64s': %s", c->url.host,
                 uv_strerror(rc));
        vx_client__failed(c, why);
        return;
    }
    c->resolving = r;
}

/* ---- hello and items ------------------------------------------------------ */

static char *dup_str(const vx_value *v) {
    if (vx_typeof(v) != VX_STR || vx_str_len(v) == 0) return NULL;
    return strndup(vx_str_value(v), vx_str_len(v));
}

static void on_hello(vx_client *c, const vx_payload *p) {
    vx_value *filt = vx_payload_filt(p);
    char *uuid = dup_str(vx_dict_get(filt, VX_HELLO_UUID_KEY));
    char *name = dup_str(vx_dict_get(filt, VX_HELLO_NAME_KEY));
    if (!uuid || !name) {
        free(uuid);
        free(name);
        return;
    }
    bool changed = c->server_uuid && strcmp(c->server_uuid, uuid) != 0;
    if (changed && c->conn_opened) {
        /* A restarted server with a new uuid is a new remote for the node. */
        c->conn_opened = false;
        vx_node_conn_closed(c->node, &c->conn, NULL, 0);
    }
    free(c->server_uuid);
    free(c->server_name);
    c->server_uuid = uuid;
    c->server_name = name;
    if (!c->conn_opened && !c->stopped) {
        c->conn_opened = true;
        if (vx_node_conn_open(c->node, &c->conn, uuid, name) != 0) {
            /* VX_E_CLOSED: the node is shutting down. */
            c->conn_opened = false;
            c->stopped = true;
            vx_client__failed(c, "the node is shutting down");
            return;
        }
    }
    if (c->freeing || !c->t) return;
    c->retries = 0;
    restart_dead_timer(c);
    set_online(c, true);
}

/* Hellos are small; bigger items are never decoded twice. */
#define HELLO_MAX_BYTES 4096

void vx_client__item(vx_client *c, const char *msg, size_t len, bool *stream_hello) {
    if (c->freeing || !c->t) return;
    if (!*stream_hello && len > 0 && len <= HELLO_MAX_BYTES) {
        vx_payload *p = NULL;
        if (vx_codec_decode(c->codec, msg, len, &p, NULL) == 0) {
            if (vx_payload_is_empty(p) &&
                vx_dict_get(vx_payload_filt(p), VX_HELLO_UUID_KEY)) {
                *stream_hello = true;
                on_hello(c, p);
            }
            vx_payload_decref(p);
        }
        if (c->freeing || !c->t) return;
    }
    if (c->online) restart_dead_timer(c);
    if (c->conn_opened) vx_node_conn_item(c->node, &c->conn, msg, len);
}

void vx_client__item_error(vx_client *c, int code) {
    if (c->freeing || !c->t) return;
    if (c->online) restart_dead_timer(c);
    if (c->conn_opened) vx_node_conn_item_error(c->node, &c->conn, code);
}

/* ---- the queue ------------------------------------------------------------ */

vx_msgbuf *vx_client__take(vx_client *c) {
    vx_msgbuf *m = vx_sendq_pop(&c->queue);
    if (m) c->busy_bytes += m->len + 1;
    return m;
}

void vx_client__handed(vx_client *c, size_t bytes) {
    c->busy_bytes -= bytes < c->busy_bytes ? bytes : c->busy_bytes;
}

void vx_client__requeue(vx_client *c, vx_msgbuf **ms, size_t n, size_t bytes) {
    vx_client__handed(c, bytes);
    if (vx_sendq_push_front(&c->queue, ms, n) != 0)
        snprintf(c->last_error, sizeof c->last_error, "out of memory: %zu msgs lost", n);
}

static int enqueue(vx_client *c, vx_msgbuf *m) {
    if (c->freeing || c->stopped) return VX_E_CLOSED;
    int rc = vx_sendq_push(&c->queue, m, c->opts.send_queue_max, c->busy_bytes);
    if (rc == 0 && c->t) c->vt->kick(c->t);
    return rc;
}

/* ---- the node's view ------------------------------------------------------ */

static int conn_send(vx_conn *conn, vx_msgbuf *m) {
    /* The server needs no heartbeats from clients (§10.3), and an HTTP
     * heartbeat would cost a POST. */
    if (m->heartbeat) return 0;
    return enqueue(of_conn(conn), m);
}

/* The node ends our registration: SHUTDOWN stops the client; ABORT comes
 * with vx_node_free. (A VX_E_QUEUE_FULL or VX_E_NOMEM from conn_send is a
 * refusal the node passes to its caller, keeping us registered (§11), so
 * no SLOW close follows it.) For any other reason the registration is
 * simply dropped: the next server hello registers the client again. */
static void conn_close(vx_conn *conn, vx_close_why why) {
    vx_client *c = of_conn(conn);
    if (!c->conn_opened) return;
    c->conn_opened = false;
    vx_node_conn_closed(c->node, &c->conn, NULL, 0);
    if (why == VX_CLOSE_SHUTDOWN) {
        c->stopped = true;
        uv_timer_stop(&c->retry_timer);
        vx_client__failed(c, "the node shut the client down");
    }
}

static const vx_conn_ops client_conn_ops = {conn_send, conn_close};

/* ---- public API ----------------------------------------------------------- */

void vx_client_opts_init(vx_client_opts *o) {
    *o = (vx_client_opts){
        .dead_after = 15,
        .backoff_initial = 0.5,
        .backoff_max = 15,
        .send_queue_max = 8u * 1024 * 1024,
        .rng_seed = 0,
    };
}

static void on_handle_closed(uv_handle_t *h) {
    vx_client *c = h->data;
    if (--c->open_handles > 0) return;
    free(c->subs);
    free(c->server_uuid);
    free(c->server_name);
    vx_buf_free(&c->target);
    vx_codec_free(c->codec);
    vx_tls_ctx_unref(c->tls);
    free(c->tls_host);
    free(c);
}

/* https/wss: the TLS context every connection of this client shares, and
 * the name to check. The caller's option strings are not kept. */
static int client_tls_setup(vx_client *c, vx_error *err) {
    vx_client_opts *o = &c->opts;
    vx_tls_conf tc = {.cert_file = o->tls_cert_file,
                      .key_file = o->tls_key_file,
                      .ca_file = o->tls_ca_file,
                      .insecure = o->tls_insecure};
    const char *host = o->tls_server_name ? o->tls_server_name : c->url.host;
    o->tls_cert_file = o->tls_key_file = o->tls_ca_file = o->tls_server_name = NULL;
    if (!c->url.tls) return 0;
    int rc = vx_tls_ctx_client(&tc, &c->tls, err);
    if (rc) return rc;
    if (!(c->tls_host = strdup(host))) {
        vx_tls_ctx_unref(c->tls);
        c->tls = NULL;
        return vx_error_set(err, VX_E_NOMEM, "out of memory creating the client");
    }
    return 0;
}

vx_client *vx_client_new(vx_node *node, const char *url, const vx_client_opts *opts,
                         vx_error *err) {
    if (!node) {
        vx_error_set(err, VX_E_INVAL, "vx_client_new: node is NULL");
        return NULL;
    }
    vx_client *c = calloc(1, sizeof *c);
    if (!c) {
        vx_error_set(err, VX_E_NOMEM, "out of memory allocating the client");
        return NULL;
    }
    if (opts)
        c->opts = *opts;
    else
        vx_client_opts_init(&c->opts);
    if (!(c->opts.dead_after > 0) || !(c->opts.backoff_initial > 0) ||
        !(c->opts.backoff_max >= c->opts.backoff_initial)) {
        vx_error_set(err, VX_E_INVAL,
                     "client opts: dead_after and backoff_initial must be > 0 and "
                     "backoff_max >= backoff_initial");
        free(c);
        return NULL;
    }
    if (vx_client_url_parse(url, &c->url, err) != 0 || client_tls_setup(c, err) != 0) {
        free(c);
        return NULL;
    }
    c->node = node;
    c->loop = vx_node_loop(node);
    c->vt = c->url.scheme == VX_URL_HTTP ? &vx_http_client_vt : &vx_ws_client_vt;
    c->codec = vx_codec_new(&vx_node_options(node)->codec);
    if (!c->codec ||
        vx_client_url_target(&c->url, vx_node_uuid(node), vx_node_name(node), &c->target)) {
        vx_error_set(err, VX_E_NOMEM, "out of memory creating the client");
        vx_codec_free(c->codec);
        vx_buf_free(&c->target);
        vx_tls_ctx_unref(c->tls);
        free(c->tls_host);
        free(c);
        return NULL;
    }
    c->rng = c->opts.rng_seed;
    if (c->rng == 0 && getrandom(&c->rng, sizeof c->rng, GRND_NONBLOCK) != sizeof c->rng)
        c->rng = uv_hrtime() ^ (uint64_t)(uintptr_t)c;
    c->conn.ops = &client_conn_ops;
    c->conn.kind = VX_TRANSPORT_CLIENT;
    snprintf(c->conn.peer, sizeof c->conn.peer, "%.48s:%d", c->url.host, c->url.port);
    uv_timer_init(c->loop, &c->dead_timer);
    uv_timer_init(c->loop, &c->retry_timer);
    c->dead_timer.data = c->retry_timer.data = c;
    c->open_handles = 2;
    start_attempt(c); /* the first attempt is immediate (§11) */
    return c;
}

void vx_client_free(vx_client *c) {
    if (!c || c->freeing) return;
    /* Abort first (its unsent msgs return to the queue), then mark. */
    if (c->t) {
        vx_ctransport *t = c->t;
        c->t = NULL;
        c->vt->abort(t);
    }
    c->freeing = true;
    if (c->resolving) c->resolving->client = NULL;
    c->resolving = NULL;
    if (c->conn_opened) {
        c->conn_opened = false;
        vx_node_conn_closed(c->node, &c->conn, NULL, 0);
    }
    vx_sendq_clear(&c->queue);
    for (size_t i = 0; i < c->n_reconnect; i++) vx_msgbuf_decref(c->reconnect[i]);
    free(c->reconnect);
    c->reconnect = NULL;
    c->n_reconnect = 0;
    uv_close((uv_handle_t *)&c->dead_timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->retry_timer, on_handle_closed);
}

static int encode(vx_client *c, const vx_payload *p, vx_msgbuf **out, vx_error *err) {
    vx_buf b = {0};
    int rc = vx_codec_encode(c->codec, p, &b, err);
    if (rc) return rc;
    *out = vx_msgbuf_new(b.data, b.len);
    vx_buf_free(&b);
    if (!*out) return vx_error_set(err, VX_E_NOMEM, "out of memory encoding a payload");
    return 0;
}

int vx_client_add_reconnect_payload(vx_client *c, const vx_payload *p, vx_error *err) {
    if (!c || !p || c->freeing)
        return vx_error_set(err, VX_E_INVAL, "client or payload NULL");
    vx_msgbuf **r = realloc(c->reconnect, (c->n_reconnect + 1) * sizeof *r);
    if (!r)
        return vx_error_set(err, VX_E_NOMEM, "out of memory adding a reconnect payload");
    c->reconnect = r;
    int rc = encode(c, p, &r[c->n_reconnect], err);
    if (rc == 0) c->n_reconnect++;
    return rc;
}

int vx_client_send(vx_client *c, const vx_payload *p, vx_error *err) {
    if (!c || !p) return vx_error_set(err, VX_E_INVAL, "client or payload NULL");
    vx_msgbuf *m;
    int rc = encode(c, p, &m, err);
    if (rc) return rc;
    rc = enqueue(c, m);
    if (rc == VX_E_QUEUE_FULL)
        vx_error_set(err, rc, "client send queue full (%zu bytes queued, max %zu)",
                     c->queue.bytes + c->busy_bytes, c->opts.send_queue_max);
    else if (rc == VX_E_CLOSED)
        vx_error_set(err, rc, "client is closed");
    else if (rc)
        vx_error_set(err, rc, "out of memory queueing a msg");
    vx_msgbuf_decref(m);
    return rc;
}

int vx_client_on_state(vx_client *c, vx_client_state_fn fn, void *data) {
    if (!c || !fn || c->freeing) return VX_E_INVAL;
    vx_state_sub *s = realloc(c->subs, (c->n_subs + 1) * sizeof *s);
    if (!s) return VX_E_NOMEM;
    c->subs = s;
    s[c->n_subs++] = (vx_state_sub){fn, data};
    fn(data, c->online);
    return 0;
}

void vx_client_off_state(vx_client *c, vx_client_state_fn fn, void *data) {
    for (size_t i = 0; c && i < c->n_subs; i++) {
        if (c->subs[i].fn == fn && c->subs[i].data == data) {
            memmove(&c->subs[i], &c->subs[i + 1], (c->n_subs - i - 1) * sizeof *c->subs);
            c->n_subs--;
            return;
        }
    }
}

bool vx_client_online(const vx_client *c) {
    return c && c->online;
}

const char *vx_client_server_uuid(const vx_client *c) {
    return c ? c->server_uuid : NULL;
}

const char *vx_client_server_name(const vx_client *c) {
    return c ? c->server_name : NULL;
}

size_t vx_client_queued_bytes(const vx_client *c) {
    return c ? c->queue.bytes + c->busy_bytes : 0;
}

const char *vx_client_last_error(const vx_client *c) {
    return c && c->last_error[0] ? c->last_error : NULL;
}
