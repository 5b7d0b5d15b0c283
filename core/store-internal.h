/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The store handle, for the files of the store's neutral part (store.c and the
 * ehr_store_* wrappers kept in files of their own, store-breakglass.c). */

#include "store-backend.h"

struct ehr_store {
        const struct ehr_store_ops *ops;
        struct ehr_store_backend *b;
        struct ehr_keys *keys;
};
