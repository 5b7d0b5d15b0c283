/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libnss_ehr.so.2 loaded with dlopen() (the way glibc loads it) and driven
 * through its _nss_ehr_* entry points: results, buffer handling (ERANGE),
 * errno rules, enumeration, initgroups_dyn, replacement of the snapshot and
 * the bound on seeing it, missing / truncated / corrupt snapshots, a snapshot
 * truncated in place under a listing and under lookups, fork with busy
 * threads, and no descriptor left behind.
 *
 * usage: test-nss-module /path/to/libnss_ehr.so.2 [quick | hot N] */

#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <fcntl.h>
#include <grp.h>
#include <nss.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "snapshot.h"
#include "util.h"

#define CHECK(x)                                                                                    \
        do {                                                                                        \
                if (!(x)) {                                                                         \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x);       \
                        abort();                                                                    \
                }                                                                                   \
        } while (0)

#define BUF_BYTES 4096U
#define FORKS 200U
#define FORKS_QUICK 20U /* under valgrind, where each fork costs a second */
#define FORK_THREADS 4U
#define LOOKUP_LOOPS 2000U
#define TEST_TIMEOUT_SEC 120U
#define RECHECK_LIMIT_MS 1000U /* the bound is 100 ms + a clock tick; the rest is slack */
#define BIG_USERS 2000U
#define BIG_UID 30000U
#define TRUNCATIONS 300U

typedef enum nss_status (*getpwnam_fn)(const char *, struct passwd *, char *, size_t, int *);
typedef enum nss_status (*getpwuid_fn)(uid_t, struct passwd *, char *, size_t, int *);
typedef enum nss_status (*setent_fn)(int);
typedef enum nss_status (*endent_fn)(void);
typedef enum nss_status (*getpwent_fn)(struct passwd *, char *, size_t, int *);
typedef enum nss_status (*getgrnam_fn)(const char *, struct group *, char *, size_t, int *);
typedef enum nss_status (*getgrgid_fn)(gid_t, struct group *, char *, size_t, int *);
typedef enum nss_status (*getgrent_fn)(struct group *, char *, size_t, int *);
typedef enum nss_status (*initgroups_fn)(const char *, gid_t, long int *, long int *, gid_t **, long int, int *);

static struct {
        getpwnam_fn getpwnam_r;
        getpwuid_fn getpwuid_r;
        setent_fn setpwent;
        getpwent_fn getpwent_r;
        endent_fn endpwent;
        getgrnam_fn getgrnam_r;
        getgrgid_fn getgrgid_r;
        setent_fn setgrent;
        getgrent_fn getgrent_r;
        endent_fn endgrent;
        initgroups_fn initgroups_dyn;
} nss;

static char tmpdir[] = "/tmp/test-nss-module.XXXXXX";
static unsigned n_forks = FORKS;
static char snap_path[PATH_MAX];

static const char *const staff_members[] = { "alice", "bob", "carol" };
static const char *const nurses_members[] = { "bob", "root" };
static const struct ehr_snap_user users[] = {
        { "alice", 5001, 5001, "Alice Doe", "/home/alice", "/bin/bash" },
        { "bob", 5002, 6000, "", "/home/bob", "" },
        { "carol", 5003, 6000, "Carol,ICU", "/home/carol", "/bin/sh" },
};
static const struct ehr_snap_group groups[] = {
        { "staff", 6000, staff_members, 3 },
        { "nurses", 6001, nurses_members, 2 },
        { "alice", 5001, NULL, 0 },
};

static void *sym(void *h, const char *name) {
        void *p = dlsym(h, name);
        if (!p) {
                fprintf(stderr, "missing symbol %s: %s\n", name, dlerror());
                abort();
        }
        return p;
}

