/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* QR codes as text: Unicode half blocks, two modules per character cell, for
 * ehr2fa-admin's terminal and for the login conversation (enrollment at first
 * login). libqrencode is dlopen()ed at the first code drawn, never linked: a
 * login that enrolls nobody never loads it. */

#include <stdbool.h>
#include <stddef.h>

enum ehr_qr_style {
        /* ANSI black on white, dark modules in the foreground colour: right on any
         * terminal background (a terminal's own colours would invert the code on a
         * light one). For ehr2fa-admin. */
        EHR_QR_ANSI,
        /* No escape sequences (sshd's keyboard-interactive clients and GDM show them
         * as text): light modules and the quiet zone drawn as blocks, dark ones as
         * spaces, for the light-on-dark text of a terminal or a login screen. */
        EHR_QR_PLAIN_LIGHT_BLOCKS,
};

/* Draw text as a QR code (error correction M, quiet zone of 2 modules), one line
 * per two rows of modules, each ending in "\n". *ret is malloc'd and holds what
 * the code holds: the caller wipes (explicit_bzero over *ret_len) and frees it.
 * Returns 0, -ELIBACC (libqrencode.so.4 cannot be loaded), -ELIBBAD (too old),
 * -EINVAL (text too long for a QR code) or -ENOMEM. */
int ehr_qr_render(const char *text, enum ehr_qr_style style, char **ret, size_t *ret_len);
