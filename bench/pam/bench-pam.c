/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Bench only: the cost of one second-factor check through real libpam, for
 * pam_ehr2fa, pam_oath and pam_google_authenticator side by side, in one process
 * with one conversation function.
 *
 * One timed check = pam_start_confdir() (reads a one-line service file from a
 * private confdir) + pam_authenticate() + pam_end(). The modules are dlopen()ed
 * once up front and kept open (unless --no-pin), so libpam's per-handle
 * dlopen/dlclose is a reference count and the load of each module and its
 * libraries is not in the timing.
 *
 * Two checks per store size:
 *   ok     a correct, fresh TOTP code. Replay protection means one success per
 *          user per 30 s step, so: with the 100k-user store each check is a
 *          different user (spread over the whole store, the same users for each
 *          module); with the 1-user store the user's replay and failure state is
 *          put back to "just enrolled" before each check, outside the timing.
 *   wrong  a wrong code (matches no step near now). Same users as above; the
 *          1-user state is reset likewise, so no module ever rate-limits or locks.
 * Modules take turns check by check, so drift on a busy machine hits all alike.
 *
 * --floor DIR adds "libpam alone": the same check with DIR/pam_permit.so (ok) or
 * DIR/pam_deny.so (wrong), which end it at once, asking nothing. That is libpam's
 * share of every row (service file, dispatch, its audit message, pam_end); the
 * "own work" table takes it off each median, so a ratio compares what the modules
 * themselves do.
 *
 * syslog: every module logs each check. Without /dev/log (containers, build
 * machines) glibc drops messages, except after pam_google_authenticator's
 * openlog(LOG_CONS), when every later syslog() of every module in the process
 * is written to /dev/console: on a serial console that is milliseconds per
 * message, and it would be charged to whichever module ran next. So when
 * /dev/log is missing and we may, we enter a private mount namespace, put a
 * tmpfs over /dev (with null, zero, urandom... bound back in) and drain a
 * /dev/log of our own in a child process, as journald would. Nothing outside
 * this process sees it.
 *
 * Expected layout, made by run.sh: DIR/<N>/{ehr2fa.conf,store/,users.oath,ga/}. */

#include <dlfcn.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sodium.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <security/pam_appl.h>

#include "bench-pam.h"
#include "bench-util.h"
#include "store.h"
#include "totp.h"
#include "util.h"

#define SIZES_MAX 4U
#define WARMUP_CHECKS 3U
#define MIN_CHECKS 20U
#define USER_STRIDE 48271UL /* prime: k -> k * stride mod N visits every user once */

enum module_kind { MOD_EHR2FA, MOD_EHR2FAD, MOD_OATH, MOD_GA, MOD_FAILLOCK, MOD_FLOOR, _MOD_MAX };
enum check_kind { CHECK_OK, CHECK_WRONG, _CHECK_MAX };

static const char *const module_name[_MOD_MAX] = {
        [MOD_EHR2FA] = "pam_ehr2fa",
        [MOD_EHR2FAD] = "pam_ehr2fa+ehr2fad",
        [MOD_OATH] = "pam_oath",
        [MOD_GA] = "pam_google_authenticator",
        [MOD_FAILLOCK] = "pam_faillock+pam_oath",
        [MOD_FLOOR] = "libpam alone",
};
static const char *const check_name[_CHECK_MAX] = { [CHECK_OK] = "ok", [CHECK_WRONG] = "wrong" };

struct conv_state {
        enum check_kind check;
        unsigned prompts, messages, locked_messages;
};

struct run {
        /* samples in microseconds: wall clock, and CPU time of this process */
        double *us, *cpu_us;
        unsigned n, want;
        double budget_us, spent_us;
        unsigned long next_user; /* sequence number, mapped to a user by user_of() */
        unsigned status[_PAM_RETURN_VALUES + 1];
        unsigned prompts, locked_messages, bad;
};

static struct {
        const char *dir;
        const char *path[_MOD_MAX];
        unsigned long sizes[SIZES_MAX];
        unsigned nsizes;
        unsigned iters;
        double budget_sec;
        unsigned idle_us;       /* untimed pause before each check: a login after a quiet spell */
        bool pin;
        bool console_fallback;
        const char *syslog_mode;
        char confdir[4096];
        char runas[256];
} arg = { .iters = 200, .budget_sec = 10, .pin = true };

