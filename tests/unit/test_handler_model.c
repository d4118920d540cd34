/* ModelHandler (PROTOCOL.md §14.1): sync, async and worker builds, reply
 * filts (C-75), exactly one error reply (C-76), per-sender order, free with
 * builds in flight, senders that leave; plus the node additions the handlers
 * use (vx_node_send_uuids, several remote listeners). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <unistd.h>

#include <cmocka.h>

#include "handler_fixture.h"
#include "handler/handler_impl.h"

/* ---- builds ------------------------------------------------------------------ */

typedef struct build_ctx {
    int calls;
    int fail;          /* return this code with a message */
    bool send_payload; /* reply with a complete payload */
    bool nothing;      /* no reply */
    bool nan;          /* a tuple list holding NaN (unencodable) */
    char sender[64];
    pthread_t thread;
} build_ctx;

/* tuples: [{"n": calls}] as an untyped tuple */
static vx_value *one_tuple(int64_t n) {
    vx_value *t = vx_tuple_new_untyped("test.M");
    assert_int_equal(vx_tuple_set_new(t, "n", vx_int(n)), 0);
    vx_value *l = vx_list();
    assert_int_equal(vx_list_append_new(l, t), 0);
    return l;
}

static int sync_build(void *data, const vx_payload *request, const vx_route_ctx *ctx,
                      vx_model_result *out, vx_error *err) {
    (void)request;
    build_ctx *b = data;
    b->calls++;
    snprintf(b->sender, sizeof b->sender, "%s", ctx->sender_uuid ? ctx->sender_uuid : "");
    if (b->fail) return vx_error_set(err, b->fail, "no model for you (call %d)", b->calls);
    if (b->nothing) return 0;
    if (b->nan) {
        vx_value *l = vx_list();
        vx_list_append_new(l, vx_float(0.0 / 0.0));
        out->tuples = l;
        return 0;
    }
    if (b->send_payload) {
        out->payload = vx_payload_new_key("custom.reply");
        return 0;
    }
    out->tuples = one_tuple(b->calls);
    return 0;
}

static vx_model_handler *sync_handler(hx_env *e, build_ctx *b, vx_value *filt) {
    vx_error err;
    vx_model_handler *h = vx_model_handler_new(e->node, filt, sync_build, b, &err);
    assert_non_null(h);
    return h;
}

static void test_C75_reply_filt_merge(void **state) {
    (void)state;
    hx_env *e = hx_env_new(NULL);
    hx_conn *a = hx_open(e, "uuid-a");
    build_ctx b = {0};
    vx_value *filt = hx_filt("model.k");
    hx_set(filt, "scope", vx_str("all"));
    hx_set(filt, "x", vx_int(1));
    vx_model_handler *h = sync_handler(e, &b, filt);
    vx_decref(filt);

    /* Merged: handler filt updated with the request's entries. */
    vx_payload *req = hx_req("model.k");
    hx_set(vx_payload_filt(req), "scope", vx_str("all"));
    hx_set(vx_payload_filt(req), "x", vx_float(1.0)); /* matches 1; the payload's wins */
    hx_set(vx_payload_filt(req), "extra", vx_str("e"));
    hx_feed(e, a, req);
    vx_payload_decref(req);
    hx_wait(e, a, 1, 2000);
    vx_payload *r = hx_get(e, a, 0);
    vx_value *want = hx_filt("model.k");
    hx_set(want, "scope", vx_str("all"));
    hx_set(want, "x", vx_float(1.0));
    hx_set(want, "extra", vx_str("e"));
    assert_true(vx_equal(vx_payload_filt(r), want));
    assert_true(vx_is_null(vx_payload_result(r)));
    assert_int_equal(vx_list_size(vx_payload_tuples(r)), 1);
    assert_int_equal(vx_int_value(vx_tuple_get(vx_list_get(vx_payload_tuples(r), 0), "n")),
                     1);
    assert_string_equal(b.sender, "uuid-a");
    vx_decref(want);
    vx_payload_decref(r);

    /* A non-empty replyFilt is the reply filt, as is. */
    req = hx_req("model.k");
    hx_set(vx_payload_filt(req), "scope", vx_str("all"));
    hx_set(vx_payload_filt(req), "x", vx_int(1));
    vx_value *rf = hx_filt("somewhere.else");
    hx_set(rf, "PayloadResponse.messageId", vx_str("m-1"));
    assert_int_equal(vx_payload_set_reply_filt_new(req, vx_deep_copy(rf)), 0);
    hx_feed(e, a, req);
    vx_payload_decref(req);
    hx_wait(e, a, 2, 2000);
    r = hx_get(e, a, 1);
    assert_true(vx_equal(vx_payload_filt(r), rf));
    vx_decref(rf);
    vx_payload_decref(r);

    /* A request lacking a handler filt entry does not match at all. */
    hx_feed(e, a, (req = hx_req("model.k")));
    vx_payload_decref(req);
    hx_run_for(e, 30);
    assert_int_equal(hx_count(e, a), 2);
    assert_int_equal(b.calls, 2);
    vx_model_handler_free(h);
    hx_env_free(e);
}

