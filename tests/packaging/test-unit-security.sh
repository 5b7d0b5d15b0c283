#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# ehr2fad.service is sandboxed: systemd-analyze security rates it 3.0 or better
# (it was 8.4, EXPOSED). Skipped (77) where systemd-analyze lacks --offline
# (before systemd 250).
# usage: test-unit-security.sh UNIT_FILE
set -u
unit=$1
command -v systemd-analyze >/dev/null || { echo "SKIP: no systemd-analyze"; exit 77; }
out=$(systemd-analyze security --offline=yes --no-pager "$unit" 2>&1)
rc=$?
if [ $rc -ne 0 ] && printf '%s' "$out" | grep -q -- "--offline"; then
        echo "SKIP: this systemd-analyze has no --offline"; exit 77
fi
printf '%s\n' "$out" | grep -E "✗|Overall"
level=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
[ -n "$level" ] || { echo "FAIL: no exposure level in the output (exit $rc)"; exit 1; }
if awk -v l="$level" 'BEGIN { exit !(l <= 3.0) }'; then
        echo "ok: $(basename "$unit") rated $level (3.0 or better)"
else
        echo "FAIL: $(basename "$unit") rated $level, worse than 3.0"; exit 1
fi
