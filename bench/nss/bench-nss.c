/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench-nss: getpwnam()/getpwuid() latency through whatever NSS setup the
 * environment gives (run-bench.sh picks libnss_ehr, nss_files or
 * libnss_extrausers).
 *
 *   bench-nss gen DIR N        write DIR/passwd, DIR/group (files format, N
 *                              staff + root), DIR/extrausers/{passwd,group}
 *                              (the same staff only) and DIR/snapshot (ehr)
 *   bench-nss run N BUDGET_MS  look up random staff by name, then by uid,
 *                              for about BUDGET_MS each after an untimed
 *                              warm-up of half that (first touches of a
 *                              mapping, page cache, nss_wrapper's parse);
 *                              print "<name ns/op> <uid ns/op> <lookups>"
 *   bench-nss direct SO N BUDGET_MS
 *                              the same through libnss_ehr's entry points,
 *                              dlopen()ed, without glibc: the module alone
 *   bench-nss first SO N REPEATS
 *                              the first lookup of a fresh process (dlopen()
 *                              done, snapshot not read yet), in REPEATS
 *                              forked children: print "<median ns> <median ns> <REPEATS>"
 *   bench-nss floor N BUDGET_MS
 *                              the same "lookups" as stat() of
 *                              /etc/nsswitch.conf only: what glibc (2.33+)
 *                              does on every call before asking any source */

#include <dlfcn.h>
#include <limits.h>
#include <nss.h>
#include <pwd.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "snapshot.h"
#include "util.h"

#define BENCH_UID_BASE 100000U
#define BENCH_GID 100000U
#define BENCH_NAME_BYTES 32U
#define BENCH_TEXT_BYTES 96U
#define BENCH_BUF_BYTES 1024U
#define BENCH_MIN_LOOKUPS 16U
#define BENCH_MAX_LOOKUPS 2000000U
#define BENCH_CLOCK_EVERY 1024U /* read the clock at powers of two, then every this many lookups */
#define BENCH_SEED 0x2545f491U
#define BENCH_SEED_WARMUP 0x9e3779b9U

/* CPU time of this thread, user and system: what a lookup costs, whatever
 * else the machine runs (on a shared 2-CPU VM, wall time mostly measures the
 * wait for a CPU). A lookup never blocks, so on a quiet machine the two agree.
 * Reading it is a system call: measure() reads it seldom. */
static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (uint64_t) ts.tv_sec * 1000000000U + (uint64_t) ts.tv_nsec;
}

static int bench_cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

/* xorshift32: the same pseudo-random order for every backend. */
static uint32_t next_rand(uint32_t *s) {
        uint32_t x = *s;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        return *s = x;
}

static int gen(const char *dir, uint32_t n) {
        char path[PATH_MAX];
        struct ehr_snap_user *u = calloc(n, sizeof *u);
        char (*names)[BENCH_NAME_BYTES] = calloc(n, BENCH_NAME_BYTES);
        char (*gecos)[BENCH_TEXT_BYTES] = calloc(n, BENCH_TEXT_BYTES);
        char (*homes)[BENCH_TEXT_BYTES] = calloc(n, BENCH_TEXT_BYTES);
        if (!u || !names || !gecos || !homes)
                return 1;

        snprintf(path, sizeof path, "%s/extrausers", dir);
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                return 1;
        FILE *pw = NULL, *gr = NULL, *xpw = NULL, *xgr = NULL;
        snprintf(path, sizeof path, "%s/passwd", dir);
        pw = fopen(path, "we");
        snprintf(path, sizeof path, "%s/group", dir);
        gr = fopen(path, "we");
        snprintf(path, sizeof path, "%s/extrausers/passwd", dir);
        xpw = fopen(path, "we");
        snprintf(path, sizeof path, "%s/extrausers/group", dir);
        xgr = fopen(path, "we");
        if (!pw || !gr || !xpw || !xgr)
                return 1;

        fprintf(pw, "root:x:0:0:root:/root:/bin/sh\n");
        fprintf(gr, "root:x:0:\n");
        for (uint32_t i = 0; i < n; i++) {
                snprintf(names[i], BENCH_NAME_BYTES, "staff%u", i);
                snprintf(gecos[i], BENCH_TEXT_BYTES, "Staff Member %u,Ward %u", i, i % 40);
                snprintf(homes[i], BENCH_TEXT_BYTES, "/home/staff%u", i);
                u[i] = (struct ehr_snap_user) { names[i], BENCH_UID_BASE + i, BENCH_GID, gecos[i], homes[i], "/bin/bash" };
                fprintf(pw, "%s:x:%u:%u:%s:%s:%s\n", names[i], u[i].uid, u[i].gid, gecos[i], homes[i], u[i].shell);
                fprintf(xpw, "%s:x:%u:%u:%s:%s:%s\n", names[i], u[i].uid, u[i].gid, gecos[i], homes[i], u[i].shell);
        }
        fprintf(gr, "staff:x:%u:\n", BENCH_GID);
        fprintf(xgr, "staff:x:%u:\n", BENCH_GID);
        if (fclose(pw) || fclose(gr) || fclose(xpw) || fclose(xgr))
                return 1;

        struct ehr_snap_group g = { "staff", BENCH_GID, NULL, 0 };
        snprintf(path, sizeof path, "%s/snapshot", dir);
        int r = ehr_snapshot_write(path, u, n, &g, 1);
        if (r < 0) {
                fprintf(stderr, "bench-nss: %s: %s\n", path, strerror(-r));
                return 1;
        }
        free(u);
        free(names);
        free(gecos);
        free(homes);
        return 0;
}

