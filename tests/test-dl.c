/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ehr_dl_load_once(): a library is loaded at most once per process, whoever
 * asks first, and a failure says which library and which package. */

#include <errno.h>
#include <pthread.h>
#include <stddef.h>

#include <dlfcn.h>

#include "dl.h"
#include "store/sqlite/load.h"
#include "test.h"

static struct {
        size_t (*strlen)(const char *);
} libc_api;
static struct {
        void (*missing)(void);
} bad_api;

static struct {
        void (*free)(void *);
} qr_api;
static const struct ehr_dl_sym qr_syms[] = { { "QRcode_free", offsetof(__typeof__(qr_api), free) } };

static const struct ehr_dl_sym libc_syms[] = { { "strlen", offsetof(__typeof__(libc_api), strlen) } };
static const struct ehr_dl_sym bad_syms[] = { { "ehr2fa_no_such_function", offsetof(__typeof__(bad_api), missing) } };

static int inits;
static int init_ok(const struct ehr_dl_lib *l) {
        (void) l;
        __atomic_add_fetch(&inits, 1, __ATOMIC_RELAXED);
        return 0;
}
static int init_fails(const struct ehr_dl_lib *l) {
        (void) l;
        return -1;
}

static struct ehr_dl_lib libc_lib = EHR_DL_LIB("libc.so.6", "libc6", libc_syms, &libc_api, init_ok);

static void *load_libc(void *arg) {
        (void) arg;
        return (void *) (intptr_t) ehr_dl_load_once(&libc_lib, NULL);
}

int main(void) {
        const char *why = NULL;

        /* Not there: named, with its package. */
        static struct ehr_dl_lib absent = EHR_DL_LIB("libehr2fa-absent.so.9", "libehr2fa-absent9", bad_syms, &bad_api,
                                                     NULL);
        CHECK(ehr_dl_load_once(&absent, &why) == -ELIBACC);
        CHECK_STREQ(why, "cannot load libehr2fa-absent.so.9 (is libehr2fa-absent9 installed?)");

        /* There, but without a function this build needs. */
        static struct ehr_dl_lib old = EHR_DL_LIB("libc.so.6", "libc6", bad_syms, &bad_api, NULL);
        why = NULL;
        CHECK(ehr_dl_load_once(&old, &why) == -ELIBBAD);
        CHECK_STREQ(why, "libc.so.6 lacks a function this build needs: too old");
        CHECK(bad_api.missing == NULL);

        /* Loaded, but its own initialisation fails: -EIO, every time. */
        static struct ehr_dl_lib broken = EHR_DL_LIB("libc.so.6", "libc6", libc_syms, &libc_api, init_fails);
        why = NULL;
        CHECK(ehr_dl_load_once(&broken, &why) == -EIO);
        CHECK_STREQ(why, "libc.so.6 failed to initialise");
        CHECK(ehr_dl_load_once(&broken, NULL) == -EIO);

        /* Eight threads at once: one load, one init, every caller sees it done. */
        pthread_t t[8];
        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                CHECK(pthread_create(&t[i], NULL, load_libc, NULL) == 0);
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                void *r = NULL;
                CHECK(pthread_join(t[i], &r) == 0);
                CHECK(r == NULL);
        }
        CHECK(inits == 1);
        CHECK(libc_api.strlen && libc_api.strlen("ehr2fa") == 6);
        why = "unchanged";
        CHECK(ehr_dl_load_once(&libc_lib, &why) == 0);
        CHECK_STREQ(why, "unchanged");
        CHECK(inits == 1);
        CHECK(libc_lib.was_loaded); /* linked: the host's */

        /* Not in the process until loaded here: its settings are ours to choose. */
        static struct ehr_dl_lib qr = EHR_DL_LIB("libqrencode.so.4", "libqrencode4", qr_syms, &qr_api, NULL);
        static struct ehr_dl_lib qr_again = EHR_DL_LIB("libqrencode.so.4", "libqrencode4", qr_syms, &qr_api, NULL);
        CHECK(ehr_dl_load_once(&qr, NULL) == 0 && !qr.was_loaded && qr_api.free);
        CHECK(ehr_dl_load_once(&qr_again, NULL) == 0 && qr_again.was_loaded);

        /* SQLite, first loaded by the store's loader: its memory statistics (a
         * global mutex on every allocation) are off. */
        CHECK(ehr_sqlite_load(&why) == 0);
        sqlite3 *db = NULL;
        CHECK(sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK);
        CHECK(sqlite3_exec(db, "CREATE TABLE t(a); INSERT INTO t VALUES (randomblob(4000))", NULL, NULL, NULL) ==
              SQLITE_OK);
        void *h = dlopen(EHR_SQLITE_SONAME, RTLD_NOW | RTLD_NOLOAD);
        sqlite3_int64 (*highwater)(int) = h ? (sqlite3_int64 (*)(int)) dlsym(h, "sqlite3_memory_highwater") : NULL;
        CHECK(highwater && highwater(0) == 0);
        sqlite3_close_v2(db);
        if (h)
                dlclose(h);
        return test_result();
}
