/* WebSocket server pieces that need no network (PROTOCOL §10): the
 * Sec-WebSocket-Accept key, the server frame header, and the guard that
 * checks client frames before wslay sees them. The connection behaviour
 * itself (C-57..C-65) is exercised against a live server by tests/wire. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "transport/ws_frame.h"
#include "transport/ws_server.h"

/* ---- helpers: client frames (masked) ------------------------------------ */

typedef struct {
    uint8_t b[1 << 17];
    size_t len;
} wire;

/* Append one client frame; `first` is the whole first byte (FIN, RSV, opcode),
 * `masked` false makes it unmasked. Lengths use the minimal encoding unless
 * `len_form` forces 126 or 127. */
static void frame_ex(wire *w, uint8_t first, bool masked, const void *payload, size_t len,
                     int len_form) {
    static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    uint8_t *p = w->b + w->len;
    size_t h = 0;
    p[h++] = first;
    uint8_t m = masked ? 0x80 : 0;
    int form = len_form ? len_form : len < 126 ? 0 : len <= 0xFFFF ? 126 : 127;
    if (form == 0) {
        p[h++] = m | (uint8_t)len;
    } else if (form == 126) {
        p[h++] = m | 126;
        p[h++] = (uint8_t)(len >> 8);
        p[h++] = (uint8_t)len;
    } else {
        p[h++] = m | 127;
        for (int i = 0; i < 8; i++) p[h++] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
    }
    if (masked) {
        memcpy(p + h, key, 4);
        h += 4;
    }
    const uint8_t *src = payload;
    for (size_t i = 0; i < len; i++) p[h + i] = masked ? src[i] ^ key[i % 4] : src[i];
    w->len += h + len;
}

static void frame(wire *w, uint8_t first, const char *payload) {
    frame_ex(w, first, true, payload, strlen(payload), 0);
}

/* Scan the whole wire as a receiver would, call after call; returns the bytes
 * let through (stopping at a violation) and counts the calls. */
static size_t scan_all(vx_ws_guard *g, wire *w, size_t step, int *calls) {
    size_t off = 0;
    *calls = 0;
    while (off < w->len) {
        size_t n = w->len - off < step ? w->len - off : step;
        size_t k = vx_ws_guard_scan(g, w->b + off, n);
        (*calls)++;
        if (k == 0) break;
        off += k;
    }
    return off;
}

static wire W;

/* ---- Sec-WebSocket-Accept ------------------------------------------------ */

