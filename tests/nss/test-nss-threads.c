/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Readers in threads call libnss_ehr.so.2 while a writer replaces the
 * snapshot 1,000 times. Every generation G writes records whose fields all
 * carry G, so a record stitched from two files (a torn read) shows up as a
 * mismatch; an enumeration must see one generation from start to end.
 *
 * usage: test-nss-threads /path/to/libnss_ehr.so.2 [rewrites] */

#include <dlfcn.h>
#include <limits.h>
#include <grp.h>
#include <nss.h>
#include <pthread.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdio.h>

#include "snapshot.h"
#include "util.h"

#define CHECK(x)                                                                                    \
        do {                                                                                        \
                if (!(x)) {                                                                         \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x);       \
                        abort();                                                                    \
                }                                                                                   \
        } while (0)

#define N_USERS 200U
#define N_READERS 6U
#define REWRITES_DEFAULT 1000U
#define UID_BASE 20000U
#define GID_BASE 100000U
#define TEAM_GID 40000U
#define BUF_BYTES 4096U
#define TEXT_BYTES 64U

typedef enum nss_status (*getpwnam_fn)(const char *, struct passwd *, char *, size_t, int *);
typedef enum nss_status (*getpwuid_fn)(uid_t, struct passwd *, char *, size_t, int *);
typedef enum nss_status (*setent_fn)(int);
typedef enum nss_status (*endent_fn)(void);
typedef enum nss_status (*getpwent_fn)(struct passwd *, char *, size_t, int *);
typedef enum nss_status (*getgrnam_fn)(const char *, struct group *, char *, size_t, int *);
typedef enum nss_status (*initgroups_fn)(const char *, gid_t, long int *, long int *, gid_t **, long int, int *);

static getpwnam_fn p_getpwnam;
static getpwuid_fn p_getpwuid;
static setent_fn p_setpwent;
static getpwent_fn p_getpwent;
static endent_fn p_endpwent;
static getgrnam_fn p_getgrnam;
static initgroups_fn p_initgroups;

static atomic_bool done;
static atomic_ulong n_lookups, n_enums;
static atomic_uint generation; /* the last one published */

/* user i of generation g, all fields derived from (g, i). */
struct gen_user {
        char name[TEXT_BYTES], gecos[TEXT_BYTES], dir[TEXT_BYTES];
};

static void check_user(const struct passwd *pw, unsigned *ret_gen) {
        unsigned i, g, g2, i2, i3;
        CHECK(sscanf(pw->pw_name, "u%u", &i) == 1 || streq(pw->pw_name, "extra"));
        if (streq(pw->pw_name, "extra"))
                i = N_USERS;
        CHECK(sscanf(pw->pw_gecos, "gen %u user %u", &g, &i2) == 2);
        CHECK(sscanf(pw->pw_dir, "/home/%u/u%u", &g2, &i3) == 2);
        if (g != g2 || i != i2 || i != i3 || pw->pw_uid != UID_BASE + i || pw->pw_gid != GID_BASE + g ||
            !streq(pw->pw_shell, "/bin/sh") || !streq(pw->pw_passwd, "x")) {
                fprintf(stderr, "torn record: %s:%u:%u:%s:%s:%s\n", pw->pw_name, pw->pw_uid, pw->pw_gid,
                        pw->pw_gecos, pw->pw_dir, pw->pw_shell);
                abort();
        }
        /* "extra" exists in even generations only. */
        CHECK(i < N_USERS || g % 2 == 0);
        *ret_gen = g;
}

static void *reader(void *arg) {
        unsigned seed = (unsigned) (uintptr_t) arg;
        char buf[BUF_BYTES];
        struct passwd pw;
        struct group gr;
        int e;
        gid_t *groups = calloc(4, sizeof(gid_t));
        CHECK(groups);

        while (!atomic_load(&done)) {
                unsigned i = (unsigned) rand_r(&seed) % N_USERS, gen;
                char name[TEXT_BYTES];
                snprintf(name, sizeof name, "u%u", i);

                CHECK(p_getpwnam(name, &pw, buf, sizeof buf, &e) == NSS_STATUS_SUCCESS);
                check_user(&pw, &gen);
                CHECK(p_getpwuid(UID_BASE + i, &pw, buf, sizeof buf, &e) == NSS_STATUS_SUCCESS);
                check_user(&pw, &gen);

                enum nss_status st = p_getpwnam("extra", &pw, buf, sizeof buf, &e);
                CHECK(st == NSS_STATUS_SUCCESS || st == NSS_STATUS_NOTFOUND);
                if (st == NSS_STATUS_SUCCESS)
                        check_user(&pw, &gen);

                /* team: members u(g % N) and u((g + 1) % N), and its gid names g. */
                CHECK(p_getgrnam("team", &gr, buf, sizeof buf, &e) == NSS_STATUS_SUCCESS);
                unsigned m0, m1;
                CHECK(gr.gr_mem[0] && gr.gr_mem[1] && !gr.gr_mem[2]);
                CHECK(sscanf(gr.gr_mem[0], "u%u", &m0) == 1 && sscanf(gr.gr_mem[1], "u%u", &m1) == 1);
                CHECK(m1 == (m0 + 1) % N_USERS);

                long int start = 0, size = 4;
                st = p_initgroups(name, 0, &start, &size, &groups, 0, &e);
                CHECK(st == NSS_STATUS_SUCCESS || st == NSS_STATUS_NOTFOUND);
                CHECK(start <= 1 && (start == 0 || groups[0] == TEAM_GID));
                atomic_fetch_add(&n_lookups, 5);
        }
        free(groups);
        return NULL;
}

