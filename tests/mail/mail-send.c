/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Test driver for core/mail*.c. Not installed.
 *
 *   mail-send send CONF SUBJECT BODYFILE TO...   -> "r=<ERRNO|OK> status=<smtp> elapsed_ms=<n>"
 *   mail-send check CONF                         -> "r=<ERRNO|OK>"
 *   mail-send build FROM DISPLAY SUBJECT BODYFILE TO...  -> the message, or "r=<ERRNO>"
 *   mail-send address ADDR                       -> "valid" or "invalid"
 *
 * send goes through ehr_mail_send_config(): the config's settings, its credentials
 * file and the child sender (mail_sender), as ehr2fa-admin sends. Exit status: 0 when
 * r is OK, 1 when not, 2 on a usage error. */

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mail.h"
#include "sodium-load.h"

static const char *errname(int r) {
        if (r == 0)
                return "OK";
        const char *n = strerrorname_np(-r);
        return n ? n : "UNKNOWN";
}

static char *slurp(const char *path) {
        static char buf[2 * EHR_MAIL_BODY_MAX];
        FILE *f = fopen(path, "re");
        if (!f)
                return NULL;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        return buf;
}

static int load(const char *path, struct ehr_config *c) {
        char err[EHR_CONFIG_ERR_MAX];
        ehr_config_init(c);
        int r = ehr_config_load(c, path, false, err, sizeof err);
        if (r < 0)
                fprintf(stderr, "%s\n", err);
        return r;
}

int main(int argc, char **argv) {
        struct ehr_config c;
        int r;

        if (sodium_init() < 0)
                return 2;
        if (argc == 3 && strcmp(argv[1], "address") == 0) {
                puts(ehr_mail_address_valid(argv[2]) ? "valid" : "invalid");
                return 0;
        }
        if (argc == 3 && strcmp(argv[1], "check") == 0) {
                r = load(argv[2], &c);
                if (r >= 0)
                        r = ehr_mail_config_check(&c);
                printf("r=%s\n", errname(r));
                ehr_config_done(&c);
                return r < 0;
        }
        if (argc >= 7 && strcmp(argv[1], "build") == 0) {
                char *m = NULL, *body = slurp(argv[5]);
                r = body ? ehr_mail_message_build(argv[2], *argv[3] ? argv[3] : NULL, (const char *const *) argv + 6,
                                                  (size_t) argc - 6, argv[4], body, 1767225600U, &m)
                         : -errno;
                if (r < 0)
                        printf("r=%s\n", errname(r));
                else
                        fputs(m, stdout);
                ehr_mail_message_free(m);
                return r < 0;
        }
        if (argc >= 6 && strcmp(argv[1], "send") == 0) {
                char *body = slurp(argv[4]);
                long status = 0;
                if (!body || load(argv[2], &c) < 0)
                        return 2;
                uint64_t t0 = ehr_monotonic_usec();
                r = ehr_mail_send_config(&c, (const char *const *) argv + 5, (size_t) argc - 5, argv[3], body,
                                         (uint64_t) time(NULL), &status);
                printf("r=%s status=%ld elapsed_ms=%llu\n", errname(r), status,
                       (unsigned long long) ((ehr_monotonic_usec() - t0) / 1000U));
                ehr_config_done(&c);
                return r < 0;
        }
        fprintf(stderr, "usage: mail-send send|check|build|address ...\n");
        return 2;
}
