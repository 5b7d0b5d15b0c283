/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The NSS snapshot: what /etc/passwd and /etc/group would show about the
 * staff accounts of the store, published as one world-readable binary file
 * that NSS maps into every process. The root-only store is never opened by
 * NSS (DESIGN.md §3): ehr2fa-admin calls ehr_snapshot_write() after every
 * directory change, and the file is replaced atomically (temp file, fsync,
 * rename, fsync of the directory), so a reader sees the old file or the new
 * one, never half of either.
 *
 * There is no field for a password hash, a seed, a PIN or a phone number:
 * the format cannot carry a secret.
 *
 * libc only: this is part of libehr-base, which libnss_ehr.so.2 links. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* Where ehr2fa-admin publishes and NSS reads. The directory is 0755 root,
 * apart from the 0700 store directory, because every user must read it. */
#define EHR_SNAPSHOT_DEFAULT_DIR "/var/lib/ehr2fa-nss"
#define EHR_SNAPSHOT_DEFAULT_PATH EHR_SNAPSHOT_DEFAULT_DIR "/snapshot"

/* Limits the writer enforces. Names follow utmp's ut_user (32 bytes);
 * paths fit PATH_MAX with its NUL. */
#define EHR_SNAP_NAME_MAX 32U
#define EHR_SNAP_GECOS_MAX 1024U
#define EHR_SNAP_PATH_MAX 4095U
#define EHR_SNAP_USERS_MAX 10000000U
#define EHR_SNAP_GROUPS_MAX 10000000U
#define EHR_SNAP_MEMBERS_MAX 10000000U /* per group */

/* The longest probe an index may need: the writer spreads a table until its
 * longest probe fits, the reader refuses a file that claims more. This bounds
 * every lookup, even in a hostile file. */
#define EHR_SNAP_PROBE_MAX 128U

/* Whole-file limit for reader and writer: offsets in the file are 32 bits. */
#define EHR_SNAPSHOT_SIZE_MAX (1024U * 1024U * 1024U)

/* The writer's input, and what the lookups return. On lookup the strings
 * point into the snapshot and stay valid until ehr_snapshot_free(). */
struct ehr_snap_user {
        const char *name;
        uint32_t uid, gid;
        const char *gecos; /* may be "" */
        const char *dir;   /* absolute */
        const char *shell; /* absolute, or "" for the system default */
};

/* Writer input only; lookups return struct ehr_snap_group_view. */
struct ehr_snap_group {
        const char *name;
        uint32_t gid;
        const char *const *members; /* user names; need not be users of this snapshot */
        size_t n_members;
};

struct ehr_snap_group_view {
        const char *name;
        uint32_t gid;
        uint32_t n_members; /* fetch each with ehr_snapshot_group_member() */
        uint32_t members_first;
};

/* Is this a name the snapshot accepts for a user, a group or a member? Non-empty, at
 * most EHR_SNAP_NAME_MAX bytes, printable ASCII without ':' ',' '/' or blanks,
 * not starting with '-', not all digits (it would read as an id), not "." or "..". */
bool ehr_snapshot_name_valid(const char *name);

/* Write a snapshot of `u` and `g` to `path`, replacing any file there
 * atomically: a temp file in the same directory, written, fsync'd,
 * fchmod 0644, renamed over `path`, then the directory fsync'd. Creates
 * the parent directory (one level, 0755) when it is missing. On failure
 * nothing is left behind and `path` is untouched.
 *
 * Names, GECOS and paths follow the rules of field.h (login, group, free
 * text, path), the ones every writer of the store applies.
 *
 * Returns 0, -EINVAL (a bad name, field, id 0 or (uint32_t)-1, NULL
 * pointer, or a limit exceeded), -E2BIG (more than EHR_SNAP_PROBE_MAX
 * names share one 32-bit hash, which only crafted names do), -EEXIST (a user name, uid, group name,
 * gid, or a member within one group given twice), -EFBIG (the result
 * would pass EHR_SNAPSHOT_SIZE_MAX), -ENOMEM, or the -errno of the file
 * system. Blocks on disk I/O (two fsyncs). The caller serialises writers. */
int ehr_snapshot_write(const char *path, const struct ehr_snap_user *u, size_t nu, const struct ehr_snap_group *g,
                       size_t ng) __attribute__((warn_unused_result));

/* Replace path atomically with size bytes of data, as ehr_snapshot_write() does
 * (temp file in the same directory, fsync, rename, fsync of the directory),
 * the new file given mode and, unless gid is (gid_t) -1, that group (set
 * before the mode). Returns 0 or -errno; on failure path is untouched. */
