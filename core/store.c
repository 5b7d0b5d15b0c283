/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <limits.h>
#include "sodium-load.h"
#include <stdio.h>
#include <sys/stat.h>

#include "sqlite-load.h"
#include "store-vfs.h"
#include "store.h"

#define AD_MAX (16U + EHR_LOGIN_MAX)
#define SEALED_MAX (EHR_OTP_SECRET_MAX + EHR_SEAL_OVERHEAD)

enum stmt {
        STMT_USER_ADD,
        STMT_USER_GET,
        STMT_USER_DEL,
        STMT_USER_LIST,
        STMT_TOTP_PUT,
        STMT_TOTP_GET,
        STMT_TOTP_USE,
        STMT_TOTP_DEL,
        STMT_RECOVERY_DEL,
        STMT_RECOVERY_ADD,
        STMT_RECOVERY_USE,
        STMT_FAIL_GET,
        STMT_FAIL_PUT,
        STMT_FAIL_DEL,
        STMT_AUDIT_INSERT,
        STMT_AUDIT_LIST,
        STMT_META_GET,
        STMT_META_PUT,
        STMT_SMS_PUT,
        STMT_SMS_GET,
        STMT_SMS_DEL,
        STMT_SMS_TRIES,
        STMT_SMS_SENDS,
        STMT_SMS_SEND_ADD,
        STMT_SMS_SEND_FORGET,
        STMT_DEV_PUT,
        STMT_DEV_FIND,
        STMT_DEV_TOUCH,
        STMT_DEV_LIST,
        STMT_DEV_DEL,
        STMT_DEV_DEL_ALL,
        STMT_USER_SET_PROVIDER,
        STMT_USER_SET_SMS2FA,
        STMT_PERM_GRANT,
        STMT_PERM_REVOKE,
        STMT_PERM_HAS,
        STMT_PERM_LIST,
        STMT_SPIN_PUT,
        STMT_SPIN_GET,
        STMT_SPIN_STATE,
        STMT_UPIN_PUT,
        STMT_UPIN_GET,
        STMT_UPIN_STATE,
        STMT_REQ_ADD,
        STMT_REQ_GET,
        STMT_REQ_LIST,
        STMT_REQ_DECIDE,
        STMT_USER_SET_ACCOUNT,
        STMT_USER_SET_LOCKED,
        STMT_ID_USED,
        STMT_GROUP_ADD,
        STMT_GROUP_DEL,
        STMT_GROUP_GET,
        STMT_GROUP_MEMBER_ADD,
        STMT_GROUP_MEMBER_DEL,
        STMT_GROUP_LIST,
        STMT_GROUP_MEMBERS,
        _STMT_MAX,
};

#define USER_COLUMNS                                                                          \
        "u.id, u.login, u.name, u.email, u.phone, u.role, u.created, "                        \
        "EXISTS (SELECT 1 FROM totp t WHERE t.user_id = u.id), "                              \
        "(SELECT count(*) FROM recovery_codes r WHERE r.user_id = u.id AND r.used IS NULL), "        \
        "coalesce((SELECT p.login FROM users p WHERE p.id = u.provider_id), ''), coalesce(u.sms_2fa_id, ''), " \
        "coalesce(u.uid, -1), coalesce(u.gid, -1), coalesce(u.home, ''), coalesce(u.shell, ''), u.locked"

#define REQ_SELECT                                                                                           \
        "SELECT r.id, f.login, b.login, coalesce(a.login, ''), r.state, r.how, r.note, r.created, r.decided " \
        "FROM support_requests r JOIN users f ON f.id = r.for_id JOIN users b ON b.id = r.by_id "            \
        "LEFT JOIN users a ON a.id = r.approver_id "

static const char *const stmt_sql[_STMT_MAX] = {
        [STMT_USER_ADD] = "INSERT INTO users(login, name, email, phone, role, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        [STMT_USER_GET] = "SELECT " USER_COLUMNS " FROM users u WHERE u.login = ?1",
        [STMT_USER_DEL] = "DELETE FROM users WHERE login = ?1",
        [STMT_USER_LIST] = "SELECT " USER_COLUMNS " FROM users u ORDER BY u.login",
        [STMT_TOTP_PUT] = "INSERT OR REPLACE INTO totp(user_id, sealed, algorithm, digits, period, last_step, enrolled) "
                          "VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6)",
        [STMT_TOTP_GET] = "SELECT sealed, algorithm, digits, period, last_step FROM totp WHERE user_id = ?1",
        [STMT_TOTP_USE] = "UPDATE totp SET last_step = ?2 WHERE user_id = ?1 AND (last_step IS NULL OR last_step < ?2)",
        [STMT_TOTP_DEL] = "DELETE FROM totp WHERE user_id = ?1",
        [STMT_RECOVERY_DEL] = "DELETE FROM recovery_codes WHERE user_id = ?1",
        [STMT_RECOVERY_ADD] = "INSERT INTO recovery_codes(user_id, hash) VALUES (?1, ?2)",
        [STMT_RECOVERY_USE] = "UPDATE recovery_codes SET used = ?3 WHERE user_id = ?1 AND hash = ?2 AND used IS NULL",
        [STMT_FAIL_GET] = "SELECT count, first, last, consecutive, locked_until FROM failures WHERE user_id = ?1",
        [STMT_FAIL_PUT] = "INSERT OR REPLACE INTO failures(user_id, count, first, last, consecutive, locked_until) "
                          "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        [STMT_FAIL_DEL] = "DELETE FROM failures WHERE user_id = ?1",
        [STMT_AUDIT_INSERT] = "INSERT INTO audit(seq, time, user, actor, type, action, details, source, mac) "
                              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        [STMT_AUDIT_LIST] = "SELECT seq, time, user, actor, type, action, details, source, mac FROM audit "
                            "WHERE time >= ?1 AND time <= ?2 AND (?3 IS NULL OR user = ?3) ORDER BY seq",
        [STMT_META_GET] = "SELECT value FROM meta WHERE key = ?1",
        [STMT_META_PUT] = "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)",
        [STMT_SMS_PUT] = "INSERT OR REPLACE INTO sms_tokens(user_id, hash, created, expires, tries) VALUES (?1, ?2, ?3, ?4, ?5)",
        [STMT_SMS_GET] = "SELECT hash, created, expires, tries FROM sms_tokens WHERE user_id = ?1",
        [STMT_SMS_DEL] = "DELETE FROM sms_tokens WHERE user_id = ?1",
        [STMT_SMS_TRIES] = "UPDATE sms_tokens SET tries = ?2 WHERE user_id = ?1",
        [STMT_SMS_SENDS] = "SELECT time FROM sms_sends WHERE user_id = ?1 ORDER BY time DESC LIMIT 1 OFFSET ?2",
        [STMT_SMS_SEND_ADD] = "INSERT INTO sms_sends(user_id, time) VALUES (?1, ?2)",
        [STMT_SMS_SEND_FORGET] = "DELETE FROM sms_sends WHERE user_id = ?1 AND time < ?2",
        [STMT_DEV_PUT] = "INSERT OR REPLACE INTO trusted_devices(user_id, hash, label, created, expires, last_used) "
                         "VALUES (?1, ?2, ?3, ?4, ?5, ?4)",
        [STMT_DEV_FIND] = "SELECT id FROM trusted_devices WHERE user_id = ?1 AND hash = ?2 AND expires > ?3",
        [STMT_DEV_TOUCH] = "UPDATE trusted_devices SET last_used = ?2 WHERE id = ?1",
        [STMT_DEV_LIST] = "SELECT id, label, created, expires, last_used FROM trusted_devices WHERE user_id = ?1 ORDER BY id",
        [STMT_DEV_DEL] = "DELETE FROM trusted_devices WHERE user_id = ?1 AND id = ?2",
        [STMT_DEV_DEL_ALL] = "DELETE FROM trusted_devices WHERE user_id = ?1",
        [STMT_USER_SET_PROVIDER] = "UPDATE users SET provider_id = ?2 WHERE id = ?1",
        [STMT_USER_SET_SMS2FA] = "UPDATE users SET sms_2fa_id = ?2 WHERE id = ?1",
        [STMT_PERM_GRANT] = "INSERT OR IGNORE INTO permissions(user_id, perm, granted, granted_by) VALUES (?1, ?2, ?3, ?4)",
        [STMT_PERM_REVOKE] = "DELETE FROM permissions WHERE user_id = ?1 AND perm = ?2",
        [STMT_PERM_HAS] = "SELECT 1 FROM permissions WHERE user_id = ?1 AND perm = ?2",
        [STMT_PERM_LIST] = "SELECT perm FROM permissions WHERE user_id = ?1 ORDER BY perm",
        [STMT_SPIN_PUT] = "INSERT OR REPLACE INTO support_pins(user_id, sealed, created, failures, locked_until) "
                          "VALUES (?1, ?2, ?3, 0, 0)",
        [STMT_SPIN_GET] = "SELECT sealed, failures, locked_until FROM support_pins WHERE user_id = ?1",
        [STMT_SPIN_STATE] = "UPDATE support_pins SET failures = ?2, locked_until = ?3 WHERE user_id = ?1",
        [STMT_UPIN_PUT] = "INSERT OR REPLACE INTO unlock_pins(user_id, hash, created, failures, locked_until) "
                          "VALUES (?1, ?2, ?3, 0, 0)",
        [STMT_UPIN_GET] = "SELECT hash, failures, locked_until FROM unlock_pins WHERE user_id = ?1",
        [STMT_UPIN_STATE] = "UPDATE unlock_pins SET failures = ?2, locked_until = ?3 WHERE user_id = ?1",
        [STMT_REQ_ADD] = "INSERT INTO support_requests(for_id, by_id, approver_id, state, how, note, created, decided) "
                         "VALUES (?1, ?2, nullif(?3, 0), ?4, ?5, ?6, ?7, CASE WHEN ?4 = 'approved' THEN ?7 ELSE 0 END)",
        [STMT_REQ_GET] = REQ_SELECT "WHERE r.id = ?1",
        [STMT_REQ_LIST] = REQ_SELECT "ORDER BY r.id",
        [STMT_USER_SET_ACCOUNT] = "UPDATE users SET uid = ?2, gid = ?3, home = ?4, shell = ?5 WHERE id = ?1",
        [STMT_USER_SET_LOCKED] = "UPDATE users SET locked = ?2 WHERE id = ?1",
        [STMT_ID_USED] = "SELECT EXISTS (SELECT 1 FROM users WHERE uid = ?1 OR gid = ?1) OR "
                         "EXISTS (SELECT 1 FROM groups WHERE gid = ?1)",
        [STMT_GROUP_ADD] = "INSERT INTO groups(name, gid) VALUES (?1, ?2)",
        [STMT_GROUP_DEL] = "DELETE FROM groups WHERE name = ?1",
        [STMT_GROUP_GET] = "SELECT id, gid FROM groups WHERE name = ?1",
        [STMT_GROUP_MEMBER_ADD] = "INSERT OR IGNORE INTO group_members(group_id, user_id) VALUES (?1, ?2)",
        [STMT_GROUP_MEMBER_DEL] = "DELETE FROM group_members WHERE group_id = ?1 AND user_id = ?2",
        [STMT_GROUP_LIST] = "SELECT id, gid, name FROM groups ORDER BY name",
        [STMT_GROUP_MEMBERS] = "SELECT u.login FROM group_members m JOIN users u ON u.id = m.user_id "
                               "WHERE m.group_id = ?1 ORDER BY u.login",
        [STMT_REQ_DECIDE] = "UPDATE support_requests SET state = ?2, how = ?3, decided = ?4 WHERE id = ?1 AND state = 'open'",
};

