/* The child program of tests/unit/test_pipe.c (PROTOCOL.md §16).
 *
 *   pipe_child echo          attach stdio and serve the endpoints below
 *   pipe_child printf        the same, printf()ing to stdout all along
 *   pipe_child garbage       write a non-hello item first, then attach
 *   pipe_child nohello       read stdin and never send anything
 *   pipe_child oneof         echo, with an on_eof callback that frees the node
 *                            and returns from main with status 5
 *   pipe_child middle FILE   spawn `pipe_child echo` with vx_spawn, write its
 *                            pid to FILE once it said hello, run until killed
 *
 * Endpoints (each answers on the request's own filt):
 *   pipe.echo         reply with the request's tuples
 *   pipe.big          reply with one string of filt["size"] random letters
 *   pipe.ask_parent   request "parent.svc" from the parent (vx_node_request
 *                     to the parent's uuid) and reply with its reply's tuples
 *   pipe.crash        abort()
 *   pipe.exit         exit with status filt["code"]
 *   pipe.bcast        (a broadcast) send "pipe.bcast_seen" with the same "n"
 *                     to the parent */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vortexc.h>
#include <vortexc/node.h>
#include <vortexc/pipe.h>

static vx_node *g_node;
static bool g_printf;

static void chatter(const char *what) {
    if (g_printf) printf("stray printf output: %s. with dots.\n", what);
}

static vx_payload *reply_to(const vx_payload *req, vx_value *tuples) {
    vx_payload *p = vx_payload_new();
    vx_payload_set_filt_new(p, vx_deep_copy(vx_payload_filt(req)));
    vx_payload_set_tuples_new(p, tuples);
    return p;
}

static int on_echo(void *data, vx_payload *req, const vx_route_ctx *ctx, vx_error *err) {
    chatter("echo");
    vx_payload *p = reply_to(req, vx_incref(vx_payload_tuples(req)));
    int rc = ctx->reply(ctx->reply_data, p, err);
    vx_payload_decref(p);
    fflush(stdout);
    return rc;
}

static int on_big(void *data, vx_payload *req, const vx_route_ctx *ctx, vx_error *err) {
    vx_value *size = vx_dict_get(vx_payload_filt(req), "size");
    size_t n = vx_typeof(size) == VX_INT ? (size_t)vx_int_value(size) : 0;
    char *s = malloc(n + 1);
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u; /* incompressible enough */
        s[i] = (char)('a' + (x >> 16) % 26);
    }
    s[n] = '\0';
    vx_value *tuples = vx_list();
    vx_list_append_new(tuples, vx_str(s));
    free(s);
    vx_payload *p = reply_to(req, tuples);
    int rc = ctx->reply(ctx->reply_data, p, err);
    vx_payload_decref(p);
    return rc;
}

/* pipe.ask_parent: the original request waits here for the parent's answer. */
static void on_parent_answer(void *data, vx_request_status status, vx_payload *reply,
                             const vx_error *err) {
    vx_payload *orig = data;
    vx_value *tuples = reply ? vx_incref(vx_payload_tuples(reply)) : vx_list();
    vx_payload *p = reply_to(orig, tuples);
    if (status != VX_REQUEST_SUCCESS)
        vx_payload_set_result_new(p, vx_str(err ? err->message : "failed"));
    vx_node_send_uuid(g_node, vx_stdio_parent_uuid(g_node), p, NULL);
    vx_payload_decref(p);
    vx_payload_decref(orig);
}

static int on_ask_parent(void *data, vx_payload *req, const vx_route_ctx *ctx,
                         vx_error *err) {
    const char *parent = vx_stdio_parent_uuid(g_node);
    vx_payload *q = vx_payload_new_key("parent.svc");
    vx_payload_set_tuples_new(q, vx_incref(vx_payload_tuples(req)));
    int rc = vx_node_request(g_node, parent, q, NULL, on_parent_answer,
                             vx_payload_incref(req), err);
    if (rc < 0) vx_payload_decref(req);
    vx_payload_decref(q);
    return rc;
}

static int on_crash(void *data, vx_payload *req, const vx_route_ctx *ctx, vx_error *err) {
    abort();
}