/* See the top of the file. Returns 0 with arg.syslog_mode set; fails only if the mounts half-happened. */
static int syslog_setup(void) {
        /* shm: BENCH_TMPDIR may be under /dev/shm. */
        static const char *const nodes[] = { "null", "zero", "full", "random", "urandom", "tty", "console", "shm" };
        int fds[ELEMENTSOF(nodes)];
        struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "/dev/log" };

        if (access("/dev/log", F_OK) == 0) {
                arg.syslog_mode = "the host's /dev/log";
                return 0;
        }
        arg.syslog_mode = "NONE: /dev/log is missing and no private one could be made (run as root); messages "
                          "are dropped, except pam_google_authenticator's own (LOG_CONS), which go to /dev/console "
                          "and are charged to it";
        arg.console_fallback = true;
        if (unshare(CLONE_NEWNS) < 0)
                return 0;
        /* Nothing below may propagate to the host. */
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return 0;
        for (size_t i = 0; i < ELEMENTSOF(nodes); i++) {
                char path[64];
                snprintf(path, sizeof path, "/dev/%s", nodes[i]);
                fds[i] = open(path, O_PATH | O_CLOEXEC);
        }
        if (mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=1m") < 0)
                return 0;
        for (size_t i = 0; i < ELEMENTSOF(nodes); i++) {
                char src[64], dst[64];
                if (fds[i] < 0)
                        continue;
                snprintf(src, sizeof src, "/proc/self/fd/%d", fds[i]);
                snprintf(dst, sizeof dst, "/dev/%s", nodes[i]);
                struct stat st;
                bool dir = fstat(fds[i], &st) == 0 && S_ISDIR(st.st_mode);
                _cleanup_close_ int f = dir ? (mkdir(dst, 0755) < 0 ? -1 : open(dst, O_PATH | O_CLOEXEC))
                                            : open(dst, O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
                if (f < 0 || mount(src, dst, NULL, MS_BIND | (dir ? MS_REC : 0), NULL) < 0) {
                        fprintf(stderr, "bench-pam: cannot bind %s: %m\n", dst);
                        return -errno;
                }
                close(fds[i]);
        }
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                fprintf(stderr, "bench-pam: cannot bind /dev/log: %m\n");
                return -errno;
        }
        int sz = 4 << 20;
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                char buf[8192];
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                for (;;)
                        if (recv(fd, buf, sizeof buf, 0) < 0 && errno != EINTR)
                                _exit(0);
        }
        arg.syslog_mode = "a private /dev/log, drained by a child process (mount namespace)";
        arg.console_fallback = false;
        return 0;
}

static double cpu_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return (double) ts.tv_sec * 1e6 + (double) ts.tv_nsec / 1e3;
}

static void code_at(uint64_t step, char *out, size_t len) {
        if (ehr_hotp(bench_secret(), BENCH_SECRET_BYTES, EHR_OTP_SHA1, step, BENCH_DIGITS, out, len) < 0)
                abort();
}

/* The current code, or one that matches no step within +-2 of now. */
static void make_answer(enum check_kind check, char *out, size_t len) {
        uint64_t step = ehr_totp_step((uint64_t) time(NULL), BENCH_PERIOD);
        code_at(step, out, len);
        if (check == CHECK_OK)
                return;
        for (unsigned long v = strtoul(out, NULL, 10) + 500000;; v++) {
                char cand[EHR_OTP_DIGITS_MAX + 1], near[EHR_OTP_DIGITS_MAX + 1];
                bool clash = false;
                snprintf(cand, sizeof cand, "%06u", (unsigned) (v % 1000000UL));
                for (int d = -2; d <= 2 && !clash; d++) {
                        code_at(step + (uint64_t) d, near, sizeof near);
                        clash = streq(near, cand);
                }
                if (!clash) {
                        memcpy(out, cand, len < sizeof cand ? len : sizeof cand);
                        out[len - 1] = 0;
                        return;
                }
        }
}

static int conv(int n, const struct pam_message **msg, struct pam_response **resp, void *appdata) {
        struct conv_state *st = appdata;
        struct pam_response *r = calloc((size_t) n, sizeof *r);
        if (!r)
                return PAM_BUF_ERR;
        for (int i = 0; i < n; i++)
                switch (msg[i]->msg_style) {
                case PAM_PROMPT_ECHO_OFF:
                case PAM_PROMPT_ECHO_ON: {
                        char code[EHR_OTP_DIGITS_MAX + 1];
                        make_answer(st->check, code, sizeof code);
                        r[i].resp = strdup(code);
                        st->prompts++;
                        if (!r[i].resp) {
                                for (int j = 0; j < i; j++)
                                        free(r[j].resp);
                                free(r);
                                return PAM_BUF_ERR;
                        }
                        break;
                }
                default:
                        st->messages++;
                        if (msg[i]->msg && strstr(msg[i]->msg, "locked"))
                                st->locked_messages++;
                        break;
                }
        *resp = r;
        return PAM_SUCCESS;
}

static void no_delay(int retval, unsigned usec_delay, void *appdata) {
}

static unsigned long user_of(unsigned long size, unsigned long seq) {
        /* Spread over the whole store: pam_oath scans its file from the top, so
         * user0, user1, ... would flatter it. */
        return size == 1 ? 0 : (seq * USER_STRIDE + size / 3) % size;
}

