package org.fleeced.daemon.host;

/**
 * Where a push job writes one disk's backup, as the caller asked.
 *
 * @param path        a new file inside a backup directory; null with {@code uri}
 * @param format      {@code qcow2} or {@code raw}; null with {@code uri}
 * @param backingFile for an incremental push whose base the daemon has no backup file for (its
 *                    base came from a pull job): the previous backup file of the chain; else null
 * @param backingFormat the format of {@code backingFile}, or null for qcow2 (never probed)
 * @param uri         instead of a file, a writable NBD export of the disk's size
 *                    ({@code nbd://HOST[:PORT]/EXPORT} or {@code nbd+unix:///EXPORT?socket=PATH})
 */
public record PushTargetRequest(String path, String format, String backingFile, String backingFormat, String uri) {
}
