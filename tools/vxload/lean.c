/* Lean WebSocket and HTTP long-poll clients for vxload (PROTOCOL §9, §10).
 *
 * Per client: a uv_tcp_t, counters, a bitmap of the seqs received and a
 * leftover buffer that exists only while a frame, head or item is split
 * across reads. Every read lands in one shared buffer (the loop calls
 * read_cb right after alloc_cb), so idle memory per client stays small.
 * Connects are started `batch` at a time so the server's accept backlog
 * never overflows (a dropped SYN costs a 1 s retransmit). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "vxload.h"

enum { ST_IDLE, ST_CONNECTING, ST_HEAD, ST_OPEN, ST_DONE };

#define READ_BUF (256 * 1024)
static char read_buf[READ_BUF];
static bool read_buf_busy;

/* One fixed key for every handshake: the accept value is checked once, and
 * the key's only job (proving the server speaks RFC 6455) is still done. */
static const char WS_KEY[] = "dnhsb2FkLXZ4bG9hZC1rZQ==";
static char ws_accept_hdr[64];

double vxl_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double vxl_mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void client_fail(vxl_client *c, const char *why);
static void connect_more(vxl *L);
static int start_connect(vxl_client *c);
static void check_finished(vxl *L);

/* ---- writes ---------------------------------------------------------------- */

typedef struct wreq {
    uv_write_t req;
    char data[];
} wreq;

static void on_written(uv_write_t *req, int status) {
    free(req);
}

static int send_bytes(vxl_client *c, const char *data, size_t len) {
    wreq *w = malloc(sizeof *w + len);
    if (!w) return UV_ENOMEM;
    memcpy(w->data, data, len);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written);
    if (rc) free(w);
    return rc;
}

/* One masked client frame (RFC 6455 §5.3). */
int vxl_ws_send(vxl_client *c, int opcode, const char *data, size_t len) {
    static uint32_t x = 0x9E3779B9u;
    char *f = malloc(len + 14);
    if (!f) return UV_ENOMEM;
    size_t h = 0;
    f[h++] = (char)(0x80 | opcode);
    if (len < 126) {
        f[h++] = (char)(0x80 | len);
    } else if (len < 65536) {
        f[h++] = (char)(0x80 | 126);
        f[h++] = (char)(len >> 8);
        f[h++] = (char)len;
    } else {
        f[h++] = (char)(0x80 | 127);
        for (int i = 7; i >= 0; i--) f[h++] = (char)((uint64_t)len >> (8 * i));
    }
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    uint8_t mask[4] = {(uint8_t)x, (uint8_t)(x >> 8), (uint8_t)(x >> 16),
                       (uint8_t)(x >> 24)};
    memcpy(f + h, mask, 4);
    h += 4;
    for (size_t i = 0; i < len; i++) f[h + i] = (char)(data[i] ^ mask[i & 3]);
    int rc = send_bytes(c, f, h + len);
    free(f);
    return rc;
}

/* ---- received msgs ------------------------------------------------------------ */

static void add_latency(vxl *L, double ms) {
    if (L->n_lat == L->cap_lat) {
        size_t cap = L->cap_lat ? L->cap_lat * 2 : 65536;
        float *n = realloc(L->lat, cap * sizeof *n);
        if (!n) return; /* fewer samples, not a failure */
        L->lat = n;
        L->cap_lat = cap;
    }
    L->lat[L->n_lat++] = (float)ms;
}

static void on_msg(vxl_client *c, const char *msg, size_t len) {
    vxl *L = c->L;
    if (len == 0) return; /* bare '.' heartbeat (vortexpy >= 0.4 style) */
    vxl_msg m;
    vx_error err = {0};
    switch (vxl_classify(msg, len, &m, &err)) {
    case VXL_MSG_BAD:
        if (L->bad_msgs++ < 5)
            fprintf(stderr, "vxload: client %u: undecodable msg: %s: %s\n", c->idx,
                    vx_error_name(err.code), err.message);
        return;
    case VXL_MSG_HELLO:
        if (!c->hello) {
            c->hello = true;
            L->hellos++;
            L->connecting--;
            if (L->hello_fn) L->hello_fn(c);
            connect_more(L);
            check_finished(L);
        }
        return;
    case VXL_MSG_DONE:
        if (L->broadcast) {
            L->done_seen = true;
            L->done_sent = m.seq;
            L->done_failed = m.aux;
            check_finished(L);
        }
        return;
    case VXL_MSG_ITEM:
        break;
    default:
        return;
    }
    if (L->broadcast) return; /* the broadcaster is a target too; not counted */
    double now = vxl_now();
    int64_t s = m.seq, expect = L->args->expect;
    if (s < 0 || s >= expect) {
        c->unexpected++;
        return;
    }
    uint64_t bit = 1ull << (s & 63);
    if (c->bits[s >> 6] & bit) {
        c->dups++;
        return;
    }
    c->bits[s >> 6] |= bit;
    if (s < c->highest)
        c->order++;
    else
        c->highest = s;
    c->received++;
    if (!isnan(m.t)) add_latency(L, (now - m.t) * 1000.0);
    if (c->received == (uint64_t)expect && !c->complete) {
        c->complete = true;
        L->complete++;
        check_finished(L);
    }
}

