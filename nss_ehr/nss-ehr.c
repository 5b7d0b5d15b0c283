/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libnss_ehr.so.2: staff accounts of the ehr2fa store, as passwd and group
 * entries, read from the world-readable snapshot that ehr2fa-admin publishes
 * (core/snapshot.h). Never the store itself: it is root-only, and this code
 * runs in every process on the host, as every user.
 *
 * Shared state is one cache of the current snapshot plus the two enumeration
 * cursors, under one mutex that is held for pointer and counter updates only:
 * never across stat(), open(), read() or a copy out of a snapshot.
 *
 * A snapshot is copied into memory of our own as lookups need it
 * (core/snapshot-copy.c), never mapped from the file: a file truncated in
 * place under a mapping would kill this process (and every process is
 * ours) with SIGBUS.
 *
 * The hot path makes no system call. A lookup trusts the last check of the
 * file for NSS_RECHECK_NS (read from CLOCK_MONOTONIC_COARSE, which the vDSO
 * serves); the first lookup after that stat()s the path and reads the file
 * again only if it was replaced (device, inode, size, mtime, ctime). A
 * listing (setpwent/setgrent), initgroups and the first lookup in a forked
 * child always check. An error (no snapshot, a corrupt one) is kept for the
 * same time, so a host without a snapshot does not pay a stat() per lookup.
 * A snapshot in use by a lookup or a cursor outlives its replacement, so a
 * reader keeps the whole of one snapshot until it is done: no torn record.
 * Each live snapshot keeps its descriptor (O_CLOEXEC) to copy chunks from;
 * usually one, closed when the snapshot is freed. */

#include <errno.h>
#include <grp.h>
#include <nss.h>
#include <pthread.h>
#include <pwd.h>
#include <stdalign.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "nss-ehr.h"
#include "snapshot.h"
#include "util.h"

/* Tests point this at their own file. secure_getenv(): a setuid or setgid
 * program ignores it, so a user cannot feed su or sudo made-up accounts. */
#define NSS_SNAPSHOT_ENV "EHR2FA_NSS_SNAPSHOT"

/* What goes in pw_passwd and gr_passwd: "see shadow". The snapshot carries no
 * hash; the shadow database (nss-shadow.c) serves it from its own root-only file. */
#define NSS_PASSWD_FIELD "x"

/* initgroups_dyn grows the caller's array by doubling, from at least this. */
#define NSS_GROUPS_MIN 16L

/* How long a lookup trusts the last check of the file without a system call.
 * A replaced snapshot is seen by every lookup that starts more than this (plus
 * one tick of CLOCK_MONOTONIC_COARSE, 1-10 ms) after it was replaced. */
#define NSS_RECHECK_NS (100U * 1000U * 1000U)

struct node {
        struct ehr_snapshot *snap;
        unsigned inflight; /* lookups using it right now */
        unsigned cursors;  /* setpwent/setgrent cursors positioned on it */
        bool is_current;   /* what the next lookup will use, if the file is unchanged */
        struct node *next; /* all live nodes, so that a forked child can account for them */
};

