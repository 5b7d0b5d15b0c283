/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once
/* The reader's insides, shared by snapshot-read.c (header, lookups, verify)
 * and snapshot-copy.c (the file, copied into our memory as it is needed).
 * Internal to core. */

#include <stdatomic.h>
#include <sys/stat.h>

#include "snapshot-format.h"
#include "snapshot.h"

/* The file is copied into our memory in chunks of this many bytes, each when
 * a lookup first needs it. */
#define SNAP_CHUNK_BYTES 4096U

enum { CHUNK_EMPTY = 0, CHUNK_LOADING = 1, CHUNK_LOADED = 2 };

struct ehr_snapshot {
        const uint8_t *base; /* the whole file's bytes, those of loaded chunks valid */
        size_t size;
        bool owned;            /* base is our anonymous memory, to munmap() */
        _Atomic uint8_t *chunk; /* per chunk: CHUNK_*; NULL when every byte is there */
        atomic_int fd;         /* where chunks come from, or -1 */
        atomic_bool lost;      /* fd is no longer our file: never read it again */
        bool have_file;
        struct stat st; /* of fd when opened */
        struct snap_section sec[_SEC_MAX]; /* host order, validated */
        struct snap_index ix[_IX_MAX];
        const char *strings;
        uint32_t strings_size;
        uint64_t body_checksum;
};

/* Copy chunk c in (snapshot-copy.c): 0, or -EBADMSG when the file shrank,
 * changed or is no longer behind the descriptor. */
int snap_load_chunk(const struct ehr_snapshot *s, size_t c);

/* Make bytes [off, off + len) of the file present; the caller has checked
 * that they are inside it. No system call once they are. */
static inline int snap_need(const struct ehr_snapshot *s, size_t off, size_t len) {
        if (!s->chunk || len == 0)
                return 0;
        for (size_t c = off / SNAP_CHUNK_BYTES; c <= (off + len - 1) / SNAP_CHUNK_BYTES; c++)
                if (atomic_load_explicit(&s->chunk[c], memory_order_acquire) != CHUNK_LOADED) {
                        int r = snap_load_chunk(s, c);
                        if (r < 0)
                                return r;
                }
        return 0;
}

/* Check the header and fill sec, ix and strings; with EHR_SNAPSHOT_VERIFY in flags,
 * check the whole body against its checksum too (snapshot-read.c). */
int snap_parse(struct ehr_snapshot *s, unsigned flags);