static void test_C76_build_failure_one_reply(void **state) {
    (void)state;
    hx_env *e = hx_env_new(NULL);
    hx_conn *a = hx_open(e, "uuid-a");
    build_ctx b = {.fail = VX_E_NOT_FOUND};
    vx_value *filt = hx_filt("model.fail");
    vx_model_handler *h = sync_handler(e, &b, filt);
    vx_decref(filt);
    vx_payload *req = hx_req("model.fail");
    hx_set(vx_payload_filt(req), "PayloadResponse.messageId", vx_str("mid-7"));
    hx_feed(e, a, req);
    vx_payload_decref(req);
    hx_run_for(e, 50);
    assert_int_equal(hx_count(e, a), 1); /* no §7.4 reply on top */
    vx_payload *r = hx_get(e, a, 0);
    assert_string_equal(hx_result_str(r), "no model for you (call 1)");
    assert_int_equal(vx_list_size(vx_payload_tuples(r)), 0);
    assert_string_equal(
        vx_str_value(vx_dict_get(vx_payload_filt(r), "PayloadResponse.messageId")),
        "mid-7");
    vx_payload_decref(r);
    vx_model_handler_free(h);
    hx_env_free(e);
}

static void sync_payload_nothing_and_unencodable(void **state) {
    (void)state;
    hx_env *e = hx_env_new(NULL);
    hx_conn *a = hx_open(e, "uuid-a");
    build_ctx b = {.send_payload = true};
    vx_value *filt = hx_filt("model.p");
    vx_model_handler *h = sync_handler(e, &b, filt);
    vx_decref(filt);
    vx_payload *req = hx_req("model.p");
    hx_feed(e, a, req);
    hx_wait(e, a, 1, 2000);
    vx_payload *r = hx_get(e, a, 0);
    assert_string_equal(vx_str_value(vx_dict_get(vx_payload_filt(r), "key")),
                        "custom.reply");
    vx_payload_decref(r);

    b.send_payload = false;
    b.nothing = true;
    hx_feed(e, a, req);
    hx_run_for(e, 30);
    assert_int_equal(hx_count(e, a), 1);

    /* A NaN the build returned cannot be encoded: the sender is told. */
    b.nothing = false;
    b.nan = true;
    hx_feed(e, a, req);
    hx_wait(e, a, 2, 2000);
    r = hx_get(e, a, 1);
    assert_true(strlen(hx_result_str(r)) > 0);
    assert_int_equal(vx_list_size(vx_payload_tuples(r)), 0);
    vx_payload_decref(r);
    vx_payload_decref(req);
    vx_model_handler_free(h);
    hx_env_free(e);
}

/* A local send: the sender is the node itself and the reply routes locally. */
typedef struct rec {
    int calls;
    vx_payload *last;
} rec;

