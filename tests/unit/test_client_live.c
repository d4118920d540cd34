/* The client against real servers on one loop (PROTOCOL §9.7, §10.5, §11,
 * §13): a server vx_node listening on an ephemeral port, a client node
 * attached with vx_client, over HTTP long-poll and WebSocket. A tiny raw
 * HTTP server covers what a VortexC server never sends (bare-dot heartbeats,
 * login pages, errors). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <vortexc/client.h>

#include "helpers/vxtest_loop.h"

#include "node/conn.h"

typedef struct fx {
    uv_loop_t loop;
    bool (*pred)(struct fx *);
    vx_node *server, *cnode;
    vx_client *client;
    int port;
    bool ws;
    /* what the server's "t.rec" endpoint saw: filt "tag" values in order */
    char rec[64][16];
    int n_rec;
    /* client state changes */
    int n_online, n_offline;
    uint64_t offline_at, online_at;
    /* request outcome */
    int n_done;
    vx_request_status status;
    int err_code;
    char err_msg[64];
    bool reply_has_id;
} fx;

static uint64_t now_ms(fx *f) {
    uv_update_time(&f->loop);
    return uv_now(&f->loop);
}

static bool fx_pred(void *data) {
    fx *f = data;
    return f->pred && f->pred(f);
}

/* Run the loop until pred(f) holds or `secs` pass (pred NULL: just run for
 * `secs`); returns whether it held. */
static bool run_until(fx *f, bool (*pred)(fx *), double secs) {
    f->pred = pred;
    bool met = vxt_run_until(&f->loop, fx_pred, f, secs);
    f->pred = NULL;
    return met;
}

/* ---- server endpoints ------------------------------------------------------ */

static int ep_echo(void *data, vx_payload *p, const vx_route_ctx *ctx, vx_error *err) {
    vx_payload *r = vx_payload_new();
    vx_payload_set_filt_new(r, vx_deep_copy(vx_payload_filt(p)));
    int rc = ctx->reply(ctx->reply_data, r, err);
    vx_payload_decref(r);
    return rc;
}

static int ep_boom(void *data, vx_payload *p, const vx_route_ctx *ctx, vx_error *err) {
    vx_payload *r = vx_payload_new();
    vx_payload_set_filt_new(r, vx_deep_copy(vx_payload_filt(p)));
    vx_payload_set_result_new(r, vx_str("boom"));
    int rc = ctx->reply(ctx->reply_data, r, err);
    vx_payload_decref(r);
    return rc;
}

static int ep_rec(void *data, vx_payload *p, const vx_route_ctx *ctx, vx_error *err) {
    fx *f = data;
    vx_value *tag = vx_dict_get(vx_payload_filt(p), "tag");
    if (f->n_rec < 64 && vx_typeof(tag) == VX_STR)
        snprintf(f->rec[f->n_rec++], sizeof f->rec[0], "%s", vx_str_value(tag));
    return 0;
}

static void add_ep(vx_node *n, const char *key, vx_endpoint_fn fn, void *data) {
    vx_value *filt = vx_dict();
    vx_dict_set_new(filt, "key", vx_str(key));
    assert_int_equal(vx_router_add(vx_node_router(n), filt, fn, data, NULL, NULL), 0);
    vx_decref(filt);
}

static void start_server(fx *f, double heartbeat) {
    vx_node_opts o;
    vx_node_opts_init(&o);
    o.name = "srv";
    o.heartbeat_period = heartbeat;
    f->server = vx_node_new(&f->loop, &o, NULL);
    assert_non_null(f->server);
    vx_listen_opts lo;
    vx_listen_opts_init(&lo);
    lo.host = "127.0.0.1";
    lo.port = f->port; /* 0 the first time, then the same port again */
    assert_int_equal(vx_node_listen(f->server, &lo, NULL), 0);
    f->port = vx_node_port(f->server);
    add_ep(f->server, "t.echo", ep_echo, f);
    add_ep(f->server, "t.boom", ep_boom, f);
    add_ep(f->server, "t.rec", ep_rec, f);
}

