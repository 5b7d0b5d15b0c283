#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The whole test suite, as CI runs it: install what is missing, build, run every
# test; then again with AddressSanitizer + UndefinedBehaviorSanitizer.
set -eu
cd "$(dirname "$0")/.."
./scripts/deps.sh

run() {
        dir=$1
        shift
        [ -d "$dir" ] || meson setup "$dir" "$@" >/dev/null
        ninja -C "$dir"
        meson test -C "$dir" --print-errorlogs --num-processes 2
}

run build
echo "== again under ASan + UBSan =="
ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        run build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
