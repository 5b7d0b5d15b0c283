/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Putting a snapshot on disk: a temp file beside it, written, synced and
 * renamed over it, never written in place (snapshot.h). With
 * EHR_SNAPSHOT_IF_CHANGED a file that already holds exactly the same bytes,
 * mode and group is not touched at all: a host that syncs its snapshots every
 * few minutes from a central store changes nothing, not even a timestamp,
 * while the directory stays the same. */

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "snapshot.h"
#include "util.h"

#define TMP_SUFFIX "XXXXXX"
#define TMP_SUFFIX_BYTES 6U
#define COMPARE_CHUNK_BYTES 65536U

static int write_all(int fd, const void *data, size_t n) {
        const uint8_t *p = data;
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

int ehr_snapshot_replace(const char *path, const void *data, size_t size, mode_t mode, gid_t gid) {
        _cleanup_free_ char *dir = NULL, *tmp = NULL;
        _cleanup_close_ int fd = -1, dfd = -1;
        int r;

        if (isempty(path) || path[0] != '/' || path[strlen(path) - 1] == '/')
                return -EINVAL;
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

        /* mkostemp() made it 0600 and ours: the group first, then the mode, so the
         * file is never readable by a group it is not meant for. */
        r = gid == (gid_t) -1 || fchown(fd, (uid_t) -1, gid) >= 0 ? 0 : negative_errno();
        if (r >= 0)
                r = write_all(fd, data, size);
        if (r >= 0 && fsync(fd) < 0)
                r = negative_errno();
        if (r >= 0 && fchmod(fd, mode) < 0)
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

/* Does the file at path hold exactly data, as ehr_snapshot_replace() would
 * leave it (a regular file of root or ours, that mode, that group unless gid is
 * (gid_t) -1)? Read through a descriptor opened without following a link and
 * without blocking on a FIFO. 1, 0 (differs, missing, or not a file we would
 * have written: replace it) or -errno. */
static int same_as_file(const char *path, const void *data, size_t size, mode_t mode, gid_t gid) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
        struct stat st;
        if (fd < 0)
                return errno == ENOENT || errno == ELOOP || errno == ENXIO ? 0 : negative_errno();
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode) || (st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & 07777) != mode ||
            (gid != (gid_t) -1 && st.st_gid != gid) || st.st_size != (off_t) size)
                return 0;
        uint8_t buf[COMPARE_CHUNK_BYTES];
        int same = 1;
        for (size_t off = 0; off < size && same;) {
                size_t want = size - off < sizeof buf ? size - off : sizeof buf;
                ssize_t k = pread(fd, buf, want, (off_t) off);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return negative_errno();
                same = k > 0 && memcmp(buf, (const uint8_t *) data + off, (size_t) k) == 0;
                off += (size_t) k;
        }
        explicit_bzero(buf, sizeof buf); /* the shadow snapshot's hashes */
        return same;
}

int ehr_snapshot_put(const char *path, const void *data, size_t size, mode_t mode, gid_t gid, unsigned flags,
                     bool *ret_changed) {
        int same = 0, r;
        if (isempty(path) || path[0] != '/' || path[strlen(path) - 1] == '/')
                return -EINVAL;
        if ((flags & EHR_SNAPSHOT_IF_CHANGED) && (same = same_as_file(path, data, size, mode, gid)) < 0)
                return same;
        if (!same && (r = ehr_snapshot_replace(path, data, size, mode, gid)) < 0)
                return r;
        if (ret_changed)
                *ret_changed = !same;
        return 0;
}

int ehr_snapshot_publish(const char *path, const struct ehr_snap_user *u, size_t nu, const struct ehr_snap_group *g,
                         size_t ng, unsigned flags, bool *ret_changed) {
        _cleanup_free_ void *data = NULL;
        size_t size;

        if (isempty(path) || path[0] != '/' || path[strlen(path) - 1] == '/')
                return -EINVAL;
        int r = ehr_snapshot_build(u, nu, g, ng, &data, &size);
        if (r < 0)
                return r;
        /* Every process on the host must read it. */
        return ehr_snapshot_put(path, data, size, 0644, (gid_t) -1, flags, ret_changed);
}

int ehr_snapshot_write(const char *path, const struct ehr_snap_user *u, size_t nu, const struct ehr_snap_group *g,
                       size_t ng) {
        return ehr_snapshot_publish(path, u, nu, g, ng, 0, NULL);
}
