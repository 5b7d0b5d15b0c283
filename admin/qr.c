/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <qrencode.h>

#include "admin.h"

#define QR_QUIET_ZONE 2
/* Black on white, set explicitly (google-authenticator's ANSI mode does the same):
 * drawing with the terminal's own colours gives a code that is inverted on a light
 * background, which phone apps and zbarimg do not read. */
#define QR_COLOURS "\x1b[30;47m"
#define QR_RESET "\x1b[0m"

/* Two modules per character cell, upper and lower, with half blocks drawn in the
 * foreground colour (black: dark modules) on the background (white: light ones
 * and the quiet zone). */
int qr_print(FILE *f, const char *text) {
        QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
        if (!qr)
                return errno > 0 ? -errno : -EINVAL;
        int w = qr->width, size = w + 2 * QR_QUIET_ZONE;
#define DARK(x, y)                                                                                                 \
        ((x) >= QR_QUIET_ZONE && (y) >= QR_QUIET_ZONE && (x) < w + QR_QUIET_ZONE && (y) < w + QR_QUIET_ZONE && \
         (qr->data[((y) - QR_QUIET_ZONE) * w + ((x) - QR_QUIET_ZONE)] & 1))
        for (int y = 0; y < size; y += 2) {
                fputs(QR_COLOURS, f);
                for (int x = 0; x < size; x++) {
                        bool top = DARK(x, y), bottom = y + 1 < size && DARK(x, y + 1);
                        fputs(top && bottom ? "\u2588" : top ? "\u2580" : bottom ? "\u2584" : " ", f);
                }
                fputs(QR_RESET "\n", f);
        }
#undef DARK
        QRcode_free(qr);
        return 0;
}
