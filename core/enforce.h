/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Enforcement: which users must have a second factor on this host (store roles,
 * store groups, the host's groups), from when (enroll_by, then grace_logins), at
 * which PAM services (enforce_services). It decides for users who have none:
 * an enrolled user always gives a code. Without enforce_roles and
 * enforce_groups there is no policy, and nullok decides as it always did.
 * Nothing here logs or prompts; time is a parameter. */

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "store.h"

enum ehr_enforce_outcome {
        EHR_ENFORCE_OUTSIDE,  /* the policy does not cover the user: not ours (PAM_IGNORE) */
        EHR_ENFORCE_NOT_HERE, /* covered, but not enforced at this service */
        EHR_ENFORCE_DAYS,     /* covered, before the end of enroll_by: let through, told days_left */
        EHR_ENFORCE_GRACE,    /* covered, past it: one grace login used, told logins_left */
        EHR_ENFORCE_REFUSED,  /* covered, past it, no grace login left */
};

#define EHR_ENFORCE_WHY_MAX 96U

struct ehr_enforce_verdict {
        enum ehr_enforce_outcome outcome;
        char why[EHR_ENFORCE_WHY_MAX]; /* what covers the user: "role staff", "group wheel" */
        uint64_t deadline_sec;         /* the first second after enroll_by; 0: no enroll_by */
        uint64_t days_left;            /* DAYS: whole days to the deadline, rounded up */
        uint64_t logins_used;          /* grace logins used (after this one, for GRACE) */
        uint64_t logins_left;          /* grace logins left (after this one, for GRACE) */
};

/* Has this host a policy (enforce_roles or enforce_groups)? */
bool ehr_enforce_configured(const struct ehr_config *c);

/* Does the policy cover login (u: its store record, or NULL when it has none)?
 * By role, by store group, or by a group of the host's account (getgrouplist()).
 * Returns 1 with why filled, 0, or a store error. */
int ehr_enforce_covers(struct ehr_store *s, const struct ehr_config *c, const char *login, const struct ehr_user *u,
                       char why[EHR_ENFORCE_WHY_MAX]);

/* Is the policy enforced at this PAM service (enforce_services, or every service)? */
bool ehr_enforce_at_service(const struct ehr_config *c, const char *service);

/* May a login at this service and host offer enrollment? enroll_services lists
 * it, enroll_hosts (if set) lists host, and the host is not public_host. */
bool ehr_enforce_enroll_allowed(const struct ehr_config *c, const char *service, const char *host);

/* Where login stands, without using anything (ehr2fa-admin policy show): the
 * outcome a login at service would have now, with GRACE meaning "a grace login
 * is left" and logins_left counting this one. Returns 0 or a store error. */
int ehr_enforce_preview(struct ehr_store *s, const struct ehr_config *c, const char *login, const struct ehr_user *u,
                        const char *service, uint64_t now_sec, struct ehr_enforce_verdict *ret);

/* The decision at a login of a user without a second factor whom the policy
 * covers, at a service where it is enforced (ret->why from ehr_enforce_covers()):
 * before the deadline DAYS; after it a grace login is used (GRACE) or there is
 * none (REFUSED). Audited in the same transaction as the grace login it uses.
 * Returns 0 with *ret filled, or a store error (nothing used). */
int ehr_enforce_admit(struct ehr_store *s, const struct ehr_config *c, const char *login, uint64_t now_sec,
                      const char *source, struct ehr_enforce_verdict *ret);
