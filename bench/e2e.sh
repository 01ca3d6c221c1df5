#!/usr/bin/env bash
# End-to-end loopback download benchmark: the reference server against tftpd-hpa and
# atftpd, each downloaded from with the SAME client, plus the loopback UDP ceiling
# (bench/udp_ceiling.cc) measured in the same run.
#
#   lockstep: tftp-hpa client, blksize 512 (it sends no options), one block in flight
#   window:   atftp client, --option "blksize 65464" --option "windowsize 16"
#             (tftpd-hpa does not know windowsize: it runs blksize 65464 lockstep)
#
# Both sides are pinned with taskset in two placements (../shared/DESIGN.md, "Measured
# facts"): same core (server and client on cpu 0) and split (server cpu 0, client cpu 1).
# Each download is repeated REPEAT times and the median is reported; every copy is
# checked with cmp. A download still running after CAP_SECONDS is stopped and reported as
# "N~": the rate of the prefix it had received (checked with cmp too), not repeated; this
# keeps a run of the script within a few minutes when a server stalls on lost windows.
# Prints a markdown table. MB = 10^6 bytes of file content per second.
#
# Usage: bench/e2e.sh   (environment, with defaults: SIZE_MB=100 REPEAT=3 CAP_SECONDS=20
#                        PLACEMENTS="same split" PATTERNS="lockstep window"
#                        EXTRA_SERVERS="": e.g. reference-fixed, the reference server
#                        with a fixed 1 s retransmission timer (--min-timeout 1, as before
#                        the adaptive timer), in a table of its own
#                        BUILD_DIR=build/release SKIP_BUILD=0: reuse BUILD_DIR as it is)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

size_mb=${SIZE_MB:-100}
repeat=${REPEAT:-3}
placements=${PLACEMENTS:-"same split"}
patterns=${PATTERNS:-"lockstep window"}
cap=${CAP_SECONDS:-20}  # per download; a capped run is not repeated

build=${BUILD_DIR:-$repo/build/release}
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  scripts/build.sh release >&2
fi
tftpspec=$build/tftpspec
udp_ceiling=$build/udp_ceiling
in_tftpd=/usr/sbin/in.tftpd
atftpd=$repo/build/peers/atftpd/usr/sbin/atftpd
for tool in "$tftpspec" "$udp_ceiling" "$in_tftpd" "$atftpd" "$(command -v tftp)" "$(command -v atftp)"; do
  [[ -x "$tool" ]] || { echo "e2e.sh: missing $tool" >&2; exit 2; }
done

source bench/lib.sh
bench_workdir e2e
root=$work/root
mkdir -p "$root"

file=big.bin
head -c "$((size_mb * 1024 * 1024))" /dev/urandom >"$root/$file"
bytes=$(stat -c %s "$root/$file")

# start_server NAME CPU -> port_of[NAME]; the server (and its children/threads) run on CPU.
declare -A port_of
start_server() {
  local port
  port=$(free_port)
  case "$1" in
    reference) taskset -c "$2" "$tftpspec" serve --root "$root" --listen "127.0.0.1:$port" -q 2>/dev/null & ;;
    # Not the default configuration: the fixed 1 s timer the server had before the adaptive one.
    reference-fixed) taskset -c "$2" "$tftpspec" serve --root "$root" --listen "127.0.0.1:$port" -q \
                       --min-timeout 1 2>/dev/null & ;;
    tftpd-hpa) taskset -c "$2" "$in_tftpd" -L -a "127.0.0.1:$port" -s -u root "$root" & ;;
    atftpd) taskset -c "$2" "$atftpd" --daemon --no-fork --port "$port" --bind-address 127.0.0.1 --user root \
              --group root --logfile /dev/null "$root" & ;;
    *) echo "e2e.sh: unknown server $1" >&2; exit 2 ;;
  esac
  server_pids+=($!)
  port_of[$1]=$port
  wait_bound "$port" "$!"
}

# download PATTERN CPU PORT -> prints MB/s; "N~" when the run hit the time cap (N is the
# rate of the prefix received by then, checked with cmp); "fail" on wrong or no content.
download() {
  local out=$work/out.bin start end got status=0
  rm -f "$out"
  start=$(date +%s%N)
  case "$1" in
    lockstep) (cd "$work" && timeout "$cap" taskset -c "$2" tftp -m binary 127.0.0.1 "$3" -c get "$file" "$out") \
                >/dev/null 2>&1 || status=$? ;;
    window) timeout "$cap" taskset -c "$2" atftp --get -r "$file" -l "$out" --option "blksize 65464" \
              --option "windowsize 16" 127.0.0.1 "$3" >/dev/null 2>&1 || status=$? ;;
  esac
  end=$(date +%s%N)
  got=$(stat -c %s "$out" 2>/dev/null || echo 0)
  if [[ $status -eq 124 && $got -gt 0 ]] && cmp -s -n "$got" "$out" "$root/$file"; then
    awk -v b="$got" -v ns="$((end - start))" 'BEGIN { printf "%.1f~", b / (ns / 1e9) / 1e6 }'
  elif [[ $status -eq 0 ]] && cmp -s "$out" "$root/$file"; then
    awk -v b="$bytes" -v ns="$((end - start))" 'BEGIN { printf "%.1f", b / (ns / 1e9) / 1e6 }'
  else
    echo fail
  fi
}

