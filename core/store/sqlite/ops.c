/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The SQLite backend's table of operations, what core/store.c calls, and its
 * cursor for the neutral row reader (store-row.h). */

#include "internal.h"

const struct ehr_store_ops ehr_store_sqlite_ops = {
        .name = "sqlite",
#define EHR_SQLITE_OP(type, op, params) .op = ehr_sqlite_##op,
        EHR_STORE_OPS(EHR_SQLITE_OP)
#undef EHR_SQLITE_OP
};

/* The cursor of store-row.h: a statement on its current row. */

static bool row_null(const void *at, int col) {
        return sqlite3_column_type((sqlite3_stmt *) at, col) == SQLITE_NULL;
}

static bool row_integer(const void *at, int col, int64_t *ret) {
        sqlite3_stmt *st = (sqlite3_stmt *) at;
        if (sqlite3_column_type(st, col) != SQLITE_INTEGER) /* before any conversion */
                return false;
        *ret = sqlite3_column_int64(st, col);
        return true;
}

static const char *row_text(const void *at, int col) {
        return col_text((sqlite3_stmt *) at, col);
}

static int row_blob(const void *at, int col, uint8_t *buf, size_t cap) {
        sqlite3_stmt *st = (sqlite3_stmt *) at;
        const void *b = sqlite3_column_blob(st, col);
        int n = sqlite3_column_bytes(st, col);
        if (!b || n < 0 || (size_t) n > cap)
                return -EBADMSG;
        memcpy(buf, b, (size_t) n);
        return n;
}

const struct ehr_row_ops ehr_sqlite_row_ops = {
        .null = row_null,
        .integer = row_integer,
        .text = row_text,
        .blob = row_blob,
};
