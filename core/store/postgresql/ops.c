/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The PostgreSQL backend's table of operations, what core/store.c calls, and
 * its cursor for the neutral row reader (store-row.h). */

#include "internal.h"

const struct ehr_store_ops ehr_store_postgresql_ops = {
        .name = "postgresql",
#define EHR_PG_OP(type, op, params) .op = ehr_pg_##op,
        EHR_STORE_OPS(EHR_PG_OP)
#undef EHR_PG_OP
};

/* The cursor of store-row.h: a result and its current row, in text format. */

static bool row_null(const void *at, int col) {
        return col_null(at, col);
}

static bool row_integer(const void *at, int col, int64_t *ret) {
        if (col_null(at, col))
                return false;
        const char *t = col_text(at, col);
        char *end = NULL;
        errno = 0;
        long long v = *t ? strtoll(t, &end, 10) : 0;
        if (!*t || !end || *end || errno != 0)
                return false;
        *ret = v;
        return true;
}

static const char *row_text(const void *at, int col) {
        return col_text(at, col);
}

static int hexval(char c) {
        return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* bytea in text format: \x and hex digits. */
static int row_blob(const void *at, int col, uint8_t *buf, size_t cap) {
        if (col_null(at, col))
                return -EBADMSG;
        const char *t = col_text(at, col);
        size_t n = strlen(t);
        if (n < 2 || t[0] != '\\' || t[1] != 'x' || n % 2 != 0 || (n - 2) / 2 > cap)
                return -EBADMSG;
        for (size_t i = 0; i < (n - 2) / 2; i++) {
                int hi = hexval(t[2 + 2 * i]), lo = hexval(t[3 + 2 * i]);
                if (hi < 0 || lo < 0)
                        return -EBADMSG;
                buf[i] = (uint8_t) (hi << 4 | lo);
        }
        return (int) ((n - 2) / 2);
}

const struct ehr_row_ops ehr_pg_row_ops = {
        .null = row_null,
        .integer = row_integer,
        .text = row_text,
        .blob = row_blob,
};