static void test_ws_accept_key_rfc6455_vector(void **state) {
    char out[29];
    memset(out, 'x', sizeof out);
    /* RFC 6455 §1.3 (its exact text; the accept is not "...GzxZlgbQhRBo="). */
    const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
    vx_ws_accept_key(key, strlen(key), out);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    key = "x3JJHMbDL1EzLkh9GBhXDw==";
    vx_ws_accept_key(key, strlen(key), out);
    assert_string_equal(out, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
    /* Only key_len bytes are hashed. */
    vx_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==garbage", 24, out);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

/* ---- server frames -------------------------------------------------------- */

static void test_C58_server_frame_is_unmasked_fin_text(void **state) {
    uint8_t h[VX_WS_MAX_HEADER];
    assert_int_equal(vx_ws_frame_header(h, VX_WS_OP_TEXT, 0), 2);
    assert_int_equal(h[0], 0x81);
    assert_int_equal(h[1], 0x00);
    assert_int_equal(vx_ws_frame_header(h, VX_WS_OP_TEXT, 125), 2);
    assert_int_equal(h[1], 125);
    assert_int_equal(vx_ws_frame_header(h, VX_WS_OP_TEXT, 126), 4);
    assert_int_equal(h[0], 0x81);
    assert_int_equal(h[1], 126);
    assert_int_equal(h[2], 0);
    assert_int_equal(h[3], 126);
    assert_int_equal(vx_ws_frame_header(h, VX_WS_OP_TEXT, 65535), 4);
    assert_int_equal(h[2], 0xFF);
    assert_int_equal(h[3], 0xFF);
    assert_int_equal(vx_ws_frame_header(h, VX_WS_OP_TEXT, 65536), 10);
    assert_int_equal(h[1], 127);
    const uint8_t len65536[8] = {0, 0, 0, 0, 0, 1, 0, 0};
    assert_memory_equal(h + 2, len65536, 8);
    assert_int_equal(vx_ws_frame_header(h, VX_WS_OP_CLOSE, 10), 2);
    assert_int_equal(h[0], 0x88);
    for (uint64_t n = 0; n < 70000; n += 997)
        assert_int_equal(vx_ws_frame_header(h, VX_WS_OP_TEXT, n), vx_ws_header_len(n));
}

/* ---- the guard ------------------------------------------------------------- */

static void test_C59_text_and_binary_frames_pass_and_text_is_remembered(void **state) {
    vx_ws_guard g;
    vx_ws_guard_init(&g, 100);
    W.len = 0;
    frame(&W, 0x81, "abc.");
    size_t first = W.len;
    frame(&W, 0x82, "xyz");
    /* One frame per call: the scan stops at the end of the text frame. */
    assert_int_equal(vx_ws_guard_scan(&g, W.b, W.len), first);
    assert_true(g.msg_text);
    assert_int_equal(W.b[0], 0x82); /* handed to wslay as binary */
    assert_true(vx_ws_guard_idle(&g));
    assert_int_equal(vx_ws_guard_scan(&g, W.b + first, W.len - first), W.len - first);
    assert_false(g.msg_text);
    assert_int_equal(g.close_code, 0);
    assert_true(vx_ws_guard_idle(&g));
}

static void test_C61_fragments_with_interleaved_ping_pass(void **state) {
    vx_ws_guard g;
    vx_ws_guard_init(&g, 9);
    W.len = 0;
    frame(&W, 0x01, "abc"); /* text, FIN clear */
    frame(&W, 0x89, "hi");  /* PING between fragments */
    frame(&W, 0x00, "def"); /* continuation */
    frame(&W, 0x8A, "");    /* unsolicited PONG */
    frame(&W, 0x80, "ghi"); /* final continuation: 9 bytes in all, the limit */
    for (size_t step = 1; step <= W.len; step += 5) {
        wire copy = W;
        vx_ws_guard_init(&g, 9);
        size_t off = 0;
        bool mid = false;
        while (off < copy.len) {
            size_t n = copy.len - off < step ? copy.len - off : step;
            size_t k = vx_ws_guard_scan(&g, copy.b + off, n);
            assert_true(k > 0);
            off += k;
            if (off < copy.len && !vx_ws_guard_idle(&g)) mid = true;
        }
        assert_int_equal(off, copy.len);
        assert_true(mid);
        assert_int_equal(g.close_code, 0);
        assert_true(g.msg_text);
        assert_int_equal(g.msg_len, 9);
        assert_true(vx_ws_guard_idle(&g));
    }
    int calls;
    vx_ws_guard_init(&g, 9);
    wire copy = W;
    assert_int_equal(scan_all(&g, &copy, copy.len, &calls), W.len);
    assert_int_equal(calls, 5); /* never past a frame's end */
}

static void expect_violation(wire *w, size_t ok_bytes, uint64_t max, uint16_t code,
                             const char *reason_part) {
    vx_ws_guard g;
    vx_ws_guard_init(&g, max);
    int calls;
    /* Whole and byte by byte: the guard lets through exactly the bytes before
     * the one that reveals the violation, and nothing after it. */
    for (size_t step = 1; step <= w->len; step = step == 1 ? w->len : w->len + 1) {
        wire copy = *w;
        vx_ws_guard_init(&g, max);
        size_t passed = scan_all(&g, &copy, step, &calls);
        assert_int_equal(passed, ok_bytes);
        assert_int_equal(g.close_code, code);
        assert_non_null(strstr(g.reason, reason_part));
        assert_int_equal(vx_ws_guard_scan(&g, copy.b + passed, copy.len - passed), 0);
        assert_false(vx_ws_guard_idle(&g));
    }
}

static void test_C62_unmasked_client_frame_closes_1002(void **state) {
    W.len = 0;
    frame(&W, 0x81, "ok");
    size_t good = W.len;
    frame_ex(&W, 0x81, false, "bad", 3, 0);
    expect_violation(&W, good + 1, 100, 1002, "unmasked");
}

static void test_C62_message_over_max_msg_bytes_plus_1_closes_1009(void **state) {
    /* The guard gets max_msg_bytes + 1: exactly that passes, one more fails. */
    static char big[70000];
    memset(big, 'A', sizeof big);
    vx_ws_guard g;
    int calls;
    W.len = 0;
    frame_ex(&W, 0x81, true, big, 65537, 0);
    wire copy = W;
    vx_ws_guard_init(&g, 65537);
    assert_int_equal(scan_all(&g, &copy, copy.len, &calls), W.len);
    assert_int_equal(g.close_code, 0);

    W.len = 0;
    frame_ex(&W, 0x81, true, big, 65538, 0);
    expect_violation(&W, 13, 65537, 1009, "too big");

    /* The limit is on the reassembled message, not on each fragment. */
    W.len = 0;
    frame_ex(&W, 0x02, true, big, 40000, 0);
    size_t first = W.len;
    frame_ex(&W, 0x80, true, big, 30000, 0);
    expect_violation(&W, first + 7, 65537, 1009, "too big");
}

static void test_C62_rfc6455_violations_close_1002(void **state) {
    /* RSV bits (no extension is negotiated). */
    W.len = 0;
    frame(&W, 0xC1, "x");
    expect_violation(&W, 0, 100, 1002, "reserved bits");
    /* Reserved opcodes, data (3) and control (0xB). */
    W.len = 0;
    frame(&W, 0x83, "x");
    expect_violation(&W, 0, 100, 1002, "reserved opcode");
    W.len = 0;
    frame(&W, 0x8B, "x");
    expect_violation(&W, 0, 100, 1002, "reserved opcode");
    /* A fragmented control frame. */
    W.len = 0;
    frame(&W, 0x09, "x");
    expect_violation(&W, 0, 100, 1002, "fragmented control");
    /* A control frame over 125 bytes. */
    static char p[200];
    memset(p, 'p', sizeof p);
    W.len = 0;
    frame_ex(&W, 0x89, true, p, 126, 0);
    expect_violation(&W, 1, 100, 1002, "control frame too big");
    /* Continuation without start. */
    W.len = 0;
    frame(&W, 0x80, "x");
    expect_violation(&W, 0, 100, 1002, "continuation without start");
    /* A new data message inside a fragmented one. */
    W.len = 0;
    frame(&W, 0x01, "a");
    size_t first = W.len;
    frame(&W, 0x81, "b");
    expect_violation(&W, first, 100, 1002, "inside a fragmented");
    /* Lengths not minimally encoded: found at the last length byte, before
     * the mask key, because wslay checks the length there and would drop the
     * connection without a close frame (found by fuzz/ws_frames.c). */
    W.len = 0;
    frame_ex(&W, 0x82, true, "abc", 3, 126);
    expect_violation(&W, 3, 100, 1002, "minimally");
    W.len = 0;
    frame_ex(&W, 0x82, true, "abc", 3, 127);
    expect_violation(&W, 9, 100, 1002, "minimally");
}

static void test_C62_huge_length_is_refused_from_the_header(void **state) {
    /* 2^63 - 1 announced: refused without waiting for the payload. */
    uint8_t f[14] = {0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF,
                     0xFF, 0xFF, 0xFF, 1,    2,    3,    4};
    vx_ws_guard g;
    vx_ws_guard_init(&g, 16u * 1024 * 1024 + 1);
    assert_int_equal(vx_ws_guard_scan(&g, f, sizeof f), 13);
    assert_int_equal(g.close_code, 1009);
    /* Over 2^63: refused at its last length byte, before wslay sees it. */
    uint8_t f2[14] = {0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
    vx_ws_guard_init(&g, 100);
    assert_int_equal(vx_ws_guard_scan(&g, f2, sizeof f2), 9);
    assert_int_equal(g.close_code, 1002);
}

static void test_C60_bare_dot_and_empty_frames_pass_the_guard(void **state) {
    vx_ws_guard g;
    vx_ws_guard_init(&g, 10);
    W.len = 0;
    frame(&W, 0x81, ".");
    frame(&W, 0x81, "");
    frame(&W, 0x88, "\x03\xe8");
    int calls;
    wire copy = W;
    assert_int_equal(scan_all(&g, &copy, copy.len, &calls), W.len);
    assert_int_equal(calls, 3);
    assert_int_equal(g.close_code, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ws_accept_key_rfc6455_vector),
        cmocka_unit_test(test_C58_server_frame_is_unmasked_fin_text),
        cmocka_unit_test(test_C59_text_and_binary_frames_pass_and_text_is_remembered),
        cmocka_unit_test(test_C60_bare_dot_and_empty_frames_pass_the_guard),
        cmocka_unit_test(test_C61_fragments_with_interleaved_ping_pass),
        cmocka_unit_test(test_C62_unmasked_client_frame_closes_1002),
        cmocka_unit_test(test_C62_message_over_max_msg_bytes_plus_1_closes_1009),
        cmocka_unit_test(test_C62_rfc6455_violations_close_1002),
        cmocka_unit_test(test_C62_huge_length_is_refused_from_the_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
