/* Private declarations of the `vortexd` server daemon (tools/vortexd).
 * Only the public library API is used; nothing here is installed. The flags
 * are documented in docs/vortexd.md. */
#ifndef VORTEXD_H
#define VORTEXD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <vortexc.h>
#include <vortexc/node.h>

/* Exit statuses (docs/vortexd.md). */
enum {
    VXD_EXIT_OK = 0,     /* clean shutdown after SIGINT/SIGTERM, or --help */
    VXD_EXIT_FAILED = 1, /* could not start (listen failed, bad --types file) */
    VXD_EXIT_USAGE = 2,  /* bad command line */
};

/* Log levels, most severe first: a message is printed when its level is at
 * most the configured one. */
typedef enum vxd_level {
    VXD_LOG_ERROR,
    VXD_LOG_WARN,
    VXD_LOG_INFO,
    VXD_LOG_DEBUG,
} vxd_level;

/* Everything the command line sets. String pointers borrow argv. */
typedef struct vxd_config {
    vx_node_opts node;     /* name, limits, timers, codec (strict) */
    vx_listen_opts listen; /* host, port, paths, static dir, origins */
    const char **origins;  /* NEW array of borrowed strings (listen.origins) */
    const char **types;    /* NEW array of --types paths, in order */
    size_t n_types;
    bool echo;           /* --echo: vortexd.echo */
    bool test_endpoints; /* --test-endpoints: flood, stream, send*, broadcast, fail */
    const char *record;  /* --record FILE: vortexd.record appends here; NULL = off */
    const char *db;      /* --db URL: tables served by CrudHandlers (db.c); NULL = off */
    const char *tables;  /* --tables T1,T2: subset of --db's tables; NULL = all */
    bool demo;           /* --demo: create the demo tables in an empty --db */
    vxd_level log_level;
} vxd_config;

/* Parse argv into `cfg` (defaults first). Returns VXD_EXIT_OK to run,
 * -1 when --help/--version was printed (exit 0), or VXD_EXIT_USAGE after
 * printing an error and the usage to stderr. */
int vxd_parse_args(int argc, char **argv, vxd_config *cfg);
void vxd_config_free(vxd_config *cfg);
void vxd_usage(FILE *out);

/* Logging to stderr: `vortexd: LEVEL: message`, one line. */
extern vxd_level vxd_log_level;
void vxd_log(vxd_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The demo and test endpoints (endpoints.c). */
typedef struct vxd_endpoints vxd_endpoints;
/* NEW set of endpoints registered on the node's router per `cfg`. */
int vxd_endpoints_add(vx_node *node, const vxd_config *cfg, vxd_endpoints **out,
                      vx_error *err);
/* Stop running floods and refuse new ones (shutdown has begun); their
 * timers are closed and freed in close callbacks. */
void vxd_endpoints_stop(vxd_endpoints *e);
/* Stop, then free the set. Call after vx_node_free: the node's router
 * holds pointers to it until then. */
void vxd_endpoints_free(vxd_endpoints *e);

/* --db (db.c): tables served by CrudHandlers, the schema endpoint, --demo. */
typedef struct vxd_db vxd_db;
/* Open cfg->db, create the demo tables if asked, serve the tables. On
 * failure *out may still need vxd_db_free. */
int vxd_db_start(vx_node *node, const vxd_config *cfg, vxd_db **out, vx_error *err);
/* Free the handlers (before vx_node_free; work in flight finishes unsent). */
void vxd_db_stop(vxd_db *db);
/* Free the store and the rest once the loop has drained (no work in flight). */
void vxd_db_free(vxd_db *db);

#endif
