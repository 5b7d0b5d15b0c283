#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# A lookup that finds the snapshot checked less than 100 ms ago makes no
# system call: strace -c counts every call of `test-nss-module SO hot N`
# (2N lookups through the module's entry points, start-up and dlopen()
# included), which must stay under 1 per 100 lookups. The stat() per lookup
# this replaced gave at least 1 per lookup.
#
# usage: test-nss-syscalls.sh TEST_NSS_MODULE LIBNSS_EHR_SO [N]
set -eu
mod=$1
so=$2
n=${3:-50000}

if ! command -v strace >/dev/null || ! strace -o /dev/null true 2>/dev/null; then
        echo "SKIP: strace missing or ptrace not allowed here"
        exit 77
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# LeakSanitizer stops the world with ptrace, which fails under strace: no leak check here
# (nss-module runs the same code with it).
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace -f -c -o "$out" "$mod" "$so" hot "$n"
calls=$(awk '$NF == "total" { print $4 }' "$out")
lookups=$((2 * n))
echo "$calls system calls for $lookups lookups (start-up included)"
if [ -z "$calls" ] || [ "$calls" -ge $((lookups / 100)) ]; then
        echo "FAIL: the lookups make system calls:" >&2
        cat "$out" >&2
        exit 1
fi
