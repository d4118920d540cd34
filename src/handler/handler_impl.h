/* Private parts of the handlers (PROTOCOL.md §14, docs/handlers.md), shared
 * by the sources in src/handler and the handler unit tests.
 *
 * Lifetimes. A handler's memory starts with a vxh_core that counts
 * references: one for the owner and one per job (a request being answered).
 * Freeing a handler marks the core `closed`, removes the endpoint, discards
 * jobs that have not started, and waits until no job is inside the thread
 * pool any more (cancelling those not yet picked up), so that afterwards
 * nothing reads the store, the tables, the hooks or the user's data. Jobs
 * that already started still finish on the loop (their after-callback), but
 * send nothing; the last one frees the memory.
 *
 * Ordering. Jobs of one sender (remote vortex uuid) run one after another
 * in arrival order in that sender's lane; lanes of different senders run
 * concurrently. A lane exists only while it has work. */
#ifndef VX_HANDLER_IMPL_H
#define VX_HANDLER_IMPL_H

#include <pthread.h>
#include <uv.h>

#include <vortexc/handler.h>

typedef struct vxh_core vxh_core;
typedef struct vxh_job vxh_job;
typedef struct vxh_lane vxh_lane;

/* One request being answered. Embedded first in each kind's job struct. */
struct vxh_job {
    vxh_core *core;
    vxh_lane *lane; /* NULL once the handler was freed */
    vxh_job *next;  /* in the lane's queue */
    char *sender;   /* uuid replies go to (copied) */
    char *sender_name;
    /* Loop thread: begin the job; it ends with vxh_job_done (now or later). */
    void (*start)(vxh_job *j);
    /* Thread pool part (vxh_job_queue_work) and its loop-side completion;
     * `cancelled`: the pool never ran `run` (the handler was freed). */
    void (*run)(vxh_job *j);
    void (*after)(vxh_job *j, bool cancelled);
    /* Release everything the job owns, and the job itself. */
    void (*free)(vxh_job *j);
    uv_work_t work;
    bool in_pool; /* queued to or running in the pool (under core->mu) */
};

struct vxh_core {
    vx_node *node;
    vx_value *filt; /* the handler's filt (our copy) */
    char *label;    /* its "key" as text, for messages */
    vx_endpoint_id ep;
    unsigned refs;
    bool closed; /* the owner freed the handler: send nothing, start nothing */
    /* lanes by sender uuid: chained hash, power-of-two buckets */
    vxh_lane **lanes;
    size_t n_buckets, n_lanes;
    /* jobs inside the thread pool, and the signal that one left it */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t n_in_pool;
    uint64_t replies_dropped;     /* the sender was gone (debug counter) */
    void (*destroy)(vxh_core *c); /* frees the handler once refs reach 0 */
};

/* ---- core.c ---- */
/* Copy `filt` (must hold "key"), register `fn` on the node's router with the
 * handler (`data`) as its data. 0 or an error (the core is left clean). */
int vxh_core_init(vxh_core *c, vx_node *node, const vx_value *filt, vx_endpoint_fn fn,
                  void *data, void (*destroy)(vxh_core *), vx_error *err);
/* The owner's free: see "Lifetimes" above. Drops the owner's reference. */
void vxh_core_close(vxh_core *c);
void vxh_core_unref(vxh_core *c);

/* Give `j` (zeroed except start/run/after/free) its sender and queue it in
 * that sender's lane; starts it now if the lane was idle. Takes a core
 * reference. On error (VX_E_NOMEM) `j` was freed with j->free. */
int vxh_job_submit(vxh_core *c, vxh_job *j, const char *sender, const char *sender_name);
/* The job is over: release it and start the next one of its lane. */
void vxh_job_done(vxh_job *j);
/* Hand j->run to the libuv thread pool; j->after runs on the loop after.
 * On failure (the loop refused) j->after runs now with cancelled = true. */
void vxh_job_queue_work(vxh_job *j);

/* ---- reply.c ---- */
/* NEW §14.1 rule 1 reply filt: the request's replyFilt if non-empty, else
 * the handler filt updated with every request filt entry. */
vx_value *vxh_reply_filt(const vx_value *handler_filt, const vx_payload *request);
/* NEW payload {filt: copy of reply_filt, tuples, result}; `tuples` and
 * `result` are stolen (NULL = [] and null). NULL on OOM. */