/* ---- WebSocket ------------------------------------------------------------- */

/* Parse the 101 head; returns bytes consumed, 0 if incomplete, -1 if bad. */
static long ws_head(vxl_client *c, const char *p, size_t n) {
    const char *end = memmem(p, n, "\r\n\r\n", 4);
    if (!end) return n > 16384 ? -1 : 0;
    if (n < 13 || memcmp(p, "HTTP/1.1 101 ", 13) != 0) {
        char line[80];
        size_t l = strcspn(p, "\r");
        if (l > sizeof line - 1) l = sizeof line - 1;
        memcpy(line, p, l);
        line[l] = 0;
        fprintf(stderr, "vxload: client %u: WebSocket handshake got \"%s\"\n", c->idx,
                line);
        return -1;
    }
    if (!memmem(p, (size_t)(end - p), ws_accept_hdr, strlen(ws_accept_hdr))) {
        fprintf(stderr, "vxload: client %u: wrong Sec-WebSocket-Accept\n", c->idx);
        return -1;
    }
    c->state = ST_OPEN;
    return (long)(end - p) + 4;
}

/* Consume whole frames; returns bytes consumed or -1 on a protocol error. */
static long ws_frames(vxl_client *c, const char *p, size_t n) {
    size_t off = 0;
    while (c->state == ST_OPEN && n - off >= 2) {
        uint8_t b0 = (uint8_t)p[off], b1 = (uint8_t)p[off + 1];
        size_t h = 2;
        uint64_t len = b1 & 0x7F;
        if (len == 126) {
            if (n - off < 4) break;
            len = ((uint64_t)(uint8_t)p[off + 2] << 8) | (uint8_t)p[off + 3];
            h = 4;
        } else if (len == 127) {
            if (n - off < 10) break;
            len = 0;
            for (int i = 0; i < 8; i++) len = (len << 8) | (uint8_t)p[off + 2 + i];
            h = 10;
        }
        if (b1 & 0x80) {
            fprintf(stderr, "vxload: client %u: masked server frame\n", c->idx);
            return -1;
        }
        if (len > (1u << 30)) return -1;
        if (n - off - h < len) break;
        const char *d = p + off + h;
        int op = b0 & 0x0F;
        if ((op == 1 || op == 2) && !(b0 & 0x80)) {
            fprintf(stderr, "vxload: client %u: fragmented server frame\n", c->idx);
            return -1;
        }
        off += h + (size_t)len;
        if (op == 1 || op == 2) {
            on_msg(c, d, (size_t)len);
        } else if (op == 8) {
            c->close_code =
                len >= 2 ? (uint16_t)(((uint8_t)d[0] << 8) | (uint8_t)d[1]) : 1005;
            c->state = ST_DONE;
        } else if (op == 9) {
            vxl_ws_send(c, 10, d, (size_t)len);
        } else if (op != 10) {
            return -1;
        }
    }
    return (long)off;
}

/* ---- HTTP long-poll ---------------------------------------------------------- */

static int part_append(vxl_client *c, const char *p, size_t n) {
    if (c->part_len + n > c->part_cap) {
        size_t cap = c->part_cap ? c->part_cap : 1024;
        while (cap < c->part_len + n) cap *= 2;
        char *b = realloc(c->part, cap);
        if (!b) return -1;
        c->part = b;
        c->part_cap = (uint32_t)cap;
    }
    memcpy(c->part + c->part_len, p, n);
    c->part_len += (uint32_t)n;
    return 0;
}

static int hp_on_headers(http_parser *hp) {
    vxl_client *c = hp->data;
    if (hp->status_code != 200) {
        fprintf(stderr, "vxload: client %u: POST got %u\n", c->idx, hp->status_code);
        return 1;
    }
    c->state = ST_OPEN;
    return 0;
}

