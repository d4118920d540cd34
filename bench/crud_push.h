/* Push latency (bench_crud push): SUBSCRIBERS library clients (a vx_node +
 * ws:// vx_client each, one loop in this process) and one writer in a forked
 * child process (its own loop, so its round trips are not queued behind the
 * subscribers' work).
 *
 * crud: each subscriber sends filt {"key": "crud.T", "subscribe": true} and
 *   waits for the reply (all rows); then the writer sends UPDATES updates,
 *   one every INTERVAL_MS (or when the previous reply arrives, if later), of
 *   row 1 + seq % ROWS with name "push-SEQ-US", US = CLOCK_REALTIME µs at
 *   send. vortexd commits and pushes filt {"key": "crud.T", "subscribe":
 *   true} with the stored row to every subscriber (docs/handlers.md §4.3).
 * broadcast: the same clients and writer, but the writer's payload goes to
 *   {"key": "vortexd.broadcast"} (vortexd --test-endpoints), which sends
 *   {"key": "vortexd.sent"} with a copy of the tuples to every connection:
 *   the same fan-out without the database (the baseline).
 * Each subscriber records arrival (CLOCK_REALTIME) - US for every pushed row
 * it has not seen yet. Prints
 *   RESULT push-MODE subs=S updates=U delivered=D expected=E dup=X
 *          offline=N p50_ms=.. p99_ms=.. max_ms=.. first_p50_ms=.. last_p50_ms=..
 *          commit_p50_ms=.. commit_p99_ms=.. subscribe_s=.. rtt_p50_ms=..
 *          rtt_p99_ms=.. writes=N failed=N
 * first_p50_ms / last_p50_ms: median over updates of the first / the last
 * subscriber's latency (the last one includes this process decoding every
 * subscriber's copy on one loop, so does the p50 of all deliveries);
 * commit_*: arrival - the push payload's "date", which vortexd stamps when it
 * makes the push on its loop right after the commit (the broadcast: when it
 * makes the broadcast payload); one machine, one clock;
 * rtt: the writer's own request -> reply time (reply sent at commit). */
#ifndef VX_BENCH_CRUD_PUSH_H
#define VX_BENCH_CRUD_PUSH_H

#include <signal.h>
#include <sys/wait.h>

/* ---- the writer (child process) ------------------------------------------ */

static struct {
    vx_node *node;
    vx_client *client;
    bc_names names;
    bool crud, waiting;
    int updates, rows, seq, failed;
    double interval, last_send, sent_at;
    double *rtt;
    int n_rtt;
    uv_timer_t timer;
} g_wr;

static void wr_send(void);

static void wr_on_reply(void *data, vx_request_status st, vx_payload *reply,
                        const vx_error *err) {
    (void)data, (void)reply;
    if (st != VX_REQUEST_SUCCESS) {
        fprintf(stderr, "bench_crud: writer request: %s\n", err ? err->message : "?");
        g_wr.failed++;
    } else {
        g_wr.rtt[g_wr.n_rtt++] = nb_now() - g_wr.sent_at;
    }
    g_wr.waiting = false;
}

static void wr_send(void) {
    char name[64];
    int seq = g_wr.seq++;
    int64_t id = 1 + seq % g_wr.rows;
    g_wr.sent_at = g_wr.last_send = nb_now();
    snprintf(name, sizeof name, "push-%d-%" PRId64, seq, nb_wall_us());
    vx_value *row = bc_row(&g_wr.names, id, name, (double)seq);
    vx_payload *p =
        bc_payload_with_row(g_wr.crud ? g_wr.names.key : "vortexd.broadcast", row);
    vx_error e = {0};
    g_wr.waiting = true;
    if (vx_node_request(g_wr.node, NULL, p, NULL, wr_on_reply, NULL, &e))
        bc_fail("writer vx_node_request", &e);
    vx_payload_decref(p);
}

/* Every ms: the next update when it is due and the previous one answered. */
static void wr_tick(uv_timer_t *t) {
    if (!vx_client_online(g_wr.client) || g_wr.waiting) return;
    if (g_wr.seq >= g_wr.updates) {
        uv_stop(t->loop);
        return;
    }
    if (g_wr.seq == 0 || nb_now() >= g_wr.last_send + g_wr.interval) wr_send();
}

