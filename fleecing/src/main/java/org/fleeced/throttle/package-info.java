/**
 * Throttling I/O (issue 15 part 3), as QEMU's throttle filter node does, plus what adaptive
 * backup reading needs.
 *
 * <pre>
 *   backup reader ──▶ ThrottleFilter(reader Throttle) ──▶ snapshot-access node        (fleece export)
 *   daemon checksum ─▶ ThrottleFilter(the same Throttle) ─▶ whole-snapshot node
 *                               ▲ limit set by
 *                      AdaptiveReadLimit ◀── p99 of ── LatencyWindow
 *                                                          ▲ records
 *   guest ──▶ ThrottleFilter(ioLimits) ──▶ WriteLatencyFilter ──▶ the disk's stack        (writable export)
 * </pre>
 *
 * {@link org.fleeced.throttle.Throttle} holds two token buckets (bytes and operations per
 * second, each with a burst) whose limits change at runtime; {@link org.fleeced.throttle.ThrottleFilter}
 * makes each request wait for its tokens. Nothing here knows REST or NBD.
 */
package org.fleeced.throttle;
