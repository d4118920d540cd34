/* Node tests: PROTOCOL.md §9-§15 at node level, on a real libuv loop with a
 * fake transport (a vx_conn that records what the node sends, can refuse
 * msgs as a full queue, and reports its end now or when the test says). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node/node_impl.h"
#include "router/router_impl.h"

/* ---- fake transport ---------------------------------------------------- */

typedef struct fake_conn {
    vx_conn base;
    vx_node *node;
    vx_msgbuf **q; /* everything accepted, in order */
    uint64_t *at;  /* loop time of each accept */
    size_t n, cap;
    size_t written;   /* q[0..written) were "handed to the kernel" */
    size_t limit;     /* unwritten msgs accepted before VX_E_QUEUE_FULL; 0 = no limit */
    bool auto_write;  /* every accepted msg counts as written at once */
    bool defer_close; /* close() does not report; the test calls fake_report */
    int n_close;      /* close() calls */
    vx_close_why why; /* of the first close() */
    vx_close_why last_why;
    bool reported; /* vx_node_conn_closed was called */
} fake_conn;

static int fake_send(vx_conn *c, vx_msgbuf *m) {
    fake_conn *f = (fake_conn *)c;
    assert_false(f->reported);
    if (f->limit && f->n - f->written >= f->limit) return VX_E_QUEUE_FULL;
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 16;
        f->q = realloc(f->q, f->cap * sizeof *f->q);
        f->at = realloc(f->at, f->cap * sizeof *f->at);
        assert_non_null(f->q);
        assert_non_null(f->at);
    }
    f->at[f->n] = uv_now(vx_node_loop(f->node));
    f->q[f->n++] = vx_msgbuf_incref(m);
    if (f->auto_write) f->written = f->n;
    return 0;
}

/* Report the end: the unwritten msgs go back to the node. */
static void fake_report(fake_conn *f) {
    assert_false(f->reported);
    f->reported = true;
    size_t n = f->n - f->written;
    vx_msgbuf **unsent = n ? malloc(n * sizeof *unsent) : NULL;
    for (size_t i = 0; i < n; i++) unsent[i] = f->q[f->written + i];
    f->n = f->written; /* the node owns those references now */
    vx_node_conn_closed(f->node, &f->base, unsent, n);
    free(unsent);
}

static void fake_close(vx_conn *c, vx_close_why why) {
    fake_conn *f = (fake_conn *)c;
    assert_false(f->reported);
    if (f->n_close++ == 0) f->why = why;
    f->last_why = why;
    if (!f->defer_close) fake_report(f);
}

static const vx_conn_ops fake_ops = {fake_send, fake_close};

static fake_conn *fake_new(vx_node *node, vx_transport_kind kind) {
    fake_conn *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->base.ops = &fake_ops;
    f->base.kind = kind;
    snprintf(f->base.peer, sizeof f->base.peer, "127.0.0.1:%d", rand() % 60000 + 1024);
    f->node = node;
    return f;
}

static fake_conn *fake_open(vx_node *node, vx_transport_kind kind, const char *uuid,
                            const char *name) {
    fake_conn *f = fake_new(node, kind);
    assert_int_equal(vx_node_conn_open(node, &f->base, uuid, name), 0);
    return f;
}

/* The peer went away (or a write failed). */
static void fake_peer_close(fake_conn *f) {
    fake_report(f);
}

static void fake_free(fake_conn *f) {
    if (!f) return;
    for (size_t i = 0; i < f->n; i++) vx_msgbuf_decref(f->q[i]);
    free(f->q);
    free(f->at);
    free(f);
}

/* ---- loop and node ------------------------------------------------------- */

typedef struct env {
    uv_loop_t loop;
    vx_node *node;
    fake_conn *fakes[16];
    size_t n_fakes;
} env;

static env *env_new(void (*tweak)(vx_node_opts *)) {
    env *e = calloc(1, sizeof *e);
    assert_non_null(e);
    assert_int_equal(uv_loop_init(&e->loop), 0);
    vx_node_opts o;
    vx_node_opts_init(&o);
    o.name = "server";
    if (tweak) tweak(&o);
    vx_error err;
    e->node = vx_node_new(&e->loop, &o, &err);
    assert_non_null(e->node);
    return e;
}

static fake_conn *env_open(env *e, vx_transport_kind kind, const char *uuid,
                           const char *name) {
    assert_true(e->n_fakes < 16);
    return e->fakes[e->n_fakes++] = fake_open(e->node, kind, uuid, name);
}

static fake_conn *env_track(env *e, fake_conn *f) {
    e->fakes[e->n_fakes++] = f;
    return f;
}

static void stop_cb(uv_timer_t *t) {
    uv_stop(t->loop);
}

/* Run the loop for `ms` of loop time. */
static void run_for(env *e, uint64_t ms) {
    uv_timer_t t;
    uv_timer_init(&e->loop, &t);
    uv_timer_start(&t, stop_cb, ms, 0);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&e->loop, UV_RUN_NOWAIT);
}

/* Free the node, let every fake report, and check the loop is left empty. */
static void env_free(env *e) {
    vx_node_free(e->node);
    for (size_t i = 0; i < e->n_fakes; i++)
        if (!e->fakes[i]->reported) fake_report(e->fakes[i]);
    assert_int_equal(uv_run(&e->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&e->loop), 0);
    for (size_t i = 0; i < e->n_fakes; i++) fake_free(e->fakes[i]);
    free(e);
}

/* ---- payload helpers ------------------------------------------------------ */

/* NEW payload {"key": key, "n": n}. */
static vx_payload *mk(const char *key, int64_t n) {
    vx_payload *p = vx_payload_new_key(key);
    assert_non_null(p);
    assert_int_equal(vx_dict_set_new(vx_payload_filt(p), "n", vx_int(n)), 0);
    return p;
}

static void send_uuid(env *e, const char *uuid, const char *key, int64_t n) {
    vx_payload *p = mk(key, n);
    vx_error err;
    assert_int_equal(vx_node_send_uuid(e->node, uuid, p, &err), 0);
    vx_payload_decref(p);
}

/* One codec for the test's own encoding and decoding (a one-shot
 * vx_msg_* call sets up a compressor each time). */
static vx_codec *g_codec;

static vx_payload *decode(const vx_msgbuf *m) {
    vx_payload *p = NULL;
    vx_error err;
    int rc = vx_codec_decode(g_codec, m->data, m->len, &p, &err);
    if (rc) fail_msg("decode: %s", err.message);
    return p;
}

/* What q[i] is: its "n" (>= 0), HELLO, HEARTBEAT, or OTHER. */
enum { HELLO = -1, HEARTBEAT = -2, OTHER = -3 };
static int64_t kind_of(const fake_conn *f, size_t i) {
    assert_true(i < f->n);
    vx_payload *p = decode(f->q[i]);
    vx_value *filt = vx_payload_filt(p);
    int64_t k = OTHER;
    if (vx_dict_get(filt, VX_HELLO_UUID_KEY))
        k = HELLO;
    else if (vx_payload_is_empty(p))
        k = HEARTBEAT;
    else if (vx_typeof(vx_dict_get(filt, "n")) == VX_INT)
        k = vx_int_value(vx_dict_get(filt, "n"));
    vx_payload_decref(p);
    return k;
}

/* Assert the conn received exactly these kinds/numbers, in order. */
static void expect_seq(const fake_conn *f, size_t n, ...) {
    va_list ap;
    va_start(ap, n);
    if (f->n != n) {
        fprintf(stderr, "got:");
        for (size_t i = 0; i < f->n; i++)
            fprintf(stderr, " %lld", (long long)kind_of(f, i));
        fprintf(stderr, "\n");
    }
    assert_int_equal(f->n, n);
    for (size_t i = 0; i < n; i++) assert_int_equal(kind_of(f, i), va_arg(ap, int));
    va_end(ap);
}

