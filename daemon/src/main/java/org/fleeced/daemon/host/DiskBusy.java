package org.fleeced.daemon.host;

import org.fleeced.job.FleecingJob;

/**
 * Refused because a fleecing job holds the disk (409 JOB_RUNNING): detaching it, starting a
 * second job on it, or changing its bitmaps waits until the job is finished. Likewise a disk
 * still being restored (409 RESTORING) takes no job and no bitmap change until its restore is complete.
 */
public final class DiskBusy extends HostRefusal {
    /**
     * @param job    the job that holds the disk, or null when it is still starting
     * @param advice what the caller does, e.g. "finish it first."
     */
    DiskBusy(String disk, FleecingJob job, String advice) {
        super(ProblemReason.JOB_RUNNING, "Disk '" + disk + "' has "
                + (job == null ? "a job starting" : "job '" + job.id() + "' running") + "; " + advice);
    }

    private DiskBusy(ProblemReason reason, String message) {
        super(reason, message);
    }

    /** Refuses (409 RESTORING) while the disk's data still streams in from a backup. */
    public static void requireNotRestoring(AttachedDisk disk, String what) throws DiskBusy {
        if (disk.active().restoring()) {
            throw new DiskBusy(ProblemReason.RESTORING, "Disk '" + disk.name() + "' is still being restored from "
                    + disk.active().restoreProgress().map(p -> p.doneBytes() + " of " + p.totalBytes() + " bytes done")
                            .orElse("its backup") + "; " + what + " once GET /v1/disks/" + disk.name()
                    + " shows restore.state complete.");
        }
    }

    /** Refuses when {@code disk} has a job; {@code advice} ends the message. */
    public static void requireNoJob(AttachedDisk disk, String advice) throws DiskBusy {
        FleecingJob job = disk.active().job();
        if (job != null) {
            throw new DiskBusy(disk.name(), job, advice);
        }
    }
}
