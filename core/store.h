/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The store: the rows (users, enrollments, counters, the audit chain) and the
 * master key that seals their secrets. core/store.c is the backend-neutral part
 * (the directory, the key, sealing, validation); the rows are a backend's, behind
 * the table of operations in store-backend.h, chosen by the store's locator (see
 * ehr_store_open()). The SQLite one, in core/store/sqlite/, is the only place
 * with SQL; how it keeps its files is said there (db.c, vfs.c). Nothing in this
 * header is shaped by one backend. All calls return 0 (or a count) or a
 * negative errno; none logs. A store handle is not thread-safe: one per
 * thread, and reopened after fork. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "field.h" /* ehr_login_valid() */
#include "totp.h"

#define EHR_STORE_DB_NAME "ehr2fa.db"
#define EHR_STORE_KEY_NAME "master.key"
#define EHR_STORE_SCHEMA_VERSION 8
#define EHR_LOGIN_MAX 64U

struct ehr_store;

enum ehr_store_flags {
        EHR_STORE_CREATE = 1U << 0,  /* create the directory, key and database if missing */
        EHR_STORE_MIGRATE = 1U << 1, /* bring an older schema up to date (ehr2fa-admin only) */
};

/* Where the store is: store_dir, store and store_password_file of ehr2fa.conf.
 * Without a server the rows are SQLite's, in dir (a directory, or sqlite:DIR);
 * with one (postgresql://..., postgres://... or a libpq connection string
 * "host=... dbname=..."), they are that PostgreSQL database's, and dir holds
 * only the master key, which every host keeps a copy of. The server's password
 * is read from password_file (root's, not readable by group or others), never
 * from the locator, argv or the environment. */
struct ehr_store_where {
        const char *dir;
        const char *server;
        const char *password_file;
};

/* Open the store. The directory, database and key (and the password file) must
 * be owned by the euid and not accessible to group or others; otherwise
 * returns -EPERM/-ENOTUNIQ with a message naming the file and the fix in err.
 * A message never repeats a server locator's secrets. Returns 0, -ENOENT (no
 * store: run init), -EPROTO (schema from another version), -EBUSY, -ENOMEDIUM
 * (a server that cannot be reached within busy_timeout_ms), -EINVAL (a locator
 * no backend takes), -ENOPKG, or -errno. */
int ehr_store_open_at(const struct ehr_store_where *w, unsigned flags, uint64_t busy_timeout_ms,
                      struct ehr_store **ret, char *err, size_t errlen);
/* The store that a config names (store_dir, store, store_password_file), with
 * its store_timeout_ms. */
struct ehr_config;
int ehr_store_open_config(const struct ehr_config *c, unsigned flags, struct ehr_store **ret, char *err,
                          size_t errlen);
/* Moving a site: copy every row of from (users with their ids, enrollments and
 * PINs sealed as they are, recovery codes left, failures, trusted devices,
 * permissions, groups, support requests, the uid mark, the audit chain's rows
 * and head) into to, which must be empty and use the same master key, in one
 * transaction of to. Not copied: pending text-message tokens and send times
 * (short-lived), when each permission was granted and by whom. Returns 0 and
 * the counts, -ENOTEMPTY (to has users or audit rows), -EINVAL (another key)
 * or the first row's -errno (nothing is written then); err says which. */
struct ehr_store_copied {
        uint64_t users, groups, devices, audit_rows;
};
int ehr_store_copy(struct ehr_store *from, struct ehr_store *to, struct ehr_store_copied *ret, char *err,
                   size_t errlen);
/* The same for a store_dir alone (SQLite). */
int ehr_store_open(const char *locator, unsigned flags, uint64_t busy_timeout_ms, struct ehr_store **ret, char *err,
                   size_t errlen);
struct ehr_store *ehr_store_free(struct ehr_store *s);
static inline void ehr_store_freep(struct ehr_store **s) {
        *s = ehr_store_free(*s);
}

/* Every integer read from the store is range-checked (counts, steps, times,
 * digits, periods, ids): a value the code never writes, such as a failure count
 * of -100 set by hand, is hostile. The read then fails with -EOVERFLOW, nothing
 * is wrapped or clamped, and ehr_store_bad_value() names the value for the
 * caller's audit row and message ("failures.count = -100 (expected 0..4294967295)"). */
