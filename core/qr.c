/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <qrencode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dl.h"
#include "qr.h"

#define QR_SONAME "libqrencode.so.4"
#define QR_QUIET_ZONE 2
#define QR_COLOURS "\x1b[30;47m"
#define QR_RESET "\x1b[0m"

static struct {
        QRcode *(*encode_string)(const char *string, int version, QRecLevel level, QRencodeMode hint, int casesensitive);
        void (*free)(QRcode *qrcode);
} qr_api;

static const struct ehr_dl_sym syms[] = {
        { "QRcode_encodeString", offsetof(typeof(qr_api), encode_string) },
        { "QRcode_free", offsetof(typeof(qr_api), free) },
};
static struct ehr_dl_lib lib = EHR_DL_LIB(QR_SONAME, "libqrencode4", syms, &qr_api, NULL);

static bool dark(const QRcode *qr, int x, int y) {
        int w = qr->width;
        x -= QR_QUIET_ZONE;
        y -= QR_QUIET_ZONE;
        return x >= 0 && y >= 0 && x < w && y < w && (qr->data[y * w + x] & 1);
}

/* One cell: top and bottom module "on" (drawn) or not. */
static const char *cell(bool top, bool bottom) {
        return top && bottom ? "\u2588" : top ? "\u2580" : bottom ? "\u2584" : " ";
}

static void draw(FILE *f, const QRcode *qr, enum ehr_qr_style style) {
        int size = qr->width + 2 * QR_QUIET_ZONE;
        bool ansi = style == EHR_QR_ANSI;
        for (int y = 0; y < size; y += 2) {
                if (ansi)
                        fputs(QR_COLOURS, f);
                for (int x = 0; x < size; x++) {
                        /* Past the last row is quiet zone: light. */
                        bool top = dark(qr, x, y), bottom = y + 1 < size && dark(qr, x, y + 1);
                        bool light_bottom = y + 1 < size && !bottom;
                        fputs(ansi ? cell(top, bottom) : cell(!top, light_bottom), f);
                }
                fputs(ansi ? QR_RESET "\n" : "\n", f);
        }
}

int ehr_qr_render(const char *text, enum ehr_qr_style style, char **ret, size_t *ret_len) {
        int r = ehr_dl_load_once(&lib, NULL);
        if (r < 0)
                return r;
        errno = 0;
        QRcode *qr = qr_api.encode_string(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
        if (!qr)
                return errno == ENOMEM ? -ENOMEM : -EINVAL;
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f) {
                qr_api.free(qr);
                return -ENOMEM;
        }
        draw(f, qr, style);
        qr_api.free(qr);
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        *ret_len = len;
        return 0;
}
