/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "audit.h"
#include "enforce.h"
#include "util.h"

#define WORD_MAX 64U
#define GROUPS_MAX 1024
#define NSS_BUF 16384U

bool ehr_enforce_configured(const struct ehr_config *c) {
        return !isempty(c->enforce_roles) || !isempty(c->enforce_groups);
}

bool ehr_enforce_at_service(const struct ehr_config *c, const char *service) {
        return isempty(c->enforce_services) || ehr_config_list_has(c->enforce_services, service);
}

bool ehr_enforce_enroll_allowed(const struct ehr_config *c, const char *service, const char *host) {
        if (c->public_host || isempty(c->enroll_services) || !ehr_config_list_has(c->enroll_services, service))
                return false;
        return isempty(c->enroll_hosts) || (host && ehr_config_list_has(c->enroll_hosts, host));
}

struct member_check {
        const char *login;
        bool found;
};

static int member_cb(const char *login, void *userdata) {
        struct member_check *m = userdata;
        if (streq(login, m->login))
                m->found = true;
        return 0;
}

/* Is login a member of the store group name? 1, 0 or a store error. */
static int in_store_group(struct ehr_store *s, const char *name, const char *login) {
        int64_t id, gid;
        int r = ehr_store_group_get(s, name, &id, &gid);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        struct member_check m = { .login = login };
        r = ehr_store_group_members(s, id, member_cb, &m);
        return r < 0 ? r : m.found;
}

/* The host's groups of login (getgrouplist(), so files, LDAP, SSSD alike), or 0 of them. */
static int host_groups(const char *login, gid_t *groups, int max) {
        struct passwd pw, *res = NULL;
        _cleanup_free_ char *buf = malloc(NSS_BUF);
        if (!buf || getpwnam_r(login, &pw, buf, NSS_BUF, &res) != 0 || !res)
                return 0;
        int n = max;
        if (getgrouplist(login, pw.pw_gid, groups, &n) < 0)
                n = max; /* more than max: the first max were filled */
        return n;
}

static bool in_host_group(const char *name, const gid_t *groups, int n) {
        struct group gr, *res = NULL;
        _cleanup_free_ char *buf = malloc(NSS_BUF);
        if (!buf || getgrnam_r(name, &gr, buf, NSS_BUF, &res) != 0 || !res)
                return false;
        for (int i = 0; i < n; i++)
                if (groups[i] == gr.gr_gid)
                        return true;
        return false;
}

int ehr_enforce_covers(struct ehr_store *s, const struct ehr_config *c, const char *login, const struct ehr_user *u,
                       char why[EHR_ENFORCE_WHY_MAX]) {
        if (u && u->role && ehr_config_list_has(c->enforce_roles, u->role)) {
                snprintf(why, EHR_ENFORCE_WHY_MAX, "role %s", u->role);
                return 1;
        }
        gid_t groups[GROUPS_MAX];
        int ngroups = -1; /* looked up at the first group that is not the store's */
        char word[WORD_MAX];
        for (const char *p = c->enforce_groups; ehr_config_list_next(&p, word, sizeof word);) {
                int r = in_store_group(s, word, login);
                if (r < 0)
                        return r;
                if (r == 0) {
                        if (ngroups < 0)
                                ngroups = host_groups(login, groups, GROUPS_MAX);
                        r = in_host_group(word, groups, ngroups);
                }
                if (r > 0) {
                        snprintf(why, EHR_ENFORCE_WHY_MAX, "group %s", word);
                        return 1;
                }
        }
        return 0;
}

