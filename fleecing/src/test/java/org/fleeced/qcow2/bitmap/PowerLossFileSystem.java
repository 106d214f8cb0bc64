package org.fleeced.qcow2.bitmap;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileStore;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.nio.file.StandardOpenOption;
import java.nio.file.WatchService;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.nio.file.spi.FileSystemProvider;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * A file system over the real one that can lose power: every write and truncate that no force
 * has made durable yet is journaled (bytes before and after), and {@link #powerLoss} puts each
 * file back to its durable state and then re-applies a random subset of the lost writes, in
 * order — what a disk with a volatile write cache may leave behind. From then on every file
 * operation fails, as on a dead machine. Tests reach it only through paths from {@link #wrap},
 * so the code under test opens its files as usual (FileChannel.open on a Path).
 *
 * <p>Simplifications: renames and deletes are durable at once; a single write is never torn; a
 * power loss can also be armed to strike at the n-th force ({@link #loseInsteadOfForce}), so
 * that it lands inside the code under test's sync sequences.
 */
final class PowerLossFileSystem extends FileSystem {
    /** One write (or truncate) not yet forced. */
    private record Lost(long position, byte[] before, byte[] after, long sizeBefore, long truncateTo) {
    }

    private final PowerLossProvider provider = new PowerLossProvider(this);
    private final FileSystem real = FileSystems.getDefault();
    /** Unforced changes per real file, oldest first. Guarded by this. */
    private final Map<Path, List<Lost>> journal = new HashMap<>();
    private final List<JournalingFileChannel> open = new ArrayList<>();
    private Random random;
    private double keepProbability;
    private long forcesLeft = -1;
    private volatile boolean dead;
    /** Told the real path of every file about to be forced (tests that watch when syncs happen). */
    private volatile Consumer<Path> forceWatcher = file -> { };
    /** Files whose forces fail with EIO (the machine lives on); none unless a test says so. */
    private volatile Predicate<Path> failingForces = file -> false;

    Path wrap(Path realPath) {
        return new PowerLossPath(this, realPath);
    }

    /** Arms a power loss at the {@code n}-th force from now (1 = the next), instead of that force. */
    synchronized void loseInsteadOfForce(long n, Random r, double keep) {
        forcesLeft = n;
        random = r;
        keepProbability = keep;
    }

    boolean dead() {
        return dead;
    }

    /** Loses power now: see the class comment. */
    synchronized void powerLoss(Random r, double keep) throws IOException {
        if (dead) {
            return;
        }
        dead = true;
        for (JournalingFileChannel ch : open) {
            ch.real().close();
        }
        for (Map.Entry<Path, List<Lost>> e : journal.entrySet()) {
            List<Lost> lost = e.getValue();
            if (lost.isEmpty()) {
                continue;
            }
            try (FileChannel f = FileChannel.open(e.getKey(), StandardOpenOption.WRITE)) {
                for (int i = lost.size() - 1; i >= 0; i--) {
                    Lost l = lost.get(i);
                    f.write(ByteBuffer.wrap(l.before()), l.position());
                }
                f.truncate(lost.getFirst().sizeBefore());
                for (Lost l : lost) {
                    if (r.nextDouble() < keep) {
                        if (l.truncateTo() >= 0) {
                            f.truncate(l.truncateTo());
                        } else {
                            f.write(ByteBuffer.wrap(l.after()), l.position());
                        }
                    }
                }
            }
        }
        journal.clear();
    }

    synchronized void checkPower() throws IOException {
        if (dead) {
            throw new IOException("power lost");
        }
    }

    synchronized void beforeWrite(JournalingFileChannel channel, FileChannel ch, long position, ByteBuffer data) throws IOException {
        checkPower();
        Path file = channel.file();
        long size = ch.size();
        byte[] after = new byte[data.remaining()];
        data.get(after);
        int overlap = (int) Math.max(0, Math.min(after.length, size - position));
        ByteBuffer before = ByteBuffer.allocate(overlap);
        while (before.hasRemaining() && ch.read(before, position + before.position()) >= 0) {
            // read until the overlapping part is complete
        }
        journal.computeIfAbsent(file, k -> new ArrayList<>()).add(new Lost(position, before.array(), after, size, -1));
    }

    synchronized void beforeTruncate(JournalingFileChannel channel, FileChannel ch, long newSize) throws IOException {
        checkPower();
        Path file = channel.file();
        long size = ch.size();
        ByteBuffer before = ByteBuffer.allocate((int) Math.max(0, size - newSize));
        while (before.hasRemaining() && ch.read(before, newSize + before.position()) >= 0) {
            // read until the cut part is complete
        }
        journal.computeIfAbsent(file, k -> new ArrayList<>()).add(new Lost(newSize, before.array(), new byte[0], size, newSize));
    }

    /**
     * Makes every force of a file {@code which} accepts (by real path) fail with an IOException,
     * as a disk's write error would: the file's unforced writes stay as they are, and nothing
     * else fails. {@code file -> false} stops it.
     */
    void failForces(Predicate<Path> which) {
        failingForces = which;
    }

    /** Calls {@code watcher} with the real path of every file about to be forced, on the forcing thread. */
    void watchForces(Consumer<Path> watcher) {
        forceWatcher = watcher;
    }

    synchronized void force(JournalingFileChannel channel, FileChannel ch, boolean metaData) throws IOException {
        checkPower();
        Path file = channel.file();
        forceWatcher.accept(file);
        if (failingForces.test(file)) {
            throw new IOException("injected write error syncing " + file);
        }
        if (forcesLeft > 0 && --forcesLeft == 0) {
            powerLoss(random, keepProbability);
            throw new IOException("power lost during fsync");
        }
        ch.force(metaData);
        journal.remove(file);
    }

    synchronized JournalingFileChannel opened(Path file, FileChannel ch) throws IOException {
        checkPower();
        JournalingFileChannel j = new JournalingFileChannel(this, file, ch);
        open.add(j);
        return j;
    }

    synchronized void closed(JournalingFileChannel ch) {
        open.remove(ch);
    }

    /** A rename is durable at once; unforced changes of the source now belong to the target. */
    synchronized void moved(Path from, Path to) {
        List<Lost> lost = journal.remove(from);
        journal.remove(to);
        if (lost != null) {
            journal.put(to, lost);
        }
        for (JournalingFileChannel ch : open) {
            if (ch.file().equals(from)) {
                ch.renamed(to);
            }
        }
    }

    synchronized void deleted(Path file) {
        journal.remove(file);
    }

    @Override
    public FileSystemProvider provider() {
        return provider;
    }

    @Override
    public void close() {
    }

    @Override
    public boolean isOpen() {
        return true;
    }

    @Override
    public boolean isReadOnly() {
        return false;
    }

    @Override
    public String getSeparator() {
        return real.getSeparator();
    }

    @Override
    public Iterable<Path> getRootDirectories() {
        List<Path> roots = new ArrayList<>();
        real.getRootDirectories().forEach(p -> roots.add(wrap(p)));
        return roots;
    }

    @Override
    public Iterable<FileStore> getFileStores() {
        return real.getFileStores();
    }

    @Override
    public Set<String> supportedFileAttributeViews() {
        return real.supportedFileAttributeViews();
    }

    @Override
    public Path getPath(String first, String... more) {
        return wrap(real.getPath(first, more));
    }

    @Override
    public PathMatcher getPathMatcher(String syntaxAndPattern) {
        PathMatcher m = real.getPathMatcher(syntaxAndPattern);
        return p -> m.matches(PowerLossPath.unwrap(p));
    }

    @Override
    public UserPrincipalLookupService getUserPrincipalLookupService() {
        return real.getUserPrincipalLookupService();
    }

    @Override
    public WatchService newWatchService() {
        throw new UnsupportedOperationException("no watch service in the power loss file system");
    }
}
