/* Helpers of the network fuzz targets (fuzz/http_request.c, ws_frames.c,
 * http_response.c): one libuv loop for the process, a fresh vx_node per
 * input (so that every input runs alone and reproduces), a socketpair whose
 * far end the target writes the input into and reads the answer from, loop
 * stepping until nothing moves, and checkers for what a server may write
 * (HTTP responses, long-poll items, WebSocket frames). Header-only, like
 * fuzz_common.h, so CMake's fuzz/<name>.c glob makes no target of it. */
#ifndef VX_FUZZ_NET_H
#define VX_FUZZ_NET_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>
#include <vortexc/node.h>

#include "fuzz_common.h"
#include "node/node_impl.h"
#include "value/value_impl.h"

/* The byte pair that cuts an input into separate writes: everything before
 * it is written and the loop run until quiet, so later bytes arrive as a
 * separate read (pipelining, partial heads, frames split across reads). It
 * is in fuzz/http.dict. */
#define NET_CUT     "\xfe\xff"
#define NET_CUT_LEN 2

static uv_loop_t *net_loop(void) {
    static uv_loop_t loop;
    static bool init;
    if (!init) {
        FUZZ_CHECK(uv_loop_init(&loop) == 0, "uv_loop_init");
        /* As every libuv program: a write to a closed peer is an error
         * return, not a signal. */
        signal(SIGPIPE, SIG_IGN);
        init = true;
    }
    return &loop;
}

/* No log lines: a fresh node per input would print its budget every time.
 * The budget window starts now and every line of it is spent. */
static inline void net_quiet(vx_node *node) {
    node->log_window_ms = uv_now(node->loop);
    node->log_lines = 1u << 30;
}

/* An endpoint that answers every payload with its filt (replies travel back
 * on the connection the request came in on). */
static inline int net_ep_echo(void *data, vx_payload *p, const vx_route_ctx *ctx,
                              vx_error *err) {
    (void)data;
    vx_payload *r = vx_payload_new();
    if (!r) return VX_E_NOMEM;
    vx_payload_set_filt_new(r, vx_deep_copy(vx_payload_filt(p)));
    int rc = ctx->reply(ctx->reply_data, r, err);
    vx_payload_decref(r);
    return rc;
}

static inline void net_add_echo(vx_node *node, const char *key) {
    vx_value *filt = vx_dict();
    vx_dict_set_new(filt, "key", vx_str(key));
    FUZZ_CHECK(vx_router_add(vx_node_router(node), filt, net_ep_echo, NULL, NULL, NULL) ==
                   0,
               "router add");
    vx_decref(filt);
}

/* A connected AF_UNIX stream pair: sv[0] for libuv (uv_tcp_open takes any
 * stream socket), sv[1] non-blocking for the target. */
static inline void net_socketpair(int sv[2]) {
    FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0,
               "socketpair: %s", strerror(errno));
    FUZZ_CHECK(fcntl(sv[1], F_SETFL, O_NONBLOCK) == 0, "O_NONBLOCK");
}

typedef struct net_peer {
    int fd;     /* our end, -1 once closed */
    vx_buf out; /* everything read from it */
    bool eof;   /* the other side closed (EOF or reset) */
} net_peer;

