/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The PostgreSQL backend's connection: made when first needed and again after
 * a loss (with backoff), never used across a fork, every wait bounded by the
 * store's timeout; statements prepared once per connection; errors mapped to
 * errno once, here. */

#include <fcntl.h>
#include <poll.h>

#include "internal.h"
#include "util.h"

#define BACKOFF_MIN_MS 250U
#define BACKOFF_MAX_MS 8000U
#define BINDS_MAX 12U
#define MIN(a, b) ((a) < (b) ? (a) : (b))

static bool strneq(const char *a, const char *b, size_t n) {
        return strncmp(a, b, n) == 0;
}

static uint64_t deadline_of(const struct ehr_store_backend *b) {
        return ehr_monotonic_msec() + b->timeout_ms;
}

/* Drop the connection. In a child of the process that made it, the socket is
 * the parent's too: it is pointed at /dev/null first, so that libpq's goodbye
 * goes nowhere and the parent's session lives on. */
static void disconnect(struct ehr_store_backend *b) {
        if (!b->conn)
                return;
        if (b->pid != getpid()) {
                int fd = PQsocket(b->conn), nul = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (fd >= 0 && nul >= 0)
                        (void) dup2(nul, fd);
                if (nul >= 0)
                        (void) close(nul);
        }
        PQfinish(b->conn);
        b->conn = NULL;
        memset(b->prepared, 0, sizeof b->prepared);
}

/* The connection is gone (or answered too late): the store is unreachable. A
 * transaction open on it is lost; the caller's rollback ends it. */
static int lost(struct ehr_store_backend *b, const char *why) {
        snprintf(b->err, sizeof b->err, "%s: %s", b->location, why);
        char *nl = strchr(b->err, '\n');
        if (nl)
                *nl = 0;
        disconnect(b);
        if (b->in_tx)
                b->tx_lost = true;
        return -ENOMEDIUM;
}

/* Wait for the socket until the deadline: 1 ready, 0 timed out, -errno. */
static int wait_fd(int fd, short events, uint64_t deadline) {
        for (;;) {
                uint64_t now = ehr_monotonic_msec();
                if (now >= deadline)
                        return 0;
                struct pollfd p = { .fd = fd, .events = events };
                int n = poll(&p, 1, (int) (deadline - now > INT_MAX ? INT_MAX : deadline - now));
                if (n > 0)
                        return 1;
                if (n < 0 && errno != EINTR)
                        return negative_errno();
        }
}

static void quiet(void *arg, const char *message) {
        (void) arg, (void) message; /* a NOTICE is never written to the host's stderr */
}

static int connect_now(struct ehr_store_backend *b) {
        uint64_t deadline = deadline_of(b);
        b->conn = PQconnectStartParams(b->kw, b->val, 1);
        if (!b->conn)
                return -ENOMEM;
        b->pid = getpid();
        PostgresPollingStatusType st = PGRES_POLLING_WRITING;
        while (PQstatus(b->conn) != CONNECTION_BAD && st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
                int w = wait_fd(PQsocket(b->conn), st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline);
                if (w <= 0)
                        return lost(b, w == 0 ? "no connection within store_timeout_ms" : "poll failed");
                st = PQconnectPoll(b->conn);
        }
        if (PQstatus(b->conn) != CONNECTION_OK)
                return lost(b, PQerrorMessage(b->conn));
        PQsetNoticeProcessor(b->conn, quiet, NULL);
        if (PQsetnonblocking(b->conn, 1) != 0)
                return lost(b, "cannot make the connection non-blocking");
        return 0;
}

/* Send what libpq holds and collect the statement's last result. The server
 * must start answering by the deadline, and never stay silent longer than the
 * store's timeout after that: a long result (every user of a large site, for
 * the NSS snapshot) arrives in pieces, each of which moves the deadline on. */