static int rec_fn(void *data, vx_payload *p, const vx_route_ctx *ctx, vx_error *err) {
    (void)ctx, (void)err;
    rec *r = data;
    r->calls++;
    vx_payload_decref(r->last);
    r->last = vx_payload_incref(p);
    return 0;
}

static void local_send_replies_locally(void **state) {
    (void)state;
    hx_env *e = hx_env_new(NULL);
    build_ctx b = {0};
    vx_value *filt = hx_filt("model.local");
    vx_model_handler *h = sync_handler(e, &b, filt);
    vx_decref(filt);
    rec got = {0};
    vx_value *rf = hx_filt("local.answer");
    vx_endpoint_id ep;
    vx_error err;
    assert_int_equal(vx_router_add(vx_node_router(e->node), rf, rec_fn, &got, &ep, &err),
                     0);
    vx_payload *req = hx_req("model.local");
    assert_int_equal(vx_payload_set_reply_filt_new(req, rf), 0);
    assert_int_equal(vx_node_send_uuid(e->node, vx_node_uuid(e->node), req, &err), 0);
    vx_payload_decref(req);
    hx_run_for(e, 50);
    assert_int_equal(b.calls, 1);
    assert_string_equal(b.sender, vx_node_uuid(e->node));
    assert_int_equal(got.calls, 1);
    assert_int_equal(vx_list_size(vx_payload_tuples(got.last)), 1);
    vx_payload_decref(got.last);
    vx_model_handler_free(h);
    hx_env_free(e);
}

/* ---- async ---------------------------------------------------------------------- */

typedef struct async_ctx {
    vx_model_pending *pending[16];
    char senders[16][64];
    int n;
    int calls;
} async_ctx;

static void async_build(void *data, const vx_payload *request, const vx_route_ctx *ctx,
                        vx_model_pending *pending) {
    (void)request;
    async_ctx *a = data;
    a->calls++;
    snprintf(a->senders[a->n], 64, "%s", ctx->sender_uuid);
    a->pending[a->n++] = pending;
}

static void complete_n(async_ctx *a, int i, int64_t n) {
    vx_model_result r = {.tuples = one_tuple(n)};
    vx_model_complete(a->pending[i], &r);
}

static int64_t tuple_n(const vx_payload *p) {
    return vx_int_value(vx_tuple_get(vx_list_get(vx_payload_tuples(p), 0), "n"));
}

static void async_per_sender_order(void **state) {
    (void)state;
    hx_env *e = hx_env_new(NULL);
    hx_conn *a = hx_open(e, "uuid-a");
    hx_conn *b = hx_open(e, "uuid-b");
    async_ctx ac = {0};
    vx_value *filt = hx_filt("model.async");
    vx_error err;
    vx_model_handler *h = vx_model_handler_new_async(e->node, filt, async_build, &ac, &err);
    assert_non_null(h);
    vx_decref(filt);
    vx_payload *req = hx_req("model.async");
    hx_feed(e, a, req); /* a1 starts */
    hx_feed(e, a, req); /* a2 waits for a1 */
    hx_feed(e, b, req); /* b1 runs beside a1 */
    assert_int_equal(ac.calls, 2);
    assert_string_equal(ac.senders[0], "uuid-a");
    assert_string_equal(ac.senders[1], "uuid-b");
    complete_n(&ac, 1, 201); /* b first: different senders are independent */
    hx_wait(e, b, 1, 2000);
    assert_int_equal(hx_count(e, a), 0);
    complete_n(&ac, 0, 101); /* a1 done: a2 starts */
    assert_int_equal(ac.calls, 3);
    assert_string_equal(ac.senders[2], "uuid-a");
    vx_model_fail(ac.pending[2], "a2 failed");
    hx_wait(e, a, 2, 2000);
    vx_payload *r0 = hx_get(e, a, 0), *r1 = hx_get(e, a, 1), *rb = hx_get(e, b, 0);
    assert_int_equal(tuple_n(r0), 101);
    assert_string_equal(hx_result_str(r1), "a2 failed");
    assert_int_equal(vx_list_size(vx_payload_tuples(r1)), 0);
    assert_int_equal(tuple_n(rb), 201);
    vx_payload_decref(r0);
    vx_payload_decref(r1);
    vx_payload_decref(rb);
    vx_payload_decref(req);
    vx_model_handler_free(h);
    hx_env_free(e);
}

