/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The SQLite backend: the connection (its file checks, SQLite's settings, the
 * schema's version and migrations), transactions and the WAL kept between
 * connections (see vfs.c). */

#include <fcntl.h>
#include <sys/stat.h>

#include "internal.h"

/* Connections do not checkpoint when they close, and the WAL and -shm files stay
 * (see vfs.c): a login costs no file creation, no directory sync, and for a
 * wrong code no sync at all. The price is WAL recovery at the next open, which
 * reads every frame since the last checkpoint; so a connection that leaves at
 * least this many frames behind checkpoints as it closes (three syncs). A login
 * writes about four frames. Measured (bench/pam, wrong codes): 24 frames gave a
 * mean of 870-990 us and a p90 of 1.3-1.5 ms, 64 a mean of 760-780 us and a p90
 * under 1 ms, 128 no better than 64. */
#define WAL_CHECKPOINT_FRAMES 64
/* What SQLite's own autocheckpoint does: at a commit that leaves this many frames. */
#define WAL_AUTOCHECKPOINT_FRAMES 1000
/* The long-lived connection (ehr2fad) checkpoints between logins instead, from this
 * many frames (about 30 logins): a checkpoint syncs the WAL, copies its pages into
 * the database and syncs that (1-2 ms on ext4, up to tens with 100,000 users'
 * pages), and inside a commit the login whose commit it was would wait for it.
 * At WAL_AUTOCHECKPOINT_FRAMES it still checkpoints at once, for a daemon that is
 * never idle. */
#define WAL_IDLE_CHECKPOINT_FRAMES 128

static int wal_hook(void *userdata, sqlite3 *db, const char *name, int frames) {
        struct ehr_store_backend *s = userdata;
        /* The WAL's length, which ehr_sqlite_free() and ehr_sqlite_idle() go by: a
         * checkpoint copies frames but leaves them in the WAL until the next commit
         * starts it again, and the next process's WAL recovery reads them all. */
        s->wal_frames = frames;
        if (frames >= WAL_AUTOCHECKPOINT_FRAMES)
                (void) sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        return SQLITE_OK;
}

/* Returns an SQLite result code: the caller's message needs the VFS's refusal, if any. */
static int get_user_version(struct ehr_store_backend *s, int *ret) {
        sqlite3_stmt *st;
        int rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL);
        if (rc != SQLITE_OK)
                return rc;
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                *ret = sqlite3_column_int(st, 0); /* 32 bits in the database header */
                rc = SQLITE_OK;
        }
        sqlite3_finalize(st);
        return rc;
}

static int migrate(struct ehr_store_backend *s, int from, char *err, size_t errlen) {
        for (size_t i = 0; i < ehr_sqlite_migrations_n; i++) {
                if (ehr_sqlite_migrations[i].version <= from)
                        continue;
                char bump[64];
                snprintf(bump, sizeof bump, "PRAGMA user_version = %d", ehr_sqlite_migrations[i].version);
                int r = exec(s, "BEGIN IMMEDIATE");
                if (r >= 0)
                        r = exec(s, ehr_sqlite_migrations[i].sql);
                if (r >= 0)
                        r = exec(s, bump);
                if (r >= 0)
                        r = exec(s, "COMMIT");
                if (r < 0) {
                        snprintf(err, errlen, "%s: migration to schema %d failed: %s", s->db_path,
                                 ehr_sqlite_migrations[i].version, sqlite3_errmsg(s->db));
                        (void) exec(s, "ROLLBACK");
                        return r;
                }
        }
        return 0;
}

/* A message for a file next to the database that the VFS refused (vfs.c). */
static void side_file_error(int r, const char *path, char *err, size_t errlen) {
        if (r == -EBADFD) {
                snprintf(err, errlen, "store file refused: %s is not a regular file (a FIFO or a device?); fix: rm %s",
                         path, path);
                return;
        }
        char msg[PATH_MAX + 160];
        snprintf(err, errlen, "store file refused: %s%s", ehr_open_error(r, path, true, msg, sizeof msg),
                 r == -EPERM || r == -ENOTUNIQ ? " (then check that no other user's process holds it open: fuser -v)"
                                             : "");
}

