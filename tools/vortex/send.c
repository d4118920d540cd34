/* `vortex send URL --filt JSON [--tuples JSON] [--wait-reply] [--timeout S]`:
 * connect, send one payload, optionally wait for its reply (§13). */
#include "net.h"

#include <stdlib.h>
#include <string.h>

static const char usage_send[] =
    "Usage: vortex send URL --filt JSON [options]\n"
    "\n"
    "Connect to the vortex server at URL (http://host:port/vortex for long-poll,\n"
    "ws://host:port/vortexws for WebSocket; https:// and wss:// over TLS), send\n"
    "one payload with the given filt,\n"
    "and exit once it has been handed to the connection.\n"
    "\n"
    "Options:\n"
    "  --filt JSON     the payload's filt, wire JSON (e.g. '{\"key\": \"demo.items\"}')\n"
    "  --tuples JSON   the payload's tuples, a wire JSON list (default [])\n"
    "  --wait-reply    send as a request (adds PayloadResponse.messageId) and print\n"
    "                  the reply payload's wire JSON on stdout; the filt needs \"key\"\n"
    "  --timeout S     give up after S seconds (default 30), connecting included\n"
    "  --name NAME     this vortex's name (default vortex-cli)\n"
    "  --types FILE    register tuple types (see 'vortex decode --help'); repeatable\n"
    "  --ca-file FILE  https/wss: trust the CAs in this PEM file (default: the\n"
    "                  system store)\n"
    "  --insecure      https/wss: skip certificate checks (testing only)\n"
    "  -h, --help      show this help\n"
    "Exit status: 0 sent (and, with --wait-reply, a successful reply printed);\n"
    "1 connection failure, timeout or failed reply (reason on stderr); 2 usage.\n";

typedef struct send_run {
    vx_net net;
    vx_net_args args;
    vx_payload *payload;
    bool sent;
} send_run;

static void fail(send_run *r, const char *what, const char *why) {
    fprintf(stderr, "vortex: send: %s%s%s\n", what, why ? ": " : "", why ? why : "");
    vx_net_finish(&r->net, VX_CLI_FAILED);
}

static void on_timeout(uv_timer_t *t) {
    send_run *r = t->data;
    char what[64];
    snprintf(what, sizeof what, "timed out after %g s", r->args.timeout);
    fail(r, what, r->sent ? NULL : vx_client_last_error(r->net.client));
}

static void on_linger(uv_timer_t *t) {
    send_run *r = t->data;
    vx_net_finish(&r->net, VX_CLI_OK);
}

/* Handed to the transport: give the server a moment to read it before the
 * sockets close (closing with unread input may reset the connection). */
static void check_handed(uv_timer_t *t) {
    send_run *r = t->data;
    if (vx_client_queued_bytes(r->net.client) > 0) return;
    uv_timer_start(&r->net.aux, on_linger, 300, 0);
}

static void on_response(void *data, vx_request_status status, vx_payload *reply,
                        const vx_error *err) {
    send_run *r = data;
    if (status == VX_REQUEST_SUCCESS) {
        vx_net_print(&r->net, reply);
        vx_net_finish(&r->net, VX_CLI_OK);
        return;
    }
    if (reply) vx_net_print(&r->net, reply);
    fail(r, err ? vx_error_name(err->code) : "request failed", err ? err->message : NULL);
}

static void on_state(void *data, bool online) {
    send_run *r = data;
    if (!online || r->sent || r->net.finished) return;
    r->sent = true;
    vx_error err;
    vx_error_clear(&err);
    int rc;
    if (r->args.wait_reply) {
        vx_request_opts ro = {.timeout = r->args.timeout};
        rc = vx_node_request(r->net.node, vx_client_server_uuid(r->net.client), r->payload,
                             &ro, on_response, r, &err);
    } else {
        rc = vx_node_send_uuid(r->net.node, vx_client_server_uuid(r->net.client),
                               r->payload, &err);
        if (rc == 0) uv_timer_start(&r->net.aux, check_handed, 0, 5);
    }
    if (rc != 0) fail(r, vx_error_name(rc), err.message);
}

static vx_payload *build_payload(send_run *r) {
    vx_value *filt = vx_net_parse_filt(&r->net, r->args.filt_json);
    if (!filt) return NULL;
    vx_payload *p = vx_payload_new();
    if (!p || vx_payload_set_filt_new(p, filt) != 0) {
        vx_payload_decref(p);
        return NULL;
    }
    if (r->args.tuples_json) {
        vx_value *t = NULL;
        vx_error err;
        const vx_codec_opts *co = &vx_node_options(r->net.node)->codec;
        if (vx_json_decode_value(r->args.tuples_json, strlen(r->args.tuples_json), co, &t,
                                 &err) != 0) {
            fprintf(stderr, "vortex: --tuples: %s: %s\n", vx_error_name(err.code),
                    err.message);
            vx_payload_decref(p);
            return NULL;
        }
        if (vx_typeof(t) != VX_LIST || vx_payload_set_tuples_new(p, t) != 0) {
            fprintf(stderr, "vortex: --tuples: expected a JSON list\n");
            if (vx_typeof(t) != VX_LIST) vx_decref(t);
            vx_payload_decref(p);
            return NULL;
        }
    }
    if (r->args.wait_reply && !vx_dict_get(vx_payload_filt(p), "key")) {
        fprintf(stderr, "vortex: --wait-reply needs a \"key\" in --filt\n");
        vx_payload_decref(p);
        return NULL;
    }
    return p;
}

int vx_cli_send(int argc, char **argv) {
    send_run r = {0};
    int rc = vx_net_parse("send", true, argc, argv, &r.args);
    if (rc == VX_CLI_OK && r.args.help) {
        fputs(usage_send, stdout);
        free(r.args.types);
        return VX_CLI_OK;
    }
    if (rc == VX_CLI_OK) rc = vx_net_setup(&r.net, &r.args);
    if (rc == VX_CLI_OK && !(r.payload = build_payload(&r))) rc = VX_CLI_USAGE;
    if (rc == VX_CLI_OK) {
        r.net.timer.data = r.net.aux.data = &r;
        uv_timer_start(&r.net.timer, on_timeout, (uint64_t)(r.args.timeout * 1000), 0);
        vx_client_on_state(r.net.client, on_state, &r);
    } else {
        vx_net_finish(&r.net, rc);
    }
    rc = r.net.loop_ok ? vx_net_run(&r.net) : rc;
    vx_payload_decref(r.payload);
    free(r.args.types);
    return rc;
}
