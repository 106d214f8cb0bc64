package org.fleeced.daemon.host;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.logging.Logger;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.BlockNode;
import org.fleeced.block.file.RawFileNode;
import org.fleeced.daemon.nbd.server.ExtentStatusContext;
import org.fleeced.daemon.nbd.server.NbdExport;
import org.fleeced.daemon.nbd.server.NbdExportRegistry;
import org.fleeced.disk.ActiveDisk;
import org.fleeced.disk.DiskOpener;
import org.fleeced.disk.DiskSpec;
import org.fleeced.qcow2.BackingPolicy;
import org.fleeced.qcow2.BackingRefusedException;
import org.fleeced.qcow2.ImageOpener;
import org.fleeced.qcow2.Qcow2CreateOptions;
import org.fleeced.qcow2.Qcow2Creator;
import org.fleeced.restore.InstantRestore;
import org.fleeced.restore.RestoreLimits;
import org.fleeced.restore.RestorePlan;
import org.fleeced.restore.RestoreSource;
import org.fleeced.restore.RestoredClusters;

/**
 * The attached disks, by name: attaching opens (or creates) the image, builds its block stack
 * and registers its writable NBD export; detaching refuses while a job runs, then removes the
 * export and closes the image cleanly. What is attached is remembered across restarts.
 *
 * <p>Thread-safe: every change runs under the table's monitor (attach and detach are rare and
 * short next to the I/O they enable), except the opening of an image, which may recover its
 * bitmaps and so runs outside it, with the name reserved: disks attach in parallel at start.
 */
public final class DiskTable {
    private static final Logger LOG = Logger.getLogger("org.fleeced.daemon.disks");

    private final AllowedPaths imageDirs;
    private final AllowedPaths agentDirs;
    private final ReservedFiles reserved;
    private final NbdExportRegistry exports;
    private final RememberedDisks remembered;
    private final Events events;
    private final RestoreSources restoreSources;
    private final RestoreEvents restoreEvents;
    /** By name, in attach order. Guarded by this. */
    private final Map<String, AttachedDisk> disks = new LinkedHashMap<>();
    /**
     * The disks being attached now (their image is being opened), name to image: their images
     * are already refused to a second attach. Guarded by this.
     */
    private final Map<String, Path> attaching = new HashMap<>();

    public DiskTable(AllowedPaths imageDirs, AllowedPaths agentDirs, ReservedFiles reserved, NbdExportRegistry exports,
            RememberedDisks remembered, Events events) {
        this(imageDirs, agentDirs, reserved, exports, remembered, events,
                new RestoreSources(new AllowedPaths("backup", List.of()), null));
    }

    /** A table whose disks may be restored from {@code restoreSources} (instant restore). */
    public DiskTable(AllowedPaths imageDirs, AllowedPaths agentDirs, ReservedFiles reserved, NbdExportRegistry exports,
            RememberedDisks remembered, Events events, RestoreSources restoreSources) {
        this.restoreSources = restoreSources;
        this.imageDirs = imageDirs;
        this.agentDirs = agentDirs;
        this.reserved = reserved;
        this.exports = exports;
        this.remembered = remembered;
        this.restoreEvents = new RestoreEvents(events);
        this.events = events;
    }

    /**
     * What to create when the image does not exist yet. With {@code restoreFrom}, a qcow2 image of
     * the source's size ({@code sizeBytes} 0 or that size), filled from it while the disk is in use.
     */
    public record CreateSpec(long sizeBytes, int clusterSize, String backingFile, String backingFormat,
            RestoreSource restoreFrom, RestoreLimits restoreLimits) {
        public CreateSpec(long sizeBytes, int clusterSize, String backingFile, String backingFormat) {
            this(sizeBytes, clusterSize, backingFile, backingFormat, null, RestoreLimits.DEFAULT);
        }
    }

    /** The restore sources, for the API to turn a request's {@code restoreFrom} into one. */
    public RestoreSources restoreSources() {
        return restoreSources;
    }

