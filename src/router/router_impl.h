/* Private parts of the router (PROTOCOL.md §7), shared by the src/router sources and
 * the router's unit tests. Nothing outside src/router and tests may include
 * this. */
#ifndef VX_ROUTER_IMPL_H
#define VX_ROUTER_IMPL_H

#include <vortexc/router.h>

/* ---- canonical form (filt_canon.c) ---------------------------------------
 * A byte string that two values share exactly when §7.2 calls them equal:
 * numbers by numeric value (1 and 1.0 encode alike), lists as sorted
 * multisets, dicts and tuples with their entries sorted by name. Values that
 * §7.2 makes equal to nothing (NaN, payloads, geometry, anything nested past
 * VX_CANON_MAX_DEPTH) set `poison` instead: a poisoned value matches nothing.
 * The router indexes endpoints by the canonical form of their "key" value. */

#define VX_CANON_INLINE    256
#define VX_CANON_MAX_DEPTH 256

typedef struct vx_canon {
    uint8_t *p; /* inline_buf, or a heap buffer once it outgrows it */
    size_t len, cap;
    bool poison; /* the value equals nothing under §7.2 */
    bool nomem;  /* an allocation failed: the contents are meaningless */
    uint8_t inline_buf[VX_CANON_INLINE];
} vx_canon;

void vx_canon_init(vx_canon *c);
/* Release any heap buffer; `c` may be re-initialised afterwards. */
void vx_canon_release(vx_canon *c);
/* Append the canonical form of `v` (check c->poison and c->nomem after). */
void vx_canon_value(vx_canon *c, const vx_value *v);

/* 64-bit hash of a canonical form (FNV-1a with a final avalanche). */
uint64_t vx_canon_hash(const uint8_t *p, size_t len);

/* Exact numeric comparison of an int64 and a double, without rounding the
 * int to double: -1, 0 or 1. `d` must not be NaN. */
int vx_num_cmp_int_double(int64_t i, double d);

/* ---- router introspection for tests ------------------------------------ */

/* How many endpoint filts the most recent vx_router_dispatch() on `r`
 * compared with its payload (nested dispatches overwrite it). Lets a test
 * check C-41 (no scan of other keys' endpoints) without timing. */
size_t vx_router_last_compared(const vx_router *r);

#endif
