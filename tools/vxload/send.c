/* vxload send: one vx_client (the library's, HTTP or WebSocket) sends
 * numbered msgs {"key": KEY, "seq": i} every --interval ms, whatever its
 * connection state, and waits until the server has acknowledged the last one
 * (vortexd's vortexd.record replies with the request filt). Used by the fault
 * test that kills and restarts vortexd: msgs queued while the client is
 * offline must arrive once each, in order (PROTOCOL §11).
 *
 * Summary (one JSON line): sent, acked, "offline": the seqs sent while the
 * client knew it was offline (these must all arrive), "online_after_loss":
 * the seqs handed over between the last hello and a connection loss (these
 * may be lost with the server, §11), reconnects. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vortexc/client.h>
#include <vortexc/node.h>

#include "vxload.h"

typedef struct sender {
    const vxl_args *a;
    uv_loop_t loop;
    vx_node *node;
    vx_client *client;
    uv_timer_t tick, deadline;
    int64_t sent, acked, last_ack;
    int64_t *offline; /* seqs sent while offline */
    size_t n_offline;
    int64_t since_online; /* first seq sent on the current connection */
    int64_t *at_risk;     /* seqs sent on connections that were later lost */
    size_t n_risk;
    int onlines;
    bool online, done, ok;
} sender;

static void finish(sender *s, bool ok) {
    if (s->done) return;
    s->done = true;
    s->ok = ok;
    uv_stop(&s->loop);
}

static int push(int64_t **v, size_t *n, int64_t x) {
    int64_t *g = realloc(*v, (*n + 1) * sizeof **v);
    if (!g) return -1;
    g[(*n)++] = x;
    *v = g;
    return 0;
}

static void on_state(void *data, bool online) {
    sender *s = data;
    if (online && !s->online) {
        s->onlines++;
        s->since_online = s->sent;
    } else if (!online && s->online) {
        for (int64_t i = s->since_online; i < s->sent; i++)
            push(&s->at_risk, &s->n_risk, i);
    }
    s->online = online;
}

static int on_ack(void *data, vx_payload *p, const vx_route_ctx *ctx, vx_error *err) {
    sender *s = data;
    vx_value *r = vx_payload_result(p);
    vx_value *seq = vx_dict_get(vx_payload_filt(p), "seq");
    if (!seq || vx_typeof(seq) != VX_INT) return 0;
    if (!r || vx_typeof(r) != VX_BOOL || !vx_bool_value(r)) {
        fprintf(stderr, "vxload: send: seq %lld was refused\n",
                (long long)vx_int_value(seq));
        finish(s, false);
        return 0;
    }
    s->acked++;
    s->last_ack = vx_int_value(seq);
    if (s->last_ack == s->a->count - 1) finish(s, true);
    return 0;
}

static void on_tick(uv_timer_t *t) {
    sender *s = t->data;
    if (s->sent >= s->a->count) {
        uv_timer_stop(t);
        return;
    }
    vx_payload *p = vx_payload_new_key(s->a->key);
    vx_error err = {0};
    int rc = p ? vx_dict_set_new(vx_payload_filt(p), "seq", vx_int(s->sent)) : VX_E_NOMEM;
    bool online = vx_client_online(s->client);
    if (!rc) rc = vx_client_send(s->client, p, &err);
    vx_payload_decref(p);
    if (rc) {
        fprintf(stderr, "vxload: send: seq %lld: %s: %s\n", (long long)s->sent,
                vx_error_name(rc), err.message);
        finish(s, false);
        return;
    }
    if (!online) push(&s->offline, &s->n_offline, s->sent);
    s->sent++;
}

static void on_deadline(uv_timer_t *t) {
    sender *s = t->data;
    fprintf(stderr,
            "vxload: send: timeout: %lld sent, %lld acked (last %lld), last error: %s\n",
            (long long)s->sent, (long long)s->acked, (long long)s->last_ack,
            vx_client_last_error(s->client) ? vx_client_last_error(s->client) : "none");
    finish(s, false);
}

static void print_list(const int64_t *v, size_t n) {
    putchar('[');
    for (size_t i = 0; i < n; i++) printf("%s%lld", i ? ", " : "", (long long)v[i]);
    putchar(']');
}

int vxl_run_send(const vxl_args *a) {
    sender s;
    memset(&s, 0, sizeof s);
    s.a = a;
    s.last_ack = -1;
    uv_loop_init(&s.loop);
    vx_error err = {0};
    vx_node_opts no;
    vx_node_opts_init(&no);
    no.name = a->name;
    s.node = vx_node_new(&s.loop, &no, &err);
    vx_value *filt = vx_dict();
    int rc = !s.node || !filt;
    if (!rc) rc = vx_dict_set_new(filt, "key", vx_str(a->key));
    if (!rc) rc = vx_router_add(vx_node_router(s.node), filt, on_ack, &s, NULL, &err);
    vx_decref(filt);
    if (!rc) {
        /* Quick retries: the test restarts the server within about a second. */
        vx_client_opts co;
        vx_client_opts_init(&co);
        co.backoff_initial = 0.1;
        co.backoff_max = 0.5;
        co.dead_after = 5;
        s.client = vx_client_new(s.node, a->url, &co, &err);
        rc = !s.client;
    }
    if (!rc) rc = vx_client_on_state(s.client, on_state, &s);
    if (rc) {
        fprintf(stderr, "vxload: send: %s: %s\n", vx_error_name(err.code), err.message);
        if (s.client) vx_client_free(s.client);
        if (s.node) vx_node_free(s.node);
        while (uv_run(&s.loop, UV_RUN_DEFAULT)) {
        }
        uv_loop_close(&s.loop);
        return 1;
    }
    uv_timer_init(&s.loop, &s.tick);
    uv_timer_init(&s.loop, &s.deadline);
    s.tick.data = s.deadline.data = &s;
    uv_timer_start(&s.tick, on_tick, 0, (uint64_t)(a->interval ? a->interval : 1));
    uv_timer_start(&s.deadline, on_deadline, (uint64_t)(a->timeout * 1000), 0);
    uv_run(&s.loop, UV_RUN_DEFAULT);

    printf("{\"mode\": \"send\", \"ok\": %s, \"sent\": %lld, \"acked\": %lld, "
           "\"last_acked\": %lld, \"connects\": %d, \"offline\": ",
           s.ok ? "true" : "false", (long long)s.sent, (long long)s.acked,
           (long long)s.last_ack, s.onlines);
    print_list(s.offline, s.n_offline);
    printf(", \"at_risk\": ");
    print_list(s.at_risk, s.n_risk);
    printf("}\n");
    fflush(stdout);

    uv_close((uv_handle_t *)&s.tick, NULL);
    uv_close((uv_handle_t *)&s.deadline, NULL);
    vx_client_free(s.client);
    vx_node_free(s.node);
    while (uv_run(&s.loop, UV_RUN_DEFAULT)) {
    }
    uv_loop_close(&s.loop);
    free(s.offline);
    free(s.at_risk);
    return s.ok ? 0 : 1;
}
