/* Shared plumbing of `vortex send` and `vortex listen`: options, the loop,
 * the node and its client. */
#include "net.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int usage(const char *cmd, const char *fmt, const char *arg) {
    fputs("vortex: ", stderr);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'vortex %s --help'.\n", cmd);
    return VX_CLI_USAGE;
}

int vx_net_parse(const char *cmd, bool is_send, int argc, char **argv, vx_net_args *a) {
    a->timeout = 30;
    a->types = calloc((size_t)argc + 1, sizeof *a->types);
    if (!a->types) return VX_CLI_FAILED;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            a->help = true;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0) {
            if (a->url) return usage(cmd, "unexpected argument '%s'", arg);
            a->url = arg;
            continue;
        }
        if (is_send && strcmp(arg, "--wait-reply") == 0) {
            a->wait_reply = true;
            continue;
        }
        if (strcmp(arg, "--insecure") == 0) {
            a->insecure = true;
            continue;
        }
        char name[32];
        const char *eq = strchr(arg, '=');
        size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
        if (len >= sizeof name) return usage(cmd, "unknown option '%s'", arg);
        memcpy(name, arg, len);
        name[len] = '\0';
        bool known =
            strcmp(name, "--filt") == 0 || strcmp(name, "--name") == 0 ||
            strcmp(name, "--types") == 0 || strcmp(name, "--ca-file") == 0 ||
            (is_send && (strcmp(name, "--tuples") == 0 || strcmp(name, "--timeout") == 0));
        if (!known) return usage(cmd, "unknown option '%s'", name);
        const char *value = eq ? eq + 1 : NULL;
        if (!value) {
            if (i + 1 >= argc) return usage(cmd, "option '%s' needs a value", name);
            value = argv[++i];
        }
        if (strcmp(name, "--filt") == 0) {
            a->filt_json = value;
        } else if (strcmp(name, "--tuples") == 0) {
            a->tuples_json = value;
        } else if (strcmp(name, "--name") == 0) {
            if (!*value) return usage(cmd, "--name must not be empty%s", "");
            a->name = value;
        } else if (strcmp(name, "--types") == 0) {
            a->types[a->n_types++] = value;
        } else if (strcmp(name, "--ca-file") == 0) {
            a->ca_file = value;
        } else {
            char *end;
            errno = 0;
            double t = strtod(value, &end);
            if (errno || *end || !(t > 0) || !isfinite(t) || t > 1e6)
                return usage(
                    cmd, "--timeout must be a positive number of seconds, not '%s'", value);
            a->timeout = t;
        }
    }
    if (a->help) return VX_CLI_OK;
    if (!a->url) return usage(cmd, "missing the server URL%s", "");
    if (!a->filt_json) return usage(cmd, "missing --filt JSON%s", "");
    return VX_CLI_OK;
}

static void on_closed(uv_handle_t *h) {
    (void)h;
}

int vx_net_setup(vx_net *n, const vx_net_args *a) {
    memset(n, 0, sizeof *n);
    if (uv_loop_init(&n->loop) != 0) {
        fputs("vortex: cannot create the event loop\n", stderr);
        return VX_CLI_FAILED;
    }
    n->loop_ok = true;
    uv_timer_init(&n->loop, &n->timer);
    uv_timer_init(&n->loop, &n->aux);
    uv_signal_init(&n->loop, &n->sigint);
    uv_signal_init(&n->loop, &n->sigterm);
    vx_error err;
    vx_error_clear(&err);
    if (a->n_types) {
        n->reg = vx_registry_new();
        if (!n->reg) return VX_CLI_FAILED;
        for (size_t i = 0; i < a->n_types; i++) {
            if (vx_cli_load_types(a->types[i], n->reg, &err) != 0) {
                fprintf(stderr, "vortex: --types %s: %s\n", vx_error_name(err.code),
                        err.message);
                return VX_CLI_USAGE;
            }
        }
    }
    vx_node_opts no;
    vx_node_opts_init(&no);
    no.name = a->name ? a->name : "vortex-cli";
    no.codec.registry = n->reg;
    n->node = vx_node_new(&n->loop, &no, &err);
    if (!n->node) {
        fprintf(stderr, "vortex: %s: %s\n", vx_error_name(err.code), err.message);
        return VX_CLI_FAILED;
    }
    vx_client_opts co;
    vx_client_opts_init(&co);
    co.tls_ca_file = a->ca_file;
    co.tls_insecure = a->insecure;
    n->client = vx_client_new(n->node, a->url, &co, &err);
    if (!n->client) {
        fprintf(stderr, "vortex: %s: %s\n", vx_error_name(err.code), err.message);
        return VX_CLI_USAGE;
    }
    return VX_CLI_OK;
}

void vx_net_finish(vx_net *n, int status) {
    if (n->finished) return;
    n->finished = true;
    n->status = status;
    vx_client_free(n->client);
    n->client = NULL;
    if (n->node) vx_node_free(n->node);
    n->node = NULL;
    if (!n->loop_ok) return;
    uv_timer_stop(&n->timer);
    uv_timer_stop(&n->aux);
    uv_signal_stop(&n->sigint);
    uv_signal_stop(&n->sigterm);
}

int vx_net_run(vx_net *n) {
    if (!n->loop_ok) return n->status ? n->status : VX_CLI_FAILED;
    if (!n->finished) uv_run(&n->loop, UV_RUN_DEFAULT);
    vx_net_finish(n, n->status);
    uv_close((uv_handle_t *)&n->timer, on_closed);
    uv_close((uv_handle_t *)&n->aux, on_closed);
    uv_close((uv_handle_t *)&n->sigint, on_closed);
    uv_close((uv_handle_t *)&n->sigterm, on_closed);
    uv_run(&n->loop, UV_RUN_DEFAULT); /* let every handle close */
    uv_loop_close(&n->loop);
    vx_registry_free(n->reg);
    return n->status;
}

vx_value *vx_net_parse_filt(const vx_net *n, const char *json) {
    vx_value *v = NULL;
    vx_error err;
    vx_error_clear(&err);
    const vx_codec_opts *co = &vx_node_options(n->node)->codec;
    if (vx_json_decode_value(json, strlen(json), co, &v, &err) != 0) {
        fprintf(stderr, "vortex: --filt: %s: %s\n", vx_error_name(err.code), err.message);
        return NULL;
    }
    if (vx_typeof(v) != VX_DICT) {
        fprintf(stderr, "vortex: --filt: expected a JSON object, got %s\n",
                vx_type_name(vx_typeof(v)));
        vx_decref(v);
        return NULL;
    }
    return v;
}

void vx_net_print(const vx_net *n, const vx_payload *p) {
    vx_buf b = {0};
    vx_error err;
    if (vx_json_encode_payload(p, &vx_node_options(n->node)->codec, &b, &err) == 0) {
        fwrite(b.data, 1, b.len, stdout);
        fputc('\n', stdout);
        fflush(stdout);
    } else {
        fprintf(stderr, "vortex: cannot print a payload: %s\n", err.message);
    }
    vx_buf_free(&b);
}
