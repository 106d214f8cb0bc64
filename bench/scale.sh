#!/usr/bin/env bash
# Issue 14 goal 6: costs that stay flat as work grows. One fleeced daemon; for each scale, the
# median of REPS timings (ms) of what backup software does most: list, start a job, read the map.
#   chain   1 / 10 / 200 checkpoints in a disk's chain: GET bitmaps, an incremental job's start
#           (POST until the answer) and the guest's largest write gap during it (stall writer),
#           and a differential job from the oldest checkpoint
#   disks   1 / 20 / 100 attached disks: GET /v1/disks, a job's start on one of them
#   jobs    1 / 20 jobs running: GET /v1/jobs, one more job's start
#   sparse  a 64 TiB sparse disk with 64 KiB written every 64 GiB: nbdinfo --map of the writable
#           export, a full job's start, nbdinfo --map of its fleece export
# Usage: bench/scale.sh      REPS=5 WORK=/var/tmp/fleeced-scale-bench REST=8597 NBD=10897
# Needs: qemu-img, qemu-io, nbdinfo, python3-libnbd, curl, jq. Run it when the machine is quiet:
# the table is for growth (each row against its smallest scale), not for absolute figures.
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-5} REST=${REST:-8597} NBD=${NBD:-10897}
WORK=${WORK:-/var/tmp/fleeced-scale-bench}
PY=/usr/bin/python3
M=$((1 << 20))
rm -rf "$WORK"; mkdir -p "$WORK/state/images" "$WORK/state/tmp"

. bench/lib/fleeced_daemon.sh
start_fleeced "$WORK" "$REST" "$NBD"

