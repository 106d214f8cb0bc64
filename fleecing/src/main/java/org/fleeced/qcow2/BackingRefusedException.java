package org.fleeced.qcow2;

import java.nio.file.Path;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.Errno;

/**
 * A backing file the opener will not open: it lies outside what the {@link BackingPolicy}
 * admits, or its image does not record its format. Nothing was opened; the caller tells the
 * user which file and why (the daemon answers 403 or 400, never 5xx).
 */
public final class BackingRefusedException extends BlockIOException {
    /** Why the backing file was refused. */
    public enum Reason {
        /** It resolves (symlinks followed) outside the directories the policy admits. */
        OUTSIDE(Errno.EACCES),
        /** The image names a backing file without a backing format, and formats are never probed. */
        FORMAT_REQUIRED(Errno.EINVAL);

        private final Errno errno;

        Reason(Errno errno) {
            this.errno = errno;
        }
    }

    private final Reason reason;
    private final Path file;

    public BackingRefusedException(Reason reason, Path file, String message) {
        super(reason.errno, message);
        this.reason = reason;
        this.file = file;
    }

    public Reason reason() {
        return reason;
    }

    /** The backing file as named (or resolved, for {@link Reason#OUTSIDE}). */
    public Path file() {
        return file;
    }
}
