/* Table schemas -> tuple types: the type mapping, registration, accessors. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_impl.h"

/* ---- declared type -> kind ------------------------------------------------ */

static const struct {
    const char *decl;
    vx_type kind;
} kinds[] = {
    {"integer", VX_INT},
    {"int", VX_INT},
    {"bigint", VX_INT},
    {"smallint", VX_INT},
    {"tinyint", VX_INT},
    {"mediumint", VX_INT},
    {"int2", VX_INT},
    {"int4", VX_INT},
    {"int8", VX_INT},
    {"serial", VX_INT},
    {"smallserial", VX_INT},
    {"bigserial", VX_INT},
    {"serial2", VX_INT},
    {"serial4", VX_INT},
    {"serial8", VX_INT},
    {"unsigned big int", VX_INT},
    {"real", VX_FLOAT},
    {"float", VX_FLOAT},
    {"float4", VX_FLOAT},
    {"float8", VX_FLOAT},
    {"double", VX_FLOAT},
    {"double precision", VX_FLOAT},
    {"numeric", VX_FLOAT},
    {"decimal", VX_FLOAT},
    {"blob", VX_BYTES},
    {"bytea", VX_BYTES},
    {"boolean", VX_BOOL},
    {"bool", VX_BOOL},
    {"datetime", VX_DATETIME},
    {"date", VX_DATETIME},
    {"timestamp", VX_DATETIME},
    {"timestamptz", VX_DATETIME},
    {"timestamp with time zone", VX_DATETIME},
    {"timestamp without time zone", VX_DATETIME},
};

vx_type vx_sql_kind_for_decl(const char *decl_type) {
    if (!decl_type) return VX_STR;
    /* Lower-case, drop "(n)" size parts and collapse blanks, so
     * "TIMESTAMP(3) WITH  TIME ZONE" reads "timestamp with time zone". An
     * array ("int[]") is not a scalar column: text form. */
    char buf[64];
    size_t n = 0;
    int depth = 0;
    for (const char *p = decl_type; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '[') return VX_STR;
        if (c == '(') {
            depth++;
            continue;
        }
        if (c == ')') {
            if (depth) depth--;
            continue;
        }
        if (depth) continue;
        if (isspace(c)) {
            if (n && buf[n - 1] != ' ' && n < sizeof buf - 1) buf[n++] = ' ';
            continue;
        }
        if (n >= sizeof buf - 1) return VX_STR;
        buf[n++] = (char)tolower(c);
    }
    while (n && buf[n - 1] == ' ') n--;
    buf[n] = '\0';
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(buf, kinds[i].decl) == 0) return kinds[i].kind;
    return VX_STR; /* text, varchar, char, clob, uuid and anything else */
}

void vx_sql_columns_free(vx_sql_column *cols, size_t n) {
    if (!cols) return;
    for (size_t i = 0; i < n; i++) {
        free(cols[i].name);
        free(cols[i].decl_type);
        vx_decref(cols[i].default_value);
    }
    free(cols);
}

char *vx_sql_quote_ident(const char *name) {
    size_t n = 2, len = strlen(name);
    for (size_t i = 0; i < len; i++) n += name[i] == '"' ? 2 : 1;
    char *q = malloc(n + 1), *w = q;
    if (!q) return NULL;
    *w++ = '"';
    for (size_t i = 0; i < len; i++) {
        if (name[i] == '"') *w++ = '"';
        *w++ = name[i];
    }
    *w++ = '"';
    *w = '\0';
    return q;
}

void vx_sql_result_free(vx_sql_result *r) {
    if (!r) return;
    for (size_t i = 0; i < r->n_rows * r->n_cols; i++) vx_decref(r->cells[i]);
    for (size_t i = 0; i < r->n_cols; i++) free(r->col_names[i]);
    free(r->cells);
    free(r->col_names);
    memset(r, 0, sizeof *r);
}

/* ---- tables --------------------------------------------------------------- */

void vx_sql_table_free(vx_sql_table *t) {
    if (!t) return;
    for (size_t i = 0; t->qcols && i < t->n_cols; i++) free(t->qcols[i]);
    free(t->qcols);
    free(t->kinds);
    free(t->nullable);
    free(t->db_default);
    free(t->const_default);
    free(t->name);
    free(t->qname);
    free(t->select_list);
    free(t->sql_load);
    free(t->sql_load_all);
    free(t->sql_delete);
    free(t);
}

