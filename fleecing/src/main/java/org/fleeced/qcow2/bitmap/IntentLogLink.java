package org.fleeced.qcow2.bitmap;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.fleeced.qcow2.HeaderExtension;
import org.fleeced.qcow2.Qcow2Header;

/**
 * What ties an image to its intent log sidecar: a random 64-bit identity, stored both in the
 * sidecar's header and in a fleeced-owned header extension of the image, together with a
 * fleeced-owned autoclear feature bit.
 *
 * <p>The sidecar vouches for the image's IN_USE bitmaps only while all three agree: the
 * extension is present, its identity matches the sidecar's, and the autoclear bit is still set.
 * The bit is the part that notices other writers: the qcow2 spec ("autoclear_features") requires
 * any program that writes an image with autoclear bits it does not understand to clear them
 * first, and QEMU does (checked with qemu-io 7.2). So after QEMU or qemu-img opened the image
 * read-write, the bit is gone, and bitmaps left IN_USE are inconsistent again, exactly as QEMU
 * would treat them. QEMU ignores the extension itself.
 *
 * <p>The extension also lists the directory entries the sidecar does <em>not</em> vouch for:
 * bitmaps that were already inconsistent when fleeced opened the image. They stay IN_USE (QEMU
 * must not trust them either) and must never be "recovered" later.
 *
 * <p>The extension also records the newest checkpoint journal entry the directory reflects
 * ({@code journalSeq}): written with the directory in one header write, it tells recovery which
 * journal entries the image already holds, so that replay never applies them twice (a checkpoint
 * removed and created again under the same name would move to the end of the chain). The
 * journal is compacted only after the header is durable, and a kill between the two is common
 * when a background store waits for the guest's syncs.
 *
 * <p>Layout, big-endian: u64 identity, u32 count n, u32 reserved 0, n × u32 directory index,
 * u64 journalSeq (absent in links written before it existed: read as 0, "unknown").
 *
 * @param identity   the random identity shared with the sidecar
 * @param unvouched  directory indices of bitmaps that are inconsistent whatever the sidecar says
 * @param journalSeq the newest journal entry the directory reflects; 0 when unknown
 */
record IntentLogLink(long identity, List<Integer> unvouched, long journalSeq) {
    /** Header extension type "flec" (fleeced intent log link). */
    static final int EXTENSION_TYPE = 0x666c6563;
    /** Autoclear bit 63: "the fleeced intent log link is consistent with this image". */
    static final long AUTOCLEAR_BIT = 1L << 63;
    private static final int FIXED_BYTES = 16;

    IntentLogLink {
        unvouched = List.copyOf(unvouched);
    }

    /** The link recorded in {@code header}, or null when there is none or another writer broke it. */
    static IntentLogLink find(Qcow2Header header) {
        if ((header.features().autoclear() & AUTOCLEAR_BIT) == 0) {
            return null;
        }
        HeaderExtension ext = header.extension(EXTENSION_TYPE);
        if (ext == null || ext.data().length < FIXED_BYTES) {
            return null;
        }
        ByteBuffer b = ByteBuffer.wrap(ext.data());
        long identity = b.getLong(0);
        long count = Integer.toUnsignedLong(b.getInt(8));
        if (count > (ext.data().length - FIXED_BYTES) / 4) {
            return null;
        }
        List<Integer> indices = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            indices.add(b.getInt(FIXED_BYTES + 4 * i));
        }
        int seqAt = FIXED_BYTES + 4 * (int) count;
        long journalSeq = ext.data().length >= seqAt + 8 ? b.getLong(seqAt) : 0;
        return new IntentLogLink(identity, indices, journalSeq);
    }

    /** Whether the image still carries the extension (perhaps with the bit cleared by another writer). */
    static boolean present(Qcow2Header header) {
        return header.extension(EXTENSION_TYPE) != null;
    }

    boolean vouchesFor(int directoryIndex) {
        return !unvouched.contains(directoryIndex);
    }

    HeaderExtension encode() {
        ByteBuffer b = ByteBuffer.allocate(FIXED_BYTES + 4 * unvouched.size() + 8);
        b.putLong(identity).putInt(unvouched.size()).putInt(0);
        for (int index : unvouched) {
            b.putInt(index);
        }
        b.putLong(journalSeq);
        return new HeaderExtension(EXTENSION_TYPE, b.array());
    }
}