static int64_t count_kind(const fake_conn *f, int64_t kind) {
    int64_t c = 0;
    for (size_t i = 0; i < f->n; i++) c += kind_of(f, i) == kind;
    return c;
}

/* Feed an encoded payload to the node as received on `f`. */
static void feed(env *e, fake_conn *f, const vx_payload *p) {
    vx_buf b = {0};
    vx_error err;
    assert_int_equal(vx_codec_encode(g_codec, p, &b, &err), 0);
    vx_node_conn_item(e->node, &f->base, b.data, b.len);
    vx_buf_free(&b);
}

static bool metrics_has(vx_node *node, const char *line) {
    vx_buf b = {0};
    assert_int_equal(vx_node_metrics_text(node, &b), 0);
    assert_int_equal(vx_buf_append(&b, "", 1), 0);
    bool ok = strstr(b.data, line) != NULL;
    if (!ok) fprintf(stderr, "metrics lack '%s':\n%s", line, b.data);
    vx_buf_free(&b);
    return ok;
}

/* ---- endpoint recorder ----------------------------------------------------- */

typedef struct rec {
    int calls;
    int64_t last_n;
    char sender[64];
    vx_payload *last;
    fake_conn *watch; /* msgs it had when the endpoint ran */
    size_t watch_n;
    const char *reply_key; /* answer each call with this key */
} rec;

static int rec_fn(void *data, vx_payload *p, const vx_route_ctx *ctx, vx_error *err) {
    rec *r = data;
    r->calls++;
    vx_value *n = vx_dict_get(vx_payload_filt(p), "n");
    r->last_n = vx_typeof(n) == VX_INT ? vx_int_value(n) : -1;
    snprintf(r->sender, sizeof r->sender, "%s", ctx->sender_uuid ? ctx->sender_uuid : "");
    if (r->last) vx_payload_decref(r->last);
    r->last = vx_payload_incref(p);
    if (r->watch) r->watch_n = r->watch->n;
    if (r->reply_key) {
        vx_payload *q = mk(r->reply_key, r->last_n + 1000);
        int rc = ctx->reply(ctx->reply_data, q, err);
        vx_payload_decref(q);
        return rc;
    }
    return 0;
}

static vx_endpoint_id add_ep(env *e, const char *key, rec *r) {
    vx_value *filt = vx_dict();
    vx_dict_set_new(filt, "key", vx_str(key));
    vx_endpoint_id id = 0;
    vx_error err;
    assert_int_equal(vx_router_add(vx_node_router(e->node), filt, rec_fn, r, &id, &err), 0);
    vx_decref(filt);
    return id;
}