static void load(const char *so) {
        void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
                fprintf(stderr, "dlopen %s: %s\n", so, dlerror());
                abort();
        }
        nss.getpwnam_r = (getpwnam_fn) sym(h, "_nss_ehr_getpwnam_r");
        nss.getpwuid_r = (getpwuid_fn) sym(h, "_nss_ehr_getpwuid_r");
        nss.setpwent = (setent_fn) sym(h, "_nss_ehr_setpwent");
        nss.getpwent_r = (getpwent_fn) sym(h, "_nss_ehr_getpwent_r");
        nss.endpwent = (endent_fn) sym(h, "_nss_ehr_endpwent");
        nss.getgrnam_r = (getgrnam_fn) sym(h, "_nss_ehr_getgrnam_r");
        nss.getgrgid_r = (getgrgid_fn) sym(h, "_nss_ehr_getgrgid_r");
        nss.setgrent = (setent_fn) sym(h, "_nss_ehr_setgrent");
        nss.getgrent_r = (getgrent_fn) sym(h, "_nss_ehr_getgrent_r");
        nss.endgrent = (endent_fn) sym(h, "_nss_ehr_endgrent");
        nss.initgroups_dyn = (initgroups_fn) sym(h, "_nss_ehr_initgroups_dyn");
        /* The core library inside stays hidden. */
        CHECK(!dlsym(h, "ehr_snapshot_open"));
        CHECK(!dlsym(h, "ehr_snapshot_write"));
        CHECK(!dlsym(h, "ehr_parse_uint"));
}

static size_t count_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        CHECK(d);
        size_t n = 0;
        while (readdir(d))
                n++;
        closedir(d);
        return n;
}

static bool in_buf(const char *p, const char *buf, size_t len) {
        return p >= buf && p < buf + len;
}

static void publish(const struct ehr_snap_user *u, size_t nu) {
        CHECK(ehr_snapshot_write(snap_path, u, nu, groups, ELEMENTSOF(groups)) == 0);
}

/* setpwent() checks the file at once (a lookup trusts its last check for up
 * to 100 ms): what a test that has just replaced the snapshot uses instead of
 * waiting. test_recheck_bound() checks the wait itself. */
static void recheck(void) {
        (void) nss.setpwent(0);
        (void) nss.endpwent();
}

static void publish_now(const struct ehr_snap_user *u, size_t nu) {
        publish(u, nu);
        recheck();
}

static void test_lookups(void) {
        struct passwd pw;
        char buf[BUF_BYTES];
        int e = 0;

        errno = 4242;
        CHECK(nss.getpwnam_r("alice", &pw, buf, sizeof buf, &e) == NSS_STATUS_SUCCESS);
        CHECK(errno == 4242);
        CHECK(streq(pw.pw_name, "alice") && streq(pw.pw_passwd, "x") && pw.pw_uid == 5001 && pw.pw_gid == 5001 &&
              streq(pw.pw_gecos, "Alice Doe") && streq(pw.pw_dir, "/home/alice") && streq(pw.pw_shell, "/bin/bash"));
        CHECK(in_buf(pw.pw_name, buf, sizeof buf) && in_buf(pw.pw_passwd, buf, sizeof buf) &&
              in_buf(pw.pw_gecos, buf, sizeof buf) && in_buf(pw.pw_dir, buf, sizeof buf) &&
              in_buf(pw.pw_shell, buf, sizeof buf));

        CHECK(nss.getpwuid_r(5003, &pw, buf, sizeof buf, &e) == NSS_STATUS_SUCCESS);
        CHECK(streq(pw.pw_name, "carol") && streq(pw.pw_gecos, "Carol,ICU"));

        /* Not found: NOTFOUND, errno and *errnop untouched. */
        errno = 4242;
        e = 777;
        CHECK(nss.getpwnam_r("root", &pw, buf, sizeof buf, &e) == NSS_STATUS_NOTFOUND);
        CHECK(errno == 4242 && e == 777);
        CHECK(nss.getpwnam_r("", &pw, buf, sizeof buf, &e) == NSS_STATUS_NOTFOUND);
        CHECK(nss.getpwuid_r(0, &pw, buf, sizeof buf, &e) == NSS_STATUS_NOTFOUND);
        CHECK(nss.getpwuid_r(4999, &pw, buf, sizeof buf, &e) == NSS_STATUS_NOTFOUND);
        CHECK(errno == 4242 && e == 777);

        /* A 1-byte buffer: TRYAGAIN + ERANGE, so glibc retries with more. */
        char one[1];
        e = 0;
        CHECK(nss.getpwnam_r("alice", &pw, one, sizeof one, &e) == NSS_STATUS_TRYAGAIN);
        CHECK(e == ERANGE);
        e = 0;
        CHECK(nss.getpwuid_r(5001, &pw, one, sizeof one, &e) == NSS_STATUS_TRYAGAIN);
        CHECK(e == ERANGE);
        /* The exact size works, one less does not. */
        size_t need = strlen("alice") + strlen("x") + strlen("Alice Doe") + strlen("/home/alice") + strlen("/bin/bash") + 5;
        e = 0;
        CHECK(nss.getpwnam_r("alice", &pw, buf, need - 1, &e) == NSS_STATUS_TRYAGAIN && e == ERANGE);
        CHECK(nss.getpwnam_r("alice", &pw, buf, need, &e) == NSS_STATUS_SUCCESS);

        struct group gr;
        CHECK(nss.getgrnam_r("staff", &gr, buf, sizeof buf, &e) == NSS_STATUS_SUCCESS);
        CHECK(streq(gr.gr_name, "staff") && gr.gr_gid == 6000 && streq(gr.gr_passwd, "x"));
        CHECK(gr.gr_mem && streq(gr.gr_mem[0], "alice") && streq(gr.gr_mem[1], "bob") &&
              streq(gr.gr_mem[2], "carol") && !gr.gr_mem[3]);
        CHECK(in_buf((const char *) gr.gr_mem, buf, sizeof buf) && in_buf(gr.gr_mem[2], buf, sizeof buf));
        CHECK(nss.getgrgid_r(5001, &gr, buf, sizeof buf, &e) == NSS_STATUS_SUCCESS);
        CHECK(streq(gr.gr_name, "alice") && gr.gr_mem && !gr.gr_mem[0]);
        CHECK(nss.getgrnam_r("wheel", &gr, buf, sizeof buf, &e) == NSS_STATUS_NOTFOUND);
        CHECK(nss.getgrgid_r(0, &gr, buf, sizeof buf, &e) == NSS_STATUS_NOTFOUND);
        e = 0;
        CHECK(nss.getgrnam_r("staff", &gr, one, sizeof one, &e) == NSS_STATUS_TRYAGAIN && e == ERANGE);
        /* Room for the pointers but not the strings, from every misalignment. */
        for (size_t off = 0; off < 8; off++) {
                e = 0;
                CHECK(nss.getgrnam_r("staff", &gr, buf + off, 40, &e) == NSS_STATUS_TRYAGAIN && e == ERANGE);
        }
        CHECK(nss.getgrnam_r("staff", &gr, buf + 3, 200, &e) == NSS_STATUS_SUCCESS);
        CHECK(((uintptr_t) gr.gr_mem % sizeof(char *)) == 0 && streq(gr.gr_mem[1], "bob"));
}

