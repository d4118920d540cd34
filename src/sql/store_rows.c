/* Row work on a session: raw queries, load, insert, merge, delete. SQL text
 * is built only from the schema read at registration (quoted identifiers);
 * every value travels as a bound parameter. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_impl.h"

/* Run on the session's connection; on failure prefix the backend's message
 * with what was being done. */
static int run(vx_sql_session *ss, const char *sql, const vx_value *params,
               vx_sql_result *res, const char *what, const char *table, vx_error *err) {
    vx_error e;
    vx_error_clear(&e);
    int rc = ss->store->ops->query(ss->conn, sql, params, res, &e);
    if (rc == 0) return 0;
    if (table) return vx_error_set(err, rc, "%s '%s': %s", what, table, e.message);
    return vx_error_set(err, rc, "%s: %s", what, e.message);
}

/* Field index of every result column, or VX_E_SQL_SCHEMA. `idx` has
 * r->n_cols entries. */
static int map_columns(const vx_sql_table *t, const vx_sql_result *r, int *idx,
                       vx_error *err) {
    for (size_t c = 0; c < r->n_cols; c++) {
        idx[c] = vx_tuple_type_field_index(t->type, r->col_names[c]);
        if (idx[c] < 0)
            return vx_error_set(
                err, VX_E_SQL_SCHEMA,
                "result column '%.100s' is not a field of '%s' (table '%s')",
                r->col_names[c], vx_tuple_type_name(t->type), t->name);
    }
    return 0;
}

static int make_tuple(const vx_sql_table *t, const vx_sql_result *r, size_t row,
                      const int *idx, vx_value **out, vx_error *err) {
    vx_value *tup = vx_tuple_new(t->type);
    if (!tup) return vx_error_set(err, VX_E_NOMEM, "out of memory reading a row");
    for (size_t c = 0; c < r->n_cols; c++) {
        vx_value *cell = r->cells[row * r->n_cols + c], *v = NULL;
        /* A cell that has no value of the column's kind (SQLite stores
         * anything anywhere) is passed on as the database gave it. */
        if (vx_sql_coerce(cell, t->kinds[idx[c]], &v) != 0) v = vx_incref(cell);
        if (vx_tuple_set_at_new(tup, (size_t)idx[c], v) != 0) {
            vx_decref(tup);
            return vx_error_set(err, VX_E_NOMEM, "out of memory reading a row");
        }
    }
    *out = tup;
    return 0;
}

int vx_sql_row_tuple(const vx_sql_table *t, const vx_sql_result *r, size_t row,
                     vx_value **out, vx_error *err) {
    int *idx = malloc((r->n_cols ? r->n_cols : 1) * sizeof *idx);
    if (!idx) return vx_error_set(err, VX_E_NOMEM, "out of memory reading a row");
    int rc = map_columns(t, r, idx, err);
    if (rc == 0) rc = make_tuple(t, r, row, idx, out, err);
    free(idx);
    return rc;
}

/* NEW list of the result's rows: tuples of t's type, or dicts without t. */
static int rows_list(const vx_sql_table *t, const vx_sql_result *r, vx_value **out,
                     vx_error *err) {
    vx_value *list = vx_list();
    int *idx = malloc((r->n_cols ? r->n_cols : 1) * sizeof *idx);
    int rc = 0;
    if (!list || !idx) {
        rc = vx_error_set(err, VX_E_NOMEM, "out of memory reading rows");
        goto done;
    }
    if (t && (rc = map_columns(t, r, idx, err)) != 0) goto done;
    for (size_t row = 0; row < r->n_rows; row++) {
        vx_value *item = NULL;
        if (t) {
            rc = make_tuple(t, r, row, idx, &item, err);
            if (rc) goto done;
        } else {
            item = vx_dict();
            if (!item) {
                rc = vx_error_set(err, VX_E_NOMEM, "out of memory reading rows");
                goto done;
            }
            for (size_t c = 0; c < r->n_cols; c++) {
                rc = vx_dict_set(item, r->col_names[c], r->cells[row * r->n_cols + c]);
                if (rc) {
                    vx_decref(item);
                    rc = vx_error_set(err, rc,
                                      "result column '%.100s': not a usable dict key",
                                      r->col_names[c]);
                    goto done;
                }
            }
        }
        if (vx_list_append_new(list, item) != 0) {
            rc = vx_error_set(err, VX_E_NOMEM, "out of memory reading rows");
            goto done;
        }
    }
done:
    free(idx);
    if (rc) {
        vx_decref(list);
        return rc;
    }
    *out = list;
    return 0;
}

