#!/usr/bin/env bash
# fleeced serve vs qemu-nbd on the same image, side by side in one run: fio (nbd engine) 4 KiB
# random read/write IOPS at iodepth 16, 64 KiB and 1 MiB sequential read/write MiB/s, nbdcopy
# full-read MiB/s, idle and peak RSS. Prints a table with fleeced/qemu-nbd ratios.
#
# The image is raw: the qcow2 driver has not landed yet (switch FORMAT=qcow2 when it has).
# Usage: bench/serve-vs-qemu-nbd.sh [SIZE_MIB] [SECONDS_PER_FIO_JOB]
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
[ -f "$top/daemon/target/fleeced.jar" ] || (cd "$top" && mvn -B -q -ntp -o -DskipTests -pl daemon -am package >&2)

port_f=$(free_port)
"$top/bin/fleeced" \
  serve "$work/a.img" --format "$FORMAT" --port "$port_f" > "$work/fleeced.uri" 2> "$work/fleeced.log" &
pid_f=$!; pids+=("$pid_f")
port_q=$(free_port)
qemu-nbd -f "$FORMAT" -b 127.0.0.1 -p "$port_q" -x "" -t --shared=16 "$work/b.img" 2> "$work/qemu.log" &
pid_q=$!; pids+=("$pid_q")
for _ in $(seq 100); do [ -s "$work/fleeced.uri" ] && nbdinfo --can connect "nbd://127.0.0.1:$port_q/" 2>/dev/null && break; sleep 0.2; done
sleep 1
idle_f=$(rss_kib "$pid_f" VmRSS); idle_q=$(rss_kib "$pid_q" VmRSS)

fio_run() { # uri rw bs -> prints IOPS and MiB/s
  fio --name=b --ioengine=nbd --uri="$1" --rw="$2" --bs="$3" --iodepth=16 --size=$((size_mib << 20)) \
      --time_based --runtime="$runtime" --output-format=json 2>/dev/null |
    python3 -c 'import json,sys; t=sys.stdin.read(); j=json.loads(t[t.index("{"):])["jobs"][0]; r=j["read"] if j["read"]["io_bytes"] else j["write"]; print(r["iops"], r["bw_bytes"]/1048576)'
}
copy_mibs() { # uri
  local start end; start=$(date +%s.%N); nbdcopy "$1" null: ; end=$(date +%s.%N)
  python3 -c "print($size_mib / ($end - $start))"
}

rows=()
for spec in "randread 4k iops" "randwrite 4k iops" "read 64k mibs" "write 64k mibs" "read 1m mibs" "write 1m mibs"; do
  set -- $spec
  read -r iops_f bw_f < <(fio_run "nbd://127.0.0.1:$port_f/" "$1" "$2")
  read -r iops_q bw_q < <(fio_run "nbd://127.0.0.1:$port_q/" "$1" "$2")
  if [ "$3" = iops ]; then rows+=("fio $1 $2 (IOPS)|$iops_f|$iops_q"); else rows+=("fio $1 $2 (MiB/s)|$bw_f|$bw_q"); fi
done
rows+=("nbdcopy full read (MiB/s)|$(copy_mibs "nbd://127.0.0.1:$port_f/")|$(copy_mibs "nbd://127.0.0.1:$port_q/")")
rows+=("RSS idle (MiB)|$((idle_f / 1024))|$((idle_q / 1024))")
rows+=("RSS peak (MiB)|$(( $(rss_kib "$pid_f" VmHWM) / 1024 ))|$(( $(rss_kib "$pid_q" VmHWM) / 1024 ))")

printf '%-28s %12s %12s %8s\n' "metric ($FORMAT, ${size_mib} MiB)" "fleeced" "qemu-nbd" "ratio"
for row in "${rows[@]}"; do
  IFS='|' read -r name f q <<< "$row"
  python3 -c "import sys; n,f,q=sys.argv[1],float(sys.argv[2]),float(sys.argv[3]); print(f'{n:<28} {f:12.0f} {q:12.0f} {f/q if q else 0:8.2f}')" "$name" "$f" "$q"
done
