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
 * checkpoint as it closes (db.c), so that the next process's WAL recovery
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
 * database already has. Past EHR_WAL_KEEP_MAX the file is cut down for real.
 *
 * And every file SQLite opens next to the database (the -journal, -wal and -shm
 * files, and the database itself) is checked before the unix VFS opens it: a
 * regular file, owned by the euid, no group or other bits; anything else is
 * refused, and the refusal recorded for the caller's message
 * (ehr_store_vfs_take_refusal()). SQLite would otherwise open a FIFO at
 * ehr2fa.db-journal for its hot-journal check without O_NONBLOCK, and block a
 * login before its prompt for ever, or adopt a -wal or -shm that another user
 * made and still holds open. The -shm is opened by the unix VFS from the
 * database file's xShmMap, not through xOpen: the database file is wrapped too,
 * and its first xShmMap checks the -shm. Temporary files (no name) are created
 * by the unix VFS with O_CREAT|O_EXCL under a random name and unlinked at once,
 * and the store asks for none (temp_store = MEMORY). */

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

#include "load.h"
#include "vfs.h"
#include "util.h"

#define WAL_HEADER_BYTES 32U
#define EHR_WAL_KEEP_MAX (8U * 1024U * 1024U)

/* Every file the store's connections open: the unix VFS's own file, right
 * behind this struct, with a check of the -shm before the database's first
 * xShmMap and the kept WAL's truncation. */
struct ehr_file {
        sqlite3_file base;  /* pMethods: file_methods */
        sqlite3_file *real; /* the unix VFS's own file, right behind this struct */
        const char *name;   /* SQLite keeps it valid until xClose */
        bool wal, main_db, shm_checked;
};

static pthread_mutex_t vfs_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned vfs_users;
static sqlite3_vfs vfs;
static sqlite3_vfs *real_vfs;
static sqlite3_io_methods file_methods;
static char vfs_name[48];

/* The last file refused in this thread (a store handle is used by one thread). */
static __thread int refused_r;
static __thread char refused_path[PATH_MAX];

static sqlite3_file *real(sqlite3_file *f) {
        return ((struct ehr_file *) f)->real;
}

int ehr_store_vfs_check_file(const char *path) {
        /* O_PATH: the file is not opened for I/O at all, so a FIFO or a device can
         * neither block nor answer, and closing this descriptor drops none of the
         * POSIX locks that SQLite holds on the same file in this process (a real
         * descriptor of the -shm would release another connection's locks when
         * closed). The checks are made on the descriptor. */
        _cleanup_close_ int fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : negative_errno();
        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (S_ISLNK(st.st_mode))
                return -ELOOP;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        return ehr_stat_check(&st, geteuid(), false, true);
}

/* Check path; a refusal is recorded for ehr_store_vfs_take_refusal(). */
static int check_or_refuse(const char *path) {
        int r = ehr_store_vfs_check_file(path);
        if (r < 0) {
                refused_r = r;
                snprintf(refused_path, sizeof refused_path, "%s", path);
        }
        return r;
}

int ehr_store_vfs_take_refusal(char *ret_path, size_t len) {
        int r = refused_r;
        if (r < 0 && ret_path)
                snprintf(ret_path, len, "%s", refused_path);
        refused_r = 0;
        return r;
}

