#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The main job, end to end on a throwaway store: build, create a store, add and
# enroll a clinician, then log in through the real libpam (pam_wrapper +
# pamtester) with the password and a code from oathtool, the way a phone app
# would compute it. Nothing under /etc is read or changed.
set -eu
cd "$(dirname "$0")/.."
./scripts/deps.sh
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null

top=$(pwd)
tmp=$(mktemp -d /tmp/ehr2fa-demo.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM
admin="$top/build/admin/ehr2fa-admin --conf $tmp/ehr2fa.conf"
module="$top/build/pam_ehr2fa/pam_ehr2fa.so"
matrix=$(pkg-config --variable=modules pam_wrapper)/pam_matrix.so

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

cat >"$tmp/ehr2fa.conf" <<EOT
store_dir = $tmp/store
fail_delay_ms = 500
EOT
mkdir "$tmp/pam.d"
cat >"$tmp/pam.d/clinical-login" <<EOT
# password first (pam_matrix stands in for pam_unix), then the second factor
auth     required  $matrix passdb=$tmp/passdb
auth     required  $module conf=$tmp/ehr2fa.conf
account  required  $module conf=$tmp/ehr2fa.conf
EOT
echo "drsmith:Correct-Horse-7:clinical-login" >"$tmp/passdb"

step "ehr2fa-admin init (store in $tmp/store)"
$admin init
step "ehr2fa-admin user add drsmith"
$admin user add drsmith --name "Dr. Ann Smith" --email ann.smith@example.org --phone +15551234566 --role provider
step "ehr2fa-admin totp enroll drsmith (scan the QR code with any authenticator app)"
$admin totp enroll drsmith | tee "$tmp/enroll.out"
secret=$(sed -n 's/^otpauth:.*secret=\([A-Z2-7]*\)&.*/\1/p' "$tmp/enroll.out")

login() {
        # $1: code to answer with. pamtester reads the password, then the code.
        printf 'Correct-Horse-7\n%s\n' "$1" |
                LD_PRELOAD=libpam_wrapper.so PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$tmp/pam.d" \
                        pamtester -v clinical-login drsmith authenticate acct_mgmt 2>&1 | grep -v '^PWRAP_' || true
}

code=$(oathtool --totp -b "$secret")
step "login with the password and the app's current code ($code, from oathtool)"
login "$code"
step "the same code again (replay): refused"
login "$code"
step "a wrong code: refused"
login 000000
step "ehr2fa-admin lockout show drsmith"
$admin lockout show drsmith
step "ehr2fa-admin audit show"
$admin audit show
step "ehr2fa-admin audit verify"
$admin audit verify
