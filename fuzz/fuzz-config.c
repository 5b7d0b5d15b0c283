/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the config file parser (core/config.c), which the module runs
 * as root in every login on a file that may be anyone's mistake. Whatever the
 * input, ehr_config_parse() may refuse it but must never read or write outside
 * its buffers or leak (ASan); a refusal always says FILE:LINE or FILE; and a
 * config it accepts must survive the trip the module's config makes to ehr2fad:
 * every key that ehr_config_foreach() gives is accepted again by
 * ehr_config_set() and gives back the same value (checked, abort() otherwise).
 *
 * Built two ways: with -fsanitize=fuzzer (meson -Dfuzzers=true, clang), or
 * with fuzz-main.c, which feeds the seed corpus to the same entry point
 * (suite fuzz-corpus). */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define PAIRS_MAX 128

struct pairs {
        size_t n;
        char *key[PAIRS_MAX], *value[PAIRS_MAX];
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int collect(const char *key, const char *value, void *userdata) {
        struct pairs *p = userdata;
        if (p->n >= PAIRS_MAX)
                abort(); /* more keys than the config has */
        p->key[p->n] = strdup(key);
        p->value[p->n] = strdup(value);
        if (!p->key[p->n] || !p->value[p->n])
                abort();
        p->n++;
        return 0;
}

static void pairs_free(struct pairs *p) {
        for (size_t i = 0; i < p->n; i++) {
                free(p->key[i]);
                free(p->value[i]);
        }
        p->n = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size == 0)
                return 0; /* fmemopen() wants a buffer; an empty file is the defaults (test-config) */
        FILE *f = fmemopen((void *) data, size, "r");
        if (!f)
                abort();
        struct ehr_config c, again;
        char err[EHR_CONFIG_ERR_MAX] = "";
        ehr_config_init(&c);
        int r = ehr_config_parse(&c, f, "fuzz.conf", err, sizeof err);
        fclose(f);
        if (r < 0) {
                if (r != -EINVAL && r != -ENOMEM && r != -EIO)
                        abort();
                if (strncmp(err, "fuzz.conf:", 10) != 0 || memchr(err, 0, sizeof err) == NULL)
                        abort(); /* every refusal names the file, and the line when there is one */
        } else {
                struct pairs first = { 0 }, second = { 0 };
                if (ehr_config_foreach(&c, collect, &first) < 0)
                        abort();
                ehr_config_init(&again);
                for (size_t i = 0; i < first.n; i++)
                        if (ehr_config_set(&again, first.key[i], first.value[i]) < 0)
                                abort(); /* a value we hold is one we accept */
                if (ehr_config_foreach(&again, collect, &second) < 0 || second.n != first.n)
                        abort();
                for (size_t i = 0; i < first.n; i++)
                        if (strcmp(first.key[i], second.key[i]) != 0 || strcmp(first.value[i], second.value[i]) != 0)
                                abort();
                (void) ehr_daemon_socket(&c);
                pairs_free(&first);
                pairs_free(&second);
                ehr_config_done(&again);
        }
        ehr_config_done(&c);
        return 0;
}
