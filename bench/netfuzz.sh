#!/bin/sh
# Fuzzes the reference server and the peers over loopback with `tftpspec fuzz`, each with a
# --restart-cmd (restart_daemon.sh) so deaths are shrunk, and prints each campaign's summary.
#   bench/netfuzz.sh BUILD_DIR SECONDS OUT_DIR [SEED] [SERVERS...]
# SERVERS: any of reference tftpd-hpa atftpd dnsmasq (default: all four), run one after the
# other. Reports and findings go to OUT_DIR/<server>/. Cases per second are the campaign's
# own figure (fuzz-report.json summary.cases_per_second).
set -eu
build=$(cd "$1" && pwd); secs=$2; out=$3; seed=${4:-1}
shift 3; [ $# -gt 0 ] && shift
servers=${*:-reference tftpd-hpa atftpd dnsmasq}
here=$(cd "$(dirname "$0")" && pwd)
tftpspec=$build/tftpspec
atftpd=${TFTPSPEC_ATFTPD:-$here/../build/peers/atftpd/usr/sbin/atftpd}
mkdir -p "$out"; out=$(cd "$out" && pwd)
root=$(mktemp -d /tmp/tftpspec-netfuzz-root.XXXXXX)
"$tftpspec" fixtures "$root" >/dev/null
chmod -R a+rwX "$root"  # dnsmasq as root serves only world-readable files
port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
for server in $servers; do
  dir=$out/$server; mkdir -p "$dir"; pidfile=$dir/server.pid; rm -f "$pidfile"
  host=127.0.0.1; p=$(port)
  case $server in
    reference) cmd="$tftpspec serve --root $root --listen $host:$p --writable -q" ;;
    tftpd-hpa) cmd="/usr/sbin/in.tftpd -L -a $host:$p -s -u root -c $root" ;;
    atftpd)    cmd="$atftpd --daemon --no-fork --port $p --bind-address $host --user root --group root --logfile /dev/null $root" ;;
    dnsmasq)   host=127.0.0.$((200 + $$ % 50)); p=69
               cmd="/usr/sbin/dnsmasq --no-daemon --conf-file=/dev/null --port=0 --enable-tftp --tftp-root=$root --listen-address=$host --bind-interfaces --log-facility=/dev/null" ;;
    *) echo "unknown server $server" >&2; exit 2 ;;
  esac
  restart="$here/restart_daemon.sh $pidfile $host:$p $cmd"
  sh -c "$restart"
  echo "== $server at $host:$p for $secs s (seed $seed)"
  "$tftpspec" fuzz --target "$host:$p" --seed "$seed" --duration "$secs" --out "$dir" --quiet \
    --restart-cmd "$restart" >"$dir/stdout.txt" 2>&1 || true
  cat "$dir/stdout.txt"
  if [ -s "$pidfile" ]; then kill -KILL -- "-$(cat "$pidfile")" 2>/dev/null || kill -KILL "$(cat "$pidfile")" 2>/dev/null || true; fi
done
rm -rf "$root"