static void rec_clear(rec *r) {
    if (r->last) vx_payload_decref(r->last);
    r->last = NULL;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_node_defaults_and_uuid(void **state) {
    vx_node_opts o;
    vx_node_opts_init(&o);
    assert_string_equal(o.name, "vortexc");
    assert_null(o.uuid);
    assert_true(o.heartbeat_period == 5 && o.http_session_timeout == 35);
    assert_int_equal(o.http_pending_max, 8u << 20);
    assert_int_equal(o.out_queue_max, 4u << 20);
    assert_int_equal(o.max_http_body, 32u << 20);
    assert_true(o.response_timeout == 30);
    env *e = env_new(NULL);
    const char *u = vx_node_uuid(e->node);
    assert_int_equal(strlen(u), 36);
    assert_true(u[14] == '4');              /* version 4 */
    assert_non_null(strchr("89ab", u[19])); /* RFC variant */
    for (const char *c = u; *c; c++)
        assert_true(*c == '-' || strchr("0123456789abcdef", *c));
    assert_string_equal(vx_node_name(e->node), "server");
    assert_int_equal(vx_node_port(e->node), -1);
    assert_int_equal(vx_node_remote_count(e->node), 0);
    env_free(e);
}

/* C-47, C-54: the hello first, then the pending msgs in order. */
static void test_C47_C54_hello_first_then_pending(void **state) {
    env *e = env_new(NULL);
    fake_conn *a = env_open(e, VX_TRANSPORT_HTTP, "u1", "n1");
    expect_seq(a, 1, HELLO);
    vx_payload *h = decode(a->q[0]);
    assert_string_equal(vx_str_value(vx_dict_get(vx_payload_filt(h), VX_HELLO_UUID_KEY)),
                        vx_node_uuid(e->node));
    assert_string_equal(vx_str_value(vx_dict_get(vx_payload_filt(h), VX_HELLO_NAME_KEY)),
                        "server");
    vx_payload_decref(h);
    a->written = 1;
    send_uuid(e, "u1", "k", 1);
    fake_peer_close(a); /* msg 1 was not written: it goes to pending */
    assert_int_equal(vx_node_remote_count(e->node), 1);
    send_uuid(e, "u1", "k", 2);
    send_uuid(e, "u1", "k", 3);
    fake_conn *b = env_open(e, VX_TRANSPORT_HTTP, "u1", "n1");
    expect_seq(b, 4, HELLO, 1, 2, 3);
    /* after the pending msgs, sends go straight to the new conn */
    send_uuid(e, "u1", "k", 4);
    expect_seq(b, 5, HELLO, 1, 2, 3, 4);
    env_free(e);
}

/* C-53, C-66: takeover puts the old conn's unsent msgs at the front of
 * pending; with a transport that reports the end later, msgs sent meanwhile
 * wait behind them. */
static void test_C53_C66_takeover_moves_unsent_to_front(void **state) {
    env *e = env_new(NULL);
    fake_conn *a = env_open(e, VX_TRANSPORT_HTTP, "u1", "n1");
    a->written = 1;
    send_uuid(e, "u1", "k", 1);
    send_uuid(e, "u1", "k", 2);
    fake_conn *b = env_open(e, VX_TRANSPORT_HTTP, "u1", "n1");
    assert_int_equal(a->n_close, 1);
    assert_int_equal(a->why, VX_CLOSE_TAKEOVER);
    expect_seq(b, 3, HELLO, 1, 2);

    /* deferred report */
    b->written = b->n;
    send_uuid(e, "u1", "k", 3);
    b->defer_close = true;
    fake_conn *c = env_open(e, VX_TRANSPORT_HTTP, "u1", "n1");
    assert_int_equal(b->why, VX_CLOSE_TAKEOVER);
    expect_seq(c, 1, HELLO);
    send_uuid(e, "u1", "k", 4);
    expect_seq(c, 1, HELLO); /* held until b's unsent come back */
    fake_report(b);
    expect_seq(c, 3, HELLO, 3, 4);
    assert_int_equal(vx_node_remote_count(e->node), 1);
    env_free(e);
}

/* C-64 at node level: a newer conn closes the old WebSocket as "replaced"
 * (TAKEOVER) and its unsent msgs are dropped, not re-sent. */
static void test_C64_ws_takeover_drops_unsent(void **state) {
    env *e = env_new(NULL);
    fake_conn *a = env_open(e, VX_TRANSPORT_WS, "w1", "n1");
    a->written = 1;
    send_uuid(e, "w1", "k", 1);
    fake_conn *b = env_open(e, VX_TRANSPORT_WS, "w1", "n1");
    assert_int_equal(a->why, VX_CLOSE_TAKEOVER);
    expect_seq(b, 1, HELLO);
    assert_int_equal(e->node->dropped[VXN_DROP_CONNECTION_CLOSED], 1);
    assert_int_equal(vx_node_remote_count(e->node), 1);
    env_free(e);
}

typedef struct remote_log {
    int joined, left;
    char last[64];
    bool last_connected;
} remote_log;

static void on_remote(void *data, const vx_remote_info *info, bool joined) {
    remote_log *l = data;
    if (joined)
        l->joined++;
    else
        l->left++;
    snprintf(l->last, sizeof l->last, "%s", info->uuid);
    l->last_connected = info->connected;
}

static void short_session(vx_node_opts *o) {
    o->http_session_timeout = 0.05;
}

/* C-55: a detached HTTP remote is forgotten after http_session_timeout. */
static void test_C55_session_timeout_forgets(void **state) {
    env *e = env_new(short_session);
    remote_log log = {0};
    vx_node_on_remote(e->node, on_remote, &log);
    fake_conn *a = env_open(e, VX_TRANSPORT_HTTP, "u1", "n1");
    assert_int_equal(log.joined, 1);
    fake_peer_close(a);
    send_uuid(e, "u1", "k", 1); /* detached: accepted into pending */
    send_uuid(e, "u1", "k", 2);
    run_for(e, 20);
    assert_int_equal(vx_node_remote_count(e->node), 1);
    run_for(e, 100);
    assert_int_equal(vx_node_remote_count(e->node), 0);
    assert_int_equal(log.left, 1);
    assert_string_equal(log.last, "u1");
    assert_int_equal(e->node->session_expiries, 1);
    assert_int_equal(e->node->dropped[VXN_DROP_SESSION_EXPIRED], 2);
    vx_payload *p = mk("k", 3);
    vx_error err;
    assert_int_equal(vx_node_send_uuid(e->node, "u1", p, &err), VX_E_NO_SUCH_VORTEX);
    assert_int_equal(err.code, VX_E_NO_SUCH_VORTEX);
    assert_non_null(strstr(err.message, "u1"));
    vx_payload_decref(p);
    /* a later POST creates a new remote with an empty queue */
    fake_conn *b = env_open(e, VX_TRANSPORT_HTTP, "u1", "n1");
    expect_seq(b, 1, HELLO);
    assert_int_equal(log.joined, 2);
    /* a POST before the timer fires cancels it */
    fake_peer_close(b);
    run_for(e, 20);
    fake_conn *c = env_open(e, VX_TRANSPORT_HTTP, "u1", "n1");
    run_for(e, 100);
    assert_int_equal(vx_node_remote_count(e->node), 1);
    expect_seq(c, 1, HELLO);
    env_free(e);
}

static size_t g_pending_max;
static void small_pending(vx_node_opts *o) {
    o->http_pending_max = g_pending_max;
}

static size_t encoded_len(const char *key, int64_t n) {
    vx_payload *p = mk(key, n);
    vx_buf b = {0};
    vx_error err;
    assert_int_equal(vx_codec_encode(g_codec, p, &b, &err), 0);
    size_t len = b.len;
    vx_buf_free(&b);
    vx_payload_decref(p);
    return len;
}

/* C-55: overflowing http_pending_max drops the queue and forgets the
 * remote; one msg larger than the bound is still accepted alone. */
static void test_C55_pending_overflow_forgets(void **state) {
    size_t len = encoded_len("k", 1);
    g_pending_max = 2 * (len + 1) + 8; /* room for two msgs, not three */
    env *e = env_new(small_pending);
    fake_conn *a = env_open(e, VX_TRANSPORT_HTTP, "u1", "n1");
    fake_peer_close(a);
    send_uuid(e, "u1", "k", 1);
    send_uuid(e, "u1", "k", 2);
    assert_int_equal(vx_node_remote_count(e->node), 1);
    send_uuid(e, "u1", "k", 3); /* overflow */
    assert_int_equal(vx_node_remote_count(e->node), 0);
    assert_int_equal(e->node->pending_overflows, 1);
    assert_int_equal(e->node->dropped[VXN_DROP_PENDING_OVERFLOW], 3);
    vx_payload *p = mk("k", 4);
    assert_int_equal(vx_node_send_uuid(e->node, "u1", p, NULL), VX_E_NO_SUCH_VORTEX);
    vx_payload_decref(p);
    env_free(e);

    g_pending_max = 10; /* smaller than any msg */
    e = env_new(small_pending);
    a = env_open(e, VX_TRANSPORT_HTTP, "u2", "n2");
    fake_peer_close(a);
    send_uuid(e, "u2", "k", 1); /* alone in an empty queue: accepted */
    assert_int_equal(vx_node_remote_count(e->node), 1);
    fake_conn *b = env_open(e, VX_TRANSPORT_HTTP, "u2", "n2");
    expect_seq(b, 2, HELLO, 1);
    b->written = b->n;
    fake_peer_close(b);
    send_uuid(e, "u2", "k", 2);
    send_uuid(e, "u2", "k", 3);
    assert_int_equal(vx_node_remote_count(e->node), 0);
    assert_true(metrics_has(e->node, "vortexc_pending_overflows_total 1\n"));
    env_free(e);
}

/* §10.3 (C-55's WebSocket rule): a closed WebSocket's remote is forgotten
 * at once and its unsent msgs counted as dropped. */
static void test_C55_ws_close_forgets_at_once(void **state) {
    env *e = env_new(NULL);
    remote_log log = {0};
    vx_node_on_remote(e->node, on_remote, &log);
    fake_conn *a = env_open(e, VX_TRANSPORT_WS, "w1", "n1");
    send_uuid(e, "w1", "k", 1);
    send_uuid(e, "w1", "k", 2);
    fake_peer_close(a);
    assert_int_equal(vx_node_remote_count(e->node), 0);
    assert_int_equal(log.left, 1);
    assert_int_equal(e->node->dropped[VXN_DROP_CONNECTION_CLOSED], 2);
    vx_payload *p = mk("k", 3);
    assert_int_equal(vx_node_send_uuid(e->node, "w1", p, NULL), VX_E_NO_SUCH_VORTEX);
    vx_payload_decref(p);
    assert_true(
        metrics_has(e->node, "vortexc_dropped_msgs_total{reason=\"connection_closed\"} 2"));
    env_free(e);
}

/* C-81: by name reaches every remote with the name; unknown uuid/name fail
 * synchronously and queue nothing. */
static void test_C81_send_by_name_and_unknown_uuid(void **state) {
    env *e = env_new(NULL);
    fake_conn *a = env_open(e, VX_TRANSPORT_HTTP, "u1", "browser");
    fake_conn *b = env_open(e, VX_TRANSPORT_WS, "u2", "browser");
    fake_conn *c = env_open(e, VX_TRANSPORT_HTTP, "u3", "other");
    vx_payload *p = mk("k", 7);
    vx_error err;
    assert_int_equal(vx_node_send_name(e->node, "browser", p, &err), 0);
    expect_seq(a, 2, HELLO, 7);
    expect_seq(b, 2, HELLO, 7);
    expect_seq(c, 1, HELLO);
    assert_int_equal(vx_node_send_uuid(e->node, "nope", p, &err), VX_E_NO_SUCH_VORTEX);
    assert_non_null(strstr(err.message, "nope"));
    assert_int_equal(vx_node_send_name(e->node, "nobody", p, &err), VX_E_NO_SUCH_VORTEX);
    assert_non_null(strstr(err.message, "nobody"));
    expect_seq(a, 2, HELLO, 7);
    expect_seq(c, 1, HELLO);
    assert_int_equal(vx_node_send_uuid(e->node, "u3", p, &err), 0);
    expect_seq(c, 2, HELLO, 7);
    /* a name change on reconnect is picked up */
    c->written = c->n;
    fake_conn *c2 = env_open(e, VX_TRANSPORT_HTTP, "u3", "browser");
    assert_int_equal(vx_node_send_name(e->node, "browser", p, &err), 0);
    expect_seq(c2, 2, HELLO, 7);
    vx_payload_decref(p);
    env_free(e);
}

/* C-82: a broadcast reaches connected and detached HTTP remotes. */
static void test_C82_broadcast_reaches_detached(void **state) {
    env *e = env_new(NULL);
    vx_payload *p = mk("k", 9);
    assert_int_equal(vx_node_broadcast(e->node, p, NULL), 0); /* zero targets */
    fake_conn *a = env_open(e, VX_TRANSPORT_HTTP, "u1", "x");
    fake_conn *b = env_open(e, VX_TRANSPORT_HTTP, "u2", "y");
    fake_conn *c = env_open(e, VX_TRANSPORT_WS, "u3", "z");
    fake_peer_close(b);
    assert_int_equal(vx_node_broadcast(e->node, p, NULL), 0);
    expect_seq(a, 2, HELLO, 9);
    expect_seq(c, 2, HELLO, 9);
    fake_conn *b2 = env_open(e, VX_TRANSPORT_HTTP, "u2", "y");
    expect_seq(b2, 2, HELLO, 9);
    /* one encode shared by every conn */
    assert_ptr_equal(a->q[1], c->q[1]);
    vx_payload_decref(p);
    env_free(e);
}

/* §15: a send to the node's own uuid or name is routed locally (one loop
 * turn later) and replies loop back locally. */
static void test_local_send_routes_locally(void **state) {
    env *e = env_new(NULL);
    rec r1 = {.reply_key = "local.reply"}, r2 = {0};
    add_ep(e, "local.k", &r1);
    add_ep(e, "local.reply", &r2);
    fake_conn *a = env_open(e, VX_TRANSPORT_HTTP, "u1", "n1");
    send_uuid(e, vx_node_uuid(e->node), "local.k", 5);
    assert_int_equal(r1.calls, 0); /* not re-entrant */
    run_for(e, 10);
    assert_int_equal(r1.calls, 1);
    assert_int_equal(r1.last_n, 5);
    assert_string_equal(r1.sender, vx_node_uuid(e->node));
    assert_int_equal(r2.calls, 1);
    assert_int_equal(r2.last_n, 1005);
    expect_seq(a, 1, HELLO); /* nothing leaked to remotes */
    vx_payload *p = mk("local.k", 6);
    assert_int_equal(vx_node_send_name(e->node, "server", p, NULL), 0);
    vx_payload_decref(p);
    run_for(e, 10);
    assert_int_equal(r1.calls, 2);
    assert_int_equal(r1.last_n, 6);
    rec_clear(&r1);
    rec_clear(&r2);
    env_free(e);
}

static void fast_heartbeat(vx_node_opts *o) {
    o->heartbeat_period = 0.05;
}

/* C-52 at node level: an idle stream gets an encoded empty payload at least
 * every heartbeat_period; a busy one gets none; heartbeats (and hellos) are
 * never queued for later delivery. */
static void test_C52_heartbeats_at_period_never_queued(void **state) {
    env *e = env_new(fast_heartbeat);
    fake_conn *idle = env_open(e, VX_TRANSPORT_HTTP, "u1", "n1");
    fake_conn *busy = env_open(e, VX_TRANSPORT_WS, "u2", "n2");
    idle->auto_write = busy->auto_write = true;
    for (int i = 0; i < 30; i++) {
        run_for(e, 10);
        send_uuid(e, "u2", "k", i);
    }
    int64_t beats = count_kind(idle, HEARTBEAT);
    assert_true(beats >= 4);
    for (size_t i = 1; i < idle->n; i++) {
        uint64_t gap = idle->at[i] - idle->at[i - 1];
        if (gap > 50 + 15)
            fail_msg("gap of %llu ms between items", (unsigned long long)gap);
        assert_true(kind_of(idle, i) == HEARTBEAT);
    }
    assert_int_equal(count_kind(busy, HEARTBEAT), 0);
    /* unsent heartbeats are not re-queued */
    idle->auto_write = false;
    idle->written = idle->n;
    run_for(e, 120);
    assert_true(idle->n - idle->written >= 2);
    fake_peer_close(idle);
    vx_remote *r = vxn_remote_find(e->node, "u1");
    assert_non_null(r);
    assert_int_equal(r->pending.len, 0);
    fake_conn *again = env_open(e, VX_TRANSPORT_HTTP, "u1", "n1");
    expect_seq(again, 1, HELLO);
    assert_true(metrics_has(e->node, "vortexc_heartbeats_out_total"));
    env_free(e);
}

/* C-65, C-66 at node level: a conn whose queue is full is closed as slow and
 * counted; for HTTP its unsent msgs and the refused one go to pending in
 * order (whether the transport reports the end at once or later); for a
 * WebSocket they are dropped and the remote forgotten. */
static void test_C65_C66_slow_consumer(void **state) {
    for (int deferred = 0; deferred < 2; deferred++) {
        env *e = env_new(NULL);
        fake_conn *other = env_open(e, VX_TRANSPORT_HTTP, "ok", "n");
        other->auto_write = true;
        fake_conn *a = env_open(e, VX_TRANSPORT_HTTP, "u1", "n1");
        a->limit = 3;
        a->defer_close = deferred;
        send_uuid(e, "u1", "k", 1);
        send_uuid(e, "u1", "k", 2);
        assert_int_equal(a->n_close, 0);
        send_uuid(e, "u1", "k", 3); /* refused: slow */
        assert_int_equal(a->n_close, 1);
        assert_int_equal(a->why, VX_CLOSE_SLOW);
        assert_int_equal(e->node->slow_closes, 1);
        send_uuid(e, "u1", "k", 4);
        send_uuid(e, "ok", "k", 1); /* other conns keep flowing */
        expect_seq(other, 2, HELLO, 1);
        if (deferred) fake_report(a);
        fake_conn *b = env_open(e, VX_TRANSPORT_HTTP, "u1", "n1");
        expect_seq(b, 5, HELLO, 1, 2, 3, 4);
        assert_true(metrics_has(e->node, "vortexc_slow_consumer_closes_total 1\n"));
        env_free(e);
    }
    env *e = env_new(NULL);
    fake_conn *w = env_open(e, VX_TRANSPORT_WS, "w1", "n1");
    w->limit = 2;
    w->defer_close = true;
    send_uuid(e, "w1", "k", 1);
    send_uuid(e, "w1", "k", 2); /* refused */
    assert_int_equal(w->why, VX_CLOSE_SLOW);
    send_uuid(e, "w1", "k", 3); /* still known until the close is reported: dropped */
    assert_int_equal(vx_node_remote_count(e->node), 1);
    fake_report(w);
    assert_int_equal(vx_node_remote_count(e->node), 0);
    assert_int_equal(e->node->dropped[VXN_DROP_SLOW_CONSUMER], 1);
    assert_int_equal(e->node->dropped[VXN_DROP_CONNECTION_CLOSED], 2); /* 3, then 1 */
    env_free(e);
}

/* C-44: rapuiServerEcho is removed, the payload sent straight back, and
 * only then routed; a payload left empty is not routed. */
static void test_C44_server_echo(void **state) {
    env *e = env_new(NULL);
    fake_conn *a = env_open(e, VX_TRANSPORT_HTTP, "u1", "n1");
    rec r = {.watch = a};
    add_ep(e, "echo.k", &r);
    vx_payload *p = mk("echo.k", 3);
    vx_dict_set_new(vx_payload_filt(p), "rapuiServerEcho", vx_bool(true));
    feed(e, a, p);
    vx_payload_decref(p);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.watch_n, 2); /* the echo was queued before routing */
    assert_null(vx_dict_get(vx_payload_filt(r.last), "rapuiServerEcho"));
    assert_string_equal(r.sender, "u1");
    expect_seq(a, 2, HELLO, 3);
    vx_payload *echo = decode(a->q[1]);
    assert_null(vx_dict_get(vx_payload_filt(echo), "rapuiServerEcho"));
    assert_string_equal(vx_str_value(vx_dict_get(vx_payload_filt(echo), "key")), "echo.k");
    vx_payload_decref(echo);
    /* only the echo key: echoed, then empty, so not routed */
    p = vx_payload_new();
    vx_dict_set_new(vx_payload_filt(p), "rapuiServerEcho", vx_bool(true));
    feed(e, a, p);
    vx_payload_decref(p);
    assert_int_equal(a->n, 3);
    assert_int_equal(r.calls, 1);
    /* a "key" value of rapuiServerEcho is not the echo key */
    rec r2 = {0};
    add_ep(e, "rapuiServerEcho", &r2);
    p = mk("rapuiServerEcho", 1);
    feed(e, a, p);
    vx_payload_decref(p);
    assert_int_equal(a->n, 3);
    assert_int_equal(r2.calls, 1);
    rec_clear(&r);
    rec_clear(&r2);
    env_free(e);
}

