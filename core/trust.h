/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* "Trust this device for 30 days": after a good second factor, a user on their
 * own workstation may skip the code for trust_days. The device is this host
 * for a local login, and the SSH client for a remote one: its address and, when
 * sshd exposes it (ExposeAuthInfo), the public key of a publickey +
 * keyboard-interactive chain. Records are keyed hashes of that identity; they
 * expire, and are revoked by a TOTP reset, a password change, or on request.
 * Never offered nor honoured on a host with public_host = yes or trust_days = 0,
 * and only at the services of trust_services (logins): a code asked by sudo or
 * su confirms the person at the keyboard now and is never waived. Records are
 * bound to that class of services. */

#include <stdint.h>

#include "config.h"
#include "store.h"

#define EHR_DEVICE_LABEL_MAX 160U

struct ehr_device_id {
        const char *rhost;   /* PAM_RHOST; empty or NULL for a local login */
        const char *pubkey;  /* "ssh-ed25519 AAAA..." from SSH_AUTH_INFO_0, or NULL */
        const char *host_id; /* this host: /etc/machine-id (or the host name) */
        const char *tty;     /* for the label only */
};

/* Is this device trusted for this user now? Returns 0 (and records its use,
 * audited), -ENOENT (no unexpired record), or -EPERM (public host or
 * trust_days = 0: trust is never honoured here). */
int ehr_trust_check(struct ehr_store *s, const struct ehr_config *c, const struct ehr_user *u,
                    const struct ehr_device_id *d, uint64_t now_sec, const char *source);

/* May trust be offered here at all? */
bool ehr_trust_allowed(const struct ehr_config *c);
/* ... and at this PAM service: one of trust_services (logins by default), never a
 * step-up service such as sudo or su (ehr_config_step_up_service()). A front end
 * asks this before it checks or offers trust. */
bool ehr_trust_service_allowed(const struct ehr_config *c, const char *service);

/* Trust the device for trust_days. Returns 0, or -EPERM when not allowed here. Audited. */
int ehr_trust_add(struct ehr_store *s, const struct ehr_config *c, const struct ehr_user *u,
                  const struct ehr_device_id *d, uint64_t now_sec, const char *source);

/* Revoke one device (id > 0) or all (id == 0), inside the caller's transaction or
 * its own; `why` goes into the audit row. Returns the number revoked. */
int ehr_trust_revoke(struct ehr_store *s, const struct ehr_user *u, int64_t id, uint64_t now_sec, const char *actor,
                     const char *why, const char *source);

/* This host's identity for local logins: /etc/machine-id, else the host name. */
int ehr_trust_host_id(char *buf, size_t len);
