package org.fleeced.bitmaps;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class IntervalSetTest {

  private static List<List<Long>> runs(IntervalSet set) {
    List<List<Long>> runs = new ArrayList<>();
    set.forEachRun(0, Long.MAX_VALUE, (start, end) -> runs.add(List.of(start, end)));
    return runs;
  }

  @Test
  void addMergesOverlappingAndTouchingRuns() {
    var set = new IntervalSet();
    set.add(10, 20);
    set.add(30, 40);
    set.add(20, 30);
    assertEquals(List.of(List.of(10L, 40L)), runs(set));
    set.add(5, 12);
    set.add(38, 50);
    set.add(60, 60);
    assertEquals(List.of(List.of(5L, 50L)), runs(set));
    assertEquals(45, set.total());
  }

  @Test
  void removeSplitsRuns() {
    var set = new IntervalSet();
    set.add(0, 100);
    set.remove(10, 20);
    set.remove(90, 200);
    set.remove(50, 50);
    assertEquals(List.of(List.of(0L, 10L), List.of(20L, 90L)), runs(set));
    assertEquals(80, set.total());
    assertTrue(set.contains(9));
    assertFalse(set.contains(10));
    assertEquals(90, set.endOfRunContaining(20));
    assertEquals(-1, set.endOfRunContaining(95));
    assertEquals(20, set.nextRunStartAfter(0));
    assertEquals(-1, set.nextRunStartAfter(20));
  }

  @Test
  void removeAcrossSeveralRunsAndClearResetTheTotal() {
    var set = new IntervalSet();
    set.add(0, 10);
    set.add(20, 30);
    set.add(40, 50);
    set.remove(5, 45);
    assertEquals(List.of(List.of(0L, 5L), List.of(45L, 50L)), runs(set));
    assertEquals(10, set.total());
    set.clear();
    assertTrue(set.isEmpty());
    assertEquals(0, set.total());
  }

  @Test
  void forEachRunClipsAndStops() {
    var set = new IntervalSet();
    set.add(0, 10);
    set.add(20, 30);
    set.add(40, 50);
    List<List<Long>> seen = new ArrayList<>();
    set.forEachRun(5, 45, (start, end) -> seen.add(List.of(start, end)) && seen.size() < 2);
    assertEquals(List.of(List.of(5L, 10L), List.of(20L, 30L)), seen);
  }

  @Test
  void copyIsIndependent() {
    var set = new IntervalSet();
    set.add(0, 10);
    var copy = set.copy();
    copy.remove(0, 5);
    assertEquals(10, set.total());
    assertEquals(5, copy.total());
  }
}
