package org.fleeced.daemon.nbd.server;

import org.fleeced.block.Errno;
import org.fleeced.daemon.nbd.protocol.NbdCommandFlag;
import org.fleeced.daemon.nbd.protocol.NbdError;
import org.fleeced.daemon.nbd.protocol.NbdRequest;

/**
 * The one mapping from block-layer {@link Errno} to NBD error values (STYLE §5), with nbdkit's strict
 * rules: ENOTSUP only for a request that carried FAST_ZERO, EOVERFLOW only for one that carried
 * DF, EROFS becomes EPERM, EFBIG becomes ENOSPC, an invalid image (EUCLEAN) EIO, anything without an NBD value becomes EINVAL.
 *
 * <p>One deliberate difference from QEMU and nbdkit, which send EINVAL: EACCES (a fleecing reader
 * touched a range it may not read) goes out as EPERM. The error message of a BlockIOException
 * begins with its errno name ("EACCES: ..."), so a structured reply still tells it apart from a
 * write to a read-only export.
 */
public final class NbdErrnoMapping {
    private NbdErrnoMapping() {
    }

    public static NbdError toNbd(Errno errno, NbdRequest request) {
        return switch (errno) {
            case EPERM, EROFS, EACCES -> NbdError.EPERM;
            case EIO, EUCLEAN -> NbdError.EIO;
            case ENOSPC, EFBIG -> NbdError.ENOSPC;
            case ENOMEM -> NbdError.ENOMEM;
            case ESHUTDOWN -> NbdError.ESHUTDOWN;
            case ENOTSUP -> request.has(NbdCommandFlag.FAST_ZERO) ? NbdError.ENOTSUP : NbdError.EINVAL;
            case EOVERFLOW -> request.has(NbdCommandFlag.DF) ? NbdError.EOVERFLOW : NbdError.EINVAL;
            case EINVAL -> NbdError.EINVAL;
        };
    }
}