static void test_enumeration(void) {
        struct passwd pw;
        struct group gr;
        char buf[BUF_BYTES], small[4];
        int e = 0;
        size_t n = 0;

        CHECK(nss.setpwent(0) == NSS_STATUS_SUCCESS);
        for (;;) {
                /* ERANGE keeps the position: the same entry comes with a bigger buffer. */
                enum nss_status st = nss.getpwent_r(&pw, small, sizeof small, &e);
                if (st == NSS_STATUS_NOTFOUND)
                        break;
                CHECK(st == NSS_STATUS_TRYAGAIN && e == ERANGE);
                CHECK(nss.getpwent_r(&pw, buf, sizeof buf, &e) == NSS_STATUS_SUCCESS);
                CHECK(n < ELEMENTSOF(users) && streq(pw.pw_name, users[n].name) && pw.pw_uid == users[n].uid);
                n++;
        }
        CHECK(n == ELEMENTSOF(users));
        CHECK(nss.getpwent_r(&pw, buf, sizeof buf, &e) == NSS_STATUS_NOTFOUND);
        CHECK(nss.endpwent() == NSS_STATUS_SUCCESS);

        /* getpwent without setpwent starts at the top; a rewrite in the middle
         * does not mix two snapshots into one listing. */
        CHECK(nss.getpwent_r(&pw, buf, sizeof buf, &e) == NSS_STATUS_SUCCESS && streq(pw.pw_name, "alice"));
        publish(users, 1);
        n = 1;
        while (nss.getpwent_r(&pw, buf, sizeof buf, &e) == NSS_STATUS_SUCCESS)
                n++;
        CHECK(n == ELEMENTSOF(users));
        nss.endpwent();
        CHECK(nss.setpwent(0) == NSS_STATUS_SUCCESS);
        n = 0;
        while (nss.getpwent_r(&pw, buf, sizeof buf, &e) == NSS_STATUS_SUCCESS)
                n++;
        CHECK(n == 1);
        nss.endpwent();
        publish(users, ELEMENTSOF(users));

        CHECK(nss.setgrent(0) == NSS_STATUS_SUCCESS);
        n = 0;
        while (nss.getgrent_r(&gr, buf, sizeof buf, &e) == NSS_STATUS_SUCCESS) {
                CHECK(n < ELEMENTSOF(groups) && streq(gr.gr_name, groups[n].name));
                n++;
        }
        CHECK(n == ELEMENTSOF(groups));
        nss.endgrent();
        nss.endgrent(); /* twice is harmless */
}