/* Before the deadline or after it, with grace logins used so far: fill ret. */
static void standing(const struct ehr_config *c, uint64_t now_sec, uint64_t used, struct ehr_enforce_verdict *ret) {
        uint64_t deadline = 0;
        if (c->enroll_by && ehr_parse_date(c->enroll_by, &deadline) < 0)
                deadline = 0; /* checked when the config was read */
        ret->deadline_sec = deadline;
        ret->logins_used = used;
        ret->logins_left = used < c->grace_logins ? c->grace_logins - used : 0;
        if (deadline > now_sec) {
                ret->outcome = EHR_ENFORCE_DAYS;
                ret->days_left = (deadline - now_sec + 86399) / 86400;
                return;
        }
        ret->outcome = used < c->grace_logins ? EHR_ENFORCE_GRACE : EHR_ENFORCE_REFUSED;
}

int ehr_enforce_preview(struct ehr_store *s, const struct ehr_config *c, const char *login, const struct ehr_user *u,
                        const char *service, uint64_t now_sec, struct ehr_enforce_verdict *ret) {
        struct ehr_enforce_verdict v = { .outcome = EHR_ENFORCE_OUTSIDE };
        int r = ehr_enforce_configured(c) ? ehr_enforce_covers(s, c, login, u, v.why) : 0;
        if (r < 0)
                return r;
        if (r > 0 && service && !ehr_enforce_at_service(c, service))
                v.outcome = EHR_ENFORCE_NOT_HERE;
        else if (r > 0) {
                uint64_t used;
                r = ehr_store_grace_get(s, login, &used);
                if (r < 0)
                        return r;
                standing(c, now_sec, used, &v);
        }
        *ret = v;
        return 0;
}

static int admit_audit(struct ehr_store *s, const struct ehr_config *c, const char *login, uint64_t now_sec,
                       const char *source, const struct ehr_enforce_verdict *v) {
        char details[256];
        const char *by = c->enroll_by ?: "none";
        if (v->outcome == EHR_ENFORCE_DAYS)
                snprintf(details, sizeof details, "not enrolled; 2FA policy (%s); %llu day(s) left to enroll (enroll_by %s)",
                         v->why, (unsigned long long) v->days_left, by);
        else if (v->outcome == EHR_ENFORCE_GRACE)
                snprintf(details, sizeof details,
                         "not enrolled; 2FA policy (%s); past enroll_by %s; grace login %llu of %llu", v->why, by,
                         (unsigned long long) v->logins_used, (unsigned long long) c->grace_logins);
        else
                snprintf(details, sizeof details,
                         "not enrolled; 2FA policy (%s); past enroll_by %s; no grace login left (%llu used)", v->why,
                         by, (unsigned long long) v->logins_used);
        return ehr_audit_append(s, now_sec, login, login, EHR_AUDIT_AUTH,
                                v->outcome == EHR_ENFORCE_REFUSED ? "second factor refused" : "second factor skipped",
                                details, source);
}

int ehr_enforce_admit(struct ehr_store *s, const struct ehr_config *c, const char *login, uint64_t now_sec,
                      const char *source, struct ehr_enforce_verdict *ret) {
        struct ehr_enforce_verdict v = *ret;
        uint64_t used = 0;
        int r = ehr_store_begin(s);
        if (r < 0)
                return r;
        r = ehr_store_grace_get(s, login, &used);
        if (r >= 0)
                standing(c, now_sec, used, &v);
        if (r >= 0 && v.outcome != EHR_ENFORCE_DAYS) {
                /* The conditional write decides, not the count read above: two logins at
                 * once with one grace login left let exactly one through. */
                r = ehr_store_grace_use(s, login, c->grace_logins, now_sec, &used);
                if (r == -EDQUOT) {
                        v.outcome = EHR_ENFORCE_REFUSED;
                        v.logins_left = 0;
                        r = 0;
                } else if (r >= 0) {
                        v.outcome = EHR_ENFORCE_GRACE;
                        v.logins_used = used;
                        v.logins_left = c->grace_logins > used ? c->grace_logins - used : 0;
                }
        }
        if (r >= 0)
                r = admit_audit(s, c, login, now_sec, source, &v);
        r = ehr_store_end(s, r);
        if (r < 0)
                return r;
        *ret = v;
        return 0;
}
