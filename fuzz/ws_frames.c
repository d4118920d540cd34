/* Fuzz the WebSocket server after the 101 (PROTOCOL §10, RFC 6455): the
 * frame guard of ws_frame.c alone, against a reference model, and then the
 * whole receive path of ws_server.c (guard, wslay, reassembly, UTF-8, vortex
 * decode and routing, PING/PONG, close echo) on a real vx_node.
 *
 * Input: one option byte, then the client's byte stream, cut into separate
 * writes at each "\xfe\xff" (NET_CUT).
 *   bits 0-1  max_msg_bytes: 16 MiB, 240, 300, 4096 (the guard's limit is one
 *             more, §10.2; the node's hello, about 230 bytes, must fit)
 *   bit 2     the first piece is "leftover": bytes the HTTP parser read past
 *             the upgrade request, handed to vx_ws_server_start
 *   bit 3     half-close our side (EOF) after the input
 *   bit 4     vx_node_shutdown after the input (close 1001)
 *   bit 5     a second WebSocket with the same vortexUuid after the input
 *             (the first is closed 1000 "replaced")
 *   bit 6     the node sends a payload to this remote after each piece
 *   bit 7     write each piece in 3-byte drips, settling between
 *
 * Guard invariants: whatever the chunking (whole, byte by byte, cycling
 * sizes), the guard stops at the byte and with the close code (1002, 1007 or
 * 1009) of a straightforward model of RFC 6455 §5.2 and §10.2, never hands
 * over the bytes of a next frame in the same call, and is idle exactly when
 * the model has no frame or fragmented message open.
 *
 * Server invariants (besides no crash, leak or UB, and every handle closed):
 * the output is well-formed server frames (unmasked, FIN, minimal lengths,
 * text frames holding one msg and no '.', the first the hello) with at most
 * one close, last, carrying an RFC 6455 code (fuzz_net.h); a guard violation
 * in a stream holding no Close frame before it is answered with a close
 * frame with the guard's code; the second connection of bit 5 also starts
 * with the hello and the first ends with 1000 if it was still open. */
#include <stdlib.h>

#include "fuzz_net.h"
#include "transport/ws_frame.h"
#include "transport/ws_server.h"

static const size_t max_msgs[4] = {16u << 20, 240, 300, 4096};

/* ---- the guard against a model -------------------------------------------- */

typedef struct model_result {
    size_t stop;                /* bytes accepted before a violation, or n */
    uint16_t code;              /* 0, 1002, 1007 or 1009 */
    bool idle;                  /* no frame or message open at the end (no violation) */
    size_t close_frames_before; /* client Close frames wholly before `stop` */
} model_result;

static model_result model(const uint8_t *b, size_t n, uint64_t max_msg) {
    model_result r = {.stop = n};
    size_t p = 0;
    bool in_msg = false;
    uint64_t msg_len = 0;
#define VIOLATION(at, c)                                                                   \
    do {                                                                                   \
        r.stop = (at);                                                                     \
        r.code = (c);                                                                      \
        return r;                                                                          \
    } while (0)
    while (p < n) {
        uint8_t b0 = b[p], op = b0 & 0x0F;
        bool fin = b0 & 0x80, control = op >= 8;
        if (b0 & 0x70) VIOLATION(p, 1002);
        if (!(op <= 2 || (op >= 8 && op <= 10))) VIOLATION(p, 1002);
        if (control && !fin) VIOLATION(p, 1002);
        if (op == 0 && !in_msg) VIOLATION(p, 1002);
        if ((op == 1 || op == 2) && in_msg) VIOLATION(p, 1002);
        if (p + 1 >= n) return r; /* header cut short: not idle */
        uint8_t b1 = b[p + 1], len7 = b1 & 0x7F;
        if (!(b1 & 0x80)) VIOLATION(p + 1, 1002);
        if (control && len7 > 125) VIOLATION(p + 1, 1002);
        size_t hdr = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
        /* A bad length is found at its last byte (wslay checks it before
         * reading the mask key), the size limit once the header is in. */
        size_t ext = hdr - 6;
        if (ext > n - p - 2) return r;
        uint64_t len = len7;
        if (len7 == 126) {
            len = (uint64_t)b[p + 2] << 8 | b[p + 3];
            if (len < 126) VIOLATION(p + 1 + ext, 1002);
        } else if (len7 == 127) {
            len = 0;
            for (int k = 0; k < 8; k++) len = len << 8 | b[p + 2 + k];
            if (len >> 63 || len <= 0xFFFF) VIOLATION(p + 1 + ext, 1002);
        }
        if (hdr > n - p) return r;
        if (!control) {
            uint64_t before = op == 0 ? msg_len : 0;
            if (len > max_msg || before > max_msg - len) VIOLATION(p + hdr - 1, 1009);
            msg_len = before + len;
            in_msg = !fin;
        }
        p += hdr;
        if (len > n - p) return r; /* payload cut short */
        if (op == 8 && len > 0) {  /* Close: judged at its last byte */
            uint8_t pl[125];
            for (size_t k = 0; k < len; k++) pl[k] = b[p + k] ^ b[p - 4 + (k & 3)];
            size_t last = p + (size_t)len - 1;
            if (len == 1) VIOLATION(last, 1002);
            if (!net_close_code_ok((unsigned)pl[0] << 8 | pl[1])) VIOLATION(last, 1002);
            if (!vx_utf8_valid((const char *)pl + 2, (size_t)len - 2))
                VIOLATION(last, 1007);
        }
        p += (size_t)len;
        if (op == 8) r.close_frames_before++;
    }
#undef VIOLATION
    r.idle = !in_msg;
    return r;
}