struct cursor {
        struct node *node;
        size_t idx;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct node *nodes;       /* every live node */
static struct node *current;     /* is_current, or NULL */
static int current_error;        /* why current is NULL (-errno), or 0 */
static uint64_t checked_until;   /* coarse monotonic ns: until then, current (or current_error) stands */
static struct cursor pw_cursor, gr_cursor;

/* fork() in another thread while one holds cache_lock would leave the child
 * with a mutex that nobody will ever unlock: take it around fork(). */
static void atfork_prepare(void) {
        (void) pthread_mutex_lock(&cache_lock);
}

static void atfork_parent(void) {
        (void) pthread_mutex_unlock(&cache_lock);
}

/* In the child only the forking thread exists, and it was not inside this
 * module (fork() is never called from here): the lookups that the parent's
 * other threads had in flight will never finish, so drop their counts. The
 * child keeps the parent's copy (its own memory now), but its first lookup
 * checks the file: a fork is often the start of a new session. Unused
 * snapshots are freed by the next reap_locked(), outside this handler. */
static void atfork_child(void) {
        for (struct node *n = nodes; n; n = n->next) {
                n->inflight = 0;
                ehr_snapshot_after_fork(n->snap);
        }
        checked_until = 0;
        (void) pthread_mutex_unlock(&cache_lock);
}

__attribute__((constructor)) static void nss_ehr_init(void) {
        (void) pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

static bool node_unused(const struct node *n) {
        return n->inflight == 0 && n->cursors == 0 && !n->is_current;
}

/* Move every unused node from `nodes` onto *dead, to be freed after unlocking. */
static void reap_locked(struct node **dead) {
        for (struct node **p = &nodes; *p;) {
                struct node *n = *p;
                if (node_unused(n)) {
                        *p = n->next;
                        n->next = *dead;
                        *dead = n;
                } else
                        p = &n->next;
        }
}

static void free_dead(struct node *dead) {
        while (dead) {
                struct node *next = dead->next;
                ehr_snapshot_free(dead->snap);
                free(dead);
                dead = next;
        }
}

const char *nss_ehr_snapshot_path(void) {
        const char *p = secure_getenv(NSS_SNAPSHOT_ENV);
        return isempty(p) ? EHR_SNAPSHOT_DEFAULT_PATH : p;
}

/* CLOCK_MONOTONIC_COARSE is read from the vDSO: no system call. */
static uint64_t coarse_now_ns(void) {
        struct timespec ts;
        if (clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) < 0)
                return UINT64_MAX; /* no clock: check every time */
        return (uint64_t) ts.tv_sec * 1000000000U + (uint64_t) ts.tv_nsec;
}

/* The state is fresh (checked less than NSS_RECHECK_NS ago): take a reference
 * to the current snapshot, or return the error the last check found. */
static int take_fresh_locked(uint64_t now, struct node **ret) {
        if (now >= checked_until)
                return 1;
        if (!current)
                return current_error;
        current->inflight++;
        *ret = current;
        return 0;
}

/* Make n (NULL: none, because of `error`) what lookups use until `until`. */
static void install_locked(struct node *n, int error, uint64_t until, struct node **dead) {
        if (current)
                current->is_current = false;
        current = n;
        if (n) {
                n->is_current = true;
                n->next = nodes;
                nodes = n;
        }
        current_error = error;
        /* An error that is not the file's (out of memory) is not kept. */
        checked_until = error == -ENOMEM ? 0 : until;
        reap_locked(dead);
}

/* Check the file: the same as the current snapshot (stat() only), or read it
 * again. Returns the current node with one inflight reference. */
static int check_and_acquire(uint64_t now, struct node **ret) {
        const char *path = nss_ehr_snapshot_path();
        uint64_t until = now > UINT64_MAX - NSS_RECHECK_NS ? now : now + NSS_RECHECK_NS;
        struct node *dead = NULL, *n = NULL;
        struct ehr_snapshot *snap = NULL;
        struct stat st;

        int r = stat(path, &st) < 0 ? negative_errno() : 0;
        if (r >= 0) {
                (void) pthread_mutex_lock(&cache_lock);
                if (current && ehr_snapshot_same_file(current->snap, &st)) {
                        checked_until = until;
                        n = current;
                        n->inflight++;
                }
                (void) pthread_mutex_unlock(&cache_lock);
                if (n) {
                        *ret = n;
                        return 0;
                }
                /* Changed, or first use: read it without the lock. Two threads may
                 * race here; the later one wins and the other copy is freed once unused. */
                r = ehr_snapshot_open(path, 0, &snap);
        }
        if (r >= 0 && !(n = calloc(1, sizeof *n))) {
                snap = ehr_snapshot_free(snap);
                r = -ENOMEM;
        }
        if (n)
                *n = (struct node) { .snap = snap, .inflight = 1 };

        (void) pthread_mutex_lock(&cache_lock);
        install_locked(n, r < 0 ? r : 0, until, &dead);
        (void) pthread_mutex_unlock(&cache_lock);
        free_dead(dead);
        if (r < 0)
                return r;
        *ret = n;
        return 0;
}

/* Returns a node with one inflight reference, for nss_release(). Within
 * NSS_RECHECK_NS of the last check, and unless `force`, no system call. */
static int nss_acquire(bool force, struct node **ret) {
        uint64_t now = coarse_now_ns();
        int r = 1;

        if (!force) {
                (void) pthread_mutex_lock(&cache_lock);
                r = take_fresh_locked(now, ret);
                (void) pthread_mutex_unlock(&cache_lock);
        }
        return r <= 0 ? r : check_and_acquire(now, ret);
}

static void nss_release(struct node *n) {
        struct node *dead = NULL;

        (void) pthread_mutex_lock(&cache_lock);
        /* atfork_child() may have zeroed the counts in a child: never wrap. */
        if (n->inflight > 0)
                n->inflight--;
        reap_locked(&dead);
        (void) pthread_mutex_unlock(&cache_lock);
        free_dead(dead);
}

/* Copying into the caller's buffer. Strings must point there, not into the
 * snapshot: the caller keeps the struct after a later lookup has freed it. */
struct outbuf {
        char *p;
        size_t left;
};

static char *out_str(struct outbuf *b, const char *s) {
        size_t n = strlen(s) + 1;
        if (n > b->left)
                return NULL;
        char *d = memcpy(b->p, s, n);
        b->p += n;
        b->left -= n;
        return d;
}

static int fill_passwd(const struct ehr_snap_user *u, struct passwd *pw, char *buf, size_t len) {
        struct outbuf b = { buf, len };
        struct passwd p = {
                .pw_uid = u->uid,
                .pw_gid = u->gid,
        };
        if (!(p.pw_name = out_str(&b, u->name)) || !(p.pw_passwd = out_str(&b, NSS_PASSWD_FIELD)) ||
            !(p.pw_gecos = out_str(&b, u->gecos)) || !(p.pw_dir = out_str(&b, u->dir)) ||
            !(p.pw_shell = out_str(&b, u->shell)))
                return -ERANGE;
        *pw = p;
        return 0;
}

static int fill_group(const struct ehr_snapshot *s, const struct ehr_snap_group_view *g, struct group *gr, char *buf,
                      size_t len) {
        /* gr_mem is an array of pointers at the start of buf, aligned for them. */
        size_t pad = (alignof(char *) - ((uintptr_t) buf % alignof(char *))) % alignof(char *);
        if (len < pad || (len - pad) / sizeof(char *) <= g->n_members)
                return -ERANGE;
        char **mem = (char **) (void *) (buf + pad);
        size_t arr = ((size_t) g->n_members + 1) * sizeof(char *);
        struct outbuf b = { buf + pad + arr, len - pad - arr };
        struct group out = {
                .gr_gid = g->gid,
                .gr_mem = mem,
        };

        if (!(out.gr_name = out_str(&b, g->name)) || !(out.gr_passwd = out_str(&b, NSS_PASSWD_FIELD)))
                return -ERANGE;
        for (size_t i = 0; i < g->n_members; i++) {
                const char *m;
                int r = ehr_snapshot_group_member(s, g, i, &m);
                if (r < 0)
                        return r;
                if (!(mem[i] = out_str(&b, m)))
                        return -ERANGE;
        }
        mem[g->n_members] = NULL;
        *gr = out;
        return 0;
}

/* A missing snapshot is UNAVAIL, as nss_files says of a missing /etc/passwd,
 * not NOTFOUND, which is for a missing entry: the stat() or open() error
 * -ENOENT becomes -ENODATA here and ENOENT again in nss_status_from_errno(). */
static int acquire_for_lookup(bool force, struct node **ret) {
        int r = nss_acquire(force, ret);
        return r == -ENOENT ? -ENODATA : r;
}

enum lookup_kind { BY_NAME, BY_ID };

/* A lookup that found the snapshot unreadable where it went (-EBADMSG: a
 * corrupt file, or one changed in place, or a descriptor the program closed)
 * is tried once more after checking the file at once, rather than failing
 * until the next check is due. */
static bool retry_after(int r, bool forced) {
        return r == -EBADMSG && !forced;
}

/* The entry named (BY_NAME) or numbered (BY_ID) in s, filled in; -ENOENT if absent. */
typedef int (*find_fill_t)(const struct ehr_snapshot *s, enum lookup_kind kind, const char *name, uint32_t id,
                           void *out, char *buf, size_t len);

static int lookup(enum lookup_kind kind, const char *name, uint32_t id, find_fill_t find_fill, void *out, char *buf,
                  size_t len) {
        struct node *n;

        /* Not an id the snapshot can hold (it is 32 bits, and 0 and -1 are refused). */
        if (kind == BY_ID && (id == 0 || id == UINT32_MAX))
                return -ENOENT;
        if (kind == BY_NAME && isempty(name))
                return -ENOENT;
        for (bool force = false;; force = true) {
                int r = acquire_for_lookup(force, &n);
                if (r < 0)
                        return r;
                r = find_fill(n->snap, kind, name, id, out, buf, len);
                nss_release(n);
                if (!retry_after(r, force))
                        return r;
        }
}

static int user_find(const struct ehr_snapshot *s, enum lookup_kind kind, const char *name, uint32_t uid, void *out,
                     char *buf, size_t len) {
        struct ehr_snap_user u;
        int r = kind == BY_NAME ? ehr_snapshot_user_by_name(s, name, &u) : ehr_snapshot_user_by_uid(s, uid, &u);
        return r < 0 ? r : fill_passwd(&u, out, buf, len);
}

static int group_find(const struct ehr_snapshot *s, enum lookup_kind kind, const char *name, uint32_t gid, void *out,
                      char *buf, size_t len) {
        struct ehr_snap_group_view g;
        int r = kind == BY_NAME ? ehr_snapshot_group_by_name(s, name, &g) : ehr_snapshot_group_by_gid(s, gid, &g);
        return r < 0 ? r : fill_group(s, &g, out, buf, len);
}

/* The one place an errno becomes an nss_status. */
static enum nss_status nss_status_from_errno(int r, int *errnop, int saved_errno) {
        if (r >= 0) {
                errno = saved_errno;
                return NSS_STATUS_SUCCESS;
        }
        if (r == -ENOENT) {
                /* Keep errno on NOTFOUND: callers zero errno before getpwnam() and read any change as an error. */
                errno = saved_errno;
                return NSS_STATUS_NOTFOUND;
        }
        enum nss_status st = r == -ERANGE || r == -ENOMEM ? NSS_STATUS_TRYAGAIN : NSS_STATUS_UNAVAIL;
        if (r == -ENODATA)
                r = -ENOENT; /* no snapshot: see acquire_for_lookup() */
        *errnop = -r;
        errno = -r;
        /* ERANGE: glibc retries with a bigger buffer. ENOMEM may pass. Anything
         * else (no snapshot, corrupt snapshot) lets the next source answer. */
        return st;
}

_public_ enum nss_status _nss_ehr_getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t len, int *errnop);
_public_ enum nss_status _nss_ehr_getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t len, int *errnop);
_public_ enum nss_status _nss_ehr_setpwent(int stayopen);
_public_ enum nss_status _nss_ehr_getpwent_r(struct passwd *pw, char *buf, size_t len, int *errnop);
_public_ enum nss_status _nss_ehr_endpwent(void);
_public_ enum nss_status _nss_ehr_getgrnam_r(const char *name, struct group *gr, char *buf, size_t len, int *errnop);
_public_ enum nss_status _nss_ehr_getgrgid_r(gid_t gid, struct group *gr, char *buf, size_t len, int *errnop);
_public_ enum nss_status _nss_ehr_setgrent(int stayopen);
_public_ enum nss_status _nss_ehr_getgrent_r(struct group *gr, char *buf, size_t len, int *errnop);
_public_ enum nss_status _nss_ehr_endgrent(void);
_public_ enum nss_status _nss_ehr_initgroups_dyn(const char *user, gid_t group, long int *start, long int *size,
                                                 gid_t **groupsp, long int limit, int *errnop);

