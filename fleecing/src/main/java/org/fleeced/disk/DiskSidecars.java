package org.fleeced.disk;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.fleeced.checkpoint.CheckpointJournal;
import org.fleeced.checkpoint.SidecarBitmaps;
import org.fleeced.restore.RestoredClusters;
import org.fleeced.tracking.IntentLog;

/**
 * The files fleeced keeps beside a disk's image, and the temp files it writes them through: the
 * intent log ({@code IMAGE.fleeced-intent}), the checkpoint journal
 * ({@code IMAGE.fleeced-journal}), for a raw image its checkpoints' bitmaps
 * ({@code IMAGE.fleeced-bitmaps}), and while an image is restored, which clusters hold their data
 * ({@code IMAGE.fleeced-restore}). They are fleeced's own: nobody may attach one as a disk,
 * copy, move or delete one while the image is in use.
 */
public final class DiskSidecars {
    private DiskSidecars() {
    }

    /** Every sidecar path of the image at {@code image}, whether it exists or not. */
    public static List<Path> of(Path image) {
        List<Path> paths = new ArrayList<>();
        for (Path p : List.of(IntentLog.sidecarFor(image), CheckpointJournal.sidecarFor(image),
                SidecarBitmaps.sidecarFor(image), RestoredClusters.sidecarFor(image))) {
            paths.add(p);
            paths.add(p.resolveSibling(p.getFileName() + ".new"));
        }
        return List.copyOf(paths);
    }

    /**
     * Whether {@code file} is named as one of fleeced's sidecars (of any image, attached or not):
     * every file fleeced keeps beside an image is named {@code IMAGE.fleeced-KIND}, and rewritten
     * through {@code IMAGE.fleeced-KIND.new}, so no such file is ever an image.
     */
    public static boolean isSidecarName(Path file) {
        Path name = file.getFileName();
        return name != null && name.toString().contains(".fleeced-");
    }
}
