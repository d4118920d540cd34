/* CRUD benchmark (issue 4 item 7): RETRIEVE and UPDATE through a live
 * `vortexd --db` over WebSocket, against the same operations straight on the
 * store and against vortexd's echo; push latency to many subscribers.
 * scripts/bench-crud.sh runs the modes and prints the tables; bench/README.md
 * ("CRUD") says how to read them.
 *
 *   bench_crud setup URL TABLE ROWS       (re)create TABLE with ROWS rows
 *   bench_crud drop URL TABLE
 *   bench_crud direct URL TABLE retrieve|update THREADS SECONDS ROWS
 *   bench_crud client PORT TABLE retrieve|update|echo CLIENTS SECONDS ROWS
 *   bench_crud push PORT TABLE crud|broadcast SUBSCRIBERS UPDATES INTERVAL_MS ROWS
 *
 * direct: THREADS threads, each in a closed loop: acquire a pooled session,
 *   vx_sql_load (retrieve) or check + begin + vx_sql_merge + commit (update),
 *   release: the store work one CrudHandler request does, minus everything
 *   else.
 * client: CLIENTS library clients (a vx_node + ws:// vx_client each, one
 *   loop), closed loop with vx_node_request: RETRIEVE filt {"key": "crud.T",
 *   "id": random}, UPDATE filt {"key": "crud.T"} + one row with a random id
 *   and a new value, or the same row sent to vortexd.echo (transport floor).
 * push: see bench/crud_push.h.
 * Every mode prints RESULT lines (KEY=VALUE); exit status 1 on a failure. */
#include <pthread.h>
#include <stdatomic.h>

#include <vortexc/client.h>
#include <vortexc/sql.h>

#include "crud_common.h"

/* ---- setup / drop -------------------------------------------------------- */

static vx_store *open_store(const char *url, size_t sessions) {
    vx_store_opts o;
    vx_store_opts_init(&o);
    if (sessions > o.max_sessions) o.max_sessions = sessions;
    vx_store *s = NULL;
    vx_error e = {0};
    if (vx_store_open(url, &o, &s, &e)) bc_fail("vx_store_open", &e);
    return s;
}

static void exec_sql(vx_sql_session *ss, const char *sql, vx_value *params) {
    vx_error e = {0};
    if (vx_sql_query(ss, NULL, sql, params, NULL, &e)) bc_fail(sql, &e);
}

static int run_setup(const char *url, const char *table, int rows) {
    vx_store *s = open_store(url, 1);
    vx_sql_session *ss;
    vx_error e = {0};
    char sql[256];
    if (vx_store_acquire(s, &ss, &e)) bc_fail("acquire", &e);
    snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS \"%s\"", table);
    exec_sql(ss, sql, NULL);
    snprintf(sql, sizeof sql,
             "CREATE TABLE \"%s\" (id INTEGER PRIMARY KEY, name TEXT, value REAL, "
             "updated TIMESTAMP)",
             table);
    exec_sql(ss, sql, NULL);
    snprintf(sql, sizeof sql,
             "INSERT INTO \"%s\" (id, name, value, updated) VALUES (?, ?, ?, ?)", table);
    if (vx_sql_begin(ss, &e)) bc_fail("begin", &e);
    int64_t now = vx_now_us();
    for (int i = 1; i <= rows; i++) {
        char name[32];
        snprintf(name, sizeof name, "row %d", i);
        vx_value *p = vx_list();
        if (!p || vx_list_append_new(p, vx_int(i)) || vx_list_append_new(p, vx_str(name)) ||
            vx_list_append_new(p, vx_float(i * 1.5)) ||
            vx_list_append_new(p, vx_datetime(now - (int64_t)i * 1000000)))
            bc_fail("params", NULL);
        exec_sql(ss, sql, p);
        vx_decref(p);
    }
    if (vx_sql_commit(ss, &e)) bc_fail("commit", &e);
    vx_store_release(ss);
    vx_store_free(s);
    printf("RESULT setup table=%s rows=%d\n", table, rows);
    return 0;
}

static int run_drop(const char *url, const char *table) {
    vx_store *s = open_store(url, 1);
    vx_sql_session *ss;
    vx_error e = {0};
    char sql[256];
    if (vx_store_acquire(s, &ss, &e)) bc_fail("acquire", &e);
    snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS \"%s\"", table);
    exec_sql(ss, sql, NULL);
    vx_store_release(ss);
    vx_store_free(s);
    return 0;
}

