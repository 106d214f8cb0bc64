package org.fleeced.daemon.nbd.server;

import java.util.ArrayList;
import java.util.List;
import org.fleeced.bitmaps.BitmapView;
import org.fleeced.bitmaps.RangeStatus;
import org.fleeced.daemon.nbd.protocol.ReplyEncoder.StatusRun;

/**
 * {@code qemu:dirty-bitmap:NAME} (QEMU docs/interop/nbd "qemu:dirty-bitmap"): bit 0 DIRTY where
 * the bitmap marks the range changed. A fleece export publishes the job's frozen copy, so the
 * answer never moves while the reader walks it.
 */
public final class DirtyBitmapContext implements MetaContextSource {
    public static final String PREFIX = "qemu:dirty-bitmap:";
    public static final int STATE_DIRTY = 1;
    /** Bounds one answer; the server asks again from where it ends. */
    private static final int MAX_RUNS = 65536;

    private final String name;
    private final BitmapView bitmap;

    public DirtyBitmapContext(String bitmapName, BitmapView bitmap) {
        this.name = PREFIX + bitmapName;
        this.bitmap = bitmap;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public List<StatusRun> status(long offset, long length) {
        List<StatusRun> runs = new ArrayList<>();
        long pos = offset;
        long end = offset + length;
        while (pos < end && runs.size() < MAX_RUNS) {
            RangeStatus run = bitmap.status(pos, end - pos);
            runs.add(new StatusRun(run.length(), run.dirty() ? STATE_DIRTY : 0));
            pos += run.length();
        }
        return runs;
    }
}
