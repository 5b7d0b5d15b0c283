/* SPDX-License-Identifier: GPL-2.0-or-later */
/* core/snapshot-write.c and snapshot-read.c: writer validation, round trip, atomic replacement, and a
 * reader that survives every truncation and every single-byte corruption of
 * a real file (run under ASan this proves no out-of-bounds read). */

#include <fcntl.h>
#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>

#include "snapshot-format.h"
#include "snapshot.h"
#include "util.h"

#define CHECK(x)                                                                                    \
        do {                                                                                        \
                if (!(x)) {                                                                         \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x);       \
                        abort();                                                                    \
                }                                                                                   \
        } while (0)
#define CHECK_R(expr, want)                                                                         \
        do {                                                                                        \
                int r_ = (expr);                                                                    \
                if (r_ != (want)) {                                                                 \
                        fprintf(stderr, "%s:%d: %s = %d (%s), want %d\n", __FILE__, __LINE__, #expr, \
                                r_, r_ < 0 ? strerror(-r_) : "ok", (want));                         \
                        abort();                                                                    \
                }                                                                                   \
        } while (0)

#define BIG_USERS 20000U
#define NAME_BUF 64U

static char tmpdir[] = "/tmp/test-snapshot.XXXXXX";

static const char *const staff_members[] = { "alice", "bob" };
static const char *const nurses_members[] = { "bob", "carol", "root" }; /* root: not a snapshot user */
static const struct ehr_snap_user users[] = {
        { "alice", 5001, 5001, "Alice Doe,Ward 3", "/home/alice", "/bin/bash" },
        { "bob", 5002, 6000, "", "/home/bob", "" },
        { "carol", 5003, 6000, "Carol", "/home/carol", "/bin/sh" },
};
static const struct ehr_snap_group groups[] = {
        { "staff", 6000, staff_members, 2 },
        { "nurses", 6001, nurses_members, 3 },
        { "empty", 6002, NULL, 0 },
};

static char *path_in(const char *name) {
        char *p;
        CHECK(asprintf(&p, "%s/%s", tmpdir, name) > 0);
        return p;
}

static int collect_gid(uint32_t gid, void *userdata) {
        uint32_t *out = userdata;
        out[out[0]++ + 1] = gid;
        return 0;
}

