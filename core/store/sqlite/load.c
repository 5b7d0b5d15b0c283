/* SPDX-License-Identifier: GPL-2.0-or-later */
#define EHR_SQLITE_LOAD_IMPL 1

#include "dl.h"
#include "load.h"

struct ehr_sqlite_api ehr_sqlite;

static const struct ehr_dl_sym syms[] = {
#define EHR_SQLITE_SYM(f) { "sqlite3_" #f, offsetof(struct ehr_sqlite_api, f) },
        EHR_SQLITE_FUNCS(EHR_SQLITE_SYM)
#undef EHR_SQLITE_SYM
};

static struct ehr_dl_lib lib = EHR_DL_LIB(EHR_SQLITE_SONAME, "libsqlite3-0", syms, &ehr_sqlite, NULL);

int ehr_sqlite_load(const char **ret_why) {
        return ehr_dl_load_once(&lib, ret_why);
}
