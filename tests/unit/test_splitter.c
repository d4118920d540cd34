/* '.'-delimited stream splitting (PROTOCOL §2.3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <vortexc/codec.h>

/* Everything the callback saw, flattened to one string:
 * "[A][B][]" for items, "<TOO_BIG n>" for abandoned ones. */
typedef struct {
    char log[8192];
    size_t len;
    int calls;
    const char *last_ptr; /* item pointer of the latest call */
    vx_splitter *self;    /* for the re-entrancy tests */
    int reentry_rc;
    bool free_in_cb;
} rec;

static void on_item(void *data, int status, const char *item, size_t len) {
    rec *r = data;
    r->calls++;
    r->last_ptr = item;
    if (status == 0) {
        assert_non_null(item);
        r->len += (size_t)snprintf(r->log + r->len, sizeof r->log - r->len, "[%.*s]",
                                   (int)len, item);
    } else {
        assert_int_equal(status, VX_E_MSG_TOO_BIG);
        assert_null(item);
        r->len +=
            (size_t)snprintf(r->log + r->len, sizeof r->log - r->len, "<TOO_BIG %zu>", len);
    }
    if (r->self) {
        r->reentry_rc = vx_splitter_feed(r->self, "X.", 2);
        if (r->free_in_cb) vx_splitter_free(r->self);
    }
}

static void feed_str(vx_splitter *s, const char *str) {
    assert_int_equal(vx_splitter_feed(s, str, strlen(str)), 0);
}

static void test_C43_stream_A_dot_B_dot_yields_A_then_B(void **state) {
    rec r = {0};
    vx_splitter *s = vx_splitter_new(100, on_item, &r);
    assert_non_null(s);
    feed_str(s, "A.B.");
    assert_string_equal(r.log, "[A][B]");
    assert_int_equal(vx_splitter_pending(s), 0);
    assert_int_equal(vx_splitter_finish(s, true), 0);
    assert_int_equal(r.calls, 2);
    vx_splitter_free(s);
}

static void test_splitter_whole_items_are_not_copied(void **state) {
    rec r = {0};
    vx_splitter *s = vx_splitter_new(100, on_item, &r);
    const char buf[] = "hello.world.";
    assert_int_equal(vx_splitter_feed(s, buf, 12), 0);
    assert_ptr_equal(r.last_ptr, buf + 6);
    vx_splitter_free(s);
}

/* Every split point (and every pair of split points) of a stream gives the
 * same items as one feed. */
static void test_splitter_every_split_point_identical(void **state) {
    const char *stream = "eNo1jt.abc+/==..x.yz.0123456789.";
    size_t n = strlen(stream);
    const char *expect = "[eNo1jt][abc+/==][][x][yz][0123456789]";
    for (size_t i = 0; i <= n; i++) {
        for (size_t j = i; j <= n; j++) {
            rec r = {0};
            vx_splitter *s = vx_splitter_new(64, on_item, &r);
            assert_int_equal(vx_splitter_feed(s, stream, i), 0);
            assert_int_equal(vx_splitter_feed(s, stream + i, j - i), 0);
            assert_int_equal(vx_splitter_feed(s, stream + j, n - j), 0);
            assert_string_equal(r.log, expect);
            assert_int_equal(vx_splitter_finish(s, true), 0);
            vx_splitter_free(s);
        }
    }
}

static void test_splitter_one_byte_feeds(void **state) {
    const char *stream = "first.second..third.";
    rec r = {0};
    vx_splitter *s = vx_splitter_new(64, on_item, &r);
    for (size_t i = 0; stream[i]; i++) {
        assert_int_equal(vx_splitter_feed(s, stream + i, 1), 0);
        if (stream[i] == 'c') assert_int_equal(vx_splitter_pending(s), 3); /* "sec" */
    }
    assert_string_equal(r.log, "[first][second][][third]");
    vx_splitter_free(s);
}

static void test_splitter_heartbeat_empty_items(void **state) {
    rec r = {0};
    vx_splitter *s = vx_splitter_new(64, on_item, &r);
    feed_str(s, ".");   /* '.' at the start of a stream */
    feed_str(s, "A.."); /* two adjacent delimiters */
    feed_str(s, "B");
    feed_str(s, "..");
    assert_string_equal(r.log, "[][A][][B][]");
    assert_int_equal(r.calls, 5);
    vx_splitter_free(s);
}

/* An item past the limit is reported once and skipped through its '.', in
 * one feed or spread over many; the next item still arrives. */
