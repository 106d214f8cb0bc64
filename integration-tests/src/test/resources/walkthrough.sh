#!/usr/bin/env bash
# One full and one incremental backup of a fleeced disk, by hand. Run it from the top of a clone
# (Debian packages: qemu-utils libnbd-bin python3-libnbd curl jq; a JDK 25 and Maven to build).
set -euo pipefail
export PATH=/usr/bin:/bin:$PATH        # Debian's nbdsh needs the system python3 (python3-libnbd)
REST=${REST:-8580} NBD=${NBD:-10809}   # the daemon's REST and NBD ports
W=$(mktemp -d)                         # everything goes here: config, state, images, backups

# 1. Start the daemon with a small config (bin/fleeced builds it on the first run).
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

# 2. Create a 64 MiB disk; the workload writes through its NBD export.
post /disks "{\"name\":\"vm1\",\"path\":\"$W/state/images/vm1.qcow2\",\"create\":{\"sizeBytes\":67108864}}" | jq -c .exports
qemu-io -f raw -c 'write -P 0x11 0 8M' "nbd://127.0.0.1:$NBD/vm1"

# 3. Full backup: a snapshot with checkpoint c1, copied with nbdcopy, finished with success.
JOB=$(post /jobs '{"disks":["vm1"],"checkpoint":"c1"}')
nbdcopy "$(jq -r '.disks[0].uri' <<<"$JOB")" "$W/full.raw"
post "/jobs/$(jq -r .id <<<"$JOB")/finish" '{"outcome":"success"}' | jq -c '{id, state}'

# 4. The workload changes 1 MiB.
qemu-io -f raw -c 'write -P 0x22 4M 1M' "nbd://127.0.0.1:$NBD/vm1"

# 5. Incremental backup from c1: read only the extents the qemu:dirty-bitmap:c1 context marks
#    dirty, and write them over a copy of the full backup.
JOB=$(post /jobs '{"disks":["vm1"],"checkpoint":"c2","incrementalFrom":"c1"}')
jq -c '.disks[0] | {mode, uri, metaContext}' <<<"$JOB"
cp --sparse=always "$W/full.raw" "$W/restore.raw"
URI=$(jq -r '.disks[0].uri' <<<"$JOB") CONTEXT=$(jq -r '.disks[0].metaContext' <<<"$JOB") \
RESTORE="$W/restore.raw" nbdsh -c '
import os
h.add_meta_context(os.environ["CONTEXT"])
h.connect_uri(os.environ["URI"])
size, dirty, pos = h.get_size(), [], [0]
def extents(context, offset, entries, err):
    for length, flags in zip(entries[0::2], entries[1::2]):
        if context == os.environ["CONTEXT"]:
            if flags & 1:
                dirty.append((offset, length))
            offset += length
            pos[0] = offset
while pos[0] < size:
    h.block_status(size - pos[0], pos[0], extents)
with open(os.environ["RESTORE"], "r+b") as restore:
    for offset, length in dirty:
        for chunk in range(offset, offset + length, 4 << 20):
            restore.seek(chunk)
            restore.write(h.pread(min(4 << 20, offset + length - chunk), chunk))
print("incremental: %d bytes in %d extents" % (sum(l for _, l in dirty), len(dirty)))
'
post "/jobs/$(jq -r .id <<<"$JOB")/finish" '{"outcome":"success"}' | jq -c '{id, state}'

# 6. The full backup plus the incremental equals the disk now.
qemu-img compare -f raw -F raw "$W/restore.raw" "nbd://127.0.0.1:$NBD/vm1"
kill $DAEMON && wait $DAEMON && echo "daemon stopped; everything is in $W"
