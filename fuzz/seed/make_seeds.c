/* Write the seed corpora of the fuzz targets from tests/vectors, using the
 * library's own plain JSON parser to read the .jsonl files (CI has neither
 * python nor jq). Built and run by scripts/run-fuzz.sh.
 *
 *   make_seeds VECTORS_DIR OUT_DIR
 *
 * creates OUT_DIR/{msg_decode,json_decode,json_plain,splitter,http_request,
 * ws_frames,http_response}/ and fills them; each seed starts with the option
 * byte(s) its target expects (see the comment at the top of fuzz/<target>.c).
 * The network seeds are built here too (requests, masked client frames,
 * long-poll responses), with msgs encoded by the library itself. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <vortexc/codec.h>
#include <vortexc/payload.h>
#include <vortexc/value.h>

/* Seeds larger than this slow every mutation down for little coverage. */
#define MAX_SEED 40000

static const char *out_dir;
static int n_written;

static void die(const char *what, const char *detail) {
    fprintf(stderr, "make_seeds: %s: %s\n", what, detail);
    exit(1);
}

static void make_dir(const char *path) {
    if (mkdir(path, 0755) != 0 && errno != EEXIST) die(path, strerror(errno));
}

/* Write prefix[0..plen) + body[0..blen) as OUT_DIR/target/name. */
static void seed(const char *target, const char *name, const void *prefix, size_t plen,
                 const char *body, size_t blen) {
    if (plen + blen > MAX_SEED) return;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/%s", out_dir, target, name);
    FILE *f = fopen(path, "wb");
    if (!f) die(path, strerror(errno));
    if ((plen && fwrite(prefix, 1, plen, f) != plen) ||
        (blen && fwrite(body, 1, blen, f) != blen) || fclose(f) != 0)
        die(path, "write failed");
    n_written++;
}

static const char *str_field(vx_value *obj, const char *key, size_t *len) {
    vx_value *v = vx_dict_get(obj, key);
    if (vx_typeof(v) != VX_STR) return NULL;
    *len = vx_str_len(v);
    return vx_str_value(v);
}

/* The splitter's stream: the first few msgs of the main vectors. */
static vx_buf stream;
static int stream_msgs;

static void read_vectors(const char *dir, const char *file, const char *tag) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "rb");
    if (!f) die(path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int lineno = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
        if (n == 0) continue;
        vx_value *obj = NULL;
        vx_error err;
        if (vx_json_parse_plain(line, (size_t)n, 64, &obj, &err) != 0) {
            fprintf(stderr, "make_seeds: %s:%d: %s\n", path, lineno, err.message);
            exit(1);
        }
        size_t name_len = 0, msg_len = 0, json_len = 0;
        const char *name = str_field(obj, "name", &name_len);
        const char *msg = str_field(obj, "vortexMsg", &msg_len);
        const char *json = str_field(obj, "json", &json_len);
        char sname[256];
        snprintf(sname, sizeof sname, "%s_%.*s", tag,
                 (int)(name_len > 200 ? 200 : name_len), name ? name : "noname");
        for (char *p = sname; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
                *p = '_';
        char alt[300];

        seed("json_plain", sname, NULL, 0, line, (size_t)n);
        if (msg) {
            seed("msg_decode", sname, "\x00", 1, msg, msg_len);
            snprintf(alt, sizeof alt, "%s_strict", sname);
            seed("msg_decode", alt, "\x01", 1, msg, msg_len);
            if (strcmp(tag, "ok") == 0 && stream_msgs < 6 && msg_len < 2000) {
                if (vx_buf_append(&stream, msg, msg_len) != 0 ||
                    vx_buf_append(&stream, ".", 1) != 0)
                    die("stream", "out of memory");
                stream_msgs++;
            }
        }
        if (json) {
            seed("json_decode", sname, "\x00", 1, json, json_len);
            snprintf(alt, sizeof alt, "%s_value", sname);
            seed("json_decode", alt, "\x02", 1, json, json_len);
            snprintf(alt, sizeof alt, "%s_strict_compact", sname);
            seed("json_decode", alt, "\x11", 1, json, json_len);
            snprintf(alt, sizeof alt, "%s_json", sname);
            seed("json_plain", alt, NULL, 0, json, json_len);
        }
        vx_decref(obj);
    }
    free(line);
    fclose(f);
}

