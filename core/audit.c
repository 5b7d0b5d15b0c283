/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "sodium-load.h"

#include "audit.h"

static void put_u64(crypto_generichash_state *st, uint64_t v) {
        uint8_t b[8];
        for (unsigned i = 0; i < 8; i++)
                b[i] = (uint8_t) (v >> (8 * i));
        ehr_hash_field(st, b, sizeof b);
}

static void put_str(crypto_generichash_state *st, const char *s) {
        ehr_hash_field(st, s, strlen(s));
}

void ehr_audit_mac(const struct ehr_keys *k, const uint8_t prev[EHR_HASH_BYTES], const struct ehr_audit_row *row,
                   uint8_t out[EHR_HASH_BYTES]) {
        crypto_generichash_state st;
        crypto_generichash_init(&st, ehr_keys_get(k, EHR_KEY_AUDIT), EHR_SUBKEY_BYTES, EHR_HASH_BYTES);
        put_str(&st, "ehr2fa-audit-v1");
        ehr_hash_field(&st, prev, EHR_HASH_BYTES);
        put_u64(&st, row->seq);
        put_u64(&st, row->time_sec);
        put_str(&st, row->user);
        put_str(&st, row->actor);
        put_str(&st, row->type);
        put_str(&st, row->action);
        put_str(&st, row->details);
        put_str(&st, row->source);
        crypto_generichash_final(&st, out, EHR_HASH_BYTES);
}

int ehr_audit_append(struct ehr_store *s, uint64_t now_sec, const char *user, const char *actor, const char *type,
                     const char *action, const char *details, const char *source) {
        bool own = !ehr_store_in_transaction(s);
        int r = own ? ehr_store_begin(s) : 0;
        if (r < 0)
                return r;

        struct ehr_audit_row row = {
                .time_sec = now_sec,
                .user = user ?: "",
                .actor = actor ?: "",
                .type = type,
                .action = action,
                .details = details ?: "",
                .source = source ?: "",
        };
        uint8_t prev[EHR_HASH_BYTES];
        uint64_t seq;
        r = ehr_store_audit_head_get(s, &seq, prev);
        if (r >= 0) {
                row.seq = seq + 1;
                ehr_audit_mac(ehr_store_keys(s), prev, &row, row.mac);
                r = ehr_store_audit_insert(s, &row);
        }
        /* A head record that does not parse, or a row already where the next one
         * goes (added by hand): the chain is broken. Nothing more is appended. */
        if (r == -EBADMSG || r == -EEXIST)
                r = -EILSEQ;
        if (r >= 0)
                r = ehr_store_audit_head_put(s, row.seq, row.mac);
        if (own)
                r = ehr_store_end(s, r);
        return r;
}

struct verify_state {
        const struct ehr_keys *keys;
        uint8_t prev[EHR_HASH_BYTES];
        uint64_t expect_seq, rows, bad_seq;
};

static int verify_row(const struct ehr_audit_row *row, void *userdata) {
        struct verify_state *v = userdata;
        uint8_t mac[EHR_HASH_BYTES];
        if (row->seq != v->expect_seq) {
                /* A gap (deleted rows) or a row inserted with a wrong seq. */
                v->bad_seq = row->seq < v->expect_seq ? row->seq : v->expect_seq;
                return -EBADMSG;
        }
        ehr_audit_mac(v->keys, v->prev, row, mac);
        if (sodium_memcmp(mac, row->mac, EHR_HASH_BYTES) != 0) {
                v->bad_seq = row->seq;
                return -EBADMSG;
        }
        memcpy(v->prev, mac, EHR_HASH_BYTES);
        v->expect_seq++;
        v->rows++;
        return 0;
}

int ehr_audit_verify(struct ehr_store *s, uint64_t *ret_rows, uint64_t *ret_bad_seq) {
        struct verify_state v = { .keys = ehr_store_keys(s), .expect_seq = 1 };
        int r = ehr_store_audit_foreach(s, 0, UINT64_MAX, NULL, verify_row, &v);
        if (r == -EBADMSG) {
                *ret_bad_seq = v.bad_seq;
                return r;
        }
        if (r < 0)
                return r;

        /* Rows cut from the end leave a valid chain; the head remembers how long it was. */
        uint64_t head_seq;
        uint8_t head_mac[EHR_HASH_BYTES];
        r = ehr_store_audit_head_get(s, &head_seq, head_mac);
        if (r == -EBADMSG || (r >= 0 && (head_seq != v.rows ||
                                         (v.rows > 0 && sodium_memcmp(head_mac, v.prev, EHR_HASH_BYTES) != 0)))) {
                *ret_bad_seq = v.rows + 1;
                return -EBADMSG;
        }
        if (r < 0)
                return r;
        *ret_rows = v.rows;
        return 0;
}
