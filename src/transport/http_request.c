/* Parsing and routing one HTTP request (PROTOCOL.md §9.1, §9.2, §10.1).
 *
 * A valid long-poll POST is recognised when its head is complete and
 * becomes a stream at once (http_stream.c), so the hello and pending msgs
 * are queued before any body item is routed. Every other request is routed
 * when its message ends: the parser pauses there, and vx_http_dispatch
 * answers it while the rest of the input waits. Errors found in the head of
 * a request with a body are answered at once and the connection closed,
 * rather than reading a body nobody wants. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "transport/http_conn.h"
#include "transport/http_util.h"
#include "transport/ws_server.h"

static const vx_node_opts *opts_of(vx_http_conn *c) {
    return vx_node_options(c->srv->node);
}

void vx_http_request_reset(vx_http_conn *c) {
    c->url.len = 0;
    c->hfield.len = 0;
    c->hvalue.len = 0;
    c->hvalue_seen = false;
    c->h_upgrade.len = 0;
    c->h_connection.len = 0;
    c->h_ws_key.len = 0;
    c->h_ws_version.len = 0;
    c->h_origin.len = 0;
    c->h_expect.len = 0;
    c->has_origin = false;
    c->route = VX_ROUTE_NONE;
    c->err_status = 0;
    c->err_body = NULL;
    c->err_extra = NULL;
    c->head_bytes = 0;
    c->body_bytes = 0;
    c->close_after = false;
    c->chunk_left = 0;
    c->crlf_pending = 0;
    free(c->uuid);
    free(c->name);
    c->uuid = c->name = NULL;
}

void vx_http_request_free(vx_http_conn *c) {
    vx_buf *bufs[] = {&c->url,       &c->hfield,       &c->hvalue,
                      &c->h_upgrade, &c->h_connection, &c->h_ws_key,
                      &c->h_origin,  &c->h_ws_version, &c->h_expect};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) vx_buf_free(bufs[i]);
}

/* Fail the request: answered by the reader once the parser returns. */
static void fail(vx_http_conn *c, int status, const char *extra, const char *body) {
    c->route = VX_ROUTE_ERROR;
    c->err_status = status;
    c->err_extra = extra;
    c->err_body = body;
}

static int head_grow(vx_http_conn *c, size_t n) {
    c->head_bytes += n;
    size_t max = opts_of(c)->max_http_header;
    if (c->head_bytes <= max) return 0;
    snprintf(c->err_text, sizeof c->err_text, "Request line and headers exceed %zu bytes",
             max);
    fail(c, 431, NULL, c->err_text);
    return -1;
}

static int on_message_begin(http_parser *p) {
    vx_http_conn *c = p->data;
    vx_http_request_reset(c);
    c->in_head = true;
    c->in_request = true;
    vx_http_count(c, VX_CTR_HTTP_REQUESTS, 1);
    vx_http_arm_timer(c, c->srv->head_timeout_ms);
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
    vx_http_conn *c = p->data;
    /* method, spaces and the version line are counted once, as if canonical */
    if (head_grow(c, len + (c->url.len == 0 ? strlen(http_method_str(p->method)) + 12 : 0)))
        return -1;
    return vx_buf_append(&c->url, at, len) == 0 ? 0 : -1;
}

static void keep_header(vx_buf *dst, const vx_buf *v, bool join) {
    if (dst->len > 0 && !join) return; /* first occurrence wins */
    if (dst->len > 0) vx_buf_append(dst, ", ", 2);
    vx_buf_append(dst, v->data ? v->data : "", v->len);
}

/* A header is complete: keep the few this server looks at. */
static void finish_header(vx_http_conn *c) {
    if (!c->hvalue_seen) return;
    c->hvalue_seen = false;
    vx_buf *v = &c->hvalue;
    while (v->len > 0 && (v->data[v->len - 1] == ' ' || v->data[v->len - 1] == '\t'))
        v->len--;
    vx_buf_append(&c->hfield, "", 1);
    const char *f = c->hfield.data;
    if (strcasecmp(f, "upgrade") == 0)
        keep_header(&c->h_upgrade, v, true);
    else if (strcasecmp(f, "connection") == 0)
        keep_header(&c->h_connection, v, true);
    else if (strcasecmp(f, "sec-websocket-key") == 0)
        keep_header(&c->h_ws_key, v, false);
    else if (strcasecmp(f, "sec-websocket-version") == 0)
        keep_header(&c->h_ws_version, v, false);
    else if (strcasecmp(f, "expect") == 0)
        keep_header(&c->h_expect, v, true);
    else if (strcasecmp(f, "origin") == 0 && !c->has_origin) {
        c->has_origin = true;
        keep_header(&c->h_origin, v, false);
    }
    c->hfield.len = 0;
    c->hvalue.len = 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
    vx_http_conn *c = p->data;
    bool fresh = c->hvalue_seen || c->hfield.len == 0;
    finish_header(c);
    if (head_grow(c, len + (fresh ? 4 : 0))) return -1;
    return vx_buf_append(&c->hfield, at, len) == 0 ? 0 : -1;
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
    vx_http_conn *c = p->data;
    c->hvalue_seen = true;
    if (head_grow(c, len)) return -1;
    return vx_buf_append(&c->hvalue, at, len) == 0 ? 0 : -1;
}

