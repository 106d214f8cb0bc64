package org.fleeced.restore;

/**
 * How hard a restore's background stream may pull on its source (the API's {@code restoreLimits}).
 * The guest's own fetches are never held back by them.
 *
 * @param bytesPerSecond the stream's rate; 0 for none
 * @param inFlight       how many pieces may copy at once, 1 to {@value #MAX_IN_FLIGHT}: more hides
 *                       the source's latency; 1 suits a source that serves one request at a time
 */
public record RestoreLimits(long bytesPerSecond, int inFlight) {
    public static final int DEFAULT_IN_FLIGHT = 4;
    public static final int MAX_IN_FLIGHT = 64;
    /** No rate limit, the default pieces in flight. */
    public static final RestoreLimits DEFAULT = new RestoreLimits(0, DEFAULT_IN_FLIGHT);

    public RestoreLimits {
        if (bytesPerSecond < 0) {
            throw new IllegalArgumentException("negative restore rate " + bytesPerSecond);
        }
        if (inFlight < 1 || inFlight > MAX_IN_FLIGHT) {
            throw new IllegalArgumentException("restore pieces in flight " + inFlight + ", not 1 to " + MAX_IN_FLIGHT);
        }
    }

    /** A rate limit with the default pieces in flight. */
    public static RestoreLimits of(long bytesPerSecond) {
        return new RestoreLimits(bytesPerSecond, DEFAULT_IN_FLIGHT);
    }
}
