/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The store: permissions, sealing bound to the user, the audit chain, lockout
 * and recovery codes through the policy, with an injected clock. Run against
 * SQLite, and against PostgreSQL when EHR2FA_TEST_PG names a server (tests/pg.py
 * run -- test-store: the same checks, with the hostile edits in its dialect). */
#include <sqlite3.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "audit.h"
#include "policy.h"
#include "recovery.h"
#include "store.h"
#include "test.h"

static char dir[] = "/tmp/ehr2fa-test-store-XXXXXX";
static char sdir[300], dbpath[400], keypath[400];
static const uint8_t seed[20] = "12345678901234567890";
static const struct ehr_otp_params params = { EHR_OTP_SHA1, 6, 30 };
/* PostgreSQL: the server's locator and password file (tests/pg.py), else NULL. */
static const char *pg, *pgpass;

static int store_open(unsigned flags, struct ehr_store **s, char *err, size_t errlen) {
        const struct ehr_store_where w = { .dir = sdir, .server = pg, .password_file = pgpass };
        return ehr_store_open_at(&w, flags, 1000, s, err, errlen);
}

static struct ehr_store *open_store(unsigned flags, int expect) {
        struct ehr_store *s = NULL;
        char err[EHR_CONFIG_ERR_MAX] = "";
        int r = store_open(flags, &s, err, sizeof err);
        if (r != expect)
                fprintf(stderr, "open: %d (%s), expected %d\n", r, err, expect);
        CHECK(r == expect);
        return s;
}

static struct ehr_user *add_user(struct ehr_store *s, const char *login) {
        struct ehr_user u = { .login = (char *) login, .role = (char *) "staff" }, *got = NULL;
        CHECK(ehr_store_user_add(s, &u, 1000, NULL) == 0);
        CHECK(ehr_store_user_get(s, login, &got) == 0);
        CHECK(ehr_store_totp_put(s, got, seed, sizeof seed, &params, 1000) == 0);
        return got;
}

/* Edit the store behind the code's back, as a hostile admin would: in SQLite's
 * dialect, or in PostgreSQL's (psql, as the store's role). Returns 0 if it ran. */
static int pg_sql(const char *q, bool must) {
        char cmd[4096];
        snprintf(cmd, sizeof cmd, "PGPASSWORD=$(cat '%s') psql -X -q -v ON_ERROR_STOP=1 '%s' -c \"%s\" >/dev/null 2>&1",
                 pgpass, pg, q);
        int r = system(cmd);
        if (must && r != 0) {
                fprintf(stderr, "psql: %s: failed\n", q);
                test_failures++;
        }
        return r == 0 ? 0 : -1;
}

static void sql(const char *q) {
        sqlite3 *db;
        CHECK(sqlite3_open(dbpath, &db) == SQLITE_OK);
        char *e = NULL;
        if (sqlite3_exec(db, q, NULL, NULL, &e) != SQLITE_OK) {
                fprintf(stderr, "sql: %s: %s\n", q, e);
                test_failures++;
        }
        sqlite3_free(e);
        sqlite3_close(db);
}

static void sql2(const char *sqlite_q, const char *pg_q) {
        if (pg)
                (void) pg_sql(pg_q, true);
        else
                sql(sqlite_q);
}

static void test_permissions(void) {
        char err[EHR_CONFIG_ERR_MAX];
        struct ehr_store *s = NULL;

        CHECK(store_open(0, &s, err, sizeof err) == -ENOENT);
        CHECK(strstr(err, "ehr2fa-admin init") != NULL);
        s = ehr_store_free(open_store(EHR_STORE_CREATE | EHR_STORE_MIGRATE, 0));
        s = ehr_store_free(open_store(0, 0));

        /* Each of the three, group/world readable, is refused with the path and the fix. */
        const char *paths[] = { keypath, sdir, pg ? pgpass : dbpath };
        for (unsigned i = 0; i < ELEMENTSOF(paths); i++) {
                struct stat st;
                CHECK(stat(paths[i], &st) == 0);
                CHECK((st.st_mode & 077) == 0);
                CHECK(chmod(paths[i], (st.st_mode & 0700) | 0044) == 0);
                CHECK(store_open(0, &s, err, sizeof err) == -ENOTUNIQ);
                CHECK(strstr(err, paths[i]) != NULL && strstr(err, "chmod go-rwx") != NULL);
                CHECK(chmod(paths[i], st.st_mode & 07777) == 0);
        }
        s = ehr_store_free(open_store(0, 0));

        /* A symlinked key is not followed. */
        char moved[500];
        snprintf(moved, sizeof moved, "%s.real", keypath);
        CHECK(rename(keypath, moved) == 0);
        CHECK(symlink(moved, keypath) == 0);
        CHECK(store_open(0, &s, err, sizeof err) == -ELOOP);
        CHECK(unlink(keypath) == 0 && rename(moved, keypath) == 0);

        /* A schema from the future is refused, not "migrated" backwards. */
        sql2("PRAGMA user_version = 99", "UPDATE meta SET num = 99 WHERE key = 'schema_version'");
        CHECK(store_open(EHR_STORE_MIGRATE, &s, err, sizeof err) == -EPROTO);
        CHECK(strstr(err, "newer") != NULL);
        char restore[64], restore_pg[96];
        snprintf(restore, sizeof restore, "PRAGMA user_version = %d", EHR_STORE_SCHEMA_VERSION);
        snprintf(restore_pg, sizeof restore_pg, "UPDATE meta SET num = %d WHERE key = 'schema_version'",
                 EHR_STORE_SCHEMA_VERSION);
        sql2(restore, restore_pg);

        /* An older schema is for the admin tool to migrate; the module refuses it. */
        sql2("PRAGMA user_version = 1", "UPDATE meta SET num = 1 WHERE key = 'schema_version'");
        CHECK(store_open(0, &s, err, sizeof err) == -EPROTO);
        CHECK(strstr(err, "old schema") != NULL);
        sql2(restore, restore_pg);

}