static void test_initgroups(void) {
        long int start = 1, size = 1;
        gid_t *g = malloc(sizeof(gid_t));
        int e = 0;
        CHECK(g);
        g[0] = 6000; /* bob's primary group: not added twice */

        CHECK(nss.initgroups_dyn("bob", 6000, &start, &size, &g, 0, &e) == NSS_STATUS_SUCCESS);
        CHECK(start == 2 && size >= 2 && g[0] == 6000 && g[1] == 6001);

        /* Already there from another source: not duplicated. */
        CHECK(nss.initgroups_dyn("bob", 6000, &start, &size, &g, 0, &e) == NSS_STATUS_NOTFOUND);
        CHECK(start == 2);

        /* A limit: fill up to it and stop, successfully (checked when the array is full, as nss_files does). */
        start = 0;
        size = 1;
        CHECK(nss.initgroups_dyn("bob", 1, &start, &size, &g, 1, &e) == NSS_STATUS_SUCCESS);
        CHECK(start == 1 && g[0] == 6000);

        /* root is a member of nurses though not a snapshot user. */
        start = 0;
        CHECK(nss.initgroups_dyn("root", 0, &start, &size, &g, 0, &e) == NSS_STATUS_SUCCESS);
        CHECK(start == 1 && g[0] == 6001);

        errno = 4242;
        start = 0;
        CHECK(nss.initgroups_dyn("nobody", 65534, &start, &size, &g, 0, &e) == NSS_STATUS_NOTFOUND);
        CHECK(start == 0 && errno == 4242);
        free(g);
}

