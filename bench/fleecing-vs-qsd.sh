#!/usr/bin/env bash
# fleecing-vs-qsd.sh: fleeced against qemu-storage-daemon (QEMU's copy-before-write +
# snapshot-access fleecing graph), same images, same workload, alternating, several rounds.
#
# usage: bench/fleecing-vs-qsd.sh [--only qsd|fleeced|both] [--build] [--keep] [--help]
#   --only   run one half (default both; without a working fleeced REST API use --only qsd)
#   --build  rebuild daemon/target/fleeced.jar first (the launcher builds only when it is missing)
#   --keep   keep the images and temp files in WORK
#
# Environment (defaults in brackets):
#   ROUNDS [3]        rounds; each round runs every test on both daemons (order alternates)
#   SIZE [1G]         size of the benchmark disk (fully written before the first round)
#   RUNTIME [10]      seconds per timed fio run
#   BIG_SIZE [1T]     size of the sparse disk for the nbdinfo --map test
#   MAP_STRIDE [256M] one 64 KiB data extent every MAP_STRIDE in the sparse disk
#   DIRTY_STRIDE [1G] one 4 KiB write every DIRTY_STRIDE between the full and the incremental job
#   STALL_SECONDS [4] length of the stall-writer run (the job starts 1.5 s into it)
#   STORE_SECONDS [8] length of each stall-writer run of the bitmap-store rows
#   STALL_FLUSH_MS [1000] the store rows' stall writer sends a FLUSH this often, as a guest's file
#                     system does (fleeced's background stores ride on those syncs of the image)
#   STORE_ONLY [0]    1: only the bitmap-store rows (fleeced alone; no image-wide rounds)
#   WORK [/var/tmp/fleecing-bench]  work directory (images, temp images, logs); wiped at start
#   QSD_PORT [10931], FLEECED_NBD_PORT [10932], FLEECED_REST_PORT [8593]
#   FLEECED [<repo>/bin/fleeced]     the fleeced launcher
#   FLEECED_TOKEN     bearer token to configure and send (empty: none, loopback only)
#   NBDCOPY_OPTS [--no-extents]      extra nbdcopy options for the sequential-read test
#   QSD_FILE_OPTS [{}]  JSON merged into qsd's file nodes, e.g. '{"cache":{"no-flush":true}}'
#                     to see how much of qsd's job-start stall is blockdev-reopen's flush
#
# What is measured and how: see bench/README.md. The last lines printed are a markdown table of
# medians and ratios (fleeced / qsd) with the command line and the versions.
set -Eeuo pipefail
shopt -s inherit_errexit

here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
top=$(cd "$here/.." && pwd)
lib=$here/lib
PY=/usr/bin/python3          # the system python: it has libnbd's `nbd` module

ONLY=both
KEEP=0
BUILD=0
cmdline="ROUNDS=${ROUNDS:-3} SIZE=${SIZE:-1G} RUNTIME=${RUNTIME:-10} BIG_SIZE=${BIG_SIZE:-1T} STALL_FLUSH_MS=${STALL_FLUSH_MS:-1000}${STORE_ONLY:+ STORE_ONLY=$STORE_ONLY} bench/fleecing-vs-qsd.sh${*:+ $*}"
while [ $# -gt 0 ]; do
  case "$1" in
    --only) ONLY=${2:?--only needs qsd, fleeced or both}; shift 2 ;;
    --only=*) ONLY=${1#--only=}; shift ;;
    --keep) KEEP=1; shift ;;
    --build) BUILD=1; shift ;;
    -h|--help) sed -n '2,/^set -E/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "fleecing-vs-qsd.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$ONLY" in qsd|fleeced|both) ;; *) echo "--only must be qsd, fleeced or both" >&2; exit 2 ;; esac

ROUNDS=${ROUNDS:-3}
SIZE_B=$(numfmt --from=iec "${SIZE:-1G}")
RUNTIME=${RUNTIME:-10}
BIG_B=$(numfmt --from=iec "${BIG_SIZE:-1T}")
MAP_STRIDE_B=$(numfmt --from=iec "${MAP_STRIDE:-256M}")
DIRTY_STRIDE_B=$(numfmt --from=iec "${DIRTY_STRIDE:-1G}")
STALL_SECONDS=${STALL_SECONDS:-4}
STORE_SECONDS=${STORE_SECONDS:-8}
STALL_FLUSH_MS=${STALL_FLUSH_MS:-1000}
STORE_ONLY=${STORE_ONLY:-0}
WORK=${WORK:-/var/tmp/fleecing-bench}
QSD_PORT=${QSD_PORT:-10931}
FL_NBD_PORT=${FLEECED_NBD_PORT:-10932}
FL_REST_PORT=${FLEECED_REST_PORT:-8593}
FLEECED=${FLEECED:-$top/bin/fleeced}
FLEECED_TOKEN=${FLEECED_TOKEN:-}
NBDCOPY_OPTS=${NBDCOPY_OPTS:---no-extents}
QSD_FILE_OPTS=${QSD_FILE_OPTS:-"{}"}
CLUSTER=65536                # qcow2 cluster = CBW cluster = bitmap granularity on both sides

