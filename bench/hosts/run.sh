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
# PostgreSQL is started by tests/pg.py (run --durable: a server that fsyncs, on a
# Unix socket in a temporary directory, as the unprivileged user postgres), and
# its store is the SQLite store moved with "ehr2fa-admin store copy", read by a
# host whose store_dir holds only the master key. The PostgreSQL rows are
# skipped, with the reason, when no server can be started here (apt-get install
# postgresql); the SQLite rows run regardless.
set -eu

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
        echo "usage: $0 BUILD_DIR   (meson test --benchmark -C BUILD_DIR hosts)" >&2
        exit 2
fi
build=$(realpath "$1")
src=$(cd "$(dirname "$0")/../.." && pwd)
# Run again inside a PostgreSQL server's lifetime (EHR2FA_TEST_PG set); 77: none here.
if [ -z "${EHR2FA_TEST_PG:-}" ] && [ -z "${BENCH_NO_PG:-}" ]; then
        rc=0
        python3 "$src/tests/pg.py" run --durable -- "$0" "$@" || rc=$?
        [ $rc -eq 77 ] || exit $rc
        BENCH_NO_PG="no PostgreSQL server could be started here (see the SKIP line above)"
        export BENCH_NO_PG
fi
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
cleanup() {
        for p in $pids; do kill "$p" 2>/dev/null || true; done
        wait 2>/dev/null || true
        rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# A host's config: its store (DIR/store, or a server and DIR/store for its key),
# its ehr2fad, no delay after a failure, no trust prompt.
host_conf() { # DIR [SERVER PASSWORD_FILE]
        {
                echo "store_dir = $1/store"
                [ $# -eq 1 ] || printf 'store = %s\nstore_password_file = %s\n' "$2" "$3"
        } > "$1/ehr2fa.conf"
        cat >> "$1/ehr2fa.conf" <<EOF
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
host_conf "$tmp/sqlite"
t0=$(now)
"$mkstore" --users "$users" --store "$tmp/sqlite/store"
echo "# sqlite: store of $users users made in $(elapsed "$t0") s ($(du -sh "$tmp/sqlite/store" | cut -f1))"

# --- PostgreSQL --------------------------------------------------------------
# The same users, moved as a site moves: before any login, so both start alike.
pg=${BENCH_NO_PG:-}
if [ -z "$pg" ]; then
        mkdir -m 0700 "$tmp/pg" "$tmp/pg/store"
        cp -p "$tmp/sqlite/store/master.key" "$tmp/pg/store/"
        host_conf "$tmp/pg" "$EHR2FA_TEST_PG" "$EHR2FA_TEST_PG_PASSWORD_FILE"
        t0=$(now)
        if "$admin" --conf "$tmp/pg/ehr2fa.conf" store copy --from "$tmp/sqlite/store" --to "$EHR2FA_TEST_PG" \
                --password-file "$EHR2FA_TEST_PG_PASSWORD_FILE" > "$tmp/pg/copy.log" 2>&1; then
                echo "# postgresql $(psql --version | awk '{ print $3 }'): the store copied in $(elapsed "$t0") s"
        else
                pg="ehr2fa-admin store copy failed: $(tail -1 "$tmp/pg/copy.log")"
        fi
fi
start_daemon "$tmp/sqlite"
[ -n "$pg" ] || start_daemon "$tmp/pg"
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
