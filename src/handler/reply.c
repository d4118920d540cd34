/* Replies (PROTOCOL.md §14.1): the reply filt, and sending by the sender's
 * uuid, which works after the dispatch that carried the request returned. */
#include <stdlib.h>
#include <string.h>

#include "handler/handler_impl.h"

vx_value *vxh_reply_filt(const vx_value *handler_filt, const vx_payload *request) {
    const vx_value *rf = vx_payload_reply_filt(request);
    if (vx_dict_size(rf)) return vx_deep_copy(rf);
    vx_value *out = vx_deep_copy(handler_filt);
    const vx_value *pf = vx_payload_filt(request);
    for (size_t i = 0; out && i < vx_dict_size(pf); i++) {
        size_t len;
        const char *k = vx_dict_key_at(pf, i, &len);
        vx_value *v = vx_deep_copy(vx_dict_value_at(pf, i));
        if (!v || vx_dict_setn_new(out, k, len, v) < 0) {
            vx_decref(out);
            return NULL;
        }
    }
    return out;
}

vx_payload *vxh_payload(const vx_value *reply_filt, vx_value *tuples, vx_value *result) {
    vx_payload *p = vx_payload_new();
    vx_value *filt = reply_filt ? vx_deep_copy(reply_filt) : vx_dict();
    if (!tuples) tuples = vx_list();
    if (!result) result = vx_null();
    if (!p || !filt || !tuples || !result) {
        vx_payload_decref(p);
        vx_decref(filt);
        vx_decref(tuples);
        vx_decref(result);
        return NULL;
    }
    /* The setters steal their value even when they fail. */
    int rc = vx_payload_set_filt_new(p, filt);
    rc |= vx_payload_set_tuples_new(p, tuples);
    rc |= vx_payload_set_result_new(p, result);
    if (rc) {
        vx_payload_decref(p);
        return NULL;
    }
    return p;
}

vx_value *vxh_message(const char *message) {
    if (!message || !*message) message = vx_strerror(VX_E_HANDLER);
    vx_value *v = vx_str(message);
    if (v) return v;
    size_t n = strlen(message);
    char *clean = malloc(n + 1);
    if (!clean) return NULL;
    for (size_t i = 0; i <= n; i++)
        clean[i] = (unsigned char)message[i] < 0x80 ? message[i] : '?';
    v = vx_str(clean);
    free(clean);
    return v;
}

static int send_one(vxh_core *c, const char *uuid, vx_payload *p, vx_error *err) {
    int rc = vx_node_send_uuid(c->node, uuid, p, err);
    if (rc == VX_E_NO_SUCH_VORTEX || rc == VX_E_CLOSED) {
        c->replies_dropped++; /* the sender left (or we are closing): nobody to tell */
        return 0;
    }
    return rc;
}

void vxh_send(vxh_core *c, const char *uuid, vx_payload *p) {
    if (c->closed || !p || !uuid) return;
    vx_error err;
    vx_error_clear(&err);
    int rc = send_one(c, uuid, p, &err);
    if (rc == 0 || rc == VX_E_QUEUE_FULL) return; /* a full client queue refuses it */
    /* The reply itself cannot be encoded (NaN, a reserved key, too big):
     * tell the sender why instead of leaving it waiting. */
    vx_payload *e = vxh_payload(vx_payload_filt(p), NULL, vxh_message(err.message));
    if (e && send_one(c, uuid, e, &err) != 0) c->replies_dropped++;
    vx_payload_decref(e);
}

void vxh_send_error(vxh_core *c, const char *uuid, const vx_value *reply_filt,
                    const char *message) {
    if (c->closed) return;
    vx_payload *p = vxh_payload(reply_filt, NULL, vxh_message(message));
    if (!p) {
        c->replies_dropped++; /* out of memory: the reply is lost */
        return;
    }
    vxh_send(c, uuid, p);
    vx_payload_decref(p);
}
