/* The SQLite backend (backend.h): one sqlite3 connection per pooled session.
 *
 * File databases run in WAL mode (readers do not block the writer) with a
 * busy timeout; an in-memory store is a named shared-cache database, where
 * a conflicting lock is reported at once as SQLITE_LOCKED_SHAREDCACHE (the
 * busy handler does not apply), so those statements are retried here until
 * the same busy timeout. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sqlite3.h>

#include "backend.h"

typedef struct sq_conn {
    sqlite3 *db;
    double busy_timeout; /* seconds */
} sq_conn;

static int sq_error(vx_error *err, sqlite3 *db, const char *what) {
    if (what) return vx_error_set(err, VX_E_SQL, "%s: %s", what, sqlite3_errmsg(db));
    return vx_error_set(err, VX_E_SQL, "%s", sqlite3_errmsg(db));
}

static void sq_disconnect(void *conn) {
    sq_conn *c = conn;
    if (!c) return;
    /* v2: statements left over (none should be) do not keep it open. */
    sqlite3_close_v2(c->db);
    free(c);
}

static int sq_connect(const char *target, const vx_store_opts *opts, void **conn,
                      vx_error *err) {
    *conn = NULL;
    sq_conn *c = calloc(1, sizeof *c);
    if (!c) return vx_error_set(err, VX_E_NOMEM, "out of memory connecting to sqlite");
    c->busy_timeout = opts ? opts->busy_timeout : 5.0;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI;
    if (!opts || opts->create) flags |= SQLITE_OPEN_CREATE;
    int rc = sqlite3_open_v2(target, &c->db, flags, NULL);
    if (rc != SQLITE_OK) {
        vx_error_set(err, VX_E_SQL, "'%.200s': %s", target,
                     c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        sq_disconnect(c);
        return VX_E_SQL;
    }
    sqlite3_extended_result_codes(c->db, 1);
    double ms = c->busy_timeout * 1000.0;
    sqlite3_busy_timeout(c->db, ms > 2e9 ? 2000000000 : (int)ms);
    if (sqlite3_exec(c->db, "PRAGMA foreign_keys=ON", NULL, NULL, NULL) != SQLITE_OK) {
        sq_error(err, c->db, "enable foreign keys");
        sq_disconnect(c);
        return VX_E_SQL;
    }
    bool memory = strcmp(target, ":memory:") == 0 || strstr(target, "mode=memory");
    if (!memory) {
        /* A file that is not a database fails here, at open, not later. WAL
         * itself is only a speed-up: a database that cannot switch (read-only
         * directory) still works in its current mode. */
        char *msg = NULL;
        rc = sqlite3_exec(c->db, "PRAGMA journal_mode=WAL", NULL, NULL, &msg);
        sqlite3_free(msg);
        if (rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT) {
            vx_error_set(err, VX_E_SQL, "'%.200s': %s", target, sqlite3_errmsg(c->db));
            sq_disconnect(c);
            return VX_E_SQL;
        }
    }
    *conn = c;
    return 0;
}

static bool sq_alive(void *conn) {
    return conn && ((sq_conn *)conn)->db; /* a local file does not go away */
}

/* ---- retry on shared-cache locks ----------------------------------------- */

typedef struct retry {
    struct timespec start;
    long pause_us;
} retry;

static double elapsed(const retry *r) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - r->start.tv_sec) + (now.tv_nsec - r->start.tv_nsec) / 1e9;
}

