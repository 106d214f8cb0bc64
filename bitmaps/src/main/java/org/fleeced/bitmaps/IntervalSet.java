package org.fleeced.bitmaps;

import java.util.Map;
import java.util.TreeMap;

/**
 * A set of non-negative longs stored as sorted, disjoint, non-adjacent half-open runs
 * {@code [start, end)}. {@link ClusterSet} uses it for runs of completely set chunks, which is
 * what keeps a wholly dirty multi-petabyte bitmap at a few bytes.
 *
 * <p>Not thread-safe: the owner guards it.
 */
final class IntervalSet {

  /** start of run -> end of run (exclusive); runs never overlap or touch. */
  private final TreeMap<Long, Long> runs;

  /** Sum of all run lengths, kept so that {@link #total()} is O(1). */
  private long total;

  IntervalSet() {
    this.runs = new TreeMap<>();
  }

  private IntervalSet(IntervalSet source) {
    this.runs = new TreeMap<>(source.runs);
    this.total = source.total;
  }

  /** An independent copy. */
  IntervalSet copy() {
    return new IntervalSet(this);
  }

  boolean isEmpty() {
    return runs.isEmpty();
  }

  /** Number of members. */
  long total() {
    return total;
  }

  /** Number of runs. */
  int runCount() {
    return runs.size();
  }

  boolean contains(long value) {
    return endOfRunContaining(value) >= 0;
  }

  /** End (exclusive) of the run holding {@code value}, or -1 when {@code value} is not a member. */
  long endOfRunContaining(long value) {
    Map.Entry<Long, Long> run = runs.floorEntry(value);
    return run != null && run.getValue() > value ? run.getValue() : -1;
  }

  /** Start of the first run starting after {@code value}, or -1 when there is none. */
  long nextRunStartAfter(long value) {
    Long start = runs.higherKey(value);
    return start == null ? -1 : start;
  }

  /** Adds {@code [start, end)}, merging with the runs it overlaps or touches. */
  void add(long start, long end) {
    if (start >= end) {
      return;
    }
    Map.Entry<Long, Long> before = runs.floorEntry(start);
    if (before != null && before.getValue() >= start) {
      start = before.getKey();
      end = Math.max(end, before.getValue());
    }
    Map.Entry<Long, Long> after = runs.floorEntry(end);
    if (after != null && after.getValue() > end) {
      end = after.getValue();
    }
    remove(start, end);
    runs.put(start, end);
    total += end - start;
  }

  void clear() {
    runs.clear();
    total = 0;
  }

  /** Removes {@code [start, end)}, splitting runs that stick out on either side. */
  void remove(long start, long end) {
    if (start >= end) {
      return;
    }
    Map.Entry<Long, Long> before = runs.lowerEntry(start);
    if (before != null && before.getValue() > start) {
      runs.put(before.getKey(), start);
      runs.put(start, before.getValue());
    }
    Map.Entry<Long, Long> last = runs.lowerEntry(end);
    if (last != null && last.getValue() > end) {
      runs.put(last.getKey(), end);
      runs.put(end, last.getValue());
    }
    var covered = runs.subMap(start, true, end, false);
    for (Map.Entry<Long, Long> run : covered.entrySet()) {
      total -= run.getValue() - run.getKey();
    }
    covered.clear();
  }

  /** Visits every run overlapping {@code [from, to)}, clipped to it, in ascending order. */
  void forEachRun(long from, long to, RunVisitor visitor) {
    Long first = runs.floorKey(from);
    var candidates = runs.tailMap(first == null ? from : first, true);
    for (Map.Entry<Long, Long> run : candidates.entrySet()) {
      if (run.getKey() >= to) {
        return;
      }
      long start = Math.max(run.getKey(), from);
      long end = Math.min(run.getValue(), to);
      if (start < end && !visitor.visit(start, end)) {
        return;
      }
    }
  }
}