/* A store written by schema 1 (tests/data/store-v1.sql) is migrated, keeping its users. */
static void test_migration(const char *fixture) {
        static char old[] = "/tmp/ehr2fa-test-migrate-XXXXXX";
        char cmd[1024], err[EHR_CONFIG_ERR_MAX];
        struct ehr_store *s = NULL;
        CHECK(mkdtemp(old) != NULL);
        CHECK(chmod(old, 0700) == 0);
        snprintf(cmd, sizeof cmd, "cp %s %s/%s && sqlite3 %s/%s < %s && chmod 600 %s/*", keypath, old,
                 EHR_STORE_KEY_NAME, old, EHR_STORE_DB_NAME, fixture, old);
        if (system(cmd) != 0) {
                fprintf(stderr, "skipping the migration check: cannot build the v1 store (sqlite3 missing?)\n");
                return;
        }
        CHECK(ehr_store_open(old, 0, 1000, &s, err, sizeof err) == -EPROTO); /* the module never migrates */
        CHECK(ehr_store_open(old, EHR_STORE_MIGRATE, 1000, &s, err, sizeof err) == 0);
        struct ehr_user *got = NULL;
        CHECK(s && ehr_store_user_get(s, "old", &got) == 0);
        CHECK(got && streq(got->name, "Old Timer") && streq(got->provider, ""));
        struct ehr_sms_token tok;
        CHECK(got && ehr_store_sms_token_get(s, got->id, &tok) == -ENOENT);
        CHECK(got && ehr_store_perm_has(s, got->id, EHR_PERM_HELP_DESK) == -EPERM);
        ehr_user_free(got);
        ehr_store_free(s);
        snprintf(cmd, sizeof cmd, "rm -rf %s", old);
        CHECK(system(cmd) == 0);
}

static void test_sealed_copy(void) {
        struct ehr_store *s = open_store(0, 0);
        struct ehr_user *alice = add_user(s, "alice"), *bob = add_user(s, "bob");
        struct ehr_secret *sec = NULL;
        struct ehr_otp_params p;
        uint64_t last;
        bool have;

        CHECK(ehr_store_totp_get(s, alice, &sec, &p, &last, &have) == 0);
        CHECK(sec && sec->len == sizeof seed && memcmp(sec->data, seed, sizeof seed) == 0);
        CHECK(!have);
        sec = ehr_secret_free(sec);
        s = ehr_store_free(s);

        /* Copy alice's sealed seed onto bob's row: it must not open as bob's. */
        const char *copy = "UPDATE totp SET sealed = (SELECT sealed FROM totp t JOIN users u ON u.id = t.user_id "
                           "WHERE u.login = 'alice') WHERE user_id = (SELECT id FROM users WHERE login = 'bob')";
        sql2(copy, copy);
        s = open_store(0, 0);
        CHECK(ehr_store_totp_get(s, bob, &sec, &p, &last, &have) == -EBADMSG);
        CHECK(sec == NULL);
        CHECK(ehr_store_totp_get(s, alice, &sec, &p, &last, &have) == 0);
        sec = ehr_secret_free(sec);

        /* A flipped bit in the ciphertext does not open either. */
        sql2("UPDATE totp SET sealed = sealed || x'00' WHERE user_id = (SELECT id FROM users WHERE login = 'alice')",
             "UPDATE totp SET sealed = sealed || '\\\\x00'::bytea WHERE user_id = "
             "(SELECT id FROM users WHERE login = 'alice')");
        CHECK(ehr_store_totp_get(s, alice, &sec, &p, &last, &have) == -EBADMSG);
        ehr_user_free(alice);
        ehr_user_free(bob);
        ehr_store_free(s);
}

static void code_at(uint64_t t, char out[EHR_OTP_DIGITS_MAX + 1]) {
        CHECK(ehr_hotp(seed, sizeof seed, EHR_OTP_SHA1, ehr_totp_step(t, 30), 6, out, EHR_OTP_DIGITS_MAX + 1) == 0);
}

