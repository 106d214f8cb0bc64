package org.fleeced.daemon.app;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code fleeced aot-training DIR}: the training run of the AOT cache (hidden; see {@link AotTraining}). */
@Command(name = AotTraining.COMMAND, hidden = true)
final class AotTrainingCli implements Callable<Integer> {
    @Parameters(paramLabel = "DIR")
    String dir;

    @Override
    public Integer call() throws Exception {
        return AotTraining.run(new String[] {dir});
    }
}
