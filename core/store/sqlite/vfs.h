/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>

/* Part of the SQLite backend (db.c): the VFS the store opens its database
 * with. Register (first user) or count one more user; *ret_name is the name to
 * give sqlite3_open_v2(). Returns 0, -ENOSYS (no unix VFS) or -ENOMEM. Every
 * successful ref is paired with one unref after the connection is closed.
 * Thread-safe. */
int ehr_store_vfs_ref(const char **ret_name);
void ehr_store_vfs_unref(void);

/* Check a file the store would open, without opening it for I/O (O_PATH, so a
 * FIFO cannot block): absent, or a regular file owned by the euid with no
 * group or other bits. Returns 0, -ELOOP (symlink), -EBADFD (not a regular
 * file), -EPERM (another owner), -ENOTUNIQ (mode too open) or -errno. */
int ehr_store_vfs_check_file(const char *path);
/* The last file the VFS refused in this thread, if any: returns its error (as
 * above) and copies its path to ret_path (may be NULL), or returns 0. Clears it. */
int ehr_store_vfs_take_refusal(char *ret_path, size_t len);
