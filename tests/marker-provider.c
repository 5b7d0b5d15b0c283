/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A hostile OpenSSL provider for the tests: a user's OPENSSL_CONF can name a module
 * like this one, and whatever loads it runs its code. Loading it writes the file
 * named by $EHR2FA_TEST_MARKER; that file existing is the test's failure. It then
 * declines to be a provider. Never installed. */

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

__attribute__((constructor)) static void mark(void) {
        const char *path = getenv("EHR2FA_TEST_MARKER");
        if (!path)
                return;
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return;
        (void) !write(fd, "loaded\n", 7);
        (void) close(fd);
}

__attribute__((visibility("default"))) int OSSL_provider_init(const void *handle, const void *in, const void **out,
                                                              void **provctx) {
        (void) handle, (void) in, (void) out, (void) provctx;
        return 0;
}