/* Typed values the vectors lack, one per value-mode seed. */
static const char *const values[] = {
    "{\"_ft\": \"int\", \"_fd\": 9223372036854775807}",
    "{\"_ft\": \"int\", \"_fd\": \"-42\"}",
    "{\"_ft\": \"float\", \"_fd\": \"2.0\"}",
    "{\"_ft\": \"bool\", \"_fd\": \"1\"}",
    "{\"_ft\": \"bytes\", \"_fd\": \"AAECAwQ=\"}",
    "{\"_ft\": \"wkb\", \"_fd\": \"AQEAAAAAAAAAAADwPwAAAAAAAABA\"}",
    "{\"_ft\": \"datetime\", \"_fd\": \"2024-03-05T10:11:12.5+10:00\"}",
    "{\"_ft\": \"datetime\", \"_fd\": \"1-01-01\"}",
    "{\"_ft\": \"list\", \"_fd\": [1, 2.5, \"x\", null]}",
    "{\"_ft\": \"dict\", \"_fd\": {\"a\": [true]}}",
    "{\"_ct\": \"rt\", \"_c\": \"test.Person\", \"age\": 41, \"name\": \"Ada\"}",
    "{\"_ct\": \"rt\", \"_c\": \"demo.Unknown\", \"z\": 1, \"a\": {\"b\": []}}",
    "{\"_ct\": \"rp\", \"filt\": {\"key\": \"k\"}, \"date\": null}",
    "[\"\\ud83d\\ude00\", \"\\u0000\", 1e400, -0.0, 123456789012345678901]",
};

/* ---- network seeds --------------------------------------------------------- */

#define CUT "\xfe\xff" /* fuzz_net.h NET_CUT: a separate write */
#define QS  "?vortexUuid=f1e2d3c4-0000-4000-8000-000000000001&vortexName=seed"
#define WS_HEADERS                                                                         \
    "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"           \
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"

/* An encoded payload {key: key[, i: i]} (or a hello when uuid is set). */
static void msg_of(vx_buf *out, const char *key, int i, const char *hello_uuid) {
    vx_payload *p;
    if (hello_uuid) {
        p = vx_payload_new_hello(hello_uuid, "seedsrv");
    } else {
        p = vx_payload_new();
        if (key) {
            vx_payload_set_filt_new(p, vx_dict());
            vx_dict_set_new(vx_payload_filt(p), "key", vx_str(key));
            vx_dict_set_new(vx_payload_filt(p), "i", vx_int(i));
        }
    }
    vx_codec_opts o;
    vx_codec_opts_init(&o);
    vx_error err;
    if (!p || vx_msg_encode(p, &o, out, &err) != 0) die("encode", "seed msg");
    vx_payload_decref(p);
}

static void add(vx_buf *b, const void *data, size_t len) {
    if (vx_buf_append(b, data, len) != 0) die("seed", "out of memory");
}

static void adds(vx_buf *b, const char *s) {
    add(b, s, strlen(s));
}

/* A masked client frame. */
static void frame(vx_buf *b, unsigned char b0, const char *payload, size_t n) {
    unsigned char h[14];
    size_t hl = 2;
    h[0] = b0;
    if (n < 126) {
        h[1] = (unsigned char)(0x80 | n);
    } else if (n <= 0xFFFF) {
        h[1] = 0x80 | 126;
        h[2] = (unsigned char)(n >> 8);
        h[3] = (unsigned char)n;
        hl = 4;
    } else {
        h[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++) h[2 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
        hl = 10;
    }
    static const unsigned char mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    memcpy(h + hl, mask, 4);
    add(b, h, hl + 4);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)payload[i] ^ mask[i % 4];
        add(b, &c, 1);
    }
}

static void frame_msg(vx_buf *b, unsigned char b0, const char *key, int i, bool dot) {
    vx_buf m = {0};
    msg_of(&m, key, i, NULL);
    if (dot) add(&m, ".", 1);
    frame(b, b0, m.data, m.len);
    vx_buf_free(&m);
}

static void seed_buf(const char *target, const char *name, unsigned char opt, vx_buf *b) {
    seed(target, name, &opt, 1, b->data ? b->data : "", b->len);
    vx_buf_free(b);
}

