#!/usr/bin/env bash
# The JSON files tftpspec writes validate against their schemas (reports/*.schema.json, chosen
# by each file's $schema): a clean run, a run with faults (failures, run-wide findings,
# notes), runs with a baseline (a report, an expectations file), the matrix of `report
# merge`, and the catalogue's expectations files.
set -euo pipefail
tftpspec="$1"
src="$2"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
"$tftpspec" run --seed 1 --json "$out/clean.json" >/dev/null
# Faults make fails, warns, notes and run-wide findings: the exit status is 1 by design.
faults=(--reference-fault answer_from_listen_port --reference-fault resend_on_duplicate_ack --reference-fault allow_traversal)
# ... with a capture, so the evidence carries frame numbers (run --pcap).
"$tftpspec" run --seed 2 "${faults[@]}" --json "$out/faults.json" --pcap "$out/faults.pcapng" >/dev/null || [ $? -eq 1 ]
grep -q '"frame":' "$out/faults.json"
# Against baselines: every kind of change the faults make (exit 1: they are regressions).
"$tftpspec" run --seed 2 "${faults[@]}" --baseline "$out/clean.json" --json "$out/against-report.json" >/dev/null || [ $? -eq 1 ]
"$tftpspec" run --seed 1 --baseline "$src/scenarios/expectations/atftpd.json" --json "$out/against-expectations.json" >/dev/null
"$tftpspec" report merge "$out/clean.json" "$out/faults.json" --json "$out/matrix.json" >/dev/null
/usr/bin/python3 "$src/reports/validate.py" "$out/clean.json" "$out/faults.json" "$out/against-report.json" \
  "$out/against-expectations.json" "$out/matrix.json" "$src"/scenarios/expectations/*.json