/* Each step and its version bump are applied in one transaction (FreeBSD pkg's pkgdb_upgrade()). */
static const struct {
        int version;
        const char *sql;
} migrations[] = {
        { 1,
          "CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID;"
          "CREATE TABLE users("
          "  id INTEGER PRIMARY KEY,"
          "  login TEXT NOT NULL UNIQUE,"
          "  name TEXT NOT NULL DEFAULT '',"
          "  email TEXT NOT NULL DEFAULT '',"
          "  phone TEXT NOT NULL DEFAULT '',"
          "  role TEXT NOT NULL CHECK (role IN ('provider', 'staff')),"
          "  created INTEGER NOT NULL);"
          "CREATE TABLE totp("
          "  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,"
          "  sealed BLOB NOT NULL,"
          "  algorithm TEXT NOT NULL,"
          "  digits INTEGER NOT NULL,"
          "  period INTEGER NOT NULL,"
          "  last_step INTEGER,"
          "  enrolled INTEGER NOT NULL);"
          "CREATE TABLE recovery_codes("
          "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
          "  hash BLOB NOT NULL,"
          "  used INTEGER,"
          "  PRIMARY KEY (user_id, hash)) WITHOUT ROWID;"
          "CREATE TABLE failures("
          "  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,"
          "  count INTEGER NOT NULL,"
          "  first INTEGER NOT NULL,"
          "  last INTEGER NOT NULL,"
          "  consecutive INTEGER NOT NULL,"
          "  locked_until INTEGER NOT NULL);"
          "CREATE TABLE audit("
          "  seq INTEGER PRIMARY KEY,"
          "  time INTEGER NOT NULL,"
          "  user TEXT NOT NULL,"
          "  actor TEXT NOT NULL,"
          "  type TEXT NOT NULL,"
          "  action TEXT NOT NULL,"
          "  details TEXT NOT NULL,"
          "  source TEXT NOT NULL,"
          "  mac BLOB NOT NULL);"
          "CREATE INDEX audit_time ON audit(time);"
          /* Defence in depth: the chain detects edits anyway, but an honest tool must not make them. */
          "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;"
          "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;" },
        { 2,
          "CREATE TABLE sms_tokens("
          "  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,"
          "  hash BLOB NOT NULL,"
          "  created INTEGER NOT NULL,"
          "  expires INTEGER NOT NULL,"
          "  tries INTEGER NOT NULL);"
          "CREATE TABLE sms_sends("
          "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
          "  time INTEGER NOT NULL);"
          "CREATE INDEX sms_sends_user ON sms_sends(user_id, time);"
          "CREATE TABLE trusted_devices("
          "  id INTEGER PRIMARY KEY,"
          "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
          "  hash BLOB NOT NULL,"
          "  label TEXT NOT NULL,"
          "  created INTEGER NOT NULL,"
          "  expires INTEGER NOT NULL,"
          "  last_used INTEGER NOT NULL,"
          "  UNIQUE (user_id, hash));" },
        { 3,
          "ALTER TABLE users ADD COLUMN provider_id INTEGER REFERENCES users(id) ON DELETE SET NULL;"
          "ALTER TABLE users ADD COLUMN sms_2fa_id TEXT;"
          "CREATE TABLE permissions("
          "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
          "  perm TEXT NOT NULL CHECK (perm IN ('manage_accounts', 'help_desk', 'audit_export')),"
          "  granted INTEGER NOT NULL,"
          "  granted_by TEXT NOT NULL,"
          "  PRIMARY KEY (user_id, perm)) WITHOUT ROWID;"
          "CREATE TABLE support_pins("
          "  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,"
          "  sealed BLOB NOT NULL,"
          "  created INTEGER NOT NULL,"
          "  failures INTEGER NOT NULL,"
          "  locked_until INTEGER NOT NULL);"
          "CREATE TABLE unlock_pins("
          "  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,"
          "  hash BLOB NOT NULL,"
          "  created INTEGER NOT NULL,"
          "  failures INTEGER NOT NULL,"
          "  locked_until INTEGER NOT NULL);"
          "CREATE TABLE support_requests("
          "  id INTEGER PRIMARY KEY,"
          "  for_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
          "  by_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
          "  approver_id INTEGER REFERENCES users(id) ON DELETE SET NULL,"
          "  state TEXT NOT NULL CHECK (state IN ('open', 'approved')),"
          "  how TEXT NOT NULL,"
          "  note TEXT NOT NULL,"
          "  created INTEGER NOT NULL,"
          "  decided INTEGER NOT NULL);" },
        { 4,
          "ALTER TABLE users ADD COLUMN uid INTEGER;"
          "ALTER TABLE users ADD COLUMN gid INTEGER;"
          "ALTER TABLE users ADD COLUMN home TEXT;"
          "ALTER TABLE users ADD COLUMN shell TEXT;"
          "ALTER TABLE users ADD COLUMN locked INTEGER NOT NULL DEFAULT 0;"
          "CREATE UNIQUE INDEX users_uid ON users(uid) WHERE uid IS NOT NULL;"
          "CREATE TABLE groups("
          "  id INTEGER PRIMARY KEY,"
          "  name TEXT NOT NULL UNIQUE,"
          "  gid INTEGER NOT NULL UNIQUE);"
          "CREATE TABLE group_members("
          "  group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,"
          "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
          "  PRIMARY KEY (group_id, user_id)) WITHOUT ROWID;" },
};

