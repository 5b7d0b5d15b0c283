/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Libraries loaded when first needed rather than linked (SQLite, libsodium, libcurl): libpam
 * loads pam_ehr2fa.so afresh in every login process, together with every library
 * it needs, and each of these costs more to load than the module itself. */

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

struct ehr_dl_sym {
        const char *name; /* "sqlite3_step" */
        size_t offset;    /* of its function pointer in the caller's table */
};

/* dlopen() soname (RTLD_NOW | RTLD_LOCAL: nothing of it joins the host's global
 * symbols; found by the same search path and secure-execution rules as a NEEDED
 * entry) and fill the function pointers of table. The library is never closed:
 * its users keep state in it, and a host that loads the module again finds it
 * there. Returns 0, -ELIBACC (cannot be loaded) or -ELIBBAD (a symbol is
 * missing: older than this build needs). Not thread-safe: callers go through
 * ehr_dl_load_once(). */
int ehr_dl_load(const char *soname, const struct ehr_dl_sym *syms, size_t n, void *table);

/* A library loaded at most once per process, by whichever caller asks first:
 *         static struct ehr_dl_lib lib = EHR_DL_LIB("libqrencode.so.4", "libqrencode4", syms, &table, NULL);
 *         int r = ehr_dl_load_once(&lib, &why);
 * init (may be NULL) runs once after the symbols are found (libsodium's
 * sodium_init()): a negative return fails the load with -EIO. was_loaded says
 * whether the library was in the process before (linked by the host, or loaded
 * by another of its modules): its global settings are then the host's, not
 * ours. Returns what the first load returned, every time; *ret_why (may be
 * NULL) then says why in one line that names the library and its Debian
 * package. */
struct ehr_dl_lib {
        const char *soname, *package;
        const struct ehr_dl_sym *syms;
        size_t n;
        void *table;
        int (*init)(const struct ehr_dl_lib *lib);
        pthread_mutex_t lock;
        bool tried, was_loaded;
        int result;
        char why[128];
};
#define EHR_DL_LIB(soname, package, syms, table, init) \
        { (soname), (package), (syms), sizeof(syms) / sizeof((syms)[0]), (table), (init), PTHREAD_MUTEX_INITIALIZER, \
          false, false, -ELIBACC, "" }
int ehr_dl_load_once(struct ehr_dl_lib *lib, const char **ret_why);
