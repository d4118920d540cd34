/* Pending requests fail when their target goes away (PROTOCOL.md §13, §15,
 * §16): a request to a remote vortex that is forgotten (WS/pipe conn closed,
 * HTTP session expired) fails at once with VX_E_CLOSED and a message naming
 * the remote, instead of waiting for response_timeout. A fake transport
 * stands in for the real ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node/conn.h"

/* ---- fake transport: accepts everything, reports its end when told ---- */

typedef struct fake_conn {
    vx_conn base;
    vx_node *node;
    vx_msgbuf *last; /* the latest msg accepted (a reference) */
    size_t n;
    bool reported;
} fake_conn;

static int fake_send(vx_conn *c, vx_msgbuf *m) {
    fake_conn *f = (fake_conn *)c;
    assert_false(f->reported);
    if (f->last) vx_msgbuf_decref(f->last);
    f->last = vx_msgbuf_incref(m);
    f->n++;
    return 0;
}

static void fake_report(fake_conn *f) {
    if (f->reported) return;
    f->reported = true;
    vx_node_conn_closed(f->node, &f->base, NULL, 0);
}

static void fake_close(vx_conn *c, vx_close_why why) {
    fake_report((fake_conn *)c);
}

static const vx_conn_ops fake_ops = {fake_send, fake_close};

static fake_conn *fake_open(vx_node *node, vx_transport_kind kind, const char *uuid,
                            const char *name) {
    fake_conn *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->base.ops = &fake_ops;
    f->base.kind = kind;
    snprintf(f->base.peer, sizeof f->base.peer, "test");
    f->node = node;
    assert_int_equal(vx_node_conn_open(node, &f->base, uuid, name), 0);
    return f;
}

static void fake_free(fake_conn *f) {
    if (f->last) vx_msgbuf_decref(f->last);
    free(f);
}

/* ---- loop, node, requests ---------------------------------------------- */

static uv_loop_t g_loop;
static vx_node *g_node;
static vx_codec *g_codec;

static void setup_node(double session_timeout) {
    assert_int_equal(uv_loop_init(&g_loop), 0);
    vx_node_opts o;
    vx_node_opts_init(&o);
    o.name = "server";
    o.http_session_timeout = session_timeout;
    o.response_timeout = 30; /* far beyond any wait in this file */
    g_node = vx_node_new(&g_loop, &o, NULL);
    assert_non_null(g_node);
}

static void teardown_node(void) {
    vx_node_free(g_node);
    assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&g_loop), 0);
}

static void stop_cb(uv_timer_t *t) {
    uv_stop(t->loop);
}

static void run_for(uint64_t ms) {
    uv_timer_t t;
    uv_timer_init(&g_loop, &t);
    uv_timer_start(&t, stop_cb, ms, 0);
    uv_run(&g_loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&g_loop, UV_RUN_NOWAIT);
}

typedef struct resp {
    int calls;
    vx_request_status status;
    int code;
    char message[VX_ERROR_MESSAGE_MAX];
    uint64_t at_ms;
    /* from inside the callback: a new request to this uuid, and its result */
    const char *again_uuid;
    int again_rc;
} resp;

static void resp_fn(void *data, vx_request_status status, vx_payload *reply,
                    const vx_error *err) {
    resp *r = data;
    r->calls++;
    r->status = status;
    r->code = err ? err->code : 0;
    snprintf(r->message, sizeof r->message, "%s", err ? err->message : "");
    r->at_ms = uv_now(&g_loop);
    if (r->again_uuid) {
        vx_payload *p = vx_payload_new_key("gone.again");
        r->again_rc = vx_node_request(g_node, r->again_uuid, p, NULL, resp_fn, r, NULL);
        vx_payload_decref(p);
    }
}

static void request(const char *uuid, resp *r) {
    vx_payload *p = vx_payload_new_key("gone.req");
    assert_non_null(p);
    vx_error err;
    assert_int_equal(vx_node_request(g_node, uuid, p, NULL, resp_fn, r, &err), 0);
    vx_payload_decref(p);
}

/* Answer the request in the latest msg `f` got, as its peer would. */
static void answer_last(fake_conn *f) {
    vx_payload *p = NULL;
    assert_int_equal(vx_codec_decode(g_codec, f->last->data, f->last->len, &p, NULL), 0);
    vx_buf b = {0};
    assert_int_equal(vx_codec_encode(g_codec, p, &b, NULL), 0);
    vx_node_conn_item(g_node, &f->base, b.data, b.len);
    vx_buf_free(&b);
    vx_payload_decref(p);
}

/* ---- tests ---------------------------------------------------------------- */

/* A WebSocket remote's conn ends: each request sent to it fails at once with
 * VX_E_CLOSED naming the remote; a request to another remote is untouched
 * and still completes with its reply. */
