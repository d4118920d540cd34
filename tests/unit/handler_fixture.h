/* Shared by the handler tests (test_handler_model.c, test_handler_crud.c,
 * test_observe.c): a real vx_node on a libuv loop, and fake transport conns
 * that act as remote vortexes with their own uuids (the technique of
 * test_node.c): what the node sends them is recorded and decoded; what they
 * "send" is fed to the node as received items. Include after cmocka.h. */
#ifndef VX_HANDLER_FIXTURE_H
#define VX_HANDLER_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/node_impl.h"
#include <vortexc/handler.h>

typedef struct hx_conn {
    vx_conn base;
    vx_node *node;
    vx_msgbuf **q;
    size_t n, cap;
    bool reported;
    char uuid[64];
} hx_conn;

static inline int hx_send(vx_conn *c, vx_msgbuf *m) {
    hx_conn *f = (hx_conn *)c;
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 16;
        f->q = realloc(f->q, f->cap * sizeof *f->q);
        assert_non_null(f->q);
    }
    f->q[f->n++] = vx_msgbuf_incref(m);
    return 0;
}

static inline void hx_report(hx_conn *f) {
    if (f->reported) return;
    f->reported = true;
    vx_node_conn_closed(f->node, &f->base, NULL, 0); /* everything counts as written */
}

static inline void hx_close(vx_conn *c, vx_close_why why) {
    (void)why;
    hx_report((hx_conn *)c);
}

static const vx_conn_ops hx_ops = {hx_send, hx_close};

#define HX_MAX_CONNS 32

typedef struct hx_env {
    uv_loop_t loop;
    vx_node *node;
    vx_codec *codec; /* the test's own: decodes tuples untyped */
    hx_conn *conns[HX_MAX_CONNS];
    size_t n_conns;
} hx_env;

static inline hx_env *hx_env_new(const vx_registry *node_registry) {
    hx_env *e = calloc(1, sizeof *e);
    assert_non_null(e);
    assert_int_equal(uv_loop_init(&e->loop), 0);
    vx_node_opts o;
    vx_node_opts_init(&o);
    o.name = "server";
    o.codec.registry = node_registry;
    vx_error err;
    e->node = vx_node_new(&e->loop, &o, &err);
    assert_non_null(e->node);
    vx_codec_opts co;
    vx_codec_opts_init(&co);
    e->codec = vx_codec_new(&co);
    assert_non_null(e->codec);
    return e;
}

/* A remote vortex connected over a WebSocket-like conn. */
static inline hx_conn *hx_open(hx_env *e, const char *uuid) {
    assert_true(e->n_conns < HX_MAX_CONNS);
    hx_conn *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->base.ops = &hx_ops;
    f->base.kind = VX_TRANSPORT_WS;
    snprintf(f->base.peer, sizeof f->base.peer, "127.0.0.1:%zu", 2000 + e->n_conns);
    snprintf(f->uuid, sizeof f->uuid, "%s", uuid);
    f->node = e->node;
    assert_int_equal(vx_node_conn_open(e->node, &f->base, uuid, "browser"), 0);
    e->conns[e->n_conns++] = f;
    return f;
}

/* The remote goes away: its remote vortex is forgotten at once (WS). */
static inline void hx_disconnect(hx_conn *f) {
    hx_report(f);
}

static inline void hx_stop_cb(uv_timer_t *t) {
    uv_stop(t->loop);
}

/* Run the loop for `ms` milliseconds. */
static inline void hx_run_for(hx_env *e, uint64_t ms) {
    uv_timer_t t;
    uv_timer_init(&e->loop, &t);
    uv_timer_start(&t, hx_stop_cb, ms, 0);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&e->loop, UV_RUN_NOWAIT);
}

static inline void hx_tick_cb(uv_timer_t *t) {
    (void)t;
}

/* Payloads (not hello, not heartbeat) received by f. */
static inline size_t hx_count(hx_env *e, const hx_conn *f);

