#include "vxtest_loop.h"

typedef struct waiter {
    bool (*pred)(void *data);
    void *data;
    bool met;
} waiter;

static void on_tick(uv_timer_t *t) {
    waiter *w = t->data;
    if (w->pred(w->data)) {
        w->met = true;
        uv_stop(t->loop);
    }
}

static void on_deadline(uv_timer_t *t) {
    uv_stop(t->loop);
}

bool vxt_run_until(uv_loop_t *loop, bool (*pred)(void *data), void *data, double secs) {
    if (pred(data)) return true;
    waiter w = {pred, data, false};
    uv_timer_t tick, deadline;
    uv_timer_init(loop, &tick);
    uv_timer_init(loop, &deadline);
    tick.data = &w;
    uv_timer_start(&deadline, on_deadline, (uint64_t)(secs * 1000), 0);
    uv_timer_start(&tick, on_tick, 2, 2);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_close((uv_handle_t *)&deadline, NULL);
    uv_run(loop, UV_RUN_NOWAIT); /* the close callbacks: the timers live on this stack */
    return w.met;
}
