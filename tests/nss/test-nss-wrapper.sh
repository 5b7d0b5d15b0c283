#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# libnss_ehr.so.2 seen by real tools (getent, id) through nss_wrapper: no
# root, no /etc/nsswitch.conf, nothing on the host touched.
#
# usage: test-nss-wrapper.sh LIBNSS_EHR_SO MKSNAPSHOT
# exit 77 (skip) when nss_wrapper, getent or id is missing.
set -eu

so=$1
mksnapshot=$2

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }

command -v getent >/dev/null || skip "no getent"
command -v id >/dev/null || skip "no id"
nssw=$(ldconfig -p 2>/dev/null | awk '/libnss_wrapper\.so / { print $NF; exit }')
if [ -z "$nssw" ]; then
        for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /usr/local/lib; do
                [ -e "$d/libnss_wrapper.so" ] && nssw=$d/libnss_wrapper.so && break
        done
fi
[ -n "$nssw" ] || skip "nss_wrapper not installed (Debian: libnss-wrapper)"

preload=$nssw
# A module built with -fsanitize=address cannot be dlopen()ed into an
# uninstrumented getent unless the ASan runtime is loaded first: put it
# ahead of nss_wrapper, and do not let it fail getent's own exit-time leaks.
asan=$(readelf -d "$so" | sed -n 's/.*NEEDED.*\[\(libasan\.so[^]]*\)\].*/\1/p')
if [ -n "$asan" ]; then
        asan_path=$(ldconfig -p | awk -v l="$asan" '$1 == l { print $NF; exit }')
        [ -n "$asan_path" ] || asan_path=$(${CC:-gcc} -print-file-name="$asan")
        [ -e "$asan_path" ] || skip "ASan runtime $asan not found"
        preload="$asan_path $nssw"
        export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0:verify_asan_link_order=0"
        # nss_wrapper dlopen()s with RTLD_DEEPBIND, which ASan refuses.
        export NSS_WRAPPER_DISABLE_DEEPBIND=1
fi

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/passwd" <<END
root:x:0:0:root:/root:/bin/sh
filesuser:x:900:900:from the files backend:/home/filesuser:/bin/sh
END
cat > "$dir/group" <<END
root:x:0:
filesgroup:x:900:
END
cat > "$dir/spec" <<END
user:alice:5001:5001:Alice Doe,Ward 3:/home/alice:/bin/bash
user:bob:5002:6000::/home/bob:
user:carol:5003:6000:Carol:/home/carol:/bin/sh
group:alice:5001:
group:staff:6000:alice,bob,carol
group:nurses:6001:bob,filesuser
group:icu:6002:bob
END
snap=$dir/snapshot
"$mksnapshot" "$dir/spec" "$snap"

run() {
        env LD_PRELOAD="$preload" NSS_WRAPPER_PASSWD="$dir/passwd" NSS_WRAPPER_GROUP="$dir/group" \
                NSS_WRAPPER_MODULE_SO_PATH="$so" NSS_WRAPPER_MODULE_FN_PREFIX=ehr \
                EHR2FA_NSS_SNAPSHOT="$snap" "$@"
}

expect() { # expect WANT CMD...: exact stdout
        want=$1; shift
        got=$(run "$@") || fail "$* exited $?"
        [ "$got" = "$want" ] || fail "$*: got '$got', want '$want'"
}

expect_missing() { # exit status 2 (not found) and nothing printed, never a crash
        set +e
        out=$(run "$@" 2>&1)
        rc=$?
        set -e
        [ $rc -eq 2 ] || [ $rc -eq 1 ] || fail "$*: exit $rc (output: $out)"
}

# By name, by uid, in enumeration.
expect 'alice:x:5001:5001:Alice Doe,Ward 3:/home/alice:/bin/bash' getent passwd alice
expect 'bob:x:5002:6000::/home/bob:' getent passwd 5002
expect 'filesuser:x:900:900:from the files backend:/home/filesuser:/bin/sh' getent passwd filesuser
all=$(run getent passwd)
for u in root filesuser alice bob carol; do
        echo "$all" | grep -q "^$u:" || fail "getent passwd: no $u in: $all"
done

# Groups and supplementary groups, including a files user in one of ours.
expect 'staff:x:6000:alice,bob,carol' getent group staff
expect 'nurses:x:6001:bob,filesuser' getent group 6001
expect 'alice:x:5001:' getent group alice
allg=$(run getent group)
for g in root filesgroup alice staff nurses icu; do
        echo "$allg" | grep -q "^$g:" || fail "getent group: no $g"
done
expect '6000 6001 6002' id -G bob
expect 'staff nurses icu' id -Gn bob
expect '5001 6000' id -G alice
expect 'uid=5003(carol) gid=6000(staff) groups=6000(staff)' id carol
expect '900 6001' id -G filesuser

# Removed from the store, republished: gone everywhere.
grep -v '^user:bob:' "$dir/spec" | sed 's/alice,bob,carol/alice,carol/; s/bob,filesuser/filesuser/; /^group:icu:/d' \
        > "$dir/spec2"
"$mksnapshot" "$dir/spec2" "$snap"
expect_missing getent passwd bob
expect_missing getent passwd 5002
expect_missing id bob
all=$(run getent passwd)
echo "$all" | grep -q '^bob:' && fail "bob still enumerated"
echo "$all" | grep -q '^alice:' || fail "alice lost"
expect 'staff:x:6000:alice,carol' getent group staff
expect_missing getent group icu

# Missing, truncated, corrupt snapshot: ours are unavailable, files still
# answer, nothing crashes.
good=$dir/good
cp "$snap" "$good"
rm -f "$snap"
expect_missing getent passwd alice
expect 'filesuser:x:900:900:from the files backend:/home/filesuser:/bin/sh' getent passwd filesuser
for n in 0 1 64 127 128 200; do
        head -c "$n" "$good" > "$snap.tmp" && mv "$snap.tmp" "$snap"
        expect_missing getent passwd alice
        expect_missing id -G alice
        expect 'filesuser:x:900:900:from the files backend:/home/filesuser:/bin/sh' getent passwd filesuser
done
size=$(stat -c %s "$good")
head -c $((size - 1)) "$good" > "$snap.tmp" && mv "$snap.tmp" "$snap"
expect_missing getent passwd alice
for off in 0 8 16 40 100 130 200 300 $((size - 10)); do
        cp "$good" "$snap.tmp"
        printf '\377\377\377\377' | dd of="$snap.tmp" bs=1 seek="$off" conv=notrunc 2>/dev/null
        mv "$snap.tmp" "$snap"
        for cmd in "getent passwd alice" "getent passwd" "getent group" "id -G bob"; do
                set +e
                run $cmd >/dev/null 2>&1
                rc=$?
                set -e
                [ $rc -lt 128 ] || fail "$cmd crashed (exit $rc) on a snapshot corrupted at $off"
        done
done
cp "$good" "$snap"
expect 'alice:x:5001:5001:Alice Doe,Ward 3:/home/alice:/bin/bash' getent passwd alice

echo "test-nss-wrapper: ok"
