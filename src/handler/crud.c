/* CrudHandler (PROTOCOL.md §14.2): the decision table, the jobs that carry a
 * request to the thread pool and its reply back, and the pushes to
 * subscribers after a commit (docs/handlers.md). The database work itself
 * is in crud_work.c. */
#include <stdlib.h>
#include <string.h>

#include "handler/handler_impl.h"
#include "value/value_impl.h"

void vx_crud_opts_init(vx_crud_opts *opts) {
    memset(opts, 0, sizeof *opts);
    opts->retrieve_all = false;
    opts->observable = true;
}

const vxh_hooks_entry *vxh_crud_hooks_for(const vx_crud_handler *h, const char *type_name) {
    for (size_t i = 0; i < h->n_hooks; i++)
        if (strcmp(h->hooks[i].type_name, type_name) == 0) return &h->hooks[i];
    return NULL;
}

/* ---- jobs ------------------------------------------------------------------ */

static void job_free(vxh_job *j) {
    vxh_crud_job *q = (vxh_crud_job *)j;
    vx_decref(q->reply_filt);
    vx_decref(q->id);
    vx_decref(q->tuples);
    vx_decref(q->rows);
    vx_decref(q->deleted);
    free(q->row_tables);
    free(q->deleted_tables);
    free(j->sender);
    free(j->sender_name);
    free(q);
}

/* Push the rows of each table (in first-seen order) to its subscribers. */
static void push_by_table(vx_crud_handler *h, vx_value *rows, const vx_sql_table **tables,
                          bool deleted) {
    size_t n = vx_list_size(rows);
    if (!n || !tables) return;
    bool *done = calloc(n, sizeof *done);
    if (!done) return;
    for (size_t i = 0; i < n; i++) {
        if (done[i]) continue;
        vx_value *group = vx_list();
        for (size_t k = i; group && k < n; k++) {
            if (done[k] || tables[k] != tables[i]) continue;
            done[k] = true;
            if (vx_list_append(group, vx_list_get(rows, k)) < 0) break;
        }
        if (group) vxh_hub_changed(h, tables[i], group, deleted);
        vx_decref(group);
    }
    free(done);
}

static void after(vxh_job *j, bool cancelled) {
    vxh_crud_job *q = (vxh_crud_job *)j;
    vx_crud_handler *h = q->h;
    if (j->core->closed) goto out; /* freed meanwhile: nothing is sent */
    if (cancelled) {
        vxh_send_error(j->core, j->sender, q->reply_filt, "the request was cancelled");
        goto out;
    }
    if (q->rc < 0) {
        /* A subscription whose rows cannot be read (a bogus id) ends now. */
        if (q->action == VXH_SUBSCRIBE) vxh_sub_remove(h, j->sender);
        vxh_send_error(j->core, j->sender, q->reply_filt,
                       q->err.message[0] ? q->err.message : vx_strerror(q->rc));
    } else {
        bool write = q->action == VXH_UPDATE || q->action == VXH_DELETE;
        vx_value *tuples = q->action == VXH_DELETE ? vx_list() : vx_incref(q->rows);
        vx_payload *p =
            vxh_payload(q->reply_filt, tuples, write ? vx_bool(true) : vx_null());
        if (p) vxh_send(j->core, j->sender, p);
        vx_payload_decref(p);
    }
    /* After the writer's reply, so a subscribed writer gets its reply first. */
    if (q->committed && q->action == VXH_UPDATE)
        push_by_table(h, q->rows, q->row_tables, false);
    if (q->committed && q->action == VXH_DELETE)
        push_by_table(h, q->deleted, q->deleted_tables, true);
out:
    vxh_job_done(j);
}

static void run(vxh_job *j) {
    vxh_crud_work((vxh_crud_job *)j);
}

static void start(vxh_job *j) {
    vxh_crud_job *q = (vxh_crud_job *)j;
    vx_crud_handler *h = q->h;
    if (q->action == VXH_UNSUBSCRIBE) {
        vxh_sub_remove(h, j->sender);
        vx_payload *p = vxh_payload(q->reply_filt, NULL, vx_bool(true));
        if (p) vxh_send(j->core, j->sender, p);
        vx_payload_decref(p);
        vxh_job_done(j);
        return;
    }
    /* A sender already forgotten (it left while earlier requests ran)
     * would never be unsubscribed: its subscribe is answered (the reply is
     * dropped) but not recorded. */
    bool known = strcmp(j->sender, vx_node_uuid(j->core->node)) == 0 ||
                 vx_node_has_remote(j->core->node, j->sender);
    if (q->action == VXH_SUBSCRIBE && known) {
        /* Recorded before the rows are read: a change committed after the
         * read is pushed, one committed before is in the reply. */
        if (vxh_sub_add(h, j->sender, q->id) < 0) {
            vxh_send_error(j->core, j->sender, q->reply_filt, "out of memory subscribing");
            vxh_job_done(j);
            return;
        }
    }
    vxh_job_queue_work(j);
}

/* ---- dispatch: the decision table ------------------------------------------ */

static bool is_true(const vx_value *v) {
    return vx_typeof(v) == VX_BOOL && vx_bool_value(v); /* 1 does not count (§7.2) */
}