int vx_sql_query(vx_sql_session *ss, const vx_sql_table *t, const char *sql,
                 const vx_value *params, vx_value **rows_out, vx_error *err) {
    if (rows_out) *rows_out = NULL;
    if (!ss || !sql) return vx_error_set(err, VX_E_INVAL, "vx_sql_query: NULL argument");
    if (params && vx_typeof(params) != VX_LIST)
        return vx_error_set(err, VX_E_INVAL, "query parameters must be a list, got %s",
                            vx_type_name(vx_typeof(params)));
    vx_sql_result r = {0};
    int rc = run(ss, sql, params, rows_out ? &r : NULL, "query", NULL, err);
    if (rc == 0 && rows_out) rc = rows_list(t, &r, rows_out, err);
    vx_sql_result_free(&r);
    return rc;
}

/* One-row lookups by primary key. */
int vx_sql_load(vx_sql_session *ss, const vx_sql_table *t, const vx_value *id,
                vx_value **out, vx_error *err) {
    if (out) *out = NULL;
    if (!ss || !t || !id || !out)
        return vx_error_set(err, VX_E_INVAL, "vx_sql_load: NULL argument");
    vx_value *params = vx_list();
    if (!params || vx_list_append(params, (vx_value *)id) != 0) {
        vx_decref(params);
        return vx_error_set(err, VX_E_NOMEM, "out of memory");
    }
    vx_sql_result r = {0};
    int rc = run(ss, t->sql_load, params, &r, "load from", t->name, err);
    vx_decref(params);
    if (rc == 0 && r.n_rows > 0) rc = vx_sql_row_tuple(t, &r, 0, out, err);
    vx_sql_result_free(&r);
    return rc;
}

int vx_sql_load_all(vx_sql_session *ss, const vx_sql_table *t, vx_value **out,
                    vx_error *err) {
    if (out) *out = NULL;
    if (!ss || !t || !out)
        return vx_error_set(err, VX_E_INVAL, "vx_sql_load_all: NULL argument");
    vx_sql_result r = {0};
    int rc = run(ss, t->sql_load_all, NULL, &r, "load from", t->name, err);
    if (rc == 0) rc = rows_list(t, &r, out, err);
    vx_sql_result_free(&r);
    return rc;
}

/* ---- writes --------------------------------------------------------------- */

/* Whether column i is left out of an INSERT so the database fills it in:
 * the unset id, and a null where the column has a database default that a
 * null does not mean to override (NOT NULL, or an expression default). */
static bool omit_column(const vx_sql_table *t, size_t i, const vx_value *v) {
    if (!vx_is_null(v)) return false;
    if (i == t->pk) return true;
    return t->db_default[i] && !(t->nullable[i] && t->const_default[i]);
}

/* Simple growable string for the statements built per write. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
} sbuf;

static void sb_add(sbuf *b, const char *s) {
    size_t n = strlen(s);
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n + 1);
    b->len += n;
}

/* INSERT (and for merge, ON CONFLICT ... DO UPDATE) of the checked tuple
 * `typed`; *stored_out is the row read back through RETURNING. */