/* Sleep a little and say whether to try again. */
static bool retry_again(const sq_conn *c, retry *r, int rc) {
    if (rc != SQLITE_LOCKED_SHAREDCACHE) return false;
    if (elapsed(r) >= c->busy_timeout) return false;
    r->pause_us = r->pause_us ? (r->pause_us * 2 > 20000 ? 20000 : r->pause_us * 2) : 500;
    struct timespec ts = {0, r->pause_us * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    return true;
}

/* ---- parameters and cells --------------------------------------------------- */

static int bind_one(sqlite3_stmt *st, int i, const vx_value *v, vx_error *err) {
    int rc;
    switch (vx_typeof(v)) {
    case VX_NULL:
        rc = sqlite3_bind_null(st, i);
        break;
    case VX_BOOL:
        rc = sqlite3_bind_int(st, i, vx_bool_value(v) ? 1 : 0);
        break;
    case VX_INT:
        rc = sqlite3_bind_int64(st, i, vx_int_value(v));
        break;
    case VX_FLOAT:
        if (vx_float_value(v) != vx_float_value(v)) /* SQLite would store NULL */
            return vx_error_set(err, VX_E_INVAL, "parameter %d: NaN cannot be stored", i);
        rc = sqlite3_bind_double(st, i, vx_float_value(v));
        break;
    case VX_STR:
        rc = sqlite3_bind_text64(st, i, vx_str_value(v), vx_str_len(v), SQLITE_STATIC,
                                 SQLITE_UTF8);
        break;
    case VX_BYTES:
    case VX_WKB:
        /* a NULL pointer would bind SQL NULL, not an empty blob */
        rc = vx_bytes_len(v) ? sqlite3_bind_blob64(st, i, vx_bytes_data(v), vx_bytes_len(v),
                                                   SQLITE_STATIC)
                             : sqlite3_bind_zeroblob(st, i, 0);
        break;
    case VX_DATETIME: {
        char buf[27];
        vx_datetime_format(vx_datetime_value(v), buf);
        rc = sqlite3_bind_text(st, i, buf, -1, SQLITE_TRANSIENT);
        break;
    }
    default:
        return vx_error_set(err, VX_E_INVAL, "parameter %d: a %s cannot be bound", i,
                            vx_type_name(vx_typeof(v)));
    }
    if (rc != SQLITE_OK)
        return vx_error_set(err, rc == SQLITE_NOMEM ? VX_E_NOMEM : VX_E_SQL,
                            "parameter %d: %s", i, sqlite3_errstr(rc));
    return 0;
}

static vx_value *read_cell(sqlite3_stmt *st, int col) {
    switch (sqlite3_column_type(st, col)) {
    case SQLITE_INTEGER:
        return vx_int(sqlite3_column_int64(st, col));
    case SQLITE_FLOAT:
        return vx_float(sqlite3_column_double(st, col));
    case SQLITE_TEXT: {
        const char *s = (const char *)sqlite3_column_text(st, col);
        size_t n = (size_t)sqlite3_column_bytes(st, col);
        if (!s) return NULL;
        vx_value *v = vx_strn(s, n);
        /* text that is not UTF-8 (SQLite does not check): keep the bytes */
        return v ? v : vx_bytes(s, n);
    }
    case SQLITE_BLOB: {
        const void *p = sqlite3_column_blob(st, col);
        size_t n = (size_t)sqlite3_column_bytes(st, col);
        return vx_bytes(p ? p : "", n);
    }
    default:
        return vx_null();
    }
}

/* Append the current row of `st` to `r` (columns already set). */
static int add_row(vx_sql_result *r, sqlite3_stmt *st, size_t *cap) {
    if (r->n_rows == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        vx_value **cells =
            realloc(r->cells, ncap * (r->n_cols ? r->n_cols : 1) * sizeof *cells);
        if (!cells) return VX_E_NOMEM;
        r->cells = cells;
        *cap = ncap;
    }
    vx_value **row = r->cells + r->n_rows * r->n_cols;
    for (size_t c = 0; c < r->n_cols; c++) {
        row[c] = read_cell(st, (int)c);
        if (!row[c]) {
            for (size_t k = 0; k < c; k++) vx_decref(row[k]);
            return VX_E_NOMEM;
        }
    }
    r->n_rows++;
    return 0;
}

static int set_columns(vx_sql_result *r, sqlite3_stmt *st) {
    size_t n = (size_t)sqlite3_column_count(st);
    r->col_names = calloc(n ? n : 1, sizeof *r->col_names);
    if (!r->col_names) return VX_E_NOMEM;
    r->n_cols = n;
    for (size_t c = 0; c < n; c++) {
        const char *name = sqlite3_column_name(st, (int)c);
        r->col_names[c] = strdup(name ? name : "");
        if (!r->col_names[c]) return VX_E_NOMEM;
    }
    return 0;
}

/* ---- statements ----------------------------------------------------------- */

static bool only_blanks(const char *s) {
    for (; *s; s++)
        if (!isspace((unsigned char)*s) && *s != ';') return false;
    return true;
}

/* Step `st` to the end, collecting rows into `r` when it returns columns. */
static int run_stmt(sq_conn *c, sqlite3_stmt *st, vx_sql_result *r, vx_error *err) {
    retry rt = {0};
    clock_gettime(CLOCK_MONOTONIC, &rt.start);
    size_t cap = 0;
    bool collect = r && sqlite3_column_count(st) > 0;
    if (collect) {
        vx_sql_result_free(r); /* the last statement with columns gives the rows */
        if (set_columns(r, st) != 0) return vx_error_set(err, VX_E_NOMEM, "out of memory");
    }
    for (;;) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) return 0;
        if (rc == SQLITE_ROW) {
            if (collect && add_row(r, st, &cap) != 0)
                return vx_error_set(err, VX_E_NOMEM, "out of memory reading rows");
            continue;
        }
        /* A lock met before any row came back: start the statement over. */
        if (r && collect && r->n_rows) return sq_error(err, c->db, NULL);
        sqlite3_reset(st);
        if (retry_again(c, &rt, rc)) continue;
        return vx_error_set(err, rc == SQLITE_NOMEM ? VX_E_NOMEM : VX_E_SQL, "%s",
                            sqlite3_errmsg(c->db));
    }
}

