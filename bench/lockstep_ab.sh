#!/usr/bin/env bash
# Paired A/B of lockstep downloads: the reference server against tftpd-hpa, same client
# (tftp-hpa, blksize 512, no options), both pinned to one core (see e2e.sh, "same core").
#
# Why a second script: on this VM two runs of the same server differ by up to +-10 %, more
# than the difference being asked about ("at least as fast as tftpd-hpa"), so a median of
# 3-5 runs per server (e2e.sh) cannot settle it. Here the two servers run in alternating
# pairs, ROUNDS times, each pair in a random order (a slow moment of the machine hits both
# sides of a pair alike), and the script reports the medians, each pair's ratio, how many
# pairs the reference server won, and the one-sided sign-test p-value of that count
# (the chance of at least that many wins if the two were equally fast).
#
# Usage: bench/lockstep_ab.sh   (environment, with defaults: ROUNDS=21 SIZE_MB=20
#                                BUILD_DIR=build/release CPU=0)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-21}
size_mb=${SIZE_MB:-20}
cpu=${CPU:-0}
tftpspec=${BUILD_DIR:-build/release}/tftpspec
in_tftpd=/usr/sbin/in.tftpd
for tool in "$tftpspec" "$in_tftpd" "$(command -v tftp)"; do
  [[ -x "$tool" ]] || { echo "lockstep_ab.sh: missing $tool (scripts/build.sh release; scripts/setup.sh)" >&2; exit 2; }
done

source bench/lib.sh
bench_workdir ab
mkdir -p "$work/root"
head -c "$((size_mb * 1024 * 1024))" /dev/urandom >"$work/root/f.bin"
bytes=$(stat -c %s "$work/root/f.bin")

ref_port=$(free_port)
taskset -c "$cpu" "$tftpspec" serve --root "$work/root" --listen "127.0.0.1:$ref_port" -q 2>/dev/null &
server_pids+=($!)
wait_bound "$ref_port" "$!" || exit 1
hpa_port=$(free_port)
taskset -c "$cpu" "$in_tftpd" -L -a "127.0.0.1:$hpa_port" -s -u root "$work/root" &
server_pids+=($!)
wait_bound "$hpa_port" "$!" || exit 1

download() {  # PORT -> MB/s, or exits on a wrong copy
  local start end
  rm -f "$work/out.bin"
  start=$(date +%s%N)
  (cd "$work" && taskset -c "$cpu" tftp -m binary 127.0.0.1 "$1" -c get f.bin "$work/out.bin") >/dev/null 2>&1
  end=$(date +%s%N)
  cmp -s "$work/out.bin" "$work/root/f.bin" || { echo "lockstep_ab.sh: wrong copy from port $1" >&2; exit 1; }
  awk -v b="$bytes" -v ns="$((end - start))" 'BEGIN { printf "%.2f", b / (ns / 1e9) / 1e6 }'
}

echo "lockstep_ab.sh: $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg), $rounds pairs of $bytes-byte downloads on cpu $cpu" >&2
ref=() hpa=()
for i in $(seq "$rounds"); do
  if ((RANDOM % 2)); then
    r=$(download "$ref_port"); h=$(download "$hpa_port")
  else
    h=$(download "$hpa_port"); r=$(download "$ref_port")
  fi
  ref+=("$r") hpa+=("$h")
  echo "lockstep_ab.sh: pair $i: reference $r, tftpd-hpa $h MB/s" >&2
done

python3 - "${ref[*]}" "${hpa[*]}" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'EOF'
import math, statistics, sys
ref = [float(x) for x in sys.argv[1].split()]
hpa = [float(x) for x in sys.argv[2].split()]
wins = sum(r > h for r, h in zip(ref, hpa))
losses = sum(r < h for r, h in zip(ref, hpa))
n = wins + losses
p = sum(math.comb(n, k) for k in range(wins, n + 1)) / 2 ** n if n else 1.0
ratios = sorted(r / h for r, h in zip(ref, hpa))
print(f"pairs: {len(ref)}; load at end {sys.argv[3]}")
print(f"reference median {statistics.median(ref):.1f} MB/s, tftpd-hpa median {statistics.median(hpa):.1f} MB/s, "
      f"ratio of medians {statistics.median(ref) / statistics.median(hpa):.3f}")
print(f"per-pair ratio reference/tftpd-hpa: median {statistics.median(ratios):.3f}, "
      f"min {ratios[0]:.3f}, max {ratios[-1]:.3f}")
print(f"reference faster in {wins} of {n} decided pairs; one-sided sign test p = {p:.4f}")
EOF
