#!/usr/bin/env bash
# Soak (issue 12 item 6): the reference server built with AddressSanitizer and LeakSanitizer
# (the `asan` preset) under DURATION seconds of back-to-back downloads by CLIENTS clients at
# once, with LOSS and DUPLICATE applied to every datagram either way by the fault layer of
# `tftpspec load` (the load generator is the release build). Passes when:
#   - every transfer completed and its copy matched the file's digest (intact);
#   - the server exits cleanly on SIGTERM with no ASan report and no leak (LSan runs at exit);
#   - no memory growth: the server's RSS, sampled every SAMPLE_EVERY s, peaks in the last third
#     of the run no higher than in the first third (after WARMUP s) plus GROWTH_KIB.
# ASan's quarantine is set small (quarantine_size_mb=16), else freed memory held back for
# use-after-free detection would look like growth for the first 256 MiB.
#
# Usage: scripts/soak.sh   (environment, with defaults: DURATION=600 CLIENTS=200 LOSS=0.05
#                           DUPLICATE=0.05 SIZE_KB=256 BLKSIZE=1428 SAMPLE_EVERY=10 WARMUP=30
#                           GROWTH_KIB=8192 OUT=/tmp/tftpspec-soak (the JSON report, the RSS samples,
#                           the server's log); SKIP_BUILD=1 reuses build/asan and build/release)
# Build the asan preset niced on a shared machine: nice cmake --build build/asan --target tftpspec
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
duration=${DURATION:-600}
clients=${CLIENTS:-200}
loss=${LOSS:-0.05}
duplicate=${DUPLICATE:-0.05}
size_kb=${SIZE_KB:-256}
blksize=${BLKSIZE:-1428}
sample_every=${SAMPLE_EVERY:-10}
warmup=${WARMUP:-30}
growth_kib=${GROWTH_KIB:-8192}
out=${OUT:-/tmp/tftpspec-soak}
server_bin=${SERVER_BIN:-$repo/build/asan/tftpspec}  # another server build: SERVER_BIN=...
load_bin=${LOAD_BIN:-$repo/build/release/tftpspec}

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  cmake --preset asan >/dev/null && nice cmake --build build/asan -j2 --target tftpspec >&2
  cmake --preset release >/dev/null && nice cmake --build build/release -j2 --target tftpspec >&2
fi
for tool in "$server_bin" "$load_bin"; do
  [[ -x "$tool" ]] || { echo "soak.sh: missing $tool (build the asan and release presets)" >&2; exit 2; }
done

source bench/lib.sh
bench_workdir soak
mkdir -p "$out"
root=$work/root
mkdir -p "$root"
head -c "$((size_kb * 1024))" /dev/urandom >"$root/boot.bin"

port=$(free_port)
asan_log=$out/asan
rm -f "$asan_log".*
# halt_on_error: the first report ends the server, and the load run sees it fail.
ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:quarantine_size_mb=16:log_path=$asan_log" \
  "$server_bin" serve --root "$root" --listen "127.0.0.1:$port" -q 2>"$out/serve.log" &
server=$!
server_pids+=("$server")
wait_bound "$port" "$server"

rss_csv=$out/rss.csv
echo "seconds,rss_kib" >"$rss_csv"
(
  start=$(date +%s)
  while kill -0 "$server" 2>/dev/null; do
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$server/status" 2>/dev/null || true)
    [[ -n "$rss" ]] && echo "$(($(date +%s) - start)),$rss" >>"$rss_csv"
    sleep "$sample_every"
  done
) &
sampler=$!

echo "soak.sh: $(date -u +%FT%TZ) $duration s, $clients clients, loss $loss, duplicate $duplicate, $size_kb KiB," \
  "blksize $blksize, server $server_bin (pid $server), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
load_status=0
"$load_bin" load --target "127.0.0.1:$port" --clients "$clients" --file boot.bin --root "$root" --blksize "$blksize" \
  --duration "$duration" --loss "$loss" --duplicate "$duplicate" --json "$out/soak.json" -q || load_status=$?

# SIGTERM: `serve` returns from main, and LeakSanitizer checks the heap at exit.
kill -TERM "$server"
server_status=0
wait "$server" || server_status=$?
server_pids=()
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true

verdict=0
python3 - "$out/soak.json" "$rss_csv" "$warmup" "$growth_kib" "$duration" <<'EOF' || verdict=1
import csv, json, sys
report, rss_csv, warmup, growth, duration = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
s = json.load(open(report))["steps"][0]
t, lat, rtx, inj = s["transfers"], s["latency_ms"], s["retransmissions"], s["injected"]
print(f"transfers: {t['started']} started, {t['succeeded']} intact (digest checked: {t['verified']}), {t['failed']} failed")
for f in s["failures"]:
    print(f"  failed x{f['transfers']}: {f['cause']}")
print(f"throughput {s['throughput_mib_s']:.2f} MiB/s; latency ms p50 {lat['p50']:.0f} p95 {lat['p95']:.0f} "
      f"p99 {lat['p99']:.0f} max {lat['max']:.0f}")
print(f"retransmissions: {rtx['requests']} requests, {rtx['by_clients']} by the clients, "
      f"{rtx['duplicates_received']} duplicates received; injected {inj['losses']} losses, {inj['duplicates']} duplicates")
rows = [(int(r["seconds"]), int(r["rss_kib"])) for r in csv.DictReader(open(rss_csv))]
settled = [r for r in rows if r[0] >= warmup]
ok = t["failed"] == 0 and t["succeeded"] > 0 and t["verified"] == t["succeeded"]
if len(settled) >= 3:
    third = max(1, len(settled) // 3)
    first, last = max(r for _, r in settled[:third]), max(r for _, r in settled[-third:])
    print(f"server RSS: {rows[0][1]} KiB at start, peak {max(r for _, r in rows)} KiB; after {warmup} s: "
          f"first third peak {first} KiB, last third peak {last} KiB ({len(rows)} samples)")
    if last > first + growth:
        print(f"memory grew by {last - first} KiB (> {growth} KiB allowed)")
        ok = False
else:
    print(f"too few RSS samples ({len(rows)}) to judge growth")
    ok = False
sys.exit(0 if ok else 1)
EOF
if compgen -G "$asan_log.*" >/dev/null; then
  echo "soak.sh: AddressSanitizer/LeakSanitizer reported (first lines):" >&2
  head -n 30 "$asan_log".* >&2
  verdict=1
else
  echo "no ASan or LSan report; the server exited with status $server_status"
fi
[[ $server_status -eq 0 ]] || verdict=1
[[ $load_status -eq 0 ]] || verdict=1
echo "soak.sh: $([[ $verdict -eq 0 ]] && echo PASS || echo FAIL); files in $out" >&2
exit $verdict