static void test_lockout(void) {
        struct ehr_store *s = open_store(0, 0);
        struct ehr_user *u = add_user(s, "carol");
        struct ehr_config c;
        struct ehr_verdict v;
        char code[EHR_OTP_DIGITS_MAX + 1];
        uint64_t t = 1800000000, until = 0;
        ehr_config_init(&c);
        c.deny = 3;

        CHECK(ehr_policy_verify(s, &c, u, "000000", t, "test", &v) == -EBADRQC);
        CHECK(v.failures == 1 && v.locked_until_sec == 0);
        CHECK(ehr_policy_verify(s, &c, u, "", t + 1, "test", &v) == -EBADRQC); /* empty is a failure too */
        CHECK(ehr_policy_check_lock(s, u, t + 1, &until) == 0);
        CHECK(ehr_policy_verify(s, &c, u, "not-a-code", t + 2, "test", &v) == -EBADRQC);
        CHECK(v.failures == 3 && v.locked_until_sec == t + 2 + 900);

        /* Locked: even the right code is not checked. */
        code_at(t + 10, code);
        CHECK(ehr_policy_verify(s, &c, u, code, t + 10, "test", &v) == -EAGAIN);
        CHECK(ehr_policy_check_lock(s, u, t + 10, &until) == -EAGAIN && until == t + 902);

        /* After unlock_time the right code works and clears the count. */
        code_at(t + 903, code);
        CHECK(ehr_policy_check_lock(s, u, t + 903, &until) == 0);
        CHECK(ehr_policy_verify(s, &c, u, code, t + 903, "test", &v) == 0);
        CHECK(v.factor == EHR_FACTOR_TOTP);
        struct ehr_failures f;
        CHECK(ehr_store_failures_get(s, u->id, &f) == 0 && f.count == 0 && f.consecutive == 0);

        /* Replay of the same code, even a second later, fails and counts. */
        CHECK(ehr_policy_verify(s, &c, u, code, t + 904, "test", &v) == -EALREADY);
        CHECK(v.failures == 1);

        /* Failures spread out beyond fail_interval never lock... */
        for (unsigned i = 0; i < 6; i++)
                CHECK(ehr_policy_verify(s, &c, u, "000000", t + 2000 + i * 1000, "test", &v) == -EBADRQC);
        CHECK(v.locked_until_sec == 0);
        /* ...until max_failures consecutive ones, which lock until an admin clears it. */
        c.max_failures = 8;
        CHECK(ehr_policy_verify(s, &c, u, "000000", t + 9000, "test", &v) == -EBADRQC);
        CHECK(v.locked_until_sec == UINT64_MAX);
        CHECK(ehr_policy_check_lock(s, u, t + 999999, &until) == -EAGAIN && until == UINT64_MAX);
        CHECK(ehr_store_failures_clear(s, u->id) == 0);
        CHECK(ehr_policy_check_lock(s, u, t + 999999, &until) == 0);

        ehr_config_done(&c);
        ehr_user_free(u);
        ehr_store_free(s);
}

