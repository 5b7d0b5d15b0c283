/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>

#include "admin.h"
#include "base32.h"
#include "enroll.h"
#include "qr.h"
#include "trust.h"

#define SECRET_LINE_MAX 256U

/* Read one line of base32 from stdin, so a secret need not appear in argv. */
static int read_secret_line(char *buf, size_t len) {
        if (!fgets(buf, (int) len, stdin))
                return -EINVAL;
        buf[strcspn(buf, "\r\n")] = 0;
        return 0;
}

struct enroll_args {
        struct ehr_otp_params p;
        char *secret_arg;
        bool qr, force;
        const char *login;
};

static int parse_enroll(struct admin *a, int argc, char **argv, struct enroll_args *e) {
        static const struct option opts[] = {
                { "secret", required_argument, NULL, 's' },   { "digits", required_argument, NULL, 'd' },
                { "period", required_argument, NULL, 'p' },   { "algorithm", required_argument, NULL, 'a' },
                { "no-qr", no_argument, NULL, 'Q' },          { "force", no_argument, NULL, 'f' },
                {},
        };
        const char *alg = a->cfg.totp_algorithm ?: "SHA1";
        uint64_t v;
        int c, r;
        *e = (struct enroll_args) {
                .p = { .digits = (unsigned) a->cfg.totp_digits, .period = (unsigned) a->cfg.totp_period }, .qr = true,
        };
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (c) {
                case 's':
                        e->secret_arg = optarg;
                        break;
                case 'd':
                        if ((r = parse_uint_arg("--digits", optarg, EHR_OTP_DIGITS_MIN, EHR_OTP_DIGITS_MAX, &v)))
                                return r;
                        e->p.digits = (unsigned) v;
                        break;
                case 'p':
                        if ((r = parse_uint_arg("--period", optarg, 10, 300, &v)))
                                return r;
                        e->p.period = (unsigned) v;
                        break;
                case 'a':
                        alg = optarg;
                        break;
                case 'Q':
                        e->qr = false;
                        break;
                case 'f':
                        e->force = true;
                        break;
                default:
                        return EXIT_USAGE;
                }
        if (optind + 1 != argc)
                return admin_err(EXIT_USAGE, "usage: totp enroll LOGIN [--secret BASE32|-] [--digits N] [--period S] [--algorithm A]");
        if (ehr_otp_algorithm_from_string(alg, &e->p.algorithm) < 0)
                return admin_err(EXIT_USAGE, "bad algorithm '%s': expected SHA1, SHA256 or SHA512", alg);
        e->login = argv[optind];
        return 0;
}

/* The seed: imported from --secret (the argument, or a line of standard input
 * for "-"), or generated. Returns 0 or an exit code. */
static int read_seed(char *secret_arg, struct ehr_secret *secret) {
        if (!secret_arg) {
                secret->len = EHR_TOTP_SECRET_BYTES;
                randombytes_buf(secret->data, secret->len);
                return 0;
        }
        char line[SECRET_LINE_MAX] = "";
        const char *b32 = secret_arg;
        if (streq(secret_arg, "-")) {
                if (read_secret_line(line, sizeof line) < 0)
                        return admin_err(EXIT_USAGE, "no secret on standard input");
                b32 = line;
        }
        int n = ehr_base32_decode(b32, secret->data, secret->len);
        sodium_memzero(line, sizeof line);
        /* Take the secret out of /proc/PID/cmdline as soon as it is read. */
        sodium_memzero(secret_arg, strlen(secret_arg));
        if (n < 0)
                return admin_err(EXIT_USAGE, "the secret is not valid base32 (RFC 4648: A-Z, 2-7)");
        if (n < 10)
                return admin_err(EXIT_USAGE, "the secret is too short: %d bytes, at least 10 (80 bits) needed", n);
        secret->len = (size_t) n;
        return 0;
}