static void on_state(void *data, bool online) {
    fx *f = data;
    if (online) {
        f->n_online++;
        f->online_at = now_ms(f);
    } else {
        f->n_offline++;
        f->offline_at = now_ms(f);
    }
}

static void start_client(fx *f, const vx_client_opts *co) {
    vx_node_opts o;
    vx_node_opts_init(&o);
    o.name = "cli";
    f->cnode = vx_node_new(&f->loop, &o, NULL);
    assert_non_null(f->cnode);
    char url[128];
    snprintf(url, sizeof url,
             f->ws ? "ws://127.0.0.1:%d/vortexws" : "http://127.0.0.1:%d/vortex", f->port);
    vx_error err;
    f->client = vx_client_new(f->cnode, url, co, &err);
    assert_non_null(f->client);
    assert_int_equal(vx_client_on_state(f->client, on_state, f), 0);
    assert_int_equal(f->n_offline, 1); /* a late subscriber learns the state at once */
    f->n_offline = 0;
}

static fx *fx_new(bool ws) {
    fx *f = calloc(1, sizeof *f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->ws = ws;
    return f;
}

static void fx_free(fx *f) {
    vx_client_free(f->client);
    if (f->cnode) vx_node_free(f->cnode);
    if (f->server) vx_node_free(f->server);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0); /* every handle was closed */
    free(f);
}

static bool is_online(fx *f) {
    return vx_client_online(f->client);
}
static bool is_offline(fx *f) {
    return !vx_client_online(f->client);
}
static bool request_done(fx *f) {
    return f->n_done > 0;
}

static void on_response(void *data, vx_request_status st, vx_payload *reply,
                        const vx_error *err) {
    fx *f = data;
    f->n_done++;
    f->status = st;
    f->err_code = err ? err->code : 0;
    snprintf(f->err_msg, sizeof f->err_msg, "%.60s", err ? err->message : "");
    f->reply_has_id =
        reply && vx_dict_get(vx_payload_filt(reply), "PayloadResponse.messageId") != NULL;
}

static int request(fx *f, const char *key, double timeout) {
    vx_payload *p = vx_payload_new_key(key);
    vx_request_opts ro = {.timeout = timeout};
    int rc = vx_node_request(f->cnode, NULL, p, &ro, on_response, f, NULL);
    vx_payload_decref(p);
    return rc;
}

static void connected_fixture(fx *f, const vx_client_opts *co, double heartbeat) {
    start_server(f, heartbeat);
    start_client(f, co);
    assert_true(run_until(f, is_online, 5));
    assert_string_equal(vx_client_server_name(f->client), "srv");
    assert_string_equal(vx_client_server_uuid(f->client), vx_node_uuid(f->server));
}

/* ---- C-72, C-74, C-73 ------------------------------------------------------ */

static void C72(bool ws) {
    fx *f = fx_new(ws);
    connected_fixture(f, NULL, 5);
    assert_int_equal(request(f, "t.echo", 5), 0);
    assert_true(run_until(f, request_done, 5));
    assert_int_equal(f->status, VX_REQUEST_SUCCESS);
    assert_true(f->reply_has_id);
    fx_free(f);
}
static void test_C72_request_completes_on_reply_http(void **s) {
    C72(false);
}
static void test_C72_request_completes_on_reply_ws(void **s) {
    C72(true);
}

static void C74(bool ws) {
    fx *f = fx_new(ws);
    connected_fixture(f, NULL, 5);
    assert_int_equal(request(f, "t.boom", 5), 0);
    assert_true(run_until(f, request_done, 5));
    assert_int_equal(f->status, VX_REQUEST_FAILED);
    assert_int_equal(f->err_code, VX_E_REMOTE);
    assert_string_equal(f->err_msg, "boom");
    fx_free(f);
}
static void test_C74_boom_reply_fails_with_remote_http(void **s) {
    C74(false);
}
static void test_C74_boom_reply_fails_with_remote_ws(void **s) {
    C74(true);
}

