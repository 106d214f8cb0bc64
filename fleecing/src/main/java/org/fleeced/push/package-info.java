/**
 * Push-mode backup: the daemon copies a fleecing job's snapshot into a backup target itself,
 * instead of exporting it for a reader (QEMU's {@code blockdev-backup}, libvirt's push mode).
 * <pre>
 *   guest ──▶ [CBW filter] ──▶ disk image          (the job's stack, see org.fleeced.cbw)
 *                 │ old clusters
 *                 ▼
 *             temp image ◀── [snapshot access] ──read──▶ PushCopy ──write──▶ target BlockNode
 *                                   ▲                        │                (qcow2 / raw file,
 *                                   └──────discard───────────┘                 or an NBD export)
 * </pre>
 * {@link org.fleeced.push.CopyPlan} decides what to copy (every allocated extent of the snapshot
 * for a full backup, the changes since the base for an incremental one), in CBW clusters;
 * {@link org.fleeced.push.PushCopy} copies it with several requests in flight and discards each
 * piece from the snapshot once it is in the target, so the temp image never keeps it;
 * {@link org.fleeced.push.BackupFile} creates a target file (qcow2, optionally over the previous
 * backup of its chain, or sparse raw). Who starts a push and ends the job is the daemon's
 * {@code host} package.
 */
package org.fleeced.push;
