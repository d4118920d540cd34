/* The HTTP listener (PROTOCOL.md §9, §10.1): one TCP port serving the
 * long-poll endpoint, the WebSocket upgrade, /health, /metrics and static
 * files. This file owns the listener and each connection's life: accept,
 * reading into the parser, timers (slowloris, idle keep-alive, linger after
 * our FIN), plain responses and closing. Routing is in http_request.c, the
 * long-poll response in http_stream.c, files in http_static.c. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport/http_conn.h"
#include "transport/http_util.h"

/* ---- server lifetime ------------------------------------------------- */

static void server_maybe_free(vx_server *s) {
    if (!s->closing || s->listener_open || s->n_conns > 0) return;
    free(s->http_path);
    free(s->ws_path);
    free(s->static_root);
    for (size_t i = 0; i < s->n_origins; i++) free(s->origins[i]);
    free(s->origins);
    free(s->rbuf);
    vx_tls_ctx_unref(s->tls);
    free(s);
}

static void on_listener_closed(uv_handle_t *h) {
    vx_server *s = h->data;
    s->listener_open = false;
    server_maybe_free(s);
}

/* ---- connection lifetime ----------------------------------------------- */

void vx_http_count(vx_http_conn *c, vx_counter which, uint64_t n) {
    if (!c->detached) vx_node_count(c->srv->node, which, n);
}

void vx_http_conn_ref(vx_http_conn *c) {
    c->refs++;
}

void vx_http_conn_unref(vx_http_conn *c) {
    if (--c->refs > 0) return;
    vx_server *s = c->srv;
    vx_http_request_free(c);
    vx_buf_free(&c->pending_in);
    vx_splitter_free(c->split);
    free(c->uuid);
    free(c->name);
    free(c->file_rel);
    free(c->file_real);
    free(c->fbuf);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    s->n_conns--;
    free(c);
    server_maybe_free(s);
}

static void on_timer_closed(uv_handle_t *h) {
    vx_http_conn_unref(h->data);
}

static void on_tcp_closed(uv_handle_t *h) {
    vx_http_conn *c = h->data;
    /* Every write callback has run by now, so the items left are unsent. */
    if (c->streaming) {
        vx_http_stream_report(c);
        vx_http_stream_free_items(c);
    }
    free(h);
    c->tcp = NULL;
    vx_tls_free(c->tls); /* every write has called back */
    c->tls = NULL;
    vx_http_conn_unref(c);
}

void vx_http_hard_close(vx_http_conn *c) {
    if (c->closing) return;
    c->closing = true;
    if (c->tcp_open) {
        c->tcp_open = false;
        uv_close((uv_handle_t *)c->tcp, on_tcp_closed);
    }
    if (c->timer_open) {
        c->timer_open = false;
        uv_close((uv_handle_t *)&c->timer, on_timer_closed);
    }
}

static void on_timer(uv_timer_t *t) {
    /* Head not complete in time (slowloris), idle keep-alive, or the peer
     * did not close after our FIN: nothing more to say on this connection. */
    vx_http_hard_close(t->data);
}

void vx_http_arm_timer(vx_http_conn *c, uint64_t ms) {
    if (c->timer_open) uv_timer_start(&c->timer, on_timer, ms, 0);
}