/* ---- direct: the store in-process ---------------------------------------- */

typedef struct direct_thread {
    pthread_t tid;
    vx_store *store;
    const vx_sql_table *table;
    const bc_names *names;
    bool update;
    int rows;
    uint64_t rng;
    double start, end;
    bc_lat lat;
    uint64_t bad;
} direct_thread;

static atomic_bool g_direct_stop;

static void direct_op(direct_thread *t) {
    vx_error e = {0};
    vx_sql_session *ss;
    int64_t id = 1 + (int64_t)(bc_rand(&t->rng) % (uint64_t)t->rows);
    if (vx_store_acquire(t->store, &ss, &e)) bc_fail("acquire", &e);
    if (!t->update) {
        vx_value *key = vx_int(id), *row = NULL;
        if (vx_sql_load(ss, t->table, key, &row, &e)) bc_fail("vx_sql_load", &e);
        if (!row || vx_int_value(vx_tuple_get(row, "id")) != id) t->bad++;
        vx_decref(row);
        vx_decref(key);
    } else {
        char name[32];
        snprintf(name, sizeof name, "upd %" PRIu64, bc_rand(&t->rng) % 1000000);
        vx_value *row = bc_row(t->names, id, name, (double)(bc_rand(&t->rng) % 100000) / 8);
        vx_value *typed = NULL, *stored = NULL;
        if (vx_sql_check_tuple(t->table, row, &typed, &e) || vx_sql_begin(ss, &e) ||
            vx_sql_merge(ss, t->table, typed, &stored, &e) || vx_sql_commit(ss, &e))
            bc_fail("update", &e);
        if (!stored) t->bad++;
        vx_decref(stored);
        vx_decref(typed);
        vx_decref(row);
    }
    vx_store_release(ss);
}

static void *direct_main(void *arg) {
    direct_thread *t = arg;
    while (!atomic_load_explicit(&g_direct_stop, memory_order_relaxed)) {
        double sent = nb_now();
        direct_op(t);
        bc_lat_add(&t->lat, sent, nb_now(), t->end);
    }
    return NULL;
}

static int run_direct(const char *url, const char *table, const char *op, int threads,
                      double seconds, int rows) {
    bc_names names;
    bc_names_init(&names, table);
    vx_store *s = open_store(url, (size_t)threads);
    vx_registry *reg = vx_registry_new();
    const vx_sql_table *t = NULL;
    vx_error e = {0};
    if (!reg || vx_store_register_table(s, reg, table, NULL, &t, &e))
        bc_fail("register", &e);
    direct_thread *th = calloc((size_t)threads, sizeof *th);
    if (!th) nb_die("calloc");
    double start = nb_now() + BC_WARMUP;
    for (int i = 0; i < threads; i++) {
        th[i] = (direct_thread){.store = s,
                                .table = t,
                                .names = &names,
                                .update = !strcmp(op, "update"),
                                .rows = rows,
                                .rng = UINT64_C(0x9e3779b97f4a7c15) * (uint64_t)(i + 1),
                                .start = start,
                                .end = start + seconds};
        bc_lat_init(&th[i].lat, start, seconds);
    }
    for (int i = 0; i < threads; i++)
        if (pthread_create(&th[i].tid, NULL, direct_main, &th[i])) nb_die("pthread_create");
    bc_sleep(BC_WARMUP + seconds);
    atomic_store(&g_direct_stop, true);
    uint64_t bad = 0;
    for (int i = 0; i < threads; i++) pthread_join(th[i].tid, NULL);
    for (int i = 1; i < threads; i++) {
        bc_lat_merge(&th[0].lat, &th[i].lat);
        bad += th[i].bad;
        free(th[i].lat.v);
    }
    bad += th[0].bad;
    char what[64];
    snprintf(what, sizeof what, "direct-%s", op);
    bc_report(what, threads, &th[0].lat, bad);
    free(th[0].lat.v);
    free(th);
    vx_store_free(s);
    vx_registry_free(reg);
    return 0;
}

/* ---- client: the library over WebSocket ---------------------------------- */

enum { OP_RETRIEVE, OP_UPDATE, OP_ECHO };