_public_ enum nss_status _nss_ehr_getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t len, int *errnop) {
        int saved_errno = errno;
        return nss_status_from_errno(lookup(BY_NAME, name, 0, user_find, pw, buf, len), errnop, saved_errno);
}

_public_ enum nss_status _nss_ehr_getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t len, int *errnop) {
        int saved_errno = errno;
        return nss_status_from_errno(lookup(BY_ID, NULL, uid, user_find, pw, buf, len), errnop, saved_errno);
}

_public_ enum nss_status _nss_ehr_getgrnam_r(const char *name, struct group *gr, char *buf, size_t len, int *errnop) {
        int saved_errno = errno;
        return nss_status_from_errno(lookup(BY_NAME, name, 0, group_find, gr, buf, len), errnop, saved_errno);
}

_public_ enum nss_status _nss_ehr_getgrgid_r(gid_t gid, struct group *gr, char *buf, size_t len, int *errnop) {
        int saved_errno = errno;
        return nss_status_from_errno(lookup(BY_ID, NULL, gid, group_find, gr, buf, len), errnop, saved_errno);
}

/* ---- enumeration ---- */

/* Position a cursor on the current snapshot, at its start. */
static int cursor_set(struct cursor *c) {
        struct node *n, *dead = NULL;
        /* A listing starts from the file as it is now, copied whole: it reads
         * all of it anyway, and then nothing done to the file can cut it short. */
        int r = acquire_for_lookup(true, &n);
        if (r >= 0) {
                r = ehr_snapshot_load(n->snap);
                if (r < 0)
                        nss_release(n);
        }

        (void) pthread_mutex_lock(&cache_lock);
        if (c->node)
                c->node->cursors--;
        *c = (struct cursor) {};
        if (r >= 0) {
                /* The lookup reference becomes the cursor's. */
                n->inflight--;
                n->cursors++;
                c->node = n;
        }
        reap_locked(&dead);
        (void) pthread_mutex_unlock(&cache_lock);
        free_dead(dead);
        return r;
}

