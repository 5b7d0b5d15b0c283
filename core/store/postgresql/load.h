/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Part of the PostgreSQL backend (core/store/postgresql/): its files include
 * this instead of <libpq-fe.h> and call libpq through a table that
 * ehr_pg_load() fills from libpq.so.5 with dlopen(), on the first open of a
 * PostgreSQL store, as store/sqlite/load.h does for SQLite: a login answered
 * by ehr2fad, or one on an SQLite store, never loads it. Each use below is the
 * same call, by the same name, as with <libpq-fe.h> alone. */

#include <libpq-fe.h>

#define EHR_PG_SONAME "libpq.so.5"

#define EHR_PG_FUNCS(X) \
        X(PQclear) \
        X(PQconnectPoll) \
        X(PQconnectStartParams) \
        X(PQconsumeInput) \
        X(PQerrorMessage) \
        X(PQfinish) \
        X(PQflush) \
        X(PQgetisnull) \
        X(PQgetlength) \
        X(PQgetResult) \
        X(PQgetvalue) \
        X(PQisBusy) \
        X(PQnfields) \
        X(PQntuples) \
        X(PQresultErrorField) \
        X(PQresultErrorMessage) \
        X(PQresultStatus) \
        X(PQsendPrepare) \
        X(PQsendQuery) \
        X(PQsendQueryParams) \
        X(PQsendQueryPrepared) \
        X(PQsetnonblocking) \
        X(PQsocket) \
        X(PQstatus) \
        X(PQcmdTuples) \
        X(PQconninfoParse) \
        X(PQconninfoFree) \
        X(PQsetNoticeProcessor) \
        X(PQtransactionStatus)

struct ehr_pg_api {
#define EHR_PG_FIELD(f) __typeof__(&f) f;
        EHR_PG_FUNCS(EHR_PG_FIELD)
#undef EHR_PG_FIELD
};
extern struct ehr_pg_api ehr_pg;

/* Load libpq once (thread-safe). Returns 0, or -ELIBACC (not installed),
 * -ELIBBAD (a function is missing); *ret_why then says which. */
int ehr_pg_load(const char **ret_why);

#ifndef EHR_PG_LOAD_IMPL
#define PQclear ehr_pg.PQclear
#define PQconnectPoll ehr_pg.PQconnectPoll
#define PQconnectStartParams ehr_pg.PQconnectStartParams
#define PQconsumeInput ehr_pg.PQconsumeInput
#define PQerrorMessage ehr_pg.PQerrorMessage
#define PQfinish ehr_pg.PQfinish
#define PQflush ehr_pg.PQflush
#define PQgetisnull ehr_pg.PQgetisnull
#define PQgetlength ehr_pg.PQgetlength
#define PQgetResult ehr_pg.PQgetResult
#define PQgetvalue ehr_pg.PQgetvalue
#define PQisBusy ehr_pg.PQisBusy
#define PQnfields ehr_pg.PQnfields
#define PQntuples ehr_pg.PQntuples
#define PQresultErrorField ehr_pg.PQresultErrorField
#define PQresultErrorMessage ehr_pg.PQresultErrorMessage
#define PQresultStatus ehr_pg.PQresultStatus
#define PQsendPrepare ehr_pg.PQsendPrepare
#define PQsendQuery ehr_pg.PQsendQuery
#define PQsendQueryParams ehr_pg.PQsendQueryParams
#define PQsendQueryPrepared ehr_pg.PQsendQueryPrepared
#define PQsetnonblocking ehr_pg.PQsetnonblocking
#define PQsocket ehr_pg.PQsocket
#define PQstatus ehr_pg.PQstatus
#define PQcmdTuples ehr_pg.PQcmdTuples
#define PQconninfoParse ehr_pg.PQconninfoParse
#define PQconninfoFree ehr_pg.PQconninfoFree
#define PQsetNoticeProcessor ehr_pg.PQsetNoticeProcessor
#define PQtransactionStatus ehr_pg.PQtransactionStatus
#endif
