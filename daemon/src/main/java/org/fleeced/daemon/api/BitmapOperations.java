package org.fleeced.daemon.api;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.fleeced.block.BlockIOException;
import org.fleeced.checkpoint.CheckpointException;
import org.fleeced.checkpoint.CheckpointInfo;
import org.fleeced.checkpoint.CheckpointSet;
import org.fleeced.daemon.host.AttachedDisk;
import org.fleeced.daemon.host.DiskBusy;
import org.fleeced.daemon.host.DiskTable;
import org.fleeced.daemon.host.HostRefusal;
import org.fleeced.daemon.host.ProblemReason;

/**
 * The handlers of the bitmap operations. A disk's bitmaps are its checkpoints: a chain in which
 * the newest records every write and each older one holds the changes up to the next.
 */
final class BitmapOperations {
    private final DiskTable disks;

    BitmapOperations(DiskTable disks) {
        this.disks = disks;
    }

    void bind(Map<String, ApiOperation> ops) {
        ops.put("listBitmaps", req -> ApiResponse.ok(list(disks.require(req.path("disk")))));
        ops.put("createBitmap", this::create);
        ops.put("deleteBitmap", this::delete);
        ops.put("clearBitmap", req -> change(req, (set, name) -> set.clear(name)));
        ops.put("mergeBitmaps", req -> {
            DiskBodies.MergeBitmaps merge = req.body(DiskBodies.MergeBitmaps.class);
            return change(req, (set, name) -> set.merge(name, merge.sources()));
        });
        ops.put("enableBitmap", req -> change(req, (set, name) -> set.setEnabled(name, true)));
        ops.put("disableBitmap", req -> change(req, (set, name) -> set.setEnabled(name, false)));
    }

    List<DiskBodies.Bitmap> list(AttachedDisk disk) {
        CheckpointSet set = disk.active().checkpoints();
        return set.list().stream().map(c -> body(set, c)).toList();
    }

    /** The bytes an incremental backup from {@code base} would read. */
    long changedSince(AttachedDisk disk, String base) throws HostRefusal {
        try {
            return disk.active().checkpoints().changedBytesSince(base);
        } catch (CheckpointException e) {
            throw new HostRefusal(e.refusal() == null ? ProblemReason.BASE_UNKNOWN : HostRefusal.baseReason(e.refusal()),
                    e.getMessage() + ".");
        }
    }

    private ApiResponse create(ApiRequest req) throws ApiProblem, HostRefusal, BlockIOException {
        AttachedDisk disk = disks.require(req.path("disk"));
        DiskBodies.CreateBitmap c = req.body(DiskBodies.CreateBitmap.class);
        DiskBusy.requireNotRestoring(disk, "create checkpoints");
        CheckpointSet set = disk.active().checkpoints();
        if (c.granularity() != null && c.granularity() != set.granularity()) {
            throw new HostRefusal(ProblemReason.GRANULARITY,
                    "Disk '" + disk.name() + "' records checkpoints at " + set.granularity()
                            + " bytes; omit granularity or give that value.");
        }
        if (c.persistent() != null && c.persistent() != set.persistent()) {
            throw new HostRefusal(ProblemReason.PERSISTENCE, "Disk '" + disk.name() + "' keeps its"
                    + " checkpoints " + (set.persistent() ? "persistently (in the qcow2 image, or in a bitmap sidecar"
                    + " beside a raw one)" : "in memory") + "; omit persistent or give " + set.persistent() + ".");
        }
        try {
            set.create(c.name());
            if (Boolean.FALSE.equals(c.enabled())) {
                set.setEnabled(c.name(), false);
            }
        } catch (CheckpointException e) {
            throw new HostRefusal(ProblemReason.NAME_IN_USE, e.getMessage() + "; choose another name.");
        }
        return ApiResponse.created(find(set, c.name()));
    }

    private ApiResponse delete(ApiRequest req) throws HostRefusal, BlockIOException {
        AttachedDisk disk = disks.require(req.path("disk"));
        String name = req.path("bitmap");
        CheckpointSet set = disk.active().checkpoints();
        if (set.list().stream().noneMatch(c -> c.name().equals(name))) {
            return ApiResponse.ok(new DiskBodies.Outcome("absent",
                    "bitmap '" + name + "' of disk '" + disk.name() + "' did not exist"));
        }
        DiskBusy.requireNoJob(disk, "delete bitmaps after it finishes.");
        try {
            set.remove(name);
        } catch (CheckpointException e) {
            return ApiResponse.ok(new DiskBodies.Outcome("absent", e.getMessage()));
        }
        return ApiResponse.ok(new DiskBodies.Outcome("deleted", null));
    }

    /** One change to a named bitmap of a disk. */
    @FunctionalInterface
    private interface Change {
        void apply(CheckpointSet set, String name) throws CheckpointException, BlockIOException;
    }

    private ApiResponse change(ApiRequest req, Change change) throws HostRefusal, BlockIOException {
        AttachedDisk disk = disks.require(req.path("disk"));
        String name = req.path("bitmap");
        CheckpointSet set = disk.active().checkpoints();
        DiskBusy.requireNoJob(disk, "change bitmaps after it finishes.");
        DiskBusy.requireNotRestoring(disk, "change bitmaps");
        try {
            change.apply(set, name);
        } catch (CheckpointException e) {
            boolean missing = set.list().stream().noneMatch(c -> c.name().equals(name));
            throw missing ? new HostRefusal(ProblemReason.BITMAP_UNKNOWN, e.getMessage() + ".")
                    : new HostRefusal(ProblemReason.BITMAP_REFUSED, e.getMessage() + ".");
        }
        return ApiResponse.ok(find(set, name));
    }

    private static DiskBodies.Bitmap find(CheckpointSet set, String name) throws HostRefusal {
        return set.list().stream().filter(c -> c.name().equals(name)).findFirst().map(c -> body(set, c))
                .orElseThrow(() -> new HostRefusal(ProblemReason.BITMAP_UNKNOWN,
                        "No bitmap '" + name + "'."));
    }

    private static DiskBodies.Bitmap body(CheckpointSet set, CheckpointInfo c) {
        String state = c.state().name().toLowerCase(Locale.ROOT);
        String reason = switch (c.state()) {
            case INCONSISTENT -> "BITMAP_IN_USE: left in use by an unclean stop with no intent log to recover it;"
                    + " take a full backup and delete it";
            case RECOVERED -> "RECOVERED: rebuilt after an unclean stop as a superset of the changes";
            default -> null;
        };
        return new DiskBodies.Bitmap(c.name(), state, set.granularity(), set.persistent(), c.recording(),
                c.dirtyBytes(), reason);
    }
}