static void cursor_end(struct cursor *c) {
        struct node *dead = NULL;

        (void) pthread_mutex_lock(&cache_lock);
        if (c->node)
                c->node->cursors--;
        *c = (struct cursor) {};
        reap_locked(&dead);
        (void) pthread_mutex_unlock(&cache_lock);
        free_dead(dead);
}

/* Take the cursor's position and a reference to its snapshot; the entry is
 * copied without the lock, and cursor_advance() moves on only if it was. */
static int cursor_peek(struct cursor *c, struct node **ret_node, size_t *ret_idx) {
        for (;;) {
                (void) pthread_mutex_lock(&cache_lock);
                struct node *n = c->node;
                if (n) {
                        n->inflight++;
                        *ret_node = n;
                        *ret_idx = c->idx;
                }
                (void) pthread_mutex_unlock(&cache_lock);
                if (n)
                        return 0;
                /* getpwent() without setpwent(): start at the beginning. */
                int r = cursor_set(c);
                if (r < 0)
                        return r;
        }
}

static void cursor_advance(struct cursor *c, struct node *n, size_t idx, bool moved) {
        struct node *dead = NULL;

        (void) pthread_mutex_lock(&cache_lock);
        if (moved && c->node == n && c->idx <= idx)
                c->idx = idx + 1;
        if (n->inflight > 0)
                n->inflight--;
        reap_locked(&dead);
        (void) pthread_mutex_unlock(&cache_lock);
        free_dead(dead);
}

