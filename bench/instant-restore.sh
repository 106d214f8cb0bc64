#!/usr/bin/env bash
# Issue 17: instant restore. Time from POST /v1/disks (create.restoreFrom) to the first guest read
# served; guest 4 KiB random-read IOPS while the restore streams (limited to RATE) and after it;
# the stream's MiB/s unlimited with 1 and with INFLIGHT pieces in flight, against `qemu-img convert`
# of the same source into a new qcow2.
# Usage: bench/instant-restore.sh       SIZE=1G RUNTIME=10 RATE=64M INFLIGHT=4 WORK=/var/tmp/fleeced-restore-bench
# Needs: qemu-utils (qemu-img, qemu-io), fio (nbd engine), curl, jq, bc. Run it when the machine is quiet.
# The source is a qcow2 backup in the daemon's backupDirs: random data in every other 64 MiB, holes
# between (so the stream writes zero ranges as zeroes, as a real disk's free space). It is read
# from the page cache when it fits: the figures are the restore path's cost, not disk speed.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${SIZE:-1G} RUNTIME=${RUNTIME:-10} RATE=${RATE:-64M} INFLIGHT=${INFLIGHT:-4} REST=${REST:-8598} NBD=${NBD:-10898}
WORK=${WORK:-/var/tmp/fleeced-restore-bench}
bytes=$(numfmt --from=iec "$SIZE") rate=$(numfmt --from=iec "$RATE")
rm -rf "$WORK/state/images" "$WORK/convert.qcow2"
mkdir -p "$WORK/state/backups" "$WORK/state/images"
src=$WORK/state/backups/source.qcow2
if [ ! -f "$src" ] || [ "$(qemu-img info --output=json "$src" | jq '."virtual-size"')" != "$bytes" ]; then
  echo "making $src ($SIZE, random data in every other 64 MiB)..." >&2
  rm -f "$WORK/source.raw"; truncate -s "$bytes" "$WORK/source.raw"
  for ((off = 0; off < bytes; off += 128 << 20)); do
    head -c $((64 << 20)) /dev/urandom | dd of="$WORK/source.raw" bs=1M seek=$((off >> 20)) conv=notrunc status=none
  done
  qemu-img convert -f raw -O qcow2 "$WORK/source.raw" "$src"
  rm -f "$WORK/source.raw"
fi

. bench/lib/fleeced_daemon.sh
start_fleeced "$WORK" "$REST" "$NBD"

now() { date +%s.%N; }
restore() { # NAME LIMIT [PIECES IN FLIGHT]: POST the restore; prints the POST's start time
  local t0; t0=$(now)
  curl -sf -H 'Content-Type: application/json' -d "{\"name\":\"$1\",\"path\":\"$WORK/state/images/$1.qcow2\",
    \"create\":{\"restoreFrom\":{\"path\":\"$src\",\"format\":\"qcow2\"},
    \"restoreLimits\":{\"bytesPerSecond\":$2,\"inFlight\":${3:-$INFLIGHT}}}}" \
    "$api/disks" > /dev/null
  echo "$t0"
}
await_complete() { until [ "$(curl -sf "$api/disks/$1" | jq -r .restore.state)" = complete ]; do sleep 0.2; done; }
iops() { # fio notes may precede its JSON: keep from the first '{'
  fio --name=r --ioengine=nbd --uri="nbd://127.0.0.1:$NBD/$1" --readonly --rw=randread --bs=4k --iodepth=16 \
    --time_based --runtime="$RUNTIME" --output-format=json --output="$WORK/fio.json" > /dev/null 2>&1
  sed -n '/^{/,$p' "$WORK/fio.json" | jq '.jobs[0].read.iops | floor'; }

t=$(now); qemu-img convert -f qcow2 -O qcow2 "$src" "$WORK/convert.qcow2"; convert_s=$(echo "$(now) - $t" | bc -l)

t0=$(restore fast 0)
post_ms=$(echo "($(now) - $t0) * 1000" | bc -l)
qemu-io -f raw -c "read $((bytes / 2 + 4096)) 4k" "nbd://127.0.0.1:$NBD/fast" > /dev/null
first_read_ms=$(echo "($(now) - $t0) * 1000" | bc -l)
await_complete fast
stream_s=$(echo "$(now) - $t0" | bc -l)
stream() { local t0; t0=$(restore "$1" 0 "$2"); await_complete "$1"; echo "$(now) - $t0" | bc -l; }
# 1 and INFLIGHT pieces in flight, each twice, alternating (the first restore above warmed the JVM)
par_s=$(stream par1 "$INFLIGHT"); serial_s=$(stream serial1 1)
par_s="$par_s + $(stream par2 "$INFLIGHT")"; serial_s="$serial_s + $(stream serial2 1)"

restore slow "$rate" > /dev/null
during=$(iops slow)
await_complete slow
after=$(iops slow)

mib=$(echo "$bytes / 1048576" | bc -l)
echo
echo "instant restore, $SIZE qcow2 backup (half data, half holes), restore stream RATE=$RATE for the IOPS rows ($(nproc) cores, $(date -u +%FT%TZ), fleeced $(git rev-parse --short HEAD))"
echo
echo "| metric | value |"
echo "|---|---:|"
printf '| POST /v1/disks answered (source opened, image created, disk attached) | %.0f ms |\n' "$post_ms"
printf '| POST /v1/disks to the first guest read served (qemu-io start included) | %.0f ms |\n' "$first_read_ms"
printf '| guest 4 KiB randread IOPS during the restore (stream at %s/s) | %s |\n' "$RATE" "$during"
printf '| guest 4 KiB randread IOPS after it (filter gone) | %s |\n' "$after"
printf '| restore stream, unlimited, first restore of the run (POST to complete) | %.0f MiB/s |\n' "$(echo "$mib / $stream_s" | bc -l)"
printf '| restore stream, unlimited, 1 piece in flight (mean of 2) | %.0f MiB/s |\n' "$(echo "2 * $mib / ($serial_s)" | bc -l)"
printf '| restore stream, unlimited, %s pieces in flight (mean of 2) | %.0f MiB/s |\n' "$INFLIGHT" "$(echo "2 * $mib / ($par_s)" | bc -l)"
printf '| qemu-img convert of the same source to qcow2 | %.0f MiB/s |\n' "$(echo "$mib / $convert_s" | bc -l)"
