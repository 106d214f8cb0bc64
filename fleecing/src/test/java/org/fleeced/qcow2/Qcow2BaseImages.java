package org.fleeced.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.WriteFlag;
import org.fleeced.qcow2.bitmap.BitmapDisk;
import org.fleeced.qcow2.bitmap.PersistentBitmaps;

/**
 * The valid images the qcow2 fuzzer mutates, made once per run in one directory: by
 * {@link Qcow2Creator} and the driver itself (cluster sizes 512 B to 256 KiB, every refcount
 * order, lazy refcounts, preallocation, qcow2 and raw backing files, persistent bitmaps), and,
 * when qemu-img and qemu-io are installed, by QEMU (version 2 images, compressed and zero
 * clusters, bitmaps added by {@code qemu-img bitmap}). Small virtual sizes keep every case fast.
 *
 * <p>Besides the bases, the directory holds files no case may change: the backing files the
 * bases name and a guard image no header names (a mutated backing name may point at it). A
 * case runs on {@link #casePath()}, in the same directory, so relative backing names resolve.
 */
final class Qcow2BaseImages {
    static final String CASE_NAME = "case.qcow2";
    static final String GUARD_NAME = "fz-guard.qcow2";
    static final String QCOW2_BACKING = "fz-backing.qcow2";
    static final String RAW_BACKING = "fz-backing.raw";

    /** A base image: what made it, its bytes, and where its structures are. */
    record Base(String description, byte[] bytes, Qcow2ImageMap map) {
        Base(String description, byte[] bytes) {
            this(description, bytes, Qcow2ImageMap.of(bytes));
        }
    }

