/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The store's SQLite VFS: SQLite's own "unix" VFS, with two differences in how
 * it treats the WAL file. It is never truncated to zero: its 32-byte header is
 * zeroed instead and its blocks stay where they are. And an existing WAL is
 * opened without SQLITE_OPEN_CREATE, so that its directory is synced when it is
 * created (vfs_open) and not at the first sync of every connection.
 *
 * Why: pam_ehr2fa opens the store in every login process. With SQLite's defaults
 * the last connection to close checkpoints, then deletes the WAL and -shm files,
 * so every login created two files, synced the directory and unlinked them again
 * (file creation alone is most of pam_oath's cost per login). Connections now
 * close without a checkpoint (SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE), which keeps
 * both files, and one that leaves enough frames behind runs a TRUNCATE
 * checkpoint as it closes (store.c), so that the next process's WAL recovery
 * reads nothing old. SQLite implements "truncate" as ftruncate(0):
 * the next commit would then grow the file again, and a sync of a growing file
 * is a journal commit, several times dearer than a sync of blocks that exist.
 *
 * A WAL whose header does not carry the WAL magic is an empty WAL to SQLite (and
 * to any other SQLite that opens the store): recovery stops at the header, and
 * the next writer writes a fresh header with new salts, which invalidates every
 * old frame behind it. Nothing is synced here, exactly as SQLite does not sync
 * its truncation: the checkpoint that precedes it has already synced the
 * database, so old frames that come back after a crash only hold pages that the
 * database already has. Past EHR_WAL_KEEP_MAX the file is cut down for real. */

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sqlite-load.h"
#include "store-vfs.h"

#define WAL_HEADER_BYTES 32U
#define EHR_WAL_KEEP_MAX (8U * 1024U * 1024U)

struct wal_file {
        sqlite3_file base;  /* pMethods: wal_methods */
        sqlite3_file *real; /* the unix VFS's own file, right behind this struct */
};

static pthread_mutex_t vfs_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned vfs_users;
static sqlite3_vfs vfs;
static sqlite3_vfs *real_vfs;
static sqlite3_io_methods wal_methods;
static char vfs_name[48];

static sqlite3_file *real(sqlite3_file *f) {
        return ((struct wal_file *) f)->real;
}

static int wal_truncate(sqlite3_file *f, sqlite3_int64 size) {
        sqlite3_file *r = real(f);
        if (size != 0)
                return r->pMethods->xTruncate(r, size);
        sqlite3_int64 now = 0;
        int rc = r->pMethods->xFileSize(r, &now);
        if (rc != SQLITE_OK)
                return rc;
        if (now > (sqlite3_int64) EHR_WAL_KEEP_MAX) {
                rc = r->pMethods->xTruncate(r, EHR_WAL_KEEP_MAX);
                if (rc != SQLITE_OK)
                        return rc;
        }
        if (now < (sqlite3_int64) WAL_HEADER_BYTES)
                return r->pMethods->xTruncate(r, 0);
        static const uint8_t zeros[WAL_HEADER_BYTES];
        return r->pMethods->xWrite(r, zeros, (int) sizeof zeros, 0);
}

static int wal_close(sqlite3_file *f) {
        sqlite3_file *r = real(f);
        int rc = r->pMethods ? r->pMethods->xClose(r) : SQLITE_OK;
        f->pMethods = NULL;
        return rc;
}

/* Everything else goes straight to the unix VFS's file. */
static int wal_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off) {
        return real(f)->pMethods->xRead(real(f), buf, n, off);
}
static int wal_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off) {
        return real(f)->pMethods->xWrite(real(f), buf, n, off);
}
static int wal_sync(sqlite3_file *f, int flags) {
        return real(f)->pMethods->xSync(real(f), flags);
}
static int wal_file_size(sqlite3_file *f, sqlite3_int64 *size) {
        return real(f)->pMethods->xFileSize(real(f), size);
}
static int wal_lock(sqlite3_file *f, int level) {
        return real(f)->pMethods->xLock(real(f), level);
}
static int wal_unlock(sqlite3_file *f, int level) {
        return real(f)->pMethods->xUnlock(real(f), level);
}
static int wal_check_reserved(sqlite3_file *f, int *out) {
        return real(f)->pMethods->xCheckReservedLock(real(f), out);
}
static int wal_file_control(sqlite3_file *f, int op, void *arg) {
        return real(f)->pMethods->xFileControl(real(f), op, arg);
}
static int wal_sector_size(sqlite3_file *f) {
        return real(f)->pMethods->xSectorSize(real(f));
}
static int wal_device_characteristics(sqlite3_file *f) {
        return real(f)->pMethods->xDeviceCharacteristics(real(f));
}
static int wal_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **p) {
        return real(f)->pMethods->xShmMap(real(f), pg, pgsz, extend, p);
}
static int wal_shm_lock(sqlite3_file *f, int offset, int n, int flags) {
        return real(f)->pMethods->xShmLock(real(f), offset, n, flags);
}
static void wal_shm_barrier(sqlite3_file *f) {
        real(f)->pMethods->xShmBarrier(real(f));
}
static int wal_shm_unmap(sqlite3_file *f, int delete_flag) {
        return real(f)->pMethods->xShmUnmap(real(f), delete_flag);
}
static int wal_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **p) {
        return real(f)->pMethods->xFetch(real(f), off, n, p);
}
static int wal_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p) {
        return real(f)->pMethods->xUnfetch(real(f), off, p);
}

