/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Libraries loaded when first needed rather than linked (SQLite, libsodium, libcurl): libpam
 * loads pam_ehr2fa.so afresh in every login process, together with every library
 * it needs, and each of these costs more to load than the module itself. */

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
 * missing: older than this build needs). Not thread-safe: call under
 * pthread_once(). */
int ehr_dl_load(const char *soname, const struct ehr_dl_sym *syms, size_t n, void *table);
