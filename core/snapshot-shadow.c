/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The shadow snapshot: shadow(5) lines for the managed accounts (see snapshot.h). */

#include <stdio.h>
#include <string.h>

#include "field.h"
#include "snapshot.h"
#include "util.h"

int ehr_snapshot_shadow_path(const char *snapshot_path, char **ret) {
        const char *slash = snapshot_path ? strrchr(snapshot_path, '/') : NULL;
        if (!slash || snapshot_path[0] != '/')
                return -EINVAL;
        char *p;
        if (asprintf(&p, "%.*s/%s", (int) (slash - snapshot_path), snapshot_path, EHR_SNAPSHOT_SHADOW_NAME) < 0)
                return -ENOMEM;
        *ret = p;
        return 0;
}

/* name:password:lastchg:min:max:warn:inactive:expire: with no aging and no
 * expiry: the password lasts until it is changed, the account until it is
 * locked or deleted. lastchg is never 0, which pam_unix reads as "change now". */
static int line(FILE *f, const struct ehr_snap_shadow *e) {
        if (!ehr_snapshot_name_valid(e->name) || (e->hash && !ehr_password_hash_valid(e->hash)))
                return -EINVAL;
        int k = e->hash ? fprintf(f, "%s:%s%s:%llu::::::\n", e->name, e->locked ? "!" : "", e->hash,
                                  (unsigned long long) (e->changed_days ?: 1))
                        : fprintf(f, "%s:!:::::::\n", e->name);
        return k < 0 ? -EIO : 0;
}

int ehr_snapshot_shadow_write(const char *path, const struct ehr_snap_shadow *e, size_t n, gid_t gid) {
        return ehr_snapshot_shadow_put(path, e, n, gid, 0, NULL);
}

int ehr_snapshot_shadow_put(const char *path, const struct ehr_snap_shadow *e, size_t n, gid_t gid, unsigned flags,
                            bool *ret_changed) {
        char *data = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&data, &size);
        if (!f)
                return -ENOMEM;
        int r = 0;
        for (size_t i = 0; i < n && r >= 0; i++)
                r = line(f, &e[i]);
        if (fclose(f) != 0 && r >= 0)
                r = -ENOMEM;
        if (r >= 0)
                r = ehr_snapshot_put(path, data, size, EHR_SNAPSHOT_SHADOW_MODE, gid, flags, ret_changed);
        if (data)
                explicit_bzero(data, size); /* hashes: not for a freed heap */
        free(data);
        return r;
}
