/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>
#include <strings.h>

#include "config-internal.h"
#include "field.h"
#include "util.h"

enum key_type {
        KEY_STRING, KEY_UINT, KEY_BOOL, KEY_FAIL_MODE, KEY_ALGORITHM, KEY_SMS_MODE, KEY_OPT_STRING, KEY_PATH,
        KEY_SERVICES, KEY_MAILS, KEY_NAMES, KEY_ROLES, KEY_DATE,
};

static const struct key {
        const char *name;
        enum key_type type;
        size_t offset;
        uint64_t min, max;
} keys[] = {
#define K(n, t, lo, hi) { #n, t, offsetof(struct ehr_config, n), lo, hi }
        K(store_dir, KEY_STRING, 0, 0),
        K(store, KEY_OPT_STRING, 0, 0),
        K(store_password_file, KEY_PATH, 0, 0),
        K(issuer, KEY_STRING, 0, 0),
        K(window, KEY_UINT, 0, 10),
        K(totp_digits, KEY_UINT, 6, 8),
        K(totp_period, KEY_UINT, 10, 300),
        K(totp_algorithm, KEY_ALGORITHM, 0, 0),
        K(deny, KEY_UINT, 1, 1000),
        K(fail_interval, KEY_UINT, 1, 86400 * 365),
        K(unlock_time, KEY_UINT, 0, 86400 * 365),
        K(max_failures, KEY_UINT, 1, 100000),
        K(fail_delay_ms, KEY_UINT, 0, 60000),
        K(store_timeout_ms, KEY_UINT, 0, 60000),
        K(fail_mode, KEY_FAIL_MODE, 0, 0),
        K(nullok, KEY_BOOL, 0, 0),
        K(debug, KEY_BOOL, 0, 0),
        K(sms_mode, KEY_SMS_MODE, 0, 0),
        K(sms_url, KEY_OPT_STRING, 0, 0),
        K(sms_token_file, KEY_STRING, 0, 0),
        K(sms_from, KEY_OPT_STRING, 0, 0),
        K(sms_proxy, KEY_OPT_STRING, 0, 0),
        K(sms_ca_file, KEY_OPT_STRING, 0, 0),
        K(sms_sender, KEY_PATH, 0, 0),
        K(sms_keyword, KEY_STRING, 0, 0),
        K(sms_connect_timeout_ms, KEY_UINT, 1, 120000),
        K(sms_timeout_ms, KEY_UINT, 1, 120000),
        K(sms_token_digits, KEY_UINT, 6, 8),
        K(sms_token_ttl, KEY_UINT, 30, 600), /* NIST SP 800-63B: at most 10 minutes */
        K(sms_max_tries, KEY_UINT, 1, 10),
        K(sms_min_interval, KEY_UINT, 0, 3600),
        K(sms_max_per_hour, KEY_UINT, 1, 100),
        K(mail_url, KEY_OPT_STRING, 0, 0),
        K(mail_allow_plain, KEY_BOOL, 0, 0),
        K(mail_credentials_file, KEY_OPT_STRING, 0, 0),
        K(mail_from, KEY_OPT_STRING, 0, 0),
        K(mail_ca_file, KEY_OPT_STRING, 0, 0),
        K(mail_sender, KEY_PATH, 0, 0),
        K(notifier, KEY_PATH, 0, 0),
        K(mail_connect_timeout_ms, KEY_UINT, 1, 120000),
        K(mail_timeout_ms, KEY_UINT, 1, 120000),
        K(reset_token_ttl, KEY_UINT, 300, 86400),
        K(reset_link, KEY_OPT_STRING, 0, 0),
        K(reset_max_per_hour, KEY_UINT, 1, 100),
        K(reset_source_max_per_hour, KEY_UINT, 1, 1000),
        K(reset_answer_ms, KEY_UINT, 0, 30000),
        K(admin_pam_service, KEY_STRING, 0, 0),
        K(nss_snapshot, KEY_STRING, 0, 0),
        K(home_base, KEY_STRING, 0, 0),
        K(skel_dir, KEY_STRING, 0, 0),
        K(default_shell, KEY_STRING, 0, 0),
        K(uid_min, KEY_UINT, 1000, 4000000000U),
        K(uid_max, KEY_UINT, 1000, 4000000000U),
        K(password_min_length, KEY_UINT, 8, 256), /* NIST SP 800-63B 5.1.1.2: at least 8 */
        K(password_breached_list, KEY_PATH, 0, 0),
        K(public_host, KEY_BOOL, 0, 0),
        K(trust_days, KEY_UINT, 0, 365),
        K(trust_services, KEY_SERVICES, 0, 0),
        K(enforce_roles, KEY_ROLES, 0, 0),
        K(enforce_groups, KEY_NAMES, 0, 0),
        K(enforce_services, KEY_NAMES, 0, 0),
        K(enroll_by, KEY_DATE, 0, 0),
        K(grace_logins, KEY_UINT, 0, 1000),
        K(enforce_message, KEY_STRING, 0, 0),
        K(enroll_services, KEY_NAMES, 0, 0),
        K(enroll_hosts, KEY_NAMES, 0, 0),
        K(daemon_socket, KEY_STRING, 0, 0),
        K(break_glass, KEY_BOOL, 0, 0),
        K(break_glass_reason_min, KEY_UINT, 1, 400),
        K(break_glass_user_max, KEY_UINT, 1, 100),
        K(break_glass_user_interval, KEY_UINT, 60, 86400 * 31),
        K(break_glass_host_max, KEY_UINT, 1, 1000),
        K(break_glass_host_interval, KEY_UINT, 60, 86400 * 31),
        K(break_glass_reviewers, KEY_MAILS, 0, 0),
        K(break_glass_review_after, KEY_UINT, 60, 86400 * 365),
#undef K
};