/* Run the loop until f has received `n` payloads, or fail after `ms`. */
static inline void hx_wait(hx_env *e, hx_conn *f, size_t n, uint64_t ms) {
    uv_timer_t t;
    uv_timer_init(&e->loop, &t);
    uv_timer_start(&t, hx_tick_cb, 5, 5);
    uint64_t deadline = uv_now(&e->loop) + ms;
    while (hx_count(e, f) < n && uv_now(&e->loop) < deadline) uv_run(&e->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&e->loop, UV_RUN_NOWAIT);
    if (hx_count(e, f) < n)
        fail_msg("remote %s got %zu payloads, expected %zu", f->uuid, hx_count(e, f), n);
}

/* NEW decoded payload number `i` (0-based, skipping hellos and heartbeats)
 * that f received, or NULL. */
static inline vx_payload *hx_get(hx_env *e, const hx_conn *f, size_t i) {
    for (size_t k = 0; k < f->n; k++) {
        vx_payload *p = NULL;
        vx_error err;
        if (vx_codec_decode(e->codec, f->q[k]->data, f->q[k]->len, &p, &err) != 0)
            fail_msg("decode: %s", err.message);
        if (vx_payload_is_empty(p)) {
            vx_payload_decref(p);
            continue;
        }
        if (i-- == 0) return p;
        vx_payload_decref(p);
    }
    return NULL;
}

static inline size_t hx_count(hx_env *e, const hx_conn *f) {
    size_t n = 0;
    for (vx_payload *p; (p = hx_get(e, f, n)); n++) vx_payload_decref(p);
    return n;
}

/* Forget what f has received so far. */
static inline void hx_clear(hx_conn *f) {
    for (size_t i = 0; i < f->n; i++) vx_msgbuf_decref(f->q[i]);
    f->n = 0;
}

/* Feed `p` to the node as received from f. */
static inline void hx_feed(hx_env *e, hx_conn *f, const vx_payload *p) {
    vx_buf b = {0};
    vx_error err;
    if (vx_codec_encode(e->codec, p, &b, &err) != 0) fail_msg("encode: %s", err.message);
    vx_node_conn_item(e->node, &f->base, b.data, b.len);
    vx_buf_free(&b);
}

static inline void hx_env_free(hx_env *e) {
    vx_node_free(e->node);
    for (size_t i = 0; i < e->n_conns; i++) hx_report(e->conns[i]);
    assert_int_equal(uv_run(&e->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&e->loop), 0);
    for (size_t i = 0; i < e->n_conns; i++) {
        hx_clear(e->conns[i]);
        free(e->conns[i]->q);
        free(e->conns[i]);
    }
    vx_codec_free(e->codec);
    free(e);
}

/* ---- values ------------------------------------------------------------------ */

/* NEW dict {"key": key}. */
static inline vx_value *hx_filt(const char *key) {
    vx_value *d = vx_dict();
    assert_non_null(d);
    assert_int_equal(vx_dict_set_new(d, "key", vx_str(key)), 0);
    return d;
}

/* NEW payload with filt {"key": key}. */
static inline vx_payload *hx_req(const char *key) {
    vx_payload *p = vx_payload_new_key(key);
    assert_non_null(p);
    return p;
}

static inline void hx_set(vx_value *dict, const char *k, vx_value *v) {
    assert_int_equal(vx_dict_set_new(dict, k, v), 0);
}

/* The result of a payload as a C string ("" if not a string). */
static inline const char *hx_result_str(const vx_payload *p) {
    const vx_value *r = vx_payload_result(p);
    return vx_typeof(r) == VX_STR ? vx_str_value(r) : "";
}

static inline bool hx_result_true(const vx_payload *p) {
    const vx_value *r = vx_payload_result(p);
    return vx_typeof(r) == VX_BOOL && vx_bool_value(r);
}

#endif
