/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ehr2fa.conf parsing: defaults, values, and clear file:line errors. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "config.h"
#include "test.h"

static char dir[] = "/tmp/ehr2fa-test-config-XXXXXX";

static const char *write_conf(const char *name, const char *text, mode_t mode) {
        static char path[256];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        FILE *f = fopen(path, "we");
        CHECK(f != NULL);
        if (!f)
                return path;
        fputs(text, f);
        fclose(f);
        CHECK(chmod(path, mode) == 0);
        return path;
}

static int load(const char *text, char *err, size_t errlen, struct ehr_config *c) {
        ehr_config_init(c);
        err[0] = 0;
        return ehr_config_load(c, write_conf("t.conf", text, 0644), false, err, errlen);
}

/* A key set twice in the file is refused with both lines; module arguments override
 * the file by rule, and a bad, unknown or repeated argument is refused, never skipped. */
static void test_duplicates_and_args(void) {
        static const char *const own[] = { "conf=", "unlock", NULL };
        char err[EHR_CONFIG_ERR_MAX];
        struct ehr_config c;

        CHECK(load("window = 1\n# a comment\ndeny = 3\n  window=3\n", err, sizeof err, &c) == -EINVAL);
        CHECK(strstr(err, "t.conf:4: duplicate key 'window' (already set on line 1)") != NULL);
        CHECK(c.window == 1); /* the second line never took effect */
        ehr_config_done(&c);
        CHECK(load("nullok = no\nnullok = no\n", err, sizeof err, &c) == -EINVAL); /* even the same value */
        CHECK(strstr(err, "t.conf:2: duplicate key 'nullok' (already set on line 1)") != NULL);
        ehr_config_done(&c);

        /* The file, then the arguments over it. */
        CHECK(load("window = 1\nnullok = no\n", err, sizeof err, &c) == 0);
        const char *over[] = { "conf=/x", "window=3", "nullok", "unlock" };
        CHECK(ehr_config_apply_args(&c, 4, over, own, err, sizeof err) == 0);
        CHECK(c.window == 3 && c.nullok);
        ehr_config_done(&c);

        static const struct {
                int argc;
                const char *argv[3];
                const char *err;
        } bad[] = {
                { 1, { "windw=3" }, "unknown module argument 'windw=3'" },
                { 1, { "nulok" }, "unknown module argument 'nulok'" },
                { 1, { "=3" }, "unknown module argument '=3'" },
                { 1, { "window=11" }, "bad value in module argument 'window=11' (expected a whole number in range)" },
                { 1, { "window" }, "module argument 'window' needs a value (window=...)" },
                { 2, { "window=2", "window=3" }, "module argument 'window' given twice (arguments 1 and 2)" },
                { 2, { "nullok", "nullok=no" }, "module argument 'nullok' given twice (arguments 1 and 2)" },
                { 3, { "conf=/a", "debug", "conf=/b" }, "module argument 'conf' given twice (arguments 1 and 3)" },
                { 1, { "unlock=yes" }, "unknown module argument 'unlock=yes'" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                ehr_config_init(&c);
                err[0] = 0;
                CHECK(ehr_config_apply_args(&c, bad[i].argc, bad[i].argv, own, err, sizeof err) == -EINVAL);
                if (!strstr(err, bad[i].err))
                        fprintf(stderr, "argument case %zu: got '%s'\n", i, err);
                CHECK(strstr(err, bad[i].err) != NULL);
                ehr_config_done(&c);
        }
}

/* Break the glass: off by default, and a reviewer that is not an address is refused. */
static void test_break_glass(void) {
        char err[EHR_CONFIG_ERR_MAX];
        struct ehr_config c;
        ehr_config_init(&c);
        CHECK(!c.break_glass && c.break_glass_reason_min == 20 && c.break_glass_user_max == 1 &&
              c.break_glass_user_interval == 43200 && c.break_glass_host_max == 3 && !c.break_glass_reviewers &&
              c.break_glass_review_after == 86400);
        ehr_config_done(&c);
        CHECK(load("break_glass = yes\nbreak_glass_reviewers = po@example.org, sec@example.org\n", err, sizeof err,
                   &c) == 0);
        CHECK(c.break_glass);
        CHECK_STREQ(c.break_glass_reviewers, "po@example.org, sec@example.org");
        ehr_config_done(&c);
        CHECK(load("break_glass_reviewers = po@example.org, privacy officer\n", err, sizeof err, &c) == -EINVAL);
        CHECK(strstr(err, "t.conf:1: bad value for break_glass_reviewers") != NULL);
        CHECK(strstr(err, "mail addresses") != NULL);
        ehr_config_done(&c);
        CHECK(load("break_glass_reason_min = 0\n", err, sizeof err, &c) == -EINVAL);
        ehr_config_done(&c);
        CHECK(load("break_glass_user_interval = 59\n", err, sizeof err, &c) == -EINVAL);
        ehr_config_done(&c);
}

/* What ehr_config_foreach_changed() gives, as "key=value;" in key order. */
static int collect(const char *key, const char *value, void *userdata) {
        char *buf = userdata;
        size_t n = strlen(buf);
        snprintf(buf + n, 2048 - n, "%s=%s;", key, value);
        return 0;
}

/* The config a module sends ehr2fad is the keys that differ from the defaults; the
 * daemon applies them on top of its own defaults and must get the module's config. */
static void test_changed_keys(void) {
        char got[2048] = "", again[2048] = "", all[2048] = "", err[EHR_CONFIG_ERR_MAX];
        struct ehr_config c, d;
        ehr_config_init(&c);
        CHECK(ehr_config_foreach_changed(&c, collect, got) == 0);
        CHECK_STREQ(got, ""); /* all defaults: nothing to send */

        /* A value set to its default is no change; others are, whatever their type. */
        CHECK(load("store_dir = /srv/x\nwindow = 1\ndeny = 3\nfail_mode = safe\nnullok = yes\n"
                   "trust_days = 30\ntrust_services = sshd login\n",
                   err, sizeof err, &c) == 0);
        CHECK(ehr_config_foreach_changed(&c, collect, got) == 0);
        CHECK(strstr(got, "store_dir=/srv/x;") && strstr(got, "deny=3;") && strstr(got, "fail_mode=safe;") &&
              strstr(got, "nullok=yes;") && strstr(got, "trust_services=sshd login;"));
        CHECK(!strstr(got, "window=") && !strstr(got, "trust_days=") && !strstr(got, "unlock_time="));

        /* Rebuilt on the defaults, it is the same config, key for key. */
        ehr_config_init(&d);
        char *p = got;
        for (char *semi; (semi = strchr(p, ';')); p = semi + 1) {
                *semi = 0;
                char *eq = strchr(p, '=');
                CHECK(eq != NULL);
                if (!eq)
                        break;
                *eq = 0;
                CHECK(ehr_config_set(&d, p, eq + 1) == 0);
        }
        CHECK(ehr_config_foreach(&c, collect, all) == 0);
        CHECK(ehr_config_foreach(&d, collect, again) == 0);
        CHECK_STREQ(again, all);
        ehr_config_done(&c);
        ehr_config_done(&d);
}

int main(void) {
        char err[EHR_CONFIG_ERR_MAX];
        struct ehr_config c;
        CHECK(mkdtemp(dir) != NULL);
        test_break_glass();

        /* Defaults as documented (faillock's 5 / 900 / 900). */
        ehr_config_init(&c);
        CHECK(c.deny == 5 && c.fail_interval == 900 && c.unlock_time == 900 && c.window == 1);
        CHECK(c.fail_mode == EHR_FAIL_SECURE && !c.nullok);
        ehr_config_done(&c);

        CHECK(load("# comment\n\n store_dir = /srv/x  # trailing\nwindow=2\nfail_mode = safe\nnullok = yes\n"
                   "totp_algorithm = sha256\n",
                   err, sizeof err, &c) == 0);
        CHECK_STREQ(c.store_dir, "/srv/x");
        CHECK(c.window == 2 && c.fail_mode == EHR_FAIL_SAFE && c.nullok);
        ehr_config_done(&c);

        /* Errors name the file and the line. */
        CHECK(load("window = 1\n\nthis line has no equals sign\n", err, sizeof err, &c) == -EINVAL);
        CHECK(strstr(err, "t.conf:3:") != NULL && strstr(err, "key = value") != NULL);
        ehr_config_done(&c);

        CHECK(load("windwo = 1\n", err, sizeof err, &c) == -EINVAL);
        CHECK(strstr(err, "t.conf:1: unknown key 'windwo'") != NULL);
        ehr_config_done(&c);

        CHECK(load("deny = 5\nwindow = eleven\n", err, sizeof err, &c) == -EINVAL);
        CHECK(strstr(err, "t.conf:2: bad value for window") != NULL);
        ehr_config_done(&c);

        CHECK(load("window = 11\n", err, sizeof err, &c) == -EINVAL); /* out of range */
        ehr_config_done(&c);
        CHECK(load("fail_mode = open\n", err, sizeof err, &c) == -EINVAL);
        CHECK(strstr(err, "secure or safe") != NULL);
        ehr_config_done(&c);
        CHECK(load("totp_digits = 9\n", err, sizeof err, &c) == -EINVAL);
        ehr_config_done(&c);

        /* A NUL byte ends no line: the line is refused, not cut short at it. */
        {
                static const char nul[] = "store_dir = /srv/x\0/../../tmp/evil\nwindow = 2\n";
                FILE *f = fmemopen((void *) nul, sizeof nul - 1, "r");
                CHECK(f != NULL);
                ehr_config_init(&c);
                CHECK(f && ehr_config_parse(&c, f, "n.conf", err, sizeof err) == -EINVAL);
                CHECK(strstr(err, "n.conf:1: NUL byte in line") != NULL);
                if (f)
                        fclose(f);
                ehr_config_done(&c);
        }
        /* An over-long line is refused whole: the rest of it is not read as a line of its
         * own, even when a NUL early in it hides its length. */
        {
                char big[5000];
                size_t n = (size_t) snprintf(big, sizeof big, "debug = no");
                big[n++] = 0;
                memset(big + n, ' ', 4200 - n);
                n = 4200;
                n += (size_t) snprintf(big + n, sizeof big - n, "nullok = yes\n");
                FILE *f = fmemopen(big, n, "r");
                CHECK(f != NULL);
                ehr_config_init(&c);
                CHECK(f && ehr_config_parse(&c, f, "l.conf", err, sizeof err) == -EINVAL);
                CHECK(strstr(err, "l.conf:1:") != NULL);
                CHECK(!c.nullok);
                if (f)
                        fclose(f);
                ehr_config_done(&c);
                memset(big, 'x', 4200);
                memcpy(big, "issuer = ", 9);
                snprintf(big + 4200, sizeof big - 4200, "\nwindow = 2\n");
                CHECK(load(big, err, sizeof err, &c) == -EINVAL);
                CHECK(strstr(err, "t.conf:1: line too long") != NULL);
                ehr_config_done(&c);
        }

        /* A config others may write is refused, naming the fix. */
        ehr_config_init(&c);
        CHECK(ehr_config_load(&c, write_conf("w.conf", "window = 1\n", 0666), false, err, sizeof err) == -ENOTUNIQ);
        CHECK(strstr(err, "w.conf") != NULL && strstr(err, "chmod") != NULL);

        /* Missing: an error unless missing_ok. */
        CHECK(ehr_config_load(&c, "/nonexistent/ehr2fa.conf", false, err, sizeof err) == -ENOENT);
        CHECK(ehr_config_load(&c, "/nonexistent/ehr2fa.conf", true, err, sizeof err) == 0);

        /* A FIFO in place of the file must not hang us (Linux-PAM CVE-2024-22365). */
        char fifo[300];
        snprintf(fifo, sizeof fifo, "%s/fifo.conf", dir);
        CHECK(mkfifo(fifo, 0644) == 0);
        CHECK(ehr_config_load(&c, fifo, false, err, sizeof err) == -EBADFD);
        ehr_config_done(&c);

        test_duplicates_and_args();
        test_changed_keys();

        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        CHECK(system(cmd) == 0);
        return test_result();
}
