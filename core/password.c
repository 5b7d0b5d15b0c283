/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Passwords of managed accounts: the policy, and hashing by libxcrypt. */

#include <crypt.h>
#include <ctype.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "dl.h"
#include "password.h"
#include "sodium-load.h"
#include "util.h"

/* A list larger than this is not the one we ship (3.6k lines, 27 KB): refuse it
 * rather than read a file without end on every password change. */
#define BREACHED_SIZE_MAX (64U * 1024U * 1024U)
/* Below this many bytes "containing the login" would refuse too much ("al"). */
#define LOGIN_CONTAINED_MIN 3U

/* crypt_rn(), libxcrypt's crypt_r() that returns NULL rather than a failure
 * token: the same function, and one that AddressSanitizer does not intercept.
 * Its crypt_r() interceptor looks the real one up when the process starts,
 * before libpam dlopen()s this module and libcrypt with it, and then calls NULL.
 *
 * libxcrypt is dlopen()ed at the first hash or check (core/dl.h), as SQLite,
 * libsodium and libcurl are: a login loads pam_ehr2fa.so afresh in every
 * process, and linking libcrypt.so.1 cost each one about 0.17 ms of loading
 * (bench/pam's module-load table) for the few that change a password. */
#define XCRYPT_SONAME "libcrypt.so.1"

static struct {
        __typeof__(&crypt_gensalt_ra) crypt_gensalt_ra;
        __typeof__(&crypt_rn) crypt_rn;
} xcrypt;
static const struct ehr_dl_sym xcrypt_syms[] = {
        { "crypt_gensalt_ra", offsetof(__typeof__(xcrypt), crypt_gensalt_ra) },
        { "crypt_rn", offsetof(__typeof__(xcrypt), crypt_rn) },
};
static struct ehr_dl_lib xcrypt_lib = EHR_DL_LIB(XCRYPT_SONAME, "libcrypt1", xcrypt_syms, &xcrypt, NULL);

/* 0, or -ELIBACC (no libcrypt.so.1: is libcrypt1 installed?) or -ELIBBAD (too old). */
static int xcrypt_load(void) {
        return ehr_dl_load_once(&xcrypt_lib, NULL);
}

const char *ehr_password_breached_path(const struct ehr_config *c) {
        return c->password_breached_list ?: EHR_PASSWORD_BREACHED_DEFAULT;
}

/* Is password a line of the list (ignoring ASCII case)? 1, 0 or -errno. */
static int breached(const char *path, const char *password) {
        /* root's (or ours), not writable by others; readable by all: the list is public. */
        _cleanup_close_ int fd = ehr_open_checked(path, geteuid(), true, false);
        if (fd < 0)
                return fd;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (st.st_size > (off_t) BREACHED_SIZE_MAX)
                return -EFBIG;
        FILE *f = fdopen(fd, "re");
        if (!f)
                return negative_errno();
        fd = -1; /* f owns it now */
        size_t n = strlen(password), cap = 0;
        char *line = NULL;
        ssize_t len;
        int found = 0;
        while (!found && (len = getline(&line, &cap, f)) >= 0) {
                while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                        line[--len] = 0;
                if (line[0] != '#' && (size_t) len == n && strncasecmp(line, password, n) == 0)
                        found = 1;
        }
        int r = !found && ferror(f) ? -EIO : found;
        if (line)
                explicit_bzero(line, cap);
        free(line);
        fclose(f);
        return r;
}

static bool contains_login(const char *password, const char *login) {
        size_t n = strlen(login);
        if (n == 0)
                return false;
        if (strcasecmp(password, login) == 0)
                return true;
        return n >= LOGIN_CONTAINED_MIN && strcasestr(password, login) != NULL;
}

int ehr_password_policy_check(const struct ehr_config *c, const char *login, const char *password, char *reterr_msg,
                              size_t msglen) {
        const char *list = ehr_password_breached_path(c);
        if (!ehr_text_valid(password, SIZE_MAX)) {
                snprintf(reterr_msg, msglen, "The password must be text without control characters.");
                return -EINVAL;
        }
        /* Characters, not bytes: NIST SP 800-63B counts each Unicode code point once. */
        if (ehr_utf8_chars(password, strlen(password)) < c->password_min_length) {
                snprintf(reterr_msg, msglen, "The password is too short: it must have at least %llu characters.",
                         (unsigned long long) c->password_min_length);
                return -EINVAL;
        }
        if (strlen(password) > EHR_PASSWORD_MAX) {
                snprintf(reterr_msg, msglen, "The password is too long: it must have at most %u bytes.",
                         EHR_PASSWORD_MAX);
                return -EINVAL;
        }
        if (contains_login(password, login)) {
                snprintf(reterr_msg, msglen, "The password must not be or contain the login name.");
                return -EINVAL;
        }
        int r = breached(list, password);
        if (r < 0) {
                char why[EHR_PASSWORD_MSG_MAX];
                snprintf(reterr_msg, msglen, "Cannot check the password against the list of breached passwords: %s",
                         r == -EFBIG ? "the file is too large" : ehr_open_error(r, list, false, why, sizeof why));
                return r;
        }
        if (r > 0) {
                snprintf(reterr_msg, msglen,
                         "The password is in a list of passwords known from data breaches: choose another.");
                return -EINVAL;
        }
        return 0;
}

int ehr_password_hash(const char *password, char ret_hash[EHR_PASSWORD_HASH_MAX + 1]) {
        if (strlen(password) > EHR_PASSWORD_MAX)
                return -EINVAL;
        int r = xcrypt_load();
        if (r < 0)
                return r;
        /* count 0: libxcrypt's default cost; rbytes NULL: it reads the kernel's random bytes. */
        _cleanup_free_ char *salt = xcrypt.crypt_gensalt_ra(EHR_PASSWORD_HASH_PREFIX, 0, NULL, 0);
        if (!salt)
                return errno == EINVAL ? -ENOSYS : negative_errno();
        struct crypt_data *cd = calloc(1, sizeof *cd);
        if (!cd)
                return -ENOMEM;
        errno = 0;
        const char *h = xcrypt.crypt_rn(password, salt, cd, (int) sizeof *cd);
        if (!h || h[0] == '*')
                r = errno == EINVAL || errno == 0 ? -ENOSYS : negative_errno();
        else if (!ehr_password_hash_valid(h))
                r = -ENOSYS;
        else
                memcpy(ret_hash, h, strlen(h) + 1);
        explicit_bzero(cd, sizeof *cd); /* it held the password and the intermediate state */
        free(cd);
        return r;
}

int ehr_password_verify(const char *hash, const char *password) {
        if (!ehr_password_hash_valid(hash) || strlen(password) > EHR_PASSWORD_MAX)
                return -EINVAL;
        int r = xcrypt_load();
        if (r < 0)
                return r;
        struct crypt_data *cd = calloc(1, sizeof *cd);
        if (!cd)
                return -ENOMEM;
        const char *h = xcrypt.crypt_rn(password, hash, cd, (int) sizeof *cd);
        size_t n = strlen(hash);
        if (!h || h[0] == '*')
                r = -EINVAL;
        else
                r = strlen(h) == n && sodium_memcmp(h, hash, n) == 0 ? 0 : -EBADRQC;
        explicit_bzero(cd, sizeof *cd);
        free(cd);
        return r;
}