/* Completing inside the build (at once) works and does not recurse. */
static void async_now(void *data, const vx_payload *request, const vx_route_ctx *ctx,
                      vx_model_pending *pending) {
    (void)request, (void)ctx;
    int *calls = data;
    ++*calls;
    vx_model_result r = {.tuples = one_tuple(*calls)};
    vx_model_complete(pending, &r);
}

static void async_complete_at_once(void **state) {
    (void)state;
    hx_env *e = hx_env_new(NULL);
    hx_conn *a = hx_open(e, "uuid-a");
    int calls = 0;
    vx_value *filt = hx_filt("model.now");
    vx_model_handler *h =
        vx_model_handler_new_async(e->node, filt, async_now, &calls, NULL);
    vx_decref(filt);
    vx_payload *req = hx_req("model.now");
    for (int i = 0; i < 50; i++) hx_feed(e, a, req);
    vx_payload_decref(req);
    hx_wait(e, a, 50, 2000);
    for (size_t i = 0; i < 50; i++) {
        vx_payload *r = hx_get(e, a, i);
        assert_int_equal(tuple_n(r), (int64_t)i + 1);
        vx_payload_decref(r);
    }
    vx_model_handler_free(h);
    hx_env_free(e);
}

static void async_free_with_pending_and_gone_sender(void **state) {
    (void)state;
    hx_env *e = hx_env_new(NULL);
    hx_conn *a = hx_open(e, "uuid-a");
    hx_conn *b = hx_open(e, "uuid-b");
    async_ctx ac = {0};
    vx_value *filt = hx_filt("model.gone");
    vx_model_handler *h = vx_model_handler_new_async(e->node, filt, async_build, &ac, NULL);
    vx_decref(filt);
    vx_payload *req = hx_req("model.gone");
    hx_feed(e, a, req);
    hx_feed(e, a, req); /* queued behind the first: discarded by the free */
    hx_feed(e, b, req);
    vx_payload_decref(req);
    /* b leaves before its answer: the reply is dropped, counted. */
    hx_disconnect(b);
    complete_n(&ac, 1, 1);
    assert_int_equal(vxh_model_replies_dropped(h), 1);
    /* Freed with a's build pending: completing later sends nothing. */
    vx_model_handler_free(h);
    complete_n(&ac, 0, 2);
    hx_run_for(e, 30);
    assert_int_equal(hx_count(e, a), 0);
    assert_int_equal(ac.calls, 2);
    hx_env_free(e);
}

/* ---- worker ----------------------------------------------------------------------- */

typedef struct worker_ctx {
    pthread_t loop_thread;
    int on_loop; /* builds that ran on the loop thread (must stay 0) */
    int sleep_ms;
    int runs;
    pthread_mutex_t mu;
} worker_ctx;

static int worker_build(void *data, const vx_payload *request, vx_model_result *out,
                        vx_error *err) {
    worker_ctx *w = data;
    pthread_mutex_lock(&w->mu);
    if (pthread_equal(pthread_self(), w->loop_thread)) w->on_loop++;
    w->runs++;
    pthread_mutex_unlock(&w->mu);
    if (w->sleep_ms) usleep(w->sleep_ms * 1000);
    const vx_value *n = vx_dict_get(vx_payload_filt(request), "n");
    if (vx_int_value(n) < 0) return vx_error_set(err, VX_E_INVAL, "n must not be negative");
    out->tuples = one_tuple(vx_int_value(n) * 2);
    return 0;
}

