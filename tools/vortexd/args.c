/* Command-line parsing for vortexd: every flag of docs/vortexd.md, as
 * `--flag VALUE` or `--flag=VALUE`. A bad flag is reported on one line
 * naming the flag and the value, then the usage; the exit status is 2. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vortexd.h"

typedef enum opt_kind {
    OPT_STR,      /* borrowed string */
    OPT_PATH,     /* URL path: must start with '/' */
    OPT_PORT,     /* 0-65535 */
    OPT_SIZE,     /* bytes, optional k/m/g suffix (KiB, MiB, GiB) */
    OPT_INT,      /* positive int */
    OPT_SECS,     /* seconds >= 0, finite */
    OPT_SECS_POS, /* seconds > 0, finite */
    OPT_FLAG,     /* no argument */
} opt_kind;

enum {
    O_HOST,
    O_PORT,
    O_NAME,
    O_UUID,
    O_STATIC,
    O_HTTP_PATH,
    O_WS_PATH,
    O_ORIGIN,
    O_HEARTBEAT,
    O_SESSION,
    O_HEAD_TIMEOUT,
    O_IDLE_TIMEOUT,
    O_PENDING,
    O_OUTQ,
    O_BODY,
    O_HEADER,
    O_MSG,
    O_JSON,
    O_DEPTH,
    O_PING,
    O_DEAD,
    O_RESPONSE,
    O_STRICT,
    O_TYPES,
    O_ECHO,
    O_TEST,
    O_RECORD,
    O_DB,
    O_TABLES,
    O_DEMO,
    O_LOG,
    O_TLS_CERT,
    O_TLS_KEY,
    O_TLS_CA,
    O_TLS_VERIFY,
    O_HELP,
    O_VERSION,
};

typedef struct opt_def {
    int id;
    const char *name;
    opt_kind kind;
} opt_def;

static const opt_def OPTS[] = {
    {O_HOST, "host", OPT_STR},
    {O_PORT, "port", OPT_PORT},
    {O_NAME, "name", OPT_STR},
    {O_UUID, "uuid", OPT_STR},
    {O_STATIC, "static", OPT_STR},
    {O_HTTP_PATH, "http-path", OPT_PATH},
    {O_WS_PATH, "ws-path", OPT_PATH},
    {O_ORIGIN, "origin", OPT_STR},
    {O_HEARTBEAT, "heartbeat-period", OPT_SECS_POS},
    {O_SESSION, "http-session-timeout", OPT_SECS},
    {O_HEAD_TIMEOUT, "http-head-timeout", OPT_SECS},
    {O_IDLE_TIMEOUT, "http-idle-timeout", OPT_SECS},
    {O_PENDING, "http-pending-max", OPT_SIZE},
    {O_OUTQ, "out-queue-max", OPT_SIZE},
    {O_BODY, "max-http-body", OPT_SIZE},
    {O_HEADER, "max-http-header", OPT_SIZE},
    {O_MSG, "max-msg-bytes", OPT_SIZE},
    {O_JSON, "max-json-bytes", OPT_SIZE},
    {O_DEPTH, "max-depth", OPT_INT},
    {O_PING, "ws-ping-after", OPT_SECS},
    {O_DEAD, "ws-dead-after", OPT_SECS_POS},
    {O_RESPONSE, "response-timeout", OPT_SECS_POS},
    {O_STRICT, "strict", OPT_FLAG},
    {O_TYPES, "types", OPT_STR},
    {O_ECHO, "echo", OPT_FLAG},
    {O_TEST, "test-endpoints", OPT_FLAG},
    {O_RECORD, "record", OPT_STR},
    {O_DB, "db", OPT_STR},
    {O_TABLES, "tables", OPT_STR},
    {O_DEMO, "demo", OPT_FLAG},
    {O_LOG, "log-level", OPT_STR},
    {O_TLS_CERT, "tls-cert", OPT_STR},
    {O_TLS_KEY, "tls-key", OPT_STR},
    {O_TLS_CA, "tls-ca", OPT_STR},
    {O_TLS_VERIFY, "tls-verify-client", OPT_FLAG},
    {O_HELP, "help", OPT_FLAG},
    {O_VERSION, "version", OPT_FLAG},
};