struct ehr_store {
        sqlite3 *db;
        sqlite3_stmt *stmts[_STMT_MAX];
        struct ehr_keys *keys;
        char *db_path;
        bool vfs_ref;
        int wal_frames; /* frames in the WAL after this connection's last commit */
        char bad_value[EHR_STORE_BAD_VALUE_MAX]; /* the last impossible value read */
};

/* Connections do not checkpoint when they close, and the WAL and -shm files stay
 * (see store-vfs.c): a login costs no file creation, no directory sync, and for a
 * wrong code no sync at all. The price is WAL recovery at the next open, which
 * reads every frame since the last checkpoint; so a connection that leaves at
 * least this many frames behind checkpoints as it closes (three syncs). A login
 * writes about four frames. Measured (bench/pam, wrong codes): 24 frames gave a
 * mean of 870-990 us and a p90 of 1.3-1.5 ms, 64 a mean of 760-780 us and a p90
 * under 1 ms, 128 no better than 64. */
#define WAL_CHECKPOINT_FRAMES 64
/* What SQLite's own autocheckpoint does, for the one long-lived connection (ehr2fad). */
#define WAL_AUTOCHECKPOINT_FRAMES 1000

static int wal_hook(void *userdata, sqlite3 *db, const char *name, int frames) {
        struct ehr_store *s = userdata;
        s->wal_frames = frames;
        if (frames >= WAL_AUTOCHECKPOINT_FRAMES)
                (void) sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        return SQLITE_OK;
}

static int errno_from_sqlite(int rc) {
        if (rc != SQLITE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE) {
                /* A side file the VFS refused: its own reason, not SQLite's CANTOPEN or IOERR. */
                int r = ehr_store_vfs_take_refusal(NULL, 0);
                if (r < 0)
                        return r;
        }
        switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_ROW:
        case SQLITE_DONE:
                return 0;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_READONLY:
        case SQLITE_FULL:
                return -EROFS;
        case SQLITE_CONSTRAINT:
                return -EEXIST;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
        case SQLITE_FORMAT:
        case SQLITE_MISMATCH:
                return -EUCLEAN;
        case SQLITE_CANTOPEN:
                return -ENOENT;
        case SQLITE_PERM:
        case SQLITE_AUTH:
                return -EACCES;
        default:
                return -EIO;
        }
}

/* Prepared on first use and kept until ehr_store_free(): a login touches only a few. */
static sqlite3_stmt *stmt(struct ehr_store *s, enum stmt id) {
        if (!s->stmts[id] &&
            sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s->stmts[id], NULL) != SQLITE_OK)
                return NULL;
        return s->stmts[id];
}

static void done(sqlite3_stmt *st) {
        if (st) {
                sqlite3_reset(st);
                sqlite3_clear_bindings(st);
        }
}
#define _cleanup_stmt_ _cleanup_(donep)
static void donep(sqlite3_stmt **st) {
        done(*st);
}

/* Run a statement that returns no rows; returns changes() or -errno. */
static int step_done(struct ehr_store *s, sqlite3_stmt *st) {
        int rc = sqlite3_step(st);
        int r = rc == SQLITE_DONE ? sqlite3_changes(s->db) : errno_from_sqlite(rc ?: SQLITE_ERROR);
        done(st);
        return r;
}

/* Step a statement expected to return one row: 0 (a row), -ENOENT (none) or -errno. */
static int step_row(sqlite3_stmt *st) {
        int rc = sqlite3_step(st);
        return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : errno_from_sqlite(rc);
}

/* Step through a result: 1 (a row), 0 (no more) or -errno. */
static int step_next(sqlite3_stmt *st) {
        int rc = sqlite3_step(st);
        return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : errno_from_sqlite(rc);
}

/* Integers come out of the store only through this reader. A row may have been
 * edited by hand: a value outside what the code writes (a negative count, a
 * time after 9999, a text where a number belongs) fails the read with
 * -EOVERFLOW and is named in s->bad_value; it is never wrapped or clamped.
 * The error is sticky, so a row reads as one expression and is checked once:
 *         struct reader rd = { s, st };
 *         f.count = read_uint(&rd, 0, "failures.count", EHR_STORE_COUNT_MAX);
 *         ...
 *         if (rd.r < 0) return rd.r; */
struct reader {
        struct ehr_store *s;
        sqlite3_stmt *st;
        int r;
};

#define ID_MAX INT64_MAX
#define UID_MAX ((int64_t) UINT32_MAX - 1) /* (uid_t) -1 is no uid */

static int64_t read_int(struct reader *rd, int col, const char *what, int64_t min, int64_t max) {
        if (rd->r < 0)
                return 0;
        int type = sqlite3_column_type(rd->st, col); /* before any conversion */
        sqlite3_int64 v = sqlite3_column_int64(rd->st, col);
        if (type == SQLITE_INTEGER && v >= min && v <= max)
                return v;
        if (type == SQLITE_INTEGER)
                snprintf(rd->s->bad_value, sizeof rd->s->bad_value, "%s = %lld (expected %lld..%lld)", what,
                         (long long) v, (long long) min, (long long) max);
        else
                snprintf(rd->s->bad_value, sizeof rd->s->bad_value, "%s is not an integer", what);
        rd->r = -EOVERFLOW;
        return 0;
}

static uint64_t read_uint(struct reader *rd, int col, const char *what, uint64_t max) {
        return (uint64_t) read_int(rd, col, what, 0, max > INT64_MAX ? INT64_MAX : (int64_t) max);
}

static uint64_t read_time(struct reader *rd, int col, const char *what) {
        return read_uint(rd, col, what, EHR_STORE_TIME_MAX);
}

/* A lock's end: a time, or -1 for "until cleared" (UINT64_MAX, see to_i64()). */
static uint64_t read_until(struct reader *rd, int col, const char *what) {
        int64_t v = read_int(rd, col, what, -1, (int64_t) EHR_STORE_TIME_MAX);
        return v < 0 ? UINT64_MAX : (uint64_t) v;
}

static bool read_bool(struct reader *rd, int col, const char *what) {
        return read_int(rd, col, what, 0, 1) != 0;
}

const char *ehr_store_bad_value(const struct ehr_store *s) {
        return s->bad_value;
}

/* Copy a keyed-hash column; anything but exactly EHR_HASH_BYTES is a damaged row. */
static int column_hash(sqlite3_stmt *st, int col, uint8_t out[EHR_HASH_BYTES]) {
        const void *h = sqlite3_column_blob(st, col);
        if (!h || sqlite3_column_bytes(st, col) != (int) EHR_HASH_BYTES)
                return -EBADMSG;
        memcpy(out, h, EHR_HASH_BYTES);
        return 0;
}

static int exec(struct ehr_store *s, const char *sql) {
        return errno_from_sqlite(sqlite3_exec(s->db, sql, NULL, NULL, NULL));
}

static char *path_join(const char *dir, const char *name) {
        char *p;
        if (asprintf(&p, "%s/%s", dir, name) < 0)
                return NULL;
        return p;
}