static bool all_done_1000(fx *f) {
    return f->n_done == 1000;
}

static void C73(bool ws) {
    fx *f = fx_new(ws);
    connected_fixture(f, NULL, 5);
    size_t base = vx_router_count(vx_node_router(f->cnode));
    for (int i = 0; i < 1000; i++) assert_int_equal(request(f, "t.nobody", 0.2), 0);
    assert_true(run_until(f, all_done_1000, 10));
    assert_int_equal(f->status, VX_REQUEST_TIMED_OUT);
    assert_int_equal(f->err_code, VX_E_TIMEOUT);
    assert_int_equal(vx_router_count(vx_node_router(f->cnode)), base);
    fx_free(f);
}
static void test_C73_timeouts_leave_no_endpoints_http(void **s) {
    C73(false);
}
static void test_C73_timeouts_leave_no_endpoints_ws(void **s) {
    C73(true);
}

/* ---- C-67: a silent server is declared dead, then the client reconnects --- */

static bool online_twice(fx *f) {
    return f->n_online >= 2;
}

static void C67(bool ws) {
    fx *f = fx_new(ws);
    vx_client_opts co;
    vx_client_opts_init(&co);
    co.dead_after = 0.3;
    co.backoff_initial = 0.1;
    co.backoff_max = 0.2;
    connected_fixture(f, &co, 60); /* the server stays silent after its hello */
    uint64_t t0 = f->online_at;
    assert_true(run_until(f, online_twice, 5));
    assert_int_equal(f->n_offline, 1);
    uint64_t died = f->offline_at - t0;
    assert_true(died >= 280 && died < 1000);
    /* retry 1 waited in [b/2, b] = [50, 100] ms (plus connect time) */
    assert_true(f->online_at - f->offline_at >= 45);
    fx_free(f);
}
static void test_C67_dead_server_detected_and_reconnected_http(void **s) {
    C67(false);
}
static void test_C67_dead_server_detected_and_reconnected_ws(void **s) {
    C67(true);
}

/* C-71 (empty-payload form): heartbeats more often than dead_after keep the
 * client online. */
static void C71(bool ws) {
    fx *f = fx_new(ws);
    vx_client_opts co;
    vx_client_opts_init(&co);
    co.dead_after = 0.4;
    connected_fixture(f, &co, 0.1);
    assert_false(run_until(f, is_offline, 1.5));
    assert_int_equal(f->n_offline, 0);
    fx_free(f);
}
static void test_C71_empty_payload_heartbeats_keep_online_http(void **s) {
    C71(false);
}
static void test_C71_empty_payload_heartbeats_keep_online_ws(void **s) {
    C71(true);
}

/* ---- C-69 / C-70: queue across a server restart, reconnect payloads ------- */

static bool rec_11(fx *f) {
    return f->n_rec >= 11;
}
static bool rec_1(fx *f) {
    return f->n_rec >= 1;
}