static void write_file(const char *path, const void *data, size_t size) {
        _cleanup_free_ char *tmp = NULL;
        CHECK(asprintf(&tmp, "%s.tmp", path) > 0);
        int fd = open(tmp, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
        CHECK(fd >= 0);
        CHECK(size == 0 || write(fd, data, size) == (ssize_t) size);
        CHECK(close(fd) == 0);
        CHECK(rename(tmp, path) == 0);
}

static void expect_unavail(int want_errno) {
        struct passwd pw;
        struct group gr;
        char buf[BUF_BYTES];
        int e = 0;
        long int start = 0, size = 4;
        gid_t *g = calloc(4, sizeof(gid_t));
        CHECK(g);

        recheck();
        CHECK(nss.getpwnam_r("alice", &pw, buf, sizeof buf, &e) == NSS_STATUS_UNAVAIL && e == want_errno);
        e = 0;
        CHECK(nss.getpwuid_r(5001, &pw, buf, sizeof buf, &e) == NSS_STATUS_UNAVAIL && e == want_errno);
        CHECK(nss.getgrnam_r("staff", &gr, buf, sizeof buf, &e) == NSS_STATUS_UNAVAIL);
        CHECK(nss.getgrgid_r(6000, &gr, buf, sizeof buf, &e) == NSS_STATUS_UNAVAIL);
        CHECK(nss.initgroups_dyn("bob", 6000, &start, &size, &g, 0, &e) == NSS_STATUS_UNAVAIL);
        CHECK(nss.setpwent(0) == NSS_STATUS_UNAVAIL);
        CHECK(nss.getpwent_r(&pw, buf, sizeof buf, &e) == NSS_STATUS_UNAVAIL);
        nss.endpwent();
        free(g);
}

static void test_bad_snapshots(void) {
        void *data;
        size_t size;
        struct passwd pw;
        char buf[BUF_BYTES];
        int e = 0;

        CHECK(ehr_snapshot_build(users, ELEMENTSOF(users), groups, ELEMENTSOF(groups), &data, &size) == 0);

        CHECK(unlink(snap_path) == 0);
        expect_unavail(ENOENT);

        write_file(snap_path, data, 0);
        expect_unavail(EBADMSG);
        write_file(snap_path, data, size / 2);
        expect_unavail(EBADMSG);
        write_file(snap_path, data, size - 1);
        expect_unavail(EBADMSG);

        uint8_t *bad = malloc(size);
        CHECK(bad);
        memcpy(bad, data, size);
        bad[0] ^= 0xff; /* magic */
        write_file(snap_path, bad, size);
        expect_unavail(EBADMSG);
        memcpy(bad, data, size);
        bad[40] ^= 0x10; /* a section offset, caught by the header checksum */
        write_file(snap_path, bad, size);
        expect_unavail(EBADMSG);

        /* A record whose string would forge a passwd field: refused at lookup. */
        memcpy(bad, data, size);
        uint8_t *home = memmem(bad, size, "/home/alice", sizeof "/home/alice");
        CHECK(home);
        home[5] = ':';
        write_file(snap_path, bad, size);
        recheck();
        e = 0;
        CHECK(nss.getpwnam_r("alice", &pw, buf, sizeof buf, &e) == NSS_STATUS_UNAVAIL && e == EBADMSG);
        CHECK(nss.getpwnam_r("bob", &pw, buf, sizeof buf, &e) == NSS_STATUS_SUCCESS);

        /* Every single-byte corruption: any status, never a crash. */
        for (size_t i = 0; i < size; i += 1) {
                memcpy(bad, data, size);
                bad[i] ^= 0x5a;
                write_file(snap_path, bad, size);
                recheck();
                (void) nss.getpwnam_r("carol", &pw, buf, sizeof buf, &e);
                (void) nss.getpwuid_r(5002, &pw, buf, sizeof buf, &e);
        }

        /* A directory, a symlink, a world-writable file: UNAVAIL. */
        CHECK(unlink(snap_path) == 0);
        CHECK(mkdir(snap_path, 0755) == 0);
        expect_unavail(EBADFD);
        CHECK(rmdir(snap_path) == 0);
        _cleanup_free_ char *other = NULL;
        CHECK(asprintf(&other, "%s/other", tmpdir) > 0);
        write_file(other, data, size);
        CHECK(symlink(other, snap_path) == 0);
        expect_unavail(ELOOP);
        CHECK(unlink(snap_path) == 0);
        write_file(snap_path, data, size);
        CHECK(chmod(snap_path, 0666) == 0);
        expect_unavail(EACCES);

        /* And back to a good file: served again. */
        publish_now(users, ELEMENTSOF(users));
        CHECK(nss.getpwnam_r("alice", &pw, buf, sizeof buf, &e) == NSS_STATUS_SUCCESS);
        free(bad);
        free(data);
}

static void test_replace(void) {
        struct passwd pw;
        char buf[BUF_BYTES];
        int e = 0;

        CHECK(nss.getpwnam_r("bob", &pw, buf, sizeof buf, &e) == NSS_STATUS_SUCCESS);
        const struct ehr_snap_user no_bob[] = { users[0], users[2] };
        publish_now(no_bob, 2);
        CHECK(nss.getpwnam_r("bob", &pw, buf, sizeof buf, &e) == NSS_STATUS_NOTFOUND);
        CHECK(nss.getpwuid_r(5002, &pw, buf, sizeof buf, &e) == NSS_STATUS_NOTFOUND);
        CHECK(nss.getpwnam_r("carol", &pw, buf, sizeof buf, &e) == NSS_STATUS_SUCCESS);
        publish_now(users, ELEMENTSOF(users));
        CHECK(nss.getpwnam_r("bob", &pw, buf, sizeof buf, &e) == NSS_STATUS_SUCCESS);
}

static atomic_bool stop;

static void *hammer(void *arg) {
        struct passwd pw;
        char buf[BUF_BYTES];
        int e;
        while (!atomic_load(&stop)) {
                CHECK(nss.getpwnam_r("alice", &pw, buf, sizeof buf, &e) == NSS_STATUS_SUCCESS);
                CHECK(nss.getpwuid_r(5002, &pw, buf, sizeof buf, &e) == NSS_STATUS_SUCCESS);
        }
        return NULL;
}

/* fork() while other threads are inside the module: the child must neither
 * deadlock on the cache mutex nor use the parent's in-flight state. */
static void test_fork(void) {
        pthread_t t[FORK_THREADS];
        for (size_t i = 0; i < FORK_THREADS; i++)
                CHECK(pthread_create(&t[i], NULL, hammer, NULL) == 0);
        for (size_t i = 0; i < n_forks; i++) {
                pid_t pid = fork();
                CHECK(pid >= 0);
                if (pid == 0) {
                        struct passwd pw;
                        char buf[BUF_BYTES];
                        int e;
                        alarm(10);
                        bool ok = nss.getpwnam_r("carol", &pw, buf, sizeof buf, &e) == NSS_STATUS_SUCCESS &&
                                  pw.pw_uid == 5003 &&
                                  nss.getpwuid_r(5001, &pw, buf, sizeof buf, &e) == NSS_STATUS_SUCCESS &&
                                  streq(pw.pw_name, "alice");
                        _exit(ok ? 0 : 1);
                }
                int status;
                CHECK(waitpid(pid, &status, 0) == pid);
                CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
        atomic_store(&stop, true);
        for (size_t i = 0; i < FORK_THREADS; i++)
                CHECK(pthread_join(t[i], NULL) == 0);

        /* A child sees a snapshot published after the fork, and one published
         * by the child is seen by the parent. */
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                struct passwd pw;
                char buf[BUF_BYTES];
                int e;
                publish(users, 1);
                _exit(nss.getpwnam_r("bob", &pw, buf, sizeof buf, &e) == NSS_STATUS_NOTFOUND ? 0 : 1);
        }
        int status;
        CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
        struct passwd pw;
        char buf[BUF_BYTES];
        int e;
        recheck();
        CHECK(nss.getpwnam_r("bob", &pw, buf, sizeof buf, &e) == NSS_STATUS_NOTFOUND);
        publish_now(users, ELEMENTSOF(users));
}

static uint64_t mono_ms(void) {
        struct timespec ts;
        CHECK(clock_gettime(CLOCK_MONOTONIC, &ts) == 0);
        return (uint64_t) ts.tv_sec * 1000U + (uint64_t) ts.tv_nsec / 1000000U;
}

/* Without setpwent(), a lookup sees a replaced snapshot within the documented
 * bound: 100 ms after the last check, plus a tick of the coarse clock. The
 * limit here has slack for a loaded machine; a module that never looks again
 * fails it. */
static void test_recheck_bound(void) {
        struct passwd pw;
        char buf[BUF_BYTES];
        int e;

        publish_now(users, ELEMENTSOF(users));
        CHECK(nss.getpwnam_r("bob", &pw, buf, sizeof buf, &e) == NSS_STATUS_SUCCESS);
        const struct ehr_snap_user no_bob[] = { users[0], users[2] };
        publish(no_bob, 2);
        uint64_t start = mono_ms(), seen = 0;
        while (!seen && mono_ms() - start < RECHECK_LIMIT_MS) {
                if (nss.getpwnam_r("bob", &pw, buf, sizeof buf, &e) == NSS_STATUS_NOTFOUND)
                        seen = mono_ms();
                else
                        (void) usleep(1000);
        }
        CHECK(seen);
        printf("test-nss-module: a replaced snapshot was seen after %llu ms\n", (unsigned long long) (seen - start));
        publish_now(users, ELEMENTSOF(users));
}

static atomic_bool truncating;

/* Lookups while the file is cut and rewritten in place: whatever the answer
 * (the old copy, UNAVAIL for a short file), a found entry is whole. initgroups
 * checks the file each time, so the copying itself races the truncation too. */
static void *truncate_reader(void *arg) {
        unsigned seed = (unsigned) (uintptr_t) arg;
        struct passwd pw;
        char buf[BUF_BYTES], name[32];
        int e;
        gid_t *g = calloc(4, sizeof(gid_t));
        CHECK(g);
        while (atomic_load(&truncating)) {
                unsigned i = (unsigned) rand_r(&seed) % BIG_USERS;
                snprintf(name, sizeof name, "u%u", i);
                if (nss.getpwnam_r(name, &pw, buf, sizeof buf, &e) == NSS_STATUS_SUCCESS)
                        CHECK(pw.pw_uid == BIG_UID + i && streq(pw.pw_name, name));
                long int start = 0, size = 4;
                (void) nss.initgroups_dyn(name, 0, &start, &size, &g, 0, &e);
        }
        free(g);
        return NULL;
}

/* BIG_USERS users u0.. (uid BIG_UID + i): a file of many 4 KiB chunks. */
static void build_big(void **ret_data, size_t *ret_size) {
        static char names[BIG_USERS][32];
        static struct ehr_snap_user big[BIG_USERS];
        for (unsigned i = 0; i < BIG_USERS; i++) {
                snprintf(names[i], sizeof names[i], "u%u", i);
                big[i] = (struct ehr_snap_user) { names[i], BIG_UID + i, 6000, "Big Ward", "/home/big", "/bin/sh" };
        }
        CHECK(ehr_snapshot_build(big, BIG_USERS, groups, ELEMENTSOF(groups), ret_data, ret_size) == 0);
}

static void truncate_child(void) {
        struct passwd pw;
        char buf[BUF_BYTES];
        int e;
        void *data;
        size_t size, n = 0;

        build_big(&data, &size);
        write_file(snap_path, data, size);

        /* A listing half way when the file is emptied in place. */
        CHECK(nss.setpwent(0) == NSS_STATUS_SUCCESS);
        for (; n < BIG_USERS / 2; n++)
                CHECK(nss.getpwent_r(&pw, buf, sizeof buf, &e) == NSS_STATUS_SUCCESS);
        CHECK(truncate(snap_path, 0) == 0);
        while (nss.getpwent_r(&pw, buf, sizeof buf, &e) == NSS_STATUS_SUCCESS)
                CHECK(pw.pw_uid == BIG_UID + n++);
        CHECK(n == BIG_USERS);
        nss.endpwent();

        /* Threads looking up while the file is cut to random lengths and written again, in place. */
        pthread_t t[FORK_THREADS];
        atomic_store(&truncating, true);
        for (uintptr_t i = 0; i < FORK_THREADS; i++)
                CHECK(pthread_create(&t[i], NULL, truncate_reader, (void *) (i + 1)) == 0);
        unsigned seed = 7;
        for (unsigned k = 0; k < TRUNCATIONS; k++) {
                int fd = open(snap_path, O_WRONLY | O_CLOEXEC);
                CHECK(fd >= 0);
                CHECK(ftruncate(fd, (off_t) ((unsigned) rand_r(&seed) % size)) == 0);
                CHECK(pwrite(fd, data, size, 0) == (ssize_t) size);
                CHECK(close(fd) == 0);
        }
        atomic_store(&truncating, false);
        for (size_t i = 0; i < FORK_THREADS; i++)
                CHECK(pthread_join(t[i], NULL) == 0);
        free(data);
}

/* The snapshot truncated in place, not replaced: `: > snapshot` or `cp backup
 * snapshot` by root, or any write by the file's owner (the module accepts a
 * file of the caller's own uid). A mapping of the file would die of SIGBUS;
 * run in a child so that such a death is reported as what it is. */
static void test_truncate_in_place(void) {
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                alarm(TEST_TIMEOUT_SEC);
                truncate_child();
                _exit(0);
        }
        int status;
        CHECK(waitpid(pid, &status, 0) == pid);
        if (WIFSIGNALED(status))
                fprintf(stderr, "truncated in place: the reader was killed by signal %d (%s)\n", WTERMSIG(status),
                        strsignal(WTERMSIG(status)));
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        publish_now(users, ELEMENTSOF(users));
}

