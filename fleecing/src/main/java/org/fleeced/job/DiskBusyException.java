package org.fleeced.job;

/**
 * A fleecing job cannot start because one of its disks already has one: at most one job runs
 * per disk. The caller's answer is to finish the other job first, or to wait for it.
 */
public final class DiskBusyException extends Exception {
    private final String disk;

    public DiskBusyException(String disk, String message) {
        super(message);
        this.disk = disk;
    }

    /** The disk that has a job already. */
    public String disk() {
        return disk;
    }
}
