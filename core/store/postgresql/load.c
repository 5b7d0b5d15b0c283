/* SPDX-License-Identifier: GPL-2.0-or-later */
#define EHR_PG_LOAD_IMPL 1

#include "dl.h"
#include "load.h"

struct ehr_pg_api ehr_pg;

static const struct ehr_dl_sym syms[] = {
#define EHR_PG_SYM(f) { #f, offsetof(struct ehr_pg_api, f) },
        EHR_PG_FUNCS(EHR_PG_SYM)
#undef EHR_PG_SYM
};

static struct ehr_dl_lib lib = EHR_DL_LIB(EHR_PG_SONAME, "libpq5", syms, &ehr_pg, NULL);

int ehr_pg_load(const char **ret_why) {
        return ehr_dl_load_once(&lib, ret_why);
}
