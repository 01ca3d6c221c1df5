#!/usr/bin/env bash
# Records captures of real transfers into pcaps/ (tcpdump on loopback): tftp-hpa and atftp
# clients against tftpd-hpa on a loopback address of its own, so other loopback traffic on the
# machine stays out of the capture. Each capture's expectations (pcaps/NAME.expect.json) are
# written by hand from the files transferred, not from tftpspec's output.
# Usage: scripts/record_pcaps.sh [NAME...]   (needs root for tcpdump; scripts/setup.sh installs
# the tools; the peers' atftpd is build/peers, the reference server build/release/tftpspec or
# $TFTPSPEC). With NAMEs, only those captures are recorded again.
set -euo pipefail
cd "$(dirname "$0")/.."
addr=127.10.20.30
port=6970
addr2=127.10.20.31    # dnsmasq: its TFTP port is always 69, so it gets an address of its own
addr3=127.10.20.32    # the client of the reference server (curl --interface)
atftpd_port=6971
tftpspec="${TFTPSPEC:-build/release/tftpspec}"
atftpd="${ATFTPD:-build/peers/atftpd/usr/sbin/atftpd}"
work="$(mktemp -d)"
server_pid=""
capture_pid=""
other_pids=()
cleanup() {
  [ -z "$capture_pid" ] || kill "$capture_pid" 2>/dev/null || true
  [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
  for p in "${other_pids[@]}"; do kill "$p" 2>/dev/null || true; done
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
only=" $* "
record() {
  local name="$1"
  shift
  if [ "$only" != "  " ] && [[ "$only" != *" $name "* ]]; then return; fi
  # --immediate-mode: without it the kernel may hold the last frames past the stop.
  tcpdump -i lo -U --immediate-mode -n -w "pcaps/$name.pcap" "udp and (host $addr or host $addr2 or host $addr3)" 2>"$work/tcpdump.log" &
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

# ---- More clients and servers (issue 10 item 6). Deterministic contents (a function of the
# offset), so recording again gives the same files; each capture is a few KiB.
pattern() {  # pattern FILE SIZE
  python3 -c "import sys; sys.stdout.buffer.write(bytes((i * 7 + i // 251) % 256 for i in range($2)))" >"$1"
}
mkdir -p "$work/atftpd" "$work/dnsmasq"
for d in "$work/atftpd" "$work/dnsmasq" "$work/root"; do
  pattern "$d/image.bin" 6000   # 11 full 512-byte blocks and a short one
  pattern "$d/small.bin" 700
done
pattern "$work/client/up.bin" 1500
chmod -R a+rwX "$work"

"$atftpd" --daemon --no-fork --port "$atftpd_port" --bind-address "$addr" --user root --group root \
  --logfile /dev/null "$work/atftpd" &
other_pids+=($!)
dnsmasq --no-daemon --conf-file=/dev/null --port=0 --enable-tftp --tftp-root="$work/dnsmasq" \
  --listen-address="$addr2" --bind-interfaces --log-facility=/dev/null &
other_pids+=($!)
# Until each server's port is bound (a loaded machine takes seconds to start them).
for p in "$addr:$atftpd_port" "$addr2:69"; do
  for _ in $(seq 200); do ss -Hnul "src $p" | grep -q . && break; sleep 0.05; done
done

record curl_rrq_blksize curl --silent --tftp-blksize 1024 --output got.bin "tftp://$addr:$port/image.bin"
record busybox_rrq busybox tftp -g -r small.bin -l got.bin "$addr" "$port"
record busybox_wrq busybox tftp -p -r busybox-up.bin -l up.bin "$addr" "$port"
record atftp_atftpd_windowsize atftp --option "windowsize 4" --option "blksize 512" --get -r image.bin -l got.bin "$addr" "$atftpd_port"
record atftp_atftpd_not_found atftp --get -r missing.bin -l got.bin "$addr" "$atftpd_port"
record hpa_dnsmasq_rrq tftp -m binary "$addr2" 69 -c get small.bin
record curl_dnsmasq_wrq_refused curl --silent --upload-file up.bin "tftp://$addr2:69/up.bin"
# The reference server (`tftpspec serve`) with a real client. curl binds its socket to an
# address of its own (--interface), so the whole conversation stays between loopback
# addresses the capture filter names, whichever source address the server's replies take.
ref_port=6972
mkdir -p "$work/reference"
pattern "$work/reference/image.bin" 6000
chmod -R a+rwX "$work/reference"
"$tftpspec" serve --root "$work/reference" --listen "$addr:$ref_port" --writable -q &
other_pids+=($!)
for _ in $(seq 200); do ss -Hnul "src $addr:$ref_port" | grep -q . && break; sleep 0.05; done
record reference_curl_rrq curl --silent --interface "$addr3" --tftp-blksize 1024 --output got.bin "tftp://$addr:$ref_port/image.bin"
record reference_curl_wrq curl --silent --interface "$addr3" --upload-file up.bin "tftp://$addr:$ref_port/curl-up.bin"

# A run of a fault scenario, written by tftpspec itself (run --pcap): the embedded reference
# server resending DATA on a duplicate ACK, the Sorcerer's Apprentice (RFC 1123 §4.2.3.1).
if [ "$only" = "  " ] || [[ "$only" == *" run_fault_sas "* ]]; then
  "$tftpspec" run --seed 1 --reference-fault resend_on_duplicate_ack --scenario rfc1123.sas.duplicate-ack-1 \
    --pcap pcaps/run_fault_sas.pcap >/dev/null 2>&1 || true
  echo "pcaps/run_fault_sas.pcap: $(tcpdump -nr pcaps/run_fault_sas.pcap 2>/dev/null | wc -l) packets"
fi