static void service_name(enum module_kind m, unsigned long size, enum check_kind check, char *buf, size_t len) {
        if (m == MOD_FLOOR)
                snprintf(buf, len, "bench-%d-%lu-%s", (int) m, size, check_name[check]);
        else
                snprintf(buf, len, "bench-%d-%lu", (int) m, size);
}

static int write_file(const char *path, const char *text, mode_t mode) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
        size_t len = strlen(text);
        if (fd < 0 || write(fd, text, len) != (ssize_t) len) {
                fprintf(stderr, "bench-pam: %s: %m\n", path);
                return -EIO;
        }
        (void) fchmod(fd, mode);
        return 0;
}

/* The one-line service file of module m, for checks of this kind at this size. */
static void service_line(enum module_kind m, unsigned long size, enum check_kind check, char *line, size_t len) {
        switch (m) {
        case MOD_EHR2FA:
                /* In-process: never ask a daemon, even one that runs. */
                snprintf(line, len, "auth required %s conf=%s/%lu/ehr2fa.conf daemon_socket=none\n", arg.path[m],
                         arg.dir, size);
                break;
        case MOD_EHR2FAD:
                /* run.sh copies each store to SIZE/store-d and starts an ehr2fad on the
                 * copy at SIZE/ehr2fad.sock: the in-process row never shares its store
                 * with a daemon. */
                snprintf(line, len, "auth required %s conf=%s/%lu/ehr2fad.conf daemon_socket=%s/%lu/ehr2fad.sock\n",
                         arg.path[m], arg.dir, size, arg.dir, size);
                break;
        case MOD_OATH:
                /* window=1: the step before and after now, as ehr2fa's window = 1. */
                snprintf(line, len, "auth required %s usersfile=%s/%lu/users.oath window=1 digits=6\n", arg.path[m],
                         arg.dir, size);
                break;
        case MOD_GA:
                /* user=: no getpwnam() of userN (not in /etc/passwd); the files are ours, 0600. */
                snprintf(line, len, "auth required %s secret=%s/%lu/ga/${USER} user=%s\n", arg.path[m], arg.dir, size,
                         arg.runas);
                break;
        case MOD_FAILLOCK:
                /* pam_faillock(8)'s own stack around pam_oath: a wrong code is counted in a
                 * tally file and checked before the next, as ehr2fa counts it in its store.
                 * Its own usersfile (users-fl.oath), so its replay state is not pam_oath's row's. */
                snprintf(line, len,
                         "auth requisite %s preauth dir=%s/%lu/faillock deny=1000\n"
                         "auth [success=1 default=bad] %s usersfile=%s/%lu/users-fl.oath window=1 digits=6\n"
                         "auth [default=die] %s authfail dir=%s/%lu/faillock deny=1000\n"
                         "auth sufficient %s authsucc dir=%s/%lu/faillock deny=1000\n",
                         arg.path[m], arg.dir, size, arg.path[MOD_OATH], arg.dir, size, arg.path[m], arg.dir, size,
                         arg.path[m], arg.dir, size);
                break;
        case MOD_FLOOR:
                /* What libpam itself costs per check: a module that ends the check at once,
                 * as a check of this kind ends. Here arg.path[m] is a directory of modules. */
                snprintf(line, len, "auth required %s/%s\n", arg.path[m],
                         check == CHECK_OK ? "pam_permit.so" : "pam_deny.so");
                break;
        default:
                abort();
        }
}

static int write_services(void) {
        char path[8192], line[8192];
        snprintf(arg.confdir, sizeof arg.confdir, "%s/pam.d", arg.dir);
        if (mkdir(arg.confdir, 0700) < 0 && errno != EEXIST)
                return -errno;
        for (unsigned s = 0; s < arg.nsizes; s++)
                for (int m = 0; m < _MOD_MAX; m++)
                        for (int ck = 0; ck < _CHECK_MAX; ck++) {
                                char svc[64];
                                /* One service per module, but the floor's ends as the check does. */
                                if (!arg.path[m] || (m != MOD_FLOOR && ck != CHECK_OK))
                                        continue;
                                service_name(m, arg.sizes[s], ck, svc, sizeof svc);
                                service_line(m, arg.sizes[s], ck, line, sizeof line);
                                snprintf(path, sizeof path, "%s/%s", arg.confdir, svc);
                                if (write_file(path, line, 0644) < 0)
                                        return -EIO;
                        }
        return 0;
}

