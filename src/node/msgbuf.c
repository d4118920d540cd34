/* Shared encoded msgs (conn.h): one allocation holds the count and bytes,
 * so a broadcast to N connections costs one encode and N reference bumps.
 * Also the ring-buffer queue of msgbufs used for pending and local msgs. */
#include <stdlib.h>
#include <string.h>

#include "node/node_impl.h"

vx_msgbuf *vx_msgbuf_new(const char *data, size_t len) {
    if (len > SIZE_MAX - sizeof(vx_msgbuf) - 1) return NULL;
    vx_msgbuf *m = malloc(sizeof *m + len + 1);
    if (!m) return NULL;
    m->refcount = 1;
    m->heartbeat = false;
    m->len = len;
    if (len) memcpy(m->data, data, len);
    m->data[len] = '\0'; /* handy for logs and tests; not part of the msg */
    return m;
}

vx_msgbuf *vx_msgbuf_incref(vx_msgbuf *m) {
    if (m) m->refcount++;
    return m;
}

void vx_msgbuf_decref(vx_msgbuf *m) {
    if (m && --m->refcount == 0) free(m);
}

/* ---- queue ---------------------------------------------------------------- */

static int queue_grow(vxn_queue *q) {
    if (q->len < q->cap) return 0;
    size_t cap = q->cap ? q->cap * 2 : 8;
    vx_msgbuf **items = malloc(cap * sizeof *items);
    if (!items) return VX_E_NOMEM;
    for (size_t i = 0; i < q->len; i++) items[i] = q->items[(q->head + i) % q->cap];
    free(q->items);
    q->items = items;
    q->head = 0;
    q->cap = cap;
    return 0;
}

int vxn_queue_push_back(vxn_queue *q, vx_msgbuf *m) {
    if (queue_grow(q) < 0) {
        vx_msgbuf_decref(m);
        return VX_E_NOMEM;
    }
    q->items[(q->head + q->len) % q->cap] = m;
    q->len++;
    q->bytes += m->len + 1;
    return 0;
}

int vxn_queue_push_front(vxn_queue *q, vx_msgbuf *m) {
    if (queue_grow(q) < 0) {
        vx_msgbuf_decref(m);
        return VX_E_NOMEM;
    }
    q->head = (q->head + q->cap - 1) % q->cap;
    q->items[q->head] = m;
    q->len++;
    q->bytes += m->len + 1;
    return 0;
}

vx_msgbuf *vxn_queue_front(const vxn_queue *q) {
    return q->len ? q->items[q->head] : NULL;
}

vx_msgbuf *vxn_queue_pop_front(vxn_queue *q) {
    if (!q->len) return NULL;
    vx_msgbuf *m = q->items[q->head];
    q->head = (q->head + 1) % q->cap;
    q->len--;
    q->bytes -= m->len + 1;
    return m;
}

size_t vxn_queue_clear(vxn_queue *q) {
    size_t n = q->len;
    while (q->len) vx_msgbuf_decref(vxn_queue_pop_front(q));
    q->head = 0;
    return n;
}

void vxn_queue_free(vxn_queue *q) {
    vxn_queue_clear(q);
    free(q->items);
    q->items = NULL;
    q->cap = 0;
}
