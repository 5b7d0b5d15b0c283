/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A host process that uses SQLite itself (as a desktop session or a screen
 * locker may) and runs logins through pam_ehr2fa.so, which libpam loads and
 * unloads at every pam_start()/pam_end(). The module registers its own SQLite
 * VFS while a store is open: once the module is gone, nothing of it may be left
 * in the host's SQLite, or the host's next lookup of a VFS walks into unmapped
 * memory.
 *
 *   pam-host-sqlite CONFDIR SERVICE USER CODE [LOGINS]
 *
 * Answers CODE to the code prompt and "n" to any other question; exits 0 when
 * the first login succeeded, the later ones (replays) failed, and SQLite still
 * works for the host afterwards. Also says whether libcurl got loaded (a login
 * that sends no text message must not load it: it costs milliseconds), and
 * whether libsodium was loaded while the module asked for the code (a login that
 * ehr2fad answers does no cryptography and must not load it; asked then, because
 * a library the module needed would be unloaded with it at pam_end()). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <security/pam_appl.h>

static const char *sodium_at_prompt = "never asked";

static int conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data) {
        struct pam_response *r = calloc((size_t) n, sizeof *r);
        if (!r)
                return PAM_BUF_ERR;
        for (int i = 0; i < n; i++) {
                if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF) {
                        /* NOLOAD takes a reference when it finds the library: give it back. */
                        void *h = dlopen("libsodium.so.23", RTLD_LAZY | RTLD_NOLOAD);
                        sodium_at_prompt = h ? "yes" : "no";
                        if (h)
                                dlclose(h);
                        r[i].resp = strdup(data);
                } else if (msg[i]->msg_style == PAM_PROMPT_ECHO_ON)
                        r[i].resp = strdup("n");
                else
                        fprintf(stderr, "module says: %s\n", msg[i]->msg);
        }
        *resp = r;
        return PAM_SUCCESS;
}

int main(int argc, char **argv) {
        if (argc < 5) {
                fprintf(stderr, "usage: pam-host-sqlite CONFDIR SERVICE USER CODE [LOGINS]\n");
                return 2;
        }
        int logins = argc > 5 ? atoi(argv[5]) : 1;
        /* The host's own SQLite use, before and after the module's. */
        sqlite3 *db = NULL;
        if (sqlite3_open(":memory:", &db) != SQLITE_OK)
                return 1;
        for (int i = 0; i < logins; i++) {
                struct pam_conv pc = { conv, argv[4] };
                pam_handle_t *pamh = NULL;
                int r = pam_start_confdir(argv[2], argv[3], &pc, argv[1], &pamh);
                if (r != PAM_SUCCESS) {
                        fprintf(stderr, "pam_start_confdir: %s\n", pam_strerror(NULL, r));
                        return 1;
                }
                r = pam_authenticate(pamh, 0);
                printf("login %d: %s\n", i + 1, pam_strerror(pamh, r));
                pam_end(pamh, r);
                /* The first login uses the code; later ones are replays and must fail. */
                if ((i == 0) != (r == PAM_SUCCESS))
                        return 1;
        }
        /* Walks every registered VFS by name: a VFS left behind by the unloaded
         * module would crash here. */
        if (sqlite3_vfs_find("no-such-vfs") != NULL)
                return 1;
        sqlite3 *db2 = NULL;
        char *e = NULL;
        if (sqlite3_open(":memory:", &db2) != SQLITE_OK ||
            sqlite3_exec(db2, "CREATE TABLE t(x); INSERT INTO t VALUES (1);", NULL, NULL, &e) != SQLITE_OK) {
                fprintf(stderr, "host SQLite after the module: %s\n", e ? e : "cannot open");
                return 1;
        }
        sqlite3_close(db2);
        sqlite3_close(db);
        printf("libcurl loaded: %s\n", dlopen("libcurl.so.4", RTLD_LAZY | RTLD_NOLOAD) ? "yes" : "no");
        printf("libsodium loaded at the code prompt: %s\n", sodium_at_prompt);
        printf("host SQLite fine after %d login(s)\n", logins);
        return 0;
}
