/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libnss_ehr.so.2's shadow database, loaded with dlopen() as glibc loads it:
 * lookups, ERANGE and the retry, the listing, a user without a password, and
 * the refusals: a file others may write, a FIFO, a missing file, and a caller
 * who is not root (EACCES, as nss_files answers for /etc/shadow). Needs root
 * (the file must be root's); exits 77 otherwise.
 *
 * usage: test-nss-shadow /path/to/libnss_ehr.so.2 */

#include <dlfcn.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <nss.h>
#include <shadow.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "snapshot.h"
#include "util.h"

#define CHECK(x)                                                                              \
        do {                                                                                  \
                if (!(x)) {                                                                   \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x); \
                        exit(1);                                                              \
                }                                                                             \
        } while (0)

typedef enum nss_status (*getspnam_fn)(const char *, struct spwd *, char *, size_t, int *);
typedef enum nss_status (*setent_fn)(int);
typedef enum nss_status (*endent_fn)(void);
typedef enum nss_status (*getspent_fn)(struct spwd *, char *, size_t, int *);

static getspnam_fn ehr_getspnam;
static setent_fn ehr_setspent;
static getspent_fn ehr_getspent;
static endent_fn ehr_endspent;
static char tmpdir[] = "/tmp/test-nss-shadow.XXXXXX";
static char shadow_path[PATH_MAX];

static const struct ehr_snap_shadow entries[] = {
        { .name = "drsmith", .hash = "$y$j9T$abcdefgh$0123456789", .changed_days = 20400 },
        { .name = "newbie" },
        { .name = "gone", .hash = "$y$j9T$abcdefgh$0123456789", .locked = true, .changed_days = 20401 },
};

static void *sym(void *h, const char *name) {
        void *p = dlsym(h, name);
        CHECK(p);
        return p;
}

static void test_lookups(void) {
        struct spwd sp;
        char buf[1024];
        int e = 0;
        CHECK(ehr_getspnam("drsmith", &sp, buf, sizeof buf, &e) == NSS_STATUS_SUCCESS);
        CHECK(streq(sp.sp_namp, "drsmith") && streq(sp.sp_pwdp, "$y$j9T$abcdefgh$0123456789"));
        CHECK(sp.sp_lstchg == 20400 && sp.sp_max == -1 && sp.sp_expire == -1);
        CHECK(ehr_getspnam("newbie", &sp, buf, sizeof buf, &e) == NSS_STATUS_SUCCESS && streq(sp.sp_pwdp, "!"));
        CHECK(ehr_getspnam("gone", &sp, buf, sizeof buf, &e) == NSS_STATUS_SUCCESS && sp.sp_pwdp[0] == '!');
        errno = 1234;
        CHECK(ehr_getspnam("nobody-here", &sp, buf, sizeof buf, &e) == NSS_STATUS_NOTFOUND && errno == 1234);
        CHECK(ehr_getspnam("drsmit", &sp, buf, sizeof buf, &e) == NSS_STATUS_NOTFOUND); /* a prefix is not a name */
        CHECK(ehr_getspnam("drsmith:x", &sp, buf, sizeof buf, &e) == NSS_STATUS_NOTFOUND);
        CHECK(ehr_getspnam("drsmith", &sp, buf, 1, &e) == NSS_STATUS_TRYAGAIN && e == ERANGE);
}

static void test_listing(void) {
        struct spwd sp;
        char buf[1024];
        int e = 0;
        CHECK(ehr_setspent(0) == NSS_STATUS_SUCCESS);
        /* A short buffer: ERANGE, then the same entry again with a larger one. */
        CHECK(ehr_getspent(&sp, buf, 4, &e) == NSS_STATUS_TRYAGAIN && e == ERANGE);
        for (size_t i = 0; i < ELEMENTSOF(entries); i++) {
                CHECK(ehr_getspent(&sp, buf, sizeof buf, &e) == NSS_STATUS_SUCCESS);
                CHECK(streq(sp.sp_namp, entries[i].name));
        }
        CHECK(ehr_getspent(&sp, buf, sizeof buf, &e) == NSS_STATUS_NOTFOUND);
        CHECK(ehr_endspent() == NSS_STATUS_SUCCESS);
}

static void expect_unavail(int want) {
        struct spwd sp;
        char buf[1024];
        int e = 0;
        CHECK(ehr_getspnam("drsmith", &sp, buf, sizeof buf, &e) == NSS_STATUS_UNAVAIL && e == want);
}

/* A caller who is neither root nor in group shadow cannot read the hashes. */
static void test_not_root(void) {
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
                        _exit(2);
                expect_unavail(EACCES);
                CHECK(ehr_setspent(0) == NSS_STATUS_UNAVAIL);
                _exit(0);
        }
        int st;
        CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_refusals(void) {
        /* Writable by others: not a file ehr2fa-admin wrote. */
        CHECK(chmod(shadow_path, 0646) == 0);
        expect_unavail(EACCES);
        CHECK(chmod(shadow_path, 0640) == 0);
        /* A FIFO in its place is refused at once, never read. */
        char saved[PATH_MAX];
        snprintf(saved, sizeof saved, "%s/saved", tmpdir);
        CHECK(rename(shadow_path, saved) == 0);
        CHECK(mkfifo(shadow_path, 0640) == 0);
        expect_unavail(EACCES);
        CHECK(unlink(shadow_path) == 0);
        /* None at all: nobody is there. */
        struct spwd sp;
        char buf[1024];
        int e = 0;
        CHECK(ehr_getspnam("drsmith", &sp, buf, sizeof buf, &e) == NSS_STATUS_NOTFOUND);
        CHECK(ehr_setspent(0) == NSS_STATUS_SUCCESS && ehr_getspent(&sp, buf, sizeof buf, &e) == NSS_STATUS_NOTFOUND);
        CHECK(ehr_endspent() == NSS_STATUS_SUCCESS);
        CHECK(rename(saved, shadow_path) == 0);
}

int main(int argc, char **argv) {
        if (argc != 2)
                return 2;
        if (geteuid() != 0) {
                fprintf(stderr, "needs root: the shadow snapshot must be root's\n");
                return 77;
        }
        CHECK(mkdtemp(tmpdir));
        CHECK(chmod(tmpdir, 0755) == 0);
        char snap[PATH_MAX];
        snprintf(snap, sizeof snap, "%s/snapshot", tmpdir);
        snprintf(shadow_path, sizeof shadow_path, "%s/shadow", tmpdir);
        CHECK(setenv("EHR2FA_NSS_SNAPSHOT", snap, 1) == 0);
        CHECK(ehr_snapshot_shadow_write(shadow_path, entries, ELEMENTSOF(entries), (gid_t) -1) == 0);

        void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
        CHECK(h);
        ehr_getspnam = (getspnam_fn) sym(h, "_nss_ehr_getspnam_r");
        ehr_setspent = (setent_fn) sym(h, "_nss_ehr_setspent");
        ehr_getspent = (getspent_fn) sym(h, "_nss_ehr_getspent_r");
        ehr_endspent = (endent_fn) sym(h, "_nss_ehr_endspent");

        test_lookups();
        test_listing();
        test_not_root();
        test_refusals();
        test_lookups();

        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
        CHECK(system(cmd) == 0);
        printf("ok\n");
        return 0;
}
