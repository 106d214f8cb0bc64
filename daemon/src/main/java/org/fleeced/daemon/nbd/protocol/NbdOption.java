package org.fleeced.daemon.nbd.protocol;

/** Option numbers of fixed newstyle haggling (NBD proto "Option types"). The name is the log name. */
public enum NbdOption {
    EXPORT_NAME(1),
    ABORT(2),
    LIST(3),
    PEEK_EXPORT(4),
    STARTTLS(5),
    INFO(6),
    GO(7),
    STRUCTURED_REPLY(8),
    LIST_META_CONTEXT(9),
    SET_META_CONTEXT(10),
    EXTENDED_HEADERS(11);

    private static final NbdOption[] BY_CODE = new NbdOption[12];

    static {
        for (NbdOption option : values()) {
            BY_CODE[option.code] = option;
        }
    }

    private final int code;

    NbdOption(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }

    /** The option with this wire code, or null for one this server does not know. */
    public static NbdOption lookup(int code) {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }

    /** For logs: the enum name, or the number of an unknown option. */
    public static String describe(int code) {
        NbdOption option = lookup(code);
        return option != null ? option.name() : "unknown option " + Integer.toUnsignedString(code);
    }
}
