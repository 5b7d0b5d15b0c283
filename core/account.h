/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Account operations: what adding a user, a 2FA reset, new recovery codes, a
 * lockout clear, a group change or publishing to NSS does, written once for
 * ehr2fa-admin and the setuid ehr2fa-helper. Each is one call that checks its
 * input with the rules of field.h, opens its own transaction, writes, audits,
 * commits, and, when the directory changed, publishes the NSS snapshot.
 * Nothing here prints or logs: a call returns 0 or a negative errno and says in
 * the struct ehr_op which input was at fault.
 *
 * Who may call what (permissions) is the caller's check, made before. */

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "field.h"
#include "recovery.h"
#include "store.h"

#define EHR_SMS_2FA_ID_BYTES 16U

struct ehr_op {
        struct ehr_store *store;
        const struct ehr_config *cfg;
        uint64_t now_sec;
        const char *actor;  /* who, for the audit log */
        const char *source; /* "tool=ehr2fa-admin tty=...", for the audit log */

        /* Out, on failure. field: the input at fault; with -EINVAL it breaks
         * ehr_field_rule(field), with -EEXIST it is taken, with -ENOENT it names
         * what is missing. committed: the store was changed, and a later step
         * (publishing the snapshot) failed: retrying that step is enough. */
        enum ehr_field field;
        bool committed;
        /* Publishing: the stored user or group whose value breaks a rule (it was
         * written before the rule, or by hand), or "". */
        char offender[EHR_LOGIN_MAX + 1];
        /* With -EEXIST or -ENOENT: the host (its NSS: files, LDAP, SSSD), not the
         * store, has the name or id, or lacks the name. */
        bool host;

        /* Out, on success of user add: 0 (the home was made, or none was asked
         * for), -EEXIST (it exists: left as it was), or -errno (not made; the
         * account is added and published all the same). */
        int home;
};

/* A user to add. NULL strings are empty; role NULL is "staff"; uid < 0 allocates.
 * existing: a 2FA-only record for an account the host already has (files, LDAP,
 * AD through SSSD): no uid, group, home or shell of ours, nothing published.
 * no_home: a managed account whose home is left to pam_mkhomedir. */
struct ehr_account_new {
        const char *login, *name, *email, *phone, *role, *provider, *group, *home, *shell;
        int64_t uid;
        bool existing, no_home;
};

/* Add the user and a Support PIN; audited. A managed account (not existing) also
 * gets its system account: a uid from the range above the store's high-water
 * mark, a private or named group, published; then its home from skel_dir (see
 * op->home). The phone is stored normalized (ehr_phone_normalize()).
 * Returns 0 and the uid (-1 for an existing account), -EINVAL (op->field breaks
 * its rule, PROVIDER is not a provider, or an existing account was given
 * UID, GROUP or PATH), -ERANGE (UID outside uid_min..uid_max), -EEXIST (LOGIN
 * exists, UID in use; op->host: the host has it), -ENOENT (GROUP or PROVIDER
 * missing; LOGIN with op->host: an existing account the host does not resolve),
 * -ENOSPC (no free uid in the range), or -errno (the host's NSS failed). */
int ehr_account_user_add(struct ehr_op *op, const struct ehr_account_new *n, int64_t *ret_uid);

/* Delete the user with their seed, codes and counters; audited; publishes. -ENOENT. */
int ehr_account_user_del(struct ehr_op *op, const char *login);

/* Lock (login shell nologin) or unlock the system account; audited; publishes.
 * -EOPNOTSUPP: a 2FA-only record (the account is the host's, locked there). */
int ehr_account_user_lock(struct ehr_op *op, const struct ehr_user *u, bool lock);

/* Store the app's seed (replacing one only when u is enrolled and the caller
 * forced it); audited with how it came (imported or generated) and its parameters. */
int ehr_account_totp_enroll(struct ehr_op *op, const struct ehr_user *u, const struct ehr_secret *seed,
                            const struct ehr_otp_params *p, bool imported);

/* The 2FA reset: the seed, recovery codes, a pending SMS token and every trusted
 * device go, the failures are cleared; audited. -ENOENT: no app enrolled. */
int ehr_account_totp_reset(struct ehr_op *op, const struct ehr_user *u);

/* Ten new recovery codes replace the earlier ones; audited. The codes are
 * written to ret_codes (the caller shows them once and wipes them). -ENOENT: no
 * app enrolled (recovery codes back one up). */
int ehr_account_recovery_new(struct ehr_op *op, const struct ehr_user *u,
                             char (*ret_codes)[EHR_RECOVERY_DISPLAY_SIZE]);