static void writer_main(int port, const bc_names *names, bool crud, int updates,
                        int interval_ms, int rows, int res_fd) {
    uv_loop_t *loop = uv_default_loop();
    char url[128];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d", port);
    g_wr.names = *names;
    g_wr.crud = crud;
    g_wr.updates = updates;
    g_wr.rows = rows;
    g_wr.interval = interval_ms / 1000.0;
    g_wr.rtt = calloc((size_t)updates, sizeof *g_wr.rtt);
    vx_node_opts o;
    vx_node_opts_init(&o);
    o.name = "bench-crud-writer";
    vx_error e = {0};
    g_wr.node = vx_node_new(loop, &o, &e);
    if (!g_wr.node || !g_wr.rtt) bc_fail("writer node", &e);
    g_wr.client = vx_client_new(g_wr.node, url, NULL, &e);
    if (!g_wr.client) bc_fail("writer client", &e);
    uv_timer_init(loop, &g_wr.timer);
    uv_timer_start(&g_wr.timer, wr_tick, 1, 1);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_timer_stop(&g_wr.timer);
    uv_close((uv_handle_t *)&g_wr.timer, NULL);
    vx_client_free(g_wr.client);
    vx_node_free(g_wr.node);
    uv_run(loop, UV_RUN_DEFAULT);
    char line[160];
    int n = snprintf(
        line, sizeof line, "rtt_p50_ms=%.3f rtt_p99_ms=%.3f writes=%d failed=%d",
        nb_quantile(g_wr.rtt, (size_t)g_wr.n_rtt, 0.5) * 1e3,
        nb_quantile(g_wr.rtt, (size_t)g_wr.n_rtt, 0.99) * 1e3, g_wr.n_rtt, g_wr.failed);
    nb_write_all(res_fd, line, (size_t)n);
    free(g_wr.rtt);
}

#define PUSH_SUBSCRIBE_WINDOW 64

/* ---- the subscribers (this process) -------------------------------------- */

typedef struct push_sub {
    vx_node *node;
    vx_client *client;
    bool online, requested, subscribed;
    uint8_t *got; /* per update: seen */
} push_sub;

static struct {
    push_sub *s;
    int n, updates, online, requested, subscribed;
    bool crud, go;
    bc_names names;
    double *lat;  /* every delivery's latency from the writer's send, seconds */
    double *clat; /* the same from the push's "date" (vortexd made it after the commit) */
    double *slowest; /* per update: the largest latency so far */
    double *fastest; /* per update: the smallest (0 = none yet) */
    size_t n_lat;
    uint64_t dup;
    int offline; /* subscribers that went offline during the run */
    double t0, t_go, child_done;
    pid_t child;
    int go_fd;
    uv_timer_t timer;
} g_ps;

/* A pushed payload: every row named "push-SEQ-US" counts once per subscriber. */
static int on_push(void *data, vx_payload *p, const vx_route_ctx *ctx, vx_error *err) {
    (void)ctx, (void)err;
    push_sub *s = data;
    int64_t now = nb_wall_us();
    if (vx_dict_get(vx_payload_filt(p), "PayloadResponse.messageId"))
        return 0; /* a reply */
    const vx_value *date = vx_payload_date(p);
    double clat = vx_typeof(date) == VX_DATETIME
                      ? (double)(now - vx_datetime_value(date)) * 1e-6
                      : -1;
    vx_value *tuples = vx_payload_tuples(p);
    for (size_t i = 0; tuples && i < vx_list_size(tuples); i++) {
        vx_value *row = vx_list_get(tuples, i);
        vx_value *name = vx_typeof(row) == VX_TUPLE ? vx_tuple_get(row, "name") : NULL;
        int seq;
        int64_t us;
        if (!name || vx_typeof(name) != VX_STR ||
            sscanf(vx_str_value(name), "push-%d-%" SCNd64, &seq, &us) != 2 || seq < 0 ||
            seq >= g_ps.updates)
            continue;
        if (s->got[seq]) {
            g_ps.dup++;
            continue;
        }
        s->got[seq] = 1;
        double lat = (double)(now - us) * 1e-6;
        g_ps.clat[g_ps.n_lat] = clat;
        g_ps.lat[g_ps.n_lat++] = lat;
        if (lat > g_ps.slowest[seq]) g_ps.slowest[seq] = lat;
        if (!g_ps.fastest[seq] || lat < g_ps.fastest[seq]) g_ps.fastest[seq] = lat;
    }
    return 0;
}

static void on_subscribed(void *data, vx_request_status st, vx_payload *reply,
                          const vx_error *err) {
    push_sub *s = data;
    (void)reply;
    if (g_ps.go) return; /* only the end frees nodes with requests in flight */
    if (st != VX_REQUEST_SUCCESS) bc_fail("subscribe", err);
    s->subscribed = true;
    g_ps.subscribed++;
}