void vx_http_stop_timer(vx_http_conn *c) {
    if (c->timer_open) uv_timer_stop(&c->timer);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

static void on_shutdown(uv_shutdown_t *req, int status) {
    vx_http_conn *c = req->data;
    free(req);
    if (c->closing) return;
    if (status < 0) {
        vx_http_hard_close(c);
        return;
    }
    /* Every byte is with the kernel: a long-poll response is over for the
     * node now, whatever the peer does next. */
    if (c->streaming) vx_http_stream_report(c);
    /* Closing at once could reset the connection (unread input makes the
     * kernel send RST, which can destroy our last bytes at the peer): wait
     * briefly for the peer's own close. */
    vx_http_arm_timer(c, VX_HTTP_LINGER_MS);
}

void vx_http_end(vx_http_conn *c) {
    if (c->closing || c->shut) return;
    c->shut = true;
    uv_shutdown_t *req = malloc(sizeof *req);
    if (!req) {
        vx_http_hard_close(c);
        return;
    }
    req->data = c;
    if (vx_stream_shutdown(c->tls, req, (uv_stream_t *)c->tcp, on_shutdown) != 0) {
        free(req);
        vx_http_hard_close(c);
        return;
    }
    /* Keep reading (and discarding) so the peer's close is seen. */
    if (c->parked) {
        c->parked = false;
        uv_read_start((uv_stream_t *)c->tcp, on_alloc, on_read);
    }
}

/* ---- plain responses --------------------------------------------------- */

typedef struct plain_write {
    uv_write_t req;
    vx_http_conn *c;
    size_t len;
    char data[];
} plain_write;

static void resume_if_drained(vx_http_conn *c);

static void on_plain_written(uv_write_t *req, int status) {
    plain_write *w = (plain_write *)req;
    vx_http_conn *c = w->c;
    size_t len = w->len;
    free(w);
    c->resp_writes--;
    if (status == 0) vx_http_count(c, VX_CTR_BYTES_OUT, len);
    if (c->closing) return;
    if (status < 0) {
        vx_http_hard_close(c);
        return;
    }
    resume_if_drained(c);
}

void vx_http_respond(vx_http_conn *c, const char *data, size_t len, int status,
                     bool close) {
    if (c->closing || c->shut) return;
    if (status >= 400) vx_http_count(c, VX_CTR_HTTP_ERRORS, 1);
    plain_write *w = malloc(sizeof *w + len);
    if (!w) {
        vx_http_hard_close(c);
        return;
    }
    w->c = c;
    w->len = len;
    memcpy(w->data, data, len);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
    if (vx_stream_write(c->tls, &w->req, (uv_stream_t *)c->tcp, &b, 1, on_plain_written) !=
        0) {
        free(w);
        vx_http_hard_close(c);
        return;
    }
    c->resp_writes++;
    if (close) vx_http_end(c);
}

void vx_http_error(vx_http_conn *c, int status, const char *extra, const char *body,
                   bool close) {
    vx_buf out = {0};
    bool head = c->parser.method == HTTP_HEAD;
    if (vx_http_text_response(&out, status, extra, body, close, head) != 0) {
        vx_buf_free(&out);
        vx_http_hard_close(c);
        return;
    }
    vx_http_respond(c, out.data, out.len, status, close);
    vx_buf_free(&out);
}

/* ---- reading ----------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    vx_http_conn *c = h->data;
    vx_server *s = c->srv;
    /* One shared buffer: each read is parsed before the next one arrives,
     * and anything kept (pipelined input while parked) is copied. */
    if (s->rbuf && !s->rbuf_busy) {
        s->rbuf_busy = true;
        *buf = uv_buf_init(s->rbuf, VX_HTTP_READ_BUF);
        return;
    }
    char *p = malloc(VX_HTTP_READ_BUF);
    *buf = uv_buf_init(p, p ? VX_HTTP_READ_BUF : 0);
}

static void release_buf(vx_server *s, const uv_buf_t *buf) {
    if (buf->base == s->rbuf)
        s->rbuf_busy = false;
    else
        free(buf->base);
}

/* Keep the rest of the input and stop reading until the response ends. */
static void park(vx_http_conn *c, const char *rest, size_t len) {
    c->parked = true;
    if (len > 0 && vx_buf_append(&c->pending_in, rest, len) != 0) {
        vx_http_hard_close(c);
        return;
    }
    uv_read_stop((uv_stream_t *)c->tcp);
}

/* Feed input to the parser; stops when a response must finish first. */
static void process(vx_http_conn *c, const char *data, size_t len) {
    while (len > 0 && !c->closing && !c->shut && c->tcp) {
        if (c->body_done) return; /* after a long-poll POST, input is ignored */
        c->cur_end = data + len;
        size_t n = 0;
        enum http_errno e = HPE_CB_body;
        if (vx_http_chunk_crlf_ok(c, data, len)) {
            n = http_parser_execute(&c->parser, &vx_http_settings, data, len);
            e = HTTP_PARSER_ERRNO(&c->parser);
        }
        if (c->closing || c->shut || !c->tcp) return;
        if (e == HPE_PAUSED) {
            data += n;
            len -= n;
            if (c->streaming) return;
            http_parser_pause(&c->parser, 0);
            if (!vx_http_dispatch(c, data, len)) {
                if (c->parked) park(c, data, len);
                return;
            }
            if (c->parked) {
                park(c, data, len);
                return;
            }
            continue;
        }
        if (e != HPE_OK) {
            if (c->streaming && c->head_sent) {
                /* Broken body under a running stream: no status can be sent
                 * any more, so end the connection. */
                vx_http_count(c, VX_CTR_HTTP_ERRORS, 1);
                vx_http_hard_close(c);
            } else if (c->err_status) {
                vx_http_error(c, c->err_status, c->err_extra, c->err_body, true);
            } else if (e == HPE_HEADER_OVERFLOW) {
                vx_http_error(c, 431, NULL, "Request header fields too large", true);
            } else {
                char msg[128];
                snprintf(msg, sizeof msg, "Malformed HTTP request: %s",
                         http_errno_description(e));
                vx_http_error(c, 400, NULL, msg, true);
            }
            return;
        }
        break;
    }
}

