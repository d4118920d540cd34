/* Pipe transport benchmark (PROTOCOL.md §16): request/response round trips
 * per second over a pipe to a child process, against floors measured in
 * the same run.
 *
 *   bench_pipe_echo [-l zlib-level] [seconds-per-row [payload-bytes ...]]
 *
 * (defaults: the codec's level policy, 1 s, every size). -l sets the
 * codec's zlib_level in both nodes and in the codec floor, to see what
 * compression costs on a pipe (bench/README.md, "Pipe echo").
 *
 * vortex: vx_node_request to a child (this program re-run as
 *         `bench_pipe_echo child`, started with vx_spawn) whose endpoint
 *         replies with the request's filt and tuples; one request in flight.
 * floor:  the same request msg bytes plus '.', written to a forked process
 *         over a pipe pair with blocking write/read, which writes them
 *         straight back: what two processes pay to move those bytes to and
 *         fro, with no encoding, decoding, routing or event loop.
 * codec:  what the codec work of one round trip costs in one process, no
 *         I/O: encode the request (messageId included), decode it, encode
 *         the reply, decode it, with a reused vx_codec as a node has.
 * ratio = vortex / floor. vs f+c = vortex / (1 / (1/floor + 1/codec)): the
 * share of the best a transport could do when it still has to encode and
 * decode; 1.0 means the transport, node, router and loop cost nothing.
 * cpu us/rt: CPU time of parent plus child per vortex round trip (from
 * /proc/<pid>/schedstat): steadier than wall-clock rates when the machine
 * is loaded, though not immune (caches are shared too). Rows use the
 * harness of bench_timing.h (median of 5 interleaved batches; spread
 * > ~10 % means the shared machine interfered). A measurement, not a
 * test: exits 0. */
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

/* Node options with the codec's zlib level from -l (VX_ZLIB_LEVEL_AUTO
 * when not given). */
static vx_node_opts node_opts(int level) {
    vx_node_opts o;
    vx_node_opts_init(&o);
    o.codec.zlib_level = level;
    return o;
}