static void worker_builds(void **state) {
    (void)state;
    hx_env *e = hx_env_new(NULL);
    hx_conn *a = hx_open(e, "uuid-a");
    worker_ctx w = {.loop_thread = pthread_self(), .sleep_ms = 5};
    pthread_mutex_init(&w.mu, NULL);
    vx_value *filt = hx_filt("model.w");
    vx_model_handler *h =
        vx_model_handler_new_worker(e->node, filt, worker_build, &w, NULL);
    vx_decref(filt);
    for (int i = 0; i < 6; i++) {
        vx_payload *req = hx_req("model.w");
        hx_set(vx_payload_filt(req), "n", vx_int(i == 3 ? -1 : i));
        hx_feed(e, a, req);
        vx_payload_decref(req);
    }
    hx_wait(e, a, 6, 5000);
    for (size_t i = 0; i < 6; i++) { /* in arrival order */
        vx_payload *r = hx_get(e, a, i);
        if (i == 3) {
            assert_string_equal(hx_result_str(r), "n must not be negative");
        } else {
            assert_int_equal(tuple_n(r), (int64_t)i * 2);
            assert_int_equal(vx_int_value(vx_dict_get(vx_payload_filt(r), "n")),
                             (int64_t)i);
        }
        vx_payload_decref(r);
    }
    assert_int_equal(w.on_loop, 0);
    hx_run_for(e, 20);
    assert_int_equal(hx_count(e, a), 6);
    vx_model_handler_free(h);
    hx_env_free(e);
    pthread_mutex_destroy(&w.mu);
}

static void worker_free_in_flight(void **state) {
    (void)state;
    hx_env *e = hx_env_new(NULL);
    hx_conn *a = hx_open(e, "uuid-a");
    hx_conn *b = hx_open(e, "uuid-b");
    worker_ctx w = {.loop_thread = pthread_self(), .sleep_ms = 100};
    pthread_mutex_init(&w.mu, NULL);
    vx_value *filt = hx_filt("model.wf");
    vx_model_handler *h =
        vx_model_handler_new_worker(e->node, filt, worker_build, &w, NULL);
    vx_decref(filt);
    vx_payload *req = hx_req("model.wf");
    hx_feed(e, a, req);
    hx_feed(e, b, req);
    hx_feed(e, a, req);
    vx_payload_decref(req);
    usleep(20 * 1000); /* let the pool pick them up */
    vx_model_handler_free(h);
    /* Free returned: no build runs any more, so `w` may go. */
    pthread_mutex_lock(&w.mu);
    int runs = w.runs;
    pthread_mutex_unlock(&w.mu);
    assert_true(runs <= 2);
    hx_run_for(e, 150);
    assert_int_equal(w.runs, runs);
    assert_int_equal(hx_count(e, a), 0);
    assert_int_equal(hx_count(e, b), 0);
    hx_env_free(e);
    pthread_mutex_destroy(&w.mu);
}

static void bad_arguments(void **state) {
    (void)state;
    hx_env *e = hx_env_new(NULL);
    vx_error err;
    vx_value *nokey = vx_dict();
    assert_null(vx_model_handler_new(e->node, nokey, sync_build, NULL, &err));
    assert_int_equal(err.code, VX_E_NO_KEY);
    vx_decref(nokey);
    vx_value *filt = hx_filt("k");
    assert_null(vx_model_handler_new(e->node, filt, NULL, NULL, &err));
    assert_int_equal(err.code, VX_E_INVAL);
    assert_null(vx_send_all_handler_new(e->node, filt, NULL, NULL, &err));
    vx_decref(filt);
    vx_model_handler_free(NULL);
    vx_crud_handler_free(NULL);
    vx_observe_hub_free(NULL);
    assert_int_equal(vx_router_count(vx_node_router(e->node)), 0);
    hx_env_free(e);
}

/* ---- node additions ----------------------------------------------------------------- */

