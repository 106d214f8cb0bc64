package org.fleeced.daemon.cli;

import picocli.CommandLine.IVersionProvider;

/** The version the jar's manifest names (the Maven project version), for {@code --version}. */
public final class FleecedVersion implements IVersionProvider {
    @Override
    public String[] getVersion() {
        String version = FleecedVersion.class.getPackage().getImplementationVersion();
        return new String[] {"fleeced " + (version == null ? "(development build)" : version)};
    }
}