static bool str_eq(const char *a, size_t alen, const char *b) {
    return alen == strlen(b) && memcmp(a, b, alen) == 0;
}

/* Split the request target into path and query (origin or absolute form). */
static bool split_url(vx_http_conn *c, const char **path, size_t *plen, const char **query,
                      size_t *qlen) {
    const char *u = c->url.data;
    size_t n = c->url.len;
    *query = "";
    *qlen = 0;
    if (n > 0 && u[0] == '/') {
        size_t e = 0;
        while (e < n && u[e] != '?' && u[e] != '#') e++;
        *path = u;
        *plen = e;
        if (e < n && u[e] == '?') {
            size_t q = e + 1, qe = q;
            while (qe < n && u[qe] != '#') qe++;
            *query = u + q;
            *qlen = qe - q;
        }
        return true;
    }
    struct http_parser_url pu;
    http_parser_url_init(&pu);
    if (n == 0 || http_parser_parse_url(u, n, 0, &pu) != 0) return false;
    if (!(pu.field_set & (1 << UF_PATH))) {
        *path = "/";
        *plen = 1;
    } else {
        *path = u + pu.field_data[UF_PATH].off;
        *plen = pu.field_data[UF_PATH].len;
    }
    if (pu.field_set & (1 << UF_QUERY)) {
        *query = u + pu.field_data[UF_QUERY].off;
        *qlen = pu.field_data[UF_QUERY].len;
    }
    return true;
}

/* vortexUuid and vortexName (§9.1); false after failing the request. */
static bool take_identity(vx_http_conn *c, const char *q, size_t qlen) {
    static const char *const names[2] = {"vortexUuid", "vortexName"};
    static const char *const errs[2] = {"Missing or invalid query parameter: vortexUuid",
                                        "Missing or invalid query parameter: vortexName"};
    char **dst[2] = {&c->uuid, &c->name};
    for (int i = 0; i < 2; i++) {
        size_t len = 0;
        int r = vx_http_query_get(q, qlen, names[i], dst[i], &len);
        if (r < 0) {
            fail(c, 500, NULL, "Out of memory");
            return false;
        }
        if (r == 0 || !vx_http_param_valid(*dst[i], len)) {
            fail(c, 400, NULL, errs[i]);
            return false;
        }
    }
    return true;
}

static bool method_get_or_head(vx_http_conn *c) {
    if (c->parser.method == HTTP_GET || c->parser.method == HTTP_HEAD) return true;
    fail(c, 405, "Allow: GET, HEAD\r\n", "Only GET and HEAD are supported here.");
    return false;
}

static int on_headers_complete(http_parser *p) {
    vx_http_conn *c = p->data;
    finish_header(c);
    if (head_grow(c, 2)) return -1;
    c->in_head = false;
    if (vx_buf_append(&c->url, "", 1) != 0) return -1;
    c->url.len--;
    const vx_node_opts *o = opts_of(c);
    vx_server *s = c->srv;
    bool has_body = (p->flags & F_CHUNKED) ||
                    (p->content_length > 0 && p->content_length != ULLONG_MAX);
    c->close_after = !http_should_keep_alive(p) || p->http_minor == 0 || p->upgrade;

    if (p->content_length != ULLONG_MAX && p->content_length > o->max_http_body) {
        snprintf(c->err_text, sizeof c->err_text, "Request body exceeds %zu bytes",
                 o->max_http_body);
        fail(c, 413, NULL, c->err_text);
        return -1;
    }
    const char *path, *q;
    size_t plen, qlen;
    if (!split_url(c, &path, &plen, &q, &qlen)) {
        fail(c, 400, NULL, "Malformed HTTP request: invalid request target");
        return -1;
    }
    if (str_eq(path, plen, s->http_path)) {
        if (p->method != HTTP_POST) {
            fail(c, 405, "Allow: POST\r\n",
                 "This is a vortex endpoint; only POST is supported.");
        } else if (take_identity(c, q, qlen)) {
            if (vx_node_shutting_down(s->node)) {
                fail(c, 503, NULL, "Vortex server is shutting down");
                return -1;
            }
            c->route = VX_ROUTE_STREAM;
            c->in_request = false;
            vx_http_stop_timer(c);
            vx_http_stream_begin(c);
            return 0;
        }
    } else if (str_eq(path, plen, s->ws_path)) {
        c->route = VX_ROUTE_WS;
        take_identity(c, q, qlen); /* a failure becomes the answer at message end */
    } else if (str_eq(path, plen, "/health")) {
        if (method_get_or_head(c)) c->route = VX_ROUTE_HEALTH;
    } else if (str_eq(path, plen, "/metrics")) {
        if (method_get_or_head(c)) c->route = VX_ROUTE_METRICS;
    } else if (s->static_root) {
        if (method_get_or_head(c)) c->route = VX_ROUTE_STATIC;
    } else {
        fail(c, 404, NULL, "Not found");
    }
    /* Do not read a body only to refuse it. */
    if (c->route == VX_ROUTE_ERROR && has_body) return -1;
    return 0;
}

