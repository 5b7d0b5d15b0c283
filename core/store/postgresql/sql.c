/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The PostgreSQL backend's SQL: every statement, prepared once per connection,
 * and the numbered migrations, the same schema as the SQLite backend's
 * (store/sqlite/sql.c) in PostgreSQL's dialect. No other file holds SQL text.
 * Integers are bigint (SQLite's INTEGER), blobs bytea; the audit table's
 * column "user" is quoted (a reserved word here). */

#include "internal.h"

#define USER_COLUMNS                                                                               \
        "u.id, u.login, u.name, u.email, u.phone, u.role, u.created, "                             \
        "(EXISTS (SELECT 1 FROM totp t WHERE t.user_id = u.id))::int, "                            \
        "(SELECT count(*) FROM recovery_codes r WHERE r.user_id = u.id AND r.used IS NULL), "      \
        "coalesce((SELECT p.login FROM users p WHERE p.id = u.provider_id), ''), coalesce(u.sms_2fa_id, ''), " \
        "coalesce(u.uid, -1), coalesce(u.gid, -1), coalesce(u.home, ''), coalesce(u.shell, ''), u.locked"

#define BG_SELECT                                                                                   \
        "SELECT id, login, host, service, source, reason, time, coalesce(reviewed, 0), coalesce(reviewer, ''), " \
        "coalesce(note, '') FROM break_glass "

#define REQ_SELECT                                                                                           \
        "SELECT r.id, f.login, b.login, coalesce(a.login, ''), r.state, r.how, r.note, r.created, r.decided " \
        "FROM support_requests r JOIN users f ON f.id = r.for_id JOIN users b ON b.id = r.by_id "            \
        "LEFT JOIN users a ON a.id = r.approver_id "

const char *const ehr_pg_stmt_sql[_PG_STMT_MAX] = {
        [PG_USER_ADD] = "INSERT INTO users(login, name, email, phone, role, created) VALUES ($1, $2, $3, $4, $5, $6) "
                        "RETURNING id",
        [PG_USER_GET] = "SELECT " USER_COLUMNS " FROM users u WHERE u.login = $1",
        [PG_USER_DEL] = "DELETE FROM users WHERE login = $1",
        /* Every user (the NSS snapshot of a large site): joins, not a subquery per row. */
        [PG_USER_LIST] = "SELECT u.id, u.login, u.name, u.email, u.phone, u.role, u.created, "
                         "(t.user_id IS NOT NULL)::int, coalesce(rc.n, 0), coalesce(p.login, ''), "
                         "coalesce(u.sms_2fa_id, ''), coalesce(u.uid, -1), coalesce(u.gid, -1), coalesce(u.home, ''), "
                         "coalesce(u.shell, ''), u.locked FROM users u "
                         "LEFT JOIN totp t ON t.user_id = u.id "
                         "LEFT JOIN (SELECT user_id, count(*) AS n FROM recovery_codes WHERE used IS NULL "
                         "GROUP BY user_id) rc ON rc.user_id = u.id "
                         "LEFT JOIN users p ON p.id = u.provider_id ORDER BY u.login COLLATE \"C\"",
        /* A transaction's read-modify-write of one user's state (failures, tokens,
         * PINs) holds the user's row: another host's waits, then reads what this
         * one committed (SQLite's BEGIN IMMEDIATE, per user). */
        [PG_USER_LOCK] = "SELECT 1 FROM users WHERE id = $1 FOR UPDATE",
        [PG_TOTP_PUT] = "INSERT INTO totp(user_id, sealed, algorithm, digits, period, last_step, enrolled) "
                        "VALUES ($1, $2, $3, $4, $5, NULL, $6) ON CONFLICT (user_id) DO UPDATE SET "
                        "sealed = excluded.sealed, algorithm = excluded.algorithm, digits = excluded.digits, "
                        "period = excluded.period, last_step = NULL, enrolled = excluded.enrolled",
        [PG_TOTP_GET] = "SELECT sealed, algorithm, digits, period, last_step FROM totp WHERE user_id = $1",
        /* The replay guard: one conditional update, whoever asks at once. */
        [PG_TOTP_USE] = "UPDATE totp SET last_step = $2 WHERE user_id = $1 AND (last_step IS NULL OR last_step < $2)",
        [PG_TOTP_DEL] = "DELETE FROM totp WHERE user_id = $1",
        [PG_RECOVERY_DEL] = "DELETE FROM recovery_codes WHERE user_id = $1",
        [PG_RECOVERY_ADD] = "INSERT INTO recovery_codes(user_id, hash) VALUES ($1, $2)",
        [PG_RECOVERY_USE] = "UPDATE recovery_codes SET used = $3 WHERE user_id = $1 AND hash = $2 AND used IS NULL",
        [PG_FAIL_GET] = "SELECT count, first, last, consecutive, locked_until FROM failures WHERE user_id = $1",
        [PG_FAIL_PUT] = "INSERT INTO failures(user_id, count, first, last, consecutive, locked_until) "
                        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id) DO UPDATE SET count = excluded.count, "
                        "first = excluded.first, last = excluded.last, consecutive = excluded.consecutive, "
                        "locked_until = excluded.locked_until",
        [PG_FAIL_DEL] = "DELETE FROM failures WHERE user_id = $1",
        [PG_AUDIT_INSERT] = "INSERT INTO audit(seq, time, \"user\", actor, type, action, details, source, mac) "
                            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        [PG_AUDIT_LIST] = "SELECT seq, time, \"user\", actor, type, action, details, source, mac FROM audit "
                          "WHERE time >= $1 AND time <= $2 AND ($3::text IS NULL OR \"user\" = $3) ORDER BY seq",
        /* One chain for every host: the head row, made by migration 1, is locked by
         * the transaction that appends, so appends are serialised by the database. */
        [PG_AUDIT_HEAD_GET] = "SELECT value FROM meta WHERE key = 'audit_head' FOR UPDATE",
        [PG_AUDIT_HEAD_PUT] = "INSERT INTO meta(key, value) VALUES ('audit_head', $1) "
                              "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [PG_SMS_PUT] = "INSERT INTO sms_tokens(user_id, hash, created, expires, tries) VALUES ($1, $2, $3, $4, $5) "
                       "ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash, created = excluded.created, "
                       "expires = excluded.expires, tries = excluded.tries",
        [PG_SMS_GET] = "SELECT hash, created, expires, tries FROM sms_tokens WHERE user_id = $1",
        [PG_SMS_DEL] = "DELETE FROM sms_tokens WHERE user_id = $1",
        [PG_SMS_TRIES] = "UPDATE sms_tokens SET tries = $2 WHERE user_id = $1",
        [PG_SMS_SENDS] = "SELECT time FROM sms_sends WHERE user_id = $1 ORDER BY time DESC LIMIT 1 OFFSET $2",
        [PG_SMS_SEND_ADD] = "INSERT INTO sms_sends(user_id, time) VALUES ($1, $2)",
        [PG_SMS_SEND_FORGET] = "DELETE FROM sms_sends WHERE user_id = $1 AND time < $2",
        [PG_DEV_PUT] = "INSERT INTO trusted_devices(user_id, hash, label, created, expires, last_used) "
                       "VALUES ($1, $2, $3, $4, $5, $4) ON CONFLICT (user_id, hash) DO UPDATE SET "
                       "label = excluded.label, created = excluded.created, expires = excluded.expires, "
                       "last_used = excluded.last_used RETURNING id",
        [PG_DEV_FIND] = "SELECT id FROM trusted_devices WHERE user_id = $1 AND hash = $2 AND expires > $3",
        [PG_DEV_TOUCH] = "UPDATE trusted_devices SET last_used = $2 WHERE id = $1",
        [PG_DEV_LIST] = "SELECT id, label, created, expires, last_used, hash FROM trusted_devices WHERE user_id = $1 "
                        "ORDER BY id",
        [PG_DEV_DEL] = "DELETE FROM trusted_devices WHERE user_id = $1 AND id = $2",
        [PG_DEV_DEL_ALL] = "DELETE FROM trusted_devices WHERE user_id = $1",
        [PG_USER_SET_PROVIDER] = "UPDATE users SET provider_id = $2 WHERE id = $1",
        [PG_USER_SET_SMS2FA] = "UPDATE users SET sms_2fa_id = $2 WHERE id = $1",
        [PG_PERM_GRANT] = "INSERT INTO permissions(user_id, perm, granted, granted_by) VALUES ($1, $2, $3, $4) "
                          "ON CONFLICT DO NOTHING",
        [PG_PERM_REVOKE] = "DELETE FROM permissions WHERE user_id = $1 AND perm = $2",
        [PG_PERM_HAS] = "SELECT 1 FROM permissions WHERE user_id = $1 AND perm = $2",
        [PG_PERM_LIST] = "SELECT perm FROM permissions WHERE user_id = $1 ORDER BY perm COLLATE \"C\"",
        [PG_SPIN_PUT] = "INSERT INTO support_pins(user_id, sealed, created, failures, locked_until) "
                        "VALUES ($1, $2, $3, 0, 0) ON CONFLICT (user_id) DO UPDATE SET sealed = excluded.sealed, "
                        "created = excluded.created, failures = 0, locked_until = 0",
        [PG_SPIN_GET] = "SELECT sealed, failures, locked_until FROM support_pins WHERE user_id = $1",
        [PG_SPIN_STATE] = "UPDATE support_pins SET failures = $2, locked_until = $3 WHERE user_id = $1",
        [PG_UPIN_PUT] = "INSERT INTO unlock_pins(user_id, hash, created, failures, locked_until) "
                        "VALUES ($1, $2, $3, 0, 0) ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash, "
                        "created = excluded.created, failures = 0, locked_until = 0",
        [PG_UPIN_GET] = "SELECT hash, failures, locked_until FROM unlock_pins WHERE user_id = $1",
        [PG_UPIN_STATE] = "UPDATE unlock_pins SET failures = $2, locked_until = $3 WHERE user_id = $1",
        [PG_REQ_ADD] = "INSERT INTO support_requests(for_id, by_id, approver_id, state, how, note, created, decided) "
                       "VALUES ($1, $2, nullif($3::bigint, 0), $4, $5, $6, $7, "
                       "CASE WHEN $4 = 'approved' THEN $7::bigint ELSE 0 END) RETURNING id",
        [PG_REQ_GET] = REQ_SELECT "WHERE r.id = $1",
        [PG_REQ_LIST] = REQ_SELECT "ORDER BY r.id",
        [PG_REQ_DECIDE] = "UPDATE support_requests SET state = $2, how = $3, decided = $4 WHERE id = $1 AND state = 'open'",
        /* Break-glass: every add takes this lock first, so that under READ COMMITTED the
         * counts of the conditional insert see every use committed before it (one writer
         * at a time, across hosts; break-glass is rare). */
        [PG_BG_LOCK] = "SELECT pg_advisory_xact_lock(7268456)",
        [PG_BG_ADD] = "INSERT INTO break_glass(login, host, service, source, reason, time) "
                      "SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::bigint "
                      "WHERE (SELECT count(*) FROM break_glass WHERE login = $1::text AND time >= $7::bigint) < $8::bigint "
                      "AND (SELECT count(*) FROM break_glass WHERE host = $2::text AND time >= $9::bigint) < $10::bigint "
                      "RETURNING id",
        [PG_BG_COUNTS] = "SELECT CASE WHEN (SELECT count(*) FROM break_glass WHERE login = $1 AND time >= $2::bigint) "
                         ">= $3::bigint THEN 1 ELSE 0 END",
        [PG_BG_REVIEW] = "UPDATE break_glass SET reviewed = $3, reviewer = $2, note = $4 "
                         "WHERE id = $1 AND reviewed IS NULL AND login <> $2",
        [PG_BG_GET] = BG_SELECT "WHERE id = $1",
        [PG_BG_LIST] = BG_SELECT "WHERE ($1::bigint = 0 OR reviewed IS NULL) AND time <= $2::bigint ORDER BY id",
        [PG_USER_SET_ACCOUNT] = "UPDATE users SET uid = $2, gid = $3, home = $4, shell = $5 WHERE id = $1",
        [PG_USER_SET_LOCKED] = "UPDATE users SET locked = $2 WHERE id = $1",
        [PG_ID_USED] = "SELECT (EXISTS (SELECT 1 FROM users WHERE uid = $1 OR gid = $1) OR "
                       "EXISTS (SELECT 1 FROM groups WHERE gid = $1))::int",
        [PG_ID_HIGH] = "SELECT greatest(coalesce((SELECT num FROM meta WHERE key = 'id_high'), -1),"
                       " coalesce((SELECT greatest(max(coalesce(uid, -1)), max(coalesce(gid, -1))) FROM users), -1),"
                       " coalesce((SELECT max(gid) FROM groups), -1))",
        /* Never lowered, whoever raises it at once. */
        [PG_ID_HIGH_RAISE] = "INSERT INTO meta(key, num) VALUES ('id_high', $1) "
                             "ON CONFLICT (key) DO UPDATE SET num = greatest(meta.num, excluded.num)",
        [PG_GROUP_ADD] = "INSERT INTO groups(name, gid) VALUES ($1, $2)",
        [PG_GROUP_DEL] = "DELETE FROM groups WHERE name = $1",
        [PG_GROUP_GET] = "SELECT id, gid FROM groups WHERE name = $1",
        [PG_GROUP_MEMBER_ADD] = "INSERT INTO group_members(group_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        [PG_GROUP_MEMBER_DEL] = "DELETE FROM group_members WHERE group_id = $1 AND user_id = $2",
        [PG_GROUP_LIST] = "SELECT id, gid, name FROM groups ORDER BY name COLLATE \"C\"",
        [PG_GROUP_MEMBERS] = "SELECT u.login FROM group_members m JOIN users u ON u.id = m.user_id "
                             "WHERE m.group_id = $1 ORDER BY u.login COLLATE \"C\"",
        /* Store copy: the id as it was, and the ids handed out after it above it. */
        [PG_USER_PUT] = "WITH u AS (INSERT INTO users(id, login, name, email, phone, role, created) "
                        "VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id) "
                        "SELECT setval(pg_get_serial_sequence('users', 'id'), "
                        "greatest((SELECT id FROM u), (SELECT max(id) FROM users))) FROM u",
        [PG_PASSWORD_PUT] = "INSERT INTO passwords(user_id, hash, changed) VALUES ($1, $2, $3) "
                            "ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash, changed = excluded.changed",
        [PG_PASSWORD_GET] = "SELECT hash, changed FROM passwords WHERE user_id = $1",
        [PG_RESET_PUT] = "INSERT INTO reset_tokens(hash, user_id, created, expires) VALUES ($1, $2, $3, $4)",
        [PG_RESET_FIND] = "SELECT user_id, expires FROM reset_tokens WHERE hash = $1",
        /* One conditional delete: of two takes of one token, exactly one gets the row. */
        [PG_RESET_TAKE] = "DELETE FROM reset_tokens WHERE hash = $1 RETURNING user_id, expires",
        [PG_RESET_VOID] = "DELETE FROM reset_tokens WHERE user_id = $1 OR expires <= $2",
        [PG_RESET_REQ_FORGET] = "DELETE FROM reset_requests WHERE time <= $1",
        [PG_RESET_REQ_ADD] = "INSERT INTO reset_requests(key, time) SELECT $1::bytea, $2::bigint WHERE "
                             "(SELECT count(*) FROM reset_requests WHERE key = $1::bytea AND time > $3::bigint) < $4::bigint",
        /* One conditional write, as SQLite's: the count goes up only while it is below $2. */
        [PG_GRACE_USE] = "INSERT INTO grace_logins(login, used, first, last) SELECT $1::text, 1, $3::bigint, $3::bigint "
                         "WHERE $2::bigint > 0 ON CONFLICT (login) DO UPDATE SET used = grace_logins.used + 1, "
                         "last = $3::bigint WHERE grace_logins.used < $2::bigint",
        [PG_GRACE_GET] = "SELECT used FROM grace_logins WHERE login = $1",
        [PG_RECOVERY_LIST] = "SELECT hash, (used IS NOT NULL)::int FROM recovery_codes WHERE user_id = $1",
        /* The schema's version, in meta (SQLite keeps it in PRAGMA user_version). A
         * database without our meta table is empty (version 0) or another application's. */
        [PG_SCHEMA_HAS_META] = "SELECT (to_regclass('meta') IS NOT NULL)::int",
        [PG_SCHEMA_TABLES] = "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()",
        [PG_VERSION_GET] = "SELECT coalesce((SELECT num FROM meta WHERE key = 'schema_version'), 0)",
        [PG_VERSION_PUT] = "INSERT INTO meta(key, num) VALUES ('schema_version', $1) "
                           "ON CONFLICT (key) DO UPDATE SET num = excluded.num",
};