static int collect(struct ehr_store_backend *b, uint64_t deadline, PGresult **ret) {
        int f;
        while ((f = PQflush(b->conn)) == 1)
                if (wait_fd(PQsocket(b->conn), POLLOUT | POLLIN, deadline) <= 0 || !PQconsumeInput(b->conn))
                        return lost(b, "the server did not take the statement within store_timeout_ms");
        if (f < 0)
                return lost(b, PQerrorMessage(b->conn));
        PGresult *last = NULL, *res;
        for (;;) {
                while (PQisBusy(b->conn)) {
                        int w = wait_fd(PQsocket(b->conn), POLLIN, deadline);
                        if (w <= 0 || !PQconsumeInput(b->conn)) {
                                PQclear(last);
                                return lost(b, w == 0 ? "no answer within store_timeout_ms" : PQerrorMessage(b->conn));
                        }
                        deadline = deadline_of(b);
                }
                if (!(res = PQgetResult(b->conn)))
                        break;
                PQclear(last);
                last = res;
        }
        if (!last || PQstatus(b->conn) == CONNECTION_BAD) {
                PQclear(last);
                return lost(b, PQerrorMessage(b->conn));
        }
        *ret = last;
        return 0;
}

/* SQLSTATE classes, converted once: the table of core/errors.h. */
static int errno_from_sqlstate(const char *s) {
        if (!s || strlen(s) != 5)
                return -EIO;
        if (streq(s, "23505"))
                return -EEXIST;
        if (strneq(s, "23", 2))
                return -EDOM;
        if (streq(s, "40001") || streq(s, "40P01") || streq(s, "55P03") || streq(s, "57014"))
                return -EBUSY; /* serialisation, deadlock, lock_timeout, cancelled */
        if (streq(s, "42501") || strneq(s, "28", 2))
                return -EACCES;
        if (streq(s, "25006") || strneq(s, "53", 2))
                return -EROFS; /* read-only (a standby), disk full, out of resources */
        if (streq(s, "42P01") || streq(s, "42703") || strneq(s, "XX", 2))
                return -EUCLEAN; /* not an ehr2fa store (no such table or column), or corrupt */
        if (strneq(s, "08", 2) || strneq(s, "57P", 3))
                return -ENOMEDIUM; /* connection failure, server shutting down */
        if (strneq(s, "22", 2))
                return -EOVERFLOW;
        return -EIO;
}

static int result_errno(struct ehr_store_backend *b, PGresult *res) {
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_TUPLES_OK)
                return PQntuples(res);
        if (st == PGRES_COMMAND_OK) {
                const char *n = PQcmdTuples(res);
                return *n ? atoi(n) : 0;
        }
        int r = errno_from_sqlstate(PQresultErrorField(res, PG_DIAG_SQLSTATE));
        if (r == -ENOMEDIUM)
                return lost(b, PQresultErrorMessage(res));
        /* The server's words (never our parameters: it does not repeat them), for a migration's message. */
        const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        snprintf(b->last_error, sizeof b->last_error, "%s", primary ? primary : ehr_strerror(r));
        return r;
}

/* An idle connection (ehr2fad's, between logins) that the server closed since
 * (it restarted, or failed over): the server said so before closing, so the
 * socket reads. Seen here, it is made again before a statement is lost on it. */
static bool closed_while_idle(struct ehr_store_backend *b) {
        if (b->in_tx || b->pid != getpid())
                return false;
        /* Its last words (FATAL 57P01) come first, the end of the stream in a later read. */
        for (unsigned i = 0; i < 4; i++) {
                struct pollfd p = { .fd = PQsocket(b->conn), .events = POLLIN };
                if (poll(&p, 1, 0) <= 0)
                        return false;
                if (!PQconsumeInput(b->conn) || PQstatus(b->conn) != CONNECTION_OK)
                        return true;
        }
        return false;
}

/* The connection for the next statement: made again after a loss, unless a
 * transaction was open on the lost one (the caller's rollback ends that) or the
 * last attempt failed less than the backoff ago. */
static int ensure(struct ehr_store_backend *b) {
        if (b->conn && (b->pid != getpid() || PQstatus(b->conn) != CONNECTION_OK || closed_while_idle(b)))
                disconnect(b);
        if (b->tx_lost)
                return -ENOMEDIUM;
        if (b->conn)
                return 0;
        if (b->in_tx)
                return -ENOMEDIUM;
        uint64_t now = ehr_monotonic_msec();
        if (now < b->retry_at_ms)
                return -ENOMEDIUM;
        int r = connect_now(b);
        if (r < 0) {
                b->backoff_ms = b->backoff_ms ? MIN(b->backoff_ms * 2, (uint64_t) BACKOFF_MAX_MS) : BACKOFF_MIN_MS;
                b->retry_at_ms = ehr_monotonic_msec() + b->backoff_ms;
                return r;
        }
        b->backoff_ms = b->retry_at_ms = 0;
        /* A server restored from a backup, or upgraded by a newer ehr2fa, while we were away. */
        if (b->opened && (r = ehr_pg_version_check(b)) < 0)
                disconnect(b);
        return r;
}

