/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dl.h"

int ehr_dl_load(const char *soname, const struct ehr_dl_sym *syms, size_t n, void *table) {
        void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
        if (!h)
                return -ELIBACC;
        for (size_t i = 0; i < n; i++) {
                void *f = dlsym(h, syms[i].name);
                if (!f)
                        return -ELIBBAD;
                memcpy((char *) table + syms[i].offset, &f, sizeof f);
        }
        return 0;
}

int ehr_dl_load_once(struct ehr_dl_lib *lib, const char **ret_why) {
        if (!__atomic_load_n(&lib->tried, __ATOMIC_ACQUIRE)) {
                pthread_mutex_lock(&lib->lock);
                if (!lib->tried) {
                        void *h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
                        if (h) {
                                lib->was_loaded = true;
                                dlclose(h);
                        }
                        int r = ehr_dl_load(lib->soname, lib->syms, lib->n, lib->table);
                        if (r >= 0 && lib->init && lib->init(lib) < 0)
                                r = -EIO;
                        if (r == -ELIBACC)
                                snprintf(lib->why, sizeof lib->why, "cannot load %s (is %s installed?)", lib->soname,
                                         lib->package);
                        else if (r == -ELIBBAD)
                                snprintf(lib->why, sizeof lib->why, "%s lacks a function this build needs: too old",
                                         lib->soname);
                        else if (r < 0)
                                snprintf(lib->why, sizeof lib->why, "%s failed to initialise", lib->soname);
                        lib->result = r;
                        __atomic_store_n(&lib->tried, true, __ATOMIC_RELEASE);
                }
                pthread_mutex_unlock(&lib->lock);
        }
        if (ret_why && lib->result < 0)
                *ret_why = lib->why;
        return lib->result;
}
