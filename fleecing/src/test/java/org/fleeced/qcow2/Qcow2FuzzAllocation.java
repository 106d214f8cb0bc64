package org.fleeced.qcow2;

import java.lang.management.ManagementFactory;

/**
 * Bytes the current (platform) thread has allocated on the heap so far, from the JVM's
 * per-thread counter: the fuzzer's measure of what a case allocated, garbage included, so that a
 * header announcing a huge table is caught even when the heap happens to be big enough for it.
 */
final class Qcow2FuzzAllocation {
    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    private Qcow2FuzzAllocation() {
    }

    static long currentThreadBytes() {
        return THREADS.getCurrentThreadAllocatedBytes();
    }
}
