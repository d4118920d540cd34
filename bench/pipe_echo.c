/* Pipe transport benchmark (PROTOCOL.md §16): request/response round trips
 * per second over a pipe to a child process, against a floor measured in
 * the same run.
 *
 *   bench_pipe_echo [seconds-per-row]        (default 1)
 *
 * vortex: vx_node_request to a child (this program re-run as
 *         `bench_pipe_echo child`, started with vx_spawn) whose endpoint
 *         replies with the request's filt and tuples; one request in flight.
 * floor:  the same request msg bytes plus '.', written to a forked process
 *         over a pipe pair with blocking write/read, which writes them
 *         straight back: what two processes pay to move those bytes to and
 *         fro, with no encoding, decoding, routing or event loop.
 * ratio = vortex round trips/s / floor round trips/s. Rows use the harness
 * of bench_timing.h (median of 5 interleaved batches; spread > ~10 % means
 * the shared machine interfered). A measurement, not a test: exits 0. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vortexc.h>
#include <vortexc/node.h>
#include <vortexc/pipe.h>

#include "bench_timing.h"

/* ---- the child: echo over stdio ------------------------------------------------ */

static int echo_cb(void *data, vx_payload *req, const vx_route_ctx *ctx, vx_error *err) {
    vx_payload *p = vx_payload_new();
    vx_payload_set_filt_new(p, vx_deep_copy(vx_payload_filt(req)));
    vx_payload_set_tuples_new(p, vx_incref(vx_payload_tuples(req)));
    int rc = ctx->reply(ctx->reply_data, p, err);
    vx_payload_decref(p);
    return rc;
}

static int run_child(void) {
    uv_loop_t *loop = uv_default_loop();
    vx_node *node = vx_node_new(loop, NULL, NULL);
    vx_value *filt = vx_dict();
    vx_dict_set_new(filt, "key", vx_str("bench.echo"));
    if (!node || vx_router_add(vx_node_router(node), filt, echo_cb, NULL, NULL, NULL) < 0 ||
        vx_node_attach_stdio(node, NULL, NULL) < 0)
        return 1;
    vx_decref(filt);
    return uv_run(loop, UV_RUN_DEFAULT);
}

/* ---- vortex round trips ----------------------------------------------------------- */

typedef struct vx_ctx {
    uv_loop_t *loop;
    vx_node *node;
    vx_child *child;
    vx_payload *req;
    uint64_t left;
    bool ready;
} vx_ctx;

static void send_next(vx_ctx *c);

static void resp_cb(void *data, vx_request_status status, vx_payload *reply,
                    const vx_error *err) {
    vx_ctx *c = data;
    if (status != VX_REQUEST_SUCCESS) {
        fprintf(stderr, "bench_pipe_echo: request failed: %s\n", err ? err->message : "?");
        exit(1);
    }
    bx_sink += vx_list_size(vx_payload_tuples(reply));
    if (--c->left)
        send_next(c);
    else
        uv_stop(c->loop);
}

static void send_next(vx_ctx *c) {
    vx_error err;
    if (vx_node_request(c->node, vx_child_uuid(c->child), c->req, NULL, resp_cb, c, &err)) {
        fprintf(stderr, "bench_pipe_echo: %s\n", err.message);
        exit(1);
    }
}

static void vortex_op(void *ctx, uint64_t n) {
    vx_ctx *c = ctx;
    c->left = n;
    send_next(c);
    uv_run(c->loop, UV_RUN_DEFAULT);
}

/* ---- floor: raw ping-pong ------------------------------------------------------- */

typedef struct raw_ctx {
    int wr, rd;
    char *msg; /* request msg + '.' */
    size_t len;
    char *buf;
} raw_ctx;

static void write_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) exit(1);
        p += w;
        n -= (size_t)w;
    }
}

/* The forked echo: write back every byte read, up to each '.'. */
static void raw_echo(int rd, int wr, size_t cap) {
    char *buf = malloc(cap);
    size_t have = 0;
    for (;;) {
        ssize_t r = read(rd, buf + have, cap - have);
        if (r <= 0) _exit(0);
        have += (size_t)r;
        if (memchr(buf + have - (size_t)r, '.', (size_t)r)) {
            write_all(wr, buf, have);
            have = 0;
        }
    }
}

static void raw_op(void *ctx, uint64_t n) {
    raw_ctx *c = ctx;
    for (uint64_t i = 0; i < n; i++) {
        write_all(c->wr, c->msg, c->len);
        size_t got = 0;
        while (got < c->len) {
            ssize_t r = read(c->rd, c->buf + got, c->len - got);
            if (r <= 0) exit(1);
            got += (size_t)r;
        }
        bx_sink += (uint64_t)c->buf[0];
    }
}

/* ---- rows ---------------------------------------------------------------------------- */

