package org.fleeced.daemon.host;

import java.nio.file.Path;
import java.util.Locale;
import org.fleeced.block.file.RawFileNode;
import org.fleeced.daemon.nbd.client.NbdClientNode;
import org.fleeced.daemon.nbd.client.NbdClientTls;
import org.fleeced.daemon.nbd.client.NbdUri;
import org.fleeced.qcow2.BackingPolicy;
import org.fleeced.qcow2.Qcow2Node;
import org.fleeced.qcow2.Qcow2OpenOptions;
import org.fleeced.restore.RestoreSource;

/**
 * The backups a disk may be restored from (instant restore): a local image inside the backup
 * directories, in the format the caller names (never probed), whose every backing file lies
 * there too; or an NBD export, read through the daemon's NBD client. A source is described as
 * {@code qcow2:PATH}, {@code raw:PATH} or its NBD URI: the restore state keeps that text, and a
 * restarted daemon turns it into a source here again, with the same checks.
 */
public final class RestoreSources {
    private final AllowedPaths backupDirs;
    /** What an nbds:// source is checked with; null when the daemon has none (then nbds:// fails to connect). */
    private final NbdClientTls tls;

    public RestoreSources(AllowedPaths backupDirs, NbdClientTls tls) {
        this.backupDirs = backupDirs;
        this.tls = tls;
    }

    /** The source a request names: {@code uri}, or {@code path} with its {@code format}. */
    public RestoreSource of(String path, String uri, String format) throws HostRefusal {
        if ((path == null) == (uri == null)) {
            throw new HostRefusal(ProblemReason.INVALID_REQUEST,
                    "create.restoreFrom needs exactly one of path (a backup image) and uri (an NBD export).");
        }
        if (uri != null) {
            return nbd(uri);
        }
        if (format == null) {
            throw new HostRefusal(ProblemReason.FORMAT_REQUIRED, "Name the format of " + path
                    + " in create.restoreFrom.format (qcow2 or raw); formats are never guessed.");
        }
        return file(path, format.toLowerCase(Locale.ROOT));
    }

    /** The source a restore state recorded (see the class note). */
    public RestoreSource described(String description) throws HostRefusal {
        if (NbdUri.looksLikeOne(description)) {
            return nbd(description);
        }
        int colon = description.indexOf(':');
        if (colon < 0) {
            throw new HostRefusal(ProblemReason.INVALID_REQUEST, "unknown restore source '" + description + "'");
        }
        return file(description.substring(colon + 1), description.substring(0, colon));
    }

    private RestoreSource nbd(String uri) throws HostRefusal {
        NbdUri parsed;
        try {
            parsed = NbdUri.parse(uri);
        } catch (IllegalArgumentException e) {
            throw new HostRefusal(ProblemReason.INVALID_REQUEST, "create.restoreFrom.uri: " + e.getMessage() + ".");
        }
        if (parsed.tls() && tls == null) {
            throw new HostRefusal(ProblemReason.INVALID_REQUEST, "create.restoreFrom.uri: an nbds:// source needs the CA"
                    + " that signs its certificate: configure nbdClientTls.caFile.");
        }
        return RestoreSource.of(uri, () -> NbdClientNode.connect(parsed, tls));
    }

    private RestoreSource file(String requested, String format) throws HostRefusal {
        Path path;
        try {
            path = backupDirs.check(requested);
        } catch (AllowedPaths.PathRefused e) {
            throw new HostRefusal(ProblemReason.PATH_NOT_ALLOWED, "create.restoreFrom.path: " + e.getMessage() + ".");
        }
        String description = format + ":" + path;
        return switch (format) {
            case "qcow2" -> RestoreSource.of(description, () -> Qcow2Node.open(path, Qcow2OpenOptions.readOnlyDefaults()
                    .withBackingPolicy(BackingPolicy.confinedTo(backupDirs.roots()))));
            case "raw" -> RestoreSource.of(description, () -> RawFileNode.open(path, true));
            default -> throw new HostRefusal(ProblemReason.INVALID_REQUEST,
                    "create.restoreFrom.format is qcow2 or raw, not '" + format + "'.");
        };
    }
}