/* Feed b[0..n) (a private copy: the guard rewrites text opcodes) in chunks
 * of the sizes `next` gives, and compare with the model. */
static void guard_pass(const uint8_t *b, size_t n, uint64_t max_msg, const model_result *m,
                       size_t (*next)(size_t *state), const char *what) {
    uint8_t *buf = malloc(n ? n : 1);
    FUZZ_CHECK(buf != NULL, "malloc");
    if (n) memcpy(buf, b, n);
    vx_ws_guard g;
    vx_ws_guard_init(&g, max_msg);
    FUZZ_CHECK(vx_ws_guard_idle(&g), "%s: fresh guard not idle", what);
    size_t off = 0, state = 0;
    while (off < n && !g.close_code) {
        size_t step = next(&state);
        if (step > n - off) step = n - off;
        size_t end = off + step;
        while (off < end) {
            size_t k = vx_ws_guard_scan(&g, buf + off, end - off);
            FUZZ_CHECK(k <= end - off, "%s: scan returned %zu of %zu", what, k, end - off);
            off += k;
            if (g.close_code) break;
            FUZZ_CHECK(k > 0, "%s: scan took nothing without a violation at %zu", what,
                       off);
            /* Stopped early only at a frame end (wslay must not see two). */
            if (off < end)
                FUZZ_CHECK(!g.in_payload && g.hdr_len == 0,
                           "%s: scan stopped inside a frame at %zu", what, off);
        }
    }
    FUZZ_CHECK(g.close_code == m->code, "%s: guard code %u, model %u (at %zu/%zu)", what,
               g.close_code, m->code, off, m->stop);
    FUZZ_CHECK(off == m->stop, "%s: guard stopped at %zu, model at %zu", what, off,
               m->stop);
    if (g.close_code) {
        FUZZ_CHECK(g.reason && *g.reason && strlen(g.reason) <= 123, "%s: bad reason",
                   what);
        FUZZ_CHECK(vx_ws_guard_scan(&g, buf, n) == 0, "%s: scan after a violation", what);
        FUZZ_CHECK(!vx_ws_guard_idle(&g), "%s: idle after a violation", what);
    } else {
        FUZZ_CHECK(vx_ws_guard_idle(&g) == m->idle, "%s: idle %d, model %d", what,
                   vx_ws_guard_idle(&g), m->idle);
    }
    /* Text opcodes (and only they) became binary. */
    free(buf);
}

static size_t step_all(size_t *s) {
    (void)s;
    return SIZE_MAX;
}
static size_t step_one(size_t *s) {
    (void)s;
    return 1;
}
static size_t step_cycle(size_t *s) {
    static const size_t sizes[] = {3, 1, 7, 2, 13, 5, 64, 1, 1, 9};
    return sizes[(*s)++ % (sizeof sizes / sizeof sizes[0])];
}

static void fuzz_guard(const uint8_t *b, size_t n, uint64_t max_msg, model_result *m) {
    *m = model(b, n, max_msg);
    guard_pass(b, n, max_msg, m, step_all, "one scan");
    guard_pass(b, n, max_msg, m, step_cycle, "cycling chunks");
    if (n <= 4096) guard_pass(b, n, max_msg, m, step_one, "byte by byte");
}

/* ---- the server ------------------------------------------------------------- */

#define UUID "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"

static void open_ws(uv_loop_t *loop, vx_node *node, net_peer *peer, const char *leftover,
                    size_t leftover_len) {
    int sv[2];
    net_socketpair(sv);
    uv_tcp_t *tcp = malloc(sizeof *tcp);
    FUZZ_CHECK(tcp != NULL, "malloc");
    uv_tcp_init(loop, tcp);
    FUZZ_CHECK(uv_tcp_open(tcp, sv[0]) == 0, "uv_tcp_open");
    *peer = (net_peer){.fd = sv[1]};
    int rc =
        vx_ws_server_start(node, tcp, "fuzz:1", UUID, "fuzzclient", leftover, leftover_len);
    FUZZ_CHECK(rc == 0, "vx_ws_server_start: %d", rc);
}

static void send_to_client(vx_node *node, int i) {
    vx_payload *p = vx_payload_new();
    vx_payload_set_filt_new(p, vx_dict());
    vx_dict_set_new(vx_payload_filt(p), "key", vx_str("news"));
    vx_dict_set_new(vx_payload_filt(p), "i", vx_int(i));
    int rc = vx_node_send_uuid(node, UUID, p, NULL);
    (void)rc; /* VX_E_NO_SUCH_VORTEX once the socket closed */
    vx_payload_decref(p);
}

