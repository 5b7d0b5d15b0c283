/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Publishing the NSS snapshot that libnss_ehr.so.2 serves to every process from
 * the store's users and groups (written atomically, see snapshot.h). */

#include <grp.h>
#include <stdio.h>
#include <sys/stat.h>

#include "account.h"
#include "accounts-internal.h"
#include "snapshot.h"

#define NOLOGIN "/usr/sbin/nologin"

const char *ehr_account_snapshot_path(const struct ehr_config *c) {
        return c->nss_snapshot ?: EHR_SNAPSHOT_DEFAULT_PATH;
}

struct pub {
        struct ehr_snap_user *users;
        struct ehr_snap_group *groups;
        struct ehr_snap_shadow *shadow; /* one per user, same order */
        char **strings;
        size_t nu, ng, ns, cap_u, cap_g, cap_s, cap_sh;
        struct ehr_op *op;
        /* members of the group being collected */
        const char **members;
        size_t nm, cap_m;
};

static char *keep(struct pub *p, const char *s) {
        if (p->ns == p->cap_s) {
                size_t cap = p->cap_s ? 2 * p->cap_s : 64;
                char **n = realloc(p->strings, cap * sizeof *n);
                if (!n)
                        return NULL;
                p->strings = n, p->cap_s = cap;
        }
        return p->strings[p->ns] = strdup(s), p->strings[p->ns] ? p->strings[p->ns++] : NULL;
}

static int grow(void **arr, size_t *cap, size_t n, size_t elem) {
        if (n < *cap)
                return 0;
        size_t c = *cap ? 2 * *cap : 64;
        void *x = realloc(*arr, c * elem);
        if (!x)
                return -ENOMEM;
        *arr = x, *cap = c;
        return 0;
}

/* A stored value the snapshot would refuse (written before the rules, or by hand):
 * name it, so that the front end can say which user to fix. */
static int offender(struct pub *p, const char *name, enum ehr_field f) {
        snprintf(p->op->offender, sizeof p->op->offender, "%s", name);
        return account_fail(p->op, f, -EINVAL);
}

static int check_user(struct pub *p, const struct ehr_snap_user *s) {
        if (!ehr_field_valid(EHR_FIELD_LOGIN, s->name))
                return offender(p, s->name, EHR_FIELD_LOGIN);
        if (!ehr_field_valid(EHR_FIELD_TEXT, s->gecos))
                return offender(p, s->name, EHR_FIELD_TEXT);
        if (!ehr_field_valid(EHR_FIELD_PATH, s->dir) || !ehr_field_valid(EHR_FIELD_PATH, s->shell))
                return offender(p, s->name, EHR_FIELD_PATH);
        return 0;
}

#define SEC_PER_DAY 86400U

/* The user's shadow line: their hash, or none yet ("!"). */
static int add_shadow(struct pub *p, const struct ehr_user *u, const char *name) {
        char hash[EHR_PASSWORD_HASH_MAX + 1];
        uint64_t changed = 0;
        int r = grow((void **) &p->shadow, &p->cap_sh, p->nu, sizeof *p->shadow);
        if (r < 0)
                return r;
        r = ehr_store_password_get(p->op->store, u->id, hash, &changed);
        if (r == -EUCLEAN) { /* a damaged row (edited by hand): name its user */
                (void) offender(p, u->login, EHR_FIELD_NONE);
                return r;
        }
        if (r < 0 && r != -ENOENT)
                return r;
        p->shadow[p->nu] = (struct ehr_snap_shadow) {
                .name = name,
                .hash = r == -ENOENT ? NULL : keep(p, hash),
                .locked = u->locked,
                .changed_days = changed / SEC_PER_DAY,
        };
        return r == -ENOENT || p->shadow[p->nu].hash ? 0 : -ENOMEM;
}

static int add_user(const struct ehr_user *u, void *userdata) {
        struct pub *p = userdata;
        const struct ehr_config *c = p->op->cfg;
        if (u->uid < 0)
                return 0;
        if (grow((void **) &p->users, &p->cap_u, p->nu, sizeof *p->users) < 0)
                return -ENOMEM;
        char home[EHR_FIELD_PATH_MAX + 1];
        ehr_account_home_path(c, u->login, u->home, home, sizeof home);
        struct ehr_snap_user *s = &p->users[p->nu];
        *s = (struct ehr_snap_user) {
                .name = keep(p, u->login),
                .uid = (uint32_t) u->uid,
                .gid = (uint32_t) u->gid,
                .gecos = keep(p, u->name),
                .dir = keep(p, home),
                /* A locked account stays visible (files keep their owner) but cannot log in. */
                .shell = keep(p, u->locked ? NOLOGIN : *u->shell ? u->shell : c->default_shell ?: "/bin/bash"),
        };
        if (!s->name || !s->gecos || !s->dir || !s->shell)
                return -ENOMEM;
        int r = check_user(p, s);
        if (r >= 0)
                r = add_shadow(p, u, s->name);
        if (r < 0)
                return r;
        p->nu++;
        /* The user's private group, when their gid is not a named group. */
        if (u->gid == u->uid) {
                if (grow((void **) &p->groups, &p->cap_g, p->ng, sizeof *p->groups) < 0)
                        return -ENOMEM;
                p->groups[p->ng++] = (struct ehr_snap_group) { .name = s->name, .gid = s->gid };
        }
        return 0;
}

