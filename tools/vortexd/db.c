/* --db: every table of a database served through an observable CrudHandler,
 * plus a schema endpoint, and --demo's starter database (docs/vortexd.md).
 *
 * Table T is served on {"key": "crud.T"} with tuple type "vortexc.T". The
 * types go into a registry of their own, NOT the node's codec registry:
 * tuples then arrive untyped and the CrudHandler checks every field against
 * the schema, so an unknown column is reported to the sender instead of
 * being dropped silently by the decoder (PROTOCOL §5.3 ignores unknown keys
 * of registered types). */
#include <stdlib.h>
#include <string.h>

#include <vortexc/handler.h>

#include "vortexd.h"

#define SCHEMA_KEY "crud.tables"

struct vxd_db {
    vx_store *store;
    vx_registry *types;
    vx_observe_hub *hub;
    vx_crud_handler **cruds;
    size_t n_cruds;
    vx_model_handler *schema_handler;
    vx_value *schema; /* list of dicts, one per served table */
};

/* The demo: three related tables and a few rows, created only in a database
 * that has no tables, so a user's own database is never touched. */
static const char *const DEMO_SQL[] = {
    "CREATE TABLE department (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
    "budget REAL DEFAULT 0)",
    "CREATE TABLE employee (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT, "
    "department_id INTEGER REFERENCES department(id), active BOOLEAN DEFAULT 1, "
    "salary REAL, hired TIMESTAMP)",
    "CREATE TABLE project (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
    "department_id INTEGER REFERENCES department(id), due TIMESTAMP, notes TEXT)",
    "INSERT INTO department (name, budget) VALUES ('Research', 250000), "
    "('Operations', 120000.5), ('Design', 90000)",
    "INSERT INTO employee (name, email, department_id, active, salary, hired) VALUES "
    "('Ada Lovelace', 'ada@example.org', 1, 1, 7200.0, '2021-03-01 09:00:00'), "
    "('Grace Hopper', 'grace@example.org', 1, 1, 7100.0, '2020-11-16 08:30:00'), "
    "('Edsger Dijkstra', 'edsger@example.org', 2, 1, 6900.0, '2022-01-10 10:00:00'), "
    "('Margaret Hamilton', 'margaret@example.org', 2, 0, 7000.0, '2019-06-03 09:15:00'), "
    "('Alan Kay', NULL, 3, 1, 6500.0, '2023-09-18 11:45:00')",
    "INSERT INTO project (name, department_id, due, notes) VALUES "
    "('Analytical engine', 1, '2027-01-31 17:00:00', 'Bernoulli numbers first'), "
    "('Compiler', 1, '2027-03-15 12:00:00', NULL), "
    "('Shortest paths', 2, '2026-12-24 09:00:00', 'Semaphores later'), "
    "('Apollo guidance', 2, '2027-07-20 20:17:00', 'Priority scheduling')",
};

static int run_sql(vx_store *store, const char *const *sql, size_t n, vx_error *err) {
    vx_sql_session *ss;
    int rc = vx_store_acquire(store, &ss, err);
    if (rc) return rc;
    rc = vx_sql_begin(ss, err);
    for (size_t i = 0; !rc && i < n; i++)
        rc = vx_sql_query(ss, NULL, sql[i], NULL, NULL, err);
    if (!rc) rc = vx_sql_commit(ss, err);
    vx_store_release(ss); /* rolls back on failure */
    return rc;
}

static const char *kind_name(vx_type kind) {
    switch (kind) {
    case VX_INT:
        return "int";
    case VX_FLOAT:
        return "float";
    case VX_BYTES:
        return "bytes";
    case VX_BOOL:
        return "bool";
    case VX_DATETIME:
        return "datetime";
    default:
        return "str";
    }
}

