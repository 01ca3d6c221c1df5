# Shared by the end-to-end benchmark scripts (sourced): a scratch folder, servers that are
# stopped however the script ends, and loopback port helpers.

server_pids=()

# bench_workdir NAME -> sets $work, removed on exit. In tmpfs when there is one: the disk
# is not under test.
bench_workdir() {
  local base=/tmp
  [[ -d /dev/shm && -w /dev/shm ]] && base=/dev/shm
  work=$(mktemp -d "$base/tftpspec-$1.XXXXXX")
  trap 'stop_servers; rm -rf "$work"' EXIT
  trap 'exit 130' INT TERM
}

stop_servers() {
  for pid in "${server_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${server_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  server_pids=()
}

free_port() {
  python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_bound PORT PID: until something listens on PORT; fails if PID exits first or after 5 s.
wait_bound() {
  for _ in $(seq 100); do
    if ss -Hlun "sport = :$1" | grep -q .; then return 0; fi
    kill -0 "$2" 2>/dev/null || { echo "$(basename "$0"): server on port $1 exited" >&2; return 1; }
    sleep 0.05
  done
  echo "$(basename "$0"): nothing bound to port $1" >&2
  return 1
}
