/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Account operations on users: add, delete, lock; uids; the transaction every
 * operation runs in (see account.h). */

#include <stdio.h>

#include "account-host.h"
#include "account.h"
#include "accounts-internal.h"
#include "audit.h"
#include "helpdesk.h"

int account_audit(struct ehr_op *op, const char *user, const char *action, const char *details) {
        return ehr_audit_append(op->store, op->now_sec, user, op->actor, EHR_AUDIT_ADMIN, action, details, op->source);
}

int account_end(struct ehr_op *op, int r, bool publish) {
        r = ehr_store_end(op->store, r);
        if (r < 0)
                return r;
        op->committed = true;
        return publish ? ehr_account_publish(op) : 0;
}

int account_fail(struct ehr_op *op, enum ehr_field field, int r) {
        op->field = field;
        return r;
}

/* Is id free everywhere: the store, and the system's own users and groups? 1, 0 or -errno. */
static int id_free(struct ehr_op *op, int64_t id) {
        int r = ehr_store_id_used(op->store, id);
        if (r != 0)
                return r < 0 ? r : 0;
        /* Through every NSS source. Ours answers too when installed: that is the store
         * again, and harmless. A directory that cannot answer is an error, not "free". */
        r = ehr_host_id_used(id);
        if (r > 0)
                op->host = true;
        return r < 0 ? r : !r;
}

/* Ids go up from the store's high-water mark and are never handed out twice
 * (a deleted user's files keep their uid); the caller raises the mark in the
 * transaction that uses the id (account_take_id()). */
int account_pick_id(struct ehr_op *op, int64_t want, int64_t *ret) {
        int64_t high;
        if (want >= 0) {
                if ((uint64_t) want < op->cfg->uid_min || (uint64_t) want > op->cfg->uid_max)
                        return account_fail(op, EHR_FIELD_UID, -ERANGE);
                int r = id_free(op, want);
                if (r <= 0)
                        return account_fail(op, EHR_FIELD_UID, r < 0 ? r : -EEXIST);
                *ret = want;
                return 0;
        }
        int r = ehr_store_id_high(op->store, &high);
        if (r < 0)
                return r;
        uint64_t from = high >= 0 && (uint64_t) high >= op->cfg->uid_min ? (uint64_t) high + 1 : op->cfg->uid_min;
        for (uint64_t id = from; id <= op->cfg->uid_max; id++) {
                r = id_free(op, (int64_t) id);
                if (r < 0)
                        return r;
                if (r) {
                        op->host = false;
                        *ret = (int64_t) id;
                        return 0;
                }
        }
        op->host = false;
        return account_fail(op, EHR_FIELD_UID, -ENOSPC);
}

int account_take_id(struct ehr_op *op, int64_t id) {
        return ehr_store_id_high_raise(op->store, id);
}

/* Every field of a new user against its rule; the phone comes back normalized. */
static int check_new(struct ehr_op *op, const struct ehr_account_new *n, char phone[EHR_PHONE_E164_BYTES]) {
        const struct {
                enum ehr_field f;
                const char *v;
        } checks[] = {
                { EHR_FIELD_LOGIN, n->login },
                { EHR_FIELD_ROLE, n->role ?: "staff" },
                { EHR_FIELD_TEXT, n->name ?: "" },
                { EHR_FIELD_EMAIL, isempty(n->email) ? NULL : n->email },
                { EHR_FIELD_PATH, isempty(n->home) ? NULL : n->home },
                { EHR_FIELD_PATH, isempty(n->shell) ? NULL : n->shell },
                { EHR_FIELD_GROUP, n->group },
                { EHR_FIELD_PROVIDER, n->provider },
        };
        for (size_t i = 0; i < ELEMENTSOF(checks); i++)
                /* Optional fields left out are NULL here (the login is not optional). */
                if ((checks[i].v || i == 0) && !ehr_field_valid(checks[i].f, checks[i].v))
                        return account_fail(op, checks[i].f, -EINVAL);
        phone[0] = 0;
        if (!isempty(n->phone) && ehr_phone_normalize(n->phone, phone, EHR_PHONE_E164_BYTES) < 0)
                return account_fail(op, EHR_FIELD_PHONE, -EINVAL);
        return 0;
}

