/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reading a config: ehr2fa.conf line by line, and a PAM module's key=value
 * arguments over it, each key through ehr_config_set() (config.c). */
#include <stdio.h>
#include <unistd.h>

#include "config-internal.h"
#include "util.h"

#define CONFIG_LINE_MAX 4096U

int ehr_config_load(struct ehr_config *c, const char *path, bool missing_ok, char *err, size_t errlen) {
        char msg[256];
        int fd = ehr_open_checked(path, geteuid(), true, false);
        if (fd == -ENOENT && missing_ok)
                return 0;
        if (fd < 0) {
                snprintf(err, errlen, "%s", ehr_open_error(fd, path, false, msg, sizeof msg));
                return fd;
        }
        FILE *f = fdopen(fd, "re");
        if (!f) {
                int r = negative_errno();
                (void) close(fd);
                snprintf(err, errlen, "%s: %s", path, ehr_strerror(r));
                return r;
        }
        int r = ehr_config_parse(c, f, path, err, errlen);
        fclose(f);
        return r;
}

/* One line of f into buf, without its newline. Returns false at the end of the file.
 * fgets() cannot say how much it read when the line holds a NUL: a NUL would then
 * cut the line short and hide its length, and the rest of a long line would be read
 * as a line of its own. So byte by byte: a line too long for buf is cut there, the
 * rest of it read and dropped, and *too_long set. */
static bool read_line(FILE *f, char *buf, size_t size, bool *too_long, bool *nul) {
        size_t n = 0;
        bool any = false;
        int ch;
        *too_long = *nul = false;
        while ((ch = getc_unlocked(f)) != EOF) {
                any = true;
                if (ch == '\n')
                        break;
                if (ch == 0)
                        *nul = true;
                if (n + 1 < size)
                        buf[n++] = (char) ch;
                else
                        *too_long = true;
        }
        buf[n] = 0;
        return any;
}

int ehr_config_parse(struct ehr_config *c, FILE *f, const char *path, char *err, size_t errlen) {
        char line[CONFIG_LINE_MAX];
        unsigned lineno = 0, seen[EHR_CONFIG_KEYS_MAX] = {}; /* the line that set each key */
        bool too_long, nul;
        int r = 0;
        while (read_line(f, line, sizeof line, &too_long, &nul)) {
                lineno++;
                if (too_long) {
                        snprintf(err, errlen, "%s:%u: line too long", path, lineno);
                        r = -EINVAL;
                        break;
                }
                if (nul) {
                        snprintf(err, errlen, "%s:%u: NUL byte in line", path, lineno);
                        r = -EINVAL;
                        break;
                }
                char *hash = strchr(line, '#');
                if (hash)
                        *hash = 0;
                char *s = ehr_strstrip(line);
                if (!*s)
                        continue;
                char *eq = strchr(s, '=');
                if (!eq) {
                        snprintf(err, errlen, "%s:%u: expected 'key = value'", path, lineno);
                        r = -EINVAL;
                        break;
                }
                *eq = 0;
                char *key = ehr_strstrip(s), *value = ehr_strstrip(eq + 1);
                /* Last-wins would let a line added at the end silently undo one the admin reads
                 * at the top: a key set twice is an error, as an unknown one is. */
                int i = ehr_config_key_index(key);
                if (i >= 0 && seen[i]) {
                        snprintf(err, errlen, "%s:%u: duplicate key '%s' (already set on line %u)", path, lineno, key,
                                 seen[i]);
                        r = -EINVAL;
                        break;
                }
                if (i >= 0)
                        seen[i] = lineno;
                r = ehr_config_set(c, key, value);
                if (r == -ENOENT) {
                        snprintf(err, errlen, "%s:%u: unknown key '%.64s'", path, lineno, key);
                        r = -EINVAL;
                        break;
                }
                if (r < 0) {
                        snprintf(err, errlen, "%s:%u: bad value for %s: '%.64s' (%s)", path, lineno, key, value,
                                 ehr_config_value_hint(key));
                        if (r != -ENOMEM)
                                r = -EINVAL;
                        break;
                }
        }
        if (r == 0 && ferror(f)) {
                r = -EIO;
                snprintf(err, errlen, "%s: read error", path);
        }
        return r;
}

/* The name part of a module argument: up to its '=', or all of it. */
static size_t arg_key_len(const char *a) {
        const char *eq = strchr(a, '=');
        return eq ? (size_t) (eq - a) : strlen(a);
}

static bool arg_is_front_end(const char *a, const char *const *front_end) {
        for (const char *const *f = front_end; f && *f; f++) {
                size_t n = strlen(*f);
                if (n > 0 && (*f)[n - 1] == '=' ? strncmp(a, *f, n) == 0 : streq(a, *f))
                        return true;
        }
        return false;
}

/* One argument over c. Returns 0 or -EINVAL/-ENOMEM with err set. */
static int apply_arg(struct ehr_config *c, const char *a, char *err, size_t errlen) {
        char key[64]; /* longer than any key */
        size_t n = arg_key_len(a);
        if (n == 0 || n >= sizeof key) {
                snprintf(err, errlen, "unknown module argument '%.64s'", a);
                return -EINVAL;
        }
        memcpy(key, a, n);
        key[n] = 0;
        int i = ehr_config_key_index(key);
        if (i < 0) {
                snprintf(err, errlen, "unknown module argument '%.64s'", a);
                return -EINVAL;
        }
        /* A bare name is "yes", for the yes/no settings only (nullok, debug, public_host). */
        if (!a[n] && !ehr_config_key_is_bool(i)) {
                snprintf(err, errlen, "module argument '%s' needs a value (%s=...)", key, key);
                return -EINVAL;
        }
        const char *value = a[n] ? a + n + 1 : "yes";
        int r = ehr_config_set(c, key, value);
        if (r < 0) {
                snprintf(err, errlen, "bad value in module argument '%.64s' (%s)", a, ehr_config_value_hint(key));
                return r == -ENOMEM ? r : -EINVAL;
        }
        return 0;
}

int ehr_config_apply_args(struct ehr_config *c, int argc, const char *const *argv, const char *const *front_end,
                          char *err, size_t errlen) {
        for (int i = 0; i < argc; i++) {
                const char *a = argv[i];
                size_t n = arg_key_len(a);
                for (int j = 0; j < i; j++)
                        if (arg_key_len(argv[j]) == n && strncmp(argv[j], a, n) == 0) {
                                snprintf(err, errlen, "module argument '%.*s' given twice (arguments %d and %d)",
                                         (int) (n < 64 ? n : 64), a, j + 1, i + 1);
                                return -EINVAL;
                        }
                if (arg_is_front_end(a, front_end))
                        continue;
                int r = apply_arg(c, a, err, errlen);
                if (r < 0)
                        return r;
        }
        return 0;
}
