/* vxload: command line, the listen and broadcast modes and their summaries.
 * Usage in tools/vxload/README.md. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "vxload.h"

static void usage(FILE *out) {
    fputs("usage:\n"
          "  vxload listen    --url http://IP:PORT [--ws N] [--http M] --expect K\n"
          "                   [--timeout S] [--connect-timeout S] [--rcvbuf BYTES]\n"
          "                   [--batch N] [--name NAME]\n"
          "  vxload broadcast --url http://IP:PORT --count K [--every E] [--interval MS]\n"
          "                   [--size BYTES] [--timeout S]\n"
          "  vxload send      --url ws://IP:PORT|http://IP:PORT --count N [--interval MS]\n"
          "                   [--key KEY] [--timeout S]\n"
          "common: [--ws-path /vortexws] [--http-path /vortex]\n",
          out);
}

static int bad(const char *flag, const char *why) {
    fprintf(stderr, "vxload: %s: %s\n", flag, why);
    usage(stderr);
    return 2;
}

static bool num(const char *s, double lo, double hi, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v) || v < lo || v > hi) return false;
    *out = v;
    return true;
}

int vxl_parse_args(int argc, char **argv, vxl_args *a) {
    memset(a, 0, sizeof *a);
    a->name = "vxload";
    a->every = 1;
    a->interval = 1;
    a->timeout = 60;
    a->connect_timeout = 30;
    a->batch = 64;
    a->ws_path = "/vortexws";
    a->http_path = "/vortex";
    a->key = "vortexd.record";
    if (argc < 2) return bad("mode", "missing (listen, broadcast or send)");
    if (!strcmp(argv[1], "--help")) {
        usage(stdout);
        return -1;
    }
    a->mode = argv[1];
    if (strcmp(a->mode, "listen") && strcmp(a->mode, "broadcast") &&
        strcmp(a->mode, "send"))
        return bad(a->mode, "unknown mode");
    for (int i = 2; i < argc; i++) {
        const char *f = argv[i];
        if (!strcmp(f, "--help")) {
            usage(stdout);
            return -1;
        }
        if (i + 1 >= argc) return bad(f, "needs a value (or unknown flag)");
        const char *v = argv[++i];
        double d;
#define NUM(lo, hi)                                                                        \
    if (!num(v, lo, hi, &d)) return bad(f, "bad number")
        if (!strcmp(f, "--url"))
            a->url = v;
        else if (!strcmp(f, "--name"))
            a->name = v;
        else if (!strcmp(f, "--ws-path"))
            a->ws_path = v;
        else if (!strcmp(f, "--http-path"))
            a->http_path = v;
        else if (!strcmp(f, "--key"))
            a->key = v;
        else if (!strcmp(f, "--ws")) {
            NUM(0, 1e6);
            a->n_ws = (int)d;
        } else if (!strcmp(f, "--http")) {
            NUM(0, 1e6);
            a->n_http = (int)d;
        } else if (!strcmp(f, "--expect")) {
            NUM(1, 1e8);
            a->expect = (int64_t)d;
        } else if (!strcmp(f, "--count")) {
            NUM(0, 1e7);
            a->count = (int64_t)d;
        } else if (!strcmp(f, "--every")) {
            NUM(1, 1e7);
            a->every = (int64_t)d;
        } else if (!strcmp(f, "--interval")) {
            NUM(0, 60000);
            a->interval = (int64_t)d;
        } else if (!strcmp(f, "--size")) {
            NUM(0, 64 << 20);
            a->size = (int64_t)d;
        } else if (!strcmp(f, "--timeout")) {
            NUM(0.001, 1e6);
            a->timeout = d;
        } else if (!strcmp(f, "--connect-timeout")) {
            NUM(0.001, 1e6);
            a->connect_timeout = d;
        } else if (!strcmp(f, "--rcvbuf")) {
            NUM(0, 1 << 30);
            a->rcvbuf = (int)d;
        } else if (!strcmp(f, "--batch")) {
            NUM(1, 1e6);
            a->batch = (int)d;
        } else
            return bad(f, "unknown flag");
#undef NUM
    }
    if (!a->url) return bad("--url", "required");
    if (!strcmp(a->mode, "listen")) {
        if (a->n_ws + a->n_http == 0) return bad("--ws/--http", "no clients");
        if (!a->expect) return bad("--expect", "required");
    }
    if (!strcmp(a->mode, "broadcast") && a->interval < 1)
        return bad("--interval", "must be >= 1 for broadcast");
    return 0;
}

/* Many sockets: the soft limit of open files up to the hard limit. */
static void raise_nofile(int want) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl)) return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && (rlim_t)want + 32 > rl.rlim_cur)
        fprintf(stderr, "vxload: warning: %d clients but only %llu file descriptors\n",
                want, (unsigned long long)rl.rlim_cur);
}

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int cmp_float(const void *x, const void *y) {
    float a = *(const float *)x, b = *(const float *)y;
    return (a > b) - (a < b);
}

static double pct(const float *v, size_t n, double p) {
    if (!n) return 0;
    size_t i = (size_t)ceil(p * (double)n) - 1;
    if (i >= n) i = n - 1;
    return v[i];
}

/* Run the loop until finished, then close everything and free it. */
static void run_and_close(uv_loop_t *loop, vxl *L) {
    uv_run(loop, UV_RUN_DEFAULT);
    vxl_stop(L);
    while (uv_run(loop, UV_RUN_DEFAULT)) {
    }
}