static void ps_on_state(void *data, bool online) {
    push_sub *s = data;
    if (online && !s->online) g_ps.online++;
    if (!online && s->online) {
        g_ps.online--;
        /* The first loss says why; the count goes into the RESULT line. */
        if (!g_ps.child_done && g_ps.offline++ == 0) {
            const char *why = vx_client_last_error(s->client);
            fprintf(stderr, "bench_crud: a subscriber went offline: %s\n", why ? why : "?");
        }
    }
    s->online = online;
}

static void ps_subscribe(push_sub *s) {
    s->requested = true;
    g_ps.requested++;
    if (!g_ps.crud) { /* a broadcast reaches every connection */
        s->subscribed = true;
        g_ps.subscribed++;
        return;
    }
    vx_payload *p = vx_payload_new_key(g_ps.names.key);
    if (!p || vx_dict_set_new(vx_payload_filt(p), "subscribe", vx_bool(true)))
        bc_fail("subscribe payload", NULL);
    vx_request_opts ro = {.timeout = 120};
    vx_error e = {0};
    if (vx_node_request(s->node, NULL, p, &ro, on_subscribed, s, &e))
        bc_fail("subscribe request", &e);
    vx_payload_decref(p);
}

static void ps_tick(uv_timer_t *t) {
    double now = nb_now();
    if (!g_ps.go) {
        /* At most PUSH_SUBSCRIBE_WINDOW subscribe replies (all rows each) in flight. */
        for (int i = 0;
             i < g_ps.n && g_ps.requested - g_ps.subscribed < PUSH_SUBSCRIBE_WINDOW; i++)
            if (g_ps.s[i].online && !g_ps.s[i].requested) ps_subscribe(&g_ps.s[i]);
        if (g_ps.subscribed == g_ps.n) {
            g_ps.go = true;
            g_ps.t_go = now;
            nb_write_all(g_ps.go_fd, "g", 1); /* the writer starts */
        } else if (now > g_ps.t0 + 120) {
            fprintf(stderr, "bench_crud: %d of %d subscribed after 120 s\n",
                    g_ps.subscribed, g_ps.n);
            uv_stop(t->loop);
        }
        return;
    }
    if (g_ps.n_lat == (size_t)g_ps.n * (size_t)g_ps.updates) {
        uv_stop(t->loop);
        return;
    }
    int status;
    if (!g_ps.child_done && waitpid(g_ps.child, &status, WNOHANG) == g_ps.child) {
        g_ps.child_done = now;
        g_ps.child = 0;
    }
    /* Pushes still on their way when the writer is done get 3 s. */
    if (g_ps.child_done && now > g_ps.child_done + 3) uv_stop(t->loop);
    if (now > g_ps.t_go + 300) uv_stop(t->loop);
}

