package org.fleeced.disk;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.fleeced.checkpoint.CheckpointJournal;
import org.fleeced.tracking.IntentLog;

/**
 * The files fleeced keeps beside a disk's image, and the temp files it writes them through: the
 * intent log ({@code IMAGE.fleeced-intent}) and the checkpoint journal
 * ({@code IMAGE.fleeced-journal}). They are fleeced's own: nobody may attach one as a disk,
 * copy, move or delete one while the image is in use.
 */
public final class DiskSidecars {
    private DiskSidecars() {
    }

    /** Every sidecar path of the image at {@code image}, whether it exists or not. */
    public static List<Path> of(Path image) {
        List<Path> paths = new ArrayList<>();
        for (Path p : List.of(IntentLog.sidecarFor(image), CheckpointJournal.sidecarFor(image))) {
            paths.add(p);
            paths.add(p.resolveSibling(p.getFileName() + ".new"));
        }
        return List.copyOf(paths);
    }

    /** Whether {@code file} is named like a sidecar of some image (so is never an image itself). */
    public static boolean isSidecarName(Path file) {
        String name = file.getFileName().toString();
        for (String suffix : List.of(".fleeced-intent", ".fleeced-journal")) {
            if (name.endsWith(suffix) || name.endsWith(suffix + ".new")) {
                return true;
            }
        }
        return false;
    }
}
