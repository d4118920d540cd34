/* ModelHandler (PROTOCOL.md §14.1): synchronous builds on the loop,
 * asynchronous builds completed later through a token, and worker builds on
 * the libuv thread pool with a copy of the request. Every failure gives the
 * sender exactly one error reply, and the endpoint always returns 0, so the
 * router's own §7.4 reply is never added. */
#include <stdlib.h>
#include <string.h>

#include "handler/handler_impl.h"
#include "value/value_impl.h"

typedef enum { MODEL_SYNC, MODEL_ASYNC, MODEL_WORKER } model_mode;

struct vx_model_handler {
    vxh_core core; /* first */
    model_mode mode;
    vx_model_build_fn build;
    vx_model_build_async_fn build_async;
    vx_model_build_worker_fn build_worker;
    void *data;
    void (*data_free)(void *);
};

/* An asynchronous or worker build in progress: the async token is this. */
struct vx_model_pending {
    vxh_job base;
    vx_model_handler *h;
    vx_payload *request; /* loop side (async), or a clone for the worker */
    vx_value *reply_filt;
    bool finished;
    /* worker outputs */
    int rc;
    vx_error err;
    vx_model_result out;
};

/* Send what a build produced (members stolen), or the error reply. */
static void finish(vxh_core *c, const char *uuid, const vx_value *reply_filt, int rc,
                   const char *message, vx_model_result *r) {
    vx_value *tuples = r ? r->tuples : NULL;
    vx_payload *payload = r ? r->payload : NULL;
    if (r) r->tuples = NULL, r->payload = NULL;
    if (rc == 0 && tuples && payload) {
        rc = VX_E_INVAL;
        message = "the build returned both tuples and a payload";
    } else if (rc == 0 && tuples && vx_typeof(tuples) != VX_LIST) {
        rc = VX_E_INVAL;
        message = "the build returned tuples that are not a list";
    }
    if (rc < 0) {
        vxh_send_error(c, uuid, reply_filt, message);
    } else if (payload) {
        vxh_send(c, uuid, payload);
    } else if (tuples) {
        vx_payload *p = vxh_payload(reply_filt, vx_incref(tuples), NULL);
        if (p)
            vxh_send(c, uuid, p);
        else
            c->replies_dropped++;
        vx_payload_decref(p);
    }
    vx_decref(tuples);
    vx_payload_decref(payload);
}

static const char *err_text(int rc, const vx_error *e) {
    return e->message[0] ? e->message : vx_strerror(rc);
}

/* ---- sync ----------------------------------------------------------------- */

static int endpoint_sync(vx_model_handler *h, vx_payload *p, const vx_route_ctx *ctx) {
    vx_value *rf = vxh_reply_filt(h->core.filt, p);
    if (!rf) return 0;
    vx_model_result r = {0};
    vx_error e;
    vx_error_clear(&e);
    int rc = h->build(h->data, p, ctx, &r, &e);
    if (rc > 0) rc = VX_E_HANDLER;       /* a positive return is a failure too */
    const char *uuid = ctx->sender_uuid; /* NULL (no sender): replies are dropped */
    if (rc < 0) {
        vx_decref(r.tuples);
        vx_payload_decref(r.payload);
        finish(&h->core, uuid, rf, rc, err_text(rc, &e), NULL);
    } else {
        finish(&h->core, uuid, rf, 0, NULL, &r);
    }
    vx_decref(rf);
    return 0;
}

/* ---- async and worker jobs -------------------------------------------------- */

static void pending_free(vxh_job *j) {
    vx_model_pending *q = (vx_model_pending *)j;
    vx_payload_decref(q->request);
    vx_decref(q->reply_filt);
    vx_decref(q->out.tuples);
    vx_payload_decref(q->out.payload);
    free(j->sender);
    free(j->sender_name);
    free(q);
}

static int reply_by_uuid(void *data, vx_payload *reply, vx_error *err) {
    vx_model_pending *q = data;
    if (q->base.core->closed) return 0;
    return vx_node_send_uuid(q->base.core->node, q->base.sender, reply, err);
}

static void start_async(vxh_job *j) {
    vx_model_pending *q = (vx_model_pending *)j;
    vx_route_ctx ctx = {
        .sender_uuid = j->sender,
        .sender_name = j->sender_name,
        .reply = reply_by_uuid,
        .reply_data = q,
    };
    q->h->build_async(q->h->data, q->request, &ctx, q);
}

void vx_model_complete(vx_model_pending *q, vx_model_result *result) {
    if (!q || q->finished) return;
    q->finished = true;
    finish(q->base.core, q->base.sender, q->reply_filt, 0, NULL, result);
    vxh_job_done(&q->base);
}

void vx_model_fail(vx_model_pending *q, const char *message) {
    if (!q || q->finished) return;
    q->finished = true;
    finish(q->base.core, q->base.sender, q->reply_filt, VX_E_HANDLER,
           message && *message ? message : "the build failed", NULL);
    vxh_job_done(&q->base);
}

