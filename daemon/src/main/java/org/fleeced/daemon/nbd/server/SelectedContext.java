package org.fleeced.daemon.nbd.server;

/** A metadata context selected by NBD_OPT_SET_META_CONTEXT, with the id the server gave it. */
record SelectedContext(int id, MetaContextSource source) {
}
