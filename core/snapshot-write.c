/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The NSS snapshot writer (ehr2fa-admin): validates the directory and builds the
 * file image (snapshot-format.h); snapshot-publish.c puts it on disk. */

#include <stdio.h>

#include "field.h"
#include "snapshot-format.h"
#include "snapshot.h"
#include "util.h"

/* How many times finish_index() may double a table (to 8x) to bound its probes. */
#define SNAP_GROW_MAX 3U

#define BLOB_INITIAL_BYTES 4096U

/* Smallest power of two >= 2n (load factor at most 1/2), at least 1. */
static uint32_t slots_for(size_t n) {
        uint32_t s = 1;
        while (s < 2 * n)
                s <<= 1;
        return s;
}

/* ---- validation of writer input ---- */

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
        /* The account rules of field.h, which every writer of the store applies too: a
         * value this refuses was refused when it was written. */
        for (size_t i = 0; i < nu; i++)
                if (!ehr_field_valid(EHR_FIELD_LOGIN, u[i].name) || !id_valid(u[i].uid) || !id_valid(u[i].gid) ||
                    !ehr_field_valid(EHR_FIELD_TEXT, u[i].gecos) || !ehr_field_valid(EHR_FIELD_PATH, u[i].dir) ||
                    !u[i].shell || (*u[i].shell && !ehr_field_valid(EHR_FIELD_PATH, u[i].shell)))
                        return -EINVAL;
        size_t total = 0;
        for (size_t i = 0; i < ng; i++) {
                if (!ehr_field_valid(EHR_FIELD_GROUP, g[i].name) || !id_valid(g[i].gid) ||
                    g[i].n_members > EHR_SNAP_MEMBERS_MAX || (g[i].n_members > 0 && !g[i].members))
                        return -EINVAL;
                for (size_t k = 0; k < g[i].n_members; k++)
                        if (!ehr_field_valid(EHR_FIELD_LOGIN, g[i].members[k]))
                                return -EINVAL;
                total += g[i].n_members;
                if (total > UINT32_MAX / 8U)
                        return -EFBIG;
        }
        *ret_members = total;
        return 0;
}

/* The string table, the four name and id indexes and the record arrays. */
static int builder_init(struct builder *b, size_t nu, size_t ng, size_t n_members) {
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
        b->gids = calloc(n_members ? n_members : 1, sizeof(uint32_t));
        if (!b->urec || !b->grec || !b->members || !b->member_mo || !b->mo || !b->gids)
                return -ENOMEM;
        return 0;
}

/* Put the record index + 1 in the slot the key probes to; -EEXIST if taken. */
static int index_add(struct wtable *t, uint32_t h, bool (*eq)(const void *ctx, uint32_t v, const void *key),
                     const void *ctx, const void *key, size_t i) {
        uint32_t *s = wtable_probe(t, h, eq, ctx, key);
        if (*s != 0)
                return -EEXIST;
        *s = (uint32_t) i + 1;
        return 0;
}

static int add_users(struct builder *b, const struct ehr_snap_user *u, size_t nu) {
        int r;

        for (size_t i = 0; i < nu; i++) {
                uint32_t *rec = b->urec + i * USER_WORDS;
                if ((r = index_add(&b->ix[IX_USER_NAME], hash_str(u[i].name), eq_user_name, u, u[i].name, i)) < 0 ||
                    (r = index_add(&b->ix[IX_USER_UID], hash_id(u[i].uid), eq_user_uid, u, &u[i].uid, i)) < 0)
                        return r;
                rec[F_ID] = u[i].uid;
                rec[U_GID] = u[i].gid;
                if ((r = intern(&b->st, u[i].name, &rec[F_NAME])) < 0 ||
                    (r = intern(&b->st, u[i].gecos, &rec[U_GECOS])) < 0 ||
                    (r = intern(&b->st, u[i].dir, &rec[U_DIR])) < 0 ||
                    (r = intern(&b->st, u[i].shell, &rec[U_SHELL])) < 0)
                        return r;
        }
        return 0;
}

/* Member k (of all groups' members) is `name`, listed by group i: intern it and
 * count it towards its memberof entry, found or made through mo_t. */
static int add_member(struct builder *b, struct wtable *mo_t, size_t i, size_t k, const char *name) {
        uint32_t off;
        int r = intern(&b->st, name, &off);
        if (r < 0)
                return r;
        b->members[k] = off;
        uint32_t *s = wtable_probe(mo_t, hash_str(name), eq_mo, b->mo, &off);
        if (*s == 0) {
                b->mo[b->n_mo] = (struct mo_entry) { .name = off };
                *s = ++b->n_mo;
        }
        struct mo_entry *e = &b->mo[*s - 1];
        if (e->last_group == i + 1)
                return -EEXIST; /* the same member twice in one group */
        e->last_group = (uint32_t) i + 1;
        e->count++;
        b->member_mo[k] = *s - 1;
        return 0;
}

