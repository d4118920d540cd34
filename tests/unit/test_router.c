/* Router tests: PROTOCOL.md §7 (C-35 .. C-42) plus re-entrancy, the
 * equality table's corners and the multiset rule against a brute-force
 * reference. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "router/router_impl.h"
#include <vortexc/tuple.h>

/* ---- value builders (each steals the values it is given) --------------- */

/* dict of (const char *key, vx_value *value) pairs ended by NULL. */
static vx_value *D(const char *key, ...) {
    vx_value *d = vx_dict();
    assert_non_null(d);
    va_list ap;
    va_start(ap, key);
    for (const char *k = key; k; k = va_arg(ap, const char *)) {
        vx_value *v = va_arg(ap, vx_value *);
        assert_non_null(v);
        assert_int_equal(vx_dict_set_new(d, k, v), 0);
    }
    va_end(ap);
    return d;
}

/* list of n values. */
static vx_value *L(int n, ...) {
    vx_value *l = vx_list();
    assert_non_null(l);
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        assert_int_equal(vx_list_append_new(l, va_arg(ap, vx_value *)), 0);
    va_end(ap);
    return l;
}

static vx_value *I(int64_t i) {
    return vx_int(i);
}
static vx_value *F(double d) {
    return vx_float(d);
}
static vx_value *S(const char *s) {
    return vx_str(s);
}

/* Payload with filt `filt` (stolen). */
static vx_payload *P(vx_value *filt) {
    vx_payload *p = vx_payload_new();
    assert_non_null(p);
    assert_int_equal(vx_payload_set_filt_new(p, filt), 0);
    return p;
}

/* §7.2 for two filts, releasing both. */
static bool matches(vx_value *ep, vx_value *pf) {
    bool m = vx_filt_matches(ep, pf);
    vx_decref(ep);
    vx_decref(pf);
    return m;
}

/* §7.2 equality for two values, releasing both. */
static bool veq(vx_value *a, vx_value *b) {
    bool e = vx_filt_value_equal(a, b);
    bool e2 = vx_filt_value_equal(b, a);
    assert_true(e == e2); /* the table is symmetric */
    vx_decref(a);
    vx_decref(b);
    return e;
}

/* ---- a call recorder ---------------------------------------------------- */

#define MAX_CALLS 64

typedef struct rec {
    int calls[MAX_CALLS]; /* tag of each endpoint called, in call order */
    int n;
    vx_router *r;
} rec;

typedef struct ep_data {
    rec *log;
    int tag;
    int fail_rc;          /* returned, with fail_msg, when non-zero */
    const char *fail_msg; /* NULL: leave err->message empty */
    /* re-entrancy actions */
    vx_endpoint_id remove_ids[4];
    int n_remove;
    vx_value *add_filt; /* borrowed: registered (with add_data) when called */
    struct ep_data *add_data;
    vx_endpoint_id added_id;
    vx_payload *nested; /* dispatched when called */
    int nested_result;
} ep_data;

static int record_cb(void *data, vx_payload *p, const vx_route_ctx *ctx, vx_error *err) {
    ep_data *d = data;
    assert_non_null(p);
    assert_non_null(ctx);
    assert_true(d->log->n < MAX_CALLS);
    d->log->calls[d->log->n++] = d->tag;
    for (int i = 0; i < d->n_remove; i++)
        assert_int_equal(vx_router_remove(d->log->r, d->remove_ids[i]), 0);
    if (d->add_filt) {
        vx_error e;
        assert_int_equal(
            vx_router_add(d->log->r, d->add_filt, record_cb, d->add_data, &d->added_id, &e),
            0);
        d->add_filt = NULL;
    }
    if (d->nested) d->nested_result = vx_router_dispatch(d->log->r, d->nested, ctx);
    if (d->fail_rc) {
        if (d->fail_msg) snprintf(err->message, sizeof err->message, "%s", d->fail_msg);
        err->code = d->fail_rc;
        return d->fail_rc;
    }
    return 0;
}

static vx_endpoint_id add_ep(vx_router *r, vx_value *filt, ep_data *d) {
    vx_endpoint_id id = 0;
    vx_error err;
    int rc = vx_router_add(r, filt, record_cb, d, &id, &err);
    if (rc != 0) fail_msg("vx_router_add: %s", err.message);
    assert_true(id != 0);
    vx_decref(filt);
    return id;
}

/* Dispatch a payload with `filt` (stolen); returns the callback count. */
static int route(vx_router *r, vx_value *filt, const vx_route_ctx *ctx) {
    vx_payload *p = P(filt);
    int n = vx_router_dispatch(r, p, ctx);
    vx_payload_decref(p);
    return n;
}

/* ---- C-35 ----------------------------------------------------------------- */

static int never_cb(void *data, vx_payload *p, const vx_route_ctx *ctx, vx_error *err) {
    fail_msg("callback of a failed registration was called");
    return 0;
}

static void expect_no_key(vx_router *r, vx_value *filt, const char *why) {
    vx_error err;
    vx_error_clear(&err);
    vx_endpoint_id id = 0;
    assert_int_equal(vx_router_add(r, filt, never_cb, NULL, &id, &err), VX_E_NO_KEY);
    assert_int_equal(err.code, VX_E_NO_KEY);
    if (!strstr(err.message, why)) fail_msg("message '%s' lacks '%s'", err.message, why);
    vx_decref(filt);
}

static void test_C35_add_without_key_fails_no_key(void **state) {
    vx_router *r = vx_router_new();
    expect_no_key(r, D("id", I(1), NULL), "no \"key\"");
    expect_no_key(r, D(NULL), "no \"key\"");
    expect_no_key(r, D("key", D("a", I(1), NULL), NULL), "dict");
    vx_value *t = vx_tuple_new_untyped("x.T");
    assert_non_null(t);
    expect_no_key(r, D("key", t, NULL), "tuple");
    expect_no_key(r, D("key", vx_payload_as_value(vx_payload_new()), NULL), "payload");
    expect_no_key(r, S("key"), "not a dict");
    assert_int_equal(vx_router_count(r), 0);
    /* Nothing was registered: even a payload with those keys reaches nobody. */
    assert_int_equal(route(r, D("key", S("a"), "id", I(1), NULL), NULL), 0);
    vx_router_free(r);
}

