/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: hostile store contents. The store is root's, but a restored
 * backup, a disk error, a bug in another version or an attacker who got write
 * access once can leave anything in it, and the module reads it as root inside
 * sshd. Whatever the store holds, a login's work on it must end in an answer (0
 * or a negative errno), never a crash, a read outside a buffer (ASan), a leak,
 * or a transaction left open.
 *
 * Once per process a template store is made with the real code: users alice
 * (staff: TOTP, recovery codes, a trusted device, Support and Unlock PINs), bob
 * (provider: TOTP, some failures) and carol (not enrolled), and some audit rows.
 * Each input is a list of edits, applied with plain SQL to a fresh copy of it:
 *
 *   0 T C V     UPDATE table T SET column C = value V (every row)
 *   1 T R       DELETE row R of table T
 *   2 T V...    INSERT a row into table T, one value per column
 *   3 T K       one of a few schema edits, K (drop a table, a trigger, an index;
 *               change user_version ...); T is read and not used
 *
 * T and C pick from the template's own tables and columns, so new ones are covered
 * without a change here. A value V is a type byte and its bytes: NULL, an integer
 * (a telling one, or any 8 bytes), a real, a text or a blob (a length byte first).
 * Then the store is opened as the module opens it, and everything a login, the
 * help desk and `audit verify` do runs on it for each user: the lock check,
 * trusted-device check, the right TOTP code, a wrong one, a recovery code, a
 * text-message request (to a loopback port that refuses it), the Support
 * PIN, the Unlock PIN, the user list, the audit chain. Then the same store goes
 * through ehr2fad's request handler (begin, verify, trust, audit for each user),
 * whose every reply must carry a valid r.
 *
 * FUZZ_DEBUG=1 in the environment prints each edit and each verdict (to see what
 * a crashing input does).
 *
 * Built two ways: with -fsanitize=fuzzer (meson -Dfuzzers=true, clang), or with
 * fuzz-main.c, which feeds the seed corpus to the same entry point (suite
 * fuzz-corpus). */

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sqlite3.h>

#include "audit.h"
#include "authd.h"
#include "config.h"
#include "helpdesk.h"
#include "policy.h"
#include "recovery.h"
#include "smstoken.h"
#include "store.h"
#include "totp.h"
#include "trust.h"
#include "wire.h"

#define NOW 1800000000ULL
#define TABLES_MAX 32
#define COLUMNS_MAX 24
#define EDITS_MAX 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t seed[20] = "12345678901234567890"; /* RFC 4226's test key */
static const struct ehr_otp_params params = { .algorithm = EHR_OTP_SHA1, .digits = 6, .period = 30 };

static struct {
        char dir[64], tmpl[96], work[96], token[96]; /* dir: under /dev/shm or /tmp */
        char url[64];
        struct {
                char name[64];
                unsigned ncol;
                char col[COLUMNS_MAX][64];
        } table[TABLES_MAX];
        unsigned ntables;
        char recovery[EHR_RECOVERY_DISPLAY_SIZE];
        char code[16];
} g;

static const char *const files[] = { EHR_STORE_DB_NAME, EHR_STORE_DB_NAME "-wal", EHR_STORE_KEY_NAME };

static void die(const char *what, const char *detail) {
        fprintf(stderr, "fuzz-store: %s: %s\n", what, detail ? detail : "");
        abort();
}

static void copy_file(const char *from, const char *to) {
        char buf[65536];
        int in = open(from, O_RDONLY | O_CLOEXEC);
        if (in < 0) {
                if (errno == ENOENT)
                        return; /* no WAL: fine */
                die("open", from);
        }
        int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (out < 0)
                die("create", to);
        ssize_t n;
        while ((n = read(in, buf, sizeof buf)) > 0)
                if (write(out, buf, (size_t) n) != n)
                        die("write", to);
        close(in);
        close(out);
}

