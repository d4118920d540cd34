/* HTTP long-poll client transport (PROTOCOL §9.7).
 *
 * Every send is a POST on a new TCP connection whose response becomes the new
 * downstream. At most one POST is in flight (body not yet written or response
 * head not yet arrived); msgs queued meanwhile travel together in the next
 * POST. With nothing to send, the latest POST stays open as the downstream.
 * Earlier responses are read until the server ends them (it does so when the
 * next POST takes over). The session fails when the current POST fails or
 * its response ends. */
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_impl.h"
#include "transport/tls.h"

typedef struct http_req http_req;

typedef struct http_t {
    vx_ctransport base;
    struct sockaddr_storage addr;
    http_req *first, *last; /* requests whose TCP handle is not closed yet */
    http_req *current;      /* the latest POST: the downstream */
    unsigned live;
    bool sent_reconnect;
    bool aborted;
} http_t;

struct http_req {
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t write;
    http_t *h;
    http_req *prev, *next;
    vx_buf head;
    uv_buf_t *bufs;
    unsigned n_bufs;
    vx_msgbuf **msgs; /* body: reconnect payloads, then taken msgs */
    size_t n_msgs, n_reconnect;
    size_t taken_bytes;
    bool taken_pending; /* taken msgs neither handed over nor given back */
    http_parser parser;
    vx_splitter *split;
    bool body_written, head_ok, ended, closing, checked_first, stream_hello;
    vx_tls *tls; /* https: the POST is written once the handshake is done */
    char rbuf[65536];
};

static void pump(http_t *h);

static void http_free(http_t *h) {
    free(h);
}

static void on_req_closed(uv_handle_t *handle) {
    http_req *req = handle->data;
    http_t *h = req->h;
    if (req->prev)
        req->prev->next = req->next;
    else
        h->first = req->next;
    if (req->next)
        req->next->prev = req->prev;
    else
        h->last = req->prev;
    if (h->current == req) h->current = NULL;
    for (size_t i = 0; i < req->n_msgs; i++) vx_msgbuf_decref(req->msgs[i]);
    free(req->msgs);
    free(req->bufs);
    vx_buf_free(&req->head);
    vx_splitter_free(req->split);
    vx_tls_free(req->tls); /* the handle is closed: every write called back */
    free(req);
    if (--h->live == 0 && h->aborted) http_free(h);
}

static void req_close(http_req *req) {
    if (req->closing) return;
    req->closing = true;
    uv_close((uv_handle_t *)&req->tcp, on_req_closed);
}

/* Put the taken msgs of an unwritten body back at the front of the queue. */
static void give_back(vx_client *c, http_req *req) {
    if (!req->taken_pending) return;
    req->taken_pending = false;
    size_t n = req->n_msgs - req->n_reconnect;
    vx_msgbuf **ms = req->msgs + req->n_reconnect;
    for (size_t i = 0; i < n; i++) vx_msgbuf_incref(ms[i]); /* the queue's own */
    vx_client__requeue(c, ms, n, req->taken_bytes);
}

static void http_abort(vx_ctransport *t) {
    http_t *h = (http_t *)t;
    vx_client *c = h->base.client;
    h->base.client = NULL;
    h->aborted = true;
    /* Newest first, so the oldest msgs end up at the very front. */
    for (http_req *r = h->last; r; r = r->prev) {
        if (c) give_back(c, r);
        req_close(r);
    }
    if (h->live == 0) http_free(h);
}

/* The session fails if this is the downstream (or its body is unsent);
 * an older stream just goes away. */
static void req_failed(http_req *req, const char *why) {
    vx_client *c = req->h->base.client;
    if (!c || req->closing) return;
    if (req == req->h->current || req->taken_pending)
        vx_client__failed(c, why);
    else
        req_close(req);
}

/* ---- response parsing ---------------------------------------------------- */

