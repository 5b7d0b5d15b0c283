#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The unit files load without a complaint: systemd-analyze verify prints nothing
# (an unknown key or a bad value is only a warning to it: any output fails here).
# ExecStart= names the installed programs; the copies verified name this build's.
# usage: test-unit-verify.sh ADMIN EHR2FAD UNIT_FILE...
set -u
admin=$1 daemon=$2
shift 2
command -v systemd-analyze >/dev/null || { echo "SKIP: no systemd-analyze"; exit 77; }
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT
for unit in "$@"; do
        sed -e "s#/usr/sbin/ehr2fa-admin#$admin#" -e "s#/usr/sbin/ehr2fad#$daemon#" "$unit" > "$dir/$(basename "$unit")"
done
out=$(cd "$dir" && systemd-analyze verify --man=no ./* 2>&1)
rc=$?
[ -z "$out" ] || printf "%s\n" "$out"
[ $rc -eq 0 ] && [ -z "$out" ] || { echo "FAIL: systemd-analyze verify (exit $rc) said the above"; exit 1; }
echo "ok: $(cd "$dir" && echo *) verified"