/* One way to look a user up, by name (name set) or by uid: 0 or an errno. */
typedef int (*lookup_fn)(const char *name, uid_t uid, struct passwd *pw, char *buf, size_t len);

static int lookup_glibc(const char *name, uid_t uid, struct passwd *pw, char *buf, size_t len) {
        struct passwd *res = NULL;
        int r = name ? getpwnam_r(name, pw, buf, len, &res) : getpwuid_r(uid, pw, buf, len, &res);
        return r ? r : res ? 0 : ENOENT;
}

static enum nss_status (*nss_getpwnam)(const char *, struct passwd *, char *, size_t, int *);
static enum nss_status (*nss_getpwuid)(uid_t, struct passwd *, char *, size_t, int *);

static int lookup_direct(const char *name, uid_t uid, struct passwd *pw, char *buf, size_t len) {
        int e = 0;
        enum nss_status st = name ? nss_getpwnam(name, pw, buf, len, &e) : nss_getpwuid(uid, pw, buf, len, &e);
        return st == NSS_STATUS_SUCCESS ? 0 : e ? e : ENOENT;
}

static int lookup_floor(const char *name, uid_t uid, struct passwd *pw, char *buf, size_t len) {
        struct stat st;
        (void) name;
        (void) buf;
        (void) len;
        pw->pw_uid = uid;
        return stat("/etc/nsswitch.conf", &st) < 0 ? errno : 0;
}

/* Mean ns per lookup over about budget_ns (at least BENCH_MIN_LOOKUPS). */
static int measure(lookup_fn fn, bool by_name, uint32_t n, uint32_t seed, uint64_t budget_ns, double *ret_ns,
                   uint64_t *ret_count) {
        char buf[BENCH_BUF_BYTES], name[BENCH_NAME_BYTES];
        struct passwd pw;
        uint64_t count = 0, start = now_ns(), t = start;

        while (count < BENCH_MAX_LOOKUPS && (count < BENCH_MIN_LOOKUPS || t - start < budget_ns)) {
                uint32_t i = next_rand(&seed) % n;
                snprintf(name, sizeof name, "staff%u", i);
                int r = fn(by_name ? name : NULL, BENCH_UID_BASE + i, &pw, buf, sizeof buf);
                if (r != 0 || pw.pw_uid != BENCH_UID_BASE + i) {
                        fprintf(stderr, "bench-nss: lookup of staff%u failed (%s)\n", i, strerror(r ? r : ENOENT));
                        return 1;
                }
                count++;
                if ((count & (count - 1)) == 0 || count % BENCH_CLOCK_EVERY == 0)
                        t = now_ns();
        }
        t = now_ns();
        *ret_ns = (double) (t - start) / (double) count;
        *ret_count = count;
        return 0;
}

