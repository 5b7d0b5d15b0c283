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

/* Memory statistics cost SQLite a global mutex and two counters on every
 * allocation: 15% of opening the store, whose schema is parsed at every open,
 * and as much of each statement. Nothing here reads them (sqlite3_memory_used(),
 * the heap limits), so a process that loads SQLite for us (an in-process
 * login, ehr2fad, the admin tools) turns them off before SQLite initialises.
 * A process that had SQLite loaded before keeps its own settings. */
static int init(const struct ehr_dl_lib *l) {
        if (!l->was_loaded)
                (void) ehr_sqlite.config(SQLITE_CONFIG_MEMSTATUS, 0); /* SQLITE_MISUSE once initialised: kept */
        return 0;
}

static struct ehr_dl_lib lib = EHR_DL_LIB(EHR_SQLITE_SONAME, "libsqlite3-0", syms, &ehr_sqlite, init);

int ehr_sqlite_load(const char **ret_why) {
        return ehr_dl_load_once(&lib, ret_why);
}
