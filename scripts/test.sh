#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The whole test suite, as CI runs it: install what is missing, build, run every
# test; then again with AddressSanitizer + UndefinedBehaviorSanitizer.
set -eu
cd "$(dirname "$0")/.."
./scripts/deps.sh

summary=$(mktemp)
trap 'rm -f "$summary"' EXIT

# meson test's timeouts are set for the plain build (tests/meson.build): each test
# has ample headroom on an idle 2-CPU machine and a hang still ends. Under ASan +
# UBSan every process start and allocation costs several times more, so that run
# gets them multiplied (--timeout-multiplier 3) instead of every test carrying the worst case.
run() {
        mult=$1
        dir=$2
        shift 2
        [ -d "$dir" ] || meson setup "$dir" "$@" >/dev/null || return 1
        ninja -C "$dir" || return 1
        status=0
        meson test -C "$dir" --print-errorlogs --num-processes 2 --timeout-multiplier "$mult" || status=$?
        # meson's own totals, for the closing line
        sed -n 's/^Ok: *\([0-9]*\).*/ok \1/p; s/^Fail: *\([0-9]*\).*/fail \1/p; s/^Timeout: *\([0-9]*\).*/fail \1/p; s/^Skipped: *\([0-9]*\).*/skip \1/p' \
                "$dir/meson-logs/testlog.txt" >> "$summary"
        return $status
}

rc=0
run 1 build || rc=$?
echo "== again under ASan + UBSan =="
ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        run 3 build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug || rc=$?
awk '{ n[$1] += $2 } END { printf "%d passed, %d failed, %d skipped\n", n["ok"], n["fail"], n["skip"] }' "$summary"
exit $rc
