#!/usr/bin/env bash
# A full and two incremental push backups of a fleeced disk: the daemon writes them itself into a
# qcow2 chain, which qemu-img restores. Run it from the top of a clone (Debian packages:
# qemu-utils curl jq; a JDK 25 and Maven to build).
set -euo pipefail
export PATH=/usr/bin:/bin:$PATH
REST=${REST:-8580} NBD=${NBD:-10809}   # the daemon's REST and NBD ports
W=$(mktemp -d)                         # everything goes here: config, state, images, backups

# 1. Start the daemon; push jobs write into backupDirs, by default $W/state/backups.
cat > "$W/fleeced.yaml" <<EOF
stateDir: $W/state
rest: {port: $REST}
nbd: {port: $NBD}
EOF
bin/fleeced daemon --config "$W/fleeced.yaml" > "$W/fleeced.log" 2>&1 &
DAEMON=$!
trap 'kill $DAEMON 2>/dev/null || true' EXIT
curl -sf --retry 300 --retry-delay 1 --retry-connrefused "http://127.0.0.1:$REST/health"; echo
API=http://127.0.0.1:$REST/v1
post() { curl -sf -H 'Content-Type: application/json' -d "$2" "$API$1"; }
B=$W/state/backups

# 2. A 64 MiB disk with 8 MiB of data, written through its NBD export.
post /disks "{\"name\":\"vm1\",\"path\":\"$W/state/images/vm1.qcow2\",\"create\":{\"sizeBytes\":67108864}}" > /dev/null
qemu-io -f raw -c 'write -P 0x11 0 8M' "nbd://127.0.0.1:$NBD/vm1"

# 3. push CHECKPOINT [BASE]: the daemon copies the snapshot into $B/vm1.CHECKPOINT.qcow2 (only the
#    changes since BASE, over the previous file, when BASE is given) and ends the job by itself.
push() {
  local body="{\"disks\":[\"vm1\"],\"checkpoint\":\"$1\"${2:+,\"incrementalFrom\":\"$2\"},
    \"targets\":{\"vm1\":{\"path\":\"$B/vm1.$1.qcow2\",\"format\":\"qcow2\"}}}"
  local id; id=$(post /jobs "$body" | jq -r .id)
  while [ "$(curl -sf "$API/jobs/$id" | jq -r .state)" = running ]; do sleep 0.2; done
  curl -sf "$API/jobs/$id" | jq -c '{state, mode: .disks[0].mode, file: .disks[0].target.path, progress}'
}
push c1                                                # full: 8 MiB of data; holes stay holes
qemu-io -f raw -c 'write -P 0x22 4M 1M' "nbd://127.0.0.1:$NBD/vm1"
push c2 c1                                             # incremental: the changed MiB
qemu-io -f raw -c 'write -z 0 1M' -c 'write -P 0x33 32M 1M' "nbd://127.0.0.1:$NBD/vm1"
push c3 c2                                             # a zeroed MiB becomes zero clusters

# 4. Each file names the previous one as its backing file; every file checks clean; the newest,
#    converted to raw, equals the disk.
qemu-img info --backing-chain "$B/vm1.c3.qcow2" | grep -E '^(image|backing file):'
for f in "$B"/vm1.c1.qcow2 "$B"/vm1.c2.qcow2 "$B"/vm1.c3.qcow2; do
  qemu-img check -q -f qcow2 "$f" && echo "$(basename "$f"): no errors"
done
qemu-img convert -f qcow2 -O raw "$B/vm1.c3.qcow2" "$W/restored.raw"
qemu-img compare -f raw -F raw "$W/restored.raw" "nbd://127.0.0.1:$NBD/vm1"
kill $DAEMON && wait $DAEMON && echo "daemon stopped; everything is in $W"
