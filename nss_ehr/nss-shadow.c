/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libnss_ehr.so.2's shadow database: the password hashes of the managed
 * accounts, from the shadow snapshot that ehr2fa-admin publishes beside the
 * passwd/group one (core/snapshot.h), in shadow(5) lines, 0640 root:shadow.
 * This is what libnss-extrausers does with /var/lib/extrausers/shadow, and it
 * is what lets pam_unix and unix_chkpwd (setgid shadow) check a managed
 * account's password and its account phase unchanged. Anyone else cannot open
 * the file: getspnam() then fails with EACCES, as nss_files does for
 * /etc/shadow.
 *
 * Each call reads the file whole (bounded) and parses it with glibc's
 * sgetspent_r(): shadow lookups are rare (a login, a password change), so
 * there is no cache, and nothing stays in memory after a lookup. The listing
 * keeps one copy, taken by setspent(); its mutex is held for pointer and
 * index updates only, never across open() or read(). */

#include <errno.h>
#include <nss.h>
#include <pthread.h>
#include <shadow.h>
#include <stdio.h>
#include <string.h>

#include "field.h" /* EHR_PASSWORD_HASH_MAX */
#include "nss-ehr.h"
#include "snapshot.h"
#include "util.h"

/* The file we write is ~100 bytes a user; a larger one is not ours. */
#define SHADOW_SIZE_MAX (64U * 1024U * 1024U)

struct text {
        char *data; /* NUL-terminated; lines end in '\n' */
        size_t size;
};

static void text_free(struct text *t) {
        if (t->data) {
                explicit_bzero(t->data, t->size); /* password hashes */
                free(t->data);
        }
        *t = (struct text) {};
}

/* Read the shadow snapshot: root's, not writable by group or others, a regular
 * file (a FIFO never blocks us: O_NONBLOCK, and refused on the descriptor). */
static int text_load(struct text *ret) {
        char path[EHR_SNAP_PATH_MAX + 1];
        const char *snap = nss_ehr_snapshot_path(), *slash = strrchr(snap, '/');
        if (!slash || (size_t) snprintf(path, sizeof path, "%.*s/%s", (int) (slash - snap), snap,
                                        EHR_SNAPSHOT_SHADOW_NAME) >= sizeof path)
                return -EINVAL;
        _cleanup_close_ int fd = ehr_open_checked(path, 0, true, false);
        if (fd < 0)
                return fd == -EBADFD || fd == -EPERM || fd == -ENOTUNIQ ? -EACCES : fd;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (st.st_size < 0 || (uint64_t) st.st_size > SHADOW_SIZE_MAX)
                return -EFBIG;
        struct text t = { .data = malloc((size_t) st.st_size + 1) };
        if (!t.data)
                return -ENOMEM;
        while (t.size < (size_t) st.st_size) {
                ssize_t k = read(fd, t.data + t.size, (size_t) st.st_size - t.size);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break; /* shorter than it was: parse what is there */
                t.size += (size_t) k;
        }
        t.data[t.size] = 0;
        *ret = t;
        return 0;
}

/* The line at *pos into line (NUL-terminated, no '\n'), advancing *pos; a line
 * longer than line is skipped. Returns 1, or 0 at the end. */
static int next_line(const struct text *t, size_t *pos, char *line, size_t len) {
        while (*pos < t->size) {
                const char *s = t->data + *pos, *nl = memchr(s, '\n', t->size - *pos);
                size_t n = nl ? (size_t) (nl - s) : t->size - *pos;
                *pos += n + (nl ? 1 : 0);
                if (n == 0 || n >= len)
                        continue;
                memcpy(line, s, n);
                line[n] = 0;
                return 1;
        }
        return 0;
}

/* Parse one line into sp, its strings in buf. 0, -ERANGE or -EINVAL (malformed). */
static int parse(const char *line, struct spwd *sp, char *buf, size_t len) {
        struct spwd *res = NULL;
        int e = sgetspent_r(line, sp, buf, len, &res);
        if (e == ERANGE)
                return -ERANGE;
        return e == 0 && res ? 0 : -EINVAL;
}

static enum nss_status status_from(int r, int *errnop, int saved_errno) {
        if (r >= 0) {
                errno = saved_errno;
                return NSS_STATUS_SUCCESS;
        }
        *errnop = -r;
        errno = -r;
        if (r == -ENOENT) {
                errno = saved_errno;
                return NSS_STATUS_NOTFOUND;
        }
        /* ERANGE: glibc retries with a bigger buffer. EACCES: not root (nor group
         * shadow), as nss_files answers for /etc/shadow. */
        return r == -ERANGE || r == -ENOMEM ? NSS_STATUS_TRYAGAIN : NSS_STATUS_UNAVAIL;
}

