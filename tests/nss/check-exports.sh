#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# A shared object exports exactly what its version script lists, and the NSS
# module pulls in no store, crypto or network library (nor any code of ours
# that it does not need, such as the snapshot writer).
#
# usage: check-exports.sh SO SYMFILE [forbidden-NEEDED-regex [forbidden-symbol-regex]]
set -eu
so=$1
sym=$2
forbidden=${3:-sqlite|curl|sodium|qrencode|pam}
forbidden_code=${4:-}

want=$(sed -n 's/^[[:space:]]*\([A-Za-z_][A-Za-z0-9_]*\);.*/\1/p' "$sym" | sort)
got=$(nm -D --defined-only "$so" | awk '{ print $NF }' | sort)
if [ "$want" != "$got" ]; then
        echo "exports of $so differ from $sym:" >&2
        printf '%s\n' "$want" > "${TMPDIR:-/tmp}/want.$$"
        printf '%s\n' "$got" | diff -u "${TMPDIR:-/tmp}/want.$$" - >&2 || true
        rm -f "${TMPDIR:-/tmp}/want.$$"
        exit 1
fi

needed=$(readelf -d "$so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
if printf '%s\n' "$needed" | grep -Eq "$forbidden"; then
        echo "$so needs a forbidden library: $needed" >&2
        exit 1
fi
# Transitively too (ldd resolves what the NEEDED libraries pull in).
if command -v ldd >/dev/null && ldd "$so" 2>/dev/null | grep -Eq "$forbidden"; then
        echo "$so pulls in a forbidden library:" >&2
        ldd "$so" >&2
        exit 1
fi
# Local symbols too: what was linked in, exported or not.
if [ -n "$forbidden_code" ] && nm "$so" 2>/dev/null | awk '{ print $NF }' | grep -Eq "$forbidden_code"; then
        echo "$so contains code it must not link:" >&2
        nm "$so" | awk '{ print $NF }' | grep -E "$forbidden_code" >&2
        exit 1
fi
echo "$so: exports $(printf '%s\n' "$got" | wc -l) symbols as listed; NEEDED: $(echo $needed)"
