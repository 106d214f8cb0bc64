package org.fleeced.cbw;

/** The format of a fleecing job's temp image. */
public enum TempFormat {
    /** A sparse raw file; a reader discard punches a hole. The default. */
    RAW,
    /** A qcow2 image (needs the qcow2 driver). */
    QCOW2
}