RESULTS=$WORK/results.tsv
LOG=$WORK/bench.log

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now_ns() { date +%s%N; }
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RESULTS"; log "  $1 $2 = $4"; }

for t in qemu-img qemu-io qemu-storage-daemon fio nbdcopy nbdinfo curl jq numfmt; do
  command -v "$t" >/dev/null || die "$t is not installed"
done
$PY -c 'import nbd' 2>/dev/null || die "$PY has no 'nbd' module (Debian: python3-libnbd)"
nbdcopy --help 2>&1 | grep -q 'null:' || die "this nbdcopy has no null: destination"

# ---------------------------------------------------------------- processes we started
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "$KEEP" = 0 ] && [ -n "${WORK:-}" ] && [ -d "$WORK" ]; then
    rm -rf "$WORK/qsd" "$WORK/fleeced" "$WORK/img"
  fi
}
trap cleanup EXIT
trap 'log "FAILED (exit $?) at line $LINENO: $BASH_COMMAND; log: $LOG"' ERR
trap 'exit 130' INT TERM

rss_kib() { awk '/^VmRSS:/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# rss_sampler PID FILE: print VmRSS (KiB) every 0.2 s into FILE until killed
rss_sampler() { while :; do rss_kib "$1"; sleep 0.2; done >>"$2"; }

# ---------------------------------------------------------------- qemu-storage-daemon
# Graph per disk D (set up at start, before any job):
#   D-file (file) <- D (qcow2) <- D-top (throttle, group tg-D without limits) <- export "D" (rw)
# A job N inserts copy-before-write under the throttle filter with blockdev-reopen:
#   D <- jN-cbw (copy-before-write, target jN-tmp: raw file) <- D-top   (reopen file=jN-cbw)
#   jN-cbw <- jN-snap (snapshot-access) <- export "D-fleece-N" (ro)
# The throttle node is a pass-through filter whose only purpose is to have a `file` child that
# blockdev-reopen may change (QEMU 7.2 has no blockdev-replace, and qsd has no device whose
# drive could be qom-set); the workload's export never has to be re-created and its NBD
# connection stays up while the job starts and ends.
QSD_PID=
qmp() { "$PY" "$lib/qmp.py" "$WORK/qsd/qmp.sock" "$@"; }
js() { jq -cn "$@"; }

qsd_start() {
  mkdir -p "$WORK/qsd/tmp"
  cp --sparse=always "$WORK/img/disk.qcow2" "$WORK/qsd/disk.qcow2"
  cp --sparse=always "$WORK/img/big.qcow2" "$WORK/qsd/big.qcow2"
  qemu-storage-daemon \
    --chardev "socket,id=qmp0,path=$WORK/qsd/qmp.sock,server=on,wait=off" \
    --monitor chardev=qmp0 >"$WORK/qsd/qsd.log" 2>&1 &
  QSD_PID=$!
  PIDS+=("$QSD_PID")
  local i
  for i in $(seq 100); do [ -S "$WORK/qsd/qmp.sock" ] && break; sleep 0.1; done
  qmp "nbd-server-start $(js --arg p "$QSD_PORT" '{addr:{type:"inet",data:{host:"127.0.0.1",port:$p}}}')" >/dev/null
  local d
  for d in disk big; do
    qmp "blockdev-add $(js --arg d "$d" --arg f "$WORK/qsd/$d.qcow2" --argjson o "$QSD_FILE_OPTS" '{driver:"file","node-name":($d+"-file"),filename:$f} + $o')" \
        "blockdev-add $(js --arg d "$d" '{driver:"qcow2","node-name":$d,file:($d+"-file")}')" \
        "object-add $(js --arg d "$d" '{"qom-type":"throttle-group",id:("tg-"+$d)}')" \
        "blockdev-add $(js --arg d "$d" '{driver:"throttle","node-name":($d+"-top"),"throttle-group":("tg-"+$d),file:$d}')" \
        "block-export-add $(js --arg d "$d" '{type:"nbd",id:("e-"+$d),"node-name":($d+"-top"),name:$d,writable:true}')" >/dev/null
  done
}
qsd_wuri() { echo "nbd://127.0.0.1:$QSD_PORT/$1"; }
qsd_pid() { echo "$QSD_PID"; }

# qsd_job_cmd DISK CHECKPOINT [BASE]: print the shell command that starts job j-CHECKPOINT on
# DISK, and leave its export URI (and meta context) in $WORK/qsd/job. Full job: add the checkpoint
# bitmap (enabled, persistent) like fleeced does. Incremental: in one transaction add the new
# checkpoint and disable BASE; CBW copies/permits only BASE's dirty clusters; the fleece export
# carries BASE as qemu:dirty-bitmap:BASE.
qsd_job_cmd() {
  local d=$1 ck=$2 base=${3:-}
  local n="j-$ck" tmp="$WORK/qsd/tmp/j-$ck.raw" size   # job named after its checkpoint
  if [ "$d" = big ]; then size=$BIG_B; else size=$SIZE_B; fi
  local bm cbw exp
  if [ -z "$base" ]; then
    bm="block-dirty-bitmap-add $(js --arg d "$d" --arg b "$ck" '{node:$d,name:$b,persistent:true}')"
    cbw=$(js --arg d "$d" --arg n "$n" '{driver:"copy-before-write","node-name":($n+"-cbw"),file:$d,target:($n+"-tmp"),"on-cbw-error":"break-snapshot","cbw-timeout":45}')
    exp=$(js --arg d "$d" --arg n "$n" '{type:"nbd",id:("e-"+$n),"node-name":($n+"-snap"),name:($d+"-fleece-"+$n),writable:false}')
  else
    bm="transaction $(js --arg d "$d" --arg b "$ck" --arg o "$base" '{actions:[
          {type:"block-dirty-bitmap-add",data:{node:$d,name:$b,persistent:true}},
          {type:"block-dirty-bitmap-disable",data:{node:$d,name:$o}}]}')"
    cbw=$(js --arg d "$d" --arg n "$n" --arg o "$base" '{driver:"copy-before-write","node-name":($n+"-cbw"),file:$d,target:($n+"-tmp"),"on-cbw-error":"break-snapshot","cbw-timeout":45,bitmap:{node:$d,name:$o}}')
    exp=$(js --arg d "$d" --arg n "$n" --arg o "$base" '{type:"nbd",id:("e-"+$n),"node-name":($n+"-snap"),name:($d+"-fleece-"+$n),writable:false,bitmaps:[{node:$d,name:$o}]}')
  fi
  printf 'disk=%s\nn=%s\ntmp=%s\nuri=nbd://127.0.0.1:%s/%s-fleece-%s\nctx=%s\n' \
    "$d" "$n" "$tmp" "$QSD_PORT" "$d" "$n" "${base:+qemu:dirty-bitmap:$base}" >"$WORK/qsd/job"
  printf 'truncate -s %q %q && %q %q %q' "$size" "$tmp" "$PY" "$lib/qmp.py" "$WORK/qsd/qmp.sock"
  printf ' %q' "$bm" \
    "blockdev-add $(js --arg n "$n" --arg f "$tmp" '{driver:"file","node-name":($n+"-tmp"),filename:$f}')" \
    "blockdev-add $cbw" \
    "blockdev-reopen $(js --arg d "$d" --arg n "$n" '{options:[{driver:"throttle","node-name":($d+"-top"),"throttle-group":("tg-"+$d),file:($n+"-cbw")}]}')" \
    "blockdev-add $(js --arg n "$n" '{driver:"snapshot-access","node-name":($n+"-snap"),file:($n+"-cbw")}')" \
    "block-export-add $exp"
  printf ' >/dev/null\n'
}
qsd_job_uri() { sed -n 's/^uri=//p' "$WORK/qsd/job"; }
qsd_job_ctx() { sed -n 's/^ctx=//p' "$WORK/qsd/job"; }
# Tear down in the order the permissions allow: export, snapshot-access (so CBW has no reader
# parent any more), reopen the throttle back onto the disk, then CBW and the temp node.
qsd_job_finish() {
  local d n tmp
  d=$(sed -n 's/^disk=//p' "$WORK/qsd/job"); n=$(sed -n 's/^n=//p' "$WORK/qsd/job")
  tmp=$(sed -n 's/^tmp=//p' "$WORK/qsd/job")
  qmp "block-export-del $(js --arg n "$n" '{id:("e-"+$n),mode:"hard"}')" \
      'wait-event {"event":"BLOCK_EXPORT_DELETED"}' \
      "blockdev-del $(js --arg n "$n" '{"node-name":($n+"-snap")}')" \
      "blockdev-reopen $(js --arg d "$d" '{options:[{driver:"throttle","node-name":($d+"-top"),"throttle-group":("tg-"+$d),file:$d}]}')" \
      "blockdev-del $(js --arg n "$n" '{"node-name":($n+"-cbw")}')" \
      "blockdev-del $(js --arg n "$n" '{"node-name":($n+"-tmp")}')" >/dev/null
  echo "qsd job $n finished: temp file held $(du -k "$tmp" | cut -f1) KiB" >>"$LOG"
  rm -f "$tmp"
}
qsd_bitmap_del() { qmp "block-dirty-bitmap-remove $(js --arg d "$1" --arg b "$2" '{node:$d,name:$b}')" >/dev/null; }
# qsd_bitmap_add_cmd DISK NAME: the command that creates a persistent checkpoint bitmap (QEMU
# writes persistent bitmaps into the image only when it closes or inactivates it)
qsd_bitmap_add_cmd() {
  printf '%q %q %q %q >/dev/null\n' "$PY" "$lib/qmp.py" "$WORK/qsd/qmp.sock" \
    "block-dirty-bitmap-add $(js --arg d "$1" --arg b "$2" '{node:$d,name:$b,persistent:true}')"
}