/* NEW request: {"key": "bench.echo"} with `n` letters of text (0: one int). */
static vx_payload *make_request(size_t n) {
    vx_payload *p = vx_payload_new_key("bench.echo");
    vx_value *tuples = vx_list();
    if (n == 0) {
        vx_list_append_new(tuples, vx_int(42));
    } else {
        char *s = malloc(n + 1);
        uint32_t x = 2463534242u;
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5; /* text that does not compress away */
            s[i] = (char)('a' + x % 26);
        }
        s[n] = '\0';
        vx_list_append_new(tuples, vx_str(s));
        free(s);
    }
    vx_payload_set_tuples_new(p, tuples);
    return p;
}

static void on_ready(void *data, vx_child *child) {
    vx_ctx *c = data;
    c->ready = true;
    uv_stop(c->loop);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "child") == 0) return run_child();
    if (argc > 1)
        bx_row_seconds = atof(argv[1]) > 0 ? atof(argv[1]) : 1;
    else
        bx_row_seconds = 1;
    signal(SIGPIPE, SIG_IGN);

    uv_loop_t *loop = uv_default_loop();
    vx_ctx vc = {.loop = loop};
    vc.node = vx_node_new(loop, NULL, NULL);
    char self[4096];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl <= 0) {
        snprintf(self, sizeof self, "%s", argv[0]);
    } else {
        self[sl] = '\0';
    }
    const char *cargv[] = {self, "child", NULL};
    vx_spawn_opts so;
    vx_spawn_opts_init(&so);
    so.argv = cargv;
    so.on_ready = on_ready;
    so.data = &vc;
    vx_error err;
    if (!vc.node || vx_spawn(vc.node, &so, &vc.child, &err) < 0) {
        fprintf(stderr, "bench_pipe_echo: cannot start the child: %s\n",
                vc.node ? err.message : "no node");
        return 0;
    }
    uv_run(loop, UV_RUN_DEFAULT);
    if (!vc.ready) {
        fprintf(stderr, "bench_pipe_echo: the child never said hello\n");
        return 0;
    }

    int to[2], from[2];
    if (pipe(to) || pipe(from)) return 0;
    size_t sizes[] = {0, 1024, 16384, 262144};
    pid_t echo = fork();
    if (echo == 0) {
        close(to[1]);
        close(from[0]);
        raw_echo(to[0], from[1], 2 * 1024 * 1024);
    }
    close(to[0]);
    close(from[1]);

    printf("pipe echo: request/response round trips over a pipe to a child process\n");
    printf("  %.2g s per row; floor = raw write/read ping-pong of the same msg bytes\n",
           bx_row_seconds);
    printf("%-22s %9s %14s %14s %7s %8s\n", "payload", "msg B", "vortex rt/s", "floor rt/s",
           "ratio", "spread");
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        vc.req = make_request(sizes[i]);
        /* The floor moves the bytes vx_node_request sends (with a messageId). */
        vx_payload *probe = vx_payload_copy(vc.req);
        vx_dict_set_new(vx_payload_filt(probe), "PayloadResponse.messageId",
                        vx_str("00000000-0000-4000-8000-000000000000"));
        vx_buf b = {0};
        vx_msg_encode(probe, NULL, &b, NULL);
        vx_payload_decref(probe);
        raw_ctx rc = {.wr = to[1], .rd = from[0], .len = b.len + 1};
        rc.msg = malloc(rc.len);
        rc.buf = malloc(rc.len);
        memcpy(rc.msg, b.data, b.len);
        rc.msg[b.len] = '.';
        bx_job jobs[2] = {{.fn = vortex_op, .ctx = &vc}, {.fn = raw_op, .ctx = &rc}};
        bx_measure_group(jobs, 2);
        char label[64];
        if (sizes[i])
            snprintf(label, sizeof label, "1 str of %zu B", sizes[i]);
        else
            snprintf(label, sizeof label, "1 int tuple");
        double v = 1e9 / jobs[0].r.ns_op, f = 1e9 / jobs[1].r.ns_op;
        double spread =
            jobs[0].r.spread > jobs[1].r.spread ? jobs[0].r.spread : jobs[1].r.spread;
        printf("%-22s %9zu %14.0f %14.0f %7.2f %7.0f%%\n", label, b.len, v, f, v / f,
               spread * 100);
        fflush(stdout);
        vx_buf_free(&b);
        free(rc.msg);
        free(rc.buf);
        vx_payload_decref(vc.req);
    }
    close(to[1]);
    close(from[0]);
    waitpid(echo, NULL, 0);
    vx_child_free(vc.child);
    vx_node_free(vc.node);
    uv_run(loop, UV_RUN_DEFAULT);
    printf("(sink %llu)\n", (unsigned long long)bx_sink);
    return 0;
}