static void config(struct ehr_config *c) {
        ehr_config_init(c);
        /* Text messages to a loopback port where nothing listens (see closed_port()):
         * the request is made, recorded and rate limited as for real, and the send
         * fails at once. */
        if (ehr_config_set(c, "trust_days", "30") < 0 || ehr_config_set(c, "deny", "5") < 0 ||
            ehr_config_set(c, "sms_mode", "generic") < 0 || ehr_config_set(c, "sms_url", g.url) < 0 ||
            ehr_config_set(c, "sms_connect_timeout_ms", "1000") < 0 ||
            ehr_config_set(c, "sms_timeout_ms", "1000") < 0 || ehr_config_set(c, "sms_token_file", g.token) < 0)
                die("config", NULL);
}

static void must(int r, const char *what) {
        if (r < 0)
                die(what, strerror(-r));
}

static void remove_dir(const char *dir) {
        char path[160];
        static const char *const names[] = { EHR_STORE_DB_NAME, EHR_STORE_DB_NAME "-wal", EHR_STORE_DB_NAME "-shm",
                                             EHR_STORE_KEY_NAME };
        for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++) {
                snprintf(path, sizeof path, "%s/%s", dir, names[i]);
                (void) unlink(path);
        }
        (void) rmdir(dir);
}

static void cleanup(void) {
        remove_dir(g.work);
        remove_dir(g.tmpl);
        (void) unlink(g.token);
        (void) rmdir(g.dir);
}

/* A loopback port that refuses connections for as long as we run: bound, never
 * listened on, so no other process can listen there either. */
static void closed_port(void) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof a;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *) &a, sizeof a) < 0 || getsockname(fd, (struct sockaddr *) &a, &len) < 0)
                die("closed port", strerror(errno));
        snprintf(g.url, sizeof g.url, "http://127.0.0.1:%u/", (unsigned) ntohs(a.sin_port));
        /* fd stays open until exit */
}

