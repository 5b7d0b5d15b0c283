#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Where `meson install` puts things, configured as meson does it on a host
# without dpkg-dev (libdir lib64): libnss_ehr.so.2 where glibc looks, with no
# libnss_ehr.so link; pam_ehr2fa.so beside libpam's own modules; ehr2fa, the
# users' command, in bindir; the bash completion for both names (those from an
# install of BUILD_DIR into a temporary DESTDIR).
# usage: test-install-layout.sh SOURCE_DIR BUILD_DIR
set -eu
src=$1
build=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
meson setup "$tmp/b" "$src" --prefix=/usr --libdir=lib64 >"$tmp/setup.log" 2>&1 || { cat "$tmp/setup.log"; exit 1; }
meson introspect "$tmp/b" --installed >"$tmp/installed.json"

fail=0
dest() { python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1])).values()))' "$tmp/installed.json" | grep "/$1\$" || true; }

nss=$(dest libnss_ehr.so.2)
[ -n "$nss" ] || { echo "FAIL: libnss_ehr.so.2 is not installed"; exit 1; }
nssdir=$(realpath -m "$(dirname "$nss")")
# The directories the dynamic loader searches (ld.so.conf and its trusted ones), as glibc resolves them.
ldconfig -v -N -X 2>/dev/null | sed -n 's,^\(/[^:]*\):.*,\1,p' >"$tmp/dirs"
if xargs -n1 realpath -m <"$tmp/dirs" | grep -x "$nssdir" >/dev/null; then
        echo "ok: libnss_ehr.so.2 in $(dirname "$nss"), which glibc searches"
else
        echo "FAIL: libnss_ehr.so.2 goes to $(dirname "$nss"), which glibc never searches"; fail=1
fi
if [ -n "$(dest libnss_ehr.so)" ]; then
        echo "FAIL: a libnss_ehr.so development link is installed"; fail=1
fi

pam=$(dest pam_ehr2fa.so)
unix=$(ls /lib/*/security/pam_unix.so /usr/lib*/security/pam_unix.so /lib*/security/pam_unix.so 2>/dev/null | head -n1)
if [ -n "$unix" ]; then
        if [ "$(realpath -m "$(dirname "$pam")")" = "$(realpath "$(dirname "$unix")")" ]; then
                echo "ok: pam_ehr2fa.so in $(dirname "$pam"), beside pam_unix.so"
        else
                echo "FAIL: pam_ehr2fa.so goes to $(dirname "$pam"), libpam's modules are in $(dirname "$unix")"; fail=1
        fi
fi

meson install -C "$build" --no-rebuild --destdir "$tmp/root" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; exit 1; }
prefix=$(meson introspect "$build" --buildoptions | python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"][0])')
bin=$tmp/root$prefix/bin/ehr2fa
if [ -x "$bin" ] && "$bin" --help 2>&1 | grep "Usage: ehr2fa-admin" >/dev/null; then
        echo "ok: $prefix/bin/ehr2fa runs ehr2fa-admin"
else
        echo "FAIL: no $prefix/bin/ehr2fa that runs ehr2fa-admin"; fail=1
fi
for name in ehr2fa-admin ehr2fa; do
        f=$(find "$tmp/root" -path "*/bash-completion/completions/$name")
        if [ -n "$f" ] && grep "^complete -F _ehr2fa_admin ehr2fa-admin ehr2fa" "$f" >/dev/null; then
                echo "ok: bash completion for $name"
        else
                echo "FAIL: no bash completion for $name"; fail=1
        fi
done
exit $fail