/* One dict describing a served table for the schema endpoint. */
static vx_value *describe_table(const vx_sql_table *t, const char *key) {
    const vx_tuple_type *type = vx_sql_table_type(t);
    vx_value *d = vx_dict(), *cols = vx_list();
    if (!d || !cols) goto fail;
    size_t n = vx_tuple_type_field_count(type);
    for (size_t i = 0; i < n; i++) {
        vx_value *c = vx_dict();
        if (!c || vx_list_append_new(cols, c)) goto fail;
        const vx_value *def = vx_tuple_type_field_default(type, i);
        if (vx_dict_set_new(c, "name", vx_str(vx_tuple_type_field_name(type, i))) ||
            vx_dict_set_new(c, "kind", vx_str(kind_name(vx_sql_table_column_kind(t, i)))) ||
            vx_dict_set_new(c, "nullable", vx_bool(vx_sql_table_column_nullable(t, i))) ||
            vx_dict_set_new(c, "default", def ? vx_deep_copy(def) : vx_null()))
            goto fail;
    }
    if (vx_dict_set_new(d, "table", vx_str(vx_sql_table_name(t))) ||
        vx_dict_set_new(d, "key", vx_str(key)) ||
        vx_dict_set_new(d, "type", vx_str(vx_tuple_type_name(type))) ||
        vx_dict_set_new(d, "primaryKey", vx_str(vx_sql_table_pk_name(t))) ||
        vx_dict_set_new(d, "columns", cols))
        goto fail_d;
    return d;
fail:
    vx_decref(cols);
fail_d:
    vx_decref(d);
    return NULL;
}

static int build_schema(void *data, const vx_payload *request, const vx_route_ctx *ctx,
                        vx_model_result *out, vx_error *err) {
    (void)request, (void)ctx, (void)err;
    vxd_db *db = data;
    out->tuples = vx_incref(db->schema);
    return 0;
}

/* Is `name` one of the comma-separated `list`? */
static bool listed(const char *list, const char *name) {
    size_t len = strlen(name);
    for (const char *p = list; *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n == len && !strncmp(p, name, n)) return true;
        if (!comma) break;
        p = comma + 1;
    }
    return false;
}

/* Every --tables entry must exist: a typo should stop the server, not
 * silently serve less. */
static int check_tables_exist(const char *list, const vx_value *names, vx_error *err) {
    for (const char *p = list; *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        bool found = false;
        for (size_t i = 0; i < vx_list_size(names) && !found; i++) {
            const char *t = vx_str_value(vx_list_get(names, i));
            found = strlen(t) == n && !strncmp(t, p, n);
        }
        if (!found)
            return vx_error_set(err, VX_E_NOT_FOUND,
                                "--tables: no table '%.*s' in the database", (int)n, p);
        if (!comma) break;
        p = comma + 1;
    }
    return 0;
}

static int serve_tables(vxd_db *db, vx_node *node, const vxd_config *cfg, vx_value *names,
                        vx_error *err) {
    size_t n = vx_list_size(names);
    const vx_sql_table **tables = calloc(n ? n : 1, sizeof *tables);
    db->cruds = calloc(n ? n : 1, sizeof *db->cruds);
    int rc = tables && db->cruds ? 0 : vx_error_set(err, VX_E_NOMEM, "out of memory");
    size_t n_tables = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        const char *name = vx_str_value(vx_list_get(names, i));
        if (cfg->tables && !listed(cfg->tables, name)) continue;
        const vx_sql_table *t;
        rc = vx_store_register_table(db->store, db->types, name, NULL, &t, err);
        if (rc == VX_E_SQL_SCHEMA) { /* e.g. no primary key: skip it, say why */
            vxd_log(VXD_LOG_WARN, "--db: table '%s' not served: %s", name, err->message);
            rc = 0;
            continue;
        }
        if (!rc) tables[n_tables++] = t;
    }
    for (size_t i = 0; !rc && i < n_tables; i++) {
        char key[256];
        snprintf(key, sizeof key, "crud.%s", vx_sql_table_name(tables[i]));
        vx_value *filt = vx_dict();
        if (!filt || vx_dict_set_new(filt, "key", vx_str(key))) {
            vx_decref(filt);
            rc = vx_error_set(err, VX_E_NOMEM, "out of memory");
            break;
        }
        vx_crud_opts opts;
        vx_crud_opts_init(&opts);
        opts.hub = db->hub;
        /* Any served table's tuples may ride along in one payload. */
        opts.extra_tables = tables;
        opts.n_extra_tables = n_tables;
        db->cruds[db->n_cruds] =
            vx_crud_handler_new(node, filt, db->store, tables[i], &opts, err);
        vx_decref(filt);
        if (!db->cruds[db->n_cruds]) {
            rc = err->code ? err->code : VX_E_NOMEM;
            break;
        }
        db->n_cruds++;
        vx_value *desc = describe_table(tables[i], key);
        if (!desc || vx_list_append_new(db->schema, desc))
            rc = vx_error_set(err, VX_E_NOMEM, "out of memory");
        vxd_log(VXD_LOG_INFO, "serving table %s on {\"key\": \"%s\"} as %s",
                vx_sql_table_name(tables[i]), key,
                vx_tuple_type_name(vx_sql_table_type(tables[i])));
    }
    free(tables);
    return rc;
}

