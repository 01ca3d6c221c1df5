#!/usr/bin/env bash
# The installed binary (cmake --install into a temporary prefix) works from another
# directory and reads the installed catalogue, not the source tree's; the man page renders.
# Usage: install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build="$1"
src="$2"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" >/dev/null
for f in bin/tftpspec share/tftpspec/scenarios/sanity.yaml share/tftpspec/scenarios/expectations/tftpd-hpa.json \
         share/tftpspec/schemas/tftpspec-report.schema.json share/tftpspec/schemas/tftpspec-junit.xsd \
         share/man/man1/tftpspec.1; do
  [ -f "$prefix/$f" ] || fail "$f not installed"
done
[ ! -e "$prefix/bin/tftpspec.scenarios" ] || fail "the build-tree marker was installed"
# The binary does not carry the source tree's catalogue path (debug info names source
# files, never the scenarios directory).
! grep -qaF "$src/scenarios" "$prefix/bin/tftpspec" || fail "the binary holds $src/scenarios"

tftpspec() { (cd / && env -u TFTPSPEC_SCENARIOS "$prefix/bin/tftpspec" "$@"); }
catalogue="$prefix/share/tftpspec/scenarios"

# A run from / with the installed catalogue (the sanity scenario runs first and last), both
# reports written and valid.
tftpspec run --seed 1 --scenario 'rfc1350.end.*' --json "$tmp/r.json" --junit "$tmp/r.xml" >"$tmp/run.out" 2>&1 \
  || fail "installed run: $(cat "$tmp/run.out")"
xmllint --schema "$prefix/share/tftpspec/schemas/tftpspec-junit.xsd" --noout "$tmp/r.xml"
tftpspec run --list >"$tmp/list.out"
grep -q "scenarios from $catalogue\$" "$tmp/list.out" || fail "--list did not read $catalogue: $(tail -1 "$tmp/list.out")"

# Proof that it is the installed catalogue: a scenario added to it alone is listed, and the
# environment still wins (the source tree's catalogue does not have it).
cat >"$catalogue/installed-only.yaml" <<'YAML'
id: installed.only-here
title: A scenario only the installed catalogue has
citation: RFC 1350 §4
requirement: T1350-REQ-REPLY
level: MAY
summary: Marks the installed catalogue for the packaging test.
steps:
  - wait: 1ms
YAML
tftpspec run --list --scenario 'installed.*' >"$tmp/here.out" 2>&1 || fail "installed catalogue not used: $(cat "$tmp/here.out")"
grep -q "installed.only-here" "$tmp/here.out" || fail "$(cat "$tmp/here.out")"
if (cd / && TFTPSPEC_SCENARIOS="$src/scenarios" "$prefix/bin/tftpspec" run --list --scenario 'installed.*' >"$tmp/env.out" 2>&1); then
  fail "TFTPSPEC_SCENARIOS did not win: $(cat "$tmp/env.out")"
fi
grep -q "no scenario matches" "$tmp/env.out" || fail "$(cat "$tmp/env.out")"

# No catalogue anywhere: exit 2 naming the places looked at.
mv "$catalogue" "$tmp/moved"
if tftpspec run --list >"$tmp/none.out" 2>&1; then fail "ran without a catalogue"; else code=$?; fi
[ "$code" -eq 2 ] || fail "exit $code without a catalogue"
grep -qF "$catalogue does not exist" "$tmp/none.out" || fail "$(cat "$tmp/none.out")"

# The man page: no groff warnings, and it renders with man (or groff where man is absent).
page="$prefix/share/man/man1/tftpspec.1"
warnings="$(groff -man -ww -z "$page" 2>&1)"
[ -z "$warnings" ] || fail "man page warnings: $warnings"
if command -v man >/dev/null; then
  MANWIDTH=80 man -l "$page" >"$tmp/man.txt" 2>/dev/null
else
  groff -man -Tutf8 "$page" >"$tmp/man.txt"
fi
for want in "EXIT STATUS" "--junit FILE" "selfcheck" "fixtures DIR" "TFTPSPEC_SCENARIOS"; do
  grep -qF -- "$want" "$tmp/man.txt" || fail "the rendered man page lacks '$want'"
done
echo "installed into $prefix: ok"
