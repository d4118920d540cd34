/* Request/response (PROTOCOL.md §13): a copy of the request filt with a
 * fresh "PayloadResponse.messageId", a one-shot endpoint on that filt
 * registered before sending, and a timer. Whichever of reply and timeout
 * comes first completes the request, removes the endpoint and closes the
 * timer; the other then finds `done` set. */
#include <stdlib.h>
#include <string.h>

#include "node/node_impl.h"
#include "node/uuid4.h"

#define VX_MESSAGE_ID_KEY "PayloadResponse.messageId"

struct vxn_request {
    vx_node *node;
    vx_endpoint_id ep;
    uv_timer_t timer;
    vx_response_fn fn;
    void *data;
    double timeout;
    bool no_result_check;
    bool done;
    char message_id[37];
    char *target; /* uuid the request was sent to: it fails when that goes */
    vxn_request *prev, *next;
};

static void request_closed(uv_handle_t *h) {
    vxn_request *q = h->data;
    vx_node *node = q->node;
    free(q->target);
    free(q);
    node->n_handles--;
    vxn_maybe_finish(node);
}

static void request_unlink(vx_node *node, vxn_request *q) {
    if (q->prev)
        q->prev->next = q->next;
    else
        node->requests = q->next;
    if (q->next) q->next->prev = q->prev;
    q->prev = q->next = NULL;
    node->n_requests--;
}

/* Mark done, remove the endpoint, release the timer, then call back. The
 * request's memory lives until the timer's close callback, after `fn`. */
static void complete(vxn_request *q, vx_request_status status, vx_payload *reply,
                     const vx_error *err) {
    vx_node *node = q->node;
    q->done = true;
    vx_router_remove(node->router, q->ep);
    request_unlink(node, q);
    uv_close((uv_handle_t *)&q->timer, request_closed);
    q->fn(q->data, status, reply, err);
}

static int reply_cb(void *data, vx_payload *payload, const vx_route_ctx *ctx,
                    vx_error *err) {
    vxn_request *q = data;
    if (q->done) return 0;
    vx_value *result = vx_payload_result(payload);
    vx_type t = vx_typeof(result);
    if (q->no_result_check || t == VX_NULL || (t == VX_BOOL && vx_bool_value(result))) {
        complete(q, VX_REQUEST_SUCCESS, payload, NULL);
        return 0;
    }
    vx_error e;
    if (t == VX_STR) {
        vx_error_set(&e, VX_E_REMOTE, "%s", vx_str_value(result));
    } else {
        vx_buf b = {0};
        vx_error je;
        if (vx_json_encode_value(result, vx_codec_options(q->node->codec), &b, &je) == 0 &&
            vx_buf_append(&b, "", 1) == 0)
            vx_error_set(&e, VX_E_REMOTE, "%s", b.data);
        else
            vx_error_set(&e, VX_E_REMOTE, "reply result of type %s", vx_type_name(t));
        vx_buf_free(&b);
    }
    complete(q, VX_REQUEST_FAILED, payload, &e);
    return 0;
}

static void timeout_cb(uv_timer_t *t) {
    vxn_request *q = t->data;
    if (q->done) return;
    vx_error e;
    vx_error_set(&e, VX_E_TIMEOUT, "no reply within %.3g s (" VX_MESSAGE_ID_KEY " %s)",
                 q->timeout, q->message_id);
    complete(q, VX_REQUEST_TIMED_OUT, NULL, &e);
}

void vxn_requests_cancel_all(vx_node *node) {
    while (node->requests) {
        vxn_request *q = node->requests;
        vx_error e;
        vx_error_set(&e, VX_E_CLOSED,
                     "the vortex was freed before a reply (" VX_MESSAGE_ID_KEY " %s)",
                     q->message_id);
        complete(q, VX_REQUEST_FAILED, NULL, &e);
    }
}

void vxn_requests_fail_target(vx_node *node, const vx_remote *r) {
    size_t n = 0;
    for (vxn_request *q = node->requests; q; q = q->next)
        if (strcmp(q->target, r->uuid) == 0) n++;
    if (n == 0) return;
    /* Completing calls out, and a callback may complete or add requests:
     * collect first (request memory lives until its timer's close callback,
     * a later loop turn, so the pointers stay valid; `done` tells which are
     * still owed). Without memory for the list, rescan from the head. */
    vxn_request **gone = malloc(n * sizeof *gone);
    if (gone) {
        size_t k = 0;
        for (vxn_request *q = node->requests; q && k < n; q = q->next)
            if (strcmp(q->target, r->uuid) == 0) gone[k++] = q;
        n = k;
    }
    for (size_t i = 0;; i++) {
        vxn_request *q = NULL;
        if (gone) { /* oldest first: the list holds the newest at its head */
            if (i == n) break;
            q = gone[n - 1 - i];
        } else {
            for (q = node->requests; q && strcmp(q->target, r->uuid) != 0; q = q->next) {
            }
            if (!q) break;
        }
        if (q->done) continue;
        vx_error e;
        if (r->gone_reason)
            vx_error_set(&e, VX_E_CLOSED, "%s (" VX_MESSAGE_ID_KEY " %s)", r->gone_reason,
                         q->message_id);
        else
            vx_error_set(&e, VX_E_CLOSED,
                         "remote vortex %s (%s) went away (" VX_MESSAGE_ID_KEY " %s)",
                         r->name, r->uuid, q->message_id);
        complete(q, VX_REQUEST_FAILED, NULL, &e);
    }
    free(gone);
}

