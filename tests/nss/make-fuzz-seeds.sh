#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Regenerate fuzz/corpus/snapshot/ after a change of the snapshot format:
# valid snapshots from small specs, then hostile variants of "small" (with
# the header checksum recomputed, so they reach the reader's deeper checks).
# Needs python3 for the binary edits; not part of the build.
#
# usage: tests/nss/make-fuzz-seeds.sh BUILDDIR/tests/nss/mksnapshot [CORPUS_DIR]
set -eu
mk=$1
out=${2:-$(dirname "$0")/../../fuzz/corpus/snapshot}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"

: > "$tmp/empty"
cat > "$tmp/small" <<'END'
user:alice:5001:5001:Alice Doe,Ward 3:/home/alice:/bin/bash
user:bob:5002:6000::/home/bob:
user:carol:5003:6000:Carol:/home/carol:/bin/sh
group:alice:5001:
group:staff:6000:alice,bob,carol
group:nurses:6001:bob,root
group:icu:6002:bob
END
echo 'user:alice:5001:5001:Alice:/home/alice:/bin/bash' > "$tmp/one-user"
printf 'group:wheel:6000:root,admin,alice\ngroup:empty:6001:\n' > "$tmp/groups-only"
{
        for i in $(seq 1 60); do echo "user:staff$i:$((10000 + i)):10000:Staff Member $i:/home/staff$i:/bin/bash"; done
        echo "group:everyone:10000:$(seq -s, -f 'staff%g' 1 60)"
        echo "group:half:10001:$(seq -s, -f 'staff%g' 1 30)"
} > "$tmp/many"
for s in empty small one-user groups-only many; do
        "$mk" "$tmp/$s" "$out/$s"
done
head -c 100 "$out/small" > "$out/small-truncated-header"
head -c 300 "$out/small" > "$out/small-truncated-body"

python3 - "$out" <<'END'
import struct, sys
C = sys.argv[1]
d = bytearray(open(C + '/small', 'rb').read())
HDR, CK = 144, 140          # struct snap_header: size, offset of header_checksum
IX = 80                     # ix[5] of { n_slots, off, max_probe }
def fnv32(b):
    h = 0x811c9dc5
    for x in b:
        h = ((h ^ x) * 0x01000193) & 0xffffffff
    return h
def fix(b):
    b[CK:HDR] = struct.pack('<I', fnv32(b[:CK]))
    return b
def u32(b, o):
    return struct.unpack('<I', b[o:o + 4])[0]
def save(name, b):
    open(C + '/' + name, 'wb').write(b)

x = bytearray(d); i = x.find(b'/home/alice'); x[i + 5] = ord(':'); save('small-colon-in-home', x)
x = bytearray(d); x[32:36] = struct.pack('<I', 0xffffff); save('small-users-count-huge', fix(x))
x = bytearray(d); n, off = u32(x, IX), u32(x, IX + 4)
tag = [u32(x, off + 8 * k + 4) for k in range(n) if u32(x, off + 8 * k)][0]
x[IX + 8:IX + 12] = struct.pack('<I', min(128, n - 1))
for k in range(n):
    x[off + 8 * k:off + 8 * k + 8] = struct.pack('<II', 2, tag)
save('small-index-full', fix(x))
users_off, groups_off = u32(d, 36), u32(d, 44)
x = bytearray(d); x[groups_off + 24:groups_off + 32] = struct.pack('<II', 1, 0xfffffff0); save('small-members-oob', fix(x))
x = bytearray(d); x[users_off:users_off + 4] = struct.pack('<I', 0x7fffffff); save('small-name-oob', fix(x))
x = bytearray(d)
for ix in range(5):
    n, off = u32(x, IX + 12 * ix), u32(x, IX + 12 * ix + 4)
    for k in range(n):
        if u32(x, off + 8 * k):
            x[off + 8 * k:off + 8 * k + 4] = struct.pack('<I', 0xffffffff)
save('small-slot-oob', fix(x))
x = bytearray(d); x[IX + 8:IX + 12] = struct.pack('<I', 129); save('small-probe-too-long', fix(x))
END
ls "$out"
