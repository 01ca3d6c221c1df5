#!/usr/bin/env bash
# Installs everything tftpspec needs to build and test on Debian 12, idempotently.
# - build deps: compilers, CMake/Ninja, libraries from Debian packages
# - peers for interop tests: tftpd-hpa, dnsmasq, clients tftp-hpa, atftp, curl, busybox
# - the HTML report's browser test: headless chromium (with a font) prints it, pdftotext reads what it shows
# - tcpdump: records the pcaps/ corpus and is the baseline of the capture benchmark
# - tshark: the corpus test compares analyze with `tshark --export-objects tftp`, and the capture
#   benchmark times `tshark -Y tftp` (its install asks about capture rights: noninteractive below)
# - atftpd conflicts with tftpd-hpa, so its .deb is unpacked (dpkg -x) under build/peers/atftpd
# - report and packaging tests: xmllint (libxml2-utils) for the JUnit schema, groff (groff-base)
#   for the man page; cpack takes Depends from dpkg-shlibdeps (dpkg-dev, via build-essential)
# Package installs must not start services on port 69: a policy-rc.d denies starts while we install.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build pkg-config g++ clang libclang-rt-14-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libpcap-dev libyaml-cpp-dev nlohmann-json3-dev libexpected-dev libcli11-dev libfmt-dev libxxhash-dev
  tftpd-hpa tftp-hpa atftp dnsmasq-base curl busybox
  iproute2 procps util-linux python3-jsonschema jq
  libxml2-utils groff-base chromium fonts-liberation poppler-utils tcpdump
  tshark
)

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod +x "$policy"
    created_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ "$created_policy" -eq 0 ] || $SUDO rm -f "$policy"
fi

# Some packages start their daemon regardless of policy-rc.d (no systemd here): stop any
# system instance so port 69 is free and nothing serves the system's tftp root by surprise.
for svc in tftpd-hpa dnsmasq; do
  $SUDO service "$svc" stop >/dev/null 2>&1 || true
done

# atftpd: unpack its .deb beside the build, never install it (conflicts with tftpd-hpa).
peers=build/peers
if [ ! -x "$peers/atftpd/usr/sbin/atftpd" ]; then
  mkdir -p "$peers/debs"
  ( cd "$peers/debs" && apt-get download atftpd >/dev/null )
  rm -rf "$peers/atftpd"
  dpkg -x "$(ls "$peers"/debs/atftpd_*.deb | head -n1)" "$peers/atftpd"
fi
echo "setup: ok (atftpd at $peers/atftpd/usr/sbin/atftpd)"