#define EHR_STORE_BAD_VALUE_MAX 160U
#define EHR_STORE_TIME_MAX 253402300799ULL /* 9999-12-31 23:59:59 UTC */
#define EHR_STORE_COUNT_MAX UINT32_MAX     /* more than any lock lets through */
const char *ehr_store_bad_value(const struct ehr_store *s);

const struct ehr_keys *ehr_store_keys(const struct ehr_store *s);
/* The store as messages name it (the SQLite backend: its database file). */
const char *ehr_store_location(const struct ehr_store *s);
/* Is the store this handle has open still the one its locator names, and still
 * one an open would accept? For a handle kept open (ehr2fad): a store replaced
 * under it (restored from a backup, init again) or whose mode changed is to be
 * reopened, so the open can refuse it as a login would. Returns 0 (the same), 1
 * (replaced or changed: reopen) or -errno. */
int ehr_store_changed(struct ehr_store *s);

/* BEGIN IMMEDIATE: takes the write lock now, so a read-modify-write cannot race
 * another login on the same user. */
int ehr_store_begin(struct ehr_store *s);
int ehr_store_commit(struct ehr_store *s);
void ehr_store_rollback(struct ehr_store *s);

/* A commit survives the crash of a process at once, but not necessarily a power
 * cut: ehr_store_sync() makes what was committed durable. Sync after a commit
 * that must never be lost, such as the use of a code; a failure count need not
 * cost a sync. Returns 0 or -EROFS/-EIO. */
int ehr_store_sync(struct ehr_store *s);
/* For a handle kept open across many logins (ehr2fad): prepare, once, what
 * makes its later commits and syncs cheap (the SQLite backend writes its WAL
 * out to a fixed size, see db.c). Failing costs speed only: the store works as
 * before. Returns 0 or -errno. */
int ehr_store_reserve(struct ehr_store *s);
/* End whatever a long-lived handle still holds after an operation (a read left
 * open keeps an old view of the store; an open transaction, its lock). Returns
 * how many such things there were. */
int ehr_store_release(struct ehr_store *s);
/* Nothing waits on a long-lived handle (ehr2fad between logins): do now the upkeep
 * that would otherwise fall inside a login (the SQLite backend checkpoints its WAL
 * here, see db.c). Returns 1 when it did some, 0 when there was none, or -errno;
 * failing costs nothing but the work left for later. */
int ehr_store_idle(struct ehr_store *s);

bool ehr_store_in_transaction(struct ehr_store *s);

/* End the open transaction: commit when r >= 0, else roll back. Returns the
 * commit's result, or r. */
int ehr_store_end(struct ehr_store *s, int r);

/* Users */
struct ehr_user {
        int64_t id;
        char *login, *name, *email, *phone, *role;
        uint64_t created_sec;
        bool totp_enrolled;
        unsigned recovery_left;
        char *provider;   /* login of the primary provider (staff), "" if none */
        char *sms_2fa_id; /* staff 2FA set up by a manager (SMS at once): its id, "" if none */
        /* The system account (served by libnss_ehr): uid < 0 when the user has none. */
        int64_t uid, gid;
        char *home, *shell;
        bool locked;
};

/* Has the user a second factor at all: an app, or SMS 2FA set up for them? */
static inline bool ehr_user_enrolled(const struct ehr_user *u) {
        return u->totp_enrolled || (u->sms_2fa_id && *u->sms_2fa_id);
}
struct ehr_user *ehr_user_free(struct ehr_user *u);
static inline void ehr_user_freep(struct ehr_user **u) {
        *u = ehr_user_free(*u);
}

/* Returns 0 and the new id, -EEXIST, or -EINVAL (bad login or role). */
int ehr_store_user_add(struct ehr_store *s, const struct ehr_user *u, uint64_t now_sec, int64_t *ret_id);
int ehr_store_user_get(struct ehr_store *s, const char *login, struct ehr_user **ret);
int ehr_store_user_del(struct ehr_store *s, const char *login);
/* Calls cb for each user ordered by login; a negative return from cb stops and is returned. */
int ehr_store_user_foreach(struct ehr_store *s, int (*cb)(const struct ehr_user *u, void *userdata), void *userdata);

