/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The snapshot file, copied into memory of our own, a chunk at a time as
 * lookups need it.
 *
 * Never a mapping of the file: a file truncated in place (`: > snapshot`,
 * `cp backup snapshot`, any write by its owner) under a shared or private
 * mapping kills the process with SIGBUS at the next access, and this code
 * runs in every process on the host. A copy made with pread() cannot fault:
 * a file that shrank gives a short read, and the lookup fails with -EBADMSG.
 *
 * Copying only what lookups touch keeps the first lookup of a process as
 * cheap as a mapping's (the header and the few chunks one lookup reads) and
 * memory to what the process uses; once a chunk is in, reading it makes no
 * system call. Each chunk is loaded once: a compare-and-swap claims it,
 * and threads that need it meanwhile wait for the loader. The descriptor
 * stays open (O_CLOEXEC) while the snapshot lives; a program may close
 * descriptors it did not open and reuse the number, so each load first
 * checks with fstat() that the descriptor is still our file, and a number
 * that is someone else's now is forgotten, never read or closed (as SSSD's
 * client does with its cache's descriptor). */

#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include "snapshot-reader.h"
#include "util.h"

/* Open the snapshot and check the descriptor: a regular file (O_NONBLOCK: a
 * FIFO put in its place must not hang every getpwnam() on the host), owned by
 * root or by us (whoever can write it decides every process's users), not
 * writable by group or others, of a size a snapshot can have. */
static int open_checked(const char *path, struct stat *ret_st) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        if (fstat(fd, ret_st) < 0)
                return negative_errno();
        if (!S_ISREG(ret_st->st_mode))
                return -EBADFD;
        if (ret_st->st_uid != 0 && ret_st->st_uid != geteuid())
                return -EPERM;
        if (ret_st->st_mode & 0022)
                return -EACCES;
        if (ret_st->st_size < (off_t) SNAP_HEADER_BYTES || ret_st->st_size > (off_t) EHR_SNAPSHOT_SIZE_MAX)
                return -EBADMSG;
        return TAKE_FD(fd);
}

/* The same inode with the same contents, as far as stat() can tell. Not
 * ctime: renaming a new snapshot over this one changes it (the link count). */
static bool same_contents(const struct stat *a, const struct stat *b) {
        return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
               a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Is the descriptor still the file we opened, unchanged? If it is another
 * file now (the program closed ours and reused the number) or none, it is
 * not ours to read or to close: forget it. */
static bool fd_still_ours(struct ehr_snapshot *s, int fd) {
        struct stat st;
        if (fstat(fd, &st) < 0 || st.st_dev != s->st.st_dev || st.st_ino != s->st.st_ino) {
                atomic_compare_exchange_strong(&s->fd, &fd, -1);
                return false;
        }
        return same_contents(&s->st, &st);
}

/* Close the descriptor, if it is still ours. */
static void drop_fd(struct ehr_snapshot *s) {
        int fd = atomic_exchange(&s->fd, -1);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == s->st.st_dev && st.st_ino == s->st.st_ino)
                (void) close(fd);
}

/* Copy bytes [off, off + n) of the file, which must still be the one we
 * opened, unchanged: -EBADMSG (and the snapshot lost for good) otherwise. */
static int copy_range(const struct ehr_snapshot *s, size_t off, size_t n) {
        struct ehr_snapshot *w = (struct ehr_snapshot *) s; /* the bytes, fd and `lost`, never the header */
        int fd = atomic_load(&s->fd);

        if (atomic_load(&s->lost) || fd < 0 || !fd_still_ours(w, fd))
                goto lost;
        for (size_t got = 0; got < n;) {
                ssize_t k = pread(fd, (uint8_t *) w->base + off + got, n - got, (off_t) (off + got));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        goto lost; /* shorter than when we opened it: truncated in place */
                got += (size_t) k;
        }
        return 0;
lost:
        atomic_store(&w->lost, true);
        return -EBADMSG;
}

int snap_load_chunk(const struct ehr_snapshot *s, size_t c) {
        for (;;) {
                uint8_t state = CHUNK_EMPTY;
                if (atomic_compare_exchange_strong(&s->chunk[c], &state, CHUNK_LOADING))
                        break;
                if (state == CHUNK_LOADED)
                        return 0;
                (void) sched_yield(); /* another thread is copying it */
        }
        size_t off = c * SNAP_CHUNK_BYTES, n = s->size - off < SNAP_CHUNK_BYTES ? s->size - off : SNAP_CHUNK_BYTES;
        int r = copy_range(s, off, n);
        atomic_store_explicit(&s->chunk[c], r < 0 ? CHUNK_EMPTY : CHUNK_LOADED, memory_order_release);
        return r;
}