int vxd_db_start(vx_node *node, const vxd_config *cfg, vxd_db **out, vx_error *err) {
    *out = NULL;
    vxd_db *db = calloc(1, sizeof *db);
    if (!db) return vx_error_set(err, VX_E_NOMEM, "out of memory");
    *out = db;
    vx_value *names = NULL;
    db->types = vx_registry_new();
    db->hub = vx_observe_hub_new(node);
    db->schema = vx_list();
    if (!db->types || !db->hub || !db->schema)
        return vx_error_set(err, VX_E_NOMEM, "out of memory");
    int rc = vx_store_open(cfg->db, NULL, &db->store, err);
    if (!rc) rc = vx_store_list_tables(db->store, &names, err);
    if (!rc && cfg->demo && vx_list_size(names) == 0) {
        vxd_log(VXD_LOG_INFO, "--demo: creating the demo tables in %s", cfg->db);
        rc = run_sql(db->store, DEMO_SQL, sizeof DEMO_SQL / sizeof DEMO_SQL[0], err);
        vx_decref(names);
        names = NULL;
        if (!rc) rc = vx_store_list_tables(db->store, &names, err);
    }
    if (!rc && cfg->tables) rc = check_tables_exist(cfg->tables, names, err);
    if (!rc) rc = serve_tables(db, node, cfg, names, err);
    vx_decref(names);
    if (rc) return rc;
    vx_value *filt = vx_dict();
    if (!filt || vx_dict_set_new(filt, "key", vx_str(SCHEMA_KEY))) {
        vx_decref(filt);
        return vx_error_set(err, VX_E_NOMEM, "out of memory");
    }
    db->schema_handler = vx_model_handler_new(node, filt, build_schema, db, err);
    vx_decref(filt);
    return db->schema_handler ? 0 : (err->code ? err->code : VX_E_NOMEM);
}

void vxd_db_stop(vxd_db *db) {
    if (!db) return;
    for (size_t i = 0; i < db->n_cruds; i++) vx_crud_handler_free(db->cruds[i]);
    db->n_cruds = 0;
    vx_model_handler_free(db->schema_handler);
    db->schema_handler = NULL;
    /* The hub is a remote listener of the node, and the node is freed right
     * after this call: handlers, then hubs, then the node (docs/handlers.md §5). */
    vx_observe_hub_free(db->hub);
    db->hub = NULL;
}

void vxd_db_free(vxd_db *db) {
    if (!db) return;
    vxd_db_stop(db);
    free(db->cruds);
    vx_observe_hub_free(db->hub);
    vx_store_free(db->store);
    if (db->types) vx_registry_free(db->types);
    vx_decref(db->schema);
    free(db);
}
