/* Handlers (PROTOCOL.md §14): endpoints that answer requests with built
 * data (ModelHandler, SendAllHandler) or create, read, update and delete
 * rows of a SQL store as tuples (CrudHandler), plus observation: remote
 * vortexes subscribed to a CrudHandler's data get every committed change
 * pushed to them (docs/handlers.md has the exact payloads).
 *
 * Replies go to the sender by uuid through the node, so a reply may be sent
 * after the dispatch that carried the request has returned (asynchronous
 * builds, database work on the libuv thread pool). Requests from one remote
 * vortex are answered in arrival order per handler; requests from different
 * remotes run concurrently.
 *
 * Create, use and free handlers on the node's loop thread. */
#ifndef VORTEXC_HANDLER_H
#define VORTEXC_HANDLER_H

#include "node.h"
#include "sql.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- ModelHandler (§14.1) ---------------------------------------------- */

typedef struct vx_model_handler vx_model_handler;

/* What a build produced. Set at most one of `tuples` (a NEW list: sent with
 * the reply filt and result null) or `payload` (a NEW complete payload: sent
 * as is); neither means no reply. */
typedef struct vx_model_result {
    vx_value *tuples;
    vx_payload *payload;
} vx_model_result;

/* Synchronous build, on the loop thread. `request` is BORROWED. Return 0
 * with `out` filled, or a VX_E_* code with `err` filled: the sender then
 * gets exactly one error reply (tuples [], result = err->message). */
typedef int (*vx_model_build_fn)(void *data, const vx_payload *request,
                                 const vx_route_ctx *ctx, vx_model_result *out,
                                 vx_error *err);

/* Asynchronous build: the handler hands over a completion token; the build
 * finishes later on the loop thread with vx_model_complete() or
 * vx_model_fail(), exactly once (e.g. from a uv_queue_work after-callback).
 * `request` is BORROWED for the duration of the call: incref or copy it to
 * keep it. */
typedef struct vx_model_pending vx_model_pending;
typedef void (*vx_model_build_async_fn)(void *data, const vx_payload *request,
                                        const vx_route_ctx *ctx, vx_model_pending *pending);
/* Complete: `result` members are stolen. Loop thread only. */
void vx_model_complete(vx_model_pending *pending, vx_model_result *result);
void vx_model_fail(vx_model_pending *pending, const char *message);

/* Worker-thread build: runs on the libuv thread pool with a deep copy of the
 * request (safe to read there; values are not shared with the loop), and the
 * result is sent from the loop when it completes. */
typedef int (*vx_model_build_worker_fn)(void *data, const vx_payload *request,
                                        vx_model_result *out, vx_error *err);

/* Handler on `filt` (BORROWED dict with "key"; copied). Registers a router
 * endpoint on the node. NULL with err filled on failure. */
vx_model_handler *vx_model_handler_new(vx_node *node, const vx_value *filt,
                                       vx_model_build_fn build, void *data, vx_error *err);
vx_model_handler *vx_model_handler_new_async(vx_node *node, const vx_value *filt,
                                             vx_model_build_async_fn build, void *data,
                                             vx_error *err);
vx_model_handler *vx_model_handler_new_worker(vx_node *node, const vx_value *filt,
                                              vx_model_build_worker_fn build, void *data,
                                              vx_error *err);
/* Remove the endpoint and free the handler. Builds still pending complete
 * without sending anything; worker builds already running are waited for
 * (after the call no build of this handler runs on the pool any more).
 * NULL is a no-op. */
void vx_model_handler_free(vx_model_handler *h);

/* SendAllHandler: a ModelHandler that replies with every row of `table`
 * (loaded on the thread pool). */
vx_model_handler *vx_send_all_handler_new(vx_node *node, const vx_value *filt,
                                          vx_store *store, const vx_sql_table *table,
                                          vx_error *err);

/* ---- CrudHandler (§14.2) and observation -------------------------------- */

typedef struct vx_crud_handler vx_crud_handler;

/* Hooks of one tuple type, run on the worker thread inside the transaction
 * (ss is the session doing the work). Each may change `tuple` in place
 * (uiData: what is sent). Return 0 or a VX_E_* code with err filled: before
 * commit this rolls back; the sender gets one error reply. NULL = none. */
typedef int (*vx_crud_hook_fn)(void *data, vx_sql_session *ss, vx_value *tuple,
                               vx_error *err);
typedef struct vx_crud_hooks {
    vx_crud_hook_fn after_create, after_retrieve;
    vx_crud_hook_fn before_update, middle_update, after_update, after_update_commit;
    vx_crud_hook_fn before_delete;
    vx_crud_hook_fn ui_data;
} vx_crud_hooks;

/* Handlers sharing a hub tell each other's subscribers about changes: a row
 * of table T changed through any handler reaches the subscribers of every
 * handler on the hub whose table is T. */
typedef struct vx_observe_hub vx_observe_hub;
/* NULL on out of memory. */
vx_observe_hub *vx_observe_hub_new(vx_node *node);
/* Free after every handler using it. NULL is a no-op. */
void vx_observe_hub_free(vx_observe_hub *hub);

typedef struct vx_crud_opts {
    bool retrieve_all; /* CREATE replies with every row instead of a new tuple */
    bool observable;   /* accept subscribe/unsubscribe (default true) */
    /* Other tables whose tuples an UPDATE/DELETE payload may also carry
     * (several tuple types in one payload); the handler's own table is
     * always accepted. */
    const vx_sql_table *const *extra_tables;
    size_t n_extra_tables;
    vx_observe_hub *hub; /* NULL: a private hub */
} vx_crud_opts;
void vx_crud_opts_init(vx_crud_opts *opts);

/* CrudHandler on `filt` (BORROWED dict with "key") for the rows of `table`
 * in `store` (both BORROWED; must outlive the handler). Database work runs
 * on the libuv thread pool; replies are sent when it completes. */
vx_crud_handler *vx_crud_handler_new(vx_node *node, const vx_value *filt, vx_store *store,
                                     const vx_sql_table *table, const vx_crud_opts *opts,
                                     vx_error *err);
/* Hooks for tuples of `type_name` handled by this handler (copied; `data`
 * is used on pool threads). Set them before requests arrive: hooks are read
 * by the worker threads without a lock. Setting a type again replaces its
 * hooks. */
int vx_crud_handler_set_hooks(vx_crud_handler *h, const char *type_name,
                              const vx_crud_hooks *hooks, void *data, vx_error *err);
/* Current number of subscribed remote vortexes. */
size_t vx_crud_handler_subscriber_count(const vx_crud_handler *h);
/* Remove the endpoint, drop subscriptions and free the handler; work in
 * flight completes without sending: requests not started are dropped, and
 * work already on the thread pool is waited for, so after the call no hook
 * or store call of this handler runs any more (the store may be freed).
 * Free handlers before their hub, and both before the node. NULL is a no-op. */
void vx_crud_handler_free(vx_crud_handler *h);

#ifdef __cplusplus
}
#endif
#endif