/* C-45 (§8): on a client link (this node is the client) rapuiClientEcho is
 * removed, the payload sent back to the server, then routed locally; there
 * rapuiServerEcho is an ordinary key, and on a server link the reverse. */
static void test_C45_client_echo(void **state) {
    env *e = env_new(NULL);
    fake_conn *srv = env_open(e, VX_TRANSPORT_CLIENT, "server-uuid", "server");
    rec r = {.watch = srv};
    add_ep(e, "echo.c", &r);
    vx_payload *p = mk("echo.c", 7);
    vx_dict_set_new(vx_payload_filt(p), "rapuiClientEcho", vx_bool(true));
    feed(e, srv, p);
    vx_payload_decref(p);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.watch_n, 2); /* hello, then the echo, before routing */
    assert_null(vx_dict_get(vx_payload_filt(r.last), "rapuiClientEcho"));
    vx_payload *echo = decode(srv->q[1]);
    assert_null(vx_dict_get(vx_payload_filt(echo), "rapuiClientEcho"));
    assert_string_equal(vx_str_value(vx_dict_get(vx_payload_filt(echo), "key")), "echo.c");
    vx_payload_decref(echo);
    /* rapuiServerEcho from a server is just a key: routed with it, no echo */
    p = mk("echo.c", 8);
    vx_dict_set_new(vx_payload_filt(p), "rapuiServerEcho", vx_bool(true));
    feed(e, srv, p);
    vx_payload_decref(p);
    assert_int_equal(srv->n, 2);
    assert_int_equal(r.calls, 2);
    assert_non_null(vx_dict_get(vx_payload_filt(r.last), "rapuiServerEcho"));
    /* and a server treats rapuiClientEcho as an ordinary key */
    fake_conn *cli = env_open(e, VX_TRANSPORT_HTTP, "u2", "n2");
    size_t before = cli->n;
    p = mk("echo.c", 9);
    vx_dict_set_new(vx_payload_filt(p), "rapuiClientEcho", vx_bool(true));
    feed(e, cli, p);
    vx_payload_decref(p);
    assert_int_equal(cli->n, before);
    assert_int_equal(r.calls, 3);
    assert_non_null(vx_dict_get(vx_payload_filt(r.last), "rapuiClientEcho"));
    rec_clear(&r);
    env_free(e);
}

