/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once
/* The NSS snapshot file format, internal to core: the writer
 * (snapshot-write.c, in ehr2fa-admin) and the reader (snapshot-read.c, the
 * only part libnss_ehr.so.2 links) both include it.
 *
 * Layout, every integer little-endian, every section 4-byte aligned:
 *
 *   header       struct snap_header, 144 bytes
 *   users        n x { name, uid, gid, gecos, dir, shell }          (le32 each)
 *   groups       n x { name, gid, members_first, n_members }
 *   members      n x { name }               member names of all groups, group by group
 *   memberof     n x { name, gids_first, n_gids }   one per distinct member name
 *   gids         n x { gid }                the groups of each memberof entry
 *   5 indexes    power-of-two open-addressing hash tables, linear probing; a slot
 *                is { record index + 1 (0 = empty), hash of the key }: the hash
 *                in the slot spares a probe a cache miss on every record that
 *                is not the one sought. User by name, by uid, group by name,
 *                by gid, memberof by name. The header gives each table's longest
 *                probe, at most EHR_SNAP_PROBE_MAX, so a lookup reads a bounded
 *                number of slots even in a hostile file: O(1) worst case
 *   strings      NUL-terminated strings, deduplicated; "name" fields above are
 *                byte offsets into this blob, whose last byte is a NUL
 *
 * Offsets in the file are 32 bits, so a file is at most EHR_SNAPSHOT_SIZE_MAX. */

#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SNAP_MAGIC "EHRSNAP\0"
#define SNAP_MAGIC_BYTES 8U
#define SNAP_VERSION 1U
#define SNAP_HEADER_BYTES 144U
#define SNAP_ALIGN 4U

/* Record sizes in bytes and the position of their fields (in le32 words). */
#define USER_WORDS 6U
#define USER_BYTES (USER_WORDS * 4U)
#define GROUP_WORDS 4U
#define GROUP_BYTES (GROUP_WORDS * 4U)
#define MEMBER_BYTES 4U
#define MEMBEROF_WORDS 3U
#define MEMBEROF_BYTES (MEMBEROF_WORDS * 4U)
#define GID_BYTES 4U
#define SLOT_BYTES 8U /* { record index + 1, full 32-bit hash of its key } */

enum { F_NAME = 0, F_ID = 1 };                                   /* shared by user, group */
enum { U_GID = 2, U_GECOS = 3, U_DIR = 4, U_SHELL = 5 };         /* user */
enum { G_FIRST = 2, G_COUNT = 3 };                               /* group */
enum { MO_FIRST = 1, MO_COUNT = 2 };                             /* memberof */

enum { SEC_USERS, SEC_GROUPS, SEC_MEMBERS, SEC_MEMBEROF, SEC_GIDS, _SEC_MAX };
enum { IX_USER_NAME, IX_USER_UID, IX_GROUP_NAME, IX_GROUP_GID, IX_MEMBEROF_NAME, _IX_MAX };

static const uint32_t sec_elem_bytes[_SEC_MAX] = {
        [SEC_USERS] = USER_BYTES,     [SEC_GROUPS] = GROUP_BYTES, [SEC_MEMBERS] = MEMBER_BYTES,
        [SEC_MEMBEROF] = MEMBEROF_BYTES, [SEC_GIDS] = GID_BYTES,
};

/* On-disk header; fields little-endian. Read and written only through
 * memcpy, so the mapping needs no alignment. */
struct snap_section {
        uint32_t count, off;
};
struct snap_index {
        uint32_t n_slots, off, max_probe;
};
struct snap_header {
        uint8_t magic[SNAP_MAGIC_BYTES];
        uint32_t version;
        uint32_t header_size;
        uint64_t file_size;
        uint64_t body_checksum; /* FNV-1a 64 of [header_size, file_size): EHR_SNAPSHOT_VERIFY only */
        struct snap_section sec[_SEC_MAX];
        uint32_t strings_size, strings_off;
        struct snap_index ix[_IX_MAX];
        uint32_t header_checksum; /* FNV-1a 32 of the bytes before it: always checked */
};
_Static_assert(sizeof(struct snap_header) == SNAP_HEADER_BYTES, "header layout");
_Static_assert(offsetof(struct snap_header, header_checksum) == SNAP_HEADER_BYTES - 4U, "header checksum last");

/* ---- hashing, shared by writer and reader (the file depends on it) ---- */

static inline uint32_t fmix32(uint32_t h) {
        /* MurmurHash3's finaliser: spreads FNV's weak low bits and sequential ids. */
        h ^= h >> 16;
        h *= 0x85ebca6bU;
        h ^= h >> 13;
        h *= 0xc2b2ae35U;
        h ^= h >> 16;
        return h;
}

static inline uint32_t hash_str(const char *s) {
        uint32_t h = 0x811c9dc5U;
        for (; *s; s++) {
                h ^= (uint8_t) *s;
                h *= 0x01000193U;
        }
        return fmix32(h);
}

static inline uint32_t hash_id(uint32_t id) {
        return fmix32(id ^ 0x9e3779b9U);
}

static inline uint32_t fnv32(const uint8_t *p, size_t n) {
        uint32_t h = 0x811c9dc5U;
        for (size_t i = 0; i < n; i++) {
                h ^= p[i];
                h *= 0x01000193U;
        }
        return h;
}

static inline uint64_t fnv64(const uint8_t *p, size_t n) {
        uint64_t h = 0xcbf29ce484222325ULL;
        for (size_t i = 0; i < n; i++) {
                h ^= p[i];
                h *= 0x100000001b3ULL;
        }
        return h;
}

static inline uint32_t rd32(const uint8_t *p) {
        uint32_t v;
        memcpy(&v, p, sizeof v);
        return le32toh(v);
}

static inline void wr32(uint8_t *p, uint32_t v) {
        v = htole32(v);
        memcpy(p, &v, sizeof v);
}

