#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Run as root inside a clean Debian 12 chroot by test-deb-chroot.sh, with the
# packages in /debs: install them, check that nothing in /etc/pam.d or
# nsswitch.conf changed, then do what an admin and a user would (init, enroll,
# turn on the pam-auth-update profile, log in through the installed module with
# pamtester and a code from oathtool, the staff account through libnss_ehr, the
# users' command), then remove and purge and list what is left.
set -eu
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8
SECRET=JBSWY3DPEHPK3PXP
fails=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
die() { echo "FAIL: $*"; exit 1; }
check() {   # check "what" command...: ok if it succeeds
        what=$1
        shift
        if out=$("$@" 2>&1); then ok "$what"; else bad "$what: $out"; fi
}

# A login through the "ehr2fa-test" service: @include common-auth/common-account,
# as login, su and sshd have. Answers one a line on stdin. Prints pamtester's output.
login() {
        user=$1
        shift
        printf '%s\n' "$@" | timeout 60 pamtester -v ehr2fa-test "$user" authenticate acct_mgmt 2>&1
}
code() { oathtool --totp -b "$SECRET" --now="@$(( $(date +%s) + ${1:-0} ))"; }

# --- install ---------------------------------------------------------------
ls -l /etc/pam.d > /tmp/pamd.before
md5sum /etc/pam.d/* /etc/nsswitch.conf > /tmp/sums.before
debs=$(ls /debs/*.deb | grep -v -- -dbgsym_)
dpkg -i $debs > /tmp/dpkg-install.log 2>&1 || { cat /tmp/dpkg-install.log; die "dpkg -i failed"; }
ok "installed: $(echo $debs | xargs -n1 basename | tr '\n' ' ')"

check "no file in /etc/pam.d or nsswitch.conf changed" md5sum --quiet -c /tmp/sums.before
ls /etc/pam.d > /tmp/pamd.after
added=$(sed -n 's/.* \([^ ]*\)$/\1/p' /tmp/pamd.before | grep -vxF -f - /tmp/pamd.after || true)
[ "$added" = "ehr2fa-admin" ] && ok "only /etc/pam.d/ehr2fa-admin added" || bad "/etc/pam.d gained: $added"
grep -l pam_ehr2fa /etc/pam.d/common-* && bad "installing enabled the module in common-*" || ok "profile off by default"
[ -f /usr/share/pam-configs/ehr2fa ] && grep -qx "Default: no" /usr/share/pam-configs/ehr2fa \
        && ok "pam-auth-update profile shipped, Default: no" || bad "no pam-configs/ehr2fa with Default: no"
for f in /etc/ehr2fa/ehr2fa.conf /etc/pam.d/ehr2fa-admin; do
        dpkg-query -W -f='${Conffiles}\n' ehr2fa-tools | grep -q " $f " && ok "conffile $f" || bad "$f is not a conffile"
done
[ "$(stat -c %a:%U:%G /usr/libexec/ehr2fa/ehr2fa-helper)" = 4755:root:root ] \
        && ok "ehr2fa-helper setuid root" || bad "ehr2fa-helper is $(stat -c %a:%U:%G /usr/libexec/ehr2fa/ehr2fa-helper)"
missing=0
for f in /usr/libexec/ehr2fa/ehr2fa-sms-send /usr/libexec/ehr2fa/ehr2fa-mail-send /usr/libexec/ehr2fa/ehr2fa-notify /lib/systemd/system/ehr2fad.service /lib/systemd/system/ehr2fad.socket \
                /usr/lib/tmpfiles.d/ehr2fa.conf /lib/systemd/system/ehr2fa-sync.service /lib/systemd/system/ehr2fa-sync.timer \
                /usr/share/man/man8/pam_ehr2fa.8.gz /usr/share/man/man8/ehr2fa-admin.8.gz /usr/share/man/man5/ehr2fa.conf.5.gz \
                /usr/share/man/man8/ehr2fad.8.gz /usr/share/man/man8/libnss_ehr.so.2.8.gz /usr/share/ehr2fa/breached-passwords.txt \
                /usr/share/bash-completion/completions/ehr2fa-admin /usr/share/bash-completion/completions/ehr2fa; do
        [ -e "$f" ] || { bad "missing $f"; missing=1; }
done
[ $missing = 0 ] && ok "text sender, units, tmpfiles.d, man pages and completion in place"
[ -e /etc/systemd/system/sockets.target.wants/ehr2fad.socket ] && ok "ehr2fad.socket enabled" \
        || bad "ehr2fad.socket not enabled"
[ -e /etc/systemd/system/multi-user.target.wants/ehr2fad.service ] && bad "ehr2fad.service enabled on its own" || true
# The sync timer is for hosts of a central store: the sysadmin enables it there.
[ -e /etc/systemd/system/timers.target.wants/ehr2fa-sync.timer ] && bad "ehr2fa-sync.timer enabled on install" || true

# --- set up as the README says -------------------------------------------------
check "ehr2fa-admin init" ehr2fa-admin init
useradd -m -s /bin/sh alice
echo 'alice:correct horse' | chpasswd
echo 'root:root password' | chpasswd
check "user add alice --existing" ehr2fa-admin user add alice --existing --role staff --phone +15551234566
check "totp enroll alice" ehr2fa-admin totp enroll alice --secret "$SECRET" --no-qr
check "pam-auth-update --enable ehr2fa" pam-auth-update --enable ehr2fa
grep -q "pam_ehr2fa.so nullok" /etc/pam.d/common-auth && grep -q pam_ehr2fa.so /etc/pam.d/common-account \
        && ok "profile in common-auth and common-account" || bad "profile not in common-*: $(cat /etc/pam.d/common-auth)"
printf '@include common-auth\n@include common-account\n' > /etc/pam.d/ehr2fa-test

# --- logins through the installed module -------------------------------------
out=$(login alice "correct horse" "$(code)" n) && echo "$out" | grep -q "Verification code" \
        && ok "alice: password + code from oathtool" || bad "alice with a good code: $out"
out=$(login alice "correct horse" 000000) && bad "alice with a wrong code got in: $out" || ok "alice: wrong code refused"
out=$(login alice "wrong horse" "$(code)") && bad "alice with a wrong password got in: $out" \
        || { echo "$out" | grep -q "Verification code" && bad "code asked after a wrong password" \
        || ok "alice: wrong password refused before any code"; }
out=$(login root "root password") && ok "root (not in the store, nullok): password alone" \
        || bad "root locked out by the profile: $out"

# The same login through the packaged ehr2fad, on the module's default socket.
mkdir -p /run/ehr2fa
/usr/sbin/ehr2fad --debug > /tmp/ehr2fad.log 2>&1 &
daemon=$!
for i in $(seq 100); do [ -S /run/ehr2fa/ehr2fad.sock ] && break; sleep 0.1; done
out=$(login alice "correct horse" "$(code 30)" n) && grep -q "op=verify user=alice r=0" /tmp/ehr2fad.log \
        && ok "alice through ehr2fad" || bad "alice through ehr2fad: $out / $(cat /tmp/ehr2fad.log)"
kill "$daemon"
wait "$daemon" || true

# --- staff accounts (libnss_ehr.so.2) and the users' command -----------------
cp /etc/nsswitch.conf /tmp/nsswitch.conf.orig
sed -i 's/^\(passwd:.*\)$/\1 ehr/; s/^\(group:.*\)$/\1 ehr/' /etc/nsswitch.conf   # the admin's step
check "user add drsmith" ehr2fa-admin user add drsmith --role provider --name "Dr. Ann Smith"
out=$(getent passwd drsmith) && ok "getent passwd drsmith: $out" || bad "getent passwd drsmith found nothing"
out=$(su -s /bin/sh alice -c 'command -v ehr2fa && ehr2fa support-pin view' 2>&1) \
        && echo "$out" | grep -q "Support PIN of alice" && ok "alice runs ehr2fa from her PATH" \
        || bad "ehr2fa for alice: $out"
cp /tmp/nsswitch.conf.orig /etc/nsswitch.conf   # the admin's step before removing libnss-ehr

# --- remove, then purge ------------------------------------------------------------
pkgs="ehr2fad libpam-ehr2fa libnss-ehr ehr2fa-tools"
dpkg -r $pkgs > /tmp/dpkg-remove.log 2>&1 || { cat /tmp/dpkg-remove.log; die "dpkg -r failed"; }
grep -l pam_ehr2fa /etc/pam.d/common-* && bad "pam_ehr2fa left in common-* after removal" \
        || ok "removal took the profile out of common-*"
out=$(login root "root password") && ok "root logs in after removal" || bad "root after removal: $out"
[ -f /var/lib/ehr2fa/master.key ] && [ -f /etc/ehr2fa/ehr2fa.conf ] \
        && ok "remove keeps the store and the configuration" || bad "remove deleted the store or the configuration"
cp /var/lib/ehr2fa/master.key /var/lib/ehr2fa/master.key.backup   # the admin's own copy
dpkg --purge $pkgs > /tmp/dpkg-purge.log 2>&1 || { cat /tmp/dpkg-purge.log; die "dpkg --purge failed"; }
for f in /etc/ehr2fa /etc/pam.d/ehr2fa-admin /var/lib/ehr2fa-nss /run/ehr2fa /usr/share/pam-configs/ehr2fa \
                /var/lib/ehr2fa/ehr2fa.db /var/lib/ehr2fa/master.key; do
        [ -e "$f" ] && bad "purge left $f"
done
[ "$(ls /var/lib/ehr2fa)" = master.key.backup ] && ok "purge kept only the admin's backup in /var/lib/ehr2fa" \
        || bad "/var/lib/ehr2fa after purge: $(ls -A /var/lib/ehr2fa 2>&1)"
rm -rf /var/lib/ehr2fa /etc/pam.d/ehr2fa-test
left=$(find / -xdev \( -path /proc -o -path /debs -o -path /home -o -path /tmp \) -prune -o \
        \( -iname '*ehr2fa*' -o -iname '*nss_ehr*' -o -iname '*nss-ehr*' \) -print)
[ -z "$left" ] && ok "nothing named ehr2fa left outside /home (staff homes stay, as userdel leaves them)" \
        || bad "left after purge: $left"
grep -rl pam_ehr2fa /etc/pam.d && bad "pam_ehr2fa still named in /etc/pam.d" || true

echo "chroot scenario: $fails failure(s)"
exit $((fails > 0))