/* ---- C-36 .. C-39: the match rule ------------------------------------------ */

static void test_C36_int_matches_float_extra_keys_ignored(void **state) {
    assert_true(matches(D("key", S("a"), "n", I(1), NULL),
                        D("key", S("a"), "n", F(1.0), "x", I(2), NULL)));
    assert_false(matches(D("key", S("a"), "n", I(1), NULL),
                         D("key", S("a"), "n", F(1.5), "x", I(2), NULL)));
    /* and through the router */
    vx_router *r = vx_router_new();
    rec log = {.r = r};
    ep_data d = {.log = &log, .tag = 1};
    add_ep(r, D("key", S("a"), "n", I(1), NULL), &d);
    assert_int_equal(route(r, D("key", S("a"), "n", F(1.0), "x", I(2), NULL), NULL), 1);
    assert_int_equal(log.n, 1);
    vx_router_free(r);
}

static void test_C37_bool_never_matches_number(void **state) {
    assert_false(matches(D("key", S("a"), "f", vx_bool(true), NULL),
                         D("key", S("a"), "f", I(1), NULL)));
    assert_false(matches(D("key", S("a"), "f", vx_bool(true), NULL),
                         D("key", S("a"), "f", F(1.0), NULL)));
    assert_false(matches(D("key", S("a"), "f", vx_bool(false), NULL),
                         D("key", S("a"), "f", I(0), NULL)));
    assert_false(matches(D("key", S("a"), "f", I(1), NULL),
                         D("key", S("a"), "f", vx_bool(true), NULL)));
    assert_true(matches(D("key", S("a"), "f", vx_bool(true), NULL),
                        D("key", S("a"), "f", vx_bool(true), NULL)));
    assert_false(matches(D("key", S("a"), "f", vx_bool(true), NULL),
                         D("key", S("a"), "f", vx_bool(false), NULL)));
    /* bool and number keys live in different buckets */
    vx_router *r = vx_router_new();
    rec log = {.r = r};
    ep_data d = {.log = &log, .tag = 1};
    add_ep(r, D("key", vx_bool(true), NULL), &d);
    assert_int_equal(route(r, D("key", I(1), NULL), NULL), 0);
    assert_int_equal(route(r, D("key", vx_bool(true), NULL), NULL), 1);
    vx_router_free(r);
}

static void test_C38_list_multiset(void **state) {
    assert_true(matches(D("key", S("a"), "l", L(3, I(1), I(2), I(2)), NULL),
                        D("key", S("a"), "l", L(3, I(2), I(1), I(2)), NULL)));
    assert_false(matches(D("key", S("a"), "l", L(3, I(1), I(2), I(2)), NULL),
                         D("key", S("a"), "l", L(2, I(1), I(2)), NULL)));
    assert_false(matches(D("key", S("a"), "l", L(3, I(1), I(2), I(2)), NULL),
                         D("key", S("a"), "l", L(3, I(1), I(1), I(2)), NULL)));
    assert_true(veq(L(3, I(1), I(2), I(2)), L(3, F(2.0), I(1), F(2.0))));
    assert_false(veq(L(2, I(1), vx_bool(true)), L(2, vx_bool(true), vx_bool(true))));
    assert_true(veq(L(0), L(0)));
    assert_false(veq(L(0), L(1, vx_null())));
    /* nested lists are multisets too */
    assert_true(
        veq(L(2, L(2, I(1), I(2)), L(1, S("x"))), L(2, L(1, S("x")), L(2, I(2), I(1)))));
    assert_false(
        veq(L(2, L(2, I(1), I(2)), L(1, S("x"))), L(2, L(1, S("y")), L(2, I(2), I(1)))));

    /* a list "key" value: buckets are order-insensitive and numeric */
    vx_router *r = vx_router_new();
    rec log = {.r = r};
    ep_data d = {.log = &log, .tag = 1};
    add_ep(r, D("key", L(3, I(1), I(2), I(2)), NULL), &d);
    assert_int_equal(route(r, D("key", L(3, I(2), F(1.0), I(2)), NULL), NULL), 1);
    assert_int_equal(route(r, D("key", L(2, I(1), I(2)), NULL), NULL), 0);
    assert_int_equal(vx_router_last_compared(r), 0);
    vx_router_free(r);
}

static void test_C38_large_lists_pair_fast(void **state) {
    /* 20 000 elements with many duplicates, reversed: a trial-pairing
     * matcher would take forever here, the canonical sort does not. */
    vx_value *a = vx_list(), *b = vx_list();
    const int n = 20000;
    for (int i = 0; i < n; i++) {
        assert_int_equal(vx_list_append_new(a, I(i % 100)), 0);
        assert_int_equal(vx_list_append_new(b, F((double)((n - 1 - i) % 100))), 0);
    }
    assert_true(vx_filt_value_equal(a, b));
    assert_int_equal(vx_list_set_new(b, 0, I(100)), 0);
    assert_false(vx_filt_value_equal(a, b));
    vx_decref(a);
    vx_decref(b);
}

static void test_C39_dict_values_ignored_absent_key_blocks(void **state) {
    vx_value *t = vx_tuple_new_untyped("x.T");
    assert_non_null(t);
    assert_true(matches(D("key", S("a"), "d", D("x", I(1), NULL), "t", t, "p",
                          vx_payload_as_value(vx_payload_new()), NULL),
                        D("key", S("a"), NULL)));
    assert_false(matches(D("key", S("a"), "m", I(1), NULL), D("key", S("a"), NULL)));
    assert_false(matches(D("key", S("a"), "m", vx_null(), NULL), D("key", S("a"), NULL)));
    assert_true(matches(D("key", S("a"), "m", vx_null(), NULL),
                        D("key", S("a"), "m", vx_null(), NULL)));

    vx_router *r = vx_router_new();
    rec log = {.r = r};
    ep_data d1 = {.log = &log, .tag = 1}, d2 = {.log = &log, .tag = 2};
    add_ep(r, D("key", S("a"), "d", D("x", I(1), NULL), NULL), &d1);
    add_ep(r, D("key", S("a"), "m", I(1), NULL), &d2);
    assert_int_equal(route(r, D("key", S("a"), "d", I(5), NULL), NULL), 1);
    assert_int_equal(log.calls[0], 1);
    vx_router_free(r);
}

