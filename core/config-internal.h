/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Between config.c (the keys and their values) and config-file.c (reading a file
 * and module arguments). */

#include "config.h"

/* More than there are keys (config.c checks): room for one entry per key. */
#define EHR_CONFIG_KEYS_MAX 128U

/* The key's index, or -ENOENT for an unknown name. */
int ehr_config_key_index(const char *key);
/* Whether key i is a yes/no setting (a bare module argument means yes). */
bool ehr_config_key_is_bool(int i);
/* What a bad value of key should have been, for the message: "expected ...". */
const char *ehr_config_value_hint(const char *key);
