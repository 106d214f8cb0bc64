package org.fleeced.daemon.host;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.Errno;
import org.fleeced.daemon.nbd.client.NbdClientNode;
import org.fleeced.daemon.nbd.client.NbdClientTls;
import org.fleeced.daemon.nbd.client.NbdUri;
import org.fleeced.push.BackupFile;
import org.fleeced.qcow2.BackingPolicy;

/**
 * Checks a push job's targets before the job starts, and creates the backup files.
 *
 * <p>A target file must be a new file inside a configured backup directory, resolved exactly as
 * image paths are ({@link AllowedPaths}: links and {@code ..} resolved, never outside); an
 * existing name (a dangling link included) is refused, so a push never overwrites anything. An
 * incremental push writes a qcow2 whose backing file is the previous backup of the chain: the
 * file the daemon remembers for the base checkpoint ({@link BackupChains}), or the one the caller
 * names, which must exist inside a backup directory; neither is 422 BASE_TARGET_UNKNOWN.
 *
 * <p>An NBD target ({@code uri}) is an export on a backup host (nbdkit, qemu-nbd): it must be
 * writable and of the disk's size, and the push writes into it as it is (an incremental push
 * writes the changes only, so the export must already hold the previous backup, e.g. a qcow2
 * overlay that qemu-nbd serves over it). An {@code nbds://} export is reached over TLS only, its
 * certificate checked against the configured {@code nbdClientTls} CA and the URI's host; without
 * that configuration it is refused. A target that cannot be reached (connection, TLS, export
 * refused) refuses the job before its snapshot, 502 TARGET_UNREACHABLE with the cause.
 */
final class PushTargets {
    private final AllowedPaths backupDirs;
    private final BackupChains chains;
    /** What nbds:// targets are checked with; null when the daemon has no nbdClientTls. */
    private final NbdClientTls tls;

    PushTargets(AllowedPaths backupDirs, BackupChains chains, NbdClientTls tls) {
        this.backupDirs = backupDirs;
        this.chains = chains;
        this.tls = tls;
    }

    /**
     * One disk's checked target: the file to create, its format, and its backing file or null; or
     * the NBD export to write into (then file, format and backing are null).
     */
    record Target(String disk, Path file, BackupFile.Format format, BackupFile.Backing backing, NbdUri uri) {
        /** The file or the URI, as logs, metrics and the API name the target. */
        String name() {
            return file != null ? file.toString() : uri.text();
        }
    }

    /**
     * Checks every disk's target; {@code base} is the checkpoint an incremental push starts from,
     * or null for a full push.
     */
    Map<String, Target> check(List<String> disks, Map<String, PushTargetRequest> requested, String base)
            throws HostRefusal {
        for (String name : requested.keySet()) {
            if (!disks.contains(name)) {
                throw new HostRefusal(ProblemReason.INVALID_JOB, "targets names disk '" + name
                        + "', which the job does not cover.");
            }
        }
        Map<String, Target> targets = new LinkedHashMap<>();
        for (String disk : disks) {
            PushTargetRequest t = requested.get(disk);
            if (t == null) {
                throw new HostRefusal(ProblemReason.INVALID_JOB, "targets has no entry for disk '" + disk
                        + "': a push job needs a target for every disk.");
            }
            if (t.uri() != null) {
                targets.put(disk, new Target(disk, null, null, null, nbdUri(disk, t)));
                continue;
            }
            if (t.path() == null || t.format() == null) {
                throw new HostRefusal(ProblemReason.INVALID_JOB, "Disk '" + disk + "': a target needs path and format,"
                        + " or uri.");
            }
            BackupFile.Format format = BackupFile.Format.valueOf(t.format().toUpperCase(Locale.ROOT));
            Path file = newFile(disk, t.path());
            BackupFile.Backing backing = null;
            if (base != null) {
                if (format != BackupFile.Format.QCOW2) {
                    throw new HostRefusal(ProblemReason.INVALID_JOB, "Disk '" + disk + "': an incremental push"
                            + " needs a qcow2 target (its backing file is the previous backup); use format: qcow2.");
                }
                backing = backing(disk, base, t.backingFile(), t.backingFormat());
            }
            targets.put(disk, new Target(disk, file, format, backing, null));
        }
        if (targets.values().stream().map(Target::name).distinct().count() != targets.size()) {
            throw new HostRefusal(ProblemReason.INVALID_JOB, "Two disks have the same target.");
        }
        return targets;
    }

