/* SPDX-License-Identifier: GPL-2.0-or-later */
#define EHR_SQLITE_LOAD_IMPL 1
#include <errno.h>
#include <pthread.h>

#include "dl.h"
#include "load.h"

struct ehr_sqlite_api ehr_sqlite;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int load_result = -ELIBACC;

static void load(void) {
        static const struct ehr_dl_sym syms[] = {
#define EHR_SQLITE_SYM(f) { "sqlite3_" #f, offsetof(struct ehr_sqlite_api, f) },
                EHR_SQLITE_FUNCS(EHR_SQLITE_SYM)
#undef EHR_SQLITE_SYM
        };
        load_result = ehr_dl_load(EHR_SQLITE_SONAME, syms, sizeof syms / sizeof syms[0], &ehr_sqlite);
}

int ehr_sqlite_load(const char **ret_why) {
        if (pthread_once(&once, load) != 0) {
                *ret_why = "pthread_once failed";
                return -EIO;
        }
        if (load_result == -ELIBACC)
                *ret_why = "cannot load " EHR_SQLITE_SONAME " (is libsqlite3-0 installed?)";
        else if (load_result < 0)
                *ret_why = EHR_SQLITE_SONAME " lacks a function this build needs: too old";
        return load_result;
}