static void C69_C70(bool ws) {
    fx *f = fx_new(ws);
    vx_client_opts co;
    vx_client_opts_init(&co);
    co.backoff_initial = 0.05;
    co.backoff_max = 0.1;
    start_server(f, 5);
    start_client(f, &co);
    vx_payload *rp = vx_payload_new_key("t.rec");
    vx_dict_set_new(vx_payload_filt(rp), "tag", vx_str("R"));
    assert_int_equal(vx_client_add_reconnect_payload(f->client, rp, NULL), 0);
    vx_payload_decref(rp);
    assert_true(run_until(f, rec_1, 5));
    assert_string_equal(f->rec[0], "R");
    const char *old_uuid = vx_node_uuid(f->server);
    char saved[64];
    snprintf(saved, sizeof saved, "%s", old_uuid);

    /* The server dies; the client notices and queues while offline. */
    vx_node_free(f->server);
    f->server = NULL;
    assert_true(run_until(f, is_offline, 5));
    f->n_rec = 0;
    for (int i = 0; i < 10; i++) {
        vx_payload *p = vx_payload_new_key("t.rec");
        char tag[16];
        snprintf(tag, sizeof tag, "m%d", i);
        vx_dict_set_new(vx_payload_filt(p), "tag", vx_str(tag));
        /* through the node, addressed to the (known) server */
        assert_int_equal(vx_node_send_uuid(f->cnode, saved, p, NULL), 0);
        vx_payload_decref(p);
    }
    assert_true(vx_client_queued_bytes(f->client) > 0);

    start_server(f, 5); /* same port, new uuid */
    assert_true(run_until(f, rec_11, 8));
    assert_false(run_until(f, NULL, 0.3)); /* nothing more arrives */
    assert_int_equal(f->n_rec, 11);
    assert_string_equal(f->rec[0], "R");
    for (int i = 0; i < 10; i++) {
        char tag[16];
        snprintf(tag, sizeof tag, "m%d", i);
        assert_string_equal(f->rec[1 + i], tag);
    }
    assert_string_equal(vx_client_server_uuid(f->client), vx_node_uuid(f->server));
    assert_int_equal(vx_client_queued_bytes(f->client), 0);
    fx_free(f);
}
static void test_C69_C70_queued_msgs_after_reconnect_payloads_http(void **s) {
    C69_C70(false);
}
static void test_C69_C70_queued_msgs_after_reconnect_payloads_ws(void **s) {
    C69_C70(true);
}

static void test_C69_client_send_overflow_fails_with_queue_full(void **s) {
    fx *f = fx_new(false);
    vx_client_opts co;
    vx_client_opts_init(&co);
    co.send_queue_max = 2000;
    start_server(f, 5);
    start_client(f, &co); /* not run: nothing connects before we fill the queue */
    int ok = 0, rc = 0;
    vx_error err;
    for (int i = 0; i < 100 && rc == 0; i++) {
        vx_payload *p = vx_payload_new_key("t.rec");
        char tag[16];
        snprintf(tag, sizeof tag, "q%d", i);
        vx_dict_set_new(vx_payload_filt(p), "tag", vx_str(tag));
        rc = vx_client_send(f->client, p, &err);
        if (rc == 0) ok++;
        vx_payload_decref(p);
    }
    assert_int_equal(rc, VX_E_QUEUE_FULL);
    assert_true(ok > 1 && ok < 100);
    assert_true(vx_client_queued_bytes(f->client) <= 2000);
    /* The queue was kept: everything accepted arrives, in order, once. */
    assert_true(run_until(f, is_online, 5));
    for (int tries = 0; tries < 100 && f->n_rec < ok; tries++) run_until(f, NULL, 0.02);
    assert_int_equal(f->n_rec, ok);
    for (int i = 0; i < ok; i++) {
        char tag[16];
        snprintf(tag, sizeof tag, "q%d", i);
        assert_string_equal(f->rec[i], tag);
    }
    fx_free(f);
}

static bool queue_drained(fx *f) {
    return vx_client_online(f->client) && vx_client_queued_bytes(f->client) == 0;
}

/* C-69 through the node (§11): with the client's send queue full, a node
 * send to the server fails with VX_E_QUEUE_FULL, the server stays a known
 * remote, and the queue is kept; after it drains, node sends work again. */
