/* The PostgreSQL backend (backend.h) on libpq: connections, statements and
 * results. The connection handle given to the store is the PGconn itself.
 *
 * Every statement goes through PQexecParams with text-format parameters
 * whose types the server infers from context, so values never become SQL
 * text, and the extended protocol refuses a second statement smuggled into
 * one string. Results come back as text and are read by column type OID
 * (pg_values.c). */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_impl.h"

/* Copy `msg` into out[cap] as one line: libpq's messages span lines
 * ("...failed: Connection refused\n\tIs the server running...") and end
 * with a newline. */
static void one_line(const char *msg, char *out, size_t cap) {
    size_t o = 0;
    int space = 0;
    for (const char *p = msg; *p && o + 1 < cap; p++) {
        if (*p == '\n' || *p == '\t' || *p == '\r' || *p == ' ') {
            space = o > 0;
            continue;
        }
        if (space && o + 2 < cap) out[o++] = ' ';
        space = 0;
        out[o++] = *p;
    }
    out[o] = '\0';
}

int vx_pg_error(PGconn *pg, const PGresult *res, const char *what, vx_error *err) {
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!msg || !*msg) msg = res ? PQresultErrorMessage(res) : NULL;
    if (!msg || !*msg) msg = pg ? PQerrorMessage(pg) : NULL;
    if (!msg || !*msg) msg = "no message from libpq";
    char line[VX_ERROR_MESSAGE_MAX];
    one_line(msg, line, sizeof line);
    if (what) return vx_error_set(err, VX_E_SQL, "%s: %s", what, line);
    return vx_error_set(err, VX_E_SQL, "%s", line);
}

PGresult *vx_pg_exec_rows(PGconn *pg, const char *sql, int n_params,
                          const char *const *params, const char *what, vx_error *err) {
    PGresult *res = PQexecParams(pg, sql, n_params, NULL, params, NULL, NULL, 0);
    if (res && PQresultStatus(res) == PGRES_TUPLES_OK) return res;
    vx_pg_error(pg, res, what, err);
    PQclear(res);
    return NULL;
}

/* libpq prints NOTICEs ("table ... does not exist, skipping") to stderr by
 * default; a library must not write to its host's stderr. */
static void ignore_notice(void *arg, const char *message) {
    (void)arg, (void)message;
}

/* NEW copy of libpq's message with the URI's password (user:PASSWORD@)
 * rewritten as "***": libpq quotes a malformed URI whole. NULL on OOM. */
static char *hide_password(const char *msg, const char *target) {
    char *out = malloc(strlen(msg) + 4);
    if (!out) return NULL;
    strcpy(out, msg);
    const char *scheme = strstr(target, "://");
    char *at_msg = strstr(out, target);
    if (!scheme || !at_msg) return out;
    const char *user = scheme + 3, *at = strchr(user, '@'), *colon = strchr(user, ':');
    const char *slash = strchr(user, '/');
    if (!at || (slash && slash < at) || !colon || colon > at) return out;
    char *pw = at_msg + (colon + 1 - target);
    size_t pw_len = (size_t)(at - colon - 1);
    memmove(pw + 3, pw + pw_len, strlen(pw + pw_len) + 1); /* room: the +4 above */
    memcpy(pw, "***", 3);
    return out;
}

