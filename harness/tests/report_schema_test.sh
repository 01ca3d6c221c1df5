#!/usr/bin/env bash
# The JSON report validates against its schema: a clean run, a run with faults (failures,
# run-wide findings, notes) and an interrupted run's shape are all checked.
set -euo pipefail
tftpspec="$1"
src="$2"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
"$tftpspec" run --seed 1 --json "$out/clean.json" >/dev/null
# Faults make fails, warns, notes and run-wide findings: the exit status is 1 by design.
"$tftpspec" run --seed 2 --reference-fault answer_from_listen_port --reference-fault resend_on_duplicate_ack \
  --reference-fault allow_traversal --json "$out/faults.json" >/dev/null || [ $? -eq 1 ]
/usr/bin/python3 "$src/reports/validate.py" "$out/clean.json" "$out/faults.json"
