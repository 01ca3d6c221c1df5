#!/usr/bin/env bash
# README command 2: install what is needed, build, and run every test (unit + integration
# against real tftpd-hpa, atftpd, dnsmasq and the tftp-hpa, atftp, curl, busybox clients).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release
ctest --preset release "$@"
