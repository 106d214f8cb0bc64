package org.fleeced.tracking;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Replaces a sidecar file with a new version written beside it ({@code NAME.new}), fsynced and
 * renamed over the old one, so that a crash leaves either the old file, whole, or the new one:
 * never a truncated file that recovery would have to distrust. The directory is synced so the
 * rename itself survives a power loss.
 */
public final class DurableRename {
    /** Writes a new version of the file into the channel. */
    @FunctionalInterface
    public interface Content {
        void writeTo(FileChannel channel) throws IOException;
    }

    private DurableRename() {
    }

    /** Writes {@code content} to {@code target.new}, then renames it over {@code target}; returns it open for writing. */
    public static FileChannel replace(Path target, Content content) throws IOException {
        Path temp = target.resolveSibling(target.getFileName() + ".new");
        FileChannel ch = FileChannel.open(temp, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
        try {
            content.writeTo(ch);
            ch.force(true);
            Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            syncDirectory(target);
            return ch;
        } catch (IOException | RuntimeException e) {
            try {
                ch.close();
            } catch (IOException closeError) {
                e.addSuppressed(closeError);
            }
            throw e;
        }
    }

    private static void syncDirectory(Path file) {
        try (FileChannel dir = FileChannel.open(file.toAbsolutePath().getParent(), StandardOpenOption.READ)) {
            dir.force(true);
        } catch (IOException e) {
            // some file systems refuse fsync on a directory; the file's own fsync still holds
        }
    }
}
