package org.fleeced.qcow2.bitmap;

/**
 * What the daemon lists about one bitmap.
 *
 * @param name        the bitmap's name
 * @param granularity bytes per bit
 * @param enabled     whether guest changes are recorded in it
 * @param persistent  stored in the image (false: in memory only, gone at close)
 * @param state       what it can be used for
 * @param reason      why it is INCONSISTENT or RECOVERED; null otherwise
 */
public record BitmapInfo(String name, long granularity, boolean enabled, boolean persistent, BitmapState state,
                         StateReason reason) {
}
