/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* A minimal assertion kit: every failed CHECK prints where and what, and the test exits 1. */

#include <stdio.h>
#include <string.h>

#include "util.h"

static int test_failures;

#define CHECK(expr)                                                                          \
        do {                                                                                 \
                if (!(expr)) {                                                               \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #expr); \
                        test_failures++;                                                     \
                }                                                                            \
        } while (0)

#define CHECK_STREQ(a, b)                                                                              \
        do {                                                                                           \
                const char *_a = (a), *_b = (b);                                                       \
                if (strcmp(_a, _b) != 0) {                                                             \
                        fprintf(stderr, "%s:%d: '%s' != '%s' (%s)\n", __FILE__, __LINE__, _a, _b, #a); \
                        test_failures++;                                                               \
                }                                                                                      \
        } while (0)

static inline int test_result(void) {
        if (test_failures)
                fprintf(stderr, "%d check(s) failed\n", test_failures);
        return test_failures ? 1 : 0;
}
