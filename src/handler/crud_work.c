/* The worker-thread half of a CRUD request (PROTOCOL.md §14.2): checks,
 * hooks in the documented order, and the store calls, in one transaction
 * for UPDATE and DELETE. Runs on a libuv pool thread: it touches only the
 * job's own values (clones made on the loop), the store and the tables; what
 * it produces goes back to the loop in the after-callback. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "handler/handler_impl.h"

enum {
    HOOK_AFTER_CREATE = offsetof(vx_crud_hooks, after_create),
    HOOK_AFTER_RETRIEVE = offsetof(vx_crud_hooks, after_retrieve),
    HOOK_BEFORE_UPDATE = offsetof(vx_crud_hooks, before_update),
    HOOK_MIDDLE_UPDATE = offsetof(vx_crud_hooks, middle_update),
    HOOK_AFTER_UPDATE = offsetof(vx_crud_hooks, after_update),
    HOOK_AFTER_UPDATE_COMMIT = offsetof(vx_crud_hooks, after_update_commit),
    HOOK_BEFORE_DELETE = offsetof(vx_crud_hooks, before_delete),
    HOOK_UI_DATA = offsetof(vx_crud_hooks, ui_data),
};

static const char *hook_name(size_t which) {
    switch (which) {
    case HOOK_AFTER_CREATE:
        return "afterCreate";
    case HOOK_AFTER_RETRIEVE:
        return "afterRetrieve";
    case HOOK_BEFORE_UPDATE:
        return "beforeUpdate";
    case HOOK_MIDDLE_UPDATE:
        return "middleUpdate";
    case HOOK_AFTER_UPDATE:
        return "afterUpdate";
    case HOOK_AFTER_UPDATE_COMMIT:
        return "afterUpdateCommit";
    case HOOK_BEFORE_DELETE:
        return "beforeDelete";
    default:
        return "uiData";
    }
}

static const char *type_name_of(const vx_sql_table *t) {
    return vx_tuple_type_name(vx_sql_table_type(t));
}

/* Run hook `which` of t's tuple type on `tuple`, if one is registered. */
static int hook(const vx_crud_handler *h, const vx_sql_table *t, size_t which,
                vx_sql_session *ss, vx_value *tuple, vx_error *err) {
    const vxh_hooks_entry *e = vxh_crud_hooks_for(h, type_name_of(t));
    if (!e) return 0;
    vx_crud_hook_fn fn = *(const vx_crud_hook_fn *)((const char *)&e->hooks + which);
    if (!fn) return 0;
    vx_error_clear(err);
    int rc = fn(e->data, ss, tuple, err);
    if (rc > 0) rc = VX_E_HANDLER;
    if (rc < 0 && !err->message[0])
        vx_error_set(err, rc, "%s hook of '%s' failed: %s", hook_name(which),
                     type_name_of(t), vx_strerror(rc));
    if (rc < 0) err->code = rc;
    return rc;
}

/* Run `which` then uiData on every row of a list (the read paths). */
static int hook_rows(const vx_crud_handler *h, const vx_sql_table *t, size_t which,
                     vx_sql_session *ss, vx_value *rows, vx_error *err) {
    for (size_t i = 0; i < vx_list_size(rows); i++) {
        int rc = hook(h, t, which, ss, vx_list_get(rows, i), err);
        if (rc == 0) rc = hook(h, t, HOOK_UI_DATA, ss, vx_list_get(rows, i), err);
        if (rc < 0) return rc;
    }
    return 0;
}

/* The table handling a payload tuple, by its type name. */
static const vx_sql_table *table_for(const vx_crud_handler *h, const vx_value *tuple,
                                     size_t index, vx_error *err) {
    if (vx_typeof(tuple) != VX_TUPLE) {
        vx_error_set(err, VX_E_INVAL, "tuples[%zu] is a %s, not a tuple", index,
                     vx_type_name(vx_typeof(tuple)));
        return NULL;
    }
    const char *name = vx_tuple_name(tuple);
    for (size_t i = 0; i < h->n_tables; i++)
        if (strcmp(type_name_of(h->tables[i]), name) == 0) return h->tables[i];
    vx_error_set(err, VX_E_INVAL, "tuple type '%s' is not handled by '%s'", name,
                 h->core.label);
    return NULL;
}

