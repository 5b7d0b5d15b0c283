/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The host's own users and groups (see account-host.h). */

#include <grp.h>
#include <nss.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>

#include "account-host.h"
#include "util.h"

#define NSSWITCH_CONF "/etc/nsswitch.conf"
#define NSS_LINE_MAX 1024U
#define NSS_BUF_START 1024U
#define NSS_BUF_MAX (1024U * 1024U)

/* The sources of database db in nsswitch.conf, as written (in ret, "" when the
 * file has no such line), and the same without our module and its [actions]
 * (in ret_without). Returns 1 when our module is listed, 0 when not. */
static int nss_line(const char *db, char ret[NSS_LINE_MAX], char ret_without[NSS_LINE_MAX]) {
        ret[0] = ret_without[0] = 0;
        FILE *f = fopen(NSSWITCH_CONF, "re");
        if (!f)
                return 0;
        char line[NSS_LINE_MAX];
        size_t dblen = strlen(db);
        while (fgets(line, sizeof line, f))
                if (strncmp(line, db, dblen) == 0 && line[dblen] == ':') {
                        snprintf(ret, NSS_LINE_MAX, "%s", line + dblen + 1);
                        ret[strcspn(ret, "#\n")] = 0;
                }
        fclose(f);
        bool ours = false, skip_actions = false;
        size_t n = 0;
        for (const char *p = ret; *p;) {
                size_t len = *p == '[' ? strcspn(p, "]") + (strchr(p, ']') ? 1 : 0) : strcspn(p, " \t[");
                if (len == 0) {
                        p++;
                        continue;
                }
                bool action = *p == '[';
                bool me = !action && len == strlen(EHR_NSS_MODULE_NAME) && strncmp(p, EHR_NSS_MODULE_NAME, len) == 0;
                if (!action)
                        skip_actions = me;
                ours = ours || me;
                if (!me && !(action && skip_actions) && n + len + 2 < NSS_LINE_MAX)
                        n += (size_t) snprintf(ret_without + n, NSS_LINE_MAX - n, "%s%.*s", n ? " " : "", (int) len, p);
                p += len;
        }
        return ours;
}

/* getpwnam_r() or getgrnam_r() with our module out of the database's line for
 * the one call: glibc's __nss_configure_lookup() replaces the line for this
 * process (nss_wrapper, in the tests, serves its own files instead and never
 * loads us for this). */
static int host_find(bool group, const char *name, uint32_t *ret_id) {
        const char *db = group ? "group" : "passwd";
        char line[NSS_LINE_MAX], without[NSS_LINE_MAX];
        bool ours = nss_line(db, line, without) > 0;
        if (ours)
                (void) __nss_configure_lookup(db, *without ? without : "files");
        struct passwd pw, *pres = NULL;
        struct group gr, *gres = NULL;
        _cleanup_free_ char *buf = NULL;
        int e = ERANGE;
        for (size_t len = NSS_BUF_START; e == ERANGE && len <= NSS_BUF_MAX; len *= 2) {
                free(buf);
                if (!(buf = malloc(len))) {
                        e = ENOMEM;
                        break;
                }
                e = group ? getgrnam_r(name, &gr, buf, len, &gres) : getpwnam_r(name, &pw, buf, len, &pres);
        }
        if (ours)
                (void) __nss_configure_lookup(db, line);
        if (e == ENOENT || e == ESRCH || (e == 0 && !pres && !gres))
                return 0;
        if (e != 0)
                return -e;
        if (ret_id)
                *ret_id = group ? gr.gr_gid : pw.pw_uid;
        return 1;
}

int ehr_host_user_find(const char *login, uint32_t *ret_uid) {
        return host_find(false, login, ret_uid);
}

int ehr_host_group_find(const char *name, uint32_t *ret_gid) {
        return host_find(true, name, ret_gid);
}

bool ehr_host_nss_lists_ours(const char *db) {
        char line[NSS_LINE_MAX], without[NSS_LINE_MAX];
        return nss_line(db, line, without) > 0;
}

/* getpwuid_r() or getgrgid_r(), the buffer grown as needed: 1, 0 or -errno. */
static int host_id(bool group, uint32_t id) {
        _cleanup_free_ char *buf = NULL;
        struct passwd pw, *pres = NULL;
        struct group gr, *gres = NULL;
        int e = ERANGE;
        for (size_t len = NSS_BUF_START; e == ERANGE && len <= NSS_BUF_MAX; len *= 2) {
                free(buf);
                if (!(buf = malloc(len)))
                        return -ENOMEM;
                e = group ? getgrgid_r((gid_t) id, &gr, buf, len, &gres) : getpwuid_r((uid_t) id, &pw, buf, len, &pres);
        }
        /* "Not found" is 0 with a NULL result, or ENOENT/ESRCH from some sources. */
        if (e == ENOENT || e == ESRCH)
                return 0;
        return e != 0 ? -e : (pres || gres);
}

int ehr_host_id_used(int64_t id) {
        if (id < 0 || id > (int64_t) UINT32_MAX - 1)
                return -EINVAL;
        int r = host_id(false, (uint32_t) id);
        return r != 0 ? r : host_id(true, (uint32_t) id);
}
