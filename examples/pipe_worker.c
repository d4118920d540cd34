/* A worker process for the pipe transport (PROTOCOL.md §16): started by a
 * parent vortex with vx_spawn, it talks over its stdin/stdout and serves a
 * ModelHandler on "worker.square" that answers each request's integer
 * tuples with their squares. It exits when the parent closes its stdin or
 * dies. printf output is safe: it goes to stderr once stdio is attached.
 *
 *   parent: vx_spawn(node, &(opts with argv {"./pipe_worker", NULL}), ...)
 *           then vx_node_request(node, vx_child_uuid(child), {"key":
 *           "worker.square"} with tuples [1, 2, 3]) -> tuples [1, 4, 9]
 *
 * Build in the tree: target example_pipe_worker. */
#include <stdio.h>

#include <vortexc.h>
#include <vortexc/handler.h>
#include <vortexc/pipe.h>

static int square(void *data, const vx_payload *request, const vx_route_ctx *ctx,
                  vx_model_result *out, vx_error *err) {
    vx_value *in = vx_payload_tuples(request);
    out->tuples = vx_list();
    for (size_t i = 0; i < vx_list_size(in); i++) {
        vx_value *v = vx_list_get(in, i);
        if (vx_typeof(v) != VX_INT) {
            vx_decref(out->tuples);
            out->tuples = NULL;
            return vx_error_set(err, VX_E_INVAL, "tuple %zu is not an integer", i);
        }
        vx_list_append_new(out->tuples, vx_int(vx_int_value(v) * vx_int_value(v)));
    }
    printf("squared %zu numbers\n", vx_list_size(in)); /* lands on stderr */
    return 0;
}

int main(void) {
    uv_loop_t *loop = uv_default_loop();
    vx_node_opts o;
    vx_node_opts_init(&o);
    o.name = "square-worker";
    vx_error err;
    vx_node *node = vx_node_new(loop, &o, &err);
    vx_value *filt = vx_dict();
    vx_dict_set_new(filt, "key", vx_str("worker.square"));
    vx_model_handler *h =
        node ? vx_model_handler_new(node, filt, square, NULL, &err) : NULL;
    vx_decref(filt);
    if (!h || vx_node_attach_stdio(node, NULL, &err) < 0) {
        fprintf(stderr, "pipe_worker: %s\n", err.message);
        return 1;
    }
    return uv_run(loop, UV_RUN_DEFAULT); /* exits on EOF of stdin */
}
