package org.fleeced.daemon.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.stream.Stream;

/** The backups {@code fleeced backup} keeps in a directory: {@code DISK-CHECKPOINT.qcow2}. */
final class BackupChainDirectory {
    private BackupChainDirectory() {
    }

    /** The checkpoint of the newest backup of {@code disk} in {@code dir} (by modification time), or null. */
    static String newestCheckpoint(Path dir, String disk) throws CliFailure {
        String prefix = disk + "-";
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(f -> Files.isRegularFile(f) && f.getFileName().toString().startsWith(prefix)
                            && f.getFileName().toString().endsWith(".qcow2"))
                    .max((a, b) -> modified(a).compareTo(modified(b)))
                    .map(f -> {
                        String file = f.getFileName().toString();
                        return file.substring(prefix.length(), file.length() - ".qcow2".length());
                    })
                    .orElse(null);
        } catch (IOException e) {
            throw new CliFailure(ExitStatus.FAILED, "cannot list " + dir + ": " + e.getMessage());
        }
    }

    private static FileTime modified(Path file) {
        try {
            return Files.getLastModifiedTime(file);
        } catch (IOException e) {
            return FileTime.fromMillis(0);
        }
    }
}
