/* SQL store tests (sql.h): the same test functions run against SQLite (a
 * temp file and :memory:) and, when VX_TEST_PG_URL is set, PostgreSQL.
 * Every test makes its own tables (pid + counter in the name) and drops
 * them, so parallel runs on one database do not collide. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <vortexc/sql.h>

#include "sql/backend.h"
#include "helpers/vxtest.h"

typedef enum { B_FILE, B_MEMORY, B_PG } bkind;

typedef struct bcase {
    bkind kind;
    char url[512];
    char path[256]; /* SQLite file to remove */
    vx_store *store;
    vx_registry *reg;
    char tables[8][64]; /* to drop at teardown */
    size_t n_tables;
} bcase;

static unsigned counter;

/* ---- helpers ---------------------------------------------------------------- */

#define ASSERT_OK(call, e)                                                                 \
    do {                                                                                   \
        int rc_ = (call);                                                                  \
        if (rc_ != 0) fail_msg("%s -> %s: %s", #call, vx_error_name(rc_), (e).message);    \
    } while (0)

static bool is_pg(const bcase *c) {
    return c->kind == B_PG;
}

/* Run SQL on a session of its own (asserting success). */
static void exec_sql(bcase *c, const char *sql) {
    vx_error e;
    vx_sql_session *ss;
    ASSERT_OK(vx_store_acquire(c->store, &ss, &e), e);
    int rc = vx_sql_query(ss, NULL, sql, NULL, NULL, &e);
    vx_store_release(ss);
    if (rc) fail_msg("%s -> %s: %s", sql, vx_error_name(rc), e.message);
}

/* A fresh table name, dropped at teardown. */
static const char *new_table(bcase *c, const char *tag) {
    assert_true(c->n_tables < 8);
    char *name = c->tables[c->n_tables++];
    snprintf(name, 64, "sql_%s_%d_%u", tag, (int)getpid(), ++counter);
    return name;
}

/* printf into a NEW string (test code: abort on OOM). */
static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...) {
    va_list ap;
    va_start(ap, f);
    char *s = NULL;
    assert_true(vasprintf(&s, f, ap) >= 0);
    va_end(ap);
    return s;
}

/* NEW "quoted" identifier for the test's own SQL. */
static char *qi(const char *name) {
    char *q = malloc(2 * strlen(name) + 3), *w = q;
    assert_non_null(q);
    *w++ = '"';
    for (const char *p = name; *p; p++) {
        if (*p == '"') *w++ = '"';
        *w++ = *p;
    }
    *w++ = '"';
    *w = '\0';
    return q;
}

static void create_table(bcase *c, const char *table, const char *cols) {
    char *q = qi(table);
    char *sql = fmt("CREATE TABLE %s (%s)", q, cols);
    free(q);
    exec_sql(c, sql);
    free(sql);
}

static const vx_sql_table *reg_table(bcase *c, const char *table) {
    vx_error e;
    const vx_sql_table *t = NULL;
    ASSERT_OK(vx_store_register_table(c->store, c->reg, table, NULL, &t, &e), e);
    assert_non_null(t);
    return t;
}

/* The primary key declaration the database assigns ids for. */
static const char *auto_pk(const bcase *c) {
    return is_pg(c) ? "serial PRIMARY KEY" : "integer PRIMARY KEY";
}

static vx_value *typed(const vx_sql_table *t) {
    vx_value *v = vx_tuple_new(vx_sql_table_type(t));
    assert_non_null(v);
    return v;
}

static void set(vx_value *tup, const char *field, vx_value *v) {
    assert_non_null(v);
    assert_int_equal(vx_tuple_set_new(tup, field, v), 0);
}

static void assert_values_equal(const vx_value *want, const vx_value *got) {
    char *d = vxt_diff(want, got);
    if (d) {
        fail_msg("values differ: %s", d);
        free(d);
    }
}

static size_t count_rows(bcase *c, const vx_sql_table *t) {
    vx_error e;
    vx_sql_session *ss;
    vx_value *all = NULL;
    ASSERT_OK(vx_store_acquire(c->store, &ss, &e), e);
    int rc = vx_sql_load_all(ss, t, &all, &e);
    vx_store_release(ss);
    if (rc) fail_msg("load_all: %s", e.message);
    size_t n = vx_list_size(all);
    vx_decref(all);
    return n;
}

static void assert_contains(const char *hay, const char *needle) {
    if (!strcasestr(hay, needle)) fail_msg("'%s' does not contain '%s'", hay, needle);
}

/* ---- setup / teardown: one store per test ---------------------------------- */

static int setup(void **state) {
    bcase *c = *state;
    c->n_tables = 0;
    c->path[0] = '\0';
    c->store = NULL;
    c->reg = NULL;
    switch (c->kind) {
    case B_FILE:
        snprintf(c->path, sizeof c->path, "/tmp/vx_sql_store_%d_%u.db", (int)getpid(),
                 ++counter);
        snprintf(c->url, sizeof c->url, "sqlite:%s", c->path);
        break;
    case B_MEMORY:
        snprintf(c->url, sizeof c->url, "sqlite::memory:");
        break;
    case B_PG: {
        const char *u = getenv("VX_TEST_PG_URL");
        if (!u || !*u) return 0; /* the test skips */
        snprintf(c->url, sizeof c->url, "%s", u);
        break;
    }
    }
    vx_store_opts o;
    vx_store_opts_init(&o);
    o.max_sessions = 3;
    o.busy_timeout = 5;
    vx_error e;
    int rc = vx_store_open(c->url, &o, &c->store, &e);
    if (rc) {
        print_error("open %s: %s: %s\n", c->url, vx_error_name(rc), e.message);
        return -1;
    }
    c->reg = vx_registry_new();
    return c->reg ? 0 : -1;
}

static void remove_db_files(const char *path) {
    if (!*path) return;
    char buf[300];
    unlink(path);
    snprintf(buf, sizeof buf, "%s-wal", path);
    unlink(buf);
    snprintf(buf, sizeof buf, "%s-shm", path);
    unlink(buf);
}

static int teardown(void **state) {
    bcase *c = *state;
    if (c->store) {
        vx_sql_session *ss = NULL;
        vx_error e;
        if (vx_store_acquire(c->store, &ss, &e) != 0)
            print_error("teardown: %s\n", e.message);
        for (size_t i = 0; ss && i < c->n_tables; i++) {
            char *q = qi(c->tables[i]);
            char *sql = fmt("DROP TABLE IF EXISTS %s", q);
            if (vx_sql_query(ss, NULL, sql, NULL, NULL, &e) != 0)
                print_error("teardown: %s: %s\n", sql, e.message);
            free(sql);
            free(q);
        }
        vx_store_release(ss);
    }
    vx_store_free(c->store);
    vx_registry_free(c->reg);
    c->store = NULL;
    c->reg = NULL;
    remove_db_files(c->path);
    return 0;
}

static bcase *get(void **state) {
    bcase *c = *state;
    if (c->kind == B_PG && !c->store) skip(); /* VX_TEST_PG_URL unset */
    return c;
}