    /**
     * Attaches the image at {@code requestedPath} as disk {@code name}, creating it first when
     * {@code create} is given. An existing image needs its {@code format}: it is never guessed.
     */
    public AttachedDisk attach(String name, String requestedPath, String format, CreateSpec create)
            throws HostRefusal, BlockIOException {
        return attach(name, requestedPath, format, create, null, null, true);
    }

    /**
     * Attaches as {@link #attach(String, String, String, CreateSpec)} does, with the unix socket of
     * the guest's agent (null for none): it must lie inside the guest agent directories, and need
     * not exist yet (jobs use it at their start).
     */
    public AttachedDisk attach(String name, String requestedPath, String format, CreateSpec create, String guestAgent)
            throws HostRefusal, BlockIOException {
        return attach(name, requestedPath, format, create, guestAgent, null, true);
    }

    private AttachedDisk attach(String name, String requestedPath, String format, CreateSpec create,
            String guestAgent, RestoreLimits rememberedLimits, boolean remember) throws HostRefusal, BlockIOException {
        Path path;
        ImageOpener.Format wanted;
        Path agent = guestAgent == null ? null : allowedAgent(guestAgent);
        synchronized (this) {
            path = reserveLocked(name, requestedPath);
            try {
                wanted = prepareLocked(path, format, create);
            } catch (HostRefusal | BlockIOException | RuntimeException e) {
                attaching.remove(name);
                throw e;
            }
        }
        AttachedDisk disk;
        try {
            disk = open(name, path, wanted, agent, create == null || create.restoreFrom() == null ? null
                    : new RestorePlan(create.restoreFrom(), create.restoreLimits()), rememberedLimits);
        } catch (BackingRefusedException e) {
            synchronized (this) {
                attaching.remove(name);
            }
            throw backingRefusal(e);
        } catch (HostRefusal | BlockIOException | RuntimeException e) {
            synchronized (this) {
                attaching.remove(name);
            }
            throw e;
        }
        synchronized (this) {
            attaching.remove(name);
            try {
                BlockNode guestNode = disk.guestIo().exportNode();
                exports.register(new NbdExport(name, "fleeced disk " + name, guestNode, false, false,
                        true, List.of(ExtentStatusContext.baseAllocation(guestNode),
                                ExtentStatusContext.allocationDepth(guestNode))));
            } catch (RuntimeException e) {
                disk.active().close();
                throw e;
            }
            disks.put(name, disk);
            if (remember) {
                rememberLocked();
            }
        }
        LOG.info("disk " + name + ": attached " + path + " (" + disk.formatName() + ", "
                + disk.active().exportNode().size() + " bytes, " + disk.active().checkpoints().list().size()
                + " checkpoints), export '" + name + "'");
        events.publish("disk-attached", Map.of("disk", name, "path", path.toString()));
        return disk;
    }

    /** Checks that {@code name} is free and the path allowed, and reserves the name. */
    private Path reserveLocked(String name, String requestedPath) throws HostRefusal {
        if (disks.containsKey(name) || attaching.containsKey(name)) {
            throw new HostRefusal(ProblemReason.NAME_IN_USE,
                    "A disk named '" + name + "' is already attached; pick another name or detach it first.");
        }
        if (exports.find(name).isPresent()) {
            throw new HostRefusal(ProblemReason.NAME_IN_USE,
                    "An NBD export named '" + name + "' exists; pick another disk name.");
        }
        Path path = allowed(requestedPath);
        attaching.put(name, path);
        return path;
    }

    /** Creates the image when asked to, else checks that it exists; the format when known. */
    private ImageOpener.Format prepareLocked(Path path, String format, CreateSpec create)
            throws HostRefusal, BlockIOException {
        ImageOpener.Format wanted = format == null ? null : ImageOpener.Format.valueOf(format.toUpperCase(java.util.Locale.ROOT));
        if (create != null) {
            return createImage(path, wanted == null ? ImageOpener.Format.QCOW2 : wanted, create);
        }
        if (!Files.isRegularFile(path)) {
            throw new HostRefusal(ProblemReason.IMAGE_NOT_FOUND,
                    "No image file at " + path + "; give an existing image, or 'create' to make one.");
        }
        if (wanted == null) {
            throw new HostRefusal(ProblemReason.FORMAT_REQUIRED, path + " looks like " + ImageOpener.describe(path)
                    + "; pass \"format\": \"" + ImageOpener.detect(path).name().toLowerCase(java.util.Locale.ROOT)
                    + "\" to confirm (formats are never guessed: a guest can write any header into its disk).");
        }
        return wanted;
    }

