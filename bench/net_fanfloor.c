/* Floor for the fan-out benchmark: the least a server can do to broadcast.
 *
 *   bench_net_fanfloor
 *
 * Listens on 127.0.0.1 (any port) and prints vortexd's start-up line, so
 * scripts/bench-net.sh and vxload treat it like vortexd. It accepts
 * WebSocket upgrades (answering 101 and a pre-encoded hello) and waits for a
 * {"key": "vortexd.stream", "n", "every", "interval", "size"} request, as
 * vortexd --test-endpoints serves it (docs/vortexd.md). Then, per item, it
 * encodes the payload once (with the send time in "t", as vortexd does),
 * frames it once and writes the same bytes to every socket with one blocking
 * write(2) per delivery: no queues, no per-connection state, no event loop
 * during the burst. Finally it sends vortexd.stream.done to the requester.
 * Runs until killed. */
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <strings.h>
#include <sys/epoll.h>

#include "net_common.h"

#define MAX_FDS 65536

typedef struct fl_conn {
    nb_rx rx;
    int upgraded;
} fl_conn;

static fl_conn *g_c[MAX_FDS];
static int g_fds[MAX_FDS], g_nfds; /* upgraded sockets, in accept order */
static vx_codec *g_codec;

/* Unmasked FIN text frame around `msg`. NEW buffer; its length in *flen. */
static char *server_frame(const char *msg, size_t len, size_t *flen) {
    size_t hdr = len < 126 ? 2 : len < 65536 ? 4 : 10;
    unsigned char *f = malloc(hdr + len);
    if (!f) nb_die("malloc");
    f[0] = 0x81;
    if (hdr == 2) {
        f[1] = (unsigned char)len;
    } else if (hdr == 4) {
        f[1] = 126;
        f[2] = (unsigned char)(len >> 8);
        f[3] = (unsigned char)len;
    } else {
        f[1] = 127;
        for (int i = 0; i < 8; i++)
            f[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    }
    memcpy(f + hdr, msg, len);
    *flen = hdr + len;
    return (char *)f;
}

static char *encode_frame(vx_payload *p, size_t *flen) {
    vx_buf b = {0};
    vx_error e = {0};
    if (vx_codec_encode(g_codec, p, &b, &e)) {
        fprintf(stderr, "fanfloor: encode: %s\n", e.message);
        exit(1);
    }
    char *f = server_frame(b.data, b.len, flen);
    vx_buf_free(&b);
    return f;
}

/* Answer the upgrade request in c->rx (complete head) on fd. */
static void upgrade(int fd, fl_conn *c, const char *hello, size_t hello_len) {
    const char *h = c->rx.buf, *key = NULL;
    size_t key_len = 0;
    for (const char *line = h; line && *line;) {
        const char *eol = strstr(line, "\r\n");
        if (!eol || eol == line) break;
        if (!strncasecmp(line, "Sec-WebSocket-Key:", 18)) {
            key = line + 18;
            while (*key == ' ') key++;
            key_len = (size_t)(eol - key);
        }
        line = eol + 2;
    }
    if (!key || key_len > 64) {
        fprintf(stderr, "fanfloor: upgrade without Sec-WebSocket-Key\n");
        close(fd);
        return;
    }
    char in[128];
    memcpy(in, key, key_len);
    memcpy(in + key_len, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", 36);
    unsigned char sha[SHA_DIGEST_LENGTH];
    SHA1((unsigned char *)in, key_len + 36, sha);
    unsigned char acc[32];
    EVP_EncodeBlock(acc, sha, SHA_DIGEST_LENGTH);
    char resp[256];
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                     acc);
    nb_write_all(fd, resp, (size_t)n);
    nb_write_all(fd, hello, hello_len);
    c->upgraded = 1;
    g_fds[g_nfds++] = fd;
}

static bool filt_int(const vx_payload *p, const char *k, int64_t *out) {
    vx_value *v = vx_dict_get(vx_payload_filt(p), k);
    if (!v || vx_typeof(v) != VX_INT) return false;
    *out = vx_int_value(v);
    return true;
}

/* The burst: n items, `every` per turn, turns `interval` ms apart. */
static void stream(int requester, const vx_payload *req) {
    int64_t n = 0, every = 0, interval = 1, size = 0;
    filt_int(req, "n", &n);
    filt_int(req, "every", &every);
    filt_int(req, "interval", &interval);
    filt_int(req, "size", &size);
    if (every < 1) every = n ? n : 1;
    if (size < 0 || size > (1 << 20)) size = 0;
    char *pad = malloc((size_t)size + 1);
    if (!pad) nb_die("malloc");
    for (int64_t i = 0; i < size; i++) pad[i] = (char)('A' + (i * 7 + i / 26) % 26);
    double next = nb_now();
    for (int64_t seq = 0; seq < n;) {
        for (int64_t k = 0; k < every && seq < n; k++, seq++) {
            vx_payload *p = vx_payload_new_key("vortexd.stream.item");
            if (!p || vx_dict_set_new(vx_payload_filt(p), "seq", vx_int(seq)) ||
                vx_dict_set_new(vx_payload_filt(p), "t",
                                vx_float((double)nb_wall_us() / 1e6)) ||
                (size &&
                 vx_list_append_new(vx_payload_tuples(p), vx_strn(pad, (size_t)size))))
                nb_die("item payload");
            size_t flen;
            char *f = encode_frame(p, &flen);
            vx_payload_decref(p);
            for (int i = 0; i < g_nfds; i++) nb_write_all(g_fds[i], f, flen);
            free(f);
        }
        next += (double)interval / 1000;
        double wait = next - nb_now();
        if (seq < n && wait > 0) {
            struct timespec ts = {(time_t)wait,
                                  (long)((wait - (double)(time_t)wait) * 1e9)};
            nanosleep(&ts, NULL);
        }
    }
    free(pad);
    vx_payload *d = vx_payload_new_key("vortexd.stream.done");
    if (!d || vx_dict_set_new(vx_payload_filt(d), "sent", vx_int(n)) ||
        vx_dict_set_new(vx_payload_filt(d), "failed", vx_int(0)))
        nb_die("done payload");
    size_t flen;
    char *f = encode_frame(d, &flen);
    vx_payload_decref(d);
    nb_write_all(requester, f, flen);
    free(f);
}

/* Client frames (masked): decode each message; a vortexd.stream request
 * starts the burst. Close frames and anything else are ignored. */
static void client_frames(int fd, fl_conn *c) {
    for (;;) {
        nb_rx *r = &c->rx;
        if (r->len < 2) return;
        unsigned char *b = (unsigned char *)r->buf;
        size_t hdr = 2;
        uint64_t plen = b[1] & 0x7f;
        if (plen == 126) {
            if (r->len < 4) return;
            plen = ((uint64_t)b[2] << 8) | b[3];
            hdr = 4;
        } else if (plen == 127) {
            if (r->len < 10) return;
            plen = 0;
            for (int i = 0; i < 8; i++) plen = (plen << 8) | b[2 + i];
            hdr = 10;
        }
        if (b[1] & 0x80) hdr += 4;
        if (r->len < hdr + plen) return;
        char *d = r->buf + hdr;
        if (b[1] & 0x80)
            for (uint64_t i = 0; i < plen; i++) d[i] ^= (char)b[hdr - 4 + (i & 3)];
        size_t len = (size_t)plen;
        if (len && d[len - 1] == '.') len--;
        vx_payload *p = NULL;
        if ((b[0] & 0x0f) <= 2 && len && vx_codec_decode(g_codec, d, len, &p, NULL) == 0) {
            vx_value *k = vx_dict_get(vx_payload_filt(p), "key");
            if (k && vx_typeof(k) == VX_STR && !strcmp(vx_str_value(k), "vortexd.stream"))
                stream(fd, p);
            vx_payload_decref(p);
        }
        nb_rx_consume(r, hdr + (size_t)plen);
    }
}

int main(void) {
    nb_raise_nofile();
    vx_codec_opts o;
    vx_codec_opts_init(&o);
    g_codec = vx_codec_new(&o);
    int port = 0, lfd = nb_listen(&port, 4096);
    const char *uuid = "f1003f10-0000-4000-8000-000000000001";
    vx_payload *hp = vx_payload_new_hello(uuid, "fanfloor");
    size_t hello_len;
    char *hello = encode_frame(hp, &hello_len);
    vx_payload_decref(hp);
    int ep = epoll_create1(0);
    struct epoll_event lev = {.events = EPOLLIN, .data.fd = lfd};
    if (!g_codec || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev) < 0) nb_die("setup");
    printf("vortexd listening on http://127.0.0.1:%d uuid=%s name=fanfloor\n", port, uuid);
    fflush(stdout);
    struct epoll_event evs[256];
    char tmp[65536];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int k = 0; k < n; k++) {
            int fd = evs[k].data.fd;
            if (fd == lfd) {
                int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                if (cfd < 0 || cfd >= MAX_FDS) {
                    if (cfd >= 0) close(cfd);
                    continue;
                }
                nb_nodelay(cfd);
                g_c[cfd] = calloc(1, sizeof(fl_conn));
                struct epoll_event ev = {.events = EPOLLIN, .data.fd = cfd};
                if (!g_c[cfd] || epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev) < 0)
                    nb_die("accept");
                continue;
            }
            fl_conn *c = g_c[fd];
            ssize_t r = read(fd, tmp, sizeof tmp);
            if (r <= 0) { /* gone: drop it from the broadcast list */
                for (int i = 0; i < g_nfds; i++)
                    if (g_fds[i] == fd) g_fds[i] = g_fds[--g_nfds];
                epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
                close(fd);
                free(c->rx.buf);
                free(c);
                g_c[fd] = NULL;
                continue;
            }
            nb_rx_append(&c->rx, tmp, (size_t)r);
            if (!c->upgraded) {
                char *end = memmem(c->rx.buf, c->rx.len, "\r\n\r\n", 4);
                if (!end) continue;
                size_t used = (size_t)(end - c->rx.buf) + 4;
                nb_rx_append(&c->rx, "", 1); /* NUL-terminate the head for strstr */
                c->rx.len--;
                upgrade(fd, c, hello, hello_len);
                nb_rx_consume(&c->rx, used);
            }
            if (c->upgraded) client_frames(fd, c);
        }
    }
}
