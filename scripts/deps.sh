#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Install what building and testing ehr2fa needs on Debian 12, only if missing.
set -eu

PACKAGES="gcc meson ninja-build sudo pkg-config libsodium-dev libsqlite3-dev libpam0g-dev libcrypt-dev
libcurl4-openssl-dev libqrencode-dev libpam-wrapper libpamtest0-dev pamtester oathtool
libnss-wrapper python3 openssl valgrind binutils sqlite3 strace openssh-server openssh-client
bash-completion debootstrap dpkg-dev debhelper fakeroot zbar-tools libpq-dev postgresql postgresql-client
python3-aiosmtpd"
[ "${1:-}" = "--bench" ] && PACKAGES="$PACKAGES libpam-oath libpam-google-authenticator libnss-extrausers"

missing=""
for p in $PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "Installing:$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