static int run_child(int level) {
    uv_loop_t *loop = uv_default_loop();
    vx_node_opts no = node_opts(level);
    vx_node *node = vx_node_new(loop, &no, NULL);
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
    int child_pid;
    double cpu_ns; /* parent + child CPU over the vortex_ops of the latest size n */
    uint64_t ops, last_n;
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

/* Nanoseconds a process's main thread has run (0 where schedstat is
 * missing: the cpu column then shows "-"). */
static double run_ns(int pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/schedstat", pid);
    FILE *f = fopen(path, "r");
    unsigned long long ns = 0;
    if (f) {
        if (fscanf(f, "%llu", &ns) != 1) ns = 0;
        fclose(f);
    }
    return (double)ns;
}

static void vortex_op(void *ctx, uint64_t n) {
    vx_ctx *c = ctx;
    /* The timed batches share one n; calibration calls (other n) are left
     * out, their few round trips would carry the cost of reading /proc. */
    if (n != c->last_n) c->cpu_ns = 0, c->ops = 0, c->last_n = n;
    double t0 = run_ns(getpid()) + run_ns(c->child_pid);
    c->left = n;
    send_next(c);
    uv_run(c->loop, UV_RUN_DEFAULT);
    c->cpu_ns += run_ns(getpid()) + run_ns(c->child_pid) - t0;
    c->ops += n;
}

/* ---- codec floor: the encodes and decodes of one round trip ---------------- */

typedef struct codec_ctx {
    vx_codec *codec;
    vx_payload *req; /* with a messageId, as vx_node_request sends it */
    vx_buf out;
} codec_ctx;

static void codec_half(codec_ctx *c) {
    vx_error err;
    vx_payload *p = NULL;
    c->out.len = 0;
    if (vx_codec_encode(c->codec, c->req, &c->out, &err) < 0 ||
        vx_codec_decode(c->codec, c->out.data, c->out.len, &p, &err) < 0) {
        fprintf(stderr, "bench_pipe_echo: codec: %s\n", err.message);
        exit(1);
    }
    bx_sink += vx_list_size(vx_payload_tuples(p));
    vx_payload_decref(p);
}

static void codec_op(void *ctx, uint64_t n) {
    for (uint64_t i = 0; i < n; i++) {
        codec_half(ctx); /* the request: parent encodes, child decodes */
        codec_half(ctx); /* the reply, the same filt and tuples back */
    }
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

/* The forked echo holds a whole msg (2 MiB); a payload of this many
 * letters makes a msg well under that. */
#define ECHO_MAX_PAYLOAD (1024 * 1024)

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
    if (argc > 2 && strcmp(argv[1], "child") == 0) return run_child(atoi(argv[2]));
    int level = VX_ZLIB_LEVEL_AUTO;
    char level_arg[16];
    if (argc > 2 && strcmp(argv[1], "-l") == 0) {
        level = atoi(argv[2]);
        argv += 2;
        argc -= 2;
    }
    snprintf(level_arg, sizeof level_arg, "%d", level);
    vx_node_opts no = node_opts(level);
    bx_row_seconds = argc > 1 && atof(argv[1]) > 0 ? atof(argv[1]) : 1;
    signal(SIGPIPE, SIG_IGN);

    uv_loop_t *loop = uv_default_loop();
    vx_ctx vc = {.loop = loop};
    vc.node = vx_node_new(loop, &no, NULL);
    char self[4096];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl <= 0) {
        snprintf(self, sizeof self, "%s", argv[0]);
    } else {
        self[sl] = '\0';
    }
    const char *cargv[] = {self, "child", level_arg, NULL};
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

    vc.child_pid = vx_child_pid(vc.child);

    int to[2], from[2];
    if (pipe(to) || pipe(from)) return 0;
    size_t sizes[16] = {0, 1024, 16384, 262144}, nsizes = 4;
    if (argc > 2) /* only these payload sizes (profiling one row) */
        for (nsizes = 0; nsizes < 16 && (int)nsizes + 2 < argc; nsizes++) {
            unsigned long n = strtoul(argv[nsizes + 2], NULL, 10);
            sizes[nsizes] = n > ECHO_MAX_PAYLOAD ? ECHO_MAX_PAYLOAD : n;
        }
    pid_t echo = fork();
    if (echo == 0) {
        close(to[1]);
        close(from[0]);
        raw_echo(to[0], from[1], 2 * 1024 * 1024);
    }
    close(to[0]);
    close(from[1]);

    printf("pipe echo: request/response round trips over a pipe to a child process\n");
    printf("  %.2g s per row; floor = raw write/read ping-pong of the same msg bytes;\n"
           "  codec = the round trip's 2 encodes + 2 decodes in one process, no I/O\n",
           bx_row_seconds);
    if (level == VX_ZLIB_LEVEL_AUTO)
        printf("  zlib_level: the codec's policy (VX_ZLIB_LEVEL_AUTO)\n");
    else
        printf("  zlib_level: %d in both nodes (-l)\n", level);
    printf("%-17s %7s %11s %11s %6s %11s %6s %10s %7s\n", "payload", "msg B", "vortex rt/s",
           "floor rt/s", "ratio", "codec rt/s", "vs f+c", "cpu us/rt", "spread");
    vx_codec *codec = vx_codec_new(&no.codec);
    if (!codec) return 0;
    for (size_t i = 0; i < nsizes; i++) {
        vc.req = make_request(sizes[i]);
        /* The floor moves the bytes vx_node_request sends (with a messageId). */
        vx_payload *probe = vx_payload_copy(vc.req);
        vx_dict_set_new(vx_payload_filt(probe), "PayloadResponse.messageId",
                        vx_str("00000000-0000-4000-8000-000000000000"));
        vx_buf b = {0};
        vx_msg_encode(probe, &no.codec, &b, NULL);
        codec_ctx cc = {.codec = codec, .req = probe};
        raw_ctx rc = {.wr = to[1], .rd = from[0], .len = b.len + 1};
        rc.msg = malloc(rc.len);
        rc.buf = malloc(rc.len);
        memcpy(rc.msg, b.data, b.len);
        rc.msg[b.len] = '.';
        vc.last_n = 0;
        bx_job jobs[3] = {{.fn = vortex_op, .ctx = &vc},
                          {.fn = raw_op, .ctx = &rc},
                          {.fn = codec_op, .ctx = &cc}};
        bx_measure_group(jobs, 3);
        char label[64];
        if (sizes[i])
            snprintf(label, sizeof label, "1 str of %zu B", sizes[i]);
        else
            snprintf(label, sizeof label, "1 int tuple");
        double v = 1e9 / jobs[0].r.ns_op, f = 1e9 / jobs[1].r.ns_op,
               k = 1e9 / jobs[2].r.ns_op;
        double fc = 1e9 / (jobs[1].r.ns_op + jobs[2].r.ns_op);
        double spread = 0;
        for (int j = 0; j < 3; j++)
            if (jobs[j].r.spread > spread) spread = jobs[j].r.spread;
        char cpu[32] = "-";
        if (vc.ops && vc.cpu_ns > 0)
            snprintf(cpu, sizeof cpu, "%.1f", vc.cpu_ns / 1e3 / vc.ops);
        printf("%-17s %7zu %11.0f %11.0f %6.2f %11.0f %6.2f %10s %6.0f%%\n", label, b.len,
               v, f, v / f, k, v / fc, cpu, spread * 100);
        fflush(stdout);
        vx_payload_decref(probe);
        vx_buf_free(&cc.out);
        vx_buf_free(&b);
        free(rc.msg);
        free(rc.buf);
        vx_payload_decref(vc.req);
    }
    vx_codec_free(codec);
    close(to[1]);
    close(from[0]);
    waitpid(echo, NULL, 0);
    vx_child_free(vc.child);
    vx_node_free(vc.node);
    uv_run(loop, UV_RUN_DEFAULT);
    printf("(sink %llu)\n", (unsigned long long)bx_sink);
    return 0;
}
