/* Shared by test_handler_crud.c and test_observe.c: a node (handler_fixture.h)
 * plus a store with two fresh tables, on SQLite (a temp file: WAL lets a
 * reader run beside a writer's open transaction) or, for the second run of
 * every test, PostgreSQL at VX_TEST_PG_URL. Table names carry the pid and a
 * counter; they are dropped at the end.
 *
 *   person: id (auto), name text NOT NULL default '', age int, score real
 *   pet:    id (auto), owner int, name text
 * Tuple types "hx.Person" and "hx.Pet" live in the fixture's registry, which
 * the node's codec does NOT see unless `typed` is asked for (vortexd's way:
 * tuples arrive untyped and the handler checks them). */
#ifndef VX_CRUD_FIXTURE_H
#define VX_CRUD_FIXTURE_H

#include <unistd.h>

#include "handler_fixture.h"

static const char *g_pg_url; /* NULL: this run is on SQLite */
static unsigned g_counter;

typedef struct cx {
    hx_env *e;
    vx_registry *reg;
    vx_store *store;
    const vx_sql_table *person, *pet;
    char person_name[64], pet_name[64];
    char path[256];
} cx;

#define CX_OK(call, err)                                                                   \
    do {                                                                                   \
        int rc_ = (call);                                                                  \
        if (rc_ != 0) fail_msg("%s -> %s: %s", #call, vx_error_name(rc_), (err).message);  \
    } while (0)

static inline void cx_exec(cx *c, const char *sql) {
    vx_error err;
    vx_sql_session *ss;
    CX_OK(vx_store_acquire(c->store, &ss, &err), err);
    int rc = vx_sql_query(ss, NULL, sql, NULL, NULL, &err);
    vx_store_release(ss);
    if (rc) fail_msg("%s -> %s", sql, err.message);
}

static inline cx *cx_new(bool typed) {
    cx *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->reg = vx_registry_new();
    vx_error err;
    unsigned n = ++g_counter;
    snprintf(c->person_name, sizeof c->person_name, "hx_person_%d_%u", (int)getpid(), n);
    snprintf(c->pet_name, sizeof c->pet_name, "hx_pet_%d_%u", (int)getpid(), n);
    const char *url = g_pg_url;
    char sqlite_url[300];
    if (!url) {
        snprintf(c->path, sizeof c->path, "/tmp/vx_handlers_%d_%u.db", (int)getpid(), n);
        snprintf(sqlite_url, sizeof sqlite_url, "sqlite:%s", c->path);
        url = sqlite_url;
    }
    vx_store_opts so;
    vx_store_opts_init(&so);
    CX_OK(vx_store_open(url, &so, &c->store, &err), err);
    const char *auto_id = g_pg_url ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY";
    char sql[512];
    snprintf(sql, sizeof sql,
             "CREATE TABLE \"%s\" (id %s, name TEXT NOT NULL DEFAULT '', age INTEGER, "
             "score REAL)",
             c->person_name, auto_id);
    cx_exec(c, sql);
    snprintf(sql, sizeof sql, "CREATE TABLE \"%s\" (id %s, owner INTEGER, name TEXT)",
             c->pet_name, auto_id);
    cx_exec(c, sql);
    CX_OK(vx_store_register_table(c->store, c->reg, c->person_name, "hx.Person", &c->person,
                                  &err),
          err);
    CX_OK(vx_store_register_table(c->store, c->reg, c->pet_name, "hx.Pet", &c->pet, &err),
          err);
    c->e = hx_env_new(typed ? c->reg : NULL);
    return c;
}

/* Free the node first (handlers must already be freed), then the store. */
static inline void cx_free(cx *c) {
    hx_env_free(c->e);
    char sql[256];
    snprintf(sql, sizeof sql, "DROP TABLE \"%s\"", c->person_name);
    cx_exec(c, sql);
    snprintf(sql, sizeof sql, "DROP TABLE \"%s\"", c->pet_name);
    cx_exec(c, sql);
    vx_store_free(c->store);
    vx_registry_free(c->reg);
    if (c->path[0]) {
        char p[300];
        unlink(c->path);
        snprintf(p, sizeof p, "%s-wal", c->path);
        unlink(p);
        snprintf(p, sizeof p, "%s-shm", c->path);
        unlink(p);
    }
    free(c);
}

/* NEW untyped hx.Person; id < 0 means null (a new row). */
static inline vx_value *cx_person(int64_t id, const char *name, int64_t age) {
    vx_value *t = vx_tuple_new_untyped("hx.Person");
    assert_non_null(t);
    assert_int_equal(vx_tuple_set_new(t, "id", id < 0 ? vx_null() : vx_int(id)), 0);
    assert_int_equal(vx_tuple_set_new(t, "name", vx_str(name)), 0);
    assert_int_equal(vx_tuple_set_new(t, "age", vx_int(age)), 0);
    return t;
}

static inline vx_value *cx_pet(int64_t id, int64_t owner, const char *name) {
    vx_value *t = vx_tuple_new_untyped("hx.Pet");
    assert_non_null(t);
    assert_int_equal(vx_tuple_set_new(t, "id", id < 0 ? vx_null() : vx_int(id)), 0);
    assert_int_equal(vx_tuple_set_new(t, "owner", vx_int(owner)), 0);
    assert_int_equal(vx_tuple_set_new(t, "name", vx_str(name)), 0);
    return t;
}

/* NEW request on `key` carrying the given tuples (stolen; NULL-terminated). */
static inline vx_payload *cx_req(const char *key, ...) {
    vx_payload *p = hx_req(key);
    va_list ap;
    va_start(ap, key);
    for (vx_value *t; (t = va_arg(ap, vx_value *));)
        assert_int_equal(vx_list_append_new(vx_payload_tuples(p), t), 0);
    va_end(ap);
    return p;
}

/* Feed `p` (stolen) from f without waiting. */
static inline void cx_feed(cx *c, hx_conn *f, vx_payload *p) {
    hx_feed(c->e, f, p);
    vx_payload_decref(p);
}

/* Feed `p` (stolen) from f and wait for f's next payload; NEW reply. */
static inline vx_payload *cx_call(cx *c, hx_conn *f, vx_payload *p) {
    size_t before = hx_count(c->e, f);
    hx_feed(c->e, f, p);
    vx_payload_decref(p);
    hx_wait(c->e, f, before + 1, 8000);
    return hx_get(c->e, f, before);
}

/* NEW list of the table's rows (typed), read straight from the store. */
static inline vx_value *cx_rows(cx *c, const vx_sql_table *t) {
    vx_error err;
    vx_sql_session *ss;
    vx_value *rows = NULL;
    CX_OK(vx_store_acquire(c->store, &ss, &err), err);
    int rc = vx_sql_load_all(ss, t, &rows, &err);
    vx_store_release(ss);
    CX_OK(rc, err);
    return rows;
}

static inline size_t cx_count(cx *c, const vx_sql_table *t) {
    vx_value *rows = cx_rows(c, t);
    size_t n = vx_list_size(rows);
    vx_decref(rows);
    return n;
}

/* Field of tuple i of a payload's tuples. */
static inline vx_value *cx_field(const vx_payload *p, size_t i, const char *field) {
    vx_value *t = vx_list_get(vx_payload_tuples(p), i);
    assert_non_null(t);
    return vx_tuple_get(t, field);
}

static inline vx_crud_handler *cx_handler(cx *c, const char *key,
                                          const vx_crud_opts *opts) {
    vx_value *filt = hx_filt(key);
    vx_error err;
    vx_crud_handler *h =
        vx_crud_handler_new(c->e->node, filt, c->store, c->person, opts, &err);
    if (!h) fail_msg("crud handler: %s", err.message);
    vx_decref(filt);
    return h;
}

/* Insert rows directly; returns the id of the last. */
static inline int64_t cx_insert(cx *c, const char *name, int64_t age) {
    vx_error err;
    vx_sql_session *ss;
    vx_value *stored = NULL;
    vx_value *t = cx_person(-1, name, age);
    CX_OK(vx_store_acquire(c->store, &ss, &err), err);
    int rc = vx_sql_insert(ss, c->person, t, &stored, &err);
    vx_store_release(ss);
    CX_OK(rc, err);
    int64_t id = vx_int_value(vx_tuple_get(stored, "id"));
    vx_decref(stored);
    vx_decref(t);
    return id;
}

/* Run every test of `tests` on SQLite, then on PostgreSQL if configured. */
static inline int cx_run_both(const struct CMUnitTest *tests, size_t n, const char *name) {
    g_pg_url = NULL;
    int failed = _cmocka_run_group_tests(name, tests, n, NULL, NULL);
    const char *pg = getenv("VX_TEST_PG_URL");
    if (pg && *pg) {
        g_pg_url = pg;
        char pg_name[128];
        snprintf(pg_name, sizeof pg_name, "%s_postgresql", name);
        failed += _cmocka_run_group_tests(pg_name, tests, n, NULL, NULL);
    } else {
        printf("[  SKIPPED ] %s on PostgreSQL: VX_TEST_PG_URL is not set\n", name);
    }
    return failed;
}

#endif
