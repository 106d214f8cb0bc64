package org.fleeced.daemon.api;

import org.fleeced.daemon.host.ReadLimits;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.logging.Logger;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.DataBytes;
import org.fleeced.daemon.host.AttachedDisk;
import org.fleeced.daemon.host.DiskTable;
import org.fleeced.daemon.host.HostRefusal;
import org.fleeced.daemon.host.HostedJob;
import org.fleeced.daemon.host.JobTable;
import org.fleeced.daemon.host.NbdEndpoints;
import org.fleeced.daemon.host.ProblemReason;
import org.fleeced.job.JobState;
import org.fleeced.restore.RestoreLimits;

/** The handlers of the disk operations: listDisks, attachDisk, getDisk, detachDisk, planBackup. */
final class DiskOperations {
    private static final Logger LOG = Logger.getLogger("org.fleeced.daemon.rest");
    /** The states in which a job holds a disk: its exports are listed with the disk. */
    private static final Set<JobState> HOLDING = EnumSet.of(JobState.STARTING, JobState.RUNNING);

    /** A qcow2 virtual size is a whole number of 512-byte sectors (QEMU refuses others too). */
    private static final long QCOW2_SECTOR_BYTES = 512;

    private final DiskTable disks;
    private final JobTable jobs;
    private final NbdEndpoints nbd;
    private final BitmapOperations bitmaps;

    DiskOperations(DiskTable disks, JobTable jobs, NbdEndpoints nbd, BitmapOperations bitmaps) {
        this.disks = disks;
        this.jobs = jobs;
        this.nbd = nbd;
        this.bitmaps = bitmaps;
    }

    void bind(Map<String, ApiOperation> ops) {
        ops.put("listDisks", req -> ApiResponse.ok(disks.list().stream().map(this::body).toList()));
        ops.put("getDisk", req -> ApiResponse.ok(body(disks.require(req.path("disk")))));
        ops.put("attachDisk", this::attach);
        ops.put("detachDisk", req -> {
            disks.detach(req.path("disk"), Boolean.parseBoolean(req.query("force")));
            return ApiResponse.noContent();
        });
        ops.put("planBackup", this::plan);
        ops.put("updateDisk", req -> {
            DiskBodies.UpdateDisk update = req.body(DiskBodies.UpdateDisk.class);
            AttachedDisk disk = disks.require(req.path("disk"));
            if (update.ioLimits() != null) {
                DiskBodies.IoLimits l = update.ioLimits();
                disk = disks.setIoLimits(disk.name(),
                        new ReadLimits(l.bytesPerSecond(), l.opsPerSecond(), l.burstBytes(), 0));
            }
            if (update.restoreLimits() != null) {
                RestoreLimits limits = restoreLimits(update.restoreLimits(),
                        disk.active().restoreLimits().orElse(RestoreLimits.DEFAULT));
                disks.setRestoreLimits(disk, limits);
                LOG.info("disk " + disk.name() + ": restore limits now " + limits);
            }
            return ApiResponse.ok(body(disk));
        });
    }

    private ApiResponse attach(ApiRequest req) throws ApiProblem, HostRefusal, BlockIOException {
        DiskBodies.AttachDisk a = req.body(DiskBodies.AttachDisk.class);
        DiskTable.CreateSpec create = a.create() == null ? null : createSpec(a.create());
        if (create != null && Integer.bitCount(create.clusterSize()) != 1) {
            throw new ApiProblem(ProblemReason.INVALID_REQUEST, "create.clusterSize must be a power of two.");
        }
        if (create != null && !"raw".equals(a.format()) && create.sizeBytes() % QCOW2_SECTOR_BYTES != 0) {
            throw new ApiProblem(ProblemReason.INVALID_REQUEST, "create.sizeBytes " + create.sizeBytes()
                    + " is not a multiple of " + QCOW2_SECTOR_BYTES + ", as a qcow2 image's size must be; round it up to "
                    + Math.ceilDiv(create.sizeBytes(), QCOW2_SECTOR_BYTES) * QCOW2_SECTOR_BYTES + ".");
        }
        String agent = a.guestAgent() == null ? null : a.guestAgent().socket();
        return ApiResponse.created(body(disks.attach(a.name(), a.path(), a.format(), create, agent)));
    }

