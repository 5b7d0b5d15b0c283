/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* ehr2fa.conf: `key = value` lines, `#` comments. Shared by the module and
 * the admin tool so that they can never disagree on a default. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define EHR_CONFIG_DEFAULT_PATH EHR2FA_SYSCONFDIR "/ehr2fa/ehr2fa.conf"
#define EHR_STORE_DEFAULT_DIR "/var/lib/ehr2fa"
#define EHR_CONFIG_ERR_MAX 512U
#define EHR_SMS_KEYWORD_DEFAULT "sms"
#define EHR_ADMIN_PAM_SERVICE_DEFAULT "ehr2fa-admin"
#define EHR_DAEMON_SOCKET_DEFAULT "/run/ehr2fa/ehr2fad.sock"
#define EHR_SMS_TOKEN_FILE_DEFAULT EHR2FA_SYSCONFDIR "/ehr2fa/sms-token"
/* What a user types at the code prompt for break-glass access (break_glass = yes). */
#define EHR_BREAK_GLASS_KEYWORD "emergency"
/* Logins, where "trust this device" is offered and honoured unless trust_services says otherwise. */
#define EHR_TRUST_SERVICES_DEFAULT "login sshd gdm-password lightdm sddm xrdp-sesman"

#define EHR_ENFORCE_MESSAGE_DEFAULT                                                                       \
        "Two-Factor Authentication (2FA) is required for your account on this computer and is not set up. " \
        "Call the help desk to set it up."

enum ehr_fail_mode {
        EHR_FAIL_SECURE, /* store unreachable: deny, with a message */
        EHR_FAIL_SAFE,   /* store unreachable: allow, and say so in syslog */
};

enum ehr_sms_config_mode {
        EHR_SMS_OFF,
        EHR_SMS_MODE_GENERIC,
        EHR_SMS_MODE_TWILIO,
};

struct ehr_config {
        char *store_dir;        /* SQLite's directory; with a server (store), the master key's */
        char *store;            /* a PostgreSQL server (postgresql://... or a libpq conninfo); NULL: SQLite */
        char *store_password_file; /* its password, root's alone; NULL: none */
        char *issuer;           /* label in otpauth:// URIs */
        uint64_t window;        /* TOTP steps accepted either side of now */
        uint64_t totp_digits;   /* enrollment defaults */
        uint64_t totp_period;
        char *totp_algorithm;   /* SHA1, SHA256, SHA512 */
        uint64_t deny;          /* failures within fail_interval that lock */
        uint64_t fail_interval; /* seconds */
        uint64_t unlock_time;   /* seconds; 0 = only an admin unlocks */
        uint64_t max_failures;  /* consecutive failures, never reset by time, that lock until cleared */
        uint64_t fail_delay_ms; /* minimum delay after a failed attempt */
        uint64_t store_timeout_ms;
        enum ehr_fail_mode fail_mode;
        bool nullok;            /* users not in the store / not enrolled are ignored (PAM_IGNORE) */
        bool debug;

        /* SMS tokens on request (the user types sms_keyword at the prompt). */
        enum ehr_sms_config_mode sms_mode;
        char *sms_url;
        char *sms_token_file;
        char *sms_from;
        char *sms_proxy;
        char *sms_ca_file;
        char *sms_sender;           /* the program that sends (ehr2fa-sms-send), an absolute path */
        char *sms_keyword;
        uint64_t sms_connect_timeout_ms;
        uint64_t sms_timeout_ms;
        uint64_t sms_token_digits;
        uint64_t sms_token_ttl;     /* seconds */
        uint64_t sms_max_tries;     /* wrong answers that void a token */
        uint64_t sms_min_interval;  /* seconds between two sends to one user */
        uint64_t sms_max_per_hour;

        /* Mail (core/mail.h): the forgotten-password reset, notifications. */
        char *mail_url;             /* smtps://HOST[:PORT] or smtp://HOST[:PORT] (STARTTLS); NULL: no mail */
        bool mail_allow_plain;      /* smtp:// without STARTTLS */
        char *mail_credentials_file; /* "USER:PASSWORD", root-only; NULL: no AUTH */
        char *mail_from;            /* the sender's address */
        char *mail_ca_file;
        char *mail_sender;          /* the program that sends (ehr2fa-mail-send), an absolute path */
        char *notifier;             /* tells break-glass reviewers after the login (ehr2fa-notify) */
        uint64_t mail_connect_timeout_ms;
        uint64_t mail_timeout_ms;

        /* The forgotten-password reset (core/reset.h). */
        uint64_t reset_token_ttl;   /* seconds */
        char *reset_link;           /* a web front's page, "{token}" replaced; NULL: no link */
        uint64_t reset_max_per_hour;        /* requests per address */
        uint64_t reset_source_max_per_hour; /* requests per calling uid on a host, and per host */
        uint64_t reset_answer_ms;   /* "password forgot" answers after this long, whatever happened */

        /* System accounts published to libnss_ehr. */
        char *nss_snapshot;
        char *home_base;            /* NULL: /home */
        char *skel_dir;             /* copied into a new home; NULL: /etc/skel */
        char *default_shell;
        uint64_t uid_min, uid_max;

        /* Passwords of managed accounts (core/password.h). */
        uint64_t password_min_length;  /* characters (bytes of UTF-8 counted as one each) */
        char *password_breached_list;  /* NULL: EHR_PASSWORD_BREACHED_DEFAULT */

