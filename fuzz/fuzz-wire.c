/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the ehr2fad request/reply parser (core/wire.c) on hostile
 * datagrams. Whatever the input, ehr_wire_parse() may refuse it but must never
 * read or write outside the message (ASan); what it accepts must encode back
 * to a message that parses to the same fields (checked, abort() otherwise),
 * and every accessor must be safe on it.
 *
 * Built two ways: with -fsanitize=fuzzer (meson -Dfuzzers=true, clang), or
 * with fuzz-main.c, which feeds the seed corpus to the same entry point
 * (suite fuzz-corpus). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct ehr_wire *w = ehr_wire_new(), *again = ehr_wire_new();
        if (!w || !again)
                abort();
        if (size <= sizeof w->data) {
                memcpy(w->data, data, size);
                w->len = size;
                if (ehr_wire_parse(w) == 0) {
                        uint64_t u;
                        int64_t i;
                        for (size_t k = 0; k < w->n; k++) {
                                if (ehr_wire_get(w, w->key[k]) != w->value[k])
                                        abort(); /* keys are unique: the first match is this one */
                                (void) ehr_wire_getu(w, w->key[k], &u);
                                (void) ehr_wire_geti(w, w->key[k], &i);
                                if (ehr_wire_add(again, w->key[k], w->value[k]) < 0)
                                        abort(); /* a field that parsed always fits again */
                        }
                        if (again->len != w->len || memcmp(again->data, w->data, w->len) != 0) {
                                /* Only the hex case may differ: the encoder writes lower case. */
                                if (ehr_wire_parse(again) < 0 || again->n != w->n)
                                        abort();
                                for (size_t k = 0; k < w->n; k++)
                                        if (strcmp(again->key[k], w->key[k]) != 0 ||
                                            strcmp(again->value[k], w->value[k]) != 0)
                                                abort();
                        }
                        (void) ehr_wire_get(w, "no-such-key");
                }
        }
        ehr_wire_free(w);
        ehr_wire_free(again);
        return 0;
}
