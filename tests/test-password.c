/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The password policy (each rule refused with its own words), libxcrypt hashing
 * and verification, and the shadow snapshot's lines. argv[1]: the shipped list
 * of breached passwords (conf/breached-passwords.txt). */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "config.h"
#include "password.h"
#include "snapshot.h"
#include "test.h"

static char dir[] = "/tmp/ehr2fa-test-password-XXXXXX";

static int check(struct ehr_config *c, const char *login, const char *pw, const char *expect_words) {
        char msg[EHR_PASSWORD_MSG_MAX] = "";
        int r = ehr_password_policy_check(c, login, pw, msg, sizeof msg);
        if (expect_words && !strstr(msg, expect_words)) {
                fprintf(stderr, "'%s': message '%s' lacks '%s'\n", pw, msg, expect_words);
                test_failures++;
        }
        return r;
}

static void test_policy(const char *list) {
        struct ehr_config c;
        ehr_config_init(&c);
        c.password_breached_list = strdup(list);
        CHECK(c.password_min_length == 12);

        CHECK(check(&c, "drsmith", "correct horse battery", NULL) == 0);
        CHECK(check(&c, "drsmith", "short-pw-11", "too short: it must have at least 12") == -EINVAL);
        /* Characters, not bytes: 12 two-byte characters pass, 11 do not. */
        CHECK(check(&c, "drsmith", "éééééééééééé", NULL) == 0);
        CHECK(check(&c, "drsmith", "ééééééééééé", "too short") == -EINVAL);
        CHECK(check(&c, "drsmith", "DrSmith-2024-ward", "login name") == -EINVAL);
        CHECK(check(&c, "drsmith", "xxDRSMITHxxxx", "login name") == -EINVAL);
        CHECK(check(&c, "drsmithjones", "drsmithjones", "login name") == -EINVAL);
        /* From the list, whatever the case. */
        CHECK(check(&c, "drsmith", "winniethepooh", "known from data breaches") == -EINVAL);
        CHECK(check(&c, "drsmith", "WinnieThePooh", "known from data breaches") == -EINVAL);
        CHECK(check(&c, "drsmith", "tab\tinside-the-password", "control characters") == -EINVAL);
        CHECK(check(&c, "drsmith", "\xff\xfe not utf-8 at all", "control characters") == -EINVAL);
        char longpw[EHR_PASSWORD_MAX + 2];
        memset(longpw, 'q', sizeof longpw - 1);
        longpw[sizeof longpw - 1] = 0;
        CHECK(check(&c, "drsmith", longpw, "too long") == -EINVAL);

        c.password_min_length = 8;
        CHECK(check(&c, "drsmith", "password", "known from data breaches") == -EINVAL);
        CHECK(check(&c, "drsmith", "iloveyou", "known from data breaches") == -EINVAL);
        CHECK(check(&c, "drsmith", "k3!v9#qz", NULL) == 0);

        /* A list that cannot be read refuses the password, naming the file. */
        free(c.password_breached_list);
        c.password_breached_list = strdup("/nonexistent/breached.txt");
        CHECK(check(&c, "drsmith", "correct horse battery", "/nonexistent/breached.txt") == -ENOENT);
        /* A FIFO in its place does not block. */
        char fifo[300];
        snprintf(fifo, sizeof fifo, "%s/fifo", dir);
        CHECK(mkfifo(fifo, 0644) == 0);
        free(c.password_breached_list);
        c.password_breached_list = strdup(fifo);
        CHECK(check(&c, "drsmith", "correct horse battery", "fifo") == -EBADFD);
        ehr_config_done(&c);
}

static void test_hash(void) {
        char h[EHR_PASSWORD_HASH_MAX + 1], h2[EHR_PASSWORD_HASH_MAX + 1];
        CHECK(ehr_password_hash("correct horse battery", h) == 0);
        CHECK(strncmp(h, "$y$", 3) == 0);
        CHECK(ehr_password_hash_valid(h));
        CHECK(ehr_password_hash("correct horse battery", h2) == 0);
        CHECK(strcmp(h, h2) != 0); /* a fresh salt each time */
        CHECK(ehr_password_verify(h, "correct horse battery") == 0);
        CHECK(ehr_password_verify(h2, "correct horse battery") == 0);
        CHECK(ehr_password_verify(h, "correct horse batterY") == -EBADRQC);
        CHECK(ehr_password_verify(h, "") == -EBADRQC);
        CHECK(ehr_password_verify("!", "x") == -EINVAL);
        CHECK(ehr_password_verify("*", "x") == -EINVAL);
        /* Another method libcrypt knows (openssl passwd -6 "secret", salt "saltsalt"). */
        CHECK(ehr_password_verify("$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77"
                                  "vwPZN.Pq.H91p5hVO1", "secret") == 0);
}

static void test_shadow(void) {
        char path[300];
        snprintf(path, sizeof path, "%s/shadow", dir);
        const struct ehr_snap_shadow e[] = {
                { .name = "drsmith", .hash = "$y$j9T$abc$def", .changed_days = 20000 },
                { .name = "newbie" },
                { .name = "gone", .hash = "$y$j9T$abc$def", .locked = true, .changed_days = 0 },
        };
        CHECK(ehr_snapshot_shadow_write(path, e, ELEMENTSOF(e), (gid_t) -1) == 0);
        char buf[512] = "";
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        CHECK(fd >= 0 && fstat(fd, &st) == 0 && (st.st_mode & 07777) == 0640);
        CHECK(read(fd, buf, sizeof buf - 1) > 0);
        close(fd);
        CHECK_STREQ(buf, "drsmith:$y$j9T$abc$def:20000::::::\n"
                         "newbie:!:::::::\n"
                         "gone:!$y$j9T$abc$def:1::::::\n");
        /* Nothing that could forge a line gets in; the old file stays. */
        const struct ehr_snap_shadow bad[] = { { .name = "x", .hash = "$y$a\nroot::1::::::" } };
        CHECK(ehr_snapshot_shadow_write(path, bad, 1, (gid_t) -1) == -EINVAL);
        const struct ehr_snap_shadow bad2[] = { { .name = "root:x" } };
        CHECK(ehr_snapshot_shadow_write(path, bad2, 1, (gid_t) -1) == -EINVAL);
        CHECK(stat(path, &st) == 0 && st.st_size == (off_t) strlen(buf));
        char *sp = NULL;
        CHECK(ehr_snapshot_shadow_path("/var/lib/ehr2fa-nss/snapshot", &sp) == 0);
        CHECK_STREQ(sp, "/var/lib/ehr2fa-nss/shadow");
        free(sp);
}

int main(int argc, char **argv) {
        CHECK(argc == 2);
        CHECK(mkdtemp(dir) != NULL);
        test_policy(argv[1]);
        test_hash();
        test_shadow();
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        CHECK(system(cmd) == 0);
        return test_result();
}
