/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Account operations on groups (published to NSS with the users). */

#include <stdio.h>

#include "account-host.h"
#include "account.h"
#include "accounts-internal.h"

int ehr_account_group_add(struct ehr_op *op, const char *name, int64_t gid, int64_t *ret_gid) {
        char details[160];
        if (!ehr_field_valid(EHR_FIELD_GROUP, name))
                return account_fail(op, EHR_FIELD_GROUP, -EINVAL);
        /* Not a name the host has (our module left out): getent would show two. */
        int r = ehr_host_group_find(name, NULL);
        if (r != 0) {
                op->host = r > 0;
                return r < 0 ? r : account_fail(op, EHR_FIELD_GROUP, -EEXIST);
        }
        if ((r = account_pick_id(op, gid, &gid)) < 0)
                return r;
        snprintf(details, sizeof details, "group %s gid %lld", name, (long long) gid);
        r = ehr_store_begin(op->store);
        if (r >= 0 && (r = ehr_store_group_add(op->store, name, gid)) == -EEXIST)
                op->field = EHR_FIELD_GROUP;
        if (r >= 0)
                r = account_take_id(op, gid);
        if (r >= 0)
                r = account_audit(op, "", "group added", details);
        if ((r = account_end(op, r, true)) < 0)
                return r;
        *ret_gid = gid;
        return 0;
}

int ehr_account_group_del(struct ehr_op *op, const char *name) {
        char details[160];
        snprintf(details, sizeof details, "group %s", name);
        int r = ehr_store_begin(op->store);
        if (r >= 0 && (r = ehr_store_group_del(op->store, name)) == -ENOENT)
                op->field = EHR_FIELD_GROUP;
        if (r >= 0)
                r = account_audit(op, "", "group deleted", details);
        return account_end(op, r, true);
}

int ehr_account_group_member(struct ehr_op *op, const char *group, const struct ehr_user *u, bool add) {
        char details[160];
        int64_t id, gid;
        if (ehr_store_group_get(op->store, group, &id, &gid) < 0)
                return account_fail(op, EHR_FIELD_GROUP, -ENOENT);
        snprintf(details, sizeof details, "%s %s group %s", u->login, add ? "added to" : "removed from", group);
        int r = ehr_store_begin(op->store);
        if (r >= 0)
                r = ehr_store_group_member(op->store, id, u->id, add);
        if (r >= 0)
                r = account_audit(op, u->login, "group membership", details);
        return account_end(op, r, true);
}