int ehr_snapshot_replace(const char *path, const void *data, size_t size, mode_t mode, gid_t gid)
        __attribute__((warn_unused_result));

enum {
        /* Leave the file alone when it already holds exactly these bytes (compared
         * byte for byte, a regular file of root or ours, with the mode and group
         * it would get): no write, no rename, no change of any timestamp.
         * Anything else there is replaced. */
        EHR_SNAPSHOT_IF_CHANGED = 1U << 0,
};

/* ehr_snapshot_replace() with flags; *ret_changed (may be NULL) says, on
 * success, whether the file was replaced. Same returns, plus the -errno of
 * reading the file there to compare (a permission error, EIO). */
int ehr_snapshot_put(const char *path, const void *data, size_t size, mode_t mode, gid_t gid, unsigned flags,
                     bool *ret_changed) __attribute__((warn_unused_result));

/* ehr_snapshot_write() with flags and *ret_changed, as ehr_snapshot_put(). */
int ehr_snapshot_publish(const char *path, const struct ehr_snap_user *u, size_t nu, const struct ehr_snap_group *g,
                         size_t ng, unsigned flags, bool *ret_changed) __attribute__((warn_unused_result));

/* The shadow snapshot: shadow(5) lines for the managed accounts, read by
 * libnss_ehr's getspnam() and so by pam_unix and unix_chkpwd, as
 * libnss-extrausers serves /var/lib/extrausers/shadow. It sits beside the
 * passwd/group snapshot (EHR_SNAPSHOT_SHADOW_NAME in the same directory) and is
 * 0640 root:shadow, like /etc/shadow: root and the setgid-shadow unix_chkpwd
 * read it, nobody else. A 2FA-only record is never in it. */
#define EHR_SNAPSHOT_SHADOW_NAME "shadow"
#define EHR_SNAPSHOT_SHADOW_MODE 0640
struct ehr_snap_shadow {
        const char *name;
        const char *hash;      /* a crypt(3) string (ehr_password_hash_valid()), or NULL: no password yet */
        bool locked;           /* "!" before the hash, as usermod -L does */
        uint64_t changed_days; /* days since 1970-01-01 of the last change; with a hash only */
};

/* The shadow snapshot's path for a passwd/group snapshot at snapshot_path:
 * EHR_SNAPSHOT_SHADOW_NAME in the same directory. Returns 0, -EINVAL, -ENOMEM. */
int ehr_snapshot_shadow_path(const char *snapshot_path, char **ret);

/* Write the shadow lines of e (a name that ehr_snapshot_name_valid() refuses, or
 * a hash that is not a crypt string: -EINVAL; none written) to path, atomically,
 * mode EHR_SNAPSHOT_SHADOW_MODE, group gid. A user without a hash gets "!":
 * pam_unix refuses every password for it. */
int ehr_snapshot_shadow_write(const char *path, const struct ehr_snap_shadow *e, size_t n, gid_t gid)
        __attribute__((warn_unused_result));
/* The same with ehr_snapshot_put()'s flags and *ret_changed. */
int ehr_snapshot_shadow_put(const char *path, const struct ehr_snap_shadow *e, size_t n, gid_t gid, unsigned flags,
                            bool *ret_changed) __attribute__((warn_unused_result));

/* Build the file image in memory only (what ehr_snapshot_write() puts on
 * disk), for tests and fuzz seeds. *ret_data is malloc'd; the caller frees.
 * Same returns as ehr_snapshot_write(), without the file system ones. */
int ehr_snapshot_build(const struct ehr_snap_user *u, size_t nu, const struct ehr_snap_group *g, size_t ng,
                       void **ret_data, size_t *ret_size) __attribute__((warn_unused_result));

/* Reader. */
struct ehr_snapshot;

enum {
        /* Also check the body checksum and every record and string, O(size).
         * Without it, opening is O(1) (header checks only) and each lookup
         * bounds-checks what it touches, which is what NSS wants: a process
         * calling getpwnam() once must not pay for hashing the whole file. */
        EHR_SNAPSHOT_VERIFY = 1U << 0,
};

/* Open the snapshot at `path` (O_RDONLY|O_CLOEXEC|O_NOFOLLOW|O_NONBLOCK).
 * The file must be a regular file owned by root or the effective uid and not
 * writable by group or others. Returns 0, -ENOENT, -ELOOP (a symlink),
 * -EBADFD (not a regular file), -EPERM (owner), -EACCES (mode or
 * permission), -EBADMSG (truncated, corrupt, wrong magic or version, larger
 * than EHR_SNAPSHOT_SIZE_MAX), -ENOMEM, or another -errno. Does not block
 * beyond local file I/O.
 *
 * The file is never mapped: its bytes are copied into memory of our own
 * with pread(), a 4 KiB chunk at a time as lookups first need them (all at
 * once with EHR_SNAPSHOT_VERIFY). A file truncated or rewritten in place
 * therefore cannot fault (SIGBUS) a reader: a chunk that can no longer be
 * read whole, or a descriptor that no longer shows the same file (inode,
 * size, mtime), fails the lookup with -EBADMSG. Until then the descriptor
 * stays open (O_CLOEXEC), one per live snapshot. A file replaced by rename
 * leaves the open snapshot reading the old inode. */
