# Sourced by bench scripts run from the top of the checkout: start_fleeced WORK REST NBD starts
# `bin/fleeced daemon` with its state in WORK/state (REST and NBD on the given ports, NBD socket
# nbd.sock), stops it when the script exits, waits until /health answers, and sets `daemon` (its
# pid) and `api` (the REST base URL, .../v1).
start_fleeced() {
  local work=$1 rest=$2 nbd=$3
  cat > "$work/fleeced.yaml" <<YAML
stateDir: $work/state
rest: {port: $rest}
nbd: {port: $nbd, socket: nbd.sock}
YAML
  bin/fleeced daemon --config "$work/fleeced.yaml" > "$work/daemon.log" 2>&1 &
  daemon=$!
  trap 'kill $daemon 2>/dev/null; wait $daemon 2>/dev/null || true' EXIT
  api=http://127.0.0.1:$rest/v1
  curl -sf --retry 120 --retry-delay 1 --retry-connrefused "http://127.0.0.1:$rest/health" > /dev/null
}
