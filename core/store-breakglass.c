/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The store's neutral part for break-glass uses: the public wrappers over the
 * backend's operations, with the texts checked here, once, for every backend. */

#include "store-internal.h"
#include "util.h"

static bool bg_text_valid(const char *t, size_t max, bool empty_ok) {
        return ehr_text_valid(t, max) && (empty_ok || *t);
}

int ehr_store_break_glass_add(struct ehr_store *s, const struct ehr_break_glass *use,
                              const struct ehr_break_glass_limits *lim, int64_t *ret_id,
                              enum ehr_break_glass_limit *reterr_limit) {
        if (!ehr_login_valid(use->login) || !bg_text_valid(use->host, EHR_BREAK_GLASS_HOST_MAX, false) ||
            !bg_text_valid(use->service, EHR_BREAK_GLASS_HOST_MAX, false) ||
            !bg_text_valid(use->source, EHR_BREAK_GLASS_REASON_MAX, true) ||
            !bg_text_valid(use->reason, EHR_BREAK_GLASS_REASON_MAX, false))
                return -EINVAL;
        return s->ops->break_glass_add(s->b, use, lim, ret_id, reterr_limit);
}

int ehr_store_break_glass_review(struct ehr_store *s, int64_t id, const char *reviewer, const char *note,
                                 uint64_t now_sec) {
        if (!ehr_login_valid(reviewer) || !bg_text_valid(note, EHR_BREAK_GLASS_NOTE_MAX, false))
                return -EINVAL;
        return s->ops->break_glass_review(s->b, id, reviewer, note, now_sec);
}

int ehr_store_break_glass_get(struct ehr_store *s, int64_t id,
                              int (*cb)(const struct ehr_break_glass *u, void *userdata), void *userdata) {
        return s->ops->break_glass_get(s->b, id, cb, userdata);
}

int ehr_store_break_glass_foreach(struct ehr_store *s, bool unreviewed_only, uint64_t until_sec,
                                  int (*cb)(const struct ehr_break_glass *u, void *userdata), void *userdata) {
        return s->ops->break_glass_foreach(s->b, unreviewed_only, until_sec, cb, userdata);
}