/* The gid (a named group's, or the uid for a private group) and the provider's row. */
static int resolve_new(struct ehr_op *op, const struct ehr_account_new *n, int64_t uid, int64_t *ret_gid,
                       struct ehr_user **ret_prov) {
        int64_t row;
        *ret_gid = uid;
        if (n->group && ehr_store_group_get(op->store, n->group, &row, ret_gid) < 0)
                return account_fail(op, EHR_FIELD_GROUP, -ENOENT);
        if (!n->provider)
                return 0;
        int r = ehr_store_user_get(op->store, n->provider, ret_prov);
        if (r < 0)
                return account_fail(op, EHR_FIELD_PROVIDER, r);
        if (!streq((*ret_prov)->role, "provider"))
                return account_fail(op, EHR_FIELD_PROVIDER, -EINVAL);
        return 0;
}

/* The name against the host's own accounts (our module left out). A managed
 * account must not shadow a name the host serves, nor its private group a host
 * group; an existing one must resolve, and gets no uid, group, home or shell. */
static int check_host(struct ehr_op *op, const struct ehr_account_new *n, uint32_t *ret_host_uid) {
        int r = ehr_host_user_find(n->login, ret_host_uid);
        if (r < 0)
                return r;
        op->host = true;
        if (n->existing) {
                if (n->uid >= 0 || n->group || !isempty(n->home) || !isempty(n->shell) || n->no_home)
                        return account_fail(op, n->uid >= 0 ? EHR_FIELD_UID : n->group ? EHR_FIELD_GROUP : EHR_FIELD_PATH,
                                            -EINVAL);
                return r ? 0 : account_fail(op, EHR_FIELD_LOGIN, -ENOENT);
        }
        if (r)
                return account_fail(op, EHR_FIELD_LOGIN, -EEXIST);
        if (!n->group && (r = ehr_host_group_find(n->login, NULL)) != 0)
                return r < 0 ? r : account_fail(op, EHR_FIELD_GROUP, -EEXIST);
        op->host = false;
        return 0;
}

/* The system account of a managed user, in the add's transaction. */
static int add_account(struct ehr_op *op, const struct ehr_account_new *n, int64_t user_id, int64_t uid, int64_t gid) {
        int r = ehr_store_user_set_account(op->store, user_id, uid, gid, n->home ?: "", n->shell ?: "");
        if (r >= 0)
                r = account_take_id(op, uid);
        return r;
}

void ehr_account_home_path(const struct ehr_config *c, const char *login, const char *home, char *buf, size_t len) {
        if (!isempty(home))
                snprintf(buf, len, "%s", home);
        else
                snprintf(buf, len, "%s/%s", c->home_base ?: EHR_HOME_BASE_DEFAULT, login);
}

/* How often an add picks again when another host took its uid first. */
#define UID_PICK_TRIES 8U

/* The add's one transaction: the row, its provider, its system account, the
 * audit row and the Support PIN, committed and published. *ret_uid_taken: the
 * uid picked was taken by another add that committed first (nothing written). */
static int add_in_tx(struct ehr_op *op, const struct ehr_account_new *n, struct ehr_user *u,
                     const struct ehr_user *prov, int64_t uid, int64_t gid, const char *details, bool *ret_uid_taken) {
        int r = ehr_store_begin(op->store);
        if (r >= 0 && (r = ehr_store_user_add(op->store, u, op->now_sec, &u->id)) == -EEXIST)
                op->field = EHR_FIELD_LOGIN;
        if (r >= 0 && prov)
                r = ehr_store_user_set_provider(op->store, u->id, prov->id);
        if (r >= 0 && !n->existing && (r = add_account(op, n, u->id, uid, gid)) == -EEXIST) {
                *ret_uid_taken = true;
                op->field = EHR_FIELD_UID;
        }
        if (r >= 0)
                r = account_audit(op, u->login, "user added", details);
        /* Every user gets a Support PIN when added (the seed: "automatically generated when you sign up"). */
        if (r >= 0)
                r = ehr_support_pin_new(op->store, u, op->now_sec, op->actor, op->source, NULL);
        return account_end(op, r, !n->existing);
}

