/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Small helpers shared by every part, libc only (NSS links this). */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define _public_ __attribute__((visibility("default")))
#define _unused_ __attribute__((unused))
#define _warn_unused_result_ __attribute__((warn_unused_result))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _cleanup_(f) __attribute__((cleanup(f)))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd) {
        if (*fd >= 0) {
                int saved = errno;
                (void) close(*fd);
                errno = saved;
        }
}
#define _cleanup_close_ _cleanup_(closep)

/* Hand ownership out of a _cleanup_ variable. */
#define TAKE_PTR(p)                                     \
        ({                                              \
                __typeof__(p) _p_ = (p);                \
                (p) = NULL;                             \
                _p_;                                    \
        })
#define TAKE_FD(fd)                                     \
        ({                                              \
                int _fd_ = (fd);                        \
                (fd) = -1;                              \
                _fd_;                                   \
        })

static inline bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}

static inline bool isempty(const char *s) {
        return !s || !*s;
}

/* Returns -errno of the last libc call, never 0 (a call that failed without setting errno is -EIO). */
static inline int negative_errno(void) {
        return errno > 0 ? -errno : -EIO;
}

/* Parse a decimal unsigned integer in [min, max]. Returns 0 or -EINVAL / -ERANGE. */
int ehr_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *ret);

/* Parse yes/no/true/false/1/0/on/off. Returns 0 or -EINVAL. */
int ehr_parse_bool(const char *s, bool *ret);

/* Parse a day, YYYY-MM-DD (2000-01-01 to 9998-12-31), into the first second after
 * it in local time: "enroll_by = 2027-01-31" lasts all of that day. ret may be
 * NULL (check only). Returns 0 or -EINVAL. */
int ehr_parse_date(const char *s, uint64_t *ret_end_sec);

/* Open an existing file that must be a regular file owned by `uid` (or by root when
 * allow_root) and not writable by group or others; with strict_private also not
 * readable by them. Opened O_NOFOLLOW|O_CLOEXEC|O_NONBLOCK so a FIFO or a link
 * never hangs or redirects us; the checks are made on the descriptor.
 * Returns the fd, or -ENOENT, -ELOOP (symlink), -EBADFD (not a regular file),
 * -EPERM (wrong owner), -ENOTUNIQ (mode too open), -EACCES (open() itself
 * denied: not root), or another -errno; ehr_open_error() words each. */
int ehr_open_checked(const char *path, uid_t uid, bool allow_root, bool strict_private);

/* CLOCK_MONOTONIC in microseconds: for timeouts and durations, never for dates. */
uint64_t ehr_monotonic_usec(void);
static inline uint64_t ehr_monotonic_msec(void) {
        return ehr_monotonic_usec() / 1000U;
}

/* The ownership and mode checks of both, on a stat result: 0, -EPERM or -ENOTUNIQ. */
int ehr_stat_check(const struct stat *st, uid_t uid, bool allow_root, bool strict_private);

/* Same checks for a directory, opened O_DIRECTORY|O_NOFOLLOW. */
int ehr_open_dir_checked(const char *path, uid_t uid, bool strict_private);

/* A message for the errors of ehr_open_checked(), naming the file and the fix.
 * Writes into buf, returns buf. */
const char *ehr_open_error(int r, const char *path, bool strict_private, char *buf, size_t len);

/* Trim ASCII whitespace in place at both ends; returns the start. */
char *ehr_strstrip(char *s);

/* Drop every space and tab in place ("123 456" as an app shows a code), wiping the
 * bytes freed at the end, as the string may be a secret. Returns the new length. */
size_t ehr_strdrop_blanks(char *s);

/* strerror for a negative errno, thread-safe enough for front ends. */
const char *ehr_strerror(int r);

/* Standard base64 with padding (RFC 4648), NUL-terminated. dst must have
 * EHR_BASE64_SIZE(n) bytes. */
#define EHR_BASE64_SIZE(n) (4U * (((size_t) (n) + 2U) / 3U) + 1U)
void ehr_base64_encode(char *dst, const unsigned char *src, size_t n);