static int find(const char *name, struct spwd *sp, char *buf, size_t len) {
        struct text t;
        int r = text_load(&t);
        if (r < 0)
                return r;
        size_t pos = 0, n = strlen(name);
        char line[EHR_SNAP_NAME_MAX + 2 + EHR_PASSWORD_HASH_MAX + 64];
        r = -ENOENT;
        while (r == -ENOENT && next_line(&t, &pos, line, sizeof line))
                if (strncmp(line, name, n) == 0 && line[n] == ':' && (r = parse(line, sp, buf, len)) == -EINVAL)
                        r = -ENOENT; /* malformed: as if absent */
        explicit_bzero(line, sizeof line);
        text_free(&t);
        return r;
}

_public_ enum nss_status _nss_ehr_getspnam_r(const char *name, struct spwd *sp, char *buf, size_t len, int *errnop);
_public_ enum nss_status _nss_ehr_setspent(int stayopen);
_public_ enum nss_status _nss_ehr_getspent_r(struct spwd *sp, char *buf, size_t len, int *errnop);
_public_ enum nss_status _nss_ehr_endspent(void);

_public_ enum nss_status _nss_ehr_getspnam_r(const char *name, struct spwd *sp, char *buf, size_t len, int *errnop) {
        int saved_errno = errno;
        if (isempty(name) || strchr(name, ':'))
                return status_from(-ENOENT, errnop, saved_errno);
        return status_from(find(name, sp, buf, len), errnop, saved_errno);
}

/* The listing: a copy of the file and a position in it. */
static pthread_mutex_t sp_lock = PTHREAD_MUTEX_INITIALIZER;
static struct text sp_text;
static size_t sp_pos;
static bool sp_loaded;

static void sp_atfork_prepare(void) {
        (void) pthread_mutex_lock(&sp_lock);
}

static void sp_atfork_release(void) {
        (void) pthread_mutex_unlock(&sp_lock);
}

__attribute__((constructor)) static void nss_shadow_init(void) {
        (void) pthread_atfork(sp_atfork_prepare, sp_atfork_release, sp_atfork_release);
}

/* Install t (or drop the listing, with t empty) and free what was there, outside the lock. */
static void sp_install(struct text *t, bool loaded) {
        (void) pthread_mutex_lock(&sp_lock);
        struct text old = sp_text;
        sp_text = *t, sp_pos = 0, sp_loaded = loaded;
        (void) pthread_mutex_unlock(&sp_lock);
        *t = (struct text) {};
        text_free(&old);
}

/* Take a copy for the listing: 0 (none there is an empty listing) or -errno. */
static int sp_load(void) {
        struct text t = {};
        int r = text_load(&t);
        if (r < 0 && r != -ENOENT)
                return r;
        sp_install(&t, true);
        return 0;
}

_public_ enum nss_status _nss_ehr_setspent(int stayopen) {
        return sp_load() >= 0 ? NSS_STATUS_SUCCESS : NSS_STATUS_UNAVAIL;
}

_public_ enum nss_status _nss_ehr_endspent(void) {
        struct text t = {};
        sp_install(&t, false);
        return NSS_STATUS_SUCCESS;
}

_public_ enum nss_status _nss_ehr_getspent_r(struct spwd *sp, char *buf, size_t len, int *errnop) {
        int saved_errno = errno;
        (void) pthread_mutex_lock(&sp_lock);
        bool loaded = sp_loaded;
        (void) pthread_mutex_unlock(&sp_lock);
        int r = loaded ? 0 : sp_load();
        if (r < 0)
                return status_from(r, errnop, saved_errno);
        char line[EHR_SNAP_NAME_MAX + 2 + EHR_PASSWORD_HASH_MAX + 64];
        r = -ENOENT;
        (void) pthread_mutex_lock(&sp_lock);
        for (size_t pos = sp_pos; r == -ENOENT && next_line(&sp_text, &pos, line, sizeof line);) {
                r = parse(line, sp, buf, len);
                if (r == -EINVAL)
                        r = -ENOENT, sp_pos = pos; /* skip a malformed line */
                else if (r >= 0)
                        sp_pos = pos; /* -ERANGE: the same line again, with a bigger buffer */
        }
        (void) pthread_mutex_unlock(&sp_lock);
        explicit_bzero(line, sizeof line);
        return status_from(r, errnop, saved_errno);
}
