#!/usr/bin/env bash
# Records captures of real transfers into pcaps/ (tcpdump on loopback): tftp-hpa and atftp
# clients against tftpd-hpa on a loopback address of its own, so other loopback traffic on the
# machine stays out of the capture. Each capture's expectations (pcaps/NAME.expect.json) are
# written by hand from the files transferred, not from tftpspec's output.
# Usage: scripts/record_pcaps.sh   (needs root for tcpdump; scripts/setup.sh installs the tools)
set -euo pipefail
cd "$(dirname "$0")/.."
addr=127.10.20.30
port=6970
work="$(mktemp -d)"
server_pid=""
capture_pid=""
cleanup() {
  [ -z "$capture_pid" ] || kill "$capture_pid" 2>/dev/null || true
  [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/root" "$work/client"
# The files served: binary (3000 bytes: 5 full blocks and a short one), text with LF
# newlines (netascii on the wire), and one of exactly two blocks (a 0-byte final block).
head -c 3000 /dev/urandom >"$work/root/firmware.bin"
printf 'line one\nline two\n\nlast line without newline' >"$work/root/notes.txt"
head -c 1024 /dev/zero | tr '\0' 'z' >"$work/root/two-blocks.bin"
head -c 2000 /dev/urandom >"$work/client/upload.bin"
chmod 666 "$work/root"/*
: >"$work/root/upload.bin" && chmod 666 "$work/root/upload.bin"

/usr/sbin/in.tftpd -L -a "$addr:$port" -s -u root -c "$work/root" &
server_pid=$!

# record NAME COMMAND...: captures what COMMAND exchanges with the server into pcaps/NAME.pcap.
record() {
  local name="$1"
  shift
  # --immediate-mode: without it the kernel may hold the last frames past the stop.
  tcpdump -i lo -U --immediate-mode -n -w "pcaps/$name.pcap" "udp and host $addr" 2>"$work/tcpdump.log" &
  capture_pid=$!
  for _ in $(seq 100); do grep -q "listening on" "$work/tcpdump.log" && break; sleep 0.05; done
  (cd "$work/client" && "$@") >/dev/null 2>&1 || true
  sleep 0.3  # late datagrams (a final ACK, a retransmission) before the capture stops
  kill -INT "$capture_pid"
  wait "$capture_pid" 2>/dev/null || true
  capture_pid=""
  echo "pcaps/$name.pcap: $(tcpdump -nr "pcaps/$name.pcap" 2>/dev/null | wc -l) packets"
}

record hpa_rrq_octet tftp -m binary "$addr" "$port" -c get firmware.bin
record hpa_rrq_netascii tftp -m ascii "$addr" "$port" -c get notes.txt
record hpa_rrq_two_blocks tftp -m binary "$addr" "$port" -c get two-blocks.bin
record hpa_rrq_not_found tftp -m binary "$addr" "$port" -c get no-such-file
record hpa_wrq_octet tftp -m binary "$addr" "$port" -c put upload.bin
record atftp_rrq_options atftp --option "blksize 1428" --option "tsize 0" --get -r firmware.bin -l got.bin "$addr" "$port"
