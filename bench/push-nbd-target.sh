#!/usr/bin/env bash
# push-nbd-target.sh: a full push of one disk into an NBD target (qemu-nbd over a raw file, on
# TCP loopback; or nbdkit with a delay per write, a backup host far away), with 1, 4 and 8
# copies in flight, and the wall time of each: what pipelined requests on the daemon's NBD client
# buy over one request at a time.
#
# usage: bench/push-nbd-target.sh
# Environment (defaults in brackets):
#   ROUNDS [3]        rounds; each pushes once per COPIES value (order rotates)
#   SIZE [1G]         disk size; every other MiB is written (50 % allocated)
#   COPIES ["1 4 8"]  the copiesInFlight values to compare
#   TARGET_DELAY []   when set (e.g. 20ms), the target is nbdkit's file plugin behind its delay
#                     filter, each write taking that long more (a round trip to a remote host)
#   FLEECED [bin/fleeced of this checkout]  the launcher to run (another checkout's, to compare builds)
#   WORK [/var/tmp/push-nbd-bench]  wiped at start
#   FLEECED_NBD_PORT [10952], FLEECED_REST_PORT [8596], TARGET_PORT [10953]
#
# The last lines are a markdown table of medians (seconds, and MiB/s of the allocated bytes).
set -Eeuo pipefail
here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
top=$(cd "$here/.." && pwd)
ROUNDS=${ROUNDS:-3}
SIZE_B=$(numfmt --from=iec "${SIZE:-1G}")
COPIES=${COPIES:-"1 4 8"}
FLEECED=${FLEECED:-$top/bin/fleeced}
WORK=${WORK:-/var/tmp/push-nbd-bench}
FL_NBD_PORT=${FLEECED_NBD_PORT:-10952}
FL_REST_PORT=${FLEECED_REST_PORT:-8596}
TARGET_PORT=${TARGET_PORT:-10953}
FL_URL=http://127.0.0.1:$FL_REST_PORT
RESULTS=$WORK/results.tsv
PIDS=()

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
now_ns() { date +%s%N; }
cleanup() {
  local p; for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK/fleeced" "$WORK/target.raw"
}
trap cleanup EXIT
for t in qemu-img qemu-io qemu-nbd nbdkit curl jq numfmt bc; do
  command -v "$t" >/dev/null || { log "$t is not installed"; exit 1; }
done

rm -rf "$WORK"; mkdir -p "$WORK/fleeced/state" "$WORK/fleeced/images" "$WORK/fleeced/tmp"
: >"$RESULTS"
log "making the disk: $SIZE_B bytes, every other MiB written"
qemu-img create -q -f qcow2 "$WORK/fleeced/images/disk.qcow2" "$SIZE_B"
cmds=(); for ((o = 0; o < SIZE_B; o += 2 << 20)); do cmds+=(-c "write -P 0x5a $o 1M"); done
qemu-io -f qcow2 "${cmds[@]}" "$WORK/fleeced/images/disk.qcow2" >/dev/null
ALLOCATED=$((SIZE_B / 2))

rest() { curl -sSf -X "$1" ${3:+-H 'Content-Type: application/json' --data "$3"} "$FL_URL$2"; }
jq -n --arg s "$WORK/fleeced/state" --argjson rp "$FL_REST_PORT" --argjson np "$FL_NBD_PORT" \
  --arg i "$WORK/fleeced/images" --arg t "$WORK/fleeced/tmp" \
  '{stateDir:$s, rest:{port:$rp}, nbd:{port:$np}, imageDirs:[$i], tempDirs:[$t]}' >"$WORK/fleeced/config.json"
"$FLEECED" daemon --config "$WORK/fleeced/config.json" >"$WORK/fleeced/fleeced.log" 2>&1 &
PIDS+=($!)
curl -sf --retry 300 --retry-delay 1 --retry-connrefused "$FL_URL/health" >/dev/null
rest POST /v1/disks "$(jq -cn --arg p "$WORK/fleeced/images/disk.qcow2" '{name:"disk",path:$p,format:"qcow2"}')" >/dev/null

run_push() { # run_push ROUND COPIES
  local r=$1 c=$2 server id out state=running t0 t1
  rm -f "$WORK/target.raw"; truncate -s "$SIZE_B" "$WORK/target.raw"
  rm -f "$WORK/target.pid"
  # the server writes its pid file once it listens; qemu-nbd serves the push, then exits
  if [ -n "${TARGET_DELAY:-}" ]; then
    nbdkit -f -i 127.0.0.1 -p "$TARGET_PORT" -P "$WORK/target.pid" --filter=delay file "$WORK/target.raw" \
      wdelay="$TARGET_DELAY" &
  else
    qemu-nbd -f raw -x backup -b 127.0.0.1 -p "$TARGET_PORT" --pid-file="$WORK/target.pid" "$WORK/target.raw" &
  fi
  server=$!
  for _ in $(seq 300); do [ -s "$WORK/target.pid" ] && break; sleep 0.05; done
  t0=$(now_ns)
  id=$(rest POST /v1/jobs "$(jq -cn --arg c "p$r-$c" --argjson n "$c" --arg u "nbd://127.0.0.1:$TARGET_PORT/backup" \
    '{disks:["disk"],checkpoint:$c,copiesInFlight:$n,targets:{disk:{uri:$u}}}')" | jq -r .id)
  while [ "$state" = running ]; do
    out=$(curl -sf "$FL_URL/v1/jobs/$id"); state=$(jq -r .state <<<"$out")
    [ "$state" = running ] && sleep 0.05
  done
  t1=$(now_ns)
  [ -z "${TARGET_DELAY:-}" ] || kill "$server"
  wait "$server" 2>/dev/null || true
  [ "$state" = finished ] || { log "push $r/$c: $out"; exit 1; }
  printf 'copies%s\t%s\n' "$c" "$(echo "scale=3; ($t1 - $t0) / 1000000000" | bc)" >>"$RESULTS"
  log "  round $r, $c in flight: $(tail -1 "$RESULTS" | cut -f2) s"
  rest DELETE "/v1/disks/disk/bitmaps/p$r-$c" >/dev/null
}

read -ra values <<<"$COPIES"
for ((r = 1; r <= ROUNDS; r++)); do
  log "round $r"
  for ((i = 0; i < ${#values[@]}; i++)); do run_push "$r" "${values[(i + r) % ${#values[@]}]}"; done
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
target="qemu-nbd (TCP)"; [ -z "${TARGET_DELAY:-}" ] || target="nbdkit, $TARGET_DELAY a write (TCP)"
printf '\n| push into %s, %s, 50 %% allocated | seconds (median of %s) | MiB/s of the allocated |\n|---|---:|---:|\n' \
  "$target" "$(numfmt --to=iec "$SIZE_B")" "$ROUNDS"
for c in "${values[@]}"; do
  s=$(grep "^copies$c	" "$RESULTS" | cut -f2 | median)
  printf '| copiesInFlight %s | %s | %s |\n' "$c" "$s" "$(echo "scale=0; $ALLOCATED / 1048576 / $s" | bc)"
done
