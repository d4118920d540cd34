/* The demo endpoint (--echo) and the test-only endpoints (--test-endpoints)
 * of vortexd, documented in docs/vortexd.md. The test endpoints make the
 * node's sends by name, by uuid and to everyone reachable from the wire, so
 * black-box tests (tests/wire) can check PROTOCOL §12 and §15. They are not
 * for production: any client could make the server flood everyone. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vortexd.h"

typedef struct flood flood;

struct vxd_endpoints {
    vx_node *node;
    flood *floods; /* running floods and streams, so shutdown can stop them */
    int record_fd; /* --record FILE (O_APPEND), or -1 */
    bool stopped;
};

/* One running vortexd.flood: `every` payloads per loop turn until `n`.
 * vortexd.stream keeps to a schedule instead, `every` payloads per
 * `interval` ms: a turn that starts late (the previous fan-out took longer
 * than the interval) sends what is due, at most STREAM_CATCHUP turns' worth,
 * so a load test measures how fast the node fans out rather than how many
 * loop turns it runs. */
#define STREAM_CATCHUP 32

struct flood {
    uv_timer_t timer;
    vxd_endpoints *owner; /* NULL once the owner is gone */
    flood *next;
    char *target;    /* NULL = broadcast */
    char *requester; /* gets vortexd.flood.done; NULL = nobody */
    int64_t n, sent, failed, every;
    uint64_t interval, start_ms; /* stream: the schedule (loop time) */
    size_t size;
    uint64_t seed;
    bool stream; /* vortexd.stream: items carry "seq" and "t", no flood fields */
};

/* ---- helpers ------------------------------------------------------------- */

static const char *filt_str(const vx_payload *p, const char *key) {
    vx_value *v = vx_dict_get(vx_payload_filt(p), key);
    return v && vx_typeof(v) == VX_STR ? vx_str_value(v) : NULL;
}

static bool filt_int(const vx_payload *p, const char *key, int64_t *out) {
    vx_value *v = vx_dict_get(vx_payload_filt(p), key);
    if (!v || vx_typeof(v) != VX_INT) return false;
    *out = vx_int_value(v);
    return true;
}

/* Reply to the sender: the request's filt unchanged (§13 responder rule)
 * and `result`: true, or "VX_E_NAME: message" when `rc` failed. */
static int reply_outcome(const vx_payload *req, const vx_route_ctx *ctx, int rc,
                         const vx_error *e) {
    if (!ctx->reply) return 0;
    vx_payload *r = vx_payload_new();
    if (!r) return VX_E_NOMEM;
    int out = vx_payload_set_filt_new(r, vx_deep_copy(vx_payload_filt(req)));
    if (!out) {
        if (rc == 0) {
            out = vx_payload_set_result_new(r, vx_bool(true));
        } else {
            char text[VX_ERROR_MESSAGE_MAX + 40];
            snprintf(text, sizeof text, "%s: %s", vx_error_name(rc),
                     e && e->message[0] ? e->message : vx_strerror(rc));
            out = vx_payload_set_result_new(r, vx_str(text));
        }
    }
    vx_error re = {0};
    if (!out) out = ctx->reply(ctx->reply_data, r, &re);
    if (out) vxd_log(VXD_LOG_DEBUG, "reply to %s failed: %s", ctx->sender_uuid, re.message);
    vx_payload_decref(r);
    return 0;
}

/* NEW {"key": "vortexd.sent", "via": via, "tag": <request tag>} carrying a
 * copy of the request's tuples. */
static vx_payload *sent_payload(const vx_payload *req, const char *via) {
    vx_payload *p = vx_payload_new_key("vortexd.sent");
    if (!p) return NULL;
    vx_value *filt = vx_payload_filt(p);
    vx_value *tag = vx_dict_get(vx_payload_filt(req), "tag");
    if (vx_dict_set_new(filt, "via", vx_str(via)) ||
        (tag && vx_dict_set(filt, "tag", tag)) ||
        vx_payload_set_tuples_new(p, vx_deep_copy(vx_payload_tuples(req)))) {
        vx_payload_decref(p);
        return NULL;
    }
    return p;
}

/* ---- --echo -------------------------------------------------------------- */