/* ---- type mapping (sql.h's table) ------------------------------------------- */

typedef struct colspec {
    const char *name, *decl;
    int where; /* 0 both, 1 SQLite only, 2 PostgreSQL only */
    vx_type kind;
} colspec;

static const colspec type_cols[] = {
    {"c_int", "int", 0, VX_INT},
    {"c_bigint", "bigint NOT NULL DEFAULT 42", 0, VX_INT},
    {"c_smallint", "smallint", 0, VX_INT},
    {"c_real", "real", 0, VX_FLOAT},
    {"c_float", "float", 0, VX_FLOAT},
    {"c_double", "double precision", 0, VX_FLOAT},
    {"c_numeric", "numeric", 0, VX_FLOAT},
    {"c_decimal", "decimal(10,2)", 0, VX_FLOAT},
    {"c_text", "text DEFAULT 'ab''c'", 0, VX_STR},
    {"c_varchar", "varchar(40)", 0, VX_STR},
    {"c_char", "char(3)", 0, VX_STR},
    {"c_uuid", "uuid", 0, VX_STR},
    {"c_bytea", "bytea", 0, VX_BYTES},
    {"c_bool", "boolean DEFAULT true", 0, VX_BOOL},
    {"c_bool2", "bool", 0, VX_BOOL},
    {"c_ts", "timestamp", 0, VX_DATETIME},
    {"c_date", "date", 0, VX_DATETIME},
    {"c_created", "timestamp DEFAULT CURRENT_TIMESTAMP", 0, VX_DATETIME},
    {"c_json", "json", 0, VX_STR},
    {"c_blob", "blob", 1, VX_BYTES},
    {"c_datetime", "datetime", 1, VX_DATETIME},
    {"c_clob", "clob", 1, VX_STR},
    {"c_tstz", "timestamptz", 2, VX_DATETIME},
    {"c_int8", "int8", 2, VX_INT},
};
#define N_TYPE_COLS (sizeof type_cols / sizeof type_cols[0])

static bool col_here(const bcase *c, const colspec *s) {
    return s->where == 0 || (s->where == 1) == !is_pg(c);
}

static int64_t dt(int y, int mo, int d, int h, int mi, int s, int us) {
    int64_t v;
    assert_int_equal(vx_datetime_from_parts(y, mo, d, h, mi, s, us, &v), 0);
    return v;
}

static const uint8_t some_bytes[] = {0, 1, 2, 0xff, 0, 'a', 'b'};

/* The value a test writes into (and expects back from) each column. */
static vx_value *sample(const char *col) {
    if (!strcmp(col, "c_int")) return vx_int(2147483647);
    if (!strcmp(col, "c_bigint") || !strcmp(col, "c_int8"))
        return vx_int(9007199254740993LL);
    if (!strcmp(col, "c_smallint")) return vx_int(-32768);
    if (!strcmp(col, "c_real")) return vx_float(1.5);
    if (!strcmp(col, "c_float")) return vx_float(-2.75);
    if (!strcmp(col, "c_double")) return vx_float(0.1);
    if (!strcmp(col, "c_numeric")) return vx_float(12.5);
    if (!strcmp(col, "c_decimal")) return vx_float(12.25);
    if (!strcmp(col, "c_text")) return vx_str("h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9d\x84\x9e");
    if (!strcmp(col, "c_varchar")) return vx_str("O'Reilly \"q\" ? $1 %s \\");
    if (!strcmp(col, "c_char")) return vx_str("abc");
    if (!strcmp(col, "c_uuid")) return vx_str("0b7e7c1e-3c1a-4c51-9f43-3d0f4a0f8c2e");
    if (!strcmp(col, "c_bytea") || !strcmp(col, "c_blob"))
        return vx_bytes(some_bytes, sizeof some_bytes);
    if (!strcmp(col, "c_bool")) return vx_bool(false);
    if (!strcmp(col, "c_bool2")) return vx_bool(true);
    if (!strcmp(col, "c_ts") || !strcmp(col, "c_datetime") || !strcmp(col, "c_tstz"))
        return vx_datetime(dt(2024, 2, 29, 13, 45, 30, 123456));
    if (!strcmp(col, "c_date")) return vx_datetime(dt(2024, 2, 29, 0, 0, 0, 0));
    if (!strcmp(col, "c_json")) return vx_str("{\"a\": [1, 2]}");
    if (!strcmp(col, "c_clob")) return vx_str("long text");
    return NULL; /* c_created: left for the database */
}

static void test_type_mapping(void **state) {
    bcase *c = get(state);
    const char *name = new_table(c, "types");
    char cols[2048];
    int n = snprintf(cols, sizeof cols, "id %s", auto_pk(c));
    for (size_t i = 0; i < N_TYPE_COLS; i++)
        if (col_here(c, &type_cols[i]))
            n += snprintf(cols + n, sizeof cols - (size_t)n, ", %s %s", type_cols[i].name,
                          type_cols[i].decl);
    create_table(c, name, cols);
    const vx_sql_table *t = reg_table(c, name);
    const vx_tuple_type *ty = vx_sql_table_type(t);

    /* type name, fields in column order, kinds, nullability, defaults */
    char *tname = fmt("vortexc.%s", name);
    assert_string_equal(vx_tuple_type_name(ty), tname);
    assert_ptr_equal(vx_store_table_for_type(c->store, tname), t);
    free(tname);
    assert_string_equal(vx_sql_table_name(t), name);
    assert_int_equal(vx_sql_table_pk_index(t), 0);
    assert_string_equal(vx_sql_table_pk_name(t), "id");
    assert_int_equal(vx_sql_table_column_kind(t, 0), VX_INT);
    assert_false(vx_sql_table_column_nullable(t, 0));
    size_t f = 1;
    for (size_t i = 0; i < N_TYPE_COLS; i++) {
        if (!col_here(c, &type_cols[i])) continue;
        const colspec *s = &type_cols[i];
        assert_string_equal(vx_tuple_type_field_name(ty, f), s->name);
        if (vx_sql_table_column_kind(t, f) != s->kind)
            fail_msg("column %s (%s): kind %s, want %s", s->name, s->decl,
                     vx_type_name(vx_sql_table_column_kind(t, f)), vx_type_name(s->kind));
        assert_int_equal(vx_sql_table_column_nullable(t, f),
                         strcmp(s->name, "c_bigint") != 0);
        const vx_value *def = vx_tuple_type_field_default(ty, f);
        vx_value *want = !strcmp(s->name, "c_bigint") ? vx_int(42)
                         : !strcmp(s->name, "c_text") ? vx_str("ab'c")
                         : !strcmp(s->name, "c_bool") ? vx_bool(true)
                                                      : vx_null();
        assert_values_equal(want, def);
        vx_decref(want);
        f++;
    }
    assert_int_equal(vx_tuple_type_field_count(ty), f);

    /* write a value of every kind and read the same values back */
    vx_value *tup = typed(t);
    for (size_t i = 0; i < N_TYPE_COLS; i++) {
        vx_value *v = col_here(c, &type_cols[i]) ? sample(type_cols[i].name) : NULL;
        if (v) set(tup, type_cols[i].name, v);
    }
    vx_error e;
    vx_sql_session *ss;
    vx_value *stored = NULL, *loaded = NULL;
    ASSERT_OK(vx_store_acquire(c->store, &ss, &e), e);
    ASSERT_OK(vx_sql_insert(ss, t, tup, &stored, &e), e);
    assert_int_equal(vx_typeof(vx_tuple_get(stored, "id")), VX_INT);
    assert_true(vx_int_value(vx_tuple_get(stored, "id")) > 0);
    /* the database filled in the expression default */
    assert_int_equal(vx_typeof(vx_tuple_get(stored, "c_created")), VX_DATETIME);
    int64_t age = vx_now_us() - vx_datetime_value(vx_tuple_get(stored, "c_created"));
    assert_true(age > -86400LL * 1000000 && age < 86400LL * 1000000);
    for (size_t i = 0; i < N_TYPE_COLS; i++) {
        if (!col_here(c, &type_cols[i]) || !strcmp(type_cols[i].name, "c_created"))
            continue;
        const vx_value *got = vx_tuple_get(stored, type_cols[i].name);
        char *d = vxt_diff(vx_tuple_get(tup, type_cols[i].name), got);
        if (d) fail_msg("column %s: %s", type_cols[i].name, d);
    }
    ASSERT_OK(vx_sql_load(ss, t, vx_tuple_get(stored, "id"), &loaded, &e), e);
    assert_non_null(loaded);
    assert_values_equal(stored, loaded);
    vx_store_release(ss);
    vx_decref(tup);
    vx_decref(stored);
    vx_decref(loaded);
}