_public_ enum nss_status _nss_ehr_setpwent(int stayopen) {
        int saved_errno = errno, e = 0;
        return nss_status_from_errno(cursor_set(&pw_cursor), &e, saved_errno);
}

_public_ enum nss_status _nss_ehr_endpwent(void) {
        cursor_end(&pw_cursor);
        return NSS_STATUS_SUCCESS;
}

/* getpwent_r, getgrent_r: the cursor's entry filled in (-ENOENT past the end), then the cursor moved on. */
static enum nss_status cursor_next(struct cursor *c,
                                   int (*fill)(const struct ehr_snapshot *, size_t, void *, char *, size_t), void *out,
                                   char *buf, size_t len, int *errnop) {
        int saved_errno = errno;
        struct node *n;
        size_t i;

        int r = cursor_peek(c, &n, &i);
        if (r < 0)
                return nss_status_from_errno(r, errnop, saved_errno);
        r = fill(n->snap, i, out, buf, len);
        /* ERANGE: stay on this entry, glibc asks again with a bigger buffer. */
        cursor_advance(c, n, i, r >= 0);
        return nss_status_from_errno(r, errnop, saved_errno);
}

static int passwd_at(const struct ehr_snapshot *s, size_t i, void *out, char *buf, size_t len) {
        struct ehr_snap_user u;
        int r = ehr_snapshot_user_at(s, i, &u); /* -ENOENT: past the end */
        return r < 0 ? r : fill_passwd(&u, out, buf, len);
}