static int write_row(vx_sql_session *ss, const vx_sql_table *t, const vx_value *typed,
                     bool merge, const bool *write_cols, vx_value **stored_out,
                     vx_error *err) {
    const char *what = merge ? "merge into" : "insert into";
    sbuf sql = {0}, cols = {0}, marks = {0}, set = {0};
    vx_value *params = vx_list();
    int rc = params ? 0 : VX_E_NOMEM;
    for (size_t i = 0; i < t->n_cols && rc == 0; i++) {
        vx_value *v = vx_tuple_get_at(typed, i);
        if (omit_column(t, i, v)) continue;
        if (write_cols && !write_cols[i] && i != t->pk) continue;
        if (cols.len) {
            sb_add(&cols, ",");
            sb_add(&marks, ",");
        }
        sb_add(&cols, t->qcols[i]);
        sb_add(&marks, "?");
        if (i != t->pk) {
            if (set.len) sb_add(&set, ",");
            sb_add(&set, t->qcols[i]);
            sb_add(&set, "=excluded.");
            sb_add(&set, t->qcols[i]);
        }
        rc = vx_list_append(params, v);
    }
    sb_add(&sql, "INSERT INTO ");
    sb_add(&sql, t->qname);
    if (cols.len) {
        sb_add(&sql, " (");
        sb_add(&sql, cols.p);
        sb_add(&sql, ") VALUES (");
        sb_add(&sql, marks.p);
        sb_add(&sql, ")");
    } else {
        sb_add(&sql, " DEFAULT VALUES");
    }
    if (merge) {
        sb_add(&sql, " ON CONFLICT (");
        sb_add(&sql, t->qcols[t->pk]);
        sb_add(&sql, ") DO UPDATE SET ");
        if (set.len) {
            sb_add(&sql, set.p);
        } else { /* only the id: a no-op update still returns the row */
            sb_add(&sql, t->qcols[t->pk]);
            sb_add(&sql, "=excluded.");
            sb_add(&sql, t->qcols[t->pk]);
        }
    }
    sb_add(&sql, " RETURNING ");
    sb_add(&sql, t->select_list);
    if (rc == 0 && (sql.oom || cols.oom || marks.oom || set.oom)) rc = VX_E_NOMEM;
    if (rc) {
        rc = vx_error_set(err, VX_E_NOMEM, "out of memory writing to '%s'", t->name);
    } else {
        vx_sql_result r = {0};
        rc = run(ss, sql.p, params, &r, what, t->name, err);
        if (rc == 0 && r.n_rows != 1)
            rc = vx_error_set(err, VX_E_SQL,
                              "%s '%s': the database returned %zu rows, not 1", what,
                              t->name, r.n_rows);
        if (rc == 0) rc = vx_sql_row_tuple(t, &r, 0, stored_out, err);
        vx_sql_result_free(&r);
    }
    free(sql.p);
    free(cols.p);
    free(marks.p);
    free(set.p);
    vx_decref(params);
    return rc;
}

/* A merge of some columns only: UPDATE those columns of the row; if there
 * is no such row, INSERT with only those columns (the database fills in
 * the rest). Not one INSERT ... ON CONFLICT: both databases check NOT NULL
 * on the proposed insert row before resolving the conflict, so a partial
 * tuple would be refused even when the row exists. *stored_out is NULL
 * when the row was absent (the caller inserts). */
