package org.fleeced.bitmaps;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Tests the chunked set where chunks matter: across 2^32-index chunk boundaries, with full
 * chunks promoted, demoted and merged, up to 2^54 indices. The random test works on
 * <em>segments</em>: every operation starts and ends on a breakpoint, so membership is constant
 * between two breakpoints and a {@link BitSet} of segments is an exact model of a set with
 * billions of members.
 */
class ClusterSetTest {

  private static final long C = ClusterSet.CHUNK_SIZE;

  private static List<List<Long>> runs(ClusterSet set, long from, long to) {
    List<List<Long>> runs = new ArrayList<>();
    set.forEachRun(from, to, (start, end) -> runs.add(List.of(start, end)));
    return runs;
  }

  @Test
  void runsThatMeetAtAChunkBoundaryAreOne() {
    var set = new ClusterSet();
    set.add(C - 10, C);
    set.add(C, C + 10);
    assertEquals(List.of(List.of(C - 10, C + 10)), runs(set, 0, 4 * C));
    assertEquals(C + 10, set.nextClear(C - 10));
    assertEquals(C - 10, set.nextSet(0));
    assertEquals(-1, set.nextSet(C + 10));
    assertEquals(20, set.cardinality());
  }

  @Test
  void nextClearBelowMembersInTheUpperHalfOfAChunk() {
    // RoaringBitmap 1.3.0's nextAbsentValue(0) answers 2^31 + 16 here (signed comparison).
    var set = new ClusterSet();
    set.add(C + (1L << 31), C + (1L << 31) + 16);
    assertEquals(C, set.nextClear(C));
    assertEquals(C + (1L << 31) + 16, set.nextClear(C + (1L << 31)));
    set.add(C - 1, C + 3);
    assertEquals(C + 3, set.nextClear(C - 1));
  }

  @Test
  void aChunkMissingOnlyPartOfItsLastButOneContainerIsNotFull() {
    // RoaringBitmap 1.3.0's contains(0, 2^32) answers true for these bits.
    var set = new ClusterSet();
    set.add(C, 2 * C - 65537);
    set.add(2 * C - 1, 2 * C);
    assertEquals(C - 65536, set.cardinality());
    assertFalse(set.contains(2 * C - 65537));
    assertEquals(2 * C - 65537, set.nextClear(C));
  }

  @Test
  void fillingAChunkPromotesItToAFullRunAndRemovingDemotesIt() {
    var set = new ClusterSet();
    set.add(C, C + C / 2);
    set.add(C + C / 2, 2 * C);
    assertTrue(set.memoryBytes() <= 64, "a full chunk is one interval, not a bitmap: " + set.memoryBytes());
    assertEquals(C, set.cardinality());
    set.remove(C + 5, C + 6);
    assertEquals(C - 1, set.cardinality());
    assertFalse(set.contains(C + 5));
    assertTrue(set.contains(C + 4) && set.contains(C + 6));
    assertEquals(C + 5, set.nextClear(C));
    set.add(C + 5, C + 6);
    assertTrue(set.memoryBytes() <= 64, "refilled chunk promoted again: " + set.memoryBytes());
  }

  @Test
  void twoToThe54IndicesCostOneInterval() {
    var set = new ClusterSet();
    set.add(0, 1L << 54);
    assertEquals(1L << 54, set.cardinality());
    assertTrue(set.memoryBytes() <= 64, "memory " + set.memoryBytes());
    assertEquals(1L << 54, set.nextClear(0));
    set.remove((1L << 54) - 1, 1L << 54);
    assertEquals((1L << 54) - 1, set.nextClear(12345));
    assertEquals(List.of(List.of(0L, (1L << 54) - 1)), runs(set, 0, 1L << 55));
  }

  @Test
  void orAndAndNotCombineFullAndPartialChunks() {
    var a = new ClusterSet();
    a.add(0, 3 * C);
    var b = new ClusterSet();
    b.add(C + 7, C + 9);
    b.add(5 * C, 6 * C);
    a.andNot(b);
    assertEquals(3 * C - 2, a.cardinality());
    assertFalse(a.contains(C + 8));
    a.or(b);
    assertEquals(4 * C, a.cardinality());
    assertEquals(List.of(List.of(0L, 3 * C), List.of(5 * C, 6 * C)), runs(a, 0, 10 * C));
    assertTrue(a.memoryBytes() <= 128, "both runs of full chunks again: " + a.memoryBytes());
  }