/* Creates a missing WAL, with the database's mode, and makes its directory
 * entry durable before anything is written to it. Best effort, as the unix
 * VFS's own directory sync: when this fails, its open says why. */
static void create_wal(const char *name) {
        mode_t mode = 0600;
        size_t n = strlen(name);
        char path[PATH_MAX];
        struct stat st;
        if (n > 4 && n - 4 < sizeof path && strcmp(name + n - 4, "-wal") == 0) {
                memcpy(path, name, n - 4);
                path[n - 4] = '\0';
                if (stat(path, &st) == 0)
                        mode = st.st_mode & 0666;
        }
        int fd = open(name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd < 0)
                return; /* made by another process just now (it syncs), or not ours to make */
        close(fd);
        if ((size_t) snprintf(path, sizeof path, "%s", name) >= sizeof path)
                return;
        fd = open(dirname(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
                (void) fsync(fd);
                close(fd);
        }
}

static int vfs_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out_flags) {
        if (!(flags & SQLITE_OPEN_WAL))
                /* Not a WAL: the unix VFS's file itself, in the space SQLite gave us
                 * (szOsFile is larger than the unix VFS's own). */
                return real_vfs->xOpen(real_vfs, name, f, flags, out_flags);
        struct wal_file *w = (struct wal_file *) f;
        w->real = (sqlite3_file *) (w + 1);
        /* The unix VFS marks a WAL opened with SQLITE_OPEN_CREATE for a sync of its
         * directory at the connection's first sync: with the WAL kept between
         * connections, that was an fsync of the store directory in every login that
         * used a code. So a missing WAL is created (and its directory synced) here,
         * whoever opens it first, reader or writer, and the unix VFS opens an
         * existing file without CREATE. */
        int rc = SQLITE_CANTOPEN;
        if (name && (flags & SQLITE_OPEN_CREATE)) {
                struct stat st;
                if (lstat(name, &st) < 0 && errno == ENOENT)
                        create_wal(name);
                rc = real_vfs->xOpen(real_vfs, name, w->real, flags & ~SQLITE_OPEN_CREATE, out_flags);
        }
        if (rc != SQLITE_OK)
                /* Not created, or gone again: SQLite's own open, and its own error. */
                rc = real_vfs->xOpen(real_vfs, name, w->real, flags, out_flags);
        /* SQLite calls xClose only when pMethods is set: so only on success. */
        w->base.pMethods = rc == SQLITE_OK && w->real->pMethods ? &wal_methods : NULL;
        return rc;
}

int ehr_store_vfs_ref(const char **ret_name) {
        int r = 0;
        pthread_mutex_lock(&vfs_lock);
        if (vfs_users == 0) {
                real_vfs = sqlite3_vfs_find("unix");
                if (!real_vfs) {
                        r = -ENOSYS;
                        goto out;
                }
                /* Version 3, as the unix VFS's own files (since SQLite 3.7.17). */
                wal_methods = (sqlite3_io_methods) {
                        .iVersion = 3,
                        .xClose = wal_close,
                        .xRead = wal_read,
                        .xWrite = wal_write,
                        .xTruncate = wal_truncate,
                        .xSync = wal_sync,
                        .xFileSize = wal_file_size,
                        .xLock = wal_lock,
                        .xUnlock = wal_unlock,
                        .xCheckReservedLock = wal_check_reserved,
                        .xFileControl = wal_file_control,
                        .xSectorSize = wal_sector_size,
                        .xDeviceCharacteristics = wal_device_characteristics,
                        .xShmMap = wal_shm_map,
                        .xShmLock = wal_shm_lock,
                        .xShmBarrier = wal_shm_barrier,
                        .xShmUnmap = wal_shm_unmap,
                        .xFetch = wal_fetch,
                        .xUnfetch = wal_unfetch,
                };
                /* A copy of the unix VFS (its methods read only pAppData and
                 * mxPathname, which stay the same), with our own open. The name
                 * is unique to this copy of the code in the process. */
                vfs = *real_vfs;
                snprintf(vfs_name, sizeof vfs_name, "ehr2fa-%p", (void *) &vfs);
                vfs.zName = vfs_name;
                vfs.pNext = NULL;
                vfs.szOsFile = (int) sizeof(struct wal_file) + real_vfs->szOsFile;
                vfs.xOpen = vfs_open;
                if (sqlite3_vfs_register(&vfs, 0) != SQLITE_OK) {
                        r = -ENOMEM;
                        goto out;
                }
        }
        vfs_users++;
        *ret_name = vfs_name;
out:
        pthread_mutex_unlock(&vfs_lock);
        return r;
}

void ehr_store_vfs_unref(void) {
        pthread_mutex_lock(&vfs_lock);
        /* Unregistered with its last connection: libpam unloads this module at
         * pam_end(), and a host that keeps SQLite loaded must not keep a pointer
         * into the unmapped code. */
        if (vfs_users > 0 && --vfs_users == 0)
                (void) sqlite3_vfs_unregister(&vfs);
        pthread_mutex_unlock(&vfs_lock);
}
