/* Fuzz the HTTP listener's request handling (PROTOCOL §9.1-§9.4, §10.1):
 * http_parser callbacks, routing, the chunked-CRLF check, limits, pipelining,
 * long-poll streams with their body items, /health, /metrics, static files
 * and the WebSocket upgrade (whose frames then reach ws_server.c).
 *
 * A real vx_node with a real listener runs on a libuv loop inside the
 * fuzzer; the input is written into a socketpair whose other end the server
 * adopts as an accepted connection (vx_http_server_adopt), and the loop is
 * stepped until nothing moves. One fresh node per input.
 *
 * Input: one option byte, then the bytes of the connection(s), cut into
 * separate writes at each "\xfe\xff" (NET_CUT; the loop settles between
 * writes, so pipelined requests arrive in several reads).
 *   bit 0  static_dir (a small tree with index.html, a 100 KiB file and a
 *          symlink leading out of the root)
 *   bit 1  small limits: max_http_header 300, max_http_body 2000,
 *          max_msg_bytes 300, out_queue_max 2000
 *   bit 2  Origin allow-list "http://ok.example"
 *   bit 3  half-close our side (EOF) after the input
 *   bit 4  vx_node_shutdown after the input (streams end, 503s)
 *   bit 5  write each piece in 7-byte drips, settling between
 *   bit 6  two connections: pieces alternate between them (takeover of a
 *          stream by a POST with the same vortexUuid on the other)
 *   bit 7  the node broadcasts a payload after the input
 *
 * Invariants (besides no crash, leak or UB, and every handle closed): the
 * server's output on each connection is a sequence of responses, each
 * starting "HTTP/1.1 " or "HTTP/1.0 " with a 3-digit status and its reason;
 * 4xx/5xx answers are text/plain with a Content-Length and a one-line body
 * that never starts with '<' (§9.2); a 200 without Content-Length is a
 * long-poll stream, chunked (HTTP/1.1) or raw until close (HTTP/1.0), one
 * item per chunk, each item a msg plus '.', the first item the node's hello
 * (§3.3, §9.3); nothing follows a stream's terminating chunk; after a 101
 * the output is well-formed server WebSocket frames starting with the hello
 * (see fuzz_net.h). */
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "fuzz_net.h"
#include "transport/http_conn.h"
#include "transport/http_util.h"

static char root[64];

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void remove_root(void) {
    nftw(root, remove_one, 8, FTW_DEPTH | FTW_PHYS);
}

static const char *static_root(void) {
    if (root[0]) return root;
    snprintf(root, sizeof root, "/tmp/vx-fuzz-static-XXXXXX");
    FUZZ_CHECK(mkdtemp(root) != NULL, "mkdtemp: %s", strerror(errno));
    atexit(remove_root);
    char path[256];
    struct {
        const char *name;
        const char *text;
    } files[] = {
        {"index.html", "<!doctype html><p>hi</p>\n"},
        {"app.js", "console.log('vortex');\n"},
        {"sub/style.css", "p { color: red }\n"},
        {"sub/index.html", "<p>sub</p>\n"},
        {"a b%.txt", "space\n"},
    };
    snprintf(path, sizeof path, "%s/sub", root);
    FUZZ_CHECK(mkdir(path, 0755) == 0, "mkdir %s", path);
    snprintf(path, sizeof path, "%s/empty", root);
    FUZZ_CHECK(mkdir(path, 0755) == 0, "mkdir %s", path);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", root, files[i].name);
        FILE *f = fopen(path, "wb");
        FUZZ_CHECK(f && fputs(files[i].text, f) >= 0 && fclose(f) == 0, "write %s", path);
    }
    snprintf(path, sizeof path, "%s/big.bin", root);
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f != NULL, "write %s", path);
    for (int i = 0; i < 100 * 1024; i++) fputc('a' + i % 26, f);
    fclose(f);
    snprintf(path, sizeof path, "%s/escape", root);
    FUZZ_CHECK(symlink("/etc", path) == 0, "symlink %s", path);
    return root;
}

/* ---- checking the output of one connection -------------------------------- */

typedef struct head {
    int status;
    bool chunked, close, has_len, has_accept, text_plain;
    uint64_t len;
} head;

static size_t find_crlf(const char *b, size_t n, size_t from) {
    for (size_t i = from; i + 1 < n; i++)
        if (b[i] == '\r' && b[i + 1] == '\n') return i;
    return n;
}