static void run_worker(vxh_job *j) {
    vx_model_pending *q = (vx_model_pending *)j;
    vx_error_clear(&q->err);
    q->rc = q->h->build_worker(q->h->data, q->request, &q->out, &q->err);
    if (q->rc > 0) q->rc = VX_E_HANDLER;
}

static void after_worker(vxh_job *j, bool cancelled) {
    vx_model_pending *q = (vx_model_pending *)j;
    if (cancelled) {
        finish(j->core, j->sender, q->reply_filt, VX_E_HANDLER, "the build was cancelled",
               NULL);
    } else if (q->rc < 0) {
        finish(j->core, j->sender, q->reply_filt, q->rc, err_text(q->rc, &q->err), NULL);
    } else {
        finish(j->core, j->sender, q->reply_filt, 0, NULL, &q->out);
    }
    vxh_job_done(j);
}

static void start_worker(vxh_job *j) {
    vxh_job_queue_work(j);
}

static int endpoint(void *data, vx_payload *p, const vx_route_ctx *ctx, vx_error *err) {
    vx_model_handler *h = data;
    if (h->core.closed) return 0;
    if (h->mode == MODEL_SYNC) return endpoint_sync(h, p, ctx);
    vx_model_pending *q = calloc(1, sizeof *q);
    if (!q) return 0;
    q->h = h;
    q->base.free = pending_free;
    q->reply_filt = vxh_reply_filt(h->core.filt, p);
    if (h->mode == MODEL_ASYNC) {
        q->base.start = start_async;
        q->request = vx_payload_incref(p);
    } else {
        q->base.start = start_worker;
        q->base.run = run_worker;
        q->base.after = after_worker;
        /* The worker gets values that share no reference count with ours. */
        q->request = vx_value_as_payload(vx_clone(vx_payload_as_value(p)));
    }
    if (!q->reply_filt || !q->request) {
        pending_free(&q->base);
        return 0;
    }
    vxh_job_submit(&h->core, &q->base, ctx->sender_uuid, ctx->sender_name);
    return 0;
}

/* ---- lifecycle -------------------------------------------------------------- */

static void destroy(vxh_core *c) {
    vx_model_handler *h = (vx_model_handler *)c;
    if (h->data_free) h->data_free(h->data);
    free(h);
}

static vx_model_handler *make(vx_node *node, const vx_value *filt, model_mode mode,
                              void *build, void *data, void (*data_free)(void *),
                              vx_error *err) {
    if (!build) {
        vx_error_set(err, VX_E_INVAL, "model handler: a build function is required");
        return NULL;
    }
    vx_model_handler *h = calloc(1, sizeof *h);
    if (!h) {
        vx_error_set(err, VX_E_NOMEM, "model handler: out of memory");
        return NULL;
    }
    h->mode = mode;
    h->data = data;
    h->data_free = data_free;
    if (mode == MODEL_SYNC) h->build = (vx_model_build_fn)build;
    if (mode == MODEL_ASYNC) h->build_async = (vx_model_build_async_fn)build;
    if (mode == MODEL_WORKER) h->build_worker = (vx_model_build_worker_fn)build;
    if (vxh_core_init(&h->core, node, filt, endpoint, h, destroy, err) < 0) {
        free(h);
        return NULL;
    }
    return h;
}

vx_model_handler *vx_model_handler_new(vx_node *node, const vx_value *filt,
                                       vx_model_build_fn build, void *data, vx_error *err) {
    return make(node, filt, MODEL_SYNC, (void *)build, data, NULL, err);
}

vx_model_handler *vx_model_handler_new_async(vx_node *node, const vx_value *filt,
                                             vx_model_build_async_fn build, void *data,
                                             vx_error *err) {
    return make(node, filt, MODEL_ASYNC, (void *)build, data, NULL, err);
}

vx_model_handler *vx_model_handler_new_worker(vx_node *node, const vx_value *filt,
                                              vx_model_build_worker_fn build, void *data,
                                              vx_error *err) {
    return make(node, filt, MODEL_WORKER, (void *)build, data, NULL, err);
}

vx_model_handler *vxh_model_new_worker_owned(vx_node *node, const vx_value *filt,
                                             vx_model_build_worker_fn build, void *data,
                                             void (*data_free)(void *), vx_error *err) {
    vx_model_handler *h =
        make(node, filt, MODEL_WORKER, (void *)build, data, data_free, err);
    if (!h && data_free) data_free(data);
    return h;
}

uint64_t vxh_model_replies_dropped(const vx_model_handler *h) {
    return h->core.replies_dropped;
}

void vx_model_handler_free(vx_model_handler *h) {
    if (!h) return;
    vxh_core_close(&h->core);
}
