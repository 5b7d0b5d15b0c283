/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The NSS snapshot file: writer (ehr2fa-admin) and reader (libnss_ehr).
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
 * The reader trusts nothing in the file: opening checks the header (O(1)),
 * and each lookup bounds-checks every offset, index and length it follows,
 * so a truncated or hostile file yields -EBADMSG, never an out-of-bounds
 * read. Probing stops after the header's max_probe + 1 slots (at most
 * EHR_SNAP_PROBE_MAX + 1), so a full or cyclic table can neither loop nor
 * make a lookup slow. Strings need no length: the blob ends in a NUL, so any offset
 * inside it ends inside it. */

#include <endian.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "snapshot.h"
#include "util.h"

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

/* How many times finish_index() may double a table (to 8x) to bound its probes. */
#define SNAP_GROW_MAX 3U

#define BLOB_INITIAL_BYTES 4096U

#define TMP_SUFFIX "XXXXXX"
#define TMP_SUFFIX_BYTES 6U

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

struct ehr_snapshot {
        const uint8_t *base;
        size_t size;
        bool mapped;
        struct snap_section sec[_SEC_MAX]; /* host order, validated */
        struct snap_index ix[_IX_MAX];
        const char *strings;
        uint32_t strings_size;
        uint64_t body_checksum;
        bool have_file;
        dev_t st_dev;
        ino_t st_ino;
        off_t st_size;
        struct timespec st_mtim;
};

/* ---- hashing, shared by writer and reader (the file depends on it) ---- */

static uint32_t fmix32(uint32_t h) {
        /* MurmurHash3's finaliser: spreads FNV's weak low bits and sequential ids. */
        h ^= h >> 16;
        h *= 0x85ebca6bU;
        h ^= h >> 13;
        h *= 0xc2b2ae35U;
        h ^= h >> 16;
        return h;
}

static uint32_t hash_str(const char *s) {
        uint32_t h = 0x811c9dc5U;
        for (; *s; s++) {
                h ^= (uint8_t) *s;
                h *= 0x01000193U;
        }
        return fmix32(h);
}

static uint32_t hash_id(uint32_t id) {
        return fmix32(id ^ 0x9e3779b9U);
}

static uint32_t fnv32(const uint8_t *p, size_t n) {
        uint32_t h = 0x811c9dc5U;
        for (size_t i = 0; i < n; i++) {
                h ^= p[i];
                h *= 0x01000193U;
        }
        return h;
}

