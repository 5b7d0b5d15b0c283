#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The whole test suite, as CI runs it: install what is missing, build, run every
# test; then again with AddressSanitizer + UndefinedBehaviorSanitizer.
set -eu
cd "$(dirname "$0")/.."
./scripts/deps.sh

summary=$(mktemp)
trap 'rm -f "$summary"' EXIT

run() {
        dir=$1
        shift
        [ -d "$dir" ] || meson setup "$dir" "$@" >/dev/null || return 1
        ninja -C "$dir" || return 1
        status=0
        meson test -C "$dir" --print-errorlogs --num-processes 2 || status=$?
        # meson's own totals, for the closing line
        sed -n 's/^Ok: *\([0-9]*\).*/ok \1/p; s/^Fail: *\([0-9]*\).*/fail \1/p; s/^Timeout: *\([0-9]*\).*/fail \1/p; s/^Skipped: *\([0-9]*\).*/skip \1/p' \
                "$dir/meson-logs/testlog.txt" >> "$summary"
        return $status
}

rc=0
run build || rc=$?
echo "== again under ASan + UBSan =="
ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        run build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug || rc=$?
awk '{ n[$1] += $2 } END { printf "%d passed, %d failed, %d skipped\n", n["ok"], n["fail"], n["skip"] }' "$summary"
exit $rc
