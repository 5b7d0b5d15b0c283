/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* What every bench program here needs to time and rank samples. Header only,
 * libc only: bench-dlopen links nothing else. */

#include <time.h>

static inline double bench_now_us(void) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (double) t.tv_sec * 1e6 + (double) t.tv_nsec / 1e3;
}

/* For qsort() of doubles, ascending. */
static inline int bench_cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

/* The q-quantile (0..1) of n ascending samples, interpolated between the two nearest. */
static inline double bench_quantile(const double *sorted, unsigned n, double q) {
        if (n == 0)
                return 0;
        double pos = q * (n - 1);
        unsigned i = (unsigned) pos;
        double f = pos - i;
        return i + 1 < n ? sorted[i] * (1 - f) + sorted[i + 1] * f : sorted[i];
}