static int run(lookup_fn fn, uint32_t n, uint64_t budget_ms) {
        double name_ns, uid_ns;
        uint64_t c1, c2;
        char buf[BENCH_BUF_BYTES];
        struct passwd pw;

        /* Warm up: first use maps / opens / parses. */
        if (fn("staff0", 0, &pw, buf, sizeof buf) != 0) {
                fprintf(stderr, "bench-nss: staff0 not found: is the backend set up?\n");
                return 1;
        }
        uint64_t budget_ns = budget_ms * 1000000U;
        if (measure(fn, true, n, BENCH_SEED_WARMUP, budget_ns / 2, &name_ns, &c1) ||
            measure(fn, true, n, BENCH_SEED, budget_ns, &name_ns, &c1) ||
            measure(fn, false, n, BENCH_SEED_WARMUP, budget_ns / 2, &uid_ns, &c2) ||
            measure(fn, false, n, BENCH_SEED, budget_ns, &uid_ns, &c2))
                return 1;
        printf("%.0f %.0f %llu\n", name_ns, uid_ns, (unsigned long long) (c1 + c2));
        return 0;
}

static int load_direct(const char *so) {
        void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
                fprintf(stderr, "bench-nss: %s\n", dlerror());
                return -1;
        }
        nss_getpwnam = (enum nss_status(*)(const char *, struct passwd *, char *, size_t, int *)) dlsym(
                h, "_nss_ehr_getpwnam_r");
        nss_getpwuid = (enum nss_status(*)(uid_t, struct passwd *, char *, size_t, int *)) dlsym(h, "_nss_ehr_getpwuid_r");
        return nss_getpwnam && nss_getpwuid ? 0 : -1;
}

/* The first lookup of a fresh process, in a child (the parent has loaded the
 * module but never looked anything up); the child writes its ns to fd. */
static int first_child(uint32_t n, int fd) {
        char buf[BENCH_BUF_BYTES], name[BENCH_NAME_BYTES];
        struct passwd pw;
        snprintf(name, sizeof name, "staff%u", n / 2);
        uint64_t t0 = now_ns();
        int r = lookup_direct(name, 0, &pw, buf, sizeof buf);
        uint64_t t = now_ns() - t0;
        return r == 0 && write(fd, &t, sizeof t) == (ssize_t) sizeof t ? 0 : 1;
}

static int first(uint32_t n, uint64_t repeats) {
        uint64_t *t = calloc(repeats, sizeof *t);
        if (!t)
                return 1;
        for (uint64_t k = 0; k < repeats; k++) {
                int p[2];
                if (pipe(p) < 0)
                        return 1;
                pid_t pid = fork();
                if (pid == 0)
                        _exit(first_child(n, p[1]));
                int status;
                close(p[1]);
                if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
                    read(p[0], &t[k], sizeof t[k]) != (ssize_t) sizeof t[k]) {
                        fprintf(stderr, "bench-nss: first lookup failed\n");
                        return 1;
                }
                close(p[0]);
        }
        qsort(t, repeats, sizeof *t, bench_cmp_u64);
        printf("%llu %llu %llu\n", (unsigned long long) t[repeats / 2], (unsigned long long) t[repeats / 2],
               (unsigned long long) repeats);
        free(t);
        return 0;
}

int main(int argc, char **argv) {
        uint64_t n, budget;
        if (argc == 4 && streq(argv[1], "gen") && ehr_parse_uint(argv[3], 1, EHR_SNAP_USERS_MAX, &n) == 0)
                return gen(argv[2], (uint32_t) n);
        if (argc == 4 && (streq(argv[1], "run") || streq(argv[1], "floor")) &&
            ehr_parse_uint(argv[2], 1, EHR_SNAP_USERS_MAX, &n) == 0 && ehr_parse_uint(argv[3], 1, 3600000, &budget) == 0)
                return run(streq(argv[1], "run") ? lookup_glibc : lookup_floor, (uint32_t) n, budget);
        if (argc == 5 && streq(argv[1], "first") && ehr_parse_uint(argv[3], 1, EHR_SNAP_USERS_MAX, &n) == 0 &&
            ehr_parse_uint(argv[4], 1, 100000, &budget) == 0)
                return load_direct(argv[2]) < 0 ? 1 : first((uint32_t) n, budget);
        if (argc == 5 && streq(argv[1], "direct") && ehr_parse_uint(argv[3], 1, EHR_SNAP_USERS_MAX, &n) == 0 &&
            ehr_parse_uint(argv[4], 1, 3600000, &budget) == 0)
                return load_direct(argv[2]) < 0 ? 1 : run(lookup_direct, (uint32_t) n, budget);
        fprintf(stderr, "usage: bench-nss gen DIR N | run N BUDGET_MS | direct SO N BUDGET_MS | first SO N REPEATS | floor N BUDGET_MS\n");
        return 2;
}
