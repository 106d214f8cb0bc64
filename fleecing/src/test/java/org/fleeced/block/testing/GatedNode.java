package org.fleeced.block.testing;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.CRC32;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.Capabilities;
import org.fleeced.block.Errno;
import org.fleeced.block.Extent;
import org.fleeced.block.WriteFlag;

/**
 * A slow node for back-pressure and shutdown tests: every write blocks until {@link #open()} is
 * called, and the node keeps no data, only the CRC-32 of what each write brought, by offset, so a
 * large export costs no memory. Reads, zeroes and discards are not used by those tests and fail.
 */
public final class GatedNode implements BlockNode {
    private final long sizeBytes;
    private final CountDownLatch gate = new CountDownLatch(1);
    /** Writes that entered the node, finished or not. */
    private final AtomicInteger writesStarted = new AtomicInteger();
    private final Map<Long, Long> crcByOffset = new ConcurrentHashMap<>();

    public GatedNode(long sizeBytes) {
        this.sizeBytes = sizeBytes;
    }

    /** Lets every waiting and future write through. */
    public void open() {
        gate.countDown();
    }

    public int writesStarted() {
        return writesStarted.get();
    }

    /** The CRC-32 of the data last written at {@code offset}, or null. */
    public Long crcAt(long offset) {
        return crcByOffset.get(offset);
    }

    public static long crc(byte[] data) {
        CRC32 crc = new CRC32();
        crc.update(data);
        return crc.getValue();
    }

    @Override
    public long size() {
        return sizeBytes;
    }

    @Override
    public Capabilities capabilities() {
        return new Capabilities(true, false, false, false, true, false, 1, 4096, 32 << 20);
    }

    @Override
    public void write(long offset, ByteBuffer src, Set<WriteFlag> flags) throws BlockIOException {
        writesStarted.incrementAndGet();
        try {
            gate.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BlockIOException(Errno.EIO, "interrupted at the gate");
        }
        CRC32 crc = new CRC32();
        crc.update(src);
        crcByOffset.put(offset, crc.getValue());
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws BlockIOException {
        throw new BlockIOException(Errno.EIO, "gated node keeps no data");
    }

    @Override
    public void writeZeroes(long offset, long length, Set<WriteFlag> flags) throws BlockIOException {
        throw new BlockIOException(Errno.EIO, "not used");
    }

    @Override
    public void discard(long offset, long length) throws BlockIOException {
        throw new BlockIOException(Errno.EIO, "not used");
    }

    @Override
    public void flush() {
    }

    @Override
    public List<Extent> blockStatus(long offset, long length) {
        return List.of(new Extent(offset, length, true, false, 1));
    }

    @Override
    public String describe() {
        return "gated(" + sizeBytes + ")";
    }

    @Override
    public void close() {
    }
}