    private DiskTable.CreateSpec createSpec(DiskBodies.CreateImage c) throws ApiProblem, HostRefusal {
        int cluster = c.clusterSize() == null ? 65536 : c.clusterSize();
        long size = c.sizeBytes() == null ? 0 : c.sizeBytes();
        if (c.restoreFrom() == null) {
            if (size == 0) {
                throw new ApiProblem(ProblemReason.INVALID_REQUEST, "create.sizeBytes is required (except with restoreFrom).");
            }
            return new DiskTable.CreateSpec(size, cluster, c.backingFile(), c.backingFormat());
        }
        DiskBodies.RestoreFrom r = c.restoreFrom();
        return new DiskTable.CreateSpec(size, cluster, c.backingFile(), c.backingFormat(),
                disks.restoreSources().of(r.path(), r.uri(), r.format()),
                c.restoreLimits() == null ? RestoreLimits.DEFAULT : restoreLimits(c.restoreLimits(), RestoreLimits.DEFAULT));
    }

    private ApiResponse plan(ApiRequest req) throws HostRefusal, BlockIOException {
        AttachedDisk disk = disks.require(req.path("disk"));
        String base = req.query("base");
        long size = disk.active().exportNode().size();
        long allocated = DataBytes.of(disk.active().exportNode());
        if (base == null) {
            return ApiResponse.ok(new DiskBodies.Plan(disk.name(), "full", null, allocated, allocated, size));
        }
        long dirty = bitmaps.changedSince(disk, base);
        return ApiResponse.ok(new DiskBodies.Plan(disk.name(), "incremental", base, dirty, allocated, size));
    }

    DiskBodies.Disk body(AttachedDisk disk) {
        List<String> jobIds = jobs.running().stream()
                .filter(j -> j.disk(disk.name()) != null && HOLDING.contains(j.job().state()))
                .map(HostedJob::id).toList();
        List<DiskBodies.Export> exports = new ArrayList<>();
        exports.add(new DiskBodies.Export(disk.exportName(), false, nbd.tcpUri(disk.exportName()),
                nbd.unixUri(disk.exportName())));
        for (HostedJob job : jobs.running()) {
            HostedJob.Disk d = job.disk(disk.name());
            if (d != null && jobIds.contains(job.id())) {
                exports.add(new DiskBodies.Export(d.export(), true, nbd.tcpUri(d.export()), nbd.unixUri(d.export())));
            }
        }
        Long allocated = null;
        String allocatedError = null;
        try {
            allocated = DataBytes.of(disk.active().exportNode());
        } catch (BlockIOException e) {
            // the disk is still listed, so that a caller can see it and detach it; the field says what failed
            LOG.warning("disk " + disk.name() + ": counting its data bytes failed: " + e);
            allocatedError = e.errno() + ": " + e.getMessage();
        }
        return new DiskBodies.Disk(disk.name(), disk.path().toString(), disk.formatName(),
                disk.active().exportNode().size(), disk.clusterBytes(), allocated, allocatedError,
                exports, jobIds, bitmaps.list(disk),
                disk.guestAgent() == null ? null : new DiskBodies.GuestAgent(disk.guestAgent().toString()),
                ioLimits(disk.guestIo().limits()), restore(disk));
    }

    private static DiskBodies.Restore restore(AttachedDisk disk) {
        return disk.active().restoreProgress().map(p -> new DiskBodies.Restore(
                p.state().name().toLowerCase(java.util.Locale.ROOT), p.doneBytes(), p.totalBytes(), p.bytesPerSecond(),
                p.etaSeconds(), disk.active().restoreSource(), p.retries(), p.lastError(),
                disk.active().restoreLimits().map(l -> new DiskBodies.RestoreLimits(l.bytesPerSecond(), l.inFlight()))
                        .orElse(null))).orElse(null);
    }

    /** The limits a request sets over {@code now}: an absent field keeps its value (the schema bounds each). */
    private static RestoreLimits restoreLimits(DiskBodies.RestoreLimits body, RestoreLimits now) {
        return new RestoreLimits(body.bytesPerSecond() == null ? now.bytesPerSecond() : body.bytesPerSecond(),
                body.inFlight() == null ? now.inFlight() : body.inFlight());
    }

    private static DiskBodies.IoLimits ioLimits(ReadLimits l) {
        return new DiskBodies.IoLimits(l.bytesPerSecond(), l.opsPerSecond(), l.burstBytes());
    }
}