/* Two hosts migrating at once: the second waits, then finds the work done. */
const char ehr_pg_sql_migrate_lock[] = "SELECT pg_advisory_xact_lock(7268455)";

/* Each step and its version bump are applied in one transaction. */
const struct ehr_pg_migration ehr_pg_migrations[] = {
        { 1,
          "CREATE TABLE meta(key TEXT PRIMARY KEY, value BYTEA, num BIGINT);"
          /* The audit chain's head exists from the start, so that the first append locks it too. */
          "INSERT INTO meta(key, value) VALUES ('audit_head', '\\x" /* seq 0, an all-zero MAC */
          "00000000000000000000000000000000000000000000000000000000000000000000000000000000');"
          "CREATE TABLE users("
          "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
          "  login TEXT NOT NULL UNIQUE,"
          "  name TEXT NOT NULL DEFAULT '',"
          "  email TEXT NOT NULL DEFAULT '',"
          "  phone TEXT NOT NULL DEFAULT '',"
          "  role TEXT NOT NULL CHECK (role IN ('provider', 'staff')),"
          "  created BIGINT NOT NULL);"
          "CREATE TABLE totp("
          "  user_id BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,"
          "  sealed BYTEA NOT NULL,"
          "  algorithm TEXT NOT NULL,"
          "  digits BIGINT NOT NULL,"
          "  period BIGINT NOT NULL,"
          "  last_step BIGINT,"
          "  enrolled BIGINT NOT NULL);"
          "CREATE TABLE recovery_codes("
          "  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
          "  hash BYTEA NOT NULL,"
          "  used BIGINT,"
          "  PRIMARY KEY (user_id, hash));"
          "CREATE TABLE failures("
          "  user_id BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,"
          "  count BIGINT NOT NULL,"
          "  first BIGINT NOT NULL,"
          "  last BIGINT NOT NULL,"
          "  consecutive BIGINT NOT NULL,"
          "  locked_until BIGINT NOT NULL);"
          "CREATE TABLE audit("
          "  seq BIGINT PRIMARY KEY,"
          "  time BIGINT NOT NULL,"
          "  \"user\" TEXT NOT NULL,"
          "  actor TEXT NOT NULL,"
          "  type TEXT NOT NULL,"
          "  action TEXT NOT NULL,"
          "  details TEXT NOT NULL,"
          "  source TEXT NOT NULL,"
          "  mac BYTEA NOT NULL);"
          "CREATE INDEX audit_time ON audit(time);"
          /* Defence in depth, as in SQLite: the chain detects edits anyway. */
          "CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
          "'BEGIN RAISE EXCEPTION ''audit log is append-only''; END';"
          "CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit "
          "  FOR EACH ROW EXECUTE FUNCTION audit_append_only();"
          "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit "
          "  FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();" },
        { 2,
          "CREATE TABLE sms_tokens("
          "  user_id BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,"
          "  hash BYTEA NOT NULL,"
          "  created BIGINT NOT NULL,"
          "  expires BIGINT NOT NULL,"
          "  tries BIGINT NOT NULL);"
          "CREATE TABLE sms_sends("
          "  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
          "  time BIGINT NOT NULL);"
          "CREATE INDEX sms_sends_user ON sms_sends(user_id, time);"
          "CREATE TABLE trusted_devices("
          "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
          "  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
          "  hash BYTEA NOT NULL,"
          "  label TEXT NOT NULL,"
          "  created BIGINT NOT NULL,"
          "  expires BIGINT NOT NULL,"
          "  last_used BIGINT NOT NULL,"
          "  UNIQUE (user_id, hash));" },
        { 3,
          "ALTER TABLE users ADD COLUMN provider_id BIGINT REFERENCES users(id) ON DELETE SET NULL;"
          "ALTER TABLE users ADD COLUMN sms_2fa_id TEXT;"
          "CREATE TABLE permissions("
          "  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
          "  perm TEXT NOT NULL CHECK (perm IN ('manage_accounts', 'help_desk', 'audit_export')),"
          "  granted BIGINT NOT NULL,"
          "  granted_by TEXT NOT NULL,"
          "  PRIMARY KEY (user_id, perm));"
          "CREATE TABLE support_pins("
          "  user_id BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,"
          "  sealed BYTEA NOT NULL,"
          "  created BIGINT NOT NULL,"
          "  failures BIGINT NOT NULL,"
          "  locked_until BIGINT NOT NULL);"
          "CREATE TABLE unlock_pins("
          "  user_id BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,"
          "  hash BYTEA NOT NULL,"
          "  created BIGINT NOT NULL,"
          "  failures BIGINT NOT NULL,"
          "  locked_until BIGINT NOT NULL);"
          "CREATE TABLE support_requests("
          "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
          "  for_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
          "  by_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
          "  approver_id BIGINT REFERENCES users(id) ON DELETE SET NULL,"
          "  state TEXT NOT NULL CHECK (state IN ('open', 'approved')),"
          "  how TEXT NOT NULL,"
          "  note TEXT NOT NULL,"
          "  created BIGINT NOT NULL,"
          "  decided BIGINT NOT NULL);" },
        { 4,
          "ALTER TABLE users ADD COLUMN uid BIGINT;"
          "ALTER TABLE users ADD COLUMN gid BIGINT;"
          "ALTER TABLE users ADD COLUMN home TEXT;"
          "ALTER TABLE users ADD COLUMN shell TEXT;"
          "ALTER TABLE users ADD COLUMN locked BIGINT NOT NULL DEFAULT 0;"
          "CREATE UNIQUE INDEX users_uid ON users(uid) WHERE uid IS NOT NULL;"
          "CREATE TABLE groups("
          "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
          "  name TEXT NOT NULL UNIQUE,"
          "  gid BIGINT NOT NULL UNIQUE);"
          "CREATE TABLE group_members("
          "  group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,"
          "  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
          "  PRIMARY KEY (group_id, user_id));" },
        { 5,
          /* Passwords of managed accounts: a crypt(3) string from libxcrypt, never the password. */
          "CREATE TABLE passwords("
          "  user_id BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,"
          "  hash TEXT NOT NULL,"
          "  changed BIGINT NOT NULL);" },
        { 6,
          /* Password reset tokens as keyed hashes only, and the requests counted for the rate limits. */
          "CREATE TABLE reset_tokens("
          "  hash BYTEA PRIMARY KEY,"
          "  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
          "  created BIGINT NOT NULL,"
          "  expires BIGINT NOT NULL);"
          "CREATE INDEX reset_tokens_user ON reset_tokens(user_id);"
          "CREATE TABLE reset_requests("
          "  key BYTEA NOT NULL,"
          "  time BIGINT NOT NULL);"
          "CREATE INDEX reset_requests_key ON reset_requests(key, time);" },
        /* Break-the-glass uses, and the permission to review them (SQLite's migration 7). */
        { 7,
          "CREATE TABLE break_glass("
          "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
          "  login TEXT NOT NULL,"
          "  host TEXT NOT NULL,"
          "  service TEXT NOT NULL,"
          "  source TEXT NOT NULL,"
          "  reason TEXT NOT NULL,"
          "  time BIGINT NOT NULL,"
          "  reviewed BIGINT,"
          "  reviewer TEXT,"
          "  note TEXT,"
          "  CHECK ((reviewed IS NULL) = (reviewer IS NULL) AND (reviewed IS NULL) = (note IS NULL)));"
          "CREATE INDEX break_glass_login ON break_glass(login, time);"
          "CREATE INDEX break_glass_host ON break_glass(host, time);"
          "CREATE INDEX break_glass_unreviewed ON break_glass(time) WHERE reviewed IS NULL;"
          "ALTER TABLE permissions DROP CONSTRAINT permissions_perm_check;"
          "ALTER TABLE permissions ADD CONSTRAINT permissions_perm_check"
          "  CHECK (perm IN ('manage_accounts', 'help_desk', 'audit_export', 'break_glass_review'));" },
        /* Grace logins after enroll_by (core/enforce.c), by login (SQLite's migration 8). */
        { 8,
          "CREATE TABLE grace_logins("
          "  login TEXT PRIMARY KEY,"
          "  used BIGINT NOT NULL,"
          "  first BIGINT NOT NULL,"
          "  last BIGINT NOT NULL);" },
};
const size_t ehr_pg_migrations_n = ELEMENTSOF(ehr_pg_migrations);
