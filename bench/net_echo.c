/* Echo round trips against `vortexd --echo`, CLIENTS clients closed-loop
 * (each sends its next request when the previous reply has arrived).
 *
 *   bench_net_echo PORT MODE CLIENTS SECONDS
 *
 * MODE ws or http: the library's own client: a vx_node + vx_client per
 *   client, vx_node_request (fresh PayloadResponse.messageId, so both sides
 *   encode and decode every msg), over WebSocket or HTTP long-poll.
 * MODE raw: a lean WebSocket client: the request msg is encoded and framed
 *   once, written as is, and a reply is recognised by comparing its bytes
 *   with the request (the echo returns the payload unchanged), so the client
 *   costs almost nothing and the server's work dominates.
 * MODE rawhttp: the same over HTTP long-poll: each request is a POST
 *   (prebuilt bytes) on one of two keep-alive connections used in turn, so
 *   each POST takes over the other's response (§9.4) as vx_client's would,
 *   without a TCP connect per POST; the reply is found by its bytes.
 * Prints one line:
 *   RESULT echo-MODE clients=C msg_bytes=B rt_per_s=R spread=X p50_us=P p99_us=Q
 *          reconnects=N (rawhttp: connections the server closed after a takeover)
 * (R: the median of 5 equal parts of the window; X: their spread). */
#include <sys/epoll.h>

#include <vortexc/client.h>

#include "net_common.h"

#define MAX_CLIENTS 1024
#define WARMUP      0.3

static double g_start, g_end;
static nb_windows g_win;
static double *g_lat;
static size_t g_lat_n, g_lat_cap = 1 << 22;

static void record(double sent, double now) {
    if (now < g_start || now >= g_end) return;
    nb_windows_add(&g_win, now);
    if (g_lat_n < g_lat_cap) g_lat[g_lat_n++] = now - sent;
}

/* ---- ws / http: the library client ---------------------------------------- */

typedef struct lib_client {
    vx_node *node;
    vx_client *client;
    bool online;
    double sent;
} lib_client;

static lib_client g_lc[MAX_CLIENTS];
static int g_n, g_online;
static vx_payload *g_req;
static uv_timer_t g_timer;
static bool g_running;

static void send_next(lib_client *c);

static void on_reply(void *data, vx_request_status st, vx_payload *reply,
                     const vx_error *err) {
    lib_client *c = data;
    if (!g_running) return; /* the end: requests in flight fail as nodes are freed */
    if (st != VX_REQUEST_SUCCESS) {
        fprintf(stderr, "bench: request failed: %s\n", err ? err->message : "?");
        exit(1);
    }
    record(c->sent, nb_now());
    send_next(c);
}

static void send_next(lib_client *c) {
    vx_error e = {0};
    c->sent = nb_now();
    if (vx_node_request(c->node, NULL, g_req, NULL, on_reply, c, &e)) {
        fprintf(stderr, "bench: vx_node_request: %s\n", e.message);
        exit(1);
    }
}

static double g_seconds;

/* Every 5 ms: start once every client is online, stop at the end. */
static void on_tick(uv_timer_t *t) {
    double now = nb_now();
    if (!g_running && g_end == 0) {
        if (g_online < g_n) {
            if (now > g_start + 10) {
                fprintf(stderr, "bench: only %d of %d clients online\n", g_online, g_n);
                exit(1);
            }
            return;
        }
        g_running = true;
        g_start = now + WARMUP;
        g_end = g_start + g_seconds;
        nb_windows_init(&g_win, g_start, g_seconds);
        for (int i = 0; i < g_n; i++) send_next(&g_lc[i]);
    } else if (g_running && now >= g_end) {
        g_running = false;
        uv_stop(t->loop);
    }
}

static void on_state(void *data, bool online) {
    lib_client *c = data;
    if (online && !c->online) g_online++;
    if (!online && c->online) {
        if (g_running) {
            fprintf(stderr, "bench: a client went offline\n");
            exit(1);
        }
        g_online--;
    }
    c->online = online;
}