/* Cells the database holds as text / integers read as the column kinds. */
static void test_read_coercion(void **state) {
    bcase *c = get(state);
    const char *name = new_table(c, "coerce");
    char *cols = fmt("id int PRIMARY KEY, ts timestamp, d date, b boolean, f real");
    create_table(c, name, cols);
    free(cols);
    const vx_sql_table *t = reg_table(c, name);
    char *sql = fmt("INSERT INTO \"%s\" VALUES (1, '2024-01-02 03:04:05.5', '2024-01-02', "
                    "true, 3), (2, '2024-01-02T03:04:05Z', '2024-01-02', false, 2.5)",
                    name);
    exec_sql(c, sql);
    free(sql);
    if (!is_pg(c)) { /* SQLite keeps any text; the store reads each ISO form */
        sql = fmt("INSERT INTO \"%s\" VALUES (3, '2024-01-02T03:04:05+00:00', 1704164645, "
                  "1, 3)",
                  name);
        exec_sql(c, sql);
        free(sql);
    }
    vx_error e;
    vx_sql_session *ss;
    vx_value *all = NULL;
    ASSERT_OK(vx_store_acquire(c->store, &ss, &e), e);
    ASSERT_OK(vx_sql_load_all(ss, t, &all, &e), e);
    vx_store_release(ss);
    assert_int_equal(vx_list_size(all), is_pg(c) ? 2 : 3);
    int64_t at = dt(2024, 1, 2, 3, 4, 5, 0), day = dt(2024, 1, 2, 0, 0, 0, 0);
    vx_value *r0 = vx_list_get(all, 0), *r1 = vx_list_get(all, 1);
    assert_int_equal(vx_typeof(vx_tuple_get(r0, "ts")), VX_DATETIME);
    assert_int_equal(vx_datetime_value(vx_tuple_get(r0, "ts")), at + 500000);
    assert_int_equal(vx_datetime_value(vx_tuple_get(r0, "d")), day);
    assert_int_equal(vx_typeof(vx_tuple_get(r0, "b")), VX_BOOL);
    assert_true(vx_bool_value(vx_tuple_get(r0, "b")));
    assert_int_equal(vx_typeof(vx_tuple_get(r0, "f")), VX_FLOAT);
    assert_true(vx_float_value(vx_tuple_get(r0, "f")) == 3.0);
    assert_int_equal(vx_datetime_value(vx_tuple_get(r1, "ts")), at);
    assert_false(vx_bool_value(vx_tuple_get(r1, "b")));
    if (!is_pg(c)) {
        vx_value *r2 = vx_list_get(all, 2);
        assert_int_equal(vx_datetime_value(vx_tuple_get(r2, "ts")), at);
        assert_int_equal(vx_typeof(vx_tuple_get(r2, "d")), VX_DATETIME); /* epoch seconds */
        assert_int_equal(vx_datetime_value(vx_tuple_get(r2, "d")),
                         (int64_t)1704164645 * 1000000);
    }
    vx_decref(all);
}

/* ---- queries ---------------------------------------------------------------- */

static const vx_sql_table *people(bcase *c, const char *tag) {
    const char *name = new_table(c, tag);
    char *cols =
        fmt("id %s, name text NOT NULL, age int, email varchar(100) UNIQUE", auto_pk(c));
    create_table(c, name, cols);
    free(cols);
    return reg_table(c, name);
}

static vx_value *person(const vx_sql_table *t, const char *name, int64_t age,
                        const char *email) {
    vx_value *p = typed(t);
    set(p, "name", vx_str(name));
    set(p, "age", vx_int(age));
    if (email) set(p, "email", vx_str(email));
    return p;
}

static void insert_ok(vx_sql_session *ss, const vx_sql_table *t,
                      vx_value *tup /* steals */) {
    vx_error e;
    vx_value *stored = NULL;
    int rc = vx_sql_insert(ss, t, tup, &stored, &e);
    vx_decref(tup);
    if (rc) fail_msg("insert: %s", e.message);
    vx_decref(stored);
}