static void test_validation(void) {
        static const char *const bad_names[] = {
                "", "-x", "1234", "a:b", "a,b", "a b", "a/b", ".", "..", "a\nb", "a\tb", "\x7f",
                "abcdefghijklmnopqrstuvwxyz0123456", /* 33 bytes */
        };
        void *data;
        size_t size;

        for (size_t i = 0; i < ELEMENTSOF(bad_names); i++) {
                struct ehr_snap_user u = { bad_names[i], 5001, 5001, "", "/home/x", "/bin/sh" };
                CHECK(!ehr_snapshot_name_valid(bad_names[i]));
                CHECK_R(ehr_snapshot_build(&u, 1, NULL, 0, &data, &size), -EINVAL);
                struct ehr_snap_group g = { bad_names[i], 6000, NULL, 0 };
                CHECK_R(ehr_snapshot_build(NULL, 0, &g, 1, &data, &size), -EINVAL);
                const char *m[] = { bad_names[i] };
                struct ehr_snap_group gm = { "grp", 6000, m, 1 };
                CHECK_R(ehr_snapshot_build(NULL, 0, &gm, 1, &data, &size), -EINVAL);
        }
        CHECK(ehr_snapshot_name_valid("abcdefghijklmnopqrstuvwxyz012345")); /* 32 bytes */
        CHECK(ehr_snapshot_name_valid("jane.doe-2@icu_"));

        const struct ehr_snap_user bad_users[] = {
                { "u", 0, 5001, "", "/home/u", "" },            /* uid 0 */
                { "u", 5001, 0, "", "/home/u", "" },            /* gid 0 */
                { "u", UINT32_MAX, 5001, "", "/home/u", "" },   /* uid -1 */
                { "u", 5001, 5001, "a:b", "/home/u", "" },      /* gecos field separator */
                { "u", 5001, 5001, "a\nb", "/home/u", "" },     /* gecos line break */
                { "u", 5001, 5001, "", "home/u", "" },          /* relative home */
                { "u", 5001, 5001, "", "", "" },                /* no home */
                { "u", 5001, 5001, "", "/home/u", "bin/sh" },   /* relative shell */
                { "u", 5001, 5001, NULL, "/home/u", "" },       /* NULL */
                { "u", 5001, 5001, "", NULL, "" },
                { "u", 5001, 5001, "", "/home/u", NULL },
                { NULL, 5001, 5001, "", "/home/u", "" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad_users); i++)
                CHECK_R(ehr_snapshot_build(&bad_users[i], 1, NULL, 0, &data, &size), -EINVAL);

        const struct ehr_snap_group bad_gid = { "g", 0, NULL, 0 };
        CHECK_R(ehr_snapshot_build(NULL, 0, &bad_gid, 1, &data, &size), -EINVAL);
        const struct ehr_snap_group null_members = { "g", 6000, NULL, 2 };
        CHECK_R(ehr_snapshot_build(NULL, 0, &null_members, 1, &data, &size), -EINVAL);
        CHECK_R(ehr_snapshot_build(NULL, 1, NULL, 0, &data, &size), -EINVAL);

        /* Duplicates. */
        const struct ehr_snap_user dup_name[] = { users[0], { "alice", 5009, 5009, "", "/h", "" } };
        CHECK_R(ehr_snapshot_build(dup_name, 2, NULL, 0, &data, &size), -EEXIST);
        const struct ehr_snap_user dup_uid[] = { users[0], { "zed", 5001, 5009, "", "/h", "" } };
        CHECK_R(ehr_snapshot_build(dup_uid, 2, NULL, 0, &data, &size), -EEXIST);
        const struct ehr_snap_group dup_gname[] = { groups[0], { "staff", 7000, NULL, 0 } };
        CHECK_R(ehr_snapshot_build(NULL, 0, dup_gname, 2, &data, &size), -EEXIST);
        const struct ehr_snap_group dup_gid[] = { groups[0], { "other", 6000, NULL, 0 } };
        CHECK_R(ehr_snapshot_build(NULL, 0, dup_gid, 2, &data, &size), -EEXIST);
        const char *twice[] = { "bob", "alice", "bob" };
        const struct ehr_snap_group dup_member = { "g", 6000, twice, 3 };
        CHECK_R(ehr_snapshot_build(NULL, 0, &dup_member, 1, &data, &size), -EEXIST);

        /* A user may share a name with a group (user private groups), and the empty snapshot is fine. */
        const struct ehr_snap_group upg = { "alice", 5001, NULL, 0 };
        CHECK_R(ehr_snapshot_build(users, 1, &upg, 1, &data, &size), 0);
        free(data);
        CHECK_R(ehr_snapshot_build(NULL, 0, NULL, 0, &data, &size), 0);
        free(data);

        /* Bad paths for the writer. */
        CHECK_R(ehr_snapshot_write("relative", users, 1, NULL, 0), -EINVAL);
        CHECK_R(ehr_snapshot_write("/tmp/", users, 1, NULL, 0), -EINVAL);
}