static const char chunk_crlf_err[] =
    "Malformed HTTP request: chunk data not followed by CRLF";

/* Compare what follows chunk data at `pos` (up to `end`) with the CRLF
 * still owed; what lies past `end` is checked when it arrives. */
static bool crlf_check(vx_http_conn *c, const char *pos, const char *end) {
    while (c->crlf_pending > 0 && pos < end) {
        char want = c->crlf_pending == 2 ? '\r' : '\n';
        if (*pos++ != want) {
            c->crlf_pending = 0;
            fail(c, 400, NULL, chunk_crlf_err);
            return false;
        }
        c->crlf_pending--;
    }
    return true;
}

bool vx_http_chunk_crlf_ok(vx_http_conn *c, const char *data, size_t len) {
    return crlf_check(c, data, data + len);
}

static int on_chunk_header(http_parser *p) {
    vx_http_conn *c = p->data;
    c->chunk_left = p->content_length;
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
    vx_http_conn *c = p->data;
    if (p->flags & F_CHUNKED) {
        c->chunk_left -= len < c->chunk_left ? len : c->chunk_left;
        if (c->chunk_left == 0) {
            c->crlf_pending = 2;
            if (!crlf_check(c, at + len, c->cur_end)) return -1;
        }
    }
    size_t max = opts_of(c)->max_http_body;
    c->body_bytes += len;
    if (c->body_bytes > max) {
        snprintf(c->err_text, sizeof c->err_text, "Request body exceeds %zu bytes", max);
        fail(c, 413, NULL, c->err_text);
        return -1;
    }
    if (c->route == VX_ROUTE_STREAM) vx_http_stream_body(c, at, len);
    return 0;
}

static int on_message_complete(http_parser *p) {
    vx_http_conn *c = p->data;
    if (c->route == VX_ROUTE_STREAM) {
        c->body_done = true;
        http_parser_pause(p, 1);
        vx_http_stream_body_end(c);
        return 0;
    }
    /* Stop here: the reader answers this request before parsing the next. */
    http_parser_pause(p, 1);
    return 0;
}

const http_parser_settings vx_http_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_chunk_header = on_chunk_header,
    .on_message_complete = on_message_complete,
};

/* ---- answers at message end --------------------------------------------- */

typedef struct ws_write {
    uv_write_t req;
    char data[];
} ws_write;

static void on_101_written(uv_write_t *req, int status) {
    /* The socket belongs to the WebSocket module now: touch nothing else. */
    free(req);
}

static bool origin_allowed(vx_http_conn *c) {
    vx_server *s = c->srv;
    /* Only browsers send Origin, and they always do: a request without one
     * is not a cross-site page and is let through. */
    if (s->n_origins == 0 || !c->has_origin) return true;
    for (size_t i = 0; i < s->n_origins; i++) {
        if (str_eq(c->h_origin.data ? c->h_origin.data : "", c->h_origin.len,
                   s->origins[i]))
            return true;
    }
    return false;
}