/* Back to "just enrolled, never used, no failures" for user0 of the 1-user store. Not timed. */
static int reset_user0(enum module_kind m, unsigned long size) {
        char path[8192];
        switch (m) {
        case MOD_EHR2FA:
        case MOD_EHR2FAD: {
                _cleanup_(ehr_store_freep) struct ehr_store *s = NULL;
                _cleanup_(ehr_user_freep) struct ehr_user *u = NULL;
                const struct ehr_otp_params p = { .algorithm = EHR_OTP_SHA1, .digits = BENCH_DIGITS,
                                                  .period = BENCH_PERIOD };
                char err[512];
                snprintf(path, sizeof path, "%s/%lu/%s", arg.dir, size, m == MOD_EHR2FAD ? "store-d" : "store");
                int r = ehr_store_open(path, 0, 10000, &s, err, sizeof err);
                if (r < 0) {
                        fprintf(stderr, "bench-pam: %s\n", err);
                        return r;
                }
                r = ehr_store_begin(s);
                if (r >= 0)
                        r = ehr_store_user_get(s, BENCH_LOGIN_PREFIX "0", &u);
                if (r >= 0)
                        r = ehr_store_totp_put(s, u, bench_secret(), BENCH_SECRET_BYTES, &p, (uint64_t) time(NULL));
                if (r >= 0)
                        r = ehr_store_failures_clear(s, u->id);
                if (r >= 0)
                        r = ehr_store_commit(s);
                if (r < 0) {
                        ehr_store_rollback(s);
                        fprintf(stderr, "bench-pam: cannot reset user0 in %s: %s\n", path, ehr_strerror(r));
                }
                return r;
        }
        case MOD_FAILLOCK:
                snprintf(path, sizeof path, "%s/%lu/faillock/" BENCH_LOGIN_PREFIX "0", arg.dir, size);
                if (unlink(path) < 0 && errno != ENOENT)
                        return -errno;
                __attribute__((fallthrough));
        case MOD_OATH: {
                snprintf(path, sizeof path, "%s/%lu/%s", arg.dir, size, m == MOD_OATH ? "users.oath" : "users-fl.oath");
                FILE *f = fopen(path, "we");
                if (!f || bench_oath_line(f, 0) < 0 || fclose(f) != 0) {
                        fprintf(stderr, "bench-pam: cannot reset %s\n", path);
                        return -EIO;
                }
                return 0;
        }
        case MOD_GA: {
                char buf[256];
                snprintf(path, sizeof path, "%s/%lu/ga/" BENCH_LOGIN_PREFIX "0", arg.dir, size);
                if (bench_ga_contents(buf, sizeof buf) < 0)
                        return -EINVAL;
                return write_file(path, buf, 0600);
        }
        default:
                return -EINVAL;
        }
}

/* Whether check seq of the one-user store must first undo (untimed) what the checks
 * before it left behind. A good code: always, for every module (its use, which the
 * replay guard refuses again). A wrong code: pam_faillock's tally, which grows with
 * every failure, and google-authenticator's file; pam_oath writes nothing for one,
 * and ehr2fa counts it in place, so its count is only cleared every
 * WRONG_RESET_EVERY checks, far below deny (1000 in run.sh). Not resetting where
 * nothing needs it matters for ehr2fad: the reset is a write through a second
 * connection, after which the daemon finds its SQLite page cache stale and reads
 * the store again within the timed check. In production ehr2fad is the store's
 * only writer between two logins, and no login pays that. */
#define WRONG_RESET_EVERY 100U
static bool needs_reset(enum module_kind m, enum check_kind check, unsigned long seq) {
        if (m == MOD_FLOOR)
                return false;
        if (check == CHECK_OK)
                return true;
        switch (m) {
        case MOD_EHR2FA:
        case MOD_EHR2FAD:
                return seq % WRONG_RESET_EVERY == 0;
        case MOD_OATH:
                return false;
        default:
                return true;
        }
}

/* Check seq of a run (user_of() picks its user); returns the PAM status and the time taken. */
static int one_check(enum module_kind m, unsigned long size, enum check_kind check, unsigned long seq,
                     struct run *run, double *ret_us, double *ret_cpu_us) {
        char svc[64], user[64];
        struct conv_state st = { .check = check };
        const struct pam_conv pc = { conv, &st };
        pam_handle_t *pamh = NULL;

        service_name(m, size, check, svc, sizeof svc);
        snprintf(user, sizeof user, BENCH_LOGIN_PREFIX "%lu", user_of(size, seq));
        if (size == 1 && needs_reset(m, check, seq) && reset_user0(m, size) < 0)
                return -1;
        if (arg.idle_us > 0)
                /* Every module alike: the CPUs go idle, as between real logins, and a
                 * check that wakes another process (ehr2fad, a log reader) pays for it. */
                (void) usleep(arg.idle_us);
        if (arg.console_fallback) {
                /* Undo another module's openlog(LOG_CONS) so its console writes are not charged to this one. */
                openlog("bench-pam", LOG_PID, LOG_AUTHPRIV);
                closelog();
        }

        double t0 = bench_now_us(), c0 = cpu_us();
        int r = pam_start_confdir(svc, user, &pc, arg.confdir, &pamh);
        if (r == PAM_SUCCESS) {
                (void) pam_set_item(pamh, PAM_FAIL_DELAY, (const void *) no_delay);
                r = pam_authenticate(pamh, 0);
                (void) pam_end(pamh, r);
        }
        *ret_us = bench_now_us() - t0;
        *ret_cpu_us = cpu_us() - c0;

        run->prompts += st.prompts;
        run->locked_messages += st.locked_messages;
        if (r >= 0 && r <= _PAM_RETURN_VALUES)
                run->status[r]++;
        if ((check == CHECK_OK) != (r == PAM_SUCCESS) || (check == CHECK_WRONG && r != PAM_AUTH_ERR) ||
            st.prompts != (m == MOD_FLOOR ? 0U : 1U) || st.locked_messages != 0)
                run->bad++;
        return r;
}