    /**
     * Closes the image cleanly and removes the export; refused while a job runs on the disk, and
     * while NBD clients use its export unless {@code force}, which closes their connections.
     */
    public synchronized void detach(String name, boolean force) throws HostRefusal, BlockIOException {
        AttachedDisk disk = require(name);
        DiskBusy.requireNoJob(disk, "finish it first.");
        if (force) {
            exports.unregister(disk.exportName());
        } else {
            int clients = exports.unregisterIfUnused(disk.exportName());
            if (clients > 0) {
                throw new HostRefusal(ProblemReason.DISK_IN_USE, "Disk '" + name + "' has " + clients
                        + " NBD client connection(s) on its export; disconnect them, or detach with ?force=true"
                        + " to close them.");
            }
        }
        disks.remove(name);
        rememberLocked();
        disk.active().close();
        LOG.info("disk " + name + ": detached, image closed cleanly");
        events.publish("disk-detached", Map.of("disk", name));
    }

    public synchronized AttachedDisk require(String name) throws HostRefusal {
        AttachedDisk disk = disks.get(name);
        if (disk == null) {
            throw new HostRefusal(ProblemReason.DISK_UNKNOWN,
                    "No disk '" + name + "' is attached; list disks with GET /v1/disks.");
        }
        return disk;
    }

    public synchronized Optional<AttachedDisk> find(String name) {
        return Optional.ofNullable(disks.get(name));
    }

    public synchronized List<AttachedDisk> list() {
        return new ArrayList<>(disks.values());
    }

    /**
     * Sets the guest limits of disk {@code name} ({@code ioLimits}) at once, also for requests
     * waiting now, and remembers them, so that a restarted daemon applies them again.
     */
    public synchronized AttachedDisk setIoLimits(String name, ReadLimits limits) throws HostRefusal {
        AttachedDisk disk = require(name);
        disk.guestIo().setLimits(limits);
        rememberLocked();
        LOG.info("disk " + name + ": guest I/O limits now " + limits);
        return disk;
    }

    /**
     * Changes the limits of the disk's restore stream at once and remembers them (a restart resumes
     * with them); a stream that gave up after source failures runs again.
     *
     * @throws HostRefusal INVALID_REQUEST when the disk is not restoring
     */
    public synchronized void setRestoreLimits(AttachedDisk disk, RestoreLimits limits) throws HostRefusal {
        if (!disk.active().setRestoreLimits(limits)) {
            throw new HostRefusal(ProblemReason.INVALID_REQUEST, "restoreLimits: disk " + disk.name()
                    + " is not being restored (its restore is complete, or it never had one).");
        }
        rememberLocked();
    }

    /** A remembered disk that could not be attached again at start, and why. */
    public record NotAttached(String name, String path, String detail) {
    }

    /**
     * Attaches what an earlier run remembered, all disks in parallel (each opening may recover its
     * bitmaps), then remembers what is attached. A disk that fails is logged and returned.
     */
    public List<NotAttached> restore(Collection<RememberedDisks.Entry> entries) {
        List<NotAttached> failed = new ArrayList<>();
        try (ExecutorService opening = Executors.newVirtualThreadPerTaskExecutor()) {
            Map<RememberedDisks.Entry, Future<AttachedDisk>> attached = new LinkedHashMap<>();
            for (RememberedDisks.Entry e : entries) {
                attached.put(e, opening.submit(() -> attach(e.name(), e.path(), e.format(), null, e.guestAgent(), e.restoreLimits(), false)));
            }
            for (Map.Entry<RememberedDisks.Entry, Future<AttachedDisk>> a : attached.entrySet()) {
                RememberedDisks.Entry e = a.getKey();
                try {
                    AttachedDisk disk = a.getValue().get();
                    if (e.ioLimits() != null) {
                        disk.guestIo().setLimits(e.ioLimits());
                        LOG.info("disk " + e.name() + ": guest I/O limits " + e.ioLimits() + " remembered");
                    }
                } catch (ExecutionException ex) {
                    LOG.warning("disk " + e.name() + ": not attached again at start: " + ex.getCause().getMessage());
                    failed.add(new NotAttached(e.name(), e.path(), ex.getCause().getMessage()));
                } catch (InterruptedException ex) {
                    Thread.currentThread().interrupt();
                    failed.add(new NotAttached(e.name(), e.path(), "the start was interrupted"));
                }
            }
        }
        synchronized (this) {
            rememberLocked();
        }
        return failed;
    }

