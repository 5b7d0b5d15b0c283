/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The seam between the store's backend-neutral part and its backends.
 *
 * core/store.c, the neutral part, owns everything that is the same whatever
 * holds the rows: the store directory and its parents, the master key, sealing
 * with associated data (user id and login), validation of what is written, and
 * the public ehr_store_* API that callers use (store.h). A backend holds rows:
 * it fills one struct ehr_store_ops, in a folder of its own under core/store/
 * (core/store/sqlite/ is the one there is), and sees sealed blobs and keyed
 * hashes only, never a key or a secret in the clear. No SQL text and no
 * sqlite3_* call lives outside core/store/sqlite/.
 *
 * Every operation has the contract of the ehr_store_* function of the same name
 * in store.h (return codes included: -ENOENT, -EEXIST, -EBUSY, -EOVERFLOW for an
 * impossible stored value, which bad_value then names, ...), with the
 * backend's handle in place of the store. The exceptions take or return what
 * the neutral part seals and opens: totp_put/totp_get and
 * support_pin_put/support_pin_get. open() is given what follows the locator's
 * scheme (for SQLite, the directory, which the neutral part has checked; for
 * PostgreSQL, the server's locator) and the password the neutral part read from
 * its checked file (NULL if none), and makes or checks whatever the backend
 * keeps there; its message goes to err. See doc/ARCHITECTURE.md, "Adding a store backend". */

#include "store.h"

#define EHR_STORE_SEALED_MAX (EHR_OTP_SECRET_MAX + EHR_SEAL_OVERHEAD)

struct ehr_store_backend; /* each backend's own connection */

/* A TOTP row as stored: the seed sealed, the parameters as written. */
struct ehr_store_totp_row {
        char algorithm[16];
        unsigned digits, period;
        uint64_t last_step;
        bool have_last_step;
        size_t sealed_len;
        uint8_t sealed[EHR_STORE_SEALED_MAX];
};

/* A Support PIN row: the PIN sealed, and its failure state. */
struct ehr_store_pin_row {
        struct ehr_pin_state state;
        size_t sealed_len;
        uint8_t sealed[EHR_PIN_DIGITS + EHR_SEAL_OVERHEAD];
};

/* Every operation a backend fills, once: X(return type, name, parameters). The
 * table below, each backend's declarations (internal.h) and its table (ops.c)
 * are made from this list, so they cannot drift from each other. */
#define EHR_STORE_OPS(X) \
        X(int, open, (const char *where, const char *password, unsigned flags, uint64_t busy_timeout_ms, \
                struct ehr_store_backend **ret, char *err, size_t errlen)) \
        X(void, free, (struct ehr_store_backend *b)) \
        X(const char *, location, (const struct ehr_store_backend *b)) \
        X(int, changed, (struct ehr_store_backend *b)) \
        X(const char *, bad_value, (const struct ehr_store_backend *b)) \
        X(int, begin, (struct ehr_store_backend *b)) \
        X(int, sync, (struct ehr_store_backend *b)) \
        X(int, commit, (struct ehr_store_backend *b)) \
        X(void, rollback, (struct ehr_store_backend *b)) \
        X(int, reserve, (struct ehr_store_backend *b)) \
        X(int, release, (struct ehr_store_backend *b)) \
        X(int, idle, (struct ehr_store_backend *b)) \
        X(bool, in_transaction, (struct ehr_store_backend *b)) \
        X(int, user_add, (struct ehr_store_backend *b, const struct ehr_user *u, uint64_t now_sec, int64_t *ret_id)) \
        X(int, user_get, (struct ehr_store_backend *b, const char *login, struct ehr_user **ret)) \
        X(int, user_del, (struct ehr_store_backend *b, const char *login)) \
        X(int, user_foreach, (struct ehr_store_backend *b, int (*cb)(const struct ehr_user *u, void *userdata), \
                void *userdata)) \
        X(int, user_set_provider, (struct ehr_store_backend *b, int64_t user_id, int64_t provider_id)) \
        X(int, user_set_sms_2fa, (struct ehr_store_backend *b, int64_t user_id, const char *id)) \
        X(int, perm_grant, (struct ehr_store_backend *b, int64_t user_id, const char *perm, uint64_t now_sec, \
                const char *by)) \
        X(int, perm_revoke, (struct ehr_store_backend *b, int64_t user_id, const char *perm)) \
        X(int, perm_has, (struct ehr_store_backend *b, int64_t user_id, const char *perm)) \
        X(int, perm_foreach, (struct ehr_store_backend *b, int64_t user_id, int (*cb)(const char *perm, \
                void *userdata), void *userdata)) \
        X(int, request_add, (struct ehr_store_backend *b, int64_t for_id, int64_t by_id, int64_t approver_id, \
                const char *state, const char *how, const char *note, uint64_t now_sec, int64_t *ret_id)) \
        X(int, request_get, (struct ehr_store_backend *b, int64_t id, \
                int (*cb)(const struct ehr_support_request *r, void *userdata), void *userdata)) \
        X(int, request_foreach, (struct ehr_store_backend *b, int (*cb)(const struct ehr_support_request *r, \
                void *userdata), void *userdata)) \
        X(int, request_decide, (struct ehr_store_backend *b, int64_t id, const char *state, const char *how, \
                uint64_t now_sec)) \
        X(int, user_set_account, (struct ehr_store_backend *b, int64_t user_id, int64_t uid, int64_t gid, \
                const char *home, const char *shell)) \
        X(int, user_set_locked, (struct ehr_store_backend *b, int64_t user_id, bool locked)) \
        X(int, id_used, (struct ehr_store_backend *b, int64_t id)) \
        /* Passwords of managed accounts: one row per user, the crypt(3) string as \
         * given (the neutral part has checked it: '$', then [./0-9A-Za-z$=,-] only) \
         * and the time it was set. password_put inserts or replaces that row in one \
         * statement (PostgreSQL: INSERT ... ON CONFLICT (user_id) DO UPDATE); the row \
         * goes with its user. password_get copies the string into ret_hash (len \
         * bytes, NUL included: -ERANGE when longer, which is a damaged row) and \
         * range-checks the time (-EOVERFLOW with bad_value); -ENOENT: no row. */ \
        X(int, password_put, (struct ehr_store_backend *b, int64_t user_id, const char *hash, uint64_t now_sec)) \
        X(int, password_get, (struct ehr_store_backend *b, int64_t user_id, char *ret_hash, size_t len, \
                uint64_t *ret_changed_sec)) \
        X(int, id_high, (struct ehr_store_backend *b, int64_t *ret_high)) \
        X(int, id_high_raise, (struct ehr_store_backend *b, int64_t id)) \
        X(int, group_add, (struct ehr_store_backend *b, const char *name, int64_t gid)) \
        X(int, group_del, (struct ehr_store_backend *b, const char *name)) \
        X(int, group_get, (struct ehr_store_backend *b, const char *name, int64_t *ret_id, int64_t *ret_gid)) \
        X(int, group_member, (struct ehr_store_backend *b, int64_t group_id, int64_t user_id, bool add)) \
        X(int, group_foreach, (struct ehr_store_backend *b, int (*cb)(const struct ehr_group *g, void *userdata), \
                void *userdata)) \
        X(int, group_members, (struct ehr_store_backend *b, int64_t group_id, int (*cb)(const char *login, \
                void *userdata), void *userdata)) \
        X(int, totp_put, (struct ehr_store_backend *b, int64_t user_id, const uint8_t *sealed, size_t n, \
                const char *algorithm, unsigned digits, unsigned period, uint64_t now_sec)) \
        X(int, totp_get, (struct ehr_store_backend *b, int64_t user_id, struct ehr_store_totp_row *ret)) \
        X(int, totp_use_step, (struct ehr_store_backend *b, int64_t user_id, uint64_t step)) \
        X(int, totp_del, (struct ehr_store_backend *b, int64_t user_id)) \
        X(int, recovery_del, (struct ehr_store_backend *b, int64_t user_id)) \
        X(int, recovery_replace, (struct ehr_store_backend *b, int64_t user_id, \
                const uint8_t (*hashes)[EHR_HASH_BYTES], size_t n)) \
        X(int, recovery_use, (struct ehr_store_backend *b, int64_t user_id, const uint8_t hash[EHR_HASH_BYTES], \
                uint64_t now_sec)) \
        X(int, failures_get, (struct ehr_store_backend *b, int64_t user_id, struct ehr_failures *ret)) \
        X(int, failures_put, (struct ehr_store_backend *b, int64_t user_id, const struct ehr_failures *f)) \
        X(int, failures_clear, (struct ehr_store_backend *b, int64_t user_id)) \
        X(int, audit_insert, (struct ehr_store_backend *b, const struct ehr_audit_row *row)) \
        X(int, audit_head_get, (struct ehr_store_backend *b, uint64_t *ret_seq, uint8_t ret_mac[EHR_HASH_BYTES])) \
        X(int, audit_head_put, (struct ehr_store_backend *b, uint64_t seq, const uint8_t mac[EHR_HASH_BYTES])) \
        X(int, audit_foreach, (struct ehr_store_backend *b, uint64_t since_sec, uint64_t until_sec, \
                const char *user, int (*cb)(const struct ehr_audit_row *row, void *userdata), void *userdata)) \
        X(int, sms_token_put, (struct ehr_store_backend *b, int64_t user_id, const struct ehr_sms_token *t)) \
        X(int, sms_token_get, (struct ehr_store_backend *b, int64_t user_id, struct ehr_sms_token *ret)) \
        X(int, sms_token_del, (struct ehr_store_backend *b, int64_t user_id)) \
        X(int, sms_token_set_tries, (struct ehr_store_backend *b, int64_t user_id, uint64_t tries)) \
        X(int, sms_send_nth, (struct ehr_store_backend *b, int64_t user_id, uint64_t n, uint64_t *ret_sec)) \
        X(int, sms_send_add, (struct ehr_store_backend *b, int64_t user_id, uint64_t now_sec, \
                uint64_t forget_before_sec)) \
        /* Grace logins (enforce.c), keyed by login: grace_use is one conditional write \
         * (SQL: an upsert whose update has "WHERE used < max"), so two logins at once \
         * with one grace login left let exactly one through; see ehr_store_grace_use(). */ \
        X(int, grace_use, (struct ehr_store_backend *b, const char *login, uint64_t max, uint64_t now_sec, \
                uint64_t *ret_used)) \
        X(int, grace_get, (struct ehr_store_backend *b, const char *login, uint64_t *ret_used)) \
        X(int, device_put, (struct ehr_store_backend *b, int64_t user_id, const uint8_t hash[EHR_HASH_BYTES], \
                const char *label, uint64_t now_sec, uint64_t expires_sec, int64_t *ret_id)) \
        X(int, device_find, (struct ehr_store_backend *b, int64_t user_id, const uint8_t hash[EHR_HASH_BYTES], \
                uint64_t now_sec, int64_t *ret_id)) \
        X(int, device_touch, (struct ehr_store_backend *b, int64_t id, uint64_t now_sec)) \
        X(int, device_foreach, (struct ehr_store_backend *b, int64_t user_id, \
                int (*cb)(const struct ehr_device *d, void *userdata), void *userdata)) \
        X(int, device_del, (struct ehr_store_backend *b, int64_t user_id, int64_t id)) \
        /* The forgotten-password reset (core/reset.c). Tokens are stored only as their \
         * keyed hash (the neutral part hashes them), one row each: hash (unique), \
         * user, created, expires; a user's rows go with the user. \
         * reset_token_put: insert a row; -EEXIST when the hash is already there. \
         * reset_token_find: the row's user and expiry, read only; it decides nothing \
         * (the prompt's early answer); -ENOENT. \
         * reset_token_take: consume the token as ONE conditional delete that hands \
         * back the deleted row's user and expiry (SQLite and PostgreSQL: DELETE ... \
         * WHERE hash = $1 RETURNING user_id, expires), never a read and then a \
         * delete: of two takes of one token exactly one gets the row, the other \
         * -ENOENT, as does a hash that is not there. An expired row is consumed all \
         * the same; the caller judges expiry from what it got. \
         * reset_token_void: delete every row of the user, and every expired row \
         * (expires <= now_sec) of anybody. Returns 0. \
         * reset_request_add: the requests' rate limits, per key (a keyed hash of an \
         * address or of a source, never the address): first forget rows of every key \
         * at or before since_sec, then record (key, now_sec) unless max rows of that \
         * key are after since_sec, as ONE conditional insert (INSERT ... SELECT ... \
         * WHERE (SELECT count(*) ...) < max). Returns 0 (recorded) or -ETOOMANYREFS \
         * (refused, nothing recorded). */ \
        X(int, reset_token_put, (struct ehr_store_backend *b, int64_t user_id, \
                const uint8_t hash[EHR_HASH_BYTES], uint64_t now_sec, uint64_t expires_sec)) \
        X(int, reset_token_find, (struct ehr_store_backend *b, const uint8_t hash[EHR_HASH_BYTES], \
                int64_t *ret_user_id, uint64_t *ret_expires_sec)) \
        X(int, reset_token_take, (struct ehr_store_backend *b, const uint8_t hash[EHR_HASH_BYTES], \
                int64_t *ret_user_id, uint64_t *ret_expires_sec)) \
        X(int, reset_token_void, (struct ehr_store_backend *b, int64_t user_id, uint64_t now_sec)) \
        X(int, reset_request_add, (struct ehr_store_backend *b, const uint8_t key[EHR_HASH_BYTES], \
                uint64_t now_sec, uint64_t since_sec, uint64_t max)) \
        X(int, support_pin_put, (struct ehr_store_backend *b, int64_t user_id, const uint8_t *sealed, size_t n, \
                uint64_t now_sec)) \
        X(int, support_pin_get, (struct ehr_store_backend *b, int64_t user_id, struct ehr_store_pin_row *ret)) \
        X(int, support_pin_set_state, (struct ehr_store_backend *b, int64_t user_id, \
                const struct ehr_pin_state *st)) \
        X(int, unlock_pin_put, (struct ehr_store_backend *b, int64_t user_id, const uint8_t hash[EHR_HASH_BYTES], \
                uint64_t now_sec)) \
        X(int, unlock_pin_get, (struct ehr_store_backend *b, int64_t user_id, uint8_t ret_hash[EHR_HASH_BYTES], \
                struct ehr_pin_state *ret_state)) \
        X(int, unlock_pin_set_state, (struct ehr_store_backend *b, int64_t user_id, const struct ehr_pin_state *st)) \
        /* For ehr_store_copy() (store-copy.c), which moves rows as they are: \
         * user_put adds the user with the id u->id and u->created_sec (the sealed \
         * rows are bound to the id), later ids following it; recovery_foreach \
         * calls cb with each recovery code's keyed hash and whether it was used. */ \
        X(int, user_put, (struct ehr_store_backend *b, const struct ehr_user *u)) \
        X(int, recovery_foreach, (struct ehr_store_backend *b, int64_t user_id, \
                int (*cb)(const uint8_t hash[EHR_HASH_BYTES], bool used, void *userdata), void *userdata)) \
        /* Break-glass uses (store.h has each contract). break_glass_add must be atomic \
         * against concurrent calls on other connections and hosts: the counts of the \
         * limits and the insert are one statement in a write transaction (SQLite: an \
         * INSERT ... SELECT ... WHERE under BEGIN IMMEDIATE; a server backend needs \
         * the same guarantee, e.g. SERIALIZABLE or a lock on the login and host), \
         * never a count read before a separate insert. break_glass_review is one \
         * conditional UPDATE (not reviewed, not by the use's own login); only when \
         * it changes nothing may the backend read the row to say why. Texts are \
         * stored as given (the neutral part has checked them); times are Unix seconds. */ \
        X(int, break_glass_add, (struct ehr_store_backend *b, const struct ehr_break_glass *use, \
                const struct ehr_break_glass_limits *lim, int64_t *ret_id, \
                enum ehr_break_glass_limit *reterr_limit)) \
        X(int, break_glass_review, (struct ehr_store_backend *b, int64_t id, const char *reviewer, \
                const char *note, uint64_t now_sec)) \
        X(int, break_glass_get, (struct ehr_store_backend *b, int64_t id, \
                int (*cb)(const struct ehr_break_glass *u, void *userdata), void *userdata)) \
        X(int, break_glass_foreach, (struct ehr_store_backend *b, bool unreviewed_only, uint64_t until_sec, \
                int (*cb)(const struct ehr_break_glass *u, void *userdata), void *userdata))

struct ehr_store_ops {
        const char *name;
#define EHR_STORE_OP_FIELD(type, op, params) type(*op) params;
        EHR_STORE_OPS(EHR_STORE_OP_FIELD)
#undef EHR_STORE_OP_FIELD
};

/* The backends built in; ehr_store_open() picks one by the locator's scheme
 * (its table of schemes is in store.c). */
extern const struct ehr_store_ops ehr_store_sqlite_ops;
extern const struct ehr_store_ops ehr_store_postgresql_ops;

/* A store's backend and its table (for store-copy.c, which moves rows between two). */
const struct ehr_store_ops *ehr_store_ops_of(struct ehr_store *s, struct ehr_store_backend **ret_b);

/* The neutral part's own helpers (store-locator.c). Which backend, which key
 * directory and what the backend's open() is given; 0 or -EINVAL (err says
 * why, without the locator's secrets). */
int ehr_store_pick(const struct ehr_store_where *w, const struct ehr_store_ops **ret_ops, const char **ret_dir,
                   const char **ret_where, char *err, size_t errlen);
/* The server's password from its file, checked as the master key is; the
 * caller wipes and frees it. Returns 0, -EINVAL or the open's -errno. */
int ehr_store_read_password(const char *path, char **ret, char *err, size_t errlen);