static int update_columns(vx_sql_session *ss, const vx_sql_table *t, const vx_value *typed,
                          const bool *write_cols, vx_value **stored_out, vx_error *err) {
    *stored_out = NULL;
    sbuf sql = {0};
    vx_value *params = vx_list();
    int rc = params ? 0 : VX_E_NOMEM;
    bool any = false;
    sb_add(&sql, "UPDATE ");
    sb_add(&sql, t->qname);
    sb_add(&sql, " SET ");
    for (size_t i = 0; i < t->n_cols && rc == 0; i++) {
        if (i == t->pk || !write_cols[i]) continue;
        if (any) sb_add(&sql, ",");
        sb_add(&sql, t->qcols[i]);
        sb_add(&sql, "=?");
        any = true;
        rc = vx_list_append(params, vx_tuple_get_at(typed, i));
    }
    if (!any) { /* only the id: a no-op update that still finds the row */
        sb_add(&sql, t->qcols[t->pk]);
        sb_add(&sql, "=");
        sb_add(&sql, t->qcols[t->pk]);
    }
    sb_add(&sql, " WHERE ");
    sb_add(&sql, t->qcols[t->pk]);
    sb_add(&sql, "=? RETURNING ");
    sb_add(&sql, t->select_list);
    if (rc == 0) rc = vx_list_append(params, vx_tuple_get_at(typed, t->pk));
    if (rc == 0 && sql.oom) rc = VX_E_NOMEM;
    if (rc) {
        rc = vx_error_set(err, VX_E_NOMEM, "out of memory writing to '%s'", t->name);
    } else {
        vx_sql_result r = {0};
        rc = run(ss, sql.p, params, &r, "update", t->name, err);
        if (rc == 0 && r.n_rows == 1) rc = vx_sql_row_tuple(t, &r, 0, stored_out, err);
        vx_sql_result_free(&r);
    }
    free(sql.p);
    vx_decref(params);
    return rc;
}

static int write_checked(vx_sql_session *ss, const vx_sql_table *t, const vx_value *tuple,
                         bool merge, const bool *write_cols, vx_value **stored_out,
                         vx_error *err) {
    if (stored_out) *stored_out = NULL;
    if (!ss || !t || !tuple || !stored_out)
        return vx_error_set(err, VX_E_INVAL, "%s: NULL argument",
                            merge ? "vx_sql_merge" : "vx_sql_insert");
    vx_value *typed;
    int rc = vx_sql_check_cols(t, tuple, merge ? VX_SQL_WRITE_MERGE : VX_SQL_WRITE_INSERT,
                               write_cols, &typed, err);
    if (rc) return rc;
    if (merge && write_cols) {
        rc = update_columns(ss, t, typed, write_cols, stored_out, err);
        if (rc == 0 && !*stored_out) /* no such row: insert it with those columns */
            rc = write_row(ss, t, typed, false, write_cols, stored_out, err);
    } else {
        rc = write_row(ss, t, typed, merge, write_cols, stored_out, err);
    }
    vx_decref(typed);
    return rc;
}

int vx_sql_insert(vx_sql_session *ss, const vx_sql_table *t, const vx_value *tuple,
                  vx_value **stored_out, vx_error *err) {
    return write_checked(ss, t, tuple, false, NULL, stored_out, err);
}

int vx_sql_merge(vx_sql_session *ss, const vx_sql_table *t, const vx_value *tuple,
                 vx_value **stored_out, vx_error *err) {
    return write_checked(ss, t, tuple, true, NULL, stored_out, err);
}

int vx_sql_merge_columns(vx_sql_session *ss, const vx_sql_table *t, const vx_value *tuple,
                         const bool *write_cols, vx_value **stored_out, vx_error *err) {
    return write_checked(ss, t, tuple, true, write_cols, stored_out, err);
}

int vx_sql_delete(vx_sql_session *ss, const vx_sql_table *t, const vx_value *id,
                  bool *deleted, vx_error *err) {
    if (deleted) *deleted = false;
    if (!ss || !t || !id)
        return vx_error_set(err, VX_E_INVAL, "vx_sql_delete: NULL argument");
    vx_value *params = vx_list();
    if (!params || vx_list_append(params, (vx_value *)id) != 0) {
        vx_decref(params);
        return vx_error_set(err, VX_E_NOMEM, "out of memory");
    }
    vx_sql_result r = {0};
    int rc = run(ss, t->sql_delete, params, &r, "delete from", t->name, err);
    vx_decref(params);
    if (rc == 0 && deleted) *deleted = r.n_rows > 0;
    vx_sql_result_free(&r);
    return rc;
}
