/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Part of the SQLite backend (store.c): the VFS the store opens its database
 * with. Register (first user) or count one more user; *ret_name is the name to
 * give sqlite3_open_v2(). Returns 0, -ENOSYS (no unix VFS) or -ENOMEM. Every
 * successful ref is paired with one unref after the connection is closed.
 * Thread-safe. */
int ehr_store_vfs_ref(const char **ret_name);
void ehr_store_vfs_unref(void);