    /** Detaches every disk (the daemon is stopping): jobs must have been finished. */
    public synchronized void closeAll() {
        for (AttachedDisk disk : new ArrayList<>(disks.values())) {
            exports.unregister(disk.exportName());
            try {
                disk.active().close();
                LOG.info("disk " + disk.name() + ": image closed cleanly");
            } catch (BlockIOException | RuntimeException e) {
                LOG.severe("disk " + disk.name() + ": closing the image failed: " + e);
            }
        }
        disks.clear();
    }

    /**
     * The disk's whole stack, from {@link DiskOpener}: checkpoints persist in a qcow2 image, and
     * beside a raw one in its bitmap sidecar. Every backing file must lie in the image directories too.
     */
    private AttachedDisk open(String name, Path path, ImageOpener.Format format, Path agent, RestorePlan restore,
            RestoreLimits rememberedLimits) throws BlockIOException, HostRefusal {
        DiskSpec spec = DiskSpec.of(name, path, format).withBackingPolicy(BackingPolicy.confinedTo(imageDirs.roots()));
        if (restore == null && format == ImageOpener.Format.QCOW2) {
            // an unfinished restore resumes from the source its state recorded, checked again
            String pending = RestoredClusters.pendingSource(path);
            restore = pending == null ? null : new RestorePlan(restoreSources.described(pending),
                    rememberedLimits == null ? RestoreLimits.DEFAULT : rememberedLimits);
        }
        ActiveDisk active = DiskOpener.open(spec.withRestore(restore));
        return new AttachedDisk(name, path, format, active, agent, new GuestIo(active.exportNode()));
    }

    /** The guest agent socket a request names, refused outside the guest agent directories. */
    private Path allowedAgent(String requested) throws HostRefusal {
        try {
            return agentDirs.check(requested);
        } catch (AllowedPaths.PathRefused e) {
            throw new HostRefusal(ProblemReason.PATH_NOT_ALLOWED, "guestAgent.socket: " + e.getMessage() + ".");
        }
    }

    private static HostRefusal backingRefusal(BackingRefusedException e) {
        return switch (e.reason()) {
            case OUTSIDE -> new HostRefusal(ProblemReason.BACKING_OUTSIDE, e.getMessage()
                    + "; move the backing file into an image directory (and rebase the image onto it).");
            case FORMAT_REQUIRED -> new HostRefusal(ProblemReason.BACKING_FORMAT_REQUIRED,
                    e.getMessage() + ".");
        };
    }

    /**
     * Publishes {@code restore-progress} for every disk whose restore runs, and once
     * {@code restore-complete} or {@code restore-failed} when it ends. Called on a timer.
     */
    public void publishRestoreProgress() {
        restoreEvents.publish(list());
    }

    /**
     * Stores the bitmaps of every disk into its qcow2 image or raw image's bitmap sidecar (in use
     * kept) and retires the intent log epoch: after a crash, recovery then starts from here.
     * Called on a timer.
     */
    public void storeBitmaps() {
        for (AttachedDisk disk : list()) {
            try {
                disk.active().storeBitmaps();
            } catch (BlockIOException | RuntimeException e) {
                LOG.warning("disk " + disk.name() + ": storing the bitmaps in the image failed: " + e);
            }
        }
    }