struct result {
        double median, p10, p90, mean, cpu_median;
        unsigned n;
        bool valid;
};

static int measure(unsigned long size, enum check_kind check, struct run runs[_MOD_MAX],
                   struct result res[_MOD_MAX]) {
        unsigned active = 0;
        for (int m = 0; m < _MOD_MAX; m++) {
                if (!arg.path[m])
                        continue;
                runs[m].want = arg.iters;
                runs[m].budget_us = arg.budget_sec * 1e6;
                runs[m].us = calloc(arg.iters, sizeof(double));
                runs[m].cpu_us = calloc(arg.iters, sizeof(double));
                if (!runs[m].us || !runs[m].cpu_us)
                        return -ENOMEM;
                active++;
        }
        /* Warm up (page cache, sqlite, libpam), then take turns: check i of each module, rotating who goes first. */
        for (unsigned w = 0; w < WARMUP_CHECKS; w++)
                for (int m = 0; m < _MOD_MAX; m++) {
                        double us, cpu;
                        struct run scratch = {};
                        if (arg.path[m] &&
                            one_check(m, size, check, runs[m].next_user++, &scratch, &us, &cpu) < 0)
                                return -EIO;
                }
        for (unsigned i = 0; active > 0; i++)
                for (int k = 0; k < _MOD_MAX; k++) {
                        int m = (int) ((i + (unsigned) k) % _MOD_MAX);
                        struct run *rn = &runs[m];
                        if (!arg.path[m] || rn->n >= rn->want)
                                continue;
                        double us, cpu;
                        if (one_check(m, size, check, rn->next_user++, rn, &us, &cpu) < 0)
                                return -EIO;
                        rn->cpu_us[rn->n] = cpu;
                        rn->us[rn->n++] = us;
                        rn->spent_us += us;
                        if (rn->n >= rn->want || (rn->spent_us > rn->budget_us && rn->n >= MIN_CHECKS)) {
                                rn->want = rn->n;
                                active--;
                        }
                }
        for (int m = 0; m < _MOD_MAX; m++) {
                if (!arg.path[m])
                        continue;
                double sum = 0;
                for (unsigned i = 0; i < runs[m].n; i++)
                        sum += runs[m].us[i];
                qsort(runs[m].us, runs[m].n, sizeof(double), bench_cmp_double);
                qsort(runs[m].cpu_us, runs[m].n, sizeof(double), bench_cmp_double);
                res[m] = (struct result) {
                        .mean = runs[m].n ? sum / runs[m].n : 0,
                        .cpu_median = bench_quantile(runs[m].cpu_us, runs[m].n, 0.5),
                        .median = bench_quantile(runs[m].us, runs[m].n, 0.5),
                        .p10 = bench_quantile(runs[m].us, runs[m].n, 0.1),
                        .p90 = bench_quantile(runs[m].us, runs[m].n, 0.9),
                        .n = runs[m].n,
                        .valid = runs[m].bad == 0,
                };
        }
        return 0;
}

/* pam_faillock counts only users that getpwnam() knows (others it ignores), and
 * the bench's users are in no passwd file. So with --faillock the bench runs
 * under nss_wrapper, with a passwd file of the users it checks (and the one it
 * runs as): written here, then the bench starts itself again with it. Each
 * lookup is then a scan of a few hundred entries held in memory, as a cached
 * directory (sssd, nscd) answers; nss_files would read the file each time. Also
 * the tally directory of each size. Returns 0 to go on, or a negative errno. */