/* The error of a failed open, named by the file the VFS refused if it did. */
static int open_failed(struct ehr_store_backend *s, int rc, const char *what, char *err, size_t errlen) {
        char path[PATH_MAX];
        int r = ehr_store_vfs_take_refusal(path, sizeof path);
        if (r < 0) {
                side_file_error(r, path, err, errlen);
                return r;
        }
        r = errno_from_sqlite(rc ?: SQLITE_ERROR);
        snprintf(err, errlen, "%s: %s", s->db_path,
                 r == -EUCLEAN ? "not an ehr2fa store (or corrupt)" : s->db ? sqlite3_errmsg(s->db) : what);
        return r;
}

/* The database file itself, checked on a descriptor before SQLite opens it by
 * name (created first when asked). The directory is the euid's alone (checked
 * by ehr_store_open()), so nobody can swap it in between. */
static int check_db_file(struct ehr_store_backend *s, const char *dir, unsigned flags, char *err, size_t errlen) {
        if (flags & EHR_STORE_CREATE) {
                int fd = open(s->db_path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (fd < 0 && errno != EEXIST) {
                        int r = negative_errno();
                        snprintf(err, errlen, "cannot create %s: %s", s->db_path, ehr_strerror(r));
                        return r;
                }
                if (fd >= 0)
                        (void) close(fd);
        }
        /* Closed before SQLite opens the file: closing any descriptor of a file drops
         * all of this process's POSIX locks on it, SQLite's included, and another
         * connection could then checkpoint and delete the WAL under our feet. */
        _cleanup_close_ int dbfd = ehr_open_checked(s->db_path, geteuid(), false, true);
        struct stat st;
        if (dbfd == -ENOENT)
                snprintf(err, errlen, "no store at %s; create one with: ehr2fa-admin init", dir);
        else if (dbfd < 0)
                ehr_open_error(dbfd, s->db_path, true, err, errlen);
        else if (fstat(dbfd, &st) < 0)
                return negative_errno();
        else {
                /* What ehr_sqlite_changed() compares with. */
                s->dev = st.st_dev;
                s->ino = st.st_ino;
        }
        return dbfd < 0 ? dbfd : 0;
}

static int connect_db(struct ehr_store_backend *s, uint64_t busy_timeout_ms, char *err, size_t errlen) {
        const char *why, *vfs;
        int r = ehr_sqlite_load(&why);
        if (r < 0) {
                snprintf(err, errlen, "%s: %s", s->db_path, why);
                return r;
        }
        r = ehr_store_vfs_ref(&vfs);
        if (r < 0) {
                snprintf(err, errlen, "%s: cannot set up SQLite: %s", s->db_path, ehr_strerror(r));
                return r;
        }
        s->vfs_ref = true;
        (void) ehr_store_vfs_take_refusal(NULL, 0);
        int rc = sqlite3_open_v2(s->db_path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX,
                                 vfs);
        if (rc != SQLITE_OK)
                return open_failed(s, rc, "cannot open", err, errlen);
        sqlite3_extended_result_codes(s->db, 1);
        sqlite3_busy_timeout(s->db, busy_timeout_ms > INT_MAX ? INT_MAX : (int) busy_timeout_ms);
        /* A store is ours alone: no extensions, no triggers or views calling out. */
        sqlite3_db_config(s->db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
        sqlite3_db_config(s->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
        sqlite3_db_config(s->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
        sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
        sqlite3_wal_hook(s->db, wal_hook, s);
        return 0;
}

/* Settings, then the schema's version: newer is refused, older migrated when asked. */
static int check_schema(struct ehr_store_backend *s, unsigned flags, char *err, size_t errlen) {
        int version = 0;
        /* Commits are not synced by themselves (WAL, synchronous=NORMAL): a failed code
         * need not cost an fsync. What must survive a power cut, the use of a code,
         * is synced explicitly with ehr_store_sync(). */
        /* No temporary files: SQLite would make them in $TMPDIR, outside the store. */
        int rc = sqlite3_exec(s->db,
                              "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY",
                              NULL, NULL, NULL);
        if (rc == SQLITE_OK)
                rc = get_user_version(s, &version);
        if (rc != SQLITE_OK)
                return open_failed(s, rc, "cannot read", err, errlen);
        if (version < 0) {
                /* Never written by SQLite or by us: the header was edited. */
                snprintf(err, errlen, "%s: not an ehr2fa store (schema version %d)", s->db_path, version);
                return -EUCLEAN;
        }
        if (version > EHR_STORE_SCHEMA_VERSION) {
                snprintf(err, errlen, "%s has schema version %d, newer than this ehr2fa (%d); upgrade ehr2fa",
                         s->db_path, version, EHR_STORE_SCHEMA_VERSION);
                return -EPROTO;
        }
        if (version == EHR_STORE_SCHEMA_VERSION)
                return 0;
        if (!(flags & EHR_STORE_MIGRATE)) {
                snprintf(err, errlen,
                         version == 0 ? "%s is not initialised; run: ehr2fa-admin init"
                                      : "%s has an old schema; run any ehr2fa-admin command to upgrade it",
                         s->db_path);
                return -EPROTO;
        }
        if (version == 0) {
                int r = exec(s, "PRAGMA journal_mode = WAL");
                if (r < 0) {
                        snprintf(err, errlen, "%s: cannot enable WAL: %s", s->db_path, sqlite3_errmsg(s->db));
                        return r;
                }
        }
        return migrate(s, version, err, errlen);
}

int ehr_sqlite_open(const char *dir, const char *password, unsigned flags, uint64_t busy_timeout_ms, struct ehr_store_backend **ret,
                    char *err, size_t errlen) {
        (void) password; /* a file of ours needs none */
        struct ehr_store_backend *s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        int r = asprintf(&s->db_path, "%s/%s", dir, EHR_STORE_DB_NAME) < 0 ? (s->db_path = NULL, -ENOMEM) : 0;
        if (r >= 0)
                r = check_db_file(s, dir, flags, err, errlen);
        if (r >= 0)
                r = connect_db(s, busy_timeout_ms, err, errlen);
        if (r >= 0)
                r = check_schema(s, flags, err, errlen);
        if (r < 0) {
                ehr_sqlite_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

void ehr_sqlite_free(struct ehr_store_backend *s) {
        if (!s)
                return;
        /* No connection, no SQLite call: it may not even be loaded (a store refused
         * before the open). */
        if (s->db)
                for (size_t i = 0; i < _STMT_MAX; i++)
                        sqlite3_finalize(s->stmts[i]);
        if (s->db && s->wal_frames >= WAL_CHECKPOINT_FRAMES) {
                /* Never wait here: with another connection reading or writing, the
                 * next one to close checkpoints instead. */
                sqlite3_busy_timeout(s->db, 0);
                (void) sqlite3_wal_checkpoint_v2(s->db, "main", SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
        }
        if (s->db)
                sqlite3_close_v2(s->db);
        if (s->vfs_ref)
                ehr_store_vfs_unref();
        free(s->db_path);
        free(s);
}

const char *ehr_sqlite_location(const struct ehr_store_backend *s) {
        return s->db_path;
}

/* Another file at the database's name (restored from backup, init again), or
 * the same one with an owner or mode that the open would now refuse. */
int ehr_sqlite_changed(struct ehr_store_backend *s) {
        struct stat st;
        if (stat(s->db_path, &st) < 0)
                return errno == ENOENT ? 1 : negative_errno();
        return st.st_dev != s->dev || st.st_ino != s->ino || !S_ISREG(st.st_mode) ||
               ehr_stat_check(&st, geteuid(), false, true) != 0;
}

const char *ehr_sqlite_bad_value(const struct ehr_store_backend *s) {
        return s->bad_value;
}

int ehr_sqlite_begin(struct ehr_store_backend *s) {
        return exec(s, "BEGIN IMMEDIATE");
}

int ehr_sqlite_sync(struct ehr_store_backend *s) {
        sqlite3_file *wal = NULL;
        if (sqlite3_file_control(s->db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal) != SQLITE_OK || !wal ||
            !wal->pMethods)
                return 0; /* no WAL open: nothing to sync */
        int rc = wal->pMethods->xSync(wal, SQLITE_SYNC_NORMAL);
        return rc == SQLITE_OK ? 0 : errno_from_sqlite(rc);
}

int ehr_sqlite_commit(struct ehr_store_backend *s) {
        int r = exec(s, "COMMIT");
        if (r < 0)
                ehr_sqlite_rollback(s);
        return r;
}

void ehr_sqlite_rollback(struct ehr_store_backend *s) {
        if (!sqlite3_get_autocommit(s->db))
                (void) exec(s, "ROLLBACK");
}

/* SQLite checkpoints at 1000 pages (WAL_AUTOCHECKPOINT_FRAMES): room for that
 * many frames of 4096 bytes and their 24-byte headers, some more, and the WAL's
 * 32-byte header. */
#define WAL_RESERVE_BYTES (1100U * (4096U + 24U) + 32U)

/* Make the WAL file WAL_RESERVE_BYTES long, with written zeros after its last
 * frame, so that the commits of a long-lived connection overwrite blocks that
 * already exist: a sync is then a data sync, not a journal commit for a file
 * that grows (about 4x cheaper on ext4). For ehr2fad, which keeps the store
 * open (the WAL then stays as long as the daemon runs). */
int ehr_sqlite_reserve(struct ehr_store_backend *s) {
        const uint64_t bytes = WAL_RESERVE_BYTES;
        s->long_lived = true;
        /* The write lock: nobody appends frames while we extend the file. */
        int r = exec(s, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;
        _cleanup_free_ char *wal = NULL;
        if (asprintf(&wal, "%s-wal", s->db_path) < 0) {
                ehr_sqlite_rollback(s);
                return -ENOMEM;
        }
        /* Opening and closing the WAL ourselves touches no lock: SQLite locks the
         * database and the -shm file, never the WAL. */
        _cleanup_close_ int fd = open(wal, O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                r = negative_errno();
        else if (!S_ISREG(st.st_mode))
                r = -EBADFD;
        else
                r = ehr_stat_check(&st, geteuid(), false, true);
        if (r < 0) {
                ehr_sqlite_rollback(s);
                return r;
        }
        static const uint8_t zeros[65536];
        /* Zeros after the last frame: no valid frame header, so readers and WAL
         * recovery stop before them. Written, not fallocate()d: an unwritten
         * extent would still cost a journal commit at the first sync into it. */
        for (uint64_t off = (uint64_t) st.st_size; off < bytes && r >= 0;) {
                size_t n = bytes - off < sizeof zeros ? (size_t) (bytes - off) : sizeof zeros;
                ssize_t w = pwrite(fd, zeros, n, (off_t) off);
                if (w <= 0)
                        r = w < 0 ? negative_errno() : -EIO;
                else
                        off += (uint64_t) w;
        }
        if (r >= 0 && (uint64_t) st.st_size < bytes && fsync(fd) < 0)
                r = negative_errno();
        int q = exec(s, "COMMIT");
        if (q < 0)
                ehr_sqlite_rollback(s);
        return r < 0 ? r : q;
}

int ehr_sqlite_idle(struct ehr_store_backend *s) {
        if (!s->long_lived || s->wal_frames < WAL_IDLE_CHECKPOINT_FRAMES || !sqlite3_get_autocommit(s->db))
                return 0;
        /* PASSIVE: never waits for another connection; what a reader still needs is
         * copied at a later try. Once all is copied, the next commit starts the WAL
         * again (its wal_hook() then reports a few frames); until then a second call
         * finds nothing to copy. */
        int rc = sqlite3_wal_checkpoint_v2(s->db, "main", SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        return rc == SQLITE_OK ? 1 : errno_from_sqlite(rc);
}

int ehr_sqlite_release(struct ehr_store_backend *s) {
        int n = 0;
        for (sqlite3_stmt *st = sqlite3_next_stmt(s->db, NULL); st; st = sqlite3_next_stmt(s->db, st))
                if (sqlite3_stmt_busy(st)) {
                        sqlite3_reset(st);
                        n++;
                }
        if (!sqlite3_get_autocommit(s->db)) {
                (void) exec(s, "ROLLBACK");
                n++;
        }
        return n;
}

bool ehr_sqlite_in_transaction(struct ehr_store_backend *s) {
        return !sqlite3_get_autocommit(s->db);
}

