package org.fleeced.daemon.app;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import org.fleeced.daemon.host.RememberedDisks;

/**
 * The disks attached through the API, kept in {@code STATE_DIR/disks.json} so that a restarted
 * daemon attaches them again. Rewritten whole and renamed into place, so a crash leaves the old
 * list or the new one, never half of one.
 */
final class RememberedDisksFile implements RememberedDisks {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path file;

    RememberedDisksFile(Path stateDir) {
        this.file = stateDir.resolve("disks.json");
    }

    List<Entry> load() throws IOException {
        if (!Files.exists(file)) {
            return List.of();
        }
        return JSON.readValue(file.toFile(), new TypeReference<List<Entry>>() { });
    }

    @Override
    public synchronized void save(List<Entry> entries) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.createDirectories(file.getParent());
        JSON.writerWithDefaultPrettyPrinter().writeValue(tmp.toFile(), entries);
        try {
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