/* Returns an SQLite result code: the caller's message needs the VFS's refusal, if any. */
static int get_user_version(struct ehr_store *s, int *ret) {
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

static int migrate(struct ehr_store *s, int from, char *err, size_t errlen) {
        for (size_t i = 0; i < ELEMENTSOF(migrations); i++) {
                if (migrations[i].version <= from)
                        continue;
                char bump[64];
                snprintf(bump, sizeof bump, "PRAGMA user_version = %d", migrations[i].version);
                int r = exec(s, "BEGIN IMMEDIATE");
                if (r >= 0)
                        r = exec(s, migrations[i].sql);
                if (r >= 0)
                        r = exec(s, bump);
                if (r >= 0)
                        r = exec(s, "COMMIT");
                if (r < 0) {
                        snprintf(err, errlen, "%s: migration to schema %d failed: %s", s->db_path,
                                 migrations[i].version, sqlite3_errmsg(s->db));
                        (void) exec(s, "ROLLBACK");
                        return r;
                }
        }
        return 0;
}

/* The store directory's parents, as OpenSSH checks a home directory: each one up
 * to / is owned by root or the euid and not writable by group or others unless
 * sticky (/tmp). Whoever can write in one of them can rename the store directory
 * away and put another in its place. Returns 0, -EPERM or -EACCES (err says
 * which directory and the fix). A directory that cannot be resolved is left to
 * the open that follows, which says why. */
static int check_parents(const char *dir, char *err, size_t errlen) {
        _cleanup_free_ char *path = realpath(dir, NULL);
        if (!path)
                return 0;
        uid_t uid = geteuid();
        for (char *slash = strrchr(path, '/'); slash; slash = slash == path ? NULL : strrchr(path, '/')) {
                slash[slash == path] = '\0'; /* "/a/b" -> "/a", "/a" -> "/" */
                struct stat st;
                if (lstat(path, &st) < 0)
                        return 0;
                if (st.st_uid != 0 && st.st_uid != uid) {
                        snprintf(err, errlen, "%s (above the store directory %s) is owned by uid %u, who could replace "
                                 "the store; fix: chown root %s", path, dir, (unsigned) st.st_uid, path);
                        return -EPERM;
                }
                if ((st.st_mode & 0022) && !(st.st_mode & S_ISVTX)) {
                        snprintf(err, errlen, "%s (above the store directory %s) is writable by group or others, who "
                                 "could replace the store; fix: chmod go-w %s", path, dir, path);
                        return -EACCES;
                }
        }
        return 0;
}

/* A message for a file next to the database that the VFS refused (store-vfs.c). */
static void side_file_error(int r, const char *path, char *err, size_t errlen) {
        if (r == -EBADFD) {
                snprintf(err, errlen, "store file refused: %s is not a regular file (a FIFO or a device?); fix: rm %s",
                         path, path);
                return;
        }
        char msg[PATH_MAX + 160];
        snprintf(err, errlen, "store file refused: %s%s", ehr_open_error(r, path, true, msg, sizeof msg),
                 r == -EPERM || r == -EACCES ? " (then check that no other user's process holds it open: fuser -v)"
                                             : "");
}

/* The error of a failed open, named by the file the VFS refused if it did. */
static int open_failed(struct ehr_store *s, int rc, const char *what, char *err, size_t errlen) {
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

int ehr_store_open(const char *dir, unsigned flags, uint64_t busy_timeout_ms, struct ehr_store **ret, char *err,
                   size_t errlen) {
        _cleanup_(ehr_store_freep) struct ehr_store *s = NULL;
        _cleanup_free_ char *key_path = NULL;
        uid_t uid = geteuid();
        int r;

        if (flags & EHR_STORE_CREATE) {
                /* The umask must not widen what we create; 0700 is all a root-only store needs. */
                if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
                        r = negative_errno();
                        snprintf(err, errlen, "cannot create store directory %s: %s", dir, ehr_strerror(r));
                        return r;
                }
        }
        r = check_parents(dir, err, errlen);
        if (r < 0)
                return r;
        _cleanup_close_ int dfd = ehr_open_dir_checked(dir, uid, true);
        if (dfd < 0) {
                if (dfd == -ENOENT)
                        snprintf(err, errlen, "no store at %s; create one with: ehr2fa-admin init", dir);
                else
                        ehr_open_error(dfd, dir, true, err, errlen);
                return dfd;
        }

        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        key_path = path_join(dir, EHR_STORE_KEY_NAME);
        s->db_path = path_join(dir, EHR_STORE_DB_NAME);
        if (!key_path || !s->db_path)
                return -ENOMEM;

        if (flags & EHR_STORE_CREATE) {
                r = ehr_master_key_create(key_path);
                if (r < 0 && r != -EEXIST) {
                        snprintf(err, errlen, "cannot create %s: %s", key_path, ehr_strerror(r));
                        return r;
                }
                int fd = open(s->db_path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (fd < 0 && errno != EEXIST) {
                        r = negative_errno();
                        snprintf(err, errlen, "cannot create %s: %s", s->db_path, ehr_strerror(r));
                        return r;
                }
                if (fd >= 0)
                        (void) close(fd);
        }

        const char *why;
        r = ehr_sodium_load(&why);
        if (r < 0) {
                snprintf(err, errlen, "%s: %s", dir, why);
                return r;
        }

        _cleanup_close_ int kfd = ehr_open_checked(key_path, uid, false, true);
        if (kfd < 0) {
                if (kfd == -ENOENT)
                        snprintf(err, errlen, "%s is missing; a store without its key cannot be opened", key_path);
                else
                        ehr_open_error(kfd, key_path, true, err, errlen);
                return kfd;
        }
        r = ehr_keys_load(kfd, &s->keys);
        if (r < 0) {
                snprintf(err, errlen, "%s: %s", key_path,
                         r == -EBADMSG ? "not a 32-byte key file" : ehr_strerror(r));
                return r;
        }

        /* Check the database on a descriptor before SQLite opens it by name. The
         * directory is ours alone (checked above), so nobody can swap it in between. */
        _cleanup_close_ int dbfd = ehr_open_checked(s->db_path, uid, false, true);
        if (dbfd < 0) {
                if (dbfd == -ENOENT)
                        snprintf(err, errlen, "no store at %s; create one with: ehr2fa-admin init", dir);
                else
                        ehr_open_error(dbfd, s->db_path, true, err, errlen);
                return dbfd;
        }

        /* Closed before SQLite opens the file: closing any descriptor of a file drops
         * all of this process's POSIX locks on it, SQLite's included, and another
         * connection could then checkpoint and delete the WAL under our feet. */
        closep(&dbfd);
        dbfd = -1;
        r = ehr_sqlite_load(&why);
        if (r < 0) {
                snprintf(err, errlen, "%s: %s", s->db_path, why);
                return r;
        }
        const char *vfs;
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

        int version = 0;
        /* Commits are not synced by themselves (WAL, synchronous=NORMAL): a failed code
         * need not cost an fsync. What must survive a power cut, the use of a code,
         * is synced explicitly with ehr_store_sync(). */
        /* No temporary files: SQLite would make them in $TMPDIR, outside the store. */
        rc = sqlite3_exec(s->db, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY",
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
        if (version < EHR_STORE_SCHEMA_VERSION) {
                if (!(flags & EHR_STORE_MIGRATE)) {
                        snprintf(err, errlen,
                                 version == 0 ? "%s is not initialised; run: ehr2fa-admin init"
                                              : "%s has an old schema; run any ehr2fa-admin command to upgrade it",
                                 s->db_path);
                        return -EPROTO;
                }
                if (version == 0) {
                        r = exec(s, "PRAGMA journal_mode = WAL");
                        if (r < 0) {
                                snprintf(err, errlen, "%s: cannot enable WAL: %s", s->db_path, sqlite3_errmsg(s->db));
                                return r;
                        }
                }
                r = migrate(s, version, err, errlen);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

struct ehr_store *ehr_store_free(struct ehr_store *s) {
        if (!s)
                return NULL;
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
        ehr_keys_free(s->keys);
        free(s->db_path);
        free(s);
        return NULL;
}

const struct ehr_keys *ehr_store_keys(const struct ehr_store *s) {
        return s->keys;
}

const char *ehr_store_path(const struct ehr_store *s) {
        return s->db_path;
}

int ehr_store_begin(struct ehr_store *s) {
        return exec(s, "BEGIN IMMEDIATE");
}

int ehr_store_sync(struct ehr_store *s) {
        sqlite3_file *wal = NULL;
        if (sqlite3_file_control(s->db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal) != SQLITE_OK || !wal ||
            !wal->pMethods)
                return 0; /* no WAL open: nothing to sync */
        int rc = wal->pMethods->xSync(wal, SQLITE_SYNC_NORMAL);
        return rc == SQLITE_OK ? 0 : errno_from_sqlite(rc);
}

int ehr_store_commit(struct ehr_store *s) {
        int r = exec(s, "COMMIT");
        if (r < 0)
                ehr_store_rollback(s);
        return r;
}

void ehr_store_rollback(struct ehr_store *s) {
        if (!sqlite3_get_autocommit(s->db))
                (void) exec(s, "ROLLBACK");
}

int ehr_store_wal_reserve(struct ehr_store *s, uint64_t bytes) {
        /* The write lock: nobody appends frames while we extend the file. */
        int r = exec(s, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;
        _cleanup_free_ char *wal = NULL;
        if (asprintf(&wal, "%s-wal", s->db_path) < 0) {
                ehr_store_rollback(s);
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
                ehr_store_rollback(s);
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
                ehr_store_rollback(s);
        return r < 0 ? r : q;
}

int ehr_store_release(struct ehr_store *s) {
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

bool ehr_store_in_transaction(struct ehr_store *s) {
        return !sqlite3_get_autocommit(s->db);
}

/* Users */

bool ehr_login_valid(const char *login) {
        size_t n = strlen(login);
        if (n == 0 || n > EHR_LOGIN_MAX || login[0] == '-' || login[0] == '.')
                return false;
        for (const char *p = login; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
                        return false;
        return true;
}

struct ehr_user *ehr_user_free(struct ehr_user *u) {
        if (!u)
                return NULL;
        free(u->login);
        free(u->name);
        free(u->email);
        free(u->phone);
        free(u->role);
        free(u->provider);
        free(u->sms_2fa_id);
        free(u->home);
        free(u->shell);
        free(u);
        return NULL;
}

static char *column_strdup(sqlite3_stmt *st, int col) {
        const unsigned char *t = sqlite3_column_text(st, col);
        return strdup(t ? (const char *) t : "");
}

static int user_from_row(struct ehr_store *s, sqlite3_stmt *st, struct ehr_user **ret) {
        _cleanup_(ehr_user_freep) struct ehr_user *u = calloc(1, sizeof *u);
        if (!u)
                return -ENOMEM;
        struct reader rd = { s, st, 0 };
        u->id = read_int(&rd, 0, "users.id", 1, ID_MAX);
        u->login = column_strdup(st, 1);
        u->name = column_strdup(st, 2);
        u->email = column_strdup(st, 3);
        u->phone = column_strdup(st, 4);
        u->role = column_strdup(st, 5);
        u->created_sec = read_time(&rd, 6, "users.created");
        u->totp_enrolled = read_bool(&rd, 7, "totp enrolled");
        u->recovery_left = (unsigned) read_uint(&rd, 8, "recovery codes left", EHR_STORE_COUNT_MAX);
        u->provider = column_strdup(st, 9);
        u->sms_2fa_id = column_strdup(st, 10);
        u->uid = read_int(&rd, 11, "users.uid", -1, UID_MAX);
        u->gid = read_int(&rd, 12, "users.gid", -1, UID_MAX);
        u->home = column_strdup(st, 13);
        u->shell = column_strdup(st, 14);
        u->locked = read_bool(&rd, 15, "users.locked");
        if (rd.r < 0)
                return rd.r;
        if (!u->login || !u->name || !u->email || !u->phone || !u->role || !u->provider || !u->sms_2fa_id ||
            !u->home || !u->shell)
                return -ENOMEM;
        *ret = TAKE_PTR(u);
        return 0;
}

static bool role_valid(const char *role) {
        return streq(role, "provider") || streq(role, "staff");
}

int ehr_store_user_add(struct ehr_store *s, const struct ehr_user *u, uint64_t now_sec, int64_t *ret_id) {
        if (!ehr_login_valid(u->login) || !role_valid(u->role))
                return -EINVAL;
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_USER_ADD);
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, u->login, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, u->name ?: "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, u->email ?: "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, u->phone ?: "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, u->role, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, (sqlite3_int64) now_sec);
        int r = step_done(s, st);
        if (r < 0)
                return r;
        if (ret_id)
                *ret_id = sqlite3_last_insert_rowid(s->db);
        return 0;
}

int ehr_store_user_get(struct ehr_store *s, const char *login, struct ehr_user **ret) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_USER_GET);
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, login, -1, SQLITE_STATIC);
        int found = step_row(st);
        if (found < 0)
                return found;
        return user_from_row(s, st, ret);
}

int ehr_store_user_del(struct ehr_store *s, const char *login) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_USER_DEL);
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, login, -1, SQLITE_STATIC);
        int r = step_done(s, st);
        return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

int ehr_store_user_foreach(struct ehr_store *s, int (*cb)(const struct ehr_user *u, void *userdata), void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_USER_LIST);
        if (!st)
                return -EIO;
        for (;;) {
                int more = step_next(st);
                if (more <= 0)
                        return more;
                _cleanup_(ehr_user_freep) struct ehr_user *u = NULL;
                int r = user_from_row(s, st, &u);
                if (r < 0)
                        return r;
                r = cb(u, userdata);
                if (r < 0)
                        return r;
        }
}

/* TOTP */

/* Associated data: purpose, user id and login. A sealed blob copied onto another
 * row, or left behind by a deleted user whose id was reused, does not open. */
static size_t seal_ad(const char *purpose, const struct ehr_user *u, uint8_t ad[AD_MAX]) {
        size_t n = 0, plen = strlen(purpose), llen = strnlen(u->login, EHR_LOGIN_MAX);
        memcpy(ad, purpose, plen < 7 ? plen : 7);
        n = 8;
        for (unsigned i = 0; i < 8; i++)
                ad[n++] = (uint8_t) ((uint64_t) u->id >> (8 * i));
        memcpy(ad + n, u->login, llen);
        return n + llen;
}

int ehr_store_totp_put(struct ehr_store *s, const struct ehr_user *u, const uint8_t *secret, size_t n,
                       const struct ehr_otp_params *p, uint64_t now_sec) {
        if (n == 0 || n > EHR_OTP_SECRET_MAX || ehr_otp_params_check(p) < 0)
                return -EINVAL;
        uint8_t ad[AD_MAX] = {}, sealed[SEALED_MAX];
        size_t adlen = seal_ad("totp", u, ad);
        int r = ehr_seal(s->keys, ad, adlen, secret, n, sealed, sizeof sealed);
        if (r < 0)
                return r;
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_TOTP_PUT);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, u->id);
        sqlite3_bind_blob(st, 2, sealed, (int) (n + EHR_SEAL_OVERHEAD), SQLITE_STATIC);
        sqlite3_bind_text(st, 3, ehr_otp_algorithm_to_string(p->algorithm), -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 4, (int) p->digits);
        sqlite3_bind_int(st, 5, (int) p->period);
        sqlite3_bind_int64(st, 6, (sqlite3_int64) now_sec);
        r = step_done(s, st);
        return r < 0 ? r : 0;
}