void vxd_usage(FILE *out) {
    fputs(
        "usage: vortexd [options]\n"
        "  --host HOST                 listen address (127.0.0.1)\n"
        "  --port PORT                 TCP port, 0 = any free port (8080)\n"
        "  --name NAME                 this vortex's name (vortexd)\n"
        "  --uuid UUID                 this vortex's uuid (a fresh v4 uuid)\n"
        "  --static DIR                serve files from DIR (none)\n"
        "  --http-path PATH            HTTP long-poll path (/vortex)\n"
        "  --ws-path PATH              WebSocket path (/vortexws)\n"
        "  --origin ORIGIN             allowed WebSocket Origin, repeatable (any)\n"
        "  --heartbeat-period SECS     (5)\n"
        "  --http-session-timeout SECS (35)\n"
        "  --http-head-timeout SECS    (10)\n"
        "  --http-idle-timeout SECS    (60)\n"
        "  --http-pending-max BYTES    (8M)\n"
        "  --out-queue-max BYTES       (4M)\n"
        "  --max-http-body BYTES       (32M)\n"
        "  --max-http-header BYTES     (16K)\n"
        "  --max-msg-bytes BYTES       (16M)\n"
        "  --max-json-bytes BYTES      (64M)\n"
        "  --max-depth N               (64)\n"
        "  --ws-ping-after SECS        0 = never ping (30)\n"
        "  --ws-dead-after SECS        (30)\n"
        "  --response-timeout SECS     (30)\n"
        "  --strict                    strict decoding (off)\n"
        "  --types FILE                register tuple types, repeatable\n"
        "  --echo                      endpoint {\"key\": \"vortexd.echo\"} (off)\n"
        "  --test-endpoints            test-only endpoints, see docs/vortexd.md (off)\n"
        "  --record FILE               test-only vortexd.record appends to FILE (off)\n"
        "  --db URL                    serve every table through a CrudHandler: a SQLite\n"
        "                              file path, sqlite::memory:, or postgresql://... "
        "(off)\n"
        "  --tables T1,T2              only these tables of --db (all)\n"
        "  --demo                      with --db: create the demo tables and rows when "
        "the\n"
        "                              database has no tables yet (off)\n"
        "  --log-level LEVEL           error, warn, info or debug (info)\n"
        "  --tls-cert FILE             PEM certificate (chain): https + wss only (off)\n"
        "  --tls-key FILE              PEM private key (in --tls-cert)\n"
        "  --tls-ca FILE               CA that signs client certificates (none asked)\n"
        "  --tls-verify-client         require a client certificate (needs --tls-ca)\n"
        "  --help, --version\n"
        "BYTES take an optional suffix k, m or g (KiB, MiB, GiB).\n",
        out);
}

static int bad(const char *flag, const char *value, const char *why) {
    if (flag[0] == '\0')
        fprintf(stderr, "vortexd: \"%s\": %s\n", value ? value : "", why);
    else
        fprintf(stderr, "vortexd: --%s %s%s%s: %s\n", flag, value ? "\"" : "",
                value ? value : "", value ? "\"" : "", why);
    vxd_usage(stderr);
    return VXD_EXIT_USAGE;
}

static bool parse_size(const char *s, size_t *out) {
    if (*s < '0' || *s > '9') return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno) return false;
    unsigned long long mul = 1;
    switch (*end) {
    case 'k':
    case 'K':
        mul = 1024ull;
        end++;
        break;
    case 'm':
    case 'M':
        mul = 1024ull * 1024;
        end++;
        break;
    case 'g':
    case 'G':
        mul = 1024ull * 1024 * 1024;
        end++;
        break;
    default:
        break;
    }
    if (*end != '\0' || v > SIZE_MAX / mul) return false;
    *out = (size_t)(v * mul);
    return true;
}

