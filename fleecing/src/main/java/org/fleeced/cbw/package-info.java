/**
 * Copy-before-write and the point-in-time view it keeps (QEMU's copy-before-write filter and
 * snapshot-access node). In a disk's stack (drawn in {@link org.fleeced.block}) the
 * {@link org.fleeced.cbw.CopyBeforeWriteFilter} sits right above the format node while a
 * fleecing job runs, below the disk's policy filters; the
 * {@link org.fleeced.cbw.SnapshotAccessNode} is the top of the job's read-only export.
 * <ul>
 *   <li>{@link org.fleeced.cbw.CbwState}: per-cluster state of one snapshot, shared by both
 *       sides; {@link org.fleeced.cbw.BlockCopy} copies a cluster once.</li>
 *   <li>{@link org.fleeced.cbw.FleeceSnapshot} / {@link org.fleeced.cbw.SnapshotAccess}: the
 *       reader's side (frozen reads, discard of what was read).</li>
 *   <li>{@link org.fleeced.cbw.CbwSettings}, {@link org.fleeced.cbw.OnCbwError},
 *       {@link org.fleeced.cbw.TempQuota}: policy and limits.</li>
 * </ul>
 * Who creates them, and when, is {@link org.fleeced.job}.
 */
package org.fleeced.cbw;