/* C-63 at node level (§6.3): undecodable msgs are counted by code and
 * affect nothing else; empty items and empty payloads are liveness only. */
static void test_C63_decode_errors_counted_and_isolated(void **state) {
    env *e = env_new(NULL);
    fake_conn *a = env_open(e, VX_TRANSPORT_WS, "w1", "n1");
    rec r = {0};
    add_ep(e, "k", &r);
    vx_node_conn_item(e->node, &a->base, "!!!!", 4);
    vx_node_conn_item(e->node, &a->base, "AAAA", 4); /* decodes to 0x00: not zlib */
    vx_payload *p = mk("k", 1);
    feed(e, a, p);
    vx_payload_decref(p);
    vx_node_conn_item(e->node, &a->base, "", 0);
    p = vx_payload_new_heartbeat();
    feed(e, a, p);
    vx_payload_decref(p);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.last_n, 1);
    assert_int_equal(e->node->decode_errors[-VX_E_BASE64], 1);
    assert_int_equal(e->node->decode_errors[-VX_E_ZLIB], 1);
    assert_int_equal(a->n_close, 0);
    assert_true(
        metrics_has(e->node, "vortexc_decode_errors_total{code=\"VX_E_BASE64\"} 1\n"));
    assert_true(
        metrics_has(e->node, "vortexc_decode_errors_total{code=\"VX_E_ZLIB\"} 1\n"));
    assert_true(metrics_has(e->node, "vortexc_msgs_in_total 4\n"));
    rec_clear(&r);
    env_free(e);
}

/* A raw TCP peer of the node's real listener: writes one request, records
 * everything it receives, notes the end. */
typedef struct raw_peer {
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t write;
    vx_buf out, in;
    int status; /* of the connect: 1 until then */
    bool eof;   /* EOF or reset */
} raw_peer;

static void raw_alloc(uv_handle_t *h, size_t size, uv_buf_t *b) {
    static char chunk[65536];
    *b = uv_buf_init(chunk, sizeof chunk);
}

static void raw_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
    raw_peer *rp = st->data;
    if (n > 0) assert_int_equal(vx_buf_append(&rp->in, b->base, (size_t)n), 0);
    if (n < 0) {
        rp->eof = true;
        uv_read_stop(st);
    }
}

static void raw_connected(uv_connect_t *req, int status) {
    raw_peer *rp = req->data;
    rp->status = status;
    if (status < 0) return;
    uv_buf_t b = uv_buf_init(rp->out.data, (unsigned)rp->out.len);
    uv_write(&rp->write, (uv_stream_t *)&rp->tcp, &b, 1, NULL);
    uv_read_start((uv_stream_t *)&rp->tcp, raw_alloc, raw_read);
}

/* Connect to the node's port and send rp->out (filled by the caller). */
static void raw_start(env *e, raw_peer *rp) {
    rp->status = 1;
    rp->connect.data = rp;
    uv_tcp_init(&e->loop, &rp->tcp);
    rp->tcp.data = rp;
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", vx_node_port(e->node), &sa);
    assert_int_equal(
        uv_tcp_connect(&rp->connect, &rp->tcp, (struct sockaddr *)&sa, raw_connected), 0);
}

static void raw_free(raw_peer *rp) {
    vx_buf_free(&rp->out);
    vx_buf_free(&rp->in);
}

static void env_listen(env *e) {
    vx_listen_opts lo;
    vx_listen_opts_init(&lo);
    lo.host = "127.0.0.1";
    lo.port = 0;
    vx_error err;
    assert_int_equal(vx_node_listen(e->node, &lo, &err), 0);
}

/* §2.3 (C-63's counting): an item abandoned for exceeding max_msg_bytes in
 * a stream is counted as VX_E_MSG_TOO_BIG with the decode errors, and the
 * items around it are delivered. First the seam call itself, then the real
 * HTTP server, whose POST body splitter must report it. */
static size_t g_max_msg;
static void small_msgs(vx_node_opts *o) {
    o->codec.max_msg_bytes = g_max_msg;
}

