#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# getpwnam/getpwuid latency of libnss_ehr against nss_files and
# libnss_extrausers at 1k, 10k and 100k users, in one run, as ratios.
#
# usage: run-bench.sh BENCH_NSS LIBNSS_EHR_SO [BUDGET_MS] [SIZES] [REPEATS]
#
# Environment: NSS_BENCH_BASELINE=path/to/an/older/libnss_ehr.so.2 adds it as
# "ehr-base" in the glibc table and the module table, in the same run (a
# before/after comparison); NSS_BENCH_NO_WRAPPER=1 skips the nss_wrapper
# table (the glibc table is the one that matters, and a run takes half the time).
#
# Each cell is the best (lowest) mean of REPEATS runs, the passes over all
# sizes and backends interleaved, so that a burst of load elsewhere on the
# machine does not land on one column only. Times are the CPU time of the
# looking-up thread (CLOCK_THREAD_CPUTIME_ID, user + system), so other load
# on the machine does not count as lookup time.
#
# Table 1 goes through nss_wrapper for all three (no root needed for ehr and
# files): ehr as an nss_wrapper module; "files" is nss_wrapper's passwd file
# parser (NSS_WRAPPER_PASSWD, no module: an in-memory linear scan, kinder
# than glibc's nss_files, which re-reads the file on each lookup);
# extrausers as an nss_wrapper module.
#
# libnss_extrausers reads the fixed path /var/lib/extrausers. To leave the
# host alone, it runs in a private mount namespace (unshare -m, propagation
# private) with the generated files bind-mounted there; the mounts vanish
# with the namespace. Without root (or unshare) its column is skipped.
#
# Table 2 (root only) is the real thing: glibc's own NSS with a private
# /etc/nsswitch.conf (bind-mounted in the same kind of namespace) naming
# one source, and for nss_files the generated file bind-mounted on
# /etc/passwd. Its "glibc floor" line is what glibc 2.33+ spends on every
# call before it asks any source: one stat() of /etc/nsswitch.conf (its
# check for a changed configuration), measured alone in the same run.
#
# Table 3 is libnss_ehr alone: its entry points dlopen()ed and called
# directly, without glibc or nss_wrapper in between; and the first lookup of
# a fresh process (forked after dlopen(), snapshot not yet read: open, the
# header and the chunks one lookup needs), median of 21.
set -eu

bench=$1
so=$2
budget=${3:-1000}
sizes=${4:-1000 10000 100000}
repeats=${5:-3}

if readelf -d "$so" | grep -q 'NEEDED.*libasan'; then
        echo "SKIP: sanitizer build; benchmark a plain build (buildtype=debugoptimized or release)"
        exit 0
fi
nssw=$(ldconfig -p 2>/dev/null | awk '/libnss_wrapper\.so / { print $NF; exit }')
[ -n "$nssw" ] || { echo "SKIP: nss_wrapper not installed (Debian: libnss-wrapper)"; exit 0; }
xu=$(ldconfig -p 2>/dev/null | awk '/libnss_extrausers\.so\.2 .*x86-64|libnss_extrausers\.so\.2 \(libc6,x86-64/ { print $NF; exit }')
[ -n "$xu" ] || for f in /usr/lib/x86_64-linux-gnu/libnss_extrausers.so.2 /usr/lib/libnss_extrausers.so.2 /lib/libnss_extrausers.so.2; do
        [ -e "$f" ] && xu=$f && break
done
can_ns=no
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && unshare -m --propagation private true 2>/dev/null; then
        can_ns=yes
fi

so=$(readlink -f "$so")
bench=$(readlink -f "$bench")
base=${NSS_BENCH_BASELINE:-}
if [ -n "$base" ]; then
        # glibc dlopen()s libnss_ehr.so.2 by name: give the baseline a directory of its own.
        mkdir -p "${TMPDIR:-/tmp}/nss-bench-base.$$"
        cp "$base" "${TMPDIR:-/tmp}/nss-bench-base.$$/libnss_ehr.so.2"
        base=${TMPDIR:-/tmp}/nss-bench-base.$$/libnss_ehr.so.2
fi
work=$(mktemp -d)
trap 'rm -rf "$work" ${base:+"$(dirname "$base")"}' EXIT
res=$work/results
: > "$res"

printf 'root:x:0:0:root:/root:/bin/sh\n' > "$work/root-passwd"
printf 'root:x:0:\n' > "$work/root-group"

record() { # record TABLE BACKEND N -- command...
        t=$1 b=$2 n=$3
        shift 4
        out=$("$@") || { echo "$t $b $n failed" >&2; return 1; }
        echo "$t $b $n $out" >> "$res"
}

for n in $sizes; do
        mkdir -p "$work/$n"
        "$bench" gen "$work/$n" "$n"
done
printf 'passwd: ehr\ngroup: ehr\n' > "$work/nss-ehr.conf"
printf 'passwd: files\ngroup: files\n' > "$work/nss-files.conf"
printf 'passwd: extrausers\ngroup: extrausers\n' > "$work/nss-extrausers.conf"

