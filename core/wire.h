/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The messages between pam_ehr2fa.so and ehr2fad: requests and replies in turn on
 * a connection, each a single SOCK_SEQPACKET datagram of "key=HEX\n" lines. Values
 * are hex so that nothing a client typed (newlines, '=', NULs) can forge a field;
 * keys are [a-z0-9._], unique, at most EHR_WIRE_KEY_MAX bytes. A message may hold
 * a secret (the code typed): wipe it with ehr_wire_free(). */

#include <stdint.h>
#include <stddef.h>

#define EHR_WIRE_MAX 16384U
#define EHR_WIRE_FIELDS_MAX 96U
#define EHR_WIRE_KEY_MAX 48U
/* 2: the config travels as its changes from the defaults. Both ends must agree on
 * those defaults, so a change to ehr_config_init() bumps this: a module and a
 * daemon of different versions then refuse each other, and the login runs
 * in-process until the daemon is restarted (the package does that). */
#define EHR_WIRE_VERSION 2U

struct ehr_wire {
        size_t len;     /* bytes used in data */
        size_t n;       /* parsed fields */
        size_t dlen;    /* bytes used in decoded */
        const char *key[EHR_WIRE_FIELDS_MAX];
        const char *value[EHR_WIRE_FIELDS_MAX];
        char data[EHR_WIRE_MAX];    /* encoded */
        char decoded[EHR_WIRE_MAX]; /* keys and values, after ehr_wire_parse() */
};

/* A zeroed message on the heap, or NULL. */
struct ehr_wire *ehr_wire_new(void);
/* Wipe and free; NULL is fine. */
void ehr_wire_free(struct ehr_wire *w);
static inline void ehr_wire_freep(struct ehr_wire **w) {
        ehr_wire_free(*w);
}

/* Append a field. -EINVAL for a bad key, -EMSGSIZE when the message is full. */
int ehr_wire_add(struct ehr_wire *w, const char *key, const char *value);
int ehr_wire_addu(struct ehr_wire *w, const char *key, uint64_t value);
int ehr_wire_addi(struct ehr_wire *w, const char *key, int64_t value);
struct ehr_config;
/* Add every key of c whose value is not ehr_config_init()'s as a field "cfg.KEY": how
 * the first request of a connection carries the module's whole effective config
 * (core/authd.c applies the fields on top of its own defaults). A default config adds
 * nothing, and a login's datagram shrinks from about 1,300 bytes to a few hundred. */
int ehr_wire_add_config(struct ehr_wire *w, const struct ehr_config *c);

/* Split data[0..len) into fields. -ENOMSG for anything malformed: a bad key,
 * odd or non-hex digits, a NUL in a value, a duplicate key, too many fields. */
int ehr_wire_parse(struct ehr_wire *w);

/* A field's value, or NULL. */
const char *ehr_wire_get(const struct ehr_wire *w, const char *key);
/* A number; -ENOENT when absent, -ENOMSG when not a number in range. */
int ehr_wire_getu(const struct ehr_wire *w, const char *key, uint64_t *ret);
int ehr_wire_geti(const struct ehr_wire *w, const char *key, int64_t *ret);

/* A connection to the daemon at path, which must run as our euid (SO_PEERCRED),
 * else -EPERM: the descriptor, or -ECONNREFUSED (no daemon there: no socket, or
 * nobody listening), -ENOBUFS (too busy to take a connection). */
int ehr_wire_connect(const char *path);

/* Send req on a connection and wait up to timeout_ms for the reply, parsed into
 * reply. Not delivered: -ENOBUFS (the daemon's queue is full), -EPIPE or
 * -ECONNRESET (it closed the connection). -ETIMEDOUT: it took the request but
 * did not answer; -ECONNABORTED: it closed the connection without answering;
 * -ENOMSG: the reply is malformed. */
int ehr_wire_exchange(int fd, uint64_t timeout_ms, const struct ehr_wire *req, struct ehr_wire *reply);