static int add_member(const char *login, void *userdata) {
        struct pub *p = userdata;
        if (grow((void **) &p->members, &p->cap_m, p->nm, sizeof *p->members) < 0)
                return -ENOMEM;
        return (p->members[p->nm++] = keep(p, login)) ? 0 : -ENOMEM;
}

static int add_group(const struct ehr_group *g, void *userdata) {
        struct pub *p = userdata;
        if (!ehr_field_valid(EHR_FIELD_GROUP, g->name))
                return offender(p, g->name, EHR_FIELD_GROUP);
        p->members = NULL, p->nm = p->cap_m = 0;
        int r = ehr_store_group_members(p->op->store, g->id, add_member, p);
        if (r >= 0)
                r = grow((void **) &p->groups, &p->cap_g, p->ng, sizeof *p->groups);
        if (r < 0) {
                free(p->members);
                return r;
        }
        p->groups[p->ng++] = (struct ehr_snap_group) {
                .name = keep(p, g->name), .gid = (uint32_t) g->gid, .members = p->members, .n_members = p->nm,
        };
        return p->groups[p->ng - 1].name ? 0 : -ENOMEM;
}

/* The snapshot directory is world-readable: NSS reads it in every process, so
 * the tool's umask (0077) must not make it private. */
static int make_parent(const char *path) {
        _cleanup_free_ char *dir = strdup(path);
        char *slash = dir ? strrchr(dir, '/') : NULL;
        if (!dir)
                return -ENOMEM;
        if (slash && slash != dir) {
                *slash = 0;
                if (mkdir(dir, 0755) == 0) {
                        if (chmod(dir, 0755) < 0)
                                return negative_errno();
                } else if (errno != EEXIST)
                        return negative_errno();
        }
        return 0;
}

/* root:shadow 0640, like /etc/shadow; a host without a shadow group keeps root's.
 * A store run by another user (a test, a developer) keeps that user's group:
 * only root may give a file to a group it is not in. */
static int write_shadow(const char *path, const struct pub *p, unsigned flags, bool *ret_changed) {
        _cleanup_free_ char *shadow_path = NULL;
        int r = ehr_snapshot_shadow_path(path, &shadow_path);
        if (r < 0)
                return r;
        const struct group *g = geteuid() == 0 ? getgrnam("shadow") : NULL;
        return ehr_snapshot_shadow_put(shadow_path, p->shadow, p->nu, g ? g->gr_gid : (gid_t) -1, flags, ret_changed);
}

/* Read the directory (users, then groups) and publish it with flags. The shadow
 * snapshot first: a user appears in passwd only once their shadow line exists. */
static int publish(struct ehr_op *op, unsigned flags, struct ehr_sync *ret) {
        struct pub p = { .op = op };
        const char *path = ehr_account_snapshot_path(op->cfg);
        bool shadow_changed = true, changed = true;
        int r = ehr_store_user_foreach(op->store, add_user, &p);
        size_t private_groups = p.ng;
        if (r >= 0)
                r = ehr_store_group_foreach(op->store, add_group, &p);
        if (r >= 0)
                r = make_parent(path);
        if (r >= 0)
                r = write_shadow(path, &p, flags, &shadow_changed);
        if (r >= 0)
                r = ehr_snapshot_publish(path, p.users, p.nu, p.groups, p.ng, flags, &changed);
        if (r >= 0 && ret)
                *ret = (struct ehr_sync) { .changed = changed || shadow_changed, .users = p.nu, .groups = p.ng };
        for (size_t i = private_groups; i < p.ng; i++)
                free((void *) p.groups[i].members);
        for (size_t i = 0; i < p.ns; i++) {
                explicit_bzero(p.strings[i], strlen(p.strings[i])); /* some are hashes */
                free(p.strings[i]);
        }
        free(p.shadow);
        free(p.strings);
        free(p.users);
        free(p.groups);
        return r;
}

int ehr_account_publish(struct ehr_op *op) {
        return publish(op, 0, NULL);
}

int ehr_account_sync(struct ehr_op *op, struct ehr_sync *ret) {
        /* One transaction: users and groups from the same state of the store, so a
         * group is never published with a member added after the users were read. */
        int r = ehr_store_begin(op->store);
        if (r < 0)
                return r;
        r = publish(op, EHR_SNAPSHOT_IF_CHANGED, ret);
        ehr_store_rollback(op->store);
        return r;
}
