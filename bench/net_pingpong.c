/* Floor for the echo benchmark: plain TCP ping-pong of a fixed-size message
 * between two processes over loopback, `conns` connections closed-loop.
 *
 *   bench_net_pingpong SIZE CONNS SECONDS
 *
 * Forks the server (placement is inherited: run the whole program under
 * `taskset -c 0` to put both processes on one core). Prints one line:
 *   RESULT pingpong size=S conns=C rt_per_s=R spread=X p50_us=P p99_us=Q
 * (R: the median of 5 equal parts of the window; X: their spread). */
#include <signal.h>
#include <sys/epoll.h>
#include <sys/wait.h>

#include "net_common.h"

#define MAX_CONNS 1024

typedef struct pp_conn {
    int fd;
    size_t got;  /* bytes of the current message received */
    double sent; /* when the current ping was written */
} pp_conn;

/* Echo every complete message back, one write each; never returns. */
static void serve(int lfd, int conns, size_t size) {
    int ep = epoll_create1(0);
    char *buf = malloc(size);
    size_t *got = calloc((size_t)conns, sizeof *got);
    int *fds = calloc((size_t)conns, sizeof *fds);
    if (ep < 0 || !buf || !got || !fds) nb_die("server setup");
    for (int i = 0; i < conns; i++) {
        fds[i] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fds[i] < 0) nb_die("accept");
        nb_nodelay(fds[i]);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) < 0) nb_die("epoll_ctl");
    }
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int k = 0; k < n; k++) {
            uint32_t i = evs[k].data.u32;
            ssize_t r = read(fds[i], buf, size - got[i]);
            if (r <= 0) _exit(0); /* the client is done */
            got[i] += (size_t)r;
            if (got[i] == size) {
                got[i] = 0;
                memset(buf, 'p', size);
                nb_write_all(fds[i], buf, size);
            }
        }
    }
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: bench_net_pingpong SIZE CONNS SECONDS\n");
        return 2;
    }
    size_t size = (size_t)atol(argv[1]);
    int conns = atoi(argv[2]);
    double seconds = atof(argv[3]);
    if (size < 1 || conns < 1 || conns > MAX_CONNS || seconds <= 0) return 2;
    nb_raise_nofile();

    int port = 0;
    int lfd = nb_listen(&port, conns + 16);
    pid_t child = fork();
    if (child < 0) nb_die("fork");
    if (child == 0) serve(lfd, conns, size);
    close(lfd);

    static pp_conn c[MAX_CONNS];
    int ep = epoll_create1(0);
    char *msg = malloc(size), *buf = malloc(size);
    if (ep < 0 || !msg || !buf) nb_die("client setup");
    memset(msg, 'q', size);
    for (int i = 0; i < conns; i++) {
        c[i].fd = nb_connect(port);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c[i].fd, &ev) < 0) nb_die("epoll_ctl");
    }
    size_t lat_cap = 1 << 22, lat_n = 0;
    double *lat = malloc(lat_cap * sizeof *lat);
    if (!lat) nb_die("malloc");

    /* 0.3 s warm-up, then the measured window. */
    double t0 = nb_now(), start = t0 + 0.3, end = start + seconds;
    nb_windows win;
    nb_windows_init(&win, start, seconds);
    for (int i = 0; i < conns; i++) {
        c[i].sent = nb_now();
        nb_write_all(c[i].fd, msg, size);
    }
    struct epoll_event evs[256];
    double now = t0;
    while (now < end) {
        int n = epoll_wait(ep, evs, 256, 1000);
        now = nb_now();
        for (int k = 0; k < n; k++) {
            pp_conn *p = &c[evs[k].data.u32];
            ssize_t r = read(p->fd, buf, size - p->got);
            if (r <= 0) nb_die("server went away");
            p->got += (size_t)r;
            if (p->got < size) continue;
            p->got = 0;
            if (now >= start) {
                nb_windows_add(&win, now);
                if (lat_n < lat_cap) lat[lat_n++] = now - p->sent;
            }
            p->sent = now;
            nb_write_all(p->fd, msg, size);
        }
    }
    double spread, rate = nb_windows_rate(&win, &spread);
    for (int i = 0; i < conns; i++) close(c[i].fd);
    int status;
    waitpid(child, &status, 0);
    double p50 = nb_quantile(lat, lat_n, 0.50), p99 = nb_quantile(lat, lat_n, 0.99);
    printf("RESULT pingpong size=%zu conns=%d rt_per_s=%.0f spread=%.2f p50_us=%.1f "
           "p99_us=%.1f\n",
           size, conns, rate, spread, p50 * 1e6, p99 * 1e6);
    free(lat);
    free(msg);
    free(buf);
    return 0;
}