for pass in $(seq "$repeats"); do
for n in $sizes; do
        d=$work/$n

        record direct ehr "$n" -- env EHR2FA_NSS_SNAPSHOT="$d/snapshot" "$bench" direct "$so" "$n" "$budget"
        record direct first "$n" -- env EHR2FA_NSS_SNAPSHOT="$d/snapshot" "$bench" first "$so" "$n" 21
        if [ -n "$base" ]; then
                record direct ehr-base "$n" -- env EHR2FA_NSS_SNAPSHOT="$d/snapshot" "$bench" direct "$base" "$n" "$budget"
                record direct first-base "$n" -- env EHR2FA_NSS_SNAPSHOT="$d/snapshot" "$bench" first "$base" "$n" 21
        fi
        [ "${NSS_BENCH_NO_WRAPPER:-}" = 1 ] || {
        record wrap ehr "$n" -- env LD_PRELOAD="$nssw" NSS_WRAPPER_PASSWD="$work/root-passwd" \
                NSS_WRAPPER_GROUP="$work/root-group" NSS_WRAPPER_MODULE_SO_PATH="$so" \
                NSS_WRAPPER_MODULE_FN_PREFIX=ehr EHR2FA_NSS_SNAPSHOT="$d/snapshot" "$bench" run "$n" "$budget"
        record wrap files "$n" -- env LD_PRELOAD="$nssw" NSS_WRAPPER_PASSWD="$d/passwd" \
                NSS_WRAPPER_GROUP="$d/group" "$bench" run "$n" "$budget"
        if [ $can_ns = yes ] && [ -n "$xu" ]; then
                record wrap extrausers "$n" -- unshare -m --propagation private sh -c '
                        mount --bind "$1/extrausers" /var/lib/extrausers || exit 1
                        exec env LD_PRELOAD="$2" NSS_WRAPPER_PASSWD="$3/root-passwd" NSS_WRAPPER_GROUP="$3/root-group" \
                                NSS_WRAPPER_MODULE_SO_PATH="$4" NSS_WRAPPER_MODULE_FN_PREFIX=extrausers \
                                "$5" run "$6" "$7"' sh "$d" "$nssw" "$work" "$xu" "$bench" "$n" "$budget"
        fi
        }

        if [ $can_ns = yes ]; then
                # LD_LIBRARY_PATH: glibc dlopen()s libnss_ehr.so.2 by name.
                record glibc ehr "$n" -- unshare -m --propagation private sh -c '
                        mount --bind "$1/nss-ehr.conf" /etc/nsswitch.conf || exit 1
                        exec env LD_LIBRARY_PATH="$(dirname "$2")" EHR2FA_NSS_SNAPSHOT="$3/snapshot" "$4" run "$5" "$6"
                        ' sh "$work" "$so" "$d" "$bench" "$n" "$budget"
                record glibc floor "$n" -- "$bench" floor "$n" "$budget"
                [ -z "$base" ] || record glibc ehr-base "$n" -- unshare -m --propagation private sh -c '
                        mount --bind "$1/nss-ehr.conf" /etc/nsswitch.conf || exit 1
                        exec env LD_LIBRARY_PATH="$(dirname "$2")" EHR2FA_NSS_SNAPSHOT="$3/snapshot" "$4" run "$5" "$6"
                        ' sh "$work" "$base" "$d" "$bench" "$n" "$budget"
                record glibc files "$n" -- unshare -m --propagation private sh -c '
                        mount --bind "$1/nss-files.conf" /etc/nsswitch.conf || exit 1
                        mount --bind "$2/passwd" /etc/passwd || exit 1
                        mount --bind "$2/group" /etc/group || exit 1
                        exec "$3" run "$4" "$5"' sh "$work" "$d" "$bench" "$n" "$budget"
                if [ -n "$xu" ]; then
                        record glibc extrausers "$n" -- unshare -m --propagation private sh -c '
                                mount --bind "$1/nss-extrausers.conf" /etc/nsswitch.conf || exit 1
                                mount --bind "$2/extrausers" /var/lib/extrausers || exit 1
                                exec "$3" run "$4" "$5"' sh "$work" "$d" "$bench" "$n" "$budget"
                fi
        fi
done
done

