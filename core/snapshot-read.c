/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The NSS snapshot reader: the part of core that libnss_ehr.so.2 links.
 *
 * The reader trusts nothing in the file: opening checks the header (O(1)),
 * and each lookup bounds-checks every offset, index and length it follows,
 * so a truncated or hostile file yields -EBADMSG, never an out-of-bounds
 * read. Probing stops after the header's max_probe + 1 slots (at most
 * EHR_SNAP_PROBE_MAX + 1), so a full or cyclic table can neither loop nor
 * make a lookup slow. Strings need no length: the blob ends in a NUL, so any
 * offset inside it ends inside it. */

#include <limits.h>

#include "snapshot-reader.h"
#include "util.h"

/* Also the writer's rule: it refuses what verification would. */
bool ehr_snapshot_name_valid(const char *name) {
        if (isempty(name) || name[0] == '-' || streq(name, ".") || streq(name, ".."))
                return false;
        size_t n = 0;
        bool all_digits = true;
        for (const char *p = name; *p; p++, n++) {
                unsigned char c = (unsigned char) *p;
                if (n >= EHR_SNAP_NAME_MAX)
                        return false;
                /* ':' ends a passwd/group field, ',' a member list, '/' makes home paths
                 * escape; blanks and controls break every tool that reads getent. */
                if (c <= ' ' || c >= 0x7f || c == ':' || c == ',' || c == '/')
                        return false;
                if (c < '0' || c > '9')
                        all_digits = false;
        }
        return !all_digits;
}

/* ---- reader ---- */

static int parse_header(struct ehr_snapshot *s) {
        struct snap_header h;

        if (s->size < SNAP_HEADER_BYTES || s->size > EHR_SNAPSHOT_SIZE_MAX)
                return -EBADMSG;
        int r = snap_need(s, 0, SNAP_HEADER_BYTES);
        if (r < 0)
                return r;
        memcpy(&h, s->base, sizeof h);
        if (memcmp(h.magic, SNAP_MAGIC, SNAP_MAGIC_BYTES) != 0 || le32toh(h.version) != SNAP_VERSION ||
            le32toh(h.header_size) != SNAP_HEADER_BYTES || le64toh(h.file_size) != s->size ||
            le32toh(h.header_checksum) != fnv32(s->base, offsetof(struct snap_header, header_checksum)))
                return -EBADMSG;

        for (size_t i = 0; i < _SEC_MAX; i++) {
                uint32_t count = le32toh(h.sec[i].count), off = le32toh(h.sec[i].off);
                if (off < SNAP_HEADER_BYTES || off % SNAP_ALIGN != 0 ||
                    (uint64_t) off + (uint64_t) count * sec_elem_bytes[i] > s->size)
                        return -EBADMSG;
                s->sec[i] = (struct snap_section) { count, off };
        }
        for (size_t i = 0; i < _IX_MAX; i++) {
                uint32_t n = le32toh(h.ix[i].n_slots), off = le32toh(h.ix[i].off), mp = le32toh(h.ix[i].max_probe);
                if (n == 0 || (n & (n - 1)) != 0 || off < SNAP_HEADER_BYTES || off % SNAP_ALIGN != 0 ||
                    (uint64_t) off + (uint64_t) n * SLOT_BYTES > s->size || mp > EHR_SNAP_PROBE_MAX || mp >= n)
                        return -EBADMSG;
                s->ix[i] = (struct snap_index) { n, off, mp };
        }
        uint32_t soff = le32toh(h.strings_off), ssize = le32toh(h.strings_size);
        if (soff < SNAP_HEADER_BYTES || ssize == 0 || (uint64_t) soff + ssize > s->size)
                return -EBADMSG;
        r = snap_need(s, soff + ssize - 1, 1);
        if (r < 0)
                return r;
        if (s->base[soff + ssize - 1] != '\0')
                return -EBADMSG;
        s->strings = (const char *) s->base + soff;
        s->strings_size = ssize;
        s->body_checksum = le64toh(h.body_checksum);
        return 0;
}

int snap_parse(struct ehr_snapshot *s, unsigned flags) {
        int r = parse_header(s);
        if (r < 0)
                return r;
        if (flags & EHR_SNAPSHOT_VERIFY)
                return ehr_snapshot_verify(s);
        return 0;
}