/* NEW id of the primary key's kind, from a filt or tuple value. Integral
 * floats count as ints (JavaScript numbers). */
static int check_id(const vx_sql_table *t, const vx_value *id, const char *where,
                    vx_value **out, vx_error *err) {
    size_t pk = vx_sql_table_pk_index(t);
    vx_type want = vx_sql_table_column_kind(t, pk);
    vx_type got = vx_typeof(id);
    *out = NULL;
    if (got == want) {
        *out = vx_incref((vx_value *)id);
    } else if (want == VX_INT && got == VX_FLOAT) {
        double d = vx_float_value(id);
        if (d == (double)(int64_t)d && d >= -9.2e18 && d <= 9.2e18)
            *out = vx_int((int64_t)d);
    } else if (want == VX_FLOAT && got == VX_INT) {
        *out = vx_float((double)vx_int_value(id));
    }
    if (*out) return 0;
    return vx_error_set(err, VX_E_SQL_VALUE, "%s for column '%s.%s' expects %s, got %s",
                        where, vx_sql_table_name(t), vx_sql_table_pk_name(t),
                        vx_type_name(want), vx_type_name(got));
}

static int one_row_list(vx_value *row, vx_value **out) {
    *out = vx_list();
    if (!*out) {
        vx_decref(row);
        return VX_E_NOMEM;
    }
    if (row) return vx_list_append_new(*out, row);
    return 0;
}

/* ---- CREATE, RETRIEVE, SUBSCRIBE ------------------------------------------- */

static int do_create(vxh_crud_job *j, vx_sql_session *ss) {
    const vx_crud_handler *h = j->h;
    if (h->retrieve_all) {
        int rc = vx_sql_load_all(ss, h->table, &j->rows, &j->err);
        if (rc == 0) rc = hook_rows(h, h->table, HOOK_AFTER_RETRIEVE, ss, j->rows, &j->err);
        return rc;
    }
    vx_value *t = vx_tuple_new(vx_sql_table_type(h->table));
    if (!t) return vx_error_set(&j->err, VX_E_NOMEM, "out of memory");
    int rc = one_row_list(t, &j->rows);
    if (rc == 0) rc = hook_rows(h, h->table, HOOK_AFTER_CREATE, ss, j->rows, &j->err);
    return rc;
}

static int do_retrieve(vxh_crud_job *j, vx_sql_session *ss) {
    const vx_crud_handler *h = j->h;
    int rc;
    if (!j->id) { /* a subscription to every row */
        rc = vx_sql_load_all(ss, h->table, &j->rows, &j->err);
    } else {
        vx_value *id = NULL, *row = NULL;
        rc = check_id(h->table, j->id, "filt 'id'", &id, &j->err);
        if (rc == 0) rc = vx_sql_load(ss, h->table, id, &row, &j->err);
        vx_decref(id);
        if (rc == 0) rc = one_row_list(row, &j->rows);
    }
    if (rc == 0) rc = hook_rows(h, h->table, HOOK_AFTER_RETRIEVE, ss, j->rows, &j->err);
    return rc;
}

/* ---- UPDATE ------------------------------------------------------------------ */

static bool id_is_new(const vx_value *id) {
    return !id || vx_is_null(id) || (vx_typeof(id) == VX_STR && vx_str_len(id) == 0);
}

static int hook_all(const vx_crud_handler *h, size_t which, vx_sql_session *ss,
                    vx_value *rows, const vx_sql_table **tables, vx_error *err) {
    for (size_t i = 0; i < vx_list_size(rows); i++) {
        int rc = hook(h, tables[i], which, ss, vx_list_get(rows, i), err);
        if (rc < 0) return rc;
    }
    return 0;
}

/* Which columns a merge writes: those the sender's tuple carried (a wire
 * tuple arrives untyped with only the fields its sender set; a typed tuple
 * carries them all), plus any a hook changed from its default. A partial
 * tuple therefore updates only what it names instead of resetting the rest
 * of the row to defaults. NULL = every column. */
