/**
 * The QEMU guest agent protocol, as fleeced speaks it to freeze a guest's file systems around a
 * snapshot: {@link org.fleeced.daemon.guest.GuestAgentClient} over the agent's unix socket. Below
 * {@code host}, like {@code nbd}: it names nothing of the daemon above it.
 */
package org.fleeced.daemon.guest;