static void resume(vx_http_conn *c) {
    c->parked = false;
    vx_buf in = c->pending_in;
    c->pending_in = (vx_buf){0};
    if (in.len > 0) process(c, in.data, in.len);
    vx_buf_free(&in);
    if (!c->parked && !c->closing && c->tcp && !c->streaming)
        uv_read_start((uv_stream_t *)c->tcp, on_alloc, on_read);
}

static void resume_if_drained(vx_http_conn *c) {
    if (!c->parked || c->fs_busy || c->fd >= 0 || c->shut) return;
    if (uv_stream_get_write_queue_size((uv_stream_t *)c->tcp) > VX_HTTP_PIPELINE_MAX)
        return;
    resume(c);
}

void vx_http_response_done(vx_http_conn *c) {
    if (c->closing || c->shut) return;
    if (c->close_after) {
        vx_http_end(c);
        return;
    }
    vx_http_arm_timer(c, c->srv->idle_timeout_ms);
    if (c->parked) resume_if_drained(c);
}

/* At most this many TLS failure lines per second per listener. */
#define TLS_LOG_PER_SEC 5

static void tls_failed(vx_http_conn *c, bool handshake) {
    vx_server *s = c->srv;
    if (handshake) vx_http_count(c, VX_CTR_TLS_HANDSHAKE_ERRORS, 1);
    uint64_t now = uv_now(s->loop);
    if (now - s->tls_log_window_ms >= 1000) {
        if (s->tls_log_suppressed)
            fprintf(stderr, "vortexc: %u TLS failure lines suppressed\n",
                    s->tls_log_suppressed);
        s->tls_log_window_ms = now;
        s->tls_log_lines = s->tls_log_suppressed = 0;
    }
    if (s->tls_log_lines < TLS_LOG_PER_SEC) {
        s->tls_log_lines++;
        fprintf(stderr, "vortexc: TLS %s %s failed: %s\n",
                handshake ? "handshake from" : "connection from", c->conn.peer,
                vx_tls_error(c->tls));
    } else {
        s->tls_log_suppressed++;
    }
    /* The alert is queued: end after it (a reset could destroy it). */
    vx_http_end(c);
}

/* TLS: ciphertext in, plaintext through the same parser. The read buffer is
 * reused for the plaintext (OpenSSL has copied the ciphertext). Only this
 * connection's own stops end the loop: parked input is kept, and after an
 * upgrade the WebSocket module has drained the rest itself. */
static void tls_input(vx_http_conn *c, char *buf, size_t len, size_t cap) {
    vx_tls *t = c->tls;
    bool was_ready = vx_tls_ready(t);
    if (vx_tls_feed(t, buf, len) != 0) {
        tls_failed(c, !was_ready);
        return;
    }
    if (!was_ready && vx_tls_ready(t)) c->conn.peer_identity = vx_tls_peer_identity(t);
    while (!c->closing && !c->shut && c->tcp && c->tls == t) {
        ssize_t n = vx_tls_read(t, buf, cap);
        if (n == 0) return;
        if (n == UV_EOF) { /* close_notify: as the plain end of input */
            vx_http_hard_close(c);
            return;
        }
        if (n < 0) {
            tls_failed(c, false);
            return;
        }
        if (c->parked) {
            if (vx_buf_append(&c->pending_in, buf, (size_t)n) != 0) vx_http_hard_close(c);
            continue;
        }
        process(c, buf, (size_t)n);
    }
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
    vx_http_conn *c = st->data;
    vx_server *s = c->srv;
    if (nread > 0) vx_http_count(c, VX_CTR_BYTES_IN, (uint64_t)nread);
    if (nread < 0) {
        /* The client went away (or finished after our FIN). */
        if (buf->base) release_buf(s, buf);
        vx_http_hard_close(c);
        return;
    }
    if (nread > 0 && !c->shut && c->tls)
        tls_input(c, buf->base, (size_t)nread, buf->len);
    else if (nread > 0 && !c->shut)
        process(c, buf->base, (size_t)nread);
    /* On upgrade the socket now belongs to the WebSocket module, which got
     * a copy of any bytes past the request. */
    if (buf->base) release_buf(s, buf);
}

