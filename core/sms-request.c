/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What goes on the wire for each provider format, without libcurl: the gateway's
 * settings checked field by field, the URL a Twilio account implies, the request
 * body (JSON or a form) and the Authorization header, and the API token file. The
 * transport that carries them is core/sms.c. */

#include <stdio.h>

#include "sms-internal.h"

/* Twilio Account SIDs are "AC" + 32 hex digits; leave room for other schemes. */
#define SMS_TWILIO_SID_MAX 64U
#define SMS_TWILIO_URL_FMT "https://api.twilio.com/2010-04-01/Accounts/%.*s/Messages.json"

void sms_secbuf_done(struct sms_secbuf *b) {
        if (b->p) {
                explicit_bzero(b->p, b->size);
                free(b->p);
        }
        *b = (struct sms_secbuf) {};
}

int sms_secbuf_alloc(struct sms_secbuf *b, size_t size) {
        b->p = calloc(1, size);
        if (!b->p)
                return -ENOMEM;
        b->size = size;
        return 0;
}

static const char *const mode_names[_EHR_SMS_MODE_MAX] = {
        [EHR_SMS_GENERIC] = "generic",
        [EHR_SMS_TWILIO] = "twilio",
};

int ehr_sms_mode_from_string(const char *s, enum ehr_sms_mode *ret) {
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(mode_names); i++)
                if (streq(s, mode_names[i])) {
                        *ret = (enum ehr_sms_mode) i;
                        return 0;
                }
        return -EINVAL;
}

const char *ehr_sms_mode_to_string(enum ehr_sms_mode m) {
        if ((unsigned) m >= ELEMENTSOF(mode_names))
                return NULL;
        return mode_names[m];
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

const char *ehr_phone_mask(const char *phone, char *buf, size_t len) {
        char last[2] = {};
        size_t n = 0;

        if (len == 0)
                return buf;
        for (const char *p = phone; p && *p; p++)
                if (is_digit(*p)) {
                        last[0] = last[1];
                        last[1] = *p;
                        n++;
                }
        if (n < 2)
                snprintf(buf, len, "***");
        else
                snprintf(buf, len, "***%c%c", last[0], last[1]);
        return buf;
}

/* A token goes into an HTTP header: printable ASCII without spaces, so that no
 * CR/LF can start a header of its own. */
static bool token_chars_ok(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) s[i] < 0x21 || (unsigned char) s[i] > 0x7e)
                        return false;
        return n > 0;
}

static bool alnum_ok(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (!is_digit(c) && !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z'))
                        return false;
        }
        return n > 0;
}

/* "SID:TOKEN": split at the first ':'. */
static int twilio_split(const char *token, size_t *ret_sid_len) {
        const char *colon = token ? strchr(token, ':') : NULL;
        if (!colon)
                return -EINVAL;
        size_t sid_len = (size_t) (colon - token);
        if (sid_len > SMS_TWILIO_SID_MAX || !alnum_ok(token, sid_len) || !token_chars_ok(colon + 1, strlen(colon + 1)))
                return -EINVAL;
        *ret_sid_len = sid_len;
        return 0;
}

static bool twilio_from_ok(const char *from) {
        if (!from)
                return false;
        if (from[0] == '+')
                return ehr_phone_is_e164(from);
        /* An alphanumeric sender ID; Twilio wants at least one letter in it. */
        size_t n = strlen(from);
        bool letter = false;
        for (size_t i = 0; i < n; i++)
                letter = letter || !is_digit(from[i]);
        return n <= EHR_SMS_SENDER_ID_MAX && alnum_ok(from, n) && letter;
}

/* Everything but the URL: mode, timeouts, token shape, From, CA file. */
int sms_gateway_fields_check(const struct ehr_sms_gateway *g) {
        size_t sid_len;
        int r;

        if (!g || (unsigned) g->mode >= _EHR_SMS_MODE_MAX)
                return -EINVAL;
        if (g->connect_timeout_ms > EHR_SMS_TIMEOUT_MS_MAX || g->timeout_ms > EHR_SMS_TIMEOUT_MS_MAX)
                return -EINVAL;
        if (g->mode == EHR_SMS_TWILIO) {
                r = twilio_split(g->token, &sid_len);
                if (r < 0)
                        return r;
                if (!twilio_from_ok(g->from))
                        return -EINVAL;
        } else if (!g->token || !token_chars_ok(g->token, strlen(g->token)))
                return -EINVAL;
        if (!isempty(g->ca_file) && g->ca_file[0] != '/')
                return -EINVAL;
        return 0;
}

int sms_gateway_url(const struct ehr_sms_gateway *g, char *buf, size_t len, const char **ret) {
        size_t sid_len;
        int r;

        if (!isempty(g->url)) {
                *ret = g->url;
                return 0;
        }
        if (g->mode != EHR_SMS_TWILIO)
                return -EINVAL;
        r = twilio_split(g->token, &sid_len);
        if (r < 0)
                return r;
        r = snprintf(buf, len, SMS_TWILIO_URL_FMT, (int) sid_len, g->token);
        if (r < 0 || (size_t) r >= len)
                return -EINVAL;
        *ret = buf;
        return 0;
}


/* Append s to dst as the inside of a JSON string. dst must have 6 * strlen(s) bytes free.
 * Returns the new end. */