static void test_splitter_overlong_item_abandoned_next_delivered(void **state) {
    /* Limit 5: "12345" fits, "123456" does not. */
    rec r = {0};
    vx_splitter *s = vx_splitter_new(5, on_item, &r);
    feed_str(s, "12345.123456.ok.");
    assert_string_equal(r.log, "[12345]<TOO_BIG 6>[ok]");

    /* Spread over feeds: the abandon happens as soon as it grows too big,
     * and nothing of it is held. */
    rec r2 = {0};
    vx_splitter *s2 = vx_splitter_new(5, on_item, &r2);
    feed_str(s2, "abc");
    assert_int_equal(vx_splitter_pending(s2), 3);
    feed_str(s2, "def");
    assert_string_equal(r2.log, "<TOO_BIG 6>");
    assert_int_equal(vx_splitter_pending(s2), 0);
    feed_str(s2, "ghijklmnopqrstuvwxyz");
    feed_str(s2, "more");
    assert_int_equal(vx_splitter_pending(s2), 0);
    assert_int_equal(r2.calls, 1);
    feed_str(s2, "zz.next.");
    assert_string_equal(r2.log, "<TOO_BIG 6>[next]");

    /* Head held, then the rest arrives with its '.' and is too long. */
    rec r3 = {0};
    vx_splitter *s3 = vx_splitter_new(5, on_item, &r3);
    feed_str(s3, "abcd");
    feed_str(s3, "ef.g.");
    assert_string_equal(r3.log, "<TOO_BIG 6>[g]");
    /* Exactly the limit across feeds is fine. */
    feed_str(s3, "abc");
    feed_str(s3, "de.");
    assert_string_equal(r3.log, "<TOO_BIG 6>[g][abcde]");

    vx_splitter_free(s);
    vx_splitter_free(s2);
    vx_splitter_free(s3);
}

static void test_splitter_finish_with_and_without_deliver_final(void **state) {
    rec r = {0};
    vx_splitter *s = vx_splitter_new(64, on_item, &r);
    feed_str(s, "A.B");
    assert_int_equal(vx_splitter_pending(s), 1);
    assert_int_equal(vx_splitter_finish(s, true), 1);
    assert_string_equal(r.log, "[A][B]");
    assert_int_equal(vx_splitter_pending(s), 0);

    /* The splitter takes a new stream; without deliver_final the tail is
     * dropped but its length still reported. */
    feed_str(s, "C.DD");
    assert_int_equal(vx_splitter_finish(s, false), 2);
    assert_string_equal(r.log, "[A][B][C]");

    /* Nothing pending: 0, no call. */
    feed_str(s, "E.");
    assert_int_equal(vx_splitter_finish(s, true), 0);
    assert_string_equal(r.log, "[A][B][C][E]");

    /* A new stream after finish does not see the old tail. */
    feed_str(s, "F");
    vx_splitter_finish(s, false);
    feed_str(s, "G.");
    assert_string_equal(r.log, "[A][B][C][E][G]");
    vx_splitter_free(s);
}

/* Feeding from inside the callback is refused and does not disturb the
 * items still to come. */
static void test_splitter_callback_cannot_reenter(void **state) {
    rec r = {0};
    vx_splitter *s = vx_splitter_new(64, on_item, &r);
    r.self = s;
    feed_str(s, "ab");
    feed_str(s, "c.d.e");
    assert_int_equal(r.reentry_rc, VX_E_INVAL);
    assert_int_equal(vx_splitter_finish(s, true), 1);
    assert_string_equal(r.log, "[abc][d][e]");
    vx_splitter_free(s);
}

/* Freeing from inside the callback stops delivery and takes effect when
 * the feed returns (ASan/valgrind check there is no use after free). */
static void test_splitter_free_inside_callback(void **state) {
    rec r = {0};
    vx_splitter *s = vx_splitter_new(64, on_item, &r);
    feed_str(s, "ab");
    r.self = s;
    r.free_in_cb = true;
    assert_int_equal(vx_splitter_feed(s, "c.d.e.", 6), 0);
    assert_string_equal(r.log, "[abc]");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_C43_stream_A_dot_B_dot_yields_A_then_B),
        cmocka_unit_test(test_splitter_whole_items_are_not_copied),
        cmocka_unit_test(test_splitter_every_split_point_identical),
        cmocka_unit_test(test_splitter_one_byte_feeds),
        cmocka_unit_test(test_splitter_heartbeat_empty_items),
        cmocka_unit_test(test_splitter_overlong_item_abandoned_next_delivered),
        cmocka_unit_test(test_splitter_finish_with_and_without_deliver_final),
        cmocka_unit_test(test_splitter_callback_cannot_reenter),
        cmocka_unit_test(test_splitter_free_inside_callback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