static void on_connection(uv_stream_t *ls, int status) {
    vx_server *s = ls->data;
    if (status < 0 || s->closing) return;
    uv_tcp_t *tcp = malloc(sizeof *tcp);
    if (!tcp) return;
    uv_tcp_init(s->loop, tcp);
    if (uv_accept(ls, (uv_stream_t *)tcp) != 0) {
        uv_close((uv_handle_t *)tcp, (uv_close_cb)free);
        return;
    }
    vx_http_server_adopt(s, tcp);
}

void vx_http_server_adopt(vx_server *s, uv_tcp_t *tcp) {
    vx_http_conn *c = calloc(1, sizeof *c);
    if (!c) {
        uv_close((uv_handle_t *)tcp, (uv_close_cb)free);
        return;
    }
    tcp->data = c;
    c->srv = s;
    c->tcp = tcp;
    c->tcp_open = true;
    c->fd = -1;
    c->refs = 2; /* tcp + timer */
    c->next = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
    s->n_conns++;
    uv_timer_init(s->loop, &c->timer);
    c->timer.data = c;
    c->timer_open = true;
    uv_tcp_nodelay(tcp, 1);
    uv_tcp_keepalive(tcp, 1, 60);

    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss); /* a socketpair's peer name is only a family */
    int len = sizeof ss;
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (uv_tcp_getpeername(tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            uv_ip6_name(a, ip, sizeof ip);
            port = ntohs(a->sin6_port);
        } else {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            uv_ip4_name(a, ip, sizeof ip);
            port = ntohs(a->sin_port);
        }
    }
    snprintf(c->conn.peer, sizeof c->conn.peer,
             ss.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", ip, port);

    if (s->tls && !(c->tls = vx_tls_new_server(s->tls, (uv_stream_t *)tcp))) {
        vx_http_hard_close(c);
        return;
    }
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    vx_http_request_reset(c);
    vx_http_arm_timer(c, c->srv->head_timeout_ms);
    if (uv_read_start((uv_stream_t *)tcp, on_alloc, on_read) != 0) vx_http_hard_close(c);
}

/* ---- public (conn.h) ---------------------------------------------------- */

static int resolve(const char *host, int port, struct sockaddr_storage *out) {
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)out) == 0) return 0;
    if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)out) == 0) return 0;
    if (strcmp(host, "localhost") == 0)
        return uv_ip4_addr("127.0.0.1", port, (struct sockaddr_in *)out);
    return UV_EINVAL;
}

static char *dup_or(const char *s, const char *dflt) {
    return strdup(s && *s ? s : dflt);
}

/* Seconds from the node options to timer milliseconds (at least 1). */
static uint64_t timeout_ms(double seconds) {
    double ms = seconds * 1000.0;
    return ms < 1 ? 1 : ms > 1e12 ? (uint64_t)1e12 : (uint64_t)ms;
}

