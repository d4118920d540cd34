/* Counters, rate-limited logging and the Prometheus text of GET /metrics
 * (PROTOCOL.md §12: decode errors by code, slow-consumer closes, pending
 * overflows, session expiries, msgs dropped for forgotten remotes). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "node/node_impl.h"

#define VXN_LOG_LINES_PER_SEC 10

void vxn_count_drop(vx_node *node, vxn_drop_reason why, size_t n) {
    node->dropped[why] += n;
}

void vxn_log(vx_node *node, const char *fmt, ...) {
    uint64_t now = uv_now(node->loop);
    if (now - node->log_window_ms >= 1000) {
        if (node->log_suppressed)
            fprintf(stderr, "vortexc: %u log lines suppressed\n", node->log_suppressed);
        node->log_window_ms = now;
        node->log_lines = 0;
        node->log_suppressed = 0;
    }
    if (node->log_lines >= VXN_LOG_LINES_PER_SEC) {
        node->log_suppressed++;
        return;
    }
    node->log_lines++;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ---- Prometheus text ------------------------------------------------------ */

typedef struct out {
    vx_buf *b;
    int rc;
} out;

static void put(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out *o, const char *fmt, ...) {
    if (o->rc) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof line) n = sizeof line - 1;
    o->rc = vx_buf_append(o->b, line, (size_t)n);
}

static void head(out *o, const char *name, const char *type, const char *help) {
    put(o, "# HELP vortexc_%s %s\n# TYPE vortexc_%s %s\n", name, help, name, type);
}

static void counter(out *o, const char *name, const char *help, uint64_t v) {
    head(o, name, "counter", help);
    put(o, "vortexc_%s %" PRIu64 "\n", name, v);
}

static const char *const transport_names[4] = {"http", "ws", "pipe", "client"};
static const char *const drop_names[VXN_DROP__COUNT] = {
    "session_expired", "pending_overflow", "connection_closed", "slow_consumer",
    "shutdown"};

int vx_node_metrics_text(const vx_node *node, vx_buf *b) {
    out o = {b, 0};
    head(&o, "connections", "gauge", "Open connections by transport.");
    for (int i = 0; i < 4; i++)
        put(&o, "vortexc_connections{transport=\"%s\"} %zu\n", transport_names[i],
            node->n_conns_by_kind[i]);
    head(&o, "remotes", "gauge", "Remote vortexes known (connected plus detached HTTP).");
    put(&o, "vortexc_remotes %zu\n", node->n_remotes);
    head(&o, "requests_pending", "gauge", "PayloadResponse requests awaiting a reply.");
    put(&o, "vortexc_requests_pending %zu\n", node->n_requests);
    counter(&o, "msgs_in_total", "Msgs received (non-empty items).", node->msgs_in);
    counter(&o, "msgs_out_total",
            "Msgs handed to connections (hellos and heartbeats apart).", node->msgs_out);
    counter(&o, "heartbeats_out_total", "Hellos and heartbeats handed to connections.",
            node->heartbeats_out);
    counter(&o, "bytes_in_total", "Bytes read from sockets.", node->ctr[VX_CTR_BYTES_IN]);
    counter(&o, "bytes_out_total", "Bytes written to sockets.",
            node->ctr[VX_CTR_BYTES_OUT]);
    head(&o, "decode_errors_total", "counter",
         "Msgs dropped because they failed to decode.");
    for (int code = 1; code < VXN_MAX_CODE; code++)
        if (code <= 20 || node->decode_errors[code])
            put(&o, "vortexc_decode_errors_total{code=\"%s\"} %" PRIu64 "\n",
                vx_error_name(-code), node->decode_errors[code]);
    counter(&o, "slow_consumer_closes_total", "Connections closed as slow consumers.",
            node->slow_closes);
    counter(&o, "pending_overflows_total", "HTTP pending queues that overflowed.",
            node->pending_overflows);
    counter(&o, "session_expiries_total",
            "Detached HTTP remotes forgotten after the timeout.", node->session_expiries);
    head(&o, "dropped_msgs_total", "counter", "Msgs dropped undelivered, by reason.");
    for (int i = 0; i < VXN_DROP__COUNT; i++)
        put(&o, "vortexc_dropped_msgs_total{reason=\"%s\"} %" PRIu64 "\n", drop_names[i],
            node->dropped[i]);
    counter(&o, "http_requests_total", "HTTP requests received.",
            node->ctr[VX_CTR_HTTP_REQUESTS]);
    counter(&o, "http_errors_total", "HTTP 4xx/5xx answers.",
            node->ctr[VX_CTR_HTTP_ERRORS]);
    counter(&o, "ws_protocol_errors_total", "WebSocket protocol violations.",
            node->ctr[VX_CTR_WS_PROTOCOL_ERRORS]);
    counter(&o, "tls_handshake_errors_total", "TLS handshakes that failed.",
            node->ctr[VX_CTR_TLS_HANDSHAKE_ERRORS]);
    return o.rc;
}
