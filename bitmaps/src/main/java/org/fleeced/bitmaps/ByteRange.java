package org.fleeced.bitmaps;

/**
 * A run of guest bytes {@code [offset, offset + length)}.
 *
 * @param offset first guest byte, {@code >= 0}
 * @param length number of bytes, {@code > 0} for every range a bitmap returns
 */
public record ByteRange(long offset, long length) {

  /** Rejects negative fields and ranges ending past {@code Long.MAX_VALUE}. */
  public ByteRange {
    if (offset < 0 || length < 0 || length > Long.MAX_VALUE - offset) {
      throw new IllegalArgumentException(
          "invalid byte range: offset " + offset + ", length " + length);
    }
  }

  /** One past the last byte. */
  public long end() {
    return offset + length;
  }
}
