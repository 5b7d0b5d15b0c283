/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A managed account's home directory, made from the skeleton directory as
 * useradd -m does: everything is created by file descriptor, relative to a
 * directory we made ourselves and that only root can enter until the end, and
 * nothing is ever followed (a symbolic link in the skeleton is copied as a link). */

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "account-host.h"
#include "util.h"

#define SKEL_DEPTH_MAX 32U
#define COPY_CHUNK 65536U

static int copy_tree(int src, int dst, uid_t uid, gid_t gid, unsigned depth);

static int copy_file(int src, int dst, const char *name, const struct stat *st, uid_t uid, gid_t gid) {
        _cleanup_close_ int in = openat(src, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (in < 0)
                return negative_errno();
        _cleanup_close_ int out = openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (out < 0)
                return negative_errno();
        char buf[COPY_CHUNK];
        for (;;) {
                ssize_t n = read(in, buf, sizeof buf);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return negative_errno();
                if (n == 0)
                        break;
                for (ssize_t off = 0; off < n;) {
                        ssize_t w = write(out, buf + off, (size_t) (n - off));
                        if (w < 0 && errno != EINTR)
                                return negative_errno();
                        off += w > 0 ? w : 0;
                }
        }
        if (fchown(out, uid, gid) < 0 || fchmod(out, st->st_mode & 0777) < 0)
                return negative_errno();
        return 0;
}

static int copy_dir(int src, int dst, const char *name, const struct stat *st, uid_t uid, gid_t gid,
                    unsigned depth) {
        if (depth >= SKEL_DEPTH_MAX)
                return -ELOOP;
        if (mkdirat(dst, name, 0700) < 0)
                return negative_errno();
        _cleanup_close_ int in = openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_close_ int out = openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (in < 0 || out < 0)
                return negative_errno();
        int r = copy_tree(in, out, uid, gid, depth + 1);
        if (r < 0)
                return r;
        if (fchown(out, uid, gid) < 0 || fchmod(out, st->st_mode & 0777) < 0)
                return negative_errno();
        return 0;
}

static int copy_link(int src, int dst, const char *name, uid_t uid, gid_t gid) {
        char target[PATH_MAX];
        ssize_t n = readlinkat(src, name, target, sizeof target - 1);
        if (n < 0)
                return negative_errno();
        target[n] = 0;
        if (symlinkat(target, dst, name) < 0 || fchownat(dst, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
                return negative_errno();
        return 0;
}

/* Copy the entries of directory src into dst, owned by uid:gid, with their modes. */
static int copy_tree(int src, int dst, uid_t uid, gid_t gid, unsigned depth) {
        int fd = dup(src);
        if (fd < 0)
                return negative_errno();
        DIR *d = fdopendir(fd);
        if (!d) {
                int r = negative_errno();
                close(fd);
                return r;
        }
        int r = 0;
        for (struct dirent *e; r >= 0 && (errno = 0, e = readdir(d));) {
                struct stat st;
                if (streq(e->d_name, ".") || streq(e->d_name, ".."))
                        continue;
                if (fstatat(src, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        r = negative_errno();
                else if (S_ISREG(st.st_mode))
                        r = copy_file(src, dst, e->d_name, &st, uid, gid);
                else if (S_ISDIR(st.st_mode))
                        r = copy_dir(src, dst, e->d_name, &st, uid, gid, depth);
                else if (S_ISLNK(st.st_mode))
                        r = copy_link(src, dst, e->d_name, uid, gid);
                /* Devices, sockets and fifos have no place in a home: skipped, as useradd does. */
        }
        if (r >= 0 && errno != 0)
                r = negative_errno();
        closedir(d);
        return r;
}

/* mkdir -p of home's parents, 0755 (the umask must not make them private: every
 * user has to pass through them to reach their own home). */
static int make_parents(const char *home) {
        _cleanup_free_ char *p = strdup(home);
        if (!p)
                return -ENOMEM;
        for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
                *s = 0;
                if (mkdir(p, 0755) == 0) {
                        if (chmod(p, 0755) < 0)
                                return negative_errno();
                } else if (errno != EEXIST)
                        return negative_errno();
                *s = '/';
        }
        return 0;
}

int ehr_account_home_create(const char *home, const char *skel, uid_t uid, gid_t gid) {
        if (!home || home[0] != '/')
                return -EINVAL;
        int r = make_parents(home);
        if (r < 0)
                return r;
        /* 0700 and root's until the copy is done: the user cannot reach into it half-made. */
        if (mkdir(home, 0700) < 0)
                return negative_errno(); /* -EEXIST: an existing home is left as it is */
        _cleanup_close_ int dst = open(home, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dst < 0)
                return negative_errno();
        _cleanup_close_ int src = open(skel ?: EHR_SKEL_DIR_DEFAULT, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (src < 0 && errno != ENOENT)
                return negative_errno();
        if (src >= 0 && (r = copy_tree(src, dst, uid, gid, 0)) < 0)
                return r;
        if (fchmod(dst, 0700) < 0 || fchown(dst, uid, gid) < 0)
                return negative_errno();
        return 0;
}