int vxl_run_listen(const vxl_args *a) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    vxl L;
    memset(&L, 0, sizeof L);
    L.loop = &loop;
    L.args = a;
    L.n_clients = a->n_ws + a->n_http;
    raise_nofile(L.n_clients);
    if (vxl_start(&L)) return 1;
    run_and_close(&loop, &L);

    uint64_t received = 0, dups = 0, order = 0, unexpected = 0;
    int complete = 0, incomplete_shown = 0;
    for (int i = 0; i < L.n_clients; i++) {
        vxl_client *c = &L.clients[i];
        received += c->received;
        dups += c->dups;
        order += c->order;
        unexpected += c->unexpected;
        if (c->received == (uint64_t)a->expect)
            complete++;
        else if (incomplete_shown++ < 5)
            fprintf(stderr, "vxload: client %d (%s) got %u of %lld (highest seq %lld)\n", i,
                    c->transport == VXL_WS ? "ws" : "http", c->received,
                    (long long)a->expect, (long long)c->highest);
    }
    qsort(L.lat, L.n_lat, sizeof *L.lat, cmp_float);
    double elapsed = (L.t_end ? L.t_end : vxl_mono()) - (L.t_ready ? L.t_ready : L.t_start);
    bool ok = L.ready_printed && complete == L.n_clients && !dups && !order &&
              !unexpected && !L.failed && !L.bad_msgs;
    printf(
        "{\"mode\": \"listen\", \"ok\": %s, \"clients\": %d, \"ws\": %d, \"http\": %d, "
        "\"expected\": %lld, \"received\": %llu, \"complete\": %d, \"connect_failed\": %d, "
        "\"disconnects\": %d, \"order_violations\": %llu, \"duplicates\": %llu, "
        "\"unexpected\": %llu, \"undecodable\": %llu, \"reposts\": %llu, "
        "\"p50_ms\": %.3f, \"p99_ms\": %.3f, \"max_ms\": %.3f, \"seconds\": %.3f, "
        "\"cpu_s\": %.3f}\n",
        ok ? "true" : "false", L.n_clients, a->n_ws, a->n_http, (long long)a->expect,
        (unsigned long long)received, complete, L.failed, L.disconnects,
        (unsigned long long)order, (unsigned long long)dups, (unsigned long long)unexpected,
        (unsigned long long)L.bad_msgs, (unsigned long long)L.reposts,
        pct(L.lat, L.n_lat, 0.50), pct(L.lat, L.n_lat, 0.99),
        L.n_lat ? (double)L.lat[L.n_lat - 1] : 0.0, elapsed, cpu_seconds());
    fflush(stdout);
    if (L.clients && L.clients[0].bits) free(L.clients[0].bits);
    free(L.clients);
    free(L.lat);
    vxl_cache_free();
    uv_loop_close(&loop);
    return ok ? 0 : 1;
}

/* ---- broadcast ------------------------------------------------------------- */

static const vxl_args *bc_args;

static void bc_hello(vxl_client *c) {
    const vxl_args *a = bc_args;
    vx_payload *p = vx_payload_new_key("vortexd.stream");
    vx_value *f = p ? vx_payload_filt(p) : NULL;
    vx_buf out = {0};
    vx_error err = {0};
    vx_codec_opts co;
    vx_codec_opts_init(&co);
    int rc = !p || vx_dict_set_new(f, "n", vx_int(a->count)) ||
             vx_dict_set_new(f, "every", vx_int(a->every)) ||
             vx_dict_set_new(f, "interval", vx_int(a->interval)) ||
             vx_dict_set_new(f, "size", vx_int(a->size));
    if (!rc) rc = vx_msg_encode(p, &co, &out, &err);
    if (!rc) rc = vx_buf_append(&out, ".", 1);
    if (!rc) rc = vxl_ws_send(c, 1, out.data, out.len);
    if (rc) {
        fprintf(stderr, "vxload: cannot send the stream request: %s\n", err.message);
        c->L->disconnects++;
    }
    vx_buf_free(&out);
    vx_payload_decref(p);
}

int vxl_run_broadcast(const vxl_args *a) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    vxl L;
    memset(&L, 0, sizeof L);
    vxl_args ca = *a;
    ca.n_ws = 1;
    ca.n_http = 0;
    ca.expect = 0;
    bc_args = a;
    L.loop = &loop;
    L.args = &ca;
    L.n_clients = 1;
    L.broadcast = true;
    L.hello_fn = bc_hello;
    if (vxl_start(&L)) return 1;
    double t0 = vxl_mono();
    run_and_close(&loop, &L);
    bool ok = L.done_seen && L.done_sent == a->count && L.done_failed == 0;
    printf("{\"mode\": \"broadcast\", \"ok\": %s, \"requested\": %lld, \"sent\": %lld, "
           "\"failed\": %lld, \"seconds\": %.3f, \"cpu_s\": %.3f}\n",
           ok ? "true" : "false", (long long)a->count, (long long)L.done_sent,
           (long long)L.done_failed, vxl_mono() - t0, cpu_seconds());
    fflush(stdout);
    free(L.clients);
    vxl_cache_free();
    uv_loop_close(&loop);
    return ok ? 0 : 1;
}

int main(int argc, char **argv) {
    vxl_args a;
    int rc = vxl_parse_args(argc, argv, &a);
    if (rc) return rc < 0 ? 0 : rc;
    signal(SIGPIPE, SIG_IGN);
    if (!strcmp(a.mode, "listen")) return vxl_run_listen(&a);
    if (!strcmp(a.mode, "broadcast")) return vxl_run_broadcast(&a);
    return vxl_run_send(&a);
}
