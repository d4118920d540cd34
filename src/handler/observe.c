/* Observation (docs/handlers.md): subscriptions of remote vortexes to a
 * CrudHandler's rows, and the hub that pushes every committed change of a
 * table to the subscribers of all its handlers on that table. A hub listens
 * for forgotten remote vortexes and ends their subscriptions. */
#include <stdlib.h>
#include <string.h>

#include "handler/handler_impl.h"

struct vx_observe_hub {
    vx_node *node;
    vx_crud_handler **handlers;
    size_t n, cap;
};

/* ---- subscriptions ----------------------------------------------------------- */

static void sub_release(vxh_sub *s) {
    free(s->uuid);
    vx_decref(s->id);
}

static vxh_sub *sub_find(vx_crud_handler *h, const char *uuid) {
    for (size_t i = 0; i < h->n_subs; i++)
        if (strcmp(h->subs[i].uuid, uuid) == 0) return &h->subs[i];
    return NULL;
}

int vxh_sub_add(vx_crud_handler *h, const char *uuid, const vx_value *id) {
    vx_value *idc = id ? vx_deep_copy(id) : NULL;
    if (id && !idc) return VX_E_NOMEM;
    vxh_sub *s = sub_find(h, uuid);
    if (s) { /* a repeated subscribe replaces the earlier one */
        vx_decref(s->id);
        s->id = idc;
        return 0;
    }
    if (h->n_subs == h->cap_subs) {
        size_t cap = h->cap_subs ? h->cap_subs * 2 : 8;
        vxh_sub *n = realloc(h->subs, cap * sizeof *n);
        if (!n) {
            vx_decref(idc);
            return VX_E_NOMEM;
        }
        h->subs = n;
        h->cap_subs = cap;
    }
    char *u = strdup(uuid);
    if (!u) {
        vx_decref(idc);
        return VX_E_NOMEM;
    }
    h->subs[h->n_subs++] = (vxh_sub){u, idc};
    return 0;
}

bool vxh_sub_remove(vx_crud_handler *h, const char *uuid) {
    vxh_sub *s = sub_find(h, uuid);
    if (!s) return false;
    sub_release(s);
    *s = h->subs[--h->n_subs]; /* order does not matter */
    return true;
}

void vxh_subs_clear(vx_crud_handler *h) {
    for (size_t i = 0; i < h->n_subs; i++) sub_release(&h->subs[i]);
    free(h->subs);
    h->subs = NULL;
    h->n_subs = h->cap_subs = 0;
}

/* ---- hub ---------------------------------------------------------------------- */

static void on_remote(void *data, const vx_remote_info *remote, bool joined) {
    vx_observe_hub *hub = data;
    if (joined) return;
    for (size_t i = 0; i < hub->n; i++) vxh_sub_remove(hub->handlers[i], remote->uuid);
}

vx_observe_hub *vx_observe_hub_new(vx_node *node) {
    if (!node) return NULL;
    vx_observe_hub *hub = calloc(1, sizeof *hub);
    if (!hub) return NULL;
    hub->node = node;
    if (vx_node_add_remote_listener(node, on_remote, hub) < 0) {
        free(hub);
        return NULL;
    }
    return hub;
}

void vx_observe_hub_free(vx_observe_hub *hub) {
    if (!hub) return;
    /* Handlers still attached (a misuse) keep working without pushes. */
    for (size_t i = 0; i < hub->n; i++) hub->handlers[i]->hub = NULL;
    vx_node_remove_remote_listener(hub->node, on_remote, hub);
    free(hub->handlers);
    free(hub);
}

int vxh_hub_attach(vx_crud_handler *h, vx_observe_hub *hub, vx_error *err) {
    if (hub && hub->node != h->core.node)
        return vx_error_set(err, VX_E_INVAL,
                            "crud handler: the hub belongs to another node");
    if (!hub) {
        hub = vx_observe_hub_new(h->core.node);
        if (!hub) return vx_error_set(err, VX_E_NOMEM, "crud handler: out of memory");
        h->own_hub = true;
    }
    if (hub->n == hub->cap) {
        size_t cap = hub->cap ? hub->cap * 2 : 4;
        vx_crud_handler **n = realloc(hub->handlers, cap * sizeof *n);
        if (!n) {
            if (h->own_hub) vx_observe_hub_free(hub);
            h->own_hub = false;
            return vx_error_set(err, VX_E_NOMEM, "crud handler: out of memory");
        }
        hub->handlers = n;
        hub->cap = cap;
    }
    hub->handlers[hub->n++] = h;
    h->hub = hub;
    return 0;
}

