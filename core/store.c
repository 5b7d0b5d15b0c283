/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The store's backend-neutral part: the directory, its parents and the master
 * key, sealing with associated data, validation of what is written; every row
 * goes through the backend's table of operations (store-backend.h). */

#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include "sodium-load.h"
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>

#include "config.h" /* EHR_STORE_DEFAULT_DIR */
#include "store-backend.h"
#include "store-internal.h"

#define AD_MAX (16U + EHR_LOGIN_MAX)


static char *path_join(const char *dir, const char *name) {
        char *p;
        if (asprintf(&p, "%s/%s", dir, name) < 0)
                return NULL;
        return p;
}

/* The store directory's parents, as OpenSSH checks a home directory: each one up
 * to / is owned by root or the euid and not writable by group or others unless
 * sticky (/tmp). Whoever can write in one of them can rename the store directory
 * away and put another in its place. Returns 0, -EPERM or -ENOTUNIQ (err says
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
                        return -ENOTUNIQ;
                }
        }
        return 0;
}

/* The directory: created when asked, then checked (its parents, then itself). */
static int check_dir(const char *dir, unsigned flags, char *err, size_t errlen) {
        if (flags & EHR_STORE_CREATE) {
                /* The umask must not widen what we create; 0700 is all a root-only store needs. */
                if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
                        int r = negative_errno();
                        snprintf(err, errlen, "cannot create store directory %s: %s", dir, ehr_strerror(r));
                        return r;
                }
        }
        int r = check_parents(dir, err, errlen);
        if (r < 0)
                return r;
        _cleanup_close_ int dfd = ehr_open_dir_checked(dir, geteuid(), true);
        if (dfd == -ENOENT)
                snprintf(err, errlen, "no store at %s; create one with: ehr2fa-admin init", dir);
        else if (dfd < 0)
                ehr_open_error(dfd, dir, true, err, errlen);
        return dfd < 0 ? dfd : 0;
}

/* The master key: created when asked, then checked on its descriptor and loaded. */
static int load_key(struct ehr_store *s, const char *dir, unsigned flags, char *err, size_t errlen) {
        _cleanup_free_ char *key_path = path_join(dir, EHR_STORE_KEY_NAME);
        if (!key_path)
                return -ENOMEM;
        int r;
        if (flags & EHR_STORE_CREATE) {
                r = ehr_master_key_create(key_path);
                if (r < 0 && r != -EEXIST) {
                        snprintf(err, errlen, "cannot create %s: %s", key_path, ehr_strerror(r));
                        return r;
                }
        }
        const char *why;
        r = ehr_sodium_load(&why);
        if (r < 0) {
                snprintf(err, errlen, "%s: %s", dir, why);
                return r;
        }
        _cleanup_close_ int kfd = ehr_open_checked(key_path, geteuid(), false, true);
        if (kfd < 0) {
                if (kfd == -ENOENT)
                        snprintf(err, errlen, "%s is missing; a store without its key cannot be opened", key_path);
                else
                        ehr_open_error(kfd, key_path, true, err, errlen);
                return kfd;
        }
        r = ehr_keys_load(kfd, &s->keys);
        if (r < 0)
                snprintf(err, errlen, "%s: %s", key_path, r == -EBADMSG ? "not a 32-byte key file" : ehr_strerror(r));
        return r;
}

