package org.fleeced.job;

/** The format of a fleecing job's temp image. */
public enum TempFormat {
    /** A sparse raw file; a reader discard punches a hole. The default. */
    RAW(".raw"),
    /**
     * A qcow2 image with clusters no larger than the CBW cluster; a reader discard unmaps and
     * frees its qcow2 clusters, which later copies reuse.
     */
    QCOW2(".qcow2");

    private final String fileExtension;

    TempFormat(String fileExtension) {
        this.fileExtension = fileExtension;
    }

    /** The temp file's name ends with this, dot included. */
    public String fileExtension() {
        return fileExtension;
    }
}
