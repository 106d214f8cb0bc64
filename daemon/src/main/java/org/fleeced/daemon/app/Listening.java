package org.fleeced.daemon.app;

import io.vertx.core.Future;
import java.util.concurrent.CompletionException;

/**
 * Waits for a listener to bind. A port already in use (or an address that is not this host's) is
 * the operator's to fix, not a crash: it becomes one line that names the listener and the address
 * ({@code cannot listen for NBD on 127.0.0.1:10809: Address already in use}), and a non-zero exit.
 */
final class Listening {
    private Listening() {
    }

    static <T> T await(String listener, String address, Future<T> binding) throws UsageException {
        try {
            return binding.await();
        } catch (Exception e) {
            // await() rethrows the bind failure as it is, a checked BindException included
            Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
            throw new UsageException("cannot listen for " + listener + " on " + address + ": " + cause.getMessage());
        }
    }
}