    /**
     * Creates one target's file and opens it for writing, or connects to its NBD export:
     * TARGET_UNREACHABLE when it cannot be reached, EINVAL when it is read-only or not of the
     * disk's size.
     */
    BlockNode create(Target target, long sizeBytes) throws BlockIOException, HostRefusal {
        if (target.uri() == null) {
            return BackupFile.create(target.file(), target.format(), sizeBytes, target.backing(),
                    BackingPolicy.confinedTo(backupDirs.roots()));
        }
        NbdClientNode export;
        try {
            export = NbdClientNode.connect(target.uri(), tls);
        } catch (BlockIOException e) {
            throw new HostRefusal(ProblemReason.TARGET_UNREACHABLE, "Disk '" + target.disk() + "': the NBD target "
                    + target.name() + " cannot be used: " + e.getMessage() + ". Nothing was started.");
        }
        String wrong = !export.capabilities().canWrite() ? "is read-only"
                : export.size() != sizeBytes ? "has " + export.size() + " bytes, the disk " + sizeBytes : null;
        if (wrong != null) {
            export.close();
            throw new BlockIOException(Errno.EINVAL, "disk " + target.disk() + ": the NBD export " + target.name() + " "
                    + wrong);
        }
        return export;
    }

    private NbdUri nbdUri(String disk, PushTargetRequest t) throws HostRefusal {
        if (t.path() != null || t.format() != null || t.backingFile() != null) {
            throw new HostRefusal(ProblemReason.INVALID_JOB, "Disk '" + disk + "': a target is a file (path, format)"
                    + " or an NBD export (uri), not both.");
        }
        NbdUri uri;
        try {
            uri = NbdUri.parse(t.uri());
        } catch (IllegalArgumentException e) {
            throw new HostRefusal(ProblemReason.INVALID_JOB, "Disk '" + disk + "': " + e.getMessage() + ".");
        }
        if (uri.tls() && tls == null) {
            throw new HostRefusal(ProblemReason.INVALID_JOB, "Disk '" + disk + "': an nbds:// target needs the CA that"
                    + " signs its certificate: configure nbdClientTls.caFile.");
        }
        return uri;
    }

    private Path newFile(String disk, String requested) throws HostRefusal {
        if (requested.indexOf('\n') >= 0 || requested.indexOf('\t') >= 0) {
            throw new HostRefusal(ProblemReason.INVALID_JOB, "Disk '" + disk + "': a target path has no tab or newline.");
        }
        Path file;
        try {
            file = backupDirs.check(requested);
        } catch (AllowedPaths.PathRefused e) {
            throw new HostRefusal(ProblemReason.PATH_NOT_ALLOWED, e.getMessage() + ".");
        }
        if (Files.exists(Path.of(requested), LinkOption.NOFOLLOW_LINKS) || Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
            throw new HostRefusal(ProblemReason.TARGET_EXISTS, "Disk '" + disk + "': " + requested
                    + " exists; a push writes a new file only. Choose a new name.");
        }
        return file;
    }

    private BackupFile.Backing backing(String disk, String base, String named, String namedFormat) throws HostRefusal {
        if (named == null) {
            BackupFile.Backing known = chains.find(disk, base).orElseThrow(() -> new HostRefusal(
                    ProblemReason.BASE_TARGET_UNKNOWN, "Disk '" + disk + "': no push job wrote a backup for checkpoint '"
                    + base + "'; name the previous backup file of the chain in targets." + disk + ".backingFile."));
            if (!Files.isRegularFile(known.file())) {
                throw new HostRefusal(ProblemReason.BASE_TARGET_UNKNOWN, "Disk '" + disk + "': the backup of checkpoint '"
                        + base + "', " + known.file() + ", is gone; name the previous backup file in targets." + disk
                        + ".backingFile.");
            }
            return known;
        }
        Path file;
        try {
            file = backupDirs.check(named);
        } catch (AllowedPaths.PathRefused e) {
            throw new HostRefusal(ProblemReason.PATH_NOT_ALLOWED, e.getMessage() + ".");
        }
        if (!Files.isRegularFile(file)) {
            throw new HostRefusal(ProblemReason.BASE_TARGET_UNKNOWN, "Disk '" + disk + "': the backing file " + named
                    + " does not exist.");
        }
        // never probed: the caller says what it is, or it is what every push writes for a chain
        return new BackupFile.Backing(file, namedFormat == null ? BackupFile.Format.QCOW2
                : BackupFile.Format.valueOf(namedFormat.toUpperCase(Locale.ROOT)));
    }
}
