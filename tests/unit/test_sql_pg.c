/* The PostgreSQL backend through its vtable (src/sql/backend.h), against
 * the live server named by VX_TEST_PG_URL (sh scripts/pg-test.sh prints
 * one). Server tests are skipped only when the variable is unset; the
 * placeholder lexer is tested either way. Tables are named pg_<pid>_* so
 * parallel runs do not collide, and are dropped at the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <vortexc.h>

#include "sql/backend.h"
#include "sql/pg_impl.h"

static const vx_sql_backend_ops *pg = &vx_pg_backend;
static char tbl[64]; /* pg_<pid> prefix of this run's tables */

/* ---- helpers -------------------------------------------------------------- */

static const char *url_or_skip(void) {
    const char *url = getenv("VX_TEST_PG_URL");
    if (!url || !*url) skip();
    return url;
}

static void *connect_or_fail(void) {
    void *c = NULL;
    vx_error err = {0};
    int rc = pg->connect(url_or_skip(), NULL, &c, &err);
    if (rc) fail_msg("connect: %s", err.message);
    return c;
}

/* Run `fmt` (one %s = this run's table prefix) with params; must succeed. */
static void run(void *c, vx_sql_result *res, const vx_value *params, const char *fmt) {
    char sql[2048];
    snprintf(sql, sizeof sql, fmt, tbl, tbl, tbl);
    vx_error err = {0};
    int rc = pg->query(c, sql, params, res, &err);
    if (rc) fail_msg("%s: %s (%s)", sql, err.message, vx_error_name(rc));
}

/* The code a statement fails with; err filled. */
static int run_fail(void *c, const vx_value *params, const char *fmt, vx_error *err) {
    char sql[2048];
    snprintf(sql, sizeof sql, fmt, tbl, tbl, tbl);
    vx_sql_result res;
    int rc = pg->query(c, sql, params, &res, err);
    assert_int_equal(res.n_rows, 0); /* nothing half-filled on failure */
    assert_null(res.cells);
    return rc;
}

static vx_value *cell(const vx_sql_result *r, size_t row, const char *col) {
    for (size_t k = 0; k < r->n_cols; k++)
        if (strcmp(r->col_names[k], col) == 0) return r->cells[row * r->n_cols + k];
    fail_msg("no column %s", col);
    return NULL;
}

static vx_value *list_of(int n, ...) {
    vx_value *l = vx_list();
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) vx_list_append_new(l, va_arg(ap, vx_value *));
    va_end(ap);
    return l;
}

static void assert_ok_after(void *c) {
    vx_sql_result r;
    run(c, &r, NULL, "SELECT 1 AS one");
    assert_int_equal(vx_int_value(cell(&r, 0, "one")), 1);
    vx_sql_result_free(&r);
}

/* ---- the '?' lexer (no server) -------------------------------------------- */

static void expect_translation(const char *in, const char *want, size_t want_n) {
    char *out;
    size_t n;
    assert_int_equal(vx_pg_translate(in, &out, &n, NULL), 0);
    assert_string_equal(out, want);
    assert_int_equal(n, want_n);
    free(out);
}

static void test_placeholders_skip_literals_identifiers_comments(void **state) {
    expect_translation("SELECT ?, ?", "SELECT $1, $2", 2);
    expect_translation("SELECT 'a?''?' , ?", "SELECT 'a?''?' , $1", 1);
    expect_translation("SELECT \"col?\"\"?\" FROM t WHERE x = ?",
                       "SELECT \"col?\"\"?\" FROM t WHERE x = $1", 1);
    expect_translation("SELECT ? -- what?\n, ?", "SELECT $1 -- what?\n, $2", 2);
    expect_translation("SELECT /* a /* nested? */ still? */ ?",
                       "SELECT /* a /* nested? */ still? */ $1", 1);
    /* E'' strings take backslash escapes; plain '' strings do not */
    expect_translation("SELECT E'\\'?', ?", "SELECT E'\\'?', $1", 1);
    expect_translation("SELECT 'a\\', ?", "SELECT 'a\\', $1", 1);
    expect_translation("SELECT some'?', ?", "SELECT some'?', $1", 1);
    /* dollar quotes, but not $1 or names holding '$' */
    expect_translation("SELECT $$?$$, $q$ $$ ? $q$, ?", "SELECT $$?$$, $q$ $$ ? $q$, $1",
                       1);
    expect_translation("SELECT a$b, ?", "SELECT a$b, $1", 1);
    /* unterminated pieces are passed on for the server to refuse */
    expect_translation("SELECT ?, 'open ?", "SELECT $1, 'open ?", 1);
    expect_translation("SELECT ? /* open ?", "SELECT $1 /* open ?", 1);
    char *out;
    size_t n;
    char big[200];
    memset(big, '?', 12);
    strcpy(big + 12, "");
    assert_int_equal(vx_pg_translate(big, &out, &n, NULL), 0);
    assert_string_equal(out, "$1$2$3$4$5$6$7$8$9$10$11$12");
    free(out);
}