static int pg_connect(const char *target, const vx_store_opts *opts, void **conn,
                      vx_error *err) {
    *conn = NULL;
    if (!target || !*target)
        return vx_error_set(err, VX_E_INVAL, "postgresql: empty connection URI");
    /* The URI is expanded in place of "dbname": keywords before it are
     * defaults the URI may override, keywords after it are ours to keep.
     * The results parser needs UTF8. */
    const char *keys[] = {"connect_timeout", "fallback_application_name", "dbname",
                          "client_encoding", NULL};
    /* vx_store_opts.connect_timeout: how long libpq waits for a server that
     * does not answer (a connect_timeout in the URI wins). */
    char timeout[32];
    double secs = opts && opts->connect_timeout > 0 ? opts->connect_timeout : 5.0;
    snprintf(timeout, sizeof timeout, "%.0f", secs < 2 ? 2 : secs);
    const char *vals[] = {timeout, "vortexc", target, "UTF8", NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (!pg) return vx_error_set(err, VX_E_NOMEM, "out of memory connecting to postgresql");
    if (PQstatus(pg) != CONNECTION_OK) {
        char *msg = hide_password(PQerrorMessage(pg), target);
        char line[VX_ERROR_MESSAGE_MAX];
        one_line(msg ? msg : "out of memory", line, sizeof line);
        free(msg);
        PQfinish(pg);
        return vx_error_set(err, VX_E_SQL, "cannot connect to postgresql: %s", line);
    }
    PQsetNoticeProcessor(pg, ignore_notice, NULL);
    /* What pg_values.c parses and pg_sql.c lexes: UTC ISO datetimes, hex
     * bytea, floats that read back exactly, plain '...' strings without
     * backslash escapes. Waiting for a row lock is bounded like SQLite's
     * busy timeout. */
    double busy = opts ? opts->busy_timeout : 5.0;
    long lock_ms = busy > 0 ? (long)(busy * 1000.0 + 0.5) : 0;
    char setup[384];
    snprintf(
        setup, sizeof setup,
        "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; "
        "SET bytea_output = 'hex'; SET standard_conforming_strings = on; "
        "SET extra_float_digits = 3; SET lock_timeout = %ld",
        lock_ms);
    PGresult *res = PQexec(pg, setup);
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
        vx_pg_error(pg, res, "postgresql session setup failed", err);
        PQclear(res);
        PQfinish(pg);
        return VX_E_SQL;
    }
    PQclear(res);
    *conn = pg;
    return 0;
}

static void pg_disconnect(void *conn) {
    if (conn) PQfinish(conn);
}

static bool pg_alive(void *conn) {
    PGconn *pg = conn;
    if (!pg || PQstatus(pg) != CONNECTION_OK) return false;
    if (PQtransactionStatus(pg) == PQTRANS_ACTIVE) return true;
    /* An idle server only speaks to end the session (pg_terminate_backend,
     * idle_session_timeout, shutdown): its FATAL message, then EOF. Reading
     * them now lets libpq mark the connection bad so the pool reconnects
     * instead of failing the next statement. Two reads: message, then EOF. */
    struct pollfd p = {.fd = PQsocket(pg), .events = POLLIN};
    for (int k = 0; k < 2 && p.fd >= 0 && poll(&p, 1, 0) > 0; k++) {
        if (!PQconsumeInput(pg)) return false;
        PGnotify *n;
        while ((n = PQnotifies(pg)) != NULL) PQfreemem(n);
    }
    return PQstatus(pg) == CONNECTION_OK;
}

static void result_clear(vx_sql_result *r) {
    if (r->col_names)
        for (size_t c = 0; c < r->n_cols; c++) free(r->col_names[c]);
    if (r->cells)
        for (size_t k = 0; k < r->n_rows * r->n_cols; k++) vx_decref(r->cells[k]);
    free(r->col_names);
    free(r->cells);
    memset(r, 0, sizeof *r);
}

static int read_rows(const PGresult *res, vx_sql_result *out, vx_error *err) {
    size_t nc = (size_t)PQnfields(res), nr = (size_t)PQntuples(res);
    out->col_names = calloc(nc ? nc : 1, sizeof *out->col_names);
    out->cells = calloc(nr * nc > 0 ? nr * nc : 1, sizeof *out->cells);
    if (!out->col_names || !out->cells) goto nomem;
    out->n_cols = nc;
    for (size_t c = 0; c < nc; c++) {
        const char *name = PQfname(res, (int)c);
        if (!(out->col_names[c] = strdup(name ? name : ""))) goto nomem;
    }
    out->n_rows = nr;
    for (size_t c = 0; c < nc; c++) {
        vx_type kind = vx_pg_kind_for_oid(PQftype(res, (int)c));
        for (size_t r = 0; r < nr; r++) {
            vx_value **cell = &out->cells[r * nc + c];
            if (PQgetisnull(res, (int)r, (int)c)) {
                *cell = vx_null();
                continue;
            }
            vx_error e;
            int rc = vx_pg_text_value(kind, PQgetvalue(res, (int)r, (int)c),
                                      (size_t)PQgetlength(res, (int)r, (int)c), cell, &e);
            if (rc == VX_E_NOMEM) goto nomem;
            if (rc) {
                vx_error_set(err, VX_E_SQL_VALUE, "column '%s' of row %zu: %s",
                             out->col_names[c], r + 1, e.message);
                result_clear(out);
                return VX_E_SQL_VALUE;
            }
        }
    }
    return 0;
nomem:
    result_clear(out);
    return vx_error_set(err, VX_E_NOMEM, "out of memory reading a postgresql result");
}

