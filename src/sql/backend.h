/* The seam between the store (src/sql/store*.c: pool, schema -> tuple types,
 * SQL generation, value checks) and one database backend (sqlite.c, pg.c).
 *
 * A backend only connects, runs SQL with '?' placeholders and bound
 * parameters, and describes tables. It converts cells to vx_values by the
 * database's own types (int, float, str, bytes, bool, datetime where the
 * database has them, null); the store then coerces to the column kinds of
 * the table (e.g. SQLite's ISO text or integer seconds to VX_DATETIME, 0/1
 * to VX_BOOL). Both backends accept the same generated SQL: double-quoted
 * identifiers, INSERT ... RETURNING *, INSERT ... ON CONFLICT (pk) DO UPDATE
 * ... RETURNING *. */
#ifndef VX_SQL_BACKEND_H
#define VX_SQL_BACKEND_H

#include <vortexc/sql.h>

/* One column as the backend describes it. */
typedef struct vx_sql_column {
    char *name;              /* malloc'd */
    char *decl_type;         /* malloc'd, as declared ("varchar(20)", "timestamp", ...) */
    vx_type kind;            /* mapped per sql.h's table (VX_STR for unknown types) */
    bool nullable;           /* false for NOT NULL (and for the primary key) */
    bool primary_key;        /* part of the primary key */
    vx_value *default_value; /* NEW constant default converted to `kind`, or NULL
                                (no default, or an expression the database evaluates) */
    bool has_db_default;     /* the database fills it in when omitted (any default,
                                autoincrement / serial / identity) */
} vx_sql_column;

void vx_sql_columns_free(vx_sql_column *cols, size_t n);

/* Result of one statement: column names and rows of cells. */
typedef struct vx_sql_result {
    size_t n_cols;
    char **col_names; /* malloc'd */
    size_t n_rows;
    vx_value **cells; /* n_rows * n_cols NEW values, row-major */
} vx_sql_result;

void vx_sql_result_free(vx_sql_result *r);

typedef struct vx_sql_backend_ops {
    const char *name; /* "sqlite", "postgresql" */
    /* Open one connection. `target` is the URL part the backend understands
     * (a file path or ":memory:" for SQLite; the full URI for libpq). */
    int (*connect)(const char *target, const vx_store_opts *opts, void **conn,
                   vx_error *err);
    void (*disconnect)(void *conn);
    /* false if the server dropped the connection (the pool reconnects). */
    bool (*alive)(void *conn);
    /* Run `sql` with '?' placeholders bound to `params` (list or NULL).
     * `result` may be NULL when rows are not wanted. Errors: VX_E_SQL with
     * the database's message (constraint violations included). */
    int (*query)(void *conn, const char *sql, const vx_value *params, vx_sql_result *result,
                 vx_error *err);
    /* NEW sorted list of str: user table names. */
    int (*list_tables)(void *conn, vx_value **names, vx_error *err);
    /* Columns of `table` in declaration order; VX_E_NOT_FOUND if no such
     * table. */
    int (*describe)(void *conn, const char *table, vx_sql_column **cols, size_t *n_cols,
                    vx_error *err);
    /* Optional (NULL: unknown): whether a transaction is open on `conn`,
     * also one begun by raw SQL, so the pool rolls it back on release. */
    bool (*in_transaction)(void *conn);
} vx_sql_backend_ops;

extern const vx_sql_backend_ops vx_sqlite_backend;
extern const vx_sql_backend_ops vx_pg_backend;

/* Map a declared column type to a value kind (sql.h's table). Shared so
 * both backends agree. */
vx_type vx_sql_kind_for_decl(const char *decl_type);

/* Convert a cell or default `v` (BORROWED) to value kind `kind` (a
 * vx_sql_kind_for_decl result): ISO text or integer epoch seconds ->
 * datetime, 0/1 or "t"/"f" -> bool, int or numeric text -> float, numbers
 * -> text, ... null stays null. *out is NEW. VX_E_BAD_VALUE (nothing
 * written) when `v` has no sensible value of that kind. Shared so both
 * backends and the store agree (store_coerce.c). */
int vx_sql_coerce(const vx_value *v, vx_type kind, vx_value **out);

#endif
