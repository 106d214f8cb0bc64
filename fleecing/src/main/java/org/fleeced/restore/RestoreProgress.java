package org.fleeced.restore;

/**
 * Where a restore stands, as the API reports it (the same progress fields as push jobs).
 *
 * @param state          running, complete or failed
 * @param doneBytes      bytes restored (whole clusters; the last may be partial)
 * @param totalBytes     the image's size
 * @param bytesPerSecond what the stream copied per second over its recent past; 0 when idle
 * @param etaSeconds     seconds left at that rate, or -1 when unknown
 * @param retries        consecutive source failures the stream is retrying after
 * @param lastError      the last source failure, or null
 */
public record RestoreProgress(State state, long doneBytes, long totalBytes, long bytesPerSecond, long etaSeconds,
        int retries, String lastError) {

    public enum State {
        RUNNING, COMPLETE, FAILED
    }
}
