/**
 * The {@code fleeced} command-line client: subcommands that talk to a running daemon over its
 * public REST API only (so it is also an example client), with tables for people and
 * {@code --json} for scripts.
 *
 * <pre>
 *   fleeced disks | disk NAME | attach | detach | checkpoints DISK | jobs | job ID | finish | events
 *        └── ClientOptions (--url, --token / FLEECED_TOKEN, --json) ──▶ DaemonClient ──HTTP──▶ daemon
 *                                                                         └─ problem ──▶ CliFailure (one line, exit status)
 * </pre>
 * Below {@code app}, which registers these commands beside {@code daemon} and {@code serve};
 * it names nothing else of the daemon.
 */
package org.fleeced.daemon.cli;
