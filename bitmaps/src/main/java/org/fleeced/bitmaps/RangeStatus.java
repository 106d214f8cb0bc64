package org.fleeced.bitmaps;

/**
 * The answer of {@link BitmapView#status}: the state of the byte the query starts at, and how
 * many bytes from there on share it (as QEMU's {@code bdrv_dirty_bitmap_status}).
 *
 * @param dirty whether the run is dirty
 * @param length bytes in the run, clipped to the queried length; {@code > 0} unless the query
 *     was empty
 */
public record RangeStatus(boolean dirty, long length) {}