int vx_server_start(vx_node *node, const vx_listen_opts *opts, vx_server **out,
                    vx_error *err) {
    *out = NULL;
    const char *host = opts->host && *opts->host ? opts->host : "127.0.0.1";
    if (opts->port < 0 || opts->port > 65535)
        return vx_error_set(err, VX_E_INVAL, "listen port %d is outside 0-65535",
                            opts->port);
    struct sockaddr_storage addr;
    if (resolve(host, opts->port, &addr) != 0)
        return vx_error_set(err, VX_E_INVAL, "listen host '%s' is not a numeric address",
                            host);
    const char *hp = opts->http_path && *opts->http_path ? opts->http_path : "/vortex";
    const char *wp = opts->ws_path && *opts->ws_path ? opts->ws_path : "/vortexws";
    if (hp[0] != '/' || wp[0] != '/')
        return vx_error_set(err, VX_E_INVAL, "http_path and ws_path must start with '/'");
    char *root = NULL;
    if (opts->static_dir) {
        root = realpath(opts->static_dir, NULL);
        if (!root)
            return vx_error_set(err, VX_E_IO, "static_dir '%s': %s", opts->static_dir,
                                strerror(errno));
    }
    vx_server *s = calloc(1, sizeof *s);
    if (!s) {
        free(root);
        return vx_error_set(err, VX_E_NOMEM, "out of memory starting the listener");
    }
    s->node = node;
    s->loop = vx_node_loop(node);
    s->static_root = root;
    const vx_node_opts *no = vx_node_options(node);
    s->head_timeout_ms = timeout_ms(no->http_head_timeout);
    s->idle_timeout_ms = timeout_ms(no->http_idle_timeout);
    s->http_path = dup_or(hp, "/vortex");
    s->ws_path = dup_or(wp, "/vortexws");
    s->rbuf = malloc(VX_HTTP_READ_BUF);
    bool oom = !s->http_path || !s->ws_path || !s->rbuf;
    if (!oom && opts->origins && opts->n_origins > 0) {
        s->origins = calloc(opts->n_origins, sizeof *s->origins);
        oom = !s->origins;
        for (size_t i = 0; !oom && i < opts->n_origins; i++) {
            s->origins[i] = strdup(opts->origins[i] ? opts->origins[i] : "");
            oom = !s->origins[i];
            s->n_origins = i + 1;
        }
    }
    if (oom) {
        s->closing = true;
        server_maybe_free(s);
        return vx_error_set(err, VX_E_NOMEM, "out of memory starting the listener");
    }
    if (opts->tls_cert_file || opts->tls_key_file || opts->tls_ca_file ||
        opts->tls_verify_client) {
        vx_tls_conf tc = {.cert_file = opts->tls_cert_file,
                          .key_file = opts->tls_key_file,
                          .ca_file = opts->tls_ca_file,
                          .verify_peer = opts->tls_verify_client};
        int rc = vx_tls_ctx_server(&tc, &s->tls, err);
        if (rc) {
            s->closing = true;
            server_maybe_free(s);
            return rc;
        }
    }
    uv_tcp_init(s->loop, &s->listener);
    s->listener.data = s;
    s->listener_open = true;
    int r = uv_tcp_bind(&s->listener, (const struct sockaddr *)&addr, 0);
    if (r == 0) r = uv_listen((uv_stream_t *)&s->listener, 511, on_connection);
    if (r == 0) {
        struct sockaddr_storage got;
        int len = sizeof got;
        r = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&got, &len);
        if (r == 0)
            s->port =
                ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                                : ((struct sockaddr_in *)&got)->sin_port);
    }
    if (r != 0) {
        vx_error_set(err, VX_E_IO, "cannot listen on %s:%d: %s", host, opts->port,
                     uv_strerror(r));
        s->closing = true;
        uv_close((uv_handle_t *)&s->listener, on_listener_closed);
        return VX_E_IO;
    }
    *out = s;
    return 0;
}

int vx_server_port(const vx_server *s) {
    return s ? s->port : -1;
}

void vx_server_close(vx_server *s) {
    if (!s || s->closing) return;
    s->closing = true;
    uv_close((uv_handle_t *)&s->listener, on_listener_closed);
    /* Connections not attached to the node are ours to end; attached
     * long-poll responses are ended by the node through their close op.
     * The node may be freed before ours are gone, so they let go of it. */
    for (vx_http_conn *c = s->conns; c; c = c->next) {
        if (c->opened && !c->reported) continue;
        if (c->shut || c->closing) {
            /* already ending */
        } else if (c->in_request && !c->parked && !c->fs_busy && c->fd < 0) {
            /* A request is arriving: tell it why it will not be served (§9.2),
             * and read the rest of it while lingering, so no reset destroys
             * the answer. */
            vx_http_error(c, 503, NULL, "Vortex server is shutting down", true);
        } else {
            vx_http_hard_close(c);
        }
        c->detached = true;
    }
    server_maybe_free(s);
}