post() { curl -sf -H 'Content-Type: application/json' -d "$2" "$api/$1"; }
ms() { # ms METHOD PATH [BODY]: the request's time in ms (fails on an error status)
  local out
  if [ $# -gt 2 ]; then
    out=$(curl -sf -o /dev/null -w '%{time_total}' -X "$1" -H 'Content-Type: application/json' -d "$3" "$api/$2")
  else
    out=$(curl -sf -o /dev/null -w '%{time_total}' -X "$1" "$api/$2")
  fi
  echo "$out * 1000" | bc -l
}
timed_post() { # timed_post PATH BODY: POST, body to $WORK/last.json, prints the time in ms
  echo "$(curl -sf -o "$WORK/last.json" -w '%{time_total}' -H 'Content-Type: application/json' -d "$2" "$api/$1") * 1000" | bc -l
}
last_id() { jq -r .id "$WORK/last.json"; }
median() { sort -g | awk '{a[NR]=$1} END{if (NR==0) print "-"; else printf "%.1f\n", (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
rows=()
row() { rows+=("| $1 | $2 | $3 |"); echo "$1 @ $2: $3 ms" >&2; }
disk() { # disk NAME SIZE: a new qcow2 disk, written in its first MiB
  post disks "{\"name\":\"$1\",\"path\":\"$WORK/state/images/$1.qcow2\",\"format\":\"qcow2\",\"create\":{\"sizeBytes\":$2}}" > /dev/null
}
job() { post jobs "$1" | jq -r .id; }
abandon() { post "jobs/$1/finish" '{"outcome":"failure"}' > /dev/null; }
uri() { echo "nbd://127.0.0.1:$NBD/$1"; }
job_starts() { # job_starts DISK PREFIX: median ms of REPS full job starts on DISK, each failed at once
  local i
  for i in $(seq "$REPS"); do
    timed_post jobs "{\"disks\":[\"$1\"],\"checkpoint\":\"$2$i\"}"
    abandon "$(last_id)"
  done | median
}

# ---------------------------------------------------------------- chain length
disk chain $((1024 * M))
qemu-io -f raw -c "write -P 0x11 0 64M" "$(uri chain)" > /dev/null
have=0
for n in 1 10 200; do
  while [ "$have" -lt "$n" ]; do
    have=$((have + 1))
    post disks/chain/bitmaps "{\"name\":\"c$have\"}" > /dev/null
    qemu-io -f raw -c "write -P $((have % 200 + 1)) $(((have % 16) * M)) 64k" "$(uri chain)" > /dev/null
  done
  row "GET bitmaps" "$n checkpoints" "$(for _ in $(seq "$REPS"); do ms GET disks/chain/bitmaps; done | median)"
  gaps=() starts=() diffs=()
  for i in $(seq "$REPS"); do
    cmd="curl -sf -o $WORK/inc.json -H 'Content-Type: application/json' -d '{\"disks\":[\"chain\"],\"checkpoint\":\"i$n-$i\",\"incrementalFrom\":\"c$have\"}' $api/jobs"
    res=$("$PY" bench/lib/stall_writer.py "$(uri chain)" --duration 3 --start-at 1 --cmd "$cmd")
    gaps+=("$(jq .gap_ms <<< "$res")") starts+=("$(jq .start_ms <<< "$res")")
    abandon "$(jq -r .id "$WORK/inc.json")"
    diffs+=("$(timed_post jobs "{\"disks\":[\"chain\"],\"checkpoint\":\"d$n-$i\",\"differentialFrom\":\"c1\"}")")
    abandon "$(last_id)"
  done
  row "incremental job start (POST)" "$n checkpoints" "$(printf '%s\n' "${starts[@]}" | median)"
  row "guest write gap at that start" "$n checkpoints" "$(printf '%s\n' "${gaps[@]}" | median)"
  row "differential job from the oldest (POST)" "$n checkpoints" "$(printf '%s\n' "${diffs[@]}" | median)"
done

# ---------------------------------------------------------------- attached disks
count=1   # the chain disk
for n in 20 100; do
  while [ "$count" -lt "$n" ]; do count=$((count + 1)); disk "d$count" $((64 * M)); done
  row "GET /v1/disks" "$n disks" "$(for _ in $(seq "$REPS"); do ms GET disks; done | median)"
  row "full job start on one disk" "$n disks" "$(job_starts "d$n" "s$n-")"
done

# ---------------------------------------------------------------- running jobs
running=()
for n in 1 20; do
  while [ "${#running[@]}" -lt "$n" ]; do
    running+=("$(job "{\"disks\":[\"d$((${#running[@]} + 2))\"],\"checkpoint\":\"r${#running[@]}\"}")")
  done
  row "GET /v1/jobs" "$n jobs running" "$(for _ in $(seq "$REPS"); do ms GET jobs; done | median)"
  row "one more job's start" "$n jobs running" "$(job_starts d99 "m$n-")"
done
for id in "${running[@]}"; do abandon "$id"; done

# ---------------------------------------------------------------- 64 TiB sparse
disk sparse $((64 << 40))
for ((off = 0; off < 64 << 40; off += 64 << 30)); do echo "write -q -P 0x33 $off 64k"; done |
  qemu-io -f raw "$(uri sparse)" > /dev/null
maps=() starts=() fmaps=()
for i in $(seq "$REPS"); do
  t0=$(date +%s%N); nbdinfo --map "$(uri sparse)" > "$WORK/map.txt"; t1=$(date +%s%N)
  maps+=("$(echo "($t1 - $t0) / 1000000" | bc -l)")
  starts+=("$(timed_post jobs "{\"disks\":[\"sparse\"],\"checkpoint\":\"sp$i\"}")")
  t0=$(date +%s%N); nbdinfo --map "$(jq -r '.disks[0].uri' "$WORK/last.json")" > "$WORK/fmap.txt"; t1=$(date +%s%N)
  fmaps+=("$(echo "($t1 - $t0) / 1000000" | bc -l)")
  abandon "$(last_id)"
done
echo "map of the 64 TiB disk: $(wc -l < "$WORK/map.txt") extents; of its fleece export: $(wc -l < "$WORK/fmap.txt")" >&2
row "nbdinfo --map, writable export" "64 TiB, 1024 extents of data" "$(printf '%s\n' "${maps[@]}" | median)"
row "full job start" "64 TiB sparse" "$(printf '%s\n' "${starts[@]}" | median)"
row "nbdinfo --map, fleece export" "64 TiB sparse" "$(printf '%s\n' "${fmaps[@]}" | median)"

echo
echo "## fleeced: costs as work grows (median of $REPS, ms)"
echo
echo "| what | scale | ms |"
echo "|---|---|---:|"
printf '%s\n' "${rows[@]}"
echo
echo "- fleeced $(git rev-parse --short HEAD); $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg) at the end; $(date -u +%FT%TZ)"
