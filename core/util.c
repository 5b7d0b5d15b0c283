/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <fcntl.h>
#include <time.h>
#include <stdio.h>
#include <sys/stat.h>

#include "util.h"

int ehr_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *ret) {
        if (isempty(s))
                return -EINVAL;
        uint64_t v = 0;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                if (v > (UINT64_MAX - (uint64_t) (*p - '0')) / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t) (*p - '0');
        }
        if (v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

int ehr_parse_date(const char *s, uint64_t *ret_end_sec) {
        unsigned y, m, d;
        int n = 0;
        if (!s || strlen(s) != 10 || sscanf(s, "%4u-%2u-%2u%n", &y, &m, &d, &n) != 3 || n != 10 || s[4] != '-' ||
            s[7] != '-' || !isdigit((unsigned char) s[0]) || !isdigit((unsigned char) s[5]) ||
            !isdigit((unsigned char) s[8]))
                return -EINVAL;
        if (y < 2000 || y > 9998 || m < 1 || m > 12 || d < 1 || d > 31)
                return -EINVAL;
        struct tm tm = { .tm_year = (int) y - 1900, .tm_mon = (int) m - 1, .tm_mday = (int) d, .tm_isdst = -1 };
        struct tm check = tm;
        if (mktime(&check) == (time_t) -1 || check.tm_mday != (int) d || check.tm_mon != (int) m - 1)
                return -EINVAL; /* 2027-02-30 */
        tm.tm_mday++; /* mktime() carries it into the next month or year */
        time_t end = mktime(&tm);
        if (end == (time_t) -1 || end < 0)
                return -EINVAL;
        if (ret_end_sec)
                *ret_end_sec = (uint64_t) end;
        return 0;
}

int ehr_parse_bool(const char *s, bool *ret) {
        static const char *const yes[] = { "yes", "true", "on", "1" }, *const no[] = { "no", "false", "off", "0" };
        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcasecmp(s, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (strcasecmp(s, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        return -EINVAL;
}

uint64_t ehr_monotonic_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000U + (uint64_t) ts.tv_nsec / 1000U;
}

int ehr_stat_check(const struct stat *st, uid_t uid, bool allow_root, bool strict_private) {
        if (st->st_uid != uid && !(allow_root && st->st_uid == 0))
                return -EPERM;
        if (st->st_mode & (strict_private ? 0077 : 0022))
                return -ENOTUNIQ;
        return 0;
}

int ehr_open_checked(const char *path, uid_t uid, bool allow_root, bool strict_private) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        int r = ehr_stat_check(&st, uid, allow_root, strict_private);
        if (r < 0)
                return r;
        /* O_NONBLOCK stays: it was only there so that a FIFO in place of the file
         * cannot block open(), and reads of a regular file ignore it. */
        return TAKE_FD(fd);
}

int ehr_open_dir_checked(const char *path, uid_t uid, bool strict_private) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOTDIR ? -EBADFD : negative_errno();
        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        int r = ehr_stat_check(&st, uid, false, strict_private);
        if (r < 0)
                return r;
        return TAKE_FD(fd);
}

const char *ehr_open_error(int r, const char *path, bool strict_private, char *buf, size_t len) {
        switch (r) {
        case -ENOENT:
                snprintf(buf, len, "%s does not exist", path);
                break;
        case -ELOOP:
                snprintf(buf, len, "%s is a symbolic link; refusing to follow it", path);
                break;
        case -EBADFD:
                snprintf(buf, len, "%s is not a regular file (or directory); replace it", path);
                break;
        case -EPERM:
                snprintf(buf, len, "%s is owned by another user; fix: chown %u %s", path, (unsigned) geteuid(), path);
                break;
        case -ENOTUNIQ:
                snprintf(buf, len, "%s is accessible by group or others; fix: chmod %s %s", path,
                         strict_private ? "go-rwx" : "go-w", path);
                break;
        case -EACCES:
                /* open() itself: the caller may not enter or read it. */
                if (geteuid() != 0)
                        snprintf(buf, len, "%s: permission denied; this needs root (run it as root, or with sudo)",
                                 path);
                else
                        snprintf(buf, len, "%s: permission denied even to root (a security module, or a root-squashed "
                                 "network mount?)", path);
                break;
        default:
                snprintf(buf, len, "%s: %s", path, ehr_strerror(r));
        }
        return buf;
}

char *ehr_strstrip(char *s) {
        while (*s && isspace((unsigned char) *s))
                s++;
        size_t n = strlen(s);
        while (n > 0 && isspace((unsigned char) s[n - 1]))
                s[--n] = 0;
        return s;
}

size_t ehr_strdrop_blanks(char *s) {
        char *w = s;
        for (const char *p = s; *p; p++)
                if (*p != ' ' && *p != '\t')
                        *w++ = *p;
        explicit_bzero(w, strlen(w));
        return (size_t) (w - s);
}

const char *ehr_strerror(int r) {
        switch (r) {
        case -EREMOTEIO:
                return "the SMS gateway or mail server answered with an error status";
        case -EBADE:
                return "SMS gateway's answer is not valid HTTP";
        case -EKEYREJECTED:
                return "TLS with the SMS gateway or mail server failed (handshake, certificate, or no STARTTLS)";
        case -ECHILD:
                return "the SMS sender (ehr2fa-sms-send, see sms_sender) could not run or died";
        case -EBADRQC:
                return "wrong code, PIN or password";
        case -EACCES:
                /* The kernel's (or SQLite's) EACCES: a file, directory or socket this uid
                 * may not use. A wrong code is -EBADRQC. */
                return "permission denied";
        case -ENOTUNIQ:
                return "accessible by group or others (mode too open)";
        case -ENOMEDIUM:
                return "the store cannot be reached (a store file cannot be opened, or its server does not answer)";
        case -EDOM:
                return "the store refused a row that breaks its schema (a CHECK, NOT NULL or FOREIGN KEY rule)";
        case -EALREADY:
                return "code already used";
        case -EAGAIN:
                return "locked out";
        case -ETIME:
                return "the reset code has expired";
        case -ETOOMANYREFS:
                return "rate limited: a text message was sent too recently";
        case -EUSERS:
                return "break-glass limit reached (this user's or this host's uses in their interval)";
        case -EBADR:
                return "a break-glass use cannot be reviewed by the user who made it";
        case -ENOBUFS:
                return "ehr2fad's queue is full (too busy to take the request)";
        case -ENOMSG:
                return "malformed message between pam_ehr2fa and ehr2fad";
        case -ECONNABORTED:
                return "ehr2fad closed the connection without answering";
        case -ENOLINK:
                return "the conversation with the user failed or was cancelled";
        case -EBADMSG:
                return "sealed data fails to open (tampered with, or copied from another user)";
        case -EPROTO:
                return "store schema version not supported by this binary";
        case -EBUSY:
                return "store is locked by another process";
        case -EROFS:
                return "store cannot be written (read-only or full)";
        case -EILSEQ:
                return "the audit chain is broken (a row was added, changed or removed outside ehr2fa; "
                       "'ehr2fa-admin audit verify' names the row)";
        case -EOVERFLOW:
                return "the store holds an impossible value (edited by hand?); the refused login's audit row "
                       "names it";
        case -ENOTEMPTY:
                return "the target store is not empty";
        case -EDQUOT:
                return "not enrolled, past enroll_by, and no grace login left";
        case -ENOPKG:
                return "this build of ehr2fa has no backend for the store that store_dir names";
        default:
                return strerror(r < 0 ? -r : r);
        }
}

void ehr_base64_encode(char *dst, const unsigned char *src, size_t n) {
        static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        size_t i;
        for (i = 0; i + 2 < n; i += 3) {
                *dst++ = tab[src[i] >> 2];
                *dst++ = tab[((src[i] & 0x03) << 4) | (src[i + 1] >> 4)];
                *dst++ = tab[((src[i + 1] & 0x0f) << 2) | (src[i + 2] >> 6)];
                *dst++ = tab[src[i + 2] & 0x3f];
        }
        if (i < n) {
                *dst++ = tab[src[i] >> 2];
                if (i + 1 < n) {
                        *dst++ = tab[((src[i] & 0x03) << 4) | (src[i + 1] >> 4)];
                        *dst++ = tab[(src[i + 1] & 0x0f) << 2];
                } else {
                        *dst++ = tab[(src[i] & 0x03) << 4];
                        *dst++ = '=';
                }
                *dst++ = '=';
        }
        *dst = 0;
}