_public_ enum nss_status _nss_ehr_getpwent_r(struct passwd *pw, char *buf, size_t len, int *errnop) {
        return cursor_next(&pw_cursor, passwd_at, pw, buf, len, errnop);
}

_public_ enum nss_status _nss_ehr_setgrent(int stayopen) {
        int saved_errno = errno, e = 0;
        return nss_status_from_errno(cursor_set(&gr_cursor), &e, saved_errno);
}

_public_ enum nss_status _nss_ehr_endgrent(void) {
        cursor_end(&gr_cursor);
        return NSS_STATUS_SUCCESS;
}

static int group_at(const struct ehr_snapshot *s, size_t i, void *out, char *buf, size_t len) {
        struct ehr_snap_group_view g;
        int r = ehr_snapshot_group_at(s, i, &g);
        return r < 0 ? r : fill_group(s, &g, out, buf, len);
}

_public_ enum nss_status _nss_ehr_getgrent_r(struct group *gr, char *buf, size_t len, int *errnop) {
        return cursor_next(&gr_cursor, group_at, gr, buf, len, errnop);
}

/* ---- initgroups ---- */

struct groups_out {
        gid_t skip; /* the primary group, which the caller already has */
        long int *start, *size, limit;
        gid_t **groups;
        long int added;
};

static int add_gid(uint32_t gid, void *userdata) {
        struct groups_out *o = userdata;

        if (gid == o->skip)
                return 0;
        for (long int i = 0; i < *o->start; i++)
                if ((*o->groups)[i] == gid)
                        return 0;
        if (*o->start >= *o->size) {
                /* Full at the caller's limit: glibc wants what fits, not an error. */
                if (o->limit > 0 && *o->size >= o->limit)
                        return 0;
                long int want = *o->size < NSS_GROUPS_MIN ? NSS_GROUPS_MIN : *o->size * 2;
                if (o->limit > 0 && want > o->limit)
                        want = o->limit;
                gid_t *g = reallocarray(*o->groups, (size_t) want, sizeof(gid_t));
                if (!g)
                        return -ENOMEM;
                *o->groups = g;
                *o->size = want;
        }
        (*o->groups)[(*o->start)++] = gid;
        o->added++;
        return 0;
}

_public_ enum nss_status _nss_ehr_initgroups_dyn(const char *user, gid_t group, long int *start, long int *size,
                                                 gid_t **groupsp, long int limit, int *errnop) {
        int saved_errno = errno;
        struct groups_out o = {
                .skip = group, .start = start, .size = size, .limit = limit, .groups = groupsp,
        };
        struct node *n;

        if (isempty(user))
                return nss_status_from_errno(-ENOENT, errnop, saved_errno);
        /* At login: the groups as they are now, whatever this process saw before. */
        int r = acquire_for_lookup(true, &n);
        if (r < 0)
                return nss_status_from_errno(r, errnop, saved_errno);
        r = ehr_snapshot_foreach_group_of(n->snap, user, add_gid, &o);
        nss_release(n);
        if (r >= 0 && o.added == 0)
                r = -ENOENT;
        return nss_status_from_errno(r, errnop, saved_errno);
}
