package org.fleeced.daemon.api;

import org.fleeced.block.BlockIOException;

/**
 * The handler of one operationId. It runs on its own virtual thread, so it may block on the
 * block layer; it never sees an event loop.
 */
@FunctionalInterface
public interface ApiOperation {
    ApiResponse handle(ApiRequest request) throws ApiProblem, BlockIOException, InterruptedException;
}