int ehr_store_totp_get(struct ehr_store *s, const struct ehr_user *u, struct ehr_secret **ret_secret,
                       struct ehr_otp_params *ret_params, uint64_t *ret_last_step, bool *ret_have_last_step) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_TOTP_GET);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, u->id);
        int found = step_row(st);
        if (found < 0)
                return found;

        /* Everything read from the store is checked: it may have been edited by hand. */
        struct reader rd = { s, st, 0 };
        struct ehr_otp_params p = {
                .digits = (unsigned) read_uint(&rd, 2, "totp.digits", EHR_OTP_DIGITS_MAX),
                .period = (unsigned) read_uint(&rd, 3, "totp.period", UINT32_MAX),
        };
        bool have = sqlite3_column_type(st, 4) != SQLITE_NULL;
        uint64_t last_step = have ? read_time(&rd, 4, "totp.last_step") : 0;
        if (rd.r < 0)
                return rd.r;
        const char *alg = (const char *) sqlite3_column_text(st, 1);
        if (!alg || ehr_otp_algorithm_from_string(alg, &p.algorithm) < 0 || ehr_otp_params_check(&p) < 0)
                return -EBADMSG;
        const void *blob = sqlite3_column_blob(st, 0);
        int blen = sqlite3_column_bytes(st, 0);
        if (!blob || blen <= (int) EHR_SEAL_OVERHEAD || blen > (int) SEALED_MAX)
                return -EBADMSG;
        _cleanup_(ehr_secret_freep) struct ehr_secret *secret = ehr_secret_new((size_t) blen - EHR_SEAL_OVERHEAD);
        if (!secret)
                return -ENOMEM;
        uint8_t ad[AD_MAX] = {};
        size_t adlen = seal_ad("totp", u, ad);
        int r = ehr_unseal(s->keys, ad, adlen, blob, (size_t) blen, secret->data, secret->len);
        if (r < 0)
                return r;
        *ret_last_step = last_step;
        *ret_have_last_step = have;
        *ret_params = p;
        *ret_secret = TAKE_PTR(secret);
        return 0;
}

int ehr_store_totp_use_step(struct ehr_store *s, int64_t user_id, uint64_t step) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_TOTP_USE);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_int64(st, 2, (sqlite3_int64) step);
        int r = step_done(s, st);
        return r < 0 ? r : r == 0 ? -EALREADY : 0;
}

