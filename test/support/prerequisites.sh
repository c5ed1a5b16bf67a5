#!/bin/sh
# `npm test` runs this first (the pretest script). The suite talks to real peers
# from Debian packages: Pebble for ACME, gunicorn + Django, headless Chromium,
# OpenSSH for deploys, BIND 9 for DNS updates, wireguard-go for the relay,
# HAProxy as the other end of the PROXY protocol.
# Missing ones are installed with apt-get when this runs as root on Debian;
# otherwise it stops with the one command that installs them.
set -eu

missing=''
want() { # want PACKAGE: add it once to the list of missing packages
  case " $missing " in *" $1 "*) ;; *) missing="$missing $1" ;; esac
}
has() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }

has curl || want curl
has openssl || want openssl
has git || want git
has script || want bsdutils
has systemd-analyze || want systemd
has pebble || want pebble
has gunicorn || want gunicorn
/usr/bin/python3 -c 'import django' 2>/dev/null || want python3-django
[ -x /usr/bin/chromium ] || want chromium
has sshd || want openssh-server
has ssh || want openssh-client
has rsync || want rsync
has named || want bind9
has dig || want bind9-dnsutils
has wireguard-go || want wireguard-go
has wg || want wireguard-tools
has ip || want iproute2
has haproxy || want haproxy
has nsenter || want util-linux
has useradd || want passwd

[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "npm test: installing the Debian packages the tests need:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086 # one word per package
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
  exit 0
fi
echo "npm test needs these Debian packages:$missing. Install them with: sudo apt-get install -y --no-install-recommends$missing" >&2
exit 1