static int fd_of(const char *path) {
        DIR *d = opendir("/proc/self/fd");
        CHECK(d);
        int found = -1;
        for (struct dirent *de; (de = readdir(d));) {
                char link[PATH_MAX], target[PATH_MAX];
                snprintf(link, sizeof link, "/proc/self/fd/%s", de->d_name);
                ssize_t k = readlink(link, target, sizeof target - 1);
                if (k > 0 && (target[k] = '\0', streq(target, path)))
                        found = atoi(de->d_name);
        }
        closedir(d);
        return found;
}

/* A program that closes descriptors it did not open (as daemons do) and
 * reuses the number: the module reads neither the other file nor closes
 * it, and still answers, from the snapshot opened again. */
static void test_descriptor_taken(void) {
        struct passwd pw;
        char buf[BUF_BYTES];
        int e;
        void *data;
        size_t size;
        struct stat null_st, st;

        build_big(&data, &size);
        write_file(snap_path, data, size);
        /* initgroups checks the file at once, without copying all of it as
         * setpwent() would (which closes the descriptor: nothing left to read). */
        long int start = 0, gsize = 4;
        gid_t *g = calloc(4, sizeof(gid_t));
        CHECK(g);
        (void) nss.initgroups_dyn("u0", 0, &start, &gsize, &g, 0, &e);
        free(g);
        CHECK(nss.getpwnam_r("u0", &pw, buf, sizeof buf, &e) == NSS_STATUS_SUCCESS);
        int fd = fd_of(snap_path), null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        CHECK(fd >= 0 && null_fd >= 0 && fstat(null_fd, &null_st) == 0);
        CHECK(dup2(null_fd, fd) == fd && close(null_fd) == 0);
        CHECK(nss.getpwnam_r("u1999", &pw, buf, sizeof buf, &e) == NSS_STATUS_SUCCESS && pw.pw_uid == BIG_UID + 1999);
        publish_now(users, ELEMENTSOF(users)); /* frees the old snapshot */
        CHECK(fstat(fd, &st) == 0 && st.st_rdev == null_st.st_rdev && S_ISCHR(st.st_mode));
        CHECK(close(fd) == 0);
        free(data);
}