static void test_C69_node_send_to_full_client_queue_fails_and_keeps_remote(void **s) {
    fx *f = fx_new(false);
    vx_client_opts co;
    vx_client_opts_init(&co);
    co.send_queue_max = 2000;
    co.backoff_initial = 0.05;
    co.backoff_max = 0.1;
    connected_fixture(f, &co, 5);
    char saved[64];
    snprintf(saved, sizeof saved, "%s", vx_client_server_uuid(f->client));
    vx_node_free(f->server); /* nothing drains the queue while it is gone */
    f->server = NULL;
    assert_true(run_until(f, is_offline, 5));
    int ok = 0, rc = 0;
    vx_error err;
    for (int i = 0; i < 100 && rc == 0; i++) {
        vx_payload *p = vx_payload_new_key("t.rec");
        char tag[16];
        snprintf(tag, sizeof tag, "q%d", i);
        vx_dict_set_new(vx_payload_filt(p), "tag", vx_str(tag));
        rc = vx_node_send_uuid(f->cnode, saved, p, &err);
        if (rc == 0) ok++;
        vx_payload_decref(p);
    }
    assert_int_equal(rc, VX_E_QUEUE_FULL);
    assert_true(ok > 1 && ok < 100);
    assert_int_equal(vx_node_remote_count(f->cnode), 1);
    vx_payload *p = vx_payload_new_key("t.rec");
    vx_request_opts ro = {.timeout = 5};
    assert_int_equal(vx_node_request(f->cnode, NULL, p, &ro, on_response, f, &err),
                     VX_E_QUEUE_FULL);
    vx_payload_decref(p);
    assert_int_equal(vx_router_count(vx_node_router(f->cnode)), 0);

    start_server(f, 5); /* same port, new uuid */
    assert_true(run_until(f, queue_drained, 8));
    for (int tries = 0; tries < 100 && f->n_rec < ok; tries++) run_until(f, NULL, 0.02);
    assert_int_equal(f->n_rec, ok);
    p = vx_payload_new_key("t.rec");
    vx_dict_set_new(vx_payload_filt(p), "tag", vx_str("after"));
    assert_int_equal(vx_node_send_uuid(f->cnode, vx_client_server_uuid(f->client), p, &err),
                     0);
    vx_payload_decref(p);
    for (int tries = 0; tries < 100 && f->n_rec < ok + 1; tries++) run_until(f, NULL, 0.02);
    assert_int_equal(f->n_rec, ok + 1);
    assert_string_equal(f->rec[ok], "after");
    assert_int_equal(vx_node_remote_count(f->cnode), 1);
    fx_free(f);
}

/* ---- a raw server: what VortexC servers never send -------------------------- */

#include "transport/ws_server.h"

enum { RAW_HTTP_DOT, RAW_HTTP_LOGIN, RAW_HTTP_503, RAW_WS_DOT };

typedef struct raw_peer {
    uv_tcp_t tcp;
    struct raw_srv *srv;
    char in[8192];
    size_t in_len;
    bool answered;
} raw_peer;

typedef struct raw_srv {
    uv_tcp_t listener;
    uv_timer_t beat;
    int mode;
    raw_peer *peers[16];
    int n_peers;
    int dots_answered; /* client '.' frames (WS) */
    char hello[512];
    size_t hello_len;
} raw_srv;

static void raw_write(raw_peer *p, const char *data, size_t len) {
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    uv_try_write((uv_stream_t *)&p->tcp, &b, 1);
}

static void raw_chunk(raw_peer *p, const char *data, size_t len) {
    char head[16];
    int n = snprintf(head, sizeof head, "%zx\r\n", len);
    raw_write(p, head, (size_t)n);
    raw_write(p, data, len);
    raw_write(p, "\r\n", 2);
}

static void raw_frame(raw_peer *p, const char *data, size_t len) {
    char head[2] = {(char)0x81, (char)len}; /* len < 126 here */
    raw_write(p, head, 2);
    raw_write(p, data, len);
}

static void raw_on_beat(uv_timer_t *t) {
    raw_srv *s = t->data;
    for (int i = 0; i < s->n_peers; i++) {
        raw_peer *p = s->peers[i];
        if (!p || !p->answered) continue;
        if (s->mode == RAW_WS_DOT)
            raw_frame(p, ".", 1);
        else if (s->mode == RAW_HTTP_DOT)
            raw_chunk(p, ".", 1);
    }
}