static void on_split(void *data, int status, const char *item, size_t len) {
    http_req *req = data;
    vx_client *c = req->h->base.client;
    if (!c || req->closing) return;
    if (status != 0) /* too big: skipped by the splitter, counted (§2.3) */
        vx_client__item_error(c, status);
    else
        vx_client__item(c, item, len, &req->stream_hello);
}

static int on_headers_complete(http_parser *p) {
    http_req *req = p->data;
    if (p->status_code != 200) {
        char why[64];
        snprintf(why, sizeof why, "HTTP status %u from the server", p->status_code);
        req_failed(req, why);
        return -1;
    }
    req->head_ok = true;
    if (req == req->h->current) pump(req->h);
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
    http_req *req = p->data;
    if (!req->checked_first && len > 0) {
        req->checked_first = true;
        if (at[0] == '<') {
            req_failed(req, "authentication error: the server answered with an HTML page");
            return -1;
        }
    }
    if (vx_splitter_feed(req->split, at, len) != 0) {
        req_failed(req, "out of memory reading the response");
        return -1;
    }
    return req->closing || !req->h->base.client ? -1 : 0;
}

static int on_message_complete(http_parser *p) {
    http_req *req = p->data;
    req->ended = true;
    vx_splitter_finish(req->split, false); /* an unterminated item is discarded */
    if (req->h->base.client && !req->closing) {
        if (req == req->h->current)
            req_failed(req, "the server ended the response stream");
        else
            req_close(req);
    }
    return -1; /* nothing may follow on this connection */
}

static const http_parser_settings parser_settings = {
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
    http_req *req = handle->data;
    *buf = uv_buf_init(req->rbuf, sizeof req->rbuf);
}

static void send_post(http_req *req);

/* Bytes (or the end, nread < 0) of the response. */
static void input(http_req *req, ssize_t nread, const char *data) {
    if (nread < 0) {
        /* EOF ends an HTTP/1.0 (unchunked) stream; otherwise it cuts one. */
        if (nread == UV_EOF) http_parser_execute(&req->parser, &parser_settings, NULL, 0);
        if (req->closing || req->ended) return;
        char why[128];
        snprintf(why, sizeof why, "connection %s %s the response head",
                 nread == UV_EOF ? "closed" : uv_strerror((int)nread),
                 req->head_ok ? "after" : "before");
        req_failed(req, why);
        req_close(req);
        return;
    }
    http_parser_execute(&req->parser, &parser_settings, data, (size_t)nread);
    if (req->closing || req->ended || !req->h->base.client) return;
    if (HTTP_PARSER_ERRNO(&req->parser) != HPE_OK) {
        char why[128];
        snprintf(why, sizeof why, "bad HTTP response: %s",
                 http_errno_description(HTTP_PARSER_ERRNO(&req->parser)));
        req_failed(req, why);
        req_close(req);
    }
}

static void tls_failed(http_req *req, bool handshake, const char *reason) {
    vx_client *c = req->h->base.client;
    if (!c || req->closing) return;
    char why[VX_ERROR_MESSAGE_MAX];
    snprintf(why, sizeof why, "TLS %s %.64s:%d failed: %s",
             handshake ? "handshake with" : "connection to", c->url.host, c->url.port,
             reason);
    req_failed(req, why);
    req_close(req);
}

/* https: ciphertext in; once the handshake is done the POST goes out, and
 * the plaintext goes to the response parser (in the read buffer, whose
 * ciphertext OpenSSL has copied). */
