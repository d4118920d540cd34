/* Helpers shared by the network benchmarks (bench/net_*.c, run by
 * scripts/bench-net.sh): clock, raw loopback sockets, a minimal RFC 6455
 * client side (handshake, pre-framed masked messages, frame parsing) and the
 * benchmark payload. Header-only because every bench/<name>.c is its own
 * executable. The raw client exists so that a measurement can leave out the
 * C client library's own costs where they would hide the server's. */
#ifndef VX_BENCH_NET_COMMON_H
#define VX_BENCH_NET_COMMON_H

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <vortexc/codec.h>
#include <vortexc/payload.h>
#include <vortexc/tuple.h>
#include <vortexc/value.h>

static inline double nb_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline int64_t nb_wall_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline int nb_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts `v` in place; q in [0, 1]. */
static inline double nb_quantile(double *v, size_t n, double q) {
    if (!n) return 0;
    qsort(v, n, sizeof *v, nb_cmp_double);
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

/* The measured window is cut into NB_WINDOWS equal parts; a row reports the
 * median part's rate and the spread (slowest - fastest) / median, so a burst
 * of noise from other processes on the shared VM shows instead of skewing. */
#define NB_WINDOWS 5

typedef struct nb_windows {
    double start, part;
    uint64_t count[NB_WINDOWS];
} nb_windows;

static inline void nb_windows_init(nb_windows *w, double start, double seconds) {
    memset(w, 0, sizeof *w);
    w->start = start;
    w->part = seconds / NB_WINDOWS;
}

static inline void nb_windows_add(nb_windows *w, double now) {
    if (now < w->start) return;
    size_t i = (size_t)((now - w->start) / w->part);
    if (i < NB_WINDOWS) w->count[i]++;
}

/* Median rate per second; the spread in *spread. */
static inline double nb_windows_rate(const nb_windows *w, double *spread) {
    double r[NB_WINDOWS];
    for (int i = 0; i < NB_WINDOWS; i++) r[i] = (double)w->count[i] / w->part;
    qsort(r, NB_WINDOWS, sizeof r[0], nb_cmp_double);
    double med = r[NB_WINDOWS / 2];
    *spread = med > 0 ? (r[NB_WINDOWS - 1] - r[0]) / med : 0;
    return med;
}

/* As many descriptors as the hard limit allows (10,000 idle sockets). */
static inline void nb_raise_nofile(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static inline void nb_die(const char *what) {
    fprintf(stderr, "bench: %s: %s\n", what, strerror(errno));
    exit(1);
}

static inline void nb_nodelay(int fd) {
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Blocking TCP connection to 127.0.0.1:port with Nagle off; exits on error. */
static inline int nb_connect(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) nb_die("socket");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) nb_die("connect");
    nb_nodelay(fd);
    return fd;
}

/* Listening socket on 127.0.0.1:port (0 = any); the bound port in *port. */
static inline int nb_listen(int *port, int backlog) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) nb_die("socket");
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)*port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) nb_die("bind");
    if (listen(fd, backlog) < 0) nb_die("listen");
    socklen_t len = sizeof a;
    if (getsockname(fd, (struct sockaddr *)&a, &len) < 0) nb_die("getsockname");
    *port = ntohs(a.sin_port);
    return fd;
}

static inline void nb_write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) nb_die("write");
        p += n;
        len -= (size_t)n;
    }
}

/* ---- WebSocket client side (RFC 6455) ------------------------------------ */

/* Send the upgrade request for /vortexws with a unique vortexUuid. */
static inline void nb_ws_send_upgrade(int fd, int port, const char *path, unsigned id) {
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET %s?vortexUuid=bench-%u-%u&vortexName=bench HTTP/1.1\r\n"
                     "Host: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     path, (unsigned)getpid(), id, port);
    nb_write_all(fd, req, (size_t)n);
}

/* Incoming bytes of one connection and the frame parser over them. */
typedef struct nb_rx {
    char *buf;
    size_t len, cap;
    int head_done; /* the 101 response head has been consumed */
} nb_rx;

static inline void nb_rx_append(nb_rx *r, const char *d, size_t n) {
    if (r->len + n > r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 4096;
        while (cap < r->len + n) cap *= 2;
        r->buf = realloc(r->buf, cap);
        if (!r->buf) nb_die("realloc");
        r->cap = cap;
    }
    memcpy(r->buf + r->len, d, n);
    r->len += n;
}

