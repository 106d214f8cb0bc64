#!/usr/bin/env bash
# push-vs-pull.sh: a full backup of one disk three ways, same image, same guest writer, alternating:
#   push  fleeced writes the backup itself (POST /v1/jobs with targets: a qcow2 file)
#   pull  nbdcopy reads fleeced's fleece export into a sparse raw file, then finish success
#   qsd   qemu-storage-daemon blockdev-backup sync=full into a qcow2 target
# and, for each, the wall time, the rate over the allocated bytes, and the peak temp space.
#
# usage: bench/push-vs-pull.sh [--build] [--keep]
# Environment (defaults in brackets):
#   ROUNDS [3]       rounds; each runs the three backups (order rotates)
#   SIZE [1G]        disk size; every other MiB is written (50 % allocated)
#   WRITER_RATE [16m]  the guest writer during each backup: fio 4 KiB random writes at this rate
#   WORK [/var/tmp/push-bench]  wiped at start
#   QSD_PORT [10941], FLEECED_NBD_PORT [10942], FLEECED_REST_PORT [8594]
#
# Peak temp space: fleeced's job stats tempBytes (old data held for the snapshot), polled every
# 0.1 s; qsd's backup job has no temp image (its copy-before-write writes old data straight into
# the target), so it has none to report. The last lines are a markdown table of medians.
set -Eeuo pipefail
here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
top=$(cd "$here/.." && pwd)
PY=/usr/bin/python3
KEEP=0 BUILD=0
for a in "$@"; do case "$a" in --keep) KEEP=1 ;; --build) BUILD=1 ;;
  -h|--help) sed -n '2,/^set -E/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) echo "push-vs-pull.sh: unknown argument '$a'" >&2; exit 2 ;; esac; done
ROUNDS=${ROUNDS:-3}
SIZE_B=$(numfmt --from=iec "${SIZE:-1G}")
WRITER_RATE=${WRITER_RATE:-16m}
WORK=${WORK:-/var/tmp/push-bench}
QSD_PORT=${QSD_PORT:-10941}
FL_NBD_PORT=${FLEECED_NBD_PORT:-10942}
FL_REST_PORT=${FLEECED_REST_PORT:-8594}
FL_URL=http://127.0.0.1:$FL_REST_PORT
RESULTS=$WORK/results.tsv
PIDS=()

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
now_ns() { date +%s%N; }
cleanup() {
  local p; for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  [ "$KEEP" = 1 ] || rm -rf "$WORK/qsd" "$WORK/fleeced" "$WORK/img"
}
trap cleanup EXIT
for t in qemu-img qemu-io qemu-storage-daemon fio nbdcopy curl jq numfmt; do
  command -v "$t" >/dev/null || { log "$t is not installed"; exit 1; }
done

rm -rf "$WORK"; mkdir -p "$WORK/img" "$WORK/qsd" "$WORK/fleeced/state" "$WORK/fleeced/images" \
  "$WORK/fleeced/tmp" "$WORK/fleeced/backups"
: >"$RESULTS"
log "making the disk: $SIZE_B bytes, every other MiB written"
qemu-img create -q -f qcow2 "$WORK/img/disk.qcow2" "$SIZE_B"
cmds=(); for ((o = 0; o < SIZE_B; o += 2 << 20)); do cmds+=(-c "write -P 0x5a $o 1M"); done
qemu-io -f qcow2 "${cmds[@]}" "$WORK/img/disk.qcow2" >/dev/null
ALLOCATED=$((SIZE_B / 2))
cp --sparse=always "$WORK/img/disk.qcow2" "$WORK/qsd/disk.qcow2"
cp --sparse=always "$WORK/img/disk.qcow2" "$WORK/fleeced/images/disk.qcow2"

# ---- fleeced
rest() { curl -sSf -X "$1" ${3:+-H 'Content-Type: application/json' --data "$3"} "$FL_URL$2"; }
if [ "$BUILD" = 1 ]; then
  (cd "$top" && JAVA_HOME=$("$top/bin/find-jdk") mvn -B -q -ntp -o -DskipTests -pl daemon -am package)
