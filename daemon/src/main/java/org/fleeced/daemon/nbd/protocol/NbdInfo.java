package org.fleeced.daemon.nbd.protocol;

/** Information types of NBD_OPT_INFO and NBD_OPT_GO (NBD proto "NBD_REP_INFO"). */
public enum NbdInfo {
    EXPORT(0),
    NAME(1),
    DESCRIPTION(2),
    BLOCK_SIZE(3);

    private final int code;

    NbdInfo(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }

    /** The info type with this code, or null for one this server ignores. */
    public static NbdInfo lookup(int code) {
        for (NbdInfo info : values()) {
            if (info.code == code) {
                return info;
            }
        }
        return null;
    }
}
