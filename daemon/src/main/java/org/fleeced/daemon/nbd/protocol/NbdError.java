package org.fleeced.daemon.nbd.protocol;

/** Error values of replies (NBD proto "Error values"). */
public enum NbdError {
    EPERM(1),
    EIO(5),
    ENOMEM(12),
    EINVAL(22),
    ENOSPC(28),
    EOVERFLOW(75),
    ENOTSUP(95),
    ESHUTDOWN(108);

    private final int code;

    NbdError(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }

    /** The error with this code, or null (clients treat unknown values as EINVAL). */
    public static NbdError lookup(int code) {
        for (NbdError error : values()) {
            if (error.code == code) {
                return error;
            }
        }
        return null;
    }
}