void ehr_config_init(struct ehr_config *c) {
        *c = (struct ehr_config) {
                .window = 1,
                .totp_digits = 6,
                .totp_period = 30,
                .deny = 5,
                .fail_interval = 900,
                .unlock_time = 900,
                .max_failures = 100, /* NIST SP 800-63B 5.2.2 */
                .fail_delay_ms = 2000,
                .store_timeout_ms = 3000,
                .fail_mode = EHR_FAIL_SECURE,
                .sms_connect_timeout_ms = 5000,
                .sms_timeout_ms = 10000,
                .sms_token_digits = 6,
                .sms_token_ttl = 300,
                .sms_max_tries = 3,
                .sms_min_interval = 60,
                .sms_max_per_hour = 5,
                .trust_days = 30,
                .mail_connect_timeout_ms = 5000,
                .mail_timeout_ms = 15000,
                .reset_token_ttl = 3600,
                .reset_max_per_hour = 3,
                .reset_source_max_per_hour = 20,
                .reset_answer_ms = 1500,
                .uid_min = 60000,
                .uid_max = 64999,
                .password_min_length = 12,
                .break_glass_reason_min = 20,
                .break_glass_user_max = 1,
                .break_glass_user_interval = 12 * 3600,
                .break_glass_host_max = 3,
                .break_glass_host_interval = 86400,
                .break_glass_review_after = 86400,
        };
}

void ehr_config_done(struct ehr_config *c) {
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (keys[i].type == KEY_STRING || keys[i].type == KEY_OPT_STRING || keys[i].type == KEY_ALGORITHM ||
                    keys[i].type == KEY_PATH || keys[i].type >= KEY_SERVICES) {
                        char **p = (char **) ((char *) c + keys[i].offset);
                        free(*p);
                        *p = NULL;
                }
}

/* A web front's reset page: http(s), "{token}" in it, nothing a mail line cannot carry. */
static bool reset_link_valid(const char *v) {
        if ((strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0) || !strstr(v, "{token}") ||
            strlen(v) > 1024)
                return false;
        for (const char *p = v; *p; p++)
                if ((unsigned char) *p <= 0x20 || (unsigned char) *p >= 0x7f)
                        return false;
        return true;
}

const char *ehr_fail_mode_to_string(enum ehr_fail_mode m) {
        return m == EHR_FAIL_SAFE ? "safe" : "secure";
}

/* sudo and su ask again on purpose; a code there is a step-up, never waived by trust. */
static const char *const step_up_services[] = {
        "sudo", "sudo-i", "su", "su-l", "runuser", "runuser-l", "polkit-1", "pkexec", "doas", "ehr2fa-admin", NULL,
};

#define LIST_SEPARATORS " \t,"

bool ehr_config_list_next(const char **p, char *word, size_t len) {
        while (*p && **p) {
                *p += strspn(*p, LIST_SEPARATORS);
                size_t w = strcspn(*p, LIST_SEPARATORS);
                const char *start = *p;
                *p += w;
                if (w > 0 && w < len) {
                        memcpy(word, start, w);
                        word[w] = 0;
                        return true;
                }
        }
        return false;
}

bool ehr_config_list_has(const char *list, const char *service) {
        size_t n = strlen(service);
        for (const char *p = list; p && *p;) {
                p += strspn(p, LIST_SEPARATORS);
                size_t w = strcspn(p, LIST_SEPARATORS);
                if (w > 0 && w == n && strncmp(p, service, n) == 0)
                        return true;
                p += w;
        }
        return false;
}

