/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A text message is sent from a child process, ehr2fa-sms-send, with an environment
 * of our own (child.h says why). The request: the gateway's settings, the number
 * and the message, in the order of enum field. */

#include <stdio.h>

#include "child.h"
#include "sms.h"

enum field { F_MODE, F_URL, F_TOKEN, F_FROM, F_PROXY, F_CA_FILE, F_CONNECT_MS, F_TIMEOUT_MS, F_TO, F_MESSAGE, _F_MAX };

int ehr_sms_send_isolated(const char *sender, const struct ehr_sms_gateway *g, const char *to_e164,
                          const char *message, long *ret_http_status) {
        char cto[24], tmo[24];
        long status = 0;

        if (ret_http_status)
                *ret_http_status = 0;
        if (!g || !to_e164 || !message || !ehr_sms_mode_to_string(g->mode))
                return -EINVAL;
        snprintf(cto, sizeof cto, "%llu", (unsigned long long) g->connect_timeout_ms);
        snprintf(tmo, sizeof tmo, "%llu", (unsigned long long) g->timeout_ms);
        const char *f[_F_MAX] = {
                [F_MODE] = ehr_sms_mode_to_string(g->mode),
                [F_URL] = g->url,
                [F_TOKEN] = g->token,
                [F_FROM] = g->from,
                [F_PROXY] = g->proxy,
                [F_CA_FILE] = g->ca_file,
                [F_CONNECT_MS] = cto,
                [F_TIMEOUT_MS] = tmo,
                [F_TO] = to_e164,
                [F_MESSAGE] = message,
        };
        int r = ehr_child_call(sender, "ehr2fa-sms-send", f, _F_MAX, g->timeout_ms ?: EHR_SMS_TIMEOUT_MS_DEFAULT,
                               &status);
        if (ret_http_status)
                *ret_http_status = status;
        return r;
}

/* --- the child's side --- */

static int serve_one(const char *const *f, void *userdata, long *ret_status) {
        struct ehr_sms_gateway g = {};
        (void) userdata;
        if (ehr_sms_mode_from_string(f[F_MODE], &g.mode) < 0 ||
            ehr_parse_uint(f[F_CONNECT_MS], 0, EHR_SMS_TIMEOUT_MS_MAX, &g.connect_timeout_ms) < 0 ||
            ehr_parse_uint(f[F_TIMEOUT_MS], 0, EHR_SMS_TIMEOUT_MS_MAX, &g.timeout_ms) < 0)
                return -EINVAL;
        g.url = f[F_URL], g.token = f[F_TOKEN], g.from = f[F_FROM], g.proxy = f[F_PROXY];
        g.ca_file = f[F_CA_FILE];
        return ehr_sms_send(&g, f[F_TO], f[F_MESSAGE], ret_status);
}

int ehr_sms_child_serve(int in_fd, int out_fd) {
        return ehr_child_serve(in_fd, out_fd, _F_MAX, serve_one, NULL);
}