/* ---- C-40: order, once each, empty payloads ------------------------------- */

static void test_C40_matching_endpoints_once_in_order(void **state) {
    vx_router *r = vx_router_new();
    rec log = {.r = r};
    ep_data d[7];
    for (int i = 0; i < 7; i++) d[i] = (ep_data){.log = &log, .tag = i + 1};
    add_ep(r, D("key", S("a"), NULL), &d[0]);
    add_ep(r, D("key", S("b"), NULL), &d[1]);
    add_ep(r, D("key", S("a"), "n", I(1), NULL), &d[2]);
    add_ep(r, D("key", S("a"), "n", I(2), NULL), &d[3]);
    add_ep(r, D("key", S("a"), NULL), &d[4]);
    add_ep(r, D("key", S("A"), NULL), &d[5]);
    add_ep(r, D("key", S("a"), NULL), &d[6]);
    assert_int_equal(vx_router_count(r), 7);
    assert_int_equal(route(r, D("key", S("a"), "n", I(1), NULL), NULL), 4);
    int want[] = {1, 3, 5, 7};
    assert_int_equal(log.n, 4);
    for (int i = 0; i < 4; i++) assert_int_equal(log.calls[i], want[i]);
    assert_int_equal(vx_router_last_compared(r), 5);

    /* numeric keys share a bucket: 1 and 1.0, not "1" or true */
    log.n = 0;
    vx_router *r2 = vx_router_new();
    log.r = r2;
    add_ep(r2, D("key", I(1), NULL), &d[0]);
    add_ep(r2, D("key", S("1"), NULL), &d[1]);
    add_ep(r2, D("key", F(1.0), NULL), &d[2]);
    add_ep(r2, D("key", vx_bool(true), NULL), &d[3]);
    add_ep(r2, D("key", F(-0.0), NULL), &d[4]);
    assert_int_equal(route(r2, D("key", F(1.0), NULL), NULL), 2);
    assert_int_equal(log.n, 2);
    assert_int_equal(log.calls[0], 1);
    assert_int_equal(log.calls[1], 3);
    assert_int_equal(route(r2, D("key", I(0), NULL), NULL), 1);
    assert_int_equal(log.calls[2], 5);
    vx_router_free(r2);

    /* empty payloads and key-less payloads reach nobody */
    log.n = 0;
    log.r = r;
    vx_payload *hello = vx_payload_new_hello("u-1", "n");
    vx_payload *hb = vx_payload_new_heartbeat();
    vx_payload *blank = vx_payload_new_blank();
    assert_int_equal(vx_router_dispatch(r, hello, NULL), 0);
    assert_int_equal(vx_router_dispatch(r, hb, NULL), 0);
    assert_int_equal(vx_router_dispatch(r, blank, NULL), 0);
    assert_int_equal(route(r, D("n", I(1), NULL), NULL), 0);
    assert_int_equal(vx_router_last_compared(r), 0);
    assert_int_equal(log.n, 0);
    vx_payload_decref(hello);
    vx_payload_decref(hb);
    vx_payload_decref(blank);
    vx_router_free(r);
}

/* ---- C-41: cost independent of other keys ---------------------------------- */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double time_dispatch(vx_router *r, vx_payload *p, int iters) {
    double t0 = now_s();
    for (int i = 0; i < iters; i++) assert_int_equal(vx_router_dispatch(r, p, NULL), 1);
    return (now_s() - t0) / iters;
}

static int count_cb(void *data, vx_payload *p, const vx_route_ctx *ctx, vx_error *err) {
    ++*(long *)data;
    return 0;
}

static void test_C41_other_keys_cost_nothing(void **state) {
    vx_router *one = vx_router_new(), *many = vx_router_new();
    long hits = 0, others = 0;
    vx_value *target = D("key", S("target"), "n", I(1), NULL);
    for (int i = 0; i < 100000; i++) {
        char k[32];
        snprintf(k, sizeof k, "k%d", i);
        vx_value *f = D("key", S(k), "n", I(1), NULL);
        assert_int_equal(vx_router_add(many, f, count_cb, &others, NULL, NULL), 0);
        vx_decref(f);
        if (i == 50000)
            assert_int_equal(vx_router_add(many, target, count_cb, &hits, NULL, NULL), 0);
    }
    assert_int_equal(vx_router_add(one, target, count_cb, &hits, NULL, NULL), 0);
    vx_decref(target);
    assert_int_equal(vx_router_count(many), 100001);

    vx_payload *p = P(D("key", S("target"), "n", I(1), NULL));
    assert_int_equal(vx_router_dispatch(many, p, NULL), 1);
    assert_int_equal(vx_router_last_compared(many), 1);
    assert_int_equal(vx_router_dispatch(one, p, NULL), 1);
    assert_int_equal(vx_router_last_compared(one), 1);
    assert_int_equal(hits, 2);
    assert_int_equal(others, 0);

    double t1 = time_dispatch(one, p, 20000);
    double tn = time_dispatch(many, p, 20000);
    print_message("C-41: dispatch %.0f ns with 1 endpoint, %.0f ns with 100 001\n",
                  t1 * 1e9, tn * 1e9);
    assert_int_equal(others, 0);
    vx_payload_decref(p);
    vx_router_free(one);
    vx_router_free(many);
}

/* ---- C-42: error replies --------------------------------------------------- */

typedef struct replies {
    vx_payload *got[8];
    int n;
} replies;

static int collect_reply(void *data, vx_payload *reply, vx_error *err) {
    replies *rs = data;
    assert_true(rs->n < 8);
    rs->got[rs->n++] = vx_payload_incref(reply);
    return 0;
}

