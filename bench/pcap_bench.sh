#!/usr/bin/env bash
# Capture analysis speed: `tftpspec analyze` on a synthetic capture of about 200,000 TFTP
# packets (bench/make_tftp_capture.cc), beside `tcpdump -r FILE -w /dev/null` (libpcap's
# read and write alone) and, when installed, `tshark -r FILE -Y tftp`, in the same run.
# Usage: bench/pcap_bench.sh [PACKETS]   (run after a release build; prints packets/second)
#   ROUNDS=N   rounds of the four commands (default 7)
set -euo pipefail
cd "$(dirname "$0")/.."
packets="${1:-200000}"
build="${BUILD:-build/release}"   # BUILD=DIR: another build directory
rounds="${ROUNDS:-7}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
"$build/make_tftp_capture" "$out/bench.pcap" "$packets" >/dev/null
count="$(tcpdump -nr "$out/bench.pcap" 2>/dev/null | wc -l)"
echo "capture: $count packets, $(stat -c %s "$out/bench.pcap") bytes; load $(cut -d' ' -f1-3 /proc/loadavg)"
have_tshark=0
command -v tshark >/dev/null && have_tshark=1
# CPU seconds of each command (user + system of the process, from wait4's rusage, which Linux
# reports to the microsecond): on a machine shared with other work the wall clock measures the
# others' load, the CPU time what the command itself costs. (/usr/bin/time rounds to 10 ms
# ticks, a fifth of tcpdump's whole run here.)
# The commands take turns, one run each per round, so that every command sees the same minutes:
# this VM's speed changes from one second to the next (a shared host's caches), and blocks of
# runs of one command, then of the next, compared one command's fast minutes with another's
# slow ones. The best of the rounds is the figure (the least disturbed run: what the command
# costs); the median is printed beside it, and the ratios of both.
python3 - "$rounds" "$count" "$have_tshark" "$build/tftpspec" "$out" <<'PY'
import os, statistics, subprocess, sys
rounds, count, have_tshark, tool, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4], sys.argv[5]
capture = f"{out}/bench.pcap"
commands = {
    "analyze": ("tftpspec analyze FILE", [tool, "analyze", capture]),
    "full": ("tftpspec analyze FILE --json F --extract D", [tool, "analyze", capture, "--json", f"{out}/a.json", "--extract", f"{out}/files"]),
    "tcpdump": ("tcpdump -r FILE -w /dev/null", ["tcpdump", "-r", capture, "-w", "/dev/null"]),
}
if have_tshark:
    commands["tshark"] = ("tshark -r FILE -Y tftp", ["tshark", "-r", capture, "-Y", "tftp"])
cpu = {k: [] for k in commands}
for _ in range(rounds):
    for key, (_, argv) in commands.items():
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(p.pid, 0)
        if status != 0 and key != "analyze" and key != "full":
            sys.exit(f"{argv[0]} failed (status {status})")
        cpu[key].append(max(usage.ru_utime + usage.ru_stime, 1e-4))
for key, (label, _) in commands.items():
    best, median = min(cpu[key]), statistics.median(cpu[key])
    print(f"{label:44s} {best:8.3f} s CPU best  {median:8.3f} s median  {count / best:10.0f} packets/s (best)")
def ratio(a, b, goal, what):
    best = min(cpu[b]) / min(cpu[a])
    median = statistics.median(cpu[b]) / statistics.median(cpu[a])
    print(f"analyze is {best:.2f}x {what} (best of {rounds}; median {median:.2f}x; target: {goal})")
if have_tshark:
    ratio("analyze", "tshark", "20x", "as fast as tshark -Y tftp")
else:
    print("tshark -r FILE -Y tftp: not installed (scripts/setup.sh installs it)")
ratio("analyze", "tcpdump", "0.5x", "the speed of tcpdump -r FILE -w /dev/null")
PY
