/* SQL tuples: tuple types made from table schemas, and rows <-> tuples, on
 * SQLite (embedded default) or PostgreSQL (libpq) behind one small store
 * interface (DESIGN.md "sql" layer).
 *
 * A vx_store is a pool of connections to one database. Schema work
 * (vx_store_register_table) happens once at setup; row work happens in a
 * vx_sql_session, one pooled connection checked out by ONE thread at a time
 * (a libuv worker thread in the handlers: database calls block, so they
 * never run on the loop thread).
 *
 * Type mapping (column declared type -> tuple field value), by the backend's
 * type name, case-insensitive:
 *   integer, int, bigint, smallint, serial...   -> VX_INT
 *   real, float, double, numeric, decimal        -> VX_FLOAT (ints accepted on write)
 *   text, varchar, char, clob, uuid              -> VX_STR
 *   blob, bytea                                  -> VX_BYTES
 *   boolean, bool                                -> VX_BOOL
 *   timestamp, datetime, date                    -> VX_DATETIME (UTC)
 *   anything else                                -> VX_STR (text form)
 * NULL columns read as VX_NULL; a nullable column accepts null on write.
 * Column defaults that are constants become field defaults; expression
 * defaults (CURRENT_TIMESTAMP, nextval(...)) become null defaults and the
 * database fills them in on insert (the stored row is read back).
 *
 * Safety: values only ever travel as bound parameters; table and column
 * names in generated SQL come from the schema read at registration (quoted
 * as identifiers), never from the wire. Writes check every value against its
 * column's type and nullability first and fail with VX_E_SQL_VALUE naming
 * table, column, expected and actual type. */
#ifndef VORTEXC_SQL_H
#define VORTEXC_SQL_H

#include "tuple.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vx_store vx_store;
typedef struct vx_sql_table vx_sql_table;
typedef struct vx_sql_session vx_sql_session;

typedef enum vx_sql_backend {
    VX_SQL_SQLITE,
    VX_SQL_POSTGRESQL,
} vx_sql_backend;

typedef struct vx_store_opts {
    size_t max_sessions;    /* 4: pooled connections (libuv's default thread pool size) */
    double busy_timeout;    /* 5: seconds a session waits for a lock / a free connection */
    bool create;            /* SQLite: create the file if missing (default true) */
    double connect_timeout; /* 5: PostgreSQL connect timeout in seconds (whole
                               seconds, at least 2, libpq's rule); a
                               connect_timeout in the URI wins */
} vx_store_opts;

void vx_store_opts_init(vx_store_opts *opts);

/* Open a store. `url`:
 *   postgresql://...  or postgres://...   libpq connection URI
 *   sqlite:PATH, sqlite::memory:, or a plain file path   SQLite
 * (an in-memory SQLite store is one shared-cache database for all its
 * sessions). Connects once to check the URL; VX_E_SQL with the backend's
 * message on failure, VX_E_INVAL for a bad URL. */
int vx_store_open(const char *url, const vx_store_opts *opts, vx_store **out,
                  vx_error *err);
/* Close every connection and free the store and its tables (types stay in
 * their registry). No session may be checked out. NULL is a no-op. */
void vx_store_free(vx_store *s);
vx_sql_backend vx_store_backend(const vx_store *s);

/* NEW list of str: the user tables of the database, sorted by name
 * (SQLite: not sqlite_*; PostgreSQL: schema "public"). */
int vx_store_list_tables(vx_store *s, vx_value **names_out, vx_error *err);

/* Read `table`'s schema and register a tuple type for it in `reg`:
 * type name `type_name` (NULL: "vortexc.<table>"), one field per column in
 * column order, constant defaults as field defaults. The table must have a
 * single-column primary key (VX_E_SQL_SCHEMA otherwise, naming the table);
 * column names starting with '_' are VX_E_SQL_SCHEMA too. On success
 * *out is BORROWED, owned by the store. Registering the same table twice
 * returns the first registration's table (VX_E_EXISTS if `reg` or
 * `type_name` differ). */
int vx_store_register_table(vx_store *s, vx_registry *reg, const char *table,
                            const char *type_name, const vx_sql_table **out, vx_error *err);

/* BORROWED table registered for this tuple type name, or NULL. */
const vx_sql_table *vx_store_table_for_type(const vx_store *s, const char *type_name);

