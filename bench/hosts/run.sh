#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Many hosts, one store: logins through real libpam and ehr2fad against a store
# of 100,000 users, the SQLite store and PostgreSQL (on this machine) side by
# side in one run. For each: logins/s and p50/p99 latency with 1, 4, 16 and 64
# login processes at once, then a shift change (2,000 logins of distinct users
# arriving within 10 s: how many succeeded, how many were lost, how many took
# over 1 s).
#
#   run.sh BUILD_DIR
#
# Environment:
#   BENCH_TMPDIR   where the stores and the PostgreSQL cluster go (default /tmp)
#   BENCH_USERS    users in each store (default 100000)
#   BENCH_PROCS    login processes at once, one row each (default 1,4,16,64)
#   BENCH_LOGINS   logins per row (default 1280)
#   BENCH_SHIFT    logins in the shift change (default 2000), BENCH_WITHIN its seconds (default 10)
#   PG_BINDIR      PostgreSQL's initdb and pg_ctl (default: the newest /usr/lib/postgresql/*/bin)
# The PostgreSQL rows are skipped, with the reason, when this build has no
# PostgreSQL backend or PostgreSQL is not installed (apt-get install postgresql);
# the SQLite rows run regardless.
set -eu

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
        echo "usage: $0 BUILD_DIR   (meson test --benchmark -C BUILD_DIR hosts)" >&2
        exit 2
fi
build=$(realpath "$1")
bench=$build/bench/hosts/bench-hosts
mkstore=$build/bench/pam/bench-pam-mkstore
module=$build/pam_ehr2fa/pam_ehr2fa.so
daemon=$build/daemon/ehr2fad
admin=$build/admin/ehr2fa-admin
for f in "$bench" "$mkstore" "$module" "$daemon" "$admin"; do
        [ -x "$f" ] || [ -f "$f" ] || { echo "$f is missing: ninja -C $build" >&2; exit 2; }
done
users=${BENCH_USERS:-100000}
procs=${BENCH_PROCS:-1,4,16,64}
logins=${BENCH_LOGINS:-1280}
shift_n=${BENCH_SHIFT:-2000}
within=${BENCH_WITHIN:-10}

tmp=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/ehr2fa-bench-hosts.XXXXXX")
chmod 0755 "$tmp"
pids=
pg_data=
pg_ctl=
cleanup() {
        for p in $pids; do kill "$p" 2>/dev/null || true; done
        wait 2>/dev/null || true
        if [ -n "$pg_data" ]; then
                runuser -u postgres -- "$pg_ctl" -D "$pg_data" -m immediate stop >/dev/null 2>&1 || true
        fi
        rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# A host's config: its store, its ehr2fad, no delay after a failure, no trust prompt.
host_conf() { # DIR LOCATOR
        cat > "$1/ehr2fa.conf" <<EOF
store_dir = $2
daemon_socket = $1/ehr2fad.sock
fail_delay_ms = 0
deny = 1000
max_failures = 100000
trust_days = 0
store_timeout_ms = 3000
nss_snapshot = $1/nss/snapshot
EOF
        chmod 0600 "$1/ehr2fa.conf"
}

start_daemon() { # DIR
        "$daemon" --conf "$1/ehr2fa.conf" --socket "$1/ehr2fad.sock" 2> "$1/ehr2fad.log" &
        pids="$pids $!"
        i=0
        while [ ! -S "$1/ehr2fad.sock" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
        [ -S "$1/ehr2fad.sock" ] || { cat "$1/ehr2fad.log" >&2; exit 1; }
}

rows=$(echo "$procs" | tr , '\n' | wc -l)
run_rows() { # LABEL DIR
        "$bench" --ehr2fa "$module" --conf "$2/ehr2fa.conf" --label "$1" --first 0 --procs "$procs" --logins "$logins"
}
# Its users follow the rows'.
run_shift() { # LABEL DIR
        "$bench" --ehr2fa "$module" --conf "$2/ehr2fa.conf" --label "$1" --first $((rows * logins)) \
                --shift "$shift_n" --within "$within"
}

need=$((rows * logins + shift_n))
if [ "$need" -gt "$users" ]; then
        echo "$need logins need as many users; BENCH_USERS is $users" >&2
        exit 2
fi

echo "# hosts: $(uname -srm), $(nproc) CPUs, $(df -T "$tmp" | awk 'NR == 2 { print $2 }') at $tmp, $users users per store"

# --- SQLite ------------------------------------------------------------------
mkdir -m 0700 "$tmp/sqlite"
host_conf "$tmp/sqlite" "$tmp/sqlite/store"
t0=$(now)
"$mkstore" --users "$users" --store "$tmp/sqlite/store"
echo "# sqlite: store of $users users made in $(elapsed "$t0") s ($(du -sh "$tmp/sqlite/store" | cut -f1))"
start_daemon "$tmp/sqlite"

# --- PostgreSQL --------------------------------------------------------------
pg=
pg_bindir=${PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
mkdir -m 0700 "$tmp/pg"
host_conf "$tmp/pg" "postgresql:///ehr2fa?host=$tmp/pgsock&port=5432"
probe=$("$admin" --conf "$tmp/pg/ehr2fa.conf" user list 2>&1 || true)
if printf '%s' "$probe" | grep -q "no PostgreSQL backend"; then
        pg="this build of ehr2fa has no PostgreSQL backend"
elif [ -z "$pg_bindir" ] || [ ! -x "$pg_bindir/initdb" ] || [ ! -x "$pg_bindir/pg_ctl" ]; then
        pg="PostgreSQL is not installed (apt-get install postgresql)"
elif ! id postgres >/dev/null 2>&1; then
        pg="no postgres user to run the server as (apt-get install postgresql)"
fi
if [ -z "$pg" ]; then
        pg_ctl=$pg_bindir/pg_ctl
        pg_data=$tmp/pgdata
        mkdir -m 0700 "$pg_data" "$tmp/pgsock"
        chown postgres "$pg_data" "$tmp/pgsock"
        runuser -u postgres -- "$pg_bindir/initdb" -D "$pg_data" -A peer -U postgres >/dev/null
        runuser -u postgres -- "$pg_ctl" -D "$pg_data" -l "$tmp/pg/server.log" -w -o "-k $tmp/pgsock -c listen_addresses=''" start >/dev/null
        runuser -u postgres -- psql -h "$tmp/pgsock" -qc "CREATE ROLE root LOGIN; CREATE DATABASE ehr2fa OWNER root;" postgres
        t0=$(now)
        "$mkstore" --users "$users" --store "postgresql:///ehr2fa?host=$tmp/pgsock&port=5432"
        echo "# postgresql $("$pg_bindir/postgres" --version | awk '{ print $3 }'): store of $users users made in $(elapsed "$t0") s"
        start_daemon "$tmp/pg"
fi
echo

echo "logins through libpam and each store's ehr2fad, every login a user of its own, a good code:"
printf "%-12s %6s %7s %9s %10s %9s %9s %7s\n" store procs logins wall_ms logins/s p50_ms p99_ms failed
run_rows sqlite "$tmp/sqlite"
if [ -n "$pg" ]; then
        printf "%-12s skipped: %s\n" postgresql "$pg"
else
        run_rows postgresql "$tmp/pg"
fi
echo
run_shift sqlite "$tmp/sqlite"
if [ -n "$pg" ]; then
        printf "%-12s skipped: %s\n" postgresql "$pg"
else
        run_shift postgresql "$tmp/pg"
fi
