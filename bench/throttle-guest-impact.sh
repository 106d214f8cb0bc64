#!/usr/bin/env bash
# Issue 15 part 3: what a backup reader costs the guest, and what throttling buys back.
# The guest runs fio 4 KiB random writes (iodepth 16) on its writable export for RUNTIME s while
# nbdcopy reads the whole fleece export of a full job, in four settings:
#   none        no job, no reader: the guest alone
#   job only    a job, no reader: what its copy-before-write alone costs the guest (the floor
#               no throttling of the reader can lift)
#   unthrottled a job, nbdcopy at full speed
#   adaptive    readLimits {guestLatencyTargetMillis: TARGET_MS}
#   fixed       readLimits {bytesPerSecond: FIXED_MIB MiB/s}
# and prints guest IOPS and p99 write latency (relative to none), and how long the backup took.
# Usage: bench/throttle-guest-impact.sh      SIZE=2G RUNTIME=20 ROUNDS=1 TARGET_MS=5 FIXED_MIB=50
# Needs: qemu-utils, fio, libnbd-bin (nbdcopy), curl, jq, python3. Run it when the machine is quiet.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${SIZE:-2G} RUNTIME=${RUNTIME:-20} ROUNDS=${ROUNDS:-1} TARGET_MS=${TARGET_MS:-5} FIXED_MIB=${FIXED_MIB:-50}
REST=${REST:-8598} NBD=${NBD:-10898}
WORK=${WORK:-$(mktemp -d /var/tmp/fleeced-throttle-bench.XXXXXX)}
mkdir -p "$WORK/state/images"
img=$WORK/state/images/disk.qcow2
qemu-img create -q -f qcow2 "$img" "$SIZE"
echo "writing $SIZE of data into $img..." >&2
# in 256 MiB requests: qemu-io refuses one request of 2 GiB or more
bytes=$(numfmt --from=iec "$SIZE")
for ((off = 0; off < bytes; off += 256 << 20)); do
  echo "write -q -P 0x5a $off $((bytes - off < 256 << 20 ? bytes - off : 256 << 20))"
done | qemu-io -f qcow2 "$img" > /dev/null

. bench/lib/fleeced_daemon.sh
start_fleeced "$WORK" "$REST" "$NBD"
curl -sf -H 'Content-Type: application/json' -d "{\"name\":\"disk\",\"path\":\"$img\",\"format\":\"qcow2\"}" "$api/disks" > /dev/null
guest=nbd://127.0.0.1:$NBD/disk

# guest NAME: fio on the writable export; prints "IOPS P99_MS"
guest_fio() {
  fio --name="$1" --ioengine=nbd --uri="$guest" --rw=randwrite --bs=4k --iodepth=16 --time_based \
    --runtime="$RUNTIME" --output-format=json --output="$WORK/fio-$1.json" > /dev/null 2>&1
  python3 - "$WORK/fio-$1.json" <<'PY'
import json, sys
s = open(sys.argv[1]).read(); w = json.loads(s[s.index("{"):s.rindex("}") + 1])["jobs"][0]["write"]
print("%.0f %.2f" % (w["iops"], w["clat_ns"]["percentile"]["99.000000"] / 1e6))
PY
}

# Warm-up, not measured: the JIT compiles the guest, copy-before-write and reader paths, and the
# temp image's page cache is allocated once. Without it the first mode measured pays both (on a
# fresh VM, first-time page allocation alone made the first job's copies cost twice as much CPU).
echo "warming up (a job with a reader, ${RUNTIME} s)..." >&2
job=$(curl -sf -H 'Content-Type: application/json' -d '{"disks":["disk"],"checkpoint":"warm-up"}' "$api/jobs")
( nbdcopy "$(jq -r '.disks[0].uri' <<<"$job")" null: ) &
guest_fio warm-up > /dev/null
wait $!
curl -sf -H 'Content-Type: application/json' -d '{"outcome":"failure"}' "$api/jobs/$(jq -r .id <<<"$job")/finish" > /dev/null

results=$WORK/results.tsv
: > "$results"
for round in $(seq "$ROUNDS"); do
  read -r iops p99 < <(guest_fio "none-$round")
  printf 'none\t%s\t%s\t-\n' "$iops" "$p99" >> "$results"
  for mode in jobonly unthrottled adaptive fixed; do
    case $mode in
      jobonly | unthrottled) limits='{}' ;;
      adaptive) limits="{\"guestLatencyTargetMillis\": $TARGET_MS}" ;;
      fixed) limits="{\"bytesPerSecond\": $((FIXED_MIB << 20))}" ;;
    esac
    job=$(curl -sf -H 'Content-Type: application/json' \
      -d "{\"disks\":[\"disk\"],\"checkpoint\":\"b$round-$mode\",\"readLimits\":$limits}" "$api/jobs")
    id=$(jq -r .id <<<"$job") uri=$(jq -r '.disks[0].uri' <<<"$job")
    t0=$(date +%s.%N)
    if [ "$mode" = jobonly ]; then
      read -r iops p99 < <(guest_fio "$mode-$round")
      backup=0
    else
      ( nbdcopy "$uri" null: && date +%s.%N > "$WORK/copy-end" ) &
      copy=$!
      read -r iops p99 < <(guest_fio "$mode-$round")
      wait $copy
      backup=$(echo "$(cat "$WORK/copy-end") - $t0" | bc -l)
    fi
    curl -sf "$api/jobs/$id" | jq -c '.disks[0].stats' >> "$WORK/job-stats.jsonl"
    curl -sf -H 'Content-Type: application/json' -d '{"outcome":"failure"}' "$api/jobs/$id/finish" > /dev/null
    printf '%s\t%s\t%s\t%.1f\n' "$mode" "$iops" "$p99" "$backup" >> "$results"
  done
done

echo
echo "guest 4 KiB randwrite (iodepth 16, ${RUNTIME} s) while nbdcopy reads a $SIZE full job's export;"
echo "median of $ROUNDS round(s), $(nproc) cores, $(date -u +%FT%TZ), fleeced $(git rev-parse --short HEAD)"
echo
med() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
base=$(awk -F'\t' '$1=="none" {print $2}' "$results" | med)
echo "| reader | guest IOPS | vs none | guest p99 (ms) | backup (s) |"
echo "|---|---:|---:|---:|---:|"
for mode in none jobonly unthrottled adaptive fixed; do
  iops=$(awk -F'\t' -v m=$mode '$1==m {print $2}' "$results" | med)
  p99=$(awk -F'\t' -v m=$mode '$1==m {print $3}' "$results" | med)
  dur=$(awk -F'\t' -v m=$mode '$1==m {print $4}' "$results" | med)
  label=$mode
  [ "$mode" = jobonly ] && label="job only, no reader"
  [ "$mode" = adaptive ] && label="adaptive ${TARGET_MS} ms"
  [ "$mode" = fixed ] && label="fixed ${FIXED_MIB} MiB/s"
  echo "| $label | $iops | $(echo "scale=2; $iops / $base" | bc -l) | $p99 | $dur |"
done
echo
echo "raw values in $results, job stats in $WORK/job-stats.jsonl"
