/* SendAllHandler (PROTOCOL.md §14.2, last paragraph): a worker ModelHandler
 * whose build loads every row of one table on the thread pool. */
#include <stdlib.h>

#include "handler/handler_impl.h"

typedef struct send_all {
    vx_store *store;
    const vx_sql_table *table;
} send_all;

static int build_all(void *data, const vx_payload *request, vx_model_result *out,
                     vx_error *err) {
    (void)request;
    send_all *s = data;
    vx_sql_session *ss = NULL;
    int rc = vx_store_acquire(s->store, &ss, err);
    if (rc < 0) return rc;
    rc = vx_sql_load_all(ss, s->table, &out->tuples, err);
    vx_store_release(ss);
    return rc;
}

vx_model_handler *vx_send_all_handler_new(vx_node *node, const vx_value *filt,
                                          vx_store *store, const vx_sql_table *table,
                                          vx_error *err) {
    if (!store || !table) {
        vx_error_set(err, VX_E_INVAL, "send-all handler: a store and a table are required");
        return NULL;
    }
    send_all *s = malloc(sizeof *s);
    if (!s) {
        vx_error_set(err, VX_E_NOMEM, "send-all handler: out of memory");
        return NULL;
    }
    s->store = store;
    s->table = table;
    return vxh_model_new_worker_owned(node, filt, build_all, s, free, err);
}