static void test_C42_failing_callback_replies_once(void **state) {
    vx_router *r = vx_router_new();
    rec log = {.r = r};
    ep_data f1 = {.log = &log, .tag = 1, .fail_rc = VX_E_HANDLER, .fail_msg = "boom"};
    ep_data ok = {.log = &log, .tag = 2};
    ep_data f2 = {.log = &log, .tag = 3, .fail_rc = VX_E_INVAL};
    add_ep(r, D("key", S("a"), NULL), &f1);
    add_ep(r, D("key", S("a"), NULL), &ok);
    add_ep(r, D("key", S("a"), NULL), &f2);

    replies rs = {0};
    vx_route_ctx ctx = {
        .sender_uuid = "u", .sender_name = "n", .reply = collect_reply, .reply_data = &rs};
    vx_payload *p = P(D("key", S("a"), "id", I(7), NULL));
    assert_int_equal(vx_router_dispatch(r, p, &ctx), 3);
    assert_int_equal(log.n, 3); /* a failure does not stop delivery */
    assert_int_equal(rs.n, 2);
    const char *want[2] = {"boom", vx_strerror(VX_E_INVAL)};
    for (int i = 0; i < 2; i++) {
        vx_payload *rp = rs.got[i];
        assert_true(vx_equal(vx_payload_filt(rp), vx_payload_filt(p)));
        assert_ptr_not_equal(vx_payload_filt(rp), vx_payload_filt(p));
        assert_int_equal(vx_dict_size(vx_payload_reply_filt(rp)), 0);
        assert_int_equal(vx_list_size(vx_payload_tuples(rp)), 0);
        assert_int_equal(vx_typeof(vx_payload_result(rp)), VX_STR);
        assert_string_equal(vx_str_value(vx_payload_result(rp)), want[i]);
        vx_payload_decref(rp);
    }

    /* the received payload carried a result: no reply, delivery unchanged */
    rs.n = 0;
    log.n = 0;
    assert_int_equal(vx_payload_set_result_new(p, vx_bool(true)), 0);
    assert_int_equal(vx_router_dispatch(r, p, &ctx), 3);
    assert_int_equal(rs.n, 0);
    assert_int_equal(log.n, 3);
    /* result false is non-null too */
    assert_int_equal(vx_payload_set_result_new(p, vx_bool(false)), 0);
    assert_int_equal(vx_router_dispatch(r, p, &ctx), 3);
    assert_int_equal(rs.n, 0);

    /* no reply function: failures are dropped quietly */
    assert_int_equal(vx_payload_set_result_new(p, vx_null()), 0);
    vx_route_ctx quiet = {0};
    assert_int_equal(vx_router_dispatch(r, p, &quiet), 3);
    assert_int_equal(vx_router_dispatch(r, p, NULL), 3);
    vx_payload_decref(p);
    vx_router_free(r);
}

static void test_error_reply_builder(void **state) {
    vx_payload *p = P(D("key", S("a"), "l", L(1, I(1)), NULL));
    assert_int_equal(vx_payload_set_reply_filt_new(p, D("x", I(1), NULL)), 0);
    assert_int_equal(vx_list_append_new(vx_payload_tuples(p), vx_tuple_new_untyped("x.T")),
                     0);
    vx_payload *rp = vx_payload_new_error_reply(p, "bad thing");
    assert_non_null(rp);
    assert_true(vx_equal(vx_payload_filt(rp), vx_payload_filt(p)));
    assert_int_equal(vx_dict_size(vx_payload_reply_filt(rp)), 0);
    assert_int_equal(vx_list_size(vx_payload_tuples(rp)), 0);
    assert_string_equal(vx_str_value(vx_payload_result(rp)), "bad thing");
    assert_int_equal(vx_typeof(vx_payload_date(rp)), VX_DATETIME);
    /* the copy is deep: changing the reply leaves the original alone */
    assert_int_equal(vx_dict_set_new(vx_payload_filt(rp), "key", S("z")), 0);
    assert_string_equal(vx_str_value(vx_dict_get(vx_payload_filt(p), "key")), "a");
    vx_payload_decref(rp);
    /* a message that is not UTF-8 still gives a (cleaned) reply */
    rp = vx_payload_new_error_reply(p, "bad \xff byte");
    assert_non_null(rp);
    assert_string_equal(vx_str_value(vx_payload_result(rp)), "bad ? byte");
    vx_payload_decref(rp);
    vx_payload_decref(p);
}

/* ---- re-entrancy ------------------------------------------------------------ */

static void test_add_during_dispatch_not_delivered(void **state) {
    vx_router *r = vx_router_new();
    rec log = {.r = r};
    vx_value *later = D("key", S("a"), NULL);
    ep_data added = {.log = &log, .tag = 9};
    ep_data d1 = {.log = &log, .tag = 1, .add_filt = later, .add_data = &added};
    ep_data d2 = {.log = &log, .tag = 2};
    add_ep(r, D("key", S("a"), NULL), &d1);
    add_ep(r, D("key", S("a"), NULL), &d2);
    assert_int_equal(route(r, D("key", S("a"), NULL), NULL), 2);
    assert_int_equal(log.n, 2);
    assert_int_equal(log.calls[1], 2);
    assert_int_equal(vx_router_count(r), 3);
    /* the next payload reaches it, last (registration order) */
    log.n = 0;
    assert_int_equal(route(r, D("key", S("a"), NULL), NULL), 3);
    assert_int_equal(log.calls[2], 9);
    vx_decref(later);
    vx_router_free(r);
}

static void test_remove_during_dispatch(void **state) {
    vx_router *r = vx_router_new();
    rec log = {.r = r};
    ep_data d1 = {.log = &log, .tag = 1}, d2 = {.log = &log, .tag = 2},
            d3 = {.log = &log, .tag = 3}, d4 = {.log = &log, .tag = 4};
    vx_endpoint_id id1 = add_ep(r, D("key", S("a"), NULL), &d1);
    vx_endpoint_id id2 = add_ep(r, D("key", S("a"), NULL), &d2);
    add_ep(r, D("key", S("a"), NULL), &d3);
    vx_endpoint_id id4 = add_ep(r, D("key", S("a"), NULL), &d4);
    /* endpoint 1 removes itself, the not-yet-called 2 and 4 */
    d1.remove_ids[0] = id1;
    d1.remove_ids[1] = id2;
    d1.remove_ids[2] = id4;
    d1.n_remove = 3;
    assert_int_equal(route(r, D("key", S("a"), NULL), NULL), 2);
    assert_int_equal(log.n, 2);
    assert_int_equal(log.calls[0], 1);
    assert_int_equal(log.calls[1], 3);
    assert_int_equal(vx_router_count(r), 1);
    log.n = 0;
    assert_int_equal(route(r, D("key", S("a"), NULL), NULL), 1);
    assert_int_equal(log.calls[0], 3);
    vx_router_free(r);
}

