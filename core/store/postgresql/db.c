/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The PostgreSQL backend: the locator and what libpq is told, the schema's
 * version and migrations, and transactions (see doc/ARCHITECTURE.md, "The
 * PostgreSQL backend", for how they map onto SQLite's). */

#include "internal.h"
#include "util.h"

extern char **environ;

/* libpq takes a default for every setting the locator leaves out from a PG*
 * variable of the caller's environment (PGHOST, PGSSLMODE, PGSERVICE, ...).
 * pam_ehr2fa runs inside su and sudo, whose caller chooses the environment:
 * nothing of it may choose our server. So a process whose environment has any
 * PG* variable does not connect. */
static int check_environment(char *err, size_t errlen) {
        for (char **e = environ; e && *e; e++)
                if (strncmp(*e, "PG", 2) == 0) {
                        size_t n = strcspn(*e, "=");
                        snprintf(err, errlen, "the environment sets %.*s, which libpq would follow: a PostgreSQL "
                                 "store takes its server from store= alone; unset it", n > 40 ? 40 : (int) n, *e);
                        return -EINVAL;
                }
        return 0;
}

/* Check the locator (a URI or a key=value string) and name it without any
 * secret: "postgresql://HOST:PORT/DBNAME". A password in it is refused: the
 * config file may be readable by all, the password file is root's alone. */
static int parse_locator(struct ehr_store_backend *b, char *err, size_t errlen) {
        char *why = NULL;
        PQconninfoOption *opts = PQconninfoParse(b->locator, &why);
        if (!opts) {
                free(why); /* libpq's words may quote the locator */
                snprintf(err, errlen, "store: not a PostgreSQL URI or connection string");
                return -EINVAL;
        }
        const char *host = "", *port = "", *db = "";
        int r = 0;
        for (PQconninfoOption *o = opts; o->keyword; o++) {
                if (!o->val)
                        continue;
                if (streq(o->keyword, "password") || streq(o->keyword, "passfile") || streq(o->keyword, "service")) {
                        snprintf(err, errlen, "store: the locator sets %s; put the password in the file that "
                                 "store_password_file names instead", o->keyword);
                        r = -EINVAL;
                } else if (streq(o->keyword, "host"))
                        host = o->val;
                else if (streq(o->keyword, "port"))
                        port = o->val;
                else if (streq(o->keyword, "dbname"))
                        db = o->val;
        }
        if (host[0] == '/') /* a Unix socket's directory */
                snprintf(b->location, sizeof b->location, "postgresql:///%.60s?host=%.80s%s%.8s", db, host,
                         *port ? "&port=" : "", port);
        else
                snprintf(b->location, sizeof b->location, "postgresql://%.80s%s%.8s/%.80s", host, *port ? ":" : "",
                         port, db);
        PQconninfoFree(opts);
        return r;
}

/* What libpq is given: the locator, expanded; then our own settings, which
 * override it. lock_timeout: a row another host holds is waited for only as
 * long as the store's timeout (then -EBUSY, as SQLite's busy timeout). */
static int set_keywords(struct ehr_store_backend *b, const char *password) {
        uint64_t secs = (b->timeout_ms + 999) / 1000;
        if (asprintf(&b->options, "-c lock_timeout=%" PRIu64 " -c idle_in_transaction_session_timeout=%" PRIu64,
                     b->timeout_ms, b->timeout_ms * 10 + 60000) < 0 ||
            asprintf(&b->connect_timeout, "%" PRIu64, secs < 2 ? 2 : secs) < 0) /* libpq's own floor */
                return -ENOMEM;
        size_t n = 0;
        b->kw[n] = "dbname", b->val[n++] = b->locator;
        b->kw[n] = "options", b->val[n++] = b->options;
        b->kw[n] = "connect_timeout", b->val[n++] = b->connect_timeout;
        b->kw[n] = "application_name", b->val[n++] = "ehr2fa";
        b->kw[n] = "client_encoding", b->val[n++] = "UTF8";
        /* Never ~/.pgpass (the caller's HOME): the password comes from our file or not at all. */
        b->kw[n] = "passfile", b->val[n++] = "/dev/null/ehr2fa-reads-no-passfile";
        if (password) {
                b->password = strdup(password);
                if (!b->password)
                        return -ENOMEM;
                b->kw[n] = "password", b->val[n++] = b->password;
        }
        b->kw[n] = b->val[n] = NULL;
        return 0;
}

static int read_one_int(struct ehr_store_backend *b, enum pg_stmt id, const char *what, int64_t max, int64_t *ret) {
        _cleanup_res_ struct pg_res res = {};
        int r = sql_rows0(b, id, &res);
        if (r < 0)
                return r;
        if (r != 1)
                return -EUCLEAN;
        struct ehr_row rd = ROW(b, &res);
        int64_t v = ehr_row_int(&rd, 0, what, 0, max);
        if (rd.r < 0)
                return rd.r;
        *ret = v;
        return 0;
}

/* The schema's version: 0 for an empty database; -EUCLEAN for one that holds
 * tables but not ours (another application's). */
static int get_version(struct ehr_store_backend *b, int *ret) {
        int64_t has = 0, v = 0;
        int r = read_one_int(b, PG_SCHEMA_HAS_META, "meta exists", 1, &has);
        if (r >= 0 && !has) {
                r = read_one_int(b, PG_SCHEMA_TABLES, "tables", INT64_MAX, &v);
                if (r >= 0 && v > 0) {
                        snprintf(b->err, sizeof b->err, "%s: not an ehr2fa store (it holds other tables)", b->location);
                        return -EUCLEAN;
                }
                v = 0;
        } else if (r >= 0)
                r = read_one_int(b, PG_VERSION_GET, "schema_version", INT_MAX, &v);
        if (r >= 0)
                *ret = (int) v;
        return r;
}

int ehr_pg_version_check(struct ehr_store_backend *b) {
        int v = 0, r = get_version(b, &v);
        if (r < 0)
                return r;
        if (v > EHR_STORE_SCHEMA_VERSION) {
                snprintf(b->err, sizeof b->err, "%s has schema version %d, newer than this ehr2fa (%d); upgrade ehr2fa",
                         b->location, v, EHR_STORE_SCHEMA_VERSION);
                return -EPROTO;
        }
        if (v < EHR_STORE_SCHEMA_VERSION) {
                snprintf(b->err, sizeof b->err, v == 0 ? "%s is not initialised; run: ehr2fa-admin init"
                         : "%s has an old schema; run: ehr2fa-admin migrate", b->location);
                return -EPROTO;
        }
        return 0;
}

/* One migration: the lock, the version read again under it, the step, the bump. */
static int migrate_one(struct ehr_store_backend *b, const struct ehr_pg_migration *m) {
        int r = ehr_pg_begin(b), v = 0;
        if (r >= 0)
                r = ehr_pg_exec(b, ehr_pg_sql_migrate_lock, NULL);
        if (r >= 0)
                r = get_version(b, &v);
        if (r >= 0 && v < m->version) {
                r = ehr_pg_exec(b, m->sql, NULL);
                if (r >= 0)
                        r = sql_run(b, PG_VERSION_PUT, b_int(m->version));
        }
        return r < 0 ? (ehr_pg_rollback(b), r) : ehr_pg_commit(b);
}

static int check_schema(struct ehr_store_backend *b, unsigned flags, char *err, size_t errlen) {
        int r = ehr_pg_version_check(b);
        if (r == -EPROTO && (flags & EHR_STORE_MIGRATE) && !strstr(b->err, "newer")) {
                b->err[0] = 0;
                r = 0;
                for (size_t i = 0; i < ehr_pg_migrations_n && r >= 0; i++) {
                        r = migrate_one(b, &ehr_pg_migrations[i]);
                        if (r < 0 && r != -ENOMEDIUM)
                                snprintf(b->err, sizeof b->err, "%s: migration to schema %d failed: %s", b->location,
                                         ehr_pg_migrations[i].version, b->last_error);
                }
                r = r < 0 ? r : ehr_pg_version_check(b);
        }
        if (r < 0)
                snprintf(err, errlen, "%s", *b->err ? b->err : ehr_strerror(r));
        return r;
}

int ehr_pg_open(const char *locator, const char *password, unsigned flags, uint64_t timeout_ms,
                struct ehr_store_backend **ret, char *err, size_t errlen) {
        const char *why;
        int r = ehr_pg_load(&why);
        if (r < 0) {
                snprintf(err, errlen, "PostgreSQL store: %s", why);
                return r;
        }
        r = check_environment(err, errlen);
        if (r < 0)
                return r;
        struct ehr_store_backend *b = calloc(1, sizeof *b);
        if (!b)
                return -ENOMEM;
        b->timeout_ms = timeout_ms < 100 ? 100 : timeout_ms;
        b->locator = strdup(locator);
        r = b->locator ? parse_locator(b, err, errlen) : -ENOMEM;
        if (r >= 0)
                r = set_keywords(b, password);
        if (r >= 0 && (r = ehr_pg_connect(b)) < 0)
                snprintf(err, errlen, "cannot connect to %s", ehr_pg_lost_reason(b));
        if (r >= 0)
                r = check_schema(b, flags, err, errlen);
        if (r < 0) {
                ehr_pg_free(b);
                return r;
        }
        b->opened = true;
        *ret = b;
        return 0;
}

void ehr_pg_free(struct ehr_store_backend *b) {
        if (!b)
                return;
        ehr_pg_close(b);
        free(b->locator);
        free(b->options);
        free(b->connect_timeout);
        if (b->password)
                explicit_bzero(b->password, strlen(b->password));
        free(b->password);
        free(b);
}

const char *ehr_pg_location(const struct ehr_store_backend *b) {
        return b->location;
}

/* A server has no file to be replaced: a lost connection is made again by the
 * next statement (conn.c), and a schema changed meanwhile is then refused. */
int ehr_pg_changed(struct ehr_store_backend *b) {
        (void) b;
        return 0;
}

const char *ehr_pg_bad_value(const struct ehr_store_backend *b) {
        return b->bad_value;
}

/* BEGIN (READ COMMITTED). SQLite's BEGIN IMMEDIATE serialises every writer;
 * here each read-modify-write locks what it reads: the user's row
 * (ehr_pg_lock_user()) or the audit chain's head (FOR UPDATE). */
int ehr_pg_begin(struct ehr_store_backend *b) {
        if (b->in_tx)
                return -EBUSY;
        int r = ehr_pg_exec(b, "BEGIN", NULL);
        if (r < 0)
                return r;
        b->in_tx = true;
        b->tx_lost = false;
        b->locked_user = 0;
        return 0;
}

/* COMMIT returns once the server has flushed its WAL (synchronous_commit = on,
 * the server's default, which a site must keep), so a commit is already what
 * ehr_store_sync() asks for. */
int ehr_pg_sync(struct ehr_store_backend *b) {
        (void) b;
        return 0;
}

int ehr_pg_commit(struct ehr_store_backend *b) {
        if (!b->in_tx)
                return -EINVAL;
        int r = b->tx_lost ? -ENOMEDIUM : ehr_pg_exec(b, "COMMIT", NULL);
        if (r < 0)
                ehr_pg_rollback(b);
        b->in_tx = b->tx_lost = false;
        b->locked_user = 0;
        return no_count(r);
}

void ehr_pg_rollback(struct ehr_store_backend *b) {
        if (b->in_tx && !b->tx_lost && b->conn)
                (void) ehr_pg_exec(b, "ROLLBACK", NULL);
        b->in_tx = b->tx_lost = false;
        b->locked_user = 0;
}

/* What a long-lived connection (ehr2fad) prepares once: every statement. */
int ehr_pg_reserve(struct ehr_store_backend *b) {
        for (int id = 0; id < _PG_STMT_MAX; id++) {
                int r = ehr_pg_prepare(b, (enum pg_stmt) id);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The server does its own upkeep. */
int ehr_pg_idle(struct ehr_store_backend *b) {
        (void) b;
        return 0;
}

int ehr_pg_release(struct ehr_store_backend *b) {
        if (!b->in_tx)
                return 0;
        ehr_pg_rollback(b);
        return 1;
}

bool ehr_pg_in_transaction(struct ehr_store_backend *b) {
        return b->in_tx;
}
