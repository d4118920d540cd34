/* Fuzz the C client's HTTP long-poll response reader (PROTOCOL §9.7, §11):
 * src/client/http_client.c parsing the status line and headers, chunked and
 * close-delimited bodies, the login-page check, item splitting, and the
 * hello detection of client.c.
 *
 * A real vx_client on a fresh client vx_node connects over loopback TCP to
 * a listening socket of this fuzzer, which reads the client's POST and
 * answers with the input; the loop is stepped until nothing moves. The
 * fuzzer ends each connection with a reset (SO_LINGER 0), so no TIME_WAIT
 * piles up over millions of inputs.
 *
 * Input: one option byte, then the response bytes, cut into separate writes
 * at each "\xfe\xff" (NET_CUT).
 *   bit 0  max_msg_bytes 300 on the client node (long items are skipped)
 *   bit 1  close the connection (EOF) after the input: ends an HTTP/1.0 body
 *   bit 2  write each piece in 16-byte drips, settling between
 *   bit 3  the client node sends a payload to the server once online (a
 *          second POST starts on a new connection; it is reset unanswered)
 *
 * Invariants (besides no crash, leak or UB, every handle closed and the
 * client freed cleanly at any moment): the client goes online exactly when
 * a reference reading of the same bytes finds a 200 response whose body does
 * not start with '<' and holds, among its '.'-terminated items read before
 * any parse error, a hello (an empty payload with non-empty string uuid and
 * name; §3.3, §9.7); a non-200 status or a '<' body leaves a last error
 * that says so; every payload the endpoint receives came from a complete item
 * of that body. */
#include <netinet/in.h>
#include <stdlib.h>

#include <http_parser.h>
#include <vortexc/client.h>

#include "fuzz_net.h"

#define HELLO_LIMIT 4096 /* client.c: bigger items are not checked for a hello */

/* ---- the fake server's socket ------------------------------------------------ */

static int listen_fd = -1;
static int listen_port;

static void fake_server_init(void) {
    if (listen_fd >= 0) return;
    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    FUZZ_CHECK(listen_fd >= 0, "socket: %s", strerror(errno));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    FUZZ_CHECK(bind(listen_fd, (struct sockaddr *)&a, sizeof a) == 0, "bind: %s",
               strerror(errno));
    FUZZ_CHECK(listen(listen_fd, 64) == 0, "listen: %s", strerror(errno));
    socklen_t len = sizeof a;
    FUZZ_CHECK(getsockname(listen_fd, (struct sockaddr *)&a, &len) == 0, "getsockname");
    listen_port = ntohs(a.sin_port);
}

/* Close with a reset: no TIME_WAIT on either side. */
static void reset_close(int fd) {
    struct linger l = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
}

static int try_accept(void) {
    int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    return fd;
}

/* ---- the reference reading ------------------------------------------------- */

typedef struct ref {
    unsigned status;
    bool head_done;
    vx_buf body; /* de-chunked, as far as the parser went */
} ref;

static int ref_headers(http_parser *p) {
    ref *r = p->data;
    r->status = p->status_code;
    r->head_done = true;
    return p->status_code == 200 ? 0 : -1;
}

static int ref_body(http_parser *p, const char *at, size_t len) {
    ref *r = p->data;
    FUZZ_CHECK(vx_buf_append(&r->body, at, len) == 0, "out of memory");
    /* The client stops at a body starting with '<'. */
    return r->body.len > 0 && r->body.data[0] == '<' ? -1 : 0;
}

static int ref_complete(http_parser *p) {
    return -1; /* the client reads nothing after the response */
}

static const http_parser_settings ref_settings = {
    .on_headers_complete = ref_headers,
    .on_body = ref_body,
    .on_message_complete = ref_complete,
};

typedef struct expect {
    bool online;        /* a hello arrives */
    bool bad_status;    /* a complete head with another status */
    bool login_page;    /* a 200 body starting with '<' */
    size_t items_after; /* complete items after the hello (upper bound of routing) */
} expect;

static bool is_hello(const vx_codec_opts *co, const char *item, size_t len) {
    if (len == 0 || len > HELLO_LIMIT) return false;
    vx_payload *p = NULL;
    if (vx_msg_decode(item, len, co, &p, NULL) != 0) return false;
    vx_value *f = vx_payload_filt(p);
    vx_value *u = vx_dict_get(f, VX_HELLO_UUID_KEY), *n = vx_dict_get(f, VX_HELLO_NAME_KEY);
    bool ok = vx_payload_is_empty(p) && u && vx_typeof(u) == VX_STR && vx_str_len(u) > 0 &&
              n && vx_typeof(n) == VX_STR && vx_str_len(n) > 0;
    vx_payload_decref(p);
    return ok;
}

static expect reference(const char *resp, size_t len, bool eof, const vx_codec_opts *co) {
    ref r = {0};
    http_parser p;
    http_parser_init(&p, HTTP_RESPONSE);
    p.data = &r;
    http_parser_execute(&p, &ref_settings, resp, len);
    if (eof && HTTP_PARSER_ERRNO(&p) == HPE_OK)
        http_parser_execute(&p, &ref_settings, NULL, 0);
    expect e = {0};
    e.bad_status = r.head_done && r.status != 200;
    e.login_page = r.status == 200 && r.body.len > 0 && r.body.data[0] == '<';
    if (r.status == 200 && !e.login_page) {
        size_t start = 0;
        for (size_t i = 0; i < r.body.len; i++) {
            if (r.body.data[i] != '.') continue;
            size_t n = i - start;
            if (e.online)
                e.items_after++;
            else if (n <= co->max_msg_bytes && is_hello(co, r.body.data + start, n))
                e.online = true;
            start = i + 1;
        }
    }
    vx_buf_free(&r.body);
    return e;
}

