package org.fleeced.qcow2;

import java.util.Arrays;

/**
 * One header extension (qcow2 spec "Header extensions"): a type and its raw data, kept as
 * bytes so that extensions this driver does not understand survive a header rewrite unchanged.
 *
 * @param type the 32-bit extension type
 * @param data the extension's data, without the padding to 8 bytes
 */
public record HeaderExtension(int type, byte[] data) {
    /** Marks the end of the extension area. */
    public static final int END = 0x00000000;
    /** Backing file format name (a string, not NUL-terminated). */
    public static final int BACKING_FORMAT = 0xe2792aca;
    /** Feature name table: 48-byte entries naming feature bits. */
    public static final int FEATURE_NAME_TABLE = 0x6803f857;
    /** Persistent dirty bitmaps: directory location and count. Owned by the bitmaps code. */
    public static final int BITMAPS = 0x23852875;
    /** Full disk encryption header pointer. */
    public static final int CRYPTO_HEADER = 0x0537be77;
    /** External data file name. */
    public static final int EXTERNAL_DATA_FILE = 0x44415441;

    public HeaderExtension {
        data = data.clone();
    }

    @Override
    public byte[] data() {
        return data.clone();
    }

    /** Bytes the extension occupies in the header: 8 bytes of type and length, data padded to 8. */
    public int encodedSize() {
        return 8 + ((data.length + 7) & ~7);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof HeaderExtension other && type == other.type && Arrays.equals(data, other.data);
    }

    @Override
    public int hashCode() {
        return 31 * type + Arrays.hashCode(data);
    }

    @Override
    public String toString() {
        return String.format("HeaderExtension[0x%08x, %d bytes]", type, data.length);
    }
}
