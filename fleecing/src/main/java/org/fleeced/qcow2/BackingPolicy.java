package org.fleeced.qcow2;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.FileSystemLoopException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.Errno;

/**
 * Which backing files an image may reach. Every member of a backing chain is admitted by the
 * policy of the open that started the chain, after its name was resolved as the qcow2 spec says
 * (relative to the directory of the image that names it) and every symlink was followed: a
 * daemon beside the host's files must not let a header it did not write (a guest can write one
 * into its own raw disk) read {@code /etc/passwd} or another VM's disk.
 *
 * <p>No policy probes a backing file's format: a backing file is opened in the format its image
 * records (the backing format header extension), or not at all ({@link
 * BackingRefusedException.Reason#FORMAT_REQUIRED}), as libvirt requires.
 */
public final class BackingPolicy {
    private static final BackingPolicy UNCONFINED = new BackingPolicy(null);

    /** Real paths of the directories backing files must lie in; null = anywhere. */
    private final List<Path> directories;

    private BackingPolicy(List<Path> directories) {
        this.directories = directories;
    }

    /** Any file the operator's own image names (`fleeced serve` on a file the operator chose). */
    public static BackingPolicy unconfined() {
        return UNCONFINED;
    }

    /**
     * Only files inside {@code directories} (each resolved to its real path now; one that does not
     * exist confines to nothing).
     */
    public static BackingPolicy confinedTo(Collection<Path> directories) {
        List<Path> real = new ArrayList<>();
        for (Path d : directories) {
            try {
                real.add(d.toRealPath());
            } catch (IOException e) {
                // A configured directory that does not exist (yet) admits nothing.
            }
        }
        return new BackingPolicy(List.copyOf(real));
    }

    /**
     * Admits the backing file {@code named} by {@code image}: its real path, or a refusal that names
     * the file. A name that leads nowhere (no such file, a link loop, a name too long) makes the
     * image invalid (EUCLEAN, whatever wrote that name); any other unreadable member is EIO.
     */
    Path admit(Path image, Path named) throws BlockIOException {
        Path real;
        try {
            real = named.toRealPath();
        } catch (NoSuchFileException | FileSystemLoopException e) {
            throw new BlockIOException(Errno.EUCLEAN, "backing file " + named + " of " + image
                    + (e instanceof NoSuchFileException ? " does not exist" : " is a loop of symbolic links"), e);
        } catch (FileSystemException e) {
            Errno errno = String.valueOf(e.getReason()).contains("File name too long") ? Errno.EUCLEAN : Errno.EIO;
            throw new BlockIOException(errno, "backing file " + named + " of " + image + " cannot be opened: " + e, e);
        } catch (IOException e) {
            throw new BlockIOException(Errno.EIO, "backing file " + named + " of " + image + " cannot be opened: " + e, e);
        }
        if (directories == null) {
            return real;
        }
        for (Path dir : directories) {
            if (real.startsWith(dir)) {
                return real;
            }
        }
        throw new BackingRefusedException(BackingRefusedException.Reason.OUTSIDE, real,
                image + " names the backing file " + named + (real.equals(named) ? "" : " (" + real + ")")
                        + ", which is outside the image directories " + directories);
    }
}
