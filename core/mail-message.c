/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A message as RFC 5322 wants it (CRLF line ends, Date, Message-ID, MIME), addresses
 * we accept, and the config's side: the settings and the credentials file. Nothing
 * here needs libcurl; the transport is mail.c. */

#include <stdio.h>
#include <time.h>

#include "mail.h"
#include "sodium-load.h"

/* Headers (not the body's lines) are folded below this. */
#define MAIL_LINE_MAX 78U
/* An encoded word carries at most this many bytes of text (60 base64 characters). */
#define MAIL_WORD_BYTES 45U
#define MAIL_MESSAGE_ID_BYTES 16U

static bool atext(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* A dot-atom: atext runs separated by single dots. */
static bool dot_atom(const char *p, size_t n) {
        if (n == 0 || p[0] == '.' || p[n - 1] == '.')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!(atext(p[i]) || (p[i] == '.' && p[i - 1] != '.')))
                        return false;
        return true;
}

bool ehr_mail_address_valid(const char *s) {
        const char *at = s ? strrchr(s, '@') : NULL;
        if (!at || strlen(s) > EHR_FIELD_EMAIL_MAX || !dot_atom(s, (size_t) (at - s)) || !dot_atom(at + 1, strlen(at + 1)))
                return false;
        /* The domain: letters, digits, '-' and dots only. */
        for (const char *p = at + 1; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
                      *p == '.'))
                        return false;
        return true;
}

struct out {
        char *p;
        size_t n, cap;
};

static int put(struct out *o, const char *s, size_t k) {
        if (k >= o->cap - o->n)
                return -E2BIG;
        memcpy(o->p + o->n, s, k);
        o->n += k;
        o->p[o->n] = 0;
        return 0;
}

static int puts_(struct out *o, const char *s) {
        return put(o, s, strlen(s));
}

static bool ascii_printable(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < 0x20 || (unsigned char) *s > 0x7e)
                        return false;
        return true;
}

/* Bytes of s that fit in one encoded word without splitting a UTF-8 sequence. */
static size_t word_chunk(const char *s) {
        size_t n = strlen(s);
        if (n <= MAIL_WORD_BYTES)
                return n;
        n = MAIL_WORD_BYTES;
        while (n > 0 && ((unsigned char) s[n] & 0xc0) == 0x80)
                n--;
        return n;
}

/* RFC 2047 encoded words, one per folded line. */
static int put_words(struct out *o, const char *s) {
        for (bool first = true; *s; first = false) {
                char b64[EHR_BASE64_SIZE(MAIL_WORD_BYTES)];
                size_t k = word_chunk(s);
                ehr_base64_encode(b64, (const unsigned char *) s, k);
                int r = puts_(o, first ? "=?UTF-8?B?" : "\r\n =?UTF-8?B?");
                if (r >= 0)
                        r = puts_(o, b64);
                if (r >= 0)
                        r = puts_(o, "?=");
                if (r < 0)
                        return r;
                s += k;
        }
        return 0;
}

/* A header's text: as it is when printable ASCII, else encoded words. Never a line
 * break of the caller's. */
static int put_text(struct out *o, const char *s) {
        return ascii_printable(s) ? puts_(o, s) : put_words(o, s);
}

/* A display name: as it is when letters, digits and spaces (an RFC 5322 phrase
 * without quoting), else encoded words: no quoting rules to get wrong. */
static int put_phrase(struct out *o, const char *s) {
        for (const char *p = s; *p; p++)
                if (!atext(*p) && *p != ' ')
                        return put_words(o, s);
        return puts_(o, s);
}