typedef struct lib_client {
    vx_node *node;
    vx_client *client;
    bool online;
    double sent;
    int64_t id;
    uint64_t rng;
} lib_client;

static struct {
    lib_client *c;
    int n, online, op, rows;
    bc_names names;
    bool running;
    double start, end, seconds;
    bc_lat lat;
    uint64_t bad;
    uv_timer_t timer;
} g_cl;

static void send_next(lib_client *c);

/* A reply is "good" when it is what the CrudHandler contract promises:
 * RETRIEVE: [row] with the asked id, result null; UPDATE: [stored row] with
 * the id, result true; echo: the tuple back. */
static bool reply_ok(const lib_client *c, vx_payload *reply) {
    vx_value *tuples = vx_payload_tuples(reply);
    if (!tuples || vx_list_size(tuples) != 1) return false;
    vx_value *row = vx_list_get(tuples, 0);
    vx_value *id = vx_typeof(row) == VX_TUPLE ? vx_tuple_get(row, "id") : NULL;
    if (!id || vx_typeof(id) != VX_INT || vx_int_value(id) != c->id) return false;
    vx_value *result = vx_payload_result(reply);
    if (g_cl.op == OP_UPDATE) return vx_typeof(result) == VX_BOOL && vx_bool_value(result);
    return g_cl.op == OP_ECHO || vx_is_null(result);
}

static void on_reply(void *data, vx_request_status st, vx_payload *reply,
                     const vx_error *err) {
    lib_client *c = data;
    if (!g_cl.running) return; /* the end: requests in flight fail as nodes are freed */
    if (st != VX_REQUEST_SUCCESS) bc_fail("request", err);
    if (!reply_ok(c, reply)) g_cl.bad++;
    bc_lat_add(&g_cl.lat, c->sent, nb_now(), g_cl.end);
    send_next(c);
}

static void send_next(lib_client *c) {
    vx_error e = {0};
    vx_payload *p;
    c->id = 1 + (int64_t)(bc_rand(&c->rng) % (uint64_t)g_cl.rows);
    if (g_cl.op == OP_RETRIEVE) {
        p = bc_retrieve_payload(&g_cl.names, c->id);
    } else {
        char name[32];
        snprintf(name, sizeof name, "upd %" PRIu64, bc_rand(&c->rng) % 1000000);
        vx_value *row =
            bc_row(&g_cl.names, c->id, name, (double)(bc_rand(&c->rng) % 100000) / 8);
        p = bc_payload_with_row(g_cl.op == OP_ECHO ? "vortexd.echo" : g_cl.names.key, row);
    }
    c->sent = nb_now();
    if (vx_node_request(c->node, NULL, p, NULL, on_reply, c, &e))
        bc_fail("vx_node_request", &e);
    vx_payload_decref(p);
}

/* Every 5 ms: start once every client is online, stop at the end. */
static void on_tick(uv_timer_t *t) {
    double now = nb_now();
    if (!g_cl.running && g_cl.end == 0) {
        if (g_cl.online < g_cl.n) {
            if (now > g_cl.start + 20) {
                fprintf(stderr, "bench_crud: only %d of %d clients online\n", g_cl.online,
                        g_cl.n);
                exit(1);
            }
            return;
        }
        g_cl.running = true;
        g_cl.start = now + BC_WARMUP;
        g_cl.end = g_cl.start + g_cl.seconds;
        bc_lat_init(&g_cl.lat, g_cl.start, g_cl.seconds);
        for (int i = 0; i < g_cl.n; i++) send_next(&g_cl.c[i]);
    } else if (g_cl.running && now >= g_cl.end) {
        g_cl.running = false;
        uv_stop(t->loop);
    }
}

static void on_state(void *data, bool online) {
    lib_client *c = data;
    if (online && !c->online) g_cl.online++;
    if (!online && c->online) {
        if (g_cl.running) {
            fprintf(stderr, "bench_crud: a client went offline\n");
            exit(1);
        }
        g_cl.online--;
    }
    c->online = online;
}

