/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Shared by nss-ehr.c (passwd, group) and nss-shadow.c (shadow); hidden. */

/* The passwd/group snapshot: $EHR2FA_NSS_SNAPSHOT (ignored by setuid and setgid
 * programs: secure_getenv()) or EHR_SNAPSHOT_DEFAULT_PATH. The shadow snapshot
 * is EHR_SNAPSHOT_SHADOW_NAME in the same directory. */
const char *nss_ehr_snapshot_path(void);