static void test_recovery(void) {
        struct ehr_store *s = open_store(0, 0);
        struct ehr_user *u = add_user(s, "dave"), *u2 = NULL;
        struct ehr_config c;
        struct ehr_verdict v;
        char codes[EHR_RECOVERY_CODES][EHR_RECOVERY_DISPLAY_SIZE];
        uint8_t hashes[EHR_RECOVERY_CODES][EHR_HASH_BYTES];
        ehr_config_init(&c);

        ehr_recovery_generate(ehr_store_keys(s), u->id, EHR_RECOVERY_CODES, codes, hashes);
        CHECK(ehr_store_recovery_replace(s, u->id, (const uint8_t(*)[EHR_HASH_BYTES]) hashes, EHR_RECOVERY_CODES) == 0);
        CHECK(ehr_store_user_get(s, "dave", &u2) == 0 && u2->recovery_left == EHR_RECOVERY_CODES);

        /* Upper case and without the dash, as people type it. */
        char typed[EHR_RECOVERY_DISPLAY_SIZE];
        size_t n = 0;
        for (const char *p = codes[3]; *p; p++)
                if (*p != '-')
                        typed[n++] = (char) (*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
        typed[n] = 0;
        CHECK(ehr_policy_verify(s, &c, u2, typed, 5000, "test", &v) == 0);
        CHECK(v.factor == EHR_FACTOR_RECOVERY && v.recovery_left == EHR_RECOVERY_CODES - 1);
        CHECK(ehr_policy_verify(s, &c, u2, codes[3], 5001, "test", &v) == -EBADRQC); /* once only */
        CHECK(v.factor == EHR_FACTOR_RECOVERY);
        CHECK(ehr_policy_verify(s, &c, u2, codes[4], 5002, "test", &v) == 0);

        /* Another user's code is not ours. */
        struct ehr_user *e = add_user(s, "erin");
        CHECK(ehr_policy_verify(s, &c, e, codes[5], 5003, "test", &v) == -EBADRQC);

        /* Only hashes are stored: no code appears in the database or its WAL. */
        ehr_store_free(s);
        if (pg) {
                ehr_config_done(&c);
                ehr_user_free(u);
                ehr_user_free(u2);
                ehr_user_free(e);
                return;
        }
        static char blob[4 << 20];
        size_t got = 0;
        const char *suffixes[] = { "", "-wal" };
        for (unsigned i = 0; i < ELEMENTSOF(suffixes); i++) {
                char path[500];
                snprintf(path, sizeof path, "%s%s", dbpath, suffixes[i]);
                FILE *f = fopen(path, "re");
                if (f) {
                        got += fread(blob + got, 1, sizeof blob - got, f);
                        fclose(f);
                }
        }
        CHECK(got > 0);
        for (unsigned i = 0; i < EHR_RECOVERY_CODES; i++) {
                char raw[EHR_RECOVERY_CHARS];
                memcpy(raw, codes[i], 5);
                memcpy(raw + 5, codes[i] + 6, 5);
                CHECK(memmem(blob, got, raw, sizeof raw) == NULL);
                CHECK(memmem(blob, got, codes[i], strlen(codes[i])) == NULL);
        }
        ehr_config_done(&c);
        ehr_user_free(u);
        ehr_user_free(u2);
        ehr_user_free(e);
}

static void test_audit_chain(void) {
        struct ehr_store *s = open_store(0, 0);
        uint64_t rows = 0, bad = 0;
        CHECK(ehr_audit_verify(s, &rows, &bad) == 0);
        uint64_t before = rows;
        CHECK(ehr_audit_append(s, 100, "alice", "root", "admin", "one", "a", "src") == 0);
        CHECK(ehr_audit_append(s, 101, "alice", "root", "admin", "two", "b", "src") == 0);
        CHECK(ehr_audit_append(s, 102, "alice", "root", "admin", "three", "c", "src") == 0);
        CHECK(ehr_audit_verify(s, &rows, &bad) == 0 && rows == before + 3);
        ehr_store_free(s);

        /* The store refuses edits itself... */
        if (pg) {
                CHECK(pg_sql("UPDATE audit SET details = 'x' WHERE action = 'two'", false) < 0);
                CHECK(pg_sql("DELETE FROM audit WHERE action = 'two'", false) < 0);
                CHECK(pg_sql("TRUNCATE audit", false) < 0);
        } else {
                sqlite3 *db;
                CHECK(sqlite3_open(dbpath, &db) == SQLITE_OK);
                CHECK(sqlite3_exec(db, "UPDATE audit SET details = 'x' WHERE action = 'two'", NULL, NULL, NULL) !=
                      SQLITE_OK);
                sqlite3_close(db);
        }

        /* ...and someone who drops the triggers is caught by the chain, at the right row. */
        sql2("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;"
             "UPDATE audit SET details = 'edited' WHERE action = 'two'",
             "DROP TRIGGER audit_no_change ON audit; DROP TRIGGER audit_no_truncate ON audit;"
             "UPDATE audit SET details = 'edited' WHERE action = 'two'");
        s = open_store(0, 0);
        CHECK(ehr_audit_verify(s, &rows, &bad) == -EBADMSG && bad == before + 2);
        ehr_store_free(s);

        sql2("UPDATE audit SET details = 'b' WHERE action = 'two'", "UPDATE audit SET details = 'b' WHERE action = 'two'");
        s = open_store(0, 0);
        CHECK(ehr_audit_verify(s, &rows, &bad) == 0);
        ehr_store_free(s);

        sql2("DELETE FROM audit WHERE action = 'two'", "DELETE FROM audit WHERE action = 'two'");
        s = open_store(0, 0);
        CHECK(ehr_audit_verify(s, &rows, &bad) == -EBADMSG && bad == before + 2);
        ehr_store_free(s);

        /* Cutting the tail leaves a valid chain; the head notices. */
        sql2("DELETE FROM audit WHERE seq >= (SELECT seq FROM audit WHERE action = 'one')", "DELETE FROM audit WHERE seq >= (SELECT seq FROM audit WHERE action = 'one')");
        s = open_store(0, 0);
        CHECK(ehr_audit_verify(s, &rows, &bad) == -EBADMSG && bad == before + 1);
        ehr_store_free(s);
}

/* Logins neither create nor delete the WAL (no file made, no directory synced per
 * login), and it does not grow with them: a connection that leaves enough frames
 * checkpoints as it closes and the next one writes over the old frames. Nothing
 * is lost on the way, for this code or for another SQLite opening the file. */
/* The first four bytes of a WAL file: its magic, or 0 for an empty WAL (our VFS
 * zeroes the header where SQLite would truncate the file). */
static uint32_t wal_magic(const char *path) {
        uint8_t b[4] = {};
        FILE *f = fopen(path, "rbe");
        CHECK(f != NULL);
        if (f) {
                CHECK(fread(b, 1, sizeof b, f) == sizeof b);
                fclose(f);
        }
        return (uint32_t) b[0] << 24 | (uint32_t) b[1] << 16 | (uint32_t) b[2] << 8 | b[3];
}

static void test_wal_kept(void) {
        char walpath[420];
        snprintf(walpath, sizeof walpath, "%s-wal", dbpath);
        struct ehr_store *s = open_store(0, 0);
        CHECK(ehr_audit_append(s, 100, "wal", "root", "admin", "first", "", "src") == 0);
        uint64_t rows0 = 0, rows = 0, bad = 0;
        CHECK(ehr_audit_verify(s, &rows0, &bad) == 0);
        ehr_store_free(s);

        struct stat st0, st;
        CHECK(stat(walpath, &st0) == 0);
        /* Room for the checkpoint threshold (64 frames) and one connection's frames beyond it. */
        off_t cap = (off_t) (96U * (4096U + 24U) + 32U);
        if (st0.st_size > cap)
                cap = st0.st_size;
        const unsigned logins = 300;
        for (unsigned i = 0; i < logins; i++) {
                s = open_store(0, 0);
                CHECK(ehr_audit_append(s, 200 + i, "wal", "root", "admin", "login", "", "src") == 0);
                ehr_store_free(s);
                CHECK(stat(walpath, &st) == 0);
                CHECK(st.st_ino == st0.st_ino);
                if (st.st_size > cap) {
                        fprintf(stderr, "WAL grew to %lld bytes after %u logins\n", (long long) st.st_size, i + 1);
                        test_failures++;
                        break;
                }
        }
        s = open_store(0, 0);
        CHECK(ehr_audit_verify(s, &rows, &bad) == 0 && rows == rows0 + logins);
        ehr_store_free(s);

        /* Another SQLite (the sqlite3 shell, a backup) sees the same rows. */
        sqlite3 *db;
        sqlite3_stmt *st_count = NULL;
        CHECK(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
        CHECK(sqlite3_prepare_v2(db, "SELECT count(*) FROM audit", -1, &st_count, NULL) == SQLITE_OK);
        CHECK(sqlite3_step(st_count) == SQLITE_ROW && (uint64_t) sqlite3_column_int64(st_count, 0) == rows);
        sqlite3_finalize(st_count);
        sqlite3_close(db);

        /* A connection whose commit reaches SQLite's own autocheckpoint (1,000 frames)
         * still empties the WAL as it closes, though that checkpoint copied every
         * frame already: else every later open reads them all again in WAL recovery
         * (65 ms a login with 100,000 users' pages). The WAL's blocks are kept, so
         * the file grows only past its longest: it is past 1,000 frames first after
         * the commit that reached them, and that is the last before the close. */
        const off_t thousand = (off_t) (32U + 1000U * (4096U + 24U));
        unsigned appends = 0;
        s = open_store(0, 0);
        for (; appends < 5000 && stat(walpath, &st) == 0 && st.st_size < thousand; appends++)
                if (ehr_audit_append(s, 1000 + appends, "wal", "root", "admin", "long", "", "src") != 0) {
                        CHECK(!"audit append");
                        break;
                }
        CHECK(st.st_size >= thousand);
        CHECK(wal_magic(walpath) != 0);
        ehr_store_free(s);
        CHECK(wal_magic(walpath) == 0);
        s = open_store(0, 0);
        CHECK(ehr_audit_verify(s, &rows, &bad) == 0 && rows == rows0 + logins + appends);
        ehr_store_free(s);
}

/* The store's locator picks its backend: a directory or sqlite:DIR is SQLite; a
 * server in store_dir, or anything but a server in store, is a configuration
 * error said without the secrets the locator may hold. */
static void test_locators(void) {
        static const char *const pg_in_dir[] = {
                "postgresql://ehr2fa:s3cret@db.example/ehr2fa",
                "POSTGRES://ehr2fa:s3cret@db.example:5432/ehr2fa?sslmode=require",
                "host=db.example dbname=ehr2fa password=s3cret",
        };
        char err[EHR_CONFIG_ERR_MAX], loc[400];
        struct ehr_store *s = NULL;
        for (unsigned i = 0; i < ELEMENTSOF(pg_in_dir); i++) {
                err[0] = 0;
                CHECK(ehr_store_open(pg_in_dir[i], EHR_STORE_CREATE | EHR_STORE_MIGRATE, 1000, &s, err, sizeof err) ==
                      -EINVAL);
                CHECK(!s);
                CHECK(strstr(err, "store = postgresql://") != NULL);
                CHECK(strstr(err, "s3cret") == NULL);
        }
        CHECK(strstr(ehr_strerror(-ENOPKG), "no backend") != NULL);
        CHECK(ehr_store_open("mysql://root@db/ehr2fa", 0, 1000, &s, err, sizeof err) == -EINVAL);
        CHECK(strstr(err, "\"mysql:\"") != NULL);
        CHECK(strstr(err, "root@db") == NULL);
        const struct ehr_store_where bad = { .dir = sdir, .server = "mysql://root:s3cret@db/ehr2fa" };
        CHECK(ehr_store_open_at(&bad, 0, 1000, &s, err, sizeof err) == -EINVAL);
        CHECK(strstr(err, "not a PostgreSQL server") != NULL && strstr(err, "s3cret") == NULL);
        if (pg)
                return;

        /* sqlite:DIR is the same store as DIR. */
        snprintf(loc, sizeof loc, "sqlite:%s", sdir);
        CHECK(ehr_store_open(loc, 0, 1000, &s, err, sizeof err) == 0);
        struct ehr_user *u = NULL;
        CHECK(ehr_store_user_get(s, "alice", &u) == 0);
        ehr_user_free(u);
        CHECK(strcmp(ehr_store_location(s), dbpath) == 0);

        /* A store replaced under an open handle, or made readable to others, is "changed". */
        CHECK(ehr_store_changed(s) == 0);
        char copy[420], cmd[1800];
        snprintf(copy, sizeof copy, "%s.copy", dbpath);
        snprintf(cmd, sizeof cmd, "cp -p %s %s && mv %s %s", dbpath, copy, copy, dbpath);
        CHECK(system(cmd) == 0);
        CHECK(ehr_store_changed(s) == 1);
        ehr_store_free(s);
        s = open_store(0, 0);
        CHECK(ehr_store_changed(s) == 0);
        CHECK(chmod(dbpath, 0644) == 0);
        CHECK(ehr_store_changed(s) == 1);
        CHECK(chmod(dbpath, 0600) == 0);
        CHECK(ehr_store_changed(s) == 0);
        ehr_store_free(s);
}

/* PostgreSQL: a password in the locator, a PG* variable in the environment
 * (which libpq would follow), a wrong password and a server that is not
 * there are each refused with what to fix, never with the password; the
 * location names the server without it. */
static void test_pg_locators(void) {
        char err[EHR_CONFIG_ERR_MAX], loc[600];
        struct ehr_store *s = NULL;
        snprintf(loc, sizeof loc, "%s&password=s3cret", pg);
        const struct ehr_store_where inline_pw = { .dir = sdir, .server = loc, .password_file = pgpass };
        CHECK(ehr_store_open_at(&inline_pw, 0, 1000, &s, err, sizeof err) == -EINVAL);
        CHECK(strstr(err, "store_password_file") != NULL && strstr(err, "s3cret") == NULL);

        CHECK(setenv("PGHOST", "/tmp/elsewhere", 1) == 0);
        CHECK(store_open(0, &s, err, sizeof err) == -EINVAL);
        CHECK(strstr(err, "PGHOST") != NULL);
        CHECK(unsetenv("PGHOST") == 0);

        char wrong[500];
        snprintf(wrong, sizeof wrong, "%s/wrong.password", dir);
        FILE *f = fopen(wrong, "we");
        CHECK(f && fputs("not-the-password\n", f) >= 0 && fclose(f) == 0);
        CHECK(chmod(wrong, 0600) == 0);
        const struct ehr_store_where w = { .dir = sdir, .server = pg, .password_file = wrong };
        CHECK(ehr_store_open_at(&w, 0, 1000, &s, err, sizeof err) == -ENOMEDIUM);
        CHECK(strstr(err, "cannot connect") != NULL && strstr(err, "not-the-password") == NULL);

        /* Nobody there: refused within the timeout, not hung. */
        snprintf(loc, sizeof loc, "postgresql:///ehr2fa?host=%s&port=1&user=ehr2fa", dir);
        const struct ehr_store_where none = { .dir = sdir, .server = loc, .password_file = pgpass };
        uint64_t t0 = ehr_monotonic_msec();
        CHECK(ehr_store_open_at(&none, 0, 1000, &s, err, sizeof err) == -ENOMEDIUM);
        CHECK(ehr_monotonic_msec() - t0 < 1500);

        s = open_store(0, 0);
        CHECK(s && strncmp(ehr_store_location(s), "postgresql://", 13) == 0);
        CHECK(s && ehr_store_changed(s) == 0);
        ehr_store_free(s);
}

/* Many processes standing in for hosts, each with its own connection, made
 * after the fork (a handle opened before it is never used by the child: it
 * reconnects, and the parent's session lives on). Concurrent wrong codes are
 * each counted; the same valid code is accepted exactly once; the audit chain,
 * appended by all of them, still verifies. */
#define RACERS 8U
static void race(struct ehr_store *parent, const struct ehr_user *u, const char *code, uint64_t t, unsigned tries) {
        pid_t pids[RACERS];
        for (unsigned i = 0; i < RACERS; i++) {
                pids[i] = fork();
                CHECK(pids[i] >= 0);
                if (pids[i] == 0) {
                        struct ehr_config c;
                        ehr_config_init(&c);
                        c.deny = 1000;
                        c.max_failures = 100000;
                        int ok = 0;
                        for (unsigned k = 0; k < tries; k++) {
                                struct ehr_verdict v;
                                int r = ehr_policy_verify(parent, &c, u, code, t, "race", &v);
                                ok += r == 0;
                                if (r != 0 && r != -EBADRQC && r != -EALREADY) {
                                        fprintf(stderr, "racer %u: %s\n", i, ehr_strerror(r));
                                        _exit(100);
                                }
                        }
                        _exit(ok);
                }
        }
        unsigned accepted = 0;
        for (unsigned i = 0; i < RACERS; i++) {
                int st = 0;
                CHECK(waitpid(pids[i], &st, 0) == pids[i] && WIFEXITED(st) && WEXITSTATUS(st) != 100);
                accepted += WIFEXITED(st) ? (unsigned) WEXITSTATUS(st) : 0;
        }
        if (code[0] != '0')
                CHECK(accepted == 1);
        else
                CHECK(accepted == 0);
}

static void test_pg_hosts_at_once(void) {
        /* Room for 8 hosts queueing on one user's row on a loaded (or sanitized) machine. */
        const struct ehr_store_where w = { .dir = sdir, .server = pg, .password_file = pgpass };
        struct ehr_store *s = NULL;
        char err[EHR_CONFIG_ERR_MAX];
        CHECK(ehr_store_open_at(&w, 0, 20000, &s, err, sizeof err) == 0);
        struct ehr_user *u = add_user(s, "racer");
        struct ehr_failures f;
        uint64_t rows0 = 0, rows = 0, bad = 0;
        CHECK(ehr_audit_verify(s, &rows0, &bad) == 0);
        const unsigned tries = 5;
        race(s, u, "000000", 1900000000, tries);
        CHECK(ehr_store_failures_get(s, u->id, &f) == 0);
        if (f.count != RACERS * tries)
                fprintf(stderr, "failures counted: %" PRIu64 ", expected %u\n", f.count, RACERS * tries);
        CHECK(f.count == RACERS * tries);
        CHECK(ehr_store_failures_clear(s, u->id) == 0);
        char code[EHR_OTP_DIGITS_MAX + 1];
        code_at(1900000100, code);
        if (code[0] == '0')
                code_at(1900000130, code);
        race(s, u, code, code[0] == '0' ? 1900000130 : 1900000100, 1);
        /* The parent's own connection survived its children. */
        CHECK(ehr_audit_verify(s, &rows, &bad) == 0);
        CHECK(rows == rows0 + RACERS * tries + RACERS);
        ehr_user_free(u);
        ehr_store_free(s);
}

/* The uid high-water mark: ids of deleted users and groups stay handed out; a
 * store from before the mark (no meta row) starts at its highest id. */
static void test_id_high(void) {
        struct ehr_store *s = open_store(0, 0);
        _cleanup_(ehr_user_freep) struct ehr_user *u = add_user(s, "hw1");
        int64_t high = 0;
        CHECK(ehr_store_id_high(s, &high) == 0 && high == -1);
        CHECK(ehr_store_user_set_account(s, u->id, 61005, 61005, "", "") == 0);
        CHECK(ehr_store_group_add(s, "hwg", 61007) == 0);
        CHECK(ehr_store_id_high(s, &high) == 0 && high == 61007);
        CHECK(ehr_store_id_high_raise(s, 61007) == 0);
        CHECK(ehr_store_group_del(s, "hwg") == 0 && ehr_store_user_del(s, "hw1") == 0);
        CHECK(ehr_store_id_high(s, &high) == 0 && high == 61007);
        CHECK(ehr_store_id_high_raise(s, 61002) == 0); /* never lowered */
        CHECK(ehr_store_id_high(s, &high) == 0 && high == 61007);
        s = ehr_store_free(s);
        sql2("INSERT OR REPLACE INTO meta(key, value) VALUES ('id_high', 99999999999)",
             "UPDATE meta SET num = 99999999999 WHERE key = 'id_high'");
        s = open_store(0, 0);
        CHECK(ehr_store_id_high(s, &high) == -EOVERFLOW);
        CHECK(strstr(ehr_store_bad_value(s), "high-water") != NULL);
        s = ehr_store_free(s);
        sql2("DELETE FROM meta WHERE key = 'id_high'", "DELETE FROM meta WHERE key = 'id_high'");
}

/* Password hashes: only crypt strings go in, a hand-edited one does not come out. */
static void test_password(void) {
        struct ehr_store *s = open_store(0, 0);
        _cleanup_(ehr_user_freep) struct ehr_user *u = add_user(s, "pw1");
        char hash[EHR_PASSWORD_HASH_MAX + 1];
        uint64_t changed = 0;
        CHECK(ehr_store_password_get(s, u->id, hash, &changed) == -ENOENT);
        CHECK(ehr_store_password_put(s, u->id, "$y$j9T$salt$hash", 86400 * 3) == 0);
        CHECK(ehr_store_password_get(s, u->id, hash, &changed) == 0 && changed == 86400 * 3);
        CHECK_STREQ(hash, "$y$j9T$salt$hash");
        CHECK(ehr_store_password_put(s, u->id, "$y$j9T$other$hash", 86400 * 4) == 0); /* replaces */
        CHECK(ehr_store_password_get(s, u->id, hash, &changed) == 0 && changed == 86400 * 4);
        CHECK_STREQ(hash, "$y$j9T$other$hash");
        /* A ':' or a newline would forge shadow(5) fields or lines. */
        CHECK(ehr_store_password_put(s, u->id, "$y$a:0:0", 1) == -EINVAL);
        CHECK(ehr_store_password_put(s, u->id, "$y$a\nroot::1::::::", 1) == -EINVAL);
        CHECK(ehr_store_password_put(s, u->id, "!", 1) == -EINVAL);
        CHECK(ehr_store_password_put(s, u->id, "", 1) == -EINVAL);
        s = ehr_store_free(s);
        const char *edit = "UPDATE passwords SET hash = 'x:0:0:::' WHERE user_id = (SELECT id FROM users WHERE login = 'pw1')";
        sql2(edit, edit);
        s = open_store(0, 0);
        CHECK(ehr_store_password_get(s, u->id, hash, &changed) == -EUCLEAN);
        CHECK(ehr_store_user_del(s, "pw1") == 0); /* the row goes with its user */
        s = ehr_store_free(s);
}

/* Reset tokens: a take is one conditional delete (single use), void clears the
 * user's and every expired one, requests are counted per key. */
static void test_reset(void) {
        struct ehr_store *s = open_store(0, 0);
        _cleanup_(ehr_user_freep) struct ehr_user *u = add_user(s, "rs1");
        _cleanup_(ehr_user_freep) struct ehr_user *v = add_user(s, "rs2");
        uint8_t h1[EHR_HASH_BYTES] = { 1 }, h2[EHR_HASH_BYTES] = { 2 }, h3[EHR_HASH_BYTES] = { 3 };
        int64_t id = 0;
        uint64_t exp = 0;
        CHECK(ehr_store_reset_token_put(s, u->id, h1, 1000, 4600) == 0);
        CHECK(ehr_store_reset_token_put(s, u->id, h1, 1000, 4600) == -EEXIST);
        CHECK(ehr_store_reset_token_put(s, u->id, h2, 1000, 4600) == 0);
        CHECK(ehr_store_reset_token_put(s, v->id, h3, 1000, 1500) == 0);
        CHECK(ehr_store_reset_token_find(s, h1, &id, &exp) == 0 && id == u->id && exp == 4600);
        CHECK(ehr_store_reset_token_take(s, h1, &id, &exp) == 0 && id == u->id && exp == 4600);
        CHECK(ehr_store_reset_token_take(s, h1, &id, &exp) == -ENOENT); /* single use */
        CHECK(ehr_store_reset_token_find(s, h1, &id, &exp) == -ENOENT);
        CHECK(ehr_store_reset_token_void(s, u->id, 2000) == 0); /* u's h2, and v's expired h3 */
        CHECK(ehr_store_reset_token_take(s, h2, &id, &exp) == -ENOENT);
        CHECK(ehr_store_reset_token_take(s, h3, &id, &exp) == -ENOENT);
        for (int i = 0; i < 3; i++)
                CHECK(ehr_store_reset_request_add(s, h1, 1000 + (uint64_t) i, 0, 3) == 0);
        CHECK(ehr_store_reset_request_add(s, h1, 1003, 0, 3) == -ETOOMANYREFS);
        CHECK(ehr_store_reset_request_add(s, h2, 1003, 0, 3) == 0); /* another key */
        CHECK(ehr_store_reset_request_add(s, h1, 4700, 1001, 3) == 0); /* the first two are forgotten */
        s = ehr_store_free(s);
        sql2("UPDATE reset_tokens SET expires = -5", "UPDATE reset_tokens SET expires = -5");
        s = open_store(0, 0);
        CHECK(ehr_store_reset_token_put(s, v->id, h3, 1000, 1500) == 0);
        s = ehr_store_free(s);
        sql2("UPDATE reset_tokens SET expires = -5", "UPDATE reset_tokens SET expires = -5");
        s = open_store(0, 0);
        CHECK(ehr_store_reset_token_find(s, h3, &id, &exp) == -EOVERFLOW);
        CHECK(ehr_store_user_del(s, "rs2") == 0 && ehr_store_user_del(s, "rs1") == 0); /* rows go with the user */
        s = ehr_store_free(s);
}

static int count_use(const struct ehr_break_glass *u, void *userdata) {
        (*(int *) userdata)++;
        return 0;
}

/* Break-glass uses: the limits in the conditional insert, the review's contract. */
static void test_break_glass(void) {
        struct ehr_store *s = open_store(0, 0);
        struct ehr_break_glass use = { .login = "bg1", .host = "ws1", .service = "login", .source = "tty=tty1",
                                       .reason = "code blue, phone dead", .time_sec = 5000 };
        struct ehr_break_glass_limits lim = { .user_since_sec = 1000, .user_max = 1, .host_since_sec = 1000,
                                              .host_max = 2 };
        enum ehr_break_glass_limit which = EHR_BREAK_GLASS_LIMIT_HOST;
        int64_t id1 = 0, id2 = 0, id3 = 0;
        int n = 0;
        CHECK(ehr_store_break_glass_add(s, &use, &lim, &id1, &which) == 0 && id1 > 0);
        CHECK(ehr_store_break_glass_add(s, &use, &lim, &id2, &which) == -EUSERS);
        CHECK(which == EHR_BREAK_GLASS_LIMIT_USER);
        use.login = "bg2";
        CHECK(ehr_store_break_glass_add(s, &use, &lim, &id2, &which) == 0 && id2 > id1);
        use.login = "bg3";
        CHECK(ehr_store_break_glass_add(s, &use, &lim, &id3, &which) == -EUSERS);
        CHECK(which == EHR_BREAK_GLASS_LIMIT_HOST);
        lim.host_since_sec = 5001; /* the earlier uses fall out of the interval */
        CHECK(ehr_store_break_glass_add(s, &use, &lim, &id3, &which) == 0);
        use.reason = "bad\nline";
        CHECK(ehr_store_break_glass_add(s, &use, &lim, &id3, &which) == -EINVAL);

        CHECK(ehr_store_break_glass_review(s, id1, "bg1", "mine", 6000) == -EBADR);
        CHECK(ehr_store_break_glass_review(s, id1, "rev", "checked", 6000) == 0);
        CHECK(ehr_store_break_glass_review(s, id1, "rev", "again", 6001) == -EEXIST);
        CHECK(ehr_store_break_glass_review(s, 999999, "rev", "none", 6001) == -ENOENT);
        CHECK(ehr_store_break_glass_foreach(s, true, 9000, count_use, &n) == 0 && n == 2);
        n = 0;
        CHECK(ehr_store_break_glass_foreach(s, false, 9000, count_use, &n) == 0 && n == 3);
        n = 0;
        CHECK(ehr_store_break_glass_foreach(s, false, 4999, count_use, &n) == 0 && n == 0);

        /* The permission to review them, which the schema's rule now admits. */
        _cleanup_(ehr_user_freep) struct ehr_user *u = add_user(s, "bgrev");
        CHECK(ehr_store_perm_grant(s, u->id, EHR_PERM_BREAK_GLASS_REVIEW, 1000, "root") == 0);
        CHECK(ehr_store_perm_has(s, u->id, EHR_PERM_BREAK_GLASS_REVIEW) == 0);
        s = ehr_store_free(s);
}

/* Grace logins: a conditional count, never past max, nothing used at max = 0. */
static void test_grace(void) {
        struct ehr_store *s = open_store(0, 0);
        uint64_t used = 99;
        CHECK(ehr_store_grace_get(s, "gr1", &used) == 0 && used == 0);
        CHECK(ehr_store_grace_use(s, "gr1", 0, 1000, &used) == -EDQUOT);
        CHECK(ehr_store_grace_get(s, "gr1", &used) == 0 && used == 0);
        CHECK(ehr_store_grace_use(s, "gr1", 2, 1000, &used) == 0 && used == 1);
        CHECK(ehr_store_grace_use(s, "gr1", 2, 1001, &used) == 0 && used == 2);
        CHECK(ehr_store_grace_use(s, "gr1", 2, 1002, &used) == -EDQUOT);
        CHECK(ehr_store_grace_get(s, "gr1", &used) == 0 && used == 2);
        CHECK(ehr_store_grace_use(s, "gr1", 3, 1003, &used) == 0 && used == 3); /* grace_logins raised */
        CHECK(ehr_store_grace_get(s, "gr2", &used) == 0 && used == 0);
        s = ehr_store_free(s);
        sql2("UPDATE grace_logins SET used = -3 WHERE login = 'gr1'", "UPDATE grace_logins SET used = -3 WHERE login = 'gr1'");
        s = open_store(0, 0);
        CHECK(ehr_store_grace_get(s, "gr1", &used) == -EOVERFLOW);
        CHECK(strstr(ehr_store_bad_value(s), "grace_logins.used") != NULL);
        s = ehr_store_free(s);
}

int main(int argc, char **argv) {
        CHECK(sodium_init() >= 0);
        umask(022); /* the store must be private whatever the umask */
        CHECK(mkdtemp(dir) != NULL);
        snprintf(sdir, sizeof sdir, "%s/store", dir);
        snprintf(dbpath, sizeof dbpath, "%s/%s", sdir, EHR_STORE_DB_NAME);
        snprintf(keypath, sizeof keypath, "%s/%s", sdir, EHR_STORE_KEY_NAME);

        pg = getenv("EHR2FA_TEST_PG");
        pgpass = getenv("EHR2FA_TEST_PG_PASSWORD_FILE");
        if (pg && !pgpass) {
                fprintf(stderr, "EHR2FA_TEST_PG without EHR2FA_TEST_PG_PASSWORD_FILE: run it through tests/pg.py\n");
                return 1;
        }
        fprintf(stderr, "test-store: backend %s\n", pg ? "postgresql" : "sqlite");
        test_permissions();
        if (argc > 1 && !pg)
                test_migration(argv[1]);
        test_sealed_copy();
        test_locators();
        if (pg)
                test_pg_locators();
        test_lockout();
        if (pg)
                test_pg_hosts_at_once();
        test_recovery();
        if (!pg)
                test_wal_kept();
        test_audit_chain();
        test_id_high();
        test_password();
        test_reset();
        test_break_glass();
        test_grace();
        /* This process linked SQLite before any store was opened: the store's
         * loader leaves the host's settings alone (memory statistics stay on). */
        if (!pg)
                CHECK(sqlite3_memory_highwater(0) > 0);

        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        CHECK(system(cmd) == 0);
        return test_result();
}