/* Count masked client text frames that are exactly '.'. */
static void raw_ws_frames(raw_peer *p) {
    size_t off = 0;
    while (p->in_len - off >= 6) {
        unsigned char *b = (unsigned char *)p->in + off;
        size_t len = b[1] & 0x7f, hl = 6;
        if (len == 126) {
            if (p->in_len - off < 8) break;
            len = ((size_t)b[2] << 8) | b[3];
            hl = 8;
        }
        if (p->in_len - off < hl + len) break;
        if ((b[0] & 0x0f) == 1 && len == 1 && (b[hl] ^ b[hl - 4]) == '.')
            p->srv->dots_answered++;
        off += hl + len;
    }
    memmove(p->in, p->in + off, p->in_len - off);
    p->in_len -= off;
}

static void raw_answer(raw_peer *p) {
    raw_srv *s = p->srv;
    p->answered = true;
    if (s->mode == RAW_HTTP_503) {
        const char *r = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy";
        raw_write(p, r, strlen(r));
    } else if (s->mode == RAW_HTTP_LOGIN) {
        const char *r = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        raw_write(p, r, strlen(r));
        raw_chunk(p, "<html>login</html>", 18);
    } else if (s->mode == RAW_HTTP_DOT) {
        const char *r = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        raw_write(p, r, strlen(r));
        char item[520];
        memcpy(item, s->hello, s->hello_len);
        item[s->hello_len] = '.';
        raw_chunk(p, item, s->hello_len + 1);
    } else {
        const char *k = strstr(p->in, "Sec-WebSocket-Key: ");
        assert_non_null(k);
        char accept[29], resp[256];
        vx_ws_accept_key(k + 19, 24, accept);
        int n = snprintf(resp, sizeof resp,
                         "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                         accept);
        raw_write(p, resp, (size_t)n);
        /* the hello is longer than 125 bytes: a 16-bit length */
        char head[4] = {(char)0x81, 126, (char)(s->hello_len >> 8), (char)s->hello_len};
        raw_write(p, head, 4);
        raw_write(p, s->hello, s->hello_len);
    }
}

static void raw_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b) {
    raw_peer *p = h->data;
    *b = uv_buf_init(p->in + p->in_len, (unsigned)(sizeof p->in - p->in_len - 1));
}

static void raw_closed(uv_handle_t *h) {
    free(h->data);
}

static void raw_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
    raw_peer *p = st->data;
    if (n < 0) {
        for (int i = 0; i < p->srv->n_peers; i++)
            if (p->srv->peers[i] == p) p->srv->peers[i] = NULL;
        uv_close((uv_handle_t *)st, raw_closed);
        return;
    }
    p->in_len += (size_t)n;
    p->in[p->in_len] = '\0';
    if (!p->answered) {
        char *end = strstr(p->in, "\r\n\r\n");
        if (!end) return;
        raw_answer(p);
        size_t used = (size_t)(end + 4 - p->in);
        memmove(p->in, end + 4, p->in_len - used);
        p->in_len -= used;
    }
    if (p->srv->mode == RAW_WS_DOT)
        raw_ws_frames(p);
    else
        p->in_len = 0; /* HTTP bodies are ignored */
}

static void raw_on_conn(uv_stream_t *l, int status) {
    raw_srv *s = l->data;
    raw_peer *p = calloc(1, sizeof *p);
    p->srv = s;
    uv_tcp_init(l->loop, &p->tcp);
    p->tcp.data = p;
    assert_int_equal(uv_accept(l, (uv_stream_t *)&p->tcp), 0);
    if (s->n_peers < 16) s->peers[s->n_peers++] = p;
    uv_read_start((uv_stream_t *)&p->tcp, raw_alloc, raw_read);
}

static raw_srv *raw_start(fx *f, int mode) {
    raw_srv *s = calloc(1, sizeof *s);
    s->mode = mode;
    vx_payload *h = vx_payload_new_hello("raw-uuid", "raw");
    vx_buf b = {0};
    assert_int_equal(vx_msg_encode(h, NULL, &b, NULL), 0);
    assert_true(b.len < sizeof s->hello && b.len >= 126);
    memcpy(s->hello, b.data, b.len);
    s->hello_len = b.len;
    vx_buf_free(&b);
    vx_payload_decref(h);
    uv_tcp_init(&f->loop, &s->listener);
    s->listener.data = s;
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    assert_int_equal(uv_tcp_bind(&s->listener, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&s->listener, 16, raw_on_conn), 0);
    struct sockaddr_storage ss;
    int len = sizeof ss;
    uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len);
    f->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    uv_timer_init(&f->loop, &s->beat);
    s->beat.data = s;
    uv_timer_start(&s->beat, raw_on_beat, 100, 100);
    return s;
}

