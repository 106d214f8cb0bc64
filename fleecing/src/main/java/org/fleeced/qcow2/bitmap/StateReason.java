package org.fleeced.qcow2.bitmap;

/** Why a bitmap is {@link BitmapState#INCONSISTENT} or {@link BitmapState#RECOVERED}. */
public enum StateReason {
    /** RECOVERED: the image's stored bits, plus every region the intent log marked. */
    RECOVERED_FROM_INTENT_LOG("rebuilt after an unclean stop from the stored bits and the intent log"),
    /** IN_USE, and the image carries no link to a fleeced intent log (e.g. QEMU stopped uncleanly). */
    NO_INTENT_LOG("left in use by an unclean stop, and there is no fleeced intent log for this image"),
    /** IN_USE, the image links an intent log, but the sidecar is missing, damaged or another image's. */
    INTENT_LOG_UNUSABLE("left in use by an unclean stop, and the intent log sidecar is missing, damaged or belongs to another image"),
    /** IN_USE, and another program (QEMU, qemu-img) wrote the image since fleeced last had it open. */
    MODIFIED_BY_OTHER_WRITER("left in use, and another program has written the image since fleeced had it open"),
    /** Already inconsistent when fleeced opened the image earlier; stays so until removed. */
    INCONSISTENT_BEFORE("was already inconsistent when fleeced opened the image; remove it"),
    /** The bitmaps extension's autoclear bit is clear: a program unaware of bitmaps wrote the image. */
    EXTENSION_NOT_CONSISTENT("the image was written by a program that does not maintain bitmaps (autoclear bit 0 clear)"),
    /** The entry has extra data fleeced does not understand and may not ignore (spec "extra_data_compatible"). */
    UNSUPPORTED_EXTRA_DATA("the bitmap has extra data fleeced does not understand");

    private final String description;

    StateReason(String description) {
        this.description = description;
    }

    public String description() {
        return description;
    }
}