/* `hot N`: N lookups after one warm-up, for test-nss-syscalls.sh to count the
 * system calls of (strace -c): the hot path must make none. */
static int run_hot(unsigned long n) {
        struct passwd pw;
        char buf[BUF_BYTES];
        int e;
        CHECK(mkdtemp(tmpdir));
        snprintf(snap_path, sizeof snap_path, "%s/snapshot", tmpdir);
        CHECK(setenv("EHR2FA_NSS_SNAPSHOT", snap_path, 1) == 0);
        publish(users, ELEMENTSOF(users));
        for (unsigned long i = 0; i < n; i++) {
                CHECK(nss.getpwnam_r(users[i % 3].name, &pw, buf, sizeof buf, &e) == NSS_STATUS_SUCCESS);
                CHECK(nss.getpwuid_r(users[i % 3].uid, &pw, buf, sizeof buf, &e) == NSS_STATUS_SUCCESS);
        }
        CHECK(unlink(snap_path) == 0 && rmdir(tmpdir) == 0);
        printf("test-nss-module: %lu lookups\n", 2 * n);
        return 0;
}

static void test_no_fd_leak(void) {
        struct passwd pw;
        char buf[BUF_BYTES];
        int e;
        size_t before = count_fds();
        for (size_t i = 0; i < LOOKUP_LOOPS; i++) {
                CHECK(nss.getpwnam_r("alice", &pw, buf, sizeof buf, &e) == NSS_STATUS_SUCCESS);
                if (i % 100 == 0)
                        publish_now(users, ELEMENTSOF(users));
        }
        CHECK(count_fds() == before);
}

