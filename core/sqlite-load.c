/* SPDX-License-Identifier: GPL-2.0-or-later */
#define EHR_SQLITE_LOAD_IMPL 1
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>

#include "sqlite-load.h"

struct ehr_sqlite_api ehr_sqlite;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int load_result = -ELIBACC;
static const char *load_why = EHR_SQLITE_SONAME " not loaded";

static void load(void) {
        /* Never closed: see sqlite-load.h. RTLD_LOCAL: nothing of it leaks into the
         * host's own symbol lookups. A library the process already has (linked,
         * as in ehr2fa-admin and ehr2fad) is simply found again. */
        void *h = dlopen(EHR_SQLITE_SONAME, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
                load_why = "cannot load " EHR_SQLITE_SONAME " (is libsqlite3-0 installed?)";
                load_result = -ELIBACC;
                return;
        }
        static const struct {
                const char *name;
                size_t offset;
        } syms[] = {
#define EHR_SQLITE_SYM(f) { "sqlite3_" #f, offsetof(struct ehr_sqlite_api, f) },
                EHR_SQLITE_FUNCS(EHR_SQLITE_SYM)
#undef EHR_SQLITE_SYM
        };
        for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
                void *f = dlsym(h, syms[i].name);
                if (!f) {
                        load_why = EHR_SQLITE_SONAME " lacks a function this build needs: too old";
                        load_result = -ELIBBAD;
                        return;
                }
                memcpy((char *) &ehr_sqlite + syms[i].offset, &f, sizeof f);
        }
        load_result = 0;
}

int ehr_sqlite_load(const char **ret_why) {
        if (pthread_once(&once, load) != 0) {
                *ret_why = "pthread_once failed";
                return -EIO;
        }
        if (load_result < 0)
                *ret_why = load_why;
        return load_result;
}