int ehr_store_user_set_provider(struct ehr_store *s, int64_t user_id, int64_t provider_id);
/* Set (id) or clear (NULL) the SMS 2FA set up by a manager. */
int ehr_store_user_set_sms_2fa(struct ehr_store *s, int64_t user_id, const char *id);

/* System accounts and groups (published to NSS as a snapshot). */
int ehr_store_user_set_account(struct ehr_store *s, int64_t user_id, int64_t uid, int64_t gid, const char *home,
                               const char *shell);
int ehr_store_user_set_locked(struct ehr_store *s, int64_t user_id, bool locked);
/* Is this uid (or gid, for groups) taken in the store? Returns 1, 0 or -errno. */
int ehr_store_id_used(struct ehr_store *s, int64_t id);
/* The high-water mark of uids and gids: the highest id any user or group of the
 * store has ever had, deleted ones included, or -1. An id at or below it is never
 * handed out again (a deleted user's files keep their owner). Returns 0 or -errno. */
int ehr_store_id_high(struct ehr_store *s, int64_t *ret_high);
/* Raise the mark to id (never lowers it). Inside the transaction that uses id. */
int ehr_store_id_high_raise(struct ehr_store *s, int64_t id);
/* Passwords of managed accounts (core/password.h makes and checks them): a
 * crypt(3) string from libxcrypt only, never the password, one that
 * ehr_password_hash_valid() (field.h) accepts: it goes into a shadow(5) line,
 * where ':' or a newline would forge fields or lines. put: -EINVAL for anything else; inserts
 * or replaces the user's one row. get: -ENOENT (none set yet), -EUCLEAN (the
 * stored string is not one: damaged or edited by hand). */
int ehr_store_password_put(struct ehr_store *s, int64_t user_id, const char *hash, uint64_t now_sec);
int ehr_store_password_get(struct ehr_store *s, int64_t user_id, char ret_hash[EHR_PASSWORD_HASH_MAX + 1],
                           uint64_t *ret_changed_sec);

struct ehr_group {
        int64_t id, gid;
        const char *name;
};
int ehr_store_group_add(struct ehr_store *s, const char *name, int64_t gid);
/* Returns 0, -ENOENT. */
int ehr_store_group_del(struct ehr_store *s, const char *name);
int ehr_store_group_get(struct ehr_store *s, const char *name, int64_t *ret_id, int64_t *ret_gid);
int ehr_store_group_member(struct ehr_store *s, int64_t group_id, int64_t user_id, bool add);
int ehr_store_group_foreach(struct ehr_store *s, int (*cb)(const struct ehr_group *g, void *userdata), void *userdata);
int ehr_store_group_members(struct ehr_store *s, int64_t group_id, int (*cb)(const char *login, void *userdata),
                            void *userdata);

/* Permissions (the seed's permission set): authority comes from here. */
#define EHR_PERM_MANAGE_ACCOUNTS "manage_accounts"
#define EHR_PERM_HELP_DESK "help_desk"
#define EHR_PERM_AUDIT_EXPORT "audit_export"
#define EHR_PERM_BREAK_GLASS_REVIEW "break_glass_review"
bool ehr_perm_valid(const char *perm);
int ehr_store_perm_grant(struct ehr_store *s, int64_t user_id, const char *perm, uint64_t now_sec, const char *by);
/* Returns the number revoked (0 or 1). */
int ehr_store_perm_revoke(struct ehr_store *s, int64_t user_id, const char *perm);
/* Returns 0 if the user holds perm, -EPERM if not. */
int ehr_store_perm_has(struct ehr_store *s, int64_t user_id, const char *perm);
int ehr_store_perm_foreach(struct ehr_store *s, int64_t user_id, int (*cb)(const char *perm, void *userdata),
                           void *userdata);

/* Support PIN: sealed (it is shown again), bound to its user. */
#define EHR_PIN_DIGITS 4U
struct ehr_pin_state {
        uint64_t failures;
        uint64_t locked_until_sec; /* UINT64_MAX: until cleared */
};
int ehr_store_support_pin_put(struct ehr_store *s, const struct ehr_user *u, const char pin[EHR_PIN_DIGITS + 1],
                              uint64_t now_sec);
