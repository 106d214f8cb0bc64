package org.fleeced.daemon.nbd.protocol;

/** The magic numbers that open NBD messages (NBD proto "Newstyle negotiation", "Transmission"). */
public enum NbdMagic {
    /** Server greeting, first 8 bytes ("NBDMAGIC"). */
    NBDMAGIC(0x4e42444d41474943L),
    /** Server greeting, second 8 bytes, and the first 8 bytes of every client option ("IHAVEOPT"). */
    IHAVEOPT(0x49484156454F5054L),
    /** Opens every option reply (NBD_REP_MAGIC). */
    REP_MAGIC(0x3e889045565a9L),
    /** Opens a compact request (32-bit length). */
    REQUEST_MAGIC(0x25609513L),
    /** Opens an extended request (64-bit length), only after NBD_OPT_EXTENDED_HEADERS. */
    EXTENDED_REQUEST_MAGIC(0x21e41c71L),
    /** Opens a simple reply. */
    SIMPLE_REPLY_MAGIC(0x67446698L),
    /** Opens a structured reply chunk. */
    STRUCTURED_REPLY_MAGIC(0x668e33efL),
    /** Opens an extended reply chunk, only after NBD_OPT_EXTENDED_HEADERS. */
    EXTENDED_REPLY_MAGIC(0x6e8a278cL);

    private final long value;

    NbdMagic(long value) {
        this.value = value;
    }

    public long value() {
        return value;
    }

    /** The value as the 32-bit field of transmission messages. */
    public int intValue() {
        return (int) value;
    }
}