static bool parse_secs(const char *s, bool positive, double *out) {
    if (*s == '\0') return false;
    errno = 0;
    char *end;
    double d = strtod(s, &end);
    if (errno || *end != '\0' || !isfinite(d) || d < 0 || (positive && d == 0))
        return false;
    /* libuv timers take milliseconds in a uint64; a year is plenty. */
    if (d > 365.0 * 86400) return false;
    *out = d;
    return true;
}

static bool parse_long(const char *s, long lo, long hi, long *out) {
    if (*s < '0' || *s > '9') return false;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno || *end != '\0' || v < lo || v > hi) return false;
    *out = v;
    return true;
}

static int push(const char ***arr, size_t *n, const char *s) {
    const char **a = realloc(*arr, (*n + 1) * sizeof *a);
    if (!a) return VX_E_NOMEM;
    a[(*n)++] = s;
    *arr = a;
    return 0;
}

static int apply(vxd_config *cfg, const opt_def *o, const char *v) {
    size_t sz = 0;
    double secs = 0;
    long l = 0;
    switch (o->kind) {
    case OPT_STR:
        if (*v == '\0') return bad(o->name, v, "must not be empty");
        break;
    case OPT_PATH:
        if (v[0] != '/' || strpbrk(v, "?# \t\r\n"))
            return bad(o->name, v, "must start with '/' and hold no '?', '#' or spaces");
        break;
    case OPT_PORT:
        if (!parse_long(v, 0, 65535, &l)) return bad(o->name, v, "must be 0-65535");
        break;
    case OPT_SIZE:
        if (!parse_size(v, &sz) || sz == 0)
            return bad(o->name, v, "must be a positive byte count (suffix k, m, g)");
        break;
    case OPT_INT:
        if (!parse_long(v, 1, 1000000, &l)) return bad(o->name, v, "must be 1-1000000");
        break;
    case OPT_SECS:
    case OPT_SECS_POS:
        if (!parse_secs(v, o->kind == OPT_SECS_POS, &secs))
            return bad(o->name, v,
                       o->kind == OPT_SECS_POS ? "must be seconds > 0"
                                               : "must be seconds >= 0");
        break;
    case OPT_FLAG:
        break;
    }
    vx_node_opts *n = &cfg->node;
    switch (o->id) {
    case O_HOST:
        cfg->listen.host = v;
        break;
    case O_PORT:
        cfg->listen.port = (int)l;
        break;
    case O_NAME:
        n->name = v;
        break;
    case O_UUID:
        n->uuid = v;
        break;
    case O_STATIC:
        cfg->listen.static_dir = v;
        break;
    case O_HTTP_PATH:
        cfg->listen.http_path = v;
        break;
    case O_WS_PATH:
        cfg->listen.ws_path = v;
        break;
    case O_ORIGIN:
        if (push(&cfg->origins, &cfg->listen.n_origins, v))
            return bad(o->name, v, "out of memory");
        cfg->listen.origins = cfg->origins;
        break;
    case O_HEARTBEAT:
        n->heartbeat_period = secs;
        break;
    case O_SESSION:
        n->http_session_timeout = secs;
        break;
    case O_HEAD_TIMEOUT:
        n->http_head_timeout = secs;
        break;
    case O_IDLE_TIMEOUT:
        n->http_idle_timeout = secs;
        break;
    case O_PENDING:
        n->http_pending_max = sz;
        break;
    case O_OUTQ:
        n->out_queue_max = sz;
        break;
    case O_BODY:
        n->max_http_body = sz;
        break;
    case O_HEADER:
        n->max_http_header = sz;
        break;
    case O_MSG:
        n->codec.max_msg_bytes = sz;
        break;
    case O_JSON:
        n->codec.max_json_bytes = sz;
        break;
    case O_DEPTH:
        n->codec.max_depth = (int)l;
        break;
    case O_PING:
        n->ws_ping_after = secs;
        break;
    case O_DEAD:
        n->ws_dead_after = secs;
        break;
    case O_RESPONSE:
        n->response_timeout = secs;
        break;
    case O_STRICT:
        n->codec.strict_decode = true;
        break;
    case O_TYPES:
        if (push(&cfg->types, &cfg->n_types, v)) return bad(o->name, v, "out of memory");
        break;
    case O_ECHO:
        cfg->echo = true;
        break;
    case O_TEST:
        cfg->test_endpoints = true;
        break;
    case O_RECORD:
        cfg->record = v;
        break;
    case O_DB:
        cfg->db = v;
        break;
    case O_TABLES:
        cfg->tables = v;
        break;
    case O_DEMO:
        cfg->demo = true;
        break;
    case O_LOG:
        if (!strcmp(v, "error"))
            cfg->log_level = VXD_LOG_ERROR;
        else if (!strcmp(v, "warn"))
            cfg->log_level = VXD_LOG_WARN;
        else if (!strcmp(v, "info"))
            cfg->log_level = VXD_LOG_INFO;
        else if (!strcmp(v, "debug"))
            cfg->log_level = VXD_LOG_DEBUG;
        else
            return bad(o->name, v, "must be error, warn, info or debug");
        break;
    case O_TLS_CERT:
        cfg->listen.tls_cert_file = v;
        break;
    case O_TLS_KEY:
        cfg->listen.tls_key_file = v;
        break;
    case O_TLS_CA:
        cfg->listen.tls_ca_file = v;
        break;
    case O_TLS_VERIFY:
        cfg->listen.tls_verify_client = true;
        break;
    case O_HELP:
        vxd_usage(stdout);
        return -1;
    case O_VERSION:
        printf("vortexd %s\n", VORTEXC_VERSION);
        return -1;
    }
    return 0;
}