/* Body bytes (de-chunked): split on '.', items may straddle reads. */
static int hp_on_body(http_parser *hp, const char *p, size_t n) {
    vxl_client *c = hp->data;
    while (n) {
        const char *dot = memchr(p, '.', n);
        if (!dot) return part_append(c, p, n) ? 1 : 0;
        size_t k = (size_t)(dot - p);
        if (c->part_len) {
            if (part_append(c, p, k)) return 1;
            on_msg(c, c->part, c->part_len);
            c->part_len = 0;
        } else {
            on_msg(c, p, k);
        }
        p += k + 1;
        n -= k + 1;
    }
    return 0;
}

static int hp_on_complete(http_parser *hp) {
    vxl_client *c = hp->data;
    c->part_len = 0; /* an unterminated final item is discarded (§9.7) */
    c->state = ST_DONE;
    return 1; /* stop parsing: the caller re-POSTs */
}

static http_parser_settings hp_settings = {
    .on_headers_complete = hp_on_headers,
    .on_body = hp_on_body,
    .on_message_complete = hp_on_complete,
};

/* ---- reading ------------------------------------------------------------------ */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
    if (read_buf_busy) { /* cannot happen with one loop, but never share it */
        buf->base = NULL;
        buf->len = 0;
        return;
    }
    read_buf_busy = true;
    *buf = uv_buf_init(read_buf, READ_BUF);
}

static void on_closed(uv_handle_t *h) {
    vxl_client *c = h->data;
    c->closed_handle = true;
    c->L->closed++;
    free(c->part);
    c->part = NULL;
    c->part_len = c->part_cap = 0;
    free(c->hp);
    c->hp = NULL;
    if (c->state == ST_IDLE) { /* marked for a new POST */
        if (start_connect(c)) client_fail(c, "cannot reconnect");
    }
    check_finished(c->L);
}