static void test_remove_whole_bucket_during_dispatch(void **state) {
    /* the last endpoint of a bucket removes everyone: the bucket is freed
     * while the dispatch loop still runs */
    vx_router *r = vx_router_new();
    rec log = {.r = r};
    ep_data d1 = {.log = &log, .tag = 1}, d2 = {.log = &log, .tag = 2};
    vx_endpoint_id id1 = add_ep(r, D("key", S("a"), NULL), &d1);
    vx_endpoint_id id2 = add_ep(r, D("key", S("a"), NULL), &d2);
    d1.remove_ids[0] = id2;
    d1.remove_ids[1] = id1;
    d1.n_remove = 2;
    assert_int_equal(route(r, D("key", S("a"), NULL), NULL), 1);
    assert_int_equal(vx_router_count(r), 0);
    assert_int_equal(route(r, D("key", S("a"), NULL), NULL), 0);
    vx_router_free(r);
}

static void test_nested_dispatch(void **state) {
    vx_router *r = vx_router_new();
    rec log = {.r = r};
    vx_payload *inner = P(D("key", S("b"), NULL));
    ep_data a1 = {.log = &log, .tag = 1, .nested = inner};
    ep_data a2 = {.log = &log, .tag = 2};
    ep_data b1 = {.log = &log, .tag = 10};
    add_ep(r, D("key", S("a"), NULL), &a1);
    add_ep(r, D("key", S("a"), NULL), &a2);
    add_ep(r, D("key", S("b"), NULL), &b1);
    assert_int_equal(route(r, D("key", S("a"), NULL), NULL), 2);
    assert_int_equal(a1.nested_result, 1);
    int want[] = {1, 10, 2};
    assert_int_equal(log.n, 3);
    for (int i = 0; i < 3; i++) assert_int_equal(log.calls[i], want[i]);
    vx_payload_decref(inner);
    vx_router_free(r);
}

static void test_remove_makes_unreachable(void **state) {
    vx_router *r = vx_router_new();
    rec log = {.r = r};
    ep_data d1 = {.log = &log, .tag = 1}, d2 = {.log = &log, .tag = 2};
    vx_endpoint_id id1 = add_ep(r, D("key", S("a"), NULL), &d1);
    vx_endpoint_id id2 = add_ep(r, D("key", S("b"), NULL), &d2);
    assert_true(id1 != id2);
    assert_int_equal(vx_router_remove(r, id1), 0);
    assert_int_equal(vx_router_remove(r, id1), VX_E_NOT_FOUND);
    assert_int_equal(vx_router_remove(r, 0), VX_E_NOT_FOUND);
    assert_int_equal(vx_router_remove(r, 12345), VX_E_NOT_FOUND);
    assert_int_equal(vx_router_count(r), 1);
    assert_int_equal(route(r, D("key", S("a"), NULL), NULL), 0);
    assert_int_equal(route(r, D("key", S("b"), NULL), NULL), 1);
    assert_int_equal(vx_router_remove(r, id2), 0);
    assert_int_equal(vx_router_count(r), 0);
    assert_int_equal(route(r, D("key", S("b"), NULL), NULL), 0);
    assert_int_equal(log.n, 1);

    /* churn: many adds and removes keep ids findable (id table deletions) */
    vx_endpoint_id ids[3000];
    for (int i = 0; i < 3000; i++) {
        char k[16];
        snprintf(k, sizeof k, "c%d", i % 7);
        ids[i] = add_ep(r, D("key", S(k), NULL), &d1);
    }
    for (int i = 0; i < 3000; i += 2) assert_int_equal(vx_router_remove(r, ids[i]), 0);
    for (int i = 1; i < 3000; i += 2) assert_int_equal(vx_router_remove(r, ids[i]), 0);
    assert_int_equal(vx_router_count(r), 0);
    vx_router_free(r);
}

static void test_endpoint_filt_is_copied(void **state) {
    vx_router *r = vx_router_new();
    rec log = {.r = r};
    ep_data d = {.log = &log, .tag = 1};
    vx_value *l = L(1, I(1));
    vx_value *filt = D("key", S("a"), "l", l, NULL);
    vx_endpoint_id id;
    assert_int_equal(vx_router_add(r, filt, record_cb, &d, &id, NULL), 0);
    assert_int_equal(vx_dict_set_new(filt, "key", S("b")), 0);
    assert_int_equal(vx_dict_set_new(filt, "extra", I(5)), 0);
    assert_int_equal(vx_list_append_new(l, I(2)), 0);
    vx_decref(filt);
    assert_int_equal(
        route(r, D("key", S("b"), "l", L(2, I(1), I(2)), "extra", I(5), NULL), NULL), 0);
    assert_int_equal(route(r, D("key", S("a"), "l", L(1, I(1)), NULL), NULL), 1);
    vx_router_free(r);
}

/* ---- the equality table ------------------------------------------------------- */

static void test_equality_table_scalars(void **state) {
    int64_t t0;
    assert_int_equal(vx_datetime_from_parts(2024, 3, 5, 10, 11, 12, 1, &t0), 0);
    assert_true(veq(vx_datetime(t0), vx_datetime(t0)));
    assert_false(veq(vx_datetime(t0), vx_datetime(t0 + 1)));
    assert_false(veq(vx_datetime(t0), I(t0)));
    assert_true(veq(vx_bytes("a\0b", 3), vx_bytes("a\0b", 3)));
    assert_false(veq(vx_bytes("a\0b", 3), vx_bytes("a\0c", 3)));
    assert_false(veq(vx_bytes("ab", 2), S("ab")));
    assert_true(veq(vx_bytes("", 0), vx_bytes("", 0)));
    assert_true(veq(vx_null(), vx_null()));
    assert_false(veq(vx_null(), I(0)));
    assert_false(veq(vx_null(), S("")));
    assert_true(veq(vx_strn("a\0b", 3), vx_strn("a\0b", 3)));
    assert_false(veq(vx_strn("a\0b", 3), vx_strn("a\0c", 3)));
    assert_false(veq(S("1"), I(1)));
    assert_true(veq(S("\xc3\xa9"), S("\xc3\xa9")));
    assert_false(veq(S("a"), S("A")));
    /* payloads equal nothing, not even themselves */
    vx_payload *pp = vx_payload_new();
    assert_false(vx_filt_value_equal(vx_payload_as_value(pp), vx_payload_as_value(pp)));
    vx_payload_decref(pp);
}