static char *json_escape(char *dst, const char *s) {
        static const char hex[] = "0123456789abcdef";
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                switch (*p) {
                case '"':
                case '\\':
                        *dst++ = '\\';
                        *dst++ = (char) *p;
                        break;
                case '\n':
                        *dst++ = '\\';
                        *dst++ = 'n';
                        break;
                case '\r':
                        *dst++ = '\\';
                        *dst++ = 'r';
                        break;
                case '\t':
                        *dst++ = '\\';
                        *dst++ = 't';
                        break;
                default:
                        if (*p < 0x20) {
                                memcpy(dst, "\\u00", 4);
                                dst += 4;
                                *dst++ = hex[*p >> 4];
                                *dst++ = hex[*p & 0xf];
                        } else
                                *dst++ = (char) *p;
                }
        }
        return dst;
}

/* Percent-encode everything but RFC 3986 unreserved characters. dst must have
 * 3 * strlen(s) bytes free. Returns the new end. */
static char *form_escape(char *dst, const char *s) {
        static const char hex[] = "0123456789ABCDEF";
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if (is_digit((char) *p) || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '-' ||
                    *p == '.' || *p == '_' || *p == '~')
                        *dst++ = (char) *p;
                else {
                        *dst++ = '%';
                        *dst++ = hex[*p >> 4];
                        *dst++ = hex[*p & 0xf];
                }
        }
        return dst;
}

static int build_json(struct sms_secbuf *b, const char *to, const char *message) {
        static const char pre[] = "{\"to\":\"", mid[] = "\",\"message\":\"", post[] = "\"}";
        int r = sms_secbuf_alloc(b, sizeof pre + sizeof mid + sizeof post + 6 * (strlen(to) + strlen(message)));
        if (r < 0)
                return r;
        char *e = stpcpy(b->p, pre);
        e = json_escape(e, to);
        e = stpcpy(e, mid);
        e = json_escape(e, message);
        stpcpy(e, post);
        return 0;
}

static int build_form(struct sms_secbuf *b, const char *to, const char *from, const char *message) {
        int r = sms_secbuf_alloc(b, sizeof "To=&From=&Body=" + 3 * (strlen(to) + strlen(from) + strlen(message)));
        if (r < 0)
                return r;
        char *e = stpcpy(b->p, "To=");
        e = form_escape(e, to);
        e = stpcpy(e, "&From=");
        e = form_escape(e, from);
        e = stpcpy(e, "&Body=");
        e = form_escape(e, message);
        *e = 0;
        return 0;
}

static int build_auth(struct sms_secbuf *b, const struct ehr_sms_gateway *g) {
        static const char bearer[] = "Authorization: Bearer ", basic[] = "Authorization: Basic ";
        size_t n = strlen(g->token);
        int r;

        if (g->mode == EHR_SMS_TWILIO) {
                /* Our own header rather than CURLOPT_USERNAME/PASSWORD: libcurl would keep
                 * copies of the auth token that we cannot wipe. */
                r = sms_secbuf_alloc(b, sizeof basic + 4 * ((n + 2) / 3) + 1);
                if (r < 0)
                        return r;
                ehr_base64_encode(stpcpy(b->p, basic), (const unsigned char *) g->token, n);
        } else {
                r = sms_secbuf_alloc(b, sizeof bearer + n);
                if (r < 0)
                        return r;
                stpcpy(stpcpy(b->p, bearer), g->token);
        }
        return 0;
}

int sms_request_build(struct sms_request *req, const struct ehr_sms_gateway *g, const char *to_e164,
                      const char *message) {
        int r = g->mode == EHR_SMS_TWILIO ? build_form(&req->body, to_e164, g->from, message)
                                          : build_json(&req->body, to_e164, message);
        if (r < 0)
                return r;
        r = build_auth(&req->auth, g);
        if (r < 0)
                return r;
        req->content_type = g->mode == EHR_SMS_TWILIO ? "Content-Type: application/x-www-form-urlencoded"
                                                      : "Content-Type: application/json";
        return 0;
}

void sms_request_done(struct sms_request *req) {
        sms_secbuf_done(&req->body);
        sms_secbuf_done(&req->auth);
}

int ehr_sms_read_token_file(const char *path, char **ret) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_(sms_secbuf_done) struct sms_secbuf b = {};
        size_t n = 0;
        int r;

        if (isempty(path) || !ret)
                return -EINVAL;
        fd = ehr_open_checked(path, geteuid(), true, true);
        if (fd < 0)
                return fd;
        /* One byte more than we accept, to tell "exactly at the limit" from "too long". */
        r = sms_secbuf_alloc(&b, EHR_SMS_TOKEN_MAX + 2);
        if (r < 0)
                return r;
        for (;;) {
                ssize_t k = read(fd, b.p + n, EHR_SMS_TOKEN_MAX + 1 - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        break;
                n += (size_t) k;
                if (n > EHR_SMS_TOKEN_MAX)
                        return -EFBIG;
        }
        while (n > 0 && (b.p[n - 1] == '\n' || b.p[n - 1] == '\r' || b.p[n - 1] == ' ' || b.p[n - 1] == '\t'))
                b.p[--n] = 0;
        if (n == 0)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) b.p[i] < 0x20 || (unsigned char) b.p[i] == 0x7f)
                        return -EINVAL;

        char *t = malloc(n + 1);
        if (!t)
                return -ENOMEM;
        memcpy(t, b.p, n + 1);
        *ret = t;
        return 0;
}

char *ehr_sms_token_free(char *token) {
        if (token) {
                explicit_bzero(token, strlen(token));
                free(token);
        }
        return NULL;
}
