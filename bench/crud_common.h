/* Helpers of the CRUD benchmark (bench/crud.c, bench/crud_push.h; run by
 * scripts/bench-crud.sh): the table's payloads and a latency recorder.
 * Header-only because every bench/<name>.c is its own executable. */
#ifndef VX_BENCH_CRUD_COMMON_H
#define VX_BENCH_CRUD_COMMON_H

#include <inttypes.h>
#include <stdbool.h>

#include "net_common.h"

/* Warm-up before every measured window, as in bench_net_echo. */
#define BC_WARMUP 0.3
/* Latencies kept per row; more are counted but not stored. */
#define BC_LAT_CAP (1u << 21)

typedef struct bc_names {
    char table[64];
    char key[80];  /* crud.<table>: vortexd's filt key for the table */
    char type[80]; /* vortexc.<table>: its tuple type */
} bc_names;

static inline void bc_names_init(bc_names *n, const char *table) {
    snprintf(n->table, sizeof n->table, "%s", table);
    snprintf(n->key, sizeof n->key, "crud.%s", table);
    snprintf(n->type, sizeof n->type, "vortexc.%s", table);
}

/* xorshift64*: cheap per-client random ids (no shared state between threads). */
static inline uint64_t bc_rand(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * UINT64_C(2685821657736338717);
}

static inline void bc_fail(const char *what, const vx_error *e) {
    fprintf(stderr, "bench_crud: %s: %s\n", what,
            e && e->message[0] ? e->message : "failed");
    exit(1);
}

/* NEW untyped row tuple of the bench table, as a browser would send it:
 * {id, name, value, updated = now}. Untyped because vortexd keeps the table
 * types out of its codec registry and checks every field (docs/vortexd.md). */
static inline vx_value *bc_row(const bc_names *n, int64_t id, const char *name,
                               double value) {
    vx_value *t = vx_tuple_new_untyped(n->type);
    if (!t || vx_tuple_set_new(t, "id", vx_int(id)) ||
        vx_tuple_set_new(t, "name", vx_str(name)) ||
        vx_tuple_set_new(t, "value", vx_float(value)) ||
        vx_tuple_set_new(t, "updated", vx_datetime(vx_now_us())))
        bc_fail("bc_row", NULL);
    return t;
}

/* NEW payload filt {"key": key} carrying `row` (stolen) as its only tuple. */
static inline vx_payload *bc_payload_with_row(const char *key, vx_value *row) {
    vx_payload *p = vx_payload_new_key(key);
    vx_value *l = vx_list();
    if (!p || !l || vx_list_append_new(l, row) || vx_payload_set_tuples_new(p, l))
        bc_fail("bc_payload_with_row", NULL);
    return p;
}

/* NEW RETRIEVE request: filt {"key": "crud.T", "id": id}. */
static inline vx_payload *bc_retrieve_payload(const bc_names *n, int64_t id) {
    vx_payload *p = vx_payload_new_key(n->key);
    if (!p || vx_dict_set_new(vx_payload_filt(p), "id", vx_int(id)))
        bc_fail("bc_retrieve_payload", NULL);
    return p;
}

static inline void bc_sleep(double seconds) {
    struct timespec ts = {.tv_sec = (time_t)seconds};
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) && errno == EINTR) {
    }
}

/* Latencies of one row (seconds) and its rate windows. */
typedef struct bc_lat {
    double *v;
    size_t n;
    nb_windows win;
} bc_lat;

static inline void bc_lat_init(bc_lat *l, double start, double seconds) {
    l->v = malloc(BC_LAT_CAP * sizeof *l->v);
    if (!l->v) nb_die("malloc");
    l->n = 0;
    nb_windows_init(&l->win, start, seconds);
}

static inline void bc_lat_add(bc_lat *l, double sent, double now, double end) {
    if (now < l->win.start || now >= end) return;
    nb_windows_add(&l->win, now);
    if (l->n < BC_LAT_CAP) l->v[l->n++] = now - sent;
}

/* Fold `b` into `a` (the thread rows of the direct baseline). */
static inline void bc_lat_merge(bc_lat *a, const bc_lat *b) {
    for (int i = 0; i < NB_WINDOWS; i++) a->win.count[i] += b->win.count[i];
    for (size_t i = 0; i < b->n && a->n < BC_LAT_CAP; i++) a->v[a->n++] = b->v[i];
}

/* The RESULT line every mode prints; the runner parses KEY=VALUE. */
static inline void bc_report(const char *what, int conc, bc_lat *l, uint64_t bad) {
    double spread, rate = nb_windows_rate(&l->win, &spread);
    double p50 = nb_quantile(l->v, l->n, 0.50), p99 = nb_quantile(l->v, l->n, 0.99);
    printf(
        "RESULT %s conc=%d ops_per_s=%.0f spread=%.2f p50_us=%.1f p99_us=%.1f bad=%" PRIu64
        "\n",
        what, conc, rate, spread, p50 * 1e6, p99 * 1e6, bad);
    fflush(stdout);
}

#endif