/* Parse a response head at b[0..n): its length, or 0 if cut short. */
static size_t parse_head(const char *b, size_t n, head *h) {
    memset(h, 0, sizeof *h);
    size_t want = n < 9 ? n : 9;
    FUZZ_CHECK(memcmp(b, "HTTP/1.1 ", want) == 0 || memcmp(b, "HTTP/1.0 ", want) == 0,
               "response starts with \"%.*s\"", (int)want, b);
    size_t eol = find_crlf(b, n, 0);
    if (eol == n) return 0;
    FUZZ_CHECK(eol >= 13 && b[9] >= '1' && b[9] <= '5' && b[10] >= '0' && b[10] <= '9' &&
                   b[11] >= '0' && b[11] <= '9' && b[12] == ' ',
               "bad status line \"%.*s\"", (int)(eol > 80 ? 80 : eol), b);
    h->status = (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
    const char *reason = vx_http_status_text(h->status);
    FUZZ_CHECK(strcmp(reason, "Unknown") != 0, "status %d is not one the server uses",
               h->status);
    FUZZ_CHECK(eol - 13 == strlen(reason) && memcmp(b + 13, reason, eol - 13) == 0,
               "status %d with reason \"%.*s\"", h->status, (int)(eol - 13), b + 13);
    size_t i = eol + 2;
    for (;;) {
        size_t e = find_crlf(b, n, i);
        if (e == n) return 0;
        if (e == i) return e + 2;
        const char *line = b + i;
        size_t len = e - i;
        const char *colon = memchr(line, ':', len);
        FUZZ_CHECK(colon && colon > line && colon[1] == ' ', "bad header line \"%.*s\"",
                   (int)len, line);
        const char *v = colon + 2;
        size_t vlen = len - (size_t)(v - line);
        if (net_prefix(line, len, "Content-Length:")) {
            FUZZ_CHECK(!h->has_len, "two Content-Length headers");
            h->has_len = true;
            for (size_t k = 0; k < vlen; k++) {
                FUZZ_CHECK(v[k] >= '0' && v[k] <= '9', "bad Content-Length");
                h->len = h->len * 10 + (uint64_t)(v[k] - '0');
            }
        } else if (net_prefix(line, len, "Transfer-Encoding:")) {
            FUZZ_CHECK(vlen == 7 && memcmp(v, "chunked", 7) == 0, "Transfer-Encoding %.*s",
                       (int)vlen, v);
            h->chunked = true;
        } else if (net_prefix(line, len, "Connection:")) {
            h->close |= vlen == 5 && memcmp(v, "close", 5) == 0;
        } else if (net_prefix(line, len, "Sec-WebSocket-Accept:")) {
            h->has_accept = vlen == 28;
        } else if (net_prefix(line, len, "Content-Type:")) {
            h->text_plain = vlen == 25 && memcmp(v, "text/plain; charset=utf-8", 25) == 0;
        }
        i = e + 2;
    }
}

/* Items of a long-poll stream: each one msg plus '.'; the first the hello. */
typedef struct stream_state {
    vx_node *node;
    size_t items;
} stream_state;

static void stream_item(stream_state *s, const char *item, size_t len) {
    FUZZ_CHECK(len >= 1 && item[len - 1] == '.', "stream item does not end with '.'");
    FUZZ_CHECK(memchr(item, '.', len - 1) == NULL, "more than one item in one chunk");
    FUZZ_CHECK(len >= 2, "bare '.' heartbeat on a stream (§9.5)");
    fuzz_check_ascii(item, len, "stream item");
    if (s->items++ == 0) net_check_hello(s->node, item, len - 1, "long-poll stream");
}

static void check_output(vx_node *node, const char *b, size_t n) {
    size_t i = 0;
    while (i < n) {
        head h;
        size_t hl = parse_head(b + i, n - i, &h);
        if (hl == 0) return; /* cut short by a hard close */
        i += hl;
        if (h.status == 100) continue;
        if (h.status == 101) {
            FUZZ_CHECK(h.has_accept, "101 without Sec-WebSocket-Accept");
            net_check_ws_output(node, (const uint8_t *)b + i, n - i, true);
            return;
        }
        if (h.status >= 400) {
            FUZZ_CHECK(h.text_plain && h.has_len, "error %d not text/plain with a length",
                       h.status);
        }
        if (h.has_len) {
            FUZZ_CHECK(!h.chunked, "Content-Length and chunked");
            /* A HEAD answer has no body: the next response follows at once. */
            if (h.len > 0 && n - i >= 7 && memcmp(b + i, "HTTP/1.", 7) == 0) continue;
            size_t blen = h.len < n - i ? (size_t)h.len : n - i;
            if (h.status >= 400 && blen > 0) {
                FUZZ_CHECK(b[i] != '<', "error %d body starts with '<'", h.status);
                FUZZ_CHECK(memchr(b + i, '\n', blen) == NULL, "error body not one line");
            }
            if (blen < h.len) return;
            i += blen;
            continue;
        }
        /* No length: a long-poll stream (§9.3). */
        FUZZ_CHECK(h.status == 200, "status %d without Content-Length", h.status);
        FUZZ_CHECK(h.chunked != h.close, "stream neither chunked nor ended by close");
        stream_state s = {.node = node};
        if (!h.chunked) {
            size_t start = i;
            for (; i < n; i++) {
                if (b[i] != '.') continue;
                stream_item(&s, b + start, i + 1 - start);
                start = i + 1;
            }
            return;
        }
        for (;;) {
            size_t e = find_crlf(b, n, i);
            if (e == n) return;
            uint64_t size = 0;
            FUZZ_CHECK(e > i && e - i <= 16, "bad chunk size line");
            for (size_t k = i; k < e; k++) {
                char ch = b[k];
                FUZZ_CHECK((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'),
                           "chunk size byte 0x%02x", (unsigned char)ch);
                size = size * 16 + (uint64_t)(ch <= '9' ? ch - '0' : ch - 'a' + 10);
            }
            i = e + 2;
            if (size == 0) {
                if (n - i < 2) return;
                FUZZ_CHECK(b[i] == '\r' && b[i + 1] == '\n',
                           "no CRLF after the last chunk");
                FUZZ_CHECK(i + 2 == n, "%zu bytes after the end of a stream", n - i - 2);
                return;
            }
            if (size + 2 > n - i) return;
            stream_item(&s, b + i, (size_t)size);
            i += (size_t)size;
            FUZZ_CHECK(b[i] == '\r' && b[i + 1] == '\n', "chunk data not followed by CRLF");
            i += 2;
        }
    }
}

/* ---- one input -------------------------------------------------------------- */

static void on_shutdown_done(void *data) {
    *(bool *)data = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t opt = data[0];
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    uv_loop_t *loop = net_loop();

    vx_node_opts o;
    vx_node_opts_init(&o);
    o.name = "fuzzsrv";
    o.uuid = "11111111-2222-4333-8444-555555555555";
    o.codec.registry = fuzz_registry();
    if (opt & 2) {
        o.max_http_header = 300;
        o.max_http_body = 2000;
        o.codec.max_msg_bytes = 300;
        o.out_queue_max = 2000;
    }
    vx_error err;
    vx_node *node = vx_node_new(loop, &o, &err);
    FUZZ_CHECK(node != NULL, "vx_node_new: %s", err.message);
    net_quiet(node);
    net_add_echo(node, "echo");

    vx_listen_opts lo;
    vx_listen_opts_init(&lo);
    lo.host = "127.0.0.1";
    lo.port = 0;
    if (opt & 1) lo.static_dir = static_root();
    static const char *const origins[] = {"http://ok.example"};
    if (opt & 4) {
        lo.origins = origins;
        lo.n_origins = 1;
    }
    FUZZ_CHECK(vx_node_listen(node, &lo, &err) == 0, "listen: %s", err.message);
    vx_server *srv = node->servers[node->n_servers - 1];

    int n_peers = (opt & 0x40) ? 2 : 1;
    net_peer peers[2];
    for (int k = 0; k < n_peers; k++) {
        int sv[2];
        net_socketpair(sv);
        uv_tcp_t *tcp = malloc(sizeof *tcp);
        FUZZ_CHECK(tcp != NULL, "malloc");
        uv_tcp_init(loop, tcp);
        FUZZ_CHECK(uv_tcp_open(tcp, sv[0]) == 0, "uv_tcp_open");
        vx_http_server_adopt(srv, tcp);
        peers[k] = (net_peer){.fd = sv[1]};
    }

    /* The pieces of the input, alternating between the connections. */
    size_t start = 0;
    int piece = 0;
    while (start <= len) {
        const char *cut = memmem(in + start, len - start, NET_CUT, NET_CUT_LEN);
        size_t end = cut ? (size_t)(cut - in) : len;
        net_peer *p = &peers[piece++ % n_peers];
        net_write_piece(loop, p, in + start, end - start, opt & 0x20 ? 7 : 0);
        for (int k = 0; k < n_peers; k++) net_settle(loop, &peers[k]);
        if (!cut) break;
        start = end + NET_CUT_LEN;
    }

    if (opt & 0x80) {
        vx_payload *b = vx_payload_new();
        vx_payload_set_filt_new(b, vx_dict());
        vx_dict_set_new(vx_payload_filt(b), "key", vx_str("news"));
        vx_node_broadcast(node, b, NULL);
        vx_payload_decref(b);
    }
    if (opt & 8) {
        for (int k = 0; k < n_peers; k++) shutdown(peers[k].fd, SHUT_WR);
    }
    bool shut_done = false;
    if (opt & 0x10) vx_node_shutdown(node, on_shutdown_done, &shut_done);
    for (int round = 0; round < 2; round++)
        for (int k = 0; k < n_peers; k++) net_settle(loop, &peers[k]);

    for (int k = 0; k < n_peers; k++) {
        if (getenv("FUZZ_NET_DUMP"))
            fprintf(stderr, "---- connection %d wrote %zu bytes:\n%.*s\n----\n", k,
                    peers[k].out.len, (int)peers[k].out.len,
                    peers[k].out.data ? peers[k].out.data : "");
        check_output(node, peers[k].out.data ? peers[k].out.data : "", peers[k].out.len);
        net_close(&peers[k]);
        vx_buf_free(&peers[k].out);
    }
    net_free_node(loop, node);
    return 0;
}