# ---------------------------------------------------------------- fleeced (REST contract)
FL_PID=
FL_URL="http://127.0.0.1:$FL_REST_PORT"
export FL_URL FLEECED_TOKEN     # for lib/wait_job.sh
declare -A FL_WURI
# rest METHOD PATH [JSON]: body on stdout; on an HTTP error print the problem and return 1
rest() {
  local out code args=(-sS -X "$1")
  [ -z "$FLEECED_TOKEN" ] || args+=(-H "Authorization: Bearer $FLEECED_TOKEN")
  [ $# -lt 3 ] || args+=(-H 'Content-Type: application/json' --data "$3")
  out=$(mktemp)
  code=$(curl "${args[@]}" -o "$out" -w '%{http_code}' "$FL_URL$2") || code=000
  if [ "${code:0:1}" != 2 ]; then
    log "fleeced: $1 $2 -> HTTP $code: $(head -c 600 "$out")"
    rm -f "$out"; return 1
  fi
  cat "$out"; rm -f "$out"
}
FL_MISSING=
fl_fail() { FL_MISSING=$*; return 1; }

fl_start() {
  [ -x "$FLEECED" ] || { fl_fail "no launcher at $FLEECED"; return 1; }
  if [ "$BUILD" = 1 ]; then
    log "building fleeced (mvn -o -DskipTests -pl daemon -am package)"
    (cd "$top" && JAVA_HOME=$("$top/bin/find-jdk") mvn -B -q -ntp -o -DskipTests -pl daemon -am package >>"$LOG" 2>&1) ||
      { fl_fail "the build failed (see $LOG)"; return 1; }
  fi
  mkdir -p "$WORK/fleeced/state" "$WORK/fleeced/images" "$WORK/fleeced/tmp"
  cp --sparse=always "$WORK/img/disk.qcow2" "$WORK/fleeced/images/disk.qcow2"
  cp --sparse=always "$WORK/img/big.qcow2" "$WORK/fleeced/images/big.qcow2"
  jq -n --arg s "$WORK/fleeced/state" --argjson rp "$FL_REST_PORT" --argjson np "$FL_NBD_PORT" \
        --arg i "$WORK/fleeced/images" --arg t "$WORK/fleeced/tmp" --arg tok "$FLEECED_TOKEN" \
    '{stateDir:$s, rest:{bind:"127.0.0.1",port:$rp}, nbd:{bind:"127.0.0.1",port:$np},
      imageDirs:[$i], tempDirs:[$t], tokens:(if $tok=="" then [] else [$tok] end),
      bitmapStoreSeconds:$ss}' --argjson ss "${FL_STORE_SECONDS:-300}" \
    >"$WORK/fleeced/config.json"
  "$FLEECED" daemon --config "$WORK/fleeced/config.json" >"$WORK/fleeced/fleeced.log" 2>&1 &
  FL_PID=$!
  PIDS+=("$FL_PID")
  local i
  for i in $(seq 600); do   # the launcher builds the jar on first run
    curl -sf "$FL_URL/health" >/dev/null 2>&1 && break
    kill -0 "$FL_PID" 2>/dev/null || { fl_fail "'$FLEECED daemon --config FILE' exited: $(tail -3 "$WORK/fleeced/fleeced.log" | tr '\n' ' ')"; return 1; }
    sleep 0.2
  done
  curl -sf "$FL_URL/health" >/dev/null || { fl_fail "no /health on $FL_URL after 120 s"; return 1; }
  [ "$(ps -o comm= -p "$FL_PID")" = java ] || log "warning: pid $FL_PID is $(ps -o comm= -p "$FL_PID"), not java: RSS may be wrong"
  local d j
  for d in disk big; do
    j=$(rest POST /v1/disks "$(jq -cn --arg n "$d" --arg p "$WORK/fleeced/images/$d.qcow2" '{name:$n,path:$p,format:"qcow2"}')") ||
      { fl_fail "POST /v1/disks (attach $d) failed (is the REST API on main yet?)"; return 1; }
    FL_WURI[$d]=$(jq -r '[.exports[] | select(.readOnly==false)][0].uri // empty' <<<"$j")
    [ -n "${FL_WURI[$d]}" ] || { fl_fail "POST /v1/disks returned no writable export: $j"; return 1; }
    nbdinfo --size "${FL_WURI[$d]}" >/dev/null 2>&1 ||
      { fl_fail "writable export ${FL_WURI[$d]} does not answer NBD"; return 1; }
  done
  # a quick job on the small disk proves POST /v1/jobs and finish work before the long run
  local cmd
  cmd=$(fl_job_cmd disk preflight)
  bash -c "$cmd" || { fl_fail "POST /v1/jobs failed"; return 1; }
  local u; u=$(fl_job_uri)
  [ -n "$u" ] && nbdinfo --size "$u" >/dev/null 2>&1 || { fl_fail "job export '$u' does not answer NBD"; return 1; }
  fl_job_finish || { fl_fail "POST /v1/jobs/{id}/finish failed"; return 1; }
  fl_bitmap_del disk preflight || { fl_fail "DELETE /v1/disks/disk/bitmaps/preflight failed"; return 1; }
}
fl_wuri() { echo "${FL_WURI[$1]}"; }
fl_pid() { echo "$FL_PID"; }
# fl_job_cmd DISK CHECKPOINT [BASE]: the command that starts the job (POST /v1/jobs) and leaves
# its JSON in $WORK/fleeced/job.json; the same settings as the qsd side (raw temp, 64 KiB CBW
# cluster, break-snapshot, 45 s).
fl_job_cmd() {
  local body
  body=$(jq -cn --arg d "$1" --arg c "$2" --arg b "${3:-}" \
    '{disks:[$d],checkpoint:$c,tempFormat:"raw",onCbwError:"break-snapshot",cbwTimeoutSeconds:45,cbwClusterSize:65536}
     + (if $b=="" then {} else {incrementalFrom:$b} end)')
  printf 'curl -sSf -o %q -X POST -H %q --data %q %q' "$WORK/fleeced/job.json" \
    "Content-Type: application/json" "$body" "$FL_URL/v1/jobs"
  [ -z "$FLEECED_TOKEN" ] || printf ' -H %q' "Authorization: Bearer $FLEECED_TOKEN"
  # a job may answer 201 in state "starting": wait until it runs
  printf ' && %q %q\n' "$lib/wait_job.sh" "$WORK/fleeced/job.json"
}
fl_job_uri() { jq -r '.disks[0].uri // empty' "$WORK/fleeced/job.json"; }
fl_job_ctx() { jq -r '.disks[0].metaContext // empty' "$WORK/fleeced/job.json"; }
fl_job_finish() {
  local id j; id=$(jq -r .id "$WORK/fleeced/job.json")
  j=$(rest POST "/v1/jobs/$id/finish" '{"outcome":"success"}') || return 1
  echo "fleeced job $id ($(jq -r .checkpoint <<<"$j")) finished: $(jq -r .state <<<"$j"), stats $(jq -c '.disks[0].stats' <<<"$j")" >>"$LOG"
}
fl_bitmap_del() { rest DELETE "/v1/disks/$1/bitmaps/$2" >/dev/null; }
# fl_bitmap_add_cmd DISK NAME: the command that creates a checkpoint through the API (fleeced
# stores the disk's bitmaps in the image before it answers: a store forced while the guest writes)
fl_bitmap_add_cmd() {
  printf 'curl -sSf -o /dev/null -X POST -H %q --data %q %q' "Content-Type: application/json" \
    "$(jq -cn --arg b "$2" '{name:$b}')" "$FL_URL/v1/disks/$1/bitmaps"
  [ -z "$FLEECED_TOKEN" ] || printf ' -H %q' "Authorization: Bearer $FLEECED_TOKEN"
  printf '\n'
}

# ---------------------------------------------------------------- measurements
# fio_run NAME DIR(read|write) ARGS...: run fio on the nbd engine, print "IOPS MAXLAT_MS"
fio_run() {
  local name=$1 dir=$2; shift 2
  local out="$WORK/fio-$name.json"
  fio --name="$name" --ioengine=nbd --iodepth=16 --output-format=json --output="$out" "$@" \
    >>"$LOG" 2>&1 || { log "fio $name failed, see $out"; return 1; }
  "$PY" "$lib/fiojson.py" "$out" "$dir"
}

# call DAEMON FUNCTION ARGS...: qsd_FUNCTION or fl_FUNCTION
call() { local d=$1 f=$2; shift 2; if [ "$d" = qsd ]; then "qsd_$f" "$@"; else "fl_$f" "$@"; fi; }

# run_round DAEMON ROUND: every test once on one daemon
run_round() {
  local D=$1 r=$2 pid wuri juri ctx cmd t0 t1 res
  pid=$(call "$D" pid); wuri=$(call "$D" wuri disk)
  sleep 1
  record "$D" rss_idle_mib "$r" "$(( $(rss_kib "$pid") / 1024 ))"
  : >"$WORK/rss.$D"
  rss_sampler "$pid" "$WORK/rss.$D" & local sp=$!
  PIDS+=("$sp")

  # 1. no job
  res=$(fio_run "$D-nojob" write --uri="$wuri" --rw=randwrite --bs=4k --time_based --runtime="$RUNTIME")
  record "$D" iops_nojob "$r" "${res% *}"

  # 2. stall while a job starts under load (job is finished right after); first the same
  #    writer with no job start, for the daemon's own largest gap (GC, flushes, scheduling)
  res=$("$PY" "$lib/stall_writer.py" "$wuri" --duration "$STALL_SECONDS" --cmd true)
  echo "$D round $r stall baseline: $res" >>"$LOG"
  record "$D" stall_base_ms "$r" "$(jq .gap_ms <<<"$res")"
  cmd=$(call "$D" job_cmd disk "r$r-stall")
  res=$("$PY" "$lib/stall_writer.py" "$wuri" --duration "$STALL_SECONDS" --cmd "$cmd") ||
    { log "stall writer / job start failed: $res"; return 1; }
  echo "$D round $r stall: $res" >>"$LOG"
  record "$D" stall_gap_ms "$r" "$(jq .gap_ms <<<"$res")"
  record "$D" stall_maxlat_ms "$r" "$(jq .max_lat_ms <<<"$res")"
  record "$D" job_start_ms "$r" "$(jq .start_ms <<<"$res")"
  call "$D" job_finish
  # the same while an incremental job starts from that checkpoint: the steady state of a backup
  # chain (fleeced stores a disk's first checkpoint at once, later ones with the next store)
  cmd=$(call "$D" job_cmd disk "r$r-stall2" "r$r-stall")
  res=$("$PY" "$lib/stall_writer.py" "$wuri" --duration "$STALL_SECONDS" --cmd "$cmd") ||
    { log "stall writer / incremental job start failed: $res"; return 1; }
  echo "$D round $r incremental stall: $res" >>"$LOG"
  record "$D" stall_inc_gap_ms "$r" "$(jq .gap_ms <<<"$res")"
  call "$D" job_finish
  # the same while a checkpoint is created through the API: qsd stores nothing then (its
  # persistent bitmaps reach the image at close); fleeced journals it. fleeced's background
  # stores are measured apart (store_row below), on a daemon that stores every second.
  cmd=$(call "$D" bitmap_add_cmd disk "r$r-store")
  res=$("$PY" "$lib/stall_writer.py" "$wuri" --duration "$STALL_SECONDS" --cmd "$cmd") ||
    { log "stall writer / bitmap add failed: $res"; return 1; }
  echo "$D round $r bitmap add stall: $res" >>"$LOG"
  record "$D" stall_add_gap_ms "$r" "$(jq .gap_ms <<<"$res")"
  [ "$D" = fleeced ] || record "$D" stall_store_gap_ms "$r" "$(jq .gap_ms <<<"$res")"
  call "$D" bitmap_del disk "r$r-store"; call "$D" bitmap_del disk "r$r-stall2"; call "$D" bitmap_del disk "r$r-stall"

  # 3. a fresh job: reads of the fleece export (nothing copied yet), then guest writes
  cmd=$(call "$D" job_cmd disk "r$r-job")
  bash -c "$cmd"
  juri=$(call "$D" job_uri)
  t0=$(now_ns)
  # shellcheck disable=SC2086
  nbdcopy $NBDCOPY_OPTS "$juri" null: 2>>"$LOG"
  t1=$(now_ns)
  record "$D" seqread_mibs "$r" "$(awk -v b="$SIZE_B" -v ns=$((t1 - t0)) 'BEGIN{printf "%.1f", b/1048576/(ns/1e9)}')"
  res=$(fio_run "$D-randread" read --uri="$juri" --readonly --rw=randread --bs=4k --time_based --runtime="$RUNTIME")
  record "$D" randread_iops "$r" "${res% *}"
  # first touch: one 4 KiB write into each 64 KiB cluster, random order, capped at RUNTIME
  res=$(fio_run firsttouch write --uri="$wuri" --read_iolog="$WORK/firsttouch.log" --runtime="$RUNTIME")
  record "$D" iops_first "$r" "${res% *}"
  # make sure every cluster is copied (replay the whole log once more, untimed)
  fio_run firsttouch write --uri="$wuri" --read_iolog="$WORK/firsttouch.log" >/dev/null
  res=$(fio_run "$D-after" write --uri="$wuri" --rw=randwrite --bs=4k --time_based --runtime="$RUNTIME")
  record "$D" iops_after "$r" "${res% *}"
  call "$D" job_finish; call "$D" bitmap_del disk "r$r-job"
  kill "$sp"; wait "$sp" 2>/dev/null || true
  record "$D" rss_load_mib "$r" "$(sort -n "$WORK/rss.$D" | tail -1 | awk '{print int($1/1024)}')"

  # 4. nbdinfo --map over the sparse big disk: full job, then an incremental one
  bash -c "$(call "$D" job_cmd big "r$r-m0")"
  juri=$(call "$D" job_uri)
  t0=$(now_ns); nbdinfo --map "$juri" >"$WORK/map-$D.txt"; t1=$(now_ns)
  record "$D" map_full_s "$r" "$(awk -v ns=$((t1 - t0)) 'BEGIN{printf "%.3f", ns/1e9}')"
  echo "$D round $r map: $(wc -l <"$WORK/map-$D.txt") extents, $(grep -vc hole "$WORK/map-$D.txt") data" >>"$LOG"
  call "$D" job_finish
  qemu-io -f raw "$(call "$D" wuri big)" <"$WORK/dirty.cmds" >/dev/null
  bash -c "$(call "$D" job_cmd big "r$r-m1" "r$r-m0")"
  juri=$(call "$D" job_uri); ctx=$(call "$D" job_ctx)
  [ -n "$ctx" ] || { log "$D: incremental job has no dirty-bitmap meta context"; return 1; }
  t0=$(now_ns); nbdinfo --map="$ctx" "$juri" >"$WORK/bmap-$D.txt"; t1=$(now_ns)
  record "$D" map_bitmap_s "$r" "$(awk -v ns=$((t1 - t0)) 'BEGIN{printf "%.3f", ns/1e9}')"
  echo "$D round $r bitmap map ($ctx): $(awk '$4=="dirty"||$3==1{n++} END{print n+0}' "$WORK/bmap-$D.txt") dirty extents" >>"$LOG"
  call "$D" job_finish
  call "$D" bitmap_del big "r$r-m0"; call "$D" bitmap_del big "r$r-m1"
}

# ---------------------------------------------------------------- main
rm -rf "$WORK"; mkdir -p "$WORK/img"
: >"$RESULTS"; : >"$LOG"
log "work directory $WORK (log: $LOG)"
log "images: disk $(numfmt --to=iec "$SIZE_B") fully written; big $(numfmt --to=iec "$BIG_B") sparse, 64 KiB every $(numfmt --to=iec "$MAP_STRIDE_B")"
qemu-img create -q -f qcow2 -o cluster_size=$CLUSTER "$WORK/img/disk.qcow2" "$SIZE_B"
awk -v s="$SIZE_B" 'BEGIN{c=64*1048576; for(o=0;o<s;o+=c){n=(s-o<c)?s-o:c; printf "write -q -P 0x5a %.0f %.0f\n", o, n}}' |
  qemu-io -f qcow2 "$WORK/img/disk.qcow2" >/dev/null
qemu-img create -q -f qcow2 -o cluster_size=$CLUSTER "$WORK/img/big.qcow2" "$BIG_B"
awk -v s="$BIG_B" -v st="$MAP_STRIDE_B" 'BEGIN{for(o=0;o+65536<=s;o+=st) printf "write -q -P 0x33 %.0f 65536\n", o}' |
  qemu-io -f qcow2 "$WORK/img/big.qcow2" >/dev/null
awk -v s="$BIG_B" -v st="$DIRTY_STRIDE_B" 'BEGIN{for(o=st/2;o+4096<=s;o+=st) printf "write -q -P 0x77 %.0f 4096\n", o}' >"$WORK/dirty.cmds"
"$PY" "$lib/firsttouch_log.py" "$SIZE_B" "$CLUSTER" firsttouch.0.0 "$WORK/firsttouch.log"

DAEMONS=()
if [ "$STORE_ONLY" = 1 ]; then ONLY=fleeced; fi
if [ "$ONLY" != qsd ]; then
  log "starting fleeced ($FLEECED)"
  if fl_start; then
    DAEMONS+=(fleeced)
  else
    log "The fleeced half cannot run: $FL_MISSING"
    log "fleeced log: $WORK/fleeced/fleeced.log (kept). Benchmark qemu-storage-daemon alone with: $0 --only qsd"
    KEEP=1
    exit 3
  fi
fi
if [ "$ONLY" != fleeced ]; then
  log "starting qemu-storage-daemon"
  qsd_start
  DAEMONS+=(qsd)
fi

for r in $(seq "$ROUNDS"); do
  [ "$STORE_ONLY" = 1 ] && break
  order=("${DAEMONS[@]}")
  if [ $((r % 2)) = 0 ] && [ ${#DAEMONS[@]} = 2 ]; then order=("${DAEMONS[1]}" "${DAEMONS[0]}"); fi
  for D in "${order[@]}"; do
    log "round $r/$ROUNDS: $D"
    run_round "$D" "$r"
  done
done

# fleeced's background bitmap store under the stall writer: a daemon of its own that stores
# every disk's bitmaps every second (bitmapStoreSeconds: 1), so that a run of STORE_SECONDS
# covers several stores; the row is the largest write gap of each run. The disk has a
# recording checkpoint that the writes dirty, so every store writes a bitmap. The writer flushes
# every STALL_FLUSH_MS (a guest's file system does): a background store issues no sync of the
# image and goes on with those. The guest's own flushes stall its writes too (tens to hundreds of
# ms here), so a second row takes only the gaps that overlap no flush: the store's own cost. The baseline is the same flushing writer on the first daemon
# (bitmapStoreSeconds 300: no store during the run), with the same recording checkpoint.
store_row() {
  local r res
  rest POST /v1/disks/disk/bitmaps '{"name":"store-row"}' >/dev/null
  for r in $(seq "$ROUNDS"); do
    res=$("$PY" "$lib/stall_writer.py" "$(fl_wuri disk)" --duration "$STORE_SECONDS" --flush-ms "$STALL_FLUSH_MS" --cmd true)
    echo "fleeced round $r flushing writer, no store: $res" >>"$LOG"
    record fleeced stall_flush_base_ms "$r" "$(jq .max_gap_ms <<<"$res")"
    record fleeced stall_flush_base_out_ms "$r" "$(jq .max_gap_outside_flush_ms <<<"$res")"
  done
  kill "$FL_PID"; wait "$FL_PID" 2>/dev/null || true
  rm -rf "$WORK/fleeced/state"   # a fresh daemon: nothing remembered from the rounds
  FL_STORE_SECONDS=1 fl_start || { log "fleeced (store every second) did not start: $FL_MISSING"; return 1; }
  rest POST /v1/disks/disk/bitmaps '{"name":"store-row"}' >/dev/null
  for r in $(seq "$ROUNDS"); do
    res=$("$PY" "$lib/stall_writer.py" "$(fl_wuri disk)" --duration "$STORE_SECONDS" --flush-ms "$STALL_FLUSH_MS" --cmd true)
    echo "fleeced round $r background store stall: $res" >>"$LOG"
    record fleeced stall_store_gap_ms "$r" "$(jq .max_gap_ms <<<"$res")"
    record fleeced stall_store_out_ms "$r" "$(jq .max_gap_outside_flush_ms <<<"$res")"
  done
}
if [[ " ${DAEMONS[*]} " == *" fleeced "* ]]; then
  log "fleeced: write gaps while its bitmaps are stored every second"
  store_row
fi

jv=$("$top/bin/find-jdk" 2>/dev/null) && jv=$("$jv/bin/java" -version 2>&1 | sed -n 1p) || jv="no JDK 25 found"
{
  echo
  echo "## fleeced vs qemu-storage-daemon: fleecing"
  echo
  "$PY" "$lib/report.py" "$RESULTS"
  echo
  echo "- command: \`$cmdline\`"
  echo "- date: $(date -u +%FT%TZ); host: $(nproc) CPUs ($(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)), kernel $(uname -r)"
  echo "- fleeced: $(git -C "$top" rev-parse --short HEAD 2>/dev/null)$(git -C "$top" diff --quiet 2>/dev/null || echo -dirty), $jv"
  echo "- $(qemu-storage-daemon --version | sed -n 1p); $(fio --version); $(nbdcopy --version | sed -n 1p)"
  echo "- disk: qcow2 $(numfmt --to=iec "$SIZE_B"), 64 KiB clusters, fully written; CBW cluster 64 KiB, raw temp; RUNTIME=${RUNTIME}s, ROUNDS=$ROUNDS, order alternates per round"
  echo "- raw results: $RESULTS"
} | tee "$WORK/table.md"
