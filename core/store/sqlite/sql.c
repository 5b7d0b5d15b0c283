/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The SQLite backend's SQL: every statement, prepared once per connection, and
 * the numbered migrations. No other file holds SQL text. */

#include "internal.h"

#define USER_COLUMNS                                                                          \
        "u.id, u.login, u.name, u.email, u.phone, u.role, u.created, "                        \
        "EXISTS (SELECT 1 FROM totp t WHERE t.user_id = u.id), "                              \
        "(SELECT count(*) FROM recovery_codes r WHERE r.user_id = u.id AND r.used IS NULL), "        \
        "coalesce((SELECT p.login FROM users p WHERE p.id = u.provider_id), ''), coalesce(u.sms_2fa_id, ''), " \
        "coalesce(u.uid, -1), coalesce(u.gid, -1), coalesce(u.home, ''), coalesce(u.shell, ''), u.locked"

#define BG_SELECT                                                                                   \
        "SELECT id, login, host, service, source, reason, time, coalesce(reviewed, 0), coalesce(reviewer, ''), " \
        "coalesce(note, '') FROM break_glass "

#define REQ_SELECT                                                                                           \
        "SELECT r.id, f.login, b.login, coalesce(a.login, ''), r.state, r.how, r.note, r.created, r.decided " \
        "FROM support_requests r JOIN users f ON f.id = r.for_id JOIN users b ON b.id = r.by_id "            \
        "LEFT JOIN users a ON a.id = r.approver_id "

const char *const ehr_sqlite_stmt_sql[_STMT_MAX] = {
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
        [STMT_DEV_LIST] = "SELECT id, label, created, expires, last_used, hash FROM trusted_devices WHERE user_id = ?1 "
                          "ORDER BY id",
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
        /* The mark lives in meta (no migration: a store from before it starts at its highest id). */
        [STMT_ID_HIGH] = "SELECT max(coalesce((SELECT value FROM meta WHERE key = 'id_high'), -1),"
                         " coalesce((SELECT max(max(coalesce(uid, -1)), max(coalesce(gid, -1))) FROM users), -1),"
                         " coalesce((SELECT max(gid) FROM groups), -1))",
        [STMT_ID_HIGH_RAISE] = "INSERT OR REPLACE INTO meta(key, value) VALUES ('id_high',"
                               " max(?1, coalesce((SELECT value FROM meta WHERE key = 'id_high'), -1)))",
        [STMT_GROUP_ADD] = "INSERT INTO groups(name, gid) VALUES (?1, ?2)",
        [STMT_GROUP_DEL] = "DELETE FROM groups WHERE name = ?1",
        [STMT_GROUP_GET] = "SELECT id, gid FROM groups WHERE name = ?1",
        [STMT_GROUP_MEMBER_ADD] = "INSERT OR IGNORE INTO group_members(group_id, user_id) VALUES (?1, ?2)",
        [STMT_GROUP_MEMBER_DEL] = "DELETE FROM group_members WHERE group_id = ?1 AND user_id = ?2",
        [STMT_GROUP_LIST] = "SELECT id, gid, name FROM groups ORDER BY name",
        [STMT_GROUP_MEMBERS] = "SELECT u.login FROM group_members m JOIN users u ON u.id = m.user_id "
                               "WHERE m.group_id = ?1 ORDER BY u.login",
        [STMT_PASSWORD_PUT] = "INSERT INTO passwords(user_id, hash, changed) VALUES (?1, ?2, ?3) "
                              "ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash, changed = excluded.changed",
        [STMT_PASSWORD_GET] = "SELECT hash, changed FROM passwords WHERE user_id = ?1",
        [STMT_USER_PUT] = "INSERT INTO users(id, login, name, email, phone, role, created) "
                          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        [STMT_RECOVERY_LIST] = "SELECT hash, used IS NOT NULL FROM recovery_codes WHERE user_id = ?1",
        [STMT_RESET_PUT] = "INSERT INTO reset_tokens(hash, user_id, created, expires) VALUES (?1, ?2, ?3, ?4)",
        [STMT_RESET_FIND] = "SELECT user_id, expires FROM reset_tokens WHERE hash = ?1",
        /* One conditional delete: of two takes of one token, exactly one gets the row. */
        [STMT_RESET_TAKE] = "DELETE FROM reset_tokens WHERE hash = ?1 RETURNING user_id, expires",
        [STMT_RESET_VOID] = "DELETE FROM reset_tokens WHERE user_id = ?1 OR expires <= ?2",
        [STMT_RESET_REQ_FORGET] = "DELETE FROM reset_requests WHERE time <= ?1",
        [STMT_RESET_REQ_ADD] = "INSERT INTO reset_requests(key, time) SELECT ?1, ?2 WHERE "
                               "(SELECT count(*) FROM reset_requests WHERE key = ?1 AND time > ?3) < ?4",
        /* One conditional write: the count goes up only while it is below ?2 (never read, then written). */
        [STMT_GRACE_USE] = "INSERT INTO grace_logins(login, used, first, last) SELECT ?1, 1, ?3, ?3 WHERE ?2 > 0 "
                           "ON CONFLICT(login) DO UPDATE SET used = used + 1, last = ?3 WHERE used < ?2",
        [STMT_GRACE_GET] = "SELECT used FROM grace_logins WHERE login = ?1",
        [STMT_REQ_DECIDE] = "UPDATE support_requests SET state = ?2, how = ?3, decided = ?4 WHERE id = ?1 AND state = 'open'",
        /* The limits and the insert in one statement: no count read before a separate write. */
        [STMT_BG_ADD] = "INSERT INTO break_glass(login, host, service, source, reason, time) "
                        "SELECT ?1, ?2, ?3, ?4, ?5, ?6 "
                        "WHERE (SELECT count(*) FROM break_glass WHERE login = ?1 AND time >= ?7) < ?8 "
                        "AND (SELECT count(*) FROM break_glass WHERE host = ?2 AND time >= ?9) < ?10",
        [STMT_BG_COUNTS] = "SELECT (SELECT count(*) FROM break_glass WHERE login = ?1 AND time >= ?2) >= ?3",
        [STMT_BG_REVIEW] = "UPDATE break_glass SET reviewed = ?3, reviewer = ?2, note = ?4 "
                           "WHERE id = ?1 AND reviewed IS NULL AND login <> ?2",
        [STMT_BG_GET] = BG_SELECT "WHERE id = ?1",
        [STMT_BG_LIST] = BG_SELECT "WHERE (?1 = 0 OR reviewed IS NULL) AND time <= ?2 ORDER BY id",
};