        /* PAM service that checks a manager's own password (staff 2fa setup). */
        char *admin_pam_service;

        /* Trusted devices. */
        bool public_host;           /* never offer or honour trust here */
        uint64_t trust_days;        /* 0: never offer */
        char *trust_services;       /* PAM services that offer and honour it; NULL: EHR_TRUST_SERVICES_DEFAULT */

        /* Break-the-glass access (emergency, without a second factor): off by default;
         * clinical workstations only, never servers. */
        bool break_glass;
        uint64_t break_glass_reason_min;    /* characters of the reason, at least */
        uint64_t break_glass_user_max;      /* uses per user in break_glass_user_interval */
        uint64_t break_glass_user_interval; /* seconds */
        uint64_t break_glass_host_max;      /* uses on one host in break_glass_host_interval */
        uint64_t break_glass_host_interval; /* seconds */
        char *break_glass_reviewers;        /* mail addresses notified of each use; NULL: none */
        uint64_t break_glass_review_after;  /* seconds before an unreviewed use is overdue */
        /* Enforcement (core/enforce.h): who must have a second factor on this host, from
         * when, at which services. No enforce_roles and no enforce_groups: no policy, and
         * nullok decides for every user as before. */
        char *enforce_roles;        /* store roles (provider, staff) */
        char *enforce_groups;       /* store groups and the host's groups (getgrouplist) */
        char *enforce_services;     /* PAM services where it is enforced; NULL: every service */
        char *enroll_by;            /* YYYY-MM-DD: the last day without one; NULL: already enforced */
        uint64_t grace_logins;      /* logins after enroll_by still let through, each said */
        char *enforce_message;      /* the help desk's instructions when refused; NULL: EHR_ENFORCE_MESSAGE_DEFAULT */
        char *enroll_services;      /* PAM services that offer enrollment at login; NULL: none */
        char *enroll_hosts;         /* host names that offer it; NULL: any (never a public_host) */

        /* ehr2fad, the optional daemon that keeps the store open ("none": never ask it). */
        char *daemon_socket;
};

/* Fill in the defaults. */
void ehr_config_init(struct ehr_config *c);

/* Free what the config owns; safe on an initialised or zeroed config. */
void ehr_config_done(struct ehr_config *c);

/* Set one key. Returns 0, -ENOENT (unknown key), -EINVAL or -ERANGE (bad value), -ENOMEM. */
int ehr_config_set(struct ehr_config *c, const char *key, const char *value);

/* Read a config file over the current values. The file must be a regular file
 * owned by root or the caller and not writable by others. With missing_ok a
 * file that does not exist is not an error. An unknown key, a bad value, or a key
 * set twice in the file is an error. On failure writes "FILE:LINE: what" (or
 * "FILE: what") into err. Returns 0 or a negative errno. */
int ehr_config_load(struct ehr_config *c, const char *path, bool missing_ok, char *err, size_t errlen);
/* The parser behind it: the lines of f, read until EOF, the first error stopping it. path
 * only names the file in err. */
int ehr_config_parse(struct ehr_config *c, FILE *f, const char *path, char *err, size_t errlen);

/* Module arguments over the file (`pam_ehr2fa.so window=3 nullok`): each is `key=value`
 * for any key of the file, or the bare name of a yes/no key for "yes". An argument
 * overrides the file's value of the same key, for that PAM line only: that is the
 * documented rule (pam_ehr2fa(8)), so the file and the arguments never conflict in an
 * undefined way. Arguments matching front_end (a NULL-terminated list of the caller's
 * own: "conf=" matches any argument starting with it, "unlock" only itself) are left
 * to the caller. Refused, with -EINVAL and err naming the argument, and nothing
 * ignored: an unknown name, a bad value, a name given twice (front end's included).
 * Returns 0, -EINVAL or -ENOMEM; c may be partly changed on failure. */
int ehr_config_apply_args(struct ehr_config *c, int argc, const char *const *argv, const char *const *front_end,
                          char *err, size_t errlen);

/* Call cb with every key that has a value, formatted as the config file would
 * spell it, so that another process can rebuild the same config with
 * ehr_config_set(). Stops at and returns the first negative return of cb. */
int ehr_config_foreach(const struct ehr_config *c, int (*cb)(const char *key, const char *value, void *userdata),
                       void *userdata);
/* The same for the keys whose value is not the one ehr_config_init() gives: applied
 * with ehr_config_set() on top of ehr_config_init(), they rebuild the same config. */
int ehr_config_foreach_changed(const struct ehr_config *c,
                               int (*cb)(const char *key, const char *value, void *userdata), void *userdata);

/* The daemon socket to try, or NULL when daemon_socket = none. */
const char *ehr_daemon_socket(const struct ehr_config *c);

/* A step-up service (sudo, su, polkit-1, ...): the code there confirms the person at
 * the keyboard now, so trust made at a login is never honoured there, and
 * trust_services refuses to name one. */
bool ehr_config_step_up_service(const char *service);

/* The next word of a list (separated by spaces, tabs or commas) into word, and
 * *p moved past it; false at the end. A word too long for word is skipped. */
bool ehr_config_list_next(const char **p, char *word, size_t len);

/* Is service one of the words of list (separated by spaces, tabs or commas)? */
bool ehr_config_list_has(const char *list, const char *service);

/* The name of a fail mode, for messages. */
const char *ehr_fail_mode_to_string(enum ehr_fail_mode m);