static int sq_query(void *conn, const char *sql, const vx_value *params,
                    vx_sql_result *result, vx_error *err) {
    sq_conn *c = conn;
    if (result) memset(result, 0, sizeof *result);
    size_t n_params = params ? vx_list_size(params) : 0, used = 0;
    const char *tail = sql;
    int rc = 0;
    while (rc == 0 && tail && *tail) {
        sqlite3_stmt *st = NULL;
        const char *next = NULL;
        retry rt = {0};
        clock_gettime(CLOCK_MONOTONIC, &rt.start);
        int prc;
        do {
            prc = sqlite3_prepare_v2(c->db, tail, -1, &st, &next);
        } while (prc != SQLITE_OK && retry_again(c, &rt, prc));
        if (prc != SQLITE_OK) {
            rc = vx_error_set(err, prc == SQLITE_NOMEM ? VX_E_NOMEM : VX_E_SQL, "%s",
                              sqlite3_errmsg(c->db));
            break;
        }
        tail = next;
        if (!st) continue; /* only a comment or blanks */
        size_t np = (size_t)sqlite3_bind_parameter_count(st);
        bool last = !tail || only_blanks(tail);
        if (used + np > n_params || (last && used + np != n_params)) {
            rc =
                vx_error_set(err, VX_E_INVAL, "the SQL has %s%zu '?' parameters, %zu given",
                             last ? "" : "at least ", used + np, n_params);
        }
        for (size_t k = 1; rc == 0 && k <= np; k++)
            rc = bind_one(st, (int)k, vx_list_get(params, used + k - 1), err);
        used += np;
        if (rc == 0) rc = run_stmt(c, st, result, err);
        sqlite3_finalize(st);
    }
    if (rc == 0 && used != n_params)
        rc = vx_error_set(err, VX_E_INVAL, "the SQL has %zu '?' parameters, %zu given",
                          used, n_params);
    if (rc && result) vx_sql_result_free(result);
    return rc;
}

/* ---- schema ----------------------------------------------------------------- */

static int sq_list_tables(void *conn, vx_value **names, vx_error *err) {
    *names = NULL;
    vx_sql_result r;
    int rc = sq_query(conn,
                      "SELECT name FROM sqlite_schema WHERE type = 'table' AND "
                      "substr(name, 1, 7) <> 'sqlite_' ORDER BY name",
                      NULL, &r, err);
    if (rc) return rc;
    vx_value *list = vx_list();
    for (size_t i = 0; list && i < r.n_rows; i++)
        if (vx_list_append(list, r.cells[i]) != 0) {
            vx_decref(list);
            list = NULL;
        }
    vx_sql_result_free(&r);
    if (!list) return vx_error_set(err, VX_E_NOMEM, "out of memory listing tables");
    *names = list;
    return 0;
}

/* A literal of dflt_value as a value (NEW), or NULL for an expression the
 * database evaluates. */
