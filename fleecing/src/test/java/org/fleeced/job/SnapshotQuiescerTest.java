package org.fleeced.job;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.WriteFlag;
import org.fleeced.block.file.RawFileNode;
import org.fleeced.checkpoint.BackupBase;
import org.fleeced.checkpoint.BackupOutcome;
import org.fleeced.disk.ActiveDisk;
import org.fleeced.disk.DiskOpener;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The quiesce hook sits exactly around the snapshot point: what a guest writes while it is being
 * quiesced (a file system flushing before a freeze) is in the snapshot, what it writes once let go
 * is not; the guests are let go after the snapshot exists; and a refusal leaves nothing behind.
 */
class SnapshotQuiescerTest {
    private static final int C = 64 << 10;

    @TempDir
    Path dir;
    private ActiveDisk disk;
    private Path temp;

    @BeforeEach
    void openDisk() throws Exception {
        temp = Files.createDirectory(dir.resolve("temp"));
        disk = DiskOpener.over("vda", RawFileNode.create(dir.resolve("disk.raw"), 16L * C), 4096, C);
        write(0, (byte) 1);
    }

    @Test
    void writesWhileQuiescingAreInTheSnapshotAndWritesAfterTheResumeAreNot() throws Exception {
        List<String> calls = new ArrayList<>();
        SnapshotQuiescer freezeLikeAGuest = job -> {
            calls.add("quiesce, checkpoints " + disk.checkpoints().list().size());
            writeUnchecked((byte) 2); // the guest's file system flushes before it reports frozen
            return () -> {
                calls.add("resume, checkpoints " + disk.checkpoints().list().size());
                writeUnchecked((byte) 3); // the guest writes again as soon as it is thawed
            };
        };
        FleecingJob job = FleecingJob.start(spec("c1", freezeLikeAGuest));
        assertEquals(List.of("quiesce, checkpoints 0", "resume, checkpoints 1"), calls,
                "quiesced before the snapshot point, resumed after it");
        ByteBuffer snapshot = ByteBuffer.allocate(C);
        job.disk("vda").exportNode().read(0, snapshot);
        assertArrayEquals(filled((byte) 2), snapshot.array(), "the snapshot holds what was written while quiescing");
        ByteBuffer now = ByteBuffer.allocate(C);
        disk.exportNode().read(0, now);
        assertArrayEquals(filled((byte) 3), now.array());
        job.finish(BackupOutcome.SUCCESS);
    }

    @Test
    void aRefusedQuiesceLeavesNoTempImageNoCheckpointAndAFreeDisk() throws Exception {
        SnapshotQuiescer refusing = job -> {
            throw new SnapshotQuiescer.QuiesceRefusedException("agent unreachable");
        };
        assertThrows(SnapshotQuiescer.QuiesceRefusedException.class, () -> FleecingJob.start(spec("c1", refusing)));
        try (var files = Files.list(temp)) {
            assertEquals(List.of(), files.toList(), "temp images of the refused start");
        }
        assertEquals(List.of(), disk.checkpoints().list());
        FleecingJob retry = FleecingJob.start(spec("c1", SnapshotQuiescer.NONE));
        retry.finish(BackupOutcome.SUCCESS);
        assertEquals(1, disk.checkpoints().list().size(), "the same checkpoint name works on the retry");
    }

    private FleecingJobSpec spec(String checkpoint, SnapshotQuiescer quiescer) {
        return FleecingJobSpec.builder(List.of(disk), TempSettings.raw(temp)).checkpoint(checkpoint)
                .base(BackupBase.full()).quiescer(quiescer).build();
    }

    private void writeUnchecked(byte value) {
        try {
            write(0, value);
        } catch (BlockIOException e) {
            throw new IllegalStateException(e);
        }
    }

    private void write(long offset, byte value) throws BlockIOException {
        disk.exportNode().write(offset, ByteBuffer.wrap(filled(value)), WriteFlag.NONE);
    }

    private static byte[] filled(byte value) {
        byte[] b = new byte[C];
        Arrays.fill(b, value);
        return b;
    }
}