/* §10.1: check the upgrade, write the 101 and hand the socket over. */
static bool ws_upgrade(vx_http_conn *c, const char *rest, size_t rest_len) {
    http_parser *p = &c->parser;
    c->close_after = true; /* any refusal ends the connection */
    if (c->route == VX_ROUTE_ERROR) {
        vx_http_error(c, c->err_status, c->err_extra, c->err_body, true);
        return false;
    }
    if (p->method != HTTP_GET || (p->http_major == 1 && p->http_minor == 0) ||
        !vx_http_has_token(c->h_upgrade.data, c->h_upgrade.len, "websocket") ||
        !vx_http_has_token(c->h_connection.data, c->h_connection.len, "upgrade")) {
        vx_http_error(c, 400, NULL, "Not a WebSocket upgrade request", true);
        return false;
    }
    if (!str_eq(c->h_ws_version.data ? c->h_ws_version.data : "", c->h_ws_version.len,
                "13")) {
        vx_http_error(c, 426, "Sec-WebSocket-Version: 13\r\n",
                      "Unsupported Sec-WebSocket-Version; only 13 is supported", true);
        return false;
    }
    if (!c->h_ws_key.data || !vx_http_ws_key_valid(c->h_ws_key.data, c->h_ws_key.len)) {
        vx_http_error(c, 400, NULL, "Missing or invalid Sec-WebSocket-Key", true);
        return false;
    }
    if (!origin_allowed(c)) {
        vx_http_error(c, 403, NULL, "Origin not allowed", true);
        return false;
    }
    if (vx_node_shutting_down(c->srv->node)) {
        vx_http_error(c, 503, NULL, "Vortex server is shutting down", true);
        return false;
    }
    char accept[29];
    vx_ws_accept_key(c->h_ws_key.data, c->h_ws_key.len, accept);
    char head[160];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 101 Switching Protocols\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n\r\n",
                     accept);
    ws_write *w = malloc(sizeof *w + (size_t)n);
    if (!w) {
        vx_http_hard_close(c);
        return false;
    }
    memcpy(w->data, head, (size_t)n);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)n);
    uv_tcp_t *tcp = c->tcp;
    vx_tls *tls = c->tls;
    if (vx_stream_write(tls, &w->req, (uv_stream_t *)tcp, &b, 1, on_101_written) != 0) {
        free(w);
        vx_http_hard_close(c);
        return false;
    }
    vx_http_count(c, VX_CTR_BYTES_OUT, (uint64_t)n);
    uv_read_stop((uv_stream_t *)tcp);
    /* The socket is no longer this connection's: only the timer remains. */
    c->tcp = NULL;
    c->tls = NULL;
    c->tcp_open = false;
    c->refs--;
    vx_http_hard_close(c);
    vx_ws_server_start_tls(c->srv->node, tcp, tls, c->conn.peer, c->uuid, c->name, rest,
                           rest_len);
    return false;
}

static void respond_text(vx_http_conn *c, int status, const char *ctype, const char *body,
                         size_t blen) {
    bool head = c->parser.method == HTTP_HEAD;
    vx_buf out = {0};
    char h[256];
    int n = snprintf(h, sizeof h,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Cache-Control: no-cache\r\n%s\r\n",
                     status, vx_http_status_text(status), ctype, blen,
                     c->close_after ? "Connection: close\r\n" : "");
    if (vx_buf_append(&out, h, (size_t)n) != 0 ||
        (!head && vx_buf_append(&out, body, blen) != 0)) {
        vx_buf_free(&out);
        vx_http_hard_close(c);
        return;
    }
    vx_http_respond(c, out.data, out.len, status, c->close_after);
    vx_buf_free(&out);
}

static void serve_static(vx_http_conn *c) {
    const char *path, *q;
    size_t plen, qlen;
    split_url(c, &path, &plen, &q, &qlen);
    char *rel = malloc(plen + 1);
    if (!rel) {
        vx_http_hard_close(c);
        return;
    }
    if (vx_http_sanitize_path(path, plen, rel) != 0) {
        free(rel);
        vx_http_error(c, 404, NULL, "Not found", c->close_after);
        return;
    }
    free(c->file_rel);
    c->file_rel = rel;
    c->parked = true; /* until the file is sent */
    vx_http_static_start(c, rel, c->parser.method == HTTP_HEAD);
}

bool vx_http_dispatch(vx_http_conn *c, const char *rest, size_t rest_len) {
    c->in_request = false;
    switch (c->route) {
    case VX_ROUTE_WS:
        return ws_upgrade(c, rest, rest_len);
    case VX_ROUTE_HEALTH:
        respond_text(c, 200, "text/plain; charset=utf-8", "ok\n", 3);
        break;
    case VX_ROUTE_METRICS: {
        vx_buf m = {0};
        if (vx_node_metrics_text(c->srv->node, &m) != 0) {
            vx_buf_free(&m);
            vx_http_error(c, 500, NULL, "Metrics unavailable", c->close_after);
            break;
        }
        respond_text(c, 200, "text/plain; version=0.0.4; charset=utf-8",
                     m.data ? m.data : "", m.len);
        vx_buf_free(&m);
        break;
    }
    case VX_ROUTE_STATIC:
        serve_static(c);
        return false;
    case VX_ROUTE_ERROR:
        vx_http_error(c, c->err_status, c->err_extra, c->err_body, c->close_after);
        break;
    default:
        vx_http_error(c, 500, NULL, "Unrouted request", true);
        break;
    }
    if (c->closing || c->shut) return false;
    vx_http_arm_timer(c, c->srv->idle_timeout_ms);
    if (uv_stream_get_write_queue_size((uv_stream_t *)c->tcp) > VX_HTTP_PIPELINE_MAX)
        c->parked = true;
    return true;
}