/* The template store, made with the real code, and its tables and columns. */
static void setup(void) {
        char err[512];
        struct ehr_store *s = NULL;
        struct ehr_config c;
        /* ehr2fad sizes its WAL (4.5 MB of zeros) at every open: in memory when we can. */
        struct stat shm;
        const char *base = stat("/dev/shm", &shm) == 0 && S_ISDIR(shm.st_mode) && access("/dev/shm", W_OK) == 0
                                   ? "/dev/shm"
                                   : "/tmp";
        snprintf(g.dir, sizeof g.dir, "%s/ehr2fa-fuzz-store-XXXXXX", base);
        if (!mkdtemp(g.dir))
                die("mkdtemp", strerror(errno));
        atexit(cleanup);
        closed_port();
        snprintf(g.token, sizeof g.token, "%s/sms-token", g.dir);
        int fd = open(g.token, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, "fuzz-token\n", 11) != 11 || close(fd) < 0)
                die("token file", strerror(errno));
        config(&c);
        snprintf(g.tmpl, sizeof g.tmpl, "%s/t", g.dir);
        snprintf(g.work, sizeof g.work, "%s/w", g.dir);
        if (ehr_store_open(g.tmpl, EHR_STORE_CREATE | EHR_STORE_MIGRATE, 1000, &s, err, sizeof err) < 0)
                die("template", err);
        if (mkdir(g.work, 0700) < 0)
                die("mkdir", g.work);

        static const char *const logins[] = { "alice", "bob", "carol" };
        static const char *const roles[] = { "staff", "provider", "staff" };
        for (unsigned i = 0; i < 3; i++) {
                struct ehr_user nu = { .login = (char *) logins[i], .name = (char *) "Fuzz", .email = (char *) "f@x",
                                       .phone = (char *) "+15551234566", .role = (char *) roles[i], .uid = -1 };
                must(ehr_store_user_add(s, &nu, NOW - 1000, NULL), "user add");
        }
        struct ehr_user *alice = NULL, *bob = NULL;
        must(ehr_store_user_get(s, "alice", &alice), "alice");
        must(ehr_store_user_get(s, "bob", &bob), "bob");
        must(ehr_store_totp_put(s, alice, seed, sizeof seed, &params, NOW - 900), "totp alice");
        must(ehr_store_totp_put(s, bob, seed, sizeof seed, &params, NOW - 900), "totp bob");
        char codes[EHR_RECOVERY_CODES][EHR_RECOVERY_DISPLAY_SIZE];
        uint8_t hashes[EHR_RECOVERY_CODES][EHR_HASH_BYTES];
        ehr_recovery_generate(ehr_store_keys(s), alice->id, EHR_RECOVERY_CODES, codes, hashes);
        must(ehr_store_recovery_replace(s, alice->id, (const uint8_t(*)[EHR_HASH_BYTES]) hashes, EHR_RECOVERY_CODES),
             "recovery");
        memcpy(g.recovery, codes[1], sizeof g.recovery);
        struct ehr_failures f = { .count = 2, .first_sec = NOW - 60, .last_sec = NOW - 30, .consecutive = 2 };
        must(ehr_store_failures_put(s, bob->id, &f), "failures");
        struct ehr_device_id dev = { .rhost = "192.0.2.7", .host_id = "fuzzhost", .tty = "ssh" };
        must(ehr_trust_add(s, &c, alice, &dev, NOW - 700, "fuzz"), "trust");
        must(ehr_support_pin_new(s, alice, NOW - 600, "helpdesk", "fuzz", NULL), "support pin");
        must(ehr_unlock_pin_set(s, alice, "2468", NOW - 500, "alice", "fuzz"), "unlock pin");
        must(ehr_audit_append(s, NOW - 400, "bob", "bob", EHR_AUDIT_AUTH, "second factor failed", "wrong", "fuzz"),
             "audit");
        ehr_user_free(alice);
        ehr_user_free(bob);
        s = ehr_store_free(s);
        ehr_config_done(&c);
        if (ehr_hotp(seed, sizeof seed, params.algorithm, ehr_totp_step(NOW, params.period), params.digits, g.code,
                     sizeof g.code) < 0)
                die("hotp", NULL);

        char path[160];
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        snprintf(path, sizeof path, "%s/%s", g.tmpl, EHR_STORE_DB_NAME);
        if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(db, "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name", -1, &st,
                               NULL) != SQLITE_OK)
                die("schema", sqlite3_errmsg(db));
        while (sqlite3_step(st) == SQLITE_ROW && g.ntables < TABLES_MAX)
                snprintf(g.table[g.ntables++].name, sizeof g.table[0].name, "%s", sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        for (unsigned t = 0; t < g.ntables; t++) {
                if (sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info(?1)", -1, &st, NULL) != SQLITE_OK)
                        die("columns", sqlite3_errmsg(db));
                sqlite3_bind_text(st, 1, g.table[t].name, -1, SQLITE_STATIC);
                while (sqlite3_step(st) == SQLITE_ROW && g.table[t].ncol < COLUMNS_MAX)
                        snprintf(g.table[t].col[g.table[t].ncol++], sizeof g.table[0].col[0], "%s",
                                 sqlite3_column_text(st, 0));
                sqlite3_finalize(st);
        }
        sqlite3_close(db);
        if (g.ntables == 0)
                die("schema", "no tables");
}

struct input {
        const uint8_t *p;
        size_t left;
};

static uint8_t byte(struct input *in) {
        if (in->left == 0)
                return 0;
        in->left--;
        return *in->p++;
}

/* Bind the next value of the input to parameter i. */
static void bind_value(struct input *in, sqlite3_stmt *st, int i) {
        static const int64_t telling[] = { 0, 1, -1, 2, 6, 7, 8, 9, 30, 99, 4096, INT32_MAX, (int64_t) UINT32_MAX,
                                           INT64_MAX, INT64_MIN, (int64_t) NOW, (int64_t) NOW + 30 };
        uint8_t type = byte(in) % 6, n;
        int64_t v = 0;
        switch (type) {
        case 0:
                sqlite3_bind_null(st, i);
                break;
        case 1:
                sqlite3_bind_int64(st, i, telling[byte(in) % (sizeof telling / sizeof telling[0])]);
                break;
        case 2:
                for (unsigned k = 0; k < 8; k++)
                        v = (int64_t) ((uint64_t) v << 8 | byte(in));
                sqlite3_bind_int64(st, i, v);
                break;
        case 3:
                sqlite3_bind_double(st, i, (double) (int8_t) byte(in) / 3.0);
                break;
        case 4:
        case 5:
                n = byte(in);
                if (n > in->left)
                        n = (uint8_t) in->left;
                if (type == 4)
                        sqlite3_bind_text(st, i, (const char *) in->p, n, SQLITE_TRANSIENT);
                else
                        sqlite3_bind_blob(st, i, in->p, n, SQLITE_TRANSIENT);
                in->p += n;
                in->left -= n;
                break;
        }
}

static void edit(sqlite3 *db, struct input *in) {
        static const char *const schema_edits[] = {
                "DROP TABLE users",
                "DROP TABLE totp",
                "DROP TABLE audit",
                "DROP TABLE meta",
                "DROP TABLE failures",
                "DROP TRIGGER audit_no_update",
                "DROP TRIGGER audit_no_delete",
                "DROP INDEX audit_time",
                "PRAGMA user_version = 0",
                "PRAGMA user_version = 3",
                "PRAGMA user_version = 99",
                "PRAGMA user_version = -1",
                "ALTER TABLE users ADD COLUMN extra TEXT DEFAULT 'x'",
                "ALTER TABLE totp RENAME TO totp_old",
                "CREATE TABLE totp_new AS SELECT * FROM totp",
                "INSERT INTO users SELECT * FROM users",
                "UPDATE audit SET seq = seq + 1",
                "DELETE FROM audit WHERE rowid = (SELECT max(rowid) FROM audit)",
        };
        char sql[512];
        uint8_t op = byte(in) % 4;
        unsigned t = byte(in) % g.ntables;
        sqlite3_stmt *st = NULL;
        switch (op) {
        case 0: {
                unsigned c = byte(in) % g.table[t].ncol;
                snprintf(sql, sizeof sql, "UPDATE \"%s\" SET \"%s\" = ?1", g.table[t].name, g.table[t].col[c]);
                break;
        }
        case 1:
                snprintf(sql, sizeof sql, "DELETE FROM \"%s\" WHERE rowid = %u", g.table[t].name, byte(in) % 8U);
                break;
        case 2: {
                size_t len = (size_t) snprintf(sql, sizeof sql, "INSERT INTO \"%s\" VALUES (", g.table[t].name);
                for (unsigned c = 0; c < g.table[t].ncol && len < sizeof sql; c++)
                        len += (size_t) snprintf(sql + len, sizeof sql - len, "%s?%u", c ? ", " : "", c + 1);
                if (len < sizeof sql)
                        snprintf(sql + len, sizeof sql - len, ")");
                break;
        }
        default: /* T is not used: the next byte picks the edit */
                snprintf(sql, sizeof sql, "%s",
                         schema_edits[byte(in) % (sizeof schema_edits / sizeof schema_edits[0])]);
                break;
        }
        /* The triggers that guard the audit log refuse some edits: that is their job, not a finding. */
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
                return;
        for (int i = 1; i <= sqlite3_bind_parameter_count(st); i++)
                bind_value(in, st, i);
        int rc = sqlite3_step(st);
        if (getenv("FUZZ_DEBUG"))
                fprintf(stderr, "edit: %s -> %d\n", sql, rc);
        sqlite3_finalize(st);
}

static void check(int r, struct ehr_store *s, const char *what) {
        if (r > 0 && strcmp(what, "user list") != 0)
                die(what, "returned a positive value");
        if (ehr_store_in_transaction(s))
                die(what, "left a transaction open");
}

static int count_user(const struct ehr_user *u, void *userdata) {
        (void) u;
        (*(unsigned *) userdata)++;
        return 0;
}

/* pristine: no edits were made, so alice's answers are known; checking them shows
 * that the template and these calls reach the paths they are meant to. */
static void login(struct ehr_store *s, const struct ehr_config *c, const char *name, bool pristine) {
        struct ehr_user *u = NULL;
        bool known = pristine && strcmp(name, "alice") == 0;
        int r = ehr_store_user_get(s, name, &u);
        check(r, s, "user get");
        if (known && r != 0)
                die("pristine store", "alice not found");
        if (r < 0)
                return;
        (void) ehr_user_enrolled(u);
        uint64_t until = 0;
        check(ehr_policy_check_lock(s, u, NOW, &until), s, "lock");
        struct ehr_device_id dev = { .rhost = "192.0.2.7", .host_id = "fuzzhost", .tty = "ssh" };
        r = ehr_trust_check(s, c, u, &dev, NOW, "fuzz");
        check(r, s, "trust");
        if (known && r != 0)
                die("pristine store", "alice's device is not trusted");
        static const char *const wrong = "000000";
        const char *answers[] = { wrong, g.code, g.recovery, "" };
        const int expect[] = { -EBADRQC, 0, 0, -EBADRQC };
        for (unsigned i = 0; i < sizeof answers / sizeof answers[0]; i++) {
                struct ehr_verdict v;
                r = ehr_policy_verify(s, c, u, answers[i], NOW, "fuzz", &v);
                if (getenv("FUZZ_DEBUG"))
                        fprintf(stderr, "verify %s %s -> %d\n", name, answers[i], r);
                check(r, s, "verify");
                if (known && r != expect[i])
                        die("pristine store: unexpected verdict for answer", answers[i]);
        }
        struct ehr_sms_request req;
        r = ehr_sms_token_request(s, c, u, NOW, "fuzz", &req);
        check(r, s, "sms request");
        if (known && r != -ECOMM)
                die("pristine store: a text to a closed port did not fail as such", strerror(-r));
        check(ehr_support_pin_validate(s, u, "1234", NOW, "helpdesk", "fuzz"), s, "support pin");
        r = ehr_unlock_pin_verify(s, c, u, "2468", NOW, "fuzz", &until);
        check(r, s, "unlock pin");
        if (known && r != 0)
                die("pristine store", "alice's Unlock PIN is refused");
        ehr_user_free(u);
}

/* One request to the daemon's handler, as the module would send it. Its reply
 * must always say r, and r must be 0 or a negative errno. */
static void daemon_request(struct ehr_authd *d, const struct ehr_config *c, const char *op, const char *name,
                           const char *key, const char *value, bool pristine) {
        struct ehr_wire *req = ehr_wire_new(), *reply = ehr_wire_new(), *back = ehr_wire_new();
        char summary[160], notice[1024];
        int64_t r;
        if (!req || !reply || !back || ehr_wire_addu(req, "v", EHR_WIRE_VERSION) < 0 || ehr_wire_add(req, "op", op) < 0 ||
            ehr_wire_add(req, "user", name) < 0 || ehr_wire_addu(req, "now", NOW) < 0 ||
            ehr_wire_add(req, "source", "service=fuzz") < 0 || ehr_wire_add_config(req, c) < 0 ||
            ehr_wire_add(req, "cfg.store_dir", g.work) < 0 || ehr_wire_add(req, "trust", "1") < 0 ||
            ehr_wire_add(req, "dev.rhost", "192.0.2.7") < 0 || ehr_wire_add(req, "dev.host", "fuzzhost") < 0 ||
            ehr_wire_add(req, "details", "fuzz") < 0 ||
            (key && ehr_wire_add(req, key, value) < 0))
                die("daemon request", op);
        if (ehr_wire_parse(req) < 0) /* as ehr2fad reads a datagram */
                die("daemon request does not parse", op);
        struct ehr_authd_conn *conn = ehr_authd_conn_new();
        if (!conn)
                die("daemon connection", op);
        (void) ehr_authd_handle(d, conn, req, reply, summary, sizeof summary, notice, sizeof notice);
        ehr_authd_conn_free(conn);
        memcpy(back->data, reply->data, reply->len);
        back->len = reply->len;
        if (ehr_wire_parse(back) < 0 || ehr_wire_geti(back, "r", &r) < 0 || r > 0)
                die("daemon reply without a valid r", summary);
        if (pristine && strcmp(name, "alice") == 0 && strcmp(op, "begin") == 0 && r != 0)
                die("pristine store: ehr2fad does not find alice", summary);
        if (getenv("FUZZ_DEBUG"))
                fprintf(stderr, "ehr2fad: %s\n", summary);
        ehr_wire_free(req);
        ehr_wire_free(reply);
        ehr_wire_free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char from[160], to[160], err[512] = "";
        if (g.ntables == 0)
                setup();
        for (unsigned i = 0; i < sizeof files / sizeof files[0]; i++) {
                snprintf(from, sizeof from, "%s/%s", g.tmpl, files[i]);
                snprintf(to, sizeof to, "%s/%s", g.work, files[i]);
                (void) unlink(to);
                copy_file(from, to);
        }
        snprintf(to, sizeof to, "%s/%s-shm", g.work, EHR_STORE_DB_NAME);
        (void) unlink(to);

        /* The edits, as anyone with write access to the file could make them. */
        sqlite3 *db = NULL;
        snprintf(to, sizeof to, "%s/%s", g.work, EHR_STORE_DB_NAME);
        if (sqlite3_open_v2(to, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
                die("open copy", sqlite3_errmsg(db));
        struct input in = { data, size };
        for (unsigned n = 0; in.left > 0 && n < EDITS_MAX; n++)
                edit(db, &in);
        sqlite3_close(db);

        /* Then what the module, the help desk and audit verify do with it. */
        struct ehr_store *s = NULL;
        struct ehr_config c;
        config(&c);
        int r = ehr_store_open(g.work, 0, 1000, &s, err, sizeof err);
        if (r < 0) {
                if (err[0] == 0)
                        die("open refused without a message", strerror(-r));
        } else {
                static const char *const names[] = { "alice", "bob", "carol", "nobody" };
                for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
                        login(s, &c, names[i], size == 0);
                unsigned users = 0;
                check(ehr_store_user_foreach(s, count_user, &users), s, "user list");
                uint64_t rows = 0, bad = 0;
                check(ehr_audit_verify(s, &rows, &bad), s, "audit verify");
                ehr_store_free(s);
        }

        /* The same store through ehr2fad's handler, which keeps it open between
         * requests and must end each one with nothing held. */
        struct ehr_authd *d = NULL;
        struct ehr_config dc;
        ehr_config_init(&dc);
        dc.store_dir = g.work;
        dc.store_timeout_ms = 1000;
        if (ehr_authd_new(&dc, &d) < 0)
                die("authd", NULL);
        static const char *const names[] = { "alice", "bob", "carol", "nobody" };
        for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++) {
                daemon_request(d, &c, "begin", names[i], NULL, NULL, size == 0);
                daemon_request(d, &c, "verify", names[i], "answer", "000000", size == 0);
                daemon_request(d, &c, "verify", names[i], "answer", g.code, size == 0);
                daemon_request(d, &c, "verify", names[i], "answer", g.recovery, size == 0);
                daemon_request(d, &c, "trust", names[i], NULL, NULL, size == 0);
                daemon_request(d, &c, "audit", names[i], "action", "second factor skipped", size == 0);
        }
        ehr_authd_free(d);
        ehr_config_done(&c);
        return 0;
}