fi
jq -n --arg s "$WORK/fleeced/state" --argjson rp "$FL_REST_PORT" --argjson np "$FL_NBD_PORT" \
  --arg i "$WORK/fleeced/images" --arg t "$WORK/fleeced/tmp" --arg b "$WORK/fleeced/backups" \
  '{stateDir:$s, rest:{port:$rp}, nbd:{port:$np}, imageDirs:[$i], tempDirs:[$t], backupDirs:[$b]}' \
  >"$WORK/fleeced/config.json"
"$top/bin/fleeced" daemon --config "$WORK/fleeced/config.json" >"$WORK/fleeced/fleeced.log" 2>&1 &
PIDS+=($!)
curl -sf --retry 300 --retry-delay 1 --retry-connrefused "$FL_URL/health" >/dev/null
rest POST /v1/disks "$(jq -cn --arg p "$WORK/fleeced/images/disk.qcow2" '{name:"disk",path:$p,format:"qcow2"}')" >/dev/null
FL_DISK=nbd://127.0.0.1:$FL_NBD_PORT/disk

# ---- qemu-storage-daemon: disk-file <- disk (qcow2) <- export "disk" (writable)
qmp() { "$PY" "$here/lib/qmp.py" "$WORK/qsd/qmp.sock" "$@"; }
qemu-storage-daemon --chardev "socket,id=qmp0,path=$WORK/qsd/qmp.sock,server=on,wait=off" \
  --monitor chardev=qmp0 >"$WORK/qsd/qsd.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [ -S "$WORK/qsd/qmp.sock" ] && break; sleep 0.1; done
qmp "nbd-server-start {\"addr\":{\"type\":\"inet\",\"data\":{\"host\":\"127.0.0.1\",\"port\":\"$QSD_PORT\"}}}" \
  "blockdev-add {\"driver\":\"file\",\"node-name\":\"disk-file\",\"filename\":\"$WORK/qsd/disk.qcow2\"}" \
  'blockdev-add {"driver":"qcow2","node-name":"disk","file":"disk-file"}' \
  'block-export-add {"type":"nbd","id":"e-disk","node-name":"disk","name":"disk","writable":true}' >/dev/null
QSD_DISK=nbd://127.0.0.1:$QSD_PORT/disk

# writer URI: a guest writing 4 KiB randomly at WRITER_RATE until killed
writer() { fio --name=guest --ioengine=nbd --uri="$1" --rw=randwrite --bs=4k --iodepth=4 --rate="$WRITER_RATE" \
  --time_based --runtime=3600 --size="$SIZE_B" >/dev/null 2>&1 & echo $!; }
record() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RESULTS"; log "  $1 $2 = $3"; }
peak_temp() { # peak_temp JOB_ID PID_TO_WATCH: max tempBytes while PID lives (or the job runs)
  local peak=0 t
  while kill -0 "$2" 2>/dev/null; do
    t=$(curl -sf "$FL_URL/v1/jobs/$1" | jq '[.disks[].stats.tempBytes] | add // 0') || t=0
    [ "$t" -gt "$peak" ] && peak=$t; sleep 0.1
  done; echo "$peak"; }

