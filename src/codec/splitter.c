/* Splitting '.'-delimited byte streams into msgs (PROTOCOL §2.3).
 *
 * Items that lie wholly inside one fed chunk are handed to the callback in
 * place; only the head of an item cut by a chunk boundary is copied into
 * `part`, once, and completed there. An item that grows past the limit is
 * reported once and then skipped through its '.' without being stored, so
 * a peer cannot make the splitter hold more than max_msg_bytes.
 *
 * The callback must not call vx_splitter_feed or vx_splitter_finish on the
 * splitter that is calling it (they fail or do nothing); it may call
 * vx_splitter_free, which then takes effect when the running feed/finish
 * returns, delivering no further items. All state is updated before each
 * callback, so vx_splitter_pending is accurate inside it. */
#include <stdlib.h>
#include <string.h>

#include <vortexc/codec.h>

/* A partial-item buffer grown past this by one large msg is released after
 * that msg, rather than pinned for the life of the connection. */
#define SPLIT_KEEP_BYTES (1u * 1024 * 1024)

struct vx_splitter {
    size_t max;
    vx_split_fn fn;
    void *data;
    vx_buf part;     /* head of the item cut by the last chunk boundary */
    bool discarding; /* skipping the rest of an abandoned item */
    bool in_callback;
    bool free_requested; /* vx_splitter_free called from the callback */
};

vx_splitter *vx_splitter_new(size_t max_msg_bytes, vx_split_fn fn, void *data) {
    vx_splitter *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->max = max_msg_bytes;
    s->fn = fn;
    s->data = data;
    return s;
}

static void destroy(vx_splitter *s) {
    vx_buf_free(&s->part);
    free(s);
}

void vx_splitter_free(vx_splitter *s) {
    if (!s) return;
    if (s->in_callback) {
        s->free_requested = true;
        return;
    }
    destroy(s);
}

size_t vx_splitter_pending(const vx_splitter *s) {
    return s->part.len;
}

/* Invoke the callback; false if it asked for the splitter to be freed. */
static bool emit(vx_splitter *s, int status, const char *item, size_t len) {
    s->in_callback = true;
    s->fn(s->data, status, item, len);
    s->in_callback = false;
    return !s->free_requested;
}

/* The held head has been delivered or abandoned: forget it, and give back
 * memory a single huge item made us take. */
static void drop_part(vx_splitter *s) {
    s->part.len = 0;
    if (s->part.cap > SPLIT_KEEP_BYTES) vx_buf_free(&s->part);
}

int vx_splitter_feed(vx_splitter *s, const char *buf, size_t len) {
    if (s->in_callback) return VX_E_INVAL;
    const char *p = buf, *end = buf + len;
    bool alive = true;
    while (p < end && alive) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        if (s->discarding) {
            if (!dot) break;
            s->discarding = false;
            p = dot + 1;
            continue;
        }
        if (!dot) {
            /* The item continues in a later chunk: hold its head, unless
             * that already makes it too big. */
            size_t rest = (size_t)(end - p);
            if (rest > s->max - s->part.len) {
                size_t total = s->part.len + rest;
                drop_part(s);
                s->discarding = true;
                alive = emit(s, VX_E_MSG_TOO_BIG, NULL, total);
            } else if (vx_buf_append(&s->part, p, rest)) {
                return VX_E_NOMEM;
            }
            break;
        }
        size_t n = (size_t)(dot - p);
        if (s->part.len == 0) {
            alive = n > s->max ? emit(s, VX_E_MSG_TOO_BIG, NULL, n) : emit(s, 0, p, n);
        } else if (n > s->max - s->part.len) {
            size_t total = s->part.len + n;
            drop_part(s);
            alive = emit(s, VX_E_MSG_TOO_BIG, NULL, total);
        } else {
            if (vx_buf_append(&s->part, p, n)) return VX_E_NOMEM;
            /* Mark the buffer empty before the call (pending() is 0 inside
             * it); its bytes stay intact until the next append. */
            size_t total = s->part.len;
            s->part.len = 0;
            alive = emit(s, 0, s->part.data, total);
            if (alive) drop_part(s);
        }
        p = dot + 1;
    }
    if (!alive) destroy(s);
    return 0;
}

size_t vx_splitter_finish(vx_splitter *s, bool deliver_final) {
    if (s->in_callback) return 0;
    size_t n = s->part.len;
    s->discarding = false;
    s->part.len = 0;
    bool alive = true;
    if (n > 0 && deliver_final) alive = emit(s, 0, s->part.data, n);
    if (!alive) {
        destroy(s);
        return n;
    }
    drop_part(s);
    return n;
}