static int put_date(struct out *o, uint64_t now_sec) {
        static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
        static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
        time_t t = (time_t) now_sec;
        struct tm tm;
        char buf[64];
        if (!gmtime_r(&t, &tm))
                return -EINVAL;
        /* Names from our tables: strftime's %a and %b follow the locale. */
        snprintf(buf, sizeof buf, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n", days[tm.tm_wday], tm.tm_mday,
                 months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
        return puts_(o, buf);
}

static int put_message_id(struct out *o, const char *from) {
        uint8_t id[MAIL_MESSAGE_ID_BYTES];
        char hex[2 * MAIL_MESSAGE_ID_BYTES + 1];
        randombytes_buf(id, sizeof id);
        for (size_t i = 0; i < sizeof id; i++)
                snprintf(hex + 2 * i, 3, "%02x", id[i]);
        int r = puts_(o, "Message-ID: <");
        if (r >= 0)
                r = puts_(o, hex);
        if (r >= 0)
                r = puts_(o, strrchr(from, '@')); /* the sender's domain */
        return r < 0 ? r : puts_(o, ">\r\n");
}

static int put_to(struct out *o, const char *const *to, size_t n) {
        size_t col = sizeof "To: " - 1;
        int r = puts_(o, "To: ");
        for (size_t i = 0; r >= 0 && i < n; i++) {
                if (!ehr_mail_address_valid(to[i]))
                        return -EINVAL;
                if (i > 0 && col + strlen(to[i]) + 2 > MAIL_LINE_MAX) {
                        r = puts_(o, ",\r\n ");
                        col = 1;
                } else if (i > 0) {
                        r = puts_(o, ", ");
                        col += 2;
                }
                if (r >= 0)
                        r = puts_(o, to[i]);
                col += strlen(to[i]);
        }
        return r < 0 ? r : puts_(o, "\r\n");
}

/* The body: text with "\n" (or "\r\n") line ends and tabs; no other control characters. */
static bool body_valid(const char *s) {
        for (const char *p = s; *p; p++)
                if (((unsigned char) *p < 0x20 && *p != '\n' && *p != '\t' && !(*p == '\r' && p[1] == '\n')) ||
                    *p == 0x7f)
                        return false;
        return ehr_utf8_valid(s);
}

/* ASCII with short lines goes as it is (7bit); anything else in base64. */
static int put_body(struct out *o, const char *body) {
        bool ascii = true;
        size_t line = 0;
        for (const unsigned char *p = (const unsigned char *) body; *p; p++) {
                ascii = ascii && *p < 0x80;
                line = *p == '\n' ? 0 : line + 1;
                ascii = ascii && line < MAIL_LINE_MAX * 4;
        }
        int r = puts_(o, ascii ? "Content-Transfer-Encoding: 7bit\r\n\r\n" : "Content-Transfer-Encoding: base64\r\n\r\n");
        if (r < 0)
                return r;
        if (ascii) {
                size_t n = strlen(body);
                for (const char *p = body; r >= 0 && *p; p++)
                        r = *p == '\n' && (p == body || p[-1] != '\r') ? puts_(o, "\r\n") : put(o, p, 1);
                /* The message ends with a line end, whether the text did or not. */
                return r < 0 || (n > 0 && body[n - 1] == '\n') ? r : puts_(o, "\r\n");
        }
        /* 57 bytes make one 76-character line. */
        for (size_t n = strlen(body), i = 0; r >= 0 && i < n; i += 57) {
                char b64[EHR_BASE64_SIZE(57)];
                ehr_base64_encode(b64, (const unsigned char *) body + i, n - i < 57 ? n - i : 57);
                r = puts_(o, b64);
                if (r >= 0)
                        r = puts_(o, "\r\n");
        }
        return r;
}

int ehr_mail_message_build(const char *from, const char *display, const char *const *to, size_t n,
                           const char *subject, const char *body, uint64_t now_sec, char **ret) {
        if (!ehr_mail_address_valid(from) || !to || n == 0 || n > EHR_MAIL_RECIPIENTS_MAX || !subject ||
            strlen(subject) > EHR_MAIL_SUBJECT_MAX || !body || strlen(body) > EHR_MAIL_BODY_MAX || !body_valid(body) ||
            !ehr_utf8_valid(subject) || strpbrk(subject, "\r\n") || (display && (strlen(display) > EHR_MAIL_SUBJECT_MAX ||
            !ehr_utf8_valid(display) || strpbrk(display, "\r\n"))))
                return -EINVAL;
        for (const char *p = subject; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        return -EINVAL;
        struct out o = { .cap = 4096U + n * (EHR_FIELD_EMAIL_MAX + 4U) + 4U * EHR_MAIL_SUBJECT_MAX + 2U * strlen(body) };
        o.p = malloc(o.cap);
        if (!o.p)
                return -ENOMEM;
        o.p[0] = 0;
        int r = put_date(&o, now_sec);
        if (r >= 0)
                r = put_message_id(&o, from);
        if (r >= 0 && !isempty(display)) {
                r = puts_(&o, "From: ");
                if (r >= 0)
                        r = put_phrase(&o, display);
                if (r >= 0)
                        r = puts_(&o, " <");
        } else if (r >= 0)
                r = puts_(&o, "From: <");
        if (r >= 0)
                r = puts_(&o, from);
        if (r >= 0)
                r = puts_(&o, ">\r\n");
        if (r >= 0)
                r = put_to(&o, to, n);
        if (r >= 0)
                r = puts_(&o, "Subject: ");
        if (r >= 0)
                r = put_text(&o, subject);
        if (r >= 0)
                r = puts_(&o, "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"
                              "Auto-Submitted: auto-generated\r\n");
        if (r >= 0)
                r = put_body(&o, body);
        if (r < 0) {
                ehr_mail_message_free(o.p);
                return r == -E2BIG ? -EINVAL : r;
        }
        *ret = o.p;
        return 0;
}

char *ehr_mail_message_free(char *m) {
        if (m) {
                explicit_bzero(m, strlen(m));
                free(m);
        }
        return NULL;
}
