/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* One row of a backend's result, read above the seam.
 *
 * A backend gives four accessors over its cursor (a SQLite statement on a row;
 * a libpq result and a row number); the checked reads of every value and the
 * decoders of the store's rows are here, once, whatever holds them. A column
 * added to a table is read in one place.
 *
 * A row may have been edited by hand: an integer outside what the code writes
 * (a negative count, a time after 9999, a text where a number belongs) fails
 * the read with -EOVERFLOW and is named in bad_value; a hash or a sealed blob
 * of the wrong size is -EBADMSG. Nothing is wrapped or clamped. The error is
 * sticky, so a row reads as one expression and is checked once:
 *         struct ehr_row rd = ROW(s, st);
 *         f.count = ehr_row_uint(&rd, 0, "failures.count", EHR_STORE_COUNT_MAX);
 *         ...
 *         if (rd.r < 0) return rd.r; */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store-backend.h"

struct ehr_row_ops {
        /* The column holds NULL (or is not there). */
        bool (*null)(const void *at, int col);
        /* The column as an integer: true and *ret; false when it holds anything else. */
        bool (*integer)(const void *at, int col, int64_t *ret);
        /* The column as text: never NULL ("" for NULL), valid until the cursor moves. */
        const char *(*text)(const void *at, int col);
        /* The column's bytes into buf: how many, or -EBADMSG (NULL, not bytes, more than cap). */
        int (*blob)(const void *at, int col, uint8_t *buf, size_t cap);
};

struct ehr_row {
        const struct ehr_row_ops *ops;
        const void *at;  /* the backend's cursor */
        char *bad_value; /* EHR_STORE_BAD_VALUE_MAX bytes, the backend's, for its bad_value() */
        int r;           /* the first error: sticky */
};

#define EHR_ROW_ID_MAX INT64_MAX
#define EHR_ROW_UID_MAX ((int64_t) UINT32_MAX - 1) /* (uid_t) -1 is no uid */

/* Values. Each returns 0 (or "") once rd->r is set. */
int64_t ehr_row_int(struct ehr_row *rd, int col, const char *what, int64_t min, int64_t max);
uint64_t ehr_row_uint(struct ehr_row *rd, int col, const char *what, uint64_t max);
uint64_t ehr_row_time(struct ehr_row *rd, int col, const char *what);
/* A lock's end: a time, or -1 for "until cleared" (UINT64_MAX). */
uint64_t ehr_row_until(struct ehr_row *rd, int col, const char *what);
bool ehr_row_bool(struct ehr_row *rd, int col, const char *what);
bool ehr_row_null(struct ehr_row *rd, int col);
const char *ehr_row_text(struct ehr_row *rd, int col);
/* A copy the caller frees; NULL (and -ENOMEM) when memory runs out. */
char *ehr_row_strdup(struct ehr_row *rd, int col);
/* A keyed hash: exactly EHR_HASH_BYTES, or -EBADMSG. */
void ehr_row_hash(struct ehr_row *rd, int col, uint8_t out[EHR_HASH_BYTES]);
/* A sealed blob: 1 to cap bytes, or -EBADMSG. */
size_t ehr_row_sealed(struct ehr_row *rd, int col, uint8_t *buf, size_t cap);

/* The store's rows, each read from column 0 of its statement in the order the
 * backends' SELECTs give (their sql.c say which). 0 or rd->r. */
int ehr_row_user(struct ehr_row *rd, struct ehr_user **ret);
int ehr_row_failures(struct ehr_row *rd, struct ehr_failures *ret);
int ehr_row_audit(struct ehr_row *rd, struct ehr_audit_row *ret);
int ehr_row_totp(struct ehr_row *rd, struct ehr_store_totp_row *ret);
int ehr_row_sms_token(struct ehr_row *rd, struct ehr_sms_token *ret);
int ehr_row_device(struct ehr_row *rd, struct ehr_device *ret);
int ehr_row_request(struct ehr_row *rd, struct ehr_support_request *ret);
int ehr_row_group(struct ehr_row *rd, struct ehr_group *ret);
int ehr_row_break_glass(struct ehr_row *rd, struct ehr_break_glass *ret);
/* (sealed PIN, failures, locked_until) and (hash, failures, locked_until). */
int ehr_row_support_pin(struct ehr_row *rd, struct ehr_store_pin_row *ret);
int ehr_row_unlock_pin(struct ehr_row *rd, uint8_t ret_hash[EHR_HASH_BYTES], struct ehr_pin_state *ret_state);
/* (hash, used) of a recovery code; (user_id, expires) of a reset token. */
int ehr_row_recovery(struct ehr_row *rd, uint8_t ret_hash[EHR_HASH_BYTES], bool *ret_used);
int ehr_row_reset_token(struct ehr_row *rd, int64_t *ret_user_id, uint64_t *ret_expires_sec);
/* One positive id in column 0 (a RETURNING id, a found row). */
int ehr_row_id(struct ehr_row *rd, const char *what, int64_t *ret_id);

/* The audit chain's head as one blob: the sequence (8 bytes, little-endian) and the last MAC. */
#define EHR_AUDIT_HEAD_BYTES (8U + EHR_HASH_BYTES)
void ehr_audit_head_pack(uint64_t seq, const uint8_t mac[EHR_HASH_BYTES], uint8_t out[EHR_AUDIT_HEAD_BYTES]);
int ehr_row_audit_head(struct ehr_row *rd, int col, uint64_t *ret_seq, uint8_t ret_mac[EHR_HASH_BYTES]);