static void test_equality_nan_never_matches(void **state) {
    assert_false(veq(F(NAN), F(NAN)));
    assert_false(veq(F(NAN), I(0)));
    assert_false(veq(L(1, F(NAN)), L(1, F(NAN))));
    assert_false(veq(L(2, F(NAN), I(1)), L(2, I(1), F(NAN))));
    assert_false(veq(L(2, D("a", F(NAN), NULL), I(1)), L(2, I(1), D("a", F(NAN), NULL))));
    assert_false(
        matches(D("key", S("a"), "n", F(NAN), NULL), D("key", S("a"), "n", F(NAN), NULL)));
    assert_true(veq(F(INFINITY), F(INFINITY)));
    assert_false(veq(F(INFINITY), I(INT64_MAX)));

    /* a NaN key: registered, never called */
    vx_router *r = vx_router_new();
    rec log = {.r = r};
    ep_data d = {.log = &log, .tag = 1};
    vx_endpoint_id id = add_ep(r, D("key", F(NAN), NULL), &d);
    add_ep(r, D("key", L(2, I(1), F(NAN)), NULL), &d);
    assert_int_equal(vx_router_count(r), 2);
    assert_int_equal(route(r, D("key", F(NAN), NULL), NULL), 0);
    assert_int_equal(route(r, D("key", L(2, F(NAN), I(1)), NULL), NULL), 0);
    assert_int_equal(log.n, 0);
    assert_int_equal(vx_router_remove(r, id), 0);
    assert_int_equal(vx_router_count(r), 1);
    vx_router_free(r);
}

static void test_equality_large_int_vs_float(void **state) {
    const int64_t two53 = INT64_C(9007199254740992);
    assert_false(veq(I(two53 + 1), F(9007199254740992.0)));
    assert_true(veq(I(two53), F(9007199254740992.0)));
    assert_false(veq(L(1, I(two53 + 1)), L(1, F(9007199254740992.0))));
    assert_false(veq(L(2, I(two53 + 1), I(0)), L(2, I(0), F(9007199254740992.0))));
    assert_true(veq(L(2, I(two53), I(0)), L(2, F(0.0), F(9007199254740992.0))));
    assert_false(veq(I(INT64_MAX), F(9223372036854775808.0)));
    assert_true(veq(I(INT64_MIN), F(-9223372036854775808.0)));
    assert_false(veq(I(INT64_MIN + 1), F(-9223372036854775808.0)));
    assert_true(veq(I(0), F(-0.0)));
    assert_false(veq(I(1), F(1.5)));
    assert_false(veq(I(-2), F(-1.5)));
    assert_true(veq(F(0.1), F(0.1)));
    assert_true(veq(L(1, F(1e300)), L(1, F(1e300))));

    /* buckets agree: the int key 2^53+1 does not receive a float 2^53 */
    vx_router *r = vx_router_new();
    rec log = {.r = r};
    ep_data d = {.log = &log, .tag = 1};
    add_ep(r, D("key", I(two53 + 1), NULL), &d);
    assert_int_equal(route(r, D("key", F(9007199254740992.0), NULL), NULL), 0);
    assert_int_equal(route(r, D("key", I(two53 + 1), NULL), NULL), 1);
    vx_router_free(r);
}

static void test_equality_containers_in_lists(void **state) {
    /* dicts: same keys and equal values (numerically), any key order */
    assert_true(veq(L(2, D("a", I(1), "b", S("x"), NULL), I(3)),
                    L(2, I(3), D("b", S("x"), "a", F(1.0), NULL))));
    assert_false(veq(L(1, D("a", I(1), NULL)), L(1, D("a", I(1), "b", I(2), NULL))));
    assert_false(veq(L(1, D("a", I(1), NULL)), L(1, D("b", I(1), NULL))));
    assert_false(veq(L(1, D("a", vx_bool(true), NULL)), L(1, D("a", I(1), NULL))));
    assert_true(
        veq(L(1, D("a", L(2, I(1), I(2)), NULL)), L(1, D("a", L(2, I(2), I(1)), NULL))));

    /* tuples: type name and fields */
    vx_value *t1 = vx_tuple_new_untyped("x.T"), *t2 = vx_tuple_new_untyped("x.T"),
             *t3 = vx_tuple_new_untyped("x.U");
    assert_int_equal(vx_tuple_set_new(t1, "a", I(1)), 0);
    assert_int_equal(vx_tuple_set_new(t1, "b", S("q")), 0);
    assert_int_equal(vx_tuple_set_new(t2, "b", S("q")), 0);
    assert_int_equal(vx_tuple_set_new(t2, "a", F(1.0)), 0);
    assert_int_equal(vx_tuple_set_new(t3, "a", I(1)), 0);
    assert_int_equal(vx_tuple_set_new(t3, "b", S("q")), 0);
    assert_true(vx_filt_value_equal(t1, t2));
    assert_false(vx_filt_value_equal(t1, t3));
    assert_true(veq(L(3, vx_incref(t1), vx_incref(t3), I(0)),
                    L(3, I(0), vx_incref(t3), vx_incref(t2))));
    assert_false(
        veq(L(2, vx_incref(t1), vx_incref(t1)), L(2, vx_incref(t2), vx_incref(t3))));
    assert_int_equal(vx_tuple_set_new(t2, "c", vx_null()), 0);
    assert_false(veq(L(1, vx_incref(t1)), L(1, vx_incref(t2))));
    vx_decref(t1);
    vx_decref(t2);
    vx_decref(t3);

    /* typed vs typed, with defaults */
    vx_registry *reg = vx_registry_new();
    vx_field_def f[] = {{.name = "id"}, {.name = "name"}};
    const vx_tuple_type *ty;
    assert_int_equal(vx_registry_add(reg, "x.P", NULL, f, 2, &ty, NULL), 0);
    vx_value *p1 = vx_tuple_new(ty), *p2 = vx_tuple_new(ty);
    assert_int_equal(vx_tuple_set_new(p1, "id", I(4)), 0);
    assert_int_equal(vx_tuple_set_new(p2, "id", F(4.0)), 0);
    assert_true(veq(L(2, p1, I(1)), L(2, I(1), p2)));
    vx_registry_free(reg);

    /* a payload inside a list pairs with nothing */
    assert_false(veq(L(1, vx_payload_as_value(vx_payload_new())),
                     L(1, vx_payload_as_value(vx_payload_new()))));
}