/* ---- connections ---------------------------------------------------------- */

static void test_connect_failures_are_clear_and_quick(void **state) {
    const char *url = url_or_skip();
    (void)url;
    const char *bad[] = {
        "postgresql://127.0.0.1:1/nothing",              /* refused */
        "postgresql://[::1",                             /* malformed */
        "postgresql:///vortexc_no_such_db_really",       /* no database */
        "postgresql://10.255.255.1/x?connect_timeout=1", /* no answer (URI timeout) */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        void *c = (void *)1;
        vx_error err = {0};
        assert_int_equal(pg->connect(bad[i], NULL, &c, &err), VX_E_SQL);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        assert_null(c);
        assert_non_null(strstr(err.message, "cannot connect to postgresql: "));
        assert_null(strchr(err.message, '\n'));
        assert_true(t1.tv_sec - t0.tv_sec < 4);
        if (i == 2) assert_non_null(strstr(err.message, "vortexc_no_such_db_really"));
    }
    /* libpq quotes a malformed URI; its password stays out of the message */
    void *c = NULL;
    vx_error err = {0};
    assert_int_equal(pg->connect("postgresql://me:s3cretpw@[::1/db", NULL, &c, &err),
                     VX_E_SQL);
    assert_null(strstr(err.message, "s3cretpw"));
    assert_non_null(strstr(err.message, "me:***@"));
    assert_int_equal(pg->connect("", NULL, &c, &err), VX_E_INVAL);
}

