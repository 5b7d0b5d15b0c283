/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include "sodium-load.h"
#include <stdio.h>

#include "audit.h"
#include "trust.h"

/* The one class of services where trust is offered and honoured: logins. */
#define TRUST_CLASS "login"

static bool is_remote(const struct ehr_device_id *d) {
        return !isempty(d->rhost);
}

static void device_hash(const struct ehr_store *s, int64_t user_id, const struct ehr_device_id *d,
                        uint8_t out[EHR_HASH_BYTES]) {
        /* The service class, then remote: the client address and key; local: this host.
         * Fields are NUL-separated. The class binds a record to logins (trust_services):
         * records from before it (when a "y" at sudo was honoured at logins, and the
         * reverse) match nothing. */
        char buf[1024];
        int n = is_remote(d) ? snprintf(buf, sizeof buf, "%s%cssh%c%s%c%s", TRUST_CLASS, 0, 0, d->rhost, 0,
                                        d->pubkey ?: "")
                             : snprintf(buf, sizeof buf, "%s%clocal%c%s", TRUST_CLASS, 0, 0, d->host_id ?: "");
        if (n < 0)
                n = 0;
        ehr_keyed_hash(ehr_store_keys(s), EHR_KEY_TOKEN, "device", user_id, (const uint8_t *) buf,
                       (size_t) n < sizeof buf ? (size_t) n : sizeof buf - 1, out);
}

static void device_label(const struct ehr_device_id *d, char *buf, size_t len) {
        if (is_remote(d))
                snprintf(buf, len, "remote login from %.64s%s", d->rhost, d->pubkey ? " with a public key" : "");
        else
                snprintf(buf, len, "local login on this host%s%.32s", isempty(d->tty) ? "" : ", ", d->tty ?: "");
}

bool ehr_trust_allowed(const struct ehr_config *c) {
        return !c->public_host && c->trust_days > 0;
}

bool ehr_trust_service_allowed(const struct ehr_config *c, const char *service) {
        return ehr_trust_allowed(c) && !isempty(service) && !ehr_config_step_up_service(service) &&
               ehr_config_list_has(c->trust_services ?: EHR_TRUST_SERVICES_DEFAULT, service);
}

int ehr_trust_check(struct ehr_store *s, const struct ehr_config *c, const struct ehr_user *u,
                    const struct ehr_device_id *d, uint64_t now_sec, const char *source) {
        /* Trust turned off (public_host, trust_days = 0) honours no earlier record either. */
        if (!ehr_trust_allowed(c))
                return -EPERM;
        uint8_t h[EHR_HASH_BYTES];
        int64_t id;
        device_hash(s, u->id, d, h);
        int r = ehr_store_device_find(s, u->id, h, now_sec, &id);
        if (r < 0)
                return r;
        char details[EHR_DEVICE_LABEL_MAX + 32];
        char label[EHR_DEVICE_LABEL_MAX];
        device_label(d, label, sizeof label);
        snprintf(details, sizeof details, "trusted device #%lld: %s", (long long) id, label);
        r = ehr_store_begin(s);
        if (r >= 0)
                r = ehr_store_device_touch(s, id, now_sec);
        if (r >= 0)
                r = ehr_audit_append(s, now_sec, u->login, u->login, EHR_AUDIT_AUTH, "second factor skipped", details,
                                     source);
        return ehr_store_end(s, r);
}

int ehr_trust_add(struct ehr_store *s, const struct ehr_config *c, const struct ehr_user *u,
                  const struct ehr_device_id *d, uint64_t now_sec, const char *source) {
        if (!ehr_trust_allowed(c))
                return -EPERM;
        uint8_t h[EHR_HASH_BYTES];
        char label[EHR_DEVICE_LABEL_MAX], details[EHR_DEVICE_LABEL_MAX + 48];
        int64_t id = 0;
        device_hash(s, u->id, d, h);
        device_label(d, label, sizeof label);
        int r = ehr_store_begin(s);
        if (r >= 0)
                r = ehr_store_device_put(s, u->id, h, label, now_sec, now_sec + c->trust_days * 86400U, &id);
        snprintf(details, sizeof details, "device #%lld trusted for %llu days: %s", (long long) id,
                 (unsigned long long) c->trust_days, label);
        if (r >= 0)
                r = ehr_audit_append(s, now_sec, u->login, u->login, EHR_AUDIT_AUTH, "device trusted", details, source);
        return ehr_store_end(s, r);
}

int ehr_trust_revoke(struct ehr_store *s, const struct ehr_user *u, int64_t id, uint64_t now_sec, const char *actor,
                     const char *why, const char *source) {
        bool own = !ehr_store_in_transaction(s);
        int r = own ? ehr_store_begin(s) : 0;
        if (r < 0)
                return r;
        int n = ehr_store_device_del(s, u->id, id);
        r = n;
        if (n > 0) {
                char details[128];
                if (id)
                        snprintf(details, sizeof details, "device #%lld revoked: %s", (long long) id, why);
                else
                        snprintf(details, sizeof details, "%d device(s) revoked: %s", n, why);
                r = ehr_audit_append(s, now_sec, u->login, actor, EHR_AUDIT_ADMIN, "trusted devices revoked", details,
                                     source);
        }
        if (own)
                r = ehr_store_end(s, r);
        return r < 0 ? r : n;
}

int ehr_trust_host_id(char *buf, size_t len) {
        _cleanup_close_ int fd = open("/etc/machine-id", O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd >= 0) {
                ssize_t n = read(fd, buf, len - 1);
                if (n > 0) {
                        buf[n] = 0;
                        ehr_strstrip(buf);
                        if (*buf)
                                return 0;
                }
        }
        if (gethostname(buf, len) < 0)
                return negative_errno();
        buf[len - 1] = 0;
        return 0;
}