static void test_query_params(void **state) {
    bcase *c = get(state);
    const vx_sql_table *t = people(c, "query");
    vx_error e;
    vx_sql_session *ss;
    ASSERT_OK(vx_store_acquire(c->store, &ss, &e), e);
    insert_ok(ss, t, person(t, "ann", 31, "ann@x"));
    insert_ok(ss, t, person(t, "bob", 45, "bob@x"));
    insert_ok(ss, t, person(t, "cy", 22, NULL));
    insert_ok(ss, t, person(t, "dee", 60, "dee@x"));
    char *sql = fmt("SELECT * FROM \"%s\" WHERE age >= ? AND name <> ? ORDER BY age",
                    vx_sql_table_name(t));
    vx_value *params = vx_list();
    vx_list_append_new(params, vx_int(30));
    vx_list_append_new(params, vx_str("bob"));

    vx_value *rows = NULL;
    ASSERT_OK(vx_sql_query(ss, t, sql, params, &rows, &e), e);
    assert_int_equal(vx_list_size(rows), 2);
    vx_value *r0 = vx_list_get(rows, 0);
    assert_ptr_equal(vx_tuple_type_of(r0), vx_sql_table_type(t));
    assert_string_equal(vx_str_value(vx_tuple_get(r0, "name")), "ann");
    assert_int_equal(vx_int_value(vx_tuple_get(r0, "age")), 31);
    assert_string_equal(vx_str_value(vx_tuple_get(vx_list_get(rows, 1), "name")), "dee");
    vx_decref(rows);

    rows = NULL;
    ASSERT_OK(vx_sql_query(ss, NULL, sql, params, &rows, &e), e);
    assert_int_equal(vx_list_size(rows), 2);
    vx_value *d1 = vx_list_get(rows, 1);
    assert_int_equal(vx_typeof(d1), VX_DICT);
    assert_int_equal(vx_dict_size(d1), 4);
    assert_string_equal(vx_str_value(vx_dict_get(d1, "name")), "dee");
    assert_int_equal(vx_int_value(vx_dict_get(d1, "age")), 60);
    assert_string_equal(vx_str_value(vx_dict_get(d1, "email")), "dee@x");
    vx_decref(rows);

    /* a result column that is not a field */
    free(sql);
    sql = fmt("SELECT name, age AS years FROM \"%s\"", vx_sql_table_name(t));
    rows = NULL;
    assert_int_equal(vx_sql_query(ss, t, sql, NULL, &rows, &e), VX_E_SQL_SCHEMA);
    assert_contains(e.message, "years");
    assert_null(rows);
    /* parameter count mismatch is an error, not a silent NULL */
    free(sql);
    sql = fmt("SELECT * FROM \"%s\" WHERE age > ?", vx_sql_table_name(t));
    assert_int_not_equal(vx_sql_query(ss, t, sql, NULL, &rows, &e), 0);
    assert_null(rows);
    /* a statement without rows gives an empty list */
    free(sql);
    sql = fmt("UPDATE \"%s\" SET age = age + 1 WHERE name = ?", vx_sql_table_name(t));
    vx_value *p1 = vx_list();
    vx_list_append_new(p1, vx_str("cy"));
    ASSERT_OK(vx_sql_query(ss, t, sql, p1, &rows, &e), e);
    assert_int_equal(vx_list_size(rows), 0);
    vx_decref(rows);
    vx_decref(p1);
    vx_store_release(ss);
    free(sql);
    vx_decref(params);
}

/* Values only travel as parameters: SQL metacharacters and a 1 MB string are
 * stored verbatim. */
static void test_no_injection(void **state) {
    bcase *c = get(state);
    const vx_sql_table *t = people(c, "inject");
    static const char *evil[] = {
        "Robert'); DROP TABLE students;--",
        "\" OR \"1\"=\"1",
        "' OR '1'='1' --",
        "?, $1, :name, @p, %s %d \\ \\' ;",
    };
    size_t big_len = 1 << 20;
    char *big = malloc(big_len + 1);
    for (size_t i = 0; i < big_len; i++) big[i] = "a'\";?\\-x"[i % 8];
    big[big_len] = '\0';

    vx_error e;
    vx_sql_session *ss;
    ASSERT_OK(vx_store_acquire(c->store, &ss, &e), e);
    vx_value *ids = vx_list();
    for (size_t i = 0; i < 5; i++) {
        vx_value *p = person(t, i < 4 ? evil[i] : big, (int64_t)i, i < 4 ? evil[i] : NULL);
        vx_value *stored = NULL;
        ASSERT_OK(vx_sql_insert(ss, t, p, &stored, &e), e);
        vx_list_append(ids, vx_tuple_get(stored, "id"));
        vx_value *loaded = NULL;
        ASSERT_OK(vx_sql_load(ss, t, vx_tuple_get(stored, "id"), &loaded, &e), e);
        assert_non_null(loaded);
        size_t want_len = i < 4 ? strlen(evil[i]) : big_len;
        assert_int_equal(vx_str_len(vx_tuple_get(loaded, "name")), want_len);
        assert_memory_equal(vx_str_value(vx_tuple_get(loaded, "name")),
                            i < 4 ? evil[i] : big, want_len);
        assert_values_equal(stored, loaded);
        vx_decref(p);
        vx_decref(stored);
        vx_decref(loaded);
    }
    /* the same strings as query parameters match exactly one row each */
    char *sql = fmt("SELECT id FROM \"%s\" WHERE name = ?", vx_sql_table_name(t));
    for (size_t i = 0; i < 4; i++) {
        vx_value *params = vx_list(), *rows = NULL;
        vx_list_append_new(params, vx_str(evil[i]));
        ASSERT_OK(vx_sql_query(ss, NULL, sql, params, &rows, &e), e);
        assert_int_equal(vx_list_size(rows), 1);
        vx_decref(rows);
        vx_decref(params);
    }
    free(sql);
    vx_store_release(ss);
    assert_int_equal(count_rows(c, t), 5);
    vx_value *names = NULL;
    ASSERT_OK(vx_store_list_tables(c->store, &names, &e), e);
    bool found = false;
    for (size_t i = 0; i < vx_list_size(names); i++) {
        const char *n = vx_str_value(vx_list_get(names, i));
        if (!strcmp(n, vx_sql_table_name(t))) found = true;
        assert_true(strncmp(n, "sqlite_", 7) != 0);
        if (i) assert_true(strcmp(vx_str_value(vx_list_get(names, i - 1)), n) <= 0);
    }
    assert_true(found);
    vx_decref(names);
    vx_decref(ids);
    free(big);
}

/* ---- checks and database errors ------------------------------------------- */

