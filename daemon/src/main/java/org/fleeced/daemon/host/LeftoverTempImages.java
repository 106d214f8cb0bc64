package org.fleeced.daemon.host;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Deletes the temp images that jobs which no longer exist left behind: a job's temp image is
 * deleted when the job ends, but not when the daemon dies while it runs. Run at start, before any
 * job can start, so no file it deletes belongs to a running job.
 *
 * <p>Two sources, so that neither a lost history nor a temp directory outside the configured
 * roots hides a leftover: the temp images the {@link JobHistory} recorded for jobs that crashed,
 * and every file directly in a temp root whose name is a job's temp image name
 * ({@code fleece-JOBID-DISK.raw|.qcow2}, as {@code FleecingJob} names them).
 */
final class LeftoverTempImages {
    private static final Logger LOG = Logger.getLogger("org.fleeced.daemon.jobs");
    /** fleece-UUID-DISK.EXT, with the job id in group 1. */
    static final Pattern NAME = Pattern.compile(
            "fleece-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})-.+\\.(raw|qcow2)");

    private LeftoverTempImages() {
    }

    /**
     * Deletes the leftovers: {@code recorded} (job id by temp image path) and the matching files
     * in {@code tempRoots}. Logs one line per file; the files deleted.
     */
    static List<Path> delete(Map<Path, String> recorded, Collection<Path> tempRoots) {
        Map<Path, String> leftovers = new LinkedHashMap<>(recorded);
        for (Path root : tempRoots) {
            if (!Files.isDirectory(root, LinkOption.NOFOLLOW_LINKS)) {
                continue;
            }
            try (DirectoryStream<Path> files = Files.newDirectoryStream(root)) {
                for (Path file : files) {
                    Matcher m = NAME.matcher(file.getFileName().toString());
                    if (m.matches() && Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
                        leftovers.putIfAbsent(file, m.group(1));
                    }
                }
            } catch (IOException e) {
                LOG.warning("cannot look for leftover temp images in " + root + ": " + e);
            }
        }
        List<Path> deleted = new ArrayList<>();
        for (Map.Entry<Path, String> e : leftovers.entrySet()) {
            try {
                if (Files.deleteIfExists(e.getKey())) {
                    LOG.info("deleted temp image " + e.getKey() + " of job " + e.getValue()
                            + ", which no longer exists");
                    deleted.add(e.getKey());
                }
            } catch (IOException ex) {
                LOG.warning("cannot delete temp image " + e.getKey() + " of job " + e.getValue()
                        + ", which no longer exists: " + ex);
            }
        }
        return deleted;
    }
}