static void run_lib(int port, bool ws, double seconds) {
    uv_loop_t *loop = uv_default_loop();
    char url[128];
    snprintf(url, sizeof url, "%s://127.0.0.1:%d", ws ? "ws" : "http", port);
    g_req = nb_payload("vortexd.echo", 1, 0);
    for (int i = 0; i < g_n; i++) {
        vx_node_opts o;
        vx_node_opts_init(&o);
        o.name = "bench";
        vx_error e = {0};
        g_lc[i].node = vx_node_new(loop, &o, &e);
        if (!g_lc[i].node) goto fail;
        g_lc[i].client = vx_client_new(g_lc[i].node, url, NULL, &e);
        if (!g_lc[i].client || vx_client_on_state(g_lc[i].client, on_state, &g_lc[i]))
            goto fail;
        continue;
    fail:
        fprintf(stderr, "bench: client %d: %s\n", i, e.message);
        exit(1);
    }
    g_start = nb_now(); /* until every client is online: when they began */
    g_seconds = seconds;
    uv_timer_init(loop, &g_timer);
    uv_timer_start(&g_timer, on_tick, 5, 5);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_timer_stop(&g_timer);
    uv_close((uv_handle_t *)&g_timer, NULL);
    for (int i = 0; i < g_n; i++) {
        vx_client_free(g_lc[i].client);
        vx_node_free(g_lc[i].node);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    vx_payload_decref(g_req);
}

/* ---- raw: a lean WebSocket client ---------------------------------------- */

typedef struct raw_client {
    int fd;
    nb_rx rx;
    int state; /* 0 = upgrading, 1 = waiting for the hello, 2 = echoing */
    double sent;
} raw_client;

static raw_client g_rc[MAX_CLIENTS];

static void run_raw(int port, double seconds, const vx_buf *msg) {
    char *frame;
    size_t flen = nb_ws_client_frame(msg->data, msg->len, &frame);
    int ep = epoll_create1(0);
    if (ep < 0) nb_die("epoll_create1");
    for (int i = 0; i < g_n; i++) {
        g_rc[i].fd = nb_connect(port);
        nb_ws_send_upgrade(g_rc[i].fd, port, "/vortexws", (unsigned)i);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, g_rc[i].fd, &ev) < 0) nb_die("epoll_ctl");
    }
    int ready = 0;
    uint64_t other = 0;
    double now = nb_now(), deadline = now + 10;
    g_start = g_end = 0;
    struct epoll_event evs[256];
    while (g_end == 0 || now < g_end) {
        int n = epoll_wait(ep, evs, 256, 1000);
        now = nb_now();
        if (g_end == 0 && now > deadline) {
            fprintf(stderr, "bench: only %d of %d raw clients got their hello\n", ready,
                    g_n);
            exit(1);
        }
        for (int k = 0; k < n; k++) {
            raw_client *c = &g_rc[evs[k].data.u32];
            if (nb_rx_read(c->fd, &c->rx) == 0) {
                fprintf(stderr, "bench: server closed a connection\n");
                exit(1);
            }
            const char *d;
            size_t len, used;
            int op;
            while ((op = nb_rx_next(&c->rx, &d, &len, &used)) != 0) {
                if (op == -3) {
                    fprintf(stderr, "bench: upgrade refused\n");
                    exit(1);
                }
                bool reply = op == 1 && len == msg->len && !memcmp(d, msg->data, len);
                nb_rx_consume(&c->rx, used);
                if (op == -2) continue;
                if (c->state == 0) { /* the hello */
                    c->state = 1;
                    if (++ready == g_n) {
                        g_start = now + WARMUP;
                        g_end = g_start + seconds;
                        nb_windows_init(&g_win, g_start, seconds);
                        for (int i = 0; i < g_n; i++) {
                            g_rc[i].state = 2;
                            g_rc[i].sent = now;
                            nb_write_all(g_rc[i].fd, frame, flen);
                        }
                    }
                    continue;
                }
                if (!reply) {
                    other++; /* heartbeat */
                    continue;
                }
                record(c->sent, now);
                c->sent = now;
                nb_write_all(c->fd, frame, flen);
            }
        }
    }
    for (int i = 0; i < g_n; i++) {
        close(g_rc[i].fd);
        free(g_rc[i].rx.buf);
    }
    close(ep);
    free(frame);
    (void)other;
}

/* ---- rawhttp: a lean long-poll client -------------------------------------- */

typedef struct lp_client {
    int fd[2];
    int cur;      /* the connection carrying the latest POST */
    int ended[2]; /* no response in progress: free for the next POST */
    int want;     /* the reply arrived; POST again once the other one is free */
    nb_rx rx[2];
    char *post; /* head + msg + "." */
    size_t post_len;
    double sent;
} lp_client;

static lp_client g_lp[MAX_CLIENTS];
static uint64_t g_reconnects; /* the server closed a taken-over connection */

static void lp_connect(int ep, int port, int i, int k) {
    g_lp[i].fd[k] = nb_connect(port);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)(i * 2 + k)};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, g_lp[i].fd[k], &ev) < 0) nb_die("epoll_ctl");
}

static void lp_post(lp_client *c, double now) {
    c->cur ^= 1;
    c->rx[c->cur].len = 0;
    c->ended[c->cur] = 0;
    c->want = 0;
    c->sent = now;
    nb_write_all(c->fd[c->cur], c->post, c->post_len);
}