/* ---- multiset rule against a brute-force reference --------------------------- */

static vx_value *pool_value(int k) {
    switch (k) {
    case 0:
        return I(1);
    case 1:
        return F(1.0);
    case 2:
        return vx_bool(true);
    case 3:
        return S("1");
    case 4:
        return vx_null();
    case 5:
        return L(2, I(1), I(2));
    case 6:
        return L(2, F(2.0), I(1));
    case 7:
        return D("a", I(1), NULL);
    case 8:
        return D("a", F(1.0), NULL);
    case 9:
        return I(2);
    case 10:
        return L(3, I(1), I(1), I(2));
    default:
        return F(NAN);
    }
}

/* Exhaustive search for a one-to-one pairing under vx_filt_value_equal. */
static bool brute_pair(const vx_value *a, const vx_value *b, size_t i, bool *used) {
    size_t n = vx_list_size(a);
    if (i == n) return true;
    for (size_t j = 0; j < n; j++) {
        if (used[j] || !vx_filt_value_equal(vx_list_get(a, i), vx_list_get(b, j))) continue;
        used[j] = true;
        if (brute_pair(a, b, i + 1, used)) return true;
        used[j] = false;
    }
    return false;
}

static void test_multiset_agrees_with_brute_force(void **state) {
    uint32_t seed = 12345;
    int n_equal = 0, n_unequal = 0;
    for (int round = 0; round < 4000; round++) {
        size_t n = 0;
        vx_value *a = vx_list(), *b = vx_list();
        seed = seed * 1103515245u + 12345u;
        n = (seed >> 16) % 6;
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            /* mostly pick from a small range so matches happen */
            int pa = (int)((seed >> 16) % 12), pb = (int)((seed >> 8) % 12);
            assert_int_equal(vx_list_append_new(a, pool_value(pa)), 0);
            assert_int_equal(vx_list_append_new(b, pool_value((round & 1) ? pa : pb)), 0);
        }
        /* shuffle b */
        for (size_t i = n; i > 1; i--) {
            seed = seed * 1103515245u + 12345u;
            size_t j = (seed >> 16) % i;
            vx_value *x = vx_incref(vx_list_get(b, i - 1)),
                     *y = vx_incref(vx_list_get(b, j));
            assert_int_equal(vx_list_set_new(b, i - 1, y), 0);
            assert_int_equal(vx_list_set_new(b, j, x), 0);
        }
        bool used[8] = {0};
        bool want = brute_pair(a, b, 0, used);
        bool got = vx_filt_value_equal(a, b);
        if (want != got) fail_msg("round %d: brute force %d, router %d", round, want, got);
        if (got)
            n_equal++;
        else
            n_unequal++;
        vx_decref(a);
        vx_decref(b);
    }
    /* both outcomes must be well represented, or the comparison proves little */
    assert_true(n_equal > 500);
    assert_true(n_unequal > 500);
}

/* ---- §13 one-shot endpoints: the (key, messageId) index -------------------- */

#define MID "PayloadResponse.messageId"

static void expect_calls(const rec *log, int n, const int *want) {
    if (log->n != n) {
        for (int i = 0; i < log->n; i++) fprintf(stderr, " %d", log->calls[i]);
        fprintf(stderr, "\n");
    }
    assert_int_equal(log->n, n);
    for (int i = 0; i < n; i++) assert_int_equal(log->calls[i], want[i]);
}

/* Endpoints with a messageId live in their own buckets, yet every matching
 * endpoint still sees a payload in registration order, across both. */