/* getpwent is not thread-safe by contract (one cursor per process), so one thread enumerates. */
static void *enumerator(void *arg) {
        char buf[BUF_BYTES];
        struct passwd pw;
        int e;

        while (!atomic_load(&done)) {
                unsigned first = UINT32_MAX, gen, n = 0;
                CHECK(p_setpwent(0) == NSS_STATUS_SUCCESS);
                while (p_getpwent(&pw, buf, sizeof buf, &e) == NSS_STATUS_SUCCESS) {
                        check_user(&pw, &gen);
                        if (first == UINT32_MAX)
                                first = gen;
                        CHECK(gen == first); /* one snapshot per listing */
                        n++;
                }
                CHECK(n == N_USERS + (first % 2 == 0));
                p_endpwent();
                atomic_fetch_add(&n_enums, 1);
        }
        return NULL;
}

static void publish(const char *path, unsigned g) {
        static struct gen_user gu[N_USERS + 1];
        struct ehr_snap_user u[N_USERS + 1];
        size_t n = N_USERS + (g % 2 == 0);
        for (unsigned i = 0; i < n; i++) {
                if (i < N_USERS)
                        snprintf(gu[i].name, TEXT_BYTES, "u%u", i);
                else
                        snprintf(gu[i].name, TEXT_BYTES, "extra");
                snprintf(gu[i].gecos, TEXT_BYTES, "gen %u user %u", g, i);
                snprintf(gu[i].dir, TEXT_BYTES, "/home/%u/u%u", g, i);
                u[i] = (struct ehr_snap_user) { gu[i].name, UID_BASE + i, GID_BASE + g, gu[i].gecos, gu[i].dir,
                                                "/bin/sh" };
        }
        const char *members[] = { gu[g % N_USERS].name, gu[(g + 1) % N_USERS].name };
        struct ehr_snap_group grp = { "team", TEAM_GID, members, 2 };
        CHECK(ehr_snapshot_write(path, u, n, &grp, 1) == 0);
        atomic_store(&generation, g);
}

int main(int argc, char **argv) {
        if (argc < 2) {
                fprintf(stderr, "usage: %s LIBNSS_EHR_SO [rewrites]\n", argv[0]);
                return 2;
        }
        unsigned rewrites = argc > 2 ? (unsigned) strtoul(argv[2], NULL, 10) : REWRITES_DEFAULT;
        void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
        CHECK(h);
        p_getpwnam = (getpwnam_fn) dlsym(h, "_nss_ehr_getpwnam_r");
        p_getpwuid = (getpwuid_fn) dlsym(h, "_nss_ehr_getpwuid_r");
        p_setpwent = (setent_fn) dlsym(h, "_nss_ehr_setpwent");
        p_getpwent = (getpwent_fn) dlsym(h, "_nss_ehr_getpwent_r");
        p_endpwent = (endent_fn) dlsym(h, "_nss_ehr_endpwent");
        p_getgrnam = (getgrnam_fn) dlsym(h, "_nss_ehr_getgrnam_r");
        p_initgroups = (initgroups_fn) dlsym(h, "_nss_ehr_initgroups_dyn");
        CHECK(p_getpwnam && p_getpwuid && p_setpwent && p_getpwent && p_endpwent && p_getgrnam && p_initgroups);

        char dir[] = "/tmp/test-nss-threads.XXXXXX", path[PATH_MAX];
        CHECK(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/snapshot", dir);
        CHECK(setenv("EHR2FA_NSS_SNAPSHOT", path, 1) == 0);
        publish(path, 0);

        pthread_t t[N_READERS + 1];
        for (uintptr_t i = 0; i < N_READERS; i++)
                CHECK(pthread_create(&t[i], NULL, reader, (void *) (i + 1)) == 0);
        CHECK(pthread_create(&t[N_READERS], NULL, enumerator, NULL) == 0);

        for (unsigned g = 1; g <= rewrites; g++)
                publish(path, g);
        atomic_store(&done, true);
        for (size_t i = 0; i <= N_READERS; i++)
                CHECK(pthread_join(t[i], NULL) == 0);

        printf("test-nss-threads: %u rewrites, %lu lookups, %lu enumerations, no torn record\n", rewrites,
               atomic_load(&n_lookups), atomic_load(&n_enums));
        CHECK(atomic_load(&n_lookups) > 0 && atomic_load(&n_enums) > 0);

        char cmd[PATH_MAX + 32];
        snprintf(cmd, sizeof cmd, "rm -rf -- '%s'", dir);
        (void) !system(cmd);
        return 0;
}