int ehr_snapshot_open(const char *path, unsigned flags, struct ehr_snapshot **ret) __attribute__((warn_unused_result));

/* Wrap a buffer that the caller keeps alive and unchanged until
 * ehr_snapshot_free() (fuzzing, tests). Same checks and returns as
 * ehr_snapshot_open(), less the file ones. */
int ehr_snapshot_from_buffer(const void *data, size_t size, unsigned flags, struct ehr_snapshot **ret)
        __attribute__((warn_unused_result));

/* Close and free. Accepts NULL, returns NULL. */
struct ehr_snapshot *ehr_snapshot_free(struct ehr_snapshot *s);
static inline void ehr_snapshot_freep(struct ehr_snapshot **s) {
        *s = ehr_snapshot_free(*s);
}

/* Full check of an open snapshot: body checksum, every record, every
 * string, every index. Returns 0 or -EBADMSG. O(size). */
int ehr_snapshot_verify(const struct ehr_snapshot *s);

/* Is `st` (from stat() of the path) the file this snapshot was opened
 * from, unchanged? Compares device, inode, size and mtime. Always false for
 * a snapshot from ehr_snapshot_from_buffer(), and once a chunk could not be
 * read (the file changed in place, or the descriptor is no longer ours). */
bool ehr_snapshot_same_file(const struct ehr_snapshot *s, const struct stat *st);

/* Copy every chunk not copied yet (one pread() per run of them), so that
 * what follows no longer depends on the file: an enumeration does this
 * first. Returns 0 or -EBADMSG (the file changed in place since it was
 * opened; the snapshot can no longer be completed). */
int ehr_snapshot_load(const struct ehr_snapshot *s);

/* In a child after fork(): forget the chunks that other threads of the
 * parent were copying (they will be copied again). Call with no other thread
 * using `s`: pthread_atfork()'s child handler. */
void ehr_snapshot_after_fork(struct ehr_snapshot *s);

size_t ehr_snapshot_n_users(const struct ehr_snapshot *s);
size_t ehr_snapshot_n_groups(const struct ehr_snapshot *s);

/* Lookups: O(1) expected (hash indexes in the file), and every offset
 * bounds-checked against the file's size. Strings returned point into the
 * snapshot's memory. Return 0, -ENOENT (no such entry), or -EBADMSG (the
 * file is corrupt where the lookup went, or could not be read there). *ret
 * is written only on success. Thread-safe; no system call once the chunks
 * a lookup reads have been copied. */
int ehr_snapshot_user_by_name(const struct ehr_snapshot *s, const char *name, struct ehr_snap_user *ret);
int ehr_snapshot_user_by_uid(const struct ehr_snapshot *s, uint32_t uid, struct ehr_snap_user *ret);
int ehr_snapshot_group_by_name(const struct ehr_snapshot *s, const char *name, struct ehr_snap_group_view *ret);
int ehr_snapshot_group_by_gid(const struct ehr_snapshot *s, uint32_t gid, struct ehr_snap_group_view *ret);

/* Enumeration in file order, i from 0: -ENOENT past the end. */
int ehr_snapshot_user_at(const struct ehr_snapshot *s, size_t i, struct ehr_snap_user *ret);
int ehr_snapshot_group_at(const struct ehr_snapshot *s, size_t i, struct ehr_snap_group_view *ret);

/* Member i (0 <= i < g->n_members) of a group returned by this snapshot.
 * Returns 0, -ENOENT (i out of range) or -EBADMSG. */
int ehr_snapshot_group_member(const struct ehr_snapshot *s, const struct ehr_snap_group_view *g, size_t i,
                              const char **ret);

/* initgroups: call fn(gid, userdata) for each group listing `user` as a
 * member (the user's primary group is not implied). Stops at the first
 * negative return of fn and returns it. Otherwise returns the number of
 * groups (0 when none, including an unknown name), or -EBADMSG. */
int ehr_snapshot_foreach_group_of(const struct ehr_snapshot *s, const char *user,
                                  int (*fn)(uint32_t gid, void *userdata), void *userdata);
