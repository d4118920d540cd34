/* `vortex listen URL --filt JSON`: connect, register an endpoint on the
 * local node, print every payload it receives until SIGINT/SIGTERM. */
#include "net.h"

#include <signal.h>
#include <stdlib.h>

static const char usage_listen[] =
    "Usage: vortex listen URL --filt JSON [options]\n"
    "\n"
    "Connect to the vortex server at URL (http://host:port/vortex or\n"
    "ws://host:port/vortexws; https:// and wss:// over TLS), register an endpoint\n"
    "on the filt in this vortex,\n"
    "and print each payload it receives as one line of wire JSON on stdout,\n"
    "until interrupted. The server must send to this vortex (by uuid or by\n"
    "--name) or broadcast. Connection changes are reported on stderr;\n"
    "reconnects are automatic.\n"
    "\n"
    "Options:\n"
    "  --filt JSON     the endpoint filt, wire JSON with a \"key\"\n"
    "  --name NAME     this vortex's name (default vortex-cli)\n"
    "  --types FILE    register tuple types (see 'vortex decode --help'); repeatable\n"
    "  --ca-file FILE  https/wss: trust the CAs in this PEM file (default: the\n"
    "                  system store)\n"
    "  --insecure      https/wss: skip certificate checks (testing only)\n"
    "  -h, --help      show this help\n"
    "Exit status: 0 after SIGINT or SIGTERM; 1 setup failure; 2 usage.\n";

typedef struct listen_run {
    vx_net net;
    vx_net_args args;
} listen_run;

static int on_payload(void *data, vx_payload *p, const vx_route_ctx *ctx, vx_error *err) {
    listen_run *r = data;
    vx_net_print(&r->net, p);
    return 0;
}

static void on_state(void *data, bool online) {
    listen_run *r = data;
    if (online)
        fprintf(stderr, "vortex: online: server %s (%s)\n",
                vx_client_server_uuid(r->net.client), vx_client_server_name(r->net.client));
    else if (vx_client_last_error(r->net.client))
        fprintf(stderr, "vortex: offline: %s\n", vx_client_last_error(r->net.client));
}

static void on_signal(uv_signal_t *s, int signum) {
    listen_run *r = s->data;
    vx_net_finish(&r->net, VX_CLI_OK);
}

int vx_cli_listen(int argc, char **argv) {
    listen_run r = {0};
    int rc = vx_net_parse("listen", false, argc, argv, &r.args);
    if (rc == VX_CLI_OK && r.args.help) {
        fputs(usage_listen, stdout);
        free(r.args.types);
        return VX_CLI_OK;
    }
    if (rc == VX_CLI_OK) rc = vx_net_setup(&r.net, &r.args);
    vx_value *filt = rc == VX_CLI_OK ? vx_net_parse_filt(&r.net, r.args.filt_json) : NULL;
    if (rc == VX_CLI_OK && !filt) rc = VX_CLI_USAGE;
    if (rc == VX_CLI_OK) {
        vx_error err;
        vx_error_clear(&err);
        if (vx_router_add(vx_node_router(r.net.node), filt, on_payload, &r, NULL, &err) !=
            0) {
            fprintf(stderr, "vortex: --filt: %s: %s\n", vx_error_name(err.code),
                    err.message);
            rc = VX_CLI_USAGE;
        }
    }
    vx_decref(filt);
    if (rc == VX_CLI_OK) {
        r.net.sigint.data = r.net.sigterm.data = &r;
        uv_signal_start(&r.net.sigint, on_signal, SIGINT);
        uv_signal_start(&r.net.sigterm, on_signal, SIGTERM);
        vx_client_on_state(r.net.client, on_state, &r);
    } else {
        vx_net_finish(&r.net, rc);
    }
    rc = r.net.loop_ok ? vx_net_run(&r.net) : rc;
    free(r.args.types);
    return rc;
}
