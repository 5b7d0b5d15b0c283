/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The store's backend-neutral part: which backend a store's locator names, and
 * the server's password from its root-only file. */

#include <ctype.h>
#include <stdio.h>
#include <strings.h>

#include "config.h" /* EHR_STORE_DEFAULT_DIR */
#include "store-backend.h"

#define PASSWORD_MAX 1024U

/* The backends by the scheme of the store's locator. A store_dir without a
 * scheme is a directory: SQLite's. A locator is never repeated in a message:
 * a server's may hold a password. */
static const struct store_scheme {
        const char *prefix;
        const struct ehr_store_ops *ops;
} schemes[] = {
        { "sqlite:", &ehr_store_sqlite_ops },
        { "postgresql://", &ehr_store_postgresql_ops },
        { "postgres://", &ehr_store_postgresql_ops },
};

/* The length of the locator's URI scheme ("foo" in "foo:..."), 0 if it has none. */
static size_t scheme_len(const char *locator) {
        size_t n = 0;
        if (!isalpha((unsigned char) locator[0]))
                return 0;
        while (isalnum((unsigned char) locator[n]) || strchr("+-.", locator[n]))
                n++;
        return locator[n] == ':' ? n : 0;
}

static const struct store_scheme *find_scheme(const char *locator) {
        for (size_t i = 0; i < ELEMENTSOF(schemes); i++)
                if (strncasecmp(locator, schemes[i].prefix, strlen(schemes[i].prefix)) == 0)
                        return &schemes[i];
        /* A libpq connection string ("host=db dbname=ehr2fa") is PostgreSQL's too. */
        static const struct store_scheme conninfo = { "", &ehr_store_postgresql_ops };
        if (locator[0] != '/' && strchr(locator, '='))
                return &conninfo;
        return NULL;
}

int ehr_store_pick(const struct ehr_store_where *w, const struct ehr_store_ops **ret_ops, const char **ret_dir,
                   const char **ret_where, char *err, size_t errlen) {
        const char *dir = w->dir ?: EHR_STORE_DEFAULT_DIR;
        const struct store_scheme *sc = find_scheme(dir);
        if (sc && sc->ops != &ehr_store_sqlite_ops) {
                snprintf(err, errlen, "store_dir names a PostgreSQL server; store_dir is a directory (the master "
                         "key's, with a server), and the server goes in: store = postgresql://...");
                return -EINVAL;
        }
        size_t n = sc ? 0 : scheme_len(dir);
        if (n > 0) {
                snprintf(err, errlen, "store_dir: no store backend for \"%.*s:\"; name a directory (or sqlite:DIR)",
                         n > 32 ? 32 : (int) n, dir);
                return -EINVAL;
        }
        dir += sc ? strlen(sc->prefix) : 0;
        if (!w->server || !*w->server) {
                *ret_ops = &ehr_store_sqlite_ops;
                *ret_dir = *ret_where = dir;
                return 0;
        }
        sc = find_scheme(w->server);
        if (!sc || sc->ops == &ehr_store_sqlite_ops) {
                n = scheme_len(w->server);
                snprintf(err, errlen, "store: \"%.*s%s\" is not a PostgreSQL server (postgresql://... or "
                         "host=... dbname=...); leave store unset for SQLite in store_dir", n > 32 ? 32 : (int) n,
                         w->server, n ? ":" : "");
                return -EINVAL;
        }
        *ret_ops = sc->ops;
        *ret_dir = dir;
        *ret_where = w->server;
        return 0;
}

/* The file holds the password alone (one line; a final newline is not part of
 * it), and is checked as the master key is: a regular file, the euid's, no
 * group or other bits. */
int ehr_store_read_password(const char *path, char **ret, char *err, size_t errlen) {
        _cleanup_close_ int fd = ehr_open_checked(path, geteuid(), false, true);
        if (fd < 0) {
                ehr_open_error(fd, path, true, err, errlen);
                return fd;
        }
        char *buf = calloc(1, PASSWORD_MAX + 1);
        if (!buf)
                return -ENOMEM;
        size_t n = 0;
        for (ssize_t k; n < PASSWORD_MAX && (k = read(fd, buf + n, PASSWORD_MAX - n)) != 0; n += k > 0 ? (size_t) k : 0)
                if (k < 0 && errno != EINTR) {
                        int r = negative_errno();
                        snprintf(err, errlen, "cannot read %s: %s", path, ehr_strerror(r));
                        free(buf);
                        return r;
                }
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
                buf[--n] = 0;
        if (n == 0 || n == PASSWORD_MAX || memchr(buf, '\n', n) || memchr(buf, 0, n)) {
                snprintf(err, errlen, "%s: not a password file (one line of at most %u bytes)", path, PASSWORD_MAX - 1);
                explicit_bzero(buf, PASSWORD_MAX);
                free(buf);
                return -EINVAL;
        }
        *ret = buf;
        return 0;
}
