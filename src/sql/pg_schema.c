/* Tables of schema "public": their names, and each column's type, key,
 * nullability and default, for the store to build tuple types from. */
#include <stdlib.h>
#include <string.h>

#include "pg_impl.h"

int vx_pg_list_tables(void *conn, vx_value **names, vx_error *err) {
    *names = NULL;
    /* COLLATE "C": byte order, the same whatever the database's collation */
    PGresult *res =
        vx_pg_exec_rows(conn,
                        "SELECT c.relname FROM pg_catalog.pg_class c "
                        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') "
                        "ORDER BY c.relname COLLATE \"C\"",
                        0, NULL, "listing postgresql tables", err);
    if (!res) return VX_E_SQL;
    vx_value *list = vx_list();
    int rc = list ? 0 : VX_E_NOMEM;
    for (int r = 0; rc == 0 && r < PQntuples(res); r++) {
        vx_value *name;
        rc = vx_pg_text_value(VX_STR, PQgetvalue(res, r, 0), (size_t)PQgetlength(res, r, 0),
                              &name, err);
        if (rc == 0) rc = vx_list_append_new(list, name);
    }
    PQclear(res);
    if (rc) {
        vx_decref(list);
        if (rc == VX_E_NOMEM)
            vx_error_set(err, rc, "out of memory listing postgresql tables");
        return rc;
    }
    *names = list;
    return 0;
}

/* A constant default as PostgreSQL deparses one (pg_get_expr, with
 * standard_conforming_strings on): a number (42, 0.5), true/false/NULL, or
 * a quoted literal ('it''s'), then at most one "::type" cast. Anything else
 * (nextval(...), now(), CURRENT_TIMESTAMP, (1 + 2), 'x'::text::date) is an
 * expression the database evaluates on insert. On a constant, *text is the
 * malloc'd literal (unquoted) and 1 is returned; 0 for an expression, -1
 * on OOM. *is_null: the literal is NULL. */
static int default_literal(const char *d, char **text, size_t *len, bool *is_null) {
    size_t i = 0, n = strlen(d);
    *text = NULL;
    *is_null = false;
    char *buf = malloc(n + 1);
    if (!buf) return -1;
    size_t o = 0;
    if (d[0] == '\'') {
        for (i = 1;; i++) {
            if (!d[i]) goto expression;
            if (d[i] == '\'') {
                if (d[i + 1] != '\'') break;
                i++;
            }
            buf[o++] = d[i];
        }
        i++;
    } else if ((d[0] >= '0' && d[0] <= '9') || d[0] == '-' || d[0] == '.') {
        while (d[i] && strchr("0123456789.eE+-", d[i])) buf[o++] = d[i++];
    } else {
        while ((d[i] >= 'a' && d[i] <= 'z') || (d[i] >= 'A' && d[i] <= 'Z'))
            buf[o++] = d[i++];
        buf[o] = '\0';
        if (strcmp(buf, "NULL") == 0) {
            *is_null = true;
        } else if (strcmp(buf, "true") != 0 && strcmp(buf, "false") != 0) {
            goto expression;
        }
    }
    if (d[i]) {
        /* one cast to a type name: letters, digits, spaces, (n,m), [] */
        if (d[i] != ':' || d[i + 1] != ':') goto expression;
        for (i += 2; d[i]; i++)
            if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_ "
                        "(),[].\"",
                        d[i]))
                goto expression;
    }
    buf[o] = '\0';
    *text = buf;
    *len = o;
    return 1;
expression:
    free(buf);
    *is_null = false;
    return 0;
}

static void free_columns(vx_sql_column *cols, size_t n) {
    for (size_t k = 0; k < n; k++) {
        free(cols[k].name);
        free(cols[k].decl_type);
        vx_decref(cols[k].default_value);
    }
    free(cols);
}

/* One row of the describe query into `col`. 0, or VX_E_NOMEM. */
static int read_column(const PGresult *res, int r, vx_sql_column *col) {
    col->name = strdup(PQgetvalue(res, r, 0));
    col->decl_type = strdup(PQgetvalue(res, r, 1));
    if (!col->name || !col->decl_type) return VX_E_NOMEM;
    col->kind = vx_sql_kind_for_decl(col->decl_type);
    col->primary_key = PQgetvalue(res, r, 6)[0] == 't';
    col->nullable = strcmp(PQgetvalue(res, r, 2), "YES") == 0 && !col->primary_key;
    /* identity and GENERATED ... AS (expr) columns have no column_default
     * but the database fills them in all the same */
    col->has_db_default = strcmp(PQgetvalue(res, r, 4), "YES") == 0 ||
                          strcmp(PQgetvalue(res, r, 5), "ALWAYS") == 0;
    if (PQgetisnull(res, r, 3)) return 0;
    char *text;
    size_t len;
    bool is_null;
    int constant = default_literal(PQgetvalue(res, r, 3), &text, &len, &is_null);
    if (constant < 0) return VX_E_NOMEM;
    if (is_null) {
        free(text); /* DEFAULT NULL is no default at all */
        return 0;
    }
    col->has_db_default = true;
    if (constant) {
        /* a literal this kind cannot read ('infinity', 1.5 for an int
         * column) is left to the database, like an expression */
        vx_error ignored;
        int rc = vx_pg_text_value(col->kind, text, len, &col->default_value, &ignored);
        free(text);
        if (rc == VX_E_NOMEM) return rc;
    }
    return 0;
}

int vx_pg_describe(void *conn, const char *table, vx_sql_column **cols_out, size_t *n_out,
                   vx_error *err) {
    *cols_out = NULL;
    *n_out = 0;
    if (!table) return vx_error_set(err, VX_E_INVAL, "describe without a table name");
    const char *params[] = {table};
    PGresult *res = vx_pg_exec_rows(
        conn,
        "SELECT c.column_name, c.data_type, c.is_nullable, c.column_default, "
        "c.is_identity, "
        "c.is_generated, EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k "
        "JOIN pg_catalog.pg_class r ON r.oid = k.conrelid "
        "JOIN pg_catalog.pg_namespace ns ON ns.oid = r.relnamespace "
        "JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid AND a.attnum = ANY "
        "(k.conkey) "
        "WHERE k.contype = 'p' AND ns.nspname = 'public' AND r.relname = $1::text "
        "AND a.attname = c.column_name) "
        "FROM information_schema.columns c "
        "WHERE c.table_schema = 'public' AND c.table_name = $1::text "
        "ORDER BY c.ordinal_position",
        1, params, "describing a postgresql table", err);
    if (!res) return VX_E_SQL;
    int n = PQntuples(res);
    if (n == 0) {
        PQclear(res);
        return vx_error_set(err, VX_E_NOT_FOUND,
                            "no table '%s' in postgresql schema public", table);
    }
    vx_sql_column *cols = calloc((size_t)n, sizeof *cols);
    int rc = cols ? 0 : VX_E_NOMEM;
    for (int r = 0; rc == 0 && r < n; r++) rc = read_column(res, r, &cols[r]);
    PQclear(res);
    if (rc) {
        if (cols) free_columns(cols, (size_t)n);
        return vx_error_set(err, VX_E_NOMEM, "out of memory describing table '%s'", table);
    }
    *cols_out = cols;
    *n_out = (size_t)n;
    return 0;
}