static int faillock_setup(const char *nss_wrapper, char **argv) {
        char path[8192], group[8192];
        for (unsigned s = 0; s < arg.nsizes; s++) {
                snprintf(path, sizeof path, "%s/%lu/faillock", arg.dir, arg.sizes[s]);
                if (mkdir(path, 0700) < 0 && errno != EEXIST)
                        return -errno;
        }
        if (getenv("NSS_WRAPPER_PASSWD"))
                return 0; /* started again: the users are there */
        snprintf(path, sizeof path, "%s/passwd", arg.dir);
        snprintf(group, sizeof group, "%s/group", arg.dir);
        FILE *f = fopen(path, "we");
        if (!f)
                return -errno;
        fprintf(f, "%s:x:%u:%u::/:/bin/sh\n", arg.runas, (unsigned) geteuid(), (unsigned) getegid());
        for (unsigned s = 0; s < arg.nsizes; s++)
                for (unsigned long seq = 0; seq < (arg.sizes[s] == 1 ? 1 : 4UL * arg.iters); seq++)
                        fprintf(f, BENCH_LOGIN_PREFIX "%lu:x:%lu:100::/:/bin/false\n", user_of(arg.sizes[s], seq),
                                100000 + user_of(arg.sizes[s], seq));
        if (fclose(f) != 0)
                return -EIO;
        f = fopen(group, "we");
        if (!f || fprintf(f, "root:x:0:\nusers:x:100:\n") < 0 || fclose(f) != 0)
                return -EIO;
        if (setenv("LD_PRELOAD", nss_wrapper, 1) < 0 || setenv("NSS_WRAPPER_PASSWD", path, 1) < 0 ||
            setenv("NSS_WRAPPER_GROUP", group, 1) < 0)
                return -errno;
        execv("/proc/self/exe", argv);
        return -errno;
}

/* Issue 14's targets, medians of this run: a good code through ehr2fad at most 1.0x
 * the faster of pam_oath and google-authenticator; a wrong code (counted and
 * audited) at most 1.0x the stack that does the same, pam_faillock + pam_oath.
 * In-process is the fallback: reported against the same anchors. */
static void print_targets(double median[_MOD_MAX][SIZES_MAX][_CHECK_MAX]) {
        printf("\ntargets (median / the anchor's median, same size and check):\n");
        for (int m = MOD_EHR2FA; m <= MOD_EHR2FAD; m++)
                for (unsigned s = 0; arg.path[m] && s < arg.nsizes; s++)
                        for (int ck = 0; ck < _CHECK_MAX; ck++) {
                                double oath = median[MOD_OATH][s][ck], ga = median[MOD_GA][s][ck];
                                double fl = median[MOD_FAILLOCK][s][ck];
                                double anchor = ck == CHECK_WRONG && arg.path[MOD_FAILLOCK] ? fl
                                                : arg.path[MOD_GA] && ga < oath ? ga : oath;
                                const char *name = ck == CHECK_WRONG && arg.path[MOD_FAILLOCK] ? "pam_faillock+pam_oath"
                                                   : arg.path[MOD_GA] ? "faster of pam_oath, google-auth"
                                                                      : "pam_oath";
                                double x = anchor > 0 ? median[m][s][ck] / anchor : 0;
                                printf("  %-18s %7lu users %-5s  %6.3fx %-31s -> %s\n", module_name[m], arg.sizes[s],
                                       check_name[ck], x, name,
                                       m == MOD_EHR2FA ? "reported (fallback)" : x <= 1.0 ? "met" : "NOT met");
                        }
}

static int parse_sizes(const char *s) {
        _cleanup_free_ char *copy = strdup(s);
        char *save = NULL;
        if (!copy)
                return -ENOMEM;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (arg.nsizes >= SIZES_MAX)
                        return -ERANGE;
                unsigned long v = strtoul(t, NULL, 10);
                if (v == 0)
                        return -EINVAL;
                arg.sizes[arg.nsizes++] = v;
        }
        return arg.nsizes > 0 ? 0 : -EINVAL;
}