static void check_contents(const struct ehr_snapshot *s) {
        struct ehr_snap_user u;
        struct ehr_snap_group_view g;
        const char *m;

        CHECK(ehr_snapshot_n_users(s) == 3 && ehr_snapshot_n_groups(s) == 3);
        CHECK_R(ehr_snapshot_user_by_name(s, "alice", &u), 0);
        CHECK(streq(u.name, "alice") && u.uid == 5001 && u.gid == 5001 && streq(u.gecos, "Alice Doe,Ward 3") &&
              streq(u.dir, "/home/alice") && streq(u.shell, "/bin/bash"));
        CHECK_R(ehr_snapshot_user_by_uid(s, 5002, &u), 0);
        CHECK(streq(u.name, "bob") && u.gid == 6000 && streq(u.gecos, "") && streq(u.shell, ""));
        CHECK_R(ehr_snapshot_user_by_name(s, "root", &u), -ENOENT);
        CHECK_R(ehr_snapshot_user_by_name(s, "", &u), -ENOENT);
        CHECK_R(ehr_snapshot_user_by_name(s, NULL, &u), -ENOENT);
        CHECK_R(ehr_snapshot_user_by_uid(s, 0, &u), -ENOENT);
        CHECK_R(ehr_snapshot_user_by_uid(s, 6000, &u), -ENOENT);
        for (size_t i = 0; i < 3; i++) {
                CHECK_R(ehr_snapshot_user_at(s, i, &u), 0);
                CHECK(streq(u.name, users[i].name) && u.uid == users[i].uid);
        }
        CHECK_R(ehr_snapshot_user_at(s, 3, &u), -ENOENT);

        CHECK_R(ehr_snapshot_group_by_name(s, "nurses", &g), 0);
        CHECK(g.gid == 6001 && g.n_members == 3);
        for (size_t i = 0; i < 3; i++) {
                CHECK_R(ehr_snapshot_group_member(s, &g, i, &m), 0);
                CHECK(streq(m, nurses_members[i]));
        }
        CHECK_R(ehr_snapshot_group_member(s, &g, 3, &m), -ENOENT);
        CHECK_R(ehr_snapshot_group_by_gid(s, 6002, &g), 0);
        CHECK(streq(g.name, "empty") && g.n_members == 0);
        CHECK_R(ehr_snapshot_group_by_gid(s, 5001, &g), -ENOENT);
        CHECK_R(ehr_snapshot_group_by_name(s, "alice", &g), -ENOENT);
        CHECK_R(ehr_snapshot_group_at(s, 0, &g), 0);
        CHECK(streq(g.name, "staff"));
        CHECK_R(ehr_snapshot_group_at(s, 3, &g), -ENOENT);

        uint32_t got[8] = {};
        CHECK_R(ehr_snapshot_foreach_group_of(s, "bob", collect_gid, got), 2);
        CHECK(got[0] == 2 && got[1] == 6000 && got[2] == 6001);
        memset(got, 0, sizeof got);
        CHECK_R(ehr_snapshot_foreach_group_of(s, "root", collect_gid, got), 1);
        CHECK(got[1] == 6001);
        CHECK_R(ehr_snapshot_foreach_group_of(s, "nobody", collect_gid, got), 0);
        CHECK_R(ehr_snapshot_verify(s), 0);
}

static void test_roundtrip(void) {
        _cleanup_free_ char *p = path_in("sub/snapshot");
        struct stat st;

        /* The writer creates the missing directory, one level. */
        CHECK_R(ehr_snapshot_write(p, users, 3, groups, 3), 0);
        CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 0644 && S_ISREG(st.st_mode));

        _cleanup_(ehr_snapshot_freep) struct ehr_snapshot *s = NULL;
        CHECK_R(ehr_snapshot_open(p, EHR_SNAPSHOT_VERIFY, &s), 0);
        check_contents(s);
        CHECK(ehr_snapshot_same_file(s, &st));

        /* Replace it: the old mapping still reads the old data (it is the
         * old inode), the new file has the change, and no temp file is left. */
        const struct ehr_snap_user fewer[] = { users[0], users[2] };
        CHECK_R(ehr_snapshot_write(p, fewer, 2, groups, 3), 0);
        struct stat st2;
        CHECK(stat(p, &st2) == 0 && !ehr_snapshot_same_file(s, &st2));
        check_contents(s);
        _cleanup_(ehr_snapshot_freep) struct ehr_snapshot *s2 = NULL;
        CHECK_R(ehr_snapshot_open(p, EHR_SNAPSHOT_VERIFY, &s2), 0);
        struct ehr_snap_user u;
        CHECK_R(ehr_snapshot_user_by_name(s2, "bob", &u), -ENOENT);
        CHECK_R(ehr_snapshot_user_by_name(s2, "carol", &u), 0);

        _cleanup_free_ char *d = path_in("sub");
        DIR *dir = opendir(d);
        CHECK(dir);
        size_t n = 0;
        for (struct dirent *de; (de = readdir(dir));)
                if (!streq(de->d_name, ".") && !streq(de->d_name, "..")) {
                        CHECK(streq(de->d_name, "snapshot"));
                        n++;
                }
        closedir(dir);
        CHECK(n == 1);

        /* A failed write leaves the old file alone. */
        const struct ehr_snap_user dup[] = { users[0], users[0] };
        CHECK_R(ehr_snapshot_write(p, dup, 2, NULL, 0), -EEXIST);
        struct stat st3;
        CHECK(stat(p, &st3) == 0 && ehr_snapshot_same_file(s2, &st3));
}

