/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dlfcn.h>
#include <errno.h>
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
