/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the NSS snapshot reader (core/snapshot-read.c) on hostile
 * files. Each input is read twice: as is, and with its header checksum
 * recomputed, so that mutations reach the sections and indexes behind the
 * header instead of dying at the checksum. Whatever the input, the reader
 * may refuse it but must never read outside it (ASan) or loop.
 *
 * Built two ways: with -fsanitize=fuzzer (meson -Dfuzzers=true, clang), or
 * with fuzz-main.c, which feeds the seed corpus to the same entry point
 * (suite fuzz-corpus). */

#include <stdio.h>
#include <sys/stat.h>

#include "snapshot.h"
#include "util.h"

/* Where the header checksum sits and what it covers: the layout of
 * struct snap_header in core/snapshot-format.h (version 1). */
#define FUZZ_HEADER_BYTES 144U
#define FUZZ_HEADER_CHECKSUM_OFF 140U
/* Bound the work per input so the fuzzer stays fast on big counts. */
#define FUZZ_ITEMS_MAX 256U
#define FUZZ_INPUT_MAX (1024U * 1024U)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t fnv32(const uint8_t *p, size_t n) {
        uint32_t h = 0x811c9dc5U;
        for (size_t i = 0; i < n; i++) {
                h ^= p[i];
                h *= 0x01000193U;
        }
        return h;
}

static int count_gid(uint32_t gid, void *userdata) {
        size_t *n = userdata;
        if (++*n > FUZZ_ITEMS_MAX)
                return -E2BIG;
        return 0;
}

/* Look up every name and id the file claims, the way NSS would. */
static void exercise(const struct ehr_snapshot *s) {
        struct ehr_snap_user u, u2;
        struct ehr_snap_group_view g, g2;
        const char *m;
        size_t n;

        for (size_t i = 0; i < ehr_snapshot_n_users(s) && i < FUZZ_ITEMS_MAX; i++) {
                if (ehr_snapshot_user_at(s, i, &u) < 0)
                        continue;
                /* What the lookups return must be the strings NSS copies out. */
                volatile size_t len = strlen(u.name) + strlen(u.gecos) + strlen(u.dir) + strlen(u.shell);
                (void) len;
                (void) ehr_snapshot_user_by_name(s, u.name, &u2);
                (void) ehr_snapshot_user_by_uid(s, u.uid, &u2);
                n = 0;
                (void) ehr_snapshot_foreach_group_of(s, u.name, count_gid, &n);
        }
        for (size_t i = 0; i < ehr_snapshot_n_groups(s) && i < FUZZ_ITEMS_MAX; i++) {
                if (ehr_snapshot_group_at(s, i, &g) < 0)
                        continue;
                (void) ehr_snapshot_group_by_name(s, g.name, &g2);
                (void) ehr_snapshot_group_by_gid(s, g.gid, &g2);
                for (size_t k = 0; k < g.n_members && k < FUZZ_ITEMS_MAX; k++)
                        if (ehr_snapshot_group_member(s, &g, k, &m) >= 0) {
                                n = 0;
                                (void) ehr_snapshot_foreach_group_of(s, m, count_gid, &n);
                        }
        }
        (void) ehr_snapshot_user_by_name(s, "root", &u);
        (void) ehr_snapshot_user_by_uid(s, 1000, &u);
        (void) ehr_snapshot_group_by_name(s, "staff", &g);
        (void) ehr_snapshot_group_by_gid(s, 1000, &g);
        (void) ehr_snapshot_verify(s);
}

static void read_one(const uint8_t *data, size_t size) {
        struct ehr_snapshot *s = NULL;
        if (ehr_snapshot_from_buffer(data, size, 0, &s) >= 0) {
                exercise(s);
                s = ehr_snapshot_free(s);
        }
        /* Verified opening must agree with ehr_snapshot_verify() on the same bytes. */
        if (ehr_snapshot_from_buffer(data, size, EHR_SNAPSHOT_VERIFY, &s) >= 0) {
                if (ehr_snapshot_verify(s) != 0)
                        abort();
                exercise(s);
                s = ehr_snapshot_free(s);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > FUZZ_INPUT_MAX)
                return 0;
        read_one(data, size);
        if (size >= FUZZ_HEADER_BYTES) {
                /* An exact-size copy, so ASan still sees one byte past the end. */
                uint8_t *fixed = malloc(size);
                if (!fixed)
                        return 0;
                memcpy(fixed, data, size);
                uint32_t h = htole32(fnv32(fixed, FUZZ_HEADER_CHECKSUM_OFF));
                memcpy(fixed + FUZZ_HEADER_CHECKSUM_OFF, &h, sizeof h);
                read_one(fixed, size);
                free(fixed);
        }
        return 0;
}