static void test_C63_item_over_max_msg_bytes_counted(void **state) {
    env *e = env_new(NULL);
    fake_conn *a = env_open(e, VX_TRANSPORT_WS, "w1", "n1");
    rec r = {0};
    add_ep(e, "k", &r);
    vx_node_conn_item_error(e->node, &a->base, VX_E_MSG_TOO_BIG);
    vx_payload *p = mk("k", 1);
    feed(e, a, p);
    vx_payload_decref(p);
    assert_int_equal(r.calls, 1);
    assert_int_equal(e->node->decode_errors[-VX_E_MSG_TOO_BIG], 1);
    assert_int_equal(a->n_close, 0);
    assert_true(
        metrics_has(e->node, "vortexc_decode_errors_total{code=\"VX_E_MSG_TOO_BIG\"} 1\n"));
    rec_clear(&r);
    env_free(e);

    /* the HTTP server: a POST body with an oversized item between two msgs */
    g_max_msg = 1000;
    e = env_new(small_msgs);
    rec r2 = {0};
    add_ep(e, "k", &r2);
    env_listen(e);
    vx_error err;
    vx_buf body = {0};
    for (int n = 1; n <= 2; n++) {
        vx_payload *q = mk("k", n);
        assert_int_equal(vx_codec_encode(g_codec, q, &body, &err), 0);
        assert_int_equal(vx_buf_append(&body, ".", 1), 0);
        vx_payload_decref(q);
        for (int i = 0; n == 1 && i < 30; i++)
            assert_int_equal(
                vx_buf_append(&body, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                              50),
                0);
        if (n == 1) assert_int_equal(vx_buf_append(&body, ".", 1), 0);
    }
    raw_peer rp = {0};
    char head[256];
    int hl = snprintf(head, sizeof head,
                      "POST /vortex?vortexUuid=h1&vortexName=n1 HTTP/1.1\r\nHost: x\r\n"
                      "Content-Length: %zu\r\n\r\n",
                      body.len);
    assert_int_equal(vx_buf_append(&rp.out, head, (size_t)hl), 0);
    assert_int_equal(vx_buf_append(&rp.out, body.data, body.len), 0);
    raw_start(e, &rp);
    for (int i = 0; i < 200 && r2.calls < 2; i++) run_for(e, 5);
    assert_int_equal(rp.status, 0);
    assert_int_equal(r2.calls, 2);
    assert_int_equal(r2.last_n, 2);
    assert_int_equal(e->node->decode_errors[-VX_E_MSG_TOO_BIG], 1);
    uv_close((uv_handle_t *)&rp.tcp, NULL);
    vx_buf_free(&body);
    raw_free(&rp);
    rec_clear(&r2);
    env_free(e);
}

/* ---- request/response ------------------------------------------------------ */

typedef struct resp {
    int calls;
    vx_request_status status;
    int code;
    char message[VX_ERROR_MESSAGE_MAX];
    int64_t reply_n;
} resp;

static void resp_fn(void *data, vx_request_status status, vx_payload *reply,
                    const vx_error *err) {
    resp *r = data;
    r->calls++;
    r->status = status;
    r->code = err ? err->code : 0;
    snprintf(r->message, sizeof r->message, "%s", err ? err->message : "");
    vx_value *n = reply ? vx_dict_get(vx_payload_filt(reply), "n") : NULL;
    r->reply_n = vx_typeof(n) == VX_INT ? vx_int_value(n) : -1;
}

/* Answer the request sent as a->q[i]: same filt, the given result. */
static void answer(env *e, fake_conn *a, size_t i, vx_value *result) {
    vx_payload *req = decode(a->q[i]);
    vx_payload *rep = vx_payload_new();
    vx_payload_set_filt_new(rep, vx_incref(vx_payload_filt(req)));
    vx_payload_set_result_new(rep, result);
    feed(e, a, rep);
    vx_payload_decref(rep);
    vx_payload_decref(req);
}

/* C-72: the messageId is added and the matching reply completes it once. */
static void test_C72_request_completes_on_matching_reply(void **state) {
    env *e = env_new(NULL);
    resp r = {0};
    vx_payload *req = mk("req.k", 1);
    vx_error err;
    assert_int_equal(vx_node_request(e->node, NULL, req, NULL, resp_fn, &r, &err),
                     VX_E_NO_SUCH_VORTEX);
    assert_int_equal(vx_node_request(e->node, "nobody", req, NULL, resp_fn, &r, &err),
                     VX_E_NO_SUCH_VORTEX);
    fake_conn *a = env_open(e, VX_TRANSPORT_WS, "srv", "server");
    assert_int_equal(vx_node_request(e->node, NULL, req, NULL, resp_fn, &r, &err), 0);
    assert_int_equal(vx_router_count(vx_node_router(e->node)), 1);
    assert_int_equal(a->n, 2);
    vx_payload *sent = decode(a->q[1]);
    vx_value *id = vx_dict_get(vx_payload_filt(sent), "PayloadResponse.messageId");
    assert_int_equal(vx_typeof(id), VX_STR);
    assert_int_equal(vx_str_len(id), 36);
    assert_int_equal(vx_str_value(id)[14], '4');
    assert_null(
        vx_dict_get(vx_payload_filt(req), "PayloadResponse.messageId")); /* copied */
    vx_payload_decref(sent);
    /* a reply with another messageId does not complete it */
    vx_payload *other = mk("req.k", 1);
    vx_dict_set_new(vx_payload_filt(other), "PayloadResponse.messageId", vx_str("x"));
    feed(e, a, other);
    vx_payload_decref(other);
    assert_int_equal(r.calls, 0);
    answer(e, a, 1, vx_bool(true));
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, VX_REQUEST_SUCCESS);
    assert_int_equal(r.reply_n, 1);
    assert_int_equal(vx_router_count(vx_node_router(e->node)), 0);
    answer(e, a, 1, vx_null()); /* late duplicate: routed normally, nobody listens */
    run_for(e, 5);
    assert_int_equal(r.calls, 1);
    vx_payload_decref(req);
    env_free(e);
}

/* C-74: a reply whose result is "boom" fails with VX_E_REMOTE "boom";
 * other results fail with their JSON; the check can be disabled. */
static void test_C74_error_result_fails_with_remote(void **state) {
    env *e = env_new(NULL);
    fake_conn *a = env_open(e, VX_TRANSPORT_HTTP, "srv", "server");
    vx_payload *req = mk("req.k", 1);
    resp r = {0};
    assert_int_equal(vx_node_request(e->node, "srv", req, NULL, resp_fn, &r, NULL), 0);
    answer(e, a, 1, vx_str("boom"));
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, VX_REQUEST_FAILED);
    assert_int_equal(r.code, VX_E_REMOTE);
    assert_string_equal(r.message, "boom");

    resp r2 = {0};
    assert_int_equal(vx_node_request(e->node, "srv", req, NULL, resp_fn, &r2, NULL), 0);
    answer(e, a, 2, vx_bool(false));
    assert_int_equal(r2.status, VX_REQUEST_FAILED);
    assert_int_equal(r2.code, VX_E_REMOTE);
    assert_string_equal(r2.message, "false");

    resp r3 = {0};
    vx_request_opts o = {.no_result_check = true};
    assert_int_equal(vx_node_request(e->node, "srv", req, &o, resp_fn, &r3, NULL), 0);
    answer(e, a, 3, vx_str("boom"));
    assert_int_equal(r3.status, VX_REQUEST_SUCCESS);
    assert_int_equal(vx_router_count(vx_node_router(e->node)), 0);
    vx_payload_decref(req);
    env_free(e);
}

/* C-73: a request with no reply fails with VX_E_TIMEOUT and leaves no
 * endpoint; after 10 000 requests outstanding together (answered or timed
 * out) none remain. */
