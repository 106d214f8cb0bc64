/**
 * Dirty bitmaps at a fixed granularity over a byte range, backed by RoaringBitmap. No I/O, no
 * threads of its own.
 *
 * <pre>
 *  BitmapView (sealed: the queries)
 *    |-- DirtyBitmap   mutable, enabled/disabled, one read-write lock, copy-on-write bits
 *    '-- FrozenBitmap  immutable state taken by frozenCopy(), lock-free
 *          both hold BitmapContents: guest bytes -> cluster indices (ClusterGeometry)
 *            '-- ClusterSet: a RoaringBitmap per 2^32 clusters,
 *                            or a run of wholly dirty chunks (IntervalSet)
 *
 *  Qcow2BitmapLayout   one bitmap table entry <-> the bits it covers (qcow2 spec "Bitmaps")
 * </pre>
 *
 * <p>Terms: a <em>cluster</em> here is the bitmap's unit of {@code granularity} guest bytes (as in
 * QEMU's dirty bitmaps); the qcow2 image's own clusters appear only in {@link
 * org.fleeced.bitmaps.Qcow2BitmapLayout}, as {@code clusterSize}.
 */
package org.fleeced.bitmaps;
