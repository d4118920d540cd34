/* Reconnect backoff with jitter (PROTOCOL §11). */
#include <math.h>

#include "client/client_impl.h"

uint64_t vx_rng_next(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double vx_rng_uniform(uint64_t *state) {
    /* 53 random bits over 2^53 - 1, so both ends of [0, 1] are reachable. */
    return (double)(vx_rng_next(state) >> 11) / 9007199254740991.0;
}

double vx_backoff_bound(double initial, double max, unsigned n) {
    if (n < 1) n = 1;
    /* 2^(n-1) overflows to inf for huge n; min() still gives max. */
    double b = initial * ldexp(1.0, n > 1100 ? 1100 : (int)n - 1);
    return b < max ? b : max;
}

double vx_backoff_delay(double initial, double max, unsigned n, uint64_t *rng) {
    double b = vx_backoff_bound(initial, max, n);
    return b / 2 + vx_rng_uniform(rng) * (b / 2);
}
