/**
 * Dirty tracking: the policy filter that records every guest change before forwarding it
 * ({@link org.fleeced.tracking.DirtyTrackingFilter}, under the gate in a disk's stack, drawn in
 * {@link org.fleeced.block}), the {@link org.fleeced.tracking.ChangeRecorder} it reports to, and
 * the write-intent log ({@link org.fleeced.tracking.IntentLog}) a crash-safe recorder marks each
 * change in first (the sidecar beside a qcow2 image).
 */
package org.fleeced.tracking;