static void raw_stop(raw_srv *s) {
    for (int i = 0; i < s->n_peers; i++)
        if (s->peers[i]) uv_close((uv_handle_t *)&s->peers[i]->tcp, raw_closed);
    uv_close((uv_handle_t *)&s->listener, NULL);
    uv_close((uv_handle_t *)&s->beat, NULL);
}

static void C71_dot(bool ws) {
    fx *f = fx_new(ws);
    raw_srv *s = raw_start(f, ws ? RAW_WS_DOT : RAW_HTTP_DOT);
    vx_client_opts co;
    vx_client_opts_init(&co);
    co.dead_after = 0.4;
    start_client(f, &co);
    assert_true(run_until(f, is_online, 5));
    assert_string_equal(vx_client_server_uuid(f->client), "raw-uuid");
    assert_false(run_until(f, is_offline, 1.5)); /* only '.' for 1.5 s */
    if (ws) assert_true(s->dots_answered >= 5);  /* each '.' answered with '.' */
    raw_stop(s);
    fx_free(f);
    free(s);
}
static void test_C71_bare_dot_heartbeats_keep_online_http(void **st) {
    C71_dot(false);
}
static void test_C71_bare_dot_heartbeats_answered_ws(void **st) {
    C71_dot(true);
}

static bool has_error(fx *f) {
    return vx_client_last_error(f->client) != NULL;
}

static void failed_attempt(int mode, const char *expect) {
    fx *f = fx_new(false);
    raw_srv *s = raw_start(f, mode);
    start_client(f, NULL);
    assert_true(run_until(f, has_error, 5));
    assert_false(vx_client_online(f->client));
    assert_non_null(strstr(vx_client_last_error(f->client), expect));
    raw_stop(s);
    fx_free(f);
    free(s);
}
static void test_login_page_is_an_authentication_error(void **st) {
    failed_attempt(RAW_HTTP_LOGIN, "authentication");
}
static void test_non_200_is_a_failed_attempt(void **st) {
    failed_attempt(RAW_HTTP_503, "HTTP status 503");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_C72_request_completes_on_reply_http),
        cmocka_unit_test(test_C72_request_completes_on_reply_ws),
        cmocka_unit_test(test_C74_boom_reply_fails_with_remote_http),
        cmocka_unit_test(test_C74_boom_reply_fails_with_remote_ws),
        cmocka_unit_test(test_C73_timeouts_leave_no_endpoints_http),
        cmocka_unit_test(test_C73_timeouts_leave_no_endpoints_ws),
        cmocka_unit_test(test_C67_dead_server_detected_and_reconnected_http),
        cmocka_unit_test(test_C67_dead_server_detected_and_reconnected_ws),
        cmocka_unit_test(test_C71_empty_payload_heartbeats_keep_online_http),
        cmocka_unit_test(test_C71_empty_payload_heartbeats_keep_online_ws),
        cmocka_unit_test(test_C69_C70_queued_msgs_after_reconnect_payloads_http),
        cmocka_unit_test(test_C69_C70_queued_msgs_after_reconnect_payloads_ws),
        cmocka_unit_test(test_C69_client_send_overflow_fails_with_queue_full),
        cmocka_unit_test(test_C69_node_send_to_full_client_queue_fails_and_keeps_remote),
        cmocka_unit_test(test_C71_bare_dot_heartbeats_keep_online_http),
        cmocka_unit_test(test_C71_bare_dot_heartbeats_answered_ws),
        cmocka_unit_test(test_login_page_is_an_authentication_error),
        cmocka_unit_test(test_non_200_is_a_failed_attempt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