int ehr_account_user_add(struct ehr_op *op, const struct ehr_account_new *n, int64_t *ret_uid) {
        _cleanup_(ehr_user_freep) struct ehr_user *prov = NULL;
        char phone[EHR_PHONE_E164_BYTES], details[160], home[EHR_FIELD_PATH_MAX + 1];
        int64_t uid = -1, gid = -1;
        uint32_t host_uid = 0;
        int r = check_new(op, n, phone);
        if (r < 0 || (r = check_host(op, n, &host_uid)) < 0)
                return r;
        struct ehr_user u = {
                .login = (char *) n->login, .name = (char *) (n->name ?: ""), .email = (char *) (n->email ?: ""),
                .phone = phone, .role = (char *) (n->role ?: "staff"),
        };
        /* The uid is picked before the transaction (the host's NSS is asked whether it is
         * free, which must not hold the store's write lock); an add on another host may
         * take it first, and then this one picks again above the raised high-water mark. */
        for (unsigned attempt = 1;; attempt++) {
                bool taken = false;
                prov = ehr_user_free(prov);
                if ((!n->existing && (r = account_pick_id(op, n->uid, &uid)) < 0) ||
                    (r = resolve_new(op, n, uid, &gid, &prov)) < 0)
                        return r;
                if (n->existing)
                        snprintf(details, sizeof details, "role=%s%s%s existing account (uid %u on this host), not published",
                                 u.role, prov ? " primary provider=" : "", prov ? prov->login : "", (unsigned) host_uid);
                else
                        snprintf(details, sizeof details, "role=%s%s%s uid=%lld gid=%lld", u.role,
                                 prov ? " primary provider=" : "", prov ? prov->login : "", (long long) uid, (long long) gid);
                r = add_in_tx(op, n, &u, prov, uid, gid, details, &taken);
                if (r >= 0)
                        break;
                if (!taken || n->uid >= 0 || attempt == UID_PICK_TRIES)
                        return r;
                op->field = EHR_FIELD_NONE;
        }
        /* After the publish: the uid the home is given is the one the system now shows. */
        ehr_account_home_path(op->cfg, n->login, n->home, home, sizeof home);
        op->home = n->existing || n->no_home ? 0 : ehr_account_home_create(home, op->cfg->skel_dir, (uid_t) uid, (gid_t) gid);
        *ret_uid = uid;
        return 0;
}

int ehr_account_user_del(struct ehr_op *op, const char *login) {
        int r = ehr_store_begin(op->store);
        if (r >= 0 && (r = ehr_store_user_del(op->store, login)) == -ENOENT)
                op->field = EHR_FIELD_LOGIN;
        if (r >= 0)
                r = account_audit(op, login, "user deleted", "with TOTP seed, recovery codes and failure count");
        return account_end(op, r, true);
}

/* A locked account stays in NSS (its files keep their owner) with a shell that refuses logins. */
int ehr_account_user_lock(struct ehr_op *op, const struct ehr_user *u, bool lock) {
        /* A 2FA-only record has no account of ours to lock: its shell is the host's. */
        if (u->uid < 0)
                return account_fail(op, EHR_FIELD_LOGIN, -EOPNOTSUPP);
        int r = ehr_store_begin(op->store);
        if (r >= 0)
                r = ehr_store_user_set_locked(op->store, u->id, lock);
        if (r >= 0)
                r = account_audit(op, u->login, lock ? "account locked by administrator" : "account unlocked by administrator",
                                  lock ? "login shell set to nologin" : "login shell restored");
        return account_end(op, r, true);
}
