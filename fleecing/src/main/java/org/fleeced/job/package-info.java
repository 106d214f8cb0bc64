/**
 * Fleecing jobs: the orchestration above the stack (drawn in {@link org.fleeced.block}).
 * {@link org.fleeced.job.FleecingJob} checks and claims its disks, creates the temp images
 * ({@link org.fleeced.job.TempImage}), then with every disk drained begins the checkpoint and
 * puts a {@link org.fleeced.cbw.CopyBeforeWriteFilter} into each disk's stack through
 * {@link org.fleeced.disk.ActiveDisk.Drain}; at the end it takes them out the same way and
 * settles the checkpoints. {@link org.fleeced.job.DiskFleece} is one disk of a running job.
 * Nothing here builds a disk's stack: that is {@link org.fleeced.disk.DiskOpener}.
 */
package org.fleeced.job;
