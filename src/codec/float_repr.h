/* Python-repr formatting of doubles (PROTOCOL.md §4.2), private to the codec.
 *
 * The output is the shortest decimal that reads back as the same double
 * (ties between equally short candidates go to the one nearest the double),
 * in plain notation when the decimal exponent is in [-4, 16) and as
 * d[.ddd]e±XX otherwise, with ".0" added to integral plain numbers: exactly
 * what Python's repr(float) writes, so our JSON is byte-identical to
 * vortexpy's. Locale-independent and thread-safe. */
#ifndef VX_FLOAT_REPR_H
#define VX_FLOAT_REPR_H

#include <stddef.h>

/* Room the caller provides: the longest output, "-2.2250738585072014e-308",
 * is 24 chars, but the formatter copies fixed-size blocks past the end. */
#define VX_FLOAT_REPR_MAX 48

/* Write repr(v) to out[VX_FLOAT_REPR_MAX] (no NUL; bytes past the returned
 * length may be overwritten) and return its length.
 * `v` must be finite (the caller rejects NaN and infinities). */
size_t vx_float_repr(double v, char *out);

/* The fast path alone: as vx_float_repr for finite doubles whose binary
 * exponent lies in its range (about 1.5e-11 <= |v| < 1.2e43, and zero);
 * returns 0 for any other, writing nothing. For tests. */
size_t vx_float_repr_fast(double v, char *out);

/* The same result by a slow, obviously correct route (printf at increasing
 * precision, checked with strtod in the "C" locale). It is the fallback for
 * doubles outside the fast path's range and the reference the tests compare
 * the fast path against. */
size_t vx_float_repr_slow(double v, char *out);

#endif