run_push() {
  local r=$1 w t0 id t1 out
  w=$(writer "$FL_DISK"); t0=$(now_ns)
  id=$(rest POST /v1/jobs "$(jq -cn --arg f "$WORK/fleeced/backups/push-$r.qcow2" --arg c "push$r" \
    '{disks:["disk"],checkpoint:$c,targets:{disk:{path:$f,format:"qcow2"}}}')" | jq -r .id)
  local peak=0 t state=running
  while [ "$state" = running ]; do
    out=$(curl -sf "$FL_URL/v1/jobs/$id"); state=$(jq -r .state <<<"$out")
    t=$(jq '[.disks[].stats.tempBytes] | add // 0' <<<"$out"); [ "$t" -gt "$peak" ] && peak=$t
    [ "$state" = running ] && sleep 0.1
  done
  t1=$(now_ns); kill "$w"; wait "$w" 2>/dev/null || true
  [ "$state" = finished ] || { log "push $r: $out"; exit 1; }
  record push seconds "$(echo "scale=3; ($t1 - $t0) / 1000000000" | bc)"
  record push temp_mib "$(echo "scale=1; $peak / 1048576" | bc)"
  rest DELETE "/v1/disks/disk/bitmaps/push$r" >/dev/null; rm -f "$WORK/fleeced/backups/push-$r.qcow2"
}
run_pull() {
  local r=$1 w t0 job id uri t1 cp peak
  w=$(writer "$FL_DISK"); t0=$(now_ns)
  job=$(rest POST /v1/jobs "$(jq -cn --arg c "pull$r" '{disks:["disk"],checkpoint:$c}')")
  id=$(jq -r .id <<<"$job"); uri=$(jq -r '.disks[0].uri' <<<"$job")
  nbdcopy "$uri" "$WORK/fleeced/pull-$r.raw" & cp=$!
  peak=$(peak_temp "$id" "$cp"); wait "$cp"
  rest POST "/v1/jobs/$id/finish" '{"outcome":"success"}' >/dev/null
  t1=$(now_ns); kill "$w"; wait "$w" 2>/dev/null || true
  record pull seconds "$(echo "scale=3; ($t1 - $t0) / 1000000000" | bc)"
  record pull temp_mib "$(echo "scale=1; $peak / 1048576" | bc)"
  rest DELETE "/v1/disks/disk/bitmaps/pull$r" >/dev/null; rm -f "$WORK/fleeced/pull-$r.raw"
}
run_qsd() {
  local r=$1 w t0 t1 f=$WORK/qsd/backup-$r.qcow2
  qemu-img create -q -f qcow2 "$f" "$SIZE_B"
  w=$(writer "$QSD_DISK"); t0=$(now_ns)
  qmp "blockdev-add {\"driver\":\"file\",\"node-name\":\"t$r-file\",\"filename\":\"$f\"}" \
    "blockdev-add {\"driver\":\"qcow2\",\"node-name\":\"t$r\",\"file\":\"t$r-file\"}" \
    "blockdev-backup {\"job-id\":\"b$r\",\"device\":\"disk\",\"target\":\"t$r\",\"sync\":\"full\"}" \
    'wait-event {"event":"BLOCK_JOB_COMPLETED"}' >"$WORK/qsd/backup-$r.json"
  t1=$(now_ns); kill "$w"; wait "$w" 2>/dev/null || true
  qmp "blockdev-del {\"node-name\":\"t$r\"}" "blockdev-del {\"node-name\":\"t$r-file\"}" >/dev/null
  record qsd seconds "$(echo "scale=3; ($t1 - $t0) / 1000000000" | bc)"
  rm -f "$f"
}
for ((r = 1; r <= ROUNDS; r++)); do
  log "round $r"
  case $((r % 3)) in
    1) run_push "$r"; run_pull "$r"; run_qsd "$r" ;;
    2) run_pull "$r"; run_qsd "$r"; run_push "$r" ;;
    0) run_qsd "$r"; run_push "$r"; run_pull "$r" ;;
  esac
done

median() { awk -F'\t' -v w="$1" -v m="$2" '$1==w && $2==m {print $3}' "$RESULTS" | sort -g |
  awk '{a[NR]=$1} END {if (NR==0) print "-"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
rate() { echo "scale=0; $ALLOCATED / 1048576 / $1" | bc; }
P=$(median push seconds) L=$(median pull seconds) Q=$(median qsd seconds)
echo
echo "ROUNDS=$ROUNDS SIZE=${SIZE:-1G} WRITER_RATE=$WRITER_RATE bench/push-vs-pull.sh; $(git -C "$top" rev-parse --short HEAD);" \
  "$(qemu-storage-daemon --version | head -1); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| full backup, ${SIZE:-1G} disk 50 % allocated, guest writing | push (fleeced) | pull (nbdcopy) | qsd blockdev-backup |"
echo "|---|---:|---:|---:|"
echo "| wall time (s, median) | $P | $L | $Q |"
echo "| MiB/s of allocated data | $(rate "$P") | $(rate "$L") | $(rate "$Q") |"
echo "| push speed-up (other / push) | 1.00 | $(echo "scale=2; $L / $P" | bc) | $(echo "scale=2; $Q / $P" | bc) |"
echo "| peak temp space (MiB, median) | $(median push temp_mib) | $(median pull temp_mib) | none (no temp image) |"