static void test_C73_timeout_and_no_endpoints_remain(void **state) {
    env *e = env_new(NULL);
    fake_conn *a = env_open(e, VX_TRANSPORT_WS, "srv", "server");
    a->auto_write = true;
    vx_payload *req = mk("req.k", 1);
    resp r = {0};
    vx_request_opts o = {.timeout = 0.02};
    assert_int_equal(vx_node_request(e->node, "srv", req, &o, resp_fn, &r, NULL), 0);
    run_for(e, 5);
    assert_int_equal(r.calls, 0);
    run_for(e, 40);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, VX_REQUEST_TIMED_OUT);
    assert_int_equal(r.code, VX_E_TIMEOUT);
    assert_int_equal(vx_router_count(vx_node_router(e->node)), 0);
    answer(e, a, 1, vx_null()); /* after the timeout: not an error, no second call */
    assert_int_equal(r.calls, 1);

    /* 10 000 requests outstanding at once (§13 one-shot endpoints on one
     * "key"); half answered, in reverse order, half left to time out. Each
     * reply is compared with its own endpoint only. */
    enum { N = 10000 };
    resp *rs = calloc(N, sizeof *rs);
    assert_non_null(rs);
    size_t first = a->n;
    for (int i = 0; i < N; i++)
        assert_int_equal(vx_node_request(e->node, "srv", req, &o, resp_fn, &rs[i], NULL),
                         0);
    assert_int_equal(vx_router_count(vx_node_router(e->node)), N);
    assert_int_equal(e->node->n_requests, N);
    for (int i = N - 2; i >= 0; i -= 2) {
        answer(e, a, first + (size_t)i, vx_null());
        assert_int_equal(rs[i].calls, 1);
        assert_int_equal(vx_router_last_compared(vx_node_router(e->node)), 1);
    }
    assert_int_equal(vx_router_count(vx_node_router(e->node)), N / 2);
    run_for(e, 30);
    assert_int_equal(vx_router_count(vx_node_router(e->node)), 0);
    int ok = 0, timed_out = 0;
    for (int i = 0; i < N; i++) {
        assert_int_equal(rs[i].calls, 1);
        ok += rs[i].status == VX_REQUEST_SUCCESS;
        timed_out += rs[i].status == VX_REQUEST_TIMED_OUT;
    }
    assert_int_equal(ok, N / 2);
    assert_int_equal(timed_out, N / 2);
    assert_int_equal(vx_router_count(vx_node_router(e->node)), 0);
    assert_int_equal(e->node->n_requests, 0);
    free(rs);

    /* freeing the node completes an outstanding request with VX_E_CLOSED */
    resp last = {0};
    assert_int_equal(vx_node_request(e->node, "srv", req, NULL, resp_fn, &last, NULL), 0);
    vx_payload_decref(req);
    env_free(e);
    assert_int_equal(last.calls, 1);
    assert_int_equal(last.code, VX_E_CLOSED);
}

/* C-69 at node level (§11): a client conn whose bounded send queue is full
 * refuses the msg; the node passes VX_E_QUEUE_FULL to the caller (send or
 * request) and keeps the conn and the remote: no slow-consumer close, no
 * drop counted. Once the queue drains, sends work again. */
static void test_C69_client_queue_full_fails_send_keeps_conn(void **state) {
    env *e = env_new(NULL);
    remote_log log = {0};
    vx_node_on_remote(e->node, on_remote, &log);
    fake_conn *a = env_open(e, VX_TRANSPORT_CLIENT, "srv", "server");
    fake_conn *other = env_open(e, VX_TRANSPORT_WS, "u2", "server");
    a->limit = 3; /* the hello and two msgs */
    send_uuid(e, "srv", "k", 1);
    send_uuid(e, "srv", "k", 2);
    vx_payload *p = mk("k", 3);
    vx_error err;
    vx_error_clear(&err);
    assert_int_equal(vx_node_send_uuid(e->node, "srv", p, &err), VX_E_QUEUE_FULL);
    assert_int_equal(err.code, VX_E_QUEUE_FULL);
    assert_non_null(strstr(err.message, "srv"));
    resp r = {0};
    assert_int_equal(vx_node_request(e->node, "srv", p, NULL, resp_fn, &r, &err),
                     VX_E_QUEUE_FULL);
    assert_int_equal(vx_router_count(vx_node_router(e->node)), 0);
    assert_int_equal(e->node->n_requests, 0);
    /* by name: the other remote still gets it, the caller learns the refusal */
    assert_int_equal(vx_node_send_name(e->node, "server", p, &err), VX_E_QUEUE_FULL);
    expect_seq(other, 2, HELLO, 3);
    vx_payload_decref(p);

    assert_int_equal(a->n_close, 0);
    assert_int_equal(e->node->slow_closes, 0);
    assert_int_equal(e->node->dropped[VXN_DROP_SLOW_CONSUMER], 0);
    assert_int_equal(vx_node_remote_count(e->node), 2);
    assert_int_equal(log.left, 0);
    vx_remote *rm = vxn_remote_find(e->node, "srv");
    assert_non_null(rm);
    assert_ptr_equal(rm->conn, &a->base);
    expect_seq(a, 3, HELLO, 1, 2);

    a->written = a->n; /* drained */
    send_uuid(e, "srv", "k", 4);
    expect_seq(a, 4, HELLO, 1, 2, 4);
    p = mk("k", 5);
    assert_int_equal(vx_node_request(e->node, "srv", p, NULL, resp_fn, &r, &err), 0);
    vx_payload_decref(p);
    expect_seq(a, 5, HELLO, 1, 2, 4, 5);
    answer(e, a, 4, vx_null());
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, VX_REQUEST_SUCCESS);
    env_free(e);
}

/* ---- shutdown, metrics --------------------------------------------------- */

static void done_fn(void *data) {
    (*(int *)data)++;
}

static void test_shutdown_closes_every_conn(void **state) {
    env *e = env_new(NULL);
    fake_conn *a = env_open(e, VX_TRANSPORT_HTTP, "u1", "n1");
    fake_conn *b = env_open(e, VX_TRANSPORT_WS, "u2", "n2");
    b->defer_close = true;
    int done = 0;
    vx_node_shutdown(e->node, done_fn, &done);
    assert_int_equal(a->why, VX_CLOSE_SHUTDOWN);
    assert_int_equal(b->why, VX_CLOSE_SHUTDOWN);
    assert_true(vx_node_shutting_down(e->node));
    fake_conn *c = env_track(e, fake_new(e->node, VX_TRANSPORT_HTTP));
    assert_int_equal(vx_node_conn_open(e->node, &c->base, "u3", "n3"), VX_E_CLOSED);
    c->reported = true; /* never registered */
    vx_payload *p = mk("k", 1);
    assert_int_equal(vx_node_broadcast(e->node, p, NULL), VX_E_CLOSED);
    vx_payload_decref(p);
    run_for(e, 10);
    assert_int_equal(done, 0); /* b has not reported yet */
    fake_report(b);
    run_for(e, 10);
    assert_int_equal(done, 1);
    env_free(e);
    assert_int_equal(done, 1);
}

/* vx_node_free cuts short a conn still ending after a shutdown (a client
 * that stopped reading), so that the node can be freed; done is not called
 * after the free. */
static void test_free_aborts_conns_still_ending(void **state) {
    env *e = env_new(NULL);
    fake_conn *a = env_open(e, VX_TRANSPORT_HTTP, "u1", "n1");
    a->defer_close = true;
    send_uuid(e, "u1", "k", 1);
    int done = 0;
    vx_node_shutdown(e->node, done_fn, &done);
    assert_int_equal(a->n_close, 1);
    assert_int_equal(a->why, VX_CLOSE_SHUTDOWN);
    run_for(e, 10);
    vx_node_free(e->node);
    assert_int_equal(a->n_close, 2);
    assert_int_equal(a->last_why, VX_CLOSE_ABORT);
    fake_report(a); /* the node is freed only now */
    e->node = NULL;
    assert_int_equal(uv_run(&e->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&e->loop), 0);
    assert_int_equal(done, 0);
    fake_free(a);
    free(e);
}

/* ---- the real transports on VX_CLOSE_ABORT (conn.h) --------------------- */

static void count_handle(uv_handle_t *h, void *arg) {
    void **a = arg;
    if (h != a[0] && !uv_is_closing(h)) ++*(int *)a[1];
}

/* Handles on the loop other than the raw peer's and not being closed. */
static int other_handles(env *e, raw_peer *rp) {
    int n = 0;
    void *a[2] = {&rp->tcp, &n};
    uv_walk(&e->loop, count_handle, a);
    return n;
}

static bool raw_has(const raw_peer *rp, const char *str, size_t from) {
    size_t n = strlen(str);
    for (size_t i = from; i + n <= rp->in.len; i++)
        if (memcmp(rp->in.data + i, str, n) == 0) return true;
    return false;
}

static size_t head_end(const raw_peer *rp) {
    for (size_t i = 0; i + 4 <= rp->in.len; i++)
        if (memcmp(rp->in.data + i, "\r\n\r\n", 4) == 0) return i + 4;
    return 0;
}