int ehr_store_open_at(const struct ehr_store_where *w, unsigned flags, uint64_t busy_timeout_ms,
                      struct ehr_store **ret, char *err, size_t errlen) {
        const struct ehr_store_ops *ops;
        const char *dir, *where;
        int r = ehr_store_pick(w, &ops, &dir, &where, err, errlen);
        if (r < 0)
                return r;
        r = check_dir(dir, flags, err, errlen);
        if (r < 0)
                return r;
        _cleanup_(ehr_store_freep) struct ehr_store *s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->ops = ops;
        r = load_key(s, dir, flags, err, errlen);
        if (r < 0)
                return r;
        char *password = NULL;
        if (ops != &ehr_store_sqlite_ops && w->password_file &&
            (r = ehr_store_read_password(w->password_file, &password, err, errlen)) < 0)
                return r;
        r = s->ops->open(where, password, flags, busy_timeout_ms, &s->b, err, errlen);
        if (password) {
                explicit_bzero(password, strlen(password));
                free(password);
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

int ehr_store_open_config(const struct ehr_config *c, unsigned flags, struct ehr_store **ret, char *err,
                          size_t errlen) {
        const struct ehr_store_where w = { .dir = c->store_dir, .server = c->store,
                                           .password_file = c->store_password_file };
        return ehr_store_open_at(&w, flags, c->store_timeout_ms, ret, err, errlen);
}

int ehr_store_open(const char *locator, unsigned flags, uint64_t busy_timeout_ms, struct ehr_store **ret, char *err,
                   size_t errlen) {
        const struct ehr_store_where w = { .dir = locator };
        return ehr_store_open_at(&w, flags, busy_timeout_ms, ret, err, errlen);
}

struct ehr_store *ehr_store_free(struct ehr_store *s) {
        if (!s)
                return NULL;
        if (s->b)
                s->ops->free(s->b);
        ehr_keys_free(s->keys);
        free(s);
        return NULL;
}

const struct ehr_store_ops *ehr_store_ops_of(struct ehr_store *s, struct ehr_store_backend **ret_b) {
        *ret_b = s->b;
        return s->ops;
}

const struct ehr_keys *ehr_store_keys(const struct ehr_store *s) {
        return s->keys;
}

const char *ehr_store_location(const struct ehr_store *s) {
        return s->ops->location(s->b);
}

int ehr_store_changed(struct ehr_store *s) {
        return s->ops->changed(s->b);
}

const char *ehr_store_bad_value(const struct ehr_store *s) {
        return s->ops->bad_value(s->b);
}

/* Validation: what a backend is given has been checked here. */

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


int ehr_store_user_add(struct ehr_store *s, const struct ehr_user *u, uint64_t now_sec, int64_t *ret_id) {
        if (!ehr_login_valid(u->login) || !ehr_field_valid(EHR_FIELD_ROLE, u->role))
                return -EINVAL;
        return s->ops->user_add(s->b, u, now_sec, ret_id);
}

bool ehr_perm_valid(const char *perm) {
        return streq(perm, EHR_PERM_MANAGE_ACCOUNTS) || streq(perm, EHR_PERM_HELP_DESK) ||
               streq(perm, EHR_PERM_AUDIT_EXPORT) || streq(perm, EHR_PERM_BREAK_GLASS_REVIEW);
}

int ehr_store_perm_grant(struct ehr_store *s, int64_t user_id, const char *perm, uint64_t now_sec, const char *by) {
        if (!ehr_perm_valid(perm))
                return -EINVAL;
        return s->ops->perm_grant(s->b, user_id, perm, now_sec, by);
}

/* Sealing: backends store and return sealed blobs only. */

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
        uint8_t ad[AD_MAX] = {}, sealed[EHR_STORE_SEALED_MAX];
        size_t adlen = seal_ad("totp", u, ad);
        int r = ehr_seal(s->keys, ad, adlen, secret, n, sealed, sizeof sealed);
        if (r < 0)
                return r;
        return s->ops->totp_put(s->b, u->id, sealed, n + EHR_SEAL_OVERHEAD, ehr_otp_algorithm_to_string(p->algorithm),
                                p->digits, p->period, now_sec);
}

int ehr_store_totp_get(struct ehr_store *s, const struct ehr_user *u, struct ehr_secret **ret_secret,
                       struct ehr_otp_params *ret_params, uint64_t *ret_last_step, bool *ret_have_last_step) {
        struct ehr_store_totp_row row;
        int r = s->ops->totp_get(s->b, u->id, &row);
        if (r < 0)
                return r;
        /* Everything read from the store is checked: it may have been edited by hand. */
        struct ehr_otp_params p = { .digits = row.digits, .period = row.period };
        if (ehr_otp_algorithm_from_string(row.algorithm, &p.algorithm) < 0 || ehr_otp_params_check(&p) < 0 ||
            row.sealed_len <= EHR_SEAL_OVERHEAD)
                return -EBADMSG;
        _cleanup_(ehr_secret_freep) struct ehr_secret *secret = ehr_secret_new(row.sealed_len - EHR_SEAL_OVERHEAD);
        if (!secret)
                return -ENOMEM;
        uint8_t ad[AD_MAX] = {};
        size_t adlen = seal_ad("totp", u, ad);
        r = ehr_unseal(s->keys, ad, adlen, row.sealed, row.sealed_len, secret->data, secret->len);
        if (r < 0)
                return r;
        *ret_last_step = row.last_step;
        *ret_have_last_step = row.have_last_step;
        *ret_params = p;
        *ret_secret = TAKE_PTR(secret);
        return 0;
}

int ehr_store_support_pin_put(struct ehr_store *s, const struct ehr_user *u, const char pin[EHR_PIN_DIGITS + 1],
                              uint64_t now_sec) {
        uint8_t ad[AD_MAX] = {}, sealed[EHR_PIN_DIGITS + EHR_SEAL_OVERHEAD];
        size_t adlen = seal_ad("spin", u, ad);
        int r = ehr_seal(s->keys, ad, adlen, (const uint8_t *) pin, EHR_PIN_DIGITS, sealed, sizeof sealed);
        if (r < 0)
                return r;
        return s->ops->support_pin_put(s->b, u->id, sealed, sizeof sealed, now_sec);
}

int ehr_store_support_pin_get(struct ehr_store *s, const struct ehr_user *u, char ret_pin[EHR_PIN_DIGITS + 1],
                              struct ehr_pin_state *ret_state) {
        struct ehr_store_pin_row row;
        int r = s->ops->support_pin_get(s->b, u->id, &row);
        if (r < 0)
                return r;
        if (row.sealed_len != sizeof row.sealed)
                return -EBADMSG;
        uint8_t ad[AD_MAX] = {};
        size_t adlen = seal_ad("spin", u, ad);
        char pin[EHR_PIN_DIGITS + 1];
        r = ehr_unseal(s->keys, ad, adlen, row.sealed, row.sealed_len, (uint8_t *) pin, EHR_PIN_DIGITS);
        if (r < 0)
                return r;
        pin[EHR_PIN_DIGITS] = 0;
        memcpy(ret_pin, pin, sizeof pin);
        sodium_memzero(pin, sizeof pin);
        *ret_state = row.state;
        return 0;
}

/* Everything else is the backend's, as it is. */

int ehr_store_begin(struct ehr_store *s) {
        return s->ops->begin(s->b);
}

int ehr_store_commit(struct ehr_store *s) {
        return s->ops->commit(s->b);
}

void ehr_store_rollback(struct ehr_store *s) {
        s->ops->rollback(s->b);
}

int ehr_store_end(struct ehr_store *s, int r) {
        if (r >= 0)
                return ehr_store_commit(s);
        ehr_store_rollback(s);
        return r;
}

int ehr_store_sync(struct ehr_store *s) {
        return s->ops->sync(s->b);
}

int ehr_store_release(struct ehr_store *s) {
        return s->ops->release(s->b);
}

int ehr_store_reserve(struct ehr_store *s) {
        return s->ops->reserve(s->b);
}

int ehr_store_idle(struct ehr_store *s) {
        return s->ops->idle(s->b);
}

bool ehr_store_in_transaction(struct ehr_store *s) {
        return s->ops->in_transaction(s->b);
}

int ehr_store_user_get(struct ehr_store *s, const char *login, struct ehr_user **ret) {
        return s->ops->user_get(s->b, login, ret);
}

int ehr_store_user_del(struct ehr_store *s, const char *login) {
        return s->ops->user_del(s->b, login);
}

int ehr_store_user_foreach(struct ehr_store *s, int (*cb)(const struct ehr_user *u, void *userdata), void *userdata) {
        return s->ops->user_foreach(s->b, cb, userdata);
}

int ehr_store_user_set_provider(struct ehr_store *s, int64_t user_id, int64_t provider_id) {
        return s->ops->user_set_provider(s->b, user_id, provider_id);
}

int ehr_store_user_set_sms_2fa(struct ehr_store *s, int64_t user_id, const char *id) {
        return s->ops->user_set_sms_2fa(s->b, user_id, id);
}

int ehr_store_user_set_account(struct ehr_store *s, int64_t user_id, int64_t uid, int64_t gid, const char *home,
                               const char *shell) {
        return s->ops->user_set_account(s->b, user_id, uid, gid, home, shell);
}

int ehr_store_user_set_locked(struct ehr_store *s, int64_t user_id, bool locked) {
        return s->ops->user_set_locked(s->b, user_id, locked);
}

int ehr_store_id_used(struct ehr_store *s, int64_t id) {
        return s->ops->id_used(s->b, id);
}

int ehr_store_id_high(struct ehr_store *s, int64_t *ret_high) {
        return s->ops->id_high(s->b, ret_high);
}

int ehr_store_id_high_raise(struct ehr_store *s, int64_t id) {
        return s->ops->id_high_raise(s->b, id);
}

int ehr_store_password_put(struct ehr_store *s, int64_t user_id, const char *hash, uint64_t now_sec) {
        if (!ehr_password_hash_valid(hash))
                return -EINVAL;
        return s->ops->password_put(s->b, user_id, hash, now_sec);
}

int ehr_store_password_get(struct ehr_store *s, int64_t user_id, char ret_hash[EHR_PASSWORD_HASH_MAX + 1],
                           uint64_t *ret_changed_sec) {
        char hash[EHR_PASSWORD_HASH_MAX + 1];
        uint64_t changed = 0;
        int r = s->ops->password_get(s->b, user_id, hash, sizeof hash, &changed);
        if (r == -ERANGE || (r >= 0 && !ehr_password_hash_valid(hash)))
                r = -EUCLEAN;
        if (r >= 0) {
                memcpy(ret_hash, hash, strlen(hash) + 1);
                *ret_changed_sec = changed;
        }
        explicit_bzero(hash, sizeof hash);
        return r;
}

int ehr_store_group_add(struct ehr_store *s, const char *name, int64_t gid) {
        return s->ops->group_add(s->b, name, gid);
}

int ehr_store_group_del(struct ehr_store *s, const char *name) {
        return s->ops->group_del(s->b, name);
}

int ehr_store_group_get(struct ehr_store *s, const char *name, int64_t *ret_id, int64_t *ret_gid) {
        return s->ops->group_get(s->b, name, ret_id, ret_gid);
}

int ehr_store_group_member(struct ehr_store *s, int64_t group_id, int64_t user_id, bool add) {
        return s->ops->group_member(s->b, group_id, user_id, add);
}

int ehr_store_group_foreach(struct ehr_store *s, int (*cb)(const struct ehr_group *g, void *userdata), void *userdata) {
        return s->ops->group_foreach(s->b, cb, userdata);
}

int ehr_store_group_members(struct ehr_store *s, int64_t group_id, int (*cb)(const char *login, void *userdata),
                            void *userdata) {
        return s->ops->group_members(s->b, group_id, cb, userdata);
}

int ehr_store_perm_revoke(struct ehr_store *s, int64_t user_id, const char *perm) {
        return s->ops->perm_revoke(s->b, user_id, perm);
}

int ehr_store_perm_has(struct ehr_store *s, int64_t user_id, const char *perm) {
        return s->ops->perm_has(s->b, user_id, perm);
}

int ehr_store_perm_foreach(struct ehr_store *s, int64_t user_id, int (*cb)(const char *perm, void *userdata),
                           void *userdata) {
        return s->ops->perm_foreach(s->b, user_id, cb, userdata);
}

int ehr_store_support_pin_set_state(struct ehr_store *s, int64_t user_id, const struct ehr_pin_state *st) {
        return s->ops->support_pin_set_state(s->b, user_id, st);
}

int ehr_store_unlock_pin_put(struct ehr_store *s, int64_t user_id, const uint8_t hash[EHR_HASH_BYTES],
                             uint64_t now_sec) {
        return s->ops->unlock_pin_put(s->b, user_id, hash, now_sec);
}

int ehr_store_unlock_pin_get(struct ehr_store *s, int64_t user_id, uint8_t ret_hash[EHR_HASH_BYTES],
                             struct ehr_pin_state *ret_state) {
        return s->ops->unlock_pin_get(s->b, user_id, ret_hash, ret_state);
}

int ehr_store_unlock_pin_set_state(struct ehr_store *s, int64_t user_id, const struct ehr_pin_state *st) {
        return s->ops->unlock_pin_set_state(s->b, user_id, st);
}

int ehr_store_request_add(struct ehr_store *s, int64_t for_id, int64_t by_id, int64_t approver_id, const char *state,
                          const char *how, const char *note, uint64_t now_sec, int64_t *ret_id) {
        return s->ops->request_add(s->b, for_id, by_id, approver_id, state, how, note, now_sec, ret_id);
}

int ehr_store_request_get(struct ehr_store *s, int64_t id, int (*cb)(const struct ehr_support_request *r,
                          void *userdata), void *userdata) {
        return s->ops->request_get(s->b, id, cb, userdata);
}

int ehr_store_request_foreach(struct ehr_store *s, int (*cb)(const struct ehr_support_request *r, void *userdata),
                              void *userdata) {
        return s->ops->request_foreach(s->b, cb, userdata);
}

int ehr_store_request_decide(struct ehr_store *s, int64_t id, const char *state, const char *how, uint64_t now_sec) {
        return s->ops->request_decide(s->b, id, state, how, now_sec);
}

int ehr_store_totp_use_step(struct ehr_store *s, int64_t user_id, uint64_t step) {
        return s->ops->totp_use_step(s->b, user_id, step);
}

int ehr_store_totp_del(struct ehr_store *s, int64_t user_id) {
        return s->ops->totp_del(s->b, user_id);
}

int ehr_store_recovery_replace(struct ehr_store *s, int64_t user_id, const uint8_t (*hashes)[EHR_HASH_BYTES],
                               size_t n) {
        return s->ops->recovery_replace(s->b, user_id, hashes, n);
}

int ehr_store_recovery_use(struct ehr_store *s, int64_t user_id, const uint8_t hash[EHR_HASH_BYTES], uint64_t now_sec) {
        return s->ops->recovery_use(s->b, user_id, hash, now_sec);
}

int ehr_store_recovery_del(struct ehr_store *s, int64_t user_id) {
        return s->ops->recovery_del(s->b, user_id);
}

int ehr_store_failures_get(struct ehr_store *s, int64_t user_id, struct ehr_failures *ret) {
        return s->ops->failures_get(s->b, user_id, ret);
}

int ehr_store_failures_put(struct ehr_store *s, int64_t user_id, const struct ehr_failures *f) {
        return s->ops->failures_put(s->b, user_id, f);
}

int ehr_store_failures_clear(struct ehr_store *s, int64_t user_id) {
        return s->ops->failures_clear(s->b, user_id);
}

int ehr_store_sms_token_put(struct ehr_store *s, int64_t user_id, const struct ehr_sms_token *t) {
        return s->ops->sms_token_put(s->b, user_id, t);
}

int ehr_store_sms_token_get(struct ehr_store *s, int64_t user_id, struct ehr_sms_token *ret) {
        return s->ops->sms_token_get(s->b, user_id, ret);
}

int ehr_store_sms_token_del(struct ehr_store *s, int64_t user_id) {
        return s->ops->sms_token_del(s->b, user_id);
}

int ehr_store_sms_token_set_tries(struct ehr_store *s, int64_t user_id, uint64_t tries) {
        return s->ops->sms_token_set_tries(s->b, user_id, tries);
}

int ehr_store_grace_use(struct ehr_store *s, const char *login, uint64_t max, uint64_t now_sec, uint64_t *ret_used) {
        return s->ops->grace_use(s->b, login, max, now_sec, ret_used);
}

int ehr_store_grace_get(struct ehr_store *s, const char *login, uint64_t *ret_used) {
        return s->ops->grace_get(s->b, login, ret_used);
}

int ehr_store_sms_send_nth(struct ehr_store *s, int64_t user_id, uint64_t n, uint64_t *ret_sec) {
        return s->ops->sms_send_nth(s->b, user_id, n, ret_sec);
}

int ehr_store_sms_send_add(struct ehr_store *s, int64_t user_id, uint64_t now_sec, uint64_t forget_before_sec) {
        return s->ops->sms_send_add(s->b, user_id, now_sec, forget_before_sec);
}

int ehr_store_device_put(struct ehr_store *s, int64_t user_id, const uint8_t hash[EHR_HASH_BYTES], const char *label,
                         uint64_t now_sec, uint64_t expires_sec, int64_t *ret_id) {
        return s->ops->device_put(s->b, user_id, hash, label, now_sec, expires_sec, ret_id);
}

int ehr_store_device_find(struct ehr_store *s, int64_t user_id, const uint8_t hash[EHR_HASH_BYTES], uint64_t now_sec,
                          int64_t *ret_id) {
        return s->ops->device_find(s->b, user_id, hash, now_sec, ret_id);
}

int ehr_store_device_touch(struct ehr_store *s, int64_t id, uint64_t now_sec) {
        return s->ops->device_touch(s->b, id, now_sec);
}

int ehr_store_device_foreach(struct ehr_store *s, int64_t user_id, int (*cb)(const struct ehr_device *d,
                             void *userdata), void *userdata) {
        return s->ops->device_foreach(s->b, user_id, cb, userdata);
}

int ehr_store_device_del(struct ehr_store *s, int64_t user_id, int64_t id) {
        return s->ops->device_del(s->b, user_id, id);
}

int ehr_store_audit_insert(struct ehr_store *s, const struct ehr_audit_row *row) {
        return s->ops->audit_insert(s->b, row);
}

int ehr_store_audit_head_get(struct ehr_store *s, uint64_t *ret_seq, uint8_t ret_mac[EHR_HASH_BYTES]) {
        return s->ops->audit_head_get(s->b, ret_seq, ret_mac);
}

int ehr_store_audit_head_put(struct ehr_store *s, uint64_t seq, const uint8_t mac[EHR_HASH_BYTES]) {
        return s->ops->audit_head_put(s->b, seq, mac);
}

int ehr_store_audit_foreach(struct ehr_store *s, uint64_t since_sec, uint64_t until_sec, const char *user,
                            int (*cb)(const struct ehr_audit_row *row, void *userdata), void *userdata) {
        return s->ops->audit_foreach(s->b, since_sec, until_sec, user, cb, userdata);
}