/* Returns 0, -ENOENT (none yet) or -EBADMSG (does not open for this user). */
int ehr_store_support_pin_get(struct ehr_store *s, const struct ehr_user *u, char ret_pin[EHR_PIN_DIGITS + 1],
                              struct ehr_pin_state *ret_state);
int ehr_store_support_pin_set_state(struct ehr_store *s, int64_t user_id, const struct ehr_pin_state *st);

/* Unlock PIN: only a keyed hash. */
int ehr_store_unlock_pin_put(struct ehr_store *s, int64_t user_id, const uint8_t hash[EHR_HASH_BYTES],
                             uint64_t now_sec);
int ehr_store_unlock_pin_get(struct ehr_store *s, int64_t user_id, uint8_t ret_hash[EHR_HASH_BYTES],
                             struct ehr_pin_state *ret_state);
int ehr_store_unlock_pin_set_state(struct ehr_store *s, int64_t user_id, const struct ehr_pin_state *st);

/* Support requests on someone else's behalf (the seed's table). */
struct ehr_support_request {
        int64_t id;
        const char *for_login, *by_login, *approver_login; /* approver "" when none is needed */
        const char *state;                                 /* open, approved */
        const char *how, *note;
        uint64_t created_sec, decided_sec;
};
int ehr_store_request_add(struct ehr_store *s, int64_t for_id, int64_t by_id, int64_t approver_id, const char *state,
                          const char *how, const char *note, uint64_t now_sec, int64_t *ret_id);
int ehr_store_request_get(struct ehr_store *s, int64_t id, int (*cb)(const struct ehr_support_request *r, void *userdata),
                          void *userdata);
int ehr_store_request_foreach(struct ehr_store *s, int (*cb)(const struct ehr_support_request *r, void *userdata),
                              void *userdata);
int ehr_store_request_decide(struct ehr_store *s, int64_t id, const char *state, const char *how, uint64_t now_sec);

/* TOTP: the seed is sealed with the user's id and login as associated data. */
int ehr_store_totp_put(struct ehr_store *s, const struct ehr_user *u, const uint8_t *secret, size_t n,
                       const struct ehr_otp_params *p, uint64_t now_sec);
/* Returns 0, -ENOENT (not enrolled) or -EBADMSG (the sealed seed does not open for this user). */
int ehr_store_totp_get(struct ehr_store *s, const struct ehr_user *u, struct ehr_secret **ret_secret,
                       struct ehr_otp_params *ret_params, uint64_t *ret_last_step, bool *ret_have_last_step);
/* Record that step was used, only if it is newer than the last used step: one
 * conditional write, so two hosts cannot both accept one code. Returns 0 or -EALREADY. */
int ehr_store_totp_use_step(struct ehr_store *s, int64_t user_id, uint64_t step);
int ehr_store_totp_del(struct ehr_store *s, int64_t user_id);

/* Recovery codes, as keyed hashes only. */
int ehr_store_recovery_replace(struct ehr_store *s, int64_t user_id, const uint8_t (*hashes)[EHR_HASH_BYTES],
                               size_t n);
/* Mark the code with this hash used. Returns 0, or -EBADRQC if no unused code has it. */
int ehr_store_recovery_use(struct ehr_store *s, int64_t user_id, const uint8_t hash[EHR_HASH_BYTES],
                           uint64_t now_sec);
int ehr_store_recovery_del(struct ehr_store *s, int64_t user_id);

/* The failure counter (second factor, recovery codes, later SMS and PINs). */
struct ehr_failures {
        uint64_t count;       /* failures in the current fail_interval */
        uint64_t first_sec;   /* start of that interval */
        uint64_t last_sec;
        uint64_t consecutive; /* since the last success; time never resets it */
        uint64_t locked_until_sec; /* UINT64_MAX: until an admin clears it */
};
/* Zeroes *ret when the user has no failures. */
int ehr_store_failures_get(struct ehr_store *s, int64_t user_id, struct ehr_failures *ret);
int ehr_store_failures_put(struct ehr_store *s, int64_t user_id, const struct ehr_failures *f);
int ehr_store_failures_clear(struct ehr_store *s, int64_t user_id);