static int on_echo(void *data, vx_payload *p, const vx_route_ctx *ctx, vx_error *err) {
    if (!ctx->reply) return 0;
    vx_error e = {0};
    int rc = ctx->reply(ctx->reply_data, p, &e);
    /* An error return would make the router send an error reply down the
     * same failing path; the node has already counted and logged it. */
    if (rc)
        vxd_log(VXD_LOG_DEBUG, "echo to %s failed: %s: %s", ctx->sender_uuid,
                vx_error_name(rc), e.message);
    return 0;
}

/* ---- --test-endpoints: sends --------------------------------------------- */

static int on_send_name(void *data, vx_payload *p, const vx_route_ctx *ctx, vx_error *err) {
    vxd_endpoints *ep = data;
    const char *name = filt_str(p, "name");
    if (!name)
        return vx_error_set(err, VX_E_INVAL,
                            "vortexd.sendName: filt \"name\" must be a string");
    vx_payload *m = sent_payload(p, "sendName");
    if (!m) return vx_error_set(err, VX_E_NOMEM, "vortexd.sendName: out of memory");
    vx_error e = {0};
    int rc = vx_node_send_name(ep->node, name, m, &e);
    vx_payload_decref(m);
    return reply_outcome(p, ctx, rc, &e);
}

static int on_send_uuid(void *data, vx_payload *p, const vx_route_ctx *ctx, vx_error *err) {
    vxd_endpoints *ep = data;
    const char *uuid = filt_str(p, "uuid");
    if (!uuid)
        return vx_error_set(err, VX_E_INVAL,
                            "vortexd.sendUuid: filt \"uuid\" must be a string");
    vx_payload *m = sent_payload(p, "sendUuid");
    if (!m) return vx_error_set(err, VX_E_NOMEM, "vortexd.sendUuid: out of memory");
    vx_error e = {0};
    int rc = vx_node_send_uuid(ep->node, uuid, m, &e);
    vx_payload_decref(m);
    return reply_outcome(p, ctx, rc, &e);
}

static int on_broadcast(void *data, vx_payload *p, const vx_route_ctx *ctx, vx_error *err) {
    vxd_endpoints *ep = data;
    vx_payload *m = sent_payload(p, "broadcast");
    if (!m) return vx_error_set(err, VX_E_NOMEM, "vortexd.broadcast: out of memory");
    vx_error e = {0};
    int rc = vx_node_broadcast(ep->node, m, &e);
    vx_payload_decref(m);
    return reply_outcome(p, ctx, rc, &e);
}

static int on_fail(void *data, vx_payload *p, const vx_route_ctx *ctx, vx_error *err) {
    return vx_error_set(err, VX_E_HANDLER, "vortexd.fail: failing as asked");
}

/* ---- --test-endpoints: flood --------------------------------------------- */

static void flood_closed(uv_handle_t *h) {
    flood *f = h->data;
    free(f->target);
    free(f->requester);
    free(f);
}

static void flood_end(flood *f) {
    if (f->owner) {
        for (flood **pp = &f->owner->floods; *pp; pp = &(*pp)->next) {
            if (*pp == f) {
                *pp = f->next;
                break;
            }
        }
        f->owner = NULL;
    }
    uv_close((uv_handle_t *)&f->timer, flood_closed);
}

/* Incompressible-ish padding, different for every item, so each msg costs
 * about `size` bytes on the wire. */
static void fill_pad(char *buf, size_t size, uint64_t seed) {
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < size; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = alphabet[x & 63];
    }
}

static int flood_send_one(flood *f, char *pad) {
    vx_payload *p =
        vx_payload_new_key(f->stream ? "vortexd.stream.item" : "vortexd.flood.item");
    if (!p) return VX_E_NOMEM;
    fill_pad(pad, f->size, f->seed + (uint64_t)f->sent);
    int rc;
    if (f->stream) {
        /* "t": send time (CLOCK_REALTIME seconds) for receivers' latency. */
        rc = vx_dict_set_new(vx_payload_filt(p), "seq", vx_int(f->sent));
        if (!rc)
            rc = vx_dict_set_new(vx_payload_filt(p), "t",
                                 vx_float((double)vx_now_us() / 1e6));
        if (!rc && f->size)
            rc = vx_list_append_new(vx_payload_tuples(p), vx_strn(pad, f->size));
    } else {
        rc = vx_dict_set_new(vx_payload_filt(p), "i", vx_int(f->sent));
        if (!rc) rc = vx_list_append_new(vx_payload_tuples(p), vx_strn(pad, f->size));
    }
    vx_error e = {0};
    if (!rc)
        rc = f->target ? vx_node_send_uuid(f->owner->node, f->target, p, &e)
                       : vx_node_broadcast(f->owner->node, p, &e);
    vx_payload_decref(p);
    return rc;
}

