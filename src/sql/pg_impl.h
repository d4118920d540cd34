/* Private pieces of the PostgreSQL backend (pg.c), split by concern:
 * pg_sql.c turns '?' statements and vx_values into what PQexecParams takes,
 * pg_values.c turns PostgreSQL's text output back into vx_values,
 * pg_schema.c lists and describes tables. */
#ifndef VX_SQL_PG_IMPL_H
#define VX_SQL_PG_IMPL_H

#include <libpq-fe.h>

#include "backend.h"

/* PostgreSQL caps the parameters of one statement at 65535 (16-bit count in
 * the Bind message); a longer list is refused before it reaches the server. */
#define VX_PG_MAX_PARAMS 65535

/* ---- pg_sql.c ------------------------------------------------------------ */

/* Rewrite `sql`'s '?' placeholders as $1..$n, leaving every '?' inside
 * string literals ('...', E'...', $tag$...$tag$), quoted identifiers and
 * comments (-- and nested slash-star) alone. *out is malloc'd; *n_out is the
 * number of placeholders. VX_E_NOMEM only. */
int vx_pg_translate(const char *sql, char **out, size_t *n_out, vx_error *err);

/* The text-format parameter for `v` (parameter number `index`, from 1, for
 * messages): *out is malloc'd, or NULL for SQL NULL. VX_E_SQL_VALUE for a
 * value PostgreSQL text cannot carry (containers, strings holding U+0000,
 * geometry). */
int vx_pg_param_text(const vx_value *v, size_t index, char **out, vx_error *err);

/* ---- pg_values.c --------------------------------------------------------- */

/* The value kind a result column of type `oid` reads as: int2/int4/int8/oid
 * -> VX_INT, float4/float8/numeric -> VX_FLOAT, bool, bytea -> VX_BYTES,
 * timestamp/timestamptz/date -> VX_DATETIME, everything else VX_STR. */
vx_type vx_pg_kind_for_oid(Oid oid);

/* NEW value of `kind` from PostgreSQL's text output `s` (len bytes) as the
 * session settings of pg.c make it (DateStyle ISO, TimeZone UTC, bytea hex
 * or escape). VX_E_BAD_VALUE with a message naming the text when it is not
 * that kind's output or lies outside the value's range (timestamps outside
 * years 0001-9999, infinity, BC dates; text that is not UTF-8). */
int vx_pg_text_value(vx_type kind, const char *s, size_t len, vx_value **out,
                     vx_error *err);

/* ---- pg.c ---------------------------------------------------------------- */

/* Fill `err` with VX_E_SQL and the server's primary message for a failed
 * `res` (which may be NULL), else libpq's own message for `pg`, flattened
 * to one line and prefixed with `what` when not NULL. Returns VX_E_SQL. */
int vx_pg_error(PGconn *pg, const PGresult *res, const char *what, vx_error *err);

/* Run an internal catalog query (parameters are plain C strings) and
 * return its result when it produced rows, or NULL with `err` filled. */
PGresult *vx_pg_exec_rows(PGconn *pg, const char *sql, int n_params,
                          const char *const *params, const char *what, vx_error *err);

/* ---- pg_schema.c --------------------------------------------------------- */

int vx_pg_list_tables(void *conn, vx_value **names, vx_error *err);
int vx_pg_describe(void *conn, const char *table, vx_sql_column **cols, size_t *n_cols,
                   vx_error *err);

#endif
