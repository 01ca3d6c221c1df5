#!/usr/bin/env bash
# `cpack -G DEB` builds a Debian package holding the binary, the catalogue, the schemas and
# the man page, with a maintainer and the Depends of the libraries the binary links.
# Usage: deb_package_test.sh BUILD_DIR
set -euo pipefail
build="$1"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp" >"$tmp/cpack.out" 2>&1 || fail "$(cat "$tmp/cpack.out")"
deb="$(ls "$tmp"/tftpspec_*.deb)"
dpkg-deb -c "$deb" >"$tmp/contents"
for f in ./usr/bin/tftpspec ./usr/share/tftpspec/scenarios/sanity.yaml ./usr/share/tftpspec/scenarios/rfc1350/tid.yaml \
         ./usr/share/tftpspec/schemas/tftpspec-junit.xsd ./usr/share/man/man1/tftpspec.1; do
  grep -q " $f\$" "$tmp/contents" || fail "$f not in the package"
done
dpkg-deb -f "$deb" Package Maintainer Depends >"$tmp/control"
grep -q "^Maintainer: ." "$tmp/control" || fail "no maintainer: $(cat "$tmp/control")"
grep -q "^Depends: .*libc6" "$tmp/control" || fail "no Depends from the linked libraries: $(cat "$tmp/control")"
echo "$(basename "$deb"): $(stat -c %s "$deb") bytes"
