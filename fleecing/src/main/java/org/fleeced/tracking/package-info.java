/**
 * Dirty tracking: the policy filter that records every guest change before forwarding it
 * ({@link org.fleeced.tracking.DirtyTrackingFilter}, under the gate in a disk's stack, drawn in
 * {@link org.fleeced.block}), the {@link org.fleeced.tracking.ChangeRecorder} it reports to, and
 * the write-intent log ({@link org.fleeced.tracking.IntentLog}) a crash-safe recorder marks each
 * change in first (the sidecar beside the image), and what such a recorder is to the disk that
 * owns it ({@link org.fleeced.tracking.PersistentRecorder}: stored on a timer or after a flush,
 * {@link org.fleeced.tracking.StoreAfterFlush}, closed cleanly). The recorders are a qcow2 image's
 * {@code qcow2.bitmap.PersistentBitmaps} and a raw image's {@code checkpoint.SidecarBitmaps}.
 */
package org.fleeced.tracking;