static void http_request_seeds(void) {
    const char *T = "http_request";
    vx_buf b = {0}, m = {0};
    msg_of(&m, "echo", 1, NULL);
    add(&m, ".", 1);
    msg_of(&m, "echo", 2, NULL);

    /* A long-poll POST with two msgs (the last one without its '.'). */
    char head[512];
    snprintf(head, sizeof head,
             "POST /vortex" QS " HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
             "Content-Length: %zu\r\n\r\n",
             m.len);
    adds(&b, head);
    add(&b, m.data, m.len);
    seed_buf(T, "post_two_msgs", 0x00, &b);

    /* Chunked body, cut mid-chunk, with Expect: 100-continue. */
    adds(&b, "POST /vortex" QS " HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
             "Expect: 100-continue\r\n\r\n");
    snprintf(head, sizeof head, "%zx\r\n", m.len);
    adds(&b, head);
    add(&b, m.data, m.len / 2);
    adds(&b, CUT);
    add(&b, m.data + m.len / 2, m.len - m.len / 2);
    adds(&b, "\r\n2\r\n.\r\r\n0\r\n\r\n");
    seed_buf(T, "post_chunked", 0x00, &b);

    /* HTTP/1.0 POST: raw items until close; small limits. */
    snprintf(head, sizeof head,
             "POST /vortex" QS " HTTP/1.0\r\nContent-Length: %zu\r\n\r\n", m.len);
    adds(&b, head);
    add(&b, m.data, m.len);
    seed_buf(T, "post_http10_small", 0x02, &b);

    /* Takeover: the same uuid POSTs on the second connection; broadcast. */
    adds(&b, "POST /vortex" QS " HTTP/1.1\r\nContent-Length: 0\r\n\r\n" CUT
             "POST /vortex" QS " HTTP/1.1\r\nContent-Length: 1\r\n\r\n.");
    seed_buf(T, "post_takeover", 0xC0, &b);
    adds(&b, "POST /vortex" QS " HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    seed_buf(T, "post_shutdown", 0x10, &b);

    /* Pipelined plain requests, in one write and cut apart. */
    adds(&b,
         "GET /health HTTP/1.1\r\nHost: x\r\n\r\nHEAD /health HTTP/1.1\r\n\r\n"
         "GET /metrics HTTP/1.1\r\n\r\n" CUT "GET /nope HTTP/1.1\r\n\r\n"
         "GET /vortex HTTP/1.1\r\n\r\nPOST /vortex HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
         "GET /health HTTP/1.0\r\n\r\n");
    seed_buf(T, "pipelined", 0x00, &b);
    adds(&b, "GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\n\r\n");
    seed_buf(T, "pipelined_drip", 0x20, &b);

    /* Static files (bit 0): index, a big file, a traversal, HEAD, a 405. */
    adds(&b,
         "GET / HTTP/1.1\r\n\r\nGET /sub/ HTTP/1.1\r\n\r\nHEAD /app.js HTTP/1.1\r\n\r\n"
         "GET /big.bin HTTP/1.1\r\n\r\nGET /a%20b%25.txt HTTP/1.1\r\n\r\n"
         "GET /../etc/passwd HTTP/1.1\r\n\r\nGET /escape/passwd HTTP/1.1\r\n\r\n"
         "GET /%2e%2e/x HTTP/1.1\r\n\r\nPUT /app.js HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
         "GET /empty HTTP/1.1\r\n\r\nGET http://h/sub/style.css?x=1 HTTP/1.1\r\n\r\n");
    seed_buf(T, "static", 0x01, &b);

    /* Errors: missing identity, oversized head and body, bad chunk CRLF. */
    adds(&b, "POST /vortex?vortexUuid=&vortexName=x HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    seed_buf(T, "post_bad_uuid", 0x00, &b);
    adds(&b, "POST /vortex" QS " HTTP/1.1\r\nContent-Length: 99999\r\n\r\n");
    seed_buf(T, "post_too_big", 0x02, &b);
    adds(&b, "GET /health HTTP/1.1\r\nX-Long: ");
    for (int i = 0; i < 40; i++) adds(&b, "0123456789");
    adds(&b, "\r\n\r\n");
    seed_buf(T, "head_too_big", 0x02, &b);
    adds(&b, "POST /vortex" QS " HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
             "1\r\n.XY0\r\n\r\n");
    seed_buf(T, "chunk_bad_crlf", 0x00, &b);

    /* WebSocket upgrades: valid (with frames after the 101), bad version,
     * bad key, Origin refused (bit 2), HTTP/1.0. */
    adds(&b, "GET /vortexws" QS " HTTP/1.1\r\nHost: x\r\n" WS_HEADERS "\r\n");
    frame_msg(&b, 0x81, "echo", 1, true);
    adds(&b, CUT);
    frame(&b, 0x89, "hi", 2);
    frame(&b, 0x88, "\x03\xe8", 2);
    seed_buf(T, "ws_upgrade", 0x00, &b);
    adds(&b,
         "GET /vortexws" QS " HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
    seed_buf(T, "ws_version", 0x00, &b);
    adds(&b, "GET /vortexws" QS " HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n\r\n");
    seed_buf(T, "ws_bad_key", 0x00, &b);
    adds(&b, "GET /vortexws" QS " HTTP/1.1\r\nOrigin: http://evil.example\r\n" WS_HEADERS
             "\r\n");
    seed_buf(T, "ws_origin", 0x04, &b);
    adds(&b, "GET /vortexws" QS " HTTP/1.0\r\n" WS_HEADERS "\r\n");
    seed_buf(T, "ws_http10", 0x00, &b);
    vx_buf_free(&m);
}

static void ws_frames_seeds(void) {
    const char *T = "ws_frames";
    vx_buf b = {0}, m = {0};
    frame_msg(&b, 0x81, "echo", 1, true);
    frame_msg(&b, 0x82, "echo", 2, false);
    frame(&b, 0x81, ".", 1);
    frame(&b, 0x81, "", 0);
    seed_buf(T, "text_binary_dot_empty", 0x00, &b);

    /* A fragmented msg with a PING between the fragments, cut across writes. */
    msg_of(&m, "echo", 3, NULL);
    frame(&b, 0x01, m.data, 20);
    frame(&b, 0x89, "ping", 4);
    adds(&b, CUT);
    frame(&b, 0x00, m.data + 20, 20);
    frame(&b, 0x80, m.data + 40, m.len - 40);
    frame(&b, 0x8A, "pong", 4);
    seed_buf(T, "fragments_ping", 0x00, &b);

    frame_msg(&b, 0x81, "echo", 4, true);
    frame(&b, 0x88,
          "\x03\xe8"
          "bye",
          5);
    seed_buf(T, "close_1000", 0x00, &b);
    frame(&b, 0x88, "\x03\xed", 2); /* 1005 is not allowed on the wire */
    seed_buf(T, "close_bad_code", 0x00, &b);
    frame(&b, 0x81, "\xc3\x28", 2);
    seed_buf(T, "bad_utf8", 0x00, &b);
    frame_msg(&b, 0x81, "echo", 5, true);
    seed_buf(T, "leftover_send_takeover", 0x64, &b);
    frame_msg(&b, 0x81, "echo", 6, true);
    seed_buf(T, "shutdown_eof_drip", 0x98, &b);

    /* Oversized (240-byte limit) and a 16-bit length frame. */
    char big[600];
    memset(big, 'A', sizeof big);
    frame(&b, 0x82, big, sizeof big);
    seed_buf(T, "too_big", 0x01, &b);
    frame(&b, 0x81, big, 200);
    seed_buf(T, "len16", 0x03, &b);
    /* Bad lengths and an unmasked frame. */
    add(&b,
        "\x82\xfe\x00\x03\x01\x02\x03\x04"
        "abc",
        11);
    seed_buf(T, "len_not_minimal", 0x00, &b);
    add(&b, "\x82\xff\x80\x00\x00\x00\x00\x00\x00\x00\x01\x02\x03\x04", 14);
    seed_buf(T, "len_over_2_63", 0x00, &b);
    add(&b, "\x81\x02hi", 4);
    seed_buf(T, "unmasked", 0x00, &b);
    vx_buf_free(&m);
}

static void http_response_seeds(void) {
    const char *T = "http_response";
    const char *uuid = "5e4d3c2b-1a09-4f8e-9d7c-6b5a49382716";
    vx_buf b = {0}, body = {0}, m = {0};
    /* hello, a msg, a heartbeat, a bare dot, a msg: one item per chunk. */
    msg_of(&m, NULL, 0, uuid);
    add(&m, ".", 1);
    size_t hello_len = m.len;
    msg_of(&m, "news", 1, NULL);
    add(&m, ".", 1);
    size_t one = m.len;
    msg_of(&m, NULL, 0, NULL);
    add(&m, "..", 2);
    msg_of(&m, "news", 2, NULL);
    add(&m, ".", 1);

    adds(&b, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
             "Transfer-Encoding: chunked\r\nCache-Control: no-cache\r\n\r\n");
    char line[32];
    size_t cuts[] = {0, hello_len, one, m.len};
    for (int i = 0; i < 3; i++) {
        snprintf(line, sizeof line, "%zx\r\n", cuts[i + 1] - cuts[i]);
        adds(&b, line);
        add(&b, m.data + cuts[i], cuts[i + 1] - cuts[i]);
        adds(&b, "\r\n");
        if (i == 0) adds(&b, CUT);
    }
    vx_buf copy = {0};
    add(&copy, b.data, b.len);
    seed_buf(T, "chunked_stream", 0x00, &b);
    adds(&copy, "0\r\n\r\n");
    seed_buf(T, "chunked_stream_ends_send", 0x08, &copy);

    /* HTTP/1.0 style: raw items until close; dripped. */
    adds(&b, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n");
    add(&b, m.data, m.len);
    seed_buf(T, "close_delimited", 0x02, &b);
    adds(&b, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    snprintf(line, sizeof line, "%zx\r\n", m.len);
    adds(&b, line);
    add(&b, m.data, m.len);
    adds(&b, "\r\n");
    seed_buf(T, "one_chunk_drip_small", 0x05, &b);

    /* Refusals: an error status, a login page, garbage. */
    adds(&b, "HTTP/1.1 400 Bad Request\r\nContent-Length: 12\r\n\r\nMissing uuid");
    seed_buf(T, "status_400", 0x00, &b);
    adds(&b, "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n<html></html>");
    seed_buf(T, "login_page", 0x00, &b);
    adds(&b, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n.....");
    seed_buf(T, "bare_dots_no_hello", 0x02, &b);
    adds(&b, "ICY 200 OK\r\n\r\n");
    seed_buf(T, "not_http", 0x00, &b);
    vx_buf_free(&m);
    vx_buf_free(&body);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: make_seeds VECTORS_DIR OUT_DIR\n");
        return 2;
    }
    out_dir = argv[2];
    make_dir(out_dir);
    const char *targets[] = {"msg_decode",   "json_decode", "json_plain",   "splitter",
                             "http_request", "ws_frames",   "http_response"};
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", out_dir, targets[i]);
        make_dir(path);
    }

    read_vectors(argv[1], "vortexpy-0.3.1.jsonl", "ok");
    read_vectors(argv[1], "vortexpy-0.3.1-decode-errors.jsonl", "err");
    read_vectors(argv[1], "vortexpy-0.3.1-decode-lenient.jsonl", "lenient");
    read_vectors(argv[1], "vortexpy-0.3.1-encode-errors.jsonl", "encerr");

    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "value_%zu", i);
        seed("json_decode", name, "\x02", 1, values[i], strlen(values[i]));
        seed("json_plain", name, NULL, 0, values[i], strlen(values[i]));
    }

    /* Splitter: header = limit/deliver_final byte, cut count, cut lengths. */
    static const unsigned char h_big[] = {0x07, 3, 1, 7, 200};
    static const unsigned char h_small[] = {0x0e, 2, 3, 0};
    static const unsigned char h_tiny[] = {0x03, 1, 2};
    seed("splitter", "msgs_1mib", h_big, sizeof h_big, stream.data, stream.len);
    seed("splitter", "msgs_4096_final", h_small, sizeof h_small, stream.data,
         stream.len ? stream.len - 1 : 0);
    seed("splitter", "msgs_5", h_tiny, sizeof h_tiny, stream.data, stream.len);
    seed("splitter", "heartbeats", h_tiny, sizeof h_tiny, "..ab..abcdef.a.abcde", 20);
    vx_buf_free(&stream);

    http_request_seeds();
    ws_frames_seeds();
    http_response_seeds();

    printf("make_seeds: wrote %d seeds under %s\n", n_written, out_dir);
    return 0;
}