static vx_value *parse_literal(const char *s) {
    size_t n = strlen(s);
    while (n >= 2 && s[0] == '(' && s[n - 1] == ')') { /* DEFAULT (1) */
        s++;
        n -= 2;
    }
    if (n >= 2 && s[0] == '\'' && s[n - 1] == '\'') {
        char *buf = malloc(n), *w = buf;
        if (!buf) return NULL;
        for (size_t i = 1; i < n - 1; i++) {
            if (s[i] == '\'') {
                if (s[i + 1] != '\'' || i + 1 >= n - 1) { /* 'a' || 'b' */
                    free(buf);
                    return NULL;
                }
                i++;
            }
            *w++ = s[i];
        }
        vx_value *v = vx_strn(buf, (size_t)(w - buf));
        free(buf);
        return v;
    }
    if (n >= 3 && (s[0] == 'x' || s[0] == 'X') && s[1] == '\'' && s[n - 1] == '\'' &&
        (n - 3) % 2 == 0) {
        size_t len = (n - 3) / 2;
        unsigned char *buf = malloc(len ? len : 1);
        if (!buf) return NULL;
        for (size_t i = 0; i < len; i++) {
            char hex[3] = {s[2 + 2 * i], s[3 + 2 * i], 0};
            char *end;
            if (!isxdigit((unsigned char)hex[0]) || !isxdigit((unsigned char)hex[1])) {
                free(buf);
                return NULL;
            }
            buf[i] = (unsigned char)strtoul(hex, &end, 16);
        }
        vx_value *v = vx_bytes(buf, len);
        free(buf);
        return v;
    }
    char buf[64];
    if (n == 0 || n >= sizeof buf) return NULL;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (!strcasecmp(buf, "true")) return vx_bool(true);
    if (!strcasecmp(buf, "false")) return vx_bool(false);
    char *end;
    errno = 0;
    long long i = strtoll(buf, &end, 10);
    if (*end == '\0' && errno == 0 && end != buf) return vx_int(i);
    double d = strtod(buf, &end);
    /* plain numbers only: "inf" / "nan" are column names to SQLite */
    if (*end == '\0' && end != buf && strpbrk(buf, "0123456789") && !strpbrk(buf, "iInN"))
        return vx_float(d);
    return NULL;
}

static void set_default(vx_sql_column *col, const char *dflt) {
    if (!dflt || !strcasecmp(dflt, "NULL")) return; /* a null default is no default */
    col->has_db_default = true;
    vx_value *lit = parse_literal(dflt);
    if (lit && vx_sql_coerce(lit, col->kind, &col->default_value) != 0)
        col->default_value = NULL; /* 'abc' on an int column: the database's business */
    vx_decref(lit);
}

static int sq_describe(void *conn, const char *table, vx_sql_column **cols, size_t *n_cols,
                       vx_error *err) {
    *cols = NULL;
    *n_cols = 0;
    vx_value *params = vx_list();
    vx_value *name = vx_str(table);
    if (!params || !name || vx_list_append_new(params, name) != 0) {
        vx_decref(params);
        return vx_error_set(err, VX_E_NOMEM, "out of memory describing '%s'", table);
    }
    vx_sql_result r;
    int rc = sq_query(conn,
                      "SELECT name, type, \"notnull\", dflt_value, pk "
                      "FROM pragma_table_info(?) ORDER BY cid",
                      params, &r, err);
    vx_decref(params);
    if (rc) return rc;
    if (r.n_rows == 0) {
        vx_sql_result_free(&r);
        return vx_error_set(err, VX_E_NOT_FOUND, "no table '%s'", table);
    }
    vx_sql_column *c = calloc(r.n_rows, sizeof *c);
    if (!c) {
        vx_sql_result_free(&r);
        return vx_error_set(err, VX_E_NOMEM, "out of memory describing '%s'", table);
    }
    size_t n_pk = 0;
    for (size_t i = 0; i < r.n_rows; i++) {
        vx_value **row = r.cells + i * 5;
        const char *decl = vx_str_value(row[1]);
        c[i].name = strdup(vx_str_value(row[0]) ? vx_str_value(row[0]) : "");
        c[i].decl_type = strdup(decl ? decl : "");
        c[i].kind = vx_sql_kind_for_decl(decl);
        c[i].primary_key = vx_int_value(row[4]) > 0;
        c[i].nullable = vx_int_value(row[2]) == 0 && !c[i].primary_key;
        set_default(&c[i], vx_str_value(row[3]));
        n_pk += c[i].primary_key;
        if (!c[i].name || !c[i].decl_type) {
            vx_sql_columns_free(c, r.n_rows);
            vx_sql_result_free(&r);
            return vx_error_set(err, VX_E_NOMEM, "out of memory describing '%s'", table);
        }
    }
    /* An INTEGER PRIMARY KEY is the rowid: SQLite assigns it. */
    for (size_t i = 0; i < r.n_rows; i++)
        if (n_pk == 1 && c[i].primary_key && !strcasecmp(c[i].decl_type, "integer"))
            c[i].has_db_default = true;
    *cols = c;
    *n_cols = r.n_rows;
    vx_sql_result_free(&r);
    return 0;
}

static bool sq_in_transaction(void *conn) {
    return !sqlite3_get_autocommit(((sq_conn *)conn)->db);
}

const vx_sql_backend_ops vx_sqlite_backend = {
    .name = "sqlite",
    .connect = sq_connect,
    .disconnect = sq_disconnect,
    .alive = sq_alive,
    .query = sq_query,
    .list_tables = sq_list_tables,
    .describe = sq_describe,
    .in_transaction = sq_in_transaction,
};