static void tls_input(http_req *req, ssize_t nread) {
    vx_tls *t = req->tls;
    bool was_ready = vx_tls_ready(t);
    if (nread < 0) {
        if (was_ready)
            input(req, nread, NULL);
        else
            tls_failed(req, true,
                       nread == UV_EOF ? "the server closed the connection"
                                       : uv_strerror((int)nread));
        return;
    }
    if (vx_tls_feed(t, req->rbuf, (size_t)nread) != 0) {
        tls_failed(req, !was_ready, vx_tls_error(t));
        return;
    }
    if (!vx_tls_ready(t)) return;
    if (!was_ready) send_post(req);
    while (!req->closing && !req->ended && req->h->base.client) {
        ssize_t n = vx_tls_read(t, req->rbuf, sizeof req->rbuf);
        if (n == 0) return;
        if (n == VX_E_TLS) {
            tls_failed(req, false, vx_tls_error(t));
            return;
        }
        input(req, n, req->rbuf); /* n == UV_EOF: the end of the response */
        if (n < 0) return;
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    http_req *req = s->data;
    if (req->closing || nread == 0) return;
    if (req->tls)
        tls_input(req, nread);
    else
        input(req, nread, buf->base);
}

/* ---- sending a POST ------------------------------------------------------ */

static void on_write(uv_write_t *w, int status) {
    http_req *req = w->data;
    if (req->closing) return;
    vx_client *c = req->h->base.client;
    if (status < 0) {
        char why[128];
        snprintf(why, sizeof why, "writing the POST failed: %s", uv_strerror(status));
        req_failed(req, why);
        return;
    }
    req->body_written = true;
    if (req->taken_pending && c) {
        /* Handed to the transport: never resent (§11). */
        req->taken_pending = false;
        vx_client__handed(c, req->taken_bytes);
    }
    for (size_t i = 0; i < req->n_msgs; i++) vx_msgbuf_decref(req->msgs[i]);
    req->n_msgs = req->n_reconnect = 0;
    pump(req->h);
}

static void on_connect(uv_connect_t *cr, int status) {
    http_req *req = cr->data;
    if (req->closing) return;
    if (status < 0) {
        char why[VX_ERROR_MESSAGE_MAX];
        snprintf(why, sizeof why, "cannot connect to %.64s:%d: %s",
                 req->h->base.client->url.host, req->h->base.client->url.port,
                 uv_strerror(status));
        req_failed(req, why);
        return;
    }
    uv_tcp_nodelay(&req->tcp, 1);
    vx_client *c = req->h->base.client;
    int rc = 0;
    if (c->tls) {
        /* The POST waits for the handshake (tls_input). */
        req->tls = vx_tls_new_client(c->tls, (uv_stream_t *)&req->tcp, c->tls_host);
        rc = req->tls ? vx_tls_start(req->tls) : UV_ENOMEM;
        if (rc == VX_E_TLS) {
            tls_failed(req, true, vx_tls_error(req->tls));
            return;
        }
    } else {
        rc = vx_stream_write(NULL, &req->write, (uv_stream_t *)&req->tcp, req->bufs,
                             req->n_bufs, on_write);
    }
    if (rc == 0) rc = uv_read_start((uv_stream_t *)&req->tcp, on_alloc, on_read);
    if (rc < 0) {
        char why[128];
        snprintf(why, sizeof why, "starting the POST failed: %s", uv_strerror(rc));
        req_failed(req, why);
    }
}

static void send_post(http_req *req) {
    int rc = vx_stream_write(req->tls, &req->write, (uv_stream_t *)&req->tcp, req->bufs,
                             req->n_bufs, on_write);
    if (rc < 0) {
        char why[128];
        snprintf(why, sizeof why, "starting the POST failed: %s", uv_strerror(rc));
        req_failed(req, why);
    }
}

static int build_request(vx_client *c, http_req *req) {
    size_t body = 0;
    for (size_t i = 0; i < req->n_msgs; i++) body += req->msgs[i]->len + 1;
    bool v6 = strchr(c->url.host, ':') != NULL;
    char head[512];
    int n = snprintf(head, sizeof head,
                     " HTTP/1.1\r\nHost: %s%s%s:%d\r\n"
                     "Content-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: %zu\r\nCache-Control: no-cache\r\n\r\n",
                     v6 ? "[" : "", c->url.host, v6 ? "]" : "", c->url.port, body);
    if (vx_buf_append(&req->head, "POST ", 5) ||
        vx_buf_append(&req->head, c->target.data, c->target.len) ||
        vx_buf_append(&req->head, head, (size_t)n))
        return VX_E_NOMEM;
    req->n_bufs = (unsigned)(1 + 2 * req->n_msgs);
    req->bufs = malloc(req->n_bufs * sizeof *req->bufs);
    if (!req->bufs) return VX_E_NOMEM;
    req->bufs[0] = uv_buf_init(req->head.data, (unsigned)req->head.len);
    for (size_t i = 0; i < req->n_msgs; i++) {
        req->bufs[1 + 2 * i] = uv_buf_init(req->msgs[i]->data, (unsigned)req->msgs[i]->len);
        req->bufs[2 + 2 * i] = uv_buf_init((char *)".", 1);
    }
    return 0;
}

/* Start a POST carrying the reconnect payloads (first POST of the session)
 * and everything queued. 0 or an error with `why` filled. */
static int start_post(http_t *h, char *why, size_t why_len) {
    vx_client *c = h->base.client;
    http_req *req = calloc(1, sizeof *req);
    size_t n_rec = h->sent_reconnect ? 0 : c->n_reconnect;
    size_t cap = n_rec + c->queue.count;
    if (!req || !(req->msgs = malloc((cap ? cap : 1) * sizeof *req->msgs))) {
        free(req);
        snprintf(why, why_len, "out of memory starting a POST");
        return VX_E_NOMEM;
    }
    req->h = h;
    for (size_t i = 0; i < n_rec; i++)
        req->msgs[req->n_msgs++] = vx_msgbuf_incref(c->reconnect[i]);
    req->n_reconnect = n_rec;
    vx_msgbuf *m;
    while (req->n_msgs < cap && (m = vx_client__take(c))) {
        req->msgs[req->n_msgs++] = m;
        req->taken_bytes += m->len + 1;
    }
    req->taken_pending = true;
    http_parser_init(&req->parser, HTTP_RESPONSE);
    req->parser.data = req;
    req->connect.data = req->write.data = req;
    uv_tcp_init(c->loop, &req->tcp);
    req->tcp.data = req;
    req->prev = h->last;
    if (h->last)
        h->last->next = req;
    else
        h->first = req;
    h->last = req;
    h->live++;
    h->current = req;
    h->sent_reconnect = true;
    int rc = build_request(c, req);
    req->split = vx_splitter_new(vx_codec_options(c->codec)->max_msg_bytes, on_split, req);
    if (rc || !req->split) {
        snprintf(why, why_len, "out of memory starting a POST");
        return VX_E_NOMEM;
    }
    rc = uv_tcp_connect(&req->connect, &req->tcp, (const struct sockaddr *)&h->addr,
                        on_connect);
    if (rc < 0) {
        snprintf(why, why_len, "cannot connect to %.64s:%d: %s", c->url.host, c->url.port,
                 uv_strerror(rc));
        return VX_E_IO;
    }
    return 0;
}

static void pump(http_t *h) {
    vx_client *c = h->base.client;
    if (!c) return;
    http_req *cur = h->current;
    if (cur && (!cur->head_ok || !cur->body_written || c->queue.count == 0)) return;
    char why[VX_ERROR_MESSAGE_MAX];
    if (start_post(h, why, sizeof why) != 0) vx_client__failed(c, why);
}

static void http_kick(vx_ctransport *t) {
    pump((http_t *)t);
}

static int http_start(vx_client *c, const struct sockaddr *addr, vx_error *err) {
    http_t *h = calloc(1, sizeof *h);
    if (!h) return vx_error_set(err, VX_E_NOMEM, "out of memory starting HTTP");
    h->base.client = c;
    memcpy(&h->addr, addr,
           addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                       : sizeof(struct sockaddr_in));
    char why[VX_ERROR_MESSAGE_MAX];
    int rc = start_post(h, why, sizeof why);
    if (rc) {
        http_abort(&h->base);
        return vx_error_set(err, rc, "%s", why);
    }
    c->t = &h->base;
    return 0;
}

const vx_ctransport_vt vx_http_client_vt = {
    .name = "http",
    .start = http_start,
    .kick = http_kick,
    .abort = http_abort,
};