static void test_C55_ws_remote_gone_fails_its_requests(void **state) {
    setup_node(35);
    fake_conn *a = fake_open(g_node, VX_TRANSPORT_WS, "uuid-a", "alpha");
    fake_conn *b = fake_open(g_node, VX_TRANSPORT_WS, "uuid-b", "beta");
    resp ra1 = {0}, ra2 = {0}, rb = {0};
    request("uuid-a", &ra1);
    request("uuid-b", &rb);
    request("uuid-a", &ra2);
    run_for(5);
    assert_int_equal(ra1.calls + ra2.calls + rb.calls, 0);

    uint64_t t0 = uv_now(&g_loop);
    fake_report(a); /* the peer went away */
    assert_int_equal(ra1.calls, 1);
    assert_int_equal(ra2.calls, 1);
    assert_true(ra1.at_ms - t0 < 100);
    assert_int_equal(ra1.status, VX_REQUEST_FAILED);
    assert_int_equal(ra1.code, VX_E_CLOSED);
    assert_non_null(strstr(ra1.message, "remote vortex alpha (uuid-a) went away"));
    assert_int_equal(ra2.code, VX_E_CLOSED);
    assert_int_equal(rb.calls, 0);
    assert_int_equal(vx_node_remote_count(g_node), 1);

    answer_last(b);
    assert_int_equal(rb.calls, 1);
    assert_int_equal(rb.status, VX_REQUEST_SUCCESS);
    run_for(5);
    assert_int_equal(ra1.calls, 1); /* exactly once */
    assert_int_equal(ra2.calls, 1);
    fake_report(b);
    teardown_node();
    fake_free(a);
    fake_free(b);
}

/* The transport's reason (here a pipe child's exit status) is the message,
 * and a request to NULL (the only remote) is tied to that remote too. */
static void test_C83_transport_reason_is_the_message(void **state) {
    setup_node(35);
    fake_conn *c = fake_open(g_node, VX_TRANSPORT_PIPE, "uuid-child", "worker");
    resp r = {0};
    request(NULL, &r);
    vx_node_conn_gone_reason(g_node, &c->base, "child process exited with status 3");
    fake_report(c);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.code, VX_E_CLOSED);
    assert_non_null(strstr(r.message, "child process exited with status 3"));
    assert_int_equal(vx_node_remote_count(g_node), 0);
    teardown_node();
    fake_free(c);
}

/* A detached HTTP remote stays a target until its session expires; then its
 * requests fail at once, long before response_timeout. */
static void test_C55_http_session_expiry_fails_requests(void **state) {
    setup_node(0.05);
    fake_conn *h = fake_open(g_node, VX_TRANSPORT_HTTP, "uuid-h", "browser");
    resp r = {0};
    request("uuid-h", &r);
    fake_report(h); /* the long-poll response ended: detached, not forgotten */
    run_for(10);
    assert_int_equal(r.calls, 0);
    assert_int_equal(vx_node_remote_count(g_node), 1);
    run_for(200);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.code, VX_E_CLOSED);
    assert_non_null(strstr(r.message, "remote vortex browser (uuid-h) went away"));
    teardown_node();
    fake_free(h);
}

/* The callback runs after the remote left the table: a new request to it
 * from there fails synchronously with VX_E_NO_SUCH_VORTEX (and so never
 * calls back), and the callback runs once per request. */
static void test_C81_request_from_callback_finds_no_target(void **state) {
    setup_node(35);
    fake_conn *a = fake_open(g_node, VX_TRANSPORT_WS, "uuid-a", "alpha");
    resp r = {.again_uuid = "uuid-a", .again_rc = 1};
    request("uuid-a", &r);
    fake_report(a);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.again_rc, VX_E_NO_SUCH_VORTEX);
    run_for(5);
    assert_int_equal(r.calls, 1);
    teardown_node();
    fake_free(a);
}

/* Many requests to one remote all fail, each exactly once, and none is left
 * for vx_node_free to cancel. */
static void test_many_requests_fail_once_each(void **state) {
    setup_node(35);
    fake_conn *a = fake_open(g_node, VX_TRANSPORT_WS, "uuid-a", "alpha");
    enum { N = 500 };
    resp *rs = calloc(N, sizeof *rs);
    assert_non_null(rs);
    for (int i = 0; i < N; i++) request("uuid-a", &rs[i]);
    fake_report(a);
    for (int i = 0; i < N; i++) {
        assert_int_equal(rs[i].calls, 1);
        assert_int_equal(rs[i].code, VX_E_CLOSED);
    }
    teardown_node();
    for (int i = 0; i < N; i++) assert_int_equal(rs[i].calls, 1);
    free(rs);
    fake_free(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_C55_ws_remote_gone_fails_its_requests),
        cmocka_unit_test(test_C83_transport_reason_is_the_message),
        cmocka_unit_test(test_C55_http_session_expiry_fails_requests),
        cmocka_unit_test(test_C81_request_from_callback_finds_no_target),
        cmocka_unit_test(test_many_requests_fail_once_each),
    };
    g_codec = vx_codec_new(NULL);
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    vx_codec_free(g_codec);
    return rc;
}
