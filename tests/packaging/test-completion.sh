#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The bash completion of ehr2fa-admin (and ehr2fa), driven as bash drives it:
# COMP_WORDS/COMP_LINE set, the function named by `complete -p` called; once on
# its own and once under the bash-completion package when it is installed.
# Every command that `ehr2fa-admin --help` lists must be offered.
# usage: test-completion.sh EHR2FA_ADMIN COMPLETION_FILE
set -u
admin=$1
file=$2
fail=0

run() {   # run BASH_COMPLETION(0|1) WORD... -> the completions, one a line, sorted
        local with=$1
        shift
        bash --norc --noprofile -c '
                with=$1 file=$2; shift 2
                [ "$with" = 1 ] && . /usr/share/bash-completion/bash_completion
                . "$file" || exit 2
                spec=$(complete -p "$1") || exit 3
                fn=$(printf "%s\n" "$spec" | sed -n "s/.* -F \([^ ]*\) .*/\1/p")
                COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
                COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; COMPREPLY=()
                "$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
                printf "%s\n" "${COMPREPLY[@]}" | sort' _ "$with" "$file" "$@"
}

expect() {   # expect BASH_COMPLETION "WANTED WORDS" WORD...: every wanted word is offered
        local with=$1 want=$2 got w
        shift 2
        got=$(run "$with" "$@")
        for w in $want; do
                if ! printf '%s\n' "$got" | grep -qxF -- "$w"; then
                        echo "FAIL: '$*' does not offer '$w' (offered: $(echo $got))"
                        fail=1
                fi
        done
}

exactly() {   # exactly BASH_COMPLETION "WORDS" WORD...
        local with=$1 want got
        want=$(printf '%s\n' $2 | sort)
        shift 2
        got=$(run "$with" "$@")
        [ "$got" = "$want" ] || { echo "FAIL: '$*' offers '$(echo $got)', not '$(echo $want)'"; fail=1; }
}

# The commands of the usage text: the first word of each indented line.
commands=$("$admin" --help 2>&1 | sed -n 's/^  \([a-z][a-z0-9-]*\) .*/\1/p; s/^  \([a-z][a-z0-9-]*\)$/\1/p' | sort -u)
[ -n "$commands" ] || { echo "FAIL: no commands in ehr2fa-admin --help"; exit 1; }

modes=0
[ -r /usr/share/bash-completion/bash_completion ] && modes="0 1"
for m in $modes; do
        for cmd in ehr2fa-admin ehr2fa; do
                expect "$m" "$commands" "$cmd" ""
        done
        exactly "$m" "user" ehr2fa-admin us
        exactly "$m" "add del list lock show unlock" ehr2fa-admin user ""
        exactly "$m" "clear list show" ehr2fa-admin --conf /etc/ehr2fa/ehr2fa.conf lockout ""
        exactly "$m" "new unlock validate view" ehr2fa support-pin ""
        expect "$m" "--secret --no-qr --digits" ehr2fa-admin totp enroll root --
        expect "$m" "root" ehr2fa-admin user show ro
        exactly "$m" "audit_export break_glass_review help_desk manage_accounts" ehr2fa-admin perm grant hd1 ""
        exactly "$m" "list review summary" ehr2fa-admin breakglass ""
        exactly "$m" "--mail" ehr2fa-admin breakglass summary --m
        exactly "$m" "csv json" ehr2fa-admin audit export --format ""
        exactly "$m" "--conf --help --json" ehr2fa-admin --
        exactly "$m" "" ehr2fa-admin init ""
done
[ $fail = 0 ] && echo "ok: completes $(echo $commands | wc -w) commands, subcommands, options and logins"
exit $fail