/* Leave COPY mode so the connection can run the next statement. */
static void abandon_copy(PGconn *pg, ExecStatusType st) {
    if (st == PGRES_COPY_OUT) {
        char *buf;
        while (PQgetCopyData(pg, &buf, 0) > 0) PQfreemem(buf);
    } else {
        PQputCopyEnd(pg, "COPY through the vortexc store is not supported");
    }
    PGresult *r;
    while ((r = PQgetResult(pg)) != NULL) PQclear(r);
}

static int pg_query(void *conn, const char *sql, const vx_value *params,
                    vx_sql_result *result, vx_error *err) {
    PGconn *pg = conn;
    if (result) memset(result, 0, sizeof *result);
    if (!pg || !sql)
        return vx_error_set(err, VX_E_INVAL, "postgresql query without a statement");
    if (params && vx_typeof(params) != VX_LIST)
        return vx_error_set(err, VX_E_INVAL,
                            "postgresql query parameters must be a list, got %s",
                            vx_type_name(vx_typeof(params)));
    size_t n = params ? vx_list_size(params) : 0, marks;
    if (n > VX_PG_MAX_PARAMS)
        return vx_error_set(err, VX_E_SQL_VALUE,
                            "%zu parameters; postgresql takes at most %d", n,
                            VX_PG_MAX_PARAMS);
    char *text;
    int rc = vx_pg_translate(sql, &text, &marks, err);
    if (rc) return rc;
    if (marks != n) {
        free(text);
        return vx_error_set(err, VX_E_SQL,
                            "the statement has %zu '?' placeholders but %zu "
                            "parameters were given",
                            marks, n);
    }
    char **vals = calloc(n ? n : 1, sizeof *vals);
    if (!vals) {
        free(text);
        return vx_error_set(err, VX_E_NOMEM, "out of memory binding parameters");
    }
    for (size_t k = 0; k < n && rc == 0; k++)
        rc = vx_pg_param_text(vx_list_get(params, k), k + 1, &vals[k], err);
    PGresult *res = NULL;
    if (rc == 0)
        res =
            PQexecParams(pg, text, (int)n, NULL, (const char *const *)vals, NULL, NULL, 0);
    for (size_t k = 0; k < n; k++) free(vals[k]);
    free(vals);
    free(text);
    if (rc) return rc;
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    switch (st) {
    case PGRES_COMMAND_OK:
    case PGRES_EMPTY_QUERY:
        break;
    case PGRES_TUPLES_OK:
        if (result) rc = read_rows(res, result, err);
        break;
    case PGRES_COPY_IN:
    case PGRES_COPY_OUT:
    case PGRES_COPY_BOTH:
        abandon_copy(pg, st);
        rc = vx_error_set(err, VX_E_SQL, "COPY is not supported through the vortexc store");
        break;
    default:
        rc = vx_pg_error(pg, res, NULL, err);
        break;
    }
    PQclear(res);
    return rc;
}

const vx_sql_backend_ops vx_pg_backend = {
    .name = "postgresql",
    .connect = pg_connect,
    .disconnect = pg_disconnect,
    .alive = pg_alive,
    .query = pg_query,
    .list_tables = vx_pg_list_tables,
    .describe = vx_pg_describe,
};