/* Claim the run of empty chunks from c on (at least chunk c itself, which the
 * caller saw empty), returning its length: 0 if another thread took c first. */
static size_t claim_run(const struct ehr_snapshot *s, size_t c, size_t n_chunks) {
        size_t k = c;
        for (; k < n_chunks; k++) {
                uint8_t state = CHUNK_EMPTY;
                if (!atomic_compare_exchange_strong(&s->chunk[k], &state, CHUNK_LOADING))
                        break;
        }
        return k - c;
}

int ehr_snapshot_load(const struct ehr_snapshot *s) {
        size_t n_chunks = (s->size + SNAP_CHUNK_BYTES - 1) / SNAP_CHUNK_BYTES;
        if (!s->chunk)
                return 0;
        for (size_t c = 0; c < n_chunks;) {
                if (atomic_load_explicit(&s->chunk[c], memory_order_acquire) == CHUNK_LOADED) {
                        c++;
                        continue;
                }
                size_t run = claim_run(s, c, n_chunks);
                if (run == 0) {
                        int r = snap_load_chunk(s, c); /* another thread has it: wait for it */
                        if (r < 0)
                                return r;
                        continue;
                }
                size_t off = c * SNAP_CHUNK_BYTES, end = (c + run) * SNAP_CHUNK_BYTES;
                int r = copy_range(s, off, (end < s->size ? end : s->size) - off);
                for (size_t k = c; k < c + run; k++)
                        atomic_store_explicit(&s->chunk[k], r < 0 ? CHUNK_EMPTY : CHUNK_LOADED, memory_order_release);
                if (r < 0)
                        return r;
                c += run;
        }
        /* Every byte is here now: the file is not needed any more. */
        drop_fd((struct ehr_snapshot *) s);
        return 0;
}

void ehr_snapshot_after_fork(struct ehr_snapshot *s) {
        /* A chunk another thread was copying at the fork: that thread is gone. */
        if (s && s->chunk)
                for (size_t c = 0; c < (s->size + SNAP_CHUNK_BYTES - 1) / SNAP_CHUNK_BYTES; c++)
                        if (atomic_load(&s->chunk[c]) == CHUNK_LOADING)
                                atomic_store(&s->chunk[c], CHUNK_EMPTY);
}

struct ehr_snapshot *ehr_snapshot_free(struct ehr_snapshot *s) {
        if (!s)
                return NULL;
        if (s->owned)
                (void) munmap((void *) s->base, s->size);
        free((void *) s->chunk);
        drop_fd(s);
        free(s);
        return NULL;
}

/* Room for the whole file, committed only where chunks are copied; every
 * chunk copied at once with EHR_SNAPSHOT_VERIFY, which reads it all anyway. */
static int snapshot_alloc(int fd, const struct stat *st, unsigned flags, struct ehr_snapshot **ret) {
        _cleanup_(ehr_snapshot_freep) struct ehr_snapshot *s = calloc(1, sizeof *s);
        if (!s) {
                closep(&fd);
                return -ENOMEM;
        }
        s->fd = fd; /* from here on, freeing s closes it */
        s->size = (size_t) st->st_size;
        s->st = *st;
        s->have_file = true;
        void *p = mmap(NULL, s->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED)
                return -ENOMEM;
        s->base = p;
        s->owned = true;
        if (flags & EHR_SNAPSHOT_VERIFY) {
                int r = copy_range(s, 0, s->size);
                if (r < 0)
                        return r;
        } else {
                s->chunk = calloc((s->size + SNAP_CHUNK_BYTES - 1) / SNAP_CHUNK_BYTES, sizeof *s->chunk);
                if (!s->chunk)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

int ehr_snapshot_open(const char *path, unsigned flags, struct ehr_snapshot **ret) {
        _cleanup_(ehr_snapshot_freep) struct ehr_snapshot *s = NULL;
        struct stat st;

        if (isempty(path) || !ret)
                return -EINVAL;
        int fd = open_checked(path, &st);
        if (fd < 0)
                return fd;
        int r = snapshot_alloc(fd, &st, flags, &s); /* takes fd, even on failure */
        if (r < 0)
                return r;
        if (!s->chunk)
                drop_fd(s); /* all copied: nothing more to read */
        r = snap_parse(s, flags);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

bool ehr_snapshot_same_file(const struct ehr_snapshot *s, const struct stat *st) {
        return s && st && s->have_file && !atomic_load(&s->lost) && same_contents(&s->st, st);
}
