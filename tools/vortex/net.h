/* `vortex send` and `vortex listen` (tools/vortex/send.c, listen.c): a local
 * node attached to a server with vx_client (docs/cli.md). */
#ifndef VX_CLI_NET_H
#define VX_CLI_NET_H

#include <vortexc/client.h>

#include "cli.h"

/* Options shared by both commands. */
typedef struct vx_net_args {
    const char *url;
    const char *filt_json;   /* --filt, required */
    const char *tuples_json; /* --tuples (send) */
    const char *name;        /* --name: this vortex's name */
    const char **types;      /* --types files, in order */
    size_t n_types;
    double timeout; /* --timeout seconds */
    bool wait_reply;
    const char *ca_file; /* --ca-file: CA for https/wss (NULL = system store) */
    bool insecure;       /* --insecure: no certificate checks */
    bool help;
} vx_net_args;

/* One run: its own loop, registry, node and client. */
typedef struct vx_net {
    uv_loop_t loop;
    vx_registry *reg;
    vx_node *node;
    vx_client *client;
    uv_timer_t timer; /* send: overall timeout */
    uv_timer_t aux;   /* send: hand-over check, then linger */
    uv_signal_t sigint, sigterm;
    int status; /* exit status once finished */
    bool finished;
    bool loop_ok;
} vx_net;

/* Parse argv (after the command name). `is_send` allows --tuples,
 * --wait-reply and --timeout. VX_CLI_OK or VX_CLI_USAGE (message printed). */
int vx_net_parse(const char *cmd, bool is_send, int argc, char **argv, vx_net_args *a);

/* Loop, registry, node (named --name) and client. VX_CLI_OK, or the exit
 * status with the error printed. */
int vx_net_setup(vx_net *n, const vx_net_args *a);
/* Stop with `status`: free client and node, stop signals and timer. */
void vx_net_finish(vx_net *n, int status);
/* Run until finished, then release everything. Returns n->status. */
int vx_net_run(vx_net *n);

/* Decode --filt (wire typing; must be a dict). NEW value or NULL with the
 * error printed. */
vx_value *vx_net_parse_filt(const vx_net *n, const char *json);
/* Print `p` as one line of wire JSON on stdout. */
void vx_net_print(const vx_net *n, const vx_payload *p);

int vx_cli_send(int argc, char **argv);
int vx_cli_listen(int argc, char **argv);

#endif
