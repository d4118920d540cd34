/* Private layout of the SQL store (sql.h), shared by src/sql/store*.c. */
#ifndef VX_SQL_STORE_IMPL_H
#define VX_SQL_STORE_IMPL_H

#include <pthread.h>

#include "backend.h"

struct vx_sql_session {
    vx_store *store;
    void *conn; /* NULL until first checked out (connections are made lazily) */
    bool busy;  /* checked out by some thread */
    bool in_tx; /* vx_sql_begin succeeded and no commit/rollback since */
};

struct vx_sql_table {
    char *name;  /* as in the database */
    char *qname; /* quoted identifier */
    vx_registry *reg;
    const vx_tuple_type *type; /* BORROWED from reg */
    size_t n_cols;
    char **qcols;   /* quoted column identifiers, column (= field) order */
    vx_type *kinds; /* value kind per column */
    bool *nullable;
    bool *db_default;    /* the database fills it in when omitted */
    bool *const_default; /* the field default is the column's constant default */
    size_t pk;
    char *select_list; /* "a","b",... for SELECT and RETURNING */
    char *sql_load, *sql_load_all, *sql_delete;
};

struct vx_store {
    const vx_sql_backend_ops *ops;
    vx_sql_backend kind;
    char *target; /* what ops->connect takes */
    vx_store_opts opts;
    void *keeper; /* in-memory SQLite: holds the shared database open */

    pthread_mutex_t pool_mu;
    pthread_cond_t pool_cv;   /* a session was released */
    vx_sql_session *sessions; /* opts.max_sessions of them */

    pthread_mutex_t tables_mu;
    vx_sql_table **tables;
    size_t n_tables, cap_tables;
};

/* How a tuple is going to be written (what null means for the primary key). */
typedef enum vx_sql_write {
    VX_SQL_WRITE_CHECK,  /* vx_sql_check_tuple: null pk allowed if the db assigns it */
    VX_SQL_WRITE_INSERT, /* same; null / "" pk is omitted */
    VX_SQL_WRITE_MERGE,  /* the pk must be given */
} vx_sql_write;

int vx_sql_check_for(const vx_sql_table *t, const vx_value *tuple, vx_sql_write mode,
                     vx_value **typed_out, vx_error *err);
/* The same, checking only the columns a merge writes (write_cols[i]; the
 * primary key always; NULL = all). */
int vx_sql_check_cols(const vx_sql_table *t, const vx_value *tuple, vx_sql_write mode,
                      const bool *write_cols, vx_value **typed_out, vx_error *err);

/* NEW quoted identifier: "na""me". NULL on OOM. */
char *vx_sql_quote_ident(const char *name);

/* NEW tuple of t's type from row `row` of `r`, cells coerced to the column
 * kinds; VX_E_SQL_SCHEMA for a result column that is not a field. */
int vx_sql_row_tuple(const vx_sql_table *t, const vx_sql_result *r, size_t row,
                     vx_value **out, vx_error *err);

void vx_sql_table_free(vx_sql_table *t);

#endif
