/**
 * The file at the bottom of a disk's stack (see the drawing in {@link org.fleeced.block}):
 * {@link org.fleeced.block.file.RawFileNode}, a raw image as a node (guest offset = file offset),
 * which is both file and format node of a raw disk, and {@link org.fleeced.block.file.NativeFile},
 * the Linux calls {@code FileChannel} lacks (fallocate, SEEK_DATA/SEEK_HOLE), and
 * {@link org.fleeced.block.file.SyncProgress}, which writes of a file its completed syncs made
 * durable (for a writer that rides on the syncs others issue).
 */
package org.fleeced.block.file;