static int merge_columns(const vx_sql_table *t, const vx_value *sent, const vx_value *row,
                         bool **cols_out) {
    *cols_out = NULL;
    if (vx_tuple_type_of(sent)) return 0;
    const vx_tuple_type *type = vx_sql_table_type(t);
    size_t n = vx_tuple_type_field_count(type);
    /* Out of memory must fail the request: writing every column instead
     * would reset the fields a partial tuple left out. */
    bool *cols = calloc(n ? n : 1, sizeof *cols);
    if (!cols) return VX_E_NOMEM;
    for (size_t i = 0; i < vx_tuple_field_count(sent); i++) {
        int k = vx_tuple_type_field_index(type, vx_tuple_field_name_at(sent, i));
        if (k >= 0) cols[k] = true;
    }
    for (size_t k = 0; k < n; k++) {
        const vx_value *def = vx_tuple_type_field_default(type, k);
        const vx_value *v = vx_tuple_get_at(row, k);
        if (!cols[k] && !(def ? vx_equal(def, v) : vx_is_null(v))) cols[k] = true;
    }
    *cols_out = cols;
    return 0;
}

/* Insert (`fresh`) or merge the rows whose new-ness matches, replacing each
 * with the stored row as read back. */
static int store_rows(vxh_crud_job *j, vx_sql_session *ss, const bool *is_new, bool fresh) {
    for (size_t i = 0; i < vx_list_size(j->rows); i++) {
        if (is_new[i] != fresh) continue;
        vx_value *stored = NULL;
        const vx_sql_table *t = j->row_tables[i];
        vx_value *row = vx_list_get(j->rows, i);
        int rc;
        if (fresh) {
            rc = vx_sql_insert(ss, t, row, &stored, &j->err);
        } else {
            bool *cols;
            rc = merge_columns(t, vx_list_get(j->tuples, i), row, &cols);
            if (rc < 0) return vx_error_set(&j->err, rc, "out of memory");
            rc = vx_sql_merge_columns(ss, t, row, cols, &stored, &j->err);
            free(cols);
        }
        if (rc < 0) return rc;
        if (!stored)
            return vx_error_set(&j->err, VX_E_SQL, "the stored row was not read back");
        if (vx_list_set_new(j->rows, i, stored) < 0)
            return vx_error_set(&j->err, VX_E_NOMEM, "out of memory");
    }
    return 0;
}

static int do_update(vxh_crud_job *j, vx_sql_session *ss) {
    const vx_crud_handler *h = j->h;
    size_t n = vx_list_size(j->tuples);
    j->rows = vx_list();
    j->row_tables = calloc(n, sizeof *j->row_tables);
    bool *is_new = calloc(n, sizeof *is_new);
    int rc = 0;
    if (!j->rows || !j->row_tables || !is_new) {
        rc = vx_error_set(&j->err, VX_E_NOMEM, "out of memory");
        goto out;
    }
    /* Every tuple is checked before anything is written. */
    for (size_t i = 0; i < n; i++) {
        vx_value *typed = NULL;
        const vx_sql_table *t = table_for(h, vx_list_get(j->tuples, i), i, &j->err);
        if (!t) {
            rc = j->err.code;
            goto out;
        }
        rc = vx_sql_check_tuple(t, vx_list_get(j->tuples, i), &typed, &j->err);
        if (rc < 0) goto out;
        j->row_tables[i] = t;
        if ((rc = vx_list_append_new(j->rows, typed)) < 0) goto out;
    }
    if ((rc = vx_sql_begin(ss, &j->err)) < 0) goto out;
    rc = hook_all(h, HOOK_BEFORE_UPDATE, ss, j->rows, j->row_tables, &j->err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const vx_sql_table *t = j->row_tables[i];
        is_new[i] =
            id_is_new(vx_tuple_get_at(vx_list_get(j->rows, i), vx_sql_table_pk_index(t)));
    }
    if (rc == 0) rc = store_rows(j, ss, is_new, true);
    if (rc == 0) rc = hook_all(h, HOOK_MIDDLE_UPDATE, ss, j->rows, j->row_tables, &j->err);
    if (rc == 0) rc = store_rows(j, ss, is_new, false);
    if (rc == 0) rc = hook_all(h, HOOK_AFTER_UPDATE, ss, j->rows, j->row_tables, &j->err);
    if (rc == 0) rc = vx_sql_commit(ss, &j->err);
    if (rc < 0) {
        vx_sql_rollback(ss);
        goto out;
    }
    j->committed = true;
    rc = hook_all(h, HOOK_AFTER_UPDATE_COMMIT, ss, j->rows, j->row_tables, &j->err);
    if (rc == 0) rc = hook_all(h, HOOK_UI_DATA, ss, j->rows, j->row_tables, &j->err);
out:
    free(is_new);
    return rc;
}

