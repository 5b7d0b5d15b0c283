#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# A shared object needs none of the named libraries: libpam loads a PAM module
# afresh in every login process, and each library it needs is loaded with it.
#   check-needed.sh SO LIB...   (LIB: a soname prefix such as libcurl)
set -eu
so=$1
shift
needed=$(readelf -d "$so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
for lib in "$@"; do
        if echo "$needed" | grep -q "^$lib"; then
                echo "$so needs $lib: every login would load it" >&2
                exit 1
        fi
done
echo "$so needs only: $(echo $needed)"
