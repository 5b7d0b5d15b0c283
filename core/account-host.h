/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* What the host already has: its users and groups from every other source
 * (files, LDAP, AD through SSSD), and the home directory of a managed account.
 * Used by the account operations so that a name or an id of ours never
 * collides with one the system serves. These calls may block as long as the
 * host's NSS does (an LDAP server): ehr2fa-admin only, never a login. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define EHR_HOME_BASE_DEFAULT "/home"
#define EHR_SKEL_DIR_DEFAULT "/etc/skel"
#define EHR_NSS_MODULE_NAME "ehr" /* the service name in nsswitch.conf */

/* Does login resolve through the system's NSS, our own module left out (a
 * snapshot of ours must not vouch for a name)? Returns 1 and its uid in
 * *ret_uid (may be NULL), 0 (no such user), or -errno (the lookup failed: an
 * unreachable directory is not "no such user"). */
int ehr_host_user_find(const char *login, uint32_t *ret_uid);
/* The same for a group name, and its gid. */
int ehr_host_group_find(const char *name, uint32_t *ret_gid);

/* Does /etc/nsswitch.conf list our module for db ("passwd")? Without it the
 * system never sees a managed account, published or not: user add says so. */
bool ehr_host_nss_lists_ours(const char *db);

/* Is id a uid or a gid anywhere on the host (our own snapshot included, which
 * is the store again)? Returns 1, 0 or -errno. */
int ehr_host_id_used(int64_t id);

/* Make home (0700, owned by uid:gid) with a copy of skel (NULL: /etc/skel; a
 * missing skeleton copies nothing), and its missing parents 0755. Returns 0,
 * -EEXIST (home exists: it is left untouched, owner and contents), or -errno. */
int ehr_account_home_create(const char *home, const char *skel, uid_t uid, gid_t gid);