int ehr_store_totp_del(struct ehr_store *s, int64_t user_id) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_TOTP_DEL);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        int r = step_done(s, st);
        return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

/* Recovery codes */

int ehr_store_recovery_del(struct ehr_store *s, int64_t user_id) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_RECOVERY_DEL);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        int r = step_done(s, st);
        return r < 0 ? r : 0;
}

int ehr_store_recovery_replace(struct ehr_store *s, int64_t user_id, const uint8_t (*hashes)[EHR_HASH_BYTES],
                               size_t n) {
        int r = ehr_store_recovery_del(s, user_id);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_RECOVERY_ADD);
                if (!st)
                        return -EIO;
                sqlite3_bind_int64(st, 1, user_id);
                sqlite3_bind_blob(st, 2, hashes[i], EHR_HASH_BYTES, SQLITE_STATIC);
                r = step_done(s, st);
                if (r < 0)
                        return r;
        }
        return 0;
}

int ehr_store_recovery_use(struct ehr_store *s, int64_t user_id, const uint8_t hash[EHR_HASH_BYTES],
                           uint64_t now_sec) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_RECOVERY_USE);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_blob(st, 2, hash, EHR_HASH_BYTES, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (sqlite3_int64) now_sec);
        int r = step_done(s, st);
        return r < 0 ? r : r == 0 ? -EACCES : 0;
}

/* Failures */

int ehr_store_failures_get(struct ehr_store *s, int64_t user_id, struct ehr_failures *ret) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_FAIL_GET);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        int found = step_row(st);
        if (found == -ENOENT) {
                *ret = (struct ehr_failures) {};
                return 0;
        }
        if (found < 0)
                return found;
        struct reader rd = { s, st, 0 };
        struct ehr_failures f = {
                .count = read_uint(&rd, 0, "failures.count", EHR_STORE_COUNT_MAX),
                .first_sec = read_time(&rd, 1, "failures.first"),
                .last_sec = read_time(&rd, 2, "failures.last"),
                .consecutive = read_uint(&rd, 3, "failures.consecutive", EHR_STORE_COUNT_MAX),
                .locked_until_sec = read_until(&rd, 4, "failures.locked_until"),
        };
        if (rd.r < 0)
                return rd.r;
        *ret = f;
        return 0;
}

static sqlite3_int64 to_i64(uint64_t v) {
        /* SQLite integers are signed; "forever" (UINT64_MAX) is stored as -1 and read back by read_until(). */
        return v > INT64_MAX ? -1 : (sqlite3_int64) v;
}

int ehr_store_failures_put(struct ehr_store *s, int64_t user_id, const struct ehr_failures *f) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_FAIL_PUT);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_int64(st, 2, to_i64(f->count));
        sqlite3_bind_int64(st, 3, to_i64(f->first_sec));
        sqlite3_bind_int64(st, 4, to_i64(f->last_sec));
        sqlite3_bind_int64(st, 5, to_i64(f->consecutive));
        sqlite3_bind_int64(st, 6, to_i64(f->locked_until_sec));
        int r = step_done(s, st);
        return r < 0 ? r : 0;
}

int ehr_store_failures_clear(struct ehr_store *s, int64_t user_id) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_FAIL_DEL);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        int r = step_done(s, st);
        return r < 0 ? r : 0;
}

/* Audit */

int ehr_store_audit_insert(struct ehr_store *s, const struct ehr_audit_row *row) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_AUDIT_INSERT);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, to_i64(row->seq));
        sqlite3_bind_int64(st, 2, to_i64(row->time_sec));
        sqlite3_bind_text(st, 3, row->user, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, row->actor, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, row->type, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, row->action, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, row->details, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 8, row->source, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 9, row->mac, EHR_HASH_BYTES, SQLITE_STATIC);
        int r = step_done(s, st);
        return r < 0 ? r : 0;
}

#define AUDIT_HEAD_KEY "audit_head"
#define AUDIT_HEAD_BYTES (8U + EHR_HASH_BYTES)

int ehr_store_audit_head_get(struct ehr_store *s, uint64_t *ret_seq, uint8_t ret_mac[EHR_HASH_BYTES]) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_META_GET);
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, AUDIT_HEAD_KEY, -1, SQLITE_STATIC);
        int found = step_row(st);
        if (found == -ENOENT) {
                *ret_seq = 0;
                memset(ret_mac, 0, EHR_HASH_BYTES);
                return 0;
        }
        if (found < 0)
                return found;
        const uint8_t *b = sqlite3_column_blob(st, 0);
        if (!b || sqlite3_column_bytes(st, 0) != (int) AUDIT_HEAD_BYTES)
                return -EBADMSG;
        uint64_t seq = 0;
        for (unsigned i = 0; i < 8; i++)
                seq |= (uint64_t) b[i] << (8 * i);
        memcpy(ret_mac, b + 8, EHR_HASH_BYTES);
        *ret_seq = seq;
        return 0;
}

int ehr_store_audit_head_put(struct ehr_store *s, uint64_t seq, const uint8_t mac[EHR_HASH_BYTES]) {
        uint8_t b[AUDIT_HEAD_BYTES];
        for (unsigned i = 0; i < 8; i++)
                b[i] = (uint8_t) (seq >> (8 * i));
        memcpy(b + 8, mac, EHR_HASH_BYTES);
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_META_PUT);
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, AUDIT_HEAD_KEY, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, b, sizeof b, SQLITE_TRANSIENT);
        int r = step_done(s, st);
        return r < 0 ? r : 0;
}

static const char *col_text(sqlite3_stmt *st, int col) {
        const unsigned char *t = sqlite3_column_text(st, col);
        return t ? (const char *) t : "";
}

int ehr_store_audit_foreach(struct ehr_store *s, uint64_t since_sec, uint64_t until_sec, const char *user,
                            int (*cb)(const struct ehr_audit_row *row, void *userdata), void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_AUDIT_LIST);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, to_i64(since_sec));
        sqlite3_bind_int64(st, 2, until_sec > INT64_MAX ? INT64_MAX : (sqlite3_int64) until_sec);
        if (user)
                sqlite3_bind_text(st, 3, user, -1, SQLITE_STATIC);
        for (;;) {
                int more = step_next(st);
                if (more <= 0)
                        return more;
                struct reader rd = { s, st, 0 };
                struct ehr_audit_row row = {
                        .seq = read_uint(&rd, 0, "audit.seq", ID_MAX),
                        .time_sec = read_time(&rd, 1, "audit.time"),
                        .user = col_text(st, 2),
                        .actor = col_text(st, 3),
                        .type = col_text(st, 4),
                        .action = col_text(st, 5),
                        .details = col_text(st, 6),
                        .source = col_text(st, 7),
                };
                if (rd.r < 0)
                        return rd.r;
                const void *mac = sqlite3_column_blob(st, 8);
                if (mac && sqlite3_column_bytes(st, 8) == (int) EHR_HASH_BYTES)
                        memcpy(row.mac, mac, EHR_HASH_BYTES);
                int r = cb(&row, userdata);
                if (r < 0)
                        return r;
        }
}

/* SMS tokens */

int ehr_store_sms_token_put(struct ehr_store *s, int64_t user_id, const struct ehr_sms_token *t) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_SMS_PUT);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_blob(st, 2, t->hash, EHR_HASH_BYTES, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, to_i64(t->created_sec));
        sqlite3_bind_int64(st, 4, to_i64(t->expires_sec));
        sqlite3_bind_int64(st, 5, to_i64(t->tries));
        int r = step_done(s, st);
        return r < 0 ? r : 0;
}

int ehr_store_sms_token_get(struct ehr_store *s, int64_t user_id, struct ehr_sms_token *ret) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_SMS_GET);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        int found = step_row(st);
        if (found < 0)
                return found;
        if (column_hash(st, 0, ret->hash) < 0)
                return -EBADMSG;
        struct reader rd = { s, st, 0 };
        ret->created_sec = read_time(&rd, 1, "sms_tokens.created");
        ret->expires_sec = read_time(&rd, 2, "sms_tokens.expires");
        ret->tries = read_uint(&rd, 3, "sms_tokens.tries", EHR_STORE_COUNT_MAX);
        return rd.r;
}

static int exec_user(struct ehr_store *s, enum stmt id, int64_t user_id) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, id);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        return step_done(s, st);
}

int ehr_store_sms_token_del(struct ehr_store *s, int64_t user_id) {
        int r = exec_user(s, STMT_SMS_DEL, user_id);
        return r < 0 ? r : 0;
}