static int add_groups(struct builder *b, const struct ehr_snap_group *g, size_t ng, size_t n_members) {
        struct wtable mo_t = {};
        int r = wtable_init(&mo_t, n_members);
        if (r < 0)
                return r;
        size_t k = 0;
        for (size_t i = 0; i < ng && r >= 0; i++) {
                uint32_t *rec = b->grec + i * GROUP_WORDS;
                if ((r = index_add(&b->ix[IX_GROUP_NAME], hash_str(g[i].name), eq_group_name, g, g[i].name, i)) < 0 ||
                    (r = index_add(&b->ix[IX_GROUP_GID], hash_id(g[i].gid), eq_group_gid, g, &g[i].gid, i)) < 0)
                        break;
                rec[F_ID] = g[i].gid;
                rec[G_FIRST] = (uint32_t) k;
                rec[G_COUNT] = (uint32_t) g[i].n_members;
                r = intern(&b->st, g[i].name, &rec[F_NAME]);
                for (size_t m = 0; m < g[i].n_members && r >= 0; m++, k++)
                        r = add_member(b, &mo_t, i, k, g[i].members[m]);
        }
        free(mo_t.slot);
        return r;
}

/* Each memberof entry's gids, in group order, and the file's memberof index,
 * sized for the distinct names. */
static int add_memberof(struct builder *b, const struct ehr_snap_group *g, size_t ng) {
        uint32_t first = 0;
        for (uint32_t e = 0; e < b->n_mo; e++) {
                b->mo[e].first = first;
                first += b->mo[e].count;
        }
        size_t k = 0;
        for (size_t i = 0; i < ng; i++)
                for (size_t m = 0; m < g[i].n_members; m++, k++) {
                        struct mo_entry *e = &b->mo[b->member_mo[k]];
                        b->gids[e->first + e->fill++] = g[i].gid;
                }

        int r = wtable_init(&b->ix[IX_MEMBEROF_NAME], b->n_mo);
        if (r < 0)
                return r;
        for (uint32_t e = 0; e < b->n_mo; e++) {
                const char *name = (const char *) b->strings.p + b->mo[e].name;
                uint32_t *s = wtable_probe(&b->ix[IX_MEMBEROF_NAME], hash_str(name), eq_mo, b->mo, &b->mo[e].name);
                *s = e + 1;
        }
        return 0;
}

