#!/usr/bin/env bash
# The analyze JSON report validates against reports/tftpspec-analysis.schema.json for every
# capture in pcaps/ (with --extract, so the extraction fields are filled), and an unreadable
# capture exits 2.
set -euo pipefail
tftpspec="$1"
src="$2"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
reports=()
for capture in "$src"/pcaps/*.pcap; do
  name="$(basename "$capture" .pcap)"
  # A MUST finding makes the exit status 1 by design; 2 would be a harness error.
  "$tftpspec" analyze "$capture" --json "$out/$name.json" --extract "$out/$name.files" >/dev/null || [ $? -eq 1 ]
  reports+=("$out/$name.json")
done
/usr/bin/python3 "$src/reports/validate.py" "${reports[@]}"
status=0
"$tftpspec" analyze "$out/missing.pcap" >/dev/null 2>&1 || status=$?
[ "$status" -eq 2 ] || { echo "analyze of a missing file exited $status, not 2" >&2; exit 1; }