static void flood_tick(uv_timer_t *t) {
    flood *f = t->data;
    if (!f->owner) return;
    char *pad = malloc(f->size ? f->size : 1);
    int64_t stop = f->sent + f->every;
    if (f->stream) {
        uint64_t turns = (uv_now(t->loop) - f->start_ms) / f->interval + 1;
        int64_t due =
            turns > (uint64_t)(f->n / f->every + 1) ? f->n : (int64_t)turns * f->every;
        if (due > f->sent + f->every * STREAM_CATCHUP)
            due = f->sent + f->every * STREAM_CATCHUP;
        if (due > stop) stop = due;
    }
    if (stop > f->n) stop = f->n;
    while (pad && f->sent < stop) {
        int rc = flood_send_one(f, pad);
        if (rc) {
            f->failed++;
            if (rc == VX_E_NO_SUCH_VORTEX) break; /* the target is gone */
        }
        f->sent++;
    }
    free(pad);
    if (pad && f->sent < f->n && f->failed == 0) return; /* next turn */
    vxd_log(VXD_LOG_INFO, "%s of %lld done: %lld sent, %lld failed",
            f->stream ? "stream" : "flood", (long long)f->n, (long long)f->sent,
            (long long)f->failed);
    if (f->requester) {
        vx_payload *d =
            vx_payload_new_key(f->stream ? "vortexd.stream.done" : "vortexd.flood.done");
        if (d && !vx_dict_set_new(vx_payload_filt(d), "sent", vx_int(f->sent)) &&
            !vx_dict_set_new(vx_payload_filt(d), "failed", vx_int(f->failed)))
            (void)vx_node_send_uuid(f->owner->node, f->requester, d, NULL);
        vx_payload_decref(d);
    }
    uv_timer_stop(t);
    flood_end(f);
}

/* vortexd.flood and vortexd.stream share the parsing and the timer: `every`
 * items per turn, turns `interval` ms apart. */
static int start_flood(vxd_endpoints *ep, vx_payload *p, const vx_route_ctx *ctx,
                       bool stream, vx_error *err) {
    const char *what = stream ? "vortexd.stream" : "vortexd.flood";
    if (ep->stopped) return vx_error_set(err, VX_E_CLOSED, "%s: shutting down", what);
    int64_t n = 0, size = stream ? 0 : 100, every = 0, interval = 1;
    if (!filt_int(p, "n", &n) || n < 0 || n > 10000000)
        return vx_error_set(err, VX_E_INVAL, "%s: filt \"n\" must be an int 0-10000000",
                            what);
    if (vx_dict_get(vx_payload_filt(p), "size") &&
        (!filt_int(p, "size", &size) || size < 0 || size > 64 * 1024 * 1024))
        return vx_error_set(err, VX_E_INVAL, "%s: filt \"size\" must be an int 0-64Mi",
                            what);
    if (vx_dict_get(vx_payload_filt(p), "every") &&
        (!filt_int(p, "every", &every) || every < 1))
        return vx_error_set(err, VX_E_INVAL, "%s: filt \"every\" must be an int >= 1",
                            what);
    if (stream && vx_dict_get(vx_payload_filt(p), "interval") &&
        (!filt_int(p, "interval", &interval) || interval < 1 || interval > 60000))
        return vx_error_set(err, VX_E_INVAL,
                            "%s: filt \"interval\" must be an int 1-60000 (ms)", what);
    const char *target = filt_str(p, "uuid");
    flood *f = calloc(1, sizeof *f);
    if (!f) return vx_error_set(err, VX_E_NOMEM, "%s: out of memory", what);
    f->stream = stream;
    f->n = n;
    f->size = (size_t)size;
    f->every = every ? every : (n ? n : 1);
    if (f->every > n && n > 0) f->every = n; /* the same, and no overflow below */
    f->seed = (uint64_t)vx_now_us();
    f->target = target ? strdup(target) : NULL;
    f->requester = ctx->sender_uuid ? strdup(ctx->sender_uuid) : NULL;
    if ((target && !f->target) || (ctx->sender_uuid && !f->requester) ||
        uv_timer_init(vx_node_loop(ep->node), &f->timer)) {
        free(f->target);
        free(f->requester);
        free(f);
        return vx_error_set(err, VX_E_NOMEM, "%s: out of memory", what);
    }
    f->timer.data = f;
    f->interval = (uint64_t)interval;
    f->start_ms = uv_now(vx_node_loop(ep->node));
    f->owner = ep;
    f->next = ep->floods;
    ep->floods = f;
    /* A pause between turns lets the loop write to readers in between, so a
     * reading client keeps up while a stalled one overflows (§12). */
    uv_timer_start(&f->timer, flood_tick, 0, (uint64_t)interval);
    return 0;
}