/* Read whatever is there; true if anything (or EOF) came. */
static inline bool net_drain(net_peer *p) {
    bool any = false;
    char buf[16384];
    while (p->fd >= 0 && !p->eof) {
        ssize_t n = recv(p->fd, buf, sizeof buf, 0);
        if (n > 0) {
            FUZZ_CHECK(vx_buf_append(&p->out, buf, (size_t)n) == 0, "out of memory");
            any = true;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (n < 0 && errno == EINTR) continue;
        p->eof = true; /* 0: EOF; ECONNRESET and the like: gone */
        any = true;
    }
    return any;
}

/* Wait up to `ms` for the loop to have something to do (an I/O event, a
 * thread-pool job done) without waiting for its timers. */
static inline void net_wait(uv_loop_t *loop, int ms) {
    struct pollfd pf = {.fd = uv_backend_fd(loop), .events = POLLIN};
    poll(&pf, 1, ms);
}

/* Run the loop until it has nothing left to do now: no new output for a few
 * turns, and no pending request (a write, file system work in the thread
 * pool) that completes within a few milliseconds. Timers far in the future
 * (heartbeats, idle timeouts, client retries) never fire. */
static inline void net_settle(uv_loop_t *loop, net_peer *p) {
    int calm = 0;
    for (int turn = 0; turn < 100000 && calm < 2; turn++) {
        uv_run(loop, UV_RUN_NOWAIT);
        bool moved = net_drain(p);
        if (moved) {
            calm = 0;
            continue;
        }
        calm++;
        if (loop->active_reqs.count > 0) net_wait(loop, 5);
    }
}

/* Write all of data[0..len), settling the loop whenever the socket is full. */
static inline void net_write(uv_loop_t *loop, net_peer *p, const char *data, size_t len) {
    while (len > 0 && p->fd >= 0) {
        ssize_t n = send(p->fd, data, len, MSG_NOSIGNAL);
        if (n > 0) {
            data += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            size_t before = p->out.len;
            net_settle(loop, p);
            if (p->eof) return;
            /* The server stopped reading (a long-poll body is over, or a
             * response must drain first) and nothing moves: give up. */
            struct pollfd pf = {.fd = p->fd, .events = POLLOUT};
            if (p->out.len == before && poll(&pf, 1, 0) == 0) return;
            continue;
        }
        return; /* EPIPE, ECONNRESET: the server has closed */
    }
}

/* Write one piece of input: whole, or (step > 0) `step` bytes at a time with
 * the loop settled between, so parsers see every split point. */
static inline void net_write_piece(uv_loop_t *loop, net_peer *p, const char *data,
                                   size_t len, size_t step) {
    if (step == 0) {
        net_write(loop, p, data, len);
        return;
    }
    for (size_t k = 0; k < len; k += step) {
        net_write(loop, p, data + k, len - k < step ? len - k : step);
        net_settle(loop, p);
    }
}

static inline void net_close(net_peer *p) {
    if (p->fd >= 0) close(p->fd);
    p->fd = -1;
}

/* Free the node and run the loop until every handle is closed: a handle left
 * open hangs here, which libFuzzer reports as a timeout. */
static inline void net_free_node(uv_loop_t *loop, vx_node *node) {
    vx_node_free(node);
    uv_run(loop, UV_RUN_DEFAULT);
}

/* ---- checkers ------------------------------------------------------------ */

static inline bool net_prefix(const char *s, size_t n, const char *lit) {
    size_t k = strlen(lit);
    return n >= k && strncasecmp(s, lit, k) == 0;
}

/* The first item of a stream: a hello from `node` (§3.3). */
static inline void net_check_hello(vx_node *node, const char *msg, size_t len,
                                   const char *where) {
    vx_payload *p = NULL;
    vx_error err = {0};
    int rc = vx_msg_decode(msg, len, &vx_node_options(node)->codec, &p, &err);
    FUZZ_CHECK(rc == 0, "%s: first item (%zu bytes) does not decode: %s", where, len,
               err.message);
    FUZZ_CHECK(vx_payload_is_empty(p), "%s: first item is not an empty payload", where);
    vx_value *u = vx_dict_get(vx_payload_filt(p), VX_HELLO_UUID_KEY);
    vx_value *n = vx_dict_get(vx_payload_filt(p), VX_HELLO_NAME_KEY);
    FUZZ_CHECK(vx_typeof(u) == VX_STR && strcmp(vx_str_value(u), vx_node_uuid(node)) == 0,
               "%s: hello without this node's uuid", where);
    FUZZ_CHECK(vx_typeof(n) == VX_STR && strcmp(vx_str_value(n), vx_node_name(node)) == 0,
               "%s: hello without this node's name", where);
    vx_payload_decref(p);
}

/* RFC 6455 §7.4: codes a close frame may carry on the wire. */
static inline bool net_close_code_ok(unsigned code) {
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
           (code >= 3000 && code <= 4999);
}

typedef struct net_ws_stats {
    size_t frames, texts, closes, pongs, pings;
    unsigned close_code; /* 0: none or empty close */
} net_ws_stats;

/* What a server writes after its 101: unmasked FIN frames of the opcodes it
 * uses, minimal lengths; the first one a text frame holding the hello
 * (§10.1); text payloads are single msgs without '.' (§10.2); at most one
 * close, last, with an RFC 6455 code and a UTF-8 reason. A frame cut short
 * by the end of the output is accepted (the connection was dropped). */
static inline net_ws_stats net_check_ws_output(vx_node *node, const uint8_t *b, size_t n,
                                               bool need_hello) {
    net_ws_stats st = {0};
    size_t i = 0;
    while (i < n) {
        FUZZ_CHECK(st.closes == 0, "server frame after its close frame at offset %zu", i);
        if (n - i < 2) break;
        uint8_t b0 = b[i], b1 = b[i + 1];
        uint8_t op = b0 & 0x0F;
        FUZZ_CHECK(b0 & 0x80, "server frame without FIN at %zu", i);
        FUZZ_CHECK(!(b0 & 0x70), "server frame with RSV bits at %zu", i);
        FUZZ_CHECK(op == 0x1 || op == 0x8 || op == 0x9 || op == 0xA,
                   "server frame opcode 0x%x at %zu", op, i);
        FUZZ_CHECK(!(b1 & 0x80), "masked server frame at %zu", i);
        uint64_t len = b1 & 0x7F;
        size_t h = 2;
        if (len == 126) {
            if (n - i < 4) break;
            len = (uint64_t)b[i + 2] << 8 | b[i + 3];
            h = 4;
            FUZZ_CHECK(len >= 126, "non-minimal 16-bit length at %zu", i);
        } else if (len == 127) {
            if (n - i < 10) break;
            len = 0;
            for (int k = 0; k < 8; k++) len = len << 8 | b[i + 2 + k];
            h = 10;
            FUZZ_CHECK(len > 0xFFFF && !(len >> 63), "bad 64-bit length at %zu", i);
        }
        if (op >= 0x8)
            FUZZ_CHECK(len <= 125, "control frame of %llu bytes", (unsigned long long)len);
        if (len > n - i - h) break; /* cut short */
        const uint8_t *pl = b + i + h;
        if (st.frames == 0 && need_hello) {
            FUZZ_CHECK(op == 0x1, "first server frame is opcode 0x%x, not the hello", op);
            net_check_hello(node, (const char *)pl, (size_t)len, "websocket");
        }
        switch (op) {
        case 0x1:
            st.texts++;
            FUZZ_CHECK(len > 0 && memchr(pl, '.', (size_t)len) == NULL,
                       "text frame of %llu bytes is not one msg without '.'",
                       (unsigned long long)len);
            fuzz_check_ascii((const char *)pl, (size_t)len, "server text frame");
            break;
        case 0x8:
            st.closes++;
            FUZZ_CHECK(len != 1, "close frame with a 1-byte payload");
            if (len >= 2) {
                st.close_code = (unsigned)pl[0] << 8 | pl[1];
                FUZZ_CHECK(net_close_code_ok(st.close_code), "close code %u not allowed",
                           st.close_code);
                FUZZ_CHECK(vx_utf8_valid((const char *)pl + 2, (size_t)len - 2),
                           "close reason not UTF-8");
            }
            break;
        case 0x9:
            st.pings++;
            break;
        default:
            st.pongs++;
        }
        st.frames++;
        i += h + (size_t)len;
    }
    return st;
}

#endif