void vxh_hub_detach(vx_crud_handler *h) {
    vx_observe_hub *hub = h->hub;
    if (!hub) return;
    for (size_t i = 0; i < hub->n; i++) {
        if (hub->handlers[i] != h) continue;
        memmove(&hub->handlers[i], &hub->handlers[i + 1],
                (hub->n - i - 1) * sizeof hub->handlers[0]);
        hub->n--;
        break;
    }
    h->hub = NULL;
    if (h->own_hub) vx_observe_hub_free(hub);
    h->own_hub = false;
}

/* ---- pushes ------------------------------------------------------------------- */

typedef struct snap {
    char **uuids;
    vx_value **ids;
    size_t n;
} snap;

static void snap_free(snap *s) {
    for (size_t i = 0; i < s->n; i++) {
        free(s->uuids[i]);
        vx_decref(s->ids[i]);
    }
    free(s->uuids);
    free(s->ids);
}

/* A copy of the subscriptions: sending may forget remotes, whose listener
 * then edits the live list. */
static int snap_take(const vx_crud_handler *h, snap *s) {
    memset(s, 0, sizeof *s);
    if (!h->n_subs) return 0;
    s->uuids = calloc(h->n_subs, sizeof *s->uuids);
    s->ids = calloc(h->n_subs, sizeof *s->ids);
    if (!s->uuids || !s->ids) {
        snap_free(s);
        return VX_E_NOMEM;
    }
    for (size_t i = 0; i < h->n_subs; i++) {
        s->uuids[i] = strdup(h->subs[i].uuid);
        s->ids[i] = vx_incref(h->subs[i].id);
        s->n++;
        if (!s->uuids[i]) {
            snap_free(s);
            return VX_E_NOMEM;
        }
    }
    return 0;
}

static void send_to(vx_crud_handler *h, const vx_value *filt, vx_value *tuples,
                    const char *const *uuids, size_t n) {
    if (!n) {
        vx_decref(tuples);
        return;
    }
    vx_payload *p = vxh_payload(filt, tuples, NULL);
    if (!p) return;
    vx_error err;
    size_t sent = 0;
    (void)vx_node_send_uuids(h->core.node, uuids, n, p, &sent, &err);
    h->core.replies_dropped += n - (sent < n ? sent : n);
    vx_payload_decref(p);
}

static void push(vx_crud_handler *h, const vx_sql_table *table, vx_value *rows,
                 bool deleted) {
    snap s;
    if (!h->n_subs || snap_take(h, &s) < 0) return;
    vx_value *filt = vx_deep_copy(h->core.filt);
    const char **batch = calloc(s.n, sizeof *batch);
    bool *done = calloc(s.n, sizeof *done);
    if (!filt || !batch || !done || vx_dict_set_new(filt, "subscribe", vx_bool(true)) < 0 ||
        (deleted && vx_dict_set_new(filt, "delete", vx_bool(true)) < 0))
        goto out;
    /* Whole-table subscribers: one payload, encoded once. */
    size_t nb = 0;
    for (size_t i = 0; i < s.n; i++)
        if (!s.ids[i]) batch[nb++] = s.uuids[i], done[i] = true;
    send_to(h, filt, vx_incref(rows), batch, nb);
    /* Id-scoped subscribers: their row only, once per distinct id. */
    size_t pk = vx_sql_table_pk_index(table);
    for (size_t i = 0; i < s.n; i++) {
        if (done[i]) continue;
        nb = 0;
        for (size_t k = i; k < s.n; k++) {
            if (done[k] || !vx_filt_value_equal(s.ids[i], s.ids[k])) continue;
            done[k] = true;
            batch[nb++] = s.uuids[k];
        }
        done[i] = true;
        if (!nb) continue; /* an id equal to nothing (NaN) */
        vx_value *mine = vx_list();
        for (size_t r = 0; mine && r < vx_list_size(rows); r++) {
            vx_value *row = vx_list_get(rows, r);
            if (vx_filt_value_equal(s.ids[i], vx_tuple_get_at(row, pk)))
                vx_list_append(mine, row);
        }
        if (mine && vx_list_size(mine))
            send_to(h, filt, mine, batch, nb);
        else
            vx_decref(mine);
    }
out:
    free(batch);
    free(done);
    vx_decref(filt);
    snap_free(&s);
}

void vxh_hub_changed(vx_crud_handler *h, const vx_sql_table *table, vx_value *rows,
                     bool deleted) {
    vx_observe_hub *hub = h->hub;
    if (!hub) {
        if (h->table == table) push(h, table, rows, deleted);
        return;
    }
    /* A snapshot of the handlers: nothing here frees one, but the list is
     * the hub's and a listener run by a send could change it. */
    size_t n = hub->n;
    vx_crud_handler **hs = malloc(n * sizeof *hs);
    if (!hs) return;
    memcpy(hs, hub->handlers, n * sizeof *hs);
    for (size_t i = 0; i < n; i++)
        if (hs[i]->table == table && !hs[i]->core.closed) push(hs[i], table, rows, deleted);
    free(hs);
}