static void close_client(vxl_client *c) {
    if (!uv_is_closing((uv_handle_t *)&c->tcp)) uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void client_fail(vxl_client *c, const char *why) {
    vxl *L = c->L;
    if (!c->hello) {
        L->failed++;
        L->connecting--;
        if (L->failed <= 5) fprintf(stderr, "vxload: client %u: %s\n", c->idx, why);
        connect_more(L);
    } else if (!c->complete) {
        L->disconnects++;
        if (L->disconnects <= 5 && !L->finished)
            fprintf(stderr, "vxload: client %u: %s\n", c->idx, why);
    }
    c->state = ST_DONE;
    close_client(c);
}

/* Feed bytes to the parser of the client's state; -1 = protocol error. */
static int feed(vxl_client *c, const char *p, size_t n) {
    if (c->transport == VXL_HTTP) {
        size_t done = http_parser_execute(c->hp, &hp_settings, p, n);
        if (c->state == ST_DONE) return 0;
        if (done != n || HTTP_PARSER_ERRNO(c->hp) != HPE_OK) return -1;
        return 0;
    }
    /* WebSocket: the leftover buffer holds a partial head or frame. */
    const char *q = p;
    size_t qn = n;
    if (c->part_len) {
        if (part_append(c, p, n)) return -1;
        q = c->part;
        qn = c->part_len;
    }
    size_t off = 0;
    if (c->state == ST_HEAD) {
        long k = ws_head(c, q, qn);
        if (k < 0) return -1;
        off = (size_t)k;
    }
    if (c->state == ST_OPEN) {
        long k = ws_frames(c, q + off, qn - off);
        if (k < 0) return -1;
        off += (size_t)k;
    }
    if (c->state == ST_DONE) return 0;
    size_t rest = qn - off;
    if (c->part_len) {
        memmove(c->part, c->part + off, rest);
        c->part_len = (uint32_t)rest;
    } else if (rest) {
        if (part_append(c, q + off, rest)) return -1;
    }
    return 0;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    vxl_client *c = s->data;
    read_buf_busy = false;
    if (nread == 0) return;
    if (nread < 0) {
        if (c->state != ST_DONE)
            client_fail(c, nread == UV_EOF ? "server closed the connection"
                                           : uv_strerror((int)nread));
        return;
    }
    if (c->state == ST_DONE) return;
    if (feed(c, buf->base, (size_t)nread)) {
        client_fail(c, "protocol error");
        c->L->ws_errors++;
        return;
    }
    if (c->state == ST_DONE) {
        if (c->transport == VXL_HTTP && c->hello && !c->L->finished) {
            /* The server ended the response (takeover, slow consumer):
             * POST again; the pending queue continues the stream (§9.6). */
            c->L->reposts++;
            c->state = ST_IDLE;
            close_client(c);
        } else {
            if (c->close_code && !c->complete && !c->L->finished)
                fprintf(stderr, "vxload: client %u: WebSocket closed %u\n", c->idx,
                        c->close_code);
            client_fail(c, "closed");
        }
    }
}

/* ---- connecting ------------------------------------------------------------ */

typedef struct creq {
    uv_connect_t req;
    vxl_client *c;
} creq;

static void on_connect(uv_connect_t *req, int status) {
    creq *cr = (creq *)req;
    vxl_client *c = cr->c;
    free(cr);
    if (status) {
        client_fail(c, uv_strerror(status));
        return;
    }
    vxl *L = c->L;
    const vxl_args *a = L->args;
    char head[512];
    int n;
    if (c->transport == VXL_WS) {
        n = snprintf(head, sizeof head,
                     "GET %s?vortexUuid=%s-%06u&vortexName=%s HTTP/1.1\r\nHost: %s\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     a->ws_path, L->uuid_prefix, c->idx, a->name, L->host, WS_KEY);
    } else {
        if (!c->hp && !(c->hp = malloc(sizeof *c->hp))) {
            client_fail(c, "out of memory");
            return;
        }
        http_parser_init(c->hp, HTTP_RESPONSE);
        c->hp->data = c;
        n = snprintf(head, sizeof head,
                     "POST %s?vortexUuid=%s-%06u&vortexName=%s HTTP/1.1\r\nHost: %s\r\n"
                     "Content-Length: 0\r\n\r\n",
                     a->http_path, L->uuid_prefix, c->idx, a->name, L->host);
    }
    c->state = ST_HEAD;
    if (n < 0 || (size_t)n >= sizeof head || send_bytes(c, head, (size_t)n) ||
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read)) {
        client_fail(c, "cannot send the request");
    }
}

static int start_connect(vxl_client *c) {
    vxl *L = c->L;
    int fd = socket(L->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (L->args->rcvbuf > 0) /* before connect, so the window scale matches */
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &L->args->rcvbuf, sizeof L->args->rcvbuf);
    uv_tcp_init(L->loop, &c->tcp);
    c->tcp.data = c;
    c->closed_handle = false;
    if (uv_tcp_open(&c->tcp, fd)) {
        close(fd);
        client_fail(c, "cannot open a socket");
        return 0;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    creq *cr = malloc(sizeof *cr);
    if (!cr) return -1;
    cr->c = c;
    c->state = ST_CONNECTING;
    int rc = uv_tcp_connect(&cr->req, &c->tcp, (struct sockaddr *)&L->addr, on_connect);
    if (rc) {
        free(cr);
        client_fail(c, uv_strerror(rc));
    }
    return 0;
}

static void connect_more(vxl *L) {
    while (L->connecting < L->args->batch && L->next_connect < L->n_clients) {
        vxl_client *c = &L->clients[L->next_connect++];
        L->connecting++;
        if (start_connect(c)) {
            L->failed++;
            L->connecting--;
            c->state = ST_DONE;
        }
    }
}

/* ---- lifecycle ---------------------------------------------------------------- */

static void check_finished(vxl *L) {
    if (!L->ready_printed && L->hellos + L->failed == L->n_clients) {
        L->ready_printed = true;
        L->t_ready = vxl_mono();
        if (!L->broadcast) {
            printf("READY %d\n", L->hellos);
            fflush(stdout);
        }
    }
    if (L->finished) return;
    bool done;
    if (L->broadcast)
        done = L->done_seen || L->failed || L->disconnects;
    else
        done = L->ready_printed && L->complete + L->failed + L->disconnects >= L->n_clients;
    if (done) {
        L->finished = true;
        L->t_end = vxl_mono();
        uv_stop(L->loop);
    }
}

static void on_tick(uv_timer_t *t) {
    vxl *L = t->data;
    double now = vxl_mono();
    if (!L->ready_printed && now - L->t_start > L->args->connect_timeout) {
        fprintf(stderr, "vxload: only %d of %d clients connected within %.0f s\n",
                L->hellos, L->n_clients, L->args->connect_timeout);
        L->finished = true;
        L->t_end = now;
        uv_stop(L->loop);
    } else if (L->ready_printed && now - L->t_ready > L->args->timeout) {
        fprintf(stderr, "vxload: timeout after %.1f s: %d of %d clients complete\n",
                L->args->timeout, L->complete, L->n_clients);
        L->finished = true;
        L->t_end = now;
        uv_stop(L->loop);
    }
}

static int parse_url(vxl *L, const char *url) {
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    const char *colon = strrchr(p, ':');
    const char *slash = strchr(p, '/');
    if (!colon || (slash && colon > slash)) return -1;
    size_t hl = (size_t)(colon - p);
    if (hl == 0 || hl >= sizeof L->host) return -1;
    memcpy(L->host, p, hl);
    L->host[hl] = 0;
    int port = atoi(colon + 1);
    if (port <= 0 || port > 65535) return -1;
    char ip[64];
    snprintf(ip, sizeof ip, "%s", L->host);
    if (!strcmp(ip, "localhost")) snprintf(ip, sizeof ip, "127.0.0.1");
    if (ip[0] == '[') { /* [v6] */
        memmove(ip, ip + 1, strlen(ip));
        ip[strcspn(ip, "]")] = 0;
        return uv_ip6_addr(ip, port, (struct sockaddr_in6 *)&L->addr) ? -1 : 0;
    }
    return uv_ip4_addr(ip, port, (struct sockaddr_in *)&L->addr) ? -1 : 0;
}

int vxl_start(vxl *L) {
    const vxl_args *a = L->args;
    if (parse_url(L, a->url)) {
        fprintf(stderr, "vxload: bad --url \"%s\" (want http://IP:PORT)\n", a->url);
        return -1;
    }
    /* The accept value of WS_KEY (RFC 6455 §4.2.2), checked in every 101. */
    {
        static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
        char cat[128];
        snprintf(cat, sizeof cat, "%s%s", WS_KEY, guid);
        unsigned char md[20];
        SHA1((const unsigned char *)cat, strlen(cat), md);
        static const char b64[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        char enc[32];
        size_t o = 0;
        for (size_t i = 0; i < 20; i += 3) {
            uint32_t v = (uint32_t)md[i] << 16;
            if (i + 1 < 20) v |= (uint32_t)md[i + 1] << 8;
            if (i + 2 < 20) v |= md[i + 2];
            enc[o++] = b64[(v >> 18) & 63];
            enc[o++] = b64[(v >> 12) & 63];
            enc[o++] = i + 1 < 20 ? b64[(v >> 6) & 63] : '=';
            enc[o++] = i + 2 < 20 ? b64[v & 63] : '=';
        }
        enc[o] = 0;
        snprintf(ws_accept_hdr, sizeof ws_accept_hdr, "Sec-WebSocket-Accept: %s", enc);
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(L->uuid_prefix, sizeof L->uuid_prefix, "%08x-%04x-4000-8000",
             (unsigned)(ts.tv_nsec ^ (long)getpid() << 12), (unsigned)(ts.tv_sec & 0xFFFF));
    L->clients = calloc((size_t)L->n_clients, sizeof *L->clients);
    size_t words = (size_t)((a->expect + 63) / 64);
    uint64_t *bits = words ? calloc((size_t)L->n_clients * words, sizeof *bits) : NULL;
    if (!L->clients || (words && !bits)) {
        free(bits);
        fprintf(stderr, "vxload: out of memory for %d clients\n", L->n_clients);
        return -1;
    }
    for (int i = 0; i < L->n_clients; i++) {
        vxl_client *c = &L->clients[i];
        c->L = L;
        c->idx = (uint32_t)i;
        c->highest = -1;
        c->bits = bits ? bits + (size_t)i * words : NULL;
        c->transport = i < a->n_ws ? VXL_WS : VXL_HTTP;
        c->closed_handle = true; /* no handle yet */
    }
    L->t_start = vxl_mono();
    uv_timer_init(L->loop, &L->timer);
    L->timer.data = L;
    uv_timer_start(&L->timer, on_tick, 100, 100);
    connect_more(L);
    return 0;
}

void vxl_stop(vxl *L) {
    L->finished = true;
    for (int i = 0; i < L->n_clients; i++) {
        vxl_client *c = &L->clients[i];
        c->state = ST_DONE;
        if (!c->closed_handle && !uv_is_closing((uv_handle_t *)&c->tcp))
            uv_close((uv_handle_t *)&c->tcp, on_closed);
    }
    if (!uv_is_closing((uv_handle_t *)&L->timer)) uv_close((uv_handle_t *)&L->timer, NULL);
}
