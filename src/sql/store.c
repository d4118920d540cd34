/* The store: URL -> backend, the connection pool, sessions and transactions. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store_impl.h"

void vx_store_opts_init(vx_store_opts *opts) {
    if (!opts) return;
    memset(opts, 0, sizeof *opts);
    opts->max_sessions = 4;
    opts->busy_timeout = 5.0;
    opts->create = true;
    opts->connect_timeout = 5.0;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* Each in-memory store gets its own shared-cache name, so two stores in one
 * process never see each other's tables. */
static unsigned long next_memory_id(void) {
    static unsigned long counter;
    return __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
}

/* Fill s->ops, s->kind, s->target from `url`; *memory for in-memory SQLite. */
static int parse_url(vx_store *s, const char *url, bool *memory, vx_error *err) {
    *memory = false;
    if (!url || !*url) return vx_error_set(err, VX_E_INVAL, "database URL is empty");
    if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0) {
        s->ops = &vx_pg_backend;
        s->kind = VX_SQL_POSTGRESQL;
        s->target = dup_str(url);
        return s->target ? 0 : vx_error_set(err, VX_E_NOMEM, "out of memory");
    }
    const char *path = url;
    if (strncmp(url, "sqlite:", 7) == 0) {
        path = url + 7;
        if (strncmp(path, "//", 2) == 0)
            return vx_error_set(err, VX_E_INVAL,
                                "database URL '%.128s': write sqlite:PATH (no '//')", url);
        if (!*path)
            return vx_error_set(err, VX_E_INVAL, "database URL '%.128s' has no path", url);
    } else {
        const char *colon = strstr(url, "://");
        if (colon)
            return vx_error_set(err, VX_E_INVAL,
                                "database URL '%.128s': unsupported scheme '%.*s' (want "
                                "postgresql://, sqlite:PATH or a file path)",
                                url, (int)(colon - url > 32 ? 32 : colon - url), url);
    }
    s->ops = &vx_sqlite_backend;
    s->kind = VX_SQL_SQLITE;
    if (strcmp(path, ":memory:") == 0) {
        /* A plain ":memory:" would give every pooled connection its own
         * empty database; a named shared-cache one is one database. */
        char buf[96];
        snprintf(buf, sizeof buf, "file:vxmem%ld_%lu?mode=memory&cache=shared",
                 (long)getpid(), next_memory_id());
        *memory = true;
        s->target = dup_str(buf);
    } else {
        s->target = dup_str(path);
    }
    return s->target ? 0 : vx_error_set(err, VX_E_NOMEM, "out of memory");
}

int vx_store_open(const char *url, const vx_store_opts *opts, vx_store **out,
                  vx_error *err) {
    if (!out) return vx_error_set(err, VX_E_INVAL, "vx_store_open: out is NULL");
    *out = NULL;
    vx_store_opts o;
    if (opts) {
        o = *opts;
    } else {
        vx_store_opts_init(&o);
    }
    if (o.max_sessions == 0)
        return vx_error_set(err, VX_E_INVAL,
                            "store option max_sessions must be at least 1");
    if (!(o.busy_timeout >= 0) || isinf(o.busy_timeout))
        return vx_error_set(err, VX_E_INVAL,
                            "store option busy_timeout must be a finite number of seconds "
                            ">= 0");
    vx_store *s = calloc(1, sizeof *s);
    if (!s) return vx_error_set(err, VX_E_NOMEM, "out of memory opening a store");
    s->opts = o;
    pthread_mutex_init(&s->pool_mu, NULL);
    pthread_mutex_init(&s->tables_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->pool_cv, &ca);
    pthread_condattr_destroy(&ca);
    bool memory;
    int rc = parse_url(s, url, &memory, err);
    if (rc) goto fail;
    s->sessions = calloc(o.max_sessions, sizeof *s->sessions);
    if (!s->sessions) {
        rc = vx_error_set(err, VX_E_NOMEM, "out of memory opening a store");
        goto fail;
    }
    for (size_t i = 0; i < o.max_sessions; i++) s->sessions[i].store = s;
    /* Connect once now so a bad URL fails here, not at the first request. */
    void *conn = NULL;
    vx_error e;
    vx_error_clear(&e);
    rc = s->ops->connect(s->target, &s->opts, &conn, &e);
    if (rc) {
        if (rc == VX_E_SQL)
            vx_error_set(err, rc, "open %s database: %s", s->ops->name, e.message);
        else
            vx_error_set(err, rc, "%s", e.message);
        goto fail;
    }
    if (memory) {
        s->keeper = conn; /* never pooled: it only keeps the database alive */
    } else {
        s->sessions[0].conn = conn;
    }
    *out = s;
    return 0;
fail:
    vx_store_free(s);
    return rc;
}

void vx_store_free(vx_store *s) {
    if (!s) return;
    if (s->sessions) {
        for (size_t i = 0; i < s->opts.max_sessions; i++)
            if (s->sessions[i].conn) s->ops->disconnect(s->sessions[i].conn);
        free(s->sessions);
    }
    if (s->keeper) s->ops->disconnect(s->keeper);
    for (size_t i = 0; i < s->n_tables; i++) vx_sql_table_free(s->tables[i]);
    free(s->tables);
    free(s->target);
    pthread_cond_destroy(&s->pool_cv);
    pthread_mutex_destroy(&s->pool_mu);
    pthread_mutex_destroy(&s->tables_mu);
    free(s);
}

vx_sql_backend vx_store_backend(const vx_store *s) {
    return s->kind;
}

/* ---- pool ----------------------------------------------------------------- */

