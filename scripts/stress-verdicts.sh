#!/usr/bin/env bash
# Issue 7 "Done when": the catalogue over real UDP against the reference server with its
# timer floor at 10 ms, both cores kept busy by two busy loops, RUNS (10) times in a row.
# Prints each run's summary and every non-pass with its reason, then a total. Exits 1 if
# any run had a fail or a warn (a scenario's, or a run-wide finding's), 2 on a set-up
# problem. Not part of CI: it takes minutes and loads the machine on purpose.
#
#   scripts/stress-verdicts.sh            RUNS=3 BUSY=0 scripts/stress-verdicts.sh
# RUNS: how many runs (10); BUSY: busy loops (2); SKIP_BUILD=1: use build/release as is;
# KEEP=1: keep the scratch folder with the JSON reports.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${RUNS:-10}
busy=${BUSY:-2}
bin=build/release/tftpspec

command -v jq >/dev/null || { echo "stress-verdicts: needs jq" >&2; exit 2; }
if [[ -z ${SKIP_BUILD:-} ]]; then
  if [[ ! -d build/release ]]; then cmake --preset release >/dev/null; fi
  cmake --build --preset release -j2 --target tftpspec >/dev/null
fi
[[ -x $bin ]] || { echo "stress-verdicts: $bin missing" >&2; exit 2; }

work=$(mktemp -d /tmp/tftpspec-stress.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ -n ${KEEP:-} ]]; then echo "reports kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

root=$work/root
"$bin" fixtures "$root" >/dev/null

port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# --min-timeout is in seconds: a 10 ms floor for the adaptive timer.
"$bin" serve --root "$root" --listen "127.0.0.1:$port" --writable --min-timeout 0.01 --quiet &
pids+=($!)
server=$!
for _ in $(seq 100); do
  ss -Hlun "sport = :$port" | grep -q . && break
  kill -0 "$server" 2>/dev/null || { echo "stress-verdicts: server exited" >&2; exit 2; }
  sleep 0.05
done

for _ in $(seq "$busy"); do
  while :; do :; done &
  pids+=($!)
done

echo "stress-verdicts: $runs runs against the reference server on 127.0.0.1:$port (min-timeout 10 ms), $busy busy loops, $(nproc) cores"
bad_runs=0
declare -A total=([pass]=0 [note]=0 [warn]=0 [fail]=0 [skip]=0 [error]=0)
for i in $(seq "$runs"); do
  out=$work/run_$i.json
  status=0
  "$bin" run --target "127.0.0.1:$port" --root "$root" --json "$out" --seed "$i" >"$work/run_$i.log" 2>&1 || status=$?
  if [[ ! -s $out ]]; then
    echo "run $i: no report (exit $status)"; tail -5 "$work/run_$i.log" | sed 's/^/    /'
    bad_runs=$((bad_runs + 1))
    continue
  fi
  jq -r --arg i "$i" --arg status "$status" '
    "run \($i): pass \(.summary.pass) note \(.summary.note) warn \(.summary.warn) fail \(.summary.fail) skip \(.summary.skip) error \(.summary.error)"
    + "; run-wide findings fail \(.summary.findings.fail) warn \(.summary.findings.warn) note \(.summary.findings.note)"
    + "; rtt \(.target.path.rtt_ms * 100 | round / 100) ms, srto \(.target.srto_ms | round) ms, \(.duration_ms / 1000 | round) s, exit \($status)",
    (.results[] | select(.verdict != "pass") | "    \(.verdict) \(.id): \(.reason)"),
    (.findings[] | select(.verdict != "note") | "    finding \(.verdict) \(.id) (\(.cause)) in \(.scenarios | join(", ")): \(.message)")' "$out"
  for v in pass note warn fail skip error; do
    total[$v]=$((total[$v] + $(jq ".summary.$v" "$out")))
  done
  if [[ $(jq '.summary.fail + .summary.warn + .summary.findings.fail + .summary.findings.warn' "$out") != 0 ]]; then
    bad_runs=$((bad_runs + 1))
  fi
done

echo "total over $runs runs: pass ${total[pass]} note ${total[note]} warn ${total[warn]} fail ${total[fail]} skip ${total[skip]} error ${total[error]}; runs with a fail or warn (or no report): $bad_runs"
[[ $bad_runs == 0 ]]
