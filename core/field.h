/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* One rule per field of an account, written once: every writer (core/account*.c,
 * the help desk, the store) and the NSS snapshot writer check a value with the
 * same function, so a value the snapshot would refuse is refused when it is
 * written, and the front end names the rule (ehr_field_rule()), which
 * ehr2fa-admin(8) repeats word for word.
 *
 * libc only: part of libehr-base, which the snapshot writer is in. */

#include <stdbool.h>
#include <stddef.h>

/* utmp's ut_user and the NSS snapshot both hold 32 bytes. */
#define EHR_FIELD_LOGIN_MAX 32U
#define EHR_FIELD_TEXT_MAX 128U
#define EHR_FIELD_EMAIL_MAX 254U /* RFC 5321's limit on a forward path */
#define EHR_FIELD_PATH_MAX 4095U

/* E.164: '+', a country code that does not start with 0, at most 15 digits. */
#define EHR_PHONE_DIGITS_MIN 7U
#define EHR_PHONE_DIGITS_MAX 15U
/* '+', the digits, NUL. */
#define EHR_PHONE_E164_BYTES (1U + EHR_PHONE_DIGITS_MAX + 1U)

enum ehr_field {
        EHR_FIELD_NONE,     /* no field: the zero of struct ehr_op's report */
        EHR_FIELD_LOGIN,    /* a user's login, a group member */
        EHR_FIELD_GROUP,    /* a group name (the login rule: user private groups share it) */
        EHR_FIELD_PHONE,    /* as stored: E.164; typed forms go through ehr_phone_normalize() */
        EHR_FIELD_EMAIL,
        EHR_FIELD_ROLE,     /* provider or staff */
        EHR_FIELD_TEXT,     /* free text: a person's name (the GECOS field), a note */
        EHR_FIELD_PATH,     /* home directory, login shell */
        EHR_FIELD_UID,      /* a uid or gid from the configured range, used nowhere else */
        EHR_FIELD_PROVIDER, /* the login of a user whose role is provider */
        _EHR_FIELD_MAX,
};

/* Does value follow the field's rule? NULL is never valid. EHR_FIELD_UID and
 * EHR_FIELD_PROVIDER check the form only (a number; a login): whether the id is
 * free or the user a provider is the store's to say. */
bool ehr_field_valid(enum ehr_field f, const char *value);

/* The rule in words, for messages and the man page: "1 to 32 characters ...". */
const char *ehr_field_rule(enum ehr_field f);

/* What the field is called in a message: "login", "phone number", ... */
const char *ehr_field_name(enum ehr_field f);

/* ehr_field_valid(EHR_FIELD_LOGIN, login). */
bool ehr_login_valid(const char *login);

/* Normalize a number typed by a person: "+1 (555) 123-4567", "+44 20 7946 0958",
 * "+33.1.23.45.67.89" -> "+15551234567". A leading '+' is required (we cannot guess
 * a country); spaces, '-', '.', '/' and one pair of parentheses may separate digits.
 * Returns 0, -EINVAL (not a number we accept), or -ERANGE (out smaller than needed;
 * EHR_PHONE_E164_BYTES is always enough). out is written only on success. */
int ehr_phone_normalize(const char *in, char *out, size_t len);

/* True for a string that ehr_phone_normalize() would return unchanged. */
bool ehr_phone_is_e164(const char *s);

/* A password hash as stored and published in the shadow snapshot: a crypt(3)
 * string, '$' then only [./0-9A-Za-z$=,-], at most EHR_PASSWORD_HASH_MAX bytes
 * (libxcrypt's CRYPT_OUTPUT_SIZE less its NUL). Nothing that could end a shadow(5)
 * field or line. */
#define EHR_PASSWORD_HASH_MAX 383U
bool ehr_password_hash_valid(const char *hash);

/* Strict UTF-8: no overlongs, no surrogates, nothing past U+10FFFF. */
bool ehr_utf8_valid(const char *s);

/* Text as a person types it: strict UTF-8, no control character (C0 or DEL), at
 * most max bytes (SIZE_MAX: any length); NULL is not. The rule of every free text
 * we keep: EHR_FIELD_TEXT adds no ':' and 128 bytes; a break-glass reason, host or
 * review note and a password are this with their own length. */
bool ehr_text_valid(const char *s, size_t max);

/* Characters (Unicode code points) in the first n bytes of the UTF-8 s. */
size_t ehr_utf8_chars(const char *s, size_t n);