static int file_truncate(sqlite3_file *f, sqlite3_int64 size) {
        sqlite3_file *r = real(f);
        if (size != 0 || !((struct ehr_file *) f)->wal)
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

static int file_close(sqlite3_file *f) {
        sqlite3_file *r = real(f);
        int rc = r->pMethods ? r->pMethods->xClose(r) : SQLITE_OK;
        f->pMethods = NULL;
        return rc;
}

/* Everything else goes straight to the unix VFS's file. */
static int file_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off) {
        return real(f)->pMethods->xRead(real(f), buf, n, off);
}
static int file_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off) {
        return real(f)->pMethods->xWrite(real(f), buf, n, off);
}
static int file_sync(sqlite3_file *f, int flags) {
        return real(f)->pMethods->xSync(real(f), flags);
}
static int file_file_size(sqlite3_file *f, sqlite3_int64 *size) {
        return real(f)->pMethods->xFileSize(real(f), size);
}
static int file_lock(sqlite3_file *f, int level) {
        return real(f)->pMethods->xLock(real(f), level);
}
static int file_unlock(sqlite3_file *f, int level) {
        return real(f)->pMethods->xUnlock(real(f), level);
}
static int file_check_reserved(sqlite3_file *f, int *out) {
        return real(f)->pMethods->xCheckReservedLock(real(f), out);
}
static int file_file_control(sqlite3_file *f, int op, void *arg) {
        return real(f)->pMethods->xFileControl(real(f), op, arg);
}
static int file_sector_size(sqlite3_file *f) {
        return real(f)->pMethods->xSectorSize(real(f));
}
static int file_device_characteristics(sqlite3_file *f) {
        return real(f)->pMethods->xDeviceCharacteristics(real(f));
}
static int file_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **p) {
        struct ehr_file *e = (struct ehr_file *) f;
        if (e->main_db && !e->shm_checked) {
                /* The unix VFS opens (or creates) "<database>-shm" in its first
                 * xShmMap, with O_RDWR|O_CREAT and no O_NONBLOCK. */
                char shm[PATH_MAX];
                if ((size_t) snprintf(shm, sizeof shm, "%s-shm", e->name) >= sizeof shm)
                        return SQLITE_CANTOPEN;
                if (check_or_refuse(shm) < 0)
                        return SQLITE_IOERR_SHMOPEN;
                e->shm_checked = true;
        }
        return real(f)->pMethods->xShmMap(real(f), pg, pgsz, extend, p);
}
static int file_shm_lock(sqlite3_file *f, int offset, int n, int flags) {
        return real(f)->pMethods->xShmLock(real(f), offset, n, flags);
}
static void file_shm_barrier(sqlite3_file *f) {
        real(f)->pMethods->xShmBarrier(real(f));
}
static int file_shm_unmap(sqlite3_file *f, int delete_flag) {
        return real(f)->pMethods->xShmUnmap(real(f), delete_flag);
}
static int file_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **p) {
        return real(f)->pMethods->xFetch(real(f), off, n, p);
}
static int file_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p) {
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

/* The unix VFS marks a WAL opened with SQLITE_OPEN_CREATE for a sync of its
 * directory at the connection's first sync: with the WAL kept between
 * connections, that was an fsync of the store directory in every login that
 * used a code. So a missing WAL is created (and its directory synced) here,
 * whoever opens it first, reader or writer, and the unix VFS opens an existing
 * file without CREATE. */
static int open_wal(const char *name, sqlite3_file *real_file, int flags, int *out_flags) {
        int rc = SQLITE_CANTOPEN;
        if (flags & SQLITE_OPEN_CREATE) {
                struct stat st;
                if (lstat(name, &st) < 0 && errno == ENOENT)
                        create_wal(name);
                rc = real_vfs->xOpen(real_vfs, name, real_file, flags & ~SQLITE_OPEN_CREATE, out_flags);
        }
        if (rc != SQLITE_OK)
                /* Not created, or gone again: SQLite's own open, and its own error. */
                rc = real_vfs->xOpen(real_vfs, name, real_file, flags, out_flags);
        return rc;
}

static int vfs_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out_flags) {
        struct ehr_file *e = (struct ehr_file *) f;
        *e = (struct ehr_file) {
                .real = (sqlite3_file *) (e + 1),
                .name = name,
                .wal = flags & SQLITE_OPEN_WAL,
                .main_db = flags & SQLITE_OPEN_MAIN_DB,
        };
        /* A named file may be there already, put there by anyone who could once
         * write in the directory: checked before the unix VFS opens it by name.
         * The directory is the euid's alone (ehr_store_open() checked it), so
         * nobody else can replace the file between the check and the open. */
        if (name && check_or_refuse(name) < 0)
                return SQLITE_CANTOPEN;
        int rc = name && e->wal ? open_wal(name, e->real, flags, out_flags)
                                : real_vfs->xOpen(real_vfs, name, e->real, flags, out_flags);
        /* SQLite calls xClose only when pMethods is set: so only on success. */
        e->base.pMethods = rc == SQLITE_OK && e->real->pMethods ? &file_methods : NULL;
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
                file_methods = (sqlite3_io_methods) {
                        .iVersion = 3,
                        .xClose = file_close,
                        .xRead = file_read,
                        .xWrite = file_write,
                        .xTruncate = file_truncate,
                        .xSync = file_sync,
                        .xFileSize = file_file_size,
                        .xLock = file_lock,
                        .xUnlock = file_unlock,
                        .xCheckReservedLock = file_check_reserved,
                        .xFileControl = file_file_control,
                        .xSectorSize = file_sector_size,
                        .xDeviceCharacteristics = file_device_characteristics,
                        .xShmMap = file_shm_map,
                        .xShmLock = file_shm_lock,
                        .xShmBarrier = file_shm_barrier,
                        .xShmUnmap = file_shm_unmap,
                        .xFetch = file_fetch,
                        .xUnfetch = file_unfetch,
                };
                /* A copy of the unix VFS (its methods read only pAppData and
                 * mxPathname, which stay the same), with our own open. The name
                 * is unique to this copy of the code in the process. */
                vfs = *real_vfs;
                snprintf(vfs_name, sizeof vfs_name, "ehr2fa-%p", (void *) &vfs);
                vfs.zName = vfs_name;
                vfs.pNext = NULL;
                vfs.szOsFile = (int) sizeof(struct ehr_file) + real_vfs->szOsFile;
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