bool ehr_config_step_up_service(const char *service) {
        for (size_t i = 0; step_up_services[i]; i++)
                if (streq(step_up_services[i], service))
                        return true;
        return false;
}

/* Every word of a list (separated by spaces, tabs or commas) passes word_ok. */
static int check_words(const char *value, bool (*word_ok)(const char *word)) {
        char word[EHR_FIELD_EMAIL_MAX + 1]; /* the longest word of any list */
        for (const char *p = value; *p;) {
                p += strspn(p, LIST_SEPARATORS);
                size_t w = strcspn(p, LIST_SEPARATORS);
                if (w == 0)
                        break;
                if (w >= sizeof word)
                        return -EINVAL;
                memcpy(word, p, w);
                word[w] = 0;
                if (!word_ok(word))
                        return -EINVAL;
                p += w;
        }
        return 0;
}

/* A name of a list (PAM services, groups, host names): letters, digits, '.', '_' and '-'. */
static bool name_ok(const char *word) {
        size_t w = strlen(word);
        return w < 64 && strspn(word, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == w;
}

/* trust_services: PAM service names, none of them a step-up service. */
static bool service_ok(const char *word) {
        return name_ok(word) && !ehr_config_step_up_service(word);
}

/* enforce_roles: store roles. */
static bool role_ok(const char *word) {
        return streq(word, "provider") || streq(word, "staff");
}

/* break_glass_reviewers: mail addresses, each by the email rule of field.c. */
static bool mail_ok(const char *word) {
        return ehr_field_valid(EHR_FIELD_EMAIL, word);
}

_Static_assert(ELEMENTSOF(keys) <= EHR_CONFIG_KEYS_MAX, "raise EHR_CONFIG_KEYS_MAX");

int ehr_config_key_index(const char *key) {
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (streq(keys[i].name, key))
                        return (int) i;
        return -ENOENT;
}

bool ehr_config_key_is_bool(int i) {
        return i >= 0 && (size_t) i < ELEMENTSOF(keys) && keys[i].type == KEY_BOOL;
}

int ehr_config_set(struct ehr_config *c, const char *key, const char *value) {
        int i = ehr_config_key_index(key);
        if (i < 0)
                return i;
        const struct key *k = &keys[i];

        void *field = (char *) c + k->offset;
        switch (k->type) {
        case KEY_STRING:
        case KEY_OPT_STRING:
        case KEY_PATH:
        case KEY_SERVICES:
        case KEY_MAILS:
        case KEY_NAMES:
        case KEY_ROLES:
        case KEY_DATE:
        case KEY_ALGORITHM: {
                if ((k->type == KEY_SERVICES && check_words(value, service_ok) < 0) ||
                    (k->type == KEY_MAILS && check_words(value, mail_ok) < 0) ||
                    (k->type == KEY_NAMES && check_words(value, name_ok) < 0) ||
                    (k->type == KEY_ROLES && check_words(value, role_ok) < 0))
                        return -EINVAL;
                if (k->type == KEY_DATE && ehr_parse_date(value, NULL) < 0)
                        return -EINVAL;
                if (streq(k->name, "reset_link") && !isempty(value) && !reset_link_valid(value))
                        return -EINVAL;
                if ((k->type == KEY_OPT_STRING || k->type == KEY_MAILS) && isempty(value)) {
                        free(*(char **) field);
                        *(char **) field = NULL;
                        return 0;
                }
                if (isempty(value) || (k->type == KEY_PATH && value[0] != '/'))
                        return -EINVAL;
                if (k->type == KEY_ALGORITHM && strcasecmp(value, "SHA1") != 0 && strcasecmp(value, "SHA256") != 0 &&
                    strcasecmp(value, "SHA512") != 0)
                        return -EINVAL;
                char *s = strdup(value);
                if (!s)
                        return -ENOMEM;
                free(*(char **) field);
                *(char **) field = s;
                return 0;
        }
        case KEY_UINT:
                return ehr_parse_uint(value, k->min, k->max, (uint64_t *) field);
        case KEY_BOOL:
                return ehr_parse_bool(value, (bool *) field);
        case KEY_SMS_MODE:
                if (streq(value, "none"))
                        *(enum ehr_sms_config_mode *) field = EHR_SMS_OFF;
                else if (streq(value, "generic"))
                        *(enum ehr_sms_config_mode *) field = EHR_SMS_MODE_GENERIC;
                else if (streq(value, "twilio"))
                        *(enum ehr_sms_config_mode *) field = EHR_SMS_MODE_TWILIO;
                else
                        return -EINVAL;
                return 0;
        case KEY_FAIL_MODE:
                if (streq(value, "secure"))
                        *(enum ehr_fail_mode *) field = EHR_FAIL_SECURE;
                else if (streq(value, "safe"))
                        *(enum ehr_fail_mode *) field = EHR_FAIL_SAFE;
                else
                        return -EINVAL;
                return 0;
        }
        return -EINVAL;
}

/* Whether key i of c holds what ehr_config_init() gives it. */
static bool key_default(const struct ehr_config *c, const struct ehr_config *def, size_t i) {
        const void *field = (const char *) c + keys[i].offset, *dfield = (const char *) def + keys[i].offset;
        switch (keys[i].type) {
        case KEY_UINT:
                return *(const uint64_t *) field == *(const uint64_t *) dfield;
        case KEY_BOOL:
                return *(const bool *) field == *(const bool *) dfield;
        case KEY_FAIL_MODE:
                return *(const enum ehr_fail_mode *) field == *(const enum ehr_fail_mode *) dfield;
        case KEY_SMS_MODE:
                return *(const enum ehr_sms_config_mode *) field == *(const enum ehr_sms_config_mode *) dfield;
        default: {
                const char *v = *(char *const *) field, *d = *(char *const *) dfield;
                return v == d || (v && d && streq(v, d));
        }
        }
}

static int foreach_key(const struct ehr_config *c, const struct ehr_config *def,
                       int (*cb)(const char *key, const char *value, void *userdata), void *userdata) {
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                if (def && key_default(c, def, i))
                        continue;
                const void *field = (const char *) c + keys[i].offset;
                char buf[32];
                const char *v = NULL;
                switch (keys[i].type) {
                case KEY_STRING:
                case KEY_OPT_STRING:
                case KEY_PATH:
                case KEY_SERVICES:
                case KEY_MAILS:
                case KEY_NAMES:
                case KEY_ROLES:
                case KEY_DATE:
                case KEY_ALGORITHM:
                        v = *(char *const *) field;
                        break;
                case KEY_UINT:
                        snprintf(buf, sizeof buf, "%llu", (unsigned long long) *(const uint64_t *) field);
                        v = buf;
                        break;
                case KEY_BOOL:
                        v = *(const bool *) field ? "yes" : "no";
                        break;
                case KEY_FAIL_MODE:
                        v = ehr_fail_mode_to_string(*(const enum ehr_fail_mode *) field);
                        break;
                case KEY_SMS_MODE: {
                        enum ehr_sms_config_mode m = *(const enum ehr_sms_config_mode *) field;
                        v = m == EHR_SMS_MODE_GENERIC ? "generic" : m == EHR_SMS_MODE_TWILIO ? "twilio" : "none";
                        break;
                }
                }
                if (!v)
                        continue; /* unset: the default applies on both sides */
                int r = cb(keys[i].name, v, userdata);
                if (r < 0)
                        return r;
        }
        return 0;
}