static uint64_t fnv64(const uint8_t *p, size_t n) {
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

/* Smallest power of two >= 2n (load factor at most 1/2), at least 1. */
static uint32_t slots_for(size_t n) {
        uint32_t s = 1;
        while (s < 2 * n)
                s <<= 1;
        return s;
}

/* ---- validation of writer input ---- */

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

/* Free text (gecos) and paths: no field separator, no line break, no control character. */
static bool field_valid(const char *s, size_t max) {
        if (!s)
                return false;
        size_t n = 0;
        for (const char *p = s; *p; p++, n++) {
                unsigned char c = (unsigned char) *p;
                if (n >= max || c < ' ' || c == 0x7f || c == ':')
                        return false;
        }
        return true;
}

static bool path_valid(const char *s, bool empty_ok) {
        if (!field_valid(s, EHR_SNAP_PATH_MAX))
                return false;
        return s[0] == '/' || (empty_ok && s[0] == '\0');
}

static bool id_valid(uint32_t id) {
        /* 0 would hand out root's uid or gid through a directory change; -1 means "no id" to chown(). */
        return id != 0 && id != UINT32_MAX;
}

/* ---- writer ---- */

struct blob {
        uint8_t *p;
        size_t len, cap;
};

static int blob_append(struct blob *b, const void *data, size_t n) {
        if (b->len + n > EHR_SNAPSHOT_SIZE_MAX)
                return -EFBIG;
        if (b->len + n > b->cap) {
                size_t cap = b->cap ? b->cap : BLOB_INITIAL_BYTES;
                while (cap < b->len + n)
                        cap *= 2;
                uint8_t *q = realloc(b->p, cap);
                if (!q)
                        return -ENOMEM;
                b->p = q;
                b->cap = cap;
        }
        memcpy(b->p + b->len, data, n);
        b->len += n;
        return 0;
}

/* A writer-side open-addressing table of uint32 values + 1; keys live elsewhere. */
struct wtable {
        uint32_t *slot;
        uint32_t mask;
        uint32_t max_probe;
};

static int wtable_init(struct wtable *t, size_t n) {
        uint32_t s = slots_for(n);
        t->slot = calloc(s, sizeof *t->slot);
        if (!t->slot)
                return -ENOMEM;
        t->mask = s - 1;
        return 0;
}

/* Find the slot for a key: the first empty one, or the one whose value eq() accepts. */
static uint32_t *wtable_probe(struct wtable *t, uint32_t h, bool (*eq)(const void *ctx, uint32_t v, const void *key),
                              const void *ctx, const void *key) {
        for (uint32_t i = 0;; i++) {
                uint32_t *s = &t->slot[(h + i) & t->mask];
                if (*s == 0 || eq(ctx, *s - 1, key))
                        return s;
        }
}

struct strtab {
        struct blob *blob;
        struct wtable t;
};

static bool eq_blob_str(const void *ctx, uint32_t off, const void *key) {
        return streq((const char *) ((const struct blob *) ctx)->p + off, key);
}

/* Intern a string in the blob; returns its offset in *ret. */
static int intern(struct strtab *st, const char *s, uint32_t *ret) {
        uint32_t *slot = wtable_probe(&st->t, hash_str(s), eq_blob_str, st->blob, s);
        if (*slot == 0) {
                size_t off = st->blob->len;
                int r = blob_append(st->blob, s, strlen(s) + 1);
                if (r < 0)
                        return r;
                *slot = (uint32_t) off + 1;
        }
        *ret = *slot - 1;
        return 0;
}

static bool eq_user_name(const void *ctx, uint32_t i, const void *key) {
        return streq(((const struct ehr_snap_user *) ctx)[i].name, key);
}
static bool eq_user_uid(const void *ctx, uint32_t i, const void *key) {
        return ((const struct ehr_snap_user *) ctx)[i].uid == *(const uint32_t *) key;
}
static bool eq_group_name(const void *ctx, uint32_t i, const void *key) {
        return streq(((const struct ehr_snap_group *) ctx)[i].name, key);
}
static bool eq_group_gid(const void *ctx, uint32_t i, const void *key) {
        return ((const struct ehr_snap_group *) ctx)[i].gid == *(const uint32_t *) key;
}

struct mo_entry {
        uint32_t name;       /* string offset; interned, so equal names have equal offsets */
        uint32_t count;      /* groups listing this name */
        uint32_t first;      /* into the gids section */
        uint32_t fill;
        uint32_t last_group; /* index + 1 of the last group that listed it: duplicate check */
};
static bool eq_mo(const void *ctx, uint32_t i, const void *key) {
        return ((const struct mo_entry *) ctx)[i].name == *(const uint32_t *) key;
}

struct builder {
        struct blob strings;
        struct strtab st;
        struct wtable ix[_IX_MAX];
        uint32_t *urec;    /* USER_WORDS per user, host order */
        uint32_t *grec;    /* GROUP_WORDS per group */
        uint32_t *members; /* string offsets */
        uint32_t *member_mo;
        struct mo_entry *mo;
        uint32_t n_mo;
        uint32_t *gids;
};

static void builder_done(struct builder *b) {
        free(b->strings.p);
        free(b->st.t.slot);
        for (size_t i = 0; i < _IX_MAX; i++)
                free(b->ix[i].slot);
        free(b->urec);
        free(b->grec);
        free(b->members);
        free(b->member_mo);
        free(b->mo);
        free(b->gids);
}

static int validate_input(const struct ehr_snap_user *u, size_t nu, const struct ehr_snap_group *g, size_t ng,
                          size_t *ret_members) {
        if ((nu > 0 && !u) || (ng > 0 && !g) || nu > EHR_SNAP_USERS_MAX || ng > EHR_SNAP_GROUPS_MAX)
                return -EINVAL;
        for (size_t i = 0; i < nu; i++)
                if (!ehr_snapshot_name_valid(u[i].name) || !id_valid(u[i].uid) || !id_valid(u[i].gid) ||
                    !field_valid(u[i].gecos, EHR_SNAP_GECOS_MAX) || !path_valid(u[i].dir, false) ||
                    !path_valid(u[i].shell, true))
                        return -EINVAL;
        size_t total = 0;
        for (size_t i = 0; i < ng; i++) {
                if (!ehr_snapshot_name_valid(g[i].name) || !id_valid(g[i].gid) ||
                    g[i].n_members > EHR_SNAP_MEMBERS_MAX || (g[i].n_members > 0 && !g[i].members))
                        return -EINVAL;
                for (size_t k = 0; k < g[i].n_members; k++)
                        if (!ehr_snapshot_name_valid(g[i].members[k]))
                                return -EINVAL;
                total += g[i].n_members;
                if (total > UINT32_MAX / 8U)
                        return -EFBIG;
        }
        *ret_members = total;
        return 0;
}

static int build_records(struct builder *b, const struct ehr_snap_user *u, size_t nu, const struct ehr_snap_group *g,
                         size_t ng, size_t n_members) {
        int r;

        b->st.blob = &b->strings;
        /* At most 4 strings per user, 1 per group and 1 per member, plus "". */
        r = wtable_init(&b->st.t, 4 * nu + ng + n_members + 1);
        if (r < 0)
                return r;
        uint32_t empty;
        r = intern(&b->st, "", &empty);
        if (r < 0)
                return r;

        r = wtable_init(&b->ix[IX_USER_NAME], nu);
        if (r >= 0)
                r = wtable_init(&b->ix[IX_USER_UID], nu);
        if (r >= 0)
                r = wtable_init(&b->ix[IX_GROUP_NAME], ng);
        if (r >= 0)
                r = wtable_init(&b->ix[IX_GROUP_GID], ng);
        if (r < 0)
                return r;

        b->urec = calloc(nu ? nu : 1, USER_BYTES);
        b->grec = calloc(ng ? ng : 1, GROUP_BYTES);
        b->members = calloc(n_members ? n_members : 1, sizeof(uint32_t));
        b->member_mo = calloc(n_members ? n_members : 1, sizeof(uint32_t));
        b->mo = calloc(n_members ? n_members : 1, sizeof(struct mo_entry));
        if (!b->urec || !b->grec || !b->members || !b->member_mo || !b->mo)
                return -ENOMEM;

        for (size_t i = 0; i < nu; i++) {
                uint32_t *rec = b->urec + i * USER_WORDS;
                uint32_t *s = wtable_probe(&b->ix[IX_USER_NAME], hash_str(u[i].name), eq_user_name, u, u[i].name);
                if (*s != 0)
                        return -EEXIST;
                *s = (uint32_t) i + 1;
                s = wtable_probe(&b->ix[IX_USER_UID], hash_id(u[i].uid), eq_user_uid, u, &u[i].uid);
                if (*s != 0)
                        return -EEXIST;
                *s = (uint32_t) i + 1;

                rec[F_ID] = u[i].uid;
                rec[U_GID] = u[i].gid;
                if ((r = intern(&b->st, u[i].name, &rec[F_NAME])) < 0 ||
                    (r = intern(&b->st, u[i].gecos, &rec[U_GECOS])) < 0 ||
                    (r = intern(&b->st, u[i].dir, &rec[U_DIR])) < 0 ||
                    (r = intern(&b->st, u[i].shell, &rec[U_SHELL])) < 0)
                        return r;
        }

        struct wtable mo_t = {};
        r = wtable_init(&mo_t, n_members);
        if (r < 0)
                return r;
        size_t k = 0;
        for (size_t i = 0; i < ng; i++) {
                uint32_t *rec = b->grec + i * GROUP_WORDS;
                uint32_t *s = wtable_probe(&b->ix[IX_GROUP_NAME], hash_str(g[i].name), eq_group_name, g, g[i].name);
                if (*s != 0)
                        goto eexist;
                *s = (uint32_t) i + 1;
                s = wtable_probe(&b->ix[IX_GROUP_GID], hash_id(g[i].gid), eq_group_gid, g, &g[i].gid);
                if (*s != 0)
                        goto eexist;
                *s = (uint32_t) i + 1;

                rec[F_ID] = g[i].gid;
                rec[G_FIRST] = (uint32_t) k;
                rec[G_COUNT] = (uint32_t) g[i].n_members;
                r = intern(&b->st, g[i].name, &rec[F_NAME]);
                if (r < 0)
                        goto out;
                for (size_t m = 0; m < g[i].n_members; m++, k++) {
                        uint32_t off;
                        r = intern(&b->st, g[i].members[m], &off);
                        if (r < 0)
                                goto out;
                        b->members[k] = off;
                        s = wtable_probe(&mo_t, hash_str(g[i].members[m]), eq_mo, b->mo, &off);
                        if (*s == 0) {
                                b->mo[b->n_mo] = (struct mo_entry) { .name = off };
                                *s = ++b->n_mo;
                        }
                        struct mo_entry *e = &b->mo[*s - 1];
                        if (e->last_group == i + 1)
                                goto eexist;
                        e->last_group = (uint32_t) i + 1;
                        e->count++;
                        b->member_mo[k] = *s - 1;
                }
        }

        /* Each memberof entry's gids, in group order. */
        uint32_t first = 0;
        for (uint32_t e = 0; e < b->n_mo; e++) {
                b->mo[e].first = first;
                first += b->mo[e].count;
        }
        b->gids = calloc(n_members ? n_members : 1, sizeof(uint32_t));
        if (!b->gids) {
                r = -ENOMEM;
                goto out;
        }
        k = 0;
        for (size_t i = 0; i < ng; i++)
                for (size_t m = 0; m < g[i].n_members; m++, k++) {
                        struct mo_entry *e = &b->mo[b->member_mo[k]];
                        b->gids[e->first + e->fill++] = g[i].gid;
                }

        /* The file's memberof index, sized for the distinct names. */
        r = wtable_init(&b->ix[IX_MEMBEROF_NAME], b->n_mo);
        if (r < 0)
                goto out;
        for (uint32_t e = 0; e < b->n_mo; e++) {
                const char *name = (const char *) b->strings.p + b->mo[e].name;
                uint32_t *s = wtable_probe(&b->ix[IX_MEMBEROF_NAME], hash_str(name), eq_mo, b->mo, &b->mo[e].name);
                *s = e + 1;
        }
        r = 0;
        goto out;
eexist:
        r = -EEXIST;
out:
        free(mo_t.slot);
        return r;
}

static uint32_t record_hash(const struct builder *b, unsigned ix, uint32_t i, const struct ehr_snap_user *u,
                            const struct ehr_snap_group *g) {
        switch (ix) {
        case IX_USER_NAME:
                return hash_str(u[i].name);
        case IX_USER_UID:
                return hash_id(u[i].uid);
        case IX_GROUP_NAME:
                return hash_str(g[i].name);
        case IX_GROUP_GID:
                return hash_id(g[i].gid);
        default:
                return hash_str((const char *) b->strings.p + b->mo[i].name);
        }
}

/* Measure the longest probe of an index, and spread it over a larger table
 * while that passes EHR_SNAP_PROBE_MAX: the reader refuses longer ones, and
 * this is what keeps every lookup O(1) however the names hash. */
static int finish_index(struct builder *b, unsigned ix, const struct ehr_snap_user *u,
                        const struct ehr_snap_group *g) {
        struct wtable *t = &b->ix[ix];
        for (unsigned grow = 0;; grow++) {
                uint32_t longest = 0;
                for (uint32_t p = 0; p <= t->mask; p++)
                        if (t->slot[p] != 0) {
                                uint32_t d = (p - record_hash(b, ix, t->slot[p] - 1, u, g)) & t->mask;
                                if (d > longest)
                                        longest = d;
                        }
                if (longest <= EHR_SNAP_PROBE_MAX) {
                        t->max_probe = longest;
                        return 0;
                }
                /* Only names sharing all 32 bits of their hash get here. */
                if (grow == SNAP_GROW_MAX || t->mask >= UINT32_MAX / 4U)
                        return -E2BIG;
                struct wtable n = { .mask = t->mask * 2 + 1 };
                n.slot = calloc((size_t) n.mask + 1, sizeof *n.slot);
                if (!n.slot)
                        return -ENOMEM;
                for (uint32_t p = 0; p <= t->mask; p++)
                        if (t->slot[p] != 0) {
                                uint32_t h = record_hash(b, ix, t->slot[p] - 1, u, g);
                                while (n.slot[h & n.mask] != 0)
                                        h++;
                                n.slot[h & n.mask] = t->slot[p];
                        }
                free(t->slot);
                *t = n;
        }
}

int ehr_snapshot_build(const struct ehr_snap_user *u, size_t nu, const struct ehr_snap_group *g, size_t ng,
                       void **ret_data, size_t *ret_size) {
        struct builder b = {};
        size_t n_members = 0;
        int r;

        if (!ret_data || !ret_size)
                return -EINVAL;
        r = validate_input(u, nu, g, ng, &n_members);
        if (r < 0)
                return r;
        r = build_records(&b, u, nu, g, ng, n_members);
        if (r < 0)
                goto out;
        for (unsigned i = 0; i < _IX_MAX; i++) {
                r = finish_index(&b, i, u, g);
                if (r < 0)
                        goto out;
        }

        struct snap_header h = {};
        const uint32_t counts[_SEC_MAX] = {
                [SEC_USERS] = (uint32_t) nu, [SEC_GROUPS] = (uint32_t) ng, [SEC_MEMBERS] = (uint32_t) n_members,
                [SEC_MEMBEROF] = b.n_mo,     [SEC_GIDS] = (uint32_t) n_members,
        };
        uint64_t off = SNAP_HEADER_BYTES;
        for (size_t i = 0; i < _SEC_MAX; i++) {
                h.sec[i] = (struct snap_section) { .count = counts[i], .off = (uint32_t) off };
                off += (uint64_t) counts[i] * sec_elem_bytes[i];
                if (off > EHR_SNAPSHOT_SIZE_MAX) {
                        r = -EFBIG;
                        goto out;
                }
        }
        for (size_t i = 0; i < _IX_MAX; i++) {
                h.ix[i] = (struct snap_index) { .n_slots = b.ix[i].mask + 1, .off = (uint32_t) off,
                                                .max_probe = b.ix[i].max_probe };
                off += (uint64_t) (b.ix[i].mask + 1) * SLOT_BYTES;
                if (off > EHR_SNAPSHOT_SIZE_MAX) {
                        r = -EFBIG;
                        goto out;
                }
        }
        h.strings_off = (uint32_t) off;
        h.strings_size = (uint32_t) b.strings.len;
        off += b.strings.len;
        if (off > EHR_SNAPSHOT_SIZE_MAX) {
                r = -EFBIG;
                goto out;
        }

        uint8_t *data = calloc(1, off);
        if (!data) {
                r = -ENOMEM;
                goto out;
        }
        uint8_t *p = data + h.sec[SEC_USERS].off;
        for (size_t i = 0; i < nu * USER_WORDS; i++, p += 4)
                wr32(p, b.urec[i]);
        p = data + h.sec[SEC_GROUPS].off;
        for (size_t i = 0; i < ng * GROUP_WORDS; i++, p += 4)
                wr32(p, b.grec[i]);
        p = data + h.sec[SEC_MEMBERS].off;
        for (size_t i = 0; i < n_members; i++, p += 4)
                wr32(p, b.members[i]);
        p = data + h.sec[SEC_MEMBEROF].off;
        for (uint32_t e = 0; e < b.n_mo; e++, p += MEMBEROF_BYTES) {
                wr32(p + 4 * F_NAME, b.mo[e].name);
                wr32(p + 4 * MO_FIRST, b.mo[e].first);
                wr32(p + 4 * MO_COUNT, b.mo[e].count);
        }
        p = data + h.sec[SEC_GIDS].off;
        for (size_t i = 0; i < n_members; i++, p += 4)
                wr32(p, b.gids[i]);
        for (size_t i = 0; i < _IX_MAX; i++) {
                p = data + h.ix[i].off;
                for (uint32_t sl = 0; sl <= b.ix[i].mask; sl++, p += SLOT_BYTES) {
                        uint32_t ref = b.ix[i].slot[sl];
                        wr32(p, ref);
                        wr32(p + 4, ref ? record_hash(&b, (unsigned) i, ref - 1, u, g) : 0);
                }
        }
        memcpy(data + h.strings_off, b.strings.p, b.strings.len);

        /* Header last: the checksums cover what is above. */
        struct snap_header le = {};
        memcpy(le.magic, SNAP_MAGIC, SNAP_MAGIC_BYTES);
        le.version = htole32(SNAP_VERSION);
        le.header_size = htole32(SNAP_HEADER_BYTES);
        le.file_size = htole64(off);
        le.body_checksum = htole64(fnv64(data + SNAP_HEADER_BYTES, off - SNAP_HEADER_BYTES));
        for (size_t i = 0; i < _SEC_MAX; i++)
                le.sec[i] = (struct snap_section) { htole32(h.sec[i].count), htole32(h.sec[i].off) };
        for (size_t i = 0; i < _IX_MAX; i++)
                le.ix[i] = (struct snap_index) { htole32(h.ix[i].n_slots), htole32(h.ix[i].off),
                                                 htole32(h.ix[i].max_probe) };
        le.strings_off = htole32(h.strings_off);
        le.strings_size = htole32(h.strings_size);
        le.header_checksum = htole32(fnv32((const uint8_t *) &le, offsetof(struct snap_header, header_checksum)));
        memcpy(data, &le, sizeof le);

        *ret_data = data;
        *ret_size = (size_t) off;
        r = 0;
out:
        builder_done(&b);
        return r;
}

static int write_all(int fd, const uint8_t *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

int ehr_snapshot_write(const char *path, const struct ehr_snap_user *u, size_t nu, const struct ehr_snap_group *g,
                       size_t ng) {
        _cleanup_free_ void *data = NULL;
        _cleanup_free_ char *dir = NULL, *tmp = NULL;
        _cleanup_close_ int fd = -1, dfd = -1;
        size_t size;
        int r;

        if (isempty(path) || path[0] != '/' || path[strlen(path) - 1] == '/')
                return -EINVAL;
        r = ehr_snapshot_build(u, nu, g, ng, &data, &size);
        if (r < 0)
                return r;

        const char *slash = strrchr(path, '/');
        dir = slash == path ? strdup("/") : strndup(path, (size_t) (slash - path));
        /* A dot name: ls and globs skip it, and no reader opens it by accident. */
        if (!dir || asprintf(&tmp, "%s/.%s." TMP_SUFFIX, dir, slash + 1) < 0) {
                tmp = NULL;
                return -ENOMEM;
        }

        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0 && errno == ENOENT) {
                if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                        return negative_errno();
                /* A failed mkostemp() leaves its guess in the template. */
                memcpy(tmp + strlen(tmp) - TMP_SUFFIX_BYTES, TMP_SUFFIX, TMP_SUFFIX_BYTES);
                fd = mkostemp(tmp, O_CLOEXEC);
        }
        if (fd < 0)
                return negative_errno();

        r = write_all(fd, data, size);
        if (r >= 0 && fsync(fd) < 0)
                r = negative_errno();
        /* mkostemp() made it 0600: every process on the host must read it. */
        if (r >= 0 && fchmod(fd, 0644) < 0)
                r = negative_errno();
        if (r >= 0 && close(TAKE_FD(fd)) < 0)
                r = negative_errno();
        if (r >= 0 && rename(tmp, path) < 0)
                r = negative_errno();
        if (r < 0) {
                (void) unlink(tmp);
                return r;
        }

        /* The rename is durable only once the directory is on disk. */
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fsync(dfd) < 0)
                return negative_errno();
        return 0;
}

