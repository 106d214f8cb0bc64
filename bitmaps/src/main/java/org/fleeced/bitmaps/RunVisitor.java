package org.fleeced.bitmaps;

/** Receives half-open runs {@code [start, end)} in ascending order. */
@FunctionalInterface
interface RunVisitor {

  /**
   * Called once per run.
   *
   * @return {@code true} to receive the next run, {@code false} to stop the iteration
   */
  boolean visit(long start, long end);
}
