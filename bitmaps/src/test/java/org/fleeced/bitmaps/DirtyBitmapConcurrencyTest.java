package org.fleeced.bitmaps;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Many virtual threads {@link DirtyBitmap#track} disjoint clusters while others take frozen
 * copies, merge and query: no bit may be lost, frozen copies may only grow from one to the next
 * and never change afterwards, and nothing may throw. Halfway through, the writers wait until a
 * frozen copy has been taken, so at least one is taken while tracking is under way (latches,
 * no sleeping).
 */
class DirtyBitmapConcurrencyTest {

  private static final long G = 4096;
  private static final int CLUSTERS = 1 << 14;
  private static final int WRITERS = 32;

  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void concurrentTrackingLosesNoBitsAndFrozenCopiesStayFrozen() throws Exception {
    var bitmap = new DirtyBitmap(CLUSTERS * G - 100, G);
    var start = new CountDownLatch(1);
    var halfway = new Halfway();
    var writersDone = new AtomicBoolean();
    // Not try-with-resources: close() would wait forever for a thread spinning in a corrupted
    // bitmap, where the timeout should fail the test.
    ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();
    try {
      List<Future<?>> writers = new ArrayList<>();
      for (int w = 0; w < WRITERS; w++) {
        int writer = w;
        writers.add(threads.submit(() -> trackOwnClusters(bitmap, writer, start, halfway)));
      }
      Future<List<FrozenBitmap>> snapshots = threads.submit(() -> takeGrowingSnapshots(bitmap, halfway, writersDone));
      Future<DirtyBitmap> merged = threads.submit(() -> mergeAndQuery(bitmap, start, writersDone));
      start.countDown();
      for (Future<?> writer : writers) {
        writer.get();
      }
      writersDone.set(true);

      assertEquals(CLUSTERS, bitmap.dirtyClusters(), "bits lost by concurrent tracking");
      assertEquals(List.of(new ByteRange(0, bitmap.sizeBytes())), bitmap.dirtyExtents(0, bitmap.sizeBytes(), 10));
      List<FrozenBitmap> frozen = snapshots.get();
      assertTrue(
          frozen.stream().anyMatch(f -> f.dirtyClusters() > 0 && f.dirtyClusters() < CLUSTERS),
          "no frozen copy taken while tracking was under way");
      assertEquals(CLUSTERS, merged.get().dirtyClusters());
    } finally {
      threads.shutdownNow();
    }
  }

  /** Where the writers wait, halfway, for the first frozen copy taken while they write. */
  private static final class Halfway {
    final CountDownLatch writersArrived = new CountDownLatch(WRITERS);
    final CountDownLatch snapshotTaken = new CountDownLatch(1);
  }

  /** Writer {@code w} tracks clusters {@code c % WRITERS == w} in a shuffled order, unaligned. */
  private static Void trackOwnClusters(DirtyBitmap bitmap, int writer, CountDownLatch start, Halfway halfway)
      throws InterruptedException {
    List<Long> clusters = new ArrayList<>();
    for (long c = writer; c < CLUSTERS; c += WRITERS) {
      clusters.add(c);
    }
    Random random = new Random(writer);
    Collections.shuffle(clusters, random);
    start.await();
    for (int i = 0; i < clusters.size(); i++) {
      if (i == clusters.size() / 2) {
        halfway.writersArrived.countDown();
        halfway.snapshotTaken.await();
      }
      long c = clusters.get(i);
      long length = Math.min(1 + random.nextLong(G - 1), bitmap.sizeBytes() - c * G);
      bitmap.track(c * G + random.nextLong(Math.max(1, Math.min(G, bitmap.sizeBytes() - c * G) - length + 1)), length);
    }
    return null;
  }

  /** Takes frozen copies until the writers finish; each must contain the previous one. */
  private static List<FrozenBitmap> takeGrowingSnapshots(
      DirtyBitmap bitmap, Halfway halfway, AtomicBoolean writersDone) throws InterruptedException {
    List<FrozenBitmap> frozen = new ArrayList<>();
    List<Long> counts = new ArrayList<>();
    halfway.writersArrived.await();
    boolean last = false;
    while (!last) {
      last = writersDone.get();
      FrozenBitmap snapshot = bitmap.frozenCopy();
      if (!frozen.isEmpty()) {
        DirtyBitmap lost = frozen.getLast().thaw();
        lost.andNot(snapshot);
        assertEquals(0, lost.dirtyClusters(), "a later frozen copy misses bits of an earlier one");
      }
      frozen.add(snapshot);
      counts.add(snapshot.dirtyClusters());
      halfway.snapshotTaken.countDown();
    }
    for (int i = 0; i < frozen.size(); i++) {
      assertEquals(counts.get(i), frozen.get(i).dirtyClusters(), "frozen copy " + i + " changed");
    }
    return frozen;
  }

  /** Merges the live bitmap into another and runs every query on it while it changes. */
  private static DirtyBitmap mergeAndQuery(DirtyBitmap bitmap, CountDownLatch start, AtomicBoolean writersDone)
      throws InterruptedException {
    var sink = new DirtyBitmap(bitmap.sizeBytes(), G);
    long size = bitmap.sizeBytes();
    start.await();
    while (!writersDone.get()) {
      sink.merge(bitmap);
      long next = bitmap.nextDirty(0, size);
      assertTrue(next == -1 || bitmap.get(next), "nextDirty answered a clean offset");
      RangeStatus status = bitmap.status(0, size);
      assertTrue(status.length() > 0 && status.length() <= size);
      assertTrue(bitmap.dirtyExtents(0, size, 100).size() <= 100);
      assertTrue(bitmap.dirtyBytes() <= size);
    }
    sink.merge(bitmap);
    return sink;
  }
}