static void node_send_uuids(void **state) {
    (void)state;
    hx_env *e = hx_env_new(NULL);
    hx_conn *a = hx_open(e, "uuid-a");
    hx_conn *b = hx_open(e, "uuid-b");
    hx_conn *c = hx_open(e, "uuid-c");
    rec local = {0};
    vx_value *filt = hx_filt("push.k");
    vx_endpoint_id ep;
    vx_error err;
    assert_int_equal(
        vx_router_add(vx_node_router(e->node), filt, rec_fn, &local, &ep, &err), 0);
    vx_decref(filt);
    const char *targets[] = {"uuid-a", "nobody", "uuid-c", vx_node_uuid(e->node)};
    vx_payload *p = hx_req("push.k");
    size_t sent = 99;
    assert_int_equal(vx_node_send_uuids(e->node, targets, 4, p, &sent, &err), 0);
    assert_int_equal(sent, 3);
    hx_run_for(e, 30);
    assert_int_equal(hx_count(e, a), 1);
    assert_int_equal(hx_count(e, b), 0);
    assert_int_equal(hx_count(e, c), 1);
    assert_int_equal(local.calls, 1);
    /* One encoding shared by every target. */
    assert_ptr_equal(a->q[a->n - 1], c->q[c->n - 1]);
    assert_int_equal(vx_node_send_uuids(e->node, NULL, 0, p, &sent, &err), 0);
    assert_int_equal(sent, 0);
    vx_payload_decref(p);
    vx_payload_decref(local.last);
    hx_env_free(e);
}

typedef struct lrec {
    int joined, left;
    vx_node *node;
    struct lrec *remove_other; /* listener to remove from inside this one */
    vx_remote_fn other_fn;
} lrec;

static void listener(void *data, const vx_remote_info *info, bool joined) {
    (void)info;
    lrec *l = data;
    if (joined)
        l->joined++;
    else
        l->left++;
    if (l->remove_other)
        vx_node_remove_remote_listener(l->node, l->other_fn, l->remove_other);
}

static void node_remote_listeners(void **state) {
    (void)state;
    hx_env *e = hx_env_new(NULL);
    lrec first = {.node = e->node}, l1 = {.node = e->node}, l2 = {.node = e->node};
    vx_node_on_remote(e->node, listener, &first);
    assert_int_equal(vx_node_add_remote_listener(e->node, listener, &l1), 0);
    assert_int_equal(vx_node_add_remote_listener(e->node, listener, &l2), 0);
    hx_conn *a = hx_open(e, "uuid-a");
    assert_int_equal(first.joined, 1);
    assert_int_equal(l1.joined, 1);
    assert_int_equal(l2.joined, 1);
    /* l1 removes l2 while being notified: l2 is not called for that event. */
    l1.remove_other = &l2;
    l1.other_fn = listener;
    hx_disconnect(a);
    assert_int_equal(first.left, 1);
    assert_int_equal(l1.left, 1);
    assert_int_equal(l2.left, 0);
    l1.remove_other = NULL;
    vx_node_remove_remote_listener(e->node, listener, &l1);
    hx_open(e, "uuid-b");
    assert_int_equal(first.joined, 2);
    assert_int_equal(l1.joined, 1);
    assert_int_equal(l2.joined, 1);
    hx_env_free(e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_C75_reply_filt_merge),
        cmocka_unit_test(test_C76_build_failure_one_reply),
        cmocka_unit_test(sync_payload_nothing_and_unencodable),
        cmocka_unit_test(local_send_replies_locally),
        cmocka_unit_test(async_per_sender_order),
        cmocka_unit_test(async_complete_at_once),
        cmocka_unit_test(async_free_with_pending_and_gone_sender),
        cmocka_unit_test(worker_builds),
        cmocka_unit_test(worker_free_in_flight),
        cmocka_unit_test(bad_arguments),
        cmocka_unit_test(node_send_uuids),
        cmocka_unit_test(node_remote_listeners),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
