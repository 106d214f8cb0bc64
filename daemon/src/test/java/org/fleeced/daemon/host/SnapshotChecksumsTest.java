package org.fleeced.daemon.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import org.fleeced.block.WriteFlag;
import org.fleeced.checksum.BlockChecksum;
import org.fleeced.checksum.ChecksumRun;
import org.fleeced.daemon.nbd.server.NbdExportRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link SnapshotChecksums} over a real attached disk: it answers what {@link ChecksumRun} computes,
 * says so in a {@code checksum-finished} event, and a caller that has gone away cancels the run.
 */
class SnapshotChecksumsTest {
    private static final long SIZE = 8L << 20;

    @TempDir
    Path dir;
    final List<String> events = new ArrayList<>();
    DiskTable disks;
    SnapshotChecksums checksums;

    @BeforeEach
    void attach() throws Exception {
        Path images = Files.createDirectories(dir.resolve("images"));
        Path temps = Files.createDirectories(dir.resolve("tmp"));
        disks = new DiskTable(new AllowedPaths("image", List.of(images)), new AllowedPaths("guest agent", List.of(dir)),
                new ReservedFiles(dir.resolve("state"), List.of(images), List.of(temps)), new NbdExportRegistry(),
                entries -> { }, (type, data) -> { });
        disks.attach("vm1", images.resolve("vm1.qcow2").toString(), null, new DiskTable.CreateSpec(SIZE, 65536, null, null));
        byte[] data = new byte[1 << 20];
        java.util.Arrays.fill(data, (byte) 0x5a);
        disks.require("vm1").guestIo().exportNode().write(3L << 20, ByteBuffer.wrap(data), WriteFlag.NONE);
        checksums = new SnapshotChecksums((type, d) -> {
            synchronized (events) {
                events.add(type);
            }
        }, 2);
    }

    @AfterEach
    void close() {
        disks.closeAll();
    }

    @Test
    void anIdleDiskIsChecksummedAsTheRunComputesIt() throws Exception {
        AttachedDisk disk = disks.require("vm1");
        ChecksumRun.Result result = checksums.ofDisk(disk, 65536, gone -> { });
        assertEquals(new ChecksumRun(disk.active().exportNode(), new BlockChecksum(65536), 1).run().checksum(),
                result.checksum());
        assertEquals(SIZE, result.sizeBytes());
        synchronized (events) {
            assertEquals("checksum-finished", events.getLast());
        }
        assertNull(checksums.progress("no-job", "vm1"));
    }

    @Test
    void aCallerThatHasGoneAwayCancelsTheRun() {
        assertThrows(CancellationException.class, () -> checksums.ofDisk(disks.require("vm1"), 4096, Runnable::run));
        synchronized (events) {
            assertEquals(List.of(), events.stream().filter("checksum-finished"::equals).toList());
        }
    }
}