/* ---- DELETE ------------------------------------------------------------------ */

static int do_delete(vxh_crud_job *j, vx_sql_session *ss) {
    const vx_crud_handler *h = j->h;
    size_t n = vx_list_size(j->tuples);
    size_t m = n ? n : 1;
    const vx_sql_table **tables = calloc(m, sizeof *tables);
    vx_value **ids = calloc(m, sizeof *ids);
    j->deleted = vx_list();
    j->deleted_tables = calloc(m, sizeof *j->deleted_tables);
    int rc = 0;
    if (!tables || !ids || !j->deleted || !j->deleted_tables) {
        rc = vx_error_set(&j->err, VX_E_NOMEM, "out of memory");
        goto out;
    }
    if (n == 0 && !j->id) {
        rc = vx_error_set(&j->err, VX_E_INVAL, "delete needs tuples or a filt 'id'");
        goto out;
    }
    /* Every id is checked before anything is deleted. */
    for (size_t i = 0; i < n; i++) {
        const vx_value *tuple = vx_list_get(j->tuples, i);
        const vx_sql_table *t = table_for(h, tuple, i, &j->err);
        if (!t) {
            rc = j->err.code;
            goto out;
        }
        const vx_value *id = vx_tuple_get(tuple, vx_sql_table_pk_name(t));
        if (id_is_new(id)) {
            rc = vx_error_set(&j->err, VX_E_INVAL,
                              "tuples[%zu] of type '%s' has no '%s' to delete", i,
                              vx_tuple_name(tuple), vx_sql_table_pk_name(t));
            goto out;
        }
        char where[48];
        snprintf(where, sizeof where, "tuples[%zu] id", i);
        if ((rc = check_id(t, id, where, &ids[i], &j->err)) < 0) goto out;
        tables[i] = t;
    }
    if (n == 0) {
        tables[0] = h->table;
        if ((rc = check_id(h->table, j->id, "filt 'id'", &ids[0], &j->err)) < 0) goto out;
    }
    if ((rc = vx_sql_begin(ss, &j->err)) < 0) goto out;
    size_t nd = 0;
    for (size_t i = 0; i < m && rc == 0; i++) {
        vx_value *row = NULL;
        rc = vx_sql_load(ss, tables[i], ids[i], &row, &j->err);
        if (rc < 0 || !row) continue; /* ids not found are skipped */
        bool gone = false;
        rc = hook(h, tables[i], HOOK_BEFORE_DELETE, ss, row, &j->err);
        if (rc == 0) rc = vx_sql_delete(ss, tables[i], ids[i], &gone, &j->err);
        if (rc == 0 && gone) {
            j->deleted_tables[nd++] = tables[i];
            rc = vx_list_append(j->deleted, row);
        }
        vx_decref(row);
    }
    if (rc == 0) rc = vx_sql_commit(ss, &j->err);
    if (rc < 0) {
        vx_sql_rollback(ss);
        goto out;
    }
    j->committed = true;
out:
    for (size_t i = 0; ids && i < m; i++) vx_decref(ids[i]);
    free(ids);
    free(tables);
    return rc;
}

void vxh_crud_work(vxh_crud_job *j) {
    vx_error_clear(&j->err);
    vx_sql_session *ss = NULL;
    int rc = vx_store_acquire(j->h->store, &ss, &j->err);
    if (rc == 0) {
        switch (j->action) {
        case VXH_CREATE:
            rc = do_create(j, ss);
            break;
        case VXH_RETRIEVE:
        case VXH_SUBSCRIBE:
            rc = do_retrieve(j, ss);
            break;
        case VXH_UPDATE:
            rc = do_update(j, ss);
            break;
        case VXH_DELETE:
            rc = do_delete(j, ss);
            break;
        case VXH_UNSUBSCRIBE:
            break; /* loop only */
        }
        vx_store_release(ss);
    }
    if (rc < 0 && !j->err.message[0]) vx_error_set(&j->err, rc, "%s", vx_strerror(rc));
    j->rc = rc;
}