static int run_push(int port, const char *table, bool crud, int n, int updates,
                    int interval_ms, int rows) {
    bc_names names;
    bc_names_init(&names, table);
    int go[2], res[2];
    if (pipe(go) || pipe(res)) nb_die("pipe");
    fflush(stdout);
    pid_t child = fork();
    if (child < 0) nb_die("fork");
    if (child == 0) {
        close(go[1]);
        close(res[0]);
        char c;
        ssize_t r;
        while ((r = read(go[0], &c, 1)) < 0 && errno == EINTR) {
        }
        if (r == 1) writer_main(port, &names, crud, updates, interval_ms, rows, res[1]);
        exit(0); /* stdout was flushed before the fork: nothing is written twice */
    }
    close(go[0]);
    close(res[1]);
    g_ps.child = child;
    g_ps.go_fd = go[1];
    g_ps.n = n;
    g_ps.updates = updates;
    g_ps.crud = crud;
    g_ps.names = names;
    g_ps.s = calloc((size_t)n, sizeof *g_ps.s);
    g_ps.lat = calloc((size_t)n * (size_t)updates, sizeof *g_ps.lat);
    g_ps.clat = calloc((size_t)n * (size_t)updates, sizeof *g_ps.clat);
    g_ps.slowest = calloc((size_t)updates, sizeof *g_ps.slowest);
    g_ps.fastest = calloc((size_t)updates, sizeof *g_ps.fastest);
    if (!g_ps.s || !g_ps.lat || !g_ps.clat || !g_ps.slowest || !g_ps.fastest)
        nb_die("calloc");

    uv_loop_t *loop = uv_default_loop();
    char url[128];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d", port);
    vx_value *filt = vx_dict();
    if (!filt || vx_dict_set_new(filt, "key", vx_str(crud ? names.key : "vortexd.sent")) ||
        (crud && vx_dict_set_new(filt, "subscribe", vx_bool(true))))
        bc_fail("push filt", NULL);
    /* One loop serves every subscriber: on this shared 2-core VM a turn that
     * decodes hundreds of 1000-row subscribe replies can outlast the default
     * 15 s liveness, and libuv runs timers before reading the sockets. */
    vx_client_opts co;
    vx_client_opts_init(&co);
    co.dead_after = 300;
    g_ps.t0 = nb_now();
    for (int i = 0; i < n; i++) {
        push_sub *s = &g_ps.s[i];
        vx_node_opts o;
        vx_node_opts_init(&o);
        o.name = "bench-crud-sub";
        vx_error e = {0};
        s->got = calloc((size_t)updates, 1);
        s->node = vx_node_new(loop, &o, &e);
        if (!s->got || !s->node) bc_fail("subscriber node", &e);
        if (vx_router_add(vx_node_router(s->node), filt, on_push, s, NULL, &e))
            bc_fail("vx_router_add", &e);
        s->client = vx_client_new(s->node, url, &co, &e);
        if (!s->client) bc_fail("subscriber client", &e);
        if (vx_client_on_state(s->client, ps_on_state, s))
            bc_fail("vx_client_on_state", NULL);
    }
    vx_decref(filt);
    uv_timer_init(loop, &g_ps.timer);
    uv_timer_start(&g_ps.timer, ps_tick, 5, 5);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_timer_stop(&g_ps.timer);
    uv_close((uv_handle_t *)&g_ps.timer, NULL);
    bool go_sent = g_ps.go;
    g_ps.go = true; /* from here on, failing subscribe requests are the end's */
    g_ps.child_done = g_ps.child_done ? g_ps.child_done : nb_now();
    for (int i = 0; i < n; i++) {
        vx_client_free(g_ps.s[i].client);
        vx_node_free(g_ps.s[i].node);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    (void)uv_loop_close(loop);

    close(go[1]); /* a writer never told to start reads EOF and exits */
    char wline[256] = "";
    size_t wlen = 0;
    ssize_t r;
    while (wlen < sizeof wline - 1 &&
           ((r = read(res[0], wline + wlen, sizeof wline - 1 - wlen)) > 0 ||
            (r < 0 && errno == EINTR)))
        if (r > 0) wlen += (size_t)r;
    wline[wlen] = 0;
    close(res[0]);
    if (g_ps.child) waitpid(g_ps.child, NULL, 0);

    size_t expected = (size_t)n * (size_t)updates;
    double max = 0;
    for (size_t i = 0; i < g_ps.n_lat; i++)
        if (g_ps.lat[i] > max) max = g_ps.lat[i];
    double p50 = nb_quantile(g_ps.lat, g_ps.n_lat, 0.5),
           p99 = nb_quantile(g_ps.lat, g_ps.n_lat, 0.99);
    double last50 = nb_quantile(g_ps.slowest, (size_t)updates, 0.5);
    double first50 = nb_quantile(g_ps.fastest, (size_t)updates, 0.5);
    double c50 = nb_quantile(g_ps.clat, g_ps.n_lat, 0.5);
    double c99 = nb_quantile(g_ps.clat, g_ps.n_lat, 0.99);
    printf("RESULT push-%s subs=%d updates=%d delivered=%zu expected=%zu dup=%" PRIu64
           " offline=%d p50_ms=%.3f p99_ms=%.3f max_ms=%.3f first_p50_ms=%.3f "
           "last_p50_ms=%.3f commit_p50_ms=%.3f commit_p99_ms=%.3f subscribe_s=%.2f %s\n",
           crud ? "crud" : "broadcast", n, updates, g_ps.n_lat, expected, g_ps.dup,
           g_ps.offline, p50 * 1e3, p99 * 1e3, max * 1e3, first50 * 1e3, last50 * 1e3,
           c50 * 1e3, c99 * 1e3, go_sent ? g_ps.t_go - g_ps.t0 : -1.0,
           wline[0] ? wline : "rtt_p50_ms=- rtt_p99_ms=- writes=0 failed=0");
    for (int i = 0; i < n; i++) free(g_ps.s[i].got);
    free(g_ps.s);
    free(g_ps.lat);
    free(g_ps.clat);
    free(g_ps.slowest);
    free(g_ps.fastest);
    return go_sent && g_ps.n_lat == expected ? 0 : 1;
}

#endif
