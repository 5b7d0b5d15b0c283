/* SPDX-License-Identifier: GPL-2.0-or-later */
#define EHR_PG_LOAD_IMPL 1
#include <errno.h>
#include <pthread.h>

#include "dl.h"
#include "load.h"

struct ehr_pg_api ehr_pg;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int load_result = -ELIBACC;

static void load(void) {
        static const struct ehr_dl_sym syms[] = {
#define EHR_PG_SYM(f) { #f, offsetof(struct ehr_pg_api, f) },
                EHR_PG_FUNCS(EHR_PG_SYM)
#undef EHR_PG_SYM
        };
        load_result = ehr_dl_load(EHR_PG_SONAME, syms, sizeof syms / sizeof syms[0], &ehr_pg);
}

int ehr_pg_load(const char **ret_why) {
        if (pthread_once(&once, load) != 0) {
                *ret_why = "pthread_once failed";
                return -EIO;
        }
        if (load_result == -ELIBACC)
                *ret_why = "cannot load " EHR_PG_SONAME " (is libpq5 installed?)";
        else if (load_result < 0)
                *ret_why = EHR_PG_SONAME " lacks a function this build needs: too old";
        return load_result;
}