static void test_write_errors(void **state) {
    bcase *c = get(state);
    const vx_sql_table *t = people(c, "errors");
    const char *tn = vx_sql_table_name(t);
    vx_error e;
    vx_sql_session *ss;
    ASSERT_OK(vx_store_acquire(c->store, &ss, &e), e);
    insert_ok(ss, t, person(t, "ann", 31, "ann@x"));
    char *want;
    vx_value *out = NULL;

    /* unknown column (untyped tuples are what the wire brings) */
    vx_value *u = vx_tuple_new_untyped(vx_tuple_type_name(vx_sql_table_type(t)));
    set(u, "name", vx_str("zed"));
    set(u, "agee", vx_int(3));
    assert_int_equal(vx_sql_insert(ss, t, u, &out, &e), VX_E_SQL_VALUE);
    want = fmt("table '%s' has no column 'agee'", tn);
    assert_string_equal(e.message, want);
    free(want);
    assert_null(out);
    vx_decref(u);

    /* wrong type */
    vx_value *p = typed(t);
    set(p, "name", vx_str("zed"));
    set(p, "age", vx_str("ten"));
    assert_int_equal(vx_sql_insert(ss, t, p, &out, &e), VX_E_SQL_VALUE);
    want = fmt("column '%s.age' expects int, got str", tn);
    assert_string_equal(e.message, want);
    free(want);
    vx_decref(p);

    /* null where NOT NULL (name left at its null default) */
    p = typed(t);
    set(p, "age", vx_int(3));
    assert_int_equal(vx_sql_insert(ss, t, p, &out, &e), VX_E_SQL_VALUE);
    want = fmt("column '%s.name' expects str, got null", tn);
    assert_contains(e.message, want);
    free(want);
    vx_decref(p);

    /* a tuple of another type, and not a tuple at all */
    vx_value *other = vx_tuple_new_untyped("x.Other");
    assert_int_equal(vx_sql_insert(ss, t, other, &out, &e), VX_E_SQL_VALUE);
    assert_contains(e.message, "x.Other");
    vx_decref(other);
    vx_value *num = vx_int(1);
    assert_int_equal(vx_sql_insert(ss, t, num, &out, &e), VX_E_SQL_VALUE);

    /* merge needs the id */
    p = person(t, "zed", 1, NULL);
    assert_int_equal(vx_sql_merge(ss, t, p, &out, &e), VX_E_SQL_VALUE);
    assert_contains(e.message, "primary key");
    vx_decref(p);

    /* the database refuses: UNIQUE violation, with what was being done */
    p = person(t, "ann2", 32, "ann@x");
    assert_int_equal(vx_sql_insert(ss, t, p, &out, &e), VX_E_SQL);
    want = fmt("insert into '%s': ", tn);
    assert_true(strncmp(e.message, want, strlen(want)) == 0);
    free(want);
    if (!strcasestr(e.message, "unique") && !strcasestr(e.message, "duplicate"))
        fail_msg("message does not name the constraint: %s", e.message);
    assert_null(out);
    vx_decref(p);
    vx_store_release(ss);

    /* nothing but the first row was written */
    assert_int_equal(count_rows(c, t), 1);

    /* untyped tuple with correct fields is accepted and typed */
    u = vx_tuple_new_untyped(vx_tuple_type_name(vx_sql_table_type(t)));
    set(u, "age", vx_int(7));
    set(u, "name", vx_str("un"));
    vx_value *ty = NULL;
    ASSERT_OK(vx_sql_check_tuple(t, u, &ty, &e), e);
    assert_ptr_equal(vx_tuple_type_of(ty), vx_sql_table_type(t));
    assert_int_equal(vx_int_value(vx_tuple_get(ty, "age")), 7);
    assert_true(vx_is_null(vx_tuple_get(ty, "id")));
    vx_decref(ty);
    vx_decref(u);
    vx_decref(num);
}

/* ---- merge, delete, load ---------------------------------------------------- */

static void test_merge_delete(void **state) {
    bcase *c = get(state);
    const vx_sql_table *t = people(c, "merge");
    vx_error e;
    vx_sql_session *ss;
    ASSERT_OK(vx_store_acquire(c->store, &ss, &e), e);
    vx_value *stored = NULL, *merged = NULL, *loaded = NULL;
    vx_value *p = person(t, "ann", 31, "ann@x");
    set(p, "id", vx_str("")); /* "" id: the database assigns one */
    ASSERT_OK(vx_sql_insert(ss, t, p, &stored, &e), e);
    vx_decref(p);
    vx_value *id = vx_tuple_get(stored, "id");
    assert_int_equal(vx_typeof(id), VX_INT);

    /* update every column of an existing row */
    p = person(t, "ann b", 32, NULL);
    set(p, "id", vx_incref(id));
    ASSERT_OK(vx_sql_merge(ss, t, p, &merged, &e), e);
    assert_values_equal(p, merged);
    ASSERT_OK(vx_sql_load(ss, t, id, &loaded, &e), e);
    assert_values_equal(p, loaded);
    vx_decref(p);
    vx_decref(merged);
    vx_decref(loaded);

    /* merge with an absent id inserts it with that id */
    p = person(t, "new", 5, "new@x");
    set(p, "id", vx_int(1000));
    ASSERT_OK(vx_sql_merge(ss, t, p, &merged, &e), e);
    assert_values_equal(p, merged);
    vx_decref(p);
    vx_decref(merged);
    assert_int_equal(count_rows(c, t), 2);

    /* load_all is ordered by primary key */
    vx_value *all = NULL;
    ASSERT_OK(vx_sql_load_all(ss, t, &all, &e), e);
    assert_int_equal(vx_list_size(all), 2);
    assert_int_equal(vx_int_value(vx_tuple_get(vx_list_get(all, 1), "id")), 1000);
    vx_decref(all);

    bool deleted = false;
    vx_value *k = vx_int(1000);
    ASSERT_OK(vx_sql_delete(ss, t, k, &deleted, &e), e);
    assert_true(deleted);
    ASSERT_OK(vx_sql_delete(ss, t, k, &deleted, &e), e);
    assert_false(deleted);
    loaded = (vx_value *)1;
    ASSERT_OK(vx_sql_load(ss, t, k, &loaded, &e), e);
    assert_null(loaded);
    vx_decref(k);
    vx_store_release(ss);
    vx_decref(stored);
    assert_int_equal(count_rows(c, t), 1);
}

/* ---- transactions ----------------------------------------------------------- */

static void test_transactions(void **state) {
    bcase *c = get(state);
    const vx_sql_table *t = people(c, "tx");
    vx_error e;
    vx_sql_session *ss;
    ASSERT_OK(vx_store_acquire(c->store, &ss, &e), e);
    ASSERT_OK(vx_sql_begin(ss, &e), e);
    insert_ok(ss, t, person(t, "a", 1, NULL));
    insert_ok(ss, t, person(t, "b", 2, NULL));
    vx_value *all = NULL;
    ASSERT_OK(vx_sql_load_all(ss, t, &all, &e), e);
    assert_int_equal(vx_list_size(all), 2); /* visible inside the transaction */
    vx_decref(all);
    vx_sql_rollback(ss);
    vx_store_release(ss);
    assert_int_equal(count_rows(c, t), 0);

    /* a failing statement inside a transaction: rollback leaves nothing */
    ASSERT_OK(vx_store_acquire(c->store, &ss, &e), e);
    ASSERT_OK(vx_sql_begin(ss, &e), e);
    insert_ok(ss, t, person(t, "c", 3, "dup@x"));
    vx_value *p = person(t, "d", 4, "dup@x"), *out = NULL;
    assert_int_equal(vx_sql_insert(ss, t, p, &out, &e), VX_E_SQL);
    vx_decref(p);
    vx_sql_rollback(ss);
    vx_store_release(ss);
    assert_int_equal(count_rows(c, t), 0);

    /* release with an open transaction rolls it back */
    ASSERT_OK(vx_store_acquire(c->store, &ss, &e), e);
    ASSERT_OK(vx_sql_begin(ss, &e), e);
    insert_ok(ss, t, person(t, "e", 5, NULL));
    vx_store_release(ss);
    assert_int_equal(count_rows(c, t), 0);

    /* commit keeps it */
    ASSERT_OK(vx_store_acquire(c->store, &ss, &e), e);
    ASSERT_OK(vx_sql_begin(ss, &e), e);
    assert_int_equal(vx_sql_begin(ss, &e), VX_E_INVAL); /* no nesting */
    insert_ok(ss, t, person(t, "f", 6, NULL));
    ASSERT_OK(vx_sql_commit(ss, &e), e);
    assert_int_equal(vx_sql_commit(ss, &e), VX_E_INVAL);
    vx_store_release(ss);
    assert_int_equal(count_rows(c, t), 1);
}