static int build_records(struct builder *b, const struct ehr_snap_user *u, size_t nu, const struct ehr_snap_group *g,
                         size_t ng, size_t n_members) {
        int r = builder_init(b, nu, ng, n_members);
        if (r >= 0)
                r = add_users(b, u, nu);
        if (r >= 0)
                r = add_groups(b, g, ng, n_members);
        if (r >= 0)
                r = add_memberof(b, g, ng);
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

/* Place the sections, the indexes and the strings after the header (host
 * order in *h); returns the file size, or -EFBIG past EHR_SNAPSHOT_SIZE_MAX. */
static int64_t layout(const struct builder *b, size_t nu, size_t ng, size_t n_members, struct snap_header *h) {
        const uint32_t counts[_SEC_MAX] = {
                [SEC_USERS] = (uint32_t) nu, [SEC_GROUPS] = (uint32_t) ng, [SEC_MEMBERS] = (uint32_t) n_members,
                [SEC_MEMBEROF] = b->n_mo,    [SEC_GIDS] = (uint32_t) n_members,
        };
        uint64_t off = SNAP_HEADER_BYTES;
        for (size_t i = 0; i < _SEC_MAX; i++) {
                h->sec[i] = (struct snap_section) { .count = counts[i], .off = (uint32_t) off };
                off += (uint64_t) counts[i] * sec_elem_bytes[i];
                if (off > EHR_SNAPSHOT_SIZE_MAX)
                        return -EFBIG;
        }
        for (size_t i = 0; i < _IX_MAX; i++) {
                h->ix[i] = (struct snap_index) { .n_slots = b->ix[i].mask + 1, .off = (uint32_t) off,
                                                 .max_probe = b->ix[i].max_probe };
                off += (uint64_t) (b->ix[i].mask + 1) * SLOT_BYTES;
                if (off > EHR_SNAPSHOT_SIZE_MAX)
                        return -EFBIG;
        }
        h->strings_off = (uint32_t) off;
        h->strings_size = (uint32_t) b->strings.len;
        off += b->strings.len;
        return off > EHR_SNAPSHOT_SIZE_MAX ? -EFBIG : (int64_t) off;
}

static void put_words(uint8_t *p, const uint32_t *w, size_t n) {
        for (size_t i = 0; i < n; i++, p += 4)
                wr32(p, w[i]);
}

/* Everything below the header, at the places layout() gave. */
static void serialize(uint8_t *data, const struct snap_header *h, const struct builder *b,
                      const struct ehr_snap_user *u, const struct ehr_snap_group *g) {
        put_words(data + h->sec[SEC_USERS].off, b->urec, (size_t) h->sec[SEC_USERS].count * USER_WORDS);
        put_words(data + h->sec[SEC_GROUPS].off, b->grec, (size_t) h->sec[SEC_GROUPS].count * GROUP_WORDS);
        put_words(data + h->sec[SEC_MEMBERS].off, b->members, h->sec[SEC_MEMBERS].count);
        uint8_t *p = data + h->sec[SEC_MEMBEROF].off;
        for (uint32_t e = 0; e < b->n_mo; e++, p += MEMBEROF_BYTES) {
                wr32(p + 4 * F_NAME, b->mo[e].name);
                wr32(p + 4 * MO_FIRST, b->mo[e].first);
                wr32(p + 4 * MO_COUNT, b->mo[e].count);
        }
        put_words(data + h->sec[SEC_GIDS].off, b->gids, h->sec[SEC_GIDS].count);
        for (size_t i = 0; i < _IX_MAX; i++) {
                p = data + h->ix[i].off;
                for (uint32_t sl = 0; sl <= b->ix[i].mask; sl++, p += SLOT_BYTES) {
                        uint32_t ref = b->ix[i].slot[sl];
                        wr32(p, ref);
                        wr32(p + 4, ref ? record_hash(b, (unsigned) i, ref - 1, u, g) : 0);
                }
        }
        memcpy(data + h->strings_off, b->strings.p, b->strings.len);
}

/* The header, little-endian, last: its checksums cover what is below it. */
static void seal_header(uint8_t *data, const struct snap_header *h, size_t size) {
        struct snap_header le = {};
        memcpy(le.magic, SNAP_MAGIC, SNAP_MAGIC_BYTES);
        le.version = htole32(SNAP_VERSION);
        le.header_size = htole32(SNAP_HEADER_BYTES);
        le.file_size = htole64(size);
        le.body_checksum = htole64(fnv64(data + SNAP_HEADER_BYTES, size - SNAP_HEADER_BYTES));
        for (size_t i = 0; i < _SEC_MAX; i++)
                le.sec[i] = (struct snap_section) { htole32(h->sec[i].count), htole32(h->sec[i].off) };
        for (size_t i = 0; i < _IX_MAX; i++)
                le.ix[i] = (struct snap_index) { htole32(h->ix[i].n_slots), htole32(h->ix[i].off),
                                                 htole32(h->ix[i].max_probe) };
        le.strings_off = htole32(h->strings_off);
        le.strings_size = htole32(h->strings_size);
        le.header_checksum = htole32(fnv32((const uint8_t *) &le, offsetof(struct snap_header, header_checksum)));
        memcpy(data, &le, sizeof le);
}

int ehr_snapshot_build(const struct ehr_snap_user *u, size_t nu, const struct ehr_snap_group *g, size_t ng,
                       void **ret_data, size_t *ret_size) {
        struct builder b = {};
        struct snap_header h = {};
        size_t n_members = 0;
        int64_t size = 0;
        int r;

        if (!ret_data || !ret_size)
                return -EINVAL;
        r = validate_input(u, nu, g, ng, &n_members);
        if (r < 0)
                return r;
        r = build_records(&b, u, nu, g, ng, n_members);
        for (unsigned i = 0; i < _IX_MAX && r >= 0; i++)
                r = finish_index(&b, i, u, g);
        if (r >= 0) {
                size = layout(&b, nu, ng, n_members, &h);
                if (size < 0)
                        r = (int) size;
        }
        uint8_t *data = NULL;
        if (r >= 0 && !(data = calloc(1, (size_t) size)))
                r = -ENOMEM;
        if (r >= 0) {
                serialize(data, &h, &b, u, g);
                seal_header(data, &h, (size_t) size);
                *ret_data = data;
                *ret_size = (size_t) size;
        }
        builder_done(&b);
        return r;
}