static void run_rawhttp(int port, double seconds, const vx_buf *msg) {
    char *want = malloc(msg->len + 1); /* the reply item: msg + '.' */
    if (!want) nb_die("malloc");
    memcpy(want, msg->data, msg->len);
    want[msg->len] = '.';
    int ep = epoll_create1(0);
    if (ep < 0) nb_die("epoll_create1");
    uint64_t reconnects = 0;
    double now = nb_now();
    g_start = now + WARMUP;
    g_end = g_start + seconds;
    nb_windows_init(&g_win, g_start, seconds);
    for (int i = 0; i < g_n; i++) {
        lp_client *c = &g_lp[i];
        char head[512];
        int hl =
            snprintf(head, sizeof head,
                     "POST /vortex?vortexUuid=bench-lp-%u-%d&vortexName=bench HTTP/1.1\r\n"
                     "Host: 127.0.0.1:%d\r\nContent-Type: text/plain\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     (unsigned)getpid(), i, port, msg->len + 1);
        c->post_len = (size_t)hl + msg->len + 1;
        c->post = malloc(c->post_len);
        if (!c->post) nb_die("malloc");
        memcpy(c->post, head, (size_t)hl);
        memcpy(c->post + hl, want, msg->len + 1);
        lp_connect(ep, port, i, 0);
        lp_connect(ep, port, i, 1);
        c->ended[0] = c->ended[1] = 1;
        c->cur = 1;
        lp_post(c, now);
    }
    struct epoll_event evs[256];
    while (now < g_end) {
        int n = epoll_wait(ep, evs, 256, 1000);
        now = nb_now();
        for (int e = 0; e < n; e++) {
            lp_client *c = &g_lp[evs[e].data.u32 / 2];
            int k = (int)(evs[e].data.u32 % 2);
            if (nb_rx_read(c->fd[k], &c->rx[k]) == 0) { /* the server closed it */
                if (k == c->cur) {
                    fprintf(stderr, "bench: long-poll response closed before the reply\n");
                    exit(1);
                }
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd[k], NULL);
                close(c->fd[k]);
                c->rx[k].len = 0;
                lp_connect(ep, port, (int)(c - g_lp), k);
                reconnects++;
                c->ended[k] = 1;
                if (c->want) lp_post(c, now);
                continue;
            }
            if (k != c->cur) { /* a taken-over response: wait for its last chunk */
                if (memmem(c->rx[k].buf, c->rx[k].len, "\r\n0\r\n\r\n", 7)) {
                    c->rx[k].len = 0;
                    c->ended[k] = 1;
                    if (c->want) lp_post(c, now);
                }
                continue;
            }
            char *hit = memmem(c->rx[k].buf, c->rx[k].len, want, msg->len + 1);
            if (!hit) continue;
            record(c->sent, now);
            c->rx[k].len = 0;
            c->want = 1;
            if (c->ended[!k]) lp_post(c, now);
        }
    }
    g_reconnects = reconnects;
    for (int i = 0; i < g_n; i++) {
        for (int k = 0; k < 2; k++) {
            close(g_lp[i].fd[k]);
            free(g_lp[i].rx[k].buf);
        }
        free(g_lp[i].post);
    }
    close(ep);
    free(want);
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: bench_net_echo PORT ws|http|raw|rawhttp CLIENTS SECONDS\n");
        return 2;
    }
    int port = atoi(argv[1]);
    const char *mode = argv[2];
    g_n = atoi(argv[3]);
    double seconds = atof(argv[4]);
    if (port <= 0 || g_n < 1 || g_n > MAX_CLIENTS || seconds <= 0) return 2;
    nb_raise_nofile();
    g_lat = malloc(g_lat_cap * sizeof *g_lat);
    if (!g_lat) nb_die("malloc");
    vx_buf msg = nb_msg("vortexd.echo", 1, 0);
    if (!strcmp(mode, "raw")) {
        run_raw(port, seconds, &msg);
    } else if (!strcmp(mode, "rawhttp")) {
        run_rawhttp(port, seconds, &msg);
    } else if (!strcmp(mode, "ws") || !strcmp(mode, "http")) {
        run_lib(port, !strcmp(mode, "ws"), seconds);
    } else {
        return 2;
    }
    double spread, rate = nb_windows_rate(&g_win, &spread);
    double p50 = nb_quantile(g_lat, g_lat_n, 0.50), p99 = nb_quantile(g_lat, g_lat_n, 0.99);
    printf("RESULT echo-%s clients=%d msg_bytes=%zu rt_per_s=%.0f spread=%.2f p50_us=%.1f "
           "p99_us=%.1f reconnects=%llu\n",
           mode, g_n, msg.len, rate, spread, p50 * 1e6, p99 * 1e6,
           (unsigned long long)g_reconnects);
    vx_buf_free(&msg);
    free(g_lat);
    return 0;
}