    /**
     * What tells a file changed without reading it: size, modification time (nanoseconds on
     * Linux file systems; every write moves it) and identity (a replaced file has another).
     */
    record FileStamp(long size, FileTime modified, Object fileKey) {
        static FileStamp of(Path p) throws IOException {
            BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class);
            return new FileStamp(a.size(), a.lastModifiedTime(), a.fileKey());
        }
    }

    private final Path dir;
    private final List<Base> bases = new ArrayList<>();
    /** Files beside the case that no case may change, with their contents. */
    private final Map<Path, FileStamp> protectedFiles = new LinkedHashMap<>();

    private Qcow2BaseImages(Path dir) {
        this.dir = dir;
    }

    /** Makes every base in {@code dir} (which must be empty); with qemu only if {@code useQemu} and installed. */
    static Qcow2BaseImages create(Path dir, boolean useQemu) throws Exception {
        Qcow2BaseImages images = new Qcow2BaseImages(dir);
        images.makeProtectedFiles();
        images.makeOwnBases();
        if (useQemu && QemuTools.installed("qemu-img") && QemuTools.installed("qemu-io")) {
            images.makeQemuBases();
        }
        return images;
    }

    List<Base> bases() {
        return bases;
    }

    Path dir() {
        return dir;
    }

    Path casePath() {
        return dir.resolve(CASE_NAME);
    }

    Map<Path, FileStamp> protectedFiles() {
        return protectedFiles;
    }

    private void makeProtectedFiles() throws Exception {
        Path backing = dir.resolve(QCOW2_BACKING);
        Qcow2Creator.create(backing, Qcow2CreateOptions.of(2 << 20).withClusterSize(4096));
        try (Qcow2Node node = Qcow2Node.open(backing, Qcow2OpenOptions.readWrite())) {
            scatter(node, 11, 6);
        }
        Path raw = dir.resolve(RAW_BACKING);
        Files.write(raw, new byte[0]);
        Qcow2ImageFiles.patch(raw, 0, ByteBuffer.wrap(Qcow2ImageFiles.pattern(8192, 12)));
        Qcow2ImageFiles.patch(raw, (2 << 20) - 4096, ByteBuffer.wrap(Qcow2ImageFiles.pattern(4096, 13)));
        Path guard = dir.resolve(GUARD_NAME);
        Qcow2Creator.create(guard, Qcow2CreateOptions.of(1 << 20).withClusterSize(512));
        try (Qcow2Node node = Qcow2Node.open(guard, Qcow2OpenOptions.readWrite())) {
            scatter(node, 14, 3);
        }
        for (Path p : List.of(backing, raw, guard)) {
            protectedFiles.put(p, FileStamp.of(p));
        }
    }

    private void makeOwnBases() throws Exception {
        own("64 KiB clusters, 16-bit refcounts", Qcow2CreateOptions.of(4 << 20), 1);
        own("512 B clusters, 1-bit refcounts", Qcow2CreateOptions.of(1 << 20).withClusterSize(512).withRefcountOrder(0), 2);
        own("4 KiB clusters, 64-bit refcounts, lazy", Qcow2CreateOptions.of(2 << 20).withClusterSize(4096)
                .withRefcountOrder(6).withLazyRefcounts(true), 3);
        own("1 KiB clusters, 8-bit refcounts, qcow2 backing", Qcow2CreateOptions.of(2 << 20).withClusterSize(1024)
                .withRefcountOrder(3).withBacking(QCOW2_BACKING, "qcow2"), 4);
        own("64 KiB clusters, raw backing", Qcow2CreateOptions.of(2 << 20).withBacking(RAW_BACKING, "raw"), 5);
        own("256 KiB clusters, 32-bit refcounts, qcow2 backing", Qcow2CreateOptions.of(2 << 20)
                .withClusterSize(256 << 10).withRefcountOrder(5).withBacking(QCOW2_BACKING, "qcow2"), 6);
        own("8 KiB clusters, preallocated metadata, 2-bit refcounts", Qcow2CreateOptions.of(1 << 20).withClusterSize(8192)
                .withRefcountOrder(1).withPreallocation(Qcow2CreateOptions.Preallocation.METADATA), 7);
        ownWithBitmaps("4 KiB clusters, persistent bitmaps", Qcow2CreateOptions.of(2 << 20).withClusterSize(4096), 8);
        ownWithBitmaps("64 KiB clusters, persistent bitmaps, qcow2 backing",
                Qcow2CreateOptions.of(4 << 20).withBacking(QCOW2_BACKING, "qcow2"), 9);
        own("1 MiB clusters, 1 GiB virtual", Qcow2CreateOptions.of(1L << 30).withClusterSize(1 << 20), 12, 1);
        crashedDirty("2 KiB clusters, lazy refcounts, dirty after a crash",
                Qcow2CreateOptions.of(2 << 20).withClusterSize(2048).withLazyRefcounts(true), 10);
        crashedWithBitmaps("4 KiB clusters, bitmaps in use after a crash, no intent log",
                Qcow2CreateOptions.of(2 << 20).withClusterSize(4096), 11);
    }

    /** An image as a crash leaves it with lazy refcounts: dirty bit set, refcounts stale (repaired on open). */
    private void crashedDirty(String description, Qcow2CreateOptions options, long seed) throws Exception {
        Path p = created(options);
        try (Qcow2Node node = Qcow2Node.open(p, Qcow2OpenOptions.readWrite())) {
            scatter(node, seed, 6);
            node.flush();
            bases.add(new Base(description, Files.readAllBytes(p)));
        }
        Files.delete(p);
    }

    /** An image as a crash leaves it with persistent bitmaps: IN_USE, linked to an intent log that is gone. */
    private void crashedWithBitmaps(String description, Qcow2CreateOptions options, long seed) throws Exception {
        Path p = created(options);
        try (BitmapDisk disk = BitmapDisk.open(p, false)) {
            PersistentBitmaps bitmaps = disk.bitmaps();
            bitmaps.add("in-use", 65536, true, true);
            scatter(disk.node(), seed, 4);
            bitmaps.checkpointToImage();
            scatter(disk.node(), seed + 1, 2);
            disk.node().flush();
            bases.add(new Base(description, Files.readAllBytes(p)));
        }
        Files.delete(p);
    }

    private Path created(Qcow2CreateOptions options) throws BlockIOException {
        Path p = dir.resolve("base-" + bases.size() + ".qcow2");
        Qcow2Creator.create(p, options);
        return p;
    }

    private void own(String description, Qcow2CreateOptions options, long seed) throws Exception {
        own(description, options, seed, 5);
    }

    private void own(String description, Qcow2CreateOptions options, long seed, int writes) throws Exception {
        Path p = created(options);
        try (Qcow2Node node = Qcow2Node.open(p, Qcow2OpenOptions.readWrite())) {
            scatter(node, seed, writes);
        }
        addBase(description, p);
    }

    private void ownWithBitmaps(String description, Qcow2CreateOptions options, long seed) throws Exception {
        Path p = created(options);
        try (BitmapDisk disk = BitmapDisk.open(p, false)) {
            PersistentBitmaps bitmaps = disk.bitmaps();
            bitmaps.add("enabled", 65536, true, true);
            bitmaps.add("disabled", 4096, false, true);
            scatter(disk.node(), seed, 4);
            bitmaps.setEnabled("disabled", true);
            scatter(disk.node(), seed + 100, 2);
            bitmaps.setEnabled("disabled", false);
            bitmaps.add("fine", 512, true, true);
            scatter(disk.node(), seed + 200, 2);
        }
        addBase(description, p);
    }

    /** Writes data, zeroes and discards at seeded offsets, so that L2 tables and refcounts have content. */
    private static void scatter(BlockNode node, long seed, int writes) throws BlockIOException {
        java.util.Random r = new java.util.Random(seed);
        long size = node.size();
        for (int i = 0; i < writes; i++) {
            int length = 1 + r.nextInt(20_000);
            long offset = r.nextLong(size - length);
            node.write(offset, ByteBuffer.wrap(Qcow2ImageFiles.pattern(length, seed * 31 + i)), WriteFlag.NONE);
        }
        long zeroAt = r.nextLong(size / 2);
        node.writeZeroes(zeroAt, 8192, Set.of(WriteFlag.MAY_UNMAP));
        node.writeZeroes(size / 2, 4096, WriteFlag.NONE);
        node.discard(zeroAt, 16384);
    }

    private void makeQemuBases() throws Exception {
        Path v2 = qemuCreate("compat=0.10,cluster_size=65536,backing_file=" + QCOW2_BACKING + ",backing_fmt=qcow2", "2M");
        QemuTools.qemuIo(v2, "qcow2", "write -P 0x11 0 100k", "write -P 0x12 1M 4k", "discard 0 64k");
        addBase("qemu: version 2, 64 KiB clusters, qcow2 backing", v2);

        Path compressed = qemuCreate("cluster_size=4096,refcount_bits=8", "2M");
        QemuTools.ok("qemu-img", "bitmap", "--add", "-g", "8192", compressed.toString(), "qemu-enabled");
        QemuTools.ok("qemu-img", "bitmap", "--add", "--disable", compressed.toString(), "qemu-disabled");
        QemuTools.qemuIo(compressed, "qcow2", "write -P 0x21 0 12k", "write -c -P 0x22 64k 4k", "write -c 128k 4k",
                "write -z 256k 16k", "write -z -u 4k 4k", "write -P 0x23 1020k 12k", "write -P 0x24 1M 4k");
        addBase("qemu: 4 KiB clusters, 8-bit refcounts, compressed and zero clusters, bitmaps", compressed);

        Path small = qemuCreate("cluster_size=512,refcount_bits=16,lazy_refcounts=on", "1M");
        QemuTools.qemuIo(small, "qcow2", "write -c -P 0x31 0 512", "write -c -P 0x32 512 512", "write -c 4k 512",
                "write -P 0x33 8k 3k", "write -z 64k 2k");
        QemuTools.ok("qemu-img", "bitmap", "--add", "-g", "512", small.toString(), "tiny");
        QemuTools.qemuIo(small, "qcow2", "write -P 0x34 100k 1k");
        addBase("qemu: 512 B clusters, compressed clusters, lazy refcounts, bitmap", small);

        Path big = qemuCreate("cluster_size=131072,refcount_bits=4,backing_file=" + RAW_BACKING + ",backing_fmt=raw", "2M");
        QemuTools.ok("qemu-img", "bitmap", "--add", big.toString(), "b0");
        QemuTools.ok("qemu-img", "bitmap", "--add", "-g", "65536", big.toString(), "b1");
        QemuTools.qemuIo(big, "qcow2", "write -c -P 0x41 0 128k", "write -P 0x42 300k 10k", "write -z 1M 128k");
        addBase("qemu: 128 KiB clusters, 4-bit refcounts, raw backing, compressed cluster, bitmaps", big);
    }

    private Path qemuCreate(String options, String size) throws Exception {
        Path p = dir.resolve("base-" + bases.size() + ".qcow2");
        QemuTools.ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", options, p.toString(), size);
        return p;
    }

    private void addBase(String description, Path p) throws IOException {
        bases.add(new Base(description, Files.readAllBytes(p)));
        Files.delete(p);
    }
}