/* Clear the failure count and lockout; audited. */
int ehr_account_lockout_clear(struct ehr_op *op, const struct ehr_user *u);

/* Grant or revoke permissions, all or none; audited one row each. -EINVAL: an
 * unknown permission (its index in *reterr_index). */
int ehr_account_perm_set(struct ehr_op *op, const struct ehr_user *u, bool grant, char *const *perms, size_t n,
                         size_t *reterr_index);

/* May a manager set up SMS 2FA for u now? 0, -EINVAL (not staff),
 * -ENOENT (no cell phone), -EALREADY (already active), -EOPNOTSUPP (this host
 * sends no text messages, sms_mode = none: u could not log in). */
int ehr_account_staff_sms_check(const struct ehr_op *op, const struct ehr_user *u);

/* Set it up (after the manager's password was confirmed): the checks again, then
 * a new id, audited. Returns 0 and the id in ret_id. */
int ehr_account_staff_sms_setup(struct ehr_op *op, const struct ehr_user *u, char ret_id[EHR_SMS_2FA_ID_BYTES]);

/* Groups; each publishes. group_add: gid < 0 allocates (as for uids, above the
 * high-water mark); returns the gid, -EINVAL (GROUP), -ERANGE (UID outside the
 * range), -EEXIST (GROUP exists, UID: the gid is in use; op->host: the host's),
 * -ENOSPC. group_del:
 * -ENOENT. group_member: -ENOENT (no such group). */
int ehr_account_group_add(struct ehr_op *op, const char *name, int64_t gid, int64_t *ret_gid);
int ehr_account_group_del(struct ehr_op *op, const char *name);
int ehr_account_group_member(struct ehr_op *op, const char *group, const struct ehr_user *u, bool add);

/* How a password came to be set, for the audit row. */
enum ehr_password_how {
        EHR_PASSWORD_BY_USER,  /* passwd, after the current password */
        EHR_PASSWORD_BY_ROOT,  /* passwd LOGIN run by root */
        EHR_PASSWORD_BY_RESET, /* ehr2fa-admin password reset, with a token from the mail */
};

/* Set the password of a managed account: the policy (core/password.h), a fresh
 * yescrypt hash, stored, audited ("password set" with how), then the snapshots
 * published (the shadow one carries the hash). It voids nothing itself: no token,
 * no trusted device; callers that must (the reset) do that in their own
 * operation. No manager or help desk path calls this for another person.
 * Returns 0, -EOPNOTSUPP (a 2FA-only record: the password is the host's),
 * -EINVAL (the policy refused it), or -errno; reterr_msg then says why, in words
 * for the user (op->committed: stored, but publishing failed). */
int ehr_account_password_set(struct ehr_op *op, const struct ehr_user *u, const char *password,
                             enum ehr_password_how how, char *reterr_msg, size_t msglen);

/* Is password the managed account's current one? 0, -EBADRQC (it is not;
 * audited "password change refused"), -ENOENT (none set yet), -EOPNOTSUPP (a
 * 2FA-only record), -EINVAL (the stored hash is a locked one), or -errno. */
int ehr_account_password_verify(struct ehr_op *op, const struct ehr_user *u, const char *password);

/* Where the snapshot goes: nss_snapshot from the config, or the default. */
const char *ehr_account_snapshot_path(const struct ehr_config *c);

/* The home directory of a managed account: its own, or home_base/LOGIN. */
void ehr_account_home_path(const struct ehr_config *c, const char *login, const char *home, char *buf, size_t len);

/* Write the NSS snapshot from the store (atomically, see snapshot.h). Returns 0,
 * -EINVAL with op->offender and op->field naming a stored value that breaks its
 * rule, or the errors of ehr_snapshot_write(). */
int ehr_account_publish(struct ehr_op *op);

/* What a sync found: whether the snapshot changed, and what it holds. */
struct ehr_sync {
        bool changed;
        size_t users, groups;
};

/* Pull the directory (managed accounts, groups) from the store, in one
 * transaction, and publish this host's snapshot only when it differs from the
 * file there (EHR_SNAPSHOT_IF_CHANGED: an unchanged directory writes nothing).
 * For hosts of a central store, whose snapshot another host's change does not
 * reach (ehr2fa-admin sync, from a timer). Returns 0 and *ret, the errors of
 * ehr_account_publish(), or the store's (-EBUSY, -EIO, ...): on any failure
 * the snapshot there is left as it was. */
int ehr_account_sync(struct ehr_op *op, struct ehr_sync *ret);