/* ---- reader ---- */

static int parse_header(struct ehr_snapshot *s) {
        struct snap_header h;

        if (s->size < SNAP_HEADER_BYTES || s->size > EHR_SNAPSHOT_SIZE_MAX)
                return -EBADMSG;
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
        if (soff < SNAP_HEADER_BYTES || ssize == 0 || (uint64_t) soff + ssize > s->size ||
            s->base[soff + ssize - 1] != '\0')
                return -EBADMSG;
        s->strings = (const char *) s->base + soff;
        s->strings_size = ssize;
        s->body_checksum = le64toh(h.body_checksum);
        return 0;
}

struct ehr_snapshot *ehr_snapshot_free(struct ehr_snapshot *s) {
        if (!s)
                return NULL;
        if (s->mapped)
                (void) munmap((void *) s->base, s->size);
        free(s);
        return NULL;
}

int ehr_snapshot_from_buffer(const void *data, size_t size, unsigned flags, struct ehr_snapshot **ret) {
        _cleanup_(ehr_snapshot_freep) struct ehr_snapshot *s = NULL;
        int r;

        if ((!data && size > 0) || !ret)
                return -EINVAL;
        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->base = data;
        s->size = size;
        r = parse_header(s);
        if (r < 0)
                return r;
        if (flags & EHR_SNAPSHOT_VERIFY) {
                r = ehr_snapshot_verify(s);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

int ehr_snapshot_open(const char *path, unsigned flags, struct ehr_snapshot **ret) {
        _cleanup_(ehr_snapshot_freep) struct ehr_snapshot *s = NULL;
        _cleanup_close_ int fd = -1;
        struct stat st;
        int r;

        if (isempty(path) || !ret)
                return -EINVAL;
        /* O_NONBLOCK: a FIFO put in its place must not hang every getpwnam() on the host. */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        /* Checked on the descriptor: whoever can write it decides every process's users. */
        if (st.st_uid != 0 && st.st_uid != geteuid())
                return -EPERM;
        if (st.st_mode & 0022)
                return -EACCES;
        if (st.st_size < (off_t) SNAP_HEADER_BYTES || st.st_size > (off_t) EHR_SNAPSHOT_SIZE_MAX)
                return -EBADMSG;

        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        void *p = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
                return negative_errno();
        s->base = p;
        s->size = (size_t) st.st_size;
        s->mapped = true;
        s->have_file = true;
        s->st_dev = st.st_dev;
        s->st_ino = st.st_ino;
        s->st_size = st.st_size;
        s->st_mtim = st.st_mtim;

        r = parse_header(s);
        if (r < 0)
                return r;
        if (flags & EHR_SNAPSHOT_VERIFY) {
                r = ehr_snapshot_verify(s);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

bool ehr_snapshot_same_file(const struct ehr_snapshot *s, const struct stat *st) {
        return s && st && s->have_file && s->st_dev == st->st_dev && s->st_ino == st->st_ino &&
               s->st_size == st->st_size && s->st_mtim.tv_sec == st->st_mtim.tv_sec &&
               s->st_mtim.tv_nsec == st->st_mtim.tv_nsec;
}

size_t ehr_snapshot_n_users(const struct ehr_snapshot *s) {
        return s ? s->sec[SEC_USERS].count : 0;
}

size_t ehr_snapshot_n_groups(const struct ehr_snapshot *s) {
        return s ? s->sec[SEC_GROUPS].count : 0;
}

/* Word w of record i of a section; i < count was checked by the caller, and the
 * section was checked against the mapping at open. */
static inline uint32_t rec_word(const struct ehr_snapshot *s, unsigned sec, uint32_t i, unsigned w) {
        return rd32(s->base + s->sec[sec].off + (size_t) i * sec_elem_bytes[sec] + 4U * w);
}

/* A string at offset off: inside the blob, and free of the characters that
 * would let a corrupt file forge extra passwd lines or fields. */
static int str_at(const struct ehr_snapshot *s, uint32_t off, const char **ret) {
        if (off >= s->strings_size)
                return -EBADMSG;
        const char *p = s->strings + off;
        if (strpbrk(p, ":\n"))
                return -EBADMSG;
        *ret = p;
        return 0;
}

static int decode_user(const struct ehr_snapshot *s, uint32_t i, struct ehr_snap_user *ret) {
        struct ehr_snap_user u = {
                .uid = rec_word(s, SEC_USERS, i, F_ID),
                .gid = rec_word(s, SEC_USERS, i, U_GID),
        };
        int r;
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
        struct ehr_snap_group_view g = {
                .gid = rec_word(s, SEC_GROUPS, i, F_ID),
                .members_first = rec_word(s, SEC_GROUPS, i, G_FIRST),
                .n_members = rec_word(s, SEC_GROUPS, i, G_COUNT),
        };
        int r = str_at(s, rec_word(s, SEC_GROUPS, i, F_NAME), &g.name);
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
        const uint8_t *slots = s->base + s->ix[ix].off;
        for (uint32_t k = 0; k <= s->ix[ix].max_probe; k++) {
                const uint8_t *slot = slots + (size_t) ((h + k) & mask) * SLOT_BYTES;
                uint32_t v = rd32(slot);
                if (v == 0)
                        return -ENOENT;
                if (rd32(slot + 4) != h)
                        continue;
                if (v - 1 >= s->sec[sec].count)
                        return -EBADMSG;
                bool match;
                if (name) {
                        uint32_t off = rec_word(s, sec, v - 1, F_NAME);
                        if (off >= s->strings_size)
                                return -EBADMSG;
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
        int r = str_at(s, rec_word(s, SEC_MEMBERS, g->members_first + (uint32_t) i, F_NAME), &name);
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
        if (fnv64(s->base + SNAP_HEADER_BYTES, s->size - SNAP_HEADER_BYTES) != s->body_checksum)
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
