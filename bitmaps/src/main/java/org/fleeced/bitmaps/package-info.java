/** Dirty bitmaps at a fixed granularity over a byte range, backed by RoaringBitmap. No I/O, no threads. */
package org.fleeced.bitmaps;