awk -v sizes="$sizes" -v repeats="$repeats" '
function get(t, b, n, k) { return R[t, b, n, k] }
function ratio(a, b) { return (a > 0 && b > 0) ? sprintf("%.1fx", a / b) : "-" }
function keep(k, v) { if (!((k) in R) || v + 0 < R[k] + 0) R[k] = v }
{ keep($1 SUBSEP $2 SUBSEP $3 SUBSEP "name", $4); keep($1 SUBSEP $2 SUBSEP $3 SUBSEP "uid", $5); seen[$1] = 1 }
END {
        ns = split(sizes, S, " ")
        split("wrap glibc", T, " ")
        title["wrap"] = "through nss_wrapper (files = nss_wrapper parser, NSS_WRAPPER_PASSWD)"
        title["glibc"] = "through glibc NSS, private nsswitch.conf in a mount namespace (files = glibc nss_files)"
        for (ti = 1; ti <= 2; ti++) {
                t = T[ti]
                if (!seen[t]) continue
                if (t == "glibc") {
                        printf "\nglibc floor (its own stat() of /etc/nsswitch.conf on every call, any source), ns:"
                        for (i = 1; i <= ns; i++) printf " %s", get(t, "floor", S[i], "name")
                        printf "\n"
                }
                printf "\ngetpwnam / getpwuid, CPU ns per lookup (best mean of %d runs), %s\n", repeats, title[t]
                printf "%-8s | %-23s | %-23s | %-23s | %s\n", "users", "ehr (nam / uid)", "files (nam / uid)", "extrausers (nam / uid)", "files/ehr  extrausers/ehr (getpwnam)"
                for (i = 1; i <= ns; i++) {
                        n = S[i]
                        printf "%-8s | %10s / %-10s | %10s / %-10s | %10s / %-10s | %8s  %8s\n", n,
                                get(t, "ehr", n, "name"), get(t, "ehr", n, "uid"),
                                get(t, "files", n, "name"), get(t, "files", n, "uid"),
                                get(t, "extrausers", n, "name") == "" ? "-" : get(t, "extrausers", n, "name"),
                                get(t, "extrausers", n, "uid") == "" ? "-" : get(t, "extrausers", n, "uid"),
                                ratio(get(t, "files", n, "name"), get(t, "ehr", n, "name")),
                                ratio(get(t, "extrausers", n, "name"), get(t, "ehr", n, "name"))
                }
                lo = S[1]; hi = S[ns]
                if (ns > 1) {
                        sn = get(t, "ehr", hi, "name") / get(t, "ehr", lo, "name")
                        su = get(t, "ehr", hi, "uid") / get(t, "ehr", lo, "uid")
                        fn = get(t, "files", hi, "name") / get(t, "ehr", hi, "name")
                        fu = get(t, "files", hi, "uid") / get(t, "ehr", hi, "uid")
                        printf "ehr %s vs %s users: getpwnam %.2fx, getpwuid %.2fx (target <= 1.2x): %s\n", hi, lo, sn, su,
                                (sn <= 1.2 && su <= 1.2) ? "met" : "MISSED"
                        printf "files vs ehr at %s users: getpwnam %.0fx, getpwuid %.0fx (target >= 20x): %s\n", hi, fn, fu,
                                (fn >= 20 && fu >= 20) ? "met" : "MISSED"
                }
                if (t == "glibc") {
                        hn = get(t, "ehr", hi, "name"); hu = get(t, "ehr", hi, "uid")
                        fl = get(t, "floor", hi, "name")
                        printf "ehr through glibc at %s users: %s / %s ns (target <= 1000 ns): %s; above the glibc floor: %d / %d ns\n",
                                hi, hn, hu, (hn <= 1000 && hu <= 1000) ? "met" : "MISSED", hn - fl, hu - fl
                        if (get(t, "ehr-base", hi, "name") != "") {
                                printf "ehr-base (NSS_BENCH_BASELINE) through glibc, ns (nam / uid):"
                                for (i = 1; i <= ns; i++)
                                        printf "  %s users %s / %s (%s / %s the new)", S[i], get(t, "ehr-base", S[i], "name"),
                                                get(t, "ehr-base", S[i], "uid"), ratio(get(t, "ehr-base", S[i], "name"), get(t, "ehr", S[i], "name")),
                                                ratio(get(t, "ehr-base", S[i], "uid"), get(t, "ehr", S[i], "uid"))
                                printf "\n"
                        }
                }
        }
        if (seen["direct"]) {
                printf "\nlibnss_ehr alone (entry points called directly, no glibc), ns per lookup (best mean of %d runs)\n", repeats
                printf "%-8s | %-23s | %-26s | %-23s | %s\n", "users", "ehr (nam / uid)", "first lookup of a process",
                        "ehr-base (nam / uid)", "ehr-base first lookup"
                for (i = 1; i <= ns; i++)
                        printf "%-8s | %10s / %-10s | %26s | %10s / %-10s | %s\n", S[i], get("direct", "ehr", S[i], "name"),
                                get("direct", "ehr", S[i], "uid"), get("direct", "first", S[i], "name"),
                                get("direct", "ehr-base", S[i], "name") == "" ? "-" : get("direct", "ehr-base", S[i], "name"),
                                get("direct", "ehr-base", S[i], "uid") == "" ? "-" : get("direct", "ehr-base", S[i], "uid"),
                                get("direct", "first-base", S[i], "name") == "" ? "-" : get("direct", "first-base", S[i], "name")
        }
}' "$res"
[ $can_ns = yes ] || echo "(extrausers and the glibc table need root and unshare -m: skipped)"
