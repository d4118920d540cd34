/* Timing harness for the benchmarks: warm-up, then 5 timed batches of equal
 * iteration count; the median batch is the result and the min-max spread is
 * printed so machine noise is visible (the CI VM has 2 shared cores).
 * Header-only because every bench/<name>.c is its own executable. */
#ifndef VX_BENCH_TIMING_H
#define VX_BENCH_TIMING_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define BX_BATCHES   5
#define BX_GROUP_MAX 32

/* Run the operation under test `n` times. */
typedef void (*bx_fn)(void *ctx, uint64_t n);

typedef struct bx_result {
    double ns_op;   /* median batch, nanoseconds per operation */
    double spread;  /* (slowest - fastest batch) / median, as a fraction */
    uint64_t iters; /* operations per batch */
} bx_result;

/* Seconds spent per measured row (warm-up excluded); main() may change it. */
static double bx_row_seconds = 0.3;

/* Every operation adds something it produced (a length, a count) here, so
 * the compiler cannot drop the work; main() prints it at the end. */
static volatile uint64_t bx_sink;

static inline double bx_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static inline int bx_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Warm-up doubles as calibration: grow n until one call takes >= 20 ms,
 * which also warms caches, branch predictors and the allocator. Returns the
 * operations per batch that fill bx_row_seconds / BX_BATCHES. */
static inline uint64_t bx_calibrate(bx_fn fn, void *ctx) {
    uint64_t n = 1;
    double t;
    for (;;) {
        double t0 = bx_now_ns();
        fn(ctx, n);
        t = bx_now_ns() - t0;
        if (t >= 20e6 || n >= (UINT64_C(1) << 40)) break;
        n *= 2;
    }
    double per = t / (double)n;
    double want = bx_row_seconds * 1e9 / BX_BATCHES / (per > 0 ? per : 1);
    return want < 1 ? 1 : (uint64_t)want;
}

/* One row of a table: the operation and, once measured, its result. */
typedef struct bx_job {
    bx_fn fn;
    void *ctx;
    bx_result r;
} bx_job;

/* Measure several operations with their batches interleaved (A B C A B C
 * ...), so a burst of load from another process hits every row of a
 * comparison alike and the ratios between them stay meaningful. */
static inline void bx_measure_group(bx_job *jobs, int n) {
    uint64_t iters[BX_GROUP_MAX];
    double b[BX_GROUP_MAX][BX_BATCHES];
    if (n > BX_GROUP_MAX) n = BX_GROUP_MAX;
    for (int j = 0; j < n; j++) iters[j] = bx_calibrate(jobs[j].fn, jobs[j].ctx);
    for (int i = 0; i < BX_BATCHES; i++)
        for (int j = 0; j < n; j++) {
            double t0 = bx_now_ns();
            jobs[j].fn(jobs[j].ctx, iters[j]);
            b[j][i] = (bx_now_ns() - t0) / (double)iters[j];
        }
    for (int j = 0; j < n; j++) {
        qsort(b[j], BX_BATCHES, sizeof b[j][0], bx_cmp_double);
        jobs[j].r.ns_op = b[j][BX_BATCHES / 2];
        jobs[j].r.spread = (b[j][BX_BATCHES - 1] - b[j][0]) / b[j][BX_BATCHES / 2];
        jobs[j].r.iters = iters[j];
    }
}

static inline bx_result bx_measure(bx_fn fn, void *ctx) {
    bx_job j = {.fn = fn, .ctx = ctx};
    bx_measure_group(&j, 1);
    return j.r;
}

#endif