static void test_busy_timeout_bounds_lock_waits(void **state) {
    vx_store_opts opts;
    vx_store_opts_init(&opts);
    opts.busy_timeout = 0.2;
    void *holder = connect_or_fail(), *waiter = NULL;
    vx_error err = {0};
    assert_int_equal(pg->connect(url_or_skip(), &opts, &waiter, &err), 0);
    run(holder, NULL, NULL, "CREATE TABLE %s_lock (id int PRIMARY KEY)");
    run(holder, NULL, NULL, "BEGIN");
    run(holder, NULL, NULL, "LOCK TABLE %s_lock IN ACCESS EXCLUSIVE MODE");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(run_fail(waiter, NULL, "INSERT INTO %s_lock VALUES (1)", &err),
                     VX_E_SQL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_non_null(strstr(err.message, "lock timeout"));
    assert_true(t1.tv_sec - t0.tv_sec < 3);
    run(holder, NULL, NULL, "ROLLBACK");
    assert_ok_after(waiter);
    run(waiter, NULL, NULL, "DROP TABLE %s_lock");
    pg->disconnect(waiter);
    pg->disconnect(holder);
}

static void test_session_settings_utc_iso(void **state) {
    void *c = connect_or_fail();
    vx_sql_result r;
    run(c, &r, NULL,
        "SELECT current_setting('TimeZone') AS tz, current_setting('client_encoding') AS "
        "enc, "
        "'2020-01-01 05:30:00+05:30'::timestamptz AS t");
    assert_string_equal(vx_str_value(cell(&r, 0, "tz")), "UTC");
    assert_string_equal(vx_str_value(cell(&r, 0, "enc")), "UTF8");
    int64_t want;
    assert_int_equal(vx_datetime_from_parts(2020, 1, 1, 0, 0, 0, 0, &want), 0);
    assert_int_equal(vx_datetime_value(cell(&r, 0, "t")), want);
    vx_sql_result_free(&r);
    pg->disconnect(c);
}

/* ---- values ----------------------------------------------------------------- */

static void test_every_type_round_trips(void **state) {
    void *c = connect_or_fail();
    run(c, NULL, NULL,
        "CREATE TABLE %s_types (id serial PRIMARY KEY, i2 smallint, i4 integer, i8 bigint, "
        "f4 real, f8 double precision, n numeric, b boolean, by bytea, t text, v "
        "varchar(40), "
        "ch char(3), ts timestamp, tz timestamptz, d date, u uuid, j json, o oid)");
    static const uint8_t raw[] = {0, 0xff, 'a', 0, 0x80, '\\', 'x', '\''};
    const char *uni = "h\xc3\xa9llo \xe2\x82\xac \xe4\xb8\xad \xf0\x9f\x98\x80";
    int64_t ts, day;
    assert_int_equal(vx_datetime_from_parts(2024, 2, 29, 23, 59, 58, 123456, &ts), 0);
    assert_int_equal(vx_datetime_from_parts(1999, 12, 31, 0, 0, 0, 0, &day), 0);
    vx_value *p = list_of(
        17, vx_int(-32768), vx_int(INT32_MAX), vx_int(INT64_MIN), vx_float(0.5),
        vx_float(0.1), vx_float(-12345.678901), vx_bool(true), vx_bytes(raw, sizeof raw),
        vx_str(uni), vx_str("a'b\"c\\d"), vx_str("xyz"), vx_datetime(ts), vx_datetime(ts),
        vx_datetime(day), vx_str("123e4567-e89b-12d3-a456-426614174000"),
        vx_str("{\"k\": [1, 2]}"), vx_int(4000000000));
    vx_sql_result r;
    run(c, &r, p,
        "INSERT INTO %s_types (i2, i4, i8, f4, f8, n, b, by, t, v, ch, ts, tz, d, u, j, o) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *");
    vx_decref(p);
    assert_int_equal(r.n_rows, 1);
    assert_int_equal(r.n_cols, 18);
    assert_int_equal(vx_int_value(cell(&r, 0, "id")), 1);
    assert_int_equal(vx_int_value(cell(&r, 0, "i2")), -32768);
    assert_int_equal(vx_int_value(cell(&r, 0, "i4")), INT32_MAX);
    assert_true(vx_int_value(cell(&r, 0, "i8")) == INT64_MIN);
    assert_int_equal(vx_typeof(cell(&r, 0, "f4")), VX_FLOAT);
    assert_true(vx_float_value(cell(&r, 0, "f4")) == 0.5);
    assert_true(vx_float_value(cell(&r, 0, "f8")) ==
                0.1); /* exact, not 0.1000000000000000055 */
    assert_true(vx_float_value(cell(&r, 0, "n")) == -12345.678901);
    assert_int_equal(vx_typeof(cell(&r, 0, "b")), VX_BOOL);
    assert_true(vx_bool_value(cell(&r, 0, "b")));
    assert_int_equal(vx_bytes_len(cell(&r, 0, "by")), sizeof raw);
    assert_memory_equal(vx_bytes_data(cell(&r, 0, "by")), raw, sizeof raw);
    assert_string_equal(vx_str_value(cell(&r, 0, "t")), uni);
    assert_string_equal(vx_str_value(cell(&r, 0, "v")), "a'b\"c\\d");
    assert_string_equal(vx_str_value(cell(&r, 0, "ch")), "xyz");
    assert_int_equal(vx_typeof(cell(&r, 0, "ts")), VX_DATETIME);
    assert_true(vx_datetime_value(cell(&r, 0, "ts")) == ts);
    assert_true(vx_datetime_value(cell(&r, 0, "tz")) == ts);
    assert_true(vx_datetime_value(cell(&r, 0, "d")) == day);
    assert_string_equal(vx_str_value(cell(&r, 0, "u")),
                        "123e4567-e89b-12d3-a456-426614174000");
    assert_string_equal(vx_str_value(cell(&r, 0, "j")), "{\"k\": [1, 2]}");
    assert_int_equal(vx_int_value(cell(&r, 0, "o")), 4000000000);
    vx_sql_result_free(&r);

    /* NULL everywhere but the key */
    p = list_of(3, vx_null(), vx_null(), vx_null());
    run(c, &r, p, "INSERT INTO %s_types (i8, by, tz) VALUES (?, ?, ?) RETURNING *");
    vx_decref(p);
    for (size_t k = 1; k < r.n_cols; k++) assert_true(vx_is_null(r.cells[k]));
    vx_sql_result_free(&r);

    /* float edges: repr digits, the sign of zero, and what float8 holds
     * beyond the finite */
    double fl[] = {
        1e-300, 1.7976931348623157e308, 5e-324, -0.0, 2.0 / 3.0, INFINITY, -INFINITY, NAN};
    for (size_t k = 0; k < sizeof fl / sizeof fl[0]; k++) {
        p = list_of(1, vx_float(fl[k]));
        run(c, &r, p, "SELECT ?::float8 AS f");
        vx_decref(p);
        double got = vx_float_value(cell(&r, 0, "f"));
        if (isnan(fl[k]))
            assert_true(isnan(got));
        else
            assert_true(got == fl[k] && signbit(got) == signbit(fl[k]));
        vx_sql_result_free(&r);
    }
    /* numeric keeps what float8 would round */
    run(c, &r, NULL, "SELECT 12345678901234567890.5::numeric AS n, 'NaN'::numeric AS nan");
    assert_true(vx_float_value(cell(&r, 0, "n")) == 12345678901234567890.5);
    assert_true(isnan(vx_float_value(cell(&r, 0, "nan"))));
    vx_sql_result_free(&r);
    /* bool false, large bytea, empty bytea and empty string */
    uint8_t big[70000];
    for (size_t k = 0; k < sizeof big; k++) big[k] = (uint8_t)(k * 7);
    p = list_of(4, vx_bool(false), vx_bytes(big, sizeof big), vx_bytes("", 0), vx_str(""));
    run(c, &r, p, "SELECT ?::boolean AS b, ?::bytea AS big, ?::bytea AS e, ?::text AS s");
    vx_decref(p);
    assert_false(vx_bool_value(cell(&r, 0, "b")));
    assert_int_equal(vx_bytes_len(cell(&r, 0, "big")), sizeof big);
    assert_memory_equal(vx_bytes_data(cell(&r, 0, "big")), big, sizeof big);
    assert_int_equal(vx_typeof(cell(&r, 0, "e")), VX_BYTES);
    assert_int_equal(vx_bytes_len(cell(&r, 0, "e")), 0);
    assert_string_equal(vx_str_value(cell(&r, 0, "s")), "");
    vx_sql_result_free(&r);
    /* the datetime range ends */
    p = list_of(2, vx_datetime(VX_DATETIME_MIN_US), vx_datetime(VX_DATETIME_MAX_US));
    run(c, &r, p, "SELECT ?::timestamp AS lo, ?::timestamptz AS hi");
    vx_decref(p);
    assert_true(vx_datetime_value(cell(&r, 0, "lo")) == VX_DATETIME_MIN_US);
    assert_true(vx_datetime_value(cell(&r, 0, "hi")) == VX_DATETIME_MAX_US);
    vx_sql_result_free(&r);
    run(c, NULL, NULL, "DROP TABLE %s_types");
    pg->disconnect(c);
}

/* A session whose settings were changed after connect (a statement's SET,
 * a pooler) still reads right: escape-format bytea, zone offsets. */
static void test_other_output_styles_still_read(void **state) {
    void *c = connect_or_fail();
    vx_sql_result r;
    run(c, NULL, NULL, "SET bytea_output = 'escape'");
    run(c, NULL, NULL, "SET TimeZone = 'Asia/Kolkata'");
    run(c, &r, NULL,
        "SELECT '\\x00ff5c41277f'::bytea AS b, "
        "'2020-06-01 12:00:00.5+00'::timestamptz AS t");
    assert_int_equal(vx_bytes_len(cell(&r, 0, "b")), 6);
    assert_memory_equal(vx_bytes_data(cell(&r, 0, "b")), "\x00\xff\\A'\x7f", 6);
    int64_t want;
    assert_int_equal(vx_datetime_from_parts(2020, 6, 1, 12, 0, 0, 500000, &want), 0);
    assert_true(vx_datetime_value(cell(&r, 0, "t")) == want);
    vx_sql_result_free(&r);
    pg->disconnect(c);
}

static void test_unrepresentable_cells_are_errors(void **state) {
    void *c = connect_or_fail();
    const char *sql[] = {"SELECT 'infinity'::timestamp AS far",
                         "SELECT '0044-03-15 BC'::date AS far",
                         "SELECT '10000-01-01'::timestamptz AS far"};
    for (size_t k = 0; k < 3; k++) {
        vx_error err = {0};
        assert_int_equal(run_fail(c, NULL, sql[k], &err), VX_E_SQL_VALUE);
        assert_non_null(strstr(err.message, "column 'far'"));
    }
    assert_ok_after(c);
    pg->disconnect(c);
}

static void test_metacharacters_stored_verbatim(void **state) {
    void *c = connect_or_fail();
    run(c, NULL, NULL, "CREATE TABLE %s_meta (id serial PRIMARY KEY, s text)");
    const char *nasty[] = {"'; DROP TABLE pg_meta; --",
                           "?",
                           "$1",
                           "\\x00",
                           "\"",
                           "/* ? */",
                           "-- ?",
                           "$$ ? $$",
                           "E'\\''",
                           "%s %n",
                           "\r\n\t"};
    size_t n = sizeof nasty / sizeof nasty[0];
    for (size_t k = 0; k < n; k++) {
        vx_value *p = list_of(1, vx_str(nasty[k]));
        run(c, NULL, p, "INSERT INTO %s_meta (s) VALUES (?)");
        vx_decref(p);
    }
    vx_sql_result r;
    run(c, &r, NULL, "SELECT s FROM %s_meta ORDER BY id");
    assert_int_equal(r.n_rows, n);
    for (size_t k = 0; k < n; k++) assert_string_equal(vx_str_value(r.cells[k]), nasty[k]);
    vx_sql_result_free(&r);
    /* a value equal to a whole statement is still one value */
    vx_value *p = list_of(1, vx_str("x'); DELETE FROM pg_meta; --"));
    run(c, &r, p, "SELECT count(*) AS n FROM %s_meta WHERE s = ?");
    vx_decref(p);
    assert_int_equal(vx_int_value(cell(&r, 0, "n")), 0);
    vx_sql_result_free(&r);
    /* '?' inside literals, identifiers and comments is not a parameter */
    p = list_of(1, vx_int(7));
    run(c, &r, p,
        "SELECT 'who?' AS \"q?\", ?::int AS v -- really?\n /* nested /* ? */ ? */, $$?$$ "
        "AS d");
    vx_decref(p);
    assert_string_equal(vx_str_value(cell(&r, 0, "q?")), "who?");
    assert_int_equal(vx_int_value(cell(&r, 0, "v")), 7);
    assert_string_equal(vx_str_value(cell(&r, 0, "d")), "?");
    vx_sql_result_free(&r);
    run(c, NULL, NULL, "DROP TABLE %s_meta");
    pg->disconnect(c);
}

static void test_bad_parameters_refused_before_the_server(void **state) {
    void *c = connect_or_fail();
    vx_error err = {0};
    vx_value *p = list_of(1, vx_list());
    assert_int_equal(run_fail(c, p, "SELECT ?", &err), VX_E_SQL_VALUE);
    assert_non_null(strstr(err.message, "parameter 1 is a list"));
    vx_decref(p);
    p = list_of(2, vx_int(1), vx_dict());
    assert_int_equal(run_fail(c, p, "SELECT ?, ?", &err), VX_E_SQL_VALUE);
    assert_non_null(strstr(err.message, "parameter 2 is a dict"));
    vx_decref(p);
    p = list_of(1, vx_strn("a\0b", 3));
    assert_int_equal(run_fail(c, p, "SELECT ?", &err), VX_E_SQL_VALUE);
    assert_non_null(strstr(err.message, "U+0000"));
    vx_decref(p);
    p = list_of(1, vx_int(1));
    assert_int_equal(run_fail(c, p, "SELECT ?, ?", &err), VX_E_SQL);
    assert_non_null(strstr(err.message, "2 '?' placeholders but 1"));
    assert_int_equal(run_fail(c, p, "SELECT '?'", &err), VX_E_SQL);
    vx_decref(p);
    vx_value *notlist = vx_int(3);
    assert_int_equal(run_fail(c, notlist, "SELECT 1", &err), VX_E_INVAL);
    vx_decref(notlist);
    assert_ok_after(c);
    pg->disconnect(c);
}

static void test_errors_carry_the_server_message(void **state) {
    void *c = connect_or_fail();
    vx_error err = {0};
    assert_int_equal(run_fail(c, NULL, "SELECT * FROM %s_missing", &err), VX_E_SQL);
    assert_non_null(strstr(err.message, "does not exist"));
    assert_null(strchr(err.message, '\n'));
    assert_int_equal(run_fail(c, NULL, "SELEC 1", &err), VX_E_SQL);
    assert_non_null(strstr(err.message, "syntax error"));
    run(c, NULL, NULL, "CREATE TABLE %s_err (id int PRIMARY KEY, s text NOT NULL)");
    run(c, NULL, NULL, "INSERT INTO %s_err VALUES (1, 'a')");
    assert_int_equal(run_fail(c, NULL, "INSERT INTO %s_err VALUES (1, 'b')", &err),
                     VX_E_SQL);
    assert_non_null(strstr(err.message, "duplicate key value violates unique constraint"));
    vx_value *p = list_of(2, vx_int(2), vx_null());
    assert_int_equal(run_fail(c, p, "INSERT INTO %s_err VALUES (?, ?)", &err), VX_E_SQL);
    assert_non_null(strstr(err.message, "null value in column \"s\""));
    vx_decref(p);
    /* a second statement cannot ride along with a parameterised one */
    p = list_of(1, vx_int(3));
    assert_int_equal(
        run_fail(c, p, "INSERT INTO %s_err VALUES (?, 'x'); DROP TABLE %s_err", &err),
        VX_E_SQL);
    vx_decref(p);
    /* COPY would leave the connection mid-protocol; it is refused and the
     * connection stays usable */
    assert_int_equal(run_fail(c, NULL, "COPY %s_err TO STDOUT", &err), VX_E_SQL);
    assert_ok_after(c);
    assert_int_equal(run_fail(c, NULL, "COPY %s_err FROM STDIN", &err), VX_E_SQL);
    assert_ok_after(c);
    vx_sql_result r;
    run(c, &r, NULL, "SELECT count(*) AS n FROM %s_err");
    assert_int_equal(vx_int_value(cell(&r, 0, "n")), 1);
    vx_sql_result_free(&r);
    /* a statement without rows, an empty one, and a NULL result pointer */
    run(c, &r, NULL, "UPDATE %s_err SET s = 'z'");
    assert_int_equal(r.n_rows, 0);
    vx_sql_result_free(&r);
    run(c, &r, NULL, "SELECT * FROM %s_err WHERE false");
    assert_int_equal(r.n_rows, 0);
    assert_int_equal(r.n_cols, 2);
    vx_sql_result_free(&r);
    run(c, NULL, NULL, "DROP TABLE %s_err");
    pg->disconnect(c);
}

/* ---- schema --------------------------------------------------------------- */

static const vx_sql_column *col(const vx_sql_column *cols, size_t n, const char *name) {
    for (size_t k = 0; k < n; k++)
        if (strcmp(cols[k].name, name) == 0) return &cols[k];
    fail_msg("no column %s", name);
    return NULL;
}

static void test_describe_types_keys_and_defaults(void **state) {
    void *c = connect_or_fail();
    run(c, NULL, NULL,
        "CREATE TABLE %s_desc (id serial PRIMARY KEY, name varchar(20) NOT NULL DEFAULT "
        "'it''s', "
        "n integer DEFAULT 42, neg integer DEFAULT -1, ok boolean DEFAULT true, "
        "r double precision DEFAULT 0.5, amount numeric(10,2) DEFAULT 12.50, "
        "created timestamp DEFAULT now(), changed timestamptz DEFAULT CURRENT_TIMESTAMP, "
        "born timestamp DEFAULT '2020-01-02 03:04:05.123456', raw bytea DEFAULT '\\x00ff', "
        "ident bigint GENERATED ALWAYS AS IDENTITY, twice integer GENERATED ALWAYS AS (n * "
        "2) "
        "STORED, seq bigint DEFAULT nextval('%s_desc_id_seq'), sum integer DEFAULT (1 + "
        "2), "
        "plain text, \"Odd \"\"name\"\"?\" text DEFAULT 'x'::text || 'y')");
    vx_sql_column *cols = NULL;
    size_t n = 0;
    vx_error err = {0};
    char name[80];
    snprintf(name, sizeof name, "%s_desc", tbl);
    assert_int_equal(pg->describe(c, name, &cols, &n, &err), 0);
    assert_int_equal(n, 17);
    assert_string_equal(cols[0].name, "id"); /* declaration order */
    assert_string_equal(cols[16].name, "Odd \"name\"?");

    const vx_sql_column *k = col(cols, n, "id");
    assert_string_equal(k->decl_type, "integer");
    assert_int_equal(k->kind, VX_INT);
    assert_true(k->primary_key && !k->nullable && k->has_db_default && !k->default_value);

    k = col(cols, n, "name");
    assert_string_equal(k->decl_type, "character varying");
    assert_int_equal(k->kind, VX_STR);
    assert_true(!k->primary_key && !k->nullable && k->has_db_default);
    assert_string_equal(vx_str_value(k->default_value), "it's");

    k = col(cols, n, "n");
    assert_true(k->nullable && k->has_db_default);
    assert_int_equal(vx_typeof(k->default_value), VX_INT);
    assert_int_equal(vx_int_value(k->default_value), 42);
    assert_int_equal(vx_int_value(col(cols, n, "neg")->default_value), -1);

    k = col(cols, n, "ok");
    assert_string_equal(k->decl_type, "boolean");
    assert_int_equal(vx_typeof(k->default_value), VX_BOOL);
    assert_true(vx_bool_value(k->default_value));

    k = col(cols, n, "r");
    assert_string_equal(k->decl_type, "double precision");
    assert_int_equal(k->kind, VX_FLOAT);
    assert_true(vx_float_value(k->default_value) == 0.5);
    k = col(cols, n, "amount");
    assert_string_equal(k->decl_type, "numeric");
    assert_int_equal(k->kind, VX_FLOAT);
    assert_true(vx_float_value(k->default_value) == 12.5);

    const char *exprs[] = {"created", "changed", "ident",        "twice",
                           "seq",     "sum",     "Odd \"name\"?"};
    for (size_t e = 0; e < sizeof exprs / sizeof exprs[0]; e++) {
        k = col(cols, n, exprs[e]);
        assert_true(k->has_db_default);
        assert_null(k->default_value);
    }
    assert_string_equal(col(cols, n, "created")->decl_type, "timestamp without time zone");
    assert_int_equal(col(cols, n, "created")->kind, VX_DATETIME);
    assert_string_equal(col(cols, n, "changed")->decl_type, "timestamp with time zone");
    assert_int_equal(col(cols, n, "changed")->kind, VX_DATETIME);
    assert_false(col(cols, n, "ident")->nullable);

    k = col(cols, n, "born");
    int64_t want;
    assert_int_equal(vx_datetime_from_parts(2020, 1, 2, 3, 4, 5, 123456, &want), 0);
    assert_true(vx_datetime_value(k->default_value) == want);
    k = col(cols, n, "raw");
    assert_string_equal(k->decl_type, "bytea");
    assert_int_equal(k->kind, VX_BYTES);
    assert_int_equal(vx_bytes_len(k->default_value), 2);
    assert_memory_equal(vx_bytes_data(k->default_value), "\x00\xff", 2);

    k = col(cols, n, "plain");
    assert_true(k->nullable && !k->has_db_default && !k->default_value && !k->primary_key);
    vx_sql_columns_free(cols, n);

    snprintf(name, sizeof name, "%s_nope", tbl);
    cols = (vx_sql_column *)1;
    assert_int_equal(pg->describe(c, name, &cols, &n, &err), VX_E_NOT_FOUND);
    assert_null(cols);
    assert_non_null(strstr(err.message, name));
    run(c, NULL, NULL, "DROP TABLE %s_desc");
    pg->disconnect(c);
}

static void test_list_tables_sorted_public(void **state) {
    void *c = connect_or_fail();
    run(c, NULL, NULL, "CREATE TABLE %s_zeta (id int PRIMARY KEY)");
    run(c, NULL, NULL, "CREATE TABLE \"%s_Alpha\" (id int PRIMARY KEY)");
    run(c, NULL, NULL, "CREATE TEMP TABLE %s_temp (id int)"); /* not in public */
    vx_value *names = NULL;
    vx_error err = {0};
    assert_int_equal(pg->list_tables(c, &names, &err), 0);
    char zeta[80], alpha[80], temp[80];
    snprintf(zeta, sizeof zeta, "%s_zeta", tbl);
    snprintf(alpha, sizeof alpha, "%s_Alpha", tbl);
    snprintf(temp, sizeof temp, "%s_temp", tbl);
    long iz = -1, ia = -1;
    for (size_t k = 0; k < vx_list_size(names); k++) {
        const char *s = vx_str_value(vx_list_get(names, k));
        assert_non_null(s);
        if (k > 0) assert_true(strcmp(vx_str_value(vx_list_get(names, k - 1)), s) < 0);
        if (strcmp(s, zeta) == 0) iz = (long)k;
        if (strcmp(s, alpha) == 0) ia = (long)k;
        assert_string_not_equal(s, temp);
    }
    assert_true(ia >= 0 && iz > ia); /* byte order: 'A' < 'z' */
    vx_decref(names);
    run(c, NULL, NULL, "DROP TABLE %s_zeta, \"%s_Alpha\", %s_temp");
    pg->disconnect(c);
}

/* ---- the server going away -------------------------------------------------- */

static void terminate(void *victim) {
    void *admin = connect_or_fail();
    vx_sql_result r;
    run(victim, &r, NULL, "SELECT pg_backend_pid() AS pid");
    vx_value *p = list_of(1, vx_incref(cell(&r, 0, "pid")));
    vx_sql_result_free(&r);
    /* the timeout form waits until the backend has exited */
    run(admin, &r, p, "SELECT pg_terminate_backend(?, 5000) AS gone");
    vx_decref(p);
    assert_true(vx_bool_value(cell(&r, 0, "gone")));
    vx_sql_result_free(&r);
    pg->disconnect(admin);
}

static void test_server_going_away_is_an_error_not_a_crash(void **state) {
    /* seen by alive() while idle, before any statement fails */
    void *c = connect_or_fail();
    assert_true(pg->alive(c));
    terminate(c);
    assert_false(pg->alive(c));
    vx_error err = {0};
    assert_int_equal(run_fail(c, NULL, "SELECT 1", &err), VX_E_SQL);
    assert_true(strlen(err.message) > 0);
    assert_false(pg->alive(c));
    pg->disconnect(c);

    /* a statement on a connection nobody checked: an error, then alive()
     * says so */
    c = connect_or_fail();
    terminate(c);
    assert_int_equal(run_fail(c, NULL, "SELECT 1", &err), VX_E_SQL);
    assert_null(strchr(err.message, '\n'));
    assert_int_equal(run_fail(c, NULL, "SELECT 2", &err), VX_E_SQL);
    assert_false(pg->alive(c));
    vx_value *names = NULL;
    assert_int_equal(pg->list_tables(c, &names, &err), VX_E_SQL);
    assert_null(names);
    vx_sql_column *cols = NULL;
    size_t n = 0;
    assert_int_equal(pg->describe(c, "anything", &cols, &n, &err), VX_E_SQL);
    pg->disconnect(c);
}

/* Drop whatever a failed test left behind. */
static int drop_leftovers(void **state) {
    const char *url = getenv("VX_TEST_PG_URL");
    void *c = NULL;
    if (!url || !*url || pg->connect(url, NULL, &c, NULL) != 0) return 0;
    vx_value *names = NULL;
    if (pg->list_tables(c, &names, NULL) == 0) {
        for (size_t k = 0; k < vx_list_size(names); k++) {
            const char *s = vx_str_value(vx_list_get(names, k));
            char sql[200];
            if (strncmp(s, tbl, strlen(tbl)) != 0 || s[strlen(tbl)] != '_') continue;
            snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS \"%s\"", s);
            pg->query(c, sql, NULL, NULL, NULL);
        }
    }
    vx_decref(names);
    pg->disconnect(c);
    return 0;
}

int main(void) {
    snprintf(tbl, sizeof tbl, "pg_%ld", (long)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_placeholders_skip_literals_identifiers_comments),
        cmocka_unit_test(test_connect_failures_are_clear_and_quick),
        cmocka_unit_test(test_busy_timeout_bounds_lock_waits),
        cmocka_unit_test(test_session_settings_utc_iso),
        cmocka_unit_test(test_every_type_round_trips),
        cmocka_unit_test(test_other_output_styles_still_read),
        cmocka_unit_test(test_unrepresentable_cells_are_errors),
        cmocka_unit_test(test_metacharacters_stored_verbatim),
        cmocka_unit_test(test_bad_parameters_refused_before_the_server),
        cmocka_unit_test(test_errors_carry_the_server_message),
        cmocka_unit_test(test_describe_types_keys_and_defaults),
        cmocka_unit_test(test_list_tables_sorted_public),
        cmocka_unit_test(test_server_going_away_is_an_error_not_a_crash),
    };
    return cmocka_run_group_tests(tests, NULL, drop_leftovers);
}
