/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One rule per account field (see field.h); libc only. */

#include <stdint.h>

#include "field.h"
#include "util.h"

static const struct {
        const char *name, *rule;
} fields[_EHR_FIELD_MAX] = {
        [EHR_FIELD_LOGIN] = { "login", "1 to 32 characters from a-z 0-9 . _ -, not starting with - or ., not all digits" },
        [EHR_FIELD_GROUP] = { "group name",
                              "1 to 32 characters from a-z 0-9 . _ -, not starting with - or ., not all digits" },
        [EHR_FIELD_PHONE] = { "phone number",
                              "use international form, e.g. +15551234567: + and 7 to 15 digits, the first not 0; "
                              "spaces, - . / and one pair of ( ) may separate them" },
        [EHR_FIELD_EMAIL] = { "email address",
                              "at most 254 characters: one @ with text before and after it, no spaces, "
                              "control characters or :" },
        [EHR_FIELD_ROLE] = { "role", "expected provider or staff" },
        [EHR_FIELD_TEXT] = { "text", "at most 128 bytes of UTF-8 text, no control characters (tabs, line breaks) or :" },
        [EHR_FIELD_PATH] = { "path", "an absolute path (starting with /) of at most 4095 bytes, no control characters or :" },
        [EHR_FIELD_UID] = { "uid", "a number from uid_min to uid_max that no user or group of the store or the system has" },
        [EHR_FIELD_PROVIDER] = { "provider", "the login of a user whose role is provider" },
};

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

bool ehr_login_valid(const char *login) {
        if (!login || login[0] == '-' || login[0] == '.')
                return false;
        size_t n = 0;
        bool all_digits = true;
        for (const char *p = login; *p; p++, n++) {
                /* ':' ',' '/' and blanks break passwd, group and home paths; upper case
                 * and the rest are refused by useradd's default rule too. */
                if (n >= EHR_FIELD_LOGIN_MAX ||
                    !((*p >= 'a' && *p <= 'z') || is_digit(*p) || *p == '.' || *p == '_' || *p == '-'))
                        return false;
                all_digits = all_digits && is_digit(*p);
        }
        /* An all-digit name reads as a uid to chown, id and getent. */
        return n > 0 && !all_digits;
}

bool ehr_password_hash_valid(const char *hash) {
        size_t n = hash ? strlen(hash) : 0;
        return n > 1 && n <= EHR_PASSWORD_HASH_MAX && hash[0] == '$' &&
               strspn(hash, "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz$=,-") == n;
}

bool ehr_utf8_valid(const char *s) {
        const unsigned char *p = (const unsigned char *) s;
        while (*p) {
                unsigned c = *p;
                size_t k;
                uint32_t cp, min;
                if (c < 0x80) {
                        p++;
                        continue;
                } else if ((c & 0xe0) == 0xc0) {
                        k = 1, cp = c & 0x1f, min = 0x80;
                } else if ((c & 0xf0) == 0xe0) {
                        k = 2, cp = c & 0x0f, min = 0x800;
                } else if ((c & 0xf8) == 0xf0) {
                        k = 3, cp = c & 0x07, min = 0x10000;
                } else
                        return false;
                for (size_t i = 1; i <= k; i++) {
                        if ((p[i] & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (p[i] & 0x3f);
                }
                if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                p += 1 + k;
        }
        return true;
}

bool ehr_text_valid(const char *s, size_t max) {
        if (!s)
                return false;
        size_t n = 0;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++, n++)
                if (n >= max || *p < 0x20 || *p == 0x7f)
                        return false;
        return ehr_utf8_valid(s);
}

size_t ehr_utf8_chars(const char *s, size_t n) {
        size_t k = 0;
        for (size_t i = 0; i < n && s[i]; i++)
                k += ((unsigned char) s[i] & 0xc0) != 0x80;
        return k;
}

/* Text (ehr_text_valid()) without ':', which ends a passwd field. */
static bool plain(const char *s, size_t max) {
        return ehr_text_valid(s, max) && !strchr(s, ':');
}

static bool email_valid(const char *s) {
        const char *at = strchr(s, '@');
        return plain(s, EHR_FIELD_EMAIL_MAX) && !strpbrk(s, " ") && at && at != s && at[1] && !strchr(at + 1, '@');
}

static bool uid_valid(const char *s) {
        uint64_t v;
        return ehr_parse_uint(s, 1, UINT32_MAX - 1, &v) >= 0;
}

bool ehr_field_valid(enum ehr_field f, const char *value) {
        if (!value)
                return false;
        switch (f) {
        case EHR_FIELD_LOGIN:
        case EHR_FIELD_GROUP:
        case EHR_FIELD_PROVIDER:
                return ehr_login_valid(value);
        case EHR_FIELD_PHONE:
                return ehr_phone_is_e164(value);
        case EHR_FIELD_EMAIL:
                return email_valid(value);
        case EHR_FIELD_ROLE:
                return streq(value, "provider") || streq(value, "staff");
        case EHR_FIELD_TEXT:
                return plain(value, EHR_FIELD_TEXT_MAX);
        case EHR_FIELD_PATH:
                return value[0] == '/' && plain(value, EHR_FIELD_PATH_MAX);
        case EHR_FIELD_UID:
                return uid_valid(value);
        default:
                return false;
        }
}

const char *ehr_field_rule(enum ehr_field f) {
        return (unsigned) f < _EHR_FIELD_MAX && fields[f].rule ? fields[f].rule : "";
}

const char *ehr_field_name(enum ehr_field f) {
        return (unsigned) f < _EHR_FIELD_MAX && fields[f].name ? fields[f].name : "value";
}

bool ehr_phone_is_e164(const char *s) {
        if (!s || s[0] != '+' || !is_digit(s[1]) || s[1] == '0')
                return false;
        size_t n = 0;
        for (const char *p = s + 1; *p; p++, n++)
                if (!is_digit(*p) || n >= EHR_PHONE_DIGITS_MAX)
                        return false;
        return n >= EHR_PHONE_DIGITS_MIN;
}

int ehr_phone_normalize(const char *in, char *out, size_t len) {
        char digits[EHR_PHONE_DIGITS_MAX];
        size_t n = 0;
        bool in_paren = false, had_paren = false;

        if (!in)
                return -EINVAL;
        const char *p = in;
        while (*p == ' ' || *p == '\t')
                p++;
        /* A leading '+' is required: without it we would have to guess the country, and a
         * wrong guess sends a login code to a stranger. */
        if (*p++ != '+')
                return -EINVAL;
        for (; *p; p++) {
                if (is_digit(*p)) {
                        if (n >= EHR_PHONE_DIGITS_MAX)
                                return -EINVAL;
                        digits[n++] = *p;
                } else if (*p == '(') {
                        if (had_paren)
                                return -EINVAL;
                        in_paren = had_paren = true;
                } else if (*p == ')') {
                        if (!in_paren)
                                return -EINVAL;
                        in_paren = false;
                } else if (*p == ' ' || *p == '\t' || *p == '-' || *p == '.' || *p == '/')
                        continue;
                else
                        return -EINVAL;
        }
        if (in_paren || n < EHR_PHONE_DIGITS_MIN || digits[0] == '0')
                return -EINVAL;
        if (len < 1 + n + 1)
                return -ERANGE;
        out[0] = '+';
        memcpy(out + 1, digits, n);
        out[1 + n] = 0;
        return 0;
}