/* Read once into `r`; 0 on EOF, -1 on EAGAIN, else bytes read. */
static inline ssize_t nb_rx_read(int fd, nb_rx *r) {
    char tmp[65536];
    ssize_t n = read(fd, tmp, sizeof tmp);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return -1;
    if (n < 0) nb_die("read");
    if (n > 0) nb_rx_append(r, tmp, (size_t)n);
    return n;
}

/* Next complete item: the response head (returns -2: 101 seen, -3: other
 * status) or one server frame (its opcode, payload in *data and *len). 0 = need
 * more bytes. Call nb_rx_consume(r, *used) afterwards. */
static inline int nb_rx_next(nb_rx *r, const char **data, size_t *len, size_t *used) {
    if (!r->head_done) {
        char *end = memmem(r->buf, r->len, "\r\n\r\n", 4);
        if (!end) return 0;
        *used = (size_t)(end - r->buf) + 4;
        r->head_done = 1;
        return (r->len >= 12 && memcmp(r->buf + 9, "101", 3) == 0) ? -2 : -3;
    }
    if (r->len < 2) return 0;
    const unsigned char *b = (const unsigned char *)r->buf;
    size_t hdr = 2;
    uint64_t plen = b[1] & 0x7f;
    if (plen == 126) {
        if (r->len < 4) return 0;
        plen = ((uint64_t)b[2] << 8) | b[3];
        hdr = 4;
    } else if (plen == 127) {
        if (r->len < 10) return 0;
        plen = 0;
        for (int i = 0; i < 8; i++) plen = (plen << 8) | b[2 + i];
        hdr = 10;
    }
    if (r->len < hdr + plen) return 0;
    *data = r->buf + hdr;
    *len = (size_t)plen;
    *used = hdr + (size_t)plen;
    return b[0] & 0x0f;
}

static inline void nb_rx_consume(nb_rx *r, size_t used) {
    memmove(r->buf, r->buf + used, r->len - used);
    r->len -= used;
}

/* A masked FIN text frame carrying `msg` + "." (PROTOCOL §10.5), made once
 * and written as is for every request. NEW buffer in *out. */
static inline size_t nb_ws_client_frame(const char *msg, size_t len, char **out) {
    size_t plen = len + 1, hdr = plen < 126 ? 6 : 8;
    unsigned char *f = malloc(hdr + plen);
    if (!f) nb_die("malloc");
    f[0] = 0x81;
    if (plen < 126) {
        f[1] = (unsigned char)(0x80 | plen);
    } else {
        f[1] = 0x80 | 126;
        f[2] = (unsigned char)(plen >> 8);
        f[3] = (unsigned char)plen;
    }
    static const unsigned char key[4] = {0x37, 0xfa, 0x21, 0x3d};
    memcpy(f + hdr - 4, key, 4);
    for (size_t i = 0; i < plen; i++)
        f[hdr + i] = (unsigned char)((i < len ? msg[i] : '.') ^ key[i & 3]);
    *out = (char *)f;
    return hdr + plen;
}

/* ---- the benchmark payload ----------------------------------------------- */

/* filt {"key": key}, one tuple bench.Tick {"seq": seq, "us": wall-clock µs}
 * (the fan-out clients read the send time from it), a fixed date. NEW. */
static inline vx_payload *nb_payload(const char *key, int64_t seq, int64_t us) {
    vx_payload *p = vx_payload_new_key(key);
    vx_value *t = vx_tuple_new_untyped("bench.Tick");
    vx_value *l = vx_list();
    if (!p || !t || !l || vx_tuple_set_new(t, "seq", vx_int(seq)) ||
        vx_tuple_set_new(t, "us", vx_int(us)) || vx_list_append_new(l, t) ||
        vx_payload_set_tuples_new(p, l) ||
        vx_payload_set_date_new(p, vx_datetime(INT64_C(1767225600000000)))) {
        fprintf(stderr, "bench: cannot build the payload\n");
        exit(1);
    }
    return p;
}

/* The encoded msg of nb_payload (default codec options). NEW buffer. */
static inline vx_buf nb_msg(const char *key, int64_t seq, int64_t us) {
    vx_payload *p = nb_payload(key, seq, us);
    vx_codec_opts o;
    vx_codec_opts_init(&o);
    vx_buf b = {0};
    vx_error e = {0};
    if (vx_msg_encode(p, &o, &b, &e)) {
        fprintf(stderr, "bench: encode: %s\n", e.message);
        exit(1);
    }
    vx_payload_decref(p);
    return b;
}

#endif