int ehr_store_sms_token_set_tries(struct ehr_store *s, int64_t user_id, uint64_t tries) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_SMS_TRIES);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_int64(st, 2, to_i64(tries));
        int r = step_done(s, st);
        return r < 0 ? r : 0;
}

int ehr_store_sms_send_nth(struct ehr_store *s, int64_t user_id, uint64_t n, uint64_t *ret_sec) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_SMS_SENDS);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_int64(st, 2, to_i64(n));
        int found = step_row(st);
        if (found < 0)
                return found;
        struct reader rd = { s, st, 0 };
        uint64_t t = read_time(&rd, 0, "sms_sends.time");
        if (rd.r < 0)
                return rd.r;
        *ret_sec = t;
        return 0;
}

int ehr_store_sms_send_add(struct ehr_store *s, int64_t user_id, uint64_t now_sec, uint64_t forget_before_sec) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_SMS_SEND_FORGET);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_int64(st, 2, to_i64(forget_before_sec));
        int r = step_done(s, st);
        if (r < 0)
                return r;
        _cleanup_stmt_ sqlite3_stmt *add = stmt(s, STMT_SMS_SEND_ADD);
        if (!add)
                return -EIO;
        sqlite3_bind_int64(add, 1, user_id);
        sqlite3_bind_int64(add, 2, to_i64(now_sec));
        r = step_done(s, add);
        return r < 0 ? r : 0;
}

/* Trusted devices */

int ehr_store_device_put(struct ehr_store *s, int64_t user_id, const uint8_t hash[EHR_HASH_BYTES], const char *label,
                         uint64_t now_sec, uint64_t expires_sec, int64_t *ret_id) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_DEV_PUT);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_blob(st, 2, hash, EHR_HASH_BYTES, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, label, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, to_i64(now_sec));
        sqlite3_bind_int64(st, 5, to_i64(expires_sec));
        int r = step_done(s, st);
        if (r < 0)
                return r;
        if (ret_id)
                *ret_id = sqlite3_last_insert_rowid(s->db);
        return 0;
}

int ehr_store_device_find(struct ehr_store *s, int64_t user_id, const uint8_t hash[EHR_HASH_BYTES], uint64_t now_sec,
                          int64_t *ret_id) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_DEV_FIND);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_blob(st, 2, hash, EHR_HASH_BYTES, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, to_i64(now_sec));
        int found = step_row(st);
        if (found < 0)
                return found;
        struct reader rd = { s, st, 0 };
        int64_t id = read_int(&rd, 0, "trusted_devices.id", 1, ID_MAX);
        if (rd.r < 0)
                return rd.r;
        *ret_id = id;
        return 0;
}

int ehr_store_device_touch(struct ehr_store *s, int64_t id, uint64_t now_sec) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_DEV_TOUCH);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, to_i64(now_sec));
        int r = step_done(s, st);
        return r < 0 ? r : 0;
}

int ehr_store_device_foreach(struct ehr_store *s, int64_t user_id,
                             int (*cb)(const struct ehr_device *d, void *userdata), void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_DEV_LIST);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        for (;;) {
                int more = step_next(st);
                if (more <= 0)
                        return more;
                struct reader rd = { s, st, 0 };
                struct ehr_device d = {
                        .id = read_int(&rd, 0, "trusted_devices.id", 1, ID_MAX),
                        .label = col_text(st, 1),
                        .created_sec = read_time(&rd, 2, "trusted_devices.created"),
                        .expires_sec = read_time(&rd, 3, "trusted_devices.expires"),
                        .last_used_sec = read_time(&rd, 4, "trusted_devices.last_used"),
                };
                int r = rd.r < 0 ? rd.r : cb(&d, userdata);
                if (r < 0)
                        return r;
        }
}

int ehr_store_device_del(struct ehr_store *s, int64_t user_id, int64_t id) {
        if (id == 0)
                return exec_user(s, STMT_DEV_DEL_ALL, user_id);
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_DEV_DEL);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_int64(st, 2, id);
        return step_done(s, st);
}

/* Users: provider and staff 2FA */

static int update_user(struct ehr_store *s, enum stmt id, int64_t user_id, sqlite3_int64 ival, const char *sval,
                       bool is_text) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, id);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        if (is_text) {
                if (sval)
                        sqlite3_bind_text(st, 2, sval, -1, SQLITE_STATIC);
                else
                        sqlite3_bind_null(st, 2);
        } else if (ival)
                sqlite3_bind_int64(st, 2, ival);
        else
                sqlite3_bind_null(st, 2);
        int r = step_done(s, st);
        return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

int ehr_store_user_set_provider(struct ehr_store *s, int64_t user_id, int64_t provider_id) {
        return update_user(s, STMT_USER_SET_PROVIDER, user_id, provider_id, NULL, false);
}

int ehr_store_user_set_sms_2fa(struct ehr_store *s, int64_t user_id, const char *id) {
        return update_user(s, STMT_USER_SET_SMS2FA, user_id, 0, id, true);
}

/* Permissions */

bool ehr_perm_valid(const char *perm) {
        return streq(perm, EHR_PERM_MANAGE_ACCOUNTS) || streq(perm, EHR_PERM_HELP_DESK) ||
               streq(perm, EHR_PERM_AUDIT_EXPORT);
}

int ehr_store_perm_grant(struct ehr_store *s, int64_t user_id, const char *perm, uint64_t now_sec, const char *by) {
        if (!ehr_perm_valid(perm))
                return -EINVAL;
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_PERM_GRANT);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_text(st, 2, perm, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, to_i64(now_sec));
        sqlite3_bind_text(st, 4, by, -1, SQLITE_STATIC);
        int r = step_done(s, st);
        return r < 0 ? r : 0;
}

int ehr_store_perm_revoke(struct ehr_store *s, int64_t user_id, const char *perm) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_PERM_REVOKE);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_text(st, 2, perm, -1, SQLITE_STATIC);
        return step_done(s, st);
}

int ehr_store_perm_has(struct ehr_store *s, int64_t user_id, const char *perm) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_PERM_HAS);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_text(st, 2, perm, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -EPERM : errno_from_sqlite(rc);
}

int ehr_store_perm_foreach(struct ehr_store *s, int64_t user_id, int (*cb)(const char *perm, void *userdata),
                           void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_PERM_LIST);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        for (;;) {
                int more = step_next(st);
                if (more <= 0)
                        return more;
                int r = cb(col_text(st, 0), userdata);
                if (r < 0)
                        return r;
        }
}

/* PINs */

static int pin_state_from(struct ehr_store *s, sqlite3_stmt *st, int col, struct ehr_pin_state *ret) {
        struct reader rd = { s, st, 0 };
        struct ehr_pin_state ps = {
                .failures = read_uint(&rd, col, "PIN failures", EHR_STORE_COUNT_MAX),
                .locked_until_sec = read_until(&rd, col + 1, "PIN locked_until"),
        };
        if (rd.r < 0)
                return rd.r;
        *ret = ps;
        return 0;
}

static int pin_set_state(struct ehr_store *s, enum stmt id, int64_t user_id, const struct ehr_pin_state *ps) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, id);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_int64(st, 2, to_i64(ps->failures));
        sqlite3_bind_int64(st, 3, to_i64(ps->locked_until_sec));
        int r = step_done(s, st);
        return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

int ehr_store_support_pin_put(struct ehr_store *s, const struct ehr_user *u, const char pin[EHR_PIN_DIGITS + 1],
                              uint64_t now_sec) {
        uint8_t ad[AD_MAX] = {}, sealed[EHR_PIN_DIGITS + EHR_SEAL_OVERHEAD];
        size_t adlen = seal_ad("spin", u, ad);
        int r = ehr_seal(s->keys, ad, adlen, (const uint8_t *) pin, EHR_PIN_DIGITS, sealed, sizeof sealed);
        if (r < 0)
                return r;
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_SPIN_PUT);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, u->id);
        sqlite3_bind_blob(st, 2, sealed, sizeof sealed, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, to_i64(now_sec));
        r = step_done(s, st);
        return r < 0 ? r : 0;
}

