#!/usr/bin/env bash
# Boot-storm benchmark (issue 12 item 7): `tftpspec load` with CLIENTS clients downloading one
# SIZE_KB file at once from the reference server (`tftpspec serve`), tftpd-hpa and atftpd on
# loopback, in the same run, round robin (each round starting with the next server).
# Every copy is verified by digest against the file in the root (--root).
#
# Placement: each server is pinned to SERVER_CPU (tftpd-hpa's forked children and atftpd's
# threads inherit it), the load generator to CLIENT_CPU: one core each, on a 2-core machine.
# atftpd runs with --maxthread above CLIENTS (its default, 100, would refuse half the crowd).
#
# Per server: aggregate MiB/s (2^20 bytes of content per second, all clients together, from
# the first request to the last transfer's outcome), p99 latency of one transfer, request
# retransmissions, duplicate DATA the clients received (with no loss on loopback, each is a
# spurious retransmission by the server) and failed transfers: the median of REPEAT runs for
# the rates and latencies, the largest count for the others. Prints a markdown table.
#
# Usage: bench/load_bench.sh   (environment, with defaults: CLIENTS=200 SIZE_KB=1024 REPEAT=3
#                               BLKSIZE= (none: RFC 1350's 512, no options) SERVER_CPU=0
#                               CLIENT_CPU=1 SERVERS="reference tftpd-hpa atftpd"
#                               BUILD_DIR=build/release SKIP_BUILD=0: reuse BUILD_DIR as it is)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

clients=${CLIENTS:-200}
size_kb=${SIZE_KB:-1024}
repeat=${REPEAT:-3}
server_cpu=${SERVER_CPU:-0}
client_cpu=${CLIENT_CPU:-1}
servers=${SERVERS:-"reference tftpd-hpa atftpd"}
build=${BUILD_DIR:-$repo/build/release}
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  scripts/build.sh release >&2
fi
tftpspec=$build/tftpspec
in_tftpd=/usr/sbin/in.tftpd
atftpd=$repo/build/peers/atftpd/usr/sbin/atftpd
for tool in "$tftpspec" "$in_tftpd" "$atftpd"; do
  [[ -x "$tool" ]] || { echo "load_bench.sh: missing $tool (scripts/setup.sh installs the peers)" >&2; exit 2; }
done

source bench/lib.sh
bench_workdir load
root=$work/root
mkdir -p "$root"
file=boot.bin
head -c "$((size_kb * 1024))" /dev/urandom >"$root/$file"

declare -A port_of
start_server() {
  local port
  port=$(free_port)
  case "$1" in
    reference) taskset -c "$server_cpu" "$tftpspec" serve --root "$root" --listen "127.0.0.1:$port" -q 2>/dev/null & ;;
    tftpd-hpa) taskset -c "$server_cpu" "$in_tftpd" -L -a "127.0.0.1:$port" -s -u root "$root" & ;;
    atftpd) taskset -c "$server_cpu" "$atftpd" --daemon --no-fork --port "$port" --bind-address 127.0.0.1 --user root \
              --group root --maxthread "$((clients + 100))" --logfile /dev/null "$root" & ;;
    *) echo "load_bench.sh: unknown server $1" >&2; exit 2 ;;
  esac
  server_pids+=($!)
  port_of[$1]=$port
  wait_bound "$port" "$!"
}

progress_py=$(cat <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))["steps"][0]
print(f"load_bench.sh: {sys.argv[2]}: {s['throughput_mib_s']:.1f} MiB/s, p99 {s['latency_ms']['p99']:.0f} ms, "
      f"{s['retransmissions']['requests']} request retransmissions, "
      f"{s['retransmissions']['duplicates_received']} duplicate DATA, {s['transfers']['failed']} failed")
EOF
)
blk=()
[[ -n "${BLKSIZE:-}" ]] && blk=(--blksize "$BLKSIZE")
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load_bench.sh: $(date -u +%FT%TZ) $(nproc) cpus, load $load_start, $clients clients x $size_kb KiB," \
  "$repeat rounds" >&2
for server in $servers; do start_server "$server"; done
read -r -a order <<<"$servers"
for round in $(seq 0 $((repeat - 1))); do
  for i in "${!order[@]}"; do
    who=${order[$(((i + round) % ${#order[@]}))]}
    out=$work/$who.$round.json
    # Exit status 1 (a transfer failed) is a result here, not an error of the script.
    taskset -c "$client_cpu" "$tftpspec" load --target "127.0.0.1:${port_of[$who]}" --clients "$clients" \
      --file "$file" --root "$root" "${blk[@]}" --json "$out" -q || [[ $? -eq 1 ]]
    python3 -c "$progress_py" "$out" "$who" >&2
  done
done
stop_servers

options="no options (blksize 512)"
[[ -n "${BLKSIZE:-}" ]] && options="blksize $BLKSIZE"
echo "$clients clients x $size_kb KiB downloaded at once, $options, server on cpu $server_cpu, clients on cpu $client_cpu;" \
  "median of $repeat; load at start $load_start, at end $(cut -d' ' -f1-3 /proc/loadavg);" \
  "tree $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo +changes)"
echo
python3 - "$work" "$repeat" $servers <<'EOF'
import json, statistics, sys
work, repeat, servers = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
rows = {}
for who in servers:
    steps = [json.load(open(f"{work}/{who}.{r}.json"))["steps"][0] for r in range(repeat)]
    rows[who] = {
        "mib": statistics.median(s["throughput_mib_s"] for s in steps),
        "p99": statistics.median(s["latency_ms"]["p99"] for s in steps),
        "req": max(s["retransmissions"]["requests"] for s in steps),
        "dup": max(s["retransmissions"]["duplicates_received"] for s in steps),
        "failed": max(s["transfers"]["failed"] for s in steps),
        "samples": " ".join(f"{s['throughput_mib_s']:.1f}" for s in steps),
    }
ref = rows.get("reference")
print("| server | MiB/s | p99 ms | request retransmissions | duplicate DATA received | failed | reference / server |")
print("|---|---:|---:|---:|---:|---:|---:|")
for who, r in rows.items():
    ratio = f"{ref['mib'] / r['mib']:.2f}" if ref and r["mib"] > 0 and who != "reference" else "-"
    print(f"| {who} | {r['mib']:.1f} | {r['p99']:.0f} | {r['req']} | {r['dup']} | {r['failed']} | {ratio} |")
print()
print("Samples (MiB/s): " + "; ".join(f"{who} {r['samples']}" for who, r in rows.items()))
EOF