/* ---- pool ----------------------------------------------------------------- */

#define N_THREADS    6
#define N_PER_THREAD 15

typedef struct worker {
    bcase *c;
    const vx_sql_table *t;
    int id;
    int failures;
    char msg[VX_ERROR_MESSAGE_MAX];
} worker;

static void *work(void *arg) {
    worker *w = arg;
    for (int i = 0; i < N_PER_THREAD; i++) {
        vx_error e;
        vx_sql_session *ss;
        int rc = vx_store_acquire(w->c->store, &ss, &e);
        if (rc == 0) {
            char name[32];
            snprintf(name, sizeof name, "w%d-%d", w->id, i);
            vx_value *p = vx_tuple_new(vx_sql_table_type(w->t)), *stored = NULL;
            vx_tuple_set_new(p, "name", vx_str(name));
            vx_tuple_set_new(p, "age", vx_int(i));
            rc = vx_sql_insert(ss, w->t, p, &stored, &e);
            if (rc == 0 && strcmp(vx_str_value(vx_tuple_get(stored, "name")), name) != 0)
                rc = -1;
            vx_decref(p);
            vx_decref(stored);
            vx_store_release(ss);
        }
        if (rc) {
            w->failures++;
            snprintf(w->msg, sizeof w->msg, "%s", e.message);
        }
    }
    return NULL;
}

/* More threads than sessions (3): every one gets its turn. */
static void test_pool_threads(void **state) {
    bcase *c = get(state);
    const vx_sql_table *t = people(c, "pool");
    pthread_t th[N_THREADS];
    worker w[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        w[i] = (worker){.c = c, .t = t, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < N_THREADS; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < N_THREADS; i++)
        if (w[i].failures)
            fail_msg("thread %d: %d failures: %s", i, w[i].failures, w[i].msg);
    assert_int_equal(count_rows(c, t), N_THREADS * N_PER_THREAD);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_acquire_timeout(void **state) {
    bcase *c = get(state);
    vx_store_opts o;
    vx_store_opts_init(&o);
    o.max_sessions = 1;
    o.busy_timeout = 0.2;
    vx_store *s = NULL;
    vx_error e;
    ASSERT_OK(vx_store_open(c->url, &o, &s, &e), e);
    vx_sql_session *a, *b = NULL;
    ASSERT_OK(vx_store_acquire(s, &a, &e), e);
    double t0 = now_s();
    assert_int_equal(vx_store_acquire(s, &b, &e), VX_E_TIMEOUT);
    double waited = now_s() - t0;
    assert_true(waited >= 0.19 && waited < 3.0);
    assert_null(b);
    vx_store_release(a);
    ASSERT_OK(vx_store_acquire(s, &b, &e), e);
    assert_ptr_equal(a, b); /* the one session, reused */
    vx_store_release(b);
    vx_store_free(s);
}

/* SQLite connection settings: WAL for files, foreign keys on, and a
 * transaction begun by raw SQL is rolled back on release. */
static void test_sqlite_connection(void **state) {
    bcase *c = get(state);
    if (is_pg(c)) skip(); /* SQLite pragmas */
    vx_error e;
    vx_sql_session *ss;
    vx_value *rows = NULL;
    ASSERT_OK(vx_store_acquire(c->store, &ss, &e), e);
    ASSERT_OK(vx_sql_query(ss, NULL, "PRAGMA journal_mode", NULL, &rows, &e), e);
    assert_string_equal(vx_str_value(vx_dict_value_at(vx_list_get(rows, 0), 0)),
                        c->kind == B_FILE ? "wal" : "memory");
    vx_decref(rows);
    ASSERT_OK(vx_sql_query(ss, NULL, "PRAGMA foreign_keys", NULL, &rows, &e), e);
    assert_int_equal(vx_int_value(vx_dict_value_at(vx_list_get(rows, 0), 0)), 1);
    vx_decref(rows);
    vx_store_release(ss);

    const char *parent = new_table(c, "parent");
    const char *child = new_table(c, "child");
    create_table(c, parent, "id int PRIMARY KEY");
    char *cols = fmt("id int PRIMARY KEY, parent int REFERENCES %s(id)", parent);
    create_table(c, child, cols);
    free(cols);
    const vx_sql_table *t = reg_table(c, child);
    vx_value *p = typed(t), *out = NULL;
    set(p, "id", vx_int(1));
    set(p, "parent", vx_int(99));
    ASSERT_OK(vx_store_acquire(c->store, &ss, &e), e);
    assert_int_equal(vx_sql_insert(ss, t, p, &out, &e), VX_E_SQL);
    assert_contains(e.message, "FOREIGN KEY");
    vx_decref(p);
    /* raw BEGIN, then release: the next user does not inherit it */
    ASSERT_OK(vx_sql_query(ss, NULL, "BEGIN", NULL, NULL, &e), e);
    char *sql = fmt("INSERT INTO %s VALUES (7)", parent);
    ASSERT_OK(vx_sql_query(ss, NULL, sql, NULL, NULL, &e), e);
    free(sql);
    vx_store_release(ss);
    ASSERT_OK(vx_store_acquire(c->store, &ss, &e), e);
    ASSERT_OK(vx_sql_begin(ss, &e), e); /* would fail inside an open transaction */
    sql = fmt("SELECT * FROM %s", parent);
    ASSERT_OK(vx_sql_query(ss, NULL, sql, NULL, &rows, &e), e);
    free(sql);
    assert_int_equal(vx_list_size(rows), 0);
    vx_decref(rows);
    vx_sql_rollback(ss);
    vx_store_release(ss);
}

typedef struct committer {
    vx_sql_session *ss;
    int rc;
} committer;

static void *commit_later(void *arg) {
    committer *k = arg;
    struct timespec ts = {0, 150 * 1000000L};
    nanosleep(&ts, NULL);
    vx_error e;
    k->rc = vx_sql_commit(k->ss, &e);
    return NULL;
}

/* A writer waits for another session's write lock up to busy_timeout:
 * it gets through when the lock goes in time, and fails after it. (SQLite:
 * the file's busy handler, the shared cache's retry loop.) */
static void test_lock_wait(void **state) {
    bcase *c = get(state);
    if (is_pg(c)) skip(); /* PostgreSQL waits on row locks its own way */
    const char *name = new_table(c, "lock");
    create_table(c, name, "id int PRIMARY KEY, v int");
    vx_store_opts o;
    vx_store_opts_init(&o);
    o.max_sessions = 2;
    o.busy_timeout = 0.5;
    vx_store *s = NULL;
    vx_error e;
    /* a memory store is its own database: use the case's store there */
    bool own = c->kind == B_FILE;
    if (own) ASSERT_OK(vx_store_open(c->url, &o, &s, &e), e);
    vx_store *use = own ? s : c->store;
    vx_sql_session *a, *b;
    ASSERT_OK(vx_store_acquire(use, &a, &e), e);
    ASSERT_OK(vx_store_acquire(use, &b, &e), e);
    char *ins1 = fmt("INSERT INTO %s VALUES (1, 1)", name);
    char *ins2 = fmt("INSERT INTO %s VALUES (2, 2)", name);
    char *ins3 = fmt("INSERT INTO %s VALUES (3, 3)", name);
    ASSERT_OK(vx_sql_begin(a, &e), e);
    ASSERT_OK(vx_sql_query(a, NULL, ins1, NULL, NULL, &e), e);
    committer k = {.ss = a, .rc = -1};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, commit_later, &k), 0);
    double t0 = now_s();
    ASSERT_OK(vx_sql_query(b, NULL, ins2, NULL, NULL, &e), e);
    double waited = now_s() - t0;
    pthread_join(th, NULL);
    assert_int_equal(k.rc, 0);
    assert_true(waited >= 0.1);

    if (own) { /* the case store waits 5 s: only the short one checks the give-up */
        ASSERT_OK(vx_sql_begin(a, &e), e);
        ASSERT_OK(vx_sql_query(a, NULL, ins3, NULL, NULL, &e), e);
        t0 = now_s();
        assert_int_equal(vx_sql_query(b, NULL, "BEGIN IMMEDIATE", NULL, NULL, &e),
                         VX_E_SQL);
        waited = now_s() - t0;
        assert_true(waited >= 0.4 && waited < 4.0);
        assert_contains(e.message, "locked");
        vx_sql_rollback(a);
    }
    vx_store_release(a);
    vx_store_release(b);
    vx_value *rows = NULL;
    char *sel = fmt("SELECT id FROM %s ORDER BY id", name);
    ASSERT_OK(vx_store_acquire(use, &a, &e), e);
    ASSERT_OK(vx_sql_query(a, NULL, sel, NULL, &rows, &e), e);
    vx_store_release(a);
    assert_int_equal(vx_list_size(rows), 2);
    vx_decref(rows);
    free(sel);
    free(ins1);
    free(ins2);
    free(ins3);
    vx_store_free(s);
}