/* SMS tokens: one pending token per user (a resend voids the earlier one), as a keyed hash. */
struct ehr_sms_token {
        uint8_t hash[EHR_HASH_BYTES];
        uint64_t created_sec, expires_sec, tries;
};
int ehr_store_sms_token_put(struct ehr_store *s, int64_t user_id, const struct ehr_sms_token *t);
/* Returns 0 or -ENOENT. */
int ehr_store_sms_token_get(struct ehr_store *s, int64_t user_id, struct ehr_sms_token *ret);
int ehr_store_sms_token_del(struct ehr_store *s, int64_t user_id);
int ehr_store_sms_token_set_tries(struct ehr_store *s, int64_t user_id, uint64_t tries);
/* The time of the user's n-th latest send (n = 0: the latest). Returns 0 or -ENOENT. */
/* Grace logins after enroll_by, by login (a host account the policy covers has no
 * users row). grace_use: when fewer than max are used (none recorded is 0), one
 * more is used, in a single conditional write, and *ret_used is the count after
 * it; otherwise nothing changes and -EDQUOT. Returns 0, -EDQUOT or a store error;
 * run it in a transaction (ehr_store_begin()) for *ret_used to be this login's.
 * grace_get: 0 and the count used (0 if none recorded), or a store error. */
int ehr_store_grace_use(struct ehr_store *s, const char *login, uint64_t max, uint64_t now_sec, uint64_t *ret_used);
int ehr_store_grace_get(struct ehr_store *s, const char *login, uint64_t *ret_used);
int ehr_store_sms_send_nth(struct ehr_store *s, int64_t user_id, uint64_t n, uint64_t *ret_sec);
/* Record a send; forgets this user's sends older than forget_before_sec. */
int ehr_store_sms_send_add(struct ehr_store *s, int64_t user_id, uint64_t now_sec, uint64_t forget_before_sec);

/* Trusted devices: the device is known only by a keyed hash of its identity. */
struct ehr_device {
        int64_t id;
        const char *label; /* for people: "ssh from 192.0.2.7 (key)", "local login on ws12" */
        uint64_t created_sec, expires_sec, last_used_sec;
        uint8_t hash[EHR_HASH_BYTES]; /* the device identity's keyed hash (store copy) */
};
int ehr_store_device_put(struct ehr_store *s, int64_t user_id, const uint8_t hash[EHR_HASH_BYTES], const char *label,
                         uint64_t now_sec, uint64_t expires_sec, int64_t *ret_id);
/* An unexpired record for this device. Returns 0 and its id, or -ENOENT. */
int ehr_store_device_find(struct ehr_store *s, int64_t user_id, const uint8_t hash[EHR_HASH_BYTES], uint64_t now_sec,
                          int64_t *ret_id);
int ehr_store_device_touch(struct ehr_store *s, int64_t id, uint64_t now_sec);
int ehr_store_device_foreach(struct ehr_store *s, int64_t user_id,
                             int (*cb)(const struct ehr_device *d, void *userdata), void *userdata);
/* Revoke one (id > 0) or all (id == 0) of a user's devices. Returns the number revoked. */
int ehr_store_device_del(struct ehr_store *s, int64_t user_id, int64_t id);

/* The forgotten-password reset (core/reset.h does the hashing and the rules):
 * tokens by their keyed hash, and the requests counted per key for the rate
 * limits. The contracts are store-backend.h's: take is one conditional delete
 * (-ENOENT: used, voided or never made; expiry is the caller's to judge), void
 * deletes the user's rows and every expired one, request_add returns
 * -ETOOMANYREFS when max requests of key are after since_sec. */
int ehr_store_reset_token_put(struct ehr_store *s, int64_t user_id, const uint8_t hash[EHR_HASH_BYTES],
                              uint64_t now_sec, uint64_t expires_sec);
int ehr_store_reset_token_find(struct ehr_store *s, const uint8_t hash[EHR_HASH_BYTES], int64_t *ret_user_id,
                               uint64_t *ret_expires_sec);
