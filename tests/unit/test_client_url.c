/* The client's pure pieces: URL parsing and request targets, the backoff
 * sequence (§11, C-68) and the bounded send queue (§11, C-69). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client/client_impl.h"

/* ---- URL ------------------------------------------------------------------ */

static void test_url_http_with_port_and_path(void **state) {
    vx_client_url u;
    vx_error err;
    assert_int_equal(vx_client_url_parse("http://127.0.0.1:8011/vortex", &u, &err), 0);
    assert_int_equal(u.scheme, VX_URL_HTTP);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 8011);
    assert_string_equal(u.path, "/vortex");
    assert_string_equal(u.query, "");
}

static void test_url_defaults_port_80_and_scheme_path(void **state) {
    vx_client_url u;
    assert_int_equal(vx_client_url_parse("ws://example.org", &u, NULL), 0);
    assert_int_equal(u.scheme, VX_URL_WS);
    assert_string_equal(u.host, "example.org");
    assert_int_equal(u.port, 80);
    assert_string_equal(u.path, "/vortexws");
    assert_int_equal(vx_client_url_parse("HTTP://h/", &u, NULL), 0);
    assert_int_equal(u.scheme, VX_URL_HTTP);
    assert_string_equal(u.path, "/vortex");
}

static void test_url_https_wss_are_tls_with_port_443(void **state) {
    vx_client_url u;
    assert_int_equal(vx_client_url_parse("https://example.org", &u, NULL), 0);
    assert_int_equal(u.scheme, VX_URL_HTTP);
    assert_true(u.tls);
    assert_int_equal(u.port, 443);
    assert_string_equal(u.path, "/vortex");
    assert_int_equal(vx_client_url_parse("WSS://[::1]:8443", &u, NULL), 0);
    assert_int_equal(u.scheme, VX_URL_WS);
    assert_true(u.tls);
    assert_int_equal(u.port, 8443);
    assert_string_equal(u.path, "/vortexws");
    assert_int_equal(vx_client_url_parse("ws://h", &u, NULL), 0);
    assert_false(u.tls);
}

static void test_url_ipv6_and_query(void **state) {
    vx_client_url u;
    assert_int_equal(vx_client_url_parse("ws://[::1]:9/x/ws?token=a%20b#frag", &u, NULL),
                     0);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 9);
    assert_string_equal(u.path, "/x/ws");
    assert_string_equal(u.query, "token=a%20b");
}

