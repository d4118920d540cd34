/* vx_buf: the growable byte buffer every encoder appends to. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vortexc/codec.h>

void vx_buf_free(vx_buf *b) {
    if (!b) return;
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

int vx_buf_reserve(vx_buf *b, size_t extra) {
    if (extra <= b->cap - b->len) return 0;
    if (extra > SIZE_MAX - b->len) return VX_E_NOMEM;
    size_t need = b->len + extra;
    /* Double so that a run of small appends costs amortised O(1). */
    size_t cap = b->cap < 64 ? 64 : b->cap;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *d = realloc(b->data, cap);
    if (!d) return VX_E_NOMEM;
    b->data = d;
    b->cap = cap;
    return 0;
}

int vx_buf_append(vx_buf *b, const void *data, size_t len) {
    if (len == 0) return 0;
    int rc = vx_buf_reserve(b, len);
    if (rc) return rc;
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return 0;
}
