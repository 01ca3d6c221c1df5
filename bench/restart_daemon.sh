#!/bin/sh
# A --restart-cmd for `tftpspec fuzz` around a server that runs in the foreground:
#   restart_daemon.sh PIDFILE [IPV4:]PORT COMMAND [ARG]...
# kills the process group named in PIDFILE (the previous instance and any helpers it
# forked, such as in.tftpd's per-transfer children), starts COMMAND in a new session in the
# background, records its pid, and returns once a UDP socket is bound on PORT (at most 5 s).
set -eu
pidfile=$1; port=$2; shift 2
if [ -s "$pidfile" ]; then
  old=$(cat "$pidfile")
  kill -KILL -- "-$old" 2>/dev/null || kill -KILL "$old" 2>/dev/null || true
fi
# /proc/net/udp shows a local IPv4 address as little-endian hex: 127.0.0.5 is 0500007F.
case $port in
  *:*) ip=${port%:*}; port=${port##*:}
       key=$(echo "$ip" | awk -F. '{ printf "%02X%02X%02X%02X", $4, $3, $2, $1 }'):$(printf '%04X' "$port") ;;
  *)   key=:$(printf '%04X' "$port") ;;
esac
# The local address is the second field of each line.
bound() { awk -v k="$key" '{ if (index($2, k) > 0) found = 1 } END { exit !found }' /proc/net/udp /proc/net/udp6 2>/dev/null; }
# Wait for the old socket to go, so the check below sees the new one.
i=0; while bound && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
setsid "$@" </dev/null >/dev/null 2>&1 &
echo $! > "$pidfile"
i=0; while ! bound; do
  [ $i -ge 50 ] && { echo "restart_daemon.sh: nothing bound on port $port after 5 s" >&2; exit 1; }
  sleep 0.1; i=$((i+1))
done
