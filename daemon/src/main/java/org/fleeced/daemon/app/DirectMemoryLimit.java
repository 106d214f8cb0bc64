package org.fleeced.daemon.app;

import com.sun.management.HotSpotDiagnosticMXBean;
import java.lang.management.ManagementFactory;

/** How much direct memory this JVM allows (-XX:MaxDirectMemorySize; unset, the heap's maximum). */
final class DirectMemoryLimit {
    private DirectMemoryLimit() {
    }

    static long ofThisJvm() {
        long set = 0;
        try {
            set = Long.parseLong(ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class)
                    .getVMOption("MaxDirectMemorySize").getValue());
        } catch (RuntimeException notHotSpot) {
            // another JVM: its default, as below
        }
        return set > 0 ? set : Runtime.getRuntime().maxMemory();
    }
}