static int on_exit_req(void *data, vx_payload *req, const vx_route_ctx *ctx,
                       vx_error *err) {
    vx_value *code = vx_dict_get(vx_payload_filt(req), "code");
    exit(vx_typeof(code) == VX_INT ? (int)vx_int_value(code) : 0);
}

static int on_bcast(void *data, vx_payload *req, const vx_route_ctx *ctx, vx_error *err) {
    chatter("bcast");
    vx_payload *p = vx_payload_new_key("pipe.bcast_seen");
    vx_value *n = vx_dict_get(vx_payload_filt(req), "n");
    if (n) vx_dict_set_new(vx_payload_filt(p), "n", vx_incref(n));
    int rc = vx_node_send_uuid(g_node, vx_stdio_parent_uuid(g_node), p, err);
    vx_payload_decref(p);
    return rc;
}

static void add(const char *key, vx_endpoint_fn fn) {
    vx_value *filt = vx_dict();
    vx_dict_set_new(filt, "key", vx_str(key));
    if (vx_router_add(vx_node_router(g_node), filt, fn, NULL, NULL, NULL) < 0) abort();
    vx_decref(filt);
}

static void on_eof(void *data, vx_node *node) {
    *(bool *)data = true;
    vx_node_free(node); /* the loop then runs dry and main returns */
}

static int run_child(uv_loop_t *loop, bool own_eof) {
    vx_node_opts o;
    vx_node_opts_init(&o);
    o.name = "pipe-child";
    g_node = vx_node_new(loop, &o, NULL);
    if (!g_node) return 2;
    add("pipe.echo", on_echo);
    add("pipe.big", on_big);
    add("pipe.ask_parent", on_ask_parent);
    add("pipe.crash", on_crash);
    add("pipe.exit", on_exit_req);
    add("pipe.bcast", on_bcast);
    chatter("before attach");
    vx_error err;
    bool eof = false;
    vx_stdio_opts so;
    vx_stdio_opts_init(&so);
    if (own_eof) {
        so.on_eof = on_eof;
        so.data = &eof;
    }
    if (vx_node_attach_stdio(g_node, &so, &err) < 0) {
        fprintf(stderr, "pipe_child: %s\n", err.message);
        return 2;
    }
    chatter("after attach");
    uv_run(loop, UV_RUN_DEFAULT); /* without own_eof, EOF exits from inside */
    return eof ? 5 : 4;
}

/* ---- middle: a parent that the test kills ---------------------------------- */

static const char *g_pidfile;

static void middle_ready(void *data, vx_child *child) {
    FILE *f = fopen(g_pidfile, "w");
    if (!f) abort();
    fprintf(f, "%d\n", vx_child_pid(child));
    fclose(f);
}

static int run_middle(uv_loop_t *loop, const char *self) {
    vx_node *node = vx_node_new(loop, NULL, NULL);
    if (!node) return 2;
    const char *argv[] = {self, "echo", NULL};
    vx_spawn_opts so;
    vx_spawn_opts_init(&so);
    so.argv = argv;
    so.on_ready = middle_ready;
    vx_child *child;
    vx_error err;
    if (vx_spawn(node, &so, &child, &err) < 0) {
        fprintf(stderr, "pipe_child middle: %s\n", err.message);
        return 2;
    }
    return uv_run(loop, UV_RUN_DEFAULT);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "echo";
    uv_loop_t *loop = uv_default_loop();
    if (strcmp(mode, "echo") == 0) return run_child(loop, false);
    if (strcmp(mode, "oneof") == 0) return run_child(loop, true);
    if (strcmp(mode, "printf") == 0) {
        g_printf = true;
        return run_child(loop, false);
    }
    if (strcmp(mode, "garbage") == 0) {
        /* Not base64: the parent must close the pipe before any hello. */
        if (write(1, "not-a-hello!.", 13) != 13) return 2;
        return run_child(loop, false);
    }
    if (strcmp(mode, "nohello") == 0) {
        char buf[256];
        while (read(0, buf, sizeof buf) > 0) {
        }
        return 0;
    }
    if (strcmp(mode, "middle") == 0 && argc > 2) {
        g_pidfile = argv[2];
        return run_middle(loop, argv[0]);
    }
    fprintf(stderr, "pipe_child: unknown mode '%s'\n", mode);
    return 2;
}