static void test_C40_message_id_endpoints_keep_registration_order(void **state) {
    vx_router *r = vx_router_new();
    rec log = {.r = r};
    ep_data d[12];
    for (int i = 0; i < 12; i++) d[i] = (ep_data){.log = &log, .tag = i + 1};
    add_ep(r, D("key", S("q"), NULL), &d[0]);
    vx_endpoint_id b = add_ep(r, D("key", S("q"), MID, S("m1"), NULL), &d[1]);
    add_ep(r, D("key", S("q"), "n", I(1), NULL), &d[2]);
    vx_endpoint_id dd = add_ep(r, D("key", S("q"), MID, S("m1"), "n", I(1), NULL), &d[3]);
    add_ep(r, D("key", S("q"), MID, S("m2"), NULL), &d[4]);
    add_ep(r, D("key", S("q"), NULL), &d[5]);
    add_ep(r, D("key", S("q"), MID, D("x", I(1), NULL), NULL), &d[6]); /* dict: ignored */
    add_ep(r, D("key", S("q"), MID, I(1), NULL), &d[7]);
    add_ep(r, D("key", S("r"), MID, S("m1"), NULL), &d[8]);
    add_ep(r, D("key", S("q"), MID, F(NAN), NULL), &d[9]); /* matches nothing */

    assert_int_equal(route(r, D("key", S("q"), MID, S("m1"), "n", I(1), NULL), NULL), 6);
    expect_calls(&log, 6, (int[]){1, 2, 3, 4, 6, 7});
    assert_int_equal(vx_router_last_compared(r), 6); /* 1 3 6 7, then 2 4 */

    log.n = 0; /* §7.2 numbers: a messageId 1.0 finds the endpoint on 1 */
    assert_int_equal(route(r, D("key", S("q"), MID, F(1.0), NULL), NULL), 4);
    expect_calls(&log, 4, (int[]){1, 6, 7, 8});

    log.n = 0; /* no messageId: only plain endpoints can match */
    assert_int_equal(route(r, D("key", S("q"), NULL), NULL), 3);
    expect_calls(&log, 3, (int[]){1, 6, 7});
    assert_int_equal(vx_router_last_compared(r), 4);

    log.n = 0; /* a NaN messageId equals nothing */
    assert_int_equal(route(r, D("key", S("q"), MID, F(NAN), NULL), NULL), 3);
    expect_calls(&log, 3, (int[]){1, 6, 7});

    /* removal empties the m1 bucket; a later endpoint on m1 comes last */
    log.n = 0;
    assert_int_equal(vx_router_remove(r, b), 0);
    assert_int_equal(vx_router_remove(r, dd), 0);
    assert_int_equal(vx_router_remove(r, dd), VX_E_NOT_FOUND);
    assert_int_equal(route(r, D("key", S("q"), MID, S("m1"), "n", I(1), NULL), NULL), 4);
    expect_calls(&log, 4, (int[]){1, 3, 6, 7});
    add_ep(r, D("key", S("q"), MID, S("m1"), NULL), &d[10]);
    log.n = 0;
    assert_int_equal(route(r, D("key", S("q"), MID, S("m1"), "n", I(1), NULL), NULL), 5);
    expect_calls(&log, 5, (int[]){1, 3, 6, 7, 11});

    /* a plain endpoint removing a later one-shot endpoint during dispatch,
     * and adding another on the same messageId that must not see it */
    vx_router *r2 = vx_router_new();
    rec log2 = {.r = r2};
    ep_data e1 = {.log = &log2, .tag = 1}, e2 = {.log = &log2, .tag = 2},
            e3 = {.log = &log2, .tag = 3}, e4 = {.log = &log2, .tag = 4};
    vx_value *late = D("key", S("q"), MID, S("m"), NULL);
    e1.add_filt = late;
    e1.add_data = &e4;
    add_ep(r2, D("key", S("q"), NULL), &e1);
    e1.remove_ids[0] = add_ep(r2, D("key", S("q"), MID, S("m"), NULL), &e2);
    e1.n_remove = 1;
    add_ep(r2, D("key", S("q"), NULL), &e3);
    assert_int_equal(route(r2, D("key", S("q"), MID, S("m"), NULL), NULL), 2);
    expect_calls(&log2, 2, (int[]){1, 3});
    assert_int_equal(vx_router_count(r2), 3);
    vx_decref(late);
    e1.n_remove = 0;
    log2.n = 0;
    assert_int_equal(route(r2, D("key", S("q"), MID, S("m"), NULL), NULL), 3);
    expect_calls(&log2, 3, (int[]){1, 3, 4});
    vx_router_free(r2);
    vx_router_free(r);
}

/* C-41 for §13: with 10 000 one-shot endpoints outstanding on one "key", a
 * reply is compared with its own endpoint only. */
static void test_C41_reply_meets_only_its_request(void **state) {
    enum { N = 10000 };
    vx_router *r = vx_router_new();
    long *hits = calloc(N, sizeof *hits);
    vx_endpoint_id *ids = calloc(N, sizeof *ids);
    assert_non_null(hits);
    assert_non_null(ids);
    for (int i = 0; i < N; i++) {
        char m[32];
        snprintf(m, sizeof m, "id-%d", i);
        vx_value *f = D("key", S("req"), "n", I(7), MID, S(m), NULL);
        assert_int_equal(vx_router_add(r, f, count_cb, &hits[i], &ids[i], NULL), 0);
        vx_decref(f);
    }
    for (int i = 0; i < N; i += 997) {
        char m[32];
        snprintf(m, sizeof m, "id-%d", i);
        vx_payload *p = P(D("key", S("req"), "n", I(7), MID, S(m), NULL));
        assert_int_equal(vx_router_dispatch(r, p, NULL), 1);
        assert_int_equal(vx_router_last_compared(r), 1);
        assert_int_equal(hits[i], 1);
        assert_int_equal(vx_router_remove(r, ids[i]), 0);
        /* a late duplicate reaches no one and is not an error */
        assert_int_equal(vx_router_dispatch(r, p, NULL), 0);
        assert_int_equal(vx_router_last_compared(r), 0);
        vx_payload_decref(p);
    }
    long total = 0;
    for (int i = 0; i < N; i++) total += hits[i];
    assert_int_equal(total, (N + 996) / 997);
    for (int i = 0; i < N; i++)
        if (i % 997) assert_int_equal(vx_router_remove(r, ids[i]), 0);
    assert_int_equal(vx_router_count(r), 0);
    vx_payload *p = P(D("key", S("req"), "n", I(7), MID, S("id-1"), NULL));
    assert_int_equal(vx_router_dispatch(r, p, NULL), 0);
    vx_payload_decref(p);
    free(hits);
    free(ids);
    vx_router_free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_C35_add_without_key_fails_no_key),
        cmocka_unit_test(test_C36_int_matches_float_extra_keys_ignored),
        cmocka_unit_test(test_C37_bool_never_matches_number),
        cmocka_unit_test(test_C38_list_multiset),
        cmocka_unit_test(test_C38_large_lists_pair_fast),
        cmocka_unit_test(test_C39_dict_values_ignored_absent_key_blocks),
        cmocka_unit_test(test_C40_matching_endpoints_once_in_order),
        cmocka_unit_test(test_C41_other_keys_cost_nothing),
        cmocka_unit_test(test_C40_message_id_endpoints_keep_registration_order),
        cmocka_unit_test(test_C41_reply_meets_only_its_request),
        cmocka_unit_test(test_C42_failing_callback_replies_once),
        cmocka_unit_test(test_error_reply_builder),
        cmocka_unit_test(test_add_during_dispatch_not_delivered),
        cmocka_unit_test(test_remove_during_dispatch),
        cmocka_unit_test(test_remove_whole_bucket_during_dispatch),
        cmocka_unit_test(test_nested_dispatch),
        cmocka_unit_test(test_remove_makes_unreachable),
        cmocka_unit_test(test_endpoint_filt_is_copied),
        cmocka_unit_test(test_equality_table_scalars),
        cmocka_unit_test(test_equality_nan_never_matches),
        cmocka_unit_test(test_equality_large_int_vs_float),
        cmocka_unit_test(test_equality_containers_in_lists),
        cmocka_unit_test(test_multiset_agrees_with_brute_force),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
