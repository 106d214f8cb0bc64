#!/usr/bin/env bash
# How long bin/fleeced takes to be ready: `daemon` to REST /health answering and to the NBD
# greeting on TCP and on its Unix socket; `serve` to its URI on stdout and to the NBD greeting.
# One warm-up run of each (not counted: page cache, a first-run build), then RUNS runs each,
# alternating; prints every run and the median. Timing starts at the fork of bin/fleeced, so
# the launcher's own cost (finding the JDK) is included.
# Usage: bench/startup.sh            RUNS=10 by default; FLEECED=path/to/launcher to compare builds
#        FLEECED_JAVA_OPTS=...       passed through to the launcher, as always
set -euo pipefail
top=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
RUNS=${RUNS:-10}
FLEECED=${FLEECED:-$top/bin/fleeced}
export PATH=/usr/bin:/bin:$PATH
work=$(mktemp -d /tmp/fleeced-startup.XXXXXX)
trap 'rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
probe() { python3 "$top/bench/lib/startup_probe.py" "$@"; }

rest=$(free_port); nbd=$(free_port); serve_port=$(free_port)
cat > "$work/fleeced.yaml" <<YAML
stateDir: $work/state
rest: {port: $rest}
nbd: {port: $nbd}
YAML
qemu-img create -q -f qcow2 "$work/serve.qcow2" 1G
daemon() { probe --health "$rest" --nbd "$nbd" --nbd-unix "$work/state/nbd.sock" -- "$FLEECED" daemon --config "$work/fleeced.yaml"; }
serve() { probe --stdout-line --nbd "$serve_port" -- "$FLEECED" serve "$work/serve.qcow2" --port "$serve_port"; }

daemon > /dev/null; serve > /dev/null   # warm-up
: > "$work/daemon.txt"; : > "$work/serve.txt"
for i in $(seq "$RUNS"); do
  d=$(daemon); s=$(serve)
  echo "run $i: daemon $d; serve $s" >&2
  echo "$d" >> "$work/daemon.txt"; echo "$s" >> "$work/serve.txt"
done
median() { # file key
  tr ' ' '\n' < "$1" | sed -n "s/^$2=//p" | sort -n |
    awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'
}
echo "median of $RUNS runs (ms from the fork of $FLEECED):"
echo "  daemon: /health $(median "$work/daemon.txt" health), NBD TCP $(median "$work/daemon.txt" nbd), NBD Unix $(median "$work/daemon.txt" nbd_unix); CPU $(median "$work/daemon.txt" cpu)"
echo "  serve:  URI printed $(median "$work/serve.txt" stdout), NBD TCP $(median "$work/serve.txt" nbd); CPU $(median "$work/serve.txt" cpu)"