int ehr_config_foreach(const struct ehr_config *c, int (*cb)(const char *key, const char *value, void *userdata),
                       void *userdata) {
        return foreach_key(c, NULL, cb, userdata);
}

int ehr_config_foreach_changed(const struct ehr_config *c,
                               int (*cb)(const char *key, const char *value, void *userdata), void *userdata) {
        struct ehr_config def;
        ehr_config_init(&def); /* owns nothing: no ehr_config_done() */
        return foreach_key(c, &def, cb, userdata);
}

const char *ehr_daemon_socket(const struct ehr_config *c) {
        const char *p = c->daemon_socket ?: EHR_DAEMON_SOCKET_DEFAULT;
        return streq(p, "none") ? NULL : p;
}

const char *ehr_config_value_hint(const char *key) {
        int i = ehr_config_key_index(key);
        if (i >= 0)
                switch (keys[i].type) {
                case KEY_BOOL:
                        return "expected yes or no";
                case KEY_FAIL_MODE:
                        return "expected secure or safe";
                case KEY_ALGORITHM:
                        return "expected SHA1, SHA256 or SHA512";
                case KEY_UINT:
                        return "expected a whole number in range";
                case KEY_STRING:
                        return "expected a non-empty value";
                case KEY_OPT_STRING:
                        return "expected a value";
                case KEY_PATH:
                        return "expected an absolute path";
                case KEY_SERVICES:
                        return "expected PAM service names, never a step-up service such as sudo or su";
                case KEY_SMS_MODE:
                        return "expected none, generic or twilio";
                case KEY_MAILS:
                        return "expected mail addresses separated by spaces or commas";
                case KEY_NAMES:
                        return "expected names (letters, digits, '.', '_', '-'), separated by spaces or commas";
                case KEY_ROLES:
                        return "expected roles: provider, staff";
                case KEY_DATE:
                        return "expected a date, YYYY-MM-DD";
                }
        return "";
}
