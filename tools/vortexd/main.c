/* vortexd: a VortexC server (HTTP long-poll, WebSocket, static files,
 * /health and /metrics on one port) run from the command line.
 *
 * It prints one line on stdout once listening, so scripts and tests can read
 * the port chosen with --port 0:
 *     vortexd listening on http://HOST:PORT uuid=UUID name=NAME   (https:// with TLS)
 * Logs go to stderr. SIGINT/SIGTERM start a clean shutdown (streams ended,
 * WebSockets closed 1001) and the process exits 0 when it is done; a second
 * signal exits at once with status 1. */
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vortexd.h"

vxd_level vxd_log_level = VXD_LOG_INFO;

void vxd_log(vxd_level level, const char *fmt, ...) {
    static const char *names[] = {"error", "warn", "info", "debug"};
    if (level > vxd_log_level) return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char line[1024];
    int n = snprintf(line, sizeof line,
                     "%04d-%02d-%02d %02d:%02d:%02d.%03ldZ vortexd %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, names[level]);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof line)
        vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    /* One write per line keeps lines whole when stderr is shared. */
    size_t len = strnlen(line, sizeof line - 2);
    line[len++] = '\n';
    fwrite(line, 1, len, stderr);
}

typedef struct app {
    uv_loop_t loop;
    vx_node *node;
    vxd_endpoints *endpoints;
    vxd_db *db;
    vx_registry *registry;
    uv_signal_t sigint, sigterm;
    bool shutting_down;
} app;

static const char *transport_name(vx_transport_kind k) {
    switch (k) {
    case VX_TRANSPORT_HTTP:
        return "http";
    case VX_TRANSPORT_WS:
        return "websocket";
    case VX_TRANSPORT_PIPE:
        return "pipe";
    case VX_TRANSPORT_CLIENT:
        return "client";
    }
    return "?";
}

static void on_remote(void *data, const vx_remote_info *r, bool joined) {
    vxd_log(VXD_LOG_INFO, "remote %s: uuid=%s name=%s transport=%s peer=%s%s%s",
            joined ? "joined" : "forgotten", r->uuid ? r->uuid : "-",
            r->name ? r->name : "-", transport_name(r->transport), r->peer ? r->peer : "-",
            r->peer_identity ? " identity=" : "", r->peer_identity ? r->peer_identity : "");
}

static void on_handle_closed(uv_handle_t *h) {
    (void)h;
}

static void on_shutdown_done(void *data) {
    app *a = data;
    vxd_log(VXD_LOG_INFO, "shutdown complete");
    uv_close((uv_handle_t *)&a->sigint, on_handle_closed);
    uv_close((uv_handle_t *)&a->sigterm, on_handle_closed);
    vxd_db_stop(a->db);
    vx_node_free(a->node); /* memory released as the loop runs on */
    a->node = NULL;
}

static void on_signal(uv_signal_t *s, int signum) {
    app *a = s->data;
    if (a->shutting_down) {
        vxd_log(VXD_LOG_WARN, "second signal %d: exiting at once", signum);
        fflush(stderr);
        _exit(VXD_EXIT_FAILED);
    }
    a->shutting_down = true;
    vxd_log(VXD_LOG_INFO, "signal %d: shutting down", signum);
    vxd_endpoints_stop(a->endpoints);
    vx_node_shutdown(a->node, on_shutdown_done, a);
}

/* Run the loop until every handle is closed, so freed nodes release their
 * memory before the process exits (valgrind stays quiet). */
static void drain(app *a) {
    while (uv_run(&a->loop, UV_RUN_DEFAULT) != 0) {
    }
}

static int start(app *a, vxd_config *cfg) {
    vx_error err = {0};
    if (cfg->n_types) {
        a->registry = vx_registry_new();
        if (!a->registry) {
            vxd_log(VXD_LOG_ERROR, "out of memory");
            return VXD_EXIT_FAILED;
        }
        for (size_t i = 0; i < cfg->n_types; i++) {
            if (vx_registry_load_file(a->registry, cfg->types[i], &err)) {
                fprintf(stderr, "vortexd: --types %s: %s: %s\n", cfg->types[i],
                        vx_error_name(err.code), err.message);
                return VXD_EXIT_USAGE;
            }
        }
        cfg->node.codec.registry = a->registry;
    }
    a->node = vx_node_new(&a->loop, &cfg->node, &err);
    if (!a->node) {
        vxd_log(VXD_LOG_ERROR, "cannot create the node: %s: %s", vx_error_name(err.code),
                err.message);
        return VXD_EXIT_FAILED;
    }
    vx_node_on_remote(a->node, on_remote, a);
    if (vxd_endpoints_add(a->node, cfg, &a->endpoints, &err)) {
        vxd_log(VXD_LOG_ERROR, "cannot register endpoints: %s", err.message);
        return VXD_EXIT_FAILED;
    }
    if (cfg->db && vxd_db_start(a->node, cfg, &a->db, &err)) {
        vxd_log(VXD_LOG_ERROR, "--db %s: %s: %s", cfg->db, vx_error_name(err.code),
                err.message);
        return VXD_EXIT_FAILED;
    }
    if (vx_node_listen(a->node, &cfg->listen, &err)) {
        vxd_log(VXD_LOG_ERROR, "cannot listen on %s:%d: %s: %s",
                cfg->listen.host ? cfg->listen.host : "127.0.0.1", cfg->listen.port,
                vx_error_name(err.code), err.message);
        return VXD_EXIT_FAILED;
    }
    uv_signal_init(&a->loop, &a->sigint);
    uv_signal_init(&a->loop, &a->sigterm);
    a->sigint.data = a->sigterm.data = a;
    uv_signal_start(&a->sigint, on_signal, SIGINT);
    uv_signal_start(&a->sigterm, on_signal, SIGTERM);

    const char *host = cfg->listen.host ? cfg->listen.host : "127.0.0.1";
    bool v6 = strchr(host, ':') != NULL;
    printf("vortexd listening on %s://%s%s%s:%d uuid=%s name=%s\n",
           cfg->listen.tls_cert_file ? "https" : "http", v6 ? "[" : "", host, v6 ? "]" : "",
           vx_node_port(a->node), vx_node_uuid(a->node), vx_node_name(a->node));
    fflush(stdout);
    vxd_log(VXD_LOG_INFO, "http path %s, websocket path %s%s%s%s%s",
            cfg->listen.http_path ? cfg->listen.http_path : "/vortex",
            cfg->listen.ws_path ? cfg->listen.ws_path : "/vortexws",
            cfg->listen.static_dir ? ", static " : "",
            cfg->listen.static_dir ? cfg->listen.static_dir : "",
            cfg->echo ? ", echo endpoint" : "",
            cfg->test_endpoints ? ", TEST endpoints" : "");
    return VXD_EXIT_OK;
}

int main(int argc, char **argv) {
    vxd_config cfg;
    int rc = vxd_parse_args(argc, argv, &cfg);
    if (rc) {
        vxd_config_free(&cfg);
        return rc < 0 ? VXD_EXIT_OK : rc;
    }
    vxd_log_level = cfg.log_level;
    /* A peer closing mid-write must be an error return, not a death. */
    signal(SIGPIPE, SIG_IGN);

    app a;
    memset(&a, 0, sizeof a);
    if (uv_loop_init(&a.loop)) {
        fprintf(stderr, "vortexd: cannot start the event loop\n");
        vxd_config_free(&cfg);
        return VXD_EXIT_FAILED;
    }
    rc = start(&a, &cfg);
    if (rc == VXD_EXIT_OK) {
        drain(&a);
    } else if (a.node) {
        vxd_db_stop(a.db);
        vx_node_free(a.node);
        a.node = NULL;
        drain(&a);
    }
    vxd_endpoints_free(a.endpoints);
    drain(&a); /* close callbacks of stopped floods, database work in flight */
    vxd_db_free(a.db);
    if (uv_loop_close(&a.loop))
        vxd_log(VXD_LOG_WARN, "event loop closed with handles open");
    if (a.registry) vx_registry_free(a.registry);
    vxd_config_free(&cfg);
    return rc;
}