/* Open a long-poll POST (ws = false) or a WebSocket as remote "a1" and wait
 * for the node's hello on it. */
static void raw_open(env *e, raw_peer *rp, bool ws) {
    const char *req =
        ws ? "GET /vortexws?vortexUuid=a1&vortexName=n HTTP/1.1\r\nHost: x\r\n"
             "Upgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: "
             "13\r\n\r\n"
           : "POST /vortex?vortexUuid=a1&vortexName=n HTTP/1.1\r\nHost: x\r\n"
             "Content-Length: 0\r\n\r\n";
    assert_int_equal(vx_buf_append(&rp->out, req, strlen(req)), 0);
    /* WS: a masked PING in the same write, read with the head (the bytes
     * the HTTP server hands to the WebSocket module) */
    if (ws) assert_int_equal(vx_buf_append(&rp->out, "\x89\x80\x01\x02\x03\x04", 6), 0);
    raw_start(e, rp);
    for (int i = 0; i < 400; i++) {
        size_t h = head_end(rp);
        /* HTTP: the hello chunk ends with ".\r\n"; WS: a frame follows */
        if (h && (ws ? rp->in.len > h + 2 : raw_has(rp, ".\r\n", h))) break;
        run_for(e, 5);
    }
    assert_int_equal(rp->status, 0);
    assert_true(head_end(rp) > 0);
    assert_int_equal(vx_node_remote_count(e->node), 1);
}

/* Whether the server's (unmasked) frames after the 101 include a Close. */
static bool ws_close_frame_seen(const raw_peer *rp) {
    size_t i = head_end(rp);
    const uint8_t *b = (const uint8_t *)rp->in.data;
    while (i + 2 <= rp->in.len) {
        uint8_t op = b[i] & 0x0F;
        uint64_t len = b[i + 1] & 0x7F;
        size_t h = 2;
        if (len == 126) {
            if (i + 4 > rp->in.len) break;
            len = (uint64_t)b[i + 2] << 8 | b[i + 3];
            h = 4;
        } else if (len == 127) {
            if (i + 10 > rp->in.len) break;
            len = 0;
            for (int k = 0; k < 8; k++) len = len << 8 | b[i + 2 + k];
            h = 10;
        }
        if (op == 0x8) return true;
        i += h + len;
    }
    return false;
}

static void finish_raw(env *e, raw_peer *rp) {
    for (int i = 0; i < 400 && !rp->eof; i++) run_for(e, 5);
    assert_true(rp->eof);
    uv_close((uv_handle_t *)&rp->tcp, NULL);
    assert_int_equal(uv_run(&e->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&e->loop), 0);
    raw_free(rp);
    free(e);
}

/* vx_node_free sends VX_CLOSE_ABORT: an open long-poll response or
 * WebSocket is dropped at once, with no final chunk and no close frame
 * (not ended gracefully, nor as "slow"), and reports its end so the node is
 * freed. */
static void test_abort_drops_http_and_ws_at_once(void **state) {
    for (int ws = 0; ws < 2; ws++) {
        env *e = env_new(NULL);
        env_listen(e);
        raw_peer rp = {0};
        raw_open(e, &rp, ws);
        /* every byte read is counted once */
        assert_int_equal(e->node->ctr[VX_CTR_BYTES_IN], rp.out.len);
        vx_node_free(e->node);
        e->node = NULL;
        run_for(e, 50);
        assert_int_equal(other_handles(e, &rp), 0); /* node and conn gone */
        for (int i = 0; i < 400 && !rp.eof; i++) run_for(e, 5);
        if (ws)
            assert_false(ws_close_frame_seen(&rp));
        else
            assert_false(raw_has(&rp, "\r\n0\r\n\r\n", 0));
        finish_raw(e, &rp);
    }
}

/* ABORT also cuts short a graceful end (shutdown) still under way: the
 * transport must not ignore it, or vx_node_free would wait for the end. */
static void test_abort_cuts_short_a_graceful_end(void **state) {
    for (int ws = 0; ws < 2; ws++) {
        env *e = env_new(NULL);
        env_listen(e);
        raw_peer rp = {0};
        raw_open(e, &rp, ws);
        int done = 0;
        vx_node_shutdown(e->node, done_fn, &done);
        vx_node_free(e->node);
        e->node = NULL;
        run_for(e, 50);
        assert_int_equal(other_handles(e, &rp), 0);
        assert_int_equal(done, 0);
        finish_raw(e, &rp);
    }
}

static void test_metrics_text(void **state) {
    env *e = env_new(NULL);
    env_open(e, VX_TRANSPORT_HTTP, "u1", "n1");
    env_open(e, VX_TRANSPORT_WS, "u2", "n2");
    send_uuid(e, "u1", "k", 1);
    vx_node_count(e->node, VX_CTR_BYTES_IN, 42);
    vx_node_count(e->node, VX_CTR_HTTP_REQUESTS, 3);
    assert_true(metrics_has(e->node, "# TYPE vortexc_connections gauge\n"));
    assert_true(metrics_has(e->node, "vortexc_connections{transport=\"http\"} 1\n"));
    assert_true(metrics_has(e->node, "vortexc_connections{transport=\"ws\"} 1\n"));
    assert_true(metrics_has(e->node, "vortexc_connections{transport=\"pipe\"} 0\n"));
    assert_true(metrics_has(e->node, "vortexc_remotes 2\n"));
    assert_true(metrics_has(e->node, "# HELP vortexc_msgs_out_total "));
    assert_true(metrics_has(e->node, "vortexc_msgs_out_total 1\n"));
    assert_true(metrics_has(e->node, "vortexc_bytes_in_total 42\n"));
    assert_true(metrics_has(e->node, "vortexc_http_requests_total 3\n"));
    assert_true(metrics_has(e->node, "vortexc_session_expiries_total 0\n"));
    assert_true(
        metrics_has(e->node, "vortexc_dropped_msgs_total{reason=\"session_expired\"} 0\n"));
    assert_true(metrics_has(e->node, "# TYPE vortexc_decode_errors_total counter\n"));
    env_free(e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_defaults_and_uuid),
        cmocka_unit_test(test_C47_C54_hello_first_then_pending),
        cmocka_unit_test(test_C53_C66_takeover_moves_unsent_to_front),
        cmocka_unit_test(test_C64_ws_takeover_drops_unsent),
        cmocka_unit_test(test_C55_session_timeout_forgets),
        cmocka_unit_test(test_C55_pending_overflow_forgets),
        cmocka_unit_test(test_C55_ws_close_forgets_at_once),
        cmocka_unit_test(test_C81_send_by_name_and_unknown_uuid),
        cmocka_unit_test(test_C82_broadcast_reaches_detached),
        cmocka_unit_test(test_local_send_routes_locally),
        cmocka_unit_test(test_C52_heartbeats_at_period_never_queued),
        cmocka_unit_test(test_C65_C66_slow_consumer),
        cmocka_unit_test(test_C44_server_echo),
        cmocka_unit_test(test_C45_client_echo),
        cmocka_unit_test(test_C63_decode_errors_counted_and_isolated),
        cmocka_unit_test(test_C63_item_over_max_msg_bytes_counted),
        cmocka_unit_test(test_C72_request_completes_on_matching_reply),
        cmocka_unit_test(test_C74_error_result_fails_with_remote),
        cmocka_unit_test(test_C73_timeout_and_no_endpoints_remain),
        cmocka_unit_test(test_C69_client_queue_full_fails_send_keeps_conn),
        cmocka_unit_test(test_shutdown_closes_every_conn),
        cmocka_unit_test(test_free_aborts_conns_still_ending),
        cmocka_unit_test(test_abort_drops_http_and_ws_at_once),
        cmocka_unit_test(test_abort_cuts_short_a_graceful_end),
        cmocka_unit_test(test_metrics_text),
    };
    g_codec = vx_codec_new(NULL);
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    vx_codec_free(g_codec);
    return rc;
}
