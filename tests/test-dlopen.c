/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The module loads with RTLD_NOW (no undefined symbols) and has its entry points
 * (Linux-PAM tests/tst-dlopen.c). */
#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char **argv) {
        if (argc < 2)
                return 2;
        void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
        if (!h) {
                fprintf(stderr, "dlopen %s: %s\n", argv[1], dlerror());
                return 1;
        }
        for (int i = 2; i < argc; i++)
                if (!dlsym(h, argv[i])) {
                        fprintf(stderr, "%s lacks %s\n", argv[1], argv[i]);
                        return 1;
                }
        dlclose(h);
        return 0;
}