int ehr_store_reset_token_take(struct ehr_store *s, const uint8_t hash[EHR_HASH_BYTES], int64_t *ret_user_id,
                               uint64_t *ret_expires_sec);
int ehr_store_reset_token_void(struct ehr_store *s, int64_t user_id, uint64_t now_sec);
int ehr_store_reset_request_add(struct ehr_store *s, const uint8_t key[EHR_HASH_BYTES], uint64_t now_sec,
                                uint64_t since_sec, uint64_t max);

/* Audit rows (the chain itself is audit.c's business). */
struct ehr_audit_row {
        uint64_t seq, time_sec;
        const char *user, *actor, *type, *action, *details, *source;
        uint8_t mac[EHR_HASH_BYTES];
};
int ehr_store_audit_insert(struct ehr_store *s, const struct ehr_audit_row *row);
/* The head: the last row's seq and mac as recorded separately (0 and zeroes when empty). */
int ehr_store_audit_head_get(struct ehr_store *s, uint64_t *ret_seq, uint8_t ret_mac[EHR_HASH_BYTES]);
int ehr_store_audit_head_put(struct ehr_store *s, uint64_t seq, const uint8_t mac[EHR_HASH_BYTES]);
/* Rows in seq order from the first with seq >= from and time in [since, until]. */
int ehr_store_audit_foreach(struct ehr_store *s, uint64_t since_sec, uint64_t until_sec, const char *user,
                            int (*cb)(const struct ehr_audit_row *row, void *userdata), void *userdata);

/* Break-the-glass uses: a login without a second factor in an emergency
 * (core/breakglass.h). Rows keep the login as text, so a use outlives its user. */
#define EHR_BREAK_GLASS_REASON_MAX 400U
#define EHR_BREAK_GLASS_NOTE_MAX 400U
#define EHR_BREAK_GLASS_HOST_MAX 255U
struct ehr_break_glass {
        int64_t id;
        const char *login, *host, *service, *source, *reason;
        uint64_t time_sec;
        uint64_t reviewed_sec;       /* 0: not reviewed yet */
        const char *reviewer, *note; /* "" until reviewed */
};
/* The limits a new use must stay within: fewer than user_max uses by its login at
 * or after user_since_sec, and fewer than host_max on its host at or after host_since_sec. */
struct ehr_break_glass_limits {
        uint64_t user_since_sec, user_max;
        uint64_t host_since_sec, host_max;
};
enum ehr_break_glass_limit {
        EHR_BREAK_GLASS_LIMIT_USER,
        EHR_BREAK_GLASS_LIMIT_HOST,
};
/* Record a use (its id, reviewed_sec, reviewer and note are ignored) if it stays
 * within the limits: the check and the insert are one conditional write, so
 * concurrent logins cannot both pass a limit of one. Returns 0 and the new id, or
 * -EUSERS with the limit that was reached in *reterr_limit (the user's, when both). */
int ehr_store_break_glass_add(struct ehr_store *s, const struct ehr_break_glass *use,
                              const struct ehr_break_glass_limits *lim, int64_t *ret_id,
                              enum ehr_break_glass_limit *reterr_limit);
/* Record the review of use id by reviewer, only if it is not reviewed yet and
 * reviewer is not the login that made it: one conditional write. Returns 0,
 * -ENOENT (no such use), -EEXIST (already reviewed) or -EBADR (the reviewer's own use). */
int ehr_store_break_glass_review(struct ehr_store *s, int64_t id, const char *reviewer, const char *note,
                                 uint64_t now_sec);
/* Call cb with use id. Returns cb's result or -ENOENT. */
int ehr_store_break_glass_get(struct ehr_store *s, int64_t id,
                              int (*cb)(const struct ehr_break_glass *u, void *userdata), void *userdata);
/* Call cb for each use made at or before until_sec (only the unreviewed ones with
 * unreviewed_only), oldest first; a negative return from cb stops and is returned. */
int ehr_store_break_glass_foreach(struct ehr_store *s, bool unreviewed_only, uint64_t until_sec,
                                  int (*cb)(const struct ehr_break_glass *u, void *userdata), void *userdata);