static int run_client(int port, const char *table, const char *op, int n, double seconds,
                      int rows) {
    uv_loop_t *loop = uv_default_loop();
    char url[128];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d", port);
    bc_names_init(&g_cl.names, table);
    g_cl.op = !strcmp(op, "retrieve") ? OP_RETRIEVE
              : !strcmp(op, "update") ? OP_UPDATE
                                      : OP_ECHO;
    g_cl.n = n;
    g_cl.rows = rows;
    g_cl.seconds = seconds;
    g_cl.c = calloc((size_t)n, sizeof *g_cl.c);
    if (!g_cl.c) nb_die("calloc");
    for (int i = 0; i < n; i++) {
        vx_node_opts o;
        vx_node_opts_init(&o);
        o.name = "bench-crud";
        vx_error e = {0};
        lib_client *c = &g_cl.c[i];
        c->rng = UINT64_C(0x2545f4914f6cdd1d) * (uint64_t)(i + 7);
        c->node = vx_node_new(loop, &o, &e);
        if (!c->node) bc_fail("vx_node_new", &e);
        c->client = vx_client_new(c->node, url, NULL, &e);
        if (!c->client) bc_fail("vx_client_new", &e);
        if (vx_client_on_state(c->client, on_state, c)) bc_fail("vx_client_on_state", NULL);
    }
    g_cl.start = nb_now(); /* until every client is online: when they began */
    uv_timer_init(loop, &g_cl.timer);
    uv_timer_start(&g_cl.timer, on_tick, 5, 5);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_timer_stop(&g_cl.timer);
    uv_close((uv_handle_t *)&g_cl.timer, NULL);
    for (int i = 0; i < n; i++) {
        vx_client_free(g_cl.c[i].client);
        vx_node_free(g_cl.c[i].node);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    char what[64];
    snprintf(what, sizeof what, "client-%s", op);
    bc_report(what, n, &g_cl.lat, g_cl.bad);
    free(g_cl.lat.v);
    free(g_cl.c);
    (void)uv_loop_close(loop);
    return 0;
}

#include "crud_push.h"

static int usage(void) {
    fprintf(stderr,
            "usage: bench_crud setup URL TABLE ROWS\n"
            "       bench_crud drop URL TABLE\n"
            "       bench_crud direct URL TABLE retrieve|update THREADS SECONDS ROWS\n"
            "       bench_crud client PORT TABLE retrieve|update|echo CLIENTS SECONDS "
            "ROWS\n"
            "       bench_crud push PORT TABLE crud|broadcast SUBSCRIBERS UPDATES "
            "INTERVAL_MS ROWS\n");
    return 2;
}

static bool is_op(const char *op, bool echo_ok) {
    return !strcmp(op, "retrieve") || !strcmp(op, "update") ||
           (echo_ok && !strcmp(op, "echo"));
}

int main(int argc, char **argv) {
    if (argc < 2) return usage();
    const char *mode = argv[1];
    nb_raise_nofile();
    if (!strcmp(mode, "setup") && argc == 5 && atoi(argv[4]) > 0)
        return run_setup(argv[2], argv[3], atoi(argv[4]));
    if (!strcmp(mode, "drop") && argc == 4) return run_drop(argv[2], argv[3]);
    if (!strcmp(mode, "direct") && argc == 8 && is_op(argv[4], false) &&
        atoi(argv[5]) > 0 && atof(argv[6]) > 0 && atoi(argv[7]) > 0)
        return run_direct(argv[2], argv[3], argv[4], atoi(argv[5]), atof(argv[6]),
                          atoi(argv[7]));
    if (!strcmp(mode, "client") && argc == 8 && atoi(argv[2]) > 0 && is_op(argv[4], true) &&
        atoi(argv[5]) > 0 && atof(argv[6]) > 0 && atoi(argv[7]) > 0)
        return run_client(atoi(argv[2]), argv[3], argv[4], atoi(argv[5]), atof(argv[6]),
                          atoi(argv[7]));
    if (!strcmp(mode, "push") && argc == 9 && atoi(argv[2]) > 0 &&
        (!strcmp(argv[4], "crud") || !strcmp(argv[4], "broadcast")) && atoi(argv[5]) > 0 &&
        atoi(argv[6]) > 0 && atoi(argv[7]) > 0 && atoi(argv[8]) > 0)
        return run_push(atoi(argv[2]), argv[3], !strcmp(argv[4], "crud"), atoi(argv[5]),
                        atoi(argv[6]), atoi(argv[7]), atoi(argv[8]));
    return usage();
}
