#!/usr/bin/env bash
# Issue 15: block checksum speed (GiB/s) of a fully written and of a 90 %-sparse disk, computed
# by the daemon (REST, over a job's snapshot and over the idle disk), by `bin/fleeced checksum`
# on the file, against `sha256sum FILE` and `nbdcopy URI - | sha256sum` in the same run.
# Usage: bench/checksum-speed.sh        SIZE=4G ROUNDS=3 WORK=/var/tmp/fleeced-checksum-bench
# Needs: qemu-utils, libnbd-bin (nbdcopy), curl, jq, python3. Run it when the machine is quiet.
# The images are made once (random data, so nothing compresses), raw, in WORK; they are read
# from the page cache when it holds them: the figures are CPU cost, not disk speed.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${SIZE:-4G} ROUNDS=${ROUNDS:-3} REST=${REST:-8597} NBD=${NBD:-10897}
WORK=${WORK:-/var/tmp/fleeced-checksum-bench}
bytes=$(numfmt --from=iec "$SIZE")
mkdir -p "$WORK/state/images"
full=$WORK/state/images/full.raw sparse=$WORK/state/images/sparse.raw

if [ ! -f "$full" ] || [ "$(stat -c %s "$full")" != "$bytes" ]; then
  echo "making $full ($SIZE of random data)..." >&2
  head -c "$bytes" /dev/urandom > "$full"
fi
if [ ! -f "$sparse" ] || [ "$(stat -c %s "$sparse")" != "$bytes" ]; then
  echo "making $sparse ($SIZE, 1 MiB of data in every 10 MiB)..." >&2
  rm -f "$sparse"; truncate -s "$bytes" "$sparse"
  python3 - "$sparse" "$bytes" <<'PY'
import os, sys
with open(sys.argv[1], 'r+b') as f:
    for off in range(0, int(sys.argv[2]), 10 << 20):
        f.seek(off); f.write(os.urandom(1 << 20))
PY
fi

. bench/lib/fleeced_daemon.sh
start_fleeced "$WORK" "$REST" "$NBD"
for d in full sparse; do
  curl -sf -H 'Content-Type: application/json' -d "{\"name\":\"$d\",\"path\":\"$WORK/state/images/$d.raw\",\"format\":\"raw\"}" "$api/disks" > /dev/null
done

# seconds one command takes (its output goes to $WORK/last.out)
timed() { local t0 t1; t0=$(date +%s.%N); "$@" > "$WORK/last.out"; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }
gibps() { printf '%.2f' "$(echo "$bytes / 1073741824 / $1" | bc -l)"; }
hex() { grep -oE '[0-9a-f]{64}' "$WORK/last.out" | head -1; }

results=$WORK/results.tsv
: > "$results"
for round in $(seq "$ROUNDS"); do
  for d in full sparse; do
    img=$WORK/state/images/$d.raw
    job=$(curl -sf -H 'Content-Type: application/json' -d "{\"disks\":[\"$d\"],\"checkpoint\":\"bench$round\"}" "$api/jobs")
    id=$(jq -r .id <<<"$job") uri=$(jq -r '.disks[0].uri' <<<"$job")
    s=$(timed curl -sf "$api/jobs/$id/disks/$d/checksum"); sum_job=$(jq -r .checksum "$WORK/last.out")
    printf '%s\tdaemon, job snapshot (REST)\t%s\n' "$d" "$s" >> "$results"
    s=$(timed curl -sf "$api/disks/$d/checksum"); sum_disk=$(jq -r .checksum "$WORK/last.out")
    printf '%s\tdaemon, idle disk (REST)\t%s\n' "$d" "$s" >> "$results"
    s=$(timed bin/fleeced checksum "$img"); sum_cli=$(hex)
    printf '%s\tbin/fleeced checksum FILE (JVM start included)\t%s\n' "$d" "$s" >> "$results"
    s=$(timed sha256sum "$img")
    printf '%s\tsha256sum FILE\t%s\n' "$d" "$s" >> "$results"
    s=$(timed sh -c "nbdcopy '$uri' - | sha256sum")
    printf '%s\tnbdcopy URI - | sha256sum\t%s\n' "$d" "$s" >> "$results"
    curl -sf -H 'Content-Type: application/json' -d '{"outcome":"failure"}' "$api/jobs/$id/finish" > /dev/null
    if [ "$sum_job" != "$sum_disk" ] || [ "$sum_job" != "$sum_cli" ]; then
      echo "checksums disagree on $d: job $sum_job disk $sum_disk cli $sum_cli" >&2; exit 1
    fi
  done
done

echo
echo "checksum speed, $SIZE disks, median of $ROUNDS rounds ($(nproc) cores, $(date -u +%FT%TZ), fleeced $(git rev-parse --short HEAD))"
echo
echo "| method | full GiB/s | 90 % sparse GiB/s |"
echo "|---|---:|---:|"
cut -f2 "$results" | awk '!seen[$0]++' | while IFS= read -r method; do
  line="| ${method//|/\\|} |"
  for d in full sparse; do
    med=$(awk -F'\t' -v d="$d" -v m="$method" '$1==d && $2==m {print $3}' "$results" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    line="$line $(gibps "$med") |"
  done
  echo "$line"
done