static int on_flood(void *data, vx_payload *p, const vx_route_ctx *ctx, vx_error *err) {
    return start_flood(data, p, ctx, false, err);
}

static int on_stream(void *data, vx_payload *p, const vx_route_ctx *ctx, vx_error *err) {
    return start_flood(data, p, ctx, true, err);
}

/* ---- --record FILE ------------------------------------------------------- */

/* Append the filt's "seq" as one line. A plain write(2) on an O_APPEND file:
 * test-only, small and local, and it reaches the kernel before the reply, so
 * a kill -9 right after the reply loses nothing the sender saw confirmed. */
static int on_record(void *data, vx_payload *p, const vx_route_ctx *ctx, vx_error *err) {
    vxd_endpoints *ep = data;
    int64_t seq = 0;
    if (!filt_int(p, "seq", &seq))
        return vx_error_set(err, VX_E_INVAL, "vortexd.record: filt \"seq\" must be an int");
    char line[32];
    int len = snprintf(line, sizeof line, "%lld\n", (long long)seq);
    ssize_t w;
    do {
        w = write(ep->record_fd, line, (size_t)len);
    } while (w < 0 && errno == EINTR);
    if (w != len)
        return vx_error_set(err, VX_E_IO, "vortexd.record: write failed: %s",
                            w < 0 ? strerror(errno) : "short write");
    return reply_outcome(p, ctx, 0, NULL);
}

/* ---- registration -------------------------------------------------------- */

static int add(vxd_endpoints *ep, const char *key, vx_endpoint_fn fn, vx_error *err) {
    vx_value *filt = vx_dict();
    if (!filt) return vx_error_set(err, VX_E_NOMEM, "out of memory");
    int rc = vx_dict_set_new(filt, "key", vx_str(key));
    if (!rc) rc = vx_router_add(vx_node_router(ep->node), filt, fn, ep, NULL, err);
    vx_decref(filt);
    return rc;
}

int vxd_endpoints_add(vx_node *node, const vxd_config *cfg, vxd_endpoints **out,
                      vx_error *err) {
    vxd_endpoints *ep = calloc(1, sizeof *ep);
    if (!ep) return vx_error_set(err, VX_E_NOMEM, "out of memory");
    ep->node = node;
    ep->record_fd = -1;
    int rc = 0;
    if (cfg->echo) rc = add(ep, "vortexd.echo", on_echo, err);
    if (!rc && cfg->test_endpoints) {
        rc = add(ep, "vortexd.flood", on_flood, err);
        if (!rc) rc = add(ep, "vortexd.sendName", on_send_name, err);
        if (!rc) rc = add(ep, "vortexd.sendUuid", on_send_uuid, err);
        if (!rc) rc = add(ep, "vortexd.broadcast", on_broadcast, err);
        if (!rc) rc = add(ep, "vortexd.fail", on_fail, err);
        if (!rc) rc = add(ep, "vortexd.stream", on_stream, err);
    }
    if (!rc && cfg->record) {
        ep->record_fd = open(cfg->record, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (ep->record_fd < 0)
            rc =
                vx_error_set(err, VX_E_IO, "--record %s: %s", cfg->record, strerror(errno));
        if (!rc) rc = add(ep, "vortexd.record", on_record, err);
    }
    if (rc) {
        if (ep->record_fd >= 0) close(ep->record_fd);
        free(ep); /* endpoints already added die with the node's router */
        return rc;
    }
    *out = ep;
    return 0;
}

void vxd_endpoints_stop(vxd_endpoints *ep) {
    if (!ep) return;
    ep->stopped = true;
    while (ep->floods) {
        flood *f = ep->floods;
        uv_timer_stop(&f->timer);
        flood_end(f);
    }
}

void vxd_endpoints_free(vxd_endpoints *ep) {
    vxd_endpoints_stop(ep);
    if (ep && ep->record_fd >= 0) close(ep->record_fd);
    free(ep);
}