/* A statement without a name (BEGIN, migrations): the count, or -errno. */
int ehr_pg_exec(struct ehr_store_backend *b, const char *sql, const char *param) {
        int r = ensure(b);
        if (r < 0)
                return r;
        int ok = param ? PQsendQueryParams(b->conn, sql, 1, NULL, &param, NULL, NULL, 0) : PQsendQuery(b->conn, sql);
        PGresult *res = NULL;
        r = ok ? collect(b, deadline_of(b), &res) : lost(b, PQerrorMessage(b->conn));
        if (r < 0)
                return r;
        r = result_errno(b, res);
        PQclear(res);
        return r;
}

static int prepare(struct ehr_store_backend *b, enum pg_stmt id, uint64_t deadline) {
        char name[16];
        snprintf(name, sizeof name, "e%d", (int) id);
        if (!PQsendPrepare(b->conn, name, ehr_pg_stmt_sql[id], 0, NULL))
                return lost(b, PQerrorMessage(b->conn));
        PGresult *res = NULL;
        int r = collect(b, deadline, &res);
        if (r < 0)
                return r;
        r = result_errno(b, res);
        PQclear(res);
        if (r >= 0)
                b->prepared[id] = true;
        return r;
}

int ehr_pg_run(struct ehr_store_backend *b, enum pg_stmt id, const struct bind *bv, size_t n, struct pg_res *ret) {
        if (n > BINDS_MAX)
                return -E2BIG;
        int r = ensure(b);
        if (r < 0)
                return r;
        uint64_t deadline = deadline_of(b);
        if (!b->prepared[id] && (r = prepare(b, id, deadline)) < 0)
                return r;
        char num[BINDS_MAX][24], name[16];
        const char *values[BINDS_MAX];
        int lengths[BINDS_MAX], formats[BINDS_MAX];
        for (size_t i = 0; i < n; i++) {
                lengths[i] = formats[i] = 0;
                switch (bv[i].type) {
                case BIND_INT:
                        snprintf(num[i], sizeof num[i], "%" PRId64, bv[i].i);
                        values[i] = num[i];
                        break;
                case BIND_TEXT:
                        values[i] = bv[i].p;
                        break;
                case BIND_BLOB:
                        values[i] = bv[i].p;
                        lengths[i] = (int) bv[i].n;
                        formats[i] = 1;
                        break;
                default:
                        values[i] = NULL;
                }
        }
        snprintf(name, sizeof name, "e%d", (int) id);
        if (!PQsendQueryPrepared(b->conn, name, (int) n, values, lengths, formats, 0))
                return lost(b, PQerrorMessage(b->conn));
        PGresult *res = NULL;
        r = collect(b, deadline, &res);
        if (r < 0)
                return r;
        r = result_errno(b, res);
        if (r < 0 || !ret)
                PQclear(res);
        else
                *ret = (struct pg_res) { .res = res };
        return r;
}

void ehr_pg_done(struct pg_res *r) {
        if (r->res)
                PQclear(r->res);
        r->res = NULL;
}

int ehr_pg_lock_user(struct ehr_store_backend *b, int64_t user_id) {
        if (!b->in_tx || b->locked_user == user_id)
                return 0;
        int r = sql_run(b, PG_USER_LOCK, b_int(user_id));
        if (r >= 0)
                b->locked_user = user_id;
        return no_count(r);
}

void ehr_pg_close(struct ehr_store_backend *b) {
        disconnect(b);
}

const char *ehr_pg_lost_reason(const struct ehr_store_backend *b) {
        return b->err;
}

int ehr_pg_connect(struct ehr_store_backend *b) {
        return ensure(b);
}

int ehr_pg_prepare(struct ehr_store_backend *b, enum pg_stmt id) {
        int r = ensure(b);
        if (r >= 0 && !b->prepared[id])
                r = prepare(b, id, deadline_of(b));
        return no_count(r);
}
