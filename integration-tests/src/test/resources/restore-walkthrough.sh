#!/usr/bin/env bash
# Instant restore: a push backup of a disk, then a new disk restored from it. The guest reads and
# writes the new disk at once, the stream's limit is lifted while it runs, and the restored disk
# ends equal to the backup plus the guest's write, standing alone. Run it from the top of a clone
# (Debian packages: qemu-utils curl jq; a JDK 25 and Maven to build).
set -euo pipefail
export PATH=/usr/bin:/bin:$PATH
REST=${REST:-8580} NBD=${NBD:-10809}   # the daemon's REST and NBD ports
W=$(mktemp -d)                         # everything goes here: config, state, images, backups

# 1. Start the daemon; restores read from backupDirs, by default $W/state/backups.
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

# 2. Something to restore: a 64 MiB disk with 16 MiB of data, pushed into $B/vm1.c1.qcow2.
post /disks "{\"name\":\"vm1\",\"path\":\"$W/state/images/vm1.qcow2\",\"create\":{\"sizeBytes\":67108864}}" > /dev/null
qemu-io -f raw -c 'write -P 0x11 0 8M' -c 'write -P 0x22 40M 8M' "nbd://127.0.0.1:$NBD/vm1"
id=$(post /jobs "{\"disks\":[\"vm1\"],\"checkpoint\":\"c1\",
  \"targets\":{\"vm1\":{\"path\":\"$B/vm1.c1.qcow2\",\"format\":\"qcow2\"}}}" | jq -r .id)
while [ "$(curl -sf "$API/jobs/$id" | jq -r .state)" = running ]; do sleep 0.2; done

# 3. Restore it into a new disk vm2, slowly (1 MiB/s): vm2 is usable as soon as the POST answers.
post /disks "{\"name\":\"vm2\",\"path\":\"$W/state/images/vm2.qcow2\",
  \"create\":{\"restoreFrom\":{\"path\":\"$B/vm1.c1.qcow2\",\"format\":\"qcow2\"},
              \"restoreLimits\":{\"bytesPerSecond\":1048576}}}" | jq -c .restore
qemu-io -f raw -c 'read -P 0x22 44M 1M' "nbd://127.0.0.1:$NBD/vm2"   # fetched from the backup now
qemu-io -f raw -c 'write -P 0x33 42M 4k' "nbd://127.0.0.1:$NBD/vm2"  # the rest of its cluster is kept

# 4. Lift the limit while it runs (PATCH; remembered across restarts), then wait for the end.
curl -sf -X PATCH -H 'Content-Type: application/json' -d '{"restoreLimits":{"bytesPerSecond":0}}' \
  "$API/disks/vm2" | jq -c .restore.limits
while [ "$(curl -sf "$API/disks/vm2" | jq -r .restore.state)" != complete ]; do sleep 0.2; done
curl -sf "$API/disks/vm2" | jq -c '.restore | {state, doneBytes, totalBytes}'

# 5. vm2 stands alone (no backing file) and equals vm1 with the same write.
qemu-img info --output=json -U "$W/state/images/vm2.qcow2" | jq -r '."backing-filename" // "no backing file"'
qemu-io -f raw -c 'write -P 0x33 42M 4k' "nbd://127.0.0.1:$NBD/vm1" > /dev/null
qemu-img compare -f raw -F raw "nbd://127.0.0.1:$NBD/vm1" "nbd://127.0.0.1:$NBD/vm2"
kill $DAEMON && wait $DAEMON && echo "daemon stopped; everything is in $W"