/* NEW copy of `dict` with the messageId added. */
static vx_value *with_message_id(const vx_value *dict, const char *id) {
    vx_value *d = vx_deep_copy(dict);
    if (d && vx_dict_set_new(d, VX_MESSAGE_ID_KEY, vx_str(id)) != 0) {
        vx_decref(d);
        d = NULL;
    }
    return d;
}

/* NEW request payload sharing the caller's tuples, result and date (they
 * are only encoded), with its own filt (and replyFilt, when set). */
static vx_payload *build_request(const vx_payload *req, const char *id) {
    vx_payload *p = vx_payload_new_blank();
    if (!p) return NULL;
    vx_value *rf = vx_payload_reply_filt(req);
    vx_value *filt = with_message_id(vx_payload_filt(req), id);
    vx_value *reply_filt = vx_dict_size(rf) ? with_message_id(rf, id) : vx_incref(rf);
    int rc = 0;
    rc |= vx_payload_set_filt_new(p, filt);
    rc |= vx_payload_set_reply_filt_new(p, reply_filt);
    rc |= vx_payload_set_tuples_new(p, vx_incref(vx_payload_tuples(req)));
    rc |= vx_payload_set_result_new(p, vx_incref(vx_payload_result(req)));
    rc |= vx_payload_set_date_new(p, vx_incref(vx_payload_date(req)));
    if (rc) {
        vx_payload_decref(p);
        return NULL;
    }
    return p;
}

int vx_node_request(vx_node *node, const char *target_uuid, const vx_payload *request,
                    const vx_request_opts *opts, vx_response_fn fn, void *data,
                    vx_error *err) {
    if (!node || !request || !fn)
        return vx_error_set(err, VX_E_INVAL, "vx_node_request: NULL argument");
    if (vx_node_shutting_down(node))
        return vx_error_set(err, VX_E_CLOSED, "the vortex %s is shutting down", node->uuid);
    if (!vx_dict_get(vx_payload_filt(request), "key"))
        return vx_error_set(err, VX_E_NO_KEY, "request filt has no \"key\"");
    if (!target_uuid) {
        if (node->n_remotes != 1)
            return vx_error_set(err, VX_E_NO_SUCH_VORTEX,
                                "no target uuid given and %zu remote vortexes are known "
                                "(need exactly one)",
                                node->n_remotes);
        target_uuid = node->remotes_head->uuid;
    } else if (strcmp(target_uuid, node->uuid) != 0 &&
               !vxn_remote_find(node, target_uuid)) {
        return vx_error_set(err, VX_E_NO_SUCH_VORTEX, "no remote vortex with uuid '%s'",
                            target_uuid);
    }

    vxn_request *q = calloc(1, sizeof *q);
    if (!q) return vx_error_set(err, VX_E_NOMEM, "out of memory");
    q->node = node;
    q->fn = fn;
    q->data = data;
    q->timeout = opts && opts->timeout > 0 ? opts->timeout : node->opts.response_timeout;
    q->no_result_check = opts && opts->no_result_check;
    q->target = strdup(target_uuid);
    if (!q->target) {
        free(q);
        return vx_error_set(err, VX_E_NOMEM, "out of memory");
    }
    vxn_uuid4(q->message_id); /* not libuuid: see uuid4.h */

    vx_payload *p = build_request(request, q->message_id);
    if (!p) {
        free(q->target);
        free(q);
        return vx_error_set(err, VX_E_NOMEM, "out of memory copying the request");
    }
    /* The endpoint exists before the request leaves (§13 step 3). */
    int rc = vx_router_add(node->router, vx_payload_filt(p), reply_cb, q, &q->ep, err);
    if (rc < 0) {
        vx_payload_decref(p);
        free(q->target);
        free(q);
        return rc;
    }
    /* The timer exists (and the request is listed) before the send, so a
     * reply can never find it half made. */
    uv_timer_init(node->loop, &q->timer);
    q->timer.data = q;
    node->n_handles++;
    q->next = node->requests;
    if (node->requests) node->requests->prev = q;
    node->requests = q;
    node->n_requests++;

    vx_msgbuf *m = NULL;
    rc = vxn_encode(node, p, &m, err);
    vx_payload_decref(p);
    if (rc == 0) rc = vxn_send_uuid_msg(node, target_uuid, m, err);
    vx_msgbuf_decref(m);
    if (rc < 0) { /* fn is never called */
        if (!q->done) {
            q->done = true;
            vx_router_remove(node->router, q->ep);
            request_unlink(node, q);
            uv_close((uv_handle_t *)&q->timer, request_closed);
        }
        return rc;
    }
    if (!q->done) {
        double ms = q->timeout * 1000.0;
        uv_timer_start(&q->timer, timeout_cb, ms < 1 ? 1 : (uint64_t)(ms + 0.5), 0);
    }
    return 0;
}