static char *sql_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *sql_printf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *out = NULL;
    if (vasprintf(&out, fmt, ap) < 0) out = NULL;
    va_end(ap);
    return out;
}

/* Quoted names and the fixed statements of a described table. */
static vx_sql_table *table_build(const char *name, const vx_sql_column *cols, size_t n,
                                 size_t pk) {
    vx_sql_table *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->n_cols = n;
    t->pk = pk;
    t->name = strdup(name);
    t->qname = vx_sql_quote_ident(name);
    t->qcols = calloc(n, sizeof *t->qcols);
    t->kinds = calloc(n, sizeof *t->kinds);
    t->nullable = calloc(n, sizeof *t->nullable);
    t->db_default = calloc(n, sizeof *t->db_default);
    t->const_default = calloc(n, sizeof *t->const_default);
    if (!t->name || !t->qname || !t->qcols || !t->kinds || !t->nullable || !t->db_default ||
        !t->const_default)
        goto fail;
    size_t list_len = 0;
    for (size_t i = 0; i < n; i++) {
        t->qcols[i] = vx_sql_quote_ident(cols[i].name);
        if (!t->qcols[i]) goto fail;
        t->kinds[i] = cols[i].kind;
        t->nullable[i] = cols[i].nullable && !cols[i].primary_key;
        t->db_default[i] = cols[i].has_db_default || cols[i].default_value;
        t->const_default[i] = cols[i].default_value && !vx_is_null(cols[i].default_value);
        list_len += strlen(t->qcols[i]) + 1;
    }
    t->select_list = malloc(list_len + 1);
    if (!t->select_list) goto fail;
    char *w = t->select_list;
    for (size_t i = 0; i < n; i++) {
        if (i) *w++ = ',';
        size_t l = strlen(t->qcols[i]);
        memcpy(w, t->qcols[i], l);
        w += l;
    }
    *w = '\0';
    const char *qpk = t->qcols[pk];
    t->sql_load =
        sql_printf("SELECT %s FROM %s WHERE %s = ?", t->select_list, t->qname, qpk);
    t->sql_load_all =
        sql_printf("SELECT %s FROM %s ORDER BY %s", t->select_list, t->qname, qpk);
    t->sql_delete =
        sql_printf("DELETE FROM %s WHERE %s = ? RETURNING %s", t->qname, qpk, qpk);
    if (!t->sql_load || !t->sql_load_all || !t->sql_delete) goto fail;
    return t;
fail:
    vx_sql_table_free(t);
    return NULL;
}

/* Table checks that make a table usable as tuples; fills *pk. */
static int check_schema(const char *table, const vx_sql_column *cols, size_t n, size_t *pk,
                        vx_error *err) {
    size_t n_pk = 0;
    for (size_t i = 0; i < n; i++) {
        if (cols[i].name[0] == '_' || cols[i].name[0] == '\0')
            return vx_error_set(err, VX_E_SQL_SCHEMA,
                                "table '%s': column '%s' cannot be a tuple field (names "
                                "starting with '_' are reserved by the protocol)",
                                table, cols[i].name);
        if (cols[i].primary_key) {
            n_pk++;
            *pk = i;
        }
    }
    if (n_pk == 0)
        return vx_error_set(err, VX_E_SQL_SCHEMA,
                            "table '%s' has no primary key (tuples need a single-column "
                            "primary key as their id)",
                            table);
    if (n_pk > 1)
        return vx_error_set(err, VX_E_SQL_SCHEMA,
                            "table '%s' has a %zu-column primary key (tuples need a "
                            "single-column primary key as their id)",
                            table, n_pk);
    return 0;
}

static vx_sql_table *find_by_name(const vx_store *s, const char *table) {
    for (size_t i = 0; i < s->n_tables; i++)
        if (strcmp(s->tables[i]->name, table) == 0) return s->tables[i];
    return NULL;
}

static int add_table(vx_store *s, vx_sql_table *t) {
    if (s->n_tables == s->cap_tables) {
        size_t cap = s->cap_tables ? s->cap_tables * 2 : 8;
        vx_sql_table **tables = realloc(s->tables, cap * sizeof *tables);
        if (!tables) return VX_E_NOMEM;
        s->tables = tables;
        s->cap_tables = cap;
    }
    s->tables[s->n_tables++] = t;
    return 0;
}