static void on_shutdown_done(void *data) {
    *(bool *)data = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t opt = data[0];
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    size_t max_msg = max_msgs[opt & 3];

    /* The client's stream as the server sees it: the pieces joined. */
    uint8_t *stream = malloc(len ? len : 1);
    FUZZ_CHECK(stream != NULL, "malloc");
    size_t slen = 0;
    for (size_t s = 0; s <= len;) {
        const char *cut = memmem(in + s, len - s, NET_CUT, NET_CUT_LEN);
        size_t e = cut ? (size_t)(cut - in) : len;
        memcpy(stream + slen, in + s, e - s);
        slen += e - s;
        if (!cut) break;
        s = e + NET_CUT_LEN;
    }
    model_result m;
    fuzz_guard(stream, slen, (uint64_t)max_msg + 1, &m);
    free(stream);

    uv_loop_t *loop = net_loop();
    vx_node_opts o;
    vx_node_opts_init(&o);
    o.name = "fuzzsrv";
    o.uuid = "11111111-2222-4333-8444-555555555555";
    o.codec.registry = fuzz_registry();
    o.codec.max_msg_bytes = max_msg;
    vx_error err;
    vx_node *node = vx_node_new(loop, &o, &err);
    FUZZ_CHECK(node != NULL, "vx_node_new: %s", err.message);
    net_quiet(node);
    net_add_echo(node, "echo");

    net_peer peer, second = {.fd = -1};
    size_t s = 0;
    int piece = 0;
    const char *cut = memmem(in, len, NET_CUT, NET_CUT_LEN);
    if (opt & 4) {
        /* The first piece arrives with the handshake. */
        size_t e = cut ? (size_t)(cut - in) : len;
        open_ws(loop, node, &peer, in, e);
        s = cut ? e + NET_CUT_LEN : len + 1;
        piece++;
    } else {
        open_ws(loop, node, &peer, NULL, 0);
    }
    net_settle(loop, &peer);
    while (s <= len) {
        cut = memmem(in + s, len - s, NET_CUT, NET_CUT_LEN);
        size_t e = cut ? (size_t)(cut - in) : len;
        net_write_piece(loop, &peer, in + s, e - s, opt & 0x80 ? 3 : 0);
        net_settle(loop, &peer);
        if (opt & 0x40) {
            send_to_client(node, piece);
            net_settle(loop, &peer);
        }
        piece++;
        if (!cut) break;
        s = e + NET_CUT_LEN;
    }

    net_ws_stats before =
        net_check_ws_output(node, (const uint8_t *)peer.out.data, peer.out.len, true);
    if (opt & 0x20) {
        open_ws(loop, node, &second, NULL, 0);
        net_settle(loop, &second);
        net_settle(loop, &peer);
    }
    if (opt & 8) shutdown(peer.fd, SHUT_WR);
    bool shut_done = false;
    if (opt & 0x10) vx_node_shutdown(node, on_shutdown_done, &shut_done);
    net_settle(loop, &peer);
    if (second.fd >= 0) net_settle(loop, &second);
    net_settle(loop, &peer);

    if (getenv("FUZZ_NET_DUMP")) {
        fprintf(stderr, "---- server wrote %zu bytes (model: stop %zu code %u):\n",
                peer.out.len, m.stop, m.code);
        for (size_t k = 0; k < peer.out.len; k++)
            fprintf(stderr, "%02x%s", (unsigned char)peer.out.data[k],
                    k % 32 == 31 ? "\n" : " ");
        fprintf(stderr, "\n----\n");
    }
    net_ws_stats st =
        net_check_ws_output(node, (const uint8_t *)peer.out.data, peer.out.len, true);
    if (m.code && m.close_frames_before == 0 && before.closes == 0 && !(opt & 8)) {
        /* Nothing else could have ended the connection first except invalid
         * UTF-8 in a text message (1007) or a Close wslay rejected. */
        FUZZ_CHECK(st.closes == 1, "guard violation %u not answered by a close frame",
                   m.code);
    }
    if (m.code && m.close_frames_before == 0 && before.closes == 1 &&
        before.close_code != 1007)
        FUZZ_CHECK(before.close_code == m.code, "guard violation %u closed with %u", m.code,
                   before.close_code);
    if (opt & 0x20) {
        net_ws_stats st2 = net_check_ws_output(node, (const uint8_t *)second.out.data,
                                               second.out.len, true);
        FUZZ_CHECK(st2.texts >= 1 || second.eof, "second connection got no hello");
        if (before.closes == 0 && !peer.eof && !(opt & 8))
            FUZZ_CHECK(st.closes == 1 && st.close_code == 1000,
                       "open connection taken over closed with %u (%zu closes)",
                       st.close_code, st.closes);
        net_close(&second);
        vx_buf_free(&second.out);
    }
    net_close(&peer);
    vx_buf_free(&peer.out);
    net_free_node(loop, node);
    return 0;
}