/* A connection the server dropped is replaced at the next acquire. */
static void test_reconnect(void **state) {
    bcase *c = get(state);
    if (!is_pg(c)) skip(); /* SQLite connections cannot drop */
    vx_error e;
    vx_sql_session *ss;
    ASSERT_OK(vx_store_acquire(c->store, &ss, &e), e);
    vx_value *rows = NULL;
    vx_sql_query(ss, NULL, "SELECT pg_terminate_backend(pg_backend_pid())", NULL, &rows,
                 &e);
    vx_decref(rows);
    vx_store_release(ss);
    /* every pooled session in turn: none may hand out the dead connection */
    for (int i = 0; i < 4; i++) {
        ASSERT_OK(vx_store_acquire(c->store, &ss, &e), e);
        rows = NULL;
        ASSERT_OK(vx_sql_query(ss, NULL, "SELECT 1 AS one", NULL, &rows, &e), e);
        assert_int_equal(vx_int_value(vx_dict_get(vx_list_get(rows, 0), "one")), 1);
        vx_decref(rows);
        vx_store_release(ss);
    }
}

/* ---- schemas the store refuses -------------------------------------------- */

static void test_schema_errors(void **state) {
    bcase *c = get(state);
    vx_error e;
    const vx_sql_table *t = NULL;
    const char *nopk = new_table(c, "nopk");
    create_table(c, nopk, "a int, b text");
    assert_int_equal(vx_store_register_table(c->store, c->reg, nopk, NULL, &t, &e),
                     VX_E_SQL_SCHEMA);
    assert_contains(e.message, nopk);
    assert_contains(e.message, "primary key");

    const char *two = new_table(c, "twopk");
    create_table(c, two, "a int, b int, PRIMARY KEY (a, b)");
    assert_int_equal(vx_store_register_table(c->store, c->reg, two, NULL, &t, &e),
                     VX_E_SQL_SCHEMA);
    assert_contains(e.message, two);

    const char *under = new_table(c, "under");
    create_table(c, under, "id int PRIMARY KEY, _secret text");
    assert_int_equal(vx_store_register_table(c->store, c->reg, under, NULL, &t, &e),
                     VX_E_SQL_SCHEMA);
    assert_contains(e.message, "_secret");

    assert_int_not_equal(
        vx_store_register_table(c->store, c->reg, "sql_no_such_table_x", NULL, &t, &e), 0);
    assert_contains(e.message, "sql_no_such_table_x");
    assert_int_equal(vx_registry_size(c->reg), 0); /* nothing half-registered */

    /* a table name needing quotes, a custom type name, registering twice */
    const char *q = new_table(c, "q\"uote");
    char *cols = fmt("\"i\"\"d\" text PRIMARY KEY, \"we ird\" int DEFAULT -7");
    create_table(c, q, cols);
    free(cols);
    char quoted[80];
    snprintf(quoted, sizeof quoted, "%s", q);
    const vx_sql_table *t1 = NULL, *t2 = NULL;
    ASSERT_OK(vx_store_register_table(c->store, c->reg, quoted, "test.Quote", &t1, &e), e);
    ASSERT_OK(vx_store_register_table(c->store, c->reg, quoted, "test.Quote", &t2, &e), e);
    assert_ptr_equal(t1, t2);
    assert_int_equal(
        vx_store_register_table(c->store, c->reg, quoted, "test.Other", &t2, &e),
        VX_E_EXISTS);
    assert_string_equal(vx_sql_table_pk_name(t1), "i\"d");
    assert_int_equal(vx_int_value(vx_tuple_type_field_default(vx_sql_table_type(t1), 1)),
                     -7);
    vx_value *p = typed(t1), *stored = NULL;
    set(p, "i\"d", vx_str("k'1"));
    vx_sql_session *ss;
    ASSERT_OK(vx_store_acquire(c->store, &ss, &e), e);
    ASSERT_OK(vx_sql_insert(ss, t1, p, &stored, &e), e);
    assert_values_equal(p, stored);
    vx_decref(stored);
    /* a text id the database does not assign must be given */
    set(p, "i\"d", vx_null());
    assert_int_equal(vx_sql_insert(ss, t1, p, &stored, &e), VX_E_SQL_VALUE);
    vx_store_release(ss);
    vx_decref(p);
}

/* ---- backend-independent parts ------------------------------------------- */