/* ---- the client side ----------------------------------------------------------- */

typedef struct watch {
    int n_online, n_offline;
    size_t routed;
    vx_client *client;
    bool send_when_online;
    vx_node *node;
} watch;

static void on_state(void *data, bool online) {
    watch *w = data;
    if (online) {
        w->n_online++;
        if (w->send_when_online) {
            vx_payload *p = vx_payload_new();
            vx_payload_set_filt_new(p, vx_dict());
            vx_dict_set_new(vx_payload_filt(p), "key", vx_str("up"));
            vx_client_send(w->client, p, NULL);
            vx_payload_decref(p);
        }
    } else {
        w->n_offline++;
    }
}

static int ep_count(void *data, vx_payload *p, const vx_route_ctx *ctx, vx_error *err) {
    (void)p, (void)ctx, (void)err;
    ((watch *)data)->routed++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t opt = data[0];
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    fake_server_init();
    uv_loop_t *loop = net_loop();

    vx_node_opts o;
    vx_node_opts_init(&o);
    o.name = "fuzzcli";
    o.uuid = "99999999-8888-4777-8666-555555555555";
    o.codec.registry = fuzz_registry();
    if (opt & 1) o.codec.max_msg_bytes = 300;
    vx_error err;
    vx_node *node = vx_node_new(loop, &o, &err);
    FUZZ_CHECK(node != NULL, "vx_node_new: %s", err.message);
    net_quiet(node);
    watch w = {.send_when_online = opt & 8, .node = node};
    vx_value *filt = vx_dict();
    vx_dict_set_new(filt, "key", vx_str("news"));
    FUZZ_CHECK(vx_router_add(vx_node_router(node), filt, ep_count, &w, NULL, NULL) == 0,
               "router add");
    vx_decref(filt);

    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/vortex", listen_port);
    vx_client_opts co;
    vx_client_opts_init(&co);
    co.rng_seed = 1;
    co.dead_after = 1000;
    vx_client *client = vx_client_new(node, url, &co, &err);
    FUZZ_CHECK(client != NULL, "vx_client_new: %s", err.message);
    w.client = client;
    FUZZ_CHECK(vx_client_on_state(client, on_state, &w) == 0, "on_state");

    /* The client's connection and its POST head. */
    net_peer peer = {.fd = -1};
    /* The address is resolved in the thread pool, then connected. */
    for (int turn = 0; turn < 2000 && peer.fd < 0; turn++) {
        uv_run(loop, UV_RUN_NOWAIT);
        peer.fd = try_accept();
        if (peer.fd < 0) net_wait(loop, 5);
    }
    FUZZ_CHECK(peer.fd >= 0, "the client never connected: %s",
               vx_client_last_error(client));
    for (int turn = 0; turn < 2000; turn++) {
        net_drain(&peer);
        if (peer.out.len >= 4 && memmem(peer.out.data, peer.out.len, "\r\n\r\n", 4)) break;
        uv_run(loop, UV_RUN_NOWAIT);
        net_wait(loop, 1);
    }
    FUZZ_CHECK(
        net_prefix(peer.out.data ? peer.out.data : "", peer.out.len, "POST /vortex?"),
        "the client sent %.*s", (int)(peer.out.len > 60 ? 60 : peer.out.len),
        peer.out.data ? peer.out.data : "");

    /* The response, piece by piece. */
    vx_buf resp = {0};
    for (size_t s = 0; s <= len;) {
        const char *cut = memmem(in + s, len - s, NET_CUT, NET_CUT_LEN);
        size_t e = cut ? (size_t)(cut - in) : len;
        FUZZ_CHECK(vx_buf_append(&resp, in + s, e - s) == 0, "out of memory");
        net_write_piece(loop, &peer, in + s, e - s, opt & 4 ? 16 : 0);
        net_settle(loop, &peer);
        if (!cut) break;
        s = e + NET_CUT_LEN;
    }
    if (opt & 2) shutdown(peer.fd, SHUT_WR);
    net_settle(loop, &peer);

    expect e = reference(resp.data ? resp.data : "", resp.len, opt & 2,
                         &vx_node_options(node)->codec);
    const char *last = vx_client_last_error(client);
    if (getenv("FUZZ_NET_DUMP"))
        fprintf(stderr,
                "---- online %d offline %d routed %zu; reference: online %d bad status %d "
                "login page %d items after hello %zu; last error \"%s\"\n",
                w.n_online, w.n_offline, w.routed, e.online, e.bad_status, e.login_page,
                e.items_after, last ? last : "");
    FUZZ_CHECK((w.n_online > 0) == e.online, "client online %d times, reference says %s",
               w.n_online, e.online ? "a hello came" : "no hello");
    if (e.bad_status)
        FUZZ_CHECK(last && strstr(last, "HTTP status"), "bad status, last error \"%s\"",
                   last ? last : "");
    if (e.login_page)
        FUZZ_CHECK(last && strstr(last, "authentication"), "login page, last error \"%s\"",
                   last ? last : "");
    FUZZ_CHECK(w.routed <= e.items_after, "%zu payloads routed, only %zu items after hello",
               w.routed, e.items_after);

    /* Free at whatever point the client is, then reset every connection
     * (including a second POST of bit 3 or a retry). */
    vx_client_free(client);
    reset_close(peer.fd);
    peer.fd = -1;
    vx_buf_free(&peer.out);
    vx_buf_free(&resp);
    net_free_node(loop, node);
    int extra;
    while ((extra = try_accept()) >= 0) reset_close(extra);
    return 0;
}