median() {  # numbers, "N~" (capped) or "fail" as arguments; "~" if any run was capped
  if printf '%s\n' "$@" | grep -qx fail || [[ $# -eq 0 ]]; then echo fail; return; fi
  local mark=""
  printf '%s\n' "$@" | grep -q '~' && mark="~"
  printf '%s\n' "${@%\~}" | sort -g | awk -v mark="$mark" '{ v[NR] = $1 }
    END { printf "%s%s\n", (NR % 2) ? v[(NR + 1) / 2] : sprintf("%.1f", (v[NR / 2] + v[NR / 2 + 1]) / 2), mark }'
}

ratio() {  # "~" when either side is a capped (lower-bound-ish) rate
  awk -v a="$1" -v b="$2" 'BEGIN { m = (a ~ /~/ || b ~ /~/) ? "~" : ""; sub(/~/, "", a); sub(/~/, "", b)
    if (a == "fail" || b == "fail" || b + 0 == 0) print "-"; else printf "%.2f%s", a / b, m }'
}

declare -A result
declare -A samples
servers="reference tftpd-hpa atftpd ${EXTRA_SERVERS:-}"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
echo "e2e.sh: $(date -u +%FT%TZ) $(nproc) cpus, kernel $(uname -r), load $load_start," \
  "file $bytes bytes, $repeat runs each" >&2
ceiling() {  # PATTERN SENDER_CPU RECEIVER_CPU -> MB/s, "N~" when capped
  local line
  line=$("$udp_ceiling" --bytes "$bytes" --mode "$1" --sender-cpu "$2" --receiver-cpu "$3" --max-seconds "$cap")
  printf '%s%s' "$(sed -n 's/.*MB\/s=//p' <<<"$line")" "$([[ $line == *capped=1* ]] && echo '~')"
}
for placement in $placements; do
  server_cpu=0
  client_cpu=0
  [[ $placement == split ]] && client_cpu=1
  for pattern in $patterns; do
    for server in $servers; do start_server "$server" "$server_cpu"; done
    declare -A runs=()
    # Round robin, so that a change in the machine's background load hits every server
    # alike. The ceiling runs in the same placement ("server" = sender). A capped run is
    # not repeated: one sample is enough, and all there is time for.
    read -r -a order <<<"ceiling $servers"
    for round in $(seq 0 $((repeat - 1))); do
      # ...and each round starts with the next one: no server always runs first.
      for i in "${!order[@]}"; do
        who=${order[$(((i + round) % ${#order[@]}))]}
        [[ ${runs[$who]:-} == *~* ]] && continue
        if [[ $who == ceiling ]]; then
          runs[$who]+="$(ceiling "$pattern" "$server_cpu" "$client_cpu") "
        else
          runs[$who]+="$(download "$pattern" "$client_cpu" "${port_of[$who]}") "
        fi
      done
    done
    stop_servers
    for who in ceiling $servers; do
      read -r -a list <<<"${runs[$who]}"
      result[$placement,$pattern,$who]=$(median "${list[@]}")
      samples[$placement,$pattern,$who]="${list[*]}"
      echo "e2e.sh: $placement $pattern $who: ${list[*]} MB/s" >&2
    done
    unset runs
  done
done

echo "Loopback download of $bytes bytes, median of $repeat, MB/s (10^6 B/s); load at start $load_start, at end" \
  "$(cut -d' ' -f1-3 /proc/loadavg); tree $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo +changes)"
echo "(\"N~\": the download was stopped after ${cap} s; N is the rate of what it had received by then)"
echo
echo "| transfer | placement | reference | tftpd-hpa | atftpd | ceiling | ref/tftpd-hpa | ref/atftpd | ref/ceil | tftpd-hpa/ceil | atftpd/ceil |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for pattern in $patterns; do
  for placement in $placements; do
    r=${result[$placement,$pattern,reference]}
    h=${result[$placement,$pattern,tftpd-hpa]}
    a=${result[$placement,$pattern,atftpd]}
    c=${result[$placement,$pattern,ceiling]}
    case $pattern in
      lockstep) what="tftp-hpa client, blksize 512 lockstep" ;;
      window) what="atftp client, blksize 65464 windowsize 16 (tftpd-hpa: lockstep)" ;;
    esac
    case $placement in
      same) where="same core (0/0)" ;;
      split) where="split (server 0, client 1)" ;;
    esac
    echo "| $what | $where | $r | $h | $a | $c | $(ratio "$r" "$h") | $(ratio "$r" "$a") | $(ratio "$r" "$c") | $(ratio "$h" "$c") | $(ratio "$a" "$c") |"
  done
done
for extra in ${EXTRA_SERVERS:-}; do
  echo
  echo "| $extra | placement | MB/s | /tftpd-hpa | /atftpd | /reference | /ceil |"
  echo "|---|---|---:|---:|---:|---:|---:|"
  for pattern in $patterns; do
    for placement in $placements; do
      x=${result[$placement,$pattern,$extra]}
      echo "| $pattern | $placement | $x | $(ratio "$x" "${result[$placement,$pattern,tftpd-hpa]}") |" \
        "$(ratio "$x" "${result[$placement,$pattern,atftpd]}") | $(ratio "$x" "${result[$placement,$pattern,reference]}") |" \
        "$(ratio "$x" "${result[$placement,$pattern,ceiling]}") |"
    done
  done
done
echo
echo "Samples (MB/s):"
echo
for pattern in $patterns; do
  for placement in $placements; do
    for who in $servers ceiling; do
      echo "- $pattern $placement $who: ${samples[$placement,$pattern,$who]}"
    done
  done
done

failed=0
for v in "${result[@]}"; do [[ $v == fail ]] && failed=1; done
[[ $failed == 1 ]] && echo "e2e.sh: some downloads failed (wrong or missing content)" >&2
exit $failed
