#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Build the Debian packages (dpkg-buildpackage -us -uc -b) from the source tree,
# install them into a clean Debian 12 chroot (debootstrap --variant=minbase, from
# the mirror apt uses here) and run chroot-scenario.sh there: install, init,
# enroll, a login through the installed module, remove, purge, what is left.
#
# The chroot is cached as a tarball in WORK_DIR, keyed by mirror, suite and the
# packages it holds (pamtester, oathtool and our packages' dependencies), so a
# rerun only unpacks it; every run starts from a fresh copy. Needs root (chroot,
# mounts); skipped (77) without it, or without the tools outside CI
# (scripts/deps.sh installs them; with CI=true a missing tool is a failure).
# usage: test-deb-chroot.sh SOURCE_DIR WORK_DIR
set -eu
src=$(realpath "$1")
work=$2
suite=bookworm
t0=$(date +%s)

skip() { echo "SKIP: $*"; exit 77; }
phase() { echo "== [at $(( $(date +%s) - t0 )) s] $*"; }

[ "$(id -u)" = 0 ] || skip "needs root: debootstrap, chroot and mounts (run the suite as root, as CI does)"
for tool in debootstrap dpkg-buildpackage dh fakeroot unshare chroot; do
        if ! command -v "$tool" >/dev/null; then
                [ "${CI:-}" = true ] && { echo "FAIL: $tool missing (scripts/deps.sh installs it)"; exit 1; }
                skip "$tool missing: run scripts/deps.sh"
        fi
done

# The Debian mirror apt uses (deb822 .sources or one-line lists), not the security one.
mirror=${EHR2FA_DEB_MIRROR:-$( (cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '
        /^URIs:/ { u = $2 } /^Suites:/ { s = $0 }
        /^$/ { if (u != "" && s ~ / '"$suite"'( |$)/ && u !~ /security/) print u; u = ""; s = "" }
        END { if (u != "" && s ~ / '"$suite"'( |$)/ && u !~ /security/) print u }'
        cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '
        $1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i ~ /:\/\//) { if ($(i+1) == "'"$suite"'") print $i; break } }'
        ) | grep -v -e security -e '^$' | head -n1)}
mirror=${mirror:-http://deb.debian.org/debian}
mkdir -p "$work"
work=$(realpath "$work")

# --- the packages ------------------------------------------------------------
phase "exporting the source tree"
rm -rf "$work/src"
mkdir -p "$work/src/ehr2fa"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
        # What is committed or would be (new files too), never build directories.
        git -C "$src" ls-files -z --cached --others --exclude-standard | (cd "$src" && tar --null -T - -cf -) \
                | tar -xf - -C "$work/src/ehr2fa"
else
        tar -C "$src" --exclude='./build*' --exclude='./obj-*' --exclude=.git -cf - . | tar -xf - -C "$work/src/ehr2fa"
fi
phase "dpkg-buildpackage -us -uc -b"
# A fresh export needs no pre-clean (-nc); no -dbgsym packages (noautodbgsym): the
# chroot installs none. Bounded: a wedged build is a failure, not a hang.
rc=0
(cd "$work/src/ehr2fa" && DEB_BUILD_OPTIONS="nocheck noautodbgsym parallel=2" \
        timeout 900 dpkg-buildpackage -us -uc -b -nc) >"$work/build.log" 2>&1 || rc=$?
if [ "$rc" != 0 ]; then
        tail -n 40 "$work/build.log"
        [ "$rc" = 124 ] && echo "FAIL: dpkg-buildpackage still running after 900 s (log: $work/build.log)"
        echo "FAIL: dpkg-buildpackage exited $rc (log: $work/build.log)"
        exit 1
fi
debs=$(ls "$work"/src/*.deb | grep -v -- -dbgsym_)
echo "built: $(echo $debs | xargs -n1 basename | tr '\n' ' ')"

# --- the chroot, cached ----------------------------------------------------------
# Our packages' Depends and Recommends (first alternative, no versions), then the tools.
include=$(for d in $debs; do dpkg-deb -f "$d" Depends Recommends; done | sed 's/^[A-Za-z-]*: //' | tr ',' '\n' |
        sed 's/|.*//; s/(.*)//; s/:any//; s/[[:space:]]//g' | grep -v -x -e '' -e libpam-ehr2fa -e libnss-ehr \
        -e ehr2fa-tools -e ehr2fad | sort -u | tr '\n' ',')pamtester,oathtool
key=$(printf '%s %s %s\n' "$mirror" "$suite" "$include" | sha256sum | cut -c1-16)
cache=$work/chroot-$suite-$key.tar
if [ -f "$cache" ]; then
        phase "chroot from the cache ($(basename "$cache"))"
else
        phase "debootstrap --variant=minbase $suite from $mirror (cold; cached afterwards)"
        rm -rf "$work/base" "$work"/chroot-*.tar
        # Bounded: an unreachable or stalled mirror is a failure with its log, not a hang.
        rc=0
        timeout 900 debootstrap --variant=minbase --include="$include" "$suite" "$work/base" "$mirror" \
                >"$work/debootstrap.log" 2>&1 || rc=$?
        if [ "$rc" != 0 ]; then
                tail -n 20 "$work/debootstrap.log"
                [ "$rc" = 124 ] && echo "FAIL: debootstrap from $mirror still running after 900 s"
                echo "FAIL: debootstrap $suite from $mirror exited $rc (log: $work/debootstrap.log)"
                exit 1
        fi
        rm -f "$work/base"/var/cache/apt/archives/*.deb
        tar -C "$work/base" -cf "$cache.tmp" . && mv "$cache.tmp" "$cache"
        rm -rf "$work/base"
fi
root=$work/root
rm -rf "$root"
mkdir "$root"
tar -C "$root" -xf "$cache"
mkdir "$root/debs"
cp $debs "$root/debs/"
cp "$(dirname "$0")/chroot-scenario.sh" "$root/scenario.sh"

# --- the scenario -------------------------------------------------------------------
# A mount and PID namespace of its own: /proc is unmounted, and ehr2fad killed,
# however the run ends.
phase "install, use, remove and purge in the chroot"
rc=0
timeout 600 unshare --mount --pid --fork sh -c '
        mount --make-rprivate / && mount -t proc proc "$1/proc" && exec chroot "$1" /bin/sh /scenario.sh' _ "$root" || rc=$?
phase "done"
[ $rc = 0 ] && rm -rf "$root"
exit $rc