static vxh_action decide(const vx_crud_handler *h, const vx_payload *p,
                         const vx_value *id) {
    const vx_value *filt = vx_payload_filt(p);
    if (h->observable && is_true(vx_dict_get(filt, "unsubscribe"))) return VXH_UNSUBSCRIBE;
    if (h->observable && is_true(vx_dict_get(filt, "subscribe"))) return VXH_SUBSCRIBE;
    if (is_true(vx_dict_get(filt, "delete"))) return VXH_DELETE;
    if (vx_list_size(vx_payload_tuples(p))) return VXH_UPDATE;
    if (id) return VXH_RETRIEVE;
    return VXH_CREATE;
}

static int endpoint(void *data, vx_payload *p, const vx_route_ctx *ctx, vx_error *err) {
    (void)err;
    vx_crud_handler *h = data;
    if (h->core.closed) return 0;
    vx_value *id = vx_dict_get(vx_payload_filt(p), "id");
    if (vx_is_null(id)) id = NULL; /* absent or null = absent */
    vxh_crud_job *q = calloc(1, sizeof *q);
    if (!q) return 0;
    q->h = h;
    q->base.start = start;
    q->base.run = run;
    q->base.after = after;
    q->base.free = job_free;
    q->action = decide(h, p, id);
    q->reply_filt = vxh_reply_filt(h->core.filt, p);
    /* The worker gets clones: reference counts are not atomic. */
    q->id = id ? vx_clone(id) : NULL;
    if (q->action == VXH_UPDATE || q->action == VXH_DELETE)
        q->tuples = vx_clone(vx_payload_tuples(p));
    if (!q->reply_filt || (id && !q->id) ||
        ((q->action == VXH_UPDATE || q->action == VXH_DELETE) && !q->tuples)) {
        job_free(&q->base);
        return 0; /* out of memory: the request is dropped */
    }
    vxh_job_submit(&h->core, &q->base, ctx->sender_uuid, ctx->sender_name);
    return 0;
}

/* ---- lifecycle -------------------------------------------------------------- */

static void destroy(vxh_core *c) {
    vx_crud_handler *h = (vx_crud_handler *)c;
    for (size_t i = 0; i < h->n_hooks; i++) free(h->hooks[i].type_name);
    free(h->hooks);
    free(h->tables);
    free(h);
}

vx_crud_handler *vx_crud_handler_new(vx_node *node, const vx_value *filt, vx_store *store,
                                     const vx_sql_table *table, const vx_crud_opts *opts,
                                     vx_error *err) {
    vx_crud_opts defaults;
    if (!opts) {
        vx_crud_opts_init(&defaults);
        opts = &defaults;
    }
    if (!store || !table) {
        vx_error_set(err, VX_E_INVAL, "crud handler: a store and a table are required");
        return NULL;
    }
    if (opts->n_extra_tables && !opts->extra_tables) {
        vx_error_set(err, VX_E_INVAL, "crud handler: n_extra_tables without extra_tables");
        return NULL;
    }
    vx_crud_handler *h = calloc(1, sizeof *h);
    if (h) h->tables = calloc(1 + opts->n_extra_tables, sizeof *h->tables);
    if (!h || !h->tables) {
        if (h) free(h);
        vx_error_set(err, VX_E_NOMEM, "crud handler: out of memory");
        return NULL;
    }
    h->store = store;
    h->table = table;
    h->tables[h->n_tables++] = table;
    for (size_t i = 0; i < opts->n_extra_tables; i++) {
        const vx_sql_table *t = opts->extra_tables[i];
        bool dup = !t;
        for (size_t k = 0; k < h->n_tables && !dup; k++) dup = h->tables[k] == t;
        if (!dup) h->tables[h->n_tables++] = t;
    }
    h->retrieve_all = opts->retrieve_all;
    h->observable = opts->observable;
    if (vxh_core_init(&h->core, node, filt, endpoint, h, destroy, err) < 0) {
        free(h->tables);
        free(h);
        return NULL;
    }
    if (vxh_hub_attach(h, opts->hub, err) < 0) {
        vxh_core_close(&h->core);
        return NULL;
    }
    return h;
}

int vx_crud_handler_set_hooks(vx_crud_handler *h, const char *type_name,
                              const vx_crud_hooks *hooks, void *data, vx_error *err) {
    if (!h || !type_name || !hooks)
        return vx_error_set(err, VX_E_INVAL, "vx_crud_handler_set_hooks: NULL argument");
    for (size_t i = 0; i < h->n_hooks; i++) {
        if (strcmp(h->hooks[i].type_name, type_name) == 0) {
            h->hooks[i].hooks = *hooks;
            h->hooks[i].data = data;
            return 0;
        }
    }
    vxh_hooks_entry *e = realloc(h->hooks, (h->n_hooks + 1) * sizeof *e);
    if (!e) return vx_error_set(err, VX_E_NOMEM, "out of memory");
    h->hooks = e;
    char *name = strdup(type_name);
    if (!name) return vx_error_set(err, VX_E_NOMEM, "out of memory");
    h->hooks[h->n_hooks++] = (vxh_hooks_entry){name, *hooks, data};
    return 0;
}

size_t vx_crud_handler_subscriber_count(const vx_crud_handler *h) {
    return h ? h->n_subs : 0;
}

void vx_crud_handler_free(vx_crud_handler *h) {
    if (!h) return;
    vxh_subs_clear(h);
    vxh_hub_detach(h);
    vxh_core_close(&h->core);
}
