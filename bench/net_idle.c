/* Idle WebSocket connections for the server-memory benchmark.
 *
 *   bench_net_idle PORT CONNS
 *
 * Opens CONNS WebSocket connections to vortexd (each its own vortexUuid),
 * waits until every one has received its hello (so the server has registered
 * it, §10.1), prints "READY n seconds" and then holds them, reading and
 * discarding heartbeats, until stdin closes or SIGTERM; the caller measures
 * the server's RSS meanwhile. Handshakes are pipelined in batches so 10,000
 * connections take about a second. */
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>

#include "net_common.h"

#define BATCH 200

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: bench_net_idle PORT CONNS\n");
        return 2;
    }
    int port = atoi(argv[1]), n = atoi(argv[2]);
    if (port <= 0 || n < 1) return 2;
    nb_raise_nofile();
    int *fds = calloc((size_t)n, sizeof *fds);
    nb_rx *rx = calloc((size_t)n, sizeof *rx);
    int ep = epoll_create1(0);
    if (!fds || !rx || ep < 0) nb_die("setup");
    double t0 = nb_now();
    char tmp[4096];
    for (int base = 0; base < n; base += BATCH) {
        int end = base + BATCH < n ? base + BATCH : n;
        for (int i = base; i < end; i++) {
            fds[i] = nb_connect(port);
            nb_ws_send_upgrade(fds[i], port, "/vortexws", (unsigned)i);
        }
        /* Blocking reads: the 101 head and the hello frame of each. */
        for (int i = base; i < end; i++) {
            int got_hello = 0;
            while (!got_hello) {
                ssize_t r = read(fds[i], tmp, sizeof tmp);
                if (r <= 0) nb_die("connection closed before its hello");
                nb_rx_append(&rx[i], tmp, (size_t)r);
                const char *d;
                size_t len, used;
                int op;
                while (!got_hello && (op = nb_rx_next(&rx[i], &d, &len, &used)) != 0) {
                    if (op == -3) {
                        fprintf(stderr, "bench: upgrade refused on connection %d\n", i);
                        return 1;
                    }
                    nb_rx_consume(&rx[i], used);
                    if (op == 1) got_hello = 1;
                }
            }
            free(rx[i].buf);
            rx[i].buf = NULL;
            rx[i].len = rx[i].cap = 0;
            (void)fcntl(fds[i], F_SETFL, O_NONBLOCK);
            struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
            if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) < 0) nb_die("epoll_ctl");
        }
    }
    printf("READY %d %.2f\n", n, nb_now() - t0);
    fflush(stdout);
    struct epoll_event in = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, 0, &in) < 0) nb_die("epoll_ctl stdin");
    struct epoll_event evs[256];
    for (;;) {
        int k = epoll_wait(ep, evs, 256, -1);
        for (int j = 0; j < k; j++) {
            if (evs[j].data.u32 == UINT32_MAX) {
                ssize_t r = read(0, tmp, sizeof tmp);
                if (r <= 0) goto done;
                continue;
            }
            while (read(fds[evs[j].data.u32], tmp, sizeof tmp) > 0) continue;
        }
    }
done:
    for (int i = 0; i < n; i++) close(fds[i]);
    free(fds);
    free(rx);
    close(ep);
    return 0;
}
