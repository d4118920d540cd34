/* TLS cost: the same workloads over ws and wss (and http and https), measured
 * in the same run, in one process on one loop (a server vx_node and client
 * vx_nodes), so both sides' encryption is in the numbers.
 *
 *   bench_tls_echo [SECONDS]        (default 2 per row)
 *
 * echo:    CLIENTS clients, closed loop: vx_node_request to an echo endpoint
 *          (a 228-byte msg each way); round trips per second.
 * fan-out: one server broadcast reaches FAN_CLIENTS WebSocket clients; bursts
 *          of FAN_BURST broadcasts, the next when every client has the last;
 *          deliveries per second.
 * The certificate (P-256, self-signed) is made at start with the OpenSSL API;
 * clients run with tls_insecure (verification is a per-connection cost, not
 * a per-msg one). A measurement, not a test: always exits 0 unless broken. */
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <vortexc/client.h>

#define CLIENTS     8
#define FAN_CLIENTS 100
#define FAN_BURST   50
#define WARMUP_S    0.3

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what) {
    fprintf(stderr, "bench_tls_echo: %s\n", what);
    exit(1);
}

/* ---- certificate ----------------------------------------------------------------- */

static char cert_path[64];

static void make_cert(void) {
    snprintf(cert_path, sizeof cert_path, "/tmp/vx_bench_tls_XXXXXX");
    int fd = mkstemp(cert_path);
    if (fd < 0) die("mkstemp");
    FILE *fp = fdopen(fd, "w");
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    if (!fp || !key || !x) die("out of memory making the certificate");
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"localhost",
                               -1, -1, 0);
    X509_set_issuer_name(x, n);
    if (X509_sign(x, key, EVP_sha256()) <= 0 || PEM_write_X509(fp, x) != 1 ||
        PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL) != 1)
        die("cannot write the certificate");
    fclose(fp);
    X509_free(x);
    EVP_PKEY_free(key);
}

/* ---- one run: a server and its clients on a fresh loop ----------------------------- */

typedef struct cl {
    vx_node *node;
    vx_client *client;
    bool online;
    uint64_t got; /* fan-out items received */
} cl;

typedef struct run {
    uv_loop_t loop;
    uv_timer_t tick;
    vx_node *server;
    cl *c;
    int n;
    int online;
    bool tls, ws;
    /* echo */
    vx_payload *req;
    bool measuring, stopping;
    double start, end, dur;
    uint64_t done;
    /* fan-out */
    vx_payload *item;
    uint64_t burst_target; /* every client has this many items: next burst */
    uint64_t delivered_at_start;
} run;

static run R;

static int ep_echo(void *data, vx_payload *p, const vx_route_ctx *ctx, vx_error *err) {
    return ctx->reply(ctx->reply_data, p, err);
}

static int ep_item(void *data, vx_payload *p, const vx_route_ctx *ctx, vx_error *err) {
    ((cl *)data)->got++;
    return 0;
}

static void add_ep(vx_node *n, const char *key, vx_endpoint_fn fn, void *data) {
    vx_value *filt = vx_dict();
    vx_dict_set_new(filt, "key", vx_str(key));
    if (vx_router_add(vx_node_router(n), filt, fn, data, NULL, NULL)) die("router add");
    vx_decref(filt);
}

static void on_state(void *data, bool online) {
    cl *c = data;
    if (online && !c->online) R.online++;
    if (!online && c->online) R.online--;
    c->online = online;
}

static void send_req(cl *c);

static void on_reply(void *data, vx_request_status st, vx_payload *reply,
                     const vx_error *err) {
    if (R.stopping) return;
    if (st != VX_REQUEST_SUCCESS) die(err ? err->message : "request failed");
    double t = now_s();
    if (t >= R.start && t < R.end) R.done++;
    send_req(data);
}

static void send_req(cl *c) {
    if (vx_node_request(c->node, NULL, R.req, NULL, on_reply, c, NULL)) die("request");
}

static uint64_t delivered(void) {
    uint64_t s = 0;
    for (int i = 0; i < R.n; i++) s += R.c[i].got;
    return s;
}

static void burst(void) {
    for (int i = 0; i < FAN_BURST; i++)
        if (vx_node_broadcast(R.server, R.item, NULL)) die("broadcast");
    R.burst_target += FAN_BURST;
}

static bool all_have_burst(void) {
    for (int i = 0; i < R.n; i++)
        if (R.c[i].got < R.burst_target) return false;
    return true;
}

