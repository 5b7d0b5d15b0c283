/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Test driver for core/sms.c. Not installed.
 *
 *   sms-send send [GATEWAY OPTIONS] TO MESSAGE   -> "r=<ERRNO|OK> status=<http> elapsed_ms=<n> fds_leaked=<n>"
 *   sms-send check [GATEWAY OPTIONS]             -> "r=<ERRNO|OK>"
 *   sms-send normalize NUMBER                    -> "r=OK out=<e164>" or "r=<ERRNO>"
 *   sms-send mask NUMBER                         -> "mask=<masked>"
 *   sms-send read-token FILE                     -> "r=OK token=[<token>]" or "r=<ERRNO>"
 *
 * GATEWAY OPTIONS: --mode generic|twilio --url URL --token TOKEN | --token-file FILE
 *   --from FROM --proxy URL --ca-file FILE --connect-timeout-ms N --timeout-ms N
 *   --threads N: send N messages at once from N threads (first failure is reported)
 *   --sender PATH: send from a child, PATH (ehr2fa-sms-send), as the module does
 * The token may also come from $EHR_SMS_TOKEN. Exit status: 0 when r is OK, 1 when not,
 * 2 on a usage error. */

#include <dirent.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sms.h"

static const char *errname(int r) {
        if (r == 0)
                return "OK";
        const char *n = strerrorname_np(-r);
        return n ? n : "UNKNOWN";
}

static uint64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000U + (uint64_t) ts.tv_nsec / 1000000U;
}

static int count_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        int n = 0;
        if (!d)
                return -1;
        while (readdir(d))
                n++;
        closedir(d);
        return n;
}

struct job {
        const struct ehr_sms_gateway *g;
        const char *to, *message;
        long status;
        int r;
};

static unsigned n_threads = 1;
static const char *sender; /* --sender: send through ehr_sms_send_isolated() and this program */

static void *job_run(void *p) {
        struct job *j = p;
        j->r = sender ? ehr_sms_send_isolated(sender, j->g, j->to, j->message, &j->status)
                      : ehr_sms_send(j->g, j->to, j->message, &j->status);
        return NULL;
}

static int usage(void) {
        fprintf(stderr, "usage: sms-send send|check|normalize|mask|read-token ...\n");
        return 2;
}

static int parse_gateway(int argc, char **argv, struct ehr_sms_gateway *g, char **ret_token) {
        static const struct option opts[] = {
                { "mode", required_argument, NULL, 'm' },
                { "url", required_argument, NULL, 'u' },
                { "token", required_argument, NULL, 't' },
                { "token-file", required_argument, NULL, 'T' },
                { "from", required_argument, NULL, 'f' },
                { "proxy", required_argument, NULL, 'p' },
                { "ca-file", required_argument, NULL, 'c' },
                { "connect-timeout-ms", required_argument, NULL, 'C' },
                { "timeout-ms", required_argument, NULL, 'o' },
                { "threads", required_argument, NULL, 'n' },
                { "sender", required_argument, NULL, 's' },
                {},
        };
        const char *token = getenv("EHR_SMS_TOKEN"), *token_file = NULL;
        int c, r;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (c) {
                case 'm':
                        if (ehr_sms_mode_from_string(optarg, &g->mode) < 0)
                                return -EINVAL;
                        break;
                case 'u':
                        g->url = optarg;
                        break;
                case 't':
                        token = optarg;
                        break;
                case 'T':
                        token_file = optarg;
                        break;
                case 'f':
                        g->from = optarg;
                        break;
                case 'p':
                        g->proxy = optarg;
                        break;
                case 'c':
                        g->ca_file = optarg;
                        break;
                case 'C':
                        if (ehr_parse_uint(optarg, 0, UINT64_MAX, &g->connect_timeout_ms) < 0)
                                return -EINVAL;
                        break;
                case 'o':
                        if (ehr_parse_uint(optarg, 0, UINT64_MAX, &g->timeout_ms) < 0)
                                return -EINVAL;
                        break;
                case 's':
                        sender = optarg;
                        break;
                case 'n': {
                        uint64_t n;
                        if (ehr_parse_uint(optarg, 1, 64, &n) < 0)
                                return -EINVAL;
                        n_threads = (unsigned) n;
                        break;
                }
                default:
                        return -EINVAL;
                }
        if (token_file) {
                r = ehr_sms_read_token_file(token_file, ret_token);
                if (r < 0) {
                        fprintf(stderr, "token file %s: %s\n", token_file, ehr_strerror(r));
                        return r;
                }
                g->token = *ret_token;
        } else
                g->token = token;
        return 0;
}

int main(int argc, char **argv) {
        _cleanup_(ehr_sms_token_freep) char *token = NULL;
        struct ehr_sms_gateway g = {};
        int r;

        if (argc < 2)
                return usage();
        const char *verb = argv[1];
        argc--, argv++;

        if (streq(verb, "send") || streq(verb, "check")) {
                r = parse_gateway(argc, argv, &g, &token);
                if (r < 0)
                        return 2;
                if (streq(verb, "check")) {
                        r = ehr_sms_gateway_check(&g);
                        printf("r=%s\n", errname(r));
                        return r < 0;
                }
                if (argc - optind != 2)
                        return usage();
                struct job jobs[64];
                pthread_t threads[64];
                int fds = count_fds();
                uint64_t t0 = now_ms();
                for (unsigned i = 0; i < n_threads; i++) {
                        jobs[i] = (struct job) { .g = &g, .to = argv[optind], .message = argv[optind + 1], .status = -1 };
                        if (n_threads == 1)
                                job_run(&jobs[i]);
                        else if (pthread_create(&threads[i], NULL, job_run, &jobs[i]) != 0)
                                return 2;
                }
                struct job *shown = &jobs[0];
                for (unsigned i = 0; i < n_threads; i++) {
                        if (n_threads > 1)
                                (void) pthread_join(threads[i], NULL);
                        if (jobs[i].r < 0 && shown->r == 0)
                                shown = &jobs[i];
                }
                uint64_t elapsed = now_ms() - t0;
                printf("r=%s status=%ld elapsed_ms=%llu fds_leaked=%d\n", errname(shown->r), shown->status,
                       (unsigned long long) elapsed, count_fds() - fds);
                return shown->r < 0;
        }
        if (argc != 2)
                return usage();
        if (streq(verb, "normalize")) {
                char out[EHR_PHONE_E164_BYTES];
                r = ehr_phone_normalize(argv[1], out, sizeof out);
                if (r < 0)
                        printf("r=%s\n", errname(r));
                else
                        printf("r=OK out=%s e164=%d\n", out, ehr_phone_is_e164(out));
                return r < 0;
        }
        if (streq(verb, "mask")) {
                char buf[EHR_PHONE_MASK_BYTES];
                printf("mask=%s\n", ehr_phone_mask(streq(argv[1], "NULL") ? NULL : argv[1], buf, sizeof buf));
                return 0;
        }
        if (streq(verb, "read-token")) {
                r = ehr_sms_read_token_file(argv[1], &token);
                if (r < 0)
                        printf("r=%s\n", errname(r));
                else
                        printf("r=OK token=[%s]\n", token);
                return r < 0;
        }
        return usage();
}
