package org.fleeced.qcow2.bitmap;

import java.nio.file.Path;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.disk.ActiveDisk;
import org.fleeced.disk.DiskOpener;
import org.fleeced.disk.DiskSpec;
import org.fleeced.qcow2.ImageOpener;

/**
 * A qcow2 image opened as {@code fleeced serve} opens it ({@link DiskOpener}, no checkpoints):
 * every enabled bitmap records the writes through {@link #node()}, as QEMU's would.
 */
public record BitmapDisk(ActiveDisk disk) implements AutoCloseable {

    public static BitmapDisk open(Path image, boolean readOnly, BitmapPersistenceOptions options) throws BlockIOException {
        return new BitmapDisk(DiskOpener.open(DiskSpec.of("test", image, ImageOpener.Format.QCOW2)
                .readOnly(readOnly).withoutCheckpoints().withBitmapOptions(options)));
    }

    public static BitmapDisk open(Path image, boolean readOnly) throws BlockIOException {
        return open(image, readOnly, BitmapPersistenceOptions.defaults());
    }

    public PersistentBitmaps bitmaps() {
        return disk.persistentBitmaps().orElseThrow();
    }

    /** The node the workload writes through: dirty tracking over the image. */
    public BlockNode node() {
        return disk.exportNode();
    }

    /** The clean close: bitmaps stored, sidecar deleted, image closed. */
    @Override
    public void close() throws BlockIOException {
        disk.close();
    }
}