/* Each step and its version bump are applied in one transaction (FreeBSD pkg's pkgdb_upgrade()). */
const struct ehr_sqlite_migration ehr_sqlite_migrations[] = {
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
        { 5,
          /* Passwords of managed accounts: a crypt(3) string from libxcrypt, never the password. */
          "CREATE TABLE passwords("
          "  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,"
          "  hash TEXT NOT NULL,"
          "  changed INTEGER NOT NULL);" },
        { 6,
          /* Password reset tokens, as keyed hashes only, and the requests counted for the rate limits
           * (key: a keyed hash of an address or a source, never the address). */
          "CREATE TABLE reset_tokens("
          "  hash BLOB PRIMARY KEY,"
          "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
          "  created INTEGER NOT NULL,"
          "  expires INTEGER NOT NULL) WITHOUT ROWID;"
          "CREATE INDEX reset_tokens_user ON reset_tokens(user_id);"
          "CREATE TABLE reset_requests("
          "  key BLOB NOT NULL,"
          "  time INTEGER NOT NULL);"
          "CREATE INDEX reset_requests_key ON reset_requests(key, time);" },
        /* Break-the-glass uses, and the permission to review them (a CHECK is part of
         * the table: the permissions table is rebuilt with the new one). */
        { 7,
          "CREATE TABLE break_glass("
          "  id INTEGER PRIMARY KEY,"
          "  login TEXT NOT NULL,"
          "  host TEXT NOT NULL,"
          "  service TEXT NOT NULL,"
          "  source TEXT NOT NULL,"
          "  reason TEXT NOT NULL,"
          "  time INTEGER NOT NULL,"
          "  reviewed INTEGER,"
          "  reviewer TEXT,"
          "  note TEXT,"
          "  CHECK ((reviewed IS NULL) = (reviewer IS NULL) AND (reviewed IS NULL) = (note IS NULL)));"
          "CREATE INDEX break_glass_login ON break_glass(login, time);"
          "CREATE INDEX break_glass_host ON break_glass(host, time);"
          "CREATE INDEX break_glass_unreviewed ON break_glass(time) WHERE reviewed IS NULL;"
          "CREATE TABLE permissions_new("
          "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
          "  perm TEXT NOT NULL CHECK (perm IN ('manage_accounts', 'help_desk', 'audit_export', 'break_glass_review')),"
          "  granted INTEGER NOT NULL,"
          "  granted_by TEXT NOT NULL,"
          "  PRIMARY KEY (user_id, perm)) WITHOUT ROWID;"
          "INSERT INTO permissions_new SELECT user_id, perm, granted, granted_by FROM permissions;"
          "DROP TABLE permissions;"
          "ALTER TABLE permissions_new RENAME TO permissions;" },
        /* Grace logins after enroll_by (core/enforce.c), by login: a host account that
         * the policy covers through its system groups has no users row. */
        { 8,
          "CREATE TABLE grace_logins("
          "  login TEXT PRIMARY KEY,"
          "  used INTEGER NOT NULL,"
          "  first INTEGER NOT NULL,"
          "  last INTEGER NOT NULL) WITHOUT ROWID;" },
};
const size_t ehr_sqlite_migrations_n = ELEMENTSOF(ehr_sqlite_migrations);
