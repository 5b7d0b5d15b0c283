/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Account operations on users: add, delete, lock; uids; the transaction every
 * operation runs in (see account.h). */

#include <grp.h>
#include <pwd.h>
#include <stdio.h>

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
        /* getpwuid() also asks libnss_ehr when installed: that is the store again, and harmless. */
        return getpwuid((uid_t) id) == NULL && getgrgid((gid_t) id) == NULL;
}

int account_pick_id(struct ehr_op *op, int64_t want, int64_t *ret) {
        if (want >= 0) {
                int r = id_free(op, want);
                if (r <= 0)
                        return account_fail(op, EHR_FIELD_UID, r < 0 ? r : -EEXIST);
                *ret = want;
                return 0;
        }
        for (uint64_t id = op->cfg->uid_min; id <= op->cfg->uid_max; id++) {
                int r = id_free(op, (int64_t) id);
                if (r < 0)
                        return r;
                if (r) {
                        *ret = (int64_t) id;
                        return 0;
                }
        }
        return account_fail(op, EHR_FIELD_UID, -ENOSPC);
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

int ehr_account_user_add(struct ehr_op *op, const struct ehr_account_new *n, int64_t *ret_uid) {
        _cleanup_(ehr_user_freep) struct ehr_user *prov = NULL;
        char phone[EHR_PHONE_E164_BYTES], details[160];
        int64_t uid, gid;
        int r = check_new(op, n, phone);
        if (r < 0 || (r = account_pick_id(op, n->uid, &uid)) < 0 || (r = resolve_new(op, n, uid, &gid, &prov)) < 0)
                return r;
        struct ehr_user u = {
                .login = (char *) n->login, .name = (char *) (n->name ?: ""), .email = (char *) (n->email ?: ""),
                .phone = phone, .role = (char *) (n->role ?: "staff"),
        };
        snprintf(details, sizeof details, "role=%s%s%s uid=%lld gid=%lld", u.role, prov ? " primary provider=" : "",
                 prov ? prov->login : "", (long long) uid, (long long) gid);
        r = ehr_store_begin(op->store);
        if (r >= 0 && (r = ehr_store_user_add(op->store, &u, op->now_sec, &u.id)) == -EEXIST)
                op->field = EHR_FIELD_LOGIN;
        if (r >= 0 && prov)
                r = ehr_store_user_set_provider(op->store, u.id, prov->id);
        if (r >= 0)
                r = ehr_store_user_set_account(op->store, u.id, uid, gid, n->home ?: "", n->shell ?: "");
        if (r >= 0)
                r = account_audit(op, u.login, "user added", details);
        /* Every user gets a Support PIN when added (the seed: "automatically generated when you sign up"). */
        if (r >= 0)
                r = ehr_support_pin_new(op->store, &u, op->now_sec, op->actor, op->source, NULL);
        if ((r = account_end(op, r, true)) < 0)
                return r;
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
        int r = ehr_store_begin(op->store);
        if (r >= 0)
                r = ehr_store_user_set_locked(op->store, u->id, lock);
        if (r >= 0)
                r = account_audit(op, u->login, lock ? "account locked by administrator" : "account unlocked by administrator",
                                  lock ? "login shell set to nologin" : "login shell restored");
        return account_end(op, r, true);
}
