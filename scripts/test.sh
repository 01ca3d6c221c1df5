#!/usr/bin/env bash
# README command 2: install what is needed, build, and run every test (unit + integration
# against real tftpd-hpa, atftpd, dnsmasq and the tftp-hpa, atftp, curl, busybox clients).
#
# The conformance tests run the catalogue against the reference server, tftpd-hpa, atftpd and
# dnsmasq; their reports are kept under build/release/conformance-reports/, each also as an
# HTML page and JUnit XML, and merged into one matrix (matrix.html, matrix.json) for CI to
# publish. Then the clang build and the fuzz targets' smoke campaigns. The exit status is the
# tests'.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release

reports="$PWD/build/release/conformance-reports"
rm -rf "$reports"
mkdir -p "$reports"
status=0
TFTPSPEC_CONFORMANCE_REPORTS="$reports" ctest --preset release "$@" || status=$?

tftpspec=build/release/tftpspec
shopt -s nullglob
runs=()
for name in reference tftpd-hpa atftpd dnsmasq; do
  report="$reports/$name.json"
  [ -f "$report" ] || continue
  "$tftpspec" report render "$report" --html "$reports/$name.html" --junit "$reports/$name.junit.xml" >/dev/null || status=1
  runs+=("$name=$report")
done
if [ "${#runs[@]}" -gt 0 ]; then
  "$tftpspec" report merge "${runs[@]}" --html "$reports/matrix.html" --json "$reports/matrix.json" >"$reports/matrix.txt" \
    || status=1
  echo "conformance reports: $reports (matrix.html, matrix.txt, and an HTML page and JUnit XML per server)"
fi

# The clang 14 build of the whole tree (preset fuzz: ASan + UBSan, libFuzzer), so a construct
# one compiler rejects never lands, and each fuzz target's smoke campaign from its seed corpus
# (a few seconds each, CTest label fuzz_smoke): a crash, trap or leak fails CI.
scripts/build.sh fuzz
ctest --test-dir build/fuzz -L fuzz_smoke -j2 --output-on-failure || status=1
exit "$status"