    /**
     * The real path of a file a request names, refused outside the image directories and when it
     * is one of fleeced's own files or an image a disk (attached or being attached) writes.
     */
    private Path allowed(String requested) throws HostRefusal {
        Path path;
        try {
            path = imageDirs.check(requested);
        } catch (AllowedPaths.PathRefused e) {
            throw new HostRefusal(ProblemReason.PATH_NOT_ALLOWED, e.getMessage() + ".");
        }
        reserved.check(path, writableImagesLocked());
        return path;
    }

    /** The active image of every disk attached or being attached, by the disk's name. */
    private Map<String, Path> writableImagesLocked() {
        Map<String, Path> images = new LinkedHashMap<>(attaching);
        disks.forEach((name, disk) -> images.put(name, disk.path()));
        return images;
    }

    private ImageOpener.Format createImage(Path path, ImageOpener.Format format, CreateSpec spec)
            throws HostRefusal, BlockIOException {
        if (Files.exists(path)) {
            throw new HostRefusal(ProblemReason.IMAGE_EXISTS,
                    path + " exists already; attach it without 'create', or choose a new path.");
        }
        if (spec.restoreFrom() != null) {
            return createForRestore(path, format, spec);
        }
        if (format == ImageOpener.Format.RAW) {
            if (spec.backingFile() != null) {
                throw new HostRefusal(ProblemReason.RAW_HAS_NO_BACKING,
                        "A raw image cannot have a backing file; use format qcow2.");
            }
            RawFileNode.create(path, spec.sizeBytes()).close();
            return format;
        }
        Qcow2CreateOptions options = Qcow2CreateOptions.of(spec.sizeBytes()).withClusterSize(spec.clusterSize());
        if (spec.backingFile() != null) {
            Path backing = allowed(spec.backingFile());
            if (spec.backingFormat() == null) {
                throw new HostRefusal(ProblemReason.BACKING_FORMAT_REQUIRED,
                        "Name the format of backing file " + spec.backingFile()
                                + " in create.backingFormat (qcow2 or raw); formats are never guessed.");
            }
            options = options.withBacking(backing.toString(), spec.backingFormat());
        }
        Qcow2Creator.create(path, options);
        return ImageOpener.Format.QCOW2;
    }

    /** A new qcow2 image of the source's size rounded up to 512, to be filled from it (the source is only measured here). */
    private ImageOpener.Format createForRestore(Path path, ImageOpener.Format format, CreateSpec spec)
            throws HostRefusal, BlockIOException {
        if (format != ImageOpener.Format.QCOW2 || spec.backingFile() != null) {
            throw new HostRefusal(ProblemReason.INVALID_REQUEST,
                    "A restore creates a qcow2 image without a backing file; drop format raw and backingFile.");
        }
        long size;
        try (BlockNode source = spec.restoreFrom().open()) {
            size = source.size();
        }
        long imageSize = InstantRestore.imageSizeFor(size);
        if (spec.sizeBytes() != 0 && spec.sizeBytes() != size && spec.sizeBytes() != imageSize) {
            throw new HostRefusal(ProblemReason.INVALID_REQUEST, "create.sizeBytes is " + spec.sizeBytes()
                    + " but the restore source " + spec.restoreFrom().describe() + " has " + size
                    + " bytes; leave sizeBytes out.");
        }
        Qcow2Creator.create(path, Qcow2CreateOptions.of(imageSize).withClusterSize(spec.clusterSize()));
        return ImageOpener.Format.QCOW2;
    }

    private void rememberLocked() {
        List<RememberedDisks.Entry> entries = disks.values().stream()
                .map(d -> new RememberedDisks.Entry(d.name(), d.path().toString(), d.formatName(),
                        d.guestAgent() == null ? null : d.guestAgent().toString(),
                        d.guestIo().limits().equals(ReadLimits.NONE) ? null : d.guestIo().limits(),
                        d.active().restoreLimits().orElse(null)))
                .toList();
        try {
            remembered.save(entries);
        } catch (IOException e) {
            LOG.severe("cannot remember the attached disks in the state directory: " + e);
        }
    }
}