int vxd_parse_args(int argc, char **argv, vxd_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    vx_node_opts_init(&cfg->node);
    cfg->node.name = "vortexd";
    vx_listen_opts_init(&cfg->listen);
    cfg->listen.port = 8080;
    cfg->log_level = VXD_LOG_INFO;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0')
            return bad("", arg, "unexpected argument (flags start with --)");
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        const opt_def *o = NULL;
        for (size_t k = 0; k < sizeof OPTS / sizeof OPTS[0]; k++) {
            if (strlen(OPTS[k].name) == name_len &&
                !strncmp(OPTS[k].name, name, name_len)) {
                o = &OPTS[k];
                break;
            }
        }
        if (!o) return bad("", arg, "unknown flag");
        const char *value = NULL;
        if (o->kind == OPT_FLAG) {
            if (eq) return bad(o->name, eq + 1, "takes no value");
        } else if (eq) {
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            return bad(o->name, NULL, "needs a value");
        }
        int rc = apply(cfg, o, value);
        if (rc) return rc;
    }
    if (cfg->listen.http_path && cfg->listen.ws_path &&
        !strcmp(cfg->listen.http_path, cfg->listen.ws_path))
        return bad("ws-path", cfg->listen.ws_path, "must differ from --http-path");
    const vx_listen_opts *l = &cfg->listen;
    if ((l->tls_key_file || l->tls_ca_file || l->tls_verify_client) && !l->tls_cert_file)
        return bad(l->tls_key_file  ? "tls-key"
                   : l->tls_ca_file ? "tls-ca"
                                    : "tls-verify-client",
                   NULL, "needs --tls-cert");
    if (l->tls_verify_client && !l->tls_ca_file)
        return bad("tls-verify-client", NULL, "needs --tls-ca");
    if ((cfg->tables || cfg->demo) && !cfg->db)
        return bad(cfg->demo ? "demo" : "tables", NULL, "needs --db");
    return VXD_EXIT_OK;
}

void vxd_config_free(vxd_config *cfg) {
    free(cfg->origins);
    free(cfg->types);
    cfg->origins = NULL;
    cfg->types = NULL;
}
