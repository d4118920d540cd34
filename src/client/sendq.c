/* The client's bounded send queue (PROTOCOL §11): a ring of shared msgs. */
#include <stdlib.h>

#include "client/client_impl.h"

static int grow(vx_sendq *q, size_t need) {
    if (need <= q->cap) return 0;
    size_t cap = q->cap ? q->cap : 16;
    while (cap < need) cap *= 2;
    vx_msgbuf **items = malloc(cap * sizeof *items);
    if (!items) return VX_E_NOMEM;
    for (size_t i = 0; i < q->count; i++) items[i] = q->items[(q->head + i) % q->cap];
    free(q->items);
    q->items = items;
    q->cap = cap;
    q->head = 0;
    return 0;
}

int vx_sendq_push(vx_sendq *q, vx_msgbuf *m, size_t max, size_t busy) {
    size_t add = m->len + 1;
    bool empty = q->count == 0 && busy == 0;
    if (!empty && (q->bytes + busy > max || add > max - q->bytes - busy))
        return VX_E_QUEUE_FULL;
    if (grow(q, q->count + 1)) return VX_E_NOMEM;
    q->items[(q->head + q->count) % q->cap] = vx_msgbuf_incref(m);
    q->count++;
    q->bytes += add;
    return 0;
}

int vx_sendq_push_front(vx_sendq *q, vx_msgbuf **ms, size_t n) {
    if (grow(q, q->count + n)) {
        for (size_t i = 0; i < n; i++) vx_msgbuf_decref(ms[i]);
        return VX_E_NOMEM;
    }
    for (size_t i = n; i-- > 0;) {
        q->head = (q->head + q->cap - 1) % q->cap;
        q->items[q->head] = ms[i];
        q->count++;
        q->bytes += ms[i]->len + 1;
    }
    return 0;
}

vx_msgbuf *vx_sendq_pop(vx_sendq *q) {
    if (q->count == 0) return NULL;
    vx_msgbuf *m = q->items[q->head];
    q->head = (q->head + 1) % q->cap;
    q->count--;
    q->bytes -= m->len + 1;
    return m;
}

void vx_sendq_clear(vx_sendq *q) {
    vx_msgbuf *m;
    while ((m = vx_sendq_pop(q))) vx_msgbuf_decref(m);
    free(q->items);
    *q = (vx_sendq){0};
}