static void test_url_errors_name_the_part(void **state) {
    static const struct {
        const char *url;
        int code;
        const char *part;
    } cases[] = {
        {"127.0.0.1:80/vortex", VX_E_INVAL, "scheme"},
        {"ftp://h/", VX_E_INVAL, "scheme"},
        {"httpss://h/", VX_E_INVAL, "scheme"},
        {"https://h:0/", VX_E_INVAL, "port"},
        {"http:///vortex", VX_E_INVAL, "host"},
        {"http://h:0/", VX_E_INVAL, "port"},
        {"http://h:65536/", VX_E_INVAL, "port"},
        {"http://h:8x/", VX_E_INVAL, "port"},
        {"http://h:/", VX_E_INVAL, "port"},
        {"http://u@h/", VX_E_INVAL, "host"},
        {"http://h o/", VX_E_INVAL, "host"},
        {"http://[::1/", VX_E_INVAL, "host"},
        {"http://h/a b", VX_E_INVAL, "path"},
        {"http://h/a?b\x01", VX_E_INVAL, "query"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        vx_client_url u;
        vx_error err;
        vx_error_clear(&err);
        int rc = vx_client_url_parse(cases[i].url, &u, &err);
        if (rc != cases[i].code || !strstr(err.message, cases[i].part)) {
            fprintf(stderr, "%s -> %d '%s'\n", cases[i].url, rc, err.message);
            fail();
        }
    }
}

static void test_url_target_percent_encodes_identity(void **state) {
    vx_client_url u;
    assert_int_equal(vx_client_url_parse("http://h:1/vortex?x=1", &u, NULL), 0);
    vx_buf b = {0};
    assert_int_equal(vx_client_url_target(&u, "ab-12", "my name/é", &b), 0);
    assert_int_equal(vx_buf_append(&b, "", 1), 0);
    assert_string_equal(b.data,
                        "/vortex?vortexUuid=ab-12&vortexName=my%20name%2F%C3%A9&x=1");
    vx_buf_free(&b);
}

/* ---- backoff -------------------------------------------------------------- */

static void test_C68_reconnect_delays_within_half_b_to_b(void **state) {
    static const double expect_b[] = {0.5, 1, 2, 4, 8, 15, 15, 15};
    uint64_t rng = 42;
    for (unsigned n = 1; n <= 8; n++) {
        double b = vx_backoff_bound(0.5, 15, n);
        assert_true(b == expect_b[n - 1]);
        double lo = b, hi = 0;
        for (int i = 0; i < 2000; i++) {
            double d = vx_backoff_delay(0.5, 15, n, &rng);
            assert_true(d >= b / 2 && d <= b);
            if (d < lo) lo = d;
            if (d > hi) hi = d;
        }
        /* Jitter really spreads over the interval (not a constant). */
        assert_true(lo < b / 2 + b * 0.05);
        assert_true(hi > b - b * 0.05);
    }
    /* Huge n does not overflow past the cap. */
    assert_true(vx_backoff_bound(0.5, 15, 5000) == 15);
}

static void test_C68_seeded_sequence_is_reproducible(void **state) {
    uint64_t a = 7, b = 7, c = 8;
    double da = vx_backoff_delay(0.5, 15, 3, &a), db = vx_backoff_delay(0.5, 15, 3, &b);
    double dc = vx_backoff_delay(0.5, 15, 3, &c);
    assert_true(da == db);
    assert_true(da != dc);
}

/* ---- send queue ----------------------------------------------------------- */

static vx_msgbuf *msg_of(const char *s) {
    vx_msgbuf *m = vx_msgbuf_new(s, strlen(s));
    assert_non_null(m);
    return m;
}

static void test_C69_queue_overflow_fails_and_keeps_order(void **state) {
    vx_sendq q = {0};
    /* max 12 bytes: "aaa." "bbb." "ccc." fit exactly, "d." does not. */
    const char *names[] = {"aaa", "bbb", "ccc"};
    for (int i = 0; i < 3; i++) {
        vx_msgbuf *m = msg_of(names[i]);
        assert_int_equal(vx_sendq_push(&q, m, 12, 0), 0);
        vx_msgbuf_decref(m);
    }
    assert_int_equal(q.bytes, 12);
    vx_msgbuf *d = msg_of("d");
    assert_int_equal(vx_sendq_push(&q, d, 12, 0), VX_E_QUEUE_FULL);
    assert_int_equal(d->refcount, 1); /* not taken */
    assert_int_equal(q.count, 3);
    /* Bytes busy in a transport count too. */
    vx_msgbuf *a = vx_sendq_pop(&q);
    assert_string_equal(a->data, "aaa");
    assert_int_equal(vx_sendq_push(&q, d, 12, 4), VX_E_QUEUE_FULL);
    assert_int_equal(vx_sendq_push(&q, d, 12, 2), 0);
    /* A failed hand-over goes back to the front, before everything else. */
    assert_int_equal(vx_sendq_push_front(&q, &a, 1), 0);
    const char *order[] = {"aaa", "bbb", "ccc", "d"};
    for (int i = 0; i < 4; i++) {
        vx_msgbuf *m = vx_sendq_pop(&q);
        assert_non_null(m);
        assert_string_equal(m->data, order[i]);
        vx_msgbuf_decref(m);
    }
    assert_null(vx_sendq_pop(&q));
    assert_int_equal(q.bytes, 0);
    vx_msgbuf_decref(d);
    vx_sendq_clear(&q);
}

static void test_C69_single_large_msg_into_empty_queue(void **state) {
    vx_sendq q = {0};
    vx_msgbuf *big = msg_of("0123456789");
    assert_int_equal(vx_sendq_push(&q, big, 4, 0), 0); /* empty: accepted */
    assert_int_equal(vx_sendq_push(&q, big, 4, 0), VX_E_QUEUE_FULL);
    vx_sendq_clear(&q);
    /* Not when a transport still holds bytes. */
    assert_int_equal(vx_sendq_push(&q, big, 4, 1), VX_E_QUEUE_FULL);
    assert_int_equal(big->refcount, 1);
    vx_msgbuf_decref(big);
    vx_sendq_clear(&q);
}

static void test_sendq_ring_wraps_and_grows(void **state) {
    vx_sendq q = {0};
    char s[16];
    int next_in = 0, next_out = 0;
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 7; i++) {
            snprintf(s, sizeof s, "%d", next_in++);
            vx_msgbuf *m = msg_of(s);
            assert_int_equal(vx_sendq_push(&q, m, SIZE_MAX, 0), 0);
            vx_msgbuf_decref(m);
        }
        for (int i = 0; i < 5; i++) {
            vx_msgbuf *m = vx_sendq_pop(&q);
            snprintf(s, sizeof s, "%d", next_out++);
            assert_string_equal(m->data, s);
            vx_msgbuf_decref(m);
        }
    }
    assert_int_equal(q.count, (size_t)(next_in - next_out));
    vx_sendq_clear(&q);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_http_with_port_and_path),
        cmocka_unit_test(test_url_defaults_port_80_and_scheme_path),
        cmocka_unit_test(test_url_https_wss_are_tls_with_port_443),
        cmocka_unit_test(test_url_ipv6_and_query),
        cmocka_unit_test(test_url_errors_name_the_part),
        cmocka_unit_test(test_url_target_percent_encodes_identity),
        cmocka_unit_test(test_C68_reconnect_delays_within_half_b_to_b),
        cmocka_unit_test(test_C68_seeded_sequence_is_reproducible),
        cmocka_unit_test(test_C69_queue_overflow_fails_and_keeps_order),
        cmocka_unit_test(test_C69_single_large_msg_into_empty_queue),
        cmocka_unit_test(test_sendq_ring_wraps_and_grows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
