package org.fleeced.qcow2.bitmap;

/** What a bitmap can be used for (DESIGN.md sections 4 and 6). */
public enum BitmapState {
    /** Enabled and trustworthy: records every guest change. */
    RECORDING,
    /** Disabled and trustworthy: its bits no longer change with guest writes. */
    FROZEN,
    /**
     * Left IN_USE by an unclean stop and rebuilt from the intent log: a superset of the real
     * changes, usable for an incremental backup (it may copy some clusters that did not change).
     * Records writes if it was enabled.
     */
    RECOVERED,
    /** Cannot be trusted: an incremental backup from it is refused. See the {@link StateReason}. */
    INCONSISTENT
}