/* Describe `table`, register its type and build the table (lock held). */
static int register_locked(vx_store *s, vx_registry *reg, const char *table,
                           const char *tname, vx_sql_table **out, vx_error *err) {
    vx_sql_session *ss;
    int rc = vx_store_acquire(s, &ss, err);
    if (rc) return rc;
    vx_sql_column *cols = NULL;
    size_t n = 0;
    vx_error e;
    vx_error_clear(&e);
    rc = s->ops->describe(ss->conn, table, &cols, &n, &e);
    vx_store_release(ss);
    if (rc) {
        if (rc == VX_E_NOT_FOUND)
            return vx_error_set(err, rc, "table '%s' does not exist", table);
        return vx_error_set(err, rc, "describe table '%s': %s", table, e.message);
    }
    size_t pk = 0;
    rc = check_schema(table, cols, n, &pk, err);
    if (rc) goto done;
    vx_field_def *defs = calloc(n ? n : 1, sizeof *defs);
    if (!defs) {
        rc = vx_error_set(err, VX_E_NOMEM, "out of memory registering table '%s'", table);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        defs[i].name = cols[i].name;
        defs[i].default_value = cols[i].default_value;
    }
    vx_sql_table *t = table_build(table, cols, n, pk);
    if (!t) {
        free(defs);
        rc = vx_error_set(err, VX_E_NOMEM, "out of memory registering table '%s'", table);
        goto done;
    }
    t->reg = reg;
    rc = vx_registry_add(reg, tname, NULL, defs, n, &t->type, err);
    free(defs);
    if (rc == 0 && add_table(s, t) != 0)
        rc = vx_error_set(err, VX_E_NOMEM, "out of memory registering table '%s'", table);
    /* (a type registered before an OOM here stays in the registry: the
     * registry has no removal, and the type is harmless) */
    if (rc) {
        vx_sql_table_free(t);
        goto done;
    }
    *out = t;
done:
    vx_sql_columns_free(cols, n);
    return rc;
}

int vx_store_register_table(vx_store *s, vx_registry *reg, const char *table,
                            const char *type_name, const vx_sql_table **out,
                            vx_error *err) {
    if (!s || !reg || !table || !*table)
        return vx_error_set(err, VX_E_INVAL, "vx_store_register_table: NULL argument");
    char *tname = type_name ? strdup(type_name) : sql_printf("vortexc.%s", table);
    if (!tname) return vx_error_set(err, VX_E_NOMEM, "out of memory");
    pthread_mutex_lock(&s->tables_mu);
    vx_sql_table *t = find_by_name(s, table);
    int rc = 0;
    if (t) {
        if (t->reg != reg || strcmp(vx_tuple_type_name(t->type), tname) != 0)
            rc = vx_error_set(err, VX_E_EXISTS,
                              "table '%s' is already registered as '%s' (in %s registry)",
                              table, vx_tuple_type_name(t->type),
                              t->reg == reg ? "this" : "another");
    } else {
        rc = register_locked(s, reg, table, tname, &t, err);
    }
    pthread_mutex_unlock(&s->tables_mu);
    free(tname);
    if (rc == 0 && out) *out = t;
    return rc;
}

const vx_sql_table *vx_store_table_for_type(const vx_store *s, const char *type_name) {
    if (!s || !type_name) return NULL;
    vx_store *m = (vx_store *)s; /* the lock is not part of the store's value */
    const vx_sql_table *found = NULL;
    pthread_mutex_lock(&m->tables_mu);
    for (size_t i = 0; i < s->n_tables && !found; i++)
        if (strcmp(vx_tuple_type_name(s->tables[i]->type), type_name) == 0)
            found = s->tables[i];
    pthread_mutex_unlock(&m->tables_mu);
    return found;
}

const char *vx_sql_table_name(const vx_sql_table *t) {
    return t ? t->name : NULL;
}

const vx_tuple_type *vx_sql_table_type(const vx_sql_table *t) {
    return t ? t->type : NULL;
}

size_t vx_sql_table_pk_index(const vx_sql_table *t) {
    return t ? t->pk : 0;
}

const char *vx_sql_table_pk_name(const vx_sql_table *t) {
    return t ? vx_tuple_type_field_name(t->type, t->pk) : NULL;
}

vx_type vx_sql_table_column_kind(const vx_sql_table *t, size_t index) {
    return t && index < t->n_cols ? t->kinds[index] : VX_NULL;
}

bool vx_sql_table_column_nullable(const vx_sql_table *t, size_t index) {
    return t && index < t->n_cols && t->nullable[index];
}
