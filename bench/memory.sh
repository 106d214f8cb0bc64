#!/usr/bin/env bash
# Where fleeced's memory goes: the daemon's RSS (VmRSS of the java process, mapped files
# included) idle, with DISKS attached disks, with JOBS running fleecing jobs, and under an NBD
# load; prints a figure per attached disk and per running job.
#
#   bench/memory.sh                     DISKS=100 JOBS=20 LOAD_SECONDS=10
#   NMT=1 bench/memory.sh               also run with -XX:NativeMemoryTracking=summary and keep
#                                       `jcmd VM.native_memory summary` and a heap histogram of
#                                       every stage in WORK (kept, its path printed)
#   FLEECED=path/to/launcher            the launcher to measure (default bin/fleeced, whose
#                                       defaults are what is measured; FLEECED_JAVA_OPTS passes on)
#
# Each disk is a 16 GiB qcow2 image with 4 MiB of data; each job is a full job (raw temp) on one
# of the first JOBS disks. The load: fio 4 KiB random writes (iodepth 16) on the writable
# export of disk 1 (every first touch of a cluster copies it before writing: the CBW path) while
# nbdcopy reads the fleece export of disk 2 (of disk 1 when JOBS=1), for LOAD_SECONDS; the peak
# is VmHWM at the end.
set -euo pipefail
top=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
DISKS=${DISKS:-100}
JOBS=${JOBS:-20}
LOAD_SECONDS=${LOAD_SECONDS:-10}
FLEECED=${FLEECED:-$top/bin/fleeced}
export PATH=/usr/bin:/bin:$PATH
[ "$JOBS" -ge 1 ] && [ "$JOBS" -le "$DISKS" ] || { echo "need 1 <= JOBS <= DISKS" >&2; exit 2; }
work=$(mktemp -d /tmp/fleeced-memory.XXXXXX)
pid=
cleanup() {
  [ -z "$pid" ] || { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; }
  if [ "${NMT:-0}" = 1 ]; then echo "NMT reports and histograms kept in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
kib() { awk -v k="$1" '$1==k":" {print $2}' "/proc/$pid/status"; }
rest=$(free_port); nbd=$(free_port)
api=http://127.0.0.1:$rest/v1
post() { curl -sSf -H 'Content-Type: application/json' -d "$2" "$api$1"; }

mkdir -p "$work/state" "$work/images" "$work/tmp"
echo "making $DISKS images..." >&2
qemu-img create -q -f qcow2 "$work/images/base.qcow2" 16G
qemu-io -f qcow2 -c 'write -P 0x5a 0 4M' "$work/images/base.qcow2" > /dev/null
for i in $(seq "$DISKS"); do cp "$work/images/base.qcow2" "$work/images/d$i.qcow2"; done
cat > "$work/fleeced.yaml" <<YAML
stateDir: $work/state
rest: {port: $rest}
nbd: {port: $nbd}
imageDirs: [$work/images]
tempDirs: [$work/tmp]
YAML

opts=${FLEECED_JAVA_OPTS:-}
[ "${NMT:-0}" = 1 ] && opts="$opts -XX:NativeMemoryTracking=summary"
FLEECED_JAVA_OPTS=$opts "$FLEECED" daemon --config "$work/fleeced.yaml" > "$work/fleeced.log" 2>&1 &
pid=$!
curl -sf --retry 600 --retry-delay 0 --retry-max-time 120 --retry-connrefused -o /dev/null "http://127.0.0.1:$rest/health"
[ "$(ps -o comm= -p "$pid")" = java ] || echo "warning: pid $pid is $(ps -o comm= -p "$pid"), not java" >&2

stage() { # NAME [SECONDS]: settle (2 s by default), then record VmRSS (and the NMT report and histogram)
  sleep "${2:-2}"
  local rss; rss=$(kib VmRSS)
  echo "$1 $rss" >> "$work/rss.txt"
  if [ "${NMT:-0}" = 1 ]; then
    local jcmd; jcmd="$("$top/bin/find-jdk")/bin/jcmd"
    "$jcmd" "$pid" VM.native_memory summary > "$work/nmt-$1.txt"
    "$jcmd" "$pid" GC.class_histogram > "$work/histo-$1.txt"   # (a full GC first)
  fi
  printf '%-10s VmRSS %7.1f MiB\n' "$1" "$(awk -v k="$rss" 'BEGIN {print k / 1024}')" >&2
}
# idle: 12 s after ready, so that G1's periodic collection (after 10 s without one) has returned
# the heap start-up grew; 2 s after ready it is 20-30 MiB more
stage idle 12

for i in $(seq "$DISKS"); do
  post /disks "{\"name\":\"d$i\",\"path\":\"$work/images/d$i.qcow2\",\"format\":\"qcow2\"}" > /dev/null
done
stage disks

for i in $(seq "$JOBS"); do
  post /jobs "{\"disks\":[\"d$i\"],\"checkpoint\":\"c1\",\"tempFormat\":\"raw\"}" > "$work/job$i.json"
  FL_URL=http://127.0.0.1:$rest "$top/bench/lib/wait_job.sh" "$work/job$i.json"
done
stage jobs

echo "load: fio randwrite on d1 and nbdcopy of d2's fleece export, ${LOAD_SECONDS} s..." >&2
fio --name=load --ioengine=nbd --uri="nbd://127.0.0.1:$nbd/d1" --rw=randwrite --bs=4k --iodepth=16 \
    --size=1G --time_based --runtime="$LOAD_SECONDS" > "$work/fio.txt" 2>&1 &
fio_pid=$!
end=$((SECONDS + LOAD_SECONDS))
snapshot=$(jq -r '.disks[0].uri' "$work/job$(( JOBS >= 2 ? 2 : 1 )).json")
while [ $SECONDS -lt $end ]; do nbdcopy "$snapshot" null: ; done
wait "$fio_pid"
peak=$(kib VmHWM)
echo "peak $peak" >> "$work/rss.txt"
stage after

awk -v disks="$DISKS" -v jobs="$JOBS" '
  {v[$1] = $2 / 1024}
  END {
    printf "| stage | VmRSS (MiB) |\n|---|---:|\n"
    printf "| idle | %.1f |\n| %d disks attached | %.1f |\n| + %d jobs running | %.1f |\n", v["idle"], disks, v["disks"], jobs, v["jobs"]
    printf "| peak under load (VmHWM) | %.1f |\n| after the load | %.1f |\n", v["peak"], v["after"]
    printf "per attached disk: %.0f KiB; per running job: %.0f KiB\n", (v["disks"] - v["idle"]) * 1024 / disks, (v["jobs"] - v["disks"]) * 1024 / jobs
  }' "$work/rss.txt"