static void on_tick(uv_timer_t *t) {
    double now = now_s();
    if (!R.measuring) {
        if (R.online < R.n) {
            if (now > R.start + 20) die("clients did not come online");
            return;
        }
        R.measuring = true;
        R.start = now + WARMUP_S;
        R.end = R.start + R.dur;
        if (R.req)
            for (int i = 0; i < R.n; i++) send_req(&R.c[i]);
        else
            burst();
        return;
    }
    if (R.item && all_have_burst()) {
        if (R.delivered_at_start == 0 && now >= R.start)
            R.delivered_at_start = delivered() + 1; /* +1: 0 means "not yet" */
        if (now < R.end) burst();
    }
    if (now >= R.end && (!R.item || all_have_burst())) {
        R.stopping = true;
        uv_stop(&R.loop);
    }
}

/* Rate of the row: echo round trips/s or fan-out deliveries/s. */
static double run_row(bool ws, bool tls, int clients, bool fan, double seconds) {
    memset(&R, 0, sizeof R);
    R.tls = tls;
    R.ws = ws;
    R.n = clients;
    if (uv_loop_init(&R.loop)) die("loop");
    vx_node_opts o;
    vx_node_opts_init(&o);
    o.name = "srv";
    R.server = vx_node_new(&R.loop, &o, NULL);
    vx_listen_opts lo;
    vx_listen_opts_init(&lo);
    if (tls) lo.tls_cert_file = cert_path;
    vx_error err;
    if (vx_node_listen(R.server, &lo, &err)) die(err.message);
    add_ep(R.server, "b.echo", ep_echo, NULL);
    char url[96];
    snprintf(url, sizeof url, "%s%s://127.0.0.1:%d/", ws ? "ws" : "http", tls ? "s" : "",
             vx_node_port(R.server));
    vx_client_opts co;
    vx_client_opts_init(&co);
    co.tls_insecure = true;
    R.c = calloc((size_t)clients, sizeof *R.c);
    for (int i = 0; i < clients; i++) {
        o.name = "cli";
        R.c[i].node = vx_node_new(&R.loop, &o, NULL);
        R.c[i].client = vx_client_new(R.c[i].node, url, &co, &err);
        if (!R.c[i].client) die(err.message);
        vx_client_on_state(R.c[i].client, on_state, &R.c[i]);
        add_ep(R.c[i].node, "b.item", ep_item, &R.c[i]);
    }
    /* 228-byte msg: filt key + one untyped tuple, as the network bench */
    vx_payload *p = vx_payload_new_key(fan ? "b.item" : "b.echo");
    vx_value *tuples = vx_list();
    vx_list_append_new(tuples, vx_str("0123456789abcdef0123456789abcdef"));
    vx_payload_set_tuples_new(p, tuples);
    if (fan)
        R.item = p;
    else
        R.req = p;
    R.start = now_s(); /* until measuring: when the clients started */
    R.dur = seconds;
    uv_timer_init(&R.loop, &R.tick);
    uv_timer_start(&R.tick, on_tick, 1, 1);
    uv_run(&R.loop, UV_RUN_DEFAULT);
    double t0 = now_s() - R.start;
    double rate = fan ? (double)(delivered() - (R.delivered_at_start - 1)) / t0
                      : (double)R.done / seconds;
    for (int i = 0; i < clients; i++) {
        vx_client_free(R.c[i].client);
        vx_node_free(R.c[i].node);
    }
    vx_node_free(R.server);
    uv_close((uv_handle_t *)&R.tick, NULL);
    uv_run(&R.loop, UV_RUN_DEFAULT);
    uv_loop_close(&R.loop);
    vx_payload_decref(p);
    free(R.c);
    return rate;
}

int main(int argc, char **argv) {
    double secs = argc > 1 ? atof(argv[1]) : 2;
    if (!(secs > 0)) secs = 2;
    make_cert();
    printf("TLS cost, one process (server + clients on one loop), %.1f s per row\n", secs);
    printf("%-34s %14s %14s %8s\n", "workload", "plain", "TLS", "TLS/plain");
    struct {
        const char *name;
        bool ws, fan;
        int clients;
        const char *unit;
    } rows[] = {
        {"echo ws vs wss, 8 clients", true, false, CLIENTS, "rt/s"},
        {"echo http vs https, 8 clients", false, false, CLIENTS, "rt/s"},
        {"fan-out ws vs wss, 100 clients", true, true, FAN_CLIENTS, "msg/s"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        double plain = run_row(rows[i].ws, false, rows[i].clients, rows[i].fan, secs);
        double tls = run_row(rows[i].ws, true, rows[i].clients, rows[i].fan, secs);
        printf("%-34s %9.0f %-4s %9.0f %-4s %8.2f\n", rows[i].name, plain, rows[i].unit,
               tls, rows[i].unit, plain > 0 ? tls / plain : 0);
        fflush(stdout);
    }
    unlink(cert_path);
    return 0;
}