static void test_open_checks(void) {
        _cleanup_free_ char *good = path_in("sub/snapshot"), *link = path_in("link"), *fifo = path_in("fifo"),
                            *empty = path_in("empty"), *loose = path_in("loose"), *missing = path_in("missing");
        struct ehr_snapshot *s = NULL;

        CHECK_R(ehr_snapshot_open(missing, 0, &s), -ENOENT);
        CHECK(symlink(good, link) == 0);
        CHECK_R(ehr_snapshot_open(link, 0, &s), -ELOOP);
        CHECK(mkfifo(fifo, 0644) == 0);
        CHECK_R(ehr_snapshot_open(fifo, 0, &s), -EBADFD); /* and no hang */
        CHECK_R(ehr_snapshot_open(tmpdir, 0, &s), -EBADFD);
        int fd = open(empty, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        CHECK(fd >= 0);
        close(fd);
        CHECK_R(ehr_snapshot_open(empty, 0, &s), -EBADMSG);

        void *data;
        size_t size;
        CHECK_R(ehr_snapshot_build(users, 3, groups, 3, &data, &size), 0);
        fd = open(loose, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        CHECK(fd >= 0 && write(fd, data, size) == (ssize_t) size);
        CHECK(fchmod(fd, 0666) == 0);
        close(fd);
        free(data);
        CHECK_R(ehr_snapshot_open(loose, 0, &s), -EACCES);
        CHECK(chmod(loose, 0664) == 0);
        CHECK_R(ehr_snapshot_open(loose, 0, &s), -EACCES);
        CHECK(chmod(loose, 0644) == 0);
        CHECK_R(ehr_snapshot_open(loose, 0, &s), 0);
        s = ehr_snapshot_free(s);
        CHECK(!s);
        CHECK(!ehr_snapshot_free(NULL));
}

static int limited_collect(uint32_t gid, void *userdata) {
        uint32_t *out = userdata;
        if (out[0] >= 15)
                return -E2BIG;
        return collect_gid(gid, userdata);
}

/* Run every reader entry point over a snapshot that opened; the results do not
 * matter, only that nothing reads outside the buffer. */
static void poke(const struct ehr_snapshot *s) {
        struct ehr_snap_user u;
        struct ehr_snap_group_view g;
        const char *m;
        uint32_t got[16];
        static const char *const names[] = { "alice", "bob", "carol", "root", "staff", "nurses", "empty", "x" };

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                (void) ehr_snapshot_user_by_name(s, names[i], &u);
                if (ehr_snapshot_group_by_name(s, names[i], &g) >= 0)
                        for (size_t k = 0; k < g.n_members && k < 64; k++)
                                (void) ehr_snapshot_group_member(s, &g, k, &m);
                got[0] = 0;
                (void) ehr_snapshot_foreach_group_of(s, names[i], limited_collect, got);
        }
        for (uint32_t id = 5000; id < 5005; id++)
                (void) ehr_snapshot_user_by_uid(s, id, &u);
        for (uint32_t id = 5999; id < 6004; id++)
                (void) ehr_snapshot_group_by_gid(s, id, &g);
        for (size_t i = 0; i < ehr_snapshot_n_users(s) && i < 64; i++)
                (void) ehr_snapshot_user_at(s, i, &u);
        for (size_t i = 0; i < ehr_snapshot_n_groups(s) && i < 64; i++)
                (void) ehr_snapshot_group_at(s, i, &g);
        (void) ehr_snapshot_verify(s);
}

static void test_truncation_and_corruption(void) {
        void *data;
        size_t size;
        struct ehr_snapshot *s;

        CHECK_R(ehr_snapshot_build(users, 3, groups, 3, &data, &size), 0);

        /* Every truncation: exact-size copies, so ASan sees any overread. */
        for (size_t len = 0; len < size; len++) {
                uint8_t *cut = malloc(len ? len : 1);
                CHECK(cut);
                memcpy(cut, data, len);
                CHECK_R(ehr_snapshot_from_buffer(cut, len, 0, &s), -EBADMSG);
                free(cut);
        }

        /* Every byte, three ways. Verification must catch each change; the
         * lazy reader must either refuse or answer without a bad read. */
        static const uint8_t patterns[] = { 0xff, 0x01, 0x80 };
        uint8_t *bad = malloc(size);
        CHECK(bad);
        size_t opened = 0;
        for (size_t i = 0; i < size; i++)
                for (size_t k = 0; k < ELEMENTSOF(patterns); k++) {
                        memcpy(bad, data, size);
                        bad[i] ^= patterns[k];
                        CHECK_R(ehr_snapshot_from_buffer(bad, size, EHR_SNAPSHOT_VERIFY, &s), -EBADMSG);
                        if (ehr_snapshot_from_buffer(bad, size, 0, &s) >= 0) {
                                opened++;
                                poke(s);
                                uint32_t got[16] = {};
                                (void) ehr_snapshot_foreach_group_of(s, "bob", limited_collect, got);
                                ehr_snapshot_free(s);
                        }
                }
        CHECK(opened > 0);
        free(bad);
        free(data);
}

static void test_big(void) {
        struct ehr_snap_user *u = calloc(BIG_USERS, sizeof *u);
        char (*names)[NAME_BUF] = calloc(BIG_USERS, NAME_BUF);
        char (*homes)[NAME_BUF] = calloc(BIG_USERS, NAME_BUF);
        const char **members = calloc(BIG_USERS, sizeof(char *));
        CHECK(u && names && homes && members);
        for (size_t i = 0; i < BIG_USERS; i++) {
                snprintf(names[i], NAME_BUF, "staff%zu", i);
                snprintf(homes[i], NAME_BUF, "/home/staff%zu", i);
                u[i] = (struct ehr_snap_user) { names[i], 100000 + (uint32_t) i, 100000, "", homes[i], "/bin/bash" };
                members[i] = names[i];
        }
        struct ehr_snap_group g[] = { { "everyone", 100000, members, BIG_USERS }, { "half", 100001, members, BIG_USERS / 2 } };
        _cleanup_free_ char *p = path_in("big");
        CHECK_R(ehr_snapshot_write(p, u, BIG_USERS, g, 2), 0);
        _cleanup_(ehr_snapshot_freep) struct ehr_snapshot *s = NULL;
        CHECK_R(ehr_snapshot_open(p, EHR_SNAPSHOT_VERIFY, &s), 0);
        for (size_t i = 0; i < BIG_USERS; i++) {
                struct ehr_snap_user r;
                CHECK_R(ehr_snapshot_user_by_name(s, names[i], &r), 0);
                CHECK(r.uid == 100000 + i);
                CHECK_R(ehr_snapshot_user_by_uid(s, 100000 + (uint32_t) i, &r), 0);
                CHECK(streq(r.name, names[i]) && streq(r.dir, homes[i]));
                uint32_t got[4] = {};
                CHECK_R(ehr_snapshot_foreach_group_of(s, names[i], collect_gid, got), i < BIG_USERS / 2 ? 2 : 1);
        }

        /* Opened without VERIFY, the file is copied a chunk at a time as the
         * lookups reach it, strings across chunk boundaries included. */
        _cleanup_(ehr_snapshot_freep) struct ehr_snapshot *lazy = NULL;
        CHECK_R(ehr_snapshot_open(p, 0, &lazy), 0);
        for (size_t i = BIG_USERS; i-- > 0;) {
                struct ehr_snap_user r;
                CHECK_R(ehr_snapshot_user_by_uid(lazy, 100000 + (uint32_t) i, &r), 0);
                CHECK(streq(r.name, names[i]) && streq(r.dir, homes[i]));
        }
        CHECK_R(ehr_snapshot_verify(lazy), 0);

        /* Truncated in place under an open snapshot: what was copied still
         * reads, what was not is -EBADMSG, never a fault; and it is not "the
         * same file" any more, so NSS opens it again. */
        _cleanup_(ehr_snapshot_freep) struct ehr_snapshot *cut = NULL;
        struct stat st;
        CHECK_R(ehr_snapshot_open(p, 0, &cut), 0);
        struct ehr_snap_user r;
        CHECK_R(ehr_snapshot_user_by_name(cut, names[0], &r), 0);
        CHECK(stat(p, &st) == 0 && ehr_snapshot_same_file(cut, &st));
        CHECK(truncate(p, st.st_size / 2) == 0);
        size_t found = 0;
        for (size_t i = 0; i < BIG_USERS; i++) {
                int k = ehr_snapshot_user_by_name(cut, names[i], &r);
                CHECK(k == 0 || k == -EBADMSG);
                if (k == 0) {
                        CHECK(r.uid == 100000 + i && streq(r.dir, homes[i]));
                        found++;
                }
        }
        CHECK(found >= 1 && found < BIG_USERS);
        CHECK_R(ehr_snapshot_load(cut), -EBADMSG);
        CHECK(stat(p, &st) == 0 && !ehr_snapshot_same_file(cut, &st));
        free(u);
        free(names);
        free(homes);
        free(members);
}


/* 200 names whose hashes agree in their low 9 bits all land in slot 0 of the
 * 512-slot table: a probe of 199 > EHR_SNAP_PROBE_MAX. The writer must spread
 * the table until lookups are bounded again, and every name stay findable. */
#define CLUSTER_USERS 200U
#define CLUSTER_MASK 511U
static void test_clustered_names(void) {
        struct ehr_snap_user *u = calloc(CLUSTER_USERS, sizeof *u);
        char (*names)[NAME_BUF] = calloc(CLUSTER_USERS, NAME_BUF);
        CHECK(u && names);
        size_t n = 0;
        for (uint32_t c = 0; n < CLUSTER_USERS; c++) {
                char name[NAME_BUF];
                snprintf(name, sizeof name, "c%u", c);
                if ((hash_str(name) & CLUSTER_MASK) != 0)
                        continue;
                memcpy(names[n], name, sizeof name);
                u[n] = (struct ehr_snap_user) { names[n], 200000 + (uint32_t) n, 100, "", "/home/c", "" };
                n++;
        }
        void *data;
        size_t size;
        CHECK_R(ehr_snapshot_build(u, CLUSTER_USERS, NULL, 0, &data, &size), 0);
        struct ehr_snapshot *s;
        CHECK_R(ehr_snapshot_from_buffer(data, size, EHR_SNAPSHOT_VERIFY, &s), 0);
        for (size_t i = 0; i < CLUSTER_USERS; i++) {
                struct ehr_snap_user r;
                CHECK_R(ehr_snapshot_user_by_name(s, names[i], &r), 0);
                CHECK(r.uid == 200000 + i);
        }
        ehr_snapshot_free(s);
        free(data);
        free(u);
        free(names);
}

static void rm_rf(const char *dir) {
        char *cmd;
        CHECK(asprintf(&cmd, "rm -rf -- '%s'", dir) > 0);
        (void) !system(cmd);
        free(cmd);
}

int main(void) {
        CHECK(mkdtemp(tmpdir));
        test_validation();
        test_roundtrip();
        test_open_checks();
        test_truncation_and_corruption();
        test_big();
        test_clustered_names();
        rm_rf(tmpdir);
        printf("test-snapshot: ok\n");
        return 0;
}
