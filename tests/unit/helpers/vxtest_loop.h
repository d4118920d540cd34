/* Test helper for tests that drive a libuv loop (node, client, TLS). */
#ifndef VXTEST_LOOP_H
#define VXTEST_LOOP_H

#include <stdbool.h>
#include <uv.h>

/* Run `loop` until pred(data) holds (checked at once, then every 2 ms) or
 * `secs` pass; returns whether it held. The helper's timers are closed
 * before it returns, so the loop is left as it was found. */
bool vxt_run_until(uv_loop_t *loop, bool (*pred)(void *data), void *data, double secs);

#endif
