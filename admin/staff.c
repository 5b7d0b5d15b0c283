/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Staff 2FA set up by a manager (the seed's "Set Up" in Staff Members). */
#include <security/pam_appl.h>
#include <sodium.h>

#include "admin.h"

#define PASSWORD_MAX 512U

static void twofa_column(const struct ehr_user *u, char *buf, size_t len) {
        if (*u->sms_2fa_id)
                snprintf(buf, len, "Active: %s", u->sms_2fa_id);
        else if (u->totp_enrolled)
                snprintf(buf, len, "Active: app");
        else
                snprintf(buf, len, "Inactive");
}

static int list_one(const struct ehr_user *u, void *userdata) {
        struct admin_list *st = userdata;
        char twofa[48];
        if (!streq(u->role, "staff"))
                return 0;
        twofa_column(u, twofa, sizeof twofa);
        if (st->a->json) {
                printf("%s{\"login\":", st->n ? ",\n " : "");
                json_string(stdout, u->login);
                json_field("name", u->name);
                json_field("email", u->email);
                json_field("primary_provider", u->provider);
                json_field("cell", u->phone);
                json_field("2fa", twofa);
                printf("}");
        } else
                printf("%-18s %-20s %-26s %-16s %-14s %s\n", u->login, u->name, u->email, u->provider, u->phone, twofa);
        st->n++;
        return 0;
}

static int staff_list(struct admin *a) {
        struct admin_list st;
        int r = admin_list_users(a, "staff list", list_one, &st, "%-18s %-20s %-26s %-16s %-14s %s\n", "LOGIN", "NAME",
                                 "EMAIL", "PRIMARY PROVIDER", "CELL", "2-FAC SEC");
        return r < 0 ? admin_err(admin_exit_from_errno(r), "cannot list staff: %s", ehr_strerror(r)) : r;
}

/* The manager's own password, read once, answered to PAM's prompts. */
struct conv_data {
        char password[PASSWORD_MAX];
        bool have;
};

static int conv(int n, const struct pam_message **msg, struct pam_response **resp, void *userdata) {
        struct conv_data *d = userdata;
        struct pam_response *r = calloc((size_t) n, sizeof *r);
        if (!r)
                return PAM_BUF_ERR;
        for (int i = 0; i < n; i++)
                switch (msg[i]->msg_style) {
                case PAM_PROMPT_ECHO_OFF:
                case PAM_PROMPT_ECHO_ON:
                        if (!d->have && admin_read_secret("Your password (not the staff member's): ", d->password,
                                                          sizeof d->password) == 0)
                                d->have = true;
                        r[i].resp = strdup(d->have ? d->password : "");
                        if (!r[i].resp) {
                                for (int j = 0; j < i; j++)
                                        free(r[j].resp);
                                free(r);
                                return PAM_BUF_ERR;
                        }
                        break;
                case PAM_ERROR_MSG:
                case PAM_TEXT_INFO:
                        fprintf(stderr, "%s\n", msg[i]->msg);
                        break;
                }
        *resp = r;
        return PAM_SUCCESS;
}

/* Check the caller's own password through PAM, as the seed's "enter your password
 * (not the password of the staff member)". */
static int confirm_password(struct admin *a) {
        struct conv_data d = {};
        struct pam_conv c = { conv, &d };
        pam_handle_t *pamh = NULL;
        const char *service = a->cfg.admin_pam_service ?: EHR_ADMIN_PAM_SERVICE_DEFAULT;
        int r = pam_start(service, a->actor, &c, &pamh);
        if (r == PAM_SUCCESS)
                r = pam_authenticate(pamh, PAM_DISALLOW_NULL_AUTHTOK);
        if (r == PAM_SUCCESS)
                r = pam_acct_mgmt(pamh, 0);
        sodium_memzero(&d, sizeof d);
        if (pamh)
                pam_end(pamh, r);
        return r == PAM_SUCCESS ? 0 : -EBADRQC;
}

static int setup_refused(const struct ehr_user *u, int r) {
        switch (r) {
        case -EINVAL:
                return admin_err(EXIT_USAGE, "%s is not a staff member", u->login);
        case -ENOENT:
                return admin_err(EXIT_FAIL, "%s has no cell phone number on their staff record; add one first",
                                 u->login);
        case -EALREADY:
                return admin_err(EXIT_FAIL, "2FA is already active for %s (%s)", u->login, u->sms_2fa_id);
        case -EOPNOTSUPP:
                return admin_err(EXIT_FAIL,
                                 "cannot set up SMS 2FA for %s: this host sends no text messages (sms_mode = none in "
                                 "ehr2fa.conf), so %s could not log in; configure the text gateway first, or enroll "
                                 "the app instead ('totp enroll %s')",
                                 u->login, u->login, u->login);
        default:
                return admin_err(admin_exit_from_errno(r), "cannot set up 2FA: %s", ehr_strerror(r));
        }
}

static int setup(struct admin *a, const char *login) {
        _cleanup_(ehr_user_freep) struct ehr_user *u = NULL;
        char id[EHR_SMS_2FA_ID_BYTES];
        struct ehr_op op = admin_op(a);
        int r = admin_authorize(a, "staff 2fa setup", NULL, EHR_PERM_MANAGE_ACCOUNTS, NULL);
        if (r || (r = admin_get_user(a, login, &u)))
                return r;
        if ((r = ehr_account_staff_sms_check(&op, u)) < 0)
                return setup_refused(u, r);

        printf("%s's account will be tied to their email and cell phone.\nEmail to use: %s  Cell phone to use: %s\n",
               u->name[0] ? u->name : u->login, u->email[0] ? u->email : "(none)", u->phone);
        fflush(stdout);
        if (confirm_password(a) < 0) {
                (void) admin_audit(a, u->login, "staff 2FA setup refused", "manager's password not confirmed");
                return admin_err(EXIT_PERM, "password not confirmed for %s; nothing changed", a->actor);
        }
        if ((r = ehr_account_staff_sms_setup(&op, u, id)) < 0)
                return setup_refused(u, r);
        printf("Two-Factor Authentication is successfully set for the selected staff.\n%s: Active: %s\n"
               "At the next login %s is asked for a code: typing \"sms\" sends one to their phone; the app can be "
               "enrolled later.\n",
               u->login, id, u->login);
        return 0;
}

int verb_staff(struct admin *a, int argc, char **argv) {
        admin_take_json(a, &argc, argv);
        if (argc == 2 && streq(argv[1], "list"))
                return staff_list(a);
        if (argc == 4 && streq(argv[1], "2fa") && streq(argv[2], "setup"))
                return setup(a, argv[3]);
        return admin_err(EXIT_USAGE, "usage: staff list | staff 2fa setup LOGIN");
}