/* The otpauth:// URI, the QR code of exactly that URI, and the key to type in. */
static int print_enrollment(struct admin *a, const struct ehr_user *u, const struct ehr_secret *secret,
                            const struct ehr_otp_params *p, bool qr) {
        char key[EHR_ENROLL_KEY_SIZE];
        char *uri = NULL, *code = NULL;
        size_t urilen = 0, codelen = 0;
        if (ehr_enroll_uri(&a->cfg, u->login, secret, p, &uri, &urilen, key) < 0)
                return admin_err(EXIT_FAIL, "out of memory");
        if (qr)
                printf("Enrolled %s. Scan this with the phone app (Google Authenticator, Authy, FreeOTP, Microsoft "
                       "Authenticator):\n\n", u->login);
        else
                printf("Enrolled %s. Add it to the phone app (Google Authenticator, Authy, FreeOTP, Microsoft "
                       "Authenticator) with the link or the key below.\n", u->login);
        int r = qr ? ehr_qr_render(uri, EHR_QR_ANSI, &code, &codelen) : 0;
        if (r < 0)
                fprintf(stderr, "ehr2fa-admin: cannot draw the QR code (%s); type the key instead, ignoring\n",
                        ehr_strerror(r));
        else if (code)
                fputs(code, stdout);
        printf("\n%s\n\nKey (to type in): %s\n", uri, key);
        printf("This is shown once. The user's next login asks for a code from the app.\n");
        fflush(stdout);
        sodium_memzero(key, sizeof key);
        sodium_memzero(uri, urilen);
        free(uri);
        if (code) {
                sodium_memzero(code, codelen);
                free(code);
        }
        return 0;
}

static int totp_enroll(struct admin *a, int argc, char **argv) {
        struct enroll_args e;
        int r = parse_enroll(a, argc, argv, &e);
        if (r)
                return r;
        _cleanup_(ehr_secret_freep) struct ehr_secret *secret = ehr_secret_new(EHR_OTP_SECRET_MAX);
        if (!secret)
                return admin_err(EXIT_FAIL, "out of memory");
        if ((r = read_seed(e.secret_arg, secret)))
                return r;
        _cleanup_(ehr_user_freep) struct ehr_user *u = NULL;
        /* Users may enroll their own phone; replacing an enrolled one is a manager's call. */
        r = admin_authorize(a, "totp enroll", e.force ? NULL : e.login, EHR_PERM_MANAGE_ACCOUNTS, NULL);
        if (r || (r = admin_get_user(a, e.login, &u)))
                return r;
        if (u->totp_enrolled && !e.force)
                return admin_err(EXIT_FAIL, "%s already has an app enrolled; use 'totp reset %s' first (or --force)",
                                 u->login, u->login);
        struct ehr_op op = admin_op(a);
        if ((r = ehr_account_totp_enroll(&op, u, secret, &e.p, e.secret_arg != NULL)) < 0)
                return admin_op_fail(a, &op, r, "enroll", NULL);
        return print_enrollment(a, u, secret, &e.p, e.qr);
}

static int totp_reset(struct admin *a, int argc, char **argv) {
        if (argc != 2)
                return admin_err(EXIT_USAGE, "usage: totp reset LOGIN");
        _cleanup_(ehr_user_freep) struct ehr_user *u = NULL;
        int r = admin_authorize(a, "totp reset", NULL, EHR_PERM_MANAGE_ACCOUNTS, EHR_PERM_HELP_DESK);
        if (r)
                return r;
        r = admin_get_user(a, argv[1], &u);
        if (r)
                return r;
        struct ehr_op op = admin_op(a);
        r = ehr_account_totp_reset(&op, u);
        if (r == -ENOENT)
                return admin_err(EXIT_NOTFOUND, "%s has no app enrolled", u->login);
        if (r < 0)
                return admin_op_fail(a, &op, r, "reset 2FA", NULL);
        printf("Reset 2FA for %s: the app, recovery codes and trusted devices no longer work. Enroll again with 'totp enroll %s'.\n",
               u->login, u->login);
        return 0;
}

int verb_totp(struct admin *a, int argc, char **argv) {
        if (argc < 2)
                return admin_err(EXIT_USAGE, "usage: totp enroll|reset LOGIN");
        if (streq(argv[1], "enroll"))
                return totp_enroll(a, argc - 1, argv + 1);
        if (streq(argv[1], "reset"))
                return totp_reset(a, argc - 1, argv + 1);
        return admin_err(EXIT_USAGE, "unknown command 'totp %s'", argv[1]);
}