int main(int argc, char **argv) {
        unsigned long hot = 0;
        if (argc == 4 && streq(argv[2], "hot") && (hot = strtoul(argv[3], NULL, 10)) > 0) {
                load(argv[1]);
                return run_hot(hot);
        }
        if (argc < 2 || argc > 3 || (argc == 3 && !streq(argv[2], "quick"))) {
                fprintf(stderr, "usage: %s LIBNSS_EHR_SO [quick | hot N]\n", argv[0]);
                return 2;
        }
        if (argc == 3)
                n_forks = FORKS_QUICK;
        alarm(TEST_TIMEOUT_SEC);
        load(argv[1]);
        CHECK(mkdtemp(tmpdir));
        snprintf(snap_path, sizeof snap_path, "%s/snapshot", tmpdir);
        CHECK(setenv("EHR2FA_NSS_SNAPSHOT", snap_path, 1) == 0);
        publish(users, ELEMENTSOF(users));

        test_lookups();
        test_enumeration();
        test_initgroups();
        test_replace();
        test_bad_snapshots();
        test_fork();
        test_recheck_bound();
        test_truncate_in_place();
        test_descriptor_taken();
        test_no_fd_leak();

        char cmd[PATH_MAX + 32];
        snprintf(cmd, sizeof cmd, "rm -rf -- '%s'", tmpdir);
        (void) !system(cmd);
        printf("test-nss-module: ok\n");
        return 0;
}
