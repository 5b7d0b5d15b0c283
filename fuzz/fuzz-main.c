/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The corpus runner for the fuzz targets when they are not built for libFuzzer:
 * feeds every file of the given directories (the seed corpus) to the target's
 * LLVMFuzzerTestOneInput(), each in a buffer of exactly its size. Suite
 * fuzz-corpus. */

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FUZZ_INPUT_MAX (1024U * 1024U)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
        FILE *f = fopen(path, "re");
        if (!f) {
                fprintf(stderr, "%s: %s\n", path, strerror(errno));
                return -errno;
        }
        uint8_t *buf = malloc(FUZZ_INPUT_MAX);
        size_t n = buf ? fread(buf, 1, FUZZ_INPUT_MAX, f) : 0;
        bool err = !buf || ferror(f);
        fclose(f);
        if (err) {
                free(buf);
                fprintf(stderr, "%s: read error\n", path);
                return -EIO;
        }
        /* Exact size again: the reader must not rely on slack after the input. */
        uint8_t *exact = malloc(n ? n : 1);
        if (!exact) {
                free(buf);
                return -ENOMEM;
        }
        memcpy(exact, buf, n);
        free(buf);
        LLVMFuzzerTestOneInput(exact, n);
        free(exact);
        return 0;
}

int main(int argc, char **argv) {
        size_t files = 0;
        int ret = 0;

        if (argc < 2) {
                fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
                return 2;
        }
        for (int i = 1; i < argc; i++) {
                struct stat st;
                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
                        return 1;
                }
                if (!S_ISDIR(st.st_mode)) {
                        ret |= run_file(argv[i]) < 0;
                        files++;
                        continue;
                }
                struct dirent **list;
                int n = scandir(argv[i], &list, NULL, alphasort);
                if (n < 0) {
                        fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
                        return 1;
                }
                for (int k = 0; k < n; k++) {
                        if (list[k]->d_name[0] != '.') {
                                char *p;
                                if (asprintf(&p, "%s/%s", argv[i], list[k]->d_name) < 0)
                                        return 1;
                                ret |= run_file(p) < 0;
                                files++;
                                free(p);
                        }
                        free(list[k]);
                }
                free(list);
        }
        printf("%s: %zu inputs, no crash\n", argv[0], files);
        return ret || files == 0;
}
