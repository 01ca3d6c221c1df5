#!/usr/bin/env bash
# Capture analysis speed: `tftpspec analyze` on a synthetic capture of about 200,000 TFTP
# packets (bench/make_tftp_capture.cc), beside `tcpdump -r FILE -w /dev/null` (libpcap's
# read and write alone) and, when installed, `tshark -r FILE -Y tftp`, in the same run.
# Usage: bench/pcap_bench.sh [PACKETS]   (run after a release build; prints packets/second)
set -euo pipefail
cd "$(dirname "$0")/.."
packets="${1:-200000}"
build=build/release
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
"$build/make_tftp_capture" "$out/bench.pcap" "$packets" >/dev/null
count="$(tcpdump -nr "$out/bench.pcap" 2>/dev/null | wc -l)"
# Best of 3 wall-clock seconds of a command.
best() {
  local best_s=""
  for _ in 1 2 3; do
    local start end s
    start=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || true
    end=$(date +%s.%N)
    s=$(echo "$end - $start" | bc -l)
    if [ -z "$best_s" ] || [ "$(echo "$s < $best_s" | bc -l)" -eq 1 ]; then best_s=$s; fi
  done
  echo "$best_s"
}
report() {  # name seconds
  printf '%-44s %8.3f s  %10.0f packets/s\n' "$1" "$2" "$(echo "$count / $2" | bc -l)"
}
echo "capture: $count packets, $(stat -c %s "$out/bench.pcap") bytes; load $(cut -d' ' -f1-3 /proc/loadavg)"
report "tftpspec analyze FILE" "$(best "$build/tftpspec" analyze "$out/bench.pcap")"
report "tftpspec analyze FILE --json F --extract D" "$(best "$build/tftpspec" analyze "$out/bench.pcap" --json "$out/a.json" --extract "$out/files")"
report "tcpdump -r FILE -w /dev/null" "$(best tcpdump -r "$out/bench.pcap" -w /dev/null)"
if command -v tshark >/dev/null; then
  report "tshark -r FILE -Y tftp" "$(best tshark -r "$out/bench.pcap" -Y tftp)"
else
  echo "tshark -r FILE -Y tftp: not installed"
fi