const char *vx_sql_table_name(const vx_sql_table *t);
const vx_tuple_type *vx_sql_table_type(const vx_sql_table *t);
/* Field index of the primary key (the row's id). */
size_t vx_sql_table_pk_index(const vx_sql_table *t);
const char *vx_sql_table_pk_name(const vx_sql_table *t);
/* Expected value kind of a column (VX_INT, VX_FLOAT, VX_STR, VX_BYTES,
 * VX_BOOL, VX_DATETIME) and whether it accepts null. */
vx_type vx_sql_table_column_kind(const vx_sql_table *t, size_t index);
bool vx_sql_table_column_nullable(const vx_sql_table *t, size_t index);

/* ---- sessions: one thread at a time, may block ---------------------------- */

/* Check out a pooled connection, waiting up to busy_timeout for one to be
 * free (VX_E_TIMEOUT) and reconnecting a connection the server dropped. */
int vx_store_acquire(vx_store *s, vx_sql_session **out, vx_error *err);
/* Return it to the pool; an open transaction is rolled back first. */
void vx_store_release(vx_sql_session *ss);

int vx_sql_begin(vx_sql_session *ss, vx_error *err);
int vx_sql_commit(vx_sql_session *ss, vx_error *err);
void vx_sql_rollback(vx_sql_session *ss);

/* Run `sql` with '?' placeholders bound to the items of `params` (BORROWED
 * list, or NULL) on both backends. With `t`, each result row becomes a
 * tuple of t's type (result columns matched to fields by name; unknown
 * columns are VX_E_SQL_SCHEMA); without, each row is a dict. *rows_out is a
 * NEW list that can go straight into a payload's tuples. Statements that
 * return no rows give an empty list (rows_out may then be NULL). */
int vx_sql_query(vx_sql_session *ss, const vx_sql_table *t, const char *sql,
                 const vx_value *params, vx_value **rows_out, vx_error *err);

/* NEW tuple of the row with primary key `id`, or *out = NULL if absent. */
int vx_sql_load(vx_sql_session *ss, const vx_sql_table *t, const vx_value *id,
                vx_value **out, vx_error *err);
/* NEW list of every row as tuples, ordered by primary key. */
int vx_sql_load_all(vx_sql_session *ss, const vx_sql_table *t, vx_value **out,
                    vx_error *err);

/* Check a tuple before writing: it must be a tuple of t's type, typed or
 * untyped with the same type name (untyped tuples are how unregistered types
 * arrive over the wire); every field must be a column (unknown -> VX_E_SQL_VALUE
 * naming it) and hold a value of the column's kind or null where allowed.
 * On success *typed_out is a NEW typed tuple (missing fields at defaults;
 * a missing NOT NULL field is not an error here, since a merge may leave it
 * out: vx_sql_insert checks it). */
int vx_sql_check_tuple(const vx_sql_table *t, const vx_value *tuple, vx_value **typed_out,
                       vx_error *err);

/* Insert `tuple` (checked as above). A null or "" id lets the database
 * assign it; *stored_out is the NEW row as read back (assigned id, defaults
 * filled in). */
int vx_sql_insert(vx_sql_session *ss, const vx_sql_table *t, const vx_value *tuple,
                  vx_value **stored_out, vx_error *err);
/* Update every column of the row with tuple's id, or insert it with that id
 * if absent. *stored_out is the NEW row as read back. */
int vx_sql_merge(vx_sql_session *ss, const vx_sql_table *t, const vx_value *tuple,
                 vx_value **stored_out, vx_error *err);
/* Merge writing only some columns: `write_cols[i]` false leaves column i
 * as stored (or at its database default for a new row); the primary key is
 * always written; NULL = every column (vx_sql_merge). This is how a partial
 * tuple from the wire updates only the fields its sender set. */
int vx_sql_merge_columns(vx_sql_session *ss, const vx_sql_table *t, const vx_value *tuple,
                         const bool *write_cols, vx_value **stored_out, vx_error *err);
/* Delete the row with primary key `id`; *deleted (optional) says whether one
 * existed. */
int vx_sql_delete(vx_sql_session *ss, const vx_sql_table *t, const vx_value *id,
                  bool *deleted, vx_error *err);

#ifdef __cplusplus
}
#endif
#endif