int ehr_store_support_pin_get(struct ehr_store *s, const struct ehr_user *u, char ret_pin[EHR_PIN_DIGITS + 1],
                              struct ehr_pin_state *ret_state) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_SPIN_GET);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, u->id);
        int found = step_row(st);
        if (found < 0)
                return found;
        struct ehr_pin_state ps;
        int r = pin_state_from(s, st, 1, &ps);
        if (r < 0)
                return r;
        const void *blob = sqlite3_column_blob(st, 0);
        if (!blob || sqlite3_column_bytes(st, 0) != (int) (EHR_PIN_DIGITS + EHR_SEAL_OVERHEAD))
                return -EBADMSG;
        uint8_t ad[AD_MAX] = {};
        size_t adlen = seal_ad("spin", u, ad);
        char pin[EHR_PIN_DIGITS + 1];
        r = ehr_unseal(s->keys, ad, adlen, blob, EHR_PIN_DIGITS + EHR_SEAL_OVERHEAD, (uint8_t *) pin,
                           EHR_PIN_DIGITS);
        if (r < 0)
                return r;
        pin[EHR_PIN_DIGITS] = 0;
        memcpy(ret_pin, pin, sizeof pin);
        sodium_memzero(pin, sizeof pin);
        *ret_state = ps;
        return 0;
}

int ehr_store_support_pin_set_state(struct ehr_store *s, int64_t user_id, const struct ehr_pin_state *st) {
        return pin_set_state(s, STMT_SPIN_STATE, user_id, st);
}

int ehr_store_unlock_pin_put(struct ehr_store *s, int64_t user_id, const uint8_t hash[EHR_HASH_BYTES],
                             uint64_t now_sec) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_UPIN_PUT);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_blob(st, 2, hash, EHR_HASH_BYTES, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, to_i64(now_sec));
        int r = step_done(s, st);
        return r < 0 ? r : 0;
}

int ehr_store_unlock_pin_get(struct ehr_store *s, int64_t user_id, uint8_t ret_hash[EHR_HASH_BYTES],
                             struct ehr_pin_state *ret_state) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_UPIN_GET);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        int found = step_row(st);
        if (found < 0)
                return found;
        struct ehr_pin_state ps;
        int r = pin_state_from(s, st, 1, &ps);
        if (r < 0)
                return r;
        if (column_hash(st, 0, ret_hash) < 0)
                return -EBADMSG;
        *ret_state = ps;
        return 0;
}

int ehr_store_unlock_pin_set_state(struct ehr_store *s, int64_t user_id, const struct ehr_pin_state *st) {
        return pin_set_state(s, STMT_UPIN_STATE, user_id, st);
}

/* Support requests */

int ehr_store_request_add(struct ehr_store *s, int64_t for_id, int64_t by_id, int64_t approver_id, const char *state,
                          const char *how, const char *note, uint64_t now_sec, int64_t *ret_id) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_REQ_ADD);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, for_id);
        sqlite3_bind_int64(st, 2, by_id);
        sqlite3_bind_int64(st, 3, approver_id);
        sqlite3_bind_text(st, 4, state, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, how, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, note ?: "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 7, to_i64(now_sec));
        int r = step_done(s, st);
        if (r < 0)
                return r;
        *ret_id = sqlite3_last_insert_rowid(s->db);
        return 0;
}

static int request_rows(struct ehr_store *s, sqlite3_stmt *st, int (*cb)(const struct ehr_support_request *r, void *userdata),
                        void *userdata, bool one) {
        for (bool any = false;;) {
                int more = step_next(st);
                if (more <= 0)
                        return more == 0 && one && !any ? -ENOENT : more;
                any = true;
                struct reader rd = { s, st, 0 };
                struct ehr_support_request r = {
                        .id = read_int(&rd, 0, "support_requests.id", 1, ID_MAX),
                        .for_login = col_text(st, 1),
                        .by_login = col_text(st, 2),
                        .approver_login = col_text(st, 3),
                        .state = col_text(st, 4),
                        .how = col_text(st, 5),
                        .note = col_text(st, 6),
                        .created_sec = read_time(&rd, 7, "support_requests.created"),
                        .decided_sec = read_time(&rd, 8, "support_requests.decided"),
                };
                int k = rd.r < 0 ? rd.r : cb(&r, userdata);
                if (k < 0)
                        return k;
        }
}

int ehr_store_request_get(struct ehr_store *s, int64_t id, int (*cb)(const struct ehr_support_request *r, void *userdata),
                          void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_REQ_GET);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, id);
        return request_rows(s, st, cb, userdata, true);
}

int ehr_store_request_foreach(struct ehr_store *s, int (*cb)(const struct ehr_support_request *r, void *userdata),
                              void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_REQ_LIST);
        if (!st)
                return -EIO;
        return request_rows(s, st, cb, userdata, false);
}

int ehr_store_request_decide(struct ehr_store *s, int64_t id, const char *state, const char *how, uint64_t now_sec) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_REQ_DECIDE);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, how, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, to_i64(now_sec));
        int r = step_done(s, st);
        return r < 0 ? r : r == 0 ? -EALREADY : 0;
}

/* System accounts and groups */

int ehr_store_user_set_account(struct ehr_store *s, int64_t user_id, int64_t uid, int64_t gid, const char *home,
                               const char *shell) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_USER_SET_ACCOUNT);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_int64(st, 2, uid);
        sqlite3_bind_int64(st, 3, gid);
        sqlite3_bind_text(st, 4, home, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, shell, -1, SQLITE_STATIC);
        int r = step_done(s, st);
        return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

int ehr_store_user_set_locked(struct ehr_store *s, int64_t user_id, bool locked) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_USER_SET_LOCKED);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, user_id);
        sqlite3_bind_int(st, 2, locked);
        int r = step_done(s, st);
        return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

int ehr_store_id_used(struct ehr_store *s, int64_t id) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_ID_USED);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, id);
        int rc = sqlite3_step(st);
        if (rc != SQLITE_ROW)
                return errno_from_sqlite(rc);
        struct reader rd = { s, st, 0 };
        bool used = read_bool(&rd, 0, "id in use");
        return rd.r < 0 ? rd.r : used;
}

int ehr_store_group_add(struct ehr_store *s, const char *name, int64_t gid) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_GROUP_ADD);
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, gid);
        int r = step_done(s, st);
        return r < 0 ? r : 0;
}

int ehr_store_group_del(struct ehr_store *s, const char *name) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_GROUP_DEL);
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        int r = step_done(s, st);
        return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

int ehr_store_group_get(struct ehr_store *s, const char *name, int64_t *ret_id, int64_t *ret_gid) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_GROUP_GET);
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        int found = step_row(st);
        if (found < 0)
                return found;
        struct reader rd = { s, st, 0 };
        int64_t id = read_int(&rd, 0, "groups.id", 1, ID_MAX), gid = read_int(&rd, 1, "groups.gid", 0, UID_MAX);
        if (rd.r < 0)
                return rd.r;
        *ret_id = id;
        *ret_gid = gid;
        return 0;
}

int ehr_store_group_member(struct ehr_store *s, int64_t group_id, int64_t user_id, bool add) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, add ? STMT_GROUP_MEMBER_ADD : STMT_GROUP_MEMBER_DEL);
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, group_id);
        sqlite3_bind_int64(st, 2, user_id);
        return step_done(s, st);
}

int ehr_store_group_foreach(struct ehr_store *s, int (*cb)(const struct ehr_group *g, void *userdata), void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = stmt(s, STMT_GROUP_LIST);
        if (!st)
                return -EIO;
        for (;;) {
                int more = step_next(st);
                if (more <= 0)
                        return more;
                struct reader rd = { s, st, 0 };
                struct ehr_group g = {
                        .id = read_int(&rd, 0, "groups.id", 1, ID_MAX),
                        .gid = read_int(&rd, 1, "groups.gid", 0, UID_MAX),
                        .name = col_text(st, 2),
                };
                int r = rd.r < 0 ? rd.r : cb(&g, userdata);
                if (r < 0)
                        return r;
        }
}

int ehr_store_group_members(struct ehr_store *s, int64_t group_id, int (*cb)(const char *login, void *userdata),
                            void *userdata) {
        /* A separate statement handle: callers iterate groups while reading members. */
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(s->db, stmt_sql[STMT_GROUP_MEMBERS], -1, &st, NULL);
        if (rc != SQLITE_OK)
                return errno_from_sqlite(rc);
        sqlite3_bind_int64(st, 1, group_id);
        int r = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW && (r = cb(col_text(st, 0), userdata)) >= 0)
                ;
        if (r >= 0 && rc != SQLITE_DONE)
                r = errno_from_sqlite(rc);
        sqlite3_finalize(st);
        return r;
}
