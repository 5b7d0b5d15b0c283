/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "errors.h"
#include "util.h"
#include "wire.h"

struct ehr_wire *ehr_wire_new(void) {
        /* Not calloc(): 32 KiB to zero per message for bytes nobody reads; only
         * data[0..len) and decoded[0..dlen) are ever read, and wiped. */
        struct ehr_wire *w = malloc(sizeof *w);
        if (w)
                w->len = w->n = w->dlen = 0;
        return w;
}

void ehr_wire_free(struct ehr_wire *w) {
        if (!w)
                return;
        /* The module's side of ehr2fad, which loads no libsodium: libc's wipe. */
        explicit_bzero(w->data, w->len < sizeof w->data ? w->len : sizeof w->data);
        explicit_bzero(w->decoded, w->dlen);
        free(w);
}

static bool key_valid(const char *key, size_t n) {
        if (n == 0 || n > EHR_WIRE_KEY_MAX)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = key[i];
                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_'))
                        return false;
        }
        return true;
}

int ehr_wire_add(struct ehr_wire *w, const char *key, const char *value) {
        static const char hex[] = "0123456789abcdef";
        size_t kn = strlen(key), vn = strlen(value);
        if (!key_valid(key, kn))
                return -EINVAL;
        if (w->len + kn + 2 * vn + 2 > sizeof w->data)
                return -EMSGSIZE;
        char *p = w->data + w->len;
        memcpy(p, key, kn);
        p += kn;
        *p++ = '=';
        for (size_t i = 0; i < vn; i++) {
                *p++ = hex[(unsigned char) value[i] >> 4];
                *p++ = hex[(unsigned char) value[i] & 15];
        }
        *p++ = '\n';
        w->len = (size_t) (p - w->data);
        return 0;
}

static int add_config_key(const char *key, const char *value, void *userdata) {
        /* Not snprintf(): this runs for every key of every login through ehr2fad,
         * and formatting was a fifth of the module's instructions there. */
        char k[EHR_WIRE_KEY_MAX + 1] = "cfg.";
        size_t n = strlen(key);
        if (n >= sizeof k - 4)
                return -EINVAL;
        memcpy(k + 4, key, n + 1);
        return ehr_wire_add(userdata, k, value);
}

int ehr_wire_add_config(struct ehr_wire *w, const struct ehr_config *c) {
        return ehr_config_foreach_changed(c, add_config_key, w);
}

int ehr_wire_addu(struct ehr_wire *w, const char *key, uint64_t value) {
        char buf[24];
        snprintf(buf, sizeof buf, "%" PRIu64, value);
        return ehr_wire_add(w, key, buf);
}

int ehr_wire_addi(struct ehr_wire *w, const char *key, int64_t value) {
        char buf[24];
        snprintf(buf, sizeof buf, "%" PRId64, value);
        return ehr_wire_add(w, key, buf);
}

static int unhex(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

int ehr_wire_parse(struct ehr_wire *w) {
        char *out = w->decoded;
        const char *p = w->data, *end = w->data + w->len;
        w->n = 0;
        if (w->len > sizeof w->data)
                return -ENOMSG;
        /* Whatever happens below, everything up to len may be written to decoded. */
        w->dlen = w->len;
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                const char *eq = nl ? memchr(p, '=', (size_t) (nl - p)) : NULL;
                if (!nl || !eq || w->n >= EHR_WIRE_FIELDS_MAX || !key_valid(p, (size_t) (eq - p)))
                        return -ENOMSG;
                size_t hn = (size_t) (nl - eq - 1);
                if (hn % 2 != 0)
                        return -ENOMSG;
                /* decoded is as large as data, and a field never decodes longer than it is encoded. */
                w->key[w->n] = out;
                memcpy(out, p, (size_t) (eq - p));
                out += eq - p;
                *out++ = 0;
                for (size_t i = 0; i < w->n; i++)
                        if (streq(w->key[i], w->key[w->n]))
                                return -ENOMSG;
                w->value[w->n] = out;
                for (const char *h = eq + 1; h < nl; h += 2) {
                        int hi = unhex(h[0]), lo = unhex(h[1]);
                        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                                return -ENOMSG;
                        *out++ = (char) (hi << 4 | lo);
                }
                *out++ = 0;
                w->n++;
                p = nl + 1;
        }
        return 0;
}

const char *ehr_wire_get(const struct ehr_wire *w, const char *key) {
        for (size_t i = 0; i < w->n; i++)
                if (streq(w->key[i], key))
                        return w->value[i];
        return NULL;
}

int ehr_wire_getu(const struct ehr_wire *w, const char *key, uint64_t *ret) {
        const char *v = ehr_wire_get(w, key);
        if (!v)
                return -ENOENT;
        return ehr_parse_uint(v, 0, UINT64_MAX, ret) < 0 ? -ENOMSG : 0;
}

int ehr_wire_geti(const struct ehr_wire *w, const char *key, int64_t *ret) {
        const char *v = ehr_wire_get(w, key);
        uint64_t u;
        if (!v)
                return -ENOENT;
        bool neg = v[0] == '-';
        if (ehr_parse_uint(v + neg, 0, (uint64_t) INT64_MAX, &u) < 0)
                return -ENOMSG;
        *ret = neg ? -(int64_t) u : (int64_t) u;
        return 0;
}

int ehr_wire_connect(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        /* Non-blocking: a daemon whose backlog is full refuses at once (-ENOBUFS)
         * instead of holding the login; nothing was delivered then. */
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return negative_errno();
        /* One errno per meaning (core/errors.h): no socket and nobody behind it are
         * both "no ehr2fad there"; a full backlog is -ENOBUFS, as -EAGAIN is "locked out". */
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                return errno == ENOENT ? -ECONNREFUSED : errno == EAGAIN ? -ENOBUFS : negative_errno();
        struct ucred cred;
        socklen_t cl = sizeof cred;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0)
                return negative_errno();
        if (cred.uid != geteuid())
                return -EPERM;
        return TAKE_FD(fd);
}

int ehr_wire_exchange(int fd, uint64_t timeout_ms, const struct ehr_wire *req, struct ehr_wire *reply) {
        uint64_t deadline = ehr_monotonic_msec() + (timeout_ms ? timeout_ms : 1);
        ssize_t n = send(fd, req->data, req->len, MSG_NOSIGNAL);
        if (n < 0) /* -ENOBUFS: its queue is full; -EPIPE: it closed. Not delivered. */
                return errno == EAGAIN ? -ENOBUFS : negative_errno();
        if ((size_t) n != req->len)
                return -EIO;

        for (;;) {
                uint64_t now = ehr_monotonic_msec();
                if (now >= deadline)
                        return -ETIMEDOUT;
                struct pollfd pfd = { .fd = fd, .events = POLLIN };
                int pr = poll(&pfd, 1, (int) (deadline - now));
                if (pr < 0 && errno == EINTR)
                        continue;
                if (pr < 0)
                        return negative_errno();
                if (pr == 0)
                        return -ETIMEDOUT;
                break;
        }
        n = recv(fd, reply->data, sizeof reply->data, MSG_TRUNC | MSG_DONTWAIT);
        if (n < 0)
                return negative_errno();
        if (n == 0)
                return -ECONNABORTED; /* closed without an answer */
        if ((size_t) n > sizeof reply->data)
                return -ENOMSG; /* more than a reply may hold */
        reply->len = (size_t) n;
        return ehr_wire_parse(reply);
}