static struct timespec deadline_after(double seconds) {
    struct timespec ts;
    if (seconds > 1e8) seconds = 1e8; /* "forever", without overflowing time_t */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double whole = floor(seconds);
    ts.tv_sec += (time_t)whole;
    ts.tv_nsec += (long)((seconds - whole) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Connect or reconnect a session just checked out (called without the lock:
 * connecting may take a while and the session is ours). */
static int ensure_connected(vx_sql_session *ss, vx_error *err) {
    vx_store *s = ss->store;
    if (ss->conn && s->ops->alive(ss->conn)) return 0;
    if (ss->conn) {
        s->ops->disconnect(ss->conn);
        ss->conn = NULL;
    }
    ss->in_tx = false;
    vx_error e;
    vx_error_clear(&e);
    int rc = s->ops->connect(s->target, &s->opts, &ss->conn, &e);
    if (rc) {
        ss->conn = NULL;
        return vx_error_set(err, rc, "connect to %s database: %s", s->ops->name, e.message);
    }
    return 0;
}

int vx_store_acquire(vx_store *s, vx_sql_session **out, vx_error *err) {
    if (!s || !out) return vx_error_set(err, VX_E_INVAL, "vx_store_acquire: NULL argument");
    *out = NULL;
    struct timespec deadline = deadline_after(s->opts.busy_timeout);
    vx_sql_session *got = NULL;
    pthread_mutex_lock(&s->pool_mu);
    for (;;) {
        /* Prefer a connected free session; else a slot never connected. */
        for (size_t i = 0; i < s->opts.max_sessions && !got; i++)
            if (!s->sessions[i].busy && s->sessions[i].conn) got = &s->sessions[i];
        for (size_t i = 0; i < s->opts.max_sessions && !got; i++)
            if (!s->sessions[i].busy) got = &s->sessions[i];
        if (got) break;
        int w = pthread_cond_timedwait(&s->pool_cv, &s->pool_mu, &deadline);
        if (w == ETIMEDOUT) {
            pthread_mutex_unlock(&s->pool_mu);
            return vx_error_set(err, VX_E_TIMEOUT,
                                "no free database session after %g s (max_sessions %zu)",
                                s->opts.busy_timeout, s->opts.max_sessions);
        }
    }
    got->busy = true;
    pthread_mutex_unlock(&s->pool_mu);
    int rc = ensure_connected(got, err);
    if (rc) {
        pthread_mutex_lock(&s->pool_mu);
        got->busy = false;
        pthread_cond_signal(&s->pool_cv);
        pthread_mutex_unlock(&s->pool_mu);
        return rc;
    }
    *out = got;
    return 0;
}

void vx_store_release(vx_sql_session *ss) {
    if (!ss) return;
    vx_store *s = ss->store;
    const vx_sql_backend_ops *ops = s->ops;
    if (!ss->in_tx && ss->conn && ops->in_transaction && ops->in_transaction(ss->conn))
        ss->in_tx = true; /* begun by raw SQL: the next user must not inherit it */
    if (ss->in_tx) vx_sql_rollback(ss);
    pthread_mutex_lock(&s->pool_mu);
    ss->busy = false;
    pthread_cond_signal(&s->pool_cv);
    pthread_mutex_unlock(&s->pool_mu);
}

/* ---- transactions ------------------------------------------------------- */

int vx_sql_begin(vx_sql_session *ss, vx_error *err) {
    if (!ss) return vx_error_set(err, VX_E_INVAL, "vx_sql_begin: session is NULL");
    if (ss->in_tx) return vx_error_set(err, VX_E_INVAL, "a transaction is already open");
    /* SQLite: take the write lock now; a deferred transaction that reads and
     * then writes can fail with BUSY without the busy timeout helping. */
    const char *sql = ss->store->kind == VX_SQL_SQLITE ? "BEGIN IMMEDIATE" : "BEGIN";
    vx_error e;
    int rc = ss->store->ops->query(ss->conn, sql, NULL, NULL, &e);
    if (rc) return vx_error_set(err, rc, "begin: %s", e.message);
    ss->in_tx = true;
    return 0;
}

int vx_sql_commit(vx_sql_session *ss, vx_error *err) {
    if (!ss) return vx_error_set(err, VX_E_INVAL, "vx_sql_commit: session is NULL");
    if (!ss->in_tx) return vx_error_set(err, VX_E_INVAL, "no transaction is open");
    vx_error e;
    int rc = ss->store->ops->query(ss->conn, "COMMIT", NULL, NULL, &e);
    /* On failure the transaction stays open (SQLite) and release rolls it back. */
    if (rc) return vx_error_set(err, rc, "commit: %s", e.message);
    ss->in_tx = false;
    return 0;
}

void vx_sql_rollback(vx_sql_session *ss) {
    if (!ss || !ss->in_tx) return;
    vx_error e;
    ss->store->ops->query(ss->conn, "ROLLBACK", NULL, NULL, &e);
    ss->in_tx = false;
}

int vx_store_list_tables(vx_store *s, vx_value **names_out, vx_error *err) {
    if (!s || !names_out)
        return vx_error_set(err, VX_E_INVAL, "vx_store_list_tables: NULL argument");
    *names_out = NULL;
    vx_sql_session *ss;
    int rc = vx_store_acquire(s, &ss, err);
    if (rc) return rc;
    vx_error e;
    vx_error_clear(&e);
    rc = s->ops->list_tables(ss->conn, names_out, &e);
    if (rc) vx_error_set(err, rc, "list tables: %s", e.message);
    vx_store_release(ss);
    return rc;
}
