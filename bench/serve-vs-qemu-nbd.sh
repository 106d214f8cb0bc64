#!/usr/bin/env bash
# fleeced serve vs qemu-nbd vs nbdkit's file plugin on the same data, side by side in one run:
# fio (nbd engine) 4 KiB random read/write IOPS at iodepth 16, 64 KiB and 1 MiB sequential
# read/write MiB/s, nbdcopy full-read MiB/s with its default connections (multi-conn) and with
# --connections=1 (median of COPIES runs, the servers alternating), idle and peak RSS. Prints a
# table with fleeced/qemu-nbd and fleeced/nbdkit ratios.
#
# FORMAT=raw (default) or qcow2: the image fleeced and qemu-nbd serve. nbdkit (1.32 has no qcow2
# decoder) always serves a raw copy of the same data, so with qcow2 it is the raw floor a reader
# could have, and its fio rows are left out.
# Usage: bench/serve-vs-qemu-nbd.sh [SIZE_MIB] [SECONDS_PER_FIO_JOB]     COPIES=5
set -euo pipefail
top=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
size_mib=${1:-512}
runtime=${2:-5}
FORMAT=${FORMAT:-raw}
export PATH=/usr/bin:/bin:$PATH   # system python3 for JSON parsing; libnbd tools
work=$(mktemp -d /tmp/fleeced-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss_kib() { awk -v k="$2" '$1==k":" {print $2}' "/proc/$1/status"; }

echo "preparing a ${size_mib} MiB $FORMAT image with data..." >&2
head -c $((size_mib << 20)) /dev/urandom > "$work/base.raw"
if [ "$FORMAT" = qcow2 ]; then
  qemu-img convert -f raw -O qcow2 "$work/base.raw" "$work/a.img"; cp "$work/a.img" "$work/b.img"
else
  cp "$work/base.raw" "$work/a.img"; cp "$work/base.raw" "$work/b.img"
fi
cp "$work/base.raw" "$work/c.raw"
COPIES=${COPIES:-5}
[ -f "$top/daemon/target/fleeced.jar" ] || (cd "$top" && mvn -B -q -ntp -o -DskipTests -pl daemon -am package >&2)

port_f=$(free_port)
"$top/bin/fleeced" \
  serve "$work/a.img" --format "$FORMAT" --port "$port_f" > "$work/fleeced.uri" 2> "$work/fleeced.log" &
pid_f=$!; pids+=("$pid_f")
port_q=$(free_port)
qemu-nbd -f "$FORMAT" -b 127.0.0.1 -p "$port_q" -x "" -t --shared=16 "$work/b.img" 2> "$work/qemu.log" &
pid_q=$!; pids+=("$pid_q")
port_k=$(free_port)
nbdkit -f -i 127.0.0.1 -p "$port_k" file "$work/c.raw" 2> "$work/nbdkit.log" &
pid_k=$!; pids+=("$pid_k")
for _ in $(seq 100); do [ -s "$work/fleeced.uri" ] && nbdinfo --can connect "nbd://127.0.0.1:$port_q/" 2>/dev/null &&
  nbdinfo --can connect "nbd://127.0.0.1:$port_k/" 2>/dev/null && break; sleep 0.2; done
sleep 1
idle_f=$(rss_kib "$pid_f" VmRSS); idle_q=$(rss_kib "$pid_q" VmRSS); idle_k=$(rss_kib "$pid_k" VmRSS)

fio_run() { # uri rw bs -> prints IOPS and MiB/s
  fio --name=b --ioengine=nbd --uri="$1" --rw="$2" --bs="$3" --iodepth=16 --size=$((size_mib << 20)) \
      --time_based --runtime="$runtime" --output-format=json 2>/dev/null |
    python3 -c 'import json,sys; t=sys.stdin.read(); j=json.loads(t[t.index("{"):])["jobs"][0]; r=j["read"] if j["read"]["io_bytes"] else j["write"]; print(r["iops"], r["bw_bytes"]/1048576)'
}
copy_mibs() { # uri [nbdcopy options...]
  local uri=$1 start end; shift
  start=$(date +%s.%N); nbdcopy "$@" "$uri" null: ; end=$(date +%s.%N)
  python3 -c "print($size_mib / ($end - $start))"
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# copy_row LABEL [nbdcopy options...]: COPIES runs per server, alternating; medians
copy_row() {
  local label=$1 f=() q=() k=() i; shift
  for ((i = 0; i < COPIES; i++)); do
    f+=("$(copy_mibs "nbd://127.0.0.1:$port_f/" "$@")")
    q+=("$(copy_mibs "nbd://127.0.0.1:$port_q/" "$@")")
    k+=("$(copy_mibs "nbd://127.0.0.1:$port_k/" "$@")")
  done
  rows+=("$label|$(printf '%s\n' "${f[@]}" | median)|$(printf '%s\n' "${q[@]}" | median)|$(printf '%s\n' "${k[@]}" | median)")
}

rows=()
copy_row "nbdcopy full read (MiB/s)"
copy_row "nbdcopy --connections=1 (MiB/s)" --connections=1
for spec in "randread 4k iops" "randwrite 4k iops" "read 64k mibs" "write 64k mibs" "read 1m mibs" "write 1m mibs"; do
  set -- $spec
  read -r iops_f bw_f < <(fio_run "nbd://127.0.0.1:$port_f/" "$1" "$2")
  read -r iops_q bw_q < <(fio_run "nbd://127.0.0.1:$port_q/" "$1" "$2")
  iops_k=0 bw_k=0
  [ "$FORMAT" = raw ] && read -r iops_k bw_k < <(fio_run "nbd://127.0.0.1:$port_k/" "$1" "$2")
  if [ "$3" = iops ]; then rows+=("fio $1 $2 (IOPS)|$iops_f|$iops_q|$iops_k"); else rows+=("fio $1 $2 (MiB/s)|$bw_f|$bw_q|$bw_k"); fi
done
rows+=("RSS idle (MiB)|$((idle_f / 1024))|$((idle_q / 1024))|$((idle_k / 1024))")
rows+=("RSS peak (MiB)|$(( $(rss_kib "$pid_f" VmHWM) / 1024 ))|$(( $(rss_kib "$pid_q" VmHWM) / 1024 ))|$(( $(rss_kib "$pid_k" VmHWM) / 1024 ))")

echo "fleeced $(git -C "$top" rev-parse --short HEAD), $(nproc) cores, $(date -u +%FT%TZ); nbdkit: file plugin on a raw copy"
printf '%-32s %10s %10s %10s %8s %8s\n' "metric ($FORMAT, ${size_mib} MiB)" "fleeced" "qemu-nbd" "nbdkit" "f/qemu" "f/nbdkit"
for row in "${rows[@]}"; do
  IFS='|' read -r name f q k <<< "$row"
  python3 -c "import sys; n,f,q,k=sys.argv[1],float(sys.argv[2]),float(sys.argv[3]),float(sys.argv[4]); r=lambda a,b: f'{a/b:8.2f}' if b else '       -'; print(f'{n:<32} {f:10.0f} {q:10.0f} {k:10.0f} {r(f,q)} {r(f,k)}')" "$name" "$f" "$q" "$k"
done
