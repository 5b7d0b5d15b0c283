#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# A shared object exports exactly the symbols its version script lists.
set -eu
so=$1 sym=$2
want=$(sed -n 's/^[[:space:]]*\([A-Za-z_][A-Za-z0-9_]*\);.*/\1/p' "$sym" | sort)
have=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sed 's/@.*//' | sort)
if [ "$want" != "$have" ]; then
        echo "exports of $so differ from $sym:" >&2
        diff -u "$(printf '%s\n' "$want" > /tmp/want.$$ && echo /tmp/want.$$)" - <<EOT >&2 || true
$have
EOT
        rm -f /tmp/want.$$
        exit 1
fi
echo "$so exports exactly: $(echo $have)"