static void test_kind_for_decl(void **state) {
    (void)state;
    static const struct {
        const char *decl;
        vx_type kind;
    } cases[] = {
        {"INTEGER", VX_INT},
        {"int", VX_INT},
        {"BIGINT", VX_INT},
        {"smallint", VX_INT},
        {"serial", VX_INT},
        {"bigserial", VX_INT},
        {"int8", VX_INT},
        {"REAL", VX_FLOAT},
        {"float", VX_FLOAT},
        {"double precision", VX_FLOAT},
        {"DOUBLE", VX_FLOAT},
        {"numeric(10, 2)", VX_FLOAT},
        {"decimal", VX_FLOAT},
        {"text", VX_STR},
        {"varchar(20)", VX_STR},
        {"character varying(5)", VX_STR},
        {"char(3)", VX_STR},
        {"clob", VX_STR},
        {"uuid", VX_STR},
        {"blob", VX_BYTES},
        {"bytea", VX_BYTES},
        {"boolean", VX_BOOL},
        {"BOOL", VX_BOOL},
        {"timestamp", VX_DATETIME},
        {"datetime", VX_DATETIME},
        {"date", VX_DATETIME},
        {"TIMESTAMP(3) WITH  TIME ZONE", VX_DATETIME},
        {"timestamp without time zone", VX_DATETIME},
        {"timestamptz", VX_DATETIME},
        {"interval", VX_STR},
        {"point", VX_STR},
        {"int[]", VX_STR},
        {"time", VX_STR},
        {"", VX_STR},
        {"jsonb", VX_STR},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (vx_sql_kind_for_decl(cases[i].decl) != cases[i].kind)
            fail_msg("'%s' -> %s, want %s", cases[i].decl,
                     vx_type_name(vx_sql_kind_for_decl(cases[i].decl)),
                     vx_type_name(cases[i].kind));
    assert_int_equal(vx_sql_kind_for_decl(NULL), VX_STR);
}

static void test_coerce(void **state) {
    (void)state;
    vx_value *out = NULL;
    vx_value *s = vx_str("2024-01-02 03:04:05.000006");
    assert_int_equal(vx_sql_coerce(s, VX_DATETIME, &out), 0);
    assert_int_equal(vx_datetime_value(out), dt(2024, 1, 2, 3, 4, 5, 6));
    vx_decref(out);
    vx_decref(s);
    s = vx_str("not a date");
    assert_int_equal(vx_sql_coerce(s, VX_DATETIME, &out), VX_E_BAD_VALUE);
    vx_decref(s);
    s = vx_str("12.5");
    assert_int_equal(vx_sql_coerce(s, VX_FLOAT, &out), 0);
    assert_true(vx_float_value(out) == 12.5);
    vx_decref(out);
    assert_int_equal(vx_sql_coerce(s, VX_INT, &out), VX_E_BAD_VALUE);
    vx_decref(s);
    s = vx_int(0);
    assert_int_equal(vx_sql_coerce(s, VX_BOOL, &out), 0);
    assert_int_equal(vx_typeof(out), VX_BOOL);
    assert_false(vx_bool_value(out));
    vx_decref(out);
    assert_int_equal(vx_sql_coerce(s, VX_STR, &out), 0);
    assert_string_equal(vx_str_value(out), "0");
    vx_decref(out);
    vx_decref(s);
    s = vx_null();
    assert_int_equal(vx_sql_coerce(s, VX_DATETIME, &out), 0);
    assert_true(vx_is_null(out));
    vx_decref(out);
    vx_decref(s);
}

static void test_open_errors(void **state) {
    (void)state;
    vx_store *s = (vx_store *)1;
    vx_error e;
    assert_int_equal(vx_store_open("", NULL, &s, &e), VX_E_INVAL);
    assert_null(s);
    assert_int_equal(vx_store_open("mysql://localhost/x", NULL, &s, &e), VX_E_INVAL);
    assert_contains(e.message, "mysql");
    assert_int_equal(vx_store_open("sqlite:", NULL, &s, &e), VX_E_INVAL);
    vx_store_opts o;
    vx_store_opts_init(&o);
    assert_int_equal(o.max_sessions, 4);
    assert_true(o.busy_timeout == 5.0);
    assert_true(o.create);
    o.max_sessions = 0;
    assert_int_equal(vx_store_open("sqlite::memory:", &o, &s, &e), VX_E_INVAL);
    vx_store_opts_init(&o);
    o.create = false;
    char path[128];
    snprintf(path, sizeof path, "/tmp/vx_sql_missing_%d.db", (int)getpid());
    unlink(path);
    assert_int_equal(vx_store_open(path, &o, &s, &e), VX_E_SQL);
    assert_contains(e.message, path);
    assert_int_not_equal(access(path, F_OK), 0);
    /* not a database */
    snprintf(path, sizeof path, "/tmp/vx_sql_notdb_%d.db", (int)getpid());
    FILE *f = fopen(path, "w");
    fputs("this is not a database file, just some text that is long enough........"
          "................................................................",
          f);
    fclose(f);
    assert_int_equal(vx_store_open(path, NULL, &s, &e), VX_E_SQL);
    unlink(path);
    /* two in-memory stores are two databases; one store is one database */
    vx_store *m1, *m2;
    ASSERT_OK(vx_store_open("sqlite::memory:", NULL, &m1, &e), e);
    ASSERT_OK(vx_store_open(":memory:", NULL, &m2, &e), e);
    assert_int_equal(vx_store_backend(m1), VX_SQL_SQLITE);
    vx_sql_session *a, *b;
    ASSERT_OK(vx_store_acquire(m1, &a, &e), e);
    ASSERT_OK(vx_store_acquire(m1, &b, &e), e);
    assert_ptr_not_equal(a, b);
    ASSERT_OK(
        vx_sql_query(a, NULL, "CREATE TABLE shared (id int PRIMARY KEY)", NULL, NULL, &e),
        e);
    vx_value *rows = NULL;
    ASSERT_OK(vx_sql_query(b, NULL, "SELECT * FROM shared", NULL, &rows, &e), e);
    vx_decref(rows);
    vx_store_release(a);
    vx_store_release(b);
    vx_value *names = NULL;
    ASSERT_OK(vx_store_list_tables(m2, &names, &e), e);
    assert_int_equal(vx_list_size(names), 0);
    vx_decref(names);
    vx_store_free(m1);
    vx_store_free(m2);
    vx_store_free(NULL);
}

/* ---- the table of cases ---------------------------------------------------- */

static bcase cases[3] = {{.kind = B_FILE}, {.kind = B_MEMORY}, {.kind = B_PG}};

#define ON(f, i, label)                                                                    \
    { #f " [" label "]", f, setup, teardown, &cases[i] }
#define ALL(f) ON(f, 0, "sqlite file"), ON(f, 1, "sqlite memory"), ON(f, 2, "postgresql")

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind_for_decl),
        cmocka_unit_test(test_coerce),
        cmocka_unit_test(test_open_errors),
        ALL(test_type_mapping),
        ALL(test_read_coercion),
        ALL(test_query_params),
        ALL(test_no_injection),
        ALL(test_write_errors),
        ALL(test_merge_delete),
        ALL(test_transactions),
        ALL(test_pool_threads),
        ALL(test_acquire_timeout),
        ALL(test_schema_errors),
        ALL(test_sqlite_connection),
        ALL(test_lock_wait),
        ALL(test_reconnect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