static void usage(void) {
        fprintf(stderr, "usage: bench-pam --dir DIR --sizes 1,100000 --ehr2fa SO [--oath SO] [--ga SO]\n"
                        "                 [--iters N] [--budget SEC] [--no-pin] [--ehr2fad] [--floor DIR]\n"
                        "                 [--faillock SO --nss-wrapper SO] [--idle-us N]\n"
                        "--idle-us N: pause N us (untimed) before every check of every module, so that\n"
                        "  each check starts on idle CPUs, as a login after a quiet spell does\n"
                        "--floor DIR: also time libpam alone, with DIR/pam_permit.so and DIR/pam_deny.so\n"
                        "--faillock SO: also time pam_faillock preauth + pam_oath + pam_faillock authfail/authsucc\n"
                        "  (needs --oath, and nss_wrapper's library: the users must be known to getpwnam())\n");
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "dir", required_argument, NULL, 'd' },    { "sizes", required_argument, NULL, 's' },
                { "ehr2fa", required_argument, NULL, 'e' }, { "oath", required_argument, NULL, 'o' },
                { "ga", required_argument, NULL, 'g' },     { "iters", required_argument, NULL, 'n' },
                { "budget", required_argument, NULL, 'b' }, { "no-pin", no_argument, NULL, 'P' },
                { "ehr2fad", no_argument, NULL, 'D' },     { "floor", required_argument, NULL, 'F' },
                { "faillock", required_argument, NULL, 'L' }, { "nss-wrapper", required_argument, NULL, 'W' },
                { "idle-us", required_argument, NULL, 'I' },
                {},
        };
        bool daemon = false;
        const char *nss_wrapper = NULL;
        int c;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (c) {
                case 'd':
                        arg.dir = optarg;
                        break;
                case 's':
                        if (parse_sizes(optarg) < 0) {
                                usage();
                                return 2;
                        }
                        break;
                case 'e':
                        arg.path[MOD_EHR2FA] = optarg;
                        break;
                case 'o':
                        arg.path[MOD_OATH] = optarg;
                        break;
                case 'g':
                        arg.path[MOD_GA] = optarg;
                        break;
                case 'n':
                        arg.iters = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'b':
                        arg.budget_sec = strtod(optarg, NULL);
                        break;
                case 'P':
                        arg.pin = false;
                        break;
                case 'D':
                        daemon = true;
                        break;
                case 'F':
                        arg.path[MOD_FLOOR] = optarg;
                        break;
                case 'L':
                        arg.path[MOD_FAILLOCK] = optarg;
                        break;
                case 'W':
                        nss_wrapper = optarg;
                        break;
                case 'I': {
                        uint64_t v;
                        if (ehr_parse_uint(optarg, 0, 1000000, &v) < 0) {
                                fprintf(stderr, "bench-pam: --idle-us: a number of microseconds, 0 to 1000000\n");
                                return 2;
                        }
                        arg.idle_us = (unsigned) v;
                        break;
                }
                default:
                        usage();
                        return 2;
                }
        if (daemon)
                arg.path[MOD_EHR2FAD] = arg.path[MOD_EHR2FA];
        if (!arg.dir || arg.nsizes == 0 || !arg.path[MOD_EHR2FA] || arg.iters < MIN_CHECKS || optind != argc ||
            (arg.path[MOD_FAILLOCK] && (!arg.path[MOD_OATH] || !nss_wrapper))) {
                usage();
                return 2;
        }
        if (sodium_init() < 0)
                return 1;
        umask(077);
        struct passwd *pw = getpwuid(geteuid());
        snprintf(arg.runas, sizeof arg.runas, "%s", pw ? pw->pw_name : "root");
        for (unsigned s = 0; s < arg.nsizes; s++)
                if (arg.sizes[s] > 1 && arg.sizes[s] < 4UL * arg.iters) {
                        fprintf(stderr, "bench-pam: %lu users are too few for %u distinct users per check kind\n",
                                arg.sizes[s], arg.iters);
                        return 2;
                } else if (arg.sizes[s] % USER_STRIDE == 0) {
                        fprintf(stderr, "bench-pam: size must not be a multiple of %lu\n", USER_STRIDE);
                        return 2;
                }
        if (arg.path[MOD_FAILLOCK] && faillock_setup(nss_wrapper, argv) < 0) {
                fprintf(stderr, "bench-pam: cannot set up the users for pam_faillock: %m\n");
                return 1;
        }
        if (syslog_setup() < 0)
                return 1;
        for (int m = 0; m < _MOD_MAX; m++)
                for (int ck = 0; ck < _CHECK_MAX; ck++) {
                        char so[8192];
                        if (!arg.path[m] || !arg.pin || (m != MOD_FLOOR && ck != CHECK_OK))
                                continue;
                        if (m == MOD_FLOOR)
                                snprintf(so, sizeof so, "%s/%s", arg.path[m],
                                         ck == CHECK_OK ? "pam_permit.so" : "pam_deny.so");
                        else
                                snprintf(so, sizeof so, "%s", arg.path[m]);
                        if (!dlopen(so, RTLD_NOW | RTLD_LOCAL)) {
                                fprintf(stderr, "bench-pam: %s\n", dlerror());
                                return 1;
                        }
                }
        if (write_services() < 0)
                return 1;

        printf("One check = pam_start_confdir + pam_authenticate + pam_end, same process and conversation function;\n"
               "modules %s. ok = correct fresh TOTP code (must return PAM_SUCCESS); wrong = wrong code\n"
               "(must return PAM_AUTH_ERR). 100k store: a different user per check; 1-user store: before each\n"
               "check, user0's state reset (untimed) where the last check left what this one must not find:\n"
               "a code's use before every good code; pam_faillock's tally and google-authenticator's file\n"
               "before every wrong one, ehr2fa's count before every 100th. Times in microseconds: wall clock (median,\n"
               "p10, p90, mean) and the median CPU time of this process (cpu_us: user+sys, no I/O waits).\n"
               "x_oath = median / pam_oath's median for the same row kind; oath/x = how many times faster.\n"
               "syslog: %s. Pause before each check (untimed): %u us.\n\n",
               arg.pin ? "dlopen()ed once and kept loaded (load cost excluded)" : "loaded and unloaded by libpam per check",
               arg.syslog_mode, arg.idle_us);
        printf("%-24s %6s %-5s %4s %9s %8s %8s %8s %8s %8s %7s  %s\n", "module", "users", "check", "n", "median_us",
               "p10_us", "p90_us", "mean_us", "cpu_us", "x_oath", "oath/x", "verified");

        bool all_ok = true;
        double median[_MOD_MAX][SIZES_MAX][_CHECK_MAX] = {};
        for (unsigned s = 0; s < arg.nsizes; s++)
                for (int ck = 0; ck < _CHECK_MAX; ck++) {
                        struct run runs[_MOD_MAX] = {};
                        struct result res[_MOD_MAX] = {};
                        /* ok and wrong use disjoint users at the big size. */
                        for (int m = 0; m < _MOD_MAX; m++)
                                runs[m].next_user = ck == CHECK_OK ? 0 : 2UL * arg.iters + WARMUP_CHECKS * 2UL;
                        if (measure(arg.sizes[s], ck, runs, res) < 0) {
                                fprintf(stderr, "bench-pam: measuring failed\n");
                                return 1;
                        }
                        for (int m = 0; m < _MOD_MAX; m++) {
                                if (!arg.path[m])
                                        continue;
                                median[m][s][ck] = res[m].median;
                                char x[16] = "-", inv[16] = "-", verified[128];
                                if (arg.path[MOD_OATH] && res[MOD_OATH].median > 0) {
                                        snprintf(x, sizeof x, "%.3f", res[m].median / res[MOD_OATH].median);
                                        snprintf(inv, sizeof inv, "%.2f", res[MOD_OATH].median / res[m].median);
                                }
                                snprintf(verified, sizeof verified, "%s (%u/%u %s)", res[m].valid ? "yes" : "NO",
                                         ck == CHECK_OK ? runs[m].status[PAM_SUCCESS] : runs[m].status[PAM_AUTH_ERR],
                                         runs[m].n, ck == CHECK_OK ? "PAM_SUCCESS" : "PAM_AUTH_ERR");
                                printf("%-24s %6lu %-5s %4u %9.0f %8.0f %8.0f %8.0f %8.0f %8s %7s  %s\n",
                                       module_name[m], arg.sizes[s], check_name[ck], res[m].n, res[m].median,
                                       res[m].p10, res[m].p90, res[m].mean, res[m].cpu_median, x, inv, verified);
                                if (!res[m].valid) {
                                        all_ok = false;
                                        fprintf(stderr,
                                                "bench-pam: %s %lu users %s: %u unexpected results (prompts %u, "
                                                "lock messages %u); status counts:",
                                                module_name[m], arg.sizes[s], check_name[ck], runs[m].bad,
                                                runs[m].prompts, runs[m].locked_messages);
                                        for (int i = 0; i <= _PAM_RETURN_VALUES; i++)
                                                if (runs[m].status[i])
                                                        fprintf(stderr, " %s=%u", pam_strerror(NULL, i),
                                                                runs[m].status[i]);
                                        fputc('\n', stderr);
                                }
                                free(runs[m].us);
                                free(runs[m].cpu_us);
                        }
                        fflush(stdout);
                }
        if (arg.path[MOD_OATH])
                print_targets(median);
        if (arg.path[MOD_FLOOR]) {
                /* Each module's own cost: what a check costs beyond libpam's share of it. */
                printf("\nown work = median - libpam alone's median (us), and / pam_oath's own work:\n");
                printf("%-24s %6s %-5s %9s %8s\n", "module", "users", "check", "own_us", "x_oath");
                for (unsigned s = 0; s < arg.nsizes; s++)
                        for (int ck = 0; ck < _CHECK_MAX; ck++)
                                for (int m = 0; m < MOD_FLOOR; m++) {
                                        if (!arg.path[m])
                                                continue;
                                        double own = median[m][s][ck] - median[MOD_FLOOR][s][ck];
                                        double oath = median[MOD_OATH][s][ck] - median[MOD_FLOOR][s][ck];
                                        char x[16] = "-";
                                        if (arg.path[MOD_OATH] && oath > 0)
                                                snprintf(x, sizeof x, "%.2f", own / oath);
                                        printf("%-24s %6lu %-5s %9.0f %8s\n", module_name[m], arg.sizes[s],
                                               check_name[ck], own, x);
                                }
        }
        return all_ok ? 0 : 1;
}