  @ParameterizedTest
  @ValueSource(longs = {1, 2, 3})
  void matchesASegmentModelAcrossChunks(long seed) {
    long[] breakpoints = breakpoints();
    Random random = new Random(seed);
    var set = new ClusterSet();
    var model = new BitSet();
    for (int step = 0; step < 150; step++) {
      String op = applyRandomOperation(random, breakpoints, set, model);
      int at = step;
      Supplier<String> where = () -> "seed " + seed + ", step " + at + ", after " + op;
      assertMatches(breakpoints, set, model, where);
    }
  }

  /** Chunk boundaries with neighbours, at small chunk numbers and at the top of 2^54. */
  private static long[] breakpoints() {
    TreeSet<Long> points = new TreeSet<>();
    for (long chunk : new long[] {0, 1, 2, 3, 5, 8, (1L << 22) - 1, 1L << 22}) {
      for (long delta : new long[] {-65537, -2, -1, 0, 1, 2, 65536, 1L << 20, (1L << 31) - 1, 1L << 31}) {
        long point = chunk * C + delta;
        if (point >= 0) {
          points.add(point);
        }
      }
    }
    return points.stream().mapToLong(Long::longValue).toArray();
  }

  private static String applyRandomOperation(Random random, long[] points, ClusterSet set, BitSet model) {
    int a = random.nextInt(points.length);
    int b = random.nextInt(points.length);
    int from = Math.min(a, b);
    int to = Math.max(a, b);
    int kind = random.nextInt(20);
    if (kind < 8) {
      set.add(points[from], points[to]);
      model.set(from, to);
      return "add[" + points[from] + ", " + points[to] + ")";
    }
    if (kind < 16) {
      set.remove(points[from], points[to]);
      model.clear(from, to);
      return "remove[" + points[from] + ", " + points[to] + ")";
    }
    var other = new ClusterSet();
    var otherModel = new BitSet();
    for (int i = 0; i < 3; i++) {
      int x = random.nextInt(points.length);
      int y = random.nextInt(points.length);
      other.add(points[Math.min(x, y)], points[Math.max(x, y)]);
      otherModel.set(Math.min(x, y), Math.max(x, y));
    }
    if (kind < 18) {
      set.or(other.copy());
      model.or(otherModel);
      return "or " + otherModel;
    }
    set.andNot(other);
    model.andNot(otherModel);
    return "andNot " + otherModel;
  }

  private static void assertMatches(long[] points, ClusterSet set, BitSet model, Supplier<String> where) {
    long cardinality = 0;
    int last = points.length - 1;
    for (int i = 0; i < last; i++) {
      boolean member = model.get(i);
      if (member) {
        cardinality += points[i + 1] - points[i];
      }
      int segment = i;
      assertEquals(member, set.contains(points[i]), () -> where.get() + ": contains " + points[segment]);
      assertEquals(member, set.contains(points[i + 1] - 1), () -> where.get() + ": contains end of segment " + segment);
      int nextSet = model.nextSetBit(i);
      long expectedSet = nextSet < 0 || nextSet >= last ? -1 : points[nextSet];
      assertEquals(expectedSet, set.nextSet(points[i]), () -> where.get() + ": nextSet " + points[segment]);
      int nextClear = model.nextClearBit(i);
      assertEquals(points[Math.min(nextClear, last)], set.nextClear(points[i]), () -> where.get() + ": nextClear " + points[segment]);
    }
    assertEquals(cardinality, set.cardinality(), () -> where.get() + ": cardinality");
    assertEquals(modelRuns(points, model), runs(set, 0, points[last]), () -> where.get() + ": runs");
  }

  private static List<List<Long>> modelRuns(long[] points, BitSet model) {
    List<List<Long>> runs = new ArrayList<>();
    for (int i = model.nextSetBit(0); i >= 0 && i < points.length - 1; i = model.nextSetBit(i)) {
      int end = model.nextClearBit(i);
      runs.add(List.of(points[i], points[end]));
      i = end;
    }
    return runs;
  }
}
