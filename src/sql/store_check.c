/* Tuples checked against their table before any write: every value must fit
 * its column, so the database only ever sees values of the right kind (and
 * an error names table, column, expected and actual type). */
#include <string.h>

#include "store_impl.h"

/* "" in the id means "new row" for clients that cannot send null. */
static bool is_unset_id(const vx_value *v) {
    return vx_is_null(v) || (vx_typeof(v) == VX_STR && vx_str_len(v) == 0);
}

/* Check `v` for column `i`; on success *out is the NEW value to store. */
static int check_value(const vx_sql_table *t, size_t i, vx_value *v, vx_sql_write mode,
                       vx_value **out, vx_error *err) {
    const char *col = vx_tuple_type_field_name(t->type, i);
    vx_type want = t->kinds[i];
    if (i == t->pk && is_unset_id(v)) {
        if (mode == VX_SQL_WRITE_MERGE)
            return vx_error_set(err, VX_E_SQL_VALUE,
                                "column '%s.%s' is the primary key: merge needs its value",
                                t->name, col);
        if (!t->db_default[i])
            return vx_error_set(err, VX_E_SQL_VALUE,
                                "column '%s.%s' is the primary key and the database does "
                                "not assign it: give a value",
                                t->name, col);
        *out = vx_null();
        return 0;
    }
    vx_type have = vx_typeof(v);
    if (have == VX_NULL) {
        if (!t->nullable[i] && !t->db_default[i])
            return vx_error_set(
                err, VX_E_SQL_VALUE,
                "column '%s.%s' expects %s, got null (NOT NULL, no default)", t->name, col,
                vx_type_name(want));
        *out = vx_null();
        return 0;
    }
    if (have == want) {
        *out = vx_incref(v);
        return 0;
    }
    if (want == VX_FLOAT && have == VX_INT) {
        *out = vx_float((double)vx_int_value(v));
        return *out ? 0 : vx_error_set(err, VX_E_NOMEM, "out of memory");
    }
    return vx_error_set(err, VX_E_SQL_VALUE, "column '%s.%s' expects %s, got %s", t->name,
                        col, vx_type_name(want), vx_type_name(have));
}

int vx_sql_check_cols(const vx_sql_table *t, const vx_value *tuple, vx_sql_write mode,
                      const bool *write_cols, vx_value **typed_out, vx_error *err) {
    if (!t || !typed_out)
        return vx_error_set(err, VX_E_INVAL, "check tuple: NULL argument");
    *typed_out = NULL;
    const char *want = vx_tuple_type_name(t->type);
    const char *name = vx_tuple_name(tuple);
    if (!name)
        return vx_error_set(err, VX_E_SQL_VALUE, "table '%s' stores '%s' tuples, got a %s",
                            t->name, want, vx_type_name(vx_typeof(tuple)));
    if (strcmp(name, want) != 0)
        return vx_error_set(err, VX_E_SQL_VALUE,
                            "table '%s' stores '%s' tuples, got a '%.100s' tuple", t->name,
                            want, name);
    vx_value *out = vx_tuple_new(t->type);
    if (!out) return vx_error_set(err, VX_E_NOMEM, "out of memory checking a tuple");
    /* By name, so an untyped tuple (or one typed by another registry) with
     * fields in any order checks the same as a typed one. */
    size_t n = vx_tuple_field_count(tuple);
    for (size_t k = 0; k < n; k++) {
        const char *field = vx_tuple_field_name_at(tuple, k);
        int i = vx_tuple_type_field_index(t->type, field);
        if (i < 0) {
            vx_decref(out);
            return vx_error_set(err, VX_E_SQL_VALUE, "table '%s' has no column '%.100s'",
                                t->name, field);
        }
        vx_value *v = NULL;
        int rc;
        if (write_cols && !write_cols[i] &&
            (size_t)i != t->pk) /* not written: not checked */
            rc = vx_tuple_set(out, field, vx_tuple_get_at(tuple, k));
        else
            rc = check_value(t, (size_t)i, vx_tuple_get_at(tuple, k), mode, &v, err);
        if (rc == 0 && v) rc = vx_tuple_set_at_new(out, (size_t)i, v);
        if (rc) {
            vx_decref(out);
            return rc;
        }
    }
    /* Fields the tuple did not carry are at their defaults. For an insert
     * those must fit too (a NOT NULL column without default needs a value);
     * a merge may leave them out (only the fields sent are written), so a
     * check that may precede a merge does not insist, and the insert itself
     * checks again. */
    if (mode == VX_SQL_WRITE_INSERT &&
        (!vx_tuple_type_of(tuple) || vx_tuple_type_of(tuple) != t->type)) {
        for (size_t i = 0; i < t->n_cols; i++) {
            const char *field = vx_tuple_type_field_name(t->type, i);
            if (vx_tuple_get(tuple, field)) continue;
            vx_value *v = NULL;
            int rc = check_value(t, i, vx_tuple_get_at(out, i), mode, &v, err);
            if (rc == 0) rc = vx_tuple_set_at_new(out, i, v);
            if (rc) {
                vx_decref(out);
                return rc;
            }
        }
    }
    *typed_out = out;
    return 0;
}

int vx_sql_check_for(const vx_sql_table *t, const vx_value *tuple, vx_sql_write mode,
                     vx_value **typed_out, vx_error *err) {
    return vx_sql_check_cols(t, tuple, mode, NULL, typed_out, err);
}

int vx_sql_check_tuple(const vx_sql_table *t, const vx_value *tuple, vx_value **typed_out,
                       vx_error *err) {
    return vx_sql_check_for(t, tuple, VX_SQL_WRITE_CHECK, typed_out, err);
}
