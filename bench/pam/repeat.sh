#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# run.sh N times, each with stores of its own, and the ratios its target lines
# give over those runs: median, lowest and highest. On a VM whose speed swings
# from run to run (30-40% between runs of the same binaries on ours), one run's
# ratio says little; the median of several says more.
#
#   repeat.sh N BENCH_PAM MKSTORE PAM_EHR2FA_SO [bench-pam options]
#
# The environment of run.sh applies to every run. Each run's whole output goes to
# $BENCH_LOG_DIR/run-K.txt when BENCH_LOG_DIR is set.
set -eu

if [ $# -lt 4 ] || ! [ "$1" -ge 1 ] 2>/dev/null; then
        echo "usage: $0 N BENCH_PAM MKSTORE PAM_EHR2FA_SO [bench-pam options]" >&2
        exit 2
fi
runs=$1
shift
here=$(dirname "$0")
lines=$(mktemp)
trap 'rm -f "$lines"' EXIT
for k in $(seq 1 "$runs"); do
        out=$(mktemp)
        status=0
        "$here/run.sh" "$@" > "$out" 2>&1 || status=$?
        [ -n "${BENCH_LOG_DIR:-}" ] && cp "$out" "$BENCH_LOG_DIR/run-$k.txt"
        if [ "$status" -ne 0 ]; then
                cat "$out" >&2
                rm -f "$out"
                echo "$0: run $k failed ($status)" >&2
                exit "$status"
        fi
        # "  pam_ehr2fa+ehr2fad  1 users ok  1.234x ..." (issue 14's targets) and
        # "  1 users ok  ehr2fad ... : 0.796x -> met" (the restated one)
        awk '/^  pam_ehr2fa/ && / users / { for (i = 1; i <= NF; i++) if ($i ~ /x$/ && $i + 0 > 0) { print "issue14", $1, $2, $4, $i + 0; break } }
             /^ +[0-9]+ users .* -> / && /<=/ { for (i = 1; i <= NF; i++) if ($i ~ /x$/ && $i + 0 > 0) { print "restated", "pam_ehr2fa+ehr2fad", $1, $3, $i + 0; break } }' \
                "$out" >> "$lines"
        rm -f "$out"
        echo "run $k of $runs done" >&2
done
echo "ratios over $runs runs (median, lowest, highest); 1.0x or less meets the target:"
sort -k1,1 -k2,2 -k3,3n -k4,4 -k5,5n "$lines" | awk '
        function flush() {
                if (n == 0)
                        return
                printf "  %-9s %-20s %6s users %-5s %7.3fx  (%.3f-%.3f)\n", w[1], w[2], w[3], w[4],
                        n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2, v[1], v[n]
                n = 0
        }
        { key = $1 " " $2 " " $3 " " $4 }
        key != last { flush(); last = key; for (i = 1; i <= 4; i++) w[i] = $i }
        { v[++n] = $5 }
        END { flush() }'