int ehr_snapshot_from_buffer(const void *data, size_t size, unsigned flags, struct ehr_snapshot **ret) {
        _cleanup_(ehr_snapshot_freep) struct ehr_snapshot *s = NULL;
        int r;

        if ((!data && size > 0) || !ret)
                return -EINVAL;
        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->fd = -1;
        s->base = data;
        s->size = size;
        r = snap_parse(s, flags);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

size_t ehr_snapshot_n_users(const struct ehr_snapshot *s) {
        return s ? s->sec[SEC_USERS].count : 0;
}

size_t ehr_snapshot_n_groups(const struct ehr_snapshot *s) {
        return s ? s->sec[SEC_GROUPS].count : 0;
}

static inline size_t rec_off(const struct ehr_snapshot *s, unsigned sec, uint32_t i) {
        return s->sec[sec].off + (size_t) i * sec_elem_bytes[sec];
}

/* Records [i, i + n) of a section present; i + n <= count was checked by the
 * caller, and the section was checked against the file at open. */
static int need_recs(const struct ehr_snapshot *s, unsigned sec, uint32_t i, uint32_t n) {
        return snap_need(s, rec_off(s, sec, i), (size_t) n * sec_elem_bytes[sec]);
}

/* Word w of record i of a section, made present by need_recs(). */
static inline uint32_t rec_word(const struct ehr_snapshot *s, unsigned sec, uint32_t i, unsigned w) {
        return rd32(s->base + rec_off(s, sec, i) + 4U * w);
}

/* The string at offset off of the blob present, up to its NUL: the blob
 * ends in one, checked at open, so this ends inside it. */
static int need_str(const struct ehr_snapshot *s, uint32_t off) {
        size_t at = (size_t) ((const uint8_t *) s->strings - s->base) + off;
        size_t end = (size_t) ((const uint8_t *) s->strings - s->base) + s->strings_size;
        if (!s->chunk)
                return 0;
        for (;;) {
                size_t stop = (at / SNAP_CHUNK_BYTES + 1) * SNAP_CHUNK_BYTES;
                if (stop > end)
                        stop = end;
                int r = snap_need(s, at, stop - at);
                if (r < 0)
                        return r;
                if (memchr(s->base + at, '\0', stop - at))
                        return 0;
                at = stop;
        }
}

/* A string at offset off: inside the blob, and free of the characters that
 * would let a corrupt file forge extra passwd lines or fields. */
static int str_at(const struct ehr_snapshot *s, uint32_t off, const char **ret) {
        if (off >= s->strings_size)
                return -EBADMSG;
        int r = need_str(s, off);
        if (r < 0)
                return r;
        const char *p = s->strings + off;
        if (strpbrk(p, ":\n"))
                return -EBADMSG;
        *ret = p;
        return 0;
}

static int decode_user(const struct ehr_snapshot *s, uint32_t i, struct ehr_snap_user *ret) {
        int r = need_recs(s, SEC_USERS, i, 1);
        if (r < 0)
                return r;
        struct ehr_snap_user u = {
                .uid = rec_word(s, SEC_USERS, i, F_ID),
                .gid = rec_word(s, SEC_USERS, i, U_GID),
        };
        if ((r = str_at(s, rec_word(s, SEC_USERS, i, F_NAME), &u.name)) < 0 ||
            (r = str_at(s, rec_word(s, SEC_USERS, i, U_GECOS), &u.gecos)) < 0 ||
            (r = str_at(s, rec_word(s, SEC_USERS, i, U_DIR), &u.dir)) < 0 ||
            (r = str_at(s, rec_word(s, SEC_USERS, i, U_SHELL), &u.shell)) < 0)
                return r;
        if (u.name[0] == '\0')
                return -EBADMSG;
        *ret = u;
        return 0;
}

static int decode_group(const struct ehr_snapshot *s, uint32_t i, struct ehr_snap_group_view *ret) {
        int r = need_recs(s, SEC_GROUPS, i, 1);
        if (r < 0)
                return r;
        struct ehr_snap_group_view g = {
                .gid = rec_word(s, SEC_GROUPS, i, F_ID),
                .members_first = rec_word(s, SEC_GROUPS, i, G_FIRST),
                .n_members = rec_word(s, SEC_GROUPS, i, G_COUNT),
        };
        r = str_at(s, rec_word(s, SEC_GROUPS, i, F_NAME), &g.name);
        if (r < 0)
                return r;
        uint32_t total = s->sec[SEC_MEMBERS].count;
        if (g.name[0] == '\0' || g.members_first > total || g.n_members > total - g.members_first)
                return -EBADMSG;
        *ret = g;
        return 0;
}

/* Probe index ix for the record of section sec whose name (word 0) is `name`,
 * or, with name NULL, whose id is `id`. One loop for both: the slots and the
 * checks on them are the same, only the hash and the match differ. */
static int probe(const struct ehr_snapshot *s, unsigned ix, unsigned sec, const char *name, uint32_t id,
                 uint32_t *ret) {
        uint32_t mask = s->ix[ix].n_slots - 1, h = name ? hash_str(name) : hash_id(id);
        for (uint32_t k = 0; k <= s->ix[ix].max_probe; k++) {
                size_t slot = s->ix[ix].off + (size_t) ((h + k) & mask) * SLOT_BYTES;
                int r = snap_need(s, slot, SLOT_BYTES);
                if (r < 0)
                        return r;
                uint32_t v = rd32(s->base + slot);
                if (v == 0)
                        return -ENOENT;
                if (rd32(s->base + slot + 4) != h)
                        continue;
                if (v - 1 >= s->sec[sec].count)
                        return -EBADMSG;
                if ((r = need_recs(s, sec, v - 1, 1)) < 0)
                        return r;
                bool match;
                if (name) {
                        uint32_t off = rec_word(s, sec, v - 1, F_NAME);
                        if (off >= s->strings_size)
                                return -EBADMSG;
                        if ((r = need_str(s, off)) < 0)
                                return r;
                        match = streq(s->strings + off, name);
                } else
                        match = rec_word(s, sec, v - 1, F_ID) == id;
                if (match) {
                        *ret = v - 1;
                        return 0;
                }
        }
        return -ENOENT;
}

static int find_name(const struct ehr_snapshot *s, unsigned ix, unsigned sec, const char *name, uint32_t *ret) {
        return name ? probe(s, ix, sec, name, 0, ret) : -ENOENT;
}

static int find_id(const struct ehr_snapshot *s, unsigned ix, unsigned sec, uint32_t id, uint32_t *ret) {
        return probe(s, ix, sec, NULL, id, ret);
}

int ehr_snapshot_user_by_name(const struct ehr_snapshot *s, const char *name, struct ehr_snap_user *ret) {
        uint32_t i;
        int r = find_name(s, IX_USER_NAME, SEC_USERS, name, &i);
        return r < 0 ? r : decode_user(s, i, ret);
}

int ehr_snapshot_user_by_uid(const struct ehr_snapshot *s, uint32_t uid, struct ehr_snap_user *ret) {
        uint32_t i;
        int r = find_id(s, IX_USER_UID, SEC_USERS, uid, &i);
        return r < 0 ? r : decode_user(s, i, ret);
}

int ehr_snapshot_group_by_name(const struct ehr_snapshot *s, const char *name, struct ehr_snap_group_view *ret) {
        uint32_t i;
        int r = find_name(s, IX_GROUP_NAME, SEC_GROUPS, name, &i);
        return r < 0 ? r : decode_group(s, i, ret);
}

int ehr_snapshot_group_by_gid(const struct ehr_snapshot *s, uint32_t gid, struct ehr_snap_group_view *ret) {
        uint32_t i;
        int r = find_id(s, IX_GROUP_GID, SEC_GROUPS, gid, &i);
        return r < 0 ? r : decode_group(s, i, ret);
}

int ehr_snapshot_user_at(const struct ehr_snapshot *s, size_t i, struct ehr_snap_user *ret) {
        if (i >= s->sec[SEC_USERS].count)
                return -ENOENT;
        return decode_user(s, (uint32_t) i, ret);
}

int ehr_snapshot_group_at(const struct ehr_snapshot *s, size_t i, struct ehr_snap_group_view *ret) {
        if (i >= s->sec[SEC_GROUPS].count)
                return -ENOENT;
        return decode_group(s, (uint32_t) i, ret);
}

int ehr_snapshot_group_member(const struct ehr_snapshot *s, const struct ehr_snap_group_view *g, size_t i,
                              const char **ret) {
        if (i >= g->n_members)
                return -ENOENT;
        /* Re-checked: the view may come from a caller rather than decode_group(). */
        uint32_t total = s->sec[SEC_MEMBERS].count;
        if (g->members_first > total || g->n_members > total - g->members_first)
                return -EBADMSG;
        const char *name;
        int r = need_recs(s, SEC_MEMBERS, g->members_first + (uint32_t) i, 1);
        if (r < 0)
                return r;
        r = str_at(s, rec_word(s, SEC_MEMBERS, g->members_first + (uint32_t) i, F_NAME), &name);
        if (r < 0)
                return r;
        if (name[0] == '\0' || strchr(name, ','))
                return -EBADMSG;
        *ret = name;
        return 0;
}

int ehr_snapshot_foreach_group_of(const struct ehr_snapshot *s, const char *user,
                                  int (*fn)(uint32_t gid, void *userdata), void *userdata) {
        uint32_t e;
        int r = find_name(s, IX_MEMBEROF_NAME, SEC_MEMBEROF, user, &e);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        uint32_t first = rec_word(s, SEC_MEMBEROF, e, MO_FIRST), count = rec_word(s, SEC_MEMBEROF, e, MO_COUNT);
        uint32_t total = s->sec[SEC_GIDS].count;
        if (first > total || count > total - first || count > INT_MAX)
                return -EBADMSG;
        r = need_recs(s, SEC_GIDS, first, count);
        if (r < 0)
                return r;
        for (uint32_t k = 0; k < count; k++) {
                r = fn(rec_word(s, SEC_GIDS, first + k, 0), userdata);
                if (r < 0)
                        return r;
        }
        return (int) count;
}

static int count_gid(uint32_t gid, void *userdata) {
        (void) gid;
        (*(size_t *) userdata)++;
        return 0;
}

int ehr_snapshot_verify(const struct ehr_snapshot *s) {
        if (snap_need(s, 0, s->size) < 0 ||
            fnv64(s->base + SNAP_HEADER_BYTES, s->size - SNAP_HEADER_BYTES) != s->body_checksum)
                return -EBADMSG;

        /* Every record decodes, and every record is what its index finds: a
         * duplicate or a hole in an index would hide an account. */
        for (uint32_t i = 0; i < s->sec[SEC_USERS].count; i++) {
                struct ehr_snap_user u;
                uint32_t j;
                if (decode_user(s, i, &u) < 0 || !ehr_snapshot_name_valid(u.name) ||
                    find_name(s, IX_USER_NAME, SEC_USERS, u.name, &j) < 0 || j != i ||
                    find_id(s, IX_USER_UID, SEC_USERS, u.uid, &j) < 0 || j != i)
                        return -EBADMSG;
        }
        for (uint32_t i = 0; i < s->sec[SEC_GROUPS].count; i++) {
                struct ehr_snap_group_view g;
                uint32_t j;
                if (decode_group(s, i, &g) < 0 || !ehr_snapshot_name_valid(g.name) ||
                    find_name(s, IX_GROUP_NAME, SEC_GROUPS, g.name, &j) < 0 || j != i ||
                    find_id(s, IX_GROUP_GID, SEC_GROUPS, g.gid, &j) < 0 || j != i)
                        return -EBADMSG;
                for (uint32_t m = 0; m < g.n_members; m++) {
                        const char *name;
                        if (ehr_snapshot_group_member(s, &g, m, &name) < 0 || !ehr_snapshot_name_valid(name))
                                return -EBADMSG;
                }
        }
        size_t n_gids = 0;
        for (uint32_t e = 0; e < s->sec[SEC_MEMBEROF].count; e++) {
                const char *name;
                uint32_t j;
                if (str_at(s, rec_word(s, SEC_MEMBEROF, e, F_NAME), &name) < 0 || !ehr_snapshot_name_valid(name) ||
                    find_name(s, IX_MEMBEROF_NAME, SEC_MEMBEROF, name, &j) < 0 || j != e ||
                    ehr_snapshot_foreach_group_of(s, name, count_gid, &n_gids) < 0)
                        return -EBADMSG;
        }
        return 0;
}
