/**
 * The qcow2 format node ({@link org.fleeced.qcow2.Qcow2Node}), one level above the image file in
 * a disk's stack (drawn in {@link org.fleeced.block}), split like QEMU's and crosvm's drivers:
 * header and feature bits, L1/L2 tables and their cache, refcounts and the allocator, the
 * metadata under one lock ({@link org.fleeced.qcow2.Qcow2Metadata}), cluster readers and
 * writers, opening (with repair) and creation. {@link org.fleeced.qcow2.ImageOpener} opens
 * backing chains and detects a format when a caller asks it to.
 * {@link org.fleeced.qcow2.Qcow2ExtensionStorage} is the internal API through which
 * {@link org.fleeced.qcow2.bitmap} stores its header extension. No policy filter is built here.
 */
package org.fleeced.qcow2;