vx_payload *vxh_payload(const vx_value *reply_filt, vx_value *tuples, vx_value *result);
/* Send `p` to `uuid` unless the handler was freed. A sender that is gone is
 * counted (replies_dropped) and skipped; a reply that cannot be encoded
 * (e.g. a NaN a build returned) is replaced by an error reply saying so. */
void vxh_send(vxh_core *c, const char *uuid, vx_payload *p);
/* Send the error reply: reply filt, tuples [], result = message. */
void vxh_send_error(vxh_core *c, const char *uuid, const vx_value *reply_filt,
                    const char *message);
/* NEW str of `message`, with bytes that are not UTF-8 replaced by '?'. */
vx_value *vxh_message(const char *message);

/* ---- model.c (send_all.c builds on it) ---- */
/* A worker ModelHandler whose `data` is released with data_free when the
 * handler's memory goes (after the last job). */
vx_model_handler *vxh_model_new_worker_owned(vx_node *node, const vx_value *filt,
                                             vx_model_build_worker_fn build, void *data,
                                             void (*data_free)(void *), vx_error *err);
uint64_t vxh_model_replies_dropped(const vx_model_handler *h);

/* ---- crud.c / crud_work.c ---- */
typedef enum vxh_action {
    VXH_CREATE,
    VXH_RETRIEVE,
    VXH_UPDATE,
    VXH_DELETE,
    VXH_SUBSCRIBE,
    VXH_UNSUBSCRIBE,
} vxh_action;

typedef struct vxh_hooks_entry {
    char *type_name;
    vx_crud_hooks hooks;
    void *data;
} vxh_hooks_entry;

typedef struct vxh_sub {
    char *uuid;
    vx_value *id; /* NULL: every row */
} vxh_sub;

struct vx_crud_handler {
    vxh_core core; /* first: the core's memory is the handler's */
    vx_store *store;
    const vx_sql_table *table;
    const vx_sql_table **tables; /* [0] = table, then extra_tables */
    size_t n_tables;
    bool retrieve_all, observable;
    vxh_hooks_entry *hooks;
    size_t n_hooks;
    vx_observe_hub *hub;
    bool own_hub;
    vxh_sub *subs;
    size_t n_subs, cap_subs;
};

/* The work of one CRUD request, made on the loop, run in the pool. */
typedef struct vxh_crud_job {
    vxh_job base;
    vx_crud_handler *h;
    vxh_action action;
    vx_value *reply_filt; /* loop side only */
    /* worker inputs: clones sharing nothing with loop values */
    vx_value *id;     /* filt "id" or NULL */
    vx_value *tuples; /* the request's tuples */
    /* worker outputs, handed back to the loop in the after-callback */
    int rc;
    vx_error err;
    bool committed;                  /* the transaction committed (pushes are due) */
    vx_value *rows;                  /* NEW list: reply tuples (UPDATE: stored rows) */
    const vx_sql_table **row_tables; /* table of each of rows */
    vx_value *deleted;               /* NEW list: rows as they were before DELETE */
    const vx_sql_table **deleted_tables;
} vxh_crud_job;

/* Worker thread: do the job's database work and hooks, filling the outputs. */
void vxh_crud_work(vxh_crud_job *j);
/* Hooks registered for `type_name`, or NULL. */
const vxh_hooks_entry *vxh_crud_hooks_for(const vx_crud_handler *h, const char *type_name);

/* ---- observe.c ---- */
/* Join the hub (NULL: a private hub is made). */
int vxh_hub_attach(vx_crud_handler *h, vx_observe_hub *hub, vx_error *err);
void vxh_hub_detach(vx_crud_handler *h);
/* Record (uuid, id) for h, replacing an earlier subscription of uuid. */
int vxh_sub_add(vx_crud_handler *h, const char *uuid, const vx_value *id);
/* true if uuid was subscribed. */
bool vxh_sub_remove(vx_crud_handler *h, const char *uuid);
void vxh_subs_clear(vx_crud_handler *h);
/* Rows (BORROWED list) of `table` were stored (or deleted): push them to the
 * subscribers of every handler on h's hub whose table is `table`. */
void vxh_hub_changed(vx_crud_handler *h, const vx_sql_table *table, vx_value *rows,
                     bool deleted);

#endif
