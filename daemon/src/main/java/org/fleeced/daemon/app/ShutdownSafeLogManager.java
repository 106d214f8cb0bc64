package org.fleeced.daemon.app;

import java.util.logging.LogManager;

/**
 * The JDK's LogManager closes every handler in its own shutdown hook, which races the daemon's
 * hook and swallows the "stopping" and "stopped" lines operators look for. This one ignores that
 * reset; {@link OperatorLogFormat#install()} configures handlers once and for all.
 */
public final class ShutdownSafeLogManager extends LogManager {
    @Override
    public void reset() {
        // handlers live as long as the JVM; see the class comment
    }
}
